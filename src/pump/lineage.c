/*-------------------------------------------------------------------------
 *
 * lineage.c
 *		The shard DAG of a pipeline's stream.
 *
 * DescribeStream (paged to its end) lists the shards with their parents;
 * create_pipeline writes those it lists then, and the discoverer (see
 * pump_discoverer_slot in worker.c) every shard it sees later, to
 * audit_fdw.checkpoint, which is the DAG the readers share.  Rules:
 *	- a shard is read only once its parent is drained (its row says
 *	  'drained') or no longer known (gone from the stream: trimmed away);
 *	- a shard whose parent DescribeStream still reports open while the
 *	  child exists simply waits: the parent is read until GetRecords returns
 *	  no next iterator, whatever DescribeStream says;
 *	- a child is read from TRIM_HORIZON; a shard open when the pipeline
 *	  started ("initial") from the pipeline's starting position;
 *	- a drained shard that DescribeStream no longer lists is retired (its
 *	  row deleted);
 *	- a reader learns of its shards from the table (lineage_sync), so
 *	  every reader sees the same DAG.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "aws/dynamodbstreams.h"
#include "pump/pump.h"

static void *find_by_shard_id(List *list, const char *shard_id);
static ShardRow *find_row(List *rows, const char *shard_id);
static ShardReader *find_shard(List *shards, const char *shard_id);
static int	shard_id_cmp(const ListCell *a, const ListCell *b);

/*
 * DescribeStream, and to the checkpoint table what it does not hold yet as
 * this reader last read it (lineage_sync): new shards, shards closed since,
 * drained shards no longer listed.  Nothing is written when nothing
 * changed; what changed meanwhile unseen is written again, which changes
 * nothing.  The shards of the first discovery, when the pipeline has no
 * shard rows (its stream had none when create_pipeline listed them; reader
 * 0 discovers then, after reading them), are its initial shards.  When a
 * row was added, changed or retired, the supervisor is woken: it starts the
 * reader of a new shard's slot, or wakes it, at once (supervisor.c).
 */
void
lineage_discover(PumpWorker *w)
{
	StreamDescription *desc;
	List	   *ids = NIL;
	List	   *changed = NIL;
	int			drained_listed = 0;
	int			drained = 0;
	bool		retire;
	ListCell   *lc;

	desc = ddbstreams_describe_stream(w->client, w->config->stream_arn);
	foreach(lc, desc->shards)
	{
		StreamShard *s = lfirst(lc);
		ShardRow   *row = find_row(w->all_states, s->shard_id);

		ids = lappend(ids, s->shard_id);
		if (row != NULL && row->state == SHARD_DRAINED)
			drained_listed++;
		if (row == NULL ||
			(s->ending_sequence_number == NULL) != (row->ending_sequence_number == NULL) ||
			(s->ending_sequence_number != NULL &&
			 strcmp(row->ending_sequence_number, s->ending_sequence_number) != 0))
			changed = lappend(changed, s);
	}
	/*
	 * A drained row is no longer listed when fewer drained rows were listed
	 * than there are (DescribeStream lists a shard once).
	 */
	foreach(lc, w->all_states)
	{
		if (((ShardRow *) lfirst(lc))->state == SHARD_DRAINED)
			drained++;
	}
	retire = drained_listed < drained;
	if ((changed != NIL || retire) &&
		checkpoint_register_shards(w->args.pipeline, changed, w->all_states == NIL, retire, ids))
		lease_wake_parent();
}

/*
 * The element of list whose shard id is shard_id, or NULL: list is of
 * ShardRow * (checkpoint_read_shards's, in strcmp's order of their shard
 * ids) or of ShardReader * (w->shards, kept in that order), both of which
 * start with their shard id.  By binary search: a stream of a table of many
 * partitions lists thousands of shards.
 */
