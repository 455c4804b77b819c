/*-------------------------------------------------------------------------
 *
 * worker.c
 *		A reader worker of one pipeline: the main loop.
 *
 * Before anything else the reader waits for its slot's lease (lease.c): a
 * reader of the same slot left behind by a restart finishes first.
 *
 * Each pass of the loop (in a memory context reset every pass):
 *	- once a second, and at once when the supervisor signals (SIGUSR2) that
 *	  the rows of the reader's shards changed, re-reads the pipeline's row
 *	  (paused, dropped or made again: exit; the supervisor starts the
 *	  readers again on resume) and the pipeline's shard rows
 *	  (lineage_sync; the discoverer without a shard to read only when
 *	  told, and after each discovery); exits when the supervisor that
 *	  started it is gone (its successor's readers take over), and, but for
 *	  the discoverer, when no shard of its own is left to read (drained,
 *	  retired, or none yet);
 *	- reads a shard only while it holds the shard's lease;
 *	- the discoverer (the reader of the lowest slot a shard not drained
 *	  hashes to, reader 0 when there is none) discovers shards every
 *	  audit_fdw.pump_discovery_interval, and any reader as soon as a shard
 *	  of its own was drained (lineage_discover);
 *	- polls each shard it owns whose parent is drained and whose poll time
 *	  has come, and delivers what is due (batch full, batching window over,
 *	  shard at its end);
 *	- then waits on its latch until the next poll time, or not at all when
 *	  a shard returned records (a busy shard is read without sleeping).
 *
 * An ERROR in a pass is logged and noted in the pipeline's row; the pass's
 * in-memory state (iterators, undelivered records) is dropped, since the
 * checkpoint table alone says where to resume, and the loop goes on after a
 * backoff.  SIGTERM ends the worker at the next interrupt check; records not
 * yet checkpointed are read again by the next worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "aws/bigalloc.h"
#include "pump/pump.h"

static long worker_pass(PumpWorker *w);
static void worker_refresh(PumpWorker *w, bool told);
static bool worker_has_open_shard(PumpWorker *w);
static void worker_forget_state(PumpWorker *w);
static void worker_count_client_retries(PumpWorker *w);
static void worker_note_pipeline_error(PumpWorker *w, ErrorData *edata);
static void worker_catalog_changed(Datum arg, int cacheid, uint32 hashvalue);

/* set when a foreign server or user mapping changed: a new AWS client */
static volatile bool catalog_changed = false;

/* set by SIGUSR2: the supervisor saw this reader's shard rows change */
static volatile sig_atomic_t shards_changed = false;

static void
worker_shards_changed(SIGNAL_ARGS)
{
	int			save_errno = errno;

	shards_changed = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

static void
worker_catalog_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	catalog_changed = true;
}

/* A changed server or user mapping sets catalog_changed: a new client. */
void
pump_watch_catalog(void)
{
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, worker_catalog_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, worker_catalog_changed, (Datum) 0);
}

