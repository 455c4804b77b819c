"""A reader's large buffers (src/aws/bigalloc.c): curl's, the GetRecords
page, the records transformed and PutRecordBatch's body share huge pages,
and a reader draining a backlog of megabyte pages touches two of them.

Each huge page a process touches first is 2 MiB the kernel zeroes: up to
3.5 ms where a hypervisor has taken the guest's free memory back.  A page
of its own for the GetRecords body (grown by doubling past 1 MiB), or a
megabyte page that found no 9 granules in a row free, took a third.
"""
import pytest

from pump_env import pump, wait_for  # noqa: F401 (pump: a fixture)

RECORDS = 2000
ITEMS = 500
THP = "/sys/kernel/mm/transparent_hugepage/enabled"


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
    # the bench's order items: about 1.6 KB of stream record each, so
    # GetRecords pages of 1 MB
    env.put_orders(RECORDS, ITEMS)

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
