/*-------------------------------------------------------------------------
 *
 * sigv4_vectors.c
 *		Replays SigV4 test vectors in the layout of AWS's signing test suite
 *		(aws-c-auth's tests/aws-signing-test-suite/v4) through src/aws/sigv4.c.
 *
 *		sigv4_vectors DIR...
 *
 * Each DIR is either a case folder (it holds context.json and request.txt)
 * or a folder of case folders, which are run in name order.  For every case
 * the header and query (presigned) variants are signed and compared with
 * the files present: *-canonical-request.txt, *-string-to-sign.txt,
 * *-signature.txt and *-signed-request.txt.  A variant whose files are all
 * absent is skipped; a case with nothing to compare fails.  Prints one line
 * per case and ends with "sigv4-vectors: N passed, N failed"; exits 1 on
 * any mismatch.
 *
 * The request line's target is used as the on-the-wire path and query, as
 * aws-c-auth does; the body's SHA-256 is the payload hash.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include "aws/sigv4.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_HEADERS 64

/* A parsed HTTP request, as in request.txt or *-signed-request.txt. */
typedef struct HttpMessage
{
	char	   *method;
	char	   *target;			/* path[?query], verbatim */
	char	   *version;
	SigV4Header headers[MAX_HEADERS];
	int			nheaders;
	char	   *body;
	size_t		body_len;
	char	   *storage;		/* the file's text, which the fields point into */
} HttpMessage;

typedef struct CaseContext
{
	char	   *access_key_id;
	char	   *secret_access_key;
	char	   *token;
	char	   *region;
	char	   *service;
	time_t		timestamp;
	long		expires;
	bool		normalize;
	bool		sign_body;
	bool		omit_session_token;
} CaseContext;

static char *read_file(const char *dir, const char *name, size_t *len);
static bool file_exists(const char *dir, const char *name);
static bool parse_message(char *text, size_t len, HttpMessage *msg);
static bool load_context(const char *dir, CaseContext *ctx, char **why);
static void free_context(CaseContext *ctx);
static bool compare_text(const char *casename, const char *what,
						 const char *got, const char *expected);
static bool compare_file(const char *dir, const char *casename,
						 const char *file, const char *got, int *compared);
static bool compare_signed_request(const char *dir, const char *casename,
								   const char *file, const HttpMessage *req,
								   const char *target,
								   const SigV4Header *extra, int nextra,
								   int *compared);
static bool run_variant(const char *dir, const char *casename, bool query,
						const HttpMessage *req, const CaseContext *ctx,
						int *compared);
static int	run_case(const char *dir);
static int	compare_names(const void *a, const void *b);
static bool is_case_dir(const char *dir);

static char *
read_file(const char *dir, const char *name, size_t *len)
{
	char		path[4096];
	FILE	   *f;
	char	   *buf = NULL;
	size_t		cap = 0;
	size_t		n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	for (;;)
	{
		size_t		got;

		if (n + 4096 + 1 > cap)
		{
			char	   *grown;

			cap = cap ? cap * 2 : 8192;
			grown = realloc(buf, cap);
			if (grown == NULL)
			{
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = grown;
		}
		got = fread(buf + n, 1, 4096, f);
		n += got;
		if (got < 4096)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static bool
file_exists(const char *dir, const char *name)
{
	char		path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * Splits an HTTP message in place: request line, "Name:value" header lines
 * (the value verbatim after the colon), an empty line, then the body.
 */
static bool
parse_message(char *text, size_t len, HttpMessage *msg)
{
	char	   *p = text;
	char	   *end = text + len;
	char	   *eol;
	char	   *sp;

	memset(msg, 0, sizeof(*msg));
	msg->storage = text;

	eol = memchr(p, '\n', end - p);
	if (eol == NULL)
		eol = end;
	*eol = '\0';
	if (eol > p && eol[-1] == '\r')
		eol[-1] = '\0';
	/* "METHOD target HTTP/1.1": the target may hold spaces */
	sp = strchr(p, ' ');
	if (sp == NULL)
		return false;
	*sp = '\0';
	msg->method = p;
	msg->target = sp + 1;
	sp = strrchr(msg->target, ' ');
	if (sp == NULL)
		return false;
	*sp = '\0';
	msg->version = sp + 1;
	p = eol < end ? eol + 1 : end;

	while (p < end)
	{
		char	   *colon;

		eol = memchr(p, '\n', end - p);
		if (eol == NULL)
			eol = end;
		*eol = '\0';
		if (eol > p && eol[-1] == '\r')
			eol[-1] = '\0';
		if (*p == '\0')
		{
			p = eol < end ? eol + 1 : end;
			break;
		}
		colon = strchr(p, ':');
		if (colon == NULL || msg->nheaders >= MAX_HEADERS)
			return false;
		*colon = '\0';
		msg->headers[msg->nheaders].name = p;
		msg->headers[msg->nheaders].value = colon + 1;
		msg->nheaders++;
		p = eol < end ? eol + 1 : end;
	}
	msg->body = p;
	msg->body_len = end - p;
	return true;
}

static char *
json_string_field(json_object *obj, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
		!json_object_is_type(v, json_type_string))
		return NULL;
	return strdup(json_object_get_string(v));
}

static bool
json_bool_field(json_object *obj, const char *key, bool dflt)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v))
		return dflt;
	return json_object_get_boolean(v);
}

