"""The pump's chaos test of record (test/soak/run; long, so not in test/run).

50,000 changes over 1,000 items (CHAOS_CHANGES, CHAOS_ITEMS) on a stream of
4 shards, pumped by a primary with a streaming standby (pg_basebackup), while
the emulator keeps DynamoDB Streams' limit of 5 GetRecords per second per
shard, throttles 5% of PutRecordBatch calls, fails 2% of Firehose records one
by one and answers 1% of GetRecords with a 500; and at set points of the
delivery: the launcher killed, a reader killed, the configuration reloaded,
the credentials rotated (to STS session credentials and back), a shard split,
a Firehose outage of 5 s, the primary stopped with -m immediate and the
standby promoted, the new primary's launcher killed with a pause and resume.

Reports: lost changes (must be 0), duplicates in S3 (and the resent records
the pump counted after each fault), the time from each fault until delivery
moved on, and the per-item order of first copies.
"""
import collections
import os
import sys
import threading
import time

import psycopg2.sql as sql

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from emulator_control import Emulator  # noqa: E402
from pump_env import PumpEnv, wait_for  # noqa: E402
from test_pump_failover import nodes, setup_pair  # noqa: E402,F401 (nodes: a fixture)
from test_pump_soak import stream_truth  # noqa: E402

CHANGES = int(os.environ.get("CHAOS_CHANGES", "50000"))
ITEMS = int(os.environ.get("CHAOS_ITEMS", "1000"))
WRITERS = 8


