"""Foreign tables over live DynamoDB tables (src/dynamodb/), end to end
against the emulator: the type mapping, the call chosen for each query
(GetItem, BatchGetItem, Query, Scan) as EXPLAIN shows it and as the
emulator saw it, FilterExpression and ProjectionExpression, paging, the
unprocessed keys of BatchGetItem, joins (batched into BatchGetItem calls,
compared with the same join of local copies), the consumed capacity in EXPLAIN
ANALYZE, IMPORT FOREIGN SCHEMA, options and the refusal of writes."""
import decimal
import json
import os
import sys

import psycopg2
import pytest

from conftest import connect as _connect

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dynamodb_tables import dynamodb_server, put_items, replace_table  # noqa: E402

SERVER = "ddb_live"
D = decimal.Decimal


@pytest.fixture(scope="module")
def setup(emulator):
    ddb = emulator.client("dynamodb")
    replace_table(ddb, "LiveOrders", ("orderId", "S"))
    put_items(ddb, "LiveOrders", [
        {"orderId": "101", "state": "DELIVERED", "qty": D("3"), "price": D("19.990"),
         "big": D("12345678901234567890123456789012345678"), "gift": True,
         "tags": {"red", "blue"}, "sizes": {D("1"), D("2.5")},
         "address": {"city": "Zürich", "zip": "8001", "lines": ["a", D("1")]},
         "blob": b"\x00\xffab", "nothing": None},
        {"orderId": "102", "state": "RETURNED", "qty": D("1"), "price": D("5"),
         "gift": False, "address": {"city": "Bern"}},
        {"orderId": "103", "state": "OPEN", "qty": D("7")},
        {"orderId": "104", "state": "7", "qty": "many"},
    ])
    replace_table(ddb, "LiveEvents", ("customer", "S"), ("at", "S"))
    put_items(ddb, "LiveEvents", [
        {"customer": c, "at": at, "kind": k}
        for c in ("alice", "bob")
        for at, k in (("2024-01-01", "signup"), ("2024-02-01", "order"),
                      ("2024-02-15", "order"), ("2024-03-01", "return"),
                      ("2025-01-01", "order"))])
    with connect() as conn, conn.cursor() as cur:
        dynamodb_server(cur, SERVER, emulator.url)
        cur.execute("DROP SCHEMA IF EXISTS live CASCADE; CREATE SCHEMA live")
        cur.execute(f"""
            CREATE FOREIGN TABLE live.orders (
                "orderId" text, state text, qty numeric, price numeric, big numeric,
                gift boolean, tags text[], sizes numeric[], address jsonb, blob bytea,
                nothing text, item jsonb OPTIONS (whole_item 'true'))
            SERVER {SERVER} OPTIONS (dynamodb_table 'LiveOrders')""")
        cur.execute(f"""
            CREATE FOREIGN TABLE live.events (customer text, at text COLLATE "C", kind text)
            SERVER {SERVER} OPTIONS (dynamodb_table 'LiveEvents')""")
    return ddb


class connect:
    """An autocommit connection that is closed on leaving the block (a
    psycopg2 connection's own block is a transaction)."""

    def __enter__(self):
        self.conn = _connect()
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()


def q(sql, params=None):
    with connect() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def explain(sql, params=None, analyze=False):
    opts = "ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF" if analyze else "VERBOSE, COSTS OFF"
    return "\n".join(r[0] for r in q(f"EXPLAIN ({opts}) {sql}", params))


def calls(emulator, operation, since):
    """The DynamoDB requests of an operation since a mark of the request log."""
    return emulator.requests("dynamodb", operation, since=since)


def test_types(setup):
    rows = q('SELECT "orderId", state, qty, price, big, gift, tags, sizes, address, blob, '
             'nothing, item FROM live.orders WHERE "orderId" = \'101\'')
    (oid, state, qty, price, big, gift, tags, sizes, address, blob, nothing, item), = rows
    assert (oid, state, qty, price, big, gift) == (
        "101", "DELIVERED", D("3"), D("19.990"), D("12345678901234567890123456789012345678"), True)
    assert sorted(tags) == ["blue", "red"] and sorted(sizes) == [D("1"), D("2.5")]
    assert address == {"city": "Zürich", "zip": "8001", "lines": ["a", 1]}
    assert bytes(blob) == b"\x00\xffab" and nothing is None
    # the whole item as the audit records' images have it
    assert item["orderId"] == "101" and item["nothing"] is None
    assert item["blob"] == "AP9hYg==" and sorted(item["tags"]) == ["blue", "red"]


