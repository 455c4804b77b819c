/*-------------------------------------------------------------------------
 *
 * convert.c
 *		DynamoDB attribute values to column values, and SQL values to
 *		attribute values for keys and expressions.
 *
 * The mapping is the audit records' (src/pump/transform.c), so that a
 * live item and its history compare equal:
 *	- S is text (or the input of the column's type: date, timestamp, ...);
 *	- N keeps its exact digits: numeric reads the number as DynamoDB holds
 *	  it, integer types refuse a fraction, text gets str(Decimal) of it;
 *	- BOOL is boolean, NULL is SQL NULL, a missing attribute is NULL;
 *	- B is bytea, or its base64 text;
 *	- SS, NS, BS and L of scalars are arrays of the column's element type;
 *	- M, L and sets are jsonb (or json, or their JSON text), unmarshalled
 *	  as the audit records' images are; the whole item likewise.
 * A value that does not fit the column is an ERROR naming the column and
 * the attribute, never a silent NULL.
 *
 * The other way, a SQL value becomes an attribute value only where
 * DynamoDB holds the same value: no empty strings, no NaN or infinities,
 * numbers of at most 38 significant digits within DynamoDB's range.
 * Anything else is reported as unrepresentable, and the caller drops the
 * condition (the local filter still applies) or knows that no key can
 * match.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/base64.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#define json_object pg_json_object_fn
#include "utils/builtins.h"
#include "utils/json.h"
#undef json_object
#include <json-c/json.h>

#include "aws/aws.h"
#include "dynamodb/dynamodb.h"
#include "pump/transform.h"

/* How one column is filled */
typedef struct DdbColumnConv
{
	DdbColumn  *col;
	int			index;			/* in the slot */
	Oid			typid;
	Oid			elemtype;		/* arrays: the element type, else InvalidOid */
	int16		elemlen;
	bool		elembyval;
	char		elemalign;
	FmgrInfo	input;			/* of typid, or of the element type */
	Oid			ioparam;
	int32		typmod;
} DdbColumnConv;

struct DdbConverter
{
	int			ncols;
	DdbColumnConv *cols;
	const char *relname;
	AuditBuf	buf;			/* unmarshalled JSON text, reused */
};

static Datum convert_value(DdbConverter *conv, DdbColumnConv *cc,
						   json_object *av, bool *isnull);
static Datum convert_scalar(DdbConverter *conv, DdbColumnConv *cc, Oid typid,
							const char *type, json_object *v, json_object *av,
							bool *isnull);
static Datum convert_array(DdbConverter *conv, DdbColumnConv *cc,
						   const char *type, json_object *v, json_object *av);
static char *unmarshalled_text(DdbConverter *conv, DdbColumnConv *cc,
							   json_object *av, bool item);
static void conversion_error(DdbConverter *conv, DdbColumnConv *cc,
							 const char *type) pg_attribute_noreturn();
static bool av_parts(json_object *av, const char **type, json_object **v);
static const char *normalized_number(DdbConverter *conv, const char *text);
static void check_length(DdbConverter *conv, DdbColumnConv *cc, Oid typid,
						 const char *type, const char *s);

/*
 * Input functions quote what they refuse: a value longer than any number,
 * date or address could be is refused here, clipped, so that a hostile or
 * broken answer never puts megabytes into a message.
 */
#define DDB_MAX_QUOTED_INPUT 1000

