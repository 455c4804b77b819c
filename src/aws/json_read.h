/*-------------------------------------------------------------------------
 *
 * json_read.h
 *		Typed reads of AWS JSON answers (pure C, on json-c).
 *
 * An AWS answer is untrusted input: any member may be missing, null, of
 * another type, empty or huge.  Every read of one goes through these
 * accessors, which return "absent" (NULL, 0 or false) unless the member is
 * there with the expected JSON type; the caller decides whether absent is
 * an error.  obj may itself be NULL or of any type.  json-c's own getters
 * do not check types (json_object_get_string of null is NULL, of a number
 * its text) and its array functions assert on other types.
 *
 * No backend calls: test/fuzz links this file.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_JSON_READ_H
#define AUDIT_FDW_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* in json_read.c */
extern const char *aws_json_str(json_object *obj, const char *key);
extern const char *aws_json_str_value(json_object *v);
extern const char *aws_json_path_str(json_object *obj, const char *path);
extern bool aws_json_int64(json_object *obj, const char *key, int64_t *out);
extern bool aws_json_bool(json_object *obj, const char *key, bool *out);
extern json_object *aws_json_obj(json_object *obj, const char *key);
extern json_object *aws_json_arr(json_object *obj, const char *key);
extern size_t aws_json_arr_len(json_object *array);
extern json_object *aws_json_arr_obj(json_object *array, size_t i);

#endif							/* AUDIT_FDW_JSON_READ_H */
