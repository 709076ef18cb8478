/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_audit_verify.c: libFuzzer target for stsrole_audit_verify_file, as `stsrolectl audit verify`
 * runs it. */
#include <sys/mman.h>
#include <unistd.h>

#include "audit.h"
#include "fuzz.h"
#include "hash.h"

/*
 * Input: one flag byte, then the log.  A line holding only "\f" ends one
 * file and starts the next (up to MAX_FILES), as when stsrolectl is given
 * the pieces of a rotated log, oldest first.  Flags:
 *   1  reseal: recompute each line's own hash member before verifying, so
 *      that mutations get past the hash check to seq, prev and the chain;
 *   2  rechain: set each line's prev to the SHA-256 of the line before.
 * A log that verifies is then tampered with, the way someone who can
 * write the file would: one byte of one line changed and that line's hash
 * recomputed, or the last line removed.  With the writer's head (its seq
 * and last line's SHA-256, which stsrolectl asks the gateway for), that
 * must always be caught; without it, everywhere but in the last line.
 */
#define MAX_INPUT (64 * 1024)
#define MAX_FILES 4
#define HASH_PREFIX ",\"hash\":\""
#define SUFFIX_LEN (sizeof(HASH_PREFIX) - 1 + 64 + 2) /* ,"hash":"<64 hex>"} */
#define PREV_KEY "\"prev\":\""

struct line {
    size_t off, len; /* in the log buffer, without '\n' */
    int nl;          /* ends with '\n' */
    int file;
};

struct log {
    char *buf;
    size_t size;
    struct line *lines;
    size_t n;
    int files;
};

static uint64_t
fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    while (n-- > 0)
        h = (h ^ *p++) * 1099511628211ULL;
    return h;
}

static int
has_suffix_shape(const char *l, size_t len)
{
    return len >= SUFFIX_LEN + 2 && l[0] == '{' &&
           memcmp(l + len - SUFFIX_LEN, HASH_PREFIX, sizeof(HASH_PREFIX) - 1) == 0 &&
           memcmp(l + len - 2, "\"}", 2) == 0;
}

/* The hash member of a line: SHA-256 of the line without it, closed with '}'. */
static void
body_hash(const char *l, size_t len, char out[65])
{
    char *body = malloc(len - SUFFIX_LEN + 1);

    FUZZ_REQUIRE(body != NULL);
    memcpy(body, l, len - SUFFIX_LEN);
    body[len - SUFFIX_LEN] = '}';
    stsrole_sha256_hex(body, len - SUFFIX_LEN + 1, out);
    free(body);
}

static void
reseal(char *l, size_t len)
{
    char h[65];

    if (!has_suffix_shape(l, len))
        return;
    body_hash(l, len, h);
    memcpy(l + len - SUFFIX_LEN + sizeof(HASH_PREFIX) - 1, h, 64);
}

/* Points the last "prev":"<64 chars> before the hash member at prev. */
static void
rechain(char *l, size_t len, const char *prev)
{
    size_t klen = sizeof(PREV_KEY) - 1, i;

    if (!has_suffix_shape(l, len))
        return;
    for (i = len - SUFFIX_LEN; i-- > 0;) {
        if (i + klen + 64 + 1 <= len - SUFFIX_LEN && memcmp(l + i, PREV_KEY, klen) == 0) {
            memcpy(l + i + klen, prev, 64);
            return;
        }
    }
}

static void
split(struct log *lg, const uint8_t *data, size_t size)
{
    size_t i, start = 0;

    lg->buf = malloc(size + 1);
    lg->lines = calloc(size + 1, sizeof(*lg->lines));
    FUZZ_REQUIRE(lg->buf != NULL && lg->lines != NULL);
    if (size > 0)
        memcpy(lg->buf, data, size);
    lg->size = size;
    lg->n = 0;
    lg->files = 1;
    for (i = 0; i <= size; i++) {
        if (i < size && lg->buf[i] != '\n')
            continue;
        if (i == size && start == size)
            break;
        if (i < size && i - start == 1 && lg->buf[start] == '\f' && lg->files < MAX_FILES) {
            lg->files++;
        } else {
            lg->lines[lg->n].off = start;
            lg->lines[lg->n].len = i - start;
            lg->lines[lg->n].nl = i < size;
            lg->lines[lg->n].file = lg->files - 1;
            lg->n++;
        }
        start = i + 1;
    }
}

