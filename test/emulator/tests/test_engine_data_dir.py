"""An emulator whose --data-dir the postgres user cannot enter (a mode-700
folder from mktemp, as root): it says so at start and its Athena engine
still runs, with its cluster outside that folder."""
import os
import socket
import subprocess
import sys
import tempfile
import time

import boto3
import pytest

EMULATOR = os.path.join(os.path.dirname(__file__), "..", "aws-emulator")

pytestmark = pytest.mark.skipif(os.getuid() != 0,
                                reason="the engine runs as postgres only when started as root")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_athena_runs_with_a_closed_data_dir():
    data = tempfile.mkdtemp(prefix="emu-closed-")
    os.chmod(data, 0o700)
    port = _free_port()
    err = open(os.path.join(data, "stderr"), "w+")
    proc = subprocess.Popen([sys.executable, EMULATOR, "--port", str(port), "--data-dir", data],
                            stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        err.seek(0)
        notice = err.read()
        assert "postgres user cannot enter %s" % data in notice
        kw = dict(endpoint_url="http://127.0.0.1:%d" % port, region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
        boto3.client("s3", **kw).create_bucket(Bucket="results")
        athena = boto3.client("athena", **kw)
        qid = athena.start_query_execution(
            QueryString="SELECT upper('ok') AS v",
            ResultConfiguration={"OutputLocation": "s3://results/"})["QueryExecutionId"]
        for _ in range(1200):
            q = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
            if q["Status"]["State"] not in ("QUEUED", "RUNNING"):
                break
            time.sleep(0.05)
        assert q["Status"]["State"] == "SUCCEEDED", q["Status"]
        rows = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
        assert rows[1]["Data"][0]["VarCharValue"] == "OK"
        # the engine's cluster is not under the closed folder
        assert not os.path.exists(os.path.join(data, "athena-engine", "pgdata"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        err.close()
        subprocess.run(["rm", "-rf", data], check=False)
