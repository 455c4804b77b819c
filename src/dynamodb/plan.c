/*-------------------------------------------------------------------------
 *
 * plan.c
 *		Planning a scan of a foreign table over a DynamoDB table: which call
 *		reads the items, what goes into its expressions, what it costs, and
 *		EXPLAIN.
 *
 * The call, from the query's conditions on the key attributes:
 *	- GetItem: equality on the whole key (the partition key, and the sort
 *	  key when the table has one);
 *	- BatchGetItem: the partition key = ANY(array) (an IN list, or an
 *	  array computed at run time such as ARRAY(SELECT ...)), with the sort
 *	  key's equality when there is a sort key: up to 100 keys a call;
 *	- Query: equality on the partition key, with at most one lower and one
 *	  upper bound on the sort key (=, <, <=, >, >=, BETWEEN) or a prefix
 *	  (LIKE 'abc%' as begins_with); for a list of partition keys on a table
 *	  with a sort key, one Query a key;
 *	- Scan otherwise, split into TotalSegments segments when parallel.
 * A join with another relation on the partition key is a parameterized
 * scan: each outer row is one GetItem (or one Query for a table with a
 * sort key); or, where it costs less, a batched join (fdw/batchjoin.c)
 * whose inner scan is a BatchGetItem of the partition key = ANY(the keys
 * of a batch of outer rows), set before each rescan
 * (ddb_scan_set_batch_keys).  The key conditions must mean in DynamoDB what they mean in
 * PostgreSQL: S keys are text or varchar columns (ranges only under a
 * collation that orders by code point, as DynamoDB orders UTF-8 bytes;
 * equality only under a deterministic one), N keys integer or numeric
 * columns, B keys bytea.
 *
 * FilterExpression: a condition on a column is sent only in a form that is
 * true for every item PostgreSQL would keep.  A comparison holds exactly
 * for items whose attribute has the column's DynamoDB type, so it is sent
 * as "(#a op :v OR NOT attribute_type(#a, :t))": items of another type
 * come back and PostgreSQL decides.  Every condition, sent or not, is
 * checked again locally, so a filter only saves transfer (DynamoDB charges
 * the read capacity of what it reads before filtering).  Float columns,
 * collations that do not order by code point and anything not listed in
 * deparse_filter stay local.
 *
 * Names and values: every attribute name is an ExpressionAttributeNames
 * placeholder (#n0, #n1, ...) and every value an ExpressionAttributeValues
 * one (:v0, ...), computed at executor start from fdw_exprs (constants,
 * parameters, outer columns of a join, stable expressions).
 *
 * Costs: a request costs DDB_REQUEST_COST and a read capacity unit
 * DDB_RCU_COST, from DescribeTable's ItemCount and TableSizeBytes: a
 * GetItem reads one item, a Scan every item (4 KB a unit, half for
 * eventually consistent reads, one request a MB).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/nbtree.h"
#include "access/table.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
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
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"
#include "utils/typcache.h"

#include "compat.h"
#include "dynamodb/dynamodb.h"
#include "fdw/fdw.h"

/* One round trip to DynamoDB */
#define DDB_REQUEST_COST 10.0
/* One read capacity unit: what DynamoDB charges */
#define DDB_RCU_COST 10.0
/* Converting one item */
#define DDB_ITEM_COST 0.01
/* A Scan or Query page */
#define DDB_PAGE_BYTES (1024.0 * 1024.0)
/* BatchGetItem keys a call, IN operands in an expression */
#define DDB_BATCH_KEYS 100
#define DDB_MAX_IN_OPERANDS 100
/* Keys of an array known only at run time, for the estimate */
#define DDB_RUNTIME_KEYS 10

/* begins_with, beside the btree strategies 1..5 */
#define DDB_STRATEGY_PREFIX 10

typedef struct DdbRelInfo
{
	DdbTable   *table;
	List	   *columns;		/* DdbColumn */
	Bitmapset  *attrs_used;
	double		item_bytes;		/* an average item */
	DdbOperation operation;		/* of the unparameterized scan */
	double		keys;			/* items a GetItem/BatchGetItem asks for */
} DdbRelInfo;

/* A condition on a key attribute */
typedef struct KeyCond
{
	bool		sort;			/* the sort key, else the partition key */
	int			strategy;		/* BT*StrategyNumber or DDB_STRATEGY_PREFIX */
	bool		any;			/* = ANY(array) */
	Expr	   *value;
	Oid			valuetype;		/* the value's (the array's element) type */
} KeyCond;

/* The chosen call and its key conditions */
typedef struct KeyPlan
{
	DdbOperation op;
	KeyCond    *pk;				/* GetItem, BatchGetItem, Query */
	KeyCond    *sk_eq;			/* GetItem, BatchGetItem; Query's = */
	KeyCond    *sk_lower;		/* Query */
	KeyCond    *sk_upper;
	KeyCond    *sk_prefix;
	double		keys;			/* a batched join's keys a rescan, or 0 */
} KeyPlan;

/* What the expressions of a scan are made of */
typedef struct DeparseCxt
{
	PlannerInfo *root;
	RelOptInfo *baserel;
	DdbRelInfo *info;
	List	   *names;			/* String: #n<i>'s attribute name */
	List	   *values;			/* Expr: :v<i>'s value */
	List	   *kinds;			/* Integer: DdbValueKind */
	List	   *roles;			/* Integer: DdbValueRole */
} DeparseCxt;

static DdbColumn *column_of(DdbRelInfo *info, AttrNumber attnum);
static DdbColumn *column_var(PlannerInfo *root, RelOptInfo *baserel,
							 DdbRelInfo *info, Node *node);
static bool is_runtime_value(PlannerInfo *root, RelOptInfo *baserel, Node *node);
static char key_type(DdbRelInfo *info, DdbColumn *col, bool sort);
static bool key_cond(PlannerInfo *root, RelOptInfo *baserel, DdbRelInfo *info,
					 Expr *clause, KeyCond *out);
