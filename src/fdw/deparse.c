/*-------------------------------------------------------------------------
 *
 * deparse.c
 *		Which expressions Athena may evaluate, and the Athena (Trino) SQL of
 *		a scan, a join or an upper relation (grouping, DISTINCT, ORDER BY,
 *		LIMIT).
 *
 * As in postgres_fdw, pushdown is two steps: classify (is this expression
 * proven to mean the same in Athena?) and deparse (write it).  Whatever is
 * not proven safe stays local.  The rules of the Athena dialect that this
 * file keeps:
 *	- identifiers in double quotes with "" doubling; string literals with ''
 *	  doubling and no backslash escapes;
 *	- LIKE always with an explicit ESCAPE, and a pattern rewritten so that
 *	  the escape character only precedes %, _ or itself (Trino rejects any
 *	  other escape sequence, PostgreSQL reads it as the character itself);
 *	  ILIKE as lower(x) LIKE lower(pattern), which is what PostgreSQL itself
 *	  computes in a UTF-8 database, where lower() maps case as Athena does;
 *	- NULLS FIRST/LAST always explicit in ORDER BY;
 *	- text ordering (range comparisons, sort keys, min/max) only under a
 *	  collation that compares by code point (Athena compares UTF-8 bytes);
 *	  text equality (=, IN, GROUP BY, DISTINCT) only under a deterministic
 *	  collation;
 *	- floating-point comparisons only where NaN gives the same answer in
 *	  both engines (PostgreSQL sorts NaN above every number, Trino makes
 *	  every comparison with NaN false); no float arithmetic, grouping or
 *	  sorting;
 *	- timestamps: Athena keeps milliseconds, so every timestamp PostgreSQL
 *	  receives is a whole millisecond.  A bound that is not (or that is
 *	  only known at executor start) is rounded in the direction that keeps
 *	  a range comparison with a whole-millisecond value exact (x >= v as
 *	  x >= ceil(v), x <= v as x <= floor(v), ...); an equality is widened
 *	  to the enclosing millisecond and rechecked locally, which is only done
 *	  where a superset is harmless (a condition of a base relation, outside
 *	  NOT); timestamptz values are sent as UTC TIMESTAMP literals; a
 *	  timestamp or date compared with a timestamptz is converted at
 *	  executor start in the session's time zone (what PostgreSQL's
 *	  cross-type comparison does), and nothing else that depends on the
 *	  session's time zone ships;
 *	- stable expressions and parameters (now() - interval '7 days', $1, the
 *	  outer values of a parameterized scan) are evaluated at executor start
 *	  and sent as literals ("runtime values"); a volatile function is never
 *	  shipped nor evaluated early;
 *	- functions and operators are identified by OID among PostgreSQL's
 *	  built-in ones, each with the Trino spelling that computes the same
 *	  value (same type family, same NULL behaviour, same errors where
 *	  PostgreSQL raises one).
 *
 * Partition pruning.  An audit table is partitioned by the hour its records
 * were delivered (Firehose's folders), not by event time, but a record is
 * delivered after its event happened.  So for a foreign table with the
 * options time_column, partition_column and partition_format, each lower
 * bound on the time column among the top-level conditions of the WHERE
 * (t >= X, t > X, t = X; partition.c finds them) also sends
 * partition >= format(X - 5 minutes): delivery is never earlier than the
 * event, less an allowance for clock skew between DynamoDB and Firehose.
 * An upper bound (t <= Y) prunes only with a declared max_delivery_delay D:
 * partition <= format(Y + D).  A table laid out by event time
 * (partition_layout 'event_time') sends partition >= format(X) and
 * partition <= format(Y): its folders are the events' own hours.  These conditions are added to the shipped
 * ones, never replace them, and need no local recheck.
 *
 * The SQL is kept as parts around the runtime values: parts[0] value[0]
 * parts[1] ... parts[n].  EXPLAIN shows the values as $1..$n.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/formatting.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "fdw/dialect.h"
#include "fdw/fdw.h"

/* State of classifying one expression */
typedef struct classify_cxt
{
	PlannerInfo *root;
	RelOptInfo *foreignrel;
	Relids		relids;			/* base relations scanned remotely */
	bool		allow_widen;	/* a widened superset is rechecked locally */
	bool		allow_aggs;		/* aggregates (grouped relation) */
	bool		widened;		/* set when a bound had to be widened */
	Node	   *avg_pair;		/* the avg that may ship as a sum/count pair */
} classify_cxt;

typedef struct deparse_expr_cxt
{
	PlannerInfo *root;
	RelOptInfo *foreignrel;		/* the relation being deparsed */
	RelOptInfo *scanrel;		/* its underlying base or join relation */
	bool		qualify;		/* qualify columns with r<n> */
	StringInfo	buf;
	List	   *parts;			/* of String, finished parts of the SQL */
	List	   *runtime_exprs;	/* of Expr, values computed at executor start */
	List	   *roundings;		/* of Integer (AuditFdwRounding) */
	/* how runtime partition bounds are written (NULL: none are) */
	AuditFdwPartitioning *partitioning;
} deparse_expr_cxt;

/* Comparison operators, by their meaning with the operands in order */
typedef enum CmpKind
{
	CMP_NONE,
	CMP_EQ,
	CMP_NE,
	CMP_LT,
	CMP_LE,
	CMP_GT,
	CMP_GE
} CmpKind;

#define REL_ALIAS_PREFIX "r"

static bool classify(Node *node, classify_cxt *cxt, bool positive);
static bool classify_opexpr(OpExpr *op, classify_cxt *cxt, bool positive);
static bool classify_comparison(Oid opno, Node *left, Node *right,
								Oid inputcollid, CmpKind kind,
								classify_cxt *cxt, bool positive);
static bool classify_timestamp_bound(Node *expr, Node *value, CmpKind kind,
									 classify_cxt *cxt, bool positive);
static bool classify_saop(ScalarArrayOpExpr *saop, classify_cxt *cxt);
static bool classify_func(FuncExpr *fe, classify_cxt *cxt);
static bool classify_aggref(Aggref *agg, classify_cxt *cxt);
static bool is_runtime_value(Node *node, classify_cxt *cxt);
static bool is_scan_var(Node *node, Relids relids);
static bool contains_scan_vars(Node *node, Relids relids);
static bool contain_placeholder_or_agg(Node *node);
static bool const_is_shippable(Const *c, bool *unaligned);
static bool value_is_unaligned(Node *node);
static bool is_whole_ms_expr(Node *node);
static CmpKind cmp_kind(Oid opno);
static bool is_integer_type(Oid type);
static bool is_timestamp_type(Oid type);
static bool mixes_time_zones(Oid ltype, Oid rtype);
static bool is_text_type(Oid type);
static bool is_float_type(Oid type);
static int	numeric_scale_of_all(List *args);
static bool numeric_trino_type(Node *expr, int *precision, int *scale);
static bool numeric_common_type_fits(List *exprs);
static bool is_orderable_type(Oid type, Oid collation);
static bool is_runtime_type(Oid type);
static bool like_pattern_for_athena(const char *pattern, StringInfo out);
static void append_malloced(StringInfo buf, char *text);
static const char *date_unit_name(Const *c);
static const char *extract_function(Const *field, Oid argtype);
static bool is_utc_zone(Node *node);
static Node *strip_relabel(Node *node);

static void deparse_expr(Expr *node, deparse_expr_cxt *cxt);
static void deparse_var(Var *var, deparse_expr_cxt *cxt);
static void deparse_const(Const *c, deparse_expr_cxt *cxt,
						  AuditFdwRounding rounding);
static void deparse_value(Expr *node, deparse_expr_cxt *cxt,
						  AuditFdwRounding rounding);
static void deparse_opexpr(OpExpr *op, deparse_expr_cxt *cxt);
static void deparse_arith_operand(Node *arg, deparse_expr_cxt *cxt);
static void deparse_comparison(Node *left, Node *right, CmpKind kind,
							   deparse_expr_cxt *cxt);
static void deparse_like(OpExpr *op, deparse_expr_cxt *cxt);
static void deparse_saop(ScalarArrayOpExpr *saop, deparse_expr_cxt *cxt);
static void add_runtime_value(Expr *node, deparse_expr_cxt *cxt,
							  AuditFdwRounding rounding);
static void deparse_bool_expr(BoolExpr *b, deparse_expr_cxt *cxt);
static void deparse_func(FuncExpr *fe, deparse_expr_cxt *cxt);
static void deparse_aggref(Aggref *agg, deparse_expr_cxt *cxt);
static void deparse_column_ref(StringInfo buf, int varno, Oid relid,
							   int varattno, bool qualify);
static void deparse_target_list(StringInfo buf, int varno, Relation rel,
								Bitmapset *attrs_used, List **retrieved_attrs);
static void deparse_from(RelOptInfo *rel, deparse_expr_cxt *cxt);
static void deparse_conds(List *conds, const char *sep, deparse_expr_cxt *cxt);
static void deparse_partition_conds(RelOptInfo *baserel, bool *first,
									const char *sep, deparse_expr_cxt *cxt);
static void collect_where(RelOptInfo *rel, List **conds);
static void deparse_cond_items(List *items, const char *sep, bool *first,
							   deparse_expr_cxt *cxt);
static void deparse_exists(RelOptInfo *rel, bool *first, const char *sep,
						   deparse_expr_cxt *cxt);
static void append_timestamp_literal(StringInfo buf, Timestamp ts,
									 AuditFdwRounding rounding);

/* ------------------------------------------------------------------------
 * Classification
 * ------------------------------------------------------------------------
 */

/* The base relations whose columns an expression of rel may read. */
static Relids
scan_relids_of(RelOptInfo *rel)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) rel->fdw_private;

	if (fpinfo && fpinfo->scan_relids)
		return fpinfo->scan_relids;
	return rel->relids;
}

static void
init_classify(classify_cxt *cxt, PlannerInfo *root, RelOptInfo *rel)
{
	cxt->root = root;
	cxt->foreignrel = rel;
	cxt->relids = scan_relids_of(rel);
	cxt->allow_widen = false;
	cxt->allow_aggs = IS_UPPER_REL(rel);
	cxt->widened = false;
	cxt->avg_pair = NULL;
}

/*
 * Split a base relation's conditions into those Athena evaluates and those
 * that stay local.  A condition shipped in widened form also stays local as
 * a recheck.
 */
void
audit_classify_conditions(PlannerInfo *root, RelOptInfo *baserel,
						  List *input_conds, List **remote_conds,
						  List **local_conds, List **widened_conds)
{
	ListCell   *lc;

	*remote_conds = NIL;
	*local_conds = NIL;
	*widened_conds = NIL;

	foreach(lc, input_conds)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		classify_cxt cxt;

		init_classify(&cxt, root, baserel);
		cxt.allow_widen = true;
		if (classify((Node *) ri->clause, &cxt, true))
		{
			*remote_conds = lappend(*remote_conds, ri);
			if (cxt.widened)
			{
				*local_conds = lappend(*local_conds, ri);
				*widened_conds = lappend(*widened_conds, ri);
			}
		}
		else
			*local_conds = lappend(*local_conds, ri);
	}
}

/*
 * True when Athena evaluates expr exactly as PostgreSQL would, over rel.
 */
bool
audit_is_foreign_expr(PlannerInfo *root, RelOptInfo *rel, Expr *expr)
{
	classify_cxt cxt;

	init_classify(&cxt, root, rel);
	return classify((Node *) expr, &cxt, true);
}

/*
 * An aggregate that is a whole column of a grouped relation's output.  Such
 * an avg of integers or decimals ships as the pair "sum count" (as varchar),
 * which the scan divides as PostgreSQL's avg does (numeric_div, whose
 * result scale follows the values, which no Trino type can do); nested in
 * an expression, a condition or a sort key it stays local.
 */
bool
audit_is_foreign_aggregate(PlannerInfo *root, RelOptInfo *rel, Aggref *agg)
{
	classify_cxt cxt;

	init_classify(&cxt, root, rel);
	cxt.avg_pair = (Node *) agg;
	return classify((Node *) agg, &cxt, true);
}

/* An avg that ships as a sum/count pair when it is a whole output column. */
bool
audit_is_avg_pair(Node *node)
{
	if (node == NULL || !IsA(node, Aggref))
		return false;
	switch (((Aggref *) node)->aggfnoid)
	{
		case F_AVG_INT2:
		case F_AVG_INT4:
		case F_AVG_INT8:
		case F_AVG_NUMERIC:
			return true;
		default:
			return false;
	}
}

/*
 * A join clause of a parameterized scan of baserel: the other relations'
 * columns are runtime values.  Timestamp bounds may be widened (the caller
 * keeps the clause as a local recheck).
 */
bool
audit_is_foreign_param(PlannerInfo *root, RelOptInfo *baserel, Expr *expr,
					   bool *widened)
{
	classify_cxt cxt;
	bool		ok;

	init_classify(&cxt, root, baserel);
	cxt.allow_widen = true;
	ok = classify((Node *) expr, &cxt, true);
	if (widened)
		*widened = cxt.widened;
	return ok;
}

/*
 * A join clause "inner_arg = outer_arg" whose outer values a batched join
 * (batchjoin.c) may send as one list, inner_arg IN (v1, v2, ...): the
 * clause ships as a parameterized scan's would, without widening; the
 * operator is a built-in equality; the values are of a type written as
 * literals at executor start, other than timestamps (a value between two
 * milliseconds would need widening) and floats; and inner_arg is computed
 * from baserel's columns alone.  Athena then returns exactly the rows
 * equal to one of the values, which the join rechecks locally.
 */
bool
audit_is_batch_key(PlannerInfo *root, RelOptInfo *baserel, Expr *clause,
				   Expr *inner_arg, Expr *outer_arg, Oid inputcollid)
{
	classify_cxt cxt;
	bool		widened = false;
	Oid			outer_type = exprType((Node *) outer_arg);
	Oid			inner_type = exprType((Node *) inner_arg);

	if (!IsA(clause, OpExpr) || !audit_is_builtin(((OpExpr *) clause)->opno) ||
		cmp_kind(((OpExpr *) clause)->opno) != CMP_EQ)
		return false;
	if (!is_runtime_type(outer_type) || outer_type == TIMESTAMPOID ||
		outer_type == TIMESTAMPTZOID || !OidIsValid(get_array_type(outer_type)))
		return false;
	if (!audit_is_shippable_type(inner_type) || is_float_type(inner_type) ||
		inner_type == TIMESTAMPOID || inner_type == TIMESTAMPTZOID)
		return false;
	if ((is_text_type(outer_type) || is_text_type(inner_type)) &&
		!audit_is_deterministic_collation(inputcollid))
		return false;
	if (!audit_is_foreign_param(root, baserel, clause, &widened) || widened)
		return false;
	init_classify(&cxt, root, baserel);
	return contains_scan_vars((Node *) inner_arg, cxt.relids) &&
		bms_is_subset(pull_varnos(root, (Node *) inner_arg), baserel->relids) &&
		classify((Node *) inner_arg, &cxt, false);
}

/*
 * The condition a batched join adds to its inner scan: inner_arg IN (the
 * batch's keys).  It is a ScalarArrayOpExpr over a NULL array constant of
 * the keys' array type, a form no query ships otherwise (classify_saop
 * refuses NULL arrays): the deparser writes its list as a runtime value
 * (AUDIT_BATCH_KEYS) that the join's node sets before each query.
 */
Expr *
audit_batch_keys_clause(Expr *inner_arg, Oid outer_type)
{
	ScalarArrayOpExpr *saop = makeNode(ScalarArrayOpExpr);

	saop->opno = InvalidOid;	/* written as IN, never evaluated here */
	saop->useOr = true;
	saop->inputcollid = InvalidOid;
	saop->args = list_make2(inner_arg,
							makeNullConst(get_array_type(outer_type), -1,
										  InvalidOid));
	saop->location = -1;
	return (Expr *) saop;
}

/*
 * The member of an equivalence class computed from rel alone, or NULL.
 */
Expr *
audit_find_em_expr_for_rel(EquivalenceClass *ec, RelOptInfo *rel)
{
	Relids		relids = scan_relids_of(rel);
	ListCell   *lc;

	foreach(lc, ec->ec_members)
	{
		EquivalenceMember *em = (EquivalenceMember *) lfirst(lc);

		if (bms_is_subset(em->em_relids, relids) &&
			!bms_is_empty(em->em_relids))
			return em->em_expr;
	}
	return NULL;
}

/*
 * The member of an equivalence class that is an item of target (an upper
 * relation's output), or NULL.
 */
