"""The HTTP front: one loopback port for every service.

Routing:
  - /_emulator/...                 the control endpoint (control.py), no signature
  - X-Amz-Target: <prefix>.<Op>    JSON services, by the model's targetPrefix
                                   (DynamoDB, DynamoDB Streams, Firehose, Glue, Athena)
  - form POST with Action=<Op>     query services (STS), by credential scope
  - anything else                  S3, path-style, by the model's HTTP bindings

Every request is authenticated with SigV4, recomputed with botocore's signer
(SigV4Auth, S3SigV4Auth for S3) over the request as received, against the
emulator's credentials or temporary ones issued by STS (whose session token
must come along and which expire by the emulator clock).  Operations whose
model says `authtype: none` (AssumeRoleWithWebIdentity) are not signed.
Then faults apply, the input is parsed and validated against the model, the
service runs, and the output or error is written in the protocol's shape
with the request id header (x-amzn-RequestId; S3: x-amz-request-id).
HTTP/1.1 keep-alive; one thread a connection.
"""
import calendar
import hashlib
import http.server
import json
import re
import select
import socket
import socketserver
import struct
import sys
import time
import traceback
import uuid
import zlib
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.session

from . import control
from .core import AwsError, RequestContext, s3_not_implemented, set_request_context
from .protocols import (InputChecker, JsonOutput, RestRoute, query_input,
                        rest_input, rest_output_headers, xml_escape, xml_members)

_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request\s*,\s*"
    r"SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-f]+)")

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"

# query parameters and headers of any S3 request that no operation's input
# binds: signing (also of presigned URLs), SDK bookkeeping, the x-id the SDKs
# add to tell operations apart, and the aws-chunked framing
_S3_IGNORED_QUERY = frozenset((
    "x-id", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
    "x-amz-signedheaders", "x-amz-signature", "x-amz-security-token",
    "awsaccesskeyid", "signature", "expires"))
_S3_IGNORED_HEADERS = frozenset((
    "x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "x-amz-user-agent",
    "x-amz-decoded-content-length", "x-amz-trailer"))


class DroppedConnection(Exception):
    pass


class ServiceBinding:
    """A service instance with its botocore model and protocol machinery."""

    def __init__(self, service, model):
        self.service = service
        self.model = model
        self.name = service.name
        self.protocol = model.protocol
        self.signing_name = model.signing_name
        self.target_prefix = model.metadata.get("targetPrefix")
        self.json_version = model.metadata.get("jsonVersion", "1.0")
        self.xmlns = model.metadata.get("xmlNamespace")
        self._ops = {}
        unchecked = getattr(service, "unchecked_max", {})
        self.checkers = {}
        for op_name in model.operation_names:
            if callable(getattr(service, op_name, None)):
                self._ops[op_name] = model.operation_model(op_name)
        for op_name in self._ops:
            self.checkers[op_name] = InputChecker(
                wire_strings=self.protocol in ("query", "rest-xml"),
                validation_code="ValidationError" if self.protocol == "query"
                else "ValidationException",
                unchecked_max=unchecked.get(op_name, ()))
        self.routes = []
        self.query_literals = frozenset()
        if self.protocol == "rest-xml":
            lits = set()
            for name in model.operation_names:
                uri = model.operation_model(name).http.get("requestUri", "")
                for part in uri.partition("?")[2].split("&"):
                    if part:
                        lits.add(part.partition("=")[0])
            self.query_literals = frozenset(lits)
            self.routes = sorted((RestRoute(op) for op in self._ops.values()),
                                 key=lambda r: r.rank, reverse=True)
        self.json_output = JsonOutput()

    def operation(self, name):
        return self._ops.get(name)

    def known_operation(self, name):
        return name in self.model.operation_names

    def error_type(self, code):
        if self.protocol == "json" and self.json_version == "1.0":
            return "com.amazonaws.%s.v%s#%s" % (
                self.signing_name, self.model.api_version.replace("-", ""), code)
        return code


