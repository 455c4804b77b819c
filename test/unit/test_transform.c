/*-------------------------------------------------------------------------
 *
 * test_transform.c
 *		Unit tests of the pump's stream record -> audit record transform
 *		(src/pump/transform.c): numbers as Python's Decimal renders them,
 *		string escapes, canonical base64, every attribute type, the record's
 *		metadata, the newline, and bad records leaving the buffer untouched.
 *
 * The exhaustive comparison with boto3's TypeDeserializer is
 * test/e2e/test_pump_transform.py; these cases pin the edge cases in C and
 * run under valgrind.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "pump/transform.h"
#include "test.h"

/* Checks that what was written equals want (what is compared is printed on failure). */
#define check_str(what, got, want) \
	((void) test_str_eq(__FILE__, __LINE__, (what), #want, (got), (want)))
#define check_true(what, cond) \
	do { \
		if (!(cond)) \
			test_fail(__FILE__, __LINE__, "%s: %s is false", (what), #cond); \
	} while (0)

static void
number_case(const char *in, const char *want)
{
	AuditBuf	buf;
	char		what[256];

	audit_buf_init(&buf);
	snprintf(what, sizeof(what), "number %s -> %s", in, want ? want : "(rejected)");
	if (want == NULL)
		check_true(what, !audit_write_number(&buf, in, strlen(in)) && buf.len == 0);
	else
	{
		check_true(what, audit_write_number(&buf, in, strlen(in)));
		check_str(what, buf.data, want);
	}
	audit_buf_free(&buf);
}

/*
 * Numbers and what Python's str(Decimal(text)) gives for them (the
 * expected values below were taken from Python 3.11's decimal module), or
 * NULL for a text TypeDeserializer refuses.
 */
static const struct
{
	const char *in;
	const char *want;
}			number_cases[] = {
	{"0", "0"},
	{"-0", "-0"},
	{"100", "100"},
	{"007", "7"},
	{"+5", "5"},
	{"1.50", "1.50"},
	{"-3.25", "-3.25"},
	{".5", "0.5"},
	{"5.", "5"},
	{"0.00", "0.00"},
	{"0.000001", "0.000001"},
	{"0.0000001", "1E-7"},
	{"0.00000012", "1.2E-7"},
	{"1E2", "1E+2"},
	{"1e+2", "1E+2"},
	{"12.5E3", "1.25E+4"},
	{"1.5e-3", "0.0015"},
	{"123E-2", "1.23"},
	{"1E-10", "1E-10"},
	{"0E+3", "0E+3"},
	{"9.9999999999999999999999999999999999999E+125",
	 "9.9999999999999999999999999999999999999E+125"},
	{"1E-130", "1E-130"},
	{"12345678901234567890123456789012345678",
	 "12345678901234567890123456789012345678"},
	{"-0.12345678901234567890123456789012345678",
	 "-0.12345678901234567890123456789012345678"},
	{"1234567890123456789012345678901234567.8",
	 "1234567890123456789012345678901234567.8"},
	{"00012.3400E-2", "0.123400"},
	{"0.000E5", "0E+2"},
	{"-0.0", "-0.0"},
	{"00.00100", "0.00100"},
	{"0E-7", "0E-7"},
	{"000", "0"},
	{".000", "0.000"},
	{"1234.5678E-2", "12.345678"},
	{"1234.5678E+5", "1.2345678E+8"},
	{"0.0012345E10", "1.2345E+7"},
	{"-000.000012E-1", "-0.0000012"},
	{"12345678901234567890.123E-25", "0.0000012345678901234567890123"},
	{"100E-2", "1.00"},
	{"-0012E0", "-12"},
	{"", NULL},
	{"-", NULL},
	{".", NULL},
	{"1e", NULL},
	{"1x", NULL},
	{"NaN", NULL},
	{"Infinity", NULL},
	{" 1", NULL},
	{"12345678901234567890123456789012345678.12345E-3", "12345678901234567890123456789012345.67812345"},
	{"-1234567890123456789012345678901234567890123456", "-1234567890123456789012345678901234567890123456"},
	{"1234567890123456789012345678901234567890123456.8", "1234567890123456789012345678901234567890123456.8"},
	{"1e99999999", "1E+99999999"},
	{"5e-99999999", "5E-99999999"},
	{"1e00000001", "1E+1"},
	{"1e123456789", "1E+123456789"},
	{"-.5e-3", "-0.0005"},
	{"+.5", "0.5"},
	{"1E+0", "1"},
	{"7e0", "7"},
	{"000123.4500e-000002", "1.234500"},
	{"99999999999999999999999999999999999999E-5", "999999999999999999999999999999999.99999"},
	{"1.1e6", "1.1E+6"},
	{"-0.000001", "-0.000001"},
	{"0.0000010", "0.0000010"},
	{"120E-1", "12.0"},
	{"12e-1", "1.2"},
	{"1.2.3", NULL},
	{"1e5e5", NULL},
	{"1-2", NULL},
	{"1e+-2", NULL},
	{"1e5.5", NULL},
	{"--1", NULL},
};

TEST(transform_numbers_render_as_python_decimal)
{
	for (int i = 0; i < (int) (sizeof(number_cases) / sizeof(number_cases[0])); i++)
		number_case(number_cases[i].in, number_cases[i].want);
}

TEST(transform_strings_escape_json)
{
	AuditBuf	buf;
	const char	in[] = "a\"b\\c\n\t\r\x01\x1f/\xc3\xa9\xf0\x9f\x98\x80";
	const char	with_nul[] = {'x', '\0', 'y'};

	audit_buf_init(&buf);
	audit_write_json_string(&buf, in, strlen(in));
	check_str("string escapes", buf.data,
			  "\"a\\\"b\\\\c\\n\\t\\r\\u0001\\u001f/\xc3\xa9\xf0\x9f\x98\x80\"");
	buf.len = 0;
	audit_write_json_string(&buf, with_nul, sizeof(with_nul));
	check_str("string with NUL", buf.data, "\"x\\u0000y\"");
	buf.len = 0;
	audit_write_json_string(&buf, "", 0);
	check_str("empty string", buf.data, "\"\"");
	audit_buf_free(&buf);
}

/*
 * Transforms the record in text through both entry points (the json-c tree
 * and the one-pass text reader the pump uses, the latter with its fast
 * walker of compact images and with the careful reader alone, keeping to
 * SSE2) and compares each output with want.
 */
static void
record_case(const char *what, const char *text, const char *want)
{
	json_object *rec = json_tokener_parse(text);
	AuditBuf	buf;
	char		err[256];
	AuditTransformResult r;
	int			path;

	if (rec == NULL)
	{
		test_fail(__FILE__, __LINE__, "%s: the test's record does not parse", what);
		return;
	}
	for (path = 0; path < 3; path++)
	{
		audit_buf_init(&buf);
		err[0] = '\0';
		audit_transform_fast_walk = path != 2;
		audit_transform_avx2 = path != 2;
		r = path == 0 ?
			audit_transform_record(rec, "shardId-000001", "Orders", &buf, NULL, err, sizeof(err)) :
			audit_transform_record_text(text, strlen(text), "shardId-000001", "Orders", &buf,
										NULL, err, sizeof(err));
		if (want == NULL)
			check_true(what, r == AUDIT_TRANSFORM_BAD_RECORD && buf.len == 0 && err[0] != '\0');
		else
		{
			check_true(what, r == AUDIT_TRANSFORM_OK);
			check_str(what, buf.data ? buf.data : "", want);
		}
		audit_buf_free(&buf);
	}
	audit_transform_fast_walk = true;
	audit_transform_avx2 = true;
	json_object_put(rec);
}

#define META_IN "\"eventID\":\"e1\",\"eventName\":\"MODIFY\",\"eventVersion\":\"1.1\"," \
	"\"eventSource\":\"aws:dynamodb\",\"awsRegion\":\"us-east-1\""
#define DDB_IN "\"ApproximateCreationDateTime\":1705337067.123,\"SequenceNumber\":\"000000000000000000001\"," \
	"\"SizeBytes\":10,\"StreamViewType\":\"NEW_AND_OLD_IMAGES\""
#define META_OUT "{\"event_id\":\"e1\",\"event_name\":\"MODIFY\",\"event_time\":\"2024-01-15 16:44:27.123\"," \
	"\"sequence_number\":\"000000000000000000001\",\"shard_id\":\"shardId-000001\"," \
	"\"source_table\":\"Orders\",\"aws_region\":\"us-east-1\""

/*
 * Each of number_cases as an N value in a record's new image: first, with
 * 120 bytes after it, and last, a few bytes from the end of the text.  The
 * fast walker classifies a number's first 48 bytes at once when 96 can be
 * read, else a padded copy of them (transform.c's write_number_masked), and
 * the careful reader and the json-c path read it byte by byte: record_case
 * checks all three.
 */
TEST(transform_numbers_in_records)
{
	char		pad[121];

	memset(pad, 'x', 120);
	pad[120] = '\0';
	for (int i = 0; i < (int) (sizeof(number_cases) / sizeof(number_cases[0])); i++)
	{
		const char *in = number_cases[i].in;
		const char *want = number_cases[i].want;
		char		what[256];
		char		text[1024];
		char		out[1024];

		snprintf(what, sizeof(what), "number %s first in an image", in);
		snprintf(text, sizeof(text), "{" META_IN ",\"dynamodb\":{" DDB_IN ","
				 "\"NewImage\":{\"n\":{\"N\":\"%s\"},\"p\":{\"S\":\"%s\"}}}}", in, pad);
		snprintf(out, sizeof(out), META_OUT ",\"new_image\":{\"n\":%s,\"p\":\"%s\"}}\n",
				 want ? want : "", pad);
		record_case(what, text, want ? out : NULL);

		snprintf(what, sizeof(what), "number %s last in an image", in);
		snprintf(text, sizeof(text), "{" META_IN ",\"dynamodb\":{" DDB_IN ","
				 "\"NewImage\":{\"p\":{\"S\":\"%s\"},\"n\":{\"N\":\"%s\"}}}}", pad, in);
		snprintf(out, sizeof(out), META_OUT ",\"new_image\":{\"p\":\"%s\",\"n\":%s}}\n",
				 pad, want ? want : "");
		record_case(what, text, want ? out : NULL);
	}
}

/*
 * A string literal is copied within a window of 4096 bytes of the input
 * first (transform.c's LITERAL_WINDOW), and again within the rest when it
 * does not close there.  Strings that end, or have an escape, on either
 * side of the window's end read the same on every path, as attribute
 * names and values, and the fast reader still reads them; a bad escape
 * past the window is still bad.
 */
static void reader_case(const char *what, const char *text, const char *want, bool fast);

TEST(transform_strings_across_the_copy_window)
{
	static const char *const escapes[] = {"\\n", "\\u001f", "\\\"", "\\\\"};
	size_t		cap = 16384;
	char	   *str = malloc(cap);
	char	   *text = malloc(3 * cap);
	char	   *want = malloc(3 * cap);

	for (int e = 0; e < 4; e++)
		for (int at = 4080; at <= 4100; at += 2)
			for (int tail = 0; tail <= 40; tail += 20)
			{
				char		what[128];
				size_t		n = 0;

				/* "S": at bytes, an escape, tail bytes, so the escape is near the window's end */
				memset(str, 'a', at);
				n = at;
				memcpy(str + n, escapes[e], strlen(escapes[e]));
				n += strlen(escapes[e]);
				memset(str + n, 'b', tail);
				n += tail;
				str[n] = '\0';
				snprintf(what, sizeof(what), "escape %d at %d, %d after, as a value", e, at, tail);
				snprintf(text, 3 * cap, "{" META_IN ",\"dynamodb\":{" DDB_IN ","
						 "\"NewImage\":{\"s\":{\"S\":\"%s\"},\"l\":{\"L\":[{\"S\":\"%s\"}]}}}}",
						 str, str);
				snprintf(want, 3 * cap, META_OUT ",\"new_image\":{\"s\":\"%s\",\"l\":[\"%s\"]}}\n",
						 str, str);
				reader_case(what, text, want, true);
				snprintf(what, sizeof(what), "escape %d at %d, %d after, as a name", e, at, tail);
				snprintf(text, 3 * cap, "{" META_IN ",\"dynamodb\":{" DDB_IN ","
						 "\"NewImage\":{\"%s\":{\"S\":\"v\"}}}}", str);
				snprintf(want, 3 * cap, META_OUT ",\"new_image\":{\"%s\":\"v\"}}\n", str);
				reader_case(what, text, want, true);
			}
	/* a bad escape, and a raw control character, past the window (json-c takes neither alike) */
	memset(str, 'a', 5000);
	memcpy(str + 5000, "\\x", 3);
	snprintf(text, 3 * cap, "{" META_IN ",\"dynamodb\":{" DDB_IN ",\"NewImage\":{\"s\":{\"S\":\"%s\"}}}}",
			 str);
	reader_case("a bad escape past the window", text, NULL, false);
	memcpy(str + 5000, "\001", 2);
	snprintf(text, 3 * cap, "{" META_IN ",\"dynamodb\":{" DDB_IN ",\"NewImage\":{\"s\":{\"S\":\"%s\"}}}}",
			 str);
	reader_case("a control character past the window", text, NULL, false);
	free(str);
	free(text);
	free(want);
}

/*
 * Transforms the record at the start of a page of pagelen bytes (record,
 * then the text of more records, one long string as far as a reader can
 * tell) by both readers, as the pump reads a GetRecords page in place:
 * the record is read to its end, its output is want (when given), and
 * neither the output nor the buffer of its images grows past bound (or
 * past the latter's size before, when that was larger).
 */
static void
large_page_case(const char *record, size_t reclen, size_t pagelen, const char *want,
				size_t bound)
{
	char	   *page = malloc(pagelen + 1);
	size_t		before = audit_transform_scratch_capacity();
	size_t		len = 0;
	AuditBuf	buf;
	char		err[256];

	memcpy(page, record, reclen);
	page[reclen] = ',';
	page[reclen + 1] = '"';
	memset(page + reclen + 2, 'x', pagelen - reclen - 2);
	page[pagelen] = '\0';
	for (int careful = 0; careful < 2; careful++)
	{
		audit_buf_init(&buf);
		audit_transform_fast_walk = !careful;
		CHECK(audit_transform_record_at(page, pagelen, &len, "shardId-000001", "Orders", &buf,
										NULL, err, sizeof(err)) == AUDIT_TRANSFORM_OK);
		audit_transform_fast_walk = true;
		CHECK(len == reclen);
		if (want != NULL)
			CHECK(buf.len == strlen(want) && memcmp(buf.data, want, buf.len) == 0);
		CHECK(buf.cap < bound);
		audit_buf_free(&buf);
	}
	CHECK(audit_transform_scratch_capacity() <= (before > bound ? before : bound));
	free(page);
}

/*
 * A record at the start of a large page (its text and the 2 MiB after it)
 * takes no more room for its images than the record alone: the buffer
 * they wait in does not grow with the page.
 */
TEST(transform_record_at_the_start_of_a_large_page)
{
	const char *record = "{" META_IN ",\"dynamodb\":{" DDB_IN ",\"Keys\":{\"k\":{\"S\":\"1\"}},"
		"\"NewImage\":{\"k\":{\"S\":\"1\"},\"s\":{\"S\":\"a value\"},\"m\":{\"M\":{\"x\":{\"S\":\"y\"}}}},"
		"\"OldImage\":{\"k\":{\"S\":\"1\"},\"s\":{\"S\":\"before\"}}}}";

	large_page_case(record, strlen(record), strlen(record) + 2 * 1024 * 1024, NULL, 64 * 1024);
}

/*
 * The same for a record with a string of 100,000 bytes: the room asked for
 * follows the string's length (windows 4 times larger each time), not
 * the page's.
 */
TEST(transform_long_string_at_the_start_of_a_large_page)
{
	size_t		slen = 100000;
	char	   *record = malloc(slen + 1024);
	char	   *want = malloc(slen + 1024);
	int			n;

	n = snprintf(record, slen + 1024, "{" META_IN ",\"dynamodb\":{" DDB_IN ",\"NewImage\":{\"s\":{\"S\":\"");
	memset(record + n, 'a', slen);
	strcpy(record + n + slen, "\"}}}}");
	n = snprintf(want, slen + 1024, META_OUT ",\"new_image\":{\"s\":\"");
	memset(want + n, 'a', slen);
	strcpy(want + n + slen, "\"}}\n");
	large_page_case(record, strlen(record), 3 * 1024 * 1024, want, 512 * 1024);
	free(record);
	free(want);
}

TEST(transform_records)
{
	record_case("record with every attribute type",
				"{" META_IN ",\"dynamodb\":{" DDB_IN ","
				"\"Keys\":{\"orderId\":{\"S\":\"101\"}},"
				"\"NewImage\":{\"orderId\":{\"S\":\"101\"},\"n\":{\"N\":\"1E2\"},"
				"\"b\":{\"B\":\"AAEC\"},\"ss\":{\"SS\":[\"x\",\"\"]},\"ns\":{\"NS\":[\"1.50\",\"-2\"]},"
				"\"bs\":{\"BS\":[\"YQ==\",\"YWI=\"]},\"m\":{\"M\":{\"k\":{\"L\":[{\"NULL\":true},"
				"{\"BOOL\":false},{\"BOOL\":true},{\"M\":{}},{\"L\":[]}]}}},\"e\":{\"S\":\"\"}},"
				"\"OldImage\":{\"orderId\":{\"S\":\"101\"}}}}",
				META_OUT ",\"keys\":{\"orderId\":\"101\"},\"key_hash\":{\"orderId\":\"3dc84e44\"},"
				"\"new_image\":{\"orderId\":\"101\",\"n\":1E+2,\"b\":\"AAEC\",\"ss\":[\"x\",\"\"],"
				"\"ns\":[1.50,-2],\"bs\":[\"YQ==\",\"YWI=\"],\"m\":{\"k\":[null,false,true,{},[]]},"
				"\"e\":\"\"},\"old_image\":{\"orderId\":\"101\"}}\n");
	record_case("keys only, TTL delete with user identity",
				"{\"eventID\":\"e2\",\"eventName\":\"REMOVE\",\"awsRegion\":\"eu-west-1\","
				"\"userIdentity\":{\"PrincipalId\":\"dynamodb.amazonaws.com\",\"Type\":\"Service\"},"
				"\"dynamodb\":{\"ApproximateCreationDateTime\":0,\"SequenceNumber\":\"5\","
				"\"Keys\":{\"id\":{\"N\":\"7\"}}}}",
				"{\"event_id\":\"e2\",\"event_name\":\"REMOVE\",\"event_time\":\"1970-01-01 00:00:00.000\","
				"\"sequence_number\":\"5\",\"shard_id\":\"shardId-000001\",\"source_table\":\"Orders\","
				"\"aws_region\":\"eu-west-1\",\"user_identity\":{\"type\":\"Service\","
				"\"principal_id\":\"dynamodb.amazonaws.com\"},\"keys\":{\"id\":7},\"key_hash\":{\"id\":\"081b2451\"}}\n");
	record_case("non-canonical base64 is re-encoded",
				"{" META_IN ",\"dynamodb\":{" DDB_IN ",\"Keys\":{\"b\":{\"B\":\"YR\"},\"c\":{\"B\":\"YWJ\"},"
				"\"d\":{\"B\":\"\"}}}}",
				META_OUT ",\"keys\":{\"b\":\"YQ==\",\"c\":\"YWI=\",\"d\":\"\"},"
				"\"key_hash\":{\"b\":\"027786f8\",\"c\":\"5965ecbf\",\"d\":\"7852b855\"}}\n");
	record_case("leap day and end of a day",
				"{\"eventID\":\"e3\",\"eventName\":\"INSERT\",\"dynamodb\":{"
				"\"ApproximateCreationDateTime\":1709251199.9995,\"SequenceNumber\":\"9\"}}",
				"{\"event_id\":\"e3\",\"event_name\":\"INSERT\",\"event_time\":\"2024-02-29 23:59:59.999\","
				"\"sequence_number\":\"9\",\"shard_id\":\"shardId-000001\",\"source_table\":\"Orders\","
				"\"aws_region\":null}\n");
	record_case("six fraction digits of a time are its microseconds",
				"{\"eventID\":\"e4\",\"dynamodb\":{"
				"\"ApproximateCreationDateTime\":1705337067.999999,\"SequenceNumber\":\"9\"}}",
				"{\"event_id\":\"e4\",\"event_time\":\"2024-01-15 16:44:27.999\","
				"\"sequence_number\":\"9\",\"shard_id\":\"shardId-000001\",\"source_table\":\"Orders\","
				"\"aws_region\":null}\n");
	record_case("a time past 2^31 with a fraction",
				"{\"eventID\":\"e5\",\"dynamodb\":{"
				"\"ApproximateCreationDateTime\":2147483648.5,\"SequenceNumber\":\"9\"}}",
				"{\"event_id\":\"e5\",\"event_time\":\"2038-01-19 03:14:08.500\","
				"\"sequence_number\":\"9\",\"shard_id\":\"shardId-000001\",\"source_table\":\"Orders\","
				"\"aws_region\":null}\n");
	record_case("seven fraction digits round half to even",
				"{\"eventID\":\"e6\",\"dynamodb\":{"
				"\"ApproximateCreationDateTime\":1.0000005,\"SequenceNumber\":\"9\"}}",
				"{\"event_id\":\"e6\",\"event_time\":\"1970-01-01 00:00:01.000\","
				"\"sequence_number\":\"9\",\"shard_id\":\"shardId-000001\",\"source_table\":\"Orders\","
				"\"aws_region\":null}\n");
	record_case("long strings with escapes on both sides of 16-byte blocks",
				"{" META_IN ",\"dynamodb\":{" DDB_IN ",\"Keys\":{"
				"\"a long name of more than sixteen bytes\\t\":{\"S\":\"0123456789abcde\\\"0123456789abcdef/x\"},"
				"\"s\":{\"SS\":[\"\\\\\",\"0123456789abcdefg\"]}}}}",
				META_OUT ",\"keys\":{\"a long name of more than sixteen bytes\\t\":"
				"\"0123456789abcde\\\"0123456789abcdef/x\","
				"\"s\":[\"\\\\\",\"0123456789abcdefg\"]},"
				"\"key_hash\":{\"a long name of more than sixteen bytes\\t\":\"24548687\"}}\n");
	/*
	 * key_hash: the SHA-256 of a string's content (the long-name case
	 * above hashes a decoded \") and of a
	 * number's text as keys has it (1E2 is written 1E+2); expected values
	 * from Python's
	 * hashlib.sha256(text.encode()).hexdigest()[-8:].
	 */
	record_case("key hashes of a string and of a number",
				"{" META_IN ",\"dynamodb\":{" DDB_IN ",\"Keys\":{\"pk\":{\"S\":\"ORD-1\"},"
				"\"sk\":{\"N\":\"1E2\"}}}}",
				META_OUT ",\"keys\":{\"pk\":\"ORD-1\",\"sk\":1E+2},"
				"\"key_hash\":{\"pk\":\"48dfc89b\",\"sk\":\"5a834efe\"}}\n");
	record_case("exponents and fractions in sets, unpadded base64, lists in lists",
				"{" META_IN ",\"dynamodb\":{" DDB_IN ",\"Keys\":{\"k\":{\"S\":\"1\"}},"
				"\"NewImage\":{\"b\":{\"BS\":[\"YR\",\"YWJ\"]},\"n\":{\"NS\":[\"1E2\",\"0.0000001\",\"012\"]},"
				"\"l\":{\"L\":[{\"L\":[{\"M\":{\"x\":{\"N\":\"-0.50\"}}}]}]}}}}",
				META_OUT ",\"keys\":{\"k\":\"1\"},\"key_hash\":{\"k\":\"b7875b4b\"},"
				"\"new_image\":{\"b\":[\"YQ==\",\"YWI=\"],\"n\":[1E+2,1E-7,12],\"l\":[[{\"x\":-0.50}]]}}\n");
	record_case("an image with spaces after compact values",
				"{" META_IN ",\"dynamodb\":{" DDB_IN ",\"Keys\":{\"k\":{\"S\":\"1\"}},"
				"\"NewImage\":{\"b\":{\"BS\":[\"YR\",\"YWJ\"]}, \"n\" : { \"NS\" : [ \"1E2\" ] } }}}",
				META_OUT ",\"keys\":{\"k\":\"1\"},\"key_hash\":{\"k\":\"b7875b4b\"},"
				"\"new_image\":{\"b\":[\"YQ==\",\"YWI=\"],\"n\":[1E+2]}}\n");
	/*
	 * A string's escapes after its first are checked together, 64 bytes at
	 * a time: a \\u whose digits cross the 64th byte, a closing quote at
	 * it, runs of backslashes (strings copied as they are written; escapes
	 * the tree path writes alike).
	 */
#define A10 "aaaaaaaaaa"
#define A50 A10 A10 A10 A10 A10
#define ESC_K "\\\"" A50 "aaaaaaa\\u001f"
#define ESC_K2 "\\\"" A50 "aaaaa\\u001f"
#define ESC_L "\\\\" A50 A10 "a"
#define ESC_M "\\\\\\\\\\\"" A10 "\\u0002\\b\\f\\r\\t\\n" A50
#define ESC_N "\\u001f\\u001f\\u001f\\u001f\\u001f\\u001f\\u001f\\u001f\\u001f\\u001f\\u001f\\u001f"
	record_case("escapes far into long strings",
				"{" META_IN ",\"dynamodb\":{" DDB_IN ",\"Keys\":{\"k\":{\"S\":\"1\"}},"
				"\"NewImage\":{\"k\":{\"S\":\"" ESC_K "\"},\"k2\":{\"S\":\"" ESC_K2 "\"},"
				"\"l\":{\"S\":\"" ESC_L "\"},"
				"\"m\":{\"S\":\"" ESC_M "\"},\"n\":{\"SS\":[\"" ESC_N "\",\"x" ESC_N "\"]}}}}",
				META_OUT ",\"keys\":{\"k\":\"1\"},\"key_hash\":{\"k\":\"b7875b4b\"},"
				"\"new_image\":{\"k\":\"" ESC_K "\",\"k2\":\"" ESC_K2 "\",\"l\":\"" ESC_L "\","
				"\"m\":\"" ESC_M "\","
				"\"n\":[\"" ESC_N "\",\"x" ESC_N "\"]}}\n");
	record_case("short values at the very end of a record",
				"{\"eventID\":\"e7\",\"dynamodb\":{\"SequenceNumber\":\"9\","
				"\"NewImage\":{\"a\":{\"S\":\"\"},\"b\":{\"BOOL\":true}},"
				"\"OldImage\":{\"c\":{\"N\":\"1\"},\"d\":{\"B\":\"\"},\"e\":{\"S\":\"\"}}}}",
				"{\"event_id\":\"e7\",\"event_time\":null,\"sequence_number\":\"9\","
				"\"shard_id\":\"shardId-000001\",\"source_table\":\"Orders\",\"aws_region\":null,"
				"\"new_image\":{\"a\":\"\",\"b\":true},\"old_image\":{\"c\":1,\"d\":\"\",\"e\":\"\"}}\n");
	record_case("unknown attribute type is a bad record",
				"{" META_IN ",\"dynamodb\":{" DDB_IN ",\"Keys\":{\"x\":{\"Q\":\"1\"}}}}", NULL);
	record_case("attribute value with two types is a bad record",
				"{" META_IN ",\"dynamodb\":{" DDB_IN ",\"Keys\":{\"x\":{\"S\":\"1\",\"N\":\"1\"}}}}", NULL);
	record_case("bad number is a bad record",
				"{" META_IN ",\"dynamodb\":{" DDB_IN ",\"NewImage\":{\"x\":{\"NS\":[\"1\",\"one\"]}}}}", NULL);
	record_case("bad base64 is a bad record",
				"{" META_IN ",\"dynamodb\":{" DDB_IN ",\"NewImage\":{\"x\":{\"B\":\"a*==\"}}}}", NULL);
	record_case("record without a sequence number is bad",
				"{" META_IN ",\"dynamodb\":{\"Keys\":{}}}", NULL);
	record_case("record without dynamodb is bad", "{" META_IN "}", NULL);
}

/*
 * The record's object as AWS writes it is read by a fast reader, which
 * gives up on anything else and leaves it to the careful reader (the same
 * audit record, or the same error): record_case checks both, and each
 * case here says which one read it (audit_transform_fast_records).
 */
static void
reader_case(const char *what, const char *text, const char *want, bool fast)
{
	uint64_t	before;
	AuditBuf	buf;
	char		err[256];
	AuditTransformResult r;

	/* the tree path too, where json-c reads the text as the whole record */
	if (want != NULL)
		record_case(what, text, want);
	for (int careful = 0; careful < 2; careful++)
	{
		audit_buf_init(&buf);
		err[0] = '\0';
		audit_transform_fast_walk = !careful;
		before = audit_transform_fast_records;
		r = audit_transform_record_text(text, strlen(text), "shardId-000001", "Orders", &buf,
										NULL, err, sizeof(err));
		audit_transform_fast_walk = true;
		if (want == NULL)
			check_true(what, r == AUDIT_TRANSFORM_BAD_RECORD && buf.len == 0 && err[0] != '\0');
		else
		{
			check_true(what, r == AUDIT_TRANSFORM_OK);
			check_str(what, buf.data ? buf.data : "", want);
		}
		check_true(what, audit_transform_fast_records == before + (fast && !careful ? 1 : 0));
		audit_buf_free(&buf);
	}
}

#define AWS_OUT_TAIL ",\"aws_region\":\"us-east-1\",\"user_identity\":{\"type\":\"Service\"," \
	"\"principal_id\":\"dynamodb.amazonaws.com\"},\"keys\":{\"id\":\"7\"}," \
	"\"key_hash\":{\"id\":\"081b2451\"},\"new_image\":{\"id\":\"7\",\"n\":1},\"old_image\":{\"id\":\"7\"}}\n"

TEST(transform_fast_reader_takes_what_aws_writes)
{
	/* the members in the order of the GetRecords reference's example */
	reader_case("the documented order, identity Type first",
				"{\"awsRegion\":\"us-east-1\",\"dynamodb\":{\"ApproximateCreationDateTime\":1705337067.5,"
				"\"Keys\":{\"id\":{\"S\":\"7\"}},\"NewImage\":{\"id\":{\"S\":\"7\"},\"n\":{\"N\":\"1\"}},"
				"\"OldImage\":{\"id\":{\"S\":\"7\"}},\"SequenceNumber\":\"42\",\"SizeBytes\":26,"
				"\"StreamViewType\":\"NEW_AND_OLD_IMAGES\"},\"eventID\":\"e9\",\"eventName\":\"MODIFY\","
				"\"eventSource\":\"aws:dynamodb\",\"eventVersion\":\"1.1\","
				"\"userIdentity\":{\"Type\":\"Service\",\"PrincipalId\":\"dynamodb.amazonaws.com\"}}",
				"{\"event_id\":\"e9\",\"event_name\":\"MODIFY\",\"event_time\":\"2024-01-15 16:44:27.500\","
				"\"sequence_number\":\"42\",\"shard_id\":\"shardId-000001\",\"source_table\":\"Orders\""
				AWS_OUT_TAIL, true);
	reader_case("a repeated member: the last counts",
				"{\"eventID\":\"e1\",\"eventID\":\"e9\",\"eventName\":\"MODIFY\",\"awsRegion\":\"us-east-1\","
				"\"userIdentity\":{\"PrincipalId\":\"dynamodb.amazonaws.com\",\"Type\":\"Service\"},"
				"\"dynamodb\":{\"ApproximateCreationDateTime\":1705337067.5,\"SequenceNumber\":\"41\","
				"\"Keys\":{\"id\":{\"S\":\"7\"}},\"NewImage\":{\"id\":{\"S\":\"7\"},\"n\":{\"N\":\"1\"}},"
				"\"OldImage\":{\"id\":{\"S\":\"7\"}},\"SequenceNumber\":\"42\"}}",
				"{\"event_id\":\"e9\",\"event_name\":\"MODIFY\",\"event_time\":\"2024-01-15 16:44:27.500\","
				"\"sequence_number\":\"42\",\"shard_id\":\"shardId-000001\",\"source_table\":\"Orders\""
				AWS_OUT_TAIL, true);
	reader_case("a member the fast reader does not know",
				"{" META_IN ",\"eventSourceARN\":\"arn:aws:dynamodb:us-east-1:1:table/T/stream/x\","
				"\"dynamodb\":{" DDB_IN "}}", META_OUT "}\n", false);
	reader_case("an escape in a metadata string",
				"{\"eventID\":\"e\\n\",\"dynamodb\":{\"SequenceNumber\":\"9\"}}",
				"{\"event_id\":\"e\\n\",\"event_time\":null,\"sequence_number\":\"9\","
				"\"shard_id\":\"shardId-000001\",\"source_table\":\"Orders\",\"aws_region\":null}\n",
				false);
	reader_case("a time with an exponent",
				"{\"eventID\":\"e\",\"dynamodb\":{\"ApproximateCreationDateTime\":1.7053370675E9,"
				"\"SequenceNumber\":\"9\"}}",
				"{\"event_id\":\"e\",\"event_time\":\"2024-01-15 16:44:27.500\",\"sequence_number\":\"9\","
				"\"shard_id\":\"shardId-000001\",\"source_table\":\"Orders\",\"aws_region\":null}\n",
				false);
	reader_case("whitespace between members",
				"{\"eventID\":\"e\", \"dynamodb\":{\"SequenceNumber\":\"9\"}}",
				"{\"event_id\":\"e\",\"event_time\":null,\"sequence_number\":\"9\","
				"\"shard_id\":\"shardId-000001\",\"source_table\":\"Orders\",\"aws_region\":null}\n",
				false);
	reader_case("an identity with another member",
				"{\"eventID\":\"e\",\"userIdentity\":{\"Type\":\"Service\",\"x\":1},"
				"\"dynamodb\":{\"SequenceNumber\":\"9\"}}",
				"{\"event_id\":\"e\",\"event_time\":null,\"sequence_number\":\"9\","
				"\"shard_id\":\"shardId-000001\",\"source_table\":\"Orders\",\"aws_region\":null,"
				"\"user_identity\":{\"type\":\"Service\",\"principal_id\":null}}\n",
				false);
	reader_case("a sequence number that is not a string is bad",
				"{\"eventID\":\"e\",\"dynamodb\":{\"SequenceNumber\":9}}", NULL, false);
	reader_case("text after the record is bad",
				"{\"eventID\":\"e\",\"dynamodb\":{\"SequenceNumber\":\"9\"}} x", NULL, true);
	reader_case("a record cut in its last string is bad",
				"{\"eventID\":\"e\",\"dynamodb\":{\"SequenceNumber\":\"9", NULL, false);
	reader_case("a bad image after the fast reader's fields is bad",
				"{" META_IN ",\"dynamodb\":{" DDB_IN ",\"NewImage\":{\"x\":{\"Q\":\"1\"}}}}", NULL, false);
}

/*
 * A string key with an unpaired surrogate escape, which has no UTF-8: its
 * key_hash is of U+FFFD in its place, as json-c reads it (the tree path's
 * key_hash); a pair is one code point.  Expected values from Python's
 * hashlib.sha256(text.encode()).hexdigest()[-8:] of the text with U+FFFD
 * (found by the transform fuzz target, kept as a regression).
 */
TEST(transform_key_hash_of_unpaired_surrogates)
{
	static const char *const cases[][2] = {
		{"x\\ud800y", "578d2c58"},
		{"x\\udc00y", "578d2c58"},
		{"x\\ud800\\u0041y", "c8c41046"},
		{"x\\ud800\\ud800\\udc00y", "90e9322b"},
		{"x\\ud800", "32454d6a"},
		{"\\udfff", "783fb097"},
		{"x\\ud800\\udbffy", "986bfb21"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		text[256];
		char		want[64];
		AuditBuf	buf;

		snprintf(text, sizeof(text),
				 "{\"eventID\":\"e1\",\"dynamodb\":{\"SequenceNumber\":\"7\","
				 "\"Keys\":{\"k\":{\"S\":\"%s\"}}}}", cases[i][0]);
		snprintf(want, sizeof(want), "\"key_hash\":{\"k\":\"%s\"}", cases[i][1]);
		audit_buf_init(&buf);
		CHECK(audit_transform_record_text(text, strlen(text), "s", "t", &buf, NULL, NULL, 0) ==
			  AUDIT_TRANSFORM_OK);
		CHECK(buf.data != NULL && strstr(buf.data, want) != NULL);
		audit_buf_free(&buf);
	}
}

/*
 * A time out of range fails the record after its first fields were
 * written: the buffer is back to what it held, still NUL-terminated there.
 */
TEST(transform_bad_event_time_leaves_buffer)
{
	json_object *bad = json_tokener_parse("{\"eventID\":\"b\",\"dynamodb\":{\"SequenceNumber\":\"2\","
										  "\"ApproximateCreationDateTime\":1E300}}");
	AuditBuf	buf;

	audit_buf_init(&buf);
	audit_buf_append(&buf, "before\n", 7);
	check_true("an out of range time is a bad record",
			   audit_transform_record(bad, NULL, NULL, &buf, NULL, NULL, 0) == AUDIT_TRANSFORM_BAD_RECORD);
	check_true("the buffer is as it was", buf.len == 7);
	check_str("the buffer is terminated where it was", buf.data, "before\n");
	json_object_put(bad);
	audit_buf_free(&buf);
}

/*
 * The shard id and the table name are the caller's C strings: copied
 * between quotes when they need no escape, escaped when they do (a table
 * name may hold a quote), null when missing; with the record's images
 * after them in both cases.
 */
TEST(transform_shard_and_table_are_json_strings)
{
	static const char text[] =
		"{\"eventID\":\"e1\",\"dynamodb\":{\"SequenceNumber\":\"7\","
		"\"Keys\":{\"id\":{\"S\":\"a\"}},\"NewImage\":{\"id\":{\"S\":\"a\"}}}}";
	static const char *const shard[] = {"shardId-1", "sh\"ard\\1", NULL};
	static const char *const table[] = {"Orders", "T\tab\x01le", NULL};
	static const char *const want[] = {
		"{\"event_id\":\"e1\",\"event_time\":null,\"sequence_number\":\"7\","
		"\"shard_id\":\"shardId-1\",\"source_table\":\"Orders\",\"aws_region\":null,"
		"\"keys\":{\"id\":\"a\"},\"key_hash\":{\"id\":\"afee48bb\"},\"new_image\":{\"id\":\"a\"}}\n",
		"{\"event_id\":\"e1\",\"event_time\":null,\"sequence_number\":\"7\","
		"\"shard_id\":\"sh\\\"ard\\\\1\",\"source_table\":\"T\\tab\\u0001le\",\"aws_region\":null,"
		"\"keys\":{\"id\":\"a\"},\"key_hash\":{\"id\":\"afee48bb\"},\"new_image\":{\"id\":\"a\"}}\n",
		"{\"event_id\":\"e1\",\"event_time\":null,\"sequence_number\":\"7\","
		"\"shard_id\":null,\"source_table\":null,\"aws_region\":null,"
		"\"keys\":{\"id\":\"a\"},\"key_hash\":{\"id\":\"afee48bb\"},\"new_image\":{\"id\":\"a\"}}\n",
	};

	for (int i = 0; i < 3; i++)
	{
		AuditBuf	buf;

		audit_buf_init(&buf);
		CHECK(audit_transform_record_text(text, strlen(text), shard[i], table[i], &buf, NULL,
										  NULL, 0) == AUDIT_TRANSFORM_OK);
		check_str("shard id and table name as JSON strings", buf.data ? buf.data : "", want[i]);
		audit_buf_free(&buf);
	}
}

TEST(transform_bad_record_leaves_buffer_and_buffer_grows)
{
	json_object *good = json_tokener_parse("{\"eventID\":\"g\",\"dynamodb\":{\"SequenceNumber\":\"1\","
										   "\"ApproximateCreationDateTime\":1}}");
	json_object *bad = json_tokener_parse("{\"eventID\":\"b\",\"dynamodb\":{\"SequenceNumber\":\"2\","
										  "\"ApproximateCreationDateTime\":1,"
										  "\"NewImage\":{\"a\":{\"S\":\"long enough to grow\"},\"z\":{\"X\":1}}}}");
	AuditBuf	buf;
	size_t		first_len;
	int			i;

	audit_buf_init(&buf);
	audit_transform_record(good, NULL, NULL, &buf, NULL, NULL, 0);
	first_len = buf.len;
	check_true("bad record leaves the buffer as it was",
			   audit_transform_record(bad, NULL, NULL, &buf, NULL, NULL, 0) == AUDIT_TRANSFORM_BAD_RECORD &&
			   buf.len == first_len && buf.data[buf.len - 1] == '\n');
	/* many records in one buffer grow it without losing any */
	for (i = 0; i < 2000; i++)
		audit_transform_record(good, "s", "t", &buf, NULL, NULL, 0);
	{
		size_t		lines = 0;
		size_t		j;

		for (j = 0; j < buf.len; j++)
			lines += buf.data[j] == '\n';
		check_true("2001 records, 2001 newlines", lines == 2001 && !buf.oom);
	}
	json_object_put(good);
	json_object_put(bad);
	audit_buf_free(&buf);
}


TEST(transform_reports_keys_and_time)
{
	json_object *rec = json_tokener_parse("{\"eventID\":\"g\",\"dynamodb\":{\"SequenceNumber\":\"1\","
										  "\"ApproximateCreationDateTime\":1705337067.5,"
										  "\"Keys\":{\"orderId\":{\"S\":\"101\"},\"n\":{\"N\":\"1.0\"}}}}");
	AuditBuf	buf;
	AuditRecordInfo info;
	char	   *keys;

	audit_buf_init(&buf);
	CHECK(audit_transform_record(rec, NULL, NULL, &buf, &info, NULL, 0) == AUDIT_TRANSFORM_OK);
	keys = strndup(buf.data + info.keys_offset, info.keys_len);
	CHECK_STR_EQ(keys, "{\"orderId\":\"101\",\"n\":1.0}");
	CHECK(info.approximate_time == 1705337067.5);
	free(keys);
	json_object_put(rec);
	audit_buf_free(&buf);
}

typedef struct PageRecords
{
	int			n;
	char		texts[4][256];
} PageRecords;

static bool
collect_record(void *arg, const char *text, size_t len)
{
	PageRecords *pr = arg;

	if (pr->n < 4 && len < sizeof(pr->texts[0]))
		snprintf(pr->texts[pr->n], sizeof(pr->texts[0]), "%.*s", (int) len, text);
	pr->n++;
	return true;
}

TEST(transform_page_scan_finds_records_and_iterator)
{
	const char *body = "{ \"Records\" : [ {\"eventID\":\"a\",\"dynamodb\":{\"SequenceNumber\":\"1\"}} ,\n"
		"{\"eventID\":\"b\",\"dynamodb\":{\"SequenceNumber\":\"2\",\"Keys\":{\"k\":{\"S\":\"}]\\\"\"}}}} ],"
		" \"NextShardIterator\" : \"it\\/1\" }";
	PageRecords pr;
	const char *next;
	size_t		next_len;
	int			n;
	char		err[128];

	memset(&pr, 0, sizeof(pr));
	CHECK(audit_scan_records_page(body, strlen(body), collect_record, &pr, &next, &next_len,
								  &n, err, sizeof(err)));
	CHECK_INT_EQ(n, 2);
	CHECK_INT_EQ(pr.n, 2);
	CHECK_STR_EQ(pr.texts[0], "{\"eventID\":\"a\",\"dynamodb\":{\"SequenceNumber\":\"1\"}}");
	CHECK(next != NULL && next_len == 5 && memcmp(next, "it\\/1", 5) == 0);

	/* a drained shard: null iterator; and a body that is not a page */
	memset(&pr, 0, sizeof(pr));
	CHECK(audit_scan_records_page("{\"Records\":[],\"NextShardIterator\":null}", 39,
								  collect_record, &pr, &next, &next_len, &n, err, sizeof(err)));
	CHECK(next == NULL && n == 0);
	CHECK(!audit_scan_records_page("{\"Records\":[{]}", 15, collect_record, &pr, &next,
								   &next_len, &n, err, sizeof(err)));
	CHECK(!audit_scan_records_page("{\"Other\":1}", 11, collect_record, &pr, &next,
								   &next_len, &n, err, sizeof(err)));
}

/* The one-pass walk: each record transformed where it starts, its end as read. */
static bool
transform_record_at(void *arg, const char *text, size_t avail, size_t *len)
{
	PageRecords *pr = arg;
	AuditBuf	buf;
	char		err[128];
	AuditTransformResult r;

	audit_buf_init(&buf);
	r = audit_transform_record_at(text, avail, len, "s", "t", &buf, NULL, err, sizeof(err));
	if (pr->n < 4 && *len < sizeof(pr->texts[0]))
		snprintf(pr->texts[pr->n], sizeof(pr->texts[0]), "%d %.*s", (int) r, (int) *len, text);
	audit_buf_free(&buf);
	pr->n++;
	return true;
}

TEST(transform_page_walk_transforms_records_in_one_pass)
{
	const char *body = "{\"Records\":[ {\"eventID\":\"a\",\"dynamodb\":{\"SequenceNumber\":\"1\","
		"\"Keys\":{\"k\":{\"S\":\"}]\\\"\"}}}} ,[1,{\"x\":\"]\"}],\n"
		"{\"eventID\":\"c\"}],\"NextShardIterator\":\"it\"}";
	PageRecords pr;
	const char *next;
	size_t		next_len;
	int			n;
	char		err[128];
	char		expect[256];

	memset(&pr, 0, sizeof(pr));
	CHECK(audit_walk_records_page(body, strlen(body), transform_record_at, &pr, &next,
								  &next_len, &n, err, sizeof(err)));
	CHECK_INT_EQ(n, 3);
	snprintf(expect, sizeof(expect), "%d %s", (int) AUDIT_TRANSFORM_OK,
			 "{\"eventID\":\"a\",\"dynamodb\":{\"SequenceNumber\":\"1\","
			 "\"Keys\":{\"k\":{\"S\":\"}]\\\"\"}}}}");
	CHECK_STR_EQ(pr.texts[0], expect);
	/* records the transform refuses end where their brackets do */
	snprintf(expect, sizeof(expect), "%d [1,{\"x\":\"]\"}]", (int) AUDIT_TRANSFORM_BAD_RECORD);
	CHECK_STR_EQ(pr.texts[1], expect);
	snprintf(expect, sizeof(expect), "%d {\"eventID\":\"c\"}", (int) AUDIT_TRANSFORM_BAD_RECORD);
	CHECK_STR_EQ(pr.texts[2], expect);
	CHECK(next != NULL && next_len == 2 && memcmp(next, "it", 2) == 0);

	/* an element whose end cannot be found, or that is no object: a malformed page */
	CHECK(!audit_walk_records_page("{\"Records\":[{\"a\":\"}]}", 21, transform_record_at,
								   &pr, &next, &next_len, &n, err, sizeof(err)));
	CHECK(!audit_walk_records_page("{\"Records\":[\"a\"]}", 17, transform_record_at, &pr,
								   &next, &next_len, &n, err, sizeof(err)));
	CHECK(!audit_walk_records_page("{\"Records\":[{}}]}", 17, transform_record_at, &pr,
								   &next, &next_len, &n, err, sizeof(err)));

	/*
	 * A field the record reader keeps whose string or number does not end
	 * (found by the fuzz target): the page is malformed, as the two-pass
	 * walk says, not a record that ends at the brace after the quote.
	 */
	{
		static const char *const pages[] = {
			"{\"Records\":[{\"eventID\":\"}]}",
			"{\"Records\":[{\"eventName\":\"}]}",
			"{\"Records\":[{\"awsRegion\":\"}]}",
			"{\"Records\":[{\"userIdentity\":{\"Type\":\"}}]}",
			"{\"Records\":[{\"userIdentity\":{\"PrincipalId\":\"}}]}",
			"{\"Records\":[{\"dynamodb\":{\"SequenceNumber\":\"}}]}",
			"{\"Records\":[{\"dynamodb\":{\"ApproximateCreationDateTime\":\"}}]}",
			"{\"Records\":[{\"eventID\":\"a\"},{\"eventID\": \"}",
		};

		for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		{
			char		err2[128];

			CHECK(!audit_scan_records_page(pages[i], strlen(pages[i]), collect_record, &pr,
										   &next, &next_len, &n, err2, sizeof(err2)));
			CHECK(!audit_walk_records_page(pages[i], strlen(pages[i]), transform_record_at, &pr,
										   &next, &next_len, &n, err, sizeof(err)));
			CHECK_STR_EQ(err, err2);
		}
	}
}

TEST(transform_text_copies_strings_and_decodes_escaped_numbers)
{
	const char *rec = "{\"eventID\":\"e\\u0031\",\"dynamodb\":{\"SequenceNumber\":\"7\","
		"\"ApproximateCreationDateTime\":0,"
		"\"NewImage\":{\"n\\u001f\":{\"N\":\"1\\u0045\\u0032\"},\"b\":{\"B\":\"a\\/8=\"},"
		"\"s\":{\"S\":\"a\\\"\\\\\\/\\u0001\"}},\"Keys\":{\"id\":{\"S\":\"x\"}}}}";
	AuditBuf	buf;
	AuditRecordInfo info;
	char		err[128];

	audit_buf_init(&buf);
	CHECK(audit_transform_record_text(rec, strlen(rec), "s", "t", &buf, &info, err, sizeof(err)) ==
		  AUDIT_TRANSFORM_OK);
	CHECK_STR_EQ(buf.data, "{\"event_id\":\"e\\u0031\",\"event_time\":\"1970-01-01 00:00:00.000\","
				 "\"sequence_number\":\"7\",\"shard_id\":\"s\",\"source_table\":\"t\",\"aws_region\":null,"
				 "\"keys\":{\"id\":\"x\"},\"key_hash\":{\"id\":\"921a4881\"},\"new_image\":{\"n\\u001f\":1E+2,\"b\":\"a/8=\","
				 "\"s\":\"a\\\"\\\\\\/\\u0001\"}}\n");
	CHECK(info.sequence_number_len == 1 && info.sequence_number[0] == '7');
	CHECK(info.event_id_len == 7);
	/* a raw control character in a string is not JSON */
	buf.len = 0;
	CHECK(audit_transform_record_text("{\"eventID\":\"a\x01\",\"dynamodb\":{\"SequenceNumber\":\"1\"}}", 48,
									  NULL, NULL, &buf, NULL, err, sizeof(err)) ==
		  AUDIT_TRANSFORM_BAD_RECORD);
	CHECK_INT_EQ(buf.len, 0);
	audit_buf_free(&buf);
}

TEST(transform_item_is_a_snapshot_record)
{
	const char *item = "{\"n\":{\"N\":\"1.50\"},\"sk\":{\"N\":\"7\"},"
		"\"orderId\":{\"S\":\"101\"},\"tags\":{\"SS\":[\"a\",\"b\"]}}";
	const char *keys2[] = {"orderId", "sk"};
	AuditBuf	buf;
	AuditRecordInfo info;
	char		err[128];
	char	   *keys;
	char	   *first;

	audit_buf_init(&buf);
	CHECK(audit_transform_item_text(item, strlen(item), "snapshot-3-", 1705337067.0, "Orders",
									"us-east-1", keys2, 2, &buf, &info, err, sizeof(err))
		  == AUDIT_TRANSFORM_OK);
	/*
	 * the keys in key schema order; the event id ends with the FNV-1a 64 of
	 * their text (Python: h ^= byte; h *= 1099511628211 mod 2**64 from
	 * 14695981039346656037 gives de97771d143bcf37); key_hash as for a
	 * stream record (hashlib.sha256(b"101").hexdigest()[-8:])
	 */
	CHECK_STR_EQ(buf.data, "{\"event_id\":\"snapshot-3-de97771d143bcf37\",\"event_name\":\"SNAPSHOT\","
				 "\"event_time\":\"2024-01-15 16:44:27.000\",\"sequence_number\":\"\","
				 "\"shard_id\":null,\"source_table\":\"Orders\",\"aws_region\":\"us-east-1\","
				 "\"keys\":{\"orderId\":\"101\",\"sk\":7},"
				 "\"key_hash\":{\"orderId\":\"3dc84e44\",\"sk\":\"081b2451\"},"
				 "\"new_image\":{\"n\":1.50,\"sk\":7,\"orderId\":\"101\",\"tags\":[\"a\",\"b\"]}}\n");
	keys = strndup(buf.data + info.keys_offset, info.keys_len);
	CHECK_STR_EQ(keys, "{\"orderId\":\"101\",\"sk\":7}");
	CHECK(info.sequence_number_len == 0 && info.approximate_time == 1705337067.0);
	CHECK(info.event_id_len == strlen("snapshot-3-") + 16 &&
		  memcmp(info.event_id, "snapshot-3-", 11) == 0);
	free(keys);
	first = strdup(buf.data);

	/* the same item read again (a resent page): the same record */
	buf.len = 0;
	CHECK(audit_transform_item_text(item, strlen(item), "snapshot-3-", 1705337067.0, "Orders",
									"us-east-1", keys2, 2, &buf, &info, err, sizeof(err))
		  == AUDIT_TRANSFORM_OK);
	CHECK_STR_EQ(buf.data, first);
	free(first);

	/* an item without its key, or not an item: the buffer as it was */
	buf.len = 0;
	CHECK(audit_transform_item_text("{\"n\":{\"N\":\"1\"}}", 15, "p-", 0, NULL, NULL, keys2, 1,
									&buf, &info, err, sizeof(err)) == AUDIT_TRANSFORM_BAD_RECORD);
	CHECK(buf.len == 0 && strstr(err, "orderId") != NULL);
	CHECK(audit_transform_item_text("{\"n\":{\"X\":\"1\"}}", 15, "p-", 0, NULL, NULL, keys2, 1,
									&buf, &info, err, sizeof(err)) == AUDIT_TRANSFORM_BAD_RECORD);
	CHECK(audit_transform_item_text("[1]", 3, "p-", 0, NULL, NULL, keys2, 1,
									&buf, &info, err, sizeof(err)) == AUDIT_TRANSFORM_BAD_RECORD);
	CHECK(buf.len == 0);
	audit_buf_free(&buf);
}

TEST(transform_scan_page_finds_items_key_and_capacity)
{
	const char *body = "{\"ConsumedCapacity\":{\"TableName\":\"t\",\"CapacityUnits\":128.5},"
		"\"Count\":2,\"Items\":[{\"k\":{\"S\":\"a\"}},{\"k\":{\"S\":\"]}\\\"\"}}],"
		"\"LastEvaluatedKey\":{\"k\":{\"S\":\"b\"}},\"ScannedCount\":3}";
	PageRecords pr;
	AuditScanPage page;
	char		err[128];

	memset(&pr, 0, sizeof(pr));
	CHECK(audit_scan_items_page(body, strlen(body), collect_record, &pr, &page, err,
								sizeof(err)));
	CHECK_INT_EQ(page.nitems, 2);
	CHECK_INT_EQ(page.scanned_count, 3);
	CHECK_STR_EQ(pr.texts[1], "{\"k\":{\"S\":\"]}\\\"\"}}");
	CHECK(page.has_consumed_capacity && page.consumed_capacity == 128.5);
	CHECK(page.last_evaluated_key_len == 15 &&
		  memcmp(page.last_evaluated_key, "{\"k\":{\"S\":\"b\"}}", 15) == 0);

	/* the last page has no LastEvaluatedKey; a body that is not a page */
	memset(&pr, 0, sizeof(pr));
	CHECK(audit_scan_items_page("{\"Items\":[],\"Count\":0}", 22, collect_record, &pr, &page,
								err, sizeof(err)));
	CHECK(page.last_evaluated_key == NULL && page.nitems == 0 && !page.has_consumed_capacity);
	CHECK(!audit_scan_items_page("{\"Count\":0}", 11, collect_record, &pr, &page, err,
								 sizeof(err)));
	CHECK(!audit_scan_items_page("{\"Items\":[{]}", 13, collect_record, &pr, &page, err,
								 sizeof(err)));
	/* a ScannedCount that no count can be: the page is malformed */
	CHECK(!audit_scan_items_page("{\"Items\":[],\"ScannedCount\":1e58}", 32, collect_record,
								 &pr, &page, err, sizeof(err)));
	CHECK(!audit_scan_items_page("{\"Items\":[],\"ScannedCount\":-1}", 30, collect_record,
								 &pr, &page, err, sizeof(err)));
}

static void
unmarshal_case(const char *what, const char *in, bool item, const char *want)
{
	AuditBuf	buf;
	char		err[200];
	AuditTransformResult r;

	audit_buf_init(&buf);
	audit_buf_append(&buf, "<", 1);
	r = audit_unmarshal_text(in, strlen(in), item, &buf, err, sizeof(err));
	audit_buf_append(&buf, ">", 1);
	if (want == NULL)
	{
		check_true(what, r == AUDIT_TRANSFORM_BAD_RECORD);
		check_str(what, buf.data, "<>");
		check_true(what, err[0] != '\0');
	}
	else
	{
		check_true(what, r == AUDIT_TRANSFORM_OK);
		check_str(what, buf.data, want);
	}
	audit_buf_free(&buf);
}

/*
 * One attribute value, or an item, unmarshalled as the images of an audit
 * record are: what the foreign tables over live DynamoDB tables read into
 * their jsonb columns (src/dynamodb/convert.c).
 */
TEST(transform_unmarshal_values_and_items)
{
	unmarshal_case("string", "{\"S\":\"a\\\"b\"}", false, "<\"a\\\"b\">");
	unmarshal_case("number as Decimal", "{\"N\":\"1.50E2\"}", false, "<150>");
	unmarshal_case("38 digits", "{\"N\":\"12345678901234567890123456789012345678\"}", false,
				   "<12345678901234567890123456789012345678>");
	unmarshal_case("bool, null", "{\"L\":[{\"BOOL\":true},{\"NULL\":true}]}", false,
				   "<[true,null]>");
	unmarshal_case("sets as arrays", "{\"SS\":[\"x\",\"y\"]}", false, "<[\"x\",\"y\"]>");
	unmarshal_case("binary canonical", "{\"B\":\"AP9hYg==\"}", false, "<\"AP9hYg==\">");
	unmarshal_case("map", "{\"M\":{\"k\":{\"NS\":[\"1\",\"2.0\"]}}}", false,
				   "<{\"k\":[1,2.0]}>");
	unmarshal_case("item", "{\"orderId\":{\"S\":\"101\"},\"n\":{\"N\":\"7\"}}", true,
				   "<{\"orderId\":\"101\",\"n\":7}>");
	unmarshal_case("empty item", "{}", true, "<{}>");
	unmarshal_case("unknown type", "{\"Q\":\"1\"}", false, NULL);
	unmarshal_case("two types", "{\"S\":\"1\",\"N\":\"1\"}", false, NULL);
	unmarshal_case("bad number", "{\"N\":\"one\"}", false, NULL);
	unmarshal_case("text after", "{\"S\":\"a\"} x", false, NULL);
	unmarshal_case("item is not a map", "[]", true, NULL);
	unmarshal_case("escapes in a long string", "{\"S\":\"\\n" A50 A10 A10 "\\/\"}", false,
				   "<\"\\n" A50 A10 A10 "\\/\">");
	unmarshal_case("a bad escape far into a long string",
				   "{\"S\":\"\\n" A50 "\\x" A10 A10 "\"}", false, NULL);
	unmarshal_case("a control character after an escape",
				   "{\"S\":\"\\n" A10 A10 "\x01" A50 "\"}", false, NULL);
	unmarshal_case("a quote among a \\u escape's digits",
				   "{\"S\":\"\\n" A50 "aaaaaa\\u00\"" A10 A10 "\"}", false, NULL);
}

/*
 * Attribute folders (transform.c's header): the record of a stream record
 * with the given dynamodb members (after Keys) ends with the attribute_folder
 * member want, through every entry point, and is otherwise the record
 * written without folders.
 */
static AuditTransformResult
folder_path(int path, json_object *rec, const char *text, AuditBuf *buf)
{
	char		err[256];

	audit_transform_fast_walk = path != 2;
	return path == 0 ?
		audit_transform_record(rec, "s", "Orders", buf, NULL, err, sizeof(err)) :
		audit_transform_record_text(text, strlen(text), "s", "Orders", buf, NULL,
									err, sizeof(err));
}

static void
folder_case(const char *what, const char *event_name, const char *images, const char *want)
{
	const char *values[] = {"SHIPPED", "PLACED", "1", "true", "QUJD", "a.b_c-D"};
	char		text[2048];
	char		tail[128];
	int			path;
	json_object *rec;

	snprintf(text, sizeof(text),
			 "{\"eventID\":\"e1\",\"eventName\":\"%s\",\"dynamodb\":{\"SequenceNumber\":\"7\","
			 "\"Keys\":{\"orderId\":{\"S\":\"101\"}}%s%s}}", event_name, images[0] ? "," : "",
			 images);
	snprintf(tail, sizeof(tail), ",\"attribute_folder\":\"%s\"}\n", want);
	rec = json_tokener_parse(text);
	if (rec == NULL)
	{
		test_fail(__FILE__, __LINE__, "%s: the test's record does not parse", what);
		return;
	}
	for (path = 0; path < 3; path++)
	{
		AuditBuf	plain;
		AuditBuf	buf;
		AuditTransformResult r;

		audit_buf_init(&plain);
		audit_buf_init(&buf);
		check_true(what, folder_path(path, rec, text, &plain) == AUDIT_TRANSFORM_OK);
		check_true(what, audit_transform_set_folders("state", values, 6));
		r = folder_path(path, rec, text, &buf);
		check_true(what, audit_transform_set_folders(NULL, NULL, 0));
		check_true(what, r == AUDIT_TRANSFORM_OK);
		if (r == AUDIT_TRANSFORM_OK && plain.len > 2)
		{
			/* the record as without folders, then the member, last */
			check_true(what, buf.len == plain.len - 2 + strlen(tail) &&
					   memcmp(buf.data, plain.data, plain.len - 2) == 0);
			check_str(what, buf.data + plain.len - 2, tail);
		}
		audit_buf_free(&plain);
		audit_buf_free(&buf);
	}
	audit_transform_fast_walk = true;
	json_object_put(rec);
}

#define NEW_STATE(v) "\"NewImage\":{\"orderId\":{\"S\":\"101\"},\"state\":" v "}"
#define OLD_STATE "\"OldImage\":{\"orderId\":{\"S\":\"101\"},\"state\":{\"S\":\"SHIPPED\"}}"

TEST(transform_attribute_folder_of_the_new_image)
{
	folder_case("declared", "MODIFY", NEW_STATE("{\"S\":\"SHIPPED\"}") "," OLD_STATE, "SHIPPED");
	folder_case("declared, other position", "INSERT",
				"\"NewImage\":{\"state\":{\"S\":\"PLACED\"},\"z\":{\"N\":\"1\"}}", "PLACED");
	folder_case("declared, with dots", "INSERT", NEW_STATE("{\"S\":\"a.b_c-D\"}"), "a.b_c-D");
	folder_case("undeclared", "MODIFY", NEW_STATE("{\"S\":\"LOST\"}"), "_other");
	folder_case("case differs", "MODIFY", NEW_STATE("{\"S\":\"shipped\"}"), "_other");
	folder_case("a declared value's prefix", "MODIFY", NEW_STATE("{\"S\":\"SHIP\"}"), "_other");
	folder_case("a declared value and more", "MODIFY", NEW_STATE("{\"S\":\"SHIPPEDX\"}"), "_other");
	folder_case("empty string", "MODIFY", NEW_STATE("{\"S\":\"\"}"), "_other");
	folder_case("number equal to a declared text", "MODIFY", NEW_STATE("{\"N\":\"1\"}"), "_other");
	folder_case("boolean equal to a declared text", "MODIFY", NEW_STATE("{\"BOOL\":true}"),
				"_other");
	folder_case("binary whose base64 is declared", "MODIFY", NEW_STATE("{\"B\":\"QUJD\"}"),
				"_other");
	folder_case("string that base64 could spell", "MODIFY", NEW_STATE("{\"S\":\"QUJD\"}"),
				"QUJD");
	folder_case("binary whose base64 is declared, the name twice", "MODIFY",
				"\"NewImage\":{\"state\":{\"S\":\"QUJD\"},\"state\":{\"B\":\"QUJD\"}}", "_other");
	folder_case("string that base64 could spell, the name twice", "MODIFY",
				"\"NewImage\":{\"state\":{\"B\":\"QUJD\"},\"state\":{\"S\":\"QUJD\"}}", "QUJD");
	folder_case("number after a string", "MODIFY",
				"\"NewImage\":{\"state\":{\"S\":\"PLACED\"},\"state\":{\"N\":\"-1.5E3\"}}",
				"_other");
	folder_case("NULL after a string", "MODIFY",
				"\"NewImage\":{\"state\":{\"S\":\"PLACED\"},\"state\":{\"NULL\":true},"
				"\"z\":{\"BOOL\":false}}", "_none");
	folder_case("string set of a declared value", "MODIFY", NEW_STATE("{\"SS\":[\"SHIPPED\"]}"),
				"_other");
	folder_case("map", "MODIFY", NEW_STATE("{\"M\":{\"S\":{\"S\":\"SHIPPED\"}}}"), "_other");
	folder_case("list", "MODIFY", NEW_STATE("{\"L\":[{\"S\":\"SHIPPED\"}]}"), "_other");
	folder_case("NULL type", "MODIFY", NEW_STATE("{\"NULL\":true}"), "_none");
	folder_case("missing attribute", "MODIFY",
				"\"NewImage\":{\"orderId\":{\"S\":\"101\"},\"states\":{\"S\":\"SHIPPED\"}}," OLD_STATE,
				"_none");
	folder_case("nested attribute of the name", "MODIFY",
				"\"NewImage\":{\"m\":{\"M\":{\"state\":{\"S\":\"SHIPPED\"}}}}", "_none");
	folder_case("empty image", "MODIFY", "\"NewImage\":{}", "_none");
	folder_case("REMOVE: the old image's value does not count", "REMOVE", OLD_STATE, "_none");
	folder_case("KEYS_ONLY", "MODIFY", "", "_none");
	/* escapes: the decoded value is compared, byte for byte */
	folder_case("escaped declared value", "MODIFY", NEW_STATE("{\"S\":\"SHI\\u0050PED\"}"),
				"SHIPPED");
	folder_case("escaped solidus", "MODIFY", NEW_STATE("{\"S\":\"a.b_c\\u002dD\"}"), "a.b_c-D");
	folder_case("escaped quote", "MODIFY", NEW_STATE("{\"S\":\"SHIP\\\"PED\"}"), "_other");
	folder_case("NUL after a declared value", "MODIFY", NEW_STATE("{\"S\":\"SHIPPED\\u0000\"}"),
				"_other");
	folder_case("non-ASCII", "MODIFY", NEW_STATE("{\"S\":\"SHIPP\\u00c9D\"}"), "_other");
	/* the name as Athena's OpenX JSON SerDe reads it: ASCII case-insensitively */
	folder_case("name in another case", "MODIFY",
				"\"NewImage\":{\"State\":{\"S\":\"PLACED\"}}", "PLACED");
	folder_case("name in capitals", "MODIFY",
				"\"NewImage\":{\"STATE\":{\"S\":\"SHIPPED\"}}", "SHIPPED");
	folder_case("escaped name in another case", "MODIFY",
				"\"NewImage\":{\"St\\u0041te\":{\"S\":\"PLACED\"}}", "PLACED");
	folder_case("name folded beyond ASCII", "MODIFY",
				"\"NewImage\":{\"\\u017ftate\":{\"S\":\"PLACED\"}}", "_none");
	folder_case("longer name", "MODIFY",
				"\"NewImage\":{\"States\":{\"S\":\"PLACED\"}}", "_none");
	folder_case("value in another case", "MODIFY",
				"\"NewImage\":{\"State\":{\"S\":\"Placed\"}}", "_other");
	folder_case("escaped attribute name", "MODIFY",
				"\"NewImage\":{\"st\\u0061te\":{\"S\":\"PLACED\"}}", "PLACED");
	folder_case("escaped type descriptor", "MODIFY",
				"\"NewImage\":{\"state\":{\"\\u0053\":\"PLACED\"}}", "PLACED");
	folder_case("whitespace (the careful reader)", "MODIFY",
				"\"NewImage\" : { \"state\" : { \"S\" : \"SHIPPED\" } , \"x\" : { \"N\" : \"1\" } }",
				"SHIPPED");
	folder_case("a name given twice: the last", "MODIFY",
				"\"NewImage\":{\"state\":{\"S\":\"LOST\"},\"state\":{\"S\":\"PLACED\"}}", "PLACED");
}

TEST(transform_attribute_folder_of_snapshot_records)
{
	const char *keys[] = {"orderId"};
	const char *values[] = {"SHIPPED"};
	const char *items[][2] = {
		{"{\"orderId\":{\"S\":\"1\"},\"state\":{\"S\":\"SHIPPED\"}}", "SHIPPED"},
		{"{\"orderId\":{\"S\":\"1\"},\"state\":{\"S\":\"PLACED\"}}", "_other"},
		{"{\"orderId\":{\"S\":\"1\"},\"state\":{\"NULL\":true}}", "_none"},
		{"{\"orderId\":{\"S\":\"1\"}}", "_none"},
		{"{\"orderId\":{\"S\":\"1\"},\"STATE\":{\"\\u0053\":\"SHIPPED\"}}", "SHIPPED"},
		{"{\"state\":{\"S\":\"SHIPPED\"},\"orderId\":{\"S\":\"1\"},\"state\":{\"B\":\"AA==\"}}",
		"_other"},
	};
	AuditBuf	buf;
	AuditRecordInfo info;
	char		err[128];
	char		want[64];

	audit_buf_init(&buf);
	CHECK(audit_transform_set_folders("state", values, 1));
	for (int i = 0; i < (int) (sizeof(items) / sizeof(items[0])); i++)
	{
		buf.len = 0;
		CHECK(audit_transform_item_text(items[i][0], strlen(items[i][0]), "p-", 0, NULL, NULL,
										keys, 1, &buf, &info, err, sizeof(err)) ==
			  AUDIT_TRANSFORM_OK);
		snprintf(want, sizeof(want), "},\"attribute_folder\":\"%s\"}\n", items[i][1]);
		CHECK(buf.len > strlen(want) &&
			  strcmp(buf.data + buf.len - strlen(want), want) == 0);
	}
	CHECK(audit_transform_set_folders(NULL, NULL, 0));
	/* without folders: no member */
	buf.len = 0;
	CHECK(audit_transform_item_text(items[0][0], strlen(items[0][0]), "p-", 0, NULL, NULL,
									keys, 1, &buf, &info, err, sizeof(err)) == AUDIT_TRANSFORM_OK);
	CHECK(strstr(buf.data, "attribute_folder") == NULL);
	audit_buf_free(&buf);
}
