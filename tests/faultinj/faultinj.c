/* SPDX-License-Identifier: BSD-3-Clause */
/* faultinj.c: link-time (--wrap) fault injection and a wipe-before-free check for test builds. */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "faultinj.h"
#include "sts.h"

/*
 * Everything here that allocates or does I/O for its own sake calls the
 * __real_ function (or stdio, which is not wrapped), so the counts are
 * the code under test's calls only.  The code under test is single-
 * threaded (PAM module, gateway main loop): no locking.
 */

#define MAX_NAMES 32
#define MAX_SECRETS 64
#define MAX_FRAMES 32
#define ARENA_MAX (256u * 1024 * 1024)

struct counter {
    const char *name;
    unsigned long calls;
};

struct secret {
    char label[32];
    unsigned char *bytes;
    size_t len;
    int anchored;
};

/* One freed block as it was at free(): where from, and its bytes. */
struct kept {
    size_t len;
    int nframes;
    uintptr_t frames[MAX_FRAMES];
};

static struct counter counters[MAX_NAMES];
static int n_counters;
static char fail_name[64];
static unsigned long fail_at;
static int fired;
static uintptr_t fired_frames[MAX_FRAMES];
static int fired_nframes;
static unsigned long fired_n;
static struct secret secrets[MAX_SECRETS];
static int n_secrets;
static unsigned char *arena;
static size_t arena_len, arena_cap;
static unsigned long arena_overflow;
static int ready, reported, in_hook, no_keep;
static uintptr_t self_base;

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void
add_secret(const char *label, const unsigned char *bytes, size_t len, int anchored)
{
    struct secret *s;
    int i;

    if (len == 0 || n_secrets >= MAX_SECRETS)
        return;
    for (i = 0; i < n_secrets; i++) {
        if (secrets[i].len == len && memcmp(secrets[i].bytes, bytes, len) == 0)
            return;
    }
    s = &secrets[n_secrets];
    s->bytes = __real_malloc(len);
    if (s->bytes == NULL)
        return;
    memcpy(s->bytes, bytes, len);
    s->len = len;
    s->anchored = anchored;
    snprintf(s->label, sizeof(s->label), "%s", label);
    n_secrets++;
}

static void
load_secrets(const char *path)
{
    char line[4096], label[32], flag[4], hex[4000];
    unsigned char bytes[2000];
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t i, n;

        if (sscanf(line, "%31s %3s %3999s", label, flag, hex) != 3)
            continue;
        n = strlen(hex) / 2;
        for (i = 0; i < n && i < sizeof(bytes); i++) {
            int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
            if (hi < 0 || lo < 0)
                break;
            bytes[i] = (unsigned char)(hi << 4 | lo);
        }
        if (i == n)
            add_secret(label, bytes, n, flag[0] == 'a');
    }
    fclose(f);
}

/* FAULTINJ_LEAK_CONTROL: one block that nothing frees or points to, so a
 * test can prove that the leak check it relies on sees this object. */
__attribute__((noinline)) static void
leak_control(void)
{
    volatile unsigned char *p = __real_malloc(4242);

    if (p != NULL)
        p[0] = 1;
    p = NULL;
}

static void
setup(void)
{
    const char *spec, *colon;
    Dl_info info;

    if (ready)
        return;
    ready = 1;
    if (dladdr((void *)setup, &info) != 0)
        self_base = (uintptr_t)info.dli_fbase;
    spec = getenv("FAULTINJ_FAIL");
    if (spec != NULL && (colon = strchr(spec, ':')) != NULL &&
        (size_t)(colon - spec) < sizeof(fail_name)) {
        memcpy(fail_name, spec, (size_t)(colon - spec));
        fail_name[colon - spec] = '\0';
        fail_at = strtoul(colon + 1, NULL, 10);
    }
    /* Off under valgrind: the scan reads the unwritten parts of blocks. */
    no_keep =
        getenv("FAULTINJ_FREECHECK") != NULL && strcmp(getenv("FAULTINJ_FREECHECK"), "0") == 0;
    if (getenv("FAULTINJ_LEAK_CONTROL") != NULL)
        leak_control();
    if (getenv("FAULTINJ_SECRETS") != NULL)
        load_secrets(getenv("FAULTINJ_SECRETS"));
}

/* Return addresses as offsets into this object (what addr2line and nm
 * use for a shared object); 0 marks a frame outside it. */
