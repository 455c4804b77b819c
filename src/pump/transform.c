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
 *	event_name		INSERT | MODIFY | REMOVE, or SNAPSHOT for an item a backfill
 *					read with a Scan (audit_transform_item_text: new_image is
 *					the item, no old_image, event_time the time of the read,
 *					sequence_number "", which sorts before every stream
 *					record's, shard_id null)
 *	event_time		ApproximateCreationDateTime as "YYYY-MM-DD HH:MM:SS.mmm"
 *					UTC (rounded to the microsecond, then truncated to the
 *					millisecond, as Python's datetime.utcfromtimestamp does)
 *	sequence_number	a string, never a number (21 to 40 digits)
 *	shard_id, source_table, aws_region	strings (null when unknown)
 *	user_identity	{"type": ..., "principal_id": ...}, only when the record
 *					has a userIdentity (TTL deletes)
 *	keys			the item's key attributes
 *	key_hash		for each key attribute whose value is a string or a
 *					number: the last 8 hex digits (lower case) of the
 *					SHA-256 (FIPS 180-4) of its value's UTF-8 text, the
 *					string's content or the number's text as written in
 *					keys ({"orderId":"1f4e0a9c"}).  Firehose dynamic
 *					partitioning routes on its last digits (key buckets,
 *					see provision/delivery_stream.c); anyone can compute it
 *					again, e.g. in PostgreSQL
 *					right(encode(sha256(convert_to(v, 'UTF8')), 'hex'), 8)
 *	new_image, old_image	the item's attributes, only when the stream
 *					view type delivers them
 *	attribute_folder	only for a pipeline with attribute folders
 *					(audit_transform_set_folders), the last member: the new
 *					image's value of the top-level folder attribute (its
 *					name matched ASCII case-insensitively, as Athena's OpenX
 *					JSON SerDe reads keys) when it is a string (S) equal,
 *					byte for byte once decoded, to a declared value; "_none"
 *					when there is no new image (REMOVE, KEYS_ONLY,
 *					OLD_IMAGE) or no value or a NULL; "_other" for anything
 *					else.  Firehose dynamic partitioning routes on it (see
 *					provision/delivery_stream.c and the README's "Attribute
 *					folders")
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
 * Rules: pure C (json-c, Nettle, malloc and aws/bigalloc.c, no backend
 * calls), so that the unit tests run it under valgrind and the benchmark
 * links it alone; never aborts; on a bad record or out of memory the output
 * buffer is left as it was before the call.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#include <nettle/sha2.h>

#include "aws/bigalloc.h"
#include "pump/transform.h"

/*
 * The attribute folder of a new image (audit_transform_set_folders), found
 * by the walker that writes the image: which declared value, or one of
 * these.
 */
#define FOLDER_NONE (-2)
#define FOLDER_OTHER (-1)

typedef struct FolderMatch
{
	int			which;
} FolderMatch;

typedef struct TransformState
{
	AuditBuf   *out;
	char	   *errbuf;
	size_t		errlen;
	/* the image being written is a new image whose folder goes here */
	FolderMatch *folder;
} TransformState;

/* A pipeline's folder attribute and declared values; none when attribute is NULL */
static struct
{
	char	   *attribute;
	size_t		attribute_len;
	char	  **values;
	size_t	   *value_lens;
	int			nvalues;
}			folders;

static bool write_binary(TransformState *st, const unsigned char *s, size_t len);
static bool write_base64_digits(AuditBuf *out, const unsigned char *s, size_t datalen);
static bool write_event_time(AuditBuf *out, double t);
static bool write_event_time_parts(AuditBuf *out, int64_t secs, int64_t us);
static bool bad_record(TransformState *st, const char *fmt, const char *arg);
static void write_cstring_or_null(AuditBuf *out, const char *s);
static inline const char *find_special(const char *p, const char *end);
static bool folder_member(TransformState *st, size_t name_off, size_t value_off, char type);
static char attribute_type(const char *p, const char *end);

/* Nesting deeper than DynamoDB allows (32 levels) marks a bad record. */
#define MAX_ATTRIBUTE_DEPTH 64

#ifndef lengthof
#define lengthof(array) (sizeof(array) / sizeof((array)[0]))
#endif

#define APPEND_LITERAL(buf, lit) buf_append((buf), (lit), sizeof(lit) - 1)

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
	bigalloc_free(buf->data);
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
	/* a reader's buffer grows to megabytes: in huge pages from 128 KiB */
	data = bigalloc_realloc(buf->data, cap);
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

/*
 * audit_buf_append for the transform's own hot paths (inlined: mostly
 * literals, whose copy then compiles to a few moves)
 */
static inline __attribute__((always_inline)) void
buf_append(AuditBuf *buf, const char *s, size_t n)
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

/* ---- the audit record's own parts, written through a cursor ---- */

/*
 * The longest run of literals the audit record writes between two
 * reservations of room (transform_record's), with "null" for each value
 * that can be missing.
 */
#define HEADER_LITERALS 192

static inline char *
put_bytes(char *w, const char *s, size_t n)
{
	memcpy(w, s, n);
	return w + n;
}

#define PUT_LITERAL(w, lit) put_bytes((w), (lit), sizeof(lit) - 1)

/*
 * A C string (len bytes) as a JSON string at w, or null: copied between
 * quotes when it needs no escape (a shard id or a table name), else
 * escaped through out (w must be out's, with room for 6 * len + 6).
 */
static inline char *
put_cstring_or_null(AuditBuf *out, char *w, const char *s, size_t len)
{
	if (s == NULL)
		return PUT_LITERAL(w, "null");
	if (find_special(s, s + len) == s + len)
	{
		*w++ = '"';
		w = put_bytes(w, s, len);
		*w++ = '"';
		return w;
	}
	out->len = w - out->data;
	audit_write_json_string(out, s, len);
	return out->data + out->len;
}

static void
write_cstring_or_null(AuditBuf *out, const char *s)
{
	size_t		len = s ? strlen(s) : 0;

	if (!audit_buf_reserve(out, 6 * len + 6))
		return;
	out->len = put_cstring_or_null(out, out->data + out->len, s, len) - out->data;
	out->data[out->len] = '\0';
}

/* ---- numbers ---- */

/*
 * Copies n bytes from p to w, sixteen at a time where the input has sixteen
 * more bytes to read (w must have room for n + 16).
 */
static inline void
fast_copy(char *w, const char *p, size_t n, const char *end)
{
#ifdef __SSE2__
	if ((size_t) (end - p) >= n + 16)
	{
		for (size_t i = 0; i < n; i += 16)
			_mm_storeu_si128((__m128i *) (w + i), _mm_loadu_si128((const __m128i *) (p + i)));
		return;
	}
#endif
	memcpy(w, p, n);
}

/* The first byte at or after p that is not a decimal digit (or end). */
static inline const char *
skip_digits(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/*
	 * Eight at a time: a digit's high half is 3 and its low half plus 6
	 * stays below 16 (no carry leaves a byte, so each byte is judged
	 * alone and the lowest flagged one is the first non-digit).
	 */
	const uint64_t ones = 0x0101010101010101ULL;

	while (end - p >= 8)
	{
		uint64_t	v,
					bad;

		memcpy(&v, p, 8);
		bad = ((v & ones * 0xf0) ^ ones * 0x30) |
			(((v & ones * 0x0f) + ones * 0x06) & ones * 0x10);
		if (bad != 0)
			return p + (__builtin_ctzll(bad) >> 3);
		p += 8;
	}
#endif
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

static bool write_number(AuditBuf *out, const char *text, const char *end, bool quoted,
						 const char **stop);

/* Where a number's text may end: the end, or a quote before it (quoted). */
#define NUMBER_ENDS(p) (quoted ? (p) < end && *(p) == '"' : (p) == end)

/*
 * Python's Decimal.__str__ (to-scientific-string): the coefficient without
 * leading zeros, a decimal point where the exponent puts it when the
 * exponent is not positive and the number is not too small, else one digit,
 * a point and E+/-adjusted exponent.
 */
bool
audit_write_number(AuditBuf *out, const char *text, size_t len)
{
	const char *stop;

	return write_number(out, text, text + len, false, &stop);
}

/*
 * Writes digits from to upto of a coefficient whose na digits at a are
 * followed by nb at b (both in the text, which ends at end); returns the
 * place after them.  w has room for sixteen bytes more.
 */
static inline char *
put_digits(char *w, const char *a, int64_t na, const char *b, int64_t nb,
		   int64_t from, int64_t upto, const char *end)
{
	if (from < na)
	{
		int64_t		n = (upto < na ? upto : na) - from;

		fast_copy(w, a + from, n, end);
		w += n;
		from += n;
	}
	if (from < upto)
	{
		fast_copy(w, b + (from - na), upto - from, end);
		w += upto - from;
	}
	return w;
}

/*
 * Writes a number's exponent at w: "E", the sign, the digits (what
 * sprintf("E%+lld") writes); returns the place after it.
 */
static inline char *
put_exponent(char *w, int64_t exponent)
{
	char		rev[24];
	int			n = 0;
	uint64_t	u = exponent < 0 ? -(uint64_t) exponent : (uint64_t) exponent;

	*w++ = 'E';
	*w++ = exponent < 0 ? '-' : '+';
	do
	{
		rev[n++] = '0' + (char) (u % 10);
		u /= 10;
	} while (u > 0);
	while (n > 0)
		*w++ = rev[--n];
	return w;
}

#if defined(__SSE2__) && defined(__GNUC__)
/*
 * The value of the n decimal digits at p (1 to 8; eight bytes are read):
 * the bytes after the n are shifted out, and the classic SWAR reduction
 * adds pairs, then fours, then the eight.
 */
static inline uint32_t
digits_value(const char *p, int n)
{
	uint64_t	v;

	memcpy(&v, p, 8);
	v = (v & 0x0f0f0f0f0f0f0f0fULL) << (8 * (8 - n));
	v = (v * 2561) >> 8;
	v = ((v & 0x00ff00ff00ff00ffULL) * 6553601) >> 16;
	return (uint32_t) (((v & 0x0000ffff0000ffffULL) * 42949672960001ULL) >> 32);
}

/* Copies 48 bytes from p to w. */
static inline void
copy48(char *w, const char *p)
{
	__m128i		a = _mm_loadu_si128((const __m128i *) p);
	__m128i		b = _mm_loadu_si128((const __m128i *) (p + 16));
	__m128i		c = _mm_loadu_si128((const __m128i *) (p + 32));

	_mm_storeu_si128((__m128i *) w, a);
	_mm_storeu_si128((__m128i *) (w + 16), b);
	_mm_storeu_si128((__m128i *) (w + 32), c);
}

/* The bytes of the 48 in v equal to c, a bit each. */
static inline uint64_t
bytes_equal(const __m128i v[3], char c)
{
	__m128i		k = _mm_set1_epi8(c);

	return (uint64_t) (uint16_t) _mm_movemask_epi8(_mm_cmpeq_epi8(v[0], k)) |
		(uint64_t) (uint16_t) _mm_movemask_epi8(_mm_cmpeq_epi8(v[1], k)) << 16 |
		(uint64_t) (uint16_t) _mm_movemask_epi8(_mm_cmpeq_epi8(v[2], k)) << 32;
}

/* The bytes of the 48 in v equal to the letter c in either case, a bit each. */
static inline uint64_t
bytes_equal_lower(const __m128i v[3], char c)
{
	__m128i		lower = _mm_set1_epi8(0x20);
	__m128i		w[3] = {_mm_or_si128(v[0], lower), _mm_or_si128(v[1], lower), _mm_or_si128(v[2], lower)};

	return bytes_equal(w, c);
}

/* The decimal digits of the 48 bytes in v, a bit each. */
static inline uint64_t
bytes_digits(const __m128i v[3])
{
	__m128i		zero = _mm_set1_epi8('0');
	__m128i		nine = _mm_set1_epi8(9);
	__m128i		t[3] = {_mm_sub_epi8(v[0], zero), _mm_sub_epi8(v[1], zero), _mm_sub_epi8(v[2], zero)};

	return (uint64_t) (uint16_t) _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(t[0], nine), t[0])) |
		(uint64_t) (uint16_t) _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(t[1], nine), t[1])) << 16 |
		(uint64_t) (uint16_t) _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(t[2], nine), t[2])) << 32;
}

/*
 * write_number of a quoted number, when 96 bytes can be read at text and
 * the output has room for 160 more: true when it was written; false when
 * the text is not one this path takes, which is then left to write_number's
 * reading byte by byte (it takes every form and says which are wrong).
 *
 * The first 48 bytes are classified at once, a bit a byte for the quote,
 * digits, zeros, points, exponent letters and signs, and the number's form
 * is read from the masks; the digits are then moved by three 48-byte
 * copies.  A number's form in a stream is anyone's (exponents of either
 * case, leading zeros, fractions), so branching on it byte by byte
 * mispredicts at almost every number; this path's branches are few.  Left
 * to write_number: a text of 48 bytes or more, zero (no significant digit)
 * and an exponent of more than eight digits.
 */
static inline bool
write_number_masked(AuditBuf *out, const char *text, const char **stop)
{
	__m128i		v[3];
	uint64_t	quotes,
				len_mask,
				digits,
				points,
				exps,
				signs,
				allowed,
				mant,
				mant_digits,
				significant;
	int			q,
				epos,
				point,
				first,
				n1,
				s2,
				nd,
				nfrac,
				k;
	int64_t		exp = 0,
				leftdigits,
				dotplace,
				shown_exp;
	bool		negative;
	char	   *w;

	v[0] = _mm_loadu_si128((const __m128i *) text);
	v[1] = _mm_loadu_si128((const __m128i *) (text + 16));
	v[2] = _mm_loadu_si128((const __m128i *) (text + 32));
	quotes = bytes_equal(v, '"');
	if (quotes == 0)
		return false;
	q = __builtin_ctzll(quotes);
	if (q == 0)
		return false;
	len_mask = (1ULL << q) - 1;
	digits = bytes_digits(v) & len_mask;
	points = bytes_equal(v, '.') & len_mask;
	exps = bytes_equal_lower(v, 'e') & len_mask;
	signs = (bytes_equal(v, '-') | bytes_equal(v, '+')) & len_mask;
	if ((exps & (exps - 1)) != 0 || (points & (points - 1)) != 0)
		return false;
	epos = exps ? __builtin_ctzll(exps) : q;
	/* a sign first, and one just after the exponent letter */
	allowed = (signs & 1) | (signs & (exps << 1));
	if ((len_mask & ~(digits | points | exps | allowed)) != 0)
		return false;
	mant = (1ULL << epos) - 1 - (signs & 1);
	if ((points & ~mant) != 0)
		return false;
	mant_digits = digits & mant;
	significant = mant_digits & ~bytes_equal(v, '0');
	if (significant == 0)
		return false;
	if (exps)
	{
		int			from = epos + 1 + (int) ((allowed >> (epos + 1)) & 1);
		int			n = q - from;

		if (n < 1 || n > 8)
			return false;
		exp = digits_value(text + from, n);
		if (text[epos + 1] == '-')
			exp = -exp;
	}
	negative = text[0] == '-';
	point = points ? __builtin_ctzll(points) : epos;
	first = __builtin_ctzll(significant);
	/* every byte of the mantissa is a digit but the point (the masks say) */
	nd = epos - first - (point > first && points != 0);
	nfrac = points ? epos - point - 1 : 0;

	exp -= nfrac;
	leftdigits = exp + nd;
	dotplace = exp <= 0 && leftdigits > -6 ? leftdigits : 1;
	shown_exp = leftdigits - dotplace;

	/*
	 * The coefficient's digits are the text's from first to the point (n1
	 * of them) and from s2 to the exponent; written with a point after k of
	 * them (none when k is nd), by three copies that each write past the
	 * next one's start: the first run, then what follows the point's place
	 * in the output, then the second run's part after that (when the point
	 * falls in the first run: the rest of it, then the second run shifted
	 * by one; else the second run, then its part after the point).
	 */
	n1 = point > first ? point - first : 0;
	s2 = point + 1 > first ? point + 1 : first;
	k = dotplace > 0 && dotplace < nd ? (int) dotplace : nd;
	w = out->data + out->len;
	*w = '-';
	w += negative;
	memcpy(w, "0.000000", 8);
	w += dotplace <= 0 ? 2 - dotplace : 0;
	copy48(w, text + first);
	if (k < n1)
	{
		copy48(w + k + 1, text + first + k);
		w[k] = '.';
		copy48(w + n1 + 1, text + s2);
	}
	else
	{
		copy48(w + n1, text + s2);
		w[k] = '.';
		copy48(w + k + 1, text + s2 + (k - n1));
	}
	w += nd + (k < nd);
	if (shown_exp != 0)
		w = put_exponent(w, shown_exp);
	out->len = w - out->data;
	out->data[out->len] = '\0';
	*stop = text + q;
	return true;
}
#endif

