/* SPDX-License-Identifier: BSD-3-Clause */
/* s3.c: ListObjectsV2 and GetObject, signed with S3's SigV4 variant and retried by
 * stsrole_aws_call. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "partition.h"
#include "s3.h"
#include "sigv4.h"

#define S3_TIMEOUT_MS 60000L           /* one attempt: see s3_get */
#define S3_LIST_MAX (4u * 1024 * 1024) /* one page of 1000 keys is ~300 KB */
#define S3_KEY_MAX 1024                /* S3's limit on key length */
/* SHA-256 of the empty payload: every request here is a GET. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* DNS-compatible bucket names (S3 User Guide, "Bucket naming rules"). */
static int
bucket_ok(const char *b)
{
    size_t n = b != NULL ? strlen(b) : 0, i;

    if (n < 3 || n > 63)
        return 0;
    for (i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
              b[i] == '.'))
            return 0;
    return b[0] != '-' && b[0] != '.' && b[n - 1] != '-' && b[n - 1] != '.';
}

int
stsrole_s3_url(const char *endpoint, const char *region, const char *bucket, const char *key,
               const char *query, struct stsrole_buf *url, struct stsrole_buf *host,
               struct stsrole_buf *path, struct stsrole_error *err)
{
    const struct stsrole_partition *part = NULL;
    const char *p, *end;
    int rc;

    if (!bucket_ok(bucket))
        return stsrole_fail(err, STSROLE_E_INVALID, "s3: invalid bucket name '%.80s'",
                            bucket != NULL ? bucket : "");
    if (key != NULL && (strlen(key) == 0 || strlen(key) > S3_KEY_MAX))
        return stsrole_fail(err, STSROLE_E_INVALID, "s3: invalid object key");
    /* AWS's own endpoint is in the region's partition: s3.cn-north-1.amazonaws.com.cn. */
    if (endpoint == NULL && stsrole_partition_of(region, &part, NULL) != STSROLE_OK)
        return stsrole_fail(err, STSROLE_E_INVALID, "s3: region '%.64s' is in no known partition",
                            region != NULL ? region : "");
    stsrole_buf_reset(url);
    stsrole_buf_reset(host);
    stsrole_buf_reset(path);
    if (endpoint == NULL && strchr(bucket, '.') == NULL) {
        rc = stsrole_buf_printf(host, "%s.s3.%s.%s", bucket, region, part->dns_suffix);
        if (rc == STSROLE_OK)
            rc = stsrole_buf_puts(path, "/");
    } else {
        if (endpoint == NULL) {
            rc = stsrole_buf_printf(host, "s3.%s.%s", region, part->dns_suffix);
        } else {
            p = strstr(endpoint, "://");
            if (p == NULL || (end = p + 3 + strcspn(p + 3, "/?#")) == p + 3)
                return stsrole_fail(err, STSROLE_E_CONFIG, "s3: malformed endpoint '%.200s'",
                                    endpoint);
            if (*end != '\0' && strcmp(end, "/") != 0)
                return stsrole_fail(err, STSROLE_E_CONFIG, "s3: endpoint '%.200s' has a path",
                                    endpoint);
            rc = stsrole_buf_append(host, p + 3, (size_t)(end - p - 3));
        }
        if (rc == STSROLE_OK)
            rc = stsrole_buf_printf(path, "/%s%s", bucket, key != NULL ? "/" : "");
    }
    /* S3 object keys are encoded once, '/' kept (no double encoding, no
     * dot-segment removal: "a/../b" is a key of its own). */
    if (rc == STSROLE_OK && key != NULL)
        rc = stsrole_uri_encode(path, key, strlen(key), 0);
    if (rc == STSROLE_OK) {
        /* The endpoint's own scheme ("http://" only on loopback, checked by the caller). */
        const char *scheme = endpoint != NULL ? endpoint : "https://";
        int slen = (int)(strstr(scheme, "://") - scheme) + 3;
        int q = query != NULL && *query != '\0';

        rc = stsrole_buf_printf(url, "%.*s%s%s%s%s", slen, scheme, host->data, path->data,
                                q ? "?" : "", q ? query : "");
    }
    return rc == STSROLE_OK ? STSROLE_OK : stsrole_fail(err, rc, "s3: out of memory");
}

/* -- ListObjectsV2 answers -------------------------------------------------- */

enum { F_NONE, F_KEY, F_SIZE, F_TRUNC, F_NEXT };

struct list_state {
    XML_Parser parser;
    int depth, field, refused, in_contents, stop;
    char text[S3_KEY_MAX * 4 + 1];
    size_t len;
    char key[S3_KEY_MAX * 4 + 1];
    uint64_t size;
    int have_key;
    int *truncated;
    struct stsrole_buf *next;
    int (*fn)(void *, const char *, uint64_t);
    void *ctx;
    int rc;
};

