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
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "pgstat.h"
/* utils/builtins.h declares a json_object() that json-c's typedef clashes with */
#define json_object pg_json_object_fn
#include "utils/array.h"
#include "utils/builtins.h"
#undef json_object
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "aws/dynamodbstreams.h"
#include "pump/dead_letter_text.h"
#include "pump/pump.h"

static char *get_text(int row, int col, MemoryContext cxt);
static int	execute_kept(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
						 Datum *values, const char *nulls, bool read_only, long tcount);
/* the plans of the statements of every pass and batch (execute_kept) */
static SPIPlanPtr pipeline_plan = NULL;
static int	pipeline_has_folders = -1;	/* -1: not known yet */
static SPIPlanPtr shards_plan = NULL;
static SPIPlanPtr shard_plan = NULL;
static SPIPlanPtr advance_plan = NULL;
static SPIPlanPtr polls_plan = NULL;
static SPIPlanPtr mark_sent_plan = NULL;
static SPIPlanPtr register_plan = NULL;
static SPIPlanPtr retire_plan = NULL;

static void poll_stats(ShardReader *shard, Datum *calls, Datum *throttled,
					   Datum *per_second, char *per_second_null,
					   Datum *per_call, char *per_call_null);

/*
 * The shard's GetRecords traffic since its last write, as parameters; the
 * counts start again from zero.
 */
static void
poll_stats(ShardReader *shard, Datum *calls, Datum *throttled, Datum *per_second,
		   char *per_second_null, Datum *per_call, char *per_call_null)
{
	TimestampTz now = GetCurrentTimestamp();
	double		secs = shard->stats_since ?
		(double) (now - shard->stats_since) / USECS_PER_SEC : 0;

	*calls = Int64GetDatum(shard->calls);
	*throttled = Int64GetDatum(shard->throttled);
	shard->calls = 0;
	shard->throttled = 0;
	*per_second_null = *per_call_null = 'n';
	shard->stats_written = now;
	/* the rates over windows of a second or more */
	if (shard->stats_since == 0 || secs < 1.0)
		return;
	*per_second = Float8GetDatum((double) shard->window_calls / secs);
	*per_second_null = ' ';
	if (shard->window_calls > 0)
	{
		*per_call = Float8GetDatum((double) shard->window_records / (double) shard->window_calls);
		*per_call_null = ' ';
	}
	shard->window_calls = 0;
	shard->window_records = 0;
	shard->stats_since = now;
	shard->stats_written = now;
}

/*
 * Runs one of the statements a reader runs on every pass or batch through
 * a plan prepared at its first use and kept for the process's life (the
 * plan cache plans it again after DDL on the tables), not parsed and
 * planned on every call.  The plan is generic from the first call: each
 * statement finds its rows by their key (a pipeline's name, a shard's
 * id), whatever the values, so planning for the values (the plan cache's
 * first five calls) would only cost time.  Under SPI_connect.
 */
static int
execute_kept(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes, Datum *values,
			 const char *nulls, bool read_only, long tcount)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "preparing \"%s\" failed: %s", sql, SPI_result_code_string(SPI_result));
		*plan = p;
	}
	return SPI_execute_plan(*plan, values, nulls, read_only, tcount);
}

/* the memory context checkpoint_end goes back to */
static MemoryContext checkpoint_caller = NULL;

