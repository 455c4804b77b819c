"""Partition pruning from event time, against the emulator's partition
projection: a table made by create_audit_table and imported gets the
pruning options; a lower bound on event_time reads fewer hour folders
(fewer bytes scanned) and returns the same rows as without pushdown."""
import datetime
import json
import uuid

import pytest

from conftest import connect

SERVER = "fdw_prune"
BUCKET = "fdw-prune-data"
RESULTS = "fdw-prune-results"
DATABASE = "fdw_prune"
HOURS = 6
# objects of this run under their own prefix (see test_fdw_scan.py)
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def audit_table(emulator):
    s3 = emulator.client("s3")
    for b in (BUCKET, RESULTS):
        try:
            s3.create_bucket(Bucket=b)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    conn = connect()
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS audit_fdw")
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute(f"""CREATE SERVER {SERVER} FOREIGN DATA WRAPPER audit_fdw OPTIONS (
        endpoint '{emulator.url}', region 'us-east-1', database '{DATABASE}',
        output_location 's3://{RESULTS}/q/')""")
    cur.execute(f"""CREATE USER MAPPING FOR CURRENT_USER SERVER {SERVER}
        OPTIONS (access_key_id 'test', secret_access_key 'test')""")
    glue = emulator.client("glue")
    try:
        glue.delete_table(DatabaseName=DATABASE, Name="orders_audit")
    except Exception:
        pass
    cur.execute(f"""SELECT audit_fdw.create_audit_table('{SERVER}', 'orders_audit',
        's3://{BUCKET}/{RUN}/orders/', 'orderId string, state string',
        database => '{DATABASE}')""")

    # one Firehose object per delivery hour, the last HOURS hours
    top = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0,
                                                               microsecond=0)
    events = []
    for h in range(HOURS):
        hour = top - datetime.timedelta(hours=HOURS - 1 - h)
        records = []
        for i in range(40):
            # most happen in the hour they are delivered; the first was late
            at = hour + datetime.timedelta(minutes=10, seconds=i) if i else \
                hour - datetime.timedelta(minutes=2)
            records.append({"event_id": f"e{h}-{i}", "event_name": "MODIFY",
                            "event_time": at.strftime("%Y-%m-%d %H:%M:%S.000"),
                            "sequence_number": str(10 ** 21 + h * 100 + i),
                            "keys": {"orderId": str(i)},
                            "new_image": {"orderId": str(i), "state": f"S{h}"}})
            events.append((f"e{h}-{i}", at))
        s3.put_object(Bucket=BUCKET, Key=f"{RUN}/orders/{hour:%Y/%m/%d/%H}/orders-audit-1-{h}",
                      Body="".join(json.dumps(r) + "\n" for r in records).encode())
    cur.execute("DROP SCHEMA IF EXISTS prune CASCADE; CREATE SCHEMA prune")
    cur.execute(f"IMPORT FOREIGN SCHEMA {DATABASE} LIMIT TO (orders_audit) "
                f"FROM SERVER {SERVER} INTO prune")
    yield top, events
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute("DROP SCHEMA IF EXISTS prune CASCADE")
    conn.close()


def last_bytes(cur):
    cur.execute("""SELECT bytes_scanned, athena_sql FROM audit_fdw.query_log
                    WHERE foreign_table = 'orders_audit' ORDER BY logged_at DESC LIMIT 1""")
    return cur.fetchone()


def test_import_sets_the_pruning_options(audit_table, db):
    cur = db.cursor()
    cur.execute("""SELECT ftoptions FROM pg_foreign_table
                    WHERE ftrelid = 'prune.orders_audit'::regclass""")
    options = cur.fetchone()[0]
    assert "time_column=event_time" in options
    assert "partition_column=datehour" in options
    assert "partition_format=yyyy/MM/dd/HH" in options


def test_lower_bound_prunes_hours_and_keeps_rows(audit_table, db):
    top, events = audit_table
    cur = db.cursor()
    cutoff = top - datetime.timedelta(hours=2) + datetime.timedelta(minutes=5)
    want = sorted(e for e, at in events if at >= cutoff)
    sql = ("SELECT event_id FROM prune.orders_audit WHERE event_time >= %s "
           "ORDER BY event_id")

    cur.execute(sql, (cutoff,))
    assert [r[0] for r in cur.fetchall()] == want
    pruned, athena_sql = last_bytes(cur)
    assert f"(\"datehour\" >= '{cutoff - datetime.timedelta(minutes=5):%Y/%m/%d/%H}')" \
        in athena_sql

    cur.execute("SET audit_fdw.enable_pushdown = off")
    cur.execute(sql, (cutoff,))
    assert [r[0] for r in cur.fetchall()] == want
    everything, _ = last_bytes(cur)
    cur.execute("RESET audit_fdw.enable_pushdown")
    # 3 of the 6 hour folders are read
    assert 0 < pruned * 1.5 < everything


def test_runtime_bound_prunes_too(audit_table, db):
    top, events = audit_table
    cur = db.cursor()
    cur.execute("""SELECT count(*) FROM prune.orders_audit
                    WHERE event_time >= now() - interval '100 years'""")
    assert cur.fetchone()[0] == len(events)
    _, athena_sql = last_bytes(cur)
    # the bound, computed at executor start, is a century back
    assert "(\"datehour\" >= '192" in athena_sql
