"""The SQL engine behind the emulator's Athena: Trino text run in PostgreSQL
over the JSON lines objects under each Glue table's S3 location.

One query, end to end (run_query):
  1. athena_sql parses the text as Trino and rejects what Trino rejects.
  2. Every table it names is looked up in the emulator's Glue catalog.
  3. The table's objects are listed; with partition projection each object's
     partition values come from its key (athena_projection), and the query's
     predicates on partition columns are evaluated on those values in
     PostgreSQL: only the selected objects are read, and DataScannedInBytes
     is the sum of their sizes.
  4. The objects are loaded, as the OpenX JSON SerDe reads them (one JSON
     object per line, keys matched case-insensitively, missing keys NULL,
     struct columns as composite values so that new_image.state works),
     into a cache table per table shape, keyed by object key, size and
     ETag, so a later query reads them again without parsing.
  5. The query, compiled into PostgreSQL, runs in a COPY ... TO STDOUT
     (FORMAT csv, FORCE_QUOTE *) that streams the result, rendered as
     Athena renders values, into <output>/<query id>.csv: a header, every
     value double-quoted, NULL an empty unquoted field.

Where the engine runs: the database of --engine-dsn, or without one a
private PostgreSQL instance under <data-dir>/athena-engine, run as the
postgres user when the emulator runs as root.  The engine owns its database:
it recreates the schemas athena_fn, athena_types and athena_cache at start
(athena_support.sql).

Errors come back as athena_sql.TrinoError, named and worded as Athena names
them (SYNTAX_ERROR, TYPE_MISMATCH, COLUMN_NOT_FOUND, TABLE_NOT_FOUND,
HIVE_BAD_DATA, ...).  Cancelling a query cancels its PostgreSQL statement.
"""
import functools
import gzip
import hashlib
import json
import logging
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import psycopg2
import psycopg2.extensions

from . import athena_sql
from .athena_projection import TableLayout, split_s3_url
from .athena_sql import TrinoError, quote_ident, quote_literal

logging.getLogger("sqlglot").setLevel(logging.ERROR)

SUPPORT_SQL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "athena_support.sql")


class Cancelled(Exception):
    """The query was stopped (StopQueryExecution)."""


# ---------------------------------------------------------------------------
# Hive (Glue) column types

class HiveType:
    __slots__ = ("name", "params", "children", "fields")

    def __init__(self, name, params=(), children=(), fields=()):
        self.name = name          # string, bigint, decimal, array, map, struct, ...
        self.params = list(params)
        self.children = list(children)   # array: [elem]; map: [key, value]
        self.fields = list(fields)       # struct: [(name, HiveType)]

    def signature(self):
        if self.name == "struct":
            return "struct<" + ",".join(f"{n}:{t.signature()}" for n, t in self.fields) + ">"
        if self.children:
            return f"{self.name}<" + ",".join(c.signature() for c in self.children) + ">"
        if self.params:
            return f"{self.name}(" + ",".join(str(p) for p in self.params) + ")"
        return self.name


_SIMPLE_TYPES = {"string", "varchar", "char", "tinyint", "smallint", "int", "integer", "bigint",
                 "float", "double", "decimal", "boolean", "date", "timestamp", "binary"}


@functools.lru_cache(maxsize=4096)
def parse_hive_type(text):
    """A Glue column type string (struct<a:string,b:array<bigint>>, ...).

    Every query reads its tables' column types again; the HiveType trees are
    never changed once made, so one tree serves every query of a type."""
    s = text.strip()
    pos = 0

    def fail():
        raise TrinoError("HIVE_INVALID_METADATA", f"Error: type expected at the position {pos} of "
                         f"'{text}'", category=athena_sql.CATEGORY_USER)

    def skip():
        nonlocal pos
        while pos < len(s) and s[pos].isspace():
            pos += 1

    def word():
        nonlocal pos
        skip()
        if pos < len(s) and s[pos] == "`":
            end = s.find("`", pos + 1)
            if end < 0:
                fail()
            w = s[pos + 1:end]
            pos = end + 1
            return w
        start = pos
        while pos < len(s) and (s[pos].isalnum() or s[pos] in "_$"):
            pos += 1
        if start == pos:
            fail()
        return s[start:pos]

    def expect(c):
        nonlocal pos
        skip()
        if pos >= len(s) or s[pos] != c:
            fail()
        pos += 1

    def peek(c):
        skip()
        return pos < len(s) and s[pos] == c

    def typ():
        nonlocal pos
        name = word().lower()
        if name == "array":
            expect("<")
            elem = typ()
            expect(">")
            return HiveType("array", children=[elem])
        if name == "map":
            expect("<")
            k = typ()
            expect(",")
            v = typ()
            expect(">")
            return HiveType("map", children=[k, v])
        if name == "struct":
            expect("<")
            fields = []
            if not peek(">"):
                while True:
                    fname = word()
                    expect(":")
                    fields.append((fname, typ()))
                    if peek(","):
                        pos += 1
                        continue
                    break
            expect(">")
            return HiveType("struct", fields=fields)
        if name not in _SIMPLE_TYPES:
            fail()
        params = []
        if peek("("):
            pos += 1
            while True:
                skip()
                start = pos
                while pos < len(s) and s[pos].isdigit():
                    pos += 1
                if start == pos:
                    fail()
                params.append(int(s[start:pos]))
                if peek(","):
                    pos += 1
                    continue
                break
            expect(")")
        if name == "integer":
            name = "int"
        return HiveType(name, params)

    t = typ()
    skip()
    if pos != len(s):
        fail()
    return t


class TypeCatalog:
    """PostgreSQL types for Hive types; composite types for structs are
    created on demand in athena_types."""

    def __init__(self):
        self.created = set()
        self.lock = threading.Lock()

    def pg_type(self, t, ddl):
        n = t.name
        if n == "string":
            return 'text COLLATE "C"'
        if n == "varchar":
            return f'varchar({t.params[0] if t.params else 65535}) COLLATE "C"'
        if n == "char":
            return f'char({t.params[0] if t.params else 1}) COLLATE "C"'
        if n == "tinyint":
            return "athena_fn.tinyint"
        if n == "smallint":
            return "smallint"
        if n == "int":
            return "integer"
        if n == "bigint":
            return "bigint"
        if n == "float":
            return "real"
        if n == "double":
            return "double precision"
        if n == "decimal":
            p = t.params[0] if t.params else 10
            sc = t.params[1] if len(t.params) > 1 else 0
            return f"numeric({p}, {sc})"
        if n == "boolean":
            return "boolean"
        if n == "date":
            return "date"
        if n == "timestamp":
            return "timestamp(3)"
        if n == "binary":
            return "bytea"
        if n == "array":
            elem = t.children[0]
            if elem.name in ("array", "map"):
                return "jsonb"
            inner = self.pg_type(elem, ddl)
            if " COLLATE " in inner:
                base, coll = inner.split(" COLLATE ")
                return f"{base}[] COLLATE {coll}"
            return inner + "[]"
        if n == "map":
            return "jsonb"
        if n == "struct":
            return self.composite(t, ddl)
        raise TrinoError("NOT_SUPPORTED", f"Unsupported Hive type: {t.signature()}")

    def composite(self, t, ddl):
        sig = t.signature().lower()
        name = "athena_types.r_" + hashlib.sha1(sig.encode()).hexdigest()[:16]
        with self.lock:
            if name in self.created:
                return name
        attrs = []
        seen = set()
        for fname, ftype in t.fields:
            key = fname.lower()
            if key in seen:
                raise TrinoError("HIVE_INVALID_METADATA", f"Duplicate struct field name: {fname}")
            seen.add(key)
            attrs.append(f"{quote_ident(key)} {self.pg_type(ftype, ddl)}")
        if not attrs:
            attrs.append('"_" boolean')
        ddl.append((name, f"CREATE TYPE {name} AS ({', '.join(attrs)})"))
        return name

    def mark_created(self, names):
        with self.lock:
            self.created.update(names)


