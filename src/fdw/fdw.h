/*-------------------------------------------------------------------------
 *
 * fdw.h
 *		Declarations shared by the parts of the audit_fdw foreign data
 *		wrapper over Athena: options, shippability, deparsing, types, the
 *		CSV reader's backend glue, scans, IMPORT FOREIGN SCHEMA and the
 *		query log.
 *
 * The planner state of a foreign relation is AuditFdwRelationInfo (the
 * counterpart of postgres_fdw's PgFdwRelationInfo): it is filled by
 * auditGetForeignRelSize, extended by path generation and read by the
 * deparser.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_FDW_H
#define AUDIT_FDW_FDW_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

struct AwsClient;

/* How the rows of a finished query are fetched. */
typedef enum AuditFdwTransport
{
	AUDIT_TRANSPORT_CSV,		/* stream the result object from S3 */
	AUDIT_TRANSPORT_API			/* page through GetQueryResults */
} AuditFdwTransport;

/*
 * Options of one foreign table, merged from its server and its own options
 * (table options win).  Strings are palloc'd in the caller's context.
 */
typedef struct AuditFdwOptions
{
	Oid			serverid;
	char	   *server_name;
	char	   *region;
	char	   *endpoint;
	char	   *catalog;
	char	   *database;
	char	   *table;			/* NULL for a server-level use */
	char	   *workgroup;
	char	   *output_location;
	int			result_reuse_minutes;	/* 0 = no reuse */
	AuditFdwTransport transport;
	int			poll_initial_ms;
	int			poll_max_ms;
	double		fdw_startup_cost;
	double		fdw_tuple_cost;
	double		price_per_tb;	/* US dollars per TiB scanned */
	double		estimated_rows; /* planner's guess of the table's rows */
	double		estimated_bytes;	/* bytes Athena reads for a full scan;
									 * 0 = unknown */

	/*
	 * Partition pruning from event time (see partition.c): the column of the
	 * event's time, the partition column holding the UTC time the record
	 * was delivered in partition_format, and the longest delivery delay
	 * (-1: not declared, so upper bounds do not prune).  A table whose
	 * partitions are the event's own time (partition_layout 'event_time')
	 * prunes on both bounds exactly: no delay, no skew.
	 */
	char	   *time_column;
	char	   *partition_column;
	char	   *partition_format;
	int64		max_delivery_delay_us;
	bool		event_time_partitions;

	/*
	 * Key buckets (see partition.c): the partition column of the bucket, the
	 * key attribute whose key_hash names it (keys.<bucket_key>), and how
	 * many of the hash's last hex digits make a bucket (0: no buckets).
	 */
	char	   *bucket_column;
	char	   *bucket_key;
	int			bucket_digits;

	/*
	 * Attribute folders (see partition.c): the partition column of the
	 * folder, the new image's top-level attribute that names it, and the
	 * declared values (String list; NIL: no attribute folders).  A record
	 * is in the folder of its value when that is a declared string, in
	 * _none when the new image has no value, and in _other otherwise.
	 */
	char	   *folder_column;
	char	   *folder_attribute;
	List	   *folder_values;
} AuditFdwOptions;

/*
 * The partition levels chosen by the value of one attribute of the record
 * (partition.c), under the time partitions, in the order of the folders.
 */
typedef enum AuditFdwLevelKind
{
	AUDIT_LEVEL_KEY_BUCKET,		/* a bucket of keys.<bucket_key>'s hash */
	AUDIT_LEVEL_ATTRIBUTE_FOLDER,	/* the folder of new_image.<attribute> */
	AUDIT_NUM_LEVELS
} AuditFdwLevelKind;

/* One such level of a table: where its values come from, how they map */
typedef struct AuditFdwLevel
{
	AuditFdwLevelKind kind;
	const char *column;			/* the partition column */
	const char *remote_name;	/* the record's member: keys, new_image */
	const char *attribute;		/* its attribute */
	int			digits;			/* key buckets: hex digits of the hash */
	List	   *declared;		/* attribute folders: declared values */
} AuditFdwLevel;

/* The reserved attribute folders */
#define AUDIT_FOLDER_OTHER	"_other"
#define AUDIT_FOLDER_NONE	"_none"

