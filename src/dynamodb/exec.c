/*-------------------------------------------------------------------------
 *
 * exec.c
 *		Reading a DynamoDB table for a foreign scan: Scan and Query page by
 *		page, GetItem, BatchGetItem with its unprocessed keys, a parallel
 *		Scan's segments shared by the workers; and the refusal of writes.
 *
 * Rules kept here:
 *	- Memory stays bounded: one page (at most 1 MB of items, or 100 items
 *	  of a BatchGetItem) is held at a time, in a context reset before the
 *	  next call; a row's values live in a context reset per row.
 *	- The values of the expressions are computed when the scan starts and
 *	  at every rescan (a join's outer row).  A value DynamoDB cannot hold
 *	  drops the condition it belongs to (the local filter still applies),
 *	  or, for a key, means no item can match.  Only the names and values
 *	  the expressions sent use are sent, as DynamoDB refuses unused ones.
 *	- Unprocessed keys of BatchGetItem are asked again after a full-jitter
 *	  exponential backoff, in a wait that a cancel interrupts; throttling
 *	  and 5xx are retried inside the AWS client.
 *	- Every call asks for ReturnConsumedCapacity TOTAL: EXPLAIN ANALYZE
 *	  shows the read capacity the scan consumed, in every process of a
 *	  parallel scan.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/table.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/wait_event.h"

#define json_object pg_json_object_fn
#include "utils/builtins.h"
#undef json_object
#include <json-c/json.h>

#include "aws/aws.h"
#include "aws/json_read.h"
#include "dynamodb/dynamodb.h"
#include "fdw/fdw.h"

/* BatchGetItem takes at most this many keys a call */
#define BATCH_GET_KEYS 100
/* Unprocessed keys: backoff from 50 ms up to 2 s, give up after this many
 * calls in a row that read nothing */
#define BATCH_BACKOFF_BASE_MS 50
#define BATCH_BACKOFF_MAX_MS 2000
#define BATCH_MAX_IDLE_CALLS 10

/* Shared by the processes of a parallel Scan */
typedef struct DdbParallelState
{
	pg_atomic_uint32 next_segment;
	pg_atomic_uint64 requests;
	pg_atomic_uint64 scanned;
	pg_atomic_uint64 capacity_milli;	/* read capacity units x 1000 */
} DdbParallelState;

typedef struct DdbScanState
{
	/* the plan */
	DdbOperation op;
	char	   *table;
	char	   *keycond;
	char	   *sortcond;
	char	   *filter;
	char	   *projection;
	List	   *names;
	List	   *kinds;
	List	   *roles;
	bool		consistent_read;
	int			segments;
	List	   *key_names;

	AwsClient  *client;
	List	   *value_states;	/* ExprState of each fdw_expr */
	List	   *value_types;
	DdbConverter *conv;
	MemoryContext exec_cxt;		/* one execution (reset at rescan) */
	MemoryContext page_cxt;		/* one response */
	MemoryContext row_cxt;		/* one row's values */

	/* one execution */
	bool		started;
	bool		done;
	char	   *common;			/* JSON members every request of it carries */
	char	   *get_key;		/* GetItem: the Key's JSON */
	List	   *batch_keys;		/* BatchGetItem: each key's JSON, not yet read */
	/* a Query for each of a list of partition keys */
	bool		multi_query;
	List	   *query_keys;		/* each key's attribute value, not yet read */
	int			pk_index;		/* the :v of the partition key */
	bool		has_join_keys;	/* a batched join set join_keys */
	Datum		join_keys;		/* its partition keys: an array */
	char	  **value_json;		/* each :v's attribute value */
	const char *exprs[3];		/* key condition, filter, projection sent */
	char	   *start_key;		/* ExclusiveStartKey of the next page, or NULL */
	int			segment;		/* parallel Scan: the segment being read */
	json_object *items;			/* the page's items */
	size_t		nitems;
	size_t		next_item;

	/* EXPLAIN ANALYZE */
	int64		requests;
	int64		scanned;
	double		capacity;
	DdbParallelState *pstate;
} DdbScanState;

static void start_execution(ForeignScanState *node, DdbScanState *st);
static bool fetch_page(DdbScanState *st);
static void append_names_values(StringInfo buf, DdbScanState *st, const char **exprs,
								int nexprs, char **value_json);
