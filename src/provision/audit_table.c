/*-------------------------------------------------------------------------
 *
 * audit_table.c
 *		audit_fdw.create_audit_table(): the Glue table over a pipeline's
 *		audit records, so that Athena (and audit_fdw's foreign tables) can
 *		query them without a crawler.
 *
 * The table is what the Athena documentation recommends for Firehose
 * output:
 *	- the OpenX JSON SerDe, one audit record (DESIGN.md section 2) a line;
 *	- the columns of the audit record, with keys, new_image and old_image as
 *	  struct<...> types of the item attributes the user names;
 *	- partition projection over Firehose's default YYYY/MM/dd/HH/ folders
 *	  (a partition column "datehour" of projected type date, one partition
 *	  an hour, over a NOW-relative range), so a new hour is visible the
 *	  moment Firehose writes into it and nothing needs to add partitions;
 *	- with key_buckets => N (event-time layout only), a second partition
 *	  column key_bucket of projected type enum (the N values "0".."f",
 *	  "00".."ff" or "000".."fff"), the folder under each hour that
 *	  create_delivery_stream's key buckets write: the last digits of the
 *	  key_hash of the first key column.  The table's parameters
 *	  audit_fdw.bucket_key and audit_fdw.bucket_digits tell IMPORT FOREIGN
 *	  SCHEMA which column equality selects a bucket.
 *	- with folder_attribute => 'state' and folder_values (event-time
 *	  layout only), a last partition column attribute_folder of projected
 *	  type enum (the declared values, then _other and _none), the folder
 *	  under each hour (and bucket) that the pump and create_delivery_stream's
 *	  attribute folders write: the new image's value of that attribute
 *	  (pump/transform.c).  The table parameter audit_fdw.folder_attribute names
 *	  the attribute for IMPORT FOREIGN SCHEMA.
 *
 * Idempotent: the definition is a pure function of the arguments, so a
 * second call with the same arguments finds the same table and does
 * nothing; a table of that name with another definition is an error that
 * says what differs.
 *
 *-------------------------------------------------------------------------
 */
#include "provision/provision.h"

#include <ctype.h>

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/timestamp.h"
#include "aws/json_read.h"
#include "provision/item_columns.h"

PG_FUNCTION_INFO_V1(audit_fdw_create_audit_table);

/* The partition column over Firehose's YYYY/MM/dd/HH/ folders. */
#define PARTITION_COLUMN "datehour"
#define JSON_SERDE "org.openx.data.jsonserde.JsonSerDe"
#define TEXT_INPUT_FORMAT "org.apache.hadoop.mapred.TextInputFormat"
#define TEXT_OUTPUT_FORMAT "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

/* The audit record's columns before the item images (DESIGN.md section 2). */
typedef struct AuditColumn
{
	const char *name;
	const char *type;
	const char *comment;
} AuditColumn;

static const AuditColumn record_columns[] = {
	{"event_id", "string", "The stream record's eventID: unique per change; a repeated one is a redelivery."},
	{"event_name", "string", "INSERT, MODIFY or REMOVE."},
	{"event_time", "timestamp", "When DynamoDB made the change (ApproximateCreationDateTime, UTC)."},
	{"sequence_number", "string", "The stream sequence number: orders the changes of an item."},
	{"shard_id", "string", "The stream shard the record came from."},
	{"source_table", "string", "The DynamoDB table."},
	{"aws_region", "string", "The region of the DynamoDB table."},
	{"user_identity", "struct<type:string,principal_id:string>", "Who made the change when it was not an application: DynamoDB itself for TTL deletes."},
};

typedef struct AuditTableSpec
{
	char	   *database;
	char	   *table;
	S3Location *location;
	char	   *keys_type;
	char	   *image_type;
	char	   *range;			/* projection range, e.g. NOW-1YEARS,NOW */
	bool		event_time;		/* layout => 'event_time' */
	int			bucket_digits;	/* key_buckets as hex digits, 0: none */
	char	   *bucket_key;		/* the first key column's name */
	char	   *folder_attribute;	/* attribute folders; NULL: none */
	char	   *folder_values;	/* the projection's values: declared, _other, _none */
} AuditTableSpec;

static char *glue_name_arg(const char *argname, const char *value);
static char *parse_item_columns_arg(const char *argname, const char *text, bool first_only,
									char **first_name);
