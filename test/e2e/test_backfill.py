"""Backfill: the items a table had before its pipeline started, written into
the audit table as SNAPSHOT records by a parallel Scan in background
workers; resumable, rate-limited, cancellable; and the gap policy
'snapshot'.

Each test makes the table's items first, then a pipeline that starts at
LATEST (so the stream gives none of them), then a backfill.
"""
import collections
import hashlib
import os
import signal
import time

import psycopg2
import pytest

import athena_tables
from conftest import connect
from pump_env import pump, pg_log_since, pumped_database, wait_for  # noqa: F401 (pump: a fixture)


def put_items(env, n, start=0, size=0):
    """n items orderId o<i> with a number and a padding of size bytes."""
    for base in range(start, start + n, 25):
        env.ddb.batch_write_item(RequestItems={env.table: [
            {"PutRequest": {"Item": {"orderId": {"S": "o%06d" % i}, "n": {"N": str(i)},
                                     "state": {"S": "OPEN"}, "pad": {"S": "x" * max(size, 1)}}}}
            for i in range(base, min(base + 25, start + n))]})


def backfill(env, **kw):
    args = ", ".join("%s => %%(%s)s" % (k, k) for k in kw)
    with env.db.cursor() as cur:
        cur.execute("SELECT audit_fdw.backfill(%%(p)s%s)" % (", " + args if args else ""),
                    dict(kw, p=env.name))
        return cur.fetchone()[0]


def status(env, backfill_id):
    with env.db.cursor() as cur:
        cur.execute("SELECT row_to_json(s) FROM audit_fdw.backfill_status s WHERE backfill = %s",
                    (backfill_id,))
        row = cur.fetchone()
        return row[0] if row else None


def wait_done(env, backfill_id, timeout=120):
    return wait_for("backfill %d done" % backfill_id,
                    lambda: (status(env, backfill_id) or {}).get("state") == "done"
                    and status(env, backfill_id), timeout=timeout, interval=0.3)


def snapshots(env):
    return [r for r in env.audit_records() if r["event_name"] == "SNAPSHOT"]


def backfill_pids(env):
    return env.reader_pids("backfill")


@pytest.fixture
def loaded(pump):
    """make(name, n, size): a pipeline at LATEST over a table of n items."""
    def make(name, n, size=0, **kw):
        env = pump(name, create_pipeline=False)
        put_items(env, n, size=size)
        env.create_pipeline(starting_position="LATEST", **kw)
        wait_for("readers", lambda: len(env.reader_pids()) >= 1, timeout=20)
        return env
    return make


def test_every_item_once_as_a_snapshot_record(loaded):
    """4 segments, 3,000 items: each item exactly once, as SNAPSHOT with
    new_image = the item, no old_image, sequence_number '', the event time
    of its read, the same event id if sent again; the status view adds up."""
    env = loaded("bf_once", 3000)
    before = time.time()
    bid = backfill(env, segments=4, read_rate=100000)
    st = wait_done(env, bid)
    after = time.time()
    recs = snapshots(env)
    ids = collections.Counter(r["keys"]["orderId"] for r in recs)
    assert len(recs) == 3000 and set(ids.values()) == {1}
    assert set(ids) == {"o%06d" % i for i in range(3000)}
    for r in recs[:50]:
        i = int(r["keys"]["orderId"][1:])
        assert r["new_image"] == {"orderId": r["keys"]["orderId"], "n": i, "state": "OPEN",
                                  "pad": "x"}
        assert "old_image" not in r and r["sequence_number"] == "" and r["shard_id"] is None
        assert r["source_table"] == env.table and r["aws_region"] == "us-east-1"
        assert r["event_id"].startswith("snapshot-%d-" % bid)
        # the key's hash, as the stream's records have it (key buckets)
        assert r["key_hash"] == {"orderId": hashlib.sha256(
            r["keys"]["orderId"].encode()).hexdigest()[-8:]}
        t = time.mktime(time.strptime(r["event_time"][:19], "%Y-%m-%d %H:%M:%S")) - time.timezone
        # the read's second: truncated, never later than the read
        assert int(before) <= t <= after and r["event_time"].endswith(".000")
    assert len({r["event_id"] for r in recs}) == 3000
    assert st["segments"] == 4 and st["segments_done"] == 4
    assert st["items_read"] == 3000 and st["records_delivered"] == 3000
    assert st["records_dead_lettered"] == 0 and st["throttled"] == 0
    # strongly consistent reads of items under 4 KB: a unit each at most
    assert 0 < st["consumed_capacity"] <= 3000
    assert st["eta_seconds"] == 0 and st["finished_at"] is not None
    assert st["reason"] == "requested" and st["read_rate"] == 100000
    # the stream is untouched: the pipeline read nothing
    assert env.delivered() == 0
    # the workers are gone once done
    wait_for("backfill workers gone", lambda: backfill_pids(env) == [], timeout=10)


