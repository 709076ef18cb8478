/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_revoke.c: the deny policy on each target role: revoker credentials, IAM writes, prune. */
#include "config.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "aws.h"
#include "gw.h"
#include "hash.h"
#include "iam.h"
#include "mint.h"
#include "safefile.h"
#include "sts.h"

#define ROLE_STATE_MAX (256 * 1024)
#define AWS_DEADLINE_MS 15000
#define RETRY_CAP_MS 300000   /* back-off ceiling between revocation attempts */
#define FAIL_AFTER 5          /* attempts before revoke.failed is written */
#define REVOKER_DURATION 3600 /* role chaining caps AssumeRole at one hour */
/* Roles (accounts) revoked at once: a logout that touched 100 accounts
 * costs about 100 / REVOKE_THREADS round trips, not 100.  IAM's latency,
 * not its throughput, bounds each (the writes go to different accounts):
 * with 32, 100 accounts take 4 round trips, within 5x of one account
 * (tests/bench/README.md, bench_multi.py --iam-latency). */
#define REVOKE_THREADS 32
/* Roles read back from IAM per turn of the main loop: with templates a
 * bastion has hundreds, and the loop must keep serving meanwhile
 * (gw_next_wakeup_ms brings it straight back for the rest). */
#define MAINTAIN_PER_STEP 8

/* One IAM conversation about one role: whom on_retry audits, and the lock
 * the revocation threads share (NULL on the main thread alone).  Holding
 * mu, a thread may touch g; without it, only its own role and client. */
struct rv_call {
    struct gw *g;
    struct gw_session **batch;
    size_t n_batch;
    struct gw_role *role;
    pthread_mutex_t *mu;
};

static void
call_lock(const struct rv_call *call)
{
    if (call->mu != NULL)
        pthread_mutex_lock(call->mu);
}

static void
call_unlock(const struct rv_call *call)
{
    if (call->mu != NULL)
        pthread_mutex_unlock(call->mu);
}

const struct stsrole_role *
gw_conf_role_by_arn(const struct gw *g, const char *arn)
{
    size_t i;

    for (i = 0; arn != NULL && i < g->cfg.n_roles; i++)
        if (g->cfg.roles[i].arn != NULL && strcmp(g->cfg.roles[i].arn, arn) == 0)
            return &g->cfg.roles[i];
    return NULL;
}

/* -- role state: STATE_DIR/gateway/roles/<sha256(arn policy)[:32]>.json ------------------ */

static void
role_path(const struct gw *g, const struct gw_role *r, char *out, size_t outlen)
{
    char key[600], h[65];

    snprintf(key, sizeof(key), "%s %s", r->arn, r->policy);
    stsrole_sha256_hex(key, strlen(key), h);
    snprintf(out, outlen, "%s/roles/%.32s.json", g->state_gw, h);
}

/* durable: fsynced (stsrole_write_atomic), or only replaced (after a durable
 * batch: see gw_batch_begin) */
static int
role_save(struct gw *g, struct gw_role *r, int durable)
{
    struct stsrole_error err;
    cJSON *o, *arr, *parr, *e;
    char path[4200], *text;
    size_t i;
    int ok, rc;

    if ((o = cJSON_CreateObject()) == NULL)
        return -1;
    ok = cJSON_AddStringToObject(o, "role_arn", r->arn) != NULL &&
         cJSON_AddStringToObject(o, "policy", r->policy) != NULL &&
         (arr = cJSON_AddArrayToObject(o, "entries")) != NULL &&
         (parr = cJSON_AddArrayToObject(o, "persons")) != NULL &&
         cJSON_AddNumberToObject(o, "older_than", (double)r->set.older_than) != NULL &&
         cJSON_AddNumberToObject(o, "older_until", (double)r->set.older_until) != NULL &&
         (r->set.foreign == NULL ? cJSON_AddNullToObject(o, "foreign") != NULL
                                 : cJSON_AddStringToObject(o, "foreign", r->set.foreign) != NULL);
    for (i = 0; ok && i < r->set.n; i++) {
        const struct stsrole_revoked_entry *x = &r->set.v[i];

        ok = (e = cJSON_CreateObject()) != NULL;
        if (ok) {
            cJSON_AddItemToArray(arr, e);
            ok = cJSON_AddStringToObject(e, x->kind == STSROLE_KEY_SID ? "sid" : "userid",
                                         x->key) != NULL &&
                 cJSON_AddStringToObject(e, "person", x->person) != NULL &&
                 cJSON_AddNumberToObject(e, "issued", (double)x->issued) != NULL &&
                 cJSON_AddNumberToObject(e, "expires", (double)x->expires) != NULL &&
                 cJSON_AddBoolToObject(e, "exact", x->exact) != NULL;
        }
    }
    for (i = 0; ok && i < r->set.np; i++) {
        ok = (e = cJSON_CreateObject()) != NULL;
        if (ok) {
            cJSON_AddItemToArray(parr, e);
            ok = cJSON_AddStringToObject(e, "person", r->set.p[i].person) != NULL &&
                 cJSON_AddNumberToObject(e, "before", (double)r->set.p[i].before) != NULL &&
                 cJSON_AddNumberToObject(e, "until", (double)r->set.p[i].until) != NULL;
        }
    }
    text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text == NULL) {
        gw_log(LOG_ERR, "role %s: out of memory saving its state", r->arn);
        return -1;
    }
    role_path(g, r, path, sizeof(path));
    rc = durable ? stsrole_write_atomic(path, text, strlen(text), 0600, &err)
                 : stsrole_write_replace(path, text, strlen(text), 0600, &err);
    free(text);
    r->unsaved = 0;
    if (rc != STSROLE_OK) {
        gw_log(LOG_ERR, "role %s: %s", r->arn, err.msg);
        return -1;
    }
    return 0;
}