/*
 * audit_write_number of the text at text: all of it up to end, or (quoted)
 * up to a quote before end, whose place goes to *stop.
 */
static bool
write_number(AuditBuf *out, const char *text, const char *end, bool quoted,
			 const char **stop)
{
	const char *p = text;
	bool		negative = false;
	const char *int_start,
			   *int_end,
			   *frac_start = NULL,
			   *frac_end = NULL;
	int64_t		exp = 0;
	int64_t		leftdigits,
				dotplace,
				shown_exp;
	const char *a,
			   *b;
	int64_t		na,
				nb,
				nd;
	char	   *w;

#if defined(__SSE2__) && defined(__GNUC__)
	if (quoted && out->cap - out->len >= 160)
	{
		if (end - text >= 96)
		{
			if (write_number_masked(out, text, stop))
				return true;
		}
		else
		{
			/* near the end: its bytes, then zeros, where 96 can be read */
			char		pad[96] = {0};
			const char *padstop;

			memcpy(pad, text, end - text);
			if (write_number_masked(out, pad, &padstop))
			{
				*stop = text + (padstop - pad);
				return true;
			}
		}
	}
#endif
	if (p < end && (*p == '+' || *p == '-'))
		negative = (*p++ == '-');
	int_start = p;
	p = skip_digits(p, end);
	int_end = p;
	if (p < end && *p == '.')
	{
		frac_start = ++p;
		p = skip_digits(p, end);
		frac_end = p;
	}
	if (int_end == int_start && (frac_start == NULL || frac_end == frac_start))
		return false;
	if (NUMBER_ENDS(p) && text[0] != '+' && int_end > int_start && *int_start != '0' &&
		(frac_start == NULL || frac_end > frac_start))
	{
		/*
		 * The common case: no exponent, an integer part without leading
		 * zeros and digits after any point.  Decimal writes that as it is.
		 */
		size_t		n = p - text;

		*stop = p;
		if (out->len + n + 17 > out->cap && !audit_buf_reserve(out, n + 16))
			return false;
		fast_copy(out->data + out->len, text, n, end);
		out->len += n;
		out->data[out->len] = '\0';
		return true;
	}
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
	if (!NUMBER_ENDS(p))
		return false;
	*stop = p;

	/*
	 * The coefficient: the integer digits after their leading zeros (a, na
	 * of them), then the fraction digits (b; their leading zeros too when
	 * no integer digit is left), read where they are in the text.
	 */
	for (a = int_start; a < int_end && *a == '0'; a++)
		;
	na = int_end - a;
	b = frac_start ? frac_start : int_end;
	nb = frac_start ? frac_end - frac_start : 0;
	if (frac_start)
	{
		exp -= nb;
		if (na == 0)
			for (; nb > 0 && *b == '0'; b++, nb--)
				;
	}
	if (na + nb == 0)
	{
		/* zero: one of its zeros (there is at least one digit) */
		a = frac_start && frac_end > frac_start ? frac_end - 1 : int_end - 1;
		na = 1;
	}
	nd = na + nb;

	leftdigits = exp + nd;
	if (exp <= 0 && leftdigits > -6)
		dotplace = leftdigits;
	else
		dotplace = 1;
	shown_exp = leftdigits - dotplace;

	/* room for the digits, five zeros, sign, point, exponent, and copy slack */
	if (out->len + nd + 64 > out->cap && !audit_buf_reserve(out, nd + 63))
		return false;
	w = out->data + out->len;
	if (negative)
		*w++ = '-';
	if (dotplace <= 0)
	{
		/* 0.000ddd: at most five zeros (leftdigits > -6) */
		memcpy(w, "0.00000", 7);
		w += 2 - dotplace;
		w = put_digits(w, a, na, b, nb, 0, nd, end);
	}
	else if (dotplace >= nd)
	{
		/* the digits and no point (dotplace is nd then: no zeros follow) */
		w = put_digits(w, a, na, b, nb, 0, nd, end);
	}
	else
	{
		w = put_digits(w, a, na, b, nb, 0, dotplace, end);
		*w++ = '.';
		w = put_digits(w, a, na, b, nb, dotplace, nd, end);
	}
	if (shown_exp != 0)
		w = put_exponent(w, shown_exp);
	out->len = w - out->data;
	out->data[out->len] = '\0';
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
 * case) it is copied as it is, otherwise decoded (padding may be missing)
 * and encoded again.
 */
static bool
write_binary(TransformState *st, const unsigned char *s, size_t len)
{
	size_t		i;
	size_t		datalen;

	/* strip padding, then every remaining byte must be a base64 digit */
	datalen = len;
	while (datalen > 0 && s[datalen - 1] == '=')
		datalen--;
	if (len - datalen > 2 || datalen % 4 == 1)
		return bad_record(st, "binary attribute value is not base64", NULL);
	{
		/* a non-digit's value is -1: one test after the loop */
		int			all = 0;

		for (i = 0; i < datalen; i++)
			all |= b64_value[s[i]];
		if (all < 0)
			return bad_record(st, "binary attribute value is not base64", NULL);
	}

	return write_base64_digits(st->out, s, datalen);
}

/*
 * datalen base64 digits (none missing at the end: datalen % 4 is not 1)
 * as a JSON string: what base64.b64encode gives for the bytes they encode,
 * the same digits, the last one without the bits that fall outside a whole
 * byte, padded to a multiple of 4 (no bytes buffer: re-encoding only
 * touches the end).
 */
static bool
write_base64_digits(AuditBuf *out, const unsigned char *s, size_t datalen)
{
	char	   *w;

	if (out->len + datalen + 5 > out->cap && !audit_buf_reserve(out, datalen + 4))
		return false;
	w = out->data + out->len;
	*w++ = '"';
	if (datalen % 4 == 0)
	{
		memcpy(w, s, datalen);
		w += datalen;
	}
	else
	{
		/* 2 digits carry one byte (the last keeps 2 bits), 3 carry two (4) */
		int			keep = datalen % 4 == 2 ? 0x30 : 0x3c;

		memcpy(w, s, datalen - 1);
		w += datalen - 1;
		*w++ = b64_chars[b64_value[s[datalen - 1]] & keep];
		*w++ = '=';
		if (datalen % 4 == 2)
			*w++ = '=';
	}
	*w++ = '"';
	out->len = w - out->data;
	out->data[out->len] = '\0';
	return true;
}

/* ---- errors ---- */

static bool
bad_record(TransformState *st, const char *fmt, const char *arg)
{
	if (st->errbuf && st->errlen > 0)
		snprintf(st->errbuf, st->errlen, fmt, arg ? arg : "");
	return false;
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
write_event_time(AuditBuf *out, double t)
{
	double		whole,
				frac;
	int64_t		secs,
				us;

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
	return write_event_time_parts(out, secs, us);
}

/* The event time of whole seconds secs and us microseconds (0 to 999999). */
static bool
write_event_time_parts(AuditBuf *out, int64_t secs, int64_t us)
{
	int64_t		days,
				sod;
	int			year,
				month,
				day;
	char		text[64];
	int			n;

	/* the date of the last call's day again, or worked out (exact either way) */
	static int64_t cached_days = INT64_MIN;
	static char cached_date[12];

	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	sod = secs - days * 86400;
	if (days != cached_days)
	{
		char	   *d = cached_date;

		civil_from_days(days, &year, &month, &day);
		if (year < 0 || year > 9999)
			return false;
		*d++ = '"';
		*d++ = '0' + year / 1000;
		*d++ = '0' + year / 100 % 10;
		*d++ = '0' + year / 10 % 10;
		*d++ = '0' + year % 10;
		*d++ = '-';
		*d++ = '0' + month / 10;
		*d++ = '0' + month % 10;
		*d++ = '-';
		*d++ = '0' + day / 10;
		*d++ = '0' + day % 10;
		*d++ = ' ';
		cached_days = days;
	}
	{
		int			hh = (int) (sod / 3600),
					mi = (int) (sod / 60 % 60),
					ss = (int) (sod % 60),
					ms = (int) (us / 1000);
		char	   *w = text;

		memcpy(w, cached_date, 12);
		w += 12;
		*w++ = '0' + hh / 10;
		*w++ = '0' + hh % 10;
		*w++ = ':';
		*w++ = '0' + mi / 10;
		*w++ = '0' + mi % 10;
		*w++ = ':';
		*w++ = '0' + ss / 10;
		*w++ = '0' + ss % 10;
		*w++ = '.';
		*w++ = '0' + ms / 100;
		*w++ = '0' + ms / 10 % 10;
		*w++ = '0' + ms % 10;
		*w++ = '"';
		n = (int) (w - text);
	}
	audit_buf_append(out, text, n);
	return true;
}

/* ---- reading the stream record's JSON text ---- */

/*
 * The transform reads the stream record's JSON text directly: one pass, no
 * tree, strings copied as they are written (a JSON string literal is valid
 * in the output as it is in the input), only N and B values and type
 * descriptors decoded when they hold escapes.
 */
typedef struct Scan
{
	const char *p;
	const char *end;
} Scan;

/*
 * The images are transformed while the record is read, before the fields
 * that go ahead of them in the audit record are known: they wait here (one
 * buffer, reused by every call; the transform is not reentrant).
 */
static AuditBuf scratch;

/* A JSON value in the input: strings by their content, the rest whole. */
typedef struct Span
{
	const char *p;
	size_t		len;
	bool		escaped;		/* a string with backslash escapes */
} Span;

static inline void
skip_ws(Scan *s)
{
	/* compact JSON (what AWS writes) has none: one test */
	if (s->p < s->end && (unsigned char) *s->p > ' ')
		return;
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

static inline bool
expect(Scan *s, char c)
{
	/* compact JSON first: the character itself */
	if (s->p < s->end && *s->p == c)
	{
		s->p++;
		return true;
	}
	skip_ws(s);
	if (s->p < s->end && *s->p == c)
	{
		s->p++;
		return true;
	}
	return false;
}

static inline bool
peek_is(Scan *s, char c)
{
	skip_ws(s);
	return s->p < s->end && *s->p == c;
}

static inline int
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

#ifdef __SSE2__
/* A bit for each of 16 bytes that is a quote, a backslash or a control character. */
static inline unsigned int
special_mask(__m128i v)
{
	__m128i		hit = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
								   _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));

	hit = _mm_or_si128(hit, _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v));
	return (unsigned int) _mm_movemask_epi8(hit);
}
#endif

/*
 * The first byte at or after p that is a quote, a backslash or a control
 * character; end when there is none.  Sixteen bytes at
 * a time with SSE2 (x86-64's baseline), then eight with bit tricks: their
 * lowest flagged byte is always a real match (a borrow only flags bytes
 * above one), so neither needs a second look at the bytes.
 */
static inline const char *
find_special(const char *p, const char *end)
{
#ifdef __SSE2__
	while (end - p >= 16)
	{
		unsigned int mask = special_mask(_mm_loadu_si128((const __m128i *) p));

		if (mask != 0)
			return p + __builtin_ctz(mask);
		p += 16;
	}
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	{
		const uint64_t ones = 0x0101010101010101ULL;
		const uint64_t highs = 0x8080808080808080ULL;

		while (end - p >= 8)
		{
			uint64_t	v,
						q,
						b,
						hit;

			memcpy(&v, p, 8);
			q = v ^ (ones * '"');
			b = v ^ (ones * '\\');
			hit = ((q - ones) & ~q) | ((b - ones) & ~b);
			hit |= (v - ones * 0x20) & ~v;
			hit &= highs;
			if (hit != 0)
				return p + (__builtin_ctzll(hit) >> 3);
			p += 8;
		}
	}
#endif
	while (p < end && !needs_escape[(unsigned char) *p])
		p++;
	return p;
}

/*
 * The length of the escape sequence at p (a backslash): 2, or 6 for \\uXXXX;
 * 0 when it is not one JSON allows.
 */
static inline size_t
escape_length(const char *p, const char *end)
{
	/* by the byte after the backslash: 2, 6 for \\u, 0 for none */
	static const unsigned char length[256] = {
		['"'] = 2, ['\\'] = 2, ['/'] = 2, ['b'] = 2, ['f'] = 2,
		['n'] = 2, ['r'] = 2, ['t'] = 2, ['u'] = 6,
	};
	size_t		n;

	if (end - p < 2)
		return 0;
	n = length[(unsigned char) p[1]];
	if (n == 6 && (end - p < 6 || hexval(p[2]) < 0 || hexval(p[3]) < 0 ||
				   hexval(p[4]) < 0 || hexval(p[5]) < 0))
		return 0;
	return n;
}

/* A string literal; span gets its content (without the quotes). */
static bool
scan_string(Scan *s, Span *span)
{
	const char *p;
	size_t		n;

	skip_ws(s);
	if (s->p >= s->end || *s->p != '"')
		return false;
	p = ++s->p;
	span->p = p;
	span->escaped = false;
	for (;;)
	{
		unsigned char c;

		/* the common bytes, fast */
		p = find_special(p, s->end);
		if (p >= s->end)
			return false;
		c = (unsigned char) *p;
		if (c == '"')
			break;
		if (c != '\\')
			return false;		/* a raw control character */
		span->escaped = true;
		n = escape_length(p, s->end);
		if (n == 0)
			return false;
		p += n;
	}
	span->len = p - span->p;
	s->p = p + 1;
	return true;
}

/* A place in the input and one in the output, passed and returned together. */
typedef struct FastPos
{
	const char *p;				/* NULL: given up */
	char	   *w;
} FastPos;

/* Bit masks of 64 bytes of a string literal, a bit a byte. */
typedef struct EscapeMasks
{
	uint64_t	quote,
				backslash,
				control,		/* below 0x20 */
				valid,			/* one of "/\\bfnrtu */
				letter_u,
				hex;			/* a hex digit */
} EscapeMasks;

