"""The pump's soak: at-least-once delivery in per-item order through faults,
shard splits, killed workers and an immediate restart of PostgreSQL.

10,000 updates over 500 items while the emulator throttles 10% of
PutRecordBatch calls, fails 5% of Firehose records one by one, answers 2% of
GetRecords with a 5xx, drops connections, and splits the stream's shards
twice; meanwhile the test kills a reader worker with SIGKILL three times and
restarts PostgreSQL with `pg_ctl restart -m immediate` once.  Then: every
eventID of the stream is in S3, for each item the first occurrences are in
sequence-number order, and the duplicates are counted and printed.
"""
import os
import signal
import subprocess
import threading
import time

import psycopg2

from conftest import connect
from pump_env import PumpEnv, wait_for

ITEMS = 500
UPDATES = 10000
WRITERS = 4


def reconnect():
    return wait_for("PostgreSQL to accept connections", _try_connect, timeout=90, interval=0.5)


def _try_connect():
    try:
        return connect()
    except psycopg2.OperationalError:
        return None


def reader_pids(env):
    try:
        return env.reader_pids()
    except psycopg2.Error:
        env.db = reconnect()
        return []


def stream_truth(emulator, stream_arn):
    """Every record the stream holds: eventID -> (item, sequence number)."""
    streams = emulator.client("dynamodbstreams")
    shards, start = [], None
    while True:
        kw = {"StreamArn": stream_arn}
        if start:
            kw["ExclusiveStartShardId"] = start
        d = streams.describe_stream(**kw)["StreamDescription"]
        shards += d["Shards"]
        start = d.get("LastEvaluatedShardId")
        if not start:
            break
    truth = {}
    for shard in shards:
        it = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            page = streams.get_records(ShardIterator=it, Limit=1000)
            for r in page["Records"]:
                truth[r["eventID"]] = (r["dynamodb"]["Keys"]["orderId"]["S"],
                                       int(r["dynamodb"]["SequenceNumber"]))
            it = page.get("NextShardIterator")
            if not page["Records"]:
                break
    return truth, len(shards)


def test_soak(db, emulator, capsys):
    env = PumpEnv(db, emulator, "soak", create_pipeline=False)
    env.create_pipeline(max_batching_window="200 ms")
    pg_ctl = os.path.join(subprocess.check_output([os.environ["PG_CONFIG"], "--bindir"],
                                                  text=True).strip(), "pg_ctl")
    data_dir = os.path.join(os.environ["AUDIT_FDW_PG_DIR"], "pgdata")
    log = os.path.join(os.environ["AUDIT_FDW_PG_DIR"], "log", "postgres.log")
    started = time.time()

    faults = [
        dict(service="firehose", operation="PutRecordBatch", error="ThrottlingException",
             probability=0.10),
        dict(service="firehose", operation="PutRecordBatch", record_failure_rate=0.05),
        dict(service="dynamodbstreams", operation="GetRecords", error="InternalServerError",
             status=500, probability=0.02),
        dict(service="dynamodbstreams", operation="GetRecords", drop_connection=True,
             probability=0.01),
        # an answer lost after Firehose took the batch: resent, so duplicated
        dict(service="firehose", operation="PutRecordBatch", drop_connection=True,
             when="after", probability=0.01),
    ]
    for f in faults:
        emulator.add_fault(**f)

    done = [0]
    errors = []
    lock = threading.Lock()

    def writer(k):
        try:
            mine = ["o%03d" % i for i in range(ITEMS) if i % WRITERS == k]
            n = 0
            for o in mine:
                env.put(o, "OPEN")
                n += 1
            rounds = UPDATES // ITEMS - 1
            for r in range(rounds):
                for o in mine:
                    env.update_state(o, "S%d" % r, n=r)
                    n += 1
                    if n % 100 == 0:
                        with lock:
                            done[0] += 100
            with lock:
                done[0] += n % 100
        except Exception as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(WRITERS)]
    for t in threads:
        t.start()

    def delivered():
        try:
            return env.delivered()
        except psycopg2.Error:
            env.db = reconnect()
            return 0

    def at(fraction):
        """Waits until the pipeline delivered this fraction of the updates:
        each fault lands on a pump that recovered from the previous one."""
        wait_for("%d%% of the updates delivered" % (fraction * 100),
                 lambda: delivered() >= UPDATES * fraction or errors, timeout=300)

    def kill_a_reader():
        pids = wait_for("a reader worker", lambda: reader_pids(env), timeout=60)
        os.kill(pids[0], signal.SIGKILL)
        # the postmaster restarts every backend after a crash
        time.sleep(1)
        env.db = reconnect()

    at(0.10)
    emulator.split_shard(env.stream_arn)
    at(0.20)
    kill_a_reader()
    at(0.35)
    kill_a_reader()
    at(0.50)
    emulator.split_shard(env.stream_arn)
    at(0.60)
    subprocess.check_call(["runuser", "-u", "postgres", "--", pg_ctl, "-D", data_dir, "-m",
                           "immediate", "-w", "-t", "60", "-l", log, "restart"],
                          stdout=subprocess.DEVNULL)
    env.db = reconnect()
    at(0.75)
    kill_a_reader()
    for t in threads:
        t.join()
    assert not errors, errors
    writes_done = time.time()

    emulator.clear_faults()
    truth, nshards = stream_truth(emulator, env.stream_arn)
    assert len(truth) == UPDATES and nshards >= 4

    # everything reaches S3 (flushing Firehose while waiting)
    seen = {}

    def all_delivered():
        recs = env.audit_records()
        seen["recs"] = recs
        return set(r["event_id"] for r in recs) >= set(truth)
    wait_for("every eventID in S3", all_delivered, timeout=240, interval=3)
    recs = seen["recs"]

    ids = [r["event_id"] for r in recs]
    assert set(ids) == set(truth), "S3 holds records the stream does not"
    first = {}
    for r in recs:
        first.setdefault(r["event_id"], r)
        assert truth[r["event_id"]] == (r["keys"]["orderId"], int(r["sequence_number"]))
    per_item = {}
    for eid in dict.fromkeys(ids):           # first occurrences, in delivery order
        item, seq = truth[eid]
        per_item.setdefault(item, []).append(seq)
    out_of_order = [i for i, seqs in per_item.items() if seqs != sorted(seqs)]
    assert not out_of_order, "first occurrences out of sequence order for %r" % out_of_order[:5]
    assert len(per_item) == ITEMS

    duplicates = len(ids) - len(set(ids))
    status = env.status()
    with capsys.disabled():         # into the suite's log, passed or not
        print("\npump soak: %d updates over %d items, %d shards, %d records in S3, %d duplicates, "
              "%d resent entries, writes %.0fs, drained %.0fs after" % (
                  UPDATES, ITEMS, nshards, len(ids), duplicates,
                  sum(r["records_retried"] or 0 for r in status), writes_done - started,
                  time.time() - writes_done))
    env.drop()
