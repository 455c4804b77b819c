"""Fixtures shared by the end-to-end tests.

test/run starts a private PostgreSQL cluster (PGHOST/PGPORT/PGDATABASE in the
environment) with audit_fdw preloaded, and the AWS emulator
(AUDIT_FDW_EMULATOR_URL).
"""
import os
import sys
import threading
import time

import psycopg2
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from emulator_control import Emulator  # noqa: E402


@pytest.fixture(scope="session")
def emulator():
    return Emulator()


def connect(dbname=None, **kw):
    conn = psycopg2.connect(dbname=dbname or os.environ.get("PGDATABASE", "audit"), **kw)
    conn.autocommit = True
    return conn


@pytest.fixture
def db():
    conn = connect()
    yield conn
    conn.close()


def cancel_during(vcur, sql, ready, timeout=60):
    """Runs sql on vcur in a thread, cancels it (pg_cancel_backend) once
    ready() is true, and returns the error raised and the seconds from the
    cancel to the return.  ready() says the statement is in the wait the
    test is about (a condition, never a guess of how long getting there
    takes); it failing to come true within timeout, or the statement ending
    before it does, fails the test."""
    vcur.execute("SELECT pg_backend_pid()")
    pid = vcur.fetchone()[0]
    result = {}

    def run():
        try:
            vcur.execute(sql)
        except psycopg2.Error as e:
            result["error"] = e
        result["done"] = time.monotonic()

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + timeout
    was_ready = False
    while t.is_alive() and time.monotonic() < deadline:
        if ready():
            was_ready = True
            break
        time.sleep(0.05)
    ctl = connect()
    ctl.cursor().execute("SELECT pg_cancel_backend(%s)", (pid,))
    cancelled_at = time.monotonic()
    t.join(10)
    ctl.close()
    assert was_ready, "the statement %s before it was ready to be cancelled: %r" % (
        "ended" if "done" in result else "was not %ss later" % timeout, result.get("error"))
    assert "done" in result
    return result.get("error"), result["done"] - cancelled_at


def held(predicate, seconds):
    """A ready() for cancel_during: true once predicate() has been true
    (once) at least `seconds` ago."""
    seen = []

    def ready():
        if not seen:
            if not predicate():
                return False
            seen.append(time.monotonic())
        return time.monotonic() - seen[0] >= seconds
    return ready
