/*-------------------------------------------------------------------------
 *
 * json_read.c
 *		Typed reads of AWS JSON answers (see json_read.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <json-c/json.h>

#include "aws/json_read.h"

/* The member key of obj when obj is an object and key is there (not null). */
static json_object *
member(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
		!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;					/* NULL for a JSON null */
}

/* The text of a string member, or NULL; owned by obj. */
const char *
aws_json_str(json_object *obj, const char *key)
{
	return aws_json_str_value(member(obj, key));
}

/* The same, palloc'd. */
char *
aws_json_pstr(json_object *obj, const char *key)
{
	const char *s = aws_json_str(obj, key);

	return s ? pstrdup(s) : NULL;
}

/* The text of a JSON string value (an array element, say), or NULL. */
const char *
aws_json_str_value(json_object *v)
{
	if (v == NULL || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* An integer member (a JSON number without fraction or exponent). */
bool
aws_json_int64(json_object *obj, const char *key, int64 *out)
{
	json_object *v = member(obj, key);

	if (v == NULL || !json_object_is_type(v, json_type_int))
		return false;
	errno = 0;
	*out = (int64) json_object_get_int64(v);
	return errno == 0;
}

bool
aws_json_bool(json_object *obj, const char *key, bool *out)
{
	json_object *v = member(obj, key);

	if (v == NULL || !json_object_is_type(v, json_type_boolean))
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

/* An object member, or NULL. */
json_object *
aws_json_obj(json_object *obj, const char *key)
{
	json_object *v = member(obj, key);

	return (v && json_object_is_type(v, json_type_object)) ? v : NULL;
}

/* An array member, or NULL. */
json_object *
aws_json_arr(json_object *obj, const char *key)
{
	json_object *v = member(obj, key);

	return (v && json_object_is_type(v, json_type_array)) ? v : NULL;
}
