/*-------------------------------------------------------------------------
 *
 * deparse.c
 *		Which conditions Athena may evaluate, and the Athena (Trino) SQL of
 *		a scan.
 *
 * As in postgres_fdw, pushdown is two steps: classify (is this expression
 * proven to mean the same in Athena?) and deparse (write it).  Whatever is
 * not proven safe stays a local filter.  The rules of the Athena dialect
 * that this file keeps:
 *	- identifiers in double quotes with "" doubling; string literals with ''
 *	  doubling and no backslash escapes;
 *	- LIKE always with an explicit ESCAPE, and a pattern rewritten so that
 *	  the escape character only precedes %, _ or itself (Trino rejects any
 *	  other escape sequence, PostgreSQL reads it as the character itself);
 *	- NULLS FIRST/LAST always explicit in ORDER BY;
 *	- text range comparisons and text sort keys only under a collation that
 *	  compares by code point (Athena compares UTF-8 bytes);
 *	- floating-point comparisons only where NaN gives the same answer in
 *	  both engines (PostgreSQL sorts NaN above every number, Trino makes
 *	  every comparison with NaN false);
 *	- timestamps: Athena keeps milliseconds.  A bound that is not a whole
 *	  millisecond, or that is only known at executor start, is widened to
 *	  the enclosing millisecond and the condition is rechecked locally;
 *	  timestamptz values are sent as UTC TIMESTAMP literals;
 *	- stable expressions and parameters (now() - interval '7 days', $1) are
 *	  evaluated at executor start and sent as literals ("runtime values");
 *	  a volatile function is never shipped nor evaluated early.
 *
 * Partition pruning.  An audit table is partitioned by the hour its records
 * were delivered (Firehose's folders), not by event time, but a record is
 * delivered after its event happened.  So for a foreign table with the
 * options time_column, partition_column and partition_format, each shipped
 * lower bound on the time column (t >= X, t > X, t = X) also sends
 * partition >= format(X - 5 minutes): delivery is never earlier than the
 * event, less an allowance for clock skew between DynamoDB and Firehose.
 * An upper bound (t <= Y) prunes only with a declared max_delivery_delay D:
 * partition <= format(Y + D).  These conditions are added to the shipped
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
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "fdw/fdw.h"

/* Result of classifying an expression */
typedef enum ShipResult
{
	SHIP_NO,					/* stays local */
	SHIP_EXACT,					/* Athena evaluates it identically */
	SHIP_WIDENED				/* Athena evaluates a superset; recheck */
} ShipResult;

typedef struct classify_cxt
{
	PlannerInfo *root;
	RelOptInfo *foreignrel;
	bool		under_not;		/* inside NOT: widening is not allowed */
	bool		widened;		/* set when a bound had to be widened */
} classify_cxt;

typedef struct deparse_expr_cxt
{
	PlannerInfo *root;
	RelOptInfo *foreignrel;
	StringInfo	buf;
	List	   *parts;			/* of String, finished parts of the SQL */
	List	   *runtime_exprs;	/* of Expr, values computed at executor start */
	List	   *roundings;		/* of Integer (AuditFdwRounding) */
} deparse_expr_cxt;

/* Comparison operators, by their meaning with the column on the left */
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

static bool classify_expr(Node *node, classify_cxt *cxt);
static bool classify_opexpr(OpExpr *op, classify_cxt *cxt);
static bool classify_saop(ScalarArrayOpExpr *saop, classify_cxt *cxt);
static bool is_runtime_value(Node *node, classify_cxt *cxt);
static bool is_rel_var(Node *node, RelOptInfo *foreignrel);
static bool const_is_shippable(Const *c, bool *unaligned);
static CmpKind cmp_kind(const char *opname);
static CmpKind commute_cmp(CmpKind k);
static bool is_timestamp_type(Oid type);
static bool like_pattern_for_athena(const char *pattern, StringInfo out);
static Node *strip_relabel(Node *node);

static void deparse_expr(Expr *node, deparse_expr_cxt *cxt);
static void deparse_var(Var *var, deparse_expr_cxt *cxt);
static void deparse_const(Const *c, deparse_expr_cxt *cxt,
						  AuditFdwRounding rounding);
static void deparse_value(Expr *node, deparse_expr_cxt *cxt,
						  AuditFdwRounding rounding);
