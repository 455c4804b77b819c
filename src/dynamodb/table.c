/*-------------------------------------------------------------------------
 *
 * table.c
 *		What a foreign table over a DynamoDB table is: its options, its
 *		columns, and the DynamoDB table's key schema and size from
 *		DescribeTable; the JSON call every DynamoDB request goes through.
 *
 * Rules kept here:
 *	- A foreign table reads DynamoDB when it has the option dynamodb_table;
 *	  every other foreign table of audit_fdw is an Athena table.
 *	- The key schema comes from the options partition_key and sort_key
 *	  (IMPORT FOREIGN SCHEMA writes them), else from DescribeTable.  The
 *	  item count and size come from DescribeTable (DynamoDB refreshes them
 *	  about every six hours), or from the option estimated_rows.  A
 *	  backend keeps a description for DESCRIBE_TTL_SECS.
 *	- Requests are written as JSON text with every name and value a JSON
 *	  string made by escape_json, in UTF-8: nothing a user wrote is pasted
 *	  into an expression (names are #n placeholders, values :v ones).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#define json_object pg_json_object_fn
#include "utils/builtins.h"
#include "utils/json.h"
#undef json_object
#include <json-c/json.h>

#include "aws/aws.h"
#include "aws/json_read.h"
#include "dynamodb/dynamodb.h"
#include "fdw/fdw.h"

/* How long a backend trusts a DescribeTable answer */
#define DESCRIBE_TTL_SECS 300
/* A parallel Scan's segments when the option scan_segments is not set */
#define DEFAULT_SCAN_SEGMENTS 4
/* An item's size when DescribeTable does not tell */
#define DEFAULT_ITEM_BYTES 1024.0

typedef struct DescribeKey
{
	Oid			serverid;
	Oid			userid;
	char		name[256];		/* DynamoDB table names have at most 255 */
} DescribeKey;

typedef struct DescribeEntry
{
	DescribeKey key;
	TimestampTz fetched_at;
	char		partition_key[256];
	char		partition_key_type;
	char		sort_key[256];
	char		sort_key_type;
	bool		has_sort_key;
	double		item_count;
	double		size_bytes;
} DescribeEntry;

static HTAB *descriptions = NULL;

static void describe_table(DdbTable *t, AwsClient *client);
static void request_reset(void *arg);

/* Does this foreign table read a DynamoDB table? */
bool
ddb_is_foreign_table(Oid relid)
{
	ForeignTable *ft = GetForeignTable(relid);
	ListCell   *lc;

	foreach(lc, ft->options)
	{
		if (strcmp(((DefElem *) lfirst(lc))->defname, "dynamodb_table") == 0)
			return true;
	}
	return false;
}

/* Does any of these relations of the query read a DynamoDB table? */
bool
ddb_relids_include(PlannerInfo *root, Relids relids)
{
	int			i = -1;

	while ((i = bms_next_member(relids, i)) >= 0)
	{
		RangeTblEntry *rte;

		if (i >= root->simple_rel_array_size)
			continue;
		rte = planner_rt_fetch(i, root);
		if (rte->rtekind == RTE_RELATION &&
			rte->relkind == RELKIND_FOREIGN_TABLE &&
			ddb_is_foreign_table(rte->relid))
			return true;
	}
	return false;
}

/*
 * The DynamoDB table of a foreign table.  With describe, what the options
 * leave open (key schema, size) is asked of DescribeTable (cached).
 */
