"""Provisioning from SQL against the emulator: create_audit_table and
create_delivery_stream make what Glue, Firehose and Athena need, are
idempotent, and refuse a different existing definition.

The last test sends audit records through the delivery stream and reads them
back with Athena (boto3), which checks the Glue definition itself: the JSON
SerDe columns, the struct images and the partition projection over
Firehose's folders.
"""
import json
import os
import time
import uuid

import psycopg2
import pytest

BUCKET = "provision-e2e"
LOCATION = f"s3://{BUCKET}/orders/"
ROLE = "arn:aws:iam::123456789012:role/provision-e2e-firehose"
ITEMS = "orderId string, state string, lastUpdatedDate bigint"


@pytest.fixture(scope="module")
def server(emulator):
    conn = psycopg2.connect(dbname=os.environ.get("PGDATABASE", "audit"))
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS audit_fdw")
    cur.execute("DROP SERVER IF EXISTS prov_e2e CASCADE")
    cur.execute("CREATE SERVER prov_e2e FOREIGN DATA WRAPPER audit_fdw OPTIONS "
                "(region 'us-east-1', endpoint %s, database 'prov_e2e')",
                (emulator.url,))
    cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER prov_e2e "
                "OPTIONS (access_key_id 'test', secret_access_key 'test')")
    s3 = emulator.client("s3")
    for bucket in (BUCKET, BUCKET + "-results"):
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    yield "prov_e2e"
    cur.execute("DROP SERVER prov_e2e CASCADE")
    conn.close()


def call(db, sql, *args):
    cur = db.cursor()
    cur.execute(sql, args)
    return cur.fetchone()[0]


def unique(prefix):
    return prefix + "_" + uuid.uuid4().hex[:8]


def test_audit_table_definition(db, server, emulator):
    table = unique("orders_audit")
    assert call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s)",
                server, table, LOCATION, ITEMS) == "created"

    t = emulator.client("glue").get_table(DatabaseName="prov_e2e", Name=table)["Table"]
    sd = t["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert sd["Location"] == LOCATION
    columns = [(c["Name"], c["Type"]) for c in sd["Columns"]]
    image = "struct<orderId:string,state:string,lastUpdatedDate:bigint>"
    assert columns == [
        ("event_id", "string"), ("event_name", "string"), ("event_time", "timestamp"),
        ("sequence_number", "string"), ("shard_id", "string"), ("source_table", "string"),
        ("aws_region", "string"),
        ("user_identity", "struct<type:string,principal_id:string>"),
        ("keys", "struct<orderId:string>"), ("new_image", image), ("old_image", image)]
    assert [(c["Name"], c["Type"]) for c in t["PartitionKeys"]] == [("datehour", "string")]
    p = t["Parameters"]
    assert p["projection.enabled"] == "true"
    assert p["projection.datehour.type"] == "date"
    assert p["projection.datehour.format"] == "yyyy/MM/dd/HH"
    assert p["projection.datehour.range"] == "NOW-1YEARS,NOW"
    assert p["projection.datehour.interval"] == "1"
    assert p["projection.datehour.interval.unit"] == "HOURS"
    assert p["storage.location.template"] == LOCATION + "${datehour}/"


def test_audit_table_is_idempotent(db, server, emulator):
    table = unique("orders_audit")
    args = (server, table, LOCATION, ITEMS)
    assert call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s)", *args) == "created"
    # the same definition, written differently: still the same table
    assert call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s)",
                server, table.upper(), f"s3://{BUCKET}/orders",
                "orderId STRING, state string,lastUpdatedDate BIGINT") == "unchanged"
    creates = [r for r in emulator.requests(service="glue", operation="CreateTable")
               if (r.get("input") or {}).get("TableInput", {}).get("Name") == table]
    assert len(creates) == 1


@pytest.mark.parametrize("change, detail", [
    ({"item_columns": "orderId string, state string"},
     "Its type of column new_image is struct<orderId:string,state:string,lastUpdatedDate:bigint>, "
     "not struct<orderId:string,state:string>."),
    ({"location": f"s3://{BUCKET}/other/"},
     f"Its location is '{LOCATION}', not 's3://{BUCKET}/other/'."),
    ({"history": "90 days"},
     "Its table property projection.datehour.range is 'NOW-1YEARS,NOW', "
     "not 'NOW-90DAYS,NOW'."),
])
def test_audit_table_with_another_definition(db, server, change, detail):
    table = unique("orders_audit")
    call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s)",
         server, table, LOCATION, ITEMS)
    args = {"item_columns": ITEMS, "location": LOCATION, "history": "1 year", **change}
    with pytest.raises(psycopg2.errors.DuplicateTable) as e:
        call(db, "SELECT audit_fdw.create_audit_table(%s, %s, location => %s, "
                 "item_columns => %s, history => %s::interval)",
             server, table, args["location"], args["item_columns"], args["history"])
    assert e.value.diag.message_primary == \
        f'Glue table "prov_e2e.{table}" already exists with another definition'
    assert e.value.diag.message_detail == detail
    assert "aws glue delete-table" in e.value.diag.message_hint


