"""Differential test of the foreign tables over live DynamoDB tables: the
same queries on a local PostgreSQL copy of the items and on the foreign
table must return the same rows (or both fail), whatever call the scan
makes (GetItem, BatchGetItem, Query, Scan), whatever goes into the
FilterExpression and the ProjectionExpression.

The items are made to trip the pushdown: attributes of the wrong type
(a number where a string column is, a string where a number or boolean
column is), missing and NULL attributes, empty strings, 38-digit numbers,
prefixes for LIKE; the conditions include values DynamoDB cannot hold
(NaN, empty strings, more than 38 digits), IN lists with duplicates and
NULLs, OR, NOT, IS [NOT] NULL, generic plans with parameters, and joins
with a local table on the partition key.  The local copy is built from a
boto3 Scan of the table, converted as the foreign table's columns convert
(src/dynamodb/convert.c), so that set order and number forms are DynamoDB's.
"""
import decimal
import os
import random
import sys

import psycopg2
import pytest

from conftest import connect as _connect

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dynamodb_tables import dynamodb_server, put_items, replace_table, scan_all  # noqa: E402

SERVER = "ddb_diff"
TABLE = "DiffItems"
D = decimal.Decimal
COLUMNS = ["p", "n", "s", "num", "flag", "tag", "blob"]
QUERIES = 330


def make_items(rng):
    items = []
    for pi in range(20):
        for n in range(15):
            it = {"p": "c%02d" % pi, "n": D(n) if n % 5 else D(n) / 4}
            r = rng.random()
            if r < 0.6:
                it["s"] = rng.choice(["apple", "apricot", "banana", "Zebra", "ümlaut", "", "a%b", "a_b"])
            elif r < 0.7:
                it["s"] = D(rng.randint(0, 20))          # a number in a text column
            elif r < 0.8:
                it["s"] = None                           # DynamoDB NULL
            elif r < 0.85:
                it["s"] = rng.choice([True, False])      # a boolean in a text column
            r = rng.random()
            if r < 0.6:
                it["num"] = D(rng.choice(["0", "1", "1.50", "-3", "7", "12.25", "100",
                                          "12345678901234567890123456789012345678",
                                          "-0.000001", "5"]))
            elif r < 0.7:
                it["num"] = rng.choice(["5", "12", "-3"])  # a string in a number column
            elif r < 0.8:
                it["num"] = None
            r = rng.random()
            if r < 0.6:
                it["flag"] = rng.choice([True, False])
            elif r < 0.7:
                it["flag"] = rng.choice(["true", "false"])  # a string in a boolean column
            elif r < 0.75:
                it["flag"] = None
            if rng.random() < 0.7:
                it["tag"] = rng.choice(["red", "red-1", "red-2", "blue", "green", "gr"])
            if rng.random() < 0.3:
                it["blob"] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
            items.append(it)
    return items


def local_value(col, av):
    """One attribute value as the foreign table's column reads it."""
    (t, v), = av.items()
    if t == "NULL":
        return None
    if col in ("p", "s", "tag"):
        if t == "S":
            return v
        if t == "N":
            return str(D(v))
        if t == "BOOL":
            return "true" if v else "false"
    if col in ("n", "num"):
        return D(v)
    if col == "flag":
        return v if t == "BOOL" else {"true": True, "false": False}[v]
    if col == "blob":
        return bytes(v) if not isinstance(v, str) else __import__("base64").b64decode(v)
    raise AssertionError((col, av))


class connect:
    def __enter__(self):
        self.conn = _connect()
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()