Expr *
audit_find_em_expr_for_input_target(PlannerInfo *root, EquivalenceClass *ec,
									PathTarget *target)
{
	ListCell   *lc1;
	int			i = 0;

	foreach(lc1, target->exprs)
	{
		Expr	   *expr = (Expr *) lfirst(lc1);
		Index		sgref = get_pathtarget_sortgroupref(target, i);
		ListCell   *lc2;

		i++;
		if (sgref == 0 ||
			get_sortgroupref_clause_noerr(sgref, root->parse->sortClause) == NULL)
			continue;
		while (expr && IsA(expr, RelabelType))
			expr = ((RelabelType *) expr)->arg;
		foreach(lc2, ec->ec_members)
		{
			EquivalenceMember *em = (EquivalenceMember *) lfirst(lc2);
			Expr	   *em_expr = em->em_expr;

			if (em->em_is_const)
				continue;
			while (em_expr && IsA(em_expr, RelabelType))
				em_expr = ((RelabelType *) em_expr)->arg;
			if (equal(em_expr, expr))
				return em->em_expr;
		}
	}
	return NULL;
}

/*
 * The expression an ORDER BY on top of input_rel sorts by: an item of a
 * grouped relation's output, or a member computed from a scan or join.
 */
Expr *
audit_find_sort_expr(PlannerInfo *root, EquivalenceClass *ec,
					 RelOptInfo *input_rel)
{
	if (IS_UPPER_REL(input_rel))
	{
		AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) input_rel->fdw_private;

		/* the DISTINCT relation's output is the DISTINCT target */
		return audit_find_em_expr_for_input_target(root, ec,
												   fpinfo && fpinfo->is_distinct
												   ? root->upper_targets[UPPERREL_DISTINCT]
												   : input_rel->reltarget);
	}
	return audit_find_em_expr_for_rel(ec, input_rel);
}

/*
 * True when Athena sorts by this pathkey as PostgreSQL does: an expression
 * it evaluates exactly, of a type whose order matches, under the type's
 * default btree order, and for text a code point collation.
 */
bool
audit_is_foreign_pathkey(PlannerInfo *root, RelOptInfo *rel, PathKey *pathkey)
{
	EquivalenceClass *ec = pathkey->pk_eclass;
	Expr	   *em_expr;
	TypeCacheEntry *tce;

	if (ec->ec_has_volatile)
		return false;
	em_expr = audit_find_sort_expr(root, ec, rel);
	if (em_expr == NULL)
		return false;
	if (!is_orderable_type(exprType((Node *) em_expr), ec->ec_collation))
		return false;
	if (!audit_is_foreign_expr(root, rel, em_expr))
		return false;
	/* a sort key Athena computes; a constant sorts nothing */
	if (!contains_scan_vars((Node *) em_expr, scan_relids_of(rel)) &&
		!contain_agg_clause((Node *) em_expr))
		return false;
	tce = lookup_type_cache(exprType((Node *) em_expr), TYPECACHE_BTREE_OPFAMILY);
	if (tce->btree_opf != pathkey->pk_opfamily)
		return false;
	return pathkey->pk_strategy == BTLessStrategyNumber ||
		pathkey->pk_strategy == BTGreaterStrategyNumber;
}

static Node *
strip_relabel(Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node;
}

/* A user column of one of the scanned base relations. */
static bool
is_scan_var(Node *node, Relids relids)
{
	Var		   *var;

	if (node == NULL || !IsA(node, Var))
		return false;
	var = (Var *) node;
	return bms_is_member(var->varno, relids) && var->varlevelsup == 0 &&
		var->varattno > 0;
}

typedef struct scan_vars_cxt
{
	Relids		relids;
} scan_vars_cxt;

static bool
contains_scan_vars_walker(Node *node, scan_vars_cxt *cxt)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
		return ((Var *) node)->varlevelsup == 0 &&
			bms_is_member(((Var *) node)->varno, cxt->relids);
	return expression_tree_walker(node, contains_scan_vars_walker, cxt);
}

static bool
contains_scan_vars(Node *node, Relids relids)
{
	scan_vars_cxt cxt;

	cxt.relids = relids;
	return contains_scan_vars_walker(node, &cxt);
}

static bool
contain_placeholder_or_agg_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, PlaceHolderVar) || IsA(node, Aggref) ||
		IsA(node, GroupingFunc) || IsA(node, WindowFunc) ||
		IsA(node, SubLink) || IsA(node, SubPlan) ||
		IsA(node, AlternativeSubPlan))
		return true;
	return expression_tree_walker(node, contain_placeholder_or_agg_walker,
								  context);
}

static bool
contain_placeholder_or_agg(Node *node)
{
	return contain_placeholder_or_agg_walker(node, NULL);
}

static bool
is_integer_type(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

static bool
is_timestamp_type(Oid type)
{
	return type == TIMESTAMPOID || type == TIMESTAMPTZOID;
}

static bool
is_text_type(Oid type)
{
	return type == TEXTOID || type == VARCHAROID;
}

/*
 * The scale that every numeric of args has whatever the row: a constant's
 * own, or the declared scale of a numeric(p,s) expression; -1 when they
 * differ or one is not known before the query runs.
 */
static int
numeric_scale_of_all(List *args)
{
	ListCell   *lc;
	int			scale = -1;

	foreach(lc, args)
	{
		Node	   *arg = (Node *) lfirst(lc);
		int			this;

		if (IsA(arg, Const))
		{
			Const	   *c = (Const *) arg;
			char	   *text;
			char	   *point;

			if (c->constisnull)
				continue;
			text = DatumGetCString(DirectFunctionCall1(numeric_out, c->constvalue));
			point = strchr(text, '.');
			this = point ? (int) strlen(point + 1) : 0;
		}
		else
		{
			int32		typmod = exprTypmod(arg);

			if (typmod < (int32) VARHDRSZ)
				return -1;
			this = (typmod - VARHDRSZ) & 0xffff;
		}
		if (scale >= 0 && this != scale)
			return -1;
		scale = this;
	}
	return scale;
}

/*
 * The Trino type decimal(p,s) a shipped numeric expression has, by Trino's
 * rules (DecimalOperators; the literals are written DECIMAL '<text>'): a
 * constant its digits and scale, a numeric(p,s) expression its typmod (a
 * column's typmod is its Glue type, as IMPORT writes it), an integer cast
 * to numeric its type's digits, a + b and a - b
 * decimal(1 + max(s) + max(p - s), max(s)), a * b decimal(p1 + p2, s1 + s2),
 * sum decimal(38,s).  False
 * where the type is not known before the query runs, or where Trino's
 * result type would need more than 38 digits: a value of it could
 * overflow in Athena (NUMERIC_VALUE_OUT_OF_RANGE) where PostgreSQL gives
 * an answer.
 */
static bool
numeric_trino_type(Node *expr, int *precision, int *scale)
{
	int32		typmod;

	while (expr && IsA(expr, RelabelType))
		expr = (Node *) ((RelabelType *) expr)->arg;
	if (expr == NULL)
		return false;
	switch (nodeTag(expr))
	{
		case T_Const:
			{
				Const	   *c = (Const *) expr;
				char	   *text;
				int			whole = 0,
							frac = 0;
				bool		point = false,
							leading = true;

				if (c->constisnull)
				{
					*precision = 1;
					*scale = 0;
					return true;
				}
				if (c->consttype != NUMERICOID)
					return false;
				text = DatumGetCString(DirectFunctionCall1(numeric_out, c->constvalue));
				for (; *text; text++)
				{
					if (*text == '.')
						point = true;
					else if (*text < '0' || *text > '9')
						continue;
					else if (point)
						frac++;
					else if (*text != '0' || !leading)
					{
						leading = false;
						whole++;
					}
				}
				*scale = frac;
				*precision = Max(whole + frac, 1);
				return *precision <= 38;
			}
		case T_FuncExpr:
			switch (((FuncExpr *) expr)->funcid)
			{
				case F_NUMERIC_INT2:
					*precision = 5;
					*scale = 0;
					return true;
				case F_NUMERIC_INT4:
					*precision = 10;
					*scale = 0;
					return true;
				case F_NUMERIC_INT8:
				case F_EXTRACT_TEXT_TIMESTAMP:
				case F_EXTRACT_TEXT_DATE:
					/* extract ships as a Trino function of type bigint */
					*precision = 19;
					*scale = 0;
					return true;
				default:
					break;
			}
			break;
		case T_OpExpr:
			{
				OpExpr	   *op = (OpExpr *) expr;
				char	   *opname = get_opname(op->opno);
				int			p1,
							s1,
							p2,
							s2;

				if (list_length(op->args) == 1 && opname && strcmp(opname, "-") == 0)
					return numeric_trino_type(linitial(op->args), precision, scale);
				if (list_length(op->args) != 2 || opname == NULL ||
					(strcmp(opname, "+") != 0 && strcmp(opname, "-") != 0 &&
					 strcmp(opname, "*") != 0) ||
					!numeric_trino_type(linitial(op->args), &p1, &s1) ||
					!numeric_trino_type(lsecond(op->args), &p2, &s2))
					break;
				if (strcmp(opname, "*") == 0)
				{
					/* decimal(p1 + p2, s1 + s2) */
					*scale = s1 + s2;
					*precision = p1 + p2;
					return *precision <= 38;
				}
				*scale = Max(s1, s2);
				*precision = 1 + *scale + Max(p1 - s1, p2 - s2);
				return *precision <= 38;
			}
		case T_CaseExpr:
		case T_CoalesceExpr:
			{
				List	   *results = NIL;
				ListCell   *lc;
				int			whole;

				if (IsA(expr, CoalesceExpr))
					results = ((CoalesceExpr *) expr)->args;
				else
				{
					CaseExpr   *ce = (CaseExpr *) expr;

					foreach(lc, ce->args)
						results = lappend(results, lfirst_node(CaseWhen, lc)->result);
					results = lappend(results, ce->defresult);
				}
				/* the results' common type */
				if (exprType(expr) != NUMERICOID)
					return false;
				*scale = 0;
				whole = 0;
				foreach(lc, results)
				{
					int			p,
								sc;

					if (!numeric_trino_type((Node *) lfirst(lc), &p, &sc))
						return false;
					whole = Max(whole, p - sc);
					*scale = Max(*scale, sc);
				}
				*precision = Max(whole + *scale, 1);
				return *precision <= 38;
			}
		case T_Aggref:
			{
				Aggref	   *agg = (Aggref *) expr;
				Node	   *arg;

				if (list_length(agg->args) != 1)
					break;
				arg = (Node *) linitial_node(TargetEntry, agg->args)->expr;
				if (agg->aggfnoid == F_SUM_NUMERIC)
				{
					if (!numeric_trino_type(arg, precision, scale))
						return false;
					*precision = 38;
					return true;
				}
				if (agg->aggfnoid == F_MIN_NUMERIC || agg->aggfnoid == F_MAX_NUMERIC)
					return numeric_trino_type(arg, precision, scale);
				break;
			}
		default:
			break;
	}
	typmod = exprTypmod(expr);
	if (exprType(expr) != NUMERICOID || typmod < (int32) VARHDRSZ)
		return false;
	*precision = ((typmod - VARHDRSZ) >> 16) & 0xffff;
	*scale = (typmod - VARHDRSZ) & 0xffff;
	return *precision >= 1 && *precision <= 38 && *scale <= *precision;
}

/*
 * Trino compares decimals (=, <, IN, ...) after coercing both to their
 * common type, decimal(max(s) + max(p - s), max(s)) capped at 38 digits,
 * and a value that does not fit the capped type fails.  True where every
 * numeric of exprs has a known type and the common type needs no cap.
 */
static bool
numeric_common_type_fits(List *exprs)
{
	ListCell   *lc;
	int			scale = 0,
				whole = 0;

	foreach(lc, exprs)
	{
		int			p,
					s;

		if (!numeric_trino_type((Node *) lfirst(lc), &p, &s))
			return false;
		scale = Max(scale, s);
		whole = Max(whole, p - s);
	}
	return scale + whole <= 38;
}

static bool
is_float_type(Oid type)
{
	return type == FLOAT4OID || type == FLOAT8OID;
}

/* Types whose order is the same in both engines (text: by collation). */
static bool
is_orderable_type(Oid type, Oid collation)
{
	switch (type)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return true;
		case TEXTOID:
		case VARCHAROID:
			return audit_is_code_point_collation(collation);
		default:
			/* floats: NaN sorts differently */
			return false;
	}
}

/*
 * Types of runtime values: written as literals at executor start.  Floats
 * and numerics are left out: their NaN and infinities have no Athena
 * literal, so a value known only then could make the query fail.
 */
static bool
is_runtime_type(Oid type)
{
	switch (type)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case TEXTOID:
		case VARCHAROID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return true;
		default:
			return false;
	}
}

/*
 * A Const the deparser writes exactly.  *unaligned is set for a timestamp
 * with a fraction of a millisecond (shippable only widened).
 */
static bool
const_is_shippable(Const *c, bool *unaligned)
{
	*unaligned = false;
	if (!audit_is_shippable_type(c->consttype))
		return false;
	if (c->constisnull)
		return true;
	switch (c->consttype)
	{
		case FLOAT4OID:
			{
				float4		f = DatumGetFloat4(c->constvalue);

				return !isnan(f) && !isinf(f);
			}
		case FLOAT8OID:
			{
				float8		f = DatumGetFloat8(c->constvalue);

				return !isnan(f) && !isinf(f);
			}
		case NUMERICOID:
			{
				Numeric		n = DatumGetNumeric(c->constvalue);
				char	   *s;
				int			digits = 0;

				if (numeric_is_nan(n) || numeric_is_inf(n))
					return false;
				/* Athena's decimal holds 38 digits */
				s = DatumGetCString(DirectFunctionCall1(numeric_out, c->constvalue));
				for (; *s; s++)
					if (*s >= '0' && *s <= '9')
						digits++;
				return digits <= 38;
			}
		case DATEOID:
			{
				DateADT		d = DatumGetDateADT(c->constvalue);
				int			y,
							m,
							dd;

				if (DATE_NOT_FINITE(d))
					return false;
				j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &dd);
				return y >= 1 && y <= 9999;
			}
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			{
				Timestamp	ts = DatumGetTimestamp(c->constvalue);
				struct pg_tm tm;
				fsec_t		fsec;

				if (TIMESTAMP_NOT_FINITE(ts))
					return false;
				if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0 ||
					tm.tm_year < 1 || tm.tm_year > 9999)
					return false;
				*unaligned = (fsec % 1000) != 0;
				return true;
			}
		default:
			return true;
	}
}

/*
 * An expression PostgreSQL can compute once at executor start and send as
 * a literal: no column of the scanned relations (other relations' columns
 * are the parameters of a parameterized scan), nothing volatile, no
 * subplan or aggregate, and a type the deparser writes.
 */
static bool
is_runtime_value(Node *node, classify_cxt *cxt)
{
	if (!is_runtime_type(exprType(node)))
		return false;
	if (IsA(node, Const))
		return false;			/* handled as a literal */
	if (contains_scan_vars(node, cxt->relids) ||
		contain_volatile_functions(node) ||
		contain_placeholder_or_agg(node))
		return false;
	/* other relations' columns: only in a scan below the join */
	if (contain_var_clause(node) && IS_UPPER_REL(cxt->foreignrel))
		return false;
	return true;
}

/*
 * An expression whose value is always a whole millisecond: a timestamp
 * column (Athena keeps milliseconds), a date, a truncation of either.
 */
static bool
is_whole_ms_expr(Node *node)
{
	node = strip_relabel(node);
	if (IsA(node, Var))
		return true;
	if (IsA(node, FuncExpr))
	{
		FuncExpr   *fe = (FuncExpr *) node;

		switch (fe->funcid)
		{
			case F_TIMESTAMP_DATE:
			case F_DATE_TRUNC_TEXT_TIMESTAMP:
			case F_DATE_TRUNC_TEXT_TIMESTAMPTZ_TEXT:
				return true;
			case F_TIMEZONE_TEXT_TIMESTAMPTZ:
				return is_whole_ms_expr(lsecond(fe->args));
			default:
				return false;
		}
	}
	return false;
}

/* A value whose milliseconds are not known exactly at plan time. */
static bool
value_is_unaligned(Node *node)
{
	node = strip_relabel(node);
	if (IsA(node, Const))
	{
		bool		unaligned;

		(void) const_is_shippable((Const *) node, &unaligned);
		return unaligned;
	}
	return true;
}

static CmpKind
cmp_kind(Oid opno)
{
	char	   *opname = get_opname(opno);

	if (opname == NULL)
		return CMP_NONE;
	if (strcmp(opname, "=") == 0)
		return CMP_EQ;
	if (strcmp(opname, "<>") == 0)
		return CMP_NE;
	if (strcmp(opname, "<") == 0)
		return CMP_LT;
	if (strcmp(opname, "<=") == 0)
		return CMP_LE;
	if (strcmp(opname, ">") == 0)
		return CMP_GT;
	if (strcmp(opname, ">=") == 0)
		return CMP_GE;
	return CMP_NONE;
}