static KeyPlan plan_keys(PlannerInfo *root, RelOptInfo *baserel, DdbRelInfo *info,
						 List *clauses);
static double array_keys(Expr *value);
static void estimate(PlannerInfo *root, RelOptInfo *baserel, DdbRelInfo *info,
					 KeyPlan *kp, double rows, Cost *startup, Cost *total);
static int	name_ref(DeparseCxt *cxt, const char *name);
static int	value_ref(DeparseCxt *cxt, Expr *value, DdbValueKind kind, DdbValueRole role);
static int	type_ref(DeparseCxt *cxt, const char *type);
static bool deparse_filter(DeparseCxt *cxt, Expr *expr, StringInfo buf);
static bool column_filter_kind(DdbColumn *col, DdbValueKind *kind);
static char *like_prefix(Const *pattern);
static const char *strategy_operator(int strategy);
static void add_param_paths(PlannerInfo *root, RelOptInfo *baserel, DdbRelInfo *info);

const char *
ddb_operation_name(DdbOperation op)
{
	switch (op)
	{
		case DDB_SCAN:
			return "Scan";
		case DDB_QUERY:
			return "Query";
		case DDB_GET_ITEM:
			return "GetItem";
		case DDB_BATCH_GET_ITEM:
			return "BatchGetItem";
	}
	return "?";
}

bool
ddb_is_scan_plan(ForeignScan *plan)
{
	Node	   *first;

	if (plan->fdw_private == NIL)
		return false;
	first = linitial(plan->fdw_private);
	return IsA(first, String) && strcmp(strVal(first), "dynamodb") == 0;
}

/* ------------------------------------------------------------------------
 * Relation size and paths
 * ------------------------------------------------------------------------
 */

void
ddbGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	DdbRelInfo *info = palloc0(sizeof(DdbRelInfo));
	Oid			userid = OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
	Relation	rel;
	ListCell   *lc;
	KeyPlan		kp;
	Selectivity sel;

	baserel->fdw_private = info;
	info->table = ddb_table_for(foreigntableid, userid, true);
	rel = table_open(foreigntableid, NoLock);
	info->columns = ddb_columns(rel);
	table_close(rel, NoLock);
	info->item_bytes = info->table->size_bytes / Max(info->table->item_count, 1.0);

	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid,
				   &info->attrs_used);
	foreach(lc, baserel->baserestrictinfo)
		pull_varattnos((Node *) lfirst_node(RestrictInfo, lc)->clause,
					   baserel->relid, &info->attrs_used);

	sel = clauselist_selectivity(root, baserel->baserestrictinfo, baserel->relid,
								 JOIN_INNER, NULL);
	baserel->tuples = info->table->item_count;
	baserel->rows = clamp_row_est(info->table->item_count * sel);

	kp = plan_keys(root, baserel, info, baserel->baserestrictinfo);
	info->operation = kp.op;
	if (kp.op == DDB_GET_ITEM)
		baserel->rows = 1;
	else if (kp.op == DDB_BATCH_GET_ITEM)
	{
		info->keys = array_keys(kp.pk->value);
		baserel->rows = clamp_row_est(Min(baserel->rows, info->keys));
	}
}

void
ddbGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	DdbRelInfo *info = baserel->fdw_private;
	KeyPlan		kp = plan_keys(root, baserel, info, baserel->baserestrictinfo);
	Cost		startup,
				total;

	estimate(root, baserel, info, &kp, baserel->rows, &startup, &total);
	add_path(baserel, (Path *)
			 audit_create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 startup, total, NIL,
									 baserel->lateral_relids, NULL, NIL));

	/*
	 * A parallel Scan: the processes of a Gather take the table's segments
	 * (TotalSegments) in turn.
	 */
	if (kp.op == DDB_SCAN && info->table->scan_segments > 1 &&
		baserel->consider_parallel && bms_is_empty(baserel->lateral_relids))
	{
		int			workers = Min(info->table->scan_segments - 1,
								  max_parallel_workers_per_gather);

		if (workers > 0)
		{
			double		divisor = workers + 1;
			ForeignPath *path;

			path = audit_create_foreignscan_path(root, baserel, NULL,
												 clamp_row_est(baserel->rows / divisor),
												 startup,
												 startup + (total - startup) / divisor,
												 NIL, NULL, NULL, NIL);
			path->path.parallel_aware = true;
			path->path.parallel_safe = true;
			path->path.parallel_workers = workers;
			add_partial_path(baserel, (Path *) path);
		}
	}
	add_param_paths(root, baserel, info);
}

/*
 * Joins on the partition key: a scan parameterized by the other side's
 * value, one GetItem (or Query) per outer row.
 */
static void
add_param_paths(PlannerInfo *root, RelOptInfo *baserel, DdbRelInfo *info)
{
	List	   *clauses = NIL;
	List	   *ppis = NIL;
	DdbColumn  *pk = NULL;
	ListCell   *lc;

	foreach(lc, info->columns)
	{
		DdbColumn  *col = lfirst(lc);

		if (!col->whole_item && strcmp(col->attribute, info->table->partition_key) == 0)
		{
			pk = col;
			break;
		}
	}
	if (pk == NULL)
		return;

	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		if (join_clause_is_movable_to(ri, baserel))
			clauses = lappend(clauses, ri);
	}
	if (baserel->has_eclass_joins)
	{
		Var		   *var = makeVar(baserel->relid, pk->attnum, pk->typid, pk->typmod,
								  InvalidOid, 0);

		clauses = list_concat(clauses,
							  generate_implied_equalities_for_column(root, baserel,
																	 audit_ec_member_matches_var, var,
																	 baserel->lateral_referencers));
	}

	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		KeyCond		kc;
		Relids		required_outer;
		ParamPathInfo *ppi;
		KeyPlan		kp;
		Cost		startup,
					total;
		double		rows;

		if (!key_cond(root, baserel, info, ri->clause, &kc) || kc.sort || kc.any ||
			kc.strategy != BTEqualStrategyNumber)
			continue;
		required_outer = bms_union(ri->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer))
			continue;
		ppi = get_baserel_parampathinfo(root, baserel, required_outer);
		if (list_member_ptr(ppis, ppi))
			continue;
		ppis = lappend(ppis, ppi);

		kp = plan_keys(root, baserel, info,
					   list_concat(list_copy(baserel->baserestrictinfo),
								   list_make1(ri)));
		rows = kp.op == DDB_GET_ITEM ? 1 : clamp_row_est(ppi->ppi_rows);
		estimate(root, baserel, info, &kp, rows, &startup, &total);
		add_path(baserel, (Path *)
				 audit_create_foreignscan_path(root, baserel, NULL, rows, startup, total,
										 NIL, ppi->ppi_req_outer, NULL, NIL));
	}
}

