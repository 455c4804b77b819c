"""AWS JSON 1.0/1.1 calls (aws_json_call through audit_fdw.aws_request):
the wire shape per service (X-Amz-Target, content type, signing name),
JSON error shapes into PostgreSQL errors, retries of throttling, and
malformed responses.  The endpoint is a small local server that checks
what it receives and answers as the service would."""
import json

import psycopg2
import pytest

from aws_fixtures import LocalServer, create_server

SERVER = "aws_core_json"


class JsonService:
    """Answers from a queue of (status, headers, body); records requests."""

    def __init__(self):
        self.answers = []
        self.seen = []
        self.server = LocalServer(self.handle)

    def handle(self, method, path, headers, body):
        self.seen.append({"method": method, "path": path, "headers": {k.lower(): v for k, v in headers.items()},
                          "body": body})
        status, hdrs, out = self.answers.pop(0) if self.answers else (200, {}, b"{}")
        return status, hdrs, out if isinstance(out, bytes) else json.dumps(out).encode()


@pytest.fixture
def service(db):
    svc = JsonService()
    with db.cursor() as cur:
        create_server(cur, SERVER, svc.server.url)
    yield svc
    svc.server.close()
    with db.cursor() as cur:
        cur.execute("DROP SERVER IF EXISTS %s CASCADE" % SERVER)


def call(db, service, operation, request):
    with db.cursor() as cur:
        cur.execute("SELECT audit_fdw.aws_request(%s, %s, %s, %s)",
                    (SERVER, service, operation, json.dumps(request)))
        return cur.fetchone()[0]


@pytest.mark.parametrize("service,target,content_type,signing_name", [
    ("dynamodb", "DynamoDB_20120810.DescribeTable", "application/x-amz-json-1.0", "dynamodb"),
    ("dynamodbstreams", "DynamoDBStreams_20120810.DescribeTable",
     "application/x-amz-json-1.0", "dynamodb"),
    ("firehose", "Firehose_20150804.DescribeTable", "application/x-amz-json-1.1", "firehose"),
    ("glue", "AWSGlue.DescribeTable", "application/x-amz-json-1.1", "glue"),
    ("athena", "AmazonAthena.DescribeTable", "application/x-amz-json-1.1", "athena"),
])
def test_wire_shape(db, service, target, content_type, signing_name):
    service_obj = service
    svc = JsonService()
    with db.cursor() as cur:
        create_server(cur, SERVER, svc.server.url, region="eu-west-1")
    try:
        svc.answers.append((200, {"x-amzn-RequestId": "rid"}, {"Table": {"ItemCount": 3}}))
        out = call(db, service_obj, "DescribeTable", {"TableName": "Orders", "N": [1, "é"]})
    finally:
        svc.server.close()
    assert out == {"Table": {"ItemCount": 3}}
    req = svc.seen[0]
    assert req["method"] == "POST" and req["path"] == "/"
    assert req["headers"]["x-amz-target"] == target
    assert req["headers"]["content-type"] == content_type
    assert "/eu-west-1/%s/aws4_request" % signing_name in req["headers"]["authorization"]
    assert "x-amz-target" in req["headers"]["authorization"]
    assert json.loads(req["body"]) == {"TableName": "Orders", "N": [1, "é"]}