/*
 * The verdict of escaped_literal_end from the masks of its 64 bytes: the
 * closing quote's place, or -1.
 */
static inline int
escaped_literal_verdict(const EscapeMasks *m)
{
	const uint64_t odd_bits = 0xAAAAAAAAAAAAAAAAULL;
	uint64_t	escaped,
				real_quote,
				upto,
				u,
				hex_places;

	escaped = ((((m->backslash << 1) | odd_bits) - m->backslash) ^ odd_bits) ^ m->backslash;
	real_quote = m->quote & ~escaped;
	if (real_quote == 0)
		return -1;
	upto = real_quote ^ (real_quote - 1);	/* up to the first, included */
	u = escaped & m->letter_u;
	hex_places = (u << 1) | (u << 2) | (u << 3) | (u << 4);
	if (((m->control | (escaped & ~m->valid) | (hex_places & ~m->hex)) & upto) != 0)
		return -1;
	return __builtin_ctzll(real_quote);
}

#ifdef __SSE2__
/*
 * For a string literal whose first escape is at p (a backslash that is not
 * itself escaped), with 64 bytes to read there, copied to w: the place of
 * its closing quote when it is among them and every escape before it is
 * one JSON allows, -1 otherwise (the byte-by-byte reader then goes on from
 * p).  The escapes are checked together, from bit masks of the 64 bytes,
 * instead of one at a time: a byte is escaped when an odd run of
 * backslashes ends just before it (simdjson's carry trick, with no run
 * coming in); the first quote not escaped ends the string; before it no
 * raw control character, every escaped byte one of "\/bfnrtu, and the
 * four bytes after an escaped u hex digits.  (Where that reading could part
 * from the one-at-a-time reading, inside a \u's four bytes, a byte that is
 * not a hex digit makes it give up.)
 */
static inline int
escaped_literal_end_sse2(const char *p, char *w)
{
#define BYTES_EQ(x, ch) _mm_cmpeq_epi8((x), _mm_set1_epi8(ch))
#define BYTES_IN(x, lo, n) \
	_mm_cmplt_epi8(_mm_add_epi8((x), _mm_set1_epi8((char) (0x80 - (lo)))), \
				   _mm_set1_epi8((char) (-128 + (n))))
#define MASK64(m) ((uint64_t) (unsigned int) _mm_movemask_epi8(m) << (16 * i))
	EscapeMasks m = {0};

	for (int i = 0; i < 4; i++)
	{
		__m128i		x = _mm_loadu_si128((const __m128i *) (p + 16 * i));
		__m128i		lower = _mm_or_si128(x, _mm_set1_epi8(0x20));
		__m128i		is_u = BYTES_EQ(x, 'u');

		_mm_storeu_si128((__m128i *) (w + 16 * i), x);
		m.quote |= MASK64(BYTES_EQ(x, '"'));
		m.backslash |= MASK64(BYTES_EQ(x, '\\'));
		m.control |= MASK64(_mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x));
		m.valid |= MASK64(_mm_or_si128(
			_mm_or_si128(_mm_or_si128(BYTES_EQ(x, '"'), BYTES_EQ(x, '\\')),
						 _mm_or_si128(BYTES_EQ(x, '/'), BYTES_EQ(x, 'b'))),
			_mm_or_si128(_mm_or_si128(BYTES_EQ(x, 'f'), BYTES_EQ(x, 'n')),
						 _mm_or_si128(_mm_or_si128(BYTES_EQ(x, 'r'), BYTES_EQ(x, 't')),
									  is_u))));
		m.letter_u |= MASK64(is_u);
		m.hex |= MASK64(_mm_or_si128(BYTES_IN(x, '0', 10), BYTES_IN(lower, 'a', 6)));
	}
#undef BYTES_EQ
#undef BYTES_IN
#undef MASK64
	return escaped_literal_verdict(&m);
}

#if defined(__GNUC__) && defined(__x86_64__)
/*
 * escaped_literal_end_sse2 with AVX2, where the processor has it: 32 bytes
 * at a time, and the escape letters and hex digits found by their two
 * halves in a table (vpshufb) instead of a compare each.
 */
__attribute__((target("avx2")))
static int
escaped_literal_end_avx2(const char *p, char *w)
{

	/*
	 * By a byte's low half and high half, bits that meet (AND not 0) for
	 * the escape letters "/\bfnrtu (high halves 2, 5, 6, 7: bits 1, 2, 4,
	 * 8) and for the hex digits (high half 3: bit 1; 4 and 6: bit 2).
	 */
	const __m256i letter_low = _mm256_setr_epi8(
		0, 0, 1 | 4 | 8, 0, 8, 8, 4, 0, 0, 0, 0, 0, 2, 0, 4, 1,
		0, 0, 1 | 4 | 8, 0, 8, 8, 4, 0, 0, 0, 0, 0, 2, 0, 4, 1);
	const __m256i letter_high = _mm256_setr_epi8(
		0, 0, 1, 0, 0, 2, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 1, 0, 0, 2, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0);
	const __m256i hex_low = _mm256_setr_epi8(
		1, 3, 3, 3, 3, 3, 3, 1, 1, 1, 0, 0, 0, 0, 0, 0,
		1, 3, 3, 3, 3, 3, 3, 1, 1, 1, 0, 0, 0, 0, 0, 0);
	const __m256i hex_high = _mm256_setr_epi8(
		0, 0, 0, 1, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 1, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	const __m256i nibble = _mm256_set1_epi8(0x0f);
	const __m256i zero = _mm256_setzero_si256();
	EscapeMasks m = {0};

	for (int i = 0; i < 2; i++)
	{
		__m256i		x = _mm256_loadu_si256((const __m256i *) (p + 32 * i));
		__m256i		low = _mm256_and_si256(x, nibble);
		__m256i		high = _mm256_and_si256(_mm256_srli_epi16(x, 4), nibble);
		__m256i		is_letter = _mm256_and_si256(_mm256_shuffle_epi8(letter_low, low),
												 _mm256_shuffle_epi8(letter_high, high));
		__m256i		is_hex = _mm256_and_si256(_mm256_shuffle_epi8(hex_low, low),
											  _mm256_shuffle_epi8(hex_high, high));

#define MASK64(m) ((uint64_t) (uint32_t) _mm256_movemask_epi8(m) << (32 * i))
#define NOT_MASK64(m) ((uint64_t) (uint32_t) ~_mm256_movemask_epi8(m) << (32 * i))
		_mm256_storeu_si256((__m256i *) (w + 32 * i), x);
		m.quote |= MASK64(_mm256_cmpeq_epi8(x, _mm256_set1_epi8('"')));
		m.backslash |= MASK64(_mm256_cmpeq_epi8(x, _mm256_set1_epi8('\\')));
		m.control |= MASK64(_mm256_cmpeq_epi8(_mm256_min_epu8(x, _mm256_set1_epi8(0x1f)), x));
		m.valid |= NOT_MASK64(_mm256_cmpeq_epi8(is_letter, zero));
		m.letter_u |= MASK64(_mm256_cmpeq_epi8(x, _mm256_set1_epi8('u')));
		m.hex |= NOT_MASK64(_mm256_cmpeq_epi8(is_hex, zero));
#undef MASK64
#undef NOT_MASK64
	}
	return escaped_literal_verdict(&m);
}
#endif

bool		audit_transform_avx2 = true;

/*
 * escaped_literal_end_sse2, or its AVX2 form where the processor has it
 * (and audit_transform_avx2 allows it)
 */
static inline int
escaped_literal_end(const char *p, char *w)
{
#if defined(__GNUC__) && defined(__x86_64__)
	static int	have_avx2 = -1;

	if (have_avx2 < 0)
		have_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
	if (have_avx2 && audit_transform_avx2)
		return escaped_literal_end_avx2(p, w);
#endif
	return escaped_literal_end_sse2(p, w);
}
#endif

/*
 * Copies the string literal at p (its opening quote) to w as it is written,
 * quotes included (a JSON string literal is valid in the output as it is in
 * the input): scanning and copying in one pass, escapes checked, not
 * decoded.  w must have room for the rest of the input, so the bytes stored
 * at once (16, 32 or 64, each only where as many are left to read) stay
 * inside it.  p NULL when it is not a string literal.
 */
static inline __attribute__((always_inline)) FastPos
copy_literal(const char *p, const char *end, char *w)
{
	*w++ = '"';
	p++;
#ifdef __SSE2__

	/*
	 * Most strings end within 32 bytes with no escape: their first special
	 * byte among 32 is the closing quote.  One test for that, whatever the
	 * string's length, where the loop below branches on whether it ends
	 * within 16 bytes and then on what it stopped at.  Otherwise the loop
	 * goes on from the first special byte, or after the 32 when there is
	 * none: what was copied is not copied again.
	 */
	if (end - p >= 32)
	{
		__m128i		a = _mm_loadu_si128((const __m128i *) p);
		__m128i		b = _mm_loadu_si128((const __m128i *) (p + 16));
		uint32_t	special = special_mask(a) | special_mask(b) << 16;
		int			at = special != 0 ? __builtin_ctz(special) : 32;

		_mm_storeu_si128((__m128i *) w, a);
		_mm_storeu_si128((__m128i *) (w + 16), b);
		p += at;
		w += at;
		/* the quote is among the bytes copied */
		if (special != 0 && *p == '"')
			return (FastPos) {p + 1, w + 1};
	}
#endif
	for (;;)
	{
		size_t		n;

#ifdef __SSE2__
		while (end - p >= 16)
		{
			__m128i		v = _mm_loadu_si128((const __m128i *) p);
			unsigned int mask = special_mask(v);

			_mm_storeu_si128((__m128i *) w, v);
			if (mask != 0)
			{
				n = __builtin_ctz(mask);
				p += n;
				w += n;
				goto special;
			}
			p += 16;
			w += 16;
		}
#endif
		while (p < end && !needs_escape[(unsigned char) *p])
			*w++ = *p++;
#ifdef __SSE2__
special:
#endif
		/* the closing quote, an escape, or a raw control character */
		if (p >= end || *p != '\\')
			break;
#ifdef __SSE2__
		if (end - p >= 64)
		{
			int			at = escaped_literal_end(p, w);

			if (at >= 0)
			{
				p += at;
				w += at;
				break;
			}
		}
#endif
		n = escape_length(p, end);
		if (n == 0)
			return (FastPos) {NULL, w};
		if (n == 2)
		{
			w[0] = p[0];
			w[1] = p[1];
		}
		else
			memcpy(w, p, 6);
		w += n;
		p += n;
	}
	if (p >= end || *p != '"')
		return (FastPos) {NULL, w};
	*w++ = '"';
	return (FastPos) {p + 1, w};
}

/*
 * How far copy_literal is given to read from the literal at p: its output
 * needs room for as many bytes as it may read, and a record's strings are
 * short while the rest of a GetRecords page is a megabyte, which would make
 * a buffer of one record's images a megabyte too.  So the first window is
 * LITERAL_WINDOW bytes; a literal not closed within it (or malformed) fails
 * there and is copied again within a window 4 times larger, up to the
 * rest of the input: the room asked for is at most 4 times the string's
 * length, not the page's, and a long string is read again at most a third
 * of its length.
 */
#define LITERAL_WINDOW 4096
#define LITERAL_WINDOW_GROWTH 4

static inline const char *
literal_window_end(const char *p, const char *end, size_t window)
{
	return (size_t) (end - p) > window ? p + window : end;
}

/*
 * Reads a string literal and appends it to out as it is written, quotes
 * included.  False when it is not a string literal; out may then hold part
 * of it (the record fails).
 */
static bool
copy_string(Scan *s, AuditBuf *out)
{
	const char *end = s->end;
	const char *stop;
	FastPos		r;

	skip_ws(s);
	if (s->p >= end || *s->p != '"')
		return false;
	/* as fast_string: within windows of the input (literal_window_end) */
	for (size_t window = LITERAL_WINDOW;; window *= LITERAL_WINDOW_GROWTH)
	{
		stop = literal_window_end(s->p, end, window);
		if (!audit_buf_reserve(out, stop - s->p + 1))
			return false;
		r = copy_literal(s->p, stop, out->data + out->len);
		if (r.p != NULL || stop == end)
			break;
	}
	if (r.p == NULL)
		return false;
	out->len = r.w - out->data;
	out->data[out->len] = '\0';
	s->p = r.p;
	return true;
}

/*
 * The content of a string span as UTF-8, escapes decoded, into buf (cap
 * bytes, NUL-terminated); false when it does not fit or is malformed.
 */
static bool
unescape(const Span *span, char *buf, size_t cap, size_t *outlen)
{
	const char *p = span->p;
	const char *end = span->p + span->len;
	size_t		n = 0;

	while (p < end)
	{
		unsigned int cp;

		if (n + 5 > cap)
			return false;
		if (*p != '\\')
		{
			buf[n++] = *p++;
			continue;
		}
		switch (p[1])
		{
			case 'b':
				buf[n++] = '\b';
				p += 2;
				continue;
			case 'f':
				buf[n++] = '\f';
				p += 2;
				continue;
			case 'n':
				buf[n++] = '\n';
				p += 2;
				continue;
			case 'r':
				buf[n++] = '\r';
				p += 2;
				continue;
			case 't':
				buf[n++] = '\t';
				p += 2;
				continue;
			case 'u':
				break;
			default:
				buf[n++] = p[1];
				p += 2;
				continue;
		}
		cp = (hexval(p[2]) << 12) | (hexval(p[3]) << 8) | (hexval(p[4]) << 4) | hexval(p[5]);
		p += 6;
		if (cp >= 0xD800 && cp <= 0xDBFF && p + 6 <= end && p[0] == '\\' && p[1] == 'u')
		{
			unsigned int lo = (hexval(p[2]) << 12) | (hexval(p[3]) << 8) |
			(hexval(p[4]) << 4) | hexval(p[5]);

			if (lo >= 0xDC00 && lo <= 0xDFFF)
			{
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				p += 6;
			}
		}
		/* an unpaired surrogate has no UTF-8: U+FFFD, as json-c reads it */
		if (cp >= 0xD800 && cp <= 0xDFFF)
			cp = 0xFFFD;
		if (cp < 0x80)
			buf[n++] = (char) cp;
		else if (cp < 0x800)
		{
			buf[n++] = (char) (0xC0 | (cp >> 6));
			buf[n++] = (char) (0x80 | (cp & 0x3F));
		}
		else if (cp < 0x10000)
		{
			buf[n++] = (char) (0xE0 | (cp >> 12));
			buf[n++] = (char) (0x80 | ((cp >> 6) & 0x3F));
			buf[n++] = (char) (0x80 | (cp & 0x3F));
		}
		else
		{
			buf[n++] = (char) (0xF0 | (cp >> 18));
			buf[n++] = (char) (0x80 | ((cp >> 12) & 0x3F));
			buf[n++] = (char) (0x80 | ((cp >> 6) & 0x3F));
			buf[n++] = (char) (0x80 | (cp & 0x3F));
		}
	}
	buf[n] = '\0';
	*outlen = n;
	return true;
}

/*
 * Skips one element of a GetRecords page's Records array, however deeply
 * it nests: brackets are counted, not recursed into, so the page reader
 * has no depth limit of its own.  Whatever a record holds is the
 * transform's to judge (its depth limit makes a dead letter of that one
 * record, with its raw text); only a page whose brackets or strings do not
 * match is malformed.
 */
static bool
skip_record(Scan *s, Span *span)
{
	long		open = 0;

	skip_ws(s);
	if (s->p >= s->end || (*s->p != '{' && *s->p != '['))
		return false;
	span->p = s->p;
	do
	{
		if (s->p >= s->end)
			return false;
		switch (*s->p)
		{
			case '"':
				{
					Span		str;

					if (!scan_string(s, &str))
						return false;
					continue;
				}
			case '{':
			case '[':
				open++;
				break;
			case '}':
			case ']':
				open--;
				break;
			default:
				break;
		}
		s->p++;
	} while (open > 0);
	span->len = s->p - span->p;
	span->escaped = false;
	return true;
}

/* Skips any value; span (when not NULL) gets its text. */
static bool
skip_value(Scan *s, int depth, Span *span)
{
	const char *start;

	skip_ws(s);
	if (s->p >= s->end || depth > MAX_ATTRIBUTE_DEPTH * 2)
		return false;
	start = s->p;
	switch (*s->p)
	{
		case '"':
			{
				Span str;

				if (!scan_string(s, &str))
					return false;
				break;
			}
		case '{':
			s->p++;
			if (!expect(s, '}'))
			{
				do
				{
					Span key;

					if (!scan_string(s, &key) || !expect(s, ':') ||
						!skip_value(s, depth + 1, NULL))
						return false;
				} while (expect(s, ','));
				if (!expect(s, '}'))
					return false;
			}
			break;
		case '[':
			s->p++;
			if (!expect(s, ']'))
			{
				do
				{
					if (!skip_value(s, depth + 1, NULL))
						return false;
				} while (expect(s, ','));
				if (!expect(s, ']'))
					return false;
			}
			break;
		case 't':
			if (s->end - s->p < 4 || memcmp(s->p, "true", 4) != 0)
				return false;
			s->p += 4;
			break;
		case 'f':
			if (s->end - s->p < 5 || memcmp(s->p, "false", 5) != 0)
				return false;
			s->p += 5;
			break;
		case 'n':
			if (s->end - s->p < 4 || memcmp(s->p, "null", 4) != 0)
				return false;
			s->p += 4;
			break;
		default:
			if (*s->p != '-' && (*s->p < '0' || *s->p > '9'))
				return false;
			while (s->p < s->end &&
				   ((*s->p >= '0' && *s->p <= '9') || *s->p == '-' || *s->p == '+' ||
					*s->p == '.' || *s->p == 'e' || *s->p == 'E'))
				s->p++;
			break;
	}
	if (span)
	{
		span->p = start;
		span->len = s->p - start;
		span->escaped = false;
	}
	return true;
}

static inline bool
span_is(const Span *span, const char *lit, size_t litlen)
{
	return !span->escaped && span->len == litlen && memcmp(span->p, lit, litlen) == 0;
}

#define SPAN_IS(span, lit) span_is((span), (lit), sizeof(lit) - 1)

/* A string span as a JSON string at w: the literal as it was. */
static inline char *
put_span_string(char *w, const Span *span)
{
	*w++ = '"';
	w = put_bytes(w, span->p, span->len);
	*w++ = '"';
	return w;
}

/* A string span's decoded content for N and B (escapes are rare there). */
static bool
span_content(TransformState *st, const Span *span, char **heap, const char **text, size_t *len,
			 char *stackbuf, size_t stackcap)
{
	size_t		cap;
	char	   *buf;

	*heap = NULL;
	if (!span->escaped)
	{
		*text = span->p;
		*len = span->len;
		return true;
	}
	cap = span->len + 8;
	buf = cap <= stackcap ? stackbuf : (*heap = malloc(cap));
	if (buf == NULL)
	{
		st->out->oom = true;
		return false;
	}
	if (!unescape(span, buf, cap, len))
		return bad_record(st, "malformed string escape", NULL);
	*text = buf;
	return true;
}

static bool
write_number_span(TransformState *st, const Span *span)
{
	char		stackbuf[128];
	char	   *heap;
	const char *text;
	size_t		len;
	bool		ok;

	if (!span_content(st, span, &heap, &text, &len, stackbuf, sizeof(stackbuf)))
		return false;
	ok = audit_write_number(st->out, text, len);
	if (!ok && !st->out->oom)
	{
		char		shown[64];

		snprintf(shown, sizeof(shown), "%.*s", (int) (len < 40 ? len : 40), text);
		bad_record(st, "number \"%s\" is not a decimal number", shown);
	}
	free(heap);
	return ok;
}

static bool
write_binary_span(TransformState *st, const Span *span)
{
	char		stackbuf[256];
	char	   *heap;
	const char *text;
	size_t		len;
	bool		ok;

	if (!span_content(st, span, &heap, &text, &len, stackbuf, sizeof(stackbuf)))
		return false;
	ok = write_binary(st, (const unsigned char *) text, len);
	free(heap);
	return ok;
}

/*
 * An N value or NS element whose string literal starts at s->p: written at
 * once when its text has no escape and is a number (the usual case), true
 * then (or when out ran out of memory).  False leaves s and out as they
 * were, for write_number_span to read it and say what is wrong.
 */
static inline bool
write_number_direct(TransformState *st, Scan *s)
{
	const char *p = s->p;
	const char *q;

	if (p >= s->end || *p != '"' ||
		(!write_number(st->out, p + 1, s->end, true, &q) && !st->out->oom))
		return false;
	s->p = q + 1;
	return true;
}

/*
 * The first byte at or after p that is not a base64 digit (A-Z, a-z, 0-9,
 * '+', '/'); end when there is none.  Sixteen bytes at a time with SSE2:
 * a byte is in a range when, moved so that the range starts at -128, it
 * compares (signed) below -128 plus the range's size.
 */
static inline const char *
base64_digits_end(const char *p, const char *end)
{
#ifdef __SSE2__
#define IN_RANGE(v, lo, n) \
	_mm_cmplt_epi8(_mm_add_epi8((v), _mm_set1_epi8((char) (0x80 - (lo)))), \
				   _mm_set1_epi8((char) (-128 + (n))))
	while (end - p >= 16)
	{
		__m128i		v = _mm_loadu_si128((const __m128i *) p);
		__m128i		ok;
		unsigned int mask;

		ok = _mm_or_si128(IN_RANGE(v, 'A', 26), IN_RANGE(v, 'a', 26));
		ok = _mm_or_si128(ok, IN_RANGE(v, '/', 11));	/* '/' and the digits */
		ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8('+')));
		mask = ~(unsigned int) _mm_movemask_epi8(ok) & 0xffff;
		if (mask != 0)
			return p + __builtin_ctz(mask);
		p += 16;
	}
