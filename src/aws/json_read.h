/*-------------------------------------------------------------------------
 *
 * json_read.h
 *		Typed reads of AWS JSON answers.
 *
 * An AWS answer is untrusted input: any member may be missing, null, of
 * another type, empty or huge.  Every read of one goes through these
 * accessors, which return "absent" (NULL or false) unless the member is
 * there with the expected JSON type; the caller decides whether absent is
 * an error.  obj may itself be NULL or of any type.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_JSON_READ_H
#define AUDIT_FDW_JSON_READ_H

#include "aws/aws.h"

/* in json_read.c */
extern const char *aws_json_str(struct json_object *obj, const char *key);
extern char *aws_json_pstr(struct json_object *obj, const char *key);
extern const char *aws_json_str_value(struct json_object *v);
extern bool aws_json_int64(struct json_object *obj, const char *key, int64 *out);
extern bool aws_json_bool(struct json_object *obj, const char *key, bool *out);
extern struct json_object *aws_json_obj(struct json_object *obj, const char *key);
extern struct json_object *aws_json_arr(struct json_object *obj, const char *key);

#endif							/* AUDIT_FDW_JSON_READ_H */
