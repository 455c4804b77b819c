"""Attribute folders on a real pipeline (the README's "Attribute folders";
src/pump/transform.c states the member): create_pipeline takes
folder_attribute and folder_values and checks them; the pump writes each
record's "attribute_folder" (the new image's declared string value, _other
for any other value, _none without one or without a new image);
create_delivery_stream routes on it through the emulator's Firehose dynamic
partitioning into .../HH/bucket/<folder>/, and create_audit_table's Glue
table reads the whole history back through Athena."""
import json
import os

import psycopg2
import pytest

from athena_tables import athena_server, ensure_buckets
from pump_env import PumpEnv, pg_log_since, pump, pumped_database, wait_for  # noqa: F401 (pump)

ROLE = "arn:aws:iam::000000000000:role/firehose"
VALUES = ["PLACED", "SHIPPED", "DELIVERED", "RETURNED"]


def folder_stream(cur, env, server, name, folders=True):
    """A delivery stream of env's bucket under folders/, by event hour, 16
    key buckets and (folders) the state's folder."""
    cur.execute("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, layout => 'event_time', "
                "key_buckets => 16, bucket_key => 'orderId', folder_attribute => %s)",
                (server, name, f"s3://{env.bucket}/folders/", ROLE,
                 "state" if folders else None))
    return cur.fetchone()[0]


@pytest.fixture
def env(pump, db):
    e = pump("folders", create_pipeline=False)
    e.folder_stream = e.name + "-folders"
    with db.cursor() as cur:
        assert folder_stream(cur, e, e.server, e.folder_stream) == "created"
    return e


def create(db, env, **args):
    """create_pipeline over env's folder stream with args; the error, or None."""
    args.setdefault("delivery_stream", env.folder_stream)
    with db.cursor() as cur:
        cur.execute("SELECT audit_fdw.drop_pipeline(%s, if_exists => true)", (env.name,))
    try:
        delivery, env.delivery_stream = env.delivery_stream, args.pop("delivery_stream")
        try:
            env.create_pipeline(**args)
        finally:
            env.delivery_stream = delivery
    except psycopg2.Error as e:
        return e
    return None


@pytest.mark.parametrize("args, code, message", [
    ({"folder_attribute": "state"}, "22023", 'folder_attribute "state" needs folder_values'),
    ({"folder_values": ["A"]}, "22023", "folder_values need a folder_attribute"),
    ({"folder_attribute": "", "folder_values": ["A"]}, "22023", 'invalid folder_attribute ""'),
    ({"folder_attribute": "x" * 256, "folder_values": ["A"]}, "22023", "invalid folder_attribute"),
    ({"folder_attribute": "state", "folder_values": []}, "22023",
     "folder_values has 0 values, not 1 to 64"),
    ({"folder_attribute": "state", "folder_values": ["v%d" % i for i in range(65)]}, "22023",
     "folder_values has 65 values, not 1 to 64"),
    ({"folder_attribute": "state", "folder_values": ["_other"]}, "22023",
     'invalid folder value "_other"'),
    ({"folder_attribute": "state", "folder_values": ["a/b"]}, "22023", 'invalid folder value "a/b"'),
    ({"folder_attribute": "state", "folder_values": ["A,B"]}, "22023", 'invalid folder value "A,B"'),
    ({"folder_attribute": "state", "folder_values": ["é"]}, "22023", 'invalid folder value "é"'),
    ({"folder_attribute": "state", "folder_values": ["A" * 101]}, "22023", "invalid folder value"),
    ({"folder_attribute": "state", "folder_values": ["A", "B", "A"]}, "22023",
     'folder value "A" is declared twice'),
    ({"folder_attribute": "state", "folder_values": ["A", None]}, "22004",
     "folder_values must not contain NULL"),
])
def test_create_pipeline_refuses_bad_folders(env, db, args, code, message):
    e = create(db, env, **args)
    assert e is not None and e.pgcode == code, e
    assert message in e.diag.message_primary, e.diag.message_primary
    assert e.diag.message_hint or e.diag.message_detail
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit_fdw.pipeline WHERE name = %s", (env.name,))
        assert cur.fetchone()[0] == 0


def test_create_pipeline_refuses_a_stream_that_does_not_match(env, db):
    # folders into a stream that does not route on them
    e = create(db, env, delivery_stream=env.delivery_stream, folder_attribute="state",
               folder_values=VALUES)
    assert e is not None and e.pgcode == "55000"
    assert "does not route records by attribute folder" in e.diag.message_primary
    assert "folder_attribute => 'state'" in e.diag.message_hint
    # no folders into a stream that routes on them: every record would fail
    e = create(db, env)
    assert e is not None and e.pgcode == "55000"
    assert "routes records by attribute folder" in e.diag.message_primary
    assert "error prefix" in e.diag.message_detail


