#!/usr/bin/python3
"""The Orders application of the quickstart: plain boto3 against DynamoDB.

This is what an application does; audit_fdw is not involved here.  It runs
against the local AWS emulator (AUDIT_FDW_EMULATOR_URL), exactly as it would
run against AWS without the endpoint_url.

    orders.py create-table   the Orders table, with a stream of new and old images
    orders.py play day1      order 101 OPEN -> PICKEDUP, forty other orders placed
    orders.py play day2      101 DELIVERED, the others delivered or cancelled
    orders.py play day3      101 RETURNED; 102 RETURNED and delivered again;
                             103 delivered to a new address
                             each ends with "N changes, so N stream records"
"""
import os
import sys
import time

import boto3
from botocore.exceptions import ClientError


def dynamodb():
    return boto3.client(
        "dynamodb",
        endpoint_url=os.environ["AUDIT_FDW_EMULATOR_URL"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def create_table(db):
    try:
        db.create_table(
            TableName="Orders",
            AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True,
                                 "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        print("   created DynamoDB table Orders (stream: NEW_AND_OLD_IMAGES)")
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceInUseException":
            raise
        print("   DynamoDB table Orders exists")
    arn = db.describe_table(TableName="Orders")["Table"]["LatestStreamArn"]
    print("   stream", arn)


def now_ms():
    return str(int(time.time() * 1000))


def put_order(db, order_id, state, address):
    db.put_item(TableName="Orders", Item={
        "orderId": {"S": order_id},
        "state": {"S": state},
        "address": {"S": address},
        "lastUpdatedDate": {"N": now_ms()},
    })


def set_state(db, order_id, state):
    db.update_item(
        TableName="Orders", Key={"orderId": {"S": order_id}},
        UpdateExpression="SET #s = :s, lastUpdatedDate = :t",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":s": {"S": state}, ":t": {"N": now_ms()}},
    )


def deliver_to(db, order_id, address):
    db.update_item(
        TableName="Orders", Key={"orderId": {"S": order_id}},
        UpdateExpression="SET #s = :s, address = :a, lastUpdatedDate = :t",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":s": {"S": "DELIVERED"}, ":a": {"S": address},
                                   ":t": {"N": now_ms()}},
    )


def delete_order(db, order_id):
    db.delete_item(TableName="Orders", Key={"orderId": {"S": order_id}})


BATCH = range(102, 142)


def day1(db):
    """Order 101 is placed and picked up; forty other orders are placed, and
    all but every fourth picked up."""
    put_order(db, "101", "OPEN", "12 Elm Street")
    set_state(db, "101", "PICKEDUP")
    print("   order 101: inserted as OPEN, -> PICKEDUP")
    changes = 2
    for n in BATCH:
        put_order(db, str(n), "OPEN", f"{n} Main Street")
        changes += 1
        if n % 4 != 0:
            set_state(db, str(n), "PICKEDUP")
            changes += 1
    print(f"   orders {BATCH.start}..{BATCH.stop - 1}: inserted as OPEN, "
          "all but every fourth -> PICKEDUP")
    return changes


def day2(db):
    """Order 101 is delivered; of the others, half are delivered and the ones
    never picked up are cancelled (deleted)."""
    set_state(db, "101", "DELIVERED")
    print("   order 101: -> DELIVERED")
    changes = 1
    for n in BATCH:
        if n % 4 == 0:
            delete_order(db, str(n))
            changes += 1
        elif n % 4 != 3:
            set_state(db, str(n), "DELIVERED")
            changes += 1
    print("   other orders: 20 -> DELIVERED, 10 still PICKEDUP, "
          "the 10 never picked up cancelled (deleted)")
    return changes


def day3(db):
    """Order 101 comes back; so does 102, which is delivered again; 103,
    still on its way, is delivered to the customer's new address."""
    set_state(db, "101", "RETURNED")
    print("   order 101: -> RETURNED")
    set_state(db, "102", "RETURNED")
    set_state(db, "102", "DELIVERED")
    print("   order 102: -> RETURNED, -> DELIVERED again")
    deliver_to(db, "103", "7 Lake Road")
    print("   order 103: -> DELIVERED, to a new address")
    return 4


STEPS = {"day1": day1, "day2": day2, "day3": day3}


def main():
    db = dynamodb()
    if sys.argv[1:] == ["create-table"]:
        create_table(db)
    elif len(sys.argv) == 3 and sys.argv[1] == "play" and sys.argv[2] in STEPS:
        changes = STEPS[sys.argv[2]](db)
        print(f"   {changes} changes, so {changes} stream records")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