#undef IN_RANGE
#endif
	while (p < end && b64_value[(unsigned char) *p] >= 0)
		p++;
	return p;
}

/*
 * A B value or BS element whose string literal starts at s->p: base64
 * digits and at most two '=' then the quote (no escape can be in it) are
 * written at once; true then (or when out ran out of memory).  False leaves
 * s and out as they were, for write_binary_span.
 */
static inline bool
write_binary_direct(TransformState *st, Scan *s)
{
	const char *p = s->p;
	const char *q;

	size_t		datalen;

	if (p >= s->end || *p != '"')
		return false;
	q = base64_digits_end(p + 1, s->end);
	datalen = q - p - 1;
	if (q < s->end && *q == '=')
		q++;
	if (q < s->end && *q == '=')
		q++;
	if (q >= s->end || *q != '"' || datalen % 4 == 1)
		return false;
	write_base64_digits(st->out, (const unsigned char *) p + 1, datalen);
	s->p = q + 1;
	return true;
}

static bool write_av_text(TransformState *st, Scan *s, int depth);

/*
 * An attribute map's text ({"name": {"S": ...}, ...}) as a JSON object;
 * an image (depth 0) of st->folder's finds its folder on the way.
 */
static bool
write_map_text(TransformState *st, Scan *s, int depth)
{
	bool		folder = depth == 0 && st->folder != NULL;

	if (folder)
		st->folder->which = FOLDER_NONE;
	if (!expect(s, '{'))
		return bad_record(st, "item image or map is not an object", NULL);
	buf_putc(st->out, '{');
	if (!expect(s, '}'))
	{
		bool		first = true;

		do
		{
			size_t		name_off;
			size_t		value_off;
			const char *value;

			if (!first)
				buf_putc(st->out, ',');
			first = false;
			name_off = st->out->len;
			if (!copy_string(s, st->out) || !expect(s, ':'))
				return bad_record(st, "malformed attribute map", NULL);
			buf_putc(st->out, ':');
			value_off = st->out->len;
			skip_ws(s);
			value = s->p;
			if (!write_av_text(st, s, depth))
				return false;
			if (folder && (st->out->oom ||
						   !folder_member(st, name_off, value_off, attribute_type(value, s->p))))
				return false;
		} while (expect(s, ','));
		if (!expect(s, '}'))
			return bad_record(st, "malformed attribute map", NULL);
	}
	buf_putc(st->out, '}');
	return !st->out->oom;
}

/* An SS, NS or BS value's text as a JSON array, in the stream's order. */
static bool
write_set_text(TransformState *st, Scan *s, char type)
{
	if (!expect(s, '['))
		return bad_record(st, "set attribute value is not an array", NULL);
	buf_putc(st->out, '[');
	if (!expect(s, ']'))
	{
		bool		first = true;

		do
		{
			Span		elem;

			if (!first)
				buf_putc(st->out, ',');
			first = false;
			if (type == 'S')
			{
				if (!copy_string(s, st->out))
					return bad_record(st, "set element is not a string", NULL);
				continue;
			}
			skip_ws(s);
			if (type == 'N' ? write_number_direct(st, s) : write_binary_direct(st, s))
			{
				if (st->out->oom)
					return false;
				continue;
			}
			if (!scan_string(s, &elem))
				return bad_record(st, "set element is not a string", NULL);
			if (type == 'N')
			{
				if (!write_number_span(st, &elem))
					return false;
			}
			else if (!write_binary_span(st, &elem))
				return false;
		} while (expect(s, ','));
		if (!expect(s, ']'))
			return bad_record(st, "malformed set", NULL);
	}
	buf_putc(st->out, ']');
	return true;
}

/* One attribute value's text ({"S": "x"}, {"M": {...}}, ...). */
static bool
write_av_text(TransformState *st, Scan *s, int depth)
{
	Span		type;
	char		typebuf[16];
	const char *t;
	size_t		tlen;
	bool		ok;

	if (depth > MAX_ATTRIBUTE_DEPTH)
		return bad_record(st, "attribute values nested too deeply", NULL);
	if (!expect(s, '{'))
		return bad_record(st, "attribute value is not an object", NULL);
#define UPPER(c) ((c) >= 'A' && (c) <= 'Z')
	/* compact and plain, as AWS writes it: "S": "NS": "NULL": at once */
	if (s->end - s->p >= 7 && s->p[0] == '"' && UPPER(s->p[1]))
	{
		const char *p = s->p;

		if (p[2] == '"' && p[3] == ':')
			tlen = 1;
		else if (UPPER(p[2]) && p[3] == '"' && p[4] == ':')
			tlen = 2;
		else if (UPPER(p[2]) && UPPER(p[3]) && UPPER(p[4]) && p[5] == '"' && p[6] == ':')
			tlen = 4;
		else
			tlen = 0;
		if (tlen > 0)
		{
			t = p + 1;
			s->p = p + tlen + 3;
			goto have_type;
		}
	}
#undef UPPER
	skip_ws(s);
	{
		/* a type descriptor is 1 to 4 plain letters: read it at once */
		const char *q = s->p + 1;

		if (s->p < s->end && *s->p == '"')
			while (q < s->end && q - s->p <= 5 && *q >= 'A' && *q <= 'Z')
				q++;
		if (s->p < s->end && *s->p == '"' && q < s->end && *q == '"' && q - s->p <= 5)
		{
			type.p = s->p + 1;
			type.len = q - type.p;
			type.escaped = false;
			s->p = q + 1;
		}
		else if (!scan_string(s, &type))
			return bad_record(st, "attribute value does not have exactly one type descriptor", NULL);
	}
	if (!expect(s, ':'))
		return bad_record(st, "attribute value does not have exactly one type descriptor", NULL);
	if (type.escaped)
	{
		if (!unescape(&type, typebuf, sizeof(typebuf), &tlen))
			return bad_record(st, "unknown attribute type", NULL);
		t = typebuf;
	}
	else
	{
		t = type.p;
		tlen = type.len;
	}

have_type:
	skip_ws(s);
	if (tlen == 1 && t[0] == 'S')
	{
		if (!copy_string(s, st->out))
			return bad_record(st, "S attribute value is not a string", NULL);
		ok = true;
	}
	else if (tlen == 1 && (t[0] == 'N' || t[0] == 'B'))
	{
		Span		v;

		if (t[0] == 'N' ? write_number_direct(st, s) : write_binary_direct(st, s))
			ok = !st->out->oom;
		else
		{
			if (!scan_string(s, &v))
				return bad_record(st, t[0] == 'N' ? "N attribute value is not a string" :
								  "binary attribute value is not a string", NULL);
			ok = t[0] == 'N' ? write_number_span(st, &v) : write_binary_span(st, &v);
		}
	}
	else if (tlen == 2 && t[1] == 'S' && (t[0] == 'S' || t[0] == 'N' || t[0] == 'B'))
		ok = write_set_text(st, s, t[0]);
	else if (tlen == 1 && t[0] == 'M')
		ok = write_map_text(st, s, depth + 1);
	else if (tlen == 1 && t[0] == 'L')
	{
		if (!expect(s, '['))
			return bad_record(st, "L attribute value is not an array", NULL);
		buf_putc(st->out, '[');
		if (!expect(s, ']'))
		{
			bool		first = true;

			do
			{
				if (!first)
					buf_putc(st->out, ',');
				first = false;
				if (!write_av_text(st, s, depth + 1))
					return false;
			} while (expect(s, ','));
			if (!expect(s, ']'))
				return bad_record(st, "malformed list", NULL);
		}
		buf_putc(st->out, ']');
		ok = true;
	}
	else if ((tlen == 4 && memcmp(t, "NULL", 4) == 0) ||
			 (tlen == 4 && memcmp(t, "BOOL", 4) == 0))
	{
		bool		is_null = (t[0] == 'N');

		if (s->end - s->p >= 4 && memcmp(s->p, "true", 4) == 0)
		{
			s->p += 4;
			if (is_null)
				APPEND_LITERAL(st->out, "null");
			else
				APPEND_LITERAL(st->out, "true");
		}
		else if (s->end - s->p >= 5 && memcmp(s->p, "false", 5) == 0)
		{
			s->p += 5;
			if (is_null)
				APPEND_LITERAL(st->out, "null");
			else
				APPEND_LITERAL(st->out, "false");
		}
		else
			return bad_record(st, is_null ? "NULL attribute value is not a boolean" :
							  "BOOL attribute value is not a boolean", NULL);
		ok = true;
	}
	else
	{
		char		shown[32];

		snprintf(shown, sizeof(shown), "%.*s", (int) (tlen < 16 ? tlen : 16), t);
		return bad_record(st, "unknown attribute type \"%s\"", shown);
	}
	if (!ok)
		return false;
	if (!expect(s, '}'))
		return bad_record(st, "attribute value does not have exactly one type descriptor", NULL);
	return true;
}

