"""Glue Data Catalog (JSON 1.1): databases, tables and partitions.

CreateDatabase, GetDatabase, GetDatabases, DeleteDatabase, CreateTable,
GetTable, GetTables, UpdateTable, DeleteTable, CreatePartition,
BatchCreatePartition, GetPartition, GetPartitions (Expression, paging,
ExcludeColumnSchema), DeletePartition.  Names are case-insensitive
and stored lower-cased, as Glue stores them; everything else of a table
(StorageDescriptor, PartitionKeys, Parameters such as partition projection)
is kept exactly as given.  Listings page with an opaque NextToken.

The Athena engine reads tables through table_for_query(), which fails the
way Athena does when the catalog, schema or table does not exist.
"""
import base64
import copy
import json
import re

import sqlglot
from sqlglot import exp

from .athena_sql import TrinoError
from .core import AwsError, Service


def _not_found(message):
    return AwsError("EntityNotFoundException", message)


def _token(offset, kind):
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "k": kind}).encode()).decode()


def _offset(token, kind):
    if not token:
        return 0
    try:
        d = json.loads(base64.urlsafe_b64decode(token.encode()))
        if d.get("k") != kind or not isinstance(d.get("o"), int) or d["o"] < 0:
            raise ValueError
        return d["o"]
    except (ValueError, TypeError):
        raise AwsError("InvalidInputException", "Invalid pagination token") from None


_INTEGRAL = ("tinyint", "smallint", "int", "integer", "bigint")


def _partition_filter(text, keys):
    """A predicate over {key: value text} from a GetPartitions Expression;
    InvalidInputException for what it cannot read."""
    types = {k["Name"].lower(): (k.get("Type") or "string").lower() for k in keys}

    def bad(why):
        return AwsError("InvalidInputException", f"Unsupported expression '{text}': {why}")

    try:
        tree = sqlglot.parse_one(text)
    except sqlglot.errors.ParseError:
        raise bad("syntax error") from None

    def value(node, row, like=None):
        if isinstance(node, exp.Paren):
            return value(node.this, row, like)
        if isinstance(node, exp.Column):
            key = node.name.lower()
            if key not in types:
                raise bad(f"{node.name} is not a partition key")
            v = row[key]
            return int(v) if types[key] in _INTEGRAL else v
        if isinstance(node, exp.Literal):
            if node.is_string:
                return node.this
            return int(node.this) if node.this.lstrip("-").isdigit() else float(node.this)
        if isinstance(node, exp.Neg):
            return -value(node.this, row)
        raise bad(f"{node.sql()}")

    def cmp_pair(node, row):
        a, b = value(node.this, row), value(node.expression, row)
        if isinstance(a, str) != isinstance(b, str):
            a, b = str(a), str(b)
        return a, b

    def test(node, row):
        if isinstance(node, exp.Paren):
            return test(node.this, row)
        if isinstance(node, exp.And):
            return test(node.this, row) and test(node.expression, row)
        if isinstance(node, exp.Or):
            return test(node.this, row) or test(node.expression, row)
        if isinstance(node, exp.Not):
            return not test(node.this, row)
        ops = {exp.EQ: lambda a, b: a == b, exp.NEQ: lambda a, b: a != b,
               exp.GT: lambda a, b: a > b, exp.GTE: lambda a, b: a >= b,
               exp.LT: lambda a, b: a < b, exp.LTE: lambda a, b: a <= b}
        for cls, fn in ops.items():
            if isinstance(node, cls):
                return fn(*cmp_pair(node, row))
        if isinstance(node, exp.In):
            v = value(node.this, row)
            opts = [value(x, row) for x in node.expressions]
            return any((str(v) == str(o)) if isinstance(v, str) != isinstance(o, str)
                       else v == o for o in opts)
        if isinstance(node, exp.Between):
            v = value(node.this, row)
            lo, hi = value(node.args["low"], row), value(node.args["high"], row)
            return lo <= v <= hi
        if isinstance(node, exp.Like):
            v, pat = str(value(node.this, row)), str(value(node.expression, row))
            rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pat)
            return re.fullmatch(rx, v, re.S) is not None
        raise bad(node.sql())

    # read every leaf once now, so that a bad expression fails the call
    # even on a table without partitions
    test_row = {k: ("0" if t in _INTEGRAL else "") for k, t in types.items()}
    test(tree, test_row)
    return lambda row: test(tree, row)


def _catalog_id(p, emu):
    cid = p.get("CatalogId")
    if cid is not None and cid != emu.account_id:
        raise _not_found(f"Catalog {cid} not found.")
    return emu.account_id


