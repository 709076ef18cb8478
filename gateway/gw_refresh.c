/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_refresh.c: credentials_mode = process: the scheduler that re-assumes before expiry and stops
 * with the session. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "aws.h"
#include "client.h"
#include "gw.h"
#include "gw_refresh.h"
#include "gw_rtab.h"
#include "mint.h"
#include "registry.h"
#include "runtime.h"
#include "session.h"
#include "sts.h"
#define MINT_DEADLINE_MS 15000
/* pam_stsrole hands the login's own credential over right after writing
 * the record: a session this young without one is not minted for yet. */
#define HANDOFF_GRACE_S 10
#define MINTS_PER_STEP 8

/* The role-chaining cut is logged once per run, not at every refresh. */
static int chained_logged;

static int
refreshed(const struct gw_session *s)
{
    return s->rec.refresh;
}

static struct gw_session *
parent_of(struct gw *g, struct gw_session *s)
{
    return s->rec.parent == NULL ? s : gw_session_find(g, s->rec.parent);
}

/* A chain (an SSH session and the credentials refreshed for it) lives
 * while its session is open and none of its credentials was revoked by
 * hand (stsrolectl revoke) or by a cut-off.  One revoked credential stops
 * the whole chain, and the rest are revoked with it: refreshing would
 * hand out again what the administrator just took away. */
static int
chain_live(struct gw *g, struct gw_session *p)
{
    size_t i;

    if (p->closed || !p->record_present || p->manual || p->revoked)
        return 0;
    for (i = 0; i < g->n_sess; i++) {
        const struct gw_session *s = g->sess[i];

        if (s->rec.parent != NULL && strcmp(s->rec.parent, p->rec.session_id) == 0 &&
            (s->manual || (s->revoked && !s->closed)))
            return 0;
    }
    return 1;
}

/* A refreshed credential (or another profile's) closes with its session:
 * the same logout revokes the whole chain.  Its record is not rewritten:
 * the close follows from the parent's (closed, or its record gone), which
 * follow_sessions sees again after a restart, and a rewrite (two fsyncs)
 * per credential made a logout over 100 accounts slow. */
static void
close_child(struct gw_session *s)
{
    if (s->rec.closed == 0)
        s->rec.closed = gw_now(); /* for close_reason */
    s->closed = 1;
}

static void
follow_sessions(struct gw *g)
{
    struct gw_session *s, *p;
    int64_t now = gw_now();
    size_t i;

    for (i = 0; i < g->n_sess; i++) {
        s = g->sess[i];
        if (!refreshed(s))
            continue;
        p = parent_of(g, s);
        if (s != p && !s->closed && (p == NULL || p->closed))
            close_child(s);
        if (p != NULL && !chain_live(g, p) && !p->closed && !s->revoked && !s->manual)
            s->manual = 1; /* revoked with the rest of its chain */
        /* Nothing to deny once AWS refuses it anyway (the same rule as
         * pruning): keeps the chain's expired credentials out of the
         * policy's budget. */
        if (s->closed && !s->revoked && s->rec.expiration != 0 &&
            s->rec.expiration + g->skew <= now) {
            s->revoked = 1;
            s->revoke_detail = "expired before the session ended: AWS refuses it already";
        }
    }
    for (i = 0; i < g->n_sess; i++) {
        s = g->sess[i];
        if (refreshed(s) && s->rec.parent == NULL && s->closed) {
            struct stsrole_error err;

            if (stsrole_runtime_aws_config_remove(g->cfg.runtime_dir, s->rec.session_id, &err) !=
                STSROLE_OK)
                gw_log(LOG_WARNING, "%s", err.msg);
        }
    }
}