def test_conversion_error_names_the_attribute(setup):
    with pytest.raises(psycopg2.Error) as e:
        q("SELECT qty FROM live.orders")
    assert e.value.pgcode == "22P02" and "many" in str(e.value)
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"""CREATE FOREIGN TABLE live.orders_bad (address integer)
                        SERVER {SERVER} OPTIONS (dynamodb_table 'LiveOrders')""")
        try:
            with pytest.raises(psycopg2.Error) as e:
                cur.execute("SELECT address FROM live.orders_bad")
            assert e.value.pgcode == "HV004"
            assert 'attribute "address" of type M' in str(e.value)
        finally:
            cur.execute("DROP FOREIGN TABLE live.orders_bad")


def test_get_item(setup, emulator):
    plan = explain('SELECT state FROM live.orders WHERE "orderId" = \'102\'')
    assert "DynamoDB: GetItem LiveOrders" in plan
    mark = emulator.mark()
    assert q('SELECT state FROM live.orders WHERE "orderId" = \'102\'') == [("RETURNED",)]
    assert len(calls(emulator, "GetItem", mark)) == 1
    assert q('SELECT state FROM live.orders WHERE "orderId" = \'999\'') == []
    # a key DynamoDB cannot hold: nothing to ask
    assert q('SELECT state FROM live.orders WHERE "orderId" = \'\'') == []


def test_batch_get_item(setup, emulator):
    sql = 'SELECT "orderId", state FROM live.orders WHERE "orderId" IN (\'101\', \'103\', \'999\', \'101\') ORDER BY 1'
    assert "DynamoDB: BatchGetItem LiveOrders" in explain(sql)
    assert q(sql) == [("101", "DELIVERED"), ("103", "OPEN")]
    # an array known only at run time
    sql = ('SELECT "orderId" FROM live.orders WHERE "orderId" = ANY(%s) ORDER BY 1')
    assert q(sql, (["102", "103"],)) == [("102",), ("103",)]
    plan = explain('SELECT "orderId" FROM live.orders WHERE "orderId" = '
                   'ANY(ARRAY(SELECT x FROM unnest(ARRAY[\'101\',\'102\']) x))')
    assert "BatchGetItem" in plan


def test_query_sort_key_conditions(setup):
    base = "SELECT at FROM live.events WHERE customer = 'alice' AND "
    cases = {
        "at < '2024-02-01'": ["2024-01-01"],
        "at <= '2024-02-01'": ["2024-01-01", "2024-02-01"],
        "at > '2024-03-01'": ["2025-01-01"],
        "at >= '2024-03-01'": ["2024-03-01", "2025-01-01"],
        "at BETWEEN '2024-02-01' AND '2024-03-01'": ["2024-02-01", "2024-02-15", "2024-03-01"],
        "at LIKE '2024-02%'": ["2024-02-01", "2024-02-15"],
    }
    for cond, want in cases.items():
        plan = explain(base + cond)
        assert "DynamoDB: Query LiveEvents" in plan, plan
        assert "Key Condition: customer = :v0 AND " in plan and "at" in plan.split("Key Condition")[1], plan
        # DynamoDB refuses key attributes in a Query's FilterExpression
        assert "Filter Expression" not in plan, plan
        assert [r[0] for r in q(base + cond + " ORDER BY 1")] == want, cond
    # the whole key: GetItem
    assert "GetItem LiveEvents" in explain(base + "at = '2024-02-01'")
    assert [r[0] for r in q(base + "at = '2024-02-01'")] == ["2024-02-01"]
    # a list of partition keys: a Query for each
    sql = ("SELECT customer, at FROM live.events WHERE customer IN ('alice', 'bob', 'carol') "
           "AND at > '2024-03-01' ORDER BY 1, 2")
    assert "Query LiveEvents, one for each partition key" in explain(sql)
    assert q(sql) == [("alice", "2025-01-01"), ("bob", "2025-01-01")]
    # no partition key: Scan
    assert "DynamoDB: Scan LiveEvents" in explain("SELECT * FROM live.events WHERE at > '2024'")