/*
 * The images of a compact record (what AWS writes: no whitespace) are read
 * by a second walker with its places in registers: input and output
 * cursors passed and returned by value, so that writing a byte does not
 * make the compiler load them again (a char store may alias anything held
 * in memory).  It takes what it knows; anything else (whitespace, an
 * unknown type, a malformed value, nesting too deep) makes it give up, and
 * the image is read again by write_map_text from its start, which writes
 * the same bytes for what both read and says what is wrong.
 */
typedef struct FastOut
{
	AuditBuf   *buf;
	const char *end;			/* of the input */
	char	   *wlim;			/* buf's capacity, less room for the NUL */
	FolderMatch *folder;		/* as TransformState's */
} FastOut;

#define FAST_FAIL(w) ((FastPos) {NULL, (w)})

/* Makes room for n more bytes at w; NULL when out of memory. */
static __attribute__((noinline)) char *
fast_grow(FastOut *o, char *w, size_t n)
{
	AuditBuf   *buf = o->buf;

	buf->len = w - buf->data;
	if (!audit_buf_reserve(buf, n))
		return NULL;
	o->wlim = buf->data + buf->cap - 1;
	return buf->data + buf->len;
}

#define FAST_ROOM(o, w, n) \
	((size_t) ((o)->wlim - (w)) >= (size_t) (n) || ((w) = fast_grow((o), (w), (n))) != NULL)

/*
 * A string literal at p, copied as it is (escapes checked, not decoded),
 * within windows of the input (literal_window_end).
 */
static inline FastPos
fast_string(FastOut *restrict o, const char *p, char *w)
{
	const char *end = o->end;
	const char *stop;
	FastPos		r;

	if (p >= end || *p != '"')
		return FAST_FAIL(w);
	for (size_t window = LITERAL_WINDOW;; window *= LITERAL_WINDOW_GROWTH)
	{
		stop = literal_window_end(p, end, window);
		if (!FAST_ROOM(o, w, stop - p + 1))
			return FAST_FAIL(w);
		r = copy_literal(p, stop, w);
		if (r.p != NULL || stop == end)
			return r;
	}
}

/* An N value's string literal at p (at its quote). */
static inline FastPos
fast_number(FastOut *restrict o, const char *p, char *w)
{
	const char *end = o->end;
	const char *stop;
	AuditBuf   *buf;

	if (p >= end || *p != '"')
		return FAST_FAIL(w);
	buf = o->buf;
	buf->len = w - buf->data;
	if (!write_number(buf, p + 1, end, true, &stop))
		return FAST_FAIL(w);
	o->wlim = buf->data + buf->cap - 1;
	return (FastPos) {stop + 1, buf->data + buf->len};
}

/* A B value's string literal at p. */
static inline FastPos
fast_binary(FastOut *restrict o, const char *p, char *w)
{
	const char *end = o->end;
	const char *q;
	size_t		datalen;

	if (p >= end || *p != '"')
		return FAST_FAIL(w);
	q = base64_digits_end(p + 1, end);
	datalen = q - p - 1;
	if (q < end && *q == '=')
		q++;
	if (q < end && *q == '=')
		q++;
	if (q >= end || *q != '"' || datalen % 4 == 1 || !FAST_ROOM(o, w, datalen + 22))
		return FAST_FAIL(w);
	*w++ = '"';
	fast_copy(w, p + 1, datalen, end);
	if (datalen % 4 == 0)
		w += datalen;
	else
	{
		/* as write_base64_digits */
		int			keep = datalen % 4 == 2 ? 0x30 : 0x3c;

		w += datalen - 1;
		*w++ = b64_chars[b64_value[(unsigned char) p[datalen]] & keep];
		*w++ = '=';
		if (datalen % 4 == 2)
			*w++ = '=';
	}
	*w++ = '"';
	return (FastPos) {q + 1, w};
}

static FastPos fast_value(FastOut *restrict o, const char *p, char *w, int depth);

/*
 * A member of a new image for its folder (fast_map's; the written name
 * and value at name and value in o's buffer, the value's input at src,
 * which the fast walker has read: compact).  False when out of memory.
 */
static __attribute__((noinline)) bool
fast_folder_member(FastOut *restrict o, char *name, char *value, const char *src)
{
	TransformState st = {o->buf, NULL, 0, o->folder};
	char		type = src[3] == '"' ? (src[2] == 'S' ? 'S' : 'O') :
		memcmp(src + 2, "NULL", 4) == 0 ? 'Z' : 'O';

	return folder_member(&st, name - o->buf->data, value - o->buf->data, type);
}

/* An attribute map at p: {"name":value,...} */
static FastPos
fast_map(FastOut *restrict o, const char *p, char *w, int depth)
{
	const char *end = o->end;
	FastPos		r;
	bool		folder = depth == 0 && o->folder != NULL;

	if (end - p < 2 || *p != '{' || !FAST_ROOM(o, w, 2))
		return FAST_FAIL(w);
	*w++ = '{';
	p++;
	if (folder)
		o->folder->which = FOLDER_NONE;
	if (*p != '}')
	{
		for (;;)
		{
			size_t		name = w - o->buf->data;
			size_t		value;

			r = fast_string(o, p, w);
			if (r.p == NULL || r.p >= end || *r.p != ':')
				return FAST_FAIL(r.w);
			*r.w++ = ':';
			value = r.w - o->buf->data;
			p = r.p + 1;
			r = fast_value(o, p, r.w, depth);
			if (r.p == NULL || r.p >= end)
				return FAST_FAIL(r.w);
			/* a name shorter than the attribute's ("name":) is not it */
			if (folder && value - name >= folders.attribute_len + 3)
			{
				o->buf->len = r.w - o->buf->data;
				if (!fast_folder_member(o, o->buf->data + name, o->buf->data + value, p))
					return FAST_FAIL(r.w);
			}
			p = r.p;
			w = r.w;
			if (*p != ',')
				break;
			if (!FAST_ROOM(o, w, 1))
				return FAST_FAIL(w);
			*w++ = ',';
			p++;
		}
		if (*p != '}')
			return FAST_FAIL(w);
	}
	if (!FAST_ROOM(o, w, 1))
		return FAST_FAIL(w);
	*w++ = '}';
	return (FastPos) {p + 1, w};
}

/* The elements of a set or list at p ('['): each read by kind. */
static FastPos
fast_array(FastOut *restrict o, const char *p, char *w, char kind, int depth)
{
	const char *end = o->end;
	FastPos		r;

	if (end - p < 2 || *p != '[' || !FAST_ROOM(o, w, 2))
		return FAST_FAIL(w);
	*w++ = '[';
	p++;
	if (*p != ']')
	{
		for (;;)
		{
			switch (kind)
			{
				case 'S':
					r = fast_string(o, p, w);
					break;
				case 'N':
					r = fast_number(o, p, w);
					break;
				case 'B':
					r = fast_binary(o, p, w);
					break;
				default:
					r = fast_value(o, p, w, depth);
					break;
			}
			if (r.p == NULL || r.p >= end)
				return FAST_FAIL(r.w);
			p = r.p;
			w = r.w;
			if (*p != ',')
				break;
			if (!FAST_ROOM(o, w, 1))
				return FAST_FAIL(w);
			*w++ = ',';
			p++;
		}
		if (*p != ']')
			return FAST_FAIL(w);
	}
	if (!FAST_ROOM(o, w, 1))
		return FAST_FAIL(w);
	*w++ = ']';
	return (FastPos) {p + 1, w};
}

/* One attribute value at p: {"S":...}, {"M":{...}}, ... */
static FastPos
fast_value(FastOut *restrict o, const char *p, char *w, int depth)
{
	const char *end = o->end;
	FastPos		r;

	if (depth > MAX_ATTRIBUTE_DEPTH || end - p < 8 || p[0] != '{' || p[1] != '"')
		return FAST_FAIL(w);
	if (p[3] == '"' && p[4] == ':')
	{
		/* one letter */
		switch (p[2])
		{
			case 'S':
				r = fast_string(o, p + 5, w);
				break;
			case 'N':
				r = fast_number(o, p + 5, w);
				break;
			case 'B':
				r = fast_binary(o, p + 5, w);
				break;
			case 'M':
				r = fast_map(o, p + 5, w, depth + 1);
				break;
			case 'L':
				r = fast_array(o, p + 5, w, 'L', depth + 1);
				break;
			default:
				return FAST_FAIL(w);
		}
	}
	else if (p[3] == 'S' && p[4] == '"' && p[5] == ':' &&
			 (p[2] == 'S' || p[2] == 'N' || p[2] == 'B'))
		r = fast_array(o, p + 6, w, p[2], depth);
	else if (p[6] == '"' && p[7] == ':' &&
			 (memcmp(p + 2, "NULL", 4) == 0 || memcmp(p + 2, "BOOL", 4) == 0))
	{
		bool		is_null = p[2] == 'N';

		if (!FAST_ROOM(o, w, 5))
			return FAST_FAIL(w);
		if (end - p >= 12 && memcmp(p + 8, "true", 4) == 0)
		{
			memcpy(w, is_null ? "null" : "true", 4);
			r = (FastPos) {p + 12, w + 4};
		}
		else if (end - p >= 13 && memcmp(p + 8, "false", 5) == 0)
		{
			memcpy(w, is_null ? "null" : "false", is_null ? 4 : 5);
			r = (FastPos) {p + 13, w + (is_null ? 4 : 5)};
		}
		else
			return FAST_FAIL(w);
	}
	else
		return FAST_FAIL(w);
	if (r.p == NULL || r.p >= end || *r.p != '}')
		return FAST_FAIL(r.w);
	r.p++;
	return r;
}

bool		audit_transform_fast_walk = true;

/*
 * An item image (an attribute map) at s->p, written to st->out: by the fast
 * walker, or (when it gives up) by write_map_text.
 */
static bool
write_image(TransformState *st, Scan *s)
{
	AuditBuf   *buf = st->out;
	size_t		start = buf->len;
	FastOut		o;
	FastPos		r;

	if (!audit_transform_fast_walk)
		return write_map_text(st, s, 0);
	if (buf->data == NULL && !audit_buf_reserve(buf, 64))
		return false;
	o.buf = buf;
	o.end = s->end;
	o.wlim = buf->data + buf->cap - 1;
	o.folder = st->folder;
	r = fast_map(&o, s->p, buf->data + buf->len, 0);
	if (r.p != NULL)
	{
		buf->len = r.w - buf->data;
		buf->data[buf->len] = '\0';
		s->p = r.p;
		return true;
	}
	if (buf->oom)
		return false;
	buf->len = start;
	if (buf->data)
		buf->data[start] = '\0';
	return write_map_text(st, s, 0);
}

/* The stream record's fields the audit record needs. */
typedef struct RecordFields
{
	Span		event_id,
				event_name,
				region,
				identity_type,
				identity_principal,
				when,
				seq;
	/* the images, already transformed, in the scratch buffer */
	size_t		keys_off,
				keys_len,
				new_off,
				new_len,
				old_off,
				old_len;
	/* the new image's attribute folder */
	FolderMatch folder;
	/* which were read (what was not is left as it was) */
	struct
	{
		bool		event_id,
					event_name,
					region,
					identity,
					identity_type,
					identity_principal,
					when,
					seq,
					keys,
					new,
					old,
					ddb;
	}			has;
} RecordFields;

/* Empties f: nothing read (the flags alone, cheaper than the whole). */
static inline void
record_fields_reset(RecordFields *f)
{
	memset(&f->has, 0, sizeof(f->has));
	f->folder.which = FOLDER_NONE;
}

/*
 * A member name the record reader looks for, written as compact JSON has
 * it: quoted, with its colon.
 */
typedef struct MemberName
{
	const char *text;
	size_t		len;
} MemberName;

#define MEMBER_NAME(name) {"\"" name "\":", sizeof(name) + 2}

/* (the names after the first five in each list are known only to be skipped) */
enum
{
	R_EVENT_ID, R_EVENT_NAME, R_REGION, R_IDENTITY, R_DYNAMODB
};
static const MemberName record_names[] = {
	MEMBER_NAME("eventID"), MEMBER_NAME("eventName"), MEMBER_NAME("awsRegion"),
	MEMBER_NAME("userIdentity"), MEMBER_NAME("dynamodb"),
	MEMBER_NAME("eventVersion"), MEMBER_NAME("eventSource")
};

enum
{
	D_SEQ, D_WHEN, D_KEYS, D_NEW, D_OLD
};
static const MemberName dynamodb_names[] = {
	MEMBER_NAME("SequenceNumber"), MEMBER_NAME("ApproximateCreationDateTime"),
	MEMBER_NAME("Keys"), MEMBER_NAME("NewImage"), MEMBER_NAME("OldImage"),
	MEMBER_NAME("SizeBytes"), MEMBER_NAME("StreamViewType")
};

enum
{
	I_TYPE, I_PRINCIPAL
};
static const MemberName identity_names[] = {
	MEMBER_NAME("Type"), MEMBER_NAME("PrincipalId")
};

/*
 * Reads a member's name and its colon: *which is its place in names, or -1
 * for another name (or one written with escapes).  A name written as names
 * has it is taken at once.  False when there is no name and colon.
 */
static inline __attribute__((always_inline)) bool
read_member_name(Scan *s, const MemberName *names, int n, int *which)
{
	Span		key;
	const char *p = s->p;

	if (s->end - p >= 2 && p[0] == '"')
	{
#pragma GCC unroll 8
		for (int i = 0; i < n; i++)
			if (p[1] == names[i].text[1] && (size_t) (s->end - p) >= names[i].len &&
				memcmp(p, names[i].text, names[i].len) == 0)
			{
				s->p = p + names[i].len;
				*which = i;
				return true;
			}
	}
	if (!scan_string(s, &key) || !expect(s, ':'))
		return false;
	*which = -1;
	for (int i = 0; i < n; i++)
		if (span_is(&key, names[i].text + 1, names[i].len - 3))
		{
			*which = i;
			break;
		}
	return true;
}

/*
 * An image at p (its opening brace), written to the scratch buffer at
 * *off, *len bytes, with its attribute folder in folder (when not NULL):
 * the place after it, NULL when it is not one.  Both readers' (scan_record
 * and fast_scan_record).
 */
static inline const char *
record_image(TransformState *img, const char *p, const char *end, FolderMatch *folder,
			 size_t *off, size_t *len)
{
	Scan		s = {p, end};
	bool		ok;

	*off = img->out->len;
	img->folder = folder;
	ok = write_image(img, &s);
	img->folder = NULL;
	*len = img->out->len - *off;
	return ok ? s.p : NULL;
}

/*
 * Reads the record's object, up to its closing brace: spans of the metadata
 * fields; the images are transformed as they are read, into img's buffer;
 * other fields skipped.
 */
