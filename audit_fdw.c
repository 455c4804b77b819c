/*-------------------------------------------------------------------------
 *
 * audit_fdw.c
 *		Entry point of the audit_fdw library.
 *
 * audit_fdw has these parts, each in its own folder under src/:
 *	- aws/	the AWS client core (signing, credentials, HTTP, errors) and one
 *			client file per service;
 *	- fdw/	the foreign data wrapper over Athena;
 *	- pump/	the background workers that move a DynamoDB stream into Firehose;
 *	- dynamodb/	foreign tables over live DynamoDB tables (the wrapper's
 *			callbacks hand such tables to it; it has no settings to init).
 *
 * This file only loads them: _PG_init calls each part's init function,
 * which defines that part's GUCs and (for the pump, when the library is
 * preloaded) registers its background worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "aws/aws.h"
#include "fdw/fdw.h"
#include "pump/pump.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	aws_init();
	fdw_init();
	pump_init();
	MarkGUCPrefixReserved("audit_fdw");
}
