/*-------------------------------------------------------------------------
 *
 * types.c
 *		Athena values to PostgreSQL datums, and Glue types to PostgreSQL
 *		types.
 *
 * Both result transports deliver every value as text (Athena's CSV and
 * GetQueryResults' VarCharValue share one text form), so a value goes
 * through the column type's input function, except where Athena's text
 * differs from PostgreSQL's:
 *	- timestamp without a zone read into timestamptz is UTC (Athena's
 *	  session time zone), not the PostgreSQL session's zone;
 *	- varbinary arrives as hex pairs separated by spaces;
 *	- a struct read as JSON has Athena's lower-cased field names: a column
 *	  with a declared Glue type gets them back in the declared case
 *	  (fieldcase.c).
 * A value that does not convert raises an error naming the column and the
 * row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "fdw/fdw.h"

typedef enum ConvKind
{
	CONV_INPUT,					/* the type's input function */
	CONV_TIMESTAMPTZ,			/* input function, UTC when no zone given */
	CONV_BYTEA_HEX,				/* "de ad be ef" */
	CONV_JSON_RECASE			/* JSON with field names in the declared case */
} ConvKind;

typedef struct ColumnConverter
{
	AttrNumber	attnum;
	ConvKind	kind;
	FmgrInfo	input;
	Oid			typioparam;
	int32		typmod;
	char	   *name;
	Oid			typid;
	AuditGlueType *glue_type;	/* CONV_JSON_RECASE */
} ColumnConverter;

struct AuditFdwConverter
{
	int			ncolumns;
	int			natts;
	ColumnConverter *columns;
	char	   *relname;
	/* for the error context */
	int			current;
	uint64		rownum;
};

static void conversion_error_callback(void *arg);
static Datum convert_timestamptz(ColumnConverter *col, char *value);
static Datum convert_bytea_hex(char *value, bool *ok);
static Datum convert_json_recase(ColumnConverter *col, char *value);

/*
 * Prepare the conversion of the retrieved columns (retrieved_attrs, in
 * order) into a tuple of tupdesc.
 */
AuditFdwConverter *
audit_converter_create(TupleDesc tupdesc, List *retrieved_attrs,
					   const char *relname, Oid relid)
{
	AuditFdwConverter *conv = palloc0(sizeof(AuditFdwConverter));
	ListCell   *lc;
	int			i = 0;

	conv->natts = tupdesc->natts;
	conv->ncolumns = list_length(retrieved_attrs);
	conv->columns = palloc0(sizeof(ColumnConverter) * Max(conv->ncolumns, 1));
	conv->relname = pstrdup(relname);

	foreach(lc, retrieved_attrs)
	{
		AttrNumber	attnum = lfirst_int(lc);
		Form_pg_attribute attr = TupleDescAttr(tupdesc, attnum - 1);
		ColumnConverter *col = &conv->columns[i++];
		Oid			infunc;

		col->attnum = attnum;
		col->typid = attr->atttypid;
		col->typmod = attr->atttypmod;
		col->name = pstrdup(NameStr(attr->attname));
		getTypeInputInfo(attr->atttypid, &infunc, &col->typioparam);
		fmgr_info(infunc, &col->input);
		if (attr->atttypid == TIMESTAMPTZOID)
			col->kind = CONV_TIMESTAMPTZ;
		else if (attr->atttypid == BYTEAOID)
			col->kind = CONV_BYTEA_HEX;
		else
			col->kind = CONV_INPUT;
		if (OidIsValid(relid) && audit_column_reads_json(relid, attnum, attr->atttypid))
		{
			AuditFdwColumn *c = audit_get_column(relid, attnum, NameStr(attr->attname));

			col->glue_type = c->glue_type ? audit_glue_type_parse(c->glue_type) : NULL;
			if (col->glue_type)
				col->kind = CONV_JSON_RECASE;
		}
	}
	return conv;
}

static void
conversion_error_callback(void *arg)
{
	AuditFdwConverter *conv = (AuditFdwConverter *) arg;

	if (conv->current >= 0 && conv->current < conv->ncolumns)
		errcontext("column \"%s\" of foreign table \"%s\", row " UINT64_FORMAT,
				   conv->columns[conv->current].name, conv->relname,
				   conv->rownum);
	else
		errcontext("foreign table \"%s\", row " UINT64_FORMAT,
				   conv->relname, conv->rownum);
}

/*
 * A timestamp with time zone: Athena writes "2024-01-15 16:44:27.000 UTC"
 * for timestamp with time zone, and no zone for timestamp, which is UTC.
 */
static Datum
convert_timestamptz(ColumnConverter *col, char *value)
{
	const char *p;
	bool		has_zone = false;

	/* a zone is a letter, or a sign after the date part */
	for (p = value; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			((*p == '+' || *p == '-') && p - value > 10))
		{
			has_zone = true;
			break;
		}
	}
	if (!has_zone)
	{
		char	   *withzone = psprintf("%s+00", value);

		return InputFunctionCall(&col->input, withzone, col->typioparam,
								 col->typmod);
	}
	return InputFunctionCall(&col->input, value, col->typioparam, col->typmod);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * A field of Athena's results (UTF-8) in the database's encoding: no byte
 * that is not valid UTF-8 reaches a type's input function, and in a
 * database that is not UTF-8 the text is converted (an ERROR, with the
 * column and row in its context, when a character has no equivalent).
 */
static char *
server_text(char *value)
{
	return pg_any_to_server(value, strlen(value), PG_UTF8);
}

/*
 * varbinary as Athena writes it: hex pairs, separated by spaces.
 */
