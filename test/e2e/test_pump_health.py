"""Failures are states: pipeline_status.health, the lag of records Firehose
did not acknowledge, one WARNING per change of health with the AWS error
code, recovery clearing the error, counters per kind, pump_metrics; a
pipeline of a database the pump does not run; GetRecords within DynamoDB
Streams' limit of 5 calls per second per shard; a reader's and the
supervisor's memory flat over their passes.
"""
import base64
import json
import os
import signal
import time
import uuid


from conftest import connect
from pump_env import PumpEnv, pump, pg_log_since, pg_log_size, process_memory, system_settings, wait_for  # noqa: F401 (pump: a fixture)


def metrics(db, name):
    with db.cursor() as cur:
        cur.execute("SELECT metric, labels, value FROM audit_fdw.pump_metrics "
                    "WHERE labels->>'pipeline' = %s", (name,))
        return cur.fetchall()


def test_a_missing_delivery_stream_is_failing_until_it_is_back(pump, db, emulator):
    env = pump("health")
    env.put("h0", "OPEN")
    env.wait_delivered(1)
    assert env.status()[0]["health"] == "ok"

    config = env.firehose.describe_delivery_stream(
        DeliveryStreamName=env.delivery_stream)["DeliveryStreamDescription"]
    env.firehose.delete_delivery_stream(DeliveryStreamName=env.delivery_stream)
    offset = pg_log_size()
    for i in range(1, 6):
        env.put("h%d" % i, "OPEN")
    row = wait_for("failing", lambda: [r for r in env.status() if r["health"] == "failing"],
                   timeout=30)[0]
    assert "ResourceNotFoundException" in row["last_error"]
    assert row["health_since"] is not None
    lag1 = row["lag_seconds"]
    assert lag1 is not None
    # the lag grows while Firehose does not acknowledge (record times come
    # from the emulator's clock, which earlier tests may have moved ahead:
    # then the lag stays at 0), and the failed attempts are counted
    clock_ahead = emulator._call("GET", "clock")["offset"] > 0

    def failed_again():
        row = env.status()[0]
        lag_ok = row["lag_seconds"] == 0 if clock_ahead else row["lag_seconds"] >= lag1 + 3
        return (lag_ok and row["failures"] >= 2 and (row["errors_by_code"] or {}).get(
            "PutRecordBatch ResourceNotFoundException", 0) >= 2 and row)
    row = wait_for("the lag grown by 3 s and two failures", failed_again, timeout=30)
    assert row["health"] == "failing", row
    log = pg_log_since(offset)
    # one WARNING for the change of health, not one per retry
    assert log.count("is failing: ResourceNotFoundException") == 1, log

    dest = config["Destinations"][0]["ExtendedS3DestinationDescription"]
    env.firehose.create_delivery_stream(
        DeliveryStreamName=env.delivery_stream, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": dest["RoleARN"], "BucketARN": dest["BucketARN"], "Prefix": "orders/",
            "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": 900}})
    env.wait_delivered(6, timeout=60)
    row = wait_for("ok", lambda: [r for r in env.status() if r["health"] == "ok"], timeout=30)[0]
    assert row["last_error"] is None and row["health_since"] is None
    assert row["lag_seconds"] is not None and row["lag_seconds"] < lag1 + 60
    assert row["failures"] >= 2     # the counters stay

    m = metrics(db, env.name)
    names = {r[0] for r in m}
    assert {"audit_fdw_pipeline_health", "audit_fdw_lag_seconds",
            "audit_fdw_records_delivered_total", "audit_fdw_errors_total",
            "audit_fdw_get_records_calls_total"} <= names
    errors = [r for r in m if r[0] == "audit_fdw_errors_total"]
    assert any(r[1]["code"] == "ResourceNotFoundException" and r[1]["operation"] == "PutRecordBatch"
               and r[1]["kind"] == "failure" and r[2] >= 2 for r in errors)
    delivered = [r for r in m if r[0] == "audit_fdw_records_delivered_total"]
    assert sum(r[2] for r in delivered) == 6


def test_transient_errors_are_retrying_and_cleared(pump, db, emulator):
    env = pump("retrying")
    env.put("t0", "OPEN")
    env.wait_delivered(1)
    emulator.add_fault(service="firehose", operation="PutRecordBatch",
                       error="ServiceUnavailableException", count=30)
    env.put("t1", "OPEN")
    wait_for("retrying", lambda: [r for r in env.status() if r["health"] == "retrying"],
             timeout=30)
    env.wait_delivered(2, timeout=90)
    row = wait_for("ok", lambda: [r for r in env.status() if r["health"] == "ok"], timeout=30)[0]
    assert row["last_error"] is None
    assert row["retries"] >= 1 and row["failures"] == 0


