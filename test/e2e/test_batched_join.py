"""The batched join (src/fdw/batchjoin.c): a local table joined with an audit
table by sending the keys of a batch of local rows to Athena as one IN list.

A differential test over generated joins: each query runs with the batched
join available (audit_fdw.enable_pushdown on, the audit table said to be
huge, so that the planner takes it) and fully local (pushdown off, which
also turns the batched join off), and the rows must be the same multiset.
The generator varies the key (text, integers of other widths, a cast on the
local side, strings with quotes, backslashes and unicode, booleans), the
join type (inner, left, EXISTS, IN, NOT EXISTS), extra conditions on the
join and on either side, NULL and duplicate keys on both sides, and the
batch size (1 to 1000, so that joins take several batches).  It fails on a
difference, on an error, or when fewer than 60% of the queries used the
batched join.

Then: a batch whose IN list would pass Athena's 262,144-byte limit is split
(every query sent stays under it), a key that cannot fit is an error, the
counts EXPLAIN ANALYZE shows, a batch of NULL keys runs no query, the cost
picks the batched join only for a small local side, keys on the bucket key
send their buckets and read less, a rescan with new outer values (a
correlated subquery, LATERAL) starts over, and a cancel stops the running
Athena query.
"""
import datetime
import os
import random
import sys

import psycopg2
import pytest

from conftest import connect
from test_fdw_scan import athena_requests, cancel_during, stopped_ids

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import athena_tables  # noqa: E402
import pushdown_fixture  # noqa: E402

SERVER = "batched_join"
BUCKET = "batched-join-data"
RESULTS = "batched-join-results"
DATABASE = "batched_join"
SCHEMA = "bj"
QUERIES = int(os.environ.get("BATCHED_JOIN_QUERIES", "160"))
SEED = int(os.environ.get("BATCHED_JOIN_SEED", "20261205"))
ATHENA_MAX_QUERY_BYTES = 262144
LAYOUT_OPTIONS = """time_column 'event_time', partition_column 'datehour',
    partition_format 'yyyy/MM/dd/HH', partition_layout 'event_time',
    bucket_column 'key_bucket', bucket_key 'orderId', bucket_digits '1'"""

COLUMNS = """
    event_id text, event_name text, event_time timestamptz,
    order_id text OPTIONS (column_name 'keys', path 'orderId'),
    new_state text OPTIONS (column_name 'new_image', path 'state'),
    note text OPTIONS (column_name 'new_image', path 'note'),
    old_note varchar OPTIONS (column_name 'old_image', path 'note'),
    qty integer OPTIONS (column_name 'new_image', path 'qty'),
    express boolean OPTIONS (column_name 'new_image', path 'express'),
    updated bigint OPTIONS (column_name 'new_image', path 'lastUpdatedDate')"""


