"""Updating a filled 1.0 installation to the current version keeps everything.

A database gets audit_fdw 1.0 and a working set of objects and rows (server,
user mapping, foreign table, pipelines with checkpoints and dead letters,
query log entries), then ALTER EXTENSION audit_fdw UPDATE; every row and
object must still be there, and the updated catalog must equal that of a
fresh CREATE EXTENSION of the current version.
"""
import os
import re
import uuid

import pytest

from conftest import connect

REPO = os.environ.get("AUDIT_FDW_REPO", os.path.join(os.path.dirname(__file__), "..", ".."))


def default_version():
    with open(os.path.join(REPO, "audit_fdw.control")) as f:
        return re.search(r"default_version\s*=\s*'([^']+)'", f.read()).group(1)


@pytest.fixture
def fresh_db(db):
    names = []

    def make():
        name = "upgrade_" + uuid.uuid4().hex[:8]
        with db.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        names.append(name)
        return connect(name)

    yield make
    with db.cursor() as cur:
        for name in names:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def fill_1_0(conn, emulator_url):
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION audit_fdw VERSION '1.0'")
    cur.execute("""CREATE SERVER aws FOREIGN DATA WRAPPER audit_fdw OPTIONS (
        region 'us-east-1', endpoint %s, database 'audit',
        output_location 's3://results/upgrade/')""", (emulator_url,))
    cur.execute("""CREATE USER MAPPING FOR CURRENT_USER SERVER aws
        OPTIONS (access_key_id 'AKIDUPGRADE', secret_access_key 'upgrade-secret')""")
    cur.execute("""CREATE FOREIGN TABLE orders_audit (event_id text, event_name text,
        event_time timestamptz) SERVER aws OPTIONS ("table" 'orders_audit')""")
    cur.execute("""INSERT INTO audit_fdw.pipeline (name, server_name, owner, source_table,
        stream_arn, delivery_stream, state, last_error)
        VALUES ('orders', 'aws', 10, 'Orders',
                'arn:aws:dynamodb:us-east-1:000000000000:table/Orders/stream/2024-01-01T00:00:00.000',
                'orders-audit', 'paused', NULL),
               ('returns', 'aws', 10, 'Returns',
                'arn:aws:dynamodb:us-east-1:000000000000:table/Returns/stream/2024-01-01T00:00:00.000',
                'returns-audit', 'paused', 'ResourceNotFoundException: gone')""")
    cur.execute("""INSERT INTO audit_fdw.checkpoint (pipeline, shard_id, parent_shard_id, state,
        sequence_number, records_read, records_delivered, last_record_time)
        SELECT 'orders', 'shardId-' || lpad(i::text, 20, '0'), NULL,
               CASE WHEN i % 2 = 0 THEN 'drained' ELSE 'reading' END,
               lpad((1000 + i)::text, 21, '0'), i * 10, i * 10,
               '2024-01-15 16:44:27+00'::timestamptz + i * interval '1 minute'
          FROM generate_series(1, 6) i""")
    cur.execute("""INSERT INTO audit_fdw.dead_letter (pipeline, shard_id, sequence_number,
        event_id, reason, record_bytes, record)
        VALUES ('orders', 'shardId-00000000000000000001', '000000000000000001001', 'ev-1',
                'record over 1,000 KiB', 3, '{}')""")
    cur.execute("""INSERT INTO audit_fdw.query_log_entries VALUES
        (now(), current_user, 'aws', 'public.orders_audit', 'q-1', 'SELECT 1', 10, 5, 1, 0, 'csv',
         false)""")
    return cur


# What the update must keep: every row of the extension's tables, and the
# user's objects that depend on the extension.
SNAPSHOT = {
    "pipeline": "SELECT name, server_name, owner, source_table, stream_arn, delivery_stream, "
                "state, last_error FROM audit_fdw.pipeline ORDER BY name",
    "checkpoint": "SELECT pipeline, shard_id, state, sequence_number, records_read, "
                  "records_delivered, last_record_time FROM audit_fdw.checkpoint "
                  "ORDER BY pipeline, shard_id",
    "dead_letter": "SELECT pipeline, shard_id, sequence_number, event_id, reason, record "
                   "FROM audit_fdw.dead_letter ORDER BY id",
    "query_log": "SELECT username, server, foreign_table, query_id, athena_sql, bytes_scanned "
                 "FROM audit_fdw.query_log_entries ORDER BY query_id",
    "servers": "SELECT srvname, srvoptions FROM pg_foreign_server ORDER BY srvname",
    "mappings": "SELECT srvname, usename FROM pg_user_mappings ORDER BY srvname, usename",
    "foreign_tables": "SELECT c.relname, ft.ftoptions FROM pg_foreign_table ft "
                      "JOIN pg_class c ON c.oid = ft.ftrelid ORDER BY c.relname",
}


