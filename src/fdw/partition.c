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
 * col IN ('v', ...) (= ANY of a constant array) on a column mapped to
 * keys.<bucket_key>, of a string or an integer or numeric type (key_text
 * says why not a float), under a deterministic collation (byte equality,
 * as the hash), selects the buckets of its values: the deparser adds
 * bucket_column IN (...) to the shipped WHERE.  Several such conditions
 * select the buckets they have in common.  A value known only at executor
 * start (col = $1 in a generic plan, col = ANY($1), a stable expression, the
 * outer column of a parameterized scan's join clause) selects its buckets
 * then: the deparser writes bucket_column IN ($n) and the scan writes the
 * value's buckets there each time it starts its query (NULL: none).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
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

/* True for the types of values whose key_hash text key_text knows. */
bool
audit_is_key_type(Oid type)
{
	switch (type)
	{
		case TEXTOID:
		case VARCHAROID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
			return true;
		default:
			return false;
	}
}

/*
 * The text the pump's key_hash hashes for a key of this value (type: one
 * is_key_type accepts), or NULL when no stored key can equal the value.
 *
 * A string is its content.  A number is its text as the record's keys
 * hold it (pump/transform.c): str() of the Decimal of DynamoDB's number
 * text.  DynamoDB keeps a number without leading or trailing zeros, in
 * plain notation (the emulator's ddb_expr.normalize_number: 1.50 is 1.5,
 * 1E2 is 100), which is what numeric_normalize() writes; Python's str()
 * then writes it in exponent form when its adjusted exponent is below -6
 * (the General Decimal Arithmetic specification's to-scientific-string):
 * 0.00000012 is 1.2E-7.  NaN and the infinities are no DynamoDB number.
 */
static char *
key_text(Datum value, Oid type)
{
	char	   *plain;
	const char *p;
	StringInfoData digits;
	int			fraction = 0;
	bool		in_fraction = false;
	int			adjusted;

	switch (type)
	{
		case TEXTOID:
		case VARCHAROID:
			return TextDatumGetCString(value);
		case INT2OID:
			return psprintf("%d", (int) DatumGetInt16(value));
		case INT4OID:
			return psprintf("%d", DatumGetInt32(value));
		case INT8OID:
			return psprintf(INT64_FORMAT, DatumGetInt64(value));
		case NUMERICOID:
			break;
		default:
			elog(ERROR, "no key text for type %u", type);
	}
	if (numeric_is_nan(DatumGetNumeric(value)) || numeric_is_inf(DatumGetNumeric(value)))
		return NULL;
	plain = numeric_normalize(DatumGetNumeric(value));
	/* the significant digits and how many of them follow the point */
	initStringInfo(&digits);
	for (p = plain; *p; p++)
	{
		if (*p == '.')
			in_fraction = true;
		else if (*p >= '0' && *p <= '9')
		{
			if (in_fraction)
				fraction++;
			if (digits.len > 0 || *p != '0')
				appendStringInfoChar(&digits, *p);
		}
	}
	if (digits.len == 0)
		return plain;			/* zero: "0" */
	adjusted = digits.len - 1 - fraction;
	if (adjusted >= -6)
		return plain;
	return psprintf("%s%c%s%sE%d", plain[0] == '-' ? "-" : "", digits.data[0],
					digits.len > 1 ? "." : "", digits.data + 1, adjusted);
}

/*
 * True when node is a column of baserel read from keys.<bucket_key>, of a
 * type whose values key_text writes as the pump hashes them.
 */
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
		!audit_is_key_type(var->vartype))
		return false;
	attname = get_attname(relid, var->varattno, true);
	if (attname == NULL)
		return false;
	col = audit_get_column(relid, var->varattno, attname);
	return pg_strcasecmp(col->remote_name, "keys") == 0 && list_length(col->path) == 1 &&
		pg_strcasecmp(strVal(linitial(col->path)), options->bucket_key) == 0;
}

static Node *
strip_relabel(Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node;
}

/* Adds the bucket of one value to buckets (sorted, distinct) */
static List *
add_bucket(List *buckets, Datum value, Oid type, int digits)
{
	char	   *text = key_text(value, type);
	char	   *b;
	ListCell   *lc;

	if (text == NULL)
		return buckets;			/* no key equals it */
	b = bucket_of(text, digits);
	foreach(lc, buckets)
		if (strcmp(strVal(lfirst(lc)), b) == 0)
			return buckets;
	buckets = lappend(buckets, makeString(b));
	list_sort(buckets, compare_strings);
	return buckets;
}

/*
 * The buckets of a value of the bucket key, or of each element of an array
 * of them (sorted, distinct): NIL when no key can equal it (NULL, NULL
 * elements only, NaN).
 */