static void deparse_opexpr(OpExpr *op, deparse_expr_cxt *cxt);
static void deparse_saop(ScalarArrayOpExpr *saop, deparse_expr_cxt *cxt);
static void deparse_bool_expr(BoolExpr *b, deparse_expr_cxt *cxt);
static void deparse_null_test(NullTest *nt, deparse_expr_cxt *cxt);
static void deparse_column_ref(StringInfo buf, RangeTblEntry *rte,
							   Oid relid, int varattno);
static void deparse_target_list(StringInfo buf, RangeTblEntry *rte,
								Relation rel, Bitmapset *attrs_used,
								List **retrieved_attrs);
static void append_timestamp_literal(StringInfo buf, Timestamp ts,
									 AuditFdwRounding rounding);
static void deparse_partition_bounds(RangeTblEntry *rte, List *remote_conds,
									 AuditFdwOptions *options,
									 deparse_expr_cxt *cxt);

/* ------------------------------------------------------------------------
 * Classification
 * ------------------------------------------------------------------------
 */

/*
 * Split conditions into those Athena evaluates and those that stay local.
 * A condition shipped in widened form also stays local as a recheck.
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

		cxt.root = root;
		cxt.foreignrel = baserel;
		cxt.under_not = false;
		cxt.widened = false;

		if (classify_expr((Node *) ri->clause, &cxt))
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
 * True when Athena evaluates expr exactly as PostgreSQL would.
 */
bool
audit_is_foreign_expr(PlannerInfo *root, RelOptInfo *baserel, Expr *expr)
{
	classify_cxt cxt;

	cxt.root = root;
	cxt.foreignrel = baserel;
	cxt.under_not = false;
	cxt.widened = false;
	return classify_expr((Node *) expr, &cxt) && !cxt.widened;
}

/*
 * The member of an equivalence class that is computed from rel alone, or
 * NULL.
 */
Expr *
audit_find_em_expr_for_rel(EquivalenceClass *ec, RelOptInfo *rel)
{
	ListCell   *lc;

	foreach(lc, ec->ec_members)
	{
		EquivalenceMember *em = (EquivalenceMember *) lfirst(lc);

		if (bms_is_subset(em->em_relids, rel->relids) &&
			!bms_is_empty(em->em_relids))
			return em->em_expr;
	}
	return NULL;
}

/*
 * True when Athena sorts by this pathkey as PostgreSQL does: a plain
 * column of a type whose order matches, under the type's default btree
 * order, and for text a code point collation.
 */
bool
audit_is_foreign_pathkey(PlannerInfo *root, RelOptInfo *baserel,
						 PathKey *pathkey)
{
	EquivalenceClass *ec = pathkey->pk_eclass;
	Expr	   *em_expr;
	Node	   *arg;
	Oid			type;
	TypeCacheEntry *tce;

	if (ec->ec_has_volatile)
		return false;
	em_expr = audit_find_em_expr_for_rel(ec, baserel);
	if (em_expr == NULL)
		return false;
	arg = strip_relabel((Node *) em_expr);
	if (!is_rel_var(arg, baserel))
		return false;
	type = exprType(arg);
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
			break;
		case TEXTOID:
		case VARCHAROID:
			if (!audit_is_code_point_collation(ec->ec_collation))
				return false;
			break;
		default:
			/* floats: NaN sorts differently */
			return false;
	}
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

/* A user column of the foreign relation itself. */
static bool
is_rel_var(Node *node, RelOptInfo *foreignrel)
{
	Var		   *var;

	if (node == NULL || !IsA(node, Var))
		return false;
	var = (Var *) node;
	return var->varno == foreignrel->relid && var->varlevelsup == 0 &&
		var->varattno > 0;
}

static bool
is_timestamp_type(Oid type)
{
	return type == TIMESTAMPOID || type == TIMESTAMPTZOID;
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
 * a literal: no column of the scanned relation, nothing volatile, no
 * subplan, and a type the deparser writes.  Floats and numerics are left
 * out: their NaN and infinities have no Athena literal.
 */
static bool
is_runtime_value(Node *node, classify_cxt *cxt)
{
	Oid			type = exprType(node);

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
			break;
		default:
			return false;
	}
	if (IsA(node, Const))
		return false;			/* handled as a literal */
	if (contain_var_clause(node) || contain_volatile_functions(node) ||
		contain_subplans(node) || contain_agg_clause(node) ||
		contain_window_function(node))
		return false;
	return true;
}

