/*-------------------------------------------------------------------------
 *
 * scan.c
 *		The executor callbacks of audit_fdw: run the scan's Athena query,
 *		wait for it, and read its rows from the result CSV in S3 (or from
 *		GetQueryResults).
 *
 * Rules kept here:
 *	- The query starts at the first row asked for, never for EXPLAIN
 *	  without ANALYZE (BeginForeignScan returns early).
 *	- StartQueryExecution carries a fresh ClientRequestToken; the wait
 *	  polls GetQueryExecution through WaitLatch, first after
 *	  poll_initial_ms, then at a fiftieth of the time spent so far, at most
 *	  poll_max_ms apart; every wait checks for interrupts.
 *	- A query not finished is stopped (StopQueryExecution) when the scan
 *	  ends early, when the transaction or subtransaction aborts (cancel,
 *	  statement_timeout, any error) and when the backend exits: running
 *	  queries are registered in TopMemoryContext and the transaction and
 *	  exit callbacks stop what is left.
 *	- Rows are read as the result object streams in, over
 *	  audit_fdw.fetch_connections ranged GETs at once (s3.c); memory is
 *	  bounded by those parts, one input chunk and the longest row.  Allocations made per batch (a
 *	  GetQueryResults page, status responses) live in a context reset per
 *	  batch; values live in the executor's per-tuple context.
 *	- ReScan reads the finished result again; it runs the query again only
 *	  when the values sent with it (parameters, or the keys a batched join
 *	  sends: batchjoin.c) changed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/table.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "nodes/nodeFuncs.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "aws/athena.h"
#include "fdw/csv.h"
#include "fdw/fdw.h"
#include "fdw/scan.h"

/*
 * Polls are spaced at this fraction of the time the query has taken so far
 * (within poll_initial_ms and poll_max_ms): a finished query is seen at most
 * 2% of its run time late, 1% on average.  The cost: with the default
 * 10 ms, 50 polls in the first 0.5 s, 50 more each time the run time grows
 * e-fold, one a second after 50 s; about 85 for a 1 s query, 290 for a
 * minute.  Never more than one every poll_initial_ms (100 a second, the
 * account's GetQueryExecution quota by default, only in a query's first
 * half second), so a larger fraction spends more calls on long queries
 * for less delay on short ones; a fortieth (80 and 245 polls) left a
 * half-second query 6 ms late on average, a fiftieth 5 ms.  What the poll
 * interval adds to a short query is most of what the wrapper adds to it
 * (fdw_latency_overhead in bench/fdw_fetch_bench): starting, fetching and
 * converting a small result take about 3 ms.
 */
#define POLL_FRACTION		50
/* GetQueryResults pages at most 1000 rows */
#define API_PAGE_ROWS		1000
/* the longest row the CSV reader accepts */
#define MAX_RECORD_BYTES	(256 * 1024 * 1024)

/* A query started and not yet known to be finished. */
typedef struct RunningQuery
{
	dlist_node	node;
	AwsClient  *client;
	int			nest_level;
	char		query_id[128];
	/* for the query log, should it end unfinished (TopMemoryContext) */
	AuditQueryLogEntry log;
	double		price_per_tb;
} RunningQuery;

/* Cached AWS clients, per (server, user). */
typedef struct ClientCacheKey
{
	Oid			serverid;
	Oid			userid;
} ClientCacheKey;

typedef struct ClientCacheEntry
{
	ClientCacheKey key;
	AwsClient  *client;
	MemoryContext cxt;
	bool		invalid;
} ClientCacheEntry;

typedef struct AuditFdwScanState
{
	Relation	rel;			/* NULL for a join or upper relation */
	Oid			relid;			/* a foreign table of the scan */
	bool		whole_table;	/* reads the whole table (no pruning) */
	char	   *relname;
	AuditFdwOptions *options;
	AwsClient  *client;
	Oid			userid;

	/* the byte budget (budget.c): -1 for none */
	List	   *folders;
	int64		budget;
	const char *budget_source;
	AuditRuntimeSelection rt;	/* what the values known at start select */
	AuditBudgetEstimate estimate;

	List	   *sql_parts;
	List	   *roundings;
	List	   *runtime_states; /* ExprStates of the runtime values */
	List	   *runtime_types;
	List	   *retrieved_attrs;
	AuditFdwPartitioning partitioning;
	AuditFdwConverter *conv;

	MemoryContext scan_cxt;		/* lives as long as the scan */
	MemoryContext batch_cxt;	/* reset per batch */

	/* the query */
	bool		started;
	char	   *sql;
	char	   *query_id;
	RunningQuery *running;
	AthenaQueryStatus status;
	AuditFdwTransport transport;	/* used for this result */

	/*
	 * A batched join's keys (batchjoin.c): the literals written for the
	 * AUDIT_BATCH_KEYS value, set before each rescan; and what the queries
	 * of this scan added up to, for its EXPLAIN ANALYZE.
	 */
	char	   *batch_keys;
	char	   *batch_buckets;
	bool		batch_changed;
	/* a base scan whose key values select no bucket: no query, no row */
	bool		no_rows;
	int64		queries_run;
	int64		bytes_scanned_total;

	/* reading */
	bool		header_skipped;
	bool		eof;
	uint64		rownum;
	/* csv */
	S3ObjectReader *stream;
	CsvReader  *csv;
	char	   *bucket;
	char	   *key;
	/* api */
	AthenaResultPage *page;
	int			page_row;
	char	   *next_token;
	bool		first_page_read;
} AuditFdwScanState;

int			audit_fetch_connections = 4;
int			audit_fetch_part_size_kb = 8192;

static dlist_head running_queries = DLIST_STATIC_INIT(running_queries);
static HTAB *client_cache = NULL;
static bool callbacks_registered = false;
static bool exit_callback_registered = false;

