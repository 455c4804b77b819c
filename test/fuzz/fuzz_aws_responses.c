/*-------------------------------------------------------------------------
 *
 * fuzz_aws_responses.c
 *		libFuzzer target for the readers of AWS JSON answers:
 *		src/aws/responses.c and the typed accessors of src/aws/json_read.c.
 *
 * The input is a whole response body, parsed as the client core parses
 * one (json_tokener_new_ex(256)), then given to every reader: Athena's
 * GetQueryExecution and GetQueryResults, Glue's GetTables and GetTable,
 * Firehose's PutRecordBatch (also read from its text, checked against the
 * tree) and DescribeDeliveryStream, DynamoDB Streams' DescribeStream, and
 * the single strings the other answers are read for (QueryExecutionId,
 * DeliveryStreamARN, LatestStreamArn, Streams[].StreamArn, ShardIterator,
 * NextShardIterator, Records).
 *
 * Invariants besides the sanitizers': every string a reader returns is
 * read to its end; a string comes only from a member that is a JSON string
 * (checked with json-c's own calls, independently); a count never exceeds
 * the array it counts; a reader that says "no such entry" returns no
 * strings.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/responses.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static void
check(int ok, const char *what)
{
	if (!ok)
	{
		fprintf(stderr, "aws_responses invariant broken: %s\n", what);
		abort();
	}
}

/* reads s to its end (ASan catches a string that is not one) */
static void
touch(const char *s)
{
	if (s != NULL)
		sink += strlen(s);
}

/* s came from obj's member key only if that member is a JSON string */
static void
from_string_member(json_object *obj, const char *key, const char *s)
{
	json_object *v = NULL;

	touch(s);
	if (s == NULL)
		return;
	check(obj != NULL && json_object_is_type(obj, json_type_object) &&
		  json_object_object_get_ex(obj, key, &v) && v != NULL &&
		  json_object_is_type(v, json_type_string), key);
	check(strcmp(s, json_object_get_string(v)) == 0, key);
}

static void
read_execution(json_object *root)
{
	AthenaExecutionView v;
	json_object *qe = NULL;
	json_object *st = NULL;

	aws_read_query_execution(root, &v);
	if (json_object_is_type(root, json_type_object))
		json_object_object_get_ex(root, "QueryExecution", &qe);
	if (qe && json_object_is_type(qe, json_type_object))
		json_object_object_get_ex(qe, "Status", &st);
	from_string_member(st, "State", v.state);
	from_string_member(st, "StateChangeReason", v.state_change_reason);
	touch(v.error_message);
	touch(v.output_location);
	sink += (size_t) v.data_scanned_bytes + (size_t) v.error_type + v.reused;
}

static void
read_results(json_object *root)
{
	const char *next;
	json_object *rows = aws_read_result_rows(root, &next);
	size_t		n = aws_json_arr_len(rows);

	from_string_member(root, "NextToken", next);
	check(rows == NULL || json_object_is_type(rows, json_type_array), "Rows");
	check(aws_read_result_row(rows, n) == NULL, "row past the end");
	for (size_t i = 0; i < n; i++)
	{
		json_object *row = aws_read_result_row(rows, i);
		size_t		ncols = aws_json_arr_len(row);

		check(row == NULL || json_object_is_type(row, json_type_array), "Data");
		for (size_t j = 0; j <= ncols; j++)
		{
			const char *cell = aws_read_result_cell(row, j);

			check(j < ncols || cell == NULL, "cell past the end");
			touch(cell);
		}
	}
}

static void
read_glue_table(json_object *table)
{
	GlueTableView v;
	json_object *lists[2];
	bool		named = aws_read_glue_table(table, &v);

	check(named == (v.name != NULL), "table Name");
	from_string_member(table, "Name", v.name);
	lists[0] = v.columns;
	lists[1] = v.partition_keys;
	for (int l = 0; l < 2; l++)
	{
		size_t		n = aws_json_arr_len(lists[l]);

		for (size_t i = 0; i <= n; i++)
		{
			const char *name;
			const char *type;
			bool		ok = aws_read_glue_column(lists[l], i, &name, &type);

			check(ok == (name != NULL), "column Name");
			check(i < n || (!ok && type == NULL), "column past the end");
			touch(name);
			touch(type);
		}
	}
	if (v.parameters)
	{
		json_object_object_foreach(v.parameters, key, val)
		{
			touch(key);
			if (json_object_is_type(val, json_type_string))
				touch(json_object_get_string(val));
		}
	}
}

static void
read_glue(json_object *root)
{
	json_object *list = aws_json_arr(root, "TableList");
	size_t		n = aws_json_arr_len(list);

	for (size_t i = 0; i < n; i++)
		read_glue_table(aws_json_arr_obj(list, i));
	read_glue_table(aws_json_obj(root, "Table"));
	from_string_member(root, "NextToken", aws_json_str(root, "NextToken"));
}

