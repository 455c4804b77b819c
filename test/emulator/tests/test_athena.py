"""Athena: the query lifecycle, Trino's dialect and semantics, partition
pruning, and results as Athena writes them (CSV in S3, GetQueryResults)."""
import json
import time
import uuid

import botocore.exceptions
import pytest

FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


@pytest.fixture(scope="module")
def athena(emulator):
    return emulator.client("athena")


@pytest.fixture(scope="module")
def glue(emulator):
    return emulator.client("glue")


def record(event_id, hour, state, order="101", n=None, extra=None):
    r = {"event_id": event_id, "event_name": "MODIFY",
         "event_time": f"2024-01-15 {hour:02d}:10:00.250",
         "new_image": {"orderId": order, "state": state}, "n": n}
    r.update(extra or {})
    return r


OBJECTS = {
    # key under the table location -> records (one JSON object a line)
    "2024/01/15/10/a.json": [record("e1", 10, "OPEN", n=1), record("e2", 10, "PICKEDUP", n=2)],
    "2024/01/15/11/b.json": [record("e3", 11, "DELIVERED", n=None)],
    "2024/01/15/12/c.json": [record("e4", 12, "RETURNED", order="102", n=4),
                             {"EVENT_ID": "e5", "Event_Name": "REMOVE", "n": 5}],
    # outside the projection's range: never read
    "2023/12/31/23/old.json": [record("old", 23, "OPEN")],
    # not a projected value (the format wants two-digit hours)
    "2024/01/15/1/bad.json": [record("bad", 1, "OPEN")],
    # hidden files are ignored as Hadoop ignores them
    "2024/01/15/10/_SUCCESS": [],
}


def body(records):
    return "".join(json.dumps(r) + "\n" for r in records).encode()


@pytest.fixture(scope="module")
def audit(emulator, glue):
    """A bucket, a database and an audit table with partition projection."""
    s3 = emulator.client("s3")
    name = "a" + uuid.uuid4().hex[:10]
    s3.create_bucket(Bucket=name)
    glue.create_database(DatabaseInput={"Name": name})
    glue.create_table(DatabaseName=name, TableInput={
        "Name": "orders_audit",
        "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "StorageDescriptor": {
            "Columns": [{"Name": "event_id", "Type": "string"},
                        {"Name": "event_name", "Type": "string"},
                        {"Name": "event_time", "Type": "timestamp"},
                        {"Name": "new_image", "Type": "struct<orderId:string,state:string>"},
                        {"Name": "n", "Type": "bigint"}],
            "Location": f"s3://{name}/orders/",
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}},
        "Parameters": {
            "projection.enabled": "true",
            "projection.dt.type": "date",
            "projection.dt.format": "yyyy/MM/dd/HH",
            "projection.dt.range": "2024/01/01/00,NOW",
            "projection.dt.interval": "1",
            "projection.dt.interval.unit": "HOURS",
            "storage.location.template": f"s3://{name}/orders/${{dt}}/"}})
    sizes = {}
    for key, recs in OBJECTS.items():
        data = body(recs)
        s3.put_object(Bucket=name, Key="orders/" + key, Body=data)
        sizes[key] = len(data)
    return {"bucket": name, "database": name, "s3": s3, "sizes": sizes,
            "output": f"s3://{name}/results/"}


def start(athena, audit, query, **kw):
    kw.setdefault("QueryExecutionContext", {"Database": audit["database"]})
    kw.setdefault("ResultConfiguration", {"OutputLocation": audit["output"]})
    return athena.start_query_execution(QueryString=query, **kw)["QueryExecutionId"]


def wait(athena, qid, timeout=30):
    deadline = time.time() + timeout
    while True:
        q = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if q["Status"]["State"] in FINAL:
            return q
        assert time.time() < deadline, "query did not finish"
        time.sleep(0.02)


def run(athena, audit, query, **kw):
    return wait(athena, start(athena, audit, query, **kw))


def rows(athena, qid, **kw):
    """All rows of a result through GetQueryResults (header first)."""
    out, token = [], None
    while True:
        args = dict(QueryExecutionId=qid, **kw)
        if token:
            args["NextToken"] = token
        r = athena.get_query_results(**args)
        out += [[d.get("VarCharValue") for d in row["Data"]] for row in r["ResultSet"]["Rows"]]
        token = r.get("NextToken")
        if not token:
            return out


def values(athena, audit, query):
    q = run(athena, audit, query)
    assert q["Status"]["State"] == "SUCCEEDED", q["Status"].get("StateChangeReason")
    return rows(athena, q["QueryExecutionId"])[1:]


def failure(athena, audit, query):
    q = run(athena, audit, query)
    assert q["Status"]["State"] == "FAILED", query
    return q["Status"]["StateChangeReason"]


def csv_of(audit, q):
    loc = q["ResultConfiguration"]["OutputLocation"]
    bucket, key = loc[len("s3://"):].split("/", 1)
    return audit["s3"].get_object(Bucket=bucket, Key=key)["Body"].read().decode()


# ---------------------------------------------------------------------------
# lifecycle


def test_lifecycle_statistics_and_output(athena, audit, emulator):
    emulator.configure(athena_min_query_ms=1000)
    try:
        t0 = time.time()
        qid = start(athena, audit, "SELECT event_id FROM orders_audit WHERE n = 1")
        first = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        assert first["Status"]["State"] in ("QUEUED", "RUNNING")
        q = wait(athena, qid)
        elapsed = time.time() - t0
    finally:
        emulator.configure(athena_min_query_ms=0)
    assert q["Status"]["State"] == "SUCCEEDED"
    assert elapsed >= 1.0
    st = q["Statistics"]
    assert st["TotalExecutionTimeInMillis"] >= 1000
    assert st["EngineExecutionTimeInMillis"] <= st["TotalExecutionTimeInMillis"]
    assert st["QueryQueueTimeInMillis"] >= 0
    assert q["Status"]["CompletionDateTime"] >= q["Status"]["SubmissionDateTime"]
    assert q["ResultConfiguration"]["OutputLocation"] == f"{audit['output']}{qid}.csv"
    assert q["QueryExecutionContext"]["Database"] == audit["database"]
    assert q["WorkGroup"] == "primary"
    assert q["StatementType"] == "DML"
    assert rows(athena, qid) == [["event_id"], ["e1"]]
    ids = athena.list_query_executions(MaxResults=50)["QueryExecutionIds"]
    assert qid in ids


