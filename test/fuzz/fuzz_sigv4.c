/*-------------------------------------------------------------------------
 *
 * fuzz_sigv4.c
 *		libFuzzer target for src/aws/sigv4.c.
 *
 * The input is taken twice: whole, as a path, a query and a string to
 * encode; and as a request description
 *
 *		byte 0       flags: 1 normalize path, 2 sign body, 4 omit session
 *		             token, 8 presign (query) instead of header signing,
 *		             16 use the token line
 *		then lines   method, path, query, session token, then "name:value"
 *		             headers (a line without ':' is a header without value)
 *
 * Besides the sanitizers' checks, it aborts when an output breaks a rule
 * of the canonical form: characters outside the encoded set, a canonical
 * query that changes when canonicalized again, a normalized path with
 * empty or dot segments, a signature that is not 64 hex digits.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include "aws/sigv4.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FUZZ_HEADERS 32

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what);
static int	only_encoded(const char *s, const char *extra);
static void check_steps(const char *text);
static void check_request(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
	if (!ok)
	{
		fprintf(stderr, "sigv4 invariant broken: %s\n", what);
		abort();
	}
}

/* Whether s holds only unreserved characters, %XX escapes and extra. */
static int
only_encoded(const char *s, const char *extra)
{
	for (; *s; s++)
	{
		if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
			(*s >= '0' && *s <= '9') || strchr("-_.~", *s) != NULL ||
			strchr(extra, *s) != NULL)
			continue;
		if (*s == '%' && s[1] && s[2] &&
			strchr("0123456789ABCDEF", s[1]) && strchr("0123456789ABCDEF", s[2]))
		{
			s += 2;
			continue;
		}
		return 0;
	}
	return 1;
}

static void
check_steps(const char *text)
{
	char	   *enc = sigv4_uri_encode(text, true);
	char	   *uri = sigv4_canonical_uri(text, true);
	char	   *raw = sigv4_canonical_uri(text, false);
	char	   *query = sigv4_canonical_query(text);
	char	   *again;

	check(enc && uri && raw && query, "a step returned NULL");
	check(only_encoded(enc, ""), "uri_encode left a reserved character");
	check(strlen(enc) >= strlen(text), "uri_encode shortened its input");
	check(only_encoded(uri, "/"), "canonical uri left a reserved character");
	check(uri[0] == '/', "canonical uri does not start with a slash");
	check(strstr(uri, "//") == NULL, "normalized uri has an empty segment");
	check(strstr(uri, "/./") == NULL && strstr(uri, "/../") == NULL &&
		  strcmp(uri + strlen(uri) - (strlen(uri) >= 2 ? 2 : 0), "/.") != 0 &&
		  (strlen(uri) < 3 || strcmp(uri + strlen(uri) - 3, "/..") != 0),
		  "normalized uri has a dot segment");
	check(raw[0] != '\0', "s3 uri is empty");
	check(only_encoded(query, "=&"), "canonical query left a reserved character");
	again = sigv4_canonical_query(query);
	check(again != NULL && strcmp(again, query) == 0,
		  "canonical query is not stable");
	free(again);
	free(enc);
	free(uri);
	free(raw);
	free(query);
}

static void
check_request(const uint8_t *data, size_t size)
{
	char	   *text;
	char	   *lines[4 + MAX_FUZZ_HEADERS];
	int			nlines = 0;
	char	   *p;
	SigV4Header headers[MAX_FUZZ_HEADERS + 1];
	int			nheaders = 0;
	SigV4Request req;
	SigV4Params params;
	SigV4Result *res;
	uint8_t		flags;
	bool		echoes_secret;
	int			i;

	if (size < 1)
		return;
	flags = data[0];
	text = malloc(size);
	if (text == NULL)
		return;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';

	p = text;
	while (p != NULL && nlines < 4 + MAX_FUZZ_HEADERS)
	{
		char	   *nl = strchr(p, '\n');

		lines[nlines++] = p;
		if (nl != NULL)
			*nl++ = '\0';
		p = nl;
	}
	while (nlines < 4)
		lines[nlines++] = "";

	headers[nheaders].name = "Host";
	headers[nheaders++].value = "example.amazonaws.com";
	for (i = 4; i < nlines; i++)
	{
		char	   *colon = strchr(lines[i], ':');

		if (colon != NULL)
			*colon = '\0';
		headers[nheaders].name = lines[i];
		headers[nheaders++].value = colon ? colon + 1 : NULL;
	}

	memset(&req, 0, sizeof(req));
	req.method = lines[0];
	req.path = lines[1];
	req.query = lines[2][0] ? lines[2] : NULL;
	req.headers = headers;
	req.nheaders = nheaders;
	req.payload_hash = (flags & 2) ? SIGV4_UNSIGNED_PAYLOAD :
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

	memset(&params, 0, sizeof(params));
	params.access_key_id = "AKIDEXAMPLE";
	params.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	params.session_token = (flags & 16) ? lines[3] : NULL;
	params.region = "us-east-1";
	params.service = (flags & 1) ? "service" : "s3";
	params.timestamp = 1440938160;
	params.normalize_path = (flags & 1) != 0;
	params.sign_body = (flags & 2) != 0;
	params.omit_session_token = (flags & 4) != 0;
	params.expires = 1 + (flags >> 5) * 1000;

	/* an input may spell the secret itself: then it may show up */
	echoes_secret = memmem(data, size, params.secret_access_key,
						   strlen(params.secret_access_key)) != NULL;
	res = (flags & 8) ? sigv4_sign_query(&req, &params)
		: sigv4_sign_headers(&req, &params);
	if (res != NULL && res->error == NULL)
	{
		check(res->signature != NULL && strlen(res->signature) == 64 &&
			  strspn(res->signature, "0123456789abcdef") == 64,
			  "signature is not 64 hex digits");
		check(res->canonical_request != NULL && res->string_to_sign != NULL,
			  "a signed result lacks its canonical request");
		check(echoes_secret ||
			  (strstr(res->string_to_sign, params.secret_access_key) == NULL &&
			   strstr(res->canonical_request, params.secret_access_key) == NULL),
			  "the secret appears in what is signed");
		if (flags & 8)
			check(res->presigned_query != NULL &&
				  strstr(res->presigned_query, res->signature) != NULL,
				  "presigned query lacks the signature");
		else
			check(res->nadd_headers >= 2 &&
				  strcmp(res->add_headers[res->nadd_headers - 1].name, "Authorization") == 0,
				  "header signing added no Authorization header");
	}
	else if (res != NULL)
		check(echoes_secret ||
			  strstr(res->error, params.secret_access_key) == NULL,
			  "the secret appears in an error");
	sigv4_result_free(res);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	check_steps(text);
	free(text);
	check_request(data, size);
	return 0;
}
