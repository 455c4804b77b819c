"""Helpers of the conformance suite."""
import http.client
from urllib.parse import urlsplit

import botocore.auth
import botocore.awsrequest
import botocore.credentials


def raw_request(emulator, target, body, version="1.0", signing="dynamodb", sign=True,
                secret="test", headers=None):
    """A JSON-protocol request sent by hand: (status, headers, body bytes)."""
    u = urlsplit(emulator.url)
    h = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-%s" % version}
    h.update(headers or {})
    req = botocore.awsrequest.AWSRequest(method="POST", url=emulator.url + "/", data=body,
                                         headers=h)
    if sign:
        botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", secret),
                                signing, "us-east-1").add_auth(req)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("POST", "/", body=body, headers=dict(req.headers.items()))
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()



def create_table(emulator, name, view="NEW_AND_OLD_IMAGES"):
    """A table with a stream; (dynamodb client, stream ARN)."""
    ddb = emulator.client("dynamodb")
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    return ddb, ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


def create_sorted_table(emulator, name):
    """An on-demand table of partition key pk (S) and sort key sk (N), no
    stream; its dynamodb client."""
    ddb = emulator.client("dynamodb")
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}])
    return ddb


def shards(emulator, arn):
    streams = emulator.client("dynamodbstreams")
    out, start = [], None
    while True:
        kw = {"StreamArn": arn}
        if start:
            kw["ExclusiveStartShardId"] = start
        d = streams.describe_stream(**kw)["StreamDescription"]
        out += d["Shards"]
        start = d.get("LastEvaluatedShardId")
        if not start:
            return out


def read_shard(emulator, arn, shard_id, kind="TRIM_HORIZON"):
    """Every record of one shard (stops at the end of an open shard)."""
    streams = emulator.client("dynamodbstreams")
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id,
                                    ShardIteratorType=kind)["ShardIterator"]
    out = []
    while it:
        r = streams.get_records(ShardIterator=it)
        out += r["Records"]
        if not r["Records"]:
            break
        it = r.get("NextShardIterator")
    return out


def read_all(emulator, arn):
    """Every record of a stream, parents before children."""
    out = []
    for sh in shards(emulator, arn):
        out += read_shard(emulator, arn, sh["ShardId"])
    return out