def test_unknown_query_and_workgroup(athena, audit):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        athena.get_query_execution(QueryExecutionId=str(uuid.uuid4()))
    assert e.value.response["Error"]["Code"] == "InvalidRequestException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        start(athena, audit, "SELECT 1", WorkGroup="nope")
    assert e.value.response["Error"]["Code"] == "InvalidRequestException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        athena.start_query_execution(QueryString="SELECT 1")
    assert "output location" in e.value.response["Error"]["Message"]


def test_client_request_token_idempotency(athena, audit):
    token = uuid.uuid4().hex + uuid.uuid4().hex
    a = start(athena, audit, "SELECT 1", ClientRequestToken=token)
    b = start(athena, audit, "SELECT 1", ClientRequestToken=token)
    assert a == b
    c = start(athena, audit, "SELECT 1")
    assert c != a
    with pytest.raises(botocore.exceptions.ClientError) as e:
        start(athena, audit, "SELECT 2", ClientRequestToken=token)
    assert e.value.response["Error"]["Code"] == "InvalidRequestException"


def test_result_reuse(athena, audit):
    query = f"SELECT count(*) FROM orders_audit /* {uuid.uuid4().hex} */"
    reuse = {"ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": 10}}
    first = run(athena, audit, query, ResultReuseConfiguration=reuse)
    second = run(athena, audit, query, ResultReuseConfiguration=reuse)
    third = run(athena, audit, query)
    assert first["Statistics"]["ResultReuseInformation"]["ReusedPreviousResult"] is False
    assert second["Statistics"]["ResultReuseInformation"]["ReusedPreviousResult"] is True
    assert second["Statistics"]["DataScannedInBytes"] == 0
    assert first["Statistics"]["DataScannedInBytes"] > 0
    assert second["ResultConfiguration"]["OutputLocation"] == first["ResultConfiguration"]["OutputLocation"]
    assert rows(athena, second["QueryExecutionId"]) == rows(athena, first["QueryExecutionId"])
    assert third["Statistics"]["ResultReuseInformation"]["ReusedPreviousResult"] is False
    assert third["Statistics"]["DataScannedInBytes"] == first["Statistics"]["DataScannedInBytes"]


def test_stop_query_execution_cancels(athena, audit, emulator):
    emulator.configure(athena_min_query_ms=20000)
    try:
        qid = start(athena, audit, "SELECT count(*) FROM orders_audit")
        time.sleep(0.2)
        t0 = time.time()
        athena.stop_query_execution(QueryExecutionId=qid)
        q = wait(athena, qid, timeout=5)
    finally:
        emulator.configure(athena_min_query_ms=0)
    assert q["Status"]["State"] == "CANCELLED"
    assert time.time() - t0 < 5
    with pytest.raises(botocore.exceptions.ClientError) as e:
        athena.get_query_results(QueryExecutionId=qid)
    assert e.value.response["Error"]["Code"] == "InvalidRequestException"
    # stopping a finished query changes nothing
    athena.stop_query_execution(QueryExecutionId=qid)
    assert wait(athena, qid)["Status"]["State"] == "CANCELLED"


def test_stop_cancels_the_engine_statement(athena, audit):
    # pg_sleep is not Trino, but a long cross join is: stop it mid-run
    qid = start(athena, audit, "SELECT count(*) FROM UNNEST(sequence(1, 20000)) AS a(x) "
                               "CROSS JOIN UNNEST(sequence(1, 20000)) AS b(y) WHERE x * y = 7")
    deadline = time.time() + 5
    while athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]["State"] != "RUNNING":
        assert time.time() < deadline
        time.sleep(0.02)
    time.sleep(0.3)
    t0 = time.time()
    athena.stop_query_execution(QueryExecutionId=qid)
    assert wait(athena, qid)["Status"]["State"] == "CANCELLED"
    # the engine is free again: a new query runs at once
    q = run(athena, audit, "SELECT 1")
    assert q["Status"]["State"] == "SUCCEEDED"
    assert time.time() - t0 < 10


def test_output_bucket_must_exist(athena, audit):
    q = run(athena, audit, "SELECT 1",
            ResultConfiguration={"OutputLocation": f"s3://{audit['bucket']}-missing/out/"})
    assert q["Status"]["State"] == "FAILED"
    assert q["Status"]["StateChangeReason"] == \
        f"Unable to verify/create output bucket {audit['bucket']}-missing"
    q = run(athena, audit, "SELECT 1", ResultConfiguration={"OutputLocation": "/tmp/out/"})
    assert q["Status"]["State"] == "FAILED"


# ---------------------------------------------------------------------------
# Trino's dialect


@pytest.mark.parametrize("query", ["SELEC 1", "SELECT FROM orders_audit", "SELECT 1 +",
                                   "SELECT `event_id` FROM orders_audit", "SELECT 1; SELECT 2"])
def test_invalid_trino_is_a_syntax_error(athena, audit, query):
    assert failure(athena, audit, query).startswith("SYNTAX_ERROR: line 1:")


@pytest.mark.parametrize("query,col", [
    ("SELECT n::varchar FROM orders_audit", 9),
    ("SELECT event_id FROM orders_audit WHERE event_id ILIKE 'E%'", 50),
    ("SELECT event_id FROM orders_audit WHERE event_id ~ 'e'", 50),
    ("SELECT event_id FROM orders_audit WHERE event_id ~* 'E'", 50),
    ("SELECT event_id FROM orders_audit WHERE event_id !~ 'e'", 50),
    ("SELECT event_id FROM orders_audit WHERE event_id !~* 'E'", 50),
    ("SELECT E'a\\tb'", 8),
    ("SELECT event_id FROM orders_audit WHERE n = $1", 45),
])
def test_postgresql_only_constructs_are_syntax_errors(athena, audit, query, col):
    reason = failure(athena, audit, query)
    assert reason.startswith(f"SYNTAX_ERROR: line 1:{col}: "), reason


