"""The result object read over several connections at once (ranged GETs,
src/aws/s3.c): the rows are those of one plain GET, in the same order, with
parts cut anywhere (inside quoted fields, line breaks and multi-byte
characters); each byte is asked for once, later parts name the first part's
ETag; a part that fails is retried, one whose body breaks off is resumed
where it broke, and one that fails for good is reported with S3's error
code and request id."""
import math
import uuid

import psycopg2
import pytest

from athena_tables import (athena_server, ensure_buckets, ensure_database, put_json_lines,
                           replace_json_table)
from conftest import connect

SERVER = "fdw_ranged"
BUCKET = "fdw-ranged-data"
RESULTS = "fdw-ranged-results"
DATABASE = "fdw_ranged"
RUN = uuid.uuid4().hex[:8]
ROWS = 3000
PART = 8192
SELECT = "SELECT id, label FROM fdw_ranged.t ORDER BY id"


def label(i):
    # quotes, commas, line breaks and 2-, 3- and 4-byte characters, so that
    # parts of 8 KiB end inside each of them somewhere
    return f"row {i}, \"q\"\n{'é' * (i % 5)}{'日' * (i % 3)}{'𝄞' * (i % 2)} " + "x" * (i % 37)


EXPECTED = [(i, label(i)) for i in range(ROWS)]


@pytest.fixture(scope="module")
def setup(emulator):
    emulator.clear_faults()
    emulator.configure(athena_min_query_ms=0, s3_connection_bytes_per_second=0)
    s3 = emulator.client("s3")
    glue = emulator.client("glue")
    ensure_buckets(s3, BUCKET, RESULTS)
    ensure_database(glue, DATABASE)
    replace_json_table(glue, DATABASE, "t", [("id", "int"), ("label", "string")],
                       f"s3://{BUCKET}/{RUN}/t/")
    put_json_lines(s3, BUCKET, f"{RUN}/t/part-0.json",
                   [{"id": i, "label": s} for i, s in EXPECTED])
    conn = connect()
    cur = conn.cursor()
    athena_server(cur, SERVER, emulator.url, DATABASE, RESULTS)
    cur.execute("DROP SCHEMA IF EXISTS fdw_ranged CASCADE")
    cur.execute("CREATE SCHEMA fdw_ranged")
    cur.execute(f"""CREATE FOREIGN TABLE fdw_ranged.t (id integer, label text)
        SERVER {SERVER} OPTIONS ("table" 't')""")
    yield s3
    emulator.clear_faults()
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute("DROP SCHEMA IF EXISTS fdw_ranged CASCADE")
    conn.close()


def session(connections, part=PART):
    conn = connect()
    cur = conn.cursor()
    cur.execute(f"SET audit_fdw.fetch_connections = {connections}")
    cur.execute(f"SET audit_fdw.fetch_part_size = '{part // 1024}kB'")
    return conn, cur


def get_objects_since(emulator, seq):
    return [r for r in emulator.requests(service="s3", operation="GetObject")
            if r["seq"] > seq]


def last_seq(emulator):
    reqs = emulator.requests()
    return reqs[-1]["seq"] if reqs else 0


def result_size(s3, cur):
    cur.execute("""SELECT query_id FROM audit_fdw.query_log
                    WHERE foreign_table = 'fdw_ranged.t' OR foreign_table = 't'
                    ORDER BY logged_at DESC LIMIT 1""")
    query_id = cur.fetchone()[0]
    return s3.head_object(Bucket=RESULTS, Key=f"q/{query_id}.csv")["ContentLength"]


def read_all_with_fault(emulator, cur, **fault):
    """Every row read while GetObject has the fault; the GetObject requests."""
    seq = last_seq(emulator)
    emulator.add_fault(service="s3", operation="GetObject", **fault)
    try:
        cur.execute(SELECT)
        assert cur.fetchall() == EXPECTED
    finally:
        emulator.clear_faults()
    return get_objects_since(emulator, seq)


def ranges(reqs):
    out = []
    for r in reqs:
        first, last = r["input"]["Range"][len("bytes="):].split("-")
        out.append((int(first), int(last)))
    return out


