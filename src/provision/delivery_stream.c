/*-------------------------------------------------------------------------
 *
 * delivery_stream.c
 *		audit_fdw.create_delivery_stream(): the Firehose delivery stream a
 *		pipeline writes its audit records to, delivering them into the S3
 *		location that create_audit_table() reads.
 *
 * The stream is a DirectPut stream (the pump calls PutRecordBatch) with an
 * extended S3 destination whose prefix is the audit table's location:
 * Firehose appends its default YYYY/MM/dd/HH/ folders to it, which is what
 * the table's partition projection expects.  Records are stored as sent
 * (uncompressed, no conversion), one audit record a line.
 *
 * With layout => 'event_time' the stream routes each record by its own
 * event_time instead, with Firehose dynamic partitioning: the
 * MetadataExtraction processor's JQ query takes the year, month, day and
 * hour out of the record's "event_time" ("YYYY-MM-DD HH:MM:SS.mmm", UTC;
 * string slices, plain jq 1.6) and the prefix puts them in the same
 * YYYY/MM/dd/HH/ folders, so the same Glue table reads both layouts.
 * Records whose keys cannot be extracted go to _errors/ under the location
 * (Athena skips names that start with an underscore).
 *
 * key_buckets => N (16, 256 or 4096, event_time only) adds a folder under
 * each hour: the key's bucket, the last 1, 2 or 3 hex digits of the
 * record's key_hash of the bucket_key attribute (the pump writes it:
 * SHA-256 of the key's value, see pump/transform.c), so one key's records
 * of an hour are in one of N folders: YYYY/MM/dd/HH/b/.  A record without
 * that hash (no such key attribute) fails partitioning and goes to _errors/.
 *
 * folder_attribute => 'state' (event_time only) adds a last folder: the
 * record's attribute_folder, which the pump writes for a pipeline with
 * attribute folders (the new image's state when declared, _other or
 * _none; pump/transform.c): YYYY/MM/dd/HH/[b/]f/.  A record without the member
 * fails partitioning and goes to _errors/.
 *
 * Idempotent: an existing stream with the same destination, buffering and
 * role is left alone (waiting for it to become ACTIVE if asked); another
 * definition is an error that says what differs.
 *
 *-------------------------------------------------------------------------
 */
#include "provision/provision.h"
#include "aws/responses.h"

#include <ctype.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/wait_event.h"

PG_FUNCTION_INFO_V1(audit_fdw_create_delivery_stream);

/* How long create_delivery_stream waits for ACTIVE at most. */
#define ACTIVE_WAIT_MAX_MS (10 * 60 * 1000)

typedef struct DeliveryStreamSpec
{
	char	   *name;
	S3Location *location;
	char	   *role_arn;
	char	   *bucket_arn;
	int			buffer_seconds;
	int			buffer_mb;
	bool		event_time;		/* layout => 'event_time' */
	int			bucket_digits;	/* key_buckets as hex digits, 0: none */
	char	   *bucket_key;		/* the key attribute bucketed */
	char	   *folder_attribute;	/* attribute folders; NULL: none */
	char	   *prefix;			/* the Prefix Firehose is given */
} DeliveryStreamSpec;

/* The event-time layout's extraction query and prefix (after the location) */
#define EVENT_TIME_QUERY \
	"{year: .event_time[0:4], month: .event_time[5:7], day: .event_time[8:10], hour: .event_time[11:13]}"
#define EVENT_TIME_PREFIX \
	"!{partitionKeyFromQuery:year}/!{partitionKeyFromQuery:month}/" \
	"!{partitionKeyFromQuery:day}/!{partitionKeyFromQuery:hour}/"
#define BUCKET_PREFIX "!{partitionKeyFromQuery:" PROVISION_BUCKET_COLUMN "}/"
#define FOLDER_PREFIX "!{partitionKeyFromQuery:" PROVISION_FOLDER_COLUMN "}/"
#define FOLDER_QUERY PROVISION_FOLDER_COLUMN ": ." PROVISION_FOLDER_COLUMN
#define EVENT_TIME_ERROR_PREFIX "_errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"