static void start_query(ForeignScanState *node);
static char *build_sql(ForeignScanState *node);
static void wait_for_query(AuditFdwScanState *fsstate);
static void raise_if_failed(AuditFdwScanState *fsstate);
static void open_result(AuditFdwScanState *fsstate);
static void close_result(AuditFdwScanState *fsstate);
static bool next_csv_row(AuditFdwScanState *fsstate, TupleTableSlot *slot);
static bool next_api_row(AuditFdwScanState *fsstate, TupleTableSlot *slot);
static RunningQuery *register_running(AuditFdwScanState *fsstate);
static void log_entry_for(AuditFdwScanState *fsstate, AuditQueryLogEntry *e);
static void log_unfinished(RunningQuery *rq, const char *why);
static void unregister_running(RunningQuery *rq);
static void stop_running(int min_nest_level);
static void audit_xact_callback(XactEvent event, void *arg);
static void audit_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								   SubTransactionId parentSubid, void *arg);
static void audit_exit_callback(int code, Datum arg);
static void client_cache_invalidate(Datum arg, int cacheid, uint32 hashvalue);
static void *csv_palloc(size_t size);
static void *csv_repalloc(void *ptr, size_t size);
static void csv_pfree(void *ptr);

/*
 * Register the transaction, exit and cache invalidation callbacks (from
 * fdw_init at library load).
 */
void
audit_scan_init(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(audit_xact_callback, NULL);
	RegisterSubXactCallback(audit_subxact_callback, NULL);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, client_cache_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, client_cache_invalidate, (Datum) 0);
	callbacks_registered = true;
}

/* ------------------------------------------------------------------------
 * AWS clients
 * ------------------------------------------------------------------------
 */

static void
client_cache_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	ClientCacheEntry *entry;

	if (client_cache == NULL)
		return;
	hash_seq_init(&scan, client_cache);
	while ((entry = (ClientCacheEntry *) hash_seq_search(&scan)) != NULL)
		entry->invalid = true;
}

static bool
client_in_use(AwsClient *client)
{
	dlist_iter	iter;

	dlist_foreach(iter, &running_queries)
	{
		RunningQuery *rq = dlist_container(RunningQuery, node, iter.cur);

		if (rq->client == client)
			return true;
	}
	return false;
}

/*
 * The AWS client of a (server, user) pair (the server's region and endpoint,
 * the user mapping's credentials: aws_client_for_server), cached for the session
 * (its resolved credentials are reused) and rebuilt after ALTER SERVER or
 * ALTER USER MAPPING.
 */
AwsClient *
audit_client_for(Oid serverid, Oid userid, AuditFdwOptions *options)
{
	ClientCacheKey key;
	ClientCacheEntry *entry;
	bool		found;

	if (client_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(ClientCacheKey);
		ctl.entrysize = sizeof(ClientCacheEntry);
		ctl.hcxt = CacheMemoryContext;
		client_cache = hash_create("audit_fdw clients", 8, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	key.serverid = serverid;
	key.userid = userid;
	entry = hash_search(client_cache, &key, HASH_ENTER, &found);
	if (found && entry->invalid)
	{
		/* a query still running keeps its old client until it stops */
		if (!client_in_use(entry->client))
			MemoryContextDelete(entry->cxt);
		found = false;
	}
	if (!found)
	{
		MemoryContext oldcxt;

		entry->client = NULL;
		entry->invalid = false;
		entry->cxt = AllocSetContextCreate(CacheMemoryContext, "audit_fdw client",
										   ALLOCSET_SMALL_SIZES);
		PG_TRY();
		{
			oldcxt = MemoryContextSwitchTo(entry->cxt);
			entry->client = aws_client_for_server(serverid, userid);
			MemoryContextSwitchTo(oldcxt);
		}
		PG_CATCH();
		{
			MemoryContextDelete(entry->cxt);
			hash_search(client_cache, &key, HASH_REMOVE, NULL);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	return entry->client;
}

/* ------------------------------------------------------------------------
 * Running queries: stopped on abort and exit
 * ------------------------------------------------------------------------
 */

static RunningQuery *
register_running(AuditFdwScanState *fsstate)
{
	RunningQuery *rq;
	MemoryContext old;

	/* registered here, in the backend, not in the postmaster at preload */
	if (!exit_callback_registered)
	{
		before_shmem_exit(audit_exit_callback, (Datum) 0);
		exit_callback_registered = true;
	}
	rq = MemoryContextAllocZero(TopMemoryContext, sizeof(RunningQuery));

	rq->client = fsstate->client;
	rq->nest_level = GetCurrentTransactionNestLevel();
	strlcpy(rq->query_id, fsstate->query_id, sizeof(rq->query_id));
	/*
	 * What the log needs, taken now (an abort may not read the catalogs) and
	 * copied to TopMemoryContext; the user's name is looked up in the
	 * query's context, so that only the copy stays until the query ends.
	 */
	log_entry_for(fsstate, &rq->log);
	old = MemoryContextSwitchTo(TopMemoryContext);
	rq->log.username = pstrdup(rq->log.username);
	rq->log.server = pstrdup(rq->log.server);
	rq->log.foreign_table = pstrdup(rq->log.foreign_table);
	rq->log.query_id = pstrdup(rq->log.query_id);
	rq->log.athena_sql = pstrdup(rq->log.athena_sql);
	rq->log.transport = pstrdup(rq->log.transport);
	MemoryContextSwitchTo(old);
	rq->price_per_tb = fsstate->options->price_per_tb;
	dlist_push_tail(&running_queries, &rq->node);
	audit_query_log_forget_error();
	return rq;
}

/* The query log's row for a scan's query, its statistics as known. */
static void
log_entry_for(AuditFdwScanState *fsstate, AuditQueryLogEntry *e)
{
	AthenaQueryStatus *st = &fsstate->status;

	memset(e, 0, sizeof(*e));
	e->logged_at = GetCurrentTimestamp();
	e->username = GetUserNameFromId(GetUserId(), false);
	e->server = fsstate->options->server_name;
	e->foreign_table = fsstate->relname;
	e->query_id = fsstate->query_id;
	e->athena_sql = fsstate->sql;
	e->transport = (char *) audit_transport_name(fsstate->transport);
	e->bytes_scanned = st->data_scanned_bytes;
	e->engine_ms = st->engine_ms;
	e->queue_ms = st->queue_ms;
	e->reused = st->reused;
	e->state = (char *) athena_state_name(st->state);
	e->reason = st->state_change_reason;
	e->cost_usd = audit_query_log_cost(e->state, e->bytes_scanned,
									   fsstate->options->price_per_tb);
}

/*
 * A query stopped before it finished: its row, with what Athena says it
 * scanned by then, goes to the log when the (sub)transaction ends.  Never
 * raises (it runs in abort processing).
 */
static void
log_unfinished(RunningQuery *rq, const char *why)
{
	AuditQueryLogEntry e = rq->log;
	const char *error = audit_query_log_last_error();
	AthenaQueryStatus status;
	MemoryContext cxt = CurrentMemoryContext;

	memset(&status, 0, sizeof(status));
	PG_TRY();
	{
		athena_get_query(rq->client, rq->query_id, &status);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		memset(&status, 0, sizeof(status));
		status.state = ATHENA_CANCELLED;
	}
	PG_END_TRY();

	e.logged_at = GetCurrentTimestamp();
	e.bytes_scanned = status.data_scanned_bytes;
	e.engine_ms = status.engine_ms;
	e.queue_ms = status.queue_ms;
	e.reused = status.reused;
	/* stopped just as it finished: what Athena says, else cancelled */
	e.state = (char *) athena_state_name(status.state == ATHENA_SUCCEEDED ||
										 status.state == ATHENA_FAILED
										 ? status.state : ATHENA_CANCELLED);
	e.reason = error ? psprintf("stopped by audit_fdw: %s", error)
		: psprintf("stopped by audit_fdw: %s", why);
	e.cost_usd = audit_query_log_cost(e.state, e.bytes_scanned, rq->price_per_tb);
	audit_query_log_record_failure(&e);
}

static void
unregister_running(RunningQuery *rq)
{
	if (rq == NULL)
		return;
	dlist_delete(&rq->node);
	pfree(rq->log.username);
	pfree(rq->log.server);
	pfree(rq->log.foreign_table);
	pfree(rq->log.query_id);
	pfree(rq->log.athena_sql);
	pfree(rq->log.transport);
	pfree(rq);
}

/*
 * Stop every registered query at or below the given transaction nesting
 * level (0: all of them).
 */
static void
stop_running(int min_nest_level)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &running_queries)
	{
		RunningQuery *rq = dlist_container(RunningQuery, node, iter.cur);

		if (rq->nest_level < min_nest_level)
			continue;
		(void) athena_stop_query_quietly(rq->client, rq->query_id);
		log_unfinished(rq, "the transaction ended before the query finished");
		unregister_running(rq);
	}
}

static void
audit_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			stop_running(0);
			audit_query_log_at_end(false, 1);
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			stop_running(0);
			audit_query_log_at_end(true, 1);
			break;
		default:
			break;
	}
}