static void
list_refuse(struct list_state *st)
{
    st->refused = 1;
    XML_StopParser(st->parser, XML_FALSE);
}

static const char *
local_name(const char *n)
{
    /* expat without namespace processing: "ListBucketResult" or "ns:..." */
    const char *c = strrchr(n, ':');

    return c != NULL ? c + 1 : n;
}

static void XMLCALL
list_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct list_state *st = ud;
    const char *n = local_name(name);

    (void)attrs;
    if (++st->depth > 8) {
        list_refuse(st);
        return;
    }
    st->len = 0;
    st->field = F_NONE;
    if (st->depth == 2 && strcmp(n, "Contents") == 0) {
        st->in_contents = 1;
        st->have_key = 0;
        st->size = 0;
    } else if (st->depth == 3 && st->in_contents && strcmp(n, "Key") == 0) {
        st->field = F_KEY;
    } else if (st->depth == 3 && st->in_contents && strcmp(n, "Size") == 0) {
        st->field = F_SIZE;
    } else if (st->depth == 2 && strcmp(n, "IsTruncated") == 0) {
        st->field = F_TRUNC;
    } else if (st->depth == 2 && strcmp(n, "NextContinuationToken") == 0) {
        st->field = F_NEXT;
    }
}

static void XMLCALL
list_end(void *ud, const XML_Char *name)
{
    struct list_state *st = ud;

    (void)name;
    st->text[st->len] = '\0';
    switch (st->field) {
    case F_KEY:
        memcpy(st->key, st->text, st->len + 1);
        st->have_key = 1;
        break;
    case F_SIZE:
        st->size = strtoull(st->text, NULL, 10);
        break;
    case F_TRUNC:
        *st->truncated = strcmp(st->text, "true") == 0;
        break;
    case F_NEXT:
        stsrole_buf_reset(st->next);
        if (stsrole_buf_append(st->next, st->text, st->len) != STSROLE_OK)
            list_refuse(st);
        break;
    default:
        if (st->depth == 2 && st->in_contents) {
            st->in_contents = 0;
            if (!st->have_key) {
                list_refuse(st);
            } else if ((st->rc = st->fn(st->ctx, st->key, st->size)) != STSROLE_OK) {
                st->stop = 1;
                XML_StopParser(st->parser, XML_FALSE);
            }
        }
    }
    st->field = F_NONE;
    st->len = 0;
    st->depth--;
}

static void XMLCALL
list_text(void *ud, const XML_Char *s, int len)
{
    struct list_state *st = ud;

    if (st->field == F_NONE)
        return;
    if (st->len + (size_t)len >= sizeof(st->text)) {
        list_refuse(st);
        return;
    }
    memcpy(st->text + st->len, s, (size_t)len);
    st->len += (size_t)len;
}

/* No DOCTYPE, no entities: S3 sends neither, and they are how XML bombs get in. */
static void XMLCALL
list_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
             int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    list_refuse(ud);
}

int
stsrole_s3_parse_list(const char *xml, size_t len,
                      int (*fn)(void *ctx, const char *key, uint64_t size), void *ctx,
                      int *truncated, struct stsrole_buf *next, struct stsrole_error *err)
{
    struct list_state *st;
    int ok, rc;

    *truncated = 0;
    stsrole_buf_reset(next);
    if (len > INT32_MAX)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "s3: listing too large");
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "s3: out of memory");
    st->truncated = truncated;
    st->next = next;
    st->fn = fn;
    st->ctx = ctx;
    st->parser = XML_ParserCreate(NULL);
    if (st->parser == NULL) {
        free(st);
        return stsrole_fail(err, STSROLE_E_NOMEM, "s3: out of memory");
    }
    XML_SetUserData(st->parser, st);
    XML_SetElementHandler(st->parser, list_start, list_end);
    XML_SetCharacterDataHandler(st->parser, list_text);
    XML_SetStartDoctypeDeclHandler(st->parser, list_doctype);
    XML_SetParamEntityParsing(st->parser, XML_PARAM_ENTITY_PARSING_NEVER);
    ok = XML_Parse(st->parser, xml, (int)len, XML_TRUE) == XML_STATUS_OK;
    XML_ParserFree(st->parser);
    if (st->stop)
        rc = st->rc;
    else if (!ok || st->refused)
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "s3: malformed ListObjectsV2 answer");
    else if (*truncated && next->len == 0)
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL,
                          "s3: truncated listing without a continuation token");
    else
        rc = STSROLE_OK;
    free(st);
    return rc;
}

/* -- requests ----------------------------------------------------------------- */