def test_attempts_the_aws_client_retried_by_itself_are_counted(pump, db, emulator):
    """Two throttled PutRecordBatch attempts that the AWS client retries
    before the pump sees an answer: the records go out, the health stays ok,
    and both attempts are counted for the shard."""
    env = pump("client_retries")
    env.put("c0", "OPEN")
    env.wait_delivered(1)
    emulator.add_fault(service="firehose", operation="PutRecordBatch",
                       error="ThrottlingException", message="Rate exceeded", count=2)
    env.put("c1", "OPEN")
    env.wait_delivered(2)
    shard = env.status()[0]["shard_id"]

    def counted():
        with db.cursor() as cur:
            cur.execute("SELECT shard_id, kind, count, last_message FROM audit_fdw.pump_error "
                        "WHERE pipeline = %s AND operation = 'PutRecordBatch' "
                        "AND code = 'ThrottlingException'", (env.name,))
            return cur.fetchall()
    rows = wait_for("the retried attempts counted", counted, timeout=15)
    assert [(r[0], r[1], r[2]) for r in rows] == [(shard, "retry", 2)], rows
    assert "Rate exceeded" in rows[0][3] and "retried" in rows[0][3]
    assert all(r["health"] == "ok" for r in env.status())


def test_a_database_the_pump_does_not_run_says_so(db, emulator):
    name = "notpumped_" + uuid.uuid4().hex[:8]
    with db.cursor() as cur:
        cur.execute("CREATE DATABASE " + name)
    try:
        other = connect(name)
        env = PumpEnv(other, emulator, "elsewhere")
        row = env.status()[0]
        assert row["pipeline_state"] == "not pumped here"
        assert row["health"] == "stopped"
        assert "audit_fdw.database" in row["last_error"]
        with other.cursor() as cur:
            cur.execute("SELECT audit_fdw.pump_runs_here()")
            assert cur.fetchone()[0] is False
        other.close()
    finally:
        with db.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
    with db.cursor() as cur:
        cur.execute("SELECT audit_fdw.pump_runs_here()")
        assert cur.fetchone()[0] is True


def test_get_records_stays_within_five_calls_a_second(pump, db, emulator):
    # the emulator refuses what DynamoDB Streams refuses
    emulator.configure(getrecords_per_shard_per_second=5)
    env = pump("pace", max_batching_window="1 second")
    items = ["g%03d" % i for i in range(200)]
    for i in items:
        env.put(i, "OPEN")
    env.wait_delivered(200)
    before = env.status()[0]
    t0 = time.time()
    n = 200
    deadline = t0 + 6
    while time.time() < deadline:
        for i in items[:40]:
            env.update_state(i, "S%d" % n)
            n += 1
    elapsed = time.time() - t0
    env.wait_delivered(n, timeout=60)
    time.sleep(11)     # the counters of an idle shard are written every 10 s
    after = env.status()[0]
    # from the writes' start to now (delivering the writes may have taken a
    # slow machine longer than making them), and the second or so between
    # the checkpoint `before` read and t0
    spanned = time.time() - t0 + 2
    calls = after["get_records_calls"] - before["get_records_calls"]
    print("GetRecords: %d calls in %.1f s (%.1f s of writes), %.1f records per call, %s calls/s" % (calls, spanned, elapsed, after["records_per_call"], after["get_records_per_second"]))
    assert after["get_records_throttled"] == 0, after
    assert calls <= 5 * spanned, (calls, spanned)
    assert after["records_per_call"] is not None
    assert after["records_resent"] == 0
    # (the request log holds every test's requests: the refusals of the rate limit)
    refused = [r for r in emulator.requests("dynamodbstreams", "GetRecords")
               if r.get("error") == "LimitExceededException"]
    assert len(refused) == 0, refused[:3]


def delivery_delays(emulator, env, written, since):
    """For each state written (state -> the time it was written), how long
    until the PutRecordBatch that carried it (from the emulator's log)."""
    delivered = {}
    for call in emulator.requests("firehose", "PutRecordBatch", since=since):
        if call["input"]["DeliveryStreamName"] != env.delivery_stream or call["status"] != 200:
            continue
        for rec in call["input"]["Records"]:
            audit = json.loads(base64.b64decode(rec["Data"]))
            state = (audit.get("new_image") or {}).get("state")
            if state in written and state not in delivered:
                delivered[state] = call["time"] - written[state]
    assert sorted(delivered) == sorted(written), "not every write was delivered"
    return delivered