def test_rate_limit_is_honoured(loaded):
    """The capacity consumed a second, measured over the middle of the scan,
    is within 10% of read_rate."""
    env = loaded("bf_rate", 8000, size=1000)
    rate = 80.0
    bid = backfill(env, segments=4, read_rate=rate)
    wait_for("the scan under way", lambda: (status(env, bid)["consumed_capacity"] or 0) > 0,
             timeout=30)
    time.sleep(1.5)
    # the counters move a page at a time (half a second of a worker's
    # rate): two readings 8 s apart could be 6% off on their own, so the
    # rate is the slope of a line through a reading every 0.2 s, each at
    # the server's time of its reading
    samples = []
    end = time.monotonic() + 8
    while time.monotonic() < end:
        st = status(env, bid)
        samples.append((st["elapsed_seconds"], st["consumed_capacity"]))
        time.sleep(0.2)
    st = status(env, bid)
    assert st["state"] == "running", "the scan ended before the measurement did"
    mt = sum(t for t, _ in samples) / len(samples)
    mc = sum(c for _, c in samples) / len(samples)
    measured = (sum((t - mt) * (c - mc) for t, c in samples)
                / sum((t - mt) ** 2 for t, _ in samples))
    print("read capacity consumed: %.1f units a second, limit %.1f" % (measured, rate))
    assert abs(measured - rate) <= 0.1 * rate, (measured, rate)
    assert 0 < st["eta_seconds"] and st["table_item_count"] == 8000
    with env.db.cursor() as cur:
        cur.execute("SELECT audit_fdw.cancel_backfill(%s)", (env.name,))
        assert cur.fetchone()[0] == bid
    wait_for("backfill workers gone", lambda: backfill_pids(env) == [], timeout=10)


def test_a_killed_worker_resumes_from_its_checkpoint(loaded):
    """Every worker terminated mid-scan: the supervisor starts them again,
    each segment goes on after its last checkpointed page, and every item
    arrives; only pages in flight at the kill may arrive twice (same event
    id), and items_read counts each item once."""
    env = loaded("bf_kill", 12000, size=200)
    bid = backfill(env, segments=4, read_rate=100)
    wait_for("a third read", lambda: (status(env, bid)["items_read"] or 0) >= 4000, timeout=60)
    pids = backfill_pids(env)
    assert len(pids) == 4
    with env.db.cursor() as cur:
        for pid in pids:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    wait_for("new workers", lambda: set(backfill_pids(env)) - set(pids), timeout=20)
    st = wait_done(env, bid, timeout=120)
    assert st["items_read"] == 12000 and st["segments_done"] == 4
    recs = snapshots(env)
    per_item = collections.Counter(r["keys"]["orderId"] for r in recs)
    assert set(per_item) == {"o%06d" % i for i in range(12000)}
    # a resent record is the same record
    by_id = {}
    for r in recs:
        assert by_id.setdefault(r["event_id"], r["keys"]) == r["keys"]
    assert len(by_id) == 12000
    # at most the pages in flight (a page is about half a second of a
    # worker's rate) were sent twice
    assert len(recs) - 12000 <= 4 * 2000, len(recs)


