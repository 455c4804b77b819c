/*-------------------------------------------------------------------------
 *
 * ini.c
 *		Parser of the AWS shared credentials and config files.
 *
 * The files are read the way the AWS CLI and botocore read them (Python's
 * configparser plus nested "s3 =" blocks); see aws_parse.h for the grammar.
 * Rules: pure C (malloc/free), the text need not be NUL-terminated, lines
 * that fit no rule (or hold a NUL byte) are ignored rather than failing the whole file (the SDKs
 * would refuse the file; a lenient reader only ever finds fewer settings).
 * Values are secrets: they are wiped when the parse is freed.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_parse.h"

static char *dup_trim(const char *s, size_t n);
static char *normalize_section(const char *s, size_t n);
static bool add_entry(AwsIni *ini, int *cap, const char *section,
					  char *key, char *value);

/* A malloc'd copy of s[0..n) without leading and trailing whitespace. */
static char *
dup_trim(const char *s, size_t n)
{
	char	   *r;

	while (n > 0 && isspace((unsigned char) *s))
	{
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char) s[n - 1]))
		n--;
	r = malloc(n + 1);
	if (r == NULL)
		return NULL;
	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

/* "  profile    foo " -> "profile foo" */
static char *
normalize_section(const char *s, size_t n)
{
	char	   *r = malloc(n + 1);
	size_t		o = 0;
	bool		space = false;

	if (r == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
	{
		if (isspace((unsigned char) s[i]))
		{
			space = (o > 0);
			continue;
		}
		if (space)
			r[o++] = ' ';
		space = false;
		r[o++] = s[i];
	}
	r[o] = '\0';
	return r;
}

static bool
add_entry(AwsIni *ini, int *cap, const char *section, char *key, char *value)
{
	if (ini->nentries == *cap)
	{
		int			ncap = *cap ? *cap * 2 : 16;
		AwsIniEntry *e = realloc(ini->entries, ncap * sizeof(AwsIniEntry));

		if (e == NULL)
			return false;
		ini->entries = e;
		*cap = ncap;
	}
	ini->entries[ini->nentries].section = strdup(section);
	ini->entries[ini->nentries].key = key;
	ini->entries[ini->nentries].value = value;
	ini->nentries++;
	return true;
}

AwsIni *
aws_ini_parse(const char *text, size_t len)
{
	AwsIni	   *ini = calloc(1, sizeof(AwsIni));
	int			cap = 0;
	const char *p = text;
	const char *end = text + len;
	char	   *section = NULL;
	int			parent = -1;	/* entry index whose value may continue */
	bool		parent_nested = false;

	if (ini == NULL)
		return NULL;

	while (p < end)
	{
		const char *eol = memchr(p, '\n', end - p);
		const char *line = p;
		size_t		n;
		bool		indented;
		const char *q;

		if (eol == NULL)
			eol = end;
		n = eol - line;
		p = eol < end ? eol + 1 : end;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		indented = n > 0 && (line[0] == ' ' || line[0] == '\t');

		/* a line with a NUL byte is not text: ignored whole */
		if (memchr(line, '\0', n) != NULL)
			continue;

		/* skip blank lines and whole-line comments */
		q = line;
		while (q < line + n && isspace((unsigned char) *q))
			q++;
		if (q == line + n || *q == '#' || *q == ';')
			continue;

		if (indented && parent >= 0 && section != NULL)
		{
			const char *delim = q;

			while (delim < line + n && *delim != '=' && *delim != ':')
				delim++;
			if (parent_nested && delim < line + n)
			{
				char	   *sub = dup_trim(q, delim - q);
				char	   *value = dup_trim(delim + 1, line + n - delim - 1);
				const char *pkey = ini->entries[parent].key;
				char	   *key = malloc(strlen(pkey) + (sub ? strlen(sub) : 0) + 2);

				if (sub && value && key)
				{
					for (char *c = sub; *c; c++)
						*c = (char) tolower((unsigned char) *c);
					strcpy(key, pkey);
					strcat(key, ".");
					strcat(key, sub);
					if (!add_entry(ini, &cap, section, key, value))
					{
						free(key);
						aws_free_secret(value);
					}
				}
				else
				{
					free(key);
					aws_free_secret(value);
				}
				free(sub);
			}
			else if (!parent_nested)
			{
				/* a continuation line of a multi-line value */
				AwsIniEntry *e = &ini->entries[parent];
				char	   *more = dup_trim(q, line + n - q);
				char	   *joined = more ? malloc(strlen(e->value) + strlen(more) + 2) : NULL;

				if (joined)
				{
					strcpy(joined, e->value);
					strcat(joined, "\n");
					strcat(joined, more);
					aws_free_secret(e->value);
					e->value = joined;
				}
				aws_free_secret(more);
			}
			continue;
		}

		if (*q == '[')
		{
			const char *close = memchr(q, ']', line + n - q);

			parent = -1;
			if (close == NULL)
				continue;
			free(section);
			section = normalize_section(q + 1, close - q - 1);
			continue;
		}

		/* key = value */
		{
			const char *delim = q;
			char	   *key;
			char	   *value;

			parent = -1;
			if (section == NULL)
				continue;
			while (delim < line + n && *delim != '=' && *delim != ':')
				delim++;
			if (delim == line + n)
				continue;
			key = dup_trim(q, delim - q);
			value = dup_trim(delim + 1, line + n - delim - 1);
			if (key == NULL || value == NULL || *key == '\0')
			{
				free(key);
				aws_free_secret(value);
				continue;
			}
			for (char *c = key; *c; c++)
				*c = (char) tolower((unsigned char) *c);
			parent_nested = (*value == '\0');
			if (add_entry(ini, &cap, section, key, value))
				parent = ini->nentries - 1;
			else
			{
				free(key);
				aws_free_secret(value);
			}
		}
	}
	free(section);
	return ini;
}

void
aws_ini_free(AwsIni *ini)
{
	if (ini == NULL)
		return;
	for (int i = 0; i < ini->nentries; i++)
	{
		free(ini->entries[i].section);
		free(ini->entries[i].key);
		aws_free_secret(ini->entries[i].value);
	}
	free(ini->entries);
	free(ini);
}

const char *
aws_ini_get(const AwsIni *ini, const char *section, const char *key)
{
	const char *found = NULL;

	if (ini == NULL)
		return NULL;
	for (int i = 0; i < ini->nentries; i++)
		if (strcmp(ini->entries[i].section, section) == 0 &&
			strcmp(ini->entries[i].key, key) == 0)
			found = ini->entries[i].value;
	return found;
}

bool
aws_ini_has_section(const AwsIni *ini, const char *section)
{
	/* sections are only recorded through their entries; see aws_ini_parse */
	if (ini == NULL)
		return false;
	for (int i = 0; i < ini->nentries; i++)
		if (strcmp(ini->entries[i].section, section) == 0)
			return true;
	return false;
}