def test_audit_table_creates_the_database(db, server, emulator):
    database = unique("audit_db")
    assert call(db, "SELECT audit_fdw.create_audit_table(%s, 'orders_audit', %s, %s, "
                    "database => %s)", server, LOCATION, ITEMS, database) == "created"
    glue = emulator.client("glue")
    assert glue.get_database(Name=database)["Database"]["Name"] == database
    assert glue.get_table(DatabaseName=database, Name="orders_audit")["Table"]["Name"] == \
        "orders_audit"


def test_delivery_stream(db, server, emulator):
    name = unique("orders-audit")
    assert call(db, "SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s)",
                server, name, LOCATION, ROLE) == "created"
    d = emulator.client("firehose").describe_delivery_stream(
        DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] == "ACTIVE"
    assert d["DeliveryStreamType"] == "DirectPut"
    dest = d["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert dest["BucketARN"] == f"arn:aws:s3:::{BUCKET}"
    assert dest["Prefix"] == "orders/"
    assert dest["RoleARN"] == ROLE
    assert dest["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 60}
    assert dest["CompressionFormat"] == "UNCOMPRESSED"

    assert call(db, "SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s)",
                server, name, f"s3://{BUCKET}/orders", ROLE) == "unchanged"
    with pytest.raises(psycopg2.errors.DuplicateObject) as e:
        call(db, "SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, "
                 "buffer_seconds => 300)", server, name, LOCATION, ROLE)
    assert e.value.diag.message_detail == \
        "Its buffering interval is 60 seconds, not 300 seconds."
    with pytest.raises(psycopg2.errors.DuplicateObject) as e:
        call(db, "SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s)",
             server, name, f"s3://{BUCKET}/elsewhere/", ROLE)
    assert e.value.diag.message_detail == "Its prefix is 'orders/', not 'elsewhere/'."


def athena_rows(emulator, database, sql):
    athena = emulator.client("athena")
    qid = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": database},
        ResultConfiguration={"OutputLocation": f"s3://{BUCKET}-results/"})["QueryExecutionId"]
    for _ in range(600):
        status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.05)
    assert status["State"] == "SUCCEEDED", status
    rows = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
    return [[c.get("VarCharValue") for c in r["Data"]] for r in rows[1:]]


def test_records_delivered_are_queryable(db, server, emulator):
    """Audit records put into the stream are visible in Athena at once."""
    name = unique("orders-audit")
    prefix = unique("orders")
    location = f"s3://{BUCKET}/{prefix}/"
    call(db, "SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s)",
         server, name, location, ROLE)
    table = unique("orders_audit")
    call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s)",
         server, table, location, ITEMS)

    def record(seq, name_, old, new):
        img = lambda s: {"orderId": "101", "state": s, "lastUpdatedDate": 1705337067000 + seq}
        r = {"event_id": uuid.uuid4().hex, "event_name": name_,
             "event_time": "2024-01-15 16:44:%02d.000" % seq,
             "sequence_number": str(10 ** 20 + seq), "shard_id": "shardId-1",
             "source_table": "Orders", "aws_region": "us-east-1",
             "keys": {"orderId": "101"}}
        if new:
            r["new_image"] = img(new)
        if old:
            r["old_image"] = img(old)
        return {"Data": (json.dumps(r) + "\n").encode()}

    firehose = emulator.client("firehose")
    out = firehose.put_record_batch(DeliveryStreamName=name, Records=[
        record(1, "INSERT", None, "OPEN"), record(2, "MODIFY", "OPEN", "PICKEDUP"),
        record(3, "MODIFY", "PICKEDUP", "DELIVERED"), record(4, "REMOVE", "DELIVERED", None)])
    assert out["FailedPutCount"] == 0
    emulator.flush_firehose(name)

    rows = athena_rows(emulator, "prov_e2e",
                       f'SELECT event_name, old_image.state, new_image.state, '
                       f'new_image.lastupdateddate, keys.orderid, datehour '
                       f'FROM "{table}" ORDER BY sequence_number')
    assert [r[:5] for r in rows] == [
        ["INSERT", None, "OPEN", "1705337067001", "101"],
        ["MODIFY", "OPEN", "PICKEDUP", "1705337067002", "101"],
        ["MODIFY", "PICKEDUP", "DELIVERED", "1705337067003", "101"],
        ["REMOVE", "DELIVERED", None, None, "101"]]
    hour = rows[0][5]
    assert len(hour) == 13 and hour.count("/") == 3  # yyyy/MM/dd/HH

    # the partition column prunes: an hour before the records finds nothing
    assert athena_rows(emulator, "prov_e2e",
                       f"SELECT count(*) FROM \"{table}\" WHERE datehour = '{hour}'") == [["4"]]
    assert athena_rows(emulator, "prov_e2e",
                       f"SELECT count(*) FROM \"{table}\" WHERE datehour < '{hour}'") == [["0"]]


