/*-------------------------------------------------------------------------
 *
 * s3.c
 *		Amazon S3: GetObject (whole, streamed, or read in ranges over
 *		several connections at once), PutObject, HeadObject, ListObjectsV2,
 *		and s3:// URIs.
 *
 * Addressing: with a server `endpoint` (the emulator, LocalStack, a VPC
 * endpoint) requests are path-style (<endpoint>/<bucket>/<key>).  Against
 * AWS itself, buckets whose names are valid DNS labels are addressed
 * virtual-hosted style (<bucket>.s3.<region>.amazonaws.com), as the SDKs
 * do; others path-style.  Keys are encoded once and never normalized (S3's
 * SigV4 rules); every request carries x-amz-content-sha256.
 *
 * One HTTP stream from S3 carries tens of MB/s; a large object is read
 * faster over several connections.  The object reader asks for the object
 * in parts (Range: bytes=<first>-<last>), up to `connections` of them at
 * once, and hands the bytes to its caller in the object's order:
 *	- The first request is the first part; its answer tells the object's
 *	  size and ETag (Content-Range, ETag), so a small object costs one
 *	  request, as a plain GET does.  Later parts carry If-Match with that
 *	  ETag: an object replaced under the reader is an error, never a mix.
 *	- Memory is bounded by connections x part size: a part is held until
 *	  the reader has taken all of it, and the next part is asked for only
 *	  then.  All parts are transfers of the backend's one curl multi handle,
 *	  so they move on while the reader waits for the part it needs.
 *	- A part whose request fails is retried like any request; one whose
 *	  body breaks off is resumed where it broke (http.c); what still fails
 *	  is raised with S3's error code, message and request id.  A part
 *	  shorter or longer than asked for is an error.
 *	- An endpoint that ignores Range (200 and the whole object) is read as
 *	  one stream; an empty object (416 to any range) reads as empty.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/memutils.h"

#include "aws/aws_internal.h"
#include "aws/sigv4.h"

static bool bucket_is_dns_label(const char *bucket);
static void s3_request_init(AwsHttpRequest *req, AwsClient *client,
							const char *operation, const char *method,
							const char *bucket, const char *key);
static char *wire_key(const char *key);
static bool list_cb(const char *path, const char *text, size_t len, void *arg);
static void reader_open_part(S3ObjectReader *r, int64 first, int64 last);
static void reader_close_part(S3ObjectReader *r);
static void reader_open_next(S3ObjectReader *r);
static bool parse_content_range(const char *v, int64 *first, int64 *last,
								int64 *size);

/* the most parts a reader holds at once */
#define S3_READER_MAX_CONNECTIONS 64

/* One part of an object being read: a ranged GET. */
typedef struct S3Part
{
	MemoryContext cxt;			/* the part's request and stream */
	AwsStream  *stream;
	int64		first;			/* byte offsets, inclusive */
	int64		last;
	int64		got;			/* bytes handed to the reader */
} S3Part;

struct S3ObjectReader
{
	AwsClient  *client;
	MemoryContext cxt;
	char	   *bucket;
	char	   *key;
	int			connections;
	int64		part_size;
	int64		size;			/* the object's size */
	char	   *etag;
	int64		next_first;		/* the first byte not yet asked for */
	AwsStream  *whole;			/* the object in one stream (Range ignored) */
	S3Part		parts[S3_READER_MAX_CONNECTIONS];	/* a ring, in order */
	int			head;
	int			nparts;
};

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

/*
 * "bytes <first>-<last>/<size>" (RFC 9110's Content-Range); false when it is
 * not that, or the size is unknown ("*").
 */
static bool
parse_content_range(const char *v, int64 *first, int64 *last, int64 *size)
{
	char	   *end;

	if (v == NULL || strncmp(v, "bytes ", 6) != 0)
		return false;
	errno = 0;
	*first = strtoll(v + 6, &end, 10);
	if (errno != 0 || end == v + 6 || *end != '-')
		return false;
	v = end + 1;
	*last = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '/')
		return false;
	v = end + 1;
	*size = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return false;
	return *first >= 0 && *first <= *last && *last < *size;
}

/*
 * Ask for bytes first..last of the object as the next part of the ring;
 * last < 0 for the first part, whose answer also tells the object's size.
 */
