/* gw_fleet.c: the fleet session registry from the gateway's side: item removal, revoke --fleet. */
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

/*
 * revoke --user USER --fleet: this gateway denies every live session of
 * USER that the registry lists, whichever bastion opened it.  Its own
 * sessions go the usual way; the others' aws:userids go into this
 * bastion's own deny policy (stsrole-revoked-<bastion_id>) on their role,
 * through the revoker of that role as *this* bastion's configuration
 * names it.  From an item it takes only the role ARN, the aws:userid, the
 * issue and expiry times; the role must be one this bastion revokes for,
 * and a malformed aws:userid is refused (never the cut-off fallback, which
 * would deny the whole role).  Why one gateway and not each: see
 * stsrole-gatewayd(8), FLEET.
 */

#define FORGET_MAX 4096 /* items queued for deletion; past that, TTL removes them */
#define FORGET_CAP_S 300
#define FORGET_TRIES 8 /* denied or rejected: give up after this many, TTL removes it */
#define SUMMARY_MAX 1200

struct forget {
    char *user;
    char session_id[33];
    int attempts;
    int64_t next_ms;
};

struct gw_fleet {
    struct forget *v;
    size_t n, cap;
};

static int64_t
backoff_ms(int attempts)
{
    int64_t s = 1;

    while (attempts-- > 1 && s < FORGET_CAP_S)
        s *= 2;
    return (s > FORGET_CAP_S ? FORGET_CAP_S : s) * 1000;
}

void
gw_fleet_forget(struct gw *g, const struct gw_session *s)
{
    struct gw_fleet *f;
    struct forget *nv;
    size_t i;

    if (g->cfg.registry_table == NULL || s->rec.user == NULL)
        return;
    if (g->fleet == NULL && (g->fleet = calloc(1, sizeof(*g->fleet))) == NULL)
        return;
    f = g->fleet;
    for (i = 0; i < f->n; i++)
        if (strcmp(f->v[i].session_id, s->rec.session_id) == 0)
            return;
    if (f->n == FORGET_MAX) {
        gw_log(LOG_WARNING,
               "registry: %d deletions wait already; the item of session %s is left "
               "to DynamoDB's TTL",
               FORGET_MAX, s->rec.session_id);
        return;
    }
    if (f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 16;

        if ((nv = realloc(f->v, ncap * sizeof(*nv))) == NULL)
            return;
        f->v = nv;
        f->cap = ncap;
    }
    memset(&f->v[f->n], 0, sizeof(f->v[f->n]));
    if ((f->v[f->n].user = strdup(s->rec.user)) == NULL)
        return;
    memcpy(f->v[f->n].session_id, s->rec.session_id, 33);
    f->n++;
}

static void
forget_drop(struct gw_fleet *f, size_t i)
{
    free(f->v[i].user);
    f->v[i] = f->v[--f->n];
}

void
gw_fleet_step(struct gw *g)
{
    struct gw_fleet *f = g->fleet;
    struct stsrole_aws_client c;
    struct stsrole_error err;
    int64_t now = gw_mono_ms(), later;
    size_t i, j;

    if (f == NULL || f->n == 0 || g->cfg.registry_table == NULL)
        return;
    stsrole_ddb_client(&c, &g->cfg, &g->http, &g->base);
    for (i = 0; i < f->n;) {
        struct forget *e = &f->v[i];

        if (e->next_ms > now) {
            i++;
            continue;
        }
        if (stsrole_registry_delete(&c, g->cfg.registry_table, e->user, e->session_id, &err) ==
            STSROLE_OK) {
            forget_drop(f, i);
            continue;
        }
        e->attempts++;
        if (!stsrole_status_retryable(err.status) && e->attempts >= FORGET_TRIES) {
            gw_log(LOG_WARNING,
                   "registry: cannot delete the item of session %s (%s); DynamoDB's "
                   "TTL will",
                   e->session_id, err.msg);
            forget_drop(f, i);
            continue;
        }
        later = gw_mono_ms() + backoff_ms(e->attempts);
        e->next_ms = later;
        if (e->attempts == 1)
            gw_log(LOG_NOTICE, "registry: deleting the item of session %s: %s; will retry",
                   e->session_id, err.msg);
        if (stsrole_status_retryable(err.status)) {
            /* DynamoDB is out of reach: the others wait too, rather than
             * each holding the loop for its own deadline. */
            for (j = 0; j < f->n; j++)
                if (f->v[j].next_ms < later)
                    f->v[j].next_ms = later;
            return;
        }
        i++;
    }
}

int64_t
gw_fleet_next_ms(const struct gw *g)
{
    int64_t best = INT64_MAX;
    size_t i;

    for (i = 0; g->fleet != NULL && i < g->fleet->n; i++)
        if (g->fleet->v[i].next_ms < best)
            best = g->fleet->v[i].next_ms;
    return best;
}

void
gw_fleet_free(struct gw *g)
{
    if (g->fleet == NULL)
        return;
    while (g->fleet->n > 0)
        forget_drop(g->fleet, g->fleet->n - 1);
    free(g->fleet->v);
    free(g->fleet);
    g->fleet = NULL;
}

/* -- revoke --user USER --fleet ------------------------------------------------------------ */

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
    stsrole_ddb_client(&c, &g->cfg, &g->http, &g->base);
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
                gw_fleet_forget(g, s);
            }
            continue; /* ours: among local[] */
        }
        if (e->expiration <= now) {
            /* Nothing left to deny: AWS refuses the credential by itself. */
            add_result(expired, e->session_id, e->bastion_id, "expiration", "passed");
            s = remote_session(e);
            if (s != NULL)
                gw_fleet_forget(g, s);
            remote_free(s);
            continue;
        }
        if (!stsrole_userid_valid(e->assumed_role_id)) {
            add_result(failed, e->session_id, e->bastion_id, "error",
                       "the registry item's assumed_role_id is not an aws:userid");
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
    gw_fleet_step(g);
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
