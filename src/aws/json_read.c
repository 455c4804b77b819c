/*-------------------------------------------------------------------------
 *
 * json_read.c
 *		Typed reads of AWS JSON answers (see json_read.h; pure C).
 *
 *-------------------------------------------------------------------------
 */
#include "aws/json_read.h"

#include <errno.h>
#include <string.h>

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

/* The text of a JSON string value (an array element, say), or NULL. */
const char *
aws_json_str_value(json_object *v)
{
	if (v == NULL || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The string at a dotted path of object members ("StorageDescriptor.Location"). */
const char *
aws_json_path_str(json_object *obj, const char *path)
{
	char		key[128];
	const char *dot;

	while ((dot = strchr(path, '.')) != NULL)
	{
		size_t		n = (size_t) (dot - path);

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		obj = aws_json_obj(obj, key);
		path = dot + 1;
	}
	return aws_json_str(obj, path);
}

/* An integer member (a JSON number without fraction or exponent, in range). */
bool
aws_json_int64(json_object *obj, const char *key, int64_t *out)
{
	json_object *v = member(obj, key);

	if (v == NULL || !json_object_is_type(v, json_type_int))
		return false;
	errno = 0;
	*out = json_object_get_int64(v);
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

/* The length of an array; 0 for anything else. */
size_t
aws_json_arr_len(json_object *array)
{
	if (array == NULL || !json_object_is_type(array, json_type_array))
		return 0;
	return json_object_array_length(array);
}

/* Element i of an array when it is an object, or NULL. */
json_object *
aws_json_arr_obj(json_object *array, size_t i)
{
	json_object *v;

	if (i >= aws_json_arr_len(array))
		return NULL;
	v = json_object_array_get_idx(array, i);
	return (v && json_object_is_type(v, json_type_object)) ? v : NULL;
}
