"""Renders test/HARDENING.md from what test/hardening/report measured.

    render.py OUT_DIR MARKDOWN_FILE FUZZ_SECONDS

OUT_DIR holds fuzz.log and fuzz-coverage.txt (test/fuzz/run), hostile.jsonl
(every hostile and security case the tests tried, test/e2e/hostile.py),
load.json (test/lib/load_run.py), e2e.xml (pytest) and sanitize.log /
memcheck.txt (test/sanitize/run).  Only numbers from those files are
written; a missing file is said to be missing.
"""
import collections
import datetime
import json
import os
import platform
import re
import sys
import xml.etree.ElementTree as ET


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return None


def junit(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    t = f = s = 0
    files = collections.Counter()
    failed = []
    for su in suites:
        t += int(su.get("tests", 0))
        s += int(su.get("skipped", 0))
        f += int(su.get("failures", 0)) + int(su.get("errors", 0))
        for case in su.iter("testcase"):
            files[case.get("classname", "").split(".")[-1]] += 1
            if case.find("failure") is not None or case.find("error") is not None:
                failed.append(case.get("name"))
    return {"tests": t, "failed": f, "skipped": s, "files": files, "failed_names": failed}


def main():
    out, md_path, fuzz_seconds = sys.argv[1], sys.argv[2], sys.argv[3]
    lines = []
    w = lines.append
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    ncpu = os.cpu_count()
    w("# Hardening results")
    w("")
    w("Measured on %s, %s, %d CPUs, by `test/hardening/report` (which regenerates "
      "this file; `FUZZ_SECONDS` and `LOAD_SECONDS` lengthen the runs)." %
      (now, platform.platform(terse=True), ncpu))
    w("Everything ran against the project's AWS emulator on loopback.")
    w("")

    # ---- fuzzing
    w("## Fuzzing")
    w("")
    fuzz = read(os.path.join(out, "fuzz.log"))
    cov = {}
    for line in (read(os.path.join(out, "fuzz-coverage.txt")) or "").splitlines():
        parts = line.split(" ", 1)
        if len(parts) == 2:
            cov[parts[0]] = parts[1]
    if fuzz is None:
        w("No fuzz run was found.")
    else:
        w("libFuzzer with AddressSanitizer and UndefinedBehaviorSanitizer, each target "
          "for %s s, one after the other, from the checked-in corpus "
          "(`test/fuzz/run -t %s`). `cov` is libFuzzer's count of covered edges, "
          "`ft` its features, `corp` the corpus it ended with." % (fuzz_seconds, fuzz_seconds))
        w("")
        w("| target | result | executions | executions/s | coverage |")
        w("|---|---|---:|---:|---|")
        total = 0
        for m in re.finditer(r"^(ok|FAIL) +(\w+): (.*)$", fuzz, re.M):
            res, target, rest = m.groups()
            ex = re.search(r"(\d+) executions in (\d+)s", rest)
            n = int(ex.group(1)) if ex else 0
            secs = int(ex.group(2)) if ex else 0
            total += n
            w("| `%s` | %s | %d | %d | %s |" % (
                target, "ok" if res == "ok" else "**FAILED**: " + rest[:80], n,
                n // secs if secs else 0, cov.get(target, "")))
        w("")
        w("%d executions in all. %s" % (total, (re.findall(r"^fuzz: .*$", fuzz, re.M) or [""])[-1]))
        w("")
        w("Crashes and broken invariants the fuzzers found, fixed, and kept in "
          "`test/fuzz/regressions/` (replayed by every run of the `fuzz` suite):")
        w("")
        regs = []
        base = os.path.join(os.path.dirname(os.path.abspath(md_path)), "fuzz", "regressions")
        for t in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            for f in sorted(os.listdir(os.path.join(base, t))):
                regs.append("`%s/%s`" % (t, f))
        w("- " + ", ".join(regs) if regs else "- none")
        w("")

    # ---- hostile servers
    # the first run of each case (the valgrind suite runs some again)
    cases, seen = [], set()
    for line in (read(os.path.join(out, "hostile.jsonl")) or "").splitlines():
        try:
            c = json.loads(line)
        except ValueError:
            continue
        if (c["area"], c["case"]) not in seen:
            seen.add((c["area"], c["case"]))
            cases.append(c)
    e2e = junit(os.path.join(out, "e2e.xml"))
    w("## Hostile and broken servers")
    w("")
    if e2e:
        w("`test_hostile_fdw.py`, `test_hostile_pump.py`, `test_security.py` and "
          "`test_load.py`: %d tests, %d failed." % (e2e["tests"], e2e["failed"]))
        if e2e["failed_names"]:
            w("Failed: " + ", ".join(e2e["failed_names"]))
        w("")
    for area, title in (("fdw", "Foreign scans (each must end in an ERROR with a proper "
                                 "errcode and a bounded message, or in the right rows; the "
                                 "backend answers afterwards and the postmaster was not restarted)"),
                        ("pump", "The pump (the fault holds a few seconds, then every record "
                                 "must arrive, in order per item, with the pipeline still running)")):
        rows = [c for c in cases if c["area"] == area]
        if not rows:
            continue
        outcomes = collections.Counter(c["outcome"] for c in rows)
        w("### %s" % title)
        w("")
        w("%d cases: %s." % (len(rows), ", ".join("%d %s" % (n, o) for o, n in
                                                 sorted(outcomes.items()))))
        w("")
        w("| case | outcome | what audit_fdw said |")
        w("|---|---|---|")
        for c in rows:
            detail = c["detail"].replace("\n", " ").replace("|", "\\|")
            detail = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                            "…", detail)
            w("| %s | %s | %s |" % (c["case"], c["outcome"], detail[:160]))
        w("")

    # ---- security
    sec = [c for c in cases if c["area"] == "security"]
    w("## Security")
    w("")
    if sec:
        w("| check | result | scope |")
        w("|---|---|---|")
        for c in sec:
            w("| %s | %s | %s |" % (c["case"], c["outcome"], c["detail"]))
        w("")
    else:
        w("No security run was found.")
        w("")

    # ---- load
    w("## Load")
    w("")
    load = read(os.path.join(out, "load.json"))
    if load:
        r = json.loads(load)
        p = r["pgbench"]
        w("%d pgbench clients querying a foreign table over Athena for %d s, while a pump "
          "pipeline moved a stream of writes into Firehose at the same time:" %
          (r["clients"], r["seconds"]))
        w("")
        w("| measure | value |")
        w("|---|---|")
        w("| FDW queries | %d (%.0f/s), average latency %.1f ms |" %
          (p["transactions"], p["tps"], p["latency_ms"] or 0))
        w("| failed or aborted | %d |" % (p["failed"] + p["aborted"]))
        w("| backends' anonymous memory growth after warm-up (max of %d) | %d KiB |" %
          (r["backends"], r["backend_growth_kib_max"]))
        w("| pump workers' anonymous memory growth (max of %d) | %d KiB |" %
          (r["workers"], r["worker_growth_kib_max"]))
        w("| records written to DynamoDB | %d (%.0f/s) |" % (r["written"], r["pump_records_per_s"]))
        w("| distinct records in S3 | %d (lost: %d) |" %
          (r["delivered_distinct"], r["written"] - r["delivered_distinct"]))
        w("| duplicates, items out of order | %d, %d |" % (r["duplicates"], r["out_of_order"]))
        w("")
    else:
        w("No load run was found.")
        w("")

    # ---- sanitizers
    w("## The extension under valgrind")
    w("")
    san = read(os.path.join(out, "sanitize.log"))
    if san:
        w("`test/sanitize/run`: a second cluster whose postmaster, backends and pump workers "
          "ran under memcheck; pg_regress and FDW, AWS and pump end-to-end tests against it.")
        w("")
        w("```")
        for line in san.splitlines():
            if re.match(r"^( {3}\d|ok|FAIL|sanitize:| +\d+ processes)", line):
                w(line.strip())
        w("```")
        w("")
        w("PostgreSQL's own reports are memcheck's known ones about PostgreSQL and the "
          "dynamic loader (padding bytes written to WAL and the relcache init file; "
          "ld.so's word-wise strncmp while loading libraries); none has its first "
          "frame in audit_fdw.so.")
        w("")
        w("The C unit tests also run under valgrind (`unit-valgrind`) and ASan/UBSan "
          "(`unit-asan`) in the test command.")
    else:
        w("No valgrind run was found.")
    w("")
    with open(md_path, "w") as f:
        f.write("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