static char *projection_range(Interval *history);
static json_object *table_input(const AuditTableSpec *spec);
static json_object *column_object(const char *name, const char *type, const char *comment);
static void compare_table(const AuditTableSpec *spec, json_object *wanted, json_object *existing);
static bool same_type(const char *a, const char *b);
static bool same_location(const char *a, const char *b);
static void report_difference(const AuditTableSpec *spec, const char *what,
							  const char *existing, const char *wanted);

/*
 * create_audit_table(server name, table_name text, location text,
 *					  item_columns text, database text, key_columns text,
 *					  history interval, layout text, key_buckets int,
 *					  folder_attribute text, folder_values text[])
 *	returns text
 *
 * Returns 'created', or 'unchanged' when the same table exists.
 */
Datum
audit_fdw_create_audit_table(PG_FUNCTION_ARGS)
{
	AuditTableSpec spec;
	ForeignServer *server;
	AwsClient  *client;
	char	   *database;
	char	   *item_text;
	char	   *key_text;
	json_object *wanted;
	json_object *existing;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server must not be null")));
	server = provision_server(NameStr(*PG_GETARG_NAME(0)));

	spec.table = glue_name_arg("table_name", provision_text_arg(fcinfo, 1, "table_name", true));
	spec.location = provision_parse_location("location",
											 provision_text_arg(fcinfo, 2, "location", true));
	item_text = provision_text_arg(fcinfo, 3, "item_columns", true);
	database = provision_text_arg(fcinfo, 4, "database", false);
	if (database == NULL)
		database = provision_server_option(server, "database");
	if (database == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no Glue database given for the audit table"),
				 errdetail("Server \"%s\" has no database option and the call names none.",
						   server->servername),
				 errhint("Pass database => 'audit', or set the server's database option.")));
	spec.database = glue_name_arg("database", database);
	key_text = provision_text_arg(fcinfo, 5, "key_columns", false);
	if (PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("history must not be null"),
				 errhint("Leave it out for the default of one year.")));
	spec.range = projection_range(PG_GETARG_INTERVAL_P(6));
	spec.event_time = provision_layout_arg(fcinfo, 7);
	spec.bucket_digits = provision_key_buckets_arg(fcinfo, 8, spec.event_time);
	spec.folder_attribute = provision_folder_attribute_arg(fcinfo, 9, spec.event_time, true);
	spec.folder_values = NULL;
	{
		List	   *values = provision_folder_values_arg(fcinfo, 10, spec.folder_attribute);
		ListCell   *lc;
		StringInfoData buf;

		if (values != NIL)
		{
			initStringInfo(&buf);
			foreach(lc, values)
				appendStringInfo(&buf, "%s,", (char *) lfirst(lc));
			appendStringInfoString(&buf, "_other,_none");
			spec.folder_values = buf.data;
		}
	}

	spec.image_type = parse_item_columns_arg("item_columns", item_text, false, NULL);
	/* without key_columns, the key is the first item column */
	spec.keys_type = key_text ?
		parse_item_columns_arg("key_columns", key_text, false, &spec.bucket_key) :
		parse_item_columns_arg("item_columns", item_text, true, &spec.bucket_key);

	wanted = provision_json_owned(table_input(&spec));

	client = provision_client(server);
	existing = NULL;
	if (!glue_database_exists(client, spec.database))
	{
		if (glue_create_database(client, spec.database,
								 "Audit tables of DynamoDB streams, written by audit_fdw."))
			ereport(NOTICE,
					(errmsg("created Glue database \"%s\"", spec.database)));
	}
	else
		existing = glue_get_table(client, spec.database, spec.table);

	if (existing == NULL)
	{
		if (glue_create_table(client, spec.database, wanted))
			PG_RETURN_TEXT_P(cstring_to_text("created"));

		/* made by a concurrent call since we looked: compared like any other */
		existing = glue_get_table(client, spec.database, spec.table);
		if (existing == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("Glue table \"%s.%s\" disappeared while it was being created",
							spec.database, spec.table),
					 errdetail("Glue answered AlreadyExistsException to CreateTable, then EntityNotFoundException to GetTable."),
					 errhint("Call create_audit_table again.")));
	}
	compare_table(&spec, wanted, existing);
	ereport(NOTICE,
			(errmsg("Glue table \"%s.%s\" already exists with this definition, skipping",
					spec.database, spec.table)));
	PG_RETURN_TEXT_P(cstring_to_text("unchanged"));
}

