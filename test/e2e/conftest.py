"""Fixtures shared by the end-to-end tests.

test/run starts a private PostgreSQL cluster (PGHOST/PGPORT/PGDATABASE in the
environment) with audit_fdw preloaded, and the AWS emulator
(AUDIT_FDW_EMULATOR_URL).
"""
import os
import sys

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
