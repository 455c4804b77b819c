#!/usr/bin/python3
"""Audit records for the pushdown tests and benchmark, written into the
emulator's S3 as Firehose writes them.

Each order goes OPEN -> PICKEDUP -> DELIVERED, some then RETURNED, some are
REMOVEd, with item attributes of every mapped type and strings that stress
the dialect (quotes, backslashes, % and _, unicode, empty, missing).  A
record reaches S3 a little after it happens (0..10 minutes): it lands in
the folder of its delivery hour, yyyy/MM/dd/HH/ under the table's location,
in an object named as Firehose names them.  The audit table over them is
created with audit_fdw.create_audit_table (provisioning's definition, with
partition projection over those folders).

With attribute folders (README, Attribute folders; as the pump writes them),
each record also carries "attribute_folder", its last member, and lands in
a folder of that name under its hour (and key bucket): the new image's
state when it is a declared string, _none when there is no new image or no
state (or a null one), _other for anything else.  odd_states puts, in a few
records, states a declaration may miss: an undeclared string, a number, a
boolean, a null, none at all.

    python3 test/lib/pushdown_fixture.py --bucket B --prefix P --orders N \
        [--days D] [--start 2024-01-01] [--seed S]
"""
import argparse
import datetime
import hashlib
import json
import os
import random
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulator_control import Emulator  # noqa: E402

ITEM_COLUMNS = ("orderId string, state string, note string, qty int, "
                "amount decimal(12,2), weight double, express boolean, "
                "lastUpdatedDate bigint, ratio float")
KEY_COLUMNS = "orderId string"

NOTES = [
    "plain", "it's", "say \"hi\"", "back\\slash", "C:\\path\\_x", "100%", "50% off",
    "a_b", "a%b_c", "under_score", "Zürich", "ÉCOLE", "école", "straße", "日本語",
    "emoji 🎉", "Ωmega", "", "  spaced  ", "MiXeD CaSe", "line\nbreak", "tab\tstop",
    "comma, here", "zz", "AA", "aa", "\\%", "%_%", "x'; DROP TABLE t; --",
]

STATES = ["OPEN", "PICKEDUP", "DELIVERED"]
# every state a record of the fixture can have (the bench declares them all)
ALL_STATES = ["OPEN", "PICKEDUP", "DELIVERED", "RETURNED", "CANCELLED"]
# with odd_states: values of state that no declaration of strings holds
ODD_STATES = ["ON_HOLD", 7, True, None, "missing", "open", "DELIVERED "]
RATIOS = [0.1, 0.5, 1.1, 2.2, 0.3, 100.25, -7.7, 1e-3, 3.4028235e38, 16777217.0]


def records(orders, start, days, rng, odd_states=False):
    """The audit records, in event order; with odd_states, about one item in
    eight has a state from ODD_STATES instead (drawn from a generator of its
    own, so that the other attributes stay as they are without)."""
    out = []
    span = days * 86400
    for n in range(orders):
        order_id = str(100 + n)
        t = start + datetime.timedelta(seconds=rng.randrange(span),
                                       milliseconds=rng.randrange(1000))
        states = list(STATES)
        if rng.random() < 0.3:
            states.append("RETURNED")
        if rng.random() < 0.1:
            states.append("CANCELLED")
        prev = None
        seq = rng.randrange(10**20, 10**21)
        for i, state in enumerate(states):
            item = {"orderId": order_id, "state": state,
                    "lastUpdatedDate": int(t.timestamp())}
            if rng.random() < 0.85:
                item["note"] = rng.choice(NOTES)
            if rng.random() < 0.9:
                item["qty"] = rng.randrange(-3, 40)
            if rng.random() < 0.9:
                item["amount"] = float(f"{rng.randrange(-500, 100000) / 100:.2f}")
            if rng.random() < 0.85:
                item["weight"] = rng.choice([0.5, 1.25, 2.0, 3.75, 10.0, 0.1])
            if rng.random() < 0.8:
                item["express"] = rng.random() < 0.4
            # Glue float is Athena's REAL: values that float4 rounds.  Drawn
            # from a generator of its own, so the other attributes stay as
            # they were before ratio existed.
            side = random.Random(seq + i)
            if side.random() < 0.8:
                item["ratio"] = side.choice(RATIOS)
            odd = random.Random(-(seq + i))
            if odd_states and odd.random() < 0.125:
                item["state"] = odd.choice(ODD_STATES)
                if item["state"] == "missing":
                    del item["state"]
            out.append(record(rng, order_id, "INSERT" if prev is None else "MODIFY",
                              t, seq + i, item, prev))
            prev = item
            t += datetime.timedelta(hours=rng.randrange(1, 60),
                                    seconds=rng.randrange(3600),
                                    milliseconds=rng.randrange(1000))
        if rng.random() < 0.1:
            out.append(record(rng, order_id, "REMOVE", t, seq + len(states), None, prev))
    out.sort(key=lambda r: r["event_time"])
    return out


