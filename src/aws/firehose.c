/*-------------------------------------------------------------------------
 *
 * firehose.c
 *		The Amazon Data Firehose client: DescribeDeliveryStream and
 *		CreateDeliveryStream (provisioning), PutRecordBatch (the pump).
 *
 * Firehose speaks AWS JSON 1.1 (X-Amz-Target Firehose_20150804.<Operation>).
 * Requests are released whatever happens; responses belong to the caller's
 * memory context (see aws.h).
 *
 * A PutRecordBatch can succeed as a call and still fail some of its
 * entries (FailedPutCount, an ErrorCode per entry in request order); the
 * result keeps that per-entry outcome so the caller resends only what
 * failed.  Whole-call AWS errors that the core gave up on are returned in
 * *error, not raised, so the pump can back off and keep its batch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <json-c/json.h>

#include "aws/aws.h"
#include "aws/base64.h"
#include "aws/bigalloc.h"
#include "aws/firehose.h"
#include "aws/jsontext.h"
#include "aws/responses.h"
#include "utils/memutils.h"

static json_object *call_and_release(AwsClient *client, const char *operation,
									 json_object *req, AwsError **error);
static void request_reset(void *arg);
static json_object *own(json_object *obj);
static void bad_response(const char *what) pg_attribute_noreturn();

/*
 * PutRecordBatch's request body, kept from one call to the next, from
 * aws/bigalloc.h: in a pump worker, huge pages faulted in once.
 */
static char *request_body = NULL;
static size_t request_body_cap = 0;

#define BODY_START "{\"DeliveryStreamName\":"
#define BODY_RECORDS ",\"Records\":["
#define BODY_END "]}"


/*
 * A Firehose call; the request is released whatever happens.  With error,
 * an AWS error is returned there (and NULL as the result) instead of raised.
 */
static json_object *
call_and_release(AwsClient *client, const char *operation, json_object *req,
				 AwsError **error)
{
	json_object *volatile resp = NULL;

	PG_TRY();
	{
		if (error)
			resp = aws_json_call_try(client, AWS_SERVICE_FIREHOSE, operation, req, error);
		else
			resp = aws_json_call(client, AWS_SERVICE_FIREHOSE, operation, req);
	}
	PG_CATCH();
	{
		json_object_put(req);
		PG_RE_THROW();
	}
	PG_END_TRY();
	json_object_put(req);
	return resp;
}

/*
 * Provisioning (create_delivery_stream)
 */

/*
 * The DeliveryStreamDescription of the named stream, or NULL when there is
 * none.
 */
json_object *
firehose_describe_delivery_stream(AwsClient *client, const char *name)
{
	json_object *req = json_object_new_object();
	json_object *resp;
	json_object *description;
	AwsError   *error = NULL;

	json_object_object_add(req, "DeliveryStreamName", json_object_new_string(name));
	resp = call_and_release(client, "DescribeDeliveryStream", req, &error);
	if (resp == NULL)
	{
		if (strcmp(error->code, "ResourceNotFoundException") == 0)
			return NULL;
		aws_error_raise(error);
	}
	if ((description = aws_json_obj(resp, "DeliveryStreamDescription")) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid Firehose DescribeDeliveryStream response"),
				 errdetail("The response has no DeliveryStreamDescription.")));
	return description;
}

/*
 * CreateDeliveryStream (request not consumed).  Returns the stream's ARN, or
 * NULL when a stream of that name exists already (created by someone else
 * since the caller looked).
 */
char *
firehose_create_delivery_stream(AwsClient *client, json_object *request)
{
	json_object *resp;
	const char *arn;
	AwsError   *error = NULL;
	char	   *result = "";

	resp = call_and_release(client, "CreateDeliveryStream", json_object_get(request), &error);
	if (resp == NULL)
	{
		if (strcmp(error->code, "ResourceInUseException") == 0)
			return NULL;
		aws_error_raise(error);
	}
	if ((arn = aws_json_str(resp, "DeliveryStreamARN")) != NULL)
		result = pstrdup(arn);
	return result;
}

/*
 * The pump (PutRecordBatch)
 */

static void
request_reset(void *arg)
{
	json_object_put((json_object *) arg);
}

/* obj is released with the current memory context (also on ERROR). */
static json_object *
own(json_object *obj)
{
	MemoryContextCallback *cb;

	if (obj == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	cb = palloc(sizeof(MemoryContextCallback));
	cb->func = request_reset;
	cb->arg = obj;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return obj;
}

static void
bad_response(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("aws firehose PutRecordBatch returned an unexpected response"),
			 errdetail("%s", what)));
}

