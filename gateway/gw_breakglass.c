/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_breakglass.c: break-glass requests on the gateway's main thread: who asks and approves, the
 * table, expiry, and the credential minted at the last approval. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "approval.h"
#include "gw.h"
#include "gw_breakglass.h"
#include "gwproto.h"
#include "gw_notify.h"
#include "gw_refresh.h"
#include "gw_rtab.h"
#include "sts.h"

#define KEEP_DECIDED_S 3600 /* stsrole_requests_prune: decided requests are listed this long */
#define JOBS_PER_STEP 16
#define NSS_BUF 16384

struct gw_breakglass {
    struct stsrole_requests t;
};

/* The person behind a command: their live session, name and groups. */
struct caller {
    struct gw_session *s;
    const char *user; /* s->rec.user */
    uid_t uid;
    char **groups; /* names, NULL-terminated, for @GROUP approvers */
    gid_t *gids;
    int ngids;
};

static struct gw_breakglass *
bg_of(struct gw *g)
{
    if (g->bg == NULL)
        g->bg = calloc(1, sizeof(*g->bg));
    return g->bg;
}

/* -- who is asking ------------------------------------------------------------------ */

/* Why session id is not a live SSH session of uid in credentials_mode =
 * process (the same tests as the credential socket's), or NULL with *out
 * set.  A record rewritten since the main loop read it is read again. */
static const char *
session_live(struct gw *g, const char *id, uid_t uid, struct gw_session **out)
{
    struct gw_refresh *r = g->refresh;
    struct gw_session *s;
    struct rentry *e;
    struct stat st;
    char path[4200];
    int live;

    *out = NULL;
    gw_rtab_record_path(g->cfg.state_dir, id, path, sizeof(path));
    s = gw_session_find(g, id);
    if (s != NULL && (lstat(path, &st) != 0 || (uint64_t)st.st_ino != s->rec_ino)) {
        gw_sessions_seen(g, id);
        s = gw_session_find(g, id);
    }
    /* Someone else's session and no session at all are told the same way. */
    if (s == NULL || s->rec.uid != uid)
        return "no live stsrole session of this uid";
    if (s->rec.parent != NULL || !s->rec.refresh)
        return "not an SSH session in credentials_mode = process";
    if (s->closed || !s->record_present || s->manual || s->revoked || lstat(path, &st) != 0 ||
        (uint64_t)st.st_ino != s->rec_ino)
        return "the session is closed or revoked";
    if (!gw_rtab_pid_alive(s->rec.sshd_pid, s->rec.sshd_start))
        return "the session's sshd is gone";
    pthread_mutex_lock(&r->mu);
    e = gw_rtab_find(r, id);
    live = e != NULL && e->live && e->uid == uid;
    pthread_mutex_unlock(&r->mu);
    if (!live)
        return "the session is closed or revoked";
    *out = s;
    return NULL;
}

static void
caller_free(struct caller *c)
{
    size_t i;

    for (i = 0; c->groups != NULL && c->groups[i] != NULL; i++)
        free(c->groups[i]);
    free(c->groups);
    free(c->gids);
    memset(c, 0, sizeof(*c));
}

/* The names of the person's groups, from NSS. */
static int
group_names(struct caller *c)
{
    struct group gr, *res;
    char buf[NSS_BUF];
    int i, n = 0;

    if (gw_user_gids(c->user, &c->gids, &c->ngids) != 0 ||
        (c->groups = calloc((size_t)c->ngids + 1, sizeof(*c->groups))) == NULL)
        return -1;
    for (i = 0; i < c->ngids; i++) {
        res = NULL;
        if (getgrgid_r(c->gids[i], &gr, buf, sizeof(buf), &res) != 0 || res == NULL)
            continue;
        if ((c->groups[n] = strdup(gr.gr_name)) == NULL)
            return -1;
        n++;
    }
    return 0;
}

