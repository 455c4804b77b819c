/*-------------------------------------------------------------------------
 *
 * batchjoin.c
 *		The batched join: a local relation joined with an audit table by
 *		sending the keys of a batch of outer rows to Athena as one IN list.
 *
 * A parameterized scan (fdw.c) runs one Athena query per outer row, and each
 * query pays Athena's startup and scans the table's bytes: it wins for two or
 * three outer rows at most.  A plain scan reads the whole history once and
 * transfers every row.  Between the two, for "a few hundred local rows
 * joined with a big history", this node reads up to
 * audit_fdw.join_batch_size outer rows, sends their distinct keys as
 * "inner_key IN (k1, k2, ...)" in one Athena query through the foreign
 * scan's own executor (scan.c: waits, cancel, query log), and joins the rows
 * that come back with the batch's outer rows in a hash table, then moves on
 * to the next batch.  PostgreSQL 15 has no batched parameterized foreign
 * scan, so this is a CustomScan offered through set_join_pathlist_hook, and
 * the planner takes it only where its cost is lowest: one Athena query per
 * batch against the plain scan's transfer of every row.
 *
 * The rules it keeps:
 *	- The answer is the local join's.  Athena only narrows the inner rows:
 *	  the key condition is one the deparser proves to mean the same in
 *	  Athena (audit_is_batch_key), and every join condition, the key's
 *	  included, is evaluated here with PostgreSQL's operators on each pair a
 *	  hash bucket offers.  Hashing uses the key operator's own hash support
 *	  (get_op_hash_functions), as a hash join does, so cross-type keys and
 *	  casts hash alike on both sides.
 *	- NULL keys never match (the operator is strict): they are not sent, and
 *	  their outer rows come out null-extended in a left join and in an
 *	  anti-join.  A key with no Athena literal (an infinite date) cannot be
 *	  equal to anything Athena holds, and is treated the same way.
 *	  Duplicate keys are sent once; duplicate rows on either side join as
 *	  often as they occur.
 *	- Join types: inner, left (outer rows are the local side), semi and anti
 *	  (EXISTS / IN / NOT EXISTS over the audit table).
 *	- Memory holds one batch of outer rows: they are the hashed side, and
 *	  the rows Athena returns probe them as they stream in (so the output
 *	  has no order; the unmatched outer rows of a left or anti-join come
 *	  after the batch's matches).
 *	- A batch ends early when one more key would make the Athena SQL longer
 *	  than ATHENA_MAX_QUERY_BYTES: the outer row waits for the next batch.
 *	  A single key that cannot fit is an error (54000).
 *	- A batch without any key to send runs no query.
 *	- Every loop checks for interrupts; the query itself is waited for and
 *	  stopped by scan.c.
 *	- EXPLAIN shows the join type, the keys and the batch size; EXPLAIN
 *	  ANALYZE adds the batches, the Athena queries, the keys sent and the
 *	  bytes the queries scanned.
 *
 * A foreign table over a live DynamoDB table is joined the same way on its
 * partition key (the whole key, or with the sort key fixed by a
 * condition): the batch's distinct keys go to the DynamoDB scan as the
 * array of "partition_key = ANY(...)" (ddb_batch_keys_clause,
 * ddb_scan_set_batch_keys), which reads them with BatchGetItem, 100 keys a
 * call, instead of one GetItem per outer row; the cost is that scan's.
 *
 * The node has two children: the outer plan and the foreign scan of the
 * audit table, whose SQL carries the key list as a runtime value
 * (AUDIT_BATCH_KEYS) that audit_scan_set_batch_keys fills before each
 * rescan.  Its scan tuple is the outer child's columns followed by the inner
 * child's (custom_scan_tlist), so the target list and the conditions are
 * evaluated as one tuple.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "executor/nodeCustom.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/ruleutils.h"

#include "compat.h"
#include "dynamodb/dynamodb.h"
#include "fdw/fdw.h"
#include "fdw/scan.h"

#define BATCH_JOIN_NAME "AuditBatchedJoin"

/* Indexes of the CustomPath's custom_private */
enum BatchPathPrivateIndex
{
	BatchPathRestrictList,		/* List of RestrictInfo: the join's clauses */
	BatchPathKeyClause,			/* RestrictInfo: the key's clause */
	BatchPathOuterIsLeft,		/* Integer (bool): outer is the left operand */
	BatchPathJoinType,			/* Integer (JoinType) */
	BatchPathSingleMatch,		/* Integer (bool): one match per outer row */
	BatchPathBatchSize,			/* Integer */
	BatchPathBucketDigits		/* Integer: the key's bucket digits, or 0 */
};

/* Indexes of the CustomScan's custom_exprs */
enum BatchScanExprIndex
{
	BatchExprOuterKey,			/* the outer side of the key's clause */
	BatchExprInnerKey,			/* the inner side */
	BatchExprJoinQuals,			/* List: the join's conditions */
	BatchExprOtherQuals			/* List: conditions on the joined rows */
};

/* Indexes of the CustomScan's custom_private */
enum BatchScanPrivateIndex
{
	BatchPrivateJoinType,		/* Integer (JoinType) */
	BatchPrivateSingleMatch,	/* Integer (bool) */
	BatchPrivateBatchSize,		/* Integer */
	BatchPrivateHashOp,			/* Integer: the key's operator (an Oid) */
	BatchPrivateOuterIsLeft,	/* Integer (bool) */
	BatchPrivateCollation,		/* Integer: the operator's collation (an Oid) */
	BatchPrivateBucketDigits	/* Integer: the key's bucket digits, or 0 */
};

