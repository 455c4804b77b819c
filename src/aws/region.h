/*-------------------------------------------------------------------------
 *
 * region.h
 *		AWS region names, checked against the partitions' patterns, and the
 *		DNS suffix of each partition (pure C).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_AWS_REGION_H
#define AUDIT_FDW_AWS_REGION_H

#include <stdbool.h>

/*
 * Whether region is a region name of one of AWS's partitions (us-east-1,
 * cn-north-1, us-gov-west-1, ...).  When it is and partition/dns_suffix are
 * not NULL, they are set to static strings: the partition's id and the
 * suffix of its regional host names (amazonaws.com, amazonaws.com.cn, ...).
 */
extern bool aws_region_valid(const char *region, const char **partition,
							 const char **dns_suffix);

/* A one-line description of a valid region name, for error details. */
#define AWS_REGION_FORM_DETAIL \
	"An AWS region name is a partition's prefix, a name and a number, as in us-east-1, eu-central-2, cn-north-1 or us-gov-west-1."

#endif							/* AUDIT_FDW_AWS_REGION_H */
