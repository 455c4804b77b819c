/*-------------------------------------------------------------------------
 *
 * fuzz_aws_config.c
 *		libFuzzer target for what the credential chain reads from files and
 *		endpoints: src/aws/ini.c (shared credentials and config files) and
 *		the credential documents of src/aws/protocol.c (credential_process,
 *		container endpoint, IMDS), and ISO 8601 and HTTP timestamps.
 *
 * Invariants besides the sanitizers': every parsed entry has a non-empty
 * lower-case key without leading or trailing blanks, values and section
 * names are trimmed (in a file without NUL bytes, which end a string
 * anywhere), lookups return the last value of a key, and a credential
 * document either has an error or an access key id and a secret, and its
 * error never repeats the secret.  A timestamp that parses agrees with
 * timegm() on the same fields; a form-encoded string holds only unreserved
 * characters and escapes and decodes back to its input.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/aws_parse.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool trimmed(const char *s);
static void check_timestamp(const char *s);
static void check_form_encode(const char *s);

static void
check(int ok, const char *what)
{
	if (!ok)
	{
		fprintf(stderr, "aws_config invariant broken: %s\n", what);
		abort();
	}
}

/* No blank at either end of s, nor at either end of any of its lines. */
static bool
trimmed(const char *s)
{
	size_t		n = strlen(s);

	if (n == 0)
		return true;
	if (isspace((unsigned char) s[0]) || isspace((unsigned char) s[n - 1]))
		return false;
	for (const char *nl = strchr(s, '\n'); nl; nl = strchr(nl + 1, '\n'))
		if (nl[1] == '\0' || nl[1] == ' ' || nl[1] == '\t' ||
			(nl > s && (nl[-1] == ' ' || nl[-1] == '\t')))
			return false;
	return true;
}

/*
 * A timestamp that parses must agree with timegm() on the same fields,
 * minus its offset (fractions are ignored by both; timegm normalizes day
 * 31 of a short month and second 60 forward, as the parser does).
 */
static void
check_timestamp(const char *s)
{
	int64_t		t = aws_parse_iso8601(s);
	struct tm	tm;
	int			offset = 0;
	const char *p;

	if (t == -1)
		return;
	check(strlen(s) >= 19, "a timestamp shorter than its fields parsed");
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	tm.tm_hour = atoi(s + 11);
	tm.tm_min = atoi(s + 14);
	tm.tm_sec = atoi(s + 17);
	p = s + 19;
	if (*p == '.')
		for (p++; isdigit((unsigned char) *p); p++)
			;
	if (*p == '+' || *p == '-')
	{
		int			sign = (*p == '-') ? -1 : 1;
		int			oh = (p[1] - '0') * 10 + (p[2] - '0');
		int			om = 0;

		p += 3;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char) *p))
			om = (p[0] - '0') * 10 + (p[1] - '0');
		offset = sign * (oh * 3600 + om * 60);
	}
	check(t == (int64_t) timegm(&tm) - offset, "a timestamp disagrees with timegm()");
}

static void
check_form_encode(const char *s)
{
	char	   *enc = aws_form_encode(s);
	char	   *dec;
	size_t		o = 0;

	check(enc != NULL, "form encoding failed");
	dec = malloc(strlen(enc) + 1);
	if (dec == NULL)
		abort();
	for (const char *p = enc; *p; p++)
	{
		if (*p == '%')
		{
			char		hex[3] = {p[1], p[2], 0};

			check(isxdigit((unsigned char) p[1]) && isxdigit((unsigned char) p[2]) &&
				  !islower((unsigned char) p[1]) && !islower((unsigned char) p[2]),
				  "a bad escape in a form-encoded string");
			dec[o++] = (char) strtol(hex, NULL, 16);
			p += 2;
			continue;
		}
		check(isalnum((unsigned char) *p) || strchr("-_.~", *p) != NULL,
			  "a reserved character in a form-encoded string");
		dec[o++] = *p;
	}
	dec[o] = '\0';
	check(strcmp(dec, s) == 0, "a form-encoded string does not decode back");
	free(dec);
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	AwsIni	   *ini = aws_ini_parse(text, size);
	AwsCredentialDoc *doc;
	bool		has_nul = memchr(data, '\0', size) != NULL;

	check(ini != NULL, "a parse");
	for (int i = 0; i < ini->nentries; i++)
	{
		const char *k = ini->entries[i].key;
		size_t		n = strlen(k);

		check(n > 0, "a key");
		check(!isspace((unsigned char) k[0]) && !isspace((unsigned char) k[n - 1]),
			  "a trimmed key");
		for (const char *c = k; *c; c++)
			check(!isupper((unsigned char) *c), "a lower-case key");
		check(aws_ini_has_section(ini, ini->entries[i].section), "its section exists");
		check(aws_ini_get(ini, ini->entries[i].section, k) != NULL, "its value is found");
		if (!has_nul)
		{
			check(trimmed(ini->entries[i].value), "a trimmed value");
			check(trimmed(ini->entries[i].section) &&
				  strstr(ini->entries[i].section, "  ") == NULL,
				  "a section name without runs of blanks");
		}
		/* the last entry with the same section and key wins */
		{
			const char *want = NULL;

			for (int j = 0; j < ini->nentries; j++)
				if (strcmp(ini->entries[j].section, ini->entries[i].section) == 0 &&
					strcmp(ini->entries[j].key, k) == 0)
					want = ini->entries[j].value;
			check(aws_ini_get(ini, ini->entries[i].section, k) == want,
				  "the last value of a key");
		}
	}
	check(aws_ini_get(ini, "default", "Region") == NULL,
		  "a key with a capital letter was found");
	aws_ini_free(ini);

	for (int v = 0; v < 2; v++)
	{
		doc = aws_parse_credential_json(text, size, v == 1);
		check(doc != NULL, "a document");
		check(doc->error != NULL ||
			  (doc->access_key_id != NULL && doc->secret_access_key != NULL),
			  "an error or keys");
		/* the secret may be in an error only if the input spelled it twice */
		if (doc->error != NULL && doc->secret_access_key != NULL &&
			strlen(doc->secret_access_key) >= 4)
		{
			const char *sk = doc->secret_access_key;
			const char *first = memmem(text, size, sk, strlen(sk));

			check(strstr(doc->error, sk) == NULL ||
				  (first != NULL &&
				   memmem(first + 1, size - (first + 1 - text), sk, strlen(sk)) != NULL),
				  "an error repeats the secret");
		}
		aws_credential_doc_free(doc);
	}

	{
		char	   *s = malloc(size + 1);

		memcpy(s, data, size);
		s[size] = '\0';
		check_timestamp(s);
		if (size > 0)
			check_timestamp(s + 1);
		check_form_encode(s);
		/* an HTTP date that parses names a time AWS could send */
		check(aws_parse_http_date(s) < (int64_t) 253402300800, "an HTTP date before year 10000");
		free(s);
	}
	return 0;
}
