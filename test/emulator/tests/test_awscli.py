"""Conformance with the AWS CLI v2 (Debian's `awscli`) as the client: the
commands a new user tries against the emulator with `--endpoint-url`.

Expected answers come from the AWS CLI itself (it fails on an answer it
cannot read), botocore's service models, and the API references named at
each test.  A request the emulator does not implement is refused
(NotImplemented, UnknownOperationException, ValidationException) and changes
no data: test_unsupported_requests_change_nothing counts the changes.
"""
import hashlib
import json
import os
import select
import shutil
import subprocess
import time
import urllib.request

import pytest

AWS = shutil.which("aws", path="/usr/bin:/usr/local/bin")

pytestmark = pytest.mark.skipif(AWS is None, reason="the AWS CLI v2 (awscli) is not installed")


RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "awscli_runner.py")


class Cli:
    """The `aws` command.  Commands run in one process of the CLI's own
    interpreter (awscli_runner.py) through the CLI's entry point, each with
    a new driver and the environment given, instead of one process each."""

    def __init__(self, url, tmp):
        self.url = url
        with open(AWS) as f:
            shebang = f.readline()
        assert shebang.startswith("#!"), shebang
        self.interpreter = shebang[2:].split()
        self.proc = None
        conf = tmp / "aws-config"
        conf.write_text("[default]\nregion = us-east-1\n")
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp),
                    "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                    "AWS_CONFIG_FILE": str(conf), "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                    "AWS_PAGER": "", "AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "1"}

    def run(self, *args, check=True, config=None):
        env = dict(self.env)
        if config:
            conf = os.path.join(env["HOME"], "aws-config-extra")
            with open(conf, "w") as f:
                f.write("[default]\nregion = us-east-1\n" + config)
            env["AWS_CONFIG_FILE"] = conf
        argv = ["--endpoint-url", self.url, "--output", "json", "--no-cli-pager", *args]
        if self.proc is None or self.proc.poll() is not None:
            # the first command, or the one after a command that did not
            # answer (its process killed) or ended the process: a new one,
            # so that one failure does not fail the commands after it
            self.proc = subprocess.Popen(self.interpreter + [RUNNER], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True)
        self.proc.stdin.write(json.dumps({"args": argv, "env": env}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], 120)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("aws %s: no answer in 120 s" % " ".join(args))
        line = self.proc.stdout.readline()
        assert line, "the AWS CLI's process ended (rc %s)" % self.proc.wait()
        out = json.loads(line)
        p = subprocess.CompletedProcess([AWS, *argv], out["rc"], out["stdout"], out["stderr"])
        if check and p.returncode != 0:
            raise AssertionError("aws %s: rc %d\n%s" % (" ".join(args), p.returncode, p.stderr))
        return p

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)

    def json(self, *args):
        out = self.run(*args).stdout
        return json.loads(out) if out.strip() else {}


@pytest.fixture(scope="module")
def cli(emulator, tmp_path_factory):
    version = subprocess.run([AWS, "--version"], capture_output=True, text=True).stdout
    assert version.startswith("aws-cli/2."), version
    cli = Cli(emulator.url, tmp_path_factory.mktemp("awscli"))
    yield cli
    cli.close()


@pytest.fixture
def bucket(cli, uid):
    cli.run("s3", "mb", "s3://%s" % uid)
    return uid


