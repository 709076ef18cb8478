/* SPDX-License-Identifier: BSD-3-Clause */
/* safefile.h: open and read files we trust, refusing unsafe owners, modes and symlinks. */
#ifndef STSROLE_SAFEFILE_H
#define STSROLE_SAFEFILE_H

#include <sys/types.h>

#include "stsrole.h"

/* Policy flags for stsrole_read_safely. */
#define STSROLE_SAFE_SECRET 0x1 /* also refuse group/world readable (mode & 077) */

/*
 * Opens path with O_NOFOLLOW and checks, on the open descriptor, that it is
 * a regular file owned by root (or by owner when owner != 0) and not group-
 * or world-writable.  With STSROLE_SAFE_SECRET it must not be readable by
 * group or others either.  Reads at most max bytes into out.  Returns
 * STSROLE_E_NOTFOUND, STSROLE_E_UNSAFE (message says why) or STSROLE_E_IO.
 */
int stsrole_read_safely(const char *path, uid_t owner, int flags, size_t max,
                        struct stsrole_buf *out, struct stsrole_error *err);

/* The same checks on an open descriptor (fstat). */
int stsrole_check_fd(int fd, const char *path, uid_t owner, int flags, struct stsrole_error *err);

/* Writes data to path atomically: temp file in the same directory, fsync,
 * rename, fsync of the directory.  mode is applied to the new file. */
int stsrole_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct stsrole_error *err);

/* The same without either fsync: readers see the old file or the new one,
 * but a crash of the machine may leave either, or an empty file.  For a
 * cache that something durable can rebuild. */
int stsrole_write_replace(const char *path, const void *data, size_t len, mode_t mode,
                          struct stsrole_error *err);

/* A directory we keep records in: a real directory (not a symlink) owned
 * by us or root, and writable by nobody else.  With create, made with mode
 * 0700 when missing.  Its descriptor goes to *fd_out. */
int stsrole_open_dir_safely(const char *path, int create, int *fd_out, struct stsrole_error *err);

/*
 * OpenSSH's StrictModes for the directories above path: each directory
 * from path's parent up to "/" (symlinks resolved, so the real ones are
 * checked) must be owned by root and not group- or world-writable; a
 * world-writable one is allowed only with the sticky bit (such as /tmp),
 * where nobody else can rename or remove root's entries.  Otherwise
 * whoever can write a directory above can swap the file, or the directory
 * it is in, for one of their own.  STSROLE_E_UNSAFE names the directory.
 */
int stsrole_check_parents(const char *path, struct stsrole_error *err);

#endif
