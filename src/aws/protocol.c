/*-------------------------------------------------------------------------
 *
 * protocol.c
 *		Pure parsers of the AWS wire protocols: error responses of every
 *		shape, retry classification, credential documents, timestamps and
 *		form encoding.
 *
 * Rules: no backend calls (malloc/free only, see aws_parse.h), inputs are
 * (pointer, length) and need not be NUL-terminated, anything malformed
 * degrades to "not found" rather than failing.  These functions are unit
 * tested under valgrind and are fuzz targets.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aws/aws_parse.h"

#define AWS_MAX_ERROR_BODY (1024 * 1024)

static char *dup_n(const char *s, size_t n);
static char *json_string_field(json_object *obj, const char *const *names);
static char *code_from_type(const char *type);
static const char *code_from_status(long status);
static const char *skip_space(const char *p, const char *end);
static void parse_json_error(const char *body, size_t len, AwsErrorInfo *info);
static void parse_xml_error(const char *body, size_t len, AwsErrorInfo *info);
static char *xml_find_nonempty(const char *body, size_t len, const char *suffix);
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
static bool read_digits(const char **p, int n, int *out);

static char *
dup_n(const char *s, size_t n)
{
	char	   *r = malloc(n + 1);

	if (r == NULL)
		return NULL;
	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char) *p))
		p++;
	return p;
}

/* The first of names present in obj as a non-empty string, malloc'd. */
static char *
json_string_field(json_object *obj, const char *const *names)
{
	for (; *names; names++)
	{
		json_object *v;

		if (json_object_object_get_ex(obj, *names, &v) &&
			json_object_is_type(v, json_type_string) &&
			json_object_get_string_len(v) > 0)
			return dup_n(json_object_get_string(v), json_object_get_string_len(v));
	}
	return NULL;
}

/*
 * An error type as AWS writes it, reduced to the code:
 * "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException" and
 * "ValidationException:http://internal.amazon.com/..." both name the part
 * after '#' and before ':'.
 */
static char *
code_from_type(const char *type)
{
	const char *start = type;
	const char *hash = strrchr(type, '#');
	size_t		n;

	if (hash)
		start = hash + 1;
	n = strcspn(start, ":");
	while (n > 0 && isspace((unsigned char) start[n - 1]))
		n--;
	while (n > 0 && isspace((unsigned char) *start))
	{
		start++;
		n--;
	}
	if (n == 0)
		return NULL;
	return dup_n(start, n);
}

static const char *
code_from_status(long status)
{
	switch (status)
	{
		case 400:
			return "BadRequest";
		case 401:
			return "Unauthorized";
		case 403:
			return "Forbidden";
		case 404:
			return "NotFound";
		case 405:
			return "MethodNotAllowed";
		case 409:
			return "Conflict";
		case 412:
			return "PreconditionFailed";
		case 413:
			return "RequestEntityTooLarge";
		case 416:
			return "InvalidRange";
		case 429:
			return "TooManyRequests";
		case 500:
			return "InternalError";
		case 502:
			return "BadGateway";
		case 503:
			return "ServiceUnavailable";
		case 504:
			return "GatewayTimeout";
		default:
			return NULL;
	}
}

static void
parse_json_error(const char *body, size_t len, AwsErrorInfo *info)
{
	static const char *const type_names[] = {"__type", "code", "Code", NULL};
	static const char *const message_names[] = {"message", "Message",
	"errorMessage", NULL};
	json_tokener *tok;
	json_object *obj;

	tok = json_tokener_new();
	if (tok == NULL)
		return;
	obj = json_tokener_parse_ex(tok, body, (int) len);
	if (obj != NULL && json_object_is_type(obj, json_type_object))
	{
		if (info->code == NULL)
		{
			char	   *type = json_string_field(obj, type_names);

			if (type)
			{
				info->code = code_from_type(type);
				free(type);
			}
		}
		if (info->message == NULL)
			info->message = json_string_field(obj, message_names);
	}
	if (obj)
		json_object_put(obj);
	json_tokener_free(tok);
}

/*
 * aws_xml_find, but an empty element (<Code></Code>, <Code/>) counts as
 * absent, as an empty JSON string does: the code then comes from the
 * status, never blank.
 */
static char *
xml_find_nonempty(const char *body, size_t len, const char *suffix)
{
	char	   *s = aws_xml_find(body, len, suffix);

	if (s != NULL && s[0] == '\0')
	{
		free(s);
		s = NULL;
	}
	return s;
}

