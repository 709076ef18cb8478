/* SPDX-License-Identifier: BSD-3-Clause */
/* session.h: the durable session records that pam_stsrole writes and the gateway reads. */
#ifndef STSROLE_SESSION_H
#define STSROLE_SESSION_H

#include <stdint.h>
#include <sys/types.h>

#include "creds.h"
#include "policy.h"
#include "sts.h"
#include "stsrole.h"

/*
 * One record per SSH session, as JSON in STATE_DIR/sessions/<session_id>.json,
 * root-owned, mode 0600, written atomically (temp file, fsync, rename,
 * fsync of the directory).  No secret is ever stored: only the access key id.
 */
struct stsrole_session {
    char session_id[33];
    char *user;
    uid_t uid;
    char *rhost;
    char *tty;
    pid_t sshd_pid;
    int64_t sshd_start; /* sshd_pid's start time (/proc/PID/stat field 22, ticks); 0: unknown */
    char *role_name;
    char *role_arn;
    char *assumed_role_id;
    char *session_name;
    char *access_key_id;
    int64_t expiration;
    char *source_identity;
    char *aws_request_id;
    int64_t opened;
    int64_t closed; /* 0 while open */
    /* credentials_mode = process (both absent from env-mode records): */
    int refresh;  /* 1: the gateway refreshes and serves this session's credential */
    char *parent; /* set in the record of a refreshed credential: the SSH session's id */
    char *mfa;    /* the MFA method that passed at login ("totp"); NULL in older records */
    /* The stsrole:sid tag the credential carries (the SSH session's
     * revocation key); "" in records written before sids existed. */
    char sid[STSROLE_SID_LEN + 1];
};

/* RoleSessionName "<user>@<bastion_id>.<nonce>": characters outside STS's
 * set [\w+=,.@-] are replaced by '-', and the user and bastion parts are
 * shortened so the whole fits in 64 characters with the full nonce kept.
 * Pure.  out must hold 65 bytes. */
int stsrole_session_name(const char *user, const char *bastion_id, const char *nonce, char out[65],
                         struct stsrole_error *err);

/* A fresh random session id (hex, 32 characters) into out[33]. */
int stsrole_session_id(char out[33], struct stsrole_error *err);

/*
 * Fills rec for a credential just minted, borrowing every string: the
 * person's fields (user, uid, rhost, tty, sshd_pid, sshd_start, role_name,
 * role_arn, source_identity, mfa) from who, the credential's (assumed_role_id,
 * access_key_id, expiration, and the SourceIdentity STS echoed, when it
 * did) from as.  refresh and parent are 0 and NULL; closed is 0.
 */
void stsrole_session_build(struct stsrole_session *rec, const char *session_id,
                           const struct stsrole_session *who, const struct stsrole_assumed *as,
                           const char *session_name, const char *request_id, int64_t opened);

void stsrole_session_free(struct stsrole_session *s);

/* Pure: 1 when id is exactly 32 lowercase hex digits (the only form that
 * may become a file name under STATE_DIR/sessions), else 0. */
int stsrole_session_id_valid(const char *id);

/* Pure: to and from the JSON form. */
int stsrole_session_to_json(const struct stsrole_session *s, struct stsrole_buf *out,
                            struct stsrole_error *err);
int stsrole_session_from_json(const char *json, size_t len, struct stsrole_session *s,
                              struct stsrole_error *err);

/* Creates STATE_DIR and STATE_DIR/sessions (0700) if needed and writes
 * the record durably.  Returns only after fsync of the file and its
 * directory.  Both directories must be owned by root (or the caller) and
 * not group- or world-writable, and not symlinks (STSROLE_E_UNSAFE). */
int stsrole_session_write(const char *state_dir, const struct stsrole_session *s,
                          struct stsrole_error *err);
/* Marks the record closed at time now (rewrites it durably). Never talks to AWS. */
int stsrole_session_mark_closed(const char *state_dir, const char *session_id, int64_t now,
                                struct stsrole_error *err);
/* Reads one record (refusing unsafe files). */
int stsrole_session_read(const char *state_dir, const char *session_id, struct stsrole_session *s,
                         struct stsrole_error *err);

/* Takes the exclusive lock (flock on STATE_DIR/sessions) that
 * stsrole_session_mark_closed holds for its read-modify-write.  Anyone
 * else rewriting an existing record takes it too.  *lock_fd is -1 on
 * failure; release with stsrole_session_unlock. */
int stsrole_session_lock(const char *state_dir, int *lock_fd, struct stsrole_error *err);
void stsrole_session_unlock(int lock_fd);

#endif