/* An outer row of the current batch, in its hash bucket's chain */
typedef struct BatchOuterRow
{
	MinimalTuple tuple;
	uint32		hash;
	bool		has_key;		/* false: the key is NULL or cannot match */
	bool		matched;		/* an inner row has joined it */
	struct BatchOuterRow *next;
} BatchOuterRow;

/* A key of the current batch, by its literal (an open-addressing set) */
typedef struct BatchKeySlot
{
	uint32		hash;
	int			offset;			/* in keys.data */
	int			len;			/* 0: empty slot */
} BatchKeySlot;

typedef enum BatchPhase
{
	BATCH_FILL,					/* read the next batch of outer rows */
	BATCH_PROBE,				/* join the rows Athena returns for it */
	BATCH_UNMATCHED				/* then its outer rows nothing joined */
} BatchPhase;

typedef struct BatchJoinState
{
	CustomScanState css;

	/* plan */
	JoinType	jointype;
	bool		single_match;
	int			batch_size;
	Oid			collation;
	int			bucket_digits;	/* 0: the table has no key buckets */
	bool		ddb;			/* the inner scan reads DynamoDB */
	PlanState  *outer_ps;
	ForeignScanState *inner_ps;
	ExprState  *outer_key;
	ExprState  *inner_key;
	ExprState  *joinqual;
	ExprState  *otherqual;
	Oid			outer_key_type;
	int16		outer_key_typlen;
	bool		outer_key_typbyval;
	char		outer_key_typalign;
	FmgrInfo	outer_hash;
	FmgrInfo	inner_hash;
	int			n_outer_cols;
	int			n_inner_cols;
	TupleTableSlot *outer_slot; /* an outer row of the batch */
	TupleTableSlot *inner_slot; /* an inner row of the batch */
	TupleTableSlot *pending_slot;	/* the outer row the last batch left */
	bool		has_pending;
	bool		outer_done;

	/* the current batch, in batch_cxt (reset per batch) */
	MemoryContext batch_cxt;
	BatchPhase	phase;
	BatchOuterRow *outer_rows;
	int			n_outer_rows;
	BatchOuterRow **buckets;	/* the outer rows with a key, by hash */
	uint32		bucket_mask;
	StringInfoData keys;		/* the IN list */
	StringInfoData key_buckets;	/* the IN list of the keys' buckets */
	bool	   *bucket_sent;	/* by bucket number */
	StringInfoData literal;		/* one key's literal */
	BatchKeySlot *key_set;
	uint32		key_set_mask;
	int			n_keys;
	Datum	   *key_values;		/* DynamoDB: the distinct keys */

	/* probing */
	bool		inner_done;
	TupleTableSlot *inner_row;	/* the child's current row */
	uint32		inner_hash_value;
	BatchOuterRow *candidate;
	int			unmatched_row;

	/* for EXPLAIN ANALYZE */
	int64		batches;
	int64		queries;
	int64		keys_sent;
	int64		inner_rows;
} BatchJoinState;

/* GUCs */
static bool enable_batched_join = true;
static int	join_batch_size = 1000;

static set_join_pathlist_hook_type prev_join_pathlist_hook = NULL;

static void batch_join_paths(PlannerInfo *root, RelOptInfo *joinrel,
							 RelOptInfo *outerrel, RelOptInfo *innerrel,
							 JoinType jointype, JoinPathExtraData *extra);
static Plan *batch_plan(PlannerInfo *root, RelOptInfo *rel,
						CustomPath *best_path, List *tlist, List *clauses,
						List *custom_plans);
