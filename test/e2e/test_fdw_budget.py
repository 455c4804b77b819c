"""The byte budget: before a scan starts its Athena query, audit_fdw
estimates the bytes it will read from S3 listings of the folders its
partitions select, and refuses a query over max_bytes_scanned (server,
foreign table, user mapping option; setting audit_fdw.max_bytes_scanned;
the smallest wins) with the estimate and a hint; EXPLAIN shows the
estimate.  The workgroup's own BytesScannedCutoffPerQuery cancels a query
in Athena, and audit_fdw says why."""
import datetime
import json
import random
import uuid

import psycopg2
import pytest

import pushdown_fixture
from athena_tables import athena_server, drop_table, ensure_buckets
from conftest import connect

SERVER = "fdw_budget"
BUCKET = "fdw-budget-data"
RESULTS = "fdw-budget-results"
DATABASE = "fdw_budget"
RUN = uuid.uuid4().hex[:8]
PREFIX = f"{RUN}/orders/"
LOCATION = f"s3://{BUCKET}/{PREFIX}"


@pytest.fixture(scope="module")
def budget_table(emulator):
    ensure_buckets(emulator.client("s3"), BUCKET, RESULTS)
    rng = random.Random(15)
    recs = pushdown_fixture.records(600, datetime.datetime(2024, 1, 1), 20, rng)
    pushdown_fixture.write(emulator, BUCKET, PREFIX, recs, rng, "event_time", 1)
    emulator.configure(athena_min_query_ms=0)
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    athena_server(cur, SERVER, emulator.url, DATABASE, RESULTS)
    drop_table(emulator.client("glue"), DATABASE, "orders_audit")
    cur.execute(f"""SELECT audit_fdw.create_audit_table('{SERVER}', 'orders_audit',
        '{LOCATION}', '{pushdown_fixture.ITEM_COLUMNS}', database => '{DATABASE}',
        key_columns => '{pushdown_fixture.KEY_COLUMNS}', history => '100 years',
        layout => 'event_time', key_buckets => 16)""")
    cur.execute("DROP SCHEMA IF EXISTS budget CASCADE; CREATE SCHEMA budget")
    cur.execute(f"IMPORT FOREIGN SCHEMA {DATABASE} LIMIT TO (orders_audit) "
                f"FROM SERVER {SERVER} INTO budget")
    yield recs
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute("DROP SCHEMA IF EXISTS budget CASCADE")
    conn.close()


def objects(emulator, prefix=PREFIX):
    r = emulator.client("s3").get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix=prefix)
    return {o["Key"]: o["Size"] for page in r for o in page.get("Contents", [])}


def athena_queries(cur):
    cur.execute("SELECT count(*) FROM audit_fdw.query_log")
    return cur.fetchone()[0]


def explain(cur, sql, analyze=True):
    cur.execute(f"EXPLAIN (ANALYZE {'on' if analyze else 'off'}, VERBOSE, FORMAT JSON) {sql}")
    plan = cur.fetchone()[0][0]["Plan"]
    while "Estimated Data Scanned" not in plan and plan.get("Plans"):
        plan = plan["Plans"][0]
    return plan


def test_no_budget_no_estimate(budget_table, db):
    cur = db.cursor()
    plan = explain(cur, "SELECT count(*) FROM budget.orders_audit", analyze=False)
    assert "Estimated Data Scanned" not in plan


@pytest.mark.parametrize("where, selected", [
    ("TRUE", lambda rel: True),
    ("event_time >= '2024-01-05' AND event_time < '2024-01-07 03:00'",
     lambda rel: "2024/01/05/00" <= rel[:13] <= "2024/01/07/03"),
    ("order_id = '150'",
     lambda rel: rel[14] == pushdown_fixture.key_hash("150")[-1]),
    ("order_id IN ('150', '151') AND event_time >= '2024-01-10'",
     lambda rel: rel[:13] >= "2024/01/10/00" and rel[14] in
     {pushdown_fixture.key_hash("150")[-1], pushdown_fixture.key_hash("151")[-1]}),
])
def test_estimate_is_what_athena_reads(budget_table, db, emulator, where, selected):
    """The estimate is the size of the folders the query selects, which is
    what the emulator's Athena reads: equal to the byte."""
    cur = db.cursor()
    cur.execute("SET audit_fdw.max_bytes_scanned = '1TB'")
    want = sum(size for key, size in objects(emulator).items()
               if "/_" not in key and selected(key[len(PREFIX):]))
    plan = explain(cur, f"SELECT event_id FROM budget.orders_audit WHERE {where}")
    assert plan["Estimated Data Scanned"] == want
    assert plan["Data Scanned"] == want
    assert plan["Estimated Folders"] > 0


