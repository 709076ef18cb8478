/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_profiles.c: credentials_mode = process: a session's other profiles: who may have them,
 * step-up codes, minting on demand and refresh. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "gw.h"
#include "gw_refresh.h"
#include "gw_rtab.h"
#include "login.h"
#include "mint.h"
#include "totp.h"

#define WORK_PER_STEP 16
#define NSS_BUF 16384
#define GROUPS_MAX 65536
/* Wrong step-up codes a session may send before it may send none: the
 * login's own lockout (pam_faillock) does not see these. */
#define STEPUP_TRIES 5

/* One request or refresh, copied out of the table so AWS is called
 * without the lock. */
struct work {
    char id[33];
    char name[128];
    char code[16]; /* a secret */
    int roles;     /* the list of profiles is wanted */
    int passed;
    int first; /* no credential yet: a client waits */
};

int
gw_group_gid(void *ctx, const char *name, gid_t *gid)
{
    struct group gr, *res = NULL;
    char buf[NSS_BUF];

    (void)ctx;
    if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || res == NULL)
        return 0;
    *gid = gr.gr_gid;
    return 1;
}

int
gw_user_gids(const char *user, gid_t **out, int *n)
{
    struct passwd pw, *res = NULL;
    char buf[NSS_BUF];
    gid_t *g = NULL, *ng;
    int want = 64, have, tries;

    *out = NULL;
    *n = 0;
    if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
        return -1;
    for (tries = 0; tries < 3; tries++) {
        if ((ng = realloc(g, (size_t)want * sizeof(*g))) == NULL)
            break;
        g = ng;
        have = want;
        if (getgrouplist(user, pw.pw_gid, g, &have) >= 0) {
            *out = g;
            *n = have;
            return 0;
        }
        if (have <= want || have > GROUPS_MAX)
            break;
        want = have;
    }
    free(g);
    return -1;
}

/* The profiles user may use under the config as loaded now, as the
 * answer to "roles". */