static Node *batch_create_state(CustomScan *cscan);
static void batch_begin(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *batch_exec(CustomScanState *node);
static void batch_end(CustomScanState *node);
static void batch_rescan(CustomScanState *node);
static void batch_explain(CustomScanState *node, List *ancestors,
						  ExplainState *es);
static void fill_batch(BatchJoinState *st);
static void start_probe(BatchJoinState *st);
static TupleTableSlot *probe(BatchJoinState *st);
static TupleTableSlot *unmatched(BatchJoinState *st);

static const CustomPathMethods batch_path_methods = {
	.CustomName = BATCH_JOIN_NAME,
	.PlanCustomPath = batch_plan,
};

static const CustomScanMethods batch_scan_methods = {
	.CustomName = BATCH_JOIN_NAME,
	.CreateCustomScanState = batch_create_state,
};

static const CustomExecMethods batch_exec_methods = {
	.CustomName = BATCH_JOIN_NAME,
	.BeginCustomScan = batch_begin,
	.ExecCustomScan = batch_exec,
	.EndCustomScan = batch_end,
	.ReScanCustomScan = batch_rescan,
	.ExplainCustomScan = batch_explain,
};

/*
 * The settings, the planner hook and the node's methods (from fdw_init).
 */
void
audit_batch_join_init(void)
{
	DefineCustomBoolVariable("audit_fdw.enable_batched_join",
							 "Lets the planner join a local relation with an audit table or a DynamoDB table by sending the keys of a batch of local rows at once: to Athena as one IN list, to DynamoDB as BatchGetItem calls.",
							 "Turn off to compare with the plans without it.",
							 &enable_batched_join,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("audit_fdw.join_batch_size",
							"Outer rows whose keys a batched join sends at once: to Athena as one query, or to DynamoDB as BatchGetItem calls of up to 100 keys.",
							"An Athena batch also ends where one more key would make the query longer than Athena accepts.",
							&join_batch_size,
							1000, 1, 100000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	prev_join_pathlist_hook = set_join_pathlist_hook;
	set_join_pathlist_hook = batch_join_paths;
	RegisterCustomScanMethods(&batch_scan_methods);
}

/* ------------------------------------------------------------------------
 * Planning
 * ------------------------------------------------------------------------
 */

/*
 * Whether rel is a foreign table of ours that a batched join can read: an
 * Athena table, or (*ddb) one over a live DynamoDB table.
 */
static bool
audit_base_rel(PlannerInfo *root, RelOptInfo *rel, bool *ddb)
{
	if (!IS_SIMPLE_REL(rel) || rel->rtekind != RTE_RELATION ||
		rel->fdwroutine == NULL ||
		rel->fdwroutine->BeginForeignScan != audit_begin_foreign_scan ||
		rel->fdw_private == NULL)
		return false;
	*ddb = ddb_relids_include(root, rel->relids);
	return true;
}

/*
 * The join clause whose outer values become the batch's keys: a hashable
 * equality between an expression of the outer relation and one of the
 * audit table that Athena evaluates as PostgreSQL does; for an outer join,
 * a condition of the join itself.
 */
static RestrictInfo *
find_key_clause(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel,
				RelOptInfo *innerrel, JoinType jointype, List *restrictlist,
				bool ddb, bool *outer_is_left)
{
	ListCell   *lc;

	foreach(lc, restrictlist)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		OpExpr	   *op;
		Expr	   *inner_arg,
				   *outer_arg;

		if (ri->pseudoconstant || !OidIsValid(ri->hashjoinoperator))
			continue;
		if (IS_OUTER_JOIN(jointype) && RINFO_IS_PUSHED_DOWN(ri, joinrel->relids))
			continue;
		if (bms_is_subset(ri->left_relids, outerrel->relids) &&
			bms_is_subset(ri->right_relids, innerrel->relids))
			*outer_is_left = true;
		else if (bms_is_subset(ri->left_relids, innerrel->relids) &&
				 bms_is_subset(ri->right_relids, outerrel->relids))
			*outer_is_left = false;
		else
			continue;
		op = (OpExpr *) ri->clause;
		if (!op_strict(op->opno))
			continue;
		outer_arg = *outer_is_left ? linitial(op->args) : lsecond(op->args);
		inner_arg = *outer_is_left ? lsecond(op->args) : linitial(op->args);
		if (ddb ? ddb_batch_keys_clause(root, innerrel, op, *outer_is_left) != NULL
			: audit_is_batch_key(root, innerrel, ri->clause, inner_arg,
								 outer_arg, op->inputcollid))
			return ri;
	}
	return NULL;
}

/*
 * Offer a batched join of outerrel (any relation) with innerrel (an audit
 * table) when a join clause can carry the keys.
 *
 * Its cost: the outer path, then per batch one Athena query of the inner
 * scan (startup and the bytes scanned: the IN list does not make Athena
 * read less of a JSON table, only return less), the inner rows that match
 * some key at the inner scan's cost per row, and a hash join's CPU per row.
 * Against the plain scan it saves the transfer of the rows no outer key
 * matches, and pays the query once more per extra batch: it wins for a
 * small outer side over a big history.
 */
static void
batch_join_paths(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel,
				 RelOptInfo *innerrel, JoinType jointype,
				 JoinPathExtraData *extra)
{
	AuditFdwRelationInfo *ifpinfo;
	RestrictInfo *key;
	bool		outer_is_left = false;
	Path	   *outer_path;
	Path	   *inner_path;
	CustomPath *cpath;
	OpExpr	   *op;
	Expr	   *outer_arg,
			   *inner_arg;
	SpecialJoinInfo sjinfo;
	double		outer_rows,
				nbatches,
				fetched,
				per_row,
				batch_fraction;
	Selectivity sel;
	QualCost	quals_cost;
	Cost		query_cost,
				startup,
				total;
	int			bucket_digits;
	bool		ddb = false;
	ListCell   *lc;

	if (prev_join_pathlist_hook)
		prev_join_pathlist_hook(root, joinrel, outerrel, innerrel, jointype,
								extra);

	if (!enable_batched_join || !audit_enable_pushdown)
		return;
	if (jointype != JOIN_INNER && jointype != JOIN_LEFT &&
		jointype != JOIN_SEMI && jointype != JOIN_ANTI)
		return;
	if (!audit_base_rel(root, innerrel, &ddb))
		return;
	ifpinfo = ddb ? NULL : (AuditFdwRelationInfo *) innerrel->fdw_private;
	/* no row locks (EvalPlanQual would recheck a whole batch), no lateral */
	if (root->parse->commandType != CMD_SELECT || root->rowMarks != NIL ||
		!bms_is_empty(innerrel->lateral_relids) ||
		!bms_is_empty(outerrel->lateral_relids))
		return;
	outer_path = outerrel->cheapest_total_path;
	if (outer_path == NULL || outer_path->param_info != NULL)
		return;
	/* placeholders computed at this join would need computing here */
	foreach(lc, root->placeholder_list)
	{
		PlaceHolderInfo *phinfo = lfirst(lc);

		if (bms_is_subset(phinfo->ph_eval_at, joinrel->relids) &&
			bms_nonempty_difference(joinrel->relids, phinfo->ph_eval_at))
			return;
	}
	foreach(lc, extra->restrictlist)
	{
		if (contain_subplans((Node *) lfirst_node(RestrictInfo, lc)->clause))
			return;
	}

	key = find_key_clause(root, joinrel, outerrel, innerrel, jointype,
						  extra->restrictlist, ddb, &outer_is_left);
	if (key == NULL)
		return;
	op = (OpExpr *) key->clause;
	outer_arg = outer_is_left ? linitial(op->args) : lsecond(op->args);
	inner_arg = outer_is_left ? lsecond(op->args) : linitial(op->args);

	/*
	 * On the bucket key of a table with key buckets, a batch also sends its
	 * keys' buckets: each query reads the folders of those buckets only.
	 */
	bucket_digits = ddb ? 0 : audit_bucket_key_digits(root, innerrel, inner_arg);
	if (bucket_digits > 0 && !audit_is_key_type(exprType((Node *) outer_arg)))
		return;

	/* the inner rows some outer key matches, as an inner join counts them */
	sjinfo = *extra->sjinfo;
	sjinfo.jointype = JOIN_INNER;
	sel = clauselist_selectivity(root, list_make1(key), 0, JOIN_INNER, &sjinfo);
	outer_rows = Max(outer_path->rows, 1.0);
	nbatches = ceil(outer_rows / join_batch_size);
	if (ddb)
	{
		/*
		 * DynamoDB: a rescan is the BatchGetItem calls of the batch's keys
		 * (100 a call), costed by the scan; the items it returns are in it.
		 */
		inner_path = ddb_batch_inner_path(root, innerrel,
										  ddb_batch_keys_clause(root, innerrel, op,
																outer_is_left),
										  Min(outer_rows, (double) join_batch_size));
		/* the whole key: at most one item a key, one joined row an outer row */
		fetched = clamp_row_est(Min(outer_rows,
									Min(innerrel->rows * nbatches,
										outer_rows * innerrel->rows * sel)));
		per_row = 0;
		query_cost = inner_path->total_cost;
	}
	else
	{
		fetched = clamp_row_est(Min(ifpinfo->rows * nbatches,
									outer_rows * ifpinfo->rows * sel));
		per_row = ifpinfo->rows > 0
			? (ifpinfo->total_cost - ifpinfo->startup_cost) / ifpinfo->rows : 0;
		query_cost = ifpinfo->startup_cost;
		inner_path = audit_batch_inner_path(root, innerrel,
											audit_batch_keys_clause(inner_arg,
																	exprType((Node *) outer_arg)));
	}
	if (bucket_digits > 0)
	{
		/* the share of the buckets a batch's keys fall in, if all differ */
		double		nbuckets = (double) (1 << (4 * bucket_digits));
		double		keys = Min(outer_rows, (double) join_batch_size);
		double		share = 1.0 - pow(1.0 - 1.0 / nbuckets, keys);

		query_cost -= ifpinfo->bytes / (1024.0 * 1024.0) * (1.0 - share);
	}
	cost_qual_eval(&quals_cost, extra->restrictlist, root);

	batch_fraction = Min(1.0, join_batch_size / outer_rows);
	startup = outer_path->startup_cost + query_cost +
		(outer_path->total_cost - outer_path->startup_cost) * batch_fraction;
	total = outer_path->total_cost + nbatches * query_cost +
		fetched * (per_row + 2 * cpu_operator_cost) +
		outer_rows * 2 * cpu_operator_cost +
		(fetched + outer_rows) * quals_cost.per_tuple + quals_cost.startup +
		(ddb ? Min(joinrel->rows, outer_rows) : joinrel->rows) * cpu_tuple_cost;

	cpath = makeNode(CustomPath);
	cpath->path.pathtype = T_CustomScan;
	cpath->path.parent = joinrel;
	cpath->path.pathtarget = joinrel->reltarget;
	cpath->path.param_info = NULL;
	cpath->path.parallel_aware = false;
	cpath->path.parallel_safe = false;
	cpath->path.parallel_workers = 0;
	cpath->path.rows = joinrel->rows;
	cpath->path.startup_cost = startup;
	cpath->path.total_cost = total;
	cpath->path.pathkeys = NIL;	/* Athena's row order */
	cpath->flags = CUSTOMPATH_SUPPORT_PROJECTION;
	cpath->custom_paths = list_make2(outer_path, inner_path);
	cpath->custom_private = list_make5(extra->restrictlist, key,
									   makeInteger(outer_is_left),
									   makeInteger(jointype),
									   makeInteger(jointype == JOIN_SEMI ||
												   extra->inner_unique));
	cpath->custom_private = lappend(cpath->custom_private,
									makeInteger(join_batch_size));
	cpath->custom_private = lappend(cpath->custom_private,
									makeInteger(bucket_digits));
	cpath->methods = &batch_path_methods;
	add_path(joinrel, &cpath->path);
}

/*
 * The plan: the scan tuple is the outer child's output followed by the
 * inner child's; the conditions and keys are evaluated on it.
 */
static Plan *
batch_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
		   List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *cscan = makeNode(CustomScan);
	List	   *priv = best_path->custom_private;
	List	   *restrictlist = list_nth(priv, BatchPathRestrictList);
	RestrictInfo *key = list_nth(priv, BatchPathKeyClause);
	bool		outer_is_left = intVal(list_nth(priv, BatchPathOuterIsLeft));
	JoinType	jointype = intVal(list_nth(priv, BatchPathJoinType));
	OpExpr	   *op = (OpExpr *) key->clause;
	List	   *joinquals,
			   *otherquals;
	List	   *scan_tlist = NIL;
	ListCell   *lc,
			   *lp;

	foreach(lp, custom_plans)
	{
		foreach(lc, ((Plan *) lfirst(lp))->targetlist)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lc);

			scan_tlist = lappend(scan_tlist,
								 makeTargetEntry(copyObject(tle->expr),
												 list_length(scan_tlist) + 1,
												 NULL, false));
		}
	}

	/* as a hash join splits them */
	if (IS_OUTER_JOIN(jointype))
		extract_actual_join_clauses(restrictlist, rel->relids,
									&joinquals, &otherquals);
	else
	{
		joinquals = extract_actual_clauses(restrictlist, false);
		otherquals = NIL;
	}

	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = NIL;
	cscan->scan.scanrelid = 0;
	cscan->flags = best_path->flags;
	cscan->custom_plans = custom_plans;
	cscan->custom_exprs = list_make4(outer_is_left ? linitial(op->args) : lsecond(op->args),
									 outer_is_left ? lsecond(op->args) : linitial(op->args),
									 joinquals, otherquals);
	cscan->custom_private = list_make5(makeInteger(jointype),
									   list_nth(priv, BatchPathSingleMatch),
									   list_nth(priv, BatchPathBatchSize),
									   makeInteger((int) key->hashjoinoperator),
									   makeInteger(outer_is_left));
	cscan->custom_private = lappend(cscan->custom_private,
									makeInteger((int) op->inputcollid));
	cscan->custom_private = lappend(cscan->custom_private,
									list_nth(priv, BatchPathBucketDigits));
	cscan->custom_scan_tlist = scan_tlist;
	cscan->methods = &batch_scan_methods;
	return &cscan->scan.plan;
}

