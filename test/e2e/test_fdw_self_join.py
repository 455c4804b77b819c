"""A self-join of the audit table read in one scan: an inner join of two
scans of the same Glue table on an equal column is shipped as one scan
grouped by that key (array_agg of each side's rows, then UNNEST of both),
so Athena reads the folders either side selects once, where a join reads
them once per side.  The table is laid out by event hour and key bucket
(create_delivery_stream and create_audit_table, records through the
emulator's Firehose dynamic partitioning), the bytes Athena scanned are
checked against the sizes of the folders, and every answer against the
same query with the rewrite off and with pushdown off."""
import datetime
import hashlib
import uuid

import pytest

from athena_tables import bucketed_audit_table, deliver_records, import_audit_table
from conftest import connect

SERVER = "fdw_selfjoin"
BUCKET = "fdw-selfjoin-data"
RESULTS = "fdw-selfjoin-results"
DATABASE = "fdw_selfjoin"
ROLE = "arn:aws:iam::000000000000:role/firehose"
RUN = uuid.uuid4().hex[:8]
STREAM = "selfjoin-" + RUN
LOCATION = f"s3://{BUCKET}/{RUN}/orders/"
DAYS = 4
ORDERS = 30


def key_hash(value):
    # FIPS 180-4 SHA-256 (Python's hashlib), as pump/transform.c documents
    return hashlib.sha256(value.encode()).hexdigest()[-8:]


@pytest.fixture(scope="module")
def table(emulator):
    """Orders over DAYS days: each OPEN, DELIVERED and (every third)
    RETURNED the day after; some orders have a DELIVERED record twice
    (duplicate keys on both sides), some records no note (NULL keys)."""
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    bucketed_audit_table(emulator, cur, SERVER, STREAM, LOCATION, RESULTS, ROLE,
                         "orderId string, state string, note string, qty int", "100 years")
    start = datetime.datetime(2024, 3, 1, tzinfo=datetime.timezone.utc)
    records = []
    seq = 10 ** 21

    def add(order, at, old, new, note, qty):
        nonlocal seq
        seq += 1
        image = {"orderId": order, "state": new, "qty": qty}
        if note is not None:
            image["note"] = note
        rec = {"event_id": f"e{seq}", "event_name": "MODIFY",
               "event_time": at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
               "sequence_number": str(seq), "keys": {"orderId": order},
               "key_hash": {"orderId": key_hash(order)}, "new_image": image}
        if old is not None:
            rec["old_image"] = {"orderId": order, "state": old}
        records.append(rec)

    for i in range(ORDERS):
        order = f"o{i}"
        at = start + datetime.timedelta(hours=(i * 7) % (24 * (DAYS - 1)), minutes=i)
        note = None if i % 4 == 0 else f"n{i % 3}"
        add(order, at, None, "OPEN", note, i % 5)
        add(order, at + datetime.timedelta(hours=3), "OPEN", "DELIVERED", note, i % 5)
        if i % 5 == 0:
            add(order, at + datetime.timedelta(hours=4), "OPEN", "DELIVERED", None, i % 3)
        if i % 3 == 0:
            add(order, at + datetime.timedelta(hours=20), "DELIVERED", "RETURNED", note, i % 7)
    deliver_records(emulator, STREAM, records)
    import_audit_table(cur, SERVER, DATABASE, "selfjoin")
    cur.execute("SELECT count(*), count(order_id), count(new_state) FROM selfjoin.orders_audit")
    assert cur.fetchone() == (len(records),) * 3
    yield start
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute("DROP SCHEMA IF EXISTS selfjoin CASCADE")
    conn.close()


def folder_bytes(emulator, lowest, highest):
    """The bytes of every object in the hour folders from lowest to highest
    (yyyy/MM/dd/HH, both included: an upper bound's hour is read)."""
    r = emulator.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"{RUN}/orders/")
    return sum(o["Size"] for o in r.get("Contents", [])
               if "/_errors/" not in o["Key"] and
               lowest <= o["Key"][len(f"{RUN}/orders/"):][:13] <= highest)


