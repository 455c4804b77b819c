/*-------------------------------------------------------------------------
 *
 * responses.h
 *		Readers of the AWS answers the extension reads (pure C, on json-c).
 *
 * One reader per answer shape; each fills a view of plain values whose
 * strings are borrowed from the json-c tree (valid while it lives) and
 * NULL when the answer does not hold them with the documented type
 * (botocore's service models).  The callers in athena.c, glue.c,
 * firehose.c, dynamodbstreams.c and src/provision copy what they keep and
 * decide what a missing value means; test/fuzz/fuzz_aws_responses.c feeds
 * every reader whole response bodies.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_AWS_RESPONSES_H
#define AUDIT_FDW_AWS_RESPONSES_H

#include "aws/json_read.h"

/* Athena GetQueryExecution */
typedef struct AthenaExecutionView
{
	const char *state;			/* QueryExecution.Status.State */
	const char *state_change_reason;
	bool		has_error_type;
	int64_t		error_type;		/* Status.AthenaError.ErrorType (an integer) */
	const char *error_message;	/* Status.AthenaError.ErrorMessage */
	const char *output_location;	/* ResultConfiguration.OutputLocation */
	int64_t		data_scanned_bytes; /* Statistics.*, 0 when absent */
	int64_t		engine_ms;
	int64_t		queue_ms;
	int64_t		total_ms;
	bool		reused;			/* Statistics.ResultReuseInformation */
} AthenaExecutionView;

extern void aws_read_query_execution(json_object *resp, AthenaExecutionView *view);

/*
 * Athena GetQueryResults: the rows (ResultSet.Rows, or NULL), NextToken; a
 * row's Data array (NULL when the row has none) and a cell's VarCharValue
 * (NULL for a SQL NULL or a cell of another shape).
 */
extern json_object *aws_read_result_rows(json_object *resp, const char **next_token);
extern json_object *aws_read_result_row(json_object *rows, size_t i);
extern const char *aws_read_result_cell(json_object *data, size_t j);

/* Glue GetTables / GetTable: a table, and each column of its lists */
typedef struct GlueTableView
{
	const char *name;
	json_object *columns;		/* StorageDescriptor.Columns (array or NULL) */
	json_object *partition_keys;	/* PartitionKeys (array or NULL) */
	json_object *parameters;	/* Parameters (object or NULL) */
} GlueTableView;

extern bool aws_read_glue_table(json_object *table, GlueTableView *view);

/* column i of a Columns/PartitionKeys list: false when it has no Name */
extern bool aws_read_glue_column(json_object *columns, size_t i,
								 const char **name, const char **type);

/* Firehose PutRecordBatch: entry i of RequestResponses */
typedef struct FirehoseEntryView
{
	const char *record_id;
	const char *error_code;
	const char *error_message;
} FirehoseEntryView;

extern bool aws_read_put_entry(json_object *entries, size_t i, FirehoseEntryView *view);

/*
 * Firehose PutRecordBatch's answer read from its text, without a tree, for
 * the answer of nearly every call: FailedPutCount 0 and every entry a
 * RecordId.  True, with the number of entries, only for an answer of that
 * plain form (no escapes, no nesting besides RequestResponses, no repeated
 * member), which json-c reads the same; false for anything else, which the
 * caller reads with json-c.
 */
extern bool aws_read_put_batch_all_accepted(const char *body, size_t len, int *nentries);

/* Firehose DescribeDeliveryStream: DeliveryStreamDescription */
typedef struct DeliveryStreamView
{
	const char *status;			/* DeliveryStreamStatus */
	const char *failure;		/* FailureDescription.Details */
	const char *type;			/* DeliveryStreamType */
	bool		s3;				/* Destinations[0] has an S3 description */
	const char *bucket_arn;
	const char *prefix;
	const char *role_arn;
	const char *compression;
	bool		has_hints;
	int64_t		interval_seconds;	/* BufferingHints, -1 when absent */
	int64_t		size_mb;
	/* the MetadataExtraction processor's MetadataExtractionQuery, or NULL */
	const char *extraction_query;
} DeliveryStreamView;

extern void aws_read_delivery_stream(json_object *description, DeliveryStreamView *view);

/* DynamoDB Streams DescribeStream: a shard of StreamDescription.Shards */
typedef struct StreamShardView
{
	const char *shard_id;
	const char *parent_shard_id;
	const char *starting_sequence_number;
	const char *ending_sequence_number;
} StreamShardView;

extern bool aws_read_stream_shard(json_object *shards, size_t i, StreamShardView *view);

#endif							/* AUDIT_FDW_AWS_RESPONSES_H */
