"""DynamoDB Streams: streams with real shard trees.

A stream starts with `stream_initial_shards` open shards that share the
64-bit hash space of partition keys.  An item's records go to the open shard
whose hash range holds the hash of its partition key, so the records of one
item stay in order along one lineage of shards.  A shard closes and gets
children: on the control endpoint's demand (a split: two children, each with
half of the parent's range; or a rollover: one child with the whole range)
and on a timer (`shard_rollover_seconds` of the emulator clock: a rollover).
Children name the closed shard as ParentShardId.

Sequence numbers are digit strings of 21 to 40 characters, increasing
within a shard and along a lineage; each generation of shards uses one
digit more than its parent (so they do not sort as text).  Records are kept 24 h (`stream_retention_seconds`,
by the emulator clock) and then trimmed; a shard iterator that points at
trimmed records (also one issued before the trim) fails with
TrimmedDataAccessException.  Shard iterators are opaque, signed tokens that
expire after 15 min (`iterator_ttl_seconds`) with ExpiredIteratorException;
GetRecords returns a new one on every call, and none (null) once a closed
shard is drained.  Closed shards whose records have all been trimmed leave
DescribeStream, as in DynamoDB Streams.

Records are kept as JSON text in wire form, so GetRecords copies them into
the response without re-serializing them (the fast path).
"""
import base64
import bisect
import collections
import datetime
import hashlib
import hmac
import json
import re
import secrets
import time

from .core import AwsError, RawJson, Service

# a stream ARN as DynamoDB forms it; another form is a ValidationException,
# an unknown stream of this form ResourceNotFoundException
_STREAM_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[a-zA-Z0-9_.-]{3,255}/stream/"
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$")

HASH_SPACE = 1 << 64
MAX_RESPONSE_BYTES = 1024 * 1024
SEQ_BASE = 10 ** 20          # 21 digits
SEQ_STEP = 100


def _b64(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value))


def _wire(obj):
    return json.dumps(obj, separators=(",", ":"), default=_b64, ensure_ascii=False)


def _hash_key(av):
    (t, v), = av.items()
    raw = v if isinstance(v, bytes) else str(v).encode("utf-8")
    return int.from_bytes(hashlib.md5(t.encode() + b":" + raw).digest()[:8], "big")


def _not_found(what):
    return AwsError("ResourceNotFoundException", "Requested resource not found: %s" % what)


class Shard:
    __slots__ = ("id", "parent_id", "lo", "hi", "created", "closed_at", "start_seq",
                 "end_seq", "seqs", "records", "times", "sizes", "trimmed_upto")

    def __init__(self, sid, parent_id, lo, hi, created, start_seq):
        self.id = sid
        self.parent_id = parent_id
        self.lo, self.hi = lo, hi
        self.created = created
        self.closed_at = None
        self.start_seq = start_seq
        self.end_seq = None
        self.seqs = []          # sequence numbers (int), increasing
        self.records = []       # wire JSON text of each record
        self.times = []         # creation epoch of each record
        self.sizes = []
        self.trimmed_upto = -1  # highest sequence number trimmed away

    @property
    def open(self):
        return self.closed_at is None


class Stream:
    def __init__(self, arn, label, table, key_schema, view_type, created):
        self.arn = arn
        self.label = label
        self.table = table
        self.key_schema = key_schema
        self.view_type = view_type
        self.created = created
        self.status = "ENABLED"
        self.shards = {}        # id -> Shard, in creation order
        self.last_shard_num = 0
        # 21 digits, starting high: a child shard's longer numbers then sort
        # before them as text (see _split)
        self.next_seq = 4 * SEQ_BASE + secrets.randbelow(5 * SEQ_BASE)
        self.hash_key = next(k["AttributeName"] for k in key_schema
                             if k["KeyType"] == "HASH")

    def open_shards(self):
        return [s for s in self.shards.values() if s.open]