def last_query(cur):
    cur.execute("""SELECT bytes_scanned, athena_sql FROM audit_fdw.query_log
                    WHERE server = %s ORDER BY logged_at DESC LIMIT 1""", (SERVER,))
    return cur.fetchone()


def answers(cur, sql):
    """The rows of sql with the rewrite, without it and without pushdown."""
    out = []
    for settings in ((), ("audit_fdw.enable_self_join_scan",), ("audit_fdw.enable_pushdown",)):
        for s in settings:
            cur.execute(f"SET {s} = off")
        cur.execute(sql)
        out.append(sorted(cur.fetchall(), key=repr))
        for s in settings:
            cur.execute(f"RESET {s}")
    return out


DELIVERED_RETURNED = """
    SELECT d.order_id, d.event_time, r.event_time FROM selfjoin.orders_audit d
      JOIN selfjoin.orders_audit r ON r.order_id = d.order_id
     WHERE d.new_state = 'DELIVERED' AND r.old_state = 'DELIVERED'
       AND r.new_state = 'RETURNED'
       AND d.event_time >= '2024-03-01' AND d.event_time < '2024-03-03'
       AND r.event_time >= '2024-03-01' AND r.event_time < '2024-03-03'"""


def test_the_table_is_scanned_once(table, db, emulator):
    cur = db.cursor()
    once, twice, local = answers(cur, DELIVERED_RETURNED)
    assert once == twice == local
    assert len(once) >= 4
    # duplicate DELIVERED records of an order: each pairs with its return
    assert len(once) > len({r[0] for r in once})

    cur.execute(DELIVERED_RETURNED)
    scanned, sql = last_query(cur)
    assert sql.count('"orders_audit"') == 1, sql
    assert 'CROSS JOIN UNNEST("audit_fdw_keys"."audit_fdw_rows1")' in sql
    assert scanned == folder_bytes(emulator, "2024/03/01/00", "2024/03/03/00")

    cur.execute("SET audit_fdw.enable_self_join_scan = off")
    cur.execute(DELIVERED_RETURNED)
    scanned_twice, sql = last_query(cur)
    cur.execute("RESET audit_fdw.enable_self_join_scan")
    assert sql.count('"orders_audit"') == 2, sql
    assert scanned_twice == 2 * scanned


def test_the_estimate_counts_the_folders_once(table, db, emulator):
    cur = db.cursor()
    cur.execute("SET audit_fdw.max_bytes_scanned = '1GB'")
    cur.execute("EXPLAIN (VERBOSE, COSTS OFF) " + DELIVERED_RETURNED)
    plan = "\n".join(r[0] for r in cur.fetchall())
    assert "CROSS JOIN UNNEST" in plan
    estimate = [line for line in plan.splitlines() if "Estimated Data Scanned" in line]
    cur.execute("RESET audit_fdw.max_bytes_scanned")
    want = folder_bytes(emulator, "2024/03/01/00", "2024/03/03/00")
    assert estimate and f"{want} bytes" in estimate[0], plan


def test_either_sides_folders_are_read(table, db, emulator):
    """Sides over different days: the folders of both, each once."""
    cur = db.cursor()
    sql = """SELECT d.event_id, r.event_id FROM selfjoin.orders_audit d
               JOIN selfjoin.orders_audit r ON r.order_id = d.order_id
              WHERE d.event_time >= '2024-03-01' AND d.event_time < '2024-03-02'
                AND r.event_time >= '2024-03-02' AND r.event_time < '2024-03-03'"""
    once, twice, local = answers(cur, sql)
    assert once == twice == local and once
    cur.execute(sql)
    scanned, athena_sql = last_query(cur)
    assert " OR (" in athena_sql and "CROSS JOIN UNNEST" in athena_sql
    assert scanned == folder_bytes(emulator, "2024/03/01/00", "2024/03/03/00")


