/*-------------------------------------------------------------------------
 *
 * fdw.c
 *		The audit_fdw foreign data wrapper: handler, planner callbacks and
 *		EXPLAIN.  The executor callbacks are in scan.c, IMPORT FOREIGN
 *		SCHEMA in import.c.
 *
 * Planning follows postgres_fdw.  GetForeignRelSize classifies the
 * relation's conditions (deparse.c), derives partition pruning conditions
 * (partition.c) and estimates; GetForeignPaths offers the plain scan, a
 * scan sorted by the query's ORDER BY where Athena sorts as PostgreSQL
 * does, and parameterized scans for joins with local tables (the outer
 * values are sent as literals, one Athena query per distinct set of
 * values).  GetForeignJoinPaths computes joins of foreign tables of one
 * server and user mapping in Athena; GetForeignUpperPaths computes
 * grouping and aggregates, DISTINCT, ORDER BY and LIMIT/OFFSET there.
 * LIMIT is sent only when every condition went to Athena.
 *
 * The cost model: every Athena query pays a large startup (queueing and
 * planning take seconds; fdw_startup_cost), plus a cost per byte scanned
 * (estimated_bytes, or the bytes earlier queries of this backend scanned
 * on the table, narrowed by partition pruning), and everything Athena
 * computes is done before its first row arrives; then each row costs
 * fdw_tuple_cost to transfer.  So one query computing a join or an
 * aggregate is cheaper than two queries or many rows, and a parameterized
 * scan pays the startup once per outer row: the planner picks it only for
 * a few outer rows.  A batched join (batchjoin.c) pays it once per batch
 * of outer rows, whose keys go as one IN list.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "access/table.h"
#include "commands/explain.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "parser/parsetree.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"

#include "compat.h"
#include "dynamodb/dynamodb.h"
#include "fdw/fdw.h"
#include "fdw/scan.h"

/* Sorting in Athena makes each row a little more expensive to produce */
#define SORT_COST_MULTIPLIER 1.05
/* An audit record's JSON line, when nothing better is known */
#define DEFAULT_BYTES_PER_ROW 400.0
/* Cost of scanning one MiB in Athena (a page is one unit) */
#define COST_PER_MIB 1.0

/* Indexes of a ForeignPath's fdw_private */
enum AuditFdwPathPrivateIndex
{
	AuditFdwPathPrivateHasFinalSort,	/* Integer (bool) */
	AuditFdwPathPrivateHasLimit,	/* Integer (bool) */
	/* Expr, the inner scan of a batched join only: the keys' condition */
	AuditFdwPathPrivateBatchKeys
};

PG_FUNCTION_INFO_V1(audit_fdw_handler);

/* GUC: audit_fdw.enable_pushdown */
bool		audit_enable_pushdown = true;

/* GUC: audit_fdw.direct_conversion (types.c) */
bool		audit_direct_conversion = true;

/* Bytes scanned by the largest query of this backend per foreign table */
static HTAB *scanned_bytes = NULL;

typedef struct ScannedBytesEntry
{
	Oid			relid;
	double		bytes;
} ScannedBytesEntry;

static void auditGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
								   Oid foreigntableid);
static void auditGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
								 Oid foreigntableid);
static ForeignScan *auditGetForeignPlan(PlannerInfo *root, RelOptInfo *foreignrel,
										Oid foreigntableid,
										ForeignPath *best_path, List *tlist,
										List *scan_clauses, Plan *outer_plan);
static void auditGetForeignJoinPaths(PlannerInfo *root, RelOptInfo *joinrel,
									 RelOptInfo *outerrel, RelOptInfo *innerrel,
									 JoinType jointype,
									 JoinPathExtraData *extra);
static void auditGetForeignUpperPaths(PlannerInfo *root,
									  UpperRelationKind stage,
									  RelOptInfo *input_rel,
									  RelOptInfo *output_rel, void *extra);
static void auditExplainForeignScan(ForeignScanState *node, ExplainState *es);
static TupleTableSlot *iterateForeignScan(ForeignScanState *node);
static void reScanForeignScan(ForeignScanState *node);
static void endForeignScan(ForeignScanState *node);
static List *importForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid);
static void shutdownForeignScan(ForeignScanState *node);
static List *planForeignModify(PlannerInfo *root, ModifyTable *plan,
							   Index resultRelation, int subplan_index);
static bool isForeignScanParallelSafe(PlannerInfo *root, RelOptInfo *rel,
									  RangeTblEntry *rte);

static void estimate_base_costs(PlannerInfo *root, AuditFdwRelationInfo *fpinfo,
								RelOptInfo *baserel);
static double table_bytes(Oid relid, AuditFdwOptions *options);
static List *fdw_path_private(bool has_final_sort, bool has_limit);
static void add_param_paths(PlannerInfo *root, RelOptInfo *baserel);
static bool foreign_join_ok(PlannerInfo *root, RelOptInfo *joinrel,
							JoinType jointype, RelOptInfo *outerrel,
							RelOptInfo *innerrel, JoinPathExtraData *extra);
static void add_grouping_paths(PlannerInfo *root, RelOptInfo *input_rel,
							   RelOptInfo *grouped_rel,
							   GroupPathExtraData *extra);
static void add_distinct_paths(PlannerInfo *root, RelOptInfo *input_rel,
							   RelOptInfo *distinct_rel);
static void add_ordered_paths(PlannerInfo *root, RelOptInfo *input_rel,
							  RelOptInfo *ordered_rel);
static void add_final_paths(PlannerInfo *root, RelOptInfo *input_rel,
							RelOptInfo *final_rel);
static AuditFdwRelationInfo *new_upper_fpinfo(RelOptInfo *input_rel,
											  UpperRelationKind stage);
static bool is_groupable_expr(PlannerInfo *root, RelOptInfo *rel, Expr *expr);
static bool query_pathkeys_ok(PlannerInfo *root, RelOptInfo *rel, List *pathkeys);

/*
 * The handler: the FdwRoutine of audit_fdw.
 */
Datum
audit_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = auditGetForeignRelSize;
	routine->GetForeignPaths = auditGetForeignPaths;
	routine->GetForeignPlan = auditGetForeignPlan;
	routine->GetForeignJoinPaths = auditGetForeignJoinPaths;
	routine->GetForeignUpperPaths = auditGetForeignUpperPaths;
	routine->BeginForeignScan = audit_begin_foreign_scan;
	routine->IterateForeignScan = iterateForeignScan;
	routine->ReScanForeignScan = reScanForeignScan;
	routine->EndForeignScan = endForeignScan;
	routine->ExplainForeignScan = auditExplainForeignScan;
	routine->ImportForeignSchema = importForeignSchema;
	routine->PlanForeignModify = planForeignModify;
	/* parallel scans: DynamoDB tables only (Scan segments) */
	routine->IsForeignScanParallelSafe = isForeignScanParallelSafe;
	routine->EstimateDSMForeignScan = ddbEstimateDSMForeignScan;
	routine->InitializeDSMForeignScan = ddbInitializeDSMForeignScan;
	routine->ReInitializeDSMForeignScan = ddbReInitializeDSMForeignScan;
	routine->InitializeWorkerForeignScan = ddbInitializeWorkerForeignScan;
	routine->ShutdownForeignScan = shutdownForeignScan;

	PG_RETURN_POINTER(routine);
}

/*
 * The executor callbacks go to the DynamoDB scan (src/dynamodb/) for the
 * plans it made, to the Athena scan (scan.c) for the others.
 */
static bool
is_ddb_scan(ForeignScanState *node)
{
	return ddb_is_scan_plan((ForeignScan *) node->ss.ps.plan);
}

