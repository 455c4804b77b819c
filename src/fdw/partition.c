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
 * Attribute folders (create_audit_table's folder_attribute; IMPORT sets the
 * options folder_column, folder_attribute and folder_values): under each
 * hour (and bucket) a folder per declared value of the new image's
 * top-level attribute folder_attribute, and two more: _none for a record
 * without a new image or without a value, _other for any other value (a
 * string not declared, a number, a boolean).  The same conditions select
 * them, on a text or varchar column mapped to new_image.<attribute>: a
 * value X selects X's folder if X is declared, and always _other (a number
 * or boolean whose text is X is there).  No condition selects _none: no
 * equality holds for a missing value.
 *
 * Both are "a partition level chosen by the value of one attribute": an
 * AuditFdwLevel says which attribute and how a value maps to its folders
 * (a hash for buckets, declared-or-_other for folders); the selection at
 * planning and at execution, the shipped conditions (deparse.c), the
 * estimate (budget.c) and EXPLAIN follow each level alike.
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
 * The level of this kind of a table with those options (false when the
 * table has none).
 */
bool
audit_level_of(const AuditFdwOptions *options, AuditFdwLevelKind kind, AuditFdwLevel *level)
{
	memset(level, 0, sizeof(*level));
	level->kind = kind;
	if (kind == AUDIT_LEVEL_KEY_BUCKET)
	{
		level->column = options->bucket_column;
		level->remote_name = "keys";
		level->attribute = options->bucket_key;
		level->digits = options->bucket_digits;
		return level->column != NULL && level->attribute != NULL && level->digits > 0;
	}
	level->column = options->folder_column;
	level->remote_name = "new_image";
	level->attribute = options->folder_attribute;
	level->declared = options->folder_values;
	return level->column != NULL && level->attribute != NULL && level->declared != NIL;
}

/* The name of a level's folders, for EXPLAIN */
const char *
audit_level_label(AuditFdwLevelKind kind)
{
	return kind == AUDIT_LEVEL_KEY_BUCKET ? "Key Buckets" : "Attribute Folders";
}

/*
 * True for the types of the values a level maps: those whose key_hash text
 * key_text knows for key buckets; strings for attribute folders (a number
 * or boolean is in _other whatever its value).
 */
static bool
is_level_type(const AuditFdwLevel *level, Oid type)
{
	if (level->kind == AUDIT_LEVEL_KEY_BUCKET)
		return audit_is_key_type(type);
	return type == TEXTOID || type == VARCHAROID;
}

/*
 * True when node is a column of baserel read from the level's attribute
 * (keys.<bucket_key>, new_image.<folder_attribute>), of a type the level
 * maps.
 */
static bool
is_level_var(Node *node, RelOptInfo *baserel, Oid relid, const AuditFdwLevel *level)
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
		!is_level_type(level, var->vartype))
		return false;
	attname = get_attname(relid, var->varattno, true);
	if (attname == NULL)
		return false;
	col = audit_get_column(relid, var->varattno, attname);
	return pg_strcasecmp(col->remote_name, level->remote_name) == 0 &&
		list_length(col->path) == 1 &&
		pg_strcasecmp(strVal(linitial(col->path)), level->attribute) == 0;
}

static Node *
strip_relabel(Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node;
}

/* Adds a folder name to folders (sorted, distinct) */
static List *
add_folder(List *folders, char *name)
{
	ListCell   *lc;

	foreach(lc, folders)
		if (strcmp(strVal(lfirst(lc)), name) == 0)
			return folders;
	folders = lappend(folders, makeString(name));
	list_sort(folders, compare_strings);
	return folders;
}

/*
 * Adds the folders of one value to folders: its key bucket; or the
 * declared folder of its text, if declared, and _other (where a number or
 * boolean whose text is the same is).
 */
static List *
add_level_value(List *folders, Datum value, Oid type, const AuditFdwLevel *level)
{
	char	   *str;
	ListCell   *lc;

	if (level->kind == AUDIT_LEVEL_ATTRIBUTE_FOLDER)
	{
		str = TextDatumGetCString(value);
		foreach(lc, level->declared)
			if (strcmp(strVal(lfirst(lc)), str) == 0)
				folders = add_folder(folders, pstrdup(strVal(lfirst(lc))));
		return add_folder(folders, AUDIT_FOLDER_OTHER);
	}
	str = key_text(value, type);
	if (str == NULL)
		return folders;			/* no key equals it */
	return add_folder(folders, bucket_of(str, level->digits));
}

/*
 * The folders of a level of a value of its attribute, or of each element
 * of an array of them (sorted, distinct): NIL when no row can equal it
 * (NULL, NULL elements only, NaN).
 */
List *
audit_level_values_of(const AuditFdwLevel *level, Datum value, Oid type, bool isnull)
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
		return add_level_value(NIL, value, type, level);
	get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
	deconstruct_array(DatumGetArrayTypeP(value), elemtype, elmlen, elmbyval, elmalign,
					  &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!nulls[i])			/* = NULL matches no row */
			out = add_level_value(out, elems[i], elemtype, level);
	}
	return out;
}

