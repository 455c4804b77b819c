"""Key buckets: create_delivery_stream and create_audit_table with
key_buckets => 16 put each audit record, through the emulator's Firehose
dynamic partitioning, in a folder of its event hour and of its key's bucket
(the last hex digit of the key_hash the pump writes: SHA-256 of the key's
value); the imported foreign table ships an equality or IN list on the key
as the bucket predicate, so Athena reads only those buckets' folders: the
bytes scanned are exactly the sizes of the objects in them."""
import datetime
import hashlib
import uuid

import psycopg2
import pytest

from athena_tables import (athena_server, deliver_records, drop_table, ensure_buckets,
                           import_audit_table)
from conftest import connect

SERVER = "fdw_buckets"
BUCKET = "fdw-buckets-data"
RESULTS = "fdw-buckets-results"
DATABASE = "fdw_buckets"
ROLE = "arn:aws:iam::000000000000:role/firehose"
HOURS = 3
ORDERS = 40
RUN = uuid.uuid4().hex[:8]
STREAM = "buckets-" + RUN
LOCATION = f"s3://{BUCKET}/{RUN}/orders/"


def key_hash(value):
    # FIPS 180-4 SHA-256 (Python's hashlib), as pump/transform.c documents
    return hashlib.sha256(value.encode()).hexdigest()[-8:]


@pytest.fixture(scope="module")
def bucket_table(emulator):
    ensure_buckets(emulator.client("s3"), BUCKET, RESULTS)
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    athena_server(cur, SERVER, emulator.url, DATABASE, RESULTS)
    cur.execute("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, layout => 'event_time', "
                "key_buckets => 16, bucket_key => 'orderId')", (SERVER, STREAM, LOCATION, ROLE))
    assert cur.fetchone()[0] == "created"
    drop_table(emulator.client("glue"), DATABASE, "orders_audit")
    cur.execute(f"""SELECT audit_fdw.create_audit_table('{SERVER}', 'orders_audit',
        '{LOCATION}', 'orderId string, state string', database => '{DATABASE}',
        layout => 'event_time', key_buckets => 16)""")
    assert cur.fetchone()[0] == "created"

    top = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0,
                                                               microsecond=0)
    events = []
    records = []
    for h in range(HOURS):
        hour = top - datetime.timedelta(hours=HOURS - 1 - h)
        for i in range(ORDERS):
            at = hour + datetime.timedelta(seconds=i * 60 + 1)
            order = f"o{i}"
            records.append({"event_id": f"e{h}-{i}", "event_name": "MODIFY",
                            "event_time": at.strftime("%Y-%m-%d %H:%M:%S.000"),
                            "sequence_number": str(10 ** 21 + h * 100 + i),
                            "keys": {"orderId": order},
                            "key_hash": {"orderId": key_hash(order)},
                            "new_image": {"orderId": order, "state": f"S{h}"}})
            events.append((f"e{h}-{i}", order, at))
    # a record without the hash cannot be routed: kept under _errors/
    deliver_records(emulator, STREAM, records,
                    [b'{"event_id": "no hash", "event_time": "2024-01-01 00:00:00.000"}\n'])
    import_audit_table(cur, SERVER, DATABASE, "buckets")
    yield top, events
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute("DROP SCHEMA IF EXISTS buckets CASCADE")
    conn.close()


def objects(emulator):
    r = emulator.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"{RUN}/orders/")
    return {o["Key"]: o["Size"] for o in r.get("Contents", [])}


def bucket_bytes(emulator, buckets):
    """The bytes of the objects in those buckets' folders, every hour."""
    return sum(size for key, size in objects(emulator).items()
               if "/_errors/" not in key and key.rsplit("/", 2)[1] in buckets)


def last_query(cur):
    cur.execute("""SELECT bytes_scanned, athena_sql FROM audit_fdw.query_log
                    WHERE foreign_table = 'orders_audit' ORDER BY logged_at DESC LIMIT 1""")
    return cur.fetchone()