static void note_capacity(DdbScanState *st, json_object *resp);
static List *array_values(Datum array, Oid elemtype);
static char *request_common(DdbScanState *st);
static void operation_context(void *arg);

void
ddbBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	List	   *priv = plan->fdw_private;
	EState	   *estate = node->ss.ps.state;
	DdbScanState *st = palloc0(sizeof(DdbScanState));
	Relation	rel = node->ss.ss_currentRelation;
	RangeTblEntry *rte = exec_rt_fetch(plan->scan.scanrelid, estate);
	Oid			userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	ListCell   *lc;

	node->fdw_state = st;
	st->op = intVal(list_nth(priv, DdbPrivateOperation));
	st->table = strVal(list_nth(priv, DdbPrivateTable));
	st->keycond = strVal(list_nth(priv, DdbPrivateKeyCondition));
	st->sortcond = strVal(list_nth(priv, DdbPrivateSortCondition));
	st->filter = strVal(list_nth(priv, DdbPrivateFilter));
	st->projection = strVal(list_nth(priv, DdbPrivateProjection));
	st->names = list_nth(priv, DdbPrivateNames);
	st->kinds = list_nth(priv, DdbPrivateValueKinds);
	st->roles = list_nth(priv, DdbPrivateValueRoles);
	st->consistent_read = intVal(list_nth(priv, DdbPrivateConsistentRead));
	st->segments = intVal(list_nth(priv, DdbPrivateSegments));
	st->key_names = list_nth(priv, DdbPrivateKeyNames);

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	st->client = audit_client_for(GetForeignTable(RelationGetRelid(rel))->serverid,
								  userid,
								  audit_get_options(InvalidOid,
													GetForeignTable(RelationGetRelid(rel))->serverid));
	st->value_states = ExecInitExprList(plan->fdw_exprs, (PlanState *) node);
	foreach(lc, plan->fdw_exprs)
		st->value_types = lappend_oid(st->value_types, exprType(lfirst(lc)));
	st->conv = ddb_converter_create(ddb_columns(rel), RelationGetDescr(rel),
									RelationGetRelationName(rel));
	st->exec_cxt = AllocSetContextCreate(estate->es_query_cxt, "audit_fdw DynamoDB scan",
										 ALLOCSET_DEFAULT_SIZES);
	st->page_cxt = AllocSetContextCreate(estate->es_query_cxt, "audit_fdw DynamoDB page",
										 ALLOCSET_DEFAULT_SIZES);
	st->row_cxt = AllocSetContextCreate(estate->es_query_cxt, "audit_fdw DynamoDB row",
										ALLOCSET_DEFAULT_SIZES);
}

/* Which of the names (#n) and values (:v) the text uses. */
static void
note_refs(const char *text, bool *names, int nnames, bool *values, int nvalues)
{
	for (const char *p = text; *p; p++)
	{
		if ((p[0] == '#' && p[1] == 'n') || (p[0] == ':' && p[1] == 'v'))
		{
			int			i = atoi(p + 2);

			if (!isdigit((unsigned char) p[2]))
				continue;
			if (p[0] == '#' && i < nnames)
				names[i] = true;
			else if (p[0] == ':' && i < nvalues)
				values[i] = true;
		}
	}
}

/*
 * ,"ExpressionAttributeNames":{...},"ExpressionAttributeValues":{...} for
 * the names and values the expressions use.
 */
static void
append_names_values(StringInfo buf, DdbScanState *st, const char **exprs, int nexprs,
					char **value_json)
{
	int			nnames = list_length(st->names);
	int			nvalues = list_length(st->kinds);
	bool	   *names = palloc0(sizeof(bool) * (nnames + 1));
	bool	   *values = palloc0(sizeof(bool) * (nvalues + 1));
	bool		first;

	for (int i = 0; i < nexprs; i++)
		if (exprs[i])
			note_refs(exprs[i], names, nnames, values, nvalues);
	first = true;
	for (int i = 0; i < nnames; i++)
	{
		if (!names[i])
			continue;
		appendStringInfoString(buf, first ? ",\"ExpressionAttributeNames\":{" : ",");
		appendStringInfo(buf, "\"#n%d\":", i);
		ddb_append_json_string(buf, strVal(list_nth(st->names, i)));
		first = false;
	}
	if (!first)
		appendStringInfoChar(buf, '}');
	first = true;
	for (int i = 0; i < nvalues; i++)
	{
		if (!values[i] || value_json[i] == NULL)
			continue;
		appendStringInfoString(buf, first ? ",\"ExpressionAttributeValues\":{" : ",");
		appendStringInfo(buf, "\":v%d\":%s", i, value_json[i]);
		first = false;
	}
	if (!first)
		appendStringInfoChar(buf, '}');
}

