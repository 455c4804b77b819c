/*-------------------------------------------------------------------------
 *
 * querylog.c
 *		The query log: one row per Athena query that audit_fdw ran, in
 *		audit_fdw.query_log_entries (read through the view
 *		audit_fdw.query_log), whatever became of it.
 *
 * Rules kept here:
 *	- The row is written by the extension itself, not through the SQL
 *	  privileges of the user whose query ran: a user may read the log
 *	  (their own rows) but not write it.  The table has no index, so a
 *	  plain heap insert is the whole write.
 *	- Every query started is logged with its state: SUCCEEDED, FAILED
 *	  (Athena's reason) or CANCELLED (stopped by Athena, or by audit_fdw
 *	  because the statement was cancelled, timed out or failed; the reason
 *	  is PostgreSQL's error).  A cancelled query costs what it scanned
 *	  before it stopped; a failed one costs nothing (Athena's pricing:
 *	  "you are not charged for failed queries", cancelled queries are
 *	  charged for the data scanned).
 *	- A successful query's row is written in the transaction of the query.
 *	  A copy is kept in backend memory until the transaction (or
 *	  subtransaction) ends: on abort, the rows that went with it, and the
 *	  rows of queries that failed or were stopped, are written by a
 *	  short-lived background worker in a transaction of its own (an
 *	  aborted transaction can write nothing).  The abort waits up to half
 *	  a second for it, so that the next statement normally sees the rows.
 *	- Nothing can be written during recovery or in parallel mode (a plan
 *	  with a Gather elsewhere), nor when no worker can start: the query is
 *	  then recorded in the server log instead.
 *	- The table may still have 1.0's shape (the library is updated before
 *	  ALTER EXTENSION UPDATE): rows are then written without state and
 *	  reason.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "fdw/fdw.h"
#include "fdw/scan.h"

enum
{
	Anum_logged_at = 1,
	Anum_username,
	Anum_server,
	Anum_foreign_table,
	Anum_query_id,
	Anum_athena_sql,
	Anum_bytes_scanned,
	Anum_engine_ms,
	Anum_queue_ms,
	Anum_cost_usd,
	Anum_transport,
	Anum_reused,
	Natts_query_log_1_0 = Anum_reused,
	Anum_state,
	Anum_reason,
	Natts_query_log = Anum_reason
};

/* How long an abort waits for the worker that writes its rows. */
#define WRITER_WAIT_MS		500

/* A row kept until its transaction ends (TopMemoryContext). */
typedef struct PendingEntry
{
	AuditQueryLogEntry *entry;
	int			nest_level;
	bool		written;		/* inserted in the (sub)transaction */
} PendingEntry;

static List *pending = NIL;
/* the last error PostgreSQL reported: why a running query was stopped */
static char last_error[1024];
static emit_log_hook_type prev_emit_log_hook = NULL;

static void remember_error(ErrorData *edata);
static void insert_entry(Relation rel, const AuditQueryLogEntry *e);
static void log_to_server(const AuditQueryLogEntry *e);
static AuditQueryLogEntry *copy_entry(const AuditQueryLogEntry *e);
static void free_entry(AuditQueryLogEntry *e);
static void keep_pending(const AuditQueryLogEntry *e, bool written);
static Oid	query_log_relid(void);
static void write_quietly(List *entries);
static void write_by_worker(List *entries);
static void put_int64(StringInfo buf, int64 v);
static void put_string(StringInfo buf, const char *s);
static int64 get_int64(const char **p);
static char *get_string(const char **p);

void
audit_query_log_init(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = remember_error;
}

