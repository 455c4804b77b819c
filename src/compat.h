/*-------------------------------------------------------------------------
 *
 * compat.h
 *		The PostgreSQL calls whose form depends on the server's major
 *		version, in one place.  audit_fdw is built for PostgreSQL 15; each
 *		item names the release that changed it, so that a port to a newer
 *		server edits this file only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_COMPAT_H
#define AUDIT_FDW_COMPAT_H

#include "nodes/extensible.h"
#include "optimizer/pathnode.h"

/*
 * PostgreSQL 17 gave create_foreignscan_path, create_foreign_join_path and
 * create_foreign_upper_path an fdw_restrictinfo argument (the clauses the
 * FDW enforces, for a parameterized or join path); audit_fdw passes none.
 */
#if PG_VERSION_NUM >= 170000
#define AUDIT_NO_RESTRICTINFO NIL,
#else
#define AUDIT_NO_RESTRICTINFO
#endif
#define audit_create_foreignscan_path(root, rel, target, rows, startup, total, \
									  pathkeys, required_outer, outerpath, \
									  fdw_private) \
	create_foreignscan_path(root, rel, target, rows, startup, total, \
							pathkeys, required_outer, outerpath, \
							AUDIT_NO_RESTRICTINFO fdw_private)
#define audit_create_foreign_join_path(root, rel, target, rows, startup, total, \
									   pathkeys, required_outer, outerpath, \
									   fdw_private) \
	create_foreign_join_path(root, rel, target, rows, startup, total, \
							 pathkeys, required_outer, outerpath, \
							 AUDIT_NO_RESTRICTINFO fdw_private)
#define audit_create_foreign_upper_path(root, rel, target, rows, startup, total, \
										pathkeys, outerpath, fdw_private) \
	create_foreign_upper_path(root, rel, target, rows, startup, total, \
							  pathkeys, outerpath, \
							  AUDIT_NO_RESTRICTINFO fdw_private)

/*
 * PostgreSQL 15 added CUSTOMPATH_SUPPORT_PROJECTION: without it a custom
 * path that computes its own target list gets a Result node above it.
 */
#ifndef CUSTOMPATH_SUPPORT_PROJECTION
#define CUSTOMPATH_SUPPORT_PROJECTION 0
#endif

/*
 * PostgreSQL 17 made CreateWaitEventSet take the resource owner that tracks
 * the set (NULL: the session's life) instead of the memory context it is
 * allocated in; audit_fdw's sets live as long as the process.
 */
#if PG_VERSION_NUM >= 170000
#define audit_create_process_wait_event_set(nevents) CreateWaitEventSet(NULL, (nevents))
#else
#define audit_create_process_wait_event_set(nevents) \
	CreateWaitEventSet(TopMemoryContext, (nevents))
#endif

#endif							/* AUDIT_FDW_COMPAT_H */
