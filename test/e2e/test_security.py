"""Security of audit_fdw, end to end against the emulator.

- Secrets (a secret access key and a session token, temporary credentials
  the emulator's STS issued, so that they are distinctive strings) never
  appear in EXPLAIN, in error messages, in notices, in pg_stat_activity, or
  in the server log with log_min_messages = debug5, neither from a backend
  (scans, errors, aws_identity) nor from the pump's workers.
- A non-superuser cannot set the endpoint option, cannot read another
  role's user mapping options, cannot turn TLS verification off or point
  it at another CA file, and cannot manage pipelines without the grant.
- Identifiers and literals pushed into Athena SQL cannot break out of their
  quoting: a corpus of hostile strings, stored in the data and in column
  names, each found by an equality pushed down (and LIKE), through the
  emulator's Trino parser.

Every case is recorded for test/HARDENING.md (hostile.py).
"""
import os
import re
import time
import uuid

import psycopg2
import psycopg2.sql as sql
import pytest

from athena_tables import ensure_buckets, ensure_database, put_json_lines, replace_json_table
from conftest import connect
from hostile import record
from pump_env import PumpEnv, pg_log_path, pg_log_since, pg_log_size, wait_for

SERVER = "sec_server"
BUCKET = "sec-data"
RESULTS = "sec-results"
DATABASE = "sec_db"


@pytest.fixture(scope="module")
def temp_creds(emulator):
    """Temporary credentials from the emulator's STS: distinctive secrets."""
    sts = emulator.client("sts")
    c = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/sec",
                        RoleSessionName="sec-" + uuid.uuid4().hex[:8],
                        DurationSeconds=3600)["Credentials"]
    return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]


def secrets_of(creds):
    return [creds[1], creds[2]]


# strings that try to leave a quoted Trino literal or identifier
INJECTION_CORPUS = [
    "plain", "it's", "''", "'", "\"", "\"\"", "a\"b", "' OR '1'='1", "x' OR 1=1 --",
    "'; DROP TABLE rows; --", "\\", "\\'", "back\\slash", "%", "_", "100%_done",
    "/* comment */", "*/ 1=1 /*", "--", "line\nbreak", "tab\tchar", "cr\rlf",
    "unicode ✓ 日本", "emoji 😀", "U&'\\0041'", "$$dollar$$", "e'\\x41'", ";",
    "a'b\"c", "%' ESCAPE '\\", "'||'", "\u2028separator", " leading", "trailing ",
]

# column names (Glue) that must be quoted as identifiers
IDENT_CORPUS = ["select", "from", "a b", "mixedCase", "x-y", "semi;colon", "dots.in.name"]


