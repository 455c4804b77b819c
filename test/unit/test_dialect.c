/*-------------------------------------------------------------------------
 *
 * test_dialect.c
 *		Unit tests of the Athena dialect pieces the deparser writes
 *		(src/fdw/dialect.c): quoting, LIKE patterns, partition values.
 *
 *-------------------------------------------------------------------------
 */
#include "test.h"

#include <stdlib.h>

#include "fdw/dialect.h"

static void
check_quoted(const char *file, int line, char *got, const char *expected)
{
	if (got == NULL)
	{
		test_fail(file, line, "NULL for \"%s\"", expected);
		return;
	}
	test_str_eq(file, line, "quoted", "expected", got, expected);
	free(got);
}

#define CHECK_QUOTED(got, expected) check_quoted(__FILE__, __LINE__, (got), (expected))

TEST(identifiers_double_embedded_quotes)
{
	CHECK_QUOTED(athena_quote_identifier("event_time"), "\"event_time\"");
	CHECK_QUOTED(athena_quote_identifier("Col\"1"), "\"Col\"\"1\"");
	CHECK_QUOTED(athena_quote_identifier("\"\""), "\"\"\"\"\"\"");
	CHECK_QUOTED(athena_quote_identifier(""), "\"\"");
}

TEST(literals_double_quotes_and_keep_backslashes)
{
	CHECK_QUOTED(athena_quote_literal("it's"), "'it''s'");
	/* Trino has no backslash escapes: a backslash is data */
	CHECK_QUOTED(athena_quote_literal("C:\\path\\n"), "'C:\\path\\n'");
	CHECK_QUOTED(athena_quote_literal("x'; DROP TABLE t; --"), "'x''; DROP TABLE t; --'");
	CHECK_QUOTED(athena_quote_literal("Zürich 日本 🎉"), "'Zürich 日本 🎉'");
	CHECK_QUOTED(athena_quote_literal(""), "''");
}

static void
check_like(const char *file, int line, const char *pattern, const char *expected)
{
	bool		invalid = true;
	char	   *got = athena_like_pattern(pattern, &invalid);

	if (expected == NULL)
	{
		if (got != NULL || !invalid)
			test_fail(file, line, "pattern \"%s\" should stay local", pattern);
		free(got);
		return;
	}
	if (got == NULL || invalid)
	{
		test_fail(file, line, "pattern \"%s\" was refused", pattern);
		free(got);
		return;
	}
	test_str_eq(file, line, "pattern", "expected", got, expected);
	free(got);
}

#define CHECK_LIKE(p, e) check_like(__FILE__, __LINE__, (p), (e))

TEST(like_patterns_keep_wildcards_and_their_escapes)
{
	CHECK_LIKE("%", "%");
	CHECK_LIKE("a_b%", "a_b%");
	CHECK_LIKE("100\\%", "100\\%");
	CHECK_LIKE("a\\_b", "a\\_b");
	CHECK_LIKE("back\\\\slash", "back\\\\slash");
	CHECK_LIKE("", "");
	CHECK_LIKE("it's", "it's");
}

TEST(like_escape_of_an_ordinary_character_is_the_character)
{
	/* PostgreSQL reads \a as a; Trino would reject the escape */
	CHECK_LIKE("\\a", "a");
	CHECK_LIKE("%\\é%", "%é%");
	CHECK_LIKE("\\'", "'");
}

TEST(like_pattern_ending_in_the_escape_stays_local)
{
	CHECK_LIKE("x\\", NULL);
	CHECK_LIKE("\\", NULL);
	CHECK_LIKE("a\\\\\\", NULL);
}

TEST(partition_formats_sort_as_times)
{
	CHECK(athena_partition_format_valid("yyyy/MM/dd/HH"));
	CHECK(athena_partition_format_valid("yyyy-MM-dd"));
	CHECK(athena_partition_format_valid("yyyyMMddHH"));
	CHECK(athena_partition_format_valid("yyyy/MM/dd/HH/mm"));
	CHECK(athena_partition_format_valid("yyyy"));
	CHECK(!athena_partition_format_valid("dd/MM/yyyy"));
	CHECK(!athena_partition_format_valid("yyyy/dd"));
	CHECK(!athena_partition_format_valid("yyyy/MMM"));
	CHECK(!athena_partition_format_valid("yyyyy"));
	CHECK(!athena_partition_format_valid("yyyy/MM/'dd'"));
	CHECK(!athena_partition_format_valid("yyyy/MM/dd/HH/mm/ss"));
	CHECK(!athena_partition_format_valid("/"));
	CHECK(!athena_partition_format_valid(""));
}

TEST(partition_values_are_zero_padded)
{
	char		out[64];

	REQUIRE(athena_partition_value("yyyy/MM/dd/HH", 2024, 1, 5, 7, 59, out, sizeof(out)));
	CHECK_STR_EQ(out, "2024/01/05/07");
	REQUIRE(athena_partition_value("yyyyMMdd-HHmm", 999, 12, 31, 23, 9, out, sizeof(out)));
	CHECK_STR_EQ(out, "09991231-2309");
	/* too small a buffer is refused, not overrun */
	CHECK(!athena_partition_value("yyyy/MM/dd/HH", 2024, 1, 5, 7, 0, out, 13));
	CHECK(athena_partition_value("yyyy/MM/dd/HH", 2024, 1, 5, 7, 0, out, 14));
}
