/*-------------------------------------------------------------------------
 *
 * aws_parse.h
 *		Pure byte parsers of the AWS client core: error shapes, XML, shared
 *		config files, credential documents, retry classification.
 *
 * Nothing declared here calls into the PostgreSQL backend.  Memory comes
 * from malloc() and every result has a matching free function, so the unit
 * tests (test/unit) link these files alone, run them under valgrind, and
 * fuzz them.  Inputs are (pointer, length) pairs that need not be
 * NUL-terminated; hostile input (truncated, huge, binary) yields "not
 * found" or an empty result, never a crash.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_AWS_PARSE_H
#define AUDIT_FDW_AWS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* in protocol.c */

/*
 * An AWS error response, whatever its protocol: JSON 1.0/1.1 (__type,
 * message/Message, x-amzn-ErrorType, x-amzn-RequestId), REST-XML
 * (<Error><Code><Message><RequestId>) and the query protocol of STS
 * (<ErrorResponse><Error><Code><Message></Error><RequestId>).  Fields are
 * malloc'd or NULL.
 */
typedef struct AwsErrorInfo
{
	char	   *code;			/* "ThrottlingException", "NoSuchKey" */
	char	   *message;		/* AWS's own text */
	char	   *request_id;
} AwsErrorInfo;

/*
 * Parse an error response.  header_error_type and header_request_id are the
 * values of x-amzn-ErrorType and x-amzn-RequestId / x-amz-request-id (or
 * NULL).  When the body names no code, one is derived from the HTTP status
 * ("NotFound" for 404 and so on), so code is never NULL.
 */
extern AwsErrorInfo *aws_parse_error(long status, const char *body, size_t len,
									 const char *header_error_type,
									 const char *header_request_id);
extern void aws_error_info_free(AwsErrorInfo *info);

/* Retry classification, as the AWS SDKs' standard retry mode does it. */
extern bool aws_error_code_is_throttling(const char *code);
extern bool aws_error_is_retryable(long status, const char *code);

/* "2024-01-15T16:44:27Z" (fractions and offsets allowed) -> unix seconds;
 * -1 when unparsable. */
extern int64_t aws_parse_iso8601(const char *s);

/* An HTTP Date ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 7231's preferred
 * form) -> unix seconds; -1 when unparsable. */
extern int64_t aws_parse_http_date(const char *s);

/* application/x-www-form-urlencoded value encoding (RFC 3986 unreserved
 * kept), malloc'd. */
extern char *aws_form_encode(const char *s);

/* in xml.c */

/*
 * A small non-validating XML walker, enough for AWS's REST-XML and query
 * responses: elements, attributes (skipped), text with the five predefined
 * entities and numeric character references, CDATA, comments and
 * processing instructions.  For every element that holds text and no child
 * element, cb is called with the slash-separated path of element names from
 * the root ("ErrorResponse/Error/Code") and its decoded text.  A callback
 * returning false stops the walk.  Returns false on malformed input (after
 * calling cb for what came before).
 */
typedef bool (*AwsXmlCallback) (const char *path, const char *text,
								size_t text_len, void *arg);

extern bool aws_xml_walk(const char *xml, size_t len, AwsXmlCallback cb,
						 void *arg);

/*
 * The decoded text of the first leaf element whose path ends with suffix
 * (matched on whole element names: "Error/Code" matches
 * "ErrorResponse/Error/Code"), malloc'd, or NULL.
 */
extern char *aws_xml_find(const char *xml, size_t len, const char *suffix);

/* in ini.c */

/*
 * The AWS shared credentials and config files: sections "[name]" (the
 * config file writes "[profile name]" except for "[default]"; runs of
 * whitespace in a section name are folded to one space), "key = value" or
 * "key: value" lines (keys lower-cased, values trimmed), whole-line comments
 * starting with '#' or ';', and indented continuation lines: after a key
 * with an empty value they are nested "sub = value" settings (s3 = ...
 * blocks), kept as "key.sub"; otherwise they continue the value on a new
 * line, as Python's configparser (which the AWS CLI uses) reads them.
 */
typedef struct AwsIniEntry
{
	char	   *section;
	char	   *key;
	char	   *value;
} AwsIniEntry;

typedef struct AwsIni
{
	AwsIniEntry *entries;
	int			nentries;
} AwsIni;

extern AwsIni *aws_ini_parse(const char *text, size_t len);
extern void aws_ini_free(AwsIni *ini);

/* The value of key in section, or NULL (the last one wins). */
extern const char *aws_ini_get(const AwsIni *ini, const char *section,
							   const char *key);

/* Does the section hold at least one setting? */
extern bool aws_ini_has_section(const AwsIni *ini, const char *section);

/* in protocol.c */

/*
 * Credentials as the credential_process (Version 1), container endpoint and
 * IMDS documents give them: AccessKeyId, SecretAccessKey, SessionToken or
 * Token, Expiration.  Fields malloc'd; secret strings are wiped on free.
 */
typedef struct AwsCredentialDoc
{
	char	   *access_key_id;
	char	   *secret_access_key;
	char	   *session_token;
	int64_t		expires_at;		/* unix seconds, 0 if none */
	char	   *error;			/* why the document was rejected, or NULL */
} AwsCredentialDoc;

extern AwsCredentialDoc *aws_parse_credential_json(const char *json,
												   size_t len,
												   bool require_version);
extern void aws_credential_doc_free(AwsCredentialDoc *doc);

/* Wipe and free a secret string. */
extern void aws_free_secret(char *s);

#endif							/* AUDIT_FDW_AWS_PARSE_H */
