/*-------------------------------------------------------------------------
 *
 * key_hash.h
 *		The key_hash of an audit record's key attribute (pump/transform.c
 *		writes it; the FDW computes it for a key's value to pick its
 *		bucket).  Pure C, no PostgreSQL or json-c headers, so both sides
 *		include it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_PUMP_KEY_HASH_H
#define AUDIT_FDW_PUMP_KEY_HASH_H

#include <stddef.h>

/*
 * The key_hash of one key attribute's value text (len bytes of UTF-8): its
 * SHA-256's last AUDIT_KEY_HASH_DIGITS hex digits, lower case, into hex
 * (AUDIT_KEY_HASH_DIGITS + 1 bytes).  Key buckets are its last digits.
 */
#define AUDIT_KEY_HASH_DIGITS 8
extern void audit_key_hash(const char *text, size_t len, char *hex);

#endif							/* AUDIT_FDW_PUMP_KEY_HASH_H */
