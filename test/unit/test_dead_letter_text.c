/*-------------------------------------------------------------------------
 *
 * test_dead_letter_text.c
 *		Unit tests of src/pump/dead_letter_text.c: what a dead letter's
 *		bytes become in a UTF-8 database and in any other.
 *
 * The RFC 3629 cases (overlong forms, surrogates, code points above
 * U+10FFFF, truncated sequences) are those of its section 3 and of
 * Markus Kuhn's UTF-8 decoder stress test.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "pump/dead_letter_text.h"
#include "test.h"

static void
text_case(const char *in, size_t len, bool utf8_database, const char *want, bool want_verbatim)
{
	AuditBuf	buf;
	bool		verbatim;
	char	   *got;

	audit_buf_init(&buf);
	verbatim = audit_dead_letter_text(in, len, utf8_database, &buf);
	REQUIRE(!buf.oom);
	got = malloc(buf.len + 1);
	REQUIRE(got != NULL);
	memcpy(got, buf.data, buf.len);
	got[buf.len] = '\0';
	CHECK_STR_EQ(got, want);
	CHECK_INT_EQ(verbatim, want_verbatim);
	free(got);
	audit_buf_free(&buf);
}

TEST(dead_letter_text_valid_utf8_is_kept_in_a_utf8_database)
{
	text_case("{\"s\":\"caf\xC3\xA9 \xE6\xB3\xA8 \xF0\x9F\x93\xA6\"}", 22, true,
			  "{\"s\":\"caf\xC3\xA9 \xE6\xB3\xA8 \xF0\x9F\x93\xA6\"}", true);
}

TEST(dead_letter_text_non_ascii_is_escaped_for_other_encodings)
{
	/* U+00E9, U+6CE8, and U+1F4E6 as a surrogate pair: the same JSON string */
	text_case("caf\xC3\xA9 \xE6\xB3\xA8 \xF0\x9F\x93\xA6", 14, false,
			  "caf\\u00E9 \\u6CE8 \\uD83D\\uDCE6", false);
}

TEST(dead_letter_text_nul_is_escaped)
{
	text_case("a\0b", 3, true, "a\\u0000b", false);
}

TEST(dead_letter_text_invalid_bytes_are_written_as_hex)
{
	/* a lone continuation byte, a byte never in UTF-8, a truncated sequence */
	text_case("a\x80z\xFFz\xE6\xB3", 7, true, "a\\x80z\\xFFz\\xE6\\xB3", false);
	/* overlong "/" (C0 AF), overlong NUL (E0 80 80), a surrogate (ED A0 80),
	 * and U+110000 (F4 90 80 80): each byte stands alone */
	text_case("\xC0\xAF", 2, true, "\\xC0\\xAF", false);
	text_case("\xE0\x80\x80", 3, true, "\\xE0\\x80\\x80", false);
	text_case("\xED\xA0\x80", 3, true, "\\xED\\xA0\\x80", false);
	text_case("\xF4\x90\x80\x80", 4, false, "\\xF4\\x90\\x80\\x80", false);
	/* the largest code point and the last before the surrogates are valid */
	text_case("\xF4\x8F\xBF\xBF\xED\x9F\xBF", 7, true, "\xF4\x8F\xBF\xBF\xED\x9F\xBF", true);
}

TEST(dead_letter_text_ascii_is_verbatim_everywhere)
{
	text_case("{\"orderId\":\"101\"}\n", 18, false, "{\"orderId\":\"101\"}\n", true);
	text_case("", 0, false, "", true);
}