void
audit_begin_foreign_scan(ForeignScanState *node, int eflags)
{
	if (is_ddb_scan(node))
		ddbBeginForeignScan(node, eflags);
	else
		auditBeginForeignScan(node, eflags);
}

static TupleTableSlot *
iterateForeignScan(ForeignScanState *node)
{
	return is_ddb_scan(node) ? ddbIterateForeignScan(node)
		: auditIterateForeignScan(node);
}

static void
reScanForeignScan(ForeignScanState *node)
{
	if (is_ddb_scan(node))
		ddbReScanForeignScan(node);
	else
		auditReScanForeignScan(node);
}

static void
endForeignScan(ForeignScanState *node)
{
	if (is_ddb_scan(node))
		ddbEndForeignScan(node);
	else
		auditEndForeignScan(node);
}

static void
shutdownForeignScan(ForeignScanState *node)
{
	if (is_ddb_scan(node))
		ddbShutdownForeignScan(node);
}

/* IMPORT FOREIGN SCHEMA "DynamoDB" lists the account's DynamoDB tables. */
static List *
importForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	if (strcmp(stmt->remote_schema, DDB_IMPORT_SCHEMA) == 0)
		return ddbImportForeignSchema(stmt, serverOid);
	return auditImportForeignSchema(stmt, serverOid);
}

/*
 * Writes: a foreign table over DynamoDB says why it is read-only; the
 * Athena tables get PostgreSQL's own refusal.
 */
static List *
planForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
				  int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);

	if (ddb_is_foreign_table(rte->relid))
	{
		Relation	rel = table_open(rte->relid, NoLock);

		ddb_modify_refused(rel);
	}
	return NIL;
}

static bool
isForeignScanParallelSafe(PlannerInfo *root, RelOptInfo *rel, RangeTblEntry *rte)
{
	return ddb_is_foreign_table(rte->relid);
}

/*
 * The GUCs of the foreign data wrapper, and its executor's cleanup hooks.
 */
