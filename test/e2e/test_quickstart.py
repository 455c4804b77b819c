"""The quickstart's story, end to end: `quickstart/run` (what `make
quickstart` runs) on its own ports and run folder, twice, each time ending
with the history of order 101 printed by psql from the foreign table.
The run name and the cluster's folder are the user's (RUN_NAME,
AUDIT_FDW_PG_DIR), and the closing hint's stop command stops that run.
"""
import os
import re
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUN_NAME = "quickstart-test"
# a folder of the user's: the quickstart puts its cluster in it and leaves
# the rest alone
PG_DIR = "/tmp/audit_fdw-quickstart-test-%s" % os.environ.get("RUN_NAME", "test")
KEEP = os.path.join(PG_DIR, "the user's file")


def quickstart_env():
    env = dict(os.environ)
    # its own cluster, emulator and run folder, beside the test run's
    for var in ("AUDIT_FDW_RUN_DIR", "PGHOST", "PGPORT", "AUDIT_FDW_EMULATOR_URL",
                "QUICKSTART_RUN_NAME"):
        env.pop(var, None)
    env["RUN_NAME"] = RUN_NAME
    env["AUDIT_FDW_PG_DIR"] = PG_DIR
    env["AUDIT_FDW_PGPORT"] = str(int(os.environ.get("AUDIT_FDW_PGPORT", "55432")) + 1)
    env["AUDIT_FDW_EMU_PORT"] = str(int(os.environ.get("AUDIT_FDW_EMU_PORT", "45660")) + 1)
    return env