def test_chaos(nodes, capsys):
    primary, standby = nodes
    emulator = Emulator()
    emulator.configure(stream_initial_shards=4, getrecords_per_shard_per_second=5)
    setup_pair(primary, standby)
    env = PumpEnv(primary.connect(), emulator, "chaos", max_batching_window="500 ms")
    emulator.configure(stream_initial_shards=1)
    node = [primary]

    for f in [dict(service="firehose", operation="PutRecordBatch", error="ThrottlingException",
                   probability=0.05),
              dict(service="firehose", operation="PutRecordBatch", record_failure_rate=0.02),
              dict(service="dynamodbstreams", operation="GetRecords", error="InternalServerError",
                   status=500, probability=0.01)]:
        emulator.add_fault(**f)

    # ---- the writers: 1,000 items, CHANGES changes in all ----
    done = [0]
    errors = []
    lock = threading.Lock()

    def writer(k):
        try:
            mine = ["c%04d" % i for i in range(ITEMS) if i % WRITERS == k]
            for o in mine:
                env.put(o, "OPEN")
            for r in range(CHANGES // ITEMS - 1):
                for o in mine:
                    env.update_state(o, "S%d" % r, n=r)
            with lock:
                done[0] += 1
        except Exception as e:      # reported by the main thread
            errors.append(e)

    started = time.time()
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(WRITERS)]
    for t in threads:
        t.start()

    def delivered():
        try:
            return env.delivered()
        except Exception:
            return 0

    def sql_on(stmt, *args):
        conn = node[0].connect()
        conn.cursor().execute(stmt, args)
        conn.close()

    def launcher():
        conn = node[0].connect("postgres")
        cur = conn.cursor()
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE backend_type = 'audit_fdw pump launcher'")
        conn.close()

    def reader():
        pids = wait_for("a reader", lambda: env.reader_pids(), timeout=60)
        sql_on("SELECT pg_terminate_backend(%s)", pids[0])

    def reload():
        sql_on("ALTER SYSTEM SET audit_fdw.pump_idle_max = '900ms'")
        sql_on("SELECT pg_reload_conf()")

    def set_mapping(opts):
        conn = node[0].connect()
        conn.cursor().execute(sql.SQL("ALTER USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS ({})")
                              .format(sql.Identifier(env.server),
                                      sql.SQL(", ").join(
                                          sql.SQL("{} {}").format(sql.SQL(op), sql.Identifier(k))
                                          if v is None else
                                          sql.SQL("{} {} {}").format(
                                              sql.SQL(op), sql.Identifier(k), sql.Literal(v))
                                          for op, k, v in opts)))
        conn.close()

    def rotate():
        creds = emulator.client("sts").get_session_token()["Credentials"]
        set_mapping([("SET", "access_key_id", creds["AccessKeyId"]),
                     ("SET", "secret_access_key", creds["SecretAccessKey"]),
                     ("ADD", "session_token", creds["SessionToken"])])
        time.sleep(3)
        set_mapping([("SET", "access_key_id", "test"), ("SET", "secret_access_key", "test"),
                     ("DROP", "session_token", None)])

    def split():
        emulator.split_shard(env.stream_arn)

    def outage():
        emulator.add_fault(service="firehose", operation="PutRecordBatch",
                           error="ServiceUnavailableException", status=503)
        time.sleep(5)
        # the emulator clears faults all at once: the steady ones go back
        emulator.clear_faults()
        emulator.add_fault(service="firehose", operation="PutRecordBatch",
                           error="ThrottlingException", probability=0.05)
        emulator.add_fault(service="firehose", operation="PutRecordBatch",
                           record_failure_rate=0.02)
        emulator.add_fault(service="dynamodbstreams", operation="GetRecords",
                           error="InternalServerError", status=500, probability=0.01)

    def failover():
        primary.ctl("-m", "immediate", "stop")
        standby.ctl("promote")
        node[0] = standby
        env.db = standby.connect()

    def launcher_and_flip():
        launcher()
        sql_on("SELECT audit_fdw.pause_pipeline(%s)", env.name)
        sql_on("SELECT audit_fdw.resume_pipeline(%s)", env.name)

    plan = [(0.08, "launcher killed", launcher), (0.16, "reader killed", reader),
            (0.24, "configuration reloaded", reload), (0.32, "credentials rotated", rotate),
            (0.40, "shard split", split), (0.50, "Firehose outage 5 s", outage),
            (0.62, "failover", failover), (0.74, "launcher killed, pause+resume",
                                            launcher_and_flip)]
    report = []
    for fraction, name, fault in plan:
        wait_for("%d%% delivered" % (fraction * 100),
                 lambda: delivered() >= CHANGES * fraction or errors, timeout=900, interval=0.5)
        resent_before = sum(r["records_resent"] or 0 for r in env.status())
        at = delivered()
        t0 = time.time()
        fault()
        t1 = time.time()
        # recovered: delivery moves on by 100 records after the fault ended
        # (or everything written was delivered: the writers may be done)
        wait_for("delivery after %s (%d delivered then)" % (name, at),
                 lambda: delivered() >= min(at + 100, CHANGES) or errors,
                 timeout=600, interval=0.2)
        t2 = time.time()
        report.append((name, t1 - t0, t2 - t1, resent_before))
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    writes_done = time.time()

    emulator.clear_faults()
    emulator.configure(getrecords_per_shard_per_second=0)
    truth, nshards = stream_truth(emulator, env.stream_arn)
    assert len(truth) == CHANGES, len(truth)
    seen = {}

    def all_delivered():
        recs = env.audit_records()
        seen["recs"] = recs
        return {r["event_id"] for r in recs} >= set(truth)
    try:
        wait_for("every change in S3", all_delivered, timeout=900, interval=5)
    finally:
        recs = seen.get("recs", [])
        counts = collections.Counter(r["event_id"] for r in recs)
        lost = len(set(truth) - set(counts))
        duplicates = sum(n - 1 for n in counts.values())
        status = env.status()
        resent_total = sum(r["records_resent"] or 0 for r in status)
        with capsys.disabled():
            print("\npump chaos: %d changes over %d items, %d shards; lost %d; %d duplicates in "
                  "S3 (%d counted by the pump as resent); writes %.0f s, all in S3 %.0f s after"
                  % (CHANGES, ITEMS, nshards, lost, duplicates, resent_total,
                     writes_done - started, time.time() - writes_done))
            for i, (name, took, recovered, resent_before) in enumerate(report):
                resent_after = report[i + 1][3] if i + 1 < len(report) else resent_total
                print("  %-32s fault %.1f s, delivery moved on %.1f s later, resent %d"
                      % (name, took, recovered, resent_after - resent_before))
            print("  health at the end: %s; GetRecords throttled: %d" % (
                collections.Counter(r["health"] for r in status),
                sum(r["get_records_throttled"] or 0 for r in status)))
    assert lost == 0
    first = collections.defaultdict(list)
    for eid in dict.fromkeys(r["event_id"] for r in recs):
        first[truth[eid][0]].append(truth[eid][1])
    assert all(s == sorted(s) for s in first.values()), "first copies out of order"
