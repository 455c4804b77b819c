/*-------------------------------------------------------------------------
 *
 * checkpoint.c
 *		The pump's reads and writes of its tables: audit_fdw.pipeline,
 *		audit_fdw.checkpoint and audit_fdw.dead_letter.
 *
 * Rules:
 *	- every function runs its own transaction (the worker holds none
 *	  between them, so no snapshot or lock outlives a call to AWS);
 *	- a checkpoint moves forward together with its counters and the dead
 *	  letters it passes, in one transaction: after a crash either all of it
 *	  happened or the records are read and sent again;
 *	- results are copied into the caller's memory context before the
 *	  transaction ends.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
/* utils/builtins.h declares a json_object() that json-c's typedef clashes with */
#define json_object pg_json_object_fn
#include "utils/builtins.h"
#undef json_object
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "aws/dynamodbstreams.h"
#include "pump/pump.h"

static void begin(const char *activity);
static void end(void);
static char *get_text(int row, int col, MemoryContext cxt);

static void
begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

static void
end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

static char *
get_text(int row, int col, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	if (isnull)
		return NULL;
	return MemoryContextStrdup(cxt, TextDatumGetCString(d));
}

/* The pipeline's row, or NULL when it does not exist. */
PipelineConfig *
checkpoint_read_pipeline(const char *name, MemoryContext cxt)
{
	PipelineConfig *config = NULL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	begin("reading audit_fdw.pipeline");
	values[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT name, server_name, owner, source_table, stream_arn, "
							  "delivery_stream, starting_position, batch_size, "
							  "max_batching_window, on_trimmed_gap, state, created_at "
							  "FROM audit_fdw.pipeline WHERE name = $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading audit_fdw.pipeline failed");
	if (SPI_processed == 1)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *position;
		char	   *gap_policy;
		char	   *state;
		Interval   *window;

		config = MemoryContextAllocZero(cxt, sizeof(PipelineConfig));
		config->name = get_text(0, 1, cxt);
		config->server_name = get_text(0, 2, cxt);
		config->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		config->source_table = get_text(0, 4, cxt);
		config->stream_arn = get_text(0, 5, cxt);
		config->delivery_stream = get_text(0, 6, cxt);
		position = get_text(0, 7, cxt);
		gap_policy = get_text(0, 10, cxt);
		state = get_text(0, 11, cxt);
		config->start_at_latest = strcmp(position, "LATEST") == 0;
		config->batch_size = DatumGetInt32(SPI_getbinval(tup, desc, 8, &isnull));
		/* computed here, not in SQL: no operator is looked up for it */
		window = DatumGetIntervalP(SPI_getbinval(tup, desc, 9, &isnull));
		config->batching_window_ms = (int) ((window->time / 1000) +
											((int64) window->day * SECS_PER_DAY +
											 (int64) window->month * DAYS_PER_MONTH * SECS_PER_DAY) * 1000);
		config->skip_trimmed_gaps = strcmp(gap_policy, "skip") == 0;
		config->running = strcmp(state, "running") == 0;
		config->created_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 12, &isnull));
	}
	end();
	return config;
}

/* Every shard row of the pipeline, as a List of ShardRow * in cxt. */
List *
checkpoint_read_shards(const char *pipeline, MemoryContext cxt)
{
	List	   *rows = NIL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	uint64		i;

	begin("reading audit_fdw.checkpoint");
	values[0] = CStringGetTextDatum(pipeline);
	if (SPI_execute_with_args("SELECT shard_id, parent_shard_id, state, initial, sequence_number, skip_gap "
							  "FROM audit_fdw.checkpoint WHERE pipeline = $1 ORDER BY shard_id",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading audit_fdw.checkpoint failed");
	for (i = 0; i < SPI_processed; i++)
	{
		ShardRow   *row = MemoryContextAllocZero(cxt, sizeof(ShardRow));
		char	   *state = get_text(i, 3, CurrentMemoryContext);
		bool		isnull;
		MemoryContext old;

		row->shard_id = get_text(i, 1, cxt);
		row->parent_shard_id = get_text(i, 2, cxt);
		row->state = strcmp(state, "drained") == 0 ? SHARD_DRAINED :
			strcmp(state, "stopped") == 0 ? SHARD_STOPPED : SHARD_READING;
		row->initial = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
												  SPI_tuptable->tupdesc, 4, &isnull));
		row->sequence_number = get_text(i, 5, cxt);
		row->skip_gap = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
												   SPI_tuptable->tupdesc, 6, &isnull));
		old = MemoryContextSwitchTo(cxt);
		rows = lappend(rows, row);
		MemoryContextSwitchTo(old);
	}
	end();
	return rows;
}

