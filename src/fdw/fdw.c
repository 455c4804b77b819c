/*-------------------------------------------------------------------------
 *
 * fdw.c
 *		The audit_fdw foreign data wrapper: handler, planner callbacks and
 *		EXPLAIN.  The executor callbacks are in scan.c, IMPORT FOREIGN
 *		SCHEMA in import.c.
 *
 * Planning follows postgres_fdw: GetForeignRelSize classifies the
 * relation's conditions (deparse.c) and estimates; GetForeignPaths offers
 * the plain scan and, where Athena sorts as PostgreSQL does, a scan sorted
 * by the query's ORDER BY; GetForeignPlan writes the Athena SQL.  LIMIT is
 * sent to Athena only when the foreign table is the only relation of the
 * query, nothing is grouped, every condition went to Athena and the rows
 * come in the query's order; the Limit node stays above the scan, so the
 * remote LIMIT only ever saves work.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/table.h"
#include "commands/explain.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "fdw/fdw.h"
#include "fdw/scan.h"

/* Sorting in Athena makes each row a little more expensive to produce */
#define SORT_COST_MULTIPLIER 1.05

PG_FUNCTION_INFO_V1(audit_fdw_handler);

/* GUC: audit_fdw.enable_pushdown */
bool		audit_enable_pushdown = true;

static void auditGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
								   Oid foreigntableid);
static void auditGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
								 Oid foreigntableid);
static ForeignScan *auditGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
										Oid foreigntableid,
										ForeignPath *best_path, List *tlist,
										List *scan_clauses, Plan *outer_plan);
static void auditExplainForeignScan(ForeignScanState *node, ExplainState *es);
static int64 pushable_limit(PlannerInfo *root, RelOptInfo *baserel);
static void estimate_costs(AuditFdwRelationInfo *fpinfo, RelOptInfo *baserel);

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
	routine->BeginForeignScan = auditBeginForeignScan;
	routine->IterateForeignScan = auditIterateForeignScan;
	routine->ReScanForeignScan = auditReScanForeignScan;
	routine->EndForeignScan = auditEndForeignScan;
	routine->ExplainForeignScan = auditExplainForeignScan;
	routine->ImportForeignSchema = auditImportForeignSchema;

	PG_RETURN_POINTER(routine);
}

/*
 * The GUCs of the foreign data wrapper, and its executor's cleanup hooks.
 */
void
fdw_init(void)
{
	DefineCustomBoolVariable("audit_fdw.enable_pushdown",
							 "Sends conditions, sort order and LIMIT to Athena.",
							 "Turn off to compare, or to work around a pushdown problem: every condition is then evaluated locally.",
							 &audit_enable_pushdown,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	audit_scan_init();
}

static void
auditGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
					   Oid foreigntableid)
{
	AuditFdwRelationInfo *fpinfo = palloc0(sizeof(AuditFdwRelationInfo));
	ListCell   *lc;
	Selectivity sel;

	baserel->fdw_private = fpinfo;
	fpinfo->options = audit_get_options(foreigntableid, InvalidOid);
	fpinfo->userid = OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
	fpinfo->relation_name = get_rel_name(foreigntableid);

	if (audit_enable_pushdown)
		audit_classify_conditions(root, baserel, baserel->baserestrictinfo,
								  &fpinfo->remote_conds, &fpinfo->local_conds,
								  &fpinfo->widened_conds);
	else
		fpinfo->local_conds = baserel->baserestrictinfo;

	/* columns to fetch: what the query needs plus what local filters read */
	fpinfo->attrs_used = NULL;
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid,
				   &fpinfo->attrs_used);
	foreach(lc, fpinfo->local_conds)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		pull_varattnos((Node *) ri->clause, baserel->relid, &fpinfo->attrs_used);
	}

	fpinfo->single_rel_query = baserel->reloptkind == RELOPT_BASEREL &&
		bms_membership(root->all_baserels) == BMS_SINGLETON;

	fpinfo->local_conds_sel = clauselist_selectivity(root, fpinfo->local_conds,
													 baserel->relid, JOIN_INNER,
													 NULL);
	sel = clauselist_selectivity(root, baserel->baserestrictinfo,
								 baserel->relid, JOIN_INNER, NULL);
	baserel->rows = clamp_row_est(fpinfo->options->estimated_rows * sel);
	baserel->tuples = fpinfo->options->estimated_rows;
	fpinfo->rows = baserel->rows;
	fpinfo->width = baserel->reltarget->width;
	estimate_costs(fpinfo, baserel);
}

/*
 * Athena's cost: a large startup (a query takes seconds), then a per-row
 * transfer cost, plus the local filters.
 */
static void
estimate_costs(AuditFdwRelationInfo *fpinfo, RelOptInfo *baserel)
{
	double		remote_rows;
	QualCost	local_cost;

	remote_rows = fpinfo->local_conds_sel > 0
		? clamp_row_est(fpinfo->rows / fpinfo->local_conds_sel) : fpinfo->rows;
	cost_qual_eval(&local_cost, fpinfo->local_conds, NULL);
	fpinfo->startup_cost = fpinfo->options->fdw_startup_cost + local_cost.startup;
	fpinfo->total_cost = fpinfo->startup_cost +
		remote_rows * (fpinfo->options->fdw_tuple_cost + cpu_tuple_cost +
					   local_cost.per_tuple);
}