void
fdw_init(void)
{
	DefineCustomBoolVariable("audit_fdw.enable_pushdown",
							 "Sends conditions, joins, aggregates, sort order and LIMIT to Athena.",
							 "Turn off to compare, or to work around a pushdown problem: Athena then only reads the columns, and every condition, join, aggregate and sort runs locally.",
							 &audit_enable_pushdown,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("audit_fdw.direct_conversion",
							 "Reads plain values of the common types from Athena's text without their input functions.",
							 "bigint, integer, smallint, boolean, double precision, numeric, date, timestamp, timestamptz, text and varchar; the values and errors are the input functions' either way.  Turn off to compare.",
							 &audit_direct_conversion,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("audit_fdw.enable_self_join_scan",
							 "Reads an inner self-join of an audit table on an equal column in one Athena scan.",
							 "The join is computed per key over one scan of the table (array_agg and UNNEST), where Athena would read the table once per side.  Turn off to compare.",
							 &audit_enable_self_join_scan,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("audit_fdw.fetch_connections",
							"Connections over which a query result is read from S3 at once.",
							"A result object is read in ranged parts, this many at once, and its rows are read in order; 1 reads it as one stream.  Memory held per scan is at most this times audit_fdw.fetch_part_size.",
							&audit_fetch_connections,
							4, 1, 64,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("audit_fdw.fetch_part_size",
							"Size of each ranged part of a query result read from S3.",
							NULL,
							&audit_fetch_part_size_kb,
							8192, 8, 1024 * 1024,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("audit_fdw.max_bytes_scanned",
							"The most bytes one Athena query of the session may scan, as estimated before it starts.",
							"A query whose estimate (from S3 listings of the folders it selects) is larger is refused. 0: no limit from the session; the server, foreign table and user mapping option max_bytes_scanned also apply, the smallest wins.",
							&audit_max_bytes_scanned_mb,
							0, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("audit_fdw.estimate_cache_ttl",
							"How long the S3 listings and table locations of byte estimates are kept in the session.",
							NULL,
							&audit_estimate_cache_ttl,
							300, 0, 86400,
							PGC_USERSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	audit_scan_init();
	audit_query_log_init();
	audit_batch_join_init();
}

/*
 * Remember what a query on a foreign table scanned (scan.c calls this), as
 * the planner's estimate of the table's size when no estimated_bytes is
 * set.  Only queries without partition pruning measure the whole table.
 */
void
audit_note_bytes_scanned(Oid relid, double bytes, bool whole_table)
{
	ScannedBytesEntry *entry;
	bool		found;

	if (!whole_table || bytes <= 0)
		return;
	if (scanned_bytes == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(ScannedBytesEntry);
		scanned_bytes = hash_create("audit_fdw scanned bytes", 64, &ctl,
									HASH_ELEM | HASH_BLOBS);
	}
	entry = hash_search(scanned_bytes, &relid, HASH_ENTER, &found);
	if (!found || entry->bytes < bytes)
		entry->bytes = bytes;
}

/* The bytes a full scan of the table reads, best known. */
static double
table_bytes(Oid relid, AuditFdwOptions *options)
{
	if (options->estimated_bytes > 0)
		return options->estimated_bytes;
	if (scanned_bytes != NULL)
	{
		ScannedBytesEntry *entry = hash_search(scanned_bytes, &relid,
											   HASH_FIND, NULL);

		if (entry != NULL)
			return entry->bytes;
	}
	return options->estimated_rows * DEFAULT_BYTES_PER_ROW;
}

static void
auditGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
					   Oid foreigntableid)
{
	AuditFdwRelationInfo *fpinfo;
	ListCell   *lc;
	Selectivity sel;

	if (ddb_is_foreign_table(foreigntableid))
	{
		ddbGetForeignRelSize(root, baserel, foreigntableid);
		return;
	}
	fpinfo = palloc0(sizeof(AuditFdwRelationInfo));
	baserel->fdw_private = fpinfo;
	fpinfo->pushdown_safe = true;
	fpinfo->options = audit_get_options(foreigntableid, InvalidOid);
	fpinfo->userid = OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
	fpinfo->relid = foreigntableid;
	fpinfo->relation_name = psprintf("%s", get_rel_name(foreigntableid));
	fpinfo->explain_name = fpinfo->relation_name;
	fpinfo->scan_relids = baserel->relids;

	if (audit_enable_pushdown)
	{
		audit_classify_conditions(root, baserel, baserel->baserestrictinfo,
								  &fpinfo->remote_conds, &fpinfo->local_conds,
								  &fpinfo->widened_conds);
		audit_partition_bounds(root, baserel, fpinfo->options,
							   &fpinfo->partition_bounds);
		for (int k = 0; k < AUDIT_NUM_LEVELS; k++)
		{
			fpinfo->level_values[k] = audit_level_values(root, baserel, fpinfo->options, k);
			fpinfo->level_runtime[k] = audit_level_runtime_values(root, baserel,
																  baserel->baserestrictinfo,
																  k);
		}
	}
	else
	{
		fpinfo->local_conds = baserel->baserestrictinfo;
		fpinfo->pushdown_safe = false;
	}

	/* columns to fetch: what the query needs plus what local filters read */
	fpinfo->attrs_used = NULL;
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid,
				   &fpinfo->attrs_used);
	foreach(lc, fpinfo->local_conds)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		pull_varattnos((Node *) ri->clause, baserel->relid, &fpinfo->attrs_used);
	}

	fpinfo->local_conds_sel = clauselist_selectivity(root, fpinfo->local_conds,
													 baserel->relid, JOIN_INNER,
													 NULL);
	sel = clauselist_selectivity(root, baserel->baserestrictinfo,
								 baserel->relid, JOIN_INNER, NULL);
	baserel->rows = clamp_row_est(fpinfo->options->estimated_rows * sel);
	baserel->tuples = fpinfo->options->estimated_rows;
	fpinfo->rows = baserel->rows;
	fpinfo->width = baserel->reltarget->width;
	estimate_base_costs(root, fpinfo, baserel);
}

/*
 * The rows Athena returns for a scan or join whose local filters (of
 * selectivity local_sel) leave `rows`: the rows before those filters, and
 * never more than `most` (a table's estimated_rows, a join's cross product;
 * as postgres_fdw clamps its retrieved rows to the relation's tuples).
 * Filters the planner finds very selective (a NOT IN list of thousands of
 * values has a selectivity of 1e-40) would otherwise make the scan cost more
 * than any plan, and such a cost turns on JIT compilation of every
 * expression of the query.
 */
static double
remote_row_estimate(double rows, Selectivity local_sel, double most)
{
	double		remote_rows = rows;

	if (local_sel > 0)
		remote_rows = clamp_row_est(rows / local_sel);
	return Min(remote_rows, Max(rows, most));
}

/*
 * The share of a base relation's folders of one level its scan reads:
 * those of its constants, and those of each value known at executor start
 * among runtime (a key bucket, or an attribute's folder and _other; ten
 * values for an array, as PostgreSQL guesses ten elements for an array it
 * does not know).
 */
static double
level_share(AuditFdwRelationInfo *fpinfo, AuditFdwLevelKind kind, List *runtime)
{
	AuditFdwLevel level;
	double		all;
	double		per_value;
	double		selected;
	ListCell   *lc;

	if ((fpinfo->level_values[kind] == NIL && runtime == NIL) ||
		!audit_level_of(fpinfo->options, kind, &level))
		return 1.0;
	if (kind == AUDIT_LEVEL_KEY_BUCKET)
	{
		all = (double) (1 << (4 * level.digits));
		per_value = 1.0;
	}
	else
	{
		all = list_length(level.declared) + 2.0;
		per_value = 2.0;
	}
	selected = fpinfo->level_values[kind] != NIL ? list_length(fpinfo->level_values[kind]) : all;
	foreach(lc, runtime)
		selected = Min(selected, type_is_array(exprType(lfirst(lc)))
					   ? Min(10.0 * per_value, all) : per_value);
	return selected / all;
}

/* The share of all levels' folders, with extra runtime values per level */
static double
levels_share(AuditFdwRelationInfo *fpinfo, List **extra)
{
	double		share = 1.0;

	for (int k = 0; k < AUDIT_NUM_LEVELS; k++)
		share *= level_share(fpinfo, k,
							 extra ? list_concat_copy(fpinfo->level_runtime[k], extra[k])
							 : fpinfo->level_runtime[k]);
	return share;
}

/*
 * A base scan: the Athena startup and the bytes it reads, then a per-row
 * transfer cost, plus the local filters.
 */
static void
estimate_base_costs(PlannerInfo *root, AuditFdwRelationInfo *fpinfo,
					RelOptInfo *baserel)
{
	double		remote_rows = remote_row_estimate(fpinfo->rows, fpinfo->local_conds_sel,
													 fpinfo->options->estimated_rows);
	QualCost	local_cost;

	fpinfo->bytes = table_bytes(fpinfo->relid, fpinfo->options) *
		audit_partition_fraction(fpinfo->partition_bounds) *
		levels_share(fpinfo, NULL);
	cost_qual_eval(&local_cost, fpinfo->local_conds, root);
	fpinfo->startup_cost = fpinfo->options->fdw_startup_cost +
		fpinfo->bytes / (1024.0 * 1024.0) * COST_PER_MIB + local_cost.startup;
	fpinfo->total_cost = fpinfo->startup_cost +
		remote_rows * (fpinfo->options->fdw_tuple_cost + cpu_tuple_cost +
					   local_cost.per_tuple);
}

static List *
fdw_path_private(bool has_final_sort, bool has_limit)
{
	return list_make2(makeInteger(has_final_sort), makeInteger(has_limit));
}

/* True when Athena can sort rel's rows by every one of pathkeys. */
static bool
query_pathkeys_ok(PlannerInfo *root, RelOptInfo *rel, List *pathkeys)
{
	ListCell   *lc;

	if (pathkeys == NIL)
		return false;
	foreach(lc, pathkeys)
	{
		if (!audit_is_foreign_pathkey(root, rel, (PathKey *) lfirst(lc)))
			return false;
	}
	return true;
}

static void
auditGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
					 Oid foreigntableid)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) baserel->fdw_private;

	if (ddb_is_foreign_table(foreigntableid))
	{
		ddbGetForeignPaths(root, baserel, foreigntableid);
		return;
	}
	add_path(baserel, (Path *)
			 audit_create_foreignscan_path(root, baserel, NULL,
									 fpinfo->rows,
									 fpinfo->startup_cost,
									 fpinfo->total_cost,
									 NIL,
									 baserel->lateral_relids,
									 NULL,
									 fdw_path_private(false, false)));
	if (!audit_enable_pushdown)
		return;

	/*
	 * a scan sorted by the query's ORDER BY (or merge join keys).  Athena
	 * sorts every row before the first one arrives: the sort, n log n
	 * comparisons, is startup cost.  So the planner's rewrite of min() and
	 * max() into ORDER BY ... LIMIT 1 subqueries (planagg.c), whose LIMIT
	 * never reaches Athena (it plans them with query_planner alone, so no
	 * upper paths), costs a whole sorted query per aggregate and loses to
	 * one Athena aggregate; a LIMIT that ships (add_final_paths) costs no
	 * sort.  (postgres_fdw, too, charges a remote sort to startup as well
	 * as to run cost: DEFAULT_FDW_SORT_MULTIPLIER on both.)
	 */
	if (query_pathkeys_ok(root, baserel, root->query_pathkeys))
	{
		Cost		run = fpinfo->total_cost - fpinfo->startup_cost;
		Cost		sort = Max(run * (SORT_COST_MULTIPLIER - 1),
							   fpinfo->rows * cpu_operator_cost *
							   log2(Max(fpinfo->rows, 2.0)));

		add_path(baserel, (Path *)
				 audit_create_foreignscan_path(root, baserel, NULL,
										 fpinfo->rows,
										 fpinfo->startup_cost + sort,
										 fpinfo->startup_cost + sort + run,
										 root->query_pathkeys,
										 baserel->lateral_relids,
										 NULL,
										 fdw_path_private(false, false)));
	}

	add_param_paths(root, baserel);
}

/* Callback of generate_implied_equalities_for_column: em is the column. */
bool
audit_ec_member_matches_var(PlannerInfo *root, RelOptInfo *rel,
					  EquivalenceClass *ec, EquivalenceMember *em, void *arg)
{
	Var		   *var = (Var *) arg;
	Expr	   *e = em->em_expr;

	while (e && IsA(e, RelabelType))
		e = ((RelabelType *) e)->arg;
	return IsA(e, Var) && ((Var *) e)->varno == var->varno &&
		((Var *) e)->varattno == var->varattno &&
		((Var *) e)->varlevelsup == 0;
}

/*
 * Parameterized scans: a join clause with another relation's columns,
 * sent as literals per outer row.  Each loop is a new Athena query.
 */
static void
add_param_paths(PlannerInfo *root, RelOptInfo *baserel)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) baserel->fdw_private;
	List	   *ppi_list = NIL;
	ListCell   *lc;

	/* join clauses of the relation's own */
	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Relids		required_outer;
		ParamPathInfo *ppi;

		if (!join_clause_is_movable_to(ri, baserel))
			continue;
		if (!audit_is_foreign_param(root, baserel, ri->clause, NULL))
			continue;
		required_outer = bms_union(ri->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer))
			continue;
		ppi = get_baserel_parampathinfo(root, baserel, required_outer);
		ppi_list = list_append_unique_ptr(ppi_list, ppi);
	}

	/* equalities implied by equivalence classes (a.x = b.x = c.x) */
	if (baserel->has_eclass_joins)
	{
		int			member = -1;
		RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);

		while ((member = bms_next_member(fpinfo->attrs_used, member)) >= 0)
		{
			List	   *clauses;
			ListCell   *lc2;
			Var		   *var;
			AttrNumber	attno = member + FirstLowInvalidHeapAttributeNumber;

			if (attno <= 0)
				continue;
			var = makeVar(baserel->relid, attno,
						  get_atttype(rte->relid, attno), -1,
						  InvalidOid, 0);
			clauses = generate_implied_equalities_for_column(root, baserel,
															 audit_ec_member_matches_var,
															 var,
															 baserel->lateral_referencers);
			foreach(lc2, clauses)
			{
				RestrictInfo *ri = lfirst_node(RestrictInfo, lc2);
				Relids		required_outer;
				ParamPathInfo *ppi;

				if (!audit_is_foreign_param(root, baserel, ri->clause, NULL))
					continue;
				required_outer = bms_union(ri->clause_relids,
										   baserel->lateral_relids);
				required_outer = bms_del_member(required_outer, baserel->relid);
				if (bms_is_empty(required_outer))
					continue;
				ppi = get_baserel_parampathinfo(root, baserel, required_outer);
				ppi_list = list_append_unique_ptr(ppi_list, ppi);
			}
		}
	}

	foreach(lc, ppi_list)
	{
		ParamPathInfo *ppi = (ParamPathInfo *) lfirst(lc);
		double		rows = clamp_row_est(ppi->ppi_rows);
		double		remote_rows = remote_row_estimate(rows, fpinfo->local_conds_sel,
													 fpinfo->options->estimated_rows);
		Cost		startup = fpinfo->startup_cost;
		Cost		total;
		List	   *runtime[AUDIT_NUM_LEVELS];
		bool		any = false;

		for (int k = 0; k < AUDIT_NUM_LEVELS; k++)
		{
			runtime[k] = audit_level_runtime_values(root, baserel, ppi->ppi_clauses, k);
			any |= runtime[k] != NIL;
		}
		/*
		 * a join clause on a level's attribute (the bucket key): each loop
		 * reads its value's folders
		 */
		if (any)
		{
			double		bytes = fpinfo->bytes * levels_share(fpinfo, runtime) /
				levels_share(fpinfo, NULL);

			startup -= (fpinfo->bytes - bytes) / (1024.0 * 1024.0) * COST_PER_MIB;
		}
		total = startup +
			remote_rows * (fpinfo->options->fdw_tuple_cost + cpu_tuple_cost);

		add_path(baserel, (Path *)
				 audit_create_foreignscan_path(root, baserel, NULL, rows,
										 startup, total, NIL,
										 ppi->ppi_req_outer, NULL,
										 fdw_path_private(false, false)));
	}
}