@pytest.fixture(scope="module")
def setup(emulator, temp_creds):
    s3 = emulator.client("s3")
    glue = emulator.client("glue")
    ensure_buckets(s3, BUCKET, RESULTS)
    ensure_database(glue, DATABASE)
    replace_json_table(glue, DATABASE, "rows", [("id", "int"), ("label", "string")],
                       f"s3://{BUCKET}/rows/")
    put_json_lines(s3, BUCKET, "rows/part-0.json",
                   [{"id": i, "label": v} for i, v in enumerate(INJECTION_CORPUS)])
    replace_json_table(glue, DATABASE, "idents",
                       [("id", "int")] + [(c, "string") for c in IDENT_CORPUS],
                       f"s3://{BUCKET}/idents/")
    put_json_lines(s3, BUCKET, "idents/part-0.json",
                   [dict([("id", 1)] + [(c, "v:" + c) for c in IDENT_CORPUS])])

    conn = connect()
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS audit_fdw")
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute(f"""CREATE SERVER {SERVER} FOREIGN DATA WRAPPER audit_fdw OPTIONS (
        region 'us-east-1', endpoint '{emulator.url}', database '{DATABASE}',
        output_location 's3://{RESULTS}/q/', poll_initial_ms '10', poll_max_ms '50')""")
    akid, secret, token = temp_creds
    cur.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS "
                        "(access_key_id {}, secret_access_key {}, session_token {})").format(
        sql.Identifier(SERVER), sql.Literal(akid), sql.Literal(secret), sql.Literal(token)))
    cur.execute("DROP SCHEMA IF EXISTS sec CASCADE")
    cur.execute("CREATE SCHEMA sec")
    cur.execute(f"""CREATE FOREIGN TABLE sec.rows (id integer, label text)
        SERVER {SERVER} OPTIONS ("table" 'rows')""")
    cols = ", ".join(sql.SQL("{} text OPTIONS (column_name {})").format(
        sql.Identifier("c%d" % i), sql.Literal(c)).as_string(conn)
        for i, c in enumerate(IDENT_CORPUS))
    cur.execute(f"""CREATE FOREIGN TABLE sec.idents (id integer, {cols})
        SERVER {SERVER} OPTIONS ("table" 'idents')""")
    for role in ("sec_alice", "sec_bob"):
        cur.execute(f"DROP ROLE IF EXISTS {role}")
        cur.execute(f"CREATE ROLE {role} LOGIN")
    cur.execute(f"GRANT USAGE ON FOREIGN SERVER {SERVER} TO sec_alice, sec_bob")
    cur.execute(f"GRANT USAGE ON FOREIGN DATA WRAPPER audit_fdw TO sec_alice")
    cur.execute(sql.SQL("CREATE USER MAPPING FOR sec_alice SERVER {} OPTIONS "
                        "(access_key_id {}, secret_access_key {})").format(
        sql.Identifier(SERVER), sql.Literal(akid), sql.Literal(secret)))
    conn.close()
    yield
    conn = connect()
    cur = conn.cursor()
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute("DROP SERVER IF EXISTS sec_alice_server CASCADE")
    cur.execute("REVOKE USAGE ON FOREIGN DATA WRAPPER audit_fdw FROM sec_alice")
    for role in ("sec_alice", "sec_bob"):
        cur.execute(f"DROP ROLE IF EXISTS {role}")
    conn.close()


def as_role(role):
    conn = connect(user=role)
    return conn, conn.cursor()


def assert_no_secret(where, text, creds):
    for s in secrets_of(creds):
        assert s not in (text or ""), "a secret appears in %s" % where


# ---------------------------------------------------------------- secrets


def test_no_secret_in_explain_errors_notices_activity_or_debug5_log(setup, db, emulator,
                                                                     temp_creds):
    cur = db.cursor()
    offset = pg_log_size()
    cur.execute("SET log_min_messages = debug5")
    cur.execute("SET client_min_messages = debug5")
    cur.execute("SET log_statement = 'none'")   # the mapping's statement is not ours
    seen = []
    try:
        for q in ("EXPLAIN (VERBOSE) SELECT * FROM sec.rows WHERE label = 'x'",
                  "EXPLAIN (ANALYZE, VERBOSE) SELECT * FROM sec.rows WHERE label = 'x'",
                  "SELECT count(*) FROM sec.rows",
                  "SELECT * FROM audit_fdw.aws_identity('%s')" % SERVER):
            cur.execute(q)
            seen.append(repr(cur.fetchall()))
        # errors: a signature the emulator refuses, a failed Athena query
        emulator.add_fault(service="athena", operation="GetQueryExecution",
                           error="UnrecognizedClientException",
                           message="The security token included in the request is invalid.")
        with pytest.raises(psycopg2.Error) as e:
            cur.execute("SELECT * FROM sec.rows")
        seen.append(str(e.value) + repr(e.value.diag.message_detail) +
                    repr(e.value.diag.context))
        emulator.clear_faults()
        emulator.add_fault(service="sts", operation="GetCallerIdentity", drop_connection=True)
        cur.execute("SET audit_fdw.aws_max_retries = 0")
        with pytest.raises(psycopg2.Error) as e:
            cur.execute("SELECT * FROM audit_fdw.aws_identity('%s')" % SERVER)
        seen.append(str(e.value))
    finally:
        emulator.clear_faults()
        cur.execute("RESET ALL")
    seen.extend(db.notices)
    # pg_stat_activity of every backend and worker, while this one runs
    cur.execute("SELECT string_agg(coalesce(query, '') || application_name, ' ') "
                "FROM pg_stat_activity")
    seen.append(cur.fetchone()[0])
    time.sleep(0.3)
    log = pg_log_since(offset)
    assert "DEBUG" in log, "debug5 did not reach the log"
    for i, text in enumerate(seen):
        assert_no_secret("output %d" % i, text, temp_creds)
    assert_no_secret("the server log at debug5", log, temp_creds)
    record("security", "secrets at debug5: EXPLAIN, errors, notices, activity, log",
           [], "clean", "%d outputs, %d log bytes" % (len(seen), len(log)))


