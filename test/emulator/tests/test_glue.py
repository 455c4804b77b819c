"""Glue Data Catalog: databases and tables kept as given, pagination, errors."""
import botocore.exceptions
import pytest


@pytest.fixture(scope="module")
def glue(emulator):
    return emulator.client("glue")


def error_of(excinfo):
    return excinfo.value.response["Error"]


PROJECTED_TABLE = {
    "Name": "Orders_Audit",
    "TableType": "EXTERNAL_TABLE",
    "PartitionKeys": [{"Name": "dt", "Type": "string"}],
    "StorageDescriptor": {
        "Columns": [{"Name": "event_id", "Type": "string"},
                    {"Name": "new_image", "Type": "struct<orderId:string,state:string>"}],
        "Location": "s3://audit-bucket/orders/",
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
                      "Parameters": {"case.insensitive": "true"}},
    },
    "Parameters": {
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy/MM/dd/HH",
        "projection.dt.range": "2024/01/01/00,NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "HOURS",
        "storage.location.template": "s3://audit-bucket/orders/${dt}/",
        "classification": "json",
    },
}


def test_database_crud(glue, uid):
    glue.create_database(DatabaseInput={"Name": uid.upper(), "Description": "audit records",
                                        "Parameters": {"k": "v"}})
    db = glue.get_database(Name=uid)["Database"]
    assert db["Name"] == uid            # Glue stores names lower-cased
    assert db["Description"] == "audit records"
    assert db["Parameters"] == {"k": "v"}
    assert db["CreateTime"].year >= 2024
    with pytest.raises(botocore.exceptions.ClientError) as e:
        glue.create_database(DatabaseInput={"Name": uid})
    assert error_of(e)["Code"] == "AlreadyExistsException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        glue.get_database(Name=uid + "-missing")
    assert error_of(e)["Code"] == "EntityNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_get_databases_pagination(glue, uid):
    names = [f"{uid}-{i:02d}" for i in range(7)]
    for n in names:
        glue.create_database(DatabaseInput={"Name": n})
    seen, token, pages = [], None, 0
    while True:
        kw = {"MaxResults": 3}
        if token:
            kw["NextToken"] = token
        r = glue.get_databases(**kw)
        assert len(r["DatabaseList"]) <= 3
        seen += [d["Name"] for d in r["DatabaseList"]]
        pages += 1
        token = r.get("NextToken")
        if not token:
            break
    assert [n for n in seen if n.startswith(uid)] == names
    assert len(seen) == len(set(seen))
    assert pages >= 3


def test_table_kept_as_given(glue, uid):
    glue.create_database(DatabaseInput={"Name": uid})
    glue.create_table(DatabaseName=uid, TableInput=PROJECTED_TABLE)
    t = glue.get_table(DatabaseName=uid, Name="orders_audit")["Table"]
    assert t["Name"] == "orders_audit"
    assert t["DatabaseName"] == uid
    assert t["Parameters"] == PROJECTED_TABLE["Parameters"]
    assert t["PartitionKeys"] == PROJECTED_TABLE["PartitionKeys"]
    assert t["StorageDescriptor"] == PROJECTED_TABLE["StorageDescriptor"]
    assert t["TableType"] == "EXTERNAL_TABLE"
    assert t["CreateTime"] <= t["UpdateTime"]
    # names are case-insensitive
    assert glue.get_table(DatabaseName=uid.upper(), Name="ORDERS_AUDIT")["Table"]["Name"] == "orders_audit"


def test_table_errors(glue, uid):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        glue.create_table(DatabaseName=uid, TableInput={"Name": "t"})
    assert error_of(e)["Code"] == "EntityNotFoundException"
    assert uid in error_of(e)["Message"]
    glue.create_database(DatabaseInput={"Name": uid})
    glue.create_table(DatabaseName=uid, TableInput={"Name": "t"})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        glue.create_table(DatabaseName=uid, TableInput={"Name": "T"})
    assert error_of(e)["Code"] == "AlreadyExistsException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        glue.get_table(DatabaseName=uid, Name="missing")
    assert error_of(e)["Code"] == "EntityNotFoundException"
    glue.delete_table(DatabaseName=uid, Name="t")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        glue.get_table(DatabaseName=uid, Name="t")
    assert error_of(e)["Code"] == "EntityNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        glue.delete_table(DatabaseName=uid, Name="t")
    assert error_of(e)["Code"] == "EntityNotFoundException"


def test_request_validated_against_model(glue, uid):
    with pytest.raises(botocore.exceptions.ParamValidationError):
        glue.create_table(DatabaseName=uid, TableInput={})


def test_get_tables_pagination_and_expression(glue, uid):
    glue.create_database(DatabaseInput={"Name": uid})
    names = [f"t{i:02d}" for i in range(12)] + ["other"]
    for n in names:
        glue.create_table(DatabaseName=uid, TableInput={"Name": n, "Parameters": {"i": n}})
    got, token = [], None
    while True:
        kw = {"DatabaseName": uid, "MaxResults": 5}
        if token:
            kw["NextToken"] = token
        r = glue.get_tables(**kw)
        assert len(r["TableList"]) <= 5
        got += [(t["Name"], t["Parameters"]["i"]) for t in r["TableList"]]
        token = r.get("NextToken")
        if not token:
            break
    assert [g[0] for g in got] == sorted(names)
    assert all(a == b for a, b in got)
    r = glue.get_tables(DatabaseName=uid, Expression="t0*")
    assert [t["Name"] for t in r["TableList"]] == [f"t0{i}" for i in range(10)]
    paginator = glue.get_paginator("get_tables")
    total = sum(len(p["TableList"]) for p in paginator.paginate(DatabaseName=uid,
                                                                PaginationConfig={"PageSize": 4}))
    assert total == len(names)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        glue.get_tables(DatabaseName=uid + "-missing")
    assert error_of(e)["Code"] == "EntityNotFoundException"