static void check_stream_name(const char *name);
static char *check_role_arn(const char *role_arn);
static json_object *create_request(const DeliveryStreamSpec *spec);
static const char *stream_status(json_object *description);
static void compare_stream(const DeliveryStreamSpec *spec, json_object *description);
static void check_not_failed(const DeliveryStreamSpec *spec, json_object *description);
static void wait_until_active(AwsClient *client, const DeliveryStreamSpec *spec);
static void report_difference(const DeliveryStreamSpec *spec, const char *what,
							  const char *existing, const char *wanted);

/*
 * create_delivery_stream(server name, name text, location text,
 *						  role_arn text, buffer_seconds int, buffer_mb int,
 *						  wait boolean, layout text, key_buckets int,
 *						  bucket_key text, folder_attribute text) returns text
 *
 * Returns 'created', or 'unchanged' when the same stream exists.
 */
Datum
audit_fdw_create_delivery_stream(PG_FUNCTION_ARGS)
{
	DeliveryStreamSpec spec;
	ForeignServer *server;
	AwsClient  *client;
	json_object *description;
	json_object *request;
	const char *partition;
	bool		wait;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server must not be null")));
	server = provision_server(NameStr(*PG_GETARG_NAME(0)));

	spec.name = provision_text_arg(fcinfo, 1, "name", true);
	check_stream_name(spec.name);
	spec.location = provision_parse_location("location",
											 provision_text_arg(fcinfo, 2, "location", true));
	spec.role_arn = provision_text_arg(fcinfo, 3, "role_arn", true);
	partition = check_role_arn(spec.role_arn);
	spec.bucket_arn = psprintf("arn:%s:s3:::%s", partition, spec.location->bucket);

	if (PG_ARGISNULL(4) || PG_ARGISNULL(5) || PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null",
						PG_ARGISNULL(4) ? "buffer_seconds" :
						PG_ARGISNULL(5) ? "buffer_mb" : "wait"),
				 errhint("Leave it out for the default.")));
	spec.buffer_seconds = PG_GETARG_INT32(4);
	spec.buffer_mb = PG_GETARG_INT32(5);
	wait = PG_GETARG_BOOL(6);
	spec.event_time = provision_layout_arg(fcinfo, 7);
	spec.bucket_digits = provision_key_buckets_arg(fcinfo, 8, spec.event_time);
	spec.bucket_key = NULL;
	if (spec.bucket_digits > 0)
	{
		spec.bucket_key = PG_NARGS() > 9 ? provision_text_arg(fcinfo, 9, "bucket_key", false) : NULL;
		if (spec.bucket_key == NULL || spec.bucket_key[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key buckets need a bucket_key"),
					 errdetail("Records are bucketed by the hash of one key attribute."),
					 errhint("Pass the table's partition key, as create_audit_table's key_columns names it first: bucket_key => 'orderId'.")));
	}
	spec.folder_attribute = provision_folder_attribute_arg(fcinfo, 10, spec.event_time, true);
	spec.prefix = spec.event_time ?
		psprintf("%s%s%s%s", spec.location->prefix, EVENT_TIME_PREFIX,
				 spec.bucket_digits > 0 ? BUCKET_PREFIX : "",
				 spec.folder_attribute ? FOLDER_PREFIX : "") : spec.location->prefix;
	if (spec.buffer_seconds < 60 || spec.buffer_seconds > 900)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("buffer_seconds %d is out of range", spec.buffer_seconds),
				 errdetail("Firehose buffers S3 deliveries for 60 to 900 seconds."),
				 errhint("Records reach S3, and so the audit table, at most this long after the pump sends them.")));
	if (spec.buffer_mb < 1 || spec.buffer_mb > 128)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("buffer_mb %d is out of range", spec.buffer_mb),
				 errdetail("Firehose buffers 1 to 128 MiB before it writes an S3 object.")));

	client = provision_client(server);
	description = firehose_describe_delivery_stream(client, spec.name);
	if (description == NULL)
	{
		request = provision_json_owned(create_request(&spec));
		if (firehose_create_delivery_stream(client, request) != NULL)
		{
			if (wait)
				wait_until_active(client, &spec);
			PG_RETURN_TEXT_P(cstring_to_text("created"));
		}
		/* a stream made by a concurrent call is compared like any other */
		description = firehose_describe_delivery_stream(client, spec.name);
		if (description == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("delivery stream \"%s\" disappeared while it was being created",
							spec.name),
					 errdetail("Firehose answered ResourceInUseException to CreateDeliveryStream, then ResourceNotFoundException to DescribeDeliveryStream."),
					 errhint("Call create_delivery_stream again.")));
	}

	check_not_failed(&spec, description);
	compare_stream(&spec, description);
	if (wait && strcmp(stream_status(description), "ACTIVE") != 0)
		wait_until_active(client, &spec);
	ereport(NOTICE,
			(errmsg("delivery stream \"%s\" already exists with this definition, skipping",
					spec.name)));
	PG_RETURN_TEXT_P(cstring_to_text("unchanged"));
}