/*
 * Sends n records (data[i], lengths[i] bytes each; at most 500 records and
 * 4 MiB in all, each at most 1,000 KiB) to delivery_stream.  Returns the
 * per-entry outcome, or NULL with *error set when the call itself failed.
 */
FirehoseBatchResult *
firehose_put_record_batch(AwsClient *client, const char *delivery_stream,
						  char **data, const size_t *lengths, int n,
						  AwsError **error)
{
	AwsResponse *http;
	json_object *resp;
	json_object *responses;
	int64_t		failed;
	json_tokener *tok;
	FirehoseBatchResult *result;
	size_t		total = 0;
	json_object *name;
	const char *name_json;
	size_t		name_len;
	char	   *p;
	int			accepted;
	int			i;

	Assert(n > 0 && n <= FIREHOSE_MAX_BATCH_RECORDS);

	/*
	 * The body is written here, not built as a tree: up to 4 MiB of base64
	 * goes straight into it, in the buffer of the previous call (a fresh
	 * one would be faulted in page by page on every call).  Its length is
	 * known before: each record's base64 and its 12 bytes of JSON, and the
	 * stream's name as a JSON string.
	 */
	name = json_object_new_string(delivery_stream);
	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	name_json = json_object_to_json_string_length(name, JSON_C_TO_STRING_PLAIN, &name_len);
	for (i = 0; i < n; i++)
		total += AWS_BASE64_LEN(lengths[i]) + 12;
	total += sizeof(BODY_START) + name_len + sizeof(BODY_RECORDS) + sizeof(BODY_END);
	if (total > request_body_cap)
	{
		char	   *grown = bigalloc_realloc(request_body, total);

		if (grown == NULL)
		{
			json_object_put(name);
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("A PutRecordBatch body of %zu bytes.", total)));
		}
		request_body = grown;
		request_body_cap = total;
	}
	p = request_body;
	memcpy(p, BODY_START, sizeof(BODY_START) - 1);
	p += sizeof(BODY_START) - 1;
	memcpy(p, name_json, name_len);
	p += name_len;
	json_object_put(name);
	memcpy(p, BODY_RECORDS, sizeof(BODY_RECORDS) - 1);
	p += sizeof(BODY_RECORDS) - 1;
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			*p++ = ',';
		memcpy(p, "{\"Data\":\"", 9);
		p += 9;
		p += aws_base64_encode((const unsigned char *) data[i], lengths[i], p);
		*p++ = '"';
		*p++ = '}';
	}
	memcpy(p, BODY_END, sizeof(BODY_END) - 1);
	p += sizeof(BODY_END) - 1;
	Assert((size_t) (p - request_body) < total);
	*p = '\0';

	http = aws_json_call_text(client, AWS_SERVICE_FIREHOSE, "PutRecordBatch",
							  request_body, (size_t) (p - request_body), error);
	if (http == NULL)
		return NULL;

	result = palloc0(sizeof(FirehoseBatchResult));
	result->nentries = n;
	result->error_codes = palloc0(sizeof(char *) * n);
	result->error_messages = palloc0(sizeof(char *) * n);

	/* nearly every answer: all accepted, read without a tree */
	if (aws_read_put_batch_all_accepted(http->body, http->body_len, &accepted) &&
		accepted == n)
		return result;

	tok = json_tokener_new();
	if (tok == NULL)
		elog(ERROR, "out of memory");
	resp = json_tokener_parse_ex(tok, http->body, (int) http->body_len);
	json_tokener_free(tok);
	if (resp == NULL || !json_object_is_type(resp, json_type_object))
	{
		if (resp)
			json_object_put(resp);
		bad_response("The response is not a JSON object.");
	}
	own(resp);

	if (!aws_json_int64(resp, "FailedPutCount", &failed) || failed < 0 || failed > n)
		bad_response("The response has no FailedPutCount between 0 and the number of records.");
	result->failed_put_count = (int) failed;
	if ((responses = aws_json_arr(resp, "RequestResponses")) == NULL)
		bad_response("The response has no RequestResponses array.");
	if (aws_json_arr_len(responses) != (size_t) n)
		bad_response(psprintf("The response has %zu entries for %d records.",
							   aws_json_arr_len(responses), n));
	for (i = 0; i < n; i++)
	{
		FirehoseEntryView entry;

		if (!aws_read_put_entry(responses, i, &entry))
			bad_response(psprintf("Entry %d has neither a RecordId nor an ErrorCode.", i + 1));
		if (entry.error_code != NULL)
		{
			result->error_codes[i] = pstrdup(entry.error_code);
			if (entry.error_message != NULL)
				result->error_messages[i] = pstrdup(entry.error_message);
		}
	}
	return result;
}
