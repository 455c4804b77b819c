"""Text between PostgreSQL and Athena in a database that is not UTF-8.

Athena reads and writes UTF-8.  In a LATIN1 database (made as
`createdb --encoding LATIN1 --locale C --template template0` makes one),
results come back converted (1.0 stored the UTF-8 bytes as they were:
"cafÃ©"), a character LATIN1 cannot hold is an ERROR naming the column and
row, not a wrong string, and literals and names pushed down reach Athena as
UTF-8 (1.0 sent the LATIN1 bytes, which are not UTF-8 at all).
"""
import psycopg2
import pytest

from athena_tables import ensure_buckets, ensure_database, put_json_lines, replace_json_table
from aws_fixtures import create_server
from conftest import connect

DBNAME = "audit_latin1"
BUCKET = "enc-data"
RESULTS = "enc-results"
GLUE_DB = "enc_db"
ROWS = [{"id": 1, "label": "caf\u00e9"},
        {"id": 2, "label": "na\u00efve \u00fcber \u00e0 la carte"},
        {"id": 3, "label": "price \u20ac5"},        # no euro sign in LATIN1
        {"id": 4, "label": "plain"}]


@pytest.fixture(scope="module")
def latin1(emulator):
    s3 = emulator.client("s3")
    glue = emulator.client("glue")
    ensure_buckets(s3, BUCKET, RESULTS)
    ensure_database(glue, GLUE_DB)
    replace_json_table(glue, GLUE_DB, "labels", [("id", "int"), ("label", "string")],
                       f"s3://{BUCKET}/labels/")
    put_json_lines(s3, BUCKET, "labels/part-0.json", ROWS)

    admin = connect()
    cur = admin.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {DBNAME}")
    cur.execute(f"CREATE DATABASE {DBNAME} ENCODING 'LATIN1' LOCALE 'C' TEMPLATE template0")
    conn = connect(dbname=DBNAME)
    conn.set_client_encoding("UTF8")
    c = conn.cursor()
    c.execute("SHOW server_encoding")
    assert c.fetchone() == ("LATIN1",)
    create_server(c, "enc", emulator.url)
    c.execute(f"ALTER SERVER enc OPTIONS (ADD database '{GLUE_DB}', "
              f"ADD output_location 's3://{RESULTS}/q/', ADD poll_initial_ms '10')")
    c.execute("""CREATE FOREIGN TABLE labels (id integer, label text)
        SERVER enc OPTIONS ("table" 'labels')""")
    c.execute("""CREATE FOREIGN TABLE labels_api (id integer, label text)
        SERVER enc OPTIONS ("table" 'labels', result_transport 'api')""")
    yield c
    conn.close()
    cur.execute(f"DROP DATABASE IF EXISTS {DBNAME}")
    admin.close()


@pytest.mark.parametrize("table", ["labels", "labels_api"])
def test_results_are_converted_to_the_database_encoding(latin1, table):
    cur = latin1
    cur.execute(f"SELECT id, label, octet_length(label) FROM {table} WHERE id IN (1, 2, 4) "
                "ORDER BY id")
    # octet_length in LATIN1: one byte a character
    assert cur.fetchall() == [(1, "caf\u00e9", 4),
                              (2, "na\u00efve \u00fcber \u00e0 la carte", 21),
                              (4, "plain", 5)]


@pytest.mark.parametrize("table", ["labels", "labels_api"])
def test_a_character_latin1_cannot_hold_is_an_error(latin1, table):
    cur = latin1
    with pytest.raises(psycopg2.Error) as e:
        cur.execute(f"SELECT label FROM {table} WHERE id = 3")
    assert e.value.pgcode == "22P05", e.value.pgerror        # untranslatable_character
    assert 'column "label"' in e.value.pgerror
    cur.execute("SELECT 1")


def test_pushed_down_literals_reach_athena_as_utf8(latin1, emulator):
    cur = latin1
    cur.execute("EXPLAIN (VERBOSE) SELECT id FROM labels WHERE label = 'caf\u00e9'")
    plan = "\n".join(r[0] for r in cur.fetchall())
    assert "caf\u00e9" in plan and "WHERE" in plan
    before = emulator.mark()
    cur.execute("SELECT id FROM labels WHERE label = 'caf\u00e9'")
    assert cur.fetchall() == [(1,)]
    cur.execute("SELECT id FROM labels WHERE label LIKE 'na\u00efve%'")
    assert cur.fetchall() == [(2,)]
    sent = emulator.requests("athena", "StartQueryExecution", since=before)
    texts = [(r.get("input") or {}).get("QueryString", "") for r in sent]
    assert any("caf\u00e9" in t for t in texts), texts


def test_names_from_glue_are_converted(latin1, emulator):
    glue = emulator.client("glue")
    replace_json_table(glue, GLUE_DB, "gr\u00f6\u00dfen", [("id", "int"), ("gr\u00f6\u00dfe", "string")],
                       f"s3://{BUCKET}/sizes/")
    cur = latin1
    cur.execute("DROP SCHEMA IF EXISTS imported CASCADE")
    cur.execute("CREATE SCHEMA imported")
    cur.execute(f'IMPORT FOREIGN SCHEMA "{GLUE_DB}" LIMIT TO ("gr\u00f6\u00dfen") '
                "FROM SERVER enc INTO imported")
    cur.execute("SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c "
                "ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'imported' AND a.attnum > 0 ORDER BY a.attnum")
    assert cur.fetchall() == [("gr\u00f6\u00dfen", "id"), ("gr\u00f6\u00dfen", "gr\u00f6\u00dfe")]