def test_cancel_resume_and_who_may(loaded, db):
    """cancel_backfill stops the workers and keeps the checkpoints;
    resume_backfill goes on; one backfill runs at a time; arguments are
    checked; only the pipeline's owner (or a member, or a superuser) may
    act, and nobody without a grant."""
    # about 700 read units at 40 a second: long enough that the cancel
    # below always lands mid-scan, on a fast machine too
    env = loaded("bf_cancel", 6000, size=400)
    bid = backfill(env, segments=3, read_rate=40)
    wait_for("some pages", lambda: (status(env, bid)["items_read"] or 0) > 0, timeout=30)
    with env.db.cursor() as cur:
        with pytest.raises(psycopg2.errors.ObjectInUse) as e:
            cur.execute("SELECT audit_fdw.backfill(%s)", (env.name,))
        assert "cancel_backfill" in e.value.diag.message_hint
        cur.execute("SELECT audit_fdw.cancel_backfill(%s)", (env.name,))
        assert cur.fetchone()[0] == bid
    wait_for("backfill workers gone", lambda: backfill_pids(env) == [], timeout=10)
    read = status(env, bid)["items_read"]
    time.sleep(1.5)
    st = status(env, bid)
    assert st["state"] == "cancelled" and st["items_read"] == read < 6000
    with env.db.cursor() as cur:
        with pytest.raises(psycopg2.errors.ObjectNotInPrerequisiteState):
            cur.execute("SELECT audit_fdw.cancel_backfill(%s)", (env.name,))
        env.db.rollback() if not env.db.autocommit else None
        for args, msg in ((("x", 0, None, 0.5), "segments"), (("x", 1001, None, 0.5), "segments"),
                          (("x", 4, -1, 0.5), "read_rate"), (("x", 4, None, 0), "capacity_share"),
                          (("x", 4, float("nan"), 0.5), "read_rate")):
            with pytest.raises(psycopg2.errors.InvalidParameterValue) as e:
                cur.execute("SELECT audit_fdw.backfill(%s, %s, %s, %s)", (env.name,) + args[1:])
            assert msg in e.value.diag.message_primary
        with pytest.raises(psycopg2.errors.UndefinedObject):
            cur.execute("SELECT audit_fdw.backfill('no_such_pipeline')")
        cur.execute("SELECT audit_fdw.resume_backfill(%s)", (env.name,))
        assert cur.fetchone()[0] == bid
    st = wait_done(env, bid, timeout=120)
    assert st["items_read"] == 6000
    ids = collections.Counter(r["keys"]["orderId"] for r in snapshots(env))
    assert len(ids) == 6000
    # a stranger, with and without EXECUTE; a member of the owner's role
    role = "bf_stranger_" + env.name[-6:]
    with db.cursor() as cur:
        cur.execute("CREATE ROLE %s" % role)
        try:
            cur.execute("SET ROLE %s" % role)
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("SELECT audit_fdw.backfill(%s)", (env.name,))
            cur.execute("RESET ROLE")
            cur.execute("GRANT EXECUTE ON FUNCTION audit_fdw.backfill(text, integer, "
                        "double precision, double precision), audit_fdw.cancel_backfill(text) "
                        "TO %s" % role)
            cur.execute("SET ROLE %s" % role)
            with pytest.raises(psycopg2.errors.InsufficientPrivilege) as e:
                cur.execute("SELECT audit_fdw.backfill(%s)", (env.name,))
            assert "must be the owner" in e.value.diag.message_primary
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("SELECT audit_fdw.cancel_backfill(%s)", (env.name,))
            cur.execute("RESET ROLE")
            # the status view is readable by anyone
            cur.execute("SET ROLE %s" % role)
            cur.execute("SELECT count(*) FROM audit_fdw.backfill_status WHERE backfill = %s",
                        (bid,))
            assert cur.fetchone()[0] == 1
        finally:
            cur.execute("RESET ROLE")
            cur.execute("DROP OWNED BY %s" % role)
            cur.execute("DROP ROLE %s" % role)


