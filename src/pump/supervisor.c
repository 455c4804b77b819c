/*-------------------------------------------------------------------------
 *
 * supervisor.c
 *		The pump's supervisor: a dynamic background worker, started by the
 *		launcher in the database named by audit_fdw.database, that keeps
 *		one set of reader workers running per running pipeline.
 *
 * Rules:
 *	- at most one supervisor per database: it holds the database's
 *	  supervisor lease before it starts anything (a supervisor left behind
 *	  by a restarted launcher holds it until it notices and exits);
 *	- every audit_fdw.pump_naptime, and at once when a reader registered,
 *	  changed or retired shards (it sets this process's latch), it reads
 *	  audit_fdw.pipeline and the shard rows not drained (nothing when the
 *	  extension is not installed here), starts the readers that are missing
 *	  (a reader that exited is started again, at most once a second) and
 *	  stops the readers of paused or dropped pipelines;
 *	- reader k of a running pipeline runs while a shard row not drained
 *	  hashes to slot k, and the discoverer in any case (the lowest such
 *	  slot, 0 when there is none: pump_discoverer_slot in worker.c), so a
 *	  stream of one shard has one reader; a reader exits by itself once it
 *	  has nothing to do (worker.c), and is not stopped for it, so it never
 *	  leaves a batch half delivered;
 *	- a running reader whose slot's shard rows changed is told at once
 *	  (SIGUSR2), not at its next once-a-second re-read;
 *	- it exits when its launcher is gone or audit_fdw.database names
 *	  another database; its readers then see it gone and hand over to the
 *	  next supervisor's readers (lease.c);
 *	- a new audit_fdw.pump_readers restarts every pipeline's readers with
 *	  the new count;
 *	- the same for backfills (snapshot.c): while a running pipeline has a
 *	  running backfill, worker k of its n reads the segments s with
 *	  s % n = k that are not done yet; a worker whose segments are all done
 *	  exits and is not started again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pump/pump.h"

/* A reader the supervisor started. */
typedef struct LaunchedReader
{
	char		pipeline[64];
	int			slot;
	int			nslots;
	bool		backfill;		/* a backfill's worker, not a reader */
	BackgroundWorkerHandle *handle;
	TimestampTz started_at;
	bool		wanted;
	uint64		shards_seen;	/* the slot's shard rows the reader was told of */
} LaunchedReader;

/* A running pipeline, and its shard rows not drained. */
typedef struct RunningPipeline
{
	char	   *name;
	List	   *open_shards;	/* of char *, shard ids */
} RunningPipeline;

static List *launched = NIL;

static List *running_pipelines(void);
static List *backfill_slots(void);
static LaunchedReader *start_reader(const char *pipeline, int slot, int nslots, bool backfill);
static LaunchedReader *want_worker(const char *pipeline, int slot, int nslots, bool backfill,
								   bool start, TimestampTz now);
static void want_readers(RunningPipeline *p, int nslots, TimestampTz now);
static bool extension_installed(void);
static void supervisor_pass(void);
static bool reader_alive(LaunchedReader *r);

/* The running pipelines, as RunningPipeline * (empty without the extension). */
static List *
running_pipelines(void)
{
	List	   *pipelines = NIL;
	RunningPipeline *p = NULL;
	MemoryContext caller = CurrentMemoryContext;
	int			ret;
	uint64		i;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "reading audit_fdw.pipeline");

	ret = SPI_execute("SELECT p.name, c.shard_id FROM audit_fdw.pipeline p "
					  "LEFT JOIN audit_fdw.checkpoint c "
					  "ON c.pipeline = p.name AND c.state <> 'drained' "
					  "WHERE p.state = 'running' ORDER BY 1", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading audit_fdw.pipeline failed: %d", ret);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *shard_id = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		MemoryContext old = MemoryContextSwitchTo(caller);

		if (p == NULL || strcmp(p->name, name) != 0)
		{
			p = palloc0(sizeof(RunningPipeline));
			p->name = pstrdup(name);
			pipelines = lappend(pipelines, p);
		}
		if (shard_id != NULL)
			p->open_shards = lappend(p->open_shards, pstrdup(shard_id));
		MemoryContextSwitchTo(old);
	}

	SPI_finish();
	PopActiveSnapshot();
	pump_commit(caller);
	pgstat_report_activity(STATE_IDLE, NULL);
	return pipelines;
}

/* A backfill worker to keep running: its pipeline, slot and slot count. */
typedef struct BackfillSlot
{
	char	   *pipeline;
	int			slot;
	int			nslots;
} BackfillSlot;