DdbConverter *
ddb_converter_create(List *columns, TupleDesc tupdesc, const char *relname)
{
	DdbConverter *conv = palloc0(sizeof(DdbConverter));
	ListCell   *lc;
	int			i = 0;

	conv->cols = palloc0(sizeof(DdbColumnConv) * Max(list_length(columns), 1));
	conv->relname = pstrdup(relname);
	audit_buf_init(&conv->buf);
	foreach(lc, columns)
	{
		DdbColumn  *col = lfirst(lc);
		DdbColumnConv *cc = &conv->cols[i++];
		Oid			func;
		Oid			elem = get_element_type(col->typid);

		cc->col = col;
		cc->index = col->attnum - 1;
		cc->typid = col->typid;
		cc->typmod = col->typmod;
		if (OidIsValid(elem) && col->typid != JSONBOID && !col->whole_item)
		{
			cc->elemtype = elem;
			get_typlenbyvalalign(elem, &cc->elemlen, &cc->elembyval, &cc->elemalign);
			getTypeInputInfo(elem, &func, &cc->ioparam);
			cc->typmod = -1;
		}
		else
			getTypeInputInfo(col->typid, &func, &cc->ioparam);
		fmgr_info(func, &cc->input);
	}
	conv->ncols = i;
	return conv;
}

/* The type and the value of an attribute value ({"S": "x"}). */
static bool
av_parts(json_object *av, const char **type, json_object **v)
{
	if (av == NULL || !json_object_is_type(av, json_type_object) ||
		json_object_object_length(av) != 1)
		return false;
	{
		json_object_object_foreach(av, k, val)
		{
			*type = k;
			*v = val;
		}
	}
	return true;
}

/*
 * Fill the slot's columns from one item (an attribute map).  Columns the
 * scan does not read stay NULL.
 */
void
ddb_store_item(DdbConverter *conv, json_object *item, TupleTableSlot *slot)
{
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	for (int i = 0; i < conv->ncols; i++)
	{
		DdbColumnConv *cc = &conv->cols[i];
		json_object *av;

		if (cc->col->whole_item)
		{
			char	   *text = unmarshalled_text(conv, cc, item, true);

			slot->tts_values[cc->index] =
				InputFunctionCall(&cc->input, text, cc->ioparam, cc->typmod);
			slot->tts_isnull[cc->index] = false;
			continue;
		}
		if (!json_object_object_get_ex(item, cc->col->attribute, &av))
			continue;
		slot->tts_values[cc->index] =
			convert_value(conv, cc, av, &slot->tts_isnull[cc->index]);
	}
	ExecStoreVirtualTuple(slot);
}

static Datum
convert_value(DdbConverter *conv, DdbColumnConv *cc, json_object *av, bool *isnull)
{
	const char *type;
	json_object *v;

	if (!av_parts(av, &type, &v))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("attribute \"%s\" of a DynamoDB item is not an attribute value",
						cc->col->attribute),
				 errcontext("foreign table \"%s\"", conv->relname)));
	*isnull = false;
	if (strcmp(type, "NULL") == 0)
	{
		*isnull = true;
		return (Datum) 0;
	}
	if (cc->typid == JSONBOID || cc->typid == JSONOID)
		return InputFunctionCall(&cc->input, unmarshalled_text(conv, cc, av, false),
								 cc->ioparam, cc->typmod);
	if (OidIsValid(cc->elemtype))
		return convert_array(conv, cc, type, v, av);
	return convert_scalar(conv, cc, cc->typid, type, v, av, isnull);
}

/*
 * A scalar attribute value as a value of typid (the column's type, or an
 * array column's element type).
 */
