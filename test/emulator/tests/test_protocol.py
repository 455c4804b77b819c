"""The wire: signatures, credentials, validation, error shapes, routing."""
import http.client
import json
from urllib.parse import urlsplit

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest

from helpers import raw_request


def raw_json(emulator, target, body, **kw):
    status, headers, data = raw_request(emulator, target, body, **kw)
    return status, headers, json.loads(data) if data else None


def test_bad_signature_refused_json(emulator):
    bad = emulator.client("dynamodb", aws_secret_access_key="wrong")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.list_tables()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.value.response["ResponseMetadata"]["RequestId"]
    bad = emulator.client("firehose", aws_secret_access_key="wrong")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.list_delivery_streams()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_bad_signature_refused_s3_and_sts(emulator):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emulator.client("s3", aws_secret_access_key="wrong").list_buckets()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emulator.client("sts", aws_secret_access_key="wrong").get_caller_identity()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_unknown_access_key_refused(emulator):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emulator.client("dynamodbstreams", aws_access_key_id="AKIDUNKNOWN").list_streams()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emulator.client("s3", aws_access_key_id="AKIDUNKNOWN").list_buckets()
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emulator.client("sts", aws_access_key_id="AKIDUNKNOWN").get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_any_region_signs(emulator):
    emulator.client("dynamodb", region_name="eu-west-1").list_tables()


def test_streams_signed_as_dynamodb(emulator):
    # DynamoDB Streams signs as "dynamodb"; a scope naming another service
    # is refused
    status, headers, body = raw_json(emulator, "DynamoDBStreams_20120810.ListStreams",
                                     b"{}", signing="streams.dynamodb")
    assert status == 400
    assert body["__type"].endswith("#InvalidSignatureException")
    assert "scoped to correct service" in body["message"]
    status, _, body = raw_json(emulator, "DynamoDBStreams_20120810.ListStreams", b"{}")
    assert status == 200 and "Streams" in body


def test_tampered_body_refused(emulator):
    u = urlsplit(emulator.url)
    body = b'{"Limit": 1}'
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=emulator.url + "/", data=body,
        headers={"X-Amz-Target": "DynamoDB_20120810.ListTables",
                 "Content-Type": "application/x-amz-json-1.0"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"),
                            "dynamodb", "us-east-1").add_auth(req)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request("POST", "/", body=b'{"Limit": 2}', headers=dict(req.headers.items()))
    resp = conn.getresponse()
    data = json.loads(resp.read())
    assert resp.status == 400
    assert data["__type"].endswith("#InvalidSignatureException")


def test_missing_authentication(emulator):
    status, headers, body = raw_json(emulator, "DynamoDB_20120810.ListTables", b"{}",
                                     sign=False)
    assert status == 400
    assert body["__type"].endswith("#MissingAuthenticationTokenException")


def test_malformed_json_is_serialization_exception(emulator):
    status, headers, body = raw_json(emulator, "DynamoDB_20120810.ListTables",
                                     b'{"Limit": ')
    assert status == 400
    assert body["__type"] == "com.amazonaws.dynamodb.v20120810#SerializationException"
    assert headers["x-amzn-RequestId"]
    status, headers, body = raw_json(emulator, "DynamoDB_20120810.ListTables",
                                     b'{"Limit": "ten"}')
    assert body["__type"].endswith("#SerializationException")


def test_validation_exception_shape(emulator):
    # Firehose speaks JSON 1.1: __type without a namespace
    status, headers, body = raw_json(emulator, "Firehose_20150804.PutRecordBatch",
                                     json.dumps({"DeliveryStreamName": "x",
                                                 "Records": []}).encode(),
                                     version="1.1", signing="firehose")
    assert status == 400
    assert body["__type"] == "ValidationException"
    assert "records" in body["message"] and "greater than or equal to 1" in body["message"]
    status, headers, body = raw_json(emulator, "DynamoDB_20120810.GetItem",
                                     b'{"Key": {"k": {"S": "v"}}}')
    assert body["__type"].endswith("#ValidationException")
    assert "tableName" in body["message"] and "must not be null" in body["message"]


