/*-------------------------------------------------------------------------
 *
 * options.c
 *		Options of audit_fdw's servers, foreign tables, columns and user
 *		mappings: the validator and the readers the planner uses.
 *
 * Rules kept here:
 *	- Every option is checked when CREATE/ALTER runs, not at first use: an
 *	  unknown name gets the closest valid name as a hint, a bad value says
 *	  what is expected.
 *	- endpoint sends every request (and the credentials' signatures) to
 *	  another host: only a superuser may set it.
 *	- A user mapping without access keys signs with the database server's
 *	  own AWS identity (the default credential chain): like postgres_fdw's
 *	  password_required, only a superuser may allow that for a
 *	  non-superuser (credentials_required 'false', checked at use in
 *	  aws_client_for_server), and only a superuser may name a profile.
 *	- Values of secret options (secret_access_key, session_token) never
 *	  appear in a message.  PostgreSQL itself shows a user mapping's options
 *	  in pg_user_mappings only to its user and to superusers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "access/reloptions.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "catalog/pg_attribute.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"

#include "aws/region.h"
#include "fdw/fdw.h"

typedef enum OptionKind
{
	OPT_STRING,					/* any non-empty string */
	OPT_REGION,					/* an AWS region name (aws/region.c) */
	OPT_WORKGROUP,				/* an Athena workgroup name */
	OPT_IDENT,					/* Athena/Glue name: no NUL, 1..255 chars */
	OPT_INT,					/* integer within [min, max] */
	OPT_REAL,					/* number within [min, max] */
	OPT_URL,					/* http:// or https:// */
	OPT_S3_URI,					/* s3://bucket/prefix */
	OPT_TRANSPORT,				/* csv | api */
	OPT_PATH,					/* dotted field path */
	OPT_GLUE_TYPE,				/* a Hive type: struct<orderId:string> */
	OPT_PARTITION_FORMAT,		/* yyyy/MM/dd/HH and the like */
	OPT_INTERVAL,				/* a positive interval */
	OPT_BOOL,					/* true | false (and what parse_bool takes) */
	OPT_LAYOUT,					/* delivery_time | event_time */
	OPT_DDB_TABLE,				/* a DynamoDB table name */
	OPT_SIZE,					/* bytes, with pg_size_bytes's units: 10GB */
	OPT_FOLDER_VALUES			/* declared attribute folders: A,B,C */
} OptionKind;

typedef struct AuditFdwOption
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
	OptionKind	kind;
	double		min;
	double		max;
	bool		superuser_only;
	bool		secret;
	const char *superuser_why;	/* errdetail when superuser_only; NULL: the
								 * endpoint's reason */
} AuditFdwOption;

