"""Event-time partitions: create_delivery_stream and create_audit_table with
layout => 'event_time' route each audit record, through the emulator's
Firehose dynamic partitioning, into the folder of its own event hour; the
imported foreign table prunes on both time bounds exactly (no allowance for
clock skew or delivery delay) and returns the same rows as without
pushdown.  The delivery-hour layout stays the default."""
import datetime
import uuid

import psycopg2
import pytest

from aws_fixtures import create_server
from athena_tables import deliver_records, drop_table, import_audit_table
from conftest import connect

SERVER = "fdw_evtime"
BUCKET = "fdw-evtime-data"
RESULTS = "fdw-evtime-results"
DATABASE = "fdw_evtime"
ROLE = "arn:aws:iam::000000000000:role/firehose"
HOURS = 6
RUN = uuid.uuid4().hex[:8]
STREAM = "evtime-" + RUN
LOCATION = f"s3://{BUCKET}/{RUN}/orders/"


@pytest.fixture(scope="module")
def event_table(emulator):
    s3 = emulator.client("s3")
    for b in (BUCKET, RESULTS):
        try:
            s3.create_bucket(Bucket=b)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    create_server(cur, SERVER, emulator.url)
    cur.execute(f"""ALTER SERVER {SERVER} OPTIONS (ADD database '{DATABASE}',
        ADD output_location 's3://{RESULTS}/q/')""")
    cur.execute("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, layout => 'event_time')",
                (SERVER, STREAM, LOCATION, ROLE))
    assert cur.fetchone()[0] == "created"
    drop_table(emulator.client("glue"), DATABASE, "orders_audit")
    cur.execute(f"""SELECT audit_fdw.create_audit_table('{SERVER}', 'orders_audit',
        '{LOCATION}', 'orderId string, state string', database => '{DATABASE}',
        layout => 'event_time')""")

    # records of the last HOURS hours, all put now, in one batch, out of
    # order: the stream routes each by its own event_time
    top = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0,
                                                               microsecond=0)
    events = []
    records = []
    for h in range(HOURS):
        hour = top - datetime.timedelta(hours=HOURS - 1 - h)
        for i in range(20):
            at = hour + datetime.timedelta(minutes=i * 3, seconds=i)
            records.append({"event_id": f"e{h}-{i}", "event_name": "MODIFY",
                            "event_time": at.strftime("%Y-%m-%d %H:%M:%S.000"),
                            "sequence_number": str(10 ** 21 + h * 100 + i),
                            "keys": {"orderId": str(i)},
                            "new_image": {"orderId": str(i), "state": f"S{h}"}})
            events.append((f"e{h}-{i}", at))
    records.reverse()
    deliver_records(emulator, STREAM, records, [b'{"event_id": "no time"}\n'])
    import_audit_table(cur, SERVER, DATABASE, "evtime")
    yield top, events
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute("DROP SCHEMA IF EXISTS evtime CASCADE")
    conn.close()


def keys_under(emulator, prefix):
    r = emulator.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for o in r.get("Contents", [])]


def last_bytes(cur):
    cur.execute("""SELECT bytes_scanned, athena_sql FROM audit_fdw.query_log
                    WHERE foreign_table = 'orders_audit' ORDER BY logged_at DESC LIMIT 1""")
    return cur.fetchone()


def test_records_land_in_their_event_hour(event_table, emulator):
    top, events = event_table
    objects = keys_under(emulator, f"{RUN}/orders/")
    folders = sorted({k.rsplit("/", 1)[0] for k in objects if "/_errors/" not in k})
    want = sorted({f"{RUN}/orders/{at:%Y/%m/%d/%H}" for _, at in events})
    assert folders == want
    # the record without an event_time is kept under _errors/, which no
    # projected partition reads
    errors = [k for k in objects if k.startswith(f"{RUN}/orders/_errors/partitioning-failed/")]
    assert len(errors) == 1


def test_stream_and_table_are_idempotent_per_layout(event_table, db):
    cur = db.cursor()
    cur.execute("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, layout => 'event_time')",
                (SERVER, STREAM, LOCATION, ROLE))
    assert cur.fetchone()[0] == "unchanged"
    with pytest.raises(psycopg2.errors.DuplicateObject) as e:
        cur.execute("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s)",
                    (SERVER, STREAM, LOCATION, ROLE))
    assert "prefix" in e.value.diag.message_detail
    db.rollback()
    cur.execute(f"""SELECT audit_fdw.create_audit_table('{SERVER}', 'orders_audit',
        '{LOCATION}', 'orderId string, state string', database => '{DATABASE}',
        layout => 'event_time')""")
    assert cur.fetchone()[0] == "unchanged"
    with pytest.raises(psycopg2.errors.DuplicateTable) as e:
        cur.execute(f"""SELECT audit_fdw.create_audit_table('{SERVER}', 'orders_audit',
            '{LOCATION}', 'orderId string, state string', database => '{DATABASE}')""")
    assert "layout" in e.value.diag.message_detail
    db.rollback()
    with pytest.raises(psycopg2.errors.InvalidParameterValue):
        cur.execute("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, layout => 'hourly')",
                    (SERVER, STREAM, LOCATION, ROLE))
    db.rollback()


