"""Foreign tables over Athena, end to end against the emulator: rows of
every type by both result transports, results larger than a page,
pushdown, EXPLAIN ANALYZE, the query log, ReScan, conversion errors, a
FAILED query's reason, and cancellation (pg_cancel_backend and
statement_timeout) that stops the Athena query."""
import base64
import datetime
import decimal
import json
import os
import threading
import time
import uuid

import psycopg2
import pytest

from athena_tables import query_waiting, result_fetching
from conftest import cancel_during, connect, held
from pump_env import process_memory, wait_for

SERVER = "fdw_e2e"
BUCKET = "fdw-e2e-data"
# objects of this run under their own prefix: the emulator's engine may have
# read other objects of the same names before (a cache keyed by key and ETag)
RUN = uuid.uuid4().hex[:8]
RESULTS = "fdw-e2e-results"
DATABASE = "fdw_e2e"

TYPES_COLUMNS = [
    ("id", "int"), ("b", "boolean"), ("ti", "tinyint"), ("si", "smallint"),
    ("bi", "bigint"), ("r", "float"), ("d", "double"), ("dec", "decimal(12,3)"),
    ("vc", "varchar(20)"), ("s", "string"), ("dt", "date"), ("ts", "timestamp"),
    ("bin", "binary"), ("arr", "array<int>"), ("m", "map<string,int>"),
    ("st", "struct<name:string,qty:int>"),
]

TYPES_ROWS = [
    {"id": 1, "b": True, "ti": -128, "si": 32767, "bi": 9007199254740993, "r": 1.5,
     "d": 2.25, "dec": "123456789.125", "vc": "plain", "s": "Zürich ✓ 日本 \"q\" 'a' \\n,x",
     "dt": "2024-01-15", "ts": "2024-01-15 16:44:27.123",
     "bin": base64.b64encode(b"\x00\xffab").decode(), "arr": [1, 2, 3],
     "m": {"k": 1}, "st": {"name": "box", "qty": 2}},
    # NULLs everywhere but the id
    {"id": 2},
    # empty strings are not NULL; line breaks and commas inside values
    {"id": 3, "b": False, "vc": "", "s": "line1\nline2, \"quoted\"", "arr": [],
     "m": {}, "st": {"name": None, "qty": None}, "d": -0.5, "dec": "-0.001",
     "ts": "1999-12-31 23:59:59.999", "dt": "1970-01-01"},
]

EXPECTED_TYPES = {
    1: (True, -128, 32767, 9007199254740993, 1.5, 2.25, decimal.Decimal("123456789.125"),
        "plain", "Zürich ✓ 日本 \"q\" 'a' \\n,x", datetime.date(2024, 1, 15),
        datetime.datetime(2024, 1, 15, 16, 44, 27, 123000, tzinfo=datetime.timezone.utc),
        b"\x00\xffab", [1, 2, 3], {"k": 1}, {"name": "box", "qty": 2}),
    2: (None,) * 15,
    3: (False, None, None, None, None, -0.5, decimal.Decimal("-0.001"), "",
        "line1\nline2, \"quoted\"", datetime.date(1970, 1, 1),
        datetime.datetime(1999, 12, 31, 23, 59, 59, 999000, tzinfo=datetime.timezone.utc),
        None, [], {}, {"name": None, "qty": None}),
}


def put_json_lines(s3, key, rows):
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def create_glue_table(glue, name, columns, location, partitions=()):
    glue.create_table(DatabaseName=DATABASE, TableInput={
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in columns],
            "Location": location,
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
        },
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in partitions],
    })


