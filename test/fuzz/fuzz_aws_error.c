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
 * without '#' or ':' (the namespace and the URI suffix are cut off); the
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

static void
check(int ok, const char *what)
{
	if (!ok)
	{
		fprintf(stderr, "aws_error invariant broken: %s\n", what);
		abort();
	}
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