static void
audit_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		stop_running(GetCurrentTransactionNestLevel());
		audit_query_log_at_end(false, GetCurrentTransactionNestLevel());
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		audit_query_log_at_end(true, GetCurrentTransactionNestLevel());
}

static void
audit_exit_callback(int code, Datum arg)
{
	dlist_mutable_iter iter;

	/* the backend is going away: stop what runs, log nothing more */
	dlist_foreach_modify(iter, &running_queries)
	{
		RunningQuery *rq = dlist_container(RunningQuery, node, iter.cur);

		(void) athena_stop_query_quietly(rq->client, rq->query_id);
		unregister_running(rq);
	}
}

/* ------------------------------------------------------------------------
 * Executor callbacks
 * ------------------------------------------------------------------------
 */

void
auditBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	AuditFdwScanState *fsstate;
	RangeTblEntry *rte;
	Oid			userid;
	ListCell   *lc;

	fsstate = palloc0(sizeof(AuditFdwScanState));
	node->fdw_state = fsstate;

	fsstate->rel = node->ss.ss_currentRelation;
	fsstate->relid = (Oid) intVal(list_nth(fsplan->fdw_private,
										   AuditFdwScanPrivateRelid));
	fsstate->whole_table = intVal(list_nth(fsplan->fdw_private,
										   AuditFdwScanPrivateWholeTable));
	fsstate->sql_parts = (List *) list_nth(fsplan->fdw_private, AuditFdwScanPrivateSqlParts);
	fsstate->roundings = (List *) list_nth(fsplan->fdw_private, AuditFdwScanPrivateRoundings);
	fsstate->retrieved_attrs = (List *) list_nth(fsplan->fdw_private,
												 AuditFdwScanPrivateRetrievedAttrs);
	fsstate->relname = strVal(list_nth(fsplan->fdw_private,
									   AuditFdwScanPrivateRelationName));
	{
		List	   *part = (List *) list_nth(fsplan->fdw_private,
											 AuditFdwScanPrivatePartitioning);

		if (part != NIL)
		{
			fsstate->partitioning.format = strVal(linitial(part));
			fsstate->partitioning.delay_us =
				pg_strtoint64(strVal(lsecond(part)));
			fsstate->partitioning.skew_us =
				pg_strtoint64(strVal(lthird(part)));
		}
	}

	/* a join or upper relation: any of its foreign tables gives the user */
	rte = exec_rt_fetch(fsplan->scan.scanrelid > 0 ? fsplan->scan.scanrelid
						: bms_next_member(fsplan->fs_relids, -1), estate);
	userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	fsstate->userid = userid;
	fsstate->options = audit_get_options(fsstate->relid, InvalidOid);
	fsstate->folders = (List *) list_nth(fsplan->fdw_private, AuditFdwScanPrivateFolders);
	fsstate->budget = audit_byte_budget(fsstate->folders, fsstate->options->serverid, userid,
										&fsstate->budget_source);

	/*
	 * EXPLAIN without ANALYZE: no network, unless a budget applies: then it
	 * shows the estimate (with the bounds known at planning).
	 */
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
	{
		if (fsstate->budget >= 0)
		{
			fsstate->client = audit_client_for(fsstate->options->serverid, userid,
											   fsstate->options);
			audit_estimate_scan(fsstate->client, fsstate->folders, NULL,
								&fsstate->estimate);
		}
		return;
	}

	fsstate->transport = fsstate->options->transport;
	fsstate->client = audit_client_for(fsstate->options->serverid, userid,
									   fsstate->options);

	fsstate->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
											  "audit_fdw scan",
											  ALLOCSET_DEFAULT_SIZES);
	fsstate->batch_cxt = AllocSetContextCreate(fsstate->scan_cxt,
											   "audit_fdw batch",
											   ALLOCSET_DEFAULT_SIZES);

	fsstate->runtime_states = ExecInitExprList(fsplan->fdw_exprs, (PlanState *) node);
	foreach(lc, fsplan->fdw_exprs)
		fsstate->runtime_types = lappend_oid(fsstate->runtime_types,
											 exprType((Node *) lfirst(lc)));

	fsstate->conv = audit_converter_create(fsstate->rel
										   ? RelationGetDescr(fsstate->rel)
										   : node->ss.ss_ScanTupleSlot->tts_tupleDescriptor,
										   fsstate->retrieved_attrs,
										   fsstate->relname,
										   fsstate->rel ? RelationGetRelid(fsstate->rel)
										   : InvalidOid);
	if (fsstate->rel == NULL)
	{
		audit_converter_mark_avg_pairs(fsstate->conv, fsplan->fdw_scan_tlist);
		audit_converter_mark_json_columns(fsstate->conv, fsplan->fdw_scan_tlist,
										  estate->es_range_table);
	}
}

