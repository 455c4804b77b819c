/*-------------------------------------------------------------------------
 *
 * client.c
 *		AWS clients: the GUCs of the client core, services and their
 *		endpoints, clients built from a foreign server and a user mapping,
 *		and the AWS JSON 1.0/1.1 and REST calls on top of http.c.
 *
 * Rules:
 *	- Every service is reached at its regional endpoint
 *	  (<prefix>.<region>.amazonaws.com, .amazonaws.com.cn in China) and
 *	  signed with its signing name, which is not always the host prefix:
 *	  DynamoDB Streams lives at streams.dynamodb.<region> and signs as
 *	  "dynamodb".  A server's `endpoint` option replaces the base URL of
 *	  every service (the emulator, LocalStack, a VPC endpoint).
 *	- TLS verification follows audit_fdw.aws_verify_tls, which only a
 *	  superuser can change; nothing else can turn it off.
 *	- json-c objects handed to callers belong to the caller's memory
 *	  context: a reset callback releases them, so an ERROR never leaks them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/ilist.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include <json-c/json.h>

#include "aws/aws_internal.h"
#include "aws/region.h"
#include "aws/sigv4.h"

/* GUCs */
int			aws_connect_timeout_ms = 5000;
int			aws_request_timeout_ms = 60000;
int			aws_max_retries = 5;
int			aws_max_retry_time_ms = 20000;
int			aws_retry_base_delay_ms = 50;
bool		aws_verify_tls = true;
char	   *aws_ca_file = NULL;
int			aws_metadata_timeout_ms = 1000;

#define AWS_JSON_MAX_DEPTH 256

static const AwsServiceInfo services[] = {
	{AWS_SERVICE_DYNAMODB, "dynamodb", "dynamodb", "dynamodb",
	"DynamoDB_20120810", "1.0"},
	{AWS_SERVICE_DYNAMODB_STREAMS, "dynamodbstreams", "streams.dynamodb",
	"dynamodb", "DynamoDBStreams_20120810", "1.0"},
	{AWS_SERVICE_FIREHOSE, "firehose", "firehose", "firehose",
	"Firehose_20150804", "1.1"},
	{AWS_SERVICE_S3, "s3", "s3", "s3", NULL, NULL},
	{AWS_SERVICE_GLUE, "glue", "glue", "glue", "AWSGlue", "1.1"},
	{AWS_SERVICE_ATHENA, "athena", "athena", "athena", "AmazonAthena", "1.1"},
	{AWS_SERVICE_STS, "sts", "sts", "sts", NULL, NULL},
	{AWS_SERVICE_EC2_METADATA, "ec2 instance metadata", NULL, NULL, NULL, NULL},
	{AWS_SERVICE_CONTAINER_CREDENTIALS, "container credentials", NULL, NULL,
	NULL, NULL},
};

/*
 * A json-c object owned by a memory context.  The registrations of a
 * backend are listed so that aws_json_release() can release one early.
 */
typedef struct JsonOwner
{
	dlist_node	node;
	json_object *obj;
	MemoryContextCallback cb;
} JsonOwner;

static dlist_head json_owners = DLIST_STATIC_INIT(json_owners);

static void json_owner_reset(void *arg);
static json_object *json_own(json_object *obj);
static json_object *json_call(AwsClient *client, AwsService service, const char *operation,
							  json_object *request, AwsError **error, int timeout_ms);
static char *option_string(List *options, const char *name);
static void check_credentials_required(ForeignServer *server, UserMapping *um,
									   Oid userid);
static char *default_region(void);
static char *encode_rest_path(const char *path);

