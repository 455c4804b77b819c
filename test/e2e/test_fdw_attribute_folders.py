"""Attribute folders (README, Attribute folders): under each event hour and key bucket, a
folder per declared value of the new image's state, and _other (any other
value: an undeclared string, a number, a boolean) and _none (no new image,
no state).  The Glue table is create_audit_table's (folder_attribute,
folder_values), the records written as Firehose writes them
(test/lib/pushdown_fixture.py); the imported foreign
table ships an equality, an IN list or a parameter on the state as the
folder predicate, so Athena reads only those folders: the bytes scanned are
exactly the sizes of the objects in them, and the rows are those of a local
copy read without pushdown."""
import datetime
import random
import uuid

import psycopg2
import pytest

import pushdown_fixture
from athena_tables import athena_server, drop_table, ensure_buckets, import_audit_table
from conftest import connect

SERVER = "fdw_folders"
BUCKET = "fdw-folders-data"
RESULTS = "fdw-folders-results"
DATABASE = "fdw_folders"
RUN = uuid.uuid4().hex[:8]
# CANCELLED is left undeclared: its records are in _other
DECLARED = ["OPEN", "PICKEDUP", "DELIVERED", "RETURNED"]
ALL_FOLDERS = set(DECLARED) | {"_other", "_none"}
# the layout the module's fixture set up last: its prefix, and whether
# folders are under key buckets
LAYOUT = {}


@pytest.fixture(scope="module", params=[16, 0], ids=["buckets", "no_buckets"])
def folder_table(emulator, request):
    """The attribute folders under 16 key buckets, or right under the hour."""
    buckets = request.param
    prefix = f"{RUN}/orders_{buckets}/"
    LAYOUT.update(prefix=prefix, buckets=buckets)
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    ensure_buckets(emulator.client("s3"), BUCKET, RESULTS)
    athena_server(cur, SERVER, emulator.url, DATABASE, RESULTS)
    glue = emulator.client("glue")
    drop_table(glue, DATABASE, "orders_audit")
    cur.execute("SELECT audit_fdw.create_audit_table(%s, 'orders_audit', %s, %s, "
                "key_columns => %s, database => %s, layout => 'event_time', key_buckets => %s, "
                "history => '100 years', folder_attribute => 'state', folder_values => %s)",
                (SERVER, f"s3://{BUCKET}/{prefix}", pushdown_fixture.ITEM_COLUMNS,
                 pushdown_fixture.KEY_COLUMNS, DATABASE, buckets, DECLARED))
    rng = random.Random(15)
    recs = pushdown_fixture.records(60, datetime.datetime(2024, 1, 1), 4, rng, odd_states=True)
    pushdown_fixture.write(emulator, BUCKET, prefix, recs, rng, "event_time",
                           1 if buckets else 0, ("state", DECLARED))
    import_audit_table(cur, SERVER, DATABASE, "folders")
    # the oracle: a local copy, read without pushdown
    cur.execute("SET audit_fdw.enable_pushdown = off")
    cur.execute("CREATE TABLE folders.local_copy AS SELECT * FROM folders.orders_audit")
    cur.execute("RESET audit_fdw.enable_pushdown")
    yield recs
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute("DROP SCHEMA IF EXISTS folders CASCADE")
    conn.close()


def objects(emulator):
    s3 = emulator.client("s3")
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET,
                                                             Prefix=LAYOUT["prefix"]):
        out.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
    return out


def folder_bytes(emulator, folders):
    """The bytes of the objects in those attribute folders, every hour and
    bucket (yyyy/MM/dd/HH/[<bucket>/]<folder>/<object>)."""
    return sum(size for key, size in objects(emulator).items()
               if key.rsplit("/", 2)[1] in folders)


def logged_ids(cur):
    cur.execute("SELECT coalesce(array_agg(query_id), '{}') FROM audit_fdw.query_log "
                "WHERE foreign_table LIKE '%orders_audit%'")
    return set(cur.fetchone()[0])


def queries_since(cur, before):
    """(bytes scanned, Athena SQL) of the table's queries not in `before`."""
    cur.execute("""SELECT query_id, bytes_scanned, athena_sql FROM audit_fdw.query_log
                    WHERE foreign_table LIKE '%orders_audit%' ORDER BY logged_at""")
    return [(b, sql) for q, b, sql in cur.fetchall() if q not in before]


def rows(cur, where, params=(), table="orders_audit"):
    cur.execute(f"SELECT event_id FROM folders.{table} WHERE {where} ORDER BY 1", params or None)
    return [r[0] for r in cur.fetchall()]


def one_query(cur, where, params=()):
    """(rows, bytes scanned, Athena SQL) of one scan, its rows checked against
    the local copy's."""
    before = logged_ids(cur)
    got = rows(cur, where, params)
    assert got == rows(cur, where, params, "local_copy"), where
    [(scanned, sql)] = queries_since(cur, before)
    return got, scanned, sql


def folder_pred(folders):
    return "(\"attribute_folder\" IN (" + ", ".join(f"'{f}'" for f in sorted(folders)) + "))"


