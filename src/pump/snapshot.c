/*-------------------------------------------------------------------------
 *
 * snapshot.c
 *		A backfill's worker: reads its segments of DynamoDB's parallel Scan
 *		of the pipeline's source table and delivers each item as a SNAPSHOT
 *		audit record through the pipeline's delivery stream.
 *
 * Worker k of a backfill's n reads the segments s with s % n = k, a page
 * of each in turn.  Before anything else it takes its slot's lease, and a
 * segment's lease (the shard lease of the name "backfill <id> segment
 * <s>") before it reads the segment, so a worker left behind by a restart
 * finishes first.
 *
 * Rules:
 *	- the first worker to start reads DescribeTable: the key schema, the
 *	  item count (for the ETA) and, when backfill() was given no rate, the
 *	  read rate: capacity_share of a provisioned table's ReadCapacityUnits,
 *	  ON_DEMAND_READ_RATE for an on-demand table;
 *	- each worker may consume read_rate / workers capacity units a second:
 *	  after a page that consumed c units (ReturnConsumedCapacity TOTAL),
 *	  its next Scan waits until c / rate seconds after the previous one
 *	  was allowed; a page's Limit is sized to about PAGE_SECONDS of that
 *	  rate (a unit at least) from the units an item took on the previous
 *	  page, so the rate holds over short spans too;
 *	- reads are strongly consistent (ConsistentRead), and a record's
 *	  event_time is the time its page was asked for, truncated to the
 *	  second: every change made before that second is in the item, and
 *	  the stream records of changes from that second on have an event_time
 *	  no earlier (ApproximateCreationDateTime is rounded down to the
 *	  second), so taking the latest record by (event_time, SNAPSHOT before
 *	  stream records) gives each item's state (README, "Backfill");
 *	- a page is delivered with the stream's delivery code (delivery.c: the
 *	  same rounds, batches and resends), then, in one transaction, the
 *	  segment's LastEvaluatedKey and counters are checkpointed with the
 *	  page's dead letters; the last page marks the segment done, and the
 *	  last segment the backfill;
 *	- a Scan is one attempt: a throttled one (ProvisionedThroughputExceeded-
 *	  Exception, ThrottlingException) is counted, and it or any other
 *	  retryable failure (5xx, network) makes the segment back off, 200 ms
 *	  doubling to 10 s; the failures are counted in audit_fdw.pump_error;
 *	- once a second the worker re-reads the pipeline and the backfill: a
 *	  paused or dropped pipeline, a cancelled or finished backfill, or a
 *	  gone supervisor end it;
 *	- an ERROR is logged and noted in the backfill's row; the pages in
 *	  flight are forgotten (the checkpoints say where to go on) and the
 *	  worker goes on after a backoff.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
/* utils/builtins.h declares a json_object() that json-c's typedef clashes with */
#define json_object pg_json_object_fn
#include "utils/builtins.h"
#undef json_object
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "aws/firehose.h"
#include "aws/aws_parse.h"
#include "aws/json_read.h"
#include "aws/jsontext.h"
#include "pump/pump.h"

/* read capacity units a second for an on-demand table, unless told */
#define ON_DEMAND_READ_RATE 1000.0
#define FIRST_PAGE_LIMIT 100
#define MAX_PAGE_LIMIT 100000
#define THROTTLE_BACKOFF_MIN_MS 200
#define THROTTLE_BACKOFF_MAX_MS 10000
#define REFRESH_MS 1000
/* a page is sized to this many seconds of the worker's rate */
#define PAGE_SECONDS 0.5

typedef struct SnapshotSegment
{
	int			segment;
	bool		done;
	char	   *last_key;		/* LastEvaluatedKey checkpointed; NULL at the start */
	ShardReader *reader;		/* its pending records, buffer, health and lease */
	int			limit;
	int64		throttled;		/* since the last checkpoint */
	int			backoff_ms;
	TimestampTz next_try;
} SnapshotSegment;

typedef struct SnapshotWorker
{
	PumpWorker	w;
	int64		id;
	int			total_segments;
	double		rate;			/* this worker's capacity units a second */
	char	   *keys[AUDIT_MAX_KEYS];
	int			nkeys;
	char	   *event_prefix;
	List	   *segments;		/* of SnapshotSegment * */
	int			next_segment;	/* round robin */
	bool		ready;
	TimestampTz next_allowed;
	TimestampTz next_refresh;
} SnapshotWorker;

