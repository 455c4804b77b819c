#!/usr/bin/python3
"""Cross-check of audit_fdw's SigV4 signer against botocore.

Generates requests (methods; paths with unicode, reserved characters, dot
segments and double slashes; repeated, empty and value-less query keys;
header values with runs of spaces and tabs, repeated headers; session
tokens; S3 and other services; bodies, empty or not, signed or
UNSIGNED-PAYLOAD), signs each with the C signer (sigv4_sign, one process
for all, reading JSON lines) and with botocore's SigV4Auth / S3SigV4Auth /
SigV4QueryAuth / S3SigV4QueryAuth at the same instant, and compares the
canonical request, string to sign, signature and what is sent.

Prints one line per group (header or query signing, S3 or not) with the
number of requests compared, the differences found (at most a few in
full), and ends with "sigv4-botocore: N passed, N failed" (one test per
group).  Exits 1 on any difference.

    sigv4_botocore.py --signer build/sigv4_sign [--count N] [--seed S] \
        [-- WRAPPER...]

WRAPPER (valgrind and its options) runs the signer.
"""

import argparse
import datetime
import hashlib
import json
import random
import subprocess
import sys
import types
from urllib.parse import parse_qsl, quote, urlsplit

import botocore.auth
from botocore.auth import (S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth,
                           SigV4QueryAuth)
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

# botocore reads the clock itself: pin it to each request's instant
_now = datetime.datetime(2015, 8, 30, 12, 36, 0)


class _FixedClock(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return _now


botocore.auth.datetime = types.SimpleNamespace(datetime=_FixedClock)


class _Capture:
    """Records botocore's canonical request and string to sign."""

    def string_to_sign(self, request, canonical_request):
        sts = super().string_to_sign(request, canonical_request)
        self.captured = (canonical_request, sts)
        return sts


class CapSigV4Auth(_Capture, SigV4Auth):
    pass


class CapS3SigV4Auth(_Capture, S3SigV4Auth):
    pass


class CapSigV4QueryAuth(_Capture, SigV4QueryAuth):
    pass


class CapS3SigV4QueryAuth(_Capture, S3SigV4QueryAuth):
    pass


SERVICES = ["dynamodb", "firehose", "athena", "glue", "sts", "kinesis",
            "execute-api", "s3", "s3", "s3"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1",
           "cn-north-1"]
METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"]
SEGMENTS = ["a", "bucket", "key.txt", "b c", "\u00fcn\u00efc\u00f6d\u00e9",
            "\u65e5\u672c\u8a9e", "\U0001f600", "~user", "a+b", "a=b", "x;y",
            "!$&'()*,", "100%", "..", ".", "", "foo-bar_baz.tar.gz", "@:",
            "[x]", "q?r", "h#i", "tab\tch", "%41"]
QUERY_KEYS = ["a", "b", "Param", "param", "X-Id", "prefix", "max-keys",
              "list-type", "\u00e9t\u00e9", "sp ace", "a+b", "k=v", "&", "",
              "~t", "\U0001f600", "uploads", "acl"]
QUERY_VALUES = ["", "1", "value", "two words", "a/b", "a+b", "50%",
                "\u00e9", "=", "&", "~-._", "\u65e5\u672c", "x\ty",
                "2015-08-30T12:36:00Z"]
HEADER_NAMES = ["Content-Type", "X-Amz-Target", "X-Custom", "x-amz-meta-Foo",
                "My-Header", "content-md5", "X-Amz-Acl", "Range",
                "x-amz-request-payer", "Accept"]
HEADER_VALUES = ["application/x-amz-json-1.0", "  leading", "trailing  ",
                 "runs   of    spaces", "\ttabs\tand  spaces \t", "a, b",
                 "\"quoted   value\"", "", "   ", "bytes=0-9",
                 "Firehose_20150804.PutRecordBatch", "caf\u00e9",
                 "x\t \ty", "a:b:c"]
TOKEN_CHARS = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
               "0123456789+/=")


