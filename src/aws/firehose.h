/*-------------------------------------------------------------------------
 *
 * firehose.h
 *		Amazon Data Firehose client (PutRecordBatch) on the AWS client core.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_FIREHOSE_H
#define AUDIT_FDW_FIREHOSE_H

#include "aws/aws.h"

/* Firehose's limits on one PutRecordBatch call */
#define FIREHOSE_MAX_BATCH_RECORDS	500
#define FIREHOSE_MAX_BATCH_BYTES	(4 * 1024 * 1024)
#define FIREHOSE_MAX_RECORD_BYTES	(1000 * 1024)

/*
 * The outcome of one PutRecordBatch, entry by entry in request order:
 * error_codes[i] is NULL when entry i was accepted.
 */
typedef struct FirehoseBatchResult
{
	int			nentries;
	int			failed_put_count;
	char	  **error_codes;
	char	  **error_messages;
} FirehoseBatchResult;

/* in firehose.c */
extern FirehoseBatchResult *firehose_put_record_batch(AwsClient *client,
													  const char *delivery_stream,
													  char **data,
													  const size_t *lengths,
													  int n, AwsError **error);

#endif							/* AUDIT_FDW_FIREHOSE_H */
