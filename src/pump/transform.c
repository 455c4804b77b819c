/*-------------------------------------------------------------------------
 *
 * transform.c
 *		Turns one DynamoDB stream record into one audit record: a JSON object
 *		on one line, terminated by "\n" (Firehose concatenates records with
 *		no delimiter; without the newline Athena would see one row per
 *		object).
 *
 * The audit record (the contract between the pump, the Glue table and the
 * FDW), fields in this order, absent ones left out:
 *
 *	event_id		the stream record's eventID (the deduplication key)
 *	event_name		INSERT | MODIFY | REMOVE
 *	event_time		ApproximateCreationDateTime as "YYYY-MM-DD HH:MM:SS.mmm"
 *					UTC (rounded to the microsecond, then truncated to the
 *					millisecond, as Python's datetime.utcfromtimestamp does)
 *	sequence_number	a string, never a number (21 to 40 digits)
 *	shard_id, source_table, aws_region	strings (null when unknown)
 *	user_identity	{"type": ..., "principal_id": ...}, only when the record
 *					has a userIdentity (TTL deletes)
 *	keys, new_image, old_image	the item's attributes, only when the stream
 *					view type delivers them
 *
 * Attribute values are unmarshalled the way boto3's TypeDeserializer does,
 * with these choices for what JSON cannot carry:
 *	- N is written as a JSON number whose text is str() of the Decimal that
 *	  TypeDeserializer returns: the exact value, never a float, with Python's
 *	  rules for exponent form ("100" stays 100, "1E2" becomes 1E+2, "1.50"
 *	  keeps its trailing zero, "0.0000001" becomes 1E-7);
 *	- SS, NS and BS become JSON arrays in the order the stream gives;
 *	- B and BS elements are base64 strings in canonical form (what
 *	  base64.b64encode gives for the bytes TypeDeserializer returns);
 *	- NULL is null, BOOL is true/false, M an object, L an array.
 *
 * Rules: pure C (json-c and malloc, no backend calls), so that the unit
 * tests run it under valgrind and the benchmark links it alone; never
 * aborts; on a bad record or out of memory the output buffer is left as it
 * was before the call.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pump/transform.h"

typedef struct TransformState
{
	AuditBuf   *out;
	char	   *errbuf;
	size_t		errlen;
} TransformState;

static bool write_image(TransformState *st, json_object *image);
static bool write_attribute_value(TransformState *st, json_object *av, int depth);
static bool write_set(TransformState *st, json_object *value, char type);
static bool write_binary(TransformState *st, json_object *value);
static bool write_event_time(AuditBuf *out, json_object *value);
static bool bad_record(TransformState *st, const char *fmt, const char *arg);
static void write_string_field(AuditBuf *out, const char *name, json_object *value);
static void write_cstring_or_null(AuditBuf *out, const char *s);

/* Nesting deeper than DynamoDB allows (32 levels) marks a bad record. */
#define MAX_ATTRIBUTE_DEPTH 64

#define APPEND_LITERAL(buf, lit) audit_buf_append((buf), (lit), sizeof(lit) - 1)

/* ---- output buffer ---- */

void
audit_buf_init(AuditBuf *buf)
{
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
	buf->oom = false;
}

void
audit_buf_free(AuditBuf *buf)
{
	free(buf->data);
	audit_buf_init(buf);
}

bool
audit_buf_reserve(AuditBuf *buf, size_t extra)
{
	size_t		need;
	size_t		cap;
	char	   *data;

	if (buf->oom)
		return false;
	need = buf->len + extra + 1;
	if (need <= buf->cap)
		return true;
	cap = buf->cap ? buf->cap : 4096;
	while (cap < need)
		cap *= 2;
	data = realloc(buf->data, cap);
	if (data == NULL)
	{
		buf->oom = true;
		return false;
	}
	buf->data = data;
	buf->cap = cap;
	return true;
}