/*
 * Classify an expression.  positive: the expression is a condition whose
 * truth is only used to select rows (under AND and OR, not under NOT nor
 * inside another expression), where a widened superset is harmless.
 */
static bool
classify(Node *node, classify_cxt *cxt, bool positive)
{
	if (node == NULL)
		return false;

	switch (nodeTag(node))
	{
		case T_Var:
			if (((Var *) node)->varlevelsup == 0 &&
				!bms_is_member(((Var *) node)->varno, cxt->relids))
				return is_runtime_value(node, cxt);
			return is_scan_var(node, cxt->relids) &&
				audit_is_shippable_type(exprType(node));
		case T_Const:
			{
				bool		unaligned;

				return const_is_shippable((Const *) node, &unaligned) &&
					!unaligned;
			}
		case T_Param:
			return is_runtime_value(node, cxt);
		case T_RelabelType:
			{
				RelabelType *r = (RelabelType *) node;

				/* varchar <-> text only */
				if (!is_text_type(r->resulttype) ||
					!is_text_type(exprType((Node *) r->arg)))
					return false;
				return classify((Node *) r->arg, cxt, false);
			}
		case T_BoolExpr:
			{
				BoolExpr   *b = (BoolExpr *) node;
				ListCell   *lc;

				foreach(lc, b->args)
				{
					if (!classify((Node *) lfirst(lc), cxt,
								  positive && b->boolop != NOT_EXPR))
						return false;
				}
				return true;
			}
		case T_NullTest:
			{
				NullTest   *nt = (NullTest *) node;
				Node	   *arg = strip_relabel((Node *) nt->arg);

				if (nt->argisrow)
					return false;
				/* a json column's presence, without reading its value */
				if (is_scan_var(arg, cxt->relids) &&
					(exprType(arg) == JSONBOID || exprType(arg) == JSONOID))
					return true;
				return classify((Node *) nt->arg, cxt, false);
			}
		case T_BooleanTest:
			return exprType((Node *) ((BooleanTest *) node)->arg) == BOOLOID &&
				classify((Node *) ((BooleanTest *) node)->arg, cxt, false);
		case T_OpExpr:
			return classify_opexpr((OpExpr *) node, cxt, positive);
		case T_DistinctExpr:
			{
				OpExpr	   *op = (OpExpr *) node;

				if (!audit_is_builtin(op->opno) || list_length(op->args) != 2 ||
					cmp_kind(op->opno) != CMP_EQ)
					return false;
				/* no widening: IS DISTINCT FROM is exact or local */
				return classify_comparison(op->opno, linitial(op->args),
										   lsecond(op->args), op->inputcollid,
										   CMP_EQ, cxt, false);
			}
		case T_ScalarArrayOpExpr:
			return classify_saop((ScalarArrayOpExpr *) node, cxt);
		case T_FuncExpr:
			if (is_runtime_value(node, cxt))
				return true;
			return classify_func((FuncExpr *) node, cxt);
		case T_CoalesceExpr:
			{
				CoalesceExpr *ce = (CoalesceExpr *) node;
				ListCell   *lc;

				if (!audit_is_shippable_type(ce->coalescetype) ||
					is_float_type(ce->coalescetype))
					return false;
				/* Trino's result has one scale; PostgreSQL's each value's own */
				if (ce->coalescetype == NUMERICOID && numeric_scale_of_all(ce->args) < 0)
					return false;
				foreach(lc, ce->args)
				{
					if (exprType((Node *) lfirst(lc)) != ce->coalescetype ||
						!classify((Node *) lfirst(lc), cxt, false))
						return false;
				}
				return true;
			}
		case T_CaseExpr:
			{
				/* searched CASE: a WHEN that is NULL is false in both */
				CaseExpr   *ce = (CaseExpr *) node;
				ListCell   *lc;
				List	   *results = NIL;

				if (ce->arg != NULL || !audit_is_shippable_type(ce->casetype))
					return false;
				foreach(lc, ce->args)
				{
					CaseWhen   *w = lfirst_node(CaseWhen, lc);

					if (!classify((Node *) w->expr, cxt, false) ||
						!classify((Node *) w->result, cxt, false))
						return false;
					results = lappend(results, w->result);
				}
				if (ce->defresult != NULL)
				{
					if (!classify((Node *) ce->defresult, cxt, false))
						return false;
					results = lappend(results, ce->defresult);
				}
				foreach(lc, results)
					if (exprType((Node *) lfirst(lc)) != ce->casetype)
						return false;
				/* Trino's result has one scale; PostgreSQL's each value's own */
				if (ce->casetype == NUMERICOID && numeric_scale_of_all(results) < 0)
					return false;
				return true;
			}
		case T_NullIfExpr:
			{
				/* not for floats: NULLIF(NaN, NaN) is NULL only here */
				NullIfExpr *ni = (NullIfExpr *) node;
				Node	   *a = linitial(ni->args);
				Node	   *b = lsecond(ni->args);

				if (!audit_is_builtin(ni->opno) || cmp_kind(ni->opno) != CMP_EQ ||
					exprType(a) != exprType(b) || is_float_type(exprType(a)) ||
					!audit_is_shippable_type(exprType(a)) ||
					(is_text_type(exprType(a)) &&
					 !audit_is_deterministic_collation(ni->inputcollid)))
					return false;
				return classify(a, cxt, false) && classify(b, cxt, false);
			}
		case T_Aggref:
			return cxt->allow_aggs && classify_aggref((Aggref *) node, cxt);
		default:
			return is_runtime_value(node, cxt);
	}
}

/*
 * Operators: comparisons, LIKE and ILIKE, integer and numeric arithmetic,
 * text concatenation.
 */
static bool
classify_opexpr(OpExpr *op, classify_cxt *cxt, bool positive)
{
	Oid			rettype = op->opresulttype;
	char	   *opname;
	CmpKind		kind;

	if (is_runtime_value((Node *) op, cxt))
		return true;
	if (!audit_is_builtin(op->opno))
		return false;
	opname = get_opname(op->opno);
	if (opname == NULL)
		return false;

	/* unary minus of an integer */
	if (list_length(op->args) == 1)
	{
		Node	   *arg = linitial(op->args);

		return strcmp(opname, "-") == 0 && is_integer_type(rettype) &&
			is_integer_type(exprType(arg)) && classify(arg, cxt, false);
	}
	if (list_length(op->args) != 2)
		return false;

	/* LIKE, NOT LIKE, ILIKE, NOT ILIKE on text, with a constant pattern */
	if (strcmp(opname, "~~") == 0 || strcmp(opname, "!~~") == 0 ||
		strcmp(opname, "~~*") == 0 || strcmp(opname, "!~~*") == 0)
	{
		Node	   *left = linitial(op->args);
		Node	   *right = strip_relabel(lsecond(op->args));
		Const	   *pat;
		StringInfoData buf;

		if (!is_text_type(exprType(left)))
			return false;
		/*
		 * LIKE with a pattern known only at executor start ($1 of a generic
		 * plan): converted to Athena's escapes then.  Not ILIKE, whose
		 * pattern is lower-cased under the column's collation.
		 */
		if (!IsA(right, Const))
			return strchr(opname, '*') == NULL &&
				is_text_type(exprType(right)) &&
				audit_is_deterministic_collation(op->inputcollid) &&
				is_runtime_value(right, cxt) && classify(left, cxt, false);
		pat = (Const *) right;
		if (pat->constisnull || !is_text_type(pat->consttype))
			return false;
		if (!audit_is_deterministic_collation(op->inputcollid))
			return false;
		if (strchr(opname, '*') != NULL &&
			!audit_is_unicode_case_collation(op->inputcollid))
			return false;
		initStringInfo(&buf);
		if (!like_pattern_for_athena(TextDatumGetCString(pat->constvalue), &buf))
			return false;
		return classify(left, cxt, false);
	}

	kind = cmp_kind(op->opno);
	if (kind != CMP_NONE)
		return classify_comparison(op->opno, linitial(op->args),
								   lsecond(op->args), op->inputcollid, kind,
								   cxt, positive);

	/* integer arithmetic: same results, same overflow and zero errors */
	if (is_integer_type(rettype) &&
		is_integer_type(exprType(linitial(op->args))) &&
		is_integer_type(exprType(lsecond(op->args))) &&
		(strcmp(opname, "+") == 0 || strcmp(opname, "-") == 0 ||
		 strcmp(opname, "*") == 0 || strcmp(opname, "/") == 0 ||
		 strcmp(opname, "%") == 0))
		return classify(linitial(op->args), cxt, false) &&
			classify(lsecond(op->args), cxt, false);

	/*
	 * numeric addition and subtraction keep the larger scale in both, and
	 * multiplication the sum of the scales, exactly; Trino fails where the
	 * result type would pass 38 digits.  (Division rounds to the larger
	 * scale in Trino and to at least 16 significant digits here: local.)
	 */
	if (rettype == NUMERICOID &&
		exprType(linitial(op->args)) == NUMERICOID &&
		exprType(lsecond(op->args)) == NUMERICOID &&
		(strcmp(opname, "+") == 0 || strcmp(opname, "-") == 0 ||
		 strcmp(opname, "*") == 0))
	{
		int			p,
					sc;

		return numeric_trino_type((Node *) op, &p, &sc) &&
			classify(linitial(op->args), cxt, false) &&
			classify(lsecond(op->args), cxt, false);
	}

	/* text || text */
	if (op->opfuncid == F_TEXTCAT)
		return classify(linitial(op->args), cxt, false) &&
			classify(lsecond(op->args), cxt, false);

	return false;
}

/*
 * left <kind> right.  Timestamp bounds that are not whole milliseconds
 * (or not known before executor start) are shipped widened, where allowed.
 */
static bool
classify_comparison(Oid opno, Node *left, Node *right, Oid inputcollid,
					CmpKind kind, classify_cxt *cxt, bool positive)
{
	Oid			ltype = exprType(left);
	Oid			rtype = exprType(right);
	bool		lvars = contains_scan_vars(left, cxt->relids);
	bool		rvars = contains_scan_vars(right, cxt->relids);

	if (!audit_is_shippable_type(ltype) || !audit_is_shippable_type(rtype))
		return false;

	/* decimals: compared in a common type Trino caps at 38 digits */
	if ((ltype == NUMERICOID || rtype == NUMERICOID) &&
		!numeric_common_type_fits(list_make2(left, right)))
		return false;

	/*
	 * timestamp against timestamptz depends on the session's time zone: only
	 * a value (a constant, $1, now()::timestamp) against a timestamptz
	 * expression, converted at executor start as PostgreSQL converts it
	 */
	if (mixes_time_zones(ltype, rtype))
	{
		Node	   *expr = lvars && !rvars ? left : rvars && !lvars ? right : NULL;
		Node	   *value = expr == left ? right : left;

		if (expr == NULL || exprType(expr) != TIMESTAMPTZOID)
			return false;
		return classify_timestamp_bound(expr, value, kind, cxt, positive);
	}

	/* text: equality needs a deterministic collation, order a code point one */
	if (is_text_type(ltype) || is_text_type(rtype))
	{
		if (!audit_is_deterministic_collation(inputcollid))
			return false;
		if (kind != CMP_EQ && kind != CMP_NE &&
			!audit_is_code_point_collation(inputcollid))
			return false;
	}

	/*
	 * floats: only where NaN answers alike, the column on the left and a
	 * finite constant on the right.  PostgreSQL sorts NaN above every
	 * number, Trino compares it false: =, <>, <, <= agree, and > and >=
	 * are written NOT (x <= c) and NOT (x < c), true for NaN in both.
	 */
	if (is_float_type(ltype) || is_float_type(rtype))
	{
		Node	   *value = strip_relabel(right);

		if (rvars || !lvars || !IsA(value, Const))
			return false;
	}

	/* a bound of a timestamp: exact, or widened and rechecked */
	if (is_timestamp_type(ltype) || is_timestamp_type(rtype))
	{
		Node	   *value = NULL;

		if (lvars && !rvars)
			value = right;
		else if (rvars && !lvars)
			value = left;
		if (value != NULL && value_is_unaligned(value))
			return classify_timestamp_bound(lvars ? left : right, value, kind,
											cxt, positive);
	}

	return classify(left, cxt, false) && classify(right, cxt, false);
}

/*
 * A timestamp or date as the timestamptz PostgreSQL compares it as: its
 * conversion in the session's time zone, computed at executor start.
 */
Expr *
audit_as_timestamptz(Expr *value)
{
	return (Expr *) makeFuncExpr(exprType((Node *) value) == DATEOID
								 ? F_TIMESTAMPTZ_DATE : F_TIMESTAMPTZ_TIMESTAMP,
								 TIMESTAMPTZOID, list_make1(value),
								 InvalidOid, InvalidOid, COERCE_EXPLICIT_CAST);
}

/* timestamp (or date) against timestamptz: the zone decides their order */
static bool
mixes_time_zones(Oid ltype, Oid rtype)
{
	return (ltype == TIMESTAMPTZOID && (rtype == TIMESTAMPOID || rtype == DATEOID)) ||
		(rtype == TIMESTAMPTZOID && (ltype == TIMESTAMPOID || ltype == DATEOID));
}

/*
 * expr <kind> value, value a bound of a timestamp expression whose
 * milliseconds are not known at plan time: shipped rounded (a range) or
 * widened and rechecked (an equality), or not at all.
 */
static bool
classify_timestamp_bound(Node *expr, Node *value, CmpKind kind,
						 classify_cxt *cxt, bool positive)
{
	Node	   *v = strip_relabel(value);

	if (!(IsA(v, Const) || is_runtime_value(v, cxt)))
		return false;
	if (!classify(expr, cxt, false))
		return false;

	/*
	 * Athena's timestamps, and so the values PostgreSQL receives, are whole
	 * milliseconds: against one, a range bound rounded in the right
	 * direction selects exactly the same rows.
	 */
	if (kind != CMP_EQ && kind != CMP_NE && is_whole_ms_expr(expr))
		return true;
	/* equality: widened to the enclosing milliseconds, rechecked */
	if (!cxt->allow_widen || !positive || kind != CMP_EQ ||
		!is_whole_ms_expr(expr))
		return false;
	cxt->widened = true;
	return true;
}

/*
 * expr = ANY('{...}') as IN, expr <> ALL('{...}') as NOT IN, with a
 * constant, non-empty array.
 */
static bool
classify_saop(ScalarArrayOpExpr *saop, classify_cxt *cxt)
{
	Node	   *left = linitial(saop->args);
	Node	   *right = strip_relabel(lsecond(saop->args));
	CmpKind		kind;
	Const	   *arr;
	Oid			elemtype;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i;

	if (!audit_is_builtin(saop->opno) || !IsA(right, Const))
		return false;
	kind = cmp_kind(saop->opno);
	if (!((saop->useOr && kind == CMP_EQ) || (!saop->useOr && kind == CMP_NE)))
		return false;
	arr = (Const *) right;
	if (arr->constisnull)
		return false;
	if (!audit_is_shippable_type(exprType(left)) || is_float_type(exprType(left)))
		return false;
	elemtype = get_element_type(arr->consttype);
	if (!audit_is_shippable_type(elemtype) || is_float_type(elemtype))
		return false;
	if ((exprType(left) == TIMESTAMPTZOID) != (elemtype == TIMESTAMPTZOID))
		return false;
	if ((is_text_type(elemtype) || is_text_type(exprType(left))) &&
		!audit_is_deterministic_collation(saop->inputcollid))
		return false;
	get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
	deconstruct_array(DatumGetArrayTypeP(arr->constvalue), elemtype, elmlen,
					  elmbyval, elmalign, &elems, &nulls, &nelems);
	if (nelems == 0)
		return false;
	/* decimals: the list and the value in one common type, as comparisons */
	if (elemtype == NUMERICOID)
	{
		List	   *all = list_make1(left);

		for (i = 0; i < nelems; i++)
			if (!nulls[i])
				all = lappend(all, makeConst(elemtype, -1, InvalidOid, elmlen,
											 elems[i], false, elmbyval));
		if (!numeric_common_type_fits(all))
			return false;
	}
	{
		StringInfoData lits;

		initStringInfo(&lits);
		for (i = 0; i < nelems; i++)
		{
			Const	   *c;
			bool		unaligned;

			if (nulls[i])
				continue;
			c = makeConst(elemtype, -1, InvalidOid, elmlen, elems[i], false, elmbyval);
			if (!const_is_shippable(c, &unaligned) || unaligned)
				return false;
			(void) audit_append_literal(&lits, elemtype, elems[i], false, AUDIT_ROUND_NONE);
			appendStringInfoString(&lits, ", ");
			/*
			 * Athena refuses a statement over 262,144 bytes: a list that
			 * would take more than a share of that is filtered here instead.
			 */
			if (lits.len > ATHENA_LIST_BUDGET)
			{
				pfree(lits.data);
				return false;
			}
		}
		pfree(lits.data);
	}
	return classify(left, cxt, false);
}

