"""Key buckets: create_delivery_stream and create_audit_table with
key_buckets => 16 put each audit record, through the emulator's Firehose
dynamic partitioning, in a folder of its event hour and of its key's bucket
(the last hex digit of the key_hash the pump writes: SHA-256 of the key's
value); the imported foreign table ships an equality or IN list on the key
as the bucket predicate, so Athena reads only those buckets' folders: the
bytes scanned are exactly the sizes of the objects in them."""
import datetime
import decimal
import hashlib
import uuid

import psycopg2
import pytest

from athena_tables import bucketed_audit_table, deliver_records, drop_table, import_audit_table
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
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    bucketed_audit_table(emulator, cur, SERVER, STREAM, LOCATION, RESULTS, ROLE,
                         "orderId string, state string")

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
    # the oracle of the runtime forms: a local copy, read without pushdown
    cur.execute("SET audit_fdw.enable_pushdown = off")
    cur.execute("CREATE TABLE buckets.local_copy AS SELECT * FROM buckets.orders_audit")
    cur.execute("RESET audit_fdw.enable_pushdown")
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


# ---------------------------------------------------------------------------
# Values known only at executor start: a parameter of a generic plan, an
# array parameter, a stable expression, a nested loop's outer key.  The scan
# computes their buckets when it starts its query and writes them there.


def queries_since(cur, before, table="orders_audit"):
    """(bytes scanned, Athena SQL) of the table's queries not in `before`."""
    cur.execute("""SELECT query_id, bytes_scanned, athena_sql FROM audit_fdw.query_log
                    WHERE foreign_table = %s ORDER BY logged_at""", (table,))
    return [(b, sql) for q, b, sql in cur.fetchall() if q not in before]


def logged_ids(cur, table="orders_audit"):
    cur.execute("SELECT coalesce(array_agg(query_id), '{}') FROM audit_fdw.query_log "
                "WHERE foreign_table = %s", (table,))
    return set(cur.fetchone()[0])


def local_rows(cur, where, params=()):
    cur.execute(f"SELECT event_id FROM buckets.local_copy WHERE {where} ORDER BY 1", params)
    return [r[0] for r in cur.fetchall()]


def bucket_list(orders):
    buckets = sorted({key_hash(o)[-1] for o in orders})
    return "(\"key_bucket\" IN (" + ", ".join(f"'{b}'" for b in buckets) + "))", set(buckets)


def test_generic_plan_parameter_reads_its_bucket(bucket_table, db, emulator):
    cur = db.cursor()
    cur.execute("SET plan_cache_mode = force_generic_plan")
    cur.execute("PREPARE by_order(text) AS SELECT event_id FROM buckets.orders_audit "
                "WHERE order_id = $1 ORDER BY 1")
    for order in ("o7", "o12", "o33"):
        before = logged_ids(cur)
        cur.execute("EXECUTE by_order(%s)", (order,))
        assert [r[0] for r in cur.fetchall()] == local_rows(cur, "order_id = %s", (order,))
        [(scanned, athena_sql)] = queries_since(cur, before)
        pred, buckets = bucket_list([order])
        assert pred in athena_sql, athena_sql
        assert scanned == bucket_bytes(emulator, buckets)

    # EXPLAIN says the buckets are chosen at execution, and where they go
    cur.execute("EXPLAIN (COSTS OFF) EXECUTE by_order('o7')")
    plan = "\n".join(r[0] for r in cur.fetchall())
    assert "Key Buckets: chosen at execution" in plan, plan
    cur.execute("EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_order('o7')")
    plan = "\n".join(r[0] for r in cur.fetchall())
    assert "(\"key_bucket\" IN ($" in plan, plan
    # with ANALYZE: the bucket its query read
    cur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE by_order('o7')")
    plan = "\n".join(r[0] for r in cur.fetchall())
    assert f"Key Buckets: {key_hash('o7')[-1]}" in plan, plan

    # NULL: no bucket, no row, no query
    before = logged_ids(cur)
    cur.execute("EXECUTE by_order(NULL)")
    assert cur.fetchall() == []
    assert queries_since(cur, before) == []
    cur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE by_order(NULL)")
    plan = "\n".join(r[0] for r in cur.fetchall())
    assert "Key Buckets: none" in plan and "Athena Query ID" not in plan, plan

    # the plan cache's own choice: custom plans first, then the generic one
    cur.execute("RESET plan_cache_mode")
    cur.execute("PREPARE by_order_auto(text) AS SELECT event_id FROM buckets.orders_audit "
                "WHERE order_id = $1 ORDER BY 1")
    for i in range(7):
        order = f"o{i + 3}"
        before = logged_ids(cur)
        cur.execute("EXECUTE by_order_auto(%s)", (order,))
        assert [r[0] for r in cur.fetchall()] == local_rows(cur, "order_id = %s", (order,))
        [(scanned, athena_sql)] = queries_since(cur, before)
        assert scanned == bucket_bytes(emulator, {key_hash(order)[-1]}), (i, athena_sql)