def test_type_mismatch(athena, audit):
    assert failure(athena, audit, "SELECT 1 FROM orders_audit WHERE n = '1'").startswith(
        "TYPE_MISMATCH: line 1:")
    assert failure(athena, audit, "SELECT 1 FROM orders_audit WHERE event_id = 1").startswith(
        "TYPE_MISMATCH: line 1:")
    assert failure(athena, audit, "SELECT 1 FROM orders_audit WHERE event_time > '2024-01-01'") \
        .startswith("TYPE_MISMATCH: line 1:")


def test_unknown_names(athena, audit):
    assert failure(athena, audit, "SELECT to_char(n) FROM orders_audit") == \
        "FUNCTION_NOT_FOUND: line 1:8: Function 'to_char' not registered"
    assert failure(athena, audit, "SELECT x FROM nope").startswith(
        f"TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.{audit['database']}.nope' does not exist")
    assert failure(athena, audit, "SELECT nope FROM orders_audit").startswith(
        "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved")


# ---------------------------------------------------------------------------
# Trino's semantics where PostgreSQL's differ


STRINGS = "VALUES ('a'), ('B'), ('é'), ('Z'), ('_'), ('a\\b'), ('a%b'), (NULL)"


def test_text_compares_by_code_point(athena, audit):
    got = values(athena, audit, f"SELECT s FROM ({STRINGS}) AS t(s) WHERE s IS NOT NULL "
                                "ORDER BY s")
    assert [r[0] for r in got] == ["B", "Z", "_", "a", "a%b", "a\\b", "é"]
    assert values(athena, audit, "SELECT 'Z' < 'a', 'é' > 'z'") == [["true", "true"]]


def test_nulls_last_by_default_both_directions(athena, audit):
    asc = values(athena, audit, "SELECT n FROM orders_audit ORDER BY n")
    desc = values(athena, audit, "SELECT n FROM orders_audit ORDER BY n DESC")
    first = values(athena, audit, "SELECT n FROM orders_audit ORDER BY n DESC NULLS FIRST")
    assert [r[0] for r in asc] == ["1", "2", "4", "5", None]
    assert [r[0] for r in desc] == ["5", "4", "2", "1", None]
    assert [r[0] for r in first] == [None, "5", "4", "2", "1"]


def test_like_has_no_default_escape(athena, audit):
    # a backslash is an ordinary character unless ESCAPE names it
    got = values(athena, audit, f"SELECT s FROM ({STRINGS}) AS t(s) WHERE s LIKE 'a\\%' ORDER BY s")
    assert [r[0] for r in got] == ["a\\b"]
    got = values(athena, audit, f"SELECT s FROM ({STRINGS}) AS t(s) WHERE s LIKE 'a\\%%' ESCAPE '\\' "
                                "ORDER BY s")
    assert [r[0] for r in got] == ["a%b"]


def test_timestamps_and_integer_semantics(athena, audit):
    got = values(athena, audit,
                 "SELECT event_time, 7 / 2, -7 / 2, avg(n) OVER (), "
                 "date_trunc('hour', event_time) FROM orders_audit "
                 "WHERE event_time = TIMESTAMP '2024-01-15 10:10:00.250' AND n = 1")
    assert got == [["2024-01-15 10:10:00.250", "3", "-3", "1.0", "2024-01-15 10:00:00.000"]]


def test_structs_case_insensitive_keys_and_json(athena, audit):
    got = values(athena, audit,
                 "SELECT event_id, new_image.state, r.new_image.orderid, event_name, "
                 "json_format(CAST(new_image AS JSON)) FROM orders_audit r ORDER BY event_id")
    assert got[0] == ["e1", "OPEN", "101", "MODIFY", '{"orderid":"101","state":"OPEN"}']
    # keys matched case-insensitively; missing keys are NULL
    assert got[4] == ["e5", None, None, "REMOVE", None]


# ---------------------------------------------------------------------------
# partition projection and bytes scanned


def test_pruning_reflected_in_data_scanned(athena, audit):
    sizes = audit["sizes"]
    read = sizes["2024/01/15/10/a.json"] + sizes["2024/01/15/11/b.json"] + sizes["2024/01/15/12/c.json"]
    q = run(athena, audit, "SELECT count(*) FROM orders_audit")
    assert q["Statistics"]["DataScannedInBytes"] == read
    assert rows(athena, q["QueryExecutionId"])[1] == ["5"]
    q = run(athena, audit, "SELECT count(*) FROM orders_audit WHERE dt = '2024/01/15/11'")
    assert q["Statistics"]["DataScannedInBytes"] == sizes["2024/01/15/11/b.json"]
    assert rows(athena, q["QueryExecutionId"])[1] == ["1"]
    q = run(athena, audit, "SELECT count(*) FROM orders_audit r1 WHERE r1.dt >= '2024/01/15/11' "
                           "AND event_id <> 'x'")
    assert q["Statistics"]["DataScannedInBytes"] == \
        sizes["2024/01/15/11/b.json"] + sizes["2024/01/15/12/c.json"]
    # a predicate mixing partition and data columns cannot prune
    q = run(athena, audit, "SELECT count(*) FROM orders_audit WHERE dt = '2024/01/15/11' OR n = 1")
    assert q["Statistics"]["DataScannedInBytes"] == read
    assert rows(athena, q["QueryExecutionId"])[1] == ["2"]
    q = run(athena, audit, "SELECT count(*) FROM orders_audit WHERE dt = '2030/01/01/00'")
    assert q["Statistics"]["DataScannedInBytes"] == 0
    assert rows(athena, q["QueryExecutionId"])[1] == ["0"]


def test_partition_column_values(athena, audit):
    got = values(athena, audit, "SELECT DISTINCT dt FROM orders_audit ORDER BY dt")
    assert got == [["2024/01/15/10"], ["2024/01/15/11"], ["2024/01/15/12"]]


