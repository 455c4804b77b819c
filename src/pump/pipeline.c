/*-------------------------------------------------------------------------
 *
 * pipeline.c
 *		SQL functions that manage pipelines: create_pipeline,
 *		pause_pipeline, resume_pipeline, drop_pipeline, skip_trimmed_gap.
 *
 * Rules:
 *	- calling them needs EXECUTE, which the install script revokes from
 *	  PUBLIC: a superuser grants it to the roles that manage pipelines;
 *	- a pipeline runs with the credentials of the user mapping of the role
 *	  that created it, on a foreign server of audit_fdw that role may use:
 *	  nobody borrows someone else's credentials, and the tables keep no
 *	  secret;
 *	- arguments are checked here, before anything is written, and the
 *	  stream is resolved (DescribeTable's LatestStreamArn) or checked
 *	  (DescribeStream) at once, so a wrong name fails now, not in the log;
 *	- the shards DescribeStream lists are written then as the pipeline's
 *	  initial shards, so that its first readers are those that own them;
 *	- the writes to the extension's tables are made as the bootstrap
 *	  superuser (the tables are not writable by the callers), with
 *	  search_path set to pg_catalog so that no object of the caller's runs
 *	  with those rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
/* utils/builtins.h declares a json_object() that json-c's typedef clashes with */
#define json_object pg_json_object_fn
#include "utils/builtins.h"
#undef json_object
#include "utils/timestamp.h"

#include "aws/dynamodbstreams.h"
#include "aws/responses.h"
#include "provision/provision.h"
#include "pump/pump.h"

PG_FUNCTION_INFO_V1(audit_fdw_create_pipeline);
PG_FUNCTION_INFO_V1(audit_fdw_pause_pipeline);
PG_FUNCTION_INFO_V1(audit_fdw_resume_pipeline);
PG_FUNCTION_INFO_V1(audit_fdw_drop_pipeline);
PG_FUNCTION_INFO_V1(audit_fdw_skip_trimmed_gap);
PG_FUNCTION_INFO_V1(audit_fdw_pump_runs_here);

static char *text_arg(FunctionCallInfo fcinfo, int n);
static void set_state(const char *name, const char *state);
static void register_initial_shards(const char *name, StreamDescription *desc);
static void check_delivery_stream(AwsClient *client, const char *name,
								  const char *folder_attribute);

/*
 * The delivery stream exists, is active (or being created), takes
 * PutRecordBatch (DirectPut) and routes on attribute folders exactly when
 * the pipeline writes them (folder_attribute not NULL); else an error that
 * says what is wrong (DescribeDeliveryStream, with the caller's
 * credentials).
 */
static void
check_delivery_stream(AwsClient *client, const char *name, const char *folder_attribute)
{
	json_object *description = firehose_describe_delivery_stream(client, name);
	json_object *obj;
	const char *status = NULL;
	const char *type = NULL;
	DeliveryStreamView view;
	bool		routes_on_folders;

	if (description == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("Firehose delivery stream \"%s\" does not exist", name),
				 errdetail("DescribeDeliveryStream answered ResourceNotFoundException."),
				 errhint("Create it with audit_fdw.create_delivery_stream(), or check the name and the server's region.")));
	if (json_object_object_get_ex(description, "DeliveryStreamStatus", &obj) &&
		json_object_is_type(obj, json_type_string))
		status = json_object_get_string(obj);
	if (json_object_object_get_ex(description, "DeliveryStreamType", &obj) &&
		json_object_is_type(obj, json_type_string))
		type = json_object_get_string(obj);
	if (status && strcmp(status, "ACTIVE") != 0 && strcmp(status, "CREATING") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("Firehose delivery stream \"%s\" is %.64s", name, status),
				 errhint("A pipeline delivers to an ACTIVE delivery stream; recreate it if its creation failed.")));
	if (type && strcmp(type, "DirectPut") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("Firehose delivery stream \"%s\" does not take records from producers", name),
				 errdetail("Its DeliveryStreamType is %.64s; PutRecordBatch needs DirectPut.", type),
				 errhint("Use a delivery stream created with DeliveryStreamType DirectPut, such as one of audit_fdw.create_delivery_stream().")));

	/*
	 * A stream whose prefix routes on the folder takes only records that
	 * have it (the others go to its error prefix); a pipeline that writes
	 * folders into a stream that ignores them fills folders no table with
	 * attribute folders reads.
	 */
	aws_read_delivery_stream(description, &view);
	routes_on_folders = view.prefix != NULL &&
		strstr(view.prefix, "!{partitionKeyFromQuery:" PROVISION_FOLDER_COLUMN "}") != NULL;
	if (routes_on_folders && folder_attribute == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("Firehose delivery stream \"%s\" routes records by attribute folder", name),
				 errdetail("Its prefix is %s; a record without \"" PROVISION_FOLDER_COLUMN "\" would go to its error prefix.",
						   quote_literal_cstr(view.prefix)),
				 errhint("Pass the folder_attribute and folder_values the stream's audit table was created with.")));
	if (!routes_on_folders && folder_attribute != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("Firehose delivery stream \"%s\" does not route records by attribute folder", name),
				 errdetail("Its prefix is %s, without !{partitionKeyFromQuery:" PROVISION_FOLDER_COLUMN "}.",
						   view.prefix ? quote_literal_cstr(view.prefix) : "not set"),
				 errhint("Create the stream with audit_fdw.create_delivery_stream(..., layout => 'event_time', folder_attribute => %s), or leave folder_attribute out.",
						 quote_literal_cstr(folder_attribute))));
}