def test_default_rate_and_throttling(pump, emulator):
    """Without read_rate: capacity_share of a provisioned table's
    ReadCapacityUnits (DescribeTable).  Reads above the table's capacity
    are throttled (ProvisionedThroughputExceededException): counted, backed
    off, and every item still arrives."""
    emulator.configure(dynamodb_burst_seconds=0)
    try:
        env = pump("bf_thr", create_pipeline=False)
        env.ddb.update_table(TableName=env.table, BillingMode="PROVISIONED",
                             ProvisionedThroughput={"ReadCapacityUnits": 40,
                                                    "WriteCapacityUnits": 5})
        # 600 items of 1 KB: 150 units; a unit is 4 items of work for the
        # machine (14 at 300 bytes), so the workers read faster than the
        # table's 40 units a second on a slow machine too; the first pages
        # (100 items a segment) leave most of the table to be throttled
        put_items(env, 600, size=1000)
        env.create_pipeline(starting_position="LATEST")
        bid = backfill(env, segments=2)
        wait_for("the rate from DescribeTable",
                 lambda: status(env, bid)["read_rate"] is not None, timeout=30)
        assert status(env, bid)["read_rate"] == 20.0
        with env.db.cursor() as cur:
            cur.execute("SELECT audit_fdw.cancel_backfill(%s)", (env.name,))
        wait_for("backfill workers gone", lambda: backfill_pids(env) == [], timeout=10)
        # three times the table's capacity: throttled, and still complete
        with env.db.cursor() as cur:
            cur.execute("UPDATE audit_fdw.backfill SET read_rate = 120 WHERE id = %s", (bid,))
            cur.execute("SELECT audit_fdw.resume_backfill(%s)", (env.name,))
        st = wait_done(env, bid, timeout=120)
        assert st["throttled"] > 0 and st["items_read"] == 600
        ids = collections.Counter(r["keys"]["orderId"] for r in snapshots(env))
        assert len(ids) == 600
        with env.db.cursor() as cur:
            cur.execute("SELECT sum(count) FROM audit_fdw.pump_error WHERE pipeline = %s "
                        "AND code = 'ProvisionedThroughputExceededException'", (env.name,))
            assert cur.fetchone()[0] > 0
    finally:
        emulator.configure(dynamodb_burst_seconds=300)


STATE_ROWS = [
    # (event_id, event_name, event_time UTC, sequence_number, key, state)
    ("a1", "SNAPSHOT", "10:00:00", "", "A", "snap"),
    ("a2", "MODIFY", "10:00:00", "200", "A", "modified in the read's second"),
    ("b1", "MODIFY", "09:59:59", "150", "B", "before the read"),
    ("b2", "SNAPSHOT", "10:00:00", "", "B", "read"),
    ("c1", "SNAPSHOT", "10:00:00", "", "C", "read"),
    ("c2", "REMOVE", "10:00:01", "300", "C", None),
    ("d1", "MODIFY", "10:00:02", "99", "D", "first"),
    ("d2", "MODIFY", "10:00:02", "100", "D", "second"),
    ("e1", "INSERT", "10:00:05", "400", "E", "later"),
]


@pytest.mark.parametrize("kind", ["jsonb_timestamptz", "text_timestamp"])
def test_state_as_of_orders_snapshots_before_stream_records(db, kind):
    """The latest record of each key at T by (event_time, SNAPSHOT before
    stream records, sequence_number as a number); a REMOVE leaves the key
    out; a table whose keys are text and whose times are UTC timestamps
    (as Athena's) reads the same."""
    json_type, time_type = kind.split("_")
    with db.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS audit_fdw")
        cur.execute("DROP TABLE IF EXISTS state_rows")
        cur.execute("CREATE TABLE state_rows (event_id text, event_name text, event_time %s, "
                    "sequence_number text, keys %s, new_image %s)"
                    % (time_type, json_type, json_type))
        for eid, name, t, seq, key, state in STATE_ROWS:
            image = None if state is None else '{"k": "%s", "state": "%s"}' % (key, state)
            cur.execute("INSERT INTO state_rows VALUES (%s, %s, "
                        + ("(%s::timestamptz)" if time_type == "timestamptz"
                           else "(%s::timestamptz AT TIME ZONE 'UTC')")
                        + ", %s, %s, %s)",
                        (eid, name, "2024-01-15 %s+00" % t, seq, '{"k": "%s"}' % key, image))

        def state(at):
            cur.execute("SET TIME ZONE 'Asia/Kolkata'")   # the caller's zone changes nothing
            cur.execute("SELECT keys->>'k', event_id, new_image->>'state' "
                        "FROM audit_fdw.state_as_of('state_rows', %s)", ("2024-01-15 %s+00" % at,))
            return {k: (eid, s) for k, eid, s in cur.fetchall()}

        assert state("09:59:59.5") == {"B": ("b1", "before the read")}
        assert state("10:00:00") == {"A": ("a2", "modified in the read's second"),
                                     "B": ("b2", "read"), "C": ("c1", "read")}
        assert state("10:00:01") == {"A": ("a2", "modified in the read's second"),
                                     "B": ("b2", "read")}
        # sequence numbers compare as numbers: 100 after 99
        assert state("10:00:03")["D"] == ("d2", "second")
        assert state("10:00:05")["E"] == ("e1", "later")
        cur.execute("RESET TIME ZONE")
        cur.execute("ALTER TABLE state_rows DROP COLUMN sequence_number")
        with pytest.raises(psycopg2.errors.UndefinedColumn) as e:
            cur.execute("SELECT * FROM audit_fdw.state_as_of('state_rows', now())")
        assert "sequence_number" in e.value.diag.message_primary
        db.rollback() if not db.autocommit else None
        cur.execute("DROP TABLE state_rows")