def run_quickstart():
    proc = subprocess.run([os.path.join(REPO, "quickstart", "run")], cwd=REPO,
                          env=quickstart_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout


def section(output, title):
    """The lines of output after a '==> title' line, up to the next '==>'."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if title in line)
    end = next((i for i in range(start + 1, len(lines)) if "==>" in lines[i]), len(lines))
    return lines[start + 1:end]


def table_rows(lines):
    """The rows of a psql aligned table: lists of cell texts."""
    rows = [[c.strip() for c in line.split("|")] for line in lines if "|" in line]
    return rows[1:]  # without the header


def stop_command(output):
    """The closing hint's way to stop what the quickstart left running."""
    return re.search(r"^\s*Stop:\s*(.*)$", output, re.M).group(1).strip()


@pytest.fixture(scope="module")
def outputs():
    os.makedirs(PG_DIR, exist_ok=True)
    with open(KEEP, "w") as f:
        f.write("not the quickstart's\n")
    runs = []
    try:
        runs.append(run_quickstart())
        runs.append(run_quickstart())
        yield runs
    finally:
        env = quickstart_env()
        subprocess.run([os.path.join(REPO, "test", "lib", "stop-all")], cwd=REPO, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


@pytest.mark.parametrize("run", [0, 1], ids=["first run", "second run"])
def test_history_of_order_101(outputs, run):
    rows = table_rows(section(outputs[run], "How did order 101 get to RETURNED?"))
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("INSERT", "", "OPEN"),
        ("MODIFY", "OPEN", "PICKEDUP"),
        ("MODIFY", "PICKEDUP", "DELIVERED"),
        ("MODIFY", "DELIVERED", "RETURNED")]
    times = [r[0] for r in rows]
    assert times == sorted(times)
    # the story spans three days: picked up on the first, delivered on the
    # second, returned on the third
    days = [t[:10] for t in times]
    assert days[0] == days[1] < days[2] < days[3], days


def test_transitions_per_day(outputs):
    rows = table_rows(section(outputs[0], "State transitions per day"))
    counts = {}
    for r in rows:
        counts[(r[1], r[2])] = counts.get((r[1], r[2]), 0) + int(r[3])
    # orders 101..141: 41 inserted; every fourth of 102..141 (10) deleted
    assert counts[("(new)", "OPEN")] == 41
    assert counts[("OPEN", "(deleted)")] == 10
    assert counts[("OPEN", "PICKEDUP")] == 31
    # day 3: 101 and 102 returned, 102 delivered again, 103 delivered
    assert counts[("PICKEDUP", "DELIVERED")] == 22
    assert counts[("DELIVERED", "RETURNED")] == 2
    assert counts[("RETURNED", "DELIVERED")] == 1
    assert len(counts) == 6
    days = sorted({r[0] for r in rows})
    assert len(days) == 3
    per_day = {(r[0], r[1], r[2]) for r in rows}
    assert (days[0], "(new)", "OPEN") in per_day
    assert (days[1], "OPEN", "(deleted)") in per_day
    assert (days[2], "DELIVERED", "RETURNED") in per_day


def test_live_table_joined_with_history(outputs):
    """The closing queries: the live Orders table (DynamoDB, imported as a
    foreign table) joined with the history (Athena)."""
    imported = "\n".join(section(outputs[0], "The live Orders table as a foreign table"))
    for column in ("orderId", "address", "state", "lastUpdatedDate", "item"):
        assert column in imported, imported
    rows = table_rows(section(outputs[0], "Orders DELIVERED now that were RETURNED before"))
    assert [(r[0], r[1]) for r in rows] == [("102", "DELIVERED")], rows
    rows = table_rows(section(outputs[0], "address now differs"))
    assert rows == [["103", "103 Main Street", "7 Lake Road"]], rows
    plan = "\n".join(section(outputs[0], "How the live table was read"))
    # 41 small items: one Scan costs less than a GetItem per returned order
    assert re.search(r"DynamoDB: (Scan|GetItem) Orders", plan), plan


def test_explain_shows_the_athena_sql(outputs):
    plan = "\n".join(section(outputs[0], "The SQL that ran in Athena"))
    assert re.search(r"SELECT .* FROM .*orders_audit", plan, re.S), plan
    assert "'101'" in plan, plan


def test_query_log_shows_the_sql_with_its_values(outputs):
    """now() - interval '7 days' went to Athena as a timestamp literal, and
    bounded the S3 folders (datehour) to read."""
    log = "\n".join(section(outputs[0], "As Athena ran it"))
    sql = re.search(r"athena_sql\s*\|\s*(.*)", log).group(1)
    assert "\"keys\".\"orderId\" = '101'" in sql, sql
    assert re.search(r"\"event_time\" >= TIMESTAMP '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}'",
                     sql), sql
    assert re.search(r"\"datehour\" >= '\d{4}/\d\d/\d\d/\d\d'", sql), sql


def test_leaves_the_servers_running(outputs):
    assert "make stop" in stop_command(outputs[1])
    env = quickstart_env()
    pg_bindir = subprocess.run([env.get("PG_CONFIG", "pg_config"), "--bindir"],
                               stdout=subprocess.PIPE, text=True).stdout.strip()
    sock = re.search(r"psql -h (\S+)", outputs[1]).group(1)
    out = subprocess.run([os.path.join(pg_bindir, "psql"), "-X", "-At", "-h", sock,
                          "-p", env["AUDIT_FDW_PGPORT"], "-U", "postgres", "-d", "audit",
                          "-c", "SELECT count(*) FROM audit.orders_audit "
                                "WHERE order_id = '101'"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert out.stdout.strip() == "4", out.stdout


def test_closing_hint_stops_this_run(outputs):
    """The hint names the run's settings, and running it as printed, from a
    shell without them, stops this run's cluster; the user's own file in
    AUDIT_FDW_PG_DIR survived two runs."""
    command = stop_command(outputs[1])
    assert command == "AUDIT_FDW_PG_DIR=%s RUN_NAME=%s make stop" % (PG_DIR, RUN_NAME), command
    assert os.path.exists(KEEP)
    pidfile = os.path.join(PG_DIR, "pgdata", "postmaster.pid")
    assert os.path.exists(pidfile)
    env = {k: v for k, v in os.environ.items()
           if k not in ("RUN_NAME", "AUDIT_FDW_PG_DIR", "AUDIT_FDW_RUN_DIR",
                        "QUICKSTART_RUN_NAME")}
    out = subprocess.run(command, shell=True, cwd=REPO, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=120)
    assert out.returncode == 0, out.stdout
    assert not os.path.exists(pidfile), out.stdout