def test_no_secret_in_the_pump_workers_debug5_log(db, emulator, temp_creds):
    env = PumpEnv(db, emulator, "sec", create_pipeline=False)
    akid, secret, token = temp_creds
    cur = db.cursor()
    cur.execute(sql.SQL("ALTER USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS "
                        "(SET access_key_id {}, SET secret_access_key {}, "
                        "ADD session_token {})").format(
        sql.Identifier(env.server), sql.Literal(akid), sql.Literal(secret), sql.Literal(token)))
    offset = pg_log_size()
    cur.execute("ALTER SYSTEM SET log_min_messages = debug5")
    cur.execute("SELECT pg_reload_conf()")

    def reloaded():
        # a new backend is forked by the postmaster: once one has the
        # setting, so will the workers started next
        conn = connect()
        try:
            with conn.cursor() as c:
                c.execute("SHOW log_min_messages")
                return c.fetchone()[0] == "debug5"
        finally:
            conn.close()
    try:
        wait_for("the postmaster to reload", reloaded, timeout=30)
        env.create_pipeline()
        for i in range(5):
            env.put("sec-%d" % i, "OPEN")
        env.wait_delivered(5, timeout=60)
        cur.execute("SELECT string_agg(coalesce(query, '') || backend_type, ' ') "
                    "FROM pg_stat_activity")
        activity = cur.fetchone()[0]
        status = repr(env.status())
    finally:
        cur.execute("ALTER SYSTEM RESET log_min_messages")
        cur.execute("SELECT pg_reload_conf()")
        env.drop()
    time.sleep(0.3)
    log = pg_log_since(offset)
    assert "DEBUG" in log
    assert_no_secret("pg_stat_activity", activity, temp_creds)
    assert_no_secret("pipeline_status", status, temp_creds)
    assert_no_secret("the server log at debug5 (pump workers)", log, temp_creds)
    record("security", "secrets at debug5: pump workers, status view, activity",
           [], "clean", "%d log bytes" % len(log))


def test_no_secret_in_option_errors(setup, db, temp_creds):
    cur = db.cursor()
    secret = temp_creds[1]
    for opts in [
            sql.SQL("secret_access_key {}, secret_acces_key {}").format(
                sql.Literal(secret), sql.Literal(secret)),
            sql.SQL("secret_access_key {}, secret_access_key {}").format(
                sql.Literal(secret), sql.Literal(secret)),
            sql.SQL("session_token {}, bogus {}").format(sql.Literal(secret), sql.Literal("x"))]:
        cur.execute("DROP ROLE IF EXISTS sec_tmp")
        cur.execute("CREATE ROLE sec_tmp")
        with pytest.raises(psycopg2.Error) as e:
            cur.execute(sql.SQL("CREATE USER MAPPING FOR sec_tmp SERVER {} OPTIONS ({})").format(
                sql.Identifier(SERVER), opts))
        text = str(e.value) + repr(e.value.diag.message_detail) + repr(e.value.diag.message_hint)
        assert secret not in text
        cur.execute("DROP ROLE sec_tmp")
    record("security", "no secret in option validation errors", [], "clean", "3 cases")


# ---------------------------------------------------------------- privileges


