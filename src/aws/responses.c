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
