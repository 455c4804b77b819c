/*-------------------------------------------------------------------------
 *
 * csv.c
 *		An incremental reader of Athena's result CSV (see csv.h).
 *
 * A state machine over bytes, resumable at any byte: a record split across
 * two reads is continued, never parsed again.  Decoded field bytes go to
 * one growing buffer per record, so the raw input buffer only ever holds
 * bytes not yet looked at.  Quoted fields (Athena quotes every value) are
 * copied in runs found with memchr.
 *
 * Pure C: no PostgreSQL headers, allocation through the caller's
 * functions.
 *
 *-------------------------------------------------------------------------
 */
#include "csv.h"

#include <stdio.h>
#include <string.h>

#define CSV_INPUT_CHUNK		(256 * 1024)

typedef enum CsvState
{
	ST_FIELD_START,
	ST_UNQUOTED,
	ST_QUOTED,
	ST_QUOTE_IN_QUOTED,			/* a quote inside a quoted field */
	ST_CR,						/* a carriage return ending a record */
	ST_DONE
} CsvState;

struct CsvReader
{
	CsvAllocFn	alloc_fn;
	CsvReallocFn realloc_fn;
	CsvFreeFn	free_fn;
	size_t		max_record;

	/* raw input not yet parsed: in[pos..end) */
	char	   *in;
	size_t		in_cap;
	size_t		pos;
	size_t		end;
	bool		finished;

	/* the record being decoded */
	char	   *out;
	size_t		out_len;
	size_t		out_cap;
	size_t		field_start;	/* offset in out of the current field */
	bool		field_quoted;
	size_t	   *offsets;
	bool	   *nulls;
	char	  **fields;
	int			nfields;
	int			fields_cap;
	bool		returned;		/* the last call returned a record */

	CsvState	state;
	bool		cr_ended;		/* in ST_CR: the last field is already ended */
	unsigned long long records;
	char		error[160];
};

static bool out_reserve(CsvReader *r, size_t extra);
static bool end_field(CsvReader *r);
static CsvResult end_record(CsvReader *r, char ***fields, bool **nulls,
							int *nfields);
static CsvResult fail(CsvReader *r, const char *msg);
static bool too_long(CsvReader *r);

CsvReader *
csv_reader_create(size_t max_record_bytes, CsvAllocFn alloc_fn,
				  CsvReallocFn realloc_fn, CsvFreeFn free_fn)
{
	CsvReader  *r = alloc_fn(sizeof(CsvReader));

	if (r == NULL)
		return NULL;
	memset(r, 0, sizeof(CsvReader));
	r->alloc_fn = alloc_fn;
	r->realloc_fn = realloc_fn;
	r->free_fn = free_fn;
	r->max_record = max_record_bytes;
	r->in_cap = CSV_INPUT_CHUNK;
	r->in = alloc_fn(r->in_cap);
	r->out_cap = 4096;
	r->out = alloc_fn(r->out_cap);
	r->fields_cap = 16;
	r->offsets = alloc_fn(sizeof(size_t) * r->fields_cap);
	r->nulls = alloc_fn(sizeof(bool) * r->fields_cap);
	r->fields = alloc_fn(sizeof(char *) * r->fields_cap);
	if (!r->in || !r->out || !r->offsets || !r->nulls || !r->fields)
	{
		csv_reader_free(r);
		return NULL;
	}
	r->state = ST_FIELD_START;
	return r;
}

void
csv_reader_free(CsvReader *r)
{
	if (r == NULL)
		return;
	if (r->in)
		r->free_fn(r->in);
	if (r->out)
		r->free_fn(r->out);
	if (r->offsets)
		r->free_fn(r->offsets);
	if (r->nulls)
		r->free_fn(r->nulls);
	if (r->fields)
		r->free_fn(r->fields);
	r->free_fn(r);
}

void
csv_reader_reset(CsvReader *r)
{
	r->pos = r->end = 0;
	r->finished = false;
	r->out_len = 0;
	r->field_start = 0;
	r->field_quoted = false;
	r->nfields = 0;
	r->returned = false;
	r->state = ST_FIELD_START;
	r->records = 0;
	r->error[0] = '\0';
}