void
audit_buf_append(AuditBuf *buf, const char *s, size_t n)
{
	if (buf->len + n + 1 > buf->cap && !audit_buf_reserve(buf, n))
		return;
	memcpy(buf->data + buf->len, s, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
}

static inline void
buf_putc(AuditBuf *buf, char c)
{
	if (buf->len + 2 > buf->cap && !audit_buf_reserve(buf, 1))
		return;
	buf->data[buf->len++] = c;
	buf->data[buf->len] = '\0';
}

/* ---- JSON strings ---- */

/*
 * Bytes that need an escape in a JSON string: the control characters, the
 * quote and the backslash.  Everything else (UTF-8 included) is copied.
 */
static const unsigned char needs_escape[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

void
audit_write_json_string(AuditBuf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		i;
	size_t		run = 0;

	/* worst case: every byte becomes \u00XX */
	if (!audit_buf_reserve(out, len * 6 + 2))
		return;
	out->data[out->len++] = '"';
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];
		char	   *p;

		if (!needs_escape[c])
			continue;
		memcpy(out->data + out->len, s + run, i - run);
		out->len += i - run;
		run = i + 1;
		p = out->data + out->len;
		switch (c)
		{
			case '"':
				p[0] = '\\';
				p[1] = '"';
				out->len += 2;
				break;
			case '\\':
				p[0] = '\\';
				p[1] = '\\';
				out->len += 2;
				break;
			case '\n':
				p[0] = '\\';
				p[1] = 'n';
				out->len += 2;
				break;
			case '\r':
				p[0] = '\\';
				p[1] = 'r';
				out->len += 2;
				break;
			case '\t':
				p[0] = '\\';
				p[1] = 't';
				out->len += 2;
				break;
			default:
				p[0] = '\\';
				p[1] = 'u';
				p[2] = '0';
				p[3] = '0';
				p[4] = hex[c >> 4];
				p[5] = hex[c & 15];
				out->len += 6;
				break;
		}
	}
	memcpy(out->data + out->len, s + run, len - run);
	out->len += len - run;
	out->data[out->len++] = '"';
	out->data[out->len] = '\0';
}

static void
write_cstring_or_null(AuditBuf *out, const char *s)
{
	if (s == NULL)
		APPEND_LITERAL(out, "null");
	else
		audit_write_json_string(out, s, strlen(s));
}

/* Writes ,"name":<string value> when value is a string, nothing otherwise. */
static void
write_string_field(AuditBuf *out, const char *name, json_object *value)
{
	if (value == NULL || !json_object_is_type(value, json_type_string))
		return;
	buf_putc(out, ',');
	audit_write_json_string(out, name, strlen(name));
	buf_putc(out, ':');
	audit_write_json_string(out, json_object_get_string(value),
							json_object_get_string_len(value));
}

/* ---- numbers ---- */

/*
 * Python's Decimal.__str__ (to-scientific-string): the coefficient without
 * leading zeros, a decimal point where the exponent puts it when the
 * exponent is not positive and the number is not too small, else one digit,
 * a point and E+/-adjusted exponent.
 */
