/*-------------------------------------------------------------------------
 *
 * test_csv.c
 *		Unit tests of the result CSV reader (src/fdw/csv.c): Athena's CSV
 *		(every value quoted, NULL empty and unquoted), RFC 4180 edge cases,
 *		input split at every byte, malformed input.
 *
 * Each case is read whole and in chunks of 1, 2, 3 and 7 bytes: the
 * records must not depend on where the input was split.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdw/csv.h"
#include "test.h"

/*
 * Read input in chunks of chunk bytes (0: all at once) and render the
 * records as "f1|f2;" with NULL as \N, an error as "ERROR: <message>".
 * Returns a malloc'd string.
 */
static char *
read_all(const char *input, size_t len, size_t chunk, size_t max_record)
{
	CsvReader  *r = csv_reader_create(max_record, malloc, realloc, free);
	size_t		fed = 0;
	size_t		cap = 1024,
				used = 0;
	char	   *out = malloc(cap);

	out[0] = '\0';
	for (;;)
	{
		char	  **fields;
		bool	   *nulls;
		int			n,
					i;
		CsvResult	res = csv_reader_next(r, &fields, &nulls, &n);

		if (res == CSV_NEED_MORE)
		{
			size_t		space;
			char	   *buf = csv_reader_space(r, &space);
			size_t		take = len - fed;

			if (chunk > 0 && take > chunk)
				take = chunk;
			if (take > space)
				take = space;
			if (take == 0)
				csv_reader_finish(r);
			else
			{
				memcpy(buf, input + fed, take);
				fed += take;
				csv_reader_wrote(r, take);
			}
			continue;
		}
		if (res == CSV_END)
			break;
		if (res == CSV_ERROR)
		{
			const char *msg = csv_reader_error(r);

			if (used + strlen(msg) + 8 > cap)
			{
				cap = used + strlen(msg) + 1024;
				out = realloc(out, cap);
			}
			used += sprintf(out + used, "ERROR: %s", msg);
			break;
		}
		for (i = 0; i < n; i++)
		{
			size_t		flen = nulls[i] ? 2 : strlen(fields[i]);

			if (used + flen + 4 > cap)
			{
				cap = (used + flen + 4) * 2;
				out = realloc(out, cap);
			}
			if (i > 0)
				out[used++] = '|';
			if (nulls[i])
			{
				memcpy(out + used, "\\N", 2);
				used += 2;
			}
			else
			{
				memcpy(out + used, fields[i], flen);
				used += flen;
			}
		}
		out[used++] = ';';
		out[used] = '\0';
	}
	csv_reader_free(r);
	return out;
}

/* The same records whole and split into chunks of 1, 2, 3 and 7 bytes. */
static void
check_csv(const char *file, int line, const char *input, const char *expected)
{
	static const size_t chunks[] = {0, 1, 2, 3, 7};
	size_t		i;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
	{
		char	   *got = read_all(input, strlen(input), chunks[i], 1 << 20);

		if (strcmp(got, expected) != 0)
			test_fail(file, line, "chunk %zu: got \"%s\", expected \"%s\"",
					  chunks[i], got, expected);
		free(got);
	}
}

#define CHECK_CSV(input, expected) check_csv(__FILE__, __LINE__, input, expected)

TEST(csv_athena_quoted_values)
{
	CHECK_CSV("\"order_id\",\"state\"\n\"101\",\"OPEN\"\n\"102\",\"DELIVERED\"\n",
			  "order_id|state;101|OPEN;102|DELIVERED;");
}

TEST(csv_null_is_empty_unquoted_empty_string_is_quoted)
{
	CHECK_CSV("\"a\",,\"\"\n,\"\",\n", "a|\\N|;\\N||\\N;");
}

TEST(csv_empty_line_is_one_null_field)
{
	CHECK_CSV("\"x\"\n\n\"y\"\n", "x;\\N;y;");
}

TEST(csv_quotes_commas_and_line_breaks_inside_quotes)
{
	CHECK_CSV("\"say \"\"hi\"\"\",\"a,b\",\"line1\nline2\"\n",
			  "say \"hi\"|a,b|line1\nline2;");
}

TEST(csv_crlf_line_endings)
{
	CHECK_CSV("\"a\",\"b\"\r\n\"c\",\r\n,\r\n", "a|b;c|\\N;\\N|\\N;");
}

TEST(csv_unquoted_values)
{
	CHECK_CSV("1,2.5,true\n-3,,x y\n", "1|2.5|true;-3|\\N|x y;");
}