static const AuditFdwOption valid_options[] = {
	/* server */
	{"region", ForeignServerRelationId, OPT_REGION},
	{"endpoint", ForeignServerRelationId, OPT_URL, 0, 0, true},
	{"catalog", ForeignServerRelationId, OPT_IDENT},
	{"database", ForeignServerRelationId, OPT_IDENT},
	{"workgroup", ForeignServerRelationId, OPT_WORKGROUP},
	{"output_location", ForeignServerRelationId, OPT_S3_URI},
	{"result_reuse_minutes", ForeignServerRelationId, OPT_INT, 0, 10080},
	{"result_transport", ForeignServerRelationId, OPT_TRANSPORT},
	{"poll_initial_ms", ForeignServerRelationId, OPT_INT, 1, 60000},
	{"poll_max_ms", ForeignServerRelationId, OPT_INT, 1, 600000},
	{"fdw_startup_cost", ForeignServerRelationId, OPT_REAL, 0, 1e12},
	{"fdw_tuple_cost", ForeignServerRelationId, OPT_REAL, 0, 1e12},
	{"price_per_tb", ForeignServerRelationId, OPT_REAL, 0, 1e6},
	{"max_bytes_scanned", ForeignServerRelationId, OPT_SIZE},
	/* foreign table */
	{"database", ForeignTableRelationId, OPT_IDENT},
	{"table", ForeignTableRelationId, OPT_IDENT},
	{"result_transport", ForeignTableRelationId, OPT_TRANSPORT},
	{"estimated_rows", ForeignTableRelationId, OPT_REAL, 0, 1e15},
	{"estimated_bytes", ForeignTableRelationId, OPT_REAL, 0, 1e18},
	{"time_column", ForeignTableRelationId, OPT_IDENT},
	{"partition_column", ForeignTableRelationId, OPT_IDENT},
	{"partition_format", ForeignTableRelationId, OPT_PARTITION_FORMAT},
	{"max_delivery_delay", ForeignTableRelationId, OPT_INTERVAL},
	{"partition_layout", ForeignTableRelationId, OPT_LAYOUT},
	{"bucket_column", ForeignTableRelationId, OPT_IDENT},
	{"bucket_key", ForeignTableRelationId, OPT_STRING},
	{"bucket_digits", ForeignTableRelationId, OPT_INT, 1, 3},
	{"folder_column", ForeignTableRelationId, OPT_IDENT},
	{"folder_attribute", ForeignTableRelationId, OPT_STRING},
	{"folder_values", ForeignTableRelationId, OPT_FOLDER_VALUES},
	{"max_bytes_scanned", ForeignTableRelationId, OPT_SIZE},
	/* foreign table over a live DynamoDB table (src/dynamodb/) */
	{"dynamodb_table", ForeignTableRelationId, OPT_DDB_TABLE},
	{"partition_key", ForeignTableRelationId, OPT_STRING},
	{"sort_key", ForeignTableRelationId, OPT_STRING},
	{"consistent_read", ForeignTableRelationId, OPT_BOOL},
	{"scan_segments", ForeignTableRelationId, OPT_INT, 1, 1000000},
	/* column */
	{"column_name", AttributeRelationId, OPT_IDENT},
	{"path", AttributeRelationId, OPT_PATH},
	{"glue_type", AttributeRelationId, OPT_GLUE_TYPE},
	{"whole_item", AttributeRelationId, OPT_BOOL},
	/* user mapping: the credential options of the AWS client core */
	{"access_key_id", UserMappingRelationId, OPT_STRING},
	{"secret_access_key", UserMappingRelationId, OPT_STRING, 0, 0, false, true},
	{"session_token", UserMappingRelationId, OPT_STRING, 0, 0, false, true},
	{"profile", UserMappingRelationId, OPT_STRING, 0, 0, true, false,
	"Option \"profile\" picks credentials from the database server's own AWS configuration files."},
	{"credentials_required", UserMappingRelationId, OPT_BOOL, 0, 0, true, false,
	"Without credentials in the user mapping, requests are signed with the database server's own AWS identity."},
	{"role_arn", UserMappingRelationId, OPT_STRING},
	{"external_id", UserMappingRelationId, OPT_STRING},
	{"max_bytes_scanned", UserMappingRelationId, OPT_SIZE},
	{NULL}
};

/* Defaults of the server options */
#define DEFAULT_CATALOG			"AwsDataCatalog"
#define DEFAULT_DATABASE		"default"
#define DEFAULT_WORKGROUP		"primary"
#define DEFAULT_POLL_INITIAL_MS	10
#define DEFAULT_POLL_MAX_MS		1000
#define DEFAULT_STARTUP_COST	10000.0
#define DEFAULT_TUPLE_COST		0.01
#define DEFAULT_PRICE_PER_TB	5.0
#define DEFAULT_ESTIMATED_ROWS	1000.0

PG_FUNCTION_INFO_V1(audit_fdw_validator);

