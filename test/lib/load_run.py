"""Concurrent load on audit_fdw: pgbench clients querying a foreign table
over Athena while a pump pipeline moves a stream of writes into Firehose at
full speed, against the emulator, for a bounded time.

run_load(seconds, clients, during=...) returns a dict of what it measured:
- pgbench: transactions, tps, failed/aborted, the latency average;
- the memory of every pgbench backend and every pump worker (RssAnon from
  /proc, anonymous memory only: shared buffers are not the process's),
  sampled after a warm-up and at the end, and the largest growth;
- the pump: records written to DynamoDB, distinct event ids found in S3
  (nothing lost means equal), duplicates, items out of order.

Used by test/e2e/test_load.py (a short run in the test command) and by
bench/hardening_load (longer).  Needs the test command's environment
(PGHOST, PGPORT, PG_CONFIG, AUDIT_FDW_EMULATOR_URL, AUDIT_FDW_RUN_DIR).
"""
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import psycopg2  # noqa: E402
from athena_tables import ensure_buckets, ensure_database, put_json_lines, replace_json_table  # noqa: E402

from emulator_control import Emulator  # noqa: E402

SERVER = "load_server"
BUCKET = "load-data"
RESULTS = "load-results"
DATABASE = "load_db"
NROWS = 500


def _connect():
    conn = psycopg2.connect(dbname=os.environ.get("PGDATABASE", "audit"))
    conn.autocommit = True
    return conn


def rss_anon_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _setup_fdw(emu, cur):
    s3 = emu.client("s3")
    glue = emu.client("glue")
    ensure_buckets(s3, BUCKET, RESULTS)
    ensure_database(glue, DATABASE)
    replace_json_table(glue, DATABASE, "rows", [("id", "int"), ("label", "string")],
                       f"s3://{BUCKET}/rows/")
    put_json_lines(s3, BUCKET, "rows/part-0.json",
                   [{"id": i, "label": "row %d" % i} for i in range(1, NROWS + 1)])
    cur.execute("CREATE EXTENSION IF NOT EXISTS audit_fdw")
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute(f"""CREATE SERVER {SERVER} FOREIGN DATA WRAPPER audit_fdw OPTIONS (
        region 'us-east-1', endpoint '{emu.url}', database '{DATABASE}',
        output_location 's3://{RESULTS}/q/', poll_initial_ms '5', poll_max_ms '50')""")
    cur.execute(f"""CREATE USER MAPPING FOR CURRENT_USER SERVER {SERVER}
        OPTIONS (access_key_id 'test', secret_access_key 'test')""")
    cur.execute("DROP SCHEMA IF EXISTS load CASCADE")
    cur.execute("CREATE SCHEMA load")
    cur.execute(f"""CREATE FOREIGN TABLE load.rows (id integer, label text)
        SERVER {SERVER} OPTIONS ("table" 'rows')""")


def _pgbench(clients, seconds, script, log):
    bindir = subprocess.check_output([os.environ.get("PG_CONFIG", "pg_config"), "--bindir"],
                                     text=True).strip()
    cmd = [os.path.join(bindir, "pgbench"), "-n", "-c", str(clients), "-j", "2",
           "-T", str(seconds), "-f", script, "-P", "10", "-r",
           os.environ.get("PGDATABASE", "audit")]
    with open(log, "w") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PGAPPNAME="load_pgbench"))


def _parse_pgbench(text):
    def num(pattern, cast=float, default=None):
        m = re.search(pattern, text)
        return cast(m.group(1)) if m else default
    return {
        "transactions": num(r"number of transactions actually processed: (\d+)", int, 0),
        "failed": num(r"number of failed transactions: (\d+)", int, 0),
        "tps": num(r"tps = ([\d.]+)", float, 0.0),
        "latency_ms": num(r"latency average = ([\d.]+) ms", float, None),
        "aborted": len(re.findall(r"aborted in command|client \d+ aborted", text)),
    }