def test_import_sets_the_event_time_layout(event_table, db):
    cur = db.cursor()
    cur.execute("""SELECT ftoptions FROM pg_foreign_table
                    WHERE ftrelid = 'evtime.orders_audit'::regclass""")
    options = cur.fetchone()[0]
    assert "partition_layout=event_time" in options
    assert "partition_column=datehour" in options
    with pytest.raises(psycopg2.errors.FdwInvalidAttributeValue):
        cur.execute("ALTER FOREIGN TABLE evtime.orders_audit "
                    "OPTIONS (SET partition_layout 'hourly')")
    db.rollback()


def test_both_bounds_prune_exactly(event_table, db):
    top, events = event_table
    cur = db.cursor()
    # a window from 2 minutes past one hour to 2 minutes past the next:
    # exactly those two folders, with no five-minute skew before the lower
    # bound and no delay after the upper one
    low = top - datetime.timedelta(hours=3) + datetime.timedelta(minutes=2)
    high = top - datetime.timedelta(hours=2) + datetime.timedelta(minutes=2)
    want = sorted(e for e, at in events if low <= at < high)
    sql = ("SELECT event_id FROM evtime.orders_audit WHERE event_time >= %s "
           "AND event_time < %s ORDER BY event_id")
    cur.execute(sql, (low, high))
    assert [r[0] for r in cur.fetchall()] == want
    pruned, athena_sql = last_bytes(cur)
    assert f"(\"datehour\" >= '{low:%Y/%m/%d/%H}')" in athena_sql
    assert f"(\"datehour\" <= '{high:%Y/%m/%d/%H}')" in athena_sql

    cur.execute("SET audit_fdw.enable_pushdown = off")
    cur.execute(sql, (low, high))
    assert [r[0] for r in cur.fetchall()] == want
    everything, _ = last_bytes(cur)
    cur.execute("RESET audit_fdw.enable_pushdown")
    # 2 of the 6 hour folders are read
    assert 0 < pruned * 2.5 < everything

    # an equality reads one folder
    at = events[7][1]
    cur.execute("SELECT event_id FROM evtime.orders_audit WHERE event_time = %s", (at,))
    assert [r[0] for r in cur.fetchall()] == [events[7][0]]
    _, athena_sql = last_bytes(cur)
    assert f"(\"datehour\" >= '{at:%Y/%m/%d/%H}')" in athena_sql
    assert f"(\"datehour\" <= '{at:%Y/%m/%d/%H}')" in athena_sql


def test_runtime_upper_bound_prunes(event_table, db):
    top, events = event_table
    cur = db.cursor()
    cur.execute("""SELECT count(*) FROM evtime.orders_audit
                    WHERE event_time <= now() - interval '100 years'""")
    assert cur.fetchone()[0] == 0
    _, athena_sql = last_bytes(cur)
    assert "(\"datehour\" <= '192" in athena_sql


def test_the_pump_through_an_event_time_stream(db, emulator):
    """A pipeline into a stream made with layout => 'event_time': changes
    delivered three hours after they happened land in the folders of the
    hours they happened in."""
    from pump_env import PumpEnv
    env = PumpEnv(db, emulator, "evtime", create_pipeline=False)
    try:
        env.firehose.delete_delivery_stream(DeliveryStreamName=env.delivery_stream)
        with db.cursor() as cur:
            cur.execute("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, "
                        "layout => 'event_time')",
                        (env.server, env.delivery_stream, f"s3://{env.bucket}/orders/", ROLE))
        env.put("101", "OPEN")
        env.update_state("101", "DELIVERED")
        emulator.advance_clock(3 * 3600)
        env.create_pipeline()
        env.wait_delivered(2)
        emulator.flush_firehose(env.delivery_stream)
        listed = env.s3.list_objects_v2(Bucket=env.bucket, Prefix="orders/")
        keys = [o["Key"] for o in listed.get("Contents", [])]
        recs = env.audit_records()
        assert [r["new_image"]["state"] for r in recs] == ["OPEN", "DELIVERED"]
        hours = {datetime.datetime.strptime(r["event_time"], "%Y-%m-%d %H:%M:%S.%f")
                 .strftime("orders/%Y/%m/%d/%H") for r in recs}
        assert {k.rsplit("/", 1)[0] for k in keys} == hours, (keys, hours)
        # delivered three hours later, named by that arrival time
        for k in keys:
            folder = k.rsplit("/", 1)[0]
            arrived = datetime.datetime.strptime(k.rsplit("/", 1)[1].split("-1-", 1)[1][:19],
                                                 "%Y-%m-%d-%H-%M-%S")
            assert arrived.strftime("orders/%Y/%m/%d/%H") != folder
    finally:
        env.drop()
