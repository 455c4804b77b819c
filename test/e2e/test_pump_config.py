"""Configuration changes reach running readers within seconds: ALTER USER
MAPPING (credential rotation), ALTER SERVER, and pause and resume however
close together.
"""
import time

import psycopg2.sql as sql

from pump_env import pump, wait_for  # noqa: F401 (pump: a fixture)


def set_secret(db, env, secret):
    with db.cursor() as cur:
        cur.execute(sql.SQL("ALTER USER MAPPING FOR CURRENT_USER SERVER {} "
                            "OPTIONS (SET secret_access_key {})").format(
            sql.Identifier(env.server), sql.Literal(secret)))


def test_a_rotated_secret_reaches_the_readers(pump, db):
    env = pump("rotate")
    env.put("r0", "OPEN")
    env.wait_delivered(1)
    pids = env.reader_pids()

    set_secret(db, env, "not-the-secret")
    row = wait_for("the readers to use the new secret",
                   lambda: [r for r in env.status() if r["health"] in ("failing", "retrying")],
                   timeout=15)[0]
    assert "InvalidSignatureException" in (row["last_error"] or "") or \
        "InvalidSignatureException" in str(row["errors_by_code"]), row
    env.put("r1", "OPEN")
    time.sleep(2)
    assert env.delivered() == 1

    set_secret(db, env, "test")
    env.wait_delivered(2, timeout=20)
    wait_for("ok", lambda: all(r["health"] == "ok" for r in env.status()), timeout=15)
    # no restart was needed
    assert sorted(env.reader_pids()) == sorted(pids)


def test_a_rotated_secret_reaches_a_reader_that_is_resending(pump, db, emulator):
    """A reader stuck resending a batch (Firehose failing) takes the rotated
    user mapping at its next attempt: a revoked key is not retried forever,
    and the batch goes out once with the new key, not twice."""
    env = pump("rotate_resend")
    env.put("s0", "OPEN")
    env.wait_delivered(1)

    def put_record_batch_errors(code):
        with db.cursor() as cur:
            cur.execute("SELECT coalesce(sum(count), 0) FROM audit_fdw.pump_error "
                        "WHERE pipeline = %s AND operation = 'PutRecordBatch' "
                        "AND code = %s", (env.name, code))
            return cur.fetchone()[0]
    # one request per attempt of the pump: no retries inside the AWS client,
    # whose attempts in flight would still carry the old key
    with db.cursor() as cur:
        cur.execute("ALTER SYSTEM SET audit_fdw.aws_max_retries = 0")
        cur.execute("SELECT pg_reload_conf()")
    try:
        emulator.add_fault(service="firehose", operation="PutRecordBatch",
                           error="ServiceUnavailableException")
        env.put("s1", "OPEN")
        wait_for("the reader resending",
                 lambda: put_record_batch_errors("ServiceUnavailableException") >= 2, timeout=30)
        # the secret changes while the reader is inside its resend loop: its
        # next attempt is signed with the new (wrong) secret, which the
        # emulator refuses before it gets to the fault; the old key would
        # still meet the fault
        set_secret(db, env, "not-the-secret")
        wait_for("PutRecordBatch refused for the new secret",
                 lambda: put_record_batch_errors("InvalidSignatureException") >= 1, timeout=30)
        emulator.clear_faults()
        time.sleep(1)
        assert env.delivered() == 1
    finally:
        with db.cursor() as cur:
            cur.execute("ALTER SYSTEM RESET audit_fdw.aws_max_retries")
            cur.execute("SELECT pg_reload_conf()")
    set_secret(db, env, "test")
    env.wait_delivered(2, timeout=30)
    wait_for("s1 in S3", lambda: len(env.audit_records()) >= 2, timeout=60)
    recs = env.audit_records()
    assert len(recs) == len({r["event_id"] for r in recs}) == 2, recs


def test_pause_and_resume_at_once_restart_the_readers(pump, db):
    env = pump("flip")
    env.put("f0", "OPEN")
    env.wait_delivered(1)
    env.wait_readers()
    for round_ in range(3):
        pids = set(env.reader_pids())
        with db.cursor() as cur:
            cur.execute("SELECT audit_fdw.pause_pipeline(%s)", (env.name,))
            cur.execute("SELECT audit_fdw.resume_pipeline(%s)", (env.name,))
        wait_for("new readers", lambda: len(env.reader_pids()) == env.readers_wanted() and
                 not (set(env.reader_pids()) & pids), timeout=20)
        env.update_state("f0", "S%d" % round_)
        env.wait_delivered(2 + round_, timeout=30)
    recs = env.audit_records()
    assert len(recs) == len({r["event_id"] for r in recs}) == 4
