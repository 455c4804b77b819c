/*-------------------------------------------------------------------------
 *
 * shippable.c
 *		What may be sent to Athena: types whose values and comparisons mean
 *		the same in Athena (Trino) as in PostgreSQL, collations that compare
 *		by code point, built-in objects.
 *
 * Rule: only built-in objects are considered (an extension's operator
 * could mean anything), and only types whose literal form the deparser
 * writes exactly.  Anything not listed here stays local.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <locale.h>

#include "access/transam.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "fdw/fdw.h"

/*
 * True for the types the deparser can compare and write as literals.
 * Floating-point types are included; callers guard their NaN behaviour.
 */
bool
audit_is_shippable_type(Oid type)
{
	switch (type)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
		case TEXTOID:
		case VARCHAROID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return true;
		default:
			return false;
	}
}

/*
 * True when text under this collation orders by Unicode code point, which
 * is how Athena orders varchar (UTF-8 byte order).  C and POSIX compare
 * bytes; C.UTF-8 (glibc and PostgreSQL's builtin) compares code points.
 */
bool
audit_is_code_point_collation(Oid collation)
{
	HeapTuple	tp;
	bool		result = false;

	if (!OidIsValid(collation))
		return false;
	if (collation == C_COLLATION_OID || collation == POSIX_COLLATION_OID)
		return true;
	if (collation == DEFAULT_COLLATION_OID)
	{
		const char *name;

		if (lc_collate_is_c(collation))
			return true;
		if (default_locale.provider != COLLPROVIDER_LIBC)
			return false;
		name = setlocale(LC_COLLATE, NULL);
		return name != NULL && (pg_strcasecmp(name, "C.UTF-8") == 0 ||
								pg_strcasecmp(name, "C.utf8") == 0);
	}
	tp = SearchSysCache1(COLLOID, ObjectIdGetDatum(collation));
	if (!HeapTupleIsValid(tp))
		return false;
	{
		Form_pg_collation coll = (Form_pg_collation) GETSTRUCT(tp);

		if (coll->collprovider == COLLPROVIDER_LIBC)
		{
			bool		isnull;
			Datum		d = SysCacheGetAttr(COLLOID, tp,
											Anum_pg_collation_collcollate,
											&isnull);

			if (!isnull)
			{
				char	   *name = TextDatumGetCString(d);

				result = strcmp(name, "C") == 0 || strcmp(name, "POSIX") == 0 ||
					pg_strcasecmp(name, "C.UTF-8") == 0 ||
					pg_strcasecmp(name, "C.utf8") == 0;
			}
		}
	}
	ReleaseSysCache(tp);
	return result;
}

/*
 * True when lower() and upper() under this collation map each code point
 * to one code point by Unicode's simple case mapping, as Athena does, and
 * whatever the locale: a libc collation whose LC_CTYPE is C.UTF-8, in a
 * UTF-8 database.  Other libc locales map case their own way (tr_TR maps
 * 'i' to 'İ'), C and POSIX change ASCII letters only, and ICU applies full
 * case mapping (upper('ß') is 'SS'): all of those stay local.
 */
static bool
is_c_utf8(const char *name)
{
	return name != NULL && (pg_strcasecmp(name, "C.UTF-8") == 0 ||
							pg_strcasecmp(name, "C.utf8") == 0);
}

bool
audit_is_unicode_case_collation(Oid collation)
{
	HeapTuple	tp;
	bool		result = false;

	if (!OidIsValid(collation) || GetDatabaseEncoding() != PG_UTF8)
		return false;
	if (collation == DEFAULT_COLLATION_OID)
		return default_locale.provider == COLLPROVIDER_LIBC &&
			is_c_utf8(setlocale(LC_CTYPE, NULL));
	tp = SearchSysCache1(COLLOID, ObjectIdGetDatum(collation));
	if (!HeapTupleIsValid(tp))
		return false;
	if (((Form_pg_collation) GETSTRUCT(tp))->collprovider == COLLPROVIDER_LIBC)
	{
		bool		isnull;
		Datum		d = SysCacheGetAttr(COLLOID, tp, Anum_pg_collation_collctype, &isnull);

		result = !isnull && is_c_utf8(TextDatumGetCString(d));
	}
	ReleaseSysCache(tp);
	return result;
}

/*
 * True when equality under this collation is byte equality, as in Athena
 * (every collation but a nondeterministic ICU one).
 */
bool
audit_is_deterministic_collation(Oid collation)
{
	if (!OidIsValid(collation))
		return true;
	return get_collation_isdeterministic(collation);
}

/*
 * True for objects of PostgreSQL itself (as postgres_fdw's is_builtin).
 */
bool
audit_is_builtin(Oid objectId)
{
	return objectId < FirstGenbkiObjectId;
}
