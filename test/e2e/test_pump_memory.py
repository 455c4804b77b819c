"""A reader's large buffers (src/aws/bigalloc.c): curl's, the GetRecords
page, the records transformed and PutRecordBatch's body share huge pages,
and a reader draining a backlog of megabyte pages touches two of them.

Each huge page a process touches first is 2 MiB the kernel zeroes: up to
3.5 ms where a hypervisor has taken the guest's free memory back.  A page
of its own for the GetRecords body (grown by doubling past 1 MiB), or a
megabyte page that found no 9 granules in a row free, took a third.
"""
import os
import threading

import pytest

from pump_env import pump, wait_for  # noqa: F401 (pump: a fixture)

RECORDS = 2000
ITEMS = 500
THP = "/sys/kernel/mm/transparent_hugepage/enabled"


def order_item(i, round_):
    """About 1.6 KB of stream record with both images: GetRecords pages of
    1 MB, about 650 records each."""
    return {
        "orderId": {"S": "o%04d" % i},
        "state": {"S": ["OPEN", "PICKEDUP", "DELIVERED", "RETURNED"][round_ % 4]},
        "customer": {"M": {"name": {"S": "Customer %d" % i},
                           "email": {"S": "c%d@example.com" % i},
                           "address": {"M": {"city": {"S": "Lisboa"},
                                             "zip": {"S": "1000-%03d" % i}}}}},
        "lines": {"L": [{"M": {"sku": {"S": "SKU-%d" % k}, "qty": {"N": str(k + 1)},
                               "price": {"N": "%d.%02d" % (10 + k, i % 100)}}}
                        for k in range(3)]},
        "total": {"N": "%d.%02d" % (100 + i, round_ % 100)},
        "tags": {"SS": ["priority", "eu", "r%d" % round_]},
        "lastUpdatedDate": {"N": str(1705337067000 + round_ * 60000 + i)},
        "note": {"S": "leave at the door, ring twice"},
        "paid": {"BOOL": round_ % 2 == 0},
    }


def huge_page_kib(pid):
    """AnonHugePages of the process's mappings marked MADV_HUGEPAGE ("hg"
    in VmFlags): bigalloc's pages, whatever else the kernel backs with huge
    pages when transparent huge pages are "always"."""
    total = 0
    anon = 0
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if line.startswith("AnonHugePages:"):
                anon = int(line.split()[1])
            elif line.startswith("VmFlags:"):
                if "hg" in line.split()[1:]:
                    total += anon
                anon = 0
    return total


def test_a_reader_draining_megabyte_pages_touches_two_huge_pages(pump, emulator):
    with open(THP) as f:
        if "[never]" in f.read():
            pytest.skip("transparent huge pages are disabled here: bigalloc's pages are 4 KiB")
    env = pump("hugepages", create_pipeline=False)

    def writer(k):
        client = emulator.client("dynamodb")
        for n in range(k, RECORDS, 4):
            client.put_item(TableName=env.table, Item=order_item(n % ITEMS, n // ITEMS))
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    env.create_pipeline(max_batching_window="1 second")
    seen = {}

    def sample():
        # each reader's huge pages, read while it runs
        for pid in env.reader_pids():
            try:
                seen[pid] = max(seen.get(pid, 0), huge_page_kib(pid))
            except OSError:
                pass
        return env.delivered() >= RECORDS
    wait_for("the backlog delivered", sample, timeout=120, interval=0.05)
    assert env.delivered() == RECORDS
    assert seen, "no reader was seen"
    if max(seen.values()) == 0:
        pytest.skip("the kernel backed no buffer with a huge page (%r)" % seen)
    assert max(seen.values()) <= 2 * 2048, \
        "a reader touched more than two huge pages (AnonHugePages kB by pid: %r)" % seen