def test_rows_are_those_of_one_stream_in_order(setup, emulator):
    conn, cur = session(4)
    seq = last_seq(emulator)
    cur.execute(SELECT)
    assert cur.fetchall() == EXPECTED
    reqs = get_objects_since(emulator, seq)
    size = result_size(setup, cur)
    assert size > 15 * PART
    # every byte asked for once, in parts of PART bytes; the first part
    # alone first (the emulator logs a request as it answers, so the parts
    # asked for at once may be logged in any order)
    parts = [(f, min(f + PART, size) - 1) for f in range(0, size, PART)]
    assert ranges(reqs[:1]) == parts[:1]
    assert sorted(ranges(reqs)) == parts
    assert len(reqs) == math.ceil(size / PART)
    assert all(r["status"] == 206 for r in reqs)
    # the first part tells the ETag that every later part must match
    assert "IfMatch" not in reqs[0]["input"]
    etags = {r["input"].get("IfMatch") for r in reqs[1:]}
    assert len(etags) == 1 and None not in etags
    conn.close()

    conn, cur = session(1)
    seq = last_seq(emulator)
    cur.execute(SELECT)
    assert cur.fetchall() == EXPECTED
    reqs = get_objects_since(emulator, seq)
    assert len(reqs) == 1 and "Range" not in reqs[0]["input"]
    conn.close()


def test_parts_larger_than_the_object_are_one_request(setup, emulator):
    conn, cur = session(4, part=64 * 1024 * 1024)
    seq = last_seq(emulator)
    cur.execute(SELECT)
    assert cur.fetchall() == EXPECTED
    reqs = get_objects_since(emulator, seq)
    assert len(reqs) == 1
    assert reqs[0]["input"]["Range"] == f"bytes=0-{64 * 1024 * 1024 - 1}"
    conn.close()


def test_a_failed_part_is_retried(setup, emulator):
    conn, cur = session(4)
    reqs = read_all_with_fault(emulator, cur, error="InternalError", status=500, skip=3,
                               count=1)
    # the fourth request failed (before it was read, so its range is not
    # logged; requests in flight at once are logged as they are answered,
    # so not necessarily fourth); every part was then read once, each byte
    # asked for once
    assert [r["status"] for r in reqs].count(500) == 1
    assert reqs[0]["status"] == 206
    ok = [r for r in reqs if r["status"] == 206]
    size = result_size(setup, cur)
    assert sorted(ranges(ok)) == [(f, min(f + PART, size) - 1) for f in range(0, size, PART)]
    conn.close()


def test_a_broken_part_is_resumed_where_it_broke(setup, emulator):
    conn, cur = session(4)
    reqs = read_all_with_fault(emulator, cur, truncate_body=1000, skip=5, count=1)
    broken = [r for r in reqs if r["status"] == 0]
    assert len(broken) == 1
    first, last = ranges(broken)[0]
    # the rest of that part, of the same object, from where it broke: at
    # most the 1,000 bytes sent (a reset may drop some the client had not
    # read yet)
    resumed = [r for r in reqs if r["seq"] > broken[0]["seq"]
               and r["input"]["Range"].endswith(f"-{last}")
               and first <= ranges([r])[0][0] <= first + 1000]
    assert len(resumed) == 1 and resumed[0]["status"] == 206, resumed
    assert resumed[0]["input"]["IfMatch"] == reqs[1]["input"]["IfMatch"]
    conn.close()


def test_a_part_that_fails_for_good_is_reported_with_the_aws_error(setup, emulator):
    conn, cur = session(4)
    emulator.add_fault(service="s3", operation="GetObject", error="AccessDenied",
                       message="Access Denied", status=403, skip=2)
    try:
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute(SELECT)
    finally:
        emulator.clear_faults()
    e = exc.value
    assert e.pgcode == "42501"     # insufficient_privilege, as S3's AccessDenied
    assert e.diag.message_primary == "aws s3 GetObject failed: AccessDenied"
    assert "HTTP status 403" in e.diag.message_detail
    rid = e.diag.message_detail.split("request id ")[1].rstrip(".")
    assert len(rid) >= 8 and rid != "(none)"
    # the session goes on
    cur.execute("SELECT count(*) FROM fdw_ranged.t")
    assert cur.fetchone() == (ROWS,)
    conn.close()
