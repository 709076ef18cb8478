/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_audit.c: one gateway audit record: appended to the hash-chained log, summarised to syslog. */
#include "config.h"

#include <cjson/cJSON.h>
#include <string.h>
#include <syslog.h>

#include "gw.h"
#include "iam.h"

int
gw_audit(struct gw *g, const char *event, const struct gw_session *s, const char *role_arn,
         const char *outcome, const char *request_id, const char *detail)
{
    return gw_audit_extra(g, event, s, role_arn, outcome, request_id, detail, NULL);
}

int
gw_audit_extra(struct gw *g, const char *event, const struct gw_session *s, const char *role_arn,
               const char *outcome, const char *request_id, const char *detail,
               const struct cJSON *extra)
{
    struct stsrole_audit_record r;
    struct stsrole_error err;
    char account[13], summary[1024];
    cJSON *own = NULL;
    int rc = 0;

    memset(&r, 0, sizeof(r));
    r.event = event;
    r.uid = -1;
    if (s != NULL) {
        r.user = s->rec.user;
        r.uid = s->remote ? -1 : (long long)s->rec.uid;
        r.rhost = s->rec.rhost;
        r.tty = s->rec.tty;
        r.session_id = s->rec.session_id;
        r.role_arn = s->rec.role_arn;
        r.session_name = s->rec.session_name;
        r.source_identity = s->rec.source_identity;
        r.access_key_id = s->rec.access_key_id;
        r.expiration = s->rec.expiration;
        r.aws_request_id = s->rec.aws_request_id;
    }
    if (role_arn != NULL)
        r.role_arn = role_arn;
    if (r.role_arn != NULL) {
        stsrole_arn_account(r.role_arn, account);
        r.account = account[0] ? account : NULL;
    }
    if (request_id != NULL)
        r.aws_request_id = request_id[0] ? request_id : NULL;
    r.outcome = outcome;
    r.detail = detail;
    r.extra = extra;
    /* A credential minted for an SSH session after its login (a refresh,
     * another profile, a break-glass credential) names that session in
     * every record of its own: reconcile links them by this member. */
    if (s != NULL && s->rec.parent != NULL &&
        (extra == NULL || !cJSON_HasObjectItem(extra, "parent"))) {
        own = extra != NULL ? cJSON_Duplicate(extra, 1) : cJSON_CreateObject();
        if (own == NULL || cJSON_AddStringToObject(own, "parent", s->rec.parent) == NULL)
            rc = -1;
        r.extra = own;
    }
    if (rc != 0 || !g->audit_open ||
        (g->batch ? stsrole_audit_write(&g->audit, &r, gw_now_ms(), NULL, &err)
                  : stsrole_audit_append(&g->audit, &r, gw_now_ms(), NULL, &err)) != STSROLE_OK) {
        gw_log(LOG_ERR, "audit log: cannot record %s%s%s: %s", event, s ? " for session " : "",
               s ? s->rec.session_id : "",
               rc != 0         ? "out of memory"
               : g->audit_open ? err.msg
                               : "not open");
        cJSON_Delete(own);
        g->audit_broken = 1;
        return -1;
    }
    cJSON_Delete(own);
    g->audit_broken = 0;
    /* The shipper is told of durable lines only: a batch's at its fsync. */
    if (!g->batch && g->audit_appended != NULL)
        g->audit_appended(g);
    stsrole_audit_summary(g->audit.seq, &r, summary, sizeof(summary));
    syslog(LOG_AUTHPRIV | (outcome != NULL && strcmp(outcome, "ok") != 0 ? LOG_WARNING : LOG_INFO),
           "%s", summary);
    if (g->batch && g->audit.unsynced >= GW_BATCH_MAX && g->batch_flush != NULL)
        g->batch_flush(g);
    return 0;
}

int
gw_audit_sync(struct gw *g)
{
    struct stsrole_error err;

    if (!g->audit_open || g->audit.unsynced == 0)
        return 0;
    if (stsrole_audit_sync(&g->audit, &err) != STSROLE_OK) {
        gw_log(LOG_ERR, "audit log: %s", err.msg);
        g->audit_broken = 1;
        return -1;
    }
    if (g->audit_appended != NULL)
        g->audit_appended(g);
    return 0;
}

int
gw_refusal_counts(struct gw_refusals *t, uid_t uid, const char *what)
{
    int64_t minute = gw_mono_ms() / 60000;
    size_t i, slot = GW_REFUSAL_UIDS;

    for (i = 0; i < GW_REFUSAL_UIDS; i++) {
        int now = t->v[i].n > 0 && t->v[i].minute == minute;

        if (now && t->v[i].uid == uid) {
            slot = i;
            break;
        }
        if (!now && slot == GW_REFUSAL_UIDS)
            slot = i; /* free, or last used in an earlier minute */
    }
    if (slot == GW_REFUSAL_UIDS) {
        /* Evicting a uid counted this minute would start its count again. */
        if (t->full_minute != minute + 1)
            gw_log(LOG_WARNING,
                   "refused commands of more than %d uids this minute; the rest of this "
                   "minute's are answered but not %s",
                   GW_REFUSAL_UIDS, what);
        t->full_minute = minute + 1;
        return 0;
    }
    if (t->v[slot].n == 0 || t->v[slot].minute != minute || t->v[slot].uid != uid) {
        t->v[slot].uid = uid;
        t->v[slot].minute = minute;
        t->v[slot].n = 0;
    }
    if (t->v[slot].n > GW_REFUSALS_PER_MIN)
        return 0;
    if (++t->v[slot].n <= GW_REFUSALS_PER_MIN)
        return 1;
    gw_log(LOG_WARNING,
           "uid %u: more than %d refused commands this minute; the rest of this minute's are "
           "answered but not %s",
           (unsigned)uid, GW_REFUSALS_PER_MIN, what);
    return 0;
}

int
gw_audit_refusal(struct gw *g, uid_t uid)
{
    return gw_refusal_counts(&g->refused, uid, "audited");
}