static const AuditFdwOption *find_option(const char *name, Oid context);
static const char *closest_option(const char *name, Oid context);
static void check_option_value(const AuditFdwOption *opt, DefElem *def);
static const char *context_name(Oid context);
static void check_table_kind(List *options_list);
static void check_folder_options(List *options_list);
static List *parse_folder_values(const char *value, char **bad, const char **why);

/* Options only a foreign table over Athena takes, and only one over DynamoDB */
static const char *const athena_table_options[] = {
	"database", "table", "result_transport", "estimated_bytes", "time_column",
	"partition_column", "partition_format", "max_delivery_delay",
	"partition_layout", "bucket_column", "bucket_key", "bucket_digits",
	"folder_column", "folder_attribute", "folder_values", NULL
};
static const char *const dynamodb_table_options[] = {
	"partition_key", "sort_key", "consistent_read", "scan_segments", NULL
};

/*
 * Validate the options given to an audit_fdw object (the VALIDATOR of the
 * foreign data wrapper).  Runs at CREATE and ALTER of the object.
 */
Datum
audit_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options_list = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *cell;
	bool		have_min = false,
				have_max = false;
	int			poll_min = DEFAULT_POLL_INITIAL_MS,
				poll_max = DEFAULT_POLL_MAX_MS;

	foreach(cell, options_list)
	{
		DefElem    *def = (DefElem *) lfirst(cell);
		const AuditFdwOption *opt = find_option(def->defname, catalog);

		if (opt == NULL)
		{
			const char *closest = closest_option(def->defname, catalog);
			const AuditFdwOption *elsewhere;

			for (elsewhere = valid_options; elsewhere->name; elsewhere++)
				if (strcmp(elsewhere->name, def->defname) == 0)
					break;
			if (elsewhere->name && catalog != ForeignDataWrapperRelationId)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("invalid option \"%s\"", def->defname),
						 errhint("Option \"%s\" is set on %s, not on %s.",
								 def->defname, context_name(elsewhere->context),
								 context_name(catalog))));

			if (catalog == ForeignDataWrapperRelationId)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("invalid option \"%s\"", def->defname),
						 errhint("The foreign data wrapper audit_fdw takes no options: set them on the server, the foreign table, its columns or the user mapping.")));
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 closest ? errhint("Perhaps you meant the option \"%s\".", closest)
					 : errhint("There are no options of that kind for %s.",
							   context_name(catalog))));
		}

		if (opt->superuser_only && !superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to set option \"%s\"", def->defname),
					 opt->superuser_why ? errdetail("%s", opt->superuser_why) :
					 errdetail("Option \"%s\" sends requests and credentials to another host.",
							   def->defname),
					 errhint("Only a superuser may set it.")));

		check_option_value(opt, def);

		if (strcmp(def->defname, "poll_initial_ms") == 0)
		{
			have_min = true;
			poll_min = atoi(defGetString(def));
		}
		else if (strcmp(def->defname, "poll_max_ms") == 0)
		{
			have_max = true;
			poll_max = atoi(defGetString(def));
		}
	}

	if (catalog == ForeignTableRelationId)
	{
		check_table_kind(options_list);
		check_folder_options(options_list);
	}

	if ((have_min || have_max) && poll_min > poll_max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("poll_initial_ms (%d) must not exceed poll_max_ms (%d)",
						poll_min, poll_max)));

	PG_RETURN_VOID();
}

/*
 * A foreign table reads Athena or, with dynamodb_table, DynamoDB: the
 * options of the other kind are refused.
 */
static void
check_table_kind(List *options_list)
{
	bool		dynamodb = false;
	ListCell   *lc;

	foreach(lc, options_list)
	{
		if (strcmp(((DefElem *) lfirst(lc))->defname, "dynamodb_table") == 0)
			dynamodb = true;
	}
	foreach(lc, options_list)
	{
		const char *name = ((DefElem *) lfirst(lc))->defname;
		const char *const *other = dynamodb ? athena_table_options : dynamodb_table_options;

		for (; *other; other++)
			if (strcmp(*other, name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("invalid option \"%s\"", name),
						 dynamodb
						 ? errdetail("Option \"%s\" belongs to a foreign table over Athena; this one reads DynamoDB table (option dynamodb_table).", name)
						 : errdetail("Option \"%s\" belongs to a foreign table over a DynamoDB table.", name),
						 dynamodb ? 0
						 : errhint("Set option dynamodb_table to read a DynamoDB table.")));
	}
}