/* Waits ms milliseconds (or until the latch is set); interruptible. */
void
pump_wait(int ms)
{
	if (ms <= 0)
		return;
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/*
 * Commits the transaction and goes back to caller, the memory context of
 * the code that started it: a transaction leaves CurrentMemoryContext at
 * TopMemoryContext, where whatever the caller allocates next would stay for
 * the life of a process that runs for months.
 */
void
pump_commit(MemoryContext caller)
{
	CommitTransactionCommand();
	MemoryContextSwitchTo(caller);
}

/* The reader slot (of nslots) that reads this shard. */
int
pump_shard_slot(const char *shard_id, int nslots)
{
	uint32		h = hash_bytes((const unsigned char *) shard_id, strlen(shard_id));

	return (int) (h % (uint32) nslots);
}

/*
 * The slot whose reader discovers shards, given the slots a shard row not
 * drained hashes to (has_shard): the lowest of them, or 0 when there is
 * none.  That reader runs in any case (supervisor.c), so no other reader
 * need run for discovery alone.
 */
int
pump_discoverer_slot(const bool *has_shard, int nslots)
{
	for (int slot = 0; slot < nslots; slot++)
	{
		if (has_shard[slot])
			return slot;
	}
	return 0;
}

/* Does this reader read this shard? */
bool
pump_owns_shard(PumpWorker *w, const char *shard_id)
{
	return pump_shard_slot(shard_id, w->args.nslots) == w->args.slot;
}

/*
 * Re-reads the pipeline row (shared by the readers and the backfill's
 * workers); exits when the supervisor is gone, or the pipeline is paused,
 * dropped or made again; a new AWS client when the server, its owner or
 * their options changed.
 */
void
pump_refresh_pipeline(PumpWorker *w)
{
	PipelineConfig *config;

	if (!lease_parent_alive())
	{
		/* top of the pass: whatever this reader sent is checkpointed */
		ereport(LOG,
				(errmsg("audit_fdw pump: pipeline \"%s\" %s %d exits: its supervisor is gone",
						w->args.pipeline, w->kind, w->args.slot + 1)));
		proc_exit(0);
	}
	/*
	 * Read into a context of its own, which takes the place of the previous
	 * reading's: once a second for a worker's whole life.  Reset first, for
	 * a reading an error cut short.
	 */
	if (w->next_config_cxt == NULL)
		w->next_config_cxt = AllocSetContextCreate(w->cxt, "audit_fdw pump pipeline row",
												   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(w->next_config_cxt);
	config = checkpoint_read_pipeline(w->args.pipeline, w->next_config_cxt);
	if (config == NULL || !config->running)
	{
		ereport(DEBUG1,
				(errmsg("audit_fdw pump: pipeline \"%s\" is %s, reader exits",
						w->args.pipeline, config ? "paused" : "dropped")));
		proc_exit(0);
	}
	if (w->config != NULL && w->config->generation != config->generation)
	{
		/* paused and resumed (however quickly): a new reader starts */
		ereport(DEBUG1,
				(errmsg("audit_fdw pump: pipeline \"%s\" was paused or resumed, reader exits",
						w->args.pipeline)));
		proc_exit(0);
	}
	if (w->config != NULL && w->config->created_at != config->created_at)
	{
		ereport(DEBUG1,
				(errmsg("audit_fdw pump: pipeline \"%s\" was made again, reader exits",
						w->args.pipeline)));
		proc_exit(0);
	}
	if (w->config == NULL)
	{
		/* a health the previous reader left is cleared by the next success */
		w->health.health = config->health;
		w->health.first_error = GetCurrentTimestamp();
		/* the pipeline's attribute folders (made with it, never changed) */
		if (!audit_transform_set_folders(config->folder_attribute,
										 (const char *const *) config->folder_values,
										 config->nfolder_values))
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
	}
	/*
	 * The server or its owner changed, or ALTER SERVER / USER MAPPING (the
	 * invalidation arrives with the transaction that read the row): a new
	 * client, with the new options and credentials.
	 */
	if (w->config == NULL || strcmp(w->config->server_name, config->server_name) != 0 ||
		w->config->owner != config->owner || catalog_changed)
	{
		if (w->config != NULL && catalog_changed)
			ereport(LOG,
					(errmsg("audit_fdw pump: pipeline \"%s\" %s %d uses the changed server options and user mapping",
							w->args.pipeline, w->kind, w->args.slot + 1)));
		catalog_changed = false;
		aws_client_free(w->client);
		w->client = NULL;
	}
	w->config = config;
	{
		MemoryContext previous = w->config_cxt;

		w->config_cxt = w->next_config_cxt;
		w->next_config_cxt = previous;
		if (previous != NULL)
			MemoryContextReset(previous);
	}
}

/* Does the reader own a shard not drained (one to read, or stopped)? */
static bool
worker_has_open_shard(PumpWorker *w)
{
	ListCell   *lc;

	foreach(lc, w->shards)
	{
		if (((ShardReader *) lfirst(lc))->state != SHARD_DRAINED)
			return true;
	}
	return false;
}

/*
 * Re-reads the pipeline row and its shards; exits when the reader count
 * changed (the supervisor starts the new set), and, but for the discoverer,
 * when no shard of its own is left to read: none is pending then, and the
 * supervisor starts it again when one comes.  The discoverer without a
 * shard to read (there is none then) learns of a new one from its own
 * discoveries and from the supervisor (told: its SIGUSR2 came), so it does
 * not read the shard rows every second meanwhile.
 */
static void
worker_refresh(PumpWorker *w, bool told)
{
	if (w->args.nslots != pump_readers)
	{
		ereport(LOG,
				(errmsg("audit_fdw pump: pipeline \"%s\" %s %d exits: audit_fdw.pump_readers changed",
						w->args.pipeline, w->kind, w->args.slot + 1)));
		proc_exit(0);
	}
	pump_refresh_pipeline(w);
	if (w->discoverer && !told && w->all_states != NIL &&
		!worker_has_open_shard(w))
		return;
	lineage_sync(w);
	if (w->discoverer || worker_has_open_shard(w))
		return;
	ereport(DEBUG1,
			(errmsg("audit_fdw pump: pipeline \"%s\" %s %d exits: no shard of its own is left to read",
					w->args.pipeline, w->kind, w->args.slot + 1)));
	proc_exit(0);
}

/* The AWS client of the pipeline's server and owner's user mapping. */
void
pump_connect_aws(PumpWorker *w)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext old;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	old = MemoryContextSwitchTo(w->cxt);
	{
		ForeignServer *server = GetForeignServerByName(w->config->server_name, false);

		w->client = aws_client_for_server(server->serverid, w->config->owner);
		w->client->on_retry = health_note_client_retry;
		w->client->on_retry_arg = w;
	}
	MemoryContextSwitchTo(old);
	pump_commit(caller);
}

/*
 * Between two attempts of a call that keeps failing: a changed server or
 * user mapping (credential rotation, a new endpoint) is taken now, not at
 * the next pass, which a batch resent until Firehose accepts it would never
 * reach.  So a revoked key is not retried forever, and the records still
 * pending go out once, with the new client.
 */
void
pump_take_catalog_changes(PumpWorker *w)
{
	MemoryContext caller = CurrentMemoryContext;

	if (IsTransactionState())
		return;					/* the pass takes it, between transactions */
	StartTransactionCommand();	/* processes the invalidation messages */
	pump_commit(caller);
	if (!catalog_changed)
		return;
	catalog_changed = false;
	ereport(LOG,
			(errmsg("audit_fdw pump: pipeline \"%s\" %s %d uses the changed server options and user mapping",
					w->args.pipeline, w->kind, w->args.slot + 1)));
	aws_client_free(w->client);
	w->client = NULL;
	pump_connect_aws(w);
}

/*
 * The attempts the AWS client retried during the pass, to pump_error.  A
 * failure to write them is logged and they are dropped: counting must not
 * stop the pump.
 */
static void
worker_count_client_retries(PumpWorker *w)
{
	MemoryContext caller = CurrentMemoryContext;

	PG_TRY();
	{
		health_count_client_retries(w);
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		MemoryContextSwitchTo(caller);
		list_free_deep(w->client_retries);
		w->client_retries = NIL;
	}
	PG_END_TRY();
}

/* After an ERROR: forget what only memory knew, resume from checkpoints. */
static void
worker_forget_state(PumpWorker *w)
{
	ListCell   *lc;

	foreach(lc, w->shards)
		shard_reset((ShardReader *) lfirst(lc));
	w->next_refresh = 0;
	w->discover_now = true;
}

/*
 * An ERROR of a pass, to the pipeline's health: an AWS error by its
 * operation and code (aws_raise's message says "aws <service> <operation>
 * failed: <code>"), any other by its SQLSTATE.
 */
static void
worker_note_pipeline_error(PumpWorker *w, ErrorData *edata)
{
	MemoryContext caller = CurrentMemoryContext;
	char		service[64],
				operation[64],
				code[128];
	char	   *message = edata->detail ?
		psprintf("%s: %s", edata->message, edata->detail) : edata->message;
	bool		transient = edata->sqlerrcode == ERRCODE_INSUFFICIENT_RESOURCES ||
		edata->sqlerrcode == ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;

	if (sscanf(edata->message, "aws %63s %63s failed: %127s", service, operation, code) != 3)
	{
		strlcpy(operation, "pump", sizeof(operation));
		strlcpy(code, unpack_sql_state(edata->sqlerrcode), sizeof(code));
	}
	PG_TRY();
	{
		health_error(w, NULL, operation, code, message, transient);
	}
	PG_CATCH();
	{
		/* the error is in the log already; do not loop on a broken catalog */
		FlushErrorState();
		AbortOutOfAnyTransaction();
		MemoryContextSwitchTo(caller);
	}
	PG_END_TRY();
}

/* One pass over the shards; returns how long to sleep afterwards (ms). */
static long
worker_pass(PumpWorker *w)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz wake;
	bool		busy = false;
	ListCell   *lc;

	if (now >= w->next_refresh || shards_changed)
	{
		bool		changed = shards_changed;

		shards_changed = false;
		worker_refresh(w, changed);
		w->next_refresh = TimestampTzPlusMilliseconds(now, 1000);
	}
	if (w->client == NULL)
		pump_connect_aws(w);
	/*
	 * The discoverer discovers shards periodically; any reader does at once
	 * when it drained a shard (its children are then to be read).
	 */
	if (w->discover_now || (w->discoverer && now >= w->next_discovery))
	{
		w->discover_now = false;
		lineage_discover(w);
		lineage_sync(w);
		w->next_discovery = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														pump_discovery_interval_ms);
	}

	wake = w->next_refresh;
	if (w->discoverer && w->next_discovery < wake)
		wake = w->next_discovery;

	foreach(lc, w->shards)
	{
		ShardReader *shard = lfirst(lc);
		bool		poll_now;

		CHECK_FOR_INTERRUPTS();
		/* the AWS client's own retries from here on are this shard's */
		w->calling = shard;
		if (shard->state != SHARD_READING || !lineage_parent_done(w, shard))
			continue;

		now = GetCurrentTimestamp();
		if (!shard->leased)
		{
			if (!lineage_take_lease(w, shard))
			{
				/* another process reads it (or it is no longer to be read) */
				if (TimestampTzPlusMilliseconds(now, 500) < wake)
					wake = TimestampTzPlusMilliseconds(now, 500);
				continue;
			}
			if (!lineage_parent_done(w, shard))
				continue;
		}
		/*
		 * A batch due is delivered, after the call when the shard is to be
		 * called now: what the call reads goes with it (shard_poll delivers
		 * it; next_page_poll times a shard's calls to its batch's end).  A
		 * call that reads no page leaves the batch to the next pass, which
		 * comes at once: the batch's due time is this pass's wake.
		 */
		poll_now = shard->state == SHARD_READING && !shard->at_end && now >= shard->next_poll;
		if (shard->npending > 0 && !poll_now && delivery_due(w, shard, now))
			delivery_flush(w, shard);
		if (shard->state != SHARD_READING)
		{
			if (shard->state == SHARD_DRAINED)
				lineage_drop_lease(w, shard);
			continue;
		}
		if (shard->at_end)
		{
			/* everything read and delivered: the shard is retired */
			delivery_flush(w, shard);
			lineage_drop_lease(w, shard);
			w->discover_now = true;
			continue;
		}
		if (poll_now)
		{
			if (shard_poll(w, shard))
				busy = true;
			if (shard->at_end || shard->state != SHARD_READING)
			{
				busy = true;
				continue;
			}
		}
		if (shard->next_poll < wake)
			wake = shard->next_poll;
		if (shard->npending > 0)
		{
			TimestampTz due = TimestampTzPlusMilliseconds(shard->pending_since,
														  w->config->batching_window_ms);

			if (due < wake)
				wake = due;
		}
	}
	w->calling = NULL;
	checkpoint_report_polls(w);

	if (busy || w->discover_now)
		return 0;
	now = GetCurrentTimestamp();
	return wake > now ? (long) ((wake - now + 999) / 1000) : 0;
}

