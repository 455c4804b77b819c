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


def cancel_during(vcur, sql, ready):
    """Runs sql on vcur in a thread, cancels it (pg_cancel_backend) once
    ready() is true, and returns the error raised and the seconds from the
    cancel to the return."""
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
    deadline = time.monotonic() + 10
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.1)
    ctl = connect()
    ctl.cursor().execute("SELECT pg_cancel_backend(%s)", (pid,))
    cancelled_at = time.monotonic()
    t.join(10)
    ctl.close()
    assert "done" in result
    return result.get("error"), result["done"] - cancelled_at


def after(seconds):
    start = time.monotonic()
    return lambda: time.monotonic() - start >= seconds