def test_malformed_and_concatenated_json(athena, audit, glue):
    s3 = audit["s3"]
    db = audit["database"]
    glue.create_table(DatabaseName=db, TableInput={
        "Name": "raw", "StorageDescriptor": {
            "Columns": [{"Name": "a", "Type": "int"}], "Location": f"s3://{audit['bucket']}/raw/",
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}}})
    # records concatenated without a newline: the SerDe sees the first of each line
    s3.put_object(Bucket=audit["bucket"], Key="raw/x.json", Body=b'{"a":1}{"a":2}{"a":3}\n{"a":4}\n')
    assert values(athena, audit, "SELECT a FROM raw ORDER BY a") == [["1"], ["4"]]
    s3.put_object(Bucket=audit["bucket"], Key="raw/y.json", Body=b'{"a":5}\nnot json\n')
    assert failure(athena, audit, "SELECT a FROM raw").startswith("HIVE_CURSOR_ERROR: ")
    s3.put_object(Bucket=audit["bucket"], Key="raw/y.json", Body=b'{"a":"five"}\n')
    assert failure(athena, audit, "SELECT a FROM raw").startswith("HIVE_BAD_DATA: ")
    s3.delete_object(Bucket=audit["bucket"], Key="raw/y.json")
    assert values(athena, audit, "SELECT count(*) FROM raw") == [["2"]]
    # a NUL character (PostgreSQL's text cannot hold it) does not fail the read
    s3.put_object(Bucket=audit["bucket"], Key="raw/z.json", Body=b'{"a": 6, "b": "x\\u0000y"}\n')
    assert values(athena, audit, "SELECT count(*) FROM raw") == [["3"]]


# ---------------------------------------------------------------------------
# results


def test_result_csv_format(athena, audit):
    q = run(athena, audit, "SELECT * FROM (VALUES (1, 'plain', 'say \"hi\", ok', NULL, '', "
                           "'ünïcödé ✓', true, 1.5e0, DATE '2024-02-29', ARRAY['x', 'y'])) "
                           "AS t(i, s, quoted, nul, empty, uni, b, d, day, arr)")
    assert q["Status"]["State"] == "SUCCEEDED", q["Status"].get("StateChangeReason")
    text = csv_of(audit, q)
    assert text == ('"i","s","quoted","nul","empty","uni","b","d","day","arr"\n'
                    '"1","plain","say ""hi"", ok",,"","ünïcödé ✓","true","1.5","2024-02-29","[x, y]"\n')
    got = rows(athena, q["QueryExecutionId"])
    assert got[1] == ["1", "plain", 'say "hi", ok', None, "", "ünïcödé ✓", "true", "1.5",
                      "2024-02-29", "[x, y]"]
    r = athena.get_query_results(QueryExecutionId=q["QueryExecutionId"])
    info = r["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [c["Type"] for c in info] == ["integer", "varchar", "varchar", "varchar", "varchar",
                                         "varchar", "boolean", "double", "date", "array"]
    assert info[0]["Name"] == "i" and info[0]["Nullable"] == "UNKNOWN"
    assert r["ResultSet"]["Rows"][1]["Data"][3] == {}
    loc = q["ResultConfiguration"]["OutputLocation"]
    bucket, key = loc[len("s3://"):].split("/", 1)
    meta = audit["s3"].head_object(Bucket=bucket, Key=key + ".metadata")
    assert meta["ContentLength"] > 0


def test_get_query_results_pagination(athena, audit):
    q = run(athena, audit, "SELECT x, CAST(x AS varchar) || '\n,\"' AS s "
                           "FROM UNNEST(sequence(1, 2500)) AS t(x) ORDER BY x")
    qid = q["QueryExecutionId"]
    pages = []
    token = None
    while True:
        kw = {"QueryExecutionId": qid}
        if token:
            kw["NextToken"] = token
        r = athena.get_query_results(**kw)
        pages.append([[d.get("VarCharValue") for d in row["Data"]] for row in r["ResultSet"]["Rows"]])
        token = r.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [1000, 1000, 501]
    assert pages[0][0] == ["x", "s"]
    data = [row for p in pages for row in p][1:]
    assert data == [[str(i), f'{i}\n,"'] for i in range(1, 2501)]
    small = rows(athena, qid, MaxResults=7)
    assert small == [["x", "s"]] + data
    with pytest.raises(botocore.exceptions.ClientError) as e:
        athena.get_query_results(QueryExecutionId=qid, MaxResults=1001)
    assert e.value.response["Error"]["Code"] in ("InvalidRequestException", "ValidationException")


def test_projection_range_relative_to_now(athena, audit, glue, emulator):
    import datetime
    s3 = audit["s3"]
    # NOW is the emulator's clock (other suites advance it)
    now = datetime.datetime.utcfromtimestamp(emulator._call("GET", "clock")["now"])
    glue.create_table(DatabaseName=audit["database"], TableInput={
        "Name": "recent", "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}],
                              "Location": f"s3://{audit['bucket']}/recent/",
                              "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}},
        "Parameters": {"projection.enabled": "true", "projection.dt.type": "date",
                       "projection.dt.format": "yyyy/MM/dd/HH", "projection.dt.range": "NOW-1DAYS,NOW",
                       "projection.dt.interval": "1", "projection.dt.interval.unit": "HOURS",
                       "storage.location.template": f"s3://{audit['bucket']}/recent/${{dt}}/"}})
    for delta, value in ((0, 1), (5, 2), (72, 3)):
        folder = (now - datetime.timedelta(hours=delta)).strftime("%Y/%m/%d/%H")
        s3.put_object(Bucket=audit["bucket"], Key=f"recent/{folder}/x.json", Body=b'{"a": %d}\n' % value)
    # the current hour and five hours ago are projected; three days ago is not
    assert values(athena, audit, "SELECT a FROM recent ORDER BY a") == [["1"], ["2"]]


def test_and_binds_tighter_than_or(athena, audit):
    got = values(athena, audit, "SELECT event_id FROM orders_audit "
                                "WHERE n = 1 OR n = 2 AND event_id = 'e9' ORDER BY event_id")
    assert got == [["e1"]]
    got = values(athena, audit, "SELECT event_id FROM orders_audit "
                                "WHERE NOT n = 1 AND n < 3 ORDER BY event_id")
    assert got == [["e2"]]
    assert values(athena, audit, "SELECT 2 + 3 * 4, (2 + 3) * 4, 10 - 2 - 3, 1.50 + 1") == \
        [["14", "20", "5", "2.50"]]


