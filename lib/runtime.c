/* SPDX-License-Identifier: BSD-3-Clause */
/* runtime.c: RUNTIME_DIR (credentials_mode = process) and the per-session AWS config files in it.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime.h"
#include "safefile.h"
#include "session.h"

/* A directory people must reach but not change: made with mode if missing,
 * then held to open_state_dir's rules (a real directory, root-owned, not
 * group- or world-writable), and given the search bits it lacks. */
static int
open_shared_dir(const char *path, mode_t mode, int *fd_out, struct stsrole_error *err)
{
    struct stat st;
    int fd, rc;

    if (mkdir(path, mode) != 0 && errno != EEXIST)
        return stsrole_fail(err, STSROLE_E_IO, "%s: mkdir: %s", path, strerror(errno));
    rc = stsrole_open_dir_safely(path, 0, &fd, err);
    if (rc != STSROLE_OK)
        return rc;
    if (fstat(fd, &st) != 0 ||
        ((st.st_mode & 0111) != 0111 && fchmod(fd, (st.st_mode & 07777) | 0111) != 0)) {
        rc = stsrole_fail(err, STSROLE_E_IO, "%s: cannot make it searchable: %s", path,
                          strerror(errno));
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return STSROLE_OK;
}

int
stsrole_runtime_dir(const char *runtime_dir, int *fd_out, struct stsrole_error *err)
{
    *fd_out = -1;
    if (runtime_dir == NULL || runtime_dir[0] != '/')
        return stsrole_fail(err, STSROLE_E_CONFIG, "runtime_dir must be an absolute path");
    return open_shared_dir(runtime_dir, 0755, fd_out, err);
}

/* RUNTIME_DIR/aws: 0711, so a user reaches the file whose name they know
 * (from AWS_CONFIG_FILE) and cannot list who else is logged in. */
static int
config_dir(const char *runtime_dir, char *dir, size_t dirlen, int *fd_out,
           struct stsrole_error *err)
{
    int fd, rc;

    rc = stsrole_runtime_dir(runtime_dir, &fd, err);
    if (rc != STSROLE_OK)
        return rc;
    close(fd);
    if ((size_t)snprintf(dir, dirlen, "%s/%s", runtime_dir, STSROLE_AWS_CONFIG_DIR) >= dirlen)
        return stsrole_fail(err, STSROLE_E_CONFIG, "runtime_dir is too long");
    return open_shared_dir(dir, 0711, fd_out, err);
}

int
stsrole_runtime_aws_config(const char *runtime_dir, const char *session_id, uid_t uid, gid_t gid,
                           const char *helper, const char *region, const char *const *profiles,
                           size_t n_profiles, char *path, size_t pathlen, struct stsrole_error *err)
{
    struct stsrole_buf text;
    char dir[4096], name[48];
    size_t i;
    int dfd, fd, rc;

    if (!stsrole_session_id_valid(session_id) || helper == NULL || region == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "AWS config file: bad arguments");
    rc = config_dir(runtime_dir, dir, sizeof(dir), &dfd, err);
    if (rc != STSROLE_OK)
        return rc;
    snprintf(name, sizeof(name), "%s.config", session_id);
    if ((size_t)snprintf(path, pathlen, "%s/%s", dir, name) >= pathlen) {
        close(dfd);
        return stsrole_fail(err, STSROLE_E_CONFIG, "runtime_dir is too long");
    }
    stsrole_buf_init(&text, 0);
    /* botocore splits credential_process on whitespace; stsrole.conf
     * refuses spaces and quotes in both paths. */
    rc = stsrole_buf_printf(&text,
                            "# stsrole: the AWS configuration of SSH session %s, removed at "
                            "logout.\n"
                            "# stsrole-gatewayd serves and refreshes its credential while the "
                            "session lives.\n"
                            "[profile %s]\n"
                            "credential_process = %s --socket %s/%s --session %s\n"
                            "region = %s\n",
                            session_id, STSROLE_AWS_PROFILE, helper, runtime_dir,
                            STSROLE_CRED_SOCKET, session_id, region);
    /* One profile per role the person may use, minted when first asked
     * for.  Role names are A-Z a-z 0-9 - _ . (stsrole.conf(5)). */
    for (i = 0; rc == STSROLE_OK && i < n_profiles; i++) {
        if (strspn(profiles[i],
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") !=
                strlen(profiles[i]) ||
            profiles[i][0] == '\0' || strcmp(profiles[i], STSROLE_AWS_PROFILE) == 0) {
            close(dfd);
            stsrole_buf_free(&text);
            return stsrole_fail(err, STSROLE_E_INVALID, "AWS config file: bad profile name");
        }
        rc = stsrole_buf_printf(&text,
                                "[profile %s]\n"
                                "credential_process = %s --socket %s/%s --session %s --profile %s\n"
                                "region = %s\n",
                                profiles[i], helper, runtime_dir, STSROLE_CRED_SOCKET, session_id,
                                profiles[i], region);
    }
    if (rc != STSROLE_OK) {
        close(dfd);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    /* Session ids are random: a file by this name is a leftover. */
    (void)unlinkat(dfd, name, 0);
    fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = stsrole_fail(err, STSROLE_E_IO, "%s: %s", path, strerror(errno));
    } else {
        if (write(fd, text.data, text.len) != (ssize_t)text.len || fchown(fd, uid, gid) != 0 ||
            fchmod(fd, 0600) != 0)
            rc = stsrole_fail(err, STSROLE_E_IO, "%s: %s", path, strerror(errno));
        if (close(fd) != 0 && rc == STSROLE_OK)
            rc = stsrole_fail(err, STSROLE_E_IO, "%s: close: %s", path, strerror(errno));
        if (rc != STSROLE_OK)
            (void)unlinkat(dfd, name, 0);
    }
    stsrole_buf_free(&text);
    close(dfd);
    return rc;
}

int
stsrole_runtime_aws_config_remove(const char *runtime_dir, const char *session_id,
                                  struct stsrole_error *err)
{
    char path[4200];

    if (!stsrole_session_id_valid(session_id) || runtime_dir == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "AWS config file: bad arguments");
    snprintf(path, sizeof(path), "%s/%s/%s.config", runtime_dir, STSROLE_AWS_CONFIG_DIR,
             session_id);
    if (unlink(path) != 0 && errno != ENOENT)
        return stsrole_fail(err, STSROLE_E_IO, "%s: %s", path, strerror(errno));
    return STSROLE_OK;
}
