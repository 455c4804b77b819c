/*-------------------------------------------------------------------------
 *
 * s3.c
 *		Amazon S3: GetObject (whole or streamed), PutObject, HeadObject,
 *		ListObjectsV2, and s3:// URIs.
 *
 * Addressing: with a server `endpoint` (the emulator, LocalStack, a VPC
 * endpoint) requests are path-style (<endpoint>/<bucket>/<key>).  Against
 * AWS itself, buckets whose names are valid DNS labels are addressed
 * virtual-hosted style (<bucket>.s3.<region>.amazonaws.com), as the SDKs
 * do; others path-style.  Keys are encoded once and never normalized (S3's
 * SigV4 rules); every request carries x-amz-content-sha256.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "aws/aws_internal.h"
#include "aws/sigv4.h"

static bool bucket_is_dns_label(const char *bucket);
static void s3_request_init(AwsHttpRequest *req, AwsClient *client,
							const char *operation, const char *method,
							const char *bucket, const char *key);
static char *wire_key(const char *key);
static bool list_cb(const char *path, const char *text, size_t len, void *arg);

bool
aws_parse_s3_uri(const char *uri, char **bucket, char **key)
{
	const char *b;
	const char *slash;

	if (uri == NULL || pg_strncasecmp(uri, "s3://", 5) != 0)
		return false;
	b = uri + 5;
	slash = strchr(b, '/');
	if (slash == b || *b == '\0')
		return false;
	if (slash == NULL)
	{
		*bucket = pstrdup(b);
		*key = pstrdup("");
	}
	else
	{
		*bucket = pnstrdup(b, slash - b);
		*key = pstrdup(slash + 1);
	}
	return true;
}

/* Lower-case letters, digits and hyphens, 3 to 63 characters, no dots. */
static bool
bucket_is_dns_label(const char *bucket)
{
	size_t		n = strlen(bucket);

	if (n < 3 || n > 63 || bucket[0] == '-' || bucket[n - 1] == '-')
		return false;
	for (const char *p = bucket; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

/* A key encoded for the wire: once, '/' kept. */
static char *
wire_key(const char *key)
{
	char	   *enc = sigv4_uri_encode(key, false);
	char	   *r;

	if (enc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	r = pstrdup(enc);
	free(enc);
	return r;
}

static void
s3_request_init(AwsHttpRequest *req, AwsClient *client, const char *operation,
				const char *method, const char *bucket, const char *key)
{
	char	   *k = (key && key[0]) ? wire_key(key) : pstrdup("");

	memset(req, 0, sizeof(AwsHttpRequest));
	req->service = AWS_SERVICE_S3;
	req->operation = operation;
	req->method = method;
	req->client = client;
	req->s3_signing = true;
	if ((client->endpoint == NULL || client->endpoint[0] == '\0') &&
		bucket_is_dns_label(bucket))
	{
		char	   *base = aws_service_base_url(client, AWS_SERVICE_S3);

		/* https://s3.<region>... -> https://<bucket>.s3.<region>... */
		req->base_url = psprintf("https://%s.%s", bucket, base + strlen("https://"));
		req->path = psprintf("/%s", k);
	}
	else
	{
		char	   *b = wire_key(bucket);

		req->base_url = aws_service_base_url(client, AWS_SERVICE_S3);
		req->path = (key != NULL) ? psprintf("/%s/%s", b, k) : psprintf("/%s", b);
	}
}

AwsStream *
s3_get_object_stream(AwsClient *client, const char *bucket, const char *key)
{
	AwsHttpRequest *req = palloc(sizeof(AwsHttpRequest));

	s3_request_init(req, client, "GetObject", "GET", bucket, key);
	return aws_http_stream_open(req);
}

char *
s3_get_object(AwsClient *client, const char *bucket, const char *key,
			  size_t *len)
{
	AwsHttpRequest req;
	AwsResponse *resp;

	s3_request_init(&req, client, "GetObject", "GET", bucket, key);
	resp = aws_http_execute(&req, NULL);
	if (len)
		*len = resp->body_len;
	return resp->body;
}

void
s3_put_object(AwsClient *client, const char *bucket, const char *key,
			  const char *body, size_t len)
{
	AwsHttpRequest req;
	AwsHeader  *ct = palloc(sizeof(AwsHeader));

	s3_request_init(&req, client, "PutObject", "PUT", bucket, key);
	ct->name = "content-type";
	ct->value = "application/octet-stream";
	req.headers = list_make1(ct);
	req.body = body ? body : "";
	req.body_len = body ? len : 0;
	(void) aws_http_execute(&req, NULL);
}

bool
s3_head_object(AwsClient *client, const char *bucket, const char *key,
			   int64 *size)
{
	static const long ok[] = {404, 0};
	AwsHttpRequest req;
	AwsResponse *resp;
	const char *cl;

	s3_request_init(&req, client, "HeadObject", "HEAD", bucket, key);
	req.ok_statuses = ok;
	resp = aws_http_execute(&req, NULL);
	if (resp->status == 404)
		return false;
	cl = aws_response_header(resp, "content-length");
	if (size)
		*size = cl ? strtoll(cl, NULL, 10) : -1;
	return true;
}

typedef struct ListState
{
	List	   *objects;
	S3Object   *current;
	bool		truncated;
	char	   *next_token;
} ListState;

static bool
list_cb(const char *path, const char *text, size_t len, void *arg)
{
	ListState  *st = arg;

	if (strcmp(path, "ListBucketResult/Contents/Key") == 0)
	{
		st->current = palloc0(sizeof(S3Object));
		st->current->key = pnstrdup(text, len);
		st->current->size = -1;
		st->objects = lappend(st->objects, st->current);
	}
	else if (st->current != NULL &&
			 strcmp(path, "ListBucketResult/Contents/Size") == 0)
		st->current->size = strtoll(text, NULL, 10);
	else if (st->current != NULL &&
			 strcmp(path, "ListBucketResult/Contents/ETag") == 0)
		st->current->etag = pnstrdup(text, len);
	else if (st->current != NULL &&
			 strcmp(path, "ListBucketResult/Contents/LastModified") == 0)
		st->current->last_modified = pnstrdup(text, len);
	else if (strcmp(path, "ListBucketResult/IsTruncated") == 0)
		st->truncated = (strcmp(text, "true") == 0);
	else if (strcmp(path, "ListBucketResult/NextContinuationToken") == 0)
		st->next_token = pnstrdup(text, len);
	return true;
}

List *
s3_list_objects_v2(AwsClient *client, const char *bucket, const char *prefix)
{
	ListState	st = {NIL, NULL, false, NULL};
	char	   *token = NULL;

	for (;;)
	{
		AwsHttpRequest req;
		AwsResponse *resp;
		StringInfoData query;
		char	   *enc;

		s3_request_init(&req, client, "ListObjectsV2", "GET", bucket, NULL);
		initStringInfo(&query);
		appendStringInfoString(&query, "list-type=2");
		if (token != NULL)
		{
			enc = aws_form_encode(token);
			appendStringInfo(&query, "&continuation-token=%s", enc ? enc : "");
			free(enc);
		}
		if (prefix != NULL && prefix[0] != '\0')
		{
			enc = aws_form_encode(prefix);
			appendStringInfo(&query, "&prefix=%s", enc ? enc : "");
			free(enc);
		}
		req.query = query.data;
		resp = aws_http_execute(&req, NULL);

		st.truncated = false;
		st.next_token = NULL;
		st.current = NULL;
		if (!aws_xml_walk(resp->body, resp->body_len, list_cb, &st))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("aws s3 ListObjectsV2 returned malformed XML"),
					 errdetail_internal("Request id %s.",
										resp->request_id ? resp->request_id : "(none)")));
		pfree(resp->body);
		if (!st.truncated || st.next_token == NULL)
			break;
		token = st.next_token;
	}
	return st.objects;
}
