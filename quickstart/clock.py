#!/usr/bin/python3
"""The quickstart's story spans three days, played in seconds by moving the
emulator's clock (DynamoDB's stream timestamps, Firehose's hour folders and
Athena's NOW follow it; PostgreSQL keeps the real time).

    clock.py start      moves the clock to the next 09:00 UTC, before anything exists
    clock.py next-day   moves it 22 hours ahead: the next morning

Why 22 hours, not 24: a stream keeps records 24 hours.  After a jump, the
pump's shard iterators have expired (15 minutes) and it renews them from its
checkpoint, the last record it delivered; that record must still be in the
stream, so a jump stays under a day, as time passing for real would.
"""
import datetime
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "lib"))
from emulator_control import Emulator  # noqa: E402


def now(emu):
    with urllib.request.urlopen(emu.url + "/_emulator/clock", timeout=30) as resp:
        return json.loads(resp.read())["now"]


def show(epoch):
    t = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    print("   the emulator's clock: " + t.strftime("%A %Y-%m-%d %H:%M UTC"))


def main():
    emu = Emulator()
    if sys.argv[1:] == ["start"]:
        t = now(emu)
        day = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).replace(
            hour=9, minute=0, second=0, microsecond=0)
        if day.timestamp() <= t:
            day += datetime.timedelta(days=1)
        show(emu.advance_clock(day.timestamp() - t)["now"])
    elif sys.argv[1:] == ["next-day"]:
        show(emu.advance_clock(22 * 3600)["now"])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