/* Why the command's sender cannot act, or NULL with c filled. */
static const char *
identify(struct gw *g, const struct gw_bgjob *j, struct caller *c)
{
    struct passwd pw, *res = NULL;
    char buf[NSS_BUF];
    const char *why;

    memset(c, 0, sizeof(*c));
    if ((why = session_live(g, j->session, j->uid, &c->s)) != NULL)
        return why;
    /* An approval counts only from a person who passed MFA at this login. */
    if (c->s->rec.mfa == NULL || strcmp(c->s->rec.mfa, "totp") != 0)
        return "the session did not pass MFA (stsrole:mfa is not totp)";
    if (getpwuid_r(j->uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL ||
        strcmp(pw.pw_name, c->s->rec.user) != 0)
        return "the session's user is not the name of this uid";
    c->user = c->s->rec.user;
    c->uid = j->uid;
    if (group_names(c) != 0) {
        caller_free(c);
        return "cannot list the person's groups (NSS)";
    }
    return NULL;
}

/* -- answers, audit records, notify ---------------------------------------------------- */

static char *
line_of(cJSON *o)
{
    char *text = o != NULL ? cJSON_PrintUnformatted(o) : NULL, *line = NULL;

    cJSON_Delete(o);
    if (text != NULL && (line = malloc(strlen(text) + 2)) != NULL)
        snprintf(line, strlen(text) + 2, "%s\n", text);
    free(text);
    return line;
}

static char *error_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
error_line(const char *fmt, ...)
{
    cJSON *o;
    va_list ap;

    va_start(ap, fmt);
    o = gw_error_vobject(fmt, ap);
    va_end(ap);
    return line_of(o);
}

static int
has_approved(const struct stsrole_request *q, const char *user)
{
    size_t i;

    for (i = 0; i < q->n_approvers; i++)
        if (strcmp(q->approvers[i], user) == 0)
            return 1;
    return 0;
}

static int
may_approve(const struct stsrole_role *role, const struct stsrole_request *q,
            const struct caller *c)
{
    return role != NULL && strcmp(q->requester, c->user) != 0 && q->requester_uid != c->uid &&
           stsrole_approver_listed(role, c->user, (const char *const *)c->groups);
}

/* REQ of the wire protocol (bg-spec): c NULL for root's view. */
static cJSON *
req_json(struct gw *g, const struct stsrole_request *q, const struct caller *c)
{
    const struct stsrole_role *role = stsrole_config_role(&g->cfg, q->role);
    cJSON *o = cJSON_CreateObject(), *a;
    size_t i;
    int ok, can;

    can = c != NULL && q->state == STSROLE_REQ_PENDING && may_approve(role, q, c) &&
          !has_approved(q, c->user);
    ok = o != NULL && cJSON_AddStringToObject(o, "id", q->id) != NULL &&
         cJSON_AddStringToObject(o, "role", q->role) != NULL &&
         cJSON_AddStringToObject(o, "requester", q->requester) != NULL &&
         cJSON_AddStringToObject(o, "reason", q->reason) != NULL &&
         cJSON_AddStringToObject(o, "state", stsrole_request_state_name(q->state)) != NULL &&
         cJSON_AddNumberToObject(o, "needed", q->needed) != NULL &&
         (a = cJSON_AddArrayToObject(o, "approvers")) != NULL &&
         cJSON_AddNumberToObject(o, "created", (double)q->created) != NULL &&
         cJSON_AddNumberToObject(o, "expires", (double)q->expires) != NULL &&
         cJSON_AddBoolToObject(o, "can_approve", can) != NULL &&
         (q->decided_by == NULL || cJSON_AddStringToObject(o, "by", q->decided_by) != NULL) &&
         (q->state != STSROLE_REQ_APPROVED ||
          cJSON_AddBoolToObject(o, "minted", q->minted > 0) != NULL);
    for (i = 0; ok && i < q->n_approvers; i++)
        ok = cJSON_AddItemToArray(a, cJSON_CreateString(q->approvers[i]));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static char *
request_answer(struct gw *g, const struct stsrole_request *q, const struct caller *c)
{
    cJSON *o = cJSON_CreateObject(), *r = req_json(g, q, c);

    if (o == NULL || r == NULL || cJSON_AddBoolToObject(o, "ok", 1) == NULL ||
        !cJSON_AddItemToObject(o, "request", r)) {
        cJSON_Delete(o);
        cJSON_Delete(r);
        return NULL;
    }
    return line_of(o);
}

/* One audit record of a request's step: the usual session fields (s: the
 * caller's or requester's session; at the mint the new credential's, so
 * reconcile joins it to CloudTrail by its session name), plus id, role,
 * requester, by, why; the request's record adds reason, the mint's
 * reason, approvers and requester_session (the SSH session's id). */
static int
bg_audit(struct gw *g, const char *event, const struct gw_session *s,
         const struct stsrole_role *role, const struct stsrole_request *q, const char *role_name,
         const char *by, const char *why, const char *outcome, const char *request_id,
         const char *detail, int mint)
{
    cJSON *x = cJSON_CreateObject(), *a;
    size_t i;
    int rc, ok;

    ok = x != NULL;
    if (ok && q != NULL)
        ok = cJSON_AddStringToObject(x, "id", q->id) != NULL &&
             cJSON_AddStringToObject(x, "role", q->role) != NULL &&
             cJSON_AddStringToObject(x, "requester", q->requester) != NULL;
    else if (ok && role_name != NULL)
        ok = cJSON_AddStringToObject(x, "role", role_name) != NULL;
    if (ok && by != NULL)
        ok = cJSON_AddStringToObject(x, "by", by) != NULL;
    if (ok && why != NULL)
        ok = cJSON_AddStringToObject(x, "why", why) != NULL;
    /* The request's reason is recorded when it is made and at the mint;
     * only the mint's record (the new credential's session) is marked
     * break-glass by reconcile (lib/reconcile.c). */
    if (ok && q != NULL && (mint || strcmp(event, "breakglass.request") == 0))
        ok = cJSON_AddStringToObject(x, "reason", q->reason) != NULL;
    if (ok && mint && q != NULL) {
        ok = cJSON_AddStringToObject(x, "requester_session", q->session) != NULL &&
             (a = cJSON_AddArrayToObject(x, "approvers")) != NULL;
        for (i = 0; ok && i < q->n_approvers; i++)
            ok = cJSON_AddItemToArray(a, cJSON_CreateString(q->approvers[i]));
    }
    if (!ok)
        gw_log(LOG_ERR, "break-glass: out of memory for the fields of %s", event);
    rc = gw_audit_extra(g, event, s, role != NULL ? role->arn : NULL, outcome, request_id, detail,
                        ok ? x : NULL);
    cJSON_Delete(x);
    return rc;
}

static void
bg_notify(struct gw *g, const struct stsrole_role *role, const struct stsrole_request *q,
          const char *event, const char *by)
{
    struct stsrole_error err;
    char *line;

    if (role == NULL || role->notify == NULL)
        return;
    if (stsrole_request_event(q, event, by, &line, &err) != STSROLE_OK) {
        gw_log(LOG_ERR, "break-glass: request %s: notify %s: %s", q->id, event, err.msg);
        return;
    }
    gw_notify_event(g, role, line);
    free(line);
}

/* A person with a live MFA session was refused: audited and logged (a flood
 * of them from one person once a minute: gw_audit_refusal), told. */
static char *
refuse(struct gw *g, const struct caller *c, const struct gw_bgjob *j,
       const struct stsrole_role *role, const struct stsrole_request *q, const char *why)
{
    char detail[900];

    if (gw_audit_refusal(g, c->uid)) {
        gw_log(LOG_WARNING, "break-glass: %s by %s (uid %u) refused: %s", j->cmd, c->user,
               (unsigned)c->uid, why);
        snprintf(detail, sizeof(detail), "%s %s refused: %s", j->cmd,
                 q != NULL    ? q->id
                 : j->role[0] ? j->role
                              : j->id,
                 why);
        bg_audit(g, "breakglass.refused", c->s, role, q,
                 q == NULL && j->role[0] != '\0' ? j->role : NULL, c->user, why, "error", NULL,
                 detail, 0);
    }
    return error_line("%s", why);
}

/* -- the mint ------------------------------------------------------------------------ */

/* The approved request's credential, once: a child of the requester's
 * SSH session (so its logout revokes it with the rest), served as the
 * session's profile named after the role, never refreshed. */
static void
bg_mint(struct gw *g, struct stsrole_request *q, const struct stsrole_role *role)
{
    struct gw_refresh *r = g->refresh;
    struct stsrole_assumed as;
    struct stsrole_error err;
    struct gw_session *s, *cs;
    struct rentry *e;
    struct rprofile *p;
    char reason[STSROLE_TAG_VALUE_MAX + 1], approvers[STSROLE_TAG_VALUE_MAX + 1];
    char child[33] = "", request_id[128] = "", detail[1200];
    const char *why;
    int rc, served = 0;

    stsrole_error_clear(&err);
    if ((why = session_live(g, q->session, q->requester_uid, &s)) != NULL) {
        q->minted = -1;
        snprintf(detail, sizeof(detail), "request %s: not minted: the requester's session %s: %s",
                 q->id, q->session, why);
        bg_audit(g, "breakglass.failed", NULL, role, q, NULL, NULL, why, "error", NULL, detail, 0);
        return;
    }
    rc = stsrole_request_tags(q, reason, approvers, &err);
    if (rc == STSROLE_OK)
        rc = gw_refresh_mint_tagged(g, s, role, reason, approvers, &as, child, request_id, &err);
    if (rc != STSROLE_OK) {
        q->minted = -1;
        snprintf(detail, sizeof(detail), "request %s for role %s of session %s: %s: %s", q->id,
                 role->name, q->session, stsrole_status_name(err.status), err.msg);
        bg_audit(g, "breakglass.failed", s, role, q, NULL, NULL, err.msg, "error", request_id,
                 detail, 0);
        return;
    }
    gw_sessions_seen(g, child);
    cs = gw_session_find(g, child);
    s = gw_session_find(g, q->session);
    /* "credential for session <parent>": reconcile links it to the SSH session. */
    snprintf(detail, sizeof(detail),
             "credential for session %s, break-glass request %s of %s for role %s, approved by "
             "%s",
             q->session, q->id, q->requester, role->name, approvers);
    if (bg_audit(g, "breakglass.ok", cs != NULL ? cs : s, role, q, NULL, NULL, NULL, "ok",
                 request_id, detail, 1) == 0 &&
        cs != NULL) {
        cs->open_audited = 1; /* this line stands for its session.open */
        gw_track_save(g, cs);
    }
    pthread_mutex_lock(&r->mu);
    if ((e = gw_rtab_find(r, q->session)) != NULL &&
        (p = gw_rtab_profile(e, role->name, 1)) != NULL &&
        gw_rtab_set_creds(&p->cred, &as.creds, gw_now()) == 0) {
        p->breakglass = 1;
        p->wanted = p->need_code = 0;
        p->refused[0] = p->cred.why[0] = '\0';
        stsrole_wipe(p->code, sizeof(p->code));
        served = 1;
    }
    pthread_mutex_unlock(&r->mu);
    gw_rtab_wake(r->wake_fd);
    stsrole_assumed_free(&as);
    /* Not served is not a leak: the credential is recorded and revoked
     * at logout with the session. */
    q->minted = served ? 1 : -1;
    if (!served)
        gw_log(LOG_ERR, "break-glass: request %s: the credential cannot be served in session %s",
               q->id, q->session);
    bg_notify(g, role, q, "use", q->requester);
}

/* -- the commands --------------------------------------------------------------------- */

static char *
do_request(struct gw *g, const struct gw_bgjob *j, struct caller *c)
{
    struct gw_breakglass *bg = g->bg;
    const struct stsrole_role *role = stsrole_config_role(&g->cfg, j->role);
    struct stsrole_request q, *p;
    struct stsrole_error err;
    unsigned char raw[8];
    char id[STSROLE_REQUEST_ID_LEN + 1], detail[1600], why[STSROLE_ERRMSG_MAX];
    time_t now = (time_t)gw_now();

    if (role == NULL || !stsrole_role_lists(role, c->user, c->gids, c->ngids, gw_group_gid, NULL))
        return refuse(g, c, j, NULL, NULL, "no role by that name that you may request");
    if (!stsrole_role_needs_request(role)) {
        snprintf(why, sizeof(why), "role %s needs no request: use its profile", role->name);
        return refuse(g, c, j, role, NULL, why);
    }
    /* reason = required alone mints at every request: one credential per
     * session and role at a time, or one person could mint without end. */
    if (role->approvals == 0) {
        size_t i;

        for (i = 0; i < bg->t.n; i++) {
            const struct stsrole_request *o = &bg->t.v[i];

            if (o->state == STSROLE_REQ_APPROVED && o->minted > 0 &&
                strcmp(o->session, j->session) == 0 && strcmp(o->role, role->name) == 0 &&
                o->decided + stsrole_role_duration(&g->cfg, role) > now) {
                snprintf(why, sizeof(why),
                         "request %s for role %s is approved already: its credential is the "
                         "profile %s until it expires",
                         o->id, role->name, role->name);
                return refuse(g, c, j, role, NULL, why);
            }
        }
    }
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return error_line("no randomness for a request id");
    stsrole_hex(raw, sizeof(raw), id);
    if (stsrole_request_init(&q, role, id, c->user, c->uid, j->reason, now, &err) != STSROLE_OK)
        return refuse(g, c, j, role, NULL, err.msg);
    memcpy(q.session, j->session, sizeof(q.session));
    if (stsrole_requests_add(&bg->t, &q, &err) != STSROLE_OK) {
        stsrole_request_free(&q);
        return refuse(g, c, j, role, NULL, err.msg);
    }
    p = stsrole_requests_find(&bg->t, id);
    /* The reason is the record's reason member (JSON-escaped), not part
     * of detail, which syslog's summary carries unquoted. */
    snprintf(detail, sizeof(detail), "request %s: %s asks for role %s, %d approval%s needed%s",
             p->id, p->requester, p->role, p->needed, p->needed == 1 ? "" : "s",
             p->needed > 0 ? ", within approval_timeout" : ": approved at once (reason only)");
    bg_audit(g, "breakglass.request", c->s, role, p, NULL, c->user, NULL, "ok", NULL, detail, 0);
    bg_notify(g, role, p, "request", c->user);
    if (p->state == STSROLE_REQ_APPROVED) {
        /* reason = required alone: no second person. */
        bg_notify(g, role, p, "approved", NULL);
        bg_mint(g, p, role);
    }
    return request_answer(g, p, c);
}

/* {"ok":true,"requests":[REQ...]}: every request for root (c NULL); for a
 * person their own and the pending ones they may approve, at most
 * GW_BG_LIST_MAX (then "truncated"), since the answer goes into the
 * socket's buffer in one send. */
static cJSON *
listing(struct gw *g, const struct caller *c)
{
    cJSON *o = cJSON_CreateObject(), *arr, *it;
    size_t i;

    if (o == NULL || cJSON_AddBoolToObject(o, "ok", 1) == NULL ||
        (arr = cJSON_AddArrayToObject(o, "requests")) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    for (i = 0; g->bg != NULL && i < g->bg->t.n; i++) {
        const struct stsrole_request *q = &g->bg->t.v[i];

        if (c != NULL && !(q->requester_uid == c->uid && strcmp(q->requester, c->user) == 0) &&
            !(q->state == STSROLE_REQ_PENDING &&
              may_approve(stsrole_config_role(&g->cfg, q->role), q, c)))
            continue;
        if (c != NULL && cJSON_GetArraySize(arr) >= GW_BG_LIST_MAX) {
            if (cJSON_AddBoolToObject(o, "truncated", 1) == NULL) {
                cJSON_Delete(o);
                return NULL;
            }
            break;
        }
        if ((it = req_json(g, q, c)) == NULL || !cJSON_AddItemToArray(arr, it)) {
            cJSON_Delete(it);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

static char *
do_requests(struct gw *g, struct caller *c)
{
    return line_of(listing(g, c));
}

/* A pending request past its time: expired, audited, told. */
static int
expire_one(struct gw *g, struct stsrole_request *q, time_t now)
{
    const struct stsrole_role *role = stsrole_config_role(&g->cfg, q->role);
    struct gw_session *s = gw_session_find(g, q->session);
    char detail[300];

    if (!stsrole_request_expire(q, now))
        return 0;
    snprintf(detail, sizeof(detail),
             "request %s of %s for role %s expired with %zu of %d approvals", q->id, q->requester,
             q->role, q->n_approvers, q->needed);
    bg_audit(g, "breakglass.expire", s, role, q, NULL, NULL, NULL, "ok", NULL, detail, 0);
    bg_notify(g, role, q, "expire", NULL);
    return 1;
}

/* The requester's session ended: the request goes with it. */
static void
withdraw_one(struct gw *g, struct stsrole_request *q, const char *why, time_t now)
{
    const struct stsrole_role *role = stsrole_config_role(&g->cfg, q->role);
    struct stsrole_error err;
    char detail[400];

    if (stsrole_request_withdraw(q, "logout", now, &err) != STSROLE_OK)
        return;
    snprintf(detail, sizeof(detail), "request %s of %s for role %s cancelled: session %s: %s",
             q->id, q->requester, q->role, q->session, why);
    bg_audit(g, "breakglass.cancel", gw_session_find(g, q->session), role, q, NULL, "logout", why,
             "ok", NULL, detail, 0);
    bg_notify(g, role, q, "cancel", "logout");
}

static char *
do_decide(struct gw *g, const struct gw_bgjob *j, struct caller *c)
{
    struct stsrole_request *q = stsrole_requests_find(&g->bg->t, j->id);
    const struct stsrole_role *role;
    struct stsrole_error err;
    struct gw_session *rs;
    char why[STSROLE_ERRMSG_MAX], detail[600];
    const char *gone;
    time_t now = (time_t)gw_now();
    int approved = 0, rc;

    if (q == NULL)
        return refuse(g, c, j, NULL, NULL, "no such request");
    role = stsrole_config_role(&g->cfg, q->role);
    if (strcmp(j->cmd, "cancel") == 0) {
        /* The requester only: the same person, from the same uid. */
        if (strcmp(c->user, q->requester) != 0 || c->uid != q->requester_uid) {
            snprintf(why, sizeof(why), "only %s can cancel request %s", q->requester, q->id);
            return refuse(g, c, j, role, q, why);
        }
        if (expire_one(g, q, now) || stsrole_request_cancel(q, c->user, now, &err) != STSROLE_OK)
            return error_line("request %s is %s, no longer pending", q->id,
                              stsrole_request_state_name(q->state));
        snprintf(detail, sizeof(detail), "request %s for role %s cancelled by %s", q->id, q->role,
                 c->user);
        bg_audit(g, "breakglass.cancel", c->s, role, q, NULL, c->user, NULL, "ok", NULL, detail, 0);
        bg_notify(g, role, q, "cancel", c->user);
        return request_answer(g, q, c);
    }
    /* approve and deny: a listed approver who is not the requester (by
     * name or by uid: a second session of the requester's is the
     * requester). */
    if (strcmp(c->user, q->requester) == 0 || c->uid == q->requester_uid) {
        snprintf(why, sizeof(why), "%s cannot %s their own request %s", c->user, j->cmd, q->id);
        return refuse(g, c, j, role, q, why);
    }
    if (role == NULL) {
        snprintf(why, sizeof(why), "role %s is no longer in %s", q->role, g->config_path);
        return refuse(g, c, j, NULL, q, why);
    }
    if (!may_approve(role, q, c)) {
        snprintf(why, sizeof(why), "%s is not an approver of role %s", c->user, role->name);
        return refuse(g, c, j, role, q, why);
    }
    if (expire_one(g, q, now))
        return error_line("request %s has expired", q->id);
    if (q->state == STSROLE_REQ_PENDING &&
        (gone = session_live(g, q->session, q->requester_uid, &rs)) != NULL) {
        withdraw_one(g, q, gone, now);
        return error_line("request %s was cancelled: the requester's session has ended", q->id);
    }
    if (strcmp(j->cmd, "deny") == 0) {
        if (stsrole_request_deny(q, c->user, now, &err) != STSROLE_OK)
            return refuse(g, c, j, role, q, err.msg);
        snprintf(detail, sizeof(detail), "request %s of %s for role %s denied by %s", q->id,
                 q->requester, q->role, c->user);
        bg_audit(g, "breakglass.deny", c->s, role, q, NULL, c->user, NULL, "ok", NULL, detail, 0);
        bg_notify(g, role, q, "deny", c->user);
        return request_answer(g, q, c);
    }
    rc = stsrole_request_approve(q, c->user, now, &approved, &err);
    if (rc != STSROLE_OK)
        return refuse(g, c, j, role, q, err.msg);
    snprintf(detail, sizeof(detail), "request %s of %s for role %s approved by %s (%zu of %d)",
             q->id, q->requester, q->role, c->user, q->n_approvers, q->needed);
    bg_audit(g, "breakglass.approve", c->s, role, q, NULL, c->user, NULL, "ok", NULL, detail, 0);
    bg_notify(g, role, q, "approve", c->user);
    if (approved) {
        bg_notify(g, role, q, "approved", NULL);
        bg_mint(g, q, role);
    }
    return request_answer(g, q, c);
}

static char *
run_job(struct gw *g, const struct gw_bgjob *j)
{
    struct caller c;
    const char *why;
    char *answer;

    if ((why = identify(g, j, &c)) != NULL) {
        /* No person yet (someone else's session, no MFA): logged, not
         * audited, and only so often for one uid. */
        if (gw_refusal_counts(&g->refused_logged, j->uid, "logged")) {
            gw_log(LOG_WARNING, "break-glass: %s from uid %u (pid %d) session %s refused: %s",
                   j->cmd, (unsigned)j->uid, (int)j->pid, j->session, why);
            syslog(LOG_AUTHPRIV | LOG_WARNING,
                   "break-glass %s refused: uid=%u pid=%d session_id=%s reason=\"%s\"", j->cmd,
                   (unsigned)j->uid, (int)j->pid, j->session, why);
        }
        return error_line("%s: session %s of uid %u: %s", j->cmd, j->session, (unsigned)j->uid,
                          why);
    }
    if (strcmp(j->cmd, "request") == 0)
        answer = do_request(g, j, &c);
    else if (strcmp(j->cmd, "requests") == 0)
        answer = do_requests(g, &c);
    else
        answer = do_decide(g, j, &c);
    caller_free(&c);
    return answer;
}

/* -- the main loop's part ------------------------------------------------------------------ */

static void
sweep(struct gw *g)
{
    struct gw_breakglass *bg = g->bg;
    struct gw_session *s;
    const char *why;
    time_t now = (time_t)gw_now();
    size_t i;

    for (i = 0; i < bg->t.n; i++) {
        struct stsrole_request *q = &bg->t.v[i];

        if (q->state != STSROLE_REQ_PENDING || expire_one(g, q, now))
            continue;
        if ((why = session_live(g, q->session, q->requester_uid, &s)) != NULL)
            withdraw_one(g, q, why, now);
    }
    stsrole_requests_prune(&bg->t, now, KEEP_DECIDED_S);
}

void
gw_breakglass_step(struct gw *g)
{
    struct gw_refresh *r = g->refresh;
    struct gw_bgjob *w, *j;
    size_t i, n = 0;
    char *answer;

    if (r == NULL || bg_of(g) == NULL)
        return;
    sweep(g);
    if ((w = calloc(JOBS_PER_STEP, sizeof(*w))) == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n_jobs && n < JOBS_PER_STEP; i++) {
        if (r->jobs[i]->taken)
            continue;
        r->jobs[i]->taken = 1;
        w[n] = *r->jobs[i];
        w[n++].answer = NULL;
    }
    pthread_mutex_unlock(&r->mu);
    for (i = 0; i < n; i++) {
        answer = run_job(g, &w[i]);
        if (answer == NULL)
            answer = error_line("out of memory");
        pthread_mutex_lock(&r->mu);
        if (answer != NULL && (j = gw_rtab_job(r, w[i].ticket)) != NULL && j->answer == NULL) {
            j->answer = answer;
            answer = NULL;
        }
        pthread_mutex_unlock(&r->mu);
        free(answer); /* the client is gone */
    }
    stsrole_wipe(w, JOBS_PER_STEP * sizeof(*w));
    free(w);
    if (n > 0)
        gw_rtab_wake(r->wake_fd);
}

int64_t
gw_breakglass_next_ms(const struct gw *g)
{
    struct gw_refresh *r = g->refresh;
    int64_t best = INT64_MAX, mono = gw_mono_ms(), now = gw_now(), t;
    size_t i;

    if (r == NULL || g->bg == NULL)
        return best;
    for (i = 0; i < g->bg->t.n; i++) {
        if (g->bg->t.v[i].state != STSROLE_REQ_PENDING)
            continue;
        t = mono + ((int64_t)g->bg->t.v[i].expires - now) * 1000;
        if (t < best)
            best = t < mono ? mono : t;
    }
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n_jobs; i++)
        if (!r->jobs[i]->taken)
            best = mono;
    pthread_mutex_unlock(&r->mu);
    return best;
}

cJSON *
gw_breakglass_all(struct gw *g)
{
    return listing(g, NULL);
}

void
gw_breakglass_free(struct gw *g)
{
    if (g->bg == NULL)
        return;
    stsrole_requests_free(&g->bg->t);
    free(g->bg);
    g->bg = NULL;
}
