"""S3 (path-style, REST-XML): buckets, objects on disk, ranges, listings."""
import concurrent.futures
import time

import botocore.exceptions
import pytest


def error_of(excinfo):
    return excinfo.value.response["Error"]


@pytest.fixture
def bucket(s3, uid):
    s3.create_bucket(Bucket=uid)
    return uid


def test_put_get_head(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="dir/a b+c.json", Body=b"hello world",
                      ContentType="application/json", Metadata={"k": "v"})
    assert r["ETag"] == '"5eb63bbbe01eeed093cb22bb8f5acdc3"'
    g = s3.get_object(Bucket=bucket, Key="dir/a b+c.json")
    assert g["Body"].read() == b"hello world"
    assert g["ContentType"] == "application/json"
    assert g["Metadata"] == {"k": "v"}
    h = s3.head_object(Bucket=bucket, Key="dir/a b+c.json")
    assert h["ContentLength"] == 11
    assert h["ETag"] == r["ETag"]


def test_range(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    g = s3.get_object(Bucket=bucket, Key="r", Range="bytes=2-4")
    assert g["Body"].read() == b"234"
    assert g["ContentRange"] == "bytes 2-4/10"
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=7-")["Body"].read() == b"789"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-3")["Body"].read() == b"789"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=20-30")
    assert error_of(e)["Code"] == "InvalidRange"


def test_connection_bandwidth_cap(s3, bucket, emulator):
    """s3_connection_bytes_per_second paces one GetObject body; ranges of
    it are paced each on its own connection, and come back whole."""
    body = bytes(range(256)) * 4096     # 1 MiB
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    emulator.configure(s3_connection_bytes_per_second=1024 * 1024)
    try:
        start = time.monotonic()
        assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == body
        whole = time.monotonic() - start
        quarter = len(body) // 4

        def part(i):
            rng = "bytes=%d-%d" % (i * quarter, (i + 1) * quarter - 1)
            return s3.get_object(Bucket=bucket, Key="big", Range=rng)["Body"].read()

        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            parts = list(pool.map(part, range(4)))
        ranged = time.monotonic() - start
    finally:
        emulator.configure(s3_connection_bytes_per_second=0)
    assert b"".join(parts) == body
    # 1 MiB at 1 MiB/s: a second on one connection (the last 64 KiB write
    # is not waited for: 15/16 s), a quarter on four; the requests' own
    # time, longer on a loaded machine, is small beside that
    assert whole >= 0.9, whole
    assert ranged < whole * 0.6, (ranged, whole)
    # the cap is off again
    start = time.monotonic()
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == body
    assert time.monotonic() - start < 0.5


def test_no_such_key_and_bucket(s3, bucket, uid):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing")
    assert error_of(e)["Code"] == "NoSuchKey"
    assert error_of(e)["Key"] == "missing"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert e.value.response["ResponseMetadata"]["RequestId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_objects_v2(Bucket=uid + "-none")
    assert error_of(e)["Code"] == "NoSuchBucket"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=bucket, Key="missing")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_list_prefix_delimiter_pagination(s3, bucket):
    keys = ["a/1", "a/2", "b/x/1", "b/x/2", "b/y", "c", "d/1"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "b/", "d/"]
    assert [c["Key"] for c in r["Contents"]] == ["c"]
    assert r["KeyCount"] == 4
    r = s3.list_objects_v2(Bucket=bucket, Prefix="b/", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/x/"]
    assert [c["Key"] for c in r["Contents"]] == ["b/y"]
    # pages of 2 with a delimiter: common prefixes count as entries
    seen, token, pages = [], None, 0
    while True:
        kw = {"Bucket": bucket, "Delimiter": "/", "MaxKeys": 2}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        pages += 1
        seen += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        seen += [c["Key"] for c in r.get("Contents", [])]
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert sorted(seen) == ["a/", "b/", "c", "d/"]
    assert pages == 2
    # the paginator walks every key once
    pag = s3.get_paginator("list_objects_v2")
    got = [c["Key"] for page in pag.paginate(Bucket=bucket, PaginationConfig={"PageSize": 3})
           for c in page.get("Contents", [])]
    assert got == sorted(keys)
    r = s3.list_objects_v2(Bucket=bucket, StartAfter="b/y")
    assert [c["Key"] for c in r["Contents"]] == ["c", "d/1"]


def test_delete(s3, bucket):
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    r = s3.delete_object(Bucket=bucket, Key="gone")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_object(Bucket=bucket, Key="gone")
    # deleting a missing key succeeds, as in S3
    s3.delete_object(Bucket=bucket, Key="gone")
    s3.put_object(Bucket=bucket, Key="x1", Body=b"x")
    s3.put_object(Bucket=bucket, Key="x2", Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x1"}, {"Key": "x2"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["x1", "x2"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    s3.delete_bucket(Bucket=bucket)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_bad_bucket_name(s3):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="Not_Valid")
    assert error_of(e)["Code"] == "InvalidBucketName"


def test_bad_content_md5(s3, bucket):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"abc",
                      ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
    assert error_of(e)["Code"] == "BadDigest"


def test_conditional_get(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"v1")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    # a resumed download of a replaced object must notice
    s3.put_object(Bucket=bucket, Key="c", Body=b"v2")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, Range="bytes=1-")
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"


def test_listing_special_keys(s3, bucket):
    keys = ["a b/c+d=e", "a b/ü€", "a b/x%20y", "q?x&y"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"1")
    r = s3.list_objects_v2(Bucket=bucket)          # boto3 asks EncodingType=url
    assert sorted(c["Key"] for c in r["Contents"]) == sorted(keys)
    r = s3.list_objects_v2(Bucket=bucket, Prefix="a b/", Delimiter="/")
    assert sorted(c["Key"] for c in r["Contents"]) == sorted(keys[:3])
    for k in keys:
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == b"1"


def test_list_objects_v1(s3, bucket):
    for k in ["a/1", "a/2", "b", "c"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"1")
    r = s3.list_objects(Bucket=bucket, MaxKeys=2)
    assert [c["Key"] for c in r["Contents"]] == ["a/1", "a/2"] and r["IsTruncated"]
    r = s3.list_objects(Bucket=bucket, Marker="a/2")
    assert [c["Key"] for c in r["Contents"]] == ["b", "c"] and not r["IsTruncated"]
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/"] and r["NextMarker"] == "a/"
    r = s3.list_objects(Bucket=bucket, Delimiter="/", Marker="a/")
    assert [c["Key"] for c in r["Contents"]] == ["b", "c"]


def test_unsupported_subresource_is_not_a_listing(s3, bucket):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_acl(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    # S3's own wording (S3 API Reference, Error responses, List of error codes)
    assert e.value.response["Error"]["Message"] == (
        "A header you provided implies functionality that is not implemented.")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