static bool
scan_record(TransformState *st, TransformState *img, Scan *s, RecordFields *f)
{
	record_fields_reset(f);
	if (!expect(s, '{'))
		return bad_record(st, "stream record is not an object", NULL);
	if (expect(s, '}'))
		return true;
	do
	{
		int			key;

		if (!read_member_name(s, record_names, lengthof(record_names), &key))
			return bad_record(st, "malformed stream record", NULL);
		skip_ws(s);
		/*
		 * A kept field's value must be read whole: one that does not end
		 * is a malformed record (not one that ends after its quote).
		 */
		if (key == R_EVENT_ID && peek_is(s, '"'))
		{
			if (!(f->has.event_id = scan_string(s, &f->event_id)))
				return bad_record(st, "malformed stream record", NULL);
		}
		else if (key == R_EVENT_NAME && peek_is(s, '"'))
		{
			if (!(f->has.event_name = scan_string(s, &f->event_name)))
				return bad_record(st, "malformed stream record", NULL);
		}
		else if (key == R_REGION && peek_is(s, '"'))
		{
			if (!(f->has.region = scan_string(s, &f->region)))
				return bad_record(st, "malformed stream record", NULL);
		}
		else if (key == R_IDENTITY && peek_is(s, '{'))
		{
			s->p++;
			f->has.identity = true;
			if (!expect(s, '}'))
			{
				do
				{
					int			ikey;

					if (!read_member_name(s, identity_names, lengthof(identity_names), &ikey))
						return bad_record(st, "malformed userIdentity", NULL);
					skip_ws(s);
					if (ikey == I_TYPE && peek_is(s, '"'))
					{
						if (!(f->has.identity_type = scan_string(s, &f->identity_type)))
							return bad_record(st, "malformed userIdentity", NULL);
					}
					else if (ikey == I_PRINCIPAL && peek_is(s, '"'))
					{
						if (!(f->has.identity_principal =
							  scan_string(s, &f->identity_principal)))
							return bad_record(st, "malformed userIdentity", NULL);
					}
					else if (!skip_value(s, 1, NULL))
						return bad_record(st, "malformed userIdentity", NULL);
				} while (expect(s, ','));
				if (!expect(s, '}'))
					return bad_record(st, "malformed userIdentity", NULL);
			}
		}
		else if (key == R_DYNAMODB && peek_is(s, '{'))
		{
			s->p++;
			f->has.ddb = true;
			if (!expect(s, '}'))
			{
				do
				{
					int			dkey;

					if (!read_member_name(s, dynamodb_names, lengthof(dynamodb_names), &dkey))
						return bad_record(st, "malformed \"dynamodb\" object", NULL);
					skip_ws(s);
					if (dkey == D_SEQ && peek_is(s, '"'))
					{
						if (!(f->has.seq = scan_string(s, &f->seq)))
							return bad_record(st, "malformed \"dynamodb\" object", NULL);
					}
					else if (dkey == D_WHEN)
					{
						if (!(f->has.when = skip_value(s, 1, &f->when)))
							return bad_record(st, "malformed \"dynamodb\" object", NULL);
					}
					else if (dkey == D_KEYS || dkey == D_NEW || dkey == D_OLD)
					{
						bool	   *has = dkey == D_KEYS ? &f->has.keys :
							dkey == D_NEW ? &f->has.new : &f->has.old;
						size_t	   *off = dkey == D_KEYS ? &f->keys_off :
							dkey == D_NEW ? &f->new_off : &f->old_off;
						size_t	   *len = dkey == D_KEYS ? &f->keys_len :
							dkey == D_NEW ? &f->new_len : &f->old_len;
						const char *after;

						after = record_image(img, s->p, s->end,
											dkey == D_NEW && folders.attribute != NULL ?
											&f->folder : NULL, off, len);
						if (after == NULL)
							return false;
						s->p = after;
						*has = true;
					}
					else if (!skip_value(s, 1, NULL))
						return bad_record(st, "malformed \"dynamodb\" object", NULL);
				} while (expect(s, ','));
				if (!expect(s, '}'))
					return bad_record(st, "malformed \"dynamodb\" object", NULL);
			}
		}
		else if (!skip_value(s, 1, NULL))
			return bad_record(st, "malformed stream record", NULL);
	} while (expect(s, ','));
	if (!expect(s, '}'))
		return bad_record(st, "malformed stream record", NULL);
	return true;
}

/* ---- the record's object as AWS writes it ---- */

/*
 * A metadata string's literal at p (its opening quote), without escapes:
 * its content in span; the place after it, NULL when it is not one.
 */
static inline const char *
fast_plain_string(const char *p, const char *end, Span *span)
{
	const char *q = find_special(p + 1, end);

	if (q >= end || *q != '"')
		return NULL;
	span->p = p + 1;
	span->len = q - (p + 1);
	span->escaped = false;
	return q + 1;
}

/* A metadata string at p that the audit record does not keep. */
static inline const char *
fast_skip_string(const char *p, const char *end)
{
	Span		ignored;

	return fast_plain_string(p, end, &ignored);
}

/*
 * A number of digits and a point at p, as skip_value reads it: its text in
 * span (when not NULL); the place after it, NULL when it has no digit.
 */
static inline const char *
fast_plain_number(const char *p, const char *end, Span *span)
{
	const char *q = skip_digits(p, end);

	if (q == p)
		return NULL;
	if (q < end && *q == '.')
		q = skip_digits(q + 1, end);
	if (span)
	{
		span->p = p;
		span->len = q - p;
		span->escaped = false;
	}
	return q;
}

/* Whether the bytes at p (before end) begin with lit, a string constant. */
#define AT(p, lit) \
	(end - (p) >= (ptrdiff_t) sizeof(lit) - 1 && memcmp((p), (lit), sizeof(lit) - 1) == 0)

/*
 * After a member's value at *p (NULL when it was not read): true past a
 * comma, another member following; false otherwise, with *p the place
 * after the object's closing brace, or NULL on anything else.
 */
static inline bool
fast_next_member(const char **p, const char *end)
{
	const char *q = *p;

	if (q != NULL && q < end && *q == ',')
	{
		*p = q + 1;
		return true;
	}
	*p = q != NULL && q < end && *q == '}' ? q + 1 : NULL;
	return false;
}

/*
 * The members of the "dynamodb" object at p (after its opening brace): the
 * place after its closing brace, NULL on anything unusual.
 */
static const char *
fast_record_dynamodb(TransformState *img, const char *p, const char *end, RecordFields *f)
{
	for (;;)
	{
		if (AT(p, "\"ApproximateCreationDateTime\":"))
			f->has.when = (p = fast_plain_number(p + 30, end, &f->when)) != NULL;
		else if (AT(p, "\"Keys\":{"))
			f->has.keys = (p = record_image(img, p + 7, end, NULL, &f->keys_off,
											&f->keys_len)) != NULL;
		else if (AT(p, "\"SequenceNumber\":\""))
			f->has.seq = (p = fast_plain_string(p + 17, end, &f->seq)) != NULL;
		else if (AT(p, "\"SizeBytes\":"))
			p = fast_plain_number(p + 12, end, NULL);
		else if (AT(p, "\"StreamViewType\":\""))
			p = fast_skip_string(p + 17, end);
		else if (AT(p, "\"NewImage\":{"))
			f->has.new = (p = record_image(img, p + 11, end,
										   folders.attribute != NULL ? &f->folder : NULL,
										   &f->new_off, &f->new_len)) != NULL;
		else if (AT(p, "\"OldImage\":{"))
			f->has.old = (p = record_image(img, p + 11, end, NULL, &f->old_off,
										   &f->old_len)) != NULL;
		else
			return NULL;
		if (!fast_next_member(&p, end))
			return p;
	}
}

/*
 * The members of the "userIdentity" object at p (after its opening brace):
 * the place after its closing brace, NULL on anything unusual.
 */
static const char *
fast_record_identity(const char *p, const char *end, RecordFields *f)
{
	for (;;)
	{
		if (AT(p, "\"PrincipalId\":\""))
			f->has.identity_principal =
				(p = fast_plain_string(p + 14, end, &f->identity_principal)) != NULL;
		else if (AT(p, "\"Type\":\""))
			f->has.identity_type = (p = fast_plain_string(p + 7, end, &f->identity_type)) != NULL;
		else
			return NULL;
		if (!fast_next_member(&p, end))
			return p;
	}
}

/*
 * The record's object as AWS writes it (compact; the members it has always
 * had; names and metadata strings without escapes), read with no generic
 * step: each member's name and the start of its value compared at once,
 * strings ended by find_special, numbers by skip_digits.  It reads the
 * same fields as scan_record, takes only what scan_record reads the same
 * way, and gives up (false) on anything else: a member it does not know (a
 * member AWS adds), whitespace, an escape, an empty object, an image that
 * is not well formed.  read_record then has scan_record read the record
 * again from its start, which says what is wrong.  *stop gets the place
 * after the record's closing brace.
 */
static bool
fast_scan_record(TransformState *img, const char *p, const char *end, RecordFields *f,
				 const char **stop)
{
	record_fields_reset(f);
	if (p >= end || *p != '{')
		return false;
	p++;
	for (;;)
	{
		if (AT(p, "\"eventID\":\""))
			f->has.event_id = (p = fast_plain_string(p + 10, end, &f->event_id)) != NULL;
		else if (AT(p, "\"eventName\":\""))
			f->has.event_name = (p = fast_plain_string(p + 12, end, &f->event_name)) != NULL;
		else if (AT(p, "\"eventVersion\":\""))
			p = fast_skip_string(p + 15, end);
		else if (AT(p, "\"eventSource\":\""))
			p = fast_skip_string(p + 14, end);
		else if (AT(p, "\"awsRegion\":\""))
			f->has.region = (p = fast_plain_string(p + 12, end, &f->region)) != NULL;
		else if (AT(p, "\"dynamodb\":{"))
		{
			f->has.ddb = true;
			p = fast_record_dynamodb(img, p + 12, end, f);
		}
		else if (AT(p, "\"userIdentity\":{"))
		{
			f->has.identity = true;
			p = fast_record_identity(p + 16, end, f);
		}
		else
			return false;
		if (!fast_next_member(&p, end))
		{
			*stop = p;
			return p != NULL;
		}
	}
}

#undef AT

uint64_t	audit_transform_fast_records = 0;

size_t
audit_transform_scratch_capacity(void)
{
	return scratch.cap;
}

/*
 * Reads the record at s->p into f: by fast_scan_record, or, when it gives
 * up, by scan_record from the start again, with what the first reading
 * wrote to the scratch buffer dropped.
 */
static bool
read_record(TransformState *st, TransformState *img, Scan *s, RecordFields *f)
{
	const char *start = s->p;

	if (audit_transform_fast_walk && fast_scan_record(img, s->p, s->end, f, &s->p))
	{
		audit_transform_fast_records++;
		return true;
	}
	scratch.len = 0;
	scratch.oom = false;
	if (st->errbuf && st->errlen > 0)
		st->errbuf[0] = '\0';
	s->p = start;
	return scan_record(st, img, s, f);
}

/* ApproximateCreationDateTime's number text as the event time. */
static bool
write_event_time_span(AuditBuf *out, const Span *span, double *seconds)
{
	char		text[64];
	char	   *end;
	double		t;

	if (span->len == 0 || span->len >= sizeof(text) || span->p[0] == '"')
		return false;
	/*
	 * What the stream gives, without strtod: whole seconds (exact below
	 * 2^53), or below 2^31 with up to six fraction digits, where the double
	 * strtod gives is within 0.25 us of the text, so the microseconds
	 * write_event_time rounds it to are the fraction digits.
	 */
	if (span->len <= 15)
	{
		int64_t		whole = 0;
		int64_t		us = 0;
		size_t		i;
		size_t		nfrac;

		for (i = 0; i < span->len && span->p[i] >= '0' && span->p[i] <= '9'; i++)
			whole = whole * 10 + (span->p[i] - '0');
		if (i == span->len)
		{
			*seconds = (double) whole;
			return write_event_time(out, (double) whole);
		}
		if (i > 0 && span->p[i] == '.' && whole < ((int64_t) 1 << 31))
		{
			for (i++, nfrac = 0; i < span->len && nfrac < 6 &&
				 span->p[i] >= '0' && span->p[i] <= '9'; i++, nfrac++)
				us = us * 10 + (span->p[i] - '0');
			if (i == span->len && nfrac > 0)
			{
				for (; nfrac < 6; nfrac++)
					us *= 10;
				*seconds = (double) whole + us / 1e6;
				return write_event_time_parts(out, whole, us);
			}
		}
	}
	memcpy(text, span->p, span->len);
	text[span->len] = '\0';
	if (strcmp(text, "null") == 0)
	{
		APPEND_LITERAL(out, "null");
		*seconds = 0;
		return true;
	}
	t = strtod(text, &end);
	if (*end != '\0')
		return false;
	*seconds = t;
	return write_event_time(out, t);
}

/*
 * The last AUDIT_KEY_HASH_DIGITS hex digits of the SHA-256 of len bytes,
 * lower case, NUL-terminated (the key_hash of one key attribute).
 */
void
audit_key_hash(const char *text, size_t len, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	/*
	 * Nettle's SHA-256 (FIPS 180-4), on a context on the stack: a key is a
	 * few bytes, and OpenSSL 3's EVP calls (provider dispatch, a context
	 * cleansed and reset on every digest) cost more than hashing them.
	 */
	struct sha256_ctx ctx;
	uint8_t		md[SHA256_DIGEST_SIZE];
	int			from = SHA256_DIGEST_SIZE - AUDIT_KEY_HASH_DIGITS / 2;

	sha256_init(&ctx);
	sha256_update(&ctx, len, (const uint8_t *) text);
	sha256_digest(&ctx, SHA256_DIGEST_SIZE, md);
	for (int i = from; i < SHA256_DIGEST_SIZE; i++)
	{
		*hex++ = digits[md[i] >> 4];
		*hex++ = digits[md[i] & 0xf];
	}
	*hex = '\0';
}

/*
 * Writes ,"key_hash":{...} for the keys object (the unmarshalled text in
 * keys, keys_len bytes): one member per key attribute whose value is a
 * string (its decoded content is hashed) or a number (its text).  Nothing
 * when no attribute qualifies.
 */
static bool
write_key_hashes(TransformState *st, const char *keys, size_t keys_len)
{
	Scan		s;
	bool		first = true;

	s.p = keys;
	s.end = keys + keys_len;
	if (!expect(&s, '{') || expect(&s, '}'))
		return true;
	do
	{
		Span		name;
		Span		value;
		char		stackbuf[256];
		char	   *heap = NULL;
		const char *text;
		size_t		len;
		char		hex[AUDIT_KEY_HASH_DIGITS + 1];
		char	   *w;

		if (!scan_string(&s, &name) || !expect(&s, ':'))
			return bad_record(st, "malformed keys", NULL);
		skip_ws(&s);
		if (s.p < s.end && *s.p == '"')
		{
			if (!scan_string(&s, &value))
				return bad_record(st, "malformed keys", NULL);
			if (!span_content(st, &value, &heap, &text, &len, stackbuf, sizeof(stackbuf)))
			{
				free(heap);
				return false;
			}
		}
		else
		{
			bool		number = s.p < s.end && (*s.p == '-' || (*s.p >= '0' && *s.p <= '9'));

			if (!skip_value(&s, 0, &value))
				return bad_record(st, "malformed keys", NULL);
			if (!number)
				continue;
			text = value.p;
			len = value.len;
		}
		audit_key_hash(text, len, hex);
		free(heap);
		if (!audit_buf_reserve(st->out, name.len + AUDIT_KEY_HASH_DIGITS + 20))
			return false;
		w = st->out->data + st->out->len;
		if (first)
			w = PUT_LITERAL(w, ",\"key_hash\":{");
		else
			*w++ = ',';
		first = false;
		w = put_span_string(w, &name);
		w = PUT_LITERAL(w, ":\"");
		w = put_bytes(w, hex, AUDIT_KEY_HASH_DIGITS);
		*w++ = '"';
		st->out->len = w - st->out->data;
	} while (expect(&s, ','));
	if (!first)
		buf_putc(st->out, '}');
	return true;
}