/*
 * The condition a batched join (fdw/batchjoin.c) adds to its inner scan
 * for the join clause op (outer_is_left: the outer side is its left
 * operand): the partition key = ANY(a NULL array of the outer side's type),
 * whose value the join sets before each rescan (ddb_scan_set_batch_keys).
 * NULL unless, with the relation's own conditions, it makes the scan one
 * BatchGetItem (a table with a sort key needs that key's equality).
 */
Expr *
ddb_batch_keys_clause(PlannerInfo *root, RelOptInfo *baserel, OpExpr *op,
					  bool outer_is_left)
{
	DdbRelInfo *info = baserel->fdw_private;
	ScalarArrayOpExpr *saop;
	Expr	   *outer_arg = outer_is_left ? linitial(op->args) : lsecond(op->args);
	Oid			opno = outer_is_left ? get_commutator(op->opno) : op->opno;
	Oid			array_type = get_array_type(exprType((Node *) outer_arg));
	KeyPlan		kp;

	if (!OidIsValid(opno) || !OidIsValid(array_type))
		return NULL;
	saop = makeNode(ScalarArrayOpExpr);
	saop->opno = opno;
	saop->opfuncid = get_opcode(opno);
	saop->useOr = true;
	saop->inputcollid = op->inputcollid;
	saop->args = list_make2(outer_is_left ? lsecond(op->args) : linitial(op->args),
							makeNullConst(array_type, -1, InvalidOid));
	saop->location = -1;
	kp = plan_keys(root, baserel, info,
				   lcons(make_simple_restrictinfo(root, (Expr *) saop),
						 list_copy(baserel->baserestrictinfo)));
	if (kp.op != DDB_BATCH_GET_ITEM || kp.pk->value != lsecond(saop->args))
		return NULL;
	return (Expr *) saop;
}

/*
 * The inner scan of a batched join: a BatchGetItem of keys_clause's keys
 * (ddb_batch_keys_clause), costed for one rescan of keys keys.
 */
Path *
ddb_batch_inner_path(PlannerInfo *root, RelOptInfo *baserel, Expr *keys_clause,
					 double keys)
{
	DdbRelInfo *info = baserel->fdw_private;
	KeyPlan		kp;
	Cost		startup,
				total;
	double		rows = clamp_row_est(Min(baserel->rows, keys));

	kp = plan_keys(root, baserel, info,
				   lcons(make_simple_restrictinfo(root, keys_clause),
						 list_copy(baserel->baserestrictinfo)));
	Assert(kp.op == DDB_BATCH_GET_ITEM);
	kp.keys = Max(keys, 1.0);
	estimate(root, baserel, info, &kp, rows, &startup, &total);
	return (Path *) audit_create_foreignscan_path(root, baserel, NULL, rows,
												  startup, total, NIL, NULL,
												  NULL, list_make1(keys_clause));
}

/*
 * Costs of one execution of a scan: requests and read capacity, from the
 * table's size; then converting and filtering the rows.
 */
static void
estimate(PlannerInfo *root, RelOptInfo *baserel, DdbRelInfo *info, KeyPlan *kp,
		 double rows, Cost *startup, Cost *total)
{
	DdbTable   *t = info->table;
	double		unit = t->consistent_read ? 1.0 : 0.5;
	double		item_units = ceil(Max(info->item_bytes, 1.0) / 4096.0) * unit;
	double		requests;
	double		units;
	double		items;
	QualCost	qual;

	switch (kp->op)
	{
		case DDB_GET_ITEM:
			requests = 1;
			items = 1;
			units = item_units;
			break;
		case DDB_BATCH_GET_ITEM:
			items = kp->keys > 0 ? kp->keys : array_keys(kp->pk->value);
			requests = ceil(items / DDB_BATCH_KEYS);
			units = items * item_units;
			break;
		case DDB_QUERY:
			{
				/* the items the key conditions select */
				double		bytes;
				double		keys = kp->pk->any ? array_keys(kp->pk->value) : 1;

				items = Max(rows, 1.0);
				bytes = items * info->item_bytes;
				requests = keys + floor(bytes / DDB_PAGE_BYTES);
				units = Max(ceil(bytes / 4096.0), 1.0) * unit;
				break;
			}
		case DDB_SCAN:
		default:
			items = Max(t->item_count, 1.0);
			requests = 1 + floor(t->size_bytes / DDB_PAGE_BYTES);
			units = Max(ceil(t->size_bytes / 4096.0), 1.0) * unit;
			break;
	}
	cost_qual_eval(&qual, baserel->baserestrictinfo, root);
	*startup = DDB_REQUEST_COST + qual.startup;
	*total = *startup + (requests - 1) * DDB_REQUEST_COST + units * DDB_RCU_COST +
		items * (DDB_ITEM_COST + cpu_tuple_cost + qual.per_tuple);
}

/* Keys in a = ANY(array) value: the constant's length, or a guess. */
static double
array_keys(Expr *value)
{
	if (IsA(value, Const) && !((Const *) value)->constisnull)
	{
		ArrayType  *arr = DatumGetArrayTypeP(((Const *) value)->constvalue);

		return Max(ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)), 1);
	}
	return DDB_RUNTIME_KEYS;
}

