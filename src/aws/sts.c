/*-------------------------------------------------------------------------
 *
 * sts.c
 *		AWS Security Token Service: AssumeRole, AssumeRoleWithWebIdentity,
 *		GetCallerIdentity.
 *
 * STS speaks the query protocol: a form-encoded POST (Action, Version and
 * the parameters), an XML response, XML errors (<ErrorResponse>).  The
 * regional endpoint is used when the client has a region, the global one
 * (signed for us-east-1) otherwise.  AssumeRoleWithWebIdentity is not
 * signed: the token is the proof.  Credentials parsed from a response are
 * wiped from the response buffer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "aws/aws_internal.h"

#define STS_VERSION "2011-06-15"

static AwsResponse *sts_call(AwsClient *client, AwsCredentials *creds,
							 bool unsigned_request, const char *action,
							 const char *const *params);
static char *xml_text(AwsResponse *resp, const char *suffix);
static AwsCredentials *parse_credentials(AwsResponse *resp, const char *action,
										 const char *source, MemoryContext cxt);

/*
 * One STS call.  params is a NULL-terminated list of name, value pairs
 * (NULL values are skipped).
 */
static AwsResponse *
sts_call(AwsClient *client, AwsCredentials *creds, bool unsigned_request,
		 const char *action, const char *const *params)
{
	AwsHttpRequest req = {0};
	AwsHeader  *content_type = palloc(sizeof(AwsHeader));
	StringInfoData body;

	initStringInfo(&body);
	appendStringInfo(&body, "Action=%s&Version=%s", action, STS_VERSION);
	for (int i = 0; params && params[i]; i += 2)
	{
		char	   *v;

		if (params[i + 1] == NULL)
			continue;
		v = aws_form_encode(params[i + 1]);
		if (v == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		appendStringInfo(&body, "&%s=%s", params[i], v);
		free(v);
	}
	content_type->name = "content-type";
	content_type->value = "application/x-www-form-urlencoded; charset=utf-8";

	req.service = AWS_SERVICE_STS;
	req.operation = action;
	req.method = "POST";
	if ((client->endpoint == NULL || client->endpoint[0] == '\0') &&
		(client->region == NULL || client->region[0] == '\0'))
		req.base_url = "https://sts.amazonaws.com";
	else
		req.base_url = aws_service_base_url(client, AWS_SERVICE_STS);
	req.path = "/";
	req.headers = list_make1(content_type);
	req.body = body.data;
	req.body_len = body.len;
	req.client = client;
	req.creds = creds;
	req.unsigned_request = unsigned_request;
	return aws_http_execute(&req, NULL);
}

/* The text of the first element ending with suffix, palloc'd, or NULL. */
static char *
xml_text(AwsResponse *resp, const char *suffix)
{
	char	   *v = aws_xml_find(resp->body, resp->body_len, suffix);
	char	   *r;

	if (v == NULL)
		return NULL;
	r = pstrdup(v);
	aws_free_secret(v);
	return r;
}

static AwsCredentials *
parse_credentials(AwsResponse *resp, const char *action, const char *source,
				  MemoryContext cxt)
{
	char	   *akid = xml_text(resp, "Credentials/AccessKeyId");
	char	   *secret = xml_text(resp, "Credentials/SecretAccessKey");
	char	   *token = xml_text(resp, "Credentials/SessionToken");
	char	   *expiration = xml_text(resp, "Credentials/Expiration");
	int64		expires_at = 0;
	AwsCredentials *c;

	memset(resp->body, 0, resp->body_len);
	if (akid == NULL || secret == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("aws sts %s returned no credentials", action),
				 errdetail_internal("Request id %s.",
									resp->request_id ? resp->request_id : "(none)")));
	if (expiration != NULL)
	{
		expires_at = aws_parse_iso8601(expiration);
		if (expires_at < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("aws sts %s returned an invalid expiration time \"%s\"",
							action, expiration)));
	}
	c = aws_credentials_make(cxt, akid, secret, token, expires_at, source);
	memset(secret, 0, strlen(secret));
	if (token)
		memset(token, 0, strlen(token));
	return c;
}

AwsCredentials *
sts_assume_role(AwsClient *client, AwsCredentials *base, const char *role_arn,
				const char *session_name, const char *external_id,
				MemoryContext cxt)
{
	const char *params[] = {
		"RoleArn", role_arn,
		"RoleSessionName", session_name,
		"ExternalId", external_id,
		NULL
	};
	AwsResponse *resp = sts_call(client, base, false, "AssumeRole", params);

	return parse_credentials(resp, "AssumeRole",
							 psprintf("assumed role %s", role_arn), cxt);
}

AwsCredentials *
sts_assume_role_with_web_identity(AwsClient *client, const char *role_arn,
								  const char *session_name, const char *token,
								  MemoryContext cxt)
{
	const char *params[] = {
		"RoleArn", role_arn,
		"RoleSessionName", session_name,
		"WebIdentityToken", token,
		NULL
	};
	AwsResponse *resp = sts_call(client, NULL, true,
								 "AssumeRoleWithWebIdentity", params);

	/* the request body held the token */
	return parse_credentials(resp, "AssumeRoleWithWebIdentity",
							 psprintf("web identity %s", role_arn), cxt);
}

AwsCallerIdentity *
sts_get_caller_identity(AwsClient *client)
{
	AwsResponse *resp = sts_call(client, NULL, false, "GetCallerIdentity", NULL);
	AwsCallerIdentity *id = palloc0(sizeof(AwsCallerIdentity));

	id->account = xml_text(resp, "GetCallerIdentityResult/Account");
	id->arn = xml_text(resp, "GetCallerIdentityResult/Arn");
	id->user_id = xml_text(resp, "GetCallerIdentityResult/UserId");
	if (id->arn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("aws sts GetCallerIdentity returned no identity"),
				 errdetail_internal("Request id %s.",
									resp->request_id ? resp->request_id : "(none)")));
	return id;
}