def test_records_land_in_their_hour_and_bucket(bucket_table, emulator):
    top, events = bucket_table
    keys = objects(emulator)
    folders = sorted({k.rsplit("/", 1)[0] for k in keys if "/_errors/" not in k})
    want = sorted({f"{RUN}/orders/{at:%Y/%m/%d/%H}/{key_hash(order)[-1]}"
                   for _, order, at in events})
    assert folders == want
    errors = [k for k in keys if k.startswith(f"{RUN}/orders/_errors/partitioning-failed/")]
    assert len(errors) == 1


def test_import_sets_the_bucket_options(bucket_table, db):
    cur = db.cursor()
    cur.execute("""SELECT ftoptions FROM pg_foreign_table
                    WHERE ftrelid = 'buckets.orders_audit'::regclass""")
    options = cur.fetchone()[0]
    assert "bucket_column=key_bucket" in options
    assert "bucket_key=orderId" in options
    assert "bucket_digits=1" in options
    assert "partition_layout=event_time" in options


def test_equality_reads_one_bucket(bucket_table, db, emulator):
    top, events = bucket_table
    cur = db.cursor()
    order = "o7"
    want = sorted(e for e, o, _ in events if o == order)
    sql = "SELECT event_id FROM buckets.orders_audit WHERE order_id = %s ORDER BY 1"
    cur.execute(sql, (order,))
    assert [r[0] for r in cur.fetchall()] == want
    scanned, athena_sql = last_query(cur)
    b = key_hash(order)[-1]
    assert f"(\"key_bucket\" = '{b}')" in athena_sql
    assert scanned == bucket_bytes(emulator, {b})

    cur.execute("SET audit_fdw.enable_pushdown = off")
    cur.execute(sql, (order,))
    assert [r[0] for r in cur.fetchall()] == want
    everything, athena_sql = last_query(cur)
    cur.execute("RESET audit_fdw.enable_pushdown")
    assert "key_bucket" not in athena_sql
    assert everything == bucket_bytes(emulator, set("0123456789abcdef"))
    assert scanned < everything


def test_in_list_reads_its_buckets_and_time_prunes_too(bucket_table, db, emulator):
    top, events = bucket_table
    cur = db.cursor()
    orders = ["o1", "o2", "o30"]
    buckets = sorted({key_hash(o)[-1] for o in orders})
    cur.execute("SELECT event_id FROM buckets.orders_audit WHERE order_id IN (%s, %s, %s) "
                "ORDER BY 1", orders)
    assert [r[0] for r in cur.fetchall()] == sorted(e for e, o, _ in events if o in orders)
    scanned, athena_sql = last_query(cur)
    if len(buckets) > 1:
        assert "(\"key_bucket\" IN (" + ", ".join(f"'{b}'" for b in buckets) + "))" in athena_sql
    assert scanned == bucket_bytes(emulator, set(buckets))

    # with the last hour only: that hour's folder of the bucket
    order = "o3"
    b = key_hash(order)[-1]
    cur.execute("SELECT event_id FROM buckets.orders_audit WHERE order_id = %s "
                "AND event_time >= %s", (order, top))
    assert [r[0] for r in cur.fetchall()] == [f"e{HOURS - 1}-3"]
    scanned, _ = last_query(cur)
    assert scanned == sum(size for key, size in objects(emulator).items()
                          if key.startswith(f"{RUN}/orders/{top:%Y/%m/%d/%H}/{b}/"))


def test_conditions_that_select_no_bucket_ship_none(bucket_table, db):
    cur = db.cursor()
    # a range, a non-deterministic match, and an expression of the key
    for cond in ("order_id > 'o5'", "order_id LIKE 'o1%'", "upper(order_id) = 'O1'",
                 "order_id = 'o1' OR event_name = 'x'"):
        cur.execute(f"SELECT count(*) FROM buckets.orders_audit WHERE {cond}")
        cur.fetchone()
        _, athena_sql = last_query(cur)
        assert "key_bucket" not in athena_sql, (cond, athena_sql)
    # two equalities: the bucket they have in common
    cur.execute("SELECT count(*) FROM buckets.orders_audit "
                "WHERE order_id IN ('o1', 'o2') AND order_id = 'o1'")
    assert cur.fetchone()[0] == HOURS
    _, athena_sql = last_query(cur)
    assert f"(\"key_bucket\" = '{key_hash('o1')[-1]}')" in athena_sql


