/* SPDX-License-Identifier: BSD-3-Clause */
/* totp.c: TOTP verification against a pam_oath-format users file, through liboath. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liboath/oath.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "safefile.h"
#include "totp.h"

/* RFC 6238 codes are 6 to 8 decimal digits; pam_oath's users file allows
 * only these lengths as well. */
#define TOTP_MIN_DIGITS 6
#define TOTP_MAX_DIGITS 8
/* A users file larger than this is not a users file. */
#define TOTP_USERSFILE_MAX (4 * 1024 * 1024)

int
stsrole_totp_code_wellformed(const char *code)
{
    size_t n = 0;

    if (code == NULL)
        return 0;
    for (; code[n] != '\0'; n++) {
        if (code[n] < '0' || code[n] > '9' || n >= TOTP_MAX_DIGITS)
            return 0;
    }
    return n >= TOTP_MIN_DIGITS;
}

/* What every check of a code needs before it touches a file. */
static int
check_request(const char *user, const char *code, int window, struct stsrole_error *err)
{
    if (user == NULL || user[0] == '\0')
        return stsrole_fail(err, STSROLE_E_INVALID, "no user name");
    if (window < 0 || window > STSROLE_TOTP_MAX_WINDOW)
        return stsrole_fail(err, STSROLE_E_INVALID, "totp window %d out of range 0..%d", window,
                            STSROLE_TOTP_MAX_WINDOW);
    if (!stsrole_totp_code_wellformed(code))
        return stsrole_fail(err, STSROLE_E_INVALID, "code is not %d to %d digits", TOTP_MIN_DIGITS,
                            TOTP_MAX_DIGITS);
    return STSROLE_OK;
}

/* The directory must be root-owned and writable by nobody else: liboath
 * rewrites the file by creating NAME.new and NAME.lock beside it and
 * renaming, so whoever can write the directory can replace the secrets. */
static int
check_dir(const char *usersfile, int *dirfd_out, struct stsrole_error *err)
{
    char *copy = strdup(usersfile);
    struct stat st;
    const char *dir;
    int fd;

    if (copy == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    dir = dirname(copy);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        stsrole_fail(err, STSROLE_E_IO, "%s: directory %s: %s", usersfile, dir, strerror(saved));
        free(copy);
        return STSROLE_E_IO;
    }
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        stsrole_fail(err, STSROLE_E_IO, "%s: fstat %s: %s", usersfile, dir, strerror(saved));
        free(copy);
        return STSROLE_E_IO;
    }
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        close(fd);
        stsrole_fail(err, STSROLE_E_UNSAFE,
                     "%s: directory %s must be owned by root and not group- or world-writable "
                     "(owner uid %u, mode %04o)",
                     usersfile, dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        free(copy);
        return STSROLE_E_UNSAFE;
    }
    free(copy);
    *dirfd_out = fd;
    return STSROLE_OK;
}