def test_trino_casts_arithmetic_and_functions(athena, audit):
    got = values(athena, audit,
                 "SELECT CAST(1 AS varchar), CAST(3e0 AS varchar), CAST(12.50 AS varchar), "
                 "CAST(DATE '2024-01-15' AS varchar), CAST(true AS varchar), "
                 "CAST(TIMESTAMP '2024-01-15 10:00:00.5' AS varchar), "
                 "1e0 / 0, -1e0 / 0, 7 / 2, 7.0 / 2, 5 % 3, "
                 "substr('abc', 0), substr('abc', -2), round(2.5e0), round(-2.5e0), "
                 "greatest(1, NULL), concat('a', 'b', 'c'), try_cast('x' AS integer)")
    assert got == [["1", "3.0", "12.50", "2024-01-15", "true", "2024-01-15 10:00:00.500",
                    "Infinity", "-Infinity", "3", "3.5", "2",
                    "", "bc", "3.0", "-3.0", None, "abc", None]]
    assert failure(athena, audit, "SELECT 1 / 0") == "DIVISION_BY_ZERO: Division by zero"
    assert failure(athena, audit, "SELECT CAST('x' AS integer)").startswith("INVALID_CAST_ARGUMENT: ")
    assert failure(athena, audit, "SELECT event_id FROM orders_audit LIMIT 1 OFFSET 1").startswith(
        "SYNTAX_ERROR: line 1:43: ")
    assert values(athena, audit, "SELECT event_id FROM orders_audit ORDER BY event_id "
                                 "OFFSET 1 LIMIT 1") == [["e2"]]


def test_execution_parameters(athena, audit):
    q = run(athena, audit, "SELECT event_id FROM orders_audit WHERE n = ? AND event_id <> ?",
            ExecutionParameters=["2", "'x'"])
    assert q["Status"]["State"] == "SUCCEEDED", q["Status"].get("StateChangeReason")
    assert rows(athena, q["QueryExecutionId"]) == [["event_id"], ["e2"]]
    q = run(athena, audit, "SELECT event_id FROM orders_audit WHERE n = ?")
    assert q["Status"]["State"] == "FAILED"


def test_struct_null_tests_and_typed_literals(athena, audit, glue):
    s3 = audit["s3"]
    glue.create_table(DatabaseName=audit["database"], TableInput={
        "Name": "structs", "StorageDescriptor": {
            "Columns": [{"Name": "s", "Type": "struct<a:int,b:string>"},
                        {"Name": "amount", "Type": "decimal(10,2)"}],
            "Location": f"s3://{audit['bucket']}/structs/",
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}}})
    s3.put_object(Bucket=audit["bucket"], Key="structs/x.json",
                  Body=b'{"s": {"a": null, "b": null}, "amount": 12.5}\n{"s": null}\n{}\n'
                       b'{"s": {"a": 1}, "amount": 12.49}\n')
    # a row whose fields are all NULL is not NULL itself
    assert values(athena, audit, "SELECT count(*) FROM structs WHERE s IS NULL") == [["2"]]
    assert values(athena, audit, "SELECT count(*) FROM structs WHERE s IS NOT NULL") == [["2"]]
    assert values(athena, audit, "SELECT json_format(CAST(s AS JSON)), s FROM structs "
                                 "WHERE s.a IS NULL AND s IS NOT NULL") == \
        [['{"a":null,"b":null}', "{a=null, b=null}"]]
    # DECIMAL '12.50' is decimal(4,2), not decimal(38,0)
    assert values(athena, audit, "SELECT amount FROM structs WHERE amount < DECIMAL '12.50'") == \
        [["12.49"]]


def test_integer_widths_and_decimal_scales_of_columns(athena, audit, glue):
    """Columns compute at their Glue types as Trino types them: tinyint
    overflows at 127, decimal(p,s) results take Trino's scales and fail past
    38 digits (Trino's TinyintOperators and DecimalOperators; the
    expressions' own cases are in data/trino_oracle.json)."""
    s3 = audit["s3"]
    glue.create_table(DatabaseName=audit["database"], TableInput={
        "Name": "widths", "StorageDescriptor": {
            "Columns": [{"Name": "t", "Type": "tinyint"}, {"Name": "s", "Type": "smallint"},
                        {"Name": "d", "Type": "decimal(38,36)"}, {"Name": "m", "Type": "decimal(10,2)"}],
            "Location": f"s3://{audit['bucket']}/widths/",
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}}})
    s3.put_object(Bucket=audit["bucket"], Key="widths/x.json",
                  Body=b'{"t": 39, "s": 100, "d": 12.5, "m": 100.00}\n')
    q = run(athena, audit, "SELECT t, t + t, s * s, m / 3, m * m FROM widths")
    assert q["Status"]["State"] == "SUCCEEDED", q["Status"].get("StateChangeReason")
    got = athena.get_query_results(QueryExecutionId=q["QueryExecutionId"])["ResultSet"]
    assert [c["Type"] for c in got["ResultSetMetadata"]["ColumnInfo"]] == \
        ["tinyint", "tinyint", "smallint", "decimal", "decimal"]
    assert [d.get("VarCharValue") for d in got["Rows"][1]["Data"]] == \
        ["39", "78", "10000", "33.33", "10000.0000"]
    assert failure(athena, audit, "SELECT t * t FROM widths") == \
        "NUMERIC_VALUE_OUT_OF_RANGE: tinyint multiplication overflow: 39 * 39"
    assert failure(athena, audit, "SELECT -(t - t - t - t - t) * t FROM widths").startswith(
        "NUMERIC_VALUE_OUT_OF_RANGE: ")
    # a tinyint with a wider integer computes at the wider width
    assert values(athena, audit, "SELECT t * 100, t * s FROM widths") == [["3900", "3900"]]
    # decimal(38,36) + decimal(37,37) is decimal(38,37): 12.5 needs 39 digits
    assert failure(athena, audit, "SELECT d + DECIMAL '0.0000000000000000000000000000000000001' "
                                  "FROM widths") == "NUMERIC_VALUE_OUT_OF_RANGE: Decimal overflow"
    assert values(athena, audit, "SELECT d + DECIMAL '0.000000000000000000000000000000000001' "
                                 "FROM widths") == [["12.500000000000000000000000000000000001"]]
    assert failure(athena, audit, "SELECT CAST(s * 2 AS tinyint) FROM widths").startswith(
        "NUMERIC_VALUE_OUT_OF_RANGE: ")
    assert values(athena, audit, "SELECT sum(m), avg(m), avg(t) FROM widths") == \
        [["100.00", "100.00", "39.0"]]