/* Per-column mapping: remote name and optional path into a struct. */
typedef struct AuditFdwColumn
{
	char	   *remote_name;
	List	   *path;			/* of String: field names, outermost first */
	char	   *glue_type;		/* declared Glue type (option glue_type), or NULL */
} AuditFdwColumn;

/*
 * Planner state of a foreign relation: a base relation, a join of foreign
 * tables computed in Athena, or an upper relation (grouping, DISTINCT,
 * ORDER BY, LIMIT) computed in Athena.
 */
typedef struct AuditFdwRelationInfo
{
	/* false when Athena cannot compute this relation (join, upper rel) */
	bool		pushdown_safe;

	AuditFdwOptions *options;
	Oid			userid;			/* user whose mapping the scan uses */
	Oid			relid;			/* a foreign table of the relation */

	/* quals, split into what Athena evaluates and what stays local */
	List	   *remote_conds;	/* RestrictInfos */
	List	   *local_conds;	/* RestrictInfos */
	/* timestamp quals shipped in a widened form and rechecked locally */
	List	   *widened_conds;	/* RestrictInfos, also in local_conds */
	/* partition pruning conditions (base relation): PartitionBound list */
	List	   *partition_bounds;
	/*
	 * per partition level (AuditFdwLevelKind): the folders the rows can be
	 * in (String list), NIL: any; and the values computed at executor start
	 * whose folders the rows are in (of Expr, each a value or an array)
	 */
	List	   *level_values[AUDIT_NUM_LEVELS];
	List	   *level_runtime[AUDIT_NUM_LEVELS];

	Bitmapset  *attrs_used;		/* columns fetched (targetlist + local quals) */

	/* estimates */
	double		rows;
	int			width;
	double		bytes;			/* bytes Athena reads */
	Cost		startup_cost;
	Cost		total_cost;
	Selectivity local_conds_sel;

	/* join relation */
	RelOptInfo *outerrel;
	RelOptInfo *innerrel;
	JoinType	jointype;
	List	   *joinclauses;	/* RestrictInfos of ON (outer joins) */

	/* upper relation */
	UpperRelationKind stage;
	List	   *grouped_tlist;	/* target list of a grouped relation */
	bool		is_distinct;	/* SELECT DISTINCT */
	/* DISTINCT ON: the first row of each partition by these keys, in order */
	List	   *distinct_on_keys;	/* of Expr: PARTITION BY */
	List	   *distinct_on_order;	/* of PathKey: the window's ORDER BY */

	/* the relations covered (upper relations: the input's) */
	Relids		scan_relids;

	/* the foreign tables read, for errors and the query log */
	char	   *relation_name;
	/* what the scan computes, for EXPLAIN of joins and upper relations */
	char	   *explain_name;
} AuditFdwRelationInfo;

/*
 * A bound on the event time that prunes partitions: the partition column's
 * value of "value" (plus the maximum delivery delay for upper bounds)
 * bounds the partition column.
 */
typedef struct AuditFdwPartitionBound
{
	Expr	   *value;			/* Const or runtime expression, timestamp(tz) */
	bool		is_upper;
} AuditFdwPartitionBound;

/* Athena's longest query text (StartQueryExecution's QueryString) */
#define ATHENA_MAX_QUERY_BYTES 262144
/* what one IN list may take of it before it is filtered locally instead */
#define ATHENA_LIST_BUDGET (ATHENA_MAX_QUERY_BYTES / 4)

/*
 * A value computed at executor start and sent to Athena as a literal: a
 * stable expression (now() - interval '7 days') or a query parameter.
 * Timestamps may be rounded to Athena's millisecond precision in the
 * direction that keeps the shipped condition a superset of the local one.
 */
