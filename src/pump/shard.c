/*-------------------------------------------------------------------------
 *
 * shard.c
 *		Reading one shard: iterators, GetRecords, the transform into the
 *		shard's pending records, expired iterators and trimmed gaps.
 *
 * Rules:
 *	- an iterator is taken AFTER_SEQUENCE_NUMBER of the checkpoint when
 *	  there is one, else at the pipeline's starting position (initial
 *	  shards) or TRIM_HORIZON (children and shards found later);
 *	- an expired iterator (ExpiredIteratorException) is renewed from the
 *	  last checkpoint, after what was read is delivered;
 *	- a trimmed gap (TrimmedDataAccessException, or the shard gone from the
 *	  stream before it was drained) is reported as a WARNING with the
 *	  missing range and in the status view; the shard stops, or goes on
 *	  from the oldest record left when the pipeline says on_trimmed_gap =
 *	  'skip'; 'snapshot' goes on too and starts a backfill (snapshot.c) of
 *	  the whole table, whose SNAPSHOT records hold each item's state after
 *	  the gap (a backfill running since before the gap is cancelled for
 *	  it); the status views and the log say so;
 *	- GetRecords stays within DynamoDB Streams' limit of 5 calls per second
 *	  per shard: a full page (1,000 records) is followed by the next call
 *	  200 ms after the previous one, a page with fewer records 250 ms after
 *	  (so that records per call grow with the traffic), an empty page backs
 *	  off (200 ms doubling to audit_fdw.pump_idle_max); a call throttled all
 *	  the same (LimitExceededException after the client's retries) is
 *	  expected traffic: counted, and the shard waits a second;
 *	- with a batching window longer than that pace, records read wait for
 *	  the window anyway: after a page with fewer records, the next call is
 *	  made when the batch falls due, or sooner when at the rate the page
 *	  came the batch would fill before (next_page_poll), so a window of a
 *	  second takes two calls, not five, and no record waits longer;
 *	- errors go to health.c (counted, the shard's health, logged once per
 *	  change) and the shard backs off, 500 ms doubling to 30 s;
 *	- a record over Firehose's 1,000 KiB limit, or one the transform cannot
 *	  read, becomes a dead letter in its place in the sequence.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "aws/dynamodbstreams.h"
#include "aws/firehose.h"
#include "aws/json_read.h"
#include "pump/pump.h"

/* GetRecords' largest page */
#define GET_RECORDS_LIMIT 1000
#define IDLE_START_MS 200
/* DynamoDB Streams: at most 5 GetRecords per second per shard */
#define PACE_FULL_PAGE_MS 200
#define PACE_PAGE_MS 250
#define THROTTLED_WAIT_MS 1000
/* the cadence a reader's polls fall on (poll_at): a busy shard's pace */
#define POLL_TICK_MS PACE_PAGE_MS
/* the GetRecords counters of an idle shard are written this often */
#define POLL_STATS_INTERVAL_MS 10000

static bool ensure_iterator(PumpWorker *w, ShardReader *shard);
static TimestampTz poll_at(TimestampTz last_call, int interval_ms);
static TimestampTz next_page_poll(PumpWorker *w, ShardReader *shard, TimestampTz prev_call,
								  int nrecords, size_t nbytes);
static void handle_trimmed_gap(PumpWorker *w, ShardReader *shard);
static void note_call_error(PumpWorker *w, ShardReader *shard, AwsError *error);
static void add_record(PumpWorker *w, ShardReader *shard, const char *text, size_t avail,
					   size_t *len_out);
static void bad_record_ids(ShardReader *shard, const char *text, size_t len, PendingRecord *rec);
static bool add_record_from_page(void *arg, const char *text, size_t avail, size_t *len);
static char *iterator_string(const char *raw, size_t len);
static char *record_string(json_object *obj, const char *key);
static char *find_string_field(const char *text, size_t len, const char *key, bool digits);

