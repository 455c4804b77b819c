"""DynamoDB and DynamoDB Streams as their documentation describes them, each
test naming its source:

  [UE]  Developer Guide, "Using update expressions in DynamoDB"
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html
  [CO]  Developer Guide, "Constraints in Amazon DynamoDB" (Attributes, Data types)
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html
  [SC]  API reference, Scan (Segment, TotalSegments, the 1 MB limit)
        https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html
  [LP]  Developer Guide, "Legacy conditional parameters"
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/LegacyConditionalParameters.html
  [GR]  DynamoDB Streams API reference, GetRecords / ListStreams / DescribeStream
        https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetRecords.html
  [TW]  API reference, TransactWriteItems and BatchGetItem
  [BM]  botocore's service model (min/max of Limit, TotalSegments, Segment)
  [PS]  Developer Guide, "Parallel scan" (segments split by partition key)
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html#Scan.ParallelScan
  [TP]  Developer Guide, "Burst capacity" and the ProvisionedThroughputExceededException
        of the API reference's common errors (a provisioned table's reads above its
        read capacity, beyond up to 300 s of unused capacity, are refused)
  [ES]  DynamoDB's answer to an ExclusiveStartKey outside the requested segment, as
        quoted from the service in the review of scylladb/scylladb#9270

Every write test also reads the stream: what a reader receives is what the
pump would forward.
"""
import json
import time

import botocore.exceptions
import pytest

from helpers import create_sorted_table, create_table, raw_request, read_all


def err(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_remove_on_a_missing_item_creates_nothing(emulator, uid):
    """[UE]: UpdateItem with only REMOVE on an absent item writes no item
    and emits no record; an empty UpdateExpression is a ValidationException."""
    ddb, arn = create_table(emulator, uid)
    ddb.update_item(TableName=uid, Key={"pk": {"S": "a"}}, UpdateExpression="REMOVE g")
    assert "Item" not in ddb.get_item(TableName=uid, Key={"pk": {"S": "a"}})
    code, msg = err(ddb.update_item, TableName=uid, Key={"pk": {"S": "a"}},
                    UpdateExpression="")
    assert code == "ValidationException" and "can not be empty" in msg
    assert "Item" not in ddb.get_item(TableName=uid, Key={"pk": {"S": "a"}})
    assert read_all(emulator, arn) == []
    # a SET on a missing item creates it (one INSERT)
    ddb.update_item(TableName=uid, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"N": "1"}})
    assert [r["eventName"] for r in read_all(emulator, arn)] == ["INSERT"]


def test_list_indexes_refer_to_the_list_as_it_was(emulator, uid):
    """[UE]: REMOVE a[1] SET a[3]=17 on [2,3,4,5,6,7] gives [2,4,17,6,7];
    elements SET past the end are appended in index order."""
    ddb, arn = create_table(emulator, uid)
    nums = lambda xs: {"L": [{"N": str(x)} for x in xs]}  # noqa: E731
    ddb.put_item(TableName=uid, Item={"pk": {"S": "a"}, "a": nums([2, 3, 4, 5, 6, 7])})
    ddb.update_item(TableName=uid, Key={"pk": {"S": "a"}},
                    UpdateExpression="REMOVE a[1] SET a[3] = :v",
                    ExpressionAttributeValues={":v": {"N": "17"}})
    got = ddb.get_item(TableName=uid, Key={"pk": {"S": "a"}})["Item"]["a"]
    assert got == nums([2, 4, 17, 6, 7])
    ddb.update_item(TableName=uid, Key={"pk": {"S": "a"}},
                    UpdateExpression="SET a[84] = :x, a[37] = :y, a[50] = :z",
                    ExpressionAttributeValues={":x": {"N": "84"}, ":y": {"N": "37"},
                                               ":z": {"N": "50"}})
    got = ddb.get_item(TableName=uid, Key={"pk": {"S": "a"}})["Item"]["a"]
    assert got == nums([2, 4, 17, 6, 7, 37, 50, 84])
    ddb.update_item(TableName=uid, Key={"pk": {"S": "a"}},
                    UpdateExpression="REMOVE a[0], a[2], a[7]")
    got = ddb.get_item(TableName=uid, Key={"pk": {"S": "a"}})["Item"]["a"]
    assert got == nums([4, 6, 7, 37, 50])


def _nested(depth):
    v = {"S": "leaf"}
    for _ in range(depth):
        v = {"M": {"m": v}}
    return v


