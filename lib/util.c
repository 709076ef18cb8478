/* SPDX-License-Identifier: BSD-3-Clause */
/* util.c: errors, wiping, strings and the secret-safe buffer. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stsrole.h"

int
stsrole_fail(struct stsrole_error *err, enum stsrole_status status, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return status;
    err->status = status;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return status;
}

void
stsrole_error_clear(struct stsrole_error *err)
{
    if (err != NULL)
        memset(err, 0, sizeof(*err));
}

const char *
stsrole_status_name(enum stsrole_status status)
{
    switch (status) {
    case STSROLE_OK:
        return "ok";
    case STSROLE_E_NOMEM:
        return "nomem";
    case STSROLE_E_INVALID:
        return "invalid";
    case STSROLE_E_CONFIG:
        return "config";
    case STSROLE_E_UNSAFE:
        return "unsafe";
    case STSROLE_E_IO:
        return "io";
    case STSROLE_E_NOTFOUND:
        return "notfound";
    case STSROLE_E_DENIED:
        return "denied";
    case STSROLE_E_REJECTED:
        return "rejected";
    case STSROLE_E_THROTTLED:
        return "throttled";
    case STSROLE_E_EXPIRED:
        return "expired";
    case STSROLE_E_SERVER:
        return "server";
    case STSROLE_E_NETWORK:
        return "network";
    case STSROLE_E_PROTOCOL:
        return "protocol";
    }
    return "unknown";
}

int
stsrole_status_retryable(enum stsrole_status status)
{
    return status == STSROLE_E_THROTTLED || status == STSROLE_E_SERVER ||
           status == STSROLE_E_NETWORK;
}

void
stsrole_wipe(void *p, size_t len)
{
    if (p != NULL && len > 0)
        explicit_bzero(p, len);
}

void
stsrole_free_secret(char *s)
{
    if (s == NULL)
        return;
    stsrole_wipe(s, strlen(s));
    free(s);
}

void
stsrole_strv_free(char **v)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

char *
stsrole_strdup(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}

char *
stsrole_strndup(const char *s, size_t n)
{
    return s == NULL ? NULL : strndup(s, n);
}

void
stsrole_buf_init(struct stsrole_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

static int
buf_reserve(struct stsrole_buf *b, size_t extra)
{
    size_t need, ncap;
    char *n;

    if (extra > SIZE_MAX - b->len - 1)
        return STSROLE_E_NOMEM;
    need = b->len + extra + 1;
    if (b->max != 0 && need - 1 > b->max)
        return STSROLE_E_PROTOCOL;
    if (need <= b->cap)
        return STSROLE_OK;
    ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    /* Not realloc: the old block may hold a secret and must be wiped. */
    n = malloc(ncap);
    if (n == NULL)
        return STSROLE_E_NOMEM;
    if (b->data != NULL) {
        memcpy(n, b->data, b->len + 1);
        stsrole_wipe(b->data, b->cap);
        free(b->data);
    } else {
        n[0] = '\0';
    }
    b->data = n;
    b->cap = ncap;
    return STSROLE_OK;
}

int
stsrole_buf_append(struct stsrole_buf *b, const void *data, size_t len)
{
    int rc = buf_reserve(b, len);

    if (rc != STSROLE_OK)
        return rc;
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return STSROLE_OK;
}

int
stsrole_buf_puts(struct stsrole_buf *b, const char *s)
{
    return stsrole_buf_append(b, s, strlen(s));
}

int
stsrole_buf_printf(struct stsrole_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return STSROLE_E_INVALID;
    rc = buf_reserve(b, (size_t)n);
    if (rc != STSROLE_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return STSROLE_OK;
}

void
stsrole_buf_reset(struct stsrole_buf *b)
{
    if (b->data != NULL) {
        stsrole_wipe(b->data, b->cap);
        b->data[0] = '\0';
    }
    b->len = 0;
}

void
stsrole_buf_free(struct stsrole_buf *b)
{
    if (b->data != NULL) {
        stsrole_wipe(b->data, b->cap);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

char *
stsrole_buf_steal(struct stsrole_buf *b)
{
    char *d = b->data;

    if (d == NULL)
        d = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return d;
}

void
stsrole_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * len] = '\0';
}

void
stsrole_iso8601(int64_t epoch, char out[21])
{
    time_t t = (time_t)epoch;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        strcpy(out, "1970-01-01T00:00:00Z");
}

int
stsrole_parse_iso8601(const char *s, int64_t *epoch)
{
    struct tm tm;
    const char *p;

    memset(&tm, 0, sizeof(tm));
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return -1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
        return -1;
    *epoch = (int64_t)timegm(&tm);
    return 0;
}

/* Decodes one UTF-8 sequence strictly (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF).  Returns its length, 0 if invalid. */
size_t
stsrole_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c;
    size_t len, i;

    if (n == 0)
        return 0;
    c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        c &= 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

int64_t
stsrole_backoff_ms(int n, int64_t base_ms, int64_t cap_ms)
{
    int64_t ms = base_ms;

    while (n-- > 0 && ms < cap_ms)
        ms *= 2;
    return ms > cap_ms ? cap_ms : ms;
}
