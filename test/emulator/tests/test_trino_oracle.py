"""The emulator's Athena against Trino's own tests: every case of
data/trino_oracle.json (input/expected pairs taken from Trino's test
sources, named there with repository, path and commit) is evaluated as
`SELECT <expression>` and must give Trino's value.

KNOWN_DIFFERENCES lists the cases where the emulator does not (yet) agree,
each with the reason and what audit_fdw does about it; the test fails both
when another case differs and when a listed one starts to agree.
"""
import json
import os
import time

import pytest

DATA = os.path.join(os.path.dirname(__file__), "data", "trino_oracle.json")

# sql -> why the emulator differs and why that is harmless for audit_fdw
KNOWN_DIFFERENCES = {}


def _cases():
    with open(DATA, encoding="utf-8") as f:
        return json.load(f)["cases"]


def _run(athena, bucket, sql):
    qid = athena.start_query_execution(
        QueryString=sql, ResultConfiguration={"OutputLocation": "s3://%s/" % bucket})[
        "QueryExecutionId"]
    for _ in range(3000):
        q = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
        if q["State"] not in ("QUEUED", "RUNNING"):
            break
        time.sleep(0.02)
    if q["State"] != "SUCCEEDED":
        return None, q.get("StateChangeReason")
    rows = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
    return [d.get("VarCharValue") for d in rows[1]["Data"]], None


def test_trino_oracle(emulator, uid):
    emulator.client("s3").create_bucket(Bucket=uid)
    athena = emulator.client("athena")
    cases = _cases()
    got = {}

    def alone(c):
        v, error = _run(athena, uid, "SELECT " + c["sql"])
        if v is not None:
            return ("value", v[0])
        # Athena's reason starts with the Trino error name
        return ("error", (error or "").split(":")[0])

    for c in cases:
        if "matches" in c:
            # the test's matches(): both sides evaluate to the same value
            c["sql"] = "(%s) = (%s)" % (c["sql"], c["matches"])
            c["expect"] = "true"
    values = [c for c in cases if "error" not in c]
    # the cases with a value in one query; if it fails, each alone
    row, _ = _run(athena, uid, "SELECT " + ", ".join(c["sql"] for c in values))
    for i, c in enumerate(values):
        got[c["sql"]] = ("value", row[i]) if row is not None else alone(c)
    for c in cases:
        if "error" in c:
            got[c["sql"]] = alone(c)

    def want(c):
        return ("error", c["error"]) if "error" in c else ("value", c["expect"])

    differ = {c["sql"]: (got[c["sql"]], want(c)) for c in cases if got[c["sql"]] != want(c)}
    taken, passed = len(cases), len(cases) - len(differ)
    print("Trino oracle: %d assertions taken, %d pass" % (taken, passed))
    for sql, (g, w) in sorted(differ.items()):
        print("  differs: %s: got %r, Trino %r" % (sql, g, w))
    assert {k: v for k, v in differ.items() if k not in KNOWN_DIFFERENCES} == {}
    assert set(KNOWN_DIFFERENCES) - set(differ) == set(), "now agree: drop them from the list"