static void
remember_error(ErrorData *edata)
{
	if (edata->elevel >= ERROR && edata->message)
		strlcpy(last_error, edata->message, sizeof(last_error));
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
audit_query_log_forget_error(void)
{
	last_error[0] = '\0';
}

const char *
audit_query_log_last_error(void)
{
	return last_error[0] ? last_error : NULL;
}

/*
 * What a query cost: by the bytes it scanned; nothing when it failed
 * (Athena bills cancelled queries for what they scanned, failed ones not).
 */
double
audit_query_log_cost(const char *state, int64 bytes_scanned, double price_per_tb)
{
	if (strcmp(state, "FAILED") == 0)
		return 0;
	if (strcmp(state, "CANCELLED") == 0 && bytes_scanned == 0)
		return 0;
	return audit_cost_usd(bytes_scanned, price_per_tb);
}

static AuditQueryLogEntry *
copy_entry(const AuditQueryLogEntry *e)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	AuditQueryLogEntry *c = palloc(sizeof(AuditQueryLogEntry));

	*c = *e;
	c->username = pstrdup(e->username);
	c->server = pstrdup(e->server);
	c->foreign_table = pstrdup(e->foreign_table);
	c->query_id = pstrdup(e->query_id);
	c->athena_sql = pstrdup(e->athena_sql);
	c->transport = pstrdup(e->transport);
	c->state = pstrdup(e->state);
	c->reason = e->reason ? pstrdup(e->reason) : NULL;
	MemoryContextSwitchTo(old);
	return c;
}

static void
free_entry(AuditQueryLogEntry *e)
{
	pfree(e->username);
	pfree(e->server);
	pfree(e->foreign_table);
	pfree(e->query_id);
	pfree(e->athena_sql);
	pfree(e->transport);
	pfree(e->state);
	if (e->reason)
		pfree(e->reason);
	pfree(e);
}

static void
keep_pending(const AuditQueryLogEntry *e, bool written)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	PendingEntry *p = palloc(sizeof(PendingEntry));

	p->entry = copy_entry(e);
	p->nest_level = GetCurrentTransactionNestLevel();
	p->written = written;
	pending = lappend(pending, p);
	MemoryContextSwitchTo(old);
}

static void
log_to_server(const AuditQueryLogEntry *e)
{
	ereport(LOG,
			(errmsg("audit_fdw: Athena query %s (%s) for foreign table \"%s\" of server \"%s\" by \"%s\" scanned " INT64_FORMAT " bytes",
					e->query_id, e->state, e->foreign_table, e->server, e->username,
					e->bytes_scanned),
			 errhidestmt(true)));
}

/* The query_log_entries table, or InvalidOid when the extension is not here. */
static Oid
query_log_relid(void)
{
	/* the control file fixes the extension's schema */
	Oid			nspoid = get_namespace_oid("audit_fdw", true);

	if (!OidIsValid(nspoid))
		return InvalidOid;
	return get_relname_relid("query_log_entries", nspoid);
}

static void
insert_entry(Relation rel, const AuditQueryLogEntry *e)
{
	int			natts = RelationGetDescr(rel)->natts;
	Datum		values[Natts_query_log];
	bool		nulls[Natts_query_log];
	HeapTuple	tuple;
	char		cost[64];

	if (natts != Natts_query_log && natts != Natts_query_log_1_0)
		elog(ERROR, "audit_fdw.query_log_entries has an unexpected shape");

	memset(nulls, false, sizeof(nulls));
	snprintf(cost, sizeof(cost), "%.8f", e->cost_usd);
	values[Anum_logged_at - 1] = TimestampTzGetDatum(e->logged_at);
	values[Anum_username - 1] = DirectFunctionCall1(namein, CStringGetDatum(e->username));
	values[Anum_server - 1] = DirectFunctionCall1(namein, CStringGetDatum(e->server));
	values[Anum_foreign_table - 1] = CStringGetTextDatum(e->foreign_table);
	values[Anum_query_id - 1] = CStringGetTextDatum(e->query_id);
	values[Anum_athena_sql - 1] = CStringGetTextDatum(e->athena_sql);
	values[Anum_bytes_scanned - 1] = Int64GetDatum(e->bytes_scanned);
	values[Anum_engine_ms - 1] = Int64GetDatum(e->engine_ms);
	values[Anum_queue_ms - 1] = Int64GetDatum(e->queue_ms);
	values[Anum_cost_usd - 1] = DirectFunctionCall3(numeric_in, CStringGetDatum(cost),
													ObjectIdGetDatum(InvalidOid),
													Int32GetDatum(-1));
	values[Anum_transport - 1] = CStringGetTextDatum(e->transport);
	values[Anum_reused - 1] = BoolGetDatum(e->reused);
	values[Anum_state - 1] = CStringGetTextDatum(e->state);
	values[Anum_reason - 1] = e->reason ? CStringGetTextDatum(e->reason) : (Datum) 0;
	nulls[Anum_reason - 1] = e->reason == NULL;

	tuple = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	simple_heap_insert(rel, tuple);
	heap_freetuple(tuple);
}

