/*-------------------------------------------------------------------------
 *
 * base64.c
 *		Base64 encoding of Firehose record data (RFC 4648 section 4: the
 *		standard alphabet, '=' padding, no line breaks), as PutRecordBatch
 *		takes its blobs.
 *
 * A batch of 4 MiB is encoded on every PutRecordBatch, so this is on the
 * pump's hot path: three bytes at a time, as two 12-bit halves looked up
 * in a table of character pairs (8 KiB, built on first use).  Pure C, with
 * no backend calls, so that the unit tests check it against RFC 4648's
 * vectors and a byte-at-a-time encoder.
 *
 *-------------------------------------------------------------------------
 */
#include "aws/base64.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* the two characters of each 12-bit value */
static char pairs[4096][2];
static bool pairs_built = false;

static void
build_pairs(void)
{
	for (int i = 0; i < 4096; i++)
	{
		pairs[i][0] = alphabet[i >> 6];
		pairs[i][1] = alphabet[i & 0x3f];
	}
	pairs_built = true;
}

/*
 * Writes the base64 of len bytes at src to dst (AWS_BASE64_LEN(len) bytes,
 * not NUL-terminated) and returns its length.
 */
size_t
aws_base64_encode(const unsigned char *src, size_t len, char *dst)
{
	char	   *w = dst;

	if (!pairs_built)
		build_pairs();
	while (len >= 3)
	{
		uint32_t	v = ((uint32_t) src[0] << 16) | ((uint32_t) src[1] << 8) | src[2];

		memcpy(w, pairs[v >> 12], 2);
		memcpy(w + 2, pairs[v & 0xfff], 2);
		w += 4;
		src += 3;
		len -= 3;
	}
	if (len > 0)
	{
		uint32_t	v = (uint32_t) src[0] << 16;

		if (len == 2)
			v |= (uint32_t) src[1] << 8;
		*w++ = alphabet[v >> 18];
		*w++ = alphabet[(v >> 12) & 0x3f];
		*w++ = len == 2 ? alphabet[(v >> 6) & 0x3f] : '=';
		*w++ = '=';
	}
	return (size_t) (w - dst);
}
