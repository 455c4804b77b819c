/*-------------------------------------------------------------------------
 *
 * test_responses.c
 *		Unit tests of src/aws/responses.c: PutRecordBatch's answer read from
 *		its text (aws_read_put_batch_all_accepted), which must say yes only
 *		where json-c's tree says the same, and no to everything else.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/responses.h"
#include "test.h"

/* Firehose's answer as the API reference shows it (RecordIds shortened) */
#define ACCEPTED_TWO \
	"{\"FailedPutCount\":0,\"Encrypted\":false,\"RequestResponses\":" \
	"[{\"RecordId\":\"4954698668\"},{\"RecordId\":\"4954698669\"}]}"

/* the text reader's count, or -1 when it declines */
static int
text_count(const char *body)
{
	int			n = -2;

	if (!aws_read_put_batch_all_accepted(body, strlen(body), &n))
		return -1;
	return n;
}

/*
 * json-c's reading of an answer the text reader took: FailedPutCount 0 and
 * n entries, each with a RecordId and no ErrorCode.
 */
static bool
tree_agrees(const char *body, int n)
{
	json_object *root = json_tokener_parse(body);
	json_object *entries = aws_json_arr(root, "RequestResponses");
	int64_t		failed = -1;
	bool		ok = aws_json_int64(root, "FailedPutCount", &failed) && failed == 0 &&
		entries != NULL && aws_json_arr_len(entries) == (size_t) n;

	for (int i = 0; ok && i < n; i++)
	{
		FirehoseEntryView e;

		ok = aws_read_put_entry(entries, (size_t) i, &e) && e.record_id != NULL &&
			e.error_code == NULL;
	}
	json_object_put(root);
	return ok;
}

TEST(put_batch_all_accepted_read_from_text)
{
	static const char *const bodies[] = {
		ACCEPTED_TWO,
		"{\"RequestResponses\":[],\"FailedPutCount\":0}",
		(" \r\n{ \"FailedPutCount\" : 0 , \"RequestResponses\" : [ { \"RecordId\" : \"x\" } ] ,"
		 " \"Encrypted\" : true }\n"),
		("{\"FailedPutCount\":0,\"Other\":\"text\",\"More\":-1.5e+3,\"N\":null,"
		 "\"RequestResponses\":[{\"RecordId\":\"a\",\"RecordId\":\"b\"}]}"),
	};
	static const int counts[] = {2, 0, 1, 1};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
	{
		CHECK_INT_EQ(text_count(bodies[i]), counts[i]);
		CHECK(tree_agrees(bodies[i], counts[i]));
	}
}

TEST(put_batch_text_declines_what_is_not_plain)
{
	static const char *const bodies[] = {
		/* a failed entry, or an ErrorCode at all */
		("{\"FailedPutCount\":1,\"RequestResponses\":[{\"ErrorCode\":\"ServiceUnavailableException\","
		 "\"ErrorMessage\":\"Slow down.\"}]}"),
		"{\"FailedPutCount\":0,\"RequestResponses\":[{\"RecordId\":\"a\",\"ErrorCode\":null}]}",
		"{\"FailedPutCount\":0,\"RequestResponses\":[{\"RecordId\":\"a\"},{}]}",
		"{\"FailedPutCount\":0,\"RequestResponses\":[{\"RecordId\":\"\"}]}",
		"{\"FailedPutCount\":0,\"RequestResponses\":[{\"RecordId\":null}]}",
		"{\"FailedPutCount\":0,\"RequestResponses\":[{\"RecordId\":1}]}",
		"{\"FailedPutCount\":0,\"RequestResponses\":[\"a\"]}",
		/* FailedPutCount other than the integer 0, missing or repeated */
		"{\"FailedPutCount\":\"0\",\"RequestResponses\":[]}",
		"{\"FailedPutCount\":0.0,\"RequestResponses\":[]}",
		"{\"FailedPutCount\":-0,\"RequestResponses\":[]}",
		"{\"FailedPutCount\":00,\"RequestResponses\":[]}",
		"{\"RequestResponses\":[]}",
		"{\"FailedPutCount\":0,\"FailedPutCount\":1,\"RequestResponses\":[]}",
		"{\"FailedPutCount\":0}",
		"{\"FailedPutCount\":0,\"RequestResponses\":[],\"RequestResponses\":[{\"ErrorCode\":\"x\"}]}",
		/* escapes, control characters, nesting, json-c's extensions */
		"{\"FailedPutCount\":0,\"RequestResponses\":[{\"Record\\u0049d\":\"a\"}]}",
		"{\"FailedPutCount\":0,\"RequestResponses\":[{\"RecordId\":\"a\\\"b\"}]}",
		"{\"FailedPutCount\":0,\"RequestResponses\":[{\"RecordId\":\"a\tb\"}]}",
		"{\"FailedPutCount\":0,\"Encrypted\":{\"x\":1},\"RequestResponses\":[]}",
		"{\"FailedPutCount\":0,\"Encrypted\":[],\"RequestResponses\":[]}",
		"{\"FailedPutCount\":0,\"Encrypted\":tru,\"RequestResponses\":[]}",
		"{\"FailedPutCount\":0,\"Encrypted\":NaN,\"RequestResponses\":[]}",
		"{\"FailedPutCount\":0,\"Encrypted\":-,\"RequestResponses\":[]}",
		"{\"FailedPutCount\":0,\"Encrypted\":1.,\"RequestResponses\":[]}",
		"{\"FailedPutCount\":0,'RequestResponses':[]}",
		"{\"FailedPutCount\":0,/* c */\"RequestResponses\":[]}",
		"{\"FailedPutCount\":0,\"RequestResponses\":[{\"RecordId\":\"a\"},]}",
		"{\"FailedPutCount\":0,\"RequestResponses\":[],}",
		/* not one object */
		"[]",
		"",
		"{\"FailedPutCount\":0,\"RequestResponses\":[]} {}",
		"{\"FailedPutCount\":0,\"RequestResponses\":[]}x",
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		if (text_count(bodies[i]) != -1)
			test_fail(__FILE__, __LINE__, "took %s", bodies[i]);
}

TEST(put_batch_text_declines_every_cut)
{
	const char *body = ACCEPTED_TWO;
	size_t		len = strlen(body);

	for (size_t cut = 0; cut < len; cut++)
	{
		int			n;

		if (aws_read_put_batch_all_accepted(body, cut, &n))
			test_fail(__FILE__, __LINE__, "took the first %zu bytes", cut);
	}
	/* a NUL inside is not the end of the text */
	{
		char		buf[] = "{\"FailedPutCount\":0,\"RequestResponses\":[]}\0 ";
		int			n;

		CHECK(!aws_read_put_batch_all_accepted(buf, sizeof(buf) - 1, &n));
	}
}