class Glue(Service):
    name = "glue"

    def __init__(self, emu):
        super().__init__(emu)
        self.databases = {}     # name -> Database dict
        self.tables = {}        # database name -> {table name -> Table dict}
        # (database, table) -> {tuple of values -> Partition dict}
        self.partitions = {}

    # -- databases -------------------------------------------------------------

    def CreateDatabase(self, p):
        _catalog_id(p, self.emu)
        d = p["DatabaseInput"]
        name = d["Name"].lower()
        if name in self.databases:
            raise AwsError("AlreadyExistsException", "Database already exists.")
        db = copy.deepcopy(d)
        db["Name"] = name
        db["CreateTime"] = self.emu.clock.utcnow()
        db["CatalogId"] = self.emu.account_id
        db.setdefault("CreateTableDefaultPermissions", [{
            "Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
            "Permissions": ["ALL"]}])
        self.databases[name] = db
        self.tables[name] = {}
        return {}

    def _database(self, name):
        db = self.databases.get(name.lower())
        if db is None:
            raise _not_found(f"Database {name} not found.")
        return db

    def GetDatabase(self, p):
        _catalog_id(p, self.emu)
        return {"Database": copy.deepcopy(self._database(p["Name"]))}

    def GetDatabases(self, p):
        _catalog_id(p, self.emu)
        names = sorted(self.databases)
        start = _offset(p.get("NextToken"), "db")
        limit = p.get("MaxResults") or 100
        page = names[start:start + limit]
        out = {"DatabaseList": [copy.deepcopy(self.databases[n]) for n in page]}
        if start + limit < len(names):
            out["NextToken"] = _token(start + limit, "db")
        return out

    def DeleteDatabase(self, p):
        _catalog_id(p, self.emu)
        name = p["Name"].lower()
        self._database(name)
        del self.databases[name]
        self.tables.pop(name, None)
        return {}

    # -- tables ------------------------------------------------------------------

    def _table_from_input(self, db, t, previous=None):
        table = copy.deepcopy(t)
        table["Name"] = t["Name"].lower()
        table["DatabaseName"] = db
        now = self.emu.clock.utcnow()
        table["CreateTime"] = previous["CreateTime"] if previous else now
        table["UpdateTime"] = now
        table.setdefault("Retention", 0)
        table.setdefault("PartitionKeys", [])
        table["CreatedBy"] = previous["CreatedBy"] if previous else \
            f"arn:aws:iam::{self.emu.account_id}:root"
        table["IsRegisteredWithLakeFormation"] = False
        table["CatalogId"] = self.emu.account_id
        table["VersionId"] = str(int(previous["VersionId"]) + 1) if previous else "0"
        return table

    def CreateTable(self, p):
        _catalog_id(p, self.emu)
        db = self._database(p["DatabaseName"])["Name"]
        t = p["TableInput"]
        name = t["Name"].lower()
        if name in self.tables[db]:
            raise AwsError("AlreadyExistsException", "Table already exists.")
        self.tables[db][name] = self._table_from_input(db, t)
        return {}

    def UpdateTable(self, p):
        _catalog_id(p, self.emu)
        db = self._database(p["DatabaseName"])["Name"]
        t = p["TableInput"]
        name = t["Name"].lower()
        previous = self.tables[db].get(name)
        if previous is None:
            raise _not_found(f"Table {name} not found.")
        self.tables[db][name] = self._table_from_input(db, t, previous)
        return {}

    def GetTable(self, p):
        _catalog_id(p, self.emu)
        db = self._database(p["DatabaseName"])["Name"]
        t = self.tables[db].get(p["Name"].lower())
        if t is None:
            raise _not_found(f"Table {p['Name']} not found.")
        return {"Table": copy.deepcopy(t)}

    def GetTables(self, p):
        _catalog_id(p, self.emu)
        db = self._database(p["DatabaseName"])["Name"]
        names = sorted(self.tables[db])
        expr = p.get("Expression")
        if expr:
            # Hive-style patterns: * is any run of characters, | separates
            # alternatives; otherwise a regular expression
            pattern = "|".join("(?:" + alt.strip().replace(".*", "*").replace("*", ".*") + ")"
                               for alt in expr.split("|"))
            try:
                rx = re.compile(pattern, re.IGNORECASE)
            except re.error:
                raise AwsError("InvalidInputException", f"Invalid expression: {expr}") from None
            names = [n for n in names if rx.fullmatch(n)]
        start = _offset(p.get("NextToken"), "t:" + db)
        limit = p.get("MaxResults") or 100
        page = names[start:start + limit]
        out = {"TableList": [copy.deepcopy(self.tables[db][n]) for n in page]}
        if start + limit < len(names):
            out["NextToken"] = _token(start + limit, "t:" + db)
        return out

    def DeleteTable(self, p):
        _catalog_id(p, self.emu)
        db = self._database(p["DatabaseName"])["Name"]
        name = p["Name"].lower()
        if name not in self.tables[db]:
            raise _not_found(f"Table {p['Name']} not found.")
        del self.tables[db][name]
        self.partitions.pop((db, name), None)
        return {}

    # -- partitions ----------------------------------------------------------------

    def _partitioned(self, p):
        db = self._database(p["DatabaseName"])["Name"]
        name = p["TableName"].lower()
        t = self.tables[db].get(name)
        if t is None:
            raise _not_found(f"Table {p['TableName']} not found.")
        return db, name, t, self.partitions.setdefault((db, name), {})

    def _partition_from_input(self, db, name, t, pin):
        values = list(pin.get("Values") or [])
        if len(values) != len(t.get("PartitionKeys") or []):
            raise AwsError("InvalidInputException", "The number of partition keys do not "
                           "match the number of partition values")
        part = copy.deepcopy(pin)
        part.update({"Values": values, "DatabaseName": db, "TableName": name,
                     "CreationTime": self.emu.clock.utcnow(), "CatalogId": self.emu.account_id})
        return part

    def CreatePartition(self, p):
        _catalog_id(p, self.emu)
        db, name, t, parts = self._partitioned(p)
        part = self._partition_from_input(db, name, t, p["PartitionInput"])
        if tuple(part["Values"]) in parts:
            raise AwsError("AlreadyExistsException", "Partition already exists.")
        parts[tuple(part["Values"])] = part
        return {}

    def BatchCreatePartition(self, p):
        _catalog_id(p, self.emu)
        db, name, t, parts = self._partitioned(p)
        errors = []
        for pin in p["PartitionInputList"]:
            try:
                part = self._partition_from_input(db, name, t, pin)
                if tuple(part["Values"]) in parts:
                    raise AwsError("AlreadyExistsException", "Partition already exists.")
            except AwsError as e:
                errors.append({"PartitionValues": pin.get("Values") or [],
                               "ErrorDetail": {"ErrorCode": e.code, "ErrorMessage": e.message}})
                continue
            parts[tuple(part["Values"])] = part
        return {"Errors": errors or None}

    def GetPartition(self, p):
        _catalog_id(p, self.emu)
        _, _, _, parts = self._partitioned(p)
        part = parts.get(tuple(p["PartitionValues"]))
        if part is None:
            raise _not_found("Cannot find partition.")
        return {"Partition": copy.deepcopy(part)}

    def DeletePartition(self, p):
        _catalog_id(p, self.emu)
        _, _, _, parts = self._partitioned(p)
        if parts.pop(tuple(p["PartitionValues"]), None) is None:
            raise _not_found("Cannot find partition.")
        return {}

    def GetPartitions(self, p):
        """The partitions registered in the catalog (partition projection
        registers none, as in Glue), in value order, filtered by a
        partition-key Expression (the AWS Glue API reference,
        GetPartitions: comparisons, AND, OR, NOT, IN, BETWEEN, LIKE)."""
        _catalog_id(p, self.emu)
        for unsupported in ("Segment", "TransactionId", "QueryAsOfTime"):
            if p.get(unsupported) is not None:
                raise AwsError("InvalidInputException", f"{unsupported} is not supported by "
                               "this emulator")
        db, name, t, parts = self._partitioned(p)
        keys = t.get("PartitionKeys") or []
        rows = [parts[v] for v in sorted(parts)]
        expr = p.get("Expression")
        if expr:
            test = _partition_filter(expr, keys)
            rows = [r for r in rows if test(dict(zip((k["Name"].lower() for k in keys),
                                                     r["Values"])))]
        start = _offset(p.get("NextToken"), f"p:{db}.{name}")
        limit = p.get("MaxResults") or 1000
        page = [copy.deepcopy(r) for r in rows[start:start + limit]]
        if p.get("ExcludeColumnSchema"):
            for r in page:
                (r.get("StorageDescriptor") or {}).pop("Columns", None)
        out = {"Partitions": page}
        if start + limit < len(rows):
            out["NextToken"] = _token(start + limit, f"p:{db}.{name}")
        return out

    # -- for the Athena engine -------------------------------------------------------

    def table_for_query(self, catalog, database, name, position=(1, 1)):
        """The table a query names, or the TrinoError Athena fails with."""
        with self.lock:
            if catalog != "awsdatacatalog":
                raise TrinoError("CATALOG_NOT_FOUND", f"Catalog '{catalog}' does not exist", *position)
            if database not in self.databases:
                raise TrinoError("SCHEMA_NOT_FOUND", f"Schema '{database}' does not exist", *position)
            t = self.tables[database].get(name)
            if t is None:
                raise TrinoError("TABLE_NOT_FOUND",
                                 f"Table '{catalog}.{database}.{name}' does not exist", *position)
            return copy.deepcopy(t)