/* The backfill workers wanted: of running backfills, slots with segments to read. */
static List *
backfill_slots(void)
{
	List	   *slots = NIL;
	MemoryContext caller = CurrentMemoryContext;
	uint64		i;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "reading audit_fdw.backfill");
	/* an installation not yet updated to 1.2 has no backfills */
	if (SPI_execute("SELECT 1 WHERE pg_catalog.to_regclass('audit_fdw.backfill_segment') "
					"IS NOT NULL", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading pg_class failed");
	if (SPI_processed == 1 &&
		SPI_execute("SELECT b.pipeline, s.segment OPERATOR(pg_catalog.%) b.workers, b.workers "
					"FROM audit_fdw.backfill b "
					"JOIN audit_fdw.pipeline p ON p.name = b.pipeline "
					"JOIN audit_fdw.backfill_segment s ON s.backfill = b.id "
					"WHERE b.state = 'running' AND p.state = 'running' AND s.state = 'scanning' "
					"GROUP BY 1, 2, 3 ORDER BY 1, 2", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading audit_fdw.backfill failed");
	for (i = 0; SPI_tuptable != NULL && i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(caller);
		BackfillSlot *bs = palloc(sizeof(BackfillSlot));

		bs->pipeline = pstrdup(SPI_getvalue(tup, desc, 1));
		bs->slot = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		bs->nslots = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		slots = lappend(slots, bs);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	PopActiveSnapshot();
	pump_commit(caller);
	pgstat_report_activity(STATE_IDLE, NULL);
	return slots;
}

/* Is the extension installed in this database? */
static bool
extension_installed(void)
{
	MemoryContext caller = CurrentMemoryContext;
	bool		found;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute("SELECT 1 FROM pg_catalog.pg_extension e "
					"JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
					"WHERE e.extname = 'audit_fdw' AND n.nspname = 'audit_fdw'",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading pg_extension failed");
	found = SPI_processed > 0;
	SPI_finish();
	PopActiveSnapshot();
	pump_commit(caller);
	return found;
}

static bool
reader_alive(LaunchedReader *r)
{
	pid_t		pid;
	BgwHandleStatus status = GetBackgroundWorkerPid(r->handle, &pid);

	return status == BGWH_STARTED || status == BGWH_NOT_YET_STARTED;
}

static LaunchedReader *
start_reader(const char *pipeline, int slot, int nslots, bool backfill)
{
	BackgroundWorker worker;
	PumpWorkerArgs args;
	BackgroundWorkerHandle *handle;
	LaunchedReader *r;
	MemoryContext old;

	memset(&worker, 0, sizeof(worker));
	memset(&args, 0, sizeof(args));
	args.database = MyDatabaseId;
	args.slot = slot;
	args.nslots = nslots;
	strlcpy(args.pipeline, pipeline, sizeof(args.pipeline));

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "audit_fdw");
	if (backfill)
	{
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "audit_fdw_backfill_worker_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "audit_fdw backfill %s %d/%d", pipeline,
				 slot + 1, nslots);
		snprintf(worker.bgw_type, BGW_MAXLEN, "audit_fdw backfill");
	}
	else
	{
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "audit_fdw_pump_worker_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "audit_fdw pump %s %d/%d", pipeline, slot + 1,
				 nslots);
		snprintf(worker.bgw_type, BGW_MAXLEN, "audit_fdw pump");
	}
	worker.bgw_notify_pid = MyProcPid;
	StaticAssertStmt(sizeof(PumpWorkerArgs) <= BGW_EXTRALEN, "PumpWorkerArgs too long");
	memcpy(worker.bgw_extra, &args, sizeof(args));

	/* the handle, as the list of workers, lives as long as this process */
	old = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		MemoryContextSwitchTo(old);
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start a %s of pipeline \"%s\"",
						backfill ? "backfill worker" : "reader", pipeline),
				 errhint("Raise max_worker_processes (each pipeline uses audit_fdw.pump_readers workers, and a backfill up to audit_fdw.backfill_workers).")));
		return NULL;
	}

	r = palloc0(sizeof(LaunchedReader));
	strlcpy(r->pipeline, pipeline, sizeof(r->pipeline));
	r->slot = slot;
	r->nslots = nslots;
	r->backfill = backfill;
	r->handle = handle;
	r->started_at = GetCurrentTimestamp();
	launched = lappend(launched, r);
	MemoryContextSwitchTo(old);
	return r;
}

/*
 * Keeps one worker of (pipeline, slot, nslots, kind) running (start: starts
 * it when it is not; else only keeps the one running from being stopped).
 * Returns it, or NULL when none runs.
 */
