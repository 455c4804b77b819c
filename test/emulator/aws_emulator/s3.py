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
import uuid
import zlib
from urllib.parse import quote, unquote

from .core import AwsError, Service, s3_not_implemented, to_epoch

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


# the members an operation honours besides Bucket and Key; a request that
# sets any other (ACLs, encryption, tagging, object lock, versions, ...) is
# refused with NotImplemented rather than stored without it
_COMMON_MEMBERS = frozenset(("Bucket", "Key", "ExpectedBucketOwner", "RequestPayer",
                             "ContentLength", "ContentMD5", "Body", "ChecksumAlgorithm",
                             "ChecksumCRC32", "ChecksumSHA1", "ChecksumSHA256"))
_CONTENT_HEADERS = ("CacheControl", "ContentDisposition", "ContentEncoding",
                    "ContentLanguage", "Expires")
_WRITE_MEMBERS = frozenset(("ContentType", "Metadata")
                           + _CONTENT_HEADERS)
_READ_MEMBERS = frozenset(("IfMatch", "IfModifiedSince", "IfNoneMatch",
                           "IfUnmodifiedSince", "Range", "ChecksumMode"))
_RESPONSE_OVERRIDES = frozenset(("ResponseCacheControl", "ResponseContentDisposition",
                                 "ResponseContentEncoding", "ResponseContentLanguage",
                                 "ResponseContentType", "ResponseExpires"))
_MIN_PART = 5 * 1024 * 1024


def _refuse_unsupported(p, allowed):
    for name, value in p.items():
        if name in _COMMON_MEMBERS or name in allowed or value is None:
            continue
        if name == "StorageClass" and value == "STANDARD":
            continue
        if name in ("MetadataDirective", "TaggingDirective") and value == "COPY":
            continue
        raise s3_not_implemented(name)


def _check_checksums(p, data):
    """x-amz-checksum-*: verified as S3 does (BadDigest)."""
    for name, fn in (("ChecksumCRC32", lambda d: zlib.crc32(d).to_bytes(4, "big")),
                     ("ChecksumSHA1", lambda d: hashlib.sha1(d).digest()),
                     ("ChecksumSHA256", lambda d: hashlib.sha256(d).digest())):
        want = p.get(name)
        if want is not None and base64.b64encode(fn(data)).decode() != want:
            raise AwsError("BadDigest", "The %s you specified did not match the "
                           "calculated checksum." % name[len("Checksum"):])


def _content_headers(p):
    out = {}
    for name in _CONTENT_HEADERS:
        v = p.get(name)
        if v is not None:
            out[name] = to_epoch(v) if name == "Expires" else v
    return out


def _part_number(value):
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if not 1 <= n <= 10000:
        raise AwsError("InvalidArgument", "Part number must be an integer between 1 and "
                       "10000, inclusive", extra={"ArgumentName": "partNumber",
                                                  "ArgumentValue": str(value)})
    return n