/* ------------------------------------------------------------------------
 * Key conditions
 * ------------------------------------------------------------------------
 */

static DdbColumn *
column_of(DdbRelInfo *info, AttrNumber attnum)
{
	ListCell   *lc;

	foreach(lc, info->columns)
	{
		DdbColumn  *col = lfirst(lc);

		if (col->attnum == attnum)
			return col;
	}
	return NULL;
}

/* The column node is (through relabeling), when it is one of baserel's. */
static DdbColumn *
column_var(PlannerInfo *root, RelOptInfo *baserel, DdbRelInfo *info, Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node == NULL || !IsA(node, Var))
		return NULL;
	if (((Var *) node)->varno != baserel->relid || ((Var *) node)->varlevelsup != 0 ||
		((Var *) node)->varattno <= 0)
		return NULL;
	return column_of(info, ((Var *) node)->varattno);
}

/*
 * A value known before the scan reads anything: no column of this
 * relation, nothing volatile, no subquery run per row.
 */
static bool
is_runtime_value(PlannerInfo *root, RelOptInfo *baserel, Node *node)
{
	if (bms_is_member(baserel->relid, pull_varnos(root, node)))
		return false;
	if (contain_volatile_functions(node) || contain_subplans(node))
		return false;
	if (contain_agg_clause(node) || contain_window_function(node))
		return false;
	return true;
}

/* The DynamoDB type a key column holds ('S', 'N', 'B'), 0 when it cannot. */
static char
key_type(DdbRelInfo *info, DdbColumn *col, bool sort)
{
	char		declared = sort ? info->table->sort_key_type : info->table->partition_key_type;
	DdbValueKind kind = ddb_value_kind_of_type(col->typid);

	if (kind == DDB_VALUE_BOOL || kind == 0)
		return 0;
	if (declared != 0 && declared != (char) kind)
		return 0;
	return (char) kind;
}

/*
 * Is clause a condition on a key attribute that DynamoDB evaluates as
 * PostgreSQL does?  Fills out.
 */
static bool
key_cond(PlannerInfo *root, RelOptInfo *baserel, DdbRelInfo *info, Expr *clause,
		 KeyCond *out)
{
	DdbTable   *t = info->table;
	DdbColumn  *col = NULL;
	Node	   *value = NULL;
	Oid			opno;
	Oid			collid;
	bool		commuted = false;
	char		ktype;
	TypeCacheEntry *tce;

	memset(out, 0, sizeof(*out));
	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) clause;

		opno = op->opno;
		collid = op->inputcollid;
		if ((col = column_var(root, baserel, info, linitial(op->args))) != NULL)
			value = lsecond(op->args);
		else if ((col = column_var(root, baserel, info, lsecond(op->args))) != NULL)
		{
			value = linitial(op->args);
			commuted = true;
		}
	}
	else if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;

		if (!sa->useOr)
			return false;
		opno = sa->opno;
		collid = sa->inputcollid;
		col = column_var(root, baserel, info, linitial(sa->args));
		value = lsecond(sa->args);
		out->any = true;
	}
	else
		return false;
	if (col == NULL || col->whole_item || value == NULL)
		return false;
	if (strcmp(col->attribute, t->partition_key) == 0)
		out->sort = false;
	else if (t->sort_key && strcmp(col->attribute, t->sort_key) == 0)
		out->sort = true;
	else
		return false;
	if ((ktype = key_type(info, col, out->sort)) == 0)
		return false;
	if (!is_runtime_value(root, baserel, value))
		return false;
	out->value = (Expr *) value;
	out->valuetype = exprType(value);
	if (out->any)
	{
		out->valuetype = get_element_type(out->valuetype);
		if (!OidIsValid(out->valuetype))
			return false;
	}
	if ((char) ddb_value_kind_of_type(out->valuetype) != ktype)
		return false;

	/* begins_with from LIKE 'abc%' on an S sort key */
	if (!out->any && !commuted && opno == OID_TEXT_LIKE_OP && out->sort && ktype == 'S')
	{
		if (!IsA(value, Const) || ((Const *) value)->constisnull ||
			like_prefix((Const *) value) == NULL)
			return false;
		out->strategy = DDB_STRATEGY_PREFIX;
		out->value = (Expr *) makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
										CStringGetTextDatum(like_prefix((Const *) value)),
										false, false);
		out->valuetype = TEXTOID;
		return true;
	}

	tce = lookup_type_cache(col->typid, TYPECACHE_BTREE_OPFAMILY);
	if (!OidIsValid(tce->btree_opf))
		return false;
	out->strategy = get_op_opfamily_strategy(opno, tce->btree_opf);
	if (out->strategy == 0)
		return false;
	if (commuted)
		out->strategy = BTCommuteStrategyNumber(out->strategy);
	if (out->any && out->strategy != BTEqualStrategyNumber)
		return false;
	if (out->any && out->sort)
		return false;
	if (ktype == 'S')
	{
		if (out->strategy == BTEqualStrategyNumber
			? !audit_is_deterministic_collation(collid)
			: !audit_is_code_point_collation(collid))
			return false;
	}
	if (!out->sort && out->strategy != BTEqualStrategyNumber)
		return false;
	return true;
}

