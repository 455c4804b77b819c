/*-------------------------------------------------------------------------
 *
 * test_aws_parse.c
 *		Unit tests of the AWS client core's pure parsers (src/aws/protocol.c,
 *		xml.c, ini.c): every error shape (JSON 1.0/1.1, REST-XML, STS query),
 *		retry classification, the XML walker on well-formed and hostile
 *		input, the shared config files, credential documents, timestamps.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_parse.h"
#include "test.h"

#define PARSE(status, body, type, rid) \
	aws_parse_error((status), (body), (body) ? strlen(body) : 0, (type), (rid))

TEST(error_json_10_type_with_namespace)
{
	AwsErrorInfo *e = PARSE(400,
							"{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\","
							"\"message\":\"Requested resource not found\"}",
							NULL, "RID-1");

	REQUIRE(e != NULL);
	CHECK_STR_EQ(e->code, "ResourceNotFoundException");
	CHECK_STR_EQ(e->message, "Requested resource not found");
	CHECK_STR_EQ(e->request_id, "RID-1");
	aws_error_info_free(e);
}

TEST(error_json_11_capital_message)
{
	AwsErrorInfo *e = PARSE(400,
							"  {\"__type\":\"InvalidRequestException\",\"Message\":\"bad query\"}",
							NULL, NULL);

	REQUIRE(e != NULL);
	CHECK_STR_EQ(e->code, "InvalidRequestException");
	CHECK_STR_EQ(e->message, "bad query");
	CHECK(e->request_id == NULL);
	aws_error_info_free(e);
}

TEST(error_header_type_wins_and_is_trimmed)
{
	AwsErrorInfo *e = PARSE(400, "{\"__type\":\"Other\",\"message\":\"m\"}",
							"ValidationException:http://internal.amazon.com/coral/com.amazon.coral.validate/",
							NULL);

	REQUIRE(e != NULL);
	CHECK_STR_EQ(e->code, "ValidationException");
	CHECK_STR_EQ(e->message, "m");
	aws_error_info_free(e);
}

TEST(error_rest_xml_s3)
{
	AwsErrorInfo *e = PARSE(404,
							"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
							"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
							"<Key>a&amp;b</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>",
							NULL, NULL);

	REQUIRE(e != NULL);
	CHECK_STR_EQ(e->code, "NoSuchKey");
	CHECK_STR_EQ(e->message, "The specified key does not exist.");
	CHECK_STR_EQ(e->request_id, "4442587FB7D0A2F9");
	aws_error_info_free(e);
}

TEST(error_sts_query_shape)
{
	AwsErrorInfo *e = PARSE(403,
							"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
							"<Error><Type>Sender</Type><Code>AccessDenied</Code>"
							"<Message>User: arn:aws:iam::1:user/x is not authorized</Message></Error>"
							"<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>",
							NULL, NULL);

	REQUIRE(e != NULL);
	CHECK_STR_EQ(e->code, "AccessDenied");
	CHECK_STR_EQ(e->message, "User: arn:aws:iam::1:user/x is not authorized");
	CHECK_STR_EQ(e->request_id, "c6104cbe-af31-11e0-8154-cbc7ccf896c7");
	aws_error_info_free(e);
}

TEST(error_without_body_takes_code_from_status)
{
	AwsErrorInfo *e = aws_parse_error(404, NULL, 0, NULL, "rid");

	REQUIRE(e != NULL);
	CHECK_STR_EQ(e->code, "NotFound");
	CHECK(e->message == NULL);
	aws_error_info_free(e);
	e = PARSE(418, "", NULL, NULL);
	REQUIRE(e != NULL);
	CHECK_STR_EQ(e->code, "HTTP418");
	aws_error_info_free(e);
	e = PARSE(503, "<html>Service Unavailable</html>", NULL, NULL);
	REQUIRE(e != NULL);
	CHECK_STR_EQ(e->code, "ServiceUnavailable");
	aws_error_info_free(e);
}

TEST(error_hostile_bodies)
{
	static const char *const bodies[] = {
		"{", "{\"__type\": 5, \"message\": []}", "[1,2]", "<", "<Error><Code>",
		"<Error><Code>X</Cod></Error>", "{\"__type\":\"#\"}", "\"\\u0000\"",
		"<a><b><c><d></d></c></b></a>", "<!-- unterminated", "<![CDATA[ x",
		"<Error><Code>  </Code></Error>", "{\"__type\": \"  \"}",
		NULL
	};

	for (int i = 0; bodies[i]; i++)
	{
		AwsErrorInfo *e = PARSE(400, bodies[i], NULL, NULL);

		REQUIRE(e != NULL);
		CHECK(e->code != NULL && e->code[0] != '\0');
		aws_error_info_free(e);
	}
}

/* An empty <Code/> or <Code></Code> is no code: the status names it. */
TEST(error_empty_xml_code_falls_back_to_status)
{
	AwsErrorInfo *e = PARSE(503, "<Error><Code></Code><Message></Message>"
							"<RequestId/></Error>", NULL, NULL);

	REQUIRE(e != NULL);
	CHECK_STR_EQ(e->code, "ServiceUnavailable");
	CHECK(e->message == NULL);
	CHECK(e->request_id == NULL);
	aws_error_info_free(e);

	e = PARSE(403, "<ErrorResponse><Error><Code/></Error><Errors><Error>"
			  "<Code>AccessDenied</Code></Error></Errors></ErrorResponse>", NULL, NULL);
	REQUIRE(e != NULL);
	CHECK_STR_EQ(e->code, "AccessDenied");
	aws_error_info_free(e);
}

