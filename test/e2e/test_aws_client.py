"""The AWS client core against the emulator: signed calls, retries with
backoff on throttling and 5xx, AWS errors as PostgreSQL errors, requests in
flight interrupted by statement_timeout and pg_cancel_backend, streamed S3
reads with bounded memory, connection reuse."""
import os
import re
import threading
import time

import psycopg2
import psycopg2.errors
import pytest

from aws_fixtures import create_server, emulator_url, free_port
from pump_env import wait_for

SERVER = "aws_core_emu"


@pytest.fixture
def server(db, emulator):
    emulator.clear_faults()
    with db.cursor() as cur:
        create_server(cur, SERVER, emulator_url())
    yield SERVER
    emulator.clear_faults()


def count_requests(emulator, service, operation, since):
    return len(emulator.requests(service=service, operation=operation, since=since))


def test_identity_through_sts(db, server):
    with db.cursor() as cur:
        cur.execute("SELECT source, access_key_id, account, arn FROM audit_fdw.aws_identity(%s)",
                    (server,))
        source, akid, account, arn = cur.fetchone()
    assert source == "user mapping"
    assert akid == "test"
    assert account == "000000000000"
    assert arn.startswith("arn:aws:iam::000000000000:")


def test_throttled_call_is_retried_then_succeeds(db, server, emulator):
    before = emulator.mark()
    emulator.add_fault(service="sts", operation="GetCallerIdentity",
                       error="Throttling", status=400, count=3)
    with db.cursor() as cur:
        cur.execute("SELECT arn FROM audit_fdw.aws_identity(%s)", (server,))
        assert cur.fetchone()[0].startswith("arn:aws:")
    # three throttled attempts and the one that succeeded
    assert count_requests(emulator, "sts", "GetCallerIdentity", before) == 4


def test_5xx_is_retried(db, server, emulator):
    emulator.add_fault(service="sts", operation="GetCallerIdentity",
                       error="InternalFailure", status=500, count=2)
    with db.cursor() as cur:
        cur.execute("SELECT arn FROM audit_fdw.aws_identity(%s)", (server,))
        assert cur.fetchone()[0].startswith("arn:aws:")


def test_dropped_connection_is_retried(db, server, emulator):
    emulator.add_fault(service="sts", operation="GetCallerIdentity",
                       drop_connection=True, count=1)
    with db.cursor() as cur:
        cur.execute("SELECT arn FROM audit_fdw.aws_identity(%s)", (server,))
        assert cur.fetchone()[0].startswith("arn:aws:")


def backend_descriptors(pid):
    """What each of the backend's file descriptors is (its /proc link; a
    socket or pipe by its kind, not its inode)."""
    fds = "/proc/%d/fd" % pid
    return sorted(re.sub(r"^(socket|pipe):\[\d+\]$", r"\1", os.readlink(os.path.join(fds, fd)))
                  for fd in os.listdir(fds))


def test_a_backends_descriptors_stay_flat_across_calls_and_dropped_connections(
        db, server, emulator):
    """curl's sockets are watched in one epoll set for the backend's life:
    calls, and connections dropped and opened again, leave no descriptor
    behind (a socket curl keeps for reuse aside)."""
    with db.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        cur.execute("SELECT arn FROM audit_fdw.aws_identity(%s)", (server,))
        before = backend_descriptors(pid)
        for n in range(40):
            if n % 10 == 0:
                emulator.add_fault(service="sts", operation="GetCallerIdentity",
                                   drop_connection=True, count=1)
            cur.execute("SELECT arn FROM audit_fdw.aws_identity(%s)", (server,))
            assert cur.fetchone()[0].startswith("arn:aws:")
        after = backend_descriptors(pid)
    assert before == after