/* The call for these conditions, and the key conditions it uses. */
static KeyPlan
plan_keys(PlannerInfo *root, RelOptInfo *baserel, DdbRelInfo *info, List *clauses)
{
	KeyPlan		kp;
	KeyCond    *pk_eq = NULL;
	KeyCond    *pk_any = NULL;
	ListCell   *lc;

	memset(&kp, 0, sizeof(kp));
	kp.op = DDB_SCAN;
	if (!audit_enable_pushdown)
		return kp;
	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		KeyCond		kc;
		KeyCond    *copy;

		if (ri->pseudoconstant || !key_cond(root, baserel, info, ri->clause, &kc))
			continue;
		copy = palloc(sizeof(KeyCond));
		*copy = kc;
		if (!kc.sort)
		{
			if (kc.any)
			{
				if (pk_any == NULL)
					pk_any = copy;
			}
			else if (pk_eq == NULL)
				pk_eq = copy;
			continue;
		}
		switch (kc.strategy)
		{
			case BTEqualStrategyNumber:
				if (kp.sk_eq == NULL)
					kp.sk_eq = copy;
				break;
			case BTLessStrategyNumber:
			case BTLessEqualStrategyNumber:
				if (kp.sk_upper == NULL)
					kp.sk_upper = copy;
				break;
			case BTGreaterStrategyNumber:
			case BTGreaterEqualStrategyNumber:
				if (kp.sk_lower == NULL)
					kp.sk_lower = copy;
				break;
			case DDB_STRATEGY_PREFIX:
				if (kp.sk_prefix == NULL)
					kp.sk_prefix = copy;
				break;
		}
	}
	if (pk_eq && (info->table->sort_key == NULL || kp.sk_eq))
	{
		kp.op = DDB_GET_ITEM;
		kp.pk = pk_eq;
	}
	else if (pk_eq)
	{
		kp.op = DDB_QUERY;
		kp.pk = pk_eq;
	}
	else if (pk_any && (info->table->sort_key == NULL || kp.sk_eq))
	{
		kp.op = DDB_BATCH_GET_ITEM;
		kp.pk = pk_any;
	}
	else if (pk_any)
	{
		/* one Query for each partition key of the list */
		kp.op = DDB_QUERY;
		kp.pk = pk_any;
	}
	if (kp.op != DDB_QUERY && kp.op != DDB_GET_ITEM && kp.op != DDB_BATCH_GET_ITEM)
		kp.sk_eq = NULL;
	return kp;
}

/*
 * The fixed prefix of a LIKE pattern that is a prefix and a final %
 * ('abc%', with backslash escapes), or NULL.
 */