@pytest.fixture(scope="module")
def setup(emulator):
    rng = random.Random(SEED)
    athena_tables.ensure_buckets(emulator.client("s3"), BUCKET, RESULTS)
    # event-hour folders with 16 key buckets: keys on orderId also send
    # their buckets
    recs = pushdown_fixture.records(60, datetime.datetime(2024, 1, 1), 20, rng)
    pushdown_fixture.write(emulator, BUCKET, "orders/", recs, rng, "event_time", 1)
    emulator.configure(athena_min_query_ms=0)

    conn = connect()
    cur = conn.cursor()
    athena_tables.athena_server(cur, SERVER, emulator.url, DATABASE, RESULTS)
    glue = emulator.client("glue")
    try:
        glue.delete_table(DatabaseName=DATABASE, Name="orders_audit")
    except Exception:
        pass
    cur.execute(f"""SELECT audit_fdw.create_audit_table('{SERVER}', 'orders_audit',
        location => 's3://{BUCKET}/orders/', database => '{DATABASE}',
        item_columns => '{pushdown_fixture.ITEM_COLUMNS}',
        key_columns => '{pushdown_fixture.KEY_COLUMNS}', history => '100 years',
        layout => 'event_time', key_buckets => 16)""")
    cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    cur.execute(f"CREATE SCHEMA {SCHEMA}")
    # big: said to be huge, so that a few local rows take the batched join;
    # small: the planner's default size
    cur.execute(f"""CREATE FOREIGN TABLE {SCHEMA}.big ({COLUMNS})
        SERVER {SERVER} OPTIONS ("table" 'orders_audit', estimated_rows '1000000000',
            {LAYOUT_OPTIONS})""")
    cur.execute(f"""CREATE FOREIGN TABLE {SCHEMA}.small ({COLUMNS})
        SERVER {SERVER} OPTIONS ("table" 'orders_audit', {LAYOUT_OPTIONS})""")

    # the local side: keys that are in the history, twice or more, absent,
    # NULL, and strings that stress the literals
    cur.execute(f"""CREATE TABLE {SCHEMA}.local (id serial, grp int, k text, n int,
        big bigint, flag boolean, note text)""")
    rows = []
    notes = pushdown_fixture.NOTES + ["absent", None]
    updated = sorted({r["new_image"]["lastUpdatedDate"] for r in recs if r.get("new_image")})
    for i in range(240):
        n = rng.choice([rng.randrange(95, 170), rng.randrange(-3, 45), None])
        k = rng.choice([str(rng.randrange(98, 165)), str(rng.randrange(98, 165)), None,
                        "999", "it's", "1 0 1", "101 ", "é"])
        big = rng.choice([rng.choice(updated), rng.randrange(-3, 45), None,
                          9223372036854775807])
        rows.append((i % 24, k, n, big, rng.choice([True, False, None]), rng.choice(notes)))
    cur.executemany(f"INSERT INTO {SCHEMA}.local (grp, k, n, big, flag, note)"
                    " VALUES (%s, %s, %s, %s, %s, %s)", rows)
    cur.execute(f"ANALYZE {SCHEMA}.local")
    conn.close()
    return recs


# (condition on a and l, whether it can carry the keys)
KEYS = [
    "a.order_id = l.k",
    "l.k = a.order_id",
    "a.order_id = l.n::text",
    "a.order_id = upper(l.k)",
    "a.qty = l.n",
    "a.updated = l.n",
    "a.updated = l.big",
    "a.qty = l.big",
    "a.note = l.note",
    "a.old_note = l.note",
    "a.express = l.flag",
]
EXTRA_ON = ["", "", " AND a.new_state <> 'OPEN'", " AND a.qty > l.n",
            " AND a.event_name = 'MODIFY'", " AND coalesce(a.note, '') <> coalesce(l.note, 'x')"]
OUTER_WHERE = ["l.grp = {g}", "l.grp IN ({g}, {h})", "l.grp = {g} AND l.k IS NOT NULL",
               "l.grp < 3", "l.grp = {g} OR l.n IS NULL"]
INNER_WHERE = ["", " AND a.event_time >= '2024-01-05'", " AND a.qty IS NOT NULL",
               " AND a.new_state IN ('DELIVERED', 'RETURNED')"]


def generate(rng):
    key = rng.choice(KEYS)
    on = key + rng.choice(EXTRA_ON)
    outer = rng.choice(OUTER_WHERE).format(g=rng.randrange(24), h=rng.randrange(24))
    inner = rng.choice(INNER_WHERE)
    t = f"{SCHEMA}.big a"
    kind = rng.randrange(5)
    if kind == 0:
        return (f"SELECT l.id, l.k, a.event_id, a.new_state, a.qty FROM {SCHEMA}.local l"
                f" JOIN {t} ON {on} WHERE ({outer}){inner}")
    if kind == 1:
        post = rng.choice(["", " AND a.event_id IS NULL", " AND (a.qty IS NULL OR a.qty > 3)"])
        return (f"SELECT l.id, l.k, a.event_id, a.note FROM {SCHEMA}.local l"
                f" LEFT JOIN {t} ON {on}{inner} WHERE ({outer}){post}")
    if kind == 2:
        return (f"SELECT l.id, l.k, l.n FROM {SCHEMA}.local l WHERE ({outer})"
                f" AND EXISTS (SELECT 1 FROM {t} WHERE {on}{inner})")
    if kind == 3:
        return (f"SELECT l.id, l.note FROM {SCHEMA}.local l WHERE ({outer})"
                f" AND NOT EXISTS (SELECT 1 FROM {t} WHERE {on}{inner})")
    col, inner_col = rng.choice([("l.k", "a.order_id"), ("l.n", "a.qty"), ("l.note", "a.note")])
    return (f"SELECT l.id, {col} FROM {SCHEMA}.local l WHERE ({outer})"
            f" AND {col} IN (SELECT {inner_col} FROM {t} WHERE true{inner})")