@pytest.fixture(scope="module")
def setup(emulator):
    emulator.clear_faults()
    emulator.configure(athena_min_query_ms=0)
    s3 = emulator.client("s3")
    glue = emulator.client("glue")
    for b in (BUCKET, RESULTS):
        try:
            s3.create_bucket(Bucket=b)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    try:
        glue.create_database(DatabaseInput={"Name": DATABASE})
    except glue.exceptions.AlreadyExistsException:
        pass
    for t in ("types", "big"):
        try:
            glue.delete_table(DatabaseName=DATABASE, Name=t)
        except glue.exceptions.EntityNotFoundException:
            pass
    create_glue_table(glue, "types", TYPES_COLUMNS, f"s3://{BUCKET}/{RUN}/types/")
    put_json_lines(s3, f"{RUN}/types/part-0.json", TYPES_ROWS)
    create_glue_table(glue, "big", [("id", "int"), ("label", "string")],
                      f"s3://{BUCKET}/{RUN}/big/")
    put_json_lines(s3, f"{RUN}/big/part-0.json",
                   [{"id": i, "label": f"row {i}"} for i in range(1, 2501)])

    conn = connect()
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS audit_fdw")
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute(f"""CREATE SERVER {SERVER} FOREIGN DATA WRAPPER audit_fdw OPTIONS (
        region 'us-east-1', endpoint '{emulator.url}', database '{DATABASE}',
        output_location 's3://{RESULTS}/audit_fdw/')""")
    cur.execute(f"""CREATE USER MAPPING FOR CURRENT_USER SERVER {SERVER}
        OPTIONS (access_key_id 'test', secret_access_key 'test')""")
    cur.execute("DROP SCHEMA IF EXISTS fdw_e2e CASCADE")
    cur.execute("CREATE SCHEMA fdw_e2e")
    cur.execute(f"""CREATE FOREIGN TABLE fdw_e2e.types (
        id integer, b boolean, ti smallint, si smallint, bi bigint, r real,
        d double precision, dec numeric(12,3), vc varchar(20), s text, dt date,
        ts timestamptz, bin bytea, arr jsonb, m jsonb, st jsonb)
        SERVER {SERVER} OPTIONS ("table" 'types')""")
    cur.execute(f"""CREATE FOREIGN TABLE fdw_e2e.big (id integer, label text)
        SERVER {SERVER} OPTIONS ("table" 'big')""")
    yield conn
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute("DROP SCHEMA IF EXISTS fdw_e2e CASCADE")
    conn.close()


def set_transport(cur, transport):
    cur.execute(f"ALTER SERVER {SERVER} OPTIONS (SET result_transport '{transport}')"
                if transport_is_set(cur) else
                f"ALTER SERVER {SERVER} OPTIONS (ADD result_transport '{transport}')")


def transport_is_set(cur):
    cur.execute("SELECT srvoptions FROM pg_foreign_server WHERE srvname = %s", (SERVER,))
    return any(o.startswith("result_transport=") for o in cur.fetchone()[0] or [])


def athena_requests(emulator, operation):
    """The Athena requests the emulator parsed (a request refused before its
    body was read, by a fault of an earlier test, has no input)."""
    return [r for r in emulator.requests(service="athena", operation=operation)
            if r.get("input") is not None]


def last_request_time(emulator):
    """The emulator's time of its latest request (its log is bounded, so
    requests are told apart by time, not by position)."""
    log = emulator.requests()
    return log[-1]["time"] if log else 0


def athena_requests_since(emulator, operation, since):
    return [r for r in athena_requests(emulator, operation) if r["time"] > since]


@pytest.mark.parametrize("transport", ["csv", "api"])
def test_every_type_by_both_transports(setup, db, transport):
    cur = db.cursor()
    set_transport(cur, transport)
    cur.execute("""SELECT id, b, ti, si, bi, r, d, dec, vc, s, dt, ts, bin, arr, m, st
                     FROM fdw_e2e.types ORDER BY id""")
    rows = cur.fetchall()
    assert [r[0] for r in rows] == [1, 2, 3]
    for r in rows:
        got = tuple(bytes(v) if isinstance(v, memoryview) else v for v in r[1:])
        assert got == EXPECTED_TYPES[r[0]], f"row {r[0]} by {transport}"