typedef enum AuditFdwRounding
{
	AUDIT_ROUND_NONE,
	AUDIT_ROUND_FLOOR_MS,
	AUDIT_ROUND_CEIL_MS,
	/* the partition at or before the value less the clock skew allowance */
	AUDIT_ROUND_PARTITION_LOWER,
	/* the partition at or after the value plus the longest delivery delay */
	AUDIT_ROUND_PARTITION_UPPER,
	/* a text value that is a LIKE pattern: written with Athena's escapes */
	AUDIT_LIKE_PATTERN,
	/* a bigint that is a LIMIT count (NULL: no limit) or an OFFSET (NULL: 0) */
	AUDIT_LIMIT_COUNT,
	AUDIT_LIMIT_OFFSET,
	/* the key list of a batched join, set by its node before each query */
	AUDIT_BATCH_KEYS,
	/* and the key buckets of those keys */
	AUDIT_BATCH_BUCKETS,
	/* the key buckets of a value (or array) of a key with 1, 2 or 3 digits */
	AUDIT_KEY_BUCKETS_1,
	AUDIT_KEY_BUCKETS_2,
	AUDIT_KEY_BUCKETS_3,
	/* the attribute folders of a value (or array), the scan's table's */
	AUDIT_ATTRIBUTE_FOLDERS
} AuditFdwRounding;

#define AUDIT_IS_KEY_BUCKETS(r) ((r) >= AUDIT_KEY_BUCKETS_1 && (r) <= AUDIT_KEY_BUCKETS_3)
/* the level whose folders a runtime value selects, or -1 */
#define AUDIT_ROUNDING_LEVEL(r) (AUDIT_IS_KEY_BUCKETS(r) ? AUDIT_LEVEL_KEY_BUCKET : \
								 (r) == AUDIT_ATTRIBUTE_FOLDERS ? \
								 AUDIT_LEVEL_ATTRIBUTE_FOLDER : -1)

/* What a runtime partition bound needs (fdw_private item). */
typedef struct AuditFdwPartitioning
{
	char	   *format;			/* partition_format */
	int64		delay_us;		/* max_delivery_delay, -1 when none */
	int64		skew_us;		/* how much earlier than the event a partition
								 * may be: AUDIT_CLOCK_SKEW_US, or 0 for
								 * event-time partitions */
} AuditFdwPartitioning;

/* Delivery may precede the recorded event time by this much (clock skew) */
#define AUDIT_CLOCK_SKEW_US		(INT64CONST(5) * 60 * 1000000)

/*
 * Indexes of the items of a ForeignScan's fdw_private (as postgres_fdw's
 * FdwScanPrivateIndex).
 */
enum AuditFdwScanPrivateIndex
{
	/* List of String: the Athena SQL split around runtime literals */
	AuditFdwScanPrivateSqlParts,
	/* Integer list: rounding of each runtime literal (AuditFdwRounding) */
	AuditFdwScanPrivateRoundings,
	/* Integer list of attnums retrieved by the SELECT, in order */
	AuditFdwScanPrivateRetrievedAttrs,
	/* String: relation name for EXPLAIN */
	AuditFdwScanPrivateRelationName,
	/* List of String: partition format and delivery delay (us), or NIL */
	AuditFdwScanPrivatePartitioning,
	/* Integer: a foreign table of the scan (its options, for joins) */
	AuditFdwScanPrivateRelid,
	/* Integer (bool): the scan reads the whole table, no pruning */
	AuditFdwScanPrivateWholeTable,
	/* String: the join or aggregate computed, for EXPLAIN */
	AuditFdwScanPrivateRelations,
	/* List per foreign table: the folders it selects (budget.c) */
	AuditFdwScanPrivateFolders
};

/* The bytes a scan is estimated to read (budget.c). */
typedef struct AuditBudgetEstimate
{
	bool		computed;
	int64		bytes;
	int64		objects;
	int			folders;
	char	   *first_folder;	/* s3:// URIs, NULL when no folder */
	char	   *last_folder;
	bool		runtime_unapplied;	/* runtime bounds were not known */
} AuditBudgetEstimate;

/*
 * What a scan's values known at executor start select (scan.c writes it
 * while building its query; budget.c estimates from it).
 */
typedef struct AuditRuntimeSelection
{
	char	   *lower;			/* partition bounds, NULL: none */
	char	   *upper;
	/* per level: its runtime values were written, and the folders they
	 * have in common */
	bool		level_known[AUDIT_NUM_LEVELS];
	List	   *level_values[AUDIT_NUM_LEVELS];
} AuditRuntimeSelection;