/*
 * A query that finished: written now, in the query's transaction, and kept
 * in case that transaction aborts.
 */
void
audit_query_log_record(const AuditQueryLogEntry *e)
{
	Oid			relid;
	Relation	rel;

	if (RecoveryInProgress() || IsInParallelMode())
	{
		log_to_server(e);
		return;
	}
	relid = query_log_relid();
	if (!OidIsValid(relid))
		return;
	rel = table_open(relid, RowExclusiveLock);
	insert_entry(rel, e);
	table_close(rel, RowExclusiveLock);
	keep_pending(e, true);
}

/*
 * A query that failed or was stopped: its statement is about to fail, so
 * the row is written when the (sub)transaction aborts.
 */
void
audit_query_log_record_failure(const AuditQueryLogEntry *e)
{
	keep_pending(e, false);
}

/*
 * A (sub)transaction ended.  On commit the rows are in the table (and a
 * subtransaction's rows now belong to its parent); on abort the rows of
 * this level and deeper are handed to a worker.  Never raises: it runs in
 * abort processing.
 */
void
audit_query_log_at_end(bool commit, int nest_level)
{
	List	   *lost = NIL;
	List	   *keep = NIL;
	ListCell   *lc;

	if (pending == NIL)
		return;
	foreach(lc, pending)
	{
		PendingEntry *p = lfirst(lc);

		if (p->nest_level < nest_level)
			keep = lappend(keep, p);
		else if (commit && nest_level > 1 && p->written)
		{
			p->nest_level = nest_level - 1;
			keep = lappend(keep, p);
		}
		else if (!commit || !p->written)
			lost = lappend(lost, p);
		else
		{
			free_entry(p->entry);
			pfree(p);
		}
	}
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		list_free(pending);
		pending = list_copy(keep);
		MemoryContextSwitchTo(old);
	}
	list_free(keep);

	if (lost != NIL)
	{
		write_quietly(lost);
		foreach(lc, lost)
		{
			PendingEntry *p = lfirst(lc);

			free_entry(p->entry);
			pfree(p);
		}
		list_free(lost);
	}
}

/* write_by_worker, or the server log if that fails: the abort matters more */
static void
write_quietly(List *entries)
{
	MemoryContext cxt = CurrentMemoryContext;
	ListCell   *lc;

	PG_TRY();
	{
		write_by_worker(entries);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		foreach(lc, entries)
			log_to_server(((PendingEntry *) lfirst(lc))->entry);
	}
	PG_END_TRY();
}

/* ------------------------------------------------------------------------
 * The writer: a background worker with the rows in a DSM segment
 * ------------------------------------------------------------------------
 */

static void
put_int64(StringInfo buf, int64 v)
{
	appendBinaryStringInfo(buf, (char *) &v, sizeof(v));
}

static void
put_string(StringInfo buf, const char *s)
{
	char		present = s != NULL;

	appendBinaryStringInfo(buf, &present, 1);
	if (s)
		appendBinaryStringInfo(buf, s, strlen(s) + 1);
}

static int64
get_int64(const char **p)
{
	int64		v;

	memcpy(&v, *p, sizeof(v));
	*p += sizeof(v);
	return v;
}

static char *
get_string(const char **p)
{
	char	   *s;

	if (*(*p)++ == 0)
		return NULL;
	s = pstrdup(*p);
	*p += strlen(s) + 1;
	return s;
}

