"""Every field of every AWS answer the backend reads, made hostile.

For each response shape that audit_fdw reads in a backend (Athena's
StartQueryExecution, GetQueryExecution in each state, GetQueryResults; Glue's
GetTables and GetTable; Firehose's DescribeDeliveryStream and
CreateDeliveryStream; DynamoDB's DescribeTable; Streams' DescribeStream), a
valid answer is taken apart: every member, at every depth, is in turn made
null, removed, given another JSON type, emptied and made huge (256 KiB).
Each variant is sent once in place of the real answer.  The statement that
reads it must end in rows or in an ERROR with a proper SQLSTATE (never
XX000), the backend must answer again, and the postmaster must not have
restarted (a crash restarts every session).  Every case is recorded for
test/HARDENING.md.
"""
import copy
import json
import uuid

import psycopg2
import pytest

from athena_tables import (athena_server, ensure_buckets, ensure_database, put_json_lines,
                           replace_json_table)
from conftest import connect
from hostile import record

SERVER = "fdw_fields"
BUCKET = "fdw-fields-data"
RESULTS = "fdw-fields-results"
DATABASE = "fdw_fields"
HUGE = "x" * (256 * 1024)
QID = "3f6c2b1e-0d1a-4a3e-9f51-6a2b8c4d7e90"
# a live DynamoDB table read through a foreign table (src/dynamodb/)
LIVE = "FieldsLive"
LIVE_ITEM = {"orderId": {"S": "1"}, "n": {"N": "1.5"}, "tags": {"SS": ["a", "b"]},
             "m": {"M": {"k": {"L": [{"BOOL": True}, {"NULL": True}]}}}, "b": {"B": "AAE="}}


def variants(doc):
    """(path, mutated document) for every member of doc and every way of
    breaking it."""
    out = []

    def walk(node, path):
        if isinstance(node, dict):
            items = list(node.items())
        elif isinstance(node, list) and node:
            items = [(0, node[0])]
        else:
            return
        for key, value in items:
            p = path + [key]
            wrong = 7 if isinstance(value, (str, dict, list, bool)) else "seven"
            empty = {str: "", dict: {}, list: [], int: 0, bool: False}.get(type(value), "")
            for how, new in (("null", None), ("missing", KeyError), ("wrong type", wrong),
                             ("empty", empty), ("huge", HUGE)):
                if how == "missing" and not isinstance(node, dict):
                    continue
                d = copy.deepcopy(doc)
                parent = d
                for k in p[:-1]:
                    parent = parent[k]
                if new is KeyError:
                    del parent[p[-1]]
                else:
                    parent[p[-1]] = new
                out.append(("%s %s" % (".".join(map(str, p)), how), d))
            walk(value, p)

    walk(doc, [])
    out.append(("whole answer null", None))
    out.append(("whole answer an array", [doc]))
    return out


def status(state, **extra):
    qe = {"QueryExecutionId": QID, "Query": "SELECT 1", "StatementType": "DML",
          "ResultConfiguration": {"OutputLocation": f"s3://{RESULTS}/q/{QID}.csv"},
          "Status": {"State": state, "SubmissionDateTime": 1700000000.0,
                     "CompletionDateTime": 1700000001.0},
          "Statistics": {"EngineExecutionTimeInMillis": 12, "DataScannedInBytes": 345,
                         "TotalExecutionTimeInMillis": 20, "QueryQueueTimeInMillis": 3,
                         "ResultReuseInformation": {"ReusedPreviousResult": False}},
          "WorkGroup": "primary"}
    qe["Status"].update(extra)
    return {"QueryExecution": qe}


