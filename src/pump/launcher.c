/*-------------------------------------------------------------------------
 *
 * launcher.c
 *		The pump's GUCs and its launcher: a static background worker that
 *		keeps one set of reader workers running per running pipeline.
 *
 * Rules:
 *	- registered only while shared_preload_libraries is processed; without
 *	  it, pipelines can be created but nothing pumps them (create_pipeline
 *	  says so);
 *	- every audit_fdw.pump_naptime_ms it reads audit_fdw.pipeline in the
 *	  database audit_fdw.database (nothing when the extension is not
 *	  installed there), starts the readers that are missing (a reader that
 *	  exited is started again, at most once a second) and stops the readers
 *	  of paused or dropped pipelines;
 *	- SIGHUP reloads the configuration (a new audit_fdw.pump_readers restarts
 *	  every pipeline's readers with the new count, a new audit_fdw.database
 *	  the launcher itself); SIGTERM ends it, and the postmaster restarts it
 *	  after a crash.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pump/pump.h"

char	   *pump_database = NULL;
int			pump_readers = 2;
int			pump_naptime_ms = 1000;
int			pump_idle_max_ms = 1000;
int			pump_discovery_interval_ms = 10000;

/* set in the postmaster when the library is preloaded; backends inherit it */
bool		pump_launcher_registered = false;

/* A reader the launcher started. */
typedef struct LaunchedReader
{
	char		pipeline[64];
	int			slot;
	int			nslots;
	BackgroundWorkerHandle *handle;
	TimestampTz started_at;
	bool		wanted;
} LaunchedReader;

static List *launched = NIL;

static List *running_pipelines(void);
static LaunchedReader *start_reader(const char *pipeline, int slot, int nslots);
static bool extension_installed(void);
static void launcher_pass(void);
static bool reader_alive(LaunchedReader *r);

void
pump_init(void)
{
	BackgroundWorker worker;

	DefineCustomStringVariable("audit_fdw.database",
							   "Database whose pipelines the pump runs.",
							   "The pump's launcher connects to this database and runs the "
							   "pipelines of audit_fdw installed there.",
							   &pump_database,
							   "postgres",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("audit_fdw.pump_readers",
							"Reader workers per pipeline; a stream's shards are spread over them.",
							NULL,
							&pump_readers,
							2, 1, 64,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("audit_fdw.pump_naptime",
							"How often the pump's launcher looks for pipelines to start or stop.",
							NULL,
							&pump_naptime_ms,
							1000, 100, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("audit_fdw.pump_idle_max",
							"Longest wait between two GetRecords calls on an idle shard.",
							"An idle shard is polled after 50 ms, then twice as late each time up to this.",
							&pump_idle_max_ms,
							1000, 50, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("audit_fdw.pump_discovery_interval",
							"How often the pump looks for new shards of a stream.",
							NULL,
							&pump_discovery_interval_ms,
							10000, 100, 3600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 2;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "audit_fdw");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "audit_fdw_pump_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "audit_fdw pump launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "audit_fdw pump launcher");
	RegisterBackgroundWorker(&worker);
	pump_launcher_registered = true;
}

/* The names of the running pipelines (empty without the extension). */
static List *
running_pipelines(void)
{
	List	   *names = NIL;
	MemoryContext caller = CurrentMemoryContext;
	int			ret;
	uint64		i;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "reading audit_fdw.pipeline");

	ret = SPI_execute("SELECT name FROM audit_fdw.pipeline WHERE state = 'running' "
					  "ORDER BY name", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading audit_fdw.pipeline failed: %d", ret);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		MemoryContext old = MemoryContextSwitchTo(caller);

		names = lappend(names, pstrdup(name));
		MemoryContextSwitchTo(old);
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return names;
}

/* Is the extension installed in this database? */
static bool
extension_installed(void)
{
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
	CommitTransactionCommand();
	return found;
}

/*
 * The pump's processes run as the bootstrap superuser: every name in their
 * SQL must resolve in pg_catalog or in the extension's own schema (named in
 * full), never in a schema that another role can create objects in.  A
 * function or operator of someone else's in public would otherwise run with
 * superuser rights.  PGC_S_OVERRIDE outranks ALTER ROLE/DATABASE ... SET.
 */
void
pump_pin_search_path(void)
{
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
}

static bool
reader_alive(LaunchedReader *r)
{
	pid_t		pid;
	BgwHandleStatus status = GetBackgroundWorkerPid(r->handle, &pid);

	return status == BGWH_STARTED || status == BGWH_NOT_YET_STARTED;
}

static LaunchedReader *
start_reader(const char *pipeline, int slot, int nslots)
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
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "audit_fdw_pump_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "audit_fdw pump %s %d/%d", pipeline, slot + 1, nslots);
	snprintf(worker.bgw_type, BGW_MAXLEN, "audit_fdw pump");
	worker.bgw_notify_pid = MyProcPid;
	StaticAssertStmt(sizeof(PumpWorkerArgs) <= BGW_EXTRALEN, "PumpWorkerArgs too long");
	memcpy(worker.bgw_extra, &args, sizeof(args));

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start a reader of pipeline \"%s\"", pipeline),
				 errhint("Raise max_worker_processes (each pipeline uses audit_fdw.pump_readers workers).")));
		return NULL;
	}

	old = MemoryContextSwitchTo(TopMemoryContext);
	r = palloc0(sizeof(LaunchedReader));
	strlcpy(r->pipeline, pipeline, sizeof(r->pipeline));
	r->slot = slot;
	r->nslots = nslots;
	r->handle = handle;
	r->started_at = GetCurrentTimestamp();
	launched = lappend(launched, r);
	MemoryContextSwitchTo(old);
	return r;
}