def test_audit_table_created_concurrently(db, server, emulator):
    """A table another session created between the lookup and CreateTable
    (Glue: EntityNotFoundException, then AlreadyExistsException) is compared,
    not an error."""
    table = unique("orders_audit")
    call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s)",
         server, table, LOCATION, ITEMS)
    emulator.add_fault(service="glue", operation="GetTable",
                       error="EntityNotFoundException", status=400, count=1)
    try:
        assert call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s)",
                    server, table, LOCATION, ITEMS) == "unchanged"
    finally:
        emulator.clear_faults()
    creates = [r for r in emulator.requests(service="glue", operation="CreateTable")
               if (r.get("input") or {}).get("TableInput", {}).get("Name") == table]
    assert len(creates) == 2  # the first call's, and the one that met the other


def test_delivery_stream_created_concurrently(db, server, emulator):
    name = unique("orders-audit")
    call(db, "SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s)",
         server, name, LOCATION, ROLE)
    emulator.add_fault(service="firehose", operation="DescribeDeliveryStream",
                       error="ResourceNotFoundException", status=400, count=1)
    try:
        assert call(db, "SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s)",
                    server, name, LOCATION, ROLE) == "unchanged"
        # and a different definition met that way is still refused
        emulator.add_fault(service="firehose", operation="DescribeDeliveryStream",
                           error="ResourceNotFoundException", status=400, count=1)
        with pytest.raises(psycopg2.errors.DuplicateObject):
            call(db, "SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, "
                     "buffer_mb => 64)", server, name, LOCATION, ROLE)
    finally:
        emulator.clear_faults()


def test_aws_errors_reach_the_caller(db, server, emulator):
    """An AWS error other than "missing" is raised with its code."""
    emulator.add_fault(service="glue", operation="GetDatabase",
                       error="AccessDeniedException", status=400, count=1)
    try:
        with pytest.raises(psycopg2.Error) as e:
            call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s)",
                 server, unique("t"), LOCATION, ITEMS)
    finally:
        emulator.clear_faults()
    assert e.value.diag.message_primary == "aws glue GetDatabase failed: AccessDeniedException"
    assert "request id" in e.value.diag.message_detail


def test_audit_table_with_key_columns_and_history(db, server, emulator):
    """A table with a sort key names its key attributes; history sets how far
    back the projection reaches."""
    table = unique("orders_audit")
    assert call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, "
                    "'customerId string, orderDate string, state string', "
                    "key_columns => 'customerId string, orderDate string', "
                    "history => '90 days')", server, table, LOCATION) == "created"
    t = emulator.client("glue").get_table(DatabaseName="prov_e2e", Name=table)["Table"]
    types = {c["Name"]: c["Type"] for c in t["StorageDescriptor"]["Columns"]}
    assert types["keys"] == "struct<customerId:string,orderDate:string>"
    assert types["new_image"] == "struct<customerId:string,orderDate:string,state:string>"
    assert t["Parameters"]["projection.datehour.range"] == "NOW-90DAYS,NOW"


@pytest.fixture
def slow_firehose(emulator):
    """Delivery streams stay CREATING for a while, as in AWS."""
    emulator.configure(firehose_creating_seconds=1.5)
    yield
    emulator.configure(firehose_creating_seconds=0)


def describe_calls(emulator, name):
    return [r for r in emulator.requests(service="firehose", operation="DescribeDeliveryStream")
            if (r.get("input") or {}).get("DeliveryStreamName") == name]


