"""Fault injection through the control endpoint."""
import time

import botocore.config
import botocore.exceptions
import pytest

from helpers import raw_request


def test_error_with_count(faults, uid):
    ddb = faults.client("dynamodb")
    fid = faults.add_fault(service="dynamodb", operation="ListTables",
                           error="ThrottlingException", count=2)["id"]
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ddb.list_tables()
        assert e.value.response["Error"]["Code"] == "ThrottlingException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    ddb.list_tables()
    listed = [f for f in faults._call("GET", "faults") if f["id"] == fid][0]
    assert listed["hits"] == 2 and listed["seen"] == 2


def test_5xx_and_skip(faults):
    fh = faults.client("firehose")
    faults.add_fault(service="firehose", operation="ListDeliveryStreams",
                     error="ServiceUnavailableException", skip=1, count=1)
    fh.list_delivery_streams()                       # skipped
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fh.list_delivery_streams()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert e.value.response["Error"]["Code"] == "ServiceUnavailableException"
    fh.list_delivery_streams()


def test_s3_error_shape(faults, uid):
    s3 = faults.client("s3")
    s3.create_bucket(Bucket=uid)
    faults.add_fault(service="s3", operation="ListObjectsV2", error="SlowDown", count=1)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_objects_v2(Bucket=uid)
    assert e.value.response["Error"]["Code"] == "SlowDown"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_probability(faults):
    sts = faults.client("sts")
    faults.add_fault(service="sts", operation="GetCallerIdentity",
                     error="Throttling", probability=0.5)
    fails = 0
    for _ in range(60):
        try:
            sts.get_caller_identity()
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "Throttling"
            fails += 1
    assert 10 < fails < 50
    faults.clear_faults()
    sts.get_caller_identity()


def test_latency(faults):
    ddb = faults.client("dynamodb")
    faults.add_fault(service="dynamodb", operation="ListTables", latency_ms=300, count=1)
    t0 = time.time()
    ddb.list_tables()
    assert time.time() - t0 >= 0.3
    t0 = time.time()
    ddb.list_tables()
    assert time.time() - t0 < 0.3


def test_dropped_connection(faults):
    ddb = faults.client("dynamodb")
    faults.add_fault(service="dynamodb", operation="ListTables", drop_connection=True,
                     count=1)
    with pytest.raises((botocore.exceptions.ConnectionClosedError,
                        botocore.exceptions.EndpointConnectionError)):
        ddb.list_tables()
    ddb.list_tables()


def test_drop_after_processing(faults, uid):
    # the write takes effect, the answer is lost
    ddb = faults.client("dynamodb")
    ddb.create_table(TableName=uid, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    faults.add_fault(service="dynamodb", operation="PutItem", drop_connection=True,
                     when="after", count=1)
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        ddb.put_item(TableName=uid, Item={"pk": {"S": "x"}})
    assert ddb.get_item(TableName=uid, Key={"pk": {"S": "x"}})["Item"] == {"pk": {"S": "x"}}


def test_hostile_body(faults):
    faults.add_fault(service="dynamodbstreams", operation="ListStreams",
                     body="<html>not json", status=200, count=1)
    status, headers, body = raw_request(faults, "DynamoDBStreams_20120810.ListStreams", b"{}")
    assert status == 200 and body == b"<html>not json"
    status, headers, body = raw_request(faults, "DynamoDBStreams_20120810.ListStreams", b"{}")
    assert status == 200 and b'"Streams"' in body
    faults.add_fault(service="firehose", body='{"__type": "Weird", "message": ', status=500,
                     count=1)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        faults.client("firehose").list_delivery_streams()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_truncated_body(faults, uid):
    s3 = faults.client("s3")
    s3.create_bucket(Bucket=uid)
    data = bytes(range(256)) * 400
    s3.put_object(Bucket=uid, Key="big", Body=data)
    faults.add_fault(service="s3", operation="GetObject", truncate_body=1000, count=1)
    r = s3.get_object(Bucket=uid, Key="big")
    assert r["ContentLength"] == len(data)          # the headers promise it all
    with pytest.raises(Exception):
        r["Body"].read()
    # the rest is still there, by range
    r = s3.get_object(Bucket=uid, Key="big", Range="bytes=1000-")
    assert r["Body"].read() == data[1000:]


def _raw_socket_response(faults, target, body=b"{}"):
    """Send a signed JSON request over a bare socket and read until the
    server closes: (raw bytes, seconds taken).  What a hostile server sends
    is seen byte for byte, framing included."""
    import socket
    from urllib.parse import urlsplit

    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    u = urlsplit(faults.url)
    h = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"}
    req = botocore.awsrequest.AWSRequest(method="POST", url=faults.url + "/", data=body,
                                         headers=h)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"),
                            "dynamodb", "us-east-1").add_auth(req)
    lines = ["POST / HTTP/1.1", "Host: %s:%d" % (u.hostname, u.port),
             "Content-Length: %d" % len(body), "Connection: close"]
    lines += ["%s: %s" % kv for kv in req.headers.items() if kv[0].lower() != "host"]
    start = time.time()
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data, time.time() - start


def test_wrong_content_length(faults):
    faults.add_fault(service="dynamodbstreams", operation="ListStreams",
                     body='{"Streams": []}', content_length=500, count=1)
    data, _ = _raw_socket_response(faults, "DynamoDBStreams_20120810.ListStreams")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 500" in head and b"Connection: close" in head
    assert body == b'{"Streams": []}'                # fewer bytes than promised


def test_wrong_content_length_on_a_real_answer(faults):
    faults.add_fault(service="dynamodbstreams", operation="ListStreams",
                     content_length=3, count=1)
    data, _ = _raw_socket_response(faults, "DynamoDBStreams_20120810.ListStreams")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 3\r\n" in head and len(body) > 3


def test_stall_mid_body(faults):
    faults.add_fault(service="dynamodbstreams", operation="ListStreams",
                     body='{"Streams": []}', stall_after_bytes=5, stall_ms=700, count=1)
    data, took = _raw_socket_response(faults, "DynamoDBStreams_20120810.ListStreams")
    assert data.endswith(b'{"Streams": []}') and took >= 0.7


def test_huge_repeated_body_and_redirect_headers(faults):
    faults.add_fault(service="dynamodbstreams", operation="ListStreams",
                     body_prefix='{"Streams": [], "pad": "', body="x" * 1024, repeat=4096,
                     body_suffix='"}', count=1)
    status, headers, body = raw_request(faults, "DynamoDBStreams_20120810.ListStreams", b"{}")
    assert status == 200 and len(body) == 4096 * 1024 + len('{"Streams": [], "pad": ""}')
    faults.add_fault(service="dynamodbstreams", operation="ListStreams", status=307,
                     body="", headers={"Location": "http://127.0.0.1:9/elsewhere"}, count=1)
    status, headers, body = raw_request(faults, "DynamoDBStreams_20120810.ListStreams", b"{}")
    assert status == 307 and headers["Location"] == "http://127.0.0.1:9/elsewhere"
