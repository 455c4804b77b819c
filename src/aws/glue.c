/*-------------------------------------------------------------------------
 *
 * glue.c
 *		The Glue Data Catalog's table API: GetTables for IMPORT FOREIGN
 *		SCHEMA; GetDatabase, CreateDatabase, GetTable and CreateTable for
 *		create_audit_table().  AWS JSON 1.1, target AWSGlue.
 *
 * Pages are followed to the end (NextToken); strings are copied into the
 * current memory context and each response is released at once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/makefuncs.h"

#include <json-c/json.h>

#include "aws/athena.h"
#include "aws/responses.h"

static void add_columns(GlueTable *table, json_object *cols, bool partition_key);
static json_object *call_and_release(AwsClient *client, const char *operation,
									 json_object *req);
static json_object *call_unless(AwsClient *client, const char *operation,
								json_object *req, const char *error_code);

/* A Glue call; the request is released whatever happens. */
static json_object *
call_and_release(AwsClient *client, const char *operation, json_object *req)
{
	json_object *volatile resp = NULL;

	PG_TRY();
	{
		resp = aws_json_call(client, AWS_SERVICE_GLUE, operation, req);
	}
	PG_CATCH();
	{
		json_object_put(req);
		PG_RE_THROW();
	}
	PG_END_TRY();
	json_object_put(req);
	return resp;
}

static void
add_columns(GlueTable *table, json_object *cols, bool partition_key)
{
	size_t		n = aws_json_arr_len(cols);

	for (size_t i = 0; i < n; i++)
	{
		const char *name;
		const char *type;
		AthenaTableColumn *col;

		if (!aws_read_glue_column(cols, i, &name, &type) || name[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("Glue table \"%s\" has a column without a name", table->name),
					 errdetail("Column %d of its %s has no Name string.", (int) i + 1,
							   partition_key ? "PartitionKeys" : "Columns")));
		col = palloc0(sizeof(AthenaTableColumn));
		col->name = aws_text_to_server(name);
		col->type = aws_text_to_server(type ? type : "string");
		col->partition_key = partition_key;
		table->columns = lappend(table->columns, col);
	}
}

/*
 * Every table of a Glue database, with its columns then partition keys.
 */
List *
glue_get_tables(AwsClient *client, const char *catalog_id, const char *database)
{
	List	   *tables = NIL;
	char	   *next_token = NULL;

	do
	{
		json_object *req = json_object_new_object();
		json_object *resp;
		json_object *list;

		json_object_object_add(req, "DatabaseName", json_object_new_string(database));
		if (catalog_id)
			json_object_object_add(req, "CatalogId", json_object_new_string(catalog_id));
		if (next_token)
			json_object_object_add(req, "NextToken", json_object_new_string(next_token));
		resp = call_and_release(client, "GetTables", req);

		list = aws_json_arr(resp, "TableList");
		for (size_t i = 0; i < aws_json_arr_len(list); i++)
		{
			GlueTableView view;
			GlueTable  *table;

			if (!aws_read_glue_table(aws_json_arr_obj(list, i), &view) || view.name[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("Glue GetTables returned a table without a name"),
						 errdetail("Table %d of database \"%s\" has no Name string.",
								   (int) i + 1, database)));
			table = palloc0(sizeof(GlueTable));
			table->name = aws_text_to_server(view.name);
			add_columns(table, view.columns, false);
			add_columns(table, view.partition_keys, true);
			if (view.parameters)
			{
				json_object_object_foreach(view.parameters, pkey, pval)
				{
					if (json_object_is_type(pval, json_type_string))
						table->parameters =
							lappend(table->parameters,
									makeDefElem(aws_text_to_server(pkey),
												(Node *) makeString(aws_text_to_server(json_object_get_string(pval))),
												-1));
				}
			}
			tables = lappend(tables, table);
		}
		{
			const char *tok = aws_json_str(resp, "NextToken");

			next_token = tok && *tok ? pstrdup(tok) : NULL;
		}
		aws_json_release(resp);
	} while (next_token != NULL);

	return tables;
}

/*
 * Provisioning (create_audit_table): existence checks that answer "missing"
 * instead of raising EntityNotFoundException, and the creations.
 */

/*
 * A Glue call that returns NULL when Glue answers with error_code
 * (EntityNotFoundException, AlreadyExistsException) and raises any other
 * error; the request is released whatever happens.
 */
static json_object *
call_unless(AwsClient *client, const char *operation, json_object *req,
			const char *error_code)
{
	AwsError   *error = NULL;
	json_object *volatile resp = NULL;

	PG_TRY();
	{
		resp = aws_json_call_try(client, AWS_SERVICE_GLUE, operation, req, &error);
	}
	PG_CATCH();
	{
		json_object_put(req);
		PG_RE_THROW();
	}
	PG_END_TRY();
	json_object_put(req);
	if (resp == NULL)
	{
		if (strcmp(error->code, error_code) == 0)
			return NULL;
		aws_error_raise(error);
	}
	return resp;
}

/* Whether the Glue database exists (GetDatabase). */
bool
glue_database_exists(AwsClient *client, const char *database)
{
	json_object *req = json_object_new_object();
	json_object *resp;

	json_object_object_add(req, "Name", json_object_new_string(database));
	resp = call_unless(client, "GetDatabase", req, "EntityNotFoundException");
	if (resp == NULL)
		return false;
	aws_json_release(resp);
	return true;
}

/*
 * CreateDatabase.  Returns false when the database exists already (created
 * by someone else since the caller looked).
 */
bool
glue_create_database(AwsClient *client, const char *database, const char *description)
{
	json_object *req = json_object_new_object();
	json_object *input = json_object_new_object();
	json_object *resp;

	json_object_object_add(input, "Name", json_object_new_string(database));
	if (description)
		json_object_object_add(input, "Description", json_object_new_string(description));
	json_object_object_add(req, "DatabaseInput", input);
	resp = call_unless(client, "CreateDatabase", req, "AlreadyExistsException");
	if (resp == NULL)
		return false;
	aws_json_release(resp);
	return true;
}

/*
 * The Glue Table object of database.table (GetTable), or NULL when there is
 * none.  The object belongs to the current memory context.
 */
json_object *
glue_get_table(AwsClient *client, const char *database, const char *table)
{
	json_object *req = json_object_new_object();
	json_object *resp;
	json_object *t;

	json_object_object_add(req, "DatabaseName", json_object_new_string(database));
	json_object_object_add(req, "Name", json_object_new_string(table));
	resp = call_unless(client, "GetTable", req, "EntityNotFoundException");
	if (resp == NULL)
		return NULL;
	if ((t = aws_json_obj(resp, "Table")) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid Glue GetTable response"),
				 errdetail("The response has no Table.")));
	return t;
}

/*
 * CreateTable from a TableInput object (not consumed).  Returns false when
 * the table exists already (created by someone else since the caller
 * looked).
 */
bool
glue_create_table(AwsClient *client, const char *database, json_object *table_input)
{
	json_object *req = json_object_new_object();
	json_object *resp;

	json_object_object_add(req, "DatabaseName", json_object_new_string(database));
	json_object_object_add(req, "TableInput", json_object_get(table_input));
	resp = call_unless(client, "CreateTable", req, "AlreadyExistsException");
	if (resp == NULL)
		return false;
	aws_json_release(resp);
	return true;
}