def test_delivery_stream_waits_until_active(db, server, emulator, slow_firehose):
    name = unique("orders-audit")
    start = time.monotonic()
    assert call(db, "SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s)",
                server, name, LOCATION, ROLE) == "created"
    assert time.monotonic() - start >= 1.4
    assert len(describe_calls(emulator, name)) >= 3  # the lookup, then polls
    d = emulator.client("firehose").describe_delivery_stream(
        DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] == "ACTIVE"


def test_delivery_stream_without_waiting(db, server, emulator, slow_firehose):
    name = unique("orders-audit")
    start = time.monotonic()
    assert call(db, "SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, wait => false)",
                server, name, LOCATION, ROLE) == "created"
    assert time.monotonic() - start < 1.0
    d = emulator.client("firehose").describe_delivery_stream(
        DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] == "CREATING"
    # a second call waits for the stream it finds CREATING
    assert call(db, "SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s)",
                server, name, LOCATION, ROLE) == "unchanged"
    assert time.monotonic() - start >= 1.4


def test_waiting_for_a_delivery_stream_can_be_cancelled(db, server, emulator):
    emulator.configure(firehose_creating_seconds=60)
    name = unique("orders-audit")
    cur = db.cursor()
    try:
        cur.execute("SET statement_timeout = '500ms'")
        start = time.monotonic()
        with pytest.raises(psycopg2.errors.QueryCanceled):
            cur.execute("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s)",
                        (server, name, LOCATION, ROLE))
        assert time.monotonic() - start < 1.5
    finally:
        cur.execute("RESET statement_timeout")
        emulator.configure(firehose_creating_seconds=0)


# ---- attribute folders (the README's "Attribute folders") ----

FOLDERS = "folder_attribute => 'state', folder_values => '{PLACED,SHIPPED,x.y_z-1}'"


@pytest.mark.parametrize("buckets", [0, 16])
def test_audit_table_with_attribute_folders(db, server, emulator, buckets):
    """The last partition column, its enum projection (the declared values,
    then _other and _none), the folder last in the location template, and
    the attribute as a table parameter."""
    table = unique("orders_audit")
    assert call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s, layout => 'event_time', "
                    "key_buckets => %s, " + FOLDERS + ")",
                server, table, LOCATION, ITEMS, buckets) == "created"
    t = emulator.client("glue").get_table(DatabaseName="prov_e2e", Name=table)["Table"]
    keys = [(c["Name"], c["Type"]) for c in t["PartitionKeys"]]
    assert keys == [("datehour", "string")] + ([("key_bucket", "string")] if buckets else []) + \
        [("attribute_folder", "string")]
    p = t["Parameters"]
    assert p["audit_fdw.folder_attribute"] == "state"
    assert p["projection.attribute_folder.type"] == "enum"
    assert p["projection.attribute_folder.values"] == "PLACED,SHIPPED,x.y_z-1,_other,_none"
    assert p["storage.location.template"] == \
        LOCATION + "${datehour}/" + ("${key_bucket}/" if buckets else "") + "${attribute_folder}/"
    # the same call again: unchanged
    assert call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s, layout => 'event_time', "
                    "key_buckets => %s, " + FOLDERS + ")",
                server, table, LOCATION, ITEMS, buckets) == "unchanged"


@pytest.mark.parametrize("folders, detail", [
    ("", "Its table property storage.location.template is "
     "'s3://provision-e2e/orders/${datehour}/${attribute_folder}/', "
     "not 's3://provision-e2e/orders/${datehour}/'."),
    ("folder_attribute => 'status', folder_values => '{PLACED,SHIPPED,x.y_z-1}'",
     "Its folder attribute is 'state', not 'status'."),
    ("folder_attribute => 'state', folder_values => '{SHIPPED,PLACED,x.y_z-1}'",
     "Its table property projection.attribute_folder.values is "
     "'PLACED,SHIPPED,x.y_z-1,_other,_none', not 'SHIPPED,PLACED,x.y_z-1,_other,_none'."),
    ("folder_attribute => 'state', folder_values => '{PLACED}'",
     "Its table property projection.attribute_folder.values is "
     "'PLACED,SHIPPED,x.y_z-1,_other,_none', not 'PLACED,_other,_none'."),
])
def test_audit_table_with_other_attribute_folders(db, server, folders, detail):
    table = unique("orders_audit")
    call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s, layout => 'event_time', "
             + FOLDERS + ")", server, table, LOCATION, ITEMS)
    with pytest.raises(psycopg2.errors.DuplicateTable) as e:
        call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s, layout => 'event_time'"
             + (", " + folders if folders else "") + ")", server, table, LOCATION, ITEMS)
    assert e.value.diag.message_detail == detail
    # a table without folders is not one with them either
    table = unique("orders_audit")
    call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s, layout => 'event_time')",
         server, table, LOCATION, ITEMS)
    with pytest.raises(psycopg2.errors.DuplicateTable) as e:
        call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s, layout => 'event_time', "
             + FOLDERS + ")", server, table, LOCATION, ITEMS)
    assert e.value.diag.message_detail.startswith("Its table property storage.location.template")