/*
 * EXPLAIN's lines of the byte estimate, when a budget applies (budget.c).
 */
void
audit_explain_estimate(ForeignScanState *node, ExplainState *es)
{
	AuditFdwScanState *fsstate = (AuditFdwScanState *) node->fdw_state;

	if (fsstate == NULL || !fsstate->estimate.computed)
		return;
	ExplainPropertyInteger("Estimated Data Scanned", "bytes", fsstate->estimate.bytes, es);
	ExplainPropertyInteger("Estimated Folders", NULL, fsstate->estimate.folders, es);
	ExplainPropertyInteger("Byte Budget", "bytes", fsstate->budget, es);
	if (fsstate->estimate.runtime_unapplied)
		ExplainPropertyText("Estimate Note",
							"bounds computed at executor start not applied", es);
}

/* The folder names of a list, separated by commas ("none" for none) */
static char *
folder_list_text(List *folders)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, folders)
		appendStringInfo(&buf, "%s%s", lc == list_head(folders) ? "" : ", ",
						 strVal(lfirst(lc)));
	return buf.len > 0 ? buf.data : "none";
}

/*
 * EXPLAIN's lines of the key buckets and attribute folders a scan reads:
 * those its constants select (every table of the scan narrowing them); or,
 * when values known only at executor start choose them (col = $1,
 * col = ANY($1), a stable expression, a nested loop's outer column),
 * without ANALYZE that they are, and with it those the last query read
 * ("none" when its value was NULL).
 */
void
audit_explain_levels(ForeignScanState *node, ExplainState *es)
{
	AuditFdwScanState *fsstate = (AuditFdwScanState *) node->fdw_state;
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	List	   *roundings = list_nth(plan->fdw_private, AuditFdwScanPrivateRoundings);
	List	   *folders = list_nth(plan->fdw_private, AuditFdwScanPrivateFolders);

	for (int k = 0; k < AUDIT_NUM_LEVELS; k++)
	{
		const char *label = audit_level_label(k);
		bool		runtime = false;
		List	   *planned = audit_folder_selection_levels(folders, k);
		ListCell   *lc;

		foreach(lc, roundings)
			runtime |= AUDIT_ROUNDING_LEVEL(lfirst_int(lc)) == k;
		if (runtime && es->analyze && fsstate != NULL && fsstate->rt.level_known[k])
			ExplainPropertyText(label, folder_list_text(fsstate->rt.level_values[k]), es);
		else if (runtime)
			ExplainPropertyText(label, "chosen at execution", es);
		else if (planned != NIL)
			ExplainPropertyText(label, folder_list_text(planned), es);
	}
}

/*
 * The Athena SQL with the runtime values written as literals.
 */
