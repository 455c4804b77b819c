"""Athena's catalog side: the workgroup, data catalog, database and table
metadata operations, and the utility statements a user exploring a table
tries first (SHOW TABLES, SHOW DATABASES / SCHEMAS, SHOW PARTITIONS, SHOW
COLUMNS, DESCRIBE), answered from the Glue catalog.

Utility statements run as Athena runs them: StatementType UTILITY, the
result a text object `<output>/<id>.txt` of one line a row, and
GetQueryResults rows without a header row (one string column: tab_name,
database_name, partition, field, col_name).  DESCRIBE lays its lines out as
Hive does: name, type and comment padded to 20 characters and joined by
tabs, then the "# Partition Information" block for partitioned tables.
SHOW PARTITIONS lists the partitions registered in Glue (Athena's
documentation: partitions that partition projection computes are not
listed).
"""
import re

from .athena_sql import TrinoError
from .core import AwsError

CATALOG = "AwsDataCatalog"
_IDENT = r'(?:"[^"]+"|`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)'
_NAME = rf"({_IDENT}(?:\s*\.\s*{_IDENT}){{0,2}})"

_STATEMENTS = [
    ("tables", re.compile(rf"^\s*SHOW\s+TABLES(?:\s+(?:FROM|IN)\s+{_NAME})?"
                          r"(?:\s+(?:LIKE\s+)?'((?:[^']|'')*)')?\s*;?\s*$", re.I | re.S)),
    ("databases", re.compile(r"^\s*SHOW\s+(?:DATABASES|SCHEMAS)"
                             r"(?:\s+(?:LIKE\s+)?'((?:[^']|'')*)')?\s*;?\s*$", re.I | re.S)),
    ("partitions", re.compile(rf"^\s*SHOW\s+PARTITIONS\s+{_NAME}\s*;?\s*$", re.I | re.S)),
    ("columns", re.compile(rf"^\s*SHOW\s+COLUMNS\s+(?:FROM|IN)\s+{_NAME}\s*;?\s*$",
                           re.I | re.S)),
    ("describe", re.compile(rf"^\s*(?:DESCRIBE|DESC)\s+(?:EXTENDED\s+|FORMATTED\s+)?{_NAME}"
                            r"\s*;?\s*$", re.I | re.S)),
]
_COLUMN = {"tables": "tab_name", "databases": "database_name", "partitions": "partition",
           "columns": "field", "describe": "col_name"}


def _unquote(part):
    part = part.strip()
    if part[:1] in ('"', "`"):
        return part[1:-1]
    return part.lower()


def _split(name):
    return [_unquote(x) for x in re.findall(_IDENT, name)]


def _hive_pattern(pattern):
    """SHOW TABLES / SHOW DATABASES patterns: * any run of characters, |
    between alternatives (Athena's documentation of SHOW TABLES)."""
    alts = [re.escape(a.strip()).replace(r"\*", ".*") for a in pattern.split("|")]
    return re.compile("|".join(f"(?:{a})" for a in alts), re.I)


def _semantic(message):
    # Athena reports errors of its Hive DDL side this way
    return TrinoError("SYNTAX_ERROR", message, 1, 1)


def utility_statement(text):
    """(kind, match) if the text is a utility statement answered here."""
    for kind, rx in _STATEMENTS:
        m = rx.match(text)
        if m:
            return kind, m
    return None


def _table_ref(glue, parts, database, catalog):
    catalog = (catalog or CATALOG).lower()
    if len(parts) == 3:
        catalog, database, name = parts
    elif len(parts) == 2:
        database, name = parts
    else:
        name = parts[0]
    if database is None:
        raise _semantic("Schema must be specified when session schema is not set")
    return glue.table_for_query(catalog, database.lower(), name)


def _pad(*cols):
    return "\t".join("%-20s" % c for c in cols)


def run_utility(glue, kind, m, database, catalog):
    """The rows (strings) and column name of a utility statement."""
    rows = []
    if kind == "tables":
        db = _split(m.group(1))[-1] if m.group(1) else database
        if db is None:
            raise _semantic("Schema must be specified when session schema is not set")
        with glue.lock:
            if db.lower() not in glue.databases:
                raise TrinoError("SCHEMA_NOT_FOUND", f"Schema '{db}' does not exist", 1, 1)
            rows = sorted(glue.tables[db.lower()])
        if m.group(2) is not None:
            rx = _hive_pattern(m.group(2).replace("''", "'"))
            rows = [r for r in rows if rx.fullmatch(r)]
    elif kind == "databases":
        with glue.lock:
            rows = sorted(glue.databases)
        if m.group(1) is not None:
            rx = _hive_pattern(m.group(1).replace("''", "'"))
            rows = [r for r in rows if rx.fullmatch(r)]
    elif kind == "partitions":
        t = _table_ref(glue, _split(m.group(1)), database, catalog)
        keys = [k["Name"] for k in t.get("PartitionKeys") or []]
        if not keys:
            raise _semantic(f"Table {t['Name']} is not partitioned")
        with glue.lock:
            parts = glue.partitions.get((t["DatabaseName"], t["Name"]), {})
            rows = ["/".join(f"{k}={v}" for k, v in zip(keys, vals)) for vals in sorted(parts)]
    elif kind == "columns":
        t = _table_ref(glue, _split(m.group(1)), database, catalog)
        rows = [c["Name"] for c in _columns(t)] + [k["Name"] for k in t.get("PartitionKeys") or []]
    else:
        t = _table_ref(glue, _split(m.group(1)), database, catalog)
        cols = _columns(t)
        keys = t.get("PartitionKeys") or []
        rows = [_pad(c["Name"], c.get("Type", ""), c.get("Comment", "")) for c in cols + keys]
        if keys:
            rows += ["\t \t ", "# Partition Information\t \t ",
                     _pad("# col_name", "data_type", "comment"), "\t \t "]
            rows += [_pad(k["Name"], k.get("Type", ""), k.get("Comment", "")) for k in keys]
    return rows, _COLUMN[kind]


def _columns(t):
    return list((t.get("StorageDescriptor") or {}).get("Columns") or [])


# ---------------------------------------------------------------------------
# the metadata operations


def metadata_error(message):
    return AwsError("MetadataException", message)


def check_catalog(name):
    if name is None or name.lower() != CATALOG.lower():
        raise metadata_error(f"Catalog {name} not found.") if name else \
            AwsError("InvalidRequestException", "CatalogName is required")


def table_metadata(t):
    out = {"Name": t["Name"], "CreateTime": t.get("CreateTime"),
           "TableType": t.get("TableType") or "EXTERNAL_TABLE",
           "Columns": [{k: c[k] for k in ("Name", "Type", "Comment") if c.get(k) is not None}
                       for c in _columns(t)],
           "PartitionKeys": [{k: c[k] for k in ("Name", "Type", "Comment")
                              if c.get(k) is not None} for c in t.get("PartitionKeys") or []],
           "Parameters": dict(t.get("Parameters") or {})}
    sd = t.get("StorageDescriptor") or {}
    for key, param in (("Location", "location"), ("InputFormat", "inputformat"),
                       ("OutputFormat", "outputformat")):
        if sd.get(key):
            out["Parameters"].setdefault(param, sd[key])
    serde = (sd.get("SerdeInfo") or {}).get("SerializationLibrary")
    if serde:
        out["Parameters"].setdefault("serde.serialization.lib", serde)
    return out


def hive_match(expression, names):
    if not expression:
        return names
    rx = _hive_pattern(expression)
    return [n for n in names if rx.fullmatch(n)]
