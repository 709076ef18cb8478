/* SPDX-License-Identifier: BSD-3-Clause */
/* login.h: the steps of a PAM login (domain layer), so pam/ keeps only PAM's items and glue. */
#ifndef STSROLE_LOGIN_H
#define STSROLE_LOGIN_H

#include <sys/types.h>

#include "conf.h"
#include "mint.h"
#include "registry.h"
#include "replay.h"
#include "sts.h"
#include "stsrole.h"
#include "totp.h"

/* pam_stsrole's auth: builds the client from cfg (cfg->replay_table must
 * be set), draws a nonce and claims step for user at the current time. */
int stsrole_login_replay(const struct stsrole_config *cfg, const char *user,
                         const struct stsrole_totp_step *step, enum stsrole_replay_verdict *verdict,
                         struct stsrole_error *err);

/* pam_stsrole's open_session: builds the client from cfg and puts e into
 * cfg->registry_table (which must be set). */
int stsrole_login_register(const struct stsrole_config *cfg, const struct stsrole_registry_entry *e,
                           struct stsrole_error *err);

/*
 * One session's login (pam_sm_open_session), step by step: a session id,
 * the mint, the session record (which the gateway revokes from, so it is
 * on disk before the credentials reach the session), the registry item,
 * and with credentials_mode = process the session's AWS config file and
 * the hand-off of its first credential to the gateway.
 */
enum stsrole_login_stage {
    STSROLE_LOGIN_NONE = 0,
    STSROLE_LOGIN_ID,     /* session_id is set */
    STSROLE_LOGIN_MINTED, /* the mint was tried: session_name, request_id */
};

struct stsrole_login {
    /* in, borrowed */
    const struct stsrole_config *cfg;
    const struct stsrole_role *role;
    const char *user;
    uid_t uid;
    gid_t gid;
    const char *rhost; /* may be NULL */
    const char *tty;   /* may be NULL */
    pid_t sshd_pid;
    int64_t sshd_start; /* sshd_pid's start time (proc.h); 0: unknown */
    const char *mfa;    /* the MFA method that passed at auth (ticket.h) */
    /* credentials_mode = process: the roles the person may use, one
     * profile each in the session's AWS config file */
    const char *const *profiles;
    size_t n_profiles;
    /* out */
    enum stsrole_login_stage stage;
    char session_id[33];
    char request_id[128];
    struct stsrole_mint mint;  /* mint.session_name */
    struct stsrole_assumed as; /* owned: stsrole_login_free */
    char aws_config[4096];     /* set when configured */
    int64_t opened;            /* epoch s */
    int recorded;              /* a record may exist: close it on abort */
    int configured;            /* the AWS config file exists: remove it on abort */
    const char *what;          /* on failure: the step that failed, for the user */
    int handoff_status;        /* STSROLE_OK, or why the gateway did not take it */
    struct stsrole_error handoff_err;
};

/* Runs the steps for l (its in-fields set, the rest zero).  On failure
 * l->what names the step and the caller calls stsrole_login_abort.  A
 * hand-off the gateway did not take is no failure: handoff_status says
 * so, and the gateway mints for the session when it is back. */
int stsrole_login_open(struct stsrole_login *l, struct stsrole_error *err);
/* Undoes what a failed (or unused) login left: closes the record, so the
 * gateway revokes at once, removes the AWS config file; frees l. */
void stsrole_login_abort(struct stsrole_login *l);
/* Wipes and frees the credential in l. */
void stsrole_login_free(struct stsrole_login *l);

#endif