def test_nesting_deeper_than_32_levels_is_refused(emulator, uid):
    """[CO]: "DynamoDB supports nested attributes up to 32 levels deep"
    (the top-level attribute is level 1: 31 maps above a scalar pass, 32 do
    not); refused on PutItem and through an UpdateItem value; nothing is
    written."""
    ddb, arn = create_table(emulator, uid)
    ddb.put_item(TableName=uid, Item={"pk": {"S": "ok"}, "d": _nested(31)})
    code, msg = err(ddb.put_item, TableName=uid, Item={"pk": {"S": "deep"}, "d": _nested(32)})
    assert code == "ValidationException" and "Nesting Levels" in msg
    deep_list = {"S": "x"}
    for _ in range(40):
        deep_list = {"L": [deep_list]}
    code, _ = err(ddb.update_item, TableName=uid, Key={"pk": {"S": "deep"}},
                  UpdateExpression="SET d = :d", ExpressionAttributeValues={":d": deep_list})
    assert code == "ValidationException"
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(emulator, arn)] == ["ok"]


@pytest.mark.parametrize("text,code", [
    (" 1", "ValidationException"),          # no spaces in a number
    ("1 ", "ValidationException"),
    ("0x10", "ValidationException"),
    ("Infinity", "ValidationException"),
    ("NaN", "ValidationException"),
    ("1e999999999", "ValidationException"),  # a huge exponent: not HTTP 500
    ("1e126", "ValidationException"),        # over 9.99...E+125
    ("1e-131", "ValidationException"),       # under 1E-130
    ("1" * 39, "ValidationException"),       # 39 significant digits
])
def test_number_format_and_range(emulator, uid, text, code):
    """[CO] Data types, Number: up to 38 digits of precision, positive
    1E-130 to 9.9999999999999999999999999999999999999E+125."""
    ddb, arn = create_table(emulator, uid)
    status, _, body = raw_request(emulator, "DynamoDB_20120810.PutItem", json.dumps(
        {"TableName": uid, "Item": {"pk": {"S": "a"}, "n": {"N": text}}}))
    assert status == 400, body
    assert json.loads(body)["__type"].endswith(code)
    assert read_all(emulator, arn) == []


def test_number_results_keep_38_digits(emulator, uid):
    """[CO]: a result that needs more than 38 digits (1e50 - 1) is refused,
    not rounded; 38 digits pass."""
    ddb, arn = create_table(emulator, uid)
    ddb.put_item(TableName=uid, Item={"pk": {"S": "a"}, "n": {"N": "1e50"}})
    code, msg = err(ddb.update_item, TableName=uid, Key={"pk": {"S": "a"}},
                    UpdateExpression="SET n = n - :one",
                    ExpressionAttributeValues={":one": {"N": "1"}})
    assert code == "ValidationException" and "38 significant digits" in msg
    code, _ = err(ddb.update_item, TableName=uid, Key={"pk": {"S": "a"}},
                  UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}})
    assert code == "ValidationException"
    ddb.update_item(TableName=uid, Key={"pk": {"S": "a"}}, UpdateExpression="SET n = :v",
                    ExpressionAttributeValues={":v": {"N": "9" * 38}})
    ddb.update_item(TableName=uid, Key={"pk": {"S": "a"}}, UpdateExpression="SET n = n - :one",
                    ExpressionAttributeValues={":one": {"N": "1"}})
    got = ddb.get_item(TableName=uid, Key={"pk": {"S": "a"}})["Item"]["n"]["N"]
    assert got == "9" * 37 + "8"