/* A transaction with SPI connected, for the pump's own statements. */
void
checkpoint_begin(const char *activity)
{
	checkpoint_caller = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

void
checkpoint_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	pump_commit(checkpoint_caller);
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

	checkpoint_begin("reading audit_fdw.pipeline");
	/*
	 * 1.3's folder columns, when the installation has them: a library newer
	 * than the installation (ALTER EXTENSION UPDATE not run yet) goes on
	 * pumping its pipelines, which have no folders.  Asked once a process,
	 * of the catalog caches (a query of pg_attribute, parsed and planned in
	 * a process whose caches are all cold, took about a millisecond).
	 */
	if (pipeline_has_folders < 0)
	{
		Oid			nsp = get_namespace_oid("audit_fdw", true);
		Oid			rel = OidIsValid(nsp) ? get_relname_relid("pipeline", nsp) : InvalidOid;

		pipeline_has_folders = OidIsValid(rel) &&
			get_attnum(rel, "folder_values") != InvalidAttrNumber;
	}
	values[0] = CStringGetTextDatum(name);
	if (execute_kept(&pipeline_plan, pipeline_has_folders ?
					 "SELECT name, server_name, owner, source_table, stream_arn, "
					 "delivery_stream, starting_position, batch_size, "
					 "max_batching_window, on_trimmed_gap, state, created_at, health, generation, "
					 "folder_attribute, folder_values "
					 "FROM audit_fdw.pipeline WHERE name = $1" :
					 "SELECT name, server_name, owner, source_table, stream_arn, "
					 "delivery_stream, starting_position, batch_size, "
					 "max_batching_window, on_trimmed_gap, state, created_at, health, generation "
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
		config->snapshot_trimmed_gaps = strcmp(gap_policy, "snapshot") == 0;
		config->skip_trimmed_gaps = strcmp(gap_policy, "skip") == 0 ||
			config->snapshot_trimmed_gaps;
		config->running = strcmp(state, "running") == 0;
		config->created_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 12, &isnull));
		config->health = health_from_name(get_text(0, 13, CurrentMemoryContext));
		config->generation = DatumGetInt64(SPI_getbinval(tup, desc, 14, &isnull));
		config->folder_attribute = pipeline_has_folders ? get_text(0, 15, cxt) : NULL;
		if (config->folder_attribute != NULL)
		{
			Datum		arr = SPI_getbinval(tup, desc, 16, &isnull);
			Datum	   *elems;
			bool	   *nulls;
			int			n = 0;

			/* the table's CHECK: values with the attribute, none NULL */
			if (!isnull)
				deconstruct_array(DatumGetArrayTypeP(arr), TEXTOID, -1, false, TYPALIGN_INT,
								  &elems, &nulls, &n);
			config->folder_values = MemoryContextAllocZero(cxt, sizeof(char *) * (n + 1));
			for (int i = 0; i < n; i++)
				config->folder_values[i] = MemoryContextStrdup(cxt, TextDatumGetCString(elems[i]));
			config->nfolder_values = n;
		}
	}
	checkpoint_end();
	return config;
}

#define SHARD_COLUMNS "shard_id, parent_shard_id, state, initial, sequence_number, skip_gap, " \
	"sent_sequence_number, health, ending_sequence_number"

/* Row i of SPI's result (of SHARD_COLUMNS) as a ShardRow in cxt. */
static ShardRow *
shard_row(uint64 i, MemoryContext cxt)
{
	ShardRow   *row = MemoryContextAllocZero(cxt, sizeof(ShardRow));
	char	   *state = get_text(i, 3, CurrentMemoryContext);
	bool		isnull;

	row->shard_id = get_text(i, 1, cxt);
	row->parent_shard_id = get_text(i, 2, cxt);
	row->state = strcmp(state, "drained") == 0 ? SHARD_DRAINED :
		strcmp(state, "stopped") == 0 ? SHARD_STOPPED : SHARD_READING;
	row->initial = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 4, &isnull));
	row->sequence_number = get_text(i, 5, cxt);
	row->skip_gap = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
											   SPI_tuptable->tupdesc, 6, &isnull));
	row->sent_sequence_number = get_text(i, 7, cxt);
	row->health = health_from_name(get_text(i, 8, CurrentMemoryContext));
	row->ending_sequence_number = get_text(i, 9, cxt);
	return row;
}

/*
 * Every shard row of the pipeline, as a List of ShardRow * in cxt, in the
 * byte order of their shard ids (strcmp's, whatever the database's
 * collation), which lineage.c's lookups rely on.
 */