/* One pass: start what is missing, stop what is no longer wanted. */
static void
launcher_pass(void)
{
	List	   *wanted;
	ListCell   *lc;
	ListCell   *lc2;
	int			nslots = pump_readers;
	TimestampTz now = GetCurrentTimestamp();

	if (!extension_installed())
		wanted = NIL;
	else
		wanted = running_pipelines();

	foreach(lc, launched)
		((LaunchedReader *) lfirst(lc))->wanted = false;

	foreach(lc, wanted)
	{
		const char *name = lfirst(lc);
		int			slot;

		for (slot = 0; slot < nslots; slot++)
		{
			LaunchedReader *found = NULL;

			foreach(lc2, launched)
			{
				LaunchedReader *r = lfirst(lc2);

				if (strcmp(r->pipeline, name) == 0 && r->slot == slot && r->nslots == nslots)
				{
					found = r;
					break;
				}
			}
			if (found && reader_alive(found))
			{
				found->wanted = true;
				continue;
			}
			if (found)
			{
				/* it exited: start it again, but not in a tight loop */
				if (!TimestampDifferenceExceeds(found->started_at, now, 1000))
				{
					found->wanted = true;
					continue;
				}
				launched = list_delete_ptr(launched, found);
				pfree(found->handle);
				pfree(found);
			}
			found = start_reader(name, slot, nslots);
			if (found)
				found->wanted = true;
		}
	}

	/* readers of paused or dropped pipelines, or of an old reader count */
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
audit_fdw_pump_launcher_main(Datum arg)
{
	MemoryContext pass_cxt;
	char	   *connected_to;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(pump_database, NULL, 0);
	pump_pin_search_path();
	connected_to = MemoryContextStrdup(TopMemoryContext, pump_database);
	pgstat_report_appname("audit_fdw pump launcher");

	pass_cxt = AllocSetContextCreate(TopMemoryContext, "audit_fdw pump launcher",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (strcmp(pump_database, connected_to) != 0)
			{
				/* the postmaster starts the launcher again, in the new database */
				ereport(LOG,
						(errmsg("audit_fdw pump launcher restarts: audit_fdw.database changed to \"%s\"",
								pump_database)));
				proc_exit(1);
			}
		}

		MemoryContextReset(pass_cxt);
		old = MemoryContextSwitchTo(pass_cxt);
		launcher_pass();
		MemoryContextSwitchTo(old);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 pump_naptime_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
