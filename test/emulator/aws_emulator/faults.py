"""Fault injection: error responses, latency, dropped connections, hostile
bodies and Firehose per-record failures, per service and operation.

A fault (POST /_emulator/faults, fields documented in ../README.md) matches a
request when its `service` and `operation` match (either may be omitted:
any).  Matching requests are counted; the first `skip` of them pass
untouched; then each is hit with probability `probability` (default 1)
until `count` hits (default: no limit) have been made.  A hit applies, in
this order: `latency_ms` (a sleep), then one of `drop_connection`, `body`
or `error` (`when` "before" — the default — fails the request without
running it; "after" runs the operation and then replaces its response, the
case of a request that took effect but whose answer was lost).
`truncate_body` runs the operation and sends its answer's headers and only
that many bytes of its body, then resets the connection.  The other faults
that shape a response (a hostile server's framing) work the same way, on
the operation's answer or on a `body`: `content_length` announces another
length than the body has (then the connection is closed), and
`stall_after_bytes` sends that many bytes of the body and then stalls for
`stall_ms` (or until the client hangs up) before sending the rest.  A
`body` may be repeated (`repeat` times, between `body_prefix` and
`body_suffix`: huge responses) and carry extra `headers` (a `Location` for
redirects).
`empty_page` is read by DynamoDB Streams' GetRecords: it answers no records
and an iterator at the same position, as GetRecords may do while records
are there.
`record_failure_rate` is read by Firehose's PutRecordBatch itself (each
record fails with that probability) and counts as a hit per request.
"""
import random
import threading

DEFAULT_STATUS = {
    "ThrottlingException": 400,
    "Throttling": 400,
    "ThrottledException": 400,
    "ProvisionedThroughputExceededException": 400,
    "RequestLimitExceeded": 400,
    "LimitExceededException": 400,
    "TooManyRequestsException": 400,
    "ValidationException": 400,
    "InternalFailure": 500,
    "InternalServerError": 500,
    "InternalServerException": 500,
    "InternalError": 500,
    "ServiceUnavailable": 503,
    "ServiceUnavailableException": 503,
    "SlowDown": 503,
}

FIELDS = {"service", "operation", "error", "message", "status", "probability",
          "count", "skip", "latency_ms", "drop_connection", "body", "when",
          "content_type", "record_failure_rate", "record_error_code",
          "record_error_message", "truncate_body", "empty_page", "content_length",
          "stall_after_bytes", "stall_ms", "repeat", "body_prefix", "body_suffix",
          "headers"}


class FaultError(ValueError):
    pass