def test_queued_beyond_the_concurrency_limit(athena, audit, emulator):
    emulator.configure(athena_min_query_ms=1500, athena_max_concurrent_queries=1)
    try:
        first = start(athena, audit, "SELECT 1")
        second = start(athena, audit, "SELECT 2")
        deadline = time.time() + 5
        while athena.get_query_execution(QueryExecutionId=first)["QueryExecution"]["Status"]["State"] \
                == "QUEUED":
            assert time.time() < deadline
            time.sleep(0.02)
        states = [athena.get_query_execution(QueryExecutionId=q)["QueryExecution"]["Status"]["State"]
                  for q in (first, second)]
        assert states == ["RUNNING", "QUEUED"]
        a, b = wait(athena, first), wait(athena, second)
    finally:
        emulator.configure(athena_min_query_ms=0, athena_max_concurrent_queries=4)
    assert a["Status"]["State"] == b["Status"]["State"] == "SUCCEEDED"
    assert b["Statistics"]["QueryQueueTimeInMillis"] >= 1000
    assert b["Status"]["CompletionDateTime"] >= a["Status"]["CompletionDateTime"]


def test_integer_enum_and_injected_projection(athena, audit, glue):
    s3, bucket, db = audit["s3"], audit["bucket"], audit["database"]

    def table(name, keys, params):
        glue.create_table(DatabaseName=db, TableInput={
            "Name": name, "PartitionKeys": [{"Name": k, "Type": t} for k, t in keys],
            "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}],
                                  "Location": f"s3://{bucket}/{name}/",
                                  "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}},
            "Parameters": dict(params, **{"projection.enabled": "true"})})

    # integer with zero padding and an interval; Hive-style folders (no template)
    table("ints", [("shard", "int")], {"projection.shard.type": "integer",
                                       "projection.shard.range": "0,20", "projection.shard.interval": "5",
                                       "projection.shard.digits": "2"})
    for folder, a in (("shard=00", 1), ("shard=05", 2), ("shard=10", 3), ("shard=7", 9),
                      ("shard=07", 9), ("shard=25", 9)):
        s3.put_object(Bucket=bucket, Key=f"ints/{folder}/x.json", Body=b'{"a": %d}\n' % a)
    assert values(athena, audit, "SELECT shard, a FROM ints ORDER BY shard") == \
        [["0", "1"], ["5", "2"], ["10", "3"]]
    q = run(athena, audit, "SELECT a FROM ints WHERE shard > 3")
    assert sorted(rows(athena, q["QueryExecutionId"])[1:]) == [["2"], ["3"]]
    assert q["Statistics"]["DataScannedInBytes"] == 2 * len(b'{"a": 2}\n')

    # enum, through a template
    table("enums", [("region", "string")], {
        "projection.region.type": "enum", "projection.region.values": "eu,us",
        "storage.location.template": f"s3://{bucket}/enums/r-${{region}}/"})
    for r, a in (("eu", 1), ("us", 2), ("ap", 9)):
        s3.put_object(Bucket=bucket, Key=f"enums/r-{r}/x.json", Body=b'{"a": %d}\n' % a)
    assert values(athena, audit, "SELECT region, a FROM enums ORDER BY region") == \
        [["eu", "1"], ["us", "2"]]

    # injected: the query must name the value
    table("injected", [("tenant", "string")], {
        "projection.tenant.type": "injected",
        "storage.location.template": f"s3://{bucket}/injected/${{tenant}}/"})
    for t, a in (("acme", 1), ("globex", 2)):
        s3.put_object(Bucket=bucket, Key=f"injected/{t}/x.json", Body=b'{"a": %d}\n' % a)
    assert values(athena, audit, "SELECT a FROM injected WHERE tenant = 'globex'") == [["2"]]
    assert failure(athena, audit, "SELECT a FROM injected").startswith("CONSTRAINT_VIOLATION: ")


def test_three_partition_columns_prune_on_an_enum_folder(athena, audit, glue):
    """Attribute folders (README): a third partition column, enum
    over the declared values then _other and _none (folders named with a
    leading underscore are read: they are partition locations, not hidden
    files under one), after an hour and a key bucket.  attribute_folder IN
    (...) counts only those folders' bytes."""
    s3, bucket, db = audit["s3"], audit["bucket"], audit["database"]
    glue.create_table(DatabaseName=db, TableInput={
        "Name": "foldered", "PartitionKeys": [
            {"Name": "datehour", "Type": "string"}, {"Name": "key_bucket", "Type": "string"},
            {"Name": "attribute_folder", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}],
                              "Location": f"s3://{bucket}/foldered/",
                              "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}},
        "Parameters": {
            "projection.enabled": "true",
            "projection.datehour.type": "date", "projection.datehour.format": "yyyy/MM/dd/HH",
            "projection.datehour.range": "2024/01/01/00,2024/12/31/23",
            "projection.datehour.interval": "1", "projection.datehour.interval.unit": "HOURS",
            "projection.key_bucket.type": "enum", "projection.key_bucket.values": "0,1",
            "projection.attribute_folder.type": "enum",
            "projection.attribute_folder.values": "OPEN,DELIVERED,_other,_none",
            "storage.location.template":
                f"s3://{bucket}/foldered/${{datehour}}/${{key_bucket}}/${{attribute_folder}}/"}})
    sizes, lines = {}, {}
    a = 0
    for hour in ("2024/01/01/00", "2024/01/01/01"):
        for b in ("0", "1"):
            for folder in ("OPEN", "DELIVERED", "_other", "_none", "UNDECLARED"):
                a += 1
                body = b'{"a": %d}\n' % a * (a % 3 + 1)
                s3.put_object(Bucket=bucket, Key=f"foldered/{hour}/{b}/{folder}/x.json", Body=body)
                sizes[(hour, b, folder)] = len(body)
                lines[(hour, b, folder)] = a % 3 + 1
    # a folder not projected (UNDECLARED) is never read
    q = run(athena, audit, "SELECT count(DISTINCT attribute_folder) FROM foldered")
    assert rows(athena, q["QueryExecutionId"])[1] == ["4"]
    assert q["Statistics"]["DataScannedInBytes"] == sum(
        n for (_, _, f), n in sizes.items() if f != "UNDECLARED")
    q = run(athena, audit, "SELECT a FROM foldered "
                           "WHERE attribute_folder IN ('DELIVERED', '_other')")
    assert q["Statistics"]["DataScannedInBytes"] == sum(
        n for (_, _, f), n in sizes.items() if f in ("DELIVERED", "_other"))
    q = run(athena, audit, "SELECT a FROM foldered WHERE datehour = '2024/01/01/01' "
                           "AND key_bucket = '1' AND attribute_folder = '_none'")
    assert q["Statistics"]["DataScannedInBytes"] == sizes[("2024/01/01/01", "1", "_none")]
    assert len(rows(athena, q["QueryExecutionId"])) == 1 + lines[("2024/01/01/01", "1", "_none")]