static char *
roles_answer(const struct gw *g, const char *user)
{
    cJSON *o = cJSON_CreateObject(), *arr, *it;
    gid_t *gids = NULL;
    int ngids = 0;
    size_t i;
    char *text = NULL, *line = NULL;

    if (o == NULL || gw_user_gids(user, &gids, &ngids) != 0 ||
        cJSON_AddBoolToObject(o, "ok", 1) == NULL ||
        (arr = cJSON_AddArrayToObject(o, "profiles")) == NULL)
        goto out;
    for (i = 0; i < g->cfg.n_roles; i++) {
        const struct stsrole_role *r = &g->cfg.roles[i];

        int request = stsrole_role_needs_request(r);

        /* A break-glass role the person may ask for is listed too, marked:
         * its profile serves the credential once a request is approved. */
        if (!(request ? stsrole_role_lists(r, user, gids, ngids, gw_group_gid, NULL)
                      : stsrole_role_allows(r, user, gids, ngids, gw_group_gid, NULL)))
            continue;
        if ((it = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(arr, it) ||
            cJSON_AddStringToObject(it, "profile", r->name) == NULL ||
            cJSON_AddStringToObject(it, "arn", r->arn) == NULL ||
            (r->account != NULL && cJSON_AddStringToObject(it, "account", r->account) == NULL) ||
            cJSON_AddBoolToObject(it, "step_up", r->step_up) == NULL ||
            (request && cJSON_AddBoolToObject(it, "request", 1) == NULL))
            goto out;
    }
    text = cJSON_PrintUnformatted(o);
    if (text != NULL && (line = malloc(strlen(text) + 2)) != NULL)
        snprintf(line, strlen(text) + 2, "%s\n", text);
out:
    free(text);
    free(gids);
    cJSON_Delete(o);
    return line;
}

/* request 0: user may use role now; 1: user may ask for it (break-glass). */
static int
may_use(const char *user, const struct stsrole_role *role, int request)
{
    gid_t *gids = NULL;
    int ngids = 0, ok;

    if (gw_user_gids(user, &gids, &ngids) != 0)
        return 0;
    ok = request ? stsrole_role_lists(role, user, gids, ngids, gw_group_gid, NULL)
                 : stsrole_role_allows(role, user, gids, ngids, gw_group_gid, NULL);
    free(gids);
    return ok;
}

static int
has_work(const struct gw *g, const struct rprofile *p, int64_t now, int64_t mono)
{
    if (mono < p->cred.next_try_ms || p->refused[0] != '\0' || p->breakglass)
        return 0;
    if (p->wanted || p->code[0] != '\0')
        return 1;
    return p->cred.doc != NULL && gw_rtab_due_at(&p->cred, g->cfg.refresh_margin) <= now;
}

/* Sets what the main thread decided about one profile, under the lock. */
static void
decide(struct gw *g, const struct work *w, const char *refused, int need_code, int passed)
{
    struct gw_refresh *r = g->refresh;
    struct rentry *e;
    struct rprofile *p;

    pthread_mutex_lock(&r->mu);
    if ((e = gw_rtab_find(r, w->id)) != NULL && (p = gw_rtab_profile(e, w->name, 0)) != NULL) {
        stsrole_wipe(p->code, sizeof(p->code));
        if (refused != NULL) {
            snprintf(p->refused, sizeof(p->refused), "%s", refused);
            p->wanted = 0;
        }
        if (need_code) {
            p->need_code = 1;
            p->wanted = 0;
        }
        if (passed) {
            p->passed = 1;
            p->need_code = 0;
            p->wanted = 1;
        }
    }
    pthread_mutex_unlock(&r->mu);
    gw_rtab_wake(r->wake_fd);
}

/* The step-up: a fresh code, verified as at login (liboath's users file
 * records it, so it cannot be used again; with replay_store = dynamodb
 * the fleet claim too).  Login and step-up claim the same per-person
 * step (lib/replay.h), so a code seen once is good for one of them, on
 * one bastion.  A store that cannot answer refuses the code whatever
 * failmode says: failmode is about letting a login in without AWS, and a
 * step-up exists only to mint.  0 when accepted; *wrong is 1 when the
 * code itself was refused (wrong, or used already). */
static int
step_up(struct gw *g, const struct gw_session *s, const char *code, int *wrong,
        struct stsrole_error *err)
{
    struct stsrole_totp_step step;
    enum stsrole_replay_verdict verdict = STSROLE_REPLAY_USED;
    char why[STSROLE_ERRMSG_MAX];
    int rc;

    /* The main loop waits for the users file's lock as a login does
     * (totp_lock_wait). */
    *wrong = 0;
    rc = stsrole_totp_verify(g->cfg.usersfile, s->rec.user, code, g->cfg.totp_window,
                             g->cfg.totp_lock_wait * 1000, NULL, err);
    /* E_DENIED: a wrong or used code; anything else is the bastion's trouble. */
    *wrong = rc == STSROLE_E_DENIED;
    if (rc != STSROLE_OK || g->cfg.replay_table == NULL)
        return rc;
    rc = stsrole_totp_step(g->cfg.usersfile, s->rec.user, code, g->cfg.totp_window, &step, err);
    if (rc != STSROLE_OK)
        return rc;
    rc = stsrole_login_replay(&g->cfg, s->rec.user, &step, &verdict, err);
    if (rc == STSROLE_OK && verdict != STSROLE_REPLAY_FRESH) {
        *wrong = 1;
        return STSROLE_E_DENIED; /* err says so as at login: "(fleet replay refused)" */
    }
    if (rc != STSROLE_OK && rc != STSROLE_E_NOMEM) {
        snprintf(why, sizeof(why), "%s", err->msg);
        stsrole_fail(err, rc,
                     "replay store dynamodb:%s unavailable, so the step-up fails closed: %s",
                     g->cfg.replay_table, why);
    }
    return rc;
}

static void
do_profile(struct gw *g, struct gw_session *s, struct work *w)
{
    struct gw_refresh *r = g->refresh;
    const struct stsrole_role *role = stsrole_config_role(&g->cfg, w->name);
    struct stsrole_assumed as;
    struct stsrole_error err;
    struct gw_session *cs;
    struct rentry *e;
    struct rprofile *p;
    char child[33] = "", request_id[128] = "", detail[1024], why[400];
    int rc, permanent, wrong = 0;

    stsrole_error_clear(&err);
    if (role != NULL && stsrole_role_needs_request(role) && may_use(s->rec.user, role, 1)) {
        /* Served here only once a request is approved (gw_breakglass.c). */
        snprintf(why, sizeof(why),
                 "profile %.100s needs an approved break-glass request: run `stsrole request "
                 "%.100s --reason TEXT`",
                 w->name, w->name);
        decide(g, w, why, 0, 0);
        return;
    }
    if (role == NULL || !may_use(s->rec.user, role, 0)) {
        snprintf(why, sizeof(why), "%s may not use profile %s (no such role for them in %s)",
                 s->rec.user, w->name, g->config_path);
        snprintf(detail, sizeof(detail), "profile %s refused: %s", w->name, why);
        /* The person may ask again at will: a flood is not written line by line. */
        if (gw_audit_refusal(g, s->rec.uid))
            gw_audit(g, "profile.refused", s, role != NULL ? role->arn : NULL, "error", "", detail);
        decide(g, w, why, 0, 0);
        return;
    }
    if (role->step_up && !w->passed) {
        if (w->code[0] == '\0') {
            decide(g, w, NULL, 1, 0);
            return;
        }
        pthread_mutex_lock(&r->mu);
        e = gw_rtab_find(r, w->id);
        permanent = e != NULL && e->stepup_failures >= STEPUP_TRIES;
        pthread_mutex_unlock(&r->mu);
        if (permanent)
            rc = stsrole_fail(&err, STSROLE_E_DENIED,
                              "%d wrong codes in this session already: log in again", STEPUP_TRIES);
        else
            rc = step_up(g, s, w->code, &wrong, &err);
        stsrole_wipe(w->code, sizeof(w->code));
        /* Only wrong (or replayed) codes count towards the lockout: an
         * unreachable replay store is no guess at the code. */
        if (rc != STSROLE_OK && !permanent && wrong) {
            pthread_mutex_lock(&r->mu);
            if ((e = gw_rtab_find(r, w->id)) != NULL)
                e->stepup_failures++;
            pthread_mutex_unlock(&r->mu);
        }
        snprintf(detail, sizeof(detail), "step-up for profile %s: %s", w->name,
                 rc == STSROLE_OK ? "code accepted" : err.msg);
        /* Every code checked is audited; those sent after the lockout are
         * refused unchecked, as often as the person likes. */
        if (!permanent || gw_audit_refusal(g, s->rec.uid))
            gw_audit(g, rc == STSROLE_OK ? "stepup.ok" : "stepup.failed", s, role->arn,
                     rc == STSROLE_OK ? "ok" : "error", "", detail);
        if (rc != STSROLE_OK) {
            snprintf(why, sizeof(why),
                     wrong || permanent
                         ? "the verification code for profile %.127s was not accepted (%.200s)"
                         : "the verification code for profile %.127s could not be checked, "
                           "so it is refused (%.200s)",
                     w->name, err.msg);
            decide(g, w, why, 0, 0);
            return;
        }
        decide(g, w, NULL, 0, 1);
    }
    rc = gw_refresh_mint(g, s, role, &as, child, request_id, &err);
    if (rc != STSROLE_OK) {
        /* A role AWS will not give (denied, invalid) is told to the
         * person at once; a passing failure is retried. */
        permanent = w->first && !stsrole_status_retryable(err.status);
        snprintf(detail, sizeof(detail), "profile %s of session %s: %s: %s", w->name,
                 s->rec.session_id, stsrole_status_name(err.status), err.msg);
        /* Told at once, so asked again at will (a retried one waits its back-off). */
        if (!permanent || gw_audit_refusal(g, s->rec.uid))
            gw_audit(g, "profile.failed", s, role->arn, "error", request_id, detail);
        pthread_mutex_lock(&r->mu);
        if ((e = gw_rtab_find(r, w->id)) != NULL && (p = gw_rtab_profile(e, w->name, 0)) != NULL) {
            (void)gw_rtab_retry_later(&p->cred);
            snprintf(p->cred.why, sizeof(p->cred.why), "minting failed (%s)",
                     stsrole_status_name(err.status));
            if (permanent) {
                snprintf(p->refused, sizeof(p->refused), "AssumeRole of %.100s failed: %s: %.100s",
                         role->arn, stsrole_status_name(err.status), err.msg);
                p->wanted = 0;
            }
        }
        pthread_mutex_unlock(&r->mu);
        gw_rtab_wake(r->wake_fd);
        return;
    }
    gw_sessions_seen(g, child);
    cs = gw_session_find(g, child);
    snprintf(detail, sizeof(detail), "profile %s of session %s%s", w->name, s->rec.session_id,
             w->first ? "" : ", refreshed");
    if (cs != NULL && gw_audit(g, w->first ? "profile.ok" : "refresh.ok", cs, NULL, "ok",
                               request_id, detail) == 0) {
        cs->open_audited = 1; /* this line stands for its session.open */
        gw_track_save(g, cs);
    }
    pthread_mutex_lock(&r->mu);
    if ((e = gw_rtab_find(r, w->id)) != NULL && (p = gw_rtab_profile(e, w->name, 0)) != NULL) {
        if (gw_rtab_set_minted(&p->cred, &as.creds, gw_now()) == 0)
            p->wanted = 0;
    }
    pthread_mutex_unlock(&r->mu);
    stsrole_assumed_free(&as);
    gw_rtab_wake(r->wake_fd);
}

void
gw_profiles_step(struct gw *g)
{
    struct gw_refresh *r = g->refresh;
    struct work *w;
    struct gw_session *s;
    int64_t now = gw_now(), mono = gw_mono_ms();
    size_t i, j, n = 0;

    if (r == NULL || (w = calloc(WORK_PER_STEP, sizeof(*w))) == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n && n < WORK_PER_STEP; i++) {
        struct rentry *e = r->v[i];

        if (!e->live)
            continue;
        if (e->roles == NULL) {
            memcpy(w[n].id, e->id, sizeof(w[n].id));
            w[n++].roles = 1;
        }
        for (j = 0; j < e->n_prof && n < WORK_PER_STEP; j++) {
            struct rprofile *p = e->prof[j];

            if (!has_work(g, p, now, mono))
                continue;
            memcpy(w[n].id, e->id, sizeof(w[n].id));
            memcpy(w[n].name, p->name, sizeof(w[n].name));
            memcpy(w[n].code, p->code, sizeof(w[n].code));
            w[n].passed = p->passed;
            w[n].first = p->cred.doc == NULL;
            n++;
        }
    }
    pthread_mutex_unlock(&r->mu);
    for (i = 0; i < n; i++) {
        if ((s = gw_session_find(g, w[i].id)) == NULL || s->closed)
            continue;
        if (w[i].roles) {
            char *text = roles_answer(g, s->rec.user);
            struct rentry *e;

            pthread_mutex_lock(&r->mu);
            if (text != NULL && (e = gw_rtab_find(r, w[i].id)) != NULL && e->roles == NULL) {
                e->roles = text;
                text = NULL;
            }
            pthread_mutex_unlock(&r->mu);
            free(text);
            gw_rtab_wake(r->wake_fd);
            continue;
        }
        do_profile(g, s, &w[i]);
    }
    stsrole_wipe(w, WORK_PER_STEP * sizeof(*w));
    free(w);
}

int64_t
gw_profiles_next_ms(const struct gw *g)
{
    struct gw_refresh *r = g->refresh;
    int64_t best = INT64_MAX, mono = gw_mono_ms(), now = gw_now(), t;
    size_t i, j;

    if (r == NULL)
        return best;
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++) {
        const struct rentry *e = r->v[i];

        if (!e->live)
            continue;
        if (e->roles == NULL)
            best = mono;
        for (j = 0; j < e->n_prof; j++) {
            const struct rprofile *p = e->prof[j];

            if (p->refused[0] != '\0' || p->breakglass)
                continue;
            if (p->wanted || p->code[0] != '\0')
                t = mono;
            else if (p->cred.doc != NULL)
                t = mono + (gw_rtab_due_at(&p->cred, g->cfg.refresh_margin) - now) * 1000;
            else
                continue;
            if (t < p->cred.next_try_ms)
                t = p->cred.next_try_ms;
            if (t < best)
                best = t;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return best;
}
