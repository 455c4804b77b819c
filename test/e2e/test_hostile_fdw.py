"""Foreign scans against a hostile or broken AWS: the emulator's fault
injection answers Athena, S3 and Glue with truncated and malformed JSON, CSV
and XML, wrong Content-Length, a stall mid-body, huge bodies and redirects.

Each case must end in a clear ERROR (with an errcode, never a crash or a
hang) or, where a retry or a resumed download cures it, in the right rows;
afterwards the same backend answers again and the postmaster was not
restarted.  Every case is recorded for test/HARDENING.md (hostile.py).
"""
import threading
import time

import psycopg2
import pytest

from athena_tables import (athena_server, ensure_buckets, ensure_database, put_json_lines,
                           replace_json_table)
from conftest import connect
from hostile import Listener, extra_port, record

SERVER = "fdw_hostile"
BUCKET = "fdw-hostile-data"
RESULTS = "fdw-hostile-results"
DATABASE = "fdw_hostile"
NROWS = 40

# a body far larger than any Athena answer: 48 MiB, and one over the
# client's 64 MiB cap for a JSON answer
HUGE_PAD = 48 * 1024
OVER_CAP_PAD = 80 * 1024


@pytest.fixture(scope="module")
def setup(emulator):
    s3 = emulator.client("s3")
    glue = emulator.client("glue")
    ensure_buckets(s3, BUCKET, RESULTS)
    ensure_database(glue, DATABASE)
    replace_json_table(glue, DATABASE, "rows", [("id", "int"), ("label", "string")],
                       f"s3://{BUCKET}/rows/")
    put_json_lines(s3, BUCKET, "rows/part-0.json",
                   [{"id": i, "label": "row %d" % i} for i in range(1, NROWS + 1)])

    conn = connect()
    cur = conn.cursor()
    athena_server(cur, SERVER, emulator.url, DATABASE, RESULTS)
    cur.execute("DROP SCHEMA IF EXISTS fdw_hostile CASCADE")
    cur.execute("CREATE SCHEMA fdw_hostile")
    cur.execute(f"""CREATE FOREIGN TABLE fdw_hostile.rows (id integer, label text)
        SERVER {SERVER} OPTIONS ("table" 'rows')""")
    cur.execute(f"""CREATE FOREIGN TABLE fdw_hostile.rows_api (id integer, label text)
        SERVER {SERVER} OPTIONS ("table" 'rows', result_transport 'api')""")
    conn.close()
    yield
    emulator.clear_faults()


@pytest.fixture
def cur(setup, emulator):
    """A connection with short limits, so that a hostile server costs seconds."""
    conn = connect()
    c = conn.cursor()
    c.execute("SET audit_fdw.aws_max_retries = 2")
    c.execute("SET audit_fdw.aws_retry_base_delay = 10")
    c.execute("SET audit_fdw.aws_request_timeout = '1500ms'")
    c.execute("SET statement_timeout = '60s'")
    c.execute("SELECT pg_postmaster_start_time()")
    started = c.fetchone()[0]
    emulator.clear_faults()
    yield c
    emulator.clear_faults()
    # the backend is alive and the postmaster was not restarted
    c.execute("SELECT pg_postmaster_start_time()")
    assert c.fetchone()[0] == started
    conn.close()


