"""IMPORT FOREIGN SCHEMA from the emulator's Glue catalog: the audit table
becomes a foreign table whose struct fields are columns of their own, and
it answers the seed's question, the state history of order 101."""
import datetime
import json
import uuid

import pytest

from conftest import connect

SERVER = "fdw_import"
BUCKET = "fdw-import-data"
RESULTS = "fdw-import-results"
DATABASE = "fdw_import_audit"
# objects of this run under their own prefix (see test_fdw_scan.py)
RUN = uuid.uuid4().hex[:8]

ITEM = "struct<orderId:string,state:string,lastUpdatedDate:bigint>"
AUDIT_COLUMNS = [
    ("event_id", "string"), ("event_name", "string"), ("event_time", "timestamp"),
    ("sequence_number", "string"), ("shard_id", "string"), ("source_table", "string"),
    ("aws_region", "string"), ("keys", "struct<orderId:string>"),
    ("new_image", ITEM), ("old_image", ITEM),
]

# A table as Athena DDL or a crawler leaves it: every name lower-cased, the
# declared names kept only in the parameters create_audit_table writes.
NESTED = ("struct<orderId:string,shipTo:map<string,struct<zipCode:string>>,"
          "lineItems:array<struct<skuId:string,qty:int>>>")
LC_COLUMNS = [(n, t.lower()) for n, t in AUDIT_COLUMNS[:7]] + [
    ("keys", "struct<orderid:string>"), ("new_image", NESTED.lower()),
    ("old_image", NESTED.lower())]
LC_PARAMETERS = {"audit_fdw.keys_type": "struct<orderId:string>",
                 "audit_fdw.image_type": NESTED}
LC_RECORD = {"event_id": "e-lc-1", "event_name": "INSERT", "event_time": "2024-01-15 16:44:27.000",
             "sequence_number": "1" * 21, "shard_id": "shardId-000001", "source_table": "Orders",
             "aws_region": "us-east-1", "keys": {"orderId": "201"},
             "new_image": {"orderId": "201",
                           "shipTo": {"Home": {"zipCode": "10115"}, "office": {"zipCode": "20095"}},
                           "lineItems": [{"skuId": "A-1", "qty": 2}, {"skuId": "B-2", "qty": 1}]}}

HISTORY = [("INSERT", None, "OPEN", "2024-01-15 16:44:27.000"),
           ("MODIFY", "OPEN", "PICKEDUP", "2024-01-15 18:02:11.250"),
           ("MODIFY", "PICKEDUP", "DELIVERED", "2024-01-16 09:30:00.000"),
           ("MODIFY", "DELIVERED", "RETURNED", "2024-01-20 12:00:00.500")]


def record(i, order, event, old, new, at):
    r = {"event_id": f"e-{order}-{i}", "event_name": event, "event_time": at,
         "sequence_number": str(10 ** 21 + i), "shard_id": "shardId-000001",
         "source_table": "Orders", "aws_region": "us-east-1",
         "keys": {"orderId": order}}
    if new:
        r["new_image"] = {"orderId": order, "state": new, "lastUpdatedDate": 1705337067 + i}
    if old:
        r["old_image"] = {"orderId": order, "state": old, "lastUpdatedDate": 1705337066 + i}
    return r


