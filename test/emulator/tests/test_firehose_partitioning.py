"""Firehose dynamic partitioning: inline JQ extraction, one buffer per
partition, the error prefix, object names, and what CreateDeliveryStream
refuses.  The JQ subset is checked against the jq 1.6 binary (Debian's jq,
the version Firehose runs)."""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time

import botocore.exceptions
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from aws_emulator.firehose_jq import JqError, Query  # noqa: E402

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
QUERY = '{customer: .customer_id, day: .ts|strftime("%Y-%m-%d"), device: .type.device}'


def dest(bucket, prefix, query=QUERY, error_prefix="errors/!{firehose:error-output-type}/",
         size=1, interval=60, extra=()):
    processors = [{"Type": "MetadataExtraction", "Parameters": [
        {"ParameterName": "MetadataExtractionQuery", "ParameterValue": query},
        {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]
    processors += list(extra)
    d = {"RoleARN": "arn:aws:iam::000000000000:role/firehose",
         "BucketARN": "arn:aws:s3:::" + bucket, "Prefix": prefix,
         "BufferingHints": {"SizeInMBs": size, "IntervalInSeconds": interval},
         "DynamicPartitioningConfiguration": {"Enabled": True},
         "ProcessingConfiguration": {"Enabled": True, "Processors": processors}}
    if error_prefix is not None:
        d["ErrorOutputPrefix"] = error_prefix
    return d


@pytest.fixture
def fh(emulator):
    return emulator.client("firehose")


def create(fh, s3, uid, prefix, **kw):
    s3.create_bucket(Bucket=uid)
    fh.create_delivery_stream(DeliveryStreamName=uid,
                              ExtendedS3DestinationConfiguration=dest(uid, prefix, **kw))
    return uid


def keys(s3, bucket, prefix=""):
    r = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in r.get("Contents", []))


def folders_after_tick(s3, bucket, want):
    """The first folders of the bucket's objects once the emulator's timer
    (about every 100 ms) has delivered what is due."""
    deadline = time.time() + 3
    while True:
        got = [k.split("/")[0] for k in keys(s3, bucket)]
        if got == want or time.time() > deadline:
            return got
        time.sleep(0.05)


def body(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def rec(customer, ts=1565382027, device="mobile"):
    return json.dumps({"customer_id": customer, "ts": ts,
                       "type": {"device": device}}).encode() + b"\n"


def test_records_land_by_their_keys(emulator, fh, s3, uid):
    name = create(fh, s3, uid, "c=!{partitionKeyFromQuery:customer}/"
                  "d=!{partitionKeyFromQuery:day}/!{partitionKeyFromQuery:device}/")
    fh.put_record_batch(DeliveryStreamName=name, Records=[
        {"Data": rec("1")}, {"Data": rec("2")}, {"Data": rec("1", device="web")},
        {"Data": rec("1", ts=1565482027)}, {"Data": rec("2")}])
    written = emulator.flush_firehose(name)["objects"]
    assert len(written) == 4 and sorted(written) == keys(s3, uid)
    folders = sorted(k.rsplit("/", 1)[0] for k in written)
    # 1565382027 is 2019-08-09 20:20:27 UTC, 1565482027 is 2019-08-11 00:07:07 UTC
    assert folders == ["c=1/d=2019-08-09/mobile", "c=1/d=2019-08-09/web",
                       "c=1/d=2019-08-11/mobile", "c=2/d=2019-08-09/mobile"]
    for k in written:
        # object names as without partitioning: stream-version-arrival time-uuid
        assert re.search(r"/%s-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-%s$" % (name, UUID), k), k
    two = [k for k in written if k.startswith("c=2/")][0]
    assert body(s3, uid, two) == rec("2") * 2       # both records, in order, as put


def test_failed_extraction_goes_to_the_error_prefix(emulator, fh, s3, uid):
    name = create(fh, s3, uid, "c=!{partitionKeyFromQuery:customer}/"
                  "!{partitionKeyFromQuery:day}/!{partitionKeyFromQuery:device}/")
    bad = [b"not json\n", json.dumps({"ts": 1}).encode(),              # no customer_id
           json.dumps({"customer_id": "1", "ts": "x", "type": {}}).encode(),  # strftime fails
           json.dumps({"customer_id": {"a": 1}, "ts": 1, "type": {"device": "m"}}).encode(),
           json.dumps({"customer_id": "1", "ts": 1, "type": "flat"}).encode()]
    fh.put_record_batch(DeliveryStreamName=name,
                        Records=[{"Data": d} for d in bad] + [{"Data": rec("7")}])
    written = emulator.flush_firehose(name)["objects"]
    errors = keys(s3, uid, "errors/")
    assert len(errors) == 1 and len(written) == 2
    assert re.match(r"errors/partitioning-failed/%s-1-" % name, errors[0]), errors[0]
    lines = body(s3, uid, errors[0]).decode().splitlines()
    assert len(lines) == len(bad)
    for line, data in zip(lines, bad):
        e = json.loads(line)
        assert e["errorCode"] == "DynamicPartitioning.MetadataExtractionFailed"
        assert base64.b64decode(e["rawData"]) == data
        assert e["attemptsMade"] == 1 and e["errorMessage"]
        assert isinstance(e["arrivalTimestamp"], int)
    assert keys(s3, uid, "c=7/")


def test_error_prefix_without_expressions_gets_type_and_hour(emulator, fh, s3, uid):
    name = create(fh, s3, uid, "!{partitionKeyFromQuery:customer}/", error_prefix="err/")
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"{}"})
    written = emulator.flush_firehose(name)["objects"]
    assert len(written) == 1
    assert re.match(r"err/partitioning-failed/\d{4}/\d{2}/\d{2}/\d{2}/%s-1-" % name,
                    written[0]), written[0]


def test_one_buffer_per_partition(emulator, fh, s3, uid):
    name = create(fh, s3, uid, "!{partitionKeyFromQuery:customer}/", interval=60)
    fh.put_record(DeliveryStreamName=name, Record={"Data": rec("a")})
    emulator.advance_clock(40)
    fh.put_record(DeliveryStreamName=name, Record={"Data": rec("b")})
    emulator.advance_clock(25)          # a's buffer is 65 s old, b's 25 s
    assert folders_after_tick(s3, uid, ["a"]) == ["a"]
    time.sleep(0.3)
    assert folders_after_tick(s3, uid, ["a"]) == ["a"]
    fh.put_record(DeliveryStreamName=name, Record={"Data": rec("a")})
    emulator.advance_clock(40)          # b: 65 s; the new a buffer: 40 s
    assert folders_after_tick(s3, uid, ["a", "b"]) == ["a", "b"]
    assert len(emulator.flush_firehose(name)["objects"]) == 1
    # size: a partition whose buffer reaches SizeInMBs is written alone
    big = json.dumps({"customer_id": "big", "ts": 1, "type": {"device": "x"},
                      "pad": "x" * (600 * 1024)}).encode()
    fh.put_record(DeliveryStreamName=name, Record={"Data": rec("small")})
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": big}, {"Data": big}])
    assert keys(s3, uid, "big/") and not keys(s3, uid, "small/")
    emulator.flush_firehose(name)


def test_timestamp_and_random_string_with_keys(emulator, fh, s3, uid):
    name = create(fh, s3, uid, "!{timestamp:yyyy}/!{partitionKeyFromQuery:customer}/"
                  "!{firehose:random-string}/")
    fh.put_record(DeliveryStreamName=name, Record={"Data": rec("z")})
    fh.put_record(DeliveryStreamName=name, Record={"Data": rec("z")})
    written = emulator.flush_firehose(name)["objects"]
    assert len(written) == 1            # one partition: random-string names the object
    assert re.match(r"\d{4}/z/[0-9a-f]{12}/%s-1-" % name, written[0]), written[0]


def test_active_partition_limit(emulator, fh, s3, uid):
    name = create(fh, s3, uid, "!{partitionKeyFromQuery:customer}/")
    emulator.configure(firehose_active_partitions=2)
    try:
        fh.put_record_batch(DeliveryStreamName=name, Records=[
            {"Data": rec(c)} for c in ("p", "q", "p", "r")])
        emulator.flush_firehose(name)
    finally:
        emulator.configure(firehose_active_partitions=500)
    assert keys(s3, uid, "p/") and keys(s3, uid, "q/") and not keys(s3, uid, "r/")
    over = keys(s3, uid, "errors/activePartitionExceeded/")
    assert len(over) == 1
    e = json.loads(body(s3, uid, over[0]))
    assert base64.b64decode(e["rawData"]) == rec("r")


def test_append_delimiter_and_description(emulator, fh, s3, uid):
    extra = [{"Type": "AppendDelimiterToRecord"}]
    name = create(fh, s3, uid, "!{partitionKeyFromQuery:customer}/", extra=extra)
    fh.put_record_batch(DeliveryStreamName=name, Records=[
        {"Data": b'{"customer_id":"n","ts":1,"type":{"device":"d"}}'}] * 2)
    (key,) = emulator.flush_firehose(name)["objects"]
    assert body(s3, uid, key) == b'{"customer_id":"n","ts":1,"type":{"device":"d"}}\n' * 2
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    ext = d["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert ext["DynamicPartitioningConfiguration"] == {"Enabled": True}
    assert ext["ProcessingConfiguration"]["Processors"][0]["Type"] == "MetadataExtraction"


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("ErrorOutputPrefix"), "ErrorOutputPrefix"),
    (lambda d: d.update(Prefix="static/"), "at least one"),
    (lambda d: d.update(Prefix="!{partitionKeyFromQuery:nope}/"), "no key nope"),
    (lambda d: d.update(Prefix="!{partitionKeyFromLambda:x}/"), "Lambda"),
    (lambda d: d.update(Prefix="!{firehose:error-output-type}/"), "only in ErrorOutputPrefix"),
    (lambda d: d.update(Prefix="!{bogus:x}/"), "unknown namespace"),
    (lambda d: d["ProcessingConfiguration"]["Processors"][0]["Parameters"][1].update(
        ParameterValue="JQ-1.5"), "JQ-1.6"),
    (lambda d: d["ProcessingConfiguration"]["Processors"][0]["Parameters"][0].update(
        ParameterValue="{customer: if .a then 1 else 2 end}"), "not a valid JQ query"),
    (lambda d: d["ProcessingConfiguration"]["Processors"][0]["Parameters"].pop(0),
     "MetadataExtractionQuery"),
    (lambda d: d["ProcessingConfiguration"]["Processors"].append(
        {"Type": "Lambda", "Parameters": [{"ParameterName": "LambdaArn",
                                           "ParameterValue": "arn:aws:lambda:x"}]}),
     "not supported"),
    (lambda d: d["ProcessingConfiguration"].update(Enabled=False), "MetadataExtraction"),
    (lambda d: d["DynamicPartitioningConfiguration"].update(Enabled=False),
     "not enabled"),
])
def test_create_refuses(fh, uid, change, message):
    d = dest(uid, "!{partitionKeyFromQuery:customer}/")
    change(d)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fh.create_delivery_stream(DeliveryStreamName=uid, ExtendedS3DestinationConfiguration=d)
    assert e.value.response["Error"]["Code"] == "InvalidArgumentException"
    assert message in e.value.response["Error"]["Message"]


