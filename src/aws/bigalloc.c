/*-------------------------------------------------------------------------
 *
 * bigalloc.c
 *		Large buffers in huge pages, kept when freed.
 *
 * A reader worker's buffers (curl's upload and receive buffers, the
 * GetRecords pages received, the records transformed) come to several
 * megabytes, used for the worker's whole life.  From malloc they are first
 * touched 4 KiB at a time, one page fault each: about 1,100 faults in a
 * reader's run of 6,000 records, which cost 1 to 5 us each on bare metal
 * and 10 to 13 us under a hypervisor that shadows the page tables.  Here
 * they are taken from pages of 2 MiB, each mapped on its own, aligned and
 * marked MADV_HUGEPAGE, so that with transparent huge pages enabled
 * ("always" or "madvise") each 2 MiB is one fault.  With them disabled the
 * pages are ordinary memory and nothing is lost.
 *
 * A huge page's first touch has the kernel zero all of it: 0.1 to 0.3 ms
 * where the memory is at hand, and 3 to 5 ms under a hypervisor that has
 * taken the guest's free memory back (free page reporting).  So a request
 * of up to 2 MiB is a run of 128 KiB granules in a page that others share,
 * and a reader's buffers of 128 KiB to 2 MiB (curl's, the GetRecords page,
 * the records transformed, PutRecordBatch's body) fill two huge pages
 * (test/e2e/test_pump_memory.py).
 * A buffer that grows by doubling is a block from its first 128 KiB on
 * (BIGALLOC_MIN, one granule), grown in place while the granules after it
 * are free, rather than malloc's 4 KiB pages, faulted in one at a time and
 * given back when it moves.  A larger request is a mapping of its own, of
 * whole huge pages.
 *
 * curl frees its upload buffer and allocates it again on every call (its
 * size is set after curl_easy_reset), so freed memory is kept, up to
 * BIGALLOC_KEEP bytes of wholly free pages and mappings, and handed to the
 * next request it fits: a reader's pages are faulted in once in its life.
 *
 * Only the pump's workers enable it (bigalloc_enable).  A backend's buffers
 * are mostly small, and a huge page is 2 MiB of memory however little of it
 * is used: there every request goes to malloc.
 *
 * Pages and blocks are listed in small tables under a mutex (curl's
 * resolver threads allocate through these functions too).  Every block
 * starts on a 128 KiB boundary, which no malloc'd pointer of the sizes that
 * go to malloc is likely to, so freeing an ordinary pointer tests its
 * alignment and takes no lock.  When a table is full, or a mapping fails,
 * a request goes to malloc.
 *
 * Under AddressSanitizer the unrequested tail of a block, and free memory
 * whole, are poisoned, so an overrun is reported as it would be for malloc.
 *
 *-------------------------------------------------------------------------
 */
#include "aws/bigalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <malloc.h>
#include <pthread.h>
#include <sys/mman.h>
#endif

#if defined(__linux__) && defined(MADV_HUGEPAGE)
#define BIGALLOC_MAPS 1
#endif

#if defined(__SANITIZE_ADDRESS__)
#define BIGALLOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BIGALLOC_ASAN 1
#endif
#endif

#ifdef BIGALLOC_ASAN
#include <sanitizer/asan_interface.h>
#define poison(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define poison(p, n) ((void) 0)
#define unpoison(p, n) ((void) 0)
#endif

#ifdef BIGALLOC_MAPS

/* a block of up to BIGALLOC_PAGE is a run of BIGALLOC_GRANULE in a page */
#define GRANULE BIGALLOC_GRANULE
#define GRANULES ((int) (BIGALLOC_PAGE / GRANULE))

/* pages shared by runs, and blocks (live, or kept mappings) at once */
#define BIGALLOC_SLOTS 32

/* A 2 MiB page whose granules runs take. */
typedef struct Page
{
	char	   *base;			/* BIGALLOC_PAGE-aligned */
	uint32_t	used;			/* a bit a granule taken */
} Page;

