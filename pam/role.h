/* SPDX-License-Identifier: BSD-3-Clause */
/* role.h: which [role NAME] sections a user may assume, and asking which one to use. */
#ifndef STSROLE_PAM_ROLE_H
#define STSROLE_PAM_ROLE_H

#include <security/pam_modules.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf.h"

/* The most roles one user can be offered; a longer menu is refused. */
#define STSROLE_PAM_MAX_CHOICES 64

/*
 * Every role user may use (stsrole_role_allows: the users list names user
 * or the groups list names one of the user's groups, primary gid or
 * supplementary, resolved through NSS), in config order: the session's
 * profiles.  With requestable, also every break-glass role whose lists
 * name user (its profile serves the credential once a request is
 * approved).  *out is the caller's to free (the roles stay cfg's).
 */
int stsrole_pam_usable_roles(pam_handle_t *pamh, const struct stsrole_config *cfg, const char *user,
                             gid_t gid, int requestable, const struct stsrole_role ***out,
                             size_t *n, struct stsrole_error *err);

/*
 * The roles offered at login: fills out[] (room for
 * STSROLE_PAM_MAX_CHOICES) with the plain [role NAME] sections user may
 * use, in config order, or with the first template role when there is no
 * plain one.  *n is the count.  Returns STSROLE_OK, STSROLE_E_NOMEM,
 * STSROLE_E_IO (NSS failure) or STSROLE_E_CONFIG (more than
 * STSROLE_PAM_MAX_CHOICES roles match).
 */
int stsrole_pam_roles_for_user(pam_handle_t *pamh, const struct stsrole_config *cfg,
                               const char *user, gid_t gid, const struct stsrole_role **out,
                               size_t *n, struct stsrole_error *err);

/*
 * The break-glass roles shown, marked, after the login menu: with
 * credentials_mode = process, the plain [role NAME] sections that need a
 * request (stsrole_role_needs_request) and whose lists name user, in
 * config order; out has room for STSROLE_PAM_MAX_CHOICES.  None in any
 * other mode, where such a role cannot be served.  They are never a
 * choice: the login does not mint them.
 */
int stsrole_pam_requestable_roles(pam_handle_t *pamh, const struct stsrole_config *cfg,
                                  const char *user, gid_t gid, const struct stsrole_role **out,
                                  size_t *n, struct stsrole_error *err);

/* The role among choices[0..n) called name, or NULL. */
const struct stsrole_role *stsrole_pam_role_named(const struct stsrole_role *const *choices,
                                                  size_t n, const char *name);

/*
 * Shows the numbered list, then the marked[0..n_marked) break-glass roles
 * (unnumbered), through the PAM conversation and reads the answer (a number or a role name), at
 * most three times.  Returns PAM_SUCCESS with *chosen set, PAM_CONV_ERR when the application cannot
 * prompt (sshd during open_session), or PAM_AUTH_ERR after three invalid
 * answers.
 */
int stsrole_pam_ask_role(pam_handle_t *pamh, const struct stsrole_role *const *choices, size_t n,
                         const struct stsrole_role *const *marked, size_t n_marked,
                         const struct stsrole_role **chosen);

#endif