class _Bucket:
    def __init__(self, name, created, region=None):
        self.name = name
        self.created = created
        self.region = region
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
        "CreateMultipartUpload": "InitiateMultipartUploadResult",
        "CompleteMultipartUpload": "CompleteMultipartUploadResult",
        "ListParts": "ListPartsResult",
        "ListMultipartUploads": "ListMultipartUploadsResult",
        "GetObjectTagging": "Tagging",
    }

    def __init__(self, emu):
        super().__init__(emu)
        self.root = os.path.join(emu.data_dir, "s3")
        os.makedirs(self.root, exist_ok=True)
        self.buckets = {}
        # multipart uploads in progress: id -> {"bucket", "key", "initiated",
        # "content_type", "metadata", "headers", "parts": {n: meta}}; the
        # parts' bytes live under <bucket>/uploads/<id>/
        self.uploads = {}
        self._load()

    def _load(self):
        for name in sorted(os.listdir(self.root)):
            bdir = os.path.join(self.root, name)
            info = os.path.join(bdir, "bucket.json")
            if not os.path.isfile(info):
                continue
            with open(info) as f:
                doc = json.load(f)
                b = _Bucket(name, doc["created"], doc.get("region"))
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
            self.uploads = {}

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

    def create_bucket(self, bucket, region=None):
        with self.lock:
            if bucket in self.buckets:
                return False
            bdir = os.path.join(self.root, bucket)
            os.makedirs(os.path.join(bdir, "data"), exist_ok=True)
            os.makedirs(os.path.join(bdir, "meta"), exist_ok=True)
            created = self.emu.clock.now()
            self._write(os.path.join(bdir, "bucket.json"),
                        json.dumps({"created": created, "region": region}).encode())
            self.buckets[bucket] = _Bucket(bucket, created, region)
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

    def put_object(self, bucket, key, data, content_type=None, metadata=None, headers=None,
                   etag=None):
        with self.lock:
            b = self._bucket(bucket)
            enc = _encode_key(key)
            bdir = os.path.join(self.root, bucket)
            etag = etag or '"%s"' % hashlib.md5(data).hexdigest()
            meta = {"key": key, "size": len(data), "etag": etag,
                    "last_modified": self.emu.clock.now(),
                    "content_type": content_type or "binary/octet-stream",
                    "metadata": metadata or {}, "headers": headers or {}}
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

    def get_object(self, bucket, key, first=0, last=None):
        """The object's bytes first..last (inclusive; last None: to the end)."""
        with self.lock:
            b = self._bucket(bucket)
            if key not in b.objects:
                raise _no_key(key)
            with open(os.path.join(self.root, bucket, "data", _encode_key(key)), "rb") as f:
                if first:
                    f.seek(first)
                return f.read() if last is None else f.read(last - first + 1)

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
        _refuse_unsupported(p, frozenset(("CreateBucketConfiguration", "ObjectOwnership")))
        region = (p.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        # us-east-1: creating a bucket you already own succeeds
        self.create_bucket(bucket, region or None)
        return {"Location": "/" + bucket}

    def GetBucketLocation(self, p):
        b = self._bucket(p["Bucket"])
        # us-east-1 is an empty LocationConstraint (botocore reads the root
        # element's text)
        return {"_xml": '<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint '
                'xmlns="http://s3.amazonaws.com/doc/2006-03-01/">%s</LocationConstraint>'
                % (b.region or "")}

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
        _refuse_unsupported(p, _WRITE_MEMBERS)
        data = p.get("Body") or b""
        _check_checksums(p, data)
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
                               p.get("Metadata"), _content_headers(p))
        return {"ETag": etag}

    def _object_headers(self, meta):
        out = {"ETag": meta["etag"], "LastModified": meta["last_modified"],
               "ContentType": meta["content_type"], "AcceptRanges": "bytes",
               "Metadata": meta["metadata"] or None}
        out.update(meta.get("headers") or {})
        return out

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
        _refuse_unsupported(p, _READ_MEMBERS)
        meta = self.head_object(p["Bucket"], p["Key"])
        out = self._object_headers(meta)
        if self._conditions(p, meta) == 304:
            out["_status"] = 304
            return out
        out["ContentLength"] = meta["size"]
        return out

    def GetObject(self, p):
        _refuse_unsupported(p, _READ_MEMBERS | _RESPONSE_OVERRIDES)
        bucket, key = p["Bucket"], p["Key"]
        meta = self.head_object(bucket, key)
        out = self._object_headers(meta)
        for name in _RESPONSE_OVERRIDES:
            if p.get(name) is not None:
                out[name[len("Response"):]] = p[name]
        if self._conditions(p, meta) == 304:
            out["_status"] = 304
            return out
        rng = p.get("Range")
        size = meta["size"]
        data = None
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
                # only the range is read: parallel ranged GETs of a large
                # object do not each read all of it
                data = self.get_object(bucket, key, start, end)
                out["_status"] = 206
        if data is None:
            data = self.get_object(bucket, key)
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

    def GetObjectTagging(self, p):
        # writes that set tags are refused, so an object has none
        _refuse_unsupported(p, frozenset())
        self.head_object(p["Bucket"], p["Key"])
        return {"TagSet": []}

    # ------------------------------------------------------------------
    # copies

    def _copy_source(self, p):
        """(bucket, key, meta) of x-amz-copy-source, after its conditions."""
        src = p["CopySource"]
        src, _, version = src.partition("?")
        if version and version != "versionId=null":
            raise s3_not_implemented("x-amz-copy-source")
        bucket, _, key = unquote(src).lstrip("/").partition("/")
        if not bucket or not key:
            raise AwsError("InvalidArgument", "Invalid copy source object key",
                           extra={"ArgumentName": "x-amz-copy-source",
                                  "ArgumentValue": p["CopySource"]})
        meta = self.head_object(bucket, key)
        cond = {k[len("CopySource"):]: v for k, v in p.items()
                if k.startswith("CopySourceIf") and v is not None}
        if cond and self._conditions(cond, meta) == 304:
            raise _precondition("x-amz-copy-source-If-None-Match"
                                if "IfNoneMatch" in cond else
                                "x-amz-copy-source-If-Modified-Since")
        return bucket, key, meta

    def CopyObject(self, p):
        _refuse_unsupported(p, _WRITE_MEMBERS | frozenset((
            "CopySource", "MetadataDirective", "CopySourceIfMatch",
            "CopySourceIfModifiedSince", "CopySourceIfNoneMatch",
            "CopySourceIfUnmodifiedSince", "ExpectedSourceBucketOwner")))
        src_bucket, src_key, meta = self._copy_source(p)
        replace = p.get("MetadataDirective") == "REPLACE"
        if (src_bucket, src_key) == (p["Bucket"], p["Key"]) and not replace:
            raise AwsError("InvalidRequest", "This copy request is illegal because it is "
                           "trying to copy an object to itself without changing the "
                           "object's metadata, storage class, website redirect location "
                           "or encryption attributes.")
        self._bucket(p["Bucket"])
        data = self.get_object(src_bucket, src_key)
        if replace:
            ctype, metadata, headers = p.get("ContentType"), p.get("Metadata"), \
                _content_headers(p)
        else:
            ctype, metadata, headers = meta["content_type"], meta["metadata"], \
                meta.get("headers")
        etag = meta["etag"] if "-" in meta["etag"] else None
        etag = self.put_object(p["Bucket"], p["Key"], data, ctype, metadata, headers,
                               etag=etag)
        new = self.head_object(p["Bucket"], p["Key"])
        return {"CopyObjectResult": {"ETag": etag, "LastModified": new["last_modified"]}}

    # ------------------------------------------------------------------
    # multipart uploads

    def _upload(self, p):
        u = self.uploads.get(p["UploadId"])
        if u is None or u["bucket"] != p["Bucket"] or u["key"] != p["Key"]:
            self._bucket(p["Bucket"])
            raise AwsError("NoSuchUpload", "The specified upload does not exist. The upload "
                           "ID may be invalid, or the upload may have been aborted or "
                           "completed.", status=404, extra={"UploadId": p["UploadId"]})
        return u

    def _upload_dir(self, u, upload_id):
        return os.path.join(self.root, u["bucket"], "uploads", upload_id)

    def CreateMultipartUpload(self, p):
        _refuse_unsupported(p, _WRITE_MEMBERS)
        self._bucket(p["Bucket"])
        upload_id = uuid.uuid4().hex + uuid.uuid4().hex
        u = {"bucket": p["Bucket"], "key": p["Key"], "initiated": self.emu.clock.now(),
             "content_type": p.get("ContentType"), "metadata": p.get("Metadata"),
             "headers": _content_headers(p), "parts": {}}
        os.makedirs(self._upload_dir(u, upload_id), exist_ok=True)
        self.uploads[upload_id] = u
        return {"Bucket": p["Bucket"], "Key": p["Key"], "UploadId": upload_id}

    def _store_part(self, p, data):
        u = self._upload(p)
        n = _part_number(p["PartNumber"])
        etag = '"%s"' % hashlib.md5(data).hexdigest()
        self._write(os.path.join(self._upload_dir(u, p["UploadId"]), str(n)), data)
        u["parts"][n] = {"PartNumber": n, "ETag": etag, "Size": len(data),
                         "LastModified": self.emu.clock.now()}
        return etag

    def UploadPart(self, p):
        _refuse_unsupported(p, frozenset(("PartNumber", "UploadId")))
        data = p.get("Body") or b""
        md5 = p.get("ContentMD5")
        if md5 is not None and base64.b64encode(hashlib.md5(data).digest()).decode() != md5:
            raise AwsError("BadDigest", "The Content-MD5 you specified did not match "
                           "what we received.")
        _check_checksums(p, data)
        return {"ETag": self._store_part(p, data)}

    def UploadPartCopy(self, p):
        _refuse_unsupported(p, frozenset((
            "PartNumber", "UploadId", "CopySource", "CopySourceRange", "CopySourceIfMatch",
            "CopySourceIfModifiedSince", "CopySourceIfNoneMatch",
            "CopySourceIfUnmodifiedSince", "ExpectedSourceBucketOwner")))
        self._upload(p)
        src_bucket, src_key, meta = self._copy_source(p)
        data = self.get_object(src_bucket, src_key)
        rng = p.get("CopySourceRange")
        if rng is not None:
            m = re.match(r"^bytes=(\d+)-(\d+)$", rng.strip())
            if not m or int(m.group(2)) < int(m.group(1)) or int(m.group(2)) >= len(data):
                raise AwsError("InvalidArgument", "The x-amz-copy-source-range value must "
                               "be of the form bytes=first-last where first and last are "
                               "the zero-based offsets of the first and last bytes to copy",
                               extra={"ArgumentName": "x-amz-copy-source-range",
                                      "ArgumentValue": rng})
            data = data[int(m.group(1)):int(m.group(2)) + 1]
        etag = self._store_part(p, data)
        return {"CopyPartResult": {"ETag": etag, "LastModified": self.emu.clock.now()}}

    def CompleteMultipartUpload(self, p):
        _refuse_unsupported(p, frozenset(("UploadId", "MultipartUpload")))
        u = self._upload(p)
        given = (p.get("MultipartUpload") or {}).get("Parts") or []
        if not given:
            raise AwsError("MalformedXML", "The XML you provided was not well-formed or "
                           "did not validate against our published schema")
        numbers = [int(x.get("PartNumber") or 0) for x in given]
        if numbers != sorted(set(numbers)):
            raise AwsError("InvalidPartOrder", "The list of parts was not in ascending "
                           "order. The parts list must be specified in order by part "
                           "number.")
        chosen = []
        for x, n in zip(given, numbers):
            part = u["parts"].get(n)
            if part is None or (x.get("ETag") or "").strip('"') != part["ETag"].strip('"'):
                raise AwsError("InvalidPart", "One or more of the specified parts could "
                               "not be found.  The part may not have been uploaded, or the "
                               "specified entity tag may not match the part's entity tag.",
                               extra={"UploadId": p["UploadId"], "PartNumber": n})
            chosen.append(part)
        for part in chosen[:-1]:
            if part["Size"] < _MIN_PART:
                raise AwsError("EntityTooSmall", "Your proposed upload is smaller than the "
                               "minimum allowed object size.",
                               extra={"ProposedSize": part["Size"], "MinSizeAllowed": _MIN_PART,
                                      "PartNumber": part["PartNumber"]})
        folder = self._upload_dir(u, p["UploadId"])
        chunks, digests = [], b""
        for part in chosen:
            with open(os.path.join(folder, str(part["PartNumber"])), "rb") as f:
                chunks.append(f.read())
            digests += bytes.fromhex(part["ETag"].strip('"'))
        etag = '"%s-%d"' % (hashlib.md5(digests).hexdigest(), len(chosen))
        self.put_object(u["bucket"], u["key"], b"".join(chunks), u["content_type"],
                        u["metadata"], u["headers"], etag=etag)
        del self.uploads[p["UploadId"]]
        shutil.rmtree(folder, ignore_errors=True)
        return {"Location": "/%s/%s" % (u["bucket"], quote(u["key"])),
                "Bucket": u["bucket"], "Key": u["key"], "ETag": etag}

    def AbortMultipartUpload(self, p):
        u = self._upload(p)
        del self.uploads[p["UploadId"]]
        shutil.rmtree(self._upload_dir(u, p["UploadId"]), ignore_errors=True)
        return {"_status": 204}

    def ListParts(self, p):
        _refuse_unsupported(p, frozenset(("UploadId", "MaxParts", "PartNumberMarker")))
        u = self._upload(p)
        max_parts = min(max(int(p.get("MaxParts", 1000)), 0), 1000)
        marker = int(p.get("PartNumberMarker") or 0)
        numbers = sorted(n for n in u["parts"] if n > marker)
        page = numbers[:max_parts]
        out = {"Bucket": u["bucket"], "Key": u["key"], "UploadId": p["UploadId"],
               "PartNumberMarker": marker, "MaxParts": max_parts,
               "IsTruncated": len(numbers) > max_parts, "StorageClass": "STANDARD",
               "Initiator": {"ID": self.emu.account_id, "DisplayName": "emulator"},
               "Owner": {"ID": self.emu.account_id, "DisplayName": "emulator"},
               "Parts": [dict(u["parts"][n]) for n in page] or None}
        if page:
            out["NextPartNumberMarker"] = page[-1]
        return out

    def ListMultipartUploads(self, p):
        _refuse_unsupported(p, frozenset(("Prefix", "MaxUploads")))
        b = self._bucket(p["Bucket"])
        prefix = p.get("Prefix") or ""
        max_uploads = min(max(int(p.get("MaxUploads", 1000)), 0), 1000)
        ups = sorted((u["key"], u["initiated"], i) for i, u in self.uploads.items()
                     if u["bucket"] == b.name and u["key"].startswith(prefix))
        page = ups[:max_uploads]
        out = {"Bucket": b.name, "Prefix": prefix, "MaxUploads": max_uploads,
               "IsTruncated": len(ups) > max_uploads,
               "Uploads": [{"Key": k, "UploadId": i, "Initiated": t,
                            "StorageClass": "STANDARD"} for k, t, i in page] or None}
        if out["IsTruncated"]:
            out["NextKeyMarker"], out["NextUploadIdMarker"] = page[-1][0], page[-1][2]
        return out