static char *
text_arg(FunctionCallInfo fcinfo, int n)
{
	if (PG_ARGISNULL(n))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* Runs one statement on the extension's tables as the bootstrap superuser. */
uint64
run_privileged(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	return run_privileged_first(sql, nargs, types, values, nulls, NULL);
}

/*
 * The same; when first is not NULL and a row came back, *first is its first
 * column (copied out, so it outlives the SPI call).
 */
uint64
run_privileged_first(const char *sql, int nargs, Oid *types, Datum *values,
					 const char *nulls, Datum *first)
{
	Oid			save_userid;
	int			save_sec;
	int			ret;
	uint64		processed;

	int			save_nestlevel;

	/*
	 * As the superuser, with a search_path the caller cannot point at
	 * objects of their own (an operator of theirs would run as superuser).
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	SPI_connect();
	ret = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	if (ret < 0)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	processed = SPI_processed;
	if (first != NULL && processed > 0 && SPI_tuptable != NULL)
	{
		bool		isnull;

		Form_pg_attribute att = TupleDescAttr(SPI_tuptable->tupdesc, 0);

		*first = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			*first = SPI_datumTransfer(*first, att->attbyval, att->attlen);
	}
	SPI_finish();
	AtEOXact_GUC(true, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec);
	return processed;
}

/*
 * create_pipeline(name, server, source_table, delivery_stream, stream_arn,
 *				   starting_position, batch_size, max_batching_window,
 *				   on_trimmed_gap, share_stream, folder_attribute, folder_values)
 */
Datum
audit_fdw_create_pipeline(PG_FUNCTION_ARGS)
{
	char	   *name = text_arg(fcinfo, 0);
	char	   *server_name = text_arg(fcinfo, 1);
	char	   *source_table = text_arg(fcinfo, 2);
	char	   *delivery_stream = text_arg(fcinfo, 3);
	char	   *stream_arn = text_arg(fcinfo, 4);
	char	   *position = text_arg(fcinfo, 5);
	int32		batch_size = PG_ARGISNULL(6) ? 500 : PG_GETARG_INT32(6);
	Interval   *window = PG_ARGISNULL(7) ? NULL : PG_GETARG_INTERVAL_P(7);
	char	   *gap_policy = text_arg(fcinfo, 8);
	/* 1.0's create_pipeline has no share_stream */
	bool		share_stream = PG_NARGS() > 9 && !PG_ARGISNULL(9) && PG_GETARG_BOOL(9);
	/* 1.3's attribute folders (the pipeline has no layout: the stream has) */
	char	   *folder_attribute = provision_folder_attribute_arg(fcinfo, 10, true, false);
	List	   *folder_values = provision_folder_values_arg(fcinfo, 11, folder_attribute);
	ForeignServer *server;
	StreamDescription *desc;
	Datum		other;
	ForeignDataWrapper *fdw;
	AclResult	aclresult;
	AwsClient  *client;
	Oid			types[12] = {TEXTOID, TEXTOID, OIDOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, INT4OID, INTERVALOID, TEXTOID, TEXTOID, TEXTARRAYOID};
	Datum		values[12];
	char		nulls[12];

	if (name == NULL || server_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a pipeline needs a name and a server")));
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(name) ||
		strlen(name) == 0 || strlen(name) > 63)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid pipeline name \"%s\"", name),
				 errdetail("A pipeline name has 1 to 63 letters, digits, \"_\", \".\" or \"-\".")));
	if (delivery_stream == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a pipeline needs a delivery_stream"),
				 errhint("Name the Firehose delivery stream that writes the audit records to S3.")));
	if ((source_table == NULL) == (stream_arn == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a pipeline needs either source_table or stream_arn"),
				 errhint("Give the DynamoDB table's name, or the ARN of its stream.")));
	if (position == NULL)
		position = "TRIM_HORIZON";
	if (pg_strcasecmp(position, "TRIM_HORIZON") == 0)
		position = "TRIM_HORIZON";
	else if (pg_strcasecmp(position, "LATEST") == 0)
		position = "LATEST";
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid starting_position \"%s\"", position),
				 errhint("Valid starting positions are TRIM_HORIZON and LATEST.")));
	if (batch_size < 1 || batch_size > 500)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size must be between 1 and 500"),
				 errdetail("Firehose takes at most 500 records in one PutRecordBatch.")));
	if (window)
	{
		if (window->month != 0 || window->day != 0 || window->time < 0 ||
			window->time > 300 * USECS_PER_SEC)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_batching_window must be between 0 and 300 seconds")));
	}
	if (gap_policy == NULL)
		gap_policy = "stop";
	if (strcmp(gap_policy, "stop") != 0 && strcmp(gap_policy, "skip") != 0 &&
		strcmp(gap_policy, "snapshot") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid on_trimmed_gap \"%s\"", gap_policy),
				 errhint("Valid values are \"stop\" (stop the shard and report), \"skip\" (report and go on) and \"snapshot\" (report, go on and backfill a snapshot of the table).")));

	server = GetForeignServerByName(server_name, false);
	fdw = GetForeignDataWrapper(server->fdwid);
	if (strcmp(fdw->fdwname, "audit_fdw") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not an audit_fdw server", server_name)));
	aclresult = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);

	/* the stream, with the caller's own credentials */
	client = aws_client_for_server(server->serverid, GetUserId());
	if (stream_arn == NULL)
		stream_arn = ddb_latest_stream_arn(client, source_table);
	desc = ddbstreams_describe_stream(client, stream_arn);
	if (source_table == NULL)
	{
		source_table = desc->table_name ? desc->table_name : ddbstreams_table_from_arn(stream_arn);
		if (source_table == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot tell the table of stream \"%.300s\"", stream_arn)));
	}
	if (desc->stream_status && strcmp(desc->stream_status, "ENABLED") != 0 &&
		strcmp(desc->stream_status, "ENABLING") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the stream of DynamoDB table \"%s\" is %.64s", source_table,
						desc->stream_status),
				 errdetail("Stream \"%.300s\" (DescribeStream StreamStatus).", stream_arn),
				 errhint("Enable the table's stream (UpdateTable with StreamSpecification StreamEnabled true), then create the pipeline over the new stream.")));
	check_delivery_stream(client, delivery_stream, folder_attribute);

	values[0] = CStringGetTextDatum(name);
	if (run_privileged("SELECT 1 FROM audit_fdw.pipeline WHERE name = $1",
					   1, types, values, NULL) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("pipeline \"%s\" already exists", name),
				 errhint("SELECT * FROM audit_fdw.pipeline_status WHERE pipeline = %s shows it; audit_fdw.drop_pipeline(%s) drops it, or choose another name.",
						 quote_literal_cstr(name), quote_literal_cstr(name))));
	values[4] = CStringGetTextDatum(stream_arn);
	if (!share_stream &&
		run_privileged_first("SELECT name FROM audit_fdw.pipeline WHERE stream_arn = $1 LIMIT 1",
							 1, &types[4], &values[4], NULL, &other) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("stream \"%.300s\" already has pipeline \"%s\"", stream_arn,
						TextDatumGetCString(other)),
				 errdetail("Two pipelines over one stream read every shard twice (DynamoDB Streams allows two readers per shard) and deliver each change twice if they share a delivery stream."),
				 errhint("To create it all the same, pass share_stream => true.")));

	values[1] = CStringGetTextDatum(server->servername);
	values[2] = ObjectIdGetDatum(GetUserId());
	values[3] = CStringGetTextDatum(source_table);
	values[4] = CStringGetTextDatum(stream_arn);
	values[5] = CStringGetTextDatum(delivery_stream);
	values[6] = CStringGetTextDatum(position);
	values[7] = Int32GetDatum(batch_size);
	if (window)
		values[8] = IntervalPGetDatum(window);
	else
		values[8] = DirectFunctionCall3(interval_in, CStringGetDatum("1 second"),
										ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	values[9] = CStringGetTextDatum(gap_policy);
	memset(nulls, ' ', sizeof(nulls));
	nulls[10] = nulls[11] = 'n';
	if (folder_values != NIL)
	{
		values[10] = CStringGetTextDatum(folder_attribute);
		values[11] = PG_GETARG_DATUM(11);
		nulls[10] = nulls[11] = ' ';
	}
	/* the folder columns only with folders: a 1.2 installation has none */
	run_privileged(folder_values != NIL ?
				   "INSERT INTO audit_fdw.pipeline (name, server_name, owner, source_table, "
				   "stream_arn, delivery_stream, starting_position, batch_size, "
				   "max_batching_window, on_trimmed_gap, folder_attribute, folder_values) "
				   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)" :
				   "INSERT INTO audit_fdw.pipeline (name, server_name, owner, source_table, "
				   "stream_arn, delivery_stream, starting_position, batch_size, "
				   "max_batching_window, on_trimmed_gap) "
				   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
				   folder_values != NIL ? 12 : 10, types, values, nulls);
	register_initial_shards(name, desc);

	if (!pump_launcher_registered)
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pipeline \"%s\" will not run: audit_fdw is not in shared_preload_libraries", name),
				 errhint("Add audit_fdw to shared_preload_libraries and set audit_fdw.database, then restart the server.")));
	else if (strcmp(get_database_name(MyDatabaseId), pump_database) != 0)
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pipeline \"%s\" will not run: audit_fdw.database is \"%s\"",
						name, pump_database),
				 errhint("The pump runs the pipelines of the database named by audit_fdw.database.")));
	PG_RETURN_VOID();
}