def test_array_parameter_reads_its_buckets(bucket_table, db, emulator):
    cur = db.cursor()
    cur.execute("SET plan_cache_mode = force_generic_plan")
    cur.execute("PREPARE by_orders(text[]) AS SELECT event_id FROM buckets.orders_audit "
                "WHERE order_id = ANY($1) ORDER BY 1")
    orders = ["o1", "o2", "o30"]
    for value, want in ((orders + [None], orders), ([], []), (None, []), ([None], [])):
        before = logged_ids(cur)
        cur.execute("EXECUTE by_orders(%s::text[])", (value,))
        assert [r[0] for r in cur.fetchall()] == \
            local_rows(cur, "order_id = ANY(%s::text[])", (value,))
        if want:
            [(scanned, athena_sql)] = queries_since(cur, before)
            pred, buckets = bucket_list(want)
            assert pred in athena_sql, athena_sql
            assert scanned == bucket_bytes(emulator, buckets)
        else:
            assert queries_since(cur, before) == [], value


def test_functions_read_their_parameters_bucket(bucket_table, db, emulator):
    cur = db.cursor()
    cur.execute("""CREATE FUNCTION pg_temp.history_plpgsql(o text) RETURNS SETOF text
        LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
        BEGIN
            RETURN QUERY SELECT event_id FROM buckets.orders_audit WHERE order_id = o
                          ORDER BY 1;
        END $$""")
    # a SQL function that is not inlined (a FROM clause): planned with $1
    cur.execute("""CREATE FUNCTION pg_temp.history_sql(o text) RETURNS text[]
        LANGUAGE sql AS $$
        SELECT array_agg(event_id ORDER BY event_id) FROM buckets.orders_audit
         WHERE order_id = $1 $$""")
    for order in ("o4", "o21"):
        want = local_rows(cur, "order_id = %s", (order,))
        pred, buckets = bucket_list([order])
        for call in ("SELECT * FROM pg_temp.history_plpgsql(%s)",
                     "SELECT unnest(pg_temp.history_sql(%s))"):
            before = logged_ids(cur)
            cur.execute(call, (order,))
            assert [r[0] for r in cur.fetchall()] == want, call
            [(scanned, athena_sql)] = queries_since(cur, before)
            assert pred in athena_sql or f"(\"key_bucket\" = '{key_hash(order)[-1]}')" \
                in athena_sql, (call, athena_sql)
            assert scanned == bucket_bytes(emulator, buckets), call


def test_stable_expressions_read_their_bucket(bucket_table, db, emulator):
    cur = db.cursor()
    cur.execute("SET audit_fdw_test.ord = 'o9'")
    for cond, order in (("order_id = current_setting('audit_fdw_test.ord')", "o9"),
                        ("order_id = lower('O11')", "o11"),
                        ("order_id = (SELECT 'o' || 2 * 7)", "o14"),
                        ("order_id IN (current_setting('audit_fdw_test.ord'), 'o1')", None)):
        before = logged_ids(cur)
        cur.execute(f"SELECT event_id FROM buckets.orders_audit WHERE {cond} ORDER BY 1")
        assert [r[0] for r in cur.fetchall()] == local_rows(cur, cond), cond
        [(scanned, athena_sql)] = queries_since(cur, before)
        orders = [order] if order else ["o9", "o1"]
        _, buckets = bucket_list(orders)
        assert "key_bucket" in athena_sql, (cond, athena_sql)
        assert scanned == bucket_bytes(emulator, buckets), (cond, athena_sql)


