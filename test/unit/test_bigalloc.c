/*-------------------------------------------------------------------------
 *
 * test_bigalloc.c
 *		Unit tests of the large-buffer allocator (src/aws/bigalloc.c): what
 *		goes to malloc and what is a block, blocks kept and handed back,
 *		blocks sharing a huge page, the shortest free run that holds a
 *		block taken, realloc between malloc and blocks and
 *		within a page keeping the bytes, the bound on what is kept, calloc
 *		zeroing a reused block, and the huge pages themselves where the
 *		kernel gives them.
 *
 *-------------------------------------------------------------------------
 */
#include "test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "aws/bigalloc.h"

/* bytes p[0..n) follow the pattern of seed */
static void
fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char) (i * 31 + seed);
}

static bool
follows(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char) (i * 31 + seed))
			return false;
	return true;
}

/* bytes in blocks now: kept (freed) ones, or else those in use */
static size_t
block_bytes(bool kept)
{
	size_t		in_use;
	size_t		kept_bytes;

	bigalloc_stats(&in_use, &kept_bytes);
	return kept ? kept_bytes : in_use;
}

#define in_use_now() block_bytes(false)
#define kept_now() block_bytes(true)

/* not enabled, every size is malloc's; a block made before stays a block */
TEST(bigalloc_a_process_not_enabled_uses_malloc)
{
	void	   *block;
	void	   *p;

	bigalloc_enable(true);
	block = bigalloc_malloc(BIGALLOC_MIN);
	REQUIRE(block != NULL);
	CHECK(bigalloc_owns(block));
	bigalloc_enable(false);
	p = bigalloc_malloc(BIGALLOC_MIN * 2);
	REQUIRE(p != NULL);
	CHECK(!bigalloc_owns(p));
	p = bigalloc_realloc(p, BIGALLOC_MIN * 3);
	REQUIRE(p != NULL);
	CHECK(!bigalloc_owns(p));
	bigalloc_free(p);
	block = bigalloc_realloc(block, BIGALLOC_MIN + 1);
	CHECK(bigalloc_owns(block));
	bigalloc_free(block);
	CHECK_INT_EQ(in_use_now(), 0);
}

TEST(bigalloc_small_requests_go_to_malloc)
{
	void	   *p;

	bigalloc_enable(true);
	p = bigalloc_malloc(BIGALLOC_MIN - 1);
	REQUIRE(p != NULL);
	CHECK(!bigalloc_owns(p));
	p = bigalloc_realloc(p, 1000);
	REQUIRE(p != NULL);
	CHECK(!bigalloc_owns(p));
	bigalloc_free(p);
	bigalloc_free(NULL);
	CHECK_INT_EQ(in_use_now(), 0);
}

TEST(bigalloc_a_freed_block_is_kept_and_handed_back)
{
	unsigned char *p;
	unsigned char *q;
	size_t		kept_before;

	bigalloc_enable(true);
	kept_before = kept_now();
	p = bigalloc_malloc(BIGALLOC_MIN);
	REQUIRE(p != NULL);
	REQUIRE(bigalloc_owns(p));
	/* nothing else in use: at the start of a page, its first 4 granules */
	CHECK_INT_EQ((uintptr_t) p % BIGALLOC_PAGE, 0);
	CHECK_INT_EQ(in_use_now(), BIGALLOC_MIN);
	fill(p, BIGALLOC_MIN, 1);
	bigalloc_free(p);
	CHECK(!bigalloc_owns(p));
	CHECK_INT_EQ(in_use_now(), 0);
	CHECK(kept_now() >= BIGALLOC_PAGE);

	/* the next request it fits gets it back, the smallest kept that fits */
	q = bigalloc_malloc(BIGALLOC_PAGE);
	CHECK(q == p || kept_before > 0);
	REQUIRE(bigalloc_owns(q));
	fill(q, BIGALLOC_PAGE, 2);
	CHECK(follows(q, BIGALLOC_PAGE, 2));
	bigalloc_free(q);
	CHECK_INT_EQ(in_use_now(), 0);
}

