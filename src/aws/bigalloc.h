/*-------------------------------------------------------------------------
 *
 * bigalloc.h
 *		malloc, realloc, calloc and free for the large buffers of the HTTP
 *		client and the pump: in a process that called bigalloc_enable(), a
 *		block of BIGALLOC_MIN bytes or more is taken from 2 MiB pages
 *		(transparent huge pages where the kernel allows them): a run of
 *		BIGALLOC_GRANULE pieces in a page shared with other blocks, or
 *		whole pages of its own beyond BIGALLOC_PAGE; freed, it is kept for
 *		the next such request.  Smaller requests, other processes and every
 *		platform but Linux get malloc's memory.
 *
 * Any pointer from malloc may be given to bigalloc_realloc and
 * bigalloc_free, and any pointer from these functions to them alone.
 * Pure C and thread-safe: curl allocates through them (curl_global_init_mem),
 * its resolver threads too.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_BIGALLOC_H
#define AUDIT_FDW_BIGALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* the smallest request given huge pages */
#define BIGALLOC_MIN ((size_t) 128 * 1024)
/* the page: blocks are taken from pages of this many bytes, so aligned */
#define BIGALLOC_PAGE ((size_t) 2 * 1024 * 1024)
/* a block of up to a page is so many of these, and so aligned */
#define BIGALLOC_GRANULE ((size_t) 128 * 1024)
/* freed blocks kept for the next request, at most this many bytes in all */
#define BIGALLOC_KEEP ((size_t) 16 * 1024 * 1024)

/* from now on, large requests of this process get blocks (or, with false,
 * malloc's memory again; blocks made before stay blocks until freed) */
extern void bigalloc_enable(bool on);

extern void *bigalloc_malloc(size_t size);
extern void *bigalloc_calloc(size_t nmemb, size_t size);
extern void *bigalloc_realloc(void *ptr, size_t size);
extern void bigalloc_free(void *ptr);

/* whether ptr is a block of these functions (not malloc's), for tests */
extern bool bigalloc_owns(const void *ptr);
/* bytes in blocks now: in use, and freed and kept; for tests */
extern void bigalloc_stats(size_t *in_use, size_t *kept);

#endif							/* AUDIT_FDW_BIGALLOC_H */
