/* SPDX-License-Identifier: BSD-3-Clause */
/* aws.c: one signed AWS request (Query, JSON protocol, S3), retried with jittered backoff within a
 * deadline. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "aws.h"
#include "sigv4.h"

#define DEFAULT_DEADLINE_MS 30000
#define DEFAULT_ATTEMPTS 5
#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 5000
/* AWS refuses a signature more than 5 minutes off its clock; a Date that
 * differs from our estimate by less than this cannot explain a refusal. */
#define SKEW_MIN_S 60

/* AWS's clock minus ours, in seconds, learned from a refused answer's
 * Date header; every later signature of this process uses it.  Shared by
 * all clients and threads (the gateway ships from a thread). */
static int64_t clock_skew;

int64_t
stsrole_aws_clock_skew(void)
{
    return __atomic_load_n(&clock_skew, __ATOMIC_RELAXED);
}

void
stsrole_aws_set_clock_skew(int64_t seconds)
{
    __atomic_store_n(&clock_skew, seconds, __ATOMIC_RELAXED);
}

int
stsrole_aws_is_skew_error(const struct stsrole_error *err)
{
    if (err == NULL)
        return 0;
    /* RequestTimeTooSkewed (S3 style, some Query services), RequestExpired
     * (EC2), InvalidSignatureException (the JSON protocols: "Signature
     * expired: ... is now earlier than ..."), and STS/IAM's
     * SignatureDoesNotMatch when its message is about time rather than
     * about the key.  The caller also wants the answer's Date to differ
     * from the local clock before it signs again. */
    if (strcmp(err->aws_code, "RequestTimeTooSkewed") == 0 ||
        strcmp(err->aws_code, "RequestExpired") == 0 ||
        strcmp(err->aws_code, "InvalidSignatureException") == 0)
        return 1;
    if (strcmp(err->aws_code, "SignatureDoesNotMatch") == 0)
        return strstr(err->msg, "Signature expired") != NULL ||
               strstr(err->msg, "Signature not yet current") != NULL;
    return 0;
}

int
stsrole_aws_backoff_ms(int attempt, double r)
{
    /* "Full jitter" (AWS Architecture Blog, Exponential Backoff And
     * Jitter): sleep uniformly in [0, min(cap, base * 2^attempt)). */
    int64_t ceiling = stsrole_backoff_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS);

    if (r < 0 || r >= 1)
        r = 0.5;
    return (int)(r * (double)ceiling);
}

int
stsrole_form_append(struct stsrole_buf *out, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *parts[2] = {name, value};
    int i, rc;

    rc = stsrole_buf_puts(out, out->len > 0 ? "&" : "");
    for (i = 0; i < 2 && rc == STSROLE_OK; i++) {
        const unsigned char *p;
        if (i == 1)
            rc = stsrole_buf_puts(out, "=");
        for (p = (const unsigned char *)parts[i]; *p != '\0' && rc == STSROLE_OK; p++) {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 0xf]};
            if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                *p == '-' || *p == '_' || *p == '.' || *p == '~')
                rc = stsrole_buf_append(out, p, 1);
            else if (*p == ' ')
                rc = stsrole_buf_puts(out, "+");
            else
                rc = stsrole_buf_append(out, enc, 3);
        }
    }
    return rc;
}