def snapshot(cur):
    out = {}
    for key, query in SNAPSHOT.items():
        cur.execute(query)
        out[key] = cur.fetchall()
    return out


# The extension's own objects, described so that two installations compare.
CATALOG = """
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS object,
       CASE d.classid
         WHEN 'pg_class'::regclass THEN
           (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                              || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, ', '
                              ORDER BY a.attnum)
              FROM pg_attribute a WHERE a.attrelid = d.objid AND a.attnum > 0
               AND NOT a.attisdropped)
           || coalesce(' ' || (SELECT array_to_string(c.relacl, ',') FROM pg_class c
                                WHERE c.oid = d.objid), '')
           || coalesce(' ' || pg_get_viewdef(d.objid), '')
         WHEN 'pg_proc'::regclass THEN
           (SELECT pg_get_functiondef(d.objid)
                   || coalesce(array_to_string(p.proacl, ','), '')
              FROM pg_proc p WHERE p.oid = d.objid)
       END AS definition,
       obj_description(d.objid, d.classid::regclass::name) AS comment
  FROM pg_depend d
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'audit_fdw'
 WHERE d.deptype = 'e' AND d.refclassid = 'pg_extension'::regclass
 ORDER BY 1
"""


def catalog(cur):
    cur.execute(CATALOG)
    return cur.fetchall()


def update_keeping_every_row(cur):
    """ALTER EXTENSION audit_fdw UPDATE to the default version; every row and
    user object of SNAPSHOT is as it was."""
    before = snapshot(cur)
    cur.execute("ALTER EXTENSION audit_fdw UPDATE")
    cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'audit_fdw'")
    assert cur.fetchone()[0] == default_version()
    after = snapshot(cur)
    for key in SNAPSHOT:
        assert after[key] == before[key], key


def test_update_from_1_0_keeps_every_row_and_object(fresh_db, emulator):
    conn = fresh_db()
    cur = fill_1_0(conn, emulator.url)
    cur.execute("GRANT EXECUTE ON FUNCTION audit_fdw.create_pipeline(text, text, text, text, "
                "text, text, integer, interval, text) TO pg_monitor")
    update_keeping_every_row(cur)
    # the pipelines are still readable through the status view
    cur.execute("SELECT DISTINCT pipeline, pipeline_state FROM audit_fdw.pipeline_status "
                "ORDER BY 1")
    assert cur.fetchall() == [("orders", "paused"), ("returns", "paused")]
    # the rows of 1.0 were of queries that succeeded
    cur.execute("SELECT query_id, state, reason, cost_usd FROM audit_fdw.query_log")
    assert cur.fetchall() == [("q-1", "SUCCEEDED", None, 0)]
    # query_log is a security barrier (its per-user filter runs first)
    cur.execute("SELECT reloptions FROM pg_class WHERE oid = 'audit_fdw.query_log'::regclass")
    assert "security_barrier=true" in (cur.fetchone()[0] or [])
    # create_pipeline has share_stream (1.1) and folders (1.3) now, and whoever could run it
    # still can
    cur.execute("SELECT has_function_privilege('pg_monitor', 'audit_fdw.create_pipeline(text, "
                "text, text, text, text, text, integer, interval, text, boolean, text, "
                "text[])', 'EXECUTE'), "
                "has_function_privilege('pg_read_all_stats', 'audit_fdw.create_pipeline(text, "
                "text, text, text, text, text, integer, interval, text, boolean, text, "
                "text[])', 'EXECUTE')")
    assert cur.fetchone() == (True, False)
    # pg_dump keeps the pump's tables (their rows are the pipelines' state)
    cur.execute("SELECT array(SELECT c::regclass::text FROM unnest(extconfig) c ORDER BY 1) "
                "FROM pg_extension WHERE extname = 'audit_fdw'")
    assert set(cur.fetchone()[0]) >= {"audit_fdw.pipeline", "audit_fdw.checkpoint",
                                      "audit_fdw.dead_letter", "audit_fdw.dead_letter_id_seq",
                                      "audit_fdw.pump_error"}
    # the pump's health, counters and metrics; the old rows are healthy
    cur.execute("SELECT pipeline, health, records_resent, get_records_calls "
                "FROM audit_fdw.pipeline_status ORDER BY 1, shard_id LIMIT 1")
    assert cur.fetchone() == ("orders", "stopped", 0, 0)
    cur.execute("SELECT count(*) FROM audit_fdw.pump_metrics "
                "WHERE metric = 'audit_fdw_records_delivered_total'")
    assert cur.fetchone()[0] == 6
    # event-time partitions: both provisioning functions take a layout, whose
    # default keeps 1.0's delivery-hour folders; no 1.0 signature is left
    for fn in ("create_audit_table", "create_delivery_stream"):
        cur.execute("SELECT pg_get_function_arguments(p.oid) FROM pg_proc p "
                    "WHERE p.proname = %s AND p.pronamespace = 'audit_fdw'::regnamespace",
                    (fn,))
        (args,), = cur.fetchall()
        assert "layout text DEFAULT 'delivery_time'::text" in args, args
        # key buckets (1.2): a bucket count, no buckets by default
        assert "key_buckets integer DEFAULT 0" in args, args
    assert_backfill_objects(cur)


