/*-------------------------------------------------------------------------
 *
 * fuzz_csv.c
 *		libFuzzer target for src/fdw/csv.c, the reader of Athena's result
 *		CSV (bytes that come from S3).
 *
 * Byte 0 picks a chunk size (1..64, its low six bits) and the record size
 * limit (its high two bits: 1 MiB, 64, 512 or 4096 bytes); the rest is the
 * CSV.  The input is read whole and in chunks of that size; besides the
 * sanitizers' checks the target aborts when
 *	- the two readings differ (records, NULLs, the error), or
 *	- the records, written back as Athena writes them (every value quoted,
 *	  quotes doubled, NULL empty and unquoted), do not read back the same.
 *
 *-------------------------------------------------------------------------
 */
#include "fdw/csv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECORD	(1 << 20)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

static void
buf_add(Buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		b->cap = (b->len + n + 1) * 2;
		b->data = realloc(b->data, b->cap);
		if (b->data == NULL)
			abort();
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/*
 * Read input in chunks; render the records into *dump (length-prefixed
 * fields, so that any byte survives) and, when csv is not NULL, write them
 * back as Athena's CSV.  Returns 1 when the input was malformed.
 */
static int
read_input(const char *input, size_t len, size_t chunk, size_t max_record,
		   Buf *dump, Buf *csv)
{
	CsvReader  *r = csv_reader_create(max_record, malloc, realloc, free);
	size_t		fed = 0;
	int			malformed = 0;

	if (r == NULL)
		abort();
	for (;;)
	{
		char	  **fields;
		bool	   *nulls;
		int			n,
					i;
		CsvResult	res = csv_reader_next(r, &fields, &nulls, &n);

		if (res == CSV_NEED_MORE)
		{
			size_t		space;
			char	   *buf = csv_reader_space(r, &space);
			size_t		take = len - fed;

			if (take > chunk)
				take = chunk;
			if (take > space)
				take = space;
			if (take == 0)
				csv_reader_finish(r);
			else
			{
				memcpy(buf, input + fed, take);
				fed += take;
				csv_reader_wrote(r, take);
			}
			continue;
		}
		if (res == CSV_END)
			break;
		if (res == CSV_ERROR)
		{
			const char *msg = csv_reader_error(r);

			buf_add(dump, "E:", 2);
			buf_add(dump, msg, strlen(msg));
			malformed = 1;
			break;
		}
		if (n < 1)
			abort();
		for (i = 0; i < n; i++)
		{
			char		head[32];
			size_t		flen = nulls[i] ? 0 : strlen(fields[i]);

			snprintf(head, sizeof(head), "%c%zu:", nulls[i] ? 'N' : 'V', flen);
			buf_add(dump, head, strlen(head));
			buf_add(dump, fields[i], flen);
			if (csv)
			{
				const char *p;

				if (i > 0)
					buf_add(csv, ",", 1);
				if (nulls[i])
					continue;
				buf_add(csv, "\"", 1);
				for (p = fields[i]; *p; p++)
				{
					if (*p == '"')
						buf_add(csv, "\"", 1);
					buf_add(csv, p, 1);
				}
				buf_add(csv, "\"", 1);
			}
		}
		buf_add(dump, ";", 1);
		if (csv)
			buf_add(csv, "\n", 1);
	}
	csv_reader_free(r);
	return malformed;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Buf			whole = {0},
				chunked = {0},
				written = {0},
				again = {0};
	size_t		chunk;
	size_t		max_record;
	int			malformed;

	if (size < 1)
		return 0;
	chunk = 1 + data[0] % 64;
	/* the limit must not depend on where the input was cut either */
	max_record = (data[0] >> 6) ? (size_t) 8 << (3 * (data[0] >> 6)) : MAX_RECORD;
	malformed = read_input((const char *) data + 1, size - 1, size, max_record,
						   &whole, &written);
	read_input((const char *) data + 1, size - 1, chunk, max_record, &chunked, NULL);
	if (whole.len != chunked.len ||
		(whole.len && memcmp(whole.data, chunked.data, whole.len) != 0))
		abort();
	if (!malformed)
	{
		/* fields hold no NUL (a NUL ends the string): what was read must
		 * survive being written back */
		read_input(written.data ? written.data : "", written.len, written.len + 1,
				   MAX_RECORD, &again, NULL);
		if (again.len != whole.len ||
			(whole.len && memcmp(again.data, whole.data, whole.len) != 0))
		{
			/* a field with an embedded NUL reads back shorter: not a bug */
			if (memchr(data + 1, '\0', size - 1) == NULL)
				abort();
		}
	}
	free(whole.data);
	free(chunked.data);
	free(written.data);
	free(again.data);
	return 0;
}