def run(cur, sql, pushdown, batch_size=1000):
    cur.execute(f"SET audit_fdw.enable_pushdown = {'on' if pushdown else 'off'}")
    cur.execute(f"SET audit_fdw.join_batch_size = {batch_size}")
    cur.execute(sql)
    return sorted(cur.fetchall(), key=repr)


def plan(cur, sql, analyze=False):
    cur.execute(f"EXPLAIN (VERBOSE, COSTS OFF{', ANALYZE, TIMING OFF' if analyze else ''}) {sql}")
    return "\n".join(r[0] for r in cur.fetchall())


def athena_queries_logged(cur):
    cur.execute("SELECT count(*) FROM audit_fdw.query_log")
    return cur.fetchone()[0]


def force_batched_join(cur, on):
    """The plain joins made dearer than any (they stay possible)."""
    for s in ("enable_hashjoin", "enable_mergejoin", "enable_nestloop"):
        cur.execute(f"SET {s} = {'off' if on else 'on'}")


def test_generated_joins_match_the_local_join(setup):
    rng = random.Random(SEED)
    conn = connect()
    cur = conn.cursor()
    # the joins turned off cost 1e10 more (disable_cost): every such plan
    # would be compiled by JIT (50 to 180 ms a query), which changes no row
    cur.execute("SET jit = off")
    differences, errors, batched, rows, batches = [], [], 0, 0, 0
    for i in range(QUERIES):
        sql = generate(rng)
        size = rng.choice([1, 2, 3, 7, 1000])
        # every Athena query of a batch scans the whole table, so the cost
        # takes the batched join for one batch or two; to join through many
        # batches too, most queries make the other joins dearer
        forced = rng.random() < 0.6
        try:
            cur.execute("SET audit_fdw.enable_pushdown = on")
            cur.execute(f"SET audit_fdw.join_batch_size = {size}")
            force_batched_join(cur, forced)
            # the plan without ANALYZE, which would run the join once more;
            # the Athena queries of the run are counted in the query log
            p = plan(cur, sql)
            logged = athena_queries_logged(cur)
            on = run(cur, sql, True, size)
            sent = athena_queries_logged(cur) - logged
            force_batched_join(cur, False)
            off = run(cur, sql, False)
        except psycopg2.Error as e:
            errors.append((sql, str(e)))
            continue
        if "AuditBatchedJoin" in p:
            batched += 1
            batches += sent
        rows += len(off)
        if on != off:
            differences.append((sql, size, len(on), len(off)))
    conn.close()
    print(f"\n{QUERIES} joins, {batched} through the batched join ({batches} Athena queries), "
          f"{rows} rows compared, {len(differences)} differences, {len(errors)} errors")
    assert not errors, errors[:3]
    assert not differences, differences[:3]
    assert batched >= QUERIES * 0.6, batched


def test_a_batch_too_long_for_one_query_is_split(setup, db):
    """3,000 keys of 200 bytes are 600 KiB of literals: one batch of 100,000
    rows becomes several Athena queries, each within the limit."""
    cur = db.cursor()
    cur.execute(f"DROP TABLE IF EXISTS {SCHEMA}.long_keys")
    cur.execute(f"CREATE TABLE {SCHEMA}.long_keys (k text)")
    cur.execute(f"""INSERT INTO {SCHEMA}.long_keys
        SELECT lpad(g::text, 200, 'x') FROM generate_series(1, 3000) g
        UNION ALL SELECT g::text FROM generate_series(100, 130) g""")
    cur.execute(f"ANALYZE {SCHEMA}.long_keys")
    sql = (f"SELECT l.k, a.event_id FROM {SCHEMA}.long_keys l"
           f" JOIN {SCHEMA}.big a ON a.order_id = l.k")
    cur.execute("SET audit_fdw.join_batch_size = 100000")
    force_batched_join(cur, True)
    cur.execute("SELECT coalesce(max(logged_at), '-infinity') FROM audit_fdw.query_log")
    since = cur.fetchone()[0]
    p = plan(cur, sql, analyze=True)
    assert "AuditBatchedJoin" in p, p
    queries = int(p.split("Athena Queries:")[1].split()[0])
    assert queries >= 3, p
    assert "Batches: %d" % queries in p, p
    cur.execute("SELECT length(athena_sql) FROM audit_fdw.query_log WHERE logged_at > %s",
                (since,))
    lengths = [r[0] for r in cur.fetchall()]
    assert len(lengths) == queries and max(lengths) <= ATHENA_MAX_QUERY_BYTES, lengths
    assert max(lengths) > ATHENA_MAX_QUERY_BYTES * 0.9, lengths
    on = run(cur, sql, True, 100000)
    assert on == run(cur, sql, False) and len(on) > 0