/* Firehose's naming rule: 1 to 64 of [a-zA-Z0-9_.-]. */
static void
check_stream_name(const char *name)
{
	size_t		len = strlen(name);

	for (size_t i = 0; i < len; i++)
	{
		char		c = name[i];

		if (!(isalnum((unsigned char) c) || c == '_' || c == '.' || c == '-') ||
			(unsigned char) c > 127)
			len = 0;
	}
	if (len == 0 || len > 64)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid delivery stream name \"%s\"", name),
				 errdetail("Delivery stream names have 1 to 64 characters: letters, digits, underscores, dots and hyphens.")));
}

/*
 * Checks that role_arn names an IAM role and returns its partition ("aws",
 * "aws-cn", "aws-us-gov"), which the bucket's ARN shares.
 */
static char *
check_role_arn(const char *role_arn)
{
	const char *p = role_arn;
	const char *colon;

	if (strncmp(p, "arn:", 4) == 0 && (colon = strchr(p + 4, ':')) != NULL &&
		colon > p + 4 && strncmp(colon, ":iam::", 6) == 0)
	{
		const char *account = colon + 6;
		const char *q = account;

		while (isdigit((unsigned char) *q))
			q++;
		if (q - account == 12 && strncmp(q, ":role/", 6) == 0 && q[6] != '\0')
			return pnstrdup(p + 4, colon - (p + 4));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid role_arn \"%s\"", role_arn),
			 errdetail("Firehose writes to S3 as an IAM role: arn:aws:iam::<12-digit account>:role/<name>."),
			 errhint("The README's \"Running against AWS\" section has the role's trust and permission policies.")));
	return NULL;				/* keep compiler quiet */
}

/*
 * The MetadataExtractionQuery: the event hour's parts, with key buckets
 * the last digits of the bucket key's hash:
 * key_bucket: .key_hash["orderId"][-1:] (the name as a JSON string),
 * with attribute folders the member the pump writes:
 * attribute_folder: .attribute_folder
 */
static const char *
extraction_query(const DeliveryStreamSpec *spec)
{
	json_object *name;
	char	   *query;

	query = psprintf("%.*s", (int) strlen(EVENT_TIME_QUERY) - 1, EVENT_TIME_QUERY);
	if (spec->bucket_digits > 0)
	{
		name = json_object_new_string(spec->bucket_key);
		query = psprintf("%s, " PROVISION_BUCKET_COLUMN ": .key_hash[%s][-%d:]", query,
						 json_object_to_json_string_ext(name, JSON_C_TO_STRING_PLAIN |
														JSON_C_TO_STRING_NOSLASHESCAPE),
						 spec->bucket_digits);
		json_object_put(name);
	}
	if (spec->folder_attribute != NULL)
		query = psprintf("%s, " FOLDER_QUERY, query);
	return psprintf("%s}", query);
}

