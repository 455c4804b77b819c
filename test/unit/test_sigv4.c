/*-------------------------------------------------------------------------
 *
 * test_sigv4.c
 *		Unit tests of src/aws/sigv4.c: each canonicalization step, the
 *		rules around tokens, body hashes and presigning, the input checks,
 *		and AWS's published S3 examples.  The official suite's vectors are
 *		replayed by sigv4_vectors.c; botocore agreement by sigv4_botocore.py.
 *
 *-------------------------------------------------------------------------
 */
#include "aws/sigv4.h"
#include "test.h"

#include <stdlib.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define T_20150830 1440938160	/* 2015-08-30T12:36:00Z */
#define T_20130524 1369353600	/* 2013-05-24T00:00:00Z */

static SigV4Params vanilla_params(void);
static const char *find_added(const SigV4Result *res, const char *name);

static SigV4Params
vanilla_params(void)
{
	SigV4Params p = {0};

	p.access_key_id = "AKIDEXAMPLE";
	p.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	p.region = "us-east-1";
	p.service = "service";
	p.timestamp = T_20150830;
	p.normalize_path = true;
	p.expires = 3600;
	return p;
}

static const char *
find_added(const SigV4Result *res, const char *name)
{
	int			i;

	for (i = 0; i < res->nadd_headers; i++)
		if (strcmp(res->add_headers[i].name, name) == 0)
			return res->add_headers[i].value;
	return NULL;
}

/* the string helpers check their own expectations and free */
#define CHECK_ENCODE(in, slash, expected) \
	do { \
		char *out_ = sigv4_uri_encode((in), (slash)); \
		CHECK_STR_EQ(out_, (expected)); \
		free(out_); \
	} while (0)
#define CHECK_URI(in, normalize, expected) \
	do { \
		char *out_ = sigv4_canonical_uri((in), (normalize)); \
		CHECK_STR_EQ(out_, (expected)); \
		free(out_); \
	} while (0)
#define CHECK_QUERY(in, expected) \
	do { \
		char *out_ = sigv4_canonical_query(in); \
		CHECK_STR_EQ(out_, (expected)); \
		free(out_); \
	} while (0)