static void
copy_log(struct log *dst, const struct log *src)
{
    dst->buf = malloc(src->size + 1);
    dst->lines = calloc(src->n + 1, sizeof(*dst->lines));
    FUZZ_REQUIRE(dst->buf != NULL && dst->lines != NULL);
    if (src->size > 0)
        memcpy(dst->buf, src->buf, src->size);
    if (src->n > 0)
        memcpy(dst->lines, src->lines, src->n * sizeof(*src->lines));
    dst->size = src->size;
    dst->n = src->n;
    dst->files = src->files;
}

static void
free_log(struct log *lg)
{
    free(lg->buf);
    free(lg->lines);
}

/*
 * Verifies the files in order with one verifier, as ctl_audit does: the
 * writer's head (head_seq 0: none) is given just before the last file.
 * The files are memfds, read through their /proc path.
 */
static int
verify(const struct log *lg, uint64_t head_seq, const char *head_prev,
       struct stsrole_audit_verifier *v, struct stsrole_error *err)
{
    char path[64];
    size_t i;
    int f, fd, rc = STSROLE_OK;

    stsrole_audit_verify_init(v);
    stsrole_error_clear(err);
    for (f = 0; f < lg->files && rc == STSROLE_OK; f++) {
        fd = memfd_create("audit", MFD_CLOEXEC);
        FUZZ_REQUIRE(fd >= 0);
        for (i = 0; i < lg->n; i++) {
            if (lg->lines[i].file != f)
                continue;
            FUZZ_REQUIRE(write(fd, lg->buf + lg->lines[i].off, lg->lines[i].len) ==
                         (ssize_t)lg->lines[i].len);
            if (lg->lines[i].nl)
                FUZZ_REQUIRE(write(fd, "\n", 1) == 1);
        }
        if (f == lg->files - 1 && head_seq != 0) {
            v->head_seq = head_seq;
            memcpy(v->head_prev, head_prev, 65);
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        rc = stsrole_audit_verify_file(path, v, err);
        close(fd);
        fuzz_check_error(err, rc);
        /* A readable file is either intact or broken at a line. */
        FUZZ_REQUIRE(rc == STSROLE_OK || rc == STSROLE_E_PROTOCOL);
        if (rc != STSROLE_OK)
            FUZZ_REQUIRE(v->bad_line >= 1 && v->why[0] != '\0');
    }
    return rc;
}

/* What an intact log means, checked without the verifier's own code. */
static void
check_intact(const struct log *lg, const struct stsrole_audit_verifier *v)
{
    char h[65], self[65], want[64 + 2];
    size_t i;

    FUZZ_REQUIRE(v->lines == lg->n);
    for (i = 0; i < lg->n; i++) {
        const char *l = lg->buf + lg->lines[i].off;
        size_t len = lg->lines[i].len;

        FUZZ_REQUIRE(lg->lines[i].nl);
        FUZZ_REQUIRE(has_suffix_shape(l, len));
        body_hash(l, len, h);
        FUZZ_REQUIRE(memcmp(l + len - SUFFIX_LEN + sizeof(HASH_PREFIX) - 1, h, 64) == 0);
        /* The line names the SHA-256 of the one before it.  Where is left
         * to the verifier: cJSON takes any byte up to ' ' (NUL included)
         * for white space, and stops a string at a raw NUL. */
        if (i > 0) {
            snprintf(want, sizeof(want), "\"%s", self);
            FUZZ_REQUIRE(memmem(l, len, want, strlen(want)) != NULL);
        }
        stsrole_sha256_hex(l, len, self);
    }
    if (lg->n > 0)
        FUZZ_REQUIRE(strcmp(v->prev, self) == 0);
}

/* One byte of line k changed, and its hash recomputed to match.  Half
 * the time the byte is a digit, raised by one: a seq, a uid, a time. */
static void
tamper_byte(const struct log *good, const struct stsrole_audit_verifier *v0, size_t k, uint64_t r)
{
    struct stsrole_audit_verifier v;
    struct stsrole_error err;
    struct log t;
    size_t p, body, digits = 0, i;
    uint8_t x = (uint8_t)((r >> 32) % 255 + 1);
    char *l;
    int rc;

    copy_log(&t, good);
    l = t.buf + t.lines[k].off;
    body = t.lines[k].len - SUFFIX_LEN;
    for (i = 0; i < body; i++)
        digits += l[i] >= '0' && l[i] <= '9';
    p = (size_t)((r >> 16) % body);
    if ((r >> 48) & 1 && digits > 0) {
        digits = (size_t)((r >> 16) % digits);
        for (p = 0; !(l[p] >= '0' && l[p] <= '9' && digits-- == 0); p++)
            ;
        x = (uint8_t)(l[p] ^ (l[p] == '9' ? '0' : l[p] + 1));
    } else if ((l[p] ^ x) == '\n') {
        x ^= 0x80;
    }
    l[p] = (char)(l[p] ^ x);
    reseal(l, t.lines[k].len);

    rc = verify(&t, v0->seq, v0->prev, &v, &err);
    if (rc == STSROLE_OK)
        fprintf(stderr,
                "detail: line %zu of %zu edited at byte %zu (0x%02x), hash recomputed: the log "
                "still verifies with the writer's head (seq %llu)\n",
                k + 1, t.n, p, (unsigned)x, (unsigned long long)v0->seq);
    FUZZ_REQUIRE(rc == STSROLE_E_PROTOCOL);
    if (k + 1 < t.n) {
        rc = verify(&t, 0, NULL, &v, &err);
        FUZZ_REQUIRE(rc == STSROLE_E_PROTOCOL);
    }
    free_log(&t);
}

/* The last line removed: only the writer's head can tell. */
static void
tamper_truncate(const struct log *good, const struct stsrole_audit_verifier *v0)
{
    struct stsrole_audit_verifier v;
    struct stsrole_error err;
    struct log t;
    int rc;

    copy_log(&t, good);
    t.n--;
    rc = verify(&t, v0->seq, v0->prev, &v, &err);
    if (rc == STSROLE_OK)
        fprintf(stderr, "detail: last line removed, the log still verifies with the head\n");
    FUZZ_REQUIRE(rc == STSROLE_E_PROTOCOL);
    free_log(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stsrole_audit_verifier v;
    struct stsrole_error err;
    struct log lg;
    char prev[65];
    uint64_t r;
    uint8_t flags;
    size_t i;
    int rc;

    if (size < 1 || size > MAX_INPUT)
        return 0;
    flags = data[0];
    split(&lg, data + 1, size - 1);
    memcpy(prev, STSROLE_AUDIT_GENESIS, 65);
    for (i = 0; i < lg.n; i++) {
        char *l = lg.buf + lg.lines[i].off;

        if ((flags & 2) && i > 0)
            rechain(l, lg.lines[i].len, prev);
        if (flags & 1)
            reseal(l, lg.lines[i].len);
        stsrole_sha256_hex(l, lg.lines[i].len, prev);
    }
    rc = verify(&lg, 0, NULL, &v, &err);
    if (rc == STSROLE_OK) {
        check_intact(&lg, &v);
        if (lg.n > 0) {
            /* The last line (which only the head protects), the first
             * (where a rotated file starts) and one more. */
            r = fnv1a(data, size);
            tamper_byte(&lg, &v, lg.n - 1, r);
            tamper_byte(&lg, &v, 0, r * 0x9e3779b97f4a7c15ULL + 1);
            tamper_byte(&lg, &v, (size_t)(r % lg.n), r * 0xbf58476d1ce4e5b9ULL + 7);
            tamper_truncate(&lg, &v);
        }
    }
    free_log(&lg);
    return 0;
}
