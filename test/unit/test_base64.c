/*-------------------------------------------------------------------------
 *
 * test_base64.c
 *		Unit tests of the Firehose data encoder (src/aws/base64.c): RFC
 *		4648's test vectors (section 10), and every length up to 300 of
 *		pseudo-random bytes against a plain byte-at-a-time encoder; the
 *		same for longer data at every alignment, where the AVX2 encoder
 *		(when the CPU has it) and the portable one must both agree.
 *
 *-------------------------------------------------------------------------
 */
#include "test.h"

#include <stdlib.h>

#include "aws/base64.h"

static void
check_vector(const char *file, int line, const char *in, const char *want)
{
	char		out[64];
	size_t		n = aws_base64_encode((const unsigned char *) in, strlen(in), out);

	out[n] = '\0';
	test_str_eq(file, line, in, want, out, want);
	if (n != AWS_BASE64_LEN(strlen(in)))
		test_fail(file, line, "length %zu for \"%s\"", n, in);
	n = aws_base64_encode_portable((const unsigned char *) in, strlen(in), out);
	out[n] = '\0';
	test_str_eq(file, line, in, want, out, want);
}

#define CHECK_VECTOR(in, want) check_vector(__FILE__, __LINE__, (in), (want))

TEST(base64_rfc4648_vectors)
{
	CHECK_VECTOR("", "");
	CHECK_VECTOR("f", "Zg==");
	CHECK_VECTOR("fo", "Zm8=");
	CHECK_VECTOR("foo", "Zm9v");
	CHECK_VECTOR("foob", "Zm9vYg==");
	CHECK_VECTOR("fooba", "Zm9vYmE=");
	CHECK_VECTOR("foobar", "Zm9vYmFy");
}

/* the reference: six bits at a time, as RFC 4648 section 4 describes it */
static size_t
plain_encode(const unsigned char *s, size_t len, char *out)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t		n = 0;
	size_t		bits = 0;
	unsigned int acc = 0;

	for (size_t i = 0; i < len; i++)
	{
		acc = (acc << 8) | s[i];
		bits += 8;
		while (bits >= 6)
		{
			out[n++] = a[(acc >> (bits - 6)) & 0x3f];
			bits -= 6;
		}
	}
	if (bits > 0)
		out[n++] = a[(acc << (6 - bits)) & 0x3f];
	while (n % 4 != 0)
		out[n++] = '=';
	out[n] = '\0';
	return n;
}

TEST(base64_every_length_and_byte)
{
	unsigned char in[300];
	char		got[420];
	char		want[420];
	unsigned int seed = 12345;

	for (size_t len = 0; len <= sizeof(in); len++)
	{
		size_t		n;

		for (size_t i = 0; i < len; i++)
		{
			seed = seed * 1103515245 + 12345;
			in[i] = (unsigned char) (seed >> 16);
		}
		if (len == 256)
			for (size_t i = 0; i < len; i++)
				in[i] = (unsigned char) i;
		n = aws_base64_encode(in, len, got);
		got[n] = '\0';
		plain_encode(in, len, want);
		if (strcmp(got, want) != 0)
		{
			test_fail(__FILE__, __LINE__, "length %zu: %s, expected %s", len, got, want);
			return;
		}
	}
}

/*
 * Longer data, from every alignment: the AVX2 encoder takes 24 bytes at a
 * time while 32 remain, so every length up to 1,000 ends its vector part
 * at each place a group of three can; both encoders against the plain one.
 */
TEST(base64_long_data_every_alignment)
{
	static unsigned char in[1024 + 8];
	static char got[1400];
	static char got_portable[1400];
	static char want[1400];
	unsigned int seed = 777;

	for (size_t i = 0; i < sizeof(in); i++)
	{
		seed = seed * 1103515245 + 12345;
		in[i] = (unsigned char) (seed >> 16);
	}
	for (size_t len = 0; len <= 1000; len++)
	{
		for (size_t offset = 0; offset < 8; offset++)
		{
			size_t		n = aws_base64_encode(in + offset, len, got);
			size_t		m = aws_base64_encode_portable(in + offset, len, got_portable);

			got[n] = '\0';
			got_portable[m] = '\0';
			plain_encode(in + offset, len, want);
			if (strcmp(got, want) != 0 || strcmp(got_portable, want) != 0)
			{
				test_fail(__FILE__, __LINE__, "length %zu at offset %zu: %s / %s, expected %s",
						  len, offset, got, got_portable, want);
				return;
			}
		}
	}
}