def test_stream_limits_and_arns(emulator, uid):
    """[GR]/[BM]: GetRecords Limit over 1000 is a ValidationException (not
    LimitExceededException, the throttling error SDKs retry); Limit 0 or
    negative is refused (model: min 1); ListStreams Limit=0 likewise; a
    malformed StreamArn is a ValidationException, a well-formed unknown one
    ResourceNotFoundException."""
    ddb, arn = create_table(emulator, uid)
    ddb.put_item(TableName=uid, Item={"pk": {"S": "a"}})
    streams = emulator.client("dynamodbstreams")
    sid = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=sid,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def call(op, body):
        status, _, text = raw_request(emulator, "DynamoDBStreams_20120810." + op,
                                      json.dumps(body))
        return status, json.loads(text).get("__type", "").rpartition("#")[2]

    assert call("GetRecords", {"ShardIterator": it, "Limit": 1001}) == (
        400, "ValidationException")
    for bad in (0, -1):
        assert call("GetRecords", {"ShardIterator": it, "Limit": bad}) == (
            400, "ValidationException")
        assert call("ListStreams", {"Limit": bad}) == (400, "ValidationException")
        assert call("DescribeStream", {"StreamArn": arn, "Limit": bad}) == (
            400, "ValidationException")
    assert call("GetRecords", {"ShardIterator": it, "Limit": 1000})[0] == 200
    malformed = "arn:aws:dynamodb:us-east-1:000000000000:table/%s/stream/not-a-label" % uid
    assert call("DescribeStream", {"StreamArn": malformed}) == (400, "ValidationException")
    assert call("GetShardIterator", {"StreamArn": malformed, "ShardId": sid,
                                     "ShardIteratorType": "LATEST"}) == (
        400, "ValidationException")
    unknown = arn[:-23] + "2001-01-01T00:00:00.000"
    assert call("DescribeStream", {"StreamArn": unknown}) == (
        400, "ResourceNotFoundException")


def test_describe_stream_shard_filter_child_shards(emulator, uid):
    """[GR] DescribeStream ShardFilter {Type: CHILD_SHARDS, ShardId}: the
    children of that shard only, never the shard itself."""
    ddb, arn = create_table(emulator, uid)
    ddb.put_item(TableName=uid, Item={"pk": {"S": "a"}})
    streams = emulator.client("dynamodbstreams")
    parent = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    split = emulator.split_shard(arn, parent["ShardId"], children=2)
    status, _, body = raw_request(emulator, "DynamoDBStreams_20120810.DescribeStream",
                                  json.dumps({"StreamArn": arn, "ShardFilter": {
                                      "Type": "CHILD_SHARDS",
                                      "ShardId": parent["ShardId"]}}))
    assert status == 200, body
    got = json.loads(body)["StreamDescription"]["Shards"]
    assert sorted(s["ShardId"] for s in got) == sorted(split["created"])
    assert all(s["ParentShardId"] == parent["ShardId"] for s in got)
    status, _, body = raw_request(emulator, "DynamoDBStreams_20120810.DescribeStream",
                                  json.dumps({"StreamArn": arn, "ShardFilter": {
                                      "Type": "PARENT_SHARDS", "ShardId": parent["ShardId"]}}))
    assert status == 400


def test_parallel_scan_segments_and_the_1_mb_page(emulator, uid):
    """[SC]: the segments of a parallel scan together return every item
    once; Segment needs TotalSegments and must be less than it; a page
    stops at 1 MB of items with a LastEvaluatedKey."""
    ddb, _ = create_table(emulator, uid)
    blob = "x" * 100_000
    for i in range(30):
        ddb.put_item(TableName=uid, Item={"pk": {"S": "k%02d" % i}, "b": {"S": blob}})
    seen = []
    for seg in range(4):
        kw = {"TableName": uid, "Segment": seg, "TotalSegments": 4,
              "ProjectionExpression": "pk"}
        while True:
            r = ddb.scan(**kw)
            seen += [x["pk"]["S"] for x in r["Items"]]
            if "LastEvaluatedKey" not in r:
                break
            kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]
    assert sorted(seen) == ["k%02d" % i for i in range(30)]
    first = ddb.scan(TableName=uid)
    # 100 KB items: the page ends with the item that reaches 1 MB
    assert first["ScannedCount"] == 11 and "LastEvaluatedKey" in first
    code, msg = err(ddb.scan, TableName=uid, Segment=1)
    assert code == "ValidationException" and "TotalSegments" in msg
    code, msg = err(ddb.scan, TableName=uid, Segment=4, TotalSegments=4)
    assert code == "ValidationException" and "less than" in msg


def _scan_segment(ddb, table, seg, total, **kw):
    """Every page of one segment: (items, summed ConsumedCapacity, pages)."""
    kw = dict(kw, TableName=table, Segment=seg, TotalSegments=total,
              ReturnConsumedCapacity="TOTAL")
    items, units, pages = [], 0.0, 0
    while True:
        r = ddb.scan(**kw)
        items += r["Items"]
        units += r["ConsumedCapacity"]["CapacityUnits"]
        pages += 1
        if "LastEvaluatedKey" not in r:
            return items, units, pages
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]