def test_create_pipeline_stores_the_folders(env, db):
    assert create(db, env, folder_attribute="state", folder_values=VALUES) is None
    with db.cursor() as cur:
        cur.execute("SELECT folder_attribute, folder_values FROM audit_fdw.pipeline "
                    "WHERE name = %s", (env.name,))
        assert cur.fetchone() == ("state", VALUES)
        cur.execute("SELECT DISTINCT folder_attribute, folder_values FROM audit_fdw.pipeline_status "
                    "WHERE pipeline = %s", (env.name,))
        assert cur.fetchall() == [("state", VALUES)]


def expected_folder(image):
    """The record's folder (src/pump/transform.c's header), from the item as
    boto3 wrote it (DynamoDB JSON): the attribute's name matched ASCII
    case-insensitively."""
    state = [v for k, v in (image or {}).items() if k.lower() == "state"]
    if not state or "NULL" in state[-1]:
        return "_none"
    value = state[-1].get("S")
    return value if value in VALUES else "_other"


def test_a_pipeline_writes_every_record_into_its_folder(pump, db, emulator):
    """Items change state through a pipeline with attribute folders: every
    record lands in .../HH/<bucket>/<its folder>/ (undeclared values and
    other types in _other, REMOVEs and missing or NULL states in _none),
    nothing in the error prefix, and create_audit_table's table, imported,
    reads the whole history back, and one state's records from its folder
    and _other only."""
    env = pump("folderpump", create_pipeline=False)
    run = env.name
    server = "athena_" + run
    database = "folders_" + run.lower()
    results = env.bucket + "-results"
    location = f"s3://{env.bucket}/folders/"
    ensure_buckets(env.s3, results)
    cur = db.cursor()
    athena_server(cur, server, emulator.url, database, results)
    try:
        stream = run + "-folders"
        assert folder_stream(cur, env, server, stream) == "created"
        cur.execute("SELECT audit_fdw.create_audit_table(%s, 'orders_audit', %s, "
                    "'orderId string, state string', database => %s, layout => 'event_time', "
                    "key_buckets => 16, history => '100 years', folder_attribute => 'state', "
                    "folder_values => %s)", (server, location, database, VALUES))
        assert cur.fetchone()[0] == "created"
        env.delivery_stream = stream
        env.create_pipeline(folder_attribute="state", folder_values=VALUES)

        # o1 goes through every declared state; o2 into undeclared ones;
        # o3's state is a number, then a NULL, then missing; o4 is deleted
        items = []

        def put(item):
            env.ddb.put_item(TableName=env.table, Item=item)
            items.append((item["orderId"]["S"], item))

        for state in VALUES:
            put({"orderId": {"S": "o1"}, "state": {"S": state}})
        put({"orderId": {"S": "o2"}, "state": {"S": "LOST"}})
        put({"orderId": {"S": "o2"}, "state": {"S": "shipped"}})
        put({"orderId": {"S": "o2"}, "state": {"S": "PLACED "}})
        put({"orderId": {"S": "o3"}, "state": {"N": "1"}})
        put({"orderId": {"S": "o3"}, "state": {"BOOL": True}})
        put({"orderId": {"S": "o3"}, "state": {"B": b"SHIPPED"}})
        put({"orderId": {"S": "o3"}, "state": {"SS": ["SHIPPED"]}})
        put({"orderId": {"S": "o3"}, "state": {"NULL": True}})
        put({"orderId": {"S": "o3"}, "other": {"S": "SHIPPED"}})
        # the name as Athena reads it: case-insensitively
        put({"orderId": {"S": "o5"}, "State": {"S": "SHIPPED"}})
        put({"orderId": {"S": "o4"}, "state": {"S": "SHIPPED"}})
        env.ddb.delete_item(TableName=env.table, Key={"orderId": {"S": "o4"}})
        items.append(("o4", None))
        env.wait_delivered(len(items))
        emulator.flush_firehose(stream)

        # every record in the folder of its own new image, nothing in _errors/
        listed = {}
        for page in env.s3.get_paginator("list_objects_v2").paginate(Bucket=env.bucket,
                                                                    Prefix="folders/"):
            listed.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        assert not [k for k in listed if k.startswith("folders/_errors/")], listed
        records = []
        for key in listed:
            folder = key.rsplit("/", 2)[1]
            body = env.s3.get_object(Bucket=env.bucket, Key=key)["Body"].read().decode()
            for line in body.splitlines():
                r = json.loads(line)
                assert list(r)[-1] == "attribute_folder" and r["attribute_folder"] == folder, key
                hour = r["event_time"][:13].replace("-", "/").replace(" ", "/")
                assert key.startswith(f"folders/{hour}/{r['key_hash']['orderId'][-1]}/{folder}/")
                records.append(r)
        records.sort(key=lambda r: int(r["sequence_number"]))
        assert [(r["keys"]["orderId"], r["attribute_folder"]) for r in records] == \
            [(order, expected_folder(item)) for order, item in items]
        assert {r["attribute_folder"] for r in records} == set(VALUES) | {"_other", "_none"}

        # the whole history through the Glue table, imported
        schema = "folders_" + run.lower()
        cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
        cur.execute(f"IMPORT FOREIGN SCHEMA {database} LIMIT TO (orders_audit) "
                    f"FROM SERVER {server} INTO {schema}")
        cur.execute(f"SELECT event_id, attribute_folder FROM {schema}.orders_audit ORDER BY 1")
        assert cur.fetchall() == sorted((r["event_id"], r["attribute_folder"]) for r in records)
        cur.execute(f"SELECT event_id FROM {schema}.orders_audit WHERE new_state = 'SHIPPED' "
                    "ORDER BY 1")
        shipped = sorted(r["event_id"] for r in records
                         if "SHIPPED" in [v for k, v in (r.get("new_image") or {}).items()
                                          if k.lower() == "state"])
        assert [row[0] for row in cur.fetchall()] == shipped and len(shipped) == 3
        cur.execute("SELECT athena_sql, bytes_scanned FROM audit_fdw.query_log "
                    "WHERE foreign_table = 'orders_audit' ORDER BY logged_at DESC LIMIT 1")
        athena_sql, scanned = cur.fetchone()
        assert "\"attribute_folder\" IN ('SHIPPED', '_other')" in athena_sql, athena_sql
        assert scanned == sum(size for key, size in listed.items()
                              if key.rsplit("/", 2)[1] in ("SHIPPED", "_other"))
        cur.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        env.drop()
        cur.execute(f'DROP SERVER IF EXISTS "{server}" CASCADE')