TEST(hex_sha256)
{
	char	   *h = sigv4_hex_sha256("", 0);

	CHECK_STR_EQ(h, EMPTY_SHA256);
	free(h);
	h = sigv4_hex_sha256("abc", 3);
	CHECK_STR_EQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	free(h);
	/* embedded NUL bytes count */
	h = sigv4_hex_sha256("a\0b", 3);
	CHECK(h != NULL && strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") != 0);
	free(h);
}

TEST(uri_encode_keeps_unreserved)
{
	CHECK_ENCODE("AZaz09-_.~", true, "AZaz09-_.~");
	CHECK_ENCODE("", true, "");
}

TEST(uri_encode_escapes_the_rest_in_upper_case_hex)
{
	CHECK_ENCODE("a b+c=d&e", true, "a%20b%2Bc%3Dd%26e");
	CHECK_ENCODE("100%", true, "100%25");
	CHECK_ENCODE("*'()!", true, "%2A%27%28%29%21");
	/* UTF-8 is encoded byte by byte: U+1234 and U+00E9 */
	CHECK_ENCODE("\xe1\x88\xb4\xc3\xa9", true, "%E1%88%B4%C3%A9");
}

TEST(uri_encode_slash_on_request)
{
	CHECK_ENCODE("a/b", true, "a%2Fb");
	CHECK_ENCODE("a/b", false, "a/b");
}

TEST(canonical_uri_normalizes_dot_segments_and_slashes)
{
	CHECK_URI("/", true, "/");
	CHECK_URI("", true, "/");
	CHECK_URI(NULL, true, "/");
	CHECK_URI("//", true, "/");
	CHECK_URI("//example//", true, "/example/");
	CHECK_URI("/./example", true, "/example");
	CHECK_URI("/example/..", true, "/");
	CHECK_URI("/example1/example2/../..", true, "/");
	CHECK_URI("/a/b/../c/./d/", true, "/a/c/d/");
	CHECK_URI("/../../a", true, "/a");
	CHECK_URI("/a/.", true, "/a");
	/* dots inside a segment are not segments */
	CHECK_URI("/a../.b/...", true, "/a../.b/...");
}

TEST(canonical_uri_encodes_the_wire_path_again)
{
	CHECK_URI("/example space/", true, "/example%20space/");
	CHECK_URI("/a%20b", true, "/a%2520b");
	CHECK_URI("/caf\xc3\xa9", true, "/caf%C3%A9");
	CHECK_URI("/-._~", true, "/-._~");
}

TEST(canonical_uri_s3_is_the_wire_path)
{
	CHECK_URI("/bucket/a%20b//c/../d", false, "/bucket/a%20b//c/../d");
	CHECK_URI("/", false, "/");
	CHECK_URI("", false, "/");
}

TEST(canonical_query_empty)
{
	CHECK_QUERY(NULL, "");
	CHECK_QUERY("", "");
	CHECK_QUERY("&&", "");
}

TEST(canonical_query_sorts_by_encoded_name_then_value)
{
	CHECK_QUERY("Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
				"%E1%88%B4=Value1&Param=Value2&Param-3=Value3");
	CHECK_QUERY("b=2&a=1&B=0", "B=0&a=1&b=2");
	CHECK_QUERY("k=z&k=a&k=m&k=", "k=&k=a&k=m&k=z");
}

TEST(canonical_query_keys_without_values)
{
	CHECK_QUERY("acl", "acl=");
	CHECK_QUERY("uploads&prefix=x", "prefix=x&uploads=");
	CHECK_QUERY("=v", "=v");
	CHECK_QUERY("a=&b", "a=&b=");
	/* only the first '=' separates */
	CHECK_QUERY("a=b=c", "a=b%3Dc");
}

TEST(canonical_query_reencodes)
{
	/* lower-case hex, encoded unreserved characters, raw reserved ones */
	CHECK_QUERY("a=%2f%7E", "a=%2F~");
	CHECK_QUERY("a=x y/z", "a=x%20y%2Fz");
	CHECK_QUERY("a=1+2", "a=1%2B2");
	CHECK_QUERY("a=%E1%88%B4", "a=%E1%88%B4");
	CHECK_QUERY("a=\xe1\x88\xb4", "a=%E1%88%B4");
	/* a '%' that starts no escape is a percent sign */
	CHECK_QUERY("a=%zz&b=%4&c=%", "a=%25zz&b=%254&c=%25");
	CHECK_QUERY("a=%00", "a=%00");
}

TEST(header_signing_get_vanilla)
{
	SigV4Header h[] = {{"Host", "example.amazonaws.com"}};
	SigV4Request req = {"GET", "/", NULL, h, 1, EMPTY_SHA256};
	SigV4Params p = vanilla_params();
	SigV4Result *res = sigv4_sign_headers(&req, &p);

	REQUIRE(res != NULL);
	CHECK(res->error == NULL);
	CHECK_STR_EQ(res->canonical_request,
				 "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
				 "host;x-amz-date\n" EMPTY_SHA256);
	CHECK_STR_EQ(res->signature,
				 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	CHECK_STR_EQ(res->signed_headers, "host;x-amz-date");
	CHECK(res->presigned_query == NULL);
	REQUIRE_INT_EQ(res->nadd_headers, 2);
	CHECK_STR_EQ(res->add_headers[0].name, "X-Amz-Date");
	CHECK_STR_EQ(res->add_headers[0].value, "20150830T123600Z");
	CHECK_STR_EQ(res->add_headers[1].name, "Authorization");
	CHECK_STR_EQ(res->add_headers[1].value,
				 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
				 "SignedHeaders=host;x-amz-date, "
				 "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	sigv4_result_free(res);
}

TEST(header_values_are_trimmed_folded_and_joined)
{
	SigV4Header h[] = {
		{"Host", "example.amazonaws.com"},
		{"My-Header", "  a \t  b  "},
		{"X-Other", "\t"},
		{"my-header", "c"},
		{"MY-HEADER", " d  e "},
	};
	SigV4Request req = {"GET", "/", NULL, h, 5, EMPTY_SHA256};
	SigV4Params p = vanilla_params();
	SigV4Result *res = sigv4_sign_headers(&req, &p);

	REQUIRE(res != NULL && res->error == NULL);
	CHECK_STR_EQ(res->canonical_request,
				 "GET\n/\n\nhost:example.amazonaws.com\nmy-header:a b,c,d e\n"
				 "x-amz-date:20150830T123600Z\nx-other:\n\n"
				 "host;my-header;x-amz-date;x-other\n" EMPTY_SHA256);
	sigv4_result_free(res);
}

TEST(header_signing_signs_the_session_token)
{
	SigV4Header h[] = {{"Host", "example.amazonaws.com"}};
	SigV4Request req = {"GET", "/", NULL, h, 1, EMPTY_SHA256};
	SigV4Params p = vanilla_params();
	SigV4Result *res;

	p.session_token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
	res = sigv4_sign_headers(&req, &p);
	REQUIRE(res != NULL && res->error == NULL);
	CHECK_STR_EQ(res->signed_headers, "host;x-amz-date;x-amz-security-token");
	CHECK_STR_EQ(find_added(res, "X-Amz-Security-Token"), p.session_token);
	CHECK_STR_EQ(res->signature,
				 "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
	sigv4_result_free(res);

	/* omitted: still sent, not signed */
	p.omit_session_token = true;
	res = sigv4_sign_headers(&req, &p);
	REQUIRE(res != NULL && res->error == NULL);
	CHECK_STR_EQ(res->signed_headers, "host;x-amz-date");
	CHECK_STR_EQ(find_added(res, "X-Amz-Security-Token"), p.session_token);
	CHECK(strstr(res->canonical_request, "security-token") == NULL);
	sigv4_result_free(res);

	/* an empty token is no token */
	p.session_token = "";
	p.omit_session_token = false;
	res = sigv4_sign_headers(&req, &p);
	REQUIRE(res != NULL && res->error == NULL);
	CHECK(find_added(res, "X-Amz-Security-Token") == NULL);
	CHECK_STR_EQ(res->signature,
				 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	sigv4_result_free(res);
}

TEST(header_signing_with_body_hash)
{
	SigV4Header h[] = {{"Host", "example.amazonaws.com"}};
	SigV4Request req = {"PUT", "/k", NULL, h, 1, SIGV4_UNSIGNED_PAYLOAD};
	SigV4Params p = vanilla_params();
	SigV4Result *res;

	p.service = "s3";
	p.normalize_path = false;
	p.sign_body = true;
	res = sigv4_sign_headers(&req, &p);
	REQUIRE(res != NULL && res->error == NULL);
	CHECK_STR_EQ(res->signed_headers, "host;x-amz-content-sha256;x-amz-date");
	CHECK_STR_EQ(find_added(res, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
	CHECK(strstr(res->canonical_request, "\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n") != NULL);
	CHECK(strcmp(res->canonical_request + strlen(res->canonical_request) - 17,
				 "\nUNSIGNED-PAYLOAD") == 0);
	/* the Authorization header comes last */
	REQUIRE_INT_EQ(res->nadd_headers, 3);
	CHECK_STR_EQ(res->add_headers[2].name, "Authorization");
	sigv4_result_free(res);
}

/* AWS's S3 documentation example: GET Object with a Range header. */
TEST(s3_documented_get_object)
{
	SigV4Header h[] = {
		{"Host", "examplebucket.s3.amazonaws.com"},
		{"Range", "bytes=0-9"},
	};
	SigV4Request req = {"GET", "/test.txt", NULL, h, 2, EMPTY_SHA256};
	SigV4Params p = {0};
	SigV4Result *res;

	p.access_key_id = "AKIAIOSFODNN7EXAMPLE";
	p.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
	p.region = "us-east-1";
	p.service = "s3";
	p.timestamp = T_20130524;
	p.normalize_path = false;
	p.sign_body = true;
	res = sigv4_sign_headers(&req, &p);
	REQUIRE(res != NULL && res->error == NULL);
	CHECK_STR_EQ(res->canonical_request,
				 "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
				 "x-amz-content-sha256:" EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n\n"
				 "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA256);
	CHECK_STR_EQ(res->signature,
				 "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	sigv4_result_free(res);
}

/* AWS's S3 documentation example: a presigned GET valid for a day. */
TEST(s3_documented_presigned_url)
{
	SigV4Header h[] = {{"Host", "examplebucket.s3.amazonaws.com"}};
	SigV4Request req = {"GET", "/test.txt", NULL, h, 1, SIGV4_UNSIGNED_PAYLOAD};
	SigV4Params p = {0};
	SigV4Result *res;

	p.access_key_id = "AKIAIOSFODNN7EXAMPLE";
	p.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
	p.region = "us-east-1";
	p.service = "s3";
	p.timestamp = T_20130524;
	p.expires = 86400;
	res = sigv4_sign_query(&req, &p);
	REQUIRE(res != NULL && res->error == NULL);
	CHECK_STR_EQ(res->signature,
				 "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	CHECK_STR_EQ(res->presigned_query,
				 "X-Amz-Algorithm=AWS4-HMAC-SHA256"
				 "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
				 "&X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=86400"
				 "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	CHECK_INT_EQ(res->nadd_headers, 0);
	sigv4_result_free(res);
}

TEST(query_signing_keeps_the_request_query_first)
{
	SigV4Header h[] = {{"Host", "example.amazonaws.com"}};
	SigV4Request req = {"GET", "/", "b=2&a=1", h, 1, EMPTY_SHA256};
	SigV4Params p = vanilla_params();
	SigV4Result *res;

	p.session_token = "tok/en+=";
	res = sigv4_sign_query(&req, &p);
	REQUIRE(res != NULL && res->error == NULL);
	CHECK(strncmp(res->presigned_query, "b=2&a=1&X-Amz-Algorithm=", 24) == 0);
	CHECK(strstr(res->presigned_query, "&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-Signature=") != NULL);
	CHECK(strstr(res->canonical_request, "&X-Amz-SignedHeaders=host&a=1&b=2\n") != NULL);
	CHECK(strstr(res->canonical_request, "X-Amz-Security-Token=tok%2Fen%2B%3D") != NULL);
	sigv4_result_free(res);

	/* omitted from what is signed, still sent */
	p.omit_session_token = true;
	res = sigv4_sign_query(&req, &p);
	REQUIRE(res != NULL && res->error == NULL);
	CHECK(strstr(res->canonical_request, "Security-Token") == NULL);
	CHECK(strstr(res->presigned_query, "&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-Signature=") != NULL);
	sigv4_result_free(res);
}

TEST(signature_depends_on_every_input)
{
	SigV4Header h[] = {{"Host", "example.amazonaws.com"}};
	SigV4Request req = {"GET", "/", NULL, h, 1, EMPTY_SHA256};
	SigV4Params p = vanilla_params();
	SigV4Result *base = sigv4_sign_headers(&req, &p);
	SigV4Result *other;

	REQUIRE(base != NULL && base->error == NULL);
	p.timestamp += 86400;
	other = sigv4_sign_headers(&req, &p);
	CHECK(other != NULL && strcmp(other->signature, base->signature) != 0);
	CHECK(other != NULL && strstr(other->string_to_sign, "20150831/us-east-1") != NULL);
	sigv4_result_free(other);
	p = vanilla_params();
	p.region = "eu-west-1";
	other = sigv4_sign_headers(&req, &p);
	CHECK(other != NULL && strcmp(other->signature, base->signature) != 0);
	sigv4_result_free(other);
	p = vanilla_params();
	p.secret_access_key = "other";
	other = sigv4_sign_headers(&req, &p);
	CHECK(other != NULL && strcmp(other->signature, base->signature) != 0);
	CHECK(other != NULL && strcmp(other->canonical_request, base->canonical_request) == 0);
	sigv4_result_free(other);
	sigv4_result_free(base);
}

TEST(unusable_input_gives_an_error)
{
	SigV4Header host[] = {{"Host", "example.amazonaws.com"}};
	SigV4Header nohost[] = {{"X-A", "1"}};
	SigV4Header dated[] = {{"Host", "h"}, {"X-Amz-Date", "20150830T123600Z"}};
	SigV4Header authd[] = {{"Host", "h"}, {"authorization", "x"}};
	SigV4Header badname[] = {{"Host", "h"}, {"a b", "x"}};
	SigV4Request req = {"GET", "/", NULL, nohost, 1, EMPTY_SHA256};
	SigV4Params p = vanilla_params();
	SigV4Result *res;

#define CHECK_ERROR(call, text) \
	do { \
		res = (call); \
		CHECK(res != NULL && res->error != NULL && strstr(res->error, (text)) != NULL); \
		CHECK(res != NULL && res->signature == NULL && res->canonical_request == NULL); \
		sigv4_result_free(res); \
	} while (0)

	CHECK_ERROR(sigv4_sign_headers(NULL, &p), "nothing to sign");
	CHECK_ERROR(sigv4_sign_query(&req, NULL), "nothing to sign");
	CHECK_ERROR(sigv4_sign_headers(&req, &p), "no host header");
	CHECK_ERROR(sigv4_sign_query(&req, &p), "no host header");
	req.headers = dated;
	req.nheaders = 2;
	CHECK_ERROR(sigv4_sign_headers(&req, &p), "x-amz-date");
	req.headers = authd;
	CHECK_ERROR(sigv4_sign_headers(&req, &p), "authorization");
	req.headers = badname;
	CHECK_ERROR(sigv4_sign_headers(&req, &p), "invalid name");
	req.headers = host;
	req.nheaders = 1;
	req.payload_hash = NULL;
	CHECK_ERROR(sigv4_sign_headers(&req, &p), "payload hash");
	req.payload_hash = EMPTY_SHA256;
	req.query = "X-Amz-Signature=abc";
	CHECK_ERROR(sigv4_sign_query(&req, &p), "presigning parameter");
	req.query = NULL;
	p.expires = 0;
	CHECK_ERROR(sigv4_sign_query(&req, &p), "expiry");
	p.expires = 604801;
	CHECK_ERROR(sigv4_sign_query(&req, &p), "expiry");
	p = vanilla_params();
	p.secret_access_key = NULL;
	CHECK_ERROR(sigv4_sign_headers(&req, &p), "credentials");
	p = vanilla_params();
	p.region = "";
	CHECK_ERROR(sigv4_sign_headers(&req, &p), "region");
	p = vanilla_params();
	p.session_token = "t";
	req.headers = (SigV4Header[]) {{"Host", "h"}, {"X-Amz-Security-Token", "t"}};
	req.nheaders = 2;
	CHECK_ERROR(sigv4_sign_headers(&req, &p), "x-amz-security-token");
#undef CHECK_ERROR
}

TEST(errors_never_contain_the_secret)
{
	SigV4Header nohost[] = {{"X-A", "1"}};
	SigV4Request req = {"GET", "/", NULL, nohost, 1, EMPTY_SHA256};
	SigV4Params p = vanilla_params();
	SigV4Result *res = sigv4_sign_headers(&req, &p);

	REQUIRE(res != NULL && res->error != NULL);
	CHECK(strstr(res->error, p.secret_access_key) == NULL);
	sigv4_result_free(res);
	sigv4_result_free(NULL);
}