def run_load(seconds=60, clients=16, writers=2, log_dir=None, during=None):
    """during(env), when given, is called once the load is warm, in a thread
    of its own while the load runs and is sampled; what it returns is in the
    result as "during"."""
    emu = Emulator()
    log_dir = log_dir or os.path.join(os.environ.get("AUDIT_FDW_RUN_DIR", "/tmp"), "load")
    os.makedirs(log_dir, exist_ok=True)
    conn = _connect()
    cur = conn.cursor()
    _setup_fdw(emu, cur)

    # the pump: a table with a stream, a delivery stream, a pipeline
    from pump_env import PumpEnv
    env = PumpEnv(conn, emu, "load", max_batching_window="200 ms")
    written = []
    stop = threading.Event()
    write_errors = []

    def writer(n):
        ddb = emu.client("dynamodb")
        i = 0
        while not stop.is_set():
            key = "w%d-%d" % (n, i % 200)
            try:
                ddb.put_item(TableName=env.table, Item={
                    "orderId": {"S": key}, "state": {"S": "S%d" % i},
                    "seq": {"N": str(i)}})
                written.append(key)
            except Exception as e:       # noqa: BLE001 - counted, then reported
                write_errors.append(repr(e))
            i += 1

    script = os.path.join(log_dir, "fdw.sql")
    with open(script, "w") as f:
        f.write("\\set id random(1, %d)\n" % NROWS)
        f.write("SELECT label FROM load.rows WHERE id = :id;\n")
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    started = time.time()
    for t in threads:
        t.start()
    bench = _pgbench(clients, seconds, script, os.path.join(log_dir, "pgbench.log"))

    def pids(kind):
        if kind == "backends":
            cur.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'load_pgbench'")
        else:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'audit_fdw pump'")
        return [r[0] for r in cur.fetchall()]

    # warm-up: connections made, caches and pools filled
    time.sleep(min(10, seconds / 4))
    first = {}
    for kind in ("backends", "workers"):
        for pid in pids(kind):
            first[pid] = (kind, rss_anon_kib(pid))
    # during() runs beside the sampling, which must go on while it does (a
    # probe can take as long as the load)
    during_out = {}

    def run_during():
        try:
            during_out["result"] = during(env)
        except BaseException as e:      # re-raised below, in the caller's thread
            during_out["error"] = e
    prober = threading.Thread(target=run_during) if during is not None else None
    if prober is not None:
        prober.start()
    samples = []
    while bench.poll() is None:
        # first at once: a reader the probe ends has a sample from before
        now = {}
        for kind in ("backends", "workers"):
            for pid in pids(kind):
                now[pid] = rss_anon_kib(pid)
        samples.append(now)
        time.sleep(2)
    if prober is not None:
        prober.join()
    during_result = during_out.get("result")
    # each process's last sample but the very last (taken as the load ends),
    # or, for a reader the probe ended, its last before that
    last = {}
    for now in samples[:-1] if len(samples) >= 2 else samples:
        last.update((pid, kib) for pid, kib in now.items() if kib is not None)
    stop.set()
    for t in threads:
        t.join()
    # (after the writers stopped: they would keep the process alive)
    if "error" in during_out:
        raise during_out["error"]
    wrote_at = time.time()

    growth = {"backends": [], "workers": []}
    for pid, (kind, kib) in first.items():
        if kib is not None and last.get(pid) is not None:
            growth[kind].append(last[pid] - kib)

    # nothing lost: every write reaches S3
    ddb_events = len(written)
    env.wait_delivered(ddb_events, timeout=120)
    recs = env.audit_records()
    ids = [r["event_id"] for r in recs]
    out_of_order = 0
    by_item = {}
    for r in recs:
        by_item.setdefault(r["keys"]["orderId"], []).append(r)
    for rs in by_item.values():
        seen, firsts = set(), []
        for r in rs:
            if r["event_id"] not in seen:
                seen.add(r["event_id"])
                firsts.append(int(r["sequence_number"]))
        out_of_order += sum(1 for a, b in zip(firsts, firsts[1:]) if b < a)
    status = env.status()
    env.drop()
    with open(os.path.join(log_dir, "pgbench.log")) as f:
        pgb = _parse_pgbench(f.read())
    conn.close()
    return {
        "seconds": seconds, "clients": clients,
        "pgbench": pgb, "pgbench_exit": bench.returncode,
        "backends": len(growth["backends"]), "workers": len(growth["workers"]),
        "backend_growth_kib_max": max(growth["backends"], default=0),
        "worker_growth_kib_max": max(growth["workers"], default=0),
        "backend_rss_anon_kib_first": sorted(k for _, (kind, k) in first.items()
                                              if kind == "backends" and k)[:1],
        "written": ddb_events, "write_errors": len(write_errors),
        "delivered_distinct": len(set(ids)), "duplicates": len(ids) - len(set(ids)),
        "out_of_order": out_of_order,
        "pump_records_per_s": round(ddb_events / max(wrote_at - started, 1), 1),
        "pump_errors": [r.get("last_error") for r in status if r.get("last_error")],
        "during": during_result,
    }


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--clients", type=int, default=16)
    args = ap.parse_args()
    print(json.dumps(run_load(args.seconds, args.clients), indent=1))
