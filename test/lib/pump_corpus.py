"""DynamoDB stream records for the pump's transform test and benchmark, and
the Lambda logic the pump replaces.

records(n, seed) generates stream records in GetRecords' wire JSON covering
every attribute type (S, N, B, SS, NS, BS, M, L, NULL, BOOL), nested maps and
lists, 38-digit and exponent-form numbers, binary, unicode, empty strings and
empty sets, and every stream view type.

order_item(i, round_) is the benchmarks' order item, an orders table's item
of a fixed shape.

botocore_records(wire_records) parses them the way a botocore client does
(base64 decoded to bytes, timestamps to datetime), and lambda_transform() is
the usual Lambda: boto3's TypeDeserializer then json.dumps, one record a
line.
"""
import base64
import datetime
import decimal
import hashlib
import json
import random

import botocore.parsers
import botocore.session
from boto3.dynamodb.types import Binary, TypeDeserializer

UNICODE_SAMPLES = [
    "", "a", "order", "ünïcödé", "日本語のテキスト", "emoji \U0001F600\U0001F680",
    "quote \" backslash \\ slash /", "tab\tnew\nline\rcr", "ctl \x01\x02\x1f\x7f",
    "nul \x00 inside", "\u2028\u2029 separators", "RTL \u05e9\u05dc\u05d5\u05dd",
    "surrogate pair \U00010348", "x" * 300,
]

NUMBER_EDGE_CASES = [
    "0", "-0", "1", "-1", "100", "1E2", "1e+2", "1.50", "0.5", ".5", "5.",
    "007", "+5", "0.00", "0.000001", "0.0000001", "1.2E-7", "12.5E3", "123E-2",
    "99999999999999999999999999999999999999", "-99999999999999999999999999999999999999",
    "12345678901234567890123456789012345678", "0.12345678901234567890123456789012345678",
    "1234567890123456789.0123456789012345678", "9.9999999999999999999999999999999999999E+125",
    "-9.9999999999999999999999999999999999999E+125", "1E-130", "-1E-130", "1E+125",
    "3.14159265358979323846264338327950288", "1E-6", "1E-7", "0E+3", "0.0E-5",
    "1700000000", "18446744073709551616", "9007199254740993",
]


def random_number(rng):
    """A DynamoDB number in one of the textual forms a client may send."""
    if rng.random() < 0.2:
        return rng.choice(NUMBER_EDGE_CASES)
    ndigits = rng.choice([1, 1, 2, 3, 5, 10, 17, 20, 30, 37, 38])
    digits = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(ndigits - 1))
    sign = rng.choice(["", "", "-"])
    form = rng.randint(0, 4)
    if form == 0:                                  # integer
        return sign + digits
    if form == 1:                                  # decimal point inside
        point = rng.randint(1, len(digits))
        return sign + digits[:point] + "." + digits[point:] if point < len(digits) else sign + digits
    if form == 2:                                  # small fraction
        return sign + "0." + "0" * rng.randint(0, 8) + digits
    exp = rng.randint(-110, 120 - len(digits))     # exponent form, inside DynamoDB's range
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return sign + mant + rng.choice(["E", "e"]) + rng.choice(["", "+"] if exp >= 0 else [""]) + str(exp)


def random_string(rng):
    if rng.random() < 0.5:
        return rng.choice(UNICODE_SAMPLES)
    n = rng.randint(0, 40)
    alphabet = "abcXYZ019 _-\"\\/\n\té漢\U0001F600"
    return "".join(rng.choice(alphabet) for _ in range(n))


def random_bytes(rng):
    return bytes(rng.randint(0, 255) for _ in range(rng.choice([0, 1, 2, 3, 4, 5, 16, 100])))


def b64(data):
    return base64.b64encode(data).decode()


