/*-------------------------------------------------------------------------
 *
 * health.c
 *		Failures as states: the health of each shard a reader owns and of
 *		its pipeline (for errors that are no shard's), their counters, and
 *		what the log says about them.
 *
 * Rules:
 *	- health is ok, retrying (transient errors only: throttling, 5xx,
 *	  network) or failing (an error that retrying does not fix, such as a
 *	  missing stream or denied access, or transient errors for over a
 *	  minute); every call that fails is retried with a backoff whatever
 *	  the health;
 *	- every error is counted per operation, AWS error code and kind in
 *	  audit_fdw.pump_error, the failed attempts that the AWS client
 *	  retried by itself included;
 *	- a change of health is written to the row (health, since when, the
 *	  error) and logged once at WARNING with the AWS error code; further
 *	  errors of the same health are only counted;
 *	- recovery (the next call that succeeds) is logged and clears the error;
 *	- expected traffic (GetRecords throttled within a shard's limits) is
 *	  counted and changes nothing else.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pump/pump.h"

/* transient errors for this long make a shard failing */
#define HEALTH_FAILING_AFTER_MS 60000

static const char *const health_names[] = {"ok", "retrying", "failing"};

const char *
health_name(PumpHealth health)
{
	return health_names[health];
}

/*
 * Notes an error of operation on the shard (NULL: on the pipeline):
 * counted, and when the health changes, written and logged.
 */
void
health_error(PumpWorker *w, ShardReader *shard, const char *operation,
			 const char *code, const char *message, bool transient)
{
	PumpHealthState *hs = shard ? &shard->health : &w->health;
	TimestampTz now = GetCurrentTimestamp();
	PumpHealth	next;

	checkpoint_count_error(w->args.pipeline, shard ? shard->shard_id : "",
						   operation, code, transient, message, 1);

	if (hs->health == PUMP_HEALTH_OK)
		hs->first_error = now;
	if (!transient ||
		TimestampDifferenceExceeds(hs->first_error, now, HEALTH_FAILING_AFTER_MS))
		next = PUMP_HEALTH_FAILING;
	else
		next = hs->health == PUMP_HEALTH_FAILING ? PUMP_HEALTH_FAILING : PUMP_HEALTH_RETRYING;
	if (next == hs->health)
		return;

	ereport(WARNING,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("audit_fdw pipeline \"%s\"%s%s%s is %s: %s",
					w->args.pipeline,
					shard ? " shard \"" : "", shard ? shard->shard_id : "", shard ? "\"" : "",
					health_name(next), code),
			 errdetail_internal("%s", message),
			 next == PUMP_HEALTH_FAILING && !transient ?
			 errhint("The pump retries with a backoff; see audit_fdw.pipeline_status.last_error.") : 0));
	hs->health = next;
	checkpoint_set_health(w->args.pipeline, shard ? shard->shard_id : NULL,
						  health_name(next), message);
}

/*
 * The AWS client's observer of the attempts it retries by itself (arg is
 * the worker): kept in memory, for this runs inside an HTTP call, and
 * counted in audit_fdw.pump_error by health_count_client_retries() at the
 * end of the pass.  Only the attempts that failed and were retried come
 * here; the last one is the caller's, and counted as the caller's error.
 */
void
health_note_client_retry(void *arg, const AwsError *error)
{
	PumpWorker *w = arg;
	const char *shard_id = w->calling ? w->calling->shard_id : "";
	PumpRetryCount *rc = NULL;
	ListCell   *lc;
	MemoryContext old;

	foreach(lc, w->client_retries)
	{
		PumpRetryCount *c = lfirst(lc);

		if (strcmp(c->shard_id, shard_id) == 0 && strcmp(c->operation, error->operation) == 0 &&
			strcmp(c->code, error->code) == 0)
		{
			rc = c;
			break;
		}
	}
	old = MemoryContextSwitchTo(w->cxt);
	if (rc == NULL)
	{
		rc = palloc0(sizeof(PumpRetryCount));
		rc->shard_id = pstrdup(shard_id);
		rc->operation = pstrdup(error->operation);
		rc->code = pstrdup(error->code);
		w->client_retries = lappend(w->client_retries, rc);
	}
	if (rc->message)
		pfree(rc->message);
	rc->message = psprintf("aws %s %s failed: %s%s%s (attempt %d, retried)",
						   aws_service_name(error->service), error->operation, error->code,
						   error->message ? ": " : "", error->message ? error->message : "",
						   error->attempts);
	rc->count++;
	MemoryContextSwitchTo(old);
}

/*
 * Counts the attempts the AWS client retried by itself since the last
 * time, as kind retry; outside any transaction (between passes).
 */
void
health_count_client_retries(PumpWorker *w)
{
	ListCell   *lc;

	if (w->client_retries == NIL || IsTransactionState())
		return;

	foreach(lc, w->client_retries)
	{
		PumpRetryCount *rc = lfirst(lc);

		checkpoint_count_error(w->args.pipeline, rc->shard_id, rc->operation, rc->code, true,
							   rc->message, rc->count);
		pfree(rc->shard_id);
		pfree(rc->operation);
		pfree(rc->code);
		pfree(rc->message);
		pfree(rc);
	}
	list_free(w->client_retries);
	w->client_retries = NIL;
}

/* A call of the shard (NULL: of the pipeline) succeeded. */
void
health_ok(PumpWorker *w, ShardReader *shard)
{
	PumpHealthState *hs = shard ? &shard->health : &w->health;
	long		secs;
	int			usecs;

	if (hs->health == PUMP_HEALTH_OK)
		return;
	TimestampDifference(hs->first_error, GetCurrentTimestamp(), &secs, &usecs);
	ereport(LOG,
			(errmsg("audit_fdw pipeline \"%s\"%s%s%s recovered after %ld s %s",
					w->args.pipeline,
					shard ? " shard \"" : "", shard ? shard->shard_id : "", shard ? "\"" : "",
					secs, health_name(hs->health))));
	hs->health = PUMP_HEALTH_OK;
	checkpoint_set_health(w->args.pipeline, shard ? shard->shard_id : NULL, "ok", NULL);
}

/* An AWS error of the shard (NULL: of the pipeline). */
void
health_aws_error(PumpWorker *w, ShardReader *shard, AwsError *error)
{
	char	   *msg = psprintf("aws %s %s failed: %s%s%s%s%s",
							   aws_service_name(error->service), error->operation,
							   error->code, error->message ? ": " : "",
							   error->message ? error->message : "",
							   error->request_id ? " (request id " : "",
							   error->request_id ? psprintf("%s)", error->request_id) : "");

	health_error(w, shard, error->operation, error->code, msg, error->retryable);
}