/*
 * A Glue database or table name: Glue stores names in lower case, and
 * Athena needs quoting for anything but letters, digits and underscores.
 */
static char *
glue_name_arg(const char *argname, const char *value)
{
	size_t		len = strlen(value);
	char	   *name = pstrdup(value);

	if (len == 0 || len > 255)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid %s \"%s\"", argname, value),
				 errdetail("Glue names have 1 to 255 characters.")));
	for (size_t i = 0; i < len; i++)
	{
		char		c = name[i];

		if (!(isalnum((unsigned char) c) || c == '_') || (unsigned char) c > 127)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid %s \"%s\"", argname, value),
					 errdetail("Character \"%c\" is not allowed.", c),
					 errhint("Use letters, digits and underscores, as Athena expects of table and database names.")));
		name[i] = tolower((unsigned char) c);
	}
	return name;
}

/*
 * The struct<...> type of an attribute list (of its first attribute only,
 * with first_only), or an ERROR saying what is wrong.
 */
static char *
parse_item_columns_arg(const char *argname, const char *text, bool first_only,
					   char **first_name)
{
	ItemColumnList list;
	ItemColumnsError error;
	char	   *type;
	char	   *result;

	if (!item_columns_parse(text, &list, &error))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s: %s", argname, error.message),
				 errdetail("The error is at character %d of \"%s\".",
						   error.position + 1, text),
				 error.hint[0] ? errhint("%s", error.hint) : 0));
	if (first_only)
	{
		ItemColumnList first = {1, list.columns};

		type = item_columns_struct_type(&first);
	}
	else
		type = item_columns_struct_type(&list);
	result = pstrdup(type);
	free(type);
	if (first_name)
		*first_name = list.count > 0 ? pstrdup(list.columns[0].name) : NULL;
	item_columns_free(&list);
	return result;
}

/*
 * The projection range "NOW-<n><UNIT>,NOW" for how far back queries look.
 * Relative, so the definition (and so idempotency) does not depend on the
 * day of the call.
 */
static char *
projection_range(Interval *history)
{
	int64		hours;

	if (history->month != 0 && history->day == 0 && history->time == 0)
	{
		if (history->month > 0 && history->month % 12 == 0)
			return psprintf("NOW-%dYEARS,NOW", history->month / 12);
		if (history->month > 0)
			return psprintf("NOW-%dMONTHS,NOW", history->month);
	}
	else if (history->month == 0 && history->time % USECS_PER_HOUR == 0)
	{
		hours = (int64) history->day * HOURS_PER_DAY + history->time / USECS_PER_HOUR;
		if (hours > 0 && hours % HOURS_PER_DAY == 0)
			return psprintf("NOW-%lldDAYS,NOW", (long long) (hours / HOURS_PER_DAY));
		if (hours > 0)
			return psprintf("NOW-%lldHOURS,NOW", (long long) hours);
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid history"),
			 errdetail("The history is a positive number of whole years, months, days or hours."),
			 errhint("For example history => '1 year' or '90 days'.")));
	return NULL;				/* keep compiler quiet */
}

static json_object *
column_object(const char *name, const char *type, const char *comment)
{
	json_object *col = json_object_new_object();

	json_object_object_add(col, "Name", json_object_new_string(name));
	json_object_object_add(col, "Type", json_object_new_string(type));
	if (comment)
		json_object_object_add(col, "Comment", json_object_new_string(comment));
	return col;
}