/* The key buckets of a value of a bucket key, or of an array of them */
List *
audit_key_buckets_of(Datum value, Oid type, bool isnull, int digits)
{
	AuditFdwLevel level = {AUDIT_LEVEL_KEY_BUCKET};

	level.digits = digits;
	return audit_level_values_of(&level, value, type, isnull);
}

/*
 * The value side of a clause on a level's attribute: col = v, v = col (an
 * OpExpr with the equality of the column's type) or col = ANY(v), under a
 * deterministic collation (byte equality, as the hash and the pump's
 * comparison with the declared values); NULL for any other clause.
 */
static Node *
level_clause_value(Node *clause, RelOptInfo *baserel, Oid relid, const AuditFdwLevel *level)
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
		if (is_level_var(left, baserel, relid, level))
			return strip_relabel(right);
		if (is_level_var(right, baserel, relid, level))
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
			!is_level_var(linitial(sa->args), baserel, relid, level))
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

/* True when value's type (or element type, for = ANY) is one level maps. */
static bool
is_level_value_type(Node *clause, Node *value, const AuditFdwLevel *level)
{
	Oid			type = exprType(value);

	if (IsA(clause, ScalarArrayOpExpr))
		type = get_element_type(type);
	return is_level_type(level, type);
}

/* The folders of a level a clause selects (sorted, distinct), or NIL for any. */
static List *
clause_level_values(Node *clause, RelOptInfo *baserel, Oid relid, const AuditFdwLevel *level)
{
	Node	   *value = level_clause_value(clause, baserel, relid, level);
	Const	   *c;

	if (value == NULL || !IsA(value, Const) || !is_level_value_type(clause, value, level))
		return NIL;
	c = (Const *) value;
	/* NULL, or only NULL elements: no row; any folder will do */
	return audit_level_values_of(level, c->constvalue, c->consttype, c->constisnull);
}

/*
 * The values known only at executor start that select baserel's folders of
 * a level, among clauses (RestrictInfos): the value side of each clause on
 * the level's attribute (see level_clause_value) that is a parameter, a
 * stable expression or a column of another relation (a parameterized
 * scan's join clause, a nested loop parameter at execution), of a type the
 * level maps or an array of one.  The scan writes their folders into its
 * query when it starts it (deparse.c, scan.c), and again on each rescan.
 */
List *
audit_level_runtime_values(PlannerInfo *root, RelOptInfo *baserel, List *clauses,
						   AuditFdwLevelKind kind)
{
	AuditFdwRelationInfo *fpinfo = (AuditFdwRelationInfo *) baserel->fdw_private;
	Oid			relid = planner_rt_fetch(baserel->relid, root)->relid;
	AuditFdwLevel level;
	List	   *out = NIL;
	ListCell   *lc;

	if (!audit_level_of(fpinfo->options, kind, &level))
		return NIL;
	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Node	   *value = level_clause_value((Node *) ri->clause, baserel, relid, &level);

		if (value == NULL || IsA(value, Const) ||
			!is_level_value_type((Node *) ri->clause, value, &level) ||
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
	AuditFdwLevel level;

	if (!audit_level_of(fpinfo->options, AUDIT_LEVEL_KEY_BUCKET, &level) ||
		!is_level_var((Node *) expr, baserel,
					  planner_rt_fetch(baserel->relid, root)->relid, &level))
		return 0;
	return level.digits;
}

/* True when a base relation's conditions narrow the folders of any level */
bool
audit_levels_narrow(const AuditFdwRelationInfo *fpinfo)
{
	for (int k = 0; k < AUDIT_NUM_LEVELS; k++)
		if (fpinfo->level_values[k] != NIL || fpinfo->level_runtime[k] != NIL)
			return true;
	return false;
}

static int
compare_strings(const ListCell *a, const ListCell *b)
{
	return strcmp(strVal(lfirst(a)), strVal(lfirst(b)));
}

/*
 * The folders of a level baserel's rows can be in (String list, sorted),
 * or NIL when its conditions do not narrow them.
 */
List *
audit_level_values(PlannerInfo *root, RelOptInfo *baserel, AuditFdwOptions *options,
				   AuditFdwLevelKind kind)
{
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
	AuditFdwLevel level;
	List	   *folders = NIL;
	ListCell   *lc;

	if (!audit_level_of(options, kind, &level))
		return NIL;
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		List	   *these = clause_level_values((Node *) ri->clause, baserel, rte->relid,
												&level);
		List	   *common = NIL;
		ListCell   *a,
				   *b;

		if (these == NIL)
			continue;
		if (folders == NIL)
		{
			folders = these;
			continue;
		}
		foreach(a, folders)
			foreach(b, these)
				if (strcmp(strVal(lfirst(a)), strVal(lfirst(b))) == 0)
					common = lappend(common, lfirst(a));
		/* no folder in common: no row at all; keep the first set */
		if (common != NIL)
			folders = common;
	}
	return folders;
}