def _file(path, size, seed):
    data = hashlib.sha256(seed.encode()).digest() * (size // 32 + 1)
    path.write_bytes(data[:size])
    return path


# ---- S3: multipart uploads

def test_cp_of_a_file_over_8_mb_is_a_multipart_upload(cli, bucket, tmp_path, emulator):
    big = _file(tmp_path / "big.bin", 9 * 1024 * 1024 + 17, "big")
    cli.run("s3", "cp", str(big), "s3://%s/big.bin" % bucket, "--only-show-errors")
    head = cli.json("s3api", "head-object", "--bucket", bucket, "--key", "big.bin")
    assert head["ContentLength"] == big.stat().st_size
    # a multipart object's ETag: MD5 of the parts' MD5s, a dash, the count
    # (the CLI's parts are 8 MiB)
    parts = [big.read_bytes()[i:i + 8 * 1024 * 1024]
             for i in range(0, big.stat().st_size, 8 * 1024 * 1024)]
    want = hashlib.md5(b"".join(hashlib.md5(x).digest() for x in parts)).hexdigest()
    assert head["ETag"] == '"%s-%d"' % (want, len(parts))
    back = tmp_path / "back.bin"
    cli.run("s3", "cp", "s3://%s/big.bin" % bucket, str(back), "--only-show-errors")
    assert back.read_bytes() == big.read_bytes()
    ops = {r["operation"] for r in emulator.requests(service="s3")
           if bucket in json.dumps(r["input"], default=str)}
    assert {"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"} <= ops


def test_sync_of_large_files(cli, bucket, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _file(src / "a.bin", 9 * 1024 * 1024, "a")
    _file(src / "b.txt", 10, "b")
    cli.run("s3", "sync", str(src), "s3://%s/sync/" % bucket, "--only-show-errors")
    dst = tmp_path / "dst"
    cli.run("s3", "sync", "s3://%s/sync/" % bucket, str(dst), "--only-show-errors")
    for name in ("a.bin", "b.txt"):
        assert (dst / name).read_bytes() == (src / name).read_bytes()
    # nothing changed: a second sync copies nothing
    again = cli.run("s3", "sync", str(src), "s3://%s/sync/" % bucket)
    assert again.stdout.strip() == ""


def test_multipart_api(cli, bucket, tmp_path):
    """s3api create-multipart-upload, upload-part, list-parts,
    complete-multipart-upload, abort-multipart-upload; errors as the S3 API
    reference lists them (NoSuchUpload, EntityTooSmall, InvalidPartOrder)."""
    up = cli.json("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "m",
                  "--content-type", "text/csv", "--cache-control", "no-cache")
    uid = up["UploadId"]
    assert up["Bucket"] == bucket and up["Key"] == "m"
    p1 = _file(tmp_path / "p1", 5 * 1024 * 1024, "p1")
    p2 = _file(tmp_path / "p2", 100, "p2")
    e1 = cli.json("s3api", "upload-part", "--bucket", bucket, "--key", "m", "--upload-id", uid,
                  "--part-number", "1", "--body", str(p1))["ETag"]
    e2 = cli.json("s3api", "upload-part", "--bucket", bucket, "--key", "m", "--upload-id", uid,
                  "--part-number", "2", "--body", str(p2))["ETag"]
    parts = cli.json("s3api", "list-parts", "--bucket", bucket, "--key", "m",
                     "--upload-id", uid)["Parts"]
    assert [(x["PartNumber"], x["ETag"], x["Size"]) for x in parts] == [
        (1, e1, 5 * 1024 * 1024), (2, e2, 100)]
    wrong = cli.run("s3api", "complete-multipart-upload", "--bucket", bucket, "--key", "m",
                    "--upload-id", uid, "--multipart-upload", json.dumps(
                        {"Parts": [{"PartNumber": 2, "ETag": e2},
                                   {"PartNumber": 1, "ETag": e1}]}), check=False)
    assert wrong.returncode != 0 and "InvalidPartOrder" in wrong.stderr
    done = cli.json("s3api", "complete-multipart-upload", "--bucket", bucket, "--key", "m",
                    "--upload-id", uid, "--multipart-upload", json.dumps(
                        {"Parts": [{"PartNumber": 1, "ETag": e1},
                                   {"PartNumber": 2, "ETag": e2}]}))
    assert done["ETag"].endswith('-2"')
    head = cli.json("s3api", "head-object", "--bucket", bucket, "--key", "m")
    assert head["ContentLength"] == 5 * 1024 * 1024 + 100
    assert head["ContentType"] == "text/csv" and head["CacheControl"] == "no-cache"
    gone = cli.run("s3api", "list-parts", "--bucket", bucket, "--key", "m",
                   "--upload-id", uid, check=False)
    assert "NoSuchUpload" in gone.stderr

    # parts under 5 MiB except the last: EntityTooSmall, and nothing is written
    uid = cli.json("s3api", "create-multipart-upload", "--bucket", bucket,
                   "--key", "small")["UploadId"]
    etags = [cli.json("s3api", "upload-part", "--bucket", bucket, "--key", "small",
                      "--upload-id", uid, "--part-number", str(n), "--body", str(p2))["ETag"]
             for n in (1, 2)]
    small = cli.run("s3api", "complete-multipart-upload", "--bucket", bucket, "--key", "small",
                    "--upload-id", uid, "--multipart-upload", json.dumps(
                        {"Parts": [{"PartNumber": n + 1, "ETag": e}
                                   for n, e in enumerate(etags)]}), check=False)
    assert "EntityTooSmall" in small.stderr
    cli.run("s3api", "abort-multipart-upload", "--bucket", bucket, "--key", "small",
            "--upload-id", uid)
    assert "NoSuchUpload" in cli.run("s3api", "list-parts", "--bucket", bucket, "--key",
                                     "small", "--upload-id", uid, check=False).stderr
    missing = cli.run("s3api", "head-object", "--bucket", bucket, "--key", "small",
                      check=False)
    assert missing.returncode != 0


# ---- S3: copies

def test_s3_to_s3_copy_and_move(cli, bucket, tmp_path, uid):
    other = uid + "-b"
    cli.run("s3", "mb", "s3://%s" % other)
    small = _file(tmp_path / "s.txt", 1000, "s")
    big = _file(tmp_path / "b.bin", 9 * 1024 * 1024, "b")
    cli.run("s3", "cp", str(small), "s3://%s/s.txt" % bucket, "--only-show-errors",
            "--metadata", "k=v", "--content-type", "text/x-test")
    cli.run("s3", "cp", str(big), "s3://%s/b.bin" % bucket, "--only-show-errors")
    cli.run("s3", "cp", "s3://%s/s.txt" % bucket, "s3://%s/s.txt" % other,
            "--only-show-errors")
    # over 8 MB the CLI copies with UploadPartCopy
    cli.run("s3", "cp", "s3://%s/b.bin" % bucket, "s3://%s/b.bin" % other,
            "--only-show-errors")
    cli.run("s3", "mv", "s3://%s/s.txt" % other, "s3://%s/moved.txt" % other,
            "--only-show-errors")
    for key, src in (("b.bin", big), ("moved.txt", small)):
        back = tmp_path / ("back-" + key)
        cli.run("s3", "cp", "s3://%s/%s" % (other, key), str(back), "--only-show-errors")
        assert back.read_bytes() == src.read_bytes()
    keys = [o["Key"] for o in cli.json("s3api", "list-objects-v2",
                                       "--bucket", other)["Contents"]]
    assert keys == ["b.bin", "moved.txt"]
    # copy-object keeps the metadata unless told to replace it
    cli.json("s3api", "copy-object", "--bucket", other, "--key", "c.txt",
             "--copy-source", "%s/s.txt" % bucket)
    head = cli.json("s3api", "head-object", "--bucket", other, "--key", "c.txt")
    assert head["Metadata"] == {"k": "v"} and head["ContentType"] == "text/x-test"
    assert head["ContentLength"] == 1000
    cli.json("s3api", "copy-object", "--bucket", other, "--key", "c.txt",
             "--copy-source", "%s/s.txt" % bucket, "--metadata-directive", "REPLACE",
             "--metadata", "n=1", "--content-type", "text/plain")
    head = cli.json("s3api", "head-object", "--bucket", other, "--key", "c.txt")
    assert head["Metadata"] == {"n": "1"} and head["ContentType"] == "text/plain"
    # copying an object onto itself without a change is refused (S3 API
    # reference, CopyObject: InvalidRequest)
    self_copy = cli.run("s3api", "copy-object", "--bucket", other, "--key", "c.txt",
                        "--copy-source", "%s/c.txt" % other, check=False)
    assert "InvalidRequest" in self_copy.stderr
    # a failed x-amz-copy-source-if-match: 412 PreconditionFailed
    cond = cli.run("s3api", "copy-object", "--bucket", other, "--key", "d.txt",
                   "--copy-source", "%s/s.txt" % bucket, "--copy-source-if-match", '"nope"',
                   check=False)
    assert "PreconditionFailed" in cond.stderr
    nosrc = cli.run("s3api", "copy-object", "--bucket", other, "--key", "d.txt",
                    "--copy-source", "%s/none" % bucket, check=False)
    assert "NoSuchKey" in nosrc.stderr
    keys = [o["Key"] for o in cli.json("s3api", "list-objects-v2",
                                       "--bucket", other)["Contents"]]
    assert keys == ["b.bin", "c.txt", "moved.txt"]


# ---- S3: presigned URLs, metadata, location

def test_presigned_urls(cli, bucket, tmp_path):
    f = _file(tmp_path / "p.txt", 300, "p")
    cli.run("s3", "cp", str(f), "s3://%s/dir/p q.txt" % bucket, "--only-show-errors")
    # the CLI's default for this endpoint is the legacy query signature; with
    # s3 signature_version = s3v4 it is query-string SigV4
    for config in (None, "s3 =\n  signature_version = s3v4\n"):
        url = cli.run("s3", "presign", "s3://%s/dir/p q.txt" % bucket,
                      config=config).stdout.strip()
        with urllib.request.urlopen(url) as r:
            assert r.read() == f.read_bytes()
        bad = url[:-3] + ("000" if not url.endswith("000") else "111")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(bad)
        assert e.value.code == 403
    v4 = cli.run("s3", "presign", "s3://%s/dir/p q.txt" % bucket,
                 config="s3 =\n  signature_version = s3v4\n").stdout.strip()
    assert "X-Amz-Signature=" in v4
    # another key under the same signature: refused
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(v4.replace("p%20q.txt", "other.txt"))
    assert e.value.code == 403


def test_head_object_keeps_content_headers(cli, bucket, tmp_path):
    f = _file(tmp_path / "h.txt", 10, "h")
    cli.run("s3api", "put-object", "--bucket", bucket, "--key", "h.txt", "--body", str(f),
            "--cache-control", "max-age=60", "--content-disposition",
            'attachment; filename="h.txt"', "--content-encoding", "identity",
            "--content-language", "de", "--expires", "2030-01-01T00:00:00Z",
            "--metadata", "a=1,b=2")
    head = cli.json("s3api", "head-object", "--bucket", bucket, "--key", "h.txt")
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == 'attachment; filename="h.txt"'
    assert head["ContentEncoding"] == "identity"
    assert head["ContentLanguage"] == "de"
    assert head["Expires"].startswith("2030-01-01T00:00:00")
    assert head["Metadata"] == {"a": "1", "b": "2"}
    got = cli.json("s3api", "get-object", "--bucket", bucket, "--key", "h.txt",
                   "--response-content-type", "text/x-over", str(tmp_path / "out"))
    assert got["ContentType"] == "text/x-over" and got["CacheControl"] == "max-age=60"


def test_get_bucket_location(cli, bucket, uid):
    # us-east-1 is a null LocationConstraint (S3 API reference, GetBucketLocation)
    assert cli.json("s3api", "get-bucket-location", "--bucket", bucket) == {
        "LocationConstraint": None}
    other = uid + "-eu"
    cli.run("s3api", "create-bucket", "--bucket", other, "--create-bucket-configuration",
            "LocationConstraint=eu-west-1")
    assert cli.json("s3api", "get-bucket-location", "--bucket", other) == {
        "LocationConstraint": "eu-west-1"}
    assert "NoSuchBucket" in cli.run("s3api", "get-bucket-location", "--bucket",
                                     uid + "-none", check=False).stderr


# ---- the rule: a request the emulator does not implement changes nothing

def _s3_state(emulator):
    """Every object of every bucket with its bytes' hash and headers."""
    s3 = emulator.client("s3")
    out = {}
    for b in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b["Name"]):
            for o in page.get("Contents", []):
                got = s3.get_object(Bucket=b["Name"], Key=o["Key"])
                out[(b["Name"], o["Key"])] = (
                    hashlib.sha256(got["Body"].read()).hexdigest(), got["ContentType"],
                    json.dumps(got.get("Metadata"), sort_keys=True), got.get("CacheControl"))
    return out


def test_unsupported_requests_change_nothing(cli, bucket, tmp_path, emulator):
    f = _file(tmp_path / "x.txt", 100, "x")
    cli.run("s3", "cp", str(f), "s3://%s/x.txt" % bucket, "--only-show-errors")
    before = _s3_state(emulator)
    refused = [
        # features the emulator does not keep: refused, not stored without them
        ("s3api", "put-object", "--bucket", bucket, "--key", "x.txt", "--body", str(f),
         "--acl", "public-read"),
        ("s3api", "put-object", "--bucket", bucket, "--key", "y.txt", "--body", str(f),
         "--tagging", "a=b"),
        ("s3api", "put-object", "--bucket", bucket, "--key", "y.txt", "--body", str(f),
         "--server-side-encryption", "AES256"),
        ("s3api", "put-object", "--bucket", bucket, "--key", "y.txt", "--body", str(f),
         "--storage-class", "GLACIER"),
        ("s3api", "copy-object", "--bucket", bucket, "--key", "y.txt",
         "--copy-source", "%s/x.txt" % bucket, "--tagging-directive", "REPLACE"),
        ("s3api", "copy-object", "--bucket", bucket, "--key", "y.txt",
         "--copy-source", "%s/x.txt?versionId=abc" % bucket),
        ("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "y.txt",
         "--object-lock-mode", "GOVERNANCE", "--object-lock-retain-until-date",
         "2030-01-01T00:00:00Z"),
        # operations the emulator does not implement
        ("s3api", "put-object-tagging", "--bucket", bucket, "--key", "x.txt", "--tagging",
         "TagSet=[{Key=a,Value=b}]"),
        ("s3api", "put-object-acl", "--bucket", bucket, "--key", "x.txt", "--acl",
         "public-read"),
        ("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration",
         "Status=Enabled"),
        ("s3api", "restore-object", "--bucket", bucket, "--key", "x.txt",
         "--restore-request", "Days=1"),
        ("s3api", "put-object-retention", "--bucket", bucket, "--key", "x.txt",
         "--retention", "Mode=GOVERNANCE,RetainUntilDate=2030-01-01T00:00:00Z"),
    ]
    for args in refused:
        p = cli.run(*args, check=False)
        assert p.returncode != 0, args
        assert "NotImplemented" in p.stderr, (args, p.stderr)
    after = _s3_state(emulator)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == set()


# ---- DynamoDB

def test_dynamodb_commands(cli, uid):
    """put-item --return-consumed-capacity, batch-get-item,
    transact-write-items, a GSI created and queried (API reference:
    PutItem ConsumedCapacity, BatchGetItem, TransactWriteItems, Query
    IndexName)."""
    cli.run("dynamodb", "create-table", "--table-name", uid, "--billing-mode",
            "PAY_PER_REQUEST", "--attribute-definitions", "AttributeName=pk,AttributeType=S",
            "AttributeName=g,AttributeType=S", "--key-schema", "AttributeName=pk,KeyType=HASH",
            "--global-secondary-indexes", json.dumps([{
                "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"}}]))
    put = cli.json("dynamodb", "put-item", "--table-name", uid, "--item",
                   '{"pk": {"S": "a"}, "g": {"S": "x"}}', "--return-consumed-capacity", "TOTAL")
    assert put["ConsumedCapacity"] == {"TableName": uid, "CapacityUnits": 1.0}
    cli.run("dynamodb", "transact-write-items", "--transact-items", json.dumps([
        {"Put": {"TableName": uid, "Item": {"pk": {"S": "b"}, "g": {"S": "x"}}}},
        {"Update": {"TableName": uid, "Key": {"pk": {"S": "a"}},
                    "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": {"N": "5"}}}}]))
    got = cli.json("dynamodb", "batch-get-item", "--request-items", json.dumps(
        {uid: {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "b"}}]}}))
    assert sorted(x["pk"]["S"] for x in got["Responses"][uid]) == ["a", "b"]
    q = cli.json("dynamodb", "query", "--table-name", uid, "--index-name", "by_g",
                 "--key-condition-expression", "g = :g", "--expression-attribute-values",
                 '{":g": {"S": "x"}}')
    assert sorted(x["pk"]["S"] for x in q["Items"]) == ["a", "b"]
    desc = cli.json("dynamodb", "describe-table", "--table-name", uid)["Table"]
    assert desc["GlobalSecondaryIndexes"][0]["IndexName"] == "by_g"
    # the CLI's paginated scan (Segment/TotalSegments) sees each item once
    seen = []
    for seg in range(3):
        seen += [x["pk"]["S"] for x in cli.json(
            "dynamodb", "scan", "--table-name", uid, "--segment", str(seg),
            "--total-segments", "3")["Items"]]
    assert sorted(seen) == ["a", "b"]