def test_transports_give_identical_rows_beyond_one_page(setup, db):
    cur = db.cursor()
    results = {}
    for transport in ("csv", "api"):
        set_transport(cur, transport)
        cur.execute("SELECT id, label FROM fdw_e2e.big")
        results[transport] = cur.fetchall()
    assert len(results["csv"]) == 2500
    assert sorted(results["csv"]) == [(i, f"row {i}") for i in range(1, 2501)]
    assert sorted(results["api"]) == sorted(results["csv"])
    set_transport(cur, "csv")


def test_a_sessions_memory_stays_flat_across_foreign_queries(setup, db):
    """What a foreign scan keeps in TopMemoryContext while its Athena query
    runs (for the query log, should the query end unfinished) goes with the
    query: a session that runs foreign queries for months does not grow."""
    session = connect()
    session.autocommit = True
    cur = session.cursor()
    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]

    def run(n):
        for i in range(n):
            cur.execute("SELECT id, label FROM fdw_e2e.big WHERE id > %s ORDER BY id LIMIT 2", (i,))
            assert cur.fetchall() == [(i + 1, "row %d" % (i + 1)), (i + 2, "row %d" % (i + 2))]
    run(10)
    before = process_memory(db, pid)
    run(100)
    after = process_memory(db, pid)
    session.close()
    print("TopMemoryContext of the session: %d bytes used, %d after 100 foreign queries"
          % (before, after))
    # the user's name kept by every query was 32 bytes: 3,200 for 100
    assert after - before < 1024, (before, after)


def test_pushdown_sends_conditions_order_and_limit(setup, db, emulator):
    cur = db.cursor()
    marker = uuid.uuid4().hex[:8]
    cur.execute(f"""SELECT id, label FROM fdw_e2e.big
                     WHERE id > 2490 AND label <> 'x{marker}'
                     ORDER BY id DESC LIMIT 3""")
    assert cur.fetchall() == [(2500, "row 2500"), (2499, "row 2499"), (2498, "row 2498")]
    sent = [r["input"]["QueryString"] for r in athena_requests(emulator, "StartQueryExecution")
            if marker in r["input"].get("QueryString", "")]
    assert len(sent) == 1
    assert '("id" > 2490)' in sent[0]
    assert 'ORDER BY "id" DESC NULLS FIRST LIMIT 3' in sent[0]


def test_stable_expressions_are_sent_as_literals(setup, db, emulator):
    cur = db.cursor()
    cur.execute("""SELECT id FROM fdw_e2e.types
                    WHERE ts < now() - interval '1 day' AND s = lower('PLAIN') || 'x'
                    ORDER BY id""")
    assert cur.fetchall() == []
    cur.execute("""SELECT id FROM fdw_e2e.types
                    WHERE ts >= timestamptz '2024-01-15 16:44:27.1225+00' ORDER BY id""")
    assert cur.fetchall() == [(1,)]
    sent = athena_requests(emulator, "StartQueryExecution")[-1]["input"]["QueryString"]
    # Athena's values are whole milliseconds: ts >= v is exactly ts >= ceil(v)
    assert "\"ts\" >= TIMESTAMP '2024-01-15 16:44:27.123'" in sent


