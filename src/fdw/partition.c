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
 * Key buckets (create_audit_table's key_buckets; IMPORT sets the options
 * bucket_column, bucket_key and bucket_digits): under each hour a folder
 * per bucket, named by the last bucket_digits hex digits of the record's
 * key_hash of keys.<bucket_key> (the SHA-256 of the key's value, written by
 * the pump: pump/key_hash.h).  A top-level condition col = 'v' or
 * col IN ('v', ...) (= ANY of a constant array) on a text column mapped to
 * keys.<bucket_key>, under a deterministic collation (byte equality, as
 * the hash), selects the buckets of its values: the deparser adds
 * bucket_column IN (...) to the shipped WHERE.  Several such conditions
 * select the buckets they have in common.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "fdw/fdw.h"
#include "pump/key_hash.h"

static bool is_event_time_var(Node *node, RelOptInfo *baserel,
							  AttrNumber attnum);
static bool is_bound_value(Node *node);
static int	compare_strings(const ListCell *a, const ListCell *b);

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
 * or a stable expression, of a timestamp type or date.
 */
static bool
is_bound_value(Node *node)
{
	Oid			type = exprType(node);

	if (type != TIMESTAMPOID && type != TIMESTAMPTZOID && type != DATEOID)
		return false;
	if (IsA(node, Const) && type == DATEOID)
		return !((Const *) node)->constisnull &&
			!DATE_NOT_FINITE(DatumGetDateADT(((Const *) node)->constvalue));
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
		if (!is_bound_value(value))
			continue;
		/* a timestamp or date against timestamptz: converted as the scan's */
		if (coltype == TIMESTAMPTZOID && exprType(value) != TIMESTAMPTZOID)
			value = (Node *) audit_as_timestamptz((Expr *) value);
		else if (exprType(value) != coltype)
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

/* The bucket of a key's value (text in the server encoding). */
static char *
bucket_of(const char *value, int digits)
{
	char	   *utf8 = pg_server_to_any(value, strlen(value), PG_UTF8);
	char		hex[AUDIT_KEY_HASH_DIGITS + 1];

	audit_key_hash(utf8, strlen(utf8), hex);
	return pstrdup(hex + AUDIT_KEY_HASH_DIGITS - digits);
}

/* True when node is a text column of baserel read from keys.<bucket_key>. */
static bool
is_bucket_key_var(Node *node, RelOptInfo *baserel, Oid relid, const AuditFdwOptions *options)
{
	Var		   *var;
	AuditFdwColumn *col;
	char	   *attname;

	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node == NULL || !IsA(node, Var))
		return false;
	var = (Var *) node;
	if (var->varno != baserel->relid || var->varlevelsup != 0 || var->varattno <= 0 ||
		(var->vartype != TEXTOID && var->vartype != VARCHAROID))
		return false;
	attname = get_attname(relid, var->varattno, true);
	if (attname == NULL)
		return false;
	col = audit_get_column(relid, var->varattno, attname);
	return pg_strcasecmp(col->remote_name, "keys") == 0 && list_length(col->path) == 1 &&
		pg_strcasecmp(strVal(linitial(col->path)), options->bucket_key) == 0;
}

static bool
is_text_const(Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node && IsA(node, Const) && !((Const *) node)->constisnull &&
		(((Const *) node)->consttype == TEXTOID || ((Const *) node)->consttype == VARCHAROID);
}