def test_model_validation(emulator, uid):
    """A parameter name outside the model's enum is refused by the server's
    validation against botocore's model (client-side validation off)."""
    fh = emulator.client("firehose", parameter_validation=False)
    d = dest(uid, "!{partitionKeyFromQuery:customer}/")
    d["ProcessingConfiguration"]["Processors"][0]["Parameters"][0]["ParameterName"] = "Query"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fh.create_delivery_stream(DeliveryStreamName=uid, ExtendedS3DestinationConfiguration=d)
    assert e.value.response["Error"]["Code"] in ("ValidationException",
                                                 "InvalidArgumentException")


JQ_QUERIES = [
    '{a: .a}', '{a: .a.b.c}', '{"x-y": ."k-1"}', '{a: .["k-1"]}', '{a: .l[1]}',
    '{a: .l[-1]}', '{a: .s[0:4], b: .s[5:7], c: .s[:2], d: .s[3:]}',
    '{y: .t|strftime("%Y"), m: .t|strftime("%m"), d: .t|strftime("%d"),'
    ' h: .t|strftime("%H")}',
    '{d: .e|strptime("%Y-%m-%d %H:%M:%S")|mktime}',
    '{d: .e[0:19]|strptime("%Y-%m-%d %H:%M:%S")|strftime("%Y/%m/%d/%H")}',
    '{a: .a|tostring, n: .n|tostring, t: .t|todate}', '{n: .ns|tonumber}',
    '{l: .s|ascii_downcase, u: .s|ascii_upcase}',
    '{a: .a.b}', '{a: .s.x}', '{a: .n|strftime("%Y")}', '{a: .s|strftime("%Y")}',
    '{a: .l|ascii_downcase}', '{f: .f, g: .g|tostring}',
    # create_delivery_stream's, event hour, key buckets and attribute folders
    '{year: .event_time[0:4], month: .event_time[5:7], day: .event_time[8:10], '
    'hour: .event_time[11:13], key_bucket: .key_hash["orderId"][-1:], '
    'attribute_folder: .attribute_folder}',
]
JQ_RECORDS = [
    {"a": {"b": {"c": "deep"}}, "k-1": "dash", "l": [1, "two", 3], "s": "Hello World",
     "t": 1565382027, "e": "2024-01-15 16:44:27.000", "n": 42, "ns": "17", "f": 1.5,
     "g": 0.1},
    {"a": "flat", "s": "ab", "t": 0, "e": "1999-12-31 23:59:59.999", "n": -3, "ns": "x",
     "l": [], "f": 2.0, "g": 1e20},
    {"a": None, "s": None, "t": 1.9, "e": "bad", "n": 1e3, "l": None},
    # audit records, with and without an attribute folder
    {"event_time": "2024-01-15 16:44:27.000", "key_hash": {"orderId": "3dc84e44"},
     "attribute_folder": "SHIPPED"},
    {"event_time": "2024-01-15 16:44:27.000", "key_hash": {"orderId": "3dc84e44"}},
]


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq (Debian package) not installed")
def test_jq_subset_agrees_with_jq_1_6():
    version = subprocess.run(["jq", "--version"], capture_output=True, text=True).stdout
    compared = 0
    for q in JQ_QUERIES:
        query = Query(q)
        for r in JQ_RECORDS:
            real = subprocess.run(["jq", "-c", q], input=json.dumps(r), capture_output=True,
                                  text=True, env={"TZ": "UTC"})
            try:
                mine = query.run(r)
            except JqError:
                mine = None
            if real.returncode != 0:
                assert mine is None, (q, r, real.stderr)
            else:
                assert mine is not None, (q, r, real.stdout)
                assert json.loads(real.stdout) == mine, (version, q, r, real.stdout, mine)
            compared += 1
    assert compared == len(JQ_QUERIES) * len(JQ_RECORDS)


def test_jq_refuses_what_it_does_not_run():
    for q in ['.a', '{a: .a', '{a: if .a then 1 else 2 end}', '{a: .a + 1}',
              '{a: now}', '{a: .a} | .a', '{a: env.HOME}', '{a: .x // .a}']:
        with pytest.raises(JqError):
            Query(q)


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq (Debian package) not installed")
def test_numbers_as_keys_print_as_jq_1_6():
    """A numeric partition key becomes the text jq prints for it."""
    values = ["0.1", "1e20", "1e16", "123456789012345678", "1e-5", "0.000123", "1.5e300",
              "2.0", "-3.25", "1e15", "999999999999999999999", "42", "5e-324", "0.5"]
    real = subprocess.run(["jq", "-c", "tostring"], input="\n".join(values),
                          capture_output=True, text=True, check=True).stdout.split()
    q = Query("{n: .n}")
    mine = [json.dumps(q.partition_keys(b'{"n": %s}' % v.encode())["n"]) for v in values]
    assert mine == real