def test_retries_are_bounded_in_attempts(db, server, emulator):
    before = emulator.mark()
    emulator.add_fault(service="sts", operation="GetCallerIdentity",
                       error="Throttling", status=400)
    with db.cursor() as cur:
        cur.execute("SET audit_fdw.aws_max_retries = 2")
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute("SELECT arn FROM audit_fdw.aws_identity(%s)", (server,))
        cur.execute("RESET audit_fdw.aws_max_retries")
    e = exc.value
    assert e.pgcode == "53000"
    assert e.diag.message_primary == "aws sts GetCallerIdentity failed: Throttling"
    assert "made 3 times" in e.diag.message_hint
    assert count_requests(emulator, "sts", "GetCallerIdentity", before) == 3


def test_retries_are_bounded_in_time(db, server, emulator):
    emulator.add_fault(service="sts", operation="GetCallerIdentity",
                       error="Throttling", status=400)
    with db.cursor() as cur:
        cur.execute("SET audit_fdw.aws_max_retries = 100")
        cur.execute("SET audit_fdw.aws_max_retry_time = '1s'")
        cur.execute("SET audit_fdw.aws_retry_base_delay = '100ms'")
        start = time.monotonic()
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute("SELECT arn FROM audit_fdw.aws_identity(%s)", (server,))
        elapsed = time.monotonic() - start
        cur.execute("RESET ALL")
    assert exc.value.pgcode == "53000"
    # a second of retrying, then the last attempt's answer (with room for
    # a slow machine's requests); 100 retries would take minutes
    assert elapsed < 1.0 + 2.0, elapsed


def test_non_retryable_error_has_code_message_and_request_id(db, server, emulator):
    before = emulator.mark()
    with db.cursor() as cur:
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute("SELECT audit_fdw.s3_get_object(%s, 's3://no-such-bucket-core/k')",
                        (server,))
    e = exc.value
    assert e.pgcode == "42704"     # undefined_object
    assert e.diag.message_primary == "aws s3 GetObject failed: NoSuchBucket"
    assert "HTTP status 404" in e.diag.message_detail
    assert "request id " in e.diag.message_detail
    rid = e.diag.message_detail.split("request id ")[1].rstrip(".")
    assert len(rid) >= 8 and rid != "(none)"
    assert "AWS s3 GetObject request" in e.diag.context
    # not retried
    assert count_requests(emulator, "s3", "GetObject", before) == 1


def test_bad_secret_is_an_authorization_error(db, emulator):
    with db.cursor() as cur:
        create_server(cur, "aws_core_badkey", emulator_url(), keys=("test", "wrong"))
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute("SELECT arn FROM audit_fdw.aws_identity('aws_core_badkey')")
        cur.execute("DROP SERVER aws_core_badkey CASCADE")
    assert exc.value.pgcode == "28000"
    assert exc.value.diag.message_primary == \
        "aws sts GetCallerIdentity failed: SignatureDoesNotMatch"
    # the secret never shows
    assert "wrong" not in str(exc.value)


def test_connection_refused_is_a_connection_failure(db):
    from aws_fixtures import free_port
    with db.cursor() as cur:
        create_server(cur, "aws_core_refused", "http://127.0.0.1:%d" % free_port())
        cur.execute("SET audit_fdw.aws_max_retries = 1")
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute("SELECT arn FROM audit_fdw.aws_identity('aws_core_refused')")
        cur.execute("RESET audit_fdw.aws_max_retries")
        cur.execute("DROP SERVER aws_core_refused CASCADE")
    assert exc.value.pgcode == "08006"
    assert exc.value.diag.message_primary == \
        "aws sts GetCallerIdentity failed: NetworkError"