def test_filter_and_projection(setup, emulator):
    sql = "SELECT \"orderId\" FROM live.orders WHERE state = 'RETURNED'"
    plan = explain(sql)
    assert "Filter Expression" in plan and "attribute_type" in plan, plan
    assert 'Projection Expression: "orderId", state' in plan, plan
    mark = emulator.mark()
    assert q(sql) == [("102",)]
    last = calls(emulator, "Scan", mark)[-1]
    body = json.dumps(last)
    assert "FilterExpression" in body and "RETURNED" in body
    # a number column: an item whose attribute is a string comes back and
    # PostgreSQL decides (state '7' is S, not N)
    assert q("SELECT \"orderId\" FROM live.orders WHERE price > 6") == [("101",)]
    assert q("SELECT \"orderId\" FROM live.orders WHERE gift") == [("101",)]
    assert q("SELECT \"orderId\" FROM live.orders WHERE NOT gift") == [("102",)]
    assert sorted(q("SELECT \"orderId\" FROM live.orders WHERE price IS NULL")) == [("103",), ("104",)]
    assert q("SELECT count(*) FROM live.orders WHERE nothing IS NULL") == [(4,)]


def test_paging_1mb(setup, emulator):
    ddb = setup
    replace_table(ddb, "LiveBig", ("k", "N"))
    put_items(ddb, "LiveBig", [{"k": D(i), "pad": "x" * 100_000} for i in range(30)])
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"""CREATE FOREIGN TABLE live.big (k numeric, pad text)
                        SERVER {SERVER} OPTIONS (dynamodb_table 'LiveBig')""")
        try:
            cur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                        "SELECT k, length(pad) FROM live.big")
            plan = "\n".join(r[0] for r in cur.fetchall())
            # 30 items of 100 KB: at least three 1 MB pages
            requests = int(plan.split("DynamoDB Requests: ")[1].split()[0])
            assert requests >= 3, plan
            assert "Consumed Read Capacity" in plan
            cur.execute("SELECT count(*), sum(length(pad)) FROM live.big")
            assert cur.fetchone() == (30, 3_000_000)
        finally:
            cur.execute("DROP FOREIGN TABLE live.big")


def test_unprocessed_keys_are_retried(setup, emulator):
    """BatchGetItem answers at most 16 MB: the rest comes back as
    UnprocessedKeys (API reference, BatchGetItem) and is asked again."""
    ddb = setup
    replace_table(ddb, "LiveHuge", ("k", "S"))
    put_items(ddb, "LiveHuge", [{"k": "k%02d" % i, "pad": "y" * 390_000} for i in range(50)])
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"""CREATE FOREIGN TABLE live.huge (k text, pad text)
                        SERVER {SERVER} OPTIONS (dynamodb_table 'LiveHuge')""")
        try:
            keys = ["k%02d" % i for i in range(50)]
            mark = emulator.mark()
            cur.execute("SELECT k, length(pad) FROM live.huge WHERE k = ANY(%s) ORDER BY k", (keys,))
            assert cur.fetchall() == [(k, 390_000) for k in keys]
            assert len(calls(emulator, "BatchGetItem", mark)) >= 2
        finally:
            cur.execute("DROP FOREIGN TABLE live.huge")


