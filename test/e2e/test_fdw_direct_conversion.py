"""The FDW's direct conversions of Athena's text (src/fdw/types.c,
convert_direct) against PostgreSQL's own input functions, value by value:
for each column type, a foreign table reads edge values (signs, leading
zeros, exponents, NaN and Infinity as Athena spells them, out of range
values, BC dates and 5-digit years, fractions of timestamps, typmods) and
must give exactly what a cast of the same text gives, or the same error.
The oracle is PostgreSQL's input function, called in SQL on the same text
with the column's typmod in a UTC session, which the FDW used for every
value before."""
import uuid

import psycopg2
import pytest

from athena_tables import (athena_server, ensure_buckets, ensure_database, put_json_lines,
                           replace_json_table)
from conftest import connect

SERVER = "fdw_direct"
BUCKET = "fdw-direct-data"
RESULTS = "fdw-direct-results"
DATABASE = "fdw_direct"
RUN = uuid.uuid4().hex[:8]

# PostgreSQL type -> the texts it reads
VALUES = {
    "bigint": ["0", "-0", "7", "007", "-9223372036854775808", "9223372036854775807",
               "123456789012345678", "-123456789012345678", "1234567890123456789", "+5", " 5",
               "5 ", "9223372036854775808", "-9223372036854775809", "1.5", "", "abc", "-", "--1",
               "1e3", "-1000000000000000000", "0000000000000000001", "00000000000000000001"],
    "integer": ["0", "-0", "2147483647", "-2147483648", "123456789", "1234567890",
                "00000000001", "2147483648", "-2147483649", "12a", "-1234567890",
                "0000000001", "4294967296"],
    "smallint": ["0", "32767", "-32768", "9999", "-9999", "10000", "32768", "x", "12345",
                 "-12345", "00007", "000007", "-32769", "65536"],
    "boolean": ["true", "false", "TRUE", "t", "yes", "1", "0", "off", " true", "maybe", ""],
    "double precision": ["0.0", "-0.0", "1.5", "-2.25", "0.1", "0.3", "123456789012345",
                         "1234567890123456", "9007199254740993", "3.141592653589793",
                         "0.000000000000000000001", "1.0E7", "1.2345678E-5", "-1.5E22", "1.0E23",
                         "4.9E-324", "-1.7976931348623157E308", "1.0E-22", "9.99999999999999E-22",
                         "NaN", "Infinity", "-Infinity", "1e400", "1e-400", "1.", ".5", "1.5e",
                         "0x10", "", "12.5x"],
    "numeric": ["0", "-0", "0.000", "123456789.125", "-0.001", "007.50", "123456789012345678",
                "-123456789012345678", "1234567890123456789012345", "0.00000000000000000001",
                "1E5", "-1.5e-3", "NaN", "Infinity", "-Infinity", "1.", ".5", "abc", "1.2.3"],
    "numeric(12,3)": ["123456789.125", "-0.001", "0.000", "1.5", "1.23456", "123456789.1",
                      "000000123.450", "1234567890.125", "999999999.9995", "NaN"],
    "numeric(5,0)": ["12345", "-12345", "123456", "1.5"],
    "date": ["2024-01-15", "1970-01-01", "2000-02-29", "0001-01-01", "9999-12-31",
             "10000-01-01", "0044-03-15 BC", "2024-1-5", "20240115", "2024-02-30", "2023-02-29",
             "0000-01-01", "2024-01-15 16:44:27", "infinity", "not a date"],
    "timestamp": ["2024-01-15 16:44:27.123", "2024-01-15 16:44:27", "1999-12-31 23:59:59.999",
                  "2024-01-15 16:44:27.1", "2024-01-15 16:44:27.123456",
                  "2024-01-15 16:44:27.1234565", "2024-01-15 24:00:00", "2024-01-15 23:59:60",
                  "2024-01-15T16:44:27", "0001-01-01 00:00:00", "0044-03-15 12:00:00 BC",
                  "10000-01-01 00:00:00", "2024-01-15 16:44:27.123 UTC", "2024-01-15 16:44:27.",
                  "2024-13-01 00:00:00", "2024-01-15 25:00:00", "2024-01-15 16:44"],
    "timestamptz": ["2024-01-15 16:44:27.123", "2024-01-15 16:44:27.123 UTC",
                    "2024-01-15 16:44:27+02", "2024-01-15 16:44:27.5 UTC",
                    "2024-01-15 16:44:27.123 Europe/Paris", "2024-01-15 16:44:27.123 UTCX",
                    "0044-03-15 12:00:00 BC", "10000-01-01 00:00:00", "2024-02-30 00:00:00"],
    "timestamp(0)": ["2024-01-15 16:44:27.5", "2024-01-15 16:44:27"],
    "text": ["plain", "", "Zürich ✓ 日本", "with, comma \"quoted\"", "line1\nline2", " spaced "],
    "varchar": ["plain", "", "Zürich ✓"],
    "varchar(5)": ["abc", "abcde", "abcdef", "abc    ", "Zürich"],
}


