/*-------------------------------------------------------------------------
 *
 * dynamodbstreams.h
 *		DynamoDB Streams client (and DynamoDB's DescribeTable, which names a
 *		table's stream) on the AWS client core.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_DYNAMODBSTREAMS_H
#define AUDIT_FDW_DYNAMODBSTREAMS_H

#include "aws/aws.h"

#include <json-c/json.h>

/* One shard of a stream, as DescribeStream lists it. */
typedef struct StreamShard
{
	char	   *shard_id;
	char	   *parent_shard_id;	/* NULL for a root shard */
	char	   *starting_sequence_number;
	char	   *ending_sequence_number; /* NULL while the shard is open */
} StreamShard;

typedef struct StreamDescription
{
	char	   *stream_arn;
	char	   *stream_status;	/* ENABLING | ENABLED | DISABLING | DISABLED */
	char	   *stream_view_type;
	char	   *table_name;
	List	   *shards;			/* of StreamShard *, every page */
} StreamDescription;

/* A GetRecords page. records is owned by the caller's memory context. */
typedef struct StreamRecordsPage
{
	json_object *response;
	json_object *records;		/* the Records array (borrowed from response) */
	int			nrecords;
	char	   *next_iterator;	/* NULL once a closed shard is drained */
} StreamRecordsPage;

/* in dynamodbstreams.c */
extern char *ddb_latest_stream_arn(AwsClient *client, const char *table_name);
extern char *ddbstreams_table_from_arn(const char *stream_arn);
extern List *ddbstreams_list_streams(AwsClient *client, const char *table_name);
extern StreamDescription *ddbstreams_describe_stream(AwsClient *client,
													 const char *stream_arn);
extern char *ddbstreams_get_shard_iterator(AwsClient *client,
										   const char *stream_arn,
										   const char *shard_id,
										   const char *iterator_type,
										   const char *sequence_number,
										   AwsError **error);
extern AwsResponse *ddbstreams_get_records_text(AwsClient *client,
												const char *iterator,
												int limit, AwsError **error);
extern StreamRecordsPage *ddbstreams_get_records(AwsClient *client,
												 const char *iterator,
												 int limit, AwsError **error);

#endif							/* AUDIT_FDW_DYNAMODBSTREAMS_H */
