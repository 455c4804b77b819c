/*-------------------------------------------------------------------------
 *
 * fuzz_transform.c
 *		libFuzzer target for the pump's stream record transform
 *		(src/pump/transform.c): one element of GetRecords' Records array in,
 *		one audit record out.
 *
 * The input is
 *
 *		byte 0       flags: 1 pass a shard id and a source table
 *		then         a stream record as JSON (json-c parses it, as the pump
 *		             does; input json-c rejects ends there)
 *
 * and the input after the flags byte is also taken whole as a DynamoDB
 * number (audit_write_number), as a string (audit_write_json_string), as
 * an item a backfill's Scan read (audit_transform_item_text: a record that
 * transforms is one JSON line whose keys are where info says; one that does
 * not leaves the buffer as it was) and as a Scan page
 * (audit_scan_items_page: each item it hands over lies within the body),
 * and as a GetRecords page read both ways: the walk that finds each record's
 * end and then transforms it (audit_scan_records_page and
 * audit_transform_record_text) and the one-pass walk in which the transform
 * says where the record ended (audit_walk_records_page and
 * audit_transform_record_at), which must agree byte for byte: the records'
 * spans, results, errors and audit records, the iterator and the page's
 * verdict.
 *
 * The text path runs twice, with the fast walker of compact images and
 * with the careful reader on every image (and strings with escapes checked
 * with SSE2 instead of AVX2, where the processor has it), which must agree
 * byte for byte.
 *
 * Flag 4 turns attribute folders on (folder attribute "state", a few
 * declared values): every record that transforms, stream or snapshot, must
 * then end with the member attribute_folder, one of the declared values,
 * _other or _none, and (where json-c reads the input and the text has no
 * \u0000) the folder json-c's tree of the new image gives.
 *
 * The record goes through both of the transform's paths: the json-c tree
 * (audit_transform_record) and the one-pass reader of the text that the
 * pump uses on GetRecords pages (audit_transform_record_text).  Each must
 * keep the contract below, and on strict JSON the two must agree: both
 * transform or both refuse, into records json-c reads back as equal, with
 * equal keys.  (Excluded from the comparison: a \u0000 escape, which a
 * json-c object key cannot hold; duplicate names in an object, whose last
 * value json-c keeps while the text path refuses or writes both; raw
 * control characters in strings, which json-c takes.)
 *
 * Besides the sanitizers' checks, it aborts when the audit record contract
 * (DESIGN.md section 2) breaks: a record that transforms is one line ending
 * in "\n", a JSON object that json-c reads back with the eventID and
 * sequence number as strings; a record that does not transform leaves the
 * buffer exactly as it was; the keys' position the pump is told holds the
 * record's keys.  A number that is accepted is a JSON number; a
 * string written as JSON reads back as the same bytes.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include "pump/transform.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what);
static json_object *parse_flags(const char *text, size_t len, int flags);
static json_object *parse(const char *text, size_t len);
static void check_record(const char *text, size_t len, bool named);
static void compare_walkers(const char *text, size_t len, bool named, const AuditBuf *out,
							AuditTransformResult res, const AuditRecordInfo *info,
							const char *err);
static void check_output(const AuditBuf *out, AuditTransformResult res,
						 const AuditRecordInfo *info, const char *err, bool named);
static void compare_paths(const char *text, size_t len, bool named);
static void check_number(const char *text, size_t len);
static void check_string(const char *text, size_t len);
static void check_item(const char *text, size_t len, bool two_keys);
static void check_scan_page(const char *text, size_t len);
static void check_records_page(const char *text, size_t len, bool named);

#define PREFIX "{\"previous\":\"record\"}\n"

static void
check(int ok, const char *what)
{
	if (!ok)
	{
		fprintf(stderr, "transform invariant broken: %s\n", what);
		abort();
	}
}

/* Attribute folders (flag 4): the attribute, its declared values */
static bool folders_on;
static const char *const folder_values[] = {"SHIPPED", "a", "1", "QUJD"};

/*
 * The folder of a new image (NULL: none) read from json-c's tree, the
 * attribute's name matched ASCII case-insensitively; NULL (cannot tell)
 * when two names match (json-c keeps one value per exact name, the text
 * path the last in the text).
 */