def test_numeric_keys_equal_as_numbers_are_asked_once(setup, emulator):
    """1, 1.0 and 1.00 are one DynamoDB number (API reference, AttributeValue
    N), and BatchGetItem refuses a key twice ("Provided list of item keys
    contains duplicates"): the key list holds each number once."""
    ddb = setup
    replace_table(ddb, "LiveNumKeys", ("k", "N"))
    put_items(ddb, "LiveNumKeys", [{"k": D(i), "v": "v%d" % i} for i in range(5)])
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"""CREATE FOREIGN TABLE live.numkeys (k numeric, v text)
                        SERVER {SERVER} OPTIONS (dynamodb_table 'LiveNumKeys')""")
        try:
            mark = emulator.mark()
            cur.execute("SELECT k, v FROM live.numkeys WHERE k = ANY(%s::numeric[]) ORDER BY v",
                        (["1", "1.0", "1.00", "2.50", "0.000", "0"],))
            rows = cur.fetchall()
            assert [v for _, v in rows] == ["v0", "v1"], rows
            sent = [k["k"]["N"] for c in calls(emulator, "BatchGetItem", mark)
                    for k in c["input"]["RequestItems"]["LiveNumKeys"]["Keys"]]
            assert sorted(sent) == ["0", "1", "2.5"], sent
        finally:
            cur.execute("DROP FOREIGN TABLE live.numkeys")


def test_join_is_batched_batch_get_item(setup, emulator):
    """A join of a local table with a DynamoDB table on its key is a batched
    join (fdw/batchjoin.c) whose inner scan is BatchGetItem."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE hist (order_id text, old_state text)")
        cur.execute("INSERT INTO hist VALUES ('101', 'RETURNED'), ('102', 'OPEN'), ('105', 'OPEN')")
        cur.execute("ANALYZE hist")
        # as large as a live table is: a Scan of it costs more than a few keys
        cur.execute("ALTER FOREIGN TABLE live.orders OPTIONS (ADD estimated_rows '100000')")
        sql = ("SELECT h.order_id, o.state FROM hist h JOIN live.orders o "
               "ON o.\"orderId\" = h.order_id ORDER BY 1")
        cur.execute("EXPLAIN (COSTS OFF) " + sql)
        plan = "\n".join(r[0] for r in cur.fetchall())
        assert "AuditBatchedJoin" in plan and "BatchGetItem LiveOrders" in plan, plan
        mark = emulator.mark()
        cur.execute(sql)
        assert cur.fetchall() == [("101", "DELIVERED"), ("102", "RETURNED")]
        assert len(calls(emulator, "BatchGetItem", mark)) == 1
        assert calls(emulator, "GetItem", mark) == []
        # without the batched join: one GetItem per outer row
        cur.execute("SET audit_fdw.enable_batched_join = off")
        cur.execute("EXPLAIN (COSTS OFF) " + sql)
        plan = "\n".join(r[0] for r in cur.fetchall())
        assert "DynamoDB: GetItem LiveOrders" in plan, plan
        cur.execute(sql)
        assert cur.fetchall() == [("101", "DELIVERED"), ("102", "RETURNED")]
        cur.execute("ALTER FOREIGN TABLE live.orders OPTIONS (DROP estimated_rows)")


@pytest.fixture(scope="module")
def keyed(setup):
    """LiveKeyed: 250 items on an S key and LiveNum: 250 on an N key; local
    copies of both, and a local table of outer rows with NULL keys,
    duplicate keys and keys no item has."""
    ddb = setup
    replace_table(ddb, "LiveKeyed", ("k", "S"))
    put_items(ddb, "LiveKeyed", [{"k": "k%03d" % i, "v": D(i)} for i in range(250)])
    replace_table(ddb, "LiveNum", ("id", "N"))
    put_items(ddb, "LiveNum", [{"id": D(i), "v": "n%d" % i} for i in range(250)])
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"""
            CREATE FOREIGN TABLE live.keyed (k text, v numeric)
            SERVER {SERVER} OPTIONS (dynamodb_table 'LiveKeyed', estimated_rows '1000000')""")
        cur.execute(f"""
            CREATE FOREIGN TABLE live.num (id numeric, v text)
            SERVER {SERVER} OPTIONS (dynamodb_table 'LiveNum', estimated_rows '1000000')""")
        cur.execute("DROP TABLE IF EXISTS public.keyed_copy, public.num_copy, public.outer_rows")
        cur.execute("CREATE TABLE public.keyed_copy AS SELECT * FROM live.keyed")
        cur.execute("CREATE TABLE public.num_copy AS SELECT * FROM live.num")
        cur.execute("CREATE TABLE public.outer_rows (i int, k text, id int)")
        # keys 0..299 (50 missing), each twice, some NULL
        cur.execute("""
            INSERT INTO public.outer_rows
            SELECT g, CASE WHEN g % 37 = 0 THEN NULL ELSE 'k' || lpad((g % 300)::text, 3, '0') END,
                   CASE WHEN g % 41 = 0 THEN NULL ELSE g % 300 END
            FROM generate_series(1, 600) g""")
        cur.execute("ANALYZE public.keyed_copy, public.num_copy, public.outer_rows")
    yield
    with connect() as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE public.keyed_copy, public.num_copy, public.outer_rows")
        cur.execute("DROP FOREIGN TABLE live.keyed, live.num")


BATCHED_JOINS = [
    "SELECT o.i, o.k, t.v FROM public.outer_rows o JOIN {t} t ON t.k = o.k",
    "SELECT o.i, o.k, t.v FROM public.outer_rows o LEFT JOIN {t} t ON t.k = o.k",
    "SELECT o.i FROM public.outer_rows o WHERE EXISTS (SELECT 1 FROM {t} t WHERE t.k = o.k)",
    "SELECT o.i FROM public.outer_rows o WHERE NOT EXISTS (SELECT 1 FROM {t} t WHERE t.k = o.k)",
    "SELECT o.i, t.v FROM public.outer_rows o LEFT JOIN {t} t ON t.k = o.k AND t.v > 100",
    "SELECT o.i, o.id, n.v FROM public.outer_rows o JOIN {n} n ON n.id = o.id",
    "SELECT o.i, n.v FROM public.outer_rows o LEFT JOIN {n} n ON o.id = n.id",
]


@pytest.mark.parametrize("batch_size", [1000, 7])
@pytest.mark.parametrize("sql", BATCHED_JOINS)
def test_batched_join_matches_local_join(keyed, emulator, sql, batch_size):
    """The batched join's rows are the local join's (0 differences), read
    with BatchGetItem (at most 100 distinct keys a call, no GetItem)."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SET audit_fdw.join_batch_size = %s", (batch_size,))
        foreign = sql.format(t="live.keyed", n="live.num")
        cur.execute("EXPLAIN (COSTS OFF) " + foreign)
        plan = "\n".join(r[0] for r in cur.fetchall())
        assert "AuditBatchedJoin" in plan and "DynamoDB: BatchGetItem" in plan, plan
        mark = emulator.mark()
        cur.execute(foreign)
        got = cur.fetchall()
        batch_calls = calls(emulator, "BatchGetItem", mark)
        assert calls(emulator, "GetItem", mark) == []
        cur.execute(sql.format(t="public.keyed_copy", n="public.num_copy"))
        want = cur.fetchall()
    assert len(got) == len(want) and got
    assert sorted(got, key=repr) == sorted(want, key=repr)
    keys = [len(next(iter(c["input"]["RequestItems"].values()))["Keys"]) for c in batch_calls]
    assert all(0 < n <= 100 for n in keys), keys
    # 300 distinct keys (less the NULLs): 3 calls a batch of 1000 rows, one a batch of 7
    assert len(batch_calls) == (3 if batch_size == 1000 else 86), len(batch_calls)


