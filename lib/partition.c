/* SPDX-License-Identifier: BSD-3-Clause */
/* partition.c: the AWS partition of a region (aws, aws-cn, aws-us-gov): DNS suffix, IAM's endpoint
 * and signing region. */
#include "config.h"

#include <string.h>

#include "partition.h"

/* From AWS's endpoint data: IAM's partitionEndpoint and its credentialScope. */
static const struct stsrole_partition partitions[] = {
    {"aws", "amazonaws.com", "us-east-1", "https://iam.amazonaws.com"},
    {"aws-cn", "amazonaws.com.cn", "cn-north-1", "https://iam.cn-north-1.amazonaws.com.cn"},
    {"aws-us-gov", "amazonaws.com", "us-gov-west-1", "https://iam.us-gov.amazonaws.com"},
};

/* "PREFIX-word-digits", the shape of every region name (regionRegex). */
static int
region_shaped(const char *r, size_t prefix_len)
{
    const char *p = r + prefix_len, *dash;

    if (*p++ != '-')
        return 0;
    dash = strchr(p, '-');
    if (dash == NULL || dash == p ||
        strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_") != (size_t)(dash - p))
        return 0;
    return dash[1] != '\0' && strspn(dash + 1, "0123456789") == strlen(dash + 1);
}

int
stsrole_partition_of(const char *region, const struct stsrole_partition **out,
                     struct stsrole_error *err)
{
    static const char *const commercial[] = {"us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"};
    size_t i;

    *out = NULL;
    if (region == NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG, "region is not set");
    if (strncmp(region, "cn-", 3) == 0 && region_shaped(region, 2))
        *out = &partitions[1];
    else if (strncmp(region, "us-gov-", 7) == 0 && region_shaped(region, 6))
        *out = &partitions[2];
    else
        for (i = 0; i < sizeof(commercial) / sizeof(commercial[0]) && *out == NULL; i++)
            if (strncmp(region, commercial[i], 2) == 0 && region_shaped(region, 2))
                *out = &partitions[0];
    if (*out == NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG,
                            "region '%.64s' is in none of the partitions stsrole knows (aws, "
                            "aws-cn, aws-us-gov)",
                            region);
    return STSROLE_OK;
}

int
stsrole_arn_in_partition(const char *arn, const struct stsrole_partition *p)
{
    size_t n = strlen(p->name);

    return arn != NULL && strncmp(arn, "arn:", 4) == 0 && strncmp(arn + 4, p->name, n) == 0 &&
           arn[4 + n] == ':';
}