def test_a_key_longer_than_a_query_is_an_error(setup, db):
    cur = db.cursor()
    cur.execute(f"DROP TABLE IF EXISTS {SCHEMA}.one_long_key")
    cur.execute(f"CREATE TABLE {SCHEMA}.one_long_key AS SELECT repeat('x', 300000) AS k")
    cur.execute(f"ANALYZE {SCHEMA}.one_long_key")
    force_batched_join(cur, True)
    sql = f"SELECT a.event_id FROM {SCHEMA}.one_long_key l JOIN {SCHEMA}.big a ON a.order_id = l.k"
    assert "AuditBatchedJoin" in plan(cur, sql)
    with pytest.raises(psycopg2.errors.ProgramLimitExceeded) as e:
        cur.execute(sql)
    assert "too long for an Athena query" in str(e.value)
    assert e.value.diag.message_hint.startswith("Set audit_fdw.enable_batched_join to off")


def test_explain_analyze_counts_batches_queries_and_keys(setup, db):
    cur = db.cursor()
    cur.execute(f"DROP TABLE IF EXISTS {SCHEMA}.ten")
    cur.execute(f"CREATE TABLE {SCHEMA}.ten (k text)")
    # 10 rows: 7 distinct keys, a duplicate, two NULLs
    cur.execute(f"""INSERT INTO {SCHEMA}.ten VALUES ('101'), ('102'), ('103'), ('101'),
        (NULL), ('104'), ('105'), (NULL), ('106'), ('107')""")
    cur.execute(f"ANALYZE {SCHEMA}.ten")
    cur.execute("SET audit_fdw.join_batch_size = 4")
    sql = f"SELECT t.k, a.event_id FROM {SCHEMA}.ten t LEFT JOIN {SCHEMA}.big a ON a.order_id = t.k"
    p = plan(cur, sql, analyze=True)
    assert "Batch Size: 4" in p and "Join Type: Left" in p, p
    # rows 1-4: 101 102 103 (101 again); 5-8: 104 105; 9-10: 106 107
    assert "Batches: 3" in p and "Athena Queries: 3" in p and "Keys Sent: 7" in p, p
    assert "IN ($1)" in p, p
    cur.execute(f"DELETE FROM {SCHEMA}.ten WHERE k IS NOT NULL")
    p = plan(cur, sql, analyze=True)
    # only NULL keys: no query, the rows null-extended
    assert "Athena Queries: 0" in p, p
    cur.execute(sql)
    assert cur.fetchall() == [(None, None), (None, None)]


def test_cost_takes_it_for_a_small_local_side_only(setup, db):
    """The issue's question at the default costs: a few VIP customers joined
    with the history take the batched join; every customer takes the plain
    scan and a hash join."""
    cur = db.cursor()
    cur.execute(f"DROP TABLE IF EXISTS {SCHEMA}.customers")
    cur.execute(f"CREATE TABLE {SCHEMA}.customers (order_id text, segment text)")
    cur.execute(f"""INSERT INTO {SCHEMA}.customers
        SELECT (100 + g % 60)::text, CASE WHEN g % 50 = 0 THEN 'vip' ELSE 'std' END
          FROM generate_series(1, 5000) g""")
    cur.execute(f"ANALYZE {SCHEMA}.customers")
    vip = (f"SELECT c.order_id, a.event_time, a.new_state FROM {SCHEMA}.customers c"
           f" JOIN {SCHEMA}.small a ON a.order_id = c.order_id WHERE c.segment = 'vip'")
    p = plan(cur, vip)
    assert "AuditBatchedJoin" in p, p
    on = run(cur, vip, True)
    assert on == run(cur, vip, False) and on
    everyone = vip.replace(" WHERE c.segment = 'vip'", "")
    p = plan(cur, everyone)
    assert "AuditBatchedJoin" not in p and "Hash Join" in p, p
    cur.execute("SET audit_fdw.enable_batched_join = off")
    assert "AuditBatchedJoin" not in plan(cur, vip)