def test_parallel_scan_partitions_by_partition_key(emulator, uid):
    """[PS] [SC] [BM] [ES]: with a sort key, the segments of a parallel scan
    are disjoint, together hold every item once, and keep an item
    collection (one partition key) in one segment; each page's
    ConsumedCapacity is its scanned bytes in 4 KB units, halved for an
    eventually consistent read; TotalSegments is 1..1000000 and Segment
    0..999999 (botocore's model); an ExclusiveStartKey of another segment
    is refused with DynamoDB's message."""
    ddb = create_sorted_table(emulator, uid)
    blob = "y" * 3000
    want = set()
    for p in range(40):
        for s_ in range(5):
            ddb.put_item(TableName=uid, Item={"pk": {"S": "p%02d" % p}, "sk": {"N": str(s_)},
                                              "b": {"S": blob}})
            want.add(("p%02d" % p, s_))
    owner, seen, total_units = {}, [], 0.0
    for seg in range(7):
        items, units, pages = _scan_segment(ddb, uid, seg, 7)
        total_units += units
        for i in items:
            key = (i["pk"]["S"], int(i["sk"]["N"]))
            seen.append(key)
            assert owner.setdefault(key[0], seg) == seg, "an item collection split"
    assert sorted(seen) == sorted(want) and len(seen) == len(want)
    assert len(set(owner.values())) > 1
    # one segment of one: the whole table, and the same capacity as a plain
    # scan of it
    items, units, pages = _scan_segment(ddb, uid, 0, 1)
    assert len(items) == 200 and pages == 1
    plain = ddb.scan(TableName=uid, ReturnConsumedCapacity="TOTAL")
    assert plain["ConsumedCapacity"] == {"TableName": uid, "CapacityUnits": units}
    # 200 items of about 3 KB in one page of about 600 KB: ceil(bytes/4096)/2
    assert 70 <= units <= 76 and units * 2 == int(units * 2)
    strong = ddb.scan(TableName=uid, Segment=0, TotalSegments=1, ConsistentRead=True,
                      ReturnConsumedCapacity="TOTAL")
    assert strong["ConsumedCapacity"]["CapacityUnits"] == 2 * units
    # ranges from botocore's model, checked by the service as well
    for body, member in (({"TotalSegments": 0, "Segment": 0}, "totalSegments"),
                         ({"TotalSegments": 1000001, "Segment": 0}, "totalSegments"),
                         ({"TotalSegments": 4, "Segment": -1}, "segment")):
        status, _, raw = raw_request(emulator, "DynamoDB_20120810.Scan",
                                     json.dumps(dict(body, TableName=uid)))
        doc = json.loads(raw)
        assert status == 400 and doc["__type"].endswith("ValidationException"), doc
        assert member in doc.get("message", doc.get("Message", "")), doc
    assert ddb.scan(TableName=uid, Segment=999999, TotalSegments=1000000)["Count"] >= 0
    code, msg = err(ddb.scan, TableName=uid, TotalSegments=4)
    assert code == "ValidationException" and "Segment parameter is required" in msg
    # a key of segment a given to segment b
    a = next(i for i in range(7) if i in owner.values())
    key = next({"pk": {"S": k}, "sk": {"N": "0"}} for k, sg in owner.items() if sg == a)
    ok = ddb.scan(TableName=uid, Segment=a, TotalSegments=7, ExclusiveStartKey=key)
    assert all(owner[i["pk"]["S"]] == a for i in ok["Items"])
    code, msg = err(ddb.scan, TableName=uid, Segment=(a + 1) % 7, TotalSegments=7,
                    ExclusiveStartKey=key)
    assert code == "ValidationException"
    assert msg == ("The provided starting key is invalid: Invalid ExclusiveStartKey. Please "
                   "use ExclusiveStartKey with correct Segment. TotalSegments: 7 Segment: %d"
                   % ((a + 1) % 7))