def test_explain_analyze_reports_the_athena_query(setup, db):
    cur = db.cursor()
    cur.execute("EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                "SELECT id FROM fdw_e2e.big WHERE id <= 10")
    plan = "\n".join(r[0] for r in cur.fetchall())
    assert "Athena SQL: SELECT \"id\" FROM \"fdw_e2e\".\"big\" WHERE (\"id\" <= 10)" in plan
    assert "Athena Query ID: " in plan
    assert "Data Scanned: " in plan and "Estimated Cost: $" in plan
    assert "Result Transport: csv" in plan
    assert "rows=10 " in plan


def test_query_log_records_who_ran_what(setup, db):
    cur = db.cursor()
    cur.execute("SELECT count(*) FROM fdw_e2e.big WHERE id = 7")
    assert cur.fetchone() == (1,)
    cur.execute("""SELECT username, server, foreign_table, athena_sql, bytes_scanned > 0,
                          cost_usd > 0, transport, query_id <> ''
                     FROM audit_fdw.query_log ORDER BY logged_at DESC LIMIT 1""")
    row = cur.fetchone()
    assert row[:3] == ("postgres", SERVER, "big")
    assert '("id" = 7)' in row[3]
    assert row[4:] == (True, True, "csv", True)


def test_rescan_reads_the_result_again(setup, db, emulator):
    cur = db.cursor()
    since = last_request_time(emulator)
    cur.execute("SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_material = off")
    cur.execute("""SELECT g, t.id FROM generate_series(1, 3) g, fdw_e2e.big t
                    WHERE t.id = g + 100 AND t.id < 200""")
    assert sorted(cur.fetchall()) == [(1, 101), (2, 102), (3, 103)]
    cur.execute("RESET enable_hashjoin; RESET enable_mergejoin; RESET enable_material")
    assert len(athena_requests_since(emulator, "StartQueryExecution", since)) == 1


def test_value_that_does_not_convert_names_column_and_row(setup, db):
    cur = db.cursor()
    cur.execute(f"""CREATE FOREIGN TABLE fdw_e2e.wrong (id integer, label integer)
                     SERVER {SERVER} OPTIONS ("table" 'big')""")
    with pytest.raises(psycopg2.errors.InvalidTextRepresentation) as e:
        cur.execute("SELECT * FROM fdw_e2e.wrong WHERE id = 5")
    assert 'column "label" of foreign table "wrong", row 1' in str(e.value)


def test_failed_query_shows_athena_reason(setup, db):
    cur = db.cursor()
    cur.execute(f"""CREATE FOREIGN TABLE fdw_e2e.missing (id integer)
                     SERVER {SERVER} OPTIONS ("table" 'no_such_table')""")
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("SELECT * FROM fdw_e2e.missing")
    msg = str(e.value)
    assert "Athena query" in msg and "failed" in msg
    assert "no_such_table" in msg
    assert e.value.pgcode == "HV000"
    # the query log keeps it, with Athena's reason; a failed query costs nothing
    state, reason, cost, query_id = last_logged(cur)
    assert state == "FAILED" and "no_such_table" in reason, reason
    assert cost == 0
    assert query_id in msg


def last_logged(cur, where="true"):
    """The newest row of the query log (it may be written just after the
    statement failed, by a worker of its own)."""
    def logged():
        cur.execute("SELECT state, reason, cost_usd, query_id, bytes_scanned FROM audit_fdw.query_log "
                    "WHERE " + where + " ORDER BY logged_at DESC LIMIT 1")
        return cur.fetchone()
    row = wait_for("the query log where " + where, logged, timeout=30, interval=0.1)
    return row[:4] if where == "true" else row


def test_query_of_an_aborted_transaction_stays_in_the_log(setup, db):
    """The Athena query ran (and was billed) even if the transaction that
    asked for it rolls back; in a subtransaction that rolls back, too."""
    cur = db.cursor()
    cur.execute("BEGIN")
    cur.execute("SELECT count(*) FROM fdw_e2e.big WHERE id = 11")
    cur.execute("SAVEPOINT s")
    cur.execute("SELECT count(*) FROM fdw_e2e.big WHERE id = 12")
    cur.execute("ROLLBACK TO SAVEPOINT s")
    cur.execute("SAVEPOINT t")
    cur.execute("SELECT count(*) FROM fdw_e2e.big WHERE id = 13")
    cur.execute("RELEASE SAVEPOINT t")
    cur.execute("ROLLBACK")
    for n in (11, 12, 13):
        row = last_logged(cur, "athena_sql LIKE '%%(\"id\" = %d)%%'" % n)
        assert row[0] == "SUCCEEDED" and row[1] is None and row[2] > 0, (n, row)
        cur.execute("SELECT count(*) FROM audit_fdw.query_log WHERE query_id = %s", (row[3],))
        assert cur.fetchone()[0] == 1, n


def slow_query(emulator, ms):
    emulator.configure(athena_min_query_ms=ms)


def stopped_ids(emulator):
    return {r["input"]["QueryExecutionId"]
            for r in athena_requests(emulator, "StopQueryExecution")}


def test_cancel_stops_the_athena_query(setup, emulator):
    victim = connect()
    vcur = victim.cursor()
    slow_query(emulator, 20000)
    try:
        error, took = cancel_during(vcur, "SELECT count(*) FROM fdw_e2e.big",
                                    query_waiting(emulator, emulator.mark()))
        assert took < 1.0, took
        assert isinstance(error, psycopg2.errors.QueryCanceled)
        polled = athena_requests(emulator, "GetQueryExecution")[-1]["input"]["QueryExecutionId"]
        assert polled in stopped_ids(emulator)
        # logged as cancelled, with the reason and the cost of what it scanned
        vcur.execute("SELECT 1")
        row = last_logged(vcur, "query_id = '%s'" % polled)
        assert row[0] == "CANCELLED", row
        assert row[1] == "stopped by audit_fdw: canceling statement due to user request", row
        assert row[4] > 0 and row[2] > 0, row
    finally:
        slow_query(emulator, 0)
        victim.close()


def test_cancel_returns_within_a_second_when_stopping_is_slow(setup, emulator):
    """Under load an Athena call can take seconds: a cancel still returns
    within a second, with StopQueryExecution sent (its answer not awaited
    past the deadline)."""
    victim = connect()
    vcur = victim.cursor()
    slow_query(emulator, 20000)
    emulator.add_fault(service="athena", operation="StopQueryExecution", latency_ms=3000)
    try:
        error, took = cancel_during(vcur, "SELECT count(*) FROM fdw_e2e.big",
                                    query_waiting(emulator, emulator.mark()))
        assert isinstance(error, psycopg2.errors.QueryCanceled)
        assert took < 1.0, took
        polled = athena_requests(emulator, "GetQueryExecution")[-1]["input"]["QueryExecutionId"]
        # logged once answered, 3 s later
        wait_for("the StopQueryExecution", lambda: polled in stopped_ids(emulator), timeout=30)
    finally:
        emulator.clear_faults()
        slow_query(emulator, 0)
        victim.close()


def test_cancel_while_the_result_stalls(setup, emulator):
    """Fetching is a wait too: a result object that stalls after its first
    bytes does not hold up a cancel."""
    victim = connect()
    vcur = victim.cursor()
    before = emulator.mark()
    emulator.add_fault(service="s3", operation="GetObject", stall_after_bytes=200,
                       stall_ms=20000)
    try:
        # the first bytes sent, the stall begun
        error, took = cancel_during(vcur, "SELECT id, label FROM fdw_e2e.big",
                                    held(result_fetching(emulator, before), 0.3))
        assert isinstance(error, psycopg2.errors.QueryCanceled)
        assert took < 1.0, took
    finally:
        emulator.clear_faults()
        victim.close()


def test_statement_timeout_stops_the_athena_query(setup, db, emulator):
    cur = db.cursor()
    slow_query(emulator, 20000)
    try:
        # long enough for the emulator's engine to have run the query (so
        # it has a cost) on a slow machine too
        cur.execute("SET statement_timeout = '1500ms'")
        start = time.monotonic()
        with pytest.raises(psycopg2.errors.QueryCanceled):
            cur.execute("SELECT count(*) FROM fdw_e2e.big WHERE id > 0")
        # within a second of the timeout
        assert time.monotonic() - start < 1.5 + 1.0
        cur.execute("RESET statement_timeout")
        last = athena_requests(emulator, "GetQueryExecution")[-1]["input"]["QueryExecutionId"]
        assert last in stopped_ids(emulator)
        row = last_logged(cur, "query_id = '%s'" % last)
        assert row[0] == "CANCELLED", row
        assert row[1] == "stopped by audit_fdw: canceling statement due to statement timeout", row
        assert row[4] > 0 and row[2] > 0, row
    finally:
        slow_query(emulator, 0)


def test_backend_exit_stops_the_athena_query(setup, emulator):
    victim = connect()
    vcur = victim.cursor()
    vcur.execute("SELECT pg_backend_pid()")
    pid = vcur.fetchone()[0]
    slow_query(emulator, 20000)
    try:
        def run():
            try:
                vcur.execute("SELECT count(*) FROM fdw_e2e.big WHERE id > 1")
            except psycopg2.Error:
                pass

        since = emulator.mark()
        t = threading.Thread(target=run)
        t.start()
        wait_for("the query waiting for Athena", query_waiting(emulator, since), timeout=60,
                 interval=0.05)
        ctl = connect()
        ctl.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
        ctl.close()
        t.join(10)
        last = athena_requests(emulator, "GetQueryExecution")[-1]["input"]["QueryExecutionId"]
        wait_for("the StopQueryExecution", lambda: last in stopped_ids(emulator), timeout=30)
    finally:
        slow_query(emulator, 0)
        victim.close()


def test_rescan_with_new_values_runs_the_query_again(setup, db, emulator):
    cur = db.cursor()
    since = last_request_time(emulator)
    # the correlated value is sent as a literal: each outer row is a new query
    cur.execute("""SELECT g, (SELECT label FROM fdw_e2e.big b WHERE b.id = g * 10)
                     FROM generate_series(1, 3) g ORDER BY g""")
    assert cur.fetchall() == [(1, "row 10"), (2, "row 20"), (3, "row 30")]
    sent = [r["input"]["QueryString"]
            for r in athena_requests_since(emulator, "StartQueryExecution", since)]
    assert sent == [f'SELECT "label" FROM "{DATABASE}"."big" WHERE ("id" = {n})'
                    for n in (10, 20, 30)]


def test_unreadable_result_object_falls_back_to_getqueryresults(setup, db, emulator):
    cur = db.cursor()
    since = last_request_time(emulator)
    emulator.add_fault(service="s3", operation="GetObject", error="AccessDenied",
                       status=403, count=1)
    try:
        cur.execute("SELECT id, label FROM fdw_e2e.big WHERE id BETWEEN 1000 AND 2200")
        rows = cur.fetchall()
    finally:
        emulator.clear_faults()
    assert sorted(rows) == [(i, f"row {i}") for i in range(1000, 2201)]
    # 1,201 rows and a header: two pages
    assert len(athena_requests_since(emulator, "GetQueryResults", since)) == 2


def test_query_in_parallel_mode_is_logged_to_the_server_log(setup, db):
    cur = db.cursor()
    cur.execute("DROP TABLE IF EXISTS fdw_e2e.local_rows")
    cur.execute("CREATE TABLE fdw_e2e.local_rows AS SELECT g AS n FROM generate_series(1, 20000) g")
    cur.execute("ANALYZE fdw_e2e.local_rows")
    cur.execute("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
                "SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2")
    sql = ("SELECT count(*) FROM fdw_e2e.local_rows "
           "UNION ALL SELECT count(*) FROM fdw_e2e.big WHERE id = 9")
    cur.execute("EXPLAIN (COSTS OFF) " + sql)
    assert "Gather" in "\n".join(r[0] for r in cur.fetchall())
    # a plan with a Gather runs in parallel mode, where no row can be written
    cur.execute(sql)
    assert sorted(r[0] for r in cur.fetchall()) == [1, 20000]
    cur.execute("RESET parallel_setup_cost; RESET parallel_tuple_cost; "
                "RESET min_parallel_table_scan_size; RESET max_parallel_workers_per_gather")
