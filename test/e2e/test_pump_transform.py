"""The pump's C transform against boto3's TypeDeserializer.

A generated corpus of stream records (test/lib/pump_corpus.py: every
attribute type, nested maps and lists, 38-digit and exponent-form numbers,
binary, unicode, empty strings and sets) goes through the C transform
(src/pump/transform.c, run by test/lib/pump_transform_driver.c) and through
botocore's GetRecords parser plus boto3's TypeDeserializer.  Every value must
agree, with the audit record's rules for what JSON cannot carry (see
transform.c): N as the text of str(Decimal), sets as arrays, binary as
canonical base64.
"""
import base64
import datetime
import decimal
import json
import os
import subprocess
import sys

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pump_corpus  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    exe = str(tmp_path_factory.mktemp("pump") / "pump_transform_driver")
    cflags = subprocess.check_output(["pkg-config", "--cflags", "json-c", "nettle"], text=True).split()
    libs = subprocess.check_output(["pkg-config", "--libs", "json-c", "nettle"], text=True).split()
    subprocess.check_call(["cc", "-O2", "-Wall", "-Werror", "-I", os.path.join(REPO, "src"), *cflags,
                           os.path.join(REPO, "test/lib/pump_transform_driver.c"),
                           os.path.join(REPO, "src/pump/transform.c"),
                           os.path.join(REPO, "src/aws/bigalloc.c"), *libs, "-lm", "-o", exe])
    return exe


def wire_text(i, record):
    """The record as JSON text, in turn compact and UTF-8 (as GetRecords
    writes it), spaced with \\u escapes, and indented."""
    form = i % 3
    if form == 0:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    if form == 1:
        return json.dumps(record, ensure_ascii=True)
    return json.dumps(record, indent=1).replace("\n", "\r\t ")


def run_driver(driver, wire_records, shard="shardId-00000001-abc", table="Orders", mode="convert"):
    data = "".join(wire_text(i, r) + "\n" for i, r in enumerate(wire_records))
    out = subprocess.run([driver, mode, shard, table], input=data.encode(),
                         stdout=subprocess.PIPE, check=True).stdout
    lines = out.decode("utf-8").split("\n")
    assert lines[-1] == "", "output does not end with a newline"
    return [line + "\n" for line in lines[:-1]]


class Num(str):
    """A JSON number's text, as written."""


def strict_load(line):
    def no_constants(name):
        raise ValueError("non-JSON constant " + name)

    def pairs(items):
        keys = [k for k, _ in items]
        assert len(keys) == len(set(keys)), "duplicate keys %r" % keys
        return dict(items)
    return json.loads(line, parse_float=Num, parse_int=Num, parse_constant=no_constants,
                      object_pairs_hook=pairs)


def canon(value):
    """A sortable text for a set element (boto3 side or C side)."""
    if isinstance(value, Binary):
        return "B" + base64.b64encode(value.value).decode()
    if isinstance(value, decimal.Decimal):
        return "N" + str(value)
    if isinstance(value, Num):
        return "N" + value
    if isinstance(value, str):
        return "S" + value
    raise AssertionError("unexpected set element %r" % (value,))


def same(c, ref, path):
    """Asserts that the C value c means what boto3's value ref means."""
    if ref is None:
        assert c is None, path
    elif isinstance(ref, bool):
        assert c is ref, path
    elif isinstance(ref, decimal.Decimal):
        assert isinstance(c, Num) and c == str(ref), "%s: %r != %s" % (path, c, ref)
    elif isinstance(ref, Binary):
        assert isinstance(c, str) and not isinstance(c, Num) and \
            c == base64.b64encode(ref.value).decode(), path
    elif isinstance(ref, str):
        assert isinstance(c, str) and not isinstance(c, Num) and c == ref, "%s: %r != %r" % (path, c, ref)
    elif isinstance(ref, (set, frozenset)):
        assert isinstance(c, list) and len(c) == len(ref), path
        if ref:
            kind = canon(next(iter(ref)))[0]
            # C's elements: numbers for NS, strings (base64 for BS) otherwise
            assert all(isinstance(x, Num) == (kind == "N") and isinstance(x, str) for x in c), path
            assert sorted(kind + x for x in c) == sorted(canon(x) for x in ref), path
    elif isinstance(ref, dict):
        assert isinstance(c, dict) and list(c) == list(ref), "%s: keys %r != %r" % (path, list(c), list(ref))
        for k in ref:
            same(c[k], ref[k], path + "." + k)
    elif isinstance(ref, list):
        assert isinstance(c, list) and len(c) == len(ref), path
        for i, (x, y) in enumerate(zip(c, ref)):
            same(x, y, "%s[%d]" % (path, i))
    else:
        raise AssertionError("%s: unexpected boto3 value %r" % (path, ref))