/* "type/subtype; params" equals want, ignoring case and parameters. */
static int
media_type_is(const char *ctype, const char *want)
{
    size_t n = strlen(want);

    while (*ctype == ' ' || *ctype == '\t')
        ctype++;
    return strncasecmp(ctype, want, n) == 0 &&
           (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ' || ctype[n] == '\t');
}

enum stsrole_aws_format
stsrole_aws_format(const char *content_type, const char *body, size_t len)
{
    size_t i = 0;

    if (content_type != NULL && *content_type != '\0') {
        if (media_type_is(content_type, "application/json") ||
            media_type_is(content_type, "application/x-amz-json-1.0") ||
            media_type_is(content_type, "application/x-amz-json-1.1"))
            return STSROLE_AWS_JSON;
        if (media_type_is(content_type, "text/xml") ||
            media_type_is(content_type, "application/xml"))
            return STSROLE_AWS_XML;
    }
    if (body == NULL)
        return STSROLE_AWS_UNKNOWN;
    if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    while (i < len && strchr(" \t\r\n", body[i]) != NULL && body[i] != '\0')
        i++;
    if (i < len && body[i] == '{')
        return STSROLE_AWS_JSON;
    if (i < len && body[i] == '<')
        return STSROLE_AWS_XML;
    return STSROLE_AWS_UNKNOWN;
}

static int64_t
real_now_ms(void *ctx)
{
    struct timespec ts;

    (void)ctx;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return (int64_t)time(NULL) * 1000;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
stsrole_aws_sleep(struct stsrole_aws_client *c, int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    if (c->sleep_ms != NULL) {
        c->sleep_ms(c->ctx, ms);
        return;
    }
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int
stsrole_aws_jittered_backoff_ms(int attempt)
{
    uint32_t v;
    double r = 0.5;

    if (RAND_bytes((unsigned char *)&v, sizeof(v)) == 1)
        r = (double)v / 4294967296.0;
    return stsrole_aws_backoff_ms(attempt, r);
}

/* Where a request goes: the Host header's value, the path and query it
 * signs, and a name for messages. */
struct target {
    char host[256];
    struct stsrole_buf path;
    const char *query; /* in the URL, after '?'; NULL: none */
    const char *name;  /* the client's endpoint, or the host */
};

/* "scheme://host[:port][/path][?query]" -> t. */
static int
split_url(const char *url, struct target *t, struct stsrole_error *err)
{
    const char *p = strstr(url, "://"), *end, *q;
    int rc;

    if (p == NULL || strchr(url, '#') != NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG, "malformed URL '%.200s'", url);
    p += 3;
    end = p + strcspn(p, "/?");
    if ((size_t)(end - p) == 0 || (size_t)(end - p) >= sizeof(t->host))
        return stsrole_fail(err, STSROLE_E_CONFIG, "malformed URL '%.200s'", url);
    memcpy(t->host, p, (size_t)(end - p));
    t->host[end - p] = '\0';
    q = strchr(end, '?');
    t->query = q != NULL ? q + 1 : NULL;
    rc = *end == '/'
             ? stsrole_buf_append(&t->path, end, q != NULL ? (size_t)(q - end) : strlen(end))
             : stsrole_buf_puts(&t->path, "/");
    return rc == STSROLE_OK ? STSROLE_OK : stsrole_fail(err, rc, "out of memory");
}

static int
attempt_once(struct stsrole_aws_client *c, const struct stsrole_aws_request *rq,
             const struct target *t, const struct stsrole_creds *cr, long left_ms,
             struct stsrole_http_response *resp, int64_t *server_date, struct stsrole_error *err)
{
    struct stsrole_http_config http = *c->http;
    struct stsrole_header h[STSROLE_AWS_MAX_HEADERS + 6];
    struct stsrole_sigv4_request sreq;
    struct stsrole_sigv4_params sp;
    struct stsrole_sigv4_signed sig;
    struct stsrole_http_request req;
    size_t n = 0, i;
    int rc;

    h[n++] = (struct stsrole_header){"Host", t->host};
    for (i = 0; i < rq->n_headers; i++)
        h[n++] = rq->headers[i];
    if (rq->payload_hash != NULL)
        h[n++] = (struct stsrole_header){"x-amz-content-sha256", rq->payload_hash};
    memset(&sreq, 0, sizeof(sreq));
    sreq.method = rq->method;
    sreq.path = t->path.data;
    sreq.query = t->query;
    sreq.headers = h;
    sreq.n_headers = n;
    sreq.payload = rq->body;
    sreq.payload_len = rq->body_len;
    memset(&sp, 0, sizeof(sp));
    sp.region = c->region;
    sp.service = c->service;
    sp.access_key_id = cr->access_key_id;
    sp.secret_access_key = cr->secret_access_key;
    sp.session_token = cr->session_token;
    sp.now = (int64_t)time(NULL) + stsrole_aws_clock_skew();
    sp.normalize_path = rq->payload_hash == NULL;
    sp.payload_hash = rq->payload_hash;
    rc = stsrole_sigv4_sign_headers(&sreq, &sp, &sig, err);
    if (rc != STSROLE_OK)
        return rc;
    h[n++] = (struct stsrole_header){"X-Amz-Date", sig.amz_date};
    if (cr->session_token != NULL && *cr->session_token != '\0')
        h[n++] = (struct stsrole_header){"X-Amz-Security-Token", cr->session_token};
    h[n++] = (struct stsrole_header){"Authorization", sig.authorization};
    /* Unsigned, so it cannot break the signature: real STS and IAM answer
     * in JSON when asked; moto ignores it and answers XML. */
    if (rq->accept != NULL)
        h[n++] = (struct stsrole_header){"Accept", rq->accept};

    memset(&req, 0, sizeof(req));
    req.method = rq->method;
    req.url = rq->url != NULL ? rq->url : c->endpoint;
    req.headers = h;
    req.n_headers = n;
    req.body = rq->body;
    req.body_len = rq->body_len;
    if (rq->max_response > 0)
        http.max_response = rq->max_response;
    if (http.timeout_ms < rq->timeout_ms)
        http.timeout_ms = rq->timeout_ms;
    if (left_ms > 0 && (http.timeout_ms == 0 || left_ms < http.timeout_ms))
        http.timeout_ms = left_ms;
    rc = stsrole_http_perform(&http, &req, resp, err);
    stsrole_sigv4_signed_free(&sig);
    if (rc != STSROLE_OK)
        return rc;
    *server_date = resp->date;
    if (resp->status >= 200 && resp->status < 300)
        return STSROLE_OK;
    rc = stsrole_aws_classify_as(stsrole_aws_format(resp->content_type, NULL, 0), resp->status,
                                 resp->body.data ? resp->body.data : "", resp->body.len, err);
    if (err != NULL && err->request_id[0] == '\0' && resp->request_id[0] != '\0')
        snprintf(err->request_id, sizeof(err->request_id), "%s", resp->request_id);
    stsrole_http_response_free(resp);
    return rc == STSROLE_OK ? stsrole_fail(err, STSROLE_E_SERVER, "unexpected HTTP status") : rc;
}

/* After a refusal about time: takes AWS's clock from the answer's Date and
 * reports the correction through on_retry (err then names the skew).
 * Returns 1 when the request is worth signing again. */
static int
learn_skew(struct stsrole_aws_client *c, const char *name, int attempt, int64_t server_date,
           struct stsrole_error *err)
{
    int64_t old = stsrole_aws_clock_skew(), skew;
    char msg[STSROLE_ERRMSG_MAX];

    if (server_date <= 0 || !stsrole_aws_is_skew_error(err))
        return 0;
    skew = server_date - (int64_t)time(NULL);
    if (skew - old < SKEW_MIN_S && old - skew < SKEW_MIN_S)
        return 0;
    stsrole_aws_set_clock_skew(skew);
    snprintf(msg, sizeof(msg), "%s", err->msg);
    stsrole_fail(err, err->status,
                 "clock skew: the local clock is %lld s %s %s's; signing again with the "
                 "corrected time (%s)",
                 (long long)(skew < 0 ? -skew : skew), skew < 0 ? "ahead of" : "behind", name, msg);
    if (c->on_retry != NULL)
        c->on_retry(c->ctx, attempt, 0, err);
    return 1;
}

static int
call(struct stsrole_aws_client *c, const struct stsrole_aws_request *rq, const struct target *t,
     struct stsrole_http_response *resp, struct stsrole_error *err)
{
    int64_t (*now_ms)(void *) = c->now_ms ? c->now_ms : real_now_ms;
    int deadline = c->deadline_ms > 0 ? c->deadline_ms : DEFAULT_DEADLINE_MS;
    int attempts = c->max_attempts > 0 ? c->max_attempts : DEFAULT_ATTEMPTS;
    int64_t start = now_ms(c->ctx), left;
    const struct stsrole_creds *cr;
    int attempt, rc = STSROLE_E_NETWORK, delay, skew_fixed = 0;
    int64_t server_date;

    for (attempt = 1;; attempt++) {
        if (c->base != NULL) {
            rc = stsrole_creds_provider_get(c->base, 0, &cr, err);
            if (rc != STSROLE_OK && !stsrole_status_retryable(rc))
                return rc;
        } else {
            cr = c->creds;
            rc = cr != NULL ? STSROLE_OK
                            : stsrole_fail(err, STSROLE_E_CONFIG, "no credentials to sign with");
            if (rc != STSROLE_OK)
                return rc;
        }
        if (rc == STSROLE_OK) {
            left = deadline - (now_ms(c->ctx) - start);
            if (left <= 0)
                return stsrole_fail(err, STSROLE_E_NETWORK, "%s: deadline of %d ms passed", t->name,
                                    deadline);
            server_date = 0;
            rc = attempt_once(c, rq, t, cr, (long)left, resp, &server_date, err);
            if (rc == STSROLE_OK)
                return STSROLE_OK;
            if (!skew_fixed && learn_skew(c, t->name, attempt, server_date, err)) {
                /* What the SDKs do: correct the clock from the answer's
                 * Date and sign once more at once. */
                skew_fixed = 1;
                continue;
            }
            if (rc == STSROLE_E_EXPIRED && c->base != NULL && attempt == 1) {
                /* The cached base credential may have been rotated early
                 * (IMDS); fetch a fresh one once before giving up. */
                stsrole_creds_clear(&c->base->cached);
                continue;
            }
        }
        if (!stsrole_status_retryable(rc) || attempt >= attempts)
            return rc;
        delay = stsrole_aws_jittered_backoff_ms(attempt);
        left = deadline - (now_ms(c->ctx) - start);
        if (left <= delay) {
            if (err != NULL) {
                char msg[STSROLE_ERRMSG_MAX];
                snprintf(msg, sizeof(msg), "%s", err->msg);
                stsrole_fail(err, rc, "%s (gave up after %d attempts within %d ms)", msg, attempt,
                             deadline);
            }
            return rc;
        }
        if (c->on_retry != NULL)
            c->on_retry(c->ctx, attempt, delay, err);
        stsrole_aws_sleep(c, delay);
    }
}

int
stsrole_aws_call(struct stsrole_aws_client *c, const struct stsrole_aws_request *rq,
                 struct stsrole_http_response *resp, struct stsrole_error *err)
{
    const char *url = rq->url != NULL ? rq->url : c->endpoint;
    struct target t;
    int rc;

    memset(resp, 0, sizeof(*resp));
    if (url == NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG, "no endpoint for %s",
                            c->service != NULL ? c->service : "the request");
    if (rq->method == NULL || rq->n_headers > STSROLE_AWS_MAX_HEADERS ||
        (rq->body == NULL && rq->body_len > 0))
        return stsrole_fail(err, STSROLE_E_INVALID, "malformed AWS request");
    rc = stsrole_url_check(url, err);
    if (rc != STSROLE_OK)
        return rc == STSROLE_E_INVALID ? STSROLE_E_CONFIG : rc;
    memset(&t, 0, sizeof(t));
    stsrole_buf_init(&t.path, 0);
    rc = split_url(url, &t, err);
    t.name = c->endpoint != NULL ? c->endpoint : t.host;
    if (rc == STSROLE_OK)
        rc = call(c, rq, &t, resp, err);
    stsrole_buf_free(&t.path);
    return rc;
}

int
stsrole_aws_query(struct stsrole_aws_client *c, const char *body,
                  struct stsrole_http_response *resp, struct stsrole_error *err)
{
    static const struct stsrole_header ctype = {"Content-Type",
                                                "application/x-www-form-urlencoded; charset=utf-8"};
    struct stsrole_aws_request rq;

    memset(&rq, 0, sizeof(rq));
    rq.method = "POST";
    rq.headers = &ctype;
    rq.n_headers = 1;
    rq.body = body;
    rq.body_len = strlen(body);
    rq.accept = "application/json";
    return stsrole_aws_call(c, &rq, resp, err);
}

int
stsrole_aws_json(struct stsrole_aws_client *c, const char *json_version, const char *target,
                 const char *body, struct stsrole_http_response *resp, struct stsrole_error *err)
{
    char ctype[40];
    struct stsrole_header h[2] = {{"Content-Type", ctype}, {"X-Amz-Target", target}};
    struct stsrole_aws_request rq;

    if (target == NULL || *target == '\0' || strpbrk(target, "\r\n") != NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "JSON protocol call without a target");
    snprintf(ctype, sizeof(ctype), "application/x-amz-json-%s",
             json_version != NULL ? json_version : "1.0");
    memset(&rq, 0, sizeof(rq));
    rq.method = "POST";
    rq.headers = h;
    rq.n_headers = 2;
    rq.body = body;
    rq.body_len = strlen(body);
    return stsrole_aws_call(c, &rq, resp, err);
}

int
stsrole_aws_json_body(struct cJSON *o, int failed, struct stsrole_buf *out,
                      struct stsrole_error *err)
{
    char *text;
    int rc;

    if (o == NULL || failed) {
        cJSON_Delete(o);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    stsrole_buf_reset(out);
    rc = stsrole_buf_puts(out, text);
    cJSON_free(text);
    return rc == STSROLE_OK ? STSROLE_OK : stsrole_fail(err, rc, "out of memory");
}
