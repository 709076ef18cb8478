/* SPDX-License-Identifier: BSD-3-Clause */
/* stsrole.h: status codes, the error struct, and secret-safe buffers shared by all of lib/. */
#ifndef STSROLE_H
#define STSROLE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every library function that can fail returns one of these and fills a
 * struct stsrole_error.  The library never prints, exits or aborts: the
 * caller (PAM glue, gateway, CLI) decides what to log and which code to map.
 */
enum stsrole_status {
    STSROLE_OK = 0,
    STSROLE_E_NOMEM,    /* allocation failed */
    STSROLE_E_INVALID,  /* a local input (parameter, argument) is invalid */
    STSROLE_E_CONFIG,   /* configuration is invalid */
    STSROLE_E_UNSAFE,   /* a trusted file has unsafe owner, mode or is a symlink */
    STSROLE_E_IO,       /* local file or system error */
    STSROLE_E_NOTFOUND, /* a file, user, profile or role does not exist */
    /* AWS error classes (see stsrole_aws_classify in aws.h) */
    STSROLE_E_DENIED,    /* AccessDenied and friends: the caller is not allowed */
    STSROLE_E_REJECTED,  /* AWS said the request is invalid (ValidationError, ...) */
    STSROLE_E_THROTTLED, /* Throttling, 429: retryable */
    STSROLE_E_EXPIRED,   /* the base credentials are expired or invalid */
    STSROLE_E_SERVER,    /* 5xx, InternalFailure: retryable */
    STSROLE_E_NETWORK,   /* connect, TLS, timeout: retryable */
    STSROLE_E_PROTOCOL,  /* the answer is malformed, truncated or oversized */
};

#define STSROLE_ERRMSG_MAX 512

struct stsrole_error {
    enum stsrole_status status;
    char aws_code[64];    /* e.g. "AccessDenied", empty when not from AWS */
    char request_id[128]; /* AWS request id when known, else empty */
    char msg[STSROLE_ERRMSG_MAX];
};

/* Sets err (which may be NULL) and returns status, so callers can write
 * `return stsrole_fail(err, STSROLE_E_INVALID, "...")`. */
int stsrole_fail(struct stsrole_error *err, enum stsrole_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void stsrole_error_clear(struct stsrole_error *err);
/* A short stable name for a status ("denied", "network", ...). Never NULL. */
const char *stsrole_status_name(enum stsrole_status status);
/* True for the classes that may be retried: throttled, server, network. */
int stsrole_status_retryable(enum stsrole_status status);

/* Wipes len bytes in a way the compiler may not elide. */
void stsrole_wipe(void *p, size_t len);
/* Wipes a NUL-terminated secret and frees it. NULL is fine. */
void stsrole_free_secret(char *s);
/* Frees a NULL-terminated array of strings and the array. NULL is fine. */
void stsrole_strv_free(char **v);
/* strdup/strndup that return NULL on NULL input or allocation failure. */
char *stsrole_strdup(const char *s);
char *stsrole_strndup(const char *s, size_t n);

/*
 * A growable byte buffer, always NUL-terminated.  Its storage may hold
 * secrets (signing input, request bodies, responses), so it is wiped on
 * every reallocation and on free.  A buffer with max != 0 refuses to grow
 * past max bytes (STSROLE_E_PROTOCOL), which caps response sizes.
 */
struct stsrole_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void stsrole_buf_init(struct stsrole_buf *b, size_t max);
int stsrole_buf_append(struct stsrole_buf *b, const void *data, size_t len);
int stsrole_buf_puts(struct stsrole_buf *b, const char *s);
int stsrole_buf_printf(struct stsrole_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void stsrole_buf_reset(struct stsrole_buf *b); /* wipes, keeps storage */
void stsrole_buf_free(struct stsrole_buf *b);  /* wipes and frees */
/* Hands ownership of the data to the caller; the buffer is left empty. */
char *stsrole_buf_steal(struct stsrole_buf *b);

/* Exponential back-off: base_ms doubled n times (none when n <= 0), at
 * most cap_ms.  Callers add jitter, or not, themselves. */
int64_t stsrole_backoff_ms(int n, int64_t base_ms, int64_t cap_ms);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void stsrole_hex(const unsigned char *in, size_t len, char *out);

/* ISO-8601 UTC "YYYY-MM-DDTHH:MM:SSZ" into out[21]. */
void stsrole_iso8601(int64_t epoch, char out[21]);
/* Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" (UTC); returns 0 on success. */
int stsrole_parse_iso8601(const char *s, int64_t *epoch);

/* Decodes one UTF-8 sequence strictly (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) into *cp.  Returns its length (1
 * for ASCII), 0 if invalid or truncated. */
size_t stsrole_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif
