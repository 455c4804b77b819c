"""The pump against the emulator: a pipeline moves a DynamoDB table's stream
into Firehose and S3; pause, resume and drop; iterator expiry; a trimmed
gap; a poison record; shard splits; who may manage pipelines.
"""
import time

import psycopg2
import pytest

from pump_env import pump, pg_log_since, system_settings, wait_for  # noqa: F401 (pump: a fixture)


def test_seed_scenario_order_101(pump):
    """Order 101: OPEN -> PICKEDUP -> DELIVERED -> RETURNED, four audit records in order."""
    env = pump("seed")
    env.put("101", "OPEN", customer={"S": "Ana"}, total={"N": "12345678901234567890.123456789"})
    for state in ["PICKEDUP", "DELIVERED", "RETURNED"]:
        env.update_state("101", state)
    env.wait_delivered(4)

    bodies = env.objects()
    assert len(bodies) == 1
    body = bodies[0].decode()
    # four newline-terminated records, nothing else
    assert body.count("\n") == 4 and body.endswith("}\n")
    recs = env.audit_records()
    assert [r["event_name"] for r in recs] == ["INSERT", "MODIFY", "MODIFY", "MODIFY"]
    assert [r["new_image"]["state"] for r in recs] == ["OPEN", "PICKEDUP", "DELIVERED", "RETURNED"]
    assert "old_image" not in recs[0]
    assert [r["old_image"]["state"] for r in recs[1:]] == ["OPEN", "PICKEDUP", "DELIVERED"]
    for r in recs:
        assert r["keys"] == {"orderId": "101"}
        assert r["source_table"] == env.table
        assert r["aws_region"] == "us-east-1"
        assert r["new_image"]["customer"] == "Ana"
        assert isinstance(r["sequence_number"], str) and len(r["sequence_number"]) >= 21
        assert len(r["event_time"]) == len("2024-01-15 16:44:27.000")
    # N keeps its exact digits, beyond what a float holds
    assert body.count('"total":12345678901234567890.123456789') == 7
    seqs = [int(r["sequence_number"]) for r in recs]
    assert seqs == sorted(seqs) and len(set(r["event_id"] for r in recs)) == 4

    status = env.status()
    assert len(status) == 1
    row = status[0]
    assert row["state"] == "reading" and row["pipeline_state"] == "running"
    assert row["records_delivered"] == 4 and row["records_read"] == 4
    assert row["records_dead_lettered"] == 0
    assert row["checkpoint_sequence_number"] == recs[-1]["sequence_number"]
    assert row["lag_seconds"] is not None and row["lag_seconds"] >= 0


def test_pause_and_resume(pump, emulator):
    env = pump("pause")
    for i in range(3):
        env.put("p%d" % i, "OPEN")
    env.wait_delivered(3)
    env.wait_readers()

    with env.db.cursor() as cur:
        cur.execute("SELECT audit_fdw.pause_pipeline(%s)", (env.name,))
    wait_for("readers to stop", lambda: env.reader_pids() == [], timeout=20)
    assert all(r["pipeline_state"] == "paused" and r["state"] == "paused" for r in env.status())
    for i in range(3):
        env.update_state("p%d" % i, "PICKEDUP")
    time.sleep(2)
    # no reader came back, nothing moved
    assert env.reader_pids() == []
    assert env.delivered() == 3
    assert all(r["records_read"] == r["records_delivered"] for r in env.status())

    with env.db.cursor() as cur:
        cur.execute("SELECT audit_fdw.resume_pipeline(%s)", (env.name,))
    env.wait_delivered(6)
    recs = env.audit_records()
    assert len(recs) == 6
    for i in range(3):
        mine = [r["new_image"]["state"] for r in recs if r["keys"]["orderId"] == "p%d" % i]
        assert mine == ["OPEN", "PICKEDUP"]

    with env.db.cursor() as cur:
        with pytest.raises(psycopg2.errors.UndefinedObject):
            cur.execute("SELECT audit_fdw.pause_pipeline('no_such_pipeline')")


def test_drop(pump, db):
    env = pump("drop")
    env.put("d1", "OPEN")
    env.wait_delivered(1)
    wait_for("readers", lambda: env.reader_pids(), timeout=20)
    with db.cursor() as cur:
        cur.execute("SELECT audit_fdw.drop_pipeline(%s)", (env.name,))
        wait_for("readers to exit", lambda: env.reader_pids() == [], timeout=20)
        cur.execute("SELECT count(*) FROM audit_fdw.checkpoint WHERE pipeline = %s", (env.name,))
        assert cur.fetchone()[0] == 0
        assert env.status() == []
        with pytest.raises(psycopg2.errors.UndefinedObject):
            cur.execute("SELECT audit_fdw.drop_pipeline(%s)", (env.name,))
        cur.execute("SELECT audit_fdw.drop_pipeline(%s, if_exists => true)", (env.name,))
    # the name can be used again, and the new pipeline starts over
    env.create_pipeline()
    env.put("d2", "OPEN")
    env.wait_delivered(2)


def test_create_pipeline_checks_its_arguments(pump, db):
    env = pump("args", create_pipeline=False)
    with db.cursor() as cur:
        with pytest.raises(psycopg2.errors.InvalidParameterValue):
            cur.execute("SELECT audit_fdw.create_pipeline('x', server => %s, delivery_stream => 'd')",
                        (env.server,))
        with pytest.raises(psycopg2.errors.InvalidParameterValue):
            cur.execute("SELECT audit_fdw.create_pipeline('x', server => %s, source_table => %s, "
                        "delivery_stream => 'd', starting_position => 'AT_TIMESTAMP')",
                        (env.server, env.table))
        with pytest.raises(psycopg2.errors.InvalidParameterValue):
            cur.execute("SELECT audit_fdw.create_pipeline('x', server => %s, source_table => %s, "
                        "delivery_stream => 'd', batch_size => 501)", (env.server, env.table))
        with pytest.raises(psycopg2.errors.InvalidName):
            cur.execute("SELECT audit_fdw.create_pipeline('a b', server => %s, source_table => %s, "
                        "delivery_stream => 'd')", (env.server, env.table))
        # a table the emulator does not have: DynamoDB's own error, now
        with pytest.raises(psycopg2.Error) as e:
            cur.execute("SELECT audit_fdw.create_pipeline('x', server => %s, source_table => 'Nope', "
                        "delivery_stream => 'd')", (env.server,))
        assert "ResourceNotFoundException" in str(e.value)
        # by stream ARN, the table's name comes from the stream
        cur.execute("SELECT audit_fdw.create_pipeline(%s, server => %s, stream_arn => %s, "
                    "delivery_stream => %s)", (env.name, env.server, env.stream_arn,
                                                env.delivery_stream))
        cur.execute("SELECT source_table, stream_arn FROM audit_fdw.pipeline WHERE name = %s",
                    (env.name,))
        assert cur.fetchone() == (env.table, env.stream_arn)
        with pytest.raises(psycopg2.errors.DuplicateObject) as e:
            cur.execute("SELECT audit_fdw.create_pipeline(%s, server => %s, source_table => %s, "
                        "delivery_stream => %s)", (env.name, env.server, env.table,
                                                   env.delivery_stream))
        # the hint says where to see it and how to drop it, with its name
        assert e.value.diag.message_hint == (
            "SELECT * FROM audit_fdw.pipeline_status WHERE pipeline = '%s' shows it; "
            "audit_fdw.drop_pipeline('%s') drops it, or choose another name." % (env.name, env.name))
        # a delivery stream that does not exist: refused now, with a hint
        with pytest.raises(psycopg2.errors.UndefinedObject) as e:
            cur.execute("SELECT audit_fdw.create_pipeline('x', server => %s, source_table => %s, "
                        "delivery_stream => 'nope-stream')", (env.server, env.table))
        assert 'Firehose delivery stream "nope-stream" does not exist' in str(e.value)
        assert e.value.diag.message_hint and "create_delivery_stream" in e.value.diag.message_hint
        # a second pipeline over the same stream only when asked for
        with pytest.raises(psycopg2.errors.DuplicateObject) as e:
            cur.execute("SELECT audit_fdw.create_pipeline('x', server => %s, source_table => %s, "
                        "delivery_stream => %s)", (env.server, env.table, env.delivery_stream))
        assert "already has pipeline \"%s\"" % env.name in str(e.value)
        assert "share_stream" in e.value.diag.message_hint
        cur.execute("SELECT audit_fdw.create_pipeline(%s, server => %s, source_table => %s, "
                    "delivery_stream => %s, share_stream => true)",
                    (env.name + "_2", env.server, env.table, env.delivery_stream))
        cur.execute("SELECT audit_fdw.drop_pipeline(%s)", (env.name + "_2",))
        # a disabled stream
        env.ddb.update_table(TableName=env.table, StreamSpecification={"StreamEnabled": False})
        with pytest.raises(psycopg2.errors.ObjectNotInPrerequisiteState) as e:
            cur.execute("SELECT audit_fdw.create_pipeline('y', server => %s, stream_arn => %s, "
                        "delivery_stream => %s, share_stream => true)",
                        (env.server, env.stream_arn, env.delivery_stream))
        assert "DISABLED" in str(e.value)


def test_managing_pipelines_needs_a_grant(pump, db):
    env = pump("grants", create_pipeline=False)
    with db.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS pump_analyst")
        cur.execute("CREATE ROLE pump_analyst LOGIN")
        cur.execute("GRANT USAGE ON SCHEMA audit_fdw TO pump_analyst")
        cur.execute("GRANT USAGE ON FOREIGN SERVER %s TO pump_analyst" % env.server)
        cur.execute("CREATE USER MAPPING FOR pump_analyst SERVER %s "
                    "OPTIONS (access_key_id 'test', secret_access_key 'test')" % env.server)
    try:
        user = psycopg2.connect(dbname=db.info.dbname, user="pump_analyst")
        user.autocommit = True
        with user.cursor() as cur:
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("SELECT audit_fdw.create_pipeline(%s, server => %s, source_table => %s, "
                            "delivery_stream => %s)", (env.name, env.server, env.table,
                                                        env.delivery_stream))
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("SELECT * FROM audit_fdw.checkpoint")
            # status is readable and shows no credential
            cur.execute("SELECT * FROM audit_fdw.pipeline_status")
            cols = [d[0] for d in cur.description]
            assert not any("key" in c or "secret" in c or "token" in c for c in cols)
        with db.cursor() as cur:
            cur.execute("GRANT EXECUTE ON FUNCTION audit_fdw.create_pipeline(text, text, text, text, "
                        "text, text, integer, interval, text, boolean, text, text[]), "
                        "audit_fdw.drop_pipeline(text, boolean) "
                        "TO pump_analyst")
        with db.cursor() as cur:
            cur.execute("DROP SCHEMA IF EXISTS pump_evil CASCADE")
            cur.execute("CREATE SCHEMA pump_evil AUTHORIZATION pump_analyst")
        with user.cursor() as cur:
            # an operator of the caller's, first on the search_path, must not run as superuser
            cur.execute("""
                CREATE FUNCTION pump_evil.eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
                BEGIN
                  ALTER ROLE pump_analyst SUPERUSER;
                  RETURN $1 OPERATOR(pg_catalog.=) $2;
                END $$""")
            cur.execute("CREATE OPERATOR pump_evil.= (leftarg = text, rightarg = text, "
                        "function = pump_evil.eq)")
            cur.execute("SET search_path = pump_evil, pg_catalog, public")
            cur.execute("SELECT audit_fdw.create_pipeline(%s, server => %s, source_table => %s, "
                        "delivery_stream => %s, max_batching_window => '100 ms')",
                        (env.name, env.server, env.table, env.delivery_stream))
            # the pipeline signs with its creator's user mapping
            env.put("g1", "OPEN")
            env.wait_delivered(1)
            # the DELETE compares names: the caller's operator must not be the one used
            cur.execute("SELECT audit_fdw.drop_pipeline(%s)", (env.name,))
            cur.execute("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = 'pump_analyst'")
            assert cur.fetchone()[0] is False
        user.close()
    finally:
        with db.cursor() as cur:
            cur.execute("DROP SCHEMA IF EXISTS pump_evil CASCADE")
            cur.execute("DROP OWNED BY pump_analyst CASCADE")
            cur.execute("DROP ROLE pump_analyst")