def test_update_from_1_1_keeps_every_row_and_object(fresh_db, emulator):
    """An installation that went to 1.1 first, and gained rows there, takes
    each later step with every row kept and ends as a fresh install does."""
    conn = fresh_db()
    cur = fill_1_0(conn, emulator.url)
    cur.execute("ALTER EXTENSION audit_fdw UPDATE TO '1.1'")
    # a 1.1 row: a pump error, a table that 1.0 did not have
    cur.execute("""INSERT INTO audit_fdw.pump_error (pipeline, shard_id, operation, code, kind,
                   count, last_message)
                   VALUES ('orders', 'shardId-00000000000000000001', 'GetRecords',
                           'ThrottlingException', 'retry', 3, 'Rate exceeded')""")
    cur.execute("SELECT count(*) FROM audit_fdw.pump_error")
    errors = cur.fetchone()[0]
    update_keeping_every_row(cur)
    cur.execute("SELECT count(*) FROM audit_fdw.pump_error")
    assert cur.fetchone()[0] == errors == 1
    assert_backfill_objects(cur)
    # 1.2: dead letters say how bytes the database cannot hold are written
    cur.execute("SELECT col_description('audit_fdw.dead_letter'::regclass, attnum) "
                "FROM pg_attribute WHERE attrelid = 'audit_fdw.dead_letter'::regclass "
                "AND attname = 'record'")
    assert "\\xNN" in cur.fetchone()[0]
    # key buckets (1.2) on both provisioning functions
    cur.execute("SELECT count(*) FROM pg_proc WHERE pronamespace = 'audit_fdw'::regnamespace "
                "AND proname IN ('create_audit_table', 'create_delivery_stream') "
                "AND pg_get_function_arguments(oid) LIKE '%key_buckets integer DEFAULT 0%'")
    assert cur.fetchone()[0] == 2
    fresh = fresh_db().cursor()
    fresh.execute("CREATE EXTENSION audit_fdw")
    assert catalog(cur) == catalog(fresh)


def assert_backfill_objects(cur):
    """1.2's backfill: its tables (kept by pg_dump, closed to PUBLIC), the
    status view (open to all), and its functions (closed to PUBLIC); the
    pipelines updated from earlier versions can take a backfill."""
    cur.execute("SELECT array(SELECT c::regclass::text FROM unnest(extconfig) c ORDER BY 1) "
                "FROM pg_extension WHERE extname = 'audit_fdw'")
    assert set(cur.fetchone()[0]) >= {"audit_fdw.backfill", "audit_fdw.backfill_id_seq",
                                      "audit_fdw.backfill_segment"}
    for obj, priv, want in (("audit_fdw.backfill", "SELECT", False),
                            ("audit_fdw.backfill_segment", "SELECT", False),
                            ("audit_fdw.backfill_status", "SELECT", True)):
        cur.execute("SELECT has_table_privilege('public', %s, %s)", (obj, priv))
        assert cur.fetchone()[0] is want, obj
    for fn in ("audit_fdw.backfill(text, integer, double precision, double precision)",
               "audit_fdw.cancel_backfill(text)", "audit_fdw.resume_backfill(text)"):
        cur.execute("SELECT has_function_privilege('public', %s, 'EXECUTE')", (fn,))
        assert cur.fetchone()[0] is False, fn
    # state_as_of runs as its caller, for anyone, on the rows of an updated
    # installation's tables as on any audit table
    cur.execute("SELECT has_function_privilege('public', 'audit_fdw.state_as_of(regclass, "
                "timestamptz)', 'EXECUTE'), (SELECT prosecdef FROM pg_proc "
                "WHERE oid = 'audit_fdw.state_as_of(regclass, timestamptz)'::regprocedure)")
    assert cur.fetchone() == (True, False)
    # a backfill row for the updated pipeline, and its status
    cur.execute("INSERT INTO audit_fdw.backfill (pipeline, total_segments, workers, "
                "requested_by, state) VALUES ('orders', 2, 2, 10, 'cancelled') RETURNING id")
    bid = cur.fetchone()[0]
    cur.execute("INSERT INTO audit_fdw.backfill_segment (backfill, segment, items_read) "
                "VALUES (%s, 0, 5), (%s, 1, 7)", (bid, bid))
    cur.execute("SELECT pipeline, state, segments, items_read FROM audit_fdw.backfill_status")
    assert cur.fetchall() == [("orders", "cancelled", 2, 12)]
    cur.execute("DELETE FROM audit_fdw.backfill WHERE id = %s", (bid,))
    # the gap policy 'snapshot' is allowed on an updated pipeline
    cur.execute("UPDATE audit_fdw.pipeline SET on_trimmed_gap = 'snapshot' WHERE name = 'orders' "
                "RETURNING (SELECT on_trimmed_gap FROM audit_fdw.pipeline WHERE name = 'orders')")
    assert cur.fetchone() == ("stop",)
    cur.execute("UPDATE audit_fdw.pipeline SET on_trimmed_gap = 'stop' WHERE name = 'orders'")


