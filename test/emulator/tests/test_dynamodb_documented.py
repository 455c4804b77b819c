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

Every write test also reads the stream: what a reader receives is what the
pump would forward.
"""
import json

import botocore.exceptions
import pytest

from helpers import create_table, raw_request, read_all


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


def test_legacy_parameters(emulator, uid):
    """[LP]: AttributesToGet, Expected, AttributeUpdates, KeyConditions,
    QueryFilter, ScanFilter and ConditionalOperator act as the expressions
    that replaced them; mixed with expressions they are refused."""
    ddb = emulator.client("dynamodb")
    ddb.create_table(TableName=uid, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}])
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