List *
checkpoint_read_shards(const char *pipeline, MemoryContext cxt)
{
	List	   *rows = NIL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	uint64		i;

	checkpoint_begin("reading audit_fdw.checkpoint");
	values[0] = CStringGetTextDatum(pipeline);
	if (execute_kept(&shards_plan, "SELECT " SHARD_COLUMNS " FROM audit_fdw.checkpoint "
					 "WHERE pipeline = $1 ORDER BY shard_id COLLATE \"C\"",
					 1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading audit_fdw.checkpoint failed");
	for (i = 0; i < SPI_processed; i++)
	{
		ShardRow   *row = shard_row(i, cxt);
		MemoryContext old;

		/* the order the lookups rely on, checked rather than assumed */
		if (rows != NIL && strcmp(((ShardRow *) llast(rows))->shard_id, row->shard_id) >= 0)
			elog(ERROR, "audit_fdw.checkpoint's shard ids of pipeline \"%s\" were not read in byte order",
				 pipeline);
		old = MemoryContextSwitchTo(cxt);
		rows = lappend(rows, row);
		MemoryContextSwitchTo(old);
	}
	checkpoint_end();
	return rows;
}

/* The pipeline's row of one shard, in cxt; NULL when there is none. */
ShardRow *
checkpoint_read_shard(const char *pipeline, const char *shard_id, MemoryContext cxt)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	ShardRow   *row = NULL;

	checkpoint_begin("reading audit_fdw.checkpoint");
	values[0] = CStringGetTextDatum(pipeline);
	values[1] = CStringGetTextDatum(shard_id);
	if (execute_kept(&shard_plan, "SELECT " SHARD_COLUMNS " FROM audit_fdw.checkpoint "
					 "WHERE pipeline = $1 AND shard_id = $2",
					 2, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading audit_fdw.checkpoint failed");
	if (SPI_processed > 0)
		row = shard_row(0, cxt);
	checkpoint_end();
	return row;
}

/*
 * Writes the shards given (new ones with their parents; an ending sequence
 * number once a shard closed) and, when retire, retires the drained shards
 * DescribeStream no longer lists (listed_ids).  initial: the shards are the
 * pipeline's initial shards, read from its starting position (its first
 * discovery).  True when a row was added, changed or retired.
 */
bool
checkpoint_register_shards(const char *pipeline, List *shards, bool initial, bool retire,
						   List *listed_ids)
{
	Oid			argtypes[5] = {TEXTOID, TEXTOID, TEXTOID, BOOLOID, TEXTOID};
	Datum		values[5];
	char		nulls[5];
	ListCell   *lc;
	bool		changed = false;

	checkpoint_begin("registering shards in audit_fdw.checkpoint");
	values[0] = CStringGetTextDatum(pipeline);
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
		if (execute_kept(&register_plan, "INSERT INTO audit_fdw.checkpoint AS c "
						 "(pipeline, shard_id, parent_shard_id, initial, ending_sequence_number) "
						 "SELECT $1, $2, $3, $4, $5 WHERE EXISTS "
						 "(SELECT 1 FROM audit_fdw.pipeline WHERE name = $1) "
						 "ON CONFLICT (pipeline, shard_id) DO UPDATE "
						 "SET ending_sequence_number = EXCLUDED.ending_sequence_number "
						 "WHERE c.ending_sequence_number IS DISTINCT FROM EXCLUDED.ending_sequence_number",
						 5, argtypes, values, nulls, false, 0) < 0)
			elog(ERROR, "registering shard %s failed", s->shard_id);
		changed |= SPI_processed > 0;
	}

	/* drained shards the stream no longer lists are retired */
	if (retire)
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
		if (execute_kept(&retire_plan, "DELETE FROM audit_fdw.checkpoint "
						 "WHERE pipeline = $1 AND state = 'drained' "
						 "AND shard_id <> ALL ($2)",
						 2, delete_types, delete_values, NULL, false, 0) < 0)
			elog(ERROR, "retiring shards failed");
		changed |= SPI_processed > 0;
	}
	checkpoint_end();
	return changed;
}

/*
 * A dead letter's bytes (the record as it came, or what was read from it)
 * as text this database can store: a record is often dead because its
 * bytes are wrong, and a text column takes neither NUL nor an invalid
 * sequence (dead_letter_text.h says how such bytes are written).
 */
static Datum
dead_letter_datum(const char *s, size_t len)
{
	AuditBuf	buf;
	text	   *t;

	audit_buf_init(&buf);
	audit_dead_letter_text(s, len, GetDatabaseEncoding() == PG_UTF8, &buf);
	if (buf.oom)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	t = cstring_to_text_with_len(buf.data, (int) buf.len);
	audit_buf_free(&buf);
	return PointerGetDatum(t);
}

/*
 * Writes the shard's pending dead letters (in the caller's transaction,
 * SPI connected), each with a WARNING.
 */
void
checkpoint_write_dead_letters(PumpWorker *w, ShardReader *shard)
{
	Oid			dl_types[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID};
	Datum		dl_values[7];
	char		dl_nulls[7];
	int			i;
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
		dl_values[0] = CStringGetTextDatum(w->args.pipeline);
		dl_values[1] = CStringGetTextDatum(shard->shard_id);
		dl_values[2] = dead_letter_datum(rec->sequence_number, strlen(rec->sequence_number));
		dl_values[3] = rec->event_id ?
			dead_letter_datum(rec->event_id, strlen(rec->event_id)) : (Datum) 0;
		dl_nulls[3] = rec->event_id ? ' ' : 'n';
		dl_values[4] = dead_letter_datum(rec->dead_reason, strlen(rec->dead_reason));
		dl_values[5] = Int32GetDatum((int32) rec->len);
		dl_values[6] = dead_letter_datum(shard->buf.data + rec->offset, rec->len);
		if (SPI_execute_plan(plan, dl_values, dl_nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "writing audit_fdw.dead_letter failed");
		ereport(WARNING,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("audit_fdw pipeline \"%s\" put a record in the dead-letter table",
						w->args.pipeline),
				 errdetail("Shard \"%s\", sequence number %s: %s.", shard->shard_id,
						   TextDatumGetCString(dl_values[2]),
						   TextDatumGetCString(dl_values[4]))));
	}
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
	Oid			argtypes[15] = {TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID,
		INT8OID, TIMESTAMPTZOID, FLOAT8OID, BOOLOID, INT8OID, INT8OID, INT8OID,
	FLOAT8OID, FLOAT8OID};
	Datum		values[15];
	char		nulls[15];
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

	checkpoint_begin("writing an audit_fdw checkpoint");
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
	values[10] = Int64GetDatum(shard->resent);
	poll_stats(shard, &values[11], &values[12], &values[13], &nulls[13], &values[14], &nulls[14]);

	if (execute_kept(&advance_plan, "UPDATE audit_fdw.checkpoint SET "
					 "sequence_number = COALESCE($3, sequence_number), "
					 "records_read = records_read + $4, "
					 "records_delivered = records_delivered + $5, "
					 "records_retried = records_retried + $6, "
					 "records_dead_lettered = records_dead_lettered + $7, "
					 "records_resent = records_resent + $11, "
					 "last_record_time = COALESCE($8, last_record_time), "
					 "lag_seconds = CASE WHEN $10 THEN NULL ELSE COALESCE($9, lag_seconds) END, "
					 "state = CASE WHEN $10 THEN 'drained' ELSE state END, "
					 "oldest_unacknowledged_time = NULL, "
					 "get_records_calls = get_records_calls + $12, "
					 "get_records_throttled = get_records_throttled + $13, "
					 "get_records_per_second = COALESCE($14, get_records_per_second), "
					 "records_per_call = COALESCE($15, records_per_call), "
					 "updated_at = pg_catalog.now() "
					 "WHERE pipeline = $1 AND shard_id = $2",
					 15, argtypes, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "writing audit_fdw.checkpoint failed");
	updated = (SPI_processed == 1);

	if (updated && dead > 0)
		checkpoint_write_dead_letters(w, shard);
	checkpoint_end();
	return updated;
}

/*
 * Writes the GetRecords traffic since their last write of the reader's
 * shards that have it due (polls_due; polls_lag_zero: the shard is caught
 * up, no lag), all in one transaction at the end of a pass.  A reader of
 * thousands of idle shards has hundreds due a second, and each commit
 * walks every lock the process holds, one lease a shard: a transaction
 * each would cost in the square of the shards.
 */
void
checkpoint_report_polls(PumpWorker *w)
{
	Oid			argtypes[7] = {TEXTOID, TEXTOID, BOOLOID, INT8OID, INT8OID, FLOAT8OID, FLOAT8OID};
	Datum		values[7];
	char		nulls[7];
	ListCell   *lc;
	bool		begun = false;

	foreach(lc, w->shards)
	{
		ShardReader *shard = lfirst(lc);

		if (!shard->polls_due)
			continue;
		if (!begun)
		{
			checkpoint_begin("writing an audit_fdw checkpoint");
			begun = true;
		}
		memset(nulls, ' ', sizeof(nulls));
		values[0] = CStringGetTextDatum(w->args.pipeline);
		values[1] = CStringGetTextDatum(shard->shard_id);
		values[2] = BoolGetDatum(shard->polls_lag_zero);
		poll_stats(shard, &values[3], &values[4], &values[5], &nulls[5], &values[6], &nulls[6]);
		shard->polls_due = false;
		shard->polls_lag_zero = false;
		if (execute_kept(&polls_plan, "UPDATE audit_fdw.checkpoint SET "
						 "lag_seconds = CASE WHEN $3 THEN 0 ELSE lag_seconds END, "
						 "get_records_calls = get_records_calls + $4, "
						 "get_records_throttled = get_records_throttled + $5, "
						 "get_records_per_second = COALESCE($6, get_records_per_second), "
						 "records_per_call = COALESCE($7, records_per_call), "
						 "updated_at = pg_catalog.now() "
						 "WHERE pipeline = $1 AND shard_id = $2",
						 7, argtypes, values, nulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "writing audit_fdw.checkpoint failed");
	}
	if (begun)
		checkpoint_end();
}

/*
 * Before the shard's pending records go to Firehose: the last sequence
 * number handed over (records up to it read again after a restart are
 * counted as resent) and the time of the oldest one (the lag while they
 * are not acknowledged).
 */
void
checkpoint_mark_sent(PumpWorker *w, ShardReader *shard)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[4];
	char		nulls[4];
	double		oldest = 0;
	int			i;
	MemoryContext old;

	if (shard->npending == 0)
		return;
	for (i = 0; i < shard->npending && oldest <= 0; i++)
		if (!shard->pending[i].dead_reason)
			oldest = shard->pending[i].approximate_time;

	checkpoint_begin("writing an audit_fdw checkpoint");
	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(w->args.pipeline);
	values[1] = CStringGetTextDatum(shard->shard_id);
	values[2] = CStringGetTextDatum(shard->pending[shard->npending - 1].sequence_number);
	if (oldest > 0)
		values[3] = TimestampTzGetDatum((TimestampTz) ((oldest - ((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)) * USECS_PER_SEC));
	else
		nulls[3] = 'n';
	if (execute_kept(&mark_sent_plan, "UPDATE audit_fdw.checkpoint SET sent_sequence_number = $3, "
					 "oldest_unacknowledged_time = COALESCE($4, pg_catalog.now()) "
					 "WHERE pipeline = $1 AND shard_id = $2",
					 4, argtypes, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "writing audit_fdw.checkpoint failed");
	checkpoint_end();
	old = MemoryContextSwitchTo(GetMemoryChunkContext(shard));
	if (shard->sent)
		pfree(shard->sent);
	shard->sent = pstrdup(shard->pending[shard->npending - 1].sequence_number);
	MemoryContextSwitchTo(old);
}

/* Counts an error in audit_fdw.pump_error. */
void
checkpoint_count_error(const char *pipeline, const char *shard_id, const char *operation,
					   const char *code, bool transient, const char *message, int64 count)
{
	Oid			argtypes[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		values[7];

	checkpoint_begin("counting an audit_fdw pipeline error");
	values[0] = CStringGetTextDatum(pipeline);
	values[1] = CStringGetTextDatum(shard_id);
	values[2] = CStringGetTextDatum(operation);
	values[3] = CStringGetTextDatum(code);
	values[4] = CStringGetTextDatum(transient ? "retry" : "failure");
	values[5] = CStringGetTextDatum(message);
	values[6] = Int64GetDatum(count);
	if (SPI_execute_with_args("INSERT INTO audit_fdw.pump_error AS e "
							  "(pipeline, shard_id, operation, code, kind, count, last_message) "
							  "SELECT $1, $2, $3, $4, $5, $7, $6 WHERE EXISTS "
							  "(SELECT 1 FROM audit_fdw.pipeline WHERE name = $1) "
							  "ON CONFLICT (pipeline, shard_id, operation, code, kind) DO UPDATE "
							  "SET count = e.count OPERATOR(pg_catalog.+) EXCLUDED.count, "
							  "last_message = EXCLUDED.last_message, last_at = pg_catalog.now()",
							  7, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "writing audit_fdw.pump_error failed");
	checkpoint_end();
}

/*
 * A new health of the shard (NULL: of the pipeline): with the error that
 * caused it, or, back to ok, the error cleared.
 */
void
checkpoint_set_health(const char *pipeline, const char *shard_id, const char *health,
					  const char *message)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4];
	int			ret;

	checkpoint_begin("writing an audit_fdw pipeline's health");
	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(pipeline);
	values[1] = CStringGetTextDatum(health);
	values[2] = message ? CStringGetTextDatum(message) : (Datum) 0;
	nulls[2] = message ? ' ' : 'n';
	values[3] = shard_id ? CStringGetTextDatum(shard_id) : (Datum) 0;
	nulls[3] = shard_id ? ' ' : 'n';
	if (shard_id)
		ret = SPI_execute_with_args("UPDATE audit_fdw.checkpoint SET health = $2, "
									"health_since = CASE WHEN $3 IS NULL THEN NULL "
									"ELSE COALESCE(health_since, pg_catalog.now()) END, "
									"last_error = $3, "
									"last_error_at = CASE WHEN $3 IS NULL THEN NULL ELSE pg_catalog.now() END "
									"WHERE pipeline = $1 AND shard_id = $4",
									4, argtypes, values, nulls, false, 0);
	else
		ret = SPI_execute_with_args("UPDATE audit_fdw.pipeline SET health = $2, "
									"health_since = CASE WHEN $3 IS NULL THEN NULL "
									"ELSE COALESCE(health_since, pg_catalog.now()) END, "
									"last_error = $3, "
									"last_error_at = CASE WHEN $3 IS NULL THEN NULL ELSE pg_catalog.now() END "
									"WHERE name = $1",
									3, argtypes, values, nulls, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "writing an audit_fdw pipeline's health failed");
	checkpoint_end();
}

PumpHealth
health_from_name(const char *name)
{
	if (name && strcmp(name, "failing") == 0)
		return PUMP_HEALTH_FAILING;
	if (name && strcmp(name, "retrying") == 0)
		return PUMP_HEALTH_RETRYING;
	return PUMP_HEALTH_OK;
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

	checkpoint_begin("recording a trimmed gap in audit_fdw.checkpoint");
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
	checkpoint_end();
}

/*
 * The gap policy 'snapshot': a backfill of the whole table, whose SNAPSHOT
 * records give each item's state after the gap.  A backfill running
 * already began before the gap (what it read may miss the lost changes):
 * it is cancelled for the new one.  The shard's row says so.  Returns the
 * new backfill's id.
 */
int64
checkpoint_gap_backfill(PumpWorker *w, ShardReader *shard, int64 *cancelled)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	int64		id;

	checkpoint_begin("starting an audit_fdw backfill for a trimmed gap");
	values[0] = CStringGetTextDatum(w->args.pipeline);
	*cancelled = 0;
	if (SPI_execute_with_args("UPDATE audit_fdw.backfill SET state = 'cancelled', "
							  "last_error = 'cancelled for the snapshot of a later trimmed gap', "
							  "last_error_at = pg_catalog.now() "
							  "WHERE pipeline = $1 AND state = 'running' RETURNING id",
							  1, types, values, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "writing audit_fdw.backfill failed");
	if (SPI_processed == 1)
		*cancelled = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												 1, &isnull));
	values[1] = Int32GetDatum(BACKFILL_GAP_SEGMENTS);
	values[2] = Int32GetDatum(Min(BACKFILL_GAP_SEGMENTS, backfill_workers));
	nulls[3] = 'n';
	values[4] = Float8GetDatum(0.5);
	values[5] = CStringGetTextDatum(psprintf("trimmed gap in shard %s", shard->shard_id));
	values[6] = ObjectIdGetDatum(w->config->owner);
	if (SPI_execute_with_args(backfill_insert_sql, 7, backfill_insert_types, values, nulls,
							  false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "writing audit_fdw.backfill failed");
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	values[1] = CStringGetTextDatum(shard->shard_id);
	values[2] = CStringGetTextDatum(psprintf("; backfill %lld writes a snapshot of the table "
											 "(on_trimmed_gap 'snapshot')", (long long) id));
	types[1] = TEXTOID;
	{
		Oid			utypes[3] = {TEXTOID, TEXTOID, TEXTOID};

		if (SPI_execute_with_args("UPDATE audit_fdw.checkpoint SET "
								  "last_error = last_error OPERATOR(pg_catalog.||) $3 "
								  "WHERE pipeline = $1 AND shard_id = $2",
								  3, utypes, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "writing audit_fdw.checkpoint failed");
	}
	checkpoint_end();
	return id;
}
