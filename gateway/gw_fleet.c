/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_fleet.c: revoke --user USER --fleet: every live session of a user that the registry lists. */
#include "config.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "ddb.h"
#include "gw.h"
#include "policy.h"
#include "registry.h"

/*
 * revoke --user USER --fleet: this gateway denies every live session of
 * USER that the registry lists, whichever bastion opened it.  Its own
 * sessions go the usual way; the others' sids (or, for items written
 * before sids, aws:userids) go into this
 * bastion's own deny policy (stsrole-revoked-<bastion_id>) on their role,
 * through the revoker of that role as *this* bastion's configuration
 * names it.  From an item it takes only the role ARN, the aws:userid, the
 * issue and expiry times; the role must be one this bastion revokes for,
 * and a malformed aws:userid is refused (never the cut-off fallback, which
 * would deny the whole role).  Why one gateway and not each: see
 * stsrole-gatewayd(8), FLEET.
 */

#define SUMMARY_MAX 1200

static void
remote_free(struct gw_session *s)
{
    if (s == NULL)
        return;
    stsrole_session_free(&s->rec);
    free(s);
}

/* Another bastion's session, as far as the registry tells. */
static struct gw_session *
remote_session(const struct stsrole_registry_entry *e)
{
    struct gw_session *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    memcpy(s->rec.session_id, e->session_id, sizeof(s->rec.session_id));
    s->rec.user = strdup(e->user);
    s->rec.source_identity = strdup(e->user);
    s->rec.role_name = strdup(e->role_name);
    s->rec.role_arn = strdup(e->role_arn);
    s->rec.assumed_role_id = strdup(e->assumed_role_id);
    s->rec.session_name = strdup(e->session_name);
    s->rec.access_key_id = strdup(e->access_key_id);
    s->rec.rhost = e->rhost != NULL ? strdup(e->rhost) : NULL;
    s->rec.expiration = e->expiration;
    s->rec.opened = e->opened;
    memcpy(s->rec.sid, e->sid, sizeof(s->rec.sid));
    if (e->refresh && e->sid[0] != '\0') {
        /* Its gateway refreshes it: newer credentials than the item's may
         * exist, and one more may be minted before that gateway sees the
         * item gone (stsrole-gatewayd(8), FLEET).  Bounds that cover them. */
        int64_t now = gw_now();

        s->rec.opened = now + 60;
        s->rec.expiration = now + STSROLE_POLICY_MAX_TOKEN_LIFE;
    }
    s->remote = 1;
    s->manual = 1;
    s->open_audited = 1; /* its bastion wrote session.open */
    if (s->rec.user == NULL || s->rec.source_identity == NULL || s->rec.role_name == NULL ||
        s->rec.role_arn == NULL || s->rec.assumed_role_id == NULL || s->rec.session_name == NULL ||
        s->rec.access_key_id == NULL || (e->rhost != NULL && s->rec.rhost == NULL)) {
        remote_free(s);
        return NULL;
    }
    return s;
}

static void
add_result(cJSON *arr, const char *sid, const char *bastion, const char *k, const char *v)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL)
        return;
    cJSON_AddStringToObject(o, "session_id", sid);
    cJSON_AddStringToObject(o, "bastion_id", bastion);
    cJSON_AddStringToObject(o, k, v);
    cJSON_AddItemToArray(arr, o);
}

