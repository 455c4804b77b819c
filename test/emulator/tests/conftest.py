"""Fixtures of the emulator's conformance suite: boto3 (the real AWS SDK)
against the emulator that test/run started (AUDIT_FDW_EMULATOR_URL).

Tests share one emulator, so every test names its buckets, tables and
streams uniquely (the `uid` fixture) and removes the faults it adds.
"""
import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))

from emulator_control import Emulator  # noqa: E402


@pytest.fixture(scope="session")
def emulator():
    emu = Emulator()
    yield emu
    # the suite advances the emulator's clock by days: leave the emulator as
    # it was started for the suites that follow
    emu.reset()


@pytest.fixture
def uid():
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def faults(emulator):
    """The control client, with every fault cleared after the test."""
    yield emulator
    emulator.clear_faults()


@pytest.fixture(scope="session")
def s3(emulator):
    return emulator.client("s3")


@pytest.fixture(scope="session")
def sts(emulator):
    return emulator.client("sts")