def write_paced(env, items, rate, seconds, prefix):
    """Order changes at rate a second for seconds: state -> when written."""
    written = {}
    t0 = time.time()
    n = 0
    while time.time() < t0 + seconds:
        due = t0 + n / rate
        if due > time.time():
            time.sleep(due - time.time())
        state = "%s%d" % (prefix, n)
        written[state] = time.time()
        env.update_state(items[n % len(items)], state)
        n += 1
    return written


def test_a_batching_window_is_read_when_it_ends(pump, emulator):
    """With a batching window longer than the 250 ms pace, what a shard's
    next call would read waits for the window all the same: the call is made
    when the batch falls due, so a window of 2 s takes about two calls, not
    nine, and no record waits longer than the window from the call that
    read its batch's first."""
    env = pump("gather", max_batching_window="2 seconds")
    items = ["w%02d" % i for i in range(10)]
    for i in items:
        env.put(i, "OPEN")
    env.wait_delivered(len(items))
    time.sleep(1)
    mark = emulator.mark()
    t0 = time.time()
    written = write_paced(env, items, rate=10, seconds=9, prefix="G")
    env.wait_delivered(len(items) + len(written), timeout=60)
    spanned = time.time() - t0
    calls = emulator.requests("dynamodbstreams", "GetRecords", since=mark)
    delays = delivery_delays(emulator, env, written, mark)
    print("GetRecords: %d calls in %.1f s; the longest wait %.2f s" % (
        len(calls), spanned, max(delays.values())))
    # a call every 250 ms would be 4 a second
    assert len(calls) <= 1.2 * spanned, (len(calls), spanned)
    # the window (2 s) and the pace (0.25 s), and a slow machine's second
    assert max(delays.values()) <= 3.25, sorted(delays.values())[-5:]
    assert env.status()[0]["records_resent"] == 0


def test_a_batch_that_fills_is_not_held_for_its_window(pump, emulator):
    """A batch that reaches batch_size before its window ends is delivered
    then: the calls follow the rate the records come at, not the window."""
    env = pump("fill", max_batching_window="6 seconds", batch_size=10)
    items = ["f%02d" % i for i in range(10)]
    for i in items:
        env.put(i, "OPEN")
    env.wait_delivered(len(items), timeout=30)
    time.sleep(1)
    mark = emulator.mark()
    written = write_paced(env, items, rate=20, seconds=4, prefix="F")
    env.wait_delivered(len(items) + len(written), timeout=60)
    delays = delivery_delays(emulator, env, written, mark)
    # the last records written, fewer than a batch, wait for the window
    order = sorted(written, key=written.get)
    filled = [delays[s] for s in order[:-10]]
    print("waits in the order written: %s" % ["%.2f" % delays[s] for s in order])
    # 10 records come in half a second: far within the window of 6 s
    assert max(filled) <= 2.5, sorted(filled)[-5:]


def test_polls_fall_on_a_common_cadence(pump, emulator):
    """The polls of a reader's shards fall on ticks 250 ms apart, so that a
    reader of many shards wakes once a tick for all of them rather than once
    for each: idle shards, polled about once a second each, are called just
    after a tick, not at any time."""
    emulator.configure(stream_initial_shards=4)
    try:
        env = pump("cadence")
    finally:
        emulator.configure(stream_initial_shards=1)
    # records that come at different times to different shards, whose polls
    # then back off to a second each from a different time
    for n in range(9):
        env.put("c%d" % n, "OPEN")
        time.sleep(0.13)
    env.wait_delivered(9)
    time.sleep(3)
    mark = emulator.mark()
    time.sleep(5)

    def shard_of(call):
        body = call["input"]["ShardIterator"].rpartition(".")[0]
        arn, shard_id = json.loads(base64.urlsafe_b64decode(body))[:2]
        return arn, shard_id
    calls = [c for c in emulator.requests("dynamodbstreams", "GetRecords", since=mark)
             if shard_of(c)[0] == env.stream_arn]
    assert len({shard_of(c)[1] for c in calls}) == 4
    assert len(calls) >= 12, len(calls)
    # how long after a tick (a pass calls the shards one after another)
    after_tick = sorted(round(c["time"] % 0.25, 3) for c in calls)
    assert sum(1 for t in after_tick if t > 0.06) <= len(calls) // 5, after_tick