/* Forgets the iterator and what was read but not delivered. */
void
shard_reset(ShardReader *shard)
{
	if (shard->iterator)
		pfree(shard->iterator);
	shard->iterator = NULL;
	shard->at_end = false;
	shard->caught_up = false;
	shard->next_poll = 0;
	shard->idle_ms = 0;
	shard->npending = 0;
	shard->maxpending = 0;
	shard->pending = NULL;
	shard->pending_bytes = 0;
	shard->retried = 0;
	shard->resent = 0;
	shard->buf.len = 0;
	shard->buf.oom = false;
	MemoryContextReset(shard->cxt);
}

void
shard_free(ShardReader *shard)
{
	if (shard->iterator)
		pfree(shard->iterator);
	audit_buf_free(&shard->buf);
	MemoryContextDelete(shard->cxt);
	pfree(shard->shard_id);
	if (shard->parent_shard_id)
		pfree(shard->parent_shard_id);
	if (shard->checkpoint)
		pfree(shard->checkpoint);
	if (shard->sent)
		pfree(shard->sent);
	pfree(shard);
}

static void
note_call_error(PumpWorker *w, ShardReader *shard, AwsError *error)
{
	health_aws_error(w, shard, error);
	shard->error_backoff_ms = shard->error_backoff_ms ?
		Min(shard->error_backoff_ms * 2, 30000) : 500;
	shard->next_poll = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												   shard->error_backoff_ms);
}

/* Gets an iterator when the shard has none; false when it could not. */
static bool
ensure_iterator(PumpWorker *w, ShardReader *shard)
{
	AwsError   *error = NULL;
	const char *type;
	char	   *it;
	MemoryContext old;

	if (shard->iterator)
		return true;
	if (shard->checkpoint)
		type = "AFTER_SEQUENCE_NUMBER";
	else if (shard->initial && w->config->start_at_latest)
		type = "LATEST";
	else
		type = "TRIM_HORIZON";
	it = ddbstreams_get_shard_iterator(w->client, w->config->stream_arn, shard->shard_id,
									   type, shard->checkpoint, &error);
	if (it == NULL)
	{
		if (strcmp(error->code, "TrimmedDataAccessException") == 0 ||
			strcmp(error->code, "ResourceNotFoundException") == 0)
			handle_trimmed_gap(w, shard);
		else
			note_call_error(w, shard, error);
		return false;
	}
	old = MemoryContextSwitchTo(GetMemoryChunkContext(shard));
	shard->iterator = pstrdup(it);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * The stream no longer has the records after the checkpoint.  Whatever was
 * read is delivered first; then the gap is measured (the oldest record
 * left, by a TRIM_HORIZON peek), reported, and the shard stops or goes on
 * from TRIM_HORIZON as the pipeline says.
 */
static void
handle_trimmed_gap(PumpWorker *w, ShardReader *shard)
{
	AwsError   *error = NULL;
	char	   *gap_before = NULL;
	char	   *it;
	bool		stop = !(w->config->skip_trimmed_gaps || shard->skip_gap);
	bool		gone = false;

	if (shard->npending > 0)
		delivery_flush(w, shard);
	if (shard->iterator)
		pfree(shard->iterator);
	shard->iterator = NULL;

	it = ddbstreams_get_shard_iterator(w->client, w->config->stream_arn, shard->shard_id,
									   "TRIM_HORIZON", NULL, &error);
	if (it == NULL && strcmp(error->code, "ResourceNotFoundException") == 0)
		gone = true;
	if (it != NULL)
	{
		StreamRecordsPage *page = ddbstreams_get_records(w->client, it, 1, &error);

		if (page && page->nrecords > 0)
		{
			json_object *first = aws_json_arr_obj(page->records, 0);

			gap_before = record_string(aws_json_obj(first, "dynamodb"), "SequenceNumber");
		}
	}

	/* a gap the user already accepted is only logged */
	ereport(shard->skip_gap ? LOG : WARNING,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("audit_fdw pipeline \"%s\" lost records of shard \"%s\": the stream no longer has them",
					w->args.pipeline, shard->shard_id),
			 errdetail("Records %s%s%s%s were trimmed from the stream (older than its 24 hour retention) before they were delivered.",
					   shard->checkpoint ? "after sequence number " : "from the start of the shard",
					   shard->checkpoint ? shard->checkpoint : "",
					   gap_before ? " and before sequence number " : "",
					   gap_before ? gap_before : (it ? " up to the end of the shard" : "")),
			 stop ?
			 errhint("The shard is stopped. To accept the loss and go on, run SELECT audit_fdw.skip_trimmed_gap('%s', '%s').",
					 w->args.pipeline, shard->shard_id) :
			 w->config->snapshot_trimmed_gaps && !shard->skip_gap ?
			 errhint("The pipeline goes on from the oldest record left, and a backfill writes a snapshot of the table (on_trimmed_gap is 'snapshot'; see audit_fdw.backfill_status).") :
			 errhint("The pipeline goes on from the oldest record left (on_trimmed_gap is 'skip').")));

	checkpoint_trimmed_gap(w, shard, shard->checkpoint, gap_before, stop);
	if (!stop && w->config->snapshot_trimmed_gaps && !shard->skip_gap)
	{
		int64		cancelled;
		int64		id = checkpoint_gap_backfill(w, shard, &cancelled);

		ereport(LOG,
				(errmsg("audit_fdw pipeline \"%s\" started backfill %lld for the trimmed gap of shard \"%s\"",
						w->args.pipeline, (long long) id, shard->shard_id),
				 cancelled ?
				 errdetail("Backfill %lld, which began before the gap, was cancelled for it.",
						   (long long) cancelled) : 0));
	}
	shard->skip_gap = false;
	if (!stop && gone)
	{
		/* nothing of the shard is left to read: it is done */
		shard->at_end = true;
	}
	else if (stop)
	{
		shard_reset(shard);
		shard->state = SHARD_STOPPED;
	}
	else
	{
		/* go on from the oldest record left */
		if (shard->checkpoint)
			pfree(shard->checkpoint);
		shard->checkpoint = NULL;
		shard->initial = false;
		shard->next_poll = 0;
	}
}