void
aws_init(void)
{
	DefineCustomIntVariable("audit_fdw.aws_connect_timeout",
							"Time allowed to connect to an AWS endpoint.",
							NULL,
							&aws_connect_timeout_ms,
							5000, 1, 600000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("audit_fdw.aws_request_timeout",
							"Time allowed for one AWS request, from connecting to the end of the response.",
							"A streamed response (an S3 object) is instead aborted when no byte arrives for this long.",
							&aws_request_timeout_ms,
							60000, 100, 3600000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("audit_fdw.aws_max_retries",
							"Retries of an AWS request that was throttled or failed with a 5xx or network error.",
							NULL,
							&aws_max_retries,
							5, 0, 100,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("audit_fdw.aws_max_retry_time",
							"Total time an AWS request may spend in retries and their backoff.",
							NULL,
							&aws_max_retry_time_ms,
							20000, 0, 3600000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("audit_fdw.aws_retry_base_delay",
							"Base of the full-jitter exponential backoff between retries of an AWS request.",
							NULL,
							&aws_retry_base_delay_ms,
							50, 1, 60000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("audit_fdw.aws_verify_tls",
							 "Verify the TLS certificates of AWS endpoints.",
							 "Only a superuser can turn verification off.",
							 &aws_verify_tls,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("audit_fdw.aws_ca_file",
							   "File of CA certificates that AWS endpoints are verified against, instead of the system's.",
							   NULL,
							   &aws_ca_file,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("audit_fdw.aws_metadata_timeout",
							"Time allowed for a request to the EC2 instance metadata service or a container credentials endpoint.",
							NULL,
							&aws_metadata_timeout_ms,
							1000, 10, 60000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress)
		aws_http_preload();
}

const AwsServiceInfo *
aws_service_info(AwsService service)
{
	for (int i = 0; i < lengthof(services); i++)
		if (services[i].service == service)
			return &services[i];
	elog(ERROR, "unknown AWS service %d", (int) service);
	return NULL;				/* keep compiler quiet */
}

const char *
aws_service_name(AwsService service)
{
	return aws_service_info(service)->name;
}

/*
 * The base URL of a service for a client: the endpoint option for every
 * service, or the regional endpoint.
 */
char *
aws_service_base_url(AwsClient *client, AwsService service)
{
	const AwsServiceInfo *info = aws_service_info(service);
	const char *region = client->region;
	const char *dns_suffix;

	if (info->host_prefix == NULL)
		elog(ERROR, "%s has no AWS endpoint", info->name);
	if (client->endpoint != NULL && client->endpoint[0] != '\0')
	{
		char	   *url = pstrdup(client->endpoint);
		size_t		n = strlen(url);

		while (n > 0 && url[n - 1] == '/')
			url[--n] = '\0';
		return url;
	}
	if (region == NULL || region[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("no AWS region for %s", info->name),
				 errhint("Set the region option of the foreign server, or AWS_REGION in the server's environment.")));
	/* the region may come from the environment or a profile: check it here too */
	if (!aws_region_valid(region, NULL, &dns_suffix))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid AWS region \"%s\"", region),
				 errdetail(AWS_REGION_FORM_DETAIL),
				 errhint("Set the region option of the foreign server to a region name.")));
	return psprintf("https://%s.%s.%s", info->host_prefix, region, dns_suffix);
}

static char *
option_string(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, name) == 0)
			return pstrdup(defGetString(def));
	}
	return NULL;
}

static char *
default_region(void)
{
	const char *r = getenv("AWS_REGION");

	if (r == NULL || r[0] == '\0')
		r = getenv("AWS_DEFAULT_REGION");
	return (r && r[0]) ? pstrdup(r) : NULL;
}

/*
 * A client from plain values.  options is a List of DefElem with the user
 * mapping's credential options (access_key_id, secret_access_key,
 * session_token, profile, role_arn, external_id); unknown names are
 * ignored here (the FDW validator rejects them).
 */
AwsClient *
aws_client_create(const char *region, const char *endpoint, List *options)
{
	MemoryContext cxt;
	MemoryContext old;
	AwsClient  *client;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "audit_fdw AWS client",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	client = palloc0(sizeof(AwsClient));
	client->cxt = cxt;
	client->region = (region && region[0]) ? pstrdup(region) : default_region();
	client->endpoint = (endpoint && endpoint[0]) ? pstrdup(endpoint) : NULL;
	client->verify_tls = true;
	client->access_key_id = option_string(options, "access_key_id");
	client->secret_access_key = option_string(options, "secret_access_key");
	client->session_token = option_string(options, "session_token");
	client->profile = option_string(options, "profile");
	client->role_arn = option_string(options, "role_arn");
	client->external_id = option_string(options, "external_id");
	MemoryContextSwitchTo(old);

	if ((client->access_key_id == NULL) != (client->secret_access_key == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("access_key_id and secret_access_key must be given together")));
	return client;
}

/*
 * Frees a client and everything it cached, its secrets overwritten first:
 * a long-lived worker that replaces its client (the user mapping changed)
 * keeps neither the memory nor the old keys.
 */
void
aws_client_free(AwsClient *client)
{
	if (client == NULL)
		return;
	aws_credentials_free(client->creds);
	client->creds = NULL;
	if (client->secret_access_key)
		memset(client->secret_access_key, 0, strlen(client->secret_access_key));
	if (client->session_token)
		memset(client->session_token, 0, strlen(client->session_token));
	MemoryContextDelete(client->cxt);
}

AwsClient *
aws_client_for_server(Oid serverid, Oid userid)
{
	ForeignServer *server = GetForeignServer(serverid);
	UserMapping *um = GetUserMapping(userid, serverid);
	AwsClient  *client;

	check_credentials_required(server, um, userid);

	client = aws_client_create(option_string(server->options, "region"),
							   option_string(server->options, "endpoint"),
							   um->options);
	client->server_name = MemoryContextStrdup(client->cxt, server->servername);
	return client;
}

/*
 * A user mapping without access keys signs with the database server's own
 * AWS identity: its environment, its configuration files, its web identity,
 * container or instance role.  As postgres_fdw does for passwords, a
 * non-superuser may only use that where a superuser allowed it on the user
 * mapping (credentials_required 'false', an option only a superuser sets).
 */
static void
check_credentials_required(ForeignServer *server, UserMapping *um, Oid userid)
{
	ListCell   *lc;

	if (superuser_arg(userid) || option_string(um->options, "access_key_id") != NULL)
		return;
	foreach(lc, um->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "credentials_required") == 0 && !defGetBoolean(def))
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
			 errmsg("AWS credentials are required for non-superusers"),
			 errdetail("The user mapping of role \"%s\" for server \"%s\" has no access_key_id and secret_access_key, so requests would be signed with the database server's own AWS identity.",
					   GetUserNameFromId(userid, false), server->servername),
			 errhint("Give the user mapping access_key_id and secret_access_key, or have a superuser set its option credentials_required 'false'.")));
}