def json_field(x, key):
    """SQL of the jsonb value of `key` in the object `x`, the exact key first,
    then any key equal but for case (the SerDe ignores case)."""
    k = quote_literal(key)
    return f"coalesce(({x}) -> {k}, athena_fn.jget_ci({x}, {k}))"


def json_conversion(t, x, types, ddl, depth=0):
    """SQL converting the jsonb expression `x` into the PostgreSQL value of
    Hive type `t`, as the OpenX JSON SerDe reads it."""
    n = t.name
    scalar = f"({x} #>> '{{}}')"
    if n == "string":
        return scalar
    if n in ("varchar", "char"):
        return f"CAST({scalar} AS {types.pg_type(t, ddl).split(' COLLATE ')[0]})"
    if n in ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal", "boolean", "date"):
        pg = types.pg_type(t, ddl)
        if n == "tinyint":
            return (f"CAST((CASE WHEN {scalar}::smallint BETWEEN -128 AND 127 THEN {scalar}::smallint "
                    f"ELSE CAST('tinyint out of range: ' || {scalar} AS smallint) END) AS athena_fn.tinyint)")
        return f"CAST({scalar} AS {pg})"
    if n == "timestamp":
        # epoch milliseconds or text (inline: a function call would not be
        # inlined with this argument, and costs more than the parse)
        return (f"(CASE jsonb_typeof({x}) WHEN 'number' THEN (to_timestamp(({scalar})::double precision"
                f" / 1000) AT TIME ZONE 'UTC')::timestamp(3) ELSE CAST({scalar} AS timestamp(3)) END)")
    if n == "binary":
        return f"decode({scalar}, 'base64')"
    if n == "map":
        return f"(CASE WHEN jsonb_typeof({x}) = 'object' THEN {x} END)"
    if n == "array":
        elem = t.children[0]
        if elem.name in ("array", "map"):
            return f"(CASE WHEN jsonb_typeof({x}) = 'array' THEN {x} END)"
        e = f"e{depth}"
        inner = json_conversion(elem, f"{e}.v", types, ddl, depth + 1)
        pg = types.pg_type(elem, ddl).split(" COLLATE ")[0]
        return (f"(CASE WHEN jsonb_typeof({x}) = 'array' THEN ARRAY(SELECT CAST({inner} AS {pg}) "
                f"FROM jsonb_array_elements({x}) WITH ORDINALITY AS {e}(v, n) ORDER BY {e}.n) END)")
    if n == "struct":
        name = types.composite(t, ddl)
        parts = [json_conversion(ft, json_field(x, fn), types, ddl, depth + 1)
                 for fn, ft in t.fields]
        if not parts:
            parts = ["NULL"]
        if len(parts) == 1:
            row = f"ROW({parts[0]})"
        else:
            row = f"({', '.join(parts)})"
        return f"(CASE WHEN jsonb_typeof({x}) = 'object' THEN CAST({row} AS {name}) END)"
    raise TrinoError("NOT_SUPPORTED", f"Unsupported Hive type: {t.signature()}")


# ---------------------------------------------------------------------------
# Output rendering and Athena's column metadata

def athena_column(pg, name):
    """ColumnInfo of a result column from PostgreSQL's type facts."""
    kind, precision, scale = pg["athena"], 0, 0
    fixed = {"varchar": 2147483647, "bigint": 19, "integer": 10, "smallint": 5, "tinyint": 3,
             "double": 17, "float": 7, "timestamp": 3, "timestamp with time zone": 3}
    if kind == "decimal":
        precision, scale = pg.get("precision") or 38, pg.get("scale") or 0
    elif kind == "char":
        precision = pg.get("length") or 1
    elif kind in fixed:
        precision = fixed[kind]
    return {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name,
            "Type": kind, "Precision": precision, "Scale": scale, "Nullable": "UNKNOWN",
            "CaseSensitive": kind in ("varchar", "char")}


_TYPE_SQL = """
SELECT t.oid, t.typname, t.typtype, t.typcategory, t.typelem, t.typbasetype,
       coalesce((SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
                  WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '{}'),
       coalesce((SELECT array_agg(a.atttypid ORDER BY a.attnum) FROM pg_attribute a
                  WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '{}')
  FROM pg_type t WHERE t.oid = %s
"""

_SCALARS = {
    "text": "varchar", "varchar": "varchar", "name": "varchar", "bpchar": "char",
    "int2": "smallint", "int4": "integer", "int8": "bigint", "float4": "float", "float8": "double",
    "numeric": "decimal", "bool": "boolean", "date": "date", "timestamp": "timestamp",
    "timestamptz": "timestamp with time zone", "bytea": "varbinary", "json": "json",
    "jsonb": "map", "unknown": "varchar", "interval": "interval day to second",
    "time": "time", "uuid": "uuid",
}