static const char *
tree_folder(json_object *image)
{
	json_object *av = NULL;
	json_object *v;
	int			matches = 0;

	if (image != NULL && json_object_is_type(image, json_type_object))
	{
		json_object_object_foreach(image, key, value)
		{
			if (strlen(key) == 5 && strncasecmp(key, "state", 5) == 0)
			{
				av = value;
				matches++;
			}
		}
	}
	if (matches > 1)
		return NULL;
	if (av == NULL)
		return "_none";
	if (json_object_object_length(av) != 1)
		return "_other";
	if (json_object_object_get_ex(av, "NULL", &v))
		return "_none";
	if (json_object_object_get_ex(av, "S", &v) && json_object_is_type(v, json_type_string))
		for (size_t i = 0; i < sizeof(folder_values) / sizeof(folder_values[0]); i++)
			if ((size_t) json_object_get_string_len(v) == strlen(folder_values[i]) &&
				memcmp(json_object_get_string(v), folder_values[i], strlen(folder_values[i])) == 0)
				return folder_values[i];
	return "_other";
}

/*
 * With folders on, the record line (n bytes, its newline included) ends
 * with the member attribute_folder: want when not NULL, else any folder.
 */
static void
check_folder(const char *line, size_t n, const char *want)
{
	const char *member = ",\"attribute_folder\":\"";
	const char *at;
	char		folder[128];
	size_t		flen;
	bool		known = false;

	if (!folders_on)
	{
		/* a member of the record's own (the images may have one of that name) */
		json_object *record = parse(line, n - 1);

		check(record == NULL || !json_object_object_get_ex(record, "attribute_folder", NULL),
			  "a record without folders has an attribute folder");
		json_object_put(record);
		return;
	}
	check(n > 3 && line[n - 3] == '"' && line[n - 2] == '}', "the folder is not the last member");
	at = memmem(line, n, member, strlen(member));
	while (at != NULL && memmem(at + 1, line + n - (at + 1), member, strlen(member)) != NULL)
		at = memmem(at + 1, line + n - (at + 1), member, strlen(member));
	check(at != NULL, "a record without its attribute folder");
	flen = (line + n - 3) - (at + strlen(member));
	check(flen < sizeof(folder), "an attribute folder too long");
	memcpy(folder, at + strlen(member), flen);
	folder[flen] = '\0';
	known = strcmp(folder, "_other") == 0 || strcmp(folder, "_none") == 0;
	for (size_t i = 0; i < sizeof(folder_values) / sizeof(folder_values[0]); i++)
		known |= strcmp(folder, folder_values[i]) == 0;
	check(known, "an attribute folder that is not declared, _other or _none");
	if (want != NULL)
		check(strcmp(folder, want) == 0, "the attribute folder is not the new image's");
}

/* json-c's folder for a record (or item) text, NULL when it cannot tell. */
static const char *
expected_folder(const char *text, size_t len, bool item)
{
	json_object *tree;
	json_object *v;
	json_object *image = NULL;
	const char *folder;

	if (memmem(text, len, "\\u0000", 6) != NULL || memmem(text, len, "\\U0000", 6) != NULL)
		return NULL;
	tree = parse(text, len);
	if (tree == NULL)
		return NULL;
	if (item)
		image = tree;
	else if (json_object_object_get_ex(tree, "dynamodb", &v))
		json_object_object_get_ex(v, "NewImage", &image);
	folder = tree_folder(image);
	json_object_put(tree);
	return folder;
}

/*
 * The whole of text as one JSON value, or NULL.  A number at the very end
 * keeps json-c waiting for more, so the end of input is fed as a NUL.
 */