/*
 * Attribute folders take three options together: the partition column, the
 * attribute and the declared values (IMPORT FOREIGN SCHEMA sets them all).
 */
static void
check_folder_options(List *options_list)
{
	static const char *const names[] = {"folder_column", "folder_attribute", "folder_values"};
	bool		have[3] = {false, false, false};
	ListCell   *lc;

	foreach(lc, options_list)
		for (int i = 0; i < 3; i++)
			if (strcmp(((DefElem *) lfirst(lc))->defname, names[i]) == 0)
				have[i] = true;
	if (!have[0] && !have[1] && !have[2])
		return;
	for (int i = 0; i < 3; i++)
		if (!have[i])
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("option \"%s\" is missing", names[i]),
					 errdetail("Attribute folders need the options folder_column, folder_attribute and folder_values together."),
					 errhint("IMPORT FOREIGN SCHEMA sets all three from a table made by create_audit_table(..., folder_attribute => ...), or set the missing one.")));
}

/*
 * The declared attribute folders of option folder_values (String list), or
 * NIL with *bad the offending value and *why the rule it breaks: 1 to 64
 * comma-separated values, each matching [A-Za-z0-9][A-Za-z0-9._-]{0,99}
 * (an S3 path segment and an entry of Athena's enum projection; a leading
 * underscore is kept for _other and _none), none repeated.
 */