/* Memory context reset callback: release a json-c object. */
static void
json_owner_reset(void *arg)
{
	JsonOwner  *owner = arg;

	if (owner->obj)
	{
		json_object_put(owner->obj);
		owner->obj = NULL;
		dlist_delete(&owner->node);
	}
}

/* Make CurrentMemoryContext the owner of obj. */
static json_object *
json_own(json_object *obj)
{
	JsonOwner  *owner = palloc0(sizeof(JsonOwner));

	owner->obj = obj;
	owner->cb.func = json_owner_reset;
	owner->cb.arg = owner;
	dlist_push_head(&json_owners, &owner->node);
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &owner->cb);
	return obj;
}

void
aws_json_release(json_object *obj)
{
	dlist_mutable_iter iter;

	if (obj == NULL)
		return;
	dlist_foreach_modify(iter, &json_owners)
	{
		JsonOwner  *owner = dlist_container(JsonOwner, node, iter.cur);

		if (owner->obj == obj)
		{
			json_object_put(owner->obj);
			owner->obj = NULL;
			dlist_delete(&owner->node);
			return;
		}
	}
	/* not one of ours: the caller owns it */
	json_object_put(obj);
}

json_object *
aws_json_call_try(AwsClient *client, AwsService service, const char *operation,
				  json_object *request, AwsError **error)
{
	return json_call(client, service, operation, request, error, 0);
}

json_object *
aws_json_call_within(AwsClient *client, AwsService service, const char *operation,
					 json_object *request, int timeout_ms)
{
	return json_call(client, service, operation, request, NULL, timeout_ms);
}

/*
 * An AWS JSON call; timeout_ms > 0 makes it one attempt that connects,
 * sends and reads within that time.
 */