def test_statement_timeout_interrupts_request_in_flight(db, server, emulator):
    emulator.add_fault(service="sts", operation="GetCallerIdentity",
                       latency_ms=10000, count=1)
    with db.cursor() as cur:
        cur.execute("SET statement_timeout = '300ms'")
        start = time.monotonic()
        with pytest.raises(psycopg2.errors.QueryCanceled) as exc:
            cur.execute("SELECT arn FROM audit_fdw.aws_identity(%s)", (server,))
        elapsed = time.monotonic() - start
        cur.execute("RESET statement_timeout")
    assert "statement timeout" in str(exc.value)
    # within a second of the timeout
    assert elapsed < 0.3 + 1.0, elapsed
    # the backend is usable afterwards
    with db.cursor() as cur:
        cur.execute("SELECT arn FROM audit_fdw.aws_identity(%s)", (server,))
        assert cur.fetchone()[0].startswith("arn:aws:")


def test_cancel_interrupts_request_in_flight(db, server, emulator):
    emulator.add_fault(service="sts", operation="GetCallerIdentity",
                       latency_ms=10000, count=1)
    with db.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    result = {}

    def run():
        start = time.monotonic()
        try:
            with db.cursor() as cur:
                cur.execute("SELECT arn FROM audit_fdw.aws_identity(%s)", (server,))
        except psycopg2.Error as e:
            result["error"] = e
        result["end"] = time.monotonic()
        result["start"] = start

    t = threading.Thread(target=run)
    t.start()
    # the request reached the emulator, which holds it for 10 s
    wait_for("the request in flight", emulator.fault_hits, timeout=30, interval=0.05)
    import conftest
    other = conftest.connect()
    with other.cursor() as cur:
        # the wait shows in pg_stat_activity, without the request's secrets
        cur.execute("SELECT wait_event_type, wait_event, query FROM pg_stat_activity "
                    "WHERE pid = %s", (pid,))
        wait_type, wait_event, query = cur.fetchone()
        assert (wait_type, wait_event) == ("Extension", "Extension")
        assert "aws_identity" in query
        cur.execute("SELECT pg_cancel_backend(%s)", (pid,))
        cancel_at = time.monotonic()
    other.close()
    t.join(10)
    assert isinstance(result.get("error"), psycopg2.errors.QueryCanceled)
    assert result["end"] - cancel_at < 1.0


def test_backoff_wait_is_interruptible(db, server, emulator):
    emulator.add_fault(service="sts", operation="GetCallerIdentity",
                       error="Throttling", status=400)
    with db.cursor() as cur:
        cur.execute("SET audit_fdw.aws_max_retries = 100")
        cur.execute("SET audit_fdw.aws_max_retry_time = '60s'")
        cur.execute("SET audit_fdw.aws_retry_base_delay = '5s'")
        cur.execute("SET statement_timeout = '1s'")
        start = time.monotonic()
        with pytest.raises(psycopg2.errors.QueryCanceled):
            cur.execute("SELECT arn FROM audit_fdw.aws_identity(%s)", (server,))
        elapsed = time.monotonic() - start
        cur.execute("RESET ALL")
    # within a second of the timeout, not after the 5 s backoff
    assert elapsed < 1.0 + 1.0, elapsed


def test_s3_stream_reads_large_object(db, server, emulator):
    s3 = emulator.client("s3")
    try:
        s3.create_bucket(Bucket="core-stream")
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    # larger than the stream buffer many times over, with every byte value
    data = bytes(range(256)) * (12 * 1024) + b"tail"
    s3.put_object(Bucket="core-stream", Key="dir/big object+1.bin", Body=data)
    with db.cursor() as cur:
        cur.execute("SELECT audit_fdw.s3_get_object(%s, 's3://core-stream/dir/big object+1.bin')",
                    (server,))
        got = bytes(cur.fetchone()[0])
    assert len(got) == len(data)
    assert got == data


def test_s3_missing_key(db, server, emulator):
    s3 = emulator.client("s3")
    try:
        s3.create_bucket(Bucket="core-stream")
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    with db.cursor() as cur:
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute("SELECT audit_fdw.s3_get_object(%s, 's3://core-stream/nope')", (server,))
    assert exc.value.pgcode == "42704"
    assert exc.value.diag.message_primary == "aws s3 GetObject failed: NoSuchKey"


