"""The README's tour of the SQL interface, run as written: `quickstart/run
--tour` (`make tour`) on its own cluster and emulator.  A superuser sets up
(quickstart/tour-admin.sql: roles, user mappings under the
credentials_required rule, grants, a pipeline owned by a non-superuser),
the story of order 101 plays, and the analyst, no superuser, asks
(quickstart/tour-analyst.sql, psql -U analyst).  The README's SQL blocks of
the tour are the scripts' own text."""
import os
import re
import subprocess

import pytest

from test_quickstart import section, table_rows

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUN_NAME = "tour-test"


def tour_env():
    env = dict(os.environ)
    for var in ("AUDIT_FDW_RUN_DIR", "AUDIT_FDW_PG_DIR", "PGHOST", "PGPORT",
                "AUDIT_FDW_EMULATOR_URL", "QUICKSTART_RUN_NAME", "PGUSER"):
        env.pop(var, None)
    env["RUN_NAME"] = RUN_NAME + "-" + os.environ.get("RUN_NAME", "test")
    env["AUDIT_FDW_PGPORT"] = str(int(os.environ.get("AUDIT_FDW_PGPORT", "55432")) + 2)
    env["AUDIT_FDW_EMU_PORT"] = str(int(os.environ.get("AUDIT_FDW_EMU_PORT", "45660")) + 2)
    return env


@pytest.fixture(scope="module")
def output():
    env = tour_env()
    try:
        proc = subprocess.run([os.path.join(REPO, "quickstart", "run"), "--tour"], cwd=REPO,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-6000:]
        yield proc.stdout
    finally:
        subprocess.run([os.path.join(REPO, "test", "lib", "stop-all")], cwd=REPO, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def analyst_part(output):
    return "\n".join(section(output, "The analyst asks"))


def block_after(text, statement):
    """The psql table printed after an echoed statement."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if statement in line)
    rows = []
    for line in lines[start + 1:]:
        if "|" in line or set(line.strip()) <= set("-+") and line.strip():
            rows.append(line)
        elif rows:
            break
    return table_rows(rows)


def test_the_analyst_is_no_superuser(output):
    rows = block_after(analyst_part(output), "SELECT current_user, rolsuper")
    assert rows == [["analyst", "f"]], rows


def test_the_analyst_sees_the_history_of_order_101(output):
    rows = block_after(analyst_part(output), "ORDER BY event_time, sequence_number::numeric;")
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("INSERT", "", "OPEN"), ("MODIFY", "OPEN", "PICKEDUP"),
        ("MODIFY", "PICKEDUP", "DELIVERED"), ("MODIFY", "DELIVERED", "RETURNED")]


def test_item_attributes_keep_their_case(output):
    rows = block_after(analyst_part(output), "WHERE order_id = '101' AND event_name = 'INSERT';")
    assert rows[0][0] == "101"
    assert '"orderId": "101"' in rows[0][1] and '"lastUpdatedDate"' in rows[0][1], rows


def test_the_analyst_joins_now_and_then(output):
    """The live table (DynamoDB) joined with the history (Athena), as the
    analyst, through the analyst's own user mapping."""
    text = analyst_part(output)
    rows = block_after(text, "o.state AS state_now")
    assert [(r[0], r[1]) for r in rows] == [("102", "DELIVERED")], rows
    rows = block_after(text, "h.new_address AS address_at_order")
    assert rows == [["103", "103 Main Street", "7 Lake Road"]], rows


def test_the_query_log_shows_the_analysts_queries(output):
    rows = block_after(analyst_part(output), "FROM audit_fdw.query_log;")
    assert rows and all(r[0] == "analyst" and r[1] == "SUCCEEDED" for r in rows), rows


def test_the_pipeline_belongs_to_the_loader(output):
    setup = "\n".join(section(output, "Setting up the audit pipeline"))
    assert "create_pipeline" in setup and "ERROR:" not in setup, setup
    shards = "\n".join(section(output, "The pump's view"))
    assert "reading" in shards or "drained" in shards, shards


def readme_tour_blocks():
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    tour = readme[readme.index("## A tour of the SQL interface"):readme.index("## Running against AWS")]
    return re.findall(r"```sql\n(.*?)```", tour, re.S)


def normalized(text):
    return re.sub(r"\s+", " ", text).strip()


def test_the_readme_shows_the_scripts_as_they_run():
    scripts = ""
    for name in ("tour-admin.sql", "tour-analyst.sql"):
        with open(os.path.join(REPO, "quickstart", name)) as f:
            scripts += f.read() + "\n"
    blocks = readme_tour_blocks()
    assert len(blocks) >= 4
    for block in blocks:
        assert normalized(block) in normalized(scripts), block
