/*-------------------------------------------------------------------------
 *
 * sigv4.h
 *		AWS Signature Version 4, as pure functions.
 *
 * Nothing here calls into the PostgreSQL backend: memory comes from
 * malloc() and is released by the sigv4_*_free functions, so the unit tests
 * link this file alone and replay AWS's official test vectors.  Each step of
 * the algorithm is a function of its own (canonical request, string to
 * sign, signing key, signature) so that every intermediate can be checked.
 * Derived keys are wiped (OPENSSL_cleanse) as soon as they are used.
 *
 * Paths and query strings are given as they will go on the wire.  The
 * canonical form is computed here: for every service but S3 the path is
 * normalized (RFC 3986 dot segments, duplicate slashes) and encoded twice;
 * for S3 it is used as given (normalize_path = false, encoded once).  Query
 * parameters are decoded and re-encoded with AWS's unreserved set and sorted
 * by name, then value.  Header names are lower-cased, values trimmed with
 * inner runs of spaces folded, repeated headers joined with commas in order.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_SIGV4_H
#define AUDIT_FDW_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

typedef struct SigV4Header
{
	const char *name;
	const char *value;
} SigV4Header;

/* The request to sign. */
typedef struct SigV4Request
{
	const char *method;			/* "GET", "POST", ... */
	const char *path;			/* on-the-wire path, no query: "/b/k%20x" */
	const char *query;			/* on-the-wire query without '?', or NULL */
	const SigV4Header *headers; /* must include host */
	int			nheaders;
	const char *payload_hash;	/* lower-case hex SHA-256 of the body, or
								 * SIGV4_UNSIGNED_PAYLOAD */
} SigV4Request;

/* Who signs, where, when, and how. */
typedef struct SigV4Params
{
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;	/* NULL if none */
	const char *region;
	const char *service;		/* the signing name ("dynamodb" for Streams) */
	time_t		timestamp;		/* UTC */
	bool		normalize_path; /* false for S3 */
	bool		sign_body;		/* add and sign x-amz-content-sha256 */
	bool		omit_session_token; /* presign: add X-Amz-Security-Token after signing */
	long		expires;		/* presigned URLs: X-Amz-Expires seconds */
} SigV4Params;

/* The result of signing: everything a caller or a test needs. */
typedef struct SigV4Result
{
	char	   *canonical_request;
	char	   *string_to_sign;
	char	   *signature;		/* lower-case hex */
	char	   *signed_headers; /* "host;x-amz-date" */
	/* header signing: the headers to add to the request, in order */
	SigV4Header *add_headers;	/* X-Amz-Date, [X-Amz-Security-Token],
								 * [x-amz-content-sha256], Authorization */
	int			nadd_headers;
	/* query signing: the complete query string to send (presigned URL) */
	char	   *presigned_query;
	char	   *error;			/* non-NULL when the input was unusable */
} SigV4Result;

/* Sign with the Authorization header. */
extern SigV4Result *sigv4_sign_headers(const SigV4Request *req,
									   const SigV4Params *params);

/* Sign with query parameters (a presigned URL). */
extern SigV4Result *sigv4_sign_query(const SigV4Request *req,
									 const SigV4Params *params);

extern void sigv4_result_free(SigV4Result *result);

/* Fetches SHA-256 and HMAC once (false when OpenSSL has none). */
extern bool sigv4_crypto_init(void);

/* Steps, exposed for the tests (all results malloc'd). */
extern char *sigv4_hex_sha256(const void *data, size_t len);
extern char *sigv4_canonical_uri(const char *path, bool normalize);
extern char *sigv4_canonical_query(const char *query);
extern char *sigv4_uri_encode(const char *s, bool encode_slash);

#endif							/* AUDIT_FDW_SIGV4_H */
