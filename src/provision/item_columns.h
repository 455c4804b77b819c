/*-------------------------------------------------------------------------
 *
 * item_columns.h
 *		Parse the item attributes a user names for an audit table
 *		('orderId string, state string, lastUpdatedDate bigint') into Glue
 *		(Hive) column types.
 *
 * Pure C (malloc, no backend calls) so that the unit tests link it alone.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_ITEM_COLUMNS_H
#define AUDIT_FDW_ITEM_COLUMNS_H

#include <stdbool.h>
#include <stddef.h>

/* Glue limits a column name to 255 characters. */
#define ITEM_COLUMN_NAME_MAX 255

typedef struct ItemColumn
{
	char	   *name;			/* as written (DynamoDB attribute names are
								 * case-sensitive; the JSON SerDe matches
								 * them case-insensitively) */
	char	   *type;			/* normalized Hive type: "bigint",
								 * "decimal(38,0)", "struct<a:string>" */
} ItemColumn;

typedef struct ItemColumnList
{
	int			count;
	ItemColumn *columns;
} ItemColumnList;

/* Why a list did not parse: a message, a full-sentence hint, and where. */
typedef struct ItemColumnsError
{
	int			position;		/* 0-based offset into the input */
	char		message[256];	/* lower case, no period */
	char		hint[512];		/* a full sentence, or empty */
} ItemColumnsError;

extern bool item_columns_parse(const char *text, ItemColumnList *list,
							   ItemColumnsError *error);
extern void item_columns_free(ItemColumnList *list);

/* "struct<name:type,...>" of the list; malloc'd. */
extern char *item_columns_struct_type(const ItemColumnList *list);

#endif							/* AUDIT_FDW_ITEM_COLUMNS_H */