typedef struct ItemWalk
{
	SnapshotWorker *sw;
	SnapshotSegment *seg;
	double		read_time;
} ItemWalk;

static void snapshot_refresh(SnapshotWorker *sw);
static void snapshot_setup(SnapshotWorker *sw);
static long snapshot_pass(PumpWorker *w);
static void snapshot_page(SnapshotWorker *sw, SnapshotSegment *seg);
static bool snapshot_add_item(void *arg, const char *text, size_t len);
static void snapshot_checkpoint(SnapshotWorker *sw, SnapshotSegment *seg,
								const AuditScanPage *page);
static void snapshot_failed(PumpWorker *w, ErrorData *edata);

/* Seconds since 1970 of a timestamp. */
static double
unix_seconds(TimestampTz t)
{
	return (double) t / USECS_PER_SEC +
		(double) ((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
}

/*
 * The pipeline and the backfill, once a second: exits when either is no
 * longer to be read.
 */
static void
snapshot_refresh(SnapshotWorker *sw)
{
	PumpWorker *w = &sw->w;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	int64		id = 0;
	int			workers = 0;

	pump_refresh_pipeline(w);
	checkpoint_begin("reading audit_fdw.backfill");
	values[0] = CStringGetTextDatum(w->args.pipeline);
	if (SPI_execute_with_args("SELECT id, workers, total_segments FROM audit_fdw.backfill "
							  "WHERE pipeline = $1 AND state = 'running'",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading audit_fdw.backfill failed");
	if (SPI_processed == 1)
	{
		bool		isnull;

		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										 &isnull));
		workers = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2,
											  &isnull));
		sw->total_segments = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 3, &isnull));
	}
	checkpoint_end();
	if (id == 0 || (sw->id != 0 && id != sw->id) || workers != w->args.nslots)
	{
		ereport(DEBUG1,
				(errmsg("audit_fdw pipeline \"%s\" backfill worker %d exits: the backfill is no longer running",
						w->args.pipeline, w->args.slot + 1)));
		proc_exit(0);
	}
	sw->id = id;
}

/*
 * DescribeTable: the key schema, the item count and the default rate;
 * then this worker's segments and their checkpoints.
 */