TEST(retry_classification)
{
	CHECK(aws_error_is_retryable(400, "ThrottlingException"));
	CHECK(aws_error_is_retryable(400, "ProvisionedThroughputExceededException"));
	CHECK(aws_error_is_retryable(400, "TooManyRequestsException"));
	CHECK(aws_error_is_retryable(400, "RequestLimitExceeded"));
	CHECK(aws_error_is_retryable(503, "SlowDown"));
	CHECK(aws_error_is_retryable(400, "Throttling"));
	CHECK(aws_error_is_retryable(429, "Whatever"));
	CHECK(aws_error_is_retryable(500, "InternalFailure"));
	CHECK(aws_error_is_retryable(502, "BadGateway"));
	CHECK(aws_error_is_retryable(400, "RequestTimeout"));
	CHECK(!aws_error_is_retryable(400, "ValidationException"));
	CHECK(!aws_error_is_retryable(403, "AccessDenied"));
	CHECK(!aws_error_is_retryable(404, "NoSuchKey"));
	CHECK(!aws_error_is_retryable(400, "ExpiredIteratorException"));
	CHECK(!aws_error_is_retryable(501, "NotImplemented"));
	CHECK(aws_error_code_is_throttling("SlowDown"));
	CHECK(!aws_error_code_is_throttling(NULL));
}

typedef struct Collected
{
	char		buf[1024];
	int			n;
} Collected;

static bool
collect_cb(const char *path, const char *text, size_t len, void *arg)
{
	Collected  *c = arg;
	size_t		used = strlen(c->buf);

	snprintf(c->buf + used, sizeof(c->buf) - used, "%s=%.*s;", path, (int) len, text);
	c->n++;
	return true;
}

TEST(xml_walk_paths_entities_cdata)
{
	const char *xml =
		"<?xml version=\"1.0\"?><!-- c --><R a=\"x>y\"><A>1</A>"
		"<B><C>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;&#x20AC;</C><D/></B>"
		"<E><![CDATA[<raw>&amp;]]></E><F>bad &entity; kept</F></R>";
	Collected	c = {"", 0};

	CHECK(aws_xml_walk(xml, strlen(xml), collect_cb, &c));
	CHECK_STR_EQ(c.buf,
				 "R/A=1;R/B/C=<&>\"'AB\xE2\x82\xAC;R/B/D=;R/E=<raw>&amp;;"
				 "R/F=bad &entity; kept;");
	CHECK_INT_EQ(c.n, 5);
}

TEST(xml_walk_rejects_malformed)
{
	static const char *const bad[] = {
		"<A><B>x</A>", "<A>", "</A>", "<A><B></B>", "< >", "<A x=\"unterminated>",
		NULL
	};

	for (int i = 0; bad[i]; i++)
	{
		Collected	c = {"", 0};

		CHECK(!aws_xml_walk(bad[i], strlen(bad[i]), collect_cb, &c));
	}
}

TEST(xml_walk_deep_nesting_is_bounded)
{
	size_t		n = 200;
	char	   *xml = malloc(n * 7 + 1);
	char	   *p = xml;
	Collected	c = {"", 0};

	REQUIRE(xml != NULL);
	for (size_t i = 0; i < n; i++)
	{
		memcpy(p, "<a>", 3);
		p += 3;
	}
	for (size_t i = 0; i < n; i++)
	{
		memcpy(p, "</a>", 4);
		p += 4;
	}
	*p = '\0';
	CHECK(!aws_xml_walk(xml, strlen(xml), collect_cb, &c));
	free(xml);
}