static int
stack_offsets(uintptr_t *out, int max)
{
    void *bt[MAX_FRAMES + 2];
    int n, i, k = 0;

    n = backtrace(bt, max + 2);
    for (i = 2; i < n && k < max; i++) {
        Dl_info info;
        if (dladdr(bt[i], &info) != 0 && (uintptr_t)info.dli_fbase == self_base)
            out[k++] = (uintptr_t)bt[i] - self_base - 1;
        else
            out[k++] = 0;
    }
    return k;
}

int
faultinj_should_fail(const char *name)
{
    struct counter *c = NULL;
    int i;

    setup();
    for (i = 0; i < n_counters; i++) {
        if (counters[i].name == name || strcmp(counters[i].name, name) == 0) {
            c = &counters[i];
            break;
        }
    }
    if (c == NULL) {
        if (n_counters >= MAX_NAMES)
            return 0;
        c = &counters[n_counters++];
        c->name = name;
    }
    c->calls++;
    if (fired || in_hook || fail_at == 0 || c->calls != fail_at || strcmp(name, fail_name) != 0)
        return 0;
    fired = 1;
    fired_n = c->calls;
    in_hook = 1;
    fired_nframes = stack_offsets(fired_frames, MAX_FRAMES);
    in_hook = 0;
    return 1;
}

/* ---- the wipe-before-free check ------------------------------------ */

static void
keep_block(const void *p, size_t len)
{
    struct kept k;
    size_t need, i;

    if (no_keep)
        return;
    for (i = 0; i < len && ((const unsigned char *)p)[i] == 0; i++)
        ;
    if (i == len)
        return; /* all zero: wiped, or never written */
    need = sizeof(k) + len;
    if (arena_len + need > arena_cap) {
        size_t ncap = arena_cap ? arena_cap * 2 : 1u << 20;
        unsigned char *n;
        while (ncap < arena_len + need)
            ncap *= 2;
        if (ncap > ARENA_MAX || (n = __real_realloc(arena, ncap)) == NULL) {
            arena_overflow++;
            return;
        }
        arena = n;
        arena_cap = ncap;
    }
    memset(&k, 0, sizeof(k));
    k.len = len;
    in_hook = 1;
    k.nframes = stack_offsets(k.frames, MAX_FRAMES);
    in_hook = 0;
    memcpy(arena + arena_len, &k, sizeof(k));
    memcpy(arena + arena_len + sizeof(k), p, len);
    arena_len += need;
}

static const unsigned char *
find(const unsigned char *hay, size_t n, const struct secret *s)
{
    if (s->anchored)
        return n > s->len && memcmp(hay, s->bytes, s->len) == 0 && hay[s->len] == '\0' ? hay : NULL;
    return memmem(hay, n, s->bytes, s->len);
}

void
faultinj_learn_secret(const char *label, const char *value)
{
    setup();
    if (value != NULL)
        add_secret(label, (const unsigned char *)value, strlen(value), 0);
}

/* ---- the report ------------------------------------------------------ */

static void
print_frames(FILE *f, const uintptr_t *frames, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (frames[i] != 0)
            fprintf(f, " %lx", (unsigned long)frames[i]);
        else
            fprintf(f, " x");
    }
}

static void
write_report(FILE *f)
{
    size_t off;
    int i;

    for (i = 0; i < n_counters; i++)
        fprintf(f, "count %s %lu\n", counters[i].name, counters[i].calls);
    if (fired) {
        fprintf(f, "fired %s %lu", fail_name, fired_n);
        print_frames(f, fired_frames, fired_nframes);
        fputc('\n', f);
    }
    for (off = 0; off < arena_len;) {
        struct kept k;
        const unsigned char *data;

        memcpy(&k, arena + off, sizeof(k));
        data = arena + off + sizeof(k);
        for (i = 0; i < n_secrets; i++) {
            if (find(data, k.len, &secrets[i]) != NULL) {
                fprintf(f, "violation %s %zu", secrets[i].label, k.len);
                print_frames(f, k.frames, k.nframes);
                fputc('\n', f);
            }
        }
        off += sizeof(k) + k.len;
    }
    for (i = 0; i < n_secrets; i++) {
        size_t j;
        if (strncmp(secrets[i].label, "learned-", 8) != 0)
            continue;
        fprintf(f, "learned %s ", secrets[i].label);
        for (j = 0; j < secrets[i].len; j++)
            fprintf(f, "%02x", secrets[i].bytes[j]);
        fputc('\n', f);
    }
    if (arena_overflow)
        fprintf(f, "arena_overflow %lu\n", arena_overflow);
}