def random_value(rng, depth=0):
    kinds = ["S", "N", "B", "SS", "NS", "BS", "NULL", "BOOL"]
    if depth < 4:
        kinds += ["M", "L", "M", "L"]
    kind = rng.choice(kinds)
    if kind == "S":
        return {"S": random_string(rng)}
    if kind == "N":
        return {"N": random_number(rng)}
    if kind == "B":
        return {"B": b64(random_bytes(rng))}
    if kind == "SS":
        return {"SS": list(dict.fromkeys(random_string(rng) for _ in range(rng.randint(0, 5))))}
    if kind == "NS":
        seen, out = set(), []
        for _ in range(rng.randint(0, 5)):
            n = random_number(rng)
            if decimal.Decimal(n) not in seen:
                seen.add(decimal.Decimal(n))
                out.append(n)
        return {"NS": out}
    if kind == "BS":
        return {"BS": [b64(b) for b in dict.fromkeys(random_bytes(rng) for _ in range(rng.randint(0, 4)))]}
    if kind == "NULL":
        return {"NULL": True}
    if kind == "BOOL":
        return {"BOOL": rng.random() < 0.5}
    if kind == "M":
        return {"M": {random_name(rng, i): random_value(rng, depth + 1) for i in range(rng.randint(0, 5))}}
    return {"L": [random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]}


def random_name(rng, i):
    return rng.choice(["a", "state", "lastUpdatedDate", "名前", "with space", "q\"uote", ""]) + str(i)


def random_item(rng, order_id):
    item = {"orderId": {"S": order_id}}
    for i in range(rng.randint(1, 10)):
        item[random_name(rng, i)] = random_value(rng)
    return item


def order_item(i, round_):
    """The benchmarks' order item i at its round_-th change: a map, a list of
    maps, a string set, numbers and about 1.6 KB of stream record with both
    images (GetRecords pages of 1 MB hold about 650)."""
    return {
        "orderId": {"S": "o%04d" % i},
        "state": {"S": ["OPEN", "PICKEDUP", "DELIVERED", "RETURNED"][round_ % 4]},
        "customer": {"M": {"name": {"S": "Customer %d" % i}, "email": {"S": "c%d@example.com" % i},
                           "address": {"M": {"city": {"S": "Lisboa"}, "zip": {"S": "1000-%03d" % i}}}}},
        "lines": {"L": [{"M": {"sku": {"S": "SKU-%d" % k}, "qty": {"N": str(k + 1)},
                               "price": {"N": "%d.%02d" % (10 + k, i % 100)}}} for k in range(3)]},
        "total": {"N": "%d.%02d" % (100 + i, round_ % 100)},
        "tags": {"SS": ["priority", "eu", "r%d" % round_]},
        "lastUpdatedDate": {"N": str(1705337067000 + round_ * 60000 + i)},
        "note": {"S": "leave at the door, ring twice — obrigado"},
        "paid": {"BOOL": round_ % 2 == 0},
    }


