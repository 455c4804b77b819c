#!/usr/bin/python3
"""Waits until the audit records of the story are in S3, showing them arrive.

    arrivals.py [--list] BUCKET PREFIX DELIVERY_STREAM EXPECTED

Each round asks the emulator's Firehose to flush its buffer now (a real one
writes every 60 seconds, or every 5 MiB) and counts the audit records, one
a line, in the objects under s3://BUCKET/PREFIX.  Gives up after two
minutes.  With --list, prints the objects at the end.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "lib"))
from emulator_control import Emulator  # noqa: E402


def count(s3, bucket, prefix):
    objects = []
    kw = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = s3.list_objects_v2(**kw)
        objects += page.get("Contents", [])
        if not page.get("IsTruncated"):
            break
        kw["ContinuationToken"] = page["NextContinuationToken"]
    lines = sum(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().count(b"\n")
                for o in objects)
    return objects, lines


def main():
    args = sys.argv[1:]
    listing = args[:1] == ["--list"]
    if listing:
        args = args[1:]
    if len(args) != 4:
        sys.exit(__doc__)
    bucket, prefix, stream, expected = args[0], args[1], args[2], int(args[3])
    emu = Emulator()
    s3 = emu.client("s3")
    tty = sys.stdout.isatty()
    deadline = time.monotonic() + 120
    while True:
        emu.flush_firehose(stream)
        objects, lines = count(s3, bucket, prefix)
        if tty:
            print(f"\r   in S3: {lines} of {expected} audit records", end="", flush=True)
        if lines >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if tty:
        print()
    else:
        print(f"   in S3: {lines} of {expected} audit records")
    for o in objects if listing else []:
        print(f"   s3://{bucket}/{o['Key']}  ({o['Size']} bytes)")
    if lines < expected:
        sys.exit(f"quickstart: {expected} audit records expected in S3 within two minutes, "
                 f"found {lines}")


if __name__ == "__main__":
    main()