def test_gzip_objects(athena, audit, glue):
    import gzip
    s3 = audit["s3"]
    glue.create_table(DatabaseName=audit["database"], TableInput={
        "Name": "zipped", "StorageDescriptor": {
            "Columns": [{"Name": "a", "Type": "int"}], "Location": f"s3://{audit['bucket']}/zipped/",
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}}})
    data = gzip.compress(b'{"a": 1}\n{"a": 2}\n')
    s3.put_object(Bucket=audit["bucket"], Key="zipped/part.gz", Body=data)
    q = run(athena, audit, "SELECT sum(a) FROM zipped")
    assert rows(athena, q["QueryExecutionId"])[1] == ["3"]
    # Athena counts the compressed bytes it read
    assert q["Statistics"]["DataScannedInBytes"] == len(data)


@pytest.mark.parametrize("query,error", [
    ("SELECT event_id FROM orders_audit WHERE event_id SIMILAR TO 'e%'", "SYNTAX_ERROR"),
    ("SELECT DISTINCT ON (event_name) event_id FROM orders_audit", "SYNTAX_ERROR"),
    ("SELECT event_id FROM orders_audit WHERE (n > 1) IS TRUE", "SYNTAX_ERROR"),
    ("SELECT event_time + INTERVAL '1 day' FROM orders_audit", "SYNTAX_ERROR"),
    ("SELECT CAST(n AS text) FROM orders_audit", "TYPE_NOT_FOUND"),
    ("SELECT event_id FROM orders_audit WHERE n = ANY (ARRAY[1, 2])", "FUNCTION_NOT_FOUND"),
])
def test_more_postgresql_grammar_is_rejected(athena, audit, query, error):
    assert failure(athena, audit, query).startswith(error + ": line 1:")


def test_result_reader_across_read_boundaries():
    import io
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from aws_emulator.athena import read_csv_records
    rows_in = [["h1", "h2"], ["a", None], ["", 'x"y'], ["multi\nline,", None], [None, None],
               ["ünï", "\"\""]]

    def field(v):
        return "" if v is None else '"' + v.replace('"', '""') + '"'
    data = "".join(",".join(field(v) for v in r) + "\n" for r in rows_in).encode()
    for chunk in (1, 2, 3, 7, 64, 1 << 18):
        f = io.BytesIO(data)
        got, offset, done = [], 0, False
        while not done:
            recs, offset, done = read_csv_records(f, offset, 2, chunk=chunk)
            got += recs
        assert got == rows_in, chunk
        assert offset == len(data)


def test_query_execution_context_catalog(athena, audit):
    q = run(athena, audit, "SELECT count(*) FROM orders_audit",
            QueryExecutionContext={"Database": audit["database"], "Catalog": "AwsDataCatalog"})
    assert q["Status"]["State"] == "SUCCEEDED"
    q = run(athena, audit, "SELECT count(*) FROM orders_audit",
            QueryExecutionContext={"Database": audit["database"], "Catalog": "other"})
    assert q["Status"]["StateChangeReason"].startswith("CATALOG_NOT_FOUND: ")


# -- workgroups and the per-query data usage limit ----------------------------------

def test_workgroups_keep_their_settings(athena, emulator):
    name = "wg" + uuid.uuid4().hex[:8]
    athena.create_work_group(Name=name, Description="capped",
                             Configuration={"BytesScannedCutoffPerQuery": 10000000})
    try:
        w = athena.get_work_group(WorkGroup=name)["WorkGroup"]
        assert w["Configuration"]["BytesScannedCutoffPerQuery"] == 10000000
        assert w["Description"] == "capped"
        assert name in [g["Name"] for g in athena.list_work_groups()["WorkGroups"]]
        # botocore's model: the cutoff is at least 10,000,000 bytes (a
        # client that does not check gets the emulator's own refusal)
        raw = emulator.client("athena", parameter_validation=False)
        with pytest.raises(botocore.exceptions.ClientError):
            raw.create_work_group(Name=name + "x",
                                  Configuration={"BytesScannedCutoffPerQuery": 1000})
        # a setting the emulator would not act on is refused, not ignored
        with pytest.raises(botocore.exceptions.ClientError) as e:
            athena.create_work_group(Name=name + "y", Configuration={"ExecutionRole": "arn:aws:iam::123456789012:role/athena"})
        assert "ExecutionRole" in str(e.value)
        with pytest.raises(botocore.exceptions.ClientError):
            athena.create_work_group(Name=name)
        athena.update_work_group(WorkGroup=name, ConfigurationUpdates={
            "RemoveBytesScannedCutoffPerQuery": True})
        assert "BytesScannedCutoffPerQuery" not in \
            athena.get_work_group(WorkGroup=name)["WorkGroup"]["Configuration"]
    finally:
        athena.delete_work_group(WorkGroup=name)
    assert name not in [g["Name"] for g in athena.list_work_groups()["WorkGroups"]]
    with pytest.raises(botocore.exceptions.ClientError):
        athena.get_work_group(WorkGroup=name)
    with pytest.raises(botocore.exceptions.ClientError):
        athena.delete_work_group(WorkGroup="primary")


