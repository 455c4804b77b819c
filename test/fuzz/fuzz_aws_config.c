/*-------------------------------------------------------------------------
 *
 * fuzz_aws_config.c
 *		libFuzzer target for what the credential chain reads from files and
 *		endpoints: src/aws/ini.c (shared credentials and config files) and
 *		the credential documents of src/aws/protocol.c (credential_process,
 *		container endpoint, IMDS), and ISO 8601 timestamps.
 *
 * Invariants besides the sanitizers': every parsed entry has a non-empty
 * lower-case key without leading or trailing blanks, lookups return the
 * last value of a key, and a credential document either has an error or
 * an access key id and a secret.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_parse.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
	if (!ok)
	{
		fprintf(stderr, "aws_config invariant broken: %s\n", what);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	AwsIni	   *ini = aws_ini_parse(text, size);
	AwsCredentialDoc *doc;

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
	}
	aws_ini_free(ini);

	for (int v = 0; v < 2; v++)
	{
		doc = aws_parse_credential_json(text, size, v == 1);
		check(doc != NULL, "a document");
		check(doc->error != NULL ||
			  (doc->access_key_id != NULL && doc->secret_access_key != NULL),
			  "an error or keys");
		aws_credential_doc_free(doc);
	}

	{
		char	   *s = malloc(size + 1);

		memcpy(s, data, size);
		s[size] = '\0';
		(void) aws_parse_iso8601(s);
		free(s);
	}
	return 0;
}