TEST(xml_find_matches_whole_names)
{
	const char *xml = "<X><NotCode>a</NotCode><Error><Code>b</Code></Error></X>";
	char	   *v = aws_xml_find(xml, strlen(xml), "Code");

	CHECK_STR_EQ(v, "b");
	free(v);
	v = aws_xml_find(xml, strlen(xml), "X/Error/Code");
	CHECK_STR_EQ(v, "b");
	free(v);
	v = aws_xml_find(xml, strlen(xml), "Missing");
	CHECK(v == NULL);
	/* not NUL-terminated: the walker stops at len */
	v = aws_xml_find(xml, 12, "NotCode");
	CHECK(v == NULL);
}

TEST(ini_profiles_and_nested_settings)
{
	const char *text =
		"# comment\n"
		"[default]\n"
		"aws_access_key_id = AKIDDEFAULT\r\n"
		"AWS_Secret_Access_Key=secret # not a comment\n"
		"; another comment\n"
		"[profile   dev ]\n"
		"role_arn: arn:aws:iam::123456789012:role/dev\n"
		"source_profile = default\n"
		"s3 =\n"
		"  max_concurrent_requests = 10\n"
		"  addressing_style = path\n"
		"multi = first\n"
		"  second\n"
		"[empty]\n"
		"orphan line\n"
		"[default]\n"
		"region = us-west-2\n";
	AwsIni	   *ini = aws_ini_parse(text, strlen(text));

	REQUIRE(ini != NULL);
	CHECK_STR_EQ(aws_ini_get(ini, "default", "aws_access_key_id"), "AKIDDEFAULT");
	CHECK_STR_EQ(aws_ini_get(ini, "default", "aws_secret_access_key"),
				 "secret # not a comment");
	CHECK_STR_EQ(aws_ini_get(ini, "default", "region"), "us-west-2");
	CHECK_STR_EQ(aws_ini_get(ini, "profile dev", "role_arn"),
				 "arn:aws:iam::123456789012:role/dev");
	CHECK_STR_EQ(aws_ini_get(ini, "profile dev", "s3.addressing_style"), "path");
	CHECK_STR_EQ(aws_ini_get(ini, "profile dev", "s3.max_concurrent_requests"), "10");
	CHECK_STR_EQ(aws_ini_get(ini, "profile dev", "multi"), "first\nsecond");
	CHECK(aws_ini_get(ini, "profile dev", "aws_access_key_id") == NULL);
	CHECK(aws_ini_has_section(ini, "profile dev"));
	CHECK(!aws_ini_has_section(ini, "dev"));
	CHECK(aws_ini_get(ini, "nosuch", "x") == NULL);
	aws_ini_free(ini);
}

TEST(ini_hostile_input)
{
	static const char *const texts[] = {
		"", "[", "]", "[a", "=", "[a]\n=x\n", "  indented first\n", "[a]\n\tk=v\n",
		"[a]\nk\n", "\n\n\n", "[a]\nk=\n  =\n  x\n",
		NULL
	};

	for (int i = 0; texts[i]; i++)
	{
		AwsIni	   *ini = aws_ini_parse(texts[i], strlen(texts[i]));

		REQUIRE(ini != NULL);
		aws_ini_free(ini);
	}
	{
		/* bytes past len are not read; a line holding a NUL is ignored */
		const char text[] = "[a]\nk=v\nj=x\0y\n[b]\nk=w";
		AwsIni	   *ini = aws_ini_parse(text, 7);

		REQUIRE(ini != NULL);
		CHECK_STR_EQ(aws_ini_get(ini, "a", "k"), "v");
		CHECK(aws_ini_get(ini, "b", "k") == NULL);
		aws_ini_free(ini);
		ini = aws_ini_parse(text, sizeof(text) - 1);
		REQUIRE(ini != NULL);
		CHECK(aws_ini_get(ini, "a", "j") == NULL);
		CHECK_STR_EQ(aws_ini_get(ini, "b", "k"), "w");
		aws_ini_free(ini);
	}
}

TEST(credential_process_document)
{
	const char *json =
		"{\"Version\": 1, \"AccessKeyId\": \"ASIAEXAMPLE\", \"SecretAccessKey\": \"s\","
		" \"SessionToken\": \"tok\", \"Expiration\": \"2030-01-02T03:04:05Z\"}";
	AwsCredentialDoc *d = aws_parse_credential_json(json, strlen(json), true);

	REQUIRE(d != NULL);
	CHECK(d->error == NULL);
	CHECK_STR_EQ(d->access_key_id, "ASIAEXAMPLE");
	CHECK_STR_EQ(d->secret_access_key, "s");
	CHECK_STR_EQ(d->session_token, "tok");
	CHECK_INT_EQ(d->expires_at, 1893553445L);
	aws_credential_doc_free(d);
}