def test_dynamodb_parallel_scan_and_throttling(cli, uid, emulator):
    """The CLI as a parallel-scan client: `scan --segment --total-segments`
    follows each segment's 1 MB pages to the end, the four segments
    return 400 items of 10 KB exactly once between them, a key from one
    segment's page is refused by another, a TotalSegments out of
    botocore's range (1..1000000) is refused by the service, and a
    provisioned table read above its capacity answers
    ProvisionedThroughputExceededException."""
    ddb = emulator.client("dynamodb")
    ddb.create_table(TableName=uid, BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 1},
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    blob = "q" * 10_000
    for i in range(0, 400, 25):
        ddb.batch_write_item(RequestItems={uid: [
            {"PutRequest": {"Item": {"pk": {"S": "k%03d" % j}, "b": {"S": blob}}}}
            for j in range(i, i + 25)]})
    seen = []
    for seg in range(4):
        out = cli.json("dynamodb", "scan", "--table-name", uid, "--segment", str(seg),
                       "--total-segments", "4", "--projection-expression", "pk")
        assert out["Count"] == len(out["Items"])
        seen += [x["pk"]["S"] for x in out["Items"]]
    assert sorted(seen) == ["k%03d" % i for i in range(400)]
    # the first page of segment 0 of 2 (about 200 items of 10 KB) ends at
    # 1 MB with a LastEvaluatedKey in segment 0
    page = cli.json("dynamodb", "scan", "--table-name", uid, "--segment", "0",
                    "--total-segments", "2", "--projection-expression", "pk",
                    "--no-paginate", "--return-consumed-capacity", "TOTAL")
    assert 100 <= page["ScannedCount"] <= 106 and "LastEvaluatedKey" in page
    # a page of 1 MB (and the item that crossed it) read eventually
    # consistent: 128 units and a half
    assert page["ConsumedCapacity"]["CapacityUnits"] in (128.0, 128.5)
    bad = cli.run("dynamodb", "scan", "--table-name", uid, "--segment", "1",
                  "--total-segments", "2", "--no-paginate", "--exclusive-start-key",
                  json.dumps(page["LastEvaluatedKey"]), check=False)
    assert bad.returncode != 0 and "ValidationException" in bad.stderr
    assert "Invalid ExclusiveStartKey" in bad.stderr
    bad = cli.run("dynamodb", "scan", "--table-name", uid, "--segment", "0",
                  "--total-segments", "1000001", check=False)
    # the CLI sends it (v2 leaves ranges to the service): DynamoDB's form
    assert bad.returncode != 0 and "ValidationException" in bad.stderr
    assert ("Value '1000001' at 'totalSegments' failed to satisfy constraint: Member must "
            "have value less than or equal to 1000000") in bad.stderr
    # whole scans of 4 MB (512 units each) soon use up the burst of 300 s
    # of 5 units
    for _ in range(4):
        bad = cli.run("dynamodb", "scan", "--table-name", uid, "--select", "COUNT",
                      check=False)
        if bad.returncode != 0:
            break
    assert bad.returncode != 0 and "ProvisionedThroughputExceededException" in bad.stderr