static CmpKind
cmp_kind(const char *opname)
{
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

static bool
classify_expr(Node *node, classify_cxt *cxt)
{
	if (node == NULL)
		return false;

	switch (nodeTag(node))
	{
		case T_Var:
			/* a boolean column used as a condition */
			return is_rel_var(node, cxt->foreignrel) &&
				exprType(node) == BOOLOID;
		case T_Const:
			{
				Const	   *c = (Const *) node;

				return c->consttype == BOOLOID;
			}
		case T_RelabelType:
			return classify_expr((Node *) ((RelabelType *) node)->arg, cxt);
		case T_BoolExpr:
			{
				BoolExpr   *b = (BoolExpr *) node;
				ListCell   *lc;
				bool		save = cxt->under_not;

				if (b->boolop == NOT_EXPR)
					cxt->under_not = true;
				foreach(lc, b->args)
				{
					if (!classify_expr((Node *) lfirst(lc), cxt))
					{
						cxt->under_not = save;
						return false;
					}
				}
				cxt->under_not = save;
				return true;
			}
		case T_NullTest:
			{
				NullTest   *nt = (NullTest *) node;
				Node	   *arg = strip_relabel((Node *) nt->arg);

				return !nt->argisrow && is_rel_var(arg, cxt->foreignrel);
			}
		case T_OpExpr:
			return classify_opexpr((OpExpr *) node, cxt);
		case T_ScalarArrayOpExpr:
			return classify_saop((ScalarArrayOpExpr *) node, cxt);
		default:
			return false;
	}
}

/*
 * column <op> value, value <op> column, or column LIKE 'pattern'.
 */
static bool
classify_opexpr(OpExpr *op, classify_cxt *cxt)
{
	HeapTuple	tp;
	Form_pg_operator form;
	char	   *opname;
	Node	   *left,
			   *right,
			   *var,
			   *value;
	Oid			vartype,
				valuetype;
	CmpKind		kind;
	bool		var_on_left;

	if (!audit_is_builtin(op->opno) || list_length(op->args) != 2)
		return false;
	tp = SearchSysCache1(OPEROID, ObjectIdGetDatum(op->opno));
	if (!HeapTupleIsValid(tp))
		return false;
	form = (Form_pg_operator) GETSTRUCT(tp);
	opname = pstrdup(NameStr(form->oprname));
	ReleaseSysCache(tp);

	left = strip_relabel(linitial(op->args));
	right = strip_relabel(lsecond(op->args));

	/* LIKE and NOT LIKE on text, with a constant pattern */
	if (strcmp(opname, "~~") == 0 || strcmp(opname, "!~~") == 0)
	{
		Const	   *pat;
		StringInfoData buf;

		if (!is_rel_var(left, cxt->foreignrel) || !IsA(right, Const))
			return false;
		if (exprType(left) != TEXTOID && exprType(left) != VARCHAROID)
			return false;
		pat = (Const *) right;
		if (pat->constisnull || pat->consttype != TEXTOID)
			return false;
		initStringInfo(&buf);
		return like_pattern_for_athena(TextDatumGetCString(pat->constvalue), &buf);
	}

	kind = cmp_kind(opname);
	if (kind == CMP_NONE)
		return false;

	if (is_rel_var(left, cxt->foreignrel))
	{
		var = left;
		value = right;
		var_on_left = true;
	}
	else if (is_rel_var(right, cxt->foreignrel))
	{
		var = right;
		value = left;
		var_on_left = false;
	}
	else
		return false;
	if (!var_on_left)
		kind = commute_cmp(kind);

	vartype = exprType(var);
	valuetype = exprType(value);
	if (!audit_is_shippable_type(vartype) || !audit_is_shippable_type(valuetype))
		return false;

	/* timestamp against timestamptz depends on the session's time zone */
	if ((vartype == TIMESTAMPOID && valuetype == TIMESTAMPTZOID) ||
		(vartype == TIMESTAMPTZOID && valuetype == TIMESTAMPOID) ||
		(vartype == TIMESTAMPTZOID && valuetype == DATEOID) ||
		(vartype == DATEOID && valuetype == TIMESTAMPTZOID))
		return false;

	/* text ranges only where PostgreSQL compares by code point */
	if ((vartype == TEXTOID || vartype == VARCHAROID) &&
		kind != CMP_EQ && kind != CMP_NE &&
		!audit_is_code_point_collation(op->inputcollid))
		return false;

	/* floats: only where NaN answers alike, against a constant */
	if (vartype == FLOAT4OID || vartype == FLOAT8OID ||
		valuetype == FLOAT4OID || valuetype == FLOAT8OID)
	{
		if (kind == CMP_GT || kind == CMP_GE)
			return false;
		if (!IsA(value, Const))
			return false;
	}

	if (IsA(value, Const))
	{
		bool		unaligned;

		if (((Const *) value)->constisnull)
			return false;		/* folded away by the planner anyway */
		if (!const_is_shippable((Const *) value, &unaligned))
			return false;
		if (unaligned && is_timestamp_type(vartype))
		{
			if (cxt->under_not || kind == CMP_NE)
				return false;
			cxt->widened = true;
		}
		return true;
	}

	if (is_rel_var(value, cxt->foreignrel))
	{
		/* two columns of the table: same types only, no widening needed */
		return vartype == valuetype && vartype != FLOAT4OID &&
			vartype != FLOAT8OID &&
			(kind == CMP_EQ || kind == CMP_NE || vartype != TEXTOID ||
			 audit_is_code_point_collation(op->inputcollid));
	}

	if (is_runtime_value(value, cxt))
	{
		if (is_timestamp_type(vartype) || is_timestamp_type(valuetype))
		{
			/* the value's precision is unknown until executor start */
			if (cxt->under_not || kind == CMP_NE)
				return false;
			cxt->widened = true;
		}
		return true;
	}
	return false;
}

/*
 * column = ANY('{...}') as IN, column <> ALL('{...}') as NOT IN, with a
 * constant, non-empty array.
 */
static bool
classify_saop(ScalarArrayOpExpr *saop, classify_cxt *cxt)
{
	Node	   *left = strip_relabel(linitial(saop->args));
	Node	   *right = strip_relabel(lsecond(saop->args));
	char	   *opname;
	Const	   *arr;
	ArrayType  *array;
	Oid			elemtype;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i;

	if (!audit_is_builtin(saop->opno) || !is_rel_var(left, cxt->foreignrel) ||
		!IsA(right, Const))
		return false;
	opname = get_opname(saop->opno);
	if (opname == NULL)
		return false;
	if (!((saop->useOr && strcmp(opname, "=") == 0) ||
		  (!saop->useOr && strcmp(opname, "<>") == 0)))
		return false;
	arr = (Const *) right;
	if (arr->constisnull)
		return false;
	if (!audit_is_shippable_type(exprType(left)) ||
		exprType(left) == FLOAT4OID || exprType(left) == FLOAT8OID)
		return false;
	elemtype = get_element_type(arr->consttype);
	if (!audit_is_shippable_type(elemtype) || elemtype == FLOAT4OID ||
		elemtype == FLOAT8OID)
		return false;
	if ((exprType(left) == TIMESTAMPOID) != (elemtype == TIMESTAMPOID) ||
		(exprType(left) == TIMESTAMPTZOID) != (elemtype == TIMESTAMPTZOID))
		return false;
	array = DatumGetArrayTypeP(arr->constvalue);
	get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
	deconstruct_array(array, elemtype, elmlen, elmbyval, elmalign,
					  &elems, &nulls, &nelems);
	if (nelems == 0)
		return false;
	for (i = 0; i < nelems; i++)
	{
		Const	   *c;
		bool		unaligned;

		if (nulls[i])
			continue;
		c = makeConst(elemtype, -1, InvalidOid, elmlen, elems[i], false, elmbyval);
		if (!const_is_shippable(c, &unaligned) || unaligned)
			return false;
	}
	return true;
}

/*
 * Rewrite a PostgreSQL LIKE pattern (escape character backslash) for
 * Trino's LIKE ... ESCAPE '\': an escaped character other than %, _ and \
 * is the character itself.  False for a pattern PostgreSQL rejects (a
 * trailing escape): it stays local so that PostgreSQL raises its error.
 */
static bool
like_pattern_for_athena(const char *pattern, StringInfo out)
{
	const char *p;

	for (p = pattern; *p; p++)
	{
		if (*p == '\\')
		{
			p++;
			if (*p == '\0')
				return false;
			if (*p == '%' || *p == '_' || *p == '\\')
				appendStringInfoChar(out, '\\');
			appendStringInfoChar(out, *p);
		}
		else
			appendStringInfoChar(out, *p);
	}
	return true;
}

/* ------------------------------------------------------------------------
 * Deparsing
 * ------------------------------------------------------------------------
 */

/*
 * Write an identifier in double quotes, doubling embedded quotes.
 */
void
audit_append_identifier(StringInfo buf, const char *ident)
{
	const char *p;

	appendStringInfoChar(buf, '"');
	for (p = ident; *p; p++)
	{
		if (*p == '"')
			appendStringInfoChar(buf, '"');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '"');
}

/*
 * Write a string literal: single quotes, embedded quotes doubled, nothing
 * else escaped (Trino has no backslash escapes).
 */
void
audit_append_string_literal(StringInfo buf, const char *str)
{
	const char *p;

	appendStringInfoChar(buf, '\'');
	for (p = str; *p; p++)
	{
		if (*p == '\'')
			appendStringInfoChar(buf, '\'');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\'');
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
		/* an exact bound with microseconds: Trino keeps timestamp(6) */
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
			appendStringInfo(buf, "%d", (int) DatumGetInt16(value));
			return true;
		case INT4OID:
			appendStringInfo(buf, "%d", DatumGetInt32(value));
			return true;
		case INT8OID:
			appendStringInfo(buf, INT64_FORMAT, DatumGetInt64(value));
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
				/* a DOUBLE literal needs an exponent in Trino */
				if (type == FLOAT4OID)
					snprintf(tmp, sizeof(tmp), "%.9g", d);
				else
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

				if (numeric_is_nan(n) || numeric_is_inf(n))
					return false;
				appendStringInfo(buf, "DECIMAL '%s'",
								 DatumGetCString(DirectFunctionCall1(numeric_out, value)));
				return true;
			}
		case TEXTOID:
		case VARCHAROID:
			audit_append_string_literal(buf, TextDatumGetCString(value));
			return true;
		case DATEOID:
			{
				DateADT		d = DatumGetDateADT(value);
				int			y,
							m,
							dd;

				if (DATE_NOT_FINITE(d))
					return false;
				j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &dd);
				if (y < 1 || y > 9999)
					return false;
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

/*
 * Column reference: "column" or "column"."field"."field" for a path into
 * a struct.
 */
static void
deparse_column_ref(StringInfo buf, RangeTblEntry *rte, Oid relid, int varattno)
{
	char	   *attname = get_attname(relid, varattno, false);
	AuditFdwColumn *col = audit_get_column(relid, varattno, attname);
	ListCell   *lc;

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

	deparse_column_ref(cxt->buf, rte, rte->relid, var->varattno);
}

static void
deparse_const(Const *c, deparse_expr_cxt *cxt, AuditFdwRounding rounding)
{
	if (!audit_append_literal(cxt->buf, c->consttype, c->constvalue,
							  c->constisnull, rounding))
		elog(ERROR, "constant of type %u is not shippable", c->consttype);
}

/*
 * A value compared with a column: a literal now, or a runtime value
 * written at executor start.
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
	if (IsA(n, Var))
	{
		deparse_var((Var *) n, cxt);
		return;
	}
	/* close the current part: the value goes between two parts */
	cxt->parts = lappend(cxt->parts, makeString(pstrdup(cxt->buf->data)));
	resetStringInfo(cxt->buf);
	cxt->runtime_exprs = lappend(cxt->runtime_exprs, node);
	cxt->roundings = lappend_int(cxt->roundings, rounding);
}

