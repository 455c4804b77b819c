/*-------------------------------------------------------------------------
 *
 * sigv4.c
 *		AWS Signature Version 4: canonical request, string to sign, signing
 *		key and signature, for Authorization-header and presigned-URL signing.
 *
 * Rules this file keeps:
 *	- No PostgreSQL backend calls: memory comes from malloc() and every
 *	  result is released by sigv4_result_free() or free(), so the unit tests
 *	  link this file alone.  Functions returning a pointer return NULL only
 *	  when memory ran out; an unusable input gives a result whose error says
 *	  why (lower case, no secret in it).
 *	- The secret and every key derived from it live in local buffers that
 *	  are wiped with OPENSSL_cleanse() before the function returns; strings
 *	  that may carry the session token are wiped when freed (also by
 *	  sigv4_result_free()).
 *	- Paths and queries are taken as they go on the wire.  For every service
 *	  but S3 the canonical path is the wire path with dot segments and
 *	  duplicate slashes removed, then encoded again (so "%20" becomes
 *	  "%2520"); for S3 (normalize_path = false) it is the wire path itself.
 *	  Query parameters are split on '&' (empty pieces are skipped) and on the
 *	  first '=', percent-decoded ('+' stays a plus sign) and re-encoded with
 *	  AWS's unreserved set, then sorted by encoded name, then encoded value.
 *	- Header names are lower-cased; values are trimmed and inner runs of
 *	  ASCII whitespace folded to one space; repeated names are joined with
 *	  ',' in the order given.  The caller supplies host; the signer adds
 *	  X-Amz-Date, X-Amz-Security-Token and x-amz-content-sha256 itself and
 *	  refuses a request that already carries one of them.  Presigning adds
 *	  no header: sign_body does not apply and the token goes in the query.
 *
 * The algorithm follows AWS's "Signature Version 4 signing process" and is
 * checked against AWS's official test suite and against botocore.
 *
 *-------------------------------------------------------------------------
 */
#include "aws/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SHA256_LEN 32
#define MAX_EXPIRES 604800		/* seven days, AWS's limit */

/* A growable, NUL-terminated string; a failed allocation sticks. */
typedef struct StrBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		failed;
} StrBuf;

/* One header of the canonical form. */
typedef struct CanonHeader
{
	char	   *name;			/* lower case */
	char	   *value;			/* trimmed and folded */
	int			order;			/* position in the request, for stability */
} CanonHeader;

/* One query parameter of the canonical form. */
typedef struct CanonParam
{
	char	   *name;			/* encoded */
	char	   *value;			/* encoded */
} CanonParam;

static void sb_init(StrBuf *sb);
static void sb_reserve(StrBuf *sb, size_t extra);
static void sb_append_len(StrBuf *sb, const char *s, size_t len);
static void sb_append(StrBuf *sb, const char *s);
static void sb_append_char(StrBuf *sb, char c);
static char *sb_finish(StrBuf *sb);
static void sb_discard(StrBuf *sb);
static void uri_encode_into(StrBuf *sb, const char *s, size_t len,
							bool encode_slash);
static int	hex_value(char c);
static char *percent_decode(const char *s, size_t len, size_t *outlen);
static char *reencode(const char *s, size_t len);
static char *normalize_path(const char *path);
static bool is_fold_space(char c);
static char *fold_header_value(const char *value);
static int	compare_canon_header(const void *a, const void *b);
static int	compare_canon_param(const void *a, const void *b);
static bool sha256_bytes(const void *data, size_t len,
						 unsigned char out[SHA256_LEN]);
static EVP_MAC_CTX *hmac_sha256_new(void);
static bool hmac_sha256(EVP_MAC_CTX *ctx, const void *key, size_t keylen,
						const void *data, size_t datalen,
						unsigned char out[SHA256_LEN]);
static void hex_into(char *dst, const unsigned char *src, size_t len);
static char *compute_signature(const char *secret, const char *date,
							   const char *region, const char *service,
							   const char *string_to_sign);