static void
reader_open_part(S3ObjectReader *r, int64 first, int64 last)
{
	static const long first_ok[] = {416, 0};
	S3Part	   *p = &r->parts[(r->head + r->nparts) % r->connections];
	AwsHttpRequest *req;
	AwsHeader  *range;
	MemoryContext old;

	p->cxt = AllocSetContextCreate(r->cxt, "audit_fdw S3 object part",
								   ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(p->cxt);
	req = palloc(sizeof(AwsHttpRequest));
	s3_request_init(req, r->client, "GetObject", "GET", r->bucket, r->key);
	range = palloc(sizeof(AwsHeader));
	range->name = "range";
	range->value = psprintf("bytes=" INT64_FORMAT "-" INT64_FORMAT, first,
							last >= 0 ? last : first + r->part_size - 1);
	req->headers = list_make1(range);
	if (last < 0)
		req->ok_statuses = first_ok;
	else if (r->etag != NULL)
	{
		AwsHeader  *if_match = palloc(sizeof(AwsHeader));

		if_match->name = "if-match";
		if_match->value = r->etag;
		req->headers = lappend(req->headers, if_match);
	}
	req->stream_buffer = (size_t) r->part_size;
	p->stream = aws_http_stream_open(req);
	MemoryContextSwitchTo(old);
	p->first = first;
	p->last = last;
	p->got = 0;
	r->nparts++;
}

/* Let go of the part at the head of the ring. */
static void
reader_close_part(S3ObjectReader *r)
{
	S3Part	   *p = &r->parts[r->head];

	MemoryContextDelete(p->cxt);	/* ends its transfer */
	p->cxt = NULL;
	p->stream = NULL;
	r->head = (r->head + 1) % r->connections;
	r->nparts--;
}

/* Ask for the next part of the object, if any is left. */
static void
reader_open_next(S3ObjectReader *r)
{
	int64		last;

	if (r->next_first >= r->size)
		return;
	last = Min(r->next_first + r->part_size, r->size) - 1;
	reader_open_part(r, r->next_first, last);
	r->next_first = last + 1;
}

S3ObjectReader *
s3_object_reader_open(AwsClient *client, const char *bucket, const char *key,
					  int connections, int64 part_size)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "audit_fdw S3 object reader",
											  ALLOCSET_SMALL_SIZES);
	S3ObjectReader *r = MemoryContextAllocZero(cxt, sizeof(S3ObjectReader));
	MemoryContext old = MemoryContextSwitchTo(cxt);
	S3Part	   *p;
	List	   *headers;
	const char *content_range = NULL;
	ListCell   *lc;
	long		status;
	int64		first,
				last,
				size;

	r->client = client;
	r->cxt = cxt;
	r->bucket = pstrdup(bucket);
	r->key = pstrdup(key);
	r->connections = Max(1, Min(connections, S3_READER_MAX_CONNECTIONS));
	r->part_size = Max(part_size, 1);

	if (r->connections == 1)
	{
		/* one connection: the object as one stream */
		r->whole = s3_get_object_stream(client, bucket, key);
		MemoryContextSwitchTo(old);
		return r;
	}

	reader_open_part(r, 0, -1);
	p = &r->parts[r->head];
	status = aws_stream_status(p->stream, &headers);
	if (status == 416)
	{
		/* S3 answers so to any range of an empty object */
		reader_close_part(r);
		MemoryContextSwitchTo(old);
		return r;
	}
	if (status == 200)
	{
		/* the endpoint ignored the range: this is the whole object */
		r->whole = p->stream;
		MemoryContextSwitchTo(old);
		return r;
	}
	foreach(lc, headers)
	{
		AwsHeader  *h = lfirst(lc);

		if (strcmp(h->name, "content-range") == 0)
			content_range = h->value;
		else if (strcmp(h->name, "etag") == 0)
			r->etag = pstrdup(h->value);
	}
	if (!parse_content_range(content_range, &first, &last, &size) || first != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("aws s3 GetObject answered a range request for s3://%s/%s without the range and size of the object",
						bucket, key),
				 errdetail_internal("HTTP status %ld, Content-Range %s.",
									status, content_range ? content_range : "(none)")));
	p->last = last;
	r->size = size;
	r->next_first = last + 1;
	/* the other parts are asked for at the first read */
	MemoryContextSwitchTo(old);
	return r;
}

/* Up to len bytes of the object, in order; 0 at its end. */
size_t
s3_object_reader_read(S3ObjectReader *r, char *buf, size_t len)
{
	if (r->whole != NULL)
		return aws_stream_read(r->whole, buf, len);
	while (r->nparts > 0)
	{
		S3Part	   *p;
		int64		want;
		size_t		n;

		if (r->nparts < r->connections && r->next_first < r->size)
		{
			MemoryContext old = MemoryContextSwitchTo(r->cxt);

			while (r->nparts < r->connections && r->next_first < r->size)
				reader_open_next(r);
			MemoryContextSwitchTo(old);
		}
		p = &r->parts[r->head];
		want = p->last - p->first + 1;
		n = aws_stream_read(p->stream, buf, len);
		p->got += n;
		if (p->got > want || (n == 0 && p->got != want))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("aws s3 GetObject returned %s bytes " INT64_FORMAT "-" INT64_FORMAT " of s3://%s/%s",
							p->got > want ? "more than" : "less than",
							p->first, p->last, r->bucket, r->key),
					 errdetail("The range asked for is " INT64_FORMAT " bytes; " INT64_FORMAT " came.",
							   want, p->got)));
		if (n > 0)
			return n;
		reader_close_part(r);
	}
	return 0;
}

void
s3_object_reader_close(S3ObjectReader *r)
{
	if (r != NULL)
		MemoryContextDelete(r->cxt);	/* ends every transfer */
}
