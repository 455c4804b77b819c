/*-------------------------------------------------------------------------
 *
 * fieldcase.c
 *		The case of struct field names, as the item has them.
 *
 * DynamoDB attribute names are case-sensitive (orderId); Athena is not:
 * it lower-cases names when it runs a query, the JSON SerDe matches keys
 * case-insensitively, and a row cast to JSON carries the lower-cased field
 * names ({"orderid": "101"}).  The declared names keep their case in the
 * Glue type (struct<orderId:string>) that create_audit_table writes from
 * item_columns, and in the table parameters audit_fdw.image_type and
 * audit_fdw.keys_type (Glue keeps parameter values verbatim).  IMPORT
 * FOREIGN SCHEMA copies the declared type into the column option
 * glue_type, and the scan puts the declared case back into each value
 * read as JSON.
 *
 * Rules kept here:
 *	- Only struct field names are renamed, by the declared type: map keys
 *	  are data and stay as they are; fields inside arrays and maps of
 *	  structs are renamed by their element's or value's type.
 *	- A name matches its declaration ignoring ASCII case (Athena's
 *	  lower-casing); a name that matches none stays as it is.
 *	- A type that does not parse as a Hive type renames nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "fdw/fdw.h"

typedef enum GlueTypeKind
{
	GT_SCALAR,
	GT_STRUCT,
	GT_ARRAY,
	GT_MAP
} GlueTypeKind;

struct AuditGlueType
{
	GlueTypeKind kind;
	int			nfields;		/* struct */
	char	  **names;
	AuditGlueType **fields;
	AuditGlueType *elem;		/* array element, map value */
};

static AuditGlueType *parse_type(const char **p, const char *end, int depth);
static const char *skip_space(const char *p, const char *end);
static bool has_upper_field(const AuditGlueType *t);

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char) *p))
		p++;
	return p;
}

/* One type at *p; NULL when it does not parse.  Advances *p past it. */
static AuditGlueType *
parse_type(const char **p, const char *end, int depth)
{
	AuditGlueType *t = palloc0(sizeof(AuditGlueType));
	const char *s = skip_space(*p, end);

	if (depth > 100)
		return NULL;
	if (end - s >= 7 && pg_strncasecmp(s, "struct<", 7) == 0)
	{
		int			cap = 8;

		t->kind = GT_STRUCT;
		t->names = palloc(sizeof(char *) * cap);
		t->fields = palloc(sizeof(AuditGlueType *) * cap);
		s += 7;
		for (;;)
		{
			const char *name = skip_space(s, end);
			const char *colon = name;

			while (colon < end && *colon != ':' && *colon != '>' && *colon != ',')
				colon++;
			if (colon >= end || *colon != ':' || colon == name)
				return NULL;
			if (t->nfields == cap)
			{
				cap *= 2;
				t->names = repalloc(t->names, sizeof(char *) * cap);
				t->fields = repalloc(t->fields, sizeof(AuditGlueType *) * cap);
			}
			t->names[t->nfields] = pnstrdup(name, colon - name);
			s = colon + 1;
			t->fields[t->nfields] = parse_type(&s, end, depth + 1);
			if (t->fields[t->nfields] == NULL)
				return NULL;
			t->nfields++;
			s = skip_space(s, end);
			if (s < end && *s == ',')
			{
				s++;
				continue;
			}
			if (s < end && *s == '>')
			{
				s++;
				break;
			}
			return NULL;
		}
	}
	else if ((end - s >= 6 && pg_strncasecmp(s, "array<", 6) == 0) ||
			 (end - s >= 4 && pg_strncasecmp(s, "map<", 4) == 0))
	{
		bool		is_map = pg_strncasecmp(s, "map<", 4) == 0;

		t->kind = is_map ? GT_MAP : GT_ARRAY;
		s += is_map ? 4 : 6;
		if (is_map)
		{
			/* the key type: a scalar, up to the comma */
			AuditGlueType *key = parse_type(&s, end, depth + 1);

			s = skip_space(s, end);
			if (key == NULL || s >= end || *s != ',')
				return NULL;
			s++;
		}
		t->elem = parse_type(&s, end, depth + 1);
		s = skip_space(s, end);
		if (t->elem == NULL || s >= end || *s != '>')
			return NULL;
		s++;
	}
	else
	{
		/* a scalar: a name, perhaps with (precision, scale) */
		const char *q = s;
		int			parens = 0;

		while (q < end && (parens > 0 || (*q != ',' && *q != '>')))
		{
			if (*q == '(')
				parens++;
			else if (*q == ')')
				parens--;
			q++;
		}
		if (q == s)
			return NULL;
		t->kind = GT_SCALAR;
		s = q;
	}
	*p = s;
	return t;
}