int
stsrole_totp_check_usersfile(const char *usersfile, struct stsrole_error *err)
{
    char *copy;
    int dir_fd = -1, fd, rc;

    if (usersfile == NULL || usersfile[0] != '/')
        return stsrole_fail(err, STSROLE_E_IO, "usersfile must be an absolute path");
    rc = check_dir(usersfile, &dir_fd, err);
    if (rc != STSROLE_OK)
        return rc;
    copy = strdup(usersfile);
    if (copy == NULL) {
        close(dir_fd);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    /* Checked through the directory we just vetted, and O_NOFOLLOW: the
     * inode checked is the one liboath will find under that name. */
    fd = openat(dir_fd, basename(copy), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    free(copy);
    close(dir_fd);
    if (fd < 0) {
        if (errno == ELOOP)
            return stsrole_fail(err, STSROLE_E_UNSAFE, "%s: is a symbolic link, refused",
                                usersfile);
        return stsrole_fail(err, STSROLE_E_IO, "%s: %s", usersfile, strerror(errno));
    }
    /* Root only (uid 0 passed as owner), and no group/other access at all:
     * the file holds the TOTP secrets. */
    rc = stsrole_check_fd(fd, usersfile, 0, STSROLE_SAFE_SECRET, err);
    close(fd);
    return rc;
}

static int
map_oath(int orc, const char *usersfile, const char *user, struct stsrole_error *err)
{
    switch (orc) {
    case OATH_OK:
        return STSROLE_OK;
    case OATH_INVALID_OTP:
        return stsrole_fail(err, STSROLE_E_DENIED, "wrong code");
    case OATH_REPLAYED_OTP:
        return stsrole_fail(err, STSROLE_E_DENIED, "code already used (replay refused)");
    case OATH_INVALID_DIGITS:
        /* A well-formed code whose length differs from the user's token. */
        return stsrole_fail(err, STSROLE_E_DENIED, "wrong code (number of digits)");
    case OATH_UNKNOWN_USER:
        return stsrole_fail(err, STSROLE_E_NOTFOUND, "%s: no entry for this user", usersfile);
    case OATH_NO_SUCH_FILE:
        return stsrole_fail(err, STSROLE_E_IO, "%s: no such file", usersfile);
    case OATH_MALLOC_ERROR:
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    case OATH_INVALID_HEX:
    case OATH_INVALID_BASE32:
    case OATH_INVALID_COUNTER:
    case OATH_INVALID_TIMESTAMP:
    case OATH_BAD_PASSWORD:
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: entry for %s is malformed: %s", usersfile,
                            user, oath_strerror(orc));
    default:
        return stsrole_fail(err, STSROLE_E_IO, "%s: %s", usersfile, oath_strerror(orc));
    }
}

/*
 * What liboath 2.6 mishandles, refused before it sees the file: a NUL byte
 * (liboath reads past it, our own step lookup would not), and an entry of
 * this user without a secret (liboath records an accepted code on such an
 * entry instead of the one that matched, locking the user out).
 */
static int
lint_usersfile(const char *text, size_t len, const char *user, const char *usersfile,
               struct stsrole_error *err)
{
    const char *line = text, *end = text + len, *nl;
    char buf[1024], *save, *f[4], who[65] = "";
    int lineno = 0, n, bad = 0;

    if (memchr(text, '\0', len) != NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: contains a NUL byte", usersfile);
    for (; line < end && !bad; line = nl + 1) {
        size_t l;

        nl = memchr(line, '\n', (size_t)(end - line));
        if (nl == NULL)
            nl = end;
        lineno++;
        l = (size_t)(nl - line);
        if (l >= sizeof(buf))
            l = sizeof(buf) - 1;
        memcpy(buf, line, l);
        buf[l] = '\0';
        /* The separators liboath's own parser uses (usersfile.c). */
        save = NULL;
        for (n = 0; n < 4; n++)
            if ((f[n] = strtok_r(n == 0 ? buf : NULL, " \t\r\n", &save)) == NULL)
                break;
        if (n >= 2 && f[0][0] != '#' && (user == NULL || strcmp(f[1], user) == 0)) {
            size_t hl = n < 4 ? 0 : strlen(f[3]);
            /* liboath takes the secret as hex; one that is not (or of odd
             * length) is a broken entry liboath may skip or half-read. */
            bad = hl == 0 || hl % 2 != 0 || strspn(f[3], "0123456789abcdefABCDEF") != hl;
            snprintf(who, sizeof(who), "%s", f[1]);
        }
        stsrole_wipe(buf, sizeof(buf));
    }
    if (bad)
        return stsrole_fail(err, STSROLE_E_CONFIG,
                            "%s:%d: the entry of %s has no secret, or one that is not hex",
                            usersfile, lineno, who);
    return STSROLE_OK;
}

int
stsrole_totp_lint(const char *text, size_t len, const char *usersfile, struct stsrole_error *err)
{
    return lint_usersfile(text, len, NULL, usersfile, err);
}

static int
verify_unlocked(const char *usersfile, const char *user, const char *code, int window,
                struct stsrole_error *err)
{
    struct stsrole_buf text;
    time_t last = 0;
    int rc, orc;

    rc = stsrole_totp_check_usersfile(usersfile, err);
    if (rc != STSROLE_OK)
        return rc;
    rc = stsrole_read_safely(usersfile, 0, STSROLE_SAFE_SECRET, TOTP_USERSFILE_MAX, &text, err);
    if (rc != STSROLE_OK)
        return rc;
    rc = lint_usersfile(text.data, text.len, user, usersfile, err);
    stsrole_buf_free(&text);
    if (rc != STSROLE_OK)
        return rc;
    if (oath_init() != OATH_OK)
        return stsrole_fail(err, STSROLE_E_IO, "liboath initialisation failed");
    /* passwd NULL: liboath then skips the file's password field. The
     * OTP it accepts is stored in the file, which is what refuses a replay. */
    orc = oath_authenticate_usersfile(usersfile, user, code, (size_t)window, NULL, &last);
    oath_done();
    return map_oath(orc, usersfile, user, err);
}

/* A file beside the users file: NAME + suffix, in the vetted directory. */
static int
sibling_name(const char *usersfile, const char *suffix, char *out, size_t cap,
             struct stsrole_error *err)
{
    const char *base = strrchr(usersfile, '/');
    int n;

    base = base != NULL ? base + 1 : usersfile;
    n = snprintf(out, cap, "%s%s", base, suffix);
    if (base[0] == '\0' || n < 0 || (size_t)n >= cap || (size_t)n > NAME_MAX)
        return stsrole_fail(err, STSROLE_E_INVALID, "%s: name too long for its lock file",
                            usersfile);
    return STSROLE_OK;
}

static long
elapsed_ms(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int
stsrole_totp_lock(const char *usersfile, int wait_ms, int *fd_out, long *waited_ms,
                  struct stsrole_error *err)
{
    char name[NAME_MAX + 1], path[PATH_MAX];
    struct timespec t0, pause = {0, 1000000};
    int dir_fd = -1, fd, rc;

    *fd_out = -1;
    if (waited_ms != NULL)
        *waited_ms = 0;
    if (wait_ms < 0 || wait_ms > STSROLE_TOTP_LOCK_WAIT_MAX_MS)
        return stsrole_fail(err, STSROLE_E_INVALID, "lock wait %d ms out of range 0..%d", wait_ms,
                            STSROLE_TOTP_LOCK_WAIT_MAX_MS);
    if (usersfile == NULL || usersfile[0] != '/')
        return stsrole_fail(err, STSROLE_E_IO, "usersfile must be an absolute path");
    rc = sibling_name(usersfile, STSROLE_TOTP_LOCK_SUFFIX, name, sizeof(name), err);
    if (rc == STSROLE_OK && (size_t)snprintf(path, sizeof(path), "%s%s", usersfile,
                                             STSROLE_TOTP_LOCK_SUFFIX) >= sizeof(path))
        rc = stsrole_fail(err, STSROLE_E_INVALID, "%s: path too long for its lock file", usersfile);
    if (rc == STSROLE_OK)
        rc = check_dir(usersfile, &dir_fd, err);
    if (rc != STSROLE_OK)
        return rc;
    /* Through the vetted directory, never through a symlink: root creates
     * and opens this file, so a link planted in its place could make root
     * create or truncate a file elsewhere. */
    fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    close(dir_fd);
    if (fd < 0) {
        if (errno == ELOOP)
            return stsrole_fail(err, STSROLE_E_UNSAFE, "%s: is a symbolic link, refused", path);
        return stsrole_fail(err, STSROLE_E_IO, "%s: %s", path, strerror(errno));
    }
    rc = stsrole_check_fd(fd, path, 0, 0, err);
    if (rc != STSROLE_OK) {
        close(fd);
        return rc;
    }
    /* No timed flock exists, and an alarm would meet sshd's own SIGALRM
     * (LoginGraceTime): poll without blocking, backing off from 1 ms to
     * 16 ms, until the bound. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int saved = errno;

        if (saved != EWOULDBLOCK && saved != EINTR) {
            close(fd);
            return stsrole_fail(err, STSROLE_E_IO, "%s: flock: %s", path, strerror(saved));
        }
        if (elapsed_ms(&t0) >= wait_ms) {
            close(fd);
            return stsrole_fail(err, STSROLE_E_IO,
                                "%s: busy, another login held it for more than %d ms", path,
                                wait_ms);
        }
        nanosleep(&pause, NULL);
        if (pause.tv_nsec < 16000000)
            pause.tv_nsec *= 2;
    }
    if (waited_ms != NULL)
        *waited_ms = elapsed_ms(&t0);
    *fd_out = fd;
    return STSROLE_OK;
}

void
stsrole_totp_unlock(int fd)
{
    /* close(2) releases the flock (it is this descriptor's alone). */
    if (fd >= 0)
        close(fd);
}

int
stsrole_totp_clear_stale(const char *usersfile, unsigned *removed, struct stsrole_error *err)
{
    /* The files liboath creates with O_EXCL beside the users file
     * (usersfile.c: USERSFILE.lock, then USERSFILE.new renamed over it). */
    static const struct {
        const char *suffix;
        unsigned bit;
    } left[] = {{".lock", STSROLE_TOTP_STALE_LOCK}, {".new", STSROLE_TOTP_STALE_NEW}};
    char name[NAME_MAX + 1];
    int dir_fd = -1, rc;
    size_t i;

    *removed = 0;
    if (usersfile == NULL || usersfile[0] != '/')
        return stsrole_fail(err, STSROLE_E_IO, "usersfile must be an absolute path");
    rc = check_dir(usersfile, &dir_fd, err);
    if (rc != STSROLE_OK)
        return rc;
    for (i = 0; i < sizeof(left) / sizeof(left[0]) && rc == STSROLE_OK; i++) {
        rc = sibling_name(usersfile, left[i].suffix, name, sizeof(name), err);
        if (rc != STSROLE_OK)
            break;
        if (unlinkat(dir_fd, name, 0) == 0)
            *removed |= left[i].bit;
        else if (errno != ENOENT)
            rc = stsrole_fail(err, STSROLE_E_IO, "%s%s: left over by liboath, cannot remove: %s",
                              usersfile, left[i].suffix, strerror(errno));
    }
    close(dir_fd);
    return rc;
}

int
stsrole_totp_verify(const char *usersfile, const char *user, const char *code, int window,
                    int lock_wait_ms, struct stsrole_totp_report *report, struct stsrole_error *err)
{
    struct stsrole_totp_report r = {0, 0};
    int fd = -1, rc;

    if (report != NULL)
        *report = r;
    /* A malformed request is refused before it queues for the lock. */
    rc = check_request(user, code, window, err);
    if (rc != STSROLE_OK)
        return rc;
    rc = stsrole_totp_lock(usersfile, lock_wait_ms, &fd, &r.waited_ms, err);
    if (rc == STSROLE_OK)
        rc = stsrole_totp_clear_stale(usersfile, &r.stale, err);
    /* The read of the file, liboath's check and its record of the code all
     * happen under the lock: that is what makes a replay at the same
     * instant lose. */
    if (rc == STSROLE_OK)
        rc = verify_unlocked(usersfile, user, code, window, err);
    stsrole_totp_unlock(fd);
    if (report != NULL)
        *report = r;
    return rc;
}

/* The token types of liboath's users file that carry a time step
 * (usersfile.c, parse_type): HOTP/T30 and HOTP/T60, each optionally
 * followed by /6, /7 or /8 digits.  *event is set for HOTP, HOTP/E and
 * HOTP/E/D, which count events and have no step. */
static int
totp_type(const char *t, int *step_size, int *event)
{
    *event = strcmp(t, "HOTP") == 0 || strncmp(t, "HOTP/E", 6) == 0;
    if (strncmp(t, "HOTP/T30", 8) == 0)
        *step_size = 30;
    else if (strncmp(t, "HOTP/T60", 8) == 0)
        *step_size = 60;
    else
        return -1;
    t += 8;
    if (*t == '\0' || strcmp(t, "/6") == 0 || strcmp(t, "/7") == 0 || strcmp(t, "/8") == 0)
        return 0;
    return -1;
}

/* One entry's secret against code: 1 and *counter when it matches. */
static int
entry_matches(const char *hex, int step_size, const char *code, int window, int64_t now,
              uint64_t *counter, int *bad_hex)
{
    size_t cap = strlen(hex) / 2 + 1, len = cap;
    char *secret = malloc(cap);
    int pos = 0, orc;

    *bad_hex = 0;
    if (secret == NULL)
        return -1;
    if (oath_hex2bin(hex, secret, &len) != OATH_OK) {
        *bad_hex = 1;
        orc = OATH_INVALID_HEX;
    } else {
        /* RFC 6238: T0 = 0; the counter of the matching step comes back. */
        orc = oath_totp_validate4(secret, len, (time_t)now, (unsigned)step_size, 0,
                                  (size_t)window + 1, &pos, counter, 0, code);
    }
    stsrole_wipe(secret, cap);
    free(secret);
    return orc >= 0 ? 1 : 0;
}

int
stsrole_totp_locate(const char *text, size_t len, const char *user, const char *code, int window,
                    int64_t now, struct stsrole_totp_step *out, struct stsrole_error *err)
{
    static const char ws[] = " \t\r\n";
    char *copy, *line, *save_line = NULL, *save, *type, *name, *hex;
    size_t copy_len;
    int step_size = 0, event, event_entry = 0, bad_hex = 0, m, rc;
    uint64_t counter = 0;

    memset(out, 0, sizeof(*out));
    rc = check_request(user, code, window, err);
    if (rc != STSROLE_OK)
        return rc;
    if (now <= 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "no current time");
    rc = lint_usersfile(text != NULL ? text : "", text != NULL ? len : 0, user, "usersfile", err);
    if (rc != STSROLE_OK)
        return rc;
    /* The copy holds every secret of the file: wiped below. */
    copy = stsrole_strndup(text != NULL ? text : "", len);
    if (copy == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    copy_len = strlen(copy);
    if (oath_init() != OATH_OK) {
        stsrole_wipe(copy, copy_len);
        free(copy);
        return stsrole_fail(err, STSROLE_E_IO, "liboath initialisation failed");
    }
    rc = stsrole_fail(err, STSROLE_E_NOTFOUND, "no TOTP entry of %s produces this code now", user);
    for (line = strtok_r(copy, "\n", &save_line); line != NULL;
         line = strtok_r(NULL, "\n", &save_line)) {
        save = NULL;
        type = strtok_r(line, ws, &save);
        if (type == NULL)
            continue;
        m = totp_type(type, &step_size, &event);
        name = strtok_r(NULL, ws, &save);
        if (name == NULL || strcmp(name, user) != 0)
            continue;
        if (m != 0) {
            event_entry |= event;
            continue;
        }
        (void)strtok_r(NULL, ws, &save); /* the password field: not used */
        hex = strtok_r(NULL, ws, &save);
        if (hex == NULL)
            continue;
        m = entry_matches(hex, step_size, code, window, now, &counter, &bad_hex);
        if (m < 0) {
            rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
            break;
        }
        if (bad_hex) {
            rc = stsrole_fail(err, STSROLE_E_CONFIG, "the secret of an entry of %s is not hex",
                              user);
            break;
        }
        if (m == 1) {
            out->step = (int64_t)counter;
            out->step_size = step_size;
            stsrole_error_clear(err);
            rc = STSROLE_OK;
            break;
        }
    }
    oath_done();
    stsrole_wipe(copy, copy_len);
    free(copy);
    if (rc == STSROLE_E_NOTFOUND && event_entry)
        return stsrole_fail(err, STSROLE_E_CONFIG,
                            "%s has an event-based (HOTP/E) entry, which has no time step; a "
                            "shared replay store needs HOTP/T30 or HOTP/T60 entries",
                            user);
    return rc;
}

int
stsrole_totp_step(const char *usersfile, const char *user, const char *code, int window,
                  struct stsrole_totp_step *out, struct stsrole_error *err)
{
    struct stsrole_buf text;
    time_t now = time(NULL);
    int rc;

    memset(out, 0, sizeof(*out));
    if (now == (time_t)-1)
        return stsrole_fail(err, STSROLE_E_IO, "the system clock is unavailable");
    rc = stsrole_totp_check_usersfile(usersfile, err);
    if (rc != STSROLE_OK)
        return rc;
    /* Root only, no group or other access: the file holds the secrets. */
    rc = stsrole_read_safely(usersfile, 0, STSROLE_SAFE_SECRET, TOTP_USERSFILE_MAX, &text, err);
    if (rc != STSROLE_OK)
        return rc;
    rc = stsrole_totp_locate(text.data, text.len, user, code, window, (int64_t)now, out, err);
    stsrole_buf_free(&text);
    return rc;
}