/* in options.c */
extern AuditFdwOptions *audit_get_options(Oid foreigntableid, Oid serverid);
extern bool audit_column_reads_json(Oid relid, AttrNumber attnum, Oid typid);
extern AuditFdwColumn *audit_get_column(Oid relid, AttrNumber attnum,
										const char *attname);
extern const char *audit_transport_name(AuditFdwTransport transport);

/* in shippable.c */
extern bool audit_is_shippable_type(Oid type);
extern bool audit_is_code_point_collation(Oid collation);
extern bool audit_is_builtin(Oid objectId);
extern bool audit_is_unicode_case_collation(Oid collation);
extern bool audit_is_deterministic_collation(Oid collation);

/* in deparse.c */
extern void audit_classify_conditions(PlannerInfo *root, RelOptInfo *baserel,
									  List *input_conds, List **remote_conds,
									  List **local_conds,
									  List **widened_conds);
extern bool audit_is_foreign_expr(PlannerInfo *root, RelOptInfo *baserel,
								  Expr *expr);
extern bool audit_is_foreign_aggregate(PlannerInfo *root, RelOptInfo *rel,
									   Aggref *agg);
extern bool audit_is_avg_pair(Node *node);
extern bool audit_is_foreign_param(PlannerInfo *root, RelOptInfo *baserel,
								   Expr *expr, bool *widened);
extern bool audit_is_foreign_pathkey(PlannerInfo *root, RelOptInfo *baserel,
									 PathKey *pathkey);
extern Expr *audit_find_em_expr_for_rel(EquivalenceClass *ec,
										RelOptInfo *rel);
extern Expr *audit_find_em_expr_for_input_target(PlannerInfo *root,
												 EquivalenceClass *ec,
												 PathTarget *target);
extern Expr *audit_find_sort_expr(PlannerInfo *root, EquivalenceClass *ec,
								  RelOptInfo *input_rel);
extern List *audit_build_tlist_to_deparse(RelOptInfo *foreignrel);
extern Expr *audit_as_timestamptz(Expr *value);
extern void audit_deparse_select(PlannerInfo *root, RelOptInfo *rel,
								 List *tlist, List *remote_conds,
								 List *pathkeys, bool has_final_sort,
								 bool has_limit, List **sql_parts,
								 List **runtime_exprs, List **roundings,
								 List **retrieved_attrs,
								 AuditFdwPartitioning **partitioning);
extern bool audit_append_literal(StringInfo buf, Oid type, Datum value,
								 bool isnull, AuditFdwRounding rounding);
extern bool audit_partition_format_valid(const char *format);
extern void audit_partitioning_of(const AuditFdwOptions *options,
								  AuditFdwPartitioning *part);
extern void audit_append_partition_literal(StringInfo buf,
										   const AuditFdwPartitioning *part,
										   Timestamp ts, bool upper);
extern bool audit_is_batch_key(PlannerInfo *root, RelOptInfo *baserel,
							   Expr *clause, Expr *inner_arg, Expr *outer_arg,
							   Oid inputcollid);
extern Expr *audit_batch_keys_clause(Expr *inner_arg, Oid outer_type);
extern void audit_append_identifier(StringInfo buf, const char *ident);
extern void audit_append_string_literal(StringInfo buf, const char *str);
extern bool audit_enable_self_join_scan;
extern Var *audit_self_join_key(PlannerInfo *root, RelOptInfo *joinrel);

/* in partition.c */
extern void audit_partition_bounds(PlannerInfo *root, RelOptInfo *baserel,
								   AuditFdwOptions *options, List **bounds);
extern Selectivity audit_partition_fraction(List *bounds);
extern bool audit_level_of(const AuditFdwOptions *options, AuditFdwLevelKind kind,
						   AuditFdwLevel *level);
extern const char *audit_level_label(AuditFdwLevelKind kind);
extern List *audit_level_values(PlannerInfo *root, RelOptInfo *baserel,
								AuditFdwOptions *options, AuditFdwLevelKind kind);
extern bool audit_is_key_type(Oid type);
extern List *audit_level_values_of(const AuditFdwLevel *level, Datum value, Oid type,
								   bool isnull);
extern List *audit_key_buckets_of(Datum value, Oid type, bool isnull, int digits);
extern List *audit_level_runtime_values(PlannerInfo *root, RelOptInfo *baserel,
										List *clauses, AuditFdwLevelKind kind);
