"""SQL that runs with elevated rights never resolves a name through a schema
another role can write.

A role that may create objects in public (the owner of the database always
may) plants, in public, an overload for every operator and function name the
extension's SQL uses, for every pair of common argument types that has no
exact match in pg_catalog: the overload PostgreSQL would prefer over an
implicit cast.  Each one bumps a sequence (which a rollback does not undo) and
tries `ALTER ROLE ... SUPERUSER`.  Then the pump runs a pipeline, and a
superuser with the default search_path calls every SQL function of the
extension, reads its views and queries a foreign table: not one trap may run.
"""
import os
import re
import time
import uuid

import psycopg2
import pytest
from psycopg2 import sql

from aws_fixtures import create_server
from athena_tables import ensure_buckets, ensure_database, put_json_lines, replace_json_table
from conftest import connect
from pump_env import PumpEnv

ATTACKER = "sp_mallory"
REPO = os.environ.get("AUDIT_FDW_REPO", os.path.join(os.path.dirname(__file__), "..", ".."))

OPERATORS = ["=", "<>", "<", "<=", ">", ">=", "+", "-", "*", "/", "||", "~~"]
TYPES = ["text", "name", "integer", "bigint", "smallint", "numeric", "double precision",
         "boolean", "oid", "interval", "timestamptz", "timestamp", "date", "jsonb", "text[]",
         "bytea"]
# Functions the extension's SQL used in 1.0 or uses now; the names found in
# the SQL strings of src/ are added at run time, so new SQL is covered too.
FUNCTIONS = {"now", "extract", "date_part", "greatest", "least", "lower", "upper", "length",
             "lpad", "to_timestamp", "pg_has_role", "pg_size_pretty", "format", "array_length",
             "jsonb_build_object", "to_jsonb", "row_to_json", "count", "max", "min", "sum"}


def sql_function_names():
    """Names called in the SQL string literals of the C sources."""
    names = set()
    for folder, _, files in os.walk(os.path.join(REPO, "src")):
        for f in files:
            if not f.endswith(".c"):
                continue
            text = open(os.path.join(folder, f), encoding="utf-8").read()
            if "SPI_" not in text:
                continue
            literals = " ".join(re.findall(r'"((?:[^"\\]|\\.)*)"', text))
            names |= set(re.findall(r"\b([a-z_][a-z0-9_]*)\s*\(", literals))
    # table and column names followed by a column list are not functions
    return {n for n in names if n not in {"pipeline", "checkpoint", "dead_letter", "c", "values",
                                          "exists", "in", "any", "all", "coalesce", "nullif"}}


def plant(cur):
    """Creates the traps as the attacker; returns how many were planted."""
    cur.execute("SELECT oprname, oprleft::regtype::text, oprright::regtype::text "
                "FROM pg_operator WHERE oprnamespace = 'pg_catalog'::regnamespace")
    exact_ops = set(cur.fetchall())
    cur.execute("SELECT p.proname, p.proargtypes::regtype[]::text[] FROM pg_proc p "
                "WHERE p.pronamespace = 'pg_catalog'::regnamespace")
    exact_funcs = {(n, tuple(a)) for n, a in cur.fetchall()}
    canonical = {}
    for t in TYPES:
        cur.execute("SELECT %s::regtype::text", (t,))
        canonical[t] = cur.fetchone()[0]

    stmts = [f"SET ROLE {ATTACKER}",
             "CREATE SEQUENCE public.sp_fired",
             "GRANT USAGE, SELECT, UPDATE ON SEQUENCE public.sp_fired TO PUBLIC",
             f"""CREATE FUNCTION public.sp_trap() RETURNS void LANGUAGE plpgsql AS $$
                 BEGIN
                   PERFORM nextval('public.sp_fired');
                   BEGIN
                     EXECUTE 'ALTER ROLE {ATTACKER} SUPERUSER';
                   EXCEPTION WHEN OTHERS THEN NULL;
                   END;
                 END $$"""]
    n = 0
    for op in OPERATORS:
        for left in TYPES:
            for right in TYPES:
                if (op, canonical[left], canonical[right]) in exact_ops:
                    continue
                n += 1
                result = "boolean" if op in ("=", "<>", "<", "<=", ">", ">=", "~~") else left
                stmts.append(f"""CREATE FUNCTION public.sp_op_{n}(a {left}, b {right})
                    RETURNS {result} LANGUAGE plpgsql AS
                    $$ BEGIN PERFORM public.sp_trap(); RETURN NULL; END $$""")
                stmts.append(f"CREATE OPERATOR public.{op} (LEFTARG = {left}, RIGHTARG = {right},"
                             f" FUNCTION = public.sp_op_{n})")
    for fn in sorted(FUNCTIONS | sql_function_names()):
        signatures = [()] + [(t,) for t in TYPES] + [(a, b) for a in TYPES for b in TYPES]
        for sig in signatures:
            if (fn, tuple(canonical[t] for t in sig)) in exact_funcs:
                continue
            n += 1
            args = ", ".join(f"a{i} {t}" for i, t in enumerate(sig))
            stmts.append(f"""CREATE FUNCTION public.{fn}({args}) RETURNS text LANGUAGE plpgsql AS
                $$ BEGIN PERFORM public.sp_trap(); RETURN NULL; END $$""")
    stmts.append("RESET ROLE")
    cur.execute(";\n".join(stmts))
    return n


def fired(cur):
    cur.execute("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.sp_fired")
    count = cur.fetchone()[0]
    cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (ATTACKER,))
    return count, cur.fetchone()[0]