def test_functions_need_grants(db, server):
    with db.cursor() as cur:
        cur.execute("SELECT has_function_privilege('public', "
                    "'audit_fdw.aws_request(name, text, text, jsonb)', 'EXECUTE')")
        assert cur.fetchone()[0] is False
        cur.execute("SELECT has_function_privilege('public', "
                    "'audit_fdw.s3_get_object(name, text)', 'EXECUTE')")
        assert cur.fetchone()[0] is False


def test_verify_tls_is_superuser_only(db):
    with db.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS aws_core_plain")
        cur.execute("CREATE ROLE aws_core_plain")
        cur.execute("SET ROLE aws_core_plain")
        try:
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("SET audit_fdw.aws_verify_tls = off")
        finally:
            cur.execute("RESET ROLE")
            cur.execute("DROP ROLE aws_core_plain")


CALLER_IDENTITY_XML = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    b"<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/reuse</Arn>"
    b"<UserId>AIDAREUSE</UserId><Account>123456789012</Account></GetCallerIdentityResult>"
    b"<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
    b"</GetCallerIdentityResponse>")


def test_connection_is_reused_within_a_backend(db):
    from aws_fixtures import LocalServer

    def handler(method, path, headers, body):
        assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=test/")
        return 200, {"Content-Type": "text/xml", "x-amzn-RequestId": "r-1"}, \
            CALLER_IDENTITY_XML

    server = LocalServer(handler)
    try:
        with db.cursor() as cur:
            create_server(cur, "aws_core_reuse", server.url)
            for _ in range(5):
                cur.execute("SELECT account, arn FROM audit_fdw.aws_identity('aws_core_reuse')")
                assert cur.fetchone() == ("123456789012", "arn:aws:iam::123456789012:user/reuse")
            cur.execute("DROP SERVER aws_core_reuse CASCADE")
    finally:
        server.close()
    assert len(server.client_ports) == 5
    assert len(set(server.client_ports)) == 1


def test_tls_is_verified(db):
    from aws_fixtures import LocalServer, self_signed_certificate

    cert, key = self_signed_certificate()
    server = LocalServer(lambda m, p, h, b: (200, {"Content-Type": "text/xml"},
                                             CALLER_IDENTITY_XML), tls=(cert, key))
    try:
        with db.cursor() as cur:
            create_server(cur, "aws_core_tls", server.url)
            # a certificate no CA vouches for is refused, and not retried
            with pytest.raises(psycopg2.Error) as exc:
                cur.execute("SELECT arn FROM audit_fdw.aws_identity('aws_core_tls')")
            assert exc.value.pgcode == "HV00N"
            assert exc.value.diag.message_primary == \
                "aws sts GetCallerIdentity failed: NetworkError"
            assert "certificate" in exc.value.diag.message_detail.lower()
            assert server.requests == []
            # trusted through audit_fdw.aws_ca_file
            cur.execute("SET audit_fdw.aws_ca_file = %s", (cert,))
            cur.execute("SELECT arn FROM audit_fdw.aws_identity('aws_core_tls')")
            assert cur.fetchone()[0] == "arn:aws:iam::123456789012:user/reuse"
            cur.execute("RESET audit_fdw.aws_ca_file")
            # or with verification off (superuser only)
            cur.execute("SET audit_fdw.aws_verify_tls = off")
            cur.execute("SELECT arn FROM audit_fdw.aws_identity('aws_core_tls')")
            assert cur.fetchone()[0] == "arn:aws:iam::123456789012:user/reuse"
            cur.execute("RESET audit_fdw.aws_verify_tls")
            cur.execute("DROP SERVER aws_core_tls CASCADE")
    finally:
        server.close()
        import shutil
        shutil.rmtree(os.path.dirname(cert), ignore_errors=True)
    assert len(server.requests) == 2