def test_parameterized_scan_reads_each_outer_keys_bucket(bucket_table, db, emulator):
    cur = db.cursor()
    cur.execute("CREATE TEMP TABLE wanted (id text, note text)")
    ids = ["o5", "o17", "nosuch", None, "o5"]
    cur.execute("INSERT INTO wanted VALUES " + ", ".join(["(%s, 'x')"] * len(ids)), ids)
    cur.execute("ANALYZE wanted")
    cur.execute("SET audit_fdw.enable_batched_join = off; SET enable_hashjoin = off; "
                "SET enable_mergejoin = off")
    # a table as large as a real history (undone below), so that a query per
    # outer key beats one query of everything
    cur.execute("ALTER FOREIGN TABLE buckets.orders_audit OPTIONS "
                "(ADD estimated_rows '100000000', ADD estimated_bytes '100000000000')")
    try:
        sql = ("SELECT w.id, a.event_id FROM wanted w JOIN {t} a ON a.order_id = w.id "
               "ORDER BY 1, 2")
        cur.execute("EXPLAIN (VERBOSE, COSTS OFF) " + sql.format(t="buckets.orders_audit"))
        plan = "\n".join(r[0] for r in cur.fetchall())
        assert "Nested Loop" in plan and "(\"key_bucket\" IN ($" in plan, plan
        before = logged_ids(cur)
        cur.execute(sql.format(t="buckets.orders_audit"))
        got = cur.fetchall()
        cur.execute(sql.format(t="buckets.local_copy"))
        assert got == cur.fetchall() and got
        queries = queries_since(cur, before)
    finally:
        cur.execute("ALTER FOREIGN TABLE buckets.orders_audit OPTIONS "
                    "(DROP estimated_rows, DROP estimated_bytes)")
    # one query per outer row with a key (a NULL key matches nothing: no query)
    keyed = [i for i in ids if i is not None]
    assert len(queries) == len(keyed), queries
    for (scanned, athena_sql), order in zip(queries, keyed):
        pred, buckets = bucket_list([order])
        assert pred in athena_sql, athena_sql
        assert scanned == bucket_bytes(emulator, buckets)


def test_byte_budget_counts_the_buckets_chosen_at_execution(bucket_table, db, emulator):
    """The estimate before the query starts lists the folders of the
    parameter's bucket only: a budget of one bucket lets it run, and refuses
    a condition that selects no bucket."""
    cur = db.cursor()
    budget = max(bucket_bytes(emulator, {key_hash(o)[-1]}) for o in ("o7", "o8"))
    assert budget < bucket_bytes(emulator, set("0123456789abcdef")) / 4
    cur.execute("ALTER FOREIGN TABLE buckets.orders_audit OPTIONS "
                f"(ADD max_bytes_scanned '{budget}')")
    try:
        cur.execute("SET plan_cache_mode = force_generic_plan")
        cur.execute("PREPARE by_order(text) AS SELECT event_id FROM buckets.orders_audit "
                    "WHERE order_id = $1 ORDER BY 1")
        cur.execute("PREPARE above(text) AS SELECT event_id FROM buckets.orders_audit "
                    "WHERE order_id >= $1 ORDER BY 1")
        for order in ("o7", "o8"):
            cur.execute("EXECUTE by_order(%s)", (order,))
            assert [r[0] for r in cur.fetchall()] == local_rows(cur, "order_id = %s", (order,))
        with pytest.raises(psycopg2.errors.ConfigurationLimitExceeded):
            cur.execute("EXECUTE above('o7')")
    finally:
        cur.execute("ALTER FOREIGN TABLE buckets.orders_audit OPTIONS (DROP max_bytes_scanned)")


# ---------------------------------------------------------------------------
# A number key (DynamoDB N): the pump hashes the number's text as the record
# holds it, str() of the Decimal of DynamoDB's text (pump/transform.c), which
# DynamoDB keeps without leading or trailing zeros: 2.50 is 2.5, 0.0000001
# is 1E-7.  The FDW writes a numeric value the same way.

# DynamoDB's text of each key (plain, no trailing zeros)
NUMBERS = ["101", "-5", "2.5", "0.0000001", "0.000000125", "0.00000125", "7000",
           "12345678901234567890.5", "0"]
INTEGERS = ["101", "-5", "7000", "0", "9223372036854775807", "-32768"]


def number_text(dynamodb_text):
    return str(decimal.Decimal(dynamodb_text))


