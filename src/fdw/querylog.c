/*-------------------------------------------------------------------------
 *
 * querylog.c
 *		The query log: one row per Athena query that audit_fdw ran, in
 *		audit_fdw.query_log_entries (read through the view
 *		audit_fdw.query_log).
 *
 * Rules kept here:
 *	- The row is written by the extension itself, not through the SQL
 *	  privileges of the user whose query ran: a user may read the log
 *	  (their own rows) but not write it.  The table has no index, so a
 *	  plain heap insert is the whole write.
 *	- The row belongs to the transaction of the query: it is gone if that
 *	  transaction aborts.  Nothing can be written during recovery or in
 *	  parallel mode (a plan with a Gather elsewhere): the query is then
 *	  recorded in the server log instead.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "fdw/fdw.h"

enum
{
	Anum_logged_at = 1,
	Anum_username,
	Anum_server,
	Anum_foreign_table,
	Anum_query_id,
	Anum_athena_sql,
	Anum_bytes_scanned,
	Anum_engine_ms,
	Anum_queue_ms,
	Anum_cost_usd,
	Anum_transport,
	Anum_reused,
	Natts_query_log
};

void
audit_query_log_record(const char *server_name, const char *relname,
					   const char *query_id, const char *sql,
					   int64 bytes_scanned, int64 engine_ms, int64 queue_ms,
					   double cost_usd, const char *transport, bool reused)
{
	Oid			nspoid;
	Oid			relid;
	Relation	rel;
	Datum		values[Natts_query_log - 1];
	bool		nulls[Natts_query_log - 1];
	HeapTuple	tuple;
	char		cost[64];

	if (RecoveryInProgress() || IsInParallelMode())
	{
		ereport(LOG,
				(errmsg("audit_fdw: Athena query %s for foreign table \"%s\" of server \"%s\" by \"%s\" scanned " INT64_FORMAT " bytes",
						query_id, relname, server_name,
						GetUserNameFromId(GetUserId(), false), bytes_scanned),
				 errhidestmt(true)));
		return;
	}
	/* the control file fixes the extension's schema */
	nspoid = get_namespace_oid("audit_fdw", true);
	if (!OidIsValid(nspoid))
		return;
	relid = get_relname_relid("query_log_entries", nspoid);
	if (!OidIsValid(relid))
		return;

	rel = table_open(relid, RowExclusiveLock);
	if (RelationGetDescr(rel)->natts != Natts_query_log - 1)
		elog(ERROR, "audit_fdw.query_log_entries has an unexpected shape");

	memset(nulls, false, sizeof(nulls));
	snprintf(cost, sizeof(cost), "%.8f", cost_usd);
	values[Anum_logged_at - 1] = TimestampTzGetDatum(GetCurrentTimestamp());
	values[Anum_username - 1] = DirectFunctionCall1(namein,
													CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	values[Anum_server - 1] = DirectFunctionCall1(namein, CStringGetDatum(server_name));
	values[Anum_foreign_table - 1] = CStringGetTextDatum(relname);
	values[Anum_query_id - 1] = CStringGetTextDatum(query_id);
	values[Anum_athena_sql - 1] = CStringGetTextDatum(sql);
	values[Anum_bytes_scanned - 1] = Int64GetDatum(bytes_scanned);
	values[Anum_engine_ms - 1] = Int64GetDatum(engine_ms);
	values[Anum_queue_ms - 1] = Int64GetDatum(queue_ms);
	values[Anum_cost_usd - 1] = DirectFunctionCall3(numeric_in, CStringGetDatum(cost),
													ObjectIdGetDatum(InvalidOid),
													Int32GetDatum(-1));
	values[Anum_transport - 1] = CStringGetTextDatum(transport);
	values[Anum_reused - 1] = BoolGetDatum(reused);

	tuple = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	simple_heap_insert(rel, tuple);
	heap_freetuple(tuple);
	table_close(rel, RowExclusiveLock);
}
