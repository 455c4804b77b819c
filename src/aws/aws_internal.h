/*-------------------------------------------------------------------------
 *
 * aws_internal.h
 *		Declarations shared by the files of the AWS client core only
 *		(client.c, http.c, errors.c, credentials.c, sts.c, s3.c).  Code
 *		outside src/aws uses aws.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_AWS_INTERNAL_H
#define AUDIT_FDW_AWS_INTERNAL_H

#include "aws/aws.h"
#include "aws/aws_parse.h"

/* GUCs (client.c) */
extern int	aws_connect_timeout_ms;
extern int	aws_request_timeout_ms;
extern int	aws_max_retries;
extern int	aws_max_retry_time_ms;
extern int	aws_retry_base_delay_ms;
extern bool aws_verify_tls;
extern char *aws_ca_file;
extern int	aws_metadata_timeout_ms;

/* How a service is reached: host prefix, signing name, JSON protocol. */
typedef struct AwsServiceInfo
{
	AwsService	service;
	const char *name;			/* in messages: "dynamodb", "s3" */
	const char *host_prefix;	/* <prefix>.<region>.amazonaws.com */
	const char *signing_name;	/* the SigV4 service */
	const char *target_prefix;	/* X-Amz-Target prefix (JSON services) */
	const char *json_version;	/* "1.0" or "1.1" (JSON services) */
} AwsServiceInfo;

/* in client.c */
extern const AwsServiceInfo *aws_service_info(AwsService service);
extern char *aws_service_base_url(AwsClient *client, AwsService service);

/*
 * One HTTP request of the core.  base_url is "scheme://host[:port]" (an
 * endpoint's path prefix is kept); path and query are as they go on the wire
 * (already encoded).  Signed with the client's credentials (resolved before
 * every attempt), or with creds when set, or not at all when unsigned.
 */
typedef struct AwsHttpRequest
{
	AwsService	service;
	const char *operation;		/* for messages, e.g. "GetRecords" */
	const char *method;
	const char *base_url;
	const char *path;
	const char *query;			/* NULL or without '?' */
	List	   *headers;		/* of AwsHeader *, signed too */
	const char *body;
	size_t		body_len;

	AwsClient  *client;			/* region, credentials */
	AwsCredentials *creds;		/* explicit credentials (STS chains) */
	bool		unsigned_request;
	bool		s3_signing;		/* S3 rules: path as is, payload hash */

	/* behaviour, 0 / false = the GUC defaults */
	int			connect_timeout_ms;
	int			timeout_ms;
	int			max_attempts;	/* 1 = no retries */
	bool		no_proxy;		/* metadata endpoints */
	bool		local_service;	/* IMDS/container: no AWS error parsing */
	/*
	 * The response body is lent, not copied: it stays in the client core's
	 * receive buffer, valid until this backend's next request, and is not
	 * the caller's to free.
	 */
	bool		lend_body;
	const long *ok_statuses;	/* extra statuses returned, 0-terminated */
	size_t		stream_buffer;	/* streams: bytes held ahead of the reader */
} AwsHttpRequest;

/* in http.c */
extern void aws_http_preload(void);
extern AwsResponse *aws_http_execute(AwsHttpRequest *req, AwsError **error);
extern AwsStream *aws_http_stream_open(AwsHttpRequest *req);
extern const char *aws_response_header(AwsResponse *resp, const char *name);

/* in errors.c */
extern void aws_raise(AwsError *error) pg_attribute_noreturn();
extern AwsError *aws_error_from_info(AwsService service, const char *operation,
									 long status, AwsErrorInfo *info);
extern int	aws_error_sqlstate(const char *code, long status);

/* in credentials.c */
extern AwsCredentials *aws_credentials_make(MemoryContext cxt,
											const char *access_key_id,
											const char *secret_access_key,
											const char *session_token,
											int64 expires_at,
											const char *source);
extern void aws_credentials_free(AwsCredentials *creds);

/* in sts.c */
extern AwsCredentials *sts_assume_role(AwsClient *client, AwsCredentials *base,
									   const char *role_arn,
									   const char *session_name,
									   const char *external_id,
									   MemoryContext cxt);
extern AwsCredentials *sts_assume_role_with_web_identity(AwsClient *client,
														 const char *role_arn,
														 const char *session_name,
														 const char *token,
														 MemoryContext cxt);

#endif							/* AUDIT_FDW_AWS_INTERNAL_H */