/* The CreateDeliveryStream request for the spec. */
static json_object *
create_request(const DeliveryStreamSpec *spec)
{
	json_object *request = json_object_new_object();
	json_object *dest = json_object_new_object();
	json_object *hints = json_object_new_object();

	json_object_object_add(request, "DeliveryStreamName", json_object_new_string(spec->name));
	json_object_object_add(request, "DeliveryStreamType", json_object_new_string("DirectPut"));
	json_object_object_add(dest, "RoleARN", json_object_new_string(spec->role_arn));
	json_object_object_add(dest, "BucketARN", json_object_new_string(spec->bucket_arn));
	if (spec->prefix[0] != '\0')
		json_object_object_add(dest, "Prefix", json_object_new_string(spec->prefix));
	if (spec->event_time)
	{
		json_object *dp = json_object_new_object();
		json_object *pc = json_object_new_object();
		json_object *processors = json_object_new_array();
		json_object *extraction = json_object_new_object();
		json_object *params = json_object_new_array();
		json_object *param;

		json_object_object_add(dest, "ErrorOutputPrefix",
							   json_object_new_string(psprintf("%s%s", spec->location->prefix,
															   EVENT_TIME_ERROR_PREFIX)));
		json_object_object_add(dp, "Enabled", json_object_new_boolean(true));
		json_object_object_add(dest, "DynamicPartitioningConfiguration", dp);
		param = json_object_new_object();
		json_object_object_add(param, "ParameterName",
							   json_object_new_string("MetadataExtractionQuery"));
		json_object_object_add(param, "ParameterValue",
							   json_object_new_string(extraction_query(spec)));
		json_object_array_add(params, param);
		param = json_object_new_object();
		json_object_object_add(param, "ParameterName", json_object_new_string("JsonParsingEngine"));
		json_object_object_add(param, "ParameterValue", json_object_new_string("JQ-1.6"));
		json_object_array_add(params, param);
		json_object_object_add(extraction, "Type", json_object_new_string("MetadataExtraction"));
		json_object_object_add(extraction, "Parameters", params);
		json_object_array_add(processors, extraction);
		json_object_object_add(pc, "Enabled", json_object_new_boolean(true));
		json_object_object_add(pc, "Processors", processors);
		json_object_object_add(dest, "ProcessingConfiguration", pc);
	}
	json_object_object_add(hints, "SizeInMBs", json_object_new_int(spec->buffer_mb));
	json_object_object_add(hints, "IntervalInSeconds", json_object_new_int(spec->buffer_seconds));
	json_object_object_add(dest, "BufferingHints", hints);
	json_object_object_add(dest, "CompressionFormat", json_object_new_string("UNCOMPRESSED"));
	json_object_object_add(request, "ExtendedS3DestinationConfiguration", dest);
	return request;
}

static const char *
stream_status(json_object *description)
{
	const char *status = aws_json_str(description, "DeliveryStreamStatus");

	return status ? status : "";
}

static void
report_difference(const DeliveryStreamSpec *spec, const char *what,
				  const char *existing, const char *wanted)
{
	ereport(ERROR,
			(errcode(ERRCODE_DUPLICATE_OBJECT),
			 errmsg("delivery stream \"%s\" already exists with another definition",
					spec->name),
			 errdetail("Its %s is %s, not %s.", what,
					   existing ? provision_clip(existing) : "not set", wanted),
			 errhint("Choose another name, call create_delivery_stream with the arguments that created it, or delete the stream (aws firehose delete-delivery-stream --delivery-stream-name %s) and call create_delivery_stream again.",
					 spec->name)));
}

