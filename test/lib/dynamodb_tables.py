"""DynamoDB tables in the emulator for the tests and benchmarks of foreign
tables over live DynamoDB tables (src/dynamodb/): create, fill, and a
foreign server with the current user's mapping."""
import time

from boto3.dynamodb.types import TypeSerializer

_ser = TypeSerializer()


def marshal(item):
    """A Python item (str, Decimal, bool, None, bytes, set, list, dict) as
    DynamoDB attribute values."""
    return {k: _ser.serialize(v) for k, v in item.items()}


def replace_table(ddb, name, partition_key, sort_key=None):
    """(Re)create table `name`; a key is (attribute, 'S' | 'N' | 'B')."""
    try:
        ddb.delete_table(TableName=name)
    except ddb.exceptions.ResourceNotFoundException:
        pass
    keys = [{"AttributeName": partition_key[0], "KeyType": "HASH"}]
    defs = [{"AttributeName": partition_key[0], "AttributeType": partition_key[1]}]
    if sort_key:
        keys.append({"AttributeName": sort_key[0], "KeyType": "RANGE"})
        defs.append({"AttributeName": sort_key[0], "AttributeType": sort_key[1]})
    ddb.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=defs,
                     BillingMode="PAY_PER_REQUEST")
    for _ in range(100):
        if ddb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE":
            return
        time.sleep(0.05)


def put_items(ddb, name, items):
    """Writes Python items 25 at a time (BatchWriteItem)."""
    items = list(items)
    for i in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": marshal(it)}} for it in items[i:i + 25]]
        while requests:
            out = ddb.batch_write_item(RequestItems={name: requests})
            requests = out.get("UnprocessedItems", {}).get(name, [])


def scan_all(ddb, name):
    """Every item of the table, as DynamoDB attribute values (all pages)."""
    items, start = [], None
    while True:
        kw = {"TableName": name}
        if start:
            kw["ExclusiveStartKey"] = start
        page = ddb.scan(**kw)
        items.extend(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def dynamodb_server(cur, server, endpoint, keys=("test", "test")):
    """(Re)create foreign server `server` over the emulator, with the current
    user's mapping."""
    cur.execute("CREATE EXTENSION IF NOT EXISTS audit_fdw")
    cur.execute(f'DROP SERVER IF EXISTS "{server}" CASCADE')
    cur.execute(f"""CREATE SERVER "{server}" FOREIGN DATA WRAPPER audit_fdw
                    OPTIONS (region 'us-east-1', endpoint %s)""", (endpoint,))
    cur.execute(f'CREATE USER MAPPING FOR CURRENT_USER SERVER "{server}" '
                "OPTIONS (access_key_id %s, secret_access_key %s)", keys)
