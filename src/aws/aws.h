/*-------------------------------------------------------------------------
 *
 * aws.h
 *		The AWS client core of audit_fdw: services, endpoints, credentials,
 *		signed requests over libcurl, and AWS errors as ereport().
 *
 * Rules every caller can rely on:
 *	- Every call either returns a successful response or raises an ERROR
 *	  carrying an errcode, the AWS error code and message, the HTTP status and
 *	  the request id.  Throttling, 5xx and network failures are retried inside
 *	  the call (full-jitter exponential backoff, bounded in attempts and time).
 *	- Every wait goes through WaitLatchOrSocket and checks for interrupts, so
 *	  query cancel, statement_timeout and SIGTERM interrupt a request in
 *	  flight.
 *	- json-c objects returned to the caller are owned by the memory context
 *	  that was current at the call: a reset callback releases them, so an
 *	  ERROR never leaks them.  Callers may still json_object_put() a response
 *	  early through aws_json_release().
 *	- Secrets are never written to logs, errors or EXPLAIN.
 *
 * Changes since the first version of this contract (all compatible):
 *	- aws_client_for_server() builds a client from a foreign server and a
 *	  user mapping; AwsClient gained server_name.
 *	- AwsError and aws_json_call_try() let a caller act on an AWS error code
 *	  (ExpiredIteratorException, ...) instead of catching an ERROR;
 *	  aws_error_raise() raises such an error later.
 *	- The REST call takes ok_statuses through aws_rest_call_ex().
 *	- sts_get_caller_identity(), s3_head_object(), s3_list_objects_v2().
 *	- aws_stream_status() tells the HTTP status and headers of a stream; a
 *	  stream whose body breaks off is resumed where it broke (Range and
 *	  If-Match), so a reader sees every byte once or gets an ERROR.
 *	- json-c objects are declared as struct json_object (see below).
 *	- AwsCredentials gained refresh_at; AwsService gained the two unsigned
 *	  credential endpoints (instance metadata, container credentials).
 *	- s3_object_reader_open() reads an object with several ranged GETs at
 *	  once, in order, memory bounded.
 *	- JSON responses are parsed up to 256 levels deep (DynamoDB items).
 *	- A request refused for clock skew is signed again with AWS's time
 *	  (from the response's Date), once, and later requests keep the offset.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_AWS_H
#define AUDIT_FDW_AWS_H

#include "postgres.h"

#include "nodes/pg_list.h"

/*
 * json-c objects are named by their struct: PostgreSQL's utils/builtins.h
 * declares a function json_object(), which clashes with json-c's typedef of
 * the same name.  A file that needs both includes them in this order:
 *
 *		#define json_object pg_json_object_fn
 *		#include "utils/builtins.h"
 *		#undef json_object
 *		#include <json-c/json.h>
 */
struct json_object;

typedef enum AwsService
{
	AWS_SERVICE_DYNAMODB,
	AWS_SERVICE_DYNAMODB_STREAMS,
	AWS_SERVICE_FIREHOSE,
	AWS_SERVICE_S3,
	AWS_SERVICE_GLUE,
	AWS_SERVICE_ATHENA,
	AWS_SERVICE_STS,
	/* credential sources reached over HTTP (not signed) */
	AWS_SERVICE_EC2_METADATA,
	AWS_SERVICE_CONTAINER_CREDENTIALS
} AwsService;

/* Resolved credentials; secret strings are wiped when released. */
typedef struct AwsCredentials
{
	char	   *access_key_id;
	char	   *secret_access_key;
	char	   *session_token;	/* NULL when not temporary */
	int64		expires_at;		/* unix seconds; 0 = never */
	int64		refresh_at;		/* fetched again from then on; 0 = never */
	const char *source;			/* "user mapping", "environment", "profile default", ... */
} AwsCredentials;

/*
 * Everything needed to talk to AWS for one (server, user) pair.  Built from
 * a foreign server's and a user mapping's options, or from plain values
 * (the pump worker).  Long-lived: allocate in a context that outlives the
 * requests (the client caches resolved temporary credentials).
 */
struct AwsError;

