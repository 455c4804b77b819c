/*-------------------------------------------------------------------------
 *
 * firehose.c
 *		The Amazon Data Firehose client.
 *
 * Firehose speaks AWS JSON 1.1 (X-Amz-Target Firehose_20150804.<Operation>).
 * Requests are released whatever happens; responses belong to the caller's
 * memory context (see aws.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <json-c/json.h>

#include "aws/aws.h"

static json_object *call_and_release(AwsClient *client, const char *operation,
									 json_object *req, AwsError **error);

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
	if (!json_object_object_get_ex(resp, "DeliveryStreamDescription", &description))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid Firehose DescribeDeliveryStream response"),
				 errdetail("The response has no DeliveryStreamDescription.")));
	return description;
}

/* CreateDeliveryStream (request not consumed); returns the stream's ARN. */
char *
firehose_create_delivery_stream(AwsClient *client, json_object *request)
{
	json_object *resp;
	json_object *arn;
	char	   *result = NULL;

	resp = call_and_release(client, "CreateDeliveryStream", json_object_get(request), NULL);
	if (json_object_object_get_ex(resp, "DeliveryStreamARN", &arn))
		result = pstrdup(json_object_get_string(arn));
	aws_json_release(resp);
	return result;
}