@pytest.mark.parametrize("function", ["create_audit_table", "create_delivery_stream"])
def test_attribute_folders_need_the_event_time_layout(db, server, function):
    args = (server, unique("t"), LOCATION, ITEMS if function == "create_audit_table" else ROLE)
    folders = FOLDERS if function == "create_audit_table" else "folder_attribute => 'state'"
    with pytest.raises(psycopg2.errors.InvalidParameterValue) as e:
        call(db, f"SELECT audit_fdw.{function}(%s, %s, %s, %s, {folders})", *args)
    assert e.value.diag.message_primary == "attribute folders need layout => 'event_time'"
    assert e.value.diag.message_hint == "Pass layout => 'event_time' too."
    with pytest.raises(psycopg2.errors.InvalidParameterValue) as e:
        call(db, f"SELECT audit_fdw.{function}(%s, %s, %s, %s, layout => 'delivery_time', "
                 f"{folders})", *args)
    assert e.value.diag.message_primary == "attribute folders need layout => 'event_time'"


@pytest.mark.parametrize("folders, detail", [
    ("folder_values => '{A}'", "folder_values need a folder_attribute"),
    ("folder_attribute => 'state'", 'folder_attribute "state" needs folder_values'),
    ("folder_attribute => 'state', folder_values => '{A,_none}'", 'invalid folder value "_none"'),
    ("folder_attribute => 'state', folder_values => '{A,A}'", 'folder value "A" is declared twice'),
])
def test_audit_table_refuses_bad_folder_arguments(db, server, emulator, folders, detail):
    table = unique("orders_audit")
    with pytest.raises(psycopg2.Error) as e:
        call(db, "SELECT audit_fdw.create_audit_table(%s, %s, %s, %s, layout => 'event_time', "
             + folders + ")", server, table, LOCATION, ITEMS)
    assert e.value.pgcode == "22023" and e.value.diag.message_primary == detail
    glue = emulator.client("glue")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_table(DatabaseName="prov_e2e", Name=table)


@pytest.mark.parametrize("buckets", [0, 16])
def test_delivery_stream_with_attribute_folders(db, server, emulator, buckets):
    """The extraction query takes the record's attribute_folder, the prefix
    puts it last: a record without it goes to the error prefix."""
    name = unique("orders-audit")
    bucket_args = ", key_buckets => 16, bucket_key => 'orderId'" if buckets else ""
    sql = ("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, layout => 'event_time'"
           + bucket_args + ", folder_attribute => 'state')")
    assert call(db, sql, server, name, LOCATION, ROLE) == "created"
    d = emulator.client("firehose").describe_delivery_stream(
        DeliveryStreamName=name)["DeliveryStreamDescription"]
    dest = d["Destinations"][0]["ExtendedS3DestinationDescription"]
    bucket_prefix = "!{partitionKeyFromQuery:key_bucket}/" if buckets else ""
    assert dest["Prefix"] == (
        "orders/!{partitionKeyFromQuery:year}/!{partitionKeyFromQuery:month}/"
        "!{partitionKeyFromQuery:day}/!{partitionKeyFromQuery:hour}/" + bucket_prefix +
        "!{partitionKeyFromQuery:attribute_folder}/")
    params = {p["ParameterName"]: p["ParameterValue"]
              for p in dest["ProcessingConfiguration"]["Processors"][0]["Parameters"]}
    bucket_query = ', key_bucket: .key_hash["orderId"][-1:]' if buckets else ""
    assert params["MetadataExtractionQuery"] == (
        "{year: .event_time[0:4], month: .event_time[5:7], day: .event_time[8:10], "
        "hour: .event_time[11:13]" + bucket_query + ", attribute_folder: .attribute_folder}")
    assert call(db, sql, server, name, LOCATION, ROLE) == "unchanged"
    # without the folders: another stream
    with pytest.raises(psycopg2.errors.DuplicateObject) as e:
        call(db, "SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, layout => 'event_time'"
             + bucket_args + ")", server, name, LOCATION, ROLE)
    assert e.value.diag.message_detail.startswith("Its prefix is ")
