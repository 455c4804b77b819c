"""DynamoDB Streams: shard trees, iterators, limits, retention, expiry."""
import botocore.exceptions
import pytest

from helpers import create_table, read_shard, shards


@pytest.fixture(scope="module")
def streams(emulator):
    return emulator.client("dynamodbstreams")


def put(ddb, table, pk, v, size=0):
    item = {"pk": {"S": pk}, "v": {"N": str(v)}}
    if size:
        item["pad"] = {"S": "x" * size}
    ddb.put_item(TableName=table, Item=item)


def code_of(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]["Code"]


def test_list_streams_paginated(emulator, streams, uid):
    for i in range(3):
        create_table(emulator, "%s-%d" % (uid, i))
    got = []
    for i in range(3):
        got += [s["TableName"] for s in
                streams.list_streams(TableName="%s-%d" % (uid, i))["Streams"]]
    assert got == ["%s-0" % uid, "%s-1" % uid, "%s-2" % uid]
    r = streams.list_streams(Limit=1)
    assert len(r["Streams"]) == 1 and "LastEvaluatedStreamArn" in r
    r2 = streams.list_streams(Limit=1, ExclusiveStartStreamArn=r["LastEvaluatedStreamArn"])
    assert r2["Streams"][0]["StreamArn"] != r["Streams"][0]["StreamArn"]


def test_sequence_numbers(emulator, streams, uid):
    ddb, arn = create_table(emulator, uid)
    for i in range(5):
        put(ddb, uid, "k%d" % i, i)
    sh = shards(emulator, arn)[0]
    recs = read_shard(emulator, arn, sh["ShardId"])
    seqs = [r["dynamodb"]["SequenceNumber"] for r in recs]
    assert all(s.isdigit() and len(s) >= 21 for s in seqs)
    assert [int(s) for s in seqs] == sorted(int(s) for s in seqs)
    assert len(set(seqs)) == 5
    assert int(sh["SequenceNumberRange"]["StartingSequenceNumber"]) <= int(seqs[0])
    assert all(isinstance(r["dynamodb"]["ApproximateCreationDateTime"].timestamp(), float)
               for r in recs)
    assert len({r["eventID"] for r in recs}) == 5


def test_iterator_types(emulator, streams, uid):
    ddb, arn = create_table(emulator, uid)
    for i in range(4):
        put(ddb, uid, "k", i)
    sid = shards(emulator, arn)[0]["ShardId"]
    recs = read_shard(emulator, arn, sid)
    seqs = [r["dynamodb"]["SequenceNumber"] for r in recs]

    def first(kind, seq=None):
        kw = {"StreamArn": arn, "ShardId": sid, "ShardIteratorType": kind}
        if seq:
            kw["SequenceNumber"] = seq
        it = streams.get_shard_iterator(**kw)["ShardIterator"]
        return [r["dynamodb"]["SequenceNumber"] for r in
                streams.get_records(ShardIterator=it)["Records"]]

    assert first("TRIM_HORIZON") == seqs
    assert first("AT_SEQUENCE_NUMBER", seqs[1]) == seqs[1:]
    assert first("AFTER_SEQUENCE_NUMBER", seqs[1]) == seqs[2:]
    assert first("LATEST") == []
    latest = streams.get_shard_iterator(StreamArn=arn, ShardId=sid,
                                        ShardIteratorType="LATEST")["ShardIterator"]
    put(ddb, uid, "k", 99)
    r = streams.get_records(ShardIterator=latest)
    assert [x["dynamodb"]["NewImage"]["v"]["N"] for x in r["Records"]] == ["99"]
    assert code_of(streams.get_shard_iterator, StreamArn=arn, ShardId=sid,
                   ShardIteratorType="AT_SEQUENCE_NUMBER") == "ValidationException"
    assert code_of(streams.get_shard_iterator, StreamArn=arn, ShardId=sid,
                   ShardIteratorType="AT_SEQUENCE_NUMBER",
                   SequenceNumber="9" * 30) == "ValidationException"
    assert code_of(streams.get_shard_iterator, StreamArn=arn,
                   ShardId="shardId-00000000000000000000-00000000",
                   ShardIteratorType="LATEST") == "ResourceNotFoundException"