class PgTypes:
    """What the engine knows of PostgreSQL result types: Athena's type name
    for ColumnInfo, and SQL rendering a value as Athena writes it (arrays
    [a, b], rows {f=v, g=null}, doubles as Java prints them, ...)."""

    def __init__(self):
        self._info = {}
        self._lock = threading.Lock()

    def info(self, conn, oid):
        with self._lock:
            got = self._info.get(oid)
        if got is not None:
            return got
        with conn.cursor() as cur:
            cur.execute(_TYPE_SQL, (oid,))
            row = cur.fetchone()
        if row is None:
            got = {"kind": "varchar"}
        else:
            _, typname, typtype, category, elem, base, names, oids = row
            if typtype == "d" and typname == "tinyint":
                got = {"kind": "tinyint"}
            elif typtype == "d":
                got = dict(self.info(conn, base))
            elif category == "A":
                got = {"kind": "array", "elem": elem}
            elif typtype == "c":
                got = {"kind": "row", "fields": list(zip(names, oids))}
            else:
                got = {"kind": _SCALARS.get(typname, typname)}
        with self._lock:
            self._info[oid] = got
        return got

    def kind(self, conn, oid):
        return self.info(conn, oid)["kind"]

    def render(self, conn, x, oid, depth=0):
        """SQL text of the value of expression `x` (of type `oid`), or NULL."""
        info = self.info(conn, oid)
        k = info["kind"]
        if k == "boolean":
            return f"CASE WHEN {x} THEN 'true' WHEN NOT {x} THEN 'false' END"
        if k == "timestamp":
            return f"to_char({x}, 'YYYY-MM-DD HH24:MI:SS.MS')"
        if k == "timestamp with time zone":
            return f"(to_char({x} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') || ' UTC')"
        if k in ("double", "float"):
            return f"athena_fn.render_double({x})"
        if k == "varbinary":
            return f"rtrim(regexp_replace(encode({x}, 'hex'), '(..)', '\\1 ', 'g'))"
        if k == "map":
            return f"athena_fn.render_json(({x})::json)"
        if k == "json":
            return f"({x})::text"
        if k == "array":
            e = f"e{depth}"
            inner = self.render(conn, f"{e}.v", info["elem"], depth + 1)
            return (f"CASE WHEN ({x}) IS NOT NULL THEN '[' || array_to_string(ARRAY("
                    f"SELECT coalesce({inner}, 'null') FROM unnest({x}) WITH ORDINALITY AS {e}(v, n) "
                    f"ORDER BY {e}.n), ', ') || ']' END")
        if k == "row":
            parts = []
            for name, foid in info["fields"]:
                field = f"({x}).{quote_ident(name)}"
                parts.append(f"'{name.replace(chr(39), chr(39) * 2)}=' || "
                             f"coalesce({self.render(conn, field, foid, depth + 1)}, 'null')")
            body = " || ', ' || ".join(parts) if parts else "''"
            return (f"CASE WHEN ({x}) IS NOT NULL OR to_json({x}) IS NOT NULL "
                    f"THEN '{{' || {body} || '}}' END")
        return f"({x})::text"


# ---------------------------------------------------------------------------
# Result files

class _HashingWriter:
    """A file wrapper that MD5-hashes what is written (the S3 ETag).
    psycopg2 writes a COPY's output a row at a time: rows are gathered and
    hashed and written a megabyte at a time."""

    def __init__(self, f):
        self.f = f
        self.md5 = hashlib.md5()
        self.size = 0
        self._parts = []
        self._pending = 0

    def write(self, data):
        self._parts.append(data)
        self._pending += len(data)
        if self._pending >= 1 << 20:
            self.flush()

    def flush(self):
        if self._parts:
            chunk = b"".join(p if isinstance(p, bytes) else p.encode("utf-8") for p in self._parts)
            self._parts = []
            self._pending = 0
            self.md5.update(chunk)
            self.size += len(chunk)
            self.f.write(chunk)


def csv_header(names):
    return ",".join('"' + n.replace('"', '""') + '"' for n in names) + "\n"


# ---------------------------------------------------------------------------
# The engine

class QueryResult:
    def __init__(self, columns, rows, data_scanned, output_bucket, output_key):
        self.columns = columns            # [ColumnInfo]
        self.rows = rows                  # data rows (without the header)
        self.data_scanned = data_scanned
        self.output_bucket = output_bucket
        self.output_key = output_key


class _Loaded:
    __slots__ = ("obj_id", "size", "etag")

    def __init__(self, obj_id, size, etag):
        self.obj_id = obj_id
        self.size = size
        self.etag = etag


class _CacheTable:
    """Rows of one table shape (columns, types, location), by object."""

    def __init__(self, name, columns, partition_columns):
        self.name = name
        self.columns = columns                    # [(name, HiveType)]
        self.partition_columns = partition_columns  # [(name, HiveType)]
        self.objects = {}                          # (bucket, key) -> _Loaded
        self.lock = threading.Lock()


