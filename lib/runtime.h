/* SPDX-License-Identifier: BSD-3-Clause */
/* runtime.h: RUNTIME_DIR and the per-session AWS config files (credentials_mode = process). */
#ifndef STSROLE_RUNTIME_H
#define STSROLE_RUNTIME_H

#include <stddef.h>
#include <sys/types.h>

#include "stsrole.h"

/*
 * credentials_mode = process (stsrole.conf(5)).  RUNTIME_DIR (root-owned,
 * not group- or world-writable, traversable by all) holds the gateway's
 * user-reachable socket and, in RUNTIME_DIR/aws (mode 0711: no listing),
 * one AWS config file per session.
 */
#define STSROLE_CRED_SOCKET "credentials.sock"
#define STSROLE_AWS_CONFIG_DIR "aws"
#define STSROLE_AWS_PROFILE "stsrole"

/* Writes RUNTIME_DIR/aws/<session_id>.config, owned by uid:gid, mode 0600,
 * with profile STSROLE_AWS_PROFILE: credential_process = helper --socket
 * RUNTIME_DIR/credentials.sock --session <session_id>, and region; then
 * for each of profiles[0..n_profiles) (role names) a profile of that name
 * whose credential_process adds --profile NAME.  Creates
 * the directories if needed and refuses unsafe ones (STSROLE_E_UNSAFE).
 * The file's path goes to path (pathlen bytes). */
int stsrole_runtime_aws_config(const char *runtime_dir, const char *session_id, uid_t uid,
                               gid_t gid, const char *helper, const char *region,
                               const char *const *profiles, size_t n_profiles, char *path,
                               size_t pathlen, struct stsrole_error *err);
/* Removes that file; a missing one is fine. */
int stsrole_runtime_aws_config_remove(const char *runtime_dir, const char *session_id,
                                      struct stsrole_error *err);
/* Makes RUNTIME_DIR (mode 0755) if needed and checks it as above; its
 * descriptor goes to *fd_out. */
int stsrole_runtime_dir(const char *runtime_dir, int *fd_out, struct stsrole_error *err);

#endif