DdbTable *
ddb_table_for(Oid relid, Oid userid, bool describe)
{
	ForeignTable *ft = GetForeignTable(relid);
	ForeignServer *server = GetForeignServer(ft->serverid);
	DdbTable   *t = palloc0(sizeof(DdbTable));
	bool		have_rows = false;
	ListCell   *lc;

	t->serverid = ft->serverid;
	t->userid = userid;
	t->scan_segments = DEFAULT_SCAN_SEGMENTS;
	foreach(lc, ft->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		char	   *value = defGetString(def);

		if (strcmp(def->defname, "dynamodb_table") == 0)
			t->name = pstrdup(value);
		else if (strcmp(def->defname, "partition_key") == 0)
			t->partition_key = pstrdup(value);
		else if (strcmp(def->defname, "sort_key") == 0)
			t->sort_key = pstrdup(value);
		else if (strcmp(def->defname, "consistent_read") == 0)
			t->consistent_read = defGetBoolean(def);
		else if (strcmp(def->defname, "scan_segments") == 0)
			t->scan_segments = atoi(value);
		else if (strcmp(def->defname, "estimated_rows") == 0)
		{
			t->item_count = strtod(value, NULL);
			have_rows = true;
		}
	}
	if (t->name == NULL)
		elog(ERROR, "foreign table %u has no dynamodb_table option", relid);
	(void) server;

	if (describe && (t->partition_key == NULL || !have_rows))
	{
		AuditFdwOptions *options = audit_get_options(InvalidOid, t->serverid);
		AwsClient  *client = audit_client_for(t->serverid, userid, options);
		double		rows = t->item_count;

		describe_table(t, client);
		if (have_rows)
		{
			/* the option's rows, of the items' average size */
			t->size_bytes = t->size_bytes / Max(t->item_count, 1.0) * rows;
			t->item_count = rows;
		}
	}
	if (t->size_bytes <= 0)
		t->size_bytes = Max(t->item_count, 1) * DEFAULT_ITEM_BYTES;
	return t;
}

/*
 * DescribeTable: the key schema (types from AttributeDefinitions), the item
 * count and size of a table, in a palloc'd DdbTable.
 */
DdbTable *
ddb_describe(AwsClient *client, const char *name)
{
	DdbTable   *d = palloc0(sizeof(DdbTable));
	StringInfoData req;
	json_object *resp;
	json_object *table;
	json_object *schema;
	json_object *defs;
	int64_t		n;

	d->name = pstrdup(name);
	initStringInfo(&req);
	appendStringInfoString(&req, "{\"TableName\":");
	ddb_append_json_string(&req, name);
	appendStringInfoChar(&req, '}');
	resp = ddb_call(client, "DescribeTable", req.data);
	table = aws_json_obj(resp, "Table");
	schema = aws_json_arr(table, "KeySchema");
	defs = aws_json_arr(table, "AttributeDefinitions");
	for (size_t i = 0; i < aws_json_arr_len(schema); i++)
	{
		json_object *elem = aws_json_arr_obj(schema, i);
		const char *attr = aws_json_str(elem, "AttributeName");
		const char *kind = aws_json_str(elem, "KeyType");
		char		type = 0;

		if (attr == NULL || kind == NULL)
			continue;
		for (size_t j = 0; j < aws_json_arr_len(defs); j++)
		{
			json_object *def = aws_json_arr_obj(defs, j);
			const char *dname = aws_json_str(def, "AttributeName");
			const char *dtype = aws_json_str(def, "AttributeType");

			if (dname && dtype && strcmp(dname, attr) == 0 &&
				strlen(dtype) == 1 && strchr("SNB", dtype[0]))
				type = dtype[0];
		}
		if (strcmp(kind, "HASH") == 0)
		{
			d->partition_key = aws_text_to_server(attr);
			d->partition_key_type = type;
		}
		else if (strcmp(kind, "RANGE") == 0)
		{
			d->sort_key = aws_text_to_server(attr);
			d->sort_key_type = type;
		}
	}
	if (d->partition_key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("aws dynamodb DescribeTable returned no key schema for table \"%s\"",
						name),
				 errhint("Set the foreign table's options partition_key (and sort_key) to the table's key attributes.")));
	if (aws_json_int64(table, "ItemCount", &n) && n >= 0)
		d->item_count = (double) n;
	if (aws_json_int64(table, "TableSizeBytes", &n) && n >= 0)
		d->size_bytes = (double) n;
	return d;
}

/*
 * Fill what the options left open from DescribeTable (kept for
 * DESCRIBE_TTL_SECS per server, user and table).  Key types come from
 * AttributeDefinitions.
 */