typedef struct AwsClient
{
	char	   *region;
	char	   *endpoint;		/* base URL for every service, or NULL */
	bool		verify_tls;
	/* explicit credential options of the user mapping (may be NULL) */
	char	   *access_key_id;
	char	   *secret_access_key;
	char	   *session_token;
	char	   *profile;
	char	   *role_arn;		/* optional role to assume on top */
	char	   *external_id;
	/* cache */
	AwsCredentials *creds;
	MemoryContext cxt;
	char	   *server_name;	/* for messages; NULL for plain clients */

	/*
	 * Told of each failed attempt that the client retries by itself (not of
	 * the last one, which the caller gets): so that a long-lived caller can
	 * count throttling and 5xx answers that never reach it.  It must not
	 * raise an error.  NULL: nobody is told.
	 */
	void		(*on_retry) (void *arg, const struct AwsError *error);
	void	   *on_retry_arg;
} AwsClient;

/*
 * A failed AWS call, as aws_json_call_try() returns it (palloc'd in the
 * caller's context).  code is AWS's error code ("ExpiredIteratorException"),
 * or "NetworkError" when no response came back.
 */
/* Why no AWS endpoint answered: a setting to check, not a reason to retry. */
typedef enum AwsUnreachable
{
	AWS_REACHED = 0,
	AWS_HOST_NOT_FOUND,			/* DNS: no such host */
	AWS_CONNECTION_REFUSED		/* nothing listens there */
} AwsUnreachable;

typedef struct AwsError
{
	AwsService	service;
	char	   *operation;
	long		status;			/* HTTP status, 0 for network errors */
	char	   *code;
	char	   *message;		/* AWS's own text, may be NULL */
	char	   *request_id;		/* may be NULL */
	int			sqlerrcode;		/* what aws_error_raise() raises */
	bool		retryable;		/* throttling / 5xx / network */
	int			attempts;		/* how many requests were made */
	/* for the hint: whose options to check, and what did not answer */
	const char *server_name;	/* NULL for plain clients */
	const char *endpoint;		/* the server's endpoint option, or NULL */
	const char *region;
	AwsUnreachable unreachable;
} AwsError;

/* in client.c */
extern void aws_init(void);		/* GUCs of the client; called from _PG_init */
extern AwsClient *aws_client_create(const char *region, const char *endpoint,
									List *options);
extern const char *aws_service_name(AwsService service);
/*
 * The client's credentials, resolved (and refreshed) as needed.  The result
 * is valid until the next call on the client: copy what must outlive it.
 */
extern AwsCredentials *aws_client_credentials(AwsClient *client);

/*
 * A client for a foreign server of audit_fdw and the user mapping of userid
 * (or PUBLIC): the server's region and endpoint options, the mapping's
 * credential options.  Allocated in a child of CurrentMemoryContext.
 */
extern AwsClient *aws_client_for_server(Oid serverid, Oid userid);
extern void aws_client_free(AwsClient *client);

/* in errors.c */
extern void aws_error_raise(AwsError *error) pg_attribute_noreturn();

/*
 * An AWS JSON 1.0/1.1 call (X-Amz-Target = <targetPrefix>.<operation>).
 * Returns the parsed response body (an object, never NULL).
 */
extern struct json_object *aws_json_call(AwsClient *client, AwsService service,
								  const char *operation, struct json_object *request);
extern void aws_json_release(struct json_object *obj);

/*
 * Text of an AWS answer (UTF-8) as a palloc'd string in the database's
 * encoding: verified, and converted when the database is not UTF-8.  Bad
 * bytes and characters the database cannot hold are an ERROR.
 */
extern char *aws_text_to_server(const char *s);

/*
 * The same call, but an AWS error that is not retried (or still fails once
 * the retries are spent) is returned in *error with NULL as the result,
 * instead of being raised.  Interrupts and local failures still raise.
 */
extern struct json_object *aws_json_call_try(AwsClient *client, AwsService service,
									  const char *operation,
									  struct json_object *request, AwsError **error);

/*
 * The same call as one attempt bounded in time (timeout_ms to connect,
 * send and read the answer; no retries): for cleanup paths that must not
 * hold up a cancel.  Errors raise, a timeout as a network error.
 */
