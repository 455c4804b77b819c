/*-------------------------------------------------------------------------
 *
 * sigv4_sign.c
 *		A command-line front end of src/aws/sigv4.c for cross-checks: reads
 *		one request a line as JSON on stdin, signs it, writes one JSON result
 *		a line on stdout.  One process signs any number of requests, so a
 *		run under valgrind or a sanitizer covers them all.
 *
 * Input fields: mode ("header" or "query"), method, path, query (or null),
 * headers ([[name, value], ...]), payload_hash, access_key_id,
 * secret_access_key, session_token (or null), region, service, timestamp
 * (unix seconds), normalize_path, sign_body, omit_session_token, expires.
 * Output fields: canonical_request, string_to_sign, signature,
 * signed_headers, add_headers ([[name, value], ...]), presigned_query,
 * error; or only error when the line is not a request.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include "aws/sigv4.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *get_string(json_object *obj, const char *key);
static bool get_bool(json_object *obj, const char *key);
static long get_long(json_object *obj, const char *key);
static json_object *string_or_null(const char *s);
static json_object *sign_one(json_object *in);

static const char *
get_string(json_object *obj, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
		!json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool
get_bool(json_object *obj, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(obj, key, &v) && json_object_get_boolean(v);
}

static long
get_long(json_object *obj, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v))
		return 0;
	return (long) json_object_get_int64(v);
}

static json_object *
string_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *
sign_one(json_object *in)
{
	json_object *out = json_object_new_object();
	json_object *harr;
	SigV4Header *headers = NULL;
	SigV4Request req;
	SigV4Params params;
	SigV4Result *res;
	const char *mode = get_string(in, "mode");
	int			n = 0;
	int			i;

	if (json_object_object_get_ex(in, "headers", &harr) &&
		json_object_is_type(harr, json_type_array))
	{
		n = (int) json_object_array_length(harr);
		headers = calloc(n > 0 ? n : 1, sizeof(SigV4Header));
		for (i = 0; i < n; i++)
		{
			json_object *pair = json_object_array_get_idx(harr, i);

			headers[i].name = json_object_get_string(json_object_array_get_idx(pair, 0));
			headers[i].value = json_object_get_string(json_object_array_get_idx(pair, 1));
		}
	}

	memset(&req, 0, sizeof(req));
	req.method = get_string(in, "method");
	req.path = get_string(in, "path");
	req.query = get_string(in, "query");
	req.headers = headers;
	req.nheaders = n;
	req.payload_hash = get_string(in, "payload_hash");

	memset(&params, 0, sizeof(params));
	params.access_key_id = get_string(in, "access_key_id");
	params.secret_access_key = get_string(in, "secret_access_key");
	params.session_token = get_string(in, "session_token");
	params.region = get_string(in, "region");
	params.service = get_string(in, "service");
	params.timestamp = (time_t) get_long(in, "timestamp");
	params.normalize_path = get_bool(in, "normalize_path");
	params.sign_body = get_bool(in, "sign_body");
	params.omit_session_token = get_bool(in, "omit_session_token");
	params.expires = get_long(in, "expires");

	res = (mode && strcmp(mode, "query") == 0) ?
		sigv4_sign_query(&req, &params) : sigv4_sign_headers(&req, &params);
	if (res == NULL)
		json_object_object_add(out, "error", json_object_new_string("out of memory"));
	else
	{
		json_object *added = json_object_new_array();

		json_object_object_add(out, "canonical_request", string_or_null(res->canonical_request));
		json_object_object_add(out, "string_to_sign", string_or_null(res->string_to_sign));
		json_object_object_add(out, "signature", string_or_null(res->signature));
		json_object_object_add(out, "signed_headers", string_or_null(res->signed_headers));
		json_object_object_add(out, "presigned_query", string_or_null(res->presigned_query));
		json_object_object_add(out, "error", string_or_null(res->error));
		for (i = 0; i < res->nadd_headers; i++)
		{
			json_object *pair = json_object_new_array();

			json_object_array_add(pair, json_object_new_string(res->add_headers[i].name));
			json_object_array_add(pair, json_object_new_string(res->add_headers[i].value));
			json_object_array_add(added, pair);
		}
		json_object_object_add(out, "add_headers", added);
	}
	sigv4_result_free(res);
	free(headers);
	return out;
}

int
main(void)
{
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;

	while ((len = getline(&line, &cap, stdin)) > 0)
	{
		json_object *in;
		json_object *out;

		if (len == 1 && line[0] == '\n')
			continue;
		in = json_tokener_parse(line);
		if (in == NULL || !json_object_is_type(in, json_type_object))
		{
			out = json_object_new_object();
			json_object_object_add(out, "error",
								   json_object_new_string("input line is not a JSON object"));
		}
		else
			out = sign_one(in);
		puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
		fflush(stdout);
		json_object_put(out);
		json_object_put(in);
	}
	free(line);
	return 0;
}
