/*-------------------------------------------------------------------------
 *
 * test_main.c
 *		The C unit-test runner: runs every registered test (or those whose
 *		"file:name" contains one of the arguments), prints one line per test
 *		("ok   file:name" or "FAIL file:name", after the failed checks'
 *		details) and ends with "unit: N passed, N failed"; exits 1 if any
 *		failed.
 *
 *-------------------------------------------------------------------------
 */
#include "test.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_TESTS 4096

typedef struct TestCase
{
	const char *file;
	const char *name;
	test_fn		fn;
} TestCase;

static TestCase tests[MAX_TESTS];
static int	ntests = 0;
static int	current_failures = 0;

static const char *base_name(const char *path);
static bool selected(const TestCase *t, int argc, char **argv);
static void print_escaped(const char *s, size_t len);

void
test_register(const char *file, const char *name, test_fn fn)
{
	if (ntests >= MAX_TESTS)
	{
		fprintf(stderr, "too many tests: raise MAX_TESTS in test_main.c\n");
		exit(2);
	}
	tests[ntests].file = file;
	tests[ntests].name = name;
	tests[ntests].fn = fn;
	ntests++;
}

void
test_fail(const char *file, int line, const char *fmt,...)
{
	va_list		ap;

	current_failures++;
	printf("    %s:%d: ", base_name(file), line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Prints s with control and non-ASCII bytes escaped, in quotes. */
static void
print_escaped(const char *s, size_t len)
{
	size_t		i;

	putchar('"');
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '\n')
			printf("\\n");
		else if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('"');
}

bool
test_mem_eq(const char *file, int line, const char *expr_a, const char *expr_b,
			const void *a, size_t alen, const void *b, size_t blen)
{
	if (a != NULL && b != NULL && alen == blen && memcmp(a, b, alen) == 0)
		return true;
	test_fail(file, line, "%s == %s", expr_a, expr_b);
	printf("      got:      ");
	if (a == NULL)
		printf("NULL");
	else
		print_escaped(a, alen);
	printf("\n      expected: ");
	if (b == NULL)
		printf("NULL");
	else
		print_escaped(b, blen);
	printf("\n");
	return false;
}

bool
test_str_eq(const char *file, int line, const char *expr_a, const char *expr_b,
			const char *a, const char *b)
{
	return test_mem_eq(file, line, expr_a, expr_b, a, a ? strlen(a) : 0,
					   b, b ? strlen(b) : 0);
}

bool
test_long_eq(const char *file, int line, const char *expr_a,
			 const char *expr_b, long a, long b)
{
	if (a == b)
		return true;
	test_fail(file, line, "%s == %s: got %ld, expected %ld",
			  expr_a, expr_b, a, b);
	return false;
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static bool
selected(const TestCase *t, int argc, char **argv)
{
	char		full[512];
	int			i;

	if (argc <= 1)
		return true;
	snprintf(full, sizeof(full), "%s:%s", base_name(t->file), t->name);
	for (i = 1; i < argc; i++)
		if (strstr(full, argv[i]) != NULL)
			return true;
	return false;
}

int
main(int argc, char **argv)
{
	int			passed = 0;
	int			failed = 0;
	int			i;

	/* unbuffered, so a crash leaves the lines before it */
	setvbuf(stdout, NULL, _IONBF, 0);
	for (i = 0; i < ntests; i++)
	{
		if (!selected(&tests[i], argc, argv))
			continue;
		current_failures = 0;
		tests[i].fn();
		printf("%s %s:%s\n", current_failures == 0 ? "ok  " : "FAIL",
			   base_name(tests[i].file), tests[i].name);
		if (current_failures == 0)
			passed++;
		else
			failed++;
	}
	if (passed + failed == 0)
	{
		printf("no test selected\n");
		failed = 1;
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