def test_expired_iterator_is_renewed_from_the_checkpoint(pump, emulator):
    env = pump("expiry")
    env.put("e1", "OPEN")
    env.put("e2", "OPEN")
    env.wait_delivered(2)
    checkpoint = env.status()[0]["checkpoint_sequence_number"]
    emulator.advance_clock(16 * 60)         # iterators live 15 minutes
    env.update_state("e1", "PICKEDUP")
    env.update_state("e2", "PICKEDUP")
    env.wait_delivered(4)

    expired = [r for r in emulator.requests(service="dynamodbstreams", operation="GetRecords")
               if "ExpiredIteratorException" in str(r)]
    assert expired, "GetRecords never saw an expired iterator"
    renewals = [r for r in emulator.requests(service="dynamodbstreams", operation="GetShardIterator")
                if "AFTER_SEQUENCE_NUMBER" in str(r) and checkpoint in str(r)]
    assert renewals, "the iterator was not renewed after the checkpoint"
    recs = env.audit_records()
    assert sorted((r["keys"]["orderId"], r["new_image"]["state"]) for r in recs) == [
        ("e1", "OPEN"), ("e1", "PICKEDUP"), ("e2", "OPEN"), ("e2", "PICKEDUP")]


def test_trimmed_gap_is_reported_and_stops_the_shard(pump, emulator, db):
    env = pump("gap")
    env.put("t1", "OPEN")
    env.put("t2", "OPEN")
    env.wait_delivered(2)
    first = env.status()[0]
    log_offset = env.trimmed_gap("t1", "t2")

    def stopped():
        rows = [r for r in env.status() if r["shard_id"] == first["shard_id"]]
        return rows and rows[0]["state"] == "stopped" and rows[0]
    row = wait_for("the shard to stop on the gap", stopped, timeout=30)
    assert row["gap_after_sequence_number"] == first["checkpoint_sequence_number"]
    assert "trimmed" in row["last_error"] and row["last_error_at"] is not None
    log = wait_for("the WARNING in the log",
                   lambda: "lost records of shard" in pg_log_since(log_offset) and pg_log_since(log_offset))
    assert "WARNING" in log and first["checkpoint_sequence_number"] in log

    # the shard's descendants hold later changes of the same items: they wait
    time.sleep(2)
    assert env.delivered() == 2
    waiting = [r for r in env.status() if r["state"] == "waiting for parent"]
    assert waiting and any(r["parent_shard_id"] == first["shard_id"] for r in waiting)

    # the user accepts the loss: the lineage goes on, the lost change never appears
    with db.cursor() as cur:
        cur.execute("SELECT audit_fdw.skip_trimmed_gap(%s)", (env.name,))
        assert cur.fetchone()[0] == 1
    env.wait_delivered(3)
    recs = env.audit_records()
    states = [(r["keys"]["orderId"], r["new_image"]["state"]) for r in recs]
    assert states == [("t1", "OPEN"), ("t2", "OPEN"), ("t2", "AFTER_GAP")]
    wait_for("no shard stopped", lambda: all(r["state"] != "stopped" for r in env.status()), timeout=30)


def test_poison_record_goes_to_the_dead_letter_table(pump, db):
    env = pump("poison")
    env.put("ok1", "OPEN")
    # 250,000 control characters: 1.5 MB once escaped in JSON, over Firehose's 1,000 KiB
    env.put("big", "OPEN", blob={"S": "\x01" * 250000})
    env.put("ok2", "OPEN")
    wait_for("two delivered and one dead letter",
             lambda: env.delivered() >= 2 and env.dead_lettered() >= 1, timeout=60)
    with db.cursor() as cur:
        cur.execute("SELECT shard_id, sequence_number, reason, record_bytes, record "
                    "FROM audit_fdw.dead_letter WHERE pipeline = %s", (env.name,))
        rows = cur.fetchall()
    assert len(rows) == 1
    shard_id, seq, reason, nbytes, record = rows[0]
    assert shard_id == env.status()[0]["shard_id"] and len(seq) >= 21
    assert "1,000 KiB" in reason and nbytes > 1000 * 1024 and len(record) == nbytes
    assert '"orderId":"big"' in record and record.endswith("\n")
    recs = env.audit_records()
    assert [r["keys"]["orderId"] for r in recs] == ["ok1", "ok2"]
    assert int(recs[0]["sequence_number"]) < int(seq) < int(recs[1]["sequence_number"])


