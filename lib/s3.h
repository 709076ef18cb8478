/* SPDX-License-Identifier: BSD-3-Clause */
/* s3.h: the two S3 calls reconcile needs: ListObjectsV2 (paged) and GetObject, signed for S3. */
#ifndef STSROLE_S3_H
#define STSROLE_S3_H

#include <stdint.h>

#include "aws.h"
#include "stsrole.h"

/*
 * The client's endpoint decides the addressing: NULL means AWS's
 * virtual-hosted style, https://BUCKET.s3.REGION.SUFFIX/KEY (path style,
 * https://s3.REGION.SUFFIX/BUCKET/KEY, for a bucket name with a dot, which
 * a wildcard certificate cannot cover), SUFFIX being the DNS suffix of the
 * region's partition (amazonaws.com, amazonaws.com.cn); a set endpoint (a
 * stand-in such as moto, or a VPC endpoint) is used path style.  service
 * must be "s3".  Requests go through stsrole_aws_call (see s3.c for the
 * attempts and timeouts).
 */

/* Pure: the URL and the Host header value of a request.  key may be NULL
 * (the bucket itself); query is already encoded, without '?'.  Without an
 * endpoint, a region in no partition stsrole knows is STSROLE_E_INVALID. */
int stsrole_s3_url(const char *endpoint, const char *region, const char *bucket, const char *key,
                   const char *query, struct stsrole_buf *url, struct stsrole_buf *host,
                   struct stsrole_buf *path, struct stsrole_error *err);

/* Pure: one ListObjectsV2 answer.  Calls fn for each object; *truncated
 * and next (NextContinuationToken, replaced) say whether to go on. */
int stsrole_s3_parse_list(const char *xml, size_t len,
                          int (*fn)(void *ctx, const char *key, uint64_t size), void *ctx,
                          int *truncated, struct stsrole_buf *next, struct stsrole_error *err);

/* Lists every object under prefix whose key sorts after start_after (may
 * be NULL), page by page (1000 keys each), in key order. */
int stsrole_s3_list(struct stsrole_aws_client *c, const char *bucket, const char *prefix,
                    const char *start_after, int (*fn)(void *ctx, const char *key, uint64_t size),
                    void *ctx, struct stsrole_error *err);

/* Reads one object into out, at most max bytes (STSROLE_E_PROTOCOL beyond). */
int stsrole_s3_get(struct stsrole_aws_client *c, const char *bucket, const char *key, size_t max,
                   struct stsrole_buf *out, struct stsrole_error *err);

#endif
