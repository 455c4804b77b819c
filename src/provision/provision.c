/*-------------------------------------------------------------------------
 *
 * provision.c
 *		What the provisioning functions share: the foreign server they act
 *		through, its AWS client, argument checks, S3 locations.
 *
 * Rules: a provisioning function acts with the caller's credentials (the
 * user mapping for the current user, or PUBLIC) and needs USAGE on the
 * server, as creating a foreign table on it would.  json-c objects built
 * here are owned by the current memory context, so an ERROR frees them.
 *
 *-------------------------------------------------------------------------
 */
#include "provision/provision.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"

static void json_put_callback(void *arg);

/*
 * The audit_fdw server named servername, checked for USAGE by the current
 * user.
 */
ForeignServer *
provision_server(const char *servername)
{
	ForeignServer *server;
	ForeignDataWrapper *fdw;
	AclResult	aclresult;

	server = GetForeignServerByName(servername, false);
	fdw = GetForeignDataWrapper(server->fdwid);
	if (strcmp(fdw->fdwname, "audit_fdw") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not an audit_fdw server", servername),
				 errdetail("It uses the foreign-data wrapper \"%s\".", fdw->fdwname),
				 errhint("Name a server created with FOREIGN DATA WRAPPER audit_fdw.")));

	aclresult = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);
	return server;
}

/* The value of a server option, or NULL. */
char *
provision_server_option(ForeignServer *server, const char *name)
{
	ListCell   *lc;

	foreach(lc, server->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, name) == 0)
			return defGetString(def);
	}
	return NULL;
}

/*
 * A client for the server's region and endpoint with the current user's
 * credentials: the user mapping's options, or the default credential chain
 * when the mapping gives none.
 */
AwsClient *
provision_client(ForeignServer *server)
{
	return aws_client_for_server(server->serverid, GetUserId());
}

/* A text argument as a C string; NULL if the argument is NULL and optional. */
char *
provision_text_arg(FunctionCallInfo fcinfo, int argno, const char *argname, bool required)
{
	if (PG_ARGISNULL(argno))
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", argname)));
		return NULL;
	}
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * The layout argument of create_delivery_stream and create_audit_table:
 * true for 'event_time' (folders by the hour of the change, routed by
 * Firehose dynamic partitioning), false for 'delivery_time' (Firehose's
 * delivery-hour folders).  A call through a 1.0 definition, which has no
 * such argument, gets the delivery-hour layout.
 */
bool
provision_layout_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *layout;

	if (PG_NARGS() <= argno)
		return false;
	layout = provision_text_arg(fcinfo, argno, "layout", true);
	if (strcmp(layout, "event_time") == 0)
		return true;
	if (strcmp(layout, "delivery_time") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid layout \"%s\"", layout),
				 errdetail("An audit table's folders are the hour Firehose delivered each record (delivery_time) or the hour of the change itself (event_time)."),
				 errhint("Use layout => 'event_time' for new tables: both time bounds of a query then prune folders exactly.")));
	return false;
}

/*
 * The key_buckets argument of create_delivery_stream and create_audit_table:
 * the number of key buckets, 0 (none), 16, 256 or 4096, returned as the
 * number of hex digits of the key hash that name a bucket (0 to 3).  A
 * bucket folder sits under each event hour, so only the event-time layout
 * has them.  A call through an older definition has none.
 */
int
provision_key_buckets_arg(FunctionCallInfo fcinfo, int argno, bool event_time)
{
	int			n;

	if (PG_NARGS() <= argno)
		return 0;
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key_buckets must not be null"),
				 errhint("Leave it out, or pass 0, for no key buckets.")));
	n = PG_GETARG_INT32(argno);
	if (n == 0)
		return 0;
	if (n != 16 && n != 256 && n != 4096)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key_buckets %d is not 0, 16, 256 or 4096", n),
				 errdetail("A key's bucket is the last hex digits of its key_hash: one, two or three digits make 16, 256 or 4096 buckets."),
				 errhint("Firehose keeps a buffer per partition and writes at least one object per bucket and hour: 16 suits most tables; see the README's \"Key buckets\".")));
	if (!event_time)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key buckets need layout => 'event_time'"),
				 errdetail("Bucket folders are made by Firehose dynamic partitioning, under each event hour."),
				 errhint("Pass layout => 'event_time' too.")));
	return n == 16 ? 1 : n == 256 ? 2 : 3;
}

/*
 * The folder_attribute argument of create_audit_table,
 * create_delivery_stream and create_pipeline: the top-level item attribute
 * whose value names each record's attribute folder, or NULL for none (also
 * when the function's definition has no such argument).  Attribute folders
 * sit under the event hour (and key bucket), so only the event-time layout
 * has them (layout_needed false: the pipeline, which has no layout).
 */
char *
provision_folder_attribute_arg(FunctionCallInfo fcinfo, int argno, bool event_time,
							   bool layout_needed)
{
	char	   *attribute;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	attribute = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (attribute[0] == '\0' || strlen(attribute) > PROVISION_FOLDER_ATTRIBUTE_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid folder_attribute \"%s\"", provision_clip(attribute)),
				 errdetail("folder_attribute names a top-level attribute of the item: 1 to %d bytes.",
						   PROVISION_FOLDER_ATTRIBUTE_MAX),
				 errhint("Name a low-cardinality attribute, such as an order's state: folder_attribute => 'state'.")));
	if (layout_needed && !event_time)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("attribute folders need layout => 'event_time'"),
				 errdetail("Attribute folders are made by Firehose dynamic partitioning, under each event hour (and key bucket)."),
				 errhint("Pass layout => 'event_time' too.")));
	return attribute;
}

