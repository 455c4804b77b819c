/*-------------------------------------------------------------------------
 *
 * test_item_columns.c
 *		Unit tests of the item_columns parser (src/provision/item_columns.c):
 *		the struct<...> types create_audit_table() puts in Glue, and the
 *		messages, hints and positions of what does not parse.
 *
 *-------------------------------------------------------------------------
 */
#include "test.h"

#include <stdlib.h>

#include "provision/item_columns.h"

/* The struct type of text, or NULL (and the error) when it does not parse. */
static char *
struct_of(const char *text, ItemColumnsError *error)
{
	ItemColumnList list;
	char	   *type;

	if (!item_columns_parse(text, &list, error))
		return NULL;
	type = item_columns_struct_type(&list);
	item_columns_free(&list);
	return type;
}

static void
check_struct(const char *file, int line, const char *text, const char *expected)
{
	ItemColumnsError error;
	char	   *type = struct_of(text, &error);

	if (type == NULL)
	{
		test_fail(file, line, "\"%s\" did not parse: %s", text, error.message);
		return;
	}
	test_str_eq(file, line, text, expected, type, expected);
	free(type);
}

static void
check_error(const char *file, int line, const char *text, const char *message,
			int position, const char *hint_part)
{
	ItemColumnsError error;
	char	   *type = struct_of(text, &error);

	if (type != NULL)
	{
		test_fail(file, line, "\"%s\" parsed as %s", text, type);
		free(type);
		return;
	}
	test_str_eq(file, line, "message", message, error.message, message);
	test_long_eq(file, line, "position", "expected", error.position, position);
	if (hint_part && strstr(error.hint, hint_part) == NULL)
		test_fail(file, line, "hint \"%s\" lacks \"%s\"", error.hint, hint_part);
}

#define STRUCT_IS(text, expected) check_struct(__FILE__, __LINE__, text, expected)
#define ERROR_IS(text, message, position, hint) \
	check_error(__FILE__, __LINE__, text, message, position, hint)

TEST(item_columns_seed_example)
{
	STRUCT_IS("orderId string, state string, lastUpdatedDate bigint",
			  "struct<orderId:string,state:string,lastUpdatedDate:bigint>");
}

TEST(item_columns_normalizes_types)
{
	STRUCT_IS("  a INTEGER ,b Int,c  DOUBLE\t", "struct<a:int,b:int,c:double>");
	STRUCT_IS("amount decimal", "struct<amount:decimal(10,0)>");
	STRUCT_IS("amount decimal(38)", "struct<amount:decimal(38,0)>");
	STRUCT_IS("amount decimal( 12 , 2 )", "struct<amount:decimal(12,2)>");
	STRUCT_IS("code varchar(10), flag char(1)", "struct<code:varchar(10),flag:char(1)>");
	STRUCT_IS("a: string", "struct<a:string>");
	STRUCT_IS("ok boolean, t timestamp, d date, raw binary, f float, s smallint, x tinyint",
			  "struct<ok:boolean,t:timestamp,d:date,raw:binary,f:float,s:smallint,x:tinyint>");
}

TEST(item_columns_complex_types)
{
	STRUCT_IS("tags array<string>", "struct<tags:array<string>>");
	STRUCT_IS("attrs map < string , bigint >", "struct<attrs:map<string,bigint>>");
	STRUCT_IS("lines array<struct<sku:string, qty:INT>>",
			  "struct<lines:array<struct<sku:string,qty:int>>>");
	STRUCT_IS("address struct<city:string,geo:struct<lat:double,lon:double>>",
			  "struct<address:struct<city:string,geo:struct<lat:double,lon:double>>>");
}

TEST(item_columns_keeps_name_case)
{
	/* DynamoDB attribute names are case-sensitive; the JSON SerDe matches
	 * them without regard to case, so the names are kept as written */
	STRUCT_IS("OrderID string", "struct<OrderID:string>");
}

TEST(item_columns_empty)
{
	ERROR_IS("", "item_columns is empty", 0, "orderId string");
	ERROR_IS("   ", "item_columns is empty", 3, "orderId string");
}

TEST(item_columns_unknown_type_suggests)
{
	ERROR_IS("orderId strin", "unknown type \"strin\" for item column \"orderId\"", 8,
			 "Perhaps you meant \"string\".");
	ERROR_IS("n numbr", "unknown type \"numbr\" for item column \"n\"", 2,
			 "Valid types are");
}

TEST(item_columns_missing_pieces)
{
	ERROR_IS("orderId", "missing type for item column \"orderId\"", 7, "followed by its type");
	ERROR_IS("orderId string,", "expected an item column after \",\"", 15,
			 "trailing comma");
	ERROR_IS("orderId string state string",
			 "expected \",\" after item column \"orderId\", found \"state string\"", 15,
			 "commas");
	ERROR_IS("a string,, b int", "expected item column name at \", b int\"", 9, NULL);
}

TEST(item_columns_names)
{
	ERROR_IS("order-id string", "invalid item column name \"order-id\"", 0,
			 "letters, digits and underscores");
	ERROR_IS("a struct<b.c:int>", "invalid struct field name \"b.c\"", 9, NULL);
	ERROR_IS("1st string", "invalid item column name \"1st\"", 0, "must not start with a digit");
	ERROR_IS("state string, State bigint", "item column \"State\" is named twice", 14,
			 "without regard to case");
}

TEST(item_columns_parameterized_types)
{
	ERROR_IS("total decimal(40,2)", "invalid decimal(40,2) for item column \"total\"", 6,
			 "1 to 38");
	ERROR_IS("total decimal(5,6)", "invalid decimal(5,6) for item column \"total\"", 6, NULL);
	ERROR_IS("code varchar", "invalid length for varchar item column \"code\"", 5, "string");
	ERROR_IS("flag char(256)", "invalid length for char item column \"flag\"", 5, "1 to 255");
}

TEST(item_columns_complex_errors)
{
	ERROR_IS("tags map<struct<a:int>,string>",
			 "invalid map key type for item column \"tags\"", 9, "primitive");
	ERROR_IS("address struct<city string>",
			 "expected \":\" after a struct field name, found \"string>\"", 20, NULL);
	ERROR_IS("lines array<struct<sku:string,qty:int>",
			 "expected \">\" to close array<, found end of input", 38, NULL);
	ERROR_IS("deep array<array<array<array<array<array<array<array<array<array<array<array<"
			 "array<array<array<array<array<array<array<array<array<array<array<array<"
			 "array<array<array<array<array<array<array<array<array<array<string"
			 ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>",
			 "type of item column \"deep\" is nested too deeply", 203, "Flatten");
}