def test_a_query_over_budget_is_refused_before_athena_runs_it(budget_table, db, emulator):
    cur = db.cursor()
    total = sum(objects(emulator).values())
    assert total > 1024 * 1024, total
    before = athena_queries(cur)
    cur.execute("SET audit_fdw.max_bytes_scanned = '1MB'")
    with pytest.raises(psycopg2.errors.ConfigurationLimitExceeded) as e:
        cur.execute("SELECT count(*) FROM budget.orders_audit")
    err = e.value.diag
    assert "more than its budget of 1024 kB" in err.message_primary
    assert f"{total} bytes in" in err.message_detail
    assert f"s3://{BUCKET}/{PREFIX}2024/01/01/00/" in err.message_detail
    assert "audit_fdw.max_bytes_scanned" in err.message_detail
    assert "event_time" in err.message_hint and "SET audit_fdw.max_bytes_scanned" in err.message_hint
    assert athena_queries(cur) == before
    # narrowed, the same budget lets it run
    cur.execute("SELECT count(*) FROM budget.orders_audit WHERE order_id = '150'")
    assert cur.fetchone()[0] > 0
    assert athena_queries(cur) == before + 1


def test_the_smallest_budget_wins(budget_table, db):
    cur = db.cursor()
    cur.execute("SET audit_fdw.max_bytes_scanned = '1TB'")
    try:
        cur.execute(f"ALTER SERVER {SERVER} OPTIONS (ADD max_bytes_scanned '1TB')")
        cur.execute("ALTER FOREIGN TABLE budget.orders_audit "
                    "OPTIONS (ADD max_bytes_scanned '50kB')")
        with pytest.raises(psycopg2.errors.ConfigurationLimitExceeded) as e:
            cur.execute("SELECT count(*) FROM budget.orders_audit")
        assert 'foreign table "orders_audit"' in e.value.diag.message_detail
        cur.execute(f"ALTER USER MAPPING FOR CURRENT_USER SERVER {SERVER} "
                    "OPTIONS (ADD max_bytes_scanned '40kB')")
        with pytest.raises(psycopg2.errors.ConfigurationLimitExceeded) as e:
            cur.execute("SELECT count(*) FROM budget.orders_audit")
        assert "user mapping" in e.value.diag.message_detail
        # without the mapping's limit, one key's week fits the table's 50kB
        cur.execute(f"ALTER USER MAPPING FOR CURRENT_USER SERVER {SERVER} "
                    "OPTIONS (DROP max_bytes_scanned)")
        cur.execute("SELECT count(*) FROM budget.orders_audit WHERE order_id = '150' "
                    "AND event_time >= '2024-01-01' AND event_time < '2024-01-08'")
        assert cur.fetchone()[0] >= 0
    finally:
        cur.execute(f"ALTER SERVER {SERVER} OPTIONS (DROP max_bytes_scanned)")
        cur.execute("ALTER FOREIGN TABLE budget.orders_audit OPTIONS (DROP max_bytes_scanned)")
    for bad in ("lots", "-5MB", "0", "12 parsecs"):
        with pytest.raises(psycopg2.errors.FdwInvalidAttributeValue) as e:
            cur.execute(f"ALTER SERVER {SERVER} OPTIONS (ADD max_bytes_scanned '{bad}')")
        assert "10GB" in e.value.diag.message_hint


def test_explain_shows_the_estimate_without_running(budget_table, db, emulator):
    cur = db.cursor()
    before = athena_queries(cur)
    cur.execute("SET audit_fdw.max_bytes_scanned = '1TB'")
    plan = explain(cur, "SELECT event_id FROM budget.orders_audit "
                        "WHERE event_time >= '2024-01-05' AND event_time < '2024-01-05 23:30'",
                   analyze=False)
    want = sum(size for key, size in objects(emulator, PREFIX + "2024/01/05/").items())
    assert plan["Estimated Data Scanned"] == want
    assert plan["Estimated Folders"] == len({k.rsplit("/", 1)[0] for k in
                                             objects(emulator, PREFIX + "2024/01/05/")})
    assert plan["Byte Budget"] == 1024 ** 4
    # a bound known only at executor start: EXPLAIN says it is not applied
    plan = explain(cur, "SELECT event_id FROM budget.orders_audit "
                        "WHERE event_time >= now() - interval '1 day'", analyze=False)
    assert plan["Estimate Note"] == "bounds computed at executor start not applied"
    # at execution it is: the window holds nothing
    plan = explain(cur, "SELECT event_id FROM budget.orders_audit "
                        "WHERE event_time >= now() - interval '1 day'")
    assert plan["Estimated Data Scanned"] == 0 and "Estimate Note" not in plan
    assert athena_queries(cur) == before + 1