/*
 * A block: a run of granules in a page (shared), or a mapping of its own,
 * live or kept.
 */
typedef struct Block
{
	char	   *base;			/* GRANULE-aligned */
	size_t		len;			/* its granules, or its mapping */
	size_t		size;			/* requested; 0 while kept */
	bool		shared;
	bool		live;
} Block;

static bool enabled = false;
static Page pages[BIGALLOC_SLOTS];
static int	npages = 0;
static Block blocks[BIGALLOC_SLOTS];
static int	nblocks = 0;
static size_t kept_bytes = 0;	/* kept mappings and wholly free pages */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static inline bool
granule_aligned(const void *p)
{
	return ((uintptr_t) p & (GRANULE - 1)) == 0;
}

/* the block at p; lock held */
static Block *
find_block(const void *p)
{
	for (int i = 0; i < nblocks; i++)
		if (blocks[i].base == p)
			return &blocks[i];
	return NULL;
}

/* the page that holds p; lock held */
static Page *
page_of(const char *p)
{
	const char *base = (const char *) ((uintptr_t) p & ~(uintptr_t) (BIGALLOC_PAGE - 1));

	for (int i = 0; i < npages; i++)
		if (pages[i].base == base)
			return &pages[i];
	return NULL;
}

/* the bits of n granules from the g-th */
static inline uint32_t
granule_bits(int g, int n)
{
	return (uint32_t) (((UINT64_C(1) << n) - 1) << g);
}

/*
 * The first granule of the shortest run of free granules in used that
 * holds n, or -1; *run_len is that run's length.
 */
static int
best_run(uint32_t used, int n, int *run_len)
{
	int			best = -1;

	*run_len = GRANULES + 1;
	for (int g = 0; g < GRANULES;)
	{
		int			len = 0;

		while (g + len < GRANULES && (used & granule_bits(g + len, 1)) == 0)
			len++;
		if (len >= n && len < *run_len)
		{
			best = g;
			*run_len = len;
		}
		g += len + 1;
	}
	return best;
}

/* A new mapping of map_size bytes on a BIGALLOC_PAGE boundary, or NULL. */
static char *
map_aligned(size_t map_size)
{
	size_t		len = map_size + BIGALLOC_PAGE;
	char	   *raw;
	char	   *p;
	size_t		head;

	raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	p = (char *) (((uintptr_t) raw + BIGALLOC_PAGE - 1) & ~(uintptr_t) (BIGALLOC_PAGE - 1));
	head = (size_t) (p - raw);
	if (head > 0)
		munmap(raw, head);
	if (len - head > map_size)
		munmap(p + map_size, len - head - map_size);
	/* a hint: refused where huge pages are disabled, and then 4 KiB pages */
	(void) madvise(p, map_size, MADV_HUGEPAGE);
	poison(p, map_size);
	return p;
}

/* A new live block entry (lock held; a slot is free). */
static void *
new_block(char *base, size_t len, size_t size, bool shared)
{
	Block	   *b = &blocks[nblocks++];

	b->base = base;
	b->len = len;
	b->size = size;
	b->shared = shared;
	b->live = true;
	unpoison(base, size);
	return base;
}

/*
 * A run of granules for size bytes (<= BIGALLOC_PAGE; lock held), or NULL:
 * in a page partly taken if one has room, so that a reader's buffers share
 * as few huge pages as they fit in, else in a wholly free page, else in a
 * new one.  Of the free runs of the pages partly taken, the shortest that
 * holds it: first fit put curl's 512 KiB receive buffer at the front of a
 * page's free granules, and the GetRecords page of a megabyte that came
 * next found no 9 granules in a row left in either of a reader's two pages,
 * and took a third.
 */
