"""Attribute folders on a real pipeline (FOLDERS.md): create_pipeline takes
folder_attribute and folder_values and checks them; the pump writes each
record's "attribute_folder" (the new image's declared string value, _other
for any other value, _none without one or without a new image);
create_delivery_stream routes on it through the emulator's Firehose dynamic
partitioning into .../HH/bucket/<folder>/, and create_audit_table's Glue
table reads the whole history back through Athena."""
import json
import uuid

import psycopg2
import pytest

from athena_tables import athena_server, drop_table, ensure_buckets
from pump_env import pump, wait_for  # noqa: F401 (pump: a fixture)

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