/* Glue's TableInput for the spec. */
static json_object *
table_input(const AuditTableSpec *spec)
{
	json_object *input = json_object_new_object();
	json_object *params = json_object_new_object();
	json_object *sd = json_object_new_object();
	json_object *serde = json_object_new_object();
	json_object *serde_params = json_object_new_object();
	json_object *columns = json_object_new_array();
	json_object *partition_keys = json_object_new_array();
	const char *p = "projection." PARTITION_COLUMN;

	json_object_object_add(input, "Name", json_object_new_string(spec->table));
	json_object_object_add(input, "Description",
						   json_object_new_string("Audit records of a DynamoDB stream, delivered by Firehose and written by audit_fdw: one JSON object a line."));
	json_object_object_add(input, "TableType", json_object_new_string("EXTERNAL_TABLE"));

	json_object_object_add(params, "EXTERNAL", json_object_new_string("TRUE"));
	json_object_object_add(params, "classification", json_object_new_string("json"));
	json_object_object_add(params, "audit_fdw.record_version", json_object_new_string("1"));
	/* the declared names, verbatim: Athena lower-cases those of the columns */
	json_object_object_add(params, "audit_fdw.keys_type", json_object_new_string(spec->keys_type));
	json_object_object_add(params, "audit_fdw.image_type", json_object_new_string(spec->image_type));
	/* the folders' meaning; absent: the delivery hour (tables made by 1.0) */
	if (spec->event_time)
		json_object_object_add(params, "audit_fdw.layout", json_object_new_string("event_time"));
	json_object_object_add(params, "projection.enabled", json_object_new_string("true"));
	json_object_object_add(params, psprintf("%s.type", p), json_object_new_string("date"));
	json_object_object_add(params, psprintf("%s.format", p),
						   json_object_new_string("yyyy/MM/dd/HH"));
	json_object_object_add(params, psprintf("%s.range", p), json_object_new_string(spec->range));
	json_object_object_add(params, psprintf("%s.interval", p), json_object_new_string("1"));
	json_object_object_add(params, psprintf("%s.interval.unit", p),
						   json_object_new_string("HOURS"));
	if (spec->bucket_digits > 0)
	{
		StringInfoData values;
		int			n = 1 << (4 * spec->bucket_digits);

		initStringInfo(&values);
		for (int i = 0; i < n; i++)
			appendStringInfo(&values, "%s%0*x", i ? "," : "", spec->bucket_digits, i);
		json_object_object_add(params, "audit_fdw.bucket_key",
							   json_object_new_string(spec->bucket_key));
		json_object_object_add(params, "audit_fdw.bucket_digits",
							   json_object_new_string(psprintf("%d", spec->bucket_digits)));
		json_object_object_add(params, "projection." PROVISION_BUCKET_COLUMN ".type",
							   json_object_new_string("enum"));
		json_object_object_add(params, "projection." PROVISION_BUCKET_COLUMN ".values",
							   json_object_new_string(values.data));
	}
	if (spec->folder_attribute != NULL)
	{
		json_object_object_add(params, "audit_fdw.folder_attribute",
							   json_object_new_string(spec->folder_attribute));
		json_object_object_add(params, "projection." PROVISION_FOLDER_COLUMN ".type",
							   json_object_new_string("enum"));
		json_object_object_add(params, "projection." PROVISION_FOLDER_COLUMN ".values",
							   json_object_new_string(spec->folder_values));
	}
	json_object_object_add(params, "storage.location.template",
						   json_object_new_string(psprintf("%s${%s}/%s%s",
														   spec->location->uri,
														   PARTITION_COLUMN,
														   spec->bucket_digits > 0 ?
														   "${" PROVISION_BUCKET_COLUMN "}/" : "",
														   spec->folder_attribute ?
														   "${" PROVISION_FOLDER_COLUMN "}/" : "")));
	json_object_object_add(input, "Parameters", params);

	json_object_array_add(partition_keys,
						  column_object(PARTITION_COLUMN, "string",
										spec->event_time ?
										"The hour of the change (event_time), yyyy/MM/dd/HH in UTC: filter on it to read fewer folders." :
										"The hour Firehose delivered the record, yyyy/MM/dd/HH in UTC: filter on it to read fewer folders."));
	if (spec->bucket_digits > 0)
		json_object_array_add(partition_keys,
							  column_object(PROVISION_BUCKET_COLUMN, "string",
											psprintf("The key's bucket: the last %d hex digit%s of the SHA-256 of keys.%s (the record's key_hash): filter on it to read one key's folders.",
													 spec->bucket_digits,
													 spec->bucket_digits > 1 ? "s" : "",
													 spec->bucket_key)));
	if (spec->folder_attribute != NULL)
		json_object_array_add(partition_keys,
							  column_object(PROVISION_FOLDER_COLUMN, "string",
											psprintf("The folder of new_image.%s: its value when declared, _other for any other value, _none without a value or a new image (REMOVE).",
													 spec->folder_attribute)));
	json_object_object_add(input, "PartitionKeys", partition_keys);

	for (int i = 0; i < lengthof(record_columns); i++)
		json_object_array_add(columns, column_object(record_columns[i].name,
													 record_columns[i].type,
													 record_columns[i].comment));
	json_object_array_add(columns, column_object("keys", spec->keys_type,
												 "The item's key attributes."));
	json_object_array_add(columns, column_object("new_image", spec->image_type,
												 "The item after the change (INSERT, MODIFY)."));
	json_object_array_add(columns, column_object("old_image", spec->image_type,
												 "The item before the change (MODIFY, REMOVE)."));
	json_object_object_add(sd, "Columns", columns);
	json_object_object_add(sd, "Location", json_object_new_string(spec->location->uri));
	json_object_object_add(sd, "InputFormat", json_object_new_string(TEXT_INPUT_FORMAT));
	json_object_object_add(sd, "OutputFormat", json_object_new_string(TEXT_OUTPUT_FORMAT));
	json_object_object_add(sd, "Compressed", json_object_new_boolean(0));
	json_object_object_add(serde_params, "serialization.format", json_object_new_string("1"));
	json_object_object_add(serde, "SerializationLibrary", json_object_new_string(JSON_SERDE));
	json_object_object_add(serde, "Parameters", serde_params);
	json_object_object_add(sd, "SerdeInfo", serde);
	json_object_object_add(input, "StorageDescriptor", sd);
	return input;
}

