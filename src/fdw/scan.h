/*-------------------------------------------------------------------------
 *
 * scan.h
 *		The executor side of audit_fdw: running an Athena query for a
 *		foreign scan and reading its rows.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_SCAN_H
#define AUDIT_FDW_SCAN_H

#include "commands/explain.h"
#include "nodes/execnodes.h"

/* in scan.c */
extern void auditBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *auditIterateForeignScan(ForeignScanState *node);
extern void auditReScanForeignScan(ForeignScanState *node);
extern void auditEndForeignScan(ForeignScanState *node);
extern void audit_explain_analyze(ForeignScanState *node, ExplainState *es);
extern void audit_explain_estimate(ForeignScanState *node, ExplainState *es);
extern void audit_explain_levels(ForeignScanState *node, ExplainState *es);
extern double audit_cost_usd(int64 bytes_scanned, double price_per_tb);
extern int	audit_fetch_connections;
extern int	audit_fetch_part_size_kb;
extern void audit_scan_set_batch_keys(ForeignScanState *node, const char *keys,
									  const char *buckets);
extern int64 audit_scan_sql_bytes(ForeignScanState *node);
extern void audit_scan_totals(ForeignScanState *node, int64 *queries,
							  int64 *bytes);

/* in fdw.c */
/* BeginForeignScan of the wrapper: the Athena scan's, or a DynamoDB table's */
extern void audit_begin_foreign_scan(ForeignScanState *node, int eflags);
extern bool audit_enable_pushdown;
extern char *audit_sql_for_explain(List *sql_parts);

#endif							/* AUDIT_FDW_SCAN_H */