static void *
run_alloc(size_t size)
{
	int			n = (int) ((size + GRANULE - 1) / GRANULE);
	Page	   *pg = NULL;
	int			g = -1;
	char	   *base;

	if (nblocks == BIGALLOC_SLOTS)
		return NULL;
	/* best fit: the buffers that come and go leave the longest runs */
	for (int i = 0, shortest = GRANULES + 1; i < npages; i++)
	{
		int			len;
		int			at = pages[i].used != 0 ? best_run(pages[i].used, n, &len) : -1;

		if (at >= 0 && len < shortest)
		{
			pg = &pages[i];
			g = at;
			shortest = len;
		}
	}
	for (int i = 0; i < npages && pg == NULL; i++)
		if (pages[i].used == 0)
		{
			pg = &pages[i];
			g = 0;
			kept_bytes -= BIGALLOC_PAGE;
		}
	if (pg == NULL)
	{
		if (npages == BIGALLOC_SLOTS || (base = map_aligned(BIGALLOC_PAGE)) == NULL)
			return NULL;
		pg = &pages[npages++];
		pg->base = base;
		pg->used = 0;
		g = 0;
	}
	pg->used |= granule_bits(g, n);
	return new_block(pg->base + g * GRANULE, n * GRANULE, size, true);
}

/* A mapping of its own for size bytes (> BIGALLOC_PAGE; lock held), or NULL. */
static void *
mapping_alloc(size_t size)
{
	size_t		map_size = (size + BIGALLOC_PAGE - 1) & ~(BIGALLOC_PAGE - 1);
	Block	   *best = NULL;
	char	   *p;

	/* the smallest kept mapping it fits */
	for (int i = 0; i < nblocks; i++)
		if (!blocks[i].live && blocks[i].len >= map_size &&
			(best == NULL || blocks[i].len < best->len))
			best = &blocks[i];
	if (best != NULL)
	{
		best->live = true;
		best->size = size;
		kept_bytes -= best->len;
		unpoison(best->base, size);
		return best->base;
	}
	if (nblocks == BIGALLOC_SLOTS || (p = map_aligned(map_size)) == NULL)
		return NULL;
	return new_block(p, map_size, size, false);
}

/* A block for size bytes (>= BIGALLOC_MIN), or NULL to use malloc. */
static void *
block_alloc(size_t size)
{
	void	   *p;

	if (size > SIZE_MAX - 2 * BIGALLOC_PAGE)
		return NULL;
	pthread_mutex_lock(&lock);
	p = size <= BIGALLOC_PAGE ? run_alloc(size) : mapping_alloc(size);
	pthread_mutex_unlock(&lock);
	return p;
}

/*
 * Gives b back (lock held).  A run's granules go back to its page; a page
 * wholly free, and a mapping, are kept while they fit in BIGALLOC_KEEP.
 */
static void
block_release(Block *b)
{
	poison(b->base, b->len);
	if (b->shared)
	{
		Page	   *pg = page_of(b->base);

		pg->used &= ~granule_bits((int) ((b->base - pg->base) / GRANULE), (int) (b->len / GRANULE));
		if (pg->used == 0)
		{
			if (kept_bytes + BIGALLOC_PAGE <= BIGALLOC_KEEP)
				kept_bytes += BIGALLOC_PAGE;
			else
			{
				unpoison(pg->base, BIGALLOC_PAGE);
				munmap(pg->base, BIGALLOC_PAGE);
				*pg = pages[--npages];
			}
		}
		*b = blocks[--nblocks];
		return;
	}
	if (kept_bytes + b->len <= BIGALLOC_KEEP)
	{
		b->live = false;
		b->size = 0;
		kept_bytes += b->len;
		return;
	}
	unpoison(b->base, b->len);
	munmap(b->base, b->len);
	*b = blocks[--nblocks];
}

/*
 * Grows a run in place to size bytes (<= BIGALLOC_PAGE; lock held) when
 * the granules after it are free.
 */
static bool
run_grow(Block *b, size_t size)
{
	Page	   *pg = page_of(b->base);
	int			g = (int) ((b->base - pg->base) / GRANULE);
	int			have = (int) (b->len / GRANULE);
	int			n = (int) ((size + GRANULE - 1) / GRANULE);

	if (g + n > GRANULES || (pg->used & granule_bits(g + have, n - have)) != 0)
		return false;
	pg->used |= granule_bits(g + have, n - have);
	b->len = n * GRANULE;
	return true;
}

