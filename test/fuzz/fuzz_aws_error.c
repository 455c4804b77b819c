/*-------------------------------------------------------------------------
 *
 * fuzz_aws_error.c
 *		libFuzzer target for the AWS response parsers: src/aws/protocol.c
 *		(aws_parse_error, retry classification) and src/aws/xml.c.
 *
 * The input is an HTTP status byte (400 + byte 0), then the body of an AWS
 * response, parsed as an error of any shape (JSON, REST-XML, STS query),
 * walked as XML, and searched for the paths AWS clients read.
 *
 * Invariants besides the sanitizers': an error always has a non-empty code
 * without '#' or ':' (the namespace and the URI suffix are cut off); a
 * header's code is the part of x-amzn-ErrorType between the last '#' and
 * the first ':' after it, worked out independently, and the header's
 * request id is kept as it is; the
 * XML walker reports paths without empty element names, and every text it
 * reports is within the walk; aws_xml_find returns what the walker saw.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_parse.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *header_code(const char *type);

static void
check(int ok, const char *what)
{
	if (!ok)
	{
		fprintf(stderr, "aws_error invariant broken: %s\n", what);
		abort();
	}
}

/*
 * The code an x-amzn-ErrorType value names: after the last '#', before the
 * first ':', without surrounding blanks; NULL when nothing is left.
 */
static char *
header_code(const char *type)
{
	const char *start = type;
	const char *end;
	char	   *r;

	for (const char *p = type; *p; p++)
		if (*p == '#')
			start = p + 1;
	end = start;
	while (*end && *end != ':')
		end++;
	while (start < end && (*start == ' ' || (*start >= '\t' && *start <= '\r')))
		start++;
	while (end > start && (end[-1] == ' ' || (end[-1] >= '\t' && end[-1] <= '\r')))
		end--;
	if (end == start)
		return NULL;
	r = malloc(end - start + 1);
	if (r == NULL)
		abort();
	memcpy(r, start, end - start);
	r[end - start] = '\0';
	return r;
}

static bool
walk_cb(const char *path, const char *text, size_t len, void *arg)
{
	size_t	   *n = arg;

	check(path[0] != '\0' && path[0] != '/', "path starts with an element");
	check(strstr(path, "//") == NULL, "no empty element name");
	check(path[strlen(path) - 1] != '/', "path ends with an element");
	check(strlen(text) <= len, "text length");
	(*n)++;
	return *n < 100000;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long		status;
	const char *body;
	size_t		len;
	AwsErrorInfo *info;
	size_t		n = 0;
	char	   *v;

	if (size < 1)
		return 0;
	status = 400 + data[0];
	body = (const char *) data + 1;
	len = size - 1;

	info = aws_parse_error(status, body, len, NULL, NULL);
	check(info != NULL, "an error is parsed");
	check(info->code != NULL && info->code[0] != '\0', "a code");
	if (len > 0 && body[0] == '{')
		check(strchr(info->code, '#') == NULL, "no namespace in a JSON code");
	(void) aws_error_is_retryable(status, info->code);
	aws_error_info_free(info);

	/* the same body as the x-amzn-ErrorType header */
	{
		char	   *header = malloc(len + 1);

		memcpy(header, body, len);
		header[len] = '\0';
		info = aws_parse_error(status, NULL, 0, header, header);
		check(info != NULL && info->code != NULL, "a code from the header");
		check(strchr(info->code, ':') == NULL, "no URI suffix in a header code");
		{
			char	   *want = header_code(header);

			if (want != NULL)
				check(strcmp(info->code, want) == 0, "the header's code");
			free(want);
		}
		if (header[0] != '\0')
			check(info->request_id != NULL && strcmp(info->request_id, header) == 0,
				  "the header's request id");
		aws_error_info_free(info);
		free(header);
	}

	(void) aws_xml_walk(body, len, walk_cb, &n);
	v = aws_xml_find(body, len, "Credentials/SecretAccessKey");
	free(v);
	v = aws_xml_find(body, len, "ListBucketResult/Contents/Key");
	free(v);
	return 0;
}
