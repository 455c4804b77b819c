/*-------------------------------------------------------------------------
 *
 * responses.c
 *		Readers of the AWS answers the extension reads (pure C, on json-c).
 *
 * Every read goes through the typed accessors of json_read.c, so a member
 * that is missing, null, of another type than botocore's model gives it,
 * or the wrong container, reads as absent; the callers decide whether
 * absent is an error.  No allocation, no backend calls.
 *
 *-------------------------------------------------------------------------
 */
#include "aws/responses.h"

#include <string.h>

static int64_t
int64_or(json_object *obj, const char *key, int64_t otherwise)
{
	int64_t		v;

	return aws_json_int64(obj, key, &v) ? v : otherwise;
}

void
aws_read_query_execution(json_object *resp, AthenaExecutionView *view)
{
	json_object *qe = aws_json_obj(resp, "QueryExecution");
	json_object *st = aws_json_obj(qe, "Status");
	json_object *err = aws_json_obj(st, "AthenaError");
	json_object *stats = aws_json_obj(qe, "Statistics");

	memset(view, 0, sizeof(AthenaExecutionView));
	view->state = aws_json_str(st, "State");
	view->state_change_reason = aws_json_str(st, "StateChangeReason");
	view->has_error_type = aws_json_int64(err, "ErrorType", &view->error_type);
	view->error_message = aws_json_str(err, "ErrorMessage");
	view->output_location = aws_json_path_str(qe, "ResultConfiguration.OutputLocation");
	view->data_scanned_bytes = int64_or(stats, "DataScannedInBytes", 0);
	view->engine_ms = int64_or(stats, "EngineExecutionTimeInMillis", 0);
	view->queue_ms = int64_or(stats, "QueryQueueTimeInMillis", 0);
	view->total_ms = int64_or(stats, "TotalExecutionTimeInMillis", 0);
	(void) aws_json_bool(aws_json_obj(stats, "ResultReuseInformation"),
						 "ReusedPreviousResult", &view->reused);
}

json_object *
aws_read_result_rows(json_object *resp, const char **next_token)
{
	*next_token = aws_json_str(resp, "NextToken");
	return aws_json_arr(aws_json_obj(resp, "ResultSet"), "Rows");
}

json_object *
aws_read_result_row(json_object *rows, size_t i)
{
	return aws_json_arr(aws_json_arr_obj(rows, i), "Data");
}

const char *
aws_read_result_cell(json_object *data, size_t j)
{
	return aws_json_str(aws_json_arr_obj(data, j), "VarCharValue");
}

bool
aws_read_glue_table(json_object *table, GlueTableView *view)
{
	memset(view, 0, sizeof(GlueTableView));
	view->name = aws_json_str(table, "Name");
	view->columns = aws_json_arr(aws_json_obj(table, "StorageDescriptor"), "Columns");
	view->partition_keys = aws_json_arr(table, "PartitionKeys");
	view->parameters = aws_json_obj(table, "Parameters");
	return view->name != NULL;
}

bool
aws_read_glue_column(json_object *columns, size_t i, const char **name, const char **type)
{
	json_object *c = aws_json_arr_obj(columns, i);

	*name = aws_json_str(c, "Name");
	*type = aws_json_str(c, "Type");
	return *name != NULL;
}

bool
aws_read_put_entry(json_object *entries, size_t i, FirehoseEntryView *view)
{
	json_object *e = aws_json_arr_obj(entries, i);

	memset(view, 0, sizeof(FirehoseEntryView));
	view->record_id = aws_json_str(e, "RecordId");
	view->error_code = aws_json_str(e, "ErrorCode");
	view->error_message = aws_json_str(e, "ErrorMessage");
	return view->record_id != NULL || view->error_code != NULL;
}

/*
 * The plain form of aws_read_put_batch_all_accepted, in RFC 8259's grammar
 * restricted further: strings without escapes or control characters.
 * Each reader takes *p past what it read and returns false on anything
 * else.
 */
static void
plain_ws(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
		(*p)++;
}

static bool
plain_char(const char **p, const char *end, char c)
{
	plain_ws(p, end);
	if (*p == end || **p != c)
		return false;
	(*p)++;
	return true;
}

/* a string; its bytes between the quotes in *s, *n */
static bool
plain_string(const char **p, const char *end, const char **s, size_t *n)
{
	const char *q;

	if (!plain_char(p, end, '"'))
		return false;
	for (q = *p; q < end && *q != '"'; q++)
		if ((unsigned char) *q < 0x20 || *q == '\\')
			return false;
	if (q == end)
		return false;
	*s = *p;
	*n = (size_t) (q - *p);
	*p = q + 1;
	return true;
}

static bool
plain_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* a number, true, false or null; *s, *n its text */
static bool
plain_scalar(const char **p, const char *end, const char **s, size_t *n)
{
	const char *q;

	plain_ws(p, end);
	q = *p;
	if (q < end && *q == '-')
		q++;
	if (q < end && *q >= '0' && *q <= '9')
	{
		/* RFC 8259: int [frac] [exp], no leading zeros */
		if (*q == '0')
			q++;
		else
			while (q < end && *q >= '0' && *q <= '9')
				q++;
		if (q < end && *q == '.')
		{
			if (++q == end || *q < '0' || *q > '9')
				return false;
			while (q < end && *q >= '0' && *q <= '9')
				q++;
		}
		if (q < end && (*q == 'e' || *q == 'E'))
		{
			q++;
			if (q < end && (*q == '+' || *q == '-'))
				q++;
			if (q == end || *q < '0' || *q > '9')
				return false;
			while (q < end && *q >= '0' && *q <= '9')
				q++;
		}
	}
	else if (q == *p)
	{
		while (q < end && *q >= 'a' && *q <= 'z')
			q++;
		if (!plain_is(*p, (size_t) (q - *p), "true") &&
			!plain_is(*p, (size_t) (q - *p), "false") &&
			!plain_is(*p, (size_t) (q - *p), "null"))
			return false;
	}
	else
		return false;			/* a lone minus */
	*s = *p;
	*n = (size_t) (q - *p);
	*p = q;
	return true;
}