void
bigalloc_enable(bool on)
{
	enabled = on;
}

void *
bigalloc_malloc(size_t size)
{
	void	   *p;

	if (enabled && size >= BIGALLOC_MIN && (p = block_alloc(size)) != NULL)
		return p;
	return malloc(size);
}

void *
bigalloc_calloc(size_t nmemb, size_t size)
{
	void	   *p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		return NULL;
	if (nmemb * size < BIGALLOC_MIN)
		return calloc(nmemb, size);
	p = bigalloc_malloc(nmemb * size);
	if (p != NULL)
		memset(p, 0, nmemb * size);
	return p;
}

void
bigalloc_free(void *ptr)
{
	Block	   *b;

	if (ptr == NULL)
		return;
	if (granule_aligned(ptr))
	{
		pthread_mutex_lock(&lock);
		if ((b = find_block(ptr)) != NULL && b->live)
		{
			block_release(b);
			pthread_mutex_unlock(&lock);
			return;
		}
		pthread_mutex_unlock(&lock);
	}
	free(ptr);
}

void *
bigalloc_realloc(void *ptr, size_t size)
{
	Block	   *b;
	size_t		old_size;
	void	   *p;

	if (ptr == NULL)
		return bigalloc_malloc(size);
	if (granule_aligned(ptr))
	{
		pthread_mutex_lock(&lock);
		if ((b = find_block(ptr)) != NULL && b->live)
		{
			if (size <= b->len || (b->shared && size <= BIGALLOC_PAGE && run_grow(b, size)))
			{
				/* in place, larger or smaller */
				if (size > b->size)
					unpoison(b->base + b->size, size - b->size);
				else
					poison(b->base + size, b->size - size);
				b->size = size;
				pthread_mutex_unlock(&lock);
				return ptr;
			}
			old_size = b->size;
			pthread_mutex_unlock(&lock);
			/* only this thread frees or grows its block: it stays put */
			if ((p = bigalloc_malloc(size)) == NULL)
				return NULL;
			memcpy(p, ptr, old_size);
			bigalloc_free(ptr);
			return p;
		}
		pthread_mutex_unlock(&lock);
	}
	if (!enabled || size < BIGALLOC_MIN || (p = block_alloc(size)) == NULL)
		return realloc(ptr, size);
	/* from malloc into a block */
	old_size = malloc_usable_size(ptr);
	memcpy(p, ptr, old_size < size ? old_size : size);
	free(ptr);
	return p;
}

bool
bigalloc_owns(const void *ptr)
{
	bool		owns;
	Block	   *b;

	if (ptr == NULL || !granule_aligned(ptr))
		return false;
	pthread_mutex_lock(&lock);
	b = find_block(ptr);
	owns = b != NULL && b->live;
	pthread_mutex_unlock(&lock);
	return owns;
}

void
bigalloc_stats(size_t *in_use, size_t *kept)
{
	size_t		used = 0;

	pthread_mutex_lock(&lock);
	for (int i = 0; i < nblocks; i++)
		if (blocks[i].live)
			used += blocks[i].len;
	*in_use = used;
	*kept = kept_bytes;
	pthread_mutex_unlock(&lock);
}

#else							/* !BIGALLOC_MAPS: malloc for everything */

void
bigalloc_enable(bool on)
{
}

void *
bigalloc_malloc(size_t size)
{
	return malloc(size);
}

void *
bigalloc_calloc(size_t nmemb, size_t size)
{
	return calloc(nmemb, size);
}

void
bigalloc_free(void *ptr)
{
	free(ptr);
}

void *
bigalloc_realloc(void *ptr, size_t size)
{
	return realloc(ptr, size);
}

bool
bigalloc_owns(const void *ptr)
{
	return false;
}

void
bigalloc_stats(size_t *in_use, size_t *kept)
{
	*in_use = 0;
	*kept = 0;
}

#endif							/* BIGALLOC_MAPS */
