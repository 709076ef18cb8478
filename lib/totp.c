/* totp.c: TOTP verification against a pam_oath-format users file, through liboath. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <liboath/oath.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "safefile.h"
#include "totp.h"

/* RFC 6238 codes are 6 to 8 decimal digits; pam_oath's users file allows
 * only these lengths as well. */
#define TOTP_MIN_DIGITS 6
#define TOTP_MAX_DIGITS 8

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

int
stsrole_totp_verify(const char *usersfile, const char *user, const char *code, int window,
                    struct stsrole_error *err)
{
    time_t last = 0;
    int rc, orc;

    if (user == NULL || user[0] == '\0')
        return stsrole_fail(err, STSROLE_E_INVALID, "no user name");
    if (window < 0 || window > STSROLE_TOTP_MAX_WINDOW)
        return stsrole_fail(err, STSROLE_E_INVALID, "totp window %d out of range 0..%d", window,
                            STSROLE_TOTP_MAX_WINDOW);
    if (!stsrole_totp_code_wellformed(code))
        return stsrole_fail(err, STSROLE_E_INVALID, "code is not %d to %d digits", TOTP_MIN_DIGITS,
                            TOTP_MAX_DIGITS);
    rc = stsrole_totp_check_usersfile(usersfile, err);
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