def explain_values(plan, label):
    """The values of the EXPLAIN lines labelled label, in plan order."""
    return [line.split(f"{label}: ", 1)[1] for line in plan.splitlines() if f"{label}: " in line]


@pytest.mark.parametrize("batch_size", [1000, 7])
def test_explain_analyze_of_a_batched_join_counts_what_dynamodb_saw(keyed, emulator, batch_size):
    """EXPLAIN ANALYZE of a batched join over a DynamoDB table: the node's
    Batches and Keys Sent, and its inner scan's DynamoDB Requests, Items Read
    and Consumed Read Capacity, are what the emulator's request log shows:
    one request per BatchGetItem call, the keys the calls carried, an item
    for each of those keys the table holds (k000 to k249), and half a read
    unit for each key asked, held or not: an eventually consistent read of
    an item under 4 KB, and a read of an item that does not exist consumes
    the same (Amazon DynamoDB Developer Guide, "DynamoDB read and write
    operations").  600 outer rows make ceil(600 / batch size) batches."""
    sql = "SELECT o.i, t.v FROM public.outer_rows o JOIN live.keyed t ON t.k = o.k"
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SET audit_fdw.join_batch_size = %s", (batch_size,))
        mark = emulator.mark()
        cur.execute("EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)
        plan = "\n".join(r[0] for r in cur.fetchall())
        batch_calls = calls(emulator, "BatchGetItem", mark)
        assert calls(emulator, "GetItem", mark) == []
        cur.execute("SELECT count(*), count(DISTINCT k) FROM public.outer_rows")
        outer, distinct_keys = cur.fetchone()
    assert "AuditBatchedJoin" in plan and "DynamoDB: BatchGetItem LiveKeyed" in plan, plan
    keys = [key["k"]["S"] for c in batch_calls
            for key in c["input"]["RequestItems"]["LiveKeyed"]["Keys"]]
    held = [k for k in keys if int(k[1:]) < 250]
    assert explain_values(plan, "Batches") == [str(-(-outer // batch_size))], plan
    assert explain_values(plan, "Keys Sent") == [str(len(keys))], plan
    assert explain_values(plan, "DynamoDB Requests") == [str(len(batch_calls))], plan
    assert explain_values(plan, "Items Read") == [str(len(held))], plan
    assert explain_values(plan, "Consumed Read Capacity") == [f"{len(keys) / 2:.1f} RCU"], plan
    if batch_size == 1000:
        # one batch: each distinct key asked once, in ceil(keys / 100) calls
        assert len(keys) == len(set(keys)) == distinct_keys
        assert len(batch_calls) == -(-distinct_keys // 100)
    else:
        # a batch's keys go out in one call; a key of two batches twice
        assert len(batch_calls) == -(-outer // batch_size)
        assert len(keys) > len(set(keys))


def test_explain_analyze_capacity(setup):
    plan = explain('SELECT state FROM live.orders WHERE "orderId" = \'101\'', analyze=True)
    assert "DynamoDB Requests: 1" in plan
    assert "Consumed Read Capacity: 0.5 RCU" in plan, plan


def test_consistent_read(setup, emulator):
    with connect() as conn, conn.cursor() as cur:
        cur.execute("ALTER FOREIGN TABLE live.orders OPTIONS (ADD consistent_read 'true')")
        try:
            mark = emulator.mark()
            plan = explain('SELECT state FROM live.orders WHERE "orderId" = \'101\'', analyze=True)
            assert "Consistent Read: true" in plan and "Consumed Read Capacity: 1.0 RCU" in plan, plan
            assert '"ConsistentRead": true' in json.dumps(calls(emulator, "GetItem", mark)[-1])
        finally:
            cur.execute("ALTER FOREIGN TABLE live.orders OPTIONS (DROP consistent_read)")


def test_writes_refused(setup):
    for sql in ("INSERT INTO live.orders (\"orderId\") VALUES ('x')",
                "UPDATE live.orders SET state = 'X'",
                "DELETE FROM live.orders"):
        with pytest.raises(psycopg2.Error) as e:
            q(sql)
        assert e.value.pgcode == "HV000", sql
        assert "read-only" in str(e.value)


def test_options_checked(setup):
    with connect() as conn, conn.cursor() as cur:
        for opts, msg in (("dynamodb_table 'a b c'", "DynamoDB table name"),
                          ("dynamodb_table 'Tab1', time_column 'x'", "Athena"),
                          ("sort_key 'x'", "dynamodb_table"),
                          ("dynamodb_table 'Tab1', scan_segments '0'", "scan_segments")):
            with pytest.raises(psycopg2.Error) as e:
                cur.execute(f"CREATE FOREIGN TABLE live.bad (a text) SERVER {SERVER} OPTIONS ({opts})")
            assert msg in str(e.value), (opts, str(e.value))


def test_import_foreign_schema(setup):
    with connect() as conn, conn.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS imported CASCADE; CREATE SCHEMA imported")
        cur.execute(f'IMPORT FOREIGN SCHEMA "DynamoDB" LIMIT TO ("LiveOrders", "LiveEvents") '
                    f"FROM SERVER {SERVER} INTO imported")
        cur.execute("""SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
                       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                       JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = 'imported' AND a.attnum > 0 ORDER BY 1, a.attnum""")
        cols = cur.fetchall()
        orders = [(a, t) for r, a, t in cols if r == "LiveOrders"]
        assert orders[0] == ("orderId", "text")
        assert ("tags", "text[]") in orders and ("gift", "boolean") in orders
        assert ("address", "jsonb") in orders and ("qty", "jsonb") in orders
        assert orders[-1] == ("item", "jsonb")
        events = [a for r, a, t in cols if r == "LiveEvents"]
        assert events[:2] == ["customer", "at"]
        cur.execute("""SELECT ftoptions FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
                       WHERE c.relname = 'LiveEvents'""")
        assert cur.fetchone()[0] == ["dynamodb_table=LiveEvents", "partition_key=customer",
                                     "sort_key=at"]
        cur.execute("""EXPLAIN (COSTS OFF) SELECT * FROM imported."LiveEvents"
                       WHERE customer = 'bob' AND at > '2024-02-01'""")
        assert "Query LiveEvents" in "\n".join(r[0] for r in cur.fetchall())
        cur.execute("""SELECT count(*) FROM imported."LiveEvents"
                       WHERE customer = 'bob' AND at > '2024-02-01'""")
        assert cur.fetchone() == (3,)


def test_names_and_values_never_become_expression_text(setup, emulator):
    """Attribute names and values travel only as ExpressionAttributeNames and
    ExpressionAttributeValues: a value or a name written like an expression
    stays data, and the expressions hold placeholders only."""
    ddb = setup
    odd = "a) OR attribute_exists(#n0"
    replace_table(ddb, "LiveOdd", ("k", "S"))
    put_items(ddb, "LiveOdd", [{"k": "1", odd: "x", "v": odd}, {"k": "2", odd: "y", "v": "w"}])
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"""CREATE FOREIGN TABLE live.odd (k text, odd text OPTIONS (column_name %s),
                            v text) SERVER {SERVER} OPTIONS (dynamodb_table 'LiveOdd')""", (odd,))
        try:
            mark = emulator.mark()
            cur.execute("SELECT k FROM live.odd WHERE v = %s AND odd LIKE 'x%%'", (odd,))
            assert cur.fetchall() == [("1",)]
            scan, = calls(emulator, "Scan", mark)
            body = scan["input"]
            for expr in (body["FilterExpression"], body["ProjectionExpression"]):
                assert odd not in expr and "x" not in expr.replace("exists", ""), expr
            assert odd in body["ExpressionAttributeNames"].values()
            assert {"S": odd} in body["ExpressionAttributeValues"].values()
        finally:
            cur.execute("DROP FOREIGN TABLE live.odd")


def test_parallel_scan_by_segments(setup, emulator):
    """A parallel plan: the processes of a Gather take the Scan's segments
    (Segment/TotalSegments) in turn; every item comes once, and EXPLAIN
    ANALYZE adds up every process's requests and capacity."""
    ddb = setup
    replace_table(ddb, "LiveMany", ("k", "S"))
    put_items(ddb, "LiveMany", [{"k": "k%04d" % i, "v": D(i)} for i in range(600)])
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"""CREATE FOREIGN TABLE live.many (k text, v numeric)
                        SERVER {SERVER} OPTIONS (dynamodb_table 'LiveMany', scan_segments '3')""")
        try:
            cur.execute("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
                        "SET max_parallel_workers_per_gather = 2")
            sql = "SELECT count(*), count(DISTINCT k), sum(v) FROM live.many"
            cur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)
            plan = "\n".join(r[0] for r in cur.fetchall())
            assert "Gather" in plan and "Total Segments: 3" in plan, plan
            assert "DynamoDB Requests: 3" in plan and "Items Read: 600" in plan, plan
            mark = emulator.mark()
            cur.execute(sql)
            assert cur.fetchone() == (600, 600, sum(range(600)))
            segments = sorted(r["input"]["Segment"] for r in calls(emulator, "Scan", mark))
            assert segments == [0, 1, 2], segments
        finally:
            cur.execute("DROP FOREIGN TABLE live.many")
