/*-------------------------------------------------------------------------
 *
 * delivery.c
 *		Delivering a shard's pending records to Firehose, then the
 *		checkpoint.
 *
 * Rules:
 *	- the pending records are split into rounds: a record's round is the
 *	  number of earlier pending records of the same item, so each round
 *	  holds distinct items and an item's records are in increasing rounds;
 *	- each round goes out in PutRecordBatch calls of at most the pipeline's
 *	  batch size (<= 500) and 4 MiB; a call's failed entries, and only
 *	  those, are resent with full-jitter exponential backoff until Firehose
 *	  accepts them; a round starts once the previous one is acknowledged in
 *	  full.  So a resent entry can never land after a later change of its
 *	  item, and with resending from the checkpoint after a crash, the first
 *	  occurrence of each change in S3 is in sequence-number order;
 *	- a call that fails as a whole (the core's retries spent) is retried
 *	  the same way; every failed call goes to health.c meanwhile, and a
 *	  server or user mapping changed meanwhile (a rotated key) is used from
 *	  the next attempt on;
 *	- before the first call, the shard's row notes the last sequence number
 *	  handed to Firehose and the time of the oldest record: records read
 *	  again after a restart up to that number are counted as resent, and
 *	  the lag grows while Firehose does not acknowledge;
 *	- only then the checkpoint moves to the last pending record, with the
 *	  counters and the dead letters, in one transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "aws/firehose.h"
#include "pump/pump.h"

#define RESEND_BASE_MS 100
#define RESEND_MAX_MS 10000

typedef struct ItemCount
{
	uint64		item;
	int			count;
} ItemCount;

static void assign_rounds(ShardReader *shard, int *maxround);
static void send_until_acknowledged(PumpWorker *w, ShardReader *shard, int *idx, int n);
static int	backoff_ms(int attempt);

/* Is it time to deliver the shard's pending records? */
bool
delivery_due(PumpWorker *w, ShardReader *shard, TimestampTz now)
{
	if (shard->npending == 0)
		return false;
	if (shard->at_end)
		return true;
	if (shard->npending >= w->config->batch_size ||
		shard->pending_bytes >= FIREHOSE_MAX_BATCH_BYTES)
		return true;
	return TimestampDifferenceExceeds(shard->pending_since, now,
									  w->config->batching_window_ms);
}