char *
csv_reader_space(CsvReader *r, size_t *len)
{
	if (r->pos > 0)
	{
		memmove(r->in, r->in + r->pos, r->end - r->pos);
		r->end -= r->pos;
		r->pos = 0;
	}
	*len = r->in_cap - r->end;
	return r->in + r->end;
}

void
csv_reader_wrote(CsvReader *r, size_t n)
{
	r->end += n;
}

void
csv_reader_finish(CsvReader *r)
{
	r->finished = true;
}

const char *
csv_reader_error(CsvReader *r)
{
	return r->error;
}

unsigned long long
csv_reader_records(CsvReader *r)
{
	return r->records;
}

static CsvResult
fail(CsvReader *r, const char *msg)
{
	snprintf(r->error, sizeof(r->error), "%s in record %llu", msg,
			 r->records + 1);
	r->state = ST_DONE;
	return CSV_ERROR;
}

/*
 * Whether the record being decoded is over the limit.  It is asked after
 * every run of bytes is decoded, before the byte that ended the run is
 * looked at, and at the end of input, so that the same input gives the same
 * answer wherever the network split it.
 */
static bool
too_long(CsvReader *r)
{
	return r->out_len > r->max_record;
}

/* Room for extra more decoded bytes plus a terminating NUL. */
static bool
out_reserve(CsvReader *r, size_t extra)
{
	size_t		need = r->out_len + extra + 1;

	if (need > r->out_cap)
	{
		size_t		cap = r->out_cap;
		char	   *p;

		while (cap < need)
			cap *= 2;
		p = r->realloc_fn(r->out, cap);
		if (p == NULL)
			return false;
		r->out = p;
		r->out_cap = cap;
	}
	return true;
}

static bool
end_field(CsvReader *r)
{
	if (r->nfields == r->fields_cap)
	{
		int			cap = r->fields_cap * 2;
		size_t	   *o = r->realloc_fn(r->offsets, sizeof(size_t) * cap);
		bool	   *n;
		char	  **f;

		if (o == NULL)
			return false;
		r->offsets = o;
		n = r->realloc_fn(r->nulls, sizeof(bool) * cap);
		if (n == NULL)
			return false;
		r->nulls = n;
		f = r->realloc_fn(r->fields, sizeof(char *) * cap);
		if (f == NULL)
			return false;
		r->fields = f;
		r->fields_cap = cap;
	}
	if (!out_reserve(r, 0))
		return false;
	r->out[r->out_len++] = '\0';
	r->offsets[r->nfields] = r->field_start;
	r->nulls[r->nfields] = !r->field_quoted &&
		r->out_len - 1 == r->field_start;
	r->nfields++;
	r->field_start = r->out_len;
	r->field_quoted = false;
	return true;
}

static CsvResult
end_record(CsvReader *r, char ***fields, bool **nulls, int *nfields)
{
	int			i;

	for (i = 0; i < r->nfields; i++)
		r->fields[i] = r->out + r->offsets[i];
	*fields = r->fields;
	*nulls = r->nulls;
	*nfields = r->nfields;
	r->records++;
	r->returned = true;
	r->state = ST_FIELD_START;
	return CSV_RECORD;
}