/*
 * The start shared by the pump's background workers (the readers, and a
 * backfill's workers in snapshot.c): signals; the worker's state, size
 * bytes that begin with a PumpWorker; its database; commits made durable
 * (a checkpoint that a crash takes back means records sent again); the
 * pinned search_path; the watch on servers and user mappings.
 */
PumpWorker *
pump_worker_start(size_t size, const char *kind)
{
	PumpWorker *w;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	pqsignal(SIGUSR2, worker_shards_changed);
	BackgroundWorkerUnblockSignals();

	w = MemoryContextAllocZero(TopMemoryContext, size);
	memcpy(&w->args, MyBgworkerEntry->bgw_extra, sizeof(PumpWorkerArgs));
	w->args.pipeline[sizeof(w->args.pipeline) - 1] = '\0';
	w->kind = kind;
	w->cxt = AllocSetContextCreate(TopMemoryContext, "audit_fdw pump worker",
								   ALLOCSET_DEFAULT_SIZES);
	/* its HTTP and record buffers grow to megabytes: in huge pages */
	bigalloc_enable(true);

	BackgroundWorkerInitializeConnectionByOid(w->args.database, InvalidOid, 0);
	pgstat_report_appname(MyBgworkerEntry->bgw_name);
	SetConfigOption("synchronous_commit", "on", PGC_SUSET, PGC_S_OVERRIDE);
	pump_pin_search_path();
	pump_watch_catalog();
	return w;
}

