/* SPDX-License-Identifier: BSD-3-Clause */
/* safefile.c: read trusted files only when their owner and mode are safe; write state atomically.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safefile.h"

int
stsrole_check_fd(int fd, const char *path, uid_t owner, int flags, struct stsrole_error *err)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return stsrole_fail(err, STSROLE_E_IO, "%s: fstat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return stsrole_fail(err, STSROLE_E_UNSAFE, "%s: not a regular file", path);
    if (st.st_uid != 0 && st.st_uid != owner)
        return stsrole_fail(err, STSROLE_E_UNSAFE, "%s: owned by uid %u, must be owned by root",
                            path, (unsigned)st.st_uid);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return stsrole_fail(err, STSROLE_E_UNSAFE,
                            "%s: mode %04o is group- or world-writable (chmod go-w)", path,
                            (unsigned)(st.st_mode & 07777));
    if ((flags & STSROLE_SAFE_SECRET) && (st.st_mode & (S_IRWXG | S_IRWXO)))
        return stsrole_fail(err, STSROLE_E_UNSAFE,
                            "%s: mode %04o holds secrets and must not be accessible by group or "
                            "others (chmod 600)",
                            path, (unsigned)(st.st_mode & 07777));
    return STSROLE_OK;
}

int
stsrole_read_safely(const char *path, uid_t owner, int flags, size_t max, struct stsrole_buf *out,
                    struct stsrole_error *err)
{
    char chunk[4096];
    ssize_t n;
    int fd, rc;

    /* O_NOFOLLOW refuses a symlink in the last component, so the checks
     * below apply to the very inode we read (no check-then-open race). */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT)
            return stsrole_fail(err, STSROLE_E_NOTFOUND, "%s: no such file", path);
        if (errno == ELOOP)
            return stsrole_fail(err, STSROLE_E_UNSAFE, "%s: is a symbolic link, refused", path);
        return stsrole_fail(err, STSROLE_E_IO, "%s: %s", path, strerror(errno));
    }
    rc = stsrole_check_fd(fd, path, owner, flags, err);
    if (rc != STSROLE_OK) {
        close(fd);
        return rc;
    }
    stsrole_buf_init(out, max);
    for (;;) {
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = stsrole_fail(err, STSROLE_E_IO, "%s: read: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        rc = stsrole_buf_append(out, chunk, (size_t)n);
        if (rc != STSROLE_OK) {
            rc = stsrole_fail(err, rc == STSROLE_E_PROTOCOL ? STSROLE_E_INVALID : rc,
                              "%s: larger than %zu bytes", path, max);
            break;
        }
    }
    stsrole_wipe(chunk, sizeof(chunk));
    close(fd);
    if (rc != STSROLE_OK) {
        stsrole_buf_free(out);
        return rc;
    }
    if (out->data == NULL)
        return stsrole_buf_append(out, "", 0) == STSROLE_OK
                   ? STSROLE_OK
                   : stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    return STSROLE_OK;
}

static int
fsync_dir(const char *path, struct stsrole_error *err)
{
    char *copy = strdup(path);
    int fd, rc = STSROLE_OK;

    if (copy == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        rc = stsrole_fail(err, STSROLE_E_IO, "%s: fsync of directory: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

static int
write_replace(const char *path, const void *data, size_t len, mode_t mode, int sync,
              struct stsrole_error *err)
{
    char tmp[4096];
    const char *p = data;
    size_t off = 0;
    ssize_t n;
    int fd;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return stsrole_fail(err, STSROLE_E_INVALID, "%s: path too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return stsrole_fail(err, STSROLE_E_IO, "%s: %s", tmp, strerror(errno));
    if (fchmod(fd, mode) != 0)
        goto fail;
    while (off < len) {
        n = write(fd, p + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        off += (size_t)n;
    }
    if (sync && fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    return sync ? fsync_dir(path, err) : STSROLE_OK;
fail : {
    int saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return stsrole_fail(err, STSROLE_E_IO, "%s: %s", path, strerror(saved));
}
}

int
stsrole_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                     struct stsrole_error *err)
{
    return write_replace(path, data, len, mode, 1, err);
}

int
stsrole_write_replace(const char *path, const void *data, size_t len, mode_t mode,
                      struct stsrole_error *err)
{
    return write_replace(path, data, len, mode, 0, err);
}

/* A directory we keep records in: a real directory (not a symlink) owned
 * by us or root, and writable by nobody else, or the gateway could be fed
 * forged records. Created with mode 0700 when missing. */
int
stsrole_open_dir_safely(const char *path, int create, int *fd_out, struct stsrole_error *err)
{
    struct stat st;
    int fd;

    if (create && mkdir(path, 0700) != 0 && errno != EEXIST)
        return stsrole_fail(err, STSROLE_E_IO, "%s: mkdir: %s", path, strerror(errno));
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP || errno == ENOTDIR)
            return stsrole_fail(err, STSROLE_E_UNSAFE, "%s: not a directory, or a symlink", path);
        if (errno == ENOENT)
            return stsrole_fail(err, STSROLE_E_NOTFOUND, "%s: no such directory", path);
        return stsrole_fail(err, STSROLE_E_IO, "%s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        return stsrole_fail(err, STSROLE_E_IO, "%s: fstat: %s", path, strerror(saved));
    }
    if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        close(fd);
        return stsrole_fail(err, STSROLE_E_UNSAFE,
                            "%s: must be owned by root and not group- or world-writable "
                            "(owner uid %u, mode %04o)",
                            path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    }
    *fd_out = fd;
    return STSROLE_OK;
}

int
stsrole_check_parents(const char *path, struct stsrole_error *err)
{
    char *dir, *slash;
    struct stat st;
    int rc = STSROLE_OK;

    if (path == NULL || path[0] != '/')
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: not an absolute path",
                            path != NULL ? path : "(none)");
    /* The parent as it really is: its symlinks resolved (a missing last
     * component is fine: it may be created under a checked parent). */
    {
        char *copy = strdup(path);
        if (copy == NULL)
            return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
        slash = strrchr(copy, '/');
        if (slash == copy)
            slash[1] = '\0';
        else
            *slash = '\0';
        dir = realpath(copy, NULL);
        free(copy);
    }
    if (dir == NULL)
        return stsrole_fail(err, errno == ENOENT ? STSROLE_E_NOTFOUND : STSROLE_E_IO,
                            "%s: its directory: %s", path, strerror(errno));
    for (;;) {
        if (stat(dir, &st) != 0) {
            rc = stsrole_fail(err, STSROLE_E_IO, "%s: %s", dir, strerror(errno));
            break;
        }
        if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
            ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
            rc = stsrole_fail(err, STSROLE_E_UNSAFE,
                              "%s (above %s) must be a directory owned by root and not group- or "
                              "world-writable without the sticky bit (owner uid %u, mode %04o)",
                              dir, path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
            break;
        }
        if (strcmp(dir, "/") == 0)
            break;
        slash = strrchr(dir, '/');
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
    free(dir);
    return rc;
}