def test_updated_catalog_equals_a_fresh_install(fresh_db, emulator):
    updated = fresh_db().cursor()
    updated.execute("CREATE EXTENSION audit_fdw VERSION '1.0'")
    updated.execute("ALTER EXTENSION audit_fdw UPDATE")
    fresh = fresh_db().cursor()
    fresh.execute("CREATE EXTENSION audit_fdw")
    a, b = catalog(updated), catalog(fresh)
    assert [r[0] for r in a] == [r[0] for r in b]
    assert a == b


def test_every_object_explains_itself(fresh_db):
    """\\df+, \\dt+, \\dv+ and \\dew+ show one line for each of the
    extension's functions, tables, views and its wrapper, fresh or updated."""
    for install in ("CREATE EXTENSION audit_fdw",
                    "CREATE EXTENSION audit_fdw VERSION '1.0'; ALTER EXTENSION audit_fdw UPDATE"):
        cur = fresh_db().cursor()
        cur.execute(install)
        cur.execute("""
            SELECT pg_describe_object(d.classid, d.objid, d.objsubid),
                   obj_description(d.objid, d.classid::regclass::name)
              FROM pg_depend d
              JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'audit_fdw'
             WHERE d.deptype = 'e' AND d.refclassid = 'pg_extension'::regclass
               AND (d.classid IN ('pg_proc'::regclass, 'pg_foreign_data_wrapper'::regclass)
                    OR (d.classid = 'pg_class'::regclass
                        AND (SELECT relkind FROM pg_class WHERE oid = d.objid)
                            IN ('r', 'v', 'm')))""")
        rows = cur.fetchall()
        assert len(rows) >= 22, rows
        missing = [obj for obj, comment in rows if not comment]
        assert missing == [], missing
        for obj, comment in rows:
            assert "\n" not in comment and len(comment) <= 160, (obj, comment)


def test_every_shipped_version_has_an_update_path_to_the_default(db):
    with db.cursor() as cur:
        cur.execute("SELECT version FROM pg_available_extension_versions "
                    "WHERE name = 'audit_fdw' ORDER BY version")
        versions = [r[0] for r in cur.fetchall()]
        assert "1.0" in versions and default_version() in versions
        cur.execute("SELECT source, path FROM pg_extension_update_paths('audit_fdw') "
                    "WHERE target = %s AND source <> target", (default_version(),))
        paths = dict(cur.fetchall())
        for v in versions:
            if v != default_version():
                assert paths.get(v), "no update path from %s" % v