/* A stream that failed or is going away is reported as it is. */
static void
check_not_failed(const DeliveryStreamSpec *spec, json_object *description)
{
	const char *status = stream_status(description);

	if (strcmp(status, "ACTIVE") == 0 || strcmp(status, "CREATING") == 0)
		return;
	{
		const char *reason = aws_json_path_str(description, "FailureDescription.Details");

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("delivery stream \"%s\" is %s", spec->name, provision_clip(status)),
				 reason ? errdetail_internal("Firehose reports: %s", provision_clip(reason)) : 0,
				 strncmp(status, "DELETING", 8) == 0 ?
				 errhint("Wait until the deletion completes, then call create_delivery_stream again.") :
				 errhint("Delete the stream and call create_delivery_stream again; check that the role may write to the bucket.")));
	}
}

/* Compares what decides where and how records are delivered. */
static void
compare_stream(const DeliveryStreamSpec *spec, json_object *description)
{
	DeliveryStreamView view;
	const char *have;

	aws_read_delivery_stream(description, &view);
	if (view.type && strcmp(view.type, "DirectPut") != 0)
		report_difference(spec, "source", view.type, "DirectPut (records put by the pump)");
	if (!view.s3)
		report_difference(spec, "destination", "not S3", quote_literal_cstr(spec->location->uri));

	if (view.bucket_arn == NULL || strcmp(view.bucket_arn, spec->bucket_arn) != 0)
		report_difference(spec, "bucket",
						  view.bucket_arn ? quote_literal_cstr(view.bucket_arn) : NULL,
						  quote_literal_cstr(spec->bucket_arn));
	/* the prefix tells the layouts apart: event_time's routes by query */
	have = view.prefix ? view.prefix : "";
	if (strcmp(have, spec->prefix) != 0)
		report_difference(spec, "prefix", quote_literal_cstr(have),
						  quote_literal_cstr(spec->prefix));
	/* the key buckets' digits and attribute are in the extraction query */
	if (spec->event_time)
	{
		const char *want = extraction_query(spec);

		have = view.extraction_query ? view.extraction_query : "";
		if (strcmp(have, want) != 0)
			report_difference(spec, "extraction query", quote_literal_cstr(have),
							  quote_literal_cstr(want));
	}
	if (view.role_arn == NULL || strcmp(view.role_arn, spec->role_arn) != 0)
		report_difference(spec, "role", view.role_arn ? quote_literal_cstr(view.role_arn) : NULL,
						  quote_literal_cstr(spec->role_arn));
	have = view.compression ? view.compression : "UNCOMPRESSED";
	if (strcmp(have, "UNCOMPRESSED") != 0)
		report_difference(spec, "compression", have, "UNCOMPRESSED");
	if (view.has_hints)
	{
		if (view.interval_seconds != spec->buffer_seconds)
			report_difference(spec, "buffering interval",
							  psprintf(INT64_FORMAT " seconds", view.interval_seconds),
							  psprintf("%d seconds", spec->buffer_seconds));
		if (view.size_mb != spec->buffer_mb)
			report_difference(spec, "buffering size", psprintf(INT64_FORMAT " MiB", view.size_mb),
							  psprintf("%d MiB", spec->buffer_mb));
	}
}

/*
 * Polls DescribeDeliveryStream until the stream is ACTIVE: Firehose takes
 * a while to create one, and the pump's first PutRecordBatch should not
 * meet a stream that is not ready.  The wait is interruptible.
 */
static void
wait_until_active(AwsClient *client, const DeliveryStreamSpec *spec)
{
	long		waited_ms = 0;
	long		delay_ms = 100;

	for (;;)
	{
		json_object *description = firehose_describe_delivery_stream(client, spec->name);

		if (description == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("delivery stream \"%s\" disappeared while being created", spec->name),
					 errhint("Someone deleted it; call create_delivery_stream again.")));
		check_not_failed(spec, description);
		if (strcmp(stream_status(description), "ACTIVE") == 0)
			return;
		if (waited_ms >= ACTIVE_WAIT_MAX_MS)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("delivery stream \"%s\" is still %s after %ld seconds",
							spec->name, stream_status(description), waited_ms / 1000),
					 errhint("Call create_delivery_stream again later, or with wait => false.")));

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 delay_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		waited_ms += delay_ms;
		delay_ms = Min(delay_ms * 2, 5000);
	}
}