def test_reads_above_provisioned_capacity_are_throttled(emulator, uid):
    """[TP]: a PROVISIONED table's reads beyond its read capacity and its
    burst get ProvisionedThroughputExceededException until capacity flows
    back at ReadCapacityUnits a second; what was refused consumed nothing.
    dynamodb_burst_seconds (at least one second) sets the burst; an
    on-demand table, writes and a global index's reads are not limited
    by the table's read capacity."""
    ddb = emulator.client("dynamodb")
    emulator.configure(dynamodb_burst_seconds=0)
    try:
        ddb.create_table(TableName=uid, BillingMode="PROVISIONED",
                         ProvisionedThroughput={"ReadCapacityUnits": 2,
                                                "WriteCapacityUnits": 1},
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "g", "AttributeType": "S"}],
                         GlobalSecondaryIndexes=[{
                             "IndexName": "by_g", "Projection": {"ProjectionType": "ALL"},
                             "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                             "ProvisionedThroughput": {"ReadCapacityUnits": 1,
                                                       "WriteCapacityUnits": 1}}])
        for i in range(10):   # writes are not limited by read capacity
            ddb.put_item(TableName=uid, Item={"pk": {"S": "k%d" % i}, "g": {"S": "x"},
                                              "b": {"S": "z" * 3000}})
        key = {"pk": {"S": "k0"}}
        # the bucket holds one second: 2 units, a strongly consistent read of
        # a 3 KB item costs 1 (the third read is refused if it comes within
        # a quarter second of the first, before half a unit flowed back)
        assert ddb.get_item(TableName=uid, Key=key, ConsistentRead=True)["Item"]
        assert ddb.get_item(TableName=uid, Key=key, ConsistentRead=True)["Item"]
        code, msg = err(ddb.get_item, TableName=uid, Key=key, ConsistentRead=True)
        assert code == "ProvisionedThroughputExceededException"
        assert msg.startswith("The level of configured provisioned throughput for the table "
                              "was exceeded")
        assert ddb.query(TableName=uid, IndexName="by_g", KeyConditionExpression="g = :g",
                         ExpressionAttributeValues={":g": {"S": "x"}})["Count"] == 10
        time.sleep(0.7)       # 1.4 units flowed back
        r = ddb.scan(TableName=uid, ReturnConsumedCapacity="TOTAL")
        assert r["Count"] == 10 and r["ConsumedCapacity"]["CapacityUnits"] == 4.0
        # the page cost 4 units: the bucket is below zero, and every read
        # refused, for about 1.3 s (1.25 s at least however long the calls
        # before took: the bucket held 2 units at most)
        code, _ = err(ddb.get_item, TableName=uid, Key=key)
        assert code == "ProvisionedThroughputExceededException"
        code, _ = err(ddb.scan, TableName=uid)
        assert code == "ProvisionedThroughputExceededException"
        code, _ = err(ddb.batch_get_item, RequestItems={uid: {"Keys": [key]}})
        assert code == "ProvisionedThroughputExceededException"
        time.sleep(1.6)
        assert ddb.get_item(TableName=uid, Key=key)["Item"]
        # raised capacity is used at once
        ddb.update_table(TableName=uid, ProvisionedThroughput={"ReadCapacityUnits": 1000,
                                                                "WriteCapacityUnits": 1})
        time.sleep(0.1)
        for _ in range(20):
            ddb.get_item(TableName=uid, Key=key, ConsistentRead=True)
        # an on-demand table is not limited
        other = uid + "od"
        ddb.create_table(TableName=other, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        ddb.put_item(TableName=other, Item={"pk": {"S": "a"}})
        for _ in range(50):
            ddb.get_item(TableName=other, Key={"pk": {"S": "a"}}, ConsistentRead=True)
    finally:
        emulator.configure(dynamodb_burst_seconds=300)


def test_legacy_parameters(emulator, uid):
    """[LP]: AttributesToGet, Expected, AttributeUpdates, KeyConditions,
    QueryFilter, ScanFilter and ConditionalOperator act as the expressions
    that replaced them; mixed with expressions they are refused."""
    ddb = create_sorted_table(emulator, uid)
    for i in range(5):
        ddb.put_item(TableName=uid, Item={"pk": {"S": "a"}, "sk": {"N": str(i)},
                                          "v": {"N": str(i * 10)}, "t": {"S": "x%d" % i}})
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    got = ddb.get_item(TableName=uid, Key=key, AttributesToGet=["v"])["Item"]
    assert got == {"v": {"N": "10"}}
    code, _ = err(ddb.put_item, TableName=uid, Item=dict(key, v={"N": "0"}),
                  Expected={"v": {"Value": {"N": "99"}}})
    assert code == "ConditionalCheckFailedException"
    ddb.put_item(TableName=uid, Item=dict(key, v={"N": "11"}),
                 Expected={"v": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "10"}]},
                           "gone": {"Exists": False}})
    ddb.update_item(TableName=uid, Key=key, AttributeUpdates={
        "v": {"Action": "ADD", "Value": {"N": "1"}}, "w": {"Action": "PUT", "Value": {"S": "w"}}})
    assert ddb.get_item(TableName=uid, Key=key)["Item"] == dict(key, v={"N": "12"},
                                                                w={"S": "w"})
    ddb.update_item(TableName=uid, Key=key, AttributeUpdates={"w": {"Action": "DELETE"}})
    assert "w" not in ddb.get_item(TableName=uid, Key=key)["Item"]
    q = ddb.query(TableName=uid, KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
        "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "3"}]}},
        QueryFilter={"v": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "15"}]}})
    assert [x["sk"]["N"] for x in q["Items"]] == ["2", "3"] and q["ScannedCount"] == 3
    s = ddb.scan(TableName=uid, ConditionalOperator="OR", ScanFilter={
        "t": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "x4"}]},
        "v": {"ComparisonOperator": "IN", "AttributeValueList": [{"N": "0"}]}})
    assert sorted(x["sk"]["N"] for x in s["Items"]) == ["0", "4"]
    code, msg = err(ddb.get_item, TableName=uid, Key=key, AttributesToGet=["v"],
                    ProjectionExpression="v")
    assert code == "ValidationException"
    assert "Can not use both expression and non-expression parameters" in msg


