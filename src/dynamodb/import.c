/*-------------------------------------------------------------------------
 *
 * import.c
 *		IMPORT FOREIGN SCHEMA "DynamoDB": a foreign table for each DynamoDB
 *		table of the account (ListTables), its key from DescribeTable, its
 *		other columns from a sample of its items.
 *
 * Columns, in this order: the partition key, the sort key, the other
 * attributes of the sample by name, and "item" (the whole item as jsonb,
 * option whole_item).  Names keep their case.  Types follow convert.c's
 * mapping from what the sample holds: S text, N numeric, BOOL boolean,
 * B bytea, SS/NS/BS arrays of those; maps, lists and attributes of more
 * than one type jsonb.  Key columns keep the database's collation, so that
 * they join with other text columns; ranges on an S sort key are sent to
 * DynamoDB when that collation orders by code point (C, C.UTF-8), or when a
 * query or the column says COLLATE "C".
 *
 * Options of the statement: sample_size (items read per table, default
 * 100; 0 reads none, and only the keys and the item column are made).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/memutils.h"

#define json_object pg_json_object_fn
#include "utils/builtins.h"
#undef json_object
#include <json-c/json.h>

#include "aws/aws.h"
#include "aws/json_read.h"
#include "dynamodb/dynamodb.h"
#include "fdw/fdw.h"

#define DEFAULT_SAMPLE_SIZE 100

/* An attribute seen in the sample: the types it had */
typedef struct SeenAttribute
{
	char	   *name;
	bool		types[9];		/* S N B BOOL SS NS BS M L */
} SeenAttribute;

static const char *const av_types[] = {"S", "N", "B", "BOOL", "SS", "NS", "BS", "M", "L"};
static const char *const av_sql_types[] = {"text", "numeric", "bytea", "boolean",
"text[]", "numeric[]", "bytea[]", "jsonb", "jsonb"};

static bool wanted(ImportForeignSchemaStmt *stmt, const char *name);
static List *list_tables(AwsClient *client);
static char *table_command(AwsClient *client, ImportForeignSchemaStmt *stmt,
						   const char *server, const char *table, int sample_size);

List *
ddbImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	AuditFdwOptions *options = audit_get_options(InvalidOid, serverOid);
	ForeignServer *server = GetForeignServer(serverOid);
	AwsClient  *client = audit_client_for(serverOid, GetUserId(), options);
	int			sample_size = DEFAULT_SAMPLE_SIZE;
	List	   *commands = NIL;
	ListCell   *lc;

	foreach(lc, stmt->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "sample_size") == 0)
		{
			sample_size = defGetInt32(def);
			if (sample_size < 0 || sample_size > 10000)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"sample_size\": %d", sample_size),
						 errhint("Use an integer from 0 to 10000.")));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 errhint("IMPORT FOREIGN SCHEMA \"%s\" takes the option sample_size.",
							 DDB_IMPORT_SCHEMA)));
	}

	foreach(lc, list_tables(client))
	{
		const char *name = lfirst(lc);

		if (!wanted(stmt, name))
			continue;
		commands = lappend(commands,
						   table_command(client, stmt, server->servername, name,
										 sample_size));
	}
	return commands;
}

static bool
wanted(ImportForeignSchemaStmt *stmt, const char *name)
{
	ListCell   *lc;
	bool		listed = false;

	if (stmt->list_type == FDW_IMPORT_SCHEMA_ALL)
		return true;
	foreach(lc, stmt->table_list)
	{
		if (strcmp(((RangeVar *) lfirst(lc))->relname, name) == 0)
			listed = true;
	}
	return stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO ? listed : !listed;
}

/* Every table name of ListTables (all pages). */
static List *
list_tables(AwsClient *client)
{
	List	   *names = NIL;
	char	   *start = NULL;

	do
	{
		StringInfoData req;
		json_object *resp;
		json_object *arr;
		const char *last;

		initStringInfo(&req);
		appendStringInfoString(&req, "{\"Limit\":100");
		if (start)
		{
			appendStringInfoString(&req, ",\"ExclusiveStartTableName\":");
			ddb_append_json_string(&req, start);
		}
		appendStringInfoChar(&req, '}');
		resp = ddb_call(client, "ListTables", req.data);
		arr = aws_json_arr(resp, "TableNames");
		for (size_t i = 0; i < aws_json_arr_len(arr); i++)
		{
			const char *name = aws_json_str_value(json_object_array_get_idx(arr, i));

			if (name)
				names = lappend(names, aws_text_to_server(name));
		}
		last = aws_json_str(resp, "LastEvaluatedTableName");
		start = last ? aws_text_to_server(last) : NULL;
	} while (start != NULL);
	return names;
}