/*
 * The inner side of a batched join (batchjoin.c): a scan of baserel
 * without parameters that also sends keys_clause (audit_batch_keys_clause),
 * costed as one query of the plain scan.
 */
Path *
audit_batch_inner_path(PlannerInfo *root, RelOptInfo *baserel,
					   Expr *keys_clause)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) baserel->fdw_private;
	List	   *fdw_private = fdw_path_private(false, false);

	fdw_private = lappend(fdw_private, keys_clause);
	return (Path *) audit_create_foreignscan_path(root, baserel, NULL,
												  fpinfo->rows,
												  fpinfo->startup_cost,
												  fpinfo->total_cost,
												  NIL, NULL, NULL,
												  fdw_private);
}

/* ------------------------------------------------------------------------
 * Joins
 * ------------------------------------------------------------------------
 */

/*
 * Can Athena compute this join?  Fills joinrel's AuditFdwRelationInfo.
 * The rules: one server and user mapping; inner, left, right or full; the
 * inner side a base relation (a chain of joins needs no parentheses); no
 * local condition on either side (they must filter before the join); a
 * full join only of unfiltered base relations; the join quals of an outer
 * join all shippable.
 */
static bool
foreign_join_ok(PlannerInfo *root, RelOptInfo *joinrel, JoinType jointype,
				RelOptInfo *outerrel, RelOptInfo *innerrel,
				JoinPathExtraData *extra)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) joinrel->fdw_private;
	AuditFdwRelationInfo *fpinfo_o = (AuditFdwRelationInfo *) outerrel->fdw_private;
	AuditFdwRelationInfo *fpinfo_i = (AuditFdwRelationInfo *) innerrel->fdw_private;
	ListCell   *lc;

	if (jointype != JOIN_INNER && jointype != JOIN_LEFT &&
		jointype != JOIN_RIGHT && jointype != JOIN_FULL &&
		jointype != JOIN_SEMI && jointype != JOIN_ANTI)
		return false;
	if (!fpinfo_o || !fpinfo_i || !fpinfo_o->pushdown_safe ||
		!fpinfo_i->pushdown_safe)
		return false;
	/* a semi- or anti-join (EXISTS) stays the last join of a chain */
	if (IS_JOIN_REL(outerrel) &&
		(fpinfo_o->jointype == JOIN_SEMI || fpinfo_o->jointype == JOIN_ANTI))
		return false;
	if (fpinfo_o->options->serverid != fpinfo_i->options->serverid ||
		fpinfo_o->userid != fpinfo_i->userid)
		return false;
	if (!IS_SIMPLE_REL(innerrel))
		return false;
	if (fpinfo_o->local_conds != NIL || fpinfo_i->local_conds != NIL)
		return false;
	if (jointype == JOIN_FULL &&
		(!IS_SIMPLE_REL(outerrel) ||
		 fpinfo_o->remote_conds != NIL || fpinfo_i->remote_conds != NIL ||
		 fpinfo_o->partition_bounds != NIL || fpinfo_i->partition_bounds != NIL ||
		 audit_levels_narrow(fpinfo_o) || audit_levels_narrow(fpinfo_i)))
		return false;

	/* placeholders computed at this join would need computing remotely */
	foreach(lc, root->placeholder_list)
	{
		PlaceHolderInfo *phinfo = lfirst(lc);

		if (bms_is_subset(phinfo->ph_eval_at, joinrel->relids) &&
			bms_nonempty_difference(joinrel->relids, phinfo->ph_eval_at))
			return false;
	}

	fpinfo->outerrel = outerrel;
	fpinfo->innerrel = innerrel;
	fpinfo->jointype = jointype;
	fpinfo->scan_relids = joinrel->relids;
	fpinfo->options = fpinfo_o->options;
	fpinfo->userid = fpinfo_o->userid;
	fpinfo->relid = fpinfo_o->relid;

	foreach(lc, extra->restrictlist)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		bool		is_remote = audit_is_foreign_expr(root, joinrel, ri->clause);

		/* a semi-join's quals all count as pushed down: those of the inner
		 * side go into its EXISTS */
		if ((IS_OUTER_JOIN(jointype) && !RINFO_IS_PUSHED_DOWN(ri, joinrel->relids)) ||
			(jointype == JOIN_SEMI && bms_overlap(ri->clause_relids, innerrel->relids)))
		{
			if (!is_remote)
				return false;
			/*
			 * [NOT] EXISTS (... WHERE inner = outer): correlated by
			 * equalities only, the form Trino decorrelates into a semi
			 * join; other correlations stay local.
			 */
			if ((jointype == JOIN_SEMI || jointype == JOIN_ANTI) &&
				bms_overlap(ri->clause_relids, outerrel->relids) &&
				!(ri->can_join && ri->mergeopfamilies != NIL))
				return false;
			fpinfo->joinclauses = lappend(fpinfo->joinclauses, ri);
		}
		else if (is_remote)
			fpinfo->remote_conds = lappend(fpinfo->remote_conds, ri);
		else
			fpinfo->local_conds = lappend(fpinfo->local_conds, ri);
	}

	fpinfo->pushdown_safe = true;
	fpinfo->relation_name = psprintf("%s, %s", fpinfo_o->relation_name,
									 fpinfo_i->relation_name);
	fpinfo->explain_name = psprintf("(%s) %s JOIN (%s)",
									 fpinfo_o->explain_name,
									 jointype == JOIN_INNER ? "INNER" :
									 jointype == JOIN_LEFT ? "LEFT" :
									 jointype == JOIN_RIGHT ? "RIGHT" :
									 jointype == JOIN_SEMI ? "SEMI" :
									 jointype == JOIN_ANTI ? "ANTI" : "FULL",
									 fpinfo_i->explain_name);
	return true;
}

