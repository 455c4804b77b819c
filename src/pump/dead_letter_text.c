/*-------------------------------------------------------------------------
 *
 * dead_letter_text.c
 *		A dead letter's bytes as text the database can store (see the
 *		header for the rules).
 *
 * UTF-8 is checked as RFC 3629 defines it: no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>

#include "pump/dead_letter_text.h"

/*
 * The length of the valid UTF-8 sequence at s (at most len bytes), with its
 * code point in *cp; 0 when s does not start one.
 */
static int
utf8_sequence(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	int			n,
				i;
	uint32_t	v,
				min;

	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
	{
		n = 2;
		v = c & 0x1F;
		min = 0x80;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		v = c & 0x0F;
		min = 0x800;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		v = c & 0x07;
		min = 0x10000;
	}
	else
		return 0;
	if ((size_t) n > len)
		return 0;
	for (i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

static void
append_escape(AuditBuf *out, const char *format, unsigned value)
{
	char		tmp[8];
	int			n = snprintf(tmp, sizeof(tmp), format, value);

	audit_buf_append(out, tmp, (size_t) n);
}

bool
audit_dead_letter_text(const char *s, size_t len, bool utf8_database, AuditBuf *out)
{
	const unsigned char *p = (const unsigned char *) s;
	bool		verbatim = true;
	size_t		i = 0;
	size_t		run = 0;		/* start of the bytes copied as they are */

	while (i < len)
	{
		uint32_t	cp;
		int			n = utf8_sequence(p + i, len - i, &cp);

		if (n > 0 && cp != 0 && (cp < 0x80 || utf8_database))
		{
			i += n;
			continue;
		}
		audit_buf_append(out, s + run, i - run);
		verbatim = false;
		if (n == 0)
		{
			append_escape(out, "\\x%02X", p[i]);
			n = 1;
		}
		else if (cp < 0x10000)
			append_escape(out, "\\u%04X", cp);
		else
		{
			append_escape(out, "\\u%04X", 0xD800 + ((cp - 0x10000) >> 10));
			append_escape(out, "\\u%04X", 0xDC00 + ((cp - 0x10000) & 0x3FF));
		}
		i += n;
		run = i;
	}
	audit_buf_append(out, s + run, len - run);
	return verbatim;
}
