"""Glue Data Catalog (JSON 1.1): databases and tables.

CreateDatabase, GetDatabase, GetDatabases, DeleteDatabase, CreateTable,
GetTable, GetTables, UpdateTable, DeleteTable.  Names are case-insensitive
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
        return {}

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