def test_a_query_over_the_workgroup_cutoff_is_cancelled(athena, glue, emulator):
    """"If any query that runs in the workgroup exceeds the limit, it is
    canceled" (Athena User Guide, "Configure per-query and per-workgroup
    data usage controls"): CANCELLED, with the bytes it scanned."""
    s3 = emulator.client("s3")
    name = "c" + uuid.uuid4().hex[:10]
    s3.create_bucket(Bucket=name)
    glue.create_database(DatabaseInput={"Name": name})
    glue.create_table(DatabaseName=name, TableInput={
        "Name": "t", "StorageDescriptor": {
            "Columns": [{"Name": "s", "Type": "string"}], "Location": f"s3://{name}/t/",
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}}})
    line = json.dumps({"s": "x" * 4000}) + "\n"
    big = (line * (6 * 1024 * 1024 // len(line))).encode()
    s3.put_object(Bucket=name, Key="t/a", Body=big)
    s3.put_object(Bucket=name, Key="t/b", Body=big)
    group = "wg" + uuid.uuid4().hex[:8]
    athena.create_work_group(Name=group,
                             Configuration={"BytesScannedCutoffPerQuery": 10000000})
    try:
        audit = {"database": name, "output": f"s3://{name}/results/"}
        q = run(athena, audit, "SELECT count(*) FROM t", WorkGroup=group)
        assert q["Status"]["State"] == "CANCELLED"
        assert "BytesScannedCutoffPerQuery" in q["Status"]["StateChangeReason"]
        assert q["Statistics"]["DataScannedInBytes"] == 2 * len(big)
        # under the cutoff, or in another workgroup, the same data is read
        assert values(athena, audit, "SELECT count(*) FROM t") == [[str(2 * big.count(b"\n"))]]
        s3.delete_object(Bucket=name, Key="t/b")
        q = run(athena, audit, "SELECT count(*) FROM t", WorkGroup=group)
        assert q["Status"]["State"] == "SUCCEEDED"
    finally:
        athena.delete_work_group(WorkGroup=group)


# ---------------------------------------------------------------------------
# ROW, array_agg with FILTER and UNNEST (audit_fdw's self-join in one scan)


def test_unnest_of_rows_as_trino_documents_it(athena, audit):
    # trinodb/trino docs/src/main/sphinx/sql/select.md, UNNEST: an array of
    # ROW expands each field into a column; an empty or a NULL array gives
    # no row; UNNEST in a CROSS JOIN reads the columns on its left
    assert values(athena, audit, "SELECT * FROM UNNEST(ARRAY[ROW('Java', 1995), "
                  "ROW('SQL', 1974)]) AS t(language, first_appeared_year)") == \
        [["Java", "1995"], ["SQL", "1974"]]
    assert values(athena, audit, "SELECT * FROM UNNEST(CAST(NULL AS ARRAY(integer))) "
                  "AS t(number)") == []
    assert values(athena, audit, "SELECT student, score FROM (VALUES ('John', ARRAY[7, 10, 9]), "
                  "('Mary', ARRAY[4, 8, 9])) AS tests (student, scores) "
                  "CROSS JOIN UNNEST(scores) AS t(score) ORDER BY 1, 2") == \
        [["John", "7"], ["John", "9"], ["John", "10"], ["Mary", "4"], ["Mary", "8"], ["Mary", "9"]]


def test_rows_of_each_key_crossed_in_one_scan(athena, audit):
    """The shape audit_fdw sends for a self-join: per key, the rows of each
    side as array_agg(ROW(...)) FILTER (WHERE ...) (NULL when no row of the
    key matches: trinodb/trino docs/src/main/sphinx/functions/aggregate.md,
    aggregates return null for no input rows), crossed by UNNEST; the table
    is read once."""
    sizes = audit["sizes"]
    q = run(athena, audit, """
        SELECT r1.event_id, r1.new_image.state, r2.event_id, r2.n FROM (
          SELECT new_image.orderid AS k,
                 array_agg(ROW(event_id, new_image)) FILTER (WHERE n IS NULL OR n < 3) AS a1,
                 array_agg(ROW(n, event_id)) FILTER (WHERE event_name = 'MODIFY') AS a2
            FROM orders_audit
           WHERE ((n IS NULL OR n < 3) OR event_name = 'MODIFY')
             AND (dt >= '2024/01/15/10' OR dt <= '2024/01/15/11') AND new_image.orderid IS NOT NULL
           GROUP BY new_image.orderid) g
        CROSS JOIN UNNEST(g.a1) AS r1(event_id, new_image)
        CROSS JOIN UNNEST(g.a2) AS r2(n, event_id)
        WHERE r1.event_id <> r2.event_id ORDER BY 1, 3""")
    assert q["Status"]["State"] == "SUCCEEDED", q["Status"].get("StateChangeReason")
    assert q["Statistics"]["DataScannedInBytes"] == \
        sizes["2024/01/15/10/a.json"] + sizes["2024/01/15/11/b.json"] + sizes["2024/01/15/12/c.json"]
    # order 101: e1, e2, e3 on the left, e1, e2, e3 on the right; order
    # 102's e4 (n = 4) has no left row; e5 has no key
    assert rows(athena, q["QueryExecutionId"])[1:] == [
        ["e1", "OPEN", "e2", "2"], ["e1", "OPEN", "e3", None],
        ["e2", "PICKEDUP", "e1", "1"], ["e2", "PICKEDUP", "e3", None],
        ["e3", "DELIVERED", "e1", "1"], ["e3", "DELIVERED", "e2", "2"]]
    assert values(athena, audit, "SELECT array_agg(ROW(n)) FILTER (WHERE n > 100) IS NULL, "
                  "count(*) FROM orders_audit") == [["true", "5"]]
