/*-------------------------------------------------------------------------
 *
 * backfill.c
 *		The SQL functions that start, cancel and resume a backfill: a
 *		snapshot of a pipeline's source table written as SNAPSHOT records
 *		(the workers that read it are in snapshot.c).
 *
 * Rules:
 *	- the pipeline's owner, a member of the owning role or a superuser may
 *	  start, cancel or resume its backfill (as for pause and resume);
 *	- one backfill runs at a time per pipeline (a unique index says so);
 *	  a new one is refused while one runs, with a hint;
 *	- a backfill row and one row per segment are written in one statement
 *	  (backfill_insert_sql), which the pump's trimmed-gap policy
 *	  'snapshot' runs too; the supervisor starts the workers at its next
 *	  pass;
 *	- cancel keeps every segment's checkpoint; resume goes on from them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
/* utils/builtins.h declares a json_object() that json-c's typedef clashes with */
#define json_object pg_json_object_fn
#include "utils/builtins.h"
#undef json_object

#include "pump/pump.h"

PG_FUNCTION_INFO_V1(audit_fdw_backfill);
PG_FUNCTION_INFO_V1(audit_fdw_cancel_backfill);
PG_FUNCTION_INFO_V1(audit_fdw_resume_backfill);

/* DynamoDB takes up to 1,000,000 segments; a row each is kept here */
#define BACKFILL_MAX_SEGMENTS 1000

/*
 * $1 pipeline, $2 segments, $3 workers, $4 read rate (NULL: from the
 * table's capacity), $5 capacity share, $6 reason, $7 requested by.
 */
const char *const backfill_insert_sql =
"WITH b AS (INSERT INTO audit_fdw.backfill (pipeline, total_segments, workers, read_rate, "
"capacity_share, reason, requested_by) VALUES ($1, $2, $3, $4, $5, $6, $7) "
"RETURNING id, total_segments), "
"s AS (INSERT INTO audit_fdw.backfill_segment (backfill, segment) "
"SELECT b.id, g FROM b, pg_catalog.generate_series(0, b.total_segments OPERATOR(pg_catalog.-) 1) g) "
"SELECT id FROM b";

Oid			backfill_insert_types[7] = {TEXTOID, INT4OID, INT4OID, FLOAT8OID, FLOAT8OID,
	TEXTOID, OIDOID};

/* The id of the pipeline's running backfill, or 0. */
static int64
running_backfill(const char *pipeline)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	Datum		id = (Datum) 0;

	values[0] = CStringGetTextDatum(pipeline);
	if (run_privileged_first("SELECT id FROM audit_fdw.backfill "
							 "WHERE pipeline = $1 AND state = 'running'",
							 1, types, values, NULL, &id) == 0)
		return 0;
	return DatumGetInt64(id);
}

/* backfill(pipeline, segments, read_rate, capacity_share) -> its id */
Datum
audit_fdw_backfill(PG_FUNCTION_ARGS)
{
	char	   *pipeline;
	int32		segments = PG_ARGISNULL(1) ? 4 : PG_GETARG_INT32(1);
	double		share = PG_ARGISNULL(3) ? 0.5 : PG_GETARG_FLOAT8(3);
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Datum		id = (Datum) 0;
	int64		running;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline must not be null")));
	pipeline = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (segments < 1 || segments > BACKFILL_MAX_SEGMENTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("segments must be between 1 and %d", BACKFILL_MAX_SEGMENTS),
				 errdetail("segments was %d.", segments),
				 errhint("A segment is a part of DynamoDB's parallel Scan; audit_fdw.backfill_workers workers read them.")));
	if (!PG_ARGISNULL(2) &&
		!(PG_GETARG_FLOAT8(2) > 0 && isfinite(PG_GETARG_FLOAT8(2))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("read_rate must be a positive number of read capacity units a second"),
				 errhint("Leave it NULL to take capacity_share of a provisioned table's read capacity.")));
	if (!(share > 0 && share <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("capacity_share must be above 0 and at most 1"),
				 errdetail("capacity_share was %g.", share)));
	require_pipeline_owner(pipeline, false);
	if ((running = running_backfill(pipeline)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("pipeline \"%s\" has a backfill running", pipeline),
				 errdetail("Backfill %lld has not finished.", (long long) running),
				 errhint("See audit_fdw.backfill_status; SELECT audit_fdw.cancel_backfill('%s') stops it.",
						 pipeline)));

	values[0] = CStringGetTextDatum(pipeline);
	values[1] = Int32GetDatum(segments);
	values[2] = Int32GetDatum(Min(segments, backfill_workers));
	values[3] = PG_ARGISNULL(2) ? (Datum) 0 : Float8GetDatum(PG_GETARG_FLOAT8(2));
	nulls[3] = PG_ARGISNULL(2) ? 'n' : ' ';
	values[4] = Float8GetDatum(share);
	values[5] = CStringGetTextDatum("requested");
	values[6] = ObjectIdGetDatum(GetUserId());
	run_privileged_first(backfill_insert_sql, 7, backfill_insert_types, values, nulls, &id);
	PG_RETURN_INT64(DatumGetInt64(id));
}

/*
 * Moves the pipeline's backfill from state `from` to `to` (cancel: the
 * running one; resume: the last one, when cancelled); its id.
 */
static int64
move_backfill(const char *pipeline, const char *from, const char *to, const char *what)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	Datum		id = (Datum) 0;

	require_pipeline_owner(pipeline, false);
	values[0] = CStringGetTextDatum(pipeline);
	values[1] = CStringGetTextDatum(from);
	values[2] = CStringGetTextDatum(to);
	if (run_privileged_first("UPDATE audit_fdw.backfill SET state = $3, last_error = NULL, "
							 "last_error_at = NULL "
							 "WHERE id = (SELECT pg_catalog.max(id) FROM audit_fdw.backfill "
							 "WHERE pipeline = $1) AND state = $2 RETURNING id",
							 3, types, values, NULL, &id) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pipeline \"%s\" has no %s backfill to %s", pipeline, from, what),
				 errhint("See audit_fdw.backfill_status; audit_fdw.backfill('%s') starts one.",
						 pipeline)));
	return DatumGetInt64(id);
}

/* cancel_backfill(pipeline): the workers stop; the checkpoints stay. */
Datum
audit_fdw_cancel_backfill(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(move_backfill(text_to_cstring(PG_GETARG_TEXT_PP(0)),
								  "running", "cancelled", "cancel"));
}

/* resume_backfill(pipeline): the last cancelled backfill goes on. */
Datum
audit_fdw_resume_backfill(PG_FUNCTION_ARGS)
{
	char	   *pipeline = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		running = running_backfill(pipeline);

	if (running != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("pipeline \"%s\" has a backfill running", pipeline),
				 errdetail("Backfill %lld has not finished.", (long long) running)));
	PG_RETURN_INT64(move_backfill(pipeline, "cancelled", "running", "resume"));
}