def table_name(pgtype):
    return "t_" + "".join(c if c.isalnum() else "_" for c in pgtype)


def rows():
    out = []
    for g, (pgtype, texts) in enumerate(VALUES.items()):
        for i, text in enumerate(texts):
            out.append({"id": g * 1000 + i, "grp": table_name(pgtype), "v": text})
    return out


@pytest.fixture(scope="module")
def setup(emulator):
    emulator.clear_faults()
    emulator.configure(athena_min_query_ms=0)
    s3 = emulator.client("s3")
    glue = emulator.client("glue")
    ensure_buckets(s3, BUCKET, RESULTS)
    ensure_database(glue, DATABASE)
    replace_json_table(glue, DATABASE, "edge",
                       [("id", "int"), ("grp", "string"), ("v", "string")],
                       f"s3://{BUCKET}/{RUN}/edge/")
    put_json_lines(s3, BUCKET, f"{RUN}/edge/part-0.json", rows())

    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    athena_server(cur, SERVER, emulator.url, DATABASE, RESULTS, fast=False)
    cur.execute("DROP SCHEMA IF EXISTS fdw_direct CASCADE")
    cur.execute("CREATE SCHEMA fdw_direct")
    for pgtype in VALUES:
        cur.execute(f"""CREATE FOREIGN TABLE fdw_direct.{table_name(pgtype)}
            (id integer, grp text, v {pgtype}) SERVER {SERVER} OPTIONS ("table" 'edge')""")
    yield conn
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute("DROP SCHEMA IF EXISTS fdw_direct CASCADE")
    conn.close()


# values compared exactly as PostgreSQL writes them (a float's shortest
# exact text with -0 and NaN, a numeric's scale, years past 9999 and BC)
RAW = psycopg2.extensions.new_type(
    (16, 20, 21, 23, 25, 700, 701, 1043, 1082, 1114, 1184, 1700), "AUDIT_FDW_RAW",
    lambda value, cur: value)


def session(timezone):
    conn = connect()
    conn.autocommit = True
    psycopg2.extensions.register_type(RAW, conn)
    cur = conn.cursor()
    cur.execute(f"SET TimeZone = '{timezone}'")
    return conn, cur


def input_call(cur, pgtype):
    """SQL that calls the column type's input function on a parameter, with
    the column's typmod, as the FDW did for every value (a cast would apply
    a typmod as an explicit cast does: varchar(5) would truncate)."""
    cur.execute("""SELECT t.typinput::regproc::text, p.pronargs, a.atttypid, a.atttypmod
                     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                     JOIN pg_proc p ON p.oid = t.typinput
                    WHERE a.attrelid = %s::regclass AND a.attname = 'v'""",
                (f"fdw_direct.{table_name(pgtype)}",))
    fn, nargs, typid, typmod = cur.fetchone()
    if int(nargs) == 1:
        return f"SELECT {fn}(%s::cstring)"
    return f"SELECT {fn}(%s::cstring, {typid}, {typmod})"


