"""Client for the AWS emulator's control endpoint (test/emulator/README.md).

The control endpoint lives beside the AWS services on the emulator's port,
under /_emulator/.  Only tests, benchmarks and the quickstart use it; the
product never does.
"""
import json
import os
import urllib.request

import boto3
import botocore.config


class Emulator:
    def __init__(self, url=None):
        self.url = (url or os.environ["AUDIT_FDW_EMULATOR_URL"]).rstrip("/")

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_emulator/" + path, data=data,
                                     method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            text = resp.read()
        return json.loads(text) if text else None

    # faults: see test/emulator/README.md for the fields of a fault
    def add_fault(self, **fault):
        return self._call("POST", "faults", fault)

    def clear_faults(self):
        return self._call("DELETE", "faults")

    def faults(self):
        """The faults in place, each with how many requests it hit so far
        (counted as a request arrives, before its latency_ms)."""
        return self._call("GET", "faults")

    def fault_hits(self):
        return sum(f["hits"] for f in self.faults())

    def advance_clock(self, seconds):
        return self._call("POST", "clock/advance", {"seconds": seconds})

    def now(self):
        """The emulator's clock (epoch seconds): the wall clock plus every advance."""
        return self._call("GET", "clock")["now"]

    def split_shard(self, stream_arn, shard_id=None, children=2):
        """Closes a shard (every open shard if shard_id is None) and opens
        its children: 2 (a split) or 1 (a rollover)."""
        body = {"stream_arn": stream_arn, "children": children}
        if shard_id:
            body["shard_id"] = shard_id
        return self._call("POST", "streams/split", body)

    def flush_firehose(self, delivery_stream=None):
        body = {} if delivery_stream is None else {"delivery_stream": delivery_stream}
        return self._call("POST", "firehose/flush", body)

    def requests(self, service=None, operation=None, since=None):
        """The logged requests, oldest first; since (a mark()) keeps those
        made after it.  The log keeps the last request_log_size of each
        operation: count new requests with since, never with len()."""
        q = []
        if service:
            q.append("service=" + service)
        if operation:
            q.append("operation=" + operation)
        if since is not None:
            q.append("since=%d" % since)
        return self._call("GET", "requests" + ("?" + "&".join(q) if q else ""))

    def mark(self):
        """A point in the request log, for requests(since=...)."""
        return self._call("GET", "requests/mark")["seq"]

    def configure(self, **settings):
        return self._call("POST", "config", settings)

    def reset(self):
        return self._call("POST", "reset", {})

    def client(self, service, **kw):
        """A boto3 client (the real AWS SDK) pointed at the emulator."""
        return boto3.client(
            service, region_name=kw.pop("region_name", "us-east-1"),
            endpoint_url=self.url,
            aws_access_key_id=kw.pop("aws_access_key_id", "test"),
            aws_secret_access_key=kw.pop("aws_secret_access_key", "test"),
            aws_session_token=kw.pop("aws_session_token", None),
            config=botocore.config.Config(
                retries={"max_attempts": 0},
                s3={"addressing_style": "path"}, **kw))