/*
 * The distinct attribute values of an array of keys, in order: NULLs and
 * values DynamoDB cannot hold are left out (no item has them), and a key
 * is asked for once (BatchGetItem refuses a key twice).
 */
static List *
array_values(Datum array, Oid elemtype)
{
	ArrayType  *arr = DatumGetArrayTypeP(array);
	DdbValueKind kind = ddb_value_kind_of_type(elemtype);
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *out = NIL;

	get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
	deconstruct_array(arr, elemtype, elmlen, elmbyval, elmalign, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		StringInfoData av;
		ListCell   *lc;
		bool		dup = false;

		if (nulls[i])
			continue;
		initStringInfo(&av);
		if (!ddb_append_value(&av, kind, elemtype, elems[i]))
			continue;
		foreach(lc, out)
		{
			if (strcmp(lfirst(lc), av.data) == 0)
			{
				dup = true;
				break;
			}
		}
		if (!dup)
			out = lappend(out, av.data);
	}
	return out;
}

/* The JSON members every request of an execution carries. */
static char *
request_common(DdbScanState *st)
{
	const char **exprs = st->exprs;
	StringInfoData buf;

	initStringInfo(&buf);
	if (st->op == DDB_SCAN || st->op == DDB_QUERY)
	{
		if (exprs[0])
		{
			appendStringInfoString(&buf, ",\"KeyConditionExpression\":");
			ddb_append_json_string(&buf, exprs[0]);
		}
		if (exprs[1])
		{
			appendStringInfoString(&buf, ",\"FilterExpression\":");
			ddb_append_json_string(&buf, exprs[1]);
		}
		if (exprs[2])
		{
			appendStringInfoString(&buf, ",\"ProjectionExpression\":");
			ddb_append_json_string(&buf, exprs[2]);
		}
		append_names_values(&buf, st, exprs, 3, st->value_json);
	}
	else if (exprs[2])
	{
		/* GetItem, BatchGetItem: the names of the projection only */
		appendStringInfoString(&buf, ",\"ProjectionExpression\":");
		ddb_append_json_string(&buf, exprs[2]);
		append_names_values(&buf, st, &exprs[2], 1, st->value_json);
	}
	if (st->consistent_read)
		appendStringInfoString(&buf, ",\"ConsistentRead\":true");
	return buf.data;
}

/*
 * Compute the values and the parts of the requests of one execution (the
 * scan's first row, or the first after a rescan).
 */
