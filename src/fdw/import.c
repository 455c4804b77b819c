/*-------------------------------------------------------------------------
 *
 * import.c
 *		IMPORT FOREIGN SCHEMA from the Glue Data Catalog.
 *
 * A Glue database is the remote schema; each of its tables becomes a
 * foreign table with the database and table options, its columns (then
 * its partition keys) mapped to PostgreSQL types (types.c).  Struct
 * columns of the audit record (keys, new_image, old_image) are also
 * offered field by field, as columns reading a path into the struct:
 *
 *	  new_state text OPTIONS (column_name 'new_image', path 'state')
 *
 * so that audit queries read and filter item attributes as plain columns
 * (keys' fields keep their own names: order_id).  Field names become
 * snake_case (orderId -> order_id).  LIMIT TO and EXCEPT are applied by
 * PostgreSQL on the table names returned.
 *
 * Field names keep the case the item has (DynamoDB's names are
 * case-sensitive, Athena's are not): the declared type of keys, new_image
 * and old_image is the one create_audit_table kept in the table's
 * parameters (audit_fdw.keys_type, audit_fdw.image_type) when it matches
 * the column's Glue type but for case, else the Glue type.  A column whose
 * declared type names a field with an upper-case letter gets it as the
 * option glue_type, so that its JSON comes back in that case (fieldcase.c).
 *
 * A table made by create_audit_table (partition projection of type date
 * over the delivery hour, and the audit record's event_time) also gets the
 * options of partition pruning: time_column, partition_column and
 * partition_format, and partition_layout 'event_time' when its parameter
 * audit_fdw.layout says the folders are the events' hours, and with key
 * buckets bucket_column, bucket_key and bucket_digits, and with attribute
 * folders folder_column, folder_attribute and folder_values (partition.c
 * and deparse.c say how they are used).
 *
 * IMPORT options: expand_structs 'false' leaves structs as jsonb only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"

#include "aws/athena.h"
#include "fdw/fdw.h"

typedef struct StructField
{
	char	   *name;
	char	   *type;
} StructField;

static List *parse_struct_fields(const char *type);
static char *snake_case(const char *name);
static const char *struct_prefix(const char *column);
static bool name_taken(List *names, const char *name);
static const char *glue_parameter(GlueTable *table, const char *name);
static const char *declared_type(GlueTable *table, AthenaTableColumn *col);
static void append_column(StringInfo buf, const char *name, const char *type,
						  const char *column_name, const char *path);
static void append_partition_options(StringInfo buf, GlueTable *table);

static const char *
glue_parameter(GlueTable *table, const char *name)
{
	ListCell   *lc;

	foreach(lc, table->parameters)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return strVal(def->arg);
	}
	return NULL;
}

/*
 * Partition pruning options for a table with partition projection of type
 * date over a partition key (create_audit_table's datehour): the
 * partition column and its format, and for audit record tables the time
 * column, event_time.
 */
/*
 * Key buckets of a table made by create_audit_table(key_buckets => N): its
 * parameters audit_fdw.bucket_key and audit_fdw.bucket_digits, and the
 * enum-projected partition column key_bucket.
 */
static void
append_bucket_options(StringInfo buf, GlueTable *table)
{
	const char *key = glue_parameter(table, "audit_fdw.bucket_key");
	const char *digits = glue_parameter(table, "audit_fdw.bucket_digits");
	const char *type = glue_parameter(table, "projection.key_bucket.type");

	if (key == NULL || digits == NULL || type == NULL || strcmp(type, "enum") != 0 ||
		strlen(digits) != 1 || digits[0] < '1' || digits[0] > '3')
		return;
	appendStringInfo(buf, ", bucket_column 'key_bucket', bucket_key %s, bucket_digits '%s'",
					 quote_literal_cstr(key), digits);
}

/*
 * Attribute folders of a table made by create_audit_table(folder_attribute
 * => ...): its parameter audit_fdw.folder_attribute, and the enum-projected
 * partition column attribute_folder whose values are the declared ones
 * then _other and _none.
 */