static LaunchedReader *
want_worker(const char *pipeline, int slot, int nslots, bool backfill, bool start,
			TimestampTz now)
{
	LaunchedReader *found = NULL;
	ListCell   *lc;

	foreach(lc, launched)
	{
		LaunchedReader *r = lfirst(lc);

		if (strcmp(r->pipeline, pipeline) == 0 && r->slot == slot && r->nslots == nslots &&
			r->backfill == backfill)
		{
			found = r;
			break;
		}
	}
	if (found && reader_alive(found))
	{
		found->wanted = true;
		return found;
	}
	if (!start)
		return NULL;
	if (found)
	{
		/* it exited: start it again, but not in a tight loop */
		if (!TimestampDifferenceExceeds(found->started_at, now, 1000))
		{
			found->wanted = true;
			return NULL;
		}
		launched = list_delete_ptr(launched, found);
		pfree(found->handle);
		pfree(found);
	}
	found = start_reader(pipeline, slot, nslots, backfill);
	if (found)
		found->wanted = true;
	return found;
}

/*
 * The readers of a running pipeline: reader k while a shard row not drained
 * hashes to slot k, and the discoverer (pump_discoverer_slot, on the rows
 * this pass read).  A reader that runs, and whose slot's rows changed
 * since it was started or last told, is told now (SIGUSR2).
 */
static void
want_readers(RunningPipeline *p, int nslots, TimestampTz now)
{
	uint64	   *seen = palloc0(sizeof(uint64) * nslots);
	bool	   *has_shard = palloc0(sizeof(bool) * nslots);
	ListCell   *lc;
	int			slot;
	int			discoverer;

	/* per slot: the count of its rows (high half) and the sum of their hashes */
	foreach(lc, p->open_shards)
	{
		const char *shard_id = lfirst(lc);
		int			k = pump_shard_slot(shard_id, nslots);

		seen[k] += ((uint64) 1 << 32) +
			hash_bytes((const unsigned char *) shard_id, strlen(shard_id));
		has_shard[k] = true;
	}
	discoverer = pump_discoverer_slot(has_shard, nslots);
	for (slot = 0; slot < nslots; slot++)
	{
		LaunchedReader *r = want_worker(p->name, slot, nslots, false,
										slot == discoverer || seen[slot] != 0, now);
		pid_t		pid;

		if (r == NULL)
			continue;
		/* one not started yet reads the rows when it starts */
		if (r->shards_seen != seen[slot] &&
			GetBackgroundWorkerPid(r->handle, &pid) == BGWH_STARTED)
			(void) kill(pid, SIGUSR2);
		r->shards_seen = seen[slot];
	}
	pfree(seen);
	pfree(has_shard);
}

/* One pass: start what is missing, stop what is no longer wanted. */
static void
supervisor_pass(void)
{
	List	   *wanted;
	List	   *backfills = NIL;
	ListCell   *lc;
	int			nslots = pump_readers;
	TimestampTz now = GetCurrentTimestamp();

	if (!extension_installed())
		wanted = NIL;
	else
	{
		wanted = running_pipelines();
		backfills = backfill_slots();
	}

	foreach(lc, launched)
		((LaunchedReader *) lfirst(lc))->wanted = false;

	foreach(lc, wanted)
		want_readers((RunningPipeline *) lfirst(lc), nslots, now);
	foreach(lc, backfills)
	{
		BackfillSlot *bs = lfirst(lc);

		(void) want_worker(bs->pipeline, bs->slot, bs->nslots, true, true, now);
	}

	/*
	 * readers of paused or dropped pipelines, or of an old reader count;
	 * workers of cancelled or finished backfills
	 */
	foreach(lc, launched)
	{
		LaunchedReader *r = lfirst(lc);

		if (!r->wanted)
		{
			if (reader_alive(r))
				TerminateBackgroundWorker(r->handle);
			else
			{
				launched = foreach_delete_current(launched, lc);
				pfree(r->handle);
				pfree(r);
			}
		}
	}
}

void
audit_fdw_pump_supervisor_main(Datum arg)
{
	MemoryContext pass_cxt;
	Oid			database = DatumGetObjectId(arg);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
	pump_pin_search_path();
	pgstat_report_appname("audit_fdw pump supervisor");
	lease_wait(PUMP_LEASE_SUPERVISOR, NULL, 0, "the previous audit_fdw pump supervisor to exit");

	pass_cxt = AllocSetContextCreate(TopMemoryContext, "audit_fdw pump supervisor",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!lease_parent_alive())
		{
			ereport(LOG,
					(errmsg("audit_fdw pump supervisor exits: its launcher is gone")));
			proc_exit(0);
		}

		MemoryContextReset(pass_cxt);
		old = MemoryContextSwitchTo(pass_cxt);
		/* a new audit_fdw.database: the launcher starts another supervisor */
		StartTransactionCommand();
		if (get_database_oid(pump_database, true) != MyDatabaseId)
		{
			CommitTransactionCommand();
			ereport(LOG,
					(errmsg("audit_fdw pump supervisor exits: audit_fdw.database is now \"%s\"",
							pump_database)));
			proc_exit(0);
		}
		pump_commit(pass_cxt);
		supervisor_pass();
		MemoryContextSwitchTo(old);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 pump_naptime_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