/*
 * The shards DescribeStream listed, written as the pipeline's initial
 * shards, as its first discovery would (lineage.c): the supervisor then
 * starts only the readers whose slots own them, and the discoverer is one
 * of them (supervisor.c).  A shard that appears before the readers start
 * is found by their first discovery, as a child, read from TRIM_HORIZON.
 */
static void
register_initial_shards(const char *name, StreamDescription *desc)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	ListCell   *lc;

	foreach(lc, desc->shards)
	{
		StreamShard *s = lfirst(lc);
		Datum		values[4];
		char		nulls[4] = {' ', ' ', ' ', ' '};

		values[0] = CStringGetTextDatum(name);
		values[1] = CStringGetTextDatum(s->shard_id);
		values[2] = s->parent_shard_id ? CStringGetTextDatum(s->parent_shard_id) : (Datum) 0;
		nulls[2] = s->parent_shard_id ? ' ' : 'n';
		values[3] = s->ending_sequence_number ?
			CStringGetTextDatum(s->ending_sequence_number) : (Datum) 0;
		nulls[3] = s->ending_sequence_number ? ' ' : 'n';
		run_privileged("INSERT INTO audit_fdw.checkpoint "
					   "(pipeline, shard_id, parent_shard_id, initial, ending_sequence_number) "
					   "VALUES ($1, $2, $3, true, $4) ON CONFLICT (pipeline, shard_id) DO NOTHING",
					   4, types, values, nulls);
	}
}

