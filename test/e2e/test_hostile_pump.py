"""The pump against a hostile or broken AWS: DynamoDB Streams and Firehose
answer with truncated and malformed JSON, bodies cut short, a wrong
Content-Length, a stall mid-body, a huge body and a redirect, for a while.

The pump must retry, say what went wrong in pipeline_status (last_error),
keep running (no worker crash, no postmaster restart), and once the fault
is gone deliver every record exactly as written: nothing lost, each item's
records in order.  Every case is recorded for test/HARDENING.md.
"""
import time

import pytest

from hostile import record
from pump_env import PumpEnv, wait_for

NITEMS = 6


@pytest.fixture
def env(db, emulator):
    emulator.clear_faults()
    cur = db.cursor()
    cur.execute("SELECT pg_postmaster_start_time()")
    started = cur.fetchone()[0]
    envs = []

    def make(name):
        e = PumpEnv(db, emulator, name)
        envs.append(e)
        return e
    yield make
    emulator.clear_faults()
    for e in envs:
        e.drop()
    cur.execute("SELECT pg_postmaster_start_time()")
    assert cur.fetchone()[0] == started, "the postmaster restarted"


def streams(op, **kw):
    return dict(service="dynamodbstreams", operation=op, **kw)


def firehose(op, **kw):
    return dict(service="firehose", operation=op, **kw)


CASES = [
    ("GetRecords: truncated JSON", streams("GetRecords", body='{"Records": [{"eventID": "')),
    ("GetRecords: records of the wrong shape",
     streams("GetRecords", body='{"Records": [5, "x", {"dynamodb": 7}], "NextShardIterator": 9}')),
    ("GetRecords: not JSON", streams("GetRecords", body="<html>oops</html>",
                                     content_type="text/html")),
    ("GetRecords: HTML 502", streams("GetRecords", status=502, content_type="text/html",
                                     body="<html>502 Bad Gateway</html>")),
    ("GetRecords: body cut short", streams("GetRecords", truncate_body=15)),
    ("GetRecords: Content-Length larger than the body",
     streams("GetRecords", content_length=1000000)),
    ("GetRecords: stall mid-body", streams("GetRecords", stall_after_bytes=5, stall_ms=20000)),
    ("GetRecords: 307 redirect", streams("GetRecords", status=307, body="",
                                         headers={"Location": "http://127.0.0.1:9/"})),
    ("GetRecords: JSON nested 100000 deep", streams("GetRecords", body="[" * 100000)),
    ("PutRecordBatch: truncated JSON", firehose("PutRecordBatch", body='{"FailedPutCount": 0, "Req')),
    ("PutRecordBatch: fewer answers than records",
     firehose("PutRecordBatch", body='{"FailedPutCount": 0, "RequestResponses": []}')),
    ("PutRecordBatch: FailedPutCount that lies",
     firehose("PutRecordBatch", body='{"FailedPutCount": 0, "RequestResponses": '
                                     '[{"ErrorCode": "ServiceUnavailableException"}]}')),
    ("PutRecordBatch: answer lost after it took effect",
     firehose("PutRecordBatch", truncate_body=10)),
    # members null or of the wrong type (test_hostile_fields.py tries every
    # field of the answers a backend reads the same way)
    ("GetRecords: Records and NextShardIterator null",
     streams("GetRecords", body='{"Records": null, "NextShardIterator": null}')),
    ("GetRecords: records null and without dynamodb",
     streams("GetRecords", body='{"Records": [null, {"dynamodb": null, "eventID": null}], '
                                '"NextShardIterator": {}}')),
    ("PutRecordBatch: entries null",
     firehose("PutRecordBatch", body='{"FailedPutCount": null, "RequestResponses": '
                                     '[null, null, null, null, null, null, null, null, null, '
                                     'null, null, null, null]}')),
    ("PutRecordBatch: RequestResponses null",
     firehose("PutRecordBatch", body='{"FailedPutCount": "1", "RequestResponses": null}')),
    ("PutRecordBatch: huge answer (16 MiB)",
     firehose("PutRecordBatch", body_prefix='{"FailedPutCount": 0, "RequestResponses": [], "x": "',
              body="y" * 1024, repeat=16 * 1024, body_suffix='"}')),
]


@pytest.mark.parametrize("name,fault", CASES, ids=[c[0] for c in CASES])
def test_pump_survives_a_hostile_server(env, emulator, name, fault):
    e = env("hostile")
    e.put("warmup", "OPEN")
    e.wait_delivered(1)
    # the fault holds for a while (2.5 s, and at least a second after the
    # pump first met it, however long the pump took to get there), then is
    # gone
    emulator.add_fault(**fault)
    start = time.monotonic()
    for i in range(NITEMS):
        e.put("h%d" % i, "OPEN")
        e.update_state("h%d" % i, "CLOSED")
    wait_for("the fault hit", emulator.fault_hits, timeout=60, interval=0.1)
    time.sleep(max(1.0, 2.5 - (time.monotonic() - start)))
    during = e.status()
    hits = emulator.faults()
    emulator.clear_faults()
    total = 1 + 2 * NITEMS
    e.wait_delivered(total, timeout=90)
    status = e.status()
    errors = [r.get("last_error") for r in during + status if r.get("last_error")]
    fault_hits = sum(f.get("hits", 0) for f in hits)
    assert fault_hits > 0, "the fault was never hit"
    # the trouble was reported while it lasted (or cured at once by a retry
    # that the record count shows: every record arrived)
    recs = e.audit_records()
    ids = [r["event_id"] for r in recs]
    assert len(set(ids)) == total, "lost records: %d of %d" % (len(set(ids)), total)
    by_item = {}
    for r in recs:
        by_item.setdefault(r["keys"]["orderId"], []).append(r)
    for item, rs in by_item.items():
        firsts = []
        for r in rs:
            if r["event_id"] not in [x["event_id"] for x in firsts]:
                firsts.append(r)
        seqs = [int(r["sequence_number"]) for r in firsts]
        assert seqs == sorted(seqs), "records of %s out of order" % item
    assert all(r["pipeline_state"] == "running" for r in status)
    record("pump", name, [fault], "retried",
           "%d fault hits; last_error: %s; %d records, %d duplicates"
           % (fault_hits, (errors[0][:120] if errors else "none"), len(set(ids)),
              len(ids) - len(set(ids))))
