/*-------------------------------------------------------------------------
 *
 * test_region.c
 *		Unit tests of region names (src/aws/region.c): every region of the
 *		partitions that botocore 1.29 lists is accepted with its partition
 *		and DNS suffix (botocore/data/endpoints.json), and nothing that
 *		could change the host of a URL is.
 *
 *-------------------------------------------------------------------------
 */
#include "test.h"

#include "aws/region.h"

static void
check_region(const char *file, int line, const char *region, const char *partition,
			 const char *suffix)
{
	const char *p = NULL;
	const char *s = NULL;

	if (!aws_region_valid(region, &p, &s))
	{
		test_fail(file, line, "region \"%s\" refused", region);
		return;
	}
	test_str_eq(file, line, "partition", partition, p, partition);
	test_str_eq(file, line, "dns suffix", suffix, s, suffix);
}

#define CHECK_REGION(r, p, s) check_region(__FILE__, __LINE__, (r), (p), (s))

TEST(regions_of_every_partition)
{
	static const char *const aws[] = {
		"af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
		"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
		"ap-southeast-4", "ca-central-1", "eu-central-1", "eu-central-2", "eu-north-1",
		"eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "me-central-1",
		"me-south-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
		"il-central-1", "mx-central-1", "ca-west-1",
	};

	for (size_t i = 0; i < sizeof(aws) / sizeof(aws[0]); i++)
		CHECK_REGION(aws[i], "aws", "amazonaws.com");
	CHECK_REGION("cn-north-1", "aws-cn", "amazonaws.com.cn");
	CHECK_REGION("cn-northwest-1", "aws-cn", "amazonaws.com.cn");
	CHECK_REGION("us-gov-east-1", "aws-us-gov", "amazonaws.com");
	CHECK_REGION("us-gov-west-1", "aws-us-gov", "amazonaws.com");
	CHECK_REGION("us-iso-east-1", "aws-iso", "c2s.ic.gov");
	CHECK_REGION("us-iso-west-1", "aws-iso", "c2s.ic.gov");
	CHECK_REGION("us-isob-east-1", "aws-iso-b", "sc2s.sgov.gov");
	CHECK_REGION("eu-isoe-west-1", "aws-iso-e", "cloud.adc-e.uk");
	CHECK_REGION("us-isof-south-1", "aws-iso-f", "csp.hci.ic.gov");
	CHECK_REGION("eusc-de-east-1", "aws-eusc", "amazonaws.eu");
	/* a well-formed region AWS has not opened yet */
	CHECK_REGION("ap-southeast-9", "aws", "amazonaws.com");
}

TEST(nothing_that_changes_a_host_is_a_region)
{
	static const char *const bad[] = {
		"", "us", "us-east", "us-east-", "-east-1", "us-east-1a", "us-east-1 ",
		" us-east-1", "US-EAST-1", "us_east_1", "us-east_x-1", "xx-east-1", "local",
		"x@127.0.0.2:46105/", "us-east-1@evil.example", "us-east-1/", "us-east-1:443",
		"us-east-1#", "us-east-1%2f", "us-east-1\\", "us-east-1\t", "us-east-1\n",
		("us-ea\xc3\x9f" "t-1"), "us-east-1.evil.example", "us-east-1..", "cn-north-1?x",
		"us-gov-west", "us-gov--1", "us--1",
		"us-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-1",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (aws_region_valid(bad[i], NULL, NULL))
			test_fail(__FILE__, __LINE__, "region \"%s\" accepted", bad[i]);
	CHECK(!aws_region_valid(NULL, NULL, NULL));
}