def test_changes_during_the_scan_and_the_state_through_a_foreign_table(loaded, emulator, db):
    """Items changed, deleted and added while the scan runs: an unchanged
    item has exactly one record (its SNAPSHOT); a changed one has at most
    one SNAPSHOT and its stream records.  state_as_of over a foreign table
    of the audit records gives the table as it is at the end, item for
    item."""
    env = loaded("bf_live", 1500, size=1000)
    bid = backfill(env, segments=4, read_rate=40)
    wait_for("the scan under way", lambda: (status(env, bid)["items_read"] or 0) > 0, timeout=30)
    changed = {"o%06d" % i for i in range(0, 1500, 10)}
    deleted = {"o%06d" % i for i in range(5, 1500, 50)}
    for k in sorted(changed):
        env.update_state(k, "CHANGED", n=1)
    for k in sorted(deleted):
        env.ddb.delete_item(TableName=env.table, Key={"orderId": {"S": k}})
    added = {"n%05d" % i for i in range(40)}
    for k in sorted(added):
        env.put(k, "NEW")
    assert status(env, bid)["state"] == "running", "the scan ended before the changes"
    wait_done(env, bid, timeout=120)
    env.wait_delivered(len(changed) + len(deleted) + len(added), timeout=60)

    recs = env.audit_records()
    snaps = collections.Counter(r["keys"]["orderId"] for r in recs if r["event_name"] == "SNAPSHOT")
    stream = collections.Counter(r["keys"]["orderId"] for r in recs if r["event_name"] != "SNAPSHOT")
    assert max(snaps.values()) == 1
    untouched = {"o%06d" % i for i in range(1500)} - changed - deleted
    assert all(snaps[k] == 1 and stream[k] == 0 for k in untouched)
    assert all(stream[k] == 1 for k in changed | deleted | added)
    assert set(snaps) - untouched <= changed | deleted | added

    # the audit records as Athena sees them, through a foreign table
    s3, glue = emulator.client("s3"), emulator.client("glue")
    database, bucket = "bf_state", "bf-state-" + env.name[-6:].replace("_", "-")
    athena_tables.ensure_buckets(s3, bucket)
    athena_tables.ensure_database(glue, database)
    athena_tables.replace_json_table(glue, database, "orders_audit", [
        ("event_id", "string"), ("event_name", "string"), ("event_time", "timestamp"),
        ("sequence_number", "string"), ("keys", "struct<orderId:string>"),
        ("new_image", "struct<orderId:string,n:bigint,state:string,pad:string>")],
        "s3://%s/audit/" % bucket)
    athena_tables.put_json_lines(s3, bucket, "audit/records.json", recs)
    with db.cursor() as cur:
        athena_tables.athena_server(cur, "bf_state", emulator.url, database, bucket)
        cur.execute("DROP SCHEMA IF EXISTS bf_state CASCADE; CREATE SCHEMA bf_state")
        cur.execute("IMPORT FOREIGN SCHEMA bf_state LIMIT TO (orders_audit) "
                    "FROM SERVER bf_state INTO bf_state OPTIONS (expand_structs 'false')")
        # as of the emulator's clock: a test before this one may have moved
        # it past the wall clock (trimmed_gap), and stream records carry it
        as_of = max(time.time(), emulator.now()) + 60
        cur.execute("SELECT keys->>'orderId', new_image->>'state', (new_image->>'n')::bigint "
                    "FROM audit_fdw.state_as_of('bf_state.orders_audit', to_timestamp(%s))",
                    (as_of,))
        got = {k: (s, n) for k, s, n in cur.fetchall()}
        cur.execute("DROP SCHEMA bf_state CASCADE")
        cur.execute("DROP SERVER bf_state CASCADE")
    items = {}
    for seg in range(2):
        kw = {"TableName": env.table, "Segment": seg, "TotalSegments": 2}
        while True:
            page = env.ddb.scan(**kw)
            for i in page["Items"]:
                items[i["orderId"]["S"]] = (i["state"]["S"], int(i["n"]["N"]) if "n" in i else None)
            if "LastEvaluatedKey" not in page:
                break
            kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert len(items) == 1500 - len(deleted) + len(added)
    assert got == items