/* Hive types compare without regard to case or spaces. */
static bool
same_type(const char *a, const char *b)
{
	while (*a || *b)
	{
		while (*a && isspace((unsigned char) *a))
			a++;
		while (*b && isspace((unsigned char) *b))
			b++;
		if (tolower((unsigned char) *a) != tolower((unsigned char) *b))
			return false;
		if (*a)
			a++;
		if (*b)
			b++;
	}
	return true;
}

/* S3 locations compare with or without the trailing slash. */
static bool
same_location(const char *a, const char *b)
{
	size_t		la = strlen(a),
				lb = strlen(b);

	if (la > 0 && a[la - 1] == '/')
		la--;
	if (lb > 0 && b[lb - 1] == '/')
		lb--;
	return la == lb && strncmp(a, b, la) == 0;
}

static void
report_difference(const AuditTableSpec *spec, const char *what,
				  const char *existing, const char *wanted)
{
	ereport(ERROR,
			(errcode(ERRCODE_DUPLICATE_TABLE),
			 errmsg("Glue table \"%s.%s\" already exists with another definition",
					spec->database, spec->table),
			 existing ?
			 errdetail("Its %s is %s, not %s.", what, provision_clip(existing), wanted) :
			 errdetail("It has no %s; this call would set it to %s.", what, wanted),
			 errhint("Choose another table name, call create_audit_table with the arguments that created it, or delete it (aws glue delete-table --database-name %s --name %s) and call create_audit_table again.",
					 spec->database, spec->table)));
}

/*
 * Compares an existing Glue table with the wanted TableInput: the parts
 * that decide what queries read (location, SerDe, columns and their
 * types, partitioning and projection).  Descriptions and comments are not
 * compared.  Raises on the first difference.
 */