static void
write_by_worker(List *entries)
{
	StringInfoData buf;
	ListCell   *lc;
	dsm_segment *seg;
	dsm_handle	handle;
	BackgroundWorker worker;
	BackgroundWorkerHandle *bgw;
	TimestampTz deadline;

	if (RecoveryInProgress())
	{
		foreach(lc, entries)
			log_to_server(((PendingEntry *) lfirst(lc))->entry);
		return;
	}

	initStringInfo(&buf);
	put_int64(&buf, list_length(entries));
	foreach(lc, entries)
	{
		AuditQueryLogEntry *e = ((PendingEntry *) lfirst(lc))->entry;

		put_int64(&buf, e->logged_at);
		put_int64(&buf, e->bytes_scanned);
		put_int64(&buf, e->engine_ms);
		put_int64(&buf, e->queue_ms);
		appendBinaryStringInfo(&buf, (char *) &e->cost_usd, sizeof(double));
		put_int64(&buf, e->reused);
		put_string(&buf, e->username);
		put_string(&buf, e->server);
		put_string(&buf, e->foreign_table);
		put_string(&buf, e->query_id);
		put_string(&buf, e->athena_sql);
		put_string(&buf, e->transport);
		put_string(&buf, e->state);
		put_string(&buf, e->reason);
	}

	seg = dsm_create(buf.len, DSM_CREATE_NULL_IF_MAXSEGMENTS);
	if (seg == NULL)
	{
		foreach(lc, entries)
			log_to_server(((PendingEntry *) lfirst(lc))->entry);
		return;
	}
	memcpy(dsm_segment_address(seg), buf.data, buf.len);
	handle = dsm_segment_handle(seg);
	/* the segment outlives this mapping until the worker has read it */
	dsm_pin_segment(seg);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "audit_fdw");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "audit_fdw_query_log_writer_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "audit_fdw query log writer");
	snprintf(worker.bgw_type, BGW_MAXLEN, "audit_fdw query log writer");
	worker.bgw_main_arg = UInt32GetDatum(handle);
	memcpy(worker.bgw_extra, &MyDatabaseId, sizeof(Oid));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &bgw))
	{
		dsm_unpin_segment(handle);
		dsm_detach(seg);
		ereport(LOG,
				(errmsg("audit_fdw: no background worker free to write the query log; raise max_worker_processes")));
		foreach(lc, entries)
			log_to_server(((PendingEntry *) lfirst(lc))->entry);
		return;
	}
	dsm_detach(seg);

	/* a bounded wait: the next statement normally sees the rows */
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), WRITER_WAIT_MS);
	for (;;)
	{
		pid_t		pid;
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);

		if (GetBackgroundWorkerPid(bgw, &pid) == BGWH_STOPPED || left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(left, 10), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	pfree(bgw);
}

/* The worker: read the rows, write them, commit. */
void
audit_fdw_query_log_writer_main(Datum arg)
{
	dsm_handle	handle = DatumGetUInt32(arg);
	Oid			dboid;
	dsm_segment *seg;
	const char *p;
	int64		n;
	Oid			relid;
	Relation	rel;

	memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	seg = dsm_attach(handle);
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("audit_fdw: the query log rows to write are gone")));
	dsm_unpin_segment(handle);

	relid = query_log_relid();
	if (OidIsValid(relid))
	{
		rel = table_open(relid, RowExclusiveLock);
		p = dsm_segment_address(seg);
		n = get_int64(&p);
		for (int64 i = 0; i < n; i++)
		{
			AuditQueryLogEntry e;

			e.logged_at = get_int64(&p);
			e.bytes_scanned = get_int64(&p);
			e.engine_ms = get_int64(&p);
			e.queue_ms = get_int64(&p);
			memcpy(&e.cost_usd, p, sizeof(double));
			p += sizeof(double);
			e.reused = get_int64(&p) != 0;
			e.username = get_string(&p);
			e.server = get_string(&p);
			e.foreign_table = get_string(&p);
			e.query_id = get_string(&p);
			e.athena_sql = get_string(&p);
			e.transport = get_string(&p);
			e.state = get_string(&p);
			e.reason = get_string(&p);
			insert_entry(rel, &e);
		}
		table_close(rel, RowExclusiveLock);
	}
	dsm_detach(seg);

	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(true);
}
