/* SPDX-License-Identifier: BSD-3-Clause */
/* sigv4.c: AWS Signature Version 4 signing, stage by stage, as pure functions of their inputs. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hash.h"
#include "sigv4.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"

struct sigv4_time {
    char amz_date[17]; /* YYYYMMDDTHHMMSSZ */
    char date[9];      /* YYYYMMDD, the credential scope's date */
};

struct sigv4_header {
    char *name; /* lowercased copy */
    const char *value;
    size_t order; /* position in the request, so duplicates keep their order */
};

struct sigv4_param {
    char *key; /* URI-encoded */
    char *value;
};

struct sigv4_params {
    struct sigv4_param *v;
    size_t n;
    size_t cap;
};

/*
 * Headers never signed: the ones the signer owns (so a retried request can
 * be signed again) and the hop-by-hop headers that intermediaries may
 * rewrite (RFC 9110 section 7.6.1); botocore leaves out the same set.
 */
static const char *const unsigned_headers[] = {
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
};

static int
is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int
is_escape(const char *s, size_t len, size_t i)
{
    return s[i] == '%' && i + 2 < len && hex_value((unsigned char)s[i + 1]) >= 0 &&
           hex_value((unsigned char)s[i + 2]) >= 0;
}

/*
 * keep_escapes leaves an existing %XX as one escape (uppercased) instead of
 * encoding its '%': S3 paths are encoded once, not twice.
 */
static int
encode(struct stsrole_buf *out, const char *s, size_t len, int encode_slash, int keep_escapes)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t i;
    int rc = STSROLE_OK;

    for (i = 0; i < len && rc == STSROLE_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[3];

        if (is_unreserved(c) || (c == '/' && !encode_slash)) {
            rc = stsrole_buf_append(out, &s[i], 1);
            continue;
        }
        if (keep_escapes && is_escape(s, len, i)) {
            esc[0] = '%';
            esc[1] = digits[hex_value((unsigned char)s[i + 1])];
            esc[2] = digits[hex_value((unsigned char)s[i + 2])];
            i += 2;
        } else {
            esc[0] = '%';
            esc[1] = digits[c >> 4];
            esc[2] = digits[c & 0xf];
        }
        rc = stsrole_buf_append(out, esc, 3);
    }
    return rc;
}

/* Appends, so a form body can be built one field at a time; the stage
 * functions below instead replace what their output buffer held. */
int
stsrole_uri_encode(struct stsrole_buf *out, const char *s, size_t len, int encode_slash)
{
    if (out == NULL || (s == NULL && len > 0))
        return STSROLE_E_INVALID;
    return encode(out, s, len, encode_slash, 0);
}

static int
hmac_sha256(const void *key, size_t keylen, const void *data, size_t len, unsigned char out[32])
{
    unsigned int outlen = 0;

    if (HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) == NULL || outlen != 32)
        return STSROLE_E_NOMEM;
    return STSROLE_OK;
}

static int
fail_status(struct stsrole_error *err, int rc, const char *what)
{
    if (rc == STSROLE_E_NOMEM)
        return stsrole_fail(err, rc, "sigv4: out of memory building %s", what);
    return stsrole_fail(err, rc, "sigv4: cannot build %s (%s)", what,
                        stsrole_status_name((enum stsrole_status)rc));
}

/* Region, service and access key id go into the credential scope, which
 * is '/'-separated and sits in a ','-separated Authorization header. */
static int
is_scope_part(const char *s)
{
    const unsigned char *c;

    if (s == NULL || *s == '\0')
        return 0;
    for (c = (const unsigned char *)s; *c != '\0'; c++)
        if (*c <= ' ' || *c >= 0x7f || *c == '/' || *c == ',' || *c == ';' || *c == '=')
            return 0;
    return 1;
}

