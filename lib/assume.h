/* assume.h: mint one session credential for a person: session name, tags, AssumeRole. */
#ifndef STSROLE_ASSUME_H
#define STSROLE_ASSUME_H

#include <stdint.h>

#include "conf.h"
#include "sts.h"

/* RoleSessionName "<user>@<bastion_id>.<nonce>": characters outside STS's
 * set [\w+=,.@-] are replaced by '-', and the user and bastion parts are
 * shortened so the whole fits in 64 characters with the full nonce kept.
 * Pure.  out must hold 65 bytes. */
int stsrole_session_name(const char *user, const char *bastion_id, const char *nonce, char out[65],
                         struct stsrole_error *err);

/* A fresh random session id (hex, 32 characters) into out[33]. */
int stsrole_session_id(char out[33], struct stsrole_error *err);

/* What a mint needs beyond the config. */
struct stsrole_mint {
    const char *user;       /* SourceIdentity */
    const char *session_id; /* STSROLE_SESSION_ID; also the nonce in the session name */
    char session_name[65];  /* filled by stsrole_mint */
};

/* Assumes role for m->user: builds the session name, SourceIdentity and
 * the tags stsrole:bastion, stsrole:mfa=totp, stsrole:session, the role's
 * duration and ExternalId, then calls STS through cfg's endpoint and base
 * credentials, with retries.  err carries the AWS request id on failure. */
int stsrole_mint(const struct stsrole_config *cfg, const struct stsrole_role *role,
                 struct stsrole_mint *m, struct stsrole_assumed *out, char request_id[128],
                 struct stsrole_error *err);

#endif