def test_a_readers_memory_stays_flat_across_its_rereads_and_batches(pump, db):
    """A reader reads its pipeline's row again once a second, for as long as
    it runs, and whenever its shards change (SIGUSR2 from the supervisor):
    each reading takes the place of the one before.  Nor do its passes and
    batches leave anything behind, in its own contexts or in
    TopMemoryContext (where a transaction's end leaves a process)."""
    env = pump("memflat")
    env.put("m0", "OPEN")
    env.wait_delivered(1)
    pid = env.reader_pids()[0]

    def memory():
        return (process_memory(db, pid, "audit_fdw pump worker"), process_memory(db, pid))

    def reread(times):
        for _ in range(times):
            os.kill(pid, signal.SIGUSR2)
            time.sleep(0.005)

    reread(50)
    before = memory()
    reread(400)
    after = memory()
    print("the reader's memory (its contexts, TopMemoryContext): %s, %s after 400 re-reads"
          % (before, after))
    assert env.reader_pids() == [pid]
    # a reading kept is about 500 bytes: 400 of them would be 200 kB
    assert after[0] - before[0] < 16384, (before, after)
    assert after[1] - before[1] < 4096, (before, after)

    # pumping: what a pass, a page and a batch allocate goes with them
    def wave(k, n=100):
        for i in range(n):
            env.put("w%d-%d" % (k, i), "OPEN")
        env.wait_delivered(1 + (k + 1) * n)
    wave(0)
    before = memory()
    for k in (1, 2, 3):
        wave(k)
    after = memory()
    print("the reader's memory: %s, %s after 300 more records" % (before, after))
    assert env.reader_pids() == [pid]
    assert after[0] - before[0] < 16384, (before, after)
    assert after[1] - before[1] < 4096, (before, after)


def test_the_supervisors_memory_stays_flat_across_its_passes(pump, db):
    """The supervisor's passes (one a second by default) read the pipelines
    in transactions of their own: what a pass allocates goes with it."""
    env = pump("supmem")
    env.put("s0", "OPEN")
    env.wait_delivered(1)
    with db.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity "
                    "WHERE backend_type = 'audit_fdw pump supervisor'")
        pid = cur.fetchone()[0]
    with system_settings(db, pump_naptime="100ms"):
        time.sleep(1)
        before = process_memory(db, pid)
        time.sleep(6)
        after = process_memory(db, pid)
    print("the supervisor's TopMemoryContext: %d bytes used, %d after about 60 passes"
          % (before, after))
    assert after - before < 4096, (before, after)


def test_a_checkpoint_waits_for_a_concurrent_writer_of_its_row(pump, db):
    """A checkpoint row another transaction has changed and not committed
    (an administrator, accept_trimmed_gap): the reader waits for it before
    its batch (nothing sent meanwhile), then writes on the row's latest
    version, keeping the other change, with no error and no restart."""
    env = pump("ckwait")
    env.put("first", "OPEN")
    env.wait_delivered(1)
    readers = sorted(env.reader_pids())
    log_offset = pg_log_size()
    other = connect()
    other.autocommit = False
    with other.cursor() as cur:
        cur.execute("UPDATE audit_fdw.checkpoint SET records_retried = records_retried + 1000 "
                    "WHERE pipeline = %s", (env.name,))
    try:
        env.put("second", "OPEN")
        env.put("third", "OPEN")

        def reader_waits():
            with db.cursor() as cur:
                cur.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = ANY(%s)",
                            (readers,))
                return any(r[0] == "Lock" for r in cur.fetchall())
        wait_for("the reader waiting for the row's lock", reader_waits, timeout=30)
        time.sleep(0.5)
        assert env.delivered() == 1
        assert len(env.audit_records()) == 1, "a batch went out before it was marked sent"
    finally:
        other.commit()
        other.close()
    env.wait_delivered(3)
    status = env.status()[0]
    assert status["records_delivered"] == 3
    assert status["records_retried"] == 1000
    assert status["records_resent"] == 0 and status["health"] == "ok"
    assert [r["keys"]["orderId"] for r in env.audit_records()] == ["first", "second", "third"]
    assert sorted(env.reader_pids()) == readers, "the reader restarted"
    assert status["last_error"] is None, status["last_error"]
    assert "ERROR" not in pg_log_since(log_offset)
