/*-------------------------------------------------------------------------
 *
 * athena.c
 *		Athena's query API: StartQueryExecution, GetQueryExecution,
 *		StopQueryExecution and GetQueryResults (AWS JSON 1.1, target
 *		AmazonAthena).
 *
 * Rules kept here:
 *	- StartQueryExecution carries the caller's ClientRequestToken, so that
 *	  a request retried by the client core never starts a second query.
 *	- Strings of a response are copied into the current memory context and
 *	  the json-c response is released before returning.
 *	- athena_stop_query_quietly never raises (it runs on error and exit
 *	  paths), except to let a query cancel through.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/elog.h"

#include <json-c/json.h>

#include "aws/athena.h"
#include "aws/json_read.h"

static int64 json_int64_or_zero(json_object *obj, const char *key);
static char *pstrdup_or_null(const char *s);
static bool valid_query_id(const char *id);

/* Athena's query ids are UUIDs; anything much longer is not one. */
#define ATHENA_MAX_QUERY_ID 128

/* An integer member, 0 when absent or of another type. */
static int64
json_int64_or_zero(json_object *obj, const char *key)
{
	int64		v = 0;

	return aws_json_int64(obj, key, &v) ? v : 0;
}

static bool
valid_query_id(const char *id)
{
	size_t		n = strspn(id, "0123456789abcdefABCDEFghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ-");

	return n > 0 && n <= ATHENA_MAX_QUERY_ID && id[n] == '\0';
}

static char *
pstrdup_or_null(const char *s)
{
	return s ? pstrdup(s) : NULL;
}

const char *
athena_state_name(AthenaQueryState state)
{
	switch (state)
	{
		case ATHENA_QUEUED:
			return "QUEUED";
		case ATHENA_RUNNING:
			return "RUNNING";
		case ATHENA_SUCCEEDED:
			return "SUCCEEDED";
		case ATHENA_FAILED:
			return "FAILED";
		case ATHENA_CANCELLED:
			return "CANCELLED";
	}
	return "UNKNOWN";
}

/*
 * Start a query; returns its QueryExecutionId.
 */
char *
athena_start_query(AwsClient *client, const AthenaQueryParams *params)
{
	json_object *req = json_object_new_object();
	json_object *ctx = json_object_new_object();
	json_object *volatile resp = NULL;
	const char *id;
	char	   *result;

	json_object_object_add(req, "QueryString", json_object_new_string(params->sql));
	json_object_object_add(req, "ClientRequestToken",
						   json_object_new_string(params->client_request_token));
	if (params->catalog)
		json_object_object_add(ctx, "Catalog", json_object_new_string(params->catalog));
	if (params->database)
		json_object_object_add(ctx, "Database", json_object_new_string(params->database));
	json_object_object_add(req, "QueryExecutionContext", ctx);
	if (params->workgroup)
		json_object_object_add(req, "WorkGroup", json_object_new_string(params->workgroup));
	if (params->output_location)
	{
		json_object *rc = json_object_new_object();

		json_object_object_add(rc, "OutputLocation",
							   json_object_new_string(params->output_location));
		json_object_object_add(req, "ResultConfiguration", rc);
	}
	if (params->result_reuse_minutes > 0)
	{
		json_object *reuse = json_object_new_object();
		json_object *byage = json_object_new_object();

		json_object_object_add(byage, "Enabled", json_object_new_boolean(1));
		json_object_object_add(byage, "MaxAgeInMinutes",
							   json_object_new_int(params->result_reuse_minutes));
		json_object_object_add(reuse, "ResultReuseByAgeConfiguration", byage);
		json_object_object_add(req, "ResultReuseConfiguration", reuse);
	}

	PG_TRY();
	{
		resp = aws_json_call(client, AWS_SERVICE_ATHENA, "StartQueryExecution", req);
	}
	PG_CATCH();
	{
		json_object_put(req);
		PG_RE_THROW();
	}
	PG_END_TRY();
	json_object_put(req);

	id = aws_json_str(resp, "QueryExecutionId");
	if (id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Athena StartQueryExecution returned no query id")));
	/* a query id names the result object and goes into every message */
	if (!valid_query_id(id))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Athena StartQueryExecution returned an invalid query id"),
				 errdetail("A query id is 1 to %d letters, digits and dashes; the answer began with \"%.40s\".",
						   ATHENA_MAX_QUERY_ID, id)));
	result = pstrdup(id);
	aws_json_release(resp);
	return result;
}

/*
 * The state and statistics of a query (GetQueryExecution).
 */