static void
describe_table(DdbTable *t, AwsClient *client)
{
	DescribeKey key;
	DescribeEntry *entry;
	bool		found;
	TimestampTz now = GetCurrentTimestamp();

	if (descriptions == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(DescribeKey);
		ctl.entrysize = sizeof(DescribeEntry);
		ctl.hcxt = CacheMemoryContext;
		descriptions = hash_create("audit_fdw DynamoDB tables", 16, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.serverid = t->serverid;
	key.userid = t->userid;
	strlcpy(key.name, t->name, sizeof(key.name));
	entry = hash_search(descriptions, &key, HASH_FIND, &found);
	if (!found || TimestampDifferenceExceeds(entry->fetched_at, now,
											 DESCRIBE_TTL_SECS * 1000))
	{
		DdbTable   *d = ddb_describe(client, t->name);
		DescribeEntry fresh;

		memset(&fresh, 0, sizeof(fresh));
		if (strlen(d->partition_key) >= sizeof(fresh.partition_key) ||
			(d->sort_key && strlen(d->sort_key) >= sizeof(fresh.sort_key)))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("the key attribute names of DynamoDB table \"%s\" are too long to keep",
							t->name),
					 errhint("Set the foreign table's options partition_key (and sort_key) to the table's key attributes.")));
		strlcpy(fresh.partition_key, d->partition_key, sizeof(fresh.partition_key));
		fresh.partition_key_type = d->partition_key_type;
		if (d->sort_key)
		{
			strlcpy(fresh.sort_key, d->sort_key, sizeof(fresh.sort_key));
			fresh.sort_key_type = d->sort_key_type;
			fresh.has_sort_key = true;
		}
		fresh.item_count = d->item_count;
		fresh.size_bytes = d->size_bytes;
		fresh.key = key;
		fresh.fetched_at = now;
		entry = hash_search(descriptions, &key, HASH_ENTER, &found);
		*entry = fresh;
	}
	if (t->partition_key == NULL)
	{
		t->partition_key = pstrdup(entry->partition_key);
		t->sort_key = entry->has_sort_key ? pstrdup(entry->sort_key) : NULL;
	}
	if (strcmp(t->partition_key, entry->partition_key) == 0)
		t->partition_key_type = entry->partition_key_type;
	if (t->sort_key && entry->has_sort_key && strcmp(t->sort_key, entry->sort_key) == 0)
		t->sort_key_type = entry->sort_key_type;
	t->item_count = entry->item_count;
	t->size_bytes = entry->size_bytes;
}

/*
 * The columns of a foreign table over DynamoDB, in attribute order
 * (dropped ones left out).
 */
List *
ddb_columns(Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	List	   *columns = NIL;

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		DdbColumn  *col;
		ListCell   *lc;

		if (att->attisdropped)
			continue;
		col = palloc0(sizeof(DdbColumn));
		col->attnum = att->attnum;
		col->attribute = pstrdup(NameStr(att->attname));
		col->typid = att->atttypid;
		col->typmod = att->atttypmod;
		foreach(lc, GetForeignColumnOptions(RelationGetRelid(rel), att->attnum))
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (strcmp(def->defname, "column_name") == 0)
				col->attribute = pstrdup(defGetString(def));
			else if (strcmp(def->defname, "whole_item") == 0)
				col->whole_item = defGetBoolean(def);
		}
		if (col->whole_item && col->typid != JSONBOID && col->typid != JSONOID &&
			col->typid != TEXTOID)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("column \"%s\" of foreign table \"%s\" is marked whole_item but is of type %s",
							NameStr(att->attname), RelationGetRelationName(rel),
							format_type_be(att->atttypid)),
					 errhint("A whole_item column is of type jsonb, json or text.")));
		columns = lappend(columns, col);
	}
	return columns;
}

/* s (in the database's encoding) as a JSON string in UTF-8. */
void
ddb_append_json_string(StringInfo buf, const char *s)
{
	char	   *utf8 = pg_server_to_any(s, strlen(s), PG_UTF8);

	escape_json(buf, utf8);
	if (utf8 != s)
		pfree(utf8);
}

static void
request_reset(void *arg)
{
	json_object_put((json_object *) arg);
}

/*
 * A DynamoDB call with a request written as JSON text; the answer belongs
 * to the current memory context.
 */
json_object *
ddb_call(AwsClient *client, const char *operation, const char *request)
{
	json_object *req = json_tokener_parse(request);
	MemoryContextCallback *cb;

	if (req == NULL)
		elog(ERROR, "DynamoDB %s request is not JSON: %s", operation, request);
	cb = palloc(sizeof(MemoryContextCallback));
	cb->func = request_reset;
	cb->arg = req;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return aws_json_call(client, AWS_SERVICE_DYNAMODB, operation, req);
}
