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
 * The common types skip the input function when the text has the plain
 * shape Athena writes (convert_direct): bigint, integer, smallint, boolean,
 * double, numeric, date, timestamp, timestamptz, text and varchar.  Such a
 * direct conversion gives exactly the datum the input function would, and
 * anything else (signs, spaces, exponents, NaN, Infinity, BC dates, 5-digit
 * years, out of range values, typmods that round) goes to the input
 * function, so results and errors stay the input functions' own.
 * audit_fdw.direct_conversion = off (a developer setting, to compare) sends
 * every value to the input function.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/formatting.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "fdw/fdw.h"

typedef enum ConvKind
{
	CONV_INPUT,					/* the type's input function */
	CONV_TIMESTAMPTZ,			/* input function, UTC when no zone given */
	CONV_BYTEA_HEX,				/* "de ad be ef" */
	CONV_JSON_RECASE,			/* JSON with field names in the declared case */
	CONV_AVG_PAIR				/* "sum count" of a shipped avg */
} ConvKind;

/* The types convert_direct reads itself when the text is plain. */
typedef enum DirectKind
{
	DIRECT_NONE,
	DIRECT_INT8,
	DIRECT_INT4,
	DIRECT_INT2,
	DIRECT_BOOL,
	DIRECT_FLOAT8,
	DIRECT_NUMERIC,
	DIRECT_DATE,
	DIRECT_TIMESTAMP,			/* also timestamptz: Athena's times are UTC */
	DIRECT_TEXT
} DirectKind;

typedef struct ColumnConverter
{
	AttrNumber	attnum;
	ConvKind	kind;
	DirectKind	direct;
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
static DirectKind direct_kind(Oid type, int32 typmod);
static bool convert_direct(const ColumnConverter *col, const char *value, Datum *result);
static char *server_text(char *value);
static Datum convert_json_recase(ColumnConverter *col, char *value);
static Datum convert_avg_pair(const char *value);

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
		col->direct = audit_direct_conversion
			? direct_kind(attr->atttypid, attr->atttypmod) : DIRECT_NONE;
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
			{
				col->kind = CONV_JSON_RECASE;
				col->direct = DIRECT_NONE;	/* the JSON is rewritten first */
			}
		}
	}
	return conv;
}

/*
 * The direct conversion for a column of type and typmod, DIRECT_NONE when
 * its input function always runs.  Typmods that only check (varchar(n),
 * numeric(p,s)) are checked by convert_direct; timestamps with a precision
 * round, so they keep the input function.
 */
static DirectKind
direct_kind(Oid type, int32 typmod)
{
	switch (type)
	{
		case INT8OID:
			return DIRECT_INT8;
		case INT4OID:
			return DIRECT_INT4;
		case INT2OID:
			return DIRECT_INT2;
		case BOOLOID:
			return DIRECT_BOOL;
		case FLOAT8OID:
			return DIRECT_FLOAT8;
		case NUMERICOID:
			return DIRECT_NUMERIC;
		case DATEOID:
			return DIRECT_DATE;
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return typmod < 0 ? DIRECT_TIMESTAMP : DIRECT_NONE;
		case TEXTOID:
			return DIRECT_TEXT;
		case VARCHAROID:
			return typmod < 0 ? DIRECT_TEXT : DIRECT_NONE;
		default:
			return DIRECT_NONE;
	}
}