void
athena_get_query(AwsClient *client, const char *query_id,
				 AthenaQueryStatus *status)
{
	json_object *req = json_object_new_object();
	json_object *volatile resp = NULL;
	json_object *qe = NULL,
			   *st = NULL,
			   *stats = NULL,
			   *rc = NULL,
			   *err = NULL,
			   *reuse = NULL;
	const char *state;

	memset(status, 0, sizeof(AthenaQueryStatus));
	json_object_object_add(req, "QueryExecutionId", json_object_new_string(query_id));
	PG_TRY();
	{
		resp = aws_json_call(client, AWS_SERVICE_ATHENA, "GetQueryExecution", req);
	}
	PG_CATCH();
	{
		json_object_put(req);
		PG_RE_THROW();
	}
	PG_END_TRY();
	json_object_put(req);

	qe = aws_json_obj(resp, "QueryExecution");
	st = aws_json_obj(qe, "Status");
	stats = aws_json_obj(qe, "Statistics");
	rc = aws_json_obj(qe, "ResultConfiguration");
	err = aws_json_obj(st, "AthenaError");
	reuse = aws_json_obj(stats, "ResultReuseInformation");

	state = aws_json_str(st, "State");
	if (state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Athena GetQueryExecution returned no state for query %s",
						query_id)));
	if (strcmp(state, "QUEUED") == 0)
		status->state = ATHENA_QUEUED;
	else if (strcmp(state, "RUNNING") == 0)
		status->state = ATHENA_RUNNING;
	else if (strcmp(state, "SUCCEEDED") == 0)
		status->state = ATHENA_SUCCEEDED;
	else if (strcmp(state, "FAILED") == 0)
		status->state = ATHENA_FAILED;
	else if (strcmp(state, "CANCELLED") == 0)
		status->state = ATHENA_CANCELLED;
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Athena returned an unknown state \"%.40s\" for query %s",
						state, query_id)));

	status->state_change_reason = pstrdup_or_null(aws_json_str(st, "StateChangeReason"));
	if (err)
	{
		int64		type;

		/* ErrorType is an integer in Athena's model */
		if (aws_json_int64(err, "ErrorType", &type))
			status->error_type = psprintf(INT64_FORMAT, type);
		if (status->state_change_reason == NULL)
			status->state_change_reason = pstrdup_or_null(aws_json_str(err, "ErrorMessage"));
	}
	status->output_location = pstrdup_or_null(aws_json_str(rc, "OutputLocation"));
	status->data_scanned_bytes = json_int64_or_zero(stats, "DataScannedInBytes");
	status->engine_ms = json_int64_or_zero(stats, "EngineExecutionTimeInMillis");
	status->queue_ms = json_int64_or_zero(stats, "QueryQueueTimeInMillis");
	status->total_ms = json_int64_or_zero(stats, "TotalExecutionTimeInMillis");
	if (!aws_json_bool(reuse, "ReusedPreviousResult", &status->reused))
		status->reused = false;
	aws_json_release(resp);
}

void
athena_stop_query(AwsClient *client, const char *query_id)
{
	json_object *req = json_object_new_object();
	json_object *volatile resp = NULL;

	json_object_object_add(req, "QueryExecutionId", json_object_new_string(query_id));
	PG_TRY();
	{
		resp = aws_json_call(client, AWS_SERVICE_ATHENA, "StopQueryExecution", req);
	}
	PG_CATCH();
	{
		json_object_put(req);
		PG_RE_THROW();
	}
	PG_END_TRY();
	json_object_put(req);
	aws_json_release(resp);
}

/*
 * Stop a query on an error or exit path.  A failure becomes a WARNING:
 * the error being handled matters more.  Returns true when stopped.
 */
bool
athena_stop_query_quietly(AwsClient *client, const char *query_id)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile bool ok = false;

	PG_TRY();
	{
		athena_stop_query(client, query_id);
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			PG_RE_THROW();
		FlushErrorState();
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("could not stop Athena query %s", query_id),
				 errdetail_internal("%s", edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return ok;
}

/*
 * One page of a query's results (GetQueryResults).  The header row of the
 * first page is returned like any row; the caller skips it.
 */
AthenaResultPage *
athena_get_results(AwsClient *client, const char *query_id,
				   const char *next_token, int max_results)
{
	json_object *req = json_object_new_object();
	json_object *volatile resp = NULL;
	json_object *rs = NULL,
			   *rows = NULL;
	AthenaResultPage *page = palloc0(sizeof(AthenaResultPage));
	size_t		i;

	json_object_object_add(req, "QueryExecutionId", json_object_new_string(query_id));
	json_object_object_add(req, "MaxResults", json_object_new_int(max_results));
	if (next_token)
		json_object_object_add(req, "NextToken", json_object_new_string(next_token));
	PG_TRY();
	{
		resp = aws_json_call(client, AWS_SERVICE_ATHENA, "GetQueryResults", req);
	}
	PG_CATCH();
	{
		json_object_put(req);
		PG_RE_THROW();
	}
	PG_END_TRY();
	json_object_put(req);

	page->next_token = pstrdup_or_null(aws_json_str(resp, "NextToken"));
	rs = aws_json_obj(resp, "ResultSet");
	rows = aws_json_arr(rs, "Rows");
	if (rows)
	{
		size_t		n = json_object_array_length(rows);

		page->nrows = (int) n;
		page->rows = palloc0(sizeof(char **) * Max(n, 1));
		for (i = 0; i < n; i++)
		{
			json_object *row = json_object_array_get_idx(rows, i);
			json_object *data = NULL;
			size_t		ncols,
						j;

			data = aws_json_arr(row, "Data");
			if (data == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("Athena GetQueryResults returned a row without data for query %s",
								query_id)));
			ncols = json_object_array_length(data);
			if (i == 0)
				page->ncols = (int) ncols;
			else if ((int) ncols != page->ncols)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("Athena GetQueryResults returned rows of different widths for query %s",
								query_id)));
			page->rows[i] = palloc(sizeof(char *) * Max(ncols, 1));
			for (j = 0; j < ncols; j++)
				page->rows[i][j] =
					pstrdup_or_null(aws_json_str(json_object_array_get_idx(data, j),
												   "VarCharValue"));
		}
	}
	aws_json_release(resp);
	return page;
}