/*
 * Writes the shards DescribeStream listed (new ones with their parents;
 * an ending sequence number once a shard closed) and retires drained
 * shards it no longer lists.  The shards of a pipeline's first discovery
 * are its initial shards (read from the pipeline's starting position).
 */
void
checkpoint_register_shards(const char *pipeline, List *shards, List *listed_ids)
{
	Oid			argtypes[5] = {TEXTOID, TEXTOID, TEXTOID, BOOLOID, TEXTOID};
	Datum		values[5];
	char		nulls[5];
	bool		initial;
	ListCell   *lc;
	SPIPlanPtr	plan;

	begin("registering shards in audit_fdw.checkpoint");
	values[0] = CStringGetTextDatum(pipeline);
	if (SPI_execute_with_args("SELECT 1 FROM audit_fdw.checkpoint WHERE pipeline = $1 LIMIT 1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading audit_fdw.checkpoint failed");
	initial = (SPI_processed == 0);

	plan = SPI_prepare("INSERT INTO audit_fdw.checkpoint AS c "
					   "(pipeline, shard_id, parent_shard_id, initial, ending_sequence_number) "
					   "SELECT $1, $2, $3, $4, $5 WHERE EXISTS "
					   "(SELECT 1 FROM audit_fdw.pipeline WHERE name = $1) "
					   "ON CONFLICT (pipeline, shard_id) DO UPDATE "
					   "SET ending_sequence_number = EXCLUDED.ending_sequence_number "
					   "WHERE c.ending_sequence_number IS DISTINCT FROM EXCLUDED.ending_sequence_number",
					   5, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	foreach(lc, shards)
	{
		StreamShard *s = lfirst(lc);

		memset(nulls, ' ', sizeof(nulls));
		values[1] = CStringGetTextDatum(s->shard_id);
		values[2] = s->parent_shard_id ? CStringGetTextDatum(s->parent_shard_id) : (Datum) 0;
		nulls[2] = s->parent_shard_id ? ' ' : 'n';
		values[3] = BoolGetDatum(initial);
		values[4] = s->ending_sequence_number ?
			CStringGetTextDatum(s->ending_sequence_number) : (Datum) 0;
		nulls[4] = s->ending_sequence_number ? ' ' : 'n';
		if (SPI_execute_plan(plan, values, nulls, false, 0) < 0)
			elog(ERROR, "registering shard %s failed", s->shard_id);
	}

	/* drained shards the stream no longer lists are retired */
	{
		Oid			delete_types[2] = {TEXTOID, TEXTARRAYOID};
		Datum		delete_values[2];
		Datum	   *ids = palloc(sizeof(Datum) * Max(list_length(listed_ids), 1));
		int			n = 0;

		foreach(lc, listed_ids)
			ids[n++] = CStringGetTextDatum((char *) lfirst(lc));
		delete_values[0] = values[0];
		delete_values[1] = PointerGetDatum(construct_array(ids, n, TEXTOID, -1, false,
														   TYPALIGN_INT));
		if (SPI_execute_with_args("DELETE FROM audit_fdw.checkpoint "
								  "WHERE pipeline = $1 AND state = 'drained' "
								  "AND shard_id <> ALL ($2)",
								  2, delete_types, delete_values, NULL, false, 0) < 0)
			elog(ERROR, "retiring shards failed");
	}
	end();
}

/*
 * Moves the shard's checkpoint to its last pending record, adds the
 * counters, writes the dead letters, and marks the shard drained when
 * asked, all in one transaction.  Returns false when the shard's row is
 * gone (the pipeline was dropped).
 */
bool
checkpoint_advance(PumpWorker *w, ShardReader *shard, bool drained)
{
	Oid			argtypes[10] = {TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID,
	INT8OID, TIMESTAMPTZOID, FLOAT8OID, BOOLOID};
	Datum		values[10];
	char		nulls[10];
	int64		delivered = 0,
				dead = 0;
	double		last_time = 0;
	bool		updated;
	int			i;

	for (i = 0; i < shard->npending; i++)
	{
		if (shard->pending[i].dead_reason)
			dead++;
		else
		{
			delivered++;
			if (shard->pending[i].approximate_time > 0)
				last_time = shard->pending[i].approximate_time;
		}
	}

	begin("writing an audit_fdw checkpoint");
	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(w->args.pipeline);
	values[1] = CStringGetTextDatum(shard->shard_id);
	if (shard->npending > 0)
		values[2] = CStringGetTextDatum(shard->pending[shard->npending - 1].sequence_number);
	else
		nulls[2] = 'n';
	values[3] = Int64GetDatum(shard->npending);
	values[4] = Int64GetDatum(delivered);
	values[5] = Int64GetDatum(shard->retried);
	values[6] = Int64GetDatum(dead);
	if (last_time > 0)
	{
		TimestampTz t = (TimestampTz) ((last_time - ((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)) * USECS_PER_SEC);
		double		lag = (double) (GetCurrentTimestamp() - t) / USECS_PER_SEC;

		values[7] = TimestampTzGetDatum(t);
		values[8] = Float8GetDatum(Max(lag, 0.0));
	}
	else
	{
		nulls[7] = 'n';
		nulls[8] = 'n';
	}
	values[9] = BoolGetDatum(drained);

	if (SPI_execute_with_args("UPDATE audit_fdw.checkpoint SET "
							  "sequence_number = COALESCE($3, sequence_number), "
							  "records_read = records_read + $4, "
							  "records_delivered = records_delivered + $5, "
							  "records_retried = records_retried + $6, "
							  "records_dead_lettered = records_dead_lettered + $7, "
							  "last_record_time = COALESCE($8, last_record_time), "
							  "lag_seconds = CASE WHEN $10 THEN NULL ELSE COALESCE($9, lag_seconds) END, "
							  "state = CASE WHEN $10 THEN 'drained' ELSE state END, "
							  "updated_at = now() "
							  "WHERE pipeline = $1 AND shard_id = $2",
							  10, argtypes, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "writing audit_fdw.checkpoint failed");
	updated = (SPI_processed == 1);

	if (updated && dead > 0)
	{
		Oid			dl_types[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID};
		Datum		dl_values[7];
		char		dl_nulls[7];
		SPIPlanPtr	plan = SPI_prepare("INSERT INTO audit_fdw.dead_letter "
									   "(pipeline, shard_id, sequence_number, event_id, reason, "
									   "record_bytes, record) VALUES ($1, $2, $3, $4, $5, $6, $7)",
									   7, dl_types);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		for (i = 0; i < shard->npending; i++)
		{
			PendingRecord *rec = &shard->pending[i];

			if (!rec->dead_reason)
				continue;
			memset(dl_nulls, ' ', sizeof(dl_nulls));
			dl_values[0] = values[0];
			dl_values[1] = values[1];
			dl_values[2] = CStringGetTextDatum(rec->sequence_number);
			dl_values[3] = rec->event_id ? CStringGetTextDatum(rec->event_id) : (Datum) 0;
			dl_nulls[3] = rec->event_id ? ' ' : 'n';
			dl_values[4] = CStringGetTextDatum(rec->dead_reason);
			dl_values[5] = Int32GetDatum((int32) rec->len);
			dl_values[6] = PointerGetDatum(cstring_to_text_with_len(shard->buf.data + rec->offset,
																	(int) rec->len));
			if (SPI_execute_plan(plan, dl_values, dl_nulls, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "writing audit_fdw.dead_letter failed");
			ereport(WARNING,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("audit_fdw pipeline \"%s\" put a record in the dead-letter table",
							w->args.pipeline),
					 errdetail("Shard \"%s\", sequence number %s: %s.", shard->shard_id,
							   rec->sequence_number, rec->dead_reason)));
		}
	}
	end();
	return updated;
}

/* Notes an error on a shard's row, or on the pipeline's when shard_id is NULL. */
void
checkpoint_note_error(const char *pipeline, const char *shard_id, const char *message)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];

	begin("noting an audit_fdw pipeline error");
	values[0] = CStringGetTextDatum(pipeline);
	values[1] = CStringGetTextDatum(message);
	if (shard_id)
	{
		values[2] = CStringGetTextDatum(shard_id);
		if (SPI_execute_with_args("UPDATE audit_fdw.checkpoint SET last_error = $2, "
								  "last_error_at = now() WHERE pipeline = $1 AND shard_id = $3",
								  3, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "writing audit_fdw.checkpoint failed");
	}
	else if (SPI_execute_with_args("UPDATE audit_fdw.pipeline SET last_error = $2, "
								   "last_error_at = now() WHERE name = $1",
								   2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "writing audit_fdw.pipeline failed");
	end();
}

/* The shard is caught up: no lag. */
void
checkpoint_report_lag_zero(const char *pipeline, const char *shard_id)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	begin("writing an audit_fdw checkpoint");
	values[0] = CStringGetTextDatum(pipeline);
	values[1] = CStringGetTextDatum(shard_id);
	if (SPI_execute_with_args("UPDATE audit_fdw.checkpoint SET lag_seconds = 0, updated_at = now() "
							  "WHERE pipeline = $1 AND shard_id = $2",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "writing audit_fdw.checkpoint failed");
	end();
}

/*
 * Records a trimmed gap on the shard's row; stop: the shard stops there,
 * else it goes on from the oldest record left (no checkpoint).
 */
void
checkpoint_trimmed_gap(PumpWorker *w, ShardReader *shard, const char *gap_after,
					   const char *gap_before, bool stop)
{
	Oid			argtypes[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID, TEXTOID};
	Datum		values[6];
	char		nulls[6];

	begin("recording a trimmed gap in audit_fdw.checkpoint");
	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(w->args.pipeline);
	values[1] = CStringGetTextDatum(shard->shard_id);
	values[2] = gap_after ? CStringGetTextDatum(gap_after) : (Datum) 0;
	nulls[2] = gap_after ? ' ' : 'n';
	values[3] = gap_before ? CStringGetTextDatum(gap_before) : (Datum) 0;
	nulls[3] = gap_before ? ' ' : 'n';
	values[4] = BoolGetDatum(stop);
	values[5] = CStringGetTextDatum(psprintf("trimmed gap: records %s%s%s%s were lost",
											 gap_after ? "after sequence number " : "from the start of the shard",
											 gap_after ? gap_after : "",
											 gap_before ? " and before " : "",
											 gap_before ? gap_before : ""));
	if (SPI_execute_with_args("UPDATE audit_fdw.checkpoint SET "
							  "gap_after_sequence_number = $3, gap_before_sequence_number = $4, "
							  "gap_detected_at = now(), last_error = $6, last_error_at = now(), "
							  "state = CASE WHEN $5 THEN 'stopped' ELSE state END, "
							  "sequence_number = CASE WHEN $5 THEN sequence_number END, "
							  "initial = initial AND $5, skip_gap = false, "
							  "lag_seconds = NULL, updated_at = now() "
							  "WHERE pipeline = $1 AND shard_id = $2",
							  6, argtypes, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "writing audit_fdw.checkpoint failed");
	end();
}