def number_audit_table(cur, emulator, top, table, glue_type, numbers):
    """An audit table of number keys (Glue type glue_type), in 16 buckets,
    two records a key, imported into schema numbers with a local copy
    (numbers.local_<table>)."""
    stream = f"{table}-{RUN}"
    location = f"s3://{BUCKET}/{RUN}/{table}/"
    cur.execute("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, layout => 'event_time', "
                "key_buckets => 16, bucket_key => 'orderNo')", (SERVER, stream, location, ROLE))
    drop_table(emulator.client("glue"), DATABASE, table)
    cur.execute(f"""SELECT audit_fdw.create_audit_table('{SERVER}', '{table}',
        '{location}', 'orderNo {glue_type}, state string', database => '{DATABASE}',
        key_columns => 'orderNo {glue_type}', layout => 'event_time', key_buckets => 16)""")
    lines = []
    for h in range(2):
        at = (top - datetime.timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S.000")
        for i, n in enumerate(numbers):
            text = number_text(n)
            # a JSON number written as the pump writes it (str of the Decimal)
            lines.append(('{"event_id": "n%d-%d", "event_name": "MODIFY", "event_time": "%s", '
                          '"sequence_number": "%d", "keys": {"orderNo": %s}, '
                          '"key_hash": {"orderNo": "%s"}, "new_image": {"orderNo": %s, '
                          '"state": "S%d"}}\n' % (h, i, at, 10 ** 21 + h * 100 + i, text,
                                                   key_hash(text), text, h)).encode())
    deliver_records(emulator, stream, [], lines)
    cur.execute(f"IMPORT FOREIGN SCHEMA {DATABASE} LIMIT TO ({table}) "
                f"FROM SERVER {SERVER} INTO numbers")
    cur.execute("SET audit_fdw.enable_pushdown = off")
    cur.execute(f"CREATE TABLE numbers.local_{table} AS SELECT * FROM numbers.{table}")
    cur.execute("RESET audit_fdw.enable_pushdown")


@pytest.fixture(scope="module")
def number_table(bucket_table, emulator):
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    top, _ = bucket_table
    cur.execute("DROP SCHEMA IF EXISTS numbers CASCADE; CREATE SCHEMA numbers")
    number_audit_table(cur, emulator, top, "numbers_audit", "decimal(38,10)", NUMBERS)
    number_audit_table(cur, emulator, top, "integers_audit", "bigint", INTEGERS)
    yield
    cur.execute("DROP SCHEMA IF EXISTS numbers CASCADE")
    conn.close()


def number_bucket_bytes(emulator, buckets, table="numbers_audit"):
    r = emulator.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"{RUN}/{table}/")
    return sum(o["Size"] for o in r.get("Contents", [])
               if "/_errors/" not in o["Key"] and o["Key"].rsplit("/", 2)[1] in buckets)


def test_number_keys_read_their_bucket(number_table, db, emulator):
    cur = db.cursor()
    cur.execute("""SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
                    WHERE attrelid = 'numbers.numbers_audit'::regclass AND attname ~ 'order_no'
                    ORDER BY 1""")
    assert ("order_no", "numeric(38,10)") in cur.fetchall()
    cur.execute("SET plan_cache_mode = force_generic_plan")
    cur.execute("PREPARE by_number(numeric) AS SELECT event_id FROM numbers.numbers_audit "
                "WHERE order_no = $1 ORDER BY 1")
    cur.execute("PREPARE by_numbers(numeric[]) AS SELECT event_id FROM numbers.numbers_audit "
                "WHERE order_no = ANY($1) ORDER BY 1")
    # each key as a constant (another scale: 2.50, 101.000), a parameter and in an array
    for n in NUMBERS:
        bucket = key_hash(number_text(n))[-1]
        cur.execute("SELECT event_id FROM numbers.local_numbers_audit WHERE order_no = %s "
                    "ORDER BY 1", (decimal.Decimal(n),))
        want = [r[0] for r in cur.fetchall()]
        assert len(want) == 2, (n, want)
        scaled = n + "0" if "." in n else n + ".000"
        for sql in (f"SELECT event_id FROM numbers.numbers_audit WHERE order_no = {scaled} "
                    "ORDER BY 1", f"EXECUTE by_number({n})",
                    f"EXECUTE by_numbers(ARRAY[{n}, NULL])"):
            before = logged_ids(cur, "numbers_audit")
            cur.execute(sql)
            assert [r[0] for r in cur.fetchall()] == want, sql
            [(scanned, athena_sql)] = queries_since(cur, before, "numbers_audit")
            assert f"'{bucket}'" in athena_sql and "key_bucket" in athena_sql, (sql, athena_sql)
            assert scanned == number_bucket_bytes(emulator, {bucket}), (n, sql)
    # NaN is no DynamoDB number: no bucket, no row, no query
    before = logged_ids(cur, "numbers_audit")
    cur.execute("EXECUTE by_number('NaN')")
    assert cur.fetchall() == []
    assert queries_since(cur, before, "numbers_audit") == []