List *
audit_key_buckets_of(Datum value, Oid type, bool isnull, int digits)
{
	List	   *out = NIL;
	Oid			elemtype = get_element_type(type);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;

	if (isnull)
		return NIL;
	if (!OidIsValid(elemtype))
		return add_bucket(NIL, value, type, digits);
	get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
	deconstruct_array(DatumGetArrayTypeP(value), elemtype, elmlen, elmbyval, elmalign,
					  &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!nulls[i])			/* = NULL matches no row */
			out = add_bucket(out, elems[i], elemtype, digits);
	}
	return out;
}

/*
 * The value side of a clause on the bucket key: col = v, v = col (an OpExpr
 * with the equality of the key's type) or col = ANY(v), under a
 * deterministic collation (byte equality, as the hash); NULL for any other
 * clause.
 */
static Node *
bucket_clause_value(Node *clause, RelOptInfo *baserel, Oid relid,
					const AuditFdwOptions *options)
{
	char	   *opname;

	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *left,
				   *right;

		if (list_length(op->args) != 2 || !audit_is_builtin(op->opno) ||
			!audit_is_deterministic_collation(op->inputcollid))
			return NULL;
		opname = get_opname(op->opno);
		if (opname == NULL || strcmp(opname, "=") != 0)
			return NULL;
		left = linitial(op->args);
		right = lsecond(op->args);
		if (is_bucket_key_var(left, baserel, relid, options))
			return strip_relabel(right);
		if (is_bucket_key_var(right, baserel, relid, options))
			return strip_relabel(left);
		return NULL;
	}
	if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;

		if (!sa->useOr || list_length(sa->args) != 2 || !audit_is_builtin(sa->opno) ||
			!audit_is_deterministic_collation(sa->inputcollid))
			return NULL;
		opname = get_opname(sa->opno);
		if (opname == NULL || strcmp(opname, "=") != 0 ||
			!is_bucket_key_var(linitial(sa->args), baserel, relid, options))
			return NULL;
		return strip_relabel(lsecond(sa->args));
	}
	return NULL;
}

/* True when node holds a PlaceHolderVar (not a value of the scan's own). */
static bool
contains_placeholder(Node *node)
{
	ListCell   *lc;

	foreach(lc, pull_var_clause(node, PVC_INCLUDE_PLACEHOLDERS))
		if (IsA(lfirst(lc), PlaceHolderVar))
			return true;
	return false;
}

/* True when value's type (or element type, for = ANY) has key buckets. */
static bool
is_key_value_type(Node *clause, Node *value)
{
	Oid			type = exprType(value);

	if (IsA(clause, ScalarArrayOpExpr))
		type = get_element_type(type);
	return audit_is_key_type(type);
}

/* The buckets a clause selects (sorted, distinct), or NIL for any. */
static List *
clause_buckets(Node *clause, RelOptInfo *baserel, Oid relid, const AuditFdwOptions *options)
{
	Node	   *value = bucket_clause_value(clause, baserel, relid, options);
	Const	   *c;

	if (value == NULL || !IsA(value, Const) || !is_key_value_type(clause, value))
		return NIL;
	c = (Const *) value;
	/* NULL, or only NULL elements: no row; any bucket will do */
	return audit_key_buckets_of(c->constvalue, c->consttype, c->constisnull,
								options->bucket_digits);
}

/*
 * The values known only at executor start that select baserel's key
 * buckets, among clauses (RestrictInfos): the value side of each clause on
 * the bucket key (see bucket_clause_value) that is a parameter, a stable
 * expression or a column of another relation (a parameterized scan's join
 * clause, a nested loop parameter at execution), of a key type or an
 * array of one.  The scan writes their buckets into its query when it
 * starts it (deparse.c, scan.c), and again on each rescan.
 */
List *
audit_bucket_runtime_values(PlannerInfo *root, RelOptInfo *baserel, List *clauses)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) baserel->fdw_private;
	AuditFdwOptions *options = fpinfo->options;
	Oid			relid = planner_rt_fetch(baserel->relid, root)->relid;
	List	   *out = NIL;
	ListCell   *lc;

	if (options->bucket_column == NULL || options->bucket_key == NULL ||
		options->bucket_digits <= 0)
		return NIL;
	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Node	   *value = bucket_clause_value((Node *) ri->clause, baserel, relid,
												options);

		if (value == NULL || IsA(value, Const) ||
			!is_key_value_type((Node *) ri->clause, value) ||
			bms_is_member(baserel->relid, pull_varnos(root, value)) ||
			contain_volatile_functions(value) || contain_subplans(value) ||
			contain_agg_clause(value) || contain_window_function(value) ||
			contains_placeholder(value))
			continue;
		out = list_append_unique(out, value);
	}
	return out;
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