def test_cancel_stops_the_batch_query(setup, emulator):
    victim = connect()
    vcur = victim.cursor()
    emulator.configure(athena_min_query_ms=20000)
    try:
        error, took = cancel_during(
            vcur, f"SELECT count(*) FROM {SCHEMA}.local l JOIN {SCHEMA}.big a"
                  f" ON a.order_id = l.k WHERE l.grp = 1",
            athena_tables.query_waiting(emulator, emulator.mark(), " IN ("))
        assert isinstance(error, psycopg2.errors.QueryCanceled)
        assert took < 1.0, took
        started = athena_requests(emulator, "StartQueryExecution")[-1]
        assert " IN (" in started["input"]["QueryString"]
        polled = athena_requests(emulator, "GetQueryExecution")[-1]["input"]["QueryExecutionId"]
        assert polled in stopped_ids(emulator)
    finally:
        emulator.configure(athena_min_query_ms=0)
        victim.close()


def test_keys_on_the_bucket_key_send_their_buckets(setup, db):
    """On a table with key buckets, a batch of orderId keys also sends the
    keys' buckets: its query reads those folders only, less than the plain
    scan reads, and the rows are the same."""
    cur = db.cursor()
    cur.execute(f"DROP TABLE IF EXISTS {SCHEMA}.three")
    cur.execute(f"CREATE TABLE {SCHEMA}.three (k text)")
    cur.execute(f"INSERT INTO {SCHEMA}.three VALUES ('101'), ('117'), ('142')")
    cur.execute(f"ANALYZE {SCHEMA}.three")
    sql = (f"SELECT t.k, a.event_id, a.new_state FROM {SCHEMA}.three t"
           f" JOIN {SCHEMA}.small a ON a.order_id = t.k")
    p = plan(cur, sql, analyze=True)
    assert "AuditBatchedJoin" in p and '"key_bucket" IN ($2)' in p, p
    batched = int(p.split("Data Scanned:")[1].split()[0])
    cur.execute("SET audit_fdw.enable_batched_join = off")
    p = plan(cur, sql, analyze=True)
    plain = sum(int(part.split()[0]) for part in p.split("Data Scanned:")[1:])
    assert 0 < batched < plain / 3, (batched, plain)
    cur.execute("RESET audit_fdw.enable_batched_join")
    on = run(cur, sql, True)
    assert on == run(cur, sql, False) and len(on) >= 3


def test_rescanned_with_new_outer_values(setup, db):
    """In a correlated subquery and in a LATERAL subquery the join is
    rescanned with new outer values each time: each rescan starts from its
    first batch.  (A LATERAL subquery flattened into the query makes the
    local side parameterized, which the batched join does not take.)"""
    cur = db.cursor()
    force_batched_join(cur, True)
    inner = (f"SELECT count(*) n FROM {SCHEMA}.local l JOIN {SCHEMA}.big a"
             f" ON a.order_id = l.k WHERE l.grp = x % 24 AND l.id < 200")
    for sql in (f"SELECT x, ({inner}) FROM generate_series(0, 5) x",
                f"SELECT x, s.n FROM generate_series(0, 5) x, LATERAL ({inner} OFFSET 0) s"):
        cur.execute("SET audit_fdw.enable_pushdown = on")
        cur.execute("SET audit_fdw.join_batch_size = 3")
        p = plan(cur, sql)
        assert "AuditBatchedJoin" in p and "Batch Size: 3" in p, p
        on = run(cur, sql, True, 3)
        assert on == run(cur, sql, False) and any(n for _, n in on), on