static void
snapshot_setup(SnapshotWorker *sw)
{
	PumpWorker *w = &sw->w;
	json_object *req;
	json_object *resp;
	json_object *table;
	json_object *schema;
	json_object *pt;
	const char *billing = NULL;
	int64_t		rcu = 0;
	int64_t		item_count = -1;
	double		table_rate;
	Oid			types[4] = {INT8OID, FLOAT8OID, INT8OID, INT4OID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	size_t		i;
	uint64		row;
	MemoryContext old;

	req = json_object_new_object();
	json_object_object_add(req, "TableName", json_object_new_string(w->config->source_table));
	resp = aws_json_call(w->client, AWS_SERVICE_DYNAMODB, "DescribeTable", req);
	json_object_put(req);
	if ((table = aws_json_obj(resp, "Table")) == NULL ||
		(schema = aws_json_arr(table, "KeySchema")) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("aws dynamodb DescribeTable returned an unexpected response"),
				 errdetail("The response has no Table.KeySchema.")));
	old = MemoryContextSwitchTo(w->cxt);
	sw->nkeys = 0;
	for (i = 0; i < aws_json_arr_len(schema) && sw->nkeys < AUDIT_MAX_KEYS; i++)
	{
		json_object *k = aws_json_arr_obj(schema, i);
		const char *name = aws_json_str(k, "AttributeName");
		const char *type = aws_json_str(k, "KeyType");

		if (name == NULL || type == NULL)
			continue;
		/* the partition key first, as the stream's Keys have it */
		if (strcmp(type, "HASH") == 0 && sw->nkeys > 0)
		{
			sw->keys[1] = sw->keys[0];
			sw->keys[0] = pstrdup(name);
		}
		else
			sw->keys[sw->nkeys] = pstrdup(name);
		sw->nkeys++;
	}
	MemoryContextSwitchTo(old);
	if (sw->nkeys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("aws dynamodb DescribeTable returned an unexpected response"),
				 errdetail("Table \"%s\" has no key attributes.", w->config->source_table)));
	billing = aws_json_str(aws_json_obj(table, "BillingModeSummary"), "BillingMode");
	if ((pt = aws_json_obj(table, "ProvisionedThroughput")) != NULL)
		(void) aws_json_int64(pt, "ReadCapacityUnits", &rcu);
	(void) aws_json_int64(table, "ItemCount", &item_count);
	table_rate = (billing && strcmp(billing, "PAY_PER_REQUEST") == 0) || rcu <= 0 ?
		-1 : (double) rcu;
	aws_json_release(resp);

	/* the rate, when backfill() was given none; the first worker's stays */
	checkpoint_begin("starting an audit_fdw backfill");
	values[0] = Int64GetDatum(sw->id);
	values[1] = Float8GetDatum(table_rate);
	values[2] = Int64GetDatum(item_count);
	nulls[2] = item_count >= 0 ? ' ' : 'n';
	if (SPI_execute_with_args("UPDATE audit_fdw.backfill SET "
							  "read_rate = COALESCE(read_rate, CASE WHEN $2 OPERATOR(pg_catalog.>) 0 "
							  "THEN $2 OPERATOR(pg_catalog.*) capacity_share ELSE "
							  CppAsString2(ON_DEMAND_READ_RATE) "::float8 END), "
							  "table_item_count = COALESCE($3, table_item_count) "
							  "WHERE id = $1 RETURNING read_rate, workers",
							  3, types, values, nulls, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "writing audit_fdw.backfill failed");
	if (SPI_processed == 1)
	{
		bool		isnull;
		double		rate = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc, 1, &isnull));
		int			workers = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, 2, &isnull));

		sw->rate = rate / workers;
	}

	/* this worker's segments */
	types[1] = INT4OID;
	values[1] = Int32GetDatum(w->args.nslots);
	types[2] = INT4OID;
	values[2] = Int32GetDatum(w->args.slot);
	if (SPI_execute_with_args("SELECT segment, last_evaluated_key FROM audit_fdw.backfill_segment "
							  "WHERE backfill = $1 AND state = 'scanning' "
							  "AND segment OPERATOR(pg_catalog.%) $2 = $3 ORDER BY segment",
							  3, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading audit_fdw.backfill_segment failed");
	old = MemoryContextSwitchTo(w->cxt);
	sw->event_prefix = psprintf("snapshot-%lld-", (long long) sw->id);
	for (row = 0; row < SPI_processed; row++)
	{
		SnapshotSegment *seg = palloc0(sizeof(SnapshotSegment));
		ShardReader *r = palloc0(sizeof(ShardReader));
		bool		isnull;
		Datum		key;

		seg->segment = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[row],
												   SPI_tuptable->tupdesc, 1, &isnull));
		key = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2, &isnull);
		seg->last_key = isnull ? NULL : TextDatumGetCString(key);
		seg->limit = FIRST_PAGE_LIMIT;
		r->shard_id = psprintf("backfill %lld segment %d", (long long) sw->id, seg->segment);
		r->state = SHARD_READING;
		r->cxt = AllocSetContextCreate(w->cxt, "audit_fdw backfill segment",
									   ALLOCSET_SMALL_SIZES);
		audit_buf_init(&r->buf);
		seg->reader = r;
		sw->segments = lappend(sw->segments, seg);
	}
	MemoryContextSwitchTo(old);
	checkpoint_end();

	/* a segment is read by one process: a worker left behind finishes first */
	{
		ListCell   *lc;

		foreach(lc, sw->segments)
		{
			SnapshotSegment *seg = lfirst(lc);

			lease_wait(PUMP_LEASE_SHARD, w->args.pipeline,
					   lease_shard_key(seg->reader->shard_id),
					   "the previous reader of this backfill segment to exit");
			seg->reader->leased = true;
		}
	}
	if (sw->segments != NIL)
		ereport(LOG,
				(errmsg("audit_fdw pipeline \"%s\" backfill %lld worker %d reads %d of %d segments at %.1f read capacity units a second",
						w->args.pipeline, (long long) sw->id, w->args.slot + 1,
						list_length(sw->segments), sw->total_segments, sw->rate)));
	sw->ready = true;
}