/*
 * Only the role that created a pipeline (its user mapping signs the calls),
 * a member of that role or a superuser may pause, resume or drop it or
 * accept its gaps: EXECUTE on the functions alone is not enough.  Returns
 * false when the pipeline does not exist and missing_ok.
 */
bool
require_pipeline_owner(const char *name, bool missing_ok)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	Datum		owner = (Datum) 0;

	values[0] = CStringGetTextDatum(name);
	if (run_privileged_first("SELECT owner FROM audit_fdw.pipeline WHERE name = $1",
							 1, types, values, NULL, &owner) == 0)
	{
		if (missing_ok)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pipeline \"%s\" does not exist", name)));
	}
	if (!has_privs_of_role(GetUserId(), DatumGetObjectId(owner)))
	{
		char	   *owner_name = GetUserNameFromId(DatumGetObjectId(owner), true);

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be the owner of pipeline \"%s\"", name),
				 errdetail("Pipeline \"%s\" belongs to role \"%s\".", name,
						   owner_name ? owner_name : "(dropped)"),
				 errhint("Its owner, a member of the owning role or a superuser may manage it.")));
	}
	return true;
}

static void
set_state(const char *name, const char *state)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	require_pipeline_owner(name, false);
	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(state);
	/* a new generation: the readers restart, however close pause and resume are */
	if (run_privileged("UPDATE audit_fdw.pipeline SET state = $2, "
					   "generation = generation OPERATOR(pg_catalog.+) 1 WHERE name = $1",
					   2, types, values, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pipeline \"%s\" does not exist", name)));
}

