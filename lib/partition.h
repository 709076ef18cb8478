/* SPDX-License-Identifier: BSD-3-Clause */
/* partition.h: the AWS partition of a region (aws, aws-cn, aws-us-gov): DNS suffix, IAM's endpoint
 * and signing region. */
#ifndef STSROLE_PARTITION_H
#define STSROLE_PARTITION_H

#include "stsrole.h"

struct stsrole_partition {
    const char *name;         /* "aws", "aws-cn", "aws-us-gov": the ARN's second field */
    const char *dns_suffix;   /* "amazonaws.com", "amazonaws.com.cn" */
    const char *iam_region;   /* IAM is global in each partition: its SigV4 region */
    const char *iam_endpoint; /* its one endpoint */
};

/*
 * Pure: the partition of region, by the region-name rules of AWS's
 * endpoint data (botocore's endpoints.json): "cn-*" is aws-cn,
 * "us-gov-*" is aws-us-gov, the commercial prefixes (us, eu, ap, sa, ca,
 * me, af, il, mx) are aws.  Any other region (the isolated partitions,
 * a typo) is STSROLE_E_CONFIG naming it.
 */
int stsrole_partition_of(const char *region, const struct stsrole_partition **out,
                         struct stsrole_error *err);

/* Pure: whether arn ("arn:PARTITION:...") lies in partition p. */
int stsrole_arn_in_partition(const char *arn, const struct stsrole_partition *p);

#endif