def by_input_function(cur, sql, text):
    """What the input function makes of text: its output text or its error."""
    try:
        cur.execute(sql, (text,))
        return ("value", cur.fetchone()[0])
    except psycopg2.Error as e:
        return ("error", e.pgcode, e.diag.message_primary)


def by_fdw(cur, pgtype, row_id):
    try:
        cur.execute(f"SELECT v FROM fdw_direct.{table_name(pgtype)} WHERE id = %s", (row_id,))
        got = cur.fetchall()
        assert len(got) == 1
        return ("value", got[0][0])
    except psycopg2.Error as e:
        return ("error", e.pgcode, e.diag.message_primary)


@pytest.mark.parametrize("pgtype", list(VALUES))
def test_direct_conversion_matches_input_function(setup, pgtype):
    # Athena's times are UTC; a cast reads a time without a zone in the
    # session's zone: UTC for both here
    conn, cur = session("UTC")
    base = list(VALUES).index(pgtype) * 1000
    sql = input_call(cur, pgtype)
    expected = {base + i: by_input_function(cur, sql, t) for i, t in enumerate(VALUES[pgtype])}
    # the values that convert, read in one scan (the path the bench measures)
    good = sorted(k for k, e in expected.items() if e[0] == "value")
    cur.execute(f"SELECT id, v FROM fdw_direct.{table_name(pgtype)} WHERE grp = %s AND id IN %s",
                (table_name(pgtype), tuple(good)))
    got = {int(k): ("value", v) for k, v in cur.fetchall()}
    for k in good:
        assert got.get(k) == expected[k], f"{pgtype} {VALUES[pgtype][k - base]!r}"
    # the others one by one: the same error (timestamptz's input function
    # is given a time without a zone with "+00" added, which its message shows)
    for k, e in expected.items():
        if e[0] == "error":
            got = by_fdw(cur, pgtype, k)
            if pgtype == "timestamptz":
                got = got[:2] + (got[2].replace('+00"', '"'),)
            assert got == e, f"{pgtype} {VALUES[pgtype][k - base]!r}"
    conn.close()


def test_timestamptz_without_zone_is_utc_in_any_session(setup):
    conn, cur = session("America/New_York")
    k = list(VALUES).index("timestamptz") * 1000
    cur.execute("SELECT v FROM fdw_direct.t_timestamptz WHERE id = %s", (k,))
    assert cur.fetchone()[0] == "2024-01-15 11:44:27.123-05"
    conn.close()


def scan_everything(cur, pgtype):
    """Every value of the type's rows, converted in one scan where they all
    convert, else one by one (a value or its error)."""
    base = list(VALUES).index(pgtype) * 1000
    out = {}
    for i in range(len(VALUES[pgtype])):
        out[base + i] = by_fdw(cur, pgtype, base + i)
    cur.execute(f"SELECT id, v FROM fdw_direct.{table_name(pgtype)} WHERE grp = %s AND id IN %s",
                (table_name(pgtype), tuple(k for k, v in out.items() if v[0] == "value")))
    return out, sorted(cur.fetchall())


@pytest.mark.parametrize("pgtype", list(VALUES))
def test_direct_conversion_off_gives_the_same_values_and_errors(setup, pgtype):
    """audit_fdw.direct_conversion = off (every value through its input
    function, what bench/fdw_fetch_type_bench compares) reads the same
    values, and fails with the same errors, as the default."""
    conn, cur = session("UTC")
    cur.execute("SHOW audit_fdw.direct_conversion")
    assert cur.fetchone()[0] == "on"
    on = scan_everything(cur, pgtype)
    cur.execute("SET audit_fdw.direct_conversion = off")
    off = scan_everything(cur, pgtype)
    assert on == off
    assert any(v[0] == "value" for v in on[0].values())
    conn.close()