def run_case(cur, name, query, expect, fault_specs, emulator, within=30):
    """Install the faults, run query, check the outcome, record the case.
    expect is "error" (with a non-internal SQLSTATE), a SQLSTATE the error
    must have, or a row count."""
    for f in fault_specs:
        emulator.add_fault(**f)
    start = time.monotonic()
    try:
        cur.execute(query)
        rows = cur.fetchall()
        outcome, detail = "rows", "%d rows" % len(rows)
        got = len(rows) if not (len(rows) == 1 and len(rows[0]) == 1
                                and isinstance(rows[0][0], int)) else rows[0][0]
    except psycopg2.Error as e:
        outcome, detail = "error", "%s %s" % (e.pgcode, (e.pgerror or "").strip())
        got = e
    took = time.monotonic() - start
    emulator.clear_faults()
    record("fdw", name, fault_specs, outcome, "%s (%.1fs)" % (detail, took))
    assert took < within, "%s took %.1fs" % (name, took)
    if isinstance(expect, str):
        assert outcome == "error", "%s: expected an ERROR, got %s" % (name, detail)
        assert got.pgcode is not None and got.pgcode != "XX000", \
            "%s: an error without a proper errcode: %s" % (name, detail)
        assert expect == "error" or got.pgcode == expect, \
            "%s: expected SQLSTATE %s, got %s" % (name, expect, detail)
        assert cur.connection.closed == 0, "%s: the connection was lost" % name
        # what a server sends must not make messages (and logs) huge
        assert len(got.pgerror or "") < 8192, \
            "%s: a %d-byte error message" % (name, len(got.pgerror))
    else:
        assert outcome == "rows", "%s: expected rows, got %s" % (name, detail)
        assert got == expect, "%s: %r rows instead of %r" % (name, got, expect)
    # the same backend still works
    cur.execute("SELECT 1")
    assert cur.fetchone()[0] == 1
    return got


COUNT = "SELECT count(*) FROM fdw_hostile.rows"
COUNT_API = "SELECT count(*) FROM fdw_hostile.rows_api"
ROWS = "SELECT id, label FROM fdw_hostile.rows"
# a volatile condition stays local, so the scan fetches every label
BIG = "SELECT count(*) FROM fdw_hostile.rows WHERE label <> random()::text"


def athena(op, **kw):
    return dict(service="athena", operation=op, **kw)


def s3(op, **kw):
    return dict(service="s3", operation=op, **kw)