def test_listings_are_cached_for_a_ttl(budget_table, db, emulator):
    cur = db.cursor()
    cur.execute("SET audit_fdw.max_bytes_scanned = '1TB'")
    sql = ("SELECT event_id FROM budget.orders_audit "
           "WHERE event_time >= '2024-01-03' AND event_time < '2024-01-03 01:00'")
    first = explain(cur, sql, analyze=False)["Estimated Data Scanned"]
    extra = b'{"event_id": "late"}\n' * 100
    emulator.client("s3").put_object(Bucket=BUCKET, Key=PREFIX + "2024/01/03/00/0/late",
                                     Body=extra)
    try:
        assert explain(cur, sql, analyze=False)["Estimated Data Scanned"] == first
        cur.execute("SET audit_fdw.estimate_cache_ttl = 0")
        assert explain(cur, sql, analyze=False)["Estimated Data Scanned"] == first + len(extra)
    finally:
        emulator.client("s3").delete_object(Bucket=BUCKET, Key=PREFIX + "2024/01/03/00/0/late")


def test_the_workgroup_cutoff_cancels_and_is_explained(db, emulator):
    """BytesScannedCutoffPerQuery (at least 10,000,000 bytes in botocore's
    model): Athena cancels a query that scans more; audit_fdw says that the
    workgroup's limit did it, with both figures."""
    athena = emulator.client("athena")
    group = "capped-" + RUN
    athena.create_work_group(Name=group, Configuration={"BytesScannedCutoffPerQuery": 10000000})
    prefix = f"{RUN}/big/"
    s3 = emulator.client("s3")
    ensure_buckets(s3, BUCKET, RESULTS)
    # three hours of 4 MB each
    for h in range(3):
        line = json.dumps({"event_id": "x", "event_name": "MODIFY",
                           "event_time": f"2024-02-01 0{h}:00:00.000",
                           "keys": {"orderId": "1"},
                           "new_image": {"orderId": "1", "state": "z" * 4000}}) + "\n"
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}2024/02/01/0{h}/part",
                      Body=(line * (4 * 1024 * 1024 // len(line))).encode())
    cur = db.cursor()
    try:
        athena_server(cur, "fdw_capped", emulator.url, DATABASE, RESULTS)
        cur.execute(f"ALTER SERVER fdw_capped OPTIONS (ADD workgroup '{group}')")
        cur.execute(f"""SELECT audit_fdw.create_audit_table('fdw_capped', 'big_{RUN}',
            's3://{BUCKET}/{prefix}', 'orderId string, state string',
            database => '{DATABASE}', history => '100 years', layout => 'event_time')""")
        cur.execute("DROP SCHEMA IF EXISTS capped CASCADE; CREATE SCHEMA capped")
        cur.execute(f"IMPORT FOREIGN SCHEMA {DATABASE} LIMIT TO (big_{RUN}) "
                    "FROM SERVER fdw_capped INTO capped")
        cur.execute(f"SELECT count(*) FROM capped.big_{RUN} "
                    "WHERE event_time < '2024-02-01 01:00'")
        assert cur.fetchone()[0] > 0
        with pytest.raises(psycopg2.errors.ConfigurationLimitExceeded) as e:
            cur.execute(f"SELECT count(*) FROM capped.big_{RUN}")
        err = e.value.diag
        assert f'workgroup "{group}"' in err.message_primary
        assert "BytesScannedCutoffPerQuery is 10000000 bytes" in err.message_detail
        assert "workgroup" in err.message_hint
    finally:
        cur.execute("DROP SCHEMA IF EXISTS capped CASCADE")
        cur.execute("DROP SERVER IF EXISTS fdw_capped CASCADE")
        athena.delete_work_group(WorkGroup=group)