/* A column name for an attribute: PostgreSQL keeps 63 bytes of a name. */
static void
append_column(StringInfo buf, const char *attribute, const char *type, bool first)
{
	char	   *name = pstrdup(attribute);
	int			len = pg_mbcliplen(name, strlen(name), NAMEDATALEN - 1);

	name[len] = '\0';
	appendStringInfo(buf, "%s\n  %s %s", first ? "" : ",", quote_identifier(name), type);
	if (strcmp(name, attribute) != 0)
		appendStringInfo(buf, " OPTIONS (column_name %s)", quote_literal_cstr(attribute));
}

static char *
table_command(AwsClient *client, ImportForeignSchemaStmt *stmt, const char *server,
			  const char *table, int sample_size)
{
	DdbTable   *desc;
	List	   *seen = NIL;
	StringInfoData buf;
	ListCell   *lc;
	const char *item_column = "item";
	char	   *tname = pstrdup(table);

	desc = ddb_describe(client, table);

	/* a sample of the items: which attributes, of which types */
	if (sample_size > 0)
	{
		StringInfoData req;
		json_object *resp;
		json_object *items;

		initStringInfo(&req);
		appendStringInfoString(&req, "{\"TableName\":");
		ddb_append_json_string(&req, table);
		appendStringInfo(&req, ",\"Limit\":%d}", sample_size);
		resp = ddb_call(client, "Scan", req.data);
		items = aws_json_arr(resp, "Items");
		for (size_t i = 0; i < aws_json_arr_len(items); i++)
		{
			json_object *item = aws_json_arr_obj(items, i);

			if (!json_object_is_type(item, json_type_object))
				continue;
			{
			json_object_object_foreach(item, key, av)
			{
				SeenAttribute *sa = NULL;
				char	   *name = aws_text_to_server(key);

				foreach(lc, seen)
				{
					if (strcmp(((SeenAttribute *) lfirst(lc))->name, name) == 0)
						sa = lfirst(lc);
				}
				if (sa == NULL)
				{
					sa = palloc0(sizeof(SeenAttribute));
					sa->name = name;
					seen = lappend(seen, sa);
				}
				if (json_object_is_type(av, json_type_object))
				{
					json_object_object_foreach(av, type, v)
					{
						/* one member: the type */
						(void) v;
						for (int k = 0; k < lengthof(av_types); k++)
							if (strcmp(type, av_types[k]) == 0)
								sa->types[k] = true;
					}
				}
			}
			}
		}
	}

	initStringInfo(&buf);
	if (strlen(tname) >= NAMEDATALEN)
		tname[pg_mbcliplen(tname, strlen(tname), NAMEDATALEN - 1)] = '\0';
	appendStringInfo(&buf, "CREATE FOREIGN TABLE %s.%s (",
					 quote_identifier(stmt->local_schema), quote_identifier(tname));
	append_column(&buf, desc->partition_key,
				  desc->partition_key_type == 'N' ? "numeric" :
				  desc->partition_key_type == 'B' ? "bytea" : "text", true);
	if (desc->sort_key)
		append_column(&buf, desc->sort_key,
					  desc->sort_key_type == 'N' ? "numeric" :
					  desc->sort_key_type == 'B' ? "bytea" : "text", false);
	/* the other attributes by name (code point order) */
	{
		int			n = list_length(seen);
		SeenAttribute **sorted = palloc(sizeof(SeenAttribute *) * Max(n, 1));
		int			i = 0;

		foreach(lc, seen)
			sorted[i++] = lfirst(lc);
		for (int a = 1; a < n; a++)
			for (int b = a; b > 0 && strcmp(sorted[b - 1]->name, sorted[b]->name) > 0; b--)
			{
				SeenAttribute *tmp = sorted[b];

				sorted[b] = sorted[b - 1];
				sorted[b - 1] = tmp;
			}
		for (i = 0; i < n; i++)
		{
			SeenAttribute *sa = sorted[i];
			const char *type = NULL;
			int			kinds = 0;

			if (strcmp(sa->name, desc->partition_key) == 0 ||
				(desc->sort_key && strcmp(sa->name, desc->sort_key) == 0))
				continue;
			if (strcmp(sa->name, item_column) == 0)
				item_column = "whole_item";
			for (int k = 0; k < lengthof(av_types); k++)
				if (sa->types[k])
				{
					kinds++;
					type = av_sql_types[k];
				}
			append_column(&buf, sa->name, kinds == 1 ? type : "jsonb", false);
		}
	}
	appendStringInfo(&buf, ",\n  %s jsonb OPTIONS (whole_item 'true')", item_column);
	appendStringInfo(&buf, "\n) SERVER %s OPTIONS (dynamodb_table %s, partition_key %s",
					 quote_identifier(server), quote_literal_cstr(table),
					 quote_literal_cstr(desc->partition_key));
	if (desc->sort_key)
		appendStringInfo(&buf, ", sort_key %s", quote_literal_cstr(desc->sort_key));
	appendStringInfoString(&buf, ")");
	return buf.data;
}