def records(n, seed=1):
    """n stream records in GetRecords' wire JSON, reproducible from seed."""
    rng = random.Random(seed)
    out = []
    t0 = 1705337067
    for i in range(n):
        order_id = str(100 + rng.randint(0, 500))
        view = rng.choice(["NEW_AND_OLD_IMAGES", "NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY"])
        event = rng.choice(["INSERT", "MODIFY", "MODIFY", "REMOVE"])
        ddb = {
            "ApproximateCreationDateTime": rng.choice([t0 + i, t0 + i + 0.5, t0 + i + rng.randint(0, 999) / 1000.0]),
            "Keys": {"orderId": {"S": order_id}},
            "SequenceNumber": str(10 ** 20 + i * 100 + rng.randint(0, 99)).zfill(21 + rng.randint(0, 19)),
            "SizeBytes": rng.randint(10, 4000),
            "StreamViewType": view,
        }
        if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and event != "REMOVE":
            ddb["NewImage"] = random_item(rng, order_id)
        if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and event != "INSERT":
            ddb["OldImage"] = random_item(rng, order_id)
        rec = {"eventID": "%032x" % rng.getrandbits(128), "eventName": event, "eventVersion": "1.1",
               "eventSource": "aws:dynamodb", "awsRegion": rng.choice(["us-east-1", "eu-west-1"]),
               "dynamodb": ddb}
        if event == "REMOVE" and rng.random() < 0.3:
            rec["userIdentity"] = {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
        out.append(rec)
    return out


def seed_records():
    """The seed's scenario: order 101 OPEN -> PICKEDUP -> DELIVERED -> RETURNED."""
    out, old = [], None
    for i, state in enumerate(["OPEN", "PICKEDUP", "DELIVERED", "RETURNED"]):
        new = {"orderId": {"S": "101"}, "state": {"S": state},
               "lastUpdatedDate": {"N": str(1705337067000 + i * 60000)},
               "customer": {"M": {"name": {"S": "Ana"}, "tags": {"SS": ["vip", "eu"]}}}}
        ddb = {"ApproximateCreationDateTime": 1705337067 + i * 60, "Keys": {"orderId": {"S": "101"}},
               "NewImage": new, "SequenceNumber": "%021d" % (1000 + i), "SizeBytes": 120,
               "StreamViewType": "NEW_AND_OLD_IMAGES"}
        if old:
            ddb["OldImage"] = old
        out.append({"eventID": "seed%04d" % i, "eventName": "INSERT" if i == 0 else "MODIFY",
                    "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                    "dynamodb": ddb})
        old = new
    return out


_parser = None


def botocore_records(wire_records):
    """The records as a botocore client returns them from GetRecords."""
    global _parser
    if _parser is None:
        model = botocore.session.get_session().get_service_model("dynamodbstreams")
        _parser = (botocore.parsers.create_parser("json"), model.operation_model("GetRecords").output_shape)
    parser, shape = _parser
    body = json.dumps({"Records": wire_records}).encode()
    return parser.parse({"body": body, "headers": {}, "status_code": 200}, shape)["Records"]


# ---- the Lambda logic the pump replaces ----

_deserializer = TypeDeserializer()


def _default(value):
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, Binary):
        return base64.b64encode(value.value).decode()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(type(value))


def lambda_transform(record, shard_id, source_table):
    """One botocore-parsed stream record -> one audit record line (the seed's Lambda)."""
    ddb = record["dynamodb"]
    deser = _deserializer.deserialize
    out = {
        "event_id": record["eventID"],
        "event_name": record["eventName"],
        "event_time": ddb["ApproximateCreationDateTime"].astimezone(datetime.timezone.utc)
        .strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        "sequence_number": ddb["SequenceNumber"],
        "shard_id": shard_id,
        "source_table": source_table,
        "aws_region": record.get("awsRegion"),
    }
    if "userIdentity" in record:
        out["user_identity"] = {"type": record["userIdentity"].get("Type"),
                                "principal_id": record["userIdentity"].get("PrincipalId")}
    for src, dst in (("Keys", "keys"), ("NewImage", "new_image"), ("OldImage", "old_image")):
        if src in ddb:
            out[dst] = {k: deser(v) for k, v in ddb[src].items()}
            if dst == "keys":
                hashes = key_hashes(out["keys"])
                if hashes:
                    out["key_hash"] = hashes
    return json.dumps(out, default=_default, ensure_ascii=False) + "\n"


def key_hash(text):
    """The audit record's key_hash of one key value's text (transform.c):
    the last 8 hex digits of its SHA-256."""
    return hashlib.sha256(text.encode()).hexdigest()[-8:]


def key_hashes(keys):
    """key_hash for unmarshalled keys: strings by their content, numbers by
    their text as the record writes them (str of the Decimal), binary by
    its base64 text."""
    out = {}
    for name, value in keys.items():
        if isinstance(value, str):
            out[name] = key_hash(value)
        elif isinstance(value, decimal.Decimal):
            out[name] = key_hash(str(value))
        elif isinstance(value, Binary):
            out[name] = key_hash(base64.b64encode(value.value).decode())
        elif isinstance(value, (bytes, bytearray)):
            out[name] = key_hash(base64.b64encode(value).decode())
    return out