static json_object *
parse_flags(const char *text, size_t len, int flags)
{
	json_tokener *tok = json_tokener_new();
	json_object *obj;
	size_t		used;

	if (tok == NULL)
		abort();
	json_tokener_set_flags(tok, flags);
	obj = json_tokener_parse_ex(tok, text, (int) len);
	used = (size_t) json_tokener_get_parse_end(tok);
	if (obj == NULL && json_tokener_get_error(tok) == json_tokener_continue &&
		used == len)
	{
		obj = json_tokener_parse_ex(tok, "", 1);
		used = len;
	}
	if (obj != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
						used != len))
	{
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

static json_object *
parse(const char *text, size_t len)
{
	return parse_flags(text, len, 0);
}

/* What a transform call left in out (which held PREFIX before it). */
static void
check_output(const AuditBuf *out, AuditTransformResult res, const AuditRecordInfo *info,
			 const char *err, bool named)
{
	check(out->len >= strlen(PREFIX) && memcmp(out->data, PREFIX, strlen(PREFIX)) == 0,
		  "the records before were changed");
	if (res == AUDIT_TRANSFORM_OK)
	{
		const char *line = out->data + strlen(PREFIX);
		size_t		n = out->len - strlen(PREFIX);
		json_object *audit;
		json_object *v;

		check(n >= 2 && line[n - 1] == '\n', "the record does not end in a newline");
		check(memchr(line, '\n', n - 1) == NULL, "the record spans lines");
		check(strlen(line) == n, "the record holds a NUL byte");
		check_folder(line, n, NULL);
		audit = parse(line, n - 1);
		check(audit != NULL && json_object_is_type(audit, json_type_object),
			  "the record is not a JSON object");
		check(json_object_object_get_ex(audit, "event_id", &v) &&
			  json_object_is_type(v, json_type_string),
			  "the record has no event_id string");
		check(json_object_object_get_ex(audit, "sequence_number", &v) &&
			  json_object_is_type(v, json_type_string),
			  "the sequence number is not a string");
		check(json_object_object_get_ex(audit, "shard_id", &v) &&
			  (named ? json_object_is_type(v, json_type_string) : v == NULL),
			  "the shard id is not what was given");
		/* the keys the pump hashes to order an item's records */
		if (info->keys_len > 0)
		{
			json_object *keys;

			check(info->keys_offset >= strlen(PREFIX) &&
				  info->keys_offset + info->keys_len < out->len,
				  "the keys lie outside the record");
			keys = parse(out->data + info->keys_offset, info->keys_len);
			check(keys != NULL && json_object_is_type(keys, json_type_object) &&
				  json_object_object_get_ex(audit, "keys", &v) &&
				  json_object_equal(keys, v),
				  "the keys' position does not hold the record's keys");
			json_object_put(keys);
		}
		else
			check(!json_object_object_get_ex(audit, "keys", &v),
				  "a record with keys reports none");
		json_object_put(audit);
	}
	else
	{
		check(res == AUDIT_TRANSFORM_BAD_RECORD, "out of memory without a reason");
		check(out->len == strlen(PREFIX) && out->data[out->len] == '\0',
			  "a bad record left output behind");
		check(err[0] != '\0', "a bad record without a reason");
	}
}

static void
check_record(const char *text, size_t len, bool named)
{
	json_object *record = parse(text, len);
	AuditBuf	out;
	AuditRecordInfo info;
	char		err[256];
	AuditTransformResult res;

	/* the text path reads whatever it is given */
	audit_buf_init(&out);
	audit_buf_append(&out, PREFIX, strlen(PREFIX));
	res = audit_transform_record_text(text, len, named ? "shardId-00000001" : NULL,
									  named ? "Orders" : NULL, &out, &info, err, sizeof(err));
	check_output(&out, res, &info, err, named);
	if (res == AUDIT_TRANSFORM_OK && folders_on)
		check_folder(out.data + strlen(PREFIX), out.len - strlen(PREFIX),
					 expected_folder(text, len, false));
	compare_walkers(text, len, named, &out, res, &info, err);
	audit_buf_free(&out);

	if (record == NULL)
		return;
	audit_buf_init(&out);
	audit_buf_append(&out, PREFIX, strlen(PREFIX));
	res = audit_transform_record(record, named ? "shardId-00000001" : NULL,
								 named ? "Orders" : NULL, &out, &info, err, sizeof(err));
	check_output(&out, res, &info, err, named);
	audit_buf_free(&out);
	json_object_put(record);

	compare_paths(text, len, named);
}

/*
 * The text path again with the careful reader on every image: the same
 * result, error, audit record (byte for byte) and info as with the fast
 * walker.
 */
static void
compare_walkers(const char *text, size_t len, bool named, const AuditBuf *out,
				AuditTransformResult res, const AuditRecordInfo *info, const char *err)
{
	AuditBuf	careful;
	AuditRecordInfo careful_info;
	char		careful_err[256];
	AuditTransformResult careful_res;

	audit_buf_init(&careful);
	audit_buf_append(&careful, PREFIX, strlen(PREFIX));
	audit_transform_fast_walk = false;
	audit_transform_avx2 = false;
	careful_res = audit_transform_record_text(text, len, named ? "shardId-00000001" : NULL,
											  named ? "Orders" : NULL, &careful,
											  &careful_info, careful_err,
											  sizeof(careful_err));
	audit_transform_fast_walk = true;
	audit_transform_avx2 = true;
	check(careful_res == res, "fast walker and careful reader agree on the result");
	check(strcmp(careful_err, err) == 0, "fast walker and careful reader give the same error");
	check(careful.len == out->len && memcmp(careful.data, out->data, out->len) == 0,
		  "fast walker and careful reader write the same bytes");
	check(careful_info.keys_offset == info->keys_offset &&
		  careful_info.keys_len == info->keys_len &&
		  careful_info.approximate_time == info->approximate_time,
		  "fast walker and careful reader report the same keys and time");
	audit_buf_free(&careful);
}

/*
 * True when some object in the text has a name twice (json-c kept one) or a
 * string holds a raw control character (which JSON forbids, and json-c
 * takes even in strict mode).
 */
static bool
outside_comparison(const char *text, size_t len, json_object *tree)
{
	/*
	 * Counts the name separators (':' outside strings) in the text and in
	 * json-c's serialization of its tree: json-c keeps one value per name,
	 * so a duplicate leaves the tree with fewer.
	 */
	const char *ser = json_object_to_json_string_ext(tree, JSON_C_TO_STRING_PLAIN);
	int			names_text = 0,
				names_tree = 0;
	const char *sources[2] = {text, ser};
	size_t		lens[2] = {len, strlen(ser)};
	int		   *counts[2] = {&names_text, &names_tree};
	int			k;

	for (k = 0; k < 2; k++)
	{
		const char *p = sources[k];
		const char *end = p + lens[k];
		bool		in_string = false;

		for (; p < end; p++)
		{
			if (in_string)
			{
				if ((unsigned char) *p < 0x20)
					return true;
				if (*p == '\\')
					p++;
				else if (*p == '"')
					in_string = false;
				continue;
			}
			if (*p == '"')
				in_string = true;
			else if (*p == ':')
				(*counts[k])++;
		}
	}
	return names_text != names_tree;
}

/*
 * On strict JSON without NUL escapes, duplicate names or raw control
 * characters in strings (outside_comparison), the text path and
 * the tree path give the same audit record (as JSON values: the text path
 * copies string literals as they are written, escapes included) and the
 * same keys, or both refuse the record.
 */
static void
compare_paths(const char *text, size_t len, bool named)
{
	json_object *record;
	AuditBuf	tree_out,
				text_out;
	AuditRecordInfo tree_info,
				text_info;
	char		err[256];
	AuditTransformResult tree_res,
				text_res;
	size_t		i;

	for (i = 0; i + 6 <= len; i++)
		if (text[i] == '\\' && (text[i + 1] == 'u' || text[i + 1] == 'U') &&
			memcmp(text + i + 2, "0000", 4) == 0)
			return;
	record = parse_flags(text, len, JSON_TOKENER_STRICT);
	if (record == NULL)
		return;
	if (outside_comparison(text, len, record))
	{
		json_object_put(record);
		return;
	}

	audit_buf_init(&tree_out);
	audit_buf_init(&text_out);
	tree_res = audit_transform_record(record, named ? "shardId-00000001" : NULL,
									  named ? "Orders" : NULL, &tree_out, &tree_info,
									  err, sizeof(err));
	text_res = audit_transform_record_text(text, len, named ? "shardId-00000001" : NULL,
										   named ? "Orders" : NULL, &text_out, &text_info,
										   err, sizeof(err));
	check(tree_res == text_res, "the text and tree paths disagree on whether a record transforms");
	if (tree_res == AUDIT_TRANSFORM_OK)
	{
		json_object *a = parse(tree_out.data, tree_out.len - 1);
		json_object *b = parse(text_out.data, text_out.len - 1);

		check(a != NULL && b != NULL && json_object_equal(a, b),
			  "the text and tree paths write different audit records");
		check(tree_info.keys_len == 0 ? text_info.keys_len == 0 : text_info.keys_len > 0,
			  "the text and tree paths disagree on the keys");
		json_object_put(a);
		json_object_put(b);
	}
	audit_buf_free(&tree_out);
	audit_buf_free(&text_out);
	json_object_put(record);
}

static void
check_number(const char *text, size_t len)
{
	AuditBuf	out;
	json_object *n;

	if (len > 4096)
		return;
	audit_buf_init(&out);
	if (audit_write_number(&out, text, len))
	{
		check(out.len > 0 && strlen(out.data) == out.len, "an empty number");
		n = parse(out.data, out.len);
		check(n != NULL && (json_object_is_type(n, json_type_int) ||
							json_object_is_type(n, json_type_double)),
			  "a number is written as something else than a JSON number");
		json_object_put(n);
	}
	else
		check(out.len == 0, "a rejected number left output behind");
	audit_buf_free(&out);
}

static void
check_string(const char *text, size_t len)
{
	AuditBuf	out;
	json_object *s;

	audit_buf_init(&out);
	audit_write_json_string(&out, text, len);
	check(out.len >= 2 && out.data[0] == '"' && out.data[out.len - 1] == '"',
		  "a string is not quoted");
	check(memchr(out.data, '\n', out.len) == NULL, "a string spans lines");
	s = parse(out.data, out.len);
	check(s != NULL && json_object_is_type(s, json_type_string),
		  "a string does not read back as a JSON string");
	check((size_t) json_object_get_string_len(s) == len &&
		  memcmp(json_object_get_string(s), text, len) == 0,
		  "a string reads back as other bytes");
	json_object_put(s);
	audit_buf_free(&out);
}

/* The input as an item of a backfill's Scan. */
static void
check_item(const char *text, size_t len, bool two_keys)
{
	static const char *const keys[] = {"orderId", "sk"};
	AuditBuf	out;
	AuditRecordInfo info;
	AuditTransformResult res;
	char		err[256];

	audit_buf_init(&out);
	audit_buf_append(&out, PREFIX, strlen(PREFIX));
	res = audit_transform_item_text(text, len, "snapshot-1-", 1705337067.0, "Orders",
									"us-east-1", keys, two_keys ? 2 : 1, &out, &info,
									err, sizeof(err));
	check(out.len >= strlen(PREFIX) && memcmp(out.data, PREFIX, strlen(PREFIX)) == 0,
		  "the records before were changed");
	if (res == AUDIT_TRANSFORM_OK)
	{
		const char *line = out.data + strlen(PREFIX);
		size_t		n = out.len - strlen(PREFIX);
		json_object *audit;

		check(n >= 2 && line[n - 1] == '\n' && memchr(line, '\n', n - 1) == NULL,
			  "a snapshot record is not one line");
		check_folder(line, n, folders_on ? expected_folder(text, len, true) : NULL);
		check(info.keys_offset > strlen(PREFIX) && info.keys_offset + info.keys_len < out.len &&
			  out.data[info.keys_offset] == '{' &&
			  out.data[info.keys_offset + info.keys_len - 1] == '}',
			  "the snapshot's keys are not where info says");
		audit = parse(line, n - 1);
		/* raw control characters in a key name can make it unreadable JSON */
		if (audit != NULL)
		{
			check(json_object_is_type(json_object_object_get(audit, "event_name"),
									  json_type_string),
				  "a snapshot record without event_name");
			json_object_put(audit);
		}
	}
	else
		check(out.len == strlen(PREFIX), "a refused item changed the buffer");
	audit_buf_free(&out);
}

typedef struct PageBounds
{
	const char *start;
	const char *end;
} PageBounds;

static bool
item_in_page(void *arg, const char *item, size_t len)
{
	PageBounds *b = arg;

	check(item >= b->start && item + len <= b->end && len >= 2,
		  "a page's item lies outside the body");
	return true;
}

/* The input as a Scan page. */
static void
check_scan_page(const char *text, size_t len)
{
	PageBounds	b = {text, text + len};
	AuditScanPage page;
	char		err[256];

	if (audit_scan_items_page(text, len, item_in_page, &b, &page, err, sizeof(err)) &&
		page.last_evaluated_key != NULL)
		check(page.last_evaluated_key >= text &&
			  page.last_evaluated_key + page.last_evaluated_key_len <= text + len,
			  "LastEvaluatedKey lies outside the body");
}

/* One walk of a GetRecords page: what each record gave, in order. */
typedef struct PageRun
{
	bool		named;
	AuditBuf	out;			/* the audit records, dead ones as their text */
	AuditBuf	log;			/* per record: offset, length, result, error */
} PageRun;

static void
page_run_note(PageRun *run, const char *record, size_t len, AuditTransformResult res,
			  const char *err, const char *page)
{
	char		line[400];

	snprintf(line, sizeof(line), "%zu %zu %d %s\n", (size_t) (record - page), len,
			 (int) res, res == AUDIT_TRANSFORM_OK ? "" : err);
	audit_buf_append(&run->log, line, strlen(line));
	if (res != AUDIT_TRANSFORM_OK)
		audit_buf_append(&run->out, record, len);
}

static const char *page_start;

static bool
two_pass_record(void *arg, const char *record, size_t len)
{
	PageRun    *run = arg;
	AuditRecordInfo info;
	char		err[256];
	AuditTransformResult res;

	res = audit_transform_record_text(record, len, run->named ? "shardId-00000001" : NULL,
									  run->named ? "Orders" : NULL, &run->out, &info,
									  err, sizeof(err));
	page_run_note(run, record, len, res, err, page_start);
	return true;
}

static bool
one_pass_record(void *arg, const char *record, size_t avail, size_t *len)
{
	PageRun    *run = arg;
	AuditRecordInfo info;
	char		err[256];
	AuditTransformResult res;

	res = audit_transform_record_at(record, avail, len, run->named ? "shardId-00000001" : NULL,
									run->named ? "Orders" : NULL, &run->out, &info,
									err, sizeof(err));
	check(*len <= avail, "a record read past the page");
	if (*len > 0)
		page_run_note(run, record, *len, res, err, page_start);
	return true;
}

/* The input as a GetRecords page, read in two passes and in one. */
static void
check_records_page(const char *text, size_t len, bool named)
{
	PageRun		two = {.named = named};
	PageRun		one = {.named = named};
	const char *next2;
	const char *next1;
	size_t		next2_len;
	size_t		next1_len;
	int			n2;
	int			n1;
	char		err2[256] = "";
	char		err1[256] = "";
	bool		ok2;
	bool		ok1;

	audit_buf_init(&two.out);
	audit_buf_init(&two.log);
	audit_buf_init(&one.out);
	audit_buf_init(&one.log);
	page_start = text;
	ok2 = audit_scan_records_page(text, len, two_pass_record, &two, &next2, &next2_len, &n2,
								  err2, sizeof(err2));
	ok1 = audit_walk_records_page(text, len, one_pass_record, &one, &next1, &next1_len, &n1,
								  err1, sizeof(err1));
	check(ok1 == ok2, "the one-pass page walk's verdict differs");
	check(strcmp(err1, err2) == 0, "the one-pass page walk's error differs");
	check(one.log.len == two.log.len &&
		  (one.log.len == 0 || memcmp(one.log.data, two.log.data, one.log.len) == 0),
		  "the one-pass page walk's records differ");
	check(one.out.len == two.out.len &&
		  (one.out.len == 0 || memcmp(one.out.data, two.out.data, one.out.len) == 0),
		  "the one-pass page walk's audit records differ");
	if (ok1)
	{
		check(n1 == n2, "the one-pass page walk counts other records");
		check(next1 == next2 && next1_len == next2_len,
			  "the one-pass page walk's iterator differs");
	}
	audit_buf_free(&two.out);
	audit_buf_free(&two.log);
	audit_buf_free(&one.out);
	audit_buf_free(&one.log);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text;

	if (size < 1)
		return 0;
	/* exactly size - 1 bytes: a read past the end is caught */
	text = malloc(size - 1 ? size - 1 : 1);
	if (text == NULL)
		abort();
	memcpy(text, data + 1, size - 1);
	folders_on = (data[0] & 4) != 0;
	if (!audit_transform_set_folders(folders_on ? "state" : NULL, folder_values,
									 sizeof(folder_values) / sizeof(folder_values[0])))
		abort();
	check_record(text, size - 1, (data[0] & 1) != 0);
	check_number(text, size - 1);
	check_string(text, size - 1);
	check_item(text, size - 1, (data[0] & 2) != 0);
	check_scan_page(text, size - 1);
	check_records_page(text, size - 1, (data[0] & 1) != 0);
	free(text);
	return 0;
}