static void
start_execution(ForeignScanState *node, DdbScanState *st)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	int			nvalues = list_length(st->value_states);
	char	  **value_json;
	bool		filter_ok = true;
	bool		sort_ok = true;
	bool		key_ok = true;
	char	   *pk_value = NULL;
	char	   *sk_value = NULL;
	Datum		pk_array = (Datum) 0;
	Oid			pk_array_type = InvalidOid;
	StringInfoData buf;
	const char *exprs[3];
	MemoryContext old;
	ListCell   *lc;

	MemoryContextReset(st->exec_cxt);
	MemoryContextReset(st->page_cxt);
	old = MemoryContextSwitchTo(st->exec_cxt);
	st->started = true;
	st->done = false;
	st->items = NULL;
	st->nitems = st->next_item = 0;
	st->start_key = NULL;
	st->batch_keys = NIL;
	st->get_key = NULL;
	st->segment = -1;
	st->multi_query = false;
	st->query_keys = NIL;

	value_json = palloc0(sizeof(char *) * (nvalues + 1));
	foreach(lc, st->value_states)
	{
		int			i = foreach_current_index(lc);
		DdbValueKind kind = list_nth_int(st->kinds, i);
		DdbValueRole role = list_nth_int(st->roles, i);
		Oid			type = list_nth_oid(st->value_types, i);
		bool		isnull;
		Datum		value = ExecEvalExpr(lfirst(lc), econtext, &isnull);
		StringInfoData one;
		bool		ok = false;

		if (role == DDB_ROLE_PARTITION_KEYS)
		{
			st->pk_index = i;
			if (st->has_join_keys)
			{
				value = st->join_keys;
				isnull = false;
			}
			if (!isnull)
			{
				pk_array = value;
				pk_array_type = get_element_type(type);
			}
			else
				key_ok = false;
			continue;
		}
		initStringInfo(&one);
		if (!isnull)
			ok = ddb_append_value(&one, kind, type, value);
		value_json[i] = ok ? one.data : NULL;
		if (!ok)
		{
			switch (role)
			{
				case DDB_ROLE_FILTER:
					filter_ok = false;
					break;
				case DDB_ROLE_SORT_CONDITION:
					sort_ok = false;
					break;
				default:
					key_ok = false;
					break;
			}
		}
		else if (role == DDB_ROLE_PARTITION_KEY)
			pk_value = one.data;
		else if (role == DDB_ROLE_SORT_KEY)
			sk_value = one.data;
	}
	if (!key_ok)
	{
		/* a key DynamoDB cannot hold: no item has it */
		st->done = true;
		MemoryContextSwitchTo(old);
		return;
	}

	exprs[0] = st->keycond[0] ? (sort_ok && st->sortcond[0]
								 ? psprintf("%s AND %s", st->keycond, st->sortcond)
								 : st->keycond) : NULL;
	exprs[1] = filter_ok && st->filter[0] ? st->filter : NULL;
	exprs[2] = st->projection[0] ? st->projection : NULL;

	st->exprs[0] = exprs[0];
	st->exprs[1] = exprs[1];
	st->exprs[2] = exprs[2];
	st->value_json = value_json;
	if (st->op == DDB_QUERY && pk_array != (Datum) 0)
	{
		/* a Query for each key: common is made for each in fetch_page */
		st->multi_query = true;
		st->query_keys = array_values(pk_array, pk_array_type);
		if (st->query_keys == NIL)
			st->done = true;
		MemoryContextSwitchTo(old);
		return;
	}
	st->common = request_common(st);

	if (st->op == DDB_GET_ITEM || st->op == DDB_BATCH_GET_ITEM)
	{
		const char *pk_name = strVal(linitial(st->key_names));
		const char *sk_name = list_length(st->key_names) > 1
		? strVal(lsecond(st->key_names)) : NULL;

		if (st->op == DDB_GET_ITEM)
		{
			initStringInfo(&buf);
			appendStringInfoChar(&buf, '{');
			ddb_append_json_string(&buf, pk_name);
			appendStringInfo(&buf, ":%s", pk_value);
			if (sk_name && sk_value)
			{
				appendStringInfoChar(&buf, ',');
				ddb_append_json_string(&buf, sk_name);
				appendStringInfo(&buf, ":%s", sk_value);
			}
			appendStringInfoChar(&buf, '}');
			st->get_key = buf.data;
		}
		else
		{
			ListCell   *lc2;

			foreach(lc2, array_values(pk_array, pk_array_type))
			{
				StringInfoData key;

				initStringInfo(&key);
				appendStringInfoChar(&key, '{');
				ddb_append_json_string(&key, pk_name);
				appendStringInfo(&key, ":%s", (char *) lfirst(lc2));
				if (sk_name && sk_value)
				{
					appendStringInfoChar(&key, ',');
					ddb_append_json_string(&key, sk_name);
					appendStringInfo(&key, ":%s", sk_value);
				}
				appendStringInfoChar(&key, '}');
				st->batch_keys = lappend(st->batch_keys, key.data);
			}
			if (st->batch_keys == NIL)
				st->done = true;
		}
	}
	MemoryContextSwitchTo(old);
}

/* Add a response's ConsumedCapacity (an object, or a list of them). */
static void
note_capacity(DdbScanState *st, json_object *resp)
{
	json_object *cap;
	double		units = 0;

	if (!json_object_object_get_ex(resp, "ConsumedCapacity", &cap) || cap == NULL)
		return;
	if (json_object_is_type(cap, json_type_array))
	{
		for (size_t i = 0; i < json_object_array_length(cap); i++)
		{
			json_object *one = json_object_array_get_idx(cap, i);
			json_object *u;

			if (json_object_object_get_ex(one, "CapacityUnits", &u) &&
				(json_object_is_type(u, json_type_double) || json_object_is_type(u, json_type_int)))
				units += json_object_get_double(u);
		}
	}
	else if (json_object_is_type(cap, json_type_object))
	{
		json_object *u;

		if (json_object_object_get_ex(cap, "CapacityUnits", &u) &&
			(json_object_is_type(u, json_type_double) || json_object_is_type(u, json_type_int)))
			units = json_object_get_double(u);
	}
	st->capacity += units;
	if (st->pstate)
		pg_atomic_fetch_add_u64(&st->pstate->capacity_milli, (uint64) (units * 1000 + 0.5));
}