/* ---- attribute folders ---- */

bool
audit_transform_set_folders(const char *attribute, const char *const *values, int nvalues)
{
	for (int i = 0; i < folders.nvalues; i++)
		free(folders.values[i]);
	free(folders.values);
	free(folders.value_lens);
	free(folders.attribute);
	memset(&folders, 0, sizeof(folders));
	if (attribute == NULL)
		return true;
	folders.attribute = strdup(attribute);
	folders.values = calloc(nvalues > 0 ? nvalues : 1, sizeof(char *));
	folders.value_lens = calloc(nvalues > 0 ? nvalues : 1, sizeof(size_t));
	if (folders.attribute == NULL || folders.values == NULL || folders.value_lens == NULL)
	{
		free(folders.attribute);
		free(folders.values);
		free(folders.value_lens);
		memset(&folders, 0, sizeof(folders));
		return false;
	}
	folders.attribute_len = strlen(attribute);
	for (int i = 0; i < nvalues; i++)
	{
		if ((folders.values[i] = strdup(values[i])) == NULL)
		{
			folders.nvalues = i;
			audit_transform_set_folders(NULL, NULL, 0);
			return false;
		}
		folders.value_lens[i] = strlen(values[i]);
		folders.nvalues = i + 1;
	}
	return true;
}

/* Whether the n bytes at a and b are equal but for the case of ASCII letters */
static bool
ascii_case_equal(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		unsigned char x = a[i];
		unsigned char y = b[i];

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
	}
	return true;
}

/*
 * Whether a string span's content, decoded, is the len bytes at text
 * (*equal), but for the case of ASCII letters with fold_case; false when
 * out of memory.
 */
static bool
span_equals(TransformState *st, const Span *span, const char *text, size_t len, bool fold_case,
			bool *equal)
{
	char		stackbuf[128];
	char	   *heap;
	const char *content;
	size_t		clen;

	*equal = false;
	/* an escape is 2 to 12 bytes for 1 to 4: the content is no longer */
	if (span->len < len || (!span->escaped && span->len != len))
		return true;
	if (!span_content(st, span, &heap, &content, &clen, stackbuf, sizeof(stackbuf)))
	{
		free(heap);
		return !st->out->oom;
	}
	*equal = clen == len && (fold_case ? ascii_case_equal(content, text, len) :
							 memcmp(content, text, len) == 0);
	free(heap);
	return true;
}

/*
 * The declared value a string literal's content (text) is, byte for byte
 * once decoded: its index, or -1.  False when out of memory.
 */
static bool
declared_folder(TransformState *st, const Span *text, int *which)
{
	*which = -1;
	for (int i = 0; i < folders.nvalues; i++)
	{
		bool		equal;

		if (!span_equals(st, text, folders.values[i], folders.value_lens[i], false, &equal))
			return false;
		if (equal)
		{
			*which = i;
			break;
		}
	}
	return true;
}

/*
 * The type of the attribute value at p (read already, so well-formed):
 * 'S', 'Z' for NULL, 'O' for any other.
 */
static char
attribute_type(const char *p, const char *end)
{
	Scan		s = {p, end};
	Span		type;
	char		typebuf[16];
	const char *t = typebuf;
	size_t		tlen = 0;

	if (!expect(&s, '{') || !scan_string(&s, &type))
		return 'O';
	if (!type.escaped)
	{
		t = type.p;
		tlen = type.len;
	}
	else if (!unescape(&type, typebuf, sizeof(typebuf), &tlen))
		return 'O';
	if (tlen == 1 && t[0] == 'S')
		return 'S';
	return tlen == 4 && memcmp(t, "NULL", 4) == 0 ? 'Z' : 'O';
}

/*
 * A top-level member of a new image, as its walker wrote it to st->out
 * (the name's literal at name_off, its value's text at value_off, up to the
 * end), whose value's type is type (as attribute_type says): when the name
 * is the folder attribute's (ASCII case-insensitively; the last such member
 * counts, as json.loads keeps it), st->folder gets its folder: _none for
 * NULL, the declared value an S value is byte for byte once decoded,
 * _other for anything else.  False when out of memory.
 */
static bool
folder_member(TransformState *st, size_t name_off, size_t value_off, char type)
{
	const char *data = st->out->data;
	/* "name": */
	Span		name = {data + name_off + 1, value_off - name_off - 3, false};
	Span		text;
	bool		equal;

	if (name.len < folders.attribute_len)
		return true;
	name.escaped = memchr(name.p, '\\', name.len) != NULL;
	if (!span_equals(st, &name, folders.attribute, folders.attribute_len, true, &equal))
		return false;
	if (!equal)
		return true;
	if (type != 'S')
	{
		st->folder->which = type == 'Z' ? FOLDER_NONE : FOLDER_OTHER;
		return true;
	}
	/* an S value is written as its literal */
	text.p = data + value_off + 1;
	text.len = st->out->len - value_off - 2;
	text.escaped = memchr(text.p, '\\', text.len) != NULL;
	return declared_folder(st, &text, &st->folder->which);
}

/* Writes ,"attribute_folder":"<f>" for the new image's folder (which). */
static void
write_attribute_folder(AuditBuf *out, int which)
{
	APPEND_LITERAL(out, ",\"attribute_folder\":\"");
	if (which >= 0)
		buf_append(out, folders.values[which], folders.value_lens[which]);
	else if (which == FOLDER_OTHER)
		APPEND_LITERAL(out, "_other");
	else
		APPEND_LITERAL(out, "_none");
	buf_putc(out, '"');
}

/*
 * The start of a transform: st writes to out, img to the scratch buffer
 * (emptied); errbuf and info cleared.  False when out ran out of memory
 * before.
 */
static bool
transform_begin(TransformState *st, TransformState *img, AuditBuf *out,
				AuditRecordInfo *info, char *errbuf, size_t errlen)
{
	st->out = out;
	st->errbuf = errbuf;
	st->errlen = errlen;
	st->folder = NULL;
	img->out = &scratch;
	img->errbuf = errbuf;
	img->errlen = errlen;
	img->folder = NULL;
	scratch.len = 0;
	scratch.oom = false;
	if (errbuf && errlen > 0)
		errbuf[0] = '\0';
	if (info)
		memset(info, 0, sizeof(*info));
	return !out->oom;
}

/*
 * The transform of the record whose text starts at json, within len bytes:
 * the whole of them (whole), or (a page's element) a prefix, whose end goes
 * to *record_end once the record was read.
 */
static AuditTransformResult
transform_record(const char *json, size_t len, bool whole, const char **record_end,
				 const char *shard_id, const char *source_table, AuditBuf *out,
				 AuditRecordInfo *info, char *errbuf, size_t errlen)
{
	TransformState st;
	TransformState img;
	RecordFields f;
	Scan		s;
	size_t		start = out->len;
	double		seconds = 0;
	char	   *w;
	size_t		shard_len,
				table_len;

	if (!transform_begin(&st, &img, out, info, errbuf, errlen))
		return AUDIT_TRANSFORM_OUT_OF_MEMORY;

	s.p = json;
	s.end = json + len;
	if (read_record(&st, &img, &s, &f))
	{
		*record_end = s.p;
		skip_ws(&s);
		if (whole && s.p != s.end)
		{
			bad_record(&st, "text after the stream record", NULL);
			return AUDIT_TRANSFORM_BAD_RECORD;
		}
	}
	else
	{
		if (scratch.oom)
		{
			out->oom = true;
			return AUDIT_TRANSFORM_OUT_OF_MEMORY;
		}
		if (errbuf && errlen > 0 && errbuf[0] == '\0')
			bad_record(&st, "malformed stream record", NULL);
		return AUDIT_TRANSFORM_BAD_RECORD;
	}
	if (!f.has.ddb)
	{
		bad_record(&st, "stream record has no \"dynamodb\" object", NULL);
		return AUDIT_TRANSFORM_BAD_RECORD;
	}
	if (!f.has.event_id)
	{
		bad_record(&st, "stream record has no eventID", NULL);
		return AUDIT_TRANSFORM_BAD_RECORD;
	}
	if (!f.has.seq)
	{
		bad_record(&st, "stream record has no SequenceNumber", NULL);
		return AUDIT_TRANSFORM_BAD_RECORD;
	}
	if (info)
	{
		info->sequence_number = f.seq.p;
		info->sequence_number_len = f.seq.len;
		info->event_id = f.event_id.p;
		info->event_id_len = f.event_id.len;
	}

	/*
	 * The audit record, written through the cursor w, with room made first
	 * for what follows up to the next call that writes through out (the
	 * event time, the key hashes): the literals' copies compile to a few
	 * moves, and out's length is stored once a part.
	 */
	if (!audit_buf_reserve(out, HEADER_LITERALS + f.event_id.len +
						   (f.has.event_name ? f.event_name.len : 0)))
		goto fail;
	w = out->data + out->len;
	w = PUT_LITERAL(w, "{\"event_id\":");
	w = put_span_string(w, &f.event_id);
	if (f.has.event_name)
	{
		w = PUT_LITERAL(w, ",\"event_name\":");
		w = put_span_string(w, &f.event_name);
	}
	w = PUT_LITERAL(w, ",\"event_time\":");
	if (!f.has.when)
		w = PUT_LITERAL(w, "null");
	else
	{
		out->len = w - out->data;
		if (!write_event_time_span(out, &f.when, &seconds))
		{
			bad_record(&st, "ApproximateCreationDateTime is not a time", NULL);
			goto fail;
		}
		w = out->data + out->len;
	}
	if (info)
		info->approximate_time = seconds;
	shard_len = shard_id ? strlen(shard_id) : 0;
	table_len = source_table ? strlen(source_table) : 0;
	out->len = w - out->data;
	if (!audit_buf_reserve(out, HEADER_LITERALS + f.seq.len + 6 * (shard_len + table_len) +
						   (f.has.region ? f.region.len : 0) +
						   (f.has.identity_type ? f.identity_type.len : 0) +
						   (f.has.identity_principal ? f.identity_principal.len : 0) +
						   (f.has.keys ? f.keys_len : 0)))
		goto fail;
	w = out->data + out->len;
	w = PUT_LITERAL(w, ",\"sequence_number\":");
	w = put_span_string(w, &f.seq);
	w = PUT_LITERAL(w, ",\"shard_id\":");
	w = put_cstring_or_null(out, w, shard_id, shard_len);
	w = PUT_LITERAL(w, ",\"source_table\":");
	w = put_cstring_or_null(out, w, source_table, table_len);
	w = PUT_LITERAL(w, ",\"aws_region\":");
	if (f.has.region)
		w = put_span_string(w, &f.region);
	else
		w = PUT_LITERAL(w, "null");
	if (f.has.identity)
	{
		w = PUT_LITERAL(w, ",\"user_identity\":{\"type\":");
		if (f.has.identity_type)
			w = put_span_string(w, &f.identity_type);
		else
			w = PUT_LITERAL(w, "null");
		w = PUT_LITERAL(w, ",\"principal_id\":");
		if (f.has.identity_principal)
			w = put_span_string(w, &f.identity_principal);
		else
			w = PUT_LITERAL(w, "null");
		*w++ = '}';
	}
	if (f.has.keys)
	{
		w = PUT_LITERAL(w, ",\"keys\":");
		if (info)
		{
			info->keys_offset = w - out->data;
			info->keys_len = f.keys_len;
		}
		w = put_bytes(w, scratch.data + f.keys_off, f.keys_len);
		out->len = w - out->data;
		if (!write_key_hashes(&st, scratch.data + f.keys_off, f.keys_len))
			goto fail;
	}
	else
		out->len = w - out->data;
	if (!audit_buf_reserve(out, HEADER_LITERALS + (f.has.new ? f.new_len : 0) +
						   (f.has.old ? f.old_len : 0)))
		goto fail;
	w = out->data + out->len;
	if (f.has.new)
	{
		w = PUT_LITERAL(w, ",\"new_image\":");
		w = put_bytes(w, scratch.data + f.new_off, f.new_len);
	}
	if (f.has.old)
	{
		w = PUT_LITERAL(w, ",\"old_image\":");
		w = put_bytes(w, scratch.data + f.old_off, f.old_len);
	}
	out->len = w - out->data;
	if (folders.attribute != NULL)
		write_attribute_folder(out, f.has.new ? f.folder.which : FOLDER_NONE);
	APPEND_LITERAL(out, "}\n");
	if (out->oom)
		goto fail;
	return AUDIT_TRANSFORM_OK;

fail:
	if (out->data)
	{
		out->len = start;
		out->data[start] = '\0';
	}
	if (info)
	{
		info->keys_offset = 0;
		info->keys_len = 0;
	}
	return out->oom ? AUDIT_TRANSFORM_OUT_OF_MEMORY : AUDIT_TRANSFORM_BAD_RECORD;
}

AuditTransformResult
audit_transform_record_text(const char *json, size_t len, const char *shard_id,
							const char *source_table, AuditBuf *out,
							AuditRecordInfo *info, char *errbuf, size_t errlen)
{
	const char *end;

	return transform_record(json, len, true, &end, shard_id, source_table, out, info,
							errbuf, errlen);
}

AuditTransformResult
audit_transform_record_at(const char *json, size_t avail, size_t *record_len,
						  const char *shard_id, const char *source_table, AuditBuf *out,
						  AuditRecordInfo *info, char *errbuf, size_t errlen)
{
	const char *end = NULL;
	AuditTransformResult r;

	r = transform_record(json, avail, false, &end, shard_id, source_table, out, info,
						 errbuf, errlen);
	if (end == NULL)
	{
		/* not read to its end: its brackets find it, as a page's walk does */
		Scan		s = {json, json + avail};
		Span		span;

		end = skip_record(&s, &span) ? span.p + span.len : json;
	}
	*record_len = end - json;
	return r;
}

/*
 * Walks a GetRecords response body: calls fn for the text of each element
 * of Records, in order, and gives NextShardIterator's content (NULL when
 * null or absent).  Returns false, with errbuf set, when the body is not
 * such a response; fn returning false stops the walk (also false).
 */
/*
 * Walks a response object: fn gets the text of each element of its array
 * member `array` (whose count goes to *nelems), member() each other member
 * (it reads the value, or returns false to have it skipped; *bad set means
 * the value was malformed).  False with errbuf set when the body is not such
 * an object (or fn returned false).
 */
typedef bool (*PageMemberFn) (void *arg, Scan *s, const Span *key, bool *bad);