static char *
build_sql(ForeignScanState *node)
{
	AuditFdwScanState *fsstate = (AuditFdwScanState *) node->fdw_state;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	StringInfoData buf;
	ListCell   *part;
	int			i = 0;

	initStringInfo(&buf);
	foreach(part, fsstate->sql_parts)
	{
		if (i > 0)
		{
			ExprState  *es = (ExprState *) list_nth(fsstate->runtime_states, i - 1);
			Oid			type = list_nth_oid(fsstate->runtime_types, i - 1);
			AuditFdwRounding rounding = list_nth_int(fsstate->roundings, i - 1);
			Datum		value;
			bool		isnull;
			MemoryContext oldcxt;

			oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
			value = ExecEvalExpr(es, econtext, &isnull);
			MemoryContextSwitchTo(oldcxt);
			if (rounding == AUDIT_ROUND_PARTITION_LOWER ||
				rounding == AUDIT_ROUND_PARTITION_UPPER)
			{
				bool		upper = rounding == AUDIT_ROUND_PARTITION_UPPER;

				if (isnull)
					appendStringInfoString(&buf, "NULL");
				else
				{
					StringInfoData lit;
					char	   *p;

					initStringInfo(&lit);
					audit_append_partition_literal(&lit, &fsstate->partitioning,
												   DatumGetTimestamp(value), upper);
					appendStringInfoString(&buf, lit.data);
					/* the narrowest runtime bounds, for the estimate */
					p = audit_partition_literal_value(lit.data);
					if (p && upper && (!fsstate->rt.upper || strcmp(p, fsstate->rt.upper) < 0))
						fsstate->rt.upper = p;
					if (p && !upper && (!fsstate->rt.lower || strcmp(p, fsstate->rt.lower) > 0))
						fsstate->rt.lower = p;
				}
			}
			else if (AUDIT_ROUNDING_LEVEL(rounding) >= 0)
			{
				int			k = AUDIT_ROUNDING_LEVEL(rounding);
				AuditFdwLevel level;
				List	   *folders;
				ListCell   *lc;

				/* the scan's table's attribute folders; a bucket's digits */
				audit_level_of(fsstate->options, k, &level);
				if (k == AUDIT_LEVEL_KEY_BUCKET)
					level.digits = rounding - AUDIT_KEY_BUCKETS_1 + 1;
				folders = audit_level_values_of(&level, value, type, isnull);
				/* no folder (NULL): no row, and no folder to read */
				if (folders == NIL)
					appendStringInfoString(&buf, "NULL");
				foreach(lc, folders)
				{
					if (lc != list_head(folders))
						appendStringInfoString(&buf, ", ");
					audit_append_string_literal(&buf, strVal(lfirst(lc)));
				}
				/* the folders every such value selects, for the estimate */
				if (!fsstate->rt.level_known[k])
					fsstate->rt.level_values[k] = folders;
				else
					fsstate->rt.level_values[k] = list_intersection(fsstate->rt.level_values[k],
																	folders);
				fsstate->rt.level_known[k] = true;
			}
			else if (rounding == AUDIT_BATCH_KEYS ||
					 rounding == AUDIT_BATCH_BUCKETS)
			{
				char	   *list = rounding == AUDIT_BATCH_KEYS
				? fsstate->batch_keys : fsstate->batch_buckets;

				if (list == NULL)
					elog(ERROR, "batched join scan started without keys");
				/* keys of no bucket (NaN): none */
				appendStringInfoString(&buf, list[0] ? list : "NULL");
			}
			else if (!audit_append_literal(&buf, type, value, isnull, rounding))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("value $%d of the Athena query has no Athena literal", i),
						 errdetail("Athena has no infinite or out-of-range dates."),
						 errhint("Compare with a finite date, or set audit_fdw.enable_pushdown to off.")));
		}
		appendStringInfoString(&buf, strVal(lfirst(part)));
		i++;
	}
	return buf.data;
}

static char *
random_token(void)
{
	uint8		bytes[16];
	char	   *token = palloc(10 + 32 + 1);
	int			i;

	if (!pg_strong_random(bytes, sizeof(bytes)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random ClientRequestToken")));
	strcpy(token, "audit_fdw-");
	for (i = 0; i < 16; i++)
		sprintf(token + 10 + i * 2, "%02x", bytes[i]);
	return token;
}

static void
start_query(ForeignScanState *node)
{
	AuditFdwScanState *fsstate = (AuditFdwScanState *) node->fdw_state;
	AthenaQueryParams params;
	MemoryContext oldcxt;
	char	   *sql;
	char	   *id;

	oldcxt = MemoryContextSwitchTo(fsstate->scan_cxt);
	memset(&fsstate->rt, 0, sizeof(fsstate->rt));
	sql = build_sql(node);
	/* planning keeps long lists local; runtime values could still add up */
	if (strlen(sql) > ATHENA_MAX_QUERY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the Athena query would be %zu bytes long", strlen(sql)),
				 errdetail("Athena takes query texts of at most %d bytes.", ATHENA_MAX_QUERY_BYTES),
				 errhint("Set audit_fdw.enable_pushdown to off for this query, or give fewer values.")));
	/*
	 * A key whose value at executor start is NULL (or an array of none)
	 * selects no bucket: a scan of the table returns no row, so nothing is
	 * asked (Athena bills a query at least 10 MB).  A join or an aggregate
	 * computed in Athena still runs: it may return rows of its own.
	 */
	fsstate->no_rows = false;
	for (int k = 0; k < AUDIT_NUM_LEVELS; k++)
		fsstate->no_rows |= fsstate->rel != NULL && fsstate->rt.level_known[k] &&
			fsstate->rt.level_values[k] == NIL;
	if (fsstate->no_rows)
	{
		fsstate->sql = sql;
		fsstate->query_id = NULL;
		fsstate->started = true;
		MemoryContextSwitchTo(oldcxt);
		return;
	}
	/* the byte budget: estimated before anything is billed */
	if (fsstate->budget >= 0)
	{
		audit_estimate_scan(fsstate->client, fsstate->folders, &fsstate->rt,
							&fsstate->estimate);
		audit_check_budget(&fsstate->estimate, fsstate->budget, fsstate->budget_source);
	}
	memset(&params, 0, sizeof(params));
	params.sql = sql;
	params.client_request_token = random_token();
	params.catalog = fsstate->options->catalog;
	params.database = fsstate->options->database;
	params.workgroup = fsstate->options->workgroup;
	params.output_location = fsstate->options->output_location;
	params.result_reuse_minutes = fsstate->options->result_reuse_minutes;

	id = athena_start_query(fsstate->client, &params);
	fsstate->sql = sql;
	fsstate->query_id = id;
	fsstate->running = register_running(fsstate);
	MemoryContextSwitchTo(oldcxt);

	wait_for_query(fsstate);
	raise_if_failed(fsstate);

	audit_note_bytes_scanned(fsstate->relid,
							 (double) fsstate->status.data_scanned_bytes,
							 fsstate->whole_table);
	fsstate->queries_run++;
	fsstate->bytes_scanned_total += fsstate->status.data_scanned_bytes;
	{
		AuditQueryLogEntry e;

		log_entry_for(fsstate, &e);
		audit_query_log_record(&e);
	}
	fsstate->started = true;
}

/*
 * Poll GetQueryExecution until the query is finished.  Waits are
 * interruptible; an interrupt aborts the transaction and the abort
 * callback stops the query.
 */
static void
wait_for_query(AuditFdwScanState *fsstate)
{
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz sent = start;
	int			delay = fsstate->options->poll_initial_ms;
	MemoryContext oldcxt;

	for (;;)
	{
		long		elapsed_ms;
		long		wait_ms;
		AthenaQueryStatus status;

		/*
		 * Polls are delay apart from one sending to the next, whatever the
		 * last answer took (on a busy machine an answer's time would
		 * otherwise add to the time a finished query goes unseen), and at
		 * least half of delay after the last answer, so that a slow answer
		 * is not followed by another poll at once.
		 */
		TimestampTz answered = GetCurrentTimestamp();

		for (;;)
		{
			TimestampTz now = GetCurrentTimestamp();

			wait_ms = Max(delay - TimestampDifferenceMilliseconds(sent, now),
						  delay / 2 - TimestampDifferenceMilliseconds(answered, now));
			CHECK_FOR_INTERRUPTS();
			if (wait_ms <= 0)
				break;
			if (WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						  wait_ms, PG_WAIT_EXTENSION) & WL_LATCH_SET)
				ResetLatch(MyLatch);
		}
		sent = GetCurrentTimestamp();

		MemoryContextReset(fsstate->batch_cxt);
		oldcxt = MemoryContextSwitchTo(fsstate->batch_cxt);
		athena_get_query(fsstate->client, fsstate->query_id, &status);
		MemoryContextSwitchTo(oldcxt);

		if (status.state == ATHENA_SUCCEEDED || status.state == ATHENA_FAILED ||
			status.state == ATHENA_CANCELLED)
		{
			oldcxt = MemoryContextSwitchTo(fsstate->scan_cxt);
			fsstate->status = status;
			fsstate->status.state_change_reason =
				status.state_change_reason ? pstrdup(status.state_change_reason) : NULL;
			fsstate->status.error_type =
				status.error_type ? pstrdup(status.error_type) : NULL;
			fsstate->status.output_location =
				status.output_location ? pstrdup(status.output_location) : NULL;
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(fsstate->batch_cxt);
			unregister_running(fsstate->running);
			fsstate->running = NULL;
			return;
		}

		elapsed_ms = (long) ((sent - start) / 1000);
		delay = Max(fsstate->options->poll_initial_ms,
					Min(fsstate->options->poll_max_ms, elapsed_ms / POLL_FRACTION));
	}
}

