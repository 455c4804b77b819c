/*-------------------------------------------------------------------------
 *
 * dialect.h
 *		Pieces of Athena's (Trino's) SQL dialect that the deparser writes:
 *		quoting, LIKE patterns, partition values.  Pure C (malloc'd
 *		results, no PostgreSQL), so that the unit tests check them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_DIALECT_H
#define AUDIT_FDW_DIALECT_H

#include <stdbool.h>
#include <stddef.h>

/* "ident" with embedded " doubled.  malloc'd; NULL when out of memory. */
extern char *athena_quote_identifier(const char *ident);

/* 'text' with embedded ' doubled, nothing else escaped.  malloc'd. */
extern char *athena_quote_literal(const char *text);

/*
 * A PostgreSQL LIKE pattern (escape character backslash) rewritten for
 * Trino's LIKE ... ESCAPE '\': Trino accepts the escape only before %, _
 * and itself, where PostgreSQL reads \x as x for any other x.  malloc'd;
 * NULL (and *invalid set) for a pattern PostgreSQL rejects (a trailing
 * escape), which must stay local so that PostgreSQL raises its error.
 */
extern char *athena_like_pattern(const char *pattern, bool *invalid);

/*
 * True for a partition format that names the time from the year down,
 * each field fixed-width (yyyy, then optionally MM, dd, HH, mm in that
 * order, other characters between), so that its strings sort as the times.
 */
extern bool athena_partition_format_valid(const char *format);

/*
 * The partition value of a time (UTC fields) under a valid format, into
 * out (at least outsize bytes).  Returns false when it does not fit.
 */
extern bool athena_partition_value(const char *format, int year, int month,
								   int day, int hour, int minute,
								   char *out, size_t outsize);

#endif							/* AUDIT_FDW_DIALECT_H */