static List *
parse_folder_values(const char *value, char **bad, const char **why)
{
	List	   *out = NIL;
	char	   *copy = pstrdup(value);
	char	   *p = copy;

	*bad = NULL;
	for (;;)
	{
		char	   *comma = strchr(p, ',');
		size_t		len;
		ListCell   *lc;

		if (comma)
			*comma = '\0';
		len = strlen(p);
		*bad = p;
		if (len == 0 || len > 100)
		{
			*why = "Each value has 1 to 100 characters.";
			return NIL;
		}
		if (!isalnum((unsigned char) p[0]) || IS_HIGHBIT_SET(p[0]))
		{
			*why = "A value begins with a letter or digit (names beginning with an underscore are reserved: _other, _none).";
			return NIL;
		}
		for (const char *c = p; *c; c++)
			if (IS_HIGHBIT_SET(*c) ||
				!(isalnum((unsigned char) *c) || *c == '.' || *c == '_' || *c == '-'))
			{
				*why = "A value has only ASCII letters, digits, periods, underscores and hyphens.";
				return NIL;
			}
		foreach(lc, out)
			if (strcmp(strVal(lfirst(lc)), p) == 0)
			{
				*why = "A value is declared once.";
				return NIL;
			}
		out = lappend(out, makeString(p));
		if (list_length(out) > 64)
		{
			*why = "At most 64 values are declared.";
			return NIL;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	*bad = NULL;
	return out;
}

static const AuditFdwOption *
find_option(const char *name, Oid context)
{
	const AuditFdwOption *opt;

	for (opt = valid_options; opt->name; opt++)
		if (opt->context == context && strcmp(opt->name, name) == 0)
			return opt;
	return NULL;
}

/*
 * The valid option of this context nearest to name by edit distance, or
 * NULL when none is reasonably close (more than half the name differs).
 */
static const char *
closest_option(const char *name, Oid context)
{
	const AuditFdwOption *opt;
	const char *best = NULL;
	int			best_dist = INT_MAX;
	int			len = strlen(name);

	for (opt = valid_options; opt->name; opt++)
	{
		int			dist;

		if (opt->context != context)
			continue;
		dist = varstr_levenshtein(name, len, opt->name, strlen(opt->name),
								  1, 1, 1, false);
		if (dist < best_dist)
		{
			best_dist = dist;
			best = opt->name;
		}
	}
	if (best && best_dist <= Max(2, Max(len, (int) strlen(best)) / 2))
		return best;
	return NULL;
}

/* Athena's WorkGroupName: [a-zA-Z0-9._-]{1,128} (botocore's athena model). */
static bool
workgroup_name_valid(const char *name)
{
	size_t		n = strlen(name);

	if (n < 1 || n > 128)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

/*
 * The bucket of "bucket/key...": S3's bucket naming rules (3 to 63
 * characters of a-z, 0-9, '.' and '-', beginning and ending with a letter
 * or digit), which also keep it a plain host-name label sequence.
 */
static bool
s3_uri_bucket_valid(const char *rest)
{
	const char *end = strchr(rest, '/');
	size_t		n = end ? (size_t) (end - rest) : strlen(rest);

	if (n < 3 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		char		c = rest[i];
		bool		alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && ((c != '.' && c != '-') || i == 0 || i == n - 1))
			return false;
	}
	return true;
}

static const char *
context_name(Oid context)
{
	switch (context)
	{
		case ForeignServerRelationId:
			return "a server";
		case ForeignTableRelationId:
			return "a foreign table";
		case AttributeRelationId:
			return "a column";
		case UserMappingRelationId:
			return "a user mapping";
		default:
			return "this object";
	}
}

/*
 * Check one option's value.  Secret values are never quoted back.
 */
static void
check_option_value(const AuditFdwOption *opt, DefElem *def)
{
	char	   *value = defGetString(def);
	const char *shown = opt->secret ? "(secret)" : value;

	if (value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"%s\" must not be empty", opt->name)));

	switch (opt->kind)
	{
		case OPT_STRING:
			break;
		case OPT_REGION:
			/* it becomes part of every host name: nothing else may pass */
			if (!aws_region_valid(value, NULL, NULL))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"", opt->name, shown),
						 errdetail(AWS_REGION_FORM_DETAIL),
						 errhint("To send the requests to another host, a superuser sets the endpoint option.")));
			break;
		case OPT_WORKGROUP:
			if (!workgroup_name_valid(value))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"", opt->name, shown),
						 errdetail("An Athena workgroup name has 1 to 128 letters, digits, periods, underscores and hyphens."),
						 errhint("Use the name of an Athena workgroup, such as primary.")));
			break;
		case OPT_IDENT:
			if (strlen(value) > 255)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("value of option \"%s\" is too long", opt->name),
						 errdetail("Athena and Glue names have at most 255 characters.")));
			break;
		case OPT_INT:
			{
				char	   *end;
				long		v;

				errno = 0;
				v = strtol(value, &end, 10);
				if (errno != 0 || end == value || *end != '\0' ||
					v < (long) opt->min || v > (long) opt->max)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									opt->name, shown),
							 errhint("Use an integer from %.0f to %.0f.",
									 opt->min, opt->max)));
				break;
			}
		case OPT_REAL:
			{
				char	   *end;
				double		v;

				errno = 0;
				v = strtod(value, &end);
				if (errno != 0 || end == value || *end != '\0' || isnan(v) ||
					v < opt->min || v > opt->max)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									opt->name, shown),
							 errhint("Use a number from %g to %g.",
									 opt->min, opt->max)));
				break;
			}
		case OPT_URL:
			if (strncmp(value, "http://", 7) != 0 &&
				strncmp(value, "https://", 8) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, shown),
						 errhint("Use a URL that starts with http:// or https://.")));
			break;
		case OPT_S3_URI:
			if (strncmp(value, "s3://", 5) != 0 || value[5] == '\0' ||
				value[5] == '/')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, shown),
						 errhint("Use an S3 URI such as s3://bucket/prefix/.")));
			if (!s3_uri_bucket_valid(value + 5))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid bucket name in option \"%s\": \"%s\"",
								opt->name, shown),
						 errdetail("An S3 bucket name has 3 to 63 lower-case letters, digits, periods and hyphens, and begins and ends with a letter or digit."),
						 errhint("Use an S3 URI such as s3://bucket/prefix/.")));
			break;
		case OPT_BOOL:
			{
				bool		b;

				if (!parse_bool(value, &b))
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									opt->name, shown),
							 errhint("Use \"true\" or \"false\".")));
			}
			break;
		case OPT_TRANSPORT:
			if (strcmp(value, "csv") != 0 && strcmp(value, "api") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, shown),
						 errhint("Use \"csv\" (stream the result object from S3) or \"api\" (page through GetQueryResults).")));
			break;
		case OPT_DDB_TABLE:
			{
				/* botocore's TableName: [a-zA-Z0-9_.-]+, 3 to 255 characters */
				size_t		n = strlen(value);
				bool		ok = n >= 3 && n <= 255;

				for (const char *p = value; ok && *p; p++)
					ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
						(*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-';
				if (!ok)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"", opt->name, value),
							 errdetail("A DynamoDB table name has 3 to 255 letters, digits, underscores, periods and hyphens.")));
				break;
			}
		case OPT_SIZE:
			{
				MemoryContext cxt = CurrentMemoryContext;
				bool		ok = true;
				int64		bytes = 0;

				PG_TRY();
				{
					bytes = DatumGetInt64(DirectFunctionCall1(pg_size_bytes,
															  CStringGetTextDatum(value)));
				}
				PG_CATCH();
				{
					MemoryContextSwitchTo(cxt);
					FlushErrorState();
					ok = false;
				}
				PG_END_TRY();
				if (!ok || bytes <= 0)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									opt->name, shown),
							 errhint("Use a positive size such as '10GB' or '500 MB' (units bytes, kB, MB, GB, TB, PB).")));
				break;
			}
		case OPT_LAYOUT:
			if (strcmp(value, "delivery_time") != 0 && strcmp(value, "event_time") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, shown),
						 errhint("Use \"delivery_time\" (folders by the hour Firehose delivered a record) or \"event_time\" (folders by the hour of the change itself).")));
			break;
		case OPT_PARTITION_FORMAT:
			if (!audit_partition_format_valid(value))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, value),
						 errdetail("A partition format names the UTC time from the year down, each field zero-padded: yyyy, MM, dd, HH, mm, with other characters between them."),
						 errhint("Use a format such as \"yyyy/MM/dd/HH\" or \"yyyy-MM-dd\".")));
			break;
		case OPT_INTERVAL:
			{
				Interval   *iv = DatumGetIntervalP(DirectFunctionCall3(interval_in,
																	   CStringGetDatum(value),
																	   ObjectIdGetDatum(InvalidOid),
																	   Int32GetDatum(-1)));

				/* 0: a table partitioned by event time itself */
				if (iv->month != 0 || iv->day < 0 || iv->time < 0)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									opt->name, value),
							 errhint("Use a non-negative interval of days, hours or minutes, such as \"1 hour\", or 0 for a table partitioned by event time.")));
				break;
			}
		case OPT_GLUE_TYPE:
			if (!audit_glue_type_is_complex(value))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, value),
						 errdetail("Option \"glue_type\" gives the declared Glue type of a struct, array or map column, so that its field names come back in their declared case."),
						 errhint("Use the type as Glue declares it, such as \"struct<orderId:string,lastUpdatedDate:bigint>\".")));
			break;
		case OPT_FOLDER_VALUES:
			{
				char	   *bad;
				const char *why;

				if (parse_folder_values(value, &bad, &why) == NIL)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									opt->name, bad),
							 errdetail("%s", why),
							 errhint("Give the declared values of the attribute separated by commas, such as \"OPEN,DELIVERED,RETURNED\", without _other and _none.")));
				break;
			}
		case OPT_PATH:
			{
				const char *p = value;
				bool		empty_part = false;

				if (*p == '.' || value[strlen(value) - 1] == '.' ||
					strstr(value, "..") != NULL)
					empty_part = true;
				for (; *p && !empty_part; p++)
					if (*p == '"')
						empty_part = true;
				if (empty_part)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									opt->name, value),
							 errhint("Use field names separated by dots, such as \"state\" or \"address.city\".")));
				break;
			}
	}
}