/* A declared folder value: ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ */
static bool
folder_value_ok(const char *v)
{
	size_t		len = strlen(v);

	if (len < 1 || len > PROVISION_FOLDER_VALUE_MAX || !isascii((unsigned char) v[0]) ||
		!isalnum((unsigned char) v[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!isascii((unsigned char) v[i]) ||
			!(isalnum((unsigned char) v[i]) || v[i] == '.' || v[i] == '_' || v[i] == '-'))
			return false;
	return true;
}

/*
 * The folder_values argument of create_audit_table and create_pipeline, as
 * a List of C strings: the declared values of attribute (each a folder of
 * its own; 1 to 64 of them, each safe as an S3 path segment and in
 * Athena's comma-separated enum list, none twice).  NIL when both are NULL;
 * either without the other is an error.
 */
List *
provision_folder_values_arg(FunctionCallInfo fcinfo, int argno, const char *attribute)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *values = NIL;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
	{
		if (attribute != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("folder_attribute \"%s\" needs folder_values", provision_clip(attribute)),
					 errdetail("Each declared value of the attribute is a folder; any other value goes to _other."),
					 errhint("Pass the values queries ask for, e.g. folder_values => '{PLACED,SHIPPED,DELIVERED,RETURNED}'.")));
		return NIL;
	}
	if (attribute == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("folder_values need a folder_attribute"),
				 errdetail("The values are those of one top-level attribute of the item."),
				 errhint("Pass the attribute too, e.g. folder_attribute => 'state'.")));
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("folder_values must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n < 1 || n > PROVISION_FOLDER_VALUES_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("folder_values has %d values, not 1 to %d", n, PROVISION_FOLDER_VALUES_MAX),
				 errdetail("Each value is a folder under every event hour, and Firehose keeps a buffer for each."),
				 errhint("Declare the few values queries ask for; the others share the folder _other.")));
	for (int i = 0; i < n; i++)
	{
		char	   *v;
		ListCell   *lc;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("folder_values must not contain NULL"),
					 errdetail("Records whose attribute has no value or is NULL go to the folder _none by themselves.")));
		v = TextDatumGetCString(elems[i]);
		if (!folder_value_ok(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid folder value \"%s\"", provision_clip(v)),
					 errdetail("A folder value has 1 to %d letters, digits, \".\", \"_\" or \"-\" and starts with a letter or digit (a folder name in S3 and an enum value in Athena; names starting with \"_\" are reserved for _other and _none).",
							   PROVISION_FOLDER_VALUE_MAX),
					 errhint("Values outside the declared ones need not be declared: their records go to _other.")));
		foreach(lc, values)
			if (strcmp(lfirst(lc), v) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("folder value \"%s\" is declared twice", v),
						 errhint("Declare each value once (values are case-sensitive).")));
		values = lappend(values, v);
	}
	return values;
}

/*
 * Checks an S3 location "s3://bucket/prefix" and normalizes it so that the
 * prefix ends with "/": Firehose appends its YYYY/MM/dd/HH/ folders to the
 * prefix, and the Glue table's location is that folder.
 */
S3Location *
provision_parse_location(const char *argname, const char *location)
{
	S3Location *loc = palloc0(sizeof(S3Location));
	const char *p;
	const char *slash;
	size_t		blen;

	if (strncmp(location, "s3://", 5) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s \"%s\"", argname, location),
				 errdetail("A location is an S3 URI: s3://bucket/prefix/."),
				 errhint("For example 's3://my-audit-bucket/orders/'.")));
	p = location + 5;
	slash = strchr(p, '/');
	blen = slash ? (size_t) (slash - p) : strlen(p);
	loc->bucket = pnstrdup(p, blen);

	/* S3's bucket naming rules */
	{
		bool		ok = blen >= 3 && blen <= 63;

		for (size_t i = 0; ok && i < blen; i++)
		{
			char		c = loc->bucket[i];

			ok = islower((unsigned char) c) || isdigit((unsigned char) c) ||
				((c == '-' || c == '.') && i > 0 && i < blen - 1);
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid bucket name \"%s\" in %s", loc->bucket, argname),
					 errdetail("S3 bucket names have 3 to 63 characters: lower-case letters, digits, dots and hyphens, beginning and ending with a letter or digit.")));
	}

	loc->prefix = pstrdup(slash ? slash + 1 : "");
	if (strstr(loc->prefix, "//") != NULL || loc->prefix[0] == '/')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s \"%s\"", argname, location),
				 errdetail("The prefix contains an empty folder name (\"//\")."),
				 errhint("For example 's3://my-audit-bucket/orders/'.")));
	if (strpbrk(loc->prefix, "!{}") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s \"%s\"", argname, location),
				 errdetail("Firehose expressions (!{...}) are not supported: the audit table expects Firehose's default YYYY/MM/dd/HH/ folders under a fixed prefix.")));
	if (loc->prefix[0] != '\0' && loc->prefix[strlen(loc->prefix) - 1] != '/')
		loc->prefix = psprintf("%s/", loc->prefix);
	loc->uri = psprintf("s3://%s/%s", loc->bucket, loc->prefix);
	return loc;
}

static void
json_put_callback(void *arg)
{
	json_object_put((json_object *) arg);
}

/*
 * Hands obj (a reference the caller owns) to the current memory context:
 * it is released when the context is reset or deleted, also on ERROR.
 */
json_object *
provision_json_owned(json_object *obj)
{
	MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));

	cb->func = json_put_callback;
	cb->arg = obj;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return obj;
}

/*
 * What AWS answered, clipped for a message: a value from another party may
 * be of any size, and an error quotes it back.
 */
const char *
provision_clip(const char *text)
{
	const int	max = 200;

	if (text == NULL || strlen(text) <= max)
		return text;
	return psprintf("%.*s...", max, text);
}