/* The serving table follows the main loop's view of the sessions. */
static void
sync_table(struct gw *g)
{
    struct gw_refresh *r = g->refresh;
    struct gw_session *s;
    struct stat st;
    char path[4200], (*unseen)[33] = NULL;
    size_t i, n_unseen = 0;
    int changed = 0;

    /* A record rewritten since the main loop read it (the logout's
     * rename) is read now, before the table says it is live. */
    for (i = 0; i < g->n_sess; i++) {
        s = g->sess[i];
        if (!refreshed(s) || s->rec.parent != NULL || s->closed)
            continue;
        gw_rtab_record_path(g->cfg.state_dir, s->rec.session_id, path, sizeof(path));
        if (lstat(path, &st) != 0 || (uint64_t)st.st_ino != s->rec_ino)
            gw_sessions_seen(g, s->rec.session_id);
    }
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++)
        r->v[i]->seen = 0;
    for (i = 0; i < g->n_sess; i++) {
        struct rentry *e;
        int live, chain;

        s = g->sess[i];
        if (!refreshed(s) || s->rec.parent != NULL)
            continue;
        live = chain = chain_live(g, s);
        e = gw_rtab_find(r, s->rec.session_id);
        if (e == NULL && live)
            e = gw_rtab_create(r, s->rec.session_id);
        if (e == NULL)
            continue;
        e->seen = 1;
        if (live) {
            gw_rtab_record_path(g->cfg.state_dir, s->rec.session_id, path, sizeof(path));
            live = lstat(path, &st) == 0 && (uint64_t)st.st_ino == s->rec_ino;
            if (live) {
                e->rec_dev = st.st_dev;
                e->rec_ino = st.st_ino;
            }
        }
        changed |= e->live != live;
        e->live = live;
        e->uid = s->rec.uid;
        e->sshd_pid = s->rec.sshd_pid;
        e->sshd_start = s->rec.sshd_start;
        snprintf(e->role_name, sizeof(e->role_name), "%s",
                 s->rec.role_name != NULL ? s->rec.role_name : "");
        e->adopted_ms = 0;
        if (!chain && e->cred.creds.access_key_id != NULL) {
            gw_rtab_clear_creds(&e->cred); /* never served again: no reason to hold it */
            changed = 1;
        }
    }
    /* A hand-off can beat inotify to a new record: keep its entry a while
     * and read the record now. */
    unseen = calloc(r->n + 1, sizeof(*unseen));
    for (i = 0; i < r->n;) {
        struct rentry *e = r->v[i];

        if (!e->seen && e->adopted_ms != 0 && gw_mono_ms() - e->adopted_ms < 30000) {
            if (unseen != NULL)
                memcpy(unseen[n_unseen++], e->id, 33);
            i++;
        } else if (!e->seen) {
            gw_rtab_drop(r, i);
            changed = 1;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&r->mu);
    for (i = 0; i < n_unseen; i++)
        gw_sessions_seen(g, unseen[i]);
    free(unseen);
    if (changed)
        gw_rtab_wake(r->wake_fd);
}

/* When the current credential should be replaced (epoch s). */
static int64_t
due_at(const struct gw *g, const struct rentry *e, const struct gw_session *p)
{
    /* A login from before this gateway started handed its credential to
     * another one (or to none): nothing is coming. */
    if (e->cred.creds.access_key_id == NULL)
        return p->rec.opened < g->started ? 0 : p->rec.opened + HANDOFF_GRACE_S;
    return gw_rtab_due_at(&e->cred, g->cfg.refresh_margin);
}

/* AssumeRole again for the session's user: the same role (or role, for
 * another profile), SourceIdentity
 * and tags as at login (stsrole:session stays the SSH session's id, so
 * CloudTrail finds every credential of it), a new nonce in the session
 * name.  The record is durable before the credential is served, as
 * pam_stsrole does at login. */
int
gw_refresh_mint(struct gw *g, struct gw_session *p, const struct stsrole_role *role,
                struct stsrole_assumed *as, char child[33], char request_id[128],
                struct stsrole_error *err)
{
    return gw_refresh_mint_tagged(g, p, role, NULL, NULL, as, child, request_id, err);
}