static void
deparse_expr(Expr *node, deparse_expr_cxt *cxt)
{
	Node	   *n = strip_relabel((Node *) node);

	switch (nodeTag(n))
	{
		case T_Var:
			deparse_var((Var *) n, cxt);
			break;
		case T_Const:
			deparse_const((Const *) n, cxt, AUDIT_ROUND_NONE);
			break;
		case T_OpExpr:
			deparse_opexpr((OpExpr *) n, cxt);
			break;
		case T_ScalarArrayOpExpr:
			deparse_saop((ScalarArrayOpExpr *) n, cxt);
			break;
		case T_BoolExpr:
			deparse_bool_expr((BoolExpr *) n, cxt);
			break;
		case T_NullTest:
			deparse_null_test((NullTest *) n, cxt);
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
	Node	   *left = strip_relabel(linitial(op->args));
	Node	   *right = strip_relabel(lsecond(op->args));
	Node	   *var,
			   *value;
	CmpKind		kind;
	bool		widen = false;

	if (strcmp(opname, "~~") == 0 || strcmp(opname, "!~~") == 0)
	{
		StringInfoData pat;

		initStringInfo(&pat);
		if (!like_pattern_for_athena(TextDatumGetCString(((Const *) right)->constvalue),
									 &pat))
			elog(ERROR, "LIKE pattern is not shippable");
		appendStringInfoChar(cxt->buf, '(');
		deparse_var((Var *) left, cxt);
		appendStringInfoString(cxt->buf, opname[0] == '!' ? " NOT LIKE " : " LIKE ");
		audit_append_string_literal(cxt->buf, pat.data);
		appendStringInfoString(cxt->buf, " ESCAPE '\\')");
		return;
	}

	kind = cmp_kind(opname);
	if (is_rel_var(left, cxt->foreignrel))
	{
		var = left;
		value = right;
	}
	else
	{
		var = right;
		value = left;
		kind = commute_cmp(kind);
	}

	/* timestamp bounds that may have sub-millisecond parts are widened */
	if (is_timestamp_type(exprType(var)) && !is_rel_var(value, cxt->foreignrel))
	{
		if (IsA(value, Const))
		{
			bool		unaligned;

			(void) const_is_shippable((Const *) value, &unaligned);
			widen = unaligned;
		}
		else
			widen = true;
	}

	appendStringInfoChar(cxt->buf, '(');
	if (!widen)
	{
		deparse_var((Var *) var, cxt);
		switch (kind)
		{
			case CMP_EQ:
				appendStringInfoString(cxt->buf, " = ");
				break;
			case CMP_NE:
				appendStringInfoString(cxt->buf, " <> ");
				break;
			case CMP_LT:
				appendStringInfoString(cxt->buf, " < ");
				break;
			case CMP_LE:
				appendStringInfoString(cxt->buf, " <= ");
				break;
			case CMP_GT:
				appendStringInfoString(cxt->buf, " > ");
				break;
			case CMP_GE:
				appendStringInfoString(cxt->buf, " >= ");
				break;
			case CMP_NONE:
				elog(ERROR, "operator %s is not shippable", opname);
		}
		deparse_value((Expr *) value, cxt, AUDIT_ROUND_NONE);
	}
	else
	{
		switch (kind)
		{
			case CMP_LT:
			case CMP_LE:
				deparse_var((Var *) var, cxt);
				appendStringInfoString(cxt->buf, " <= ");
				deparse_value((Expr *) value, cxt, AUDIT_ROUND_CEIL_MS);
				break;
			case CMP_GT:
			case CMP_GE:
				deparse_var((Var *) var, cxt);
				appendStringInfoString(cxt->buf, " >= ");
				deparse_value((Expr *) value, cxt, AUDIT_ROUND_FLOOR_MS);
				break;
			case CMP_EQ:
				deparse_var((Var *) var, cxt);
				appendStringInfoString(cxt->buf, " BETWEEN ");
				deparse_value((Expr *) value, cxt, AUDIT_ROUND_FLOOR_MS);
				appendStringInfoString(cxt->buf, " AND ");
				deparse_value((Expr *) value, cxt, AUDIT_ROUND_CEIL_MS);
				break;
			default:
				elog(ERROR, "operator %s cannot be widened", opname);
		}
	}
	appendStringInfoChar(cxt->buf, ')');
}

static void
deparse_saop(ScalarArrayOpExpr *saop, deparse_expr_cxt *cxt)
{
	Node	   *left = strip_relabel(linitial(saop->args));
	Const	   *arr = (Const *) strip_relabel(lsecond(saop->args));
	Oid			elemtype = get_element_type(arr->consttype);
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i;

	get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
	deconstruct_array(DatumGetArrayTypeP(arr->constvalue), elemtype, elmlen,
					  elmbyval, elmalign, &elems, &nulls, &nelems);
	appendStringInfoChar(cxt->buf, '(');
	deparse_var((Var *) left, cxt);
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
deparse_null_test(NullTest *nt, deparse_expr_cxt *cxt)
{
	appendStringInfoChar(cxt->buf, '(');
	deparse_expr(nt->arg, cxt);
	appendStringInfoString(cxt->buf, nt->nulltesttype == IS_NULL
						   ? " IS NULL)" : " IS NOT NULL)");
}

/*
 * The SELECT list: the columns in attrs_used, in attribute order.  A
 * json/jsonb column is read through json_format(CAST(... AS JSON)) so that
 * arrays, maps and rows arrive as exact JSON text.  When no column is
 * needed (count(*)), a constant keeps one field per row.
 */
static void
deparse_target_list(StringInfo buf, RangeTblEntry *rte, Relation rel,
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
		if (attr->atttypid == JSONBOID || attr->atttypid == JSONOID)
		{
			appendStringInfoString(buf, "json_format(CAST(");
			deparse_column_ref(buf, rte, RelationGetRelid(rel), i);
			appendStringInfoString(buf, " AS JSON))");
		}
		else
			deparse_column_ref(buf, rte, RelationGetRelid(rel), i);
		*retrieved_attrs = lappend_int(*retrieved_attrs, i);
	}
	if (first)
		appendStringInfoString(buf, "1");
}

/* The fields a partition format may name, from the most significant. */
static const char *const partition_fields[] = {"yyyy", "MM", "dd", "HH", "mm"};

/*
 * True for a format that names the time from the year down, each field
 * fixed-width, so that its strings sort as the times do: yyyy, then
 * optionally MM, dd, HH, mm in that order, with other characters between.
 */
bool
audit_partition_format_valid(const char *format)
{
	const char *p = format;
	int			next = 0;

	while (*p)
	{
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
		{
			const char *want;

			if (next >= lengthof(partition_fields))
				return false;
			want = partition_fields[next];
			if (strncmp(p, want, strlen(want)) != 0)
				return false;
			p += strlen(want);
			next++;
			/* a field must not run into another letter (yyyyy, MMM) */
			if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
			{
				if (next >= lengthof(partition_fields) ||
					strncmp(p, partition_fields[next], strlen(partition_fields[next])) != 0)
					return false;
			}
		}
		else if (*p == '\'')
			return false;
		else
			p++;
	}
	return next > 0;
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
	StringInfoData out;
	const char *p;

	if (!TIMESTAMP_NOT_FINITE(ts))
	{
		int64		shift = upper ? part->delay_us : -AUDIT_CLOCK_SKEW_US;

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
	initStringInfo(&out);
	for (p = part->format; *p;)
	{
		if (strncmp(p, "yyyy", 4) == 0)
		{
			appendStringInfo(&out, "%04d", tm.tm_year);
			p += 4;
		}
		else if (strncmp(p, "MM", 2) == 0)
		{
			appendStringInfo(&out, "%02d", tm.tm_mon);
			p += 2;
		}
		else if (strncmp(p, "dd", 2) == 0)
		{
			appendStringInfo(&out, "%02d", tm.tm_mday);
			p += 2;
		}
		else if (strncmp(p, "HH", 2) == 0)
		{
			appendStringInfo(&out, "%02d", tm.tm_hour);
			p += 2;
		}
		else if (strncmp(p, "mm", 2) == 0)
		{
			appendStringInfo(&out, "%02d", tm.tm_min);
			p += 2;
		}
		else
			appendStringInfoChar(&out, *p++);
	}
	audit_append_string_literal(buf, out.data);
}

/*
 * Partition conditions implied by the shipped bounds on the time column
 * (see the file header for the rule).
 */
static void
deparse_partition_bounds(RangeTblEntry *rte, List *remote_conds,
						 AuditFdwOptions *options, deparse_expr_cxt *cxt)
{
	AttrNumber	time_attno;
	AuditFdwPartitioning part;
	ListCell   *lc;

	if (options->time_column == NULL || options->partition_column == NULL ||
		options->partition_format == NULL)
		return;
	time_attno = get_attnum(rte->relid, options->time_column);
	if (time_attno == InvalidAttrNumber)
		return;
	part.format = options->partition_format;
	part.delay_us = options->max_delivery_delay_us;

	foreach(lc, remote_conds)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		OpExpr	   *op;
		Node	   *left,
				   *right,
				   *var,
				   *value;
		CmpKind		kind;
		char	   *opname;
		int			bound;

		if (!IsA(ri->clause, OpExpr))
			continue;
		op = (OpExpr *) ri->clause;
		if (list_length(op->args) != 2)
			continue;
		opname = get_opname(op->opno);
		if (opname == NULL || (kind = cmp_kind(opname)) == CMP_NONE || kind == CMP_NE)
			continue;
		left = strip_relabel(linitial(op->args));
		right = strip_relabel(lsecond(op->args));
		if (is_rel_var(left, cxt->foreignrel) && ((Var *) left)->varattno == time_attno)
		{
			var = left;
			value = right;
		}
		else if (is_rel_var(right, cxt->foreignrel) && ((Var *) right)->varattno == time_attno)
		{
			var = right;
			value = left;
			kind = commute_cmp(kind);
		}
		else
			continue;
		if (!is_timestamp_type(exprType(var)) || !is_timestamp_type(exprType(value)) ||
			IsA(value, Var))
			continue;

		/* 0: lower bound, 1: upper bound */
		for (bound = 0; bound < 2; bound++)
		{
			bool		upper = bound == 1;

			if (!upper && !(kind == CMP_GT || kind == CMP_GE || kind == CMP_EQ))
				continue;
			if (upper && (part.delay_us < 0 ||
						  !(kind == CMP_LT || kind == CMP_LE || kind == CMP_EQ)))
				continue;
			appendStringInfoString(cxt->buf, " AND (");
			audit_append_identifier(cxt->buf, options->partition_column);
			appendStringInfoString(cxt->buf, upper ? " <= " : " >= ");
			if (IsA(value, Const))
			{
				Const	   *c = (Const *) value;

				if (c->constisnull)
					appendStringInfoString(cxt->buf, "NULL");
				else
					audit_append_partition_literal(cxt->buf, &part,
												   DatumGetTimestamp(c->constvalue),
												   upper);
			}
			else
				deparse_value((Expr *) value, cxt,
							  upper ? AUDIT_ROUND_PARTITION_UPPER
							  : AUDIT_ROUND_PARTITION_LOWER);
			appendStringInfoChar(cxt->buf, ')');
		}
	}
}

/*
 * The Athena SQL of a scan of baserel: SELECT <columns> FROM
 * "database"."table" [WHERE <remote_conds>] [ORDER BY <pathkeys>]
 * [LIMIT n].  Returns it as parts around runtime values.
 */
void
audit_deparse_select(PlannerInfo *root, RelOptInfo *baserel,
					 List *remote_conds, List *pathkeys, int64 limit_count,
					 List **sql_parts, List **runtime_exprs, List **roundings,
					 List **retrieved_attrs)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) baserel->fdw_private;
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
	Relation	rel = table_open(rte->relid, NoLock);
	StringInfoData buf;
	deparse_expr_cxt cxt;
	ListCell   *lc;

	initStringInfo(&buf);
	cxt.root = root;
	cxt.foreignrel = baserel;
	cxt.buf = &buf;
	cxt.parts = NIL;
	cxt.runtime_exprs = NIL;
	cxt.roundings = NIL;

	appendStringInfoString(&buf, "SELECT ");
	deparse_target_list(&buf, rte, rel, fpinfo->attrs_used, retrieved_attrs);
	table_close(rel, NoLock);

	appendStringInfoString(&buf, " FROM ");
	audit_append_identifier(&buf, fpinfo->options->database);
	appendStringInfoChar(&buf, '.');
	audit_append_identifier(&buf, fpinfo->options->table);

	if (remote_conds != NIL)
	{
		bool		first = true;

		appendStringInfoString(&buf, " WHERE ");
		foreach(lc, remote_conds)
		{
			RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

			if (!first)
				appendStringInfoString(&buf, " AND ");
			first = false;
			deparse_expr(ri->clause, &cxt);
		}
		deparse_partition_bounds(rte, remote_conds, fpinfo->options, &cxt);
	}

	if (pathkeys != NIL)
	{
		const char *sep = " ORDER BY ";

		foreach(lc, pathkeys)
		{
			PathKey    *pk = (PathKey *) lfirst(lc);
			Expr	   *em_expr = audit_find_em_expr_for_rel(pk->pk_eclass, baserel);

			appendStringInfoString(&buf, sep);
			sep = ", ";
			deparse_expr(em_expr, &cxt);
			appendStringInfoString(&buf, pk->pk_strategy == BTLessStrategyNumber
								   ? " ASC" : " DESC");
			appendStringInfoString(&buf, pk->pk_nulls_first
								   ? " NULLS FIRST" : " NULLS LAST");
		}
	}

	if (limit_count >= 0)
		appendStringInfo(&buf, " LIMIT " INT64_FORMAT, limit_count);

	cxt.parts = lappend(cxt.parts, makeString(pstrdup(buf.data)));
	*sql_parts = cxt.parts;
	*runtime_exprs = cxt.runtime_exprs;
	*roundings = cxt.roundings;
}