TEST(csv_unicode_and_backslashes_pass_through)
{
	CHECK_CSV("\"Zürich ✓ 日本\",\"C:\\\\path\\n\"\n",
			  "Zürich ✓ 日本|C:\\\\path\\n;");
}

TEST(csv_last_record_without_line_break)
{
	CHECK_CSV("\"a\",\"b\"\n\"c\",\"d\"", "a|b;c|d;");
	CHECK_CSV("\"a\",", "a|\\N;");
	CHECK_CSV("x", "x;");
}

TEST(csv_empty_input_has_no_records)
{
	CHECK_CSV("", "");
}

TEST(csv_many_fields)
{
	char		input[400];
	char		expected[400];
	char	   *p = input,
			   *e = expected;
	int			i;

	for (i = 0; i < 40; i++)
	{
		p += sprintf(p, "%s\"%d\"", i ? "," : "", i);
		e += sprintf(e, "%s%d", i ? "|" : "", i);
	}
	strcpy(p, "\n");
	strcpy(e, ";");
	CHECK_CSV(input, expected);
}

TEST(csv_record_longer_than_the_input_buffer)
{
	size_t		n = 700 * 1024;
	char	   *input = malloc(n + 8);
	char	   *got;

	REQUIRE(input != NULL);
	input[0] = '"';
	memset(input + 1, 'x', n);
	strcpy(input + 1 + n, "\",\"y\"\n");
	got = read_all(input, strlen(input), 0, 1 << 22);
	CHECK_INT_EQ(strlen(got), n + 3);
	CHECK(got[0] == 'x' && got[n - 1] == 'x' && strcmp(got + n, "|y;") == 0);
	free(got);
	free(input);
}

TEST(csv_malformed_input)
{
	CHECK_CSV("\"abc", "ERROR: unterminated quoted field in record 1");
	CHECK_CSV("\"a\"\nab\"c\n", "a;ERROR: quote inside an unquoted field in record 2");
	CHECK_CSV("\"a\"x\n", "ERROR: unexpected character after a closing quote in record 1");
	CHECK_CSV("\"a\"\rb\n", "ERROR: carriage return not followed by a line feed in record 1");
}

TEST(csv_record_too_long)
{
	char	   *got = read_all("\"0123456789abcdef\"\n", 19, 0, 8);

	CHECK_STR_EQ(got, "ERROR: record too long in record 1");
	free(got);
}

/*
 * The limit gives the same answer whatever the chunking: a long run that a
 * malformed byte ends, or that the end of input ends, is too long whole as
 * in pieces.
 */
TEST(csv_record_too_long_whatever_the_chunks)
{
	static const char *const inputs[] = {
		"0123456789abcdef\"x\n",
		"\"0123456789abcdef\"x\n",
		"\"0123456789abcdef\"",
		"0123456789abcdef",
		"\"a\",\"0123456789\"\"\"\"\"\r\n",
	};
	static const size_t chunks[] = {0, 1, 2, 3, 7};

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
		{
			char	   *got = read_all(inputs[i], strlen(inputs[i]), chunks[c], 8);

			if (strcmp(got, "ERROR: record too long in record 1") != 0)
				test_fail(__FILE__, __LINE__, "input %zu, chunk %zu: got \"%s\"",
						  i, chunks[c], got);
			free(got);
		}
}

TEST(csv_reset_reads_again)
{
	CsvReader  *r = csv_reader_create(1024, malloc, realloc, free);
	char	  **fields;
	bool	   *nulls;
	int			n;
	size_t		space;
	char	   *buf;

	REQUIRE(r != NULL);
	buf = csv_reader_space(r, &space);
	memcpy(buf, "\"a\"\n\"b\"\n", 8);
	csv_reader_wrote(r, 8);
	CHECK_INT_EQ(csv_reader_next(r, &fields, &nulls, &n), CSV_RECORD);
	CHECK_STR_EQ(fields[0], "a");
	csv_reader_reset(r);
	buf = csv_reader_space(r, &space);
	memcpy(buf, "\"c\"\n", 4);
	csv_reader_wrote(r, 4);
	csv_reader_finish(r);
	CHECK_INT_EQ(csv_reader_next(r, &fields, &nulls, &n), CSV_RECORD);
	CHECK_STR_EQ(fields[0], "c");
	CHECK_INT_EQ(csv_reader_records(r), 1);
	CHECK_INT_EQ(csv_reader_next(r, &fields, &nulls, &n), CSV_END);
	csv_reader_free(r);
}