/* The Trino unit of a constant date_trunc unit, or NULL. */
static const char *
date_unit_name(Const *c)
{
	static const char *const units[] = {
		"second", "minute", "hour", "day", "week", "month", "quarter", "year"
	};
	char	   *s;
	int			i;

	if (c == NULL || c->constisnull || !is_text_type(c->consttype))
		return NULL;
	s = TextDatumGetCString(c->constvalue);
	for (i = 0; i < lengthof(units); i++)
		if (pg_strcasecmp(s, units[i]) == 0)
			return units[i];
	return NULL;
}

/*
 * The Trino function computing extract(field FROM x) for a constant field,
 * or NULL.  PostgreSQL's numeric result of these fields is a whole number
 * written as Trino writes its bigint.
 */
static const char *
extract_function(Const *field, Oid argtype)
{
	static const struct
	{
		const char *pg;
		const char *trino;
		bool		date_ok;
	}			fields[] = {
		{"year", "year", true}, {"quarter", "quarter", true},
		{"month", "month", true},
		{"day", "day", true}, {"doy", "doy", true},
		{"isodow", "dow", true}, {"isoyear", "yow", true},
		{"hour", "hour", false}, {"minute", "minute", false}
	};
	char	   *s;
	int			i;

	if (field == NULL || field->constisnull || !is_text_type(field->consttype))
		return NULL;
	s = TextDatumGetCString(field->constvalue);
	for (i = 0; i < lengthof(fields); i++)
		if (pg_strcasecmp(s, fields[i].pg) == 0)
			return (argtype == DATEOID && !fields[i].date_ok) ? NULL : fields[i].trino;
	return NULL;
}

/* A constant zone name that means UTC. */
static bool
is_utc_zone(Node *node)
{
	char	   *s;

	node = strip_relabel(node);
	if (!IsA(node, Const) || ((Const *) node)->constisnull ||
		!is_text_type(((Const *) node)->consttype))
		return false;
	s = TextDatumGetCString(((Const *) node)->constvalue);
	return pg_strcasecmp(s, "UTC") == 0 || pg_strcasecmp(s, "Etc/UTC") == 0;
}

/*
 * Built-in functions with an exact Trino counterpart, and casts that
 * cannot change a value.
 */
static bool
classify_func(FuncExpr *fe, classify_cxt *cxt)
{
	List	   *args = fe->args;
	Node	   *arg1 = list_length(args) > 0 ? linitial(args) : NULL;
	Node	   *arg2 = list_length(args) > 1 ? lsecond(args) : NULL;
	Node	   *arg3 = list_length(args) > 2 ? lthird(args) : NULL;

	switch (fe->funcid)
	{
			/* widening casts */
		case F_INT4_INT2:
		case F_INT8_INT2:
		case F_INT8_INT4:
		case F_NUMERIC_INT2:
		case F_NUMERIC_INT4:
		case F_NUMERIC_INT8:
		case F_TIMESTAMP_DATE:
		case F_DATE_TIMESTAMP:
			return classify(arg1, cxt, false);

		case F_LOWER_TEXT:
		case F_UPPER_TEXT:
			return audit_is_unicode_case_collation(fe->inputcollid) &&
				classify(arg1, cxt, false);

		case F_LENGTH_TEXT:
		case F_CHAR_LENGTH_TEXT:
			return classify(arg1, cxt, false);

			/* strpos and position: code points from 1, 0 when absent */
		case F_STRPOS:
		case F_POSITION_TEXT_TEXT:
			return audit_is_deterministic_collation(fe->inputcollid) &&
				classify(arg1, cxt, false) && classify(arg2, cxt, false);

			/*
			 * substr: PostgreSQL counts a start before the string, Trino
			 * counts a negative start from the end: constant start >= 1
			 * and length >= 0 only
			 */
		case F_SUBSTR_TEXT_INT4:
		case F_SUBSTRING_TEXT_INT4:
		case F_SUBSTR_TEXT_INT4_INT4:
		case F_SUBSTRING_TEXT_INT4_INT4:
			{
				Node	   *s = strip_relabel(arg2);
				Node	   *l = arg3 ? strip_relabel(arg3) : NULL;

				if (!IsA(s, Const) || ((Const *) s)->constisnull ||
					DatumGetInt32(((Const *) s)->constvalue) < 1)
					return false;
				if (l && (!IsA(l, Const) || ((Const *) l)->constisnull ||
						  DatumGetInt32(((Const *) l)->constvalue) < 0))
					return false;
				return classify(arg1, cxt, false);
			}

			/* date_trunc of a timestamp, or of a timestamptz in UTC */
		case F_DATE_TRUNC_TEXT_TIMESTAMP:
			return IsA(arg1, Const) && date_unit_name((Const *) arg1) != NULL &&
				classify(arg2, cxt, false);
		case F_DATE_TRUNC_TEXT_TIMESTAMPTZ_TEXT:
			return IsA(arg1, Const) && date_unit_name((Const *) arg1) != NULL &&
				is_utc_zone(arg3) && classify(arg2, cxt, false);

			/* extract of whole-number fields of a date or timestamp */
		case F_EXTRACT_TEXT_TIMESTAMP:
		case F_EXTRACT_TEXT_DATE:
			return IsA(arg1, Const) &&
				extract_function((Const *) arg1, exprType(arg2)) != NULL &&
				classify(arg2, cxt, false);

			/* timestamptz AT TIME ZONE 'UTC': Athena's timestamp itself */
		case F_TIMEZONE_TEXT_TIMESTAMPTZ:
			return is_utc_zone(arg1) && classify(arg2, cxt, false);

		default:
			return false;
	}
}

/*
 * Aggregates with the same result in both engines: count, count(DISTINCT),
 * sum of integers and numerics, avg of double precision, min and max of
 * ordered types, bool_and, bool_or; with FILTER.
 */
static bool
classify_aggref(Aggref *agg, classify_cxt *cxt)
{
	ListCell   *lc;
	Oid			argtype = InvalidOid;

	if (agg->aggsplit != AGGSPLIT_SIMPLE || agg->aggkind != AGGKIND_NORMAL ||
		agg->aggvariadic || agg->aggorder != NIL)
		return false;
	if (agg->aggdistinct != NIL && agg->aggfnoid != F_COUNT_ANY)
		return false;
	if (list_length(agg->args) > 1)
		return false;
	foreach(lc, agg->args)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			return false;
		argtype = exprType((Node *) tle->expr);
		if (!classify((Node *) tle->expr, cxt, false))
			return false;
	}
	if (agg->aggfilter && !classify((Node *) agg->aggfilter, cxt, false))
		return false;

	switch (agg->aggfnoid)
	{
		case F_COUNT_:
			return true;
		case F_COUNT_ANY:
			/* DISTINCT compares values: exact types only */
			if (agg->aggdistinct != NIL &&
				(is_float_type(argtype) ||
				 (is_text_type(argtype) &&
				  !audit_is_deterministic_collation(agg->inputcollid))))
				return false;
			return true;
		case F_SUM_INT2:
		case F_SUM_INT4:
		case F_SUM_INT8:
		case F_AVG_FLOAT8:
		case F_BOOL_AND:
		case F_BOOL_OR:
		case F_EVERY:
		case F_MIN_INT2:
		case F_MIN_INT4:
		case F_MIN_INT8:
		case F_MIN_NUMERIC:
		case F_MIN_DATE:
		case F_MIN_TIMESTAMP:
		case F_MIN_TIMESTAMPTZ:
		case F_MAX_INT2:
		case F_MAX_INT4:
		case F_MAX_INT8:
		case F_MAX_NUMERIC:
		case F_MAX_DATE:
		case F_MAX_TIMESTAMP:
		case F_MAX_TIMESTAMPTZ:
			return true;
		case F_SUM_NUMERIC:
		case F_AVG_NUMERIC:
			{
				/*
				 * Trino's sum of decimal(p,s) is decimal(38,s) and fails past
				 * 38 digits: with p <= 19 no count of rows gets there
				 */
				int			p,
							sc;

				if (agg->aggfnoid == F_AVG_NUMERIC && (Node *) agg != cxt->avg_pair)
					return false;
				return numeric_trino_type((Node *) linitial_node(TargetEntry, agg->args)->expr,
										  &p, &sc) && p <= 19;
			}
		case F_AVG_INT2:
		case F_AVG_INT4:
		case F_AVG_INT8:
			return (Node *) agg == cxt->avg_pair;
		case F_MIN_TEXT:
		case F_MAX_TEXT:
			return audit_is_code_point_collation(agg->inputcollid);
		default:
			return false;
	}
}

/*
 * Rewrite a PostgreSQL LIKE pattern for Trino's LIKE ... ESCAPE '\'
 * (dialect.c).  False for a pattern PostgreSQL rejects (a trailing
 * escape): it stays local so that PostgreSQL raises its error.
 */
static bool
like_pattern_for_athena(const char *pattern, StringInfo out)
{
	bool		invalid;
	char	   *converted = athena_like_pattern(pattern, &invalid);

	if (converted == NULL)
	{
		if (!invalid)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		return false;
	}
	appendStringInfoString(out, converted);
	free(converted);
	return true;
}

/* ------------------------------------------------------------------------
 * Literals
 * ------------------------------------------------------------------------
 */

/* Append a string dialect.c malloc'd, and free it. */
static void
append_malloced(StringInfo buf, char *text)
{
	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	appendStringInfoString(buf, text);
	free(text);
}

/*
 * Write an identifier in double quotes, doubling embedded quotes.
 */
void
audit_append_identifier(StringInfo buf, const char *ident)
{
	append_malloced(buf, athena_quote_identifier(ident));
}

/*
 * Write a string literal: single quotes, embedded quotes doubled, nothing
 * else escaped (Trino has no backslash escapes).
 */
void
audit_append_string_literal(StringInfo buf, const char *str)
{
	append_malloced(buf, athena_quote_literal(str));
}

static void
append_timestamp_literal(StringInfo buf, Timestamp ts, AuditFdwRounding rounding)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int64		rem;

	/* values out of Athena's range are clamped: only widened bounds get here */
	if (TIMESTAMP_IS_NOBEGIN(ts) ||
		(timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) == 0 && tm.tm_year < 1))
	{
		appendStringInfoString(buf, "TIMESTAMP '0001-01-01 00:00:00.000'");
		return;
	}
	if (TIMESTAMP_IS_NOEND(ts) ||
		(timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) == 0 && tm.tm_year > 9999))
	{
		appendStringInfoString(buf, "TIMESTAMP '9999-12-31 23:59:59.999'");
		return;
	}

	rem = ((ts % 1000) + 1000) % 1000;
	if (rem != 0)
	{
		if (rounding == AUDIT_ROUND_FLOOR_MS)
			ts -= rem;
		else if (rounding == AUDIT_ROUND_CEIL_MS)
			ts += 1000 - rem;
	}
	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	appendStringInfo(buf, "TIMESTAMP '%04d-%02d-%02d %02d:%02d:%02d.%03d'",
					 tm.tm_year, tm.tm_mon, tm.tm_mday,
					 tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (fsec / 1000));
	if (fsec % 1000 != 0)
	{
		/* an exact value with microseconds: Trino keeps timestamp(6) */
		buf->len -= 1;
		buf->data[buf->len] = '\0';
		appendStringInfo(buf, "%03d'", (int) (fsec % 1000));
	}
}

/*
 * Write a value of a shippable type as an Athena literal.  Returns false
 * when the value has no Athena literal (NaN, infinite dates, ...).
 */
bool
audit_append_literal(StringInfo buf, Oid type, Datum value, bool isnull,
					 AuditFdwRounding rounding)
{
	if (rounding == AUDIT_LIMIT_COUNT || rounding == AUDIT_LIMIT_OFFSET)
	{
		int64		n = isnull ? -1 : DatumGetInt64(value);

		/* PostgreSQL's own checks and meanings (ExecLimit) */
		if (!isnull && n < 0)
			ereport(ERROR,
					(errcode(rounding == AUDIT_LIMIT_COUNT
							 ? ERRCODE_INVALID_ROW_COUNT_IN_LIMIT_CLAUSE
							 : ERRCODE_INVALID_ROW_COUNT_IN_RESULT_OFFSET_CLAUSE),
					 errmsg(rounding == AUDIT_LIMIT_COUNT ? "LIMIT must not be negative"
							: "OFFSET must not be negative")));
		/* no limit: the largest count Trino takes (its LIMIT is a bigint) */
		if (isnull)
			appendStringInfoString(buf, rounding == AUDIT_LIMIT_COUNT
								   ? "9223372036854775807" : "0");
		else
			appendStringInfo(buf, INT64_FORMAT, n);
		return true;
	}
	if (isnull)
	{
		appendStringInfoString(buf, "NULL");
		return true;
	}
	switch (type)
	{
		case BOOLOID:
			appendStringInfoString(buf, DatumGetBool(value) ? "TRUE" : "FALSE");
			return true;
		case INT2OID:
			appendStringInfo(buf, "SMALLINT '%d'", (int) DatumGetInt16(value));
			return true;
		case INT4OID:
			appendStringInfo(buf, "%d", DatumGetInt32(value));
			return true;
		case INT8OID:
			appendStringInfo(buf, "BIGINT '" INT64_FORMAT "'", DatumGetInt64(value));
			return true;
		case FLOAT4OID:
		case FLOAT8OID:
			{
				double		d = type == FLOAT4OID ? (double) DatumGetFloat4(value)
					: DatumGetFloat8(value);
				char		tmp[64];
				char	   *e;

				if (isnan(d) || isinf(d))
					return false;

				/*
				 * A DOUBLE literal (it needs an exponent in Trino) of the
				 * value's exact double: a real is widened to double first, as
				 * Trino widens a REAL column compared with a DOUBLE, so 0.1::real
				 * is 0.100000001490116119..., not 0.1.  17 significant digits
				 * give every double back exactly.
				 */
				snprintf(tmp, sizeof(tmp), "%.17g", d);
				e = strchr(tmp, 'e');
				if (e)
				{
					*e = '\0';
					appendStringInfo(buf, "%sE%d", tmp, atoi(e + 1));
				}
				else
					appendStringInfo(buf, "%sE0", tmp);
				return true;
			}
		case NUMERICOID:
			{
				Numeric		n = DatumGetNumeric(value);

				char	   *text;

				if (numeric_is_nan(n) || numeric_is_inf(n))
					return false;

				text = DatumGetCString(DirectFunctionCall1(numeric_out, value));

				/*
				 * DECIMAL '12.50' is decimal(4,2) in Trino: the value's own
				 * digits and scale, as PostgreSQL's numeric carries them, so
				 * that 37::numeric + 1 is 37 and not 37.0 either way.
				 * Trino's decimals hold 38 digits: a longer value has no
				 * literal.
				 */
				{
					int			digits = 0;
					const char *p = text;

					if (*p == '-')
						p++;
					while (*p == '0' && p[1] != '\0' && p[1] != '.')
						p++;
					for (; *p; p++)
						digits += (*p >= '0' && *p <= '9');
					if (digits > 38)
						return false;
				}
				appendStringInfo(buf, "DECIMAL '%s'", text);
				return true;
			}
		case TEXTOID:
		case VARCHAROID:
			if (rounding == AUDIT_LIKE_PATTERN)
			{
				StringInfoData converted;

				initStringInfo(&converted);
				if (!like_pattern_for_athena(TextDatumGetCString(value), &converted))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_ESCAPE_SEQUENCE),
							 errmsg("LIKE pattern must not end with escape character")));
				audit_append_string_literal(buf, converted.data);
				return true;
			}
			audit_append_string_literal(buf, TextDatumGetCString(value));
			return true;
		case DATEOID:
			{
				DateADT		d = DatumGetDateADT(value);
				int			y,
							m,
							dd;

				/*
				 * Dates out of Athena's range are clamped to its ends, as
				 * timestamps are: a comparison with one is then true or false
				 * for every date Athena holds (only a stored 9999-12-31 could
				 * tell an infinite bound from the end of the range).
				 */
				if (DATE_IS_NOBEGIN(d))
					y = 0;
				else if (DATE_IS_NOEND(d))
					y = 10000;
				else
					j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &dd);
				if (y < 1)
				{
					appendStringInfoString(buf, "DATE '0001-01-01'");
					return true;
				}
				if (y > 9999)
				{
					appendStringInfoString(buf, "DATE '9999-12-31'");
					return true;
				}
				appendStringInfo(buf, "DATE '%04d-%02d-%02d'", y, m, dd);
				return true;
			}
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			/* timestamptz is stored as UTC: written as a UTC TIMESTAMP */
			append_timestamp_literal(buf, DatumGetTimestamp(value), rounding);
			return true;
		default:
			return false;
	}
}