static void
auditGetForeignJoinPaths(PlannerInfo *root, RelOptInfo *joinrel,
						 RelOptInfo *outerrel, RelOptInfo *innerrel,
						 JoinType jointype, JoinPathExtraData *extra)
{
	AuditFdwRelationInfo *fpinfo;
	AuditFdwRelationInfo *fpinfo_o;
	AuditFdwRelationInfo *fpinfo_i;
	ForeignPath *joinpath;
	QualCost	local_cost;
	double		rows;
	Cost		startup_cost,
				total_cost;

	if (!audit_enable_pushdown || joinrel->fdw_private)
		return;
	/* DynamoDB tables join locally */
	if (ddb_relids_include(root, joinrel->relids))
		return;
	/* a join that needs rows locked, or lateral references: local */
	if (root->parse->rowMarks != NIL || !bms_is_empty(joinrel->lateral_relids))
		return;

	fpinfo = palloc0(sizeof(AuditFdwRelationInfo));
	fpinfo->pushdown_safe = false;
	joinrel->fdw_private = fpinfo;
	if (!foreign_join_ok(root, joinrel, jointype, outerrel, innerrel, extra))
		return;

	fpinfo_o = (AuditFdwRelationInfo *) outerrel->fdw_private;
	fpinfo_i = (AuditFdwRelationInfo *) innerrel->fdw_private;

	/*
	 * One Athena query reads both sides and returns the joined rows: one
	 * startup, both sides' bytes, the join's rows.
	 */
	rows = joinrel->rows;
	fpinfo->rows = rows;
	fpinfo->width = joinrel->reltarget->width;
	fpinfo->bytes = fpinfo_o->bytes + fpinfo_i->bytes;
	/* a self-join read in one scan reads the folders of either side once */
	if (audit_self_join_key(root, joinrel) != NULL)
		fpinfo->bytes = Max(fpinfo_o->bytes, fpinfo_i->bytes);
	cost_qual_eval(&local_cost, fpinfo->local_conds, root);
	fpinfo->local_conds_sel = clauselist_selectivity(root, fpinfo->local_conds,
													 0, JOIN_INNER, NULL);
	startup_cost = fpinfo->options->fdw_startup_cost +
		fpinfo->bytes / (1024.0 * 1024.0) * COST_PER_MIB +
		(fpinfo_o->rows + fpinfo_i->rows) * cpu_operator_cost +
		local_cost.startup;
	total_cost = startup_cost +
		remote_row_estimate(rows, Max(fpinfo->local_conds_sel, 1e-10),
							fpinfo_o->rows * fpinfo_i->rows) *
		(fpinfo->options->fdw_tuple_cost + cpu_tuple_cost + local_cost.per_tuple);
	fpinfo->startup_cost = startup_cost;
	fpinfo->total_cost = total_cost;

	joinpath = audit_create_foreign_join_path(root, joinrel, NULL, rows,
										startup_cost, total_cost, NIL,
										joinrel->lateral_relids, NULL,
										fdw_path_private(false, false));
	add_path(joinrel, (Path *) joinpath);

	/* sorted by the query's ORDER BY */
	if (query_pathkeys_ok(root, joinrel, root->query_pathkeys))
		add_path(joinrel, (Path *)
				 audit_create_foreign_join_path(root, joinrel, NULL, rows,
										  startup_cost,
										  startup_cost + (total_cost - startup_cost) *
										  SORT_COST_MULTIPLIER,
										  root->query_pathkeys,
										  joinrel->lateral_relids, NULL,
										  fdw_path_private(false, false)));
}

/* ------------------------------------------------------------------------
 * Upper relations: grouping, DISTINCT, ORDER BY, LIMIT
 * ------------------------------------------------------------------------
 */

static AuditFdwRelationInfo *
new_upper_fpinfo(RelOptInfo *input_rel, UpperRelationKind stage)
{
	AuditFdwRelationInfo *ifpinfo = (AuditFdwRelationInfo *) input_rel->fdw_private;
	AuditFdwRelationInfo *fpinfo = palloc0(sizeof(AuditFdwRelationInfo));

	fpinfo->pushdown_safe = false;
	fpinfo->stage = stage;
	fpinfo->outerrel = input_rel;
	fpinfo->options = ifpinfo->options;
	fpinfo->userid = ifpinfo->userid;
	fpinfo->relid = ifpinfo->relid;
	fpinfo->scan_relids = ifpinfo->scan_relids;
	fpinfo->relation_name = ifpinfo->relation_name;
	fpinfo->explain_name = ifpinfo->explain_name;
	fpinfo->bytes = ifpinfo->bytes;
	return fpinfo;
}

static void
auditGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
						  RelOptInfo *input_rel, RelOptInfo *output_rel,
						  void *extra)
{
	AuditFdwRelationInfo *ifpinfo = (AuditFdwRelationInfo *) input_rel->fdw_private;

	if (!audit_enable_pushdown || ifpinfo == NULL)
		return;
	if (ddb_relids_include(root, input_rel->relids))
		return;
	if (!ifpinfo->pushdown_safe)
		return;
	if (output_rel->fdw_private != NULL)
		return;
	/* rows to lock, or set-returning functions: local */
	if (root->parse->rowMarks != NIL || root->parse->hasTargetSRFs)
		return;

	switch (stage)
	{
		case UPPERREL_GROUP_AGG:
			add_grouping_paths(root, input_rel, output_rel,
							   (GroupPathExtraData *) extra);
			break;
		case UPPERREL_DISTINCT:
			add_distinct_paths(root, input_rel, output_rel);
			break;
		case UPPERREL_ORDERED:
			add_ordered_paths(root, input_rel, output_rel);
			break;
		case UPPERREL_FINAL:
			add_final_paths(root, input_rel, output_rel);
			break;
		default:
			break;
	}
}

/*
 * An expression Athena may group or deduplicate by: evaluated exactly,
 * reading the scanned columns, with equality that is byte equality.
 */
static bool
is_groupable_expr(PlannerInfo *root, RelOptInfo *rel, Expr *expr)
{
	Oid			type = exprType((Node *) expr);

	if (!audit_is_shippable_type(type) || type == FLOAT4OID || type == FLOAT8OID)
		return false;
	if ((type == TEXTOID || type == VARCHAROID) &&
		!audit_is_deterministic_collation(exprCollation((Node *) expr)))
		return false;
	if (contain_agg_clause((Node *) expr))
		return false;
	if (!bms_overlap(pull_varnos(root, (Node *) expr),
					 ((AuditFdwRelationInfo *) rel->fdw_private)->scan_relids))
		return false;
	return audit_is_foreign_expr(root, rel, expr);
}