const char *
audit_transport_name(AuditFdwTransport transport)
{
	return transport == AUDIT_TRANSPORT_API ? "api" : "csv";
}

static void
apply_option(AuditFdwOptions *o, DefElem *def)
{
	const char *name = def->defname;
	char	   *value = defGetString(def);

	if (strcmp(name, "region") == 0)
		o->region = pstrdup(value);
	else if (strcmp(name, "endpoint") == 0)
		o->endpoint = pstrdup(value);
	else if (strcmp(name, "catalog") == 0)
		o->catalog = pstrdup(value);
	else if (strcmp(name, "database") == 0)
		o->database = pstrdup(value);
	else if (strcmp(name, "table") == 0)
		o->table = pstrdup(value);
	else if (strcmp(name, "workgroup") == 0)
		o->workgroup = pstrdup(value);
	else if (strcmp(name, "output_location") == 0)
		o->output_location = pstrdup(value);
	else if (strcmp(name, "result_reuse_minutes") == 0)
		o->result_reuse_minutes = atoi(value);
	else if (strcmp(name, "result_transport") == 0)
		o->transport = strcmp(value, "api") == 0 ? AUDIT_TRANSPORT_API
			: AUDIT_TRANSPORT_CSV;
	else if (strcmp(name, "poll_initial_ms") == 0)
		o->poll_initial_ms = atoi(value);
	else if (strcmp(name, "poll_max_ms") == 0)
		o->poll_max_ms = atoi(value);
	else if (strcmp(name, "fdw_startup_cost") == 0)
		o->fdw_startup_cost = strtod(value, NULL);
	else if (strcmp(name, "fdw_tuple_cost") == 0)
		o->fdw_tuple_cost = strtod(value, NULL);
	else if (strcmp(name, "price_per_tb") == 0)
		o->price_per_tb = strtod(value, NULL);
	else if (strcmp(name, "estimated_rows") == 0)
		o->estimated_rows = strtod(value, NULL);
	else if (strcmp(name, "estimated_bytes") == 0)
		o->estimated_bytes = strtod(value, NULL);
	else if (strcmp(name, "time_column") == 0)
		o->time_column = pstrdup(value);
	else if (strcmp(name, "partition_column") == 0)
		o->partition_column = pstrdup(value);
	else if (strcmp(name, "partition_format") == 0)
		o->partition_format = pstrdup(value);
	else if (strcmp(name, "max_delivery_delay") == 0)
	{
		Interval   *iv = DatumGetIntervalP(DirectFunctionCall3(interval_in,
															   CStringGetDatum(value),
															   ObjectIdGetDatum(InvalidOid),
															   Int32GetDatum(-1)));

		o->max_delivery_delay_us = iv->day * USECS_PER_DAY + iv->time;
	}
	else if (strcmp(name, "partition_layout") == 0)
		o->event_time_partitions = strcmp(value, "event_time") == 0;
	else if (strcmp(name, "bucket_column") == 0)
		o->bucket_column = pstrdup(value);
	else if (strcmp(name, "bucket_key") == 0)
		o->bucket_key = pstrdup(value);
	else if (strcmp(name, "bucket_digits") == 0)
		o->bucket_digits = atoi(value);
	else if (strcmp(name, "folder_column") == 0)
		o->folder_column = pstrdup(value);
	else if (strcmp(name, "folder_attribute") == 0)
		o->folder_attribute = pstrdup(value);
	else if (strcmp(name, "folder_values") == 0)
	{
		char	   *bad;
		const char *why;

		o->folder_values = parse_folder_values(value, &bad, &why);
	}
}

