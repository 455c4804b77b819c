"""Load: 16 pgbench clients query a foreign table over Athena for 45
seconds while a pump pipeline moves a stream of writes into Firehose at
full speed (test/lib/load_run.py).  No error, no memory growth in the
backends or the pump's workers (anonymous memory from /proc, after a
warm-up), nothing lost, every item's records in order.  The numbers go to
test/HARDENING.md; bench/hardening_load runs the same for longer."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))

from load_run import run_load  # noqa: E402

SECONDS = int(os.environ.get("AUDIT_FDW_LOAD_SECONDS", "45"))


def test_fdw_queries_and_pump_under_load(db):
    result = run_load(seconds=SECONDS, clients=16)
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