static char *
like_prefix(Const *pattern)
{
	char	   *p = TextDatumGetCString(pattern->constvalue);
	StringInfoData buf;

	initStringInfo(&buf);
	for (; *p; p++)
	{
		if (*p == '\\')
		{
			if (p[1] == '\0')
				return NULL;
			appendStringInfoChar(&buf, *++p);
		}
		else if (*p == '%')
			return (p[1] == '\0' && buf.len > 0) ? buf.data : NULL;
		else if (*p == '_')
			return NULL;
		else
			appendStringInfoChar(&buf, *p);
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * Expressions
 * ------------------------------------------------------------------------
 */

static int
name_ref(DeparseCxt *cxt, const char *name)
{
	ListCell   *lc;

	foreach(lc, cxt->names)
	{
		if (strcmp(strVal(lfirst(lc)), name) == 0)
			return foreach_current_index(lc);
	}
	cxt->names = lappend(cxt->names, makeString(pstrdup(name)));
	return list_length(cxt->names) - 1;
}

static int
value_ref(DeparseCxt *cxt, Expr *value, DdbValueKind kind, DdbValueRole role)
{
	cxt->values = lappend(cxt->values, value);
	cxt->kinds = lappend_int(cxt->kinds, kind);
	cxt->roles = lappend_int(cxt->roles, role);
	return list_length(cxt->values) - 1;
}

/* A FilterExpression value that is an attribute type name ("S"). */
static int
type_ref(DeparseCxt *cxt, const char *type)
{
	return value_ref(cxt, (Expr *) makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
											 CStringGetTextDatum(type), false, false),
					 DDB_VALUE_S, DDB_ROLE_FILTER);
}

static const char *
strategy_operator(int strategy)
{
	switch (strategy)
	{
		case BTLessStrategyNumber:
			return "<";
		case BTLessEqualStrategyNumber:
			return "<=";
		case BTEqualStrategyNumber:
			return "=";
		case BTGreaterEqualStrategyNumber:
			return ">=";
		case BTGreaterStrategyNumber:
			return ">";
	}
	return NULL;
}

/* The attribute value type a column's comparisons are exact for. */
static bool
column_filter_kind(DdbColumn *col, DdbValueKind *kind)
{
	if (col->whole_item)
		return false;
	*kind = ddb_value_kind_of_type(col->typid);
	return *kind != 0;
}

static const char *
kind_type_name(DdbValueKind kind)
{
	switch (kind)
	{
		case DDB_VALUE_S:
			return "S";
		case DDB_VALUE_N:
			return "N";
		case DDB_VALUE_B:
			return "B";
		case DDB_VALUE_BOOL:
			return "BOOL";
	}
	return NULL;
}

/*
 * Append a FilterExpression for expr that holds for every item on which
 * PostgreSQL finds expr true (see the header); false when there is none.
 */
static bool
deparse_filter(DeparseCxt *cxt, Expr *expr, StringInfo buf)
{
	PlannerInfo *root = cxt->root;
	RelOptInfo *baserel = cxt->baserel;
	DdbRelInfo *info = cxt->info;
	DdbColumn  *col;
	DdbValueKind kind;

	if (IsA(expr, BoolExpr))
	{
		BoolExpr   *b = (BoolExpr *) expr;
		ListCell   *lc;

		if (b->boolop == NOT_EXPR)
		{
			/* NOT bool_column */
			col = column_var(root, baserel, info, linitial(b->args));
			if (col == NULL || col->typid != BOOLOID || col->whole_item)
				return false;
			appendStringInfo(buf, "(#n%d = :v%d OR NOT attribute_type(#n%d, :v%d))",
							 name_ref(cxt, col->attribute),
							 value_ref(cxt, (Expr *) makeBoolConst(false, false),
									   DDB_VALUE_BOOL, DDB_ROLE_FILTER),
							 name_ref(cxt, col->attribute), type_ref(cxt, "BOOL"));
			return true;
		}
		appendStringInfoChar(buf, '(');
		foreach(lc, b->args)
		{
			if (foreach_current_index(lc) > 0)
				appendStringInfoString(buf, b->boolop == AND_EXPR ? " AND " : " OR ");
			if (!deparse_filter(cxt, lfirst(lc), buf))
				return false;
		}
		appendStringInfoChar(buf, ')');
		return true;
	}
	if (IsA(expr, Var))
	{
		col = column_var(root, baserel, info, (Node *) expr);
		if (col == NULL || col->typid != BOOLOID || col->whole_item)
			return false;
		appendStringInfo(buf, "(#n%d = :v%d OR NOT attribute_type(#n%d, :v%d))",
						 name_ref(cxt, col->attribute),
						 value_ref(cxt, (Expr *) makeBoolConst(true, false),
								   DDB_VALUE_BOOL, DDB_ROLE_FILTER),
						 name_ref(cxt, col->attribute), type_ref(cxt, "BOOL"));
		return true;
	}
	if (IsA(expr, NullTest))
	{
		NullTest   *nt = (NullTest *) expr;
		int			n;

		col = column_var(root, baserel, info, (Node *) nt->arg);
		if (col == NULL || col->whole_item || nt->argisrow)
			return false;
		n = name_ref(cxt, col->attribute);
		if (nt->nulltesttype == IS_NULL)
			appendStringInfo(buf, "(attribute_not_exists(#n%d) OR attribute_type(#n%d, :v%d))",
							 n, n, type_ref(cxt, "NULL"));
		else
			appendStringInfo(buf, "(attribute_exists(#n%d) AND NOT attribute_type(#n%d, :v%d))",
							 n, n, type_ref(cxt, "NULL"));
		return true;
	}
	if (IsA(expr, OpExpr) && list_length(((OpExpr *) expr)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) expr;
		Node	   *value;
		bool		commuted = false;
		const char *opname;
		TypeCacheEntry *tce;
		int			n;
		int			strategy;

		if ((col = column_var(root, baserel, info, linitial(op->args))) != NULL)
			value = lsecond(op->args);
		else if ((col = column_var(root, baserel, info, lsecond(op->args))) != NULL)
		{
			value = linitial(op->args);
			commuted = true;
		}
		else
			return false;
		if (!column_filter_kind(col, &kind) || !is_runtime_value(root, baserel, value))
			return false;
		if (ddb_value_kind_of_type(exprType(value)) != kind)
			return false;
		n = name_ref(cxt, col->attribute);

		if (op->opno == OID_TEXT_LIKE_OP && !commuted && kind == DDB_VALUE_S)
		{
			char	   *prefix;

			if (!IsA(value, Const) || ((Const *) value)->constisnull ||
				(prefix = like_prefix((Const *) value)) == NULL)
				return false;
			appendStringInfo(buf, "(begins_with(#n%d, :v%d) OR NOT attribute_type(#n%d, :v%d))",
							 n, value_ref(cxt, (Expr *) makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
																  CStringGetTextDatum(prefix), false, false),
										  kind, DDB_ROLE_FILTER),
							 n, type_ref(cxt, "S"));
			return true;
		}
		tce = lookup_type_cache(col->typid, TYPECACHE_BTREE_OPFAMILY);
		if (!OidIsValid(tce->btree_opf))
			return false;
		strategy = get_op_opfamily_strategy(op->opno, tce->btree_opf);
		if (strategy != 0)
		{
			if (commuted)
				strategy = BTCommuteStrategyNumber(strategy);
			opname = strategy_operator(strategy);
		}
		else
		{
			/* <> is the negator of the family's equality */
			Oid			eq = get_negator(op->opno);

			if (!OidIsValid(eq) ||
				get_op_opfamily_strategy(eq, tce->btree_opf) != BTEqualStrategyNumber)
				return false;
			opname = "<>";
			strategy = BTEqualStrategyNumber;
		}
		if (kind == DDB_VALUE_S &&
			(strategy == BTEqualStrategyNumber
			 ? !audit_is_deterministic_collation(op->inputcollid)
			 : !audit_is_code_point_collation(op->inputcollid)))
			return false;
		if (kind == DDB_VALUE_BOOL && strategy != BTEqualStrategyNumber)
			return false;
		appendStringInfo(buf, "(#n%d %s :v%d OR NOT attribute_type(#n%d, :v%d))",
						 n, opname, value_ref(cxt, (Expr *) value, kind, DDB_ROLE_FILTER),
						 n, type_ref(cxt, kind_type_name(kind)));
		return true;
	}
	if (IsA(expr, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) expr;
		Const	   *arr;
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;
		int16		elmlen;
		bool		elmbyval;
		char		elmalign;
		Oid			elemtype;
		TypeCacheEntry *tce;
		int			n;
		int			sent = 0;

		col = column_var(root, baserel, info, linitial(sa->args));
		if (col == NULL || !sa->useOr || !column_filter_kind(col, &kind) ||
			kind == DDB_VALUE_BOOL)
			return false;
		if (!IsA(lsecond(sa->args), Const) || ((Const *) lsecond(sa->args))->constisnull)
			return false;
		arr = lsecond(sa->args);
		elemtype = get_element_type(arr->consttype);
		if (ddb_value_kind_of_type(elemtype) != kind)
			return false;
		tce = lookup_type_cache(col->typid, TYPECACHE_BTREE_OPFAMILY);
		if (!OidIsValid(tce->btree_opf) ||
			get_op_opfamily_strategy(sa->opno, tce->btree_opf) != BTEqualStrategyNumber)
			return false;
		if (kind == DDB_VALUE_S && !audit_is_deterministic_collation(sa->inputcollid))
			return false;
		get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
		deconstruct_array(DatumGetArrayTypeP(arr->constvalue), elemtype, elmlen,
						  elmbyval, elmalign, &elems, &nulls, &nelems);
		if (nelems == 0 || nelems > DDB_MAX_IN_OPERANDS)
			return false;
		n = name_ref(cxt, col->attribute);
		appendStringInfo(buf, "(#n%d IN (", n);
		for (int i = 0; i < nelems; i++)
		{
			if (nulls[i])
				continue;
			appendStringInfo(buf, "%s:v%d", sent++ > 0 ? ", " : "",
							 value_ref(cxt, (Expr *) makeConst(elemtype, -1, arr->constcollid,
															   elmlen, elems[i], false, elmbyval),
									   kind, DDB_ROLE_FILTER));
		}
		if (sent == 0)
			return false;
		appendStringInfo(buf, ") OR NOT attribute_type(#n%d, :v%d))", n,
						 type_ref(cxt, kind_type_name(kind)));
		return true;
	}
	return false;
}

