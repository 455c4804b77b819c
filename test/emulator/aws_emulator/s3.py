"""S3, path-style: buckets and objects on disk under <data-dir>/s3.

Layout: <data-dir>/s3/<bucket>/data/<encoded key> holds the bytes and
<data-dir>/s3/<bucket>/meta/<encoded key> a JSON document (key, size, ETag,
last modified, content type, user metadata); the key is percent-encoded
(or hashed when long) so that any key maps to one flat file name.  Writes go
to a temporary file renamed into place, so a reader never sees half an
object.  An in-memory index (loaded from the meta files at start) answers
listings.

Other services use the storage methods directly (under the service lock):
create_bucket(bucket), bucket_exists(bucket),
put_object(bucket, key, data, content_type=None, metadata=None) -> ETag,
get_object(bucket, key) -> bytes, head_object(bucket, key) -> meta dict,
list_objects(bucket, prefix="") -> [(key, size)] in key order,
delete_object(bucket, key).  A missing bucket or key raises AwsError
NoSuchBucket / NoSuchKey.
"""
import base64
import bisect
import hashlib
import json
import os
import re
import shutil
import tempfile
from urllib.parse import quote

from .core import AwsError, Service, to_epoch

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _encode_key(key):
    enc = quote(key, safe="")
    if len(enc) > 200 or enc in (".", ".."):
        enc = "h-" + hashlib.sha256(key.encode("utf-8")).hexdigest()
    return enc


def _no_bucket(bucket):
    return AwsError("NoSuchBucket", "The specified bucket does not exist", status=404,
                    extra={"BucketName": bucket})


def _precondition(condition):
    return AwsError("PreconditionFailed", "At least one of the pre-conditions you "
                    "specified did not hold", status=412, extra={"Condition": condition})


def _no_key(key):
    return AwsError("NoSuchKey", "The specified key does not exist.", status=404,
                    extra={"Key": key})


class _Bucket:
    def __init__(self, name, created):
        self.name = name
        self.created = created
        self.objects = {}       # key -> meta dict
        self._sorted = None

    def keys(self):
        if self._sorted is None:
            self._sorted = sorted(self.objects)
        return self._sorted

    def changed(self):
        self._sorted = None