/*
 * The SQLSTATE of a failed Athena query: the errors that PostgreSQL would
 * raise itself for the same rows keep their own code (so a division by zero
 * is 22012 whether the division ran in Athena or here); the rest are
 * HV000.  Athena's StateChangeReason begins with Trino's error name
 * (io.trino.spi.StandardErrorCode).
 */
static int
athena_failure_sqlstate(const char *reason)
{
	static const struct
	{
		const char *name;
		int			sqlstate;
	}			codes[] = {
		{"DIVISION_BY_ZERO", ERRCODE_DIVISION_BY_ZERO},
		{"NUMERIC_VALUE_OUT_OF_RANGE", ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE},
		{"SUBQUERY_MULTIPLE_ROWS", ERRCODE_CARDINALITY_VIOLATION},
	};

	if (reason == NULL)
		return ERRCODE_FDW_ERROR;
	for (int i = 0; i < lengthof(codes); i++)
	{
		size_t		n = strlen(codes[i].name);

		if (strncmp(reason, codes[i].name, n) == 0 && reason[n] == ':')
			return codes[i].sqlstate;
	}
	return ERRCODE_FDW_ERROR;
}

static void
raise_if_failed(AuditFdwScanState *fsstate)
{
	AthenaQueryStatus *st = &fsstate->status;

	if (st->state == ATHENA_FAILED || st->state == ATHENA_CANCELLED)
	{
		AuditQueryLogEntry e;

		log_entry_for(fsstate, &e);
		audit_query_log_record_failure(&e);
	}

	if (st->state == ATHENA_FAILED)
		ereport(ERROR,
				(errcode(athena_failure_sqlstate(st->state_change_reason)),
				 errmsg("Athena query %s failed: %.2000s", fsstate->query_id,
						st->state_change_reason ? st->state_change_reason
						: "no reason given"),
				 st->error_type ? errdetail("Athena error type %s.", st->error_type) : 0,
				 errcontext("Athena SQL: %s", fsstate->sql)));
	if (st->state == ATHENA_CANCELLED)
	{
		/*
		 * Athena cancels a query that scans more than its workgroup's
		 * per-query data usage limit (Athena User Guide, "Configure per-query
		 * and per-workgroup data usage controls"): say so when that is why.
		 */
		int64		cutoff = athena_workgroup_cutoff(fsstate->client,
													 fsstate->options->workgroup);

		if (cutoff > 0 && st->data_scanned_bytes >= cutoff)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("Athena cancelled query %s: it scanned more than workgroup \"%s\" allows a query",
							fsstate->query_id, fsstate->options->workgroup),
					 errdetail("It scanned " INT64_FORMAT " bytes; the workgroup's BytesScannedCutoffPerQuery is " INT64_FORMAT " bytes.%s%.2000s",
							   st->data_scanned_bytes, cutoff,
							   st->state_change_reason ? " Athena: " : "",
							   st->state_change_reason ? st->state_change_reason : ""),
					 errhint("Narrow the query (bound event_time on both sides, or give the key of a table with key buckets), or use a workgroup with a higher limit (the server's workgroup option). Setting audit_fdw.max_bytes_scanned refuses such queries before Athena bills them.")));
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Athena query %s was cancelled", fsstate->query_id),
				 st->state_change_reason
				 ? errdetail_internal("%.2000s", st->state_change_reason) : 0));
	}
}

