/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_usersfile.c: libFuzzer target for the users file: stsrole_totp_locate, and
 * stsrole_totp_verify / _step through liboath on a private copy. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "safefile.h"
#include "totp.h"

/*
 * Input: a first line "CODE WINDOW" (what the user types and the
 * configured totp_window), then a pam_oath users file.  The user is
 * always "alice", and the clock reads FIXED_NOW (RFC 6238's test time
 * 1234567890), at which the RFC's SHA-1 secret gives 005924 (T30, 6
 * digits), 89005924 (T30/8) and 713351 (T60); its HOTP counter 0 is 755224.
 *
 * The pure parser, stsrole_totp_locate, runs on the text.  Then, as root,
 * the text is written (mode 0600) into a private 0700 directory under
 * /dev/shm and the login's own calls run on it: stsrole_totp_verify,
 * whose liboath rewrites the file when it accepts a code, then
 * stsrole_totp_step, which the fleet replay check trusts to find the step
 * that liboath accepted.  Checked:
 *   - a code liboath accepts is refused the second time (replay);
 *   - the file liboath rewrote still passes stsrole's own checks;
 *   - the step of an accepted code can be found, in the text as given and
 *     in the rewritten file, unless the entry is event-based (no step).
 */
#define USERS_MAX_INPUT (64 * 1024)
#define FIXED_NOW ((time_t)1234567890)
#define USER "alice"

/* liboath reads the clock with time(); so does stsrole_totp_step.  While
 * fixed_clock is set, both see FIXED_NOW, so that every run is the same. */
static int fixed_clock;

time_t
time(time_t *t)
{
    struct timespec ts;
    time_t now = FIXED_NOW;

    if (!fixed_clock) {
        clock_gettime(CLOCK_REALTIME, &ts);
        now = ts.tv_sec;
    }
    if (t != NULL)
        *t = now;
    return now;
}

static char dir[64], path[96];
static int have_dir = -1; /* -1: not tried yet, 0: not root or no directory */

static void
remove_dir_at(const char *d_path)
{
    char p[128];
    DIR *d = opendir(d_path);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", d_path, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(d_path);
}

static void
remove_dir(void)
{
    remove_dir_at(dir);
}

/* A crash (abort) skips atexit: the directory is named after the pid, and
 * those of fuzzers that are gone are removed at the next start. */
static void
remove_stale(const char *base)
{
    static const char prefix[] = "fuzz-usersfile.";
    char p[128];
    DIR *d = opendir(base);
    struct dirent *e;
    long pid;
    char *end;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, sizeof(prefix) - 1) != 0)
            continue;
        pid = strtol(e->d_name + sizeof(prefix) - 1, &end, 10);
        if (*end != '\0' || pid <= 0)
            continue;
        /* Ours (a reused pid) or a process that no longer exists. */
        if (pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        snprintf(p, sizeof(p), "%s/%s", base, e->d_name);
        remove_dir_at(p);
    }
    closedir(d);
}

/* stsrole_totp_check_usersfile wants a root-owned file in a root-owned
 * directory that nobody else can write: only root can fuzz liboath's side. */
static int
setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

    if (geteuid() != 0) {
        fprintf(stderr, "fuzz_usersfile: not root, so only stsrole_totp_locate is fuzzed\n");
        return 0;
    }
    remove_stale(base);
    snprintf(dir, sizeof(dir), "%s/fuzz-usersfile.%ld", base, (long)getpid());
    if (mkdir(dir, 0700) != 0) {
        fprintf(stderr, "fuzz_usersfile: mkdir %s: %s; only stsrole_totp_locate is fuzzed\n", dir,
                strerror(errno));
        return 0;
    }
    snprintf(path, sizeof(path), "%s/users.oath", dir);
    atexit(remove_dir);
    return 1;
}

static void
write_usersfile(const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

    FUZZ_REQUIRE(fd >= 0);
    FUZZ_REQUIRE(fchmod(fd, 0600) == 0);
    FUZZ_REQUIRE(len == 0 || write(fd, text, len) == (ssize_t)len);
    FUZZ_REQUIRE(close(fd) == 0);
}

static char *
read_usersfile(void)
{
    struct stsrole_buf b;
    struct stsrole_error err;
    char *s;

    stsrole_error_clear(&err);
    FUZZ_REQUIRE(stsrole_read_safely(path, 0, STSROLE_SAFE_SECRET, USERS_MAX_INPUT * 4, &b, &err) ==
                 STSROLE_OK);
    s = fuzz_cstring((const uint8_t *)b.data, b.len);
    FUZZ_REQUIRE(s != NULL);
    stsrole_buf_free(&b);
    return s;
}