def test_integer_key_columns_read_their_bucket(number_table, db, emulator):
    """A number key of integers read as bigint: an integer's text is what the
    pump hashes, for a constant, a parameter of another integer width and an
    array of them."""
    cur = db.cursor()
    cur.execute("""SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                    WHERE attrelid = 'numbers.integers_audit'::regclass
                      AND attname = 'order_no'""")
    assert cur.fetchone() == ("bigint",)
    cur.execute("SET plan_cache_mode = force_generic_plan")
    cur.execute("PREPARE by_int(int) AS SELECT event_id FROM numbers.integers_audit "
                "WHERE order_no = $1 ORDER BY 1")
    cur.execute("PREPARE by_ints(bigint[]) AS SELECT event_id FROM numbers.integers_audit "
                "WHERE order_no = ANY($1) ORDER BY 1")
    for n in INTEGERS:
        bucket = key_hash(n)[-1]
        cur.execute("SELECT event_id FROM numbers.local_integers_audit WHERE order_no = %s "
                    "ORDER BY 1", (int(n),))
        want = [r[0] for r in cur.fetchall()]
        assert len(want) == 2, (n, want)
        calls = [f"SELECT event_id FROM numbers.integers_audit WHERE order_no = {n}::bigint "
                 "ORDER BY 1", f"EXECUTE by_ints(ARRAY[{n}, NULL]::bigint[])"]
        if abs(int(n)) < 2 ** 31:
            calls.append(f"EXECUTE by_int({n})")
        for sql in calls:
            before = logged_ids(cur, "integers_audit")
            cur.execute(sql)
            assert [r[0] for r in cur.fetchall()] == want, sql
            [(scanned, athena_sql)] = queries_since(cur, before, "integers_audit")
            assert f"'{bucket}'" in athena_sql and "key_bucket" in athena_sql, (sql, athena_sql)
            assert scanned == number_bucket_bytes(emulator, {bucket}, "integers_audit"), (n, sql)


@pytest.mark.parametrize("table, outer_type, keys", [
    ("integers_audit", "bigint", ["101", "-32768", "0", "404"]),
    ("integers_audit", "integer", ["7000", "-5", "0", "404"])])
def test_batched_join_sends_number_keys_buckets(number_table, db, emulator, table, outer_type,
                                                keys):
    """A batched join on an integer key sends its batch's buckets, each key
    hashed as the pump writes it (a numeric key is not batched)."""
    cur = db.cursor()
    cur.execute(f"CREATE TEMP TABLE wanted (k {outer_type})")
    cur.execute("INSERT INTO wanted VALUES " + ", ".join(f"({k})" for k in keys))
    cur.execute("ANALYZE wanted")
    sql = "SELECT w.k, a.event_id FROM wanted w JOIN {t} a ON a.order_no = w.k ORDER BY 1, 2"
    cur.execute(f"ALTER FOREIGN TABLE numbers.{table} OPTIONS (ADD estimated_rows '100000000')")
    try:
        cur.execute("EXPLAIN (VERBOSE, COSTS OFF) " + sql.format(t=f"numbers.{table}"))
        plan = "\n".join(r[0] for r in cur.fetchall())
        assert "AuditBatchedJoin" in plan and "\"key_bucket\" IN ($" in plan, plan
        before = logged_ids(cur, table)
        cur.execute(sql.format(t=f"numbers.{table}"))
        got = cur.fetchall()
        [(scanned, athena_sql)] = queries_since(cur, before, table)
    finally:
        cur.execute(f"ALTER FOREIGN TABLE numbers.{table} OPTIONS (DROP estimated_rows)")
    cur.execute(sql.format(t=f"numbers.local_{table}"))
    assert got == cur.fetchall() and got
    # DynamoDB keeps a number without trailing zeros, in plain notation
    buckets = {key_hash(number_text(format(decimal.Decimal(k).normalize(), "f")))[-1]
               for k in keys}
    assert "key_bucket" in athena_sql and all(f"'{b}'" in athena_sql for b in buckets), \
        athena_sql
    assert scanned == number_bucket_bytes(emulator, buckets, table)