static void *
csv_palloc(size_t size)
{
	return palloc(size);
}

static void *
csv_repalloc(void *ptr, size_t size)
{
	return repalloc(ptr, size);
}

static void
csv_pfree(void *ptr)
{
	pfree(ptr);
}

/*
 * Start reading the result: the CSV object when the transport is csv and
 * it can be read, else GetQueryResults.
 */
static void
open_result(AuditFdwScanState *fsstate)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(fsstate->scan_cxt);

	fsstate->header_skipped = false;
	fsstate->eof = false;
	fsstate->rownum = 0;
	fsstate->page = NULL;
	fsstate->page_row = 0;
	fsstate->next_token = NULL;
	fsstate->first_page_read = false;

	if (fsstate->transport == AUDIT_TRANSPORT_CSV)
	{
		if (fsstate->bucket == NULL &&
			(fsstate->status.output_location == NULL ||
			 !aws_parse_s3_uri(fsstate->status.output_location,
							   &fsstate->bucket, &fsstate->key)))
			fsstate->transport = AUDIT_TRANSPORT_API;
	}
	if (fsstate->transport == AUDIT_TRANSPORT_CSV)
	{
		PG_TRY();
		{
			fsstate->stream = s3_object_reader_open(fsstate->client,
													fsstate->bucket,
													fsstate->key,
													audit_fetch_connections,
													(int64) audit_fetch_part_size_kb * 1024);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(fsstate->scan_cxt);
			edata = CopyErrorData();
			if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
				edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
				PG_RE_THROW();
			FlushErrorState();
			ereport(DEBUG1,
					(errmsg_internal("result object of Athena query %s not readable, paging GetQueryResults: %s",
									 fsstate->query_id, edata->message)));
			fsstate->stream = NULL;
			fsstate->transport = AUDIT_TRANSPORT_API;
		}
		PG_END_TRY();
		if (fsstate->stream)
		{
			if (fsstate->csv == NULL)
				fsstate->csv = csv_reader_create(MAX_RECORD_BYTES, csv_palloc,
												 csv_repalloc, csv_pfree);
			else
				csv_reader_reset(fsstate->csv);
		}
	}
	MemoryContextSwitchTo(oldcxt);
}

static void
close_result(AuditFdwScanState *fsstate)
{
	if (fsstate->stream)
	{
		s3_object_reader_close(fsstate->stream);
		fsstate->stream = NULL;
	}
}

/*
 * The next row of the CSV result into slot; false at the end.
 */
static bool
next_csv_row(AuditFdwScanState *fsstate, TupleTableSlot *slot)
{
	for (;;)
	{
		char	  **fields;
		bool	   *nulls;
		int			nfields;
		CsvResult	r = csv_reader_next(fsstate->csv, &fields, &nulls, &nfields);

		switch (r)
		{
			case CSV_RECORD:
				if (!fsstate->header_skipped)
				{
					fsstate->header_skipped = true;
					continue;
				}
				fsstate->rownum++;
				audit_converter_store(fsstate->conv, slot, fields, nulls,
									  nfields, fsstate->rownum);
				return true;
			case CSV_NEED_MORE:
				{
					size_t		space;
					char	   *buf = csv_reader_space(fsstate->csv, &space);
					size_t		n = s3_object_reader_read(fsstate->stream, buf, space);

					if (n == 0)
						csv_reader_finish(fsstate->csv);
					else
						csv_reader_wrote(fsstate->csv, n);
					continue;
				}
			case CSV_END:
				/* Athena writes the header even when no row matched */
				if (!fsstate->header_skipped)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_ERROR),
							 errmsg("result of Athena query %s has no header row",
									fsstate->query_id),
							 errdetail("The result object s3://%s/%s is empty; Athena writes a header row even when no row matches, so the object is truncated or was not written by Athena.",
									   fsstate->bucket, fsstate->key)));
				return false;
			case CSV_ERROR:
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("malformed result of Athena query %s: %s",
								fsstate->query_id,
								csv_reader_error(fsstate->csv)),
						 errdetail("The result object is s3://%s/%s.",
								   fsstate->bucket, fsstate->key)));
		}
	}
}

/*
 * The next row from GetQueryResults into slot; false at the end.
 */
static bool
next_api_row(AuditFdwScanState *fsstate, TupleTableSlot *slot)
{
	for (;;)
	{
		if (fsstate->page && fsstate->page_row < fsstate->page->nrows)
		{
			char	  **row = fsstate->page->rows[fsstate->page_row++];
			int			ncols = fsstate->page->ncols;
			bool	   *nulls = palloc(sizeof(bool) * Max(ncols, 1));
			char	  **fields = palloc(sizeof(char *) * Max(ncols, 1));
			int			i;

			if (!fsstate->header_skipped)
			{
				fsstate->header_skipped = true;
				continue;
			}
			for (i = 0; i < ncols; i++)
			{
				nulls[i] = row[i] == NULL;
				fields[i] = row[i];
			}
			fsstate->rownum++;
			audit_converter_store(fsstate->conv, slot, fields, nulls, ncols,
								  fsstate->rownum);
			return true;
		}
		if (fsstate->first_page_read && fsstate->next_token == NULL)
			return false;
		{
			MemoryContext oldcxt;
			char	   *token = fsstate->next_token ? pstrdup(fsstate->next_token) : NULL;

			/* the previous page (and its token) goes with the batch */
			MemoryContextReset(fsstate->batch_cxt);
			oldcxt = MemoryContextSwitchTo(fsstate->batch_cxt);
			fsstate->page = athena_get_results(fsstate->client, fsstate->query_id,
											   token, API_PAGE_ROWS);
			MemoryContextSwitchTo(oldcxt);
			fsstate->page_row = 0;
			fsstate->next_token = fsstate->page->next_token;
			fsstate->first_page_read = true;
		}
	}
}