def test_shard_split_children_after_parents(pump, emulator):
    env = pump("split")
    items = ["s%d" % i for i in range(20)]
    for i in items:
        env.put(i, "OPEN")
    env.wait_delivered(20)
    emulator.split_shard(env.stream_arn)
    for i in items:
        env.update_state(i, "PICKEDUP")
    emulator.split_shard(env.stream_arn)
    for i in items:
        env.update_state(i, "DELIVERED")
    env.wait_delivered(60, timeout=90)
    recs = env.audit_records()
    for i in items:
        assert [r["new_image"]["state"] for r in recs if r["keys"]["orderId"] == i] == \
            ["OPEN", "PICKEDUP", "DELIVERED"]
    status = env.status()
    assert len(status) >= 3
    parents = {r["parent_shard_id"] for r in status if r["parent_shard_id"]}
    assert parents and all(r["state"] == "drained" for r in status if r["shard_id"] in parents)


def test_a_drained_shard_the_stream_no_longer_lists_is_retired(pump, emulator, db):
    """A shard read to its end loses its row at the first discovery after
    DescribeStream stops listing it (24 h after it closed); its children,
    not drained, keep theirs."""
    with system_settings(db, pump_discovery_interval="200ms"):
        env = pump("retire")
        items = ["t%d" % i for i in range(5)]
        for i in items:
            env.put(i, "OPEN")
        env.wait_delivered(5)
        parent = env.status()[0]["shard_id"]
        emulator.split_shard(env.stream_arn)
        for i in items:
            env.update_state(i, "PICKEDUP")
        env.wait_delivered(10)
        wait_for("the parent drained", lambda: [
            r for r in env.status() if r["shard_id"] == parent and r["state"] == "drained"],
            timeout=30)
        children = {r["shard_id"] for r in env.status() if r["parent_shard_id"] == parent}
        assert len(children) == 2
        emulator.advance_clock(25 * 3600)
        wait_for("the parent's row retired",
                 lambda: parent not in {r["shard_id"] for r in env.status()}, timeout=30)
        # not drained: kept (the stream rolled over to new shards meanwhile)
        assert children <= {r["shard_id"] for r in env.status()}


def test_64_shards_read_in_parallel_and_reader_count_reloads(pump, emulator, db):
    emulator.configure(stream_initial_shards=64)
    try:
        env = pump("wide")
    finally:
        emulator.configure(stream_initial_shards=1)
    items = ["w%03d" % i for i in range(640)]
    for i in items:
        env.put(i, "OPEN")
    env.wait_delivered(640, timeout=120)
    status = env.status()
    assert len(status) == 64 and all(r["state"] == "reading" for r in status)
    assert sum(1 for r in status if r["records_delivered"] > 0) > 32
    wait_for("two readers", lambda: len(env.reader_pids()) == 2, timeout=20)

    # SIGHUP: a new reader count restarts the pipeline's readers with it
    with db.cursor() as cur:
        cur.execute("ALTER SYSTEM SET audit_fdw.pump_readers = 4")
        cur.execute("SELECT pg_reload_conf()")
    try:
        wait_for("four readers", lambda: len(env.reader_pids()) == 4, timeout=30)
        for i in items:
            env.update_state(i, "PICKEDUP")
        env.wait_delivered(1280, timeout=120)
    finally:
        with db.cursor() as cur:
            cur.execute("ALTER SYSTEM RESET audit_fdw.pump_readers")
            cur.execute("SELECT pg_reload_conf()")
    recs = env.audit_records()
    assert len({r["event_id"] for r in recs}) == 1280
    for i in items[:50]:
        assert [r["new_image"]["state"] for r in recs if r["keys"]["orderId"] == i] == \
            ["OPEN", "PICKEDUP"]


def open_shard_slot(env):
    """The slot of the pipeline's one shard not drained."""
    with env.db.cursor() as cur:
        cur.execute("SELECT (hashtext(shard_id)::bigint & 4294967295) "
                    "%% current_setting('audit_fdw.pump_readers')::int "
                    "FROM audit_fdw.checkpoint WHERE pipeline = %s AND state <> 'drained'",
                    (env.name,))
        rows = cur.fetchall()
        assert len(rows) == 1, rows
        return rows[0][0]