def encode_path_segment(rng, seg):
    """On-the-wire form of a path segment, escaped one of a few ways."""
    style = rng.random()
    if style < 0.4:
        return quote(seg, safe="-_.~")
    if style < 0.8:
        # RFC 3986 lets sub-delims, ':' and '@' stay raw in a path
        return quote(seg, safe="-_.~!$&'()*+,;=:@")
    # lower-case escapes are legal on the wire too
    return "".join(c if c.isalnum() and c.isascii() else
                   "".join("%%%02x" % b for b in c.encode())
                   for c in seg)


def aws_encode(s):
    return quote(s, safe="-_.~")


def make_case(rng, index):
    mode = "header" if index % 2 == 0 else "query"
    service = rng.choice(SERVICES)
    s3 = service == "s3"
    method = rng.choice(METHODS) if mode == "header" else rng.choice(["GET", "PUT", "HEAD", "DELETE"])
    nseg = rng.randint(0, 5)
    segs = [rng.choice(SEGMENTS) for _ in range(nseg)]
    path = "/" + "/".join(encode_path_segment(rng, s) for s in segs)
    if nseg and rng.random() < 0.3:
        path += "/"

    params = []
    used = set()
    for _ in range(rng.randint(0, 6)):
        key = rng.choice(QUERY_KEYS)
        if mode == "query":
            # botocore's presigner keeps one value a key
            if key in used:
                continue
            used.add(key)
        elif params and rng.random() < 0.25:
            key = params[-1][0]         # a repeated key
        if mode == "header" and key and rng.random() < 0.15:
            # a key with no '=' (an empty piece, "&&", is no parameter: the
            # signer skips it where botocore would sign "=")
            params.append((key, None))
        else:
            params.append((key, rng.choice(QUERY_VALUES)))
    query = "&".join(aws_encode(k) if v is None else aws_encode(k) + "=" + aws_encode(v)
                     for k, v in params) or None

    host = rng.choice([f"{service}.{{r}}.amazonaws.com",
                       "examplebucket.s3.amazonaws.com", "127.0.0.1:45530",
                       "localhost"])
    region = rng.choice(REGIONS)
    headers = [["Host", host.replace("{r}", region)]]
    for _ in range(rng.randint(0, 4)):
        if len(headers) > 1 and rng.random() < 0.2:
            name = headers[-1][0]       # a repeated header
        else:
            name = rng.choice(HEADER_NAMES)
            if rng.random() < 0.3:
                name = name.upper() if rng.random() < 0.5 else name.lower()
        headers.append([name, rng.choice(HEADER_VALUES)])

    body = b""
    if mode == "header" and method in ("POST", "PUT", "PATCH") and rng.random() < 0.7:
        body = rng.choice([b"{}", b"Param1=value1", "caf\u00e9 \u65e5".encode(),
                           bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))])
    unsigned = s3 and (mode == "query" or rng.random() < 0.3)

    token = None
    if rng.random() < 0.4:
        token = "".join(rng.choice(TOKEN_CHARS) for _ in range(rng.randint(16, 300)))
    secret = "".join(rng.choice(TOKEN_CHARS) for _ in range(40))
    timestamp = rng.randint(1262304000, 2208988800)  # 2010 to 2040
    return {
        "mode": mode, "method": method, "path": path, "query": query,
        "headers": headers, "body": body,
        "payload_hash": UNSIGNED_PAYLOAD if unsigned else hashlib.sha256(body).hexdigest(),
        "access_key_id": "AKID" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
        "secret_access_key": secret, "session_token": token,
        "region": region, "service": service, "timestamp": timestamp,
        "normalize_path": not s3, "sign_body": s3 and mode == "header",
        "omit_session_token": False,
        "expires": rng.randint(1, 604800),
    }