/* the 2 MiB page that holds p */
static uintptr_t
page_of(const void *p)
{
	return (uintptr_t) p & ~(uintptr_t) (BIGALLOC_PAGE - 1);
}

TEST(bigalloc_blocks_share_a_huge_page)
{
	unsigned char *a;
	unsigned char *b;
	unsigned char *c;
	unsigned char *d;
	const size_t curl_buffer = 512 * 1024;	/* curl's receive buffer is one more */

	bigalloc_enable(true);
	REQUIRE(in_use_now() == 0);
	/* 600,000 bytes take 5 granules; curl's 512 KiB + 1 too */
	a = bigalloc_malloc(600000);
	b = bigalloc_malloc(600000);
	c = bigalloc_malloc(curl_buffer + 1);
	REQUIRE(a != NULL && b != NULL && c != NULL);
	CHECK(bigalloc_owns(a) && bigalloc_owns(b) && bigalloc_owns(c));
	CHECK(page_of(b) == page_of(a));
	CHECK(page_of(c) == page_of(a));
	CHECK_INT_EQ(in_use_now(), 15 * BIGALLOC_GRANULE);
	/* apart: each is written whole and keeps its bytes */
	fill(a, 600000, 6);
	fill(b, 600000, 7);
	fill(c, curl_buffer + 1, 8);
	CHECK(follows(a, 600000, 6));
	CHECK(follows(b, 600000, 7));
	CHECK(follows(c, curl_buffer + 1, 8));
	CHECK((b >= a + 600000 || b + 600000 <= a) && (c >= b + 600000 || c + curl_buffer + 1 <= b));
	/* the page has one granule left: a fourth block of two goes elsewhere */
	d = bigalloc_malloc(2 * BIGALLOC_GRANULE);
	REQUIRE(d != NULL);
	CHECK(bigalloc_owns(d));
	CHECK(page_of(d) != page_of(a));
	bigalloc_free(d);
	/* b's granules go back to the page, and the next that fits takes them */
	bigalloc_free(b);
	CHECK(!bigalloc_owns(b));
	d = bigalloc_malloc(5 * BIGALLOC_GRANULE);
	CHECK(d == b);
	CHECK(follows(a, 600000, 6));
	CHECK(follows(c, curl_buffer + 1, 8));
	bigalloc_free(a);
	bigalloc_free(c);
	bigalloc_free(d);
	CHECK_INT_EQ(in_use_now(), 0);
}

/*
 * A block takes the shortest free run that holds it, of the pages partly
 * taken: a reader's 512 KiB receive buffer and the megabyte GetRecords page
 * after it fit in two pages, where first fit took a third.
 */
TEST(bigalloc_a_block_takes_the_shortest_free_run_that_holds_it)
{
	const size_t g = BIGALLOC_GRANULE;
	unsigned char *x;
	unsigned char *y;
	unsigned char *z;
	unsigned char *recv;
	unsigned char *page;
	unsigned char *small;

	bigalloc_enable(true);
	REQUIRE(in_use_now() == 0);
	/* one page with 9 granules free at its end, another with 8 */
	x = bigalloc_malloc(7 * g);
	y = bigalloc_malloc(9 * g);
	z = bigalloc_malloc(8 * g);
	REQUIRE(x != NULL && y != NULL && z != NULL);
	REQUIRE(page_of(y) == page_of(x) && y == x + 7 * g);
	REQUIRE(page_of(z) != page_of(x));
	bigalloc_free(y);
	/* 5 granules: into the run of 8, not the first run that holds them */
	recv = bigalloc_malloc(4 * g + 1);
	REQUIRE(recv != NULL);
	CHECK(page_of(recv) == page_of(z));
	CHECK(recv == z + 8 * g);
	/* so 9 still fit in the first page, and no third is taken */
	page = bigalloc_malloc(9 * g - 100);
	REQUIRE(page != NULL);
	CHECK(page == y);
	CHECK_INT_EQ(in_use_now(), 29 * g);
	/* within a page too: the run of 3 after recv, not the 8 that z leaves */
	bigalloc_free(z);
	small = bigalloc_malloc(3 * g);
	REQUIRE(small != NULL);
	CHECK(small == recv + 5 * g);
	/* and a block as long as the longest run takes it */
	z = bigalloc_malloc(8 * g);
	CHECK(z != NULL && page_of(z) == page_of(recv) && z + 8 * g == recv);
	bigalloc_free(x);
	bigalloc_free(recv);
	bigalloc_free(page);
	bigalloc_free(small);
	bigalloc_free(z);
	CHECK_INT_EQ(in_use_now(), 0);
}

