"""Athena (JSON 1.1): StartQueryExecution, GetQueryExecution,
GetQueryResults, StopQueryExecution, ListQueryExecutions; ListWorkGroups,
GetWorkGroup, CreateWorkGroup, UpdateWorkGroup, DeleteWorkGroup (the
per-query data usage limit BytesScannedCutoffPerQuery: a query that scans
more is CANCELLED, as Athena cancels it), ListDataCatalogs, GetDataCatalog, ListDatabases, GetDatabase,
ListTableMetadata, GetTableMetadata and the utility statements SHOW ... and
DESCRIBE (athena_metadata.py), from the Glue catalog.

A query is a QueryExecution that goes QUEUED -> RUNNING -> SUCCEEDED,
FAILED (StateChangeReason and AthenaError as Athena words them) or
CANCELLED.  It runs in a thread of its own; at most
emu.config["athena_max_concurrent_queries"] run at once and the others stay
QUEUED, as Athena queues past its concurrency quota.  The SQL engine is
athena_engine.  A query never reaches a final state before
emu.config["athena_min_query_ms"] after its submission (models Athena's
latency for benchmarks); StopQueryExecution ends that wait and cancels the
engine's statement.

Idempotency: a ClientRequestToken seen before returns the same query id
(with different parameters it is an error, as in Athena).  Result reuse:
with ResultReuseByAgeConfiguration enabled, a query whose text, catalog,
database and workgroup match a SUCCEEDED query younger than the max age
gets that query's result (ReusedPreviousResult, no bytes scanned).

Results live in S3, where the engine wrote them: <output>/<id>.csv and
<id>.csv.metadata.  GetQueryResults pages through the CSV object from a
byte offset carried in NextToken, so no page re-reads the pages before it;
the first page starts with the header row, and every value is a
VarCharValue (NULL: no VarCharValue).
"""
import base64
import json
import sys
import threading
import time
import traceback
import uuid

from . import athena_metadata
from .athena_engine import Cancelled, Engine
from .athena_sql import TrinoError
from .core import AwsError, RawJson, Service


def _invalid(message):
    return AwsError("InvalidRequestException", message)


# the workgroup every account has
PRIMARY = "primary"
QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"
FINAL = (SUCCEEDED, FAILED, CANCELLED)


class QueryExecution:
    def __init__(self, qid, p, workgroup, output_location, submitted):
        self.id = qid
        self.query = p["QueryString"]
        self.token = p.get("ClientRequestToken")
        self.workgroup = workgroup
        ctx = p.get("QueryExecutionContext") or {}
        self.database = ctx.get("Database")
        self.catalog = ctx.get("Catalog")
        self.context = dict(ctx)
        self.parameters = list(p.get("ExecutionParameters") or [])
        self.output_location = output_location
        self.reuse = p.get("ResultReuseConfiguration")
        self.request = {k: p.get(k) for k in ("QueryString", "QueryExecutionContext",
                                               "ResultConfiguration", "WorkGroup",
                                               "ExecutionParameters", "ResultReuseConfiguration")}
        self.state = QUEUED
        self.reason = None
        self.athena_error = None
        self.submitted = submitted          # emulator clock (datetime)
        self.completed = None
        self.t_submit = time.monotonic()
        self.t_start = None
        self.t_end = None
        self.data_scanned = 0
        self.columns = None
        self.rows = 0
        self.result_bucket = None
        self.result_key = None
        self.reused = False
        self.cancel_event = threading.Event()
        self.tokens = None
        self._conn = None
        self._lock = threading.Lock()
        # where the engine writes the result
        self.output_bucket = None
        self.output_key = None
        # a utility statement's rows (no header; GetQueryResults pages them)
        self.utility_rows = None

    # engine hooks
    @property
    def cancelled(self):
        return self.cancel_event.is_set()

    def check_cancelled(self):
        if self.cancel_event.is_set():
            raise Cancelled()

    def attach(self, conn):
        with self._lock:
            self._conn = conn
            if conn is not None and self.cancel_event.is_set():
                conn.cancel()

    def cancel(self):
        self.cancel_event.set()
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.cancel()
                except Exception:
                    pass

    def result_location(self):
        if self.result_bucket:
            return f"s3://{self.result_bucket}/{self.result_key}"
        return self.output_location.rstrip("/") + f"/{self.id}.csv" if self.output_location else None