@pytest.fixture(scope="module")
def tables(emulator):
    rng = random.Random(18)
    ddb = emulator.client("dynamodb")
    replace_table(ddb, TABLE, ("p", "S"), ("n", "N"))
    put_items(ddb, TABLE, make_items(rng))
    raw = scan_all(ddb, TABLE)
    with connect() as conn, conn.cursor() as cur:
        dynamodb_server(cur, SERVER, emulator.url)
        cur.execute("DROP SCHEMA IF EXISTS ddiff CASCADE; CREATE SCHEMA ddiff")
        cols = """(p text COLLATE "C", n numeric, s text COLLATE "C", num numeric,
                   flag boolean, tag text COLLATE "C", blob bytea)"""
        cur.execute(f"CREATE FOREIGN TABLE ddiff.live {cols} SERVER {SERVER} "
                    f"OPTIONS (dynamodb_table '{TABLE}')")
        cur.execute(f"CREATE TABLE ddiff.copy {cols}")
        for av in raw:
            row = [local_value(c, av[c]) if c in av else None for c in COLUMNS]
            cur.execute("INSERT INTO ddiff.copy VALUES (%s, %s, %s, %s, %s, %s, %s)", row)
        cur.execute("CREATE TABLE ddiff.wanted (p text COLLATE \"C\", note text)")
        cur.execute("INSERT INTO ddiff.wanted VALUES ('c01', 'a'), ('c07', 'b'), ('c07', 'c'), "
                    "('c99', 'd'), (NULL, 'e'), ('', 'f')")
        cur.execute("ANALYZE ddiff.copy; ANALYZE ddiff.wanted")
    return len(raw)


KEY_CONDS = [
    "p = 'c03'", "p = 'c99'", "p = ''", "p IN ('c01', 'c02', 'c01', 'zz')",
    "p = ANY(ARRAY['c04', NULL, 'c05'])", "p IN ('c06')",
    "p = 'c03' AND n = 2", "p = 'c03' AND n = 2.5", "p = 'c03' AND n = 1.25",
    "p = 'c08' AND n < 7", "p = 'c08' AND n <= 7", "p = 'c08' AND n > 7",
    "p = 'c08' AND n >= 7", "p = 'c09' AND n BETWEEN 3 AND 9",
    "p = 'c09' AND n > 2 AND n < 12", "p = 'c09' AND n < 'NaN'", "p = 'c09' AND n = 'NaN'",
    "p = 'c10' AND n > 1e40", "p = 'c10' AND n < 123456789012345678901234567890123456789012",
    "p IN ('c11', 'c12') AND n = 4", "p IN ('c02', 'c03', 'c02') AND n = 2.5",
    "p IN ('c01', 'c02') AND n > 7", "p = ANY(ARRAY['c04', NULL, 'c05', 'c04']) AND n <= 3",
    "p IN ('c13', 'zz', '') AND n BETWEEN 2 AND 6", "n = 6", "n > 13", "p > 'c17'", "p LIKE 'c1%'",
    "p = 'c03' AND p = 'c04'", "",
]

FILTERS = [
    "s = 'apple'", "s <> 'apple'", "s < 'b'", "s >= 'b'", "s > 'ap'", "s LIKE 'ap%'",
    "s LIKE 'a\\%%'", "s LIKE 'a_b'", "s = ''", "s = '12'", "s = 'true'", "s IS NULL",
    "s IS NOT NULL", "s IN ('apple', 'banana', 'zzz')", "s IN ('', 'apple')",
    "num = 5", "num > 5", "num <= 1.5", "num = 1.50", "num <> 7", "num < 'NaN'",
    "num = 12345678901234567890123456789012345678", "num > -1", "num IS NULL",
    "num IN (0, 1, 100)", "num = 1234567890123456789012345678901234567890123",
    "flag", "NOT flag", "flag = false", "flag IS NULL", "flag IS NOT NULL",
    "tag LIKE 'red%'", "tag = 'gr'", "tag >= 'gr'", "tag IN ('red', 'blue')",
    "(s = 'apple' OR num > 10)", "(flag OR tag = 'blue')", "(s LIKE 'b%' AND num >= 0)",
    "NOT (s = 'apple')", "coalesce(s, 'x') = 'x'", "length(s) > 5", "blob IS NOT NULL",
    "blob = '\\x01'::bytea", "s COLLATE \"C\" > 'Z'",
]

PROJECTIONS = [
    "p, n", "p, n, s", "p, n, num, flag", "p, n, tag, blob", "p, n, s, num, flag, tag, blob",
    "count(*)", "p, n, upper(s)",
]


def generate(rng):
    out = []
    for i in range(QUERIES):
        conds = [c for c in [rng.choice(KEY_CONDS)] if c]
        conds += rng.sample(FILTERS, rng.choice([0, 1, 1, 2, 3]))
        proj = rng.choice(PROJECTIONS)
        where = (" WHERE " + " AND ".join(conds)) if conds else ""
        out.append(f"SELECT {proj} FROM {{T}}{where}")
    return out