def test_unknown_operation(emulator):
    status, headers, body = raw_json(emulator, "DynamoDB_20120810.FlyToTheMoon", b"{}")
    assert status == 400
    assert body["__type"].endswith("UnknownOperationException")
    status, headers, body = raw_json(emulator, "NoSuchService_2020.Op", b"{}")
    assert status == 400
    assert body["__type"].endswith("UnknownOperationException")


def test_request_log(emulator, uid):
    ddb = emulator.client("dynamodb")
    with pytest.raises(botocore.exceptions.ClientError):
        ddb.describe_table(TableName=uid)
    reqs = emulator.requests("dynamodb", "DescribeTable")
    mine = [r for r in reqs if r["input"] and r["input"].get("TableName") == uid]
    assert len(mine) == 1
    assert mine[0]["status"] == 400
    assert mine[0]["error"] == "ResourceNotFoundException"


def test_control_errors(emulator):
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as e:
        emulator.add_fault(service="firehose", nonsense=1)
    assert e.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as e:
        emulator._call("GET", "no/such/thing")
    assert e.value.code == 404
    assert emulator._call("GET", "health") == {"ok": True}


def test_config(emulator):
    before = emulator._call("GET", "config")
    try:
        out = emulator.configure(athena_min_query_ms=1234)
        assert out["athena_min_query_ms"] == 1234
    finally:
        emulator.configure(athena_min_query_ms=before["athena_min_query_ms"])


def test_stale_signature_refused(emulator, monkeypatch):
    import datetime
    real = datetime.datetime

    class Past(real):
        @classmethod
        def utcnow(cls):
            return real.utcnow() - datetime.timedelta(minutes=20)

    monkeypatch.setattr(botocore.auth.datetime, "datetime", Past)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emulator.client("dynamodb").list_tables()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert "Signature expired" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emulator.client("s3").list_buckets()
    assert e.value.response["Error"]["Code"] == "RequestTimeTooSkewed"


def test_large_upload_with_expect_continue(emulator, uid):
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=uid)
    data = b"z" * (3 * 1024 * 1024 + 7)
    s3.put_object(Bucket=uid, Key="large", Body=data)
    assert s3.get_object(Bucket=uid, Key="large")["Body"].read() == data


def test_keep_alive(emulator):
    # many requests over one kept-alive connection
    import http.client
    from urllib.parse import urlsplit
    u = urlsplit(emulator.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    for _ in range(5):
        conn.request("GET", "/_emulator/health")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read()) == {"ok": True}
        assert resp.getheader("Connection") != "close"
    conn.close()


def test_request_log_is_kept_per_operation(emulator):
    before = emulator._call("GET", "config")["request_log_size"]
    sts = emulator.client("sts")
    ddb = emulator.client("dynamodb")
    emulator.configure(request_log_size=5)
    try:
        sts.get_caller_identity()
        mine = emulator.requests("sts", "GetCallerIdentity")[-1]["seq"]
        for _ in range(8):      # a busy operation ...
            ddb.list_tables()
        # ... does not push another operation's requests out
        assert emulator.requests("sts", "GetCallerIdentity")[-1]["seq"] == mine
        assert len(emulator.requests("dynamodb", "ListTables")) == 5
        seqs = [r["seq"] for r in emulator.requests()]
        assert seqs == sorted(seqs)
        # a full log still tells which requests came after a mark
        mark = emulator.mark()
        assert mark == max(seqs)
        ddb.list_tables()
        ddb.list_tables()
        after = emulator.requests("dynamodb", "ListTables", since=mark)
        assert [r["seq"] for r in after] == [mark + 1, mark + 2]
        assert len(emulator.requests("dynamodb", "ListTables")) == 5
    finally:
        emulator.configure(request_log_size=before)