def folder_records(env, prefix="folders/"):
    """{S3 key: [audit records]} under prefix, every record checked to sit in
    the folder it names, last."""
    out = {}
    for page in env.s3.get_paginator("list_objects_v2").paginate(Bucket=env.bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            body = env.s3.get_object(Bucket=env.bucket, Key=o["Key"])["Body"].read().decode()
            out[o["Key"]] = [json.loads(line) for line in body.splitlines()]
    for key, records in out.items():
        for r in records:
            assert list(r)[-1] == "attribute_folder" and key.rsplit("/", 2)[1] == \
                r["attribute_folder"], key
    return out


def test_backfill_snapshots_land_in_their_folders(env, db, emulator):
    """A backfill's SNAPSHOT records carry the item's folder as a stream
    record's would."""
    items = {"b1": {"S": "SHIPPED"}, "b2": {"S": "LOST"}, "b3": {"N": "7"}, "b4": None,
             "b5": {"NULL": True}, "b6": {"S": "RETURNED"}}
    for order, state in items.items():
        item = {"orderId": {"S": order}}
        if state is not None:
            item["state"] = state
        env.ddb.put_item(TableName=env.table, Item=item)
    assert create(db, env, folder_attribute="state", folder_values=VALUES,
                  starting_position="LATEST") is None
    with db.cursor() as cur:
        cur.execute("SELECT audit_fdw.backfill(%s, 2)", (env.name,))
        backfill = cur.fetchone()[0]

    def done():
        with db.cursor() as cur:
            cur.execute("SELECT state FROM audit_fdw.backfill_status WHERE backfill = %s",
                        (backfill,))
            return cur.fetchone()[0] == "done"
    wait_for("backfill done", done, timeout=120, interval=0.3)
    emulator.flush_firehose(env.folder_stream)
    objects = folder_records(env)
    assert not [k for k in objects if k.startswith("folders/_errors/")], list(objects)
    got = {r["keys"]["orderId"]: r["attribute_folder"]
           for records in objects.values() for r in records if r["event_name"] == "SNAPSHOT"}
    assert got == {order: expected_folder({"state": s} if s else {})
                   for order, s in items.items()}
    assert set(got.values()) == {"SHIPPED", "RETURNED", "_other", "_none"}


def test_a_1_2_installation_is_still_pumped_and_updated(db, emulator):
    """The 1.3 library over an installation still at 1.2 (ALTER EXTENSION
    UPDATE not run yet): its create_pipeline makes a pipeline, and the pump
    delivers its changes, as before, without the folder columns; updated
    meanwhile, it goes on."""
    name = "folders_old_" + str(os.getpid())
    with pumped_database(db, name, "1.2") as (old, offset):
        env = PumpEnv(old, emulator, "folders_old", create_pipeline=False)
        try:
            env.create_pipeline()
            env.put("101", "PLACED")
            env.update_state("101", "SHIPPED")
            env.wait_delivered(2)
            with old.cursor() as cur:
                cur.execute("ALTER EXTENSION audit_fdw UPDATE")
            env.update_state("101", "DELIVERED")
            env.wait_delivered(3)
            records = env.audit_records()
            assert [r["new_image"]["state"] for r in records] == ["PLACED", "SHIPPED", "DELIVERED"]
            assert not any("attribute_folder" in r for r in records)
            log = pg_log_since(offset)
            assert "folder_" not in log and "ERROR" not in log, log
        finally:
            env.drop()
