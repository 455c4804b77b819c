"""Firehose: DirectPut delivery streams into S3.

CreateDeliveryStream (ExtendedS3DestinationConfiguration or
S3DestinationConfiguration: BucketARN, Prefix, ErrorOutputPrefix,
BufferingHints, CompressionFormat UNCOMPRESSED or GZIP), DescribeDeliveryStream,
ListDeliveryStreams, DeleteDeliveryStream, PutRecord, PutRecordBatch.

Records are buffered per stream and written to S3 when the buffer reaches
SizeInMBs or when its oldest record is IntervalInSeconds old (by the
emulator clock), or on POST /_emulator/firehose/flush.  An object holds the
records concatenated exactly as they were put (Firehose adds no delimiter)
and is named as Firehose names it:

    <Prefix>YYYY/MM/dd/HH/<stream>-<version>-YYYY-MM-dd-HH-mm-ss-<uuid>

in UTC, from the arrival time of the oldest record in the object.  A Prefix
with !{timestamp:...} / !{firehose:random-string} expressions is evaluated
instead of the YYYY/MM/dd/HH/ default.  If the bucket does not exist, the
data stays buffered and delivery is retried (Firehose retries for a day).

PutRecordBatch limits: 500 records (model), 1,000 KiB a record (model),
4 MiB a call.  A fault with record_failure_rate makes each record fail with
that probability: FailedPutCount counts them and RequestResponses carries,
in request order, a RecordId for each success and ErrorCode/ErrorMessage
for each failure; failed records are not delivered.
"""
import datetime
import gzip
import os
import re
import secrets
import sys
import uuid

from .core import AwsError, Service

MAX_BATCH_BYTES = 4 * 1024 * 1024
_EXPR_RE = re.compile(r"!\{([a-z]+):([^}]*)\}")
_JAVA_FMT = [("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"),
             ("ss", "%S")]


def _java_strftime(fmt, dt):
    out = fmt
    for java, py in _JAVA_FMT:
        out = out.replace(java, dt.strftime(py))
    return out


class DeliveryStream:
    def __init__(self, name, arn, dest, kind, created):
        self.name = name
        self.arn = arn
        self.kind = kind
        self.created = created
        self.dest = dest                    # the destination configuration as given
        self.extended = True
        m = re.match(r"^arn:aws[a-z-]*:s3:::([^/]+)$", dest["BucketARN"])
        if not m:
            raise AwsError("InvalidArgumentException", "BucketARN %s is not a valid S3 "
                           "bucket ARN" % dest["BucketARN"])
        self.bucket = m.group(1)
        self.prefix = dest.get("Prefix") or ""
        self.error_prefix = dest.get("ErrorOutputPrefix") or ""
        hints = dest.get("BufferingHints") or {}
        self.size_bytes = int(hints.get("SizeInMBs", 5)) * 1024 * 1024
        self.interval = int(hints.get("IntervalInSeconds", 300))
        self.compression = dest.get("CompressionFormat", "UNCOMPRESSED")
        self.buffer = []
        self.buffered = 0
        self.first_arrival = None
        self.delivered = []                 # keys written
        self.retry_at = 0.0                 # next delivery attempt (missing bucket)

    def description(self):
        hints = {"SizeInMBs": self.size_bytes // (1024 * 1024),
                 "IntervalInSeconds": self.interval}
        s3 = {"RoleARN": self.dest["RoleARN"], "BucketARN": self.dest["BucketARN"],
              "BufferingHints": hints, "CompressionFormat": self.compression,
              "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"}}
        if self.prefix:
            s3["Prefix"] = self.prefix
        if self.error_prefix:
            s3["ErrorOutputPrefix"] = self.error_prefix
        ext = dict(s3)
        ext["S3BackupMode"] = "Disabled"
        return {
            "DeliveryStreamName": self.name, "DeliveryStreamARN": self.arn,
            "DeliveryStreamStatus": "ACTIVE", "DeliveryStreamType": self.kind,
            "VersionId": "1", "CreateTimestamp": self.created,
            "Destinations": [{"DestinationId": "destinationId-000000000001",
                              "S3DestinationDescription": s3,
                              "ExtendedS3DestinationDescription": ext}],
            "HasMoreDestinations": False,
        }


