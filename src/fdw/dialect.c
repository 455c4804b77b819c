/*-------------------------------------------------------------------------
 *
 * dialect.c
 *		Pieces of Athena's (Trino's) SQL dialect: quoting, LIKE patterns,
 *		partition values.
 *
 * Rules kept here (Trino's grammar, DESIGN.md section 3):
 *	- identifiers in double quotes, an embedded " doubled;
 *	- string literals in single quotes, an embedded ' doubled, and nothing
 *	  else escaped: Trino has no backslash escapes, so a backslash is data;
 *	- LIKE ... ESCAPE '\' accepts the escape only before %, _ and itself;
 *	- partition values compare as strings (by code point), so a format's
 *	  fields run from the year down with fixed widths.
 *
 * Pure C: results are malloc'd (the caller frees them), nothing here knows
 * PostgreSQL, and the unit tests (test/unit/test_dialect.c) call it.
 *
 *-------------------------------------------------------------------------
 */
#include "fdw/dialect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields a partition format may name, from the most significant. */
static const char *const partition_fields[] = {"yyyy", "MM", "dd", "HH", "mm"};

#define NUM_PARTITION_FIELDS (sizeof(partition_fields) / sizeof(partition_fields[0]))

static char *quote(const char *text, char q);
static bool is_letter(char c);

static bool
is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* text between two q characters, embedded q doubled */
static char *
quote(const char *text, char q)
{
	size_t		n = 2;
	const char *p;
	char	   *out,
			   *o;

	for (p = text; *p; p++)
		n += (*p == q) ? 2 : 1;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	o = out;
	*o++ = q;
	for (p = text; *p; p++)
	{
		if (*p == q)
			*o++ = q;
		*o++ = *p;
	}
	*o++ = q;
	*o = '\0';
	return out;
}

char *
athena_quote_identifier(const char *ident)
{
	return quote(ident, '"');
}

char *
athena_quote_literal(const char *text)
{
	return quote(text, '\'');
}

char *
athena_like_pattern(const char *pattern, bool *invalid)
{
	char	   *out = malloc(strlen(pattern) + 1);
	char	   *o = out;
	const char *p;

	*invalid = false;
	if (out == NULL)
		return NULL;
	for (p = pattern; *p; p++)
	{
		if (*p == '\\')
		{
			p++;
			if (*p == '\0')
			{
				/* PostgreSQL: LIKE pattern must not end with escape character */
				free(out);
				*invalid = true;
				return NULL;
			}
			/* \x of any other x is x itself, and Trino rejects it */
			if (*p == '%' || *p == '_' || *p == '\\')
				*o++ = '\\';
		}
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

bool
athena_partition_format_valid(const char *format)
{
	const char *p = format;
	size_t		next = 0;

	while (*p)
	{
		if (is_letter(*p))
		{
			const char *want;

			if (next >= NUM_PARTITION_FIELDS)
				return false;
			want = partition_fields[next];
			if (strncmp(p, want, strlen(want)) != 0)
				return false;
			p += strlen(want);
			next++;
			/* a field must not run into another letter (yyyyy, MMM) */
			if (is_letter(*p) &&
				(next >= NUM_PARTITION_FIELDS ||
				 strncmp(p, partition_fields[next], strlen(partition_fields[next])) != 0))
				return false;
		}
		else if (*p == '\'')
			return false;		/* Java's quoted literals: not supported */
		else
			p++;
	}
	return next > 0;
}

bool
athena_partition_value(const char *format, int year, int month, int day,
					   int hour, int minute, char *out, size_t outsize)
{
	const char *p = format;
	size_t		len = 0;

	while (*p)
	{
		char		field[8];
		const char *piece = field;
		size_t		plen;

		if (strncmp(p, "yyyy", 4) == 0)
		{
			snprintf(field, sizeof(field), "%04d", year);
			p += 4;
		}
		else if (strncmp(p, "MM", 2) == 0 || strncmp(p, "dd", 2) == 0 ||
				 strncmp(p, "HH", 2) == 0 || strncmp(p, "mm", 2) == 0)
		{
			int			v = p[0] == 'M' ? month : p[0] == 'd' ? day :
				p[0] == 'H' ? hour : minute;

			snprintf(field, sizeof(field), "%02d", v);
			p += 2;
		}
		else
		{
			field[0] = *p++;
			field[1] = '\0';
		}
		plen = strlen(piece);
		if (len + plen + 1 > outsize)
			return false;
		memcpy(out + len, piece, plen);
		len += plen;
	}
	if (len + 1 > outsize)
		return false;
	out[len] = '\0';
	return true;
}