def test_non_superuser_cannot_set_the_endpoint(setup, emulator):
    conn, cur = as_role("sec_alice")
    try:
        with pytest.raises(psycopg2.Error) as e:
            cur.execute(f"""CREATE SERVER sec_alice_server FOREIGN DATA WRAPPER audit_fdw
                OPTIONS (region 'us-east-1', endpoint 'http://attacker.example:80')""")
        assert e.value.pgcode == "42501"
        cur.execute("""CREATE SERVER sec_alice_server FOREIGN DATA WRAPPER audit_fdw
            OPTIONS (region 'us-east-1')""")
        with pytest.raises(psycopg2.Error) as e:
            cur.execute("ALTER SERVER sec_alice_server OPTIONS (ADD endpoint 'http://127.0.0.1:1')")
        assert e.value.pgcode == "42501"
        cur.execute("DROP SERVER sec_alice_server")
    finally:
        conn.close()
    record("security", "endpoint option is superuser-only", [], "refused", "42501 twice")


def test_another_roles_user_mapping_options_are_hidden(setup, temp_creds):
    conn, cur = as_role("sec_bob")
    try:
        cur.execute("SELECT usename, umoptions FROM pg_user_mappings WHERE srvname = %s",
                    (SERVER,))
        rows = cur.fetchall()
        assert rows, "bob sees no mapping at all"
        for usename, options in rows:
            if usename != "sec_bob":
                assert options is None, "bob reads %s's options" % usename
        with pytest.raises(psycopg2.Error) as e:
            cur.execute("SELECT umoptions FROM pg_user_mapping")
        assert e.value.pgcode == "42501"
        # bob has no mapping: he cannot borrow alice's (or the server's) credentials
        with pytest.raises(psycopg2.Error) as e:
            cur.execute("SELECT * FROM audit_fdw.aws_identity(%s)", (SERVER,))
        assert temp_creds[1] not in str(e.value)
    finally:
        conn.close()
    record("security", "another role's user mapping options are hidden", [], "hidden", "")


def test_a_non_superuser_without_keys_cannot_use_the_servers_own_identity(setup):
    admin = connect()
    admin.cursor().execute(f"CREATE USER MAPPING FOR sec_bob SERVER {SERVER}")
    conn, cur = as_role("sec_bob")
    try:
        # no keys: the default chain would sign with the database server's identity
        with pytest.raises(psycopg2.Error) as e:
            cur.execute("SELECT * FROM audit_fdw.aws_identity(%s)", (SERVER,))
        assert e.value.pgcode == "2F003", e.value.pgerror
        assert "credentials_required" in e.value.diag.message_hint
        # bob cannot allow it himself
        with pytest.raises(psycopg2.Error) as e:
            cur.execute(f"ALTER USER MAPPING FOR sec_bob SERVER {SERVER} "
                        "OPTIONS (ADD credentials_required 'false')")
        assert e.value.pgcode == "42501"
        # a superuser can: then the request goes on to the credential chain
        admin.cursor().execute(f"ALTER USER MAPPING FOR sec_bob SERVER {SERVER} "
                               "OPTIONS (ADD credentials_required 'false')")
        try:
            cur.execute("SELECT * FROM audit_fdw.aws_identity(%s)", (SERVER,))
        except psycopg2.Error as err:
            assert err.pgcode != "2F003", err.pgerror
    finally:
        conn.close()
        admin.cursor().execute(f"DROP USER MAPPING IF EXISTS FOR sec_bob SERVER {SERVER}")
        admin.close()
    record("security", "a non-superuser mapping without keys is refused", [],
           "refused", "2F003 until a superuser sets credentials_required 'false'")


def test_tls_verification_cannot_be_turned_off_by_a_non_superuser(setup):
    conn, cur = as_role("sec_alice")
    try:
        for stmt in ("SET audit_fdw.aws_verify_tls = off",
                     "SET audit_fdw.aws_ca_file = '/tmp/attacker-ca.pem'",
                     "SELECT set_config('audit_fdw.aws_verify_tls', 'off', false)"):
            with pytest.raises(psycopg2.Error) as e:
                cur.execute(stmt)
            assert e.value.pgcode == "42501", stmt
        with pytest.raises(psycopg2.Error) as e:
            cur.execute("ALTER ROLE sec_alice SET audit_fdw.aws_verify_tls = off")
        assert e.value.pgcode == "42501"
        cur.execute("SHOW audit_fdw.aws_verify_tls")
        assert cur.fetchone()[0] == "on"
    finally:
        conn.close()
    record("security", "TLS verification and CA file are superuser-only", [], "refused", "4 ways")