/* ------------------------------------------------------------------------
 * Execution
 * ------------------------------------------------------------------------
 */

static Node *
batch_create_state(CustomScan *cscan)
{
	BatchJoinState *st = palloc0(sizeof(BatchJoinState));

	NodeSetTag(st, T_CustomScanState);
	st->css.methods = &batch_exec_methods;
	return (Node *) st;
}

static void
batch_begin(CustomScanState *node, EState *estate, int eflags)
{
	BatchJoinState *st = (BatchJoinState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *priv = cscan->custom_private;
	int			child_flags = eflags & ~(EXEC_FLAG_REWIND | EXEC_FLAG_BACKWARD |
										 EXEC_FLAG_MARK);
	PlanState  *inner;
	Oid			lhs_hash,
				rhs_hash;
	bool		outer_is_left;
	Expr	   *outer_key_expr;

	st->jointype = intVal(list_nth(priv, BatchPrivateJoinType));
	st->single_match = intVal(list_nth(priv, BatchPrivateSingleMatch));
	st->batch_size = intVal(list_nth(priv, BatchPrivateBatchSize));
	st->collation = (Oid) intVal(list_nth(priv, BatchPrivateCollation));
	st->bucket_digits = intVal(list_nth(priv, BatchPrivateBucketDigits));
	outer_is_left = intVal(list_nth(priv, BatchPrivateOuterIsLeft));

	st->outer_ps = ExecInitNode(linitial(cscan->custom_plans), estate, child_flags);
	inner = ExecInitNode(lsecond(cscan->custom_plans), estate, child_flags);
	if (!IsA(inner, ForeignScanState))
		elog(ERROR, "inner plan of a batched join is not a foreign scan");
	st->inner_ps = (ForeignScanState *) inner;
	st->ddb = ddb_is_scan_plan((ForeignScan *) inner->plan);
	node->custom_ps = list_make2(st->outer_ps, inner);
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	outer_key_expr = list_nth(cscan->custom_exprs, BatchExprOuterKey);
	st->outer_key_type = exprType((Node *) outer_key_expr);
	get_typlenbyvalalign(st->outer_key_type, &st->outer_key_typlen,
						 &st->outer_key_typbyval, &st->outer_key_typalign);
	st->outer_key = ExecInitExpr(outer_key_expr, &node->ss.ps);
	st->inner_key = ExecInitExpr(list_nth(cscan->custom_exprs, BatchExprInnerKey),
								 &node->ss.ps);
	st->joinqual = ExecInitQual(list_nth(cscan->custom_exprs, BatchExprJoinQuals),
								&node->ss.ps);
	st->otherqual = ExecInitQual(list_nth(cscan->custom_exprs, BatchExprOtherQuals),
								 &node->ss.ps);

	if (!get_op_hash_functions((Oid) intVal(list_nth(priv, BatchPrivateHashOp)),
							   &lhs_hash, &rhs_hash))
		elog(ERROR, "could not find hash functions for a batched join's key");
	fmgr_info(outer_is_left ? lhs_hash : rhs_hash, &st->outer_hash);
	fmgr_info(outer_is_left ? rhs_hash : lhs_hash, &st->inner_hash);

	st->outer_slot = ExecAllocTableSlot(&estate->es_tupleTable,
										ExecGetResultType(st->outer_ps),
										&TTSOpsMinimalTuple);
	st->pending_slot = ExecAllocTableSlot(&estate->es_tupleTable,
										  ExecGetResultType(st->outer_ps),
										  &TTSOpsMinimalTuple);
	st->inner_slot = ExecAllocTableSlot(&estate->es_tupleTable,
										ExecGetResultType(inner),
										&TTSOpsMinimalTuple);
	st->n_outer_cols = ExecGetResultType(st->outer_ps)->natts;
	st->n_inner_cols = ExecGetResultType(inner)->natts;
	Assert(st->n_outer_cols + st->n_inner_cols ==
		   node->ss.ss_ScanTupleSlot->tts_tupleDescriptor->natts);

	st->batch_cxt = AllocSetContextCreate(estate->es_query_cxt,
										  "audit_fdw batched join",
										  ALLOCSET_DEFAULT_SIZES);
	st->phase = BATCH_FILL;
}

/*
 * The scan tuple of an outer and an inner row (either may be NULL: its
 * columns are then NULL), evaluated by the conditions and the projection.
 */
static TupleTableSlot *
form_scan_tuple(BatchJoinState *st, TupleTableSlot *outer, TupleTableSlot *inner)
{
	TupleTableSlot *scan = st->css.ss.ss_ScanTupleSlot;
	int			i;

	ExecClearTuple(scan);
	if (outer)
	{
		slot_getallattrs(outer);
		memcpy(scan->tts_values, outer->tts_values,
			   st->n_outer_cols * sizeof(Datum));
		memcpy(scan->tts_isnull, outer->tts_isnull,
			   st->n_outer_cols * sizeof(bool));
	}
	else
		for (i = 0; i < st->n_outer_cols; i++)
			scan->tts_isnull[i] = true;
	if (inner)
	{
		slot_getallattrs(inner);
		memcpy(scan->tts_values + st->n_outer_cols, inner->tts_values,
			   st->n_inner_cols * sizeof(Datum));
		memcpy(scan->tts_isnull + st->n_outer_cols, inner->tts_isnull,
			   st->n_inner_cols * sizeof(bool));
	}
	else
		for (i = 0; i < st->n_inner_cols; i++)
			scan->tts_isnull[st->n_outer_cols + i] = true;
	ExecStoreVirtualTuple(scan);
	st->css.ss.ps.ps_ExprContext->ecxt_scantuple = scan;
	return scan;
}

/* Evaluate a key on the scan tuple; false when it is NULL. */
static bool
eval_key(BatchJoinState *st, ExprState *key, FmgrInfo *hashfn, Datum *value,
		 uint32 *hash)
{
	ExprContext *econtext = st->css.ss.ps.ps_ExprContext;
	MemoryContext old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	bool		isnull;

	*value = ExecEvalExpr(key, econtext, &isnull);
	if (!isnull)
		*hash = DatumGetUInt32(FunctionCall1Coll(hashfn, st->collation, *value));
	MemoryContextSwitchTo(old);
	return !isnull;
}

/*
 * Add the bucket of a key (a string or a number, hashed as the pump writes
 * it) to the batch's buckets.  A number no stored key can equal (NaN) has
 * none.
 */
static void
add_bucket(BatchJoinState *st, Datum value)
{
	List	   *buckets = audit_key_buckets_of(value, st->outer_key_type, false,
											   st->bucket_digits);
	char	   *bucket;
	long		n;

	if (buckets == NIL)
		return;
	bucket = strVal(linitial(buckets));
	n = strtol(bucket, NULL, 16);
	if (st->bucket_sent[n])
		return;
	st->bucket_sent[n] = true;
	if (st->key_buckets.len > 0)
		appendStringInfoString(&st->key_buckets, ", ");
	appendStringInfo(&st->key_buckets, "'%s'", bucket);
}

/*
 * Add the current literal to the batch's keys unless it is there already.
 * False when it is new and does not fit in room bytes.
 */
static bool
add_key(BatchJoinState *st, int64 room)
{
	uint32		h = hash_bytes((unsigned char *) st->literal.data, st->literal.len);
	uint32		i;
	int			needed = st->literal.len + (st->n_keys > 0 ? 2 : 0);

	for (i = h & st->key_set_mask;; i = (i + 1) & st->key_set_mask)
	{
		BatchKeySlot *slot = &st->key_set[i];

		if (slot->len == 0)
		{
			if (st->keys.len + needed > room)
				return false;
			if (st->n_keys > 0)
				appendStringInfoString(&st->keys, ", ");
			slot->hash = h;
			slot->offset = st->keys.len;
			slot->len = st->literal.len;
			appendBinaryStringInfo(&st->keys, st->literal.data, st->literal.len);
			st->n_keys++;
			return true;
		}
		if (slot->hash == h && slot->len == st->literal.len &&
			memcmp(st->keys.data + slot->offset, st->literal.data,
				   st->literal.len) == 0)
			return true;
	}
}

/*
 * Read the next batch of outer rows and their keys: up to batch_size rows,
 * fewer where the next key would not fit in Athena's query text.
 */
static void
fill_batch(BatchJoinState *st)
{
	ExprContext *econtext = st->css.ss.ps.ps_ExprContext;
	MemoryContext old;
	int64		room = -1;
	uint32		set_size = 16;

	MemoryContextReset(st->batch_cxt);
	old = MemoryContextSwitchTo(st->batch_cxt);
	st->outer_rows = palloc(sizeof(BatchOuterRow) * st->batch_size);
	st->n_outer_rows = 0;
	initStringInfo(&st->keys);
	initStringInfo(&st->key_buckets);
	initStringInfo(&st->literal);
	if (st->bucket_digits > 0)
		st->bucket_sent = palloc0(sizeof(bool) << (4 * st->bucket_digits));
	while (set_size < (uint32) st->batch_size * 2)
		set_size <<= 1;
	st->key_set = palloc0(sizeof(BatchKeySlot) * set_size);
	st->key_set_mask = set_size - 1;
	st->n_keys = 0;
	st->key_values = st->ddb ? palloc(sizeof(Datum) * st->batch_size) : NULL;
	st->buckets = NULL;
	st->bucket_mask = 0;
	MemoryContextSwitchTo(old);

	while (st->n_outer_rows < st->batch_size)
	{
		TupleTableSlot *slot;
		BatchOuterRow *row;
		Datum		value;

		CHECK_FOR_INTERRUPTS();
		ResetExprContext(econtext);
		if (st->has_pending)
		{
			slot = st->pending_slot;
			st->has_pending = false;
		}
		else
		{
			if (st->outer_done)
				break;
			slot = ExecProcNode(st->outer_ps);
			if (TupIsNull(slot))
			{
				st->outer_done = true;
				break;
			}
		}

		row = &st->outer_rows[st->n_outer_rows];
		row->has_key = false;
		row->matched = false;
		row->next = NULL;
		form_scan_tuple(st, slot, NULL);
		if (eval_key(st, st->outer_key, &st->outer_hash, &value, &row->hash))
		{
			resetStringInfo(&st->literal);
			old = MemoryContextSwitchTo(st->batch_cxt);
			/* a value with no Athena literal equals nothing Athena holds */
			if (audit_append_literal(&st->literal, st->outer_key_type, value,
									 false, AUDIT_ROUND_NONE))
			{
				int			n_keys = st->n_keys;

				/* DynamoDB: no query text, BatchGetItem takes 100 keys a call */
				if (room < 0 && st->ddb)
					room = PG_INT64_MAX;
				if (room < 0)
				{
					/* room for every bucket a batch can send */
					int64		reserve = st->bucket_digits == 0 ? 0 :
					(int64) Min(st->batch_size, 1 << (4 * st->bucket_digits)) *
					(st->bucket_digits + 4);

					room = ATHENA_MAX_QUERY_BYTES - reserve -
						audit_scan_sql_bytes(st->inner_ps);
				}
				if (!add_key(st, room))
				{
					MemoryContextSwitchTo(old);
					if (st->n_keys == 0)
						ereport(ERROR,
								(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
								 errmsg("a key of the batched join is too long for an Athena query"),
								 errdetail("Its literal takes %d bytes and Athena takes query texts of at most %d bytes.",
										   st->literal.len, ATHENA_MAX_QUERY_BYTES),
								 errhint("Set audit_fdw.enable_batched_join to off for this query.")));
					/* the next batch starts with this row */
					ExecCopySlot(st->pending_slot, slot);
					st->has_pending = true;
					break;
				}
				row->has_key = true;
				if (st->ddb && st->n_keys > n_keys)
					st->key_values[n_keys] = datumCopy(value, st->outer_key_typbyval,
													   st->outer_key_typlen);
				if (st->bucket_digits > 0)
					add_bucket(st, value);
			}
			MemoryContextSwitchTo(old);
		}
		old = MemoryContextSwitchTo(st->batch_cxt);
		row->tuple = ExecCopySlotMinimalTuple(slot);
		MemoryContextSwitchTo(old);
		st->n_outer_rows++;
	}
	if (st->n_outer_rows > 0)
		st->batches++;
}

/*
 * Put the batch's outer rows with a key in the hash table, and run the
 * batch's Athena query.  A batch without keys matches nothing and runs no
 * query.
 */
static void
start_probe(BatchJoinState *st)
{
	uint32		nbuckets = 1;
	int			i;

	while (nbuckets < (uint32) st->n_outer_rows)
		nbuckets <<= 1;
	st->buckets = MemoryContextAllocZero(st->batch_cxt,
										 sizeof(BatchOuterRow *) * nbuckets);
	st->bucket_mask = nbuckets - 1;
	/* pushed last to first: each chain keeps the outer rows' order */
	for (i = st->n_outer_rows - 1; i >= 0; i--)
	{
		BatchOuterRow *row = &st->outer_rows[i];
		BatchOuterRow **bucket = &st->buckets[row->hash & st->bucket_mask];

		if (!row->has_key)
			continue;
		row->next = *bucket;
		*bucket = row;
	}

	st->candidate = NULL;
	st->inner_done = st->n_keys == 0;
	if (st->inner_done)
		return;
	if (st->ddb)
	{
		MemoryContext old = MemoryContextSwitchTo(st->batch_cxt);
		ArrayType  *keys = construct_array(st->key_values, st->n_keys,
										   st->outer_key_type,
										   st->outer_key_typlen,
										   st->outer_key_typbyval,
										   st->outer_key_typalign);

		MemoryContextSwitchTo(old);
		ddb_scan_set_batch_keys(st->inner_ps, PointerGetDatum(keys));
	}
	else
		audit_scan_set_batch_keys(st->inner_ps, st->keys.data, st->key_buckets.data);
	ExecReScan(&st->inner_ps->ss.ps);
	st->queries++;
	st->keys_sent += st->n_keys;
}

/* The projection of the current scan tuple. */
static TupleTableSlot *
project(BatchJoinState *st)
{
	if (st->css.ss.ps.ps_ProjInfo)
		return ExecProject(st->css.ss.ps.ps_ProjInfo);
	return st->css.ss.ss_ScanTupleSlot;
}

/*
 * The next joined row of the batch: each row Athena returns probes the
 * batch's outer rows with its key, as a hash join's probe side does (the
 * outer batch is the hashed side, so memory holds the batch's outer rows
 * only, however many rows come back); NULL when the rows are done.
 */
static TupleTableSlot *
probe(BatchJoinState *st)
{
	ExprContext *econtext = st->css.ss.ps.ps_ExprContext;

	for (;;)
	{
		TupleTableSlot *slot;
		Datum		value;

		while (st->candidate)
		{
			BatchOuterRow *row = st->candidate;

			st->candidate = row->next;
			if (row->hash != st->inner_hash_value)
				continue;
			/* a semi- or anti-join needs one match per outer row */
			if (row->matched &&
				(st->jointype == JOIN_SEMI || st->jointype == JOIN_ANTI))
				continue;
			ExecStoreMinimalTuple(row->tuple, st->outer_slot, false);
			form_scan_tuple(st, st->outer_slot, st->inner_row);
			if (!ExecQual(st->joinqual, econtext))
			{
				InstrCountFiltered1(&st->css.ss.ps, 1);
				continue;
			}
			row->matched = true;
			if (st->jointype == JOIN_ANTI)
				continue;
			if (ExecQual(st->otherqual, econtext))
				return project(st);
			InstrCountFiltered2(&st->css.ss.ps, 1);
		}
		if (st->inner_done)
			return NULL;

		CHECK_FOR_INTERRUPTS();
		ResetExprContext(econtext);
		slot = ExecProcNode(&st->inner_ps->ss.ps);
		if (TupIsNull(slot))
		{
			st->inner_done = true;
			return NULL;
		}
		st->inner_rows++;
		form_scan_tuple(st, NULL, slot);
		if (!eval_key(st, st->inner_key, &st->inner_hash, &value,
					  &st->inner_hash_value))
			continue;
		st->inner_row = slot;
		st->candidate = st->buckets[st->inner_hash_value & st->bucket_mask];
	}
}

/*
 * After the batch's rows: its outer rows nothing joined, null-extended in
 * a left join, as they are in an anti-join; NULL when done.
 */
static TupleTableSlot *
unmatched(BatchJoinState *st)
{
	ExprContext *econtext = st->css.ss.ps.ps_ExprContext;

	if (st->jointype != JOIN_LEFT && st->jointype != JOIN_ANTI)
		return NULL;
	while (st->unmatched_row < st->n_outer_rows)
	{
		BatchOuterRow *row = &st->outer_rows[st->unmatched_row++];

		if (row->matched)
			continue;
		ExecStoreMinimalTuple(row->tuple, st->outer_slot, false);
		form_scan_tuple(st, st->outer_slot, NULL);
		if (ExecQual(st->otherqual, econtext))
			return project(st);
		InstrCountFiltered2(&st->css.ss.ps, 1);
	}
	return NULL;
}

static TupleTableSlot *
batch_exec(CustomScanState *node)
{
	BatchJoinState *st = (BatchJoinState *) node;

	ResetExprContext(node->ss.ps.ps_ExprContext);
	for (;;)
	{
		TupleTableSlot *slot;

		CHECK_FOR_INTERRUPTS();
		switch (st->phase)
		{
			case BATCH_FILL:
				fill_batch(st);
				if (st->n_outer_rows == 0)
					return NULL;
				start_probe(st);
				st->phase = BATCH_PROBE;
				break;
			case BATCH_PROBE:
				slot = probe(st);
				if (slot)
					return slot;
				st->phase = BATCH_UNMATCHED;
				st->unmatched_row = 0;
				break;
			case BATCH_UNMATCHED:
				slot = unmatched(st);
				if (slot)
					return slot;
				st->phase = BATCH_FILL;
				break;
		}
	}
}

static void
batch_end(CustomScanState *node)
{
	BatchJoinState *st = (BatchJoinState *) node;

	ExecEndNode(st->outer_ps);
	ExecEndNode(&st->inner_ps->ss.ps);
	if (st->batch_cxt)
		MemoryContextDelete(st->batch_cxt);
	st->batch_cxt = NULL;
}

static void
batch_rescan(CustomScanState *node)
{
	BatchJoinState *st = (BatchJoinState *) node;

	/* the children are not lefttree/righttree: pass changed params on */
	if (node->ss.ps.chgParam != NULL)
	{
		UpdateChangedParamSet(st->outer_ps, node->ss.ps.chgParam);
		UpdateChangedParamSet(&st->inner_ps->ss.ps, node->ss.ps.chgParam);
	}
	if (st->outer_ps->chgParam == NULL)
		ExecReScan(st->outer_ps);
	MemoryContextReset(st->batch_cxt);
	st->phase = BATCH_FILL;
	st->n_outer_rows = 0;
	st->has_pending = false;
	st->outer_done = false;
}

/* ------------------------------------------------------------------------
 * EXPLAIN
 * ------------------------------------------------------------------------
 */

static void
explain_expr(const char *label, Node *expr, List *context, ExplainState *es)
{
	if (expr == NULL || (IsA(expr, List) && list_length((List *) expr) == 0))
		return;
	if (IsA(expr, List))
		expr = (Node *) make_ands_explicit((List *) expr);
	ExplainPropertyText(label, deparse_expression(expr, context, true, false), es);
}

static void
batch_explain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	BatchJoinState *st = (BatchJoinState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	JoinType	jointype = intVal(list_nth(cscan->custom_private,
										   BatchPrivateJoinType));
	List	   *context;

	context = set_deparse_context_plan(es->deparse_cxt, &cscan->scan.plan,
									   ancestors);
	ExplainPropertyText("Join Type",
						jointype == JOIN_INNER ? "Inner" :
						jointype == JOIN_LEFT ? "Left" :
						jointype == JOIN_SEMI ? "Semi" : "Anti", es);
	explain_expr("Batch Key", list_nth(cscan->custom_exprs, BatchExprOuterKey),
				 context, es);
	explain_expr("Join Filter", list_nth(cscan->custom_exprs, BatchExprJoinQuals),
				 context, es);
	explain_expr("Filter", list_nth(cscan->custom_exprs, BatchExprOtherQuals),
				 context, es);
	ExplainPropertyInteger("Batch Size", NULL,
						   intVal(list_nth(cscan->custom_private,
										   BatchPrivateBatchSize)), es);
	if (es->analyze)
	{
		int64		queries,
					bytes;

		ExplainPropertyInteger("Batches", NULL, st->batches, es);
		if (st->ddb)
		{
			/* the inner scan shows its BatchGetItem calls and capacity */
			ExplainPropertyInteger("Keys Sent", NULL, st->keys_sent, es);
			return;
		}
		audit_scan_totals(st->inner_ps, &queries, &bytes);
		ExplainPropertyInteger("Athena Queries", NULL, queries, es);
		ExplainPropertyInteger("Keys Sent", NULL, st->keys_sent, es);
		ExplainPropertyInteger("Data Scanned", "bytes", bytes, es);
	}
}
