"""Failover for real: a primary with audit_fdw and a streaming standby made
with pg_basebackup, on this machine, beside the test cluster.  Changes flow,
the primary is stopped with -m immediate, the standby is promoted, and the
pump on the new primary resumes from the replicated checkpoints: nothing is
lost; the duplicates (records the old primary had sent whose checkpoint had
not reached the standby) are counted and reported.  Before its promotion the
standby runs no pump.
"""
import collections
import os
import shutil
import subprocess
import threading
import time

import psycopg2
import pytest

from conftest import connect
from pump_env import PumpEnv, wait_for
from test_pump_soak import stream_truth

DB = "failover"


def bindir():
    return subprocess.check_output([os.environ["PG_CONFIG"], "--bindir"], text=True).strip()


def as_postgres(*args, check=True):
    cmd = list(args)
    if os.getuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    return subprocess.run(cmd, check=check, cwd="/", stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)


class Node:
    def __init__(self, base, name, port):
        self.data = os.path.join(base, name)
        self.log = os.path.join(base, name + ".log")
        self.port = port

    def ctl(self, *args, check=True):
        return as_postgres(os.path.join(bindir(), "pg_ctl"), "-D", self.data, "-l", self.log,
                           "-w", "-t", "60", *args, check=check)

    def connect(self, dbname=DB):
        conn = psycopg2.connect(host=os.environ["PGHOST"], port=self.port, user="postgres",
                                dbname=dbname)
        conn.autocommit = True
        return conn

    def pump_backends(self):
        conn = self.connect("postgres")
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM pg_stat_activity "
                    "WHERE backend_type LIKE 'audit_fdw pump%'")
        n = cur.fetchone()[0]
        conn.close()
        return n


@pytest.fixture
def nodes():
    base = os.path.join(os.environ["AUDIT_FDW_PG_DIR"], "failover")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    if os.getuid() == 0:
        shutil.chown(base, "postgres")
    port = int(os.environ["PGPORT"])
    primary = Node(base, "primary", port + 7)
    standby = Node(base, "standby", port + 8)
    yield primary, standby
    for node in (primary, standby):
        if os.path.exists(os.path.join(node.data, "postmaster.pid")):
            node.ctl("-m", "immediate", "stop", check=False)
    shutil.rmtree(base, ignore_errors=True)


def setup_pair(primary, standby):
    """A primary with audit_fdw pumping database DB, and its streaming standby."""
    as_postgres(os.path.join(bindir(), "initdb"), "-D", primary.data, "-U", "postgres",
                "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8")
    with open(os.path.join(primary.data, "postgresql.conf"), "a") as f:
        f.write("port = %d\nlisten_addresses = ''\nunix_socket_directories = '%s'\n"
                "shared_preload_libraries = 'audit_fdw'\naudit_fdw.database = '%s'\n"
                "wal_level = replica\nmax_wal_senders = 4\nmax_worker_processes = 16\n"
                "log_line_prefix = '%%m [%%p] %%q%%a '\n"
                % (primary.port, os.environ["PGHOST"], DB))
    primary.ctl("start")
    c = primary.connect("postgres")
    c.cursor().execute("CREATE DATABASE " + DB)
    c.close()
    # a fast checkpoint: a spread one paces its few buffers at one a tenth
    # of a second (about 100 s here)
    as_postgres(os.path.join(bindir(), "pg_basebackup"), "-D", standby.data, "-R", "-X", "stream",
                "--checkpoint=fast",
                "-h", os.environ["PGHOST"], "-p", str(primary.port), "-U", "postgres")
    with open(os.path.join(standby.data, "postgresql.conf"), "a") as f:
        f.write("port = %d\n" % standby.port)
    standby.ctl("start")


def test_failover_to_a_promoted_standby_loses_nothing(nodes, emulator, capsys):
    primary, standby = nodes
    setup_pair(primary, standby)

    db = primary.connect()
    env = PumpEnv(db, emulator, "failover", max_batching_window="200 ms")
    items = ["f%02d" % i for i in range(40)]
    stop = threading.Event()
    written = [0]

    def writer():
        for i in items:
            env.put(i, "OPEN")
            written[0] += 1
        r = 0
        while not stop.is_set() and r < 15:
            for i in items:
                env.update_state(i, "S%d" % r)
                written[0] += 1
            r += 1

    t = threading.Thread(target=writer)
    t.start()
    wait_for("changes delivered by the primary", lambda: env.delivered() >= 200, timeout=120)
    # the standby has the pipeline and its checkpoints, and runs no pump
    assert standby.pump_backends() == 0
    sc = standby.connect()
    cur = sc.cursor()

    def replicated_checkpoints():
        cur.execute("SELECT count(*) FROM audit_fdw.checkpoint WHERE pipeline = %s", (env.name,))
        return cur.fetchone()[0]
    # (the standby replays asynchronously: a loaded machine's may be behind)
    wait_for("checkpoints on the standby", replicated_checkpoints, timeout=30)
    sc.close()

    delivered_at_crash = env.delivered()
    t_crash = time.time()
    primary.ctl("-m", "immediate", "stop")
    standby.ctl("promote")
    env.db = standby.connect()
    replicated = env.delivered()
    wait_for("the pump on the new primary", lambda: standby.pump_backends() >= 2, timeout=60)
    t.join()
    truth, _ = stream_truth(emulator, env.stream_arn)
    assert len(truth) == written[0]

    seen = {}

    def all_delivered():
        recs = env.audit_records()
        seen["recs"] = recs
        return {r["event_id"] for r in recs} >= set(truth)
    wait_for("every change in S3", all_delivered, timeout=180, interval=2)
    recovered = time.time() - t_crash
    recs = seen["recs"]
    counts = collections.Counter(r["event_id"] for r in recs)
    lost = len(set(truth) - set(counts))
    duplicates = sum(n - 1 for n in counts.values())
    resent = sum(r["records_resent"] or 0 for r in env.status())
    with capsys.disabled():
        print("\npump failover: %d changes, lost %d, %d duplicates (%d counted as resent); "
              "checkpoints at the crash covered %d records, %d on the standby; "
              "all in S3 %.1f s after the crash" % (
                  len(truth), lost, duplicates, resent, delivered_at_crash, replicated,
                  recovered))
    assert lost == 0
    # the duplicates are bounded by what the primary delivered whose
    # checkpoint the standby did not have, plus the batches then in flight
    assert duplicates <= (delivered_at_crash - replicated) + 2 * 500
    # per item, the first copies arrive in order
    first = {}
    for r in recs:
        first.setdefault(r["event_id"], r)
    per_item = collections.defaultdict(list)
    for eid in dict.fromkeys(r["event_id"] for r in recs):
        per_item[truth[eid][0]].append(truth[eid][1])
    assert all(seqs == sorted(seqs) for seqs in per_item.values())
    env.db.close()