static int
check_scope(const struct stsrole_sigv4_params *p, struct sigv4_time *t, struct stsrole_error *err)
{
    time_t now;
    struct tm tm;

    if (p == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: no signing parameters");
    if (!is_scope_part(p->region))
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: missing or invalid region");
    if (!is_scope_part(p->service))
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: missing or invalid service");
    now = (time_t)p->now;
    if (p->now < 0 || (int64_t)now != p->now || gmtime_r(&now, &tm) == NULL ||
        tm.tm_year + 1900 > 9999)
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: time %lld out of range",
                            (long long)p->now);
    if (strftime(t->amz_date, sizeof(t->amz_date), "%Y%m%dT%H%M%SZ", &tm) != 16)
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: cannot format the time");
    memcpy(t->date, t->amz_date, 8);
    t->date[8] = '\0';
    return STSROLE_OK;
}

static int
has_token(const struct stsrole_sigv4_params *p)
{
    return p->session_token != NULL && p->session_token[0] != '\0';
}

static int
check_credentials(const struct stsrole_sigv4_params *p, struct stsrole_error *err)
{
    const unsigned char *c;

    if (!is_scope_part(p->access_key_id))
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: missing or invalid access key id");
    if (p->secret_access_key == NULL || p->secret_access_key[0] == '\0')
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: missing secret access key");
    /* The token travels verbatim in a header or query: no way to smuggle a line break. */
    if (has_token(p))
        for (c = (const unsigned char *)p->session_token; *c != '\0'; c++)
            if (*c <= ' ' || *c == 0x7f)
                return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: invalid session token");
    return STSROLE_OK;
}

