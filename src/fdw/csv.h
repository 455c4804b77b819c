/*-------------------------------------------------------------------------
 *
 * csv.h
 *		An incremental reader of Athena's result CSV (RFC 4180), in pure C.
 *
 * The reader takes bytes as they arrive and returns whole records, so that
 * memory stays bounded by the largest record, never by the result's size.
 * A field is NULL when it is empty and unquoted (Athena's NULL); "" is the
 * empty string.  Records end with \n or \r\n; quoted fields may hold
 * separators, quotes (doubled) and line breaks.
 *
 * No backend calls and no allocation through PostgreSQL: the unit tests
 * and the fuzzer link this file alone.  Allocation goes through the
 * functions given at creation (palloc in the backend, malloc in tests).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_CSV_H
#define AUDIT_FDW_CSV_H

#include <stdbool.h>
#include <stddef.h>

typedef enum CsvResult
{
	CSV_RECORD,					/* a record is ready */
	CSV_NEED_MORE,				/* feed more bytes (or call csv_finish) */
	CSV_END,					/* input finished, no more records */
	CSV_ERROR					/* malformed input: see csv_error() */
} CsvResult;

typedef void *(*CsvAllocFn) (size_t size);
typedef void *(*CsvReallocFn) (void *ptr, size_t size);
typedef void (*CsvFreeFn) (void *ptr);

typedef struct CsvReader CsvReader;

extern CsvReader *csv_reader_create(size_t max_record_bytes,
									CsvAllocFn alloc_fn,
									CsvReallocFn realloc_fn,
									CsvFreeFn free_fn);
extern void csv_reader_free(CsvReader *reader);
/* Forget all state, as after creation (a result read again). */
extern void csv_reader_reset(CsvReader *reader);

/*
 * Where to put up to *len new bytes; then call csv_reader_wrote with the
 * number written.  The space is the reader's own buffer: no extra copy.
 */
extern char *csv_reader_space(CsvReader *reader, size_t *len);
extern void csv_reader_wrote(CsvReader *reader, size_t n);
/* No more input: the last record may lack its line break. */
extern void csv_reader_finish(CsvReader *reader);

/*
 * The next record.  On CSV_RECORD, *fields points at nfields
 * NUL-terminated strings and *nulls at nfields flags, valid until the next
 * call.
 */
extern CsvResult csv_reader_next(CsvReader *reader, char ***fields,
								 bool **nulls, int *nfields);
extern const char *csv_reader_error(CsvReader *reader);
/* Records returned so far (1-based number of the last one). */
extern unsigned long long csv_reader_records(CsvReader *reader);

#endif							/* AUDIT_FDW_CSV_H */