static json_object *
json_call(AwsClient *client, AwsService service, const char *operation,
		  json_object *request, AwsError **error, int timeout_ms)
{
	const AwsServiceInfo *info = aws_service_info(service);
	AwsHttpRequest req = {0};
	AwsHeader  *content_type = palloc(sizeof(AwsHeader));
	AwsHeader  *target = palloc(sizeof(AwsHeader));
	AwsResponse *resp;
	const char *body;
	size_t		body_len;
	json_tokener *tok;
	json_object *result;
	enum json_tokener_error jerr;

	if (info->target_prefix == NULL)
		elog(ERROR, "%s is not an AWS JSON service", info->name);

	content_type->name = "content-type";
	content_type->value = psprintf("application/x-amz-json-%s", info->json_version);
	target->name = "x-amz-target";
	target->value = psprintf("%s.%s", info->target_prefix, operation);

	if (request != NULL)
	{
		size_t		n;

		body = json_object_to_json_string_length(request,
												 JSON_C_TO_STRING_PLAIN |
												 JSON_C_TO_STRING_NOSLASHESCAPE,
												 &n);
		body_len = n;
	}
	else
	{
		body = "{}";
		body_len = 2;
	}

	req.service = service;
	req.operation = operation;
	req.method = "POST";
	req.base_url = aws_service_base_url(client, service);
	req.path = "/";
	req.headers = list_make2(content_type, target);
	req.body = body;
	req.body_len = body_len;
	req.client = client;
	if (timeout_ms > 0)
	{
		req.connect_timeout_ms = timeout_ms;
		req.timeout_ms = timeout_ms;
		req.max_attempts = 1;
	}

	resp = aws_http_execute(&req, error);
	if (resp == NULL)
		return NULL;

	if (resp->body_len == 0)
		return json_own(json_object_new_object());

	/*
	 * DynamoDB nests maps and lists 32 deep, two JSON levels each, inside a
	 * stream record: json-c's default depth of 32 is not enough.
	 */
	tok = json_tokener_new_ex(AWS_JSON_MAX_DEPTH);
	if (tok == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	result = json_tokener_parse_ex(tok, resp->body, (int) resp->body_len);
	jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (result == NULL || jerr != json_tokener_success ||
		!json_object_is_type(result, json_type_object))
	{
		if (result)
			json_object_put(result);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("aws %s %s returned a response that is not a JSON object",
						info->name, operation),
				 errdetail_internal("HTTP status %ld, request id %s.",
									resp->status,
									resp->request_id ? resp->request_id : "(none)")));
	}
	pfree(resp->body);
	return json_own(result);
}

json_object *
aws_json_call(AwsClient *client, AwsService service, const char *operation,
			  json_object *request)
{
	return aws_json_call_try(client, service, operation, request, NULL);
}

char *
aws_text_to_server(const char *s)
{
	char	   *converted = pg_any_to_server(s, strlen(s), PG_UTF8);

	return converted == s ? pstrdup(s) : converted;
}

/* "/bucket/a key" -> "/bucket/a%20key": each segment encoded once. */
static char *
encode_rest_path(const char *path)
{
	char	   *enc = sigv4_uri_encode(path, false);
	char	   *r;

	if (enc == NULL)
		elog(ERROR, "out of memory");
	r = pstrdup(enc);
	free(enc);
	return r;
}

AwsResponse *
aws_rest_call_ex(AwsClient *client, AwsService service, const char *operation,
				 const char *method, const char *path, const char *query,
				 List *headers, const char *body, size_t body_len,
				 const long *ok_statuses)
{
	AwsHttpRequest req = {0};

	req.service = service;
	req.operation = operation ? operation : method;
	req.method = method;
	req.base_url = aws_service_base_url(client, service);
	req.path = encode_rest_path(path);
	req.query = query;
	req.headers = headers;
	req.body = body;
	req.body_len = body_len;
	req.client = client;
	req.s3_signing = (service == AWS_SERVICE_S3);
	req.ok_statuses = ok_statuses;
	return aws_http_execute(&req, NULL);
}

AwsResponse *
aws_rest_call(AwsClient *client, AwsService service, const char *method,
			  const char *path, const char *query, List *headers,
			  const char *body, size_t body_len)
{
	return aws_rest_call_ex(client, service, NULL, method, path, query,
							headers, body, body_len, NULL);
}

AwsStream *
aws_stream_open(AwsClient *client, AwsService service, const char *method,
				const char *path, const char *query, List *headers)
{
	AwsHttpRequest *req = palloc0(sizeof(AwsHttpRequest));

	req->service = service;
	req->operation = (service == AWS_SERVICE_S3 && strcmp(method, "GET") == 0)
		? "GetObject" : method;
	req->method = method;
	req->base_url = aws_service_base_url(client, service);
	req->path = encode_rest_path(path);
	req->query = query;
	req->headers = headers;
	req->client = client;
	req->s3_signing = (service == AWS_SERVICE_S3);
	return aws_http_stream_open(req);
}