/*
 * The options of a foreign table (InvalidOid for server-level use, as in
 * IMPORT FOREIGN SCHEMA), merged over its server's and the defaults.
 */
AuditFdwOptions *
audit_get_options(Oid foreigntableid, Oid serverid)
{
	AuditFdwOptions *o = palloc0(sizeof(AuditFdwOptions));
	ForeignServer *server;
	ListCell   *lc;

	if (OidIsValid(foreigntableid))
		serverid = GetForeignTable(foreigntableid)->serverid;
	server = GetForeignServer(serverid);

	o->serverid = serverid;
	o->server_name = pstrdup(server->servername);
	o->catalog = DEFAULT_CATALOG;
	o->database = DEFAULT_DATABASE;
	o->workgroup = DEFAULT_WORKGROUP;
	o->transport = AUDIT_TRANSPORT_CSV;
	o->poll_initial_ms = DEFAULT_POLL_INITIAL_MS;
	o->poll_max_ms = DEFAULT_POLL_MAX_MS;
	o->fdw_startup_cost = DEFAULT_STARTUP_COST;
	o->fdw_tuple_cost = DEFAULT_TUPLE_COST;
	o->price_per_tb = DEFAULT_PRICE_PER_TB;
	o->estimated_rows = DEFAULT_ESTIMATED_ROWS;
	o->max_delivery_delay_us = -1;

	foreach(lc, server->options)
		apply_option(o, (DefElem *) lfirst(lc));

	if (OidIsValid(foreigntableid))
	{
		ForeignTable *table = GetForeignTable(foreigntableid);

		foreach(lc, table->options)
			apply_option(o, (DefElem *) lfirst(lc));
		if (o->table == NULL)
			o->table = get_rel_name(foreigntableid);
	}
	if (o->poll_initial_ms > o->poll_max_ms)
		o->poll_max_ms = o->poll_initial_ms;
	return o;
}