def test_managing_pipelines_needs_the_grant(setup):
    conn, cur = as_role("sec_alice")
    try:
        for stmt in ("SELECT audit_fdw.create_pipeline('x', server => '%s', "
                     "source_table => 'T', delivery_stream => 'd')" % SERVER,
                     "SELECT audit_fdw.pause_pipeline('x')",
                     "SELECT audit_fdw.resume_pipeline('x')",
                     "SELECT audit_fdw.drop_pipeline('x')",
                     "SELECT * FROM audit_fdw.pipeline",
                     "SELECT * FROM audit_fdw.checkpoint",
                     "DELETE FROM audit_fdw.dead_letter",
                     "SELECT audit_fdw.aws_request('%s', 'athena', 'ListWorkGroups')" % SERVER):
            with pytest.raises(psycopg2.Error) as e:
                cur.execute(stmt)
            assert e.value.pgcode == "42501", stmt
        cur.execute("SELECT count(*) FROM audit_fdw.pipeline_status")
    finally:
        conn.close()
    record("security", "pipelines and raw AWS calls need a grant", [], "refused", "8 statements")


# ---------------------------------------------------------------- injection


def test_literals_cannot_break_out_of_their_quoting(setup, db, emulator):
    cur = db.cursor()
    # the request log is bounded: pick this test's requests by time
    started = time.time()
    for i, value in enumerate(INJECTION_CORPUS):
        cur.execute("SELECT id FROM sec.rows WHERE label = %s", (value,))
        assert cur.fetchall() == [(i,)], "label %r" % value
        cur.execute("SELECT id FROM sec.rows WHERE label LIKE %s ESCAPE ''", (value,))
        got = [r[0] for r in cur.fetchall()]
        # LIKE with the value as a pattern (no escape character): the row
        # itself always matches (its own % and _ match themselves)
        assert i in got, "LIKE %r" % value
        cur.execute("SELECT id FROM sec.rows WHERE label IN (%s, 'plain') ORDER BY id", (value,))
        assert i in [r[0] for r in cur.fetchall()], "IN %r" % value
    sent = [r for r in emulator.requests(service="athena", operation="StartQueryExecution")
            if r["time"] >= started]
    pushed = [r["input"]["QueryString"] for r in sent]
    # the conditions really went to Athena (else this proves nothing)
    assert sum(1 for q in pushed if "label" in q and "WHERE" in q.upper()) >= len(INJECTION_CORPUS)
    record("security", "literal injection corpus pushed to Athena",
           [], "quoted", "%d values x 3 forms, %d queries" % (len(INJECTION_CORPUS), len(pushed)))


def test_identifiers_cannot_break_out_of_their_quoting(setup, db, emulator):
    cur = db.cursor()
    for i, name in enumerate(IDENT_CORPUS):
        col = sql.Identifier("c%d" % i)
        cur.execute(sql.SQL("SELECT id, {} FROM sec.idents WHERE {} = %s").format(col, col),
                    ("v:" + name,))
        assert cur.fetchall() == [(1, "v:" + name)], name
    record("security", "identifier injection corpus pushed to Athena",
           [], "quoted", "%d column names" % len(IDENT_CORPUS))


# ---------------------------------------------------------------- ownership