static void
add_grouping_paths(PlannerInfo *root, RelOptInfo *input_rel,
				   RelOptInfo *grouped_rel, GroupPathExtraData *extra)
{
	Query	   *query = root->parse;
	AuditFdwRelationInfo *ifpinfo = (AuditFdwRelationInfo *) input_rel->fdw_private;
	AuditFdwRelationInfo *fpinfo;
	PathTarget *target = grouped_rel->reltarget;
	List	   *tlist = NIL;
	ListCell   *lc;
	int			i = 0;
	double		input_rows = ifpinfo->rows;
	double		rows;
	Cost		startup_cost,
				total_cost;

	if (!query->hasAggs && query->groupClause == NIL)
		return;
	if (query->groupingSets != NIL ||
		extra->patype != PARTITIONWISE_AGGREGATE_NONE ||
		ifpinfo->local_conds != NIL || IS_UPPER_REL(input_rel))
		return;

	fpinfo = new_upper_fpinfo(input_rel, UPPERREL_GROUP_AGG);
	grouped_rel->fdw_private = fpinfo;

	foreach(lc, target->exprs)
	{
		Expr	   *expr = (Expr *) lfirst(lc);
		Index		sgref = get_pathtarget_sortgroupref(target, i);

		i++;
		if (sgref && get_sortgroupref_clause_noerr(sgref, query->groupClause))
		{
			TargetEntry *tle;

			if (!is_groupable_expr(root, grouped_rel, expr))
				return;
			tle = makeTargetEntry(expr, list_length(tlist) + 1, NULL, false);
			tle->ressortgroupref = sgref;
			tlist = lappend(tlist, tle);
		}
		else if (audit_is_foreign_expr(root, grouped_rel, expr) &&
				 contain_agg_clause((Node *) expr))
			tlist = add_to_flat_tlist(tlist, list_make1(expr));
		else
		{
			List	   *aggvars = pull_var_clause((Node *) expr,
												  PVC_INCLUDE_AGGREGATES);
			ListCell   *l;

			foreach(l, aggvars)
			{
				Expr	   *e = (Expr *) lfirst(l);

				/* a column outside the grouping keys or an aggregate: local */
				if (!IsA(e, Aggref) ||
					!audit_is_foreign_aggregate(root, grouped_rel, (Aggref *) e))
					return;
			}
			tlist = add_to_flat_tlist(tlist, aggvars);
		}
	}

	/* HAVING: all of it in Athena, or no grouping there */
	if (extra->havingQual)
	{
		foreach(lc, (List *) extra->havingQual)
		{
			Expr	   *expr = (Expr *) lfirst(lc);
			RestrictInfo *ri;

			if (!audit_is_foreign_expr(root, grouped_rel, expr))
				return;
			ri = make_restrictinfo(root, expr, true, false, false,
								   root->qual_security_level,
								   grouped_rel->relids, NULL, NULL);
			fpinfo->remote_conds = lappend(fpinfo->remote_conds, ri);
		}
	}

	fpinfo->grouped_tlist = tlist;
	fpinfo->pushdown_safe = true;
	fpinfo->explain_name = psprintf("Aggregate on (%s)", ifpinfo->explain_name);

	/* the groups Athena returns */
	if (query->groupClause != NIL)
		rows = estimate_num_groups(root,
								   get_sortgrouplist_exprs(query->groupClause,
														   query->targetList),
								   input_rows, NULL, NULL);
	else
		rows = 1;
	if (fpinfo->remote_conds)
		rows = clamp_row_est(rows * clauselist_selectivity(root, fpinfo->remote_conds,
															0, JOIN_INNER, NULL));
	fpinfo->rows = rows;
	startup_cost = ifpinfo->startup_cost + input_rows * cpu_operator_cost;
	total_cost = startup_cost +
		rows * (fpinfo->options->fdw_tuple_cost + cpu_tuple_cost);
	fpinfo->startup_cost = startup_cost;
	fpinfo->total_cost = total_cost;

	add_path(grouped_rel, (Path *)
			 audit_create_foreign_upper_path(root, grouped_rel, grouped_rel->reltarget,
									   rows, startup_cost, total_cost, NIL,
									   NULL, fdw_path_private(false, false)));
}

/*
 * Whether Athena gives DISTINCT ON's answer exactly.  Trino has no
 * DISTINCT ON; it ships as the first row of a row_number() window
 * partitioned by the DISTINCT ON keys and ordered by the rest of the ORDER
 * BY (the partitioned top-N form Trino plans as such: Presto's release
 * notes 0.110, "WHERE rn <= 5" over row_number() OVER (PARTITION BY ...)).  PostgreSQL keeps any one of the rows that tie on every sort key,
 * so this is exact only where each output column is a sort key (or a
 * DISTINCT ON key): then the tied rows give the same output.  One foreign
 * table (the window's columns are its own), every key sortable in Athena.
 */
static bool
distinct_on_is_exact(PlannerInfo *root, RelOptInfo *input_rel, PathTarget *target)
{
	ListCell   *lc;

	/* (keys equal to constants have no pathkey: all of them, one row) */
	if (!IS_SIMPLE_REL(input_rel) || root->sort_pathkeys == NIL ||
		root->distinct_pathkeys == NIL ||
		!query_pathkeys_ok(root, input_rel, root->sort_pathkeys))
		return false;
	foreach(lc, root->distinct_pathkeys)
	{
		PathKey    *pk = (PathKey *) lfirst(lc);
		Expr	   *key = audit_find_sort_expr(root, pk->pk_eclass, input_rel);

		if (key == NULL || !is_groupable_expr(root, input_rel, key))
			return false;
	}
	foreach(lc, target->exprs)
	{
		Expr	   *expr = (Expr *) lfirst(lc);
		ListCell   *pc;
		bool		found = false;

		foreach(pc, root->sort_pathkeys)
		{
			EquivalenceClass *ec = ((PathKey *) lfirst(pc))->pk_eclass;
			ListCell   *mc;

			foreach(mc, ec->ec_members)
			{
				EquivalenceMember *em = (EquivalenceMember *) lfirst(mc);

				if (equal(em->em_expr, expr))
					found = true;
			}
		}
		if (!found || !is_groupable_expr(root, input_rel, expr))
			return false;
	}
	return true;
}

/* DISTINCT ON's window: its partition keys and its order */
static void
distinct_on_window(PlannerInfo *root, RelOptInfo *input_rel,
				   AuditFdwRelationInfo *fpinfo)
{
	ListCell   *lc;

	foreach(lc, root->distinct_pathkeys)
	{
		PathKey    *pk = (PathKey *) lfirst(lc);

		fpinfo->distinct_on_keys =
			lappend(fpinfo->distinct_on_keys,
					audit_find_sort_expr(root, pk->pk_eclass, input_rel));
	}
	foreach(lc, root->sort_pathkeys)
	{
		PathKey    *pk = (PathKey *) lfirst(lc);

		if (!list_member_ptr(root->distinct_pathkeys, pk))
			fpinfo->distinct_on_order = lappend(fpinfo->distinct_on_order, pk);
	}
}

/*
 * SELECT DISTINCT of a scan or join: every output column a key.  SELECT
 * DISTINCT ON where exact (above).
 */