/* ------------------------------------------------------------------------
 * Deparsing expressions
 * ------------------------------------------------------------------------
 */

/*
 * Column reference: "column" or "column"."field"."field" for a path into
 * a struct, qualified with the relation's alias in joins.
 */
static void
deparse_column_ref(StringInfo buf, int varno, Oid relid, int varattno,
				   bool qualify)
{
	char	   *attname = get_attname(relid, varattno, false);
	AuditFdwColumn *col = audit_get_column(relid, varattno, attname);
	ListCell   *lc;

	if (qualify)
		appendStringInfo(buf, "%s%d.", REL_ALIAS_PREFIX, varno);
	audit_append_identifier(buf, col->remote_name);
	foreach(lc, col->path)
	{
		appendStringInfoChar(buf, '.');
		audit_append_identifier(buf, strVal(lfirst(lc)));
	}
}

static void
deparse_var(Var *var, deparse_expr_cxt *cxt)
{
	RangeTblEntry *rte = planner_rt_fetch(var->varno, cxt->root);

	if (!bms_is_member(var->varno, scan_relids_of(cxt->foreignrel)))
	{
		/* another relation's column: a parameter of the scan */
		deparse_value((Expr *) var, cxt, AUDIT_ROUND_NONE);
		return;
	}
	deparse_column_ref(cxt->buf, var->varno, rte->relid, var->varattno,
					   cxt->qualify);
}

static void
deparse_const(Const *c, deparse_expr_cxt *cxt, AuditFdwRounding rounding)
{
	if (!audit_append_literal(cxt->buf, c->consttype, c->constvalue,
							  c->constisnull, rounding))
		elog(ERROR, "constant of type %u is not shippable", c->consttype);
}

/*
 * A value: a literal now, or a runtime value written at executor start.
 */
static void
deparse_value(Expr *node, deparse_expr_cxt *cxt, AuditFdwRounding rounding)
{
	Node	   *n = strip_relabel((Node *) node);

	if (IsA(n, Const))
	{
		deparse_const((Const *) n, cxt, rounding);
		return;
	}
	if (contains_scan_vars(n, scan_relids_of(cxt->foreignrel)) ||
		contain_placeholder_or_agg(n))
	{
		deparse_expr((Expr *) n, cxt);
		return;
	}
	add_runtime_value(node, cxt, rounding);
}

/* A value written at executor start: it goes between two parts. */
static void
add_runtime_value(Expr *node, deparse_expr_cxt *cxt, AuditFdwRounding rounding)
{
	cxt->parts = lappend(cxt->parts, makeString(pstrdup(cxt->buf->data)));
	resetStringInfo(cxt->buf);
	cxt->runtime_exprs = lappend(cxt->runtime_exprs, node);
	cxt->roundings = lappend_int(cxt->roundings, rounding);
}

static void
deparse_expr(Expr *node, deparse_expr_cxt *cxt)
{
	Node	   *n = (Node *) node;

	if (n == NULL)
		return;
	if (IsA(n, RelabelType))
	{
		deparse_expr(((RelabelType *) n)->arg, cxt);
		return;
	}
	/* anything computed without the scanned columns: a runtime value */
	if (!IsA(n, Const) && !IsA(n, Var) && is_runtime_type(exprType(n)) &&
		!contains_scan_vars(n, scan_relids_of(cxt->foreignrel)) &&
		!contain_placeholder_or_agg(n))
	{
		deparse_value(node, cxt, AUDIT_ROUND_NONE);
		return;
	}

	switch (nodeTag(n))
	{
		case T_Var:
			deparse_var((Var *) n, cxt);
			break;
		case T_Const:
			deparse_const((Const *) n, cxt, AUDIT_ROUND_NONE);
			break;
		case T_Param:
			deparse_value(node, cxt, AUDIT_ROUND_NONE);
			break;
		case T_OpExpr:
			deparse_opexpr((OpExpr *) n, cxt);
			break;
		case T_DistinctExpr:
			{
				OpExpr	   *op = (OpExpr *) n;

				appendStringInfoChar(cxt->buf, '(');
				deparse_expr(linitial(op->args), cxt);
				appendStringInfoString(cxt->buf, " IS DISTINCT FROM ");
				deparse_expr(lsecond(op->args), cxt);
				appendStringInfoChar(cxt->buf, ')');
				break;
			}
		case T_ScalarArrayOpExpr:
			deparse_saop((ScalarArrayOpExpr *) n, cxt);
			break;
		case T_BoolExpr:
			deparse_bool_expr((BoolExpr *) n, cxt);
			break;
		case T_NullTest:
			{
				NullTest   *nt = (NullTest *) n;

				appendStringInfoChar(cxt->buf, '(');
				deparse_expr(nt->arg, cxt);
				appendStringInfoString(cxt->buf, nt->nulltesttype == IS_NULL
									   ? " IS NULL)" : " IS NOT NULL)");
				break;
			}
		case T_BooleanTest:
			{
				/* Trino has no IS [NOT] TRUE: the same by DISTINCT FROM */
				BooleanTest *bt = (BooleanTest *) n;
				static const char *const tests[] = {
					[IS_TRUE] = " IS NOT DISTINCT FROM TRUE)",
					[IS_NOT_TRUE] = " IS DISTINCT FROM TRUE)",
					[IS_FALSE] = " IS NOT DISTINCT FROM FALSE)",
					[IS_NOT_FALSE] = " IS DISTINCT FROM FALSE)",
					[IS_UNKNOWN] = " IS NULL)",
					[IS_NOT_UNKNOWN] = " IS NOT NULL)"
				};

				appendStringInfoChar(cxt->buf, '(');
				deparse_expr(bt->arg, cxt);
				appendStringInfoString(cxt->buf, tests[bt->booltesttype]);
				break;
			}
		case T_FuncExpr:
			deparse_func((FuncExpr *) n, cxt);
			break;
		case T_CoalesceExpr:
			{
				CoalesceExpr *ce = (CoalesceExpr *) n;
				ListCell   *lc;
				bool		first = true;

				appendStringInfoString(cxt->buf, "coalesce(");
				foreach(lc, ce->args)
				{
					if (!first)
						appendStringInfoString(cxt->buf, ", ");
					first = false;
					deparse_expr((Expr *) lfirst(lc), cxt);
				}
				appendStringInfoChar(cxt->buf, ')');
				break;
			}
		case T_CaseExpr:
			{
				CaseExpr   *ce = (CaseExpr *) n;
				ListCell   *lc;

				appendStringInfoString(cxt->buf, "(CASE");
				foreach(lc, ce->args)
				{
					CaseWhen   *w = lfirst_node(CaseWhen, lc);

					appendStringInfoString(cxt->buf, " WHEN ");
					deparse_expr(w->expr, cxt);
					appendStringInfoString(cxt->buf, " THEN ");
					deparse_expr(w->result, cxt);
				}
				if (ce->defresult != NULL)
				{
					appendStringInfoString(cxt->buf, " ELSE ");
					deparse_expr(ce->defresult, cxt);
				}
				appendStringInfoString(cxt->buf, " END)");
				break;
			}
		case T_NullIfExpr:
			{
				NullIfExpr *ni = (NullIfExpr *) n;

				appendStringInfoString(cxt->buf, "nullif(");
				deparse_expr(linitial(ni->args), cxt);
				appendStringInfoString(cxt->buf, ", ");
				deparse_expr(lsecond(ni->args), cxt);
				appendStringInfoChar(cxt->buf, ')');
				break;
			}
		case T_Aggref:
			deparse_aggref((Aggref *) n, cxt);
			break;
		default:
			elog(ERROR, "unsupported expression type for deparse: %d",
				 (int) nodeTag(n));
	}
}

static void
deparse_opexpr(OpExpr *op, deparse_expr_cxt *cxt)
{
	char	   *opname = get_opname(op->opno);
	CmpKind		kind;

	if (list_length(op->args) == 1)
	{
		appendStringInfoString(cxt->buf, "(- ");
		deparse_arith_operand((Node *) linitial(op->args), cxt);
		appendStringInfoChar(cxt->buf, ')');
		return;
	}
	if (strcmp(opname, "~~") == 0 || strcmp(opname, "!~~") == 0 ||
		strcmp(opname, "~~*") == 0 || strcmp(opname, "!~~*") == 0)
	{
		deparse_like(op, cxt);
		return;
	}
	kind = cmp_kind(op->opno);
	if (kind != CMP_NONE)
	{
		deparse_comparison(linitial(op->args), lsecond(op->args), kind, cxt);
		return;
	}
	appendStringInfoChar(cxt->buf, '(');
	deparse_arith_operand((Node *) linitial(op->args), cxt);
	appendStringInfo(cxt->buf, " %s ", op->opfuncid == F_TEXTCAT ? "||" : opname);
	deparse_arith_operand((Node *) lsecond(op->args), cxt);
	appendStringInfoChar(cxt->buf, ')');
}

/*
 * An operand of arithmetic.  A column of an integer type is cast to the
 * local column's width first: a Glue tinyint is read as smallint here, and
 * Trino does tinyint arithmetic in tinyint (39 * 39 overflows), so the
 * arithmetic must run at the width PostgreSQL runs it at, with the same
 * overflow errors.  The cast is exact where the widths already agree.
 */
static void
deparse_arith_operand(Node *arg, deparse_expr_cxt *cxt)
{
	Node	   *bare = arg;
	Oid			type = exprType(arg);

	while (bare && IsA(bare, RelabelType))
		bare = (Node *) ((RelabelType *) bare)->arg;
	if (bare == NULL || !IsA(bare, Var) || !is_integer_type(type))
	{
		deparse_expr((Expr *) arg, cxt);
		return;
	}
	appendStringInfoString(cxt->buf, "CAST(");
	deparse_expr((Expr *) arg, cxt);
	appendStringInfo(cxt->buf, " AS %s)",
					 type == INT2OID ? "SMALLINT" : type == INT4OID ? "INTEGER" : "BIGINT");
}

static const char *
cmp_symbol(CmpKind kind)
{
	switch (kind)
	{
		case CMP_EQ:
			return "=";
		case CMP_NE:
			return "<>";
		case CMP_LT:
			return "<";
		case CMP_LE:
			return "<=";
		case CMP_GT:
			return ">";
		case CMP_GE:
			return ">=";
		default:
			elog(ERROR, "not a comparison");
	}
	return NULL;
}

static CmpKind
commute_cmp(CmpKind k)
{
	switch (k)
	{
		case CMP_LT:
			return CMP_GT;
		case CMP_LE:
			return CMP_GE;
		case CMP_GT:
			return CMP_LT;
		case CMP_GE:
			return CMP_LE;
		default:
			return k;
	}
}

/*
 * left <kind> right; a timestamp bound that is not exact is widened to the
 * enclosing milliseconds (the classifier allowed it only where a superset
 * is rechecked locally).
 */
static void
deparse_comparison(Node *left, Node *right, CmpKind kind, deparse_expr_cxt *cxt)
{
	Relids		relids = scan_relids_of(cxt->foreignrel);
	bool		lvars = contains_scan_vars(left, relids);
	bool		rvars = contains_scan_vars(right, relids);
	Node	   *expr = left,
			   *value = NULL;

	if (lvars && !rvars)
		value = right;
	else if (rvars && !lvars)
	{
		expr = right;
		value = left;
		kind = commute_cmp(kind);
	}

	/*
	 * a timestamp or date against a timestamptz: converted at executor start
	 * in the session's time zone, as PostgreSQL's cross-type comparison does
	 */
	if (value != NULL && mixes_time_zones(exprType(expr), exprType(value)))
		value = (Node *) audit_as_timestamptz((Expr *) value);

	appendStringInfoChar(cxt->buf, '(');
	if (value != NULL && is_timestamp_type(exprType(expr)) &&
		value_is_unaligned(value))
	{
		deparse_expr((Expr *) expr, cxt);
		switch (kind)
		{
				/* x < v: x < ceil(v); x <= v: x <= floor(v), and so on */
			case CMP_LT:
				appendStringInfoString(cxt->buf, " < ");
				deparse_value((Expr *) value, cxt, AUDIT_ROUND_CEIL_MS);
				break;
			case CMP_LE:
				appendStringInfoString(cxt->buf, " <= ");
				deparse_value((Expr *) value, cxt, AUDIT_ROUND_FLOOR_MS);
				break;
			case CMP_GT:
				appendStringInfoString(cxt->buf, " > ");
				deparse_value((Expr *) value, cxt, AUDIT_ROUND_FLOOR_MS);
				break;
			case CMP_GE:
				appendStringInfoString(cxt->buf, " >= ");
				deparse_value((Expr *) value, cxt, AUDIT_ROUND_CEIL_MS);
				break;
			case CMP_EQ:
				appendStringInfoString(cxt->buf, " BETWEEN ");
				deparse_value((Expr *) value, cxt, AUDIT_ROUND_FLOOR_MS);
				appendStringInfoString(cxt->buf, " AND ");
				deparse_value((Expr *) value, cxt, AUDIT_ROUND_CEIL_MS);
				break;
			default:
				elog(ERROR, "comparison cannot be widened");
		}
	}
	else if (value != NULL && is_float_type(exprType(expr)) &&
			 (kind == CMP_GT || kind == CMP_GE))
	{
		/* NaN is greater than every number in PostgreSQL */
		appendStringInfoString(cxt->buf, "NOT (");
		deparse_expr((Expr *) expr, cxt);
		appendStringInfo(cxt->buf, " %s ", kind == CMP_GT ? "<=" : "<");
		deparse_value((Expr *) value, cxt, AUDIT_ROUND_NONE);
		appendStringInfoChar(cxt->buf, ')');
	}
	else if (value != NULL)
	{
		deparse_expr((Expr *) expr, cxt);
		appendStringInfo(cxt->buf, " %s ", cmp_symbol(kind));
		deparse_value((Expr *) value, cxt, AUDIT_ROUND_NONE);
	}
	else
	{
		deparse_expr((Expr *) left, cxt);
		appendStringInfo(cxt->buf, " %s ", cmp_symbol(kind));
		deparse_expr((Expr *) right, cxt);
	}
	appendStringInfoChar(cxt->buf, ')');
}

static void
deparse_like(OpExpr *op, deparse_expr_cxt *cxt)
{
	char	   *opname = get_opname(op->opno);
	bool		negate = opname[0] == '!';
	bool		icase = strchr(opname, '*') != NULL;
	Node	   *patnode = strip_relabel(lsecond(op->args));
	Const	   *pat;
	char	   *pattern;
	StringInfoData converted;

	if (!IsA(patnode, Const))
	{
		/* a runtime pattern, converted when its value is known */
		appendStringInfoChar(cxt->buf, '(');
		deparse_expr(linitial(op->args), cxt);
		appendStringInfoString(cxt->buf, negate ? " NOT LIKE " : " LIKE ");
		deparse_value((Expr *) lsecond(op->args), cxt, AUDIT_LIKE_PATTERN);
		appendStringInfoString(cxt->buf, " ESCAPE '\\')");
		return;
	}
	pat = (Const *) patnode;
	pattern = TextDatumGetCString(pat->constvalue);

	/* ILIKE: lower() of both sides, as PostgreSQL does in UTF-8 */
	if (icase)
		pattern = str_tolower(pattern, strlen(pattern), op->inputcollid);
	initStringInfo(&converted);
	if (!like_pattern_for_athena(pattern, &converted))
		elog(ERROR, "LIKE pattern is not shippable");
	appendStringInfoChar(cxt->buf, '(');
	if (icase)
		appendStringInfoString(cxt->buf, "lower(");
	deparse_expr(linitial(op->args), cxt);
	if (icase)
		appendStringInfoChar(cxt->buf, ')');
	appendStringInfoString(cxt->buf, negate ? " NOT LIKE " : " LIKE ");
	audit_append_string_literal(cxt->buf, converted.data);
	appendStringInfoString(cxt->buf, " ESCAPE '\\')");
}