/*
 * The loop shared by the pump's workers: pass() in a memory context reset
 * every pass, returning how long to wait after it.  An ERROR is logged as
 * the error it is, failed() forgets what only memory knew and notes it,
 * and the loop goes on after a backoff (1 s doubling to 30 s).  The
 * attempts the AWS client retried by itself are counted after each pass.
 */
void
pump_worker_loop(PumpWorker *w, long (*pass) (PumpWorker *w),
				 void (*failed) (PumpWorker *w, ErrorData *edata))
{
	MemoryContext pass_cxt = AllocSetContextCreate(TopMemoryContext, "audit_fdw pump pass",
												   ALLOCSET_DEFAULT_SIZES);
	volatile int error_backoff_ms = 0;

	for (;;)
	{
		volatile long wait_ms = 0;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		MemoryContextReset(pass_cxt);
		old = MemoryContextSwitchTo(pass_cxt);
		w->calling = NULL;
		PG_TRY();
		{
			wait_ms = pass(w);
			error_backoff_ms = 0;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(pass_cxt);
			edata = CopyErrorData();
			/* to the log, as the error it is, then carry on */
			EmitErrorReport();
			FlushErrorState();
			AbortOutOfAnyTransaction();
			MemoryContextSwitchTo(pass_cxt);
			failed(w, edata);
			error_backoff_ms = error_backoff_ms ? Min(error_backoff_ms * 2, 30000) : 1000;
			wait_ms = error_backoff_ms;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(old);
		worker_count_client_retries(w);

		if (wait_ms > 0)
			pump_wait((int) wait_ms);
	}
}

/* A reader's pass: the pipeline's own health is ok once it went through. */
static long
reader_pass(PumpWorker *w)
{
	long		wait_ms = worker_pass(w);

	health_ok(w, NULL);
	return wait_ms;
}

static void
reader_failed(PumpWorker *w, ErrorData *edata)
{
	worker_forget_state(w);
	worker_note_pipeline_error(w, edata);
}

void
audit_fdw_pump_worker_main(Datum arg)
{
	PumpWorker *w = pump_worker_start(sizeof(PumpWorker), "reader");

	w->discover_now = (w->args.slot == 0);
	lease_wait(PUMP_LEASE_SLOT, w->args.pipeline,
			   ((uint32) w->args.nslots << 16) | (uint32) w->args.slot,
			   "the previous reader of this slot to exit");
	pump_worker_loop(w, reader_pass, reader_failed);
}