TEST(bigalloc_realloc_grows_within_a_page_while_the_granules_after_are_free)
{
	unsigned char *a;
	unsigned char *b;
	unsigned char *p;

	bigalloc_enable(true);
	REQUIRE(in_use_now() == 0);
	a = bigalloc_malloc(BIGALLOC_MIN);
	REQUIRE(a != NULL && bigalloc_owns(a));
	fill(a, BIGALLOC_MIN, 9);
	/* the next granules are free: in place */
	p = bigalloc_realloc(a, 2 * BIGALLOC_MIN);
	CHECK(p == a);
	CHECK(follows(p, BIGALLOC_MIN, 9));
	fill(p, 2 * BIGALLOC_MIN, 10);
	/* b takes the granules after it: growing again moves it */
	b = bigalloc_malloc(BIGALLOC_MIN);
	REQUIRE(b != NULL && bigalloc_owns(b));
	CHECK(b == a + 2 * BIGALLOC_MIN);
	fill(b, BIGALLOC_MIN, 11);
	p = bigalloc_realloc(a, 3 * BIGALLOC_MIN);
	REQUIRE(p != NULL);
	CHECK(p != a);
	CHECK(bigalloc_owns(p));
	CHECK(follows(p, 2 * BIGALLOC_MIN, 10));
	CHECK(follows(b, BIGALLOC_MIN, 11));
	CHECK_INT_EQ(in_use_now(), 4 * BIGALLOC_MIN);
	bigalloc_free(p);
	bigalloc_free(b);
	CHECK_INT_EQ(in_use_now(), 0);
}

TEST(bigalloc_realloc_keeps_the_bytes_between_malloc_and_blocks)
{
	unsigned char *p;
	unsigned char *q;

	bigalloc_enable(true);
	/* from malloc into a block */
	p = bigalloc_malloc(1000);
	REQUIRE(p != NULL);
	REQUIRE(!bigalloc_owns(p));
	fill(p, 1000, 3);
	q = bigalloc_realloc(p, BIGALLOC_MIN + 100);
	REQUIRE(q != NULL);
	REQUIRE(bigalloc_owns(q));
	CHECK(follows(q, 1000, 3));

	/* within the block's pages: in place */
	fill(q, BIGALLOC_MIN + 100, 4);
	p = bigalloc_realloc(q, BIGALLOC_PAGE);
	CHECK(p == q);
	CHECK(follows(p, BIGALLOC_MIN + 100, 4));
	fill(p, BIGALLOC_PAGE, 5);

	/* beyond them: a larger block, the bytes copied, the old one kept */
	q = bigalloc_realloc(p, BIGALLOC_PAGE + 1);
	REQUIRE(q != NULL);
	CHECK(q != p);
	CHECK(bigalloc_owns(q));
	CHECK(!bigalloc_owns(p));
	CHECK(follows(q, BIGALLOC_PAGE, 5));
	CHECK_INT_EQ(in_use_now(), 2 * BIGALLOC_PAGE);

	/* smaller again: in place */
	p = bigalloc_realloc(q, 10);
	CHECK(p == q);
	CHECK(follows(p, 10, 5));
	bigalloc_free(p);

	/* realloc(NULL) allocates */
	p = bigalloc_realloc(NULL, BIGALLOC_MIN);
	REQUIRE(p != NULL);
	CHECK(bigalloc_owns(p));
	bigalloc_free(p);
	CHECK_INT_EQ(in_use_now(), 0);
}