def _page_token(qid, offset, rows):
    raw = json.dumps({"q": qid, "o": offset, "r": rows}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _parse_page_token(token, qid):
    try:
        d = json.loads(base64.urlsafe_b64decode(token.encode()))
        if d["q"] != qid or d["o"] < 0:
            raise ValueError
        return int(d["o"]), int(d["r"])
    except (ValueError, KeyError, TypeError):
        raise _invalid("The NextToken is not valid for this query.") from None


def read_csv_records(f, offset, limit, chunk=1 << 18):
    """Up to `limit` records of an Athena result CSV from byte `offset`:
    (records, offset after them, whether the object ends there).  A field
    is a str, or None for an empty unquoted field (NULL)."""
    f.seek(offset)
    buf = b""
    pos = 0
    records = []
    eof = False
    while len(records) < limit:
        rec, end = _parse_record(buf, pos, eof)
        if rec is None:
            if eof:
                break
            more = f.read(chunk)
            chunk = min(chunk * 2, 1 << 24)
            if not more:
                eof = True
            buf = buf[pos:] + more
            offset += pos
            pos = 0
            continue
        records.append(rec)
        pos = end
    at_end = eof and pos >= len(buf)
    if not at_end and not eof:
        # is there anything after the last record?
        if pos >= len(buf):
            more = f.read(1)
            at_end = not more
    return records, offset + pos, at_end


def _parse_record(buf, pos, eof):
    """One CSV record at buf[pos:], or (None, pos) if it is incomplete."""
    n = len(buf)
    if pos >= n:
        return None, pos
    fields = []
    while True:
        if pos >= n:
            if eof:
                fields.append(None)
                return fields, pos
            return None, pos
        c = buf[pos]
        if c == 0x22:  # "
            start = pos + 1
            j = start
            parts = []
            while True:
                q = buf.find(b'"', j)
                if q < 0:
                    return None, pos
                if q + 1 < n and buf[q + 1] == 0x22:
                    parts.append(buf[j:q + 1])
                    j = q + 2
                    continue
                if q + 1 >= n and not eof:
                    return None, pos
                parts.append(buf[j:q])
                pos = q + 1
                break
            fields.append(b"".join(parts).decode("utf-8"))
        else:
            fields.append(None)
        if pos >= n:
            if eof:
                return fields, pos
            return None, pos
        c = buf[pos]
        if c == 0x2C:  # ,
            pos += 1
            continue
        if c == 0x0A:  # \n
            return fields, pos + 1
        if c == 0x0D and pos + 1 < n and buf[pos + 1] == 0x0A:
            return fields, pos + 2
        raise ValueError(f"malformed result CSV at byte {pos}")


class Athena(Service):
    name = "athena"
    concurrent = True

    def __init__(self, emu):
        super().__init__(emu)
        self.queries = {}            # id -> QueryExecution
        self.order = []              # ids in submission order
        self.tokens = {}             # ClientRequestToken -> id
        self._state = threading.RLock()
        self.engine = Engine(emu)
        self._slots = None
        self._slots_n = None
        self._created = emu.clock.utcnow()
        # name -> {"Description", "CreationTime", "Configuration"}
        self.workgroups = {PRIMARY: {"Description": "", "CreationTime": self._created,
                                     "Configuration": {}}}

    # -- helpers -----------------------------------------------------------------

    def _query(self, qid):
        with self._state:
            q = self.queries.get(qid)
        if q is None:
            raise _invalid(f"QueryExecution {qid} was not found")
        return q

    def _semaphore(self):
        n = int(self.emu.config.get("athena_max_concurrent_queries", 4) or 4)
        with self._state:
            if self._slots is None or self._slots_n != n:
                self._slots = threading.BoundedSemaphore(n)
                self._slots_n = n
            return self._slots

    def close(self):
        with self._state:
            queries = list(self.queries.values())
        for q in queries:
            if q.state not in FINAL:
                q.cancel()
        self.engine.close()

    # -- operations -------------------------------------------------------------

    def StartQueryExecution(self, p):
        workgroup = p.get("WorkGroup") or PRIMARY
        self._workgroup(workgroup)
        output = (p.get("ResultConfiguration") or {}).get("OutputLocation")
        if not output:
            raise _invalid("No output location provided. An output location is required either "
                           "through the Workgroup result configuration setting or as an API input.")
        token = p.get("ClientRequestToken")
        with self._state:
            if token is not None and token in self.tokens:
                prev = self.queries[self.tokens[token]]
                same = {k: p.get(k) for k in prev.request} == prev.request
                if not same:
                    raise AwsError("InvalidRequestException",
                                   "Idempotent parameters do not match the original request "
                                   f"with ClientRequestToken {token}")
                return {"QueryExecutionId": prev.id}
            qid = str(uuid.uuid4())
            q = QueryExecution(qid, p, workgroup, output, self.emu.clock.utcnow())
            self.queries[qid] = q
            self.order.append(qid)
            if token is not None:
                self.tokens[token] = qid
        threading.Thread(target=self._run, args=(q,), name=f"athena-{qid[:8]}", daemon=True).start()
        return {"QueryExecutionId": qid}

    def _run(self, q):
        slots = self._semaphore()
        while not slots.acquire(timeout=0.05):
            if q.cancelled:
                self._finish(q, CANCELLED)
                return
        try:
            if q.cancelled:
                self._finish(q, CANCELLED)
                return
            with self._state:
                q.state = RUNNING
                q.t_start = time.monotonic()
            state, reason, error = self._execute(q)
            if state != CANCELLED:
                # the modelled latency: the query stays RUNNING, in its slot
                min_ms = float(self.emu.config.get("athena_min_query_ms") or 0)
                wait = q.t_submit + min_ms / 1000.0 - time.monotonic()
                if wait > 0 and q.cancel_event.wait(wait):
                    state, reason, error = CANCELLED, None, None
            self._finish(q, state, reason, error)
        finally:
            slots.release()

    def _execute(self, q):
        try:
            bucket, prefix = self._output(q)
            q.output_bucket, q.output_key = bucket, prefix + f"{q.id}.csv"
            if self._reuse(q):
                return SUCCEEDED, None, None
            utility = athena_metadata.utility_statement(q.query)
            if utility is not None:
                self._utility(q, bucket, prefix, *utility)
                return SUCCEEDED, None, None
            res = self.engine.run_query(q)
            with self._state:
                q.data_scanned = res.data_scanned
                cutoff = self._workgroup(q.workgroup)["Configuration"].get(
                    "BytesScannedCutoffPerQuery")
            # the per-query data usage control: "If any query that runs in
            # the workgroup exceeds the limit, it is canceled" (Athena User
            # Guide, "Configure per-query and per-workgroup data usage
            # controls"); AWS does not document the reason's wording
            if cutoff is not None and res.data_scanned > cutoff:
                return CANCELLED, (f"Query cancelled: it scanned {res.data_scanned} bytes, over "
                                   f"the per-query data usage limit of workgroup {q.workgroup} "
                                   f"(BytesScannedCutoffPerQuery {cutoff} bytes)"), None
            with self._state:
                q.columns = res.columns
                q.rows = res.rows
                q.result_bucket, q.result_key = res.output_bucket, res.output_key
            return SUCCEEDED, None, None
        except Cancelled:
            return CANCELLED, None, None
        except TrinoError as e:
            if q.cancelled:
                return CANCELLED, None, None
            return FAILED, e.reason, {"ErrorCategory": e.category, "ErrorType": e.error_type,
                                      "Retryable": False, "ErrorMessage": e.reason}
        except AwsError as e:
            reason = f"{e.code}: {e.message}"
            return FAILED, reason, {"ErrorCategory": 1, "ErrorType": 401, "Retryable": False,
                                    "ErrorMessage": reason}
        except Exception as e:  # a defect of the emulator: say so, loudly
            traceback.print_exc(file=sys.stderr)
            reason = f"GENERIC_INTERNAL_ERROR: {type(e).__name__}: {e}"
            return FAILED, reason, {"ErrorCategory": 1, "ErrorType": 200, "Retryable": False,
                                    "ErrorMessage": reason}

    def _utility(self, q, bucket, prefix, kind, match):
        glue = self.emu.service("glue")
        rows, column = athena_metadata.run_utility(glue, kind, match, q.database, q.catalog)
        key = prefix + f"{q.id}.txt"
        self.emu.s3.put_object(bucket, key, "".join(r + "\n" for r in rows).encode("utf-8"),
                               "text/plain")
        with self._state:
            q.utility_rows = rows
            q.rows = len(rows)
            q.columns = [{"CatalogName": "hive", "SchemaName": "", "TableName": "",
                          "Name": column, "Label": column, "Type": "string", "Precision": 0,
                          "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": False}]
            q.result_bucket, q.result_key = bucket, key

    def _output(self, q):
        loc = q.output_location
        if not loc.startswith("s3://") or len(loc) <= 5:
            raise _OutputBucket(loc)
        bucket, _, prefix = loc[5:].partition("/")
        if not bucket or not self.emu.s3.bucket_exists(bucket):
            raise _OutputBucket(bucket or loc)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return bucket, prefix

    def _reuse(self, q):
        cfg = ((q.reuse or {}).get("ResultReuseByAgeConfiguration") or {})
        if not cfg.get("Enabled"):
            return False
        max_age = float(cfg.get("MaxAgeInMinutes", 60)) * 60
        now = self.emu.clock.now()
        with self._state:
            for qid in reversed(self.order):
                prev = self.queries[qid]
                if prev is q or prev.state != SUCCEEDED or prev.completed is None:
                    continue
                if (prev.query, prev.catalog, prev.database, prev.workgroup, prev.parameters) != \
                        (q.query, q.catalog, q.database, q.workgroup, q.parameters):
                    continue
                if now - prev.completed.timestamp() > max_age:
                    continue
                try:
                    self.emu.s3.head_object(prev.result_bucket, prev.result_key)
                except AwsError:
                    continue
                q.columns, q.rows = prev.columns, prev.rows
                q.result_bucket, q.result_key = prev.result_bucket, prev.result_key
                q.data_scanned = 0
                q.reused = True
                return True
        return False

    def _finish(self, q, state, reason=None, error=None):
        with self._state:
            if q.state in FINAL:
                return
            q.state = state
            q.reason = reason
            q.athena_error = error
            q.t_end = time.monotonic()
            q.completed = self.emu.clock.utcnow()
        if state == FAILED:
            # the emulator's log says why, for whoever debugs a client
            print(f"athena: query {q.id} FAILED: {reason}\n    {q.query}", file=sys.stderr, flush=True)

    def GetQueryExecution(self, p):
        q = self._query(p["QueryExecutionId"])
        with self._state:
            return {"QueryExecution": self._describe(q)}

    def _describe(self, q):
        now = time.monotonic()
        end = q.t_end or now
        queue_end = q.t_start or end
        engine = int(((end - q.t_start) if q.t_start else 0) * 1000)
        status = {"State": q.state, "SubmissionDateTime": q.submitted}
        if q.reason:
            status["StateChangeReason"] = q.reason
        if q.state == CANCELLED and not q.reason:
            status["StateChangeReason"] = "Query was cancelled by user"
        if q.completed is not None:
            status["CompletionDateTime"] = q.completed
        if q.athena_error:
            status["AthenaError"] = q.athena_error
        out = {
            "QueryExecutionId": q.id,
            "Query": q.query,
            "StatementType": "UTILITY" if q.utility_rows is not None else "DML",
            "ResultConfiguration": {"OutputLocation": q.result_location()},
            "QueryExecutionContext": q.context,
            "Status": status,
            "Statistics": {
                "EngineExecutionTimeInMillis": engine,
                "DataScannedInBytes": q.data_scanned,
                "TotalExecutionTimeInMillis": int((end - q.t_submit) * 1000),
                "QueryQueueTimeInMillis": int((queue_end - q.t_submit) * 1000),
                "QueryPlanningTimeInMillis": 0,
                "ServiceProcessingTimeInMillis": 0,
                "ResultReuseInformation": {"ReusedPreviousResult": q.reused},
            },
            "WorkGroup": q.workgroup,
            "EngineVersion": {"SelectedEngineVersion": "AUTO",
                              "EffectiveEngineVersion": "Athena engine version 3"},
        }
        if q.reuse:
            out["ResultReuseConfiguration"] = q.reuse
        if q.parameters:
            out["ExecutionParameters"] = q.parameters
        return out

    def GetQueryResults(self, p):
        q = self._query(p["QueryExecutionId"])
        with self._state:
            state = q.state
            reason = q.reason
        if state in (QUEUED, RUNNING):
            raise _invalid(f"Query has not yet finished. Current state: {state}")
        if state == FAILED:
            raise _invalid(reason or "Query did not finish successfully. Final query state: FAILED")
        if state == CANCELLED:
            raise _invalid("Query did not finish successfully. Final query state: CANCELLED")
        limit = p.get("MaxResults") or 1000
        if limit > 1000:
            raise _invalid("MaxResults is more than maximum allowed length 1000")
        token = p.get("NextToken")
        offset, done = (0, 0) if not token else _parse_page_token(token, q.id)
        if q.utility_rows is not None:
            page = q.utility_rows[offset:offset + limit]
            out = {"UpdateCount": 0, "ResultSet": {
                "Rows": [{"Data": [{"VarCharValue": r}]} for r in page],
                "ResultSetMetadata": {"ColumnInfo": q.columns}}}
            if offset + limit < len(q.utility_rows):
                out["NextToken"] = _page_token(q.id, offset + limit, done + len(page))
            return out
        try:
            f = self.emu.s3.open_object(q.result_bucket, q.result_key)
        except AwsError:
            raise _invalid(f"Unable to read the query results at {q.result_location()}: "
                           "the object does not exist") from None
        with f:
            records, end, at_end = read_csv_records(f, offset, limit)
        # rows in wire form (the serializer copies RawJson verbatim): a
        # thousand-row page is the hot path of clients that page results
        rows = RawJson("[" + ",".join(
            '{"Data":[' + ",".join('{"VarCharValue":' + json.dumps(v, ensure_ascii=False) + "}"
                                   if v is not None else "{}" for v in r) + "]}"
            for r in records) + "]")
        out = {"UpdateCount": 0,
               "ResultSet": {"Rows": rows,
                             "ResultSetMetadata": {"ColumnInfo": q.columns or []}}}
        if not at_end:
            out["NextToken"] = _page_token(q.id, end, done + len(records))
        return out

    def StopQueryExecution(self, p):
        q = self._query(p["QueryExecutionId"])
        if q.state not in FINAL:
            q.cancel()
            self._finish(q, CANCELLED)
        return {}

    def ListQueryExecutions(self, p):
        workgroup = p.get("WorkGroup") or PRIMARY
        self._workgroup(workgroup)
        limit = p.get("MaxResults") or 50
        with self._state:
            ids = [qid for qid in reversed(self.order) if self.queries[qid].workgroup == workgroup]
        start = 0
        if p.get("NextToken"):
            try:
                start = int(base64.urlsafe_b64decode(p["NextToken"].encode()).decode())
            except (ValueError, UnicodeDecodeError):
                raise _invalid("The NextToken is not valid.") from None
        out = {"QueryExecutionIds": ids[start:start + limit]}
        if start + limit < len(ids):
            out["NextToken"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
        return out


    # -- catalog metadata (athena_metadata.py) -------------------------------------

    def _workgroup(self, name):
        with self._state:
            w = self.workgroups.get(name)
        if w is None:
            raise _invalid(f"WorkGroup {name} is not found.")
        return w

    def ListWorkGroups(self, p):
        with self._state:
            return {"WorkGroups": [{"Name": n, "State": "ENABLED",
                                    "Description": w["Description"],
                                    "CreationTime": w["CreationTime"],
                                    "EngineVersion": _ENGINE_VERSION}
                                   for n, w in sorted(self.workgroups.items())]}

    def GetWorkGroup(self, p):
        w = self._workgroup(p["WorkGroup"])
        config = {"EnforceWorkGroupConfiguration": False,
                  "PublishCloudWatchMetricsEnabled": False,
                  "RequesterPaysEnabled": False,
                  "EngineVersion": _ENGINE_VERSION}
        config.update(w["Configuration"])
        return {"WorkGroup": {"Name": p["WorkGroup"], "State": "ENABLED",
                              "Description": w["Description"],
                              "CreationTime": w["CreationTime"], "Configuration": config}}

    # the configuration members the emulator acts on (the rest is refused:
    # kept and ignored, a setting would change nothing)
    _KEPT = ("BytesScannedCutoffPerQuery", "EnforceWorkGroupConfiguration",
             "PublishCloudWatchMetricsEnabled", "RequesterPaysEnabled")

    def _configuration(self, config):
        unknown = sorted(set(config) - set(self._KEPT))
        if unknown:
            raise _invalid(f"The emulator does not keep workgroup settings {', '.join(unknown)}")
        return {k: v for k, v in config.items()}

    def CreateWorkGroup(self, p):
        if p.get("Tags"):
            raise _invalid("The emulator does not keep workgroup tags")
        config = self._configuration(p.get("Configuration") or {})
        with self._state:
            if p["Name"] in self.workgroups:
                raise _invalid("WorkGroup is already created")
            self.workgroups[p["Name"]] = {"Description": p.get("Description", ""),
                                          "CreationTime": self.emu.clock.utcnow(),
                                          "Configuration": config}
        return {}

    def UpdateWorkGroup(self, p):
        updates = dict(p.get("ConfigurationUpdates") or {})
        remove = updates.pop("RemoveBytesScannedCutoffPerQuery", False)
        config = self._configuration(updates)
        w = self._workgroup(p["WorkGroup"])
        with self._state:
            w["Configuration"].update(config)
            if remove:
                w["Configuration"].pop("BytesScannedCutoffPerQuery", None)
            if "Description" in p:
                w["Description"] = p["Description"]
        return {}

    def DeleteWorkGroup(self, p):
        if p["WorkGroup"] == PRIMARY:
            raise _invalid("Cannot delete the primary workgroup")
        self._workgroup(p["WorkGroup"])
        with self._state:
            del self.workgroups[p["WorkGroup"]]
        return {}

    def ListDataCatalogs(self, p):
        return {"DataCatalogsSummary": [{"CatalogName": athena_metadata.CATALOG,
                                         "Type": "GLUE"}]}

    def GetDataCatalog(self, p):
        athena_metadata.check_catalog(p["Name"])
        return {"DataCatalog": {"Name": athena_metadata.CATALOG, "Type": "GLUE",
                                "Parameters": {"catalog-id": self.emu.account_id}}}

    def _glue_database(self, p):
        athena_metadata.check_catalog(p.get("CatalogName"))
        glue = self.emu.service("glue")
        name = p["DatabaseName"].lower()
        with glue.lock:
            db = glue.databases.get(name)
            if db is None:
                raise athena_metadata.metadata_error(f"Database {p['DatabaseName']} not found.")
            return glue, db

    @staticmethod
    def _page(items, p, kind, default):
        start = 0
        if p.get("NextToken"):
            try:
                d = json.loads(base64.urlsafe_b64decode(p["NextToken"].encode()))
                start = int(d["o"]) if d["k"] == kind else -1
            except (ValueError, KeyError, TypeError):
                start = -1
            if start < 0:
                raise _invalid("The NextToken is not valid.")
        limit = p.get("MaxResults") or default
        page = items[start:start + limit]
        token = None
        if start + limit < len(items):
            token = base64.urlsafe_b64encode(json.dumps(
                {"o": start + limit, "k": kind}).encode()).decode()
        return page, token

    def ListDatabases(self, p):
        athena_metadata.check_catalog(p["CatalogName"])
        glue = self.emu.service("glue")
        with glue.lock:
            dbs = [glue.databases[n] for n in sorted(glue.databases)]
        page, token = self._page(dbs, p, "db", 50)
        return {"DatabaseList": [{"Name": d["Name"], "Description": d.get("Description"),
                                  "Parameters": d.get("Parameters")} for d in page],
                "NextToken": token}

    def GetDatabase(self, p):
        _, db = self._glue_database(p)
        return {"Database": {"Name": db["Name"], "Description": db.get("Description"),
                             "Parameters": db.get("Parameters")}}

    def ListTableMetadata(self, p):
        glue, db = self._glue_database(p)
        with glue.lock:
            names = athena_metadata.hive_match(p.get("Expression"), sorted(glue.tables[db["Name"]]))
            tables = [glue.tables[db["Name"]][n] for n in names]
        page, token = self._page(tables, p, "t:" + db["Name"], 50)
        return {"TableMetadataList": [athena_metadata.table_metadata(t) for t in page],
                "NextToken": token}

    def GetTableMetadata(self, p):
        glue, db = self._glue_database(p)
        with glue.lock:
            t = glue.tables[db["Name"]].get(p["TableName"].lower())
            if t is None:
                raise athena_metadata.metadata_error(
                    f"Table {p['TableName']} not found in database {db['Name']}.")
            return {"TableMetadata": athena_metadata.table_metadata(t)}


_ENGINE_VERSION = {"SelectedEngineVersion": "AUTO",
                   "EffectiveEngineVersion": "Athena engine version 3"}


class _OutputBucket(TrinoError):
    def __init__(self, bucket):
        super().__init__("HIVE_FILESYSTEM_ERROR", f"Unable to verify/create output bucket {bucket}")

    @property
    def reason(self):
        # Athena words this failure without an error name
        return self.message