class S3(Service):
    name = "s3"
    xml_roots = {
        "ListObjectsV2": "ListBucketResult",
        "ListObjects": "ListBucketResult",
        "ListBuckets": "ListAllMyBucketsResult",
        "DeleteObjects": "DeleteResult",
    }

    def __init__(self, emu):
        super().__init__(emu)
        self.root = os.path.join(emu.data_dir, "s3")
        os.makedirs(self.root, exist_ok=True)
        self.buckets = {}
        self._load()

    def _load(self):
        for name in sorted(os.listdir(self.root)):
            bdir = os.path.join(self.root, name)
            info = os.path.join(bdir, "bucket.json")
            if not os.path.isfile(info):
                continue
            with open(info) as f:
                b = _Bucket(name, json.load(f)["created"])
            mdir = os.path.join(bdir, "meta")
            for enc in os.listdir(mdir):
                with open(os.path.join(mdir, enc)) as f:
                    meta = json.load(f)
                b.objects[meta["key"]] = meta
            self.buckets[name] = b

    def reset(self):
        with self.lock:
            shutil.rmtree(self.root, ignore_errors=True)
            os.makedirs(self.root, exist_ok=True)
            self.buckets = {}

    # ------------------------------------------------------------------
    # storage (also used by Firehose and Athena)

    def _bucket(self, bucket):
        b = self.buckets.get(bucket)
        if b is None:
            raise _no_bucket(bucket)
        return b

    def bucket_exists(self, bucket):
        with self.lock:
            return bucket in self.buckets

    def create_bucket(self, bucket):
        with self.lock:
            if bucket in self.buckets:
                return False
            bdir = os.path.join(self.root, bucket)
            os.makedirs(os.path.join(bdir, "data"), exist_ok=True)
            os.makedirs(os.path.join(bdir, "meta"), exist_ok=True)
            created = self.emu.clock.now()
            self._write(os.path.join(bdir, "bucket.json"),
                        json.dumps({"created": created}).encode())
            self.buckets[bucket] = _Bucket(bucket, created)
            return True

    def _write(self, path, data):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def put_object(self, bucket, key, data, content_type=None, metadata=None):
        with self.lock:
            b = self._bucket(bucket)
            enc = _encode_key(key)
            bdir = os.path.join(self.root, bucket)
            etag = '"%s"' % hashlib.md5(data).hexdigest()
            meta = {"key": key, "size": len(data), "etag": etag,
                    "last_modified": self.emu.clock.now(),
                    "content_type": content_type or "binary/octet-stream",
                    "metadata": metadata or {}}
            self._write(os.path.join(bdir, "data", enc), data)
            self._write(os.path.join(bdir, "meta", enc), json.dumps(meta).encode())
            if key not in b.objects:
                b.changed()
            b.objects[key] = meta
            return etag

    def put_object_file(self, bucket, key, path, size, etag, content_type=None):
        """Stores the file at `path` (moved, not copied: it must be on the
        same file system as the data directory) as an object whose size and
        ETag the caller computed while writing it (Athena's results)."""
        with self.lock:
            b = self._bucket(bucket)
            enc = _encode_key(key)
            bdir = os.path.join(self.root, bucket)
            meta = {"key": key, "size": size, "etag": etag,
                    "last_modified": self.emu.clock.now(),
                    "content_type": content_type or "binary/octet-stream",
                    "metadata": {}}
            os.replace(path, os.path.join(bdir, "data", enc))
            self._write(os.path.join(bdir, "meta", enc), json.dumps(meta).encode())
            if key not in b.objects:
                b.changed()
            b.objects[key] = meta
            return etag

    def open_object(self, bucket, key):
        """A binary file object reading the object (a reader keeps the
        version it opened if the object is replaced meanwhile)."""
        with self.lock:
            b = self._bucket(bucket)
            if key not in b.objects:
                raise _no_key(key)
            return open(os.path.join(self.root, bucket, "data", _encode_key(key)), "rb")

    def head_object(self, bucket, key):
        with self.lock:
            meta = self._bucket(bucket).objects.get(key)
            if meta is None:
                raise _no_key(key)
            return dict(meta)

    def get_object(self, bucket, key):
        with self.lock:
            b = self._bucket(bucket)
            if key not in b.objects:
                raise _no_key(key)
            with open(os.path.join(self.root, bucket, "data", _encode_key(key)), "rb") as f:
                return f.read()

    def list_objects(self, bucket, prefix=""):
        with self.lock:
            b = self._bucket(bucket)
            return [(k, b.objects[k]["size"]) for k in b.keys() if k.startswith(prefix)]

    def delete_object(self, bucket, key):
        with self.lock:
            b = self._bucket(bucket)
            if key not in b.objects:
                return False
            enc = _encode_key(key)
            for sub in ("data", "meta"):
                try:
                    os.unlink(os.path.join(self.root, bucket, sub, enc))
                except FileNotFoundError:
                    pass
            del b.objects[key]
            b.changed()
            return True

    # ------------------------------------------------------------------
    # operations

    def CreateBucket(self, p):
        bucket = p["Bucket"]
        if not _BUCKET_RE.match(bucket) or ".." in bucket:
            raise AwsError("InvalidBucketName", "The specified bucket is not valid.",
                           extra={"BucketName": bucket})
        # us-east-1: creating a bucket you already own succeeds
        self.create_bucket(bucket)
        return {"Location": "/" + bucket}

    def HeadBucket(self, p):
        self._bucket(p["Bucket"])
        return {}

    def DeleteBucket(self, p):
        b = self._bucket(p["Bucket"])
        if b.objects:
            raise AwsError("BucketNotEmpty", "The bucket you tried to delete is not empty",
                           status=409, extra={"BucketName": b.name})
        shutil.rmtree(os.path.join(self.root, b.name), ignore_errors=True)
        del self.buckets[b.name]
        return {"_status": 204}

    def ListBuckets(self, p):
        return {"Buckets": [{"Name": b.name, "CreationDate": b.created}
                            for b in sorted(self.buckets.values(), key=lambda b: b.name)],
                "Owner": {"DisplayName": "emulator", "ID": self.emu.account_id}}

    def PutObject(self, p):
        data = p.get("Body") or b""
        md5 = p.get("ContentMD5")
        if md5 is not None:
            try:
                want = base64.b64decode(md5, validate=True)
            except ValueError:
                raise AwsError("InvalidDigest", "The Content-MD5 you specified was invalid.")
            if want != hashlib.md5(data).digest():
                raise AwsError("BadDigest", "The Content-MD5 you specified did not match "
                               "what we received.")
        etag = self.put_object(p["Bucket"], p["Key"], data, p.get("ContentType"),
                               p.get("Metadata"))
        return {"ETag": etag}

    def _object_headers(self, meta):
        return {"ETag": meta["etag"], "LastModified": meta["last_modified"],
                "ContentType": meta["content_type"], "AcceptRanges": "bytes",
                "Metadata": meta["metadata"] or None}

    def _conditions(self, p, meta):
        """S3's conditional request rules: None to go on, or 304."""
        etag = meta["etag"].strip('"')
        modified = int(meta["last_modified"])

        def tags(header):
            return {t.strip().strip('"') for t in header.split(",")}

        def epoch(value):
            return int(to_epoch(value))

        if_match, if_none = p.get("IfMatch"), p.get("IfNoneMatch")
        if if_match is not None:
            t = tags(if_match)
            if "*" not in t and etag not in t:
                raise _precondition("If-Match")
        elif p.get("IfUnmodifiedSince") is not None and \
                modified > epoch(p["IfUnmodifiedSince"]):
            raise _precondition("If-Unmodified-Since")
        if if_none is not None:
            t = tags(if_none)
            if "*" in t or etag in t:
                return 304
        elif p.get("IfModifiedSince") is not None and \
                modified <= epoch(p["IfModifiedSince"]):
            return 304
        return None

    def HeadObject(self, p):
        meta = self.head_object(p["Bucket"], p["Key"])
        out = self._object_headers(meta)
        if self._conditions(p, meta) == 304:
            out["_status"] = 304
            return out
        out["ContentLength"] = meta["size"]
        return out

    def GetObject(self, p):
        bucket, key = p["Bucket"], p["Key"]
        meta = self.head_object(bucket, key)
        out = self._object_headers(meta)
        if self._conditions(p, meta) == 304:
            out["_status"] = 304
            return out
        data = self.get_object(bucket, key)
        rng = p.get("Range")
        size = len(data)
        if rng:
            m = _RANGE_RE.match(rng.strip())
            if m and (m.group(1) or m.group(2)):
                first, last = m.group(1), m.group(2)
                if first == "":
                    n = int(last)
                    start, end = max(size - n, 0), size - 1
                else:
                    start = int(first)
                    end = min(int(last), size - 1) if last else size - 1
                if start >= size or (first and last and int(last) < start) or end < start:
                    raise AwsError("InvalidRange", "The requested range is not satisfiable",
                                   status=416, extra={"RangeRequested": rng,
                                                      "ActualObjectSize": size})
                out["ContentRange"] = "bytes %d-%d/%d" % (start, end, size)
                data = data[start:end + 1]
                out["_status"] = 206
        out["Body"] = data
        out["ContentLength"] = len(data)
        return out

    def DeleteObject(self, p):
        self.delete_object(p["Bucket"], p["Key"])
        return {"_status": 204}

    def DeleteObjects(self, p):
        bucket = p["Bucket"]
        self._bucket(bucket)
        deleted = []
        for obj in p["Delete"].get("Objects", []):
            self.delete_object(bucket, obj["Key"])
            deleted.append({"Key": obj["Key"]})
        quiet = p["Delete"].get("Quiet") is True
        return {"Deleted": None if quiet else deleted}

    def _list(self, b, prefix, delimiter, max_keys, after, after_is_prefix):
        """(contents, common prefixes, truncated, last entry, last is prefix)."""
        contents, prefixes = [], []
        last, last_is_prefix = None, False
        truncated = False
        keys = b.keys()
        i = bisect.bisect_right(keys, after) if after else bisect.bisect_left(keys, prefix)
        n = 0
        while i < len(keys):
            key = keys[i]
            i += 1
            if not key.startswith(prefix):
                if key > prefix:
                    break
                continue
            if after_is_prefix and key.startswith(after):
                continue
            entry_prefix = None
            if delimiter:
                j = key.find(delimiter, len(prefix))
                if j >= 0:
                    entry_prefix = key[:j + len(delimiter)]
                    if prefixes and prefixes[-1] == entry_prefix:
                        continue
            if n >= max_keys:
                truncated = True
                break
            n += 1
            if entry_prefix is not None:
                prefixes.append(entry_prefix)
                last, last_is_prefix = entry_prefix, True
                # skip the rest of this prefix
                after_is_prefix_skip = entry_prefix
                while i < len(keys) and keys[i].startswith(after_is_prefix_skip):
                    i += 1
            else:
                contents.append(b.objects[key])
                last, last_is_prefix = key, False
        return contents, prefixes, truncated, last, last_is_prefix

    def ListObjects(self, p):
        b = self._bucket(p["Bucket"])
        prefix = p.get("Prefix") or ""
        delimiter = p.get("Delimiter") or ""
        max_keys = min(max(p.get("MaxKeys", 1000), 0), 1000)
        marker = p.get("Marker") or ""
        contents, prefixes, truncated, last, last_is_prefix = self._list(
            b, prefix, delimiter, max_keys, marker,
            bool(delimiter) and marker.endswith(delimiter))
        enc = (lambda x: quote(x, safe="/")) if p.get("EncodingType") == "url" else \
            (lambda x: x)
        out = {
            "Name": b.name, "Prefix": enc(prefix), "Marker": enc(marker),
            "MaxKeys": max_keys, "IsTruncated": truncated,
            "Contents": [{"Key": enc(m["key"]), "LastModified": m["last_modified"],
                          "ETag": m["etag"], "Size": m["size"],
                          "StorageClass": "STANDARD",
                          "Owner": {"DisplayName": "emulator", "ID": self.emu.account_id}}
                         for m in contents] or None,
            "CommonPrefixes": [{"Prefix": enc(x)} for x in prefixes] or None,
        }
        if delimiter:
            out["Delimiter"] = enc(delimiter)
            if truncated:
                out["NextMarker"] = enc(last)
        if p.get("EncodingType"):
            out["EncodingType"] = p["EncodingType"]
        return out

    def ListObjectsV2(self, p):
        b = self._bucket(p["Bucket"])
        prefix = p.get("Prefix") or ""
        delimiter = p.get("Delimiter") or ""
        max_keys = p.get("MaxKeys", 1000)
        if max_keys < 0:
            raise AwsError("InvalidArgument", "Provided max-keys not an integer or within "
                           "integer range")
        max_keys = min(max_keys, 1000)
        token = p.get("ContinuationToken")
        after, after_is_prefix = p.get("StartAfter") or "", False
        if token is not None:
            try:
                t = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
                after, after_is_prefix = t["k"], t["p"]
            except (ValueError, KeyError, TypeError):
                raise AwsError("InvalidArgument", "The continuation token provided is "
                               "incorrect")
        contents, prefixes, truncated, last, last_is_prefix = self._list(
            b, prefix, delimiter, max_keys, after, after_is_prefix)
        enc = (lambda s: quote(s, safe="/")) if p.get("EncodingType") == "url" else \
            (lambda s: s)
        out = {
            "Name": b.name, "Prefix": enc(prefix), "MaxKeys": max_keys,
            "KeyCount": len(contents) + len(prefixes), "IsTruncated": truncated,
            "Contents": [{"Key": enc(m["key"]), "LastModified": m["last_modified"],
                          "ETag": m["etag"], "Size": m["size"],
                          "StorageClass": "STANDARD"} for m in contents] or None,
            "CommonPrefixes": [{"Prefix": enc(x)} for x in prefixes] or None,
        }
        if delimiter:
            out["Delimiter"] = enc(delimiter)
        if p.get("EncodingType"):
            out["EncodingType"] = p["EncodingType"]
        if token is not None:
            out["ContinuationToken"] = token
        if p.get("StartAfter"):
            out["StartAfter"] = enc(p["StartAfter"])
        if truncated:
            out["NextContinuationToken"] = base64.urlsafe_b64encode(
                json.dumps({"k": last, "p": last_is_prefix}).encode()).decode()
        return out
