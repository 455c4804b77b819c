/*-------------------------------------------------------------------------
 *
 * dynamodb.h
 *		Foreign tables over live DynamoDB tables: declarations shared by the
 *		planner (plan.c), the executor (exec.c), the attribute value
 *		conversions (convert.c), the table descriptions (table.c) and
 *		IMPORT FOREIGN SCHEMA (import.c).
 *
 * A foreign table of audit_fdw with the option dynamodb_table reads that
 * DynamoDB table through the same server and user mapping as the Athena
 * tables.  fdw.c hands such relations to the callbacks declared here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_DYNAMODB_H
#define AUDIT_FDW_DYNAMODB_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "commands/explain.h"
#include "foreign/fdwapi.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"

struct json_object;
struct AwsClient;

/* The call that reads a scan's items */
typedef enum DdbOperation
{
	DDB_SCAN,
	DDB_QUERY,
	DDB_GET_ITEM,
	DDB_BATCH_GET_ITEM
} DdbOperation;

/*
 * What a value sent in ExpressionAttributeValues (or a key) is: a DynamoDB
 * attribute value type, made from the SQL value at executor start.
 */
typedef enum DdbValueKind
{
	DDB_VALUE_S = 'S',
	DDB_VALUE_N = 'N',
	DDB_VALUE_B = 'B',
	DDB_VALUE_BOOL = 'O'
} DdbValueKind;

/*
 * A DynamoDB table as a foreign table sees it: from the table's options,
 * and from DescribeTable where the options do not say.
 */
typedef struct DdbTable
{
	Oid			serverid;
	Oid			userid;
	char	   *name;			/* dynamodb_table */
	char	   *partition_key;
	char		partition_key_type; /* 'S', 'N' or 'B'; 0 when unknown */
	char	   *sort_key;		/* NULL when the table has none */
	char		sort_key_type;
	double		item_count;		/* DescribeTable's ItemCount, or the option */
	double		size_bytes;		/* TableSizeBytes (0 unknown) */
	bool		consistent_read;
	int			scan_segments;	/* TotalSegments of a parallel Scan */
} DdbTable;

/* One column of a foreign table over DynamoDB */
typedef struct DdbColumn
{
	AttrNumber	attnum;
	char	   *attribute;		/* the attribute's name (column_name option) */
	bool		whole_item;		/* the whole item as jsonb (option whole_item) */
	Oid			typid;
	int32		typmod;
} DdbColumn;

/*
 * Indexes of a DynamoDB ForeignScan's fdw_private.  The first item marks
 * the plan as a DynamoDB one (fdw.c dispatches on it).
 */
enum DdbScanPrivateIndex
{
	DdbPrivateMarker,			/* String "dynamodb" */
	DdbPrivateOperation,		/* Integer: DdbOperation */
	DdbPrivateTable,			/* String: the DynamoDB table */
	DdbPrivateKeyCondition,		/* String: the partition key's ("" when none) */
	DdbPrivateSortCondition,	/* String: the sort key's ("" when none) */
	DdbPrivateFilter,			/* String ("" when none) */
	DdbPrivateProjection,		/* String ("" when none: every attribute) */
	DdbPrivateNames,			/* List of String: #n0's name, #n1's, ... */
	DdbPrivateValueKinds,		/* Integer list: DdbValueKind of each fdw_expr */
	DdbPrivateValueRoles,		/* Integer list: DdbValueRole of each fdw_expr */
	DdbPrivateConsistentRead,	/* Integer (bool) */
	DdbPrivateSegments,			/* Integer: TotalSegments, 1 = not parallel */
	DdbPrivateKeyNames			/* List of String: partition key, sort key */
};

/* What a value of fdw_exprs is for */
typedef enum DdbValueRole
{
	DDB_ROLE_KEY_CONDITION,		/* the partition key's value in a Query */
	DDB_ROLE_SORT_CONDITION,	/* a sort key condition's value in a Query */
	DDB_ROLE_FILTER,			/* a FilterExpression value */
	DDB_ROLE_PARTITION_KEY,		/* GetItem: the partition key's value */
	DDB_ROLE_PARTITION_KEYS,	/* BatchGetItem: an array of them */
	DDB_ROLE_SORT_KEY			/* GetItem/BatchGetItem: the sort key's */
} DdbValueRole;

/* in table.c */
extern bool ddb_is_foreign_table(Oid relid);
extern bool ddb_relids_include(PlannerInfo *root, Relids relids);
extern DdbTable *ddb_table_for(Oid relid, Oid userid, bool describe);
extern DdbTable *ddb_describe(struct AwsClient *client, const char *name);
extern List *ddb_columns(Relation rel);
extern struct json_object *ddb_call(struct AwsClient *client, const char *operation,
									const char *request);
extern void ddb_append_json_string(StringInfo buf, const char *s);

/* in plan.c */
extern void ddbGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
								 Oid foreigntableid);
extern void ddbGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
							   Oid foreigntableid);
extern ForeignScan *ddbGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
									  Oid foreigntableid, ForeignPath *best_path,
									  List *tlist, List *scan_clauses,
									  Plan *outer_plan);
extern void ddbExplainForeignScan(ForeignScanState *node, ExplainState *es);
extern bool ddb_is_scan_plan(ForeignScan *plan);
extern const char *ddb_operation_name(DdbOperation op);
extern Expr *ddb_batch_keys_clause(PlannerInfo *root, RelOptInfo *baserel,
								   OpExpr *op, bool outer_is_left);
extern Path *ddb_batch_inner_path(PlannerInfo *root, RelOptInfo *baserel,
								  Expr *keys_clause, double keys);

/* in exec.c */
extern void ddbBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *ddbIterateForeignScan(ForeignScanState *node);
extern void ddbReScanForeignScan(ForeignScanState *node);
extern void ddb_scan_set_batch_keys(ForeignScanState *node, Datum keys);
extern void ddbEndForeignScan(ForeignScanState *node);
extern void ddb_explain_analyze(ForeignScanState *node, ExplainState *es);
extern void ddbShutdownForeignScan(ForeignScanState *node);
extern Size ddbEstimateDSMForeignScan(ForeignScanState *node,
									  ParallelContext *pcxt);
extern void ddbInitializeDSMForeignScan(ForeignScanState *node,
										ParallelContext *pcxt, void *coordinate);
extern void ddbReInitializeDSMForeignScan(ForeignScanState *node,
										  ParallelContext *pcxt, void *coordinate);
extern void ddbInitializeWorkerForeignScan(ForeignScanState *node,
										   shm_toc *toc, void *coordinate);
extern void ddb_modify_refused(Relation rel) pg_attribute_noreturn();

/* in convert.c */
typedef struct DdbConverter DdbConverter;
extern DdbConverter *ddb_converter_create(List *columns, TupleDesc tupdesc,
										  const char *relname);
extern void ddb_store_item(DdbConverter *conv, struct json_object *item,
						   TupleTableSlot *slot);
extern bool ddb_append_value(StringInfo buf, DdbValueKind kind, Oid typid,
							 Datum value);
extern DdbValueKind ddb_value_kind_of_type(Oid typid);

/* in import.c: IMPORT FOREIGN SCHEMA of this remote schema lists DynamoDB tables */
#define DDB_IMPORT_SCHEMA "DynamoDB"

extern List *ddbImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid);

#endif							/* AUDIT_FDW_DYNAMODB_H */