static void
add_distinct_paths(PlannerInfo *root, RelOptInfo *input_rel,
				   RelOptInfo *distinct_rel)
{
	Query	   *query = root->parse;
	AuditFdwRelationInfo *ifpinfo = (AuditFdwRelationInfo *) input_rel->fdw_private;
	AuditFdwRelationInfo *fpinfo;
	PathTarget *target = root->upper_targets[UPPERREL_DISTINCT];
	List	   *tlist = NIL;
	ListCell   *lc;
	int			i = 0;
	double		rows;
	Cost		startup_cost,
				total_cost;

	if (query->distinctClause == NIL ||
		IS_UPPER_REL(input_rel) || ifpinfo->local_conds != NIL ||
		query->hasAggs || query->groupClause != NIL || query->hasWindowFuncs)
		return;
	if (query->hasDistinctOn)
	{
		if (!distinct_on_is_exact(root, input_rel, target))
			return;
	}
	else if (list_length(query->distinctClause) != list_length(target->exprs))
		return;

	fpinfo = new_upper_fpinfo(input_rel, UPPERREL_DISTINCT);
	distinct_rel->fdw_private = fpinfo;
	if (query->hasDistinctOn)
		distinct_on_window(root, input_rel, fpinfo);

	foreach(lc, target->exprs)
	{
		Expr	   *expr = (Expr *) lfirst(lc);
		TargetEntry *tle;

		if (!is_groupable_expr(root, distinct_rel, expr))
			return;
		tle = makeTargetEntry(expr, ++i, NULL, false);
		tle->ressortgroupref = get_pathtarget_sortgroupref(target, i - 1);
		tlist = lappend(tlist, tle);
	}
	fpinfo->grouped_tlist = tlist;
	fpinfo->is_distinct = true;
	fpinfo->pushdown_safe = true;
	fpinfo->explain_name = psprintf("Distinct on (%s)", ifpinfo->explain_name);

	rows = estimate_num_groups(root,
							   get_sortgrouplist_exprs(query->distinctClause,
													   query->targetList),
							   ifpinfo->rows, NULL, NULL);
	fpinfo->rows = rows;
	startup_cost = ifpinfo->startup_cost + ifpinfo->rows * cpu_operator_cost;
	total_cost = startup_cost +
		rows * (fpinfo->options->fdw_tuple_cost + cpu_tuple_cost);
	fpinfo->startup_cost = startup_cost;
	fpinfo->total_cost = total_cost;

	add_path(distinct_rel, (Path *)
			 audit_create_foreign_upper_path(root, distinct_rel, target, rows,
									   startup_cost, total_cost, NIL, NULL,
									   fdw_path_private(false, false)));

}

/*
 * ORDER BY of a grouped or DISTINCT relation.  (Scans and joins offer
 * their sorted paths themselves: query_pathkeys is the ORDER BY then.)
 */
static void
add_ordered_paths(PlannerInfo *root, RelOptInfo *input_rel,
				  RelOptInfo *ordered_rel)
{
	AuditFdwRelationInfo *ifpinfo = (AuditFdwRelationInfo *) input_rel->fdw_private;
	AuditFdwRelationInfo *fpinfo;
	Cost		total_cost;

	if (root->parse->hasWindowFuncs)
		return;
	if (!IS_UPPER_REL(input_rel))
	{
		/* remembered for LIMIT, which looks for the sorted scan */
		fpinfo = new_upper_fpinfo(input_rel, UPPERREL_ORDERED);
		fpinfo->pushdown_safe = true;
		ordered_rel->fdw_private = fpinfo;
		return;
	}
	if (!query_pathkeys_ok(root, input_rel, root->sort_pathkeys))
		return;

	fpinfo = new_upper_fpinfo(input_rel, UPPERREL_ORDERED);
	fpinfo->pushdown_safe = true;
	fpinfo->rows = ifpinfo->rows;
	fpinfo->startup_cost = ifpinfo->startup_cost;
	fpinfo->total_cost = ifpinfo->startup_cost +
		(ifpinfo->total_cost - ifpinfo->startup_cost) * SORT_COST_MULTIPLIER;
	ordered_rel->fdw_private = fpinfo;
	total_cost = fpinfo->total_cost;

	add_path(ordered_rel, (Path *)
			 audit_create_foreign_upper_path(root, input_rel,
									   root->upper_targets[UPPERREL_ORDERED],
									   fpinfo->rows, fpinfo->startup_cost,
									   total_cost, root->sort_pathkeys, NULL,
									   fdw_path_private(true, false)));
}

/*
 * A LIMIT or OFFSET value that can be written into the Athena SQL: absent,
 * a constant, or a bigint expression of parameters and stable functions
 * (no column, no subquery), computed at executor start.
 */
static bool
limit_value_is_shippable(Node *value)
{
	if (value == NULL || IsA(value, Const))
		return true;
	return exprType(value) == INT8OID && !contain_var_clause(value) &&
		!contain_volatile_functions(value) && !contain_subplans(value) &&
		!contain_agg_clause(value) && !contain_window_function(value);
}

/*
 * LIMIT/OFFSET: only when Athena computes everything below it (no local
 * condition anywhere), with counts known by executor start.
 */
static void
add_final_paths(PlannerInfo *root, RelOptInfo *input_rel,
				RelOptInfo *final_rel)
{
	Query	   *query = root->parse;
	AuditFdwRelationInfo *ifpinfo = (AuditFdwRelationInfo *) input_rel->fdw_private;
	RelOptInfo *query_rel = input_rel;
	AuditFdwRelationInfo *qinfo = ifpinfo;
	bool		ordered = false;
	bool		sorted = false;
	int64		count = -1,
				offset = 0;
	double		rows;
	Cost		startup_cost,
				total_cost;

	if (query->limitCount == NULL && query->limitOffset == NULL)
		return;
	if (query->limitOption != LIMIT_OPTION_COUNT)
		return;
	/* constants, or values computed once at executor start ($1, a stable expression) */
	if (!limit_value_is_shippable(query->limitCount) ||
		!limit_value_is_shippable(query->limitOffset))
		return;
	if (query->limitCount && IsA(query->limitCount, Const) &&
		!((Const *) query->limitCount)->constisnull)
		count = DatumGetInt64(((Const *) query->limitCount)->constvalue);
	if (query->limitOffset && IsA(query->limitOffset, Const) &&
		!((Const *) query->limitOffset)->constisnull)
		offset = DatumGetInt64(((Const *) query->limitOffset)->constvalue);
	if (count < -1 || offset < 0)
		return;

	/* the ORDER BY relation wraps the relation Athena queries */
	if (IS_UPPER_REL(input_rel) && ifpinfo->stage == UPPERREL_ORDERED)
	{
		query_rel = ifpinfo->outerrel;
		qinfo = (AuditFdwRelationInfo *) query_rel->fdw_private;
		ordered = IS_UPPER_REL(query_rel);
	}
	else if (root->sort_pathkeys != NIL)
		return;

	if (root->sort_pathkeys != NIL && !ordered)
	{
		/*
		 * a scan or join Athena can sort by the ORDER BY.  Its sorted path
		 * may be gone: a local top-N sort costs less than Athena sorting
		 * every row, but not than Athena's own ORDER BY ... LIMIT.
		 */
		if (!query_pathkeys_ok(root, query_rel, root->sort_pathkeys))
			return;
		sorted = true;
	}
	else if (IS_UPPER_REL(query_rel) && qinfo->stage != UPPERREL_GROUP_AGG &&
			 qinfo->stage != UPPERREL_DISTINCT)
		return;

	/* a query with more steps above the scan (window, local DISTINCT...) */
	if (!IS_UPPER_REL(query_rel) &&
		(query->hasAggs || query->groupClause || query->distinctClause ||
		 query->hasWindowFuncs || query->havingQual))
		return;
	if (qinfo->local_conds != NIL)
		return;
	/* every condition of the joined relations went to Athena */
	if (IS_JOIN_REL(query_rel) || (IS_UPPER_REL(query_rel) &&
								   IS_JOIN_REL(qinfo->outerrel)))
	{
		RelOptInfo *j = IS_UPPER_REL(query_rel) ? qinfo->outerrel : query_rel;

		if (((AuditFdwRelationInfo *) j->fdw_private)->local_conds != NIL)
			return;
	}

	rows = qinfo->rows;
	if (count >= 0)
		rows = Min(rows, (double) count);
	else if (query->limitCount && !IsA(query->limitCount, Const))
		rows = clamp_row_est(rows * 0.10);	/* as preprocess_limit() guesses */
	startup_cost = qinfo->startup_cost;
	total_cost = startup_cost + (qinfo->total_cost - qinfo->startup_cost) *
		(qinfo->rows > 0 ? rows / qinfo->rows : 1.0);
	if (ordered || sorted)
		total_cost += (total_cost - startup_cost) * (SORT_COST_MULTIPLIER - 1);
	/* slightly cheaper than the same scan with a Limit node above it */
	total_cost = Max(startup_cost, total_cost - cpu_tuple_cost);

	final_rel->fdw_private = new_upper_fpinfo(query_rel, UPPERREL_FINAL);
	add_path(final_rel, (Path *)
			 audit_create_foreign_upper_path(root, query_rel,
									   root->upper_targets[UPPERREL_FINAL],
									   rows, startup_cost, total_cost,
									   root->sort_pathkeys, NULL,
									   fdw_path_private(ordered, true)));
}

