/*-------------------------------------------------------------------------
 *
 * region.c
 *		AWS region names and the partitions they belong to (pure C).
 *
 * A region name becomes part of every host name the client builds
 * (<service>.<region>.<dns suffix>), so it is the one option that could
 * otherwise send signed requests to another host ("x@127.0.0.2:1/" makes a
 * URL whose host is 127.0.0.2).  A region is accepted only in the form of
 * AWS's partitions: the regionRegex of each partition in the SDKs' shared
 * partitions.json (botocore/data/partitions.json: aws, aws-cn, aws-eusc,
 * aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-us-gov), which is
 * ^PREFIX-\w+-\d+$.  \w is narrowed here to lower-case letters and
 * digits, the only characters of real region names, so the result is
 * always a DNS label sequence.  A well-formed name that is not yet a known
 * region is accepted: AWS opens new regions, and a list would go stale.
 *
 *-------------------------------------------------------------------------
 */
#include "aws/region.h"

#include <stddef.h>
#include <string.h>

typedef struct AwsPartition
{
	const char *id;
	const char *prefix;			/* before the name: "us", "us-gov", ... */
	const char *dns_suffix;
} AwsPartition;

/* Longer prefixes first: "us-gov-west-1" is not the region "gov-west" of "us". */
static const AwsPartition partitions[] = {
	{"aws-us-gov", "us-gov", "amazonaws.com"},
	{"aws-iso-b", "us-isob", "sc2s.sgov.gov"},
	{"aws-iso-f", "us-isof", "csp.hci.ic.gov"},
	{"aws-iso", "us-iso", "c2s.ic.gov"},
	{"aws-iso-e", "eu-isoe", "cloud.adc-e.uk"},
	{"aws-eusc", "eusc-de", "amazonaws.eu"},
	{"aws-cn", "cn", "amazonaws.com.cn"},
	{"aws", "us", "amazonaws.com"},
	{"aws", "eu", "amazonaws.com"},
	{"aws", "ap", "amazonaws.com"},
	{"aws", "sa", "amazonaws.com"},
	{"aws", "ca", "amazonaws.com"},
	{"aws", "me", "amazonaws.com"},
	{"aws", "af", "amazonaws.com"},
	{"aws", "il", "amazonaws.com"},
	{"aws", "mx", "amazonaws.com"},
};

/* "name-123" with name [a-z0-9]+ and 123 [0-9]+, nothing else. */
static bool
name_and_number(const char *s)
{
	const char *p = s;
	const char *dash;

	while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
		p++;
	if (p == s || *p != '-')
		return false;
	dash = p++;
	while (*p >= '0' && *p <= '9')
		p++;
	return p > dash + 1 && *p == '\0';
}

bool
aws_region_valid(const char *region, const char **partition, const char **dns_suffix)
{
	if (region == NULL || strlen(region) > 63)
		return false;
	for (size_t i = 0; i < sizeof(partitions) / sizeof(partitions[0]); i++)
	{
		size_t		n = strlen(partitions[i].prefix);

		if (strncmp(region, partitions[i].prefix, n) == 0 && region[n] == '-' &&
			name_and_number(region + n + 1))
		{
			if (partition)
				*partition = partitions[i].id;
			if (dns_suffix)
				*dns_suffix = partitions[i].dns_suffix;
			return true;
		}
	}
	return false;
}