static char *
record_string(json_object *obj, const char *key)
{
	const char *v = aws_json_str(obj, key);

	return v ? pstrdup(v) : NULL;
}

/* Room for one more pending record. */
PendingRecord *
shard_next_pending(ShardReader *shard)
{
	PendingRecord *rec;

	if (shard->npending == shard->maxpending)
	{
		int			newmax = shard->maxpending ? shard->maxpending * 2 : 1024;

		if (shard->pending == NULL)
			shard->pending = MemoryContextAlloc(shard->cxt, sizeof(PendingRecord) * newmax);
		else
			shard->pending = repalloc(shard->pending, sizeof(PendingRecord) * newmax);
		shard->maxpending = newmax;
	}
	rec = &shard->pending[shard->npending];
	memset(rec, 0, sizeof(*rec));
	return rec;
}

/*
 * A record the transform could not read: its sequence number and event id
 * through json-c (the slow way, for this rare case).
 */
static void
bad_record_ids(ShardReader *shard, const char *text, size_t len, PendingRecord *rec)
{
	json_tokener *tok = json_tokener_new_ex(256);
	json_object *obj;
	MemoryContext old;

	if (tok == NULL)
		elog(ERROR, "out of memory");
	obj = json_tokener_parse_ex(tok, text, (int) len);
	json_tokener_free(tok);
	old = MemoryContextSwitchTo(shard->cxt);
	if (obj)
	{
		rec->sequence_number = record_string(aws_json_obj(obj, "dynamodb"),
											 "SequenceNumber");
		rec->event_id = record_string(obj, "eventID");
		json_object_put(obj);
	}
	/*
	 * Deeper than json-c reads, or not JSON at all: the first
	 * "SequenceNumber":"<digits>" (an attribute of that name would be
	 * followed by an object, {"S": ...}, never by a string).
	 */
	if (rec->sequence_number == NULL)
		rec->sequence_number = find_string_field(text, len, "\"SequenceNumber\":\"", true);
	if (rec->event_id == NULL)
		rec->event_id = find_string_field(text, len, "\"eventID\":\"", false);
	MemoryContextSwitchTo(old);
}

