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
                       ("customers_audit", [("event_id", "string")]),
                       ("weird types", [("t", "uniontype<int,string>")])):
        try:
            glue.delete_table(DatabaseName=DATABASE, Name=name)
        except glue.exceptions.EntityNotFoundException:
            pass
        glue.create_table(DatabaseName=DATABASE, TableInput={
            "Name": name, "TableType": "EXTERNAL_TABLE",
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
    for schema in ("audit_imp", "audit_imp2", "audit_imp3"):
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
    assert ("new_image", "jsonb", "") in cols
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


def test_import_except_and_unknown_types(glue_catalog, db):
    cur = db.cursor()
    cur.execute("DROP SCHEMA IF EXISTS audit_imp2 CASCADE; CREATE SCHEMA audit_imp2")
    cur.execute(f'IMPORT FOREIGN SCHEMA "{DATABASE}" EXCEPT (orders_audit) '
                f'FROM SERVER {SERVER} INTO audit_imp2')
    cur.execute("""SELECT c.relname FROM pg_class c
                    WHERE c.relnamespace = 'audit_imp2'::regnamespace ORDER BY 1""")
    assert cur.fetchall() == [("customers_audit",), ("weird types",)]
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