/* Up to maxdigits digits (at least one) at *p: their value; -1 otherwise. */
static inline int64
read_digits(const char **p, int maxdigits)
{
	const char *s = *p;
	int64		v = 0;
	int			n = 0;

	while (*s >= '0' && *s <= '9')
	{
		if (++n > maxdigits)
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	if (n == 0)
		return -1;
	*p = s;
	return v;
}

/* Exactly n digits at p, or -1. */
static inline int
fixed_digits(const char *p, int n)
{
	int			v = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/*
 * "YYYY-MM-DD" at p (a year of four digits, not 0000, a real day): the
 * Julian day, or -1.
 */
static int
plain_date(const char *p)
{
	int			y,
				m,
				d;

	/* in order: no byte after the terminator is read */
	if ((y = fixed_digits(p, 4)) <= 0 || p[4] != '-' ||
		(m = fixed_digits(p + 5, 2)) < 1 || m > 12 || p[7] != '-' ||
		(d = fixed_digits(p + 8, 2)) < 1 || d > day_tab[isleap(y)][m - 1])
		return -1;
	return date2j(y, m, d);
}

/*
 * The datum of value when it has the plain shape of its type (see the file
 * header); false sends it to the input function.
 */
static bool
convert_direct(const ColumnConverter *col, const char *value, Datum *result)
{
	const char *p = value;
	bool		negative = false;
	int64		v;

	switch (col->direct)
	{
		case DIRECT_NONE:
			return false;
		case DIRECT_INT8:
		case DIRECT_INT4:
		case DIRECT_INT2:
			{
				/*
				 * At most the type's digits (19, 10, 5: they cannot overflow
				 * a uint64), then the type's range, which a minus sign
				 * widens by one.
				 */
				uint64		max = col->direct == DIRECT_INT8 ? PG_INT64_MAX :
					col->direct == DIRECT_INT4 ? PG_INT32_MAX : PG_INT16_MAX;
				int			maxdigits = col->direct == DIRECT_INT8 ? 19 :
					col->direct == DIRECT_INT4 ? 10 : 5;
				uint64		u = 0;
				int			n = 0;

				if (*p == '-')
				{
					negative = true;
					p++;
				}
				for (; *p >= '0' && *p <= '9'; p++)
				{
					if (++n > maxdigits)
						return false;
					u = u * 10 + (*p - '0');
				}
				if (n == 0 || *p != '\0' || u > max + (negative ? 1 : 0))
					return false;
				v = negative && u > 0 ? -(int64) (u - 1) - 1 : (int64) u;
				*result = col->direct == DIRECT_INT8 ? Int64GetDatum(v) :
					col->direct == DIRECT_INT4 ? Int32GetDatum((int32) v) :
					Int16GetDatum((int16) v);
				return true;
			}
		case DIRECT_BOOL:
			if (strcmp(value, "true") == 0)
				*result = BoolGetDatum(true);
			else if (strcmp(value, "false") == 0)
				*result = BoolGetDatum(false);
			else
				return false;
			return true;
		case DIRECT_FLOAT8:
			{
				/*
				 * At most 15 digits, scaled by at most 22 powers of ten: the
				 * digits as an integer and the power of ten are both exact
				 * doubles, so one division or multiplication gives the
				 * correctly rounded value strtod (float8in) gives (Clinger's
				 * fast path).
				 */
				static const double pow10[] = {
					1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
					1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
					1e20, 1e21, 1e22
				};
				int			ndigits = 0,
							nfrac = 0;
				int64		exp10;
				double		d;

				if (*p == '-')
				{
					negative = true;
					p++;
				}
				v = 0;
				for (; *p >= '0' && *p <= '9'; p++, ndigits++)
				{
					if (ndigits >= 15)
						return false;
					v = v * 10 + (*p - '0');
				}
				if (ndigits == 0)
					return false;
				if (*p == '.')
				{
					for (p++; *p >= '0' && *p <= '9'; p++, nfrac++)
					{
						if (ndigits + nfrac >= 15)
							return false;
						v = v * 10 + (*p - '0');
					}
					if (nfrac == 0)
						return false;
				}
				exp10 = -nfrac;
				if (*p == 'E' || *p == 'e')
				{
					/* Java's form for large and small values: 1.0E7 */
					bool		eneg = false;
					int64		e;

					p++;
					if (*p == '-' || *p == '+')
						eneg = *p++ == '-';
					e = read_digits(&p, 3);
					if (e < 0)
						return false;
					exp10 += eneg ? -e : e;
				}
				if (*p != '\0' || ndigits + nfrac > 15 || exp10 < -22 || exp10 > 22)
					return false;
				d = exp10 < 0 ? (double) v / pow10[-exp10] : (double) v * pow10[exp10];
				*result = Float8GetDatum(negative ? -d : d);
				return true;
			}
		case DIRECT_NUMERIC:
			{
				/*
				 * At most 18 digits: the digits as an integer, scaled by the
				 * count after the point (numeric_in's display scale).  With a
				 * typmod only when it neither rounds nor overflows.
				 */
				int			nint = 0,
							nsig = 0,
							nfrac = 0;

				if (*p == '-')
				{
					negative = true;
					p++;
				}
				v = 0;
				for (; *p >= '0' && *p <= '9'; p++, nint++)
				{
					if (nint >= 18)
						return false;
					if (v > 0 || *p != '0')
						nsig++;
					v = v * 10 + (*p - '0');
				}
				if (nint == 0)
					return false;
				if (*p == '.')
				{
					for (p++; *p >= '0' && *p <= '9'; p++, nfrac++)
					{
						if (nint + nfrac >= 18)
							return false;
						v = v * 10 + (*p - '0');
					}
					if (nfrac == 0)
						return false;
				}
				if (*p != '\0' || nint + nfrac > 18)
					return false;
				if (col->typmod >= (int32) VARHDRSZ)
				{
					int32		tm = col->typmod - VARHDRSZ;
					int			precision = (tm >> 16) & 0xffff;
					int			scale = tm & 0x7ff;

					/* s in 0..p (a negative s has 0x400 set): the common form */
					if (scale > precision || nfrac != scale ||
						nsig > precision - scale)
						return false;
				}
				*result = NumericGetDatum(int64_div_fast_to_numeric(negative ? -v : v, nfrac));
				return true;
			}
		case DIRECT_DATE:
			{
				int			jd;

				if (strlen(value) != 10 || (jd = plain_date(value)) < 0)
					return false;
				*result = DateADTGetDatum(jd - POSTGRES_EPOCH_JDATE);
				return true;
			}
		case DIRECT_TIMESTAMP:
			{
				/*
				 * "YYYY-MM-DD HH:MM:SS", then "." and 1 to 6 digits, then
				 * nothing or " UTC" (timestamp with time zone).  For
				 * timestamptz, UTC is what convert_timestamptz gives a time
				 * without a zone.
				 */
				int			jd,
							hh,
							mi,
							ss;
				int64		us = 0;
				int			nfrac = 0;

				if ((jd = plain_date(value)) < 0 || value[10] != ' ' ||
					(hh = fixed_digits(value + 11, 2)) < 0 || hh > 23 || value[13] != ':' ||
					(mi = fixed_digits(value + 14, 2)) < 0 || mi > 59 || value[16] != ':' ||
					(ss = fixed_digits(value + 17, 2)) < 0 || ss > 59)
					return false;
				p = value + 19;
				if (*p == '.')
				{
					for (p++; *p >= '0' && *p <= '9' && nfrac < 6; p++, nfrac++)
						us = us * 10 + (*p - '0');
					if (nfrac == 0)
						return false;
					for (; nfrac < 6; nfrac++)
						us *= 10;
				}
				if (*p != '\0' && !(col->kind == CONV_TIMESTAMPTZ && strcmp(p, " UTC") == 0))
					return false;
				*result = TimestampGetDatum((int64) (jd - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY +
											((hh * 60 + mi) * 60 + ss) * USECS_PER_SEC + us);
				return true;
			}
		case DIRECT_TEXT:
			/* textin and varcharin without a length, after the same check */
			*result = PointerGetDatum(cstring_to_text(server_text((char *) value)));
			return true;
	}
	return false;
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
		if (convert_direct(col, fields[i], &values[idx]))
		{
			isnull[idx] = false;
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
			case CONV_AVG_PAIR:
				values[idx] = convert_avg_pair(fields[i]);
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

/*
 * The columns of a grouped relation that are avg aggregates: Athena sends
 * them as "sum count" (deparse.c, audit_is_foreign_aggregate).
 */
void
audit_converter_mark_avg_pairs(AuditFdwConverter *conv, List *scan_tlist)
{
	int			i;

	for (i = 0; i < conv->ncolumns; i++)
	{
		ColumnConverter *col = &conv->columns[i];
		TargetEntry *tle;

		if (col->attnum > list_length(scan_tlist))
			continue;
		tle = list_nth_node(TargetEntry, scan_tlist, col->attnum - 1);
		if (audit_is_avg_pair((Node *) tle->expr))
		{
			col->kind = CONV_AVG_PAIR;
			col->direct = DIRECT_NONE;
		}
	}
}

/*
 * A join's columns read as JSON: a column of a foreign table in the scan
 * tlist (a Var) gets its declared field case back, as in a scan of the
 * table itself.
 */
void
audit_converter_mark_json_columns(AuditFdwConverter *conv, List *scan_tlist,
								  List *range_table)
{
	int			i;

	for (i = 0; i < conv->ncolumns; i++)
	{
		ColumnConverter *col = &conv->columns[i];
		TargetEntry *tle;
		Var		   *var;
		Oid			relid;
		AuditFdwColumn *c;

		if (col->attnum > list_length(scan_tlist))
			continue;
		tle = list_nth_node(TargetEntry, scan_tlist, col->attnum - 1);
		var = (Var *) tle->expr;
		if (!IsA(var, Var) || var->varattno <= 0 || var->varno > list_length(range_table))
			continue;
		relid = rt_fetch(var->varno, range_table)->relid;
		if (!OidIsValid(relid) || !audit_column_reads_json(relid, var->varattno, var->vartype))
			continue;
		c = audit_get_column(relid, var->varattno, get_attname(relid, var->varattno, false));
		col->glue_type = c->glue_type ? audit_glue_type_parse(c->glue_type) : NULL;
		if (col->glue_type)
		{
			col->kind = CONV_JSON_RECASE;
			col->direct = DIRECT_NONE;
		}
	}
}

/*
 * avg from its sum and count, as PostgreSQL's avg computes it at the end:
 * numeric_div of the two (its result scale depends on the values).
 */
static Datum
convert_avg_pair(const char *value)
{
	const char *space = strchr(value, ' ');
	int64		count = 0;
	char	   *end = NULL;
	char	   *sum;

	if (space != NULL)
	{
		errno = 0;
		count = strtoi64(space + 1, &end, 10);
	}
	if (space == NULL || errno != 0 || *end != '\0' || count <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid sum and count of an average from Athena: \"%s\"", value)));
	sum = pnstrdup(value, space - value);
	return DirectFunctionCall2(numeric_div,
							   DirectFunctionCall3(numeric_in, CStringGetDatum(sum),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)),
							   NumericGetDatum(int64_to_numeric(count)));
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