SHAPES = [
    # (name, service, operation, valid answer, statement)
    ("athena start", "athena", "StartQueryExecution", {"QueryExecutionId": QID}, "COUNT"),
    ("athena get succeeded", "athena", "GetQueryExecution", status("SUCCEEDED"), "COUNT"),
    ("athena get failed", "athena", "GetQueryExecution",
     status("FAILED", StateChangeReason="SYNTAX_ERROR: line 1:8: bad",
            AthenaError={"ErrorCategory": 2, "ErrorType": 1000, "Retryable": False,
                         "ErrorMessage": "SYNTAX_ERROR: line 1:8: bad"}), "COUNT"),
    ("athena results", "athena", "GetQueryResults",
     {"ResultSet": {"Rows": [{"Data": [{"VarCharValue": "id"}, {"VarCharValue": "label"}]},
                             {"Data": [{"VarCharValue": "1"}, {"VarCharValue": "a"}]}],
                    "ResultSetMetadata": {"ColumnInfo": [
                        {"Name": "id", "Type": "integer", "Nullable": "UNKNOWN"},
                        {"Name": "label", "Type": "varchar", "Nullable": "UNKNOWN"}]}},
      "NextToken": None, "UpdateCount": 0}, "ROWS_API"),
    ("glue tables", "glue", "GetTables",
     {"TableList": [{"Name": "t", "DatabaseName": DATABASE,
                     "StorageDescriptor": {"Columns": [{"Name": "c", "Type": "int"}],
                                           "Location": f"s3://{BUCKET}/t/"},
                     "PartitionKeys": [{"Name": "dt", "Type": "string"}],
                     "Parameters": {"classification": "json"}}],
      "NextToken": "n2"}, "IMPORT"),
    ("glue table", "glue", "GetTable",
     {"Table": {"Name": "audit_t", "DatabaseName": DATABASE,
                "StorageDescriptor": {"Columns": [{"Name": "event_id", "Type": "string"}],
                                      "Location": f"s3://{BUCKET}/a/",
                                      "SerdeInfo": {"SerializationLibrary": "x"}},
                "PartitionKeys": [{"Name": "datehour", "Type": "string"}],
                "Parameters": {"projection.enabled": "true"}}}, "AUDIT_TABLE"),
    ("firehose describe", "firehose", "DescribeDeliveryStream",
     {"DeliveryStreamDescription": {
         "DeliveryStreamName": "fields-stream", "DeliveryStreamStatus": "ACTIVE",
         "DeliveryStreamType": "DirectPut",
         "FailureDescription": {"Type": "x", "Details": "y"},
         "Destinations": [{"DestinationId": "d-1", "ExtendedS3DestinationDescription": {
             "BucketARN": f"arn:aws:s3:::{BUCKET}", "Prefix": "d/",
             "RoleARN": "arn:aws:iam::000000000000:role/firehose",
             "CompressionFormat": "UNCOMPRESSED",
             "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 5}}}]}},
     "DELIVERY_STREAM"),
    ("dynamodb describe table", "dynamodb", "DescribeTable",
     {"Table": {"TableName": "T", "LatestStreamArn":
                "arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/2024-01-01T00:00:00.000"}},
     "PIPELINE"),
    ("live scan", "dynamodb", "Scan",
     {"Items": [LIVE_ITEM], "Count": 1, "ScannedCount": 1,
      "ConsumedCapacity": {"TableName": LIVE, "CapacityUnits": 0.5}}, "LIVE_SCAN"),
    ("live get", "dynamodb", "GetItem",
     {"Item": LIVE_ITEM, "ConsumedCapacity": {"TableName": LIVE, "CapacityUnits": 0.5}},
     "LIVE_GET"),
    ("live batch get", "dynamodb", "BatchGetItem",
     {"Responses": {LIVE: [LIVE_ITEM]}, "UnprocessedKeys": {},
      "ConsumedCapacity": [{"TableName": LIVE, "CapacityUnits": 1.0}]}, "LIVE_BATCH"),
    ("live describe table", "dynamodb", "DescribeTable",
     {"Table": {"TableName": LIVE,
                "KeySchema": [{"AttributeName": "orderId", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "orderId", "AttributeType": "S"}],
                "ItemCount": 3, "TableSizeBytes": 300}}, "LIVE_GET"),
    ("live list tables", "dynamodb", "ListTables", {"TableNames": [LIVE]}, "LIVE_IMPORT"),
    ("streams describe", "dynamodbstreams", "DescribeStream",
     {"StreamDescription": {
         "StreamArn": "arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/2024-01-01T00:00:00.000",
         "StreamStatus": "ENABLED", "StreamViewType": "NEW_AND_OLD_IMAGES", "TableName": "T",
         "Shards": [{"ShardId": "shardId-00000000000000000001-aaaaaaaa",
                     "ParentShardId": "shardId-00000000000000000000-aaaaaaaa",
                     "SequenceNumberRange": {"StartingSequenceNumber": "100000000000000000001",
                                             "EndingSequenceNumber": "100000000000000000009"}}],
         "LastEvaluatedShardId": None}}, "PIPELINE"),
]


@pytest.fixture(scope="module")
def setup(emulator):
    s3 = emulator.client("s3")
    glue = emulator.client("glue")
    ensure_buckets(s3, BUCKET, RESULTS)
    ensure_database(glue, DATABASE)
    replace_json_table(glue, DATABASE, "rows", [("id", "int"), ("label", "string")],
                       f"s3://{BUCKET}/rows/")
    put_json_lines(s3, BUCKET, "rows/part-0.json", [{"id": 1, "label": "a"}])
    conn = connect()
    cur = conn.cursor()
    athena_server(cur, SERVER, emulator.url, DATABASE, RESULTS)
    cur.execute("DROP SCHEMA IF EXISTS fdw_fields CASCADE")
    cur.execute("CREATE SCHEMA fdw_fields")
    cur.execute(f"""CREATE FOREIGN TABLE fdw_fields.rows (id integer, label text)
        SERVER {SERVER} OPTIONS ("table" 'rows')""")
    cur.execute(f"""CREATE FOREIGN TABLE fdw_fields.rows_api (id integer, label text)
        SERVER {SERVER} OPTIONS ("table" 'rows', result_transport 'api')""")
    ddb = emulator.client("dynamodb")
    table = "FieldsOrders_" + uuid.uuid4().hex[:6]
    ddb.create_table(TableName=table,
                     KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True,
                                          "StreamViewType": "NEW_AND_OLD_IMAGES"})
    if LIVE not in ddb.list_tables()["TableNames"]:
        ddb.create_table(TableName=LIVE,
                         KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "orderId",
                                                "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
    for k in ("1", "2"):
        ddb.put_item(TableName=LIVE, Item=dict(LIVE_ITEM, orderId={"S": k}))
    cur.execute(f"""CREATE FOREIGN TABLE fdw_fields.live ("orderId" text, n numeric,
        tags text[], m jsonb, b bytea, item jsonb OPTIONS (whole_item 'true'))
        SERVER {SERVER} OPTIONS (dynamodb_table '{LIVE}')""")
    conn.close()
    yield {"table": table}
    emulator.clear_faults()
    conn = connect()
    cur = conn.cursor()
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute("DROP SCHEMA IF EXISTS fdw_fields CASCADE")
    cur.execute("DROP SCHEMA IF EXISTS fdw_fields_import CASCADE")
    conn.close()


def statements(kind, setup_info):
    if kind == "COUNT":
        return ["SELECT count(*) FROM fdw_fields.rows"]
    if kind == "ROWS_API":
        return ["SELECT id, label FROM fdw_fields.rows_api"]
    if kind == "IMPORT":
        return ["DROP SCHEMA IF EXISTS fdw_fields_import CASCADE",
                "CREATE SCHEMA fdw_fields_import",
                f'IMPORT FOREIGN SCHEMA "{DATABASE}" FROM SERVER {SERVER} '
                "INTO fdw_fields_import"]
    if kind == "AUDIT_TABLE":
        return [f"SELECT audit_fdw.create_audit_table('{SERVER}', 'audit_t', "
                f"location => 's3://{BUCKET}/a/', item_columns => 'orderId string', "
                f"database => '{DATABASE}')"]
    if kind == "DELIVERY_STREAM":
        return [f"SELECT audit_fdw.create_delivery_stream('{SERVER}', 'fields-stream', "
                f"'s3://{BUCKET}/d/', 'arn:aws:iam::000000000000:role/firehose', wait => false)"]
    if kind == "LIVE_SCAN":
        return ["SELECT * FROM fdw_fields.live"]
    if kind == "LIVE_GET":
        return ["SELECT * FROM fdw_fields.live WHERE \"orderId\" = '1'"]
    if kind == "LIVE_BATCH":
        return ["SELECT * FROM fdw_fields.live WHERE \"orderId\" IN ('1', '2')"]
    if kind == "LIVE_IMPORT":
        return ["DROP SCHEMA IF EXISTS fdw_fields_import CASCADE",
                "CREATE SCHEMA fdw_fields_import",
                f'IMPORT FOREIGN SCHEMA "DynamoDB" LIMIT TO ("{LIVE}") FROM SERVER {SERVER} '
                "INTO fdw_fields_import",
                f'SELECT * FROM fdw_fields_import."{LIVE}"']
    if kind == "PIPELINE":
        name = "fields_" + uuid.uuid4().hex[:6]
        return [f"SELECT audit_fdw.create_pipeline('{name}', server => '{SERVER}', "
                f"source_table => '{setup_info['table']}', delivery_stream => 'fields-stream')",
                f"SELECT audit_fdw.drop_pipeline('{name}', if_exists => true)"]
    raise ValueError(kind)


CASES = [(name, service, op, label, body, kind)
         for name, service, op, valid, kind in SHAPES
         for label, body in variants(valid)]


@pytest.mark.parametrize("name,service,op,label,body,kind", CASES,
                         ids=["%s: %s" % (c[0], c[3]) for c in CASES])
def test_a_hostile_field_ends_in_rows_or_a_clear_error(setup, emulator, name, service, op,
                                                       label, body, kind):
    conn = connect()
    cur = conn.cursor()
    cur.execute("SET audit_fdw.aws_max_retries = 0")
    cur.execute("SET statement_timeout = '30s'")
    cur.execute("SELECT pg_postmaster_start_time()")
    started = cur.fetchone()[0]
    emulator.clear_faults()
    emulator.add_fault(service=service, operation=op, body=json.dumps(body), count=1)
    outcome, detail = "rows", ""
    try:
        for stmt in statements(kind, setup):
            cur.execute(stmt)
        detail = "%s" % (cur.fetchall() if cur.description else "done")
    except psycopg2.Error as e:
        outcome, detail = "error", "%s %s" % (e.pgcode, (e.pgerror or "").strip())
        assert e.pgcode is not None and e.pgcode != "XX000", detail
        assert len(e.pgerror or "") < 8192, "a %d-byte message" % len(e.pgerror)
    finally:
        emulator.clear_faults()
    record("fdw", "%s: %s" % (name, label), [{"service": service, "operation": op}],
           outcome, detail)
    cur.execute("SELECT 1")
    assert cur.fetchone() == (1,)
    conn.close()
    conn = connect()
    cur = conn.cursor()
    cur.execute("SELECT pg_postmaster_start_time()")
    assert cur.fetchone()[0] == started, "the postmaster restarted: a backend crashed"
    conn.close()