TEST(credential_documents_rejected)
{
	static const char *const docs[] = {
		"{\"AccessKeyId\": \"a\", \"SecretAccessKey\": \"s\"}",	/* no Version */
		"{\"Version\": 2, \"AccessKeyId\": \"a\", \"SecretAccessKey\": \"s\"}",
		"{\"Version\": 1, \"AccessKeyId\": \"a\"}",
		"{\"Version\": 1, \"AccessKeyId\": \"a\", \"SecretAccessKey\": \"s\", \"Expiration\": \"soon\"}",
		"not json", "[]", "",
		NULL
	};

	for (int i = 0; docs[i]; i++)
	{
		AwsCredentialDoc *d = aws_parse_credential_json(docs[i], strlen(docs[i]), true);

		REQUIRE(d != NULL);
		CHECK(d->error != NULL);
		aws_credential_doc_free(d);
	}
}

TEST(imds_and_container_documents)
{
	const char *imds =
		"{\"Code\" : \"Success\", \"LastUpdated\" : \"2024-01-01T00:00:00Z\","
		" \"Type\" : \"AWS-HMAC\", \"AccessKeyId\" : \"ASIAIMDS\","
		" \"SecretAccessKey\" : \"sec\", \"Token\" : \"tk\","
		" \"Expiration\" : \"2024-01-01T06:00:00Z\"}";
	const char *failed = "{\"Code\": \"AssumeRoleUnauthorizedAccess\", \"Message\": \"no\"}";
	AwsCredentialDoc *d = aws_parse_credential_json(imds, strlen(imds), false);

	REQUIRE(d != NULL);
	CHECK(d->error == NULL);
	CHECK_STR_EQ(d->session_token, "tk");
	CHECK_INT_EQ(d->expires_at, 1704088800L);
	aws_credential_doc_free(d);

	d = aws_parse_credential_json(failed, strlen(failed), false);
	REQUIRE(d != NULL);
	CHECK_STR_EQ(d->error, "AssumeRoleUnauthorizedAccess: no");
	aws_credential_doc_free(d);
}

TEST(iso8601_forms)
{
	CHECK_INT_EQ(aws_parse_iso8601("1970-01-01T00:00:00Z"), 0);
	CHECK_INT_EQ(aws_parse_iso8601("2024-01-15T16:44:27Z"), 1705337067L);
	CHECK_INT_EQ(aws_parse_iso8601("2024-01-15T16:44:27.123Z"), 1705337067L);
	CHECK_INT_EQ(aws_parse_iso8601("2024-01-15T18:44:27+02:00"), 1705337067L);
	CHECK_INT_EQ(aws_parse_iso8601("2024-01-15 16:44:27"), 1705337067L);
	CHECK_INT_EQ(aws_parse_iso8601("2024-02-29T00:00:00Z"), 1709164800L);
	CHECK_INT_EQ(aws_parse_iso8601("2024-13-01T00:00:00Z"), -1);
	CHECK_INT_EQ(aws_parse_iso8601("2024-01-15"), -1);
	CHECK_INT_EQ(aws_parse_iso8601("2024-01-15T16:44:27Zjunk"), -1);
	CHECK_INT_EQ(aws_parse_iso8601(NULL), -1);
}

TEST(http_dates)
{
	CHECK_INT_EQ(aws_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777L);
	CHECK_INT_EQ(aws_parse_http_date("Mon, 15 Jan 2024 16:44:27 GMT"), 1705337067L);
	CHECK_INT_EQ(aws_parse_http_date("Mon, 15 Jan 2024 16:44:27 UTC"), -1);
	CHECK_INT_EQ(aws_parse_http_date("Mon, 15 Foo 2024 16:44:27 GMT"), -1);
	CHECK_INT_EQ(aws_parse_http_date("15 Jan 2024 16:44:27 GMT"), -1);
	CHECK_INT_EQ(aws_parse_http_date("Mon, 15 Jan 2024 16:44"), -1);
	CHECK_INT_EQ(aws_parse_http_date(""), -1);
	CHECK_INT_EQ(aws_parse_http_date(NULL), -1);
}

TEST(form_encoding)
{
	char	   *s = aws_form_encode("a b&c=d/é~._-");

	CHECK_STR_EQ(s, "a%20b%26c%3Dd%2F%C3%A9~._-");
	free(s);
}