/* One item of a Scan page onto the segment's pending records. */
static bool
snapshot_add_item(void *arg, const char *text, size_t len)
{
	ItemWalk   *walk = arg;
	SnapshotWorker *sw = walk->sw;
	ShardReader *r = walk->seg->reader;
	PendingRecord *rec = shard_next_pending(r);
	AuditRecordInfo info;
	AuditTransformResult res;
	char		err[256];
	size_t		start = r->buf.len;

	res = audit_transform_item_text(text, len, sw->event_prefix, walk->read_time,
									sw->w.config->source_table, sw->w.client->region,
									(const char *const *) sw->keys, sw->nkeys,
									&r->buf, &info, err, sizeof(err));
	if (res == AUDIT_TRANSFORM_OUT_OF_MEMORY || r->buf.oom)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Transforming an item of backfill segment %d failed.",
						   walk->seg->segment)));
	rec->sequence_number = "";
	if (res == AUDIT_TRANSFORM_BAD_RECORD)
	{
		/* the item as it came, so that nothing is lost */
		audit_buf_append(&r->buf, text, len);
		rec->dead_reason = MemoryContextStrdup(r->cxt, err);
	}
	else
	{
		rec->event_id = MemoryContextAlloc(r->cxt, info.event_id_len + 1);
		memcpy(rec->event_id, info.event_id, info.event_id_len);
		rec->event_id[info.event_id_len] = '\0';
		if (r->buf.len - start > FIREHOSE_MAX_RECORD_BYTES)
			rec->dead_reason = "the audit record is larger than Firehose's 1,000 KiB record limit";
		rec->item = hash_bytes_extended((const unsigned char *) r->buf.data + info.keys_offset,
										(int) info.keys_len, 0);
		rec->approximate_time = info.approximate_time;
	}
	rec->offset = start;
	rec->len = r->buf.len - start;
	if (rec->dead_reason == NULL)
		r->pending_bytes += rec->len;
	r->npending++;
	return true;
}

/*
 * The page's checkpoint, counters and dead letters in one transaction; the
 * segment done after its last page, and the backfill after its last
 * segment.
 */