def test_update_from_1_2_keeps_every_row_and_adds_attribute_folders(fresh_db, emulator):
    """A filled 1.2 installation goes to 1.3 with every row kept: the
    pipeline table gains folder_attribute and folder_values (both or neither,
    values as the README's "Attribute folders" declares them), the three creating functions gain
    the arguments at the end, and whoever could create pipelines still can."""
    conn = fresh_db()
    cur = fill_1_0(conn, emulator.url)
    cur.execute("ALTER EXTENSION audit_fdw UPDATE TO '1.2'")
    cur.execute("GRANT EXECUTE ON FUNCTION audit_fdw.create_pipeline(text, text, text, text, "
                "text, text, integer, interval, text, boolean) TO pg_monitor")
    # 1.2 rows: a backfill with its segments, and a pump error
    cur.execute("INSERT INTO audit_fdw.backfill (pipeline, total_segments, workers, "
                "requested_by, state) VALUES ('orders', 2, 2, 10, 'done') RETURNING id")
    bid = cur.fetchone()[0]
    cur.execute("INSERT INTO audit_fdw.backfill_segment (backfill, segment, items_read, "
                "state) VALUES (%s, 0, 5, 'done'), (%s, 1, 7, 'done')", (bid, bid))
    cur.execute("""INSERT INTO audit_fdw.pump_error (pipeline, shard_id, operation, code, kind)
                   VALUES ('orders', '', 'PutRecordBatch', 'ServiceUnavailableException',
                           'retry')""")
    backfills = "SELECT b.pipeline, b.state, s.segment, s.items_read FROM audit_fdw.backfill b " \
                "JOIN audit_fdw.backfill_segment s ON s.backfill = b.id ORDER BY 3"
    cur.execute(backfills)
    before = cur.fetchall()
    update_keeping_every_row(cur)
    cur.execute(backfills)
    assert cur.fetchall() == before and len(before) == 2
    cur.execute("SELECT count(*) FROM audit_fdw.pump_error")
    assert cur.fetchone()[0] == 1
    # the old pipelines have no attribute folders
    cur.execute("SELECT name, folder_attribute, folder_values FROM audit_fdw.pipeline ORDER BY 1")
    assert cur.fetchall() == [("orders", None, None), ("returns", None, None)]
    cur.execute("SELECT DISTINCT pipeline, folder_attribute, folder_values "
                "FROM audit_fdw.pipeline_status ORDER BY 1")
    assert cur.fetchall() == [("orders", None, None), ("returns", None, None)]
    # the arguments, at the end, with no folders by default
    want = {"create_pipeline": "share_stream boolean DEFAULT false, folder_attribute text "
                               "DEFAULT NULL::text, folder_values text[] DEFAULT NULL::text[]",
            "create_audit_table": "key_buckets integer DEFAULT 0, folder_attribute text "
                                  "DEFAULT NULL::text, folder_values text[] DEFAULT NULL::text[]",
            "create_delivery_stream": "bucket_key text DEFAULT NULL::text, folder_attribute text "
                                      "DEFAULT NULL::text"}
    for fn, tail in want.items():
        cur.execute("SELECT pg_get_function_arguments(p.oid) FROM pg_proc p "
                    "WHERE p.proname = %s AND p.pronamespace = 'audit_fdw'::regnamespace", (fn,))
        (args,), = cur.fetchall()
        assert args.endswith(tail), args
    sig = "audit_fdw.create_pipeline(text, text, text, text, text, text, integer, interval, " \
          "text, boolean, text, text[])"
    cur.execute("SELECT has_function_privilege('pg_monitor', %s, 'EXECUTE'), "
                "has_function_privilege('public', %s, 'EXECUTE')", (sig, sig))
    assert cur.fetchone() == (True, False)
    # the table holds both or neither, and only values a folder can be named
    cur.execute("UPDATE audit_fdw.pipeline SET folder_attribute = 'state', "
                "folder_values = '{PLACED,SHIPPED,x.y_z-1}' WHERE name = 'orders'")
    for attribute, values in (("state", None), (None, "{PLACED}"), ("state", "{}"),
                              ("state", "{_other}"), ("state", "{a/b}"), ("state", "{PLACED,NULL}"),
                              ("state", "{{A},{B}}"), ("state", "{%s}" % ("A" * 101)),
                              ("state", "{%s}" % ",".join("v%d" % i for i in range(65))),
                              ("", "{PLACED}")):
        with pytest.raises(Exception) as e:
            cur.execute("UPDATE audit_fdw.pipeline SET folder_attribute = %s, "
                        "folder_values = %s::text[] WHERE name = 'returns'", (attribute, values))
        assert e.value.pgcode == "23514", (attribute, values, e.value)
    cur.execute("SELECT folder_values FROM audit_fdw.pipeline_status WHERE pipeline = 'orders' "
                "LIMIT 1")
    assert cur.fetchone()[0] == ["PLACED", "SHIPPED", "x.y_z-1"]
    # and the catalog is a fresh one's (but for the grant made above)
    cur.execute("REVOKE EXECUTE ON FUNCTION %s FROM pg_monitor" % sig)
    fresh = fresh_db().cursor()
    fresh.execute("CREATE EXTENSION audit_fdw")
    assert catalog(cur) == catalog(fresh)