static Datum
convert_scalar(DdbConverter *conv, DdbColumnConv *cc, Oid typid,
			   const char *type, json_object *v, json_object *av, bool *isnull)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;

	*isnull = false;
	if (s)
		check_length(conv, cc, typid, type, s);
	if (type[0] == 'S' && type[1] == '\0' && s)
	{
		char	   *text = aws_text_to_server(s);

		if (typid == TEXTOID)
			return PointerGetDatum(cstring_to_text(text));
		return InputFunctionCall(&cc->input, text, cc->ioparam, cc->typmod);
	}
	if (type[0] == 'N' && type[1] == '\0' && s)
	{
		switch (typid)
		{
			case NUMERICOID:
			case INT2OID:
			case INT4OID:
			case INT8OID:
				{
					Datum		num = DirectFunctionCall3(numeric_in, CStringGetDatum(s),
														  ObjectIdGetDatum(InvalidOid),
														  Int32GetDatum(-1));

					if (typid == NUMERICOID)
					{
						if (cc->typmod >= 0 && !OidIsValid(cc->elemtype))
							return InputFunctionCall(&cc->input, (char *) s,
													 cc->ioparam, cc->typmod);
						return num;
					}
					if (!DatumGetBool(DirectFunctionCall2(numeric_eq, num,
														  DirectFunctionCall2(numeric_trunc, num,
																			  Int32GetDatum(0)))))
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
								 errmsg("invalid input syntax for type %s: \"%s\"",
										format_type_be(typid), s),
								 errdetail("Attribute \"%s\" holds a number with a fraction.",
										   cc->col->attribute),
								 errcontext("foreign table \"%s\"", conv->relname)));
					if (typid == INT8OID)
						return DirectFunctionCall1(numeric_int8, num);
					if (typid == INT4OID)
						return DirectFunctionCall1(numeric_int4, num);
					return DirectFunctionCall1(numeric_int2, num);
				}
			case TEXTOID:
				return PointerGetDatum(cstring_to_text(normalized_number(conv, s)));
			default:
				return InputFunctionCall(&cc->input, (char *) normalized_number(conv, s),
										 cc->ioparam, cc->typmod);
		}
	}
	if (strcmp(type, "BOOL") == 0 && json_object_is_type(v, json_type_boolean))
	{
		bool		b = json_object_get_boolean(v);

		if (typid == BOOLOID)
			return BoolGetDatum(b);
		return InputFunctionCall(&cc->input, b ? "true" : "false", cc->ioparam, cc->typmod);
	}
	if (type[0] == 'B' && type[1] == '\0' && s)
	{
		if (typid == BYTEAOID)
		{
			int			len = strlen(s);
			int			max = pg_b64_dec_len(len);
			bytea	   *out = palloc(VARHDRSZ + max);
			int			n = pg_b64_decode(s, len, VARDATA(out), max);

			if (n < 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("attribute \"%s\" of a DynamoDB item is not valid base64",
								cc->col->attribute),
						 errcontext("foreign table \"%s\"", conv->relname)));
			SET_VARSIZE(out, VARHDRSZ + n);
			return PointerGetDatum(out);
		}
		return InputFunctionCall(&cc->input, (char *) s, cc->ioparam, cc->typmod);
	}
	if (strcmp(type, "NULL") == 0)
	{
		*isnull = true;
		return (Datum) 0;
	}
	if ((typid == TEXTOID || typid == VARCHAROID) && av != NULL &&
		(strcmp(type, "M") == 0 || strcmp(type, "L") == 0 ||
		 strcmp(type, "SS") == 0 || strcmp(type, "NS") == 0 || strcmp(type, "BS") == 0))
		return InputFunctionCall(&cc->input, unmarshalled_text(conv, cc, av, false),
								 cc->ioparam, cc->typmod);
	conversion_error(conv, cc, type);
}

