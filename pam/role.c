/* SPDX-License-Identifier: BSD-3-Clause */
/* role.c: which [role NAME] sections a user may assume, and asking which one to use. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modutil.h>
#include <stdlib.h>
#include <string.h>

#include "role.h"

/* getgrouplist() is asked at most twice: once to learn the size. */
#define GROUPS_MAX 65536

static int
user_gids(const char *user, gid_t gid, gid_t **out, int *n, struct stsrole_error *err)
{
    gid_t *g = NULL, *ng;
    int want = 64, tries;

    for (tries = 0; tries < 3; tries++) {
        int have = want;

        ng = realloc(g, (size_t)want * sizeof(*g));
        if (ng == NULL) {
            free(g);
            return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
        }
        g = ng;
        if (getgrouplist(user, gid, g, &have) >= 0) {
            *out = g;
            *n = have;
            return STSROLE_OK;
        }
        if (have <= want || have > GROUPS_MAX)
            break;
        want = have;
    }
    free(g);
    return stsrole_fail(err, STSROLE_E_IO, "cannot list the groups of %s", user);
}

/* A group name from the config (a group that NSS cannot resolve matches
 * nobody, as pam_modutil_getgrnam tells no difference). */
static int
group_gid(void *ctx, const char *name, gid_t *gid)
{
    const struct group *gr = pam_modutil_getgrnam(ctx, name);

    if (gr != NULL)
        *gid = gr->gr_gid;
    return gr != NULL;
}

int
stsrole_pam_usable_roles(pam_handle_t *pamh, const struct stsrole_config *cfg, const char *user,
                         gid_t gid, int requestable, const struct stsrole_role ***out, size_t *n,
                         struct stsrole_error *err)
{
    gid_t *gids = NULL;
    int ngids = 0, rc;
    size_t i;

    *n = 0;
    *out = NULL;
    rc = user_gids(user, gid, &gids, &ngids, err);
    if (rc != STSROLE_OK)
        return rc;
    *out = calloc(cfg->n_roles + 1, sizeof(**out));
    if (*out == NULL) {
        free(gids);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    for (i = 0; i < cfg->n_roles; i++) {
        const struct stsrole_role *r = &cfg->roles[i];

        if (stsrole_role_allows(r, user, gids, ngids, group_gid, pamh) ||
            (requestable && stsrole_role_needs_request(r) &&
             stsrole_role_lists(r, user, gids, ngids, group_gid, pamh)))
            (*out)[(*n)++] = r;
    }
    free(gids);
    return STSROLE_OK;
}

int
stsrole_pam_roles_for_user(pam_handle_t *pamh, const struct stsrole_config *cfg, const char *user,
                           gid_t gid, const struct stsrole_role **out, size_t *n,
                           struct stsrole_error *err)
{
    const struct stsrole_role **all;
    size_t i, n_all;
    int rc;

    *n = 0;
    rc = stsrole_pam_usable_roles(pamh, cfg, user, gid, 0, &all, &n_all, err);
    if (rc != STSROLE_OK)
        return rc;
    for (i = 0; i < n_all; i++) {
        if (all[i]->template_name != NULL)
            continue;
        if (*n >= STSROLE_PAM_MAX_CHOICES) {
            rc = stsrole_fail(err, STSROLE_E_CONFIG, "more than %d roles match user %s",
                              STSROLE_PAM_MAX_CHOICES, user);
            *n = 0;
            break;
        }
        out[(*n)++] = all[i];
    }
    /* Only template roles: the first, without a question (stsrole.conf(5),
     * PROFILES); the others are profiles of the session. */
    if (rc == STSROLE_OK && *n == 0 && n_all > 0)
        out[(*n)++] = all[0];
    free(all);
    return rc;
}

int
stsrole_pam_requestable_roles(pam_handle_t *pamh, const struct stsrole_config *cfg,
                              const char *user, gid_t gid, const struct stsrole_role **out,
                              size_t *n, struct stsrole_error *err)
{
    const struct stsrole_role **all;
    size_t i, n_all;
    int rc;

    *n = 0;
    /* Elsewhere such a role cannot be served: nothing to offer. */
    if (cfg->credentials_mode != STSROLE_MODE_PROCESS)
        return STSROLE_OK;
    rc = stsrole_pam_usable_roles(pamh, cfg, user, gid, 1, &all, &n_all, err);
    if (rc != STSROLE_OK)
        return rc;
    for (i = 0; i < n_all && *n < STSROLE_PAM_MAX_CHOICES; i++)
        if (all[i]->template_name == NULL && stsrole_role_needs_request(all[i]))
            out[(*n)++] = all[i];
    free(all);
    return STSROLE_OK;
}

/* One informational line per marked role, naming `stsrole request`. */
static int
tell_requestable(pam_handle_t *pamh, const struct stsrole_role *const *marked, size_t n)
{
    size_t i;
    int rc = PAM_SUCCESS;

    for (i = 0; rc == PAM_SUCCESS && i < n; i++)
        rc = pam_info(pamh, "  %s  (break-glass: after login, `stsrole request %s --reason ...`)",
                      marked[i]->name, marked[i]->name);
    return rc;
}

const struct stsrole_role *
stsrole_pam_role_named(const struct stsrole_role *const *choices, size_t n, const char *name)
{
    size_t i;

    for (i = 0; name != NULL && i < n; i++) {
        if (strcmp(choices[i]->name, name) == 0)
            return choices[i];
    }
    return NULL;
}

/* A number 1..n, or a role's name. */
static const struct stsrole_role *
parse_answer(const struct stsrole_role *const *choices, size_t n, const char *answer)
{
    char *end;
    unsigned long k;

    if (answer == NULL || answer[0] == '\0')
        return NULL;
    if (answer[0] >= '1' && answer[0] <= '9') {
        errno = 0;
        k = strtoul(answer, &end, 10);
        if (errno == 0 && *end == '\0' && k >= 1 && k <= n)
            return choices[k - 1];
        return NULL;
    }
    return stsrole_pam_role_named(choices, n, answer);
}

int
stsrole_pam_ask_role(pam_handle_t *pamh, const struct stsrole_role *const *choices, size_t n,
                     const struct stsrole_role *const *marked, size_t n_marked,
                     const struct stsrole_role **chosen)
{
    char *answer = NULL;
    size_t i;
    int attempt, rc;

    *chosen = NULL;
    /* One message per line: PAM_MAX_MSG_SIZE bounds each message, not the
     * menu.  sshd shows informational messages with the next prompt. */
    rc = pam_info(pamh, "AWS roles available to you:");
    for (i = 0; rc == PAM_SUCCESS && i < n; i++)
        rc = pam_info(pamh, "  %zu) %s  (%s)", i + 1, choices[i]->name, choices[i]->arn);
    if (rc == PAM_SUCCESS)
        rc = tell_requestable(pamh, marked, n_marked);
    if (rc != PAM_SUCCESS)
        return PAM_CONV_ERR;
    for (attempt = 0; attempt < 3; attempt++) {
        rc = pam_prompt(pamh, PAM_PROMPT_ECHO_ON, &answer, "Role [1-%zu]: ", n);
        if (rc != PAM_SUCCESS) {
            free(answer);
            return PAM_CONV_ERR;
        }
        *chosen = parse_answer(choices, n, answer);
        free(answer);
        answer = NULL;
        if (*chosen != NULL)
            return PAM_SUCCESS;
        pam_error(pamh, "Not a choice; answer with a number from 1 to %zu.", n);
    }
    return PAM_AUTH_ERR;
}