static Const *
strip_const(Node *node)
{
	while (IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return (Const *) node;
}

/* The buckets a clause selects (sorted, distinct), or NIL for any. */
static List *
clause_buckets(Node *clause, RelOptInfo *baserel, Oid relid, const AuditFdwOptions *options)
{
	List	   *out = NIL;
	char	   *opname;

	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *left,
				   *right;
		Const	   *c;

		if (list_length(op->args) != 2 || !audit_is_builtin(op->opno) ||
			!audit_is_deterministic_collation(op->inputcollid))
			return NIL;
		opname = get_opname(op->opno);
		if (opname == NULL || strcmp(opname, "=") != 0)
			return NIL;
		left = linitial(op->args);
		right = lsecond(op->args);
		if (is_bucket_key_var(left, baserel, relid, options) && is_text_const(right))
			c = strip_const(right);
		else if (is_bucket_key_var(right, baserel, relid, options) && is_text_const(left))
			c = strip_const(left);
		else
			return NIL;
		return list_make1(makeString(bucket_of(TextDatumGetCString(c->constvalue),
												options->bucket_digits)));
	}
	if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;
		Node	   *arr;
		ArrayType  *array;
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		Oid			elemtype;

		if (!sa->useOr || list_length(sa->args) != 2 || !audit_is_builtin(sa->opno) ||
			!audit_is_deterministic_collation(sa->inputcollid))
			return NIL;
		opname = get_opname(sa->opno);
		if (opname == NULL || strcmp(opname, "=") != 0 ||
			!is_bucket_key_var(linitial(sa->args), baserel, relid, options))
			return NIL;
		arr = lsecond(sa->args);
		while (IsA(arr, RelabelType))
			arr = (Node *) ((RelabelType *) arr)->arg;
		if (!IsA(arr, Const) || ((Const *) arr)->constisnull)
			return NIL;
		array = DatumGetArrayTypeP(((Const *) arr)->constvalue);
		elemtype = ARR_ELEMTYPE(array);
		if (elemtype != TEXTOID && elemtype != VARCHAROID)
			return NIL;
		deconstruct_array(array, elemtype, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			char	   *b;
			ListCell   *lc;
			bool		seen = false;

			if (nulls[i])
				continue;		/* = NULL matches no row */
			b = bucket_of(TextDatumGetCString(elems[i]), options->bucket_digits);
			foreach(lc, out)
				seen |= strcmp(strVal(lfirst(lc)), b) == 0;
			if (!seen)
				out = lappend(out, makeString(b));
		}
		if (out == NIL)			/* only NULLs: no row; any bucket will do */
			return NIL;
		list_sort(out, compare_strings);
		return out;
	}
	return NIL;
}

/*
 * The key bucket of a value of the bucket key, for a batched join
 * (batchjoin.c), which sends the buckets of its batch's keys.
 */
char *
audit_key_bucket(const char *value, int digits)
{
	return bucket_of(value, digits);
}

/*
 * The number of hex digits of baserel's key buckets when expr is its
 * bucket key's column, else 0.
 */
int
audit_bucket_key_digits(PlannerInfo *root, RelOptInfo *baserel, Expr *expr)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) baserel->fdw_private;
	AuditFdwOptions *options = fpinfo->options;

	if (options->bucket_column == NULL || options->bucket_key == NULL ||
		options->bucket_digits <= 0 ||
		!is_bucket_key_var((Node *) expr, baserel,
						   planner_rt_fetch(baserel->relid, root)->relid, options))
		return 0;
	return options->bucket_digits;
}

static int
compare_strings(const ListCell *a, const ListCell *b)
{
	return strcmp(strVal(lfirst(a)), strVal(lfirst(b)));
}

/*
 * The key buckets baserel's rows can be in (String list, sorted), or NIL
 * when its conditions do not narrow them.
 */
List *
audit_bucket_values(PlannerInfo *root, RelOptInfo *baserel, AuditFdwOptions *options)
{
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
	List	   *buckets = NIL;
	ListCell   *lc;

	if (options->bucket_column == NULL || options->bucket_key == NULL ||
		options->bucket_digits <= 0)
		return NIL;
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		List	   *these = clause_buckets((Node *) ri->clause, baserel, rte->relid, options);
		List	   *common = NIL;
		ListCell   *a,
				   *b;

		if (these == NIL)
			continue;
		if (buckets == NIL)
		{
			buckets = these;
			continue;
		}
		foreach(a, buckets)
			foreach(b, these)
				if (strcmp(strVal(lfirst(a)), strVal(lfirst(b))) == 0)
					common = lappend(common, lfirst(a));
		/* no bucket in common: no row at all; keep the first set */
		if (common != NIL)
			buckets = common;
	}
	return buckets;
}