def test_get_records_limits_and_new_iterators(emulator, streams, uid):
    ddb, arn = create_table(emulator, uid)
    for i in range(7):
        put(ddb, uid, "k%d" % i, i)
    sid = shards(emulator, arn)[0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=sid,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    # a Limit over 1000 is a ValidationException, not the throttling error
    # LimitExceededException that SDKs retry; 0 is under the model's min 1
    assert code_of(streams.get_records, ShardIterator=it, Limit=1001) == \
        "ValidationException"
    assert code_of(streams.get_records, ShardIterator="bogus-iterator") == \
        "ValidationException"
    seen, iters = [], [it]
    while True:
        r = streams.get_records(ShardIterator=iters[-1], Limit=3)
        assert len(r["Records"]) <= 3
        seen += r["Records"]
        iters.append(r["NextShardIterator"])
        if not r["Records"]:
            break
    assert len(seen) == 7
    assert len(set(iters)) == len(iters)      # a new iterator on every call
    # an iterator can be used again (until it expires): same records
    again = streams.get_records(ShardIterator=it, Limit=3)["Records"]
    assert [x["eventID"] for x in again] == [x["eventID"] for x in seen[:3]]


def test_one_megabyte_cap(emulator, streams, uid):
    ddb, arn = create_table(emulator, uid, "NEW_IMAGE")
    for i in range(14):
        put(ddb, uid, "k%d" % i, i, size=100 * 1024)
    sid = shards(emulator, arn)[0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=sid,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    r = streams.get_records(ShardIterator=it)
    n = len(r["Records"])
    assert 5 <= n < 14
    assert sum(x["dynamodb"]["SizeBytes"] for x in r["Records"]) <= 1024 * 1024
    rest = streams.get_records(ShardIterator=r["NextShardIterator"])["Records"]
    assert n + len(rest) == 14


def test_describe_stream_pagination_is_exclusive(emulator, streams, uid):
    ddb, arn = create_table(emulator, uid)
    for _ in range(3):      # 1 -> 2 -> 4 -> 8 open shards, 15 in all
        emulator.split_shard(arn)
    everything = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert len(everything["Shards"]) == 15
    assert "LastEvaluatedShardId" not in everything
    assert everything["StreamStatus"] == "ENABLED"
    pages, start = [], None
    while True:
        kw = {"StreamArn": arn, "Limit": 4}
        if start:
            kw["ExclusiveStartShardId"] = start
        d = streams.describe_stream(**kw)["StreamDescription"]
        pages.append([s["ShardId"] for s in d["Shards"]])
        start = d.get("LastEvaluatedShardId")
        if start:
            assert start == d["Shards"][-1]["ShardId"]
        else:
            break
    flat = [s for p in pages for s in p]
    assert flat == [s["ShardId"] for s in everything["Shards"]]   # no repeats, no gaps
    assert [len(p) for p in pages] == [4, 4, 4, 3]
    assert code_of(streams.describe_stream, StreamArn=arn, Limit=101) == "ValidationException"


def test_split_lineage_keeps_item_order(emulator, streams, uid):
    ddb, arn = create_table(emulator, uid)
    items = ["item-%d" % i for i in range(12)]
    for round_ in range(4):
        for pk in items:
            put(ddb, uid, pk, round_)
        emulator.split_shard(arn)           # every open shard splits in two
    all_shards = shards(emulator, arn)
    by_id = {s["ShardId"]: s for s in all_shards}
    for s in all_shards:
        if s.get("ParentShardId"):
            parent = by_id[s["ParentShardId"]]
            assert "EndingSequenceNumber" in parent["SequenceNumberRange"]
            assert int(s["SequenceNumberRange"]["StartingSequenceNumber"]) > \
                int(parent["SequenceNumberRange"]["EndingSequenceNumber"])
    # numbers grow a digit a generation: numeric order holds, text order not
    gen0 = [s for s in all_shards if not s.get("ParentShardId")][0]
    leaf = open_ = [s for s in all_shards
                    if "EndingSequenceNumber" not in s["SequenceNumberRange"]][0]
    start0 = gen0["SequenceNumberRange"]["StartingSequenceNumber"]
    start4 = leaf["SequenceNumberRange"]["StartingSequenceNumber"]
    assert len(start4) == len(start0) + 4
    assert int(start4) > int(start0) and start4 < start0
    children = {}
    for s in all_shards:
        children.setdefault(s.get("ParentShardId"), []).append(s["ShardId"])
    assert all(len(c) == 2 for p, c in children.items() if p)
    open_ = [s for s in all_shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    assert len(open_) == 16
    # read parents before children: each item's versions come in order
    order, queue = [], list(children[None])
    while queue:
        sid = queue.pop(0)
        order.append(sid)
        queue += children.get(sid, [])
    versions = {}
    for sid in order:
        for r in read_shard(emulator, arn, sid):
            pk = r["dynamodb"]["Keys"]["pk"]["S"]
            versions.setdefault(pk, []).append(int(r["dynamodb"]["NewImage"]["v"]["N"]))
    assert versions == {pk: [0, 1, 2, 3] for pk in items}


def test_closed_shard_drained_gives_null_iterator(emulator, streams, uid):
    ddb, arn = create_table(emulator, uid)
    put(ddb, uid, "a", 1)
    sid = shards(emulator, arn)[0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=sid,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    r = streams.get_records(ShardIterator=it)
    assert len(r["Records"]) == 1 and r["NextShardIterator"]
    out = emulator.split_shard(arn, sid)
    assert out["closed"] == [sid] and len(out["created"]) == 2
    r = streams.get_records(ShardIterator=r["NextShardIterator"])
    assert r["Records"] == []
    assert r.get("NextShardIterator") is None
    # a rollover: one child with the whole range
    child = out["created"][0]
    out = emulator.split_shard(arn, child, children=1)
    assert len(out["created"]) == 1
    kids = [s for s in shards(emulator, arn) if s.get("ParentShardId") == child]
    assert [k["ShardId"] for k in kids] == out["created"]


def test_rollover_on_timer(emulator, streams, uid):
    ddb, arn = create_table(emulator, uid)
    put(ddb, uid, "a", 1)
    before = shards(emulator, arn)
    assert len(before) == 1
    emulator.advance_clock(4 * 3600 + 5)
    put(ddb, uid, "a", 2)
    after = shards(emulator, arn)
    assert len(after) == 2
    assert after[1]["ParentShardId"] == before[0]["ShardId"]
    assert "EndingSequenceNumber" in after[0]["SequenceNumberRange"]
    assert [r["dynamodb"]["NewImage"]["v"]["N"]
            for r in read_shard(emulator, arn, after[1]["ShardId"])] == ["2"]


def test_iterator_expiry(emulator, streams, uid):
    ddb, arn = create_table(emulator, uid)
    put(ddb, uid, "a", 1)
    sid = shards(emulator, arn)[0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=sid,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    emulator.advance_clock(14 * 60)
    r = streams.get_records(ShardIterator=it)      # still valid at 14 min
    assert len(r["Records"]) == 1
    emulator.advance_clock(2 * 60)
    assert code_of(streams.get_records, ShardIterator=it) == "ExpiredIteratorException"
    # the iterator handed out at 14 min is still good
    assert streams.get_records(ShardIterator=r["NextShardIterator"])["Records"] == []


def test_trimming_after_retention(emulator, streams, uid):
    ddb, arn = create_table(emulator, uid)
    put(ddb, uid, "old", 1)
    sid = shards(emulator, arn)[0]["ShardId"]
    old = read_shard(emulator, arn, sid)[0]["dynamodb"]["SequenceNumber"]
    emulator.advance_clock(24 * 3600 - 60)
    # an iterator issued before the trim, pointing at the old record
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=sid,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    emulator.advance_clock(120)
    assert code_of(streams.get_records, ShardIterator=it) == "TrimmedDataAccessException"
    assert code_of(streams.get_shard_iterator, StreamArn=arn, ShardId=sid,
                   ShardIteratorType="AT_SEQUENCE_NUMBER",
                   SequenceNumber=old) == "TrimmedDataAccessException"
    # the shard closed (rolled over) 4 h after it opened; once that is 24 h
    # past, it leaves the stream's description
    assert sid in [s["ShardId"] for s in shards(emulator, arn)]
    emulator.advance_clock(4 * 3600)
    put(ddb, uid, "new", 2)
    live = shards(emulator, arn)
    assert sid not in [s["ShardId"] for s in live]
    # what is left is readable from the trim horizon
    got = []
    for s in live:
        got += [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_shard(emulator, arn,
                                                                     s["ShardId"])]
    assert got == ["new"]


def test_initial_shards_share_the_key_space(emulator, streams, uid):
    before = emulator._call("GET", "config")["stream_initial_shards"]
    emulator.configure(stream_initial_shards=3)
    try:
        ddb, arn = create_table(emulator, uid)
    finally:
        emulator.configure(stream_initial_shards=before)
    for i in range(60):
        put(ddb, uid, "k%d" % i, i)
    all_shards = shards(emulator, arn)
    assert len(all_shards) == 3
    assert not any(s.get("ParentShardId") for s in all_shards)
    counts = [len(read_shard(emulator, arn, s["ShardId"])) for s in all_shards]
    assert sum(counts) == 60 and all(c > 0 for c in counts)


def test_empty_page_fault(faults, streams, uid):
    ddb, arn = create_table(faults, uid)
    put(ddb, uid, "a", 1)
    sid = shards(faults, arn)[0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=sid,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    faults.add_fault(service="dynamodbstreams", operation="GetRecords", empty_page=True,
                     count=2)
    r = streams.get_records(ShardIterator=it)
    assert r["Records"] == [] and r["NextShardIterator"]
    r = streams.get_records(ShardIterator=r["NextShardIterator"])
    assert r["Records"] == []
    r = streams.get_records(ShardIterator=r["NextShardIterator"])
    assert len(r["Records"]) == 1


def test_getrecords_rate_limit(emulator, streams, uid):
    ddb, arn = create_table(emulator, uid)
    sid = shards(emulator, arn)[0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=sid,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    emulator.configure(getrecords_per_shard_per_second=3)
    try:
        for _ in range(3):
            it = streams.get_records(ShardIterator=it)["NextShardIterator"]
        with pytest.raises(botocore.exceptions.ClientError) as e:
            streams.get_records(ShardIterator=it)
        assert e.value.response["Error"]["Code"] == "LimitExceededException"
        assert "Rate exceeded for shard" in e.value.response["Error"]["Message"]
        import time
        time.sleep(1.05)
        streams.get_records(ShardIterator=it)
    finally:
        emulator.configure(getrecords_per_shard_per_second=0)


def test_concurrent_writers_and_splits_keep_item_order(emulator, streams, uid):
    import threading
    ddb, arn = create_table(emulator, uid)
    errors = []

    def writer(w):
        try:
            client = emulator.client("dynamodb")
            for v in range(15):
                for k in range(4):
                    put(client, uid, "w%d-k%d" % (w, k), v)
        except Exception as e:          # reported below
            errors.append(e)

    def splitter():
        try:
            for _ in range(3):
                emulator.split_shard(arn)
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    threads.append(threading.Thread(target=splitter))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    all_shards = shards(emulator, arn)
    children = {}
    for s in all_shards:
        children.setdefault(s.get("ParentShardId"), []).append(s["ShardId"])
    order, queue = [], list(children[None])
    while queue:
        sid = queue.pop(0)
        order.append(sid)
        queue += children.get(sid, [])
    versions = {}
    for sid in order:
        for r in read_shard(emulator, arn, sid):
            pk = r["dynamodb"]["Keys"]["pk"]["S"]
            versions.setdefault(pk, []).append(int(r["dynamodb"]["NewImage"]["v"]["N"]))
    assert len(versions) == 16
    assert all(v == list(range(15)) for v in versions.values()), versions