static bool
walk_page(const char *body, size_t len, const char *array, size_t array_len,
		  bool (*fn) (void *arg, const char *elem, size_t len),
		  AuditRecordAtFn at, void *arg,
		  PageMemberFn member, void *member_arg, int *nelems,
		  char *errbuf, size_t errlen)
{
	Scan		s;
	TransformState st;
	bool		saw_array = false;

	st.out = NULL;
	st.errbuf = errbuf;
	st.errlen = errlen;
	*nelems = 0;
	s.p = body;
	s.end = body + len;
	if (!expect(&s, '{'))
		return bad_record(&st, "the response is not a JSON object", NULL);
	if (expect(&s, '}'))
		return bad_record(&st, "the response has no %s array", array);
	do
	{
		Span		key;
		bool		bad = false;

		if (!scan_string(&s, &key) || !expect(&s, ':'))
			return bad_record(&st, "malformed response", NULL);
		skip_ws(&s);
		if (span_is(&key, array, array_len) && peek_is(&s, '['))
		{
			s.p++;
			saw_array = true;
			if (!expect(&s, ']'))
			{
				do
				{
					Span		elem;

					if (at != NULL)
					{
						/* fn reads the element and says where it ended */
						skip_ws(&s);
						elem.len = 0;
						if (s.p < s.end && (*s.p == '{' || *s.p == '[') &&
							!at(arg, s.p, s.end - s.p, &elem.len))
							return false;
						if (elem.len == 0)
							return bad_record(&st, "malformed element of %s", array);
						s.p += elem.len;
						(*nelems)++;
						continue;
					}
					if (!skip_record(&s, &elem))
						return bad_record(&st, "malformed element of %s", array);
					(*nelems)++;
					if (!fn(arg, elem.p, elem.len))
						return false;
				} while (expect(&s, ','));
				if (!expect(&s, ']'))
					return bad_record(&st, "malformed %s array", array);
			}
		}
		else if (!member(member_arg, &s, &key, &bad))
		{
			if (bad)
			{
				char		name[64];

				snprintf(name, sizeof(name), "%.*s", (int) (key.len < 40 ? key.len : 40), key.p);
				return bad_record(&st, "malformed %s", name);
			}
			if (!skip_value(&s, 0, NULL))
				return bad_record(&st, "malformed response", NULL);
		}
	} while (expect(&s, ','));
	if (!expect(&s, '}'))
		return bad_record(&st, "malformed response", NULL);
	if (!saw_array)
		return bad_record(&st, "the response has no %s array", array);
	return true;
}

/* A GetRecords page's NextShardIterator. */
typedef struct RecordsPageRest
{
	const char **next_iterator;
	size_t	   *next_iterator_len;
} RecordsPageRest;

static bool
records_page_member(void *arg, Scan *s, const Span *key, bool *bad)
{
	RecordsPageRest *rest = arg;
	Span		it;

	if (!SPAN_IS(key, "NextShardIterator") || !peek_is(s, '"'))
		return false;
	if (!scan_string(s, &it))
	{
		*bad = true;
		return false;
	}
	*rest->next_iterator = it.p;
	*rest->next_iterator_len = it.len;
	return true;
}

/*
 * Walks a GetRecords response body: calls fn for the text of each element
 * of Records, in order, and gives NextShardIterator's content (NULL when
 * null or absent).  Returns false, with errbuf set, when the body is not
 * such a response; fn returning false stops the walk (also false).
 */
bool
audit_scan_records_page(const char *body, size_t len,
						bool (*fn) (void *arg, const char *record, size_t len),
						void *arg, const char **next_iterator,
						size_t *next_iterator_len, int *nrecords,
						char *errbuf, size_t errlen)
{
	RecordsPageRest rest = {next_iterator, next_iterator_len};

	*next_iterator = NULL;
	*next_iterator_len = 0;
	return walk_page(body, len, "Records", 7, fn, NULL, arg, records_page_member, &rest,
					 nrecords, errbuf, errlen);
}

bool
audit_walk_records_page(const char *body, size_t len, AuditRecordAtFn fn, void *arg,
						const char **next_iterator, size_t *next_iterator_len,
						int *nrecords, char *errbuf, size_t errlen)
{
	RecordsPageRest rest = {next_iterator, next_iterator_len};

	*next_iterator = NULL;
	*next_iterator_len = 0;
	return walk_page(body, len, "Records", 7, NULL, fn, arg, records_page_member, &rest,
					 nrecords, errbuf, errlen);
}

/* ---- snapshot records: an item read by a Scan ---- */

/* FNV-1a, 64 bits: an item's identity in its snapshot record's event id. */
static uint64_t
fnv1a64(const char *p, size_t len)
{
	uint64_t	h = UINT64_C(14695981039346656037);

	while (len-- > 0)
	{
		h ^= (unsigned char) *p++;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

AuditTransformResult
audit_transform_item_text(const char *item, size_t len, const char *event_id_prefix,
						  double read_time, const char *source_table,
						  const char *region, const char *const *key_names, int nkeys,
						  AuditBuf *out, AuditRecordInfo *info,
						  char *errbuf, size_t errlen)
{
	TransformState st;
	TransformState img;
	Scan		s;
	size_t		start = out->len;
	size_t		key_off[AUDIT_MAX_KEYS];
	size_t		key_len[AUDIT_MAX_KEYS];
	size_t		keys_start;
	size_t		id_start;
	int			i;
	char		hex[17];
	FolderMatch folder = {FOLDER_NONE};

	if (!transform_begin(&st, &img, out, info, errbuf, errlen))
		return AUDIT_TRANSFORM_OUT_OF_MEMORY;
	if (nkeys < 1 || nkeys > AUDIT_MAX_KEYS)
	{
		bad_record(&st, "a table has one or two key attributes", NULL);
		return AUDIT_TRANSFORM_BAD_RECORD;
	}
	for (i = 0; i < nkeys; i++)
		key_len[i] = 0;

	/* the item, as new_image, into the scratch buffer; where its keys are */
	s.p = item;
	s.end = item + len;
	if (!expect(&s, '{'))
	{
		bad_record(&st, "the item is not an object", NULL);
		return AUDIT_TRANSFORM_BAD_RECORD;
	}
	buf_putc(&scratch, '{');
	if (!expect(&s, '}'))
	{
		bool		first = true;

		do
		{
			size_t		name_off;
			size_t		value_off;

			const char *value;

			if (!first)
				buf_putc(&scratch, ',');
			first = false;
			name_off = scratch.len;
			if (!copy_string(&s, &scratch) || !expect(&s, ':'))
				goto bad_item;
			buf_putc(&scratch, ':');
			value_off = scratch.len;
			skip_ws(&s);
			value = s.p;
			if (!write_av_text(&img, &s, 0))
				goto bad_item;
			if (folders.attribute != NULL)
			{
				bool		found;

				img.folder = &folder;
				found = !scratch.oom &&
					folder_member(&img, name_off, value_off, attribute_type(value, s.p));
				img.folder = NULL;
				if (!found)
					goto bad_item;
			}
			/* "name": as written (key names have no escapes) */
			for (i = 0; i < nkeys; i++)
			{
				size_t		klen = strlen(key_names[i]);

				if (value_off - name_off == klen + 3 &&
					memcmp(scratch.data + name_off + 1, key_names[i], klen) == 0)
				{
					key_off[i] = name_off;
					key_len[i] = scratch.len - name_off;
				}
			}
		} while (expect(&s, ','));
		if (!expect(&s, '}'))
			goto bad_item;
	}
	buf_putc(&scratch, '}');
	skip_ws(&s);
	if (s.p != s.end)
		goto bad_item;
	if (scratch.oom)
	{
		out->oom = true;
		return AUDIT_TRANSFORM_OUT_OF_MEMORY;
	}
	for (i = 0; i < nkeys; i++)
		if (key_len[i] == 0)
		{
			bad_record(&st, "the item lacks key attribute \"%s\"", key_names[i]);
			return AUDIT_TRANSFORM_BAD_RECORD;
		}

	/* the keys in the key schema's order: their hash names the record */
	APPEND_LITERAL(out, "{\"event_id\":\"");
	id_start = out->len;
	audit_buf_append(out, event_id_prefix, strlen(event_id_prefix));
	APPEND_LITERAL(out, "0123456789abcdef\",\"event_name\":\"SNAPSHOT\",\"event_time\":");
	if (!write_event_time(out, read_time))
	{
		bad_record(&st, "the read time is not a time", NULL);
		goto fail;
	}
	APPEND_LITERAL(out, ",\"sequence_number\":\"\",\"shard_id\":null,\"source_table\":");
	write_cstring_or_null(out, source_table);
	APPEND_LITERAL(out, ",\"aws_region\":");
	write_cstring_or_null(out, region);
	APPEND_LITERAL(out, ",\"keys\":");
	keys_start = out->len;
	buf_putc(out, '{');
	for (i = 0; i < nkeys; i++)
	{
		if (i > 0)
			buf_putc(out, ',');
		buf_append(out, scratch.data + key_off[i], key_len[i]);
	}
	buf_putc(out, '}');
	if (out->oom)
		goto fail;
	{
		/* the keys object's length; its hash names the record */
		size_t		klen = out->len - keys_start;
		char	   *keys_copy;
		bool		ok;

		snprintf(hex, sizeof(hex), "%016llx",
				 (unsigned long long) fnv1a64(out->data + keys_start, klen));
		memcpy(out->data + id_start + strlen(event_id_prefix), hex, 16);
		/* key_hash reads the keys while it appends to out: from a copy */
		keys_copy = malloc(klen);
		if (keys_copy == NULL)
		{
			out->oom = true;
			goto fail;
		}
		memcpy(keys_copy, out->data + keys_start, klen);
		ok = write_key_hashes(&st, keys_copy, klen);
		free(keys_copy);
		if (!ok)
			goto fail;
		APPEND_LITERAL(out, ",\"new_image\":");
		buf_append(out, scratch.data, scratch.len);
		if (folders.attribute != NULL)
			write_attribute_folder(out, folder.which);
		APPEND_LITERAL(out, "}\n");
		if (out->oom)
			goto fail;
		if (info)
		{
			info->keys_offset = keys_start;
			info->keys_len = klen;
			info->approximate_time = read_time;
			info->sequence_number = "";
			info->sequence_number_len = 0;
			info->event_id = out->data + id_start;
			info->event_id_len = strlen(event_id_prefix) + 16;
		}
	}
	return AUDIT_TRANSFORM_OK;

bad_item:
	if (scratch.oom)
	{
		out->oom = true;
		return AUDIT_TRANSFORM_OUT_OF_MEMORY;
	}
	if (errbuf && errlen > 0 && errbuf[0] == '\0')
		bad_record(&st, "malformed item", NULL);
	return AUDIT_TRANSFORM_BAD_RECORD;

fail:
	if (out->data)
	{
		out->len = start;
		out->data[start] = '\0';
	}
	return out->oom ? AUDIT_TRANSFORM_OUT_OF_MEMORY : AUDIT_TRANSFORM_BAD_RECORD;
}

/* A number's text as a double (CapacityUnits), false when it is none. */
static bool
span_double(const Span *span, double *value)
{
	char		text[64];
	char	   *end;

	if (span->len == 0 || span->len >= sizeof(text))
		return false;
	memcpy(text, span->p, span->len);
	text[span->len] = '\0';
	*value = strtod(text, &end);
	return *end == '\0';
}

/* A Scan page's LastEvaluatedKey, ScannedCount and ConsumedCapacity. */
static bool
items_page_member(void *arg, Scan *s, const Span *key, bool *bad)
{
	AuditScanPage *page = arg;
	Span		v;
	double		d;

	if (SPAN_IS(key, "LastEvaluatedKey") && peek_is(s, '{'))
	{
		if (!(*bad = !skip_record(s, &v)))
		{
			page->last_evaluated_key = v.p;
			page->last_evaluated_key_len = v.len;
		}
		return !*bad;
	}
	if (SPAN_IS(key, "ScannedCount"))
	{
		/* a count: what no long can hold (or below 0) is not one */
		if (!(*bad = !skip_value(s, 0, &v) || !span_double(&v, &d) ||
			  !(d >= 0 && d < 9.2e18)))
			page->scanned_count = (long) d;
		return !*bad;
	}
	if (!SPAN_IS(key, "ConsumedCapacity") || !peek_is(s, '{'))
		return false;
	s->p++;
	if (expect(s, '}'))
		return true;
	do
	{
		Span		ckey;

		if (!scan_string(s, &ckey) || !expect(s, ':'))
			return !(*bad = true);
		skip_ws(s);
		if (SPAN_IS(&ckey, "CapacityUnits"))
		{
			if (!skip_value(s, 1, &v) || !span_double(&v, &page->consumed_capacity))
				return !(*bad = true);
			page->has_consumed_capacity = true;
		}
		else if (!skip_value(s, 1, NULL))
			return !(*bad = true);
	} while (expect(s, ','));
	if (!expect(s, '}'))
		return !(*bad = true);
	return true;
}

bool
audit_scan_items_page(const char *body, size_t len,
					  bool (*fn) (void *arg, const char *item, size_t len),
					  void *arg, AuditScanPage *page, char *errbuf, size_t errlen)
{
	memset(page, 0, sizeof(*page));
	return walk_page(body, len, "Items", 5, fn, NULL, arg, items_page_member, page,
					 &page->nitems, errbuf, errlen);
}

/* ---- the record from a json-c object ---- */

/*
 * One attribute value's text ({"S": "x"}, {"M": {...}}) or, with item, an
 * item's attribute map ({"name": {"S": "x"}, ...}), unmarshalled as the
 * images of an audit record are: what a foreign table over the live table
 * reads into its jsonb columns, so both sides of a join see one form.
 */
AuditTransformResult
audit_unmarshal_text(const char *json, size_t len, bool item, AuditBuf *out,
					 char *errbuf, size_t errlen)
{
	TransformState st;
	Scan		s;
	size_t		start = out->len;
	bool		ok;

	st.out = out;
	st.errbuf = errbuf;
	st.errlen = errlen;
	st.folder = NULL;
	if (errbuf && errlen > 0)
		errbuf[0] = '\0';
	if (out->oom)
		return AUDIT_TRANSFORM_OUT_OF_MEMORY;
	s.p = json;
	s.end = json + len;
	ok = item ? write_map_text(&st, &s, 0) : write_av_text(&st, &s, 0);
	if (ok)
	{
		skip_ws(&s);
		if (s.p != s.end)
			ok = bad_record(&st, "text after the attribute value", NULL);
	}
	if (out->oom)
	{
		out->len = start;
		return AUDIT_TRANSFORM_OUT_OF_MEMORY;
	}
	if (!ok)
	{
		out->len = start;
		return AUDIT_TRANSFORM_BAD_RECORD;
	}
	return AUDIT_TRANSFORM_OK;
}

/*
 * The same transform for a record already parsed by json-c: it is written
 * back as JSON text and read as above, so both entry points keep one set
 * of rules.  info's sequence number and event id point into text that
 * lives as long as record.
 */
AuditTransformResult
audit_transform_record(json_object *record, const char *shard_id,
					   const char *source_table, AuditBuf *out,
					   AuditRecordInfo *info, char *errbuf, size_t errlen)
{
	const char *text;
	size_t		len;

	if (record == NULL || !json_object_is_type(record, json_type_object))
	{
		if (errbuf && errlen > 0)
			snprintf(errbuf, errlen, "stream record is not an object");
		if (info)
			memset(info, 0, sizeof(*info));
		return out->oom ? AUDIT_TRANSFORM_OUT_OF_MEMORY : AUDIT_TRANSFORM_BAD_RECORD;
	}
	text = json_object_to_json_string_length(record,
											 JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
											 &len);
	if (text == NULL)
	{
		out->oom = true;
		return AUDIT_TRANSFORM_OUT_OF_MEMORY;
	}
	return audit_transform_record_text(text, len, shard_id, source_table, out, info,
									   errbuf, errlen);
}