TupleTableSlot *
auditIterateForeignScan(ForeignScanState *node)
{
	AuditFdwScanState *fsstate = (AuditFdwScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	bool		found;

	if (!fsstate->started)
	{
		start_query(node);
		if (fsstate->no_rows)
			fsstate->eof = true;
		else
			open_result(fsstate);
	}
	if (fsstate->eof)
		return ExecClearTuple(slot);

	if (fsstate->stream)
		found = next_csv_row(fsstate, slot);
	else
		found = next_api_row(fsstate, slot);
	if (!found)
	{
		fsstate->eof = true;
		close_result(fsstate);
		return ExecClearTuple(slot);
	}
	return slot;
}

void
auditReScanForeignScan(ForeignScanState *node)
{
	AuditFdwScanState *fsstate = (AuditFdwScanState *) node->fdw_state;

	if (!fsstate->started)
		return;
	close_result(fsstate);
	if ((node->ss.ps.chgParam != NULL && fsstate->runtime_states != NIL) ||
		fsstate->batch_changed)
	{
		/* the values sent with the query changed: run it again */
		fsstate->started = false;
		fsstate->batch_changed = false;
		fsstate->bucket = NULL;
		fsstate->key = NULL;
		fsstate->transport = fsstate->options->transport;
		return;
	}
	if (fsstate->no_rows)
		fsstate->eof = true;
	else
		open_result(fsstate);
}

void
auditEndForeignScan(ForeignScanState *node)
{
	AuditFdwScanState *fsstate = (AuditFdwScanState *) node->fdw_state;

	if (fsstate == NULL || fsstate->scan_cxt == NULL)
		return;
	close_result(fsstate);
	if (fsstate->running)
	{
		RunningQuery *rq = fsstate->running;

		fsstate->running = NULL;
		(void) athena_stop_query_quietly(rq->client, rq->query_id);
		log_unfinished(rq, "the scan ended before the query finished");
		unregister_running(rq);
	}
	if (fsstate->csv)
	{
		csv_reader_free(fsstate->csv);
		fsstate->csv = NULL;
	}
	MemoryContextDelete(fsstate->scan_cxt);
	fsstate->scan_cxt = NULL;
}

/*
 * The keys of a batched join's next query and their key buckets (the text
 * between the parentheses of each IN list, Athena literals separated by
 * commas); the next rescan runs the query with them.
 */
void
audit_scan_set_batch_keys(ForeignScanState *node, const char *keys,
						  const char *buckets)
{
	AuditFdwScanState *fsstate = (AuditFdwScanState *) node->fdw_state;

	if (fsstate->batch_keys)
		pfree(fsstate->batch_keys);
	if (fsstate->batch_buckets)
		pfree(fsstate->batch_buckets);
	fsstate->batch_keys = MemoryContextStrdup(fsstate->scan_cxt, keys);
	fsstate->batch_buckets = MemoryContextStrdup(fsstate->scan_cxt, buckets);
	fsstate->batch_changed = true;
}

/*
 * The length of the scan's Athena SQL with an empty key list: what a
 * batched join has left for its keys is ATHENA_MAX_QUERY_BYTES less this.
 */
int64
audit_scan_sql_bytes(ForeignScanState *node)
{
	AuditFdwScanState *fsstate = (AuditFdwScanState *) node->fdw_state;
	char	   *saved_keys = fsstate->batch_keys;
	char	   *saved_buckets = fsstate->batch_buckets;
	char	   *sql;
	int64		len;

	fsstate->batch_keys = "";
	fsstate->batch_buckets = "";
	PG_TRY();
	{
		sql = build_sql(node);
	}
	PG_FINALLY();
	{
		fsstate->batch_keys = saved_keys;
		fsstate->batch_buckets = saved_buckets;
	}
	PG_END_TRY();
	len = strlen(sql);
	pfree(sql);
	return len;
}

/* How many Athena queries the scan ran, and the bytes they scanned. */
void
audit_scan_totals(ForeignScanState *node, int64 *queries, int64 *bytes)
{
	AuditFdwScanState *fsstate = (AuditFdwScanState *) node->fdw_state;

	*queries = fsstate ? fsstate->queries_run : 0;
	*bytes = fsstate ? fsstate->bytes_scanned_total : 0;
}

/*
 * What a query costs: the price per TiB, bytes rounded up to a whole MiB
 * with a 10 MiB minimum (Athena's billing rule).
 */
double
audit_cost_usd(int64 bytes_scanned, double price_per_tb)
{
	const double mib = 1024.0 * 1024.0;
	double		billed = ceil((double) bytes_scanned / mib) * mib;

	if (billed < 10 * mib)
		billed = 10 * mib;
	return billed / (mib * mib) * price_per_tb;
}

void
audit_explain_analyze(ForeignScanState *node, ExplainState *es)
{
	AuditFdwScanState *fsstate = (AuditFdwScanState *) node->fdw_state;
	char		cost[64];

	if (fsstate == NULL || fsstate->query_id == NULL)
		return;
	ExplainPropertyText("Athena Query ID", fsstate->query_id, es);
	ExplainPropertyInteger("Data Scanned", "bytes",
						   fsstate->status.data_scanned_bytes, es);
	ExplainPropertyInteger("Engine Time", "ms", fsstate->status.engine_ms, es);
	ExplainPropertyInteger("Queue Time", "ms", fsstate->status.queue_ms, es);
	ExplainPropertyText("Result Transport", audit_transport_name(fsstate->transport), es);
	if (fsstate->status.reused)
		ExplainPropertyBool("Result Reused", true, es);
	snprintf(cost, sizeof(cost), "$%.6f",
			 audit_cost_usd(fsstate->status.data_scanned_bytes,
							fsstate->options->price_per_tb));
	ExplainPropertyText("Estimated Cost", cost, es);
}