def test_json_call_signed_and_retried_against_emulator(db, server, emulator):
    """Glue speaks AWS JSON 1.1; the emulator checks the signature with botocore."""
    before = emulator.mark()
    emulator.add_fault(service="glue", operation="GetDatabases",
                       error="ThrottlingException", status=400, count=2)
    with db.cursor() as cur:
        cur.execute("SELECT audit_fdw.aws_request(%s, 'glue', 'GetDatabases', '{}')", (server,))
        out = cur.fetchone()[0]
    assert isinstance(out.get("DatabaseList"), list)
    assert count_requests(emulator, "glue", "GetDatabases", before) == 3


def test_json_error_from_emulator(db, server):
    with db.cursor() as cur:
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute("SELECT audit_fdw.aws_request(%s, 'glue', 'GetTable', "
                        "'{\"DatabaseName\": \"no_such_db_core\", \"Name\": \"t\"}')", (server,))
    e = exc.value
    assert e.pgcode == "HV00R"
    assert e.diag.message_primary == "aws glue GetTable failed: EntityNotFoundException"
    assert "request id " in e.diag.message_detail


def test_terminate_ends_request_in_flight(server, emulator):
    import conftest
    emulator.add_fault(service="sts", operation="GetCallerIdentity",
                       latency_ms=10000, count=1)
    victim = conftest.connect()
    with victim.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    result = {}

    def run():
        try:
            with victim.cursor() as cur:
                cur.execute("SELECT arn FROM audit_fdw.aws_identity(%s)", (server,))
        except psycopg2.Error as e:
            result["error"] = e
        result["end"] = time.monotonic()

    t = threading.Thread(target=run)
    t.start()
    wait_for("the request in flight", emulator.fault_hits, timeout=30, interval=0.05)
    other = conftest.connect()
    with other.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        sent = time.monotonic()
        # the backend is gone well within a second
        deadline = time.monotonic() + 1.0
        gone = False
        while time.monotonic() < deadline:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
            if cur.fetchone()[0] == 0:
                gone = True
                break
            time.sleep(0.02)
    other.close()
    t.join(10)
    victim.close()
    assert gone
    assert "error" in result and result["end"] - sent < 1.0


