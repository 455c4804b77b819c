/*-------------------------------------------------------------------------
 *
 * errors.c
 *		AWS errors as PostgreSQL errors.
 *
 * An AWS error becomes one ereport():
 *	- an errcode chosen from the AWS error code (access denied, not found,
 *	  bad credentials, invalid input, throttling, network);
 *	- the message "aws <service> <Operation> failed: <AWS error code>";
 *	- AWS's own message, the HTTP status and the request id in the detail
 *	  (errdetail_internal: AWS's text is not translated);
 *	- a hint where the user can act: a host that does not resolve or
 *	  refuses the connection points at the server's region or endpoint
 *	  option (retrying would not help), retries spent, credentials (with
 *	  the server's own name in the aws_identity() call to try);
 *	- the context naming the request.
 * The parsing of the error bodies is pure C in protocol.c; this file only
 * classifies and raises.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "aws/aws_internal.h"
#include "utils/builtins.h"

static bool code_in(const char *code, const char *const *list);
static char *error_hint(AwsError *err);
static char *trim_period(const char *s);

static bool
code_in(const char *code, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(code, *list) == 0)
			return true;
	return false;
}

/* The SQLSTATE for an AWS error code and HTTP status. */
int
aws_error_sqlstate(const char *code, long status)
{
	static const char *const bad_credentials[] = {
		"UnrecognizedClientException", "InvalidClientTokenId",
		"SignatureDoesNotMatch", "InvalidSignatureException",
		"IncompleteSignature", "IncompleteSignatureException",
		"MissingAuthenticationToken", "MissingAuthenticationTokenException",
		"ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId",
		"InvalidToken", "InvalidIdentityToken", "IDPRejectedClaim",
		"TokenRefreshRequired", "RequestExpired", "AuthFailure",
		"Unauthorized", NULL
	};
	static const char *const denied[] = {
		"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
		"AllAccessDisabled", "AccountProblem", "Forbidden",
		"UnauthorizedException", "NotAuthorized", NULL
	};
	static const char *const table_not_found[] = {
		"ResourceNotFoundException", "EntityNotFoundException",
		"TableNotFoundException", "MetadataException", NULL
	};
	static const char *const not_found[] = {
		"NoSuchKey", "NoSuchBucket", "NotFound", "NoSuchEntity",
		"NoSuchUpload", "NoSuchVersion", NULL
	};
	static const char *const invalid[] = {
		"ValidationException", "ValidationError", "InvalidParameterValue",
		"InvalidParameterException", "InvalidParameterCombination",
		"InvalidRequestException", "InvalidInputException",
		"InvalidArgumentException", "InvalidArgument", "SerializationException",
		"MalformedQueryString", "MissingParameter", "InvalidAction",
		"InvalidQueryException", "BadRequest", "InvalidRange",
		"MalformedPolicyDocument", "PackedPolicyTooLarge", NULL
	};
	static const char *const exists[] = {
		"ResourceInUseException", "AlreadyExistsException",
		"BucketAlreadyExists", "BucketAlreadyOwnedByYou",
		"ConditionalCheckFailedException", "Conflict",
		"PreconditionFailed", "ConcurrentModificationException", NULL
	};

	if (code_in(code, bad_credentials) || status == 401)
		return ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
	if (code_in(code, denied) || status == 403)
		return ERRCODE_INSUFFICIENT_PRIVILEGE;
	if (code_in(code, table_not_found))
		return ERRCODE_FDW_TABLE_NOT_FOUND;
	if (code_in(code, not_found) || status == 404)
		return ERRCODE_UNDEFINED_OBJECT;
	if (aws_error_code_is_throttling(code) || status == 429)
		return ERRCODE_INSUFFICIENT_RESOURCES;
	if (code_in(code, invalid))
		return ERRCODE_INVALID_PARAMETER_VALUE;
	if (code_in(code, exists))
		return ERRCODE_DUPLICATE_OBJECT;
	if (strcmp(code, "RequestEntityTooLarge") == 0 || status == 413)
		return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
	if (status >= 500)
		return ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
	return ERRCODE_FDW_ERROR;
}

/* An AwsError (palloc'd) from a parsed error response. */
AwsError *
aws_error_from_info(AwsService service, const char *operation, long status,
					AwsErrorInfo *info)
{
	AwsError   *err = palloc0(sizeof(AwsError));

	err->service = service;
	err->operation = pstrdup(operation);
	err->status = status;
	err->code = pstrdup(info->code ? info->code : "UnknownError");
	err->message = info->message ? pstrdup(info->message) : NULL;
	err->request_id = info->request_id ? pstrdup(info->request_id) : NULL;
	err->sqlerrcode = aws_error_sqlstate(err->code, status);
	err->retryable = aws_error_is_retryable(status, err->code);
	err->attempts = 1;
	return err;
}

static char *
trim_period(const char *s)
{
	char	   *r = pstrdup(s);
	size_t		n = strlen(r);

	while (n > 0 && (r[n - 1] == '.' || r[n - 1] == ' ' || r[n - 1] == '\n'))
		r[--n] = '\0';
	return r;
}

/* The hint of an error, or NULL: what the user can change. */
static char *
error_hint(AwsError *err)
{
	const char *server = err->server_name;
	const char *whose = server ? psprintf(" of server \"%s\"", server) : "";

	if (err->unreachable != AWS_REACHED)
	{
		const char *what = err->unreachable == AWS_HOST_NOT_FOUND ?
			"does not resolve" : "refuses the connection";

		if (err->endpoint)
			return psprintf("The endpoint \"%s\"%s %s: check the server's endpoint option, and that a service runs there.",
							err->endpoint, whose, what);
		if (err->region)
			return psprintf("The AWS endpoint of region \"%s\"%s %s: check the server's region option (and this machine's DNS and network).",
							err->region, whose, what);
	}
	if (err->retryable && err->attempts > 1)
		return psprintf("The request was made %d times. Raise audit_fdw.aws_max_retries or audit_fdw.aws_max_retry_time to retry longer.",
						err->attempts);
	if (err->sqlerrcode == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION)
	{
		if (server)
			return psprintf("Check the AWS credentials: SELECT * FROM audit_fdw.aws_identity(%s) shows which ones are used.",
							quote_literal_cstr(server));
		return pstrdup("Check the AWS credentials: audit_fdw.aws_identity() with the server's name shows which ones are used.");
	}
	return NULL;
}

void
aws_raise(AwsError *err)
{
	char	   *hint = error_hint(err);
	const char *service = aws_service_name(err->service);
	char	   *detail;

	if (err->status == 0)
		detail = psprintf("%s.", err->message ? trim_period(err->message) :
						  "No response was received");
	else
		detail = psprintf("%s%sHTTP status %ld, request id %s.",
						  err->message ? trim_period(err->message) : "",
						  err->message ? ". " : "",
						  err->status,
						  err->request_id ? err->request_id : "(none)");

	ereport(ERROR,
			(errcode(err->sqlerrcode),
			 errmsg("aws %s %s failed: %s", service, err->operation, err->code),
			 errdetail_internal("%s", detail),
			 hint ? errhint("%s", hint) : 0,
			 errcontext("AWS %s %s request", service, err->operation)));
	pg_unreachable();
}

void
aws_error_raise(AwsError *error)
{
	aws_raise(error);
}