static void
parse_xml_error(const char *body, size_t len, AwsErrorInfo *info)
{
	if (info->code == NULL)
	{
		char	   *code = xml_find_nonempty(body, len, "Error/Code");

		if (code == NULL)
			code = xml_find_nonempty(body, len, "Errors/Error/Code");
		/* trimmed, and none at all when blank */
		if (code != NULL)
		{
			info->code = code_from_type(code);
			free(code);
		}
	}
	if (info->message == NULL)
		info->message = xml_find_nonempty(body, len, "Error/Message");
	if (info->request_id == NULL)
	{
		info->request_id = xml_find_nonempty(body, len, "RequestId");
		if (info->request_id == NULL)
			info->request_id = xml_find_nonempty(body, len, "RequestID");
	}
}

AwsErrorInfo *
aws_parse_error(long status, const char *body, size_t len,
				const char *header_error_type, const char *header_request_id)
{
	AwsErrorInfo *info = calloc(1, sizeof(AwsErrorInfo));
	const char *p;

	if (info == NULL)
		return NULL;

	if (header_error_type && *header_error_type)
		info->code = code_from_type(header_error_type);
	if (header_request_id && *header_request_id)
		info->request_id = strdup(header_request_id);

	if (body != NULL && len > 0 && len <= AWS_MAX_ERROR_BODY)
	{
		p = skip_space(body, body + len);
		if (p < body + len && *p == '{')
			parse_json_error(p, len - (p - body), info);
		else if (p < body + len && *p == '<')
			parse_xml_error(p, len - (p - body), info);
	}

	if (info->code == NULL)
	{
		const char *c = code_from_status(status);

		if (c)
			info->code = strdup(c);
		else
		{
			char		buf[32];

			snprintf(buf, sizeof(buf), "HTTP%ld", status);
			info->code = strdup(buf);
		}
	}
	return info;
}

void
aws_error_info_free(AwsErrorInfo *info)
{
	if (info == NULL)
		return;
	free(info->code);
	free(info->message);
	free(info->request_id);
	free(info);
}