static void
append_folder_options(StringInfo buf, GlueTable *table)
{
	const char *attribute = glue_parameter(table, "audit_fdw.folder_attribute");
	const char *type = glue_parameter(table, "projection.attribute_folder.type");
	const char *values = glue_parameter(table, "projection.attribute_folder.values");
	StringInfoData declared;
	char	   *copy;
	char	   *save = NULL;
	bool		is_partition = false;
	ListCell   *lc;

	foreach(lc, table->columns)
	{
		AthenaTableColumn *col = (AthenaTableColumn *) lfirst(lc);

		if (col->partition_key && strcmp(col->name, "attribute_folder") == 0)
			is_partition = true;
	}
	if (attribute == NULL || type == NULL || values == NULL || !is_partition ||
		strcmp(type, "enum") != 0)
		return;
	initStringInfo(&declared);
	copy = pstrdup(values);
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		char	   *end;

		/* Athena trims the values of an enum projection */
		while (isspace((unsigned char) *tok))
			tok++;
		end = tok + strlen(tok);
		while (end > tok && isspace((unsigned char) end[-1]))
			*--end = '\0';
		if (strcmp(tok, AUDIT_FOLDER_OTHER) == 0 || strcmp(tok, AUDIT_FOLDER_NONE) == 0 ||
			*tok == '\0')
			continue;
		appendStringInfo(&declared, "%s%s", declared.len > 0 ? "," : "", tok);
	}
	if (declared.len == 0)
		return;
	appendStringInfo(buf, ", folder_column 'attribute_folder', folder_attribute %s, folder_values %s",
					 quote_literal_cstr(attribute), quote_literal_cstr(declared.data));
}

static void
append_partition_options(StringInfo buf, GlueTable *table)
{
	const char *enabled = glue_parameter(table, "projection.enabled");
	const char *layout;
	ListCell   *lc;

	if (enabled == NULL || pg_strcasecmp(enabled, "true") != 0)
		return;
	foreach(lc, table->columns)
	{
		AthenaTableColumn *col = (AthenaTableColumn *) lfirst(lc);
		const char *type;
		const char *format;
		ListCell   *cc;
		bool		has_event_time = false;

		if (!col->partition_key)
			continue;
		type = glue_parameter(table, psprintf("projection.%s.type", col->name));
		format = glue_parameter(table, psprintf("projection.%s.format", col->name));
		if (type == NULL || strcmp(type, "date") != 0 || format == NULL ||
			!audit_partition_format_valid(format))
			continue;
		foreach(cc, table->columns)
			if (strcmp(((AthenaTableColumn *) lfirst(cc))->name, "event_time") == 0)
				has_event_time = true;
		if (glue_parameter(table, "audit_fdw.record_version") == NULL || !has_event_time)
			continue;
		appendStringInfo(buf, ", time_column 'event_time', partition_column %s, partition_format %s",
						 quote_literal_cstr(col->name), quote_literal_cstr(format));
		layout = glue_parameter(table, "audit_fdw.layout");
		if (layout != NULL && strcmp(layout, "event_time") == 0)
			appendStringInfoString(buf, ", partition_layout 'event_time'");
		append_bucket_options(buf, table);
		append_folder_options(buf, table);
		return;
	}
}

/*
 * The type of a column with its field names as declared: for the audit
 * record's struct columns, the type create_audit_table kept, when it is
 * the Glue type but for case.
 */
static const char *
declared_type(GlueTable *table, AthenaTableColumn *col)
{
	const char *param = NULL;
	const char *declared;

	if (pg_strcasecmp(col->name, "keys") == 0)
		param = "audit_fdw.keys_type";
	else if (pg_strcasecmp(col->name, "new_image") == 0 ||
			 pg_strcasecmp(col->name, "old_image") == 0)
		param = "audit_fdw.image_type";
	declared = param ? glue_parameter(table, param) : NULL;
	if (declared && pg_strcasecmp(declared, col->type) == 0)
		return declared;
	return col->type;
}

/*
 * One column definition: name, PostgreSQL type, and the options of a struct
 * path and of a declared type with upper-case field names.
 */
static void
append_column(StringInfo buf, const char *name, const char *type,
			  const char *column_name, const char *path)
{
	const char *pgtype = audit_glue_type_to_pg(type);
	bool		recase = audit_glue_type_parse(type) != NULL;

	appendStringInfo(buf, "%s %s", quote_identifier(name), pgtype ? pgtype : "text");
	if (column_name == NULL && !recase)
		return;
	appendStringInfoString(buf, " OPTIONS (");
	if (column_name)
		appendStringInfo(buf, "column_name %s, path %s%s", quote_literal_cstr(column_name),
						 quote_literal_cstr(path), recase ? ", " : "");
	if (recase)
		appendStringInfo(buf, "glue_type %s", quote_literal_cstr(type));
	appendStringInfoChar(buf, ')');
}

/* The prefix of expanded fields of the audit record's struct columns. */
static const char *
struct_prefix(const char *column)
{
	if (pg_strcasecmp(column, "keys") == 0)
		return "";
	if (pg_strcasecmp(column, "new_image") == 0)
		return "new_";
	if (pg_strcasecmp(column, "old_image") == 0)
		return "old_";
	return NULL;
}

