/*-------------------------------------------------------------------------
 *
 * fuzz_item_columns.c
 *		libFuzzer target for the item_columns parser
 *		(src/provision/item_columns.c), which reads what a user passes to
 *		create_audit_table() and turns it into a Glue struct type.
 *
 * The input is the text, NUL-terminated.  Besides the sanitizers' checks,
 * it aborts when a parse that succeeds gives a type that does not parse
 * again to itself (normalization must be idempotent: that is what makes
 * create_audit_table() idempotent), repeats a name, or when a failure has
 * no message or points outside the input.
 *
 *-------------------------------------------------------------------------
 */
#include "provision/item_columns.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what);

static void
check(int ok, const char *what)
{
	if (!ok)
	{
		fprintf(stderr, "item_columns invariant broken: %s\n", what);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);
	ItemColumnList list;
	ItemColumnsError error;

	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';

	if (item_columns_parse(text, &list, &error))
	{
		char	   *type = item_columns_struct_type(&list);
		char	   *again_text;
		ItemColumnList again;
		ItemColumnsError again_error;

		check(list.count >= 1, "a parse without columns");
		for (int i = 0; i < list.count; i++)
		{
			check(list.columns[i].name[0] != '\0' &&
				  strlen(list.columns[i].name) <= ITEM_COLUMN_NAME_MAX,
				  "a name is empty or too long");
			for (int j = 0; j < i; j++)
				check(strcasecmp(list.columns[i].name, list.columns[j].name) != 0,
					  "a name appears twice");
		}

		/* the normalized form parses again, to the same types */
		again_text = malloc(strlen(type) + 8);
		if (again_text == NULL)
			abort();
		strcpy(again_text, "c ");
		strcat(again_text, type);
		check(item_columns_parse(again_text, &again, &again_error),
			  "the normalized struct type does not parse");
		check(again.count == 1 && strcmp(again.columns[0].type, type) == 0,
			  "normalization is not idempotent");
		item_columns_free(&again);
		free(again_text);
		free(type);
		item_columns_free(&list);
	}
	else
	{
		check(error.message[0] != '\0', "a failure without a message");
		check(error.position >= 0 && (size_t) error.position <= strlen(text),
			  "a failure points outside the input");
		check(list.count == 0 && list.columns == NULL, "a failure left columns");
	}
	free(text);
	return 0;
}