static char *xstrdup(const char *s);
static void free_wiped(char *s);
static SigV4Result *result_error(SigV4Result *result, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
static const char *check_common(const SigV4Request *req,
								const SigV4Params *params);
static bool header_present(const SigV4Request *req, const char *name);
static bool query_has_auth_param(const char *query);
static bool canonical_headers(const SigV4Header *headers, int nheaders,
							  char **canonical, char **signed_names);
static bool format_dates(time_t timestamp, char *amz_date, char *date);
static char *credential_scope(const char *date, const SigV4Params *params);
static char *build_canonical_request(const SigV4Request *req,
									 const char *canonical_query,
									 const char *canonical_hdrs,
									 const char *signed_names,
									 bool normalize);
static char *build_string_to_sign(const char *amz_date, const char *scope,
								  const char *canonical_request);

/* ---------------------------------------------------------------------
 * Strings
 * ---------------------------------------------------------------------
 */

static void
sb_init(StrBuf *sb)
{
	sb->data = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->failed = false;
}

static void
sb_reserve(StrBuf *sb, size_t extra)
{
	size_t		need;
	size_t		cap;
	char	   *data;

	if (sb->failed)
		return;
	need = sb->len + extra + 1;
	if (need <= sb->cap)
		return;
	cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap *= 2;
	data = realloc(sb->data, cap);
	if (data == NULL)
	{
		sb->failed = true;
		return;
	}
	sb->data = data;
	sb->cap = cap;
}

static void
sb_append_len(StrBuf *sb, const char *s, size_t len)
{
	sb_reserve(sb, len);
	if (sb->failed)
		return;
	memcpy(sb->data + sb->len, s, len);
	sb->len += len;
	sb->data[sb->len] = '\0';
}

static void
sb_append(StrBuf *sb, const char *s)
{
	sb_append_len(sb, s, strlen(s));
}

static void
sb_append_char(StrBuf *sb, char c)
{
	sb_append_len(sb, &c, 1);
}

/* The built string (an empty one if nothing was appended), or NULL. */
static char *
sb_finish(StrBuf *sb)
{
	if (!sb->failed && sb->data == NULL)
		sb_reserve(sb, 0);
	if (sb->failed)
	{
		sb_discard(sb);
		return NULL;
	}
	if (sb->len == 0)
		sb->data[0] = '\0';
	return sb->data;
}

static void
sb_discard(StrBuf *sb)
{
	free(sb->data);
	sb_init(sb);
}

static char *
xstrdup(const char *s)
{
	size_t		len = strlen(s);
	char	   *copy = malloc(len + 1);

	if (copy != NULL)
		memcpy(copy, s, len + 1);
	return copy;
}

/*
 * Frees a string that may hold the session token (canonical forms, the
 * presigned query, the added headers), wiping it first.
 */
static void
free_wiped(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* ---------------------------------------------------------------------
 * Encoding
 * ---------------------------------------------------------------------
 */

/*
 * Percent-encodes every byte but AWS's unreserved characters (A-Z a-z 0-9
 * - _ . ~), and '/' too unless encode_slash; hex digits are upper case.
 */
static void
uri_encode_into(StrBuf *sb, const char *s, size_t len, bool encode_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t		i;

	sb_reserve(sb, len);
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
			c == '~' || (c == '/' && !encode_slash))
			sb_append_char(sb, (char) c);
		else
		{
			char		esc[3];

			esc[0] = '%';
			esc[1] = hex[c >> 4];
			esc[2] = hex[c & 0x0F];
			sb_append_len(sb, esc, 3);
		}
	}
}