/* ------------------------------------------------------------------------
 * Plan
 * ------------------------------------------------------------------------
 */

static ForeignScan *
auditGetForeignPlan(PlannerInfo *root, RelOptInfo *foreignrel,
					Oid foreigntableid, ForeignPath *best_path, List *tlist,
					List *scan_clauses, Plan *outer_plan)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) foreignrel->fdw_private;
	List	   *remote_conds = NIL;
	List	   *local_exprs = NIL;
	List	   *fdw_scan_tlist = NIL;
	List	   *sql_parts,
			   *runtime_exprs,
			   *roundings,
			   *retrieved_attrs;
	List	   *fdw_private;
	AuditFdwPartitioning *partitioning;
	Index		scan_relid;
	bool		has_final_sort = false;
	bool		has_limit = false;
	ListCell   *lc;

	if (OidIsValid(foreigntableid) && ddb_is_foreign_table(foreigntableid))
		return ddbGetForeignPlan(root, foreignrel, foreigntableid, best_path, tlist,
								 scan_clauses, outer_plan);
	if (best_path->fdw_private)
	{
		has_final_sort = intVal(list_nth(best_path->fdw_private,
										 AuditFdwPathPrivateHasFinalSort));
		has_limit = intVal(list_nth(best_path->fdw_private,
									AuditFdwPathPrivateHasLimit));
	}

	if (IS_SIMPLE_REL(foreignrel))
	{
		scan_relid = foreignrel->relid;
		foreach(lc, scan_clauses)
		{
			RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
			bool		widened = false;

			if (ri->pseudoconstant)
				continue;
			if (list_member_ptr(fpinfo->remote_conds, ri))
			{
				remote_conds = lappend(remote_conds, ri);
				if (list_member_ptr(fpinfo->widened_conds, ri))
					local_exprs = lappend(local_exprs, ri->clause);
			}
			else if (list_member_ptr(fpinfo->local_conds, ri))
				local_exprs = lappend(local_exprs, ri->clause);
			else if (audit_enable_pushdown &&
					 audit_is_foreign_param(root, foreignrel, ri->clause, &widened))
			{
				/* a join clause of a parameterized scan */
				remote_conds = lappend(remote_conds, ri);
				if (widened)
					local_exprs = lappend(local_exprs, ri->clause);
			}
			else
				local_exprs = lappend(local_exprs, ri->clause);
		}
		/*
		 * the folders of values known at executor start: the scan's own
		 * conditions and, for a parameterized scan, its join clauses
		 */
		if (audit_enable_pushdown)
			for (int k = 0; k < AUDIT_NUM_LEVELS; k++)
				fpinfo->level_runtime[k] = audit_level_runtime_values(root, foreignrel,
																	  scan_clauses, k);
		/* the inner scan of a batched join: its keys go to Athena too */
		if (list_length(best_path->fdw_private) > AuditFdwPathPrivateBatchKeys)
		{
			Expr	   *keys = list_nth(best_path->fdw_private,
										AuditFdwPathPrivateBatchKeys);

			remote_conds = lappend(remote_conds,
								   make_simple_restrictinfo(root, keys));
		}
	}
	else
	{
		RelOptInfo *query_rel = foreignrel;

		scan_relid = 0;
		Assert(!scan_clauses);
		remote_conds = fpinfo->remote_conds;
		local_exprs = extract_actual_clauses(fpinfo->local_conds, false);
		fdw_scan_tlist = audit_build_tlist_to_deparse(query_rel);

		/* an outer plan for EvalPlanQual is not needed: no row marks */
		if (outer_plan)
			outer_plan->qual = NIL;
	}

	audit_deparse_select(root, foreignrel, fdw_scan_tlist, remote_conds,
						 best_path->path.pathkeys, has_final_sort, has_limit,
						 &sql_parts, &runtime_exprs, &roundings,
						 &retrieved_attrs, &partitioning);

	fdw_private = list_make4(sql_parts, roundings, retrieved_attrs,
							 makeString(fpinfo->relation_name));
	fdw_private = lappend(fdw_private, partitioning == NULL ? NIL :
						  list_make3(makeString(partitioning->format),
									 makeString(psprintf(INT64_FORMAT,
														 partitioning->delay_us)),
									 makeString(psprintf(INT64_FORMAT,
														 partitioning->skew_us))));
	fdw_private = lappend(fdw_private, makeInteger((int) fpinfo->relid));
	fdw_private = lappend(fdw_private,
						  makeInteger(IS_SIMPLE_REL(foreignrel) &&
									  fpinfo->partition_bounds == NIL &&
									  !audit_levels_narrow(fpinfo)));
	fdw_private = lappend(fdw_private, makeString(fpinfo->explain_name));
	{
		List	   *folders = audit_folder_selection(root, fpinfo->scan_relids);
		RelOptInfo *scanrel = IS_UPPER_REL(foreignrel) ? fpinfo->outerrel : foreignrel;

		if (audit_self_join_key(root, scanrel) != NULL)
			folders = audit_folder_selection_union(folders);
		fdw_private = lappend(fdw_private, folders);
	}

	return make_foreignscan(tlist, local_exprs, scan_relid, runtime_exprs,
							fdw_private, fdw_scan_tlist, NIL, outer_plan);
}

/*
 * The Athena SQL with $n for the values computed at executor start.
 */
char *
audit_sql_for_explain(List *sql_parts)
{
	StringInfoData buf;
	ListCell   *lc;
	int			i = 0;

	initStringInfo(&buf);
	foreach(lc, sql_parts)
	{
		if (i > 0)
			appendStringInfo(&buf, "$%d", i);
		appendStringInfoString(&buf, strVal(lfirst(lc)));
		i++;
	}
	return buf.data;
}

static void
auditExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	List	   *fdw_private = plan->fdw_private;

	if (ddb_is_scan_plan(plan))
	{
		ddbExplainForeignScan(node, es);
		return;
	}
	if (plan->scan.scanrelid == 0)
		ExplainPropertyText("Relations",
							strVal(list_nth(fdw_private,
											AuditFdwScanPrivateRelations)),
							es);
	if (es->verbose)
	{
		List	   *parts = (List *) list_nth(fdw_private, AuditFdwScanPrivateSqlParts);

		ExplainPropertyText("Athena SQL", audit_sql_for_explain(parts), es);
	}
	audit_explain_levels(node, es);
	audit_explain_estimate(node, es);
	if (es->analyze)
		audit_explain_analyze(node, es);
}
