"""Firehose: delivery streams into S3, object names, concatenation, limits,
partial batch failures."""
import gzip
import re

import botocore.exceptions
import pytest

NAME_RE = r"(\d{4})/(\d{2})/(\d{2})/(\d{2})/%s-1-(\d{4})-(\d{2})-(\d{2})-(\d{2})-\d{2}-\d{2}-" \
          r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}%s$"


@pytest.fixture
def stream(emulator, uid):
    """A delivery stream into a fresh bucket: (firehose, s3, name, bucket)."""
    s3 = emulator.client("s3")
    fh = emulator.client("firehose")
    s3.create_bucket(Bucket=uid)
    fh.create_delivery_stream(
        DeliveryStreamName=uid,
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::000000000000:role/firehose",
            "BucketARN": "arn:aws:s3:::" + uid, "Prefix": "orders/",
            "ErrorOutputPrefix": "errors/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}})
    return fh, s3, uid, uid


def objects(s3, bucket, prefix=""):
    r = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in r.get("Contents", [])]


def test_describe(stream):
    fh, s3, name, bucket = stream
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] == "ACTIVE"
    assert d["DeliveryStreamARN"].endswith(":deliverystream/" + name)
    ext = d["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert ext["Prefix"] == "orders/" and ext["ErrorOutputPrefix"] == "errors/"
    assert ext["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 60}
    assert name in fh.list_delivery_streams(Limit=100)["DeliveryStreamNames"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fh.describe_delivery_stream(DeliveryStreamName=name + "-none")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_object_names_and_concatenation(emulator, stream):
    fh, s3, name, bucket = stream
    fh.put_record(DeliveryStreamName=name, Record={"Data": b'{"a":1}\n'})
    r = fh.put_record_batch(DeliveryStreamName=name,
                            Records=[{"Data": b'{"b":2}'}, {"Data": b'{"c":3}\n'}])
    assert r["FailedPutCount"] == 0 and len(r["RequestResponses"]) == 2
    assert objects(s3, bucket) == []            # buffered until a flush
    keys = emulator.flush_firehose(name)["objects"]
    assert len(keys) == 1 and objects(s3, bucket) == keys
    key = keys[0]
    m = re.match("orders/" + NAME_RE % (re.escape(name), ""), key)
    assert m, key
    assert m.group(1, 2, 3, 4) == m.group(5, 6, 7, 8)   # folder and name agree (UTC)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    # records concatenated as put: no delimiter added
    assert body == b'{"a":1}\n{"b":2}{"c":3}\n'
    assert emulator.flush_firehose(name)["objects"] == []


def test_flush_on_interval(emulator, stream):
    fh, s3, name, bucket = stream
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"x"})
    emulator.advance_clock(59)
    import time
    time.sleep(0.3)
    assert objects(s3, bucket) == []
    emulator.advance_clock(2)
    deadline = time.time() + 3
    while not objects(s3, bucket) and time.time() < deadline:
        time.sleep(0.05)
    assert len(objects(s3, bucket)) == 1


def test_flush_on_size(stream):
    fh, s3, name, bucket = stream
    rec = b"y" * 1000 + b"\n"
    for _ in range(3):
        fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": rec}] * 400)
    keys = objects(s3, bucket)
    assert len(keys) == 1
    assert len(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()) >= 1024 * 1024


def test_batch_limits(stream):
    fh, s3, name, bucket = stream
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x"}] * 501)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fh.put_record_batch(DeliveryStreamName=name,
                            Records=[{"Data": b"x" * (1024000 + 1)}])
    assert e.value.response["Error"]["Code"] == "ValidationException"
    # 1,000 KiB exactly is allowed; five of them exceed 4 MiB
    r = fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x" * 1024000}])
    assert r["FailedPutCount"] == 0
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x" * 1024000}] * 5)
    assert e.value.response["Error"]["Code"] == "InvalidArgumentException"


def test_partial_batch_failures(faults, stream):
    fh, s3, name, bucket = stream
    faults.add_fault(service="firehose", operation="PutRecordBatch",
                     record_failure_rate=0.5, count=1)
    recs = [{"Data": b"%d\n" % i} for i in range(200)]
    r = fh.put_record_batch(DeliveryStreamName=name, Records=recs)
    resp = r["RequestResponses"]
    assert len(resp) == 200
    failed = [i for i, x in enumerate(resp) if "ErrorCode" in x]
    assert r["FailedPutCount"] == len(failed)
    assert 40 < len(failed) < 160
    for i, x in enumerate(resp):
        if i in failed:
            assert x["ErrorCode"] == "ServiceUnavailableException"
            assert x["ErrorMessage"] and "RecordId" not in x
        else:
            assert x["RecordId"]
    # only the successes are delivered, in request order
    key = faults.flush_firehose(name)["objects"][0]
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert body == b"".join(b"%d\n" % i for i in range(200) if i not in failed)
    # count=1: the next batch is whole again
    assert fh.put_record_batch(DeliveryStreamName=name, Records=recs)["FailedPutCount"] == 0


def test_gzip_and_prefix_expressions(emulator, uid):
    s3 = emulator.client("s3")
    fh = emulator.client("firehose")
    s3.create_bucket(Bucket=uid)
    fh.create_delivery_stream(
        DeliveryStreamName=uid,
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::000000000000:role/firehose",
            "BucketARN": "arn:aws:s3:::" + uid,
            "Prefix": "data/year=!{timestamp:yyyy}/month=!{timestamp:MM}/",
            "ErrorOutputPrefix": "err/", "CompressionFormat": "GZIP"})
    fh.put_record(DeliveryStreamName=uid, Record={"Data": b"hello\n"})
    key = emulator.flush_firehose(uid)["objects"][0]
    assert re.match(r"data/year=\d{4}/month=\d{2}/%s-1-.*\.gz$" % uid, key), key
    assert gzip.decompress(s3.get_object(Bucket=uid, Key=key)["Body"].read()) == b"hello\n"


def test_missing_bucket_keeps_data_buffered(emulator, uid):
    fh = emulator.client("firehose")
    s3 = emulator.client("s3")
    fh.create_delivery_stream(
        DeliveryStreamName=uid,
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::000000000000:role/firehose",
            "BucketARN": "arn:aws:s3:::" + uid})
    fh.put_record(DeliveryStreamName=uid, Record={"Data": b"kept"})
    assert emulator.flush_firehose(uid)["objects"] == []
    s3.create_bucket(Bucket=uid)
    keys = emulator.flush_firehose(uid)["objects"]
    assert len(keys) == 1
    assert s3.get_object(Bucket=uid, Key=keys[0])["Body"].read() == b"kept"