static void
snapshot_checkpoint(SnapshotWorker *sw, SnapshotSegment *seg, const AuditScanPage *page)
{
	PumpWorker *w = &sw->w;
	ShardReader *r = seg->reader;
	Oid			types[8] = {INT8OID, INT4OID, TEXTOID, INT8OID, INT8OID, INT8OID, FLOAT8OID,
	INT8OID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int64		dead = 0;
	int			i;
	bool		last = page->last_evaluated_key == NULL;
	char	   *key = last ? NULL : pnstrdup(page->last_evaluated_key,
											 page->last_evaluated_key_len);

	for (i = 0; i < r->npending; i++)
		if (r->pending[i].dead_reason)
			dead++;
	checkpoint_begin("writing an audit_fdw backfill checkpoint");
	values[0] = Int64GetDatum(sw->id);
	values[1] = Int32GetDatum(seg->segment);
	/* segments finishing together: one after the other sees the last */
	if (last && SPI_execute_with_args("SELECT 1 FROM audit_fdw.backfill WHERE id = $1 FOR UPDATE",
									  1, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "locking audit_fdw.backfill failed");
	values[2] = key ? CStringGetTextDatum(key) : (Datum) 0;
	nulls[2] = key ? ' ' : 'n';
	values[3] = Int64GetDatum(page->nitems);
	values[4] = Int64GetDatum(r->npending - dead);
	values[5] = Int64GetDatum(dead);
	values[6] = Float8GetDatum(page->consumed_capacity);
	values[7] = Int64GetDatum(seg->throttled);
	if (SPI_execute_with_args("UPDATE audit_fdw.backfill_segment SET "
							  "last_evaluated_key = $3, "
							  "state = CASE WHEN $3 IS NULL THEN 'done' ELSE 'scanning' END, "
							  "pages = pages OPERATOR(pg_catalog.+) 1, "
							  "items_read = items_read OPERATOR(pg_catalog.+) $4, "
							  "records_delivered = records_delivered OPERATOR(pg_catalog.+) $5, "
							  "records_dead_lettered = records_dead_lettered OPERATOR(pg_catalog.+) $6, "
							  "consumed_capacity = consumed_capacity OPERATOR(pg_catalog.+) $7, "
							  "throttled = throttled OPERATOR(pg_catalog.+) $8, "
							  "updated_at = pg_catalog.now() "
							  "WHERE backfill = $1 AND segment = $2 AND state = 'scanning'",
							  8, types, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "writing audit_fdw.backfill_segment failed");
	if (SPI_processed == 0)
	{
		/* the backfill or its pipeline is gone */
		checkpoint_end();
		proc_exit(0);
	}
	if (dead > 0)
		checkpoint_write_dead_letters(w, r);
	if (last &&
		SPI_execute_with_args("UPDATE audit_fdw.backfill SET state = 'done', "
							  "finished_at = pg_catalog.now() "
							  "WHERE id = $1 AND state = 'running' AND NOT EXISTS ("
							  "SELECT 1 FROM audit_fdw.backfill_segment "
							  "WHERE backfill = $1 AND state = 'scanning')",
							  1, types, values, NULL, false, 0) == SPI_OK_UPDATE &&
		SPI_processed == 1)
		ereport(LOG,
				(errmsg("audit_fdw pipeline \"%s\" finished backfill %lld",
						w->args.pipeline, (long long) sw->id),
				 errdetail("Every segment of the source table's Scan was delivered as SNAPSHOT records.")));
	checkpoint_end();

	seg->throttled = 0;
	seg->done = last;
	if (seg->last_key)
		pfree(seg->last_key);
	seg->last_key = key ? MemoryContextStrdup(w->cxt, key) : NULL;
}

/* One Scan page of a segment: read, delivered, checkpointed. */
static void
snapshot_page(SnapshotWorker *sw, SnapshotSegment *seg)
{
	PumpWorker *w = &sw->w;
	ShardReader *r = seg->reader;
	StringInfoData body;
	AwsError   *error = NULL;
	AwsResponse *resp;
	AuditScanPage page;
	ItemWalk	walk;
	char		err[256];
	TimestampTz asked = GetCurrentTimestamp();

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"TableName\":");
	escape_json(&body, w->config->source_table);
	appendStringInfo(&body, ",\"Segment\":%d,\"TotalSegments\":%d,\"Limit\":%d,"
					 "\"ConsistentRead\":true,\"ReturnConsumedCapacity\":\"TOTAL\"",
					 seg->segment, sw->total_segments, seg->limit);
	if (seg->last_key)
		appendStringInfo(&body, ",\"ExclusiveStartKey\":%s", seg->last_key);
	appendStringInfoChar(&body, '}');

	/* one attempt: this worker backs off by itself, and counts throttling */
	resp = aws_json_call_text_attempts(w->client, AWS_SERVICE_DYNAMODB, "Scan", body.data,
									   body.len, 1, &error);
	if (resp == NULL)
	{
		if (!error->retryable)
			aws_error_raise(error);
		/* over the table's capacity (or a 5xx, a network error): back off */
		if (aws_error_code_is_throttling(error->code))
			seg->throttled++;
		seg->backoff_ms = seg->backoff_ms ?
			Min(seg->backoff_ms * 2, THROTTLE_BACKOFF_MAX_MS) : THROTTLE_BACKOFF_MIN_MS;
		seg->next_try = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), seg->backoff_ms);
		health_aws_error(w, r, error);
		return;
	}
	seg->backoff_ms = 0;

	walk.sw = sw;
	walk.seg = seg;
	walk.read_time = floor(unix_seconds(asked));
	if (!audit_scan_items_page(resp->body, resp->body_len, snapshot_add_item, &walk, &page,
							   err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("aws dynamodb Scan returned an unexpected response"),
				 errdetail("%s.", err)));
	delivery_send(w, r);
	snapshot_checkpoint(sw, seg, &page);
	pfree(resp->body);

	/* the pace: this page's units at the worker's rate */
	if (sw->next_allowed < asked)
		sw->next_allowed = asked;
	sw->next_allowed += (TimestampTz) (page.consumed_capacity / sw->rate * USECS_PER_SEC);
	/*
	 * About PAGE_SECONDS of the rate a page (a unit at least, what the
	 * smallest read costs).  A page that cost a unit or less says only that
	 * its items were small: the next takes twice as many.
	 */
	if (page.scanned_count > 0 && page.consumed_capacity > 1.0)
	{
		double		per_item = page.consumed_capacity / page.scanned_count;
		double		limit = Max(sw->rate * PAGE_SECONDS, 1.0) / per_item;

		seg->limit = (int) Max(1, Min(limit, MAX_PAGE_LIMIT));
	}
	else if (page.last_evaluated_key != NULL)
		seg->limit = Min(seg->limit * 2, MAX_PAGE_LIMIT);

	r->npending = 0;
	r->maxpending = 0;
	r->pending = NULL;
	r->pending_bytes = 0;
	r->buf.len = 0;
	MemoryContextReset(r->cxt);
	health_ok(w, r);
}