def test_readers_run_only_for_their_shards(pump, emulator, db):
    """Of audit_fdw.pump_readers, reader k runs only while a shard not
    drained hashes to slot k; the lowest such reader (reader 0 when there is
    none) discovers shards.  create_pipeline registers the stream's shards,
    so a stream of one shard has one reader, whichever its slot.  A shard
    that the discoverer registers for a slot without a reader is read at
    once: the discoverer wakes the supervisor, which here looks by itself
    only once a minute (audit_fdw.pump_naptime)."""
    with system_settings(db, pump_readers="8"):
        env = pump("lazy")
        slot = open_shard_slot(env)
        items = ["z%02d" % i for i in range(10)]
        for i in items:
            env.put(i, "OPEN")
        env.wait_delivered(10)
        env.wait_readers("the reader of the shard")
        assert env.reader_slots() == [slot]

    with system_settings(db, pump_readers="2", pump_naptime="60s"):
        # rollovers until one moves the stream from a shard of reader 0 to one
        # of reader 1 (a chance of 1 in 4 each)
        delivered = 10
        for rnd in range(30):
            env.wait_readers("the reader of the open shard", timeout=30)
            parent = open_shard_slot(env)
            emulator.split_shard(env.stream_arn, children=1)
            for i in items:
                env.update_state(i, "R%d" % rnd)
            delivered += len(items)
            env.wait_delivered(delivered, timeout=30)
            if parent == 0 and open_shard_slot(env) == 1:
                break
        else:
            pytest.fail("no rollover moved the stream from reader 0 to reader 1")
        recs = env.audit_records()
        assert len({r["event_id"] for r in recs}) == delivered


def nested_map(depth, leaf):
    value = {"S": leaf}
    for _ in range(depth):
        value = {"M": {"n": value}}
    return value


@pytest.fixture
def deep_items(emulator):
    """Items nested deeper than DynamoDB's 32 levels: what only a hostile or
    broken endpoint would send in a stream record."""
    emulator.configure(dynamodb_max_nesting=100)
    yield
    emulator.configure(dynamodb_max_nesting=32)


def test_a_63_levels_deep_record_is_delivered(pump, deep_items):
    """63 nested maps: deeper than the page reader used to read (it refused
    the whole GetRecords page and blocked the shard); within the transform's
    64 levels, so delivered."""
    env = pump("deep63")
    env.put("before", "OPEN")
    env.put("deep", "OPEN", doc=nested_map(63, "bottom"))
    env.put("after", "OPEN")
    env.wait_delivered(3)
    recs = env.audit_records()
    assert [r["keys"]["orderId"] for r in recs] == ["before", "deep", "after"]
    doc = recs[1]["new_image"]["doc"]
    for _ in range(63):
        doc = doc["n"]
    assert doc == "bottom"


def test_a_record_too_deep_to_read_is_a_dead_letter_and_never_blocks_its_shard(pump, db,
                                                                               deep_items):
    """70 nested maps: over the transform's limit; the record goes to the
    dead-letter table with its raw text and the records after it are
    delivered."""
    env = pump("deep70")
    env.put("before", "OPEN")
    env.put("deep", "OPEN", doc=nested_map(70, "bottom"))
    env.put("after", "OPEN")
    wait_for("two delivered and one dead letter",
             lambda: env.delivered() >= 2 and env.dead_lettered() >= 1, timeout=60)
    with db.cursor() as cur:
        cur.execute("SELECT sequence_number, event_id, reason, record "
                    "FROM audit_fdw.dead_letter WHERE pipeline = %s", (env.name,))
        rows = cur.fetchall()
    assert len(rows) == 1
    seq, event_id, reason, record = rows[0]
    assert '"bottom"' in record and '"deep"' in record
    assert event_id and len(seq) >= 21
    recs = env.audit_records()
    assert [r["keys"]["orderId"] for r in recs] == ["before", "after"]
    assert int(recs[0]["sequence_number"]) < int(seq) < int(recs[1]["sequence_number"])
    assert all(r["health"] == "ok" for r in env.status())