/* One signed GET through stsrole_aws_call, so S3 is retried as every
 * other service is: the client's attempts (5 unless it says otherwise,
 * as botocore's legacy retry mode gives S3 too) within the client's
 * deadline, the clock-skew correction (S3 answers RequestTimeTooSkewed
 * with its Date) and one fresh base credential after ExpiredToken.  Each
 * attempt may take S3_TIMEOUT_MS, longer than the Query calls' timeout:
 * a CloudTrail file can be some MB.  The deadline stays the caller's, so
 * an attempt that used it all is not repeated (a stalled transfer ends
 * the run rather than stall it again). */
static int
s3_get(struct stsrole_aws_client *c, const char *bucket, const char *key, const char *query,
       size_t max, struct stsrole_http_response *resp, struct stsrole_error *err)
{
    struct stsrole_buf url, host, path;
    struct stsrole_aws_request rq;
    int rc;

    memset(resp, 0, sizeof(*resp));
    if (c->service == NULL || strcmp(c->service, "s3") != 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "s3: the client is not for s3");
    stsrole_buf_init(&url, 0);
    stsrole_buf_init(&host, 0);
    stsrole_buf_init(&path, 0);
    rc = stsrole_s3_url(c->endpoint, c->region, bucket, key, query, &url, &host, &path, err);
    if (rc == STSROLE_OK) {
        memset(&rq, 0, sizeof(rq));
        rq.method = "GET";
        rq.url = url.data;
        rq.payload_hash = EMPTY_SHA256;
        rq.max_response = max;
        rq.timeout_ms = S3_TIMEOUT_MS;
        rc = stsrole_aws_call(c, &rq, resp, err);
    }
    stsrole_buf_free(&url);
    stsrole_buf_free(&host);
    stsrole_buf_free(&path);
    return rc;
}

int
stsrole_s3_list(struct stsrole_aws_client *c, const char *bucket, const char *prefix,
                const char *start_after, int (*fn)(void *ctx, const char *key, uint64_t size),
                void *ctx, struct stsrole_error *err)
{
    struct stsrole_buf q, next;
    struct stsrole_http_response resp;
    int truncated = 1, rc = STSROLE_OK, pages = 0;

    stsrole_buf_init(&q, 0);
    stsrole_buf_init(&next, 0);
    while (truncated && rc == STSROLE_OK) {
        /* Parameters in the order SigV4 sorts them; the signer sorts anyway. */
        stsrole_buf_reset(&q);
        if (next.len > 0) {
            rc = stsrole_buf_puts(&q, "continuation-token=");
            if (rc == STSROLE_OK)
                rc = stsrole_uri_encode(&q, next.data, next.len, 1);
            if (rc == STSROLE_OK)
                rc = stsrole_buf_puts(&q, "&");
        }
        if (rc == STSROLE_OK)
            rc = stsrole_buf_puts(&q, "list-type=2&max-keys=1000");
        if (rc == STSROLE_OK && prefix != NULL && *prefix != '\0') {
            rc = stsrole_buf_puts(&q, "&prefix=");
            if (rc == STSROLE_OK)
                rc = stsrole_uri_encode(&q, prefix, strlen(prefix), 1);
        }
        if (rc == STSROLE_OK && start_after != NULL && *start_after != '\0' && next.len == 0) {
            rc = stsrole_buf_puts(&q, "&start-after=");
            if (rc == STSROLE_OK)
                rc = stsrole_uri_encode(&q, start_after, strlen(start_after), 1);
        }
        if (rc != STSROLE_OK) {
            rc = stsrole_fail(err, rc, "s3: out of memory");
            break;
        }
        rc = s3_get(c, bucket, NULL, q.data, S3_LIST_MAX, &resp, err);
        if (rc != STSROLE_OK)
            break;
        rc = stsrole_s3_parse_list(resp.body.data ? resp.body.data : "", resp.body.len, fn, ctx,
                                   &truncated, &next, err);
        stsrole_http_response_free(&resp);
        /* A bucket of a million pages is not a trail one machine should scan (use --athena). */
        if (rc == STSROLE_OK && ++pages > 1000000)
            rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "s3: listing does not end");
    }
    stsrole_buf_free(&q);
    stsrole_buf_free(&next);
    return rc;
}

int
stsrole_s3_get(struct stsrole_aws_client *c, const char *bucket, const char *key, size_t max,
               struct stsrole_buf *out, struct stsrole_error *err)
{
    struct stsrole_http_response resp;
    int rc;

    if (key == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "s3: no object key");
    rc = s3_get(c, bucket, key, NULL, max, &resp, err);
    if (rc != STSROLE_OK)
        return rc;
    stsrole_buf_reset(out);
    rc = stsrole_buf_append(out, resp.body.data ? resp.body.data : "", resp.body.len);
    stsrole_http_response_free(&resp);
    return rc == STSROLE_OK ? STSROLE_OK : stsrole_fail(err, rc, "s3: out of memory");
}
