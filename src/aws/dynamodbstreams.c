/*-------------------------------------------------------------------------
 *
 * dynamodbstreams.c
 *		DynamoDB Streams client: ListStreams, DescribeStream (paged to the
 *		end), GetShardIterator and GetRecords; and DynamoDB's DescribeTable,
 *		which gives a table's LatestStreamArn.
 *
 * Requests are json-c objects owned by the current memory context
 * (new_request), so an ERROR never leaks them.
 * Every call goes through aws_json_call / aws_json_call_try, so throttling,
 * 5xx and network failures are retried by the core and the waits can be
 * interrupted.  The calls the pump must act on (GetShardIterator,
 * GetRecords: ExpiredIteratorException, TrimmedDataAccessException,
 * ResourceNotFoundException) return the AWS error instead of raising it.
 * Responses are checked for the fields the pump needs; a malformed one is
 * an ERROR naming the operation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "aws/dynamodbstreams.h"
#include "aws/jsontext.h"
#include "aws/responses.h"
#include "lib/stringinfo.h"

/* DescribeStream returns at most this many shards a page */
#define DESCRIBE_STREAM_LIMIT 100

static void request_reset(void *arg);
static json_object *new_request(void);
static void bad_response(const char *operation, const char *what) pg_attribute_noreturn();

static void
request_reset(void *arg)
{
	json_object_put((json_object *) arg);
}

/*
 * A new JSON object for a request body, released when the current memory
 * context is reset or deleted (also when an ERROR unwinds it).
 */
static json_object *
new_request(void)
{
	json_object *obj = json_object_new_object();
	MemoryContextCallback *cb;

	if (obj == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	cb = palloc(sizeof(MemoryContextCallback));
	cb->func = request_reset;
	cb->arg = obj;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return obj;
}

static void
bad_response(const char *operation, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("aws dynamodbstreams %s returned an unexpected response", operation),
			 errdetail("The response has no %s.", what)));
}

/*
 * The ARN of a table's current stream (DescribeTable's LatestStreamArn).
 * A table without a stream is an error whose hint says how to enable one.
 */
char *
ddb_latest_stream_arn(AwsClient *client, const char *table_name)
{
	json_object *req = new_request();
	json_object *resp;
	json_object *table;
	const char *arn;
	char	   *result;

	json_object_object_add(req, "TableName", json_object_new_string(table_name));
	resp = aws_json_call(client, AWS_SERVICE_DYNAMODB, "DescribeTable", req);

	if ((table = aws_json_obj(resp, "Table")) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("aws dynamodb DescribeTable returned an unexpected response"),
				 errdetail("The response has no Table.")));
	arn = aws_json_str(table, "LatestStreamArn");
	if (arn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("DynamoDB table \"%s\" has no stream", table_name),
				 errhint("Enable a stream on the table (StreamSpecification with "
						 "StreamViewType NEW_AND_OLD_IMAGES), then create the pipeline.")));
	result = pstrdup(arn);
	aws_json_release(resp);
	return result;
}

/*
 * The table name in a stream ARN
 * (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL), or NULL when
 * the ARN does not have that shape.
 */
char *
ddbstreams_table_from_arn(const char *stream_arn)
{
	const char *p = strstr(stream_arn, ":table/");
	const char *end;

	if (p == NULL)
		return NULL;
	p += strlen(":table/");
	end = strstr(p, "/stream/");
	if (end == NULL || end == p)
		return NULL;
	return pnstrdup(p, end - p);
}

/* The ARNs of the streams of a table (every page of ListStreams). */
List *
ddbstreams_list_streams(AwsClient *client, const char *table_name)
{
	List	   *arns = NIL;
	char	   *start = NULL;

	for (;;)
	{
		json_object *req = new_request();
		json_object *resp;
		json_object *streams;
		const char *last;
		size_t		i,
					n;

		if (table_name)
			json_object_object_add(req, "TableName", json_object_new_string(table_name));
		if (start)
			json_object_object_add(req, "ExclusiveStartStreamArn", json_object_new_string(start));
		resp = aws_json_call(client, AWS_SERVICE_DYNAMODB_STREAMS, "ListStreams", req);

		if ((streams = aws_json_arr(resp, "Streams")) == NULL)
			bad_response("ListStreams", "Streams array");
		n = aws_json_arr_len(streams);
		for (i = 0; i < n; i++)
		{
			const char *arn = aws_json_str(aws_json_arr_obj(streams, i),
											  "StreamArn");

			if (arn)
				arns = lappend(arns, pstrdup(arn));
		}
		last = aws_json_str(resp, "LastEvaluatedStreamArn");
		start = last ? pstrdup(last) : NULL;
		aws_json_release(resp);
		if (start == NULL)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	return arns;
}

/*
 * DescribeStream, paged with ExclusiveStartShardId until no
 * LastEvaluatedShardId is returned: every shard of the stream.
 */
StreamDescription *
ddbstreams_describe_stream(AwsClient *client, const char *stream_arn)
{
	StreamDescription *desc = palloc0(sizeof(StreamDescription));
	char	   *start = NULL;
	int			pages = 0;

	for (;;)
	{
		json_object *req = new_request();
		json_object *resp;
		json_object *sd;
		json_object *shards;
		const char *last;
		size_t		i,
					n;

		json_object_object_add(req, "StreamArn", json_object_new_string(stream_arn));
		json_object_object_add(req, "Limit", json_object_new_int(DESCRIBE_STREAM_LIMIT));
		if (start)
			json_object_object_add(req, "ExclusiveStartShardId", json_object_new_string(start));
		resp = aws_json_call(client, AWS_SERVICE_DYNAMODB_STREAMS, "DescribeStream", req);

		if ((sd = aws_json_obj(resp, "StreamDescription")) == NULL)
			bad_response("DescribeStream", "StreamDescription");
		if (desc->stream_arn == NULL)
		{
			const char *s;

			desc->stream_arn = pstrdup((s = aws_json_str(sd, "StreamArn")) ? s : stream_arn);
			desc->stream_status = (s = aws_json_str(sd, "StreamStatus")) ? pstrdup(s) : NULL;
			desc->stream_view_type = (s = aws_json_str(sd, "StreamViewType")) ? pstrdup(s) : NULL;
			desc->table_name = (s = aws_json_str(sd, "TableName")) ? pstrdup(s) : NULL;
		}
		shards = aws_json_arr(sd, "Shards");
		n = aws_json_arr_len(shards);
		for (i = 0; i < n; i++)
		{
			StreamShardView view;
			StreamShard *shard;

			if (!aws_read_stream_shard(shards, i, &view))
				bad_response("DescribeStream", "ShardId in a shard");
			shard = palloc0(sizeof(StreamShard));
			shard->shard_id = pstrdup(view.shard_id);
			if (view.parent_shard_id != NULL)
				shard->parent_shard_id = pstrdup(view.parent_shard_id);
			if (view.starting_sequence_number != NULL)
				shard->starting_sequence_number = pstrdup(view.starting_sequence_number);
			if (view.ending_sequence_number != NULL)
				shard->ending_sequence_number = pstrdup(view.ending_sequence_number);
			desc->shards = lappend(desc->shards, shard);
		}
		last = aws_json_str(sd, "LastEvaluatedShardId");
		start = last ? pstrdup(last) : NULL;
		aws_json_release(resp);
		if (start == NULL)
			break;
		/* a stream that pages forever is a broken endpoint, not a big stream */
		if (++pages > 100000)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("aws dynamodbstreams DescribeStream did not reach the last page")));
		CHECK_FOR_INTERRUPTS();
	}
	return desc;
}