# (name, query, expected, faults): expected "error" or the count
CASES = [
    # malformed JSON from Athena
    ("start: truncated JSON", COUNT, "error",
     [athena("StartQueryExecution", body='{"QueryExecutionId": "abc')]),
    ("start: not JSON", COUNT, "error",
     [athena("StartQueryExecution", body="<html>hello</html>", content_type="text/html")]),
    ("start: JSON array", COUNT, "error", [athena("StartQueryExecution", body="[1, 2, 3]")]),
    ("start: id of the wrong type", COUNT, "error",
     [athena("StartQueryExecution", body='{"QueryExecutionId": 12345}')]),
    ("start: empty body", COUNT, "error", [athena("StartQueryExecution", body="")]),
    ("start: query id of 1 MiB", COUNT, "error",
     [athena("StartQueryExecution", body_prefix='{"QueryExecutionId": "',
             body="a" * 1024, repeat=1024, body_suffix='"}')]),
    ("start: query id that climbs out of the result prefix", COUNT, "error",
     [athena("StartQueryExecution", body='{"QueryExecutionId": "../../fdw-hostile-data/rows/part-0"}')]),
    ("start: NUL bytes", COUNT, "error",
     [athena("StartQueryExecution", body='{"QueryExecutionId": "a\\u0000b"}\u0000\u0000')]),
    ("get: unknown state", COUNT, "error",
     [athena("GetQueryExecution",
             body='{"QueryExecution": {"QueryExecutionId": "x", "Status": {"State": "BANANA"}}}')]),
    ("get: no status", COUNT, "error",
     [athena("GetQueryExecution", body='{"QueryExecution": {}}')]),
    ("get: JSON nested 100000 deep", COUNT, "error",
     [athena("GetQueryExecution", body="[" * 100000)]),
    ("get: HTML 502 every time", COUNT, "error",
     [athena("GetQueryExecution", status=502, content_type="text/html",
             body="<html><body>502 Bad Gateway</body></html>")]),
    ("get: JSON error without a code", COUNT, "error",
     [athena("GetQueryExecution", status=400, body='{"message": ""}')]),
    ("get: XML error with an empty code", COUNT, "error",
     [athena("GetQueryExecution", status=403, content_type="application/xml",
             body="<Error><Code></Code><Message/></Error>")]),
    # framing
    ("get: body cut short once (retried)", COUNT, NROWS,
     [athena("GetQueryExecution", truncate_body=20, count=1)]),
    ("get: body cut short every time", COUNT, "error",
     [athena("GetQueryExecution", truncate_body=20)]),
    ("get: Content-Length larger than the body once (retried)", COUNT, NROWS,
     [athena("GetQueryExecution", content_length=100000, count=1)]),
    ("get: Content-Length larger than the body every time", COUNT, "error",
     [athena("GetQueryExecution", content_length=100000)]),
    ("get: Content-Length shorter than the body", COUNT, "error",
     [athena("GetQueryExecution", content_length=7)]),
    ("get: connection dropped every time", COUNT, "error",
     [athena("GetQueryExecution", drop_connection=True)]),
    ("get: stall mid-body (request timeout)", COUNT, "error",
     [athena("GetQueryExecution", stall_after_bytes=10, stall_ms=30000)]),
    ("get: stall mid-body once (retried)", COUNT, NROWS,
     [athena("GetQueryExecution", stall_after_bytes=10, stall_ms=30000, count=1)]),
    ("get: huge body (48 MiB)", COUNT, "error",
     [athena("GetQueryExecution", body_prefix='{"QueryExecution": {"Status": {"State": "',
             body="R" * 1024, repeat=HUGE_PAD, body_suffix='"}}}')]),
    ("get: body over the 64 MiB cap (refused, not allocated)", COUNT, "54000",
     [athena("GetQueryExecution", body_prefix='{"QueryExecution": {"Status": {"State": "',
             body="R" * 1024, repeat=OVER_CAP_PAD, body_suffix='"}}}')]),
    # redirects are never followed (the signed request would go elsewhere)
    ("start: 307 redirect", COUNT, "error", "REDIRECT"),
    ("get: 301 redirect", COUNT, "error", "REDIRECT-GET"),
    # the result CSV from S3
    ("csv: unterminated quote", ROWS, "error",
     [s3("GetObject", body='"id","label"\n"1","row 1\n')]),
    ("csv: text after a closing quote", ROWS, "error",
     [s3("GetObject", body='"id","label"\n"1"x,"row"\n')]),
    ("csv: bare carriage return", ROWS, "error",
     [s3("GetObject", body='"id","label"\r"1","a"\n')]),
    ("csv: too few columns", ROWS, "error",
     [s3("GetObject", body='"id","label"\n"1"\n')]),
    ("csv: too many columns", ROWS, "error",
     [s3("GetObject", body='"id","label"\n"1","a","b","c"\n')]),
    ("csv: not an integer", ROWS, "error",
     [s3("GetObject", body='"id","label"\n"one","a"\n')]),
    ("csv: binary garbage", ROWS, "error",
     [s3("GetObject", body="\u0000\u00ff\"\u0001,\n\"" * 100)]),
    ("csv: empty object", ROWS, "error", [s3("GetObject", body="")]),
    ("csv: cut short once (download resumed)", ROWS, NROWS,
     [s3("GetObject", truncate_body=30, count=1)]),
    ("csv: stall mid-body (no byte for the request timeout)", ROWS, "error",
     [s3("GetObject", stall_after_bytes=5, stall_ms=30000)]),
    # an object that cannot be read: the rows come through GetQueryResults
    ("csv: S3 XML error with an empty code (GetQueryResults instead)", ROWS, NROWS,
     [s3("GetObject", status=403, content_type="application/xml",
         body='<?xml version="1.0"?><Error><Code/><Message></Message></Error>')]),
    ("csv: 32 MiB of rows streamed", BIG, 2000000,
     [s3("GetObject", body_prefix='"label"\n', body='"row seven, 7"\n' * 1000,
         repeat=2000, count=1)]),
    # the GetQueryResults transport
    ("api: truncated JSON", COUNT_API, "error",
     [athena("GetQueryResults", body='{"ResultSet": {"Rows": [{"Data": [')]),
    ("api: rows of the wrong shape", COUNT_API, "error",
     [athena("GetQueryResults", body='{"ResultSet": {"Rows": [{"Data": 5}, 7]}}')]),
    ("api: token that never ends", COUNT_API, "error",
     [athena("GetQueryResults",
             body='{"ResultSet": {"Rows": [{"Data": [{"VarCharValue": "id"}, '
                  '{"VarCharValue": "label"}]}], "ResultSetMetadata": {"ColumnInfo": []}},'
                  ' "NextToken": "again"}')]),
]