def botocore_sign(case):
    """Signs with botocore; returns what the C signer returns, in its terms."""
    global _now
    _now = datetime.datetime.utcfromtimestamp(case["timestamp"])
    creds = Credentials(case["access_key_id"], case["secret_access_key"],
                        case["session_token"])
    s3 = case["service"] == "s3"
    url = "https://" + case["headers"][0][1] + case["path"]
    if case["query"] is not None:
        url += "?" + case["query"]
    request = AWSRequest(method=case["method"], url=url, data=case["body"])
    for name, value in case["headers"][1:]:
        request.headers[name] = value   # appends: repeated headers stay
    request.headers["Host"] = case["headers"][0][1]
    if case["mode"] == "header":
        if s3 and case["payload_hash"] == UNSIGNED_PAYLOAD:
            request.context["client_config"] = types.SimpleNamespace(
                s3={"payload_signing_enabled": False})
        cls = CapS3SigV4Auth if s3 else CapSigV4Auth
        auth = cls(creds, case["service"], case["region"])
    else:
        cls = CapS3SigV4QueryAuth if s3 else CapSigV4QueryAuth
        auth = cls(creds, case["service"], case["region"], expires=case["expires"])
    auth.add_auth(request)
    canonical_request, string_to_sign = auth.captured
    if case["mode"] == "header":
        sent = {k.lower(): v for k, v in request.headers.items()
                if k.lower() in ("authorization", "x-amz-date",
                                 "x-amz-security-token", "x-amz-content-sha256")}
        signature = sent["authorization"].rsplit("Signature=", 1)[1]
    else:
        sent = sorted(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
        signature = dict(sent)["X-Amz-Signature"]
    return {"canonical_request": canonical_request,
            "string_to_sign": string_to_sign, "signature": signature,
            "sent": sent}


def c_sent(case, result):
    if case["mode"] == "header":
        return {k.lower(): v for k, v in result.get("add_headers") or []}
    return sorted(parse_qsl(result.get("presigned_query") or "", keep_blank_values=True))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--signer", required=True)
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--seed", type=int, default=20150830)
    parser.add_argument("wrapper", nargs="*")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    cases = [make_case(rng, i) for i in range(args.count)]
    lines = []
    for case in cases:
        c = dict(case)
        del c["body"]
        lines.append(json.dumps(c))
    proc = subprocess.run(args.wrapper + [args.signer], input="\n".join(lines) + "\n",
                          capture_output=True, text=True)
    sys.stderr.write(proc.stderr)
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    if proc.returncode != 0 or len(results) != len(cases):
        print(f"sigv4-botocore: the signer exited with status {proc.returncode} "
              f"after {len(results)} of {len(cases)} requests")
        print("sigv4-botocore: 0 passed, 1 failed")
        return 1

    groups = {}
    shown = 0
    for case, result in zip(cases, results):
        group = case["mode"] + ("/s3" if case["service"] == "s3" else "/other")
        stats = groups.setdefault(group, [0, 0])
        stats[0] += 1
        expected = botocore_sign(case)
        problems = []
        if result.get("error"):
            problems.append(f"signer error: {result['error']}")
        for field in ("canonical_request", "string_to_sign", "signature"):
            if result.get(field) != expected[field]:
                problems.append(f"{field} differs:\n--- botocore\n{expected[field]}\n"
                                f"--- audit_fdw\n{result.get(field)}")
        if c_sent(case, result) != expected["sent"]:
            problems.append(f"what is sent differs:\n--- botocore\n{expected['sent']}\n"
                            f"--- audit_fdw\n{c_sent(case, result)}")
        if problems:
            stats[1] += 1
            if shown < 3:
                shown += 1
                shown_case = dict(case, body=repr(case["body"]))
                print(f"    difference on {json.dumps(shown_case, ensure_ascii=False)}")
                for p in problems:
                    print("    " + p.replace("\n", "\n    "))

    passed = failed = 0
    total = sum(s[0] for s in groups.values())
    for group in sorted(groups):
        n, bad = groups[group]
        print(f"{'ok  ' if bad == 0 else 'FAIL'} {group}: {n} requests compared, "
              f"{bad} differences")
        if bad == 0:
            passed += 1
        else:
            failed += 1
    print(f"compared {total} requests with botocore "
          f"{botocore.__version__}, {sum(s[1] for s in groups.values())} differences")
    print(f"sigv4-botocore: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