class DynamoDBStreams(Service):
    name = "dynamodbstreams"
    unchecked_max = {"GetRecords": {"Limit"}, "DescribeStream": {"Limit"},
                     "ListStreams": {"Limit"}}
    # DescribeStream's ShardFilter (CHILD_SHARDS) is newer than some
    # installed botocore models: read from the request as sent
    newer_members = {"DescribeStream": ("ShardFilter",)}

    def __init__(self, emu):
        super().__init__(emu)
        self.streams = {}       # arn -> Stream, in creation order
        self._key = secrets.token_bytes(32)
        self._calls = {}        # (stream, shard) -> recent GetRecords times

    # ------------------------------------------------------------------
    # used by DynamoDB (under this service's lock)

    def create_stream(self, table, key_schema, view_type):
        now = self.emu.clock.now()
        label = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%f")[:-3]
        while True:
            arn = "arn:aws:dynamodb:%s:%s:table/%s/stream/%s" % (
                self.emu.region, self.emu.account_id, table, label)
            if arn not in self.streams:
                break
            now += 0.001
            label = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%S.%f")[:-3]
        s = Stream(arn, label, table, key_schema, view_type, now)
        n = max(1, int(self.emu.config.get("stream_initial_shards", 1)))
        step = HASH_SPACE // n
        for i in range(n):
            hi = HASH_SPACE if i == n - 1 else (i + 1) * step
            self._new_shard(s, None, i * step, hi, now)
        self.streams[arn] = s
        return s

    def disable_stream(self, arn):
        s = self.streams[arn]
        now = self.emu.clock.now()
        for sh in s.open_shards():
            self._close(s, sh, now)
        s.status = "DISABLED"

    def append(self, stream, event, keys, old, new, user_identity=None):
        now = self.emu.clock.now()
        self._maintain(stream, now)
        h = _hash_key(keys[stream.hash_key])
        shard = next(sh for sh in stream.open_shards() if sh.lo <= h < sh.hi)
        seq = stream.next_seq
        stream.next_seq += SEQ_STEP
        view = stream.view_type
        ddb = {"ApproximateCreationDateTime": int(now), "Keys": keys}
        if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and new is not None:
            ddb["NewImage"] = new
        if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and old is not None:
            ddb["OldImage"] = old
        ddb["SequenceNumber"] = str(seq)
        body = _wire({k: v for k, v in ddb.items() if k != "SequenceNumber"})
        ddb["SizeBytes"] = len(body.encode("utf-8")) - 2
        ddb["StreamViewType"] = view
        rec = {"eventID": secrets.token_hex(16), "eventName": event, "eventVersion": "1.1",
               "eventSource": "aws:dynamodb", "awsRegion": self.emu.region,
               "dynamodb": ddb}
        if user_identity is not None:
            rec["userIdentity"] = user_identity
        text = _wire(rec)
        shard.seqs.append(seq)
        shard.records.append(text)
        shard.times.append(now)
        shard.sizes.append(len(text.encode("utf-8")))

    # ------------------------------------------------------------------
    # shards

    def _new_shard(self, stream, parent, lo, hi, now):
        # ids sort in creation order: a millisecond timestamp, made unique
        # and increasing within the stream
        num = max(int(now * 1000) * 1000, stream.last_shard_num + 1)
        stream.last_shard_num = num
        sid = "shardId-%020d-%08x" % (num, secrets.randbits(32))
        sh = Shard(sid, parent.id if parent else None, lo, hi, now, stream.next_seq)
        stream.next_seq += SEQ_STEP
        stream.shards[sid] = sh
        return sh

    def _close(self, stream, shard, now):
        shard.closed_at = now
        shard.end_seq = shard.seqs[-1] if shard.seqs else shard.start_seq

    def _split(self, stream, shard, children, now):
        self._close(stream, shard, now)
        # each generation of shards numbers its records with one digit more
        # (up to 40, as DynamoDB Streams' sequence numbers go): numerically
        # they keep increasing, as text they do not, so a reader that
        # compares them as text (or squeezes them into a bigint) fails here
        n = min(len(str(shard.start_seq)) + 1, 40)
        if len(str(stream.next_seq)) < n:
            stream.next_seq = 10 ** (n - 1) + secrets.randbelow(10 ** (n - 2))
        if children == 1:
            return [self._new_shard(stream, shard, shard.lo, shard.hi, now)]
        mid = shard.lo + (shard.hi - shard.lo) // 2
        return [self._new_shard(stream, shard, shard.lo, mid, now),
                self._new_shard(stream, shard, mid, shard.hi, now)]

    def split(self, stream_arn, shard_id=None, children=2):
        """Closes an open shard (or every open shard) and opens its children
        (control endpoint)."""
        s = self.streams.get(stream_arn)
        if s is None:
            raise LookupError("no stream %s" % stream_arn)
        if s.status != "ENABLED":
            raise ValueError("the stream is %s" % s.status)
        if children not in (1, 2):
            raise ValueError("children must be 1 or 2")
        now = self.emu.clock.now()
        self._maintain(s, now)
        if shard_id:
            sh = s.shards.get(shard_id)
            if sh is None:
                raise LookupError("no shard %s" % shard_id)
            if not sh.open:
                raise ValueError("shard %s is closed" % shard_id)
            targets = [sh]
        else:
            targets = s.open_shards()
        closed, created = [], []
        for sh in targets:
            created += [c.id for c in self._split(s, sh, children, now)]
            closed.append(sh.id)
        return {"closed": closed, "created": created}

    def _maintain(self, stream, now):
        """Timers: rollovers of old open shards, trimming past retention."""
        roll = float(self.emu.config.get("shard_rollover_seconds") or 0)
        if roll > 0 and stream.status == "ENABLED":
            for sh in stream.open_shards():
                # a shard that should have rolled over several times while the
                # clock jumped rolls over once per period
                while sh.open and now - sh.created >= roll:
                    at = sh.created + roll
                    child = self._split(stream, sh, 1, at)[0]
                    sh = child
        keep = float(self.emu.config.get("stream_retention_seconds", 86400))
        horizon = now - keep
        for sid in list(stream.shards):
            sh = stream.shards[sid]
            n = bisect.bisect_left(sh.times, horizon)
            if n:
                sh.trimmed_upto = sh.seqs[n - 1]
                del sh.seqs[:n], sh.records[:n], sh.times[:n], sh.sizes[:n]
            if not sh.open and not sh.seqs and sh.closed_at < horizon:
                del stream.shards[sid]

    def tick(self, now):
        for s in list(self.streams.values()):
            self._maintain(s, now)

    def _throttle(self, stream, shard):
        """GetRecords calls a shard may take a second (wall time), if
        `getrecords_per_shard_per_second` is set: beyond, AWS's throttle."""
        limit = int(self.emu.config.get("getrecords_per_shard_per_second") or 0)
        if limit <= 0:
            return
        now = time.monotonic()
        calls = self._calls.setdefault((stream.arn, shard.id), collections.deque())
        while calls and now - calls[0] >= 1.0:
            calls.popleft()
        if len(calls) >= limit:
            raise AwsError("LimitExceededException", "Rate exceeded for shard %s in stream "
                           "%s under account %s." % (shard.id, stream.table,
                                                     self.emu.account_id))
        calls.append(now)

    # ------------------------------------------------------------------
    # iterators: base64url(JSON [arn, shard, position, issued, nonce]) + "." + MAC

    def _iterator(self, stream, shard, position, now):
        body = base64.urlsafe_b64encode(_wire(
            [stream.arn, shard.id, position, now, secrets.token_hex(4)]).encode()).decode()
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:32]
        return body + "." + mac

    def _decode_iterator(self, token):
        body, _, mac = token.rpartition(".")
        want = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:32]
        if not body or not hmac.compare_digest(mac, want):
            raise AwsError("ValidationException", "Invalid ShardIterator")
        try:
            arn, sid, position, issued, _ = json.loads(base64.urlsafe_b64decode(body))
        except (ValueError, TypeError):
            raise AwsError("ValidationException", "Invalid ShardIterator")
        return arn, sid, position, issued

    # ------------------------------------------------------------------
    # operations

    def _stream(self, arn):
        if not _STREAM_ARN_RE.match(arn):
            raise AwsError("ValidationException", "Invalid StreamArn")
        s = self.streams.get(arn)
        if s is None:
            raise _not_found("Stream: %s not found" % arn)
        return s

    def ListStreams(self, p):
        limit = p.get("Limit", 100)
        if limit > 100:
            raise AwsError("ValidationException", "1 validation error detected: Value '%d' at "
                           "'limit' failed to satisfy constraint: Member must have value less "
                           "than or equal to 100" % limit)
        streams = [s for s in self.streams.values()
                   if p.get("TableName") in (None, s.table)]
        start = p.get("ExclusiveStartStreamArn")
        if start:
            arns = [s.arn for s in streams]
            if start not in arns:
                raise _not_found("Stream: %s not found" % start)
            streams = streams[arns.index(start) + 1:]
        page = streams[:limit]
        out = {"Streams": [{"StreamArn": s.arn, "TableName": s.table,
                            "StreamLabel": s.label} for s in page]}
        if len(streams) > limit:
            out["LastEvaluatedStreamArn"] = page[-1].arn
        return out

    def DescribeStream(self, p):
        s = self._stream(p["StreamArn"])
        limit = p.get("Limit", 100)
        if limit > 100:
            raise AwsError("ValidationException", "1 validation error detected: Value '%d' at "
                           "'limit' failed to satisfy constraint: Member must have value less "
                           "than or equal to 100" % limit)
        self._maintain(s, self.emu.clock.now())
        shards = sorted(s.shards.values(), key=lambda sh: sh.id)
        filt = p.get("ShardFilter")
        if filt is not None:
            # DynamoDB Streams API reference, DescribeStream: ShardFilter
            # Type CHILD_SHARDS returns the children of ShardId
            if (not isinstance(filt, dict) or filt.get("Type") != "CHILD_SHARDS"
                    or not isinstance(filt.get("ShardId"), str)):
                raise AwsError("ValidationException", "1 validation error detected: Value at "
                               "'shardFilter' failed to satisfy constraint: Member must have "
                               "Type CHILD_SHARDS and a ShardId")
            if filt["ShardId"] not in s.shards:
                raise _not_found("Shard does not exist")
            shards = [sh for sh in shards if sh.parent_id == filt["ShardId"]]
        start = p.get("ExclusiveStartShardId")
        if start:
            shards = [sh for sh in shards if sh.id > start]
        page = shards[:limit]
        out_shards = []
        for sh in page:
            rng = {"StartingSequenceNumber": str(sh.start_seq)}
            if not sh.open:
                rng["EndingSequenceNumber"] = str(sh.end_seq)
            d = {"ShardId": sh.id, "SequenceNumberRange": rng}
            if sh.parent_id:
                d["ParentShardId"] = sh.parent_id
            out_shards.append(d)
        desc = {"StreamArn": s.arn, "StreamLabel": s.label, "StreamStatus": s.status,
                "StreamViewType": s.view_type, "CreationRequestDateTime": s.created,
                "TableName": s.table, "KeySchema": s.key_schema, "Shards": out_shards}
        if len(shards) > limit:
            desc["LastEvaluatedShardId"] = page[-1].id
        return {"StreamDescription": desc}

    def GetShardIterator(self, p):
        s = self._stream(p["StreamArn"])
        now = self.emu.clock.now()
        self._maintain(s, now)
        sh = s.shards.get(p["ShardId"])
        if sh is None:
            raise _not_found("Shard does not exist")
        kind = p["ShardIteratorType"]
        seq_text = p.get("SequenceNumber")
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if seq_text is None:
                raise AwsError("ValidationException", "Must specify a sequence number for "
                               "iterator type %s" % kind)
            if not seq_text.isdigit():
                raise AwsError("ValidationException", "Invalid SequenceNumber: %s" % seq_text)
            seq = int(seq_text)
            last = sh.end_seq if not sh.open else (stream_last(s, sh))
            if seq < sh.start_seq or (last is not None and seq > last):
                raise AwsError("ValidationException", "Invalid SequenceNumber for the "
                               "specified shard: %s" % seq_text)
            if seq <= sh.trimmed_upto:
                raise AwsError("TrimmedDataAccessException", "The operation attempted to "
                               "read past the oldest stream record in a shard.")
            position = seq if kind == "AT_SEQUENCE_NUMBER" else seq + 1
        elif seq_text is not None:
            raise AwsError("ValidationException", "Sequence number must not be specified "
                           "for iterator type %s" % kind)
        elif kind == "TRIM_HORIZON":
            position = sh.seqs[0] if sh.seqs else max(sh.trimmed_upto + 1, sh.start_seq)
        else:   # LATEST
            position = (sh.seqs[-1] + 1) if sh.seqs else max(sh.trimmed_upto + 1,
                                                              sh.start_seq)
            if not sh.open:
                position = sh.end_seq + 1
        return {"ShardIterator": self._iterator(s, sh, position, now)}

    def GetRecords(self, p):
        limit = p.get("Limit", 1000)
        if limit > 1000:
            # a ValidationException: LimitExceededException is the throttling
            # error SDKs retry (DynamoDB Streams API reference, GetRecords)
            raise AwsError("ValidationException", "1 validation error detected: Value "
                           "'%d' at 'limit' failed to satisfy constraint: Member must have "
                           "value less than or equal to 1000" % limit)
        arn, sid, position, issued = self._decode_iterator(p["ShardIterator"])
        now = self.emu.clock.now()
        ttl = float(self.emu.config.get("iterator_ttl_seconds", 900))
        if now - issued > ttl:
            raise AwsError("ExpiredIteratorException", "Iterator expired. The iterator was "
                           "created at time %s while right now it is %s."
                           % (_fmt(issued), _fmt(now)))
        s = self.streams.get(arn)
        if s is None:
            raise _not_found("Stream: %s not found" % arn)
        self._maintain(s, now)
        sh = s.shards.get(sid)
        if sh is None:
            raise _not_found("Shard does not exist")
        if position <= sh.trimmed_upto:
            raise AwsError("TrimmedDataAccessException", "The operation attempted to read "
                           "past the oldest stream record in a shard.")
        self._throttle(s, sh)
        i = bisect.bisect_left(sh.seqs, position)
        if self.emu.faults.empty_page(self.name, "GetRecords"):
            # GetRecords may answer an empty page while records are there
            return {"Records": [],
                    "NextShardIterator": self._iterator(s, sh, position, now)}
        j = i
        total = 0
        n = len(sh.seqs)
        while j < n and j - i < limit:
            size = sh.sizes[j]
            if total + size > MAX_RESPONSE_BYTES and j > i:
                break
            total += size
            j += 1
        records = [RawJson(t) for t in sh.records[i:j]]
        next_pos = sh.seqs[j - 1] + 1 if j > i else position
        out = {"Records": records}
        if sh.open or j < n:
            out["NextShardIterator"] = self._iterator(s, sh, next_pos, now)
        return out


def stream_last(stream, shard):
    """The highest sequence number a (open) shard has issued, or None."""
    return shard.seqs[-1] if shard.seqs else None


def _fmt(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(
        "%a %b %d %H:%M:%S UTC %Y")