class Request:
    """What the handler learned about a request on its way through."""

    def __init__(self):
        self.request_id = str(uuid.uuid4())
        self.binding = None
        self.operation = None
        self.params = None
        self.status = None
        self.error = None
        self.access_key = None
        self.started = None
        self.entry = None          # its request log entry, once logged
        self.region = None
        self.big = False


class Router:
    def __init__(self, emu, service_classes):
        self.emu = emu
        session = botocore.session.get_session()
        self.bindings = {}
        self.by_target = {}
        self.query_services = {}
        for name, svc in emu.services.items():
            b = ServiceBinding(svc, session.get_service_model(name))
            self.bindings[name] = b
            if b.target_prefix:
                self.by_target[b.target_prefix] = b
            if b.protocol == "query":
                self.query_services[b.signing_name] = b
        self.s3 = self.bindings.get("s3")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: with Nagle's algorithm the body
    # waits for the client's delayed ACK (40 ms) on every kept-alive request
    disable_nagle_algorithm = True
    server_version = "AmazonAWS"
    sys_version = ""
    router = None       # set by make_server
    # no Nagle delay (and _send writes a response in one write): a small
    # response on a kept-alive connection must not wait for the client's
    # delayed ACK (40 ms a request)
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    # ---- plumbing

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body, headers):
        self._log(getattr(self, "_req", None))
        if isinstance(body, str):
            body = body.encode("utf-8")
        reason = self.responses.get(status, ("",))[0]
        lines = ["HTTP/1.1 %d %s" % (status, reason)]
        has_length = False
        for k, v in headers.items():
            if k.lower() == "content-length":
                has_length = True
            lines.append("%s: %s" % (k, v))
        if not has_length:
            lines.append("Content-Length: %d" % len(body))
        lines.append("Date: " + self.date_time_string())
        if self.close_connection:
            lines.append("Connection: close")
        shape = self._shape
        self._shape = None
        if shape is not None and shape.content_length is not None:
            # a length that is not the body's: the framing is broken, so the
            # connection is closed after this response
            lines = [ln for ln in lines if not ln.lower().startswith("content-length:")]
            lines.insert(1, "Content-Length: %d" % shape.content_length)
            if not self.close_connection:
                self.close_connection = True
                lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        cut = shape.truncate_body if shape is not None else None
        if cut is not None and self.command != "HEAD":
            # a response whose body breaks off: all the headers, part of the
            # body, then a reset
            self.wfile.write(head + body[:cut])
            raise DroppedConnection()
        if (shape is not None and shape.stall_after_bytes is not None
                and self.command != "HEAD"):
            # part of the body, then silence until stall_ms passed or the
            # client hung up, then the rest
            n = shape.stall_after_bytes
            self.wfile.write(head + body[:n])
            self.wfile.flush()
            ready, _, _ = select.select([self.connection], [], [], shape.stall_ms / 1000.0)
            if ready:
                raise DroppedConnection()
            self.wfile.write(body[n:])
            self.log_request(status)
            return
        pace = getattr(self, "_pace", None)
        self._pace = None
        if self.command != "HEAD" and body and pace:
            self.wfile.write(head)
            self._write_paced(body, pace)
        elif self.command != "HEAD" and body:
            self.wfile.write(head + body)
        else:
            self.wfile.write(head)
        self.log_request(status)

    def _write_paced(self, body, rate):
        """body at no more than rate bytes a second (64 KiB writes)."""
        view = memoryview(body)
        start = time.monotonic()
        for i in range(0, len(body), 65536):
            piece = view[i:i + 65536]
            self.wfile.write(piece)
            ahead = (i + len(piece)) / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)

    def _drop(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    # ---- the request

    def _handle(self):
        self._shape = None
        self._pace = None
        raw_path, _, raw_query = self.path.partition("?")
        body = self._read_body()
        if raw_path.startswith("/_emulator/") or raw_path == "/_emulator":
            status, out = control.handle(self.router.emu, self.command,
                                         raw_path[len("/_emulator/"):], raw_query, body)
            self._send(status, json.dumps(out, default=control.json_default),
                       {"Content-Type": "application/json"})
            return
        req = Request()
        req.started = time.time()
        self._req = req
        try:
            self._dispatch(req, raw_path, raw_query, body)
        except DroppedConnection:
            req.status = 0
            self._drop()
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True
        finally:
            self._req = None
            self._log(req)

    def _log(self, req):
        """The request into the request log: first as its answer is about to
        be sent (a client holding the answer finds the request logged), then
        its final status (0: the connection broke) when the handler is done."""
        if req is None or req.binding is None or req.operation is None:
            return
        if req.entry is not None:
            req.entry.update(status=req.status, error=req.error)
            return
        req.entry = {
            "service": req.binding.name, "operation": req.operation,
            "time": req.started, "status": req.status, "error": req.error,
            "request_id": req.request_id,
            "input": _summarize(req.params) if req.big else req.params}
        self.router.emu.log_request(req.entry)

    def _dispatch(self, req, raw_path, raw_query, body):
        router = self.router
        target = self.headers.get("X-Amz-Target")
        ctype = (self.headers.get("Content-Type") or "").lower()
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        if target:
            prefix, _, op_name = target.rpartition(".")
            b = router.by_target.get(prefix)
            if b is None:
                return self._json_error_raw(req, 400, "UnknownOperationException", None)
            req.binding = b
            req.operation = op_name
            return self._run(req, raw_path, query, body)
        if (self.command == "POST" and raw_path == "/"
                and ctype.startswith("application/x-www-form-urlencoded")):
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            if "Action" in form:
                scope = _AUTH_RE.search(self.headers.get("Authorization") or "")
                svc_name = scope.group(4) if scope else "sts"
                b = router.query_services.get(svc_name) or router.query_services.get("sts")
                if b is None:
                    return self._json_error_raw(req, 400, "UnknownOperationException", None)
                req.binding = b
                req.operation = form["Action"]
                req.form = form
                return self._run(req, raw_path, query, body)
        b = router.s3
        req.binding = b
        method = self.command
        for route in b.routes:
            labels = route.match(method, raw_path, query, b.query_literals, self.headers)
            if labels is not None:
                unbound = route.unbound(query, self.headers, _S3_IGNORED_QUERY,
                                        _S3_IGNORED_HEADERS)
                if unbound:
                    # AWS would act on these: never run the operation without
                    # them (an S3-to-S3 copy is not an upload of an empty body)
                    req.operation = None
                    return self._error(req, s3_not_implemented(", ".join(sorted(unbound))))
                req.operation = route.op.name
                req.labels = labels
                return self._run(req, raw_path, query, body)
        req.operation = None
        return self._error(req, s3_not_implemented())

    def _run(self, req, raw_path, query, body):
        b = req.binding
        op = b.operation(req.operation)
        if op is None:
            if b.known_operation(req.operation):
                msg = "The operation %s is not supported by this emulator" % req.operation
            else:
                msg = None
            name = req.operation
            req.operation = None if msg is None else name
            if b.protocol == "rest-xml":
                return self._error(req, AwsError("NotImplemented", msg or "not implemented",
                                                 status=501))
            code = "UnknownOperationException" if b.protocol == "json" else "InvalidAction"
            return self._error(req, AwsError(code, msg or "", status=400))
        emu = self.router.emu
        try:
            if (op.auth_type != "none"
                    and req.operation not in b.service.unsigned_operations):
                self._authenticate(req, b, raw_path, body)
            fault = emu.faults.pick(b.name, req.operation)
            if fault is not None:
                if fault.latency_ms:
                    time.sleep(fault.latency_ms / 1000.0)
                if fault.when == "before" and (not fault.shapes_response()
                                               or fault.body is not None):
                    self._apply_fault(req, fault)
            params = self._parse(req, b, op, query, body)
            req.params = params
            req.big = len(body) > 65536
            method = getattr(b.service, req.operation)
            set_request_context(RequestContext(req.access_key, req.region,
                                               req.request_id))
            if b.service.concurrent:
                out = method(params)
            else:
                with b.service.lock:
                    out = method(params)
            if fault is not None and fault.shapes_response() and fault.body is None:
                self._shape = fault
            elif fault is not None and fault.when == "after":
                self._apply_fault(req, fault)
        except AwsError as e:
            return self._error(req, e)
        except DroppedConnection:
            raise
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            return self._error(req, AwsError("InternalFailure" if b.protocol != "rest-xml"
                                             else "InternalError",
                                             "internal error: %s" % e, status=500,
                                             sender_fault=False))
        req.status = 200
        self._output(req, b, op, out or {})

    def _apply_fault(self, req, fault):
        if fault.drop_connection:
            raise DroppedConnection()
        if fault.body is not None:
            status = fault.status or 200
            req.status = status
            req.error = "fault-body"
            ctype = fault.content_type or (
                "application/xml" if req.binding.protocol in ("rest-xml", "query")
                else "application/x-amz-json-%s" % req.binding.json_version)
            headers = {"Content-Type": ctype, "x-amzn-RequestId": req.request_id,
                       "x-amz-request-id": req.request_id}
            headers.update(fault.headers)
            if fault.shapes_response():
                self._shape = fault
            self._send(status, fault.raw_body(), headers)
            raise _Responded()
        if fault.error:
            raise AwsError(fault.error, fault.message or "injected fault: %s" % fault.error,
                           status=fault.status or 400, sender_fault=(fault.status or 400) < 500)

    # ---- authentication

    def _auth_error(self, b, kind, message=None):
        if b.protocol == "rest-xml":
            code, status, msg = {
                "missing": ("AccessDenied", 403, "Access Denied"),
                "unknown": ("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided "
                            "does not exist in our records."),
                "signature": ("SignatureDoesNotMatch", 403, "The request signature we "
                              "calculated does not match the signature you provided. Check "
                              "your key and signing method."),
                "token": ("InvalidToken", 400, "The provided token is malformed or "
                          "otherwise invalid."),
                "expired": ("ExpiredToken", 400, "The provided token has expired."),
                "payload": ("XAmzContentSHA256Mismatch", 400, "The provided "
                            "'x-amz-content-sha256' header does not match what was computed."),
                "malformed": ("AuthorizationHeaderMalformed", 400, "The authorization "
                              "header is malformed."),
                "skew": ("RequestTimeTooSkewed", 403, "The difference between the request "
                         "time and the current time is too large."),
            }[kind]
        elif b.protocol == "query":
            code, status, msg = {
                "missing": ("MissingAuthenticationToken", 403, "Request is missing "
                            "Authentication Token"),
                "unknown": ("InvalidClientTokenId", 403, "The security token included in "
                            "the request is invalid."),
                "signature": ("SignatureDoesNotMatch", 403, "The request signature we "
                              "calculated does not match the signature you provided. Check "
                              "your AWS Secret Access Key and signing method. Consult the "
                              "service documentation for details."),
                "token": ("InvalidClientTokenId", 403, "The security token included in the "
                          "request is invalid."),
                "expired": ("ExpiredToken", 400, "The security token included in the "
                            "request is expired"),
                "malformed": ("IncompleteSignature", 400, "Authorization header requires "
                              "'Credential', 'Signature' and 'SignedHeaders' parameters."),
                "skew": ("SignatureDoesNotMatch", 403, ""),
            }[kind]
        else:
            code, status, msg = {
                "missing": ("MissingAuthenticationTokenException", 400, "Missing "
                            "Authentication Token"),
                "unknown": ("UnrecognizedClientException", 400, "The security token "
                            "included in the request is invalid."),
                "signature": ("InvalidSignatureException", 400, "The request signature we "
                              "calculated does not match the signature you provided. Check "
                              "your AWS Secret Access Key and signing method. Consult the "
                              "service documentation for details."),
                "token": ("UnrecognizedClientException", 400, "The security token included "
                          "in the request is invalid."),
                "expired": ("ExpiredTokenException", 400, "The security token included in "
                            "the request is expired"),
                "malformed": ("IncompleteSignatureException", 400, "Authorization header "
                              "requires 'Credential', 'Signature' and 'SignedHeaders' "
                              "parameters."),
                "skew": ("InvalidSignatureException", 400, ""),
            }[kind]
        if kind == "skew" and b.protocol == "rest-xml":
            message = None
        return AwsError(code, message or msg, status=status)

    def _signed_headers(self, b, signed):
        """The request's headers that SignedHeaders names (host among them)."""
        signed_names = signed.split(";")
        if "host" not in signed_names:
            raise self._auth_error(b, "signature")
        headers = botocore.awsrequest.HTTPHeaders()
        for name in signed_names:
            values = self.headers.get_all(name)
            if values is None:
                raise self._auth_error(b, "signature")
            for v in values:
                headers[name] = v
        return headers

    def _authenticate(self, req, b, raw_path, body):
        authz = self.headers.get("Authorization")
        if not authz and b.protocol == "rest-xml":
            query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            if "X-Amz-Signature" in query or "Signature" in query:
                return self._authenticate_presigned(req, b, raw_path, query)
        if not authz:
            raise self._auth_error(b, "missing")
        m = _AUTH_RE.match(authz.strip())
        if not m:
            raise self._auth_error(b, "malformed")
        akid, date, region, scope_service, signed, signature = m.groups()
        emu = self.router.emu
        creds = emu.credentials(akid)
        if creds is None:
            raise self._auth_error(b, "unknown")
        if creds.session_token is not None:
            token = self.headers.get("X-Amz-Security-Token")
            if token != creds.session_token:
                raise self._auth_error(b, "token")
            if creds.expires is not None and emu.clock.now() >= creds.expires:
                raise self._auth_error(b, "expired")
        if scope_service != b.signing_name:
            raise self._auth_error(
                b, "signature", "Credential should be scoped to correct service: '%s'. "
                % b.signing_name)
        amz_date = self.headers.get("X-Amz-Date")
        if not amz_date or amz_date[:8] != date:
            raise self._auth_error(
                b, "signature", "Date in Credential scope does not match YYYYMMDD from "
                "ISO-8601 version of date from HTTP: '%s' != '%s'" % (date, amz_date))
        try:
            signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            raise self._auth_error(b, "malformed")
        skew = float(emu.config.get("signature_max_skew_seconds", 900))
        wall = time.time()
        if abs(wall - signed_at) > skew:
            raise self._auth_error(b, "skew", "Signature expired: %s is now earlier than %s "
                                   "(%s - %d min.)" % (
                                       amz_date,
                                       time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(wall - skew)),
                                       time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(wall)),
                                       skew // 60)
                                   if signed_at < wall else
                                   "Signature not yet current: %s is still later than %s "
                                   "(%s + %d min.)" % (
                                       amz_date,
                                       time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(wall + skew)),
                                       time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(wall)),
                                       skew // 60))
        headers = self._signed_headers(b, signed)
        # the canonical URI and query as AWS computes them: decoded, then
        # encoded per the SigV4 rules
        query_pairs = parse_qsl(urlsplit(self.path).query, keep_blank_values=True)
        if b.protocol == "rest-xml":
            path = quote(unquote(raw_path), safe="/~")
            auth_cls = botocore.auth.S3SigV4Auth
            content_sha = self.headers.get("X-Amz-Content-SHA256")
            if content_sha is None:
                raise self._auth_error(b, "signature", "Missing required header for this "
                                       "request: x-amz-content-sha256")
            if (content_sha not in ("UNSIGNED-PAYLOAD",)
                    and not content_sha.startswith("STREAMING-")
                    and content_sha != hashlib.sha256(body).hexdigest()):
                raise self._auth_error(b, "payload")
        else:
            path = raw_path
            auth_cls = botocore.auth.SigV4Auth
        url = "http://%s%s" % (headers.get("host", "localhost"), path)
        areq = botocore.awsrequest.AWSRequest(method=self.command, url=url, data=body,
                                              headers=headers)
        areq.params = query_pairs
        areq.context["timestamp"] = amz_date
        signer = auth_cls(botocore.credentials.Credentials(creds.access_key,
                                                           creds.secret_key),
                          scope_service, region)
        canonical = signer.canonical_request(areq)
        expected = signer.signature(signer.string_to_sign(areq, canonical), areq)
        if expected != signature:
            raise self._auth_error(b, "signature")
        req.access_key = akid
        req.region = region

    def _presigned_credentials(self, b, akid, token):
        emu = self.router.emu
        creds = emu.credentials(akid)
        if creds is None:
            raise self._auth_error(b, "unknown")
        if creds.session_token is not None:
            if token != creds.session_token:
                raise self._auth_error(b, "token")
            if creds.expires is not None and emu.clock.now() >= creds.expires:
                raise self._auth_error(b, "expired")
        return creds

    def _authenticate_presigned(self, req, b, raw_path, query):
        """S3 presigned URLs: query-string SigV4 (X-Amz-*), recomputed with
        botocore's S3SigV4QueryAuth, or the legacy query-string signature
        (AWSAccessKeyId, Signature, Expires) with HmacV1QueryAuth's rules."""
        expired = AwsError("AccessDenied", "Request has expired", status=403)
        if "X-Amz-Signature" not in query:
            try:
                expires = int(query.get("Expires", ""))
            except ValueError:
                raise self._auth_error(b, "missing")
            creds = self._presigned_credentials(b, query.get("AWSAccessKeyId"),
                                                query.get("x-amz-security-token"))
            headers = botocore.awsrequest.HTTPHeaders()
            for name, value in self.headers.items():
                lk = name.lower()
                if lk.startswith("x-amz-") or lk in ("content-md5", "content-type"):
                    headers[lk] = value
            for name, value in query.items():
                if name.lower().startswith("x-amz-"):
                    headers[name.lower()] = value
            signer = botocore.auth.HmacV1Auth(botocore.credentials.Credentials(
                creds.access_key, creds.secret_key))
            # the string to sign carries Expires where a header request has Date
            signer._get_date = lambda: str(expires)
            expected = signer.get_signature(self.command, urlsplit(self.path), headers)
            if expected != query.get("Signature"):
                raise self._auth_error(b, "signature")
            if time.time() > expires:
                raise expired
            req.access_key = creds.access_key
            return
        if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            raise AwsError("AuthorizationQueryParametersError", "X-Amz-Algorithm only "
                           "supports \"AWS4-HMAC-SHA256\"", status=400)
        cred = query.get("X-Amz-Credential", "").split("/")
        amz_date = query.get("X-Amz-Date", "")
        if len(cred) != 5 or cred[4] != "aws4_request" or cred[1] != amz_date[:8]:
            raise self._auth_error(b, "malformed")
        akid, _, region, scope_service, _ = cred
        creds = self._presigned_credentials(b, akid, query.get("X-Amz-Security-Token"))
        if scope_service != b.signing_name:
            raise self._auth_error(b, "signature")
        try:
            signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
            lifetime = int(query.get("X-Amz-Expires", ""))
        except ValueError:
            raise self._auth_error(b, "malformed")
        if not 1 <= lifetime <= 604800:
            raise AwsError("AuthorizationQueryParametersError", "X-Amz-Expires must be "
                           "less than a week (in seconds) that is 604800", status=400)
        headers = self._signed_headers(b, query.get("X-Amz-SignedHeaders", ""))
        url = "http://%s%s" % (headers.get("host", "localhost"),
                               quote(unquote(raw_path), safe="/~"))
        areq = botocore.awsrequest.AWSRequest(method=self.command, url=url, headers=headers)
        areq.params = [(k, v) for k, v in parse_qsl(urlsplit(self.path).query,
                                                     keep_blank_values=True)
                       if k != "X-Amz-Signature"]
        areq.context["timestamp"] = amz_date
        signer = botocore.auth.S3SigV4QueryAuth(
            botocore.credentials.Credentials(creds.access_key, creds.secret_key),
            scope_service, region, expires=lifetime)
        canonical = signer.canonical_request(areq)
        expected = signer.signature(signer.string_to_sign(areq, canonical), areq)
        if expected != query["X-Amz-Signature"]:
            raise self._auth_error(b, "signature")
        if time.time() > signed_at + lifetime:
            raise expired
        req.access_key = akid
        req.region = region

    # ---- input

    def _parse(self, req, b, op, query, body):
        checker = b.checkers[req.operation]
        shape = op.input_shape
        if b.protocol == "json":
            if not body.strip():
                raw = {}
            else:
                try:
                    raw = json.loads(body)
                except ValueError as e:
                    raise AwsError("SerializationException",
                                   "Start of structure or map found where not expected"
                                   if body[:1] != b"{" else "malformed JSON: %s" % e)
            if shape is None:
                return {}
            out = checker.check(shape, raw)
            # members newer than the installed botocore model that the
            # service reads itself (DynamoDB Streams' ShardFilter)
            for name in getattr(b.service, "newer_members", {}).get(req.operation, ()):
                if isinstance(raw, dict) and raw.get(name) is not None:
                    out[name] = raw[name]
            return out
        if b.protocol == "query":
            if shape is None:
                return {}
            return checker.check(shape, query_input(shape, req.form))
        if shape is None:
            return {}
        raw = rest_input(shape, req.labels, query, self.headers, body)
        return checker.check(shape, raw)

    # ---- output

    def _output(self, req, b, op, out):
        headers = {"x-amzn-RequestId": req.request_id}
        shape = op.output_shape
        if b.protocol == "json":
            text = b.json_output.dumps(shape, out).encode("utf-8")
            headers["Content-Type"] = "application/x-amz-json-%s" % b.json_version
            if b.name in ("dynamodb", "dynamodbstreams"):
                headers["x-amz-crc32"] = str(zlib.crc32(text) & 0xffffffff)
            self._send(200, text, headers)
            return
        if b.protocol == "query":
            parts = ['<%sResponse xmlns="%s">' % (req.operation, b.xmlns)]
            if shape is not None:
                wrapper = op.metadata.get("resultWrapper") or \
                    op.output_shape.serialization.get("resultWrapper") or \
                    "%sResult" % req.operation
                parts.append("<%s>" % wrapper)
                xml_members(shape, out, parts)
                parts.append("</%s>" % wrapper)
            parts.append("<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>"
                         % req.request_id)
            parts.append("</%sResponse>" % req.operation)
            headers["Content-Type"] = "text/xml"
            self._send(200, "".join(parts), headers)
            return
        # rest-xml
        headers = {"x-amz-request-id": req.request_id,
                   "x-amz-id-2": req.request_id.replace("-", "")}
        forced = out.pop("_status", None)
        raw_xml = out.pop("_xml", None)
        if raw_xml is not None:
            # a body whose shape the model does not describe (GetBucketLocation)
            headers["Content-Type"] = "application/xml"
            self._send(forced or 200, raw_xml, headers)
            return
        status, h = rest_output_headers(shape, out)
        headers.update(h)
        status = forced or status or 200
        req.status = status
        payload = shape.serialization.get("payload") if shape is not None else None
        if payload:
            data = out.get(payload, b"")
            if isinstance(data, str):
                data = data.encode("utf-8")
            if shape.members[payload].type_name == "structure":
                parts = ['<?xml version="1.0" encoding="UTF-8"?>\n']
                root = shape.members[payload].serialization.get("name", payload)
                parts.append('<%s xmlns="%s">' % (root, S3_NS))
                xml_members(shape.members[payload], data, parts)
                parts.append("</%s>" % root)
                data = "".join(parts).encode("utf-8")
                headers.setdefault("Content-Type", "application/xml")
            if self.command == "HEAD":
                headers.setdefault("Content-Length", str(len(data)))
            else:
                headers["Content-Length"] = str(len(data))
            if req.operation == "GetObject":
                self._pace = float(self.router.emu.config.get(
                    "s3_connection_bytes_per_second") or 0)
            self._send(status, data, headers)
            return
        body_members = [k for k in (shape.members if shape is not None else {})
                        if not shape.members[k].serialization.get("location")]
        if body_members and any(out.get(k) is not None for k in body_members):
            root = getattr(b.service, "xml_roots", {}).get(req.operation,
                                                          req.operation + "Result")
            parts = ['<?xml version="1.0" encoding="UTF-8"?>\n',
                     '<%s xmlns="%s">' % (root, S3_NS)]
            xml_members(shape, {k: v for k, v in out.items() if k in body_members}, parts)
            parts.append("</%s>" % root)
            headers["Content-Type"] = "application/xml"
            self._send(status, "".join(parts), headers)
            return
        if self.command == "HEAD" and "Content-Length" not in headers:
            headers["Content-Length"] = "0"
        self._send(status, b"", headers)

    # ---- errors

    def _json_error_raw(self, req, status, code, message):
        body = {"__type": code}
        if message is not None:
            body["message"] = message
        req.status = status
        req.error = code
        self._send(status, json.dumps(body), {
            "Content-Type": "application/x-amz-json-1.0",
            "x-amzn-RequestId": req.request_id, "x-amzn-ErrorType": code})

    def _error(self, req, err):
        if isinstance(err, _Responded):
            return
        b = req.binding
        req.status = err.status
        req.error = err.code
        if b.protocol == "json":
            body = {"__type": b.error_type(err.code), "message": err.message}
            body.update(err.extra)
            text = json.dumps(body)
            headers = {"Content-Type": "application/x-amz-json-%s" % b.json_version,
                       "x-amzn-RequestId": req.request_id,
                       "x-amzn-ErrorType": err.code}
            if b.name in ("dynamodb", "dynamodbstreams"):
                headers["x-amz-crc32"] = str(zlib.crc32(text.encode()) & 0xffffffff)
            self._send(err.status, text, headers)
        elif b.protocol == "query":
            text = ('<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code>'
                    '<Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>'
                    % (b.xmlns, "Sender" if err.sender_fault else "Receiver",
                       xml_escape(err.code), xml_escape(err.message), req.request_id))
            self._send(err.status, text, {"Content-Type": "text/xml",
                                          "x-amzn-RequestId": req.request_id})
        else:
            extra = "".join("<%s>%s</%s>" % (k, xml_escape(str(v)), k)
                            for k, v in err.extra.items())
            text = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
                    '<Message>%s</Message>%s<RequestId>%s</RequestId><HostId>%s</HostId>'
                    '</Error>' % (xml_escape(err.code), xml_escape(err.message), extra,
                                  req.request_id, req.request_id.replace("-", "")))
            self._send(err.status, text, {"Content-Type": "application/xml",
                                          "x-amz-request-id": req.request_id,
                                          "x-amz-id-2": req.request_id.replace("-", "")})


class _Responded(AwsError):
    """Raised after a fault already wrote the response."""

    def __init__(self):
        super().__init__("Responded", "", 0)


def _summarize(value):
    """The input as logged for big requests: blobs replaced by their size."""
    t = type(value)
    if t is dict:
        return {k: (_summarize(v) if type(v) in (dict, list, bytes) else v)
                for k, v in value.items()}
    if t is list:
        return [_summarize(v) if type(v) in (dict, list, bytes) else v for v in value]
    if t is bytes:
        return {"size": len(value)}
    return value


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # a client that goes away (a cancelled query, a killed backend) is
        # not an emulator error
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def make_server(emu, host, port, service_classes):
    router = Router(emu, service_classes)
    # an idle kept-alive connection is closed after this, as AWS does
    handler = type("BoundHandler", (Handler,), {
        "router": router, "timeout": float(emu.config.get("idle_timeout_seconds", 120))})
    return Server((host, port), handler)