class Fault:
    def __init__(self, fid, spec):
        unknown = set(spec) - FIELDS
        if unknown:
            raise FaultError("unknown fault field(s): " + ", ".join(sorted(unknown)))
        self.id = fid
        self.spec = dict(spec)
        self.service = spec.get("service")
        self.operation = spec.get("operation")
        self.error = spec.get("error")
        self.message = spec.get("message")
        self.status = spec.get("status")
        self.probability = float(spec.get("probability", 1.0))
        self.count = spec.get("count")
        self.skip = int(spec.get("skip", 0))
        self.latency_ms = float(spec.get("latency_ms", 0) or 0)
        self.drop_connection = bool(spec.get("drop_connection", False))
        self.body = spec.get("body")
        self.content_type = spec.get("content_type")
        self.when = spec.get("when", "before")
        self.empty_page = bool(spec.get("empty_page", False))
        self.truncate_body = spec.get("truncate_body")
        if self.truncate_body is not None:
            self.truncate_body = int(self.truncate_body)
            if self.truncate_body < 0:
                raise FaultError("truncate_body must be >= 0")
        self.content_length = spec.get("content_length")
        if self.content_length is not None:
            self.content_length = int(self.content_length)
            if self.content_length < 0:
                raise FaultError("content_length must be >= 0")
        self.stall_after_bytes = spec.get("stall_after_bytes")
        if self.stall_after_bytes is not None:
            self.stall_after_bytes = int(self.stall_after_bytes)
            if self.stall_after_bytes < 0:
                raise FaultError("stall_after_bytes must be >= 0")
        self.stall_ms = float(spec.get("stall_ms", 60000))
        self.repeat = int(spec.get("repeat", 1))
        if self.repeat < 0:
            raise FaultError("repeat must be >= 0")
        self.body_prefix = spec.get("body_prefix", "")
        self.body_suffix = spec.get("body_suffix", "")
        self.headers = spec.get("headers") or {}
        if not isinstance(self.headers, dict):
            raise FaultError("headers must be an object")
        self.record_failure_rate = spec.get("record_failure_rate")
        self.record_error_code = spec.get("record_error_code", "ServiceUnavailableException")
        self.record_error_message = spec.get("record_error_message", "Slow down.")
        if self.when not in ("before", "after"):
            raise FaultError("when must be \"before\" or \"after\"")
        if not 0 <= self.probability <= 1:
            raise FaultError("probability must be between 0 and 1")
        if self.count is not None:
            self.count = int(self.count)
        if self.record_failure_rate is not None:
            self.record_failure_rate = float(self.record_failure_rate)
            if not 0 <= self.record_failure_rate <= 1:
                raise FaultError("record_failure_rate must be between 0 and 1")
        if self.status is None and self.error:
            self.status = DEFAULT_STATUS.get(self.error, 400)
        if self.status is not None:
            self.status = int(self.status)
        if not (self.error or self.drop_connection or self.body is not None
                or self.latency_ms or self.record_failure_rate is not None
                or self.truncate_body is not None or self.empty_page
                or self.content_length is not None
                or self.stall_after_bytes is not None):
            raise FaultError("a fault needs one of error, drop_connection, body, "
                             "truncate_body, content_length, stall_after_bytes, "
                             "latency_ms, record_failure_rate or empty_page")
        self.seen = 0
        self.hits = 0

    @property
    def service_level(self):
        """Consulted by the service itself (per-record failures, empty
        pages), not applied by the server."""
        return self.record_failure_rate is not None or self.empty_page

    def shapes_response(self):
        """Does this fault change how a response is framed and sent?"""
        return (self.truncate_body is not None or self.content_length is not None
                or self.stall_after_bytes is not None)

    def raw_body(self):
        """The hostile body as bytes: body repeated between prefix and suffix."""
        def b(s):
            return s.encode("utf-8") if isinstance(s, str) else bytes(s)
        return b(self.body_prefix) + b(self.body) * self.repeat + b(self.body_suffix)

    def matches(self, service, operation):
        return ((self.service is None or self.service == service)
                and (self.operation is None or self.operation == operation))

    def exhausted(self):
        return self.count is not None and self.hits >= self.count

    def describe(self):
        d = dict(self.spec)
        d.update(id=self.id, seen=self.seen, hits=self.hits)
        return d


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []
        self._next = 1
        self._rng = random.Random()

    def add(self, spec):
        with self._lock:
            f = Fault("f%d" % self._next, spec)
            self._next += 1
            self._faults.append(f)
            return f

    def clear(self):
        with self._lock:
            self._faults = []

    def list(self):
        with self._lock:
            return [f.describe() for f in self._faults]

    def pick(self, service, operation, record_level=False):
        """The fault that hits this request, or None (counts it).
        record_level selects the faults services consult themselves
        (record_failure_rate, empty_page) or the others (asked by the
        server)."""
        if not self._faults:
            return None
        with self._lock:
            for f in self._faults:
                if f.service_level != record_level:
                    continue
                if not f.matches(service, operation) or f.exhausted():
                    continue
                f.seen += 1
                if f.seen <= f.skip:
                    continue
                if f.probability < 1 and self._rng.random() >= f.probability:
                    continue
                f.hits += 1
                return f
        return None

    def record_failures(self, service, operation):
        """For per-record failures: (rate, error code, message) or None."""
        f = self.pick(service, operation, record_level=True)
        if f is None or f.record_failure_rate is None:
            return None
        return f.record_failure_rate, f.record_error_code, f.record_error_message

    def empty_page(self, service, operation):
        """True if this call should answer an empty page (GetRecords)."""
        f = self.pick(service, operation, record_level=True)
        return f is not None and f.empty_page

    def random(self):
        return self._rng.random()