/* The throttling codes of the AWS SDKs' standard retry mode. */
bool
aws_error_code_is_throttling(const char *code)
{
	static const char *const codes[] = {
		"Throttling",
		"ThrottlingException",
		"ThrottledException",
		"RequestThrottledException",
		"TooManyRequestsException",
		"ProvisionedThroughputExceededException",
		"TransactionInProgressException",
		"RequestLimitExceeded",
		"BandwidthLimitExceeded",
		"LimitExceededException",
		"RequestThrottled",
		"SlowDown",
		"PriorRequestNotComplete",
		"EC2ThrottledException",
		"TooManyRequests",
		NULL
	};

	if (code == NULL)
		return false;
	for (int i = 0; codes[i]; i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

/*
 * Is a failed call worth another attempt?  Throttling (by code or 429),
 * transient codes, and the 5xx statuses a retry can cure.
 */
bool
aws_error_is_retryable(long status, const char *code)
{
	static const char *const transient[] = {
		"RequestTimeout",
		"RequestTimeoutException",
		"InternalError",
		"InternalFailure",
		"InternalServerError",
		"ServiceUnavailable",
		"ServiceUnavailableException",
		NULL
	};

	if (status == 429 || aws_error_code_is_throttling(code))
		return true;
	if (status == 500 || status == 502 || status == 503 || status == 504)
		return true;
	if (code != NULL)
		for (int i = 0; transient[i]; i++)
			if (strcmp(code, transient[i]) == 0)
				return true;
	return false;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t		era;
	unsigned	yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned) (y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t) doe - 719468;
}

static bool
read_digits(const char **p, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (!isdigit((unsigned char) (*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

int64_t
aws_parse_iso8601(const char *s)
{
	int			year,
				mon,
				day,
				hour,
				min,
				sec;
	int64_t		t;
	const char *p = s;

	if (s == NULL)
		return -1;
	if (!read_digits(&p, 4, &year) || *p++ != '-' ||
		!read_digits(&p, 2, &mon) || *p++ != '-' ||
		!read_digits(&p, 2, &day) || (*p != 'T' && *p != 't' && *p != ' '))
		return -1;
	p++;
	if (!read_digits(&p, 2, &hour) || *p++ != ':' ||
		!read_digits(&p, 2, &min) || *p++ != ':' ||
		!read_digits(&p, 2, &sec))
		return -1;
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 ||
		min > 59 || sec > 60)
		return -1;
	if (*p == '.')
	{
		p++;
		if (!isdigit((unsigned char) *p))
			return -1;
		while (isdigit((unsigned char) *p))
			p++;
	}
	t = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-')
	{
		int			sign = (*p == '-') ? -1 : 1;
		int			oh,
					om = 0;

		p++;
		if (!read_digits(&p, 2, &oh))
			return -1;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char) *p) && !read_digits(&p, 2, &om))
			return -1;
		t -= sign * (oh * 3600 + om * 60);
	}
	if (*p != '\0')
		return -1;
	return t;
}

int64_t
aws_parse_http_date(const char *s)
{
	static const char *const months[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	const char *p = s;
	int			day,
				mon = -1,
				year,
				hour,
				min,
				sec;

	if (s == NULL)
		return -1;
	/* "Sun, " */
	while (*p && *p != ',')
		p++;
	if (*p != ',')
		return -1;
	p++;
	while (*p == ' ')
		p++;
	if (!read_digits(&p, 2, &day) || *p++ != ' ')
		return -1;
	for (int i = 0; i < 12; i++)
		if (strncmp(p, months[i], 3) == 0)
			mon = i + 1;
	if (mon < 0)
		return -1;
	p += 3;
	if (*p++ != ' ' || !read_digits(&p, 4, &year) || *p++ != ' ' ||
		!read_digits(&p, 2, &hour) || *p++ != ':' ||
		!read_digits(&p, 2, &min) || *p++ != ':' ||
		!read_digits(&p, 2, &sec) || strcmp(p, " GMT") != 0)
		return -1;
	if (day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		return -1;
	return days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
}

char *
aws_form_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t		n = strlen(s);
	char	   *r = malloc(n * 3 + 1);
	char	   *o = r;

	if (r == NULL)
		return NULL;
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			*o++ = (char) c;
		else
		{
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return r;
}

void
aws_free_secret(char *s)
{
	if (s == NULL)
		return;
	/* volatile so the wipe is not optimized away before free() */
	for (volatile char *p = s; *p; p++)
		*p = '\0';
	free(s);
}

AwsCredentialDoc *
aws_parse_credential_json(const char *json, size_t len, bool require_version)
{
	static const char *const akid[] = {"AccessKeyId", NULL};
	static const char *const secret[] = {"SecretAccessKey", NULL};
	static const char *const token[] = {"SessionToken", "Token", NULL};
	static const char *const expiration[] = {"Expiration", NULL};
	static const char *const code[] = {"Code", NULL};
	static const char *const message[] = {"Message", NULL};
	AwsCredentialDoc *doc = calloc(1, sizeof(AwsCredentialDoc));
	json_tokener *tok;
	json_object *obj = NULL;
	char	   *s;

	if (doc == NULL)
		return NULL;
	tok = json_tokener_new();
	if (tok != NULL && len <= AWS_MAX_ERROR_BODY)
		obj = json_tokener_parse_ex(tok, json, (int) len);
	if (obj == NULL || !json_object_is_type(obj, json_type_object))
	{
		doc->error = strdup("the document is not a JSON object");
		goto done;
	}
	if (require_version)
	{
		json_object *v;

		if (!json_object_object_get_ex(obj, "Version", &v) ||
			json_object_get_int(v) != 1)
		{
			doc->error = strdup("the document's Version is not 1");
			goto done;
		}
	}
	/* IMDS reports failures as {"Code": "...", "Message": "..."} */
	s = json_string_field(obj, code);
	if (s != NULL && strcmp(s, "Success") != 0)
	{
		char	   *m = json_string_field(obj, message);
		size_t		n = strlen(s) + (m ? strlen(m) : 0) + 16;

		doc->error = malloc(n);
		if (doc->error)
			snprintf(doc->error, n, "%s%s%s", s, m ? ": " : "", m ? m : "");
		free(m);
		free(s);
		goto done;
	}
	free(s);
	doc->access_key_id = json_string_field(obj, akid);
	doc->secret_access_key = json_string_field(obj, secret);
	doc->session_token = json_string_field(obj, token);
	if (doc->access_key_id == NULL || doc->secret_access_key == NULL)
	{
		doc->error = strdup("the document has no AccessKeyId or SecretAccessKey");
		goto done;
	}
	s = json_string_field(obj, expiration);
	if (s != NULL)
	{
		doc->expires_at = aws_parse_iso8601(s);
		free(s);
		if (doc->expires_at < 0)
		{
			doc->expires_at = 0;
			doc->error = strdup("the document's Expiration is not an ISO 8601 timestamp");
		}
	}

done:
	if (obj)
		json_object_put(obj);
	if (tok)
		json_tokener_free(tok);
	return doc;
}

void
aws_credential_doc_free(AwsCredentialDoc *doc)
{
	if (doc == NULL)
		return;
	free(doc->access_key_id);
	aws_free_secret(doc->secret_access_key);
	aws_free_secret(doc->session_token);
	free(doc->error);
	free(doc);
}