@pytest.mark.parametrize("name,query,expect,faults", CASES, ids=[c[0] for c in CASES])
def test_hostile_athena_and_s3(cur, emulator, name, query, expect, faults):
    if isinstance(faults, str) and faults.startswith("REDIRECT"):
        port = extra_port(1)
        target = Listener(port)
        try:
            op = "GetQueryExecution" if faults == "REDIRECT-GET" else "StartQueryExecution"
            status = 301 if faults == "REDIRECT-GET" else 307
            run_case(cur, name, query, expect,
                     [athena(op, status=status, body="",
                             headers={"Location": "http://127.0.0.1:%d/" % port})], emulator)
        finally:
            target.close()
        # nothing, and so no signed request, went to the redirect's target
        assert target.received == []
        return
    run_case(cur, name, query, expect, faults, emulator,
             within=120 if "MiB" in name else 30)


def test_a_huge_csv_keeps_backend_memory_bounded(cur, emulator):
    """Streaming 32 MiB of result keeps the backend's resident memory far
    below the size of the result."""
    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]
    rss = []

    def sample():
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    stop = threading.Event()

    def watch():
        while not stop.is_set():
            try:
                rss.append(sample())
            except OSError:
                pass
            time.sleep(0.05)

    t = threading.Thread(target=watch)
    t.start()
    try:
        run_case(cur, "csv: 32 MiB streamed, memory watched",
                 BIG, 2000000,
                 [s3("GetObject", body_prefix='"label"\n', body='"row seven, 7"\n' * 1000,
                     repeat=2000, count=1)], emulator, within=120)
    finally:
        stop.set()
        t.join()
    growth_kib = max(rss) - rss[0]
    record("fdw", "csv: backend RSS growth over a 32 MiB result", [], "measured",
           "%d KiB" % growth_kib)
    assert growth_kib < 16 * 1024, "the backend grew by %d KiB" % growth_kib


def test_glue_import_against_malformed_answers(cur, emulator):
    cur.execute("DROP SCHEMA IF EXISTS fdw_hostile_import CASCADE")
    cur.execute("CREATE SCHEMA fdw_hostile_import")
    imp = f'IMPORT FOREIGN SCHEMA "{DATABASE}" FROM SERVER {SERVER} INTO fdw_hostile_import'
    for name, body in [
            ("glue: truncated JSON", '{"TableList": [{"Name": "x", "StorageDesc'),
            ("glue: table without a name", '{"TableList": [{"StorageDescriptor": {}}]}'),
            ("glue: columns of the wrong shape",
             '{"TableList": [{"Name": "t", "StorageDescriptor": {"Columns": 7}}]}'),
            ("glue: type that is not a type",
             '{"TableList": [{"Name": "t", "StorageDescriptor": {"Columns": '
             '[{"Name": "c", "Type": "struct<<<"}]}}]}')]:
        emulator.add_fault(service="glue", operation="GetTables", body=body)
        cur.execute("DROP SCHEMA fdw_hostile_import CASCADE")
        cur.execute("CREATE SCHEMA fdw_hostile_import")
        try:
            cur.execute(imp)
            cur.execute("SELECT string_agg(c.relname || '(' || "
                        "(SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid "
                        "AND a.attnum > 0) || ' columns)', ', ') FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'fdw_hostile_import'")
            outcome, detail = "imported", cur.fetchone()[0] or "nothing"
        except psycopg2.Error as e:
            outcome, detail = "error", "%s %s" % (e.pgcode, (e.pgerror or "").strip())
            assert e.pgcode != "XX000", detail
        emulator.clear_faults()
        record("fdw", name, [{"service": "glue", "operation": "GetTables", "body": body}],
               outcome, detail)
        cur.execute("SELECT 1")
