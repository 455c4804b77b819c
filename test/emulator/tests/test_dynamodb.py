"""DynamoDB: tables with streams, item writes and the records they emit."""
import botocore.exceptions
import pytest

from helpers import create_table, read_all


@pytest.mark.parametrize("view", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE",
                                  "NEW_AND_OLD_IMAGES"])
def test_view_types(emulator, uid, view):
    ddb, arn = create_table(emulator, uid, view)
    ddb.put_item(TableName=uid, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    ddb.put_item(TableName=uid, Item={"pk": {"S": "a"}, "v": {"N": "2"}})
    ddb.delete_item(TableName=uid, Key={"pk": {"S": "a"}})
    recs = read_all(emulator, arn)
    assert [r["eventName"] for r in recs] == ["INSERT", "MODIFY", "REMOVE"]
    for r in recs:
        d = r["dynamodb"]
        assert d["Keys"] == {"pk": {"S": "a"}}
        assert d["StreamViewType"] == view
        assert r["eventSource"] == "aws:dynamodb" and r["awsRegion"] == "us-east-1"
    new = [r["dynamodb"].get("NewImage") for r in recs]
    old = [r["dynamodb"].get("OldImage") for r in recs]
    if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        assert new == [{"pk": {"S": "a"}, "v": {"N": "1"}}, {"pk": {"S": "a"}, "v": {"N": "2"}},
                       None]
    else:
        assert new == [None, None, None]
    if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        assert old == [None, {"pk": {"S": "a"}, "v": {"N": "1"}},
                       {"pk": {"S": "a"}, "v": {"N": "2"}}]
    else:
        assert old == [None, None, None]


def test_describe_table(emulator, uid):
    ddb, arn = create_table(emulator, uid)
    t = ddb.describe_table(TableName=uid)["Table"]
    assert t["TableStatus"] == "ACTIVE"
    assert t["LatestStreamArn"] == arn
    assert arn.startswith("arn:aws:dynamodb:us-east-1:000000000000:table/%s/stream/" % uid)
    assert t["StreamSpecification"] == {"StreamEnabled": True,
                                        "StreamViewType": "NEW_AND_OLD_IMAGES"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        create_table(emulator, uid)
    assert e.value.response["Error"]["Code"] == "ResourceInUseException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.describe_table(TableName=uid + "x")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_update_expressions(emulator, uid):
    ddb, arn = create_table(emulator, uid)
    key = {"pk": {"S": "o1"}}
    ddb.put_item(TableName=uid, Item={"pk": {"S": "o1"}, "state": {"S": "OPEN"},
                                      "n": {"N": "1.50"}, "tags": {"SS": ["a"]},
                                      "drop": {"S": "x"}, "m": {"M": {"x": {"N": "1"}}},
                                      "l": {"L": [{"S": "first"}]}})
    r = ddb.update_item(
        TableName=uid, Key=key,
        UpdateExpression="SET #s = :s, m.y = :one, l = list_append(l, :more), "
                         "c = if_not_exists(c, :zero) + :one "
                         "REMOVE #d ADD n :one, tags :tags",
        ExpressionAttributeNames={"#s": "state", "#d": "drop"},
        ExpressionAttributeValues={":s": {"S": "PICKEDUP"}, ":one": {"N": "1"},
                                   ":zero": {"N": "0"}, ":tags": {"SS": ["b"]},
                                   ":more": {"L": [{"S": "second"}]}},
        ReturnValues="ALL_NEW")
    item = r["Attributes"]
    assert item["state"] == {"S": "PICKEDUP"}
    assert item["n"] == {"N": "2.5"}
    assert sorted(item["tags"]["SS"]) == ["a", "b"]
    assert "drop" not in item
    assert item["m"] == {"M": {"x": {"N": "1"}, "y": {"N": "1"}}}
    assert item["l"] == {"L": [{"S": "first"}, {"S": "second"}]}
    assert item["c"] == {"N": "1"}
    assert ddb.get_item(TableName=uid, Key=key)["Item"] == item
    got = ddb.get_item(TableName=uid, Key=key, ProjectionExpression="#s, n",
                       ExpressionAttributeNames={"#s": "state"})["Item"]
    assert got == {"state": {"S": "PICKEDUP"}, "n": {"N": "2.5"}}
    # a new item through UpdateItem is an INSERT
    ddb.update_item(TableName=uid, Key={"pk": {"S": "o2"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"BOOL": True}})
    recs = read_all(emulator, arn)
    assert [r["eventName"] for r in recs] == ["INSERT", "MODIFY", "INSERT"]
    assert recs[1]["dynamodb"]["OldImage"]["state"] == {"S": "OPEN"}


def test_writes_that_change_nothing_emit_nothing(emulator, uid):
    ddb, arn = create_table(emulator, uid)
    item = {"pk": {"S": "k"}, "v": {"N": "1.0"}, "s": {"SS": ["x", "y"]}}
    ddb.put_item(TableName=uid, Item=item)
    # same values (1.0 == 1, sets in another order)
    ddb.put_item(TableName=uid, Item={"pk": {"S": "k"}, "v": {"N": "1"},
                                      "s": {"SS": ["y", "x"]}})
    ddb.update_item(TableName=uid, Key={"pk": {"S": "k"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"N": "1"}})
    ddb.update_item(TableName=uid, Key={"pk": {"S": "k"}}, UpdateExpression="REMOVE nothere")
    ddb.delete_item(TableName=uid, Key={"pk": {"S": "missing"}})
    recs = read_all(emulator, arn)
    assert [r["eventName"] for r in recs] == ["INSERT"]


def test_conditions(emulator, uid):
    ddb, arn = create_table(emulator, uid)
    ddb.put_item(TableName=uid, Item={"pk": {"S": "k"}, "v": {"N": "5"}},
                 ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.put_item(TableName=uid, Item={"pk": {"S": "k"}},
                     ConditionExpression="attribute_not_exists(pk)")
    assert e.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    ddb.update_item(TableName=uid, Key={"pk": {"S": "k"}}, UpdateExpression="SET v = :n",
                    ConditionExpression="v < :max AND (v BETWEEN :lo AND :max)",
                    ExpressionAttributeValues={":n": {"N": "6"}, ":max": {"N": "10"},
                                               ":lo": {"N": "1"}})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.delete_item(TableName=uid, Key={"pk": {"S": "k"}}, ConditionExpression="v = :x",
                        ExpressionAttributeValues={":x": {"N": "5"}})
    assert e.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert [r["eventName"] for r in read_all(emulator, arn)] == ["INSERT", "MODIFY"]


def test_item_validation(emulator, uid):
    ddb, _ = create_table(emulator, uid)

    def code(fn, **kw):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            fn(TableName=uid, **kw)
        return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]

    c, m = code(ddb.put_item, Item={"other": {"S": "x"}})
    assert c == "ValidationException" and "Missing the key pk" in m
    c, m = code(ddb.put_item, Item={"pk": {"N": "1"}})
    assert c == "ValidationException" and "Type mismatch" in m
    c, m = code(ddb.put_item, Item={"pk": {"S": "a"}, "n": {"N": "not-a-number"}})
    assert c == "ValidationException"
    c, m = code(ddb.put_item, Item={"pk": {"S": "a"}, "s": {"SS": []}})
    assert c == "ValidationException"
    c, m = code(ddb.update_item, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
                ExpressionAttributeValues={":v": {"S": "x"}, ":unused": {"S": "y"}})
    assert c == "ValidationException" and "unused" in m
    c, m = code(ddb.update_item, Key={"pk": {"S": "a"}}, UpdateExpression="SET #v = :v",
                ExpressionAttributeValues={":v": {"S": "x"}})
    assert c == "ValidationException" and "#v" in m
    c, m = code(ddb.update_item, Key={"pk": {"S": "a"}}, UpdateExpression="SET pk = :v",
                ExpressionAttributeValues={":v": {"S": "x"}})
    assert c == "ValidationException" and "part of the key" in m
    c, m = code(ddb.update_item, Key={"pk": {"S": "a"}}, UpdateExpression="SET = :v",
                ExpressionAttributeValues={":v": {"S": "x"}})
    assert c == "ValidationException" and "Syntax error" in m


def test_numbers_keep_their_digits(emulator, uid):
    ddb, arn = create_table(emulator, uid)
    big = "12345678901234567890123456789012345678"
    ddb.put_item(TableName=uid, Item={"pk": {"S": "n"}, "big": {"N": big},
                                      "small": {"N": "0.000000000000000000000000000001"}})
    img = read_all(emulator, arn)[0]["dynamodb"]["NewImage"]
    assert img["big"] == {"N": big}
    assert img["small"] == {"N": "0.000000000000000000000000000001"}


def test_ttl_deletes_carry_user_identity(emulator, uid):
    ddb, arn = create_table(emulator, uid)
    ddb.update_time_to_live(TableName=uid, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires"})
    now = int(emulator._call("GET", "clock")["now"])
    ddb.put_item(TableName=uid, Item={"pk": {"S": "old"}, "expires": {"N": str(now - 10)}})
    ddb.put_item(TableName=uid, Item={"pk": {"S": "new"}, "expires": {"N": str(now + 86400 * 30)}})
    import time
    deadline = time.time() + 5
    while time.time() < deadline:
        recs = read_all(emulator, arn)
        if len(recs) == 3:
            break
        time.sleep(0.1)
    removes = [r for r in recs if r["eventName"] == "REMOVE"]
    assert len(removes) == 1
    assert removes[0]["dynamodb"]["Keys"] == {"pk": {"S": "old"}}
    assert removes[0]["userIdentity"] == {"Type": "Service",
                                          "PrincipalId": "dynamodb.amazonaws.com"}


def test_stream_off_and_on_again(emulator, uid):
    ddb, arn = create_table(emulator, uid)
    ddb.put_item(TableName=uid, Item={"pk": {"S": "a"}})
    ddb.update_table(TableName=uid, StreamSpecification={"StreamEnabled": False})
    st = emulator.client("dynamodbstreams")
    d = st.describe_stream(StreamArn=arn)["StreamDescription"]
    assert d["StreamStatus"] == "DISABLED"
    assert all("EndingSequenceNumber" in s["SequenceNumberRange"] for s in d["Shards"])
    ddb.put_item(TableName=uid, Item={"pk": {"S": "b"}})     # no stream: no record
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(emulator, arn)] == ["a"]
    import time
    time.sleep(0.002)
    ddb.update_table(TableName=uid, StreamSpecification={"StreamEnabled": True,
                                                         "StreamViewType": "KEYS_ONLY"})
    arn2 = ddb.describe_table(TableName=uid)["Table"]["LatestStreamArn"]
    assert arn2 != arn
    ddb.put_item(TableName=uid, Item={"pk": {"S": "c"}})
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(emulator, arn2)] == ["c"]
    arns = [s["StreamArn"] for s in st.list_streams(TableName=uid)["Streams"]]
    assert arns == [arn, arn2]


def test_batch_write_scan_query(emulator, uid):
    ddb = emulator.client("dynamodb")
    ddb.create_table(TableName=uid, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}],
                     StreamSpecification={"StreamEnabled": True,
                                          "StreamViewType": "NEW_IMAGE"})
    arn = ddb.describe_table(TableName=uid)["Table"]["LatestStreamArn"]
    puts = [{"PutRequest": {"Item": {"pk": {"S": "o%d" % (i % 2)}, "sk": {"N": str(i)},
                                     "even": {"BOOL": i % 2 == 0}}}} for i in range(20)]
    assert ddb.batch_write_item(RequestItems={uid: puts})["UnprocessedItems"] == {}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.batch_write_item(RequestItems={uid: puts[:1] * 2})
    assert "duplicates" in e.value.response["Error"]["Message"]
    ddb.batch_write_item(RequestItems={uid: [
        {"DeleteRequest": {"Key": {"pk": {"S": "o0"}, "sk": {"N": "0"}}}}]})
    assert len(read_all(emulator, arn)) == 21
    # scan, paginated
    got, start = [], None
    while True:
        kw = {"TableName": uid, "Limit": 7}
        if start:
            kw["ExclusiveStartKey"] = start
        r = ddb.scan(**kw)
        got += r["Items"]
        start = r.get("LastEvaluatedKey")
        if not start:
            break
    assert len(got) == 19
    r = ddb.scan(TableName=uid, FilterExpression="even = :t",
                 ExpressionAttributeValues={":t": {"BOOL": True}}, Select="COUNT")
    assert r["Count"] == 9 and r["ScannedCount"] == 19
    # query: numeric order of the range key, both directions
    r = ddb.query(TableName=uid, KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                  ExpressionAttributeValues={":p": {"S": "o1"}, ":a": {"N": "3"},
                                             ":b": {"N": "15"}})
    assert [i["sk"]["N"] for i in r["Items"]] == ["3", "5", "7", "9", "11", "13", "15"]
    r = ddb.query(TableName=uid, KeyConditionExpression="pk = :p",
                  ExpressionAttributeValues={":p": {"S": "o1"}}, ScanIndexForward=False,
                  Limit=3)
    assert [i["sk"]["N"] for i in r["Items"]] == ["19", "17", "15"]
    r = ddb.query(TableName=uid, KeyConditionExpression="pk = :p",
                  ExpressionAttributeValues={":p": {"S": "o1"}}, ScanIndexForward=False,
                  Limit=3, ExclusiveStartKey=r["LastEvaluatedKey"])
    assert [i["sk"]["N"] for i in r["Items"]] == ["13", "11", "9"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.query(TableName=uid, KeyConditionExpression="sk = :a",
                  ExpressionAttributeValues={":a": {"N": "1"}})
    assert e.value.response["Error"]["Code"] == "ValidationException"