/* orderId -> order_id, lastUpdatedDate -> last_updated_date */
static char *
snake_case(const char *name)
{
	StringInfoData buf;
	const char *p;

	initStringInfo(&buf);
	for (p = name; *p; p++)
	{
		if (isupper((unsigned char) *p))
		{
			if (p != name && !isupper((unsigned char) p[-1]) && p[-1] != '_')
				appendStringInfoChar(&buf, '_');
			appendStringInfoChar(&buf, tolower((unsigned char) *p));
		}
		else
			appendStringInfoChar(&buf, *p);
	}
	return buf.data;
}

/*
 * The fields of struct<a:string,b:struct<...>,...>; NIL when type is not
 * a struct.
 */
static List *
parse_struct_fields(const char *type)
{
	List	   *fields = NIL;
	const char *p;
	int			len = strlen(type);
	const char *end;

	if (pg_strncasecmp(type, "struct<", 7) != 0 || type[len - 1] != '>')
		return NIL;
	p = type + 7;
	end = type + len - 1;
	while (p < end)
	{
		const char *colon = p;
		const char *q;
		int			depth = 0;
		StructField *f;

		while (colon < end && *colon != ':')
			colon++;
		if (colon >= end)
			break;
		q = colon + 1;
		while (q < end && (depth > 0 || *q != ','))
		{
			if (*q == '<' || *q == '(')
				depth++;
			else if (*q == '>' || *q == ')')
				depth--;
			q++;
		}
		f = palloc(sizeof(StructField));
		f->name = pnstrdup(p, colon - p);
		f->type = pnstrdup(colon + 1, q - colon - 1);
		fields = lappend(fields, f);
		p = q + 1;
	}
	return fields;
}

static bool
name_taken(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp(strVal(lfirst(lc)), name) == 0)
			return true;
	return false;
}

List *
auditImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	AuditFdwOptions *options = audit_get_options(InvalidOid, serverOid);
	ForeignServer *server = GetForeignServer(serverOid);
	AwsClient  *client;
	List	   *tables;
	List	   *commands = NIL;
	bool		expand_structs = true;
	ListCell   *lc;

	foreach(lc, stmt->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "expand_structs") == 0)
			expand_structs = defGetBoolean(def);
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 errhint("IMPORT FOREIGN SCHEMA of audit_fdw takes the option \"expand_structs\".")));
	}

	client = audit_client_for(serverOid, GetUserId(), options);
	tables = glue_get_tables(client, NULL, stmt->remote_schema);

	foreach(lc, tables)
	{
		GlueTable  *table = (GlueTable *) lfirst(lc);
		StringInfoData buf;
		List	   *names = NIL;
		List	   *expanded = NIL;
		ListCell   *cc;
		bool		first = true;

		initStringInfo(&buf);
		appendStringInfo(&buf, "CREATE FOREIGN TABLE %s (",
						 quote_identifier(table->name));

		foreach(cc, table->columns)
		{
			AthenaTableColumn *col = (AthenaTableColumn *) lfirst(cc);

			names = lappend(names, makeString(col->name));
			if (!first)
				appendStringInfoString(&buf, ",\n  ");
			first = false;
			append_column(&buf, col->name, declared_type(table, col), NULL, NULL);
		}

		/* struct fields of the audit record as columns of their own */
		if (expand_structs)
		{
			foreach(cc, table->columns)
			{
				AthenaTableColumn *col = (AthenaTableColumn *) lfirst(cc);
				const char *prefix = struct_prefix(col->name);
				ListCell   *fc;

				if (prefix == NULL)
					continue;
				foreach(fc, parse_struct_fields(declared_type(table, col)))
				{
					StructField *f = (StructField *) lfirst(fc);
					char	   *name = psprintf("%s%s", prefix, snake_case(f->name));
					StringInfoData def;

					if (strchr(f->name, '.') || name_taken(names, name))
						continue;
					names = lappend(names, makeString(name));
					initStringInfo(&def);
					append_column(&def, name, f->type, col->name, f->name);
					expanded = lappend(expanded, def.data);
				}
			}
			foreach(cc, expanded)
			{
				if (!first)
					appendStringInfoString(&buf, ",\n  ");
				first = false;
				appendStringInfoString(&buf, (char *) lfirst(cc));
			}
		}

		appendStringInfo(&buf, ") SERVER %s OPTIONS (database %s, \"table\" %s",
						 quote_identifier(server->servername),
						 quote_literal_cstr(stmt->remote_schema),
						 quote_literal_cstr(table->name));
		append_partition_options(&buf, table);
		appendStringInfoChar(&buf, ')');
		commands = lappend(commands, buf.data);
	}
	return commands;
}