/* A set, or a list of scalars, as an array of the column's element type. */
static Datum
convert_array(DdbConverter *conv, DdbColumnConv *cc, const char *type,
			  json_object *v, json_object *av)
{
	const char *elemtype;
	size_t		n;
	Datum	   *values;
	bool	   *nulls;
	int			dims[1];
	int			lbs[1] = {1};

	if (strcmp(type, "SS") == 0)
		elemtype = "S";
	else if (strcmp(type, "NS") == 0)
		elemtype = "N";
	else if (strcmp(type, "BS") == 0)
		elemtype = "B";
	else if (strcmp(type, "L") == 0)
		elemtype = NULL;
	else
		conversion_error(conv, cc, type);
	if (!json_object_is_type(v, json_type_array))
		conversion_error(conv, cc, type);
	n = json_object_array_length(v);
	values = palloc(sizeof(Datum) * Max(n, 1));
	nulls = palloc(sizeof(bool) * Max(n, 1));
	for (size_t i = 0; i < n; i++)
	{
		json_object *e = json_object_array_get_idx(v, i);

		if (elemtype)
			values[i] = convert_scalar(conv, cc, cc->elemtype, elemtype, e, NULL, &nulls[i]);
		else
		{
			const char *etype;
			json_object *ev;

			if (!av_parts(e, &etype, &ev) ||
				strcmp(etype, "M") == 0 || strcmp(etype, "L") == 0)
				conversion_error(conv, cc, "L");
			values[i] = convert_scalar(conv, cc, cc->elemtype, etype, ev, NULL, &nulls[i]);
		}
	}
	dims[0] = n;
	if (n == 0)
		return PointerGetDatum(construct_empty_array(cc->elemtype));
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, cc->elemtype,
											  cc->elemlen, cc->elembyval, cc->elemalign));
}

/* An attribute value (or an item) unmarshalled as the audit records are. */
static char *
unmarshalled_text(DdbConverter *conv, DdbColumnConv *cc, json_object *av, bool item)
{
	size_t		len;
	const char *text = json_object_to_json_string_length(av,
														 JSON_C_TO_STRING_PLAIN |
														 JSON_C_TO_STRING_NOSLASHESCAPE,
														 &len);
	char		err[200];
	AuditTransformResult r;

	conv->buf.len = 0;
	r = audit_unmarshal_text(text, len, item, &conv->buf, err, sizeof(err));
	if (r == AUDIT_TRANSFORM_OUT_OF_MEMORY || conv->buf.oom)
	{
		audit_buf_free(&conv->buf);
		audit_buf_init(&conv->buf);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	if (r != AUDIT_TRANSFORM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("a DynamoDB item could not be read"),
				 errdetail("%s", err),
				 errcontext("column \"%s\" of foreign table \"%s\"",
							cc->col->attribute, conv->relname)));
	return aws_text_to_server(pnstrdup(conv->buf.data, conv->buf.len));
}

/* N as text: the exact value written as str(Decimal) writes it. */
static const char *
normalized_number(DdbConverter *conv, const char *text)
{
	conv->buf.len = 0;
	if (!audit_write_number(&conv->buf, text, strlen(text)) || conv->buf.oom)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("a DynamoDB number could not be read: \"%s\"", text)));
	return pnstrdup(conv->buf.data, conv->buf.len);
}

static void
check_length(DdbConverter *conv, DdbColumnConv *cc, Oid typid, const char *type,
			 const char *s)
{
	size_t		len;

	/* text keeps any length; B is decoded without quoting it */
	if (typid == TEXTOID || typid == VARCHAROID || typid == BPCHAROID ||
		(type[0] == 'B' && typid == BYTEAOID))
		return;
	len = strlen(s);
	if (len <= DDB_MAX_QUOTED_INPUT)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%.*s...\"",
					format_type_be(typid), pg_mbcliplen(s, len, 40), s),
			 errdetail("Attribute \"%.200s\" holds a value of type %s of %zu bytes.",
					   cc->col->attribute, type, len),
			 errcontext("foreign table \"%s\"", conv->relname)));
}

static void
conversion_error(DdbConverter *conv, DdbColumnConv *cc, const char *type)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("attribute \"%s\" of type %s cannot be read as %s",
					cc->col->attribute, type, format_type_be(cc->typid)),
			 errhint("Declare the column as jsonb to read maps, lists and sets, or as an array type to read sets and lists of scalars."),
			 errcontext("foreign table \"%s\"", conv->relname)));
}