/* {"RecordId":"<not empty>"}, the member possibly repeated */
static bool
plain_accepted_entry(const char **p, const char *end)
{
	bool		first = true;

	if (!plain_char(p, end, '{'))
		return false;
	for (;;)
	{
		const char *s;
		size_t		n;

		if (!first && plain_char(p, end, '}'))
			return true;
		if (!first && !plain_char(p, end, ','))
			return false;
		first = false;
		if (!plain_string(p, end, &s, &n) || !plain_is(s, n, "RecordId") ||
			!plain_char(p, end, ':') || !plain_string(p, end, &s, &n) || n == 0)
			return false;
	}
}

bool
aws_read_put_batch_all_accepted(const char *body, size_t len, int *nentries)
{
	const char *p = body;
	const char *end = body + len;
	bool		seen_count = false;
	bool		seen_entries = false;
	int			entries = 0;

	if (!plain_char(&p, end, '{'))
		return false;
	for (;;)
	{
		const char *key;
		size_t		keylen;
		const char *v;
		size_t		vlen;

		if (!plain_string(&p, end, &key, &keylen) || !plain_char(&p, end, ':'))
			return false;
		if (plain_is(key, keylen, "FailedPutCount"))
		{
			if (seen_count || !plain_scalar(&p, end, &v, &vlen) || !plain_is(v, vlen, "0"))
				return false;
			seen_count = true;
		}
		else if (plain_is(key, keylen, "RequestResponses"))
		{
			if (seen_entries || !plain_char(&p, end, '['))
				return false;
			seen_entries = true;
			if (!plain_char(&p, end, ']'))
			{
				do
				{
					if (!plain_accepted_entry(&p, end) || entries == INT32_MAX)
						return false;
					entries++;
				} while (plain_char(&p, end, ','));
				if (!plain_char(&p, end, ']'))
					return false;
			}
		}
		else
		{
			/* another member (Encrypted): a scalar or a string */
			const char *rest = p;

			if (!plain_scalar(&p, end, &v, &vlen))
			{
				p = rest;
				if (!plain_string(&p, end, &v, &vlen))
					return false;
			}
		}
		if (plain_char(&p, end, '}'))
			break;
		if (!plain_char(&p, end, ','))
			return false;
	}
	plain_ws(&p, end);
	if (p != end || !seen_count || !seen_entries)
		return false;
	*nentries = entries;
	return true;
}

void
aws_read_delivery_stream(json_object *description, DeliveryStreamView *view)
{
	json_object *d = aws_json_arr_obj(aws_json_arr(description, "Destinations"), 0);
	json_object *dest = aws_json_obj(d, "ExtendedS3DestinationDescription");
	json_object *hints;

	if (dest == NULL)
		dest = aws_json_obj(d, "S3DestinationDescription");
	memset(view, 0, sizeof(DeliveryStreamView));
	view->status = aws_json_str(description, "DeliveryStreamStatus");
	view->failure = aws_json_path_str(description, "FailureDescription.Details");
	view->type = aws_json_str(description, "DeliveryStreamType");
	view->s3 = dest != NULL;
	view->bucket_arn = aws_json_str(dest, "BucketARN");
	view->prefix = aws_json_str(dest, "Prefix");
	view->role_arn = aws_json_str(dest, "RoleARN");
	view->compression = aws_json_str(dest, "CompressionFormat");
	hints = aws_json_obj(dest, "BufferingHints");
	view->has_hints = hints != NULL;
	view->interval_seconds = int64_or(hints, "IntervalInSeconds", -1);
	view->size_mb = int64_or(hints, "SizeInMBs", -1);
	{
		json_object *procs = aws_json_arr(aws_json_obj(dest, "ProcessingConfiguration"),
										  "Processors");

		for (size_t i = 0; i < aws_json_arr_len(procs); i++)
		{
			json_object *proc = aws_json_arr_obj(procs, i);
			json_object *params = aws_json_arr(proc, "Parameters");
			const char *type = aws_json_str(proc, "Type");

			if (type == NULL || strcmp(type, "MetadataExtraction") != 0)
				continue;
			for (size_t j = 0; j < aws_json_arr_len(params); j++)
			{
				json_object *param = aws_json_arr_obj(params, j);
				const char *name = aws_json_str(param, "ParameterName");

				if (name && strcmp(name, "MetadataExtractionQuery") == 0)
					view->extraction_query = aws_json_str(param, "ParameterValue");
			}
		}
	}
}

bool
aws_read_stream_shard(json_object *shards, size_t i, StreamShardView *view)
{
	json_object *s = aws_json_arr_obj(shards, i);
	json_object *range = aws_json_obj(s, "SequenceNumberRange");

	memset(view, 0, sizeof(StreamShardView));
	view->shard_id = aws_json_str(s, "ShardId");
	view->parent_shard_id = aws_json_str(s, "ParentShardId");
	view->starting_sequence_number = aws_json_str(range, "StartingSequenceNumber");
	view->ending_sequence_number = aws_json_str(range, "EndingSequenceNumber");
	return view->shard_id != NULL;
}