static void
report(void)
{
    const char *path = getenv("FAULTINJ_REPORT");
    FILE *f;
    int i;

    if (reported || !ready)
        return;
    reported = 1;
    if (path != NULL && (f = fopen(path, "a")) != NULL) {
        write_report(f);
        fclose(f);
    }
    /* The secrets learned here must not outlive the check either. */
    for (i = 0; i < n_secrets; i++) {
        explicit_bzero(secrets[i].bytes, secrets[i].len);
        __real_free(secrets[i].bytes);
    }
    n_secrets = 0;
    if (arena != NULL) {
        explicit_bzero(arena, arena_cap);
        __real_free(arena);
    }
    arena = NULL;
    arena_len = arena_cap = 0;
}

/* A PAM module is unloaded at pam_end (destructor); a program exits. */
__attribute__((destructor)) static void
at_unload(void)
{
    report();
}

/* ---- the wrappers ---------------------------------------------------- */

void *
__wrap_malloc(size_t n)
{
    if (faultinj_should_fail("malloc")) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
    if (faultinj_should_fail("calloc")) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
    size_t mark = arena_len;
    void *q;

    if (faultinj_should_fail("realloc")) {
        errno = ENOMEM;
        return NULL;
    }
    /* A block that realloc moves is freed by libc, unwiped: keep what it
     * held, and drop it again when the block stays where it is. */
    if (p != NULL)
        keep_block(p, malloc_usable_size(p));
    q = __real_realloc(p, n);
    if (q == p || q == NULL)
        arena_len = mark;
    return q;
}

void
__wrap_free(void *p)
{
    if (p != NULL) {
        setup();
        if (!reported)
            keep_block(p, malloc_usable_size(p));
    }
    __real_free(p);
}

char *
__wrap_strdup(const char *s)
{
    if (faultinj_should_fail("strdup")) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strdup(s);
}

char *
__wrap_strndup(const char *s, size_t n)
{
    if (faultinj_should_fail("strndup")) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strndup(s, n);
}

int
__wrap_open(const char *path, int flags, ...)
{
    mode_t mode = 0;

    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    if (faultinj_should_fail("open")) {
        errno = EMFILE;
        return -1;
    }
    return __real_open(path, flags, mode);
}

int
__wrap_openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;

    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    if (faultinj_should_fail("openat")) {
        errno = EMFILE;
        return -1;
    }
    return __real_openat(dirfd, path, flags, mode);
}

ssize_t
__wrap_read(int fd, void *buf, size_t n)
{
    if (faultinj_should_fail("read")) {
        errno = EIO;
        return -1;
    }
    return __real_read(fd, buf, n);
}

ssize_t
__wrap_write(int fd, const void *buf, size_t n)
{
    if (faultinj_should_fail("write")) {
        errno = ENOSPC;
        return -1;
    }
    return __real_write(fd, buf, n);
}

int
__wrap_fsync(int fd)
{
    if (faultinj_should_fail("fsync")) {
        errno = EIO;
        return -1;
    }
    return __real_fsync(fd);
}

int
__wrap_rename(const char *from, const char *to)
{
    if (faultinj_should_fail("rename")) {
        errno = EIO;
        return -1;
    }
    return __real_rename(from, to);
}

CURLcode
__wrap_curl_easy_perform(CURL *h)
{
    if (faultinj_should_fail("curl_easy_perform"))
        return CURLE_COULDNT_CONNECT;
    return __real_curl_easy_perform(h);
}

time_t
__wrap_time(time_t *t)
{
    if (faultinj_should_fail("time")) {
        errno = EOVERFLOW;
        if (t != NULL)
            *t = (time_t)-1;
        return (time_t)-1;
    }
    return __real_time(t);
}

int
__wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
    /* As the kernel does on failure, *ts is left as it was. */
    if (faultinj_should_fail("clock_gettime")) {
        errno = EINVAL;
        return -1;
    }
    return __real_clock_gettime(id, ts);
}

int
__wrap_RAND_bytes(unsigned char *buf, int n)
{
    if (faultinj_should_fail("RAND_bytes"))
        return 0;
    return __real_RAND_bytes(buf, n);
}

/* The minted secret key and token are random: learn them where the
 * answer is decoded, so blocks freed before they reach pam_putenv are
 * checked too.  (A cross-object reference inside the core, so --wrap
 * reaches it.) */
int
__wrap_stsrole_sts_parse_assume(const char *content_type, const char *body, size_t len,
                                struct stsrole_assumed *out, struct stsrole_error *err)
{
    int rc = __real_stsrole_sts_parse_assume(content_type, body, len, out, err);

    if (rc == STSROLE_OK) {
        faultinj_learn_secret("learned-secret-key", out->creds.secret_access_key);
        faultinj_learn_secret("learned-session-token", out->creds.session_token);
    }
    return rc;
}