static void
compare_table(const AuditTableSpec *spec, json_object *wanted, json_object *existing)
{
	static const char *const string_paths[] = {
		"StorageDescriptor.Location",
		"StorageDescriptor.SerdeInfo.SerializationLibrary",
		"Parameters.projection.enabled",
		"Parameters.projection." PARTITION_COLUMN ".type",
		"Parameters.projection." PARTITION_COLUMN ".format",
		"Parameters.projection." PARTITION_COLUMN ".range",
		"Parameters.projection." PARTITION_COLUMN ".interval",
		"Parameters.projection." PARTITION_COLUMN ".interval.unit",
		"Parameters.storage.location.template",
	};
	static const char *const lists[] = {"StorageDescriptor.Columns", "PartitionKeys"};

	for (int i = 0; i < lengthof(string_paths); i++)
	{
		const char *path = string_paths[i];
		bool		is_param = strncmp(path, "Parameters.", 11) == 0;
		const char *want;
		const char *have;

		/* table parameters have dots in their keys: look them up whole */
		if (is_param)
		{
			want = aws_json_str(aws_json_obj(wanted, "Parameters"), path + 11);
			have = aws_json_str(aws_json_obj(existing, "Parameters"), path + 11);
		}
		else
		{
			want = aws_json_path_str(wanted, path);
			have = aws_json_path_str(existing, path);
		}
		Assert(want != NULL);
		if (have == NULL ||
			(strcmp(path, "StorageDescriptor.Location") == 0 ? !same_location(have, want) :
			 pg_strcasecmp(have, want) != 0))
			report_difference(spec, is_param ? psprintf("table property %s", path + 11) :
							  strcmp(path, "StorageDescriptor.Location") == 0 ? "location" :
							  "SerDe",
							  have ? quote_literal_cstr(have) : NULL,
							  quote_literal_cstr(want));
	}

	{
		const char *have = aws_json_str(aws_json_obj(existing, "Parameters"), "audit_fdw.layout");
		const char *want = spec->event_time ? "event_time" : "delivery_time";

		if (have == NULL)
			have = "delivery_time";
		if (strcmp(have, want) != 0)
			report_difference(spec, "layout", quote_literal_cstr(have), quote_literal_cstr(want));
		have = aws_json_str(aws_json_obj(existing, "Parameters"), "audit_fdw.bucket_digits");
		want = spec->bucket_digits > 0 ? psprintf("%d", spec->bucket_digits) : NULL;
		if ((have == NULL) != (want == NULL) || (have && strcmp(have, want) != 0))
			report_difference(spec, "key buckets",
							  have ? psprintf("%d", 1 << (4 * atoi(have))) : "none",
							  want ? psprintf("%d", 1 << (4 * spec->bucket_digits)) : "none");
		have = aws_json_str(aws_json_obj(existing, "Parameters"), "audit_fdw.bucket_key");
		if (spec->bucket_digits > 0 && (have == NULL || strcmp(have, spec->bucket_key) != 0))
			report_difference(spec, "bucket key", have ? quote_literal_cstr(have) : NULL,
							  quote_literal_cstr(spec->bucket_key));
		/* attribute folders: the attribute, and the values in their order */
		have = aws_json_str(aws_json_obj(existing, "Parameters"), "audit_fdw.folder_attribute");
		want = spec->folder_attribute;
		if ((have == NULL) != (want == NULL) || (have && strcmp(have, want) != 0))
			report_difference(spec, "folder attribute",
							  have ? quote_literal_cstr(have) : "none",
							  want ? quote_literal_cstr(want) : "none");
		have = aws_json_str(aws_json_obj(existing, "Parameters"),
							"projection." PROVISION_FOLDER_COLUMN ".values");
		want = spec->folder_values;
		if ((have == NULL) != (want == NULL) || (have && strcmp(have, want) != 0))
			report_difference(spec, "table property projection." PROVISION_FOLDER_COLUMN ".values",
							  have ? quote_literal_cstr(have) : "none",
							  want ? quote_literal_cstr(want) : "none");
	}

	for (int l = 0; l < lengthof(lists); l++)
	{
		json_object *want_list;
		json_object *have_list;
		size_t		n_want,
					n_have;

		if (l == 0)
		{
			want_list = aws_json_arr(aws_json_obj(wanted, "StorageDescriptor"), "Columns");
			have_list = aws_json_arr(aws_json_obj(existing, "StorageDescriptor"), "Columns");
		}
		else
		{
			want_list = aws_json_arr(wanted, "PartitionKeys");
			have_list = aws_json_arr(existing, "PartitionKeys");
		}
		n_want = aws_json_arr_len(want_list);
		n_have = aws_json_arr_len(have_list);
		for (size_t i = 0; i < Max(n_want, n_have); i++)
		{
			json_object *w = aws_json_arr_obj(want_list, i);
			json_object *h = aws_json_arr_obj(have_list, i);
			const char *wname = w ? aws_json_path_str(w, "Name") : NULL;
			const char *hname = h ? aws_json_path_str(h, "Name") : NULL;
			const char *wtype = w ? aws_json_path_str(w, "Type") : NULL;
			const char *htype = h ? aws_json_path_str(h, "Type") : NULL;
			const char *what = l == 0 ? "column" : "partition column";

			if (w == NULL)
				report_difference(spec, psprintf("%s %d", what, (int) i + 1),
								  psprintf("%s %s", hname ? hname : "?", htype ? htype : "?"),
								  "nothing");
			if (h == NULL || hname == NULL || pg_strcasecmp(hname, wname) != 0)
				report_difference(spec, psprintf("%s %d", what, (int) i + 1),
								  h ? psprintf("%s %s", hname ? hname : "?",
											   htype ? htype : "?") : NULL,
								  psprintf("%s %s", wname, wtype));
			if (htype == NULL || !same_type(htype, wtype))
				report_difference(spec, psprintf("type of %s %s", what, wname),
								  htype ? htype : NULL, wtype);
		}
	}
}
