/*-------------------------------------------------------------------------
 *
 * test.h
 *		The C unit tests' assertions and registration.
 *
 * A test file (test_<module>.c, one per module, listed in TESTS in the
 * Makefile) holds tests written as
 *
 *		TEST(canonical_query_sorts_by_name)
 *		{
 *			char *q = sigv4_canonical_query("b=1&a=2");
 *
 *			REQUIRE(q != NULL);
 *			CHECK_STR_EQ(q, "a=2&b=1");
 *			free(q);
 *		}
 *
 * TEST registers the function before main() runs; the runner (test_main.c)
 * calls each in the order the files were linked and prints one line per
 * test.  CHECK_* record a failure and go on; REQUIRE* record it and leave
 * the test (so a test cleans up only what it allocated before a REQUIRE).
 * Tests run in one process: each frees what it allocates, which the
 * valgrind and sanitizer runs hold them to.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_TEST_H
#define AUDIT_FDW_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef void (*test_fn) (void);

extern void test_register(const char *file, const char *name, test_fn fn);
extern void test_fail(const char *file, int line, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern bool test_str_eq(const char *file, int line, const char *expr_a,
						const char *expr_b, const char *a, const char *b);
extern bool test_mem_eq(const char *file, int line, const char *expr_a,
						const char *expr_b, const void *a, size_t alen,
						const void *b, size_t blen);
extern bool test_long_eq(const char *file, int line, const char *expr_a,
						 const char *expr_b, long a, long b);

#define TEST(name) \
	static void test_##name(void); \
	__attribute__((constructor)) static void register_##name(void) \
	{ \
		test_register(__FILE__, #name, test_##name); \
	} \
	static void test_##name(void)

/* non-fatal checks: the test goes on */
#define CHECK(cond) \
	((cond) ? (void) 0 : test_fail(__FILE__, __LINE__, "%s is false", #cond))
#define CHECK_STR_EQ(a, b) \
	((void) test_str_eq(__FILE__, __LINE__, #a, #b, (a), (b)))
#define CHECK_MEM_EQ(a, alen, b, blen) \
	((void) test_mem_eq(__FILE__, __LINE__, #a, #b, (a), (alen), (b), (blen)))
#define CHECK_INT_EQ(a, b) \
	((void) test_long_eq(__FILE__, __LINE__, #a, #b, (long) (a), (long) (b)))

/* fatal checks: the test returns at once */
#define REQUIRE(cond) \
	do { \
		if (!(cond)) \
		{ \
			test_fail(__FILE__, __LINE__, "%s is false", #cond); \
			return; \
		} \
	} while (0)
#define REQUIRE_STR_EQ(a, b) \
	do { \
		if (!test_str_eq(__FILE__, __LINE__, #a, #b, (a), (b))) \
			return; \
	} while (0)
#define REQUIRE_INT_EQ(a, b) \
	do { \
		if (!test_long_eq(__FILE__, __LINE__, #a, #b, (long) (a), (long) (b))) \
			return; \
	} while (0)

#endif							/* AUDIT_FDW_TEST_H */
