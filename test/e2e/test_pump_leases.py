"""One reader per (pipeline, shard) through restarts: the launcher killed,
audit_fdw.database changed and changed back, readers killed, pause and resume
in quick succession.  Each test counts the copies of every change in S3.
"""
import collections
import time


from pump_env import pump, pg_log_since, pg_log_size, wait_for  # noqa: F401 (pump: a fixture)


def backend_pid(db, backend_type):
    with db.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = %s", (backend_type,))
        row = cur.fetchone()
        return row[0] if row else None


def launcher_pid(db):
    return backend_pid(db, "audit_fdw pump launcher")


def copies(env):
    """event_id -> number of copies in S3."""
    return collections.Counter(r["event_id"] for r in env.audit_records())


def write_round(env, items, state):
    for i in items:
        env.update_state(i, state)


def steady_state_copies(env, items, rounds_before, settle=3):
    """After the faults: one more round of changes must arrive exactly once."""
    time.sleep(settle)
    before = copies(env)
    write_round(env, items, "STEADY")
    total = len(before) + len(items)
    wait_for("steady round delivered", lambda: len(copies(env)) >= total, timeout=60)
    time.sleep(1.5)
    after = copies(env)
    new = {e: n for e, n in after.items() if e not in before}
    return new


def test_launcher_killed_leaves_one_reader_per_shard(pump, db):
    env = pump("lkill")
    items = ["k%02d" % i for i in range(20)]
    for i in items:
        env.put(i, "OPEN")
    env.wait_delivered(20)
    env.wait_readers()

    old = launcher_pid(db)
    with db.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (old,))
    # the postmaster restarts the launcher after 2 s
    wait_for("a new launcher", lambda: launcher_pid(db) not in (None, old), timeout=30)
    # time for it to start readers it should not; then (a slow machine may
    # still be starting one again) exactly the readers wanted
    time.sleep(3)
    env.wait_readers("the readers after the launcher restarted")
    new = steady_state_copies(env, items, 1)
    assert len(new) == 20
    assert sorted(set(new.values())) == [1], "copies per change: %r" % collections.Counter(new.values())


def test_database_reload_leaves_one_reader_per_shard(pump, db):
    env = pump("dbreload")
    items = ["r%02d" % i for i in range(20)]
    for i in items:
        env.put(i, "OPEN")
    env.wait_delivered(20)
    env.wait_readers()
    with db.cursor() as cur:
        cur.execute("SHOW audit_fdw.database")
        good = cur.fetchone()[0]
        offset = pg_log_size()
        cur.execute("ALTER SYSTEM SET audit_fdw.database = 'no_such_database'")
        cur.execute("SELECT pg_reload_conf()")
        try:
            time.sleep(8)
        finally:
            cur.execute("ALTER SYSTEM SET audit_fdw.database = %s", (good,))
            cur.execute("SELECT pg_reload_conf()")
    log = pg_log_since(offset)
    # a missing database is reported once, not in a loop of FATALs
    assert log.count('database "no_such_database" does not exist') <= 1, log
    assert "FATAL" not in log, log
    wait_for("a launcher", lambda: launcher_pid(db), timeout=20)
    time.sleep(5)
    env.wait_readers("the readers after the reload")
    new = steady_state_copies(env, items, 1)
    assert len(new) == 20
    assert sorted(set(new.values())) == [1], "copies per change: %r" % collections.Counter(new.values())


def supervisor_pid(db):
    return backend_pid(db, "audit_fdw pump supervisor")


def shard_lease_holders(db):
    """(field2, field3) of every shard lease -> number of holders (pg_locks)."""
    with db.cursor() as cur:
        cur.execute("SELECT classid::bigint, objid::bigint, count(*) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objsubid = %s AND granted "
                    "GROUP BY 1, 2", (0xAF03,))
        return {(r[0], r[1]): r[2] for r in cur.fetchall()}


def test_kill_and_reload_loop_delivers_each_change_once(pump, db, emulator):
    """Kills the launcher, the supervisor and readers, reloads, pauses and
    resumes in a loop while changes flow; afterwards nothing is lost and a
    new round of changes arrives exactly once."""
    emulator.configure(stream_initial_shards=4)
    try:
        env = pump("loop")
    finally:
        emulator.configure(stream_initial_shards=1)
    items = ["l%02d" % i for i in range(40)]
    for i in items:
        env.put(i, "OPEN")
    env.wait_delivered(40)
    env.wait_readers()

    writes = 40
    faults = ["launcher", "reader", "reload", "supervisor", "pause_resume", "reader"]
    with db.cursor() as cur:
        for rnd, fault in enumerate(faults * 2):
            write_round(env, items, "R%d" % rnd)
            writes += len(items)
            if fault == "launcher":
                cur.execute("SELECT pg_terminate_backend(%s)", (launcher_pid(db),))
            elif fault == "supervisor":
                cur.execute("SELECT pg_terminate_backend(%s)", (supervisor_pid(db),))
            elif fault == "reader":
                pids = env.reader_pids()
                if pids:
                    cur.execute("SELECT pg_terminate_backend(%s)", (pids[0],))
            elif fault == "reload":
                cur.execute("SELECT pg_reload_conf()")
            elif fault == "pause_resume":
                cur.execute("SELECT audit_fdw.pause_pipeline(%s)", (env.name,))
                cur.execute("SELECT audit_fdw.resume_pipeline(%s)", (env.name,))
            write_round(env, items, "S%d" % rnd)
            writes += len(items)
            time.sleep(0.7)
            # never two holders of one shard's lease
            assert all(n == 1 for n in shard_lease_holders(db).values())

    wait_for("every change in S3", lambda: len(copies(env)) >= writes, timeout=120)
    got = copies(env)
    assert len(got) == writes, "lost: %d" % (writes - len(got))
    dups = sum(n - 1 for n in got.values())
    print("duplicates during the faults: %d of %d changes" % (dups, writes))
    env.wait_readers(timeout=30)
    new = steady_state_copies(env, items, 1)
    assert len(new) == len(items)
    assert sorted(set(new.values())) == [1], "copies per change: %r" % collections.Counter(new.values())
    # each item's changes arrive in order (first copies)
    seen = {}
    for r in env.audit_records():
        if r["event_id"] in seen:
            continue
        seen[r["event_id"]] = int(r["sequence_number"])
    per_item = collections.defaultdict(list)
    for r in env.audit_records():
        if seen.get(r["event_id"]) is not None:
            per_item[r["keys"]["orderId"]].append(seen.pop(r["event_id"]))
    for i, seqs in per_item.items():
        assert seqs == sorted(seqs), i