/* The string after the first occurrence of key in text (digits only if asked), or NULL. */
static char *
find_string_field(const char *text, size_t len, const char *key, bool digits)
{
	size_t		klen = strlen(key);
	const char *p = text;
	const char *end = text + len;

	while ((size_t) (end - p) > klen)
	{
		const char *hit = memchr(p, key[0], end - p - klen);
		const char *q;

		if (hit == NULL)
			return NULL;
		if (memcmp(hit, key, klen) != 0)
		{
			p = hit + 1;
			continue;
		}
		q = hit + klen;
		while (q < end && *q != '"' && *q != '\\' &&
			   (!digits || (*q >= '0' && *q <= '9')))
			q++;
		if (q < end && *q == '"' && q > hit + klen)
			return pnstrdup(hit + klen, q - (hit + klen));
		p = hit + 1;
	}
	return NULL;
}

/*
 * Transforms one stream record (its JSON text, at the start of avail bytes
 * of a page) onto the shard's pending list; *len gets its length, 0 when
 * it is malformed (nothing added).
 */
static void
add_record(PumpWorker *w, ShardReader *shard, const char *text, size_t avail, size_t *len_out)
{
	PendingRecord *rec = shard_next_pending(shard);
	AuditRecordInfo info;
	AuditTransformResult r;
	char		err[256];
	size_t		start = shard->buf.len;
	size_t		len;

	r = audit_transform_record_at(text, avail, &len, shard->shard_id, w->config->source_table,
								  &shard->buf, &info, err, sizeof(err));
	*len_out = len;
	if (len == 0)
		return;
	if (r == AUDIT_TRANSFORM_OUT_OF_MEMORY)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Transforming a record of shard \"%s\" failed.", shard->shard_id)));

	if (r == AUDIT_TRANSFORM_BAD_RECORD)
	{
		/* the record as it came, so that nothing is lost */
		bad_record_ids(shard, text, len, rec);
		audit_buf_append(&shard->buf, text, len);
		rec->dead_reason = MemoryContextStrdup(shard->cxt, err);
	}
	else
	{
		rec->sequence_number = MemoryContextAlloc(shard->cxt, info.sequence_number_len + 1);
		memcpy(rec->sequence_number, info.sequence_number, info.sequence_number_len);
		rec->sequence_number[info.sequence_number_len] = '\0';
		rec->event_id = MemoryContextAlloc(shard->cxt, info.event_id_len + 1);
		memcpy(rec->event_id, info.event_id, info.event_id_len);
		rec->event_id[info.event_id_len] = '\0';
		if (shard->buf.len - start > FIREHOSE_MAX_RECORD_BYTES)
			rec->dead_reason = "the audit record is larger than Firehose's 1,000 KiB record limit";
		rec->item = info.keys_len > 0 ?
			hash_bytes_extended((const unsigned char *) shard->buf.data + info.keys_offset,
								(int) info.keys_len, 0) : 0;
		rec->approximate_time = info.approximate_time;
	}
	if (rec->sequence_number == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("aws dynamodbstreams GetRecords returned a record without a sequence number"),
				 errdetail("Shard \"%s\", after sequence number %s.", shard->shard_id,
						   shard->checkpoint ? shard->checkpoint : "(none)")));
	if (shard->buf.oom)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	rec->offset = start;
	rec->len = shard->buf.len - start;
	if (rec->dead_reason == NULL)
		shard->pending_bytes += rec->len;
	/* from the call that read it: on the polls' cadence (poll_at) */
	if (shard->npending == 0)
		shard->pending_since = shard->last_call;
	shard->npending++;
}

