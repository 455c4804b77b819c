"""Pushdown never changes an answer: generated queries run with
audit_fdw.enable_pushdown on and off against the emulator's Athena must
return identical rows.

The queries cover comparisons on every mapped type, AND/OR/NOT, IN and
= ANY, BETWEEN, IS [NOT] NULL, IS [NOT] DISTINCT FROM, LIKE/ILIKE with
quotes, backslashes, % and _ and unicode, arithmetic, functions, casts,
time ranges (constants with microseconds, stable expressions, parameters of
prepared statements, timestamp and date values against timestamptz), text
ranges under code point and other collations, ORDER BY/LIMIT/OFFSET (OFFSET
alone, over DISTINCT and GROUP BY), DISTINCT, DISTINCT ON, aggregates with GROUP BY and
HAVING, and
joins (foreign-foreign of every kind, foreign with a local table).  The test
prints how many queries ran and how many shipped each construct (read from
the Athena SQL in EXPLAIN VERBOSE), and fails on any difference, on fewer
than 500 queries, or when a construct never shipped.
"""
import datetime
import decimal
import os
import random
import sys
import threading
import time

import psycopg2
import pytest

from conftest import connect

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import athena_tables  # noqa: E402
import pushdown_fixture  # noqa: E402

SERVER = "pushdown_diff"
BUCKET = "pushdown-diff-data"
RESULTS = "pushdown-diff-results"
DATABASE = "pushdown_diff"
SCHEMA = "pd_diff"
QUERIES = int(os.environ.get("PUSHDOWN_DIFF_QUERIES", "560"))
SEED = int(os.environ.get("PUSHDOWN_DIFF_SEED", "20240115"))
THREADS = 2

# constructs and how to recognise them in the Athena SQL
CONSTRUCTS = {
    "comparison": lambda s: any(op in s for op in (" = ", " <> ", " < ", " > ", " <= ", " >= ")),
    "and_or_not": lambda s: " OR " in s or "(NOT " in s,
    "in_list": lambda s: " IN (" in s,
    "is_null": lambda s: " IS NULL" in s or " IS NOT NULL" in s,
    "is_distinct_from": lambda s: "IS DISTINCT FROM" in s,
    "like_escape": lambda s: "LIKE" in s and "ESCAPE '\\'" in s,
    "ilike_as_lower": lambda s: "(lower(" in s and "LIKE" in s,
    "arithmetic": lambda s: any(op in s for op in (" + ", " - ", " * ", " / ", " % ", "(- ")),
    "functions": lambda s: any(f in s for f in ("lower(", "upper(", "length(", "substr(",
                                                "coalesce(", "date_trunc(", "hour(", "month(",
                                                "dow(")),
    "casts": lambda s: any(t in s for t in ("AS BIGINT)", "AS DECIMAL(10,0))",
                                            "AS DECIMAL(19,0))", "AS TIMESTAMP)",
                                            "AS DATE)")),
    "timestamp_bound": lambda s: "TIMESTAMP '" in s,
    "runtime_value": lambda s: "$1" in s,
    "partition_pruning": lambda s: '"datehour" >=' in s or '"datehour" <=' in s,
    # only in the bucketed layout (checked there)
    "key_bucket": lambda s: '"key_bucket" = ' in s or '"key_bucket" IN (' in s,
    "key_bucket_at_execution": lambda s: '"key_bucket" IN ($' in s,
    # only in the attribute folders layout (checked there)
    "attribute_folder": lambda s: '"attribute_folder" = ' in s or '"attribute_folder" IN (\'' in s,
    "attribute_folder_at_execution": lambda s: '"attribute_folder" IN ($' in s,
    "text_range": lambda s: any(f'"{c}" {op} \'' in s for c in ("note", "orderId", "state")
                                for op in ("<", ">", "<=", ">=")),
    "order_by": lambda s: " ORDER BY " in s,
    "limit": lambda s: " LIMIT " in s,
    "distinct": lambda s: "SELECT DISTINCT" in s,
    "aggregate": lambda s: any(a in s for a in ("count(", "sum(", "avg(", "min(", "max(",
                                                "bool_and(", "bool_or(")),
    "group_by": lambda s: " GROUP BY " in s,
    "having": lambda s: " HAVING " in s,
    "join": lambda s: " JOIN " in s,
    "case": lambda s: "(CASE WHEN " in s,
    "nullif": lambda s: "nullif(" in s,
    "strpos": lambda s: "strpos(" in s,
    "float_greater_as_not": lambda s: '"weight" <' in s and "NOT (" in s,
    "like_runtime_pattern": lambda s: "LIKE $" in s,
    "limit_runtime_value": lambda s: "LIMIT $" in s,
    "exists_semi_join": lambda s: "(EXISTS (SELECT 1 FROM " in s,
    "avg_as_sum_and_count": lambda s: "AS VARCHAR) || ' ' || CAST(count(" in s,
    "min_max_aggregate": lambda s: s.startswith("SELECT min(") or s.startswith("SELECT max("),
    "not_exists_anti_join": lambda s: "(NOT EXISTS (SELECT 1 FROM " in s,
    "offset_without_limit": lambda s: " OFFSET " in s and " LIMIT " not in s,
    "distinct_order_by_limit": lambda s: s.startswith("SELECT DISTINCT") and
    " ORDER BY " in s and " LIMIT " in s,
    "group_by_order_by_limit": lambda s: " GROUP BY " in s and " ORDER BY " in s and
    " LIMIT " in s,
    "distinct_on_window": lambda s: "row_number() OVER (PARTITION BY " in s,
    "self_join_one_scan": lambda s: '"audit_fdw_rows1") AS r' in s,
}
# constructs seen in the plan around the Athena SQL
PLAN_CONSTRUCTS = {
    "parameterized_scan": lambda plan: "Nested Loop" in plan and any(
        '" = $' in s for s in athena_sql(plan)),
    "batched_join": lambda plan: "AuditBatchedJoin" in plan and any(
        " IN ($" in s for s in athena_sql(plan)),
}

TEXT_VALUES = pushdown_fixture.NOTES + ["101", "105", "OPEN", "DELIVERED", "RETURNED", "a", "z"]
LIKE_PATTERNS = ["%", "a%", "%e%", "%\\%%", "%\\_%", "_a%", "%'%", "%\\\\%", "Z%", "é%",
                 "%ß%", "日%", "%\\%", "1__", "%o_f", "%\"%", "", "MiXeD%", "%🎉"]
ICU = "und-x-icu"


# the layout the module's fixture set up last
LAYOUT = {}
# the attribute folders layout's declared states: CANCELLED is not, so its
# records are in _other with the states no declaration of strings can hold
# (the fixture's odd_states: a number, a boolean, other strings)
DECLARED_STATES = ["OPEN", "PICKEDUP", "DELIVERED", "RETURNED"]


@pytest.fixture(scope="module",
                params=["delivery_time", "event_time", "event_time_buckets", "event_time_folders"])
def setup(emulator, request):
    """The same records in each layout of the audit table's folders: by the
    hour Firehose delivered them (pruning allows for skew and a declared
    delay), by their event hour (both bounds prune exactly), by event hour
    and key bucket (16 buckets: a key's equality or IN list also selects its
    buckets' folders), or by event hour, key bucket and attribute folder of
    the new image's state (README, Attribute folders: an equality, IN list or parameter on
    the state also selects its folder and _other; here with states a
    declaration misses)."""
    folders = request.param == "event_time_folders"
    buckets = request.param in ("event_time_buckets", "event_time_folders")
    layout = "event_time" if buckets else request.param
    LAYOUT["buckets"] = buckets
    LAYOUT["folders"] = folders
    event = layout == "event_time"
    prefix = "orders_evf/" if folders else "orders_evb/" if buckets else \
        "orders_ev/" if event else "orders/"
    glue_table = "orders_audit_evf" if folders else "orders_audit_evb" if buckets else \
        "orders_audit_ev" if event else "orders_audit"
    rng = random.Random(SEED)
    s3 = emulator.client("s3")
    for b in (BUCKET, RESULTS):
        try:
            s3.create_bucket(Bucket=b)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    recs = pushdown_fixture.records(60, datetime.datetime(2024, 1, 1), 20, rng,
                                    odd_states=folders)
    pushdown_fixture.write(emulator, BUCKET, prefix, recs, rng, layout, 1 if buckets else 0,
                           ("state", DECLARED_STATES) if folders else None)
    emulator.configure(athena_min_query_ms=0)

    conn = connect()
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS audit_fdw")
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute(f"""CREATE SERVER {SERVER} FOREIGN DATA WRAPPER audit_fdw OPTIONS (
        region 'us-east-1', endpoint '{emulator.url}', database '{DATABASE}',
        output_location 's3://{RESULTS}/audit_fdw/')""")
    cur.execute(f"""CREATE USER MAPPING FOR CURRENT_USER SERVER {SERVER}
        OPTIONS (access_key_id 'test', secret_access_key 'test')""")
    glue = emulator.client("glue")
    try:
        glue.delete_table(DatabaseName=DATABASE, Name=glue_table)
    except Exception:
        pass
    folder_args = (", folder_attribute => 'state', folder_values => '{%s}'"
                   % ",".join(DECLARED_STATES) if folders else "")
    cur.execute(f"""SELECT audit_fdw.create_audit_table('{SERVER}', '{glue_table}',
        location => 's3://{BUCKET}/{prefix}', database => '{DATABASE}',
        item_columns => '{pushdown_fixture.ITEM_COLUMNS}',
        key_columns => '{pushdown_fixture.KEY_COLUMNS}', history => '100 years',
        layout => '{layout}', key_buckets => {16 if buckets else 0}{folder_args})""")
    pruning = "partition_layout 'event_time'" if event else "max_delivery_delay '15 minutes'"
    if buckets:
        pruning += ", bucket_column 'key_bucket', bucket_key 'orderId', bucket_digits '1'"
    if folders:
        pruning += (", folder_column 'attribute_folder', folder_attribute 'state', "
                    f"folder_values '{','.join(DECLARED_STATES)}'")
    cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    cur.execute(f"CREATE SCHEMA {SCHEMA}")
    # audit_big: the same table said to be huge, so that a join with a few
    # local rows becomes a batched join (their keys in one IN list), or a
    # parameterized scan for one row
    for name in ("audit", "audit2", "audit_big"):
        cur.execute(f"""CREATE FOREIGN TABLE {SCHEMA}.{name} (
            event_id text, event_name text, event_time timestamptz,
            sequence_number text,
            order_id text OPTIONS (column_name 'keys', path 'orderId'),
            new_state text OPTIONS (column_name 'new_image', path 'state'),
            old_state text OPTIONS (column_name 'old_image', path 'state'),
            note text OPTIONS (column_name 'new_image', path 'note'),
            old_note varchar OPTIONS (column_name 'old_image', path 'note'),
            qty integer OPTIONS (column_name 'new_image', path 'qty'),
            old_qty integer OPTIONS (column_name 'old_image', path 'qty'),
            amount numeric(12,2) OPTIONS (column_name 'new_image', path 'amount'),
            weight double precision OPTIONS (column_name 'new_image', path 'weight'),
            express boolean OPTIONS (column_name 'new_image', path 'express'),
            updated bigint OPTIONS (column_name 'new_image', path 'lastUpdatedDate'),
            ratio real OPTIONS (column_name 'new_image', path 'ratio'),
            new_image jsonb)
            SERVER {SERVER} OPTIONS ("table" '{glue_table}',
                estimated_rows '{"1000000000" if name == "audit_big" else "100000"}',
                time_column 'event_time', partition_column 'datehour',
                partition_format 'yyyy/MM/dd/HH', {pruning})""")
    numbers_table(emulator, cur, random.Random(SEED))
    cur.execute(f"CREATE TABLE {SCHEMA}.local_orders (order_id text, priority int)")
    cur.execute(f"""INSERT INTO {SCHEMA}.local_orders
        SELECT (100 + g)::text, g % 3 FROM generate_series(0, 70, 7) g""")
    cur.execute(f"ANALYZE {SCHEMA}.local_orders")
    conn.close()
    return recs


