/*-------------------------------------------------------------------------
 *
 * launcher.c
 *		The pump's GUCs and its launcher: a static background worker that
 *		keeps one supervisor running in the database audit_fdw.database
 *		names (supervisor.c).
 *
 * Rules:
 *	- registered only while shared_preload_libraries is processed; without
 *	  it, pipelines can be created but nothing pumps them (create_pipeline
 *	  says so); it starts once recovery has finished, so a standby never
 *	  runs the pump;
 *	- it connects to no database (it reads only pg_database), so a wrong
 *	  audit_fdw.database is no FATAL: it is reported once per value, at
 *	  WARNING, and looked up again with a backoff up to a minute, and at
 *	  once after a reload;
 *	- a supervisor that exits is started again, at most once a second at
 *	  first and up to once a minute while it keeps failing; after a new
 *	  audit_fdw.database the old one exits by itself (or is terminated 10 s
 *	  later) before one starts in the new database;
 *	- SIGHUP reloads the configuration; SIGTERM ends the launcher, and the
 *	  postmaster restarts it after a crash; the supervisor it leaves behind
 *	  sees it gone and hands over to the next one (lease.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
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

char	   *pump_database = NULL;
int			pump_readers = 2;
int			pump_naptime_ms = 1000;
int			pump_idle_max_ms = 1000;
int			pump_discovery_interval_ms = 10000;
int			backfill_workers = 4;

/* set in the postmaster when the library is preloaded; backends inherit it */
bool		pump_launcher_registered = false;

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
							"Each runs only while a shard not drained hashes to it; the lowest of them (the first when there is none) discovers new shards.",
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

	DefineCustomIntVariable("audit_fdw.backfill_workers",
							"Workers a new backfill reads its Scan segments with (at most one a segment).",
							"A backfill keeps the count it started with.",
							&backfill_workers,
							4, 1, 64,
							PGC_SIGHUP,
							0,
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


#define LAUNCHER_BACKOFF_MIN_MS 1000
#define LAUNCHER_BACKOFF_MAX_MS 60000
/* how long a supervisor of the previous audit_fdw.database may take to exit */
#define RETIRE_WAIT_MS 10000

static Oid	lookup_database(const char *name);
static BackgroundWorkerHandle *start_supervisor(Oid database);
static bool supervisor_alive(BackgroundWorkerHandle *handle);

/* The database's OID, or InvalidOid when there is none of that name. */
static Oid
lookup_database(const char *name)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			oid;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	oid = get_database_oid(name, true);
	pump_commit(caller);
	return oid;
}

static bool
supervisor_alive(BackgroundWorkerHandle *handle)
{
	pid_t		pid;
	BgwHandleStatus status = GetBackgroundWorkerPid(handle, &pid);

	return status == BGWH_STARTED || status == BGWH_NOT_YET_STARTED;
}

static BackgroundWorkerHandle *
start_supervisor(Oid database)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	MemoryContext old;
	bool		ok;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "audit_fdw");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "audit_fdw_pump_supervisor_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "audit_fdw pump supervisor");
	snprintf(worker.bgw_type, BGW_MAXLEN, "audit_fdw pump supervisor");
	worker.bgw_main_arg = ObjectIdGetDatum(database);
	worker.bgw_notify_pid = MyProcPid;

	old = MemoryContextSwitchTo(TopMemoryContext);
	ok = RegisterDynamicBackgroundWorker(&worker, &handle);
	MemoryContextSwitchTo(old);
	if (!ok)
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the audit_fdw pump supervisor"),
				 errhint("Raise max_worker_processes (the pump uses one supervisor and "
						 "audit_fdw.pump_readers workers per pipeline).")));
		return NULL;
	}
	return handle;
}

void
audit_fdw_pump_launcher_main(Datum arg)
{
	BackgroundWorkerHandle *supervisor = NULL;
	Oid			supervised = InvalidOid;
	char	   *reported_missing = NULL;
	int			backoff_ms = 0;
	TimestampTz started_at = 0;
	TimestampTz restart_at = 0;
	TimestampTz retire_by = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* no database: pg_database is all it reads */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pump_pin_search_path();
	pgstat_report_appname("audit_fdw pump launcher");

	for (;;)
	{
		Oid			database;
		int			wait_ms = pump_naptime_ms;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			/* a reload may have fixed what failed */
			backoff_ms = 0;
			restart_at = 0;
		}

		database = lookup_database(pump_database);
		now = GetCurrentTimestamp();
		/* back to the supervised database before the old one left: no retirement */
		if (!supervisor || database == supervised)
			retire_by = 0;
		if (supervisor && database != supervised)
		{
			/*
			 * Another database now: the old supervisor goes first.  It sees
			 * the reload itself and exits at its next pass; terminated only
			 * when it has not after RETIRE_WAIT_MS.
			 */
			if (retire_by == 0)
				retire_by = TimestampTzPlusMilliseconds(now, RETIRE_WAIT_MS);
			if (supervisor_alive(supervisor))
			{
				if (now >= retire_by)
					TerminateBackgroundWorker(supervisor);
				wait_ms = 100;
				goto wait;
			}
			pfree(supervisor);
			supervisor = NULL;
			retire_by = 0;
		}
		else if (supervisor && !supervisor_alive(supervisor))
		{
			/* it exited by itself: start it again, backing off while it keeps failing */
			pfree(supervisor);
			supervisor = NULL;
			if (TimestampDifferenceExceeds(started_at, now, LAUNCHER_BACKOFF_MAX_MS))
				backoff_ms = LAUNCHER_BACKOFF_MIN_MS;
			else
				backoff_ms = backoff_ms ? Min(backoff_ms * 2, LAUNCHER_BACKOFF_MAX_MS) :
					LAUNCHER_BACKOFF_MIN_MS;
			restart_at = TimestampTzPlusMilliseconds(now, backoff_ms);
		}

		if (!OidIsValid(database))
		{
			if (reported_missing == NULL || strcmp(reported_missing, pump_database) != 0)
			{
				ereport(WARNING,
						(errcode(ERRCODE_UNDEFINED_DATABASE),
						 errmsg("audit_fdw.database names database \"%s\", which does not exist",
								pump_database),
						 errdetail("No pipeline runs until it does."),
						 errhint("Set audit_fdw.database to the database where CREATE EXTENSION audit_fdw was run, and reload the configuration.")));
				if (reported_missing)
					pfree(reported_missing);
				reported_missing = MemoryContextStrdup(TopMemoryContext, pump_database);
			}
			backoff_ms = backoff_ms ? Min(backoff_ms * 2, LAUNCHER_BACKOFF_MAX_MS) :
				LAUNCHER_BACKOFF_MIN_MS;
			wait_ms = backoff_ms;
		}
		else
		{
			if (reported_missing)
			{
				ereport(LOG,
						(errmsg("audit_fdw.database names database \"%s\", which exists now",
								pump_database)));
				pfree(reported_missing);
				reported_missing = NULL;
			}
			if (supervisor == NULL && now >= restart_at)
			{
				supervisor = start_supervisor(database);
				supervised = database;
				started_at = now;
			}
		}

wait:
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