def test_json_error_shape(db, service):
    service.answers.append((400, {"x-amzn-RequestId": "REQ-404-XYZ",
                                  "Content-Type": "application/x-amz-json-1.0"},
                            {"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                             "message": "Requested resource not found: Table: Orders not found"}))
    with pytest.raises(psycopg2.Error) as exc:
        call(db, "dynamodb", "DescribeTable", {"TableName": "Orders"})
    e = exc.value
    assert e.pgcode == "HV00R"      # fdw_table_not_found
    assert e.diag.message_primary == "aws dynamodb DescribeTable failed: ResourceNotFoundException"
    assert e.diag.message_detail == ("Requested resource not found: Table: Orders not found. "
                                     "HTTP status 400, request id REQ-404-XYZ.")
    assert e.diag.context.startswith("AWS dynamodb DescribeTable request")
    assert len(service.seen) == 1


def test_error_type_header_and_capital_message(db, service):
    service.answers.append((400, {"x-amzn-ErrorType": "AccessDeniedException:http://internal/",
                                  "x-amzn-RequestId": "R2"},
                            {"Message": "User is not authorized to perform athena:GetWorkGroup"}))
    with pytest.raises(psycopg2.Error) as exc:
        call(db, "athena", "GetWorkGroup", {"WorkGroup": "primary"})
    assert exc.value.pgcode == "42501"
    assert exc.value.diag.message_primary == "aws athena GetWorkGroup failed: AccessDeniedException"
    assert "not authorized" in exc.value.diag.message_detail


def test_throttling_retried_then_success(db, service):
    throttle = (400, {"x-amzn-RequestId": "T"},
                {"__type": "ThrottlingException", "message": "Rate exceeded"})
    service.answers += [throttle, throttle,
                        (500, {}, {"__type": "InternalFailure"}),
                        (200, {}, {"Records": []})]
    assert call(db, "dynamodbstreams", "GetRecords", {"ShardIterator": "it"}) == {"Records": []}
    assert len(service.seen) == 4
    # every attempt is signed anew
    dates = {r["headers"]["x-amz-date"] for r in service.seen}
    assert len(dates) >= 1
    assert all(r["headers"]["x-amz-target"] == "DynamoDBStreams_20120810.GetRecords"
               for r in service.seen)


def test_provisioned_throughput_exceeded_is_retried(db, service):
    service.answers += [(400, {}, {"__type": "com.amazonaws.dynamodb.v20120810#"
                                             "ProvisionedThroughputExceededException"}),
                        (200, {}, {"Item": {}})]
    assert call(db, "dynamodb", "GetItem", {"TableName": "t"}) == {"Item": {}}
    assert len(service.seen) == 2


def test_validation_error_is_not_retried(db, service):
    service.answers += [(400, {}, {"__type": "ValidationException", "message": "bad"})] * 3
    with pytest.raises(psycopg2.Error) as exc:
        call(db, "firehose", "PutRecordBatch", {"DeliveryStreamName": "x", "Records": []})
    assert exc.value.pgcode == "22023"
    assert len(service.seen) == 1


def test_response_that_is_not_json(db, service):
    service.answers.append((200, {"x-amzn-RequestId": "BAD"}, b"<html>proxy page</html>"))
    with pytest.raises(psycopg2.Error) as exc:
        call(db, "glue", "GetTables", {"DatabaseName": "audit"})
    assert exc.value.diag.message_primary == \
        "aws glue GetTables returned a response that is not a JSON object"
    assert "BAD" in exc.value.diag.message_detail


def test_hostile_error_bodies(db, service):
    for body in (b"{", b"\x00\xff\xfe", b"[]", b'{"__type": 7}', b"<Error><Code>"):
        service.answers.append((400, {}, body))
        with pytest.raises(psycopg2.Error) as exc:
            call(db, "athena", "GetQueryExecution", {"QueryExecutionId": "q"})
        assert exc.value.diag.message_primary == \
            "aws athena GetQueryExecution failed: BadRequest"


def test_unknown_service(db, service):
    with pytest.raises(psycopg2.Error) as exc:
        call(db, "ec2", "DescribeInstances", {})
    assert exc.value.pgcode == "22023"


def test_deeply_nested_response(db, service):
    # a DynamoDB item 32 maps deep is 64 JSON levels inside its stream record
    deep = {"S": "leaf"}
    for _ in range(40):
        deep = {"M": {"a": deep}}
    body = {"Records": [{"dynamodb": {"NewImage": {"k": deep}}}]}
    service.answers.append((200, {}, body))
    assert call(db, "dynamodbstreams", "GetRecords", {"ShardIterator": "it", "deep": deep}) == body
    assert json.loads(service.seen[0]["body"])["deep"] == deep


def test_slashes_are_not_escaped(db, service):
    call(db, "athena", "StartQueryExecution",
         {"ResultConfiguration": {"OutputLocation": "s3://results/a/b/"}})
    assert b"s3://results/a/b/" in service.seen[0]["body"]