/*
 * A shard iterator of iterator_type (TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER
 * or AFTER_SEQUENCE_NUMBER with sequence_number).  An AWS error is returned
 * in *error (NULL result) when error is not NULL.
 */
char *
ddbstreams_get_shard_iterator(AwsClient *client, const char *stream_arn,
							  const char *shard_id, const char *iterator_type,
							  const char *sequence_number, AwsError **error)
{
	json_object *req = new_request();
	json_object *resp;
	const char *it;
	char	   *result;

	json_object_object_add(req, "StreamArn", json_object_new_string(stream_arn));
	json_object_object_add(req, "ShardId", json_object_new_string(shard_id));
	json_object_object_add(req, "ShardIteratorType", json_object_new_string(iterator_type));
	if (sequence_number)
		json_object_object_add(req, "SequenceNumber", json_object_new_string(sequence_number));
	resp = aws_json_call_try(client, AWS_SERVICE_DYNAMODB_STREAMS,
							 "GetShardIterator", req, error);
	if (resp == NULL)
		return NULL;
	it = aws_json_str(resp, "ShardIterator");
	if (it == NULL)
		bad_response("GetShardIterator", "ShardIterator");
	result = pstrdup(it);
	aws_json_release(resp);
	return result;
}

/*
 * One GetRecords call (limit 1..1000).  The page's records stay owned by
 * the caller's memory context; next_iterator is NULL when a closed shard
 * has no more records.
 */
StreamRecordsPage *
ddbstreams_get_records(AwsClient *client, const char *iterator, int limit,
					   AwsError **error)
{
	json_object *req = new_request();
	json_object *resp;
	StreamRecordsPage *page;
	const char *next;

	json_object_object_add(req, "ShardIterator", json_object_new_string(iterator));
	if (limit > 0)
		json_object_object_add(req, "Limit", json_object_new_int(limit));
	resp = aws_json_call_try(client, AWS_SERVICE_DYNAMODB_STREAMS, "GetRecords",
							 req, error);
	if (resp == NULL)
		return NULL;

	page = palloc0(sizeof(StreamRecordsPage));
	page->response = resp;
	if ((page->records = aws_json_arr(resp, "Records")) == NULL)
		bad_response("GetRecords", "Records array");
	page->nrecords = (int) aws_json_arr_len(page->records);
	next = aws_json_str(resp, "NextShardIterator");
	page->next_iterator = next ? pstrdup(next) : NULL;
	return page;
}

/*
 * One GetRecords call whose page stays JSON text (the pump reads it with
 * audit_walk_records_page): the response, or NULL with *error set.  The
 * body is lent (aws_json_call_text_lent): valid until the next request, not
 * to be freed.
 */
AwsResponse *
ddbstreams_get_records_text(AwsClient *client, const char *iterator, int limit,
							AwsError **error)
{
	StringInfoData body;
	const char *p;

	/* an iterator is opaque text: escape what JSON needs */
	initStringInfo(&body);
	appendStringInfoString(&body, "{\"ShardIterator\":\"");
	for (p = iterator; *p; p++)
	{
		if (*p == '"' || *p == '\\')
			appendStringInfoChar(&body, '\\');
		if ((unsigned char) *p < 0x20)
			appendStringInfo(&body, "\\u%04x", (unsigned char) *p);
		else
			appendStringInfoChar(&body, *p);
	}
	appendStringInfo(&body, "\",\"Limit\":%d}", limit);
	return aws_json_call_text_lent(client, AWS_SERVICE_DYNAMODB_STREAMS, "GetRecords",
								   body.data, body.len, error);
}