TEST(bigalloc_keeps_at_most_its_bound)
{
	void	   *blocks[10];

	bigalloc_enable(true);
	for (int i = 0; i < 10; i++)
	{
		blocks[i] = bigalloc_malloc(2 * BIGALLOC_PAGE);
		REQUIRE(blocks[i] != NULL);
		CHECK(bigalloc_owns(blocks[i]));
		memset(blocks[i], i, 2 * BIGALLOC_PAGE);
	}
	CHECK_INT_EQ(in_use_now(), 10 * 2 * BIGALLOC_PAGE);
	for (int i = 0; i < 10; i++)
		bigalloc_free(blocks[i]);
	CHECK_INT_EQ(in_use_now(), 0);
	CHECK(kept_now() <= BIGALLOC_KEEP);
	CHECK(kept_now() >= BIGALLOC_KEEP - 2 * BIGALLOC_PAGE);
}

TEST(bigalloc_calloc_zeroes_a_reused_block)
{
	unsigned char *p;
	unsigned char *q;
	bool		zero = true;

	bigalloc_enable(true);
	p = bigalloc_malloc(BIGALLOC_PAGE);
	REQUIRE(p != NULL);
	memset(p, 0xab, BIGALLOC_PAGE);
	bigalloc_free(p);
	q = bigalloc_calloc(BIGALLOC_MIN / 8, 8);
	REQUIRE(q != NULL);
	CHECK(bigalloc_owns(q));
	for (size_t i = 0; i < BIGALLOC_MIN; i++)
		zero = zero && q[i] == 0;
	CHECK(zero);
	bigalloc_free(q);
	/* a product that overflows is refused */
	CHECK(bigalloc_calloc(SIZE_MAX / 2, 4) == NULL);
	/* a small one is calloc's */
	q = bigalloc_calloc(10, 10);
	REQUIRE(q != NULL);
	CHECK(!bigalloc_owns(q));
	CHECK(q[0] == 0 && q[99] == 0);
	bigalloc_free(q);
}

/*
 * "[madvise]" or "[always]" in the kernel's setting, and not disabled for
 * this process (prctl PR_SET_THP_DISABLE, as some service managers do)
 */
static bool
huge_pages_on(void)
{
	char		line[256] = "";
	FILE	   *f;

	if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) != 0)
		return false;
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f == NULL)
		return false;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	return strstr(line, "[never]") == NULL && line[0] != '\0';
}

/*
 * AnonHugePages (kB) of the mapping that holds p, from /proc/self/smaps (the
 * kernel merges the block with its neighbours when they are blocks too).
 */
static long
anon_huge_kb(const void *p)
{
	char		line[512];
	long		kb = -1;
	bool		in = false;
	FILE	   *f = fopen("/proc/self/smaps", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
	{
		unsigned long start;
		unsigned long end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start <= (uintptr_t) p && (uintptr_t) p < end;
		else if (in && strncmp(line, "AnonHugePages:", 14) == 0)
		{
			kb = atol(line + 14);
			break;
		}
	}
	fclose(f);
	return kb;
}

TEST(bigalloc_blocks_are_huge_pages_where_the_kernel_gives_them)
{
	unsigned char *p;
	long		kb;

	/* valgrind places and tracks mappings itself */
	if (!huge_pages_on() || RUNNING_ON_VALGRIND)
		return;
	bigalloc_enable(true);
	p = bigalloc_malloc(2 * BIGALLOC_PAGE);
	REQUIRE(p != NULL);
	REQUIRE(bigalloc_owns(p));
	memset(p, 1, 2 * BIGALLOC_PAGE);
	kb = anon_huge_kb(p);
	/* the kernel may be out of free huge pages: at least one of the two */
	if (kb < (long) (BIGALLOC_PAGE / 1024))
		test_fail(__FILE__, __LINE__, "AnonHugePages of the block: %ld kB", kb);
	bigalloc_free(p);
}