/*
 * The LIMIT to send with a scan of baserel, or -1.
 */
static int64
pushable_limit(PlannerInfo *root, RelOptInfo *baserel)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) baserel->fdw_private;
	Query	   *parse = root->parse;
	int64		count,
				offset = 0;

	if (!audit_enable_pushdown || !fpinfo->single_rel_query ||
		fpinfo->local_conds != NIL || root->limit_tuples <= 0)
		return -1;
	if (parse->limitCount == NULL || !IsA(parse->limitCount, Const) ||
		((Const *) parse->limitCount)->constisnull)
		return -1;
	if (parse->limitOption != LIMIT_OPTION_COUNT)
		return -1;
	count = DatumGetInt64(((Const *) parse->limitCount)->constvalue);
	if (parse->limitOffset != NULL)
	{
		if (!IsA(parse->limitOffset, Const))
			return -1;
		if (!((Const *) parse->limitOffset)->constisnull)
			offset = DatumGetInt64(((Const *) parse->limitOffset)->constvalue);
	}
	if (count < 0 || offset < 0 || count > INT_MAX - offset)
		return -1;
	return count + offset;
}

static void
auditGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
					 Oid foreigntableid)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) baserel->fdw_private;
	int64		limit = pushable_limit(root, baserel);
	bool		ordered_query = root->parse->sortClause != NIL;
	ListCell   *lc;
	bool		pathkeys_ok;

	/* the plain scan; it carries the LIMIT only when order does not matter */
	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL,
									 fpinfo->rows,
									 fpinfo->startup_cost,
									 fpinfo->total_cost,
									 NIL,
									 baserel->lateral_relids,
									 NULL,
									 list_make1(makeInteger(ordered_query ? -1 : (int) limit))));

	/* a scan sorted by the query's ORDER BY (or merge join keys) */
	if (!audit_enable_pushdown || root->query_pathkeys == NIL)
		return;
	pathkeys_ok = true;
	foreach(lc, root->query_pathkeys)
	{
		if (!audit_is_foreign_pathkey(root, baserel, (PathKey *) lfirst(lc)))
		{
			pathkeys_ok = false;
			break;
		}
	}
	fpinfo->qp_is_pushdown_safe = pathkeys_ok;
	if (!pathkeys_ok)
		return;
	if (!(ordered_query && root->query_pathkeys == root->sort_pathkeys))
		limit = -1;
	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL,
									 fpinfo->rows,
									 fpinfo->startup_cost,
									 fpinfo->startup_cost +
									 (fpinfo->total_cost - fpinfo->startup_cost) *
									 SORT_COST_MULTIPLIER,
									 root->query_pathkeys,
									 baserel->lateral_relids,
									 NULL,
									 list_make1(makeInteger((int) limit))));
}

static ForeignScan *
auditGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
					Oid foreigntableid, ForeignPath *best_path, List *tlist,
					List *scan_clauses, Plan *outer_plan)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) baserel->fdw_private;
	List	   *remote_conds = NIL;
	List	   *local_exprs = NIL;
	List	   *sql_parts,
			   *runtime_exprs,
			   *roundings,
			   *retrieved_attrs;
	List	   *fdw_private;
	int64		limit = intVal(linitial(best_path->fdw_private));
	ListCell   *lc;

	foreach(lc, scan_clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		if (ri->pseudoconstant)
			continue;
		if (list_member_ptr(fpinfo->remote_conds, ri))
		{
			remote_conds = lappend(remote_conds, ri);
			if (list_member_ptr(fpinfo->widened_conds, ri))
				local_exprs = lappend(local_exprs, ri->clause);
		}
		else
			local_exprs = lappend(local_exprs, ri->clause);
	}

	audit_deparse_select(root, baserel, remote_conds,
						 best_path->path.pathkeys, limit,
						 &sql_parts, &runtime_exprs, &roundings,
						 &retrieved_attrs);

	fdw_private = list_make4(sql_parts, roundings, retrieved_attrs,
							 makeString(fpinfo->relation_name));
	if (fpinfo->options->partition_format)
		fdw_private = lappend(fdw_private,
							  list_make2(makeString(fpinfo->options->partition_format),
										 makeString(psprintf(INT64_FORMAT,
															 fpinfo->options->max_delivery_delay_us))));
	else
		fdw_private = lappend(fdw_private, NIL);

	return make_foreignscan(tlist, local_exprs, baserel->relid, runtime_exprs,
							fdw_private, NIL, NIL, outer_plan);
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

	if (es->verbose)
	{
		List	   *parts = (List *) list_nth(fdw_private, AuditFdwScanPrivateSqlParts);

		ExplainPropertyText("Athena SQL", audit_sql_for_explain(parts), es);
	}
	if (es->analyze)
		audit_explain_analyze(node, es);
}