def test_only_the_owner_of_a_pipeline_may_manage_it(setup, db):
    """EXECUTE on the functions is not enough: pause, resume, drop and
    skip_trimmed_gap need the pipeline's owner, a member of it or a superuser."""
    cur = db.cursor()
    cur.execute("DROP ROLE IF EXISTS sec_carol")
    cur.execute("CREATE ROLE sec_carol LOGIN IN ROLE sec_alice")
    cur.execute("GRANT EXECUTE ON FUNCTION audit_fdw.pause_pipeline(text), "
                "audit_fdw.resume_pipeline(text), audit_fdw.drop_pipeline(text, boolean), "
                "audit_fdw.skip_trimmed_gap(text, text) TO sec_alice, sec_bob, sec_carol")
    cur.execute("DELETE FROM audit_fdw.pipeline WHERE name = 'sec_owned'")
    cur.execute("""INSERT INTO audit_fdw.pipeline (name, server_name, owner, source_table,
        stream_arn, delivery_stream, state) VALUES ('sec_owned', %s, 'sec_alice'::regrole,
        'T', 'arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/2024-01-01T00:00:00.000',
        'd', 'paused')""", (SERVER,))
    try:
        conn, bob = as_role("sec_bob")
        for stmt in ("SELECT audit_fdw.pause_pipeline('sec_owned')",
                     "SELECT audit_fdw.resume_pipeline('sec_owned')",
                     "SELECT audit_fdw.skip_trimmed_gap('sec_owned')",
                     "SELECT audit_fdw.drop_pipeline('sec_owned')",
                     "SELECT audit_fdw.drop_pipeline('sec_owned', if_exists => true)"):
            with pytest.raises(psycopg2.Error) as e:
                bob.execute(stmt)
            assert e.value.pgcode == "42501", stmt
            assert "must be the owner of pipeline" in e.value.pgerror
            assert 'belongs to role "sec_alice"' in e.value.pgerror
        conn.close()
        cur.execute("SELECT state FROM audit_fdw.pipeline WHERE name = 'sec_owned'")
        assert cur.fetchone() == ("paused",)
        # a member of the owning role may, and so may the owner
        conn, carol = as_role("sec_carol")
        carol.execute("SELECT audit_fdw.pause_pipeline('sec_owned')")
        carol.execute("SELECT audit_fdw.skip_trimmed_gap('sec_owned')")
        assert carol.fetchone() == (0,)
        conn.close()
        conn, alice = as_role("sec_alice")
        alice.execute("SELECT audit_fdw.drop_pipeline('sec_owned')")
        conn.close()
        cur.execute("SELECT count(*) FROM audit_fdw.pipeline WHERE name = 'sec_owned'")
        assert cur.fetchone() == (0,)
    finally:
        cur.execute("DELETE FROM audit_fdw.pipeline WHERE name = 'sec_owned'")
        cur.execute("REVOKE EXECUTE ON FUNCTION audit_fdw.pause_pipeline(text), "
                    "audit_fdw.resume_pipeline(text), audit_fdw.drop_pipeline(text, boolean), "
                    "audit_fdw.skip_trimmed_gap(text, text) FROM sec_alice, sec_bob, sec_carol")
        cur.execute("DROP ROLE IF EXISTS sec_carol")
    record("security", "only a pipeline's owner manages it", [], "refused", "5 statements")


# ---------------------------------------------------------------- query log


def test_the_query_log_shows_no_other_users_sql(setup, db):
    """query_log filters rows per user as a security barrier: neither a failing
    cast nor a leaky function of the caller's sees another user's query."""
    secret_sql = "SELECT 'bob must not see this' FROM orders"
    cur = db.cursor()
    cur.execute("DELETE FROM audit_fdw.query_log_entries WHERE query_id LIKE 'sec-leak-%'")
    cur.execute("""INSERT INTO audit_fdw.query_log_entries VALUES
        (now(), 'postgres', %s, 'x', 'sec-leak-1', %s, 1, 1, 1, 0, 'csv', false),
        (now(), 'sec_bob', %s, 'x', 'sec-leak-2', '42', 1, 1, 1, 0, 'csv', false)""",
                (SERVER, secret_sql, SERVER))
    conn, bob = as_role("sec_bob")
    try:
        # a cast that would fail on the other user's text (its error message
        # would quote it) never sees that text: bob's own row casts fine
        try:
            bob.execute("SELECT query_id FROM audit_fdw.query_log WHERE athena_sql::int = 42 "
                        "AND query_id LIKE 'sec-leak-%'")
        except psycopg2.Error as e:
            assert "bob must not see" not in (e.pgerror or "")
            raise
        assert bob.fetchall() == [("sec-leak-2",)]
    finally:
        conn.close()
    conn, bob = as_role("sec_bob")
    conn.autocommit = True
    try:
        # a leaky function, made cheaper than anything in the view's filter
        bob.execute("""CREATE FUNCTION pg_temp.leak(t text) RETURNS boolean LANGUAGE plpgsql
            COST 0.0000001 AS $$ BEGIN RAISE NOTICE 'leak: %', t; RETURN true; END $$""")
        bob.execute("SELECT query_id FROM audit_fdw.query_log "
                    "WHERE pg_temp.leak(athena_sql) AND query_id LIKE 'sec-leak-%'")
        assert bob.fetchall() == [("sec-leak-2",)]
        notices = " ".join(conn.notices)
        assert "leak: 42" in notices
        assert "bob must not see" not in notices
    finally:
        conn.close()
        cur.execute("DELETE FROM audit_fdw.query_log_entries WHERE query_id LIKE 'sec-leak-%'")
    record("security", "query_log hides other users' SQL", [], "hidden", "cast and leaky function")