static void summary_add(char *sum, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
summary_add(char *sum, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*len >= SUMMARY_MAX - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(sum + *len, SUMMARY_MAX - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n >= SUMMARY_MAX ? SUMMARY_MAX - 1 : *len + (size_t)n;
}

cJSON *
gw_fleet_revoke(struct gw *g, const char *user)
{
    struct stsrole_registry_entry *list = NULL;
    struct stsrole_aws_client c;
    struct stsrole_error err;
    struct gw_session **remote = NULL, **batch = NULL, *s;
    cJSON *o, *revoked, *failed, *expired;
    char(*local)[33] = NULL, via[200], sum[SUMMARY_MAX], lerr[STSROLE_ERRMSG_MAX + 96];
    size_t i, j, n = 0, skipped = 0, n_local = 0, n_remote = 0, n_bad = 0, sl = 0, nb;
    int64_t now = gw_now();
    int rc;

    o = cJSON_CreateObject();
    if (o == NULL || (revoked = cJSON_AddArrayToObject(o, "revoked")) == NULL ||
        (failed = cJSON_AddArrayToObject(o, "failed")) == NULL ||
        (expired = cJSON_AddArrayToObject(o, "expired")) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddStringToObject(o, "policy", g->policy_name);
    if (g->cfg.registry_table == NULL) {
        cJSON_AddBoolToObject(o, "ok", 0);
        cJSON_AddStringToObject(o, "error", "revoke --fleet needs registry_table");
        return o;
    }
    stsrole_client_ddb(&c, &g->cfg, &g->http, &g->base);
    rc = stsrole_registry_list(&c, g->cfg.registry_table, user, now, &list, &n, &skipped, &err);
    if (rc != STSROLE_OK) {
        /* This bastion's own sessions are revoked all the same. */
        snprintf(lerr, sizeof(lerr), "registry %s: %s: %s", g->cfg.registry_table,
                 stsrole_status_name(err.status), err.msg);
        list = NULL;
        n = 0;
    }
    local = calloc(g->n_sess + 1, sizeof(*local));
    remote = calloc(n + 1, sizeof(*remote));
    batch = calloc(n + 1, sizeof(*batch));
    if (local == NULL || remote == NULL || batch == NULL) {
        cJSON_AddBoolToObject(o, "ok", 0);
        cJSON_AddStringToObject(o, "error", "out of memory");
        goto out;
    }
    /* Every session of the user on this bastion, listed or not (its item
     * may have failed to be written), as revoke --user does. */
    for (i = 0; i < g->n_sess; i++) {
        s = g->sess[i];
        if (!s->revoked && s->rec.user != NULL && strcmp(s->rec.user, user) == 0) {
            s->manual = 1;
            memcpy(local[n_local++], s->rec.session_id, 33);
        }
    }
    for (i = 0; i < n; i++) {
        const struct stsrole_registry_entry *e = &list[i];

        s = gw_session_find(g, e->session_id);
        if (s != NULL && s->rec.user != NULL && strcmp(s->rec.user, e->user) == 0) {
            if (s->revoked) {
                add_result(revoked, e->session_id, e->bastion_id, "via", "already revoked");
                gw_registry_forget(g, s);
            }
            continue; /* ours: among local[] */
        }
        if (e->expiration <= now && !(e->refresh && e->sid[0] != '\0')) {
            /* Nothing left to deny: AWS refuses the credential by itself. */
            add_result(expired, e->session_id, e->bastion_id, "expiration", "passed");
            s = remote_session(e);
            if (s != NULL)
                gw_registry_forget(g, s);
            remote_free(s);
            continue;
        }
        if (e->sid[0] == '\0' && !stsrole_userid_valid(e->assumed_role_id)) {
            add_result(failed, e->session_id, e->bastion_id, "error",
                       "the registry item has no sid and its assumed_role_id is not an "
                       "aws:userid");
            n_bad++;
            continue;
        }
        if ((remote[n_remote] = remote_session(e)) == NULL) {
            add_result(failed, e->session_id, e->bastion_id, "error", "out of memory");
            n_bad++;
            continue;
        }
        n_remote++;
    }
    if (n_local > 0) {
        gw_sessions_step(g); /* session.open first, if it is not written yet */
        gw_revoke_due(g, 1);
    }
    /* The others, one batch (one PutRolePolicy) per role. */
    for (i = 0; i < n_remote; i++) {
        if (remote[i]->revoked || remote[i]->attempts > 0)
            continue;
        for (j = i, nb = 0; j < n_remote; j++)
            if (!remote[j]->revoked && remote[j]->attempts == 0 &&
                strcmp(remote[j]->rec.role_arn, remote[i]->rec.role_arn) == 0)
                batch[nb++] = remote[j];
        gw_revoke_sessions(g, remote[i]->rec.role_arn, batch, nb);
    }
    summary_add(sum, &sl, "user %s:", user);
    for (i = 0; i < n_local; i++) {
        s = gw_session_find(g, local[i]);
        if (s != NULL && !s->revoked) {
            add_result(failed, local[i], g->cfg.bastion_id, "error", g->last_error);
            summary_add(sum, &sl, " %s@%s failed;", local[i], g->cfg.bastion_id);
        } else {
            add_result(revoked, local[i], g->cfg.bastion_id, "via", "this bastion");
            summary_add(sum, &sl, " %s@%s revoked here;", local[i], g->cfg.bastion_id);
        }
    }
    for (i = 0; i < n_remote; i++) {
        const char *sid = remote[i]->rec.session_id, *bastion = "-";

        for (j = 0; j < n; j++)
            if (strcmp(list[j].session_id, sid) == 0)
                bastion = list[j].bastion_id;
        if (remote[i]->revoked) {
            snprintf(via, sizeof(via), "%s on %s", g->policy_name, remote[i]->rec.role_arn);
            add_result(revoked, sid, bastion, "via", via);
            summary_add(sum, &sl, " %s@%s revoked in %s;", sid, bastion, g->policy_name);
        } else {
            add_result(failed, sid, bastion, "error", g->last_error);
            summary_add(sum, &sl, " %s@%s failed;", sid, bastion);
        }
    }
    if (n_local + n_remote + n_bad == 0)
        summary_add(sum, &sl, " no live session");
    if (rc != STSROLE_OK)
        summary_add(sum, &sl, " (%s)", lerr);
    if (skipped > 0)
        summary_add(sum, &sl, " (%zu unreadable registry items skipped)", skipped);
    gw_audit(g, "revoke.fleet", NULL, NULL,
             cJSON_GetArraySize(failed) == 0 && rc == STSROLE_OK ? "ok" : "error", NULL, sum);
    /* Revoked sessions leave the registry now, so a listing right after
     * shows what is still live. */
    gw_registry_step(g);
    cJSON_AddNumberToObject(o, "skipped", (double)skipped);
    cJSON_AddBoolToObject(o, "ok", cJSON_GetArraySize(failed) == 0 && rc == STSROLE_OK);
    if (rc != STSROLE_OK)
        cJSON_AddStringToObject(o, "error", lerr);
    else if (cJSON_GetArraySize(failed) != 0)
        cJSON_AddStringToObject(o, "error",
                                "some sessions could not be revoked; the gateway "
                                "keeps retrying this bastion's own");
out:
    for (i = 0; remote != NULL && i < n_remote; i++)
        remote_free(remote[i]);
    free(remote);
    free(batch);
    free(local);
    stsrole_registry_list_free(list, n);
    return o;
}