def plan_of(cur, sql, params=()):
    cur.execute(sql, params)
    return "\n".join(r[0] for r in cur.fetchall())


def test_records_land_in_their_folders(folder_table, emulator):
    recs = folder_table
    keys = objects(emulator)
    assert {k.rsplit("/", 2)[1] for k in keys} == ALL_FOLDERS
    # the records of each folder are those the contract maps there
    s3 = emulator.client("s3")
    import json
    seen = 0
    for key in keys:
        folder = key.rsplit("/", 2)[1]
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        for line in body.splitlines():
            r = json.loads(line)
            assert r["attribute_folder"] == folder
            assert list(r)[-1] == "attribute_folder"
            assert folder == pushdown_fixture.attribute_folder(r, "state", DECLARED)
            seen += 1
    assert seen == len(recs)


def test_import_sets_the_folder_options(folder_table, db):
    cur = db.cursor()
    cur.execute("""SELECT ftoptions FROM pg_foreign_table
                    WHERE ftrelid = 'folders.orders_audit'::regclass""")
    options = cur.fetchone()[0]
    assert "folder_column=attribute_folder" in options
    assert "folder_attribute=state" in options
    assert "folder_values=OPEN,PICKEDUP,DELIVERED,RETURNED" in options
    assert ("bucket_column=key_bucket" in options) == bool(LAYOUT["buckets"])


def test_equality_reads_its_folder_and_other(folder_table, db, emulator):
    cur = db.cursor()
    got, scanned, sql = one_query(cur, "new_state = 'DELIVERED'")
    assert got
    assert folder_pred({"DELIVERED", "_other"}) in sql, sql
    assert scanned == folder_bytes(emulator, {"DELIVERED", "_other"})

    cur.execute("SET audit_fdw.enable_pushdown = off")
    before = logged_ids(cur)
    rows(cur, "new_state = 'DELIVERED'")
    [(everything, sql)] = queries_since(cur, before)
    cur.execute("RESET audit_fdw.enable_pushdown")
    assert "attribute_folder" not in sql
    assert everything == folder_bytes(emulator, ALL_FOLDERS)
    assert scanned < everything


def test_in_list_and_keys_prune_together(folder_table, db, emulator):
    cur = db.cursor()
    got, scanned, sql = one_query(cur, "new_state IN ('OPEN', 'RETURNED')")
    assert got
    assert folder_pred({"OPEN", "RETURNED", "_other"}) in sql, sql
    assert scanned == folder_bytes(emulator, {"OPEN", "RETURNED", "_other"})
    # = ANY of an array, and two conditions: the folders they have in common
    got, scanned, sql = one_query(cur, "new_state = ANY('{OPEN,PICKEDUP}') "
                                  "AND new_state IN ('PICKEDUP', 'RETURNED')")
    assert folder_pred({"PICKEDUP", "_other"}) in sql, sql
    # with the key: its bucket's folders only
    bucket = pushdown_fixture.key_hash("110")[-1]
    got, scanned, sql = one_query(cur, "order_id = '110' AND new_state = 'OPEN'")
    assert scanned == sum(size for key, size in objects(emulator).items()
                          if (key.rsplit("/", 3)[1] == bucket or not LAYOUT["buckets"])
                          and key.rsplit("/", 2)[1] in ("OPEN", "_other"))


def test_undeclared_and_non_string_values_are_found(folder_table, db, emulator):
    cur = db.cursor()
    other = folder_bytes(emulator, {"_other"})
    # CANCELLED is not declared; 7 and true are a number and a boolean;
    # 'open' and 'DELIVERED ' differ from declared values by case and space
    for value in ("CANCELLED", "ON_HOLD", "7", "true", "open", "DELIVERED "):
        got, scanned, sql = one_query(cur, "new_state = %s", (value,))
        assert got, value
        assert "(\"attribute_folder\" = '_other')" in sql, sql
        assert scanned == other, value


def test_conditions_that_select_no_folder_ship_none(folder_table, db):
    cur = db.cursor()
    for cond in ("old_state = 'DELIVERED'", "new_state <> 'OPEN'", "new_state IS NULL",
                 "new_state > 'OPEN'", "new_state LIKE 'OP%'",
                 "new_state = 'OPEN' OR event_name = 'REMOVE'", "lower(new_state) = 'open'"):
        before = logged_ids(cur)
        assert rows(cur, cond) == rows(cur, cond, (), "local_copy"), cond
        [(_, sql)] = queries_since(cur, before)
        assert "attribute_folder" not in sql, (cond, sql)