bool
audit_write_number(AuditBuf *out, const char *text, size_t len)
{
	const char *p = text;
	const char *end = text + len;
	bool		negative = false;
	const char *int_start,
			   *int_end,
			   *frac_start = NULL,
			   *frac_end = NULL;
	int64_t		exp = 0;
	int64_t		ndigits;
	int64_t		leftdigits,
				dotplace,
				shown_exp;
	char		digits_buf[128];
	char	   *digits = digits_buf;
	int64_t		nd = 0;
	const char *q;
	char	   *w;

	if (p < end && (*p == '+' || *p == '-'))
		negative = (*p++ == '-');
	int_start = p;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	int_end = p;
	if (p < end && *p == '.')
	{
		frac_start = ++p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		frac_end = p;
	}
	if (int_end == int_start && (frac_start == NULL || frac_end == frac_start))
		return false;
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		bool		eneg = false;
		const char *estart;

		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = (*p++ == '-');
		estart = p;
		while (p < end && *p >= '0' && *p <= '9')
		{
			if (exp < 100000000)
				exp = exp * 10 + (*p - '0');
			p++;
		}
		if (p == estart)
			return false;
		if (eneg)
			exp = -exp;
	}
	if (p != end)
		return false;

	/* the coefficient: integer and fraction digits, leading zeros dropped */
	ndigits = (int_end - int_start) + (frac_start ? frac_end - frac_start : 0);
	if (ndigits > (int64_t) sizeof(digits_buf))
	{
		digits = malloc(ndigits);
		if (digits == NULL)
		{
			out->oom = true;
			return false;
		}
	}
	for (q = int_start; q < int_end; q++)
		if (nd > 0 || *q != '0')
			digits[nd++] = *q;
	if (frac_start)
	{
		for (q = frac_start; q < frac_end; q++)
			if (nd > 0 || *q != '0')
				digits[nd++] = *q;
		exp -= frac_end - frac_start;
	}
	if (nd == 0)
		digits[nd++] = '0';

	leftdigits = exp + nd;
	if (exp <= 0 && leftdigits > -6)
		dotplace = leftdigits;
	else
		dotplace = 1;
	shown_exp = leftdigits - dotplace;

	if (!audit_buf_reserve(out, nd + (dotplace < 0 ? -dotplace : dotplace) + 32))
	{
		if (digits != digits_buf)
			free(digits);
		return false;
	}
	w = out->data + out->len;
	if (negative)
		*w++ = '-';
	if (dotplace <= 0)
	{
		int64_t		i;

		*w++ = '0';
		*w++ = '.';
		for (i = 0; i < -dotplace; i++)
			*w++ = '0';
		memcpy(w, digits, nd);
		w += nd;
	}
	else if (dotplace >= nd)
	{
		int64_t		i;

		memcpy(w, digits, nd);
		w += nd;
		for (i = nd; i < dotplace; i++)
			*w++ = '0';
	}
	else
	{
		memcpy(w, digits, dotplace);
		w += dotplace;
		*w++ = '.';
		memcpy(w, digits + dotplace, nd - dotplace);
		w += nd - dotplace;
	}
	if (shown_exp != 0)
		w += sprintf(w, "E%+lld", (long long) shown_exp);
	out->len = w - out->data;
	out->data[out->len] = '\0';
	if (digits != digits_buf)
		free(digits);
	return true;
}

/* ---- binary ---- */

