/*-------------------------------------------------------------------------
 *
 * base64.c
 *		Base64 encoding of Firehose record data (RFC 4648 section 4: the
 *		standard alphabet, '=' padding, no line breaks), as PutRecordBatch
 *		takes its blobs.
 *
 * A batch of 4 MiB is encoded on every PutRecordBatch, so this is on the
 * pump's hot path.  Where the CPU has AVX2 (checked once, at run time),
 * 24 bytes at a time become 32 characters in vector registers, after
 * Wojciech Muła and Daniel Lemire, "Faster Base64 Encoding and Decoding
 * using AVX2 Instructions" (ACM TOW 2018): a byte shuffle puts each 3-byte
 * group into a 32-bit lane, two multiplies move its four 6-bit values into
 * four bytes, and a 16-entry table lookup adds the offset of each value's
 * range of the alphabet.  Elsewhere, and for what is left over, three bytes
 * at a time, as two 12-bit halves looked up in a table of character pairs
 * (8 KiB, built on first use).  Pure C, with no backend calls, so that the
 * unit tests check both ways against RFC 4648's vectors and a
 * byte-at-a-time encoder.
 *
 *-------------------------------------------------------------------------
 */
#include "aws/base64.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BASE64_AVX2
#include <immintrin.h>
#endif

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

/* The portable encoder (see aws_base64_encode). */
size_t
aws_base64_encode_portable(const unsigned char *src, size_t len, char *dst)
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

#ifdef BASE64_AVX2

/*
 * 24 bytes at a time while 32 can be loaded (each half of a register is
 * loaded 16 bytes wide and uses 12), the rest by the portable encoder.
 */
__attribute__((target("avx2")))
static size_t
encode_avx2(const unsigned char *src, size_t len, char *dst)
{
	/* in each 32-bit lane, the bytes of a group (a, b, c) as b, a, c, b */
	const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4,
											7, 6, 8, 7, 10, 9, 11, 10,
											1, 0, 2, 1, 4, 3, 5, 4,
											7, 6, 8, 7, 10, 9, 11, 10);
	/* the offset to add to a 6-bit value, by the range it falls in */
	const __m256i offsets = _mm256_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52,
											 '0' - 52, '0' - 52, '0' - 52, '0' - 52,
											 '0' - 52, '0' - 52, '0' - 52, '+' - 62,
											 '/' - 63, 'A', 0, 0,
											 'a' - 26, '0' - 52, '0' - 52, '0' - 52,
											 '0' - 52, '0' - 52, '0' - 52, '0' - 52,
											 '0' - 52, '0' - 52, '0' - 52, '+' - 62,
											 '/' - 63, 'A', 0, 0);
	char	   *w = dst;

	while (len >= 32)
	{
		__m256i		in = _mm256_inserti128_si256(
			_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *) src)),
			_mm_loadu_si128((const __m128i *) (src + 12)), 1);
		__m256i		t0,
					t1,
					t2,
					t3,
					values,
					range;

		in = _mm256_shuffle_epi8(in, spread);
		/* the 1st and 3rd 6-bit values, moved down to bytes 0 and 2 */
		t0 = _mm256_and_si256(in, _mm256_set1_epi32(0x0fc0fc00));
		t1 = _mm256_mulhi_epu16(t0, _mm256_set1_epi32(0x04000040));
		/* the 2nd and 4th, moved up to bytes 1 and 3 */
		t2 = _mm256_and_si256(in, _mm256_set1_epi32(0x003f03f0));
		t3 = _mm256_mullo_epi16(t2, _mm256_set1_epi32(0x01000010));
		values = _mm256_or_si256(t1, t3);

		/*
		 * The range: 0 for A-Z (values 0..25), 1 for a-z, 2..11 for the
		 * digits, 12 for '+', 13 for '/'; then the offset of that range.
		 */
		range = _mm256_subs_epu8(values, _mm256_set1_epi8(51));
		range = _mm256_or_si256(range,
								_mm256_and_si256(_mm256_cmpgt_epi8(_mm256_set1_epi8(26), values),
												 _mm256_set1_epi8(13)));
		_mm256_storeu_si256((__m256i *) w,
							_mm256_add_epi8(values, _mm256_shuffle_epi8(offsets, range)));
		src += 24;
		len -= 24;
		w += 32;
	}
	return (size_t) (w - dst) + aws_base64_encode_portable(src, len, w);
}

#endif

/*
 * Writes the base64 of len bytes at src to dst (AWS_BASE64_LEN(len) bytes,
 * not NUL-terminated) and returns its length.
 */
size_t
aws_base64_encode(const unsigned char *src, size_t len, char *dst)
{
#ifdef BASE64_AVX2
	static int	has_avx2 = -1;

	if (has_avx2 < 0)
		has_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
	if (has_avx2)
		return encode_avx2(src, len, dst);
#endif
	return aws_base64_encode_portable(src, len, dst);
}