char *
sigv4_uri_encode(const char *s, bool encode_slash)
{
	StrBuf		sb;

	sb_init(&sb);
	uri_encode_into(&sb, s, strlen(s), encode_slash);
	return sb_finish(&sb);
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes %XX escapes of s[0..len); a '%' not followed by two hex digits is
 * kept as it is.  The result may hold NUL bytes: its length is *outlen.
 */
static char *
percent_decode(const char *s, size_t len, size_t *outlen)
{
	char	   *out = malloc(len + 1);
	size_t		i;
	size_t		n = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++)
	{
		int			hi;
		int			lo;

		if (s[i] == '%' && i + 2 < len &&
			(hi = hex_value(s[i + 1])) >= 0 &&
			(lo = hex_value(s[i + 2])) >= 0)
		{
			out[n++] = (char) ((hi << 4) | lo);
			i += 2;
		}
		else
			out[n++] = s[i];
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

/* ---------------------------------------------------------------------
 * Canonical path
 * ---------------------------------------------------------------------
 */

/*
 * Removes dot segments (RFC 3986 5.2.4) and empty segments, keeping a
 * leading slash and, when a segment remains, a trailing one.
 */
static char *
normalize_path(const char *path)
{
	size_t		len = strlen(path);
	const char **segs;
	size_t	   *seglens;
	size_t		nsegs = 0;
	size_t		i = 0;
	StrBuf		sb;
	size_t		k;

	segs = malloc(sizeof(*segs) * (len / 2 + 1));
	seglens = malloc(sizeof(*seglens) * (len / 2 + 1));
	if (segs == NULL || seglens == NULL)
	{
		free(segs);
		free(seglens);
		return NULL;
	}

	while (i <= len)
	{
		size_t		start = i;
		size_t		seglen;

		while (i < len && path[i] != '/')
			i++;
		seglen = i - start;
		if (seglen == 0 || (seglen == 1 && path[start] == '.'))
			;					/* empty or "." */
		else if (seglen == 2 && path[start] == '.' && path[start + 1] == '.')
		{
			if (nsegs > 0)
				nsegs--;
		}
		else
		{
			segs[nsegs] = path + start;
			seglens[nsegs] = seglen;
			nsegs++;
		}
		i++;					/* past the slash (or the end) */
	}

	sb_init(&sb);
	sb_append_char(&sb, '/');
	for (k = 0; k < nsegs; k++)
	{
		if (k > 0)
			sb_append_char(&sb, '/');
		sb_append_len(&sb, segs[k], seglens[k]);
	}
	if (nsegs > 0 && len > 0 && path[len - 1] == '/')
		sb_append_char(&sb, '/');
	free(segs);
	free(seglens);
	return sb_finish(&sb);
}

char *
sigv4_canonical_uri(const char *path, bool normalize)
{
	char	   *normalized;
	char	   *encoded;

	if (path == NULL || path[0] == '\0')
		return xstrdup("/");
	if (!normalize)
		return xstrdup(path);

	normalized = normalize_path(path);
	if (normalized == NULL)
		return NULL;
	encoded = sigv4_uri_encode(normalized, false);
	free(normalized);
	return encoded;
}

/* ---------------------------------------------------------------------
 * Canonical query
 * ---------------------------------------------------------------------
 */

static int
compare_canon_param(const void *a, const void *b)
{
	const CanonParam *pa = a;
	const CanonParam *pb = b;
	int			cmp = strcmp(pa->name, pb->name);

	return cmp != 0 ? cmp : strcmp(pa->value, pb->value);
}

/* Decodes then re-encodes s[0..len) with AWS's unreserved set. */
static char *
reencode(const char *s, size_t len)
{
	size_t		dlen;
	char	   *decoded = percent_decode(s, len, &dlen);
	StrBuf		sb;

	if (decoded == NULL)
		return NULL;
	sb_init(&sb);
	uri_encode_into(&sb, decoded, dlen, true);
	free(decoded);
	return sb_finish(&sb);
}

char *
sigv4_canonical_query(const char *query)
{
	size_t		len;
	size_t		maxparams;
	CanonParam *params;
	size_t		nparams = 0;
	size_t		i = 0;
	size_t		k;
	bool		ok = true;
	StrBuf		sb;

	if (query == NULL || query[0] == '\0')
		return xstrdup("");

	len = strlen(query);
	maxparams = 1;
	for (k = 0; k < len; k++)
		if (query[k] == '&')
			maxparams++;
	params = calloc(maxparams, sizeof(CanonParam));
	if (params == NULL)
		return NULL;

	while (i < len && ok)
	{
		size_t		start = i;
		size_t		eq;

		while (i < len && query[i] != '&')
			i++;
		if (i > start)
		{
			eq = start;
			while (eq < i && query[eq] != '=')
				eq++;
			params[nparams].name = reencode(query + start, eq - start);
			params[nparams].value = eq < i ?
				reencode(query + eq + 1, i - eq - 1) : xstrdup("");
			if (params[nparams].name == NULL || params[nparams].value == NULL)
				ok = false;
			nparams++;
		}
		i++;
	}

	sb_init(&sb);
	if (ok)
	{
		qsort(params, nparams, sizeof(CanonParam), compare_canon_param);
		for (k = 0; k < nparams; k++)
		{
			if (k > 0)
				sb_append_char(&sb, '&');
			sb_append(&sb, params[k].name);
			sb_append_char(&sb, '=');
			sb_append(&sb, params[k].value);
		}
	}
	for (k = 0; k < nparams; k++)
	{
		free(params[k].name);
		free(params[k].value);
	}
	free(params);
	if (!ok)
	{
		sb_discard(&sb);
		return NULL;
	}
	return sb_finish(&sb);
}

/* ---------------------------------------------------------------------
 * Canonical headers
 * ---------------------------------------------------------------------
 */

/* The whitespace Python's str.split() folds, restricted to ASCII. */
static bool
is_fold_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
		c == '\r' || (c >= 0x1c && c <= 0x1f);
}

/* Trims the value and folds inner runs of whitespace to one space. */
static char *
fold_header_value(const char *value)
{
	StrBuf		sb;
	const char *p = value;
	bool		pending_space = false;

	sb_init(&sb);
	while (*p && is_fold_space(*p))
		p++;
	for (; *p; p++)
	{
		if (is_fold_space(*p))
		{
			pending_space = true;
			continue;
		}
		if (pending_space)
			sb_append_char(&sb, ' ');
		pending_space = false;
		sb_append_char(&sb, *p);
	}
	return sb_finish(&sb);
}

static int
compare_canon_header(const void *a, const void *b)
{
	const CanonHeader *ha = a;
	const CanonHeader *hb = b;
	int			cmp = strcmp(ha->name, hb->name);

	if (cmp != 0)
		return cmp;
	return (ha->order > hb->order) - (ha->order < hb->order);
}

/*
 * Builds the canonical headers block (each "name:value\n") and the signed
 * header list ("host;x-amz-date").  False when memory ran out.
 */
static bool
canonical_headers(const SigV4Header *headers, int nheaders,
				  char **canonical, char **signed_names)
{
	CanonHeader *canon;
	StrBuf		hdrs;
	StrBuf		names;
	bool		ok = true;
	int			i;

	*canonical = NULL;
	*signed_names = NULL;
	canon = calloc(nheaders > 0 ? nheaders : 1, sizeof(CanonHeader));
	if (canon == NULL)
		return false;
	for (i = 0; i < nheaders && ok; i++)
	{
		char	   *p;

		canon[i].name = xstrdup(headers[i].name);
		canon[i].value = fold_header_value(headers[i].value ? headers[i].value : "");
		canon[i].order = i;
		if (canon[i].name == NULL || canon[i].value == NULL)
			ok = false;
		else
			for (p = canon[i].name; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char) (*p - 'A' + 'a');
	}

	sb_init(&hdrs);
	sb_init(&names);
	if (ok)
	{
		qsort(canon, nheaders, sizeof(CanonHeader), compare_canon_header);
		for (i = 0; i < nheaders; i++)
		{
			bool		same = i > 0 && strcmp(canon[i].name, canon[i - 1].name) == 0;

			if (same)
				sb_append_char(&hdrs, ',');
			else
			{
				if (i > 0)
				{
					sb_append_char(&hdrs, '\n');
					sb_append_char(&names, ';');
				}
				sb_append(&hdrs, canon[i].name);
				sb_append_char(&hdrs, ':');
				sb_append(&names, canon[i].name);
			}
			sb_append(&hdrs, canon[i].value);
		}
		if (nheaders > 0)
			sb_append_char(&hdrs, '\n');
	}
	for (i = 0; i < nheaders; i++)
	{
		free(canon[i].name);
		free(canon[i].value);
	}
	free(canon);

	if (!ok)
	{
		sb_discard(&hdrs);
		sb_discard(&names);
		return false;
	}
	*canonical = sb_finish(&hdrs);
	*signed_names = sb_finish(&names);
	if (*canonical == NULL || *signed_names == NULL)
	{
		free(*canonical);
		free(*signed_names);
		*canonical = NULL;
		*signed_names = NULL;
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------------
 * Hashing and keys
 * ---------------------------------------------------------------------
 */

/*
 * SHA-256 and HMAC, fetched from OpenSSL's provider once: the implicit
 * fetch that EVP_Digest(EVP_sha256()) and EVP_Q_mac() make on every call
 * cost more than hashing a request's headers.  Fetched in the postmaster
 * when the library is preloaded (sigv4_crypto_init), so that a worker or
 * backend starts with them.
 */
static EVP_MD *sha256_md = NULL;
static EVP_MAC *hmac_mac = NULL;

bool
sigv4_crypto_init(void)
{
	if (sha256_md == NULL)
		sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (hmac_mac == NULL)
		hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	return sha256_md != NULL && hmac_mac != NULL;
}

static bool
sha256_bytes(const void *data, size_t len, unsigned char out[SHA256_LEN])
{
	unsigned int outlen = 0;

	return sigv4_crypto_init() &&
		EVP_Digest(data, len, out, &outlen, sha256_md, NULL) == 1 &&
		outlen == SHA256_LEN;
}

/*
 * An HMAC-SHA256 context for one signature (EVP_MAC_CTX_free wipes it), or
 * NULL.
 */
static EVP_MAC_CTX *
hmac_sha256_new(void)
{
	EVP_MAC_CTX *ctx;
	OSSL_PARAM	params[2];

	if (!sigv4_crypto_init() || (ctx = EVP_MAC_CTX_new(hmac_mac)) == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_CTX_set_params(ctx, params))
	{
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static bool
hmac_sha256(EVP_MAC_CTX *ctx, const void *key, size_t keylen, const void *data,
			size_t datalen, unsigned char out[SHA256_LEN])
{
	size_t		outlen = 0;

	return EVP_MAC_init(ctx, key, keylen, NULL) &&
		EVP_MAC_update(ctx, data, datalen) &&
		EVP_MAC_final(ctx, out, &outlen, SHA256_LEN) &&
		outlen == SHA256_LEN;
}

static void
hex_into(char *dst, const unsigned char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		i;

	for (i = 0; i < len; i++)
	{
		dst[2 * i] = hex[src[i] >> 4];
		dst[2 * i + 1] = hex[src[i] & 0x0F];
	}
	dst[2 * len] = '\0';
}

char *
sigv4_hex_sha256(const void *data, size_t len)
{
	unsigned char digest[SHA256_LEN];
	char	   *hex;

	if (!sha256_bytes(data, len, digest))
		return NULL;
	hex = malloc(2 * SHA256_LEN + 1);
	if (hex != NULL)
		hex_into(hex, digest, SHA256_LEN);
	return hex;
}

/*
 * Derives the signing key (HMAC chain over date, region, service and
 * "aws4_request") and signs the string to sign with it.  Every key,
 * including "AWS4" + secret, is wiped before returning.
 */
static char *
compute_signature(const char *secret, const char *date, const char *region,
				  const char *service, const char *string_to_sign)
{
	size_t		secret_len = strlen(secret);
	unsigned char *k_secret;
	unsigned char k_date[SHA256_LEN];
	unsigned char k_region[SHA256_LEN];
	unsigned char k_service[SHA256_LEN];
	unsigned char k_signing[SHA256_LEN];
	unsigned char sig[SHA256_LEN];
	char	   *hex = NULL;
	EVP_MAC_CTX *hmac;
	bool		ok;

	k_secret = malloc(secret_len + 4);
	if (k_secret == NULL)
		return NULL;
	hmac = hmac_sha256_new();
	if (hmac == NULL)
	{
		free(k_secret);
		return NULL;
	}
	memcpy(k_secret, "AWS4", 4);
	memcpy(k_secret + 4, secret, secret_len);

	ok = hmac_sha256(hmac, k_secret, secret_len + 4, date, strlen(date), k_date) &&
		hmac_sha256(hmac, k_date, SHA256_LEN, region, strlen(region), k_region) &&
		hmac_sha256(hmac, k_region, SHA256_LEN, service, strlen(service), k_service) &&
		hmac_sha256(hmac, k_service, SHA256_LEN, "aws4_request", 12, k_signing) &&
		hmac_sha256(hmac, k_signing, SHA256_LEN, string_to_sign,
					strlen(string_to_sign), sig);

	EVP_MAC_CTX_free(hmac);
	OPENSSL_cleanse(k_secret, secret_len + 4);
	free(k_secret);
	OPENSSL_cleanse(k_date, sizeof(k_date));
	OPENSSL_cleanse(k_region, sizeof(k_region));
	OPENSSL_cleanse(k_service, sizeof(k_service));
	OPENSSL_cleanse(k_signing, sizeof(k_signing));

	if (ok)
	{
		hex = malloc(2 * SHA256_LEN + 1);
		if (hex != NULL)
			hex_into(hex, sig, SHA256_LEN);
	}
	return hex;
}

/* ---------------------------------------------------------------------
 * Requests
 * ---------------------------------------------------------------------
 */

static SigV4Result *
result_error(SigV4Result *result, const char *fmt,...)
{
	char		buf[256];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);

	/* keep only the error: a half-signed result must not be used */
	free_wiped(result->canonical_request);
	free(result->string_to_sign);
	free(result->signature);
	free(result->signed_headers);
	free_wiped(result->presigned_query);
	result->canonical_request = NULL;
	result->string_to_sign = NULL;
	result->signature = NULL;
	result->signed_headers = NULL;
	result->presigned_query = NULL;
	result->error = xstrdup(buf);
	if (result->error == NULL)
	{
		sigv4_result_free(result);
		return NULL;
	}
	return result;
}

static bool
header_present(const SigV4Request *req, const char *name)
{
	int			i;

	for (i = 0; i < req->nheaders; i++)
		if (req->headers[i].name != NULL &&
			strcasecmp(req->headers[i].name, name) == 0)
			return true;
	return false;
}

/* Whether the query already holds one of the parameters presigning adds. */
static bool
query_has_auth_param(const char *query)
{
	static const char *const names[] = {
		"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
		"X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature"
	};
	const char *p = query;

	while (p != NULL && *p)
	{
		size_t		keylen = strcspn(p, "=&");
		size_t		k;

		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (keylen == strlen(names[k]) && strncmp(p, names[k], keylen) == 0)
				return true;
		p = strchr(p, '&');
		if (p != NULL)
			p++;
	}
	return false;
}

/* The checks both ways of signing share; NULL when the input is usable. */
static const char *
check_common(const SigV4Request *req, const SigV4Params *params)
{
	int			i;

	if (req == NULL || params == NULL)
		return "nothing to sign";
	if (req->method == NULL || req->method[0] == '\0')
		return "request has no method";
	if (req->payload_hash == NULL || req->payload_hash[0] == '\0')
		return "request has no payload hash";
	if (req->nheaders < 0 || (req->nheaders > 0 && req->headers == NULL))
		return "request headers are invalid";
	for (i = 0; i < req->nheaders; i++)
	{
		const char *name = req->headers[i].name;

		if (name == NULL || name[0] == '\0' ||
			name[strcspn(name, ":; \t\r\n")] != '\0')
			return "request has a header with an invalid name";
	}
	if (!header_present(req, "host"))
		return "request has no host header";
	if (header_present(req, "authorization"))
		return "request already carries an authorization header";
	if (params->access_key_id == NULL || params->access_key_id[0] == '\0' ||
		params->secret_access_key == NULL || params->secret_access_key[0] == '\0')
		return "credentials are incomplete";
	if (params->region == NULL || params->region[0] == '\0')
		return "no region to sign for";
	if (params->service == NULL || params->service[0] == '\0')
		return "no service to sign for";
	return NULL;
}

/* Formats "20150830T123600Z" and "20150830"; false if the time is invalid. */
static bool
format_dates(time_t timestamp, char *amz_date, char *date)
{
	struct tm	tm;

	if (gmtime_r(&timestamp, &tm) == NULL)
		return false;
	if (strftime(amz_date, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		return false;
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	return true;
}

static char *
build_canonical_request(const SigV4Request *req, const char *canonical_query,
						const char *canonical_hdrs, const char *signed_names,
						bool normalize)
{
	char	   *uri = sigv4_canonical_uri(req->path, normalize);
	StrBuf		sb;

	if (uri == NULL)
		return NULL;
	sb_init(&sb);
	sb_append(&sb, req->method);
	sb_append_char(&sb, '\n');
	sb_append(&sb, uri);
	sb_append_char(&sb, '\n');
	sb_append(&sb, canonical_query);
	sb_append_char(&sb, '\n');
	sb_append(&sb, canonical_hdrs);
	sb_append_char(&sb, '\n');
	sb_append(&sb, signed_names);
	sb_append_char(&sb, '\n');
	sb_append(&sb, req->payload_hash);
	free(uri);
	return sb_finish(&sb);
}

static char *
build_string_to_sign(const char *amz_date, const char *scope,
					 const char *canonical_request)
{
	char	   *hash = sigv4_hex_sha256(canonical_request,
										strlen(canonical_request));
	StrBuf		sb;

	if (hash == NULL)
		return NULL;
	sb_init(&sb);
	sb_append(&sb, SIGV4_ALGORITHM "\n");
	sb_append(&sb, amz_date);
	sb_append_char(&sb, '\n');
	sb_append(&sb, scope);
	sb_append_char(&sb, '\n');
	sb_append(&sb, hash);
	free(hash);
	return sb_finish(&sb);
}

/* "20150830/us-east-1/service/aws4_request" */
static char *
credential_scope(const char *date, const SigV4Params *params)
{
	StrBuf		sb;

	sb_init(&sb);
	sb_append(&sb, date);
	sb_append_char(&sb, '/');
	sb_append(&sb, params->region);
	sb_append_char(&sb, '/');
	sb_append(&sb, params->service);
	sb_append(&sb, "/aws4_request");
	return sb_finish(&sb);
}

SigV4Result *
sigv4_sign_headers(const SigV4Request *req, const SigV4Params *params)
{
	SigV4Result *result = calloc(1, sizeof(SigV4Result));
	const char *problem;
	char		amz_date[17];
	char		date[9];
	bool		with_token;
	SigV4Header *all = NULL;
	int			nall = 0;
	char	   *canon_hdrs = NULL;
	char	   *canon_query = NULL;
	char	   *scope = NULL;
	char	   *auth = NULL;
	StrBuf		sb;
	int			i;

	if (result == NULL)
		return NULL;
	problem = check_common(req, params);
	if (problem != NULL)
		return result_error(result, "%s", problem);
	with_token = params->session_token != NULL && params->session_token[0] != '\0';
	if (header_present(req, "x-amz-date"))
		return result_error(result, "request already carries an x-amz-date header");
	if (with_token && header_present(req, "x-amz-security-token"))
		return result_error(result, "request already carries an x-amz-security-token header");
	if (params->sign_body && header_present(req, "x-amz-content-sha256"))
		return result_error(result, "request already carries an x-amz-content-sha256 header");
	if (!format_dates(params->timestamp, amz_date, date))
		return result_error(result, "timestamp is out of range");

	/* the headers to add, in the order they are sent */
	result->add_headers = calloc(4, sizeof(SigV4Header));
	if (result->add_headers == NULL)
		goto oom;
	result->add_headers[result->nadd_headers].name = "X-Amz-Date";
	result->add_headers[result->nadd_headers++].value = xstrdup(amz_date);
	if (with_token)
	{
		result->add_headers[result->nadd_headers].name = "X-Amz-Security-Token";
		result->add_headers[result->nadd_headers++].value = xstrdup(params->session_token);
	}
	if (params->sign_body)
	{
		result->add_headers[result->nadd_headers].name = "x-amz-content-sha256";
		result->add_headers[result->nadd_headers++].value = xstrdup(req->payload_hash);
	}
	for (i = 0; i < result->nadd_headers; i++)
		if (result->add_headers[i].value == NULL)
			goto oom;

	/* the signed headers: the request's and those added, but an omitted token */
	all = malloc(sizeof(SigV4Header) * (req->nheaders + result->nadd_headers));
	if (all == NULL)
		goto oom;
	for (i = 0; i < req->nheaders; i++)
		all[nall++] = req->headers[i];
	for (i = 0; i < result->nadd_headers; i++)
	{
		if (params->omit_session_token &&
			strcmp(result->add_headers[i].name, "X-Amz-Security-Token") == 0)
			continue;
		all[nall++] = result->add_headers[i];
	}
	if (!canonical_headers(all, nall, &canon_hdrs, &result->signed_headers))
		goto oom;

	canon_query = sigv4_canonical_query(req->query);
	scope = credential_scope(date, params);
	if (canon_query == NULL || scope == NULL)
		goto oom;
	result->canonical_request = build_canonical_request(req, canon_query,
														canon_hdrs,
														result->signed_headers,
														params->normalize_path);
	if (result->canonical_request == NULL)
		goto oom;
	result->string_to_sign = build_string_to_sign(amz_date, scope,
												  result->canonical_request);
	if (result->string_to_sign == NULL)
		goto oom;
	result->signature = compute_signature(params->secret_access_key, date,
										  params->region, params->service,
										  result->string_to_sign);
	if (result->signature == NULL)
		goto oom;

	sb_init(&sb);
	sb_append(&sb, SIGV4_ALGORITHM " Credential=");
	sb_append(&sb, params->access_key_id);
	sb_append_char(&sb, '/');
	sb_append(&sb, scope);
	sb_append(&sb, ", SignedHeaders=");
	sb_append(&sb, result->signed_headers);
	sb_append(&sb, ", Signature=");
	sb_append(&sb, result->signature);
	auth = sb_finish(&sb);
	if (auth == NULL)
		goto oom;
	result->add_headers[result->nadd_headers].name = "Authorization";
	result->add_headers[result->nadd_headers++].value = auth;

	free(all);
	free_wiped(canon_hdrs);
	free_wiped(canon_query);
	free(scope);
	return result;

oom:
	free(all);
	free_wiped(canon_hdrs);
	free_wiped(canon_query);
	free(scope);
	sigv4_result_free(result);
	return NULL;
}

SigV4Result *
sigv4_sign_query(const SigV4Request *req, const SigV4Params *params)
{
	SigV4Result *result = calloc(1, sizeof(SigV4Result));
	const char *problem;
	char		amz_date[17];
	char		date[9];
	bool		with_token;
	char	   *canon_hdrs = NULL;
	char	   *canon_query = NULL;
	char	   *scope = NULL;
	char	   *credential = NULL;
	char	   *token = NULL;
	char	   *names = NULL;
	char	   *auth_params = NULL;
	char	   *signed_query = NULL;
	char		expires[32];
	StrBuf		sb;

	if (result == NULL)
		return NULL;
	problem = check_common(req, params);
	if (problem != NULL)
		return result_error(result, "%s", problem);
	if (params->expires <= 0 || params->expires > MAX_EXPIRES)
		return result_error(result, "expiry of a presigned request must be between 1 and %d seconds",
							MAX_EXPIRES);
	if (query_has_auth_param(req->query))
		return result_error(result, "query already carries a presigning parameter");
	if (!format_dates(params->timestamp, amz_date, date))
		return result_error(result, "timestamp is out of range");
	with_token = params->session_token != NULL && params->session_token[0] != '\0';
	snprintf(expires, sizeof(expires), "%ld", params->expires);

	if (!canonical_headers(req->headers, req->nheaders, &canon_hdrs,
						   &result->signed_headers))
		goto oom;
	scope = credential_scope(date, params);
	if (scope == NULL)
		goto oom;

	/* X-Amz-Credential, X-Amz-SignedHeaders and the token, encoded */
	sb_init(&sb);
	sb_append(&sb, params->access_key_id);
	sb_append_char(&sb, '/');
	sb_append(&sb, scope);
	auth_params = sb_finish(&sb);
	if (auth_params == NULL)
		goto oom;
	credential = sigv4_uri_encode(auth_params, true);
	free(auth_params);
	auth_params = NULL;
	names = sigv4_uri_encode(result->signed_headers, true);
	token = with_token ? sigv4_uri_encode(params->session_token, true) : NULL;
	if (credential == NULL || names == NULL || (with_token && token == NULL))
		goto oom;

	/* the parameters presigning adds, in the order they are sent */
	sb_init(&sb);
	sb_append(&sb, "X-Amz-Algorithm=" SIGV4_ALGORITHM "&X-Amz-Credential=");
	sb_append(&sb, credential);
	sb_append(&sb, "&X-Amz-Date=");
	sb_append(&sb, amz_date);
	sb_append(&sb, "&X-Amz-SignedHeaders=");
	sb_append(&sb, names);
	sb_append(&sb, "&X-Amz-Expires=");
	sb_append(&sb, expires);
	auth_params = sb_finish(&sb);
	if (auth_params == NULL)
		goto oom;

	/* what is signed: the request's query, the parameters, maybe the token */
	sb_init(&sb);
	if (req->query != NULL && req->query[0] != '\0')
	{
		sb_append(&sb, req->query);
		sb_append_char(&sb, '&');
	}
	sb_append(&sb, auth_params);
	if (with_token && !params->omit_session_token)
	{
		sb_append(&sb, "&X-Amz-Security-Token=");
		sb_append(&sb, token);
	}
	signed_query = sb_finish(&sb);
	if (signed_query == NULL)
		goto oom;
	canon_query = sigv4_canonical_query(signed_query);
	if (canon_query == NULL)
		goto oom;

	result->canonical_request = build_canonical_request(req, canon_query,
														canon_hdrs,
														result->signed_headers,
														params->normalize_path);
	if (result->canonical_request == NULL)
		goto oom;
	result->string_to_sign = build_string_to_sign(amz_date, scope,
												  result->canonical_request);
	if (result->string_to_sign == NULL)
		goto oom;
	result->signature = compute_signature(params->secret_access_key, date,
										  params->region, params->service,
										  result->string_to_sign);
	if (result->signature == NULL)
		goto oom;

	/* what is sent: the token always goes along, then the signature */
	sb_init(&sb);
	if (req->query != NULL && req->query[0] != '\0')
	{
		sb_append(&sb, req->query);
		sb_append_char(&sb, '&');
	}
	sb_append(&sb, auth_params);
	if (with_token)
	{
		sb_append(&sb, "&X-Amz-Security-Token=");
		sb_append(&sb, token);
	}
	sb_append(&sb, "&X-Amz-Signature=");
	sb_append(&sb, result->signature);
	result->presigned_query = sb_finish(&sb);
	if (result->presigned_query == NULL)
		goto oom;

	free_wiped(canon_hdrs);
	free_wiped(canon_query);
	free(scope);
	free(credential);
	free(names);
	free_wiped(token);
	free(auth_params);
	free_wiped(signed_query);
	return result;

oom:
	free_wiped(canon_hdrs);
	free_wiped(canon_query);
	free(scope);
	free(credential);
	free(names);
	free_wiped(token);
	free(auth_params);
	free_wiped(signed_query);
	sigv4_result_free(result);
	return NULL;
}

void
sigv4_result_free(SigV4Result *result)
{
	int			i;

	if (result == NULL)
		return;
	free_wiped(result->canonical_request);
	free(result->string_to_sign);
	free(result->signature);
	free(result->signed_headers);
	if (result->add_headers != NULL)
	{
		/* names are constants; values are ours */
		for (i = 0; i < result->nadd_headers; i++)
			free_wiped((char *) result->add_headers[i].value);
		free(result->add_headers);
	}
	free_wiped(result->presigned_query);
	free(result->error);
	free(result);
}