# ---- Glue and Athena: what a user exploring the audit table tries first

def _athena(cli, emulator, sql, database, output):
    qid = cli.json("athena", "start-query-execution", "--query-string", sql,
                   "--query-execution-context", "Database=%s" % database,
                   "--result-configuration", "OutputLocation=%s" % output)["QueryExecutionId"]
    athena = emulator.client("athena")
    for _ in range(3000):
        state = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"][
            "State"]
        if state not in ("QUEUED", "RUNNING"):
            break
        time.sleep(0.02)
    return qid, cli.json("athena", "get-query-execution",
                         "--query-execution-id", qid)["QueryExecution"]


def test_glue_partitions_and_athena_metadata(cli, bucket, uid, emulator):
    db = uid + "_db"
    cli.run("glue", "create-database", "--database-input", json.dumps({"Name": db}))
    table = {"Name": "audit", "PartitionKeys": [{"Name": "dt", "Type": "string"},
                                                {"Name": "hr", "Type": "int"}],
             "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"},
                                               {"Name": "note", "Type": "string",
                                                "Comment": "free text"}],
                                   "Location": "s3://%s/audit/" % bucket},
             "TableType": "EXTERNAL_TABLE"}
    cli.run("glue", "create-table", "--database-name", db, "--table-input", json.dumps(table))
    cli.run("glue", "create-table", "--database-name", db, "--table-input", json.dumps(
        {"Name": "other", "StorageDescriptor": {"Columns": [{"Name": "x", "Type": "int"}]}}))
    for dt, hr in (("2024-01-01", 3), ("2024-01-02", 10), ("2024-01-02", 4)):
        cli.run("glue", "create-partition", "--database-name", db, "--table-name", "audit",
                "--partition-input", json.dumps({"Values": [dt, str(hr)], "StorageDescriptor": {
                    "Location": "s3://%s/audit/dt=%s/hr=%d/" % (bucket, dt, hr)}}))
    parts = cli.json("glue", "get-partitions", "--database-name", db, "--table-name", "audit")
    assert [x["Values"] for x in parts["Partitions"]] == [
        ["2024-01-01", "3"], ["2024-01-02", "10"], ["2024-01-02", "4"]]
    # hr is an int key: compared as a number (Glue API reference, GetPartitions Expression)
    parts = cli.json("glue", "get-partitions", "--database-name", db, "--table-name", "audit",
                     "--expression", "dt = '2024-01-02' AND hr > 5")
    assert [x["Values"] for x in parts["Partitions"]] == [["2024-01-02", "10"]]
    bad = cli.run("glue", "get-partitions", "--database-name", db, "--table-name", "audit",
                  "--expression", "nokey = 1", check=False)
    assert "InvalidInputException" in bad.stderr

    wgs = cli.json("athena", "list-work-groups")["WorkGroups"]
    assert [w["Name"] for w in wgs] == ["primary"]
    assert cli.json("athena", "get-work-group", "--work-group", "primary")[
        "WorkGroup"]["State"] == "ENABLED"
    assert "InvalidRequestException" in cli.run("athena", "get-work-group", "--work-group",
                                                "nope", check=False).stderr
    cats = cli.json("athena", "list-data-catalogs")["DataCatalogsSummary"]
    assert cats == [{"CatalogName": "AwsDataCatalog", "Type": "GLUE"}]
    dbs = [d["Name"] for d in cli.json("athena", "list-databases", "--catalog-name",
                                       "AwsDataCatalog")["DatabaseList"]]
    assert db in dbs
    tables = cli.json("athena", "list-table-metadata", "--catalog-name", "AwsDataCatalog",
                      "--database-name", db)["TableMetadataList"]
    assert [t["Name"] for t in tables] == ["audit", "other"]
    meta = cli.json("athena", "get-table-metadata", "--catalog-name", "AwsDataCatalog",
                    "--database-name", db, "--table-name", "audit")["TableMetadata"]
    assert [c["Name"] for c in meta["Columns"]] == ["id", "note"]
    assert [c["Name"] for c in meta["PartitionKeys"]] == ["dt", "hr"]
    assert meta["Parameters"]["location"] == "s3://%s/audit/" % bucket
    missing = cli.run("athena", "get-table-metadata", "--catalog-name", "AwsDataCatalog",
                      "--database-name", db, "--table-name", "nope", check=False)
    assert "MetadataException" in missing.stderr

    out = "s3://%s/results/" % bucket

    def rows(sql):
        qid, q = _athena(cli, emulator, sql, db, out)
        assert q["Status"]["State"] == "SUCCEEDED", q["Status"]
        assert q["StatementType"] == "UTILITY"
        res = cli.json("athena", "get-query-results", "--query-execution-id", qid)
        return [r["Data"][0].get("VarCharValue") for r in res["ResultSet"]["Rows"]]

    assert rows("SHOW TABLES") == ["audit", "other"]
    assert rows("SHOW TABLES IN %s 'aud*'" % db) == ["audit"]
    assert rows("SHOW PARTITIONS audit") == ["dt=2024-01-01/hr=3", "dt=2024-01-02/hr=10",
                                             "dt=2024-01-02/hr=4"]
    assert rows("SHOW COLUMNS FROM audit") == ["id", "note", "dt", "hr"]
    desc = rows("DESCRIBE audit")
    assert [line.split("\t")[0].strip() for line in desc[:4]] == ["id", "note", "dt", "hr"]
    assert desc[1].split("\t")[2].strip() == "free text"
    assert "# Partition Information\t \t " in desc
    assert db in rows("SHOW DATABASES")
    _, q = _athena(cli, emulator, "SHOW PARTITIONS other", db, out)
    assert q["Status"]["State"] == "FAILED"
    _, q = _athena(cli, emulator, "DESCRIBE nope", db, out)
    assert q["Status"]["State"] == "FAILED"
    assert "TABLE_NOT_FOUND" in q["Status"]["StateChangeReason"]