class BreakingS3:
    """An S3 GetObject endpoint whose first response breaks off in the middle
    of the body; it honours Range and If-Match afterwards."""

    def __init__(self, data, etag='"v1"', honour_range=True):
        import http.server
        import socket
        outer = self
        self.data = data
        self.etag = etag
        self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self):
                outer.seen.append({k.lower(): v for k, v in self.headers.items()})
                rng = self.headers.get("Range")
                if rng is None or not honour_range:
                    self.send_response(200)
                    self.send_header("ETag", outer.etag)
                    self.send_header("Content-Length", str(len(outer.data)))
                    self.end_headers()
                    if len(outer.seen) == 1:
                        self.wfile.write(outer.data[:len(outer.data) // 3])
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    self.wfile.write(outer.data)
                    return
                if self.headers.get("If-Match") != outer.etag:
                    self.send_response(412)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = int(rng.split("=")[1].rstrip("-"))
                body = outer.data[start:]
                self.send_response(206)
                self.send_header("ETag", outer.etag)
                self.send_header("Content-Range", "bytes %d-%d/%d" % (
                    start, len(outer.data) - 1, len(outer.data)))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_stream_resumes_where_the_body_broke(db):
    data = bytes((i * 7 + i // 251) % 256 for i in range(2 * 1024 * 1024))
    s3 = BreakingS3(data)
    try:
        with db.cursor() as cur:
            create_server(cur, "aws_core_break", s3.url)
            cur.execute("SELECT audit_fdw.s3_get_object('aws_core_break', 's3://b/k')")
            got = bytes(cur.fetchone()[0])
            cur.execute("DROP SERVER aws_core_break CASCADE")
    finally:
        s3.close()
    assert got == data
    assert len(s3.seen) == 2
    assert "range" not in s3.seen[0]
    start = int(s3.seen[1]["range"].split("=")[1].rstrip("-"))
    assert 0 < start <= len(data) // 3
    assert s3.seen[1]["if-match"] == '"v1"'


def test_stream_not_resumed_without_range_support(db):
    data = b"x" * (1024 * 1024)
    s3 = BreakingS3(data, honour_range=False)
    try:
        with db.cursor() as cur:
            create_server(cur, "aws_core_break", s3.url)
            with pytest.raises(psycopg2.Error) as exc:
                cur.execute("SELECT audit_fdw.s3_get_object('aws_core_break', 's3://b/k')")
            cur.execute("DROP SERVER aws_core_break CASCADE")
    finally:
        s3.close()
    assert exc.value.pgcode == "08006"
    assert "could not be asked for" in exc.value.diag.message_primary


def test_s3_put_head_get_list(db, server, emulator):
    s3 = emulator.client("s3")
    try:
        s3.create_bucket(Bucket="core-objects")
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    key = "orders/2024/01/15/16/a key+with é & ?=.json"
    uri = "s3://core-objects/" + key
    with db.cursor() as cur:
        cur.execute("SELECT audit_fdw.s3_put_object(%s, %s, %s)",
                    (server, uri, psycopg2.Binary(b'{"a": 1}\n')))
        cur.execute("SELECT audit_fdw.s3_object_size(%s, %s)", (server, uri))
        assert cur.fetchone()[0] == 9
        cur.execute("SELECT audit_fdw.s3_object_size(%s, 's3://core-objects/none')", (server,))
        assert cur.fetchone()[0] is None
        cur.execute("SELECT audit_fdw.s3_get_object(%s, %s)", (server, uri))
        assert bytes(cur.fetchone()[0]) == b'{"a": 1}\n'
    # what boto3 sees is what was written, under the same key
    assert s3.get_object(Bucket="core-objects", Key=key)["Body"].read() == b'{"a": 1}\n'


def test_s3_list_objects_follows_pages(db, server, emulator):
    import uuid
    bucket = "core-list-" + uuid.uuid4().hex[:12]
    emulator.client("s3").create_bucket(Bucket=bucket)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM (SELECT audit_fdw.s3_put_object(%s, "
                    "%s || lpad(i::text, 5, '0'), "
                    "convert_to(repeat('x', i %% 7), 'UTF8')) "
                    "FROM generate_series(1, 1010) i) s", (server, "s3://%s/p/" % bucket))
        assert cur.fetchone()[0] == 1010
        cur.execute("SELECT audit_fdw.s3_put_object(%s, %s, '')",
                    (server, "s3://%s/other" % bucket))
        cur.execute("SELECT key, size, last_modified IS NOT NULL, etag "
                    "FROM audit_fdw.s3_list_objects(%s, %s)", (server, "s3://%s/p/" % bucket))
        rows = cur.fetchall()
        cur.execute("SELECT count(*) FROM audit_fdw.s3_list_objects(%s, %s)",
                    (server, "s3://%s/" % bucket))
        assert cur.fetchone()[0] == 1011
    assert len(rows) == 1010
    assert [r[0] for r in rows] == ["p/%05d" % i for i in range(1, 1011)]
    assert all(r[1] == i % 7 for i, r in zip(range(1, 1011), rows))
    assert all(r[2] for r in rows)
    assert all(r[3].startswith('"') for r in rows)
    # more than one page was asked for
    calls = emulator.requests(service="s3", operation="ListObjectsV2")
    assert any("ContinuationToken" in c["input"] for c in calls[-3:])


def test_clock_skew_is_corrected_from_the_date_header(db):
    """A server whose clock is an hour behind AWS's: the first request is
    refused as too skewed, the next is signed with AWS's time and passes."""
    import email.utils
    import http.server
    ahead = 3600
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def date_time_string(self, timestamp=None):
            return email.utils.formatdate(time.time() + ahead, usegmt=True)

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            amz_date = self.headers["X-Amz-Date"]
            signed = time.mktime(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")) - time.timezone
            seen.append(signed)
            if abs(signed - (time.time() + ahead)) > 300:
                body = (b"<ErrorResponse><Error><Type>Sender</Type><Code>RequestExpired</Code>"
                        b"<Message>Request has expired.</Message></Error>"
                        b"<RequestId>skew-1</RequestId></ErrorResponse>")
                self.send_response(400)
            else:
                body = CALLER_IDENTITY_XML
                self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        with db.cursor() as cur:
            create_server(cur, "aws_core_skew", "http://127.0.0.1:%d" % srv.server_address[1])
            cur.execute("SELECT arn FROM audit_fdw.aws_identity('aws_core_skew')")
            assert cur.fetchone()[0] == "arn:aws:iam::123456789012:user/reuse"
            # the offset is kept for the backend's later requests
            cur.execute("SELECT arn FROM audit_fdw.aws_identity('aws_core_skew')")
            cur.execute("DROP SERVER aws_core_skew CASCADE")
    finally:
        srv.shutdown()
        srv.server_close()
    assert len(seen) == 3
    assert abs(seen[0] - time.time()) < 60
    assert abs(seen[1] - (time.time() + ahead)) < 60
    assert abs(seen[2] - (time.time() + ahead)) < 60


def hint_of(db, server_sql, query, params):
    with db.cursor() as cur:
        cur.execute(server_sql)
        cur.execute("SET audit_fdw.aws_max_retries = 1")
        cur.execute("SET audit_fdw.aws_retry_base_delay = '1ms'")
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute(query, params)
    db.rollback()
    return exc.value


def test_unknown_region_hints_at_the_region_not_retries(db, emulator):
    """A region that has no endpoint (a typo of us-east-1) fails on DNS:
    the hint names the region option, not the retry settings."""
    with db.cursor() as cur:
        create_server(cur, "aws_typo_region", emulator_url(), region="us-est-1")
        cur.execute("ALTER SERVER aws_typo_region OPTIONS (DROP endpoint)")
    db.commit()
    e = hint_of(db, "SELECT 1", "SELECT * FROM audit_fdw.aws_identity(%s)", ("aws_typo_region",))
    assert e.pgcode == "08006", e.pgerror
    hint = e.diag.message_hint
    assert 'region "us-est-1" of server "aws_typo_region" does not resolve' in hint, hint
    assert "region option" in hint and "aws_max_retries" not in hint, hint


def test_refused_endpoint_hints_at_the_endpoint(db, emulator):
    refused = "http://127.0.0.1:%d" % free_port()
    with db.cursor() as cur:
        create_server(cur, "aws_refused", refused)
    db.commit()
    e = hint_of(db, "SELECT 1", "SELECT * FROM audit_fdw.aws_identity(%s)", ("aws_refused",))
    assert e.pgcode == "08006", e.pgerror
    hint = e.diag.message_hint
    assert 'endpoint "%s" of server "aws_refused" refuses the connection' % refused in hint, hint
    assert "endpoint option" in hint and "aws_max_retries" not in hint, hint


def test_bad_credentials_hint_names_the_server(db, emulator):
    """The hint's aws_identity() call can be pasted as it is."""
    with db.cursor() as cur:
        create_server(cur, "aws_bad keys", emulator_url(), keys=("test", "wrong secret"))
    db.commit()
    e = hint_of(db, "SELECT 1", "SELECT * FROM audit_fdw.aws_identity(%s)", ("aws_bad keys",))
    assert e.pgcode == "28000", e.pgerror
    assert ("SELECT * FROM audit_fdw.aws_identity('aws_bad keys') shows which ones are used"
            in e.diag.message_hint), e.diag.message_hint