int
gw_refresh_mint_tagged(struct gw *g, struct gw_session *p, const struct stsrole_role *role,
                       const char *reason, const char *approvers, struct stsrole_assumed *as,
                       char child[33], char request_id[128], struct stsrole_error *err)
{
    struct stsrole_assume_params ap;
    struct stsrole_aws_client c;
    struct stsrole_tag tags[50];
    struct stsrole_session rec;
    char nonce[17], name[65], sid[STSROLE_SID_LEN + 1];
    int rc, cut;

    memset(as, 0, sizeof(*as));
    request_id[0] = '\0';
    if (role == NULL)
        role = gw_conf_role_by_arn(g, p->rec.role_arn);
    if (role == NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG, "role %s is no longer in %s", p->rec.role_arn,
                            g->config_path);
    if ((rc = stsrole_session_id(child, err)) != STSROLE_OK)
        return rc;
    snprintf(nonce, sizeof(nonce), "%.16s", child);
    /* The method checked at this session's login (records written before
     * logins recorded it come from the only method there was, TOTP);
     * stsrole:sid comes from the SSH session's id, so every credential
     * has the same. */
    rc = stsrole_mint_params(&g->cfg, role, p->rec.user, p->rec.session_id, nonce,
                             p->rec.mfa != NULL ? p->rec.mfa : "totp", tags, name, sid, &ap, err);
    if (rc == STSROLE_OK && (reason != NULL || approvers != NULL))
        rc = stsrole_mint_breakglass(&ap, tags, reason, approvers, err);
    if (rc != STSROLE_OK)
        return rc;
    ap.source_identity = p->rec.source_identity;
    if ((rc = stsrole_mint_chained(&g->base, &ap, &cut, err)) != STSROLE_OK)
        return rc;
    if (cut != 0 && !chained_logged) {
        chained_logged = 1;
        gw_log(LOG_WARNING,
               "duration %d of role %s cut to %d seconds: the base credential is a role session, "
               "and AWS caps AssumeRole from one at that (role chaining); said once",
               cut, role->name, ap.duration);
    }
    stsrole_client_aws(&g->cfg, &g->http, &g->base, "sts", g->cfg.sts_endpoint, &c);
    c.deadline_ms = MINT_DEADLINE_MS;
    rc = stsrole_mint_assume(&c, &ap, as, request_id, err);
    if (rc != STSROLE_OK)
        return rc;
    if (as->creds.session_token == NULL) {
        stsrole_assumed_free(as);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "AssumeRole answered without a token");
    }
    stsrole_session_build(&rec, child, &p->rec, as, name, request_id, gw_now());
    rec.refresh = 1;
    rec.parent = p->rec.session_id;
    rec.role_name = role->name; /* another profile's role, or the login's */
    rec.role_arn = role->arn;
    memcpy(rec.sid, sid, sizeof(rec.sid)); /* also under a parent from before sids */
    rc = stsrole_session_write(g->cfg.state_dir, &rec, err);
    if (rc != STSROLE_OK) {
        /* Never served, so never used: it expires on its own. */
        stsrole_assumed_free(as);
        return rc;
    }
    return STSROLE_OK;
}

/* Before each refresh, the session's registry item (registry_table) is
 * moved to the expiry the new credential will have at the latest, but only
 * while it exists: 1 when it is gone.  An unreachable registry is not a
 * revocation: the refresh goes on (0). */
static int
fleet_revoked(struct gw *g, const struct gw_session *p)
{
    const struct stsrole_role *role = gw_conf_role_by_arn(g, p->rec.role_arn);
    struct stsrole_aws_client c;
    struct stsrole_error err;
    int64_t duration;
    int rc;

    if (g->cfg.registry_table == NULL || role == NULL)
        return 0;
    duration = stsrole_role_duration(&g->cfg, role);
    stsrole_client_ddb(&c, &g->cfg, &g->http, &g->base);
    rc = stsrole_registry_refresh(&c, g->cfg.registry_table, p->rec.user, p->rec.session_id,
                                  gw_now() + duration + MINT_DEADLINE_MS / 1000, &err);
    if (rc == STSROLE_E_NOTFOUND)
        return 1;
    if (rc != STSROLE_OK)
        gw_log(LOG_NOTICE, "registry: session %s: %s; refreshing all the same", p->rec.session_id,
               err.msg);
    return 0;
}