def test_explain_shows_the_folders_and_the_estimate(folder_table, db, emulator):
    cur = db.cursor()
    cur.execute("SET audit_fdw.max_bytes_scanned = '1GB'")
    plan = plan_of(cur, "EXPLAIN SELECT * FROM folders.orders_audit "
                   "WHERE new_state IN ('RETURNED', 'DELIVERED')")
    assert "Attribute Folders: DELIVERED, RETURNED, _other" in plan, plan
    want = folder_bytes(emulator, {"DELIVERED", "RETURNED", "_other"})
    assert f"Estimated Data Scanned: {want} bytes" in plan, plan
    cur.execute("RESET audit_fdw.max_bytes_scanned")
    # a budget below it refuses the query, naming the estimate (the
    # table's option, in bytes; undone by the rollback)
    cur.execute("BEGIN")
    cur.execute("ALTER FOREIGN TABLE folders.orders_audit "
                f"OPTIONS (ADD max_bytes_scanned '{want - 1}')")
    with pytest.raises(psycopg2.errors.ConfigurationLimitExceeded) as e:
        cur.execute("SELECT * FROM folders.orders_audit "
                    "WHERE new_state IN ('RETURNED', 'DELIVERED')")
    assert f"{want} bytes" in e.value.diag.message_detail
    cur.execute("ROLLBACK")


def test_parameter_chooses_folders_at_execution(folder_table, db, emulator):
    cur = db.cursor()
    cur.execute("SET plan_cache_mode = force_generic_plan")
    cur.execute("PREPARE by_state(text) AS SELECT event_id FROM folders.orders_audit "
                "WHERE new_state = $1 ORDER BY 1")
    for value, folders in (("RETURNED", {"RETURNED", "_other"}), ("CANCELLED", {"_other"})):
        before = logged_ids(cur)
        cur.execute("EXECUTE by_state(%s)", (value,))
        assert [r[0] for r in cur.fetchall()] == rows(cur, "new_state = %s", (value,),
                                                      "local_copy")
        [(scanned, sql)] = queries_since(cur, before)
        assert folder_pred(folders) in sql, sql
        assert scanned == folder_bytes(emulator, folders)
    plan = plan_of(cur, "EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_state('OPEN')")
    assert "Attribute Folders: chosen at execution" in plan, plan
    assert "(\"attribute_folder\" IN ($" in plan, plan
    plan = plan_of(cur, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                   "EXECUTE by_state('OPEN')")
    assert "Attribute Folders: OPEN, _other" in plan, plan
    # NULL: no folder, no row, no query
    before = logged_ids(cur)
    cur.execute("EXECUTE by_state(NULL)")
    assert cur.fetchall() == []
    assert queries_since(cur, before) == []
    # an array parameter
    cur.execute("PREPARE by_states(text[]) AS SELECT event_id FROM folders.orders_audit "
                "WHERE new_state = ANY($1) ORDER BY 1")
    before = logged_ids(cur)
    cur.execute("EXECUTE by_states(%s)", (["OPEN", "PICKEDUP", None],))
    assert [r[0] for r in cur.fetchall()] == rows(
        cur, "new_state = ANY(%s)", (["OPEN", "PICKEDUP", None],), "local_copy")
    [(scanned, sql)] = queries_since(cur, before)
    assert scanned == folder_bytes(emulator, {"OPEN", "PICKEDUP", "_other"})
    cur.execute("RESET plan_cache_mode")


SELF_JOIN = """
    SELECT d.order_id, d.event_id, r.event_id
      FROM folders.{t} d JOIN folders.{t} r ON r.order_id = d.order_id
     WHERE d.new_state = 'DELIVERED' AND r.new_state {r}
     ORDER BY 1, 2, 3"""


@pytest.mark.parametrize("r, folders", [
    ("= 'RETURNED'", {"DELIVERED", "RETURNED", "_other"}),
    ("= 'CANCELLED'", {"DELIVERED", "_other"}),
    # a side without a condition on the state: every folder
    ("IS NOT NULL", ALL_FOLDERS),
])
def test_self_join_reads_the_union_of_its_sides(folder_table, db, emulator, r, folders):
    cur = db.cursor()
    before = logged_ids(cur)
    cur.execute(SELF_JOIN.format(t="orders_audit", r=r))
    got = cur.fetchall()
    cur.execute(SELF_JOIN.format(t="local_copy", r=r))
    assert got == cur.fetchall()
    [(scanned, sql)] = queries_since(cur, before)
    assert "array_agg" in sql, sql
    assert scanned == folder_bytes(emulator, folders), sql


def test_folder_options_are_checked(folder_table, db):
    cur = db.cursor()
    for values, words in (("OPEN,_other", "underscore"), ("OPEN,OPEN", "once"),
                          ("OPEN,", "1 to 100"), ("A B", "ASCII"),
                          (",".join(f"v{i}" for i in range(65)), "64")):
        with pytest.raises(psycopg2.errors.FdwInvalidAttributeValue) as e:
            cur.execute("ALTER FOREIGN TABLE folders.orders_audit "
                        "OPTIONS (SET folder_values %s)", (values,))
        assert words in e.value.diag.message_detail, (values, e.value.diag.message_detail)
        db.rollback()
    with pytest.raises(psycopg2.errors.FdwOptionNameNotFound) as e:
        cur.execute("ALTER FOREIGN TABLE folders.orders_audit OPTIONS (DROP folder_attribute)")
    assert "folder_attribute" in e.value.diag.message_primary
    db.rollback()