/* The attribute value type a SQL type is sent as (0: none). */
DdbValueKind
ddb_value_kind_of_type(Oid typid)
{
	switch (typid)
	{
		case TEXTOID:
		case VARCHAROID:
			return DDB_VALUE_S;
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
			return DDB_VALUE_N;
		case BYTEAOID:
			return DDB_VALUE_B;
		case BOOLOID:
			return DDB_VALUE_BOOL;
		default:
			return 0;
	}
}

/*
 * A DynamoDB number's text of a numeric, or NULL when DynamoDB cannot hold
 * it: NaN and infinities, more than 38 significant digits, magnitudes
 * outside 1E-130 .. 9.99E+125 (API reference, AttributeValue N).  The text
 * is canonical (no trailing fractional zeros, "0" for zero): DynamoDB
 * compares numbers by value, so 1, 1.0 and 1.00 are one key, which a key
 * list must hold once.
 */
static char *
number_text(Datum num)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out, num));
	const char *p = text;
	int			digits = 0;
	int			first = -1;		/* position of the first significant digit */
	int			last = -1;
	int			point = -1;
	int			pos = 0;
	int			exponent;

	if (*p == '-')
		p++;
	if (!isdigit((unsigned char) *p))
		return NULL;			/* NaN, Infinity */
	for (; *p; p++)
	{
		if (*p == '.')
		{
			point = pos;
			continue;
		}
		if (*p != '0' && first < 0)
			first = pos;
		if (*p != '0')
			last = pos;
		pos++;
	}
	if (first < 0)
		return pstrdup("0");	/* zero, whatever its scale */
	if (point < 0)
		point = pos;
	else
	{
		/* 2.500 -> 2.5, 1.00 -> 1 */
		char	   *end = text + strlen(text);

		while (end[-1] == '0')
			end--;
		if (end[-1] == '.')
			end--;
		*end = '\0';
	}
	digits = last - first + 1;
	if (digits > 38)
		return NULL;
	/* the value is d.ddd x 10^exponent */
	exponent = point - first - 1;
	if (exponent > 125 || exponent < -130)
		return NULL;
	return text;
}

/*
 * Append value (of typid) as a DynamoDB attribute value of kind kind:
 * {"S":"..."}.  False (nothing appended) when DynamoDB cannot hold it.
 */
bool
ddb_append_value(StringInfo buf, DdbValueKind kind, Oid typid, Datum value)
{
	switch (kind)
	{
		case DDB_VALUE_S:
			{
				char	   *s = TextDatumGetCString(value);

				if (s[0] == '\0')
					return false;
				appendStringInfoString(buf, "{\"S\":");
				ddb_append_json_string(buf, s);
				appendStringInfoChar(buf, '}');
				return true;
			}
		case DDB_VALUE_N:
			{
				char	   *text;

				if (typid == NUMERICOID)
					text = number_text(value);
				else if (typid == INT8OID)
					text = DatumGetCString(DirectFunctionCall1(int8out, value));
				else if (typid == INT4OID)
					text = DatumGetCString(DirectFunctionCall1(int4out, value));
				else if (typid == INT2OID)
					text = DatumGetCString(DirectFunctionCall1(int2out, value));
				else
					return false;
				if (text == NULL)
					return false;
				appendStringInfo(buf, "{\"N\":\"%s\"}", text);
				return true;
			}
		case DDB_VALUE_B:
			{
				bytea	   *b = DatumGetByteaPP(value);
				int			len = VARSIZE_ANY_EXHDR(b);
				int			max = pg_b64_enc_len(len);
				char	   *out = palloc(max + 1);
				int			n;

				if (len == 0)
					return false;
				n = pg_b64_encode(VARDATA_ANY(b), len, out, max);
				if (n < 0)
					return false;
				out[n] = '\0';
				appendStringInfo(buf, "{\"B\":\"%s\"}", out);
				return true;
			}
		case DDB_VALUE_BOOL:
			appendStringInfo(buf, "{\"BOOL\":%s}", DatumGetBool(value) ? "true" : "false");
			return true;
	}
	return false;
}