/* One pass: a page of the next segment whose time has come; the wait after. */
static long
snapshot_pass(PumpWorker *w)
{
	SnapshotWorker *sw = (SnapshotWorker *) w;
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz wake;
	int			n;
	int			i;

	if (now >= sw->next_refresh)
	{
		snapshot_refresh(sw);
		sw->next_refresh = TimestampTzPlusMilliseconds(now, REFRESH_MS);
	}
	if (sw->w.client == NULL)
		pump_connect_aws(&sw->w);
	if (!sw->ready)
		snapshot_setup(sw);

	n = list_length(sw->segments);
	wake = sw->next_refresh;
	for (i = 0; i < n; i++)
	{
		SnapshotSegment *seg = list_nth(sw->segments, (sw->next_segment + i) % n);

		if (seg->done)
			continue;
		now = GetCurrentTimestamp();
		if (now < seg->next_try || now < sw->next_allowed)
		{
			TimestampTz at = Max(seg->next_try, sw->next_allowed);

			if (at < wake)
				wake = at;
			continue;
		}
		sw->next_segment = (sw->next_segment + i + 1) % n;
		w->calling = seg->reader;
		snapshot_page(sw, seg);
		w->calling = NULL;
		return 0;
	}
	for (i = 0; i < n; i++)
		if (!((SnapshotSegment *) list_nth(sw->segments, i))->done)
			break;
	if (i == n)
	{
		ereport(DEBUG1,
				(errmsg("audit_fdw pipeline \"%s\" backfill worker %d read its segments",
						sw->w.args.pipeline, sw->w.args.slot + 1)));
		proc_exit(0);
	}
	now = GetCurrentTimestamp();
	return wake > now ? (long) ((wake - now + 999) / 1000) : 0;
}

/* An ERROR of a pass: the pages in flight are forgotten, the error noted. */
static void
snapshot_failed(PumpWorker *w, ErrorData *edata)
{
	MemoryContext caller = CurrentMemoryContext;
	SnapshotWorker *sw = (SnapshotWorker *) w;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	ListCell   *lc;

	/* the pages in flight are read again from the checkpoints */
	foreach(lc, sw->segments)
	{
		ShardReader *r = ((SnapshotSegment *) lfirst(lc))->reader;

		r->npending = 0;
		r->maxpending = 0;
		r->pending = NULL;
		r->pending_bytes = 0;
		r->buf.len = 0;
		r->buf.oom = false;
		MemoryContextReset(r->cxt);
	}
	sw->next_refresh = 0;
	if (sw->id == 0)
		return;
	PG_TRY();
	{
		checkpoint_begin("writing an audit_fdw backfill error");
		values[0] = Int64GetDatum(sw->id);
		values[1] = CStringGetTextDatum(edata->detail ?
										psprintf("%s: %s", edata->message, edata->detail) :
										edata->message);
		if (SPI_execute_with_args("UPDATE audit_fdw.backfill SET last_error = $2, "
								  "last_error_at = pg_catalog.now() WHERE id = $1",
								  2, types, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "writing audit_fdw.backfill failed");
		checkpoint_end();
	}
	PG_CATCH();
	{
		/* the error is in the log already */
		FlushErrorState();
		AbortOutOfAnyTransaction();
		MemoryContextSwitchTo(caller);
	}
	PG_END_TRY();
}

void
audit_fdw_backfill_worker_main(Datum arg)
{
	PumpWorker *w = pump_worker_start(sizeof(SnapshotWorker), "backfill worker");

	lease_wait(PUMP_LEASE_BACKFILL, w->args.pipeline,
			   ((uint32) w->args.nslots << 16) | (uint32) w->args.slot,
			   "the previous backfill worker of this slot to exit");
	pump_worker_loop(w, snapshot_pass, snapshot_failed);
}
