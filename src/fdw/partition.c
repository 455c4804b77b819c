/*-------------------------------------------------------------------------
 *
 * partition.c
 *		Partition pruning: the bounds on the event time of an audit record
 *		that also bound the partition column Athena prunes on.
 *
 * The audit table (provisioning's create_audit_table) is partitioned by
 * the hour Firehose delivered a record: a projected string column
 * (datehour, 'yyyy/MM/dd/HH', UTC; IMPORT FOREIGN SCHEMA sets the options
 * time_column, partition_column and partition_format).  Queries filter on
 * when the change happened.  The two are related by one fact: a record
 * reaches S3 after it happens.  So, with D the declared maximum delivery
 * delay and S an allowance for clock skew between DynamoDB and Firehose:
 *
 *	- time >= t (or > t, = t) implies delivery >= t - S, so
 *	  partition >= format(t - S): lower bounds always prune;
 *	- time <= t (or < t, = t) implies delivery <= t + D, so
 *	  partition <= format(t + D): upper bounds prune only when the table
 *	  declares max_delivery_delay.
 *
 * A table laid out by event time (partition_layout 'event_time':
 * create_delivery_stream's layout => 'event_time' routes each record by its
 * own event_time with Firehose dynamic partitioning) has neither delay nor
 * skew: the folder is the event time's hour, so both bounds prune exactly.
 *
 * format() truncates to the pattern's finest field, which keeps both
 * implications true; the pattern runs from the year down with fixed-width
 * fields, so that comparing partition strings compares times (Athena
 * compares varchar by code point).  Only top-level conjuncts of WHERE
 * count: each holds for every row returned.  The derived conditions are
 * added to the shipped WHERE (deparse.c writes them): they select a
 * superset of the partitions holding the wanted rows, and the original
 * condition still filters the rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "fdw/fdw.h"

static bool is_event_time_var(Node *node, RelOptInfo *baserel,
							  AttrNumber attnum);
static bool is_bound_value(Node *node);

static bool
is_event_time_var(Node *node, RelOptInfo *baserel, AttrNumber attnum)
{
	Var		   *var;

	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node == NULL || !IsA(node, Var))
		return false;
	var = (Var *) node;
	return var->varno == baserel->relid && var->varlevelsup == 0 &&
		var->varattno == attnum;
}

/*
 * A value known at executor start at the latest: a constant, a parameter
 * or a stable expression, of a timestamp type (the event time's).
 */
static bool
is_bound_value(Node *node)
{
	Oid			type = exprType(node);

	if (type != TIMESTAMPOID && type != TIMESTAMPTZOID)
		return false;
	if (IsA(node, Const))
		return !((Const *) node)->constisnull &&
			!TIMESTAMP_NOT_FINITE(DatumGetTimestamp(((Const *) node)->constvalue));
	return !contain_var_clause(node) && !contain_volatile_functions(node) &&
		!contain_subplans(node) && !contain_agg_clause(node) &&
		!contain_window_function(node);
}

/*
 * The bounds on the event time among baserel's conditions (top-level
 * conjuncts of WHERE only: each holds for every row returned).
 */
void
audit_partition_bounds(PlannerInfo *root, RelOptInfo *baserel,
					   AuditFdwOptions *options, List **bounds)
{
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
	AttrNumber	attnum;
	Oid			coltype;
	ListCell   *lc;

	*bounds = NIL;
	if (options->partition_column == NULL || options->time_column == NULL ||
		options->partition_format == NULL)
		return;
	attnum = get_attnum(rte->relid, options->time_column);
	if (attnum == InvalidAttrNumber)
		return;
	coltype = get_atttype(rte->relid, attnum);
	if (coltype != TIMESTAMPOID && coltype != TIMESTAMPTZOID)
		return;

	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		OpExpr	   *op;
		Node	   *left,
				   *right,
				   *value;
		char	   *opname;
		bool		var_left;
		bool		lower = false,
					upper = false;

		if (!IsA(ri->clause, OpExpr))
			continue;
		op = (OpExpr *) ri->clause;
		if (list_length(op->args) != 2 || !audit_is_builtin(op->opno))
			continue;
		left = linitial(op->args);
		right = lsecond(op->args);
		if (is_event_time_var(left, baserel, attnum))
		{
			var_left = true;
			value = right;
		}
		else if (is_event_time_var(right, baserel, attnum))
		{
			var_left = false;
			value = left;
		}
		else
			continue;
		/* the same kind of timestamp: no time zone conversion involved */
		if (exprType(value) != coltype || !is_bound_value(value))
			continue;
		opname = get_opname(op->opno);
		if (opname == NULL)
			continue;
		if (strcmp(opname, "=") == 0)
			lower = upper = true;
		else if (strcmp(opname, ">") == 0 || strcmp(opname, ">=") == 0)
		{
			lower = var_left;
			upper = !var_left;
		}
		else if (strcmp(opname, "<") == 0 || strcmp(opname, "<=") == 0)
		{
			lower = !var_left;
			upper = var_left;
		}
		if (upper && options->max_delivery_delay_us < 0 && !options->event_time_partitions)
			upper = false;
		if (lower)
		{
			AuditFdwPartitionBound *b = palloc0(sizeof(AuditFdwPartitionBound));

			b->value = (Expr *) value;
			b->is_upper = false;
			*bounds = lappend(*bounds, b);
		}
		if (upper)
		{
			AuditFdwPartitionBound *b = palloc0(sizeof(AuditFdwPartitionBound));

			b->value = (Expr *) value;
			b->is_upper = true;
			*bounds = lappend(*bounds, b);
		}
	}
}

/*
 * The fraction of the table's bytes a scan with these bounds reads, for the
 * planner: a guess of one tenth per bound side, as PostgreSQL guesses for
 * a range it knows nothing about.
 */
Selectivity
audit_partition_fraction(List *bounds)
{
	bool		have_lower = false,
				have_upper = false;
	ListCell   *lc;

	foreach(lc, bounds)
	{
		AuditFdwPartitionBound *b = lfirst(lc);

		if (b->is_upper)
			have_upper = true;
		else
			have_lower = true;
	}
	if (have_lower && have_upper)
		return 0.005;
	if (have_lower || have_upper)
		return 0.1;
	return 1.0;
}