extern struct json_object *aws_json_call_within(AwsClient *client, AwsService service,
										 const char *operation,
										 struct json_object *request, int timeout_ms);

/*
 * A REST request (S3).  path is unencoded ("/bucket/key"); query is the raw
 * canonical-ready query string or NULL.  Returns the whole body, palloc'd
 * and NUL-terminated; *status gets the HTTP status.  Non-2xx statuses raise
 * the REST-XML error unless listed in ok_statuses (e.g. 404 for HEAD).
 */
typedef struct AwsResponse
{
	long		status;
	char	   *body;
	size_t		body_len;
	List	   *headers;		/* of AwsHeader *, names lower case */
	char	   *request_id;
} AwsResponse;

typedef struct AwsHeader
{
	char	   *name;
	char	   *value;
} AwsHeader;

extern AwsResponse *aws_rest_call(AwsClient *client, AwsService service,
								  const char *method, const char *path,
								  const char *query, List *headers,
								  const char *body, size_t body_len);

/* ok_statuses: 0-terminated array of non-2xx statuses returned, not raised */
extern AwsResponse *aws_rest_call_ex(AwsClient *client, AwsService service,
									 const char *operation,
									 const char *method, const char *path,
									 const char *query, List *headers,
									 const char *body, size_t body_len,
									 const long *ok_statuses);

/*
 * A streamed response body (S3 GetObject): bytes are pulled by the reader,
 * memory stays bounded (curl is paused while the reader is behind).
 * aws_stream_read returns the number of bytes copied, 0 at end of body.
 */
typedef struct AwsStream AwsStream;

extern AwsStream *aws_stream_open(AwsClient *client, AwsService service,
								  const char *method, const char *path,
								  const char *query, List *headers);
extern size_t aws_stream_read(AwsStream *stream, char *buf, size_t len);
extern void aws_stream_close(AwsStream *stream);

/* The HTTP status and headers (AwsHeader *, lower-case names) of a stream. */
extern long aws_stream_status(AwsStream *stream, List **headers);

/* in s3.c */
extern bool aws_parse_s3_uri(const char *uri, char **bucket, char **key);
extern AwsStream *s3_get_object_stream(AwsClient *client, const char *bucket,
									   const char *key);
extern char *s3_get_object(AwsClient *client, const char *bucket,
						   const char *key, size_t *len);
extern void s3_put_object(AwsClient *client, const char *bucket,
						  const char *key, const char *body, size_t len);

/*
 * An object read with up to `connections` ranged GETs at once, part_size
 * bytes each, handed over in order; memory is bounded by connections x
 * part_size.  Closing it (or resetting the memory context it was opened in)
 * ends every transfer.
 */
typedef struct S3ObjectReader S3ObjectReader;

extern S3ObjectReader *s3_object_reader_open(AwsClient *client,
											 const char *bucket,
											 const char *key,
											 int connections,
											 int64 part_size);
extern size_t s3_object_reader_read(S3ObjectReader *r, char *buf, size_t len);
extern void s3_object_reader_close(S3ObjectReader *r);

/* HeadObject: false when the object does not exist; *size gets its length */
extern bool s3_head_object(AwsClient *client, const char *bucket,
						   const char *key, int64 *size);

typedef struct S3Object
{
	char	   *key;
	int64		size;
	char	   *etag;
	char	   *last_modified;	/* as S3 writes it (ISO 8601) */
} S3Object;

/* ListObjectsV2 of every key under prefix (all pages); a List of S3Object * */
extern List *s3_list_objects_v2(AwsClient *client, const char *bucket,
								const char *prefix);

/* in sts.c */
typedef struct AwsCallerIdentity
{
	char	   *account;
	char	   *arn;
	char	   *user_id;
} AwsCallerIdentity;

extern AwsCallerIdentity *sts_get_caller_identity(AwsClient *client);

/* in firehose.c */
extern struct json_object *firehose_describe_delivery_stream(AwsClient *client,
															 const char *name);
extern char *firehose_create_delivery_stream(AwsClient *client,
											 struct json_object *request);

#endif							/* AUDIT_FDW_AWS_H */
