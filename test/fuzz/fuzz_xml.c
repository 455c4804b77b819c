/*-------------------------------------------------------------------------
 *
 * fuzz_xml.c
 *		libFuzzer target for the REST-XML walker (src/aws/xml.c), which reads
 *		S3 and STS response bodies.
 *
 * The input is the body, exactly as many bytes as given (not
 * NUL-terminated, so a read past the end is caught).  The walk is run to
 * the end, then stopped after each number of callbacks up to a few, then
 * aws_xml_find looks up the last element of the first path seen.
 *
 * Besides the sanitizers' checks, it aborts when a callback gets a path
 * that breaks the walker's promises (non-empty, no leading or trailing
 * '/', no empty element name, at most 64 levels and 2048 bytes), when a
 * stopped walk calls back again, when the same input walks differently
 * twice, or when aws_xml_find disagrees with the walk it is built on.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include "aws/aws_parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct WalkState
{
	int			calls;
	int			stop_after;		/* return false on this call; 0: never */
	unsigned long hash;			/* of every path and text seen */
	char	   *first_path;
	char	   *first_text;		/* of the first leaf whose path ends ... */
	size_t		first_text_len;
	const char *suffix;			/* ... with this */
	bool		suffix_found;
} WalkState;

static void check(int ok, const char *what);
static bool walk_cb(const char *path, const char *text, size_t text_len,
					void *arg);
static bool ends_with_element(const char *path, const char *suffix);

static void
check(int ok, const char *what)
{
	if (!ok)
	{
		fprintf(stderr, "xml invariant broken: %s\n", what);
		abort();
	}
}

static bool
ends_with_element(const char *path, const char *suffix)
{
	size_t		pl = strlen(path);
	size_t		sl = strlen(suffix);

	if (pl < sl || strcmp(path + pl - sl, suffix) != 0)
		return false;
	return pl == sl || path[pl - sl - 1] == '/';
}

static bool
walk_cb(const char *path, const char *text, size_t text_len, void *arg)
{
	WalkState  *st = arg;
	size_t		pl = strlen(path);
	int			depth = 1;

	check(st->stop_after == 0 || st->calls < st->stop_after,
		  "called back after the callback stopped the walk");
	st->calls++;
	check(pl > 0 && pl < 2048, "path empty or too long");
	check(path[0] != '/' && path[pl - 1] != '/', "path starts or ends with '/'");
	check(strstr(path, "//") == NULL, "path has an empty element name");
	for (const char *p = path; *p; p++)
		depth += (*p == '/');
	check(depth <= 64, "path deeper than 64 levels");
	check(text != NULL, "text is NULL");
	/* every byte of the text must be readable (ASan checks the hash) */
	for (size_t i = 0; i < text_len; i++)
		st->hash = st->hash * 31 + (unsigned char) text[i];
	for (size_t i = 0; i < pl; i++)
		st->hash = st->hash * 31 + (unsigned char) path[i];

	if (st->first_path == NULL)
		st->first_path = strdup(path);
	if (st->suffix && !st->suffix_found && ends_with_element(path, st->suffix))
	{
		st->suffix_found = true;
		st->first_text = malloc(text_len + 1);
		memcpy(st->first_text, text, text_len);
		st->first_text[text_len] = '\0';
		st->first_text_len = text_len;
	}
	return st->stop_after == 0 || st->calls < st->stop_after;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *xml = malloc(size ? size : 1);
	WalkState	full = {0};
	WalkState	again = {0};
	bool		ok,
				ok_again;
	const char *suffix;
	char	   *found;

	if (xml == NULL)
		abort();
	memcpy(xml, data, size);

	ok = aws_xml_walk(xml, size, walk_cb, &full);
	ok_again = aws_xml_walk(xml, size, walk_cb, &again);
	check(ok == ok_again && full.calls == again.calls && full.hash == again.hash,
		  "the same input walked differently twice");

	/* stopping the walk after each of the first few callbacks */
	for (int stop = 1; stop <= 3 && stop <= full.calls; stop++)
	{
		WalkState	part = {0};

		part.stop_after = stop;
		aws_xml_walk(xml, size, walk_cb, &part);
		check(part.calls == stop, "the walk did not stop when asked");
		free(part.first_path);
	}

	/* aws_xml_find of the first leaf's own name finds the first such leaf */
	if (full.first_path != NULL)
	{
		WalkState	named = {0};

		suffix = strrchr(full.first_path, '/');
		suffix = suffix ? suffix + 1 : full.first_path;
		named.suffix = suffix;
		aws_xml_walk(xml, size, walk_cb, &named);
		found = aws_xml_find(xml, size, suffix);
		check(named.suffix_found && found != NULL,
			  "aws_xml_find missed a leaf the walk reported");
		check(strlen(found) == strlen(named.first_text) &&
			  strcmp(found, named.first_text) == 0,
			  "aws_xml_find returned another text than the walk");
		free(found);
		free(named.first_path);
		free(named.first_text);
	}
	found = aws_xml_find(xml, size, "Error/Code");
	free(found);

	free(full.first_path);
	free(again.first_path);
	free(xml);
	return 0;
}