/* ------------------------------------------------------------------------
 * Plan
 * ------------------------------------------------------------------------
 */

/*
 * Does a FilterExpression name a key attribute?  A Query's may not (API
 * reference, Query: "A filter expression cannot contain partition key or
 * sort key attributes").
 */
static bool
refers_to_key(DeparseCxt *cxt, const char *text)
{
	for (const char *p = text; *p; p++)
	{
		if (p[0] == '#' && p[1] == 'n' && isdigit((unsigned char) p[2]))
		{
			const char *name = strVal(list_nth(cxt->names, atoi(p + 2)));

			if (strcmp(name, cxt->info->table->partition_key) == 0 ||
				(cxt->info->table->sort_key && strcmp(name, cxt->info->table->sort_key) == 0))
				return true;
		}
	}
	return false;
}

ForeignScan *
ddbGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				  ForeignPath *best_path, List *tlist, List *scan_clauses,
				  Plan *outer_plan)
{
	DdbRelInfo *info = baserel->fdw_private;
	DeparseCxt	cxt;
	KeyPlan		kp;
	StringInfoData keycond;
	StringInfoData sortcond;
	StringInfoData filter;
	StringInfoData projection;
	List	   *key_names = NIL;
	List	   *fdw_private;
	ListCell   *lc;
	bool		whole = false;
	int			segments = 1;

	memset(&cxt, 0, sizeof(cxt));
	cxt.root = root;
	cxt.baserel = baserel;
	cxt.info = info;
	initStringInfo(&keycond);
	initStringInfo(&sortcond);
	initStringInfo(&filter);
	initStringInfo(&projection);

	/* a batched join's inner scan: its keys clause comes first */
	if (best_path->fdw_private != NIL)
		kp = plan_keys(root, baserel, info,
					   lcons(make_simple_restrictinfo(root, linitial(best_path->fdw_private)),
							 list_copy(scan_clauses)));
	else
		kp = plan_keys(root, baserel, info, scan_clauses);

	if (kp.op == DDB_QUERY)
	{
		int			n = name_ref(&cxt, info->table->partition_key);
		int			s = info->table->sort_key ? name_ref(&cxt, info->table->sort_key) : -1;

		appendStringInfo(&keycond, "#n%d = :v%d", n,
						 value_ref(&cxt, kp.pk->value, ddb_value_kind_of_type(kp.pk->valuetype),
								   kp.pk->any ? DDB_ROLE_PARTITION_KEYS
								   : DDB_ROLE_KEY_CONDITION));
		if (kp.sk_eq)
			appendStringInfo(&sortcond, "#n%d = :v%d", s,
							 value_ref(&cxt, kp.sk_eq->value,
									   ddb_value_kind_of_type(kp.sk_eq->valuetype),
									   DDB_ROLE_SORT_CONDITION));
		else if (kp.sk_prefix)
			appendStringInfo(&sortcond, "begins_with(#n%d, :v%d)", s,
							 value_ref(&cxt, kp.sk_prefix->value, DDB_VALUE_S,
									   DDB_ROLE_SORT_CONDITION));
		else if (kp.sk_lower && kp.sk_upper &&
				 kp.sk_lower->strategy == BTGreaterEqualStrategyNumber &&
				 kp.sk_upper->strategy == BTLessEqualStrategyNumber)
		{
			int			lo = value_ref(&cxt, kp.sk_lower->value,
									   ddb_value_kind_of_type(kp.sk_lower->valuetype),
									   DDB_ROLE_SORT_CONDITION);
			int			hi = value_ref(&cxt, kp.sk_upper->value,
									   ddb_value_kind_of_type(kp.sk_upper->valuetype),
									   DDB_ROLE_SORT_CONDITION);

			appendStringInfo(&sortcond, "#n%d BETWEEN :v%d AND :v%d", s, lo, hi);
		}
		else if (kp.sk_lower || kp.sk_upper)
		{
			/* DynamoDB takes one sort key condition: the lower bound first */
			KeyCond    *kc = kp.sk_lower ? kp.sk_lower : kp.sk_upper;

			appendStringInfo(&sortcond, "#n%d %s :v%d", s, strategy_operator(kc->strategy),
							 value_ref(&cxt, kc->value, ddb_value_kind_of_type(kc->valuetype),
									   DDB_ROLE_SORT_CONDITION));
		}
	}
	else if (kp.op == DDB_GET_ITEM || kp.op == DDB_BATCH_GET_ITEM)
	{
		value_ref(&cxt, kp.pk->value, ddb_value_kind_of_type(kp.pk->valuetype),
				  kp.op == DDB_GET_ITEM ? DDB_ROLE_PARTITION_KEY : DDB_ROLE_PARTITION_KEYS);
		if (kp.sk_eq)
			value_ref(&cxt, kp.sk_eq->value, ddb_value_kind_of_type(kp.sk_eq->valuetype),
					  DDB_ROLE_SORT_KEY);
	}

	/* FilterExpression: Scan and Query only */
	if (audit_enable_pushdown && (kp.op == DDB_SCAN || kp.op == DDB_QUERY))
	{
		foreach(lc, scan_clauses)
		{
			RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
			StringInfoData one;
			int			nnames = list_length(cxt.names);
			int			nvalues = list_length(cxt.values);

			if (ri->pseudoconstant)
				continue;
			initStringInfo(&one);
			if (!deparse_filter(&cxt, ri->clause, &one) ||
				(kp.op == DDB_QUERY && refers_to_key(&cxt, one.data)))
			{
				/* forget what the failed condition referenced */
				cxt.names = list_truncate(cxt.names, nnames);
				cxt.values = list_truncate(cxt.values, nvalues);
				cxt.kinds = list_truncate(cxt.kinds, nvalues);
				cxt.roles = list_truncate(cxt.roles, nvalues);
				continue;
			}
			if (filter.len > 0)
				appendStringInfoString(&filter, " AND ");
			appendStringInfoString(&filter, one.data);
		}
	}

	/* ProjectionExpression: the attributes of the columns read */
	if (bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, info->attrs_used))
		whole = true;
	foreach(lc, info->columns)
	{
		DdbColumn  *col = lfirst(lc);

		if (!bms_is_member(col->attnum - FirstLowInvalidHeapAttributeNumber,
						   info->attrs_used))
			continue;
		if (col->whole_item)
			whole = true;
	}
	if (!whole)
	{
		foreach(lc, info->columns)
		{
			DdbColumn  *col = lfirst(lc);

			if (!bms_is_member(col->attnum - FirstLowInvalidHeapAttributeNumber,
							   info->attrs_used))
				continue;
			appendStringInfo(&projection, "%s#n%d", projection.len > 0 ? ", " : "",
							 name_ref(&cxt, col->attribute));
		}
		/* count(*) and the like: the partition key is the smallest read */
		if (projection.len == 0)
			appendStringInfo(&projection, "#n%d", name_ref(&cxt, info->table->partition_key));
	}

	if (best_path->path.parallel_aware)
		segments = info->table->scan_segments;
	key_names = list_make1(makeString(info->table->partition_key));
	if (info->table->sort_key)
		key_names = lappend(key_names, makeString(info->table->sort_key));

	fdw_private = list_make5(makeString("dynamodb"),
							 makeInteger(kp.op),
							 makeString(info->table->name),
							 makeString(keycond.data),
							 makeString(sortcond.data));
	fdw_private = lappend(fdw_private, makeString(filter.data));
	fdw_private = lappend(fdw_private, makeString(projection.data));
	fdw_private = lappend(fdw_private, cxt.names);
	fdw_private = lappend(fdw_private, cxt.kinds);
	fdw_private = lappend(fdw_private, cxt.roles);
	fdw_private = lappend(fdw_private, makeInteger(info->table->consistent_read));
	fdw_private = lappend(fdw_private, makeInteger(segments));
	fdw_private = lappend(fdw_private, key_names);

	/* every condition is checked locally too (see the header) */
	scan_clauses = extract_actual_clauses(scan_clauses, false);
	return make_foreignscan(tlist, scan_clauses, baserel->relid, cxt.values,
							fdw_private, NIL, NIL, outer_plan);
}