# the numbers table: a column of every integer width and decimals of many
# precisions and scales, with values up to each type's largest
NUMBER_COLUMNS = [("t", "tinyint", "smallint"), ("s", "smallint", "smallint"),
                  ("i", "int", "integer"), ("b", "bigint", "bigint")] + [
    (f"d{p}_{sc}", f"decimal({p},{sc})", f"numeric({p},{sc})")
    for p, sc in ((5, 2), (9, 0), (12, 2), (18, 4), (19, 0), (20, 10), (30, 5), (38, 0),
                  (38, 36), (38, 10), (1, 1))]
DECIMALS = [c for c in NUMBER_COLUMNS if c[1].startswith("decimal")]
INTEGER_RANGES = {"t": 127, "s": 32767, "i": 2147483647, "b": 9223372036854775807}


def decimal_text(rng, p, sc, largest=False):
    """A decimal(p,sc) value as text: random digits, or the type's largest."""
    whole = p - sc
    if largest:
        digits = "9" * p
    else:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, p + 1)))
        digits = digits.rjust(p, "0")
    text = (digits[:whole].lstrip("0") or "0") + ("." + digits[whole:] if sc else "")
    return ("-" if rng.random() < 0.3 else "") + text


def numbers_table(emulator, cur, rng):
    glue = emulator.client("glue")
    s3 = emulator.client("s3")
    athena_tables.replace_json_table(glue, DATABASE, "numbers",
                                     [("id", "string")] + [(n, g) for n, g, _ in NUMBER_COLUMNS],
                                     f"s3://{BUCKET}/numbers/")
    lines = []
    for row in range(40):
        fields = [f'"id": "{row}"']
        for n, g, _ in NUMBER_COLUMNS:
            if rng.random() < 0.1:
                continue
            if n in INTEGER_RANGES:
                top = INTEGER_RANGES[n]
                # small values, whose arithmetic fits: the corners come from constants
                v = rng.choice([rng.randrange(-40, 41), rng.randrange(-top // 1000 - 1, top // 1000)])
                if n == "t":
                    # 39 * 39 overflows a tinyint in Trino, not a smallint here
                    v = rng.randrange(-40, 41)
                fields.append(f'"{n}": {v}')
            else:
                p, sc = (int(x) for x in g[len("decimal("):-1].split(","))
                fields.append(f'"{n}": {decimal_text(rng, p, sc, largest=row == 0)}')
        lines.append("{" + ", ".join(fields) + "}\n")
    s3.put_object(Bucket=BUCKET, Key="numbers/numbers.json", Body="".join(lines).encode())
    cur.execute(f"DROP FOREIGN TABLE IF EXISTS {SCHEMA}.numbers")
    cur.execute(f"""CREATE FOREIGN TABLE {SCHEMA}.numbers (id text,
        {", ".join(f"{n} {local}" for n, _, local in NUMBER_COLUMNS)})
        SERVER {SERVER} OPTIONS ("table" 'numbers')""")


# ---------------------------------------------------------------------------
# query generation
# ---------------------------------------------------------------------------

def lit(v):
    if v is None:
        return "NULL"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return str(v)


class Gen:
    """Random predicates and query shapes over the audit table (alias a)."""

    def __init__(self, rng):
        self.r = rng

    def ts(self):
        day = self.r.randrange(0, 26)
        base = datetime.datetime(2024, 1, 1) + datetime.timedelta(
            days=day, hours=self.r.randrange(24), minutes=self.r.randrange(60),
            seconds=self.r.randrange(60))
        us = self.r.choice([0, 0, 123000, 500, 999999, 250250])
        t = base + datetime.timedelta(microseconds=us)
        zone = self.r.choice(["+00", "-08", "+05:30", ""])
        text = t.strftime("%Y-%m-%d %H:%M:%S.%f") + zone
        return f"timestamptz '{text}'"

    def text_col(self, a):
        return self.r.choice([f"{a}.note", f"{a}.new_state", f"{a}.order_id", f"{a}.old_note"])

    def predicate(self, a="a", depth=0):
        r = self.r
        kind = r.randrange(24 if depth < 2 else 20)
        if kind == 0:
            return f"{self.text_col(a)} {r.choice(['=', '<>'])} {lit(r.choice(TEXT_VALUES))}"
        if kind == 1:
            coll = r.choice(["", ' COLLATE "C"', f' COLLATE "{ICU}"'])
            return (f"{self.text_col(a)}{coll} {r.choice(['<', '<=', '>', '>='])} "
                    f"{lit(r.choice(TEXT_VALUES))}")
        if kind == 2:
            return (f"{a}.qty {r.choice(['=', '<>', '<', '<=', '>', '>='])} "
                    f"{r.randrange(-5, 45)}")
        if kind == 3:
            return (f"{a}.amount {r.choice(['=', '<', '>=', '<>'])} "
                    f"{r.choice(['12.50', '100', '-3.21', '500.005', '0'])}")
        if kind == 4:
            return (f"{a}.weight {r.choice(['=', '<>', '<', '<=', '>', '>='])} "
                    f"{r.choice(['1.25', '2', '0.1', '3.75e0', '10'])}")
        if kind == 5:
            return r.choice([f"{a}.express", f"NOT {a}.express", f"{a}.express = false",
                             f"{a}.express IS NOT TRUE", f"{a}.express IS NULL"])
        if kind == 6:
            return (f"{a}.event_time {r.choice(['<', '<=', '>', '>=', '=', '<>'])} "
                    f"{self.ts()}")
        if kind == 7:
            return f"{a}.event_time BETWEEN {self.ts()} AND {self.ts()}"
        if kind == 8:
            vals = r.sample(TEXT_VALUES, r.randrange(1, 5))
            if r.random() < 0.2:
                vals.append(None)
            neg = r.choice(["", "NOT "])
            return f"{self.text_col(a)} {neg}IN ({', '.join(lit(v) for v in vals)})"
        if kind == 9:
            arr = ",".join('"' + str(v).replace('\\', '\\\\').replace('"', '\\"') + '"'
                           for v in r.sample(TEXT_VALUES, 3))
            return f"{a}.note = ANY({lit('{' + arr + '}')}::text[])"
        if kind == 10:
            return f"{a}.qty IN ({', '.join(str(r.randrange(0, 40)) for _ in range(3))})"
        if kind == 11:
            col = r.choice([f"{a}.note", f"{a}.qty", f"{a}.amount", f"{a}.old_state",
                            f"{a}.express", f"{a}.new_image", f"{a}.weight"])
            return f"{col} IS {r.choice(['', 'NOT '])}NULL"
        if kind == 12:
            return (f"{self.text_col(a)} IS {r.choice(['', 'NOT '])}DISTINCT FROM "
                    f"{r.choice([lit(r.choice(TEXT_VALUES)), 'NULL', a + '.old_state'])}")
        if kind == 13:
            op = r.choice(["LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"])
            return f"{self.text_col(a)} {op} {lit(r.choice(LIKE_PATTERNS))}"
        if kind == 14:
            e = r.choice([f"{a}.qty + 3", f"{a}.qty * 2 - 1", f"{a}.qty / 3", f"{a}.qty % 4",
                          f"-{a}.qty", f"{a}.qty + {a}.old_qty", f"{a}.updated - 1704067200",
                          f"{a}.amount + 1.5", f"{a}.amount - {a}.amount"])
            return f"{e} {r.choice(['=', '<', '>', '>=', '<>'])} {r.randrange(-10, 30)}"
        if kind == 15:
            e = r.choice([f"lower({a}.note)", f"upper({a}.note)", f"lower({a}.new_state)",
                          f"substr({a}.note, {r.randrange(1, 4)})",
                          f"substr({a}.note, {r.randrange(1, 3)}, {r.randrange(0, 4)})",
                          f"substring({a}.order_id from 2 for 2)",
                          f"coalesce({a}.note, {a}.old_note, 'none')",
                          f"{a}.note || '!'"])
            return f"{e} {r.choice(['=', '<>'])} {lit(r.choice(TEXT_VALUES + ['école', 'none!', '01', 'a', 'lain']))}"
        if kind == 16:
            return (f"length({a}.note) {r.choice(['=', '<', '>'])} {r.randrange(0, 12)}")
        if kind == 17:
            f = r.choice(["hour", "day", "month", "year", "doy", "isodow", "minute", "week"])
            return (f"extract({f} from {a}.event_time AT TIME ZONE 'UTC') "
                    f"{r.choice(['=', '<', '>='])} {r.randrange(0, 30)}")
        if kind == 18:
            return (f"date_trunc('{r.choice(['day', 'hour', 'week', 'month'])}', {a}.event_time, 'UTC') "
                    f"{r.choice(['=', '<', '>='])} {self.ts()}")
        if kind == 19:
            c = r.choice([f"{a}.qty::bigint > {r.randrange(40)}",
                          f"{a}.qty::numeric <= {r.randrange(40)}.5",
                          f"({a}.event_time AT TIME ZONE 'UTC')::date = date '2024-01-{r.randrange(1, 28):02d}'",
                          f"{a}.updated::numeric > 1704500000",
                          f"{a}.event_time >= now() - interval '{r.randrange(500, 2000)} days'",
                          f"{a}.event_time < now() - interval '{r.randrange(600, 1200)} days'",
                          f"{a}.event_time >= current_date - {r.randrange(1000, 1100)}",
                          f"{a}.note = lower(upper('PLAIN'))",
                          f"{a}.note <> current_user::text"])
            return c
        sub = [self.predicate(a, depth + 1) for _ in range(r.randrange(2, 4))]
        if kind in (20, 21):
            return "(" + " AND ".join(sub) + ")"
        if kind == 22:
            return "(" + " OR ".join(sub) + ")"
        return f"NOT ({sub[0]})"

    def where(self, a="a"):
        n = self.r.randrange(0, 4)
        if n == 0:
            return ""
        return " WHERE " + " AND ".join(self.predicate(a) for _ in range(n))

    def query(self):
        """(sql, params, ordered)"""
        r = self.r
        shape = r.randrange(12)
        t = f"{SCHEMA}.audit a"
        cols = "a.event_id, a.event_time, a.order_id, a.new_state, a.note, a.qty, a.amount, a.weight, a.express"
        if shape <= 3:
            return f"SELECT {cols} FROM {t}{self.where()}", None, False
        if shape == 4:
            lim = r.randrange(1, 15)
            off = r.choice(["", f" OFFSET {r.randrange(0, 10)}"])
            key = r.choice(["a.event_time", "a.order_id", "a.qty", "a.amount", "a.note COLLATE \"C\""])
            d = r.choice(["", " DESC"])
            nulls = r.choice(["", " NULLS FIRST", " NULLS LAST"])
            return (f"SELECT {cols} FROM {t}{self.where()} ORDER BY {key}{d}{nulls}, a.event_id"
                    f" LIMIT {lim}{off}", None, True)
        if shape == 5:
            g = r.choice(["a.new_state", "a.order_id", "a.express", "a.event_name",
                          "date_trunc('day', a.event_time, 'UTC')", "a.qty % 5",
                          "lower(a.note)"])
            aggs = ", ".join(r.sample([
                "count(*)", "count(a.note)", "count(DISTINCT a.order_id)", "sum(a.qty)",
                "sum(a.updated)", "sum(a.amount)", "avg(a.weight)", "min(a.event_time)",
                "max(a.amount)", "min(a.note)", "max(a.order_id)", "bool_and(a.express)",
                "bool_or(a.express)", "count(*) FILTER (WHERE a.qty > 10)", "avg(a.qty)",
                "min(a.weight)"], r.randrange(1, 5)))
            having = r.choice(["", " HAVING count(*) > 1", f" HAVING sum(a.qty) > {r.randrange(0, 50)}",
                               " HAVING max(a.amount) IS NOT NULL"])
            order = r.choice(["", " ORDER BY 1", " ORDER BY 2 DESC, 1"])
            lim = r.choice(["", f" LIMIT {r.randrange(1, 6)}"]) if order else ""
            return (f"SELECT {g}, {aggs} FROM {t}{self.where()} GROUP BY 1{having}{order}{lim}",
                    None, bool(lim))
        if shape == 6:
            aggs = ", ".join(r.sample(["count(*)", "sum(a.qty)", "max(a.event_time)",
                                       "min(a.amount)", "count(DISTINCT a.new_state)",
                                       "bool_or(a.express)"], r.randrange(1, 4)))
            return f"SELECT {aggs} FROM {t}{self.where()}", None, False
        if shape == 7:
            c = r.choice(["a.new_state", "a.order_id, a.new_state", "a.note", "a.qty, a.express",
                          "a.event_name, lower(a.note)"])
            return f"SELECT DISTINCT {c} FROM {t}{self.where()}", None, False
        if shape in (8, 9):
            jt = r.choice(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"])
            cond = r.choice(["a.order_id = b.order_id", "a.event_id = b.event_id",
                             "a.order_id = b.order_id AND b.event_time > a.event_time"])
            extra = ""
            if r.random() < 0.6 and jt != "FULL JOIN":
                extra = f" AND {self.predicate('b')}"
            w = self.where() if jt != "FULL JOIN" else ""
            agg = r.random() < 0.3
            if agg and jt == "JOIN":
                return (f"SELECT a.new_state, b.new_state, count(*) FROM {t} {jt} {SCHEMA}.audit2 b"
                        f" ON {cond}{extra}{w} GROUP BY 1, 2", None, False)
            return (f"SELECT a.event_id, a.order_id, a.new_state, b.event_id, b.new_state"
                    f" FROM {t} {jt} {SCHEMA}.audit2 b ON {cond}{extra}{w}", None, False)
        if shape == 10:
            if r.random() < 0.4:
                # a few outer rows against a huge table: their keys in one
                # IN list (a batched join); one outer row: a parameterized
                # scan
                outer = (f"l.priority = {r.randrange(3)}" if r.random() < 0.6
                         else f"l.order_id || '' = '{100 + 7 * r.randrange(11)}'")
                return (f"SELECT l.order_id, a.event_time, a.new_state, a.qty FROM "
                        f"{SCHEMA}.local_orders l JOIN {SCHEMA}.audit_big a"
                        f" ON a.order_id = l.order_id"
                        f"{self.where() or ' WHERE true'} AND {outer}",
                        None, False)
            return (f"SELECT l.order_id, l.priority, a.event_time, a.new_state FROM "
                    f"{SCHEMA}.local_orders l JOIN {t} ON a.order_id = l.order_id"
                    f"{self.where()}", None, False)
        # parameters of a prepared statement
        kind = r.randrange(3)
        if kind == 0:
            return (f"SELECT {cols} FROM {t} WHERE a.order_id = $1",
                    [str(r.randrange(100, 165))], False)
        if kind == 1:
            return (f"SELECT {cols} FROM {t} WHERE a.event_time >= $1 AND a.event_time < $2",
                    [self.ts()[len("timestamptz '"):-1], self.ts()[len("timestamptz '"):-1]], False)
        return (f"SELECT {cols} FROM {t} WHERE a.note LIKE $1 OR a.qty > $2",
                [r.choice(LIKE_PATTERNS), r.randrange(0, 40)], False)


# ---------------------------------------------------------------------------
# corners: generators aimed at what Athena treats differently
# ---------------------------------------------------------------------------

REAL_CONSTANTS = ["0.1", "0.5", "1.1", "2.2", "0.3", "100.25", "-7.7", "0.001", "16777216",
                  "16777217", "3.4028235e38", "0"]
COMPARISONS = ["=", "<>", "<", "<=", ">", ">="]
# libc collations whose case mapping is their locale's own (made by ensure_locales)
CASE_COLLATIONS = {"pd_tr": "tr_TR.utf8", "pd_en": "en_US.utf8"}


def corners(rng):
    """{generator: [(sql, params, ordered)]}; a parameter may be (value, type)."""
    t = f"{SCHEMA}.audit a"
    cols = "a.event_id, a.order_id, a.amount, a.ratio, a.note"
    out = {}
    # 1. real constants: the exact double of the float4, as Trino widens REAL
    q = []
    for c in REAL_CONSTANTS:
        for op in COMPARISONS:
            q.append((f"SELECT {cols} FROM {t} WHERE a.ratio {op} {c}::real", None, False))
        q.append((f"SELECT {cols} FROM {t} WHERE a.weight <= {c}::real", None, False))
    out["float4_constants"] = q
    # 2. 38-digit literals ship, 39-digit ones stay local
    q = []
    for digits in (18, 19, 37, 38, 39, 40):
        big = "9" * digits
        for op in COMPARISONS:
            q.append((f"SELECT {cols} FROM {t} WHERE a.amount {op} {big}", None, False))
            q.append((f"SELECT {cols} FROM {t} WHERE a.amount {op} -{big}", None, False))
        q.append((f"SELECT {cols} FROM {t} WHERE a.updated::numeric < 1{'0' * (digits - 1)}",
                  None, False))
    out["38_and_39_digit_literals"] = q
    # 3. runtime values without an Athena literal of their own
    q = []
    dates = ["infinity", "-infinity", "10000-01-01", "0001-01-01", "4713-01-01 BC",
             "2024-01-10", "9999-12-31"]
    stamps = ["infinity", "-infinity", "10000-01-01 00:00:00", "0001-01-01 00:00:00",
              "2024-01-10 12:00:00.123456", "294276-12-31 23:59:59"]
    for v in dates:
        for op in COMPARISONS:
            q.append((f"SELECT {cols} FROM {t} WHERE (a.event_time AT TIME ZONE 'UTC')::date "
                      f"{op} $1", [(v, "date")], False))
    for v in stamps:
        for op in COMPARISONS:
            q.append((f"SELECT {cols} FROM {t} WHERE a.event_time AT TIME ZONE 'UTC' {op} $1",
                      [(v, "timestamp")], False))
            zone = "" if "infinity" in v else "+00"
            q.append((f"SELECT {cols} FROM {t} WHERE a.event_time {op} $1",
                      [(v + zone, "timestamptz")], False))
    for v, typ in (("9223372036854775807", "bigint"), ("-2147483648", "integer"),
                   ("32767", "smallint"), ("", "text"), ("\u0001", "text")):
        q.append((f"SELECT {cols} FROM {t} WHERE a.note = $1 OR a.note < $1",
                  [(v, typ)], False) if typ == "text" else
                 (f"SELECT {cols} FROM {t} WHERE a.updated < $1", [(v, typ)], False))
    out["out_of_range_runtime_values"] = q
    # 4. statements near and over Athena's 262,144 bytes
    q = []
    for n in (100, 2000, 6000, 20000, 40002):
        ids = ", ".join("'%d'" % (100 + rng.randrange(10**6)) for _ in range(n))
        q.append((f"SELECT {cols} FROM {t} WHERE a.order_id IN ({ids}, '101', '120')",
                  None, False))
        q.append((f"SELECT {cols} FROM {t} WHERE a.order_id NOT IN ({ids}) AND a.qty > 30",
                  None, False))
    out["statement_size_limit"] = q
    # 5. case mapping under locale-specific collations
    q = []
    for coll in list(CASE_COLLATIONS) + ['"C.utf8"', '"C"', '"default"']:
        for e, v in ((f"upper(a.note COLLATE {coll})", "MIXED CASE"),
                     (f"upper(a.note COLLATE {coll})", "PLAIN"),
                     (f"lower(a.note COLLATE {coll})", "mixed case"),
                     (f"lower(a.note COLLATE {coll})", "école"),
                     (f"upper(a.note COLLATE {coll})", "STRAßE")):
            for op in ("=", "<>"):
                q.append((f"SELECT {cols} FROM {t} WHERE {e} {op} {lit(v)}", None, False))
        for pat in ("%i%", "%I%", "mixed%", "%İ%", "%ı%", "izmir"):
            q.append((f"SELECT {cols} FROM {t} WHERE a.note COLLATE {coll} ILIKE {lit(pat)}",
                      None, False))
    out["case_collations"] = q
    # 6. shipped since: CASE, NULLIF, strpos/position, float > and >=
    q = []
    for c in ("0.1", "1.25", "2", "-1", "10"):
        for op in (">", ">="):
            q.append((f"SELECT {cols} FROM {t} WHERE a.weight {op} {c}", None, False))
            q.append((f"SELECT {cols} FROM {t} WHERE NOT (a.weight {op} {c})", None, False))
    for v in ("a", "e", "", "é", "%", "plain", "'"):
        q.append((f"SELECT {cols} FROM {t} WHERE strpos(a.note, {lit(v)}) > 1", None, False))
        q.append((f"SELECT {cols} FROM {t} WHERE position({lit(v)} in a.note) = 0", None, False))
        q.append((f"SELECT {cols} FROM {t} WHERE nullif(a.note, {lit(v)}) IS NULL", None, False))
    for n in (0, 5, 20):
        q.append((f"SELECT {cols} FROM {t} WHERE CASE WHEN a.qty > {n} THEN a.new_state "
                  f"WHEN a.qty IS NULL THEN 'none' ELSE a.note END = 'OPEN'", None, False))
        q.append((f"SELECT {cols} FROM {t} WHERE CASE WHEN a.express THEN a.qty ELSE -a.qty END "
                  f"> {n}", None, False))
        q.append((f"SELECT {cols} FROM {t} WHERE CASE WHEN a.qty > {n} THEN a.amount "
                  f"ELSE 0.00 END > 100", None, False))
        q.append((f"SELECT {cols} FROM {t} WHERE CASE WHEN a.qty > {n} THEN a.amount "
                  f"ELSE 0 END > 100", None, False))
        q.append((f"SELECT {cols} FROM {t} WHERE nullif(a.qty, {n}) IS NULL", None, False))
    for pat in LIKE_PATTERNS:
        if pat.endswith("\\") and not pat.endswith("\\\\"):
            continue  # an error either way: PostgreSQL's own check
        q.append((f"SELECT {cols} FROM {t} WHERE a.note LIKE $1", [(pat, "text")], False))
        q.append((f"SELECT {cols} FROM {t} WHERE a.note NOT LIKE $1", [(pat, "text")], False))
    for n, m in ((0, 0), (1, 0), (5, 3), (None, 10), (200, None), (3, 1000)):
        q.append((f"SELECT {cols} FROM {t} ORDER BY a.event_time, a.event_id LIMIT $1 OFFSET $2",
                  [(n, "bigint"), (m, "bigint")], True))
        q.append((f"SELECT {cols} FROM {t} WHERE a.qty > 5 ORDER BY a.order_id, a.event_id "
                  f"LIMIT $1", [(n, "bigint")], True))
    b = f"{SCHEMA}.audit2 b"
    for state in ("RETURNED", "CANCELLED", "OPEN", "NOPE"):
        inner = [f"b.order_id = a.order_id AND b.new_state = {lit(state)}",
                 f"b.order_id = a.order_id AND b.event_id <> a.event_id AND b.qty > 20",
                 f"b.order_id = a.order_id AND b.event_time > a.event_time"]
        for cond in inner:
            for neg in ("", "NOT "):
                q.append((f"SELECT {cols} FROM {t} WHERE {neg}EXISTS "
                          f"(SELECT 1 FROM {b} WHERE {cond})", None, False))
        q.append((f"SELECT {cols} FROM {t} WHERE a.qty > 5 AND a.order_id IN "
                  f"(SELECT b.order_id FROM {b} WHERE b.new_state = {lit(state)})", None, False))
        q.append((f"SELECT a.new_state, count(*) FROM {t} WHERE EXISTS (SELECT 1 FROM {b} "
                  f"WHERE b.order_id = a.order_id AND b.new_state = {lit(state)}) GROUP BY 1",
                  None, False))
    out["newly_shipped"] = q
    out["numeric_scales"] = numeric_scales(rng)
    out["avg_as_sum_and_count"] = averages(rng)
    out["min_max_without_group_by"] = min_max(rng)
    out["timestamp_against_timestamptz"] = zoned_bounds(rng)
    out["upper_paths"] = upper_paths(rng)
    out["key_values_at_execution"] = key_values_at_execution()
    out["self_joins"] = self_joins(rng)
    out["attribute_folders"] = attribute_folders()
    return out


# values of the state: declared, not declared (CANCELLED, ON_HOLD), a
# number's and a boolean's text, declared ones but for case or a space, the
# reserved folders' names, the empty string
STATE_VALUES = ["OPEN", "PICKEDUP", "DELIVERED", "RETURNED", "CANCELLED", "ON_HOLD", "7",
                "true", "open", "DELIVERED ", "_other", "_none", ""]


def attribute_folders():
    """Conditions on the state, the attribute of the folders layout's third
    level: equalities, IN lists and = ANY of declared and undeclared values
    and of the texts of numbers and booleans, as constants and as
    parameters known at execution (NULL and arrays of NULL select no
    folder), with the key and time bounds, conditions that select no folder
    (old_image, <>, IS NULL, OR), a nested loop's outer value, and
    self-joins whose sides select folders or not."""
    t = f"{SCHEMA}.audit a"
    cols = "a.event_id, a.order_id, a.new_state, a.old_state"
    q = []
    for v in STATE_VALUES + [None]:
        q.append((f"SELECT {cols} FROM {t} WHERE a.new_state = {lit(v)}", None, False))
        q.append((f"SELECT {cols} FROM {t} WHERE a.new_state = $1", [(v, "text")], False))
        q.append((f"SELECT count(*), max(a.event_time) FROM {t} WHERE a.new_state = $1 "
                  "AND a.event_time >= '2024-01-04'", [(v, "text")], False))
    for vs in (["OPEN", "RETURNED"], ["CANCELLED", "PICKEDUP", "7"], ["ON_HOLD", "true"],
               ["DELIVERED", None], [None], []):
        in_list = ", ".join(lit(v) for v in vs)
        if vs:
            q.append((f"SELECT {cols} FROM {t} WHERE a.new_state IN ({in_list})", None, False))
        arr = "{" + ",".join("NULL" if v is None else f'"{v}"' for v in vs) + "}"
        q.append((f"SELECT {cols} FROM {t} WHERE a.new_state = ANY($1)", [(arr, "text[]")], False))
        q.append((f"SELECT a.new_state, count(*) FROM {t} WHERE a.new_state = ANY({lit(arr)}) "
                  "GROUP BY 1", None, False))
    for cond in ("a.new_state = 'DELIVERED' AND a.order_id = '105'",
                 "a.new_state IN ('OPEN', 'PICKEDUP') AND a.new_state = 'OPEN'",
                 "a.new_state = 'OPEN' AND a.new_state = 'DELIVERED'",
                 "a.new_state = 'CANCELLED' AND a.order_id IN ('101', '130', '140')",
                 "a.new_state = 'RETURNED' AND a.event_time >= '2024-01-05' "
                 "AND a.event_time < '2024-01-09'",
                 "a.old_state = 'DELIVERED'", "a.new_state <> 'OPEN'", "a.new_state IS NULL",
                 "a.new_state IS NOT NULL AND a.event_name = 'REMOVE'",
                 "a.new_state = 'OPEN' OR a.event_name = 'REMOVE'",
                 "a.new_state > 'OPEN'", "a.new_state LIKE 'DEL%'", "lower(a.new_state) = 'open'",
                 "a.new_state = a.old_state", "a.new_state = upper('returned')",
                 "a.new_state = (SELECT min(order_id) FROM " + SCHEMA + ".local_orders)",
                 "a.new_state COLLATE \"C\" = 'OPEN'"):
        q.append((f"SELECT {cols} FROM {t} WHERE {cond}", None, False))
    q.append((f"SELECT a.new_state, count(*) FROM {t} GROUP BY 1", None, False))
    q.append((f"SELECT {cols} FROM {t} WHERE a.new_state = $1 AND a.order_id = $2",
              [("DELIVERED", "text"), ("105", "text")], False))
    # a nested loop's outer value: each loop reads its state's folders
    states = "(ARRAY['OPEN', 'RETURNED', 'CANCELLED'])[l.priority + 1]"
    q.append((f"SELECT l.order_id, a.event_id, a.new_state FROM {SCHEMA}.local_orders l "
              f"JOIN {SCHEMA}.audit_big a ON a.order_id = l.order_id AND a.new_state = {states}",
              None, False))
    q.append((f"SELECT l.order_id, a.event_id FROM {SCHEMA}.local_orders l "
              f"JOIN {SCHEMA}.audit_big a ON a.new_state = {states} AND a.order_id < '103'",
              None, False))
    # self-joins: the union of the sides' folders (a side without a
    # condition on the state: every folder)
    for ca, cb in (("a.new_state = 'DELIVERED'", "b.new_state = 'RETURNED'"),
                   ("a.new_state = 'CANCELLED'", "b.new_state IN ('OPEN', '7')"),
                   ("a.new_state = 'OPEN'", "b.old_state = 'OPEN'"),
                   ("a.new_state = 'true'", "b.new_state = 'ON_HOLD'"),
                   ("a.new_state IN ('PICKEDUP', 'open')", "b.new_state = 'DELIVERED' "
                    "AND b.event_time >= '2024-01-03'")):
        q.append((f"SELECT a.event_id, b.event_id, a.new_state, b.new_state FROM {t} "
                  f"JOIN {SCHEMA}.audit b ON a.order_id = b.order_id WHERE {ca} AND {cb}",
                  None, False))
    q.append((f"SELECT a.event_id, b.event_id FROM {t} JOIN {SCHEMA}.audit2 b "
              "ON a.order_id = b.order_id WHERE a.new_state = $1 AND b.new_state = 'RETURNED'",
              [("DELIVERED", "text")], False))
    q.append((f"SELECT a.new_state, count(*) FROM {t} JOIN {SCHEMA}.audit b "
              "ON a.new_state = b.new_state WHERE a.new_state IN ('CANCELLED', 'OPEN', '7') "
              "GROUP BY 1", None, False))
    return q


def key_values_at_execution():
    """The key known only at executor start (a generic plan's parameter, an
    array parameter, a function of one, an InitPlan's value): on the key
    bucket layout the scan selects its buckets then; NULL selects none, and
    an aggregate computed in Athena still answers."""
    t = f"{SCHEMA}.audit a"
    cols = "a.event_id, a.order_id, a.new_state"
    q = []
    for v in ("101", "105", "130", "999", None):
        q.append((f"SELECT {cols} FROM {t} WHERE a.order_id = $1", [(v, "text")], False))
        q.append((f"SELECT count(*), max(a.event_time) FROM {t} WHERE a.order_id = $1",
                  [(v, "text")], False))
        q.append((f"SELECT {cols} FROM {t} WHERE a.order_id IN ($1, '110') "
                  f"AND a.event_time >= '2024-01-05'", [(v, "text")], False))
        q.append((f"SELECT {cols} FROM {t} WHERE a.order_id = $1 OR a.new_state = 'RETURNED'",
                  [(v, "text")], False))
        q.append((f"SELECT {cols} FROM {t} WHERE a.order_id = upper($1)", [(v, "text")], False))
        q.append((f"SELECT l.order_id, a.event_id FROM {SCHEMA}.local_orders l "
                  f"LEFT JOIN {t} ON a.order_id = l.order_id AND a.order_id = $1",
                  [(v, "text")], False))
    for v in ("{101,108,NULL}", "{}", "{NULL}", "{999,102,102}", None):
        q.append((f"SELECT {cols} FROM {t} WHERE a.order_id = ANY($1)", [(v, "text[]")], False))
        q.append((f"SELECT a.order_id, count(*) FROM {t} WHERE a.order_id = ANY($1) GROUP BY 1",
                  [(v, "text[]")], False))
    for p in (0, 1, 2):
        q.append((f"SELECT l.order_id, a.event_id FROM {SCHEMA}.local_orders l "
                  f"JOIN {t} ON a.order_id = l.order_id WHERE l.priority = $1", [p], False))
    q.append((f"SELECT {cols} FROM {t} WHERE a.order_id = "
              f"(SELECT min(order_id) FROM {SCHEMA}.local_orders)", None, False))
    return q


# the self_joins generator's joins that keep the plain join (two scans)
SELF_JOINS_KEPT = ("LEFT JOIN", "ON a.note = b.old_note", "ON a.weight = b.weight")
SELF_JOIN_KEYS = ["order_id", "order_id", "order_id", "note", "old_note", "qty", "new_state",
                  "amount", "updated", "event_time", "express", "event_id"]


def self_joins(rng):
    """Inner joins of the audit table with itself on an equal column, read
    in one scan (array_agg per key, then UNNEST of each side): keys with
    duplicates and NULLs on both sides, sides with no match, extra join
    clauses, different columns per side (struct paths, the whole new_image
    as jsonb), the same foreign table twice or two foreign tables over the
    same Glue table, and grouping, ordering and limits over the join."""
    gen = Gen(rng)
    q = []
    extras = ["", "", " AND b.event_time > a.event_time", " AND a.event_id <> b.event_id",
              " AND a.qty < b.qty", " AND (a.note = b.old_note OR b.qty IS NULL)"]
    outputs = ["a.event_id, b.event_id",
               "a.order_id, a.event_time, b.event_time, b.new_state",
               "a.note, b.new_image, a.qty, b.amount",
               "a.new_image, b.old_state, b.express, a.updated",
               "b.order_id, a.weight, b.ratio"]
    sides = ["", "", "a.new_state = 'DELIVERED'", "b.old_state = 'DELIVERED' AND b.new_state = 'RETURNED'",
             "a.new_state = 'NOPE'", "b.event_name = 'REMOVE'"]
    for i in range(90):
        key = SELF_JOIN_KEYS[i % len(SELF_JOIN_KEYS)]
        other = rng.choice(["audit", "audit", "audit2"])
        conds = [c for c in (rng.choice(sides), rng.choice(sides)) if c]
        if rng.random() < 0.5:
            conds.append(gen.predicate(rng.choice(["a", "b"])))
        if key in ("new_state", "express", "event_id") or rng.random() < 0.3:
            day = rng.randrange(1, 15)
            conds.append(f"a.event_time >= '2024-01-{day:02d}' AND a.event_time < '2024-01-{day + 5:02d}'")
            conds.append(f"b.event_time >= '2024-01-{day + 1:02d}' AND b.event_time < '2024-01-{day + 7:02d}'")
        where = (" WHERE " + " AND ".join(conds)) if conds else ""
        join = f"{SCHEMA}.audit a JOIN {SCHEMA}.{other} b ON a.{key} = b.{key}{rng.choice(extras)}"
        shape = i % 5
        if shape == 3:
            q.append((f"SELECT a.new_state, b.new_state, count(*), max(b.event_time) FROM {join}{where}"
                      " GROUP BY 1, 2", None, False))
        elif shape == 4:
            q.append((f"SELECT a.event_id, b.event_id, a.{key} FROM {join}{where}"
                      f" ORDER BY a.event_id, b.event_id LIMIT {rng.randrange(1, 30)}", None, True))
        else:
            q.append((f"SELECT {rng.choice(outputs)} FROM {join}{where}", None, False))
    # the benchmark's question: orders delivered then returned in a window
    for lo, hi in (("2024-01-01", "2024-01-08"), ("2024-01-05", "2024-01-21"), ("2023-12-01", "2024-02-01")):
        q.append((f"SELECT d.order_id, d.event_time, r.event_time FROM {SCHEMA}.audit d "
                  f"JOIN {SCHEMA}.audit r ON r.order_id = d.order_id WHERE d.new_state = 'DELIVERED' "
                  f"AND r.old_state = 'DELIVERED' AND r.new_state = 'RETURNED' "
                  f"AND d.event_time >= '{lo}' AND d.event_time < '{hi}' "
                  f"AND r.event_time >= '{lo}' AND r.event_time < '{hi}'", None, False))
    # not one scan: outer joins, keys of different columns, an equality of
    # another kind (floats), a side that is not a plain scan
    q.append((f"SELECT a.event_id, b.event_id FROM {SCHEMA}.audit a LEFT JOIN {SCHEMA}.audit b "
              "ON a.order_id = b.order_id AND b.new_state = 'RETURNED'", None, False))
    q.append((f"SELECT a.event_id, b.event_id FROM {SCHEMA}.audit a JOIN {SCHEMA}.audit b "
              "ON a.note = b.old_note", None, False))
    q.append((f"SELECT a.event_id, b.event_id FROM {SCHEMA}.audit a JOIN {SCHEMA}.audit b "
              "ON a.weight = b.weight AND a.order_id < '110'", None, False))
    return q


def zoned_bounds(rng):
    """A timestamp or date (parameter, constant, or computed at executor
    start) against the timestamptz column: converted in the session's time
    zone (the worker's America/Los_Angeles), as PostgreSQL's cross-type
    comparison does, then shipped as a UTC bound."""
    t = f"{SCHEMA}.audit a"
    cols = "a.event_id, a.event_time, a.order_id"
    q = []
    stamps = ["2024-01-03 05:00:00", "2024-01-10 23:30:00.0005", "2024-01-15 08:00:00.999999",
              "2024-01-20 16:59:59.123", "2023-12-31 16:00:00", "infinity", "-infinity"]
    stamps += [(datetime.datetime(2024, 1, 1) + datetime.timedelta(
        seconds=rng.randrange(26 * 86400), microseconds=rng.randrange(10**6)))
        .strftime("%Y-%m-%d %H:%M:%S.%f") for _ in range(6)]
    for v in stamps:
        for op in COMPARISONS:
            q.append((f"SELECT {cols} FROM {t} WHERE a.event_time {op} $1",
                      [(v, "timestamp")], False))
        q.append((f"SELECT {cols} FROM {t} WHERE $1 < a.event_time", [(v, "timestamp")], False))
        if "infinity" not in v:
            q.append((f"SELECT {cols} FROM {t} WHERE a.event_time >= timestamp '{v}' "
                      f"AND a.qty > 5", None, False))
    for v in ("2024-01-03", "2024-01-12", "2024-01-26", "infinity"):
        for op in ("<", ">=", "="):
            q.append((f"SELECT {cols} FROM {t} WHERE a.event_time {op} $1",
                      [(v, "date")], False))
        q.append((f"SELECT {cols} FROM {t} WHERE a.event_time < date '{v}'", None, False))
    # equality with an existing event's time, and with now()'s local time
    q.append((f"SELECT {cols} FROM {t} WHERE a.event_time = "
              f"(SELECT max(b.event_time) FROM {SCHEMA}.audit2 b)::timestamp", None, False))
    q.append((f"SELECT {cols} FROM {t} WHERE a.event_time < localtimestamp", None, False))
    q.append((f"SELECT count(*) FROM {t} WHERE date_trunc('day', a.event_time, 'UTC') "
              f">= $1", [("2024-01-07 17:00:00", "timestamp")], False))
    return q


def upper_paths(rng):
    """OFFSET without LIMIT, and DISTINCT or GROUP BY with ORDER BY and
    LIMIT (and OFFSET): one Athena query, in a total order."""
    t = f"{SCHEMA}.audit a"
    cols = "a.event_id, a.order_id, a.qty"
    q = []
    for n in (0, 1, 7, 50, 1000):
        key = rng.choice(["a.event_time", "a.order_id", "a.qty DESC NULLS FIRST", "a.amount"])
        q.append((f"SELECT {cols} FROM {t} ORDER BY {key}, a.event_id OFFSET {n}", None, True))
        q.append((f"SELECT {cols} FROM {t} WHERE a.qty > 10 ORDER BY a.qty NULLS FIRST, "
                  f"a.event_id OFFSET $1", [(n, "bigint")], True))
    for c in ("a.new_state", "a.order_id", "a.qty", "a.new_state, a.express",
              "a.event_name, a.order_id"):
        for lim in (1, 3, 10):
            d = rng.choice(["", " DESC"])
            nulls = rng.choice([" NULLS FIRST", " NULLS LAST"])
            order = ", ".join(f"{x}{d}{nulls}" for x in c.split(", "))
            off = rng.choice(["", " OFFSET 1", " OFFSET 4"])
            q.append((f"SELECT DISTINCT {c} FROM {t} ORDER BY {order} LIMIT {lim}{off}",
                      None, True))
            q.append((f"SELECT {c}, count(*), max(a.qty) FROM {t} WHERE a.qty > 3 "
                      f"GROUP BY {c} ORDER BY {order} LIMIT {lim}{off}", None, True))
            q.append((f"SELECT {c}, count(*) FROM {t} GROUP BY {c} "
                      f"ORDER BY count(*) DESC, {order} LIMIT {lim}", None, True))
    # DISTINCT ON: one row per key, in a total order.  It ships where each
    # output column is a sort key; the last two keep a column that is not
    # (any row of a tie would do) and stay local
    on = [("a.order_id", "a.order_id, a.event_time", "a.event_time DESC"),
          ("a.order_id", "a.order_id, a.event_time, a.event_id", "a.event_time, a.event_id"),
          ("a.new_state", "a.new_state, a.qty", "a.qty DESC NULLS LAST"),
          ("a.new_state", "a.new_state, a.qty, a.amount", "a.qty NULLS FIRST, a.amount DESC"),
          ("a.express, a.new_state", "a.express, a.new_state, a.updated", "a.updated"),
          ("a.event_name", "a.event_name, a.order_id", "a.order_id DESC"),
          ("a.order_id", "a.order_id, a.new_state", "a.event_time DESC, a.event_id"),
          ("a.new_state", "a.new_state, a.note", "a.event_id")]
    for keys, cols_on, rest in on:
        for where in ("", " WHERE a.qty > 5", " WHERE a.event_time >= '2024-01-09'"):
            for lim in ("", " LIMIT 3"):
                q.append((f"SELECT DISTINCT ON ({keys}) {cols_on} FROM {t}{where} "
                          f"ORDER BY {keys}, {rest}{lim}", None, True))
    # a key equal to a constant has no sort key of its own: one row, local
    q.append((f"SELECT DISTINCT ON (a.order_id) a.order_id, a.event_time FROM {t} "
              f"WHERE a.order_id = '105' ORDER BY a.order_id, a.event_time DESC", None, True))
    return q


def min_max(rng):
    """min() and max() without GROUP BY, which the planner would rewrite
    into ORDER BY ... LIMIT 1 subqueries: one Athena aggregate instead (and
    ORDER BY ... LIMIT itself still ships: the random queries count it)."""
    q = []
    t = f"{SCHEMA}.audit a"
    keys = ["a.event_time", "a.qty", "a.amount", "a.updated", "a.order_id COLLATE \"C\"",
            "a.note COLLATE \"C\"", "(a.event_time AT TIME ZONE 'UTC')::date", "a.old_qty"]
    for _ in range(60):
        aggs = ", ".join(f"{rng.choice(['min', 'max'])}({rng.choice(keys)})"
                         for _ in range(rng.randrange(1, 4)))
        where = rng.choice(["", f" WHERE a.qty > {rng.randrange(-5, 45)}",
                            f" WHERE a.new_state = {lit(rng.choice(pushdown_fixture.STATES))}",
                            " WHERE a.note IS NULL", " WHERE false"])
        q.append((f"SELECT {aggs} FROM {t}{where}", None, False))
    for c in ("d5_2", "d38_36", "t", "b"):
        q.append((f"SELECT min(n.{c}), max(n.{c}) FROM {SCHEMA}.numbers n", None, False))
    return q


def averages(rng):
    """avg of integers and decimals, whose PostgreSQL result (a numeric whose
    scale follows the values) ships as sum and count, divided locally; as
    text, so that 2.50 and 2.5 differ.  avg inside an expression, HAVING or
    ORDER BY stays local."""
    q = []
    audit = f"{SCHEMA}.audit a"
    numbers = f"{SCHEMA}.numbers n"
    cols = [(audit, "a.qty"), (audit, "a.updated"), (audit, "a.amount"), (audit, "a.old_qty")] + [
        (numbers, f"n.{c}") for c in ("t", "s", "i", "b", "d5_2", "d12_2", "d18_4", "d19_0",
                                      "d38_0", "d1_1")]
    for table, c in cols:
        alias = table.split()[-1]
        key = "a.new_state" if alias == "a" else "n.i % 3"
        where = (f" WHERE a.qty > {rng.randrange(-5, 30)}" if alias == "a"
                 else f" WHERE n.i > {rng.randrange(-40, 40)}")
        q.append((f"SELECT avg({c})::text FROM {table}", None, False))
        q.append((f"SELECT avg({c})::text, count(*) FROM {table}{where}", None, False))
        q.append((f"SELECT {key}, avg({c})::text, sum({c}) FROM {table} GROUP BY 1", None, False))
        q.append((f"SELECT {key}, avg({c}) FILTER (WHERE {c} > 0)::text FROM {table}{where} "
                  f"GROUP BY 1", None, False))
        q.append((f"SELECT avg({c})::text FROM {table} WHERE false", None, False))
        q.append((f"SELECT {key}, (avg({c}) + 1)::text FROM {table} GROUP BY 1", None, False))
        q.append((f"SELECT {key}, avg({c})::text FROM {table} GROUP BY 1 "
                  f"HAVING avg({c}) > 0", None, False))
        q.append((f"SELECT {key}, avg({c})::text FROM {table} GROUP BY 1 ORDER BY avg({c}), 1",
                  None, True))
    return q


def numeric_scales(rng):
    """Decimal columns of many precisions and scales against constants of
    random precision and scale (up to 38 digits): comparisons, IN, sums,
    differences and products (Trino's result type may pass 38 digits, or its
    comparison's common type), CASE and coalesce, sum, min and max; and integer
    arithmetic at every width (a tinyint column computes as a smallint)."""
    t = f"{SCHEMA}.numbers n"
    q = []

    def const():
        p = rng.randrange(1, 39)
        return decimal_text(rng, p, rng.randrange(0, p + 1), largest=rng.random() < 0.1)

    def col():
        return "n." + rng.choice(DECIMALS)[0]

    for _ in range(220):
        x, y = col(), col()
        kind = rng.randrange(9)
        op = rng.choice(COMPARISONS)
        if kind == 0:
            w = f"{x} {op} {const()}"
        elif kind == 1:
            w = f"{x} + {const()} {op} {const()}"
        elif kind == 2:
            w = f"{x} - {y} {op} {const()}"
        elif kind == 3:
            w = rng.choice([f"{x} + {y} - {col()} {op} {x}", f"{x} * {y} {op} {const()}",
                            f"{x} * {const()} - {y} {op} {x}"])
        elif kind == 4:
            w = f"{x} IN ({const()}, {const()}, {const()})"
        elif kind == 5:
            w = f"coalesce({x}, {const()}) {op} {const()}"
        elif kind == 6:
            w = f"CASE WHEN n.i > 0 THEN {x} ELSE {y} END {op} {const()}"
        elif kind == 7:
            q.append((f"SELECT sum({x}), min({x}), max({y}), count({x}) FROM {t}"
                      f" WHERE {y} {op} {const()}", None, False))
            continue
        else:
            g = rng.choice(["n.i % 3", "n.t", f"{x} + {const()}", f"{x} * {y}"])
            q.append((f"SELECT {g}, sum({x}), max({y}) FROM {t} GROUP BY 1", None, False))
            continue
        q.append((f"SELECT n.id, {x}, {y} FROM {t} WHERE {w}", None, False))
    for _ in range(60):
        a, b = rng.sample(["n.t", "n.s", "n.i", "n.b"], 2)
        e = rng.choice(["n.t * n.t", "n.t + n.t", "-n.t", f"n.t - {rng.randrange(-3, 4)}",
                        f"{a} + {b}", f"{a} * {rng.randrange(-3, 4)}", f"{a}::numeric + {const()}",
                        f"{a} / {rng.choice([1, 2, 7, -3])}", f"{a} % 5"])
        q.append((f"SELECT n.id FROM {t} WHERE {e} {rng.choice(COMPARISONS)} "
                  f"{rng.randrange(-200, 200)}", None, False))
    return q


def ensure_locales(cur):
    """The case-mapping corners' collations.  test/lib/install-deps compiles
    tr_TR and en_US (a server sees only the locales there when it started)."""
    for name, locale in CASE_COLLATIONS.items():
        cur.execute(f"DROP COLLATION IF EXISTS {name}")
        try:
            cur.execute(f"CREATE COLLATION {name} (provider = libc, locale = '{locale}')")
        except psycopg2.Error as e:
            raise AssertionError(f"locale {locale} is missing: run test/lib/install-deps "
                                 f"before starting the cluster ({e.pgerror})")


# ---------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------

def normalise(v):
    if isinstance(v, float):
        return float(f"{v:.10g}")
    if isinstance(v, decimal.Decimal) and v != v.to_integral_value():
        # avg(integer): PostgreSQL's numeric, computed the same either way
        return v
    return v


def run(cur, sql, params, pushdown, explain=False):
    cur.execute(f"SET audit_fdw.enable_pushdown = {'on' if pushdown else 'off'}")
    if params is not None:
        cur.execute("DEALLOCATE ALL")
        types = [p[1] if isinstance(p, tuple) else "text" if isinstance(p, str) else "int"
                 for p in params]
        if "$2" in sql and "event_time >= $1" in sql:
            types = ["timestamptz", "timestamptz"]
        cur.execute(f"PREPARE q({', '.join(types)}) AS {sql}")
        args = ", ".join(lit(p[0] if isinstance(p, tuple) else p) for p in params)
        text = f"EXECUTE q({args})"
    else:
        text = sql
    # parameters stay parameters (runtime values) in a generic plan
    cur.execute("SET plan_cache_mode = "
                + ("force_generic_plan" if params is not None else "auto"))
    if explain:
        cur.execute(f"EXPLAIN (VERBOSE, COSTS OFF) {text}")
        return "\n".join(r[0] for r in cur.fetchall())
    cur.execute(text)
    return [tuple(normalise(v) for v in row) for row in cur.fetchall()]


def athena_sql(plan):
    return [line.split("Athena SQL: ", 1)[1] for line in plan.splitlines()
            if "Athena SQL: " in line]


def session(conn):
    cur = conn.cursor()
    cur.execute("SET TimeZone = 'America/Los_Angeles'")
    # the joins and sorts of 100,000 estimated rows a side cost more than
    # jit_above_cost: JIT would compile about one query in forty, 50 to 180 ms
    # each, and change no row
    cur.execute("SET jit = off")
    return cur


def worker(queries, results, errors):
    conn = connect()
    cur = session(conn)
    for i, (sql, params, ordered) in queries:
        try:
            plan = run(cur, sql, params, True, explain=True)
            on = run(cur, sql, params, True)
            off = run(cur, sql, params, False)
        except Exception as e:  # noqa: BLE001
            errors.append((i, sql, params, repr(e)))
            conn.close()
            conn = connect()
            cur = session(conn)
            continue
        if not ordered:
            on = sorted(on, key=repr)
            off = sorted(off, key=repr)
        results.append((i, sql, params, plan, on, off))
    conn.close()


def test_pushdown_on_and_off_give_identical_results(setup, capsys):
    gen = Gen(random.Random(SEED))
    queries = [(i, gen.query()) for i in range(QUERIES)]
    queries = [(i, q[0], q[1], q[2]) for i, q in queries]
    # the corners, each generator's queries numbered after the random ones
    conn = connect()
    ensure_locales(conn.cursor())
    conn.close()
    generator_of = {}
    for name, qs in corners(random.Random(SEED)).items():
        for sql, params, ordered in qs:
            generator_of[len(queries)] = name
            queries.append((len(queries), sql, params, ordered))
    results, errors = [], []
    # one query first: the emulator loads the table's objects once.  An
    # earlier suite may have restarted PostgreSQL (the pump's soak): the
    # emulator's engine then drops its dead pooled connections one failed
    # query at a time, so the warm-up retries until one succeeds.
    for attempt in range(10):
        warm = connect()
        try:
            warm.cursor().execute(f"SELECT count(*) FROM {SCHEMA}.audit")
            break
        except psycopg2.Error:
            if attempt == 9:
                raise
        finally:
            warm.close()
    threads = []
    for t in range(THREADS):
        part = [(i, (sql, params, ordered)) for i, sql, params, ordered in queries
                if i % THREADS == t]
        th = threading.Thread(target=worker, args=(part, results, errors))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()

    shipped = {name: 0 for name in list(CONSTRUCTS) + list(PLAN_CONSTRUCTS)}
    differences = []
    remote_rows = 0
    per_generator = {}
    filtered = {}   # queries whose condition, grouping or sum ran in Athena
    pruned = {}     # queries that read only some partitions
    minmax_subqueries = []   # min/max run as ORDER BY ... LIMIT 1 subqueries
    not_one_scan = []        # self-joins that must keep the plain join but did not
    for i, sql, params, plan, on, off in sorted(results):
        g = generator_of.get(i, "random")
        per_generator[g] = per_generator.get(g, 0) + 1
        sqls = athena_sql(plan)
        if any(" WHERE " in s or " GROUP BY " in s or "sum(" in s for s in sqls):
            filtered[g] = filtered.get(g, 0) + 1
        if any(CONSTRUCTS["partition_pruning"](s) for s in sqls):
            pruned[g] = pruned.get(g, 0) + 1
        for name, test in CONSTRUCTS.items():
            if any(test(s) for s in sqls):
                shipped[name] += 1
        for name, test in PLAN_CONSTRUCTS.items():
            if test(plan):
                shipped[name] += 1
        remote_rows += len(on)
        if g == "self_joins" and any(x in sql for x in SELF_JOINS_KEPT) and \
                any(CONSTRUCTS["self_join_one_scan"](s) for s in sqls):
            not_one_scan.append((sql, plan))
        if g == "min_max_without_group_by" and "InitPlan" in plan:
            minmax_subqueries.append((sql, plan))
        if on != off:
            differences.append((i, sql, params, plan, on[:5], off[:5]))

    # the summary goes to the suite's log even when the test passes
    with capsys.disabled():
        print(f"\npushdown differential: {len(results)} queries ran, {len(errors)} errors, "
              f"{len(differences)} differences, {remote_rows} rows compared")
        for name, n in shipped.items():
            print(f"  shipped {name}: {n}")
        for name, n in sorted(per_generator.items()):
            print(f"  generator {name}: {n} queries, {filtered.get(name, 0)} with a condition, "
                  f"grouping or sum shipped, {pruned.get(name, 0)} pruned")
        for d in differences[:5]:
            print("DIFFERENCE", d)
        for e in errors[:5]:
            print("ERROR", e)

    assert not errors, errors[:3]
    assert not differences, differences[:3]
    assert not minmax_subqueries, minmax_subqueries[:2]
    # self-joins on an equal column read the table once (113 of the
    # self_joins generator's and the random joins'); the others do not
    assert shipped["self_join_one_scan"] >= 100, shipped
    assert not not_one_scan, not_one_scan[:2]
    assert per_generator.get("random", 0) >= 500
    assert len(per_generator) == 15, per_generator
    # every zoned bound ships but <> (a widened inequality would lose rows)
    zoned = corners(random.Random(SEED))["timestamp_against_timestamptz"]
    assert filtered.get("timestamp_against_timestamptz", 0) == \
        sum(1 for sql, _, _ in zoned if " <> " not in sql), filtered
    # a zoned lower bound prunes partitions too (an upper one with a delay)
    assert pruned.get("timestamp_against_timestamptz", 0) > 0, pruned
    # DISTINCT ON ships where exact: 36 of its 49 queries
    assert shipped["distinct_on_window"] == 36, shipped
    never = [name for name, n in shipped.items() if n == 0]
    if not LAYOUT["buckets"]:
        for name in ("key_bucket", "key_bucket_at_execution"):
            assert shipped.pop(name) == 0
            never.remove(name)
    if not LAYOUT["folders"]:
        for name in ("attribute_folder", "attribute_folder_at_execution"):
            assert shipped.pop(name) == 0
            never.remove(name)
    assert not never, f"constructs never shipped: {never}"


def test_errors_raised_in_athena_keep_postgresql_sqlstates(setup):
    """A division by zero or an overflow raised by Athena is the same error
    (SQLSTATE 22012, 22003) as when PostgreSQL computes it."""
    conn = connect()
    cur = conn.cursor()
    cases = [
        (f"SELECT count(*) FROM {SCHEMA}.audit a WHERE a.qty / (a.qty - a.qty) > 0", "22012"),
        (f"SELECT count(*) FROM {SCHEMA}.audit a WHERE a.qty % (a.qty - a.qty) > 0", "22012"),
        (f"SELECT count(*) FROM {SCHEMA}.audit a WHERE a.updated * 9223372036854775807 > 0",
         "22003"),
    ]
    for sql, code in cases:
        got = {}
        for pushdown in (True, False):
            cur.execute(f"SET audit_fdw.enable_pushdown = {'on' if pushdown else 'off'}")
            cur.execute(f"EXPLAIN (VERBOSE, COSTS OFF) {sql}")
            plan = "\n".join(r[0] for r in cur.fetchall())
            with pytest.raises(psycopg2.Error) as e:
                cur.execute(sql)
            got[pushdown] = e.value.pgcode
            if pushdown:
                shipped = athena_sql(plan)
                assert shipped and " WHERE " in shipped[0], plan
        assert got == {True: code, False: code}, (sql, got)
    # a negative LIMIT or OFFSET known only at executor start: PostgreSQL's errors
    cur.execute("SET plan_cache_mode = force_generic_plan")
    cur.execute(f"PREPARE neg(bigint, bigint) AS SELECT a.event_id FROM {SCHEMA}.audit a "
                "ORDER BY a.event_time, a.event_id LIMIT $1 OFFSET $2")
    for args, code in (("-1, 0", "2201W"), ("1, -1", "2201X")):
        got = {}
        for pushdown in (True, False):
            cur.execute(f"SET audit_fdw.enable_pushdown = {'on' if pushdown else 'off'}")
            with pytest.raises(psycopg2.Error) as e:
                cur.execute(f"EXECUTE neg({args})")
            got[pushdown] = e.value.pgcode
        assert got == {True: code, False: code}, (args, got)
    conn.close()


@pytest.mark.parametrize("locale", ["tr_TR.utf8", "en_US.utf8", "C.utf8"])
def test_case_functions_in_a_database_of_another_locale(setup, emulator, locale):
    """In a database whose default collation is tr_TR (or en_US), lower,
    upper and ILIKE follow that locale in PostgreSQL and never in Athena:
    they stay local; under C.UTF-8 they ship.  Either way the answers do not
    change with pushdown."""
    db = "pd_locale_" + locale.split(".")[0].lower()
    admin = connect()
    acur = admin.cursor()
    acur.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    acur.execute(f"CREATE DATABASE {db} TEMPLATE template0 ENCODING 'UTF8' LOCALE '{locale}'")
    try:
        conn = connect(db)
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION audit_fdw")
        cur.execute(f"""CREATE SERVER s FOREIGN DATA WRAPPER audit_fdw OPTIONS (
            region 'us-east-1', endpoint '{emulator.url}', database '{DATABASE}',
            output_location 's3://{RESULTS}/audit_fdw/')""")
        cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER s "
                    "OPTIONS (access_key_id 'test', secret_access_key 'test')")
        cur.execute("""CREATE FOREIGN TABLE audit (event_id text,
            note text OPTIONS (column_name 'new_image', path 'note'))
            SERVER s OPTIONS ("table" 'orders_audit')""")
        for where in ("upper(note) = 'MIXED CASE'", "upper(note) = 'PLAIN'",
                      "lower(note) = 'mixed case'", "note ILIKE '%i%'", "note ILIKE 'PLAİN'"):
            sql = f"SELECT event_id, note FROM audit WHERE {where}"
            cur.execute("SET audit_fdw.enable_pushdown = on")
            cur.execute(f"EXPLAIN (VERBOSE, COSTS OFF) {sql}")
            shipped = " ".join(athena_sql("\n".join(r[0] for r in cur.fetchall())))
            fn = "upper(" if "upper" in where else "lower("
            assert (fn in shipped) == (locale == "C.utf8"), (locale, where, shipped)
            answers = []
            for pushdown in ("on", "off"):
                cur.execute(f"SET audit_fdw.enable_pushdown = {pushdown}")
                cur.execute(sql)
                answers.append(sorted(cur.fetchall()))
            assert answers[0] == answers[1], (locale, where)
        conn.close()
    finally:
        acur.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        admin.close()


def test_numeric_results_keep_postgresql_scale(setup):
    """A numeric computed in Athena comes back with the scale PostgreSQL
    gives it: qty::numeric + 1 is 37, not 37.0; coalesce(amount, 0) ships only
    where every argument has one scale."""
    conn = connect()
    cur = conn.cursor()
    for sql in (f"SELECT a.qty::numeric + 1, count(*) FROM {SCHEMA}.audit a GROUP BY 1",
                f"SELECT a.amount + 1, a.amount - 0.5 FROM {SCHEMA}.audit a",
                f"SELECT coalesce(a.amount, 0) FROM {SCHEMA}.audit a",
                f"SELECT coalesce(a.amount, 0.00) FROM {SCHEMA}.audit a",
                f"SELECT a.event_id FROM {SCHEMA}.audit a WHERE a.amount + 12.5 > 100.125"):
        texts = []
        for pushdown in ("on", "off"):
            cur.execute(f"SET audit_fdw.enable_pushdown = {pushdown}")
            cur.execute(f"SELECT t::text FROM ({sql}) t")
            texts.append(sorted(r[0] for r in cur.fetchall()))
        assert texts[0] == texts[1], (sql, texts[0][:5], texts[1][:5])
    conn.close()


def shipped_and_answers(cur, sql):
    """The Athena SQL of sql with pushdown on, and its rows on and off."""
    cur.execute("SET audit_fdw.enable_pushdown = on")
    cur.execute(f"EXPLAIN (VERBOSE, COSTS OFF) {sql}")
    shipped = " ".join(athena_sql("\n".join(r[0] for r in cur.fetchall())))
    answers = []
    for pushdown in ("on", "off"):
        cur.execute(f"SET audit_fdw.enable_pushdown = {pushdown}")
        cur.execute(sql)
        answers.append(sorted(cur.fetchall()))
    return shipped, answers


def test_distinct_on_window_keeps_clear_of_column_names(setup, emulator):
    """DISTINCT ON ships as a row_number() window in a subquery, filtered on
    the row number's name outside it.  That name must differ from every
    column in the subquery: a declared column named audit_fdw_rn (and
    audit_fdw_rn_2, the next name tried), and a Glue column of that name the
    foreign table does not declare, each made the shipped query fail.  The
    subquery's own name must differ from them too: for a struct column named
    audit_fdw_first read at a path, Trino takes "audit_fdw_first"."id" as
    the subquery's column id where it has one (a qualified name is matched
    to a relation's column first: trinodb/trino
    ExpressionAnalyzer.visitDereferenceExpression), a wrong answer; the
    emulator refuses the name."""
    s3 = emulator.client("s3")
    glue = emulator.client("glue")
    athena_tables.replace_json_table(
        glue, DATABASE, "rn_clash",
        [("id", "int"), ("grp", "string"), ("audit_fdw_rn", "int"), ("audit_fdw_rn_2", "int"),
         ("info", "struct<audit_fdw_rn:int>"), ("audit_fdw_first", "struct<id:int>")],
        f"s3://{BUCKET}/rn_clash/")
    athena_tables.put_json_lines(s3, BUCKET, "rn_clash/part-0.json", [
        {"id": i, "grp": "abc"[i % 3], "audit_fdw_rn": i * 7 % 10, "audit_fdw_rn_2": i % 4,
         "info": {"audit_fdw_rn": i % 5}, "audit_fdw_first": {"id": 100 - i}}
        for i in range(30)])
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(f"DROP FOREIGN TABLE IF EXISTS {SCHEMA}.rn_declared, {SCHEMA}.rn_undeclared")
    cur.execute(f"""CREATE FOREIGN TABLE {SCHEMA}.rn_declared (id integer, grp text,
        audit_fdw_rn integer, rn2 integer OPTIONS (column_name 'audit_fdw_rn_2'),
        nested integer OPTIONS (column_name 'info', path 'audit_fdw_rn'),
        shadow integer OPTIONS (column_name 'audit_fdw_first', path 'id'))
        SERVER {SERVER} OPTIONS ("table" 'rn_clash')""")
    cur.execute(f"""CREATE FOREIGN TABLE {SCHEMA}.rn_undeclared (id integer, grp text)
        SERVER {SERVER} OPTIONS ("table" 'rn_clash')""")
    t = f"{SCHEMA}.rn_declared"
    failures = []
    for sql in (f"SELECT DISTINCT ON (grp) grp, audit_fdw_rn, id FROM {t} "
                "ORDER BY grp, audit_fdw_rn DESC, id",
                f"SELECT DISTINCT ON (grp) grp, rn2, audit_fdw_rn, id FROM {t} "
                "WHERE audit_fdw_rn > 2 ORDER BY grp, rn2, audit_fdw_rn, id DESC",
                f"SELECT DISTINCT ON (grp) grp, nested, id FROM {t} ORDER BY grp, nested DESC, id",
                f"SELECT DISTINCT ON (grp) grp, shadow FROM {t} ORDER BY grp, shadow DESC",
                f"SELECT DISTINCT ON (grp) grp, id + 0, shadow FROM {t} "
                "ORDER BY grp, id + 0, shadow",
                f"SELECT DISTINCT ON (grp) grp, id FROM {SCHEMA}.rn_undeclared "
                "ORDER BY grp, id DESC"):
        try:
            shipped, (on, off) = shipped_and_answers(cur, sql)
        except psycopg2.Error as e:
            failures.append((sql, str(e).splitlines()[0], e.diag.context))
            continue
        if "row_number() OVER" not in shipped or on != off or len(on) != 3:
            failures.append((sql, shipped, on, off))
    conn.close()
    assert failures == [], "\n".join(map(repr, failures))


def test_integer_arithmetic_runs_at_the_local_width(setup, emulator):
    """A Glue tinyint is read as smallint: Trino would do its arithmetic in
    tinyint (39 * 39 overflows, as its TestTinyintOperators shows) where
    PostgreSQL uses smallint.  Shipped integer arithmetic casts each column
    to the local width first, so both compute the same, with the same
    overflow errors (smallint 200 * 200 fails either way, as 22003)."""
    conn = connect()
    cur = conn.cursor()
    cur.execute(f"DROP FOREIGN TABLE IF EXISTS {SCHEMA}.narrow")
    cur.execute(f"""CREATE FOREIGN TABLE {SCHEMA}.narrow (event_id text,
        tiny smallint OPTIONS (column_name 'new_image', path 'qty'))
        SERVER {SERVER} OPTIONS ("table" 'orders_audit')""")
    for sql in (f"SELECT event_id FROM {SCHEMA}.narrow WHERE tiny * tiny > 1000",
                f"SELECT event_id FROM {SCHEMA}.narrow WHERE tiny + tiny > 60",
                f"SELECT event_id FROM {SCHEMA}.narrow WHERE -tiny < -30"):
        shipped, answers = shipped_and_answers(cur, sql)
        assert 'CAST("new_image"."qty" AS SMALLINT)' in shipped, shipped
        assert answers[0] == answers[1] and answers[0], sql
    for pushdown in ("on", "off"):
        cur.execute(f"SET audit_fdw.enable_pushdown = {pushdown}")
        with pytest.raises(psycopg2.Error) as e:
            cur.execute(f"SELECT event_id FROM {SCHEMA}.narrow WHERE tiny * 2000::smallint > 0")
        assert e.value.pgcode == "22003", (pushdown, e.value.pgerror)
    cur.execute(f"DROP FOREIGN TABLE {SCHEMA}.narrow")
    # a Glue tinyint column itself: Athena overflows at 127, the shipped
    # casts compute as PostgreSQL does
    athena = emulator.client("athena")
    qid = athena.start_query_execution(
        QueryString="SELECT t * t FROM numbers WHERE abs(t) > 11",
        QueryExecutionContext={"Database": DATABASE},
        ResultConfiguration={"OutputLocation": f"s3://{RESULTS}/direct/"})["QueryExecutionId"]
    deadline = time.monotonic() + 60
    while True:
        status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
        if status["State"] not in ("QUEUED", "RUNNING") or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert status["State"] == "FAILED" and status["StateChangeReason"].startswith(
        "NUMERIC_VALUE_OUT_OF_RANGE: tinyint multiplication overflow"), status
    shipped, answers = shipped_and_answers(
        cur, f"SELECT n.id, n.t * n.t FROM {SCHEMA}.numbers n WHERE n.t * n.t > 1000")
    assert 'CAST("t" AS SMALLINT) * CAST("t" AS SMALLINT)' in shipped, shipped
    assert answers[0] == answers[1] and answers[0], answers
    conn.close()