static void
deparse_saop(ScalarArrayOpExpr *saop, deparse_expr_cxt *cxt)
{
	Const	   *arr = (Const *) strip_relabel(lsecond(saop->args));
	Oid			elemtype = get_element_type(arr->consttype);
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i;

	if (arr->constisnull)
	{
		/*
		 * A batched join's keys (audit_batch_keys_clause); on the bucket
		 * key of a table with key buckets, also their buckets.
		 */
		appendStringInfoChar(cxt->buf, '(');
		deparse_expr(linitial(saop->args), cxt);
		appendStringInfoString(cxt->buf, " IN (");
		add_runtime_value((Expr *) arr, cxt, AUDIT_BATCH_KEYS);
		appendStringInfoChar(cxt->buf, ')');
		if (IS_SIMPLE_REL(cxt->foreignrel) &&
			audit_bucket_key_digits(cxt->root, cxt->foreignrel,
									linitial(saop->args)) > 0)
		{
			AuditFdwRelationInfo *fpinfo = cxt->foreignrel->fdw_private;

			appendStringInfoString(cxt->buf, " AND ");
			if (cxt->qualify)
				appendStringInfo(cxt->buf, "%s%d.", REL_ALIAS_PREFIX,
								 cxt->foreignrel->relid);
			audit_append_identifier(cxt->buf, fpinfo->options->bucket_column);
			appendStringInfoString(cxt->buf, " IN (");
			add_runtime_value((Expr *) arr, cxt, AUDIT_BATCH_BUCKETS);
			appendStringInfoChar(cxt->buf, ')');
		}
		appendStringInfoChar(cxt->buf, ')');
		return;
	}
	get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
	deconstruct_array(DatumGetArrayTypeP(arr->constvalue), elemtype, elmlen,
					  elmbyval, elmalign, &elems, &nulls, &nelems);
	appendStringInfoChar(cxt->buf, '(');
	deparse_expr(linitial(saop->args), cxt);
	appendStringInfoString(cxt->buf, saop->useOr ? " IN (" : " NOT IN (");
	for (i = 0; i < nelems; i++)
	{
		if (i > 0)
			appendStringInfoString(cxt->buf, ", ");
		if (!audit_append_literal(cxt->buf, elemtype, elems[i], nulls[i],
								  AUDIT_ROUND_NONE))
			elog(ERROR, "array element is not shippable");
	}
	appendStringInfoString(cxt->buf, "))");
}

static void
deparse_bool_expr(BoolExpr *b, deparse_expr_cxt *cxt)
{
	ListCell   *lc;
	bool		first = true;
	const char *sep = b->boolop == AND_EXPR ? " AND " : " OR ";

	if (b->boolop == NOT_EXPR)
	{
		appendStringInfoString(cxt->buf, "(NOT ");
		deparse_expr(linitial(b->args), cxt);
		appendStringInfoChar(cxt->buf, ')');
		return;
	}
	appendStringInfoChar(cxt->buf, '(');
	foreach(lc, b->args)
	{
		if (!first)
			appendStringInfoString(cxt->buf, sep);
		deparse_expr((Expr *) lfirst(lc), cxt);
		first = false;
	}
	appendStringInfoChar(cxt->buf, ')');
}

static void
deparse_func(FuncExpr *fe, deparse_expr_cxt *cxt)
{
	StringInfo	buf = cxt->buf;
	Node	   *arg1 = list_length(fe->args) > 0 ? linitial(fe->args) : NULL;
	Node	   *arg2 = list_length(fe->args) > 1 ? lsecond(fe->args) : NULL;
	Node	   *arg3 = list_length(fe->args) > 2 ? lthird(fe->args) : NULL;
	const char *cast_to = NULL;

	switch (fe->funcid)
	{
		case F_INT4_INT2:
			cast_to = "INTEGER";
			break;
		case F_INT8_INT2:
		case F_INT8_INT4:
			cast_to = "BIGINT";
			break;
			/* the integer type's own digits, as Trino coerces them */
		case F_NUMERIC_INT2:
			cast_to = "DECIMAL(5,0)";
			break;
		case F_NUMERIC_INT4:
			cast_to = "DECIMAL(10,0)";
			break;
		case F_NUMERIC_INT8:
			cast_to = "DECIMAL(19,0)";
			break;
			/* timestamp(date) and date(timestamp) */
		case F_TIMESTAMP_DATE:
			cast_to = "TIMESTAMP";
			break;
		case F_DATE_TIMESTAMP:
			cast_to = "DATE";
			break;
		case F_LOWER_TEXT:
		case F_UPPER_TEXT:
		case F_LENGTH_TEXT:
		case F_CHAR_LENGTH_TEXT:
			appendStringInfoString(buf, fe->funcid == F_LOWER_TEXT ? "lower(" :
								   fe->funcid == F_UPPER_TEXT ? "upper(" : "length(");
			deparse_expr((Expr *) arg1, cxt);
			appendStringInfoChar(buf, ')');
			return;
		case F_STRPOS:
		case F_POSITION_TEXT_TEXT:
			appendStringInfoString(buf, "strpos(");
			deparse_expr((Expr *) arg1, cxt);
			appendStringInfoString(buf, ", ");
			deparse_expr((Expr *) arg2, cxt);
			appendStringInfoChar(buf, ')');
			return;
		case F_SUBSTR_TEXT_INT4:
		case F_SUBSTRING_TEXT_INT4:
		case F_SUBSTR_TEXT_INT4_INT4:
		case F_SUBSTRING_TEXT_INT4_INT4:
			appendStringInfoString(buf, "substr(");
			deparse_expr((Expr *) arg1, cxt);
			appendStringInfoString(buf, ", ");
			deparse_expr((Expr *) arg2, cxt);
			if (arg3)
			{
				appendStringInfoString(buf, ", ");
				deparse_expr((Expr *) arg3, cxt);
			}
			appendStringInfoChar(buf, ')');
			return;
		case F_DATE_TRUNC_TEXT_TIMESTAMP:
		case F_DATE_TRUNC_TEXT_TIMESTAMPTZ_TEXT:
			appendStringInfoString(buf, "date_trunc(");
			audit_append_string_literal(buf, date_unit_name((Const *) arg1));
			appendStringInfoString(buf, ", ");
			deparse_expr((Expr *) arg2, cxt);
			appendStringInfoChar(buf, ')');
			return;
		case F_EXTRACT_TEXT_TIMESTAMP:
		case F_EXTRACT_TEXT_DATE:
			appendStringInfo(buf, "%s(",
							 extract_function((Const *) arg1, exprType(arg2)));
			deparse_expr((Expr *) arg2, cxt);
			appendStringInfoChar(buf, ')');
			return;
		case F_TIMEZONE_TEXT_TIMESTAMPTZ:
			deparse_expr((Expr *) arg2, cxt);
			return;
		default:
			elog(ERROR, "function %u is not shippable", fe->funcid);
	}
	appendStringInfoString(buf, "CAST(");
	deparse_expr((Expr *) arg1, cxt);
	appendStringInfo(buf, " AS %s)", cast_to);
}

static void
deparse_aggref(Aggref *agg, deparse_expr_cxt *cxt)
{
	StringInfo	buf = cxt->buf;
	const char *name;
	bool		to_decimal = false;
	ListCell   *lc;

	/* avg: "sum count", divided by the scan (audit_is_foreign_aggregate) */
	if (audit_is_avg_pair((Node *) agg))
	{
		Aggref		part = *agg;

		part.aggfnoid = agg->aggfnoid == F_AVG_INT2 ? F_SUM_INT2 :
			agg->aggfnoid == F_AVG_INT4 ? F_SUM_INT4 :
			agg->aggfnoid == F_AVG_INT8 ? F_SUM_INT8 : F_SUM_NUMERIC;
		appendStringInfoString(buf, "(CAST(");
		deparse_aggref(&part, cxt);
		appendStringInfoString(buf, " AS VARCHAR) || ' ' || CAST(");
		part.aggfnoid = F_COUNT_ANY;
		deparse_aggref(&part, cxt);
		appendStringInfoString(buf, " AS VARCHAR))");
		return;
	}

	switch (agg->aggfnoid)
	{
		case F_COUNT_:
		case F_COUNT_ANY:
			name = "count";
			break;
		case F_SUM_INT8:
			/* PostgreSQL sums bigint as numeric: never overflows */
			to_decimal = true;
			name = "sum";
			break;
		case F_SUM_INT2:
		case F_SUM_INT4:
		case F_SUM_NUMERIC:
			name = "sum";
			break;
		case F_AVG_FLOAT8:
			name = "avg";
			break;
		case F_BOOL_AND:
		case F_EVERY:
			name = "bool_and";
			break;
		case F_BOOL_OR:
			name = "bool_or";
			break;
		default:
			name = get_func_name(agg->aggfnoid);	/* min, max */
			break;
	}
	appendStringInfo(buf, "%s(", name);
	if (agg->aggdistinct != NIL)
		appendStringInfoString(buf, "DISTINCT ");
	if (agg->aggstar)
		appendStringInfoChar(buf, '*');
	foreach(lc, agg->args)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (to_decimal)
			appendStringInfoString(buf, "CAST(");
		deparse_expr(tle->expr, cxt);
		if (to_decimal)
			appendStringInfoString(buf, " AS DECIMAL(38,0))");
	}
	appendStringInfoChar(buf, ')');
	if (agg->aggfilter)
	{
		appendStringInfoString(buf, " FILTER (WHERE ");
		deparse_expr(agg->aggfilter, cxt);
		appendStringInfoChar(buf, ')');
	}
}

/* ------------------------------------------------------------------------
 * Deparsing a SELECT
 * ------------------------------------------------------------------------
 */

/*
 * The SELECT list of a base relation scan: the columns in attrs_used, in
 * attribute order.  A json/jsonb column is read through
 * json_format(CAST(... AS JSON)) so that arrays, maps and rows arrive as
 * exact JSON text.  When no column is needed (count(*)), a constant keeps
 * one field per row.
 */
static void
deparse_target_list(StringInfo buf, int varno, Relation rel,
					Bitmapset *attrs_used, List **retrieved_attrs)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	bool		have_wholerow;
	bool		first = true;
	int			i;

	*retrieved_attrs = NIL;
	have_wholerow = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber,
								  attrs_used);
	for (i = 1; i <= tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i - 1);

		if (attr->attisdropped)
			continue;
		if (!have_wholerow &&
			!bms_is_member(i - FirstLowInvalidHeapAttributeNumber, attrs_used))
			continue;
		if (!first)
			appendStringInfoString(buf, ", ");
		first = false;
		if (audit_column_reads_json(RelationGetRelid(rel), i, attr->atttypid))
		{
			appendStringInfoString(buf, "json_format(CAST(");
			deparse_column_ref(buf, varno, RelationGetRelid(rel), i, false);
			appendStringInfoString(buf, " AS JSON))");
		}
		else
			deparse_column_ref(buf, varno, RelationGetRelid(rel), i, false);
		*retrieved_attrs = lappend_int(*retrieved_attrs, i);
	}
	if (first)
		appendStringInfoString(buf, "1");
}

/*
 * True for a partition format whose strings sort as the times they stand
 * for (dialect.c has the rule).
 */
bool
audit_partition_format_valid(const char *format)
{
	return athena_partition_format_valid(format);
}

/*
 * How a table's partitions relate to event time: delivery-hour folders
 * allow for clock skew below and the declared delay above; event-time
 * folders for neither.
 */
void
audit_partitioning_of(const AuditFdwOptions *options, AuditFdwPartitioning *part)
{
	part->format = options->partition_format;
	part->delay_us = options->event_time_partitions ? 0 : options->max_delivery_delay_us;
	part->skew_us = options->event_time_partitions ? 0 : AUDIT_CLOCK_SKEW_US;
}

/*
 * The partition value bounding the partitions that can hold a record with
 * event time ts: the lower one (ts less the clock skew allowance) or the
 * upper one (ts plus the longest delivery delay), as a string literal.
 * Times beyond Athena's range give bounds that keep every partition (or,
 * for an empty range, none).
 */
void
audit_append_partition_literal(StringInfo buf, const AuditFdwPartitioning *part,
							   Timestamp ts, bool upper)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char		out[256];

	if (!TIMESTAMP_NOT_FINITE(ts))
	{
		int64		shift = upper ? part->delay_us : -part->skew_us;

		if ((shift > 0 && ts > PG_INT64_MAX - shift) ||
			(shift < 0 && ts < PG_INT64_MIN - shift))
			ts = shift > 0 ? DT_NOEND : DT_NOBEGIN;
		else
			ts += shift;
	}
	if (TIMESTAMP_IS_NOBEGIN(ts) ||
		timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
	{
		bool		late = TIMESTAMP_IS_NOEND(ts) ||
			(!TIMESTAMP_IS_NOBEGIN(ts) && ts > 0);

		/* '' sorts before every value, '~' after every digit string */
		audit_append_string_literal(buf, late ? "~" : "");
		return;
	}
	if (!athena_partition_value(part->format, tm.tm_year, tm.tm_mon, tm.tm_mday,
								tm.tm_hour, tm.tm_min, out, sizeof(out)))
		elog(ERROR, "partition value of format \"%s\" is too long", part->format);
	audit_append_string_literal(buf, out);
}


/*
 * The target list of a join or upper relation: what the ForeignScan's
 * fdw_scan_tlist holds, in order.
 */
List *
audit_build_tlist_to_deparse(RelOptInfo *foreignrel)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) foreignrel->fdw_private;
	List	   *tlist = NIL;
	ListCell   *lc;

	if (IS_UPPER_REL(foreignrel))
		return fpinfo->grouped_tlist;

	tlist = add_to_flat_tlist(tlist,
							  pull_var_clause((Node *) foreignrel->reltarget->exprs,
											  PVC_RECURSE_PLACEHOLDERS));
	foreach(lc, fpinfo->local_conds)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		tlist = add_to_flat_tlist(tlist,
								  pull_var_clause((Node *) ri->clause,
												  PVC_RECURSE_PLACEHOLDERS));
	}
	return tlist;
}

/* Write conditions (RestrictInfos or bare expressions) joined by sep. */
static void
deparse_conds(List *conds, const char *sep, deparse_expr_cxt *cxt)
{
	ListCell   *lc;
	bool		first = true;

	foreach(lc, conds)
	{
		Node	   *n = lfirst(lc);

		if (IsA(n, RestrictInfo))
			n = (Node *) ((RestrictInfo *) n)->clause;
		if (!first)
			appendStringInfoString(cxt->buf, sep);
		first = false;
		deparse_expr((Expr *) n, cxt);
	}
}

/*
 * Opens one partition condition of baserel: the separator unless it is the
 * first, then "(" and the partition column (qualified in a join).
 */
static void
open_partition_cond(RelOptInfo *baserel, const char *column, bool *first,
					const char *sep, deparse_expr_cxt *cxt)
{
	if (!*first)
		appendStringInfoString(cxt->buf, sep);
	*first = false;
	appendStringInfoChar(cxt->buf, '(');
	if (cxt->qualify)
		appendStringInfo(cxt->buf, "%s%d.", REL_ALIAS_PREFIX, baserel->relid);
	audit_append_identifier(cxt->buf, column);
}

/* Two tables' declared attribute folders are the same (or neither has) */
static bool
same_folder_values(const AuditFdwOptions *a, const AuditFdwOptions *b)
{
	return equal(a->folder_values, b->folder_values);
}

/*
 * The partition pruning conditions of a base relation (partition.c): the
 * partition column against the partition of each event time bound, the
 * bucket column against the buckets of the key's values, and the folder
 * column against the attribute's folders.
 */