/* pause_pipeline(name): the readers stop; the checkpoints stay. */
Datum
audit_fdw_pause_pipeline(PG_FUNCTION_ARGS)
{
	set_state(text_to_cstring(PG_GETARG_TEXT_PP(0)), "paused");
	PG_RETURN_VOID();
}

/* resume_pipeline(name): reading goes on from the checkpoints. */
Datum
audit_fdw_resume_pipeline(PG_FUNCTION_ARGS)
{
	set_state(text_to_cstring(PG_GETARG_TEXT_PP(0)), "running");
	PG_RETURN_VOID();
}

/* drop_pipeline(name, if_exists): the pipeline, its checkpoints and dead letters. */
Datum
audit_fdw_drop_pipeline(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		if_exists = PG_GETARG_BOOL(1);
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(name);
	if (!require_pipeline_owner(name, if_exists) ||
		run_privileged("DELETE FROM audit_fdw.pipeline WHERE name = $1",
					   1, types, values, NULL) == 0)
	{
		if (!if_exists)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("pipeline \"%s\" does not exist", name)));
		ereport(NOTICE,
				(errmsg("pipeline \"%s\" does not exist, skipping", name)));
	}
	PG_RETURN_VOID();
}

/*
 * skip_trimmed_gap(pipeline, shard_id): shards stopped by a trimmed gap go
 * on from the oldest record the stream still has.  Returns how many.
 */
Datum
audit_fdw_skip_trimmed_gap(PG_FUNCTION_ARGS)
{
	char	   *pipeline = text_arg(fcinfo, 0);
	char	   *shard_id = text_arg(fcinfo, 1);
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	uint64		n;

	if (pipeline == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline must not be null")));
	require_pipeline_owner(pipeline, false);
	values[0] = CStringGetTextDatum(pipeline);
	values[1] = shard_id ? CStringGetTextDatum(shard_id) : (Datum) 0;
	nulls[1] = shard_id ? ' ' : 'n';
	n = run_privileged("UPDATE audit_fdw.checkpoint SET state = 'reading', "
					   "sequence_number = NULL, initial = false, skip_gap = true, updated_at = now() "
					   "WHERE pipeline = $1 AND state = 'stopped' "
					   "AND ($2::text IS NULL OR shard_id = $2)",
					   2, types, values, nulls);
	PG_RETURN_INT32((int32) n);
}

/*
 * Does the pump run the pipelines of this database?  (audit_fdw preloaded,
 * and audit_fdw.database naming this database.)  pipeline_status says "not
 * pumped here" otherwise.
 */
Datum
audit_fdw_pump_runs_here(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(pump_launcher_registered && pump_database != NULL &&
				   strcmp(get_database_name(MyDatabaseId), pump_database) == 0);
}