def run(cur, sql):
    try:
        cur.execute(sql)
        rows = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                for r in cur.fetchall()]
        return ("rows", sorted(rows, key=repr))
    except psycopg2.Error as e:
        return ("error", e.pgcode)


def test_foreign_table_matches_local_copy(tables):
    rng = random.Random(1800)
    queries = generate(rng)
    diffs = []
    ops = {}
    with connect() as conn, conn.cursor() as cur:
        for sql in queries:
            cur.execute("EXPLAIN (COSTS OFF) " + sql.replace("{T}", "ddiff.live"))
            plan = "\n".join(r[0] for r in cur.fetchall())
            op = next(w for w in ("GetItem", "BatchGetItem", "Query", "Scan") if
                      f"DynamoDB: {w} " in plan)
            ops[op] = ops.get(op, 0) + 1
            got = run(cur, sql.replace("{T}", "ddiff.live"))
            want = run(cur, sql.replace("{T}", "ddiff.copy"))
            if got != want:
                diffs.append((sql, plan, got, want))
    print("calls:", ops, "queries:", len(queries))
    assert len(queries) >= 300
    # every call is exercised
    assert all(ops.get(op, 0) >= 10 for op in ("GetItem", "BatchGetItem", "Query", "Scan")), ops
    assert not diffs, "%d differences, first: %r" % (len(diffs), diffs[:3])


def test_generic_plans_and_joins_match(tables):
    """Runtime values: parameters of a generic plan, and a join's outer
    rows (a parameterized Query per row, or a batched join's keys in
    BatchGetItem calls)."""
    cases = [
        ("SELECT p, n, s FROM %s WHERE p = $1 AND n >= $2", [("c05", 3), ("", 0), ("c05", D("NaN"))],
         "text, numeric"),
        ("SELECT p, n FROM %s WHERE p = ANY($1) AND num > $2",
         [(["c01", "c02", "c01", None], 0), ([], 0)], "text[], numeric"),
        ("SELECT p, n FROM %s WHERE p = $1 AND s LIKE $2", [("c03", "ap%"), ("c03", "")],
         "text, text"),
        ("SELECT p, count(*) FROM %s WHERE s > $1 GROUP BY p", [("b",), ("",)], "text"),
    ]
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SET plan_cache_mode = force_generic_plan")
        for i, (sql, params, types) in enumerate(cases):
            for side in ("live", "copy"):
                cur.execute(f"PREPARE q{i}{side} ({types}) AS " + sql % f"ddiff.{side}")
            for args in params:
                ph = ", ".join(["%s"] * len(args))
                got = run(cur, f"EXECUTE q{i}live ({ph})" % tuple(cur.mogrify("%s", (a,)).decode() for a in args))
                want = run(cur, f"EXECUTE q{i}copy ({ph})" % tuple(cur.mogrify("%s", (a,)).decode() for a in args))
                assert got == want, (sql, args, got, want)
        cur.execute("RESET plan_cache_mode")
        cur.execute("ALTER FOREIGN TABLE ddiff.live OPTIONS (ADD estimated_rows '1000000')")
        try:
            # a Query per outer row; the whole key (the sort key fixed by a
            # constant): a batched join of BatchGetItem calls
            for sql, batched in (
                    ("SELECT w.note, t.n, t.s FROM ddiff.wanted w JOIN %s t ON t.p = w.p", False),
                    ("SELECT w.note, t.n FROM ddiff.wanted w JOIN %s t ON t.p = w.p AND t.n = 2",
                     True),
                    ("SELECT w.note, t.n FROM ddiff.wanted w LEFT JOIN %s t ON t.p = w.p "
                     "AND t.num > 1", False),
                    ("SELECT w.note, t.s FROM ddiff.wanted w LEFT JOIN %s t ON t.p = w.p "
                     "AND t.n = 3", True)):
                cur.execute("EXPLAIN (COSTS OFF) " + sql % "ddiff.live")
                plan = "\n".join(r[0] for r in cur.fetchall())
                if batched:
                    assert "AuditBatchedJoin" in plan and "BatchGetItem" in plan, plan
                else:
                    assert "Nested Loop" in plan and "Query" in plan, plan
                assert run(cur, sql % "ddiff.live") == run(cur, sql % "ddiff.copy"), sql
        finally:
            cur.execute("ALTER FOREIGN TABLE ddiff.live OPTIONS (DROP estimated_rows)")