def test_unsupported_dynamodb_requests_change_nothing(cli, uid, emulator):
    """PartiQL, index updates and other operations the emulator does not
    implement are refused (UnknownOperationException, ValidationException)
    and leave the table and its stream as they were."""
    cli.run("dynamodb", "create-table", "--table-name", uid, "--billing-mode",
            "PAY_PER_REQUEST", "--attribute-definitions", "AttributeName=pk,AttributeType=S",
            "--key-schema", "AttributeName=pk,KeyType=HASH", "--stream-specification",
            "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES")
    cli.run("dynamodb", "put-item", "--table-name", uid, "--item", '{"pk": {"S": "a"}}')
    ddb = emulator.client("dynamodb")

    def state():
        items = sorted(json.dumps(i, sort_keys=True) for i in ddb.scan(TableName=uid)["Items"])
        desc = ddb.describe_table(TableName=uid)["Table"]
        return items, desc.get("GlobalSecondaryIndexes"), desc.get("StreamSpecification")

    before = state()
    refused = [
        ("dynamodb", "execute-statement", "--statement",
         "INSERT INTO \"%s\" VALUE {'pk': 'b'}" % uid),
        ("dynamodb", "batch-execute-statement", "--statements", json.dumps(
            [{"Statement": "DELETE FROM \"%s\" WHERE pk = 'a'" % uid}])),
        ("dynamodb", "update-table", "--table-name", uid, "--attribute-definitions",
         "AttributeName=g,AttributeType=S", "--global-secondary-index-updates", json.dumps(
             [{"Create": {"IndexName": "by_g", "KeySchema": [{"AttributeName": "g",
                                                           "KeyType": "HASH"}],
                          "Projection": {"ProjectionType": "ALL"}}}])),
        ("dynamodb", "restore-table-to-point-in-time", "--source-table-name", uid,
         "--target-table-name", uid + "-r", "--use-latest-restorable-time"),
    ]
    for args in refused:
        p = cli.run(*args, check=False)
        assert p.returncode != 0, args
        assert "UnknownOperationException" in p.stderr or "ValidationException" in p.stderr, \
            (args, p.stderr)
    assert state() == before
    assert uid + "-r" not in ddb.list_tables()["TableNames"]


def test_a_command_after_the_cli_process_ended_runs_in_a_new_one(cli):
    # the runner's process dies as a killed command's would (a command that
    # does not answer in 120 s is killed): the next command starts a new
    # one instead of failing on the dead one, and the one after that reuses it
    cli.json("s3api", "list-buckets")
    dead = cli.proc
    dead.kill()
    dead.wait()
    assert "Buckets" in cli.json("s3api", "list-buckets")
    assert cli.proc is not dead and cli.proc.poll() is None
    again = cli.proc
    cli.json("s3api", "list-buckets")
    assert cli.proc is again