def test_provisioning_checks_and_idempotency(bucket_table, db):
    cur = db.cursor()
    cur.execute("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, layout => 'event_time', "
                "key_buckets => 16, bucket_key => 'orderId')", (SERVER, STREAM, LOCATION, ROLE))
    assert cur.fetchone()[0] == "unchanged"
    # another bucket count or key: the same prefix, another extraction query
    for args in ("key_buckets => 256, bucket_key => 'orderId'",
                 "key_buckets => 16, bucket_key => 'customerId'"):
        with pytest.raises(psycopg2.errors.DuplicateObject) as e:
            cur.execute("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, "
                        f"layout => 'event_time', {args})", (SERVER, STREAM, LOCATION, ROLE))
        assert "extraction query" in e.value.diag.message_detail
    cur.execute(f"""SELECT audit_fdw.create_audit_table('{SERVER}', 'orders_audit',
        '{LOCATION}', 'orderId string, state string', database => '{DATABASE}',
        layout => 'event_time', key_buckets => 16)""")
    assert cur.fetchone()[0] == "unchanged"
    with pytest.raises(psycopg2.errors.DuplicateTable) as e:
        cur.execute(f"""SELECT audit_fdw.create_audit_table('{SERVER}', 'orders_audit',
            '{LOCATION}', 'orderId string, state string', database => '{DATABASE}',
            layout => 'event_time', key_buckets => 256)""")
    assert "partition" in e.value.diag.message_detail or \
        "bucket" in e.value.diag.message_detail, e.value.diag.message_detail
    db.rollback()
    for args, words in ((", layout => 'event_time', key_buckets => 10", "16, 256 or 4096"),
                        (", key_buckets => 16, bucket_key => 'orderId'", "event_time"),
                        (", layout => 'event_time', key_buckets => 16", "bucket_key")):
        with pytest.raises(psycopg2.errors.InvalidParameterValue) as e:
            cur.execute("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s" + args + ")",
                        (SERVER, "other-" + RUN, LOCATION, ROLE))
        err = e.value.diag
        assert words in (err.message_primary + (err.message_hint or "")), err.message_primary
        db.rollback()


def test_the_pump_writes_the_hash_firehose_routes_on(db, emulator):
    """A pipeline into a stream with key buckets: the pump's key_hash puts
    each change in the folder of its key's bucket."""
    from pump_env import PumpEnv
    env = PumpEnv(db, emulator, "buckets", create_pipeline=False)
    try:
        env.firehose.delete_delivery_stream(DeliveryStreamName=env.delivery_stream)
        with db.cursor() as cur:
            cur.execute("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, "
                        "layout => 'event_time', key_buckets => 256, bucket_key => 'orderId')",
                        (env.server, env.delivery_stream, f"s3://{env.bucket}/orders/", ROLE))
        for order in ("101", "102", "103"):
            env.put(order, "OPEN")
        env.create_pipeline()
        env.wait_delivered(3)
        emulator.flush_firehose(env.delivery_stream)
        recs = env.audit_records()
        assert sorted(r["key_hash"]["orderId"] for r in recs) == \
            sorted(key_hash(o) for o in ("101", "102", "103"))
        listed = env.s3.list_objects_v2(Bucket=env.bucket, Prefix="orders/")
        folders = {o["Key"].rsplit("/", 1)[0] for o in listed.get("Contents", [])}
        want = {datetime.datetime.strptime(r["event_time"], "%Y-%m-%d %H:%M:%S.%f")
                .strftime("orders/%Y/%m/%d/%H/") + key_hash(r["keys"]["orderId"])[-2:]
                for r in recs}
        assert folders == want
    finally:
        env.drop()
