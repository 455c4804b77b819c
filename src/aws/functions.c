/*-------------------------------------------------------------------------
 *
 * functions.c
 *		SQL functions of the AWS client core, for checking a setup:
 *		audit_fdw.aws_identity(server), audit_fdw.aws_request(server,
 *		service, operation, request), and S3 at a glance:
 *		s3_list_objects(server, uri), s3_object_size(server, uri),
 *		s3_get_object(server, uri), s3_put_object(server, uri, body).
 *
 * Every function works on behalf of the current user through that user's
 * mapping for the server (which needs USAGE on the server).  aws_identity
 * shows the access key id and where it came from, never the secret.
 * aws_request and the s3_ functions act with the server's credentials on
 * anything those credentials reach, so the install script grants them to
 * no one; a superuser grants them where wanted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#define json_object pg_json_object_fn
#include "utils/builtins.h"
#undef json_object
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include <json-c/json.h>

#include "aws/aws_internal.h"

PG_FUNCTION_INFO_V1(audit_fdw_aws_identity);
PG_FUNCTION_INFO_V1(audit_fdw_aws_request);
PG_FUNCTION_INFO_V1(audit_fdw_s3_get_object);
PG_FUNCTION_INFO_V1(audit_fdw_s3_put_object);
PG_FUNCTION_INFO_V1(audit_fdw_s3_object_size);
PG_FUNCTION_INFO_V1(audit_fdw_s3_list_objects);

static AwsClient *client_for_server_name(const char *servername);
static AwsService service_by_name(const char *name);
static void object_uri(const char *uri, char **bucket, char **key);

/* A client for the current user on the named server of audit_fdw. */
static AwsClient *
client_for_server_name(const char *servername)
{
	ForeignServer *server = GetForeignServerByName(servername, false);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
	AclResult	aclresult;

	if (strcmp(fdw->fdwname, "audit_fdw") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" does not use the audit_fdw foreign data wrapper",
						servername)));
	aclresult = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);
	return aws_client_for_server(server->serverid, GetUserId());
}

static AwsService
service_by_name(const char *name)
{
	static const AwsService json_services[] = {
		AWS_SERVICE_DYNAMODB, AWS_SERVICE_DYNAMODB_STREAMS,
		AWS_SERVICE_FIREHOSE, AWS_SERVICE_GLUE, AWS_SERVICE_ATHENA
	};

	for (int i = 0; i < lengthof(json_services); i++)
		if (pg_strcasecmp(name, aws_service_name(json_services[i])) == 0)
			return json_services[i];
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown AWS service \"%s\"", name),
			 errhint("Use one of dynamodb, dynamodbstreams, firehose, glue, athena.")));
	return AWS_SERVICE_DYNAMODB;	/* keep compiler quiet */
}

/*
 * aws_identity(server name) -> (source, access_key_id, account, arn, user_id)
 * through STS GetCallerIdentity.
 */
Datum
audit_fdw_aws_identity(PG_FUNCTION_ARGS)
{
	Name		servername = PG_GETARG_NAME(0);
	AwsClient  *client = client_for_server_name(NameStr(*servername));
	AwsCredentials *creds = aws_client_credentials(client);
	char	   *source = pstrdup(creds->source);
	char	   *access_key_id = pstrdup(creds->access_key_id);
	AwsCallerIdentity *id;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false};

	/* the call may refresh the credentials: what was shown is copied first */
	id = sts_get_caller_identity(client);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	values[0] = CStringGetTextDatum(source);
	values[1] = CStringGetTextDatum(access_key_id);
#define TEXT_OR_NULL(i, s) \
	do { \
		if (s) \
			values[i] = CStringGetTextDatum(s); \
		else \
			nulls[i] = true; \
	} while (0)
	TEXT_OR_NULL(2, id->account);
	TEXT_OR_NULL(3, id->arn);
	TEXT_OR_NULL(4, id->user_id);
#undef TEXT_OR_NULL
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* aws_request(server, service, operation, request jsonb) -> jsonb */
Datum
audit_fdw_aws_request(PG_FUNCTION_ARGS)
{
	Name		servername = PG_GETARG_NAME(0);
	char	   *service = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *operation = text_to_cstring(PG_GETARG_TEXT_PP(2));
	Jsonb	   *request = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	AwsClient  *client = client_for_server_name(NameStr(*servername));
	json_object *req_obj = NULL;
	json_object *volatile resp = NULL;
	const char *text;

	if (request != NULL)
	{
		char	   *s = JsonbToCString(NULL, &request->root, VARSIZE(request));
		json_tokener *tok;

		/* AWS reads UTF-8 */
		s = pg_server_to_any(s, strlen(s), PG_UTF8);
		tok = json_tokener_new_ex(256);

		req_obj = json_tokener_parse_ex(tok, s, strlen(s));
		json_tokener_free(tok);
		if (req_obj == NULL || !json_object_is_type(req_obj, json_type_object))
		{
			if (req_obj)
				json_object_put(req_obj);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the request must be a JSON object")));
		}
	}
	PG_TRY();
	{
		resp = aws_json_call(client, service_by_name(service), operation, req_obj);
	}
	PG_FINALLY();
	{
		if (req_obj)
			json_object_put(req_obj);
	}
	PG_END_TRY();
	text = json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(aws_text_to_server(text))));
}