static int
check_request(const struct stsrole_sigv4_request *req, struct stsrole_error *err)
{
    const unsigned char *c;

    if (req == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: no request");
    if (req->method == NULL || req->method[0] == '\0')
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: missing method");
    for (c = (const unsigned char *)req->method; *c != '\0'; c++)
        if (*c <= ' ' || *c >= 0x7f)
            return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: invalid method");
    if (req->path != NULL && req->path[0] != '\0' && req->path[0] != '/')
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: path must start with '/'");
    if (req->headers == NULL && req->n_headers > 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: headers missing");
    if (req->payload == NULL && req->payload_len > 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: payload missing");
    return STSROLE_OK;
}

/*
 * Canonical URI.  With normalize (every service but S3) '.' and '..'
 * segments and empty segments go, as botocore's remove_dot_segments does,
 * and each segment is encoded again, '%' included: AWS encodes non-S3 paths
 * twice.  S3 paths are used as they are, encoded once.
 */
static int
canonical_path(struct stsrole_buf *out, const char *path, int normalize)
{
    const char **seg = NULL;
    size_t *seglen = NULL;
    size_t n = 0, max = 1, len, i, start;
    int rc;

    if (path == NULL || path[0] == '\0')
        return stsrole_buf_puts(out, "/");
    len = strlen(path);
    if (!normalize)
        return encode(out, path, len, 0, 1);

    for (i = 0; i < len; i++)
        max += path[i] == '/';
    seg = calloc(max, sizeof(*seg));
    seglen = calloc(max, sizeof(*seglen));
    if (seg == NULL || seglen == NULL) {
        rc = STSROLE_E_NOMEM;
        goto out;
    }
    for (start = 0; start <= len; start = i + 1) {
        size_t l;

        for (i = start; i < len && path[i] != '/'; i++)
            ;
        l = i - start;
        if (l == 0 || (l == 1 && path[start] == '.'))
            continue;
        if (l == 2 && path[start] == '.' && path[start + 1] == '.') {
            if (n > 0)
                n--;
            continue;
        }
        seg[n] = path + start;
        seglen[n++] = l;
    }
    rc = stsrole_buf_puts(out, "/");
    for (i = 0; i < n && rc == STSROLE_OK; i++) {
        if (i > 0)
            rc = stsrole_buf_puts(out, "/");
        if (rc == STSROLE_OK)
            rc = encode(out, seg[i], seglen[i], 1, 0);
    }
    if (rc == STSROLE_OK && n > 0 && path[len - 1] == '/')
        rc = stsrole_buf_puts(out, "/");
out:
    free(seg);
    free(seglen);
    return rc;
}

static void
params_free(struct sigv4_params *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        stsrole_free_secret(l->v[i].key);
        stsrole_free_secret(l->v[i].value);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* Adds a raw (decoded) key and value, encoding both with '/' as %2F. */
static int
params_add(struct sigv4_params *l, const char *k, size_t klen, const char *v, size_t vlen)
{
    struct stsrole_buf kb, vb;
    int rc;

    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        struct sigv4_param *nv;

        if (ncap > SIZE_MAX / sizeof(*nv))
            return STSROLE_E_NOMEM;
        nv = realloc(l->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return STSROLE_E_NOMEM;
        l->v = nv;
        l->cap = ncap;
    }
    stsrole_buf_init(&kb, 0);
    stsrole_buf_init(&vb, 0);
    rc = encode(&kb, k, klen, 1, 0);
    if (rc == STSROLE_OK)
        rc = encode(&vb, v, vlen, 1, 0);
    if (rc != STSROLE_OK) {
        stsrole_buf_free(&kb);
        stsrole_buf_free(&vb);
        return rc;
    }
    l->v[l->n].key = stsrole_buf_steal(&kb);
    l->v[l->n].value = stsrole_buf_steal(&vb);
    if (l->v[l->n].key == NULL || l->v[l->n].value == NULL) {
        stsrole_free_secret(l->v[l->n].key);
        stsrole_free_secret(l->v[l->n].value);
        return STSROLE_E_NOMEM;
    }
    l->n++;
    return STSROLE_OK;
}

/* Decodes %XX; a '%' that starts no valid escape stays a literal '%'. */
static int
percent_decode(struct stsrole_buf *out, const char *s, size_t len)
{
    size_t i;
    int rc = STSROLE_OK;

    for (i = 0; i < len && rc == STSROLE_OK; i++) {
        char c = s[i];

        if (is_escape(s, len, i)) {
            c = (char)(hex_value((unsigned char)s[i + 1]) << 4 |
                       hex_value((unsigned char)s[i + 2]));
            i += 2;
        }
        rc = stsrole_buf_append(out, &c, 1);
    }
    return rc;
}

/*
 * The request's own query: each key and value is decoded and encoded
 * again, so a client's encoding and raw UTF-8 both end up in AWS's form.
 * A parameter without '=' has an empty value ("key=").
 */
static int
parse_query(struct sigv4_params *l, const char *query)
{
    struct stsrole_buf k, v;
    const char *p = query, *end, *eq;
    int rc = STSROLE_OK;

    if (query == NULL)
        return STSROLE_OK;
    stsrole_buf_init(&k, 0);
    stsrole_buf_init(&v, 0);
    while (*p != '\0' && rc == STSROLE_OK) {
        end = strchr(p, '&');
        if (end == NULL)
            end = p + strlen(p);
        if (end > p) {
            eq = memchr(p, '=', (size_t)(end - p));
            if (eq == NULL)
                eq = end;
            stsrole_buf_reset(&k);
            stsrole_buf_reset(&v);
            rc = percent_decode(&k, p, (size_t)(eq - p));
            if (rc == STSROLE_OK && eq < end)
                rc = percent_decode(&v, eq + 1, (size_t)(end - eq - 1));
            if (rc == STSROLE_OK)
                rc = params_add(l, k.data != NULL ? k.data : "", k.len,
                                v.data != NULL ? v.data : "", v.len);
        }
        p = *end == '&' ? end + 1 : end;
    }
    stsrole_buf_free(&k);
    stsrole_buf_free(&v);
    return rc;
}

/* Sorted by encoded key, then encoded value, byte by byte (SigV4 rules). */
static int
param_cmp(const void *a, const void *b)
{
    const struct sigv4_param *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    return c != 0 ? c : strcmp(x->value, y->value);
}

static int
params_join(struct stsrole_buf *out, struct sigv4_params *l)
{
    size_t i;
    int rc = STSROLE_OK;

    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), param_cmp);
    for (i = 0; i < l->n && rc == STSROLE_OK; i++)
        rc = stsrole_buf_printf(out, "%s%s=%s", i > 0 ? "&" : "", l->v[i].key, l->v[i].value);
    return rc;
}

static int
header_cmp(const void *a, const void *b)
{
    const struct sigv4_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    if (c != 0)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int
is_unsigned_header(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(unsigned_headers) / sizeof(unsigned_headers[0]); i++)
        if (strcmp(unsigned_headers[i], name) == 0)
            return 1;
    return 0;
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trimall: no leading or trailing blanks, inner runs (and folded lines)
 * become one space. */
static int
append_trimmed(struct stsrole_buf *out, const char *v)
{
    int rc = STSROLE_OK, pending = 0, any = 0;

    for (; *v != '\0' && rc == STSROLE_OK; v++) {
        if (is_space(*v)) {
            pending = any;
            continue;
        }
        if (pending)
            rc = stsrole_buf_append(out, " ", 1);
        if (rc == STSROLE_OK)
            rc = stsrole_buf_append(out, v, 1);
        pending = 0;
        any = 1;
    }
    return rc;
}

static void
headers_free(struct sigv4_header *h, size_t n)
{
    size_t i;

    if (h == NULL)
        return;
    for (i = 0; i < n; i++)
        free(h[i].name);
    free(h);
}

/*
 * Canonical headers ("name:value\n" each) and the signed-headers list.
 * X-Amz-Date and the session token are signed headers too.
 */
static int
canonical_headers(const struct stsrole_sigv4_request *req, const struct stsrole_sigv4_params *p,
                  const struct sigv4_time *t, struct stsrole_buf *canon,
                  struct stsrole_buf *signed_headers, struct stsrole_error *err)
{
    struct sigv4_header *h;
    size_t n = 0, i, j;
    int rc = STSROLE_OK, have_host = 0;

    if (req->n_headers > SIZE_MAX / sizeof(*h) - 2)
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: too many headers");
    h = calloc(req->n_headers + 2, sizeof(*h));
    if (h == NULL)
        return fail_status(err, STSROLE_E_NOMEM, "headers");
    for (i = 0; i < req->n_headers; i++) {
        const char *name = req->headers[i].name;
        const unsigned char *c;
        char *lower;

        if (name == NULL || name[0] == '\0' || req->headers[i].value == NULL) {
            rc = stsrole_fail(err, STSROLE_E_INVALID, "sigv4: header %zu has no name or value", i);
            goto out;
        }
        for (c = (const unsigned char *)name; *c != '\0'; c++) {
            if (*c <= ' ' || *c >= 0x7f || *c == ':') {
                rc = stsrole_fail(err, STSROLE_E_INVALID, "sigv4: invalid header name");
                goto out;
            }
        }
        lower = strdup(name);
        if (lower == NULL) {
            rc = fail_status(err, STSROLE_E_NOMEM, "headers");
            goto out;
        }
        for (j = 0; lower[j] != '\0'; j++)
            if (lower[j] >= 'A' && lower[j] <= 'Z')
                lower[j] = (char)(lower[j] - 'A' + 'a');
        if (is_unsigned_header(lower)) {
            free(lower);
            continue;
        }
        have_host |= strcmp(lower, "host") == 0;
        h[n].name = lower;
        h[n].value = req->headers[i].value;
        h[n].order = i;
        n++;
    }
    if (!have_host) {
        rc = stsrole_fail(err, STSROLE_E_INVALID, "sigv4: the request has no Host header");
        goto out;
    }
    h[n].name = strdup("x-amz-date");
    h[n].value = t->amz_date;
    h[n].order = req->n_headers;
    if (h[n++].name == NULL) {
        rc = fail_status(err, STSROLE_E_NOMEM, "headers");
        goto out;
    }
    if (has_token(p)) {
        h[n].name = strdup("x-amz-security-token");
        h[n].value = p->session_token;
        h[n].order = req->n_headers + 1;
        if (h[n++].name == NULL) {
            rc = fail_status(err, STSROLE_E_NOMEM, "headers");
            goto out;
        }
    }
    qsort(h, n, sizeof(*h), header_cmp);
    /* Repeated names become one line, values joined by ',' in request order. */
    for (i = 0; i < n && rc == STSROLE_OK; i = j) {
        rc = stsrole_buf_printf(canon, "%s:", h[i].name);
        if (rc == STSROLE_OK)
            rc = stsrole_buf_printf(signed_headers, "%s%s", i > 0 ? ";" : "", h[i].name);
        for (j = i; j < n && rc == STSROLE_OK && strcmp(h[j].name, h[i].name) == 0; j++) {
            if (j > i)
                rc = stsrole_buf_puts(canon, ",");
            if (rc == STSROLE_OK)
                rc = append_trimmed(canon, h[j].value);
        }
        if (rc == STSROLE_OK)
            rc = stsrole_buf_puts(canon, "\n");
    }
    if (rc != STSROLE_OK)
        rc = fail_status(err, rc, "headers");
out:
    headers_free(h, n);
    return rc;
}

/*
 * S3 signs the x-amz-content-sha256 header's value as the payload hash
 * (S3 API Reference, "Signature Calculations for the Authorization
 * Header"): the header must be there and say what p->payload_hash says.
 */
static int
s3_payload_hash(const struct stsrole_sigv4_request *req, const struct stsrole_sigv4_params *p,
                char out[65], struct stsrole_error *err)
{
    size_t i;

    if (strcmp(p->payload_hash, "UNSIGNED-PAYLOAD") != 0 &&
        (strlen(p->payload_hash) != 64 || strspn(p->payload_hash, "0123456789abcdef") != 64))
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: invalid S3 payload hash");
    for (i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, "x-amz-content-sha256") == 0 &&
            strcmp(req->headers[i].value, p->payload_hash) == 0)
            break;
    if (i == req->n_headers)
        return stsrole_fail(err, STSROLE_E_INVALID,
                            "sigv4: S3 needs x-amz-content-sha256 equal to the payload hash");
    snprintf(out, 65, "%s", p->payload_hash);
    return STSROLE_OK;
}

/* Stage 1: the canonical request, and the signed headers' names into signed_out. */
static int
build_canonical(const struct stsrole_sigv4_request *req, const struct stsrole_sigv4_params *p,
                const struct sigv4_time *t, struct stsrole_buf *out, struct stsrole_buf *signed_out,
                struct stsrole_error *err)
{
    struct stsrole_buf canon_hdrs, signed_hdrs, query;
    struct sigv4_params params = {NULL, 0, 0};
    char payload_hash[65];
    int rc;

    stsrole_buf_init(&canon_hdrs, 0);
    stsrole_buf_init(&signed_hdrs, 0);
    stsrole_buf_init(&query, 0);
    rc = canonical_headers(req, p, t, &canon_hdrs, &signed_hdrs, err);
    if (rc != STSROLE_OK)
        goto out;
    rc = parse_query(&params, req->query);
    if (rc == STSROLE_OK)
        rc = params_join(&query, &params);
    if (rc != STSROLE_OK) {
        rc = fail_status(err, rc, "the canonical query");
        goto out;
    }
    if (p->payload_hash != NULL) {
        rc = s3_payload_hash(req, p, payload_hash, err);
        if (rc != STSROLE_OK)
            goto out;
    } else {
        stsrole_sha256_hex(req->payload, req->payload_len, payload_hash);
    }
    if (payload_hash[0] == '\0') {
        rc = stsrole_fail(err, STSROLE_E_NOMEM, "sigv4: libcrypto SHA-256 failed");
        goto out;
    }
    stsrole_buf_reset(out);
    rc = stsrole_buf_printf(out, "%s\n", req->method);
    if (rc == STSROLE_OK)
        rc = canonical_path(out, req->path, p->normalize_path);
    if (rc == STSROLE_OK)
        rc = stsrole_buf_printf(out, "\n%s\n%s\n%s\n%s", query.len ? query.data : "",
                                canon_hdrs.data, signed_hdrs.data, payload_hash);
    if (rc == STSROLE_OK && signed_out != NULL) {
        stsrole_buf_reset(signed_out);
        rc = stsrole_buf_append(signed_out, signed_hdrs.data, signed_hdrs.len);
    }
    if (rc != STSROLE_OK)
        rc = fail_status(err, rc, "the canonical request");
out:
    params_free(&params);
    stsrole_buf_free(&canon_hdrs);
    stsrole_buf_free(&signed_hdrs);
    stsrole_buf_free(&query);
    return rc;
}

static int
check_all(const struct stsrole_sigv4_request *req, const struct stsrole_sigv4_params *p,
          struct sigv4_time *t, struct stsrole_error *err)
{
    int rc = check_request(req, err);

    if (rc == STSROLE_OK)
        rc = check_scope(p, t, err);
    if (rc == STSROLE_OK)
        rc = check_credentials(p, err);
    return rc;
}

int
stsrole_sigv4_canonical_request(const struct stsrole_sigv4_request *req,
                                const struct stsrole_sigv4_params *p, struct stsrole_buf *out,
                                struct stsrole_buf *signed_headers, struct stsrole_error *err)
{
    struct sigv4_time t;
    int rc;

    if (out == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: no output buffer");
    rc = check_all(req, p, &t, err);
    if (rc != STSROLE_OK)
        return rc;
    return build_canonical(req, p, &t, out, signed_headers, err);
}

int
stsrole_sigv4_string_to_sign(const struct stsrole_sigv4_params *p, const char *canonical_request,
                             struct stsrole_buf *out, struct stsrole_error *err)
{
    struct sigv4_time t;
    char hash[65];
    int rc;

    if (canonical_request == NULL || canonical_request[0] == '\0' || out == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: no canonical request");
    rc = check_scope(p, &t, err);
    if (rc != STSROLE_OK)
        return rc;
    stsrole_sha256_hex(canonical_request, strlen(canonical_request), hash);
    if (hash[0] == '\0')
        return stsrole_fail(err, STSROLE_E_NOMEM, "sigv4: libcrypto SHA-256 failed");
    stsrole_buf_reset(out);
    rc = stsrole_buf_printf(out, SIGV4_ALGORITHM "\n%s\n%s/%s/%s/" SIGV4_TERMINATOR "\n%s",
                            t.amz_date, t.date, p->region, p->service, hash);
    if (rc != STSROLE_OK)
        return fail_status(err, rc, "the string to sign");
    return STSROLE_OK;
}

int
stsrole_sigv4_signing_key(const struct stsrole_sigv4_params *p, unsigned char key[32],
                          struct stsrole_error *err)
{
    struct sigv4_time t;
    struct stsrole_buf secret;
    unsigned char a[32], b[32];
    int rc;

    if (key == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: no key buffer");
    rc = check_scope(p, &t, err);
    if (rc != STSROLE_OK)
        return rc;
    if (p->secret_access_key == NULL || p->secret_access_key[0] == '\0')
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: missing secret access key");
    stsrole_buf_init(&secret, 0);
    rc = stsrole_buf_printf(&secret, "AWS4%s", p->secret_access_key);
    if (rc != STSROLE_OK) {
        stsrole_buf_free(&secret);
        return fail_status(err, rc, "the signing key");
    }
    /* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
    rc = hmac_sha256(secret.data, secret.len, t.date, strlen(t.date), a);
    if (rc == STSROLE_OK)
        rc = hmac_sha256(a, sizeof(a), p->region, strlen(p->region), b);
    if (rc == STSROLE_OK)
        rc = hmac_sha256(b, sizeof(b), p->service, strlen(p->service), a);
    if (rc == STSROLE_OK)
        rc = hmac_sha256(a, sizeof(a), SIGV4_TERMINATOR, strlen(SIGV4_TERMINATOR), key);
    stsrole_buf_free(&secret);
    stsrole_wipe(a, sizeof(a));
    stsrole_wipe(b, sizeof(b));
    if (rc != STSROLE_OK) {
        stsrole_wipe(key, 32);
        return stsrole_fail(err, rc, "sigv4: libcrypto HMAC-SHA256 failed");
    }
    return STSROLE_OK;
}

int
stsrole_sigv4_signature(const unsigned char key[32], const char *string_to_sign, char out[65],
                        struct stsrole_error *err)
{
    unsigned char mac[32];
    int rc;

    if (key == NULL || string_to_sign == NULL || string_to_sign[0] == '\0' || out == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: no key or string to sign");
    rc = hmac_sha256(key, 32, string_to_sign, strlen(string_to_sign), mac);
    if (rc != STSROLE_OK) {
        out[0] = '\0';
        return stsrole_fail(err, rc, "sigv4: libcrypto HMAC-SHA256 failed");
    }
    stsrole_hex(mac, sizeof(mac), out);
    stsrole_wipe(mac, sizeof(mac));
    return STSROLE_OK;
}

/* Stages 2 and 3 on a canonical request: the hex signature into sig. */
static int
sign_canonical(const struct stsrole_sigv4_params *p, const char *canonical, char sig[65],
               struct stsrole_error *err)
{
    struct stsrole_buf sts;
    unsigned char key[32];
    int rc;

    stsrole_buf_init(&sts, 0);
    rc = stsrole_sigv4_string_to_sign(p, canonical, &sts, err);
    if (rc == STSROLE_OK)
        rc = stsrole_sigv4_signing_key(p, key, err);
    if (rc == STSROLE_OK)
        rc = stsrole_sigv4_signature(key, sts.data, sig, err);
    stsrole_wipe(key, sizeof(key));
    stsrole_buf_free(&sts);
    return rc;
}

int
stsrole_sigv4_sign_headers(const struct stsrole_sigv4_request *req,
                           const struct stsrole_sigv4_params *p, struct stsrole_sigv4_signed *out,
                           struct stsrole_error *err)
{
    struct stsrole_buf canon, signed_hdrs, auth;
    struct sigv4_time t;
    char sig[65];
    int rc;

    if (out == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "sigv4: no output");
    memset(out, 0, sizeof(*out));
    rc = check_all(req, p, &t, err);
    if (rc != STSROLE_OK)
        return rc;
    stsrole_buf_init(&canon, 0);
    stsrole_buf_init(&signed_hdrs, 0);
    stsrole_buf_init(&auth, 0);
    rc = build_canonical(req, p, &t, &canon, &signed_hdrs, err);
    if (rc == STSROLE_OK)
        rc = sign_canonical(p, canon.data, sig, err);
    if (rc == STSROLE_OK) {
        rc = stsrole_buf_printf(&auth,
                                SIGV4_ALGORITHM " Credential=%s/%s/%s/%s/" SIGV4_TERMINATOR
                                                ", SignedHeaders=%s, Signature=%s",
                                p->access_key_id, t.date, p->region, p->service, signed_hdrs.data,
                                sig);
        if (rc != STSROLE_OK)
            rc = fail_status(err, rc, "the Authorization header");
    }
    if (rc == STSROLE_OK) {
        out->authorization = stsrole_buf_steal(&auth);
        if (out->authorization == NULL)
            rc = fail_status(err, STSROLE_E_NOMEM, "the Authorization header");
    }
    if (rc == STSROLE_OK) {
        memcpy(out->amz_date, t.amz_date, sizeof(out->amz_date));
        memcpy(out->signature, sig, sizeof(out->signature));
    }
    stsrole_buf_free(&canon);
    stsrole_buf_free(&signed_hdrs);
    stsrole_buf_free(&auth);
    return rc;
}

void
stsrole_sigv4_signed_free(struct stsrole_sigv4_signed *s)
{
    if (s == NULL)
        return;
    stsrole_free_secret(s->authorization);
    stsrole_wipe(s, sizeof(*s));
}