@pytest.fixture(scope="module")
def glue_catalog(emulator):
    s3 = emulator.client("s3")
    glue = emulator.client("glue")
    for b in (BUCKET, RESULTS):
        try:
            s3.create_bucket(Bucket=b)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    try:
        glue.create_database(DatabaseInput={"Name": DATABASE})
    except glue.exceptions.AlreadyExistsException:
        pass
    for name, cols in (("orders_audit", AUDIT_COLUMNS),
                       ("orders_audit_lc", LC_COLUMNS),
                       ("customers_audit", [("event_id", "string")]),
                       ("weird types", [("t", "uniontype<int,string>")])):
        try:
            glue.delete_table(DatabaseName=DATABASE, Name=name)
        except glue.exceptions.EntityNotFoundException:
            pass
        glue.create_table(DatabaseName=DATABASE, TableInput={
            "Name": name, "TableType": "EXTERNAL_TABLE",
            "Parameters": LC_PARAMETERS if name == "orders_audit_lc" else {},
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in cols],
                "Location": f"s3://{BUCKET}/{RUN}/{name.replace(' ', '_')}/",
                "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}}})
    records = [record(i, "101", *h) for i, h in enumerate(HISTORY)]
    records += [record(10 + i, "102", *h) for i, h in enumerate(HISTORY[:2])]
    # one object per Firehose flush: concatenated records, each ending in \n
    s3.put_object(Bucket=BUCKET, Key=f"{RUN}/orders_audit/2024/01/15/16/part-1",
                  Body="".join(json.dumps(r) + "\n" for r in records[:3]).encode())
    s3.put_object(Bucket=BUCKET, Key=f"{RUN}/orders_audit/2024/01/20/12/part-2",
                  Body="".join(json.dumps(r) + "\n" for r in records[3:]).encode())
    s3.put_object(Bucket=BUCKET, Key=f"{RUN}/orders_audit_lc/2024/01/15/16/part-1",
                  Body=(json.dumps(LC_RECORD) + "\n").encode())

    conn = connect()
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS audit_fdw")
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    cur.execute(f"""CREATE SERVER {SERVER} FOREIGN DATA WRAPPER audit_fdw OPTIONS (
        endpoint '{emulator.url}', region 'us-east-1',
        output_location 's3://{RESULTS}/q/')""")
    cur.execute(f"""CREATE USER MAPPING FOR CURRENT_USER SERVER {SERVER}
        OPTIONS (access_key_id 'test', secret_access_key 'test')""")
    yield conn
    cur.execute(f"DROP SERVER IF EXISTS {SERVER} CASCADE")
    for schema in ("audit_imp", "audit_imp2", "audit_imp3", "audit_imp4"):
        cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    conn.close()


def columns(cur, schema, table):
    cur.execute("""SELECT a.attname, format_type(a.atttypid, a.atttypmod),
                          coalesce(array_to_string(a.attfdwoptions, ','), '')
                     FROM pg_attribute a
                    WHERE a.attrelid = %s::regclass AND a.attnum > 0
                    ORDER BY a.attnum""", (f"{schema}.{table}",))
    return cur.fetchall()


def test_import_audit_table_answers_order_history(glue_catalog, db):
    cur = db.cursor()
    cur.execute("DROP SCHEMA IF EXISTS audit_imp CASCADE; CREATE SCHEMA audit_imp")
    cur.execute(f'IMPORT FOREIGN SCHEMA "{DATABASE}" LIMIT TO (orders_audit) '
                f'FROM SERVER {SERVER} INTO audit_imp')
    cols = columns(cur, "audit_imp", "orders_audit")
    assert cols[:3] == [("event_id", "text", ""), ("event_name", "text", ""),
                        ("event_time", "timestamp with time zone", "")]
    assert ("new_image", "jsonb", "glue_type=" + ITEM) in cols
    assert ("keys", "jsonb", "glue_type=struct<orderId:string>") in cols
    assert ("order_id", "text", "column_name=keys,path=orderId") in cols
    assert ("new_state", "text", "column_name=new_image,path=state") in cols
    assert ("old_state", "text", "column_name=old_image,path=state") in cols
    assert ("new_last_updated_date", "bigint",
            "column_name=new_image,path=lastUpdatedDate") in cols

    cur.execute("SET TIME ZONE 'UTC'")
    cur.execute("""SELECT event_time, event_name, old_state, new_state
                     FROM audit_imp.orders_audit
                    WHERE order_id = '101'
                    ORDER BY event_time""")
    got = cur.fetchall()
    utc = datetime.timezone.utc
    want = [(datetime.datetime.strptime(at, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=utc),
             ev, old, new) for ev, old, new, at in HISTORY]
    assert got == want
    cur.execute("""EXPLAIN (VERBOSE, COSTS OFF)
                   SELECT event_time, new_state FROM audit_imp.orders_audit
                    WHERE order_id = '101' ORDER BY event_time""")
    plan = "\n".join(r[0] for r in cur.fetchall())
    assert '("keys"."orderId" = \'101\')' in plan and "Sort" not in plan

    # jsonb keys as the item has them (Athena sends them lower-cased)
    cur.execute("""SELECT keys->>'orderId', keys->>'orderid', new_image
                     FROM audit_imp.orders_audit
                    WHERE order_id = '101' AND event_name = 'INSERT'""")
    order_id, lower, image = cur.fetchone()
    assert (order_id, lower) == ("101", None)
    assert image == {"orderId": "101", "state": "OPEN", "lastUpdatedDate": 1705337067}


def test_import_recovers_the_declared_case(glue_catalog, db):
    """A table whose Glue names are lower-cased: the column names and jsonb
    keys come from the declared types create_audit_table kept; struct fields
    inside maps and arrays take their case, map keys (data) keep theirs."""
    cur = db.cursor()
    cur.execute("DROP SCHEMA IF EXISTS audit_imp4 CASCADE; CREATE SCHEMA audit_imp4")
    cur.execute(f'IMPORT FOREIGN SCHEMA "{DATABASE}" LIMIT TO (orders_audit_lc) '
                f'FROM SERVER {SERVER} INTO audit_imp4')
    cols = columns(cur, "audit_imp4", "orders_audit_lc")
    assert ("order_id", "text", "column_name=keys,path=orderId") in cols
    assert ("new_ship_to", "jsonb", "column_name=new_image,path=shipTo,glue_type="
            "map<string,struct<zipCode:string>>") in cols
    assert ("new_line_items", "jsonb", "column_name=new_image,path=lineItems,glue_type="
            "array<struct<skuId:string,qty:int>>") in cols
    cur.execute("""SELECT order_id, keys, new_image, new_ship_to, new_line_items
                     FROM audit_imp4.orders_audit_lc WHERE order_id = '201'""")
    order_id, keys, image, ship_to, items = cur.fetchone()
    assert order_id == "201" and keys == {"orderId": "201"}
    assert ship_to == {"Home": {"zipCode": "10115"}, "office": {"zipCode": "20095"}}
    assert items == [{"skuId": "A-1", "qty": 2}, {"skuId": "B-2", "qty": 1}]
    assert image == {"orderId": "201", "shipTo": ship_to, "lineItems": items}

    # a struct declared text, with its Glue type: JSON in the declared case,
    # not Hive's {orderid=201}
    cur.execute(f"""CREATE FOREIGN TABLE audit_imp4.by_hand (
        image text OPTIONS (column_name 'new_image', glue_type '{NESTED}'),
        order_id text OPTIONS (column_name 'keys', path 'orderId'))
        SERVER {SERVER} OPTIONS (database '{DATABASE}', "table" 'orders_audit_lc')""")
    cur.execute("SELECT image FROM audit_imp4.by_hand WHERE order_id = '201'")
    assert json.loads(cur.fetchone()[0]) == image
    with pytest.raises(Exception) as e:
        cur.execute("ALTER FOREIGN TABLE audit_imp4.by_hand ALTER image "
                    "OPTIONS (SET glue_type 'string')")
    assert 'invalid value for option "glue_type"' in str(e.value)


def test_import_except_and_unknown_types(glue_catalog, db):
    cur = db.cursor()
    cur.execute("DROP SCHEMA IF EXISTS audit_imp2 CASCADE; CREATE SCHEMA audit_imp2")
    cur.execute(f'IMPORT FOREIGN SCHEMA "{DATABASE}" EXCEPT (orders_audit) '
                f'FROM SERVER {SERVER} INTO audit_imp2')
    cur.execute("""SELECT c.relname FROM pg_class c
                    WHERE c.relnamespace = 'audit_imp2'::regnamespace ORDER BY 1""")
    assert cur.fetchall() == [("customers_audit",), ("orders_audit_lc",), ("weird types",)]
    # a Glue type without a PostgreSQL counterpart is read as text
    assert columns(cur, "audit_imp2", '"weird types"') == [("t", "text", "")]


def test_import_without_struct_expansion(glue_catalog, db):
    cur = db.cursor()
    cur.execute("DROP SCHEMA IF EXISTS audit_imp3 CASCADE; CREATE SCHEMA audit_imp3")
    cur.execute(f'IMPORT FOREIGN SCHEMA "{DATABASE}" LIMIT TO (orders_audit) '
                f"FROM SERVER {SERVER} INTO audit_imp3 OPTIONS (expand_structs 'false')")
    names = [c[0] for c in columns(cur, "audit_imp3", "orders_audit")]
    assert names == [n for n, _ in AUDIT_COLUMNS]
    with pytest.raises(Exception) as e:
        cur.execute(f'IMPORT FOREIGN SCHEMA "{DATABASE}" FROM SERVER {SERVER} '
                    f"INTO audit_imp3 OPTIONS (expand_struct 'false')")
    assert "expand_structs" in str(e.value)


def test_import_follows_every_page_of_get_tables(glue_catalog, db, emulator):
    glue = emulator.client("glue")
    database = "fdw_import_many"
    try:
        glue.create_database(DatabaseInput={"Name": database})
    except glue.exceptions.AlreadyExistsException:
        pass
    existing = {t["Name"] for page in glue.get_paginator("get_tables").paginate(
        DatabaseName=database) for t in page["TableList"]}
    for i in range(130):
        name = f"t{i:03d}"
        if name not in existing:
            glue.create_table(DatabaseName=database, TableInput={
                "Name": name, "StorageDescriptor": {
                    "Columns": [{"Name": "n", "Type": "int"}],
                    "Location": f"s3://{BUCKET}/many/{name}/"}})
    cur = db.cursor()
    cur.execute("DROP SCHEMA IF EXISTS audit_many CASCADE; CREATE SCHEMA audit_many")
    log = emulator.requests()
    since = log[-1]["time"] if log else 0
    cur.execute(f'IMPORT FOREIGN SCHEMA "{database}" FROM SERVER {SERVER} INTO audit_many')
    # 130 tables come in two pages of at most 100
    assert len([r for r in emulator.requests(service="glue", operation="GetTables")
                if r["time"] > since]) == 2
    cur.execute("""SELECT count(*), min(relname), max(relname) FROM pg_class
                    WHERE relnamespace = 'audit_many'::regnamespace AND relkind = 'f'""")
    assert cur.fetchone() == (130, "t000", "t129")
    cur.execute("DROP SCHEMA audit_many CASCADE")