/*
 * The declared type of a column, when it names any struct field with an
 * upper-case letter (else nothing is to be renamed: NULL).
 */
AuditGlueType *
audit_glue_type_parse(const char *type)
{
	const char *p = type;
	const char *end = type + strlen(type);
	AuditGlueType *t = parse_type(&p, end, 0);

	if (t == NULL || *skip_space(p, end) != '\0')
		return NULL;
	return has_upper_field(t) ? t : NULL;
}

static bool
has_upper_field(const AuditGlueType *t)
{
	switch (t->kind)
	{
		case GT_STRUCT:
			for (int i = 0; i < t->nfields; i++)
			{
				for (const char *c = t->names[i]; *c; c++)
					if (isupper((unsigned char) *c))
						return true;
				if (has_upper_field(t->fields[i]))
					return true;
			}
			return false;
		case GT_ARRAY:
		case GT_MAP:
			return has_upper_field(t->elem);
		default:
			return false;
	}
}

/* True when the type parses and is a struct, array or map. */
bool
audit_glue_type_is_complex(const char *type)
{
	const char *p = type;
	const char *end = type + strlen(type);
	AuditGlueType *t = parse_type(&p, end, 0);

	return t != NULL && t->kind != GT_SCALAR && *skip_space(p, end) == '\0';
}

/*
 * A JSON value read from Athena with its struct field names in the declared
 * case.
 */
Jsonb *
audit_glue_type_recase(Jsonb *in, const AuditGlueType *type)
{
	JsonbIterator *it = JsonbIteratorInit(&in->root);
	JsonbParseState *state = NULL;
	JsonbValue	v;
	JsonbIteratorToken tok;
	JsonbValue *res = NULL;
	/* per open container: its type; and the type of the next value */
	const AuditGlueType **stack = palloc(sizeof(AuditGlueType *) * 8);
	int			depth = 0;
	int			cap = 8;
	const AuditGlueType *next = type;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_OBJECT:
			case WJB_BEGIN_ARRAY:
				{
					const AuditGlueType *t = next;

					/* an array's elements all have its element type */
					if (depth > 0 && stack[depth - 1] &&
						stack[depth - 1]->kind == GT_ARRAY)
						t = stack[depth - 1]->elem;
					if (depth == cap)
					{
						cap *= 2;
						stack = repalloc(stack, sizeof(AuditGlueType *) * cap);
					}
					stack[depth++] = t;
					/* a raw scalar is an array of one, marked rawScalar */
					res = pushJsonbValue(&state, tok,
										 (tok == WJB_BEGIN_ARRAY && v.val.array.rawScalar) ? &v : NULL);
					break;
				}
			case WJB_END_OBJECT:
			case WJB_END_ARRAY:
				depth--;
				res = pushJsonbValue(&state, tok, NULL);
				break;
			case WJB_KEY:
				{
					const AuditGlueType *t = depth > 0 ? stack[depth - 1] : NULL;

					next = NULL;
					if (t && t->kind == GT_STRUCT)
					{
						for (int i = 0; i < t->nfields; i++)
						{
							if (strlen(t->names[i]) == v.val.string.len &&
								pg_strncasecmp(t->names[i], v.val.string.val,
											   v.val.string.len) == 0)
							{
								v.val.string.val = t->names[i];
								next = t->fields[i];
								break;
							}
						}
					}
					else if (t && t->kind == GT_MAP)
						next = t->elem;
					res = pushJsonbValue(&state, tok, &v);
					break;
				}
			default:
				res = pushJsonbValue(&state, tok, &v);
				break;
		}
	}
	return JsonbValueToJsonb(res);
}
