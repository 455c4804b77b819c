/*-------------------------------------------------------------------------
 *
 * base64.h
 *		Base64 (RFC 4648, standard alphabet, padded, no line breaks) for the
 *		Data of Firehose records: pure C.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_BASE64_H
#define AUDIT_FDW_BASE64_H

#include <stddef.h>

/* The length of the base64 of len bytes. */
#define AWS_BASE64_LEN(len) ((((len) + 2) / 3) * 4)

/* in base64.c */
extern size_t aws_base64_encode(const unsigned char *src, size_t len, char *dst);
/* the encoder of CPUs without AVX2, exposed for the tests */
extern size_t aws_base64_encode_portable(const unsigned char *src, size_t len,
										 char *dst);

#endif							/* AUDIT_FDW_BASE64_H */