static void
read_put_batch(json_object *root)
{
	json_object *entries = aws_json_arr(root, "RequestResponses");
	size_t		n = aws_json_arr_len(entries);
	int64_t		failed;

	if (aws_json_int64(root, "FailedPutCount", &failed))
		sink += (size_t) failed;
	for (size_t i = 0; i <= n; i++)
	{
		FirehoseEntryView e;
		bool		ok = aws_read_put_entry(entries, i, &e);

		check(ok == (e.record_id != NULL || e.error_code != NULL), "entry");
		check(i < n || (!ok && e.error_message == NULL), "entry past the end");
		touch(e.record_id);
		touch(e.error_code);
		touch(e.error_message);
	}
}

/*
 * The text reader of an all-accepted answer says yes only where the tree
 * says the same: FailedPutCount 0 and n entries, each a RecordId and no
 * ErrorCode.
 */
static void
read_put_batch_text(const uint8_t *data, size_t size, json_object *root)
{
	int			n;
	int64_t		failed;
	json_object *entries;

	if (!aws_read_put_batch_all_accepted((const char *) data, size, &n))
		return;
	check(root != NULL && json_object_is_type(root, json_type_object), "accepted: an object");
	check(aws_json_int64(root, "FailedPutCount", &failed) && failed == 0,
		  "accepted: FailedPutCount 0");
	entries = aws_json_arr(root, "RequestResponses");
	check(entries != NULL && aws_json_arr_len(entries) == (size_t) n, "accepted: n entries");
	for (int i = 0; i < n; i++)
	{
		FirehoseEntryView e;

		check(aws_read_put_entry(entries, (size_t) i, &e) && e.record_id != NULL &&
			  e.record_id[0] != '\0' && e.error_code == NULL, "accepted: a RecordId");
	}
}

static void
read_delivery_stream(json_object *description)
{
	DeliveryStreamView v;

	aws_read_delivery_stream(description, &v);
	from_string_member(description, "DeliveryStreamStatus", v.status);
	from_string_member(description, "DeliveryStreamType", v.type);
	touch(v.failure);
	check(v.s3 || (v.bucket_arn == NULL && v.prefix == NULL && v.role_arn == NULL &&
				   v.compression == NULL && !v.has_hints), "destination");
	check(v.has_hints || (v.interval_seconds == -1 && v.size_mb == -1), "hints");
	touch(v.bucket_arn);
	touch(v.prefix);
	touch(v.role_arn);
	touch(v.compression);
}

static void
read_stream(json_object *root)
{
	json_object *sd = aws_json_obj(root, "StreamDescription");
	json_object *shards = aws_json_arr(sd, "Shards");
	size_t		n = aws_json_arr_len(shards);

	for (size_t i = 0; i <= n; i++)
	{
		StreamShardView s;
		bool		ok = aws_read_stream_shard(shards, i, &s);

		check(ok == (s.shard_id != NULL), "ShardId");
		check(i < n || !ok, "shard past the end");
		touch(s.shard_id);
		touch(s.parent_shard_id);
		touch(s.starting_sequence_number);
		touch(s.ending_sequence_number);
	}
	touch(aws_json_str(sd, "LastEvaluatedShardId"));
}

static void
read_strings(json_object *root)
{
	static const char *const keys[] = {
		"QueryExecutionId", "DeliveryStreamARN", "ShardIterator", "NextShardIterator",
		"LastEvaluatedStreamArn",
	};
	json_object *streams = aws_json_arr(root, "Streams");
	json_object *records = aws_json_arr(root, "Records");

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		from_string_member(root, keys[k], aws_json_str(root, keys[k]));
	touch(aws_json_str(aws_json_obj(root, "Table"), "LatestStreamArn"));
	for (size_t i = 0; i < aws_json_arr_len(streams); i++)
		touch(aws_json_str(aws_json_arr_obj(streams, i), "StreamArn"));
	if (records)
		touch(aws_json_path_str(aws_json_arr_obj(records, 0),
								   "dynamodb.SequenceNumber"));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_tokener *tok;
	json_object *root;

	if (size > (1 << 20))
		return 0;
	tok = json_tokener_new_ex(256);
	if (tok == NULL)
		return 0;
	root = json_tokener_parse_ex(tok, (const char *) data, (int) size);
	json_tokener_free(tok);

	/* the readers take any tree, and NULL */
	read_execution(root);
	read_results(root);
	read_glue(root);
	read_put_batch(root);
	read_put_batch_text(data, size, root);
	read_delivery_stream(aws_json_obj(root, "DeliveryStreamDescription"));
	read_delivery_stream(root);
	read_stream(root);
	read_strings(root);
	json_object_put(root);
	return 0;
}