static void
deparse_partition_conds(RelOptInfo *baserel, bool *first, const char *sep,
						deparse_expr_cxt *cxt)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) baserel->fdw_private;
	ListCell   *lc;

	AuditFdwPartitioning part;

	audit_partitioning_of(fpinfo->options, &part);
	foreach(lc, fpinfo->partition_bounds)
	{
		AuditFdwPartitionBound *b = lfirst(lc);
		Node	   *value = (Node *) b->value;

		while (IsA(value, RelabelType))
			value = (Node *) ((RelabelType *) value)->arg;
		/*
		 * A value known at executor start is written with the scan's
		 * partitioning (its first partitioned table's): another table's
		 * bound of that kind is left out, which only prunes less.
		 */
		if (!IsA(value, Const) &&
			(cxt->partitioning == NULL ||
			 strcmp(cxt->partitioning->format, part.format) != 0 ||
			 cxt->partitioning->delay_us != part.delay_us ||
			 cxt->partitioning->skew_us != part.skew_us))
			continue;
		open_partition_cond(baserel, fpinfo->options->partition_column, first, sep, cxt);
		appendStringInfoString(cxt->buf, b->is_upper ? " <= " : " >= ");
		if (IsA(value, Const))
			audit_append_partition_literal(cxt->buf, &part,
										   DatumGetTimestamp(((Const *) value)->constvalue),
										   b->is_upper);
		else
			deparse_value((Expr *) value, cxt,
						  b->is_upper ? AUDIT_ROUND_PARTITION_UPPER
						  : AUDIT_ROUND_PARTITION_LOWER);
		appendStringInfoChar(cxt->buf, ')');
	}
	/* the key buckets and attribute folders of the values (partition.c) */
	for (int k = 0; k < AUDIT_NUM_LEVELS; k++)
	{
		List	   *values = fpinfo->level_values[k];
		AuditFdwLevel level;

		if (!audit_level_of(fpinfo->options, k, &level))
			continue;
		if (values != NIL)
		{
			open_partition_cond(baserel, level.column, first, sep, cxt);
			if (list_length(values) == 1)
			{
				appendStringInfoString(cxt->buf, " = ");
				audit_append_string_literal(cxt->buf, strVal(linitial(values)));
			}
			else
			{
				appendStringInfoString(cxt->buf, " IN (");
				foreach(lc, values)
				{
					if (lc != list_head(values))
						appendStringInfoString(cxt->buf, ", ");
					audit_append_string_literal(cxt->buf, strVal(lfirst(lc)));
				}
				appendStringInfoChar(cxt->buf, ')');
			}
			appendStringInfoChar(cxt->buf, ')');
		}
		/*
		 * and of the values known at executor start: written by the scan,
		 * with the folders its foreign table declares (another table's, if
		 * it declares others, are left out, which only prunes less)
		 */
		if (k == AUDIT_LEVEL_ATTRIBUTE_FOLDER &&
			!same_folder_values(fpinfo->options,
								((AuditFdwRelationInfo *) cxt->foreignrel->fdw_private)->options))
			continue;
		foreach(lc, fpinfo->level_runtime[k])
		{
			open_partition_cond(baserel, level.column, first, sep, cxt);
			appendStringInfoString(cxt->buf, " IN (");
			add_runtime_value((Expr *) lfirst(lc), cxt,
							  k == AUDIT_LEVEL_KEY_BUCKET
							  ? AUDIT_KEY_BUCKETS_1 + level.digits - 1
							  : AUDIT_ATTRIBUTE_FOLDERS);
			appendStringInfoString(cxt->buf, "))");
		}
	}
}

/*
 * The conditions of rel that belong in the WHERE of its SELECT: a base
 * relation's own, a join's (inner join: both sides' and the join quals;
 * outer join: the preserved side's), as RestrictInfos and, for partition
 * pruning, the base relations (RelOptInfo) whose partition conditions go
 * there too.
 */
static void
collect_where(RelOptInfo *rel, List **conds)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) rel->fdw_private;

	if (IS_SIMPLE_REL(rel))
	{
		*conds = list_concat(*conds, fpinfo->remote_conds);
		*conds = lappend(*conds, rel);
		return;
	}
	/* a join: its remote_conds hold its own WHERE items */
	*conds = list_concat(*conds, fpinfo->remote_conds);
	switch (fpinfo->jointype)
	{
		case JOIN_INNER:
			collect_where(fpinfo->outerrel, conds);
			collect_where(fpinfo->innerrel, conds);
			break;
		case JOIN_LEFT:
			collect_where(fpinfo->outerrel, conds);
			break;
		case JOIN_RIGHT:
			collect_where(fpinfo->innerrel, conds);
			break;
		case JOIN_SEMI:
		case JOIN_ANTI:
			/* the outer side's conditions, and [NOT] EXISTS (inner side) */
			collect_where(fpinfo->outerrel, conds);
			*conds = lappend(*conds, rel);
			break;
		default:
			break;
	}
}

/*
 * A semi- or anti-join as a condition: [NOT] EXISTS (SELECT 1 FROM inner
 * WHERE <join quals> AND <inner side's conditions>), which means in Trino
 * what the join means here (a row of the outer side, once, where some
 * inner row matches, or none does).
 */
static void
deparse_exists(RelOptInfo *rel, bool *first, const char *sep, deparse_expr_cxt *cxt)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) rel->fdw_private;
	List	   *where = list_copy(fpinfo->joinclauses);
	bool		inner_first = true;

	if (!*first)
		appendStringInfoString(cxt->buf, sep);
	*first = false;
	appendStringInfoString(cxt->buf, fpinfo->jointype == JOIN_ANTI
						   ? "(NOT EXISTS (SELECT 1 FROM " : "(EXISTS (SELECT 1 FROM ");
	deparse_from(fpinfo->innerrel, cxt);
	appendStringInfoString(cxt->buf, " WHERE ");
	collect_where(fpinfo->innerrel, &where);
	deparse_cond_items(where, " AND ", &inner_first, cxt);
	if (inner_first)
		appendStringInfoString(cxt->buf, "TRUE");
	appendStringInfoString(cxt->buf, "))");
}

/* Write a WHERE-style list: RestrictInfos, and base rels' partition conds. */
static void
deparse_cond_items(List *items, const char *sep, bool *first,
				   deparse_expr_cxt *cxt)
{
	ListCell   *lc;

	foreach(lc, items)
	{
		Node	   *n = lfirst(lc);

		if (IsA(n, RestrictInfo))
		{
			if (!*first)
				appendStringInfoString(cxt->buf, sep);
			*first = false;
			deparse_expr(((RestrictInfo *) n)->clause, cxt);
		}
		else if (IS_JOIN_REL((RelOptInfo *) n))
			deparse_exists((RelOptInfo *) n, first, sep, cxt);
		else
			deparse_partition_conds((RelOptInfo *) n, first, sep, cxt);
	}
}

/*
 * FROM items of rel: "db"."table" [rN], or a chain of joins.  The inner
 * side of a join is always a base relation (so no parentheses are needed);
 * an outer join's ON holds the join quals and the nullable side's
 * conditions.
 */
static void
deparse_from(RelOptInfo *rel, deparse_expr_cxt *cxt)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) rel->fdw_private;
	StringInfo	buf = cxt->buf;

	if (IS_SIMPLE_REL(rel))
	{
		audit_append_identifier(buf, fpinfo->options->database);
		appendStringInfoChar(buf, '.');
		audit_append_identifier(buf, fpinfo->options->table);
		if (cxt->qualify)
			appendStringInfo(buf, " %s%d", REL_ALIAS_PREFIX, rel->relid);
		return;
	}
	else
	{
		List	   *on = NIL;
		bool		first = true;
		const char *join;

		deparse_from(fpinfo->outerrel, cxt);
		/* a semi- or anti-join is an EXISTS in the WHERE (collect_where) */
		if (fpinfo->jointype == JOIN_SEMI || fpinfo->jointype == JOIN_ANTI)
			return;
		switch (fpinfo->jointype)
		{
			case JOIN_INNER:
				join = "INNER JOIN";
				break;
			case JOIN_LEFT:
				join = "LEFT JOIN";
				collect_where(fpinfo->innerrel, &on);
				break;
			case JOIN_RIGHT:
				join = "RIGHT JOIN";
				collect_where(fpinfo->outerrel, &on);
				break;
			case JOIN_FULL:
				join = "FULL JOIN";
				break;
			default:
				elog(ERROR, "unsupported join type %d", fpinfo->jointype);
				join = NULL;
		}
		appendStringInfo(buf, " %s ", join);
		deparse_from(fpinfo->innerrel, cxt);
		appendStringInfoString(buf, " ON (");
		on = list_concat(list_copy(fpinfo->joinclauses), on);
		deparse_cond_items(on, " AND ", &first, cxt);
		if (first)
			appendStringInfoString(buf, "TRUE");
		appendStringInfoChar(buf, ')');
	}
}

/* ------------------------------------------------------------------------
 * A self-join read in one scan
 * ------------------------------------------------------------------------
 *
 * Trino reads the table once for each side of a join, so a self-join of
 * the audit table (the orders delivered and then returned) reads its
 * folders twice.  An inner join of two scans of the same Glue table (one
 * server, the same partitioning) whose join clauses include col = col (the
 * same remote column or struct path on both sides, with the type's own
 * equality) is written as one scan, grouped by that key:
 *
 *	SELECT ... FROM (SELECT k, array_agg(ROW(<left columns>)) FILTER (WHERE
 *	  <left conds>) AS rows1, array_agg(ROW(<right columns>)) FILTER (WHERE
 *	  <right conds>) AS rows2 FROM table WHERE (<left conds>) OR (<right
 *	  conds>) AND ((<left partitions>) OR (<right partitions>)) AND k IS
 *	  NOT NULL GROUP BY k) g
 *	  CROSS JOIN UNNEST(g.rows1) AS r1(<left columns>)
 *	  CROSS JOIN UNNEST(g.rows2) AS r2(<right columns>)
 *	  WHERE <join clauses>
 *
 * For each key, the rows of each side (duplicates kept: array_agg keeps
 * every row) are crossed: the pairs with equal keys, which the join
 * clauses then filter as before.  A key with no row on one side has a
 * NULL array there (array_agg over no rows), and UNNEST of NULL gives no
 * row, so the key drops out as in an inner join; a NULL key never joins.
 * The unnested columns keep the remote names, so r1."col" means what it
 * means over the table.  The key's equality must be what GROUP BY groups
 * by: integers, text under a deterministic collation (byte equality in
 * Trino), decimal, date, timestamp and boolean; never floats (NaN, -0),
 * JSON or a row.  audit_fdw.enable_self_join_scan turns it off.
 */

/* GUC: audit_fdw.enable_self_join_scan */
bool		audit_enable_self_join_scan = true;

static bool
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
		(a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Two foreign tables over the same Glue table, partitioned alike */
static bool
same_audit_table(const AuditFdwOptions *a, const AuditFdwOptions *b)
{
	return a->serverid == b->serverid && same_text(a->catalog, b->catalog) &&
		same_text(a->database, b->database) && same_text(a->table, b->table) &&
		same_text(a->partition_column, b->partition_column) &&
		same_text(a->partition_format, b->partition_format) &&
		a->max_delivery_delay_us == b->max_delivery_delay_us &&
		a->event_time_partitions == b->event_time_partitions &&
		same_text(a->bucket_column, b->bucket_column) &&
		a->bucket_digits == b->bucket_digits &&
		same_text(a->folder_column, b->folder_column) &&
		same_folder_values(a, b);
}

/* The column (remote name and struct path) a Var of a foreign table reads */
static AuditFdwColumn *
var_column(PlannerInfo *root, Var *var)
{
	Oid			relid = planner_rt_fetch(var->varno, root)->relid;

	return audit_get_column(relid, var->varattno, get_attname(relid, var->varattno, false));
}

static bool
same_column(AuditFdwColumn *a, AuditFdwColumn *b)
{
	ListCell   *la,
			   *lb;

	if (pg_strcasecmp(a->remote_name, b->remote_name) != 0 ||
		list_length(a->path) != list_length(b->path))
		return false;
	forboth(la, a->path, lb, b->path)
	{
		if (strcmp(strVal(lfirst(la)), strVal(lfirst(lb))) != 0)
			return false;
	}
	return true;
}

/* A key whose Trino GROUP BY is its equality (see above). */
static bool
self_join_key_type(PlannerInfo *root, Var *var, Oid collation)
{
	Oid			relid = planner_rt_fetch(var->varno, root)->relid;
	AuditFdwColumn *col;

	/* text: byte equality; the other types ordered alike are compared alike */
	if (var->vartype == TEXTOID || var->vartype == VARCHAROID)
	{
		if (!audit_is_deterministic_collation(collation) ||
			audit_column_reads_json(relid, var->varattno, var->vartype))
			return false;
	}
	else if (!is_orderable_type(var->vartype, InvalidOid))
		return false;
	col = var_column(root, var);
	if (col->glue_type != NULL &&
		(pg_strncasecmp(col->glue_type, "double", 6) == 0 ||
		 pg_strncasecmp(col->glue_type, "float", 5) == 0 ||
		 pg_strncasecmp(col->glue_type, "real", 4) == 0))
		return false;
	return true;
}

/* Adds up the sizes of the variable-length constants of an expression. */
static bool
const_bytes_walker(Node *node, Size *bytes)
{
	if (node == NULL)
		return false;
	if (IsA(node, Const))
	{
		Const	   *c = (Const *) node;

		if (!c->constisnull && c->constlen == -1)
			*bytes += VARSIZE_ANY(DatumGetPointer(c->constvalue));
		return false;
	}
	return expression_tree_walker(node, const_bytes_walker, (void *) bytes);
}

/*
 * The rewrite writes each side's conditions twice (in its FILTER and in
 * the WHERE): sides whose constants (IN lists, long strings) could take
 * the text past Athena's 262,144 bytes keep the plain join.
 */
static bool
self_join_conds_small(RelOptInfo *outer, RelOptInfo *inner)
{
	AuditFdwRelationInfo *oinfo = (AuditFdwRelationInfo *) outer->fdw_private;
	AuditFdwRelationInfo *iinfo = (AuditFdwRelationInfo *) inner->fdw_private;
	Size		bytes = 0;

	const_bytes_walker((Node *) extract_actual_clauses(oinfo->remote_conds, false), &bytes);
	const_bytes_walker((Node *) extract_actual_clauses(iinfo->remote_conds, false), &bytes);
	return bytes <= ATHENA_MAX_QUERY_BYTES / 8;
}

/*
 * The remote columns (String, top-level names) one side of a self-join
 * must hand up: those of its Vars needed above the scan.  NIL when one of
 * them is a whole-row or system column.
 */
static List *
self_join_columns(PlannerInfo *root, RelOptInfo *side, List *join_conds)
{
	RangeTblEntry *rte = planner_rt_fetch(side->relid, root);
	List	   *vars;
	List	   *names = NIL;
	ListCell   *lc;

	vars = pull_var_clause((Node *) side->reltarget->exprs, PVC_RECURSE_PLACEHOLDERS);
	vars = list_concat(vars, pull_var_clause((Node *) extract_actual_clauses(join_conds, false),
											 PVC_RECURSE_PLACEHOLDERS));
	foreach(lc, vars)
	{
		Var		   *var = lfirst(lc);
		AuditFdwColumn *col;
		ListCell   *nc;
		bool		seen = false;

		if (!IsA(var, Var) || var->varno != side->relid)
			continue;
		if (var->varattno <= 0)
			return NIL;
		col = audit_get_column(rte->relid, var->varattno,
							   get_attname(rte->relid, var->varattno, false));
		foreach(nc, names)
			seen |= pg_strcasecmp(strVal(lfirst(nc)), col->remote_name) == 0;
		if (!seen)
			names = lappend(names, makeString(col->remote_name));
	}
	return names;
}

/*
 * The key (a Var of the outer side) when joinrel is a self-join read in one
 * scan, else NULL.
 */
Var *
audit_self_join_key(PlannerInfo *root, RelOptInfo *joinrel)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) joinrel->fdw_private;
	AuditFdwRelationInfo *oinfo,
			   *iinfo;
	RelOptInfo *outer,
			   *inner;
	ListCell   *lc;

	if (!audit_enable_self_join_scan || !IS_JOIN_REL(joinrel) || fpinfo == NULL ||
		!fpinfo->pushdown_safe || fpinfo->jointype != JOIN_INNER)
		return NULL;
	outer = fpinfo->outerrel;
	inner = fpinfo->innerrel;
	if (!IS_SIMPLE_REL(outer) || !IS_SIMPLE_REL(inner))
		return NULL;
	oinfo = (AuditFdwRelationInfo *) outer->fdw_private;
	iinfo = (AuditFdwRelationInfo *) inner->fdw_private;
	if (!same_audit_table(oinfo->options, iinfo->options) || oinfo->userid != iinfo->userid ||
		oinfo->local_conds != NIL || iinfo->local_conds != NIL ||
		fpinfo->joinclauses != NIL || !self_join_conds_small(outer, inner))
		return NULL;
	if (self_join_columns(root, outer, fpinfo->remote_conds) == NIL ||
		self_join_columns(root, inner, fpinfo->remote_conds) == NIL)
		return NULL;
	foreach(lc, fpinfo->remote_conds)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		OpExpr	   *op;
		Var		   *l,
				   *r;

		if (!IsA(ri->clause, OpExpr))
			continue;
		op = (OpExpr *) ri->clause;
		if (list_length(op->args) != 2)
			continue;
		l = (Var *) strip_relabel(linitial(op->args));
		r = (Var *) strip_relabel(lsecond(op->args));
		if (!IsA(l, Var) || !IsA(r, Var))
			continue;
		if (l->varno == inner->relid)
		{
			Var		   *t = l;

			l = r;
			r = t;
		}
		if (l->varno != outer->relid || r->varno != inner->relid ||
			l->varlevelsup != 0 || r->varlevelsup != 0 ||
			l->varattno <= 0 || r->varattno <= 0 || l->vartype != r->vartype)
			continue;
		if (op->opno != lookup_type_cache(l->vartype, TYPECACHE_EQ_OPR)->eq_opr ||
			!same_column(var_column(root, l), var_column(root, r)) ||
			!self_join_key_type(root, l, op->inputcollid) ||
			!self_join_key_type(root, r, op->inputcollid))
			continue;
		return l;
	}
	return NULL;
}