static void
refresh_one(struct gw *g, struct gw_session *p)
{
    struct gw_refresh *r = g->refresh;
    struct stsrole_assumed as;
    struct stsrole_error err;
    struct gw_session *cs;
    struct rentry *e;
    char child[33] = "", request_id[128], detail[1024], prev[64] = "none", iso[21];
    int rc, attempts = 0;

    stsrole_error_clear(&err);
    pthread_mutex_lock(&r->mu);
    if ((e = gw_rtab_find(r, p->rec.session_id)) != NULL && e->cred.creds.access_key_id != NULL) {
        stsrole_iso8601(e->cred.creds.expiration, iso);
        snprintf(prev, sizeof(prev), "%s, expiring %s", e->cred.creds.access_key_id, iso);
    }
    pthread_mutex_unlock(&r->mu);
    if (fleet_revoked(g, p)) {
        /* Revoked on another bastion (revoke --fleet deletes the item):
         * no more credentials, and this bastion denies the ones it minted. */
        p->manual = 1;
        gw_audit(g, "refresh.failed", p, NULL, "error", "",
                 "the session's fleet registry item is gone (revoked with revoke --fleet on "
                 "another bastion, or expired): no more refreshes; its credentials are revoked "
                 "here too");
        gw_rtab_wake(r->wake_fd);
        return;
    }
    rc = gw_refresh_mint(g, p, NULL, &as, child, request_id, &err);
    if (rc != STSROLE_OK) {
        pthread_mutex_lock(&r->mu);
        if ((e = gw_rtab_find(r, p->rec.session_id)) != NULL) {
            attempts = gw_rtab_retry_later(&e->cred);
            snprintf(e->cred.why, sizeof(e->cred.why), "refresh failed (%s)",
                     stsrole_status_name(err.status));
        }
        pthread_mutex_unlock(&r->mu);
        snprintf(detail, sizeof(detail), "attempt %d: %s: %s; current credential %s", attempts,
                 stsrole_status_name(err.status), err.msg, prev);
        gw_audit(g, "refresh.failed", p, NULL, "error", request_id, detail);
        gw_rtab_wake(r->wake_fd);
        return;
    }
    gw_sessions_seen(g, child);
    cs = gw_session_find(g, child);
    snprintf(detail, sizeof(detail),
             "credential for session %s, minted by stsrole-gatewayd as its refresh "
             "(stsrole:mfa=%s at its login), which replaces %s",
             p->rec.session_id, p->rec.mfa != NULL ? p->rec.mfa : "totp", prev);
    if (cs != NULL && gw_audit(g, "refresh.ok", cs, NULL, "ok", request_id, detail) == 0) {
        cs->open_audited = 1; /* this line stands for its session.open */
        gw_track_save(g, cs);
    }
    pthread_mutex_lock(&r->mu);
    if ((e = gw_rtab_find(r, p->rec.session_id)) != NULL)
        (void)gw_rtab_set_minted(&e->cred, &as.creds, gw_now());
    pthread_mutex_unlock(&r->mu);
    stsrole_assumed_free(&as);
    gw_rtab_wake(r->wake_fd);
}

void
gw_refresh_step(struct gw *g)
{
    struct gw_refresh *r = g->refresh;
    struct gw_session *p;
    struct rentry *e;
    int64_t now, mono;
    size_t i, n;
    int due;

    if (r == NULL)
        return;
    gw_rtab_drain(r->notify_fd);
    follow_sessions(g);
    sync_table(g);
    /* A few per step, so that revocations due meanwhile (the main loop
     * goes on to them) never wait behind a whole bastion's refreshes, as
     * after a restart; gw_refresh_next_ms brings the loop straight back. */
    for (i = 0, n = 0; i < g->n_sess && n < MINTS_PER_STEP; i++) {
        p = g->sess[i];
        if (!refreshed(p) || p->rec.parent != NULL || !chain_live(g, p))
            continue;
        now = gw_now();
        mono = gw_mono_ms();
        pthread_mutex_lock(&r->mu);
        e = gw_rtab_find(r, p->rec.session_id);
        due = e != NULL && e->live && mono >= e->cred.next_try_ms && due_at(g, e, p) <= now;
        pthread_mutex_unlock(&r->mu);
        if (due) {
            refresh_one(g, p);
            n++;
        }
    }
    gw_profiles_step(g);
}

int64_t
gw_refresh_next_ms(const struct gw *g)
{
    struct gw_refresh *r = g->refresh;
    int64_t best = INT64_MAX, mono = gw_mono_ms(), now = gw_now(), t;
    size_t i;

    if (r == NULL)
        return best;
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < g->n_sess; i++) {
        const struct gw_session *p = g->sess[i];
        const struct rentry *e;

        if (!refreshed(p) || p->rec.parent != NULL || p->closed ||
            (e = gw_rtab_find(r, p->rec.session_id)) == NULL || !e->live)
            continue;
        t = mono + (due_at(g, e, p) - now) * 1000;
        if (t < e->cred.next_try_ms)
            t = e->cred.next_try_ms;
        if (t < best)
            best = t;
    }
    pthread_mutex_unlock(&r->mu);
    t = gw_profiles_next_ms(g);
    return t < best ? t : best;
}