def check_record(line, parsed, shard, table):
    """One C audit record against the botocore-parsed stream record."""
    assert line.endswith("\n") and line.count("\n") == 1 and line[0] == "{" and line[-2] == "}"
    c = strict_load(line)
    deser = TypeDeserializer()
    ddb = parsed["dynamodb"]
    when = ddb["ApproximateCreationDateTime"].astimezone(datetime.timezone.utc)
    want = {
        "event_id": parsed["eventID"],
        "event_name": parsed["eventName"],
        "event_time": when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        "sequence_number": ddb["SequenceNumber"],
        "shard_id": shard,
        "source_table": table,
        "aws_region": parsed["awsRegion"],
    }
    if "userIdentity" in parsed:
        want["user_identity"] = {"type": parsed["userIdentity"]["Type"],
                                 "principal_id": parsed["userIdentity"]["PrincipalId"]}
    for src, dst in (("Keys", "keys"), ("NewImage", "new_image"), ("OldImage", "old_image")):
        if src in ddb:
            want[dst] = {k: deser.deserialize(v) for k, v in ddb[src].items()}
            # the key attributes' hashes, after keys (Python's hashlib)
            if dst == "keys" and pump_corpus.key_hashes(want["keys"]):
                want["key_hash"] = pump_corpus.key_hashes(want["keys"])
    same(c, want, "record")


def attribute_types(value, seen):
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL") and len(value) == 1:
                seen.add(k)
                if k in ("SS", "NS", "BS") and not v:
                    seen.add("empty " + k)
                if k == "S" and v == "":
                    seen.add("empty S")
                if k == "N" and ("e" in v.lower() or len(v.strip("-+.0")) >= 38):
                    seen.add("N exponent" if "e" in v.lower() else "N 38 digits")
            attribute_types(v, seen)
    elif isinstance(value, list):
        for v in value:
            attribute_types(v, seen)


def test_corpus_matches_type_deserializer(driver):
    wire = pump_corpus.records(3000, seed=42)
    seen = set()
    attribute_types(wire, seen)
    # the corpus covers what it claims to cover
    assert seen >= {"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL", "empty S",
                    "empty SS", "empty NS", "empty BS", "N exponent", "N 38 digits"}, seen
    lines = run_driver(driver, wire)
    assert len(lines) == len(wire)
    parsed = pump_corpus.botocore_records(wire)
    for line, rec in zip(lines, parsed):
        assert not line.startswith("!BAD"), line
        check_record(line, rec, "shardId-00000001-abc", "Orders")


def test_text_and_tree_entry_points_agree(driver):
    """The pump reads records as text; audit_transform_record takes json-c trees."""
    wire = pump_corpus.records(500, seed=9)
    text = run_driver(driver, wire)
    tree = run_driver(driver, wire, mode="convert-tree")
    assert len(text) == len(tree) == 500
    for a, b in zip(text, tree):
        assert strict_load(a) == strict_load(b)


def test_number_edge_cases_exact(driver):
    wire = []
    for i, n in enumerate(pump_corpus.NUMBER_EDGE_CASES):
        rec = pump_corpus.seed_records()[0]
        rec["eventID"] = "n%d" % i
        rec["dynamodb"]["NewImage"] = {"n": {"N": n}, "ns": {"NS": [n]}}
        wire.append(rec)
    lines = run_driver(driver, wire)
    for n, line in zip(pump_corpus.NUMBER_EDGE_CASES, lines):
        text = str(TypeDeserializer().deserialize({"N": n}))
        assert '"new_image":{"n":%s,"ns":[%s]}' % (text, text) in line, (n, line)
        # the exact value, not a float's
        assert decimal.Decimal(strict_load(line)["new_image"]["n"]) == decimal.Decimal(n)


def test_seed_scenario_records(driver):
    wire = pump_corpus.seed_records()
    lines = run_driver(driver, wire, shard="shardId-1", table="Orders")
    states = [strict_load(line)["new_image"]["state"] for line in lines]
    assert states == ["OPEN", "PICKEDUP", "DELIVERED", "RETURNED"]
    first = strict_load(lines[0])
    assert first["event_name"] == "INSERT" and "old_image" not in first
    assert first["event_time"] == "2024-01-15 16:44:27.000"
    assert first["new_image"]["lastUpdatedDate"] == "1705337067000"
    assert strict_load(lines[3])["old_image"]["state"] == "DELIVERED"
    for line, rec in zip(lines, pump_corpus.botocore_records(wire)):
        check_record(line, rec, "shardId-1", "Orders")


def test_bad_records_are_reported(driver):
    good = pump_corpus.seed_records()[0]
    bad = [
        {"eventID": "x", "dynamodb": {"SequenceNumber": "1", "ApproximateCreationDateTime": 1,
                                      "NewImage": {"a": {"Z": "1"}}}},
        {"eventID": "x", "dynamodb": {"SequenceNumber": "1", "ApproximateCreationDateTime": 1,
                                      "NewImage": {"a": {"N": "12abc"}}}},
        {"eventID": "x", "dynamodb": {"ApproximateCreationDateTime": 1}},
        {"dynamodb": {"SequenceNumber": "1"}},
    ]
    lines = run_driver(driver, [good] + bad + [good])
    assert lines[0] == lines[-1] and not lines[0].startswith("!BAD")
    assert all(line.startswith("!BAD ") for line in lines[1:-1]), lines


def test_lambda_logic_agrees_on_plain_values():
    """The benchmark's Lambda transform writes the same record (floats aside)."""
    wire = pump_corpus.seed_records()
    rec = pump_corpus.botocore_records(wire)[1]
    out = json.loads(pump_corpus.lambda_transform(rec, "shardId-1", "Orders"))
    assert out["new_image"]["state"] == "PICKEDUP" and out["old_image"]["state"] == "OPEN"
    assert out["event_time"] == "2024-01-15 16:45:27.000"
