"""What waiting for an Athena query costs (src/fdw/scan.c, POLL_FRACTION):
with the server's default poll options, GetQueryExecution polls are at
least poll_initial_ms (10 ms) and a fiftieth of the run time so far apart,
so a 1 s query is polled about 85 times, not more; what the polls make a
short query wait is measured by bench/fdw_fetch_bench
(fdw_latency_overhead), not here."""
import math
import uuid

import pytest

from athena_tables import (athena_server, ensure_buckets, ensure_database, put_json_lines,
                           replace_json_table)
from conftest import connect

SERVER = "fdw_poll"
BUCKET = "fdw-poll-data"
RESULTS = "fdw-poll-results"
DATABASE = "fdw_poll"
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def cur(emulator):
    emulator.clear_faults()
    s3 = emulator.client("s3")
    glue = emulator.client("glue")
    ensure_buckets(s3, BUCKET, RESULTS)
    ensure_database(glue, DATABASE)
    replace_json_table(glue, DATABASE, "tiny", [("id", "bigint")], f"s3://{BUCKET}/{RUN}/")
    put_json_lines(s3, BUCKET, f"{RUN}/p.json", [{"id": i} for i in range(10)])
    conn = connect()
    c = conn.cursor()
    # the default poll options
    athena_server(c, SERVER, emulator.url, DATABASE, RESULTS, fast=False)
    c.execute("DROP FOREIGN TABLE IF EXISTS fdw_poll_tiny")
    c.execute(f"""CREATE FOREIGN TABLE fdw_poll_tiny (id bigint)
        SERVER {SERVER} OPTIONS ("table" 'tiny')""")
    yield c
    emulator.configure(athena_min_query_ms=0)
    c.execute(f"DROP SERVER {SERVER} CASCADE")
    conn.close()


def test_polls_of_a_one_second_query(cur, emulator):
    seq = emulator.mark()
    emulator.configure(athena_min_query_ms=1000)
    try:
        cur.execute("SELECT count(*) FROM fdw_poll_tiny WHERE id >= 0")
        assert cur.fetchone() == (10,)
    finally:
        emulator.configure(athena_min_query_ms=0)
    reqs = emulator.requests(service="athena", since=seq)
    start = [r["time"] for r in reqs if r["operation"] == "StartQueryExecution"]
    polls = [r["time"] for r in reqs if r["operation"] == "GetQueryExecution"]
    assert len(start) == 1
    # 50 polls 10 ms apart in the first 0.5 s, 50 * ln(T / 0.5) after: 35
    # for a 1 s query (T is longer if a slow machine's engine took longer
    # than the modelled second), and a few for the jitter
    took = polls[-1] - start[0]
    most = 50 + 50 * math.log(max(took, 0.5) / 0.5) + 8
    assert 2 <= len(polls) <= most, (len(polls), took)
    # spaced as the schedule says: each is sent at least 10 ms after the
    # last was sent.  The emulator sees them with some jitter (on a loaded
    # machine one request's arrival may be late by tens of ms, which
    # shortens the gap after it), so spans of ten polls are checked: 100 ms
    # at least, less two jitters; polls sent without a wait take 1 to 3 ms
    spans = [(b - a) * 1000 for a, b in zip(polls, polls[10:])]
    assert all(span >= 50 for span in spans), spans
    late = [(b - a) * 1000 for a, b in zip(polls, polls[1:]) if a - start[0] >= 0.6]
    assert late and sum(late) / len(late) >= 0.6 * 600 / 50, late
    # the query was over when the last poll came
    assert polls[-1] - start[0] >= 1.0