static const signed char b64_value[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static const char b64_chars[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * A B value arrives base64-encoded.  It is written as the canonical base64
 * of the decoded bytes: when the input already is canonical (the usual
 * case) it is copied as it is, otherwise decoded (ignoring padding, as
 * botocore's base64 decoder does not accept anything else either) and
 * encoded again.
 */
static bool
write_binary(TransformState *st, json_object *value)
{
	const unsigned char *s;
	size_t		len;
	size_t		i;
	unsigned char *bytes;
	size_t		nbytes = 0;
	uint32_t	acc = 0;
	int			bits = 0;
	size_t		datalen;
	char	   *w;

	if (value == NULL || json_object_get_type(value) != json_type_string)
		return bad_record(st, "binary attribute value is not a string", NULL);
	s = (const unsigned char *) json_object_get_string(value);
	len = json_object_get_string_len(value);

	/* strip padding, then every remaining byte must be a base64 digit */
	datalen = len;
	while (datalen > 0 && s[datalen - 1] == '=')
		datalen--;
	if (len - datalen > 2 || datalen % 4 == 1)
		return bad_record(st, "binary attribute value is not base64", NULL);
	for (i = 0; i < datalen; i++)
		if (b64_value[s[i]] < 0)
			return bad_record(st, "binary attribute value is not base64", NULL);

	/* canonical: padded to a multiple of 4 and no stray bits in the last digit */
	if (len % 4 == 0 &&
		(datalen % 4 == 0 ||
		 (datalen % 4 == 2 && (b64_value[s[datalen - 1]] & 15) == 0) ||
		 (datalen % 4 == 3 && (b64_value[s[datalen - 1]] & 3) == 0)))
	{
		audit_buf_append(st->out, "\"", 1);
		audit_buf_append(st->out, (const char *) s, len);
		audit_buf_append(st->out, "\"", 1);
		return true;
	}

	bytes = malloc(datalen * 3 / 4 + 3);
	if (bytes == NULL)
	{
		st->out->oom = true;
		return false;
	}
	for (i = 0; i < datalen; i++)
	{
		acc = (acc << 6) | (uint32_t) b64_value[s[i]];
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			bytes[nbytes++] = (unsigned char) (acc >> bits);
		}
	}
	if (!audit_buf_reserve(st->out, (nbytes + 2) / 3 * 4 + 2))
	{
		free(bytes);
		return false;
	}
	w = st->out->data + st->out->len;
	*w++ = '"';
	for (i = 0; i + 2 < nbytes; i += 3)
	{
		uint32_t	v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];

		*w++ = b64_chars[v >> 18];
		*w++ = b64_chars[(v >> 12) & 63];
		*w++ = b64_chars[(v >> 6) & 63];
		*w++ = b64_chars[v & 63];
	}
	if (nbytes - i == 1)
	{
		uint32_t	v = bytes[i] << 16;

		*w++ = b64_chars[v >> 18];
		*w++ = b64_chars[(v >> 12) & 63];
		*w++ = '=';
		*w++ = '=';
	}
	else if (nbytes - i == 2)
	{
		uint32_t	v = (bytes[i] << 16) | (bytes[i + 1] << 8);

		*w++ = b64_chars[v >> 18];
		*w++ = b64_chars[(v >> 12) & 63];
		*w++ = b64_chars[(v >> 6) & 63];
		*w++ = '=';
	}
	*w++ = '"';
	st->out->len = w - st->out->data;
	st->out->data[st->out->len] = '\0';
	free(bytes);
	return true;
}

/* ---- attribute values ---- */

static bool
bad_record(TransformState *st, const char *fmt, const char *arg)
{
	if (st->errbuf && st->errlen > 0)
		snprintf(st->errbuf, st->errlen, fmt, arg ? arg : "");
	return false;
}

/* Writes an attribute map ({"name": {"S": ...}, ...}) as a JSON object. */
static bool
write_image(TransformState *st, json_object *image)
{
	bool		first = true;
	struct lh_entry *entry;

	if (!json_object_is_type(image, json_type_object))
		return bad_record(st, "item image is not an object", NULL);
	buf_putc(st->out, '{');
	for (entry = lh_table_head(json_object_get_object(image)); entry;
		 entry = lh_entry_next(entry))
	{
		const char *name = (const char *) lh_entry_k(entry);

		if (!first)
			buf_putc(st->out, ',');
		first = false;
		audit_write_json_string(st->out, name, strlen(name));
		buf_putc(st->out, ':');
		if (!write_attribute_value(st, (json_object *) lh_entry_v(entry), 0))
			return false;
	}
	buf_putc(st->out, '}');
	return !st->out->oom;
}

/* Writes an SS, NS or BS value as a JSON array, in the stream's order. */
static bool
write_set(TransformState *st, json_object *value, char type)
{
	size_t		n,
				i;

	if (!json_object_is_type(value, json_type_array))
		return bad_record(st, "set attribute value is not an array", NULL);
	n = json_object_array_length(value);
	buf_putc(st->out, '[');
	for (i = 0; i < n; i++)
	{
		json_object *elem = json_object_array_get_idx(value, i);

		if (i > 0)
			buf_putc(st->out, ',');
		if (elem == NULL || json_object_get_type(elem) != json_type_string)
			return bad_record(st, "set element is not a string", NULL);
		if (type == 'S')
			audit_write_json_string(st->out, json_object_get_string(elem),
									json_object_get_string_len(elem));
		else if (type == 'N')
		{
			if (!audit_write_number(st->out, json_object_get_string(elem),
									json_object_get_string_len(elem)))
				return st->out->oom ? false :
					bad_record(st, "number \"%s\" is not a decimal number",
							   json_object_get_string(elem));
		}
		else if (!write_binary(st, elem))
			return false;
	}
	buf_putc(st->out, ']');
	return true;
}

/*
 * Writes one attribute value ({"S": "x"}, {"M": {...}}, ...).  The type
 * descriptor is the object's only key.
 */
static bool
write_attribute_value(TransformState *st, json_object *av, int depth)
{
	struct lh_entry *entry;
	const char *type;
	json_object *value;
	enum json_type vtype;

	if (av == NULL || json_object_get_type(av) != json_type_object)
		return bad_record(st, "attribute value is not an object", NULL);
	entry = lh_table_head(json_object_get_object(av));
	if (entry == NULL || lh_entry_next(entry) != NULL)
		return bad_record(st, "attribute value does not have exactly one type descriptor", NULL);
	if (depth > MAX_ATTRIBUTE_DEPTH)
		return bad_record(st, "attribute values nested too deeply", NULL);
	type = (const char *) lh_entry_k(entry);
	value = (json_object *) lh_entry_v(entry);
	vtype = value ? json_object_get_type(value) : json_type_null;

	switch (type[0])
	{
		case 'S':
			if (type[1] == '\0')
			{
				if (vtype != json_type_string)
					return bad_record(st, "S attribute value is not a string", NULL);
				audit_write_json_string(st->out, json_object_get_string(value),
										json_object_get_string_len(value));
				return true;
			}
			if (type[1] == 'S' && type[2] == '\0')
				return write_set(st, value, 'S');
			break;
		case 'N':
			if (type[1] == '\0')
			{
				if (vtype != json_type_string)
					return bad_record(st, "N attribute value is not a string", NULL);
				if (!audit_write_number(st->out, json_object_get_string(value),
										json_object_get_string_len(value)))
					return st->out->oom ? false :
						bad_record(st, "number \"%s\" is not a decimal number",
								   json_object_get_string(value));
				return true;
			}
			if (type[1] == 'S' && type[2] == '\0')
				return write_set(st, value, 'N');
			if (strcmp(type, "NULL") == 0)
			{
				APPEND_LITERAL(st->out, "null");
				return true;
			}
			break;
		case 'B':
			if (type[1] == '\0')
				return write_binary(st, value);
			if (type[1] == 'S' && type[2] == '\0')
				return write_set(st, value, 'B');
			if (strcmp(type, "BOOL") == 0)
			{
				if (vtype != json_type_boolean)
					return bad_record(st, "BOOL attribute value is not a boolean", NULL);
				if (json_object_get_boolean(value))
					APPEND_LITERAL(st->out, "true");
				else
					APPEND_LITERAL(st->out, "false");
				return true;
			}
			break;
		case 'M':
			if (type[1] == '\0')
			{
				bool		first = true;

				if (vtype != json_type_object)
					return bad_record(st, "M attribute value is not an object", NULL);
				buf_putc(st->out, '{');
				for (entry = lh_table_head(json_object_get_object(value)); entry;
					 entry = lh_entry_next(entry))
				{
					const char *name = (const char *) lh_entry_k(entry);

					if (!first)
						buf_putc(st->out, ',');
					first = false;
					audit_write_json_string(st->out, name, strlen(name));
					buf_putc(st->out, ':');
					if (!write_attribute_value(st, (json_object *) lh_entry_v(entry),
											   depth + 1))
						return false;
				}
				buf_putc(st->out, '}');
				return true;
			}
			break;
		case 'L':
			if (type[1] == '\0')
			{
				size_t		n,
							i;

				if (vtype != json_type_array)
					return bad_record(st, "L attribute value is not an array", NULL);
				n = json_object_array_length(value);
				buf_putc(st->out, '[');
				for (i = 0; i < n; i++)
				{
					if (i > 0)
						buf_putc(st->out, ',');
					if (!write_attribute_value(st, json_object_array_get_idx(value, i),
											   depth + 1))
						return false;
				}
				buf_putc(st->out, ']');
				return true;
			}
			break;
	}
	return bad_record(st, "unknown attribute type \"%s\"", type);
}

/* ---- event time ---- */

/*
 * Days since 1970-01-01 to a civil date (proleptic Gregorian), from Howard
 * Hinnant's chrono algorithms.
 */
static void
civil_from_days(int64_t z, int *year, int *month, int *day)
{
	int64_t		era,
				doe,
				yoe,
				doy,
				mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*day = (int) (doy - (153 * mp + 2) / 5 + 1);
	*month = (int) (mp < 10 ? mp + 3 : mp - 9);
	*year = (int) (yoe + era * 400 + (*month <= 2));
}

/*
 * ApproximateCreationDateTime (unix seconds, possibly fractional) as
 * "YYYY-MM-DD HH:MM:SS.mmm": microseconds rounded half-even from the
 * fraction, then truncated to milliseconds, as Python's
 * datetime.utcfromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3].
 */
static bool
write_event_time(AuditBuf *out, json_object *value)
{
	double		t,
				whole,
				frac;
	int64_t		secs,
				us,
				days,
				sod;
	int			year,
				month,
				day;
	char		text[64];
	int			n;

	if (value == NULL ||
		!(json_object_is_type(value, json_type_double) ||
		  json_object_is_type(value, json_type_int)))
		return false;
	t = json_object_get_double(value);
	if (!isfinite(t) || t < -62135596800.0 || t > 253402300799.0)
		return false;
	frac = modf(t, &whole);
	us = (int64_t) nearbyint(frac * 1e6);
	secs = (int64_t) whole;
	if (us >= 1000000)
	{
		secs++;
		us -= 1000000;
	}
	else if (us < 0)
	{
		secs--;
		us += 1000000;
	}
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	sod = secs - days * 86400;
	civil_from_days(days, &year, &month, &day);
	n = snprintf(text, sizeof(text), "\"%04d-%02d-%02d %02d:%02d:%02d.%03d\"",
				 year, month, day, (int) (sod / 3600), (int) (sod / 60 % 60),
				 (int) (sod % 60), (int) (us / 1000));
	audit_buf_append(out, text, n);
	return true;
}

/* ---- the record ---- */

AuditTransformResult
audit_transform_record(json_object *record, const char *shard_id,
					   const char *source_table, AuditBuf *out,
					   AuditRecordInfo *info, char *errbuf, size_t errlen)
{
	TransformState st;
	size_t		start = out->len;
	json_object *ddb,
			   *event_id,
			   *event_name,
			   *seq,
			   *region,
			   *ident,
			   *image;

	st.out = out;
	st.errbuf = errbuf;
	st.errlen = errlen;
	if (errbuf && errlen > 0)
		errbuf[0] = '\0';
	if (info)
	{
		info->keys_offset = 0;
		info->keys_len = 0;
		info->approximate_time = 0;
	}

	if (out->oom)
		return AUDIT_TRANSFORM_OUT_OF_MEMORY;
	if (record == NULL || !json_object_is_type(record, json_type_object))
	{
		bad_record(&st, "stream record is not an object", NULL);
		return AUDIT_TRANSFORM_BAD_RECORD;
	}
	if (!json_object_object_get_ex(record, "dynamodb", &ddb) ||
		!json_object_is_type(ddb, json_type_object))
	{
		bad_record(&st, "stream record has no \"dynamodb\" object", NULL);
		return AUDIT_TRANSFORM_BAD_RECORD;
	}
	if (!json_object_object_get_ex(record, "eventID", &event_id) ||
		!json_object_is_type(event_id, json_type_string))
	{
		bad_record(&st, "stream record has no eventID", NULL);
		return AUDIT_TRANSFORM_BAD_RECORD;
	}
	if (!json_object_object_get_ex(ddb, "SequenceNumber", &seq) ||
		!json_object_is_type(seq, json_type_string))
	{
		bad_record(&st, "stream record has no SequenceNumber", NULL);
		return AUDIT_TRANSFORM_BAD_RECORD;
	}
	json_object_object_get_ex(record, "eventName", &event_name);
	json_object_object_get_ex(record, "awsRegion", &region);

	APPEND_LITERAL(out, "{\"event_id\":");
	audit_write_json_string(out, json_object_get_string(event_id),
							json_object_get_string_len(event_id));
	write_string_field(out, "event_name", event_name);
	APPEND_LITERAL(out, ",\"event_time\":");
	{
		json_object *when = NULL;

		json_object_object_get_ex(ddb, "ApproximateCreationDateTime", &when);
		if (info && when)
			info->approximate_time = json_object_get_double(when);
		if (when == NULL)
			APPEND_LITERAL(out, "null");
		else if (!write_event_time(out, when))
		{
			bad_record(&st, "ApproximateCreationDateTime is not a time", NULL);
			goto fail;
		}
	}
	APPEND_LITERAL(out, ",\"sequence_number\":");
	audit_write_json_string(out, json_object_get_string(seq),
							json_object_get_string_len(seq));
	APPEND_LITERAL(out, ",\"shard_id\":");
	write_cstring_or_null(out, shard_id);
	APPEND_LITERAL(out, ",\"source_table\":");
	write_cstring_or_null(out, source_table);
	APPEND_LITERAL(out, ",\"aws_region\":");
	if (region && json_object_is_type(region, json_type_string))
		audit_write_json_string(out, json_object_get_string(region),
								json_object_get_string_len(region));
	else
		APPEND_LITERAL(out, "null");

	if (json_object_object_get_ex(record, "userIdentity", &ident) &&
		json_object_is_type(ident, json_type_object))
	{
		json_object *v;

		APPEND_LITERAL(out, ",\"user_identity\":{\"type\":");
		if (json_object_object_get_ex(ident, "Type", &v) &&
			json_object_is_type(v, json_type_string))
			audit_write_json_string(out, json_object_get_string(v),
									json_object_get_string_len(v));
		else
			APPEND_LITERAL(out, "null");
		APPEND_LITERAL(out, ",\"principal_id\":");
		if (json_object_object_get_ex(ident, "PrincipalId", &v) &&
			json_object_is_type(v, json_type_string))
			audit_write_json_string(out, json_object_get_string(v),
									json_object_get_string_len(v));
		else
			APPEND_LITERAL(out, "null");
		buf_putc(out, '}');
	}

	if (json_object_object_get_ex(ddb, "Keys", &image))
	{
		APPEND_LITERAL(out, ",\"keys\":");
		if (info)
			info->keys_offset = out->len;
		if (!write_image(&st, image))
			goto fail;
		if (info)
			info->keys_len = out->len - info->keys_offset;
	}
	if (json_object_object_get_ex(ddb, "NewImage", &image))
	{
		APPEND_LITERAL(out, ",\"new_image\":");
		if (!write_image(&st, image))
			goto fail;
	}
	if (json_object_object_get_ex(ddb, "OldImage", &image))
	{
		APPEND_LITERAL(out, ",\"old_image\":");
		if (!write_image(&st, image))
			goto fail;
	}
	APPEND_LITERAL(out, "}\n");
	if (out->oom)
		goto fail;
	return AUDIT_TRANSFORM_OK;

fail:
	if (out->oom)
	{
		/* the buffer keeps what it had; the caller decides what to do */
		if (out->data)
		{
			out->len = start;
			out->data[start] = '\0';
		}
		return AUDIT_TRANSFORM_OUT_OF_MEMORY;
	}
	out->len = start;
	out->data[start] = '\0';
	return AUDIT_TRANSFORM_BAD_RECORD;
}