def test_gap_policy_snapshot_records_the_gap_and_backfills(pump, emulator, db):
    """on_trimmed_gap 'snapshot': the gap is recorded (status view, WARNING),
    the shard's lineage goes on, and a backfill writes every item's state
    after the gap, the lost change included; the log and both status views
    say so; a backfill running since before the gap gives way to it."""
    env = pump("bf_gap", create_pipeline=False)
    put_items(env, 300)
    for k in ("t1", "t2", "t3"):
        env.put(k, "OPEN")
    env.create_pipeline(on_trimmed_gap="snapshot")
    env.wait_delivered(303)
    first = env.status()[0]
    # a backfill running (paused with its pipeline) since before the gap,
    # slow enough to be running still when the gap is found
    before = []
    log_offset = env.trimmed_gap("t1", "t2", meanwhile=lambda: before.append(
        backfill(env, segments=2, read_rate=1)))
    before_gap = before[0]

    def gap_backfill():
        with db.cursor() as cur:
            cur.execute("SELECT backfill FROM audit_fdw.backfill_status WHERE pipeline = %s "
                        "AND reason LIKE 'trimmed gap in shard %%'", (env.name,))
            row = cur.fetchone()
            return row and row[0]
    bid = wait_for("the gap's backfill", gap_backfill, timeout=30)
    st = wait_done(env, bid, timeout=60)
    assert st["reason"] == "trimmed gap in shard %s" % first["shard_id"]
    assert st["items_read"] == 303 and st["segments"] == 4
    assert status(env, before_gap)["state"] == "cancelled"
    log = wait_for("the log", lambda: "started backfill" in pg_log_since(log_offset)
                   and pg_log_since(log_offset))
    assert "lost records of shard" in log and "on_trimmed_gap is 'snapshot'" in log
    assert ("started backfill %d for the trimmed gap of shard \"%s\"" % (bid, first["shard_id"])
            in log)
    assert "Backfill %d, which began before the gap, was cancelled" % before_gap in log
    row = [r for r in env.status() if r["shard_id"] == first["shard_id"]][0]
    assert row["gap_after_sequence_number"] == first["checkpoint_sequence_number"]
    assert row["state"] != "stopped"
    assert "backfill %d writes a snapshot" % bid in row["last_error"]
    # the lineage went on: the change after the gap arrives, and the
    # snapshot holds the lost one
    env.wait_delivered(304)
    recs = [r for r in env.audit_records()
            if r["event_name"] != "SNAPSHOT" or r["event_id"].startswith("snapshot-%d-" % bid)]
    snap = {r["keys"]["orderId"]: r["new_image"]["state"] for r in recs
            if r["event_name"] == "SNAPSHOT" and r["keys"]["orderId"].startswith("t")}
    assert snap == {"t1": "LOST", "t2": "AFTER_GAP", "t3": "OPEN"}
    assert ("t2", "AFTER_GAP") in [(r["keys"]["orderId"], r["new_image"]["state"])
                                   for r in recs if r["event_name"] == "MODIFY"]
    with db.cursor() as cur:
        cur.execute("SELECT on_trimmed_gap FROM audit_fdw.pipeline WHERE name = %s", (env.name,))
        assert cur.fetchone()[0] == "snapshot"
        with pytest.raises(psycopg2.errors.InvalidParameterValue) as e:
            cur.execute("SELECT audit_fdw.create_pipeline('bf_gap_bad', %s, %s, %s, "
                        "on_trimmed_gap => 'fill')",
                        (env.server, env.table, env.delivery_stream))
        assert "snapshot" in e.value.diag.message_hint