class Firehose(Service):
    name = "firehose"

    def __init__(self, emu):
        super().__init__(emu)
        self.streams = {}

    def _stream(self, name):
        s = self.streams.get(name)
        if s is None:
            raise AwsError("ResourceNotFoundException", "Firehose %s under account %s not "
                           "found." % (name, self.emu.account_id))
        return s

    # ---- delivery

    def _object_key(self, s, arrival):
        dt = datetime.datetime.fromtimestamp(arrival, datetime.timezone.utc)
        if _EXPR_RE.search(s.prefix):
            def expand(m):
                if m.group(1) == "timestamp":
                    return _java_strftime(m.group(2), dt)
                if m.group(1) == "firehose" and m.group(2) == "random-string":
                    return secrets.token_hex(6)
                return m.group(0)
            prefix = _EXPR_RE.sub(expand, s.prefix)
        else:
            prefix = s.prefix + dt.strftime("%Y/%m/%d/%H/")
        name = "%s-1-%s-%s" % (s.name, dt.strftime("%Y-%m-%d-%H-%M-%S"), uuid.uuid4())
        if s.compression == "GZIP":
            name += ".gz"
        return prefix + name

    def _deliver(self, s):
        if not s.buffer:
            return None
        if not self.emu.s3.bucket_exists(s.bucket):
            if s.retry_at == 0.0:
                print("firehose %s: bucket %s does not exist; delivery will be retried"
                      % (s.name, s.bucket), file=sys.stderr)
            s.retry_at = self.emu.clock.now() + 5
            return None
        s.retry_at = 0.0
        data = b"".join(s.buffer)
        if s.compression == "GZIP":
            data = gzip.compress(data)
        key = self._object_key(s, s.first_arrival)
        self.emu.s3.put_object(s.bucket, key, data, "application/octet-stream")
        s.buffer, s.buffered, s.first_arrival = [], 0, None
        s.delivered.append(key)
        return key

    def flush(self, name=None):
        """Writes the buffers out now (control endpoint); the keys written."""
        if name is not None:
            targets = [self._stream(name)]
        else:
            targets = list(self.streams.values())
        keys = []
        for s in targets:
            k = self._deliver(s)
            if k:
                keys.append(k)
        return keys

    def tick(self, now):
        for s in self.streams.values():
            if s.buffer and now - s.first_arrival >= s.interval and now >= s.retry_at:
                self._deliver(s)

    def _add(self, s, data, now):
        if s.first_arrival is None:
            s.first_arrival = now
        s.buffer.append(data)
        s.buffered += len(data)

    # ---- operations

    def CreateDeliveryStream(self, p):
        name = p["DeliveryStreamName"]
        if name in self.streams:
            raise AwsError("ResourceInUseException", "Firehose %s under accountId %s already "
                           "exists" % (name, self.emu.account_id))
        kind = p.get("DeliveryStreamType", "DirectPut")
        if kind != "DirectPut":
            raise AwsError("InvalidArgumentException", "DeliveryStreamType %s is not "
                           "supported by this emulator (DirectPut only)" % kind)
        dest = p.get("ExtendedS3DestinationConfiguration") or p.get("S3DestinationConfiguration")
        others = [k for k in p if k.endswith("DestinationConfiguration") and
                  k not in ("ExtendedS3DestinationConfiguration", "S3DestinationConfiguration")]
        if dest is None or others:
            raise AwsError("InvalidArgumentException", "Exactly one S3 destination "
                           "configuration (ExtendedS3DestinationConfiguration) is required")
        if dest.get("CompressionFormat", "UNCOMPRESSED") not in ("UNCOMPRESSED", "GZIP"):
            raise AwsError("InvalidArgumentException", "CompressionFormat %s is not supported "
                           "by this emulator (UNCOMPRESSED, GZIP)" % dest["CompressionFormat"])
        if _EXPR_RE.search(dest.get("Prefix") or "") and not dest.get("ErrorOutputPrefix"):
            raise AwsError("InvalidArgumentException", "ErrorOutputPrefix cannot be null or "
                           "empty when Prefix contains expressions")
        arn = "arn:aws:firehose:%s:%s:deliverystream/%s" % (self.emu.region,
                                                           self.emu.account_id, name)
        self.streams[name] = DeliveryStream(name, arn, dest, kind, self.emu.clock.now())
        return {"DeliveryStreamARN": arn}

    def DescribeDeliveryStream(self, p):
        s = self._stream(p["DeliveryStreamName"])
        description = s.description()
        creating = float(self.emu.config.get("firehose_creating_seconds", 0))
        if self.emu.clock.now() < s.created + creating:
            description["DeliveryStreamStatus"] = "CREATING"
        return {"DeliveryStreamDescription": description}

    def ListDeliveryStreams(self, p):
        names = sorted(self.streams)
        start = p.get("ExclusiveStartDeliveryStreamName")
        if start:
            names = [n for n in names if n > start]
        limit = p.get("Limit", 10)
        return {"DeliveryStreamNames": names[:limit],
                "HasMoreDeliveryStreams": len(names) > limit}

    def DeleteDeliveryStream(self, p):
        s = self._stream(p["DeliveryStreamName"])
        self._deliver(s)
        del self.streams[s.name]
        return {}

    def PutRecord(self, p):
        s = self._stream(p["DeliveryStreamName"])
        data = p["Record"]["Data"]
        fail = self.emu.faults.record_failures(self.name, "PutRecord")
        if fail and self.emu.faults.random() < fail[0]:
            raise AwsError(fail[1], fail[2], status=503 if fail[1].startswith("Service")
                           else 400, sender_fault=False)
        now = self.emu.clock.now()
        self._add(s, data, now)
        if s.buffered >= s.size_bytes:
            self._deliver(s)
        return {"RecordId": secrets.token_hex(56), "Encrypted": False}

    def PutRecordBatch(self, p):
        s = self._stream(p["DeliveryStreamName"])
        records = p["Records"]
        total = 0
        for r in records:
            total += len(r["Data"])
        if total > MAX_BATCH_BYTES:
            raise AwsError("InvalidArgumentException", "Records size exceeds 4 MiB limit")
        fail = self.emu.faults.record_failures(self.name, "PutRecordBatch")
        now = self.emu.clock.now()
        responses = []
        failed = 0
        rand = self.emu.faults.random
        ids = os.urandom(56 * len(records)).hex()      # one RecordId a record
        for i, r in enumerate(records):
            if fail and rand() < fail[0]:
                failed += 1
                responses.append({"ErrorCode": fail[1], "ErrorMessage": fail[2]})
                continue
            self._add(s, r["Data"], now)
            responses.append({"RecordId": ids[i * 112:(i + 1) * 112]})
        if s.buffered >= s.size_bytes:
            self._deliver(s)
        return {"FailedPutCount": failed, "Encrypted": False, "RequestResponses": responses}
