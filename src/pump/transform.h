/*-------------------------------------------------------------------------
 *
 * transform.h
 *		The stream record -> audit record transform of the pump.
 *
 * Pure C on json-c and Nettle with malloc'd buffers and no backend calls,
 * so the unit tests and the benchmark link it without a server.
 * transform.c states the audit record's format.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_PUMP_TRANSFORM_H
#define AUDIT_FDW_PUMP_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "pump/key_hash.h"

/*
 * A growable output buffer.  The transform appends to it; the caller owns
 * it, resets len to reuse it and frees data with audit_buf_free().  oom is
 * set (and stays set) when an allocation failed.
 */
typedef struct AuditBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		oom;
} AuditBuf;

extern void audit_buf_init(AuditBuf *buf);
extern void audit_buf_free(AuditBuf *buf);
extern bool audit_buf_reserve(AuditBuf *buf, size_t extra);
extern void audit_buf_append(AuditBuf *buf, const char *s, size_t n);

typedef enum AuditTransformResult
{
	AUDIT_TRANSFORM_OK,
	AUDIT_TRANSFORM_BAD_RECORD, /* not a DynamoDB stream record we can read */
	AUDIT_TRANSFORM_OUT_OF_MEMORY
} AuditTransformResult;

/*
 * What the pump needs to know about a record besides its bytes: where the
 * item's keys are in the output (the item's identity, to keep one item's
 * records in order) and ApproximateCreationDateTime (for the lag).
 */
typedef struct AuditRecordInfo
{
	size_t		keys_offset;	/* in out->data; keys_len 0 when no keys */
	size_t		keys_len;
	double		approximate_time;	/* unix seconds, 0 when absent */
	/* in the input text (as written there: digits, hex) */
	const char *sequence_number;
	size_t		sequence_number_len;
	const char *event_id;
	size_t		event_id_len;
} AuditRecordInfo;

/*
 * Appends the audit record of one stream record (an element of GetRecords'
 * Records array) to out, newline included.  shard_id and source_table come
 * from the pipeline (GetRecords does not repeat them); either may be NULL,
 * which writes null.  info (when not NULL) is filled in.  On failure
 * out->len is restored and errbuf (when not NULL) says what was wrong with
 * the record.
 */
extern AuditTransformResult audit_transform_record(json_object *record,
												   const char *shard_id,
												   const char *source_table,
												   AuditBuf *out,
												   AuditRecordInfo *info,
												   char *errbuf, size_t errlen);

/*
 * The same from the record's JSON text (len bytes, the whole record and
 * nothing else), without building a tree: what the pump uses on GetRecords
 * pages.
 */
extern AuditTransformResult audit_transform_record_text(const char *json, size_t len,
														const char *shard_id,
														const char *source_table,
														AuditBuf *out,
														AuditRecordInfo *info,
														char *errbuf, size_t errlen);

/*
 * The same for a record of a GetRecords page: its text starts at json and
 * ends within avail bytes; *record_len gets its length as read (the page
 * walk goes on from there), or 0 when its brackets or strings do not match.
 */
extern AuditTransformResult audit_transform_record_at(const char *json, size_t avail,
													  size_t *record_len,
													  const char *shard_id,
													  const char *source_table,
													  AuditBuf *out,
													  AuditRecordInfo *info,
													  char *errbuf, size_t errlen);

/*
 * One attribute value's text, or (item) an item's attribute map's text,
 * unmarshalled as an audit record's images are, appended to out.
 */
extern AuditTransformResult audit_unmarshal_text(const char *json, size_t len,
												 bool item, AuditBuf *out,
												 char *errbuf, size_t errlen);

/*
 * Walks a GetRecords response body: fn gets the JSON text of each element
 * of Records in order; *next_iterator the content of NextShardIterator
 * (NULL when null or absent).  False with errbuf set when the body is not
 * such a response (or fn returned false).
 */
extern bool audit_scan_records_page(const char *body, size_t len,
									bool (*fn) (void *arg, const char *record, size_t len),
									void *arg, const char **next_iterator,
									size_t *next_iterator_len, int *nrecords,
									char *errbuf, size_t errlen);

/*
 * A page walk's reader of one element: it reads the element that starts at
 * text, within avail bytes, and sets *len to its length (0: malformed).
 * False stops the walk.
 */
