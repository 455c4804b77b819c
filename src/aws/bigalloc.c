/*-------------------------------------------------------------------------
 *
 * bigalloc.c
 *		Large buffers in huge pages, kept when freed.
 *
 * A reader worker's buffers (curl's upload and receive buffers, the
 * GetRecords pages received, the records transformed) come to several
 * megabytes, used for the worker's whole life.  From malloc they are first touched 4 KiB at a time, one page
 * fault each: about 1,100 faults in a reader's run of 6,000 records, which
 * cost 1 to 5 us each on bare metal and 10 to 13 us under a hypervisor that
 * shadows the page tables.  A block made here is mapped on its own, aligned
 * to 2 MiB and marked MADV_HUGEPAGE, so that with transparent huge pages
 * enabled ("always" or "madvise") each 2 MiB is one fault.  With them
 * disabled the block is ordinary memory and nothing is lost.
 *
 * curl frees its upload buffer and allocates it again on every call (its
 * size is set after curl_easy_reset), so a freed block is kept, up to
 * BIGALLOC_KEEP bytes in all, and handed to the next request it fits: a
 * reader's blocks are faulted in once in its life.
 *
 * Only the pump's workers enable it (bigalloc_enable).  A backend's buffers
 * are mostly small, and a huge page is 2 MiB of memory however little of it
 * is used: there every request goes to malloc.
 *
 * Blocks are listed in a small table under a mutex (curl's resolver
 * threads allocate through these functions too).  Every block starts on a
 * 2 MiB boundary, which no malloc'd pointer of the sizes that go to malloc
 * is likely to, so freeing an ordinary pointer tests its alignment and
 * takes no lock.  When the table is full, or a mapping fails, a request
 * goes to malloc.
 *
 * Under AddressSanitizer the unrequested tail of a block, and a kept block
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

/* live and kept blocks at once; a reader uses five or six */
#define BIGALLOC_SLOTS 32

typedef struct Block
{
	char	   *base;			/* BIGALLOC_PAGE-aligned */
	size_t		map_size;		/* a multiple of BIGALLOC_PAGE */
	size_t		size;			/* requested; 0 while kept */
	bool		live;
} Block;

static bool enabled = false;
static Block blocks[BIGALLOC_SLOTS];
static int	nblocks = 0;
static size_t kept_bytes = 0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static inline bool
aligned(const void *p)
{
	return ((uintptr_t) p & (BIGALLOC_PAGE - 1)) == 0;
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
	return p;
}

/* A block for size bytes (>= BIGALLOC_MIN), or NULL to use malloc. */
static void *
block_alloc(size_t size)
{
	size_t		map_size;
	Block	   *best = NULL;
	char	   *p;

	if (size > SIZE_MAX - 2 * BIGALLOC_PAGE)
		return NULL;
	map_size = (size + BIGALLOC_PAGE - 1) & ~(BIGALLOC_PAGE - 1);

	pthread_mutex_lock(&lock);
	/* the smallest kept block it fits */
	for (int i = 0; i < nblocks; i++)
		if (!blocks[i].live && blocks[i].map_size >= map_size &&
			(best == NULL || blocks[i].map_size < best->map_size))
			best = &blocks[i];
	if (best != NULL)
	{
		best->live = true;
		best->size = size;
		kept_bytes -= best->map_size;
		unpoison(best->base, size);
		pthread_mutex_unlock(&lock);
		return best->base;
	}
	if (nblocks == BIGALLOC_SLOTS || (p = map_aligned(map_size)) == NULL)
	{
		pthread_mutex_unlock(&lock);
		return NULL;
	}
	blocks[nblocks].base = p;
	blocks[nblocks].map_size = map_size;
	blocks[nblocks].size = size;
	blocks[nblocks].live = true;
	nblocks++;
	poison(p + size, map_size - size);
	pthread_mutex_unlock(&lock);
	return p;
}

/* Gives b back (lock held): kept while they fit in BIGALLOC_KEEP. */
static void
block_release(Block *b)
{
	if (kept_bytes + b->map_size <= BIGALLOC_KEEP)
	{
		b->live = false;
		b->size = 0;
		kept_bytes += b->map_size;
		poison(b->base, b->map_size);
		return;
	}
	unpoison(b->base, b->map_size);
	munmap(b->base, b->map_size);
	*b = blocks[--nblocks];
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
	if (aligned(ptr))
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
	if (aligned(ptr))
	{
		pthread_mutex_lock(&lock);
		if ((b = find_block(ptr)) != NULL && b->live)
		{
			if (size <= b->map_size)
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

	if (ptr == NULL || !aligned(ptr))
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
			used += blocks[i].map_size;
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
