#!/usr/bin/python3
"""The Orders application of the quickstart: plain boto3 against DynamoDB.

This is what an application does; audit_fdw is not involved here.  It runs
against the local AWS emulator (AUDIT_FDW_EMULATOR_URL), exactly as it would
run against AWS without the endpoint_url.

    orders.py create-table   the Orders table, with a stream of new and old images
    orders.py play           the story: order 101 OPEN -> PICKEDUP -> DELIVERED,
                             a batch of other orders, then 101 RETURNED; ends
                             with "N changes, so N stream records"
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


def put_order(db, order_id, state):
    db.put_item(TableName="Orders", Item={
        "orderId": {"S": order_id},
        "state": {"S": state},
        "lastUpdatedDate": {"N": now_ms()},
    })


def set_state(db, order_id, state):
    db.update_item(
        TableName="Orders", Key={"orderId": {"S": order_id}},
        UpdateExpression="SET #s = :s, lastUpdatedDate = :t",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":s": {"S": state}, ":t": {"N": now_ms()}},
    )


def delete_order(db, order_id):
    db.delete_item(TableName="Orders", Key={"orderId": {"S": order_id}})


def play(db):
    records = 0

    print("   order 101: inserted as OPEN")
    put_order(db, "101", "OPEN")
    records += 1
    for state in ("PICKEDUP", "DELIVERED"):
        print("   order 101: ->", state)
        set_state(db, "101", state)
        records += 1

    # A batch of other orders: most are delivered, some wait for pickup,
    # every fourth is cancelled (deleted from the table).
    batch = range(102, 142)
    for n in batch:
        oid = str(n)
        put_order(db, oid, "OPEN")
        records += 1
        if n % 4 == 0:
            delete_order(db, oid)
            records += 1
            continue
        set_state(db, oid, "PICKEDUP")
        records += 1
        if n % 4 != 3:
            set_state(db, oid, "DELIVERED")
            records += 1
    print(f"   orders {batch.start}..{batch.stop - 1}: OPEN -> PICKEDUP -> DELIVERED, "
          "some still PICKEDUP, every fourth cancelled (deleted)")

    print("   order 101: -> RETURNED")
    set_state(db, "101", "RETURNED")
    records += 1
    print(f"   {records} changes, so {records} stream records")


def main():
    db = dynamodb()
    if sys.argv[1:] == ["create-table"]:
        create_table(db)
    elif sys.argv[1:] == ["play"]:
        play(db)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