CsvResult
csv_reader_next(CsvReader *r, char ***fields, bool **nulls, int *nfields)
{
	if (r->state == ST_DONE)
		return r->error[0] ? CSV_ERROR : CSV_END;

	if (r->returned)
	{
		/* the previous record's memory is now free for the next one */
		r->out_len = 0;
		r->field_start = 0;
		r->nfields = 0;
		r->returned = false;
	}

	while (r->pos < r->end)
	{
		char	   *p = r->in + r->pos;
		char	   *stop = r->in + r->end;
		char		c;

		if (too_long(r))
			return fail(r, "record too long");

		switch (r->state)
		{
			case ST_FIELD_START:
				c = *p;
				r->pos++;
				if (c == '"')
				{
					r->field_quoted = true;
					r->state = ST_QUOTED;
				}
				else if (c == ',')
				{
					if (!end_field(r))
						return fail(r, "out of memory");
				}
				else if (c == '\n')
				{
					if (!end_field(r))
						return fail(r, "out of memory");
					return end_record(r, fields, nulls, nfields);
				}
				else if (c == '\r')
				{
					r->cr_ended = false;
					r->state = ST_CR;
				}
				else
				{
					if (!out_reserve(r, 1))
						return fail(r, "out of memory");
					r->out[r->out_len++] = c;
					r->state = ST_UNQUOTED;
				}
				break;

			case ST_UNQUOTED:
				{
					char	   *q = p;

					while (q < stop && *q != ',' && *q != '\n' && *q != '\r' &&
						   *q != '"')
						q++;
					if (q > p)
					{
						if (!out_reserve(r, q - p))
							return fail(r, "out of memory");
						memcpy(r->out + r->out_len, p, q - p);
						r->out_len += q - p;
						r->pos += q - p;
						if (too_long(r))
							return fail(r, "record too long");
					}
					if (q == stop)
						break;
					c = *q;
					r->pos++;
					if (c == '"')
						return fail(r, "quote inside an unquoted field");
					if (!end_field(r))
						return fail(r, "out of memory");
					if (c == ',')
						r->state = ST_FIELD_START;
					else if (c == '\n')
						return end_record(r, fields, nulls, nfields);
					else
					{
						r->cr_ended = true;
						r->state = ST_CR;
					}
					break;
				}

			case ST_QUOTED:
				{
					char	   *q = memchr(p, '"', stop - p);
					size_t		n = (q ? q : stop) - p;

					if (n > 0)
					{
						if (!out_reserve(r, n))
							return fail(r, "out of memory");
						memcpy(r->out + r->out_len, p, n);
						r->out_len += n;
						r->pos += n;
						if (too_long(r))
							return fail(r, "record too long");
					}
					if (q)
					{
						r->pos++;
						r->state = ST_QUOTE_IN_QUOTED;
					}
					break;
				}

			case ST_QUOTE_IN_QUOTED:
				c = *p;
				r->pos++;
				if (c == '"')
				{
					if (!out_reserve(r, 1))
						return fail(r, "out of memory");
					r->out[r->out_len++] = '"';
					r->state = ST_QUOTED;
				}
				else if (c == ',')
				{
					if (!end_field(r))
						return fail(r, "out of memory");
					r->state = ST_FIELD_START;
				}
				else if (c == '\n')
				{
					if (!end_field(r))
						return fail(r, "out of memory");
					return end_record(r, fields, nulls, nfields);
				}
				else if (c == '\r')
				{
					if (!end_field(r))
						return fail(r, "out of memory");
					r->cr_ended = true;
					r->state = ST_CR;
				}
				else
					return fail(r, "unexpected character after a closing quote");
				break;

			case ST_CR:
				c = *p;
				r->pos++;
				if (c != '\n')
					return fail(r, "carriage return not followed by a line feed");
				if (!r->cr_ended)
				{
					if (!end_field(r))
						return fail(r, "out of memory");
				}
				return end_record(r, fields, nulls, nfields);

			case ST_DONE:
				return r->error[0] ? CSV_ERROR : CSV_END;
		}
	}

	if (!r->finished)
		return CSV_NEED_MORE;

	/* end of input */
	if (too_long(r))
		return fail(r, "record too long");
	switch (r->state)
	{
		case ST_FIELD_START:
			if (r->nfields == 0)
			{
				r->state = ST_DONE;
				return CSV_END;
			}
			/* "a,b,<eof>": the last field is an empty one */
			if (!end_field(r))
				return fail(r, "out of memory");
			r->state = ST_DONE;
			end_record(r, fields, nulls, nfields);
			r->state = ST_DONE;
			return CSV_RECORD;
		case ST_UNQUOTED:
		case ST_QUOTE_IN_QUOTED:
			if (!end_field(r))
				return fail(r, "out of memory");
			end_record(r, fields, nulls, nfields);
			r->state = ST_DONE;
			return CSV_RECORD;
		case ST_QUOTED:
			return fail(r, "unterminated quoted field");
		case ST_CR:
			return fail(r, "carriage return not followed by a line feed");
		case ST_DONE:
			break;
	}
	return r->error[0] ? CSV_ERROR : CSV_END;
}