static Datum
convert_bytea_hex(char *value, bool *ok)
{
	size_t		len = strlen(value);
	bytea	   *result = palloc(VARHDRSZ + len / 2 + 1);
	char	   *out = VARDATA(result);
	const char *p = value;

	*ok = true;
	while (*p)
	{
		int			hi,
					lo;

		if (*p == ' ')
		{
			p++;
			continue;
		}
		hi = hexval(p[0]);
		lo = hi >= 0 ? hexval(p[1]) : -1;
		if (hi < 0 || lo < 0)
		{
			*ok = false;
			return (Datum) 0;
		}
		*out++ = (char) ((hi << 4) | lo);
		p += 2;
	}
	SET_VARSIZE(result, VARHDRSZ + (out - VARDATA(result)));
	return PointerGetDatum(result);
}

/*
 * Convert one row's fields (NUL-terminated, in retrieved order) into the
 * slot.  Columns not retrieved are NULL.  Allocates in the current memory
 * context (the executor's per-tuple context).
 */
void
audit_converter_store(AuditFdwConverter *conv, TupleTableSlot *slot,
					  char **fields, const bool *nulls, int nfields,
					  uint64 rownum)
{
	ErrorContextCallback errcallback;
	Datum	   *values = slot->tts_values;
	bool	   *isnull = slot->tts_isnull;
	int			i;

	ExecClearTuple(slot);
	memset(isnull, true, sizeof(bool) * conv->natts);

	conv->rownum = rownum;
	conv->current = -1;
	errcallback.callback = conversion_error_callback;
	errcallback.arg = conv;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	if (nfields != Max(conv->ncolumns, 1))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("Athena returned %d columns where %d were expected",
						nfields, Max(conv->ncolumns, 1))));

	for (i = 0; i < conv->ncolumns; i++)
	{
		ColumnConverter *col = &conv->columns[i];
		int			idx = col->attnum - 1;

		conv->current = i;
		if (nulls[i])
		{
			values[idx] = InputFunctionCall(&col->input, NULL, col->typioparam,
											col->typmod);
			isnull[idx] = true;
			continue;
		}
		switch (col->kind)
		{
			case CONV_INPUT:
				values[idx] = InputFunctionCall(&col->input, server_text(fields[i]),
												col->typioparam, col->typmod);
				break;
			case CONV_TIMESTAMPTZ:
				values[idx] = convert_timestamptz(col, server_text(fields[i]));
				break;
			case CONV_JSON_RECASE:
				values[idx] = convert_json_recase(col, fields[i]);
				break;
			case CONV_BYTEA_HEX:
				{
					bool		ok;

					values[idx] = convert_bytea_hex(fields[i], &ok);
					if (!ok)
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
								 errmsg("invalid varbinary value from Athena: \"%s\"",
										fields[i])));
					break;
				}
		}
		isnull[idx] = false;
	}
	error_context_stack = errcallback.previous;
	ExecStoreVirtualTuple(slot);
}

/* A JSON value with its struct field names in the declared case. */
static Datum
convert_json_recase(ColumnConverter *col, char *value)
{
	Jsonb	   *in = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(value)));
	Jsonb	   *out = audit_glue_type_recase(in, col->glue_type);

	if (col->typid == JSONBOID)
		return JsonbPGetDatum(out);
	/* json, text: the JSON text through the column type's input */
	return InputFunctionCall(&col->input, JsonbToCString(NULL, &out->root, VARSIZE(out)),
							 col->typioparam, col->typmod);
}

/*
 * The PostgreSQL type for a Glue (Hive) column type, as SQL text.  Nested
 * types (array, map, struct) and json become jsonb.  NULL for a type
 * without a mapping.
 */
const char *
audit_glue_type_to_pg(const char *gluetype)
{
	char	   *t = asc_tolower(gluetype, strlen(gluetype));
	int			p,
				s;
	int			n;

	if (strcmp(t, "boolean") == 0)
		return "boolean";
	if (strcmp(t, "tinyint") == 0 || strcmp(t, "smallint") == 0)
		return "smallint";
	if (strcmp(t, "int") == 0 || strcmp(t, "integer") == 0)
		return "integer";
	if (strcmp(t, "bigint") == 0)
		return "bigint";
	if (strcmp(t, "float") == 0 || strcmp(t, "real") == 0)
		return "real";
	if (strcmp(t, "double") == 0)
		return "double precision";
	if (strcmp(t, "decimal") == 0)
		return "numeric";
	if (sscanf(t, "decimal(%d,%d)", &p, &s) == 2 ||
		sscanf(t, "decimal(%d, %d)", &p, &s) == 2)
		return psprintf("numeric(%d,%d)", p, s);
	if (strcmp(t, "string") == 0 || strcmp(t, "varchar") == 0)
		return "text";
	if (sscanf(t, "varchar(%d)", &n) == 1)
		return psprintf("varchar(%d)", n);
	if (strcmp(t, "char") == 0)
		return "character(1)";
	if (sscanf(t, "char(%d)", &n) == 1)
		return psprintf("character(%d)", n);
	if (strcmp(t, "date") == 0)
		return "date";
	/* Athena's timestamps are UTC: timestamptz keeps their meaning */
	if (strcmp(t, "timestamp") == 0 ||
		strncmp(t, "timestamp with time zone", 24) == 0)
		return "timestamp with time zone";
	if (strcmp(t, "binary") == 0 || strcmp(t, "varbinary") == 0)
		return "bytea";
	if (strncmp(t, "array<", 6) == 0 || strncmp(t, "map<", 4) == 0 ||
		strncmp(t, "struct<", 7) == 0 || strncmp(t, "row(", 4) == 0 ||
		strcmp(t, "json") == 0)
		return "jsonb";
	return NULL;
}
