"""The emulator object: configuration, clock, credentials, faults, the
request log and the service instances, shared by the server, the control
endpoint and every service (services receive it as `emu`).

Attributes a service may use:
  emu.clock        core.Clock (now(), utcnow(), advance())
  emu.config       dict of settings (see DEFAULT_CONFIG; POST /_emulator/config
                   updates it at run time, so read it when needed, not once)
  emu.data_dir     the --data-dir folder (S3 objects live under data_dir/s3)
  emu.engine_dsn   --engine-dsn (libpq DSN for the Athena engine) or None
  emu.s3           the S3 service (object storage methods)
  emu.faults       faults.Faults (record_failures() for per-record faults)
  emu.service(n)   the service instance by botocore name
  emu.region       default region name for ARNs ("us-east-1")
  emu.account_id   the account id used in ARNs ("000000000000")
"""
import collections
import itertools
import os
import secrets
import sys
import threading
import time
import traceback

from . import ddb_expr
from .core import Clock
from .faults import Faults

DEFAULT_CONFIG = {
    # Athena: the least time a query takes from start to a final state
    "athena_min_query_ms": 0,
    # Athena: queries that run at once; the others stay QUEUED
    "athena_max_concurrent_queries": 4,
    # DynamoDB Streams: emulator-clock seconds after which an open shard is
    # closed and gets a child (AWS rolls shards over about every 4 hours);
    # 0 disables the timer.
    "shard_rollover_seconds": 4 * 3600,
    # DynamoDB Streams: records older than this are trimmed
    "stream_retention_seconds": 24 * 3600,
    # DynamoDB Streams: shard iterators expire after this
    "iterator_ttl_seconds": 15 * 60,
    # DynamoDB Streams: GetRecords calls a shard takes a second before
    # LimitExceededException (0: no limit)
    "getrecords_per_shard_per_second": 0,
    # how many partitions (open shards) a new stream starts with
    "stream_initial_shards": 1,
    # Firehose: emulator-clock seconds a new delivery stream is described as
    # CREATING before ACTIVE (AWS takes a minute or so); 0: ACTIVE at once
    "firehose_creating_seconds": 0,
    # STS: default lifetime of temporary credentials
    "sts_default_duration_seconds": 3600,
    # signatures older or newer than this (by wall time) are refused
    "signature_max_skew_seconds": 900,
    # S3: the most bytes a second one connection carries of a GetObject body
    # (one HTTP stream from S3 gives tens of MB/s); 0: no cap
    "s3_connection_bytes_per_second": 0,
    # kept-alive connections idle this long are closed (read at start)
    "idle_timeout_seconds": 120,
    # requests kept for GET /_emulator/requests, per service and operation
    "request_log_size": 2000,
    # DynamoDB: seconds of unused read capacity a provisioned table keeps
    # as burst (DynamoDB keeps up to 300); at least one second is kept
    "dynamodb_burst_seconds": 300,
}


class Credentials:
    __slots__ = ("access_key", "secret_key", "session_token", "expires", "arn")

    def __init__(self, access_key, secret_key, session_token=None, expires=None,
                 arn=None):
        self.access_key = access_key
        self.secret_key = secret_key
        self.session_token = session_token
        self.expires = expires
        self.arn = arn


class Emulator:
    def __init__(self, data_dir, access_key_id="test", secret_access_key="test",
                 engine_dsn=None, config=None, service_classes=()):
        self.data_dir = os.path.abspath(data_dir)
        os.makedirs(self.data_dir, exist_ok=True)
        self.engine_dsn = engine_dsn
        self.region = "us-east-1"
        self.account_id = "000000000000"
        self.clock = Clock()
        self.faults = Faults()
        self._startup_config = dict(DEFAULT_CONFIG)
        self._startup_config.update(config or {})
        self.config = dict(self._startup_config)
        self._root_credentials = Credentials(
            access_key_id, secret_access_key,
            arn="arn:aws:iam::%s:root" % self.account_id)
        self._credentials = {access_key_id: self._root_credentials}
        self._cred_lock = threading.Lock()
        # one log per service and operation, so that a busy operation does
        # not push another's requests out; entries are numbered in arrival
        # order ("seq")
        self._requests = {}
        self._request_seq = itertools.count(1)
        self._services = {}
        for cls in service_classes:
            self._services[cls.name] = cls(self)
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="tick", daemon=True)

    # ---- services

    def service(self, name):
        return self._services[name]

    @property
    def services(self):
        return dict(self._services)

    @property
    def s3(self):
        return self._services["s3"]

    # ---- credentials

    def credentials(self, access_key):
        return self._credentials.get(access_key)

    def issue_credentials(self, arn, duration_seconds):
        """Temporary credentials (STS): accepted for signing until they expire
        by the emulator clock, and only with their session token."""
        access_key = "ASIA" + secrets.token_hex(8).upper()
        creds = Credentials(access_key, secrets.token_urlsafe(30),
                            session_token=secrets.token_urlsafe(96),
                            expires=self.clock.now() + duration_seconds, arn=arn)
        with self._cred_lock:
            self._credentials[access_key] = creds
        return creds

    # ---- the request log

    def log_request(self, entry):
        key = (entry["service"], entry["operation"])
        log = self._requests.get(key)
        if log is None:
            log = self._requests.setdefault(
                key, collections.deque(maxlen=int(self.config["request_log_size"])))
        entry["seq"] = next(self._request_seq)
        log.append(entry)

    def recent_requests(self, service=None, operation=None, since=0):
        """The logged requests (the last request_log_size of each service
        and operation) whose seq is over since, oldest first."""
        out = []
        for (svc, op), log in list(self._requests.items()):
            if (service is None or svc == service) and (operation is None or op == operation):
                out.extend(e for e in list(log) if e["seq"] > since)
        out.sort(key=lambda e: e["seq"])
        return out

    def request_mark(self):
        """The seq of the last request logged (0: none yet): requests after
        it are those with a greater seq, however many the log forgot."""
        return max((log[-1]["seq"] for log in list(self._requests.values()) if log), default=0)

    # ---- control

    def configure(self, settings):
        self.config.update(settings)
        # a fault setting: items nested deeper than DynamoDB takes, to make the
        # stream records a hostile endpoint could send
        ddb_expr.MAX_DEPTH = int(self.config.get("dynamodb_max_nesting", 32))
        if "request_log_size" in settings:
            n = int(settings["request_log_size"])
            for key, log in list(self._requests.items()):
                self._requests[key] = collections.deque(log, maxlen=n)
        return dict(self.config)

    def reset(self):
        """Forget everything: services' state, faults, clock advances,
        request log, temporary credentials, run-time configuration."""
        self.faults.clear()
        self.clock.reset()
        self.config.clear()
        self.config.update(self._startup_config)
        ddb_expr.MAX_DEPTH = int(self.config.get("dynamodb_max_nesting", 32))
        self._requests.clear()
        with self._cred_lock:
            self._credentials = {self._root_credentials.access_key: self._root_credentials}
        for svc in self._services.values():
            with svc.lock:
                svc.reset()

    # ---- timers

    def start(self):
        self._ticker.start()

    def _tick_loop(self):
        while not self._stop.wait(0.1):
            now = self.clock.now()
            for svc in list(self._services.values()):
                try:
                    with svc.lock:
                        svc.tick(now)
                except Exception:
                    traceback.print_exc(file=sys.stderr)

    def close(self):
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join(timeout=5)
        for svc in self._services.values():
            try:
                svc.close()
            except Exception:
                traceback.print_exc(file=sys.stderr)


def now_ms():
    return int(time.time() * 1000)
