"""Backups: pg_dump -Fc of a database with a running pipeline, pg_restore into
a new database, the pump pointed at it: the pipeline, its options and its
checkpoints came back, and the pump resumes from the checkpoints (nothing
sent again from TRIM_HORIZON).
"""
import collections
import os
import subprocess
import uuid

import pytest

from conftest import connect
from pump_env import PumpEnv, wait_for


def pg_bin(name):
    bindir = "/usr/lib/postgresql/15/bin"
    if os.environ.get("PG_CONFIG"):
        bindir = subprocess.check_output([os.environ["PG_CONFIG"], "--bindir"], text=True).strip()
    return os.path.join(bindir, name)


@pytest.fixture
def databases(db):
    names = []

    def make():
        name = "pumpbackup_" + uuid.uuid4().hex[:8]
        with db.cursor() as cur:
            cur.execute("CREATE DATABASE " + name)
        names.append(name)
        return name

    with db.cursor() as cur:
        cur.execute("SHOW audit_fdw.database")
        pumped = cur.fetchone()[0]
    yield make
    with db.cursor() as cur:
        cur.execute("ALTER SYSTEM SET audit_fdw.database = %s", (pumped,))
        cur.execute("SELECT pg_reload_conf()")
        for name in names:
            cur.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)


def pump_database(db, name):
    with db.cursor() as cur:
        cur.execute("ALTER SYSTEM SET audit_fdw.database = %s", (name,))
        cur.execute("SELECT pg_reload_conf()")


PIPELINE = ("SELECT name, server_name, owner, source_table, stream_arn, delivery_stream, "
            "starting_position, batch_size, max_batching_window, on_trimmed_gap, state "
            "FROM audit_fdw.pipeline ORDER BY name")
CHECKPOINT = ("SELECT pipeline, shard_id, parent_shard_id, state, initial, sequence_number, "
              "records_delivered FROM audit_fdw.checkpoint ORDER BY 1, 2")


def rows(conn, query):
    with conn.cursor() as cur:
        cur.execute(query)
        return cur.fetchall()


def test_dump_and_restore_keep_pipelines_and_checkpoints(db, emulator, databases, tmp_path):
    src_name = databases()
    src = connect(src_name)
    env = PumpEnv(src, emulator, "backup", batch_size=7)
    pump_database(db, src_name)
    items = ["b%02d" % i for i in range(30)]
    for i in items:
        env.put(i, "OPEN")
    env.wait_delivered(30)
    # a dead letter comes back too
    with src.cursor() as cur:
        cur.execute("INSERT INTO audit_fdw.dead_letter (pipeline, shard_id, sequence_number, "
                    "reason, record_bytes, record) VALUES (%s, 's', '1', 'test', 2, '{}')",
                    (env.name,))
    # the pump stops reading the source database before the dump
    pump_database(db, "postgres")
    wait_for("readers to stop", lambda: env.reader_pids() == [], timeout=30)
    pipeline_before = rows(src, PIPELINE)
    checkpoint_before = rows(src, CHECKPOINT)
    assert checkpoint_before and all(r[5] for r in checkpoint_before)

    dump = str(tmp_path / "backup.dump")
    subprocess.run([pg_bin("pg_dump"), "-Fc", "-f", dump, src_name], check=True)
    dst_name = databases()
    subprocess.run([pg_bin("pg_restore"), "--exit-on-error", "-d", dst_name, dump], check=True)
    src.close()

    dst = connect(dst_name)
    assert rows(dst, PIPELINE) == pipeline_before
    assert rows(dst, CHECKPOINT) == checkpoint_before
    assert rows(dst, "SELECT reason FROM audit_fdw.dead_letter") == [("test",)]
    # the restored sequence goes on after the restored ids
    with dst.cursor() as cur:
        cur.execute("INSERT INTO audit_fdw.dead_letter (pipeline, shard_id, sequence_number, "
                    "reason, record_bytes, record) VALUES (%s, 's', '2', 'test', 2, '{}') "
                    "RETURNING id", (env.name,))
        assert cur.fetchone()[0] > 1

    # the pump on the restored database resumes from its checkpoints
    env.db = dst
    pump_database(db, dst_name)
    for i in items:
        env.update_state(i, "RESTORED")
    env.wait_delivered(60, timeout=90)
    recs = env.audit_records()
    counts = collections.Counter(r["event_id"] for r in recs)
    assert len(counts) == 60
    assert max(counts.values()) == 1, "sent again after the restore: %d" % (
        sum(n - 1 for n in counts.values()))
    for i in items[:5]:
        assert [r["new_image"]["state"] for r in recs if r["keys"]["orderId"] == i] == \
            ["OPEN", "RESTORED"]
    dst.close()
