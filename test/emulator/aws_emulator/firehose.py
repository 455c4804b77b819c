"""Firehose: DirectPut delivery streams into S3.

CreateDeliveryStream (ExtendedS3DestinationConfiguration or
S3DestinationConfiguration: BucketARN, Prefix, ErrorOutputPrefix,
BufferingHints, CompressionFormat UNCOMPRESSED or GZIP,
DynamicPartitioningConfiguration, ProcessingConfiguration with the
MetadataExtraction and AppendDelimiterToRecord processors),
DescribeDeliveryStream, ListDeliveryStreams, DeleteDeliveryStream, PutRecord,
PutRecordBatch.

Dynamic partitioning (Amazon Data Firehose Developer Guide, "Partition
streaming data"): the MetadataExtraction processor's MetadataExtractionQuery
(JsonParsingEngine JQ-1.6, the subset in firehose_jq.py) extracts partition
keys from each record; the Prefix's !{partitionKeyFromQuery:name} expressions
take them.  Each distinct evaluated prefix is a partition with its own buffer,
delivered on its own size and interval ("Buffer data for dynamic
partitioning"); past 500 active partitions (config
firehose_active_partitions) records go to the error prefix as
activePartitionExceeded.  A record that is not JSON, or whose keys come out
null, an object or an array, goes to the ErrorOutputPrefix with
!{firehose:error-output-type} = partitioning-failed (the type the AWS CDK's
dynamic partitioning integration test lists under error-output/), as one
JSON line each: attemptsMade, arrivalTimestamp, errorCode
DynamicPartitioning.MetadataExtractionFailed, errorMessage,
attemptEndingTimestamp, rawData (base64 of the record).

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
import base64
import datetime
import gzip
import json
import os
import re
import secrets
import sys
import uuid

from .core import AwsError, Service
from .firehose_jq import JqError, Query

MAX_BATCH_BYTES = 4 * 1024 * 1024
_EXPR_RE = re.compile(r"!\{([A-Za-z]+):([^}]*)\}")
_NAMESPACES = ("timestamp", "firehose", "partitionKeyFromQuery", "partitionKeyFromLambda")
ERROR_TYPE_PARTITIONING = "partitioning-failed"
ERROR_TYPE_PARTITIONS = "activePartitionExceeded"
_JAVA_FMT = [("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"),
             ("ss", "%S")]


def _java_strftime(fmt, dt):
    out = fmt
    for java, py in _JAVA_FMT:
        out = out.replace(java, dt.strftime(py))
    return out


def _invalid(message):
    return AwsError("InvalidArgumentException", message)


class Buffer:
    """The records of one partition waiting for delivery."""

    def __init__(self, prefix, arrival, error_type=None):
        self.prefix = prefix            # evaluated but for random-string; None: at delivery
        self.error_type = error_type
        self.records = []
        self.size = 0
        self.first_arrival = arrival


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
            raise _invalid("BucketARN %s is not a valid S3 bucket ARN" % dest["BucketARN"])
        self.bucket = m.group(1)
        self.prefix = dest.get("Prefix") or ""
        self.error_prefix = dest.get("ErrorOutputPrefix") or ""
        hints = dest.get("BufferingHints") or {}
        self.size_bytes = int(hints.get("SizeInMBs", 5)) * 1024 * 1024
        self.interval = int(hints.get("IntervalInSeconds", 300))
        self.compression = dest.get("CompressionFormat", "UNCOMPRESSED")
        self.partitioning = bool((dest.get("DynamicPartitioningConfiguration") or {})
                                 .get("Enabled"))
        self.query, self.append_newline = self._processors(dest)
        self._check_prefixes()
        self.buffers = {}                   # partition -> Buffer, in arrival order
        self.delivered = []                 # keys written
        self.retry_at = 0.0                 # next delivery attempt (missing bucket)

    @staticmethod
    def _processors(dest):
        """The extraction query and whether a newline is appended, from
        ProcessingConfiguration (processors apply only when it is Enabled)."""
        pc = dest.get("ProcessingConfiguration") or {}
        if not pc.get("Enabled"):
            return None, False
        query, newline = None, False
        for proc in pc.get("Processors") or []:
            params = {x["ParameterName"]: x["ParameterValue"]
                      for x in proc.get("Parameters") or []}
            if proc["Type"] == "AppendDelimiterToRecord":
                newline = True
            elif proc["Type"] == "MetadataExtraction":
                if "MetadataExtractionQuery" not in params or "JsonParsingEngine" not in params:
                    raise _invalid("MetadataExtraction processor requires the parameters "
                                   "MetadataExtractionQuery and JsonParsingEngine")
                if params["JsonParsingEngine"] != "JQ-1.6":
                    raise _invalid("JsonParsingEngine %s is not supported; the supported "
                                   "engine is JQ-1.6" % params["JsonParsingEngine"])
                try:
                    query = Query(params["MetadataExtractionQuery"])
                except JqError as e:
                    raise _invalid("MetadataExtractionQuery %s is not a valid JQ query: %s"
                                   % (params["MetadataExtractionQuery"], e))
            else:
                raise _invalid("Processor type %s is not supported by this emulator "
                               "(MetadataExtraction, AppendDelimiterToRecord)" % proc["Type"])
        return query, newline

    def _check_prefixes(self):
        for field, text in (("Prefix", self.prefix), ("ErrorOutputPrefix", self.error_prefix)):
            for ns, value in _EXPR_RE.findall(text):
                if ns not in _NAMESPACES:
                    raise _invalid("%s contains an unknown namespace %s" % (field, ns))
                if ns == "firehose" and value not in ("random-string", "error-output-type"):
                    raise _invalid("%s: !{firehose:%s} is not a valid expression "
                                   "(random-string, error-output-type)" % (field, value))
                if ns == "firehose" and value == "error-output-type" and field == "Prefix":
                    raise _invalid("Prefix cannot contain !{firehose:error-output-type}; it "
                                   "may appear only in ErrorOutputPrefix")
                if ns.startswith("partitionKey") and field == "ErrorOutputPrefix":
                    raise _invalid("ErrorOutputPrefix cannot contain !{%s:%s}" % (ns, value))
        keys = [v for ns, v in _EXPR_RE.findall(self.prefix) if ns == "partitionKeyFromQuery"]
        if any(ns == "partitionKeyFromLambda" for ns, _ in _EXPR_RE.findall(self.prefix)):
            raise _invalid("partitionKeyFromLambda needs a Lambda processor, which this "
                           "emulator does not run")
        if not self.partitioning:
            if keys:
                raise _invalid("Prefix uses !{partitionKeyFromQuery:%s} but dynamic "
                               "partitioning is not enabled" % keys[0])
            return
        if not self.error_prefix:
            raise _invalid("ErrorOutputPrefix is required when dynamic partitioning is "
                           "enabled")
        if not keys:
            raise _invalid("Prefix must contain at least one !{partitionKeyFromQuery:...} "
                           "expression when dynamic partitioning is enabled")
        if self.query is None:
            raise _invalid("Prefix uses !{partitionKeyFromQuery:...} but no enabled "
                           "MetadataExtraction processor gives partition keys")
        for k in keys:
            if k not in self.query.names:
                raise _invalid("Prefix uses !{partitionKeyFromQuery:%s} but the "
                               "MetadataExtractionQuery has no key %s" % (k, k))

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
        for field in ("ProcessingConfiguration", "DynamicPartitioningConfiguration"):
            if field in self.dest:
                ext[field] = self.dest[field]
        return {
            "DeliveryStreamName": self.name, "DeliveryStreamARN": self.arn,
            "DeliveryStreamStatus": "ACTIVE", "DeliveryStreamType": self.kind,
            "VersionId": "1", "CreateTimestamp": self.created,
            "Destinations": [{"DestinationId": "destinationId-000000000001",
                              "S3DestinationDescription": s3,
                              "ExtendedS3DestinationDescription": ext}],
            "HasMoreDestinations": False,
        }


def _evaluate(template, arrival, keys=None, error_type=None):
    """A prefix with its timestamp, partition key and error type expressions
    evaluated (random-string is left for delivery: it names an object, not a
    partition)."""
    dt = datetime.datetime.fromtimestamp(arrival, datetime.timezone.utc)

    def expand(m):
        ns, value = m.group(1), m.group(2)
        if ns == "timestamp":
            return _java_strftime(value, dt)
        if ns == "partitionKeyFromQuery":
            return keys[value]
        if ns == "firehose" and value == "error-output-type":
            return error_type
        return m.group(0)
    return _EXPR_RE.sub(expand, template)


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

    def _object_key(self, s, buf):
        dt = datetime.datetime.fromtimestamp(buf.first_arrival, datetime.timezone.utc)
        if buf.prefix is not None:
            prefix = buf.prefix
        elif _EXPR_RE.search(s.prefix):
            prefix = _evaluate(s.prefix, buf.first_arrival)
        else:
            prefix = s.prefix + dt.strftime("%Y/%m/%d/%H/")
        prefix = prefix.replace("!{firehose:random-string}", secrets.token_hex(6))
        name = "%s-1-%s-%s" % (s.name, dt.strftime("%Y-%m-%d-%H-%M-%S"), uuid.uuid4())
        if s.compression == "GZIP":
            name += ".gz"
        return prefix + name

    def _deliver(self, s, partition):
        buf = s.buffers.get(partition)
        if buf is None or not buf.records:
            return None
        if not self.emu.s3.bucket_exists(s.bucket):
            if s.retry_at == 0.0:
                print("firehose %s: bucket %s does not exist; delivery will be retried"
                      % (s.name, s.bucket), file=sys.stderr)
            s.retry_at = self.emu.clock.now() + 5
            return None
        s.retry_at = 0.0
        data = b"".join(buf.records)
        if s.compression == "GZIP":
            data = gzip.compress(data)
        key = self._object_key(s, buf)
        self.emu.s3.put_object(s.bucket, key, data, "application/octet-stream")
        del s.buffers[partition]
        s.delivered.append(key)
        return key

    def _deliver_all(self, s):
        keys = []
        for partition in list(s.buffers):
            k = self._deliver(s, partition)
            if k:
                keys.append(k)
        return keys

    def flush(self, name=None):
        """Writes the buffers out now (control endpoint); the keys written."""
        if name is not None:
            targets = [self._stream(name)]
        else:
            targets = list(self.streams.values())
        keys = []
        for s in targets:
            keys.extend(self._deliver_all(s))
        return keys

    def tick(self, now):
        for s in self.streams.values():
            if now < s.retry_at:
                continue
            for partition, buf in list(s.buffers.items()):
                if now - buf.first_arrival >= s.interval:
                    self._deliver(s, partition)

    def _route(self, s, data, now):
        """The partition of one record and the bytes it is delivered as."""
        if not s.partitioning:
            return "", None, None, data
        try:
            keys = s.query.partition_keys(data)
        except JqError as e:
            return self._error_route(s, data, now, ERROR_TYPE_PARTITIONING, str(e))
        prefix = _evaluate(s.prefix, now, keys)
        limit = int(self.emu.config.get("firehose_active_partitions", 500))
        if prefix not in s.buffers and \
                sum(1 for b in s.buffers.values() if b.error_type is None) >= limit:
            return self._error_route(s, data, now, ERROR_TYPE_PARTITIONS,
                                     "The number of active partitions reached %d" % limit)
        return prefix, prefix, None, data

    def _error_route(self, s, data, now, error_type, message):
        if _EXPR_RE.search(s.error_prefix):
            prefix = _evaluate(s.error_prefix, now, error_type=error_type)
        else:
            dt = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
            prefix = s.error_prefix + error_type + dt.strftime("/%Y/%m/%d/%H/")
        ms = int(now * 1000)
        line = json.dumps({"attemptsMade": 1, "arrivalTimestamp": ms,
                           "errorCode": "DynamicPartitioning.MetadataExtractionFailed",
                           "errorMessage": message, "attemptEndingTimestamp": ms,
                           "rawData": base64.b64encode(data).decode()}) + "\n"
        return "error\0" + prefix, prefix, error_type, line.encode()

    def _add(self, s, data, now):
        """Buffers one record in its partition."""
        partition, prefix, error_type, out = self._route(s, data, now)
        if error_type is None and s.append_newline:
            out += b"\n"
        buf = s.buffers.get(partition)
        if buf is None:
            buf = s.buffers[partition] = Buffer(prefix, now, error_type)
        buf.records.append(out)
        buf.size += len(out)

    def _deliver_full(self, s):
        """Delivers the partitions whose buffer reached SizeInMBs."""
        for partition, buf in list(s.buffers.items()):
            if buf.size >= s.size_bytes:
                self._deliver(s, partition)

    # ---- operations

    def CreateDeliveryStream(self, p):
        name = p["DeliveryStreamName"]
        if name in self.streams:
            raise AwsError("ResourceInUseException", "Firehose %s under accountId %s already "
                           "exists" % (name, self.emu.account_id))
        kind = p.get("DeliveryStreamType", "DirectPut")
        if kind != "DirectPut":
            raise _invalid("DeliveryStreamType %s is not supported by this emulator "
                           "(DirectPut only)" % kind)
        dest = p.get("ExtendedS3DestinationConfiguration") or p.get("S3DestinationConfiguration")
        others = [k for k in p if k.endswith("DestinationConfiguration") and
                  k not in ("ExtendedS3DestinationConfiguration", "S3DestinationConfiguration")]
        if dest is None or others:
            raise _invalid("Exactly one S3 destination configuration "
                           "(ExtendedS3DestinationConfiguration) is required")
        if dest.get("CompressionFormat", "UNCOMPRESSED") not in ("UNCOMPRESSED", "GZIP"):
            raise _invalid("CompressionFormat %s is not supported by this emulator "
                           "(UNCOMPRESSED, GZIP)" % dest["CompressionFormat"])
        if _EXPR_RE.search(dest.get("Prefix") or "") and not dest.get("ErrorOutputPrefix"):
            raise _invalid("ErrorOutputPrefix cannot be null or empty when Prefix contains "
                           "expressions")
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
        self._deliver_all(s)
        del self.streams[s.name]
        return {}

    def PutRecord(self, p):
        s = self._stream(p["DeliveryStreamName"])
        data = p["Record"]["Data"]
        fail = self.emu.faults.record_failures(self.name, "PutRecord")
        if fail and self.emu.faults.random() < fail[0]:
            raise AwsError(fail[1], fail[2], status=503 if fail[1].startswith("Service")
                           else 400, sender_fault=False)
        self._add(s, data, self.emu.clock.now())
        self._deliver_full(s)
        return {"RecordId": secrets.token_hex(56), "Encrypted": False}

    def PutRecordBatch(self, p):
        s = self._stream(p["DeliveryStreamName"])
        records = p["Records"]
        total = 0
        for r in records:
            total += len(r["Data"])
        if total > MAX_BATCH_BYTES:
            raise _invalid("Records size exceeds 4 MiB limit")
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
        self._deliver_full(s)
        return {"FailedPutCount": failed, "Encrypted": False, "RequestResponses": responses}