# ---------------------------------------------------------------- options that reach URLs


class ConnectionRecorder:
    """A TCP listener on another loopback address: the host that a hostile
    option value names.  It counts the connections it is sent."""

    def __init__(self, host="127.0.0.2"):
        import socket
        import threading
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.host, self.port = self.sock.getsockname()
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.connections += 1
                c.close()
            except OSError:
                continue

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


HOSTILE_PIECES = ["@", "/", ":", "#", "%", "\\", " ", "\t", "\u00e9", "\u0130", "?"]


def hostile_values(recorder):
    target = f"{recorder.host}:{recorder.port}"
    values = [f"x@{target}/", f"us-east-1@{target}", f"{target}/", f"us-east-1.{target}"]
    values += [f"us-east-1{p}{target}" for p in HOSTILE_PIECES]
    values += [f"us{p}east-1" for p in HOSTILE_PIECES]
    return values


def test_region_workgroup_and_buckets_reject_what_could_change_a_host(setup):
    """A non-superuser who owns a server cannot point its requests at another
    host through region (the 1.0 hole), workgroup or an S3 bucket."""
    recorder = ConnectionRecorder()
    conn, cur = as_role("sec_alice")
    conn.autocommit = True
    refused = 0
    try:
        cur.execute("DROP SERVER IF EXISTS sec_alice_server CASCADE")
        cur.execute("CREATE SERVER sec_alice_server FOREIGN DATA WRAPPER audit_fdw")
        for value in hostile_values(recorder):
            cases = [("region", value), ("workgroup", value)]
            if "/" not in value.rstrip("/"):
                # a '/' ends the bucket: what follows is the key prefix
                cases.append(("output_location", "s3://" + value.rstrip("/") + "/results/"))
            for option, shaped in cases:
                for stmt in (sql.SQL("CREATE SERVER sec_hostile FOREIGN DATA WRAPPER audit_fdw "
                                     "OPTIONS ({} {})"),
                             sql.SQL("ALTER SERVER sec_alice_server OPTIONS (ADD {} {})")):
                    with pytest.raises(psycopg2.Error) as e:
                        cur.execute(stmt.format(sql.Identifier(option), sql.Literal(shaped)))
                    assert e.value.pgcode == "HV024", (option, shaped, e.value.pgerror)
                    refused += 1
        err = e.value.diag
        assert err.message_detail and err.message_hint
        # and the names AWS uses are accepted
        cur.execute("ALTER SERVER sec_alice_server OPTIONS (ADD region 'us-east-1')")
        for region in ("eu-central-2", "cn-north-1", "us-gov-west-1", "il-central-1"):
            cur.execute("ALTER SERVER sec_alice_server OPTIONS (SET region %s)", (region,))
        cur.execute("ALTER SERVER sec_alice_server OPTIONS (ADD workgroup 'Team_A.prod-1', "
                    "ADD output_location 's3://my.results-bucket/athena/')")
        cur.execute("DROP SERVER sec_alice_server")
    finally:
        cur.execute("DROP SERVER IF EXISTS sec_hostile CASCADE")
        conn.close()
        recorder.close()
    assert recorder.connections == 0
    record("security", "region/workgroup/bucket cannot name another host", [], "refused",
           "%d statements" % refused)