/*
 * Whether a column is read from Athena as JSON text
 * (json_format(CAST(... AS JSON))): json and jsonb columns, and a text
 * column over a struct, array or map whose Glue type it declares (else
 * Athena would send Hive's text form, {orderid=101}).
 */
bool
audit_column_reads_json(Oid relid, AttrNumber attnum, Oid typid)
{
	ListCell   *lc;

	if (typid == JSONBOID || typid == JSONOID)
		return true;
	if (typid != TEXTOID && typid != VARCHAROID)
		return false;
	foreach(lc, GetForeignColumnOptions(relid, attnum))
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "glue_type") == 0)
			return audit_glue_type_is_complex(defGetString(def));
	}
	return false;
}

/*
 * The remote name and struct path of a column.  The remote name defaults
 * to the column's own name.
 */
AuditFdwColumn *
audit_get_column(Oid relid, AttrNumber attnum, const char *attname)
{
	AuditFdwColumn *col = palloc0(sizeof(AuditFdwColumn));
	List	   *options = GetForeignColumnOptions(relid, attnum);
	ListCell   *lc;

	col->remote_name = pstrdup(attname);
	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "column_name") == 0)
			col->remote_name = pstrdup(defGetString(def));
		else if (strcmp(def->defname, "glue_type") == 0)
			col->glue_type = pstrdup(defGetString(def));
		else if (strcmp(def->defname, "path") == 0)
		{
			char	   *path = pstrdup(defGetString(def));
			char	   *save = NULL;
			char	   *tok;

			for (tok = strtok_r(path, ".", &save); tok;
				 tok = strtok_r(NULL, ".", &save))
				col->path = lappend(col->path, makeString(tok));
		}
	}
	return col;
}