# 100,000 items: about 35 s on a 2-core machine, mostly the emulator's
# (loading the table, and reading the records back); AUDIT_FDW_BACKFILL_ITEMS
# sets another count.
LARGE_ITEMS = int(os.environ.get("AUDIT_FDW_BACKFILL_ITEMS", "100000"))


def test_a_large_table_every_item_exactly_once(loaded):
    """LARGE_ITEMS items, 4 segments, as fast as the table allows: every
    item exactly once in S3, the counters exact, and the rate printed."""
    env = loaded("bf_large", LARGE_ITEMS)
    start = time.monotonic()
    bid = backfill(env, segments=4, read_rate=1000000)
    st = wait_done(env, bid, timeout=120 + LARGE_ITEMS / 100)
    elapsed = time.monotonic() - start
    assert st["items_read"] == st["records_delivered"] == LARGE_ITEMS
    assert st["segments_done"] == 4 and st["records_dead_lettered"] == 0
    per_item = collections.Counter(r["keys"]["orderId"] for r in snapshots(env))
    assert len(per_item) == LARGE_ITEMS and set(per_item.values()) == {1}
    assert set(per_item) == {"o%06d" % i for i in range(LARGE_ITEMS)}
    print("backfill of %d items with 4 segments: %.1f s, %.0f items/s"
          % (LARGE_ITEMS, elapsed, LARGE_ITEMS / elapsed))


def test_a_database_not_yet_updated_is_still_pumped(db):
    """The new library over an installation still at 1.1 (ALTER EXTENSION
    UPDATE not run yet): the supervisor, which looks for backfills, finds
    none and keeps running, with no error in the log."""
    name = "bf_old_" + str(os.getpid())
    with pumped_database(db, name, "1.1") as (old, offset), db.cursor() as cur:
        def supervisor():
            cur.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = "
                        "'audit_fdw pump supervisor' AND datname = %s", (name,))
            row = cur.fetchone()
            return row and row[0]
        pid = wait_for("a supervisor in the 1.1 database", supervisor, timeout=30)
        time.sleep(3)
        assert supervisor() == pid
        log = pg_log_since(offset)
        assert "audit_fdw.backfill" not in log and "ERROR" not in log, log


def test_a_worker_killed_by_sigkill_resumes_after_the_crash_restart(loaded):
    """SIGKILL of a backfill worker mid-scan makes PostgreSQL restart every
    process (crash recovery); the checkpoints committed before the kill
    survive it (synchronous commit), the workers start again and every
    item arrives, items_read counting each once."""
    env = loaded("bf_sigkill", 12000, size=200)
    bid = backfill(env, segments=4, read_rate=100)
    wait_for("a quarter read", lambda: (status(env, bid)["items_read"] or 0) >= 3000, timeout=60)
    before = status(env, bid)["items_read"]
    os.kill(backfill_pids(env)[0], signal.SIGKILL)

    def crashed():
        try:
            with env.db.cursor() as cur:
                cur.execute("SELECT 1")
            return False
        except psycopg2.Error:
            return True
    # the postmaster ends every backend, this session's too
    wait_for("the crash restart", crashed, timeout=30, interval=0.1)

    def reconnected():
        try:
            env.db = connect()
            return status(env, bid)
        except psycopg2.Error:
            return None
    st = wait_for("PostgreSQL back", reconnected, timeout=90, interval=0.5)
    assert st["items_read"] >= before
    st = wait_done(env, bid, timeout=180)
    assert st["items_read"] == 12000 and st["segments_done"] == 4
    per_item = collections.Counter(r["keys"]["orderId"] for r in snapshots(env))
    assert set(per_item) == {"o%06d" % i for i in range(12000)}
    assert len({r["event_id"] for r in snapshots(env)}) == 12000