static struct gw_role *
role_new(struct gw *g, const char *arn, const char *policy)
{
    struct stsrole_error err;
    struct gw_role *r;

    if (g->n_roles == g->cap_roles) {
        size_t ncap = g->cap_roles ? g->cap_roles * 2 : 8;
        struct gw_role **nv = realloc(g->roles, ncap * sizeof(*nv));

        if (nv == NULL)
            return NULL;
        g->roles = nv;
        g->cap_roles = ncap;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return NULL;
    if (stsrole_arn_role(arn, r->account, r->name, &err) != STSROLE_OK ||
        (r->arn = strdup(arn)) == NULL) {
        gw_log(LOG_ERR, "%s", err.msg);
        free(r);
        return NULL;
    }
    snprintf(r->policy, sizeof(r->policy), "%s", policy);
    stsrole_revoked_init(&r->set);
    g->roles[g->n_roles++] = r;
    return r;
}

struct gw_role *
gw_role_for(struct gw *g, const char *arn, const char *policy)
{
    size_t i;

    for (i = 0; i < g->n_roles; i++)
        if (strcmp(g->roles[i]->arn, arn) == 0 && strcmp(g->roles[i]->policy, policy) == 0)
            return g->roles[i];
    return role_new(g, arn, policy);
}

static int64_t
num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static const char *
str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The state file as a set: what a crash left is merged with IAM's copy at
 * the first write, so an entry that does not parse is skipped, not fatal.
 * Entries saved by gateways before sids are "userid" entries. */
static void
role_load_one(struct gw *g, const char *path)
{
    struct stsrole_buf text;
    struct stsrole_error err;
    struct stsrole_revoked_set one;
    struct stsrole_revoked_entry e;
    struct stsrole_revoked_person pc;
    struct gw_role *r;
    const cJSON *arn, *pol, *arr, *it, *foreign;
    const char *key, *person;
    cJSON *o;

    stsrole_buf_init(&text, 0);
    if (stsrole_read_safely(path, geteuid(), 0, ROLE_STATE_MAX, &text, &err) != STSROLE_OK) {
        gw_log(LOG_ERR, "%s", err.msg);
        return;
    }
    o = cJSON_ParseWithLength(text.data, text.len);
    stsrole_buf_free(&text);
    arn = cJSON_GetObjectItemCaseSensitive(o, "role_arn");
    pol = cJSON_GetObjectItemCaseSensitive(o, "policy");
    arr = cJSON_GetObjectItemCaseSensitive(o, "entries");
    if (!cJSON_IsString(arn) || !cJSON_IsString(pol) || !cJSON_IsArray(arr) ||
        (r = gw_role_for(g, arn->valuestring, pol->valuestring)) == NULL) {
        gw_log(LOG_ERR, "%s: malformed role state; IAM's copy will be used", path);
        cJSON_Delete(o);
        return;
    }
    stsrole_revoked_init(&one);
    cJSON_ArrayForEach(it, arr)
    {
        memset(&e, 0, sizeof(e));
        if ((key = str_of(it, "sid")) != NULL)
            e.kind = STSROLE_KEY_SID;
        else if ((key = str_of(it, "userid")) != NULL)
            e.kind = STSROLE_KEY_USERID;
        if (key == NULL || !stsrole_revoked_key_valid(e.kind, key))
            continue;
        snprintf(e.key, sizeof(e.key), "%s", key);
        if ((person = str_of(it, "person")) != NULL && stsrole_person_valid(person))
            snprintf(e.person, sizeof(e.person), "%s", person);
        e.issued = num(it, "issued");
        e.expires = num(it, "expires");
        e.exact = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "exact"));
        one.v = &e;
        one.n = 1;
        stsrole_revoked_merge(&r->set, &one, NULL);
    }
    one.v = NULL;
    one.n = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "persons"))
    {
        memset(&pc, 0, sizeof(pc));
        if ((person = str_of(it, "person")) == NULL || !stsrole_person_valid(person) ||
            num(it, "before") <= 0)
            continue;
        snprintf(pc.person, sizeof(pc.person), "%s", person);
        pc.before = num(it, "before");
        pc.until = num(it, "until");
        one.p = &pc;
        one.np = 1;
        stsrole_revoked_merge(&r->set, &one, NULL);
    }
    r->set.older_than = num(o, "older_than");
    r->set.older_until = num(o, "older_until");
    foreign = cJSON_GetObjectItemCaseSensitive(o, "foreign");
    if (cJSON_IsString(foreign))
        r->set.foreign = strdup(foreign->valuestring);
    cJSON_Delete(o);
}

