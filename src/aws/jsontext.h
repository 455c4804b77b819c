/*-------------------------------------------------------------------------
 *
 * jsontext.h
 *		AWS JSON calls whose request and response stay JSON text: for the
 *		pump's large bodies (GetRecords pages, PutRecordBatch), which it
 *		writes and reads without building json-c trees.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_JSONTEXT_H
#define AUDIT_FDW_JSONTEXT_H

#include "aws/aws.h"

/* in jsontext.c */
extern AwsResponse *aws_json_call_text(AwsClient *client, AwsService service,
									   const char *operation, const char *body,
									   size_t body_len, AwsError **error);

/*
 * The same with at most max_attempts attempts (0: the core's retries), for
 * a caller that backs off by itself and counts what was throttled.
 */
extern AwsResponse *aws_json_call_text_attempts(AwsClient *client, AwsService service,
												const char *operation, const char *body,
												size_t body_len, int max_attempts,
												AwsError **error);

/*
 * The same, with the response body lent rather than copied: it is valid
 * until this backend's next AWS request and is not the caller's to free.
 * For a large answer read at once and dropped (a GetRecords page).
 */
extern AwsResponse *aws_json_call_text_lent(AwsClient *client, AwsService service,
											const char *operation, const char *body,
											size_t body_len, AwsError **error);

#endif							/* AUDIT_FDW_JSONTEXT_H */
