/* SPDX-License-Identifier: BSD-3-Clause */
/* faultinj.h: the -Wl,--wrap entry points of the fault-injection test build, and its hooks. */
#ifndef STSROLE_FAULTINJ_H
#define STSROLE_FAULTINJ_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <curl/curl.h>

/*
 * Linked into a test copy of a binary with -Wl,--wrap=NAME for every NAME
 * below.  --wrap rewrites only the references resolved when that binary
 * is linked: calls made inside libc, libcurl, libcjson, liboath, libpam or
 * OpenSSL themselves are neither counted nor failed.
 *
 * Environment:
 *   FAULTINJ_FAIL=NAME:N   the Nth call of NAME fails (once); unset: count only
 *   FAULTINJ_REPORT=PATH   appended when the binary is unloaded or exits:
 *       count NAME N                   calls seen
 *       fired NAME N OFF...            the failed call, as a backtrace (hex
 *                                      offsets into this object, "x" elsewhere)
 *       violation LABEL SIZE OFF...    a block freed with that secret still in it
 *       learned LABEL HEX              a secret learned while running
 *       arena_overflow N               freed blocks not kept for the check
 *   FAULTINJ_SECRETS=PATH  lines "LABEL FLAG HEX": bytes that must be wiped
 *                          before free; FLAG "a" matches only at the start of
 *                          a block followed by a NUL (short codes), "-" anywhere.
 *   FAULTINJ_LEAK_CONTROL=1  leak one block, to prove the leak check sees this object
 *   FAULTINJ_FREECHECK=0   no free() check (under valgrind, which would see the
 *                          scan read the unwritten parts of blocks)
 */

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_open(const char *path, int flags, ...);
int __wrap_openat(int dirfd, const char *path, int flags, ...);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int __wrap_fsync(int fd);
int __wrap_rename(const char *from, const char *to);
CURLcode __wrap_curl_easy_perform(CURL *h);
time_t __wrap_time(time_t *t);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_RAND_bytes(unsigned char *buf, int n);

/* The real functions, as --wrap names them. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_open(const char *path, int flags, ...);
int __real_openat(int dirfd, const char *path, int flags, ...);
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real_write(int fd, const void *buf, size_t n);
int __real_fsync(int fd);
int __real_rename(const char *from, const char *to);
CURLcode __real_curl_easy_perform(CURL *h);
time_t __real_time(time_t *t);
int __real_clock_gettime(clockid_t id, struct timespec *ts);
int __real_RAND_bytes(unsigned char *buf, int n);

/* Not failed, only watched: learns the minted secrets (faultinj.c). */
struct stsrole_assumed;
struct stsrole_error;
int __wrap_stsrole_sts_parse_assume(const char *content_type, const char *body, size_t len,
                                    struct stsrole_assumed *out, struct stsrole_error *err);
int __real_stsrole_sts_parse_assume(const char *content_type, const char *body, size_t len,
                                    struct stsrole_assumed *out, struct stsrole_error *err);

/* PAM's side (faultinj_pam.c), for the module only. */
struct pam_handle;
int __wrap_pam_putenv(struct pam_handle *pamh, const char *name_value);
int __real_pam_putenv(struct pam_handle *pamh, const char *name_value);
int __wrap_pam_set_data(struct pam_handle *pamh, const char *name, void *data,
                        void (*cleanup)(struct pam_handle *, void *, int));
int __real_pam_set_data(struct pam_handle *pamh, const char *name, void *data,
                        void (*cleanup)(struct pam_handle *, void *, int));

/* The gateway's side (faultinj_gw.c), for stsrole-gatewayd only: syslog()
 * into FAULTINJ_SYSLOG=PATH, one line per call, so a test can read it. */
void __wrap_syslog(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For wrappers of other interfaces (faultinj_pam.c, a gateway's own):
 * counts one call of NAME and says whether it is the one to fail.  NAME
 * must be a string literal (it is kept, not copied). */
int faultinj_should_fail(const char *name);

/* A secret seen while running (the minted secret key and token, which no
 * test knows in advance): every block freed later, and every block freed
 * before, is checked for it when the report is written. */
void faultinj_learn_secret(const char *label, const char *value);

#endif