/* An s3://bucket/key URI with a key, or an error. */
static void
object_uri(const char *uri, char **bucket, char **key)
{
	if (!aws_parse_s3_uri(uri, bucket, key) || (*key)[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid S3 object URI \"%s\"", uri),
				 errhint("Write it as s3://bucket/key.")));
}

/* s3_get_object(server, 's3://bucket/key') -> bytea, read as a stream */
Datum
audit_fdw_s3_get_object(PG_FUNCTION_ARGS)
{
	Name		servername = PG_GETARG_NAME(0);
	char	   *uri = text_to_cstring(PG_GETARG_TEXT_PP(1));
	AwsClient  *client = client_for_server_name(NameStr(*servername));
	char	   *bucket;
	char	   *key;
	AwsStream  *stream;
	StringInfoData buf;
	bytea	   *result;

	object_uri(uri, &bucket, &key);
	stream = s3_get_object_stream(client, bucket, key);
	initStringInfo(&buf);
	for (;;)
	{
		size_t		n;

		enlargeStringInfo(&buf, 65536);
		n = aws_stream_read(stream, buf.data + buf.len, 65536);
		if (n == 0)
			break;
		buf.len += n;
	}
	aws_stream_close(stream);
	result = palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(result, VARHDRSZ + buf.len);
	memcpy(VARDATA(result), buf.data, buf.len);
	PG_RETURN_BYTEA_P(result);
}

/* s3_put_object(server, 's3://bucket/key', body bytea) */
Datum
audit_fdw_s3_put_object(PG_FUNCTION_ARGS)
{
	Name		servername = PG_GETARG_NAME(0);
	char	   *uri = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bytea	   *body = PG_GETARG_BYTEA_PP(2);
	AwsClient  *client = client_for_server_name(NameStr(*servername));
	char	   *bucket;
	char	   *key;

	object_uri(uri, &bucket, &key);
	s3_put_object(client, bucket, key, VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body));
	PG_RETURN_VOID();
}

/* s3_object_size(server, 's3://bucket/key') -> bigint, NULL if missing */
Datum
audit_fdw_s3_object_size(PG_FUNCTION_ARGS)
{
	Name		servername = PG_GETARG_NAME(0);
	char	   *uri = text_to_cstring(PG_GETARG_TEXT_PP(1));
	AwsClient  *client = client_for_server_name(NameStr(*servername));
	char	   *bucket;
	char	   *key;
	int64		size;

	object_uri(uri, &bucket, &key);
	if (!s3_head_object(client, bucket, key, &size))
		PG_RETURN_NULL();
	PG_RETURN_INT64(size);
}

/*
 * s3_list_objects(server, 's3://bucket/prefix') ->
 *		setof (key, size, last_modified, etag)
 */
Datum
audit_fdw_s3_list_objects(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Name		servername = PG_GETARG_NAME(0);
	char	   *uri = text_to_cstring(PG_GETARG_TEXT_PP(1));
	AwsClient  *client;
	char	   *bucket;
	char	   *prefix;
	List	   *objects;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	if (!aws_parse_s3_uri(uri, &bucket, &prefix))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid S3 URI \"%s\"", uri),
				 errhint("Write it as s3://bucket/ or s3://bucket/prefix.")));
	client = client_for_server_name(NameStr(*servername));
	objects = s3_list_objects_v2(client, bucket, prefix);
	foreach(lc, objects)
	{
		S3Object   *o = lfirst(lc);
		Datum		values[4];
		bool		nulls[4] = {false};
		int64		t = o->last_modified ? aws_parse_iso8601(o->last_modified) : -1;

		values[0] = CStringGetTextDatum(aws_text_to_server(o->key));
		values[1] = Int64GetDatum(o->size);
		nulls[1] = (o->size < 0);
		if (t >= 0)
			values[2] = TimestampTzGetDatum(time_t_to_timestamptz((pg_time_t) t));
		else
			nulls[2] = true;
		if (o->etag)
			values[3] = CStringGetTextDatum(o->etag);
		else
			nulls[3] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