def test_key_buckets_of_both_sides(table, db, emulator):
    cur = db.cursor()
    sql = """SELECT d.event_id, r.event_id FROM selfjoin.orders_audit d
               JOIN selfjoin.orders_audit r ON r.order_id = d.order_id
              WHERE d.order_id IN ('o3', 'o6') AND r.order_id IN ('o6', 'o9')"""
    once, twice, local = answers(cur, sql)
    assert once == twice == local and once
    cur.execute(sql)
    scanned, athena_sql = last_query(cur)
    assert "CROSS JOIN UNNEST" in athena_sql and '"key_bucket" IN (' in athena_sql
    r = emulator.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"{RUN}/orders/")
    buckets = {key_hash(o)[-1] for o in ("o3", "o6", "o9")}
    assert scanned == sum(o["Size"] for o in r["Contents"]
                          if "/_errors/" not in o["Key"] and
                          o["Key"].rsplit("/", 2)[1] in buckets)


@pytest.mark.parametrize("sql", [
    # NULL keys on both sides, duplicates, an extra join clause
    """SELECT a.event_id, b.event_id, a.new_note FROM selfjoin.orders_audit a
         JOIN selfjoin.orders_audit b ON a.new_note = b.new_note""",
    """SELECT a.event_id, b.event_id FROM selfjoin.orders_audit a
         JOIN selfjoin.orders_audit b ON a.order_id = b.order_id
          AND a.event_time < b.event_time""",
    # a side without a match
    """SELECT a.event_id, b.event_id FROM selfjoin.orders_audit a
         JOIN selfjoin.orders_audit b ON a.order_id = b.order_id
        WHERE b.new_state = 'NOPE'""",
    # different columns per side, struct and json columns
    """SELECT a.new_image, b.keys, b.old_image, a.event_name FROM selfjoin.orders_audit a
         JOIN selfjoin.orders_audit b ON a.order_id = b.order_id
        WHERE a.new_state = 'OPEN'""",
    # grouping, ordering and a limit over the join
    """SELECT a.new_state, count(*), max(b.event_time) FROM selfjoin.orders_audit a
         JOIN selfjoin.orders_audit b ON a.order_id = b.order_id GROUP BY 1""",
    """SELECT a.event_id, b.event_id FROM selfjoin.orders_audit a
         JOIN selfjoin.orders_audit b ON a.order_id = b.order_id
        ORDER BY a.event_id, b.event_id LIMIT 7""",
])
def test_one_scan_gives_the_joins_rows(table, db, sql):
    cur = db.cursor()
    once, twice, local = answers(cur, sql)
    assert once == twice == local
    cur.execute(sql)
    _, athena_sql = last_query(cur)
    assert "CROSS JOIN UNNEST" in athena_sql, athena_sql


# two IN lists of about 60 KB each: written twice each, they would take the
# text near Athena's 262,144 bytes
BIG_LIST = ", ".join(f"'o{i}'" for i in range(3)) + ", " + \
    ", ".join(f"'order-{i:08d}'" for i in range(3400))


@pytest.mark.parametrize("sql", [
    f"""SELECT a.event_id, b.event_id FROM selfjoin.orders_audit a
         JOIN selfjoin.orders_audit b ON a.order_id = b.order_id
        WHERE a.order_id IN ({BIG_LIST}) AND b.order_id IN ({BIG_LIST})""",
    # (a struct column of a join keeps its declared field case: orderId)
    """SELECT a.event_id, b.event_id, b.keys FROM selfjoin.orders_audit a
         LEFT JOIN selfjoin.orders_audit b ON a.order_id = b.order_id
          AND b.new_state = 'RETURNED'""",
    """SELECT a.event_id, b.event_id FROM selfjoin.orders_audit a
         JOIN selfjoin.orders_audit b ON a.order_id = b.new_order_id""",
    """SELECT a.event_id, b.event_id FROM selfjoin.orders_audit a
         JOIN selfjoin.orders_audit b ON a.event_id < b.event_id AND a.order_id < 'o11'""",
])
def test_other_joins_stay_two_scans(table, db, sql):
    cur = db.cursor()
    once, twice, local = answers(cur, sql)
    assert once == twice == local and once
    cur.execute(sql)
    _, athena_sql = last_query(cur)
    assert "UNNEST" not in athena_sql and athena_sql.count('"orders_audit"') == 2, athena_sql
