/*-------------------------------------------------------------------------
 *
 * item_columns.c
 *		Parse the item attributes of an audit table into Glue column types.
 *
 * The user names the attributes of the DynamoDB item worth keeping, with
 * Hive types, as one would write the columns of a CREATE TABLE:
 *
 *		orderId string, state string, lastUpdatedDate bigint
 *
 * and create_audit_table() turns them into the struct<...> type of the
 * keys, new_image and old_image columns.  The grammar is Athena's DDL type
 * grammar (primitives, decimal(p,s), varchar(n), char(n), array<t>,
 * map<k,v>, struct<name:t,...>); types are normalized (lower case, integer
 * spelled int, decimal with its precision and scale) so that the same list
 * always gives the same Glue definition, which is what makes
 * create_audit_table() idempotent.
 *
 * Rules: pure C, malloc only, no backend calls; every failure fills an
 * ItemColumnsError (message, hint, position) and frees what was built.
 *
 *-------------------------------------------------------------------------
 */
#include "provision/item_columns.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Deeper nesting than this is a mistake, not an audit record. */
#define MAX_TYPE_DEPTH 32

typedef struct StrBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} StrBuf;

typedef struct Parser
{
	const char *input;
	const char *p;
	ItemColumnsError *error;
	bool		failed;
} Parser;

static void sb_init(StrBuf *sb);
static void sb_append(StrBuf *sb, const char *s, size_t n);
static void sb_appends(StrBuf *sb, const char *s);
static void fail(Parser *ps, const char *at, const char *hint, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));
static void skip_space(Parser *ps);
static size_t word_length(const char *p);
static bool ends_token(char c);
static bool parse_name(Parser *ps, char **name, const char *what);
static bool parse_type(Parser *ps, StrBuf *out, int depth, const char *column);
static bool parse_int_args(Parser *ps, int nargs_max, long *args, int *nargs);
static bool expect(Parser *ps, char c, const char *after);
static int	edit_distance(const char *a, size_t alen, const char *b);
static const char *closest_type(const char *word, size_t len);

static const char *const primitive_types[] = {
	"string", "boolean", "tinyint", "smallint", "int", "integer", "bigint",
	"float", "double", "date", "timestamp", "binary",
	/* parameterized and complex types, for the closest-match hint */
	"decimal", "varchar", "char", "array", "map", "struct", NULL
};

#define VALID_TYPES_HINT \
	"Valid types are string, boolean, tinyint, smallint, int, bigint, float, " \
	"double, decimal(p,s), varchar(n), char(n), date, timestamp, binary, " \
	"array<type>, map<key type,value type> and struct<name:type,...>."

static void
sb_init(StrBuf *sb)
{
	sb->cap = 64;
	sb->len = 0;
	sb->data = malloc(sb->cap);
	if (sb->data == NULL)
		abort();
	sb->data[0] = '\0';
}