/* What stsrole_totp_locate promises: a step near now, of a real step size. */
static void
check_step(int rc, const struct stsrole_totp_step *st, int window)
{
    int64_t centre;

    if (rc != STSROLE_OK) {
        FUZZ_REQUIRE(st->step == 0 && st->step_size == 0);
        return;
    }
    FUZZ_REQUIRE(st->step_size == 30 || st->step_size == 60);
    centre = (int64_t)FIXED_NOW / st->step_size;
    FUZZ_REQUIRE(st->step >= centre - (window + 1) && st->step <= centre + (window + 1));
}

/* liboath accepted the code: the fleet replay check must find its step.
 * An event-based entry has none, and is refused with CONFIG. */
static void
require_step_found(int rc, const struct stsrole_error *err, const char *where, const char *text)
{
    if (rc == STSROLE_OK)
        return;
    if (rc == STSROLE_E_CONFIG && strstr(err->msg, "event-based") != NULL)
        return;
    fprintf(stderr,
            "detail: liboath accepted the code, but the step in %s is %s (\"%s\"); file:\n%s\n",
            where, stsrole_status_name((enum stsrole_status)rc), err->msg, text);
    FUZZ_REQUIRE(rc == STSROLE_OK);
}

static void
fuzz_liboath(const char *text, size_t len, const char *code, int window)
{
    struct stsrole_totp_step st;
    struct stsrole_error err;
    char *rewritten;
    int rc, rc2;

    write_usersfile(text, len);
    stsrole_error_clear(&err);
    fixed_clock = 1;
    rc = stsrole_totp_verify(path, USER, code, window, STSROLE_TOTP_LOCK_WAIT_MS, NULL, &err);
    fixed_clock = 0;
    fuzz_check_error(&err, rc);
    FUZZ_REQUIRE(rc == STSROLE_OK || rc == STSROLE_E_INVALID || rc == STSROLE_E_DENIED ||
                 rc == STSROLE_E_NOTFOUND || rc == STSROLE_E_IO || rc == STSROLE_E_CONFIG);
    if (rc != STSROLE_OK)
        return;

    /* The text as given, then the file liboath rewrote. */
    stsrole_error_clear(&err);
    rc2 = stsrole_totp_locate(text, len, USER, code, window, (int64_t)FIXED_NOW, &st, &err);
    fuzz_check_error(&err, rc2);
    require_step_found(rc2, &err, "the users file", text);

    rewritten = read_usersfile();
    stsrole_error_clear(&err);
    FUZZ_REQUIRE(stsrole_totp_check_usersfile(path, &err) == STSROLE_OK);
    fixed_clock = 1;
    rc2 = stsrole_totp_step(path, USER, code, window, &st, &err);
    fixed_clock = 0;
    fuzz_check_error(&err, rc2);
    check_step(rc2, &st, window);
    require_step_found(rc2, &err, "the file liboath rewrote", rewritten);

    /* The same code again: liboath recorded it, so it must be refused. */
    stsrole_error_clear(&err);
    fixed_clock = 1;
    rc2 = stsrole_totp_verify(path, USER, code, window, STSROLE_TOTP_LOCK_WAIT_MS, NULL, &err);
    fixed_clock = 0;
    fuzz_check_error(&err, rc2);
    if (rc2 == STSROLE_OK)
        fprintf(stderr, "detail: code %s accepted twice; after the first login the file was:\n%s\n",
                code, rewritten);
    FUZZ_REQUIRE(rc2 != STSROLE_OK);
    free(rewritten);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stsrole_totp_step st;
    struct stsrole_error err;
    char *input, *text, *nl, code[16] = "", *sp;
    int window = 1, rc;
    size_t len;

    if (size > USERS_MAX_INPUT)
        return 0;
    if (have_dir < 0)
        have_dir = setup();
    input = fuzz_cstring(data, size);
    if (input == NULL)
        return 0;
    /* "CODE WINDOW\n": the code as typed (at most 15 bytes), then the window. */
    nl = memchr(input, '\n', size);
    text = nl != NULL ? nl + 1 : input + size;
    len = size - (size_t)(text - input);
    if (nl != NULL)
        *nl = '\0';
    sp = strchr(input, ' ');
    if (sp != NULL) {
        *sp = '\0';
        long w = strtol(sp + 1, NULL, 10);

        window = w < -100 ? -100 : w > 100 ? 100 : (int)w;
    }
    snprintf(code, sizeof(code), "%s", input);

    stsrole_error_clear(&err);
    rc = stsrole_totp_locate(text, len, USER, code, window, (int64_t)FIXED_NOW, &st, &err);
    fuzz_check_error(&err, rc);
    check_step(rc, &st, window);
    if (have_dir)
        fuzz_liboath(text, len, code, window);
    free(input);
    return 0;
}