def record(rng, order_id, name, t, seq, new, old):
    r = {"event_id": uuid.UUID(int=rng.getrandbits(128)).hex, "event_name": name,
         "event_time": t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}",
         "sequence_number": str(seq), "shard_id": "shardId-000000000001",
         "source_table": "Orders", "aws_region": "us-east-1",
         "keys": {"orderId": order_id},
         # as the pump writes it (pump/transform.c): SHA-256 of the key's
         # value, last 8 hex digits
         "key_hash": {"orderId": key_hash(order_id)}}
    if new is not None:
        r["new_image"] = new
    if old is not None:
        r["old_image"] = old
    return r


def attribute_folder(r, attribute, declared):
    """The folder of a record (README, Attribute folders): the new image's attribute when it
    is a declared string, _none when it has none (no new image, no such
    attribute, null), _other otherwise (an undeclared string, a number, a
    boolean)."""
    image = r.get("new_image")
    if image is None or image.get(attribute) is None:
        return "_none"
    value = image[attribute]
    return value if isinstance(value, str) and value in declared else "_other"


def key_hash(value):
    """The audit record's key_hash of a key value (pump/transform.c)."""
    return hashlib.sha256(value.encode()).hexdigest()[-8:]


def write(emulator, bucket, prefix, recs, rng, layout="delivery_time", bucket_digits=0,
          folders=None):
    """Firehose's objects: one per delivery hour, named as Firehose does; with
    layout 'event_time', one per event hour (dynamic partitioning by the
    record's event_time, as create_delivery_stream's layout => 'event_time');
    with bucket_digits, one per event hour and key bucket (the last digits
    of the key_hash, as create_delivery_stream's key_buckets); with folders
    (attribute, declared values), one per hour, bucket and attribute folder,
    each record with its attribute_folder member."""
    s3 = emulator.client("s3")
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    by_hour = {}
    for r in recs:
        t = datetime.datetime.strptime(r["event_time"], "%Y-%m-%d %H:%M:%S.%f")
        arrival = t + datetime.timedelta(seconds=rng.randrange(600))
        folder = t if layout == "event_time" else arrival
        b = r["key_hash"]["orderId"][-bucket_digits:] + "/" if bucket_digits else ""
        if folders:
            r = dict(r, attribute_folder=attribute_folder(r, *folders))
            b += r["attribute_folder"] + "/"
        by_hour.setdefault((folder.replace(minute=0, second=0, microsecond=0), b),
                           []).append(r)
    for (hour, b), rows in sorted(by_hour.items()):
        key = (f"{prefix}{hour:%Y/%m/%d/%H}/{b}orders-audit-1-"
               f"{hour:%Y-%m-%d-%H}-00-00-{uuid.UUID(int=rng.getrandbits(128))}")
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    return len(by_hour)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--prefix", required=True, help="key prefix, ending in /")
    ap.add_argument("--orders", type=int, default=40)
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--start", default="2024-01-01")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--results-bucket", help="also create this bucket (query results)")
    ap.add_argument("--fast", action="store_true",
                    help="set the emulator's athena_min_query_ms to 0")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    start = datetime.datetime.strptime(args.start, "%Y-%m-%d")
    recs = records(args.orders, start, args.days, rng)
    emulator = Emulator()
    write(emulator, args.bucket, args.prefix, recs, rng)
    if args.results_bucket:
        s3 = emulator.client("s3")
        try:
            s3.create_bucket(Bucket=args.results_bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    if args.fast:
        emulator.configure(athena_min_query_ms=0)


if __name__ == "__main__":
    main()