static void
sb_append(StrBuf *sb, const char *s, size_t n)
{
	if (sb->len + n + 1 > sb->cap)
	{
		while (sb->len + n + 1 > sb->cap)
			sb->cap *= 2;
		sb->data = realloc(sb->data, sb->cap);
		if (sb->data == NULL)
			abort();
	}
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

static void
sb_appends(StrBuf *sb, const char *s)
{
	sb_append(sb, s, strlen(s));
}

/* Records the first failure only: later ones are consequences. */
static void
fail(Parser *ps, const char *at, const char *hint, const char *fmt,...)
{
	va_list		ap;

	if (ps->failed)
		return;
	ps->failed = true;
	ps->error->position = (int) (at - ps->input);
	va_start(ap, fmt);
	vsnprintf(ps->error->message, sizeof(ps->error->message), fmt, ap);
	va_end(ap);
	snprintf(ps->error->hint, sizeof(ps->error->hint), "%s", hint ? hint : "");
}

static void
skip_space(Parser *ps)
{
	while (*ps->p && isspace((unsigned char) *ps->p))
		ps->p++;
}

/* Length of the identifier-like word at p: letters, digits, underscores. */
static size_t
word_length(const char *p)
{
	size_t		n = 0;

	while (p[n] && (isalnum((unsigned char) p[n]) || p[n] == '_'))
		n++;
	return n;
}

/* Whether c ends a name: what may follow one in the grammar. */
static bool
ends_token(char c)
{
	return c == '\0' || isspace((unsigned char) c) || c == ',' || c == ':' ||
		c == '<' || c == '>' || c == '(' || c == ')';
}

static bool
parse_name(Parser *ps, char **name, const char *what)
{
	size_t		n;

	skip_space(ps);
	n = word_length(ps->p);
	if (n == 0 || isdigit((unsigned char) ps->p[0]) || !ends_token(ps->p[n]))
	{
		const char *end = ps->p;

		/* show the offending token, up to the next separator */
		while (!ends_token(*end))
			end++;
		if (end == ps->p)
			fail(ps, ps->p,
				 "Write each attribute as a name followed by its type, for example 'orderId string, lastUpdatedDate bigint'.",
				 *ps->p ? "expected %s name at \"%.20s\"" : "expected %s name at end of input",
				 what, ps->p);
		else
			fail(ps, ps->p,
				 "Names may contain letters, digits and underscores, and must not start with a digit.",
				 "invalid %s name \"%.*s\"", what, (int) (end - ps->p), ps->p);
		return false;
	}
	if (n > ITEM_COLUMN_NAME_MAX)
	{
		fail(ps, ps->p, "Glue limits names to 255 characters.",
			 "%s name \"%.20s...\" is too long", what, ps->p);
		return false;
	}
	*name = strndup(ps->p, n);
	if (*name == NULL)
		abort();
	ps->p += n;
	return true;
}

static bool
expect(Parser *ps, char c, const char *after)
{
	skip_space(ps);
	if (*ps->p != c)
	{
		if (*ps->p)
			fail(ps, ps->p, VALID_TYPES_HINT, "expected \"%c\" %s, found \"%.20s\"",
				 c, after, ps->p);
		else
			fail(ps, ps->p, VALID_TYPES_HINT, "expected \"%c\" %s, found end of input",
				 c, after);
		return false;
	}
	ps->p++;
	return true;
}

/* Optional "(n[,m])" after a type name. */
static bool
parse_int_args(Parser *ps, int nargs_max, long *args, int *nargs)
{
	*nargs = 0;
	skip_space(ps);
	if (*ps->p != '(')
		return true;
	ps->p++;
	for (;;)
	{
		char	   *end;
		long		v;

		skip_space(ps);
		if (!isdigit((unsigned char) *ps->p))
		{
			fail(ps, ps->p, VALID_TYPES_HINT, "expected a number in type parameters");
			return false;
		}
		v = strtol(ps->p, &end, 10);
		if (*nargs >= nargs_max)
		{
			fail(ps, ps->p, VALID_TYPES_HINT, "too many type parameters");
			return false;
		}
		args[(*nargs)++] = v;
		ps->p = end;
		skip_space(ps);
		if (*ps->p == ',')
		{
			ps->p++;
			continue;
		}
		return expect(ps, ')', "after type parameters");
	}
}

/* Classic Levenshtein distance, for "perhaps you meant" hints. */
static int
edit_distance(const char *a, size_t alen, const char *b)
{
	size_t		blen = strlen(b);
	int			prev[64],
				cur[64];

	if (alen >= 63 || blen >= 63)
		return 99;
	for (size_t j = 0; j <= blen; j++)
		prev[j] = (int) j;
	for (size_t i = 1; i <= alen; i++)
	{
		cur[0] = (int) i;
		for (size_t j = 1; j <= blen; j++)
		{
			int			cost = tolower((unsigned char) a[i - 1]) == b[j - 1] ? 0 : 1;
			int			best = prev[j] + 1;

			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (prev[j - 1] + cost < best)
				best = prev[j - 1] + cost;
			cur[j] = best;
		}
		memcpy(prev, cur, sizeof(int) * (blen + 1));
	}
	return prev[blen];
}

static const char *
closest_type(const char *word, size_t len)
{
	const char *best = NULL;
	int			best_distance = 3;	/* suggest only close matches */

	for (int i = 0; primitive_types[i]; i++)
	{
		int			d = edit_distance(word, len, primitive_types[i]);

		if (d < best_distance)
		{
			best_distance = d;
			best = primitive_types[i];
		}
	}
	return best;
}

static bool
word_is(const char *word, size_t len, const char *keyword)
{
	return strlen(keyword) == len && strncasecmp(word, keyword, len) == 0;
}

/*
 * One Hive type at ps->p, appended to out in normal form.  column names the
 * attribute, for messages.
 */
static bool
parse_type(Parser *ps, StrBuf *out, int depth, const char *column)
{
	const char *word;
	size_t		len;
	long		args[2];
	int			nargs;
	char		buf[64];

	if (depth > MAX_TYPE_DEPTH)
	{
		fail(ps, ps->p, "Flatten the type: audit records rarely need more than a few levels.",
			 "type of item column \"%s\" is nested too deeply", column);
		return false;
	}
	skip_space(ps);
	word = ps->p;
	len = word_length(word);
	if (len == 0)
	{
		if (*word == '\0' || *word == ',')
			fail(ps, word,
				 "Write each attribute as a name followed by its type, for example 'orderId string, lastUpdatedDate bigint'.",
				 "missing type for item column \"%s\"", column);
		else
			fail(ps, word, VALID_TYPES_HINT,
				 "invalid type for item column \"%s\" at \"%.20s\"", column, word);
		return false;
	}
	ps->p += len;

	if (word_is(word, len, "integer") || word_is(word, len, "int"))
	{
		sb_appends(out, "int");
		return true;
	}
	for (int i = 0; primitive_types[i] && strcmp(primitive_types[i], "decimal") != 0; i++)
	{
		if (word_is(word, len, primitive_types[i]))
		{
			sb_appends(out, primitive_types[i]);
			return true;
		}
	}
	if (word_is(word, len, "decimal"))
	{
		long		precision = 10,
					scale = 0;	/* Hive's default for a bare decimal */

		if (!parse_int_args(ps, 2, args, &nargs))
			return false;
		if (nargs >= 1)
			precision = args[0];
		if (nargs == 2)
			scale = args[1];
		if (precision < 1 || precision > 38 || scale < 0 || scale > precision)
		{
			fail(ps, word,
				 "The precision of a decimal is 1 to 38, and its scale 0 to the precision; DynamoDB numbers need up to decimal(38,s).",
				 "invalid decimal(%ld,%ld) for item column \"%s\"", precision, scale, column);
			return false;
		}
		snprintf(buf, sizeof(buf), "decimal(%ld,%ld)", precision, scale);
		sb_appends(out, buf);
		return true;
	}
	if (word_is(word, len, "varchar") || word_is(word, len, "char"))
	{
		bool		is_char = (len == 4);
		long		max = is_char ? 255 : 65535;

		if (!parse_int_args(ps, 1, args, &nargs))
			return false;
		if (nargs != 1 || args[0] < 1 || args[0] > max)
		{
			fail(ps, word, is_char ? "Write char(n) with n from 1 to 255." :
				 "Write varchar(n) with n from 1 to 65535, or use string.",
				 "invalid length for %s item column \"%s\"", is_char ? "char" : "varchar",
				 column);
			return false;
		}
		snprintf(buf, sizeof(buf), "%s(%ld)", is_char ? "char" : "varchar", args[0]);
		sb_appends(out, buf);
		return true;
	}
	if (word_is(word, len, "array"))
	{
		sb_appends(out, "array<");
		if (!expect(ps, '<', "after array") ||
			!parse_type(ps, out, depth + 1, column) ||
			!expect(ps, '>', "to close array<"))
			return false;
		sb_appends(out, ">");
		return true;
	}
	if (word_is(word, len, "map"))
	{
		size_t		key_start;

		sb_appends(out, "map<");
		if (!expect(ps, '<', "after map"))
			return false;
		key_start = out->len;
		skip_space(ps);
		word = ps->p;
		if (!parse_type(ps, out, depth + 1, column))
			return false;
		if (strchr(out->data + key_start, '<') != NULL)
		{
			fail(ps, word, "The key of a map is a primitive type such as string.",
				 "invalid map key type for item column \"%s\"", column);
			return false;
		}
		sb_appends(out, ",");
		if (!expect(ps, ',', "between the key and value types of map<") ||
			!parse_type(ps, out, depth + 1, column) ||
			!expect(ps, '>', "to close map<"))
			return false;
		sb_appends(out, ">");
		return true;
	}
	if (word_is(word, len, "struct"))
	{
		bool		first = true;

		sb_appends(out, "struct<");
		if (!expect(ps, '<', "after struct"))
			return false;
		for (;;)
		{
			char	   *field = NULL;

			if (!parse_name(ps, &field, "struct field"))
				return false;
			if (!first)
				sb_appends(out, ",");
			first = false;
			sb_appends(out, field);
			sb_appends(out, ":");
			if (!expect(ps, ':', "after a struct field name") ||
				!parse_type(ps, out, depth + 1, column))
			{
				free(field);
				return false;
			}
			free(field);
			skip_space(ps);
			if (*ps->p == ',')
			{
				ps->p++;
				continue;
			}
			break;
		}
		if (!expect(ps, '>', "to close struct<"))
			return false;
		sb_appends(out, ">");
		return true;
	}

	{
		const char *close = closest_type(word, len);
		char		hint[sizeof(ps->error->hint)];

		if (close)
			snprintf(hint, sizeof(hint), "Perhaps you meant \"%s\". %s", close,
					 VALID_TYPES_HINT);
		else
			snprintf(hint, sizeof(hint), "%s", VALID_TYPES_HINT);
		fail(ps, word, hint, "unknown type \"%.*s\" for item column \"%s\"",
			 (int) (len > 40 ? 40 : len), word, column);
	}
	return false;
}

/*
 * Parses text into list.  On failure returns false, fills error and leaves
 * list empty.
 */
bool
item_columns_parse(const char *text, ItemColumnList *list, ItemColumnsError *error)
{
	Parser		ps = {text, text, error, false};
	int			cap = 8;

	memset(error, 0, sizeof(*error));
	list->count = 0;
	list->columns = calloc(cap, sizeof(ItemColumn));
	if (list->columns == NULL)
		abort();

	skip_space(&ps);
	if (*ps.p == '\0')
	{
		fail(&ps, ps.p,
			 "Name the item attributes to keep, with their types, for example 'orderId string, state string, lastUpdatedDate bigint'.",
			 "item_columns is empty");
		goto failed;
	}
	for (;;)
	{
		char	   *name = NULL;
		StrBuf		type;

		if (!parse_name(&ps, &name, "item column"))
			goto failed;
		for (int i = 0; i < list->count; i++)
		{
			if (strcasecmp(list->columns[i].name, name) == 0)
			{
				fail(&ps, ps.p - strlen(name),
					 "Athena compares column names without regard to case, so each attribute may be named once.",
					 "item column \"%s\" is named twice", name);
				free(name);
				goto failed;
			}
		}
		/* "name: type" is accepted too, as in struct<name:type> */
		skip_space(&ps);
		if (*ps.p == ':')
			ps.p++;
		sb_init(&type);
		if (!parse_type(&ps, &type, 0, name))
		{
			free(name);
			free(type.data);
			goto failed;
		}
		if (list->count == cap)
		{
			cap *= 2;
			list->columns = realloc(list->columns, cap * sizeof(ItemColumn));
			if (list->columns == NULL)
				abort();
		}
		list->columns[list->count].name = name;
		list->columns[list->count].type = type.data;
		list->count++;

		skip_space(&ps);
		if (*ps.p == '\0')
			break;
		if (*ps.p != ',')
		{
			fail(&ps, ps.p,
				 "Separate attributes with commas, for example 'orderId string, state string'.",
				 "expected \",\" after item column \"%s\", found \"%.20s\"",
				 list->columns[list->count - 1].name, ps.p);
			goto failed;
		}
		ps.p++;
		skip_space(&ps);
		if (*ps.p == '\0')
		{
			fail(&ps, ps.p, "Remove the trailing comma.",
				 "expected an item column after \",\"");
			goto failed;
		}
	}
	return true;

failed:
	item_columns_free(list);
	return false;
}

void
item_columns_free(ItemColumnList *list)
{
	for (int i = 0; i < list->count; i++)
	{
		free(list->columns[i].name);
		free(list->columns[i].type);
	}
	free(list->columns);
	list->columns = NULL;
	list->count = 0;
}

char *
item_columns_struct_type(const ItemColumnList *list)
{
	StrBuf		sb;

	sb_init(&sb);
	sb_appends(&sb, "struct<");
	for (int i = 0; i < list->count; i++)
	{
		if (i > 0)
			sb_appends(&sb, ",");
		sb_appends(&sb, list->columns[i].name);
		sb_appends(&sb, ":");
		sb_appends(&sb, list->columns[i].type);
	}
	sb_appends(&sb, ">");
	return sb.data;
}
