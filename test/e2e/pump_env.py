"""Helpers of the pump's end-to-end tests (test_pump_*.py).

PumpEnv makes, in the emulator, an Orders-like DynamoDB table with a stream,
an S3 bucket and a Firehose delivery stream into it (buffering as long as
Firehose allows, so the test decides when objects are written), then an
audit_fdw server, a user mapping and a pipeline; it reads back what reached
S3 and what pipeline_status says.
"""
import contextlib
import json
import os
import re
import threading
import time
import uuid

import psycopg2
import psycopg2.sql as sql
import pytest

from aws_fixtures import create_server
from conftest import connect
from pump_corpus import order_item


def wait_for(what, predicate, timeout=60, interval=0.2):
    """Polls predicate() until it returns a true value; fails after timeout."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def pg_log_path():
    return os.path.join(os.environ["AUDIT_FDW_PG_DIR"], "log", "postgres.log")


def pg_log_size():
    try:
        return os.path.getsize(pg_log_path())
    except OSError:
        return 0


def pg_log_since(offset):
    with open(pg_log_path(), "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def memory_used(log, name=None):
    """Bytes used, from the lines pg_log_backend_memory_contexts wrote ("level:
    N; name: T total in B blocks; F free (C chunks); U used"): by the context
    name and every context under it, or (no name) by TopMemoryContext alone,
    whose own allocations are those a process keeps for its life.  None
    before the lines are all there."""
    if "Grand total:" not in log:
        return None
    level = None
    used = 0
    for m in re.finditer(r"level: (\d+); ([^:]+): \d+ total in \d+ blocks; \d+ free "
                         r"\(\d+ chunks\); (\d+) used", log):
        depth, context = int(m.group(1)), m.group(2)
        if name is None:
            if context == "TopMemoryContext":
                return int(m.group(3))
        elif level is None:
            if context == name:
                level, used = depth, int(m.group(3))
        elif depth > level:
            used += int(m.group(3))
        else:
            break
    return used if level is not None else None


def process_memory(db, pid, name=None):
    """memory_used of process pid, now."""
    offset = pg_log_size()
    with db.cursor() as cur:
        cur.execute("SELECT pg_log_backend_memory_contexts(%s)", (pid,))
        assert cur.fetchone()[0] is True
    return wait_for("the memory contexts of %d in the log" % pid,
                    lambda: memory_used(pg_log_since(offset), name), timeout=20)


@contextlib.contextmanager
def system_settings(db, **settings):
    """ALTER SYSTEM SET audit_fdw.<name> for each setting, reloaded; reset
    afterwards."""
    with db.cursor() as cur:
        for name, value in settings.items():
            cur.execute("ALTER SYSTEM SET audit_fdw.%s = %%s" % name, (value,))
        cur.execute("SELECT pg_reload_conf()")
    try:
        yield
    finally:
        with db.cursor() as cur:
            for name in settings:
                cur.execute("ALTER SYSTEM RESET audit_fdw.%s" % name)
            cur.execute("SELECT pg_reload_conf()")


@contextlib.contextmanager
def pumped_database(db, name, version):
    """A new database `name` with audit_fdw at `version` whose pipelines the
    pump runs (audit_fdw.database, reloaded), as a connection; afterwards the
    setting is restored and the database dropped.  Yields (connection, the
    server log's size before the switch)."""
    with db.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
        cur.execute("CREATE DATABASE %s" % name)
    conn = connect(name)
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION audit_fdw VERSION %s", (version,))
    with db.cursor() as cur:
        cur.execute("SHOW audit_fdw.database")
        good = cur.fetchone()[0]
        offset = pg_log_size()
        cur.execute("ALTER SYSTEM SET audit_fdw.database = %s", (name,))
        cur.execute("SELECT pg_reload_conf()")
        try:
            yield conn, offset
        finally:
            cur.execute("ALTER SYSTEM SET audit_fdw.database = %s", (good,))
            cur.execute("SELECT pg_reload_conf()")
            conn.close()
            cur.execute("DROP DATABASE %s WITH (FORCE)" % name)


class PumpEnv:
    def __init__(self, db, emulator, name, view="NEW_AND_OLD_IMAGES", create_pipeline=True,
                 **pipeline_options):
        self.db = db
        self.emulator = emulator
        # names unique to this run: the emulator keeps what earlier runs made
        name = "%s_%s" % (name, uuid.uuid4().hex[:6])
        self.name = name
        self.table = "Orders_" + name
        self.bucket = "audit-" + name.replace("_", "-")
        self.delivery_stream = name + "-audit"
        self.server = "pump_" + name
        self.ddb = emulator.client("dynamodb")
        self.firehose = emulator.client("firehose")
        self.s3 = emulator.client("s3")

        self.s3.create_bucket(Bucket=self.bucket)
        resp = self.ddb.create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
        self.stream_arn = resp["TableDescription"]["LatestStreamArn"]
        self.firehose.create_delivery_stream(
            DeliveryStreamName=self.delivery_stream, DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::000000000000:role/firehose",
                "BucketARN": "arn:aws:s3:::" + self.bucket,
                "Prefix": "orders/",
                "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": 900}})
        with db.cursor() as cur:
            create_server(cur, self.server, emulator.url)
        if create_pipeline:
            self.create_pipeline(**pipeline_options)

    def create_pipeline(self, **options):
        options.setdefault("max_batching_window", "100 ms")
        args = [sql.SQL("{} => {}").format(sql.Identifier(k), sql.Literal(v))
                for k, v in options.items()]
        with self.db.cursor() as cur:
            cur.execute(sql.SQL("SELECT audit_fdw.create_pipeline({}, server => {}, "
                                "source_table => {}, delivery_stream => {}{}{})").format(
                sql.Literal(self.name), sql.Literal(self.server), sql.Literal(self.table),
                sql.Literal(self.delivery_stream), sql.SQL(", " if args else ""),
                sql.SQL(", ").join(args)))

    def drop(self):
        try:
            with self.db.cursor() as cur:
                cur.execute("SELECT audit_fdw.drop_pipeline(%s, if_exists => true)", (self.name,))
        except psycopg2.Error:
            pass

    # ---- writing to the table ----

    def put(self, order_id, state, **extra):
        item = {"orderId": {"S": order_id}, "state": {"S": state}}
        item.update(extra)
        self.ddb.put_item(TableName=self.table, Item=item)

    def update_state(self, order_id, state, n=None):
        names = {"#s": "state"}
        values = {":s": {"S": state}}
        expr = "SET #s = :s"
        if n is not None:
            expr += ", n = :n"
            values[":n"] = {"N": str(n)}
        self.ddb.update_item(TableName=self.table, Key={"orderId": {"S": order_id}},
                             UpdateExpression=expr, ExpressionAttributeNames=names,
                             ExpressionAttributeValues=values)

    def put_orders(self, n, items, writers=4):
        """n changes of pump_corpus.order_item over items items (a put each:
        the first round creates them), written by writers threads."""
        def writer(k):
            client = self.emulator.client("dynamodb")
            for i in range(k, n, writers):
                client.put_item(TableName=self.table, Item=order_item(i % items, i // items))
        threads = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    # ---- reading what the pump did ----

    def status(self):
        with self.db.cursor() as cur:
            cur.execute("SELECT row_to_json(s) FROM audit_fdw.pipeline_status s WHERE pipeline = %s",
                        (self.name,))
            return [r[0] for r in cur.fetchall()]

    def delivered(self):
        return sum((r["records_delivered"] or 0) for r in self.status())

    def dead_lettered(self):
        return sum((r["records_dead_lettered"] or 0) for r in self.status())

    def wait_delivered(self, n, timeout=60):
        return wait_for("%d records delivered by pipeline %s" % (n, self.name),
                        lambda: self.delivered() >= n and self.delivered(), timeout=timeout)

    def objects(self):
        """The S3 objects of the delivery stream, oldest first, as bytes."""
        self.emulator.flush_firehose(self.delivery_stream)
        keys = []
        token = None
        while True:
            kw = {"Bucket": self.bucket, "Prefix": "orders/"}
            if token:
                kw["ContinuationToken"] = token
            resp = self.s3.list_objects_v2(**kw)
            keys += [(o["LastModified"], o["Key"]) for o in resp.get("Contents", [])]
            if not resp.get("IsTruncated"):
                break
            token = resp["NextContinuationToken"]
        keys.sort()
        return [self.s3.get_object(Bucket=self.bucket, Key=k)["Body"].read() for _, k in keys]

    def audit_records(self):
        """Every audit record in S3, in delivery order; checks the newlines."""
        out = []
        for body in self.objects():
            text = body.decode("utf-8")
            assert text.endswith("\n"), "an S3 object does not end with a newline"
            for line in text[:-1].split("\n"):
                out.append(json.loads(line))
        return out

    def reader_pids(self, kind="pump"):
        """The pids of the pipeline's readers (kind "backfill": of its
        backfill's workers)."""
        prefix = "audit_fdw " + kind
        with self.db.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = %s "
                        "AND application_name LIKE %s", (prefix, prefix + " " + self.name + " %"))
            return [r[0] for r in cur.fetchall()]

    def reader_slots(self):
        """The slots (from 0) of the pipeline's running readers, from their
        names ("audit_fdw pump <pipeline> <slot + 1>/<slots>")."""
        with self.db.cursor() as cur:
            cur.execute("SELECT application_name FROM pg_stat_activity WHERE backend_type = "
                        "'audit_fdw pump' AND application_name LIKE %s",
                        ("audit_fdw pump " + self.name + " %",))
            return sorted(int(r[0].rsplit(" ", 1)[1].split("/")[0]) - 1 for r in cur.fetchall())

    def reader_slots_wanted(self):
        """The slots whose readers the pipeline runs: k of
        audit_fdw.pump_readers while a shard row not drained hashes to k
        (hash_bytes of the id, which hashtext computes for a text), and 0
        when there is no such row (its reader discovers shards)."""
        with self.db.cursor() as cur:
            cur.execute("SELECT DISTINCT (hashtext(shard_id)::bigint & 4294967295) "
                        "%% current_setting('audit_fdw.pump_readers')::int AS slot "
                        "FROM audit_fdw.checkpoint WHERE pipeline = %s "
                        "AND state <> 'drained' ORDER BY 1", (self.name,))
            return [r[0] for r in cur.fetchall()] or [0]

    def readers_wanted(self):
        return len(self.reader_slots_wanted())

    def wait_readers(self, what="the readers", timeout=20):
        """Waits until the readers running are the ones wanted; their pids."""
        return wait_for(what, lambda: self.reader_slots() == self.reader_slots_wanted() and
                        self.reader_pids(), timeout=timeout)

    def trimmed_gap(self, lost, after, meanwhile=None):
        """With the pipeline paused, item `lost` changes to LOST, the clock
        passes the stream's 24 h retention (the change is trimmed unread),
        item `after` changes to AFTER_GAP, and the pipeline resumes;
        meanwhile() runs while it is paused.  The log's size before the
        resume."""
        with self.db.cursor() as cur:
            cur.execute("SELECT audit_fdw.pause_pipeline(%s)", (self.name,))
        wait_for("readers to stop", lambda: self.reader_pids() == [], timeout=20)
        if meanwhile:
            meanwhile()
        self.update_state(lost, "LOST")
        self.emulator.advance_clock(25 * 3600)
        self.update_state(after, "AFTER_GAP")
        offset = pg_log_size()
        with self.db.cursor() as cur:
            cur.execute("SELECT audit_fdw.resume_pipeline(%s)", (self.name,))
        return offset


@pytest.fixture
def pump(db, emulator):
    """make(name, **PumpEnv options): a PumpEnv whose pipeline is dropped
    afterwards, and the emulator's faults and GetRecords limit cleared."""
    envs = []

    def make(name, **kw):
        env = PumpEnv(db, emulator, name, **kw)
        envs.append(env)
        return env
    yield make
    emulator.clear_faults()
    emulator.configure(getrecords_per_shard_per_second=0)
    for env in envs:
        env.drop()