/* ------------------------------------------------------------------------
 * EXPLAIN
 * ------------------------------------------------------------------------
 */

/* An expression with its #n placeholders replaced by the quoted names. */
static char *
with_names(const char *expr, List *names)
{
	StringInfoData buf;
	const char *p;

	initStringInfo(&buf);
	for (p = expr; *p; p++)
	{
		if (p[0] == '#' && p[1] == 'n' && isdigit((unsigned char) p[2]))
		{
			int			i = atoi(p + 2);

			if (i < list_length(names))
			{
				appendStringInfoString(&buf, quote_identifier(strVal(list_nth(names, i))));
				p += 2;
				while (isdigit((unsigned char) p[1]))
					p++;
				continue;
			}
		}
		appendStringInfoChar(&buf, *p);
	}
	return buf.data;
}

void
ddbExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	List	   *priv = plan->fdw_private;
	List	   *names = list_nth(priv, DdbPrivateNames);
	DdbOperation op = intVal(list_nth(priv, DdbPrivateOperation));
	const char *keycond = strVal(list_nth(priv, DdbPrivateKeyCondition));
	const char *sortcond = strVal(list_nth(priv, DdbPrivateSortCondition));
	const char *filter = strVal(list_nth(priv, DdbPrivateFilter));
	const char *projection = strVal(list_nth(priv, DdbPrivateProjection));
	int			segments = intVal(list_nth(priv, DdbPrivateSegments));

	ExplainPropertyText("DynamoDB", psprintf("%s %s%s", ddb_operation_name(op),
											 strVal(list_nth(priv, DdbPrivateTable)),
											 op == DDB_QUERY &&
											 list_member_int(list_nth(priv, DdbPrivateValueRoles),
															 DDB_ROLE_PARTITION_KEYS)
											 ? ", one for each partition key" : ""), es);
	if (*keycond)
		ExplainPropertyText("Key Condition",
							*sortcond ? with_names(psprintf("%s AND %s", keycond, sortcond), names)
							: with_names(keycond, names), es);
	if (op == DDB_GET_ITEM || op == DDB_BATCH_GET_ITEM)
	{
		List	   *keys = list_nth(priv, DdbPrivateKeyNames);
		StringInfoData buf;
		ListCell   *lc;

		initStringInfo(&buf);
		foreach(lc, keys)
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "",
							 quote_identifier(strVal(lfirst(lc))));
		ExplainPropertyText("Key", buf.data, es);
	}
	if (*filter)
		ExplainPropertyText("Filter Expression", with_names(filter, names), es);
	if (es->verbose)
		ExplainPropertyText("Projection Expression",
							*projection ? with_names(projection, names) : "(every attribute)",
							es);
	if (intVal(list_nth(priv, DdbPrivateConsistentRead)))
		ExplainPropertyText("Consistent Read", "true", es);
	if (segments > 1)
		ExplainPropertyInteger("Total Segments", NULL, segments, es);
	if (es->analyze)
		ddb_explain_analyze(node, es);
}
