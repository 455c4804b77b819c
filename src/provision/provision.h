/*-------------------------------------------------------------------------
 *
 * provision.h
 *		Creating a pipeline's AWS resources from SQL: the Glue table of its
 *		audit records (create_audit_table) and the Firehose delivery stream
 *		that writes them (create_delivery_stream).
 *
 * Both functions are idempotent: an existing resource with the same
 * definition is left alone, one with another definition is an error that
 * says what differs.  They act with the caller's own credentials (the user
 * mapping of the named server) and need USAGE on the server.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_PROVISION_H
#define AUDIT_FDW_PROVISION_H

#include "postgres.h"

/*
 * PostgreSQL's SQL function json_object() (fmgrprotos.h, from builtins.h)
 * and json-c's type share a name: declare the former under another name
 * before json-c is seen.
 */
#define json_object pg_json_object_fn
#include "utils/builtins.h"
#undef json_object

#include <json-c/json.h>

#include "aws/athena.h"
#include "aws/aws.h"
#include "foreign/foreign.h"

/* An S3 location split into its parts; prefix ends with "/" or is "". */
typedef struct S3Location
{
	char	   *bucket;
	char	   *prefix;
	char	   *uri;			/* normalized: s3://bucket/prefix */
} S3Location;

/* in provision.c */
extern ForeignServer *provision_server(const char *servername);
extern AwsClient *provision_client(ForeignServer *server);
extern char *provision_server_option(ForeignServer *server, const char *name);
extern S3Location *provision_parse_location(const char *argname, const char *location);
extern json_object *provision_json_owned(json_object *obj);
extern const char *provision_clip(const char *text);
extern bool provision_layout_arg(FunctionCallInfo fcinfo, int argno);
extern int	provision_key_buckets_arg(FunctionCallInfo fcinfo, int argno, bool event_time);

extern char *provision_folder_attribute_arg(FunctionCallInfo fcinfo, int argno, bool event_time,
											bool layout_needed);
extern List *provision_folder_values_arg(FunctionCallInfo fcinfo, int argno,
										 const char *attribute);

/* Attribute folders: the attribute's name, the declared values (README) */
#define PROVISION_FOLDER_ATTRIBUTE_MAX 255
#define PROVISION_FOLDER_VALUES_MAX 64
#define PROVISION_FOLDER_VALUE_MAX 100
/* The partition column of attribute folders, and the member the pump writes */
#define PROVISION_FOLDER_COLUMN "attribute_folder"

/* The partition column of key buckets, and its folder under the hour */
#define PROVISION_BUCKET_COLUMN "key_bucket"
extern char *provision_text_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
								bool required);

#endif							/* AUDIT_FDW_PROVISION_H */