/* The conditions of one side: its shipped ones and its partitions' */
static void
deparse_self_join_side(RelOptInfo *side, deparse_expr_cxt *cxt)
{
	List	   *conds = NIL;
	bool		first = true;

	collect_where(side, &conds);
	appendStringInfoChar(cxt->buf, '(');
	deparse_cond_items(conds, " AND ", &first, cxt);
	if (first)
		appendStringInfoString(cxt->buf, "TRUE");
	appendStringInfoChar(cxt->buf, ')');
}

static void
append_name_list(StringInfo buf, List *names)
{
	ListCell   *lc;

	foreach(lc, names)
	{
		if (lc != list_head(names))
			appendStringInfoString(buf, ", ");
		audit_append_identifier(buf, strVal(lfirst(lc)));
	}
}

/* The FROM of a self-join read in one scan (see above). */
static void
deparse_self_join_from(RelOptInfo *joinrel, Var *key, deparse_expr_cxt *cxt)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) joinrel->fdw_private;
	RelOptInfo *sides[2] = {fpinfo->outerrel, fpinfo->innerrel};
	List	   *columns[2];
	StringInfo	buf = cxt->buf;
	bool		qualify = cxt->qualify;
	bool		pruned = true;
	Oid			relid = planner_rt_fetch(key->varno, cxt->root)->relid;
	int			i;

	cxt->qualify = false;
	appendStringInfoString(buf, "(SELECT ");
	deparse_column_ref(buf, key->varno, relid, key->varattno, false);
	appendStringInfoString(buf, " AS \"audit_fdw_key\"");
	for (i = 0; i < 2; i++)
	{
		AuditFdwRelationInfo *sinfo = (AuditFdwRelationInfo *) sides[i]->fdw_private;

		columns[i] = self_join_columns(cxt->root, sides[i], fpinfo->remote_conds);
		appendStringInfoString(buf, ", array_agg(ROW(");
		append_name_list(buf, columns[i]);
		appendStringInfoString(buf, ")) FILTER (WHERE ");
		deparse_self_join_side(sides[i], cxt);
		appendStringInfo(buf, ") AS \"audit_fdw_rows%d\"", i + 1);
		pruned &= sinfo->partition_bounds != NIL || audit_levels_narrow(sinfo);
	}
	appendStringInfoString(buf, " FROM ");
	audit_append_identifier(buf, fpinfo->options->database);
	appendStringInfoChar(buf, '.');
	audit_append_identifier(buf, fpinfo->options->table);
	appendStringInfoString(buf, " WHERE (");
	deparse_self_join_side(sides[0], cxt);
	appendStringInfoString(buf, " OR ");
	deparse_self_join_side(sides[1], cxt);
	appendStringInfoChar(buf, ')');
	/* the folders of either side, a condition on partition columns only */
	if (pruned)
	{
		for (i = 0; i < 2; i++)
		{
			bool		first = true;

			appendStringInfoString(buf, i == 0 ? " AND ((" : " OR (");
			deparse_partition_conds(sides[i], &first, " AND ", cxt);
			appendStringInfoChar(buf, ')');
		}
		appendStringInfoChar(buf, ')');
	}
	appendStringInfoString(buf, " AND ");
	deparse_column_ref(buf, key->varno, relid, key->varattno, false);
	appendStringInfoString(buf, " IS NOT NULL GROUP BY ");
	deparse_column_ref(buf, key->varno, relid, key->varattno, false);
	appendStringInfoString(buf, ") \"audit_fdw_keys\"");
	for (i = 0; i < 2; i++)
	{
		appendStringInfo(buf, " CROSS JOIN UNNEST(\"audit_fdw_keys\".\"audit_fdw_rows%d\") AS %s%d(",
						 i + 1, REL_ALIAS_PREFIX, sides[i]->relid);
		append_name_list(buf, columns[i]);
		appendStringInfoChar(buf, ')');
	}
	cxt->qualify = qualify;
}

/* " ORDER BY" and the pathkeys, NULLS FIRST or LAST spelled out */
static void
deparse_order_by(PlannerInfo *root, List *pathkeys, bool has_final_sort,
				 RelOptInfo *rel, deparse_expr_cxt *cxt)
{
	const char *sep = " ORDER BY ";
	ListCell   *lc;

	foreach(lc, pathkeys)
	{
		PathKey    *pk = (PathKey *) lfirst(lc);
		Expr	   *em_expr;

		if (has_final_sort)
			em_expr = audit_find_sort_expr(root, pk->pk_eclass, rel);
		else
			em_expr = audit_find_em_expr_for_rel(pk->pk_eclass, rel);
		if (em_expr == NULL)
			elog(ERROR, "could not find pathkey item to sort");
		appendStringInfoString(cxt->buf, sep);
		sep = ", ";
		deparse_expr(em_expr, cxt);
		appendStringInfoString(cxt->buf, pk->pk_strategy == BTLessStrategyNumber
							   ? " ASC" : " DESC");
		appendStringInfoString(cxt->buf, pk->pk_nulls_first
							   ? " NULLS FIRST" : " NULLS LAST");
	}
}

/*
 * The columns of base relation rel that the query reads (attrs_used), each
 * once by its remote name (a path into a struct reads the struct), written
 * to buf each followed by ", ": the SELECT list of DISTINCT ON's window.
 * Returns the names.
 */
static List *
deparse_window_columns(StringInfo buf, PlannerInfo *root, RelOptInfo *rel)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) rel->fdw_private;
	Oid			relid = planner_rt_fetch(rel->relid, root)->relid;
	Relation	r = table_open(relid, NoLock);
	TupleDesc	tupdesc = RelationGetDescr(r);
	bool		wholerow = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber,
										 fpinfo->attrs_used);
	List	   *names = NIL;
	int			i;

	for (i = 1; i <= tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i - 1);
		AuditFdwColumn *col;

		if (attr->attisdropped ||
			(!wholerow &&
			 !bms_is_member(i - FirstLowInvalidHeapAttributeNumber, fpinfo->attrs_used)))
			continue;
		col = audit_get_column(relid, i, NameStr(attr->attname));
		if (list_member(names, makeString(col->remote_name)))
			continue;
		names = lappend(names, makeString(col->remote_name));
		audit_append_identifier(buf, col->remote_name);
		appendStringInfoString(buf, ", ");
	}
	table_close(r, NoLock);
	return names;
}

/*
 * name, else name_2, name_3 ...: the first that is none of names (String
 * nodes).  Athena's names are compared without case.
 */
static char *
unused_name(const char *name, List *names)
{
	char	   *candidate = pstrdup(name);
	int			n = 1;

	for (;;)
	{
		ListCell   *lc;
		bool		taken = false;

		foreach(lc, names)
		{
			if (pg_strcasecmp(strVal(lfirst(lc)), candidate) == 0)
				taken = true;
		}
		if (!taken)
			return candidate;
		candidate = psprintf("%s_%d", name, ++n);
	}
}

/*
 * The Athena SQL of a ForeignScan of rel:
 *
 *	SELECT [DISTINCT] <columns or tlist> FROM <relations> [WHERE ...]
 *	  [GROUP BY ...] [HAVING ...] [ORDER BY ...] [OFFSET n] [LIMIT n]
 *
 * rel is a base relation (tlist NIL: the columns in attrs_used), a join, or
 * an upper relation (grouping or DISTINCT; ORDER BY and LIMIT relations
 * over one of those).  remote_conds: the base relation's or join's shipped
 * conditions for this path (with a parameterized path's join clauses), or
 * the HAVING conditions of a grouped relation.  Returns the SQL as parts
 * around runtime values.
 */
void
audit_deparse_select(PlannerInfo *root, RelOptInfo *rel, List *tlist,
					 List *remote_conds, List *pathkeys, bool has_final_sort,
					 bool has_limit, List **sql_parts, List **runtime_exprs,
					 List **roundings, List **retrieved_attrs,
					 AuditFdwPartitioning **partitioning)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) rel->fdw_private;
	RelOptInfo *query_rel = rel;	/* the grouped, DISTINCT, join or base
									 * relation */
	RelOptInfo *scanrel;
	AuditFdwRelationInfo *qinfo;
	StringInfoData buf;
	deparse_expr_cxt cxt;
	List	   *where = NIL;
	bool		first = true;
	Var		   *self_key;
	ListCell   *lc;
	char	   *rownum_name = NULL;	/* DISTINCT ON's row number */
	char	   *subquery_name = NULL;	/* and its subquery */

	/*
	 * ORDER BY and LIMIT paths belong to the relation they sort or limit
	 * (as in postgres_fdw), so rel is never an ORDER BY or LIMIT relation.
	 */
	Assert(!IS_UPPER_REL(rel) ||
		   ((AuditFdwRelationInfo *) rel->fdw_private)->stage == UPPERREL_GROUP_AGG ||
		   ((AuditFdwRelationInfo *) rel->fdw_private)->stage == UPPERREL_DISTINCT);
	qinfo = (AuditFdwRelationInfo *) query_rel->fdw_private;
	scanrel = IS_UPPER_REL(query_rel) ? qinfo->outerrel : query_rel;

	initStringInfo(&buf);
	cxt.root = root;
	cxt.foreignrel = rel;
	cxt.scanrel = scanrel;
	cxt.qualify = IS_JOIN_REL(scanrel);
	cxt.buf = &buf;
	cxt.parts = NIL;
	cxt.runtime_exprs = NIL;
	cxt.roundings = NIL;
	cxt.partitioning = NULL;
	{
		int			relid = -1;

		/* runtime partition bounds follow the first partitioned table */
		while ((relid = bms_next_member(scan_relids_of(scanrel), relid)) >= 0)
		{
			RelOptInfo *brel = root->simple_rel_array[relid];
			AuditFdwRelationInfo *binfo = brel ? (AuditFdwRelationInfo *) brel->fdw_private : NULL;

			if (binfo && binfo->partition_bounds != NIL)
			{
				cxt.partitioning = palloc(sizeof(AuditFdwPartitioning));
				audit_partitioning_of(binfo->options, cxt.partitioning);
				break;
			}
		}
	}
	*partitioning = cxt.partitioning;

	appendStringInfoString(&buf, "SELECT ");
	if (IS_UPPER_REL(query_rel) && qinfo->is_distinct &&
		qinfo->distinct_on_keys == NIL)
		appendStringInfoString(&buf, "DISTINCT ");
	if (tlist == NIL && IS_SIMPLE_REL(rel))
	{
		RangeTblEntry *rte = planner_rt_fetch(rel->relid, root);
		Relation	r = table_open(rte->relid, NoLock);

		deparse_target_list(&buf, rel->relid, r, fpinfo->attrs_used,
							retrieved_attrs);
		table_close(r, NoLock);
	}
	else
	{
		int			i = 0;

		*retrieved_attrs = NIL;
		foreach(lc, tlist)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lc);
			Oid			type = exprType((Node *) tle->expr);

			if (i > 0)
				appendStringInfoString(&buf, ", ");
			if (type == JSONBOID || type == JSONOID)
			{
				appendStringInfoString(&buf, "json_format(CAST(");
				deparse_expr(tle->expr, &cxt);
				appendStringInfoString(&buf, " AS JSON))");
			}
			else
				deparse_expr(tle->expr, &cxt);
			*retrieved_attrs = lappend_int(*retrieved_attrs, ++i);
		}
		if (i == 0)
			appendStringInfoString(&buf, "1");
	}

	appendStringInfoString(&buf, " FROM ");
	if (IS_UPPER_REL(query_rel) && qinfo->distinct_on_keys != NIL)
	{
		/*
		 * DISTINCT ON: the first row of each partition.  The inner query
		 * keeps the columns the query reads under their own names, so the
		 * expressions above read as they would over the table; not *,
		 * which would also bring Glue columns the foreign table does not
		 * declare.  The row number's name is none of theirs, and nor is the
		 * subquery's: Trino reads "name"."field" as a relation's column
		 * before a struct column's field.
		 */
		const char *sep = "";
		List	   *names;

		appendStringInfoString(&buf, "(SELECT ");
		names = deparse_window_columns(&buf, root, scanrel);
		rownum_name = unused_name("audit_fdw_rn", names);
		subquery_name = unused_name("audit_fdw_first", names);
		appendStringInfoString(&buf, "row_number() OVER (PARTITION BY ");
		foreach(lc, qinfo->distinct_on_keys)
		{
			appendStringInfoString(&buf, sep);
			sep = ", ";
			deparse_expr((Expr *) lfirst(lc), &cxt);
		}
		if (qinfo->distinct_on_order != NIL)
			deparse_order_by(root, qinfo->distinct_on_order, true, scanrel, &cxt);
		appendStringInfoString(&buf, ") AS ");
		audit_append_identifier(&buf, rownum_name);
		appendStringInfoString(&buf, " FROM ");
	}
	self_key = audit_self_join_key(root, scanrel);
	if (self_key != NULL)
		deparse_self_join_from(scanrel, self_key, &cxt);
	else
		deparse_from(scanrel, &cxt);

	/* WHERE: the scan's conditions (and partition pruning) */
	where = NIL;
	if (IS_UPPER_REL(query_rel) && self_key != NULL)
		where = list_copy(((AuditFdwRelationInfo *) scanrel->fdw_private)->remote_conds);
	else if (IS_UPPER_REL(query_rel))
		collect_where(scanrel, &where);
	else
	{
		/* this path's conditions, plus the join's sides' (or partitions) */
		where = list_copy(remote_conds);
		if (IS_SIMPLE_REL(scanrel))
			where = lappend(where, scanrel);
		else if (self_key == NULL)
		{
			AuditFdwRelationInfo *sinfo = (AuditFdwRelationInfo *) scanrel->fdw_private;
			List	   *sides = NIL;

			collect_where(scanrel, &sides);
			/* the join's own remote_conds are already in remote_conds */
			foreach(lc, sides)
			{
				if (!list_member_ptr(sinfo->remote_conds, lfirst(lc)))
					where = lappend(where, lfirst(lc));
			}
		}
	}
	if (where != NIL)
	{
		int			len = buf.len;

		appendStringInfoString(&buf, " WHERE ");
		first = true;
		deparse_cond_items(where, " AND ", &first, &cxt);
		if (first)
		{
			/* nothing was written: drop " WHERE " */
			buf.len = len;
			buf.data[len] = '\0';
		}
	}

	if (IS_UPPER_REL(query_rel) && qinfo->distinct_on_keys != NIL)
	{
		appendStringInfoString(&buf, ") ");
		audit_append_identifier(&buf, subquery_name);
		appendStringInfoString(&buf, " WHERE ");
		audit_append_identifier(&buf, rownum_name);
		appendStringInfoString(&buf, " = 1");
	}

	/* GROUP BY and HAVING */
	if (IS_UPPER_REL(query_rel) && !qinfo->is_distinct)
	{
		Query	   *query = root->parse;

		if (query->groupClause != NIL)
		{
			first = true;
			appendStringInfoString(&buf, " GROUP BY ");
			foreach(lc, query->groupClause)
			{
				SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
				TargetEntry *tle = get_sortgroupclause_tle(sgc, qinfo->grouped_tlist);

				if (!first)
					appendStringInfoString(&buf, ", ");
				first = false;
				deparse_expr(tle->expr, &cxt);
			}
		}
		if (remote_conds != NIL)
		{
			appendStringInfoString(&buf, " HAVING ");
			deparse_conds(remote_conds, " AND ", &cxt);
		}
	}

	/* ORDER BY */
	if (pathkeys != NIL)
		deparse_order_by(root, pathkeys, has_final_sort, query_rel, &cxt);

	/*
	 * OFFSET and LIMIT (Trino's order): constants, or values known at
	 * executor start (LIMIT $1 of a generic plan), written then
	 */
	if (has_limit)
	{
		Query	   *query = root->parse;

		if (query->limitOffset)
		{
			appendStringInfoString(&buf, " OFFSET ");
			deparse_value((Expr *) query->limitOffset, &cxt, AUDIT_LIMIT_OFFSET);
		}
		if (query->limitCount)
		{
			appendStringInfoString(&buf, " LIMIT ");
			deparse_value((Expr *) query->limitCount, &cxt, AUDIT_LIMIT_COUNT);
		}
	}

	cxt.parts = lappend(cxt.parts, makeString(pstrdup(buf.data)));
	*sql_parts = cxt.parts;
	*runtime_exprs = cxt.runtime_exprs;
	*roundings = cxt.roundings;
}
