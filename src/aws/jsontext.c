/*-------------------------------------------------------------------------
 *
 * jsontext.c
 *		AWS JSON 1.0/1.1 calls with the bodies as text.
 *
 * The same request as aws_json_call_try (X-Amz-Target, content type,
 * signing, retries, errors returned in *error or raised) through the core's
 * HTTP layer, but the caller writes the request body and reads the
 * response body itself (palloc'd and NUL-terminated, in the caller's memory
 * context).  The pump uses it where trees would cost more than the work:
 * a GetRecords page of a megabyte, a PutRecordBatch of four.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "aws/aws_internal.h"
#include "aws/jsontext.h"

static AwsResponse *json_text_call(AwsClient *client, AwsService service,
								   const char *operation, const char *body,
								   size_t body_len, int max_attempts, bool lend_body,
								   AwsError **error);

AwsResponse *
aws_json_call_text(AwsClient *client, AwsService service, const char *operation,
				   const char *body, size_t body_len, AwsError **error)
{
	return json_text_call(client, service, operation, body, body_len, 0, false, error);
}

AwsResponse *
aws_json_call_text_attempts(AwsClient *client, AwsService service, const char *operation,
							const char *body, size_t body_len, int max_attempts,
							AwsError **error)
{
	return json_text_call(client, service, operation, body, body_len, max_attempts, false,
						  error);
}

AwsResponse *
aws_json_call_text_lent(AwsClient *client, AwsService service, const char *operation,
						const char *body, size_t body_len, AwsError **error)
{
	return json_text_call(client, service, operation, body, body_len, 0, true, error);
}

static AwsResponse *
json_text_call(AwsClient *client, AwsService service, const char *operation,
			   const char *body, size_t body_len, int max_attempts, bool lend_body,
			   AwsError **error)
{
	const AwsServiceInfo *info = aws_service_info(service);
	AwsHttpRequest req = {0};
	AwsHeader  *content_type = palloc(sizeof(AwsHeader));
	AwsHeader  *target = palloc(sizeof(AwsHeader));

	if (info->target_prefix == NULL)
		elog(ERROR, "%s is not an AWS JSON service", info->name);

	content_type->name = "content-type";
	content_type->value = psprintf("application/x-amz-json-%s", info->json_version);
	target->name = "x-amz-target";
	target->value = psprintf("%s.%s", info->target_prefix, operation);

	req.service = service;
	req.operation = operation;
	req.method = "POST";
	req.base_url = aws_service_base_url(client, service);
	req.path = "/";
	req.headers = list_make2(content_type, target);
	req.body = body;
	req.body_len = body_len;
	req.client = client;
	req.max_attempts = max_attempts;
	req.lend_body = lend_body;

	return aws_http_execute(&req, error);
}