def remove(cur):
    cur.execute(f"SELECT 1 FROM pg_roles WHERE rolname = '{ATTACKER}'")
    if cur.fetchone():
        cur.execute(f"DROP OWNED BY {ATTACKER} CASCADE")
        cur.execute(f"DROP ROLE {ATTACKER}")


@pytest.fixture
def traps(db):
    cur = db.cursor()
    remove(cur)
    cur.execute(f"CREATE ROLE {ATTACKER} LOGIN NOSUPERUSER")
    cur.execute(f"GRANT CREATE ON SCHEMA public TO {ATTACKER}")
    count = plant(cur)
    assert count > 1000
    # the traps work: a superuser whose own SQL picks one is caught by it
    cur.execute("SELECT 2::numeric * 3::integer")
    assert fired(cur) == (1, True)
    cur.execute(f"ALTER ROLE {ATTACKER} NOSUPERUSER")
    cur.execute("SELECT setval('public.sp_fired', 1, false)")
    assert fired(cur) == (0, False)
    yield cur
    remove(cur)


def test_the_pump_runs_no_object_of_another_role(traps, db, emulator):
    env = PumpEnv(db, emulator, "sp_pump")
    try:
        env.put("101", "OPEN")
        for state in ("PICKEDUP", "DELIVERED", "RETURNED"):
            env.update_state("101", state)
        env.wait_delivered(4)
        with db.cursor() as cur:
            cur.execute("SELECT audit_fdw.pause_pipeline(%s)", (env.name,))
            cur.execute("SELECT audit_fdw.resume_pipeline(%s)", (env.name,))
        env.put("102", "OPEN")
        env.wait_delivered(5)
        # the 1.0 pump evaluated its numeric * integer about once a second
        time.sleep(3)
        assert fired(traps) == (0, False)
    finally:
        env.drop()
    assert fired(traps) == (0, False)


@pytest.fixture
def athena(emulator, db):
    s3 = emulator.client("s3")
    glue = emulator.client("glue")
    ensure_buckets(s3, "sp-data", "sp-results")
    ensure_database(glue, "sp_db")
    replace_json_table(glue, "sp_db", "rows", [("id", "int"), ("label", "string")],
                       "s3://sp-data/rows/")
    put_json_lines(s3, "sp-data", "rows/part-0.json", [{"id": 1, "label": "a"}])
    cur = db.cursor()
    create_server(cur, "sp_server", emulator.url)
    cur.execute("ALTER SERVER sp_server OPTIONS (ADD database 'sp_db', "
                "ADD output_location 's3://sp-results/q/')")
    cur.execute("DROP SCHEMA IF EXISTS sp_import CASCADE")
    cur.execute("CREATE SCHEMA sp_import")
    yield cur
    cur.execute("DROP SCHEMA IF EXISTS sp_import CASCADE")
    cur.execute("DROP SERVER IF EXISTS sp_server CASCADE")


def test_every_sql_function_runs_no_object_of_another_role(traps, athena, db, emulator):
    # a superuser's session with the default search_path ("$user", public)
    conn = connect()
    cur = conn.cursor()
    cur.execute("SHOW search_path")
    assert "public" in cur.fetchone()[0]
    suffix = uuid.uuid4().hex[:6]
    env = PumpEnv(db, emulator, "sp_funcs", create_pipeline=False)
    calls = [
        ("SELECT audit_fdw.aws_identity('sp_server')", ()),
        ("SELECT audit_fdw.s3_put_object('sp_server', 's3://sp-data/x/o.txt', 'abc')", ()),
        ("SELECT audit_fdw.s3_get_object('sp_server', 's3://sp-data/x/o.txt')", ()),
        ("SELECT audit_fdw.s3_object_size('sp_server', 's3://sp-data/x/o.txt')", ()),
        ("SELECT * FROM audit_fdw.s3_list_objects('sp_server', 's3://sp-data/x/')", ()),
        ("SELECT audit_fdw.aws_request('sp_server', 'glue', 'GetDatabases', '{}')", ()),
        ("SELECT audit_fdw.create_audit_table('sp_server', %s, location => 's3://sp-data/a/',"
         " item_columns => 'orderId string, state string', database => 'sp_db')",
         ("audit_" + suffix,)),
        ("SELECT audit_fdw.create_delivery_stream('sp_server', %s, 's3://sp-data/d/', "
         "'arn:aws:iam::000000000000:role/firehose')", ("sp-" + suffix,)),
        ("SELECT audit_fdw.create_pipeline(%s, server => %s, source_table => %s, "
         "delivery_stream => %s)", (env.name, env.server, env.table, env.delivery_stream)),
        ("SELECT audit_fdw.pause_pipeline(%s)", (env.name,)),
        ("SELECT audit_fdw.resume_pipeline(%s)", (env.name,)),
        ("SELECT audit_fdw.skip_trimmed_gap(%s)", (env.name,)),
        ("SELECT * FROM audit_fdw.pipeline_status", ()),
        ("IMPORT FOREIGN SCHEMA sp_db FROM SERVER sp_server INTO sp_import", ()),
        ("SELECT id, label FROM sp_import.rows WHERE id = 1", ()),
        ("EXPLAIN (VERBOSE, ANALYZE) SELECT count(*) FROM sp_import.rows", ()),
        ("SELECT * FROM audit_fdw.query_log", ()),
        ("SELECT audit_fdw.drop_pipeline(%s)", (env.name,)),
    ]
    for statement, args in calls:
        cur.execute(statement, args)
        cur.fetchall() if cur.description else None
        assert fired(traps) == (0, False), statement
    conn.close()
