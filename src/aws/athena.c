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
 *	  paths), except to let a query cancel through, and takes at most
 *	  ATHENA_STOP_TIMEOUT_MS: one attempt, so that a cancel returns within
 *	  a second when Athena answers slowly.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/elog.h"

#include <json-c/json.h>

#include "aws/athena.h"
#include "aws/responses.h"

static char *pstrdup_or_null(const char *s);
static bool valid_query_id(const char *id);

/*
 * How long a stop on a cleanup path may take: connecting, sending and
 * reading the answer, once (a cancel returns within a second).
 */
#define ATHENA_STOP_TIMEOUT_MS 500

/* Athena's query ids are UUIDs; anything much longer is not one. */
#define ATHENA_MAX_QUERY_ID 128

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

	/* Athena reads UTF-8: literals and names leave in it, whatever the database's encoding */
	json_object_object_add(req, "QueryString",
						   json_object_new_string(pg_server_to_any(params->sql, strlen(params->sql),
																   PG_UTF8)));
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
	AthenaExecutionView view;
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

	aws_read_query_execution(resp, &view);
	state = view.state;
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

	status->state_change_reason = pstrdup_or_null(view.state_change_reason ?
												   view.state_change_reason :
												   view.error_message);
	if (view.has_error_type)
		status->error_type = psprintf(INT64_FORMAT, view.error_type);
	status->output_location = pstrdup_or_null(view.output_location);
	status->data_scanned_bytes = view.data_scanned_bytes;
	status->engine_ms = view.engine_ms;
	status->queue_ms = view.queue_ms;
	status->total_ms = view.total_ms;
	status->reused = view.reused;
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
	json_object *req = json_object_new_object();

	json_object_object_add(req, "QueryExecutionId", json_object_new_string(query_id));
	PG_TRY();
	{
		/*
		 * One attempt within ATHENA_STOP_TIMEOUT_MS: a cancel must return
		 * within a second even when Athena answers slowly; the request is
		 * sent, and Athena stops the query whether or not its answer is
		 * read.
		 */
		aws_json_release(aws_json_call_within(client, AWS_SERVICE_ATHENA,
											  "StopQueryExecution", req,
											  ATHENA_STOP_TIMEOUT_MS));
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		{
			json_object_put(req);
			PG_RE_THROW();
		}
		FlushErrorState();
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("could not stop Athena query %s", query_id),
				 errdetail_internal("%s", edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	json_object_put(req);
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
	json_object *rows;
	const char *next;
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

	rows = aws_read_result_rows(resp, &next);
	page->next_token = pstrdup_or_null(next);
	if (rows)
	{
		size_t		n = aws_json_arr_len(rows);

		page->nrows = (int) n;
		page->rows = palloc0(sizeof(char **) * Max(n, 1));
		for (i = 0; i < n; i++)
		{
			json_object *data = aws_read_result_row(rows, i);
			size_t		ncols,
						j;

			if (data == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("Athena GetQueryResults returned a row without data for query %s",
								query_id)));
			ncols = aws_json_arr_len(data);
			if (i == 0)
				page->ncols = (int) ncols;
			else if ((int) ncols != page->ncols)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("Athena GetQueryResults returned rows of different widths for query %s",
								query_id)));
			page->rows[i] = palloc(sizeof(char *) * Max(ncols, 1));
			for (j = 0; j < ncols; j++)
				page->rows[i][j] = pstrdup_or_null(aws_read_result_cell(data, j));
		}
	}
	aws_json_release(resp);
	return page;
}

/*
 * The workgroup's per-query data usage limit (GetWorkGroup's
 * Configuration.BytesScannedCutoffPerQuery), -1 when it has none or the
 * workgroup cannot be read (this is asked only to explain a cancel).
 */
int64
athena_workgroup_cutoff(AwsClient *client, const char *workgroup)
{
	json_object *req = json_object_new_object();
	json_object *resp;
	AwsError   *error = NULL;
	int64_t		cutoff = -1;

	json_object_object_add(req, "WorkGroup", json_object_new_string(workgroup));
	resp = aws_json_call_try(client, AWS_SERVICE_ATHENA, "GetWorkGroup", req, &error);
	json_object_put(req);
	if (resp == NULL)
		return -1;
	if (!aws_json_int64(aws_json_obj(aws_json_obj(resp, "WorkGroup"), "Configuration"),
						"BytesScannedCutoffPerQuery", &cutoff))
		cutoff = -1;
	aws_json_release(resp);
	return cutoff;
}