int
gw_roles_load(struct gw *g)
{
    char path[4200], file[4500];
    struct dirent *de;
    DIR *d;

    snprintf(path, sizeof(path), "%s/roles", g->state_gw);
    if ((d = opendir(path)) == NULL) {
        gw_log(LOG_ERR, "%s: %s", path, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (strlen(de->d_name) != 37 || strcmp(de->d_name + 32, ".json") != 0)
            continue;
        snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
        role_load_one(g, file);
    }
    closedir(d);
    return 0;
}

void
gw_roles_free(struct gw *g)
{
    size_t i;

    for (i = 0; i < g->n_roles; i++) {
        stsrole_revoked_free(&g->roles[i]->set);
        free(g->roles[i]->arn);
        free(g->roles[i]);
    }
    free(g->roles);
    g->roles = NULL;
    g->n_roles = g->cap_roles = 0;
}

/* -- revoker credentials ------------------------------------------------------------------ */

void
gw_revokers_clear(struct gw *g)
{
    size_t i;

    for (i = 0; i < g->n_revokers; i++) {
        free(g->revokers[i].arn);
        stsrole_creds_clear(&g->revokers[i].creds);
    }
    free(g->revokers);
    g->revokers = NULL;
    g->n_revokers = 0;
}

/* The revoker role's credentials, assumed with the base ones and cached
 * until five minutes before they expire. */
static int
revoker_creds(struct gw *g, const char *arn, const struct stsrole_creds **out,
              struct stsrole_error *err)
{
    struct gw_revoker *rv = NULL, *nv;
    struct stsrole_assume_params ap;
    struct stsrole_aws_client c;
    struct stsrole_assumed a;
    char name[65], request_id[128];
    size_t i;
    int rc;

    for (i = 0; i < g->n_revokers; i++)
        if (strcmp(g->revokers[i].arn, arn) == 0)
            rv = &g->revokers[i];
    if (rv != NULL && rv->creds.access_key_id != NULL &&
        rv->creds.expiration > gw_now() + STSROLE_CREDS_REFRESH_MARGIN) {
        *out = &rv->creds;
        return STSROLE_OK;
    }
    if (rv == NULL) {
        nv = realloc(g->revokers, (g->n_revokers + 1) * sizeof(*nv));
        if (nv == NULL || (nv[g->n_revokers].arn = strdup(arn)) == NULL) {
            if (nv != NULL)
                g->revokers = nv;
            return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
        }
        g->revokers = nv;
        rv = &g->revokers[g->n_revokers++];
        memset(&rv->creds, 0, sizeof(rv->creds));
    }
    rc = stsrole_session_name("stsrole-gatewayd", g->cfg.bastion_id, "revoker", name, err);
    if (rc != STSROLE_OK)
        return rc;
    memset(&ap, 0, sizeof(ap));
    ap.role_arn = arn;
    ap.session_name = name;
    ap.duration = REVOKER_DURATION;
    stsrole_client_aws(&g->cfg, &g->http, &g->base, "sts", g->cfg.sts_endpoint, &c);
    c.deadline_ms = AWS_DEADLINE_MS;
    rc = stsrole_mint_assume(&c, &ap, &a, request_id, err);
    if (rc != STSROLE_OK)
        return rc;
    stsrole_creds_clear(&rv->creds);
    rc = stsrole_creds_copy(&rv->creds, &a.creds);
    stsrole_assumed_free(&a);
    if (rc != STSROLE_OK)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    *out = &rv->creds;
    return STSROLE_OK;
}

/* Every AWS retry of a revocation is audited, for each session waiting on it. */
static void
on_retry(void *ctx, int attempt, int delay_ms, const struct stsrole_error *why)
{
    struct rv_call *call = ctx;
    struct gw *g = call->g;
    char detail[STSROLE_ERRMSG_MAX + 96];
    size_t i;

    snprintf(detail, sizeof(detail), "attempt %d failed (%s: %s); retrying in %d ms", attempt,
             stsrole_status_name(why->status), why->msg, delay_ms);
    call_lock(call);
    if (call->n_batch == 0 && call->role != NULL)
        gw_audit(g, "revoke.retry", NULL, call->role->arn, "retry", why->request_id, detail);
    for (i = 0; i < call->n_batch; i++)
        gw_audit(g, "revoke.retry", call->batch[i], NULL, "retry", why->request_id, detail);
    call_unlock(call);
}

/* The client for role r's account, through its revoker.  The revoker's
 * credentials are copied into creds (the caller clears them): the cache
 * may move while a thread talks to IAM. */
static int
iam_client(struct gw *g, struct gw_role *r, struct rv_call *call, struct stsrole_creds *creds,
           struct stsrole_aws_client *c, struct stsrole_error *err)
{
    const struct stsrole_role *cr = gw_conf_role_by_arn(g, r->arn);
    const struct stsrole_creds *cached;
    int rc;

    memset(creds, 0, sizeof(*creds));
    if (cr == NULL || cr->revoker_arn == NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG,
                            "role %s has no revoker_arn in the configuration", r->arn);
    if ((rc = revoker_creds(g, cr->revoker_arn, &cached, err)) != STSROLE_OK)
        return rc;
    if (stsrole_creds_copy(creds, cached) != STSROLE_OK)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    memset(c, 0, sizeof(*c));
    c->http = &g->http;
    c->creds = creds;
    /* IAM is global within its partition and signs for one region:
     * us-east-1, cn-north-1 or us-gov-west-1. */
    c->region = g->cfg.partition->iam_region;
    c->service = "iam";
    c->endpoint = g->cfg.iam_endpoint;
    c->deadline_ms = AWS_DEADLINE_MS;
    c->ctx = call;
    c->on_retry = on_retry;
    return STSROLE_OK;
}

/* The sizes of the role's other inline policies, when the revoker may
 * list them; otherwise IAM's LimitExceeded has the last word. */
static void
learn_others(struct gw_role *r, struct stsrole_aws_client *c)
{
    struct stsrole_error err;
    char **names = NULL, *doc;
    size_t i, total = 0;

    /* on_retry audits err.request_id, which stsrole_fail leaves as it was. */
    stsrole_error_clear(&err);
    if (stsrole_iam_list_role_policies(c, r->name, &names, &err) != STSROLE_OK) {
        if (!r->others_known)
            gw_log(LOG_NOTICE,
                   "role %s: cannot list its inline policies (%s); their size is unknown", r->arn,
                   err.msg);
        return;
    }
    for (i = 0; names[i] != NULL; i++) {
        if (strcmp(names[i], r->policy) == 0)
            continue;
        if (stsrole_iam_get_role_policy(c, r->name, names[i], &doc, NULL, &err) != STSROLE_OK) {
            stsrole_strv_free(names);
            return;
        }
        total += stsrole_policy_size(doc, strlen(doc));
        free(doc);
    }
    stsrole_strv_free(names);
    r->others = total;
    r->others_known = 1;
}

/* Reads IAM's copy once per run and merges it with ours: entries written
 * before a crash, or by this bastion before its state was lost, survive. */
static int
role_sync(struct gw *g, struct gw_role *r, struct stsrole_aws_client *c, struct stsrole_error *err)
{
    struct stsrole_revoked_set remote;
    struct stsrole_buf a, b;
    char *doc = NULL;
    int rc;

    if (r->synced)
        return STSROLE_OK;
    stsrole_revoked_init(&remote);
    rc = stsrole_iam_get_role_policy(c, r->name, r->policy, &doc, NULL, err);
    if (rc == STSROLE_OK) {
        /* Entries read back have no known expiry: keep them as long as
         * any credential can live. */
        rc = stsrole_revoked_from_json(doc, strlen(doc), gw_now(),
                                       gw_now() + STSROLE_POLICY_MAX_TOKEN_LIFE, &remote, err);
        free(doc);
    } else if (rc == STSROLE_E_NOTFOUND) {
        rc = STSROLE_OK;
    }
    if (rc != STSROLE_OK) {
        stsrole_revoked_free(&remote);
        return rc;
    }
    stsrole_buf_init(&a, 0);
    stsrole_buf_init(&b, 0);
    stsrole_revoked_to_json(&remote, &a, NULL);
    if ((rc = stsrole_revoked_merge(&r->set, &remote, err)) == STSROLE_OK) {
        /* Our copy may predate a cut-off IAM already has (a crash right
         * after writing it): entries it covers stay folded in. */
        stsrole_revoked_fold(&r->set, g->skew);
        stsrole_revoked_to_json(&r->set, &b, NULL);
        r->dirty = a.len != b.len || (a.len > 0 && strcmp(a.data, b.data) != 0);
        r->synced = 1;
        learn_others(r, c);
    }
    stsrole_buf_free(&a);
    stsrole_buf_free(&b);
    stsrole_revoked_free(&remote);
    return rc;
}

/* Writes set as the role's policy (deleting it when empty).  Nothing is
 * sent when IAM already holds exactly this document. */
static int
role_write(struct gw_role *r, struct stsrole_aws_client *c, const struct stsrole_revoked_set *set,
           char request_id[128], int *wrote, struct stsrole_error *err)
{
    struct stsrole_buf now, want;
    int rc;

    request_id[0] = '\0';
    *wrote = 0;
    stsrole_buf_init(&now, 0);
    stsrole_buf_init(&want, 0);
    if ((rc = stsrole_revoked_to_json(set, &want, err)) != STSROLE_OK ||
        (rc = stsrole_revoked_to_json(&r->set, &now, err)) != STSROLE_OK)
        goto out;
    if (!r->dirty && now.len == want.len && (now.len == 0 || strcmp(now.data, want.data) == 0))
        goto out;
    /* Never send a document the role's budget cannot hold. */
    if (stsrole_policy_size(want.data, want.len) + (r->others_known ? r->others : 0) >
        STSROLE_POLICY_BUDGET) {
        rc = stsrole_fail(err, STSROLE_E_INVALID,
                          "%s would exceed the role's 10,240-character inline policy budget",
                          r->policy);
        goto out;
    }
    *wrote = 1;
    if (want.len == 0)
        rc = stsrole_iam_delete_role_policy(c, r->name, r->policy, request_id, err);
    else
        rc = stsrole_iam_put_role_policy(c, r->name, r->policy, want.data, request_id, err);
out:
    stsrole_buf_free(&now);
    stsrole_buf_free(&want);
    return rc;
}

static void
role_commit(struct gw *g, struct gw_role *r, struct stsrole_revoked_set *set)
{
    stsrole_revoked_free(&r->set);
    r->set = *set;
    stsrole_revoked_init(set);
    r->dirty = 0;
    r->attempts = 0;
    r->next_try_ms = 0;
    r->last_error[0] = '\0';
    if (g->batch)
        r->unsaved = 1;
    else
        role_save(g, r, 1);
}

void
gw_roles_save_batch(struct gw *g)
{
    size_t i;

    for (i = 0; i < g->n_roles; i++)
        if (g->roles[i]->unsaved)
            role_save(g, g->roles[i], 0);
}

static void
role_failed(struct gw_role *r, const struct stsrole_error *err)
{
    r->attempts++;
    r->next_try_ms = gw_mono_ms() + stsrole_backoff_ms(r->attempts - 1, 1000, RETRY_CAP_MS);
    snprintf(r->last_error, sizeof(r->last_error), "%s: %s", stsrole_status_name(err->status),
             err->msg);
}

/* -- revocation ----------------------------------------------------------------------------- */

static void
sessions_failed(struct gw *g, struct gw_session **v, size_t n, const struct stsrole_error *err)
{
    char detail[STSROLE_ERRMSG_MAX + 64];
    size_t i;
    int permanent = !stsrole_status_retryable(err->status);

    snprintf(detail, sizeof(detail), "%s: %s", stsrole_status_name(err->status), err->msg);
    snprintf(g->last_error, sizeof(g->last_error), "%s", detail);
    for (i = 0; i < n; i++) {
        struct gw_session *s = v[i];

        s->attempts++;
        s->next_try_ms = gw_mono_ms() + stsrole_backoff_ms(s->attempts - 1, 1000, RETRY_CAP_MS);
        /* Nothing is dropped: the session stays queued and is retried
         * until it goes through; revoke.failed says it is overdue. */
        if ((permanent || s->attempts >= FAIL_AFTER) && !s->failed_audited) {
            if (gw_audit(g, "revoke.failed", s, NULL, "error", err->request_id, detail) == 0)
                s->failed_audited = 1;
            g->failed_total++;
        } else {
            gw_audit(g, "revoke.retry", s, NULL, "retry", err->request_id, detail);
        }
    }
}

static void
mark_revoked(struct gw *g, struct gw_session *s, const char *request_id, const char *detail)
{
    s->revoked = 1;
    s->revoke_detail = detail;
    s->attempts = 0;
    s->failed_audited = 0;
    s->manual = 0;
    g->revoked_total++;
    /* revoke.ok follows session.open (and session.close); if those could
     * not be written yet, gw_sessions_step writes all three in order. */
    if (s->open_audited && (!s->closed || s->close_audited) &&
        gw_audit(g, "revoke.ok", s, NULL, "ok", request_id, detail) == 0)
        s->revoke_audited = 1;
    if (!s->remote)
        gw_track_save(g, s);
    gw_registry_forget(g, s);
}

/* The session's person for the deny policy: its SourceIdentity, or ""
 * when that is not one STS would accept (then no person cut-off is used). */
static const char *
person_of(const struct gw_session *s)
{
    return stsrole_person_valid(s->rec.source_identity) ? s->rec.source_identity : "";
}

static int
live_on(const struct gw_session *s, const struct gw_role *r)
{
    return !s->revoked && !s->closed && !s->manual && strcmp(s->rec.role_arn, r->arn) == 0;
}

/* The live credentials of role r on this bastion, for the compaction's
 * choices: *out is an array (free it) of *n, pointing into g's records. */
static int
live_of(struct gw *g, const struct gw_role *r, struct stsrole_live **out, size_t *n)
{
    size_t i;

    *n = 0;
    if ((*out = calloc(g->n_sess + 1, sizeof(**out))) == NULL)
        return -1;
    for (i = 0; i < g->n_sess; i++)
        if (live_on(g->sess[i], r)) {
            (*out)[*n].person = person_of(g->sess[i]);
            (*out)[*n].issued = g->sess[i]->rec.opened;
            (*n)++;
        }
    return 0;
}

/* Live sessions of role r whose credentials a role-wide cut-off at `older`
 * may deny. */
static size_t
count_covered_live(struct gw *g, const struct gw_role *r, int64_t older)
{
    struct stsrole_revoked_set t;
    size_t i, n = 0;

    stsrole_revoked_init(&t);
    t.older_than = older;
    for (i = 0; i < g->n_sess; i++)
        if (live_on(g->sess[i], r) &&
            stsrole_revoked_may_hit(&t, NULL, g->sess[i]->rec.opened, g->skew))
            n++;
    return n;
}

/* After a cut-off is written: each live session it may deny is named in
 * the audit log (event, "error"; no line when event is NULL), and those it
 * surely denies are revoked too, so their logout later does not revoke
 * them again.  person: only that person's sessions (a person's cut-off),
 * or NULL (role-wide). */
static void
mark_covered_live(struct gw *g, const struct gw_role *r, const char *person, const char *event,
                  const char *request_id, const char *detail)
{
    char line[300], iso[21];
    size_t i;
    int64_t until = r->set.older_than;

    if (person != NULL) {
        for (i = 0; i < r->set.np; i++)
            if (strcmp(r->set.p[i].person, person) == 0 && r->set.p[i].before > until)
                until = r->set.p[i].before;
    }
    stsrole_iso8601(until, iso);
    for (i = 0; i < g->n_sess; i++) {
        struct gw_session *s = g->sess[i];
        int sure;

        if (!live_on(s, r) || (person != NULL && strcmp(person_of(s), person) != 0) ||
            !stsrole_revoked_may_hit(&r->set, person_of(s), s->rec.opened, g->skew))
            continue;
        sure = stsrole_revoked_covers(&r->set, person_of(s), s->rec.opened, g->skew);
        if (event != NULL) {
            snprintf(line, sizeof(line),
                     "this live session's credential %s denied by the aws:TokenIssueTime "
                     "cut-off %s%s",
                     sure ? "is" : "may be", iso,
                     person != NULL ? " of its person" : " of the whole role");
            gw_audit(g, event, s, NULL, "error", request_id, line);
        }
        if (sure)
            mark_revoked(g, s, request_id, detail);
    }
}

/* One audit line per compaction of a person's entries: "ok" when it hits
 * nothing but revoked sessions, "error" when it may also deny the
 * person's own live sessions or those they open soon. */
static void
audit_compactions(struct gw *g, const struct gw_role *r, const struct stsrole_revoke_outcome *out,
                  const char *request_id)
{
    char detail[600], also[200] = "", iso[21], win[21];
    size_t k;

    for (k = 0; k < out->n_comp; k++) {
        const struct stsrole_compaction *c = &out->comp[k];
        int loud = c->own_live > 0 || c->window != 0;

        stsrole_iso8601(c->before, iso);
        stsrole_iso8601(c->window, win);
        if (loud)
            snprintf(also, sizeof(also),
                     "; it may also deny %zu live session(s) of theirs here, and theirs "
                     "opened before %s",
                     c->own_live, c->window ? win : iso);
        snprintf(detail, sizeof(detail),
                 "the inline policy budget is short: %zu entries of %s folded into Deny "
                 "aws:SourceIdentity = %s and aws:TokenIssueTime < %s; it denies no one else%s",
                 c->folded, c->person, c->person, iso, loud ? also : "");
        gw_audit(g, "revoke.compact", NULL, r->arn, loud ? "error" : "ok", request_id, detail);
    }
}

/* The audit lines of the cut-offs stsrole_revoked_add wrote, and the live
 * sessions they hit. */
static void
audit_outcome(struct gw *g, struct gw_role *r, const struct stsrole_revoke_outcome *out,
              const char *why, const char *request_id)
{
    char detail[700], iso[21], win[21];
    size_t k, live;

    audit_compactions(g, r, out, request_id);
    for (k = 0; k < out->n_comp; k++)
        mark_covered_live(g, r, out->comp[k].person, "revoke.compact", request_id,
                          "denied by the aws:TokenIssueTime cut-off of its person (budget "
                          "compaction)");
    if (!out->fallback)
        return;
    live = count_covered_live(g, r, out->cutoff);
    stsrole_iso8601(out->cutoff, iso);
    stsrole_iso8601(out->cutoff + g->skew, win);
    snprintf(detail, sizeof(detail),
             "%s: fell back to Deny aws:TokenIssueTime < %s on this role, which also denies "
             "%zu live session(s) of it here, any other credential of it issued before then "
             "on any bastion, and sessions of it opened before %s; %zu listed entries "
             "folded in",
             why, iso, live, win, out->collapsed);
    gw_audit(g, "revoke.budget", NULL, r->arn, "error", request_id, detail);
    mark_covered_live(g, r, NULL, "revoke.budget", request_id,
                      "denied by the aws:TokenIssueTime cut-off (budget fallback)");
}

void
gw_revoke_opened(struct gw *g, const struct gw_session *s)
{
    char detail[300], iso[21];
    size_t i;

    if (s->closed || s->manual || s->revoked)
        return; /* it is being revoked anyway */
    for (i = 0; i < g->n_roles; i++) {
        const struct gw_role *r = g->roles[i];
        int role_wide;

        if (strcmp(r->arn, s->rec.role_arn) != 0 || strcmp(r->policy, g->policy_name) != 0 ||
            !stsrole_revoked_may_hit(&r->set, person_of(s), s->rec.opened, g->skew))
            continue;
        /* person NULL: the role-wide cut-off alone */
        role_wide = stsrole_revoked_may_hit(&r->set, NULL, s->rec.opened, g->skew);
        stsrole_iso8601(role_wide ? r->set.older_than : s->rec.opened, iso);
        snprintf(detail, sizeof(detail),
                 "opened within --skew of %s aws:TokenIssueTime cut-off%s%s: its credential "
                 "may be denied; log in again after the cut-off plus --skew",
                 role_wide ? "the role-wide" : "its person's", role_wide ? " " : "",
                 role_wide ? iso : "");
        gw_audit(g, role_wide ? "revoke.budget" : "revoke.compact", s, NULL, "error", NULL, detail);
    }
}

static const char *
revoked_detail(const struct gw_session *s, int kind, int wrote)
{
    if (kind == STSROLE_KEY_SID) {
        if (s->manual)
            return "revoked now by stsrolectl revoke: stsrole:sid added to the deny policy";
        return wrote ? "stsrole:sid added to the deny policy"
                     : "stsrole:sid already in the deny policy";
    }
    if (s->manual)
        return "revoked now by stsrolectl revoke: aws:userid added to the deny policy";
    return wrote ? "aws:userid added to the deny policy" : "aws:userid already in the deny policy";
}

/* The deny entry of one credential: its session's sid, or (a credential
 * minted before sids) its aws:userid.  0, or -1 when it has neither. */
static int
entry_of(const struct gw_session *v, struct stsrole_revoked_entry *e)
{
    const struct stsrole_session *s = &v->rec;

    memset(e, 0, sizeof(*e));
    if (s->sid[0] != '\0' && stsrole_sid_valid(s->sid)) {
        e->kind = STSROLE_KEY_SID;
        snprintf(e->key, sizeof(e->key), "%s", s->sid);
    } else if (stsrole_userid_valid(s->assumed_role_id)) {
        e->kind = STSROLE_KEY_USERID;
        snprintf(e->key, sizeof(e->key), "%s", s->assumed_role_id);
    } else {
        return -1;
    }
    snprintf(e->person, sizeof(e->person), "%s", person_of(v));
    e->issued = s->opened;
    e->expires = s->expiration != 0 ? s->expiration : s->opened + STSROLE_POLICY_MAX_TOKEN_LIFE;
    e->exact = 1;
    return 0;
}

/* Revokes sessions v[0..n) of role arn.  With mu (a revocation thread),
 * it is held on entry and on return, and let go while IAM is asked. */
static void
revoke_role(struct gw *g, const char *arn, struct gw_session **v, size_t n, pthread_mutex_t *mu)
{
    struct rv_call call = {g, v, n, NULL, mu};
    struct stsrole_creds rcreds;
    struct stsrole_error err;
    struct stsrole_aws_client c;
    struct stsrole_revoked_set next;
    struct stsrole_revoke_outcome out;
    struct stsrole_revoked_entry *ents = NULL;
    struct stsrole_live *live = NULL;
    struct gw_role *r;
    char request_id[128];
    unsigned char *covered = NULL;
    int *kind = NULL;
    size_t i, others, n_ok, n_live = 0;
    int rc, tries, wrote = 0, bad_ids = 0;

    stsrole_error_clear(&err);
    stsrole_revoked_init(&next);
    memset(&out, 0, sizeof(out));
    memset(&rcreds, 0, sizeof(rcreds));
    if ((r = gw_role_for(g, arn, g->policy_name)) == NULL) {
        stsrole_fail(&err, STSROLE_E_CONFIG, "not an IAM role ARN: %s", arn);
        goto failed;
    }
    call.role = r;
    if ((rc = iam_client(g, r, &call, &rcreds, &c, &err)) != STSROLE_OK)
        goto failed;
    call_unlock(&call);
    rc = role_sync(g, r, &c, &err);
    call_lock(&call);
    if (rc != STSROLE_OK)
        goto failed;
    ents = calloc(n, sizeof(*ents));
    covered = calloc(n, 1);
    kind = calloc(n, sizeof(*kind));
    if (ents == NULL || covered == NULL || kind == NULL || live_of(g, r, &live, &n_live) != 0) {
        stsrole_fail(&err, STSROLE_E_NOMEM, "out of memory");
        goto failed;
    }
    for (i = 0, n_ok = 0; i < n; i++) {
        covered[i] = stsrole_revoked_covers(&r->set, person_of(v[i]), v[i]->rec.opened, g->skew);
        if (entry_of(v[i], &ents[n_ok]) != 0) {
            bad_ids++;
            continue;
        }
        kind[i] = ents[n_ok].kind;
        n_ok++;
    }
    for (tries = 0; tries < 3; tries++) {
        others = r->others_known ? r->others : 0;
        if ((rc = stsrole_revoked_copy(&next, &r->set, &err)) != STSROLE_OK)
            goto failed;
        if (bad_ids > 0) {
            /* A credential with neither a sid nor an aws:userid can still
             * be denied: by the role-wide cut-off. */
            size_t folded;

            stsrole_revoked_revoke_older(&next, gw_now(), g->skew, &folded, &err);
        }
        rc = stsrole_revoked_add(&next, ents, n_ok, others, live, n_live, gw_now(), g->skew, &out,
                                 &err);
        if (rc != STSROLE_OK)
            goto failed;
        if (bad_ids > 0 && !out.fallback) {
            out.fallback = 1;
            out.cutoff = next.older_than;
        }
        call_unlock(&call);
        rc = role_write(r, &c, &next, request_id, &wrote, &err);
        call_lock(&call);
        if (rc == STSROLE_OK)
            break;
        if (strcmp(err.aws_code, "LimitExceeded") != 0)
            goto failed;
        /* IAM counts more than we knew of: learn a budget at least this
         * much smaller and try again (compacting if it must). */
        {
            struct stsrole_policy_budget b;

            stsrole_revoked_budget(&next, 0, &b, NULL);
            call_unlock(&call);
            learn_others(r, &c);
            call_lock(&call);
            if (!r->others_known || STSROLE_POLICY_BUDGET - r->others >= b.used) {
                r->others = STSROLE_POLICY_BUDGET - b.used + 1;
                r->others_known = 1;
            }
        }
        stsrole_revoked_free(&next);
    }
    if (rc != STSROLE_OK)
        goto failed;
    role_commit(g, r, &next);
    stsrole_creds_clear(&rcreds);
    for (i = 0; i < n; i++) {
        const char *detail_i;

        if (covered[i])
            detail_i = "covered by a cut-off already in the deny policy";
        else if (!stsrole_revoked_covers(&r->set, person_of(v[i]), v[i]->rec.opened, g->skew) ||
                 (kind[i] == STSROLE_KEY_SID &&
                  stsrole_revoked_find(&r->set, STSROLE_KEY_SID, v[i]->rec.sid) >= 0))
            detail_i = revoked_detail(v[i], kind[i], wrote);
        else if (out.fallback && stsrole_revoked_covers(&r->set, NULL, v[i]->rec.opened, g->skew))
            detail_i = "denied by the aws:TokenIssueTime cut-off (budget fallback)";
        else
            detail_i = "denied by the aws:TokenIssueTime cut-off of its person (budget "
                       "compaction)";
        mark_revoked(g, v[i], wrote ? request_id : "", detail_i);
    }
    audit_outcome(g, r, &out,
                  bad_ids > 0 ? "a credential had neither a stsrole:sid nor an aws:userid"
                              : "the role's 10,240-character inline policy budget is full",
                  request_id);
    free(ents);
    free(covered);
    free(kind);
    free(live);
    return;
failed:
    stsrole_creds_clear(&rcreds);
    if (r != NULL)
        role_failed(r, &err);
    stsrole_revoked_free(&next);
    sessions_failed(g, v, n, &err);
    free(ents);
    free(covered);
    free(kind);
    free(live);
}

void
gw_revoke_sessions(struct gw *g, const char *arn, struct gw_session **v, size_t n)
{
    if (n > 0)
        revoke_role(g, arn, v, n, NULL);
}

static int
due(const struct gw_session *s, int force, int64_t now)
{
    return (s->closed || s->manual) && !s->revoked && (force || s->next_try_ms <= now);
}

/* Roles whose policy must be rewritten although no session waits on it:
 * IAM lost an entry we hold, or we have not read IAM's copy yet. */
static void
roles_maintain(struct gw *g, int64_t now)
{
    struct stsrole_error err;
    struct stsrole_aws_client c;
    struct stsrole_revoked_set copy;
    struct stsrole_revoke_outcome out;
    struct stsrole_live *live;
    struct stsrole_creds rcreds;
    char request_id[128];
    size_t i, n_live, done;
    int wrote;

    for (i = 0, done = 0; i < g->n_roles && done < MAINTAIN_PER_STEP; i++) {
        struct gw_role *r = g->roles[i];
        struct rv_call call = {g, NULL, 0, r, NULL};

        if ((r->synced && !r->dirty) || r->next_try_ms > now)
            continue;
        done++;
        if (gw_conf_role_by_arn(g, r->arn) == NULL)
            continue; /* no revoker to write with; kept for status */
        stsrole_error_clear(&err);
        stsrole_revoked_init(&copy);
        memset(&out, 0, sizeof(out));
        if (live_of(g, r, &live, &n_live) != 0)
            continue;
        /* Adding nothing checks the budget, and compacts if it must. */
        if (iam_client(g, r, &call, &rcreds, &c, &err) != STSROLE_OK ||
            role_sync(g, r, &c, &err) != STSROLE_OK ||
            (r->dirty &&
             (stsrole_revoked_copy(&copy, &r->set, &err) != STSROLE_OK ||
              stsrole_revoked_add(&copy, NULL, 0, r->others_known ? r->others : 0, live, n_live,
                                  gw_now(), g->skew, &out, &err) != STSROLE_OK ||
              role_write(r, &c, &copy, request_id, &wrote, &err) != STSROLE_OK))) {
            stsrole_creds_clear(&rcreds);
            stsrole_revoked_free(&copy);
            free(live);
            role_failed(r, &err);
            gw_log(LOG_WARNING, "role %s: %s", r->arn, r->last_error);
            continue;
        }
        stsrole_creds_clear(&rcreds);
        free(live);
        if (r->dirty)
            role_commit(g, r, &copy);
        audit_outcome(g, r, &out, "restoring the policy: the budget is full", request_id);
        stsrole_revoked_free(&copy);
    }
}

/* One role's revocation, for a thread of the pool. */
struct rv_job {
    const char *arn;
    struct gw_session **v;
    size_t n;
};

struct rv_pool {
    struct gw *g;
    struct rv_job *jobs;
    size_t n_jobs, next;
    pthread_mutex_t mu;
};

static void *
rv_worker(void *arg)
{
    struct rv_pool *pool = arg;
    struct rv_job *j;

    pthread_mutex_lock(&pool->mu);
    while (pool->next < pool->n_jobs) {
        j = &pool->jobs[pool->next++];
        revoke_role(pool->g, j->arn, j->v, j->n, &pool->mu);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

/* The roles of one logout (a session that touched many accounts) are
 * revoked in parallel, each through its own account's revoker; a role
 * that fails backs off alone (role_failed) while the others go on. */
static void
revoke_jobs(struct gw *g, struct rv_job *jobs, size_t n_jobs)
{
    pthread_t th[REVOKE_THREADS];
    struct rv_pool pool;
    size_t i, n_threads = 0;

    if (n_jobs == 1) {
        revoke_role(g, jobs[0].arn, jobs[0].v, jobs[0].n, NULL);
        return;
    }
    memset(&pool, 0, sizeof(pool));
    pool.g = g;
    pool.jobs = jobs;
    pool.n_jobs = n_jobs;
    pthread_mutex_init(&pool.mu, NULL);
    /* Started with the signals blocked (signalfd): the threads inherit
     * the mask, so SIGTERM still reaches the main loop. */
    for (i = 0; i < REVOKE_THREADS && i < n_jobs; i++)
        if (pthread_create(&th[n_threads], NULL, rv_worker, &pool) == 0)
            n_threads++;
    if (n_threads == 0)
        rv_worker(&pool); /* no thread to be had: one after another */
    for (i = 0; i < n_threads; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&pool.mu);
}

void
gw_revoke_due(struct gw *g, int force)
{
    struct gw_session **batch;
    struct rv_job *jobs;
    int64_t now = gw_mono_ms();
    size_t i, j, n, used = 0, n_jobs = 0;

    /* Configured roles are read once at start, so the first logout costs
     * one PutRolePolicy and nothing more. */
    for (i = 0; i < g->cfg.n_roles; i++)
        if (g->cfg.roles[i].arn != NULL && g->cfg.roles[i].revoker_arn != NULL)
            gw_role_for(g, g->cfg.roles[i].arn, g->policy_name);
    roles_maintain(g, now);
    batch = calloc(g->n_sess + 1, sizeof(*batch));
    jobs = calloc(g->n_sess + 1, sizeof(*jobs));
    if (batch == NULL || jobs == NULL) {
        free(batch);
        free(jobs);
        return;
    }
    for (i = 0; i < g->n_sess; i++) {
        const char *arn = g->sess[i]->rec.role_arn;

        if (!due(g->sess[i], force, now))
            continue;
        /* Only the first due session of each role starts a batch. */
        for (j = 0; j < i; j++)
            if (due(g->sess[j], force, now) && strcmp(g->sess[j]->rec.role_arn, arn) == 0)
                break;
        if (j < i)
            continue;
        jobs[n_jobs].arn = arn;
        jobs[n_jobs].v = batch + used;
        for (n = 0, j = i; j < g->n_sess; j++)
            if (due(g->sess[j], force, now) && strcmp(g->sess[j]->rec.role_arn, arn) == 0)
                batch[used + n++] = g->sess[j];
        jobs[n_jobs++].n = n;
        used += n;
    }
    if (n_jobs > 0)
        revoke_jobs(g, jobs, n_jobs);
    free(jobs);
    free(batch);
}

int
gw_revoke_all(struct gw *g, const char *role_name, char *msg, size_t msglen)
{
    const struct stsrole_role *cr = stsrole_config_role(&g->cfg, role_name);
    struct rv_call call = {g, NULL, 0, NULL, NULL};
    struct stsrole_creds rcreds;
    struct stsrole_error err;
    struct stsrole_aws_client c;
    struct stsrole_revoked_set next;
    struct gw_role *r;
    char request_id[128] = "", detail[512], iso[21];
    size_t folded, live;
    int wrote;

    if (cr == NULL || cr->arn == NULL) {
        snprintf(msg, msglen, "no role '%s' in the configuration", role_name);
        return STSROLE_E_NOTFOUND;
    }
    if ((r = gw_role_for(g, cr->arn, g->policy_name)) == NULL) {
        snprintf(msg, msglen, "role %s: not an IAM role ARN", role_name);
        return STSROLE_E_CONFIG;
    }
    stsrole_revoked_init(&next);
    stsrole_error_clear(&err);
    call.role = r;
    if (iam_client(g, r, &call, &rcreds, &c, &err) != STSROLE_OK ||
        role_sync(g, r, &c, &err) != STSROLE_OK ||
        stsrole_revoked_copy(&next, &r->set, &err) != STSROLE_OK ||
        stsrole_revoked_revoke_older(&next, gw_now(), g->skew, &folded, &err) != STSROLE_OK ||
        role_write(r, &c, &next, request_id, &wrote, &err) != STSROLE_OK) {
        stsrole_creds_clear(&rcreds);
        stsrole_revoked_free(&next);
        snprintf(msg, msglen, "%s: %s", stsrole_status_name(err.status), err.msg);
        gw_audit(g, "revoke.all", NULL, r->arn, "error", err.request_id, msg);
        return err.status != STSROLE_OK ? (int)err.status : STSROLE_E_IO;
    }
    stsrole_creds_clear(&rcreds);
    live = count_covered_live(g, r, next.older_than);
    stsrole_iso8601(next.older_than, iso);
    snprintf(detail, sizeof(detail),
             "Deny aws:TokenIssueTime < %s on %s: every credential of the role issued before "
             "then is denied (%zu live here); %zu listed entries folded in",
             iso, r->policy, live, folded);
    /* Logged before the state is saved: after a crash in between, IAM's
     * copy (read back at start) still holds the cut-off. */
    gw_audit(g, "revoke.all", NULL, r->arn, "ok", request_id, detail);
    role_commit(g, r, &next);
    mark_covered_live(g, r, NULL, NULL, request_id, "denied by stsrolectl revoke --all");
    snprintf(msg, msglen, "%s", detail);
    return STSROLE_OK;
}

/* -- pruning --------------------------------------------------------------------------------- */

static int
prunable(const struct gw_role *r, int64_t now, int64_t skew)
{
    size_t i;

    if (r->set.older_than != 0 && r->set.older_until + skew <= now)
        return 1;
    for (i = 0; i < r->set.np; i++)
        if (r->set.p[i].until + skew <= now)
            return 1;
    for (i = 0; i < r->set.n; i++)
        if (r->set.v[i].expires + skew <= now)
            return 1;
    return 0;
}

void
gw_prune(struct gw *g)
{
    struct rv_call call = {g, NULL, 0, NULL, NULL};
    struct stsrole_creds rcreds;
    struct stsrole_error err;
    struct stsrole_aws_client c;
    struct stsrole_revoked_set next;
    char request_id[128], detail[STSROLE_ERRMSG_MAX + 256];
    size_t i, removed;
    int older, wrote, rc;
    int64_t now = gw_now();

    for (i = 0; i < g->n_roles; i++) {
        struct gw_role *r = g->roles[i];

        if (!r->synced || r->next_try_ms > gw_mono_ms() || !prunable(r, now, g->skew))
            continue;
        stsrole_revoked_init(&next);
        if (stsrole_revoked_copy(&next, &r->set, NULL) != STSROLE_OK)
            continue;
        removed = stsrole_revoked_prune(&next, now, g->skew, &older);
        if (removed == 0 && !older) {
            stsrole_revoked_free(&next);
            continue;
        }
        stsrole_error_clear(&err);
        call.role = r;
        rc = iam_client(g, r, &call, &rcreds, &c, &err);
        if (rc == STSROLE_OK)
            rc = role_write(r, &c, &next, request_id, &wrote, &err);
        stsrole_creds_clear(&rcreds);
        if (rc != STSROLE_OK) {
            role_failed(r, &err);
            snprintf(detail, sizeof(detail), "%zu expired entries wait: %s", removed,
                     r->last_error);
            gw_audit(g, "prune", NULL, r->arn, "retry", err.request_id, detail);
            stsrole_revoked_free(&next);
            continue;
        }
        snprintf(detail, sizeof(detail), "removed %zu expired entr%s%s; policy %s %s", removed,
                 removed == 1 ? "y" : "ies",
                 older ? " and aws:TokenIssueTime cut-off(s) no credential outlives" : "",
                 r->policy, stsrole_revoked_empty(&next) ? "deleted" : "rewritten");
        gw_audit(g, "prune", NULL, r->arn, "ok", request_id, detail);
        role_commit(g, r, &next);
    }
}

int64_t
gw_next_wakeup_ms(const struct gw *g)
{
    int64_t best = INT64_MAX, mono = gw_mono_ms(), now = gw_now(), t;
    size_t i, k;

    for (i = 0; i < g->n_sess; i++) {
        const struct gw_session *s = g->sess[i];
        if ((s->closed || s->manual) && !s->revoked && s->next_try_ms < best)
            best = s->next_try_ms;
    }
    for (i = 0; i < g->n_roles; i++) {
        const struct gw_role *r = g->roles[i];
        if ((!r->synced || r->dirty) && gw_conf_role_by_arn(g, r->arn) != NULL &&
            r->next_try_ms < best)
            best = r->next_try_ms;
        /* the next expiry to prune */
        for (k = 0; r->synced && k < r->set.n; k++) {
            t = mono + (r->set.v[k].expires + g->skew - now + 1) * 1000;
            if (t < best)
                best = t > r->next_try_ms ? t : r->next_try_ms;
        }
        if (r->synced && r->set.older_than != 0) {
            t = mono + (r->set.older_until + g->skew - now + 1) * 1000;
            if (t < best)
                best = t;
        }
        for (k = 0; r->synced && k < r->set.np; k++) {
            t = mono + (r->set.p[k].until + g->skew - now + 1) * 1000;
            if (t < best)
                best = t;
        }
    }
    return best;
}
