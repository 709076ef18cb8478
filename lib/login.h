/* login.h: the steps of a PAM login (domain layer), so pam/ keeps only PAM's items and glue. */
#ifndef STSROLE_LOGIN_H
#define STSROLE_LOGIN_H

#include "conf.h"
#include "registry.h"
#include "replay.h"
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

#endif