typedef struct OperationContext
{
	const char *operation;
	const char *table;
} OperationContext;

static void
operation_context(void *arg)
{
	OperationContext *oc = arg;

	errcontext("DynamoDB %s of table \"%s\"", oc->operation, oc->table);
}

/* The wait before asking for unprocessed keys again (full jitter). */
static void
backoff(int attempt)
{
	int			cap = BATCH_BACKOFF_BASE_MS << Min(attempt, 10);
	long		delay;

	cap = Min(cap, BATCH_BACKOFF_MAX_MS);
	delay = (long) (pg_prng_double(&pg_global_prng_state) * cap) + 1;
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 delay, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/*
 * Read the next page of items into st->items.  False when there are no
 * more.
 */
static bool
fetch_page(DdbScanState *st)
{
	StringInfoData req;
	json_object *resp;
	const char *operation = ddb_operation_name(st->op);
	ErrorContextCallback errcb;
	OperationContext oc;
	MemoryContext old;
	bool		got = false;

	if (st->done)
		return false;

	/* the next segment of a parallel Scan, when the last one is read */
	if (st->op == DDB_SCAN && st->segments > 1 && st->start_key == NULL)
	{
		if (st->pstate)
			st->segment = (int) pg_atomic_fetch_add_u32(&st->pstate->next_segment, 1);
		else
			st->segment++;
		if (st->segment >= st->segments)
		{
			st->done = true;
			return false;
		}
	}

	/* the next partition key of a Query for each, when the last is read */
	if (st->multi_query && st->start_key == NULL)
	{
		if (st->query_keys == NIL)
		{
			st->done = true;
			return false;
		}
		st->value_json[st->pk_index] = linitial(st->query_keys);
		st->query_keys = list_delete_first(st->query_keys);
		old = MemoryContextSwitchTo(st->exec_cxt);
		st->common = request_common(st);
		MemoryContextSwitchTo(old);
	}

	MemoryContextReset(st->page_cxt);
	old = MemoryContextSwitchTo(st->page_cxt);
	oc.operation = operation;
	oc.table = st->table;
	errcb.callback = operation_context;
	errcb.arg = &oc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	initStringInfo(&req);
	switch (st->op)
	{
		case DDB_SCAN:
		case DDB_QUERY:
			appendStringInfoString(&req, "{\"TableName\":");
			ddb_append_json_string(&req, st->table);
			appendStringInfoString(&req, st->common);
			appendStringInfoString(&req, ",\"ReturnConsumedCapacity\":\"TOTAL\"");
			if (st->segments > 1 && st->op == DDB_SCAN)
				appendStringInfo(&req, ",\"Segment\":%d,\"TotalSegments\":%d",
								 st->segment, st->segments);
			if (st->start_key)
				appendStringInfo(&req, ",\"ExclusiveStartKey\":%s", st->start_key);
			appendStringInfoChar(&req, '}');
			resp = ddb_call(st->client, operation, req.data);
			st->requests++;
			note_capacity(st, resp);
			{
				int64_t		scanned;
				json_object *last;

				if (aws_json_int64(resp, "ScannedCount", &scanned))
				{
					st->scanned += scanned;
					if (st->pstate)
						pg_atomic_fetch_add_u64(&st->pstate->scanned, scanned);
				}
				st->items = aws_json_arr(resp, "Items");
				last = aws_json_obj(resp, "LastEvaluatedKey");
				MemoryContextSwitchTo(st->exec_cxt);
				st->start_key = last
					? pstrdup(json_object_to_json_string_ext(last, JSON_C_TO_STRING_PLAIN))
					: NULL;
				MemoryContextSwitchTo(st->page_cxt);
				if (st->start_key == NULL && !(st->segments > 1 && st->op == DDB_SCAN) &&
					!(st->multi_query && st->query_keys != NIL))
					st->done = true;
			}
			break;
		case DDB_GET_ITEM:
			{
				json_object *item;

				appendStringInfoString(&req, "{\"TableName\":");
				ddb_append_json_string(&req, st->table);
				appendStringInfo(&req, ",\"Key\":%s", st->get_key);
				appendStringInfoString(&req, st->common);
				appendStringInfoString(&req, ",\"ReturnConsumedCapacity\":\"TOTAL\"}");
				resp = ddb_call(st->client, operation, req.data);
				st->requests++;
				note_capacity(st, resp);
				item = aws_json_obj(resp, "Item");
				st->items = json_object_new_array();
				if (item)
				{
					json_object_array_add(st->items, json_object_get(item));
					st->scanned++;
				}
				/* owned by resp's context through a reset callback */
				json_object_object_add(resp, "audit_fdw_items", st->items);
				st->done = true;
				break;
			}
		case DDB_BATCH_GET_ITEM:
			{
				List	   *keys = NIL;
				int			idle = 0;

				while (st->batch_keys != NIL && list_length(keys) < BATCH_GET_KEYS)
				{
					keys = lappend(keys, linitial(st->batch_keys));
					st->batch_keys = list_delete_first(st->batch_keys);
				}
				for (;;)
				{
					json_object *responses;
					json_object *unprocessed;
					json_object *left;
					ListCell   *lc;

					resetStringInfo(&req);
					appendStringInfoString(&req, "{\"RequestItems\":{");
					ddb_append_json_string(&req, st->table);
					appendStringInfoString(&req, ":{\"Keys\":[");
					foreach(lc, keys)
						appendStringInfo(&req, "%s%s", foreach_current_index(lc) ? "," : "",
										 (char *) lfirst(lc));
					appendStringInfoChar(&req, ']');
					appendStringInfoString(&req, st->common);
					appendStringInfoString(&req, "}},\"ReturnConsumedCapacity\":\"TOTAL\"}");
					resp = ddb_call(st->client, operation, req.data);
					st->requests++;
					note_capacity(st, resp);
					responses = aws_json_obj(resp, "Responses");
					st->items = NULL;
					if (responses)
						json_object_object_get_ex(responses, st->table, &st->items);
					if (st->items && !json_object_is_type(st->items, json_type_array))
						st->items = NULL;
					unprocessed = aws_json_obj(resp, "UnprocessedKeys");
					left = unprocessed ? aws_json_arr(aws_json_obj(unprocessed, st->table), "Keys")
						: NULL;
					if (left && aws_json_arr_len(left) > 0)
					{
						/* keys DynamoDB did not read this time go back in the queue */
						MemoryContextSwitchTo(st->exec_cxt);
						for (size_t i = 0; i < aws_json_arr_len(left); i++)
							st->batch_keys = lappend(st->batch_keys,
													 pstrdup(json_object_to_json_string_ext(aws_json_arr_obj(left, i),
																							JSON_C_TO_STRING_PLAIN)));
						MemoryContextSwitchTo(st->page_cxt);
					}
					if (st->items && aws_json_arr_len(st->items) > 0)
						break;
					if (left == NULL || aws_json_arr_len(left) == 0)
						break;
					/* nothing read: wait before asking again */
					if (++idle > BATCH_MAX_IDLE_CALLS)
						ereport(ERROR,
								(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
								 errmsg("DynamoDB BatchGetItem returned every key unprocessed %d times in a row",
										BATCH_MAX_IDLE_CALLS),
								 errhint("The table's read capacity is exhausted: try again later, or raise its capacity.")));
					backoff(idle);
					keys = NIL;
					while (st->batch_keys != NIL && list_length(keys) < BATCH_GET_KEYS)
					{
						keys = lappend(keys, linitial(st->batch_keys));
						st->batch_keys = list_delete_first(st->batch_keys);
					}
				}
				if (st->items)
					st->scanned += aws_json_arr_len(st->items);
				if (st->batch_keys == NIL)
					st->done = true;
				else if (st->items == NULL || aws_json_arr_len(st->items) == 0)
					backoff(0);
				break;
			}
	}
	if (st->pstate)
		pg_atomic_fetch_add_u64(&st->pstate->requests, 1);
	error_context_stack = errcb.previous;
	MemoryContextSwitchTo(old);

	st->nitems = st->items ? aws_json_arr_len(st->items) : 0;
	st->next_item = 0;
	got = true;
	return got;
}

TupleTableSlot *
ddbIterateForeignScan(ForeignScanState *node)
{
	DdbScanState *st = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext old;

	if (!st->started)
		start_execution(node, st);
	while (st->next_item >= st->nitems)
	{
		if (!fetch_page(st))
			return ExecClearTuple(slot);
	}
	MemoryContextReset(st->row_cxt);
	old = MemoryContextSwitchTo(st->row_cxt);
	ddb_store_item(st->conv, aws_json_arr_obj(st->items, st->next_item++), slot);
	MemoryContextSwitchTo(old);
	return slot;
}

void
ddbReScanForeignScan(ForeignScanState *node)
{
	DdbScanState *st = node->fdw_state;

	/* values may have changed (a join's outer row): start again */
	st->started = false;
	st->nitems = st->next_item = 0;
	st->items = NULL;
	MemoryContextReset(st->page_cxt);
}

/*
 * A batched join's keys for the next rescan: the array stands for the
 * partition key's = ANY value (its NULL constant, ddb_batch_keys_clause).
 * It must live until the rescan's rows are read.
 */
void
ddb_scan_set_batch_keys(ForeignScanState *node, Datum keys)
{
	DdbScanState *st = node->fdw_state;

	st->has_join_keys = true;
	st->join_keys = keys;
}

void
ddbEndForeignScan(ForeignScanState *node)
{
	DdbScanState *st = node->fdw_state;

	if (st && st->page_cxt)
	{
		MemoryContextDelete(st->page_cxt);
		st->page_cxt = NULL;
	}
}

void
ddb_explain_analyze(ForeignScanState *node, ExplainState *es)
{
	DdbScanState *st = node->fdw_state;

	ExplainPropertyInteger("DynamoDB Requests", NULL, st->requests, es);
	ExplainPropertyInteger("Items Read", NULL, st->scanned, es);
	ExplainPropertyFloat("Consumed Read Capacity", "RCU", st->capacity, 1, es);
}

/*
 * Before the parallel context goes away: the totals of every process of a
 * parallel Scan, for EXPLAIN ANALYZE.
 */
void
ddbShutdownForeignScan(ForeignScanState *node)
{
	DdbScanState *st = node->fdw_state;

	if (st == NULL || st->pstate == NULL)
		return;
	if (!IsParallelWorker())
	{
		st->requests = pg_atomic_read_u64(&st->pstate->requests);
		st->scanned = pg_atomic_read_u64(&st->pstate->scanned);
		st->capacity = pg_atomic_read_u64(&st->pstate->capacity_milli) / 1000.0;
	}
	st->pstate = NULL;
}

/* ------------------------------------------------------------------------
 * Parallel Scan: the processes take segments in turn
 * ------------------------------------------------------------------------
 */

Size
ddbEstimateDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt)
{
	return sizeof(DdbParallelState);
}

void
ddbInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt,
							void *coordinate)
{
	DdbParallelState *ps = coordinate;
	DdbScanState *st = node->fdw_state;

	pg_atomic_init_u32(&ps->next_segment, 0);
	pg_atomic_init_u64(&ps->requests, 0);
	pg_atomic_init_u64(&ps->scanned, 0);
	pg_atomic_init_u64(&ps->capacity_milli, 0);
	st->pstate = ps;
}

void
ddbReInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt,
							  void *coordinate)
{
	DdbParallelState *ps = coordinate;
	DdbScanState *st = node->fdw_state;

	pg_atomic_write_u32(&ps->next_segment, 0);
	st->pstate = ps;
}

void
ddbInitializeWorkerForeignScan(ForeignScanState *node, shm_toc *toc, void *coordinate)
{
	DdbScanState *st = node->fdw_state;

	st->pstate = coordinate;
}

/* INSERT, UPDATE and DELETE on a foreign table over DynamoDB */
void
ddb_modify_refused(Relation rel)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("foreign table \"%s\" over DynamoDB table is read-only",
					RelationGetRelationName(rel)),
			 errdetail("audit_fdw reads DynamoDB tables; it does not write them."),
			 errhint("Write the items through the application that owns the table.")));
}