static void
assign_rounds(ShardReader *shard, int *maxround)
{
	HASHCTL		ctl;
	HTAB	   *items;
	int			i;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(ItemCount);
	ctl.hcxt = CurrentMemoryContext;
	items = hash_create("audit_fdw pump items", Max(shard->npending, 16), &ctl,
						HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	*maxround = 0;
	for (i = 0; i < shard->npending; i++)
	{
		PendingRecord *rec = &shard->pending[i];
		ItemCount  *ic;
		bool		found;

		if (rec->dead_reason)
			continue;
		ic = hash_search(items, &rec->item, HASH_ENTER, &found);
		if (!found)
			ic->count = 0;
		rec->round = ic->count++;
		if (rec->round > *maxround)
			*maxround = rec->round;
	}
	hash_destroy(items);
}

/* Full jitter: a random wait below base * 2^attempt, capped. */
static int
backoff_ms(int attempt)
{
	int64		cap = RESEND_BASE_MS;

	while (attempt-- > 0 && cap < RESEND_MAX_MS)
		cap *= 2;
	cap = Min(cap, RESEND_MAX_MS);
	return (int) (pg_prng_double(&pg_global_prng_state) * cap) + 1;
}

/*
 * Sends the records idx[0..n-1] (pending indexes, in sequence order) and
 * resends whatever Firehose did not accept, until everything is accepted.
 */
static void
send_until_acknowledged(PumpWorker *w, ShardReader *shard, int *idx, int n)
{
	char	  **data = palloc(sizeof(char *) * n);
	size_t	   *lens = palloc(sizeof(size_t) * n);
	int			attempt = 0;

	/*
	 * Each answer (a json-c tree, malloc'd, freed when its context is) lives
	 * in a context of its own, reset before the next call and deleted at
	 * the end, whatever context the caller runs in.
	 */
	MemoryContext batch_cxt = AllocSetContextCreate(CurrentMemoryContext,
													"audit_fdw pump batch",
													ALLOCSET_DEFAULT_SIZES);

	while (n > 0)
	{
		AwsError   *error = NULL;
		FirehoseBatchResult *res;
		int			i,
					nfailed = 0;
		const char *first_code = NULL;
		const char *first_msg = NULL;

		/* a rotated key or changed server is used from the next attempt on */
		if (attempt > 0)
			pump_take_catalog_changes(w);
		/* a reader without the shard's lease sends nothing */
		lineage_check_lease(w, shard);
		for (i = 0; i < n; i++)
		{
			data[i] = shard->buf.data + shard->pending[idx[i]].offset;
			lens[i] = shard->pending[idx[i]].len;
		}
		MemoryContextReset(batch_cxt);
		{
			MemoryContext old = MemoryContextSwitchTo(batch_cxt);

			res = firehose_put_record_batch(w->client, w->config->delivery_stream,
											data, lens, n, &error);
			MemoryContextSwitchTo(old);
		}
		if (res == NULL)
		{
			health_count_client_retries(w);
			health_aws_error(w, shard, error);
			pump_wait(backoff_ms(attempt++));
			continue;
		}
		for (i = 0; i < n; i++)
		{
			if (res->error_codes[i] == NULL)
				continue;
			if (first_code == NULL)
			{
				first_code = res->error_codes[i];
				first_msg = res->error_messages[i];
			}
			idx[nfailed++] = idx[i];
		}
		if (nfailed == 0)
			break;
		shard->retried += nfailed;
		health_error(w, shard, "PutRecordBatch", first_code,
					 psprintf("aws firehose PutRecordBatch: %d of %d records failed: %s%s%s",
							  nfailed, n, first_code, first_msg ? ": " : "",
							  first_msg ? first_msg : ""),
					 true);
		n = nfailed;
		pump_wait(backoff_ms(attempt++));
	}
	MemoryContextDelete(batch_cxt);
	pfree(data);
	pfree(lens);
}

/*
 * Sends every pending record of the shard (its dead letters aside) in
 * rounds, each round once the previous one was acknowledged in full.  The
 * stream's readers (delivery_flush) and the backfill's segments share it.
 */
void
delivery_send(PumpWorker *w, ShardReader *shard)
{
	int			maxround = 0;
	int			round;
	int		   *idx;

	if (shard->npending == 0)
		return;
	assign_rounds(shard, &maxround);
	idx = palloc(sizeof(int) * shard->npending);
	for (round = 0; round <= maxround; round++)
	{
		int			n = 0;
		size_t		bytes = 0;
		int			i;

		for (i = 0; i < shard->npending; i++)
		{
			PendingRecord *rec = &shard->pending[i];

			if (rec->dead_reason || rec->round != round)
				continue;
			if (n > 0 && (n >= w->config->batch_size ||
						  bytes + rec->len > FIREHOSE_MAX_BATCH_BYTES))
			{
				send_until_acknowledged(w, shard, idx, n);
				n = 0;
				bytes = 0;
			}
			idx[n++] = i;
			bytes += rec->len;
		}
		if (n > 0)
			send_until_acknowledged(w, shard, idx, n);
	}
	pfree(idx);
	health_ok(w, shard);
}

/*
 * Delivers every pending record of the shard, then writes the checkpoint
 * (and marks the shard drained when it was read to its end).
 */
void
delivery_flush(PumpWorker *w, ShardReader *shard)
{
	if (shard->npending > 0)
	{
		int			i;

		/* what was sent before (then not checkpointed) counts as resent */
		shard->resent = 0;
		for (i = 0; shard->sent && i < shard->npending; i++)
			if (!shard->pending[i].dead_reason &&
				sequence_number_cmp(shard->pending[i].sequence_number, shard->sent) <= 0)
				shard->resent++;
		checkpoint_mark_sent(w, shard);
		delivery_send(w, shard);
	}

	lineage_check_lease(w, shard);
	if (!checkpoint_advance(w, shard, shard->at_end))
	{
		/* the pipeline is gone: nothing to checkpoint into */
		w->next_refresh = 0;
	}
	if (shard->at_end)
		shard->state = SHARD_DRAINED;
	if (shard->npending > 0)
	{
		PendingRecord *last = &shard->pending[shard->npending - 1];
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(shard));

		if (shard->checkpoint)
			pfree(shard->checkpoint);
		shard->checkpoint = pstrdup(last->sequence_number);
		MemoryContextSwitchTo(old);
	}
	shard->npending = 0;
	shard->maxpending = 0;
	shard->pending = NULL;
	shard->pending_bytes = 0;
	shard->retried = 0;
	shard->resent = 0;
	shard->buf.len = 0;
	MemoryContextReset(shard->cxt);
}

/* Compares two sequence numbers (decimal digit strings) as numbers. */
int
sequence_number_cmp(const char *a, const char *b)
{
	size_t		la,
				lb;

	while (*a == '0' && a[1])
		a++;
	while (*b == '0' && b[1])
		b++;
	la = strlen(a);
	lb = strlen(b);
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b);
}