extern bool audit_levels_narrow(const AuditFdwRelationInfo *fpinfo);
extern int	audit_bucket_key_digits(PlannerInfo *root, RelOptInfo *baserel,
									Expr *expr);

/* in budget.c */
extern int	audit_max_bytes_scanned_mb;
extern int	audit_estimate_cache_ttl;
extern List *audit_folder_selection(PlannerInfo *root, Relids relids);
extern List *audit_folder_selection_union(List *folders);
extern char *audit_partition_literal_value(const char *literal);
extern int64 audit_byte_budget(List *folders, Oid serverid, Oid userid, const char **source);
extern void audit_estimate_scan(struct AwsClient *client, List *folders,
								const AuditRuntimeSelection *rt,
								AuditBudgetEstimate *est);
extern List *audit_folder_selection_levels(List *folders, AuditFdwLevelKind kind);
extern void audit_check_budget(const AuditBudgetEstimate *est, int64 budget,
							   const char *source);

/* in types.c */
typedef struct AuditFdwConverter AuditFdwConverter;
extern AuditFdwConverter *audit_converter_create(TupleDesc tupdesc,
												 List *retrieved_attrs,
												 const char *relname,
												 Oid relid);
extern void audit_converter_mark_json_columns(AuditFdwConverter *conv,
											  List *scan_tlist, List *range_table);
extern void audit_converter_mark_avg_pairs(AuditFdwConverter *conv,
										   List *scan_tlist);
extern void audit_converter_store(AuditFdwConverter *conv,
								  TupleTableSlot *slot, char **fields,
								  const bool *nulls, int nfields,
								  uint64 rownum);
extern const char *audit_glue_type_to_pg(const char *gluetype);

/* in scan.c */
extern void audit_scan_init(void);
extern struct AwsClient *audit_client_for(Oid serverid, Oid userid,
										  AuditFdwOptions *options);

/* in import.c */
extern List *auditImportForeignSchema(ImportForeignSchemaStmt *stmt,
									  Oid serverOid);

/* in fieldcase.c */
typedef struct AuditGlueType AuditGlueType;
extern AuditGlueType *audit_glue_type_parse(const char *type);
extern bool audit_glue_type_is_complex(const char *type);
extern Jsonb *audit_glue_type_recase(Jsonb *in, const AuditGlueType *type);

/* in querylog.c */
/* One row of the query log (audit_fdw.query_log_entries). */
typedef struct AuditQueryLogEntry
{
	TimestampTz logged_at;
	char	   *username;
	char	   *server;
	char	   *foreign_table;
	char	   *query_id;
	char	   *athena_sql;
	int64		bytes_scanned;
	int64		engine_ms;
	int64		queue_ms;
	double		cost_usd;
	char	   *transport;
	bool		reused;
	char	   *state;			/* SUCCEEDED, FAILED or CANCELLED */
	char	   *reason;			/* NULL when none */
} AuditQueryLogEntry;

extern void audit_query_log_init(void);
extern void audit_query_log_record(const AuditQueryLogEntry *entry);
extern void audit_query_log_record_failure(const AuditQueryLogEntry *entry);
extern void audit_query_log_at_end(bool commit, int nest_level);
extern void audit_query_log_forget_error(void);
extern const char *audit_query_log_last_error(void);
extern double audit_query_log_cost(const char *state, int64 bytes_scanned,
								   double price_per_tb);
extern PGDLLEXPORT void audit_fdw_query_log_writer_main(Datum arg);

/* in batchjoin.c */
extern void audit_batch_join_init(void);

/* in fdw.c */
extern bool audit_enable_pushdown;
extern bool audit_direct_conversion;
extern void fdw_init(void);
extern void audit_note_bytes_scanned(Oid relid, double bytes, bool whole_table);
extern bool audit_ec_member_matches_var(PlannerInfo *root, RelOptInfo *rel,
										EquivalenceClass *ec,
										EquivalenceMember *em, void *arg);
extern Path *audit_batch_inner_path(PlannerInfo *root, RelOptInfo *baserel,
									Expr *keys_clause);

#endif							/* AUDIT_FDW_FDW_H */
