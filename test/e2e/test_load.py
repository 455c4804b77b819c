"""Load: 16 pgbench clients query a foreign table over Athena for 45
seconds while a pump pipeline moves a stream of writes into Firehose at
full speed (test/lib/load_run.py).  No error, no memory growth in the
backends or the pump's workers (anonymous memory from /proc, after a
warm-up), nothing lost, every item's records in order.  The numbers go to
test/HARDENING.md; bench/hardening_load runs the same for longer.

Cancel holds under that load too: while the machine is busy, a query
waiting for Athena and one whose result stalls return within a second of
pg_cancel_backend (with StopQueryExecution sent for the first), and a pump
reader waiting out Firehose's throttling ends within a second of
pg_terminate_backend."""
import json
import os
import sys
import time

import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))

from athena_tables import polled_query, query_waiting, result_fetching  # noqa: E402
from conftest import cancel_during, connect, held  # noqa: E402
from load_run import run_load  # noqa: E402
from pump_env import wait_for  # noqa: E402

SECONDS = int(os.environ.get("AUDIT_FDW_LOAD_SECONDS", "45"))


def cancel_probes(emu):
    """The waits cancelled under load: the seconds each took to return."""
    def probes(env):
        took = {}
        victim = connect()
        vcur = victim.cursor()
        try:
            # waiting for Athena (polling); every query is slow for a moment
            emu.configure(athena_min_query_ms=20000)
            since = emu.mark()
            try:
                # (pgbench's queries are by id = n; theirs fill the
                # emulator's slots, so this one is likely to wait QUEUED)
                error, took["athena_wait"] = cancel_during(
                    vcur, "SELECT count(*) FROM load.rows WHERE id > 0",
                    query_waiting(emu, since, '("id" > 0)', scanned=False))
            finally:
                emu.configure(athena_min_query_ms=0)
            assert isinstance(error, psycopg2.errors.QueryCanceled), error
            # its StopQueryExecution (logged once answered: perhaps after the
            # cancel returned, if the answer came after audit_fdw's deadline)
            qid = polled_query(emu, since, '("id" > 0)')()["QueryExecutionId"]

            def stopped():
                return any((r.get("input") or {}).get("QueryExecutionId") == qid
                           for r in emu.requests(service="athena",
                                                 operation="StopQueryExecution", since=since))
            deadline = time.monotonic() + 10
            while not stopped() and time.monotonic() < deadline:
                time.sleep(0.1)
            took["athena_stop_sent"] = stopped()

            # fetching: the result object stalls after its first bytes
            emu.add_fault(service="s3", operation="GetObject", stall_after_bytes=20,
                          stall_ms=3000)
            try:
                error, took["result_stall"] = cancel_during(
                    vcur, "SELECT label FROM load.rows WHERE id < 400",
                    held(result_fetching(emu, emu.mark(), '("id" < 400)'), 0.2))
            finally:
                emu.clear_faults()
            assert isinstance(error, psycopg2.errors.QueryCanceled), error

            # the pump: a reader in Firehose's throttling backoff
            since = emu.mark()
            emu.add_fault(service="firehose", operation="PutRecordBatch",
                          error="ServiceUnavailableException", status=503)
            try:
                wait_for("a PutRecordBatch refused", lambda: [
                    r for r in emu.requests(service="firehose", operation="PutRecordBatch",
                                            since=since) if r.get("error")], timeout=60)
                time.sleep(0.5)
                pid = env.reader_pids()[0]
                ctl = connect()
                ctl.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
                start = time.monotonic()
                wait_for("the reader to end", lambda: not os.path.exists("/proc/%d" % pid),
                         timeout=10, interval=0.02)
                took["pump_backoff"] = time.monotonic() - start
                ctl.close()
            finally:
                emu.clear_faults()
        finally:
            victim.close()
        return took
    return probes


def test_fdw_queries_and_pump_under_load(db, emulator):
    result = run_load(seconds=SECONDS, clients=16, during=cancel_probes(emulator))
    root = os.environ.get("AUDIT_FDW_RUN_DIR")
    if root:
        os.makedirs(os.path.join(root, "hardening"), exist_ok=True)
        with open(os.path.join(root, "hardening", "load.json"), "w") as f:
            json.dump(result, f, indent=1)
    pgb = result["pgbench"]
    assert result["pgbench_exit"] == 0, result
    assert pgb["transactions"] > 16 * SECONDS / 10, result      # it really ran
    assert pgb["failed"] == 0 and pgb["aborted"] == 0, result
    assert result["backends"] >= 16 and result["workers"] >= 1, result
    # no growth: a few pages of allocator noise at most
    assert result["backend_growth_kib_max"] < 4096, result
    assert result["worker_growth_kib_max"] < 8192, result
    # nothing lost, nothing out of order
    assert result["write_errors"] == 0, result
    assert result["written"] > 0 and result["delivered_distinct"] == result["written"], result
    assert result["out_of_order"] == 0, result
    # every cancel returned within a second, the machine busy
    took = result["during"]
    assert took["athena_stop_sent"], result
    for wait in ("athena_wait", "result_stall", "pump_backoff"):
        assert took[wait] < 1.0, result
