/*-------------------------------------------------------------------------
 *
 * athena.h
 *		Clients of Athena (query execution and results) and of the Glue
 *		catalog (tables), over the AWS client core (aws.h).
 *
 * Every call raises an ERROR with the AWS error on failure, except
 * athena_stop_query_quietly, which is meant for cleanup paths.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_ATHENA_H
#define AUDIT_FDW_ATHENA_H

#include "aws/aws.h"

typedef enum AthenaQueryState
{
	ATHENA_QUEUED,
	ATHENA_RUNNING,
	ATHENA_SUCCEEDED,
	ATHENA_FAILED,
	ATHENA_CANCELLED
} AthenaQueryState;

typedef struct AthenaQueryParams
{
	const char *sql;
	const char *client_request_token;	/* 32..128 characters */
	const char *catalog;
	const char *database;
	const char *workgroup;
	const char *output_location;	/* NULL: the workgroup's */
	int			result_reuse_minutes;	/* 0: no reuse */
} AthenaQueryParams;

typedef struct AthenaQueryStatus
{
	AthenaQueryState state;
	char	   *state_change_reason;	/* NULL when none */
	char	   *error_type;		/* AthenaError.ErrorType etc., NULL when none */
	char	   *output_location;	/* s3://.../<id>.csv */
	int64		data_scanned_bytes;
	int64		engine_ms;
	int64		queue_ms;
	int64		total_ms;
	bool		reused;			/* a previous result was reused */
} AthenaQueryStatus;

/* A page of GetQueryResults: rows of text values (NULL for SQL NULL). */
typedef struct AthenaResultPage
{
	int			nrows;
	int			ncols;
	char	 ***rows;			/* rows[i][j] */
	char	   *next_token;		/* NULL on the last page */
} AthenaResultPage;

typedef struct AthenaTableColumn
{
	char	   *name;
	char	   *type;			/* Glue (Hive) type string */
	bool		partition_key;
} AthenaTableColumn;

typedef struct GlueTable
{
	char	   *name;
	List	   *columns;		/* of AthenaTableColumn * */
	List	   *parameters;		/* of DefElem *: the table's Parameters */
} GlueTable;

/* in athena.c */
extern char *athena_start_query(AwsClient *client, const AthenaQueryParams *params);
extern void athena_get_query(AwsClient *client, const char *query_id,
							 AthenaQueryStatus *status);
extern void athena_stop_query(AwsClient *client, const char *query_id);
extern bool athena_stop_query_quietly(AwsClient *client, const char *query_id);
extern AthenaResultPage *athena_get_results(AwsClient *client,
											const char *query_id,
											const char *next_token,
											int max_results);
extern const char *athena_state_name(AthenaQueryState state);
extern int64 athena_workgroup_cutoff(AwsClient *client, const char *workgroup);

/* in glue.c */
extern List *glue_get_tables(AwsClient *client, const char *catalog_id,
							 const char *database);
extern bool glue_database_exists(AwsClient *client, const char *database);
extern bool glue_create_database(AwsClient *client, const char *database,
								 const char *description);
extern struct json_object *glue_get_table(AwsClient *client, const char *database,
										  const char *table);
extern bool glue_create_table(AwsClient *client, const char *database,
							  struct json_object *table_input);

#endif							/* AUDIT_FDW_ATHENA_H */