static void *
find_by_shard_id(List *list, const char *shard_id)
{
	int			lo = 0,
				hi = list_length(list);

	StaticAssertStmt(offsetof(ShardRow, shard_id) == 0 && offsetof(ShardReader, shard_id) == 0,
					 "ShardRow and ShardReader start with their shard id");
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		void	   *elem = list_nth(list, mid);
		int			c = strcmp(*(char **) elem, shard_id);

		if (c == 0)
			return elem;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static ShardRow *
find_row(List *rows, const char *shard_id)
{
	return find_by_shard_id(rows, shard_id);
}

static ShardReader *
find_shard(List *shards, const char *shard_id)
{
	return find_by_shard_id(shards, shard_id);
}

static int
shard_id_cmp(const ListCell *a, const ListCell *b)
{
	return strcmp(((ShardReader *) lfirst(a))->shard_id, ((ShardReader *) lfirst(b))->shard_id);
}

/*
 * Reads the pipeline's shard rows: the DAG for lineage_parent_done, and the
 * shards this reader owns (new ones get a reader; a shard the user resumed
 * after a trimmed gap starts again; retired ones are dropped).
 */
void
lineage_sync(PumpWorker *w)
{
	List	   *rows;
	List	   *added = NIL;
	ListCell   *lc;
	MemoryContext old;

	/* the previous snapshot of the DAG goes with its context */
	rows = checkpoint_read_shards(w->args.pipeline, w->cxt);
	if (w->all_states)
	{
		foreach(lc, w->all_states)
		{
			ShardRow   *row = lfirst(lc);

			pfree(row->shard_id);
			if (row->parent_shard_id)
				pfree(row->parent_shard_id);
			if (row->sequence_number)
				pfree(row->sequence_number);
			if (row->sent_sequence_number)
				pfree(row->sent_sequence_number);
			if (row->ending_sequence_number)
				pfree(row->ending_sequence_number);
			pfree(row);
		}
		list_free(w->all_states);
	}
	w->all_states = rows;

	old = MemoryContextSwitchTo(w->cxt);
	foreach(lc, w->shards)
	{
		ShardReader *shard = lfirst(lc);
		ShardRow   *row = find_row(rows, shard->shard_id);

		if (row == NULL)
		{
			/* retired (or the pipeline was dropped and made again) */
			w->shards = foreach_delete_current(w->shards, lc);
			lineage_drop_lease(w, shard);
			shard_free(shard);
			continue;
		}
		if (shard->state == SHARD_STOPPED && row->state == SHARD_READING)
		{
			/* the user chose to go on after a trimmed gap */
			shard_reset(shard);
			if (shard->checkpoint)
				pfree(shard->checkpoint);
			shard->checkpoint = row->sequence_number ? pstrdup(row->sequence_number) : NULL;
			shard->initial = row->initial;
			shard->skip_gap = row->skip_gap;
			shard->state = SHARD_READING;
		}
		else if (row->state == SHARD_STOPPED && shard->state != SHARD_STOPPED)
		{
			shard_reset(shard);
			shard->state = SHARD_STOPPED;
		}
	}
	foreach(lc, rows)
	{
		ShardRow   *row = lfirst(lc);
		ShardReader *shard;

		if (!pump_owns_shard(w, row->shard_id) || find_shard(w->shards, row->shard_id) != NULL)
			continue;
		shard = palloc0(sizeof(ShardReader));
		shard->shard_id = pstrdup(row->shard_id);
		shard->parent_shard_id = row->parent_shard_id ? pstrdup(row->parent_shard_id) : NULL;
		shard->state = row->state;
		shard->initial = row->initial;
		shard->skip_gap = row->skip_gap;
		shard->checkpoint = row->sequence_number ? pstrdup(row->sequence_number) : NULL;
		shard->cxt = AllocSetContextCreate(w->cxt, "audit_fdw pump shard",
										   ALLOCSET_DEFAULT_SIZES);
		audit_buf_init(&shard->buf);
		added = lappend(added, shard);
	}
	if (added != NIL)
	{
		/* w->shards stays in shard id order, for find_shard */
		w->shards = list_concat(w->shards, added);
		list_sort(w->shards, shard_id_cmp);
		list_free(added);
	}
	MemoryContextSwitchTo(old);
	{
		bool	   *has_shard = palloc0(sizeof(bool) * w->args.nslots);

		foreach(lc, rows)
		{
			ShardRow   *row = lfirst(lc);

			if (row->state != SHARD_DRAINED)
				has_shard[pump_shard_slot(row->shard_id, w->args.nslots)] = true;
		}
		w->discoverer = pump_discoverer_slot(has_shard, w->args.nslots) == w->args.slot;
		pfree(has_shard);
	}
}

/* Is the shard's parent read to its end (or gone)? */
bool
lineage_parent_done(PumpWorker *w, ShardReader *shard)
{
	ShardRow   *parent;
	ShardReader *own;

	if (shard->parent_shard_id == NULL)
		return true;
	/* a parent this reader drained itself is known at once */
	own = find_shard(w->shards, shard->parent_shard_id);
	if (own != NULL)
		return own->state == SHARD_DRAINED;
	parent = find_row(w->all_states, shard->parent_shard_id);
	return parent == NULL || parent->state == SHARD_DRAINED;
}

/*
 * Takes the shard's lease before the shard is read (lease.c).  Whoever
 * held it before may have moved the checkpoint since this reader learned of
 * the shard: the shard starts again from its row as it is now.  False when
 * another process holds the lease (the shard is left alone meanwhile).
 */
bool
lineage_take_lease(PumpWorker *w, ShardReader *shard)
{
	ShardRow   *row;
	MemoryContext old;

	if (shard->leased)
		return true;
	if (!lease_try(PUMP_LEASE_SHARD, w->args.pipeline, lease_shard_key(shard->shard_id)))
		return false;
	shard->leased = true;

	row = checkpoint_read_shard(w->args.pipeline, shard->shard_id, CurrentMemoryContext);
	shard_reset(shard);
	if (row == NULL || row->state != SHARD_READING)
	{
		/* retired, drained or stopped meanwhile: lineage_sync catches up */
		if (row)
			shard->state = row->state;
		lineage_drop_lease(w, shard);
		return false;
	}
	old = MemoryContextSwitchTo(GetMemoryChunkContext(shard));
	if (shard->checkpoint)
		pfree(shard->checkpoint);
	shard->checkpoint = row->sequence_number ? pstrdup(row->sequence_number) : NULL;
	if (shard->sent)
		pfree(shard->sent);
	shard->sent = row->sent_sequence_number ? pstrdup(row->sent_sequence_number) : NULL;
	MemoryContextSwitchTo(old);
	shard->initial = row->initial;
	shard->skip_gap = row->skip_gap;
	/* a health the previous reader left is cleared by the next success */
	shard->health.health = row->health;
	shard->health.first_error = GetCurrentTimestamp();
	return true;
}

/* Gives the shard's lease up (the shard is drained or no longer this reader's). */
void
lineage_drop_lease(PumpWorker *w, ShardReader *shard)
{
	if (!shard->leased)
		return;
	lease_release(PUMP_LEASE_SHARD, w->args.pipeline, lease_shard_key(shard->shard_id));
	shard->leased = false;
}

/*
 * Before every PutRecordBatch and checkpoint: this reader still holds the
 * shard's lease, or it sends nothing more.
 */
void
lineage_check_lease(PumpWorker *w, ShardReader *shard)
{
	if (!shard->leased ||
		!lease_held(PUMP_LEASE_SHARD, w->args.pipeline, lease_shard_key(shard->shard_id)))
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("audit_fdw pump: pipeline \"%s\" reader %d does not hold the lease of shard \"%s\"",
						w->args.pipeline, w->args.slot + 1, shard->shard_id),
				 errdetail("Another process may be reading the shard; this reader sends nothing for it.")));
}