/*
 * When to poll next, interval_ms after a call made at last_call.  The polls
 * of a reader's shards fall on a common cadence, POLL_TICK_MS apart: the
 * time is moved to the nearest tick, so that a reader of many shards wakes
 * once a tick for all of them rather than once for each, and their batches
 * fall due together.  Never sooner after the call than DynamoDB Streams' 5
 * calls a second allow; an interval under a tick (a pump_idle_max_ms that
 * small) is kept as it is.
 */
static TimestampTz
poll_at(TimestampTz last_call, int interval_ms)
{
	TimestampTz due = TimestampTzPlusMilliseconds(last_call, interval_ms);
	TimestampTz soonest = TimestampTzPlusMilliseconds(last_call, PACE_FULL_PAGE_MS);
	int64		tick = (int64) POLL_TICK_MS * 1000;
	TimestampTz at;

	if (interval_ms < POLL_TICK_MS)
		return due;
	at = ((due + tick / 2) / tick) * tick;
	return Max(at, soonest);
}

/*
 * When to call again after a page of nrecords records (fewer than a full
 * one), nbytes of them pending, read by a call at shard->last_call whose
 * previous call was at prev_call (0 for the first).  The pace's 250 ms,
 * unless records are pending for a batching window longer than that: they
 * are delivered when the window ends, however often the shard is called
 * meanwhile, so the next call reads then what came in between (on the
 * cadence, poll_at; the batch falls due in the same pass or the next), or
 * sooner when, at the rate this page came, the batch would reach
 * batch_size records or Firehose's bytes before.  A record then waits no
 * longer than with a call every 250 ms: at most the window from the call
 * that read the batch's first record.
 */
static TimestampTz
next_page_poll(PumpWorker *w, ShardReader *shard, TimestampTz prev_call, int nrecords,
			   size_t nbytes)
{
	TimestampTz due;
	double		since_ms,
				wait_ms;

	if (shard->npending == 0 || w->config->batching_window_ms <= PACE_PAGE_MS)
		return poll_at(shard->last_call, PACE_PAGE_MS);
	due = TimestampTzPlusMilliseconds(shard->pending_since, w->config->batching_window_ms);
	wait_ms = (due - shard->last_call) / 1000.0;
	/* the page holds what came since the previous call */
	since_ms = prev_call > 0 && prev_call < shard->last_call ?
		(shard->last_call - prev_call) / 1000.0 : PACE_PAGE_MS;
	if (nrecords > 0)
		wait_ms = Min(wait_ms, since_ms * (w->config->batch_size - shard->npending) / nrecords);
	if (nbytes > 0 && shard->pending_bytes < FIREHOSE_MAX_BATCH_BYTES)
		wait_ms = Min(wait_ms, since_ms * (FIREHOSE_MAX_BATCH_BYTES - shard->pending_bytes) /
					  (double) nbytes);
	return poll_at(shard->last_call, (int) Max(wait_ms, PACE_PAGE_MS));
}

typedef struct PageWalk
{
	PumpWorker *w;
	ShardReader *shard;
} PageWalk;

static bool
add_record_from_page(void *arg, const char *text, size_t avail, size_t *len)
{
	PageWalk   *walk = arg;

	add_record(walk->w, walk->shard, text, avail, len);
	return true;
}

/* NextShardIterator's content as a string (escapes are unusual there). */
static char *
iterator_string(const char *raw, size_t len)
{
	char	   *quoted;
	json_object *obj;
	char	   *result;

	if (memchr(raw, '\\', len) == NULL)
		return pnstrdup(raw, len);
	quoted = psprintf("\"%.*s\"", (int) len, raw);
	obj = json_tokener_parse(quoted);
	if (obj == NULL || !json_object_is_type(obj, json_type_string))
	{
		json_object_put(obj);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("aws dynamodbstreams GetRecords returned a malformed NextShardIterator")));
	}
	result = pstrdup(json_object_get_string(obj));
	json_object_put(obj);
	return result;
}

/*
 * One GetRecords on the shard.  Returns true when records came (poll again
 * at once).  Delivers when the batch is full or the shard ended.
 */
