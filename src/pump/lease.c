/*-------------------------------------------------------------------------
 *
 * lease.c
 *		Leases: which one process may supervise a database's pipelines, run
 *		a reader slot of a pipeline, or read a shard.
 *
 * The promise "every change once in steady state" needs at most one
 * process reading a shard, whatever restarts (the launcher or a reader
 * killed, a reload, pause and resume close together, the extension dropped
 * and made again).  Rules:
 *	- a lease is a session-level advisory lock in the pipeline's database,
 *	  in lock classes of the pump's own (locktag_field4 0xAF01..0xAF03,
 *	  beside the 1 and 2 of pg_advisory_lock, so no user lock collides);
 *	  it ends with the process that holds it, so a killed or crashed
 *	  process can never keep one, and pg_locks shows who holds what;
 *	- the supervisor lease (one per database) is taken by the supervisor
 *	  before it starts readers; the slot lease (pipeline, slot, slot count)
 *	  by a reader before it reads anything; the shard lease (pipeline,
 *	  shard) before a shard is polled, and it is checked again before every
 *	  PutRecordBatch and every checkpoint;
 *	- a process whose parent (the process that started it) is gone hands
 *	  over: it exits at the top of its loop, where every record it sent is
 *	  checkpointed, and its successor, waiting for the same lease, starts
 *	  from the checkpoints; nothing is sent twice;
 *	- keys are 32-bit hashes of the names; two shards of one pipeline with
 *	  the same hash are read one after the other, never at once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/procarray.h"

#include "pump/pump.h"

#define LEASE_RETRY_MS 200

static void lease_tag(LOCKTAG *tag, PumpLeaseKind kind, const char *name, uint32 key);

static void
lease_tag(LOCKTAG *tag, PumpLeaseKind kind, const char *name, uint32 key)
{
	uint32		h = name ? hash_bytes((const unsigned char *) name, strlen(name)) : 0;

	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, h, key, (uint16) kind);
}

/* Takes the lease if nobody holds it; true when this process holds it. */
bool
lease_try(PumpLeaseKind kind, const char *name, uint32 key)
{
	MemoryContext caller = CurrentMemoryContext;
	LOCKTAG		tag;
	LockAcquireResult res;

	lease_tag(&tag, kind, name, key);
	if (LockHeldByMe(&tag, ExclusiveLock))
		return true;
	StartTransactionCommand();
	res = LockAcquire(&tag, ExclusiveLock, true, true);
	pump_commit(caller);
	return res != LOCKACQUIRE_NOT_AVAIL;
}

/* Waits (interruptibly) until the lease is free, and takes it. */
void
lease_wait(PumpLeaseKind kind, const char *name, uint32 key, const char *what)
{
	bool		reported = false;

	while (!lease_try(kind, name, key))
	{
		if (!reported)
		{
			pgstat_report_activity(STATE_RUNNING, psprintf("waiting for %s", what));
			reported = true;
		}
		pump_wait(LEASE_RETRY_MS);
	}
	if (reported)
		pgstat_report_activity(STATE_IDLE, NULL);
}

bool
lease_held(PumpLeaseKind kind, const char *name, uint32 key)
{
	LOCKTAG		tag;

	lease_tag(&tag, kind, name, key);
	return LockHeldByMe(&tag, ExclusiveLock);
}

void
lease_release(PumpLeaseKind kind, const char *name, uint32 key)
{
	LOCKTAG		tag;

	lease_tag(&tag, kind, name, key);
	if (LockHeldByMe(&tag, ExclusiveLock))
		LockRelease(&tag, ExclusiveLock, true);
}

/* The key of a shard's lease. */
uint32
lease_shard_key(const char *shard_id)
{
	return hash_bytes((const unsigned char *) shard_id, strlen(shard_id));
}

/*
 * Is the process that started this one still there?  A dynamic worker
 * whose parent is gone was left behind by a restart: the parent's
 * successor starts a new one, which waits for this one's leases.
 */
bool
lease_parent_alive(void)
{
	pid_t		parent = MyBgworkerEntry ? MyBgworkerEntry->bgw_notify_pid : 0;

	if (parent == 0)
		return true;
	return BackendPidGetProc(parent) != NULL;
}

/*
 * Wakes the process that started this one (a reader's supervisor, at once
 * rather than at its next look): a latch, so a parent that is gone, or a
 * process that took its pid, is never sent a signal it does not expect.
 */
void
lease_wake_parent(void)
{
	pid_t		parent = MyBgworkerEntry ? MyBgworkerEntry->bgw_notify_pid : 0;
	PGPROC	   *proc = parent ? BackendPidGetProc(parent) : NULL;

	if (proc != NULL)
		SetLatch(&proc->procLatch);
}