def test_secondary_indexes(emulator, uid):
    """[TW]/API reference CreateTable and Query: a GSI is kept, described
    and queried; a query on it finds the items that carry its key."""
    ddb = emulator.client("dynamodb")
    ddb.create_table(
        TableName=uid, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "g", "AttributeType": "S"},
                              {"AttributeName": "n", "AttributeType": "N"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_g", "KeySchema": [
            {"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    d = ddb.describe_table(TableName=uid)["Table"]
    assert [x["IndexName"] for x in d["GlobalSecondaryIndexes"]] == ["by_g"]
    assert d["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE"
    for i, g in enumerate(["x", "y", "x", None, "x"]):
        item = {"pk": {"S": "p%d" % i}, "n": {"N": str(10 - i)}, "other": {"S": "o"}}
        if g:
            item["g"] = {"S": g}
        ddb.put_item(TableName=uid, Item=item)
    r = ddb.query(TableName=uid, IndexName="by_g", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": {"S": "x"}})
    assert [x["pk"]["S"] for x in r["Items"]] == ["p4", "p2", "p0"]
    assert all("other" not in x for x in r["Items"])   # KEYS_ONLY
    page = ddb.query(TableName=uid, IndexName="by_g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "x"}}, Limit=2)
    assert set(page["LastEvaluatedKey"]) == {"pk", "g", "n"}
    rest = ddb.query(TableName=uid, IndexName="by_g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "x"}},
                     ExclusiveStartKey=page["LastEvaluatedKey"])
    assert [x["pk"]["S"] for x in rest["Items"]] == ["p0"]
    assert ddb.scan(TableName=uid, IndexName="by_g")["Count"] == 4
    code, msg = err(ddb.query, TableName=uid, IndexName="nope",
                    KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "x"}})
    assert code == "ValidationException" and "specified index" in msg
    code, _ = err(ddb.query, TableName=uid, IndexName="by_g", ConsistentRead=True,
                  KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "x"}})
    assert code == "ValidationException"
    code, msg = err(ddb.put_item, TableName=uid, Item={"pk": {"S": "bad"}, "g": {"N": "1"}})
    assert code == "ValidationException" and "Index Key" in msg


def test_transactions_and_batch_get(emulator, uid):
    """[TW]: TransactWriteItems is all or nothing with a reason per item;
    BatchGetItem returns the items found and refuses duplicate keys."""
    ddb, arn = create_table(emulator, uid)
    ddb.put_item(TableName=uid, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    items = [{"Put": {"TableName": uid, "Item": {"pk": {"S": "b"}}}},
             {"Update": {"TableName": uid, "Key": {"pk": {"S": "a"}},
                         "UpdateExpression": "SET v = :two",
                         "ConditionExpression": "v = :nine",
                         "ExpressionAttributeValues": {":two": {"N": "2"},
                                                       ":nine": {"N": "9"}}}}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.transact_write_items(TransactItems=items)
    assert e.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in e.value.response["CancellationReasons"]] == [
        "None", "ConditionalCheckFailed"]
    assert "Item" not in ddb.get_item(TableName=uid, Key={"pk": {"S": "b"}})
    items[1]["Update"]["ExpressionAttributeValues"][":nine"] = {"N": "1"}
    ddb.transact_write_items(TransactItems=items, ClientRequestToken="tok-" + uid)
    # the same token again: not applied twice
    ddb.transact_write_items(TransactItems=items, ClientRequestToken="tok-" + uid)
    recs = read_all(emulator, arn)
    assert [r["eventName"] for r in recs] == ["INSERT", "INSERT", "MODIFY"]
    got = ddb.batch_get_item(RequestItems={uid: {"Keys": [
        {"pk": {"S": "a"}}, {"pk": {"S": "b"}}, {"pk": {"S": "none"}}]}},
        ReturnConsumedCapacity="TOTAL")
    assert sorted(x["pk"]["S"] for x in got["Responses"][uid]) == ["a", "b"]
    assert got["UnprocessedKeys"] == {}
    assert got["ConsumedCapacity"][0]["TableName"] == uid
    code, _ = err(ddb.batch_get_item, RequestItems={uid: {"Keys": [
        {"pk": {"S": "a"}}, {"pk": {"S": "a"}}]}})
    assert code == "ValidationException"


def test_consumed_capacity(emulator, uid):
    """Developer Guide, "Read/write capacity mode": a write of up to 1 KB is
    one unit; an eventually consistent read of up to 4 KB half a unit."""
    ddb, _ = create_table(emulator, uid)
    r = ddb.put_item(TableName=uid, Item={"pk": {"S": "a"}, "b": {"S": "x" * 2500}},
                     ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"] == {"TableName": uid, "CapacityUnits": 3.0}
    r = ddb.get_item(TableName=uid, Key={"pk": {"S": "a"}}, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 0.5
    r = ddb.get_item(TableName=uid, Key={"pk": {"S": "a"}}, ConsistentRead=True,
                     ReturnConsumedCapacity="INDEXES")
    assert r["ConsumedCapacity"]["Table"] == {"CapacityUnits": 1.0}
    assert "ConsumedCapacity" not in ddb.put_item(TableName=uid, Item={"pk": {"S": "b"}})


def test_query_and_batch_get_as_the_live_table_reads_them(emulator, uid):
    """API reference, Query: a filter expression cannot name a key attribute;
    Query pages stop at 1 MB with a LastEvaluatedKey; ProjectionExpression
    returns only the attributes named.  BatchGetItem: at most 16 MB an
    answer, the rest in UnprocessedKeys, which asked again return the rest."""
    ddb = create_sorted_table(emulator, uid)
    pad = "z" * 390_000
    for i in range(45):
        ddb.put_item(TableName=uid, Item={"pk": {"S": "p"}, "sk": {"N": str(i)},
                                          "pad": {"S": pad}, "v": {"N": str(i % 3)}})
    code, msg = err(ddb.query, TableName=uid, KeyConditionExpression="pk = :p",
                    FilterExpression="sk > :z",
                    ExpressionAttributeValues={":p": {"S": "p"}, ":z": {"N": "1"}})
    assert code == "ValidationException" and "Primary key attribute: sk" in msg
    page = ddb.query(TableName=uid, KeyConditionExpression="pk = :p",
                     FilterExpression="v = :one", ProjectionExpression="sk, v",
                     ExpressionAttributeValues={":p": {"S": "p"}, ":one": {"N": "1"}},
                     ReturnConsumedCapacity="TOTAL")
    assert page["ScannedCount"] < 45 and "LastEvaluatedKey" in page
    assert all(set(i) == {"sk", "v"} and i["v"] == {"N": "1"} for i in page["Items"])
    # what was read, not what was returned, is charged: 4 KB units, halved
    assert page["ConsumedCapacity"]["CapacityUnits"] >= page["ScannedCount"] * 390_000 / 4096 / 2
    keys = [{"pk": {"S": "p"}, "sk": {"N": str(i)}} for i in range(45)]
    got = ddb.batch_get_item(RequestItems={uid: {"Keys": keys}})
    first = len(got["Responses"][uid])
    rest = got["UnprocessedKeys"][uid]["Keys"]
    assert first + len(rest) == 45 and rest and first < 45
    again = ddb.batch_get_item(RequestItems=got["UnprocessedKeys"])
    assert len(again["Responses"][uid]) == len(rest) and again["UnprocessedKeys"] == {}