class Engine:
    def __init__(self, emu):
        self.emu = emu
        self._lock = threading.Lock()
        self._ddl_lock = threading.RLock()    # cache tables and types are made one at a time
        self._pool = []
        self._dsn = None
        self._private = None          # (pgdata, socket dir, process)
        self._ready = False
        self._types = TypeCatalog()
        self._caches = {}
        self._server_started = None   # pg_postmaster_start_time() the caches belong to
        self._next_obj = 0
        self._icu = "C"
        self._pgtypes = PgTypes()
        self._spool = None            # result spool folder; False: COPY TO STDOUT
        # where a private engine cluster lives: under --data-dir, unless the
        # postgres user that runs it (when the emulator runs as root) cannot
        # reach that folder; then under /tmp, and the emulator says so at start
        self._base = os.path.join(emu.data_dir, "athena-engine")
        self._base_is_temporary = False
        if emu.engine_dsn is None and os.getuid() == 0:
            blocked = _unreachable_for("postgres", emu.data_dir)
            if blocked is not None:
                self._base = tempfile.mkdtemp(prefix="athena-engine-data-")
                self._base_is_temporary = True
                print(f"aws-emulator: the postgres user cannot enter {blocked} (mode "
                      f"{os.stat(blocked).st_mode & 0o777:o}), so the Athena engine's "
                      f"PostgreSQL cluster lives in {self._base} instead of under --data-dir "
                      f"(removed when the emulator stops)", file=sys.stderr, flush=True)

    # -- connections ---------------------------------------------------------

    def _start_private(self):
        base = self._base
        pgdata = os.path.join(base, "pgdata")
        bindir = _pg_bindir()
        sockdir = tempfile.mkdtemp(prefix="athena-engine-")
        as_postgres = os.getuid() == 0
        os.makedirs(base, exist_ok=True)
        if as_postgres:
            pw = pwd.getpwnam("postgres")
            for d in (base, sockdir):
                os.chown(d, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"] if as_postgres else []
        log = open(os.path.join(base, "engine.log"), "ab")
        if not os.path.exists(os.path.join(pgdata, "PG_VERSION")):
            subprocess.run(prefix + [os.path.join(bindir, "initdb"), "-D", pgdata, "-U", "postgres",
                                     "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"],
                           stdout=log, stderr=log, check=True)
        proc = subprocess.Popen(
            prefix + [os.path.join(bindir, "postgres"), "-D", pgdata, "-k", sockdir,
                      "-c", "listen_addresses=", "-c", "fsync=off",
                      "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                      "-p", "5432"], stdout=log, stderr=log)
        dsn = f"host={sockdir} port=5432 user=postgres dbname=postgres"
        for _ in range(300):
            try:
                psycopg2.connect(dsn).close()
                break
            except psycopg2.OperationalError:
                if proc.poll() is not None:
                    raise RuntimeError("the Athena engine's PostgreSQL did not start; see "
                                       + os.path.join(base, "engine.log"))
                time.sleep(0.1)
        self._private = (pgdata, sockdir, proc)
        return dsn

    def _setup(self):
        with self._lock:
            if self._ready:
                return
            self._dsn = self.emu.engine_dsn or self._start_private()
            conn = self._new_connection()
            with conn.cursor() as cur:
                # Trino maps case one code point at a time (upper('ß') is 'ß',
                # lower('İ') is 'i'): glibc's C.UTF-8 does the same, ICU maps
                # fully ('ß' -> 'SS') and is only the last resort
                cur.execute("SELECT collname FROM pg_collation WHERE collname IN "
                            "('und-x-icu', 'C.utf8', 'C.UTF-8') "
                            "ORDER BY collname = 'und-x-icu', collname")
                row = cur.fetchone()
                self._icu = row[0] if row else "C"
                with open(SUPPORT_SQL) as f:
                    cur.execute(f.read().replace("@ICU@", self._icu))
            self._pool.append(conn)
            self._ready = True

    def _new_connection(self):
        conn = psycopg2.connect(self._dsn, application_name="aws-emulator athena")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; "
                        "SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; "
                        "SET lc_messages = 'C'; SET search_path = athena_ops, pg_catalog, public; "
                        "SET standard_conforming_strings = on; SET jit = off")
        return conn

    def _get_connection(self):
        """A live connection to the engine's server.

        The cache tables are UNLOGGED: a crash or an immediate shutdown of that
        server empties them (and ends the pooled connections), so every query
        first checks that the server is the one the caches were filled on, and
        forgets the caches when it is not."""
        self._setup()
        while True:
            with self._lock:
                conn = self._pool.pop() if self._pool else None
            if conn is None:
                conn = self._new_connection()
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_postmaster_start_time()")
                    started = cur.fetchone()[0]
            except psycopg2.Error:      # a pooled connection the server dropped
                conn.close()
                continue
            with self._lock:
                if self._server_started != started:
                    if self._server_started is not None:
                        self._caches = {}
                    self._server_started = started
            return conn

    def _put_connection(self, conn):
        if conn.closed:
            return
        if conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            try:
                conn.rollback()
            except psycopg2.Error:
                conn.close()
                return
        with self._lock:
            if len(self._pool) < 8:
                self._pool.append(conn)
                return
        conn.close()

    def close(self):
        with self._lock:
            for c in self._pool:
                try:
                    c.close()
                except psycopg2.Error:
                    pass
            self._pool = []
            self._ready = False
            self._caches = {}
            self._types = TypeCatalog()
            private, self._private = self._private, None
            spool, self._spool = self._spool, None
        if spool:
            shutil.rmtree(spool, ignore_errors=True)
        if private:
            pgdata, sockdir, proc = private
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            shutil.rmtree(sockdir, ignore_errors=True)
        if self._base_is_temporary:
            shutil.rmtree(self._base, ignore_errors=True)

    def reset(self):
        """Forget cached rows (S3 is emptied by a reset)."""
        with self._lock:
            self._caches = {}
            ready = self._ready
            self._ready = False
        if ready:
            self._types = TypeCatalog()

    # -- a query -----------------------------------------------------------------

    def run_query(self, job):
        """Runs job (athena.QueryExecution): returns QueryResult, raises
        TrinoError or Cancelled."""
        conn = self._get_connection()
        job.attach(conn)
        try:
            return self._run(conn, job)
        except psycopg2.extensions.QueryCanceledError:
            raise Cancelled() from None
        except psycopg2.Error as e:
            if job.cancelled:
                raise Cancelled() from None
            raise self._map_error(e, job) from None
        finally:
            job.attach(None)
            self._put_connection(conn)

    def _run(self, conn, job):
        text = job.query
        tokens = athena_sql.scan(text)
        if job.parameters or any(t.kind == "param" for t in tokens):
            text = athena_sql.substitute_parameters(text, tokens, job.parameters)
        stmt, tokens = athena_sql.parse(text)
        job.tokens = tokens
        now = self.emu.clock.utcnow()
        comp = athena_sql.Compiler(stmt, tokens, job.database,
                                   now.strftime("%Y-%m-%d %H:%M:%S.") + "%03d UTC" % (now.microsecond // 1000),
                                   job.catalog)
        glue = self.emu.service("glue")
        relations = {}
        scanned = 0
        for ref in comp.refs:
            table = glue.table_for_query(ref.catalog, ref.database, ref.name, comp.table_position(ref))
            job.check_cancelled()
            rel, nbytes = self._relation(conn, comp, ref, table, now, job)
            relations[id(ref.node)] = rel
            scanned += nbytes
        for node in comp.row_nodes():
            node.set("pgtype", self._row_type(conn, comp.row_probe(node, relations)))
        sql = comp.compile(relations)
        job.check_cancelled()
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0")
            desc = cur.description
        facts = [self._column_facts(conn, d) for d in desc]
        for i in self._tinyint_columns(conn, sql, desc):
            facts[i]["athena"] = "tinyint"
        names = comp.output_names([d.name for d in desc])
        columns = [athena_column(f, n) for f, n in zip(facts, names)]
        aliases = ", ".join(f'"c{i}"' for i in range(len(desc)))
        select = ", ".join(self._pgtypes.render(conn, f'q."c{i}"', d.type_code)
                           for i, d in enumerate(desc))
        query = f"SELECT {select} FROM ({sql}) AS q({aliases})"
        bucket, key = job.output_bucket, job.output_key
        tmpdir = os.path.join(self.emu.data_dir, "athena", "tmp")
        os.makedirs(tmpdir, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=tmpdir, prefix="result-")
        try:
            with os.fdopen(fd, "wb", buffering=1 << 20) as f:
                w = _HashingWriter(f)
                w.write(csv_header(names).encode("utf-8"))
                rows = self._copy_result(conn, query, w, job)
                w.flush()
            job.check_cancelled()
            etag = '"%s"' % w.md5.hexdigest()
            os.chmod(path, 0o644)
            self.emu.s3.put_object_file(bucket, key, path, w.size, etag, "text/csv")
            path = None
        finally:
            if path is not None:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        metadata = {"ColumnInfo": columns, "RowCount": rows,
                    "QueryExecutionId": job.id, "DataScannedInBytes": scanned}
        self.emu.s3.put_object(bucket, key + ".metadata", json.dumps(metadata).encode(),
                               content_type="application/json")
        return QueryResult(columns, rows, scanned, bucket, key)

    def _copy_result(self, conn, query, w, job):
        """Streams the rendered result as CSV into writer `w`; the row count.

        psycopg2 hands a COPY's output to Python a row at a time, which
        doubles the cost of a big result; when the engine's server runs on
        this machine and may write files, it writes the CSV itself into a
        spool folder and the file is appended to the result in large reads.
        Otherwise (and after any sign that it cannot) through STDOUT."""
        copy_opts = "WITH (FORMAT csv, FORCE_QUOTE *)"
        spool = self._spool_dir(conn)
        if spool is not None:
            name = os.path.join(spool, f"{job.id}.csv")
            try:
                with conn.cursor() as cur:
                    cur.execute(f"COPY ({query}) TO {quote_literal(name)} {copy_opts}")
                    rows = cur.rowcount
                with open(name, "rb") as f:
                    while True:
                        chunk = f.read(1 << 22)
                        if not chunk:
                            break
                        w.write(chunk)
                return rows
            except (psycopg2.errors.InsufficientPrivilege, psycopg2.errors.UndefinedFile,
                    psycopg2.errors.IoError, OSError) as e:
                if isinstance(e, psycopg2.Error) and e.pgcode not in ("42501", "58P01", "58030"):
                    raise
                self._spool = False
            finally:
                try:
                    os.unlink(name)
                except OSError:
                    pass
        with conn.cursor() as cur:
            cur.copy_expert(f"COPY ({query}) TO STDOUT {copy_opts}", w, size=1 << 18)
            return cur.rowcount

    def _spool_dir(self, conn):
        """A folder the engine's server writes result files into, or None."""
        with self._lock:
            if self._spool is not None:
                return self._spool or None
            local = self._private is not None or _dsn_is_local(self._dsn)
            if local:
                with conn.cursor() as cur:
                    cur.execute("SELECT rolsuper OR pg_has_role('pg_write_server_files', 'MEMBER') "
                                "FROM pg_roles WHERE rolname = current_user")
                    row = cur.fetchone()
                local = bool(row and row[0])
            if not local:
                self._spool = False
                return None
            # under /tmp: the checkout may be closed to the server's user
            _remove_orphan_spools()
            self._spool = tempfile.mkdtemp(prefix=f"athena-spool-{os.getpid()}-")
            os.chmod(self._spool, 0o777)
            return self._spool

    def _tinyint_columns(self, conn, sql, desc):
        """Positions of the result's tinyint columns.  PostgreSQL describes a
        domain column by its base type (smallint), so a smallint column is
        told apart by the declared type of a temporary view's column."""
        if not any(d.type_code == 21 for d in desc):
            return []
        names = ", ".join(f'"c{i}"' for i in range(len(desc)))
        with conn.cursor() as cur:
            cur.execute(f"CREATE TEMP VIEW athena_result_columns AS SELECT * FROM ({sql}) AS q({names})")
            try:
                cur.execute("SELECT a.attnum - 1 FROM pg_attribute a WHERE a.attrelid = "
                            "'athena_result_columns'::regclass AND a.attnum > 0 "
                            "AND a.atttypid = 'athena_fn.tinyint'::regtype ORDER BY a.attnum")
                return [r[0] for r in cur.fetchall()]
            finally:
                cur.execute("DROP VIEW athena_result_columns")

    def _column_facts(self, conn, d):
        return {"athena": self._pgtypes.kind(conn, d.type_code), "precision": d.precision,
                "scale": d.scale, "length": d.internal_size}

    # -- tables --------------------------------------------------------------------

    def _relation(self, conn, comp, ref, table, now, job):
        """The SQL relation standing for `ref` and the bytes the query reads."""
        sd = table.get("StorageDescriptor") or {}
        columns = [(c["Name"].lower(), parse_hive_type(c["Type"])) for c in sd.get("Columns") or []]
        parts = [(c["Name"].lower(), parse_hive_type(c.get("Type") or "string"))
                 for c in table.get("PartitionKeys") or []]
        ref.columns = [(n, t.signature()) for n, t in columns]
        ref.partition_columns = [(n, t.signature()) for n, t in parts]
        layout = TableLayout(table, now)
        serde = (sd.get("SerdeInfo") or {})
        lib = serde.get("SerializationLibrary") or ""
        if lib and "json" not in lib.lower():
            raise TrinoError("NOT_SUPPORTED",
                             f"The emulator reads JSON tables only; {ref.name} uses {lib}")
        ignore_malformed = str((serde.get("Parameters") or {}).get("ignore.malformed.json", "")).lower() == "true"
        cache = self._cache_table(conn, layout, columns, parts)

        bucket, prefix = layout.list_prefix()
        if not self.emu.s3.bucket_exists(bucket):
            raise TrinoError("HIVE_FILESYSTEM_ERROR",
                             f"Table location s3://{bucket}/{prefix} cannot be read: "
                             "The specified bucket does not exist",
                             category=athena_sql.CATEGORY_USER)
        candidates = []   # (key, size, etag, partition values)
        for key, size in self.emu.s3.list_objects(bucket, prefix):
            base = key.rsplit("/", 1)[-1]
            if key.endswith("/") or base.startswith("_") or base.startswith("."):
                continue
            values = layout.partition_of(bucket, key)
            if values is None:
                continue
            candidates.append((key, size, values))

        selected = candidates
        if parts and candidates:
            conds = comp.partition_conjuncts(ref)
            self._check_injected(comp, ref, layout, conds)
            if conds:
                selected = self._prune(conn, comp, ref, parts, conds, candidates)
        elif parts and layout.projected:
            self._check_injected(comp, ref, layout, comp.partition_conjuncts(ref))

        objects = []
        scanned = 0
        for key, size, values in selected:
            meta = self.emu.s3.head_object(bucket, key)
            objects.append((key, meta, values))
            scanned += meta["size"]
        loaded = self._ensure_loaded(conn, cache, bucket, objects, ignore_malformed, job)
        ids = [loaded[key].obj_id for key, _, _ in objects]
        cols = [f'"c{i}" AS {quote_ident(n)}' for i, (n, _) in enumerate(columns)]
        cols += [f'"p{i}" AS {quote_ident(n)}' for i, (n, _) in enumerate(parts)]
        if not cols:
            cols = ["NULL AS \"_\""]
        where = f"\"_obj\" = ANY('{{{','.join(str(i) for i in ids)}}}'::integer[])" if ids else "false"
        return f"(SELECT {', '.join(cols)} FROM {cache.name} WHERE {where})", scanned

    def _check_injected(self, comp, ref, layout, conds):
        for col, proj in layout.projections.items():
            if proj.type != "injected":
                continue
            ok = False
            for c in conds:
                if isinstance(c, (athena_sql.exp.EQ, athena_sql.exp.In)) and \
                        all(isinstance(x, athena_sql.exp.Literal)
                            for x in ([c.expression] if isinstance(c, athena_sql.exp.EQ)
                                      else c.expressions)) and \
                        isinstance(c.this, athena_sql.exp.Column) and c.this.name.lower() == col:
                    ok = True
            if not ok:
                raise TrinoError(
                    "CONSTRAINT_VIOLATION",
                    f"For the injected projected partition column {col}, the WHERE clause must "
                    "contain only static equality conditions, and at least one such condition "
                    "must be present.", *comp.table_position(ref))

    def _prune(self, conn, comp, ref, parts, conds, candidates):
        """The candidates whose partition values satisfy the query's partition
        predicates (evaluated by PostgreSQL, with the query's semantics)."""
        tuples = {}
        for key, size, values in candidates:
            tuples.setdefault(tuple(values[n] for n, _ in parts), []).append((key, size, values))
        distinct = list(tuples)
        rows = []
        for i, tup in enumerate(distinct):
            vals = [_typed_literal(v, self._types.pg_type(t, [])) for v, (_, t) in zip(tup, parts)]
            rows.append(f"({i}, {', '.join(vals)})")
        names = ", ".join(quote_ident(n) for n, _ in parts)
        pred = comp.compile_predicate(conds, ref)
        sql = f"SELECT _i FROM (VALUES {', '.join(rows)}) AS p(_i, {names}) WHERE {pred}"
        with conn.cursor() as cur:
            cur.execute(sql)
            keep = sorted(r[0] for r in cur.fetchall())
        out = []
        for i in keep:
            out.extend(tuples[distinct[i]])
        out.sort()
        return out

    def _cache_table(self, conn, layout, columns, parts):
        sig = json.dumps([layout.location, [(n, t.signature()) for n, t in columns],
                          [(n, t.signature()) for n, t in parts]])
        name = "athena_cache.t_" + hashlib.sha1(sig.encode()).hexdigest()[:20]
        with self._lock:
            cache = self._caches.get(name)
            if cache is not None:
                return cache
        with self._ddl_lock:
            with self._lock:
                cache = self._caches.get(name)
                if cache is not None:
                    return cache
            ddl = []
            defs = ['"_obj" integer NOT NULL']
            defs += [f'"c{i}" {self._types.pg_type(t, ddl)}' for i, (_, t) in enumerate(columns)]
            defs += [f'"p{i}" {self._types.pg_type(t, ddl)}' for i, (_, t) in enumerate(parts)]
            self._create_types(conn, ddl)
            with conn.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {name}")
                cur.execute(f"CREATE UNLOGGED TABLE {name} ({', '.join(defs)})")
                cur.execute(f"CREATE INDEX ON {name} (\"_obj\")")
            cache = _CacheTable(name, columns, parts)
            with self._lock:
                self._caches[name] = cache
            return cache

    def _row_type(self, conn, probe):
        """The composite type (athena_types.row_<hash>) of a ROW constructor
        whose fields are the columns of the query `probe`: their types, with
        typmods and collations, as PostgreSQL derives them."""
        view = "athena_row_probe_%d" % threading.get_ident()
        with conn.cursor() as cur:
            cur.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM ({probe}) AS q LIMIT 0")
            cur.execute("SELECT format_type(a.atttypid, a.atttypmod), c.collname "
                        "FROM pg_attribute a LEFT JOIN pg_collation c ON c.oid = a.attcollation "
                        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 ORDER BY a.attnum",
                        (f"pg_temp.{view}",))
            fields = [t + (f' COLLATE "{c}"' if c and c != "default" else "")
                      for t, c in cur.fetchall()]
            cur.execute(f"DROP VIEW pg_temp.{view}")
        fields = [f"\"f{i}\" {t}" for i, t in enumerate(fields, 1)]
        name = "athena_types.row_" + hashlib.sha1(", ".join(fields).encode()).hexdigest()[:16]
        self._create_types(conn, [(name, f"CREATE TYPE {name} AS ({', '.join(fields)})")])
        return name

    def _create_types(self, conn, ddl):
        if not ddl:
            return
        with self._ddl_lock:
            self._create_types_locked(conn, ddl)

    def _create_types_locked(self, conn, ddl):
        done = []
        with conn.cursor() as cur:
            for name, stmt in ddl:
                if name in done:
                    continue
                cur.execute("SELECT to_regtype(%s)", (name,))
                if cur.fetchone()[0] is None:
                    try:
                        cur.execute(stmt)
                    except psycopg2.errors.DuplicateObject:
                        pass
                done.append(name)
        self._types.mark_created(done)

    def _ensure_loaded(self, conn, cache, bucket, objects, ignore_malformed, job):
        """The cache entries of `objects` [(key, meta, partition values)],
        loading those not cached or changed since (by size and ETag).
        Objects are loaded many at a time: Firehose writes a small object a
        buffer interval, and a table is often thousands of them."""
        with cache.lock:
            out, todo = {}, []
            for key, meta, values in objects:
                loaded = cache.objects.get((bucket, key))
                if loaded is not None and loaded.size == meta["size"] and loaded.etag == meta["etag"]:
                    out[key] = loaded
                else:
                    todo.append((key, meta, values, loaded))
            if not todo:
                return out
            with conn.cursor() as cur:
                stale = [old.obj_id for _, _, _, old in todo if old is not None]
                if stale:
                    cur.execute(f'DELETE FROM {cache.name} WHERE "_obj" = ANY(%s)', (stale,))
                    for key, _, _, old in todo:
                        if old is not None:
                            del cache.objects[(bucket, key)]
                batch, size = [], 0
                for key, meta, values, _ in todo:
                    job.check_cancelled()
                    text = self._object_text(bucket, key)
                    with self._lock:
                        self._next_obj += 1
                        obj_id = self._next_obj
                    batch.append((obj_id, key, meta, values, text))
                    size += len(text)
                    if size >= 32 << 20:
                        self._load_batch(cur, cache, bucket, batch, ignore_malformed, out)
                        batch, size = [], 0
                if batch:
                    self._load_batch(cur, cache, bucket, batch, ignore_malformed, out)
            return out

    def _object_text(self, bucket, key):
        data = self.emu.s3.get_object(bucket, key)
        if key.endswith(".gz"):
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as e:
                raise TrinoError("HIVE_CURSOR_ERROR", f"Error reading s3://{bucket}/{key}: {e}") from None
        return data.decode("utf-8", errors="replace")

    def _load_batch(self, cur, cache, bucket, batch, ignore_malformed, out):
        """Loads [(obj id, key, meta, partition values, text)] in one COPY and
        one INSERT; if any line needs the SerDe's line-by-line reading (or
        fails), object by object, so that an error names its object."""
        loaded = False
        if len(batch) > 1:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS athena_batch (obj integer, line text)")
            cur.execute("TRUNCATE athena_batch")
            ddl = []
            exprs = [json_conversion(t, json_field("j", name), self._types, ddl)
                     for name, t in cache.columns]
            self._create_types(cur.connection, ddl)
            parts = []
            for obj_id, _, _, _, text in batch:
                data = _copy_escape(text)
                if data:
                    prefix = f"{obj_id}\t"
                    parts.append(prefix + data[:-1].replace("\n", "\n" + prefix) + "\n")
            cur.copy_expert("COPY athena_batch (obj, line) FROM STDIN", _StringReader("".join(parts)))
            cols = ['"_obj"'] + [f'"c{i}"' for i in range(len(exprs))] + \
                   [f'"p{i}"' for i in range(len(cache.partition_columns))]
            select = ["s.obj"] + exprs + [f'pv."p{i}"' for i in range(len(cache.partition_columns))]
            join = ""
            if cache.partition_columns:
                rows = []
                for obj_id, _, _, values, _ in batch:
                    lits = [_typed_literal(values[n], self._types.pg_type(t, []))
                            for n, t in cache.partition_columns]
                    rows.append(f"({obj_id}, {', '.join(lits)})")
                names = ", ".join(f'"p{i}"' for i in range(len(cache.partition_columns)))
                join = f" JOIN (VALUES {', '.join(rows)}) AS pv(obj, {names}) ON pv.obj = s.obj"
            insert = (f"INSERT INTO {cache.name} ({', '.join(cols)}) SELECT {', '.join(select)} "
                      # OFFSET 0 keeps each line parsed once, not once a column
                      "FROM (SELECT obj, CASE WHEN btrim(line, E' \\t\\r') = '' THEN NULL "
                      f"ELSE line::jsonb END AS j FROM athena_batch OFFSET 0) AS s{join}")
            try:
                cur.execute(insert)
                loaded = True
            except (psycopg2.errors.InvalidTextRepresentation, psycopg2.errors.UntranslatableCharacter,
                    psycopg2.errors.NumericValueOutOfRange, psycopg2.errors.InvalidDatetimeFormat,
                    psycopg2.errors.DatetimeFieldOverflow, psycopg2.errors.InvalidParameterValue):
                pass
            cur.execute("TRUNCATE athena_batch")
        for obj_id, key, meta, values, text in batch:
            if not loaded:
                self._load(cur, cache, obj_id, text, values, bucket, key, ignore_malformed)
            entry = _Loaded(obj_id, meta["size"], meta["etag"])
            cache.objects[(bucket, key)] = entry
            out[key] = entry

    def _load(self, cur, cache, obj_id, text, values, bucket, key, ignore_malformed):
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS athena_lines (line text)")
        cur.execute("TRUNCATE athena_lines")
        ddl = []
        exprs = [json_conversion(t, json_field("j", orig), self._types, ddl)
                 for (orig, t) in cache.columns]
        part_exprs = [_typed_literal(values[n], self._types.pg_type(t, ddl))
                      for n, t in cache.partition_columns]
        self._create_types(cur.connection, ddl)
        cols = ['"_obj"'] + [f'"c{i}"' for i in range(len(exprs))] + \
               [f'"p{i}"' for i in range(len(part_exprs))]
        insert = (f"INSERT INTO {cache.name} ({', '.join(cols)}) "
                  f"SELECT {obj_id}{''.join(', ' + e for e in exprs + part_exprs)} "
                  # OFFSET 0 keeps each line parsed once, not once a column
                  "FROM (SELECT CASE WHEN btrim(line, E' \\t\\r') = '' THEN NULL ELSE line::jsonb END AS j "
                  "FROM athena_lines OFFSET 0) AS s")
        try:
            self._copy_lines(cur, text)
            cur.execute(insert)
            return
        except psycopg2.errors.InvalidTextRepresentation as e:
            if "type json" not in str(e):
                raise TrinoError("HIVE_BAD_DATA", _bad_data_message(e, bucket, key),
                                 error_type=athena_sql.ERROR_TYPE_DATA) from None
        except psycopg2.errors.UntranslatableCharacter:
            pass    # \u0000, which PostgreSQL cannot store: rewritten below
        except (psycopg2.errors.NumericValueOutOfRange, psycopg2.errors.InvalidDatetimeFormat,
                psycopg2.errors.DatetimeFieldOverflow, psycopg2.errors.InvalidParameterValue) as e:
            raise TrinoError("HIVE_BAD_DATA", _bad_data_message(e, bucket, key),
                             error_type=athena_sql.ERROR_TYPE_DATA) from None
        # Some line is not one JSON object: read each line as the SerDe does.
        lines = []
        for n, line in enumerate(text.split("\n"), 1):
            if line.strip() == "":
                lines.append(line)
                continue
            try:
                value = json.loads(line)
                # PostgreSQL's text cannot hold NUL: the emulator drops it
                lines.append(line if "\\u0000" not in line else
                             json.dumps(value).replace("\\u0000", ""))
                continue
            except ValueError:
                pass
            try:
                # the SerDe reads the first object of a line and ignores the rest
                value, _ = json.JSONDecoder().raw_decode(line.lstrip())
                lines.append(json.dumps(value).replace("\\u0000", ""))
                continue
            except ValueError as e:
                if ignore_malformed:
                    lines.append("")
                    continue
                raise TrinoError(
                    "HIVE_CURSOR_ERROR",
                    f"Row is not a valid JSON Object - JSONException: {e.msg} at {e.pos} "
                    f"[character {e.colno} line 1] (s3://{bucket}/{key}, line {n})",
                    error_type=athena_sql.ERROR_TYPE_DATA) from None
        cur.execute("TRUNCATE athena_lines")
        self._copy_lines(cur, "\n".join(lines))
        try:
            cur.execute(insert)
        except (psycopg2.errors.InvalidTextRepresentation, psycopg2.errors.NumericValueOutOfRange,
                psycopg2.errors.InvalidDatetimeFormat, psycopg2.errors.DatetimeFieldOverflow) as e:
            raise TrinoError("HIVE_BAD_DATA", _bad_data_message(e, bucket, key),
                             error_type=athena_sql.ERROR_TYPE_DATA) from None

    @staticmethod
    def _copy_lines(cur, text):
        cur.copy_expert("COPY athena_lines (line) FROM STDIN", _StringReader(_copy_escape(text)))

    # -- errors ----------------------------------------------------------------------

    def _map_error(self, e, job):
        msg = (e.diag.message_primary or str(e)).strip()
        detail = e.diag.message_detail or ""
        code = e.pgcode or ""
        tokens = getattr(job, "tokens", None) or []

        def pos_of(name):
            t = athena_sql.find_token(tokens, name) if name else None
            return (t.line, t.col) if t else (1, 1)

        if detail.startswith("trino:"):
            return TrinoError(detail[6:], msg)
        if code == "42883":
            m = re.match(r"operator does not exist: (.+) (\S+) (.+)", msg)
            if m:
                op = m.group(2)
                at = next(((t.line, t.col) for t in tokens
                           if t.kind == "op" and t.text == {"<>": "<>"}.get(op, op)), (1, 1))
                if op == "<>" and at == (1, 1):
                    at = next(((t.line, t.col) for t in tokens if t.text == "!="), (1, 1))
                return TrinoError("TYPE_MISMATCH", f"Cannot apply operator: {_trino_type(m.group(1))} "
                                  f"{op} {_trino_type(m.group(3))}", *at)
            m = re.match(r"function (?:athena_fn\.)?(?:trino_)?(\w+)\((.*)\) does not exist", msg)
            if m:
                name = m.group(1)
                args = ", ".join(_trino_type(a.strip()) for a in m.group(2).split(",") if a.strip())
                return TrinoError("FUNCTION_NOT_FOUND",
                                  f"Unexpected parameters ({args}) for function {name}", *pos_of(name))
            return TrinoError("TYPE_MISMATCH", msg, 1, 1)
        if code == "42804":
            m = re.match(r"argument of (\w+) must be type boolean, not type (.+)", msg)
            if m:
                return TrinoError("TYPE_MISMATCH", f"{m.group(1)} clause must evaluate to a boolean: "
                                  f"actual type {_trino_type(m.group(2))}", *pos_of(m.group(1)))
            return TrinoError("TYPE_MISMATCH", re.sub(r"\b(text|character varying)\b", "varchar", msg), 1, 1)
        if code == "42846":
            return TrinoError("TYPE_MISMATCH", re.sub(r"\btext\b", "varchar", msg), 1, 1)
        if code == "42703":
            m = re.match(r'column (?:(\S+)\.)?"?([^"]+)"? does not exist', msg)
            name = m.group(2) if m else msg
            qual = f"{m.group(1).strip(chr(34))}." if m and m.group(1) else ""
            return TrinoError("COLUMN_NOT_FOUND", f"Column '{qual}{name}' cannot be resolved",
                              *pos_of(name))
        if code == "42P01":
            m = re.search(r'table "([^"]+)"', msg)
            name = m.group(1) if m else ""
            return TrinoError("COLUMN_NOT_FOUND", f"Column prefix '{name}' cannot be resolved", *pos_of(name))
        if code == "42702":
            m = re.search(r'"([^"]+)"', msg)
            name = m.group(1) if m else ""
            return TrinoError("AMBIGUOUS_NAME", f"Column '{name}' is ambiguous", *pos_of(name))
        if code == "42803":
            m = re.search(r'column "([^"]+)"', msg)
            name = m.group(1).split(".")[-1] if m else ""
            return TrinoError("EXPRESSION_NOT_AGGREGATE",
                              f"'{name}' must be an aggregate expression or appear in GROUP BY clause",
                              *pos_of(name))
        if code == "22012":
            return TrinoError("DIVISION_BY_ZERO", "Division by zero")
        if code == "22P02":
            m = re.match(r'invalid input syntax for type ([\w ]+): "(.*)"', msg)
            if m:
                return TrinoError("INVALID_CAST_ARGUMENT",
                                  f"Cannot cast '{m.group(2)}' to {_trino_type(m.group(1))}")
            return TrinoError("INVALID_CAST_ARGUMENT", msg)
        if code == "22003":
            return TrinoError("NUMERIC_VALUE_OUT_OF_RANGE", msg)
        if code in ("22007", "22008", "22009"):
            return TrinoError("INVALID_CAST_ARGUMENT", msg)
        if code in ("2201B", "22023", "2202E", "22025", "22030", "22032", "22033", "22038", "2203A",
                    "2203B", "2203F"):
            return TrinoError("INVALID_FUNCTION_ARGUMENT", msg)
        if code == "21000":
            return TrinoError("SUBQUERY_MULTIPLE_ROWS", "Scalar sub-query has returned multiple rows")
        if code == "42601":
            m = re.search(r'at or near "([^"]*)"', msg)
            near = m.group(1) if m else ""
            return TrinoError("SYNTAX_ERROR", f"mismatched input '{near}'", *pos_of(near))
        if code.startswith("42"):
            return TrinoError("NOT_SUPPORTED", f"the emulator could not run this query: {msg}")
        return TrinoError("GENERIC_INTERNAL_ERROR", msg, category=athena_sql.CATEGORY_SYSTEM,
                          error_type=athena_sql.ERROR_TYPE_INTERNAL)


def _copy_escape(text):
    """Lines of text as COPY's text format data (one column), newline-ended."""
    data = (text.replace("\\", "\\\\").replace("\r", "\\r").replace("\t", "\\t")
            .replace("\x00", ""))
    if data and not data.endswith("\n"):
        data += "\n"
    return data


def _typed_literal(value, pgtype):
    """A literal of a column type (`text COLLATE "C"` casts, then collates)."""
    base, _, coll = pgtype.partition(" COLLATE ")
    return f"CAST({quote_literal(value)} AS {base})" + (f" COLLATE {coll}" if coll else "")


def _trino_type(pg):
    pg = pg.strip()
    m = {"text": "varchar", "character varying": "varchar", "integer": "integer", "bigint": "bigint",
         "smallint": "smallint", "double precision": "double", "real": "real", "numeric": "decimal",
         "boolean": "boolean", "date": "date", "timestamp without time zone": "timestamp(3)",
         "timestamp with time zone": "timestamp(3) with time zone", "json": "json", "jsonb": "map",
         "bytea": "varbinary", "unknown": "unknown", "character": "char"}
    if pg.endswith("[]"):
        return f"array({_trino_type(pg[:-2])})"
    if pg.startswith("athena_types."):
        return "row"
    if pg == "athena_fn.tinyint":
        return "tinyint"
    return m.get(pg, pg)


def _bad_data_message(e, bucket, key):
    msg = (e.diag.message_primary or str(e)).strip()
    m = re.match(r'invalid input syntax for type ([\w ]+): "(.*)"', msg)
    if m:
        msg = f"Error parsing field value '{m.group(2)}' as {_trino_type(m.group(1))}"
    return f"{msg} (s3://{bucket}/{key})"


class _StringReader:
    """A file-like reader over a str for COPY FROM (psycopg2 reads in chunks)."""

    def __init__(self, text):
        self.data = text.encode("utf-8")
        self.pos = 0

    def read(self, size=-1):
        if size is None or size < 0:
            size = len(self.data) - self.pos
        chunk = self.data[self.pos:self.pos + size]
        self.pos += len(chunk)
        return chunk

    def readline(self, size=-1):
        end = self.data.find(b"\n", self.pos)
        end = len(self.data) if end < 0 else end + 1
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk


def _remove_orphan_spools():
    """Spool folders of emulators that ended without removing theirs."""
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        m = re.fullmatch(r"athena-spool-(\d+)-\w+", name)
        if not m:
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)
        except PermissionError:
            pass


def _unreachable_for(user, path):
    """The first folder on the way to `path` (itself included) that `user`
    may not enter (search permission), or None."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return None
    groups = set(os.getgrouplist(user, pw.pw_gid))
    path = os.path.abspath(path)
    parts = [path]
    while os.path.dirname(parts[-1]) != parts[-1]:
        parts.append(os.path.dirname(parts[-1]))
    for d in reversed(parts):
        try:
            st = os.stat(d)
        except OSError:
            return None
        if st.st_uid == pw.pw_uid:
            ok = st.st_mode & 0o100
        elif st.st_gid in groups:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            return d
    return None


def _dsn_is_local(dsn):
    """Whether a libpq DSN reaches a server on this machine."""
    try:
        params = psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.ProgrammingError:
        return False
    host = params.get("host") or params.get("hostaddr") or ""
    return all(h == "" or h.startswith("/") or h in ("localhost", "127.0.0.1", "::1")
               for h in host.split(","))


def _pg_bindir():
    pg_config = os.environ.get("PG_CONFIG")
    if pg_config:
        try:
            return subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    return "/usr/lib/postgresql/15/bin"


__all__ = ["Engine", "Cancelled", "QueryResult", "parse_hive_type", "split_s3_url"]