def test_a_stored_hostile_region_sends_nothing(setup, db):
    """A server whose region predates the check (restored from 1.0, say) is
    refused when a request is built, before anything is sent."""
    recorder = ConnectionRecorder()
    cur = db.cursor()
    try:
        cur.execute("DROP SERVER IF EXISTS sec_stored CASCADE")
        cur.execute("CREATE SERVER sec_stored FOREIGN DATA WRAPPER audit_fdw "
                    "OPTIONS (region 'us-east-1', database 'd', "
                    "output_location 's3://sec-results/q/')")
        cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER sec_stored "
                    "OPTIONS (access_key_id 'AKIDEXAMPLE', secret_access_key 'x')")
        cur.execute("CREATE FOREIGN TABLE sec.stored (id integer) SERVER sec_stored "
                    "OPTIONS (\"table\" 'rows')")
        hostile = f"x@{recorder.host}:{recorder.port}/"
        cur.execute("UPDATE pg_foreign_server SET srvoptions = "
                    "array_replace(srvoptions, 'region=us-east-1', %s) "
                    "WHERE srvname = 'sec_stored'", ("region=" + hostile,))
        for stmt in ("SELECT * FROM sec.stored",
                     "SELECT * FROM audit_fdw.aws_identity('sec_stored')"):
            with pytest.raises(psycopg2.Error) as e:
                cur.execute(stmt)
            assert e.value.pgcode == "HV024", e.value.pgerror
            assert "invalid AWS region" in e.value.pgerror
    finally:
        cur.execute("DROP SERVER IF EXISTS sec_stored CASCADE")
        recorder.close()
    assert recorder.connections == 0


def test_names_that_travel_in_bodies_never_reach_a_url(setup, db, emulator):
    """catalog, database and table names go into JSON bodies and Athena SQL,
    never into a URL: whatever they hold, every request goes to the server's
    own host."""
    recorder = ConnectionRecorder()
    cur = db.cursor()
    answered = 0
    try:
        for value in hostile_values(recorder):
            for server_opt, table_opt in ((("catalog", value),), ()), \
                                         ((("database", value),), ()), \
                                         ((), (("database", value),)), \
                                         ((), (("table", value),)):
                cur.execute("DROP SERVER IF EXISTS sec_bodies CASCADE")
                opts = [("region", "us-east-1"), ("endpoint", emulator.url),
                        ("output_location", "s3://sec-results/q/"),
                        ("poll_initial_ms", "10")] + list(server_opt)
                cur.execute(sql.SQL("CREATE SERVER sec_bodies FOREIGN DATA WRAPPER audit_fdw "
                                    "OPTIONS ({})").format(sql.SQL(", ").join(
                                        sql.SQL("{} {}").format(sql.Identifier(k), sql.Literal(v))
                                        for k, v in opts)))
                cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER sec_bodies "
                            "OPTIONS (access_key_id 'test', secret_access_key 'test')")
                topts = [("table", "rows")] + [o for o in table_opt if o[0] != "table"] + \
                    [o for o in table_opt if o[0] == "table"]
                topts = dict(topts)
                cur.execute(sql.SQL("CREATE FOREIGN TABLE sec.bodies (id integer) "
                                    "SERVER sec_bodies OPTIONS ({})").format(
                    sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(k), sql.Literal(v))
                                       for k, v in topts.items())))
                try:
                    cur.execute("SELECT * FROM sec.bodies")
                    answered += 1
                except psycopg2.Error as e:
                    # the emulator refuses the name or finds no such table:
                    # an AWS error, with its request id, from the server's own host
                    assert "request id" in (e.pgerror or "") or \
                        re.search(r"Athena query [0-9a-f-]{36} failed", e.pgerror), e.pgerror
                    answered += 1
        assert answered == 4 * len(hostile_values(recorder))
        assert recorder.connections == 0
    finally:
        cur.execute("DROP SERVER IF EXISTS sec_bodies CASCADE")
        recorder.close()
