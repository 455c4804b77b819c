"""Glue tables over JSON lines in the emulator's S3, for the end-to-end tests.

Each test module that queries Athena needs the same steps: its buckets, a
Glue database, a table (replaced, so that a rerun starts clean) with the
OpenX JSON SerDe Athena recommends, and its rows as a JSON-lines object.
"""
import json


def ensure_buckets(s3, *buckets):
    for b in buckets:
        try:
            s3.create_bucket(Bucket=b)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass


def ensure_database(glue, database):
    try:
        glue.create_database(DatabaseInput={"Name": database})
    except glue.exceptions.AlreadyExistsException:
        pass


def drop_table(glue, database, name):
    """Remove Glue table `name` if it exists (before provisioning it again)."""
    try:
        glue.delete_table(DatabaseName=database, Name=name)
    except glue.exceptions.EntityNotFoundException:
        pass


def replace_json_table(glue, database, name, columns, location, partitions=()):
    """(Re)create table `name` over the JSON lines objects under location;
    columns and partitions are (name, Glue type) pairs."""
    try:
        glue.delete_table(DatabaseName=database, Name=name)
    except glue.exceptions.EntityNotFoundException:
        pass
    glue.create_table(DatabaseName=database, TableInput={
        "Name": name, "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in columns],
            "Location": location,
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}},
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in partitions]})


def put_json_lines(s3, bucket, key, rows):
    """One object of newline-terminated JSON objects."""
    s3.put_object(Bucket=bucket, Key=key,
                  Body="".join(json.dumps(r) + "\n" for r in rows).encode())


def athena_server(cur, server, endpoint, database, results, keys=("test", "test"), fast=True):
    """(Re)create foreign server `server` of audit_fdw over the emulator's
    Athena (Glue database `database`, results in bucket `results`) and the
    current user's mapping for it."""
    cur.execute("CREATE EXTENSION IF NOT EXISTS audit_fdw")
    cur.execute(f'DROP SERVER IF EXISTS "{server}" CASCADE')
    polling = ", poll_initial_ms '10', poll_max_ms '50'" if fast else ""
    cur.execute(f"""CREATE SERVER "{server}" FOREIGN DATA WRAPPER audit_fdw OPTIONS (
        region 'us-east-1', endpoint %s, database %s,
        output_location %s{polling})""", (endpoint, database, f"s3://{results}/q/"))
    cur.execute(f'CREATE USER MAPPING FOR CURRENT_USER SERVER "{server}" '
                "OPTIONS (access_key_id %s, secret_access_key %s)", keys)


def deliver_records(emulator, stream, records, raw_lines=()):
    """Puts audit records (dicts, written as JSON lines) and raw lines
    (bytes) through Firehose stream `stream` in one batch, and flushes its
    buffers to S3."""
    data = [{"Data": (json.dumps(r) + "\n").encode()} for r in records]
    data += [{"Data": line} for line in raw_lines]
    fh = emulator.client("firehose")
    assert fh.put_record_batch(DeliveryStreamName=stream, Records=data)["FailedPutCount"] == 0
    emulator.flush_firehose(stream)


def import_audit_table(cur, server, database, schema, table="orders_audit"):
    """IMPORT FOREIGN SCHEMA of one Glue table into a schema made anew."""
    cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
    cur.execute(f"IMPORT FOREIGN SCHEMA {database} LIMIT TO ({table}) "
                f"FROM SERVER {server} INTO {schema}")


def bucketed_audit_table(emulator, cur, server, stream, location, results, role,
                         item_columns, history=None):
    """Foreign server `server` (Glue database of its name), a delivery stream
    and an audit table (orders_audit, replaced) laid out by event hour and 16
    key buckets of orderId, as create_delivery_stream and create_audit_table
    make them."""
    database = server
    ensure_buckets(emulator.client("s3"), location[len("s3://"):].split("/", 1)[0], results)
    athena_server(cur, server, emulator.url, database, results)
    cur.execute("SELECT audit_fdw.create_delivery_stream(%s, %s, %s, %s, layout => 'event_time', "
                "key_buckets => 16, bucket_key => 'orderId')", (server, stream, location, role))
    assert cur.fetchone()[0] == "created"
    drop_table(emulator.client("glue"), database, "orders_audit")
    cur.execute("SELECT audit_fdw.create_audit_table(%s, 'orders_audit', %s, %s, database => %s, "
                "layout => 'event_time', key_buckets => 16"
                + (", history => %s)" if history else ")"),
                (server, location, item_columns, database) + ((history,) if history else ()))
    assert cur.fetchone()[0] == "created"


def polled_query(emulator, since, containing=None):
    """A function returning the newest Athena query audit_fdw polled
    (GetQueryExecution) after the request log's mark `since` whose SQL holds
    `containing` (any query when None), as GetQueryExecution describes it
    to the real SDK, or None while there is none."""
    athena = emulator.client("athena")
    others = set()

    def query():
        ids = []
        for r in emulator.requests(service="athena", operation="GetQueryExecution",
                                   since=since):
            qid = (r.get("input") or {}).get("QueryExecutionId")
            if qid and qid not in others and qid not in ids:
                ids.append(qid)
        for qid in reversed(ids):
            q = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
            if containing is None or containing in q["Query"]:
                return q
            others.add(qid)
        return None
    return query


def query_waiting(emulator, since, containing=None, scanned=True):
    """A ready() for conftest.cancel_during: true once the query (see
    polled_query) is RUNNING with its data scanned, so that only the
    emulator's modelled run time (athena_min_query_ms) is left: a cancel
    then lands while audit_fdw waits for Athena, and the query has a cost,
    however fast or slow the machine.  With scanned=False, once it is
    QUEUED or RUNNING (under load, queries wait for one of the emulator's
    athena_max_concurrent_queries slots)."""
    query = polled_query(emulator, since, containing)

    def ready():
        q = query()
        if q is None:
            return False
        if not scanned:
            return q["Status"]["State"] in ("QUEUED", "RUNNING")
        return (q["Status"]["State"] == "RUNNING"
                and q["Statistics"].get("DataScannedInBytes", 0) > 0)
    return ready


def result_fetching(emulator, since, containing=None):
    """A predicate: true once audit_fdw asked S3 for the result object of
    the query (see polled_query); the emulator logs a GetObject as its
    answer starts, so a stall fault on GetObject is then under way."""
    query = polled_query(emulator, since, containing)

    def fetching():
        q = query()
        return q is not None and any(
            q["QueryExecutionId"] in ((r.get("input") or {}).get("Key") or "")
            for r in emulator.requests(service="s3", operation="GetObject", since=since))
    return fetching
