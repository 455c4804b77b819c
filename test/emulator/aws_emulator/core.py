"""The pieces every emulated service is built from.

A service is a subclass of Service.  Its class attribute `name` is the
botocore service name ("dynamodb", "dynamodbstreams", "firehose", "s3",
"sts", "glue", "athena"); the server finds the service's botocore model by
that name.  It has one method per operation, named exactly as the operation
in the botocore model (PutRecordBatch, GetShardIterator, ...):

    def PutRecordBatch(self, params):
        ...
        return {"FailedPutCount": 0, "Encrypted": False, "RequestResponses": [...]}

`params` is the request input already parsed and validated against the
operation's input shape: blobs are bytes, timestamps datetime objects (UTC),
structures dicts, lists lists, maps dicts.  The return value is the output
shape as a dict: the server serializes it per the model (a blob may be bytes,
or a str already base64-encoded; a timestamp a datetime or epoch seconds as
int/float).  A value of RawJson("...") anywhere in the output is copied
verbatim into a JSON-protocol response: the fast path for large outputs that
a service keeps in wire form (DynamoDB Streams records).  Keys whose value is
None are left out.  A rest-xml (S3) output may carry "_status" (204, 206):
the HTTP status to answer with.

An operation fails by raising AwsError(code, message, status=400,
sender_fault=True); the server renders it in the error shape of the
service's protocol, with the request id.  Any other exception becomes a 500
InternalFailure (and is logged to stderr).

Each service instance gets the emulator object `emu` (see app.Emulator):
emu.clock, emu.config, emu.data_dir, emu.engine_dsn, emu.s3 (object storage:
put_object, get_object, list_objects, bucket_exists), emu.service(name),
emu.faults.  Calls to one service are serialized by `self.lock` (an RLock)
unless the class sets `concurrent = True`, in which case the service guards
its own state (the lock is then not taken by the server).

core.request_context() tells an operation who called (access key, region,
request id).

Class attributes a service may set: concurrent, unsigned_operations,
unchecked_max, xml_roots (see Service).

Life cycle hooks a service may override:
  - tick(now): called about every 100 ms from one background thread with the
    emulator clock's now() (epoch seconds): timers (Firehose buffer
    intervals, shard rollovers).  It is called with self.lock held.
  - reset(): forget all state (POST /_emulator/reset).  The default calls
    close() and then runs __init__ again.
  - close(): release resources at shutdown (threads, connections).

The rules: a service keeps AWS's behaviour where the product depends on it,
validates what AWS validates, and never fakes a result.
"""
import datetime
import threading
import time


_local = threading.local()


class RequestContext:
    """Who sent the request being served: access_key (None if unsigned),
    region (from the signature's scope), request_id."""

    __slots__ = ("access_key", "region", "request_id")

    def __init__(self, access_key, region, request_id):
        self.access_key = access_key
        self.region = region
        self.request_id = request_id


def set_request_context(ctx):
    _local.ctx = ctx


def request_context():
    """The RequestContext of the request this thread is serving."""
    return getattr(_local, "ctx", None)


class AwsError(Exception):
    """An AWS error response: the code (ValidationException, NoSuchKey, ...),
    a message, the HTTP status and whether the caller is at fault."""

    def __init__(self, code, message, status=400, sender_fault=True, extra=None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        # extra fields for the error body (S3: Key, BucketName, ...)
        self.extra = extra or {}


def s3_not_implemented(header=None):
    """S3's NotImplemented (501) for a header or query S3 would act on that
    the emulator does not support: the request is refused, never half done.
    The message is S3's own (S3 API Reference, Error responses, List of
    error codes); Header names what was refused."""
    return AwsError("NotImplemented", "A header you provided implies functionality that "
                    "is not implemented.", status=501,
                    extra={"Header": header} if header else None)


def validation_error(message):
    return AwsError("ValidationException", message)


class RawJson:
    """A fragment of JSON text copied verbatim into a JSON response."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text


class Clock:
    """The emulator's clock: wall time plus the advances requested through
    the control endpoint (retention, iterator expiry and buffer intervals
    all run on it)."""

    def __init__(self):
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self):
        """Epoch seconds (float)."""
        return time.time() + self._offset

    def utcnow(self):
        """The current time as an aware UTC datetime."""
        return datetime.datetime.fromtimestamp(self.now(), datetime.timezone.utc)

    def advance(self, seconds):
        with self._lock:
            self._offset += float(seconds)
        return self.now()

    @property
    def offset(self):
        return self._offset

    def reset(self):
        with self._lock:
            self._offset = 0.0


class Service:
    """Base class of an emulated service (see the module docstring)."""

    name = None
    concurrent = False
    # operations AWS serves without a signature (STS AssumeRoleWithWebIdentity)
    unsigned_operations = frozenset()
    # {operation: {top-level member, ...}} whose model maximum the service
    # checks itself (to answer with the error AWS gives, e.g. GetRecords'
    # Limit > 1000 is a LimitExceededException, not a ValidationException)
    unchecked_max = {}
    # rest-xml only: the root element of an operation's XML body
    xml_roots = {}

    def __init__(self, emu):
        self.emu = emu
        self.lock = threading.RLock()

    def tick(self, now):
        pass

    def close(self):
        pass

    def reset(self):
        self.close()
        lock = self.lock
        self.__init__(self.emu)
        self.lock = lock


def to_epoch(value):
    """A timestamp (datetime, or epoch seconds) as epoch seconds."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    return float(value)


def iso8601(epoch):
    """Epoch seconds as the ISO 8601 UTC form used in XML responses."""
    dt = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)