static bool
load_context(const char *dir, CaseContext *ctx, char **why)
{
	char	   *text = read_file(dir, "context.json", NULL);
	json_object *root;
	json_object *creds;
	json_object *v;
	char	   *ts;
	struct tm	tm;

	memset(ctx, 0, sizeof(*ctx));
	*why = NULL;
	if (text == NULL)
	{
		*why = "cannot read context.json";
		return false;
	}
	root = json_tokener_parse(text);
	free(text);
	if (root == NULL)
	{
		*why = "context.json is not valid JSON";
		return false;
	}
	if (json_object_object_get_ex(root, "credentials", &creds))
	{
		ctx->access_key_id = json_string_field(creds, "access_key_id");
		ctx->secret_access_key = json_string_field(creds, "secret_access_key");
		ctx->token = json_string_field(creds, "token");
	}
	ctx->region = json_string_field(root, "region");
	ctx->service = json_string_field(root, "service");
	ctx->normalize = json_bool_field(root, "normalize", true);
	ctx->sign_body = json_bool_field(root, "sign_body", false);
	ctx->omit_session_token = json_bool_field(root, "omit_session_token", false);
	ctx->expires = 3600;
	if (json_object_object_get_ex(root, "expiration_in_seconds", &v))
		ctx->expires = (long) json_object_get_int64(v);
	ts = json_string_field(root, "timestamp");
	json_object_put(root);

	memset(&tm, 0, sizeof(tm));
	if (ts == NULL || strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
	{
		free(ts);
		*why = "context.json has no valid timestamp";
		return false;
	}
	free(ts);
	ctx->timestamp = timegm(&tm);
	if (ctx->access_key_id == NULL || ctx->secret_access_key == NULL ||
		ctx->region == NULL || ctx->service == NULL)
	{
		*why = "context.json lacks credentials, region or service";
		return false;
	}
	return true;
}

static void
free_context(CaseContext *ctx)
{
	free(ctx->access_key_id);
	free(ctx->secret_access_key);
	free(ctx->token);
	free(ctx->region);
	free(ctx->service);
}

static bool
compare_text(const char *casename, const char *what, const char *got,
			 const char *expected)
{
	if (got != NULL && strcmp(got, expected) == 0)
		return true;
	printf("    %s: %s differs\n    --- expected\n%s\n    --- got\n%s\n",
		   casename, what, expected, got ? got : "(nothing)");
	return false;
}

/* Compares with a file if it exists; *compared counts the comparisons. */
static bool
compare_file(const char *dir, const char *casename, const char *file,
			 const char *got, int *compared)
{
	size_t		len;
	char	   *expected = read_file(dir, file, &len);
	bool		ok;

	if (expected == NULL)
		return true;
	/* the files carry no meaningful trailing newline */
	while (len > 0 && (expected[len - 1] == '\n' || expected[len - 1] == '\r'))
		expected[--len] = '\0';
	(*compared)++;
	ok = compare_text(casename, file, got, expected);
	free(expected);
	return ok;
}

static int
compare_header_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Builds the signed request (the original with the target replaced and the
 * extra headers added) and compares it with the file: the request line and
 * body exactly, the header lines as a set (HTTP leaves their order free and
 * the suite orders the added ones its own way).
 */
static bool
compare_signed_request(const char *dir, const char *casename,
					   const char *file, const HttpMessage *req,
					   const char *target, const SigV4Header *extra,
					   int nextra, int *compared)
{
	size_t		len;
	char	   *text = read_file(dir, file, &len);
	HttpMessage expected;
	char	   *got_lines[MAX_HEADERS * 2];
	char	   *exp_lines[MAX_HEADERS];
	int			ngot = 0;
	int			nexp = 0;
	bool		ok = true;
	int			i;

	if (text == NULL)
		return true;
	(*compared)++;
	if (!parse_message(text, len, &expected))
	{
		printf("    %s: %s cannot be parsed\n", casename, file);
		free(text);
		return false;
	}
	ok &= compare_text(casename, "signed request method", req->method,
					   expected.method);
	ok &= compare_text(casename, "signed request target", target,
					   expected.target);
	for (i = 0; i < req->nheaders; i++)
		if (asprintf(&got_lines[ngot++], "%s:%s", req->headers[i].name,
					 req->headers[i].value) < 0)
			got_lines[ngot - 1] = NULL;
	for (i = 0; i < nextra; i++)
		if (asprintf(&got_lines[ngot++], "%s:%s", extra[i].name,
					 extra[i].value) < 0)
			got_lines[ngot - 1] = NULL;
	for (i = 0; i < expected.nheaders; i++)
		if (asprintf(&exp_lines[nexp++], "%s:%s", expected.headers[i].name,
					 expected.headers[i].value) < 0)
			exp_lines[nexp - 1] = NULL;
	for (i = 0; i < ngot; i++)
		if (got_lines[i] == NULL)
			ok = false;
	for (i = 0; i < nexp; i++)
		if (exp_lines[i] == NULL)
			ok = false;
	if (ok)
	{
		qsort(got_lines, ngot, sizeof(char *), compare_header_lines);
		qsort(exp_lines, nexp, sizeof(char *), compare_header_lines);
		for (i = 0; i < ngot || i < nexp; i++)
		{
			const char *g = i < ngot ? got_lines[i] : NULL;
			const char *e = i < nexp ? exp_lines[i] : "(no header)";

			if (!compare_text(casename, "signed request header", g, e))
			{
				ok = false;
				break;
			}
		}
	}
	if (req->body_len != expected.body_len ||
		memcmp(req->body, expected.body, req->body_len) != 0)
	{
		printf("    %s: %s body differs\n", casename, file);
		ok = false;
	}
	for (i = 0; i < ngot; i++)
		free(got_lines[i]);
	for (i = 0; i < nexp; i++)
		free(exp_lines[i]);
	free(text);
	return ok;
}

static bool
run_variant(const char *dir, const char *casename, bool query,
			const HttpMessage *req, const CaseContext *ctx, int *compared)
{
	const char *prefix = query ? "query" : "header";
	char		file[4][64];
	SigV4Request sreq;
	SigV4Params params;
	SigV4Result *res;
	char	   *path;
	char	   *qmark;
	char	   *hash;
	char	   *target = NULL;
	bool		ok = true;
	int			i;
	bool		any = false;

	snprintf(file[0], sizeof(file[0]), "%s-canonical-request.txt", prefix);
	snprintf(file[1], sizeof(file[1]), "%s-string-to-sign.txt", prefix);
	snprintf(file[2], sizeof(file[2]), "%s-signature.txt", prefix);
	snprintf(file[3], sizeof(file[3]), "%s-signed-request.txt", prefix);
	for (i = 0; i < 4; i++)
		any |= file_exists(dir, file[i]);
	if (!any)
		return true;

	path = strdup(req->target);
	hash = sigv4_hex_sha256(req->body, req->body_len);
	if (path == NULL || hash == NULL)
	{
		free(path);
		free(hash);
		printf("    %s: out of memory\n", casename);
		return false;
	}
	qmark = strchr(path, '?');
	if (qmark != NULL)
		*qmark = '\0';

	memset(&sreq, 0, sizeof(sreq));
	sreq.method = req->method;
	sreq.path = path;
	sreq.query = qmark ? qmark + 1 : NULL;
	sreq.headers = req->headers;
	sreq.nheaders = req->nheaders;
	sreq.payload_hash = hash;

	memset(&params, 0, sizeof(params));
	params.access_key_id = ctx->access_key_id;
	params.secret_access_key = ctx->secret_access_key;
	params.session_token = ctx->token;
	params.region = ctx->region;
	params.service = ctx->service;
	params.timestamp = ctx->timestamp;
	params.normalize_path = ctx->normalize;
	params.sign_body = ctx->sign_body;
	params.omit_session_token = ctx->omit_session_token;
	params.expires = ctx->expires;

	res = query ? sigv4_sign_query(&sreq, &params)
		: sigv4_sign_headers(&sreq, &params);
	if (res == NULL || res->error != NULL)
	{
		printf("    %s: %s signing failed: %s\n", casename, prefix,
			   res ? res->error : "out of memory");
		sigv4_result_free(res);
		free(path);
		free(hash);
		return false;
	}

	ok &= compare_file(dir, casename, file[0], res->canonical_request, compared);
	ok &= compare_file(dir, casename, file[1], res->string_to_sign, compared);
	ok &= compare_file(dir, casename, file[2], res->signature, compared);
	if (query)
	{
		if (asprintf(&target, "%s?%s", path, res->presigned_query) < 0)
			target = NULL;
		if (target == NULL)
			ok = false;
		else
			ok &= compare_signed_request(dir, casename, file[3], req, target,
										 NULL, 0, compared);
	}
	else
		ok &= compare_signed_request(dir, casename, file[3], req, req->target,
									 res->add_headers, res->nadd_headers,
									 compared);
	free(target);
	sigv4_result_free(res);
	free(path);
	free(hash);
	return ok;
}

/* 0 when the case passes, 1 when it fails. */
static int
run_case(const char *dir)
{
	const char *casename = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	CaseContext ctx;
	HttpMessage req;
	char	   *text;
	size_t		len;
	char	   *why;
	bool		ok = true;
	int			compared = 0;

	if (!load_context(dir, &ctx, &why))
	{
		printf("FAIL %s: %s\n", casename, why);
		free_context(&ctx);
		return 1;
	}
	text = read_file(dir, "request.txt", &len);
	if (text == NULL || !parse_message(text, len, &req))
	{
		printf("FAIL %s: request.txt is missing or not an HTTP request\n",
			   casename);
		free(text);
		free_context(&ctx);
		return 1;
	}

	ok &= run_variant(dir, casename, false, &req, &ctx, &compared);
	ok &= run_variant(dir, casename, true, &req, &ctx, &compared);
	if (compared == 0)
	{
		printf("FAIL %s: no expected file to compare with\n", casename);
		ok = false;
	}
	else
		printf("%s %s (%d comparisons)\n", ok ? "ok  " : "FAIL", casename,
			   compared);
	free(text);
	free_context(&ctx);
	return ok ? 0 : 1;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool
is_case_dir(const char *dir)
{
	return file_exists(dir, "context.json") || file_exists(dir, "request.txt");
}

int
main(int argc, char **argv)
{
	int			passed = 0;
	int			failed = 0;
	int			i;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2)
	{
		fprintf(stderr, "usage: %s DIR...\n"
				"  DIR is a case folder or a folder of case folders\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++)
	{
		size_t		len = strlen(argv[i]);
		DIR		   *d;
		struct dirent *de;
		char	  **names = NULL;
		size_t		nnames = 0;
		size_t		k;

		/* "dir/" names the case "dir" */
		while (len > 1 && argv[i][len - 1] == '/')
			argv[i][--len] = '\0';
		if (is_case_dir(argv[i]))
		{
			if (run_case(argv[i]) == 0)
				passed++;
			else
				failed++;
			continue;
		}
		d = opendir(argv[i]);
		if (d == NULL)
		{
			printf("FAIL %s: %s\n", argv[i], strerror(errno));
			failed++;
			continue;
		}
		while ((de = readdir(d)) != NULL)
		{
			char		sub[4096];
			char	  **grown;

			if (de->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", argv[i], de->d_name);
			if (!is_case_dir(sub))
				continue;
			grown = realloc(names, sizeof(char *) * (nnames + 1));
			if (grown == NULL)
				break;
			names = grown;
			names[nnames++] = strdup(sub);
		}
		closedir(d);
		if (nnames == 0)
		{
			printf("FAIL %s: no case folder in it\n", argv[i]);
			failed++;
		}
		qsort(names, nnames, sizeof(char *), compare_names);
		for (k = 0; k < nnames; k++)
		{
			if (names[k] == NULL || run_case(names[k]) != 0)
				failed++;
			else
				passed++;
			free(names[k]);
		}
		free(names);
	}
	printf("sigv4-vectors: %d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