bool
shard_poll(PumpWorker *w, ShardReader *shard)
{
	AwsError   *error = NULL;
	AwsResponse *http;
	PageWalk	walk;
	const char *next;
	size_t		next_len;
	int			nrecords;
	size_t		bytes_before,
				page_bytes;
	TimestampTz prev_call;
	char		err[256];
	MemoryContext old;

	if (!ensure_iterator(w, shard))
		return false;

	prev_call = shard->last_call;
	shard->last_call = GetCurrentTimestamp();
	if (shard->stats_since == 0)
		shard->stats_since = shard->last_call;
	shard->calls++;
	shard->window_calls++;
	http = ddbstreams_get_records_text(w->client, shard->iterator, GET_RECORDS_LIMIT, &error);
	if (http == NULL && strcmp(error->code, "LimitExceededException") == 0)
	{
		/* over the shard's limit: expected traffic, not an error */
		shard->throttled++;
		shard->next_poll = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), THROTTLED_WAIT_MS);
		return false;
	}
	if (http == NULL)
	{
		if (strcmp(error->code, "ExpiredIteratorException") == 0)
		{
			/* deliver what was read, then renew from that checkpoint */
			ereport(LOG,
					(errmsg("audit_fdw pump: pipeline \"%s\" shard \"%s\": iterator expired, renewing it after sequence number %s",
							w->args.pipeline, shard->shard_id,
							shard->checkpoint ? shard->checkpoint : "(none)")));
			if (shard->npending > 0)
				delivery_flush(w, shard);
			pfree(shard->iterator);
			shard->iterator = NULL;
			return true;
		}
		if (strcmp(error->code, "TrimmedDataAccessException") == 0)
		{
			handle_trimmed_gap(w, shard);
			return true;
		}
		note_call_error(w, shard, error);
		return false;
	}
	shard->error_backoff_ms = 0;
	health_ok(w, shard);

	walk.w = w;
	walk.shard = shard;
	bytes_before = shard->pending_bytes;
	if (!audit_walk_records_page(http->body, http->body_len, add_record_from_page, &walk,
								 &next, &next_len, &nrecords, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("aws dynamodbstreams GetRecords returned an unexpected response"),
				 errdetail("%s.", err)));
	/* the body is lent until the next request: what is kept is copied now */
	old = MemoryContextSwitchTo(GetMemoryChunkContext(shard));
	pfree(shard->iterator);
	shard->iterator = next ? iterator_string(next, next_len) : NULL;
	MemoryContextSwitchTo(old);
	shard->window_records += nrecords;

	if (shard->iterator == NULL)
	{
		/* a closed shard read to its end: deliver, then retire */
		shard->at_end = true;
		return true;
	}
	if (nrecords == 0)
	{
		shard->idle_ms = shard->idle_ms ? Min(shard->idle_ms * 2, pump_idle_max_ms) : IDLE_START_MS;
		shard->next_poll = poll_at(shard->last_call, shard->idle_ms);
		/* written at the end of the pass (checkpoint_report_polls) */
		if (!shard->caught_up && shard->npending == 0 && !shard->lag_reported_zero)
		{
			shard->polls_due = true;
			shard->polls_lag_zero = true;
			shard->lag_reported_zero = true;
		}
		else if (TimestampDifferenceExceeds(shard->stats_written, GetCurrentTimestamp(),
											POLL_STATS_INTERVAL_MS))
			shard->polls_due = true;
		shard->caught_up = true;
		return false;
	}
	shard->idle_ms = 0;
	shard->caught_up = false;
	shard->lag_reported_zero = false;
	page_bytes = shard->pending_bytes - bytes_before;
	if (delivery_due(w, shard, GetCurrentTimestamp()))
		delivery_flush(w, shard);
	/* after the delivery: what it sent no longer waits for the window */
	shard->next_poll = nrecords >= GET_RECORDS_LIMIT ?
		TimestampTzPlusMilliseconds(shard->last_call, PACE_FULL_PAGE_MS) :
		next_page_poll(w, shard, prev_call, nrecords, page_bytes);
	return true;
}