typedef bool (*AuditRecordAtFn) (void *arg, const char *text, size_t avail, size_t *len);

/*
 * As audit_scan_records_page, in one pass: fn reads each record (with
 * audit_transform_record_at) and says where it ended.
 */
extern bool audit_walk_records_page(const char *body, size_t len, AuditRecordAtFn fn,
									void *arg, const char **next_iterator,
									size_t *next_iterator_len, int *nrecords,
									char *errbuf, size_t errlen);

/*
 * The record's object as AWS writes it and the images of compact records
 * are read by fast readers, which give up on anything unusual and leave it
 * to the careful reader (the same bytes out).  False makes the careful
 * reader read every record: the fuzz target compares the two.
 */
extern bool audit_transform_fast_walk;

/*
 * Records whose object the fast reader read whole, as AWS writes them (the
 * others are read again by the careful reader): what shows that the usual
 * record takes the fast way.
 */
extern uint64_t audit_transform_fast_records;

/*
 * The capacity of the buffer the images of one record wait in: it grows
 * with the longest record transformed, not with the page it came in.
 */
extern size_t audit_transform_scratch_capacity(void);

/*
 * Attribute folders (the README's "Attribute folders"; transform.c's header
 * states the member): from now on every audit record ends with
 * the member "attribute_folder", the folder of the new image's value of
 * the top-level attribute: one of the nvalues declared values, "_other" or
 * "_none" (transform.c says which).  NULL attribute: no such member, the
 * record as before.  The setting is the process's (the pump's readers and
 * backfill workers serve one pipeline each); the strings are copied.  False
 * when out of memory (then there are no folders).
 */
extern bool audit_transform_set_folders(const char *attribute, const char *const *values,
										int nvalues);

/*
 * Strings with escapes are checked 64 bytes at a time with AVX2 where the
 * processor has it, else with SSE2.  False keeps to SSE2: the fuzz target
 * and the unit tests read with one and then the other.
 */
extern bool audit_transform_avx2;

/* A table's key attributes: the partition key and the sort key, if any. */
#define AUDIT_MAX_KEYS 2

/*
 * Appends the audit record of one item read by a Scan (an element of
 * Scan's Items array: an attribute map) to out, newline included: the
 * record of a backfill.  event_name is SNAPSHOT, new_image the item, keys
 * its key attributes (key_names, in the key schema's order) with their
 * key_hash as a stream record has them, event_time
 * read_time, sequence_number "" (before every stream record's), shard_id
 * null and no old_image.  event_id is event_id_prefix followed by 16 hex
 * digits of a hash of the keys, so a record sent again after a restart
 * has the same event id.  info as for a stream record (sequence_number "").
 */
extern AuditTransformResult audit_transform_item_text(const char *item, size_t len,
													  const char *event_id_prefix,
													  double read_time,
													  const char *source_table,
													  const char *region,
													  const char *const *key_names,
													  int nkeys, AuditBuf *out,
													  AuditRecordInfo *info,
													  char *errbuf, size_t errlen);

/* What a Scan response says besides its items. */
typedef struct AuditScanPage
{
	int			nitems;
	long		scanned_count;
	const char *last_evaluated_key; /* its JSON text in the body; NULL: the last page */
	size_t		last_evaluated_key_len;
	double		consumed_capacity;
	bool		has_consumed_capacity;
} AuditScanPage;

/*
 * Walks a Scan response body: fn gets the JSON text of each element of
 * Items in order; page the rest.  False with errbuf set when the body is
 * not such a response (or fn returned false).
 */
extern bool audit_scan_items_page(const char *body, size_t len,
								  bool (*fn) (void *arg, const char *item, size_t len),
								  void *arg, AuditScanPage *page,
								  char *errbuf, size_t errlen);

/*
 * Writes the exact decimal text of a DynamoDB number as Python's
 * str(decimal.Decimal(text)) renders it.  Returns false when text is not a
 * finite decimal number.
 */
extern bool audit_write_number(AuditBuf *out, const char *text, size_t len);

/* Writes s (len bytes of UTF-8) as a JSON string literal. */
extern void audit_write_json_string(AuditBuf *out, const char *s, size_t len);

#endif							/* AUDIT_FDW_PUMP_TRANSFORM_H */
