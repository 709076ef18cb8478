/* SPDX-License-Identifier: BSD-3-Clause */
/* reconcile.c: the audit log joined with CloudTrail records, and the findings of the join. */
#include "config.h"

#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "reconcile.h"

/* How late CloudTrail delivers a record to S3, at most ("typically within 15 minutes"). */
#define CT_DELIVERY_LAG_MS (15 * 60 * 1000)
/* Calls of one credential drawn in the report, besides those after its deny. */
#define CT_KEEP_CALLS 2000

/* A call kept for the report's timeline. */
struct call {
    int64_t t_ms;
    char *what;  /* "ec2.amazonaws.com DescribeInstances" */
    char *error; /* errorCode or NULL */
};

/* One credential the audit log knows: a login (session.open, assume.ok) or one minted later
 * for an SSH session (refresh.ok, profile.ok, breakglass.ok: a child, with parent_id). */
struct rsess {
    char *name; /* RoleSessionName, the key */
    char *source_identity, *user, *role_arn, *account, *session_id, *parent_id, *rhost;
    char *bastion_id, *reason, *approvers;
    int is_refresh, is_profile, assume_seen; /* is_refresh: any child */
    int64_t open_ms, close_ms, revoke_ms;
    uint64_t calls, refused_after, allowed_after, allowed_late;
    int64_t first_ms, last_ms, first_refusal_ms, last_allowed_after_ms;
    struct call *cv;
    size_t nc, capc;
    uint64_t not_kept;                  /* calls left out of the report's timeline */
    struct rsess *first_kid, *next_kid; /* the refreshes of a login, linked by resolve() */
};

/* A role session CloudTrail shows for a managed role that the audit log does not know. */
struct usess {
    char *name;
    char *issuer_arn, *account, *source_identity;
    uint64_t calls, refused;
    int64_t first_ms, last_ms;
};

/* An AssumeRole into a managed role that no audit record accounts for. */
struct uassume {
    char *key; /* role name, session name, source identity */
    char *role_arn, *session_name, *source_identity, *account, *source_ip, *caller_arn;
    char *error_code, *event_id, *why;
    int64_t first_ms;
    uint64_t count;
};

/* stsrolectl revoke --all: every session of the role opened before t is denied. */
struct cutoff {
    char *role_arn;
    int64_t t_ms;
};

struct stsrole_recon {
    struct stsrole_recon_opts o;
    char **roles; /* managed role names */
    size_t n_roles;
    void *by_name, *by_id, *unknown, *unmatched; /* tsearch trees */
    void *assume_reqs; /* requestIDs of AssumeRole events seen (strings) */
    struct rsess **sv;
    size_t ns, caps;
    struct usess **uv;
    size_t nu, capu;
    struct uassume **av;
    size_t na, capa;
    struct cutoff *cv;
    size_t ncut, capcut;
    char **problems;
    size_t nprob;
    int resolved, count_calls;
    uint64_t records, audit_lines, audit_ignored, managed_calls;
    int64_t seen_from, seen_to;
};

/* -- small helpers ------------------------------------------------------- */

static int
grow(void **v, size_t *cap, size_t n, size_t size)
{
    size_t ncap;
    void *nv;

    if (n < *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 16;
    if (ncap > SIZE_MAX / size)
        return -1;
    nv = realloc(*v, ncap * size);
    if (nv == NULL)
        return -1;
    *v = nv;
    *cap = ncap;
    return 0;
}

static int
streq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Replaces *dst with a copy of s when s is set; -1 when out of memory. */
static int
set_str(char **dst, const char *s)
{
    char *c;

    if (s == NULL)
        return 0;
    if ((c = strdup(s)) == NULL)
        return -1;
    free(*dst);
    *dst = c;
    return 0;
}

static int
oom(struct stsrole_error *err)
{
    return stsrole_fail(err, STSROLE_E_NOMEM, "reconcile: out of memory");
}

static void
iso_ms(int64_t ms, char out[32])
{
    char s[21];

    stsrole_iso8601(ms / 1000, s);
    /* "YYYY-MM-DDTHH:MM:SSZ" -> with milliseconds */
    snprintf(out, 32, "%.19s.%03dZ", s, (int)(ms % 1000));
}

/* The role name of a role ARN (after the last '/', so paths do not
 * matter) or of an assumed-role ARN (arn:aws:sts::A:assumed-role/R/S). */
static const char *
role_name(const char *arn, size_t *len)
{
    const char *p, *end;

    if (arn == NULL)
        return NULL;
    if ((p = strstr(arn, ":assumed-role/")) != NULL) {
        p += strlen(":assumed-role/");
        end = strchr(p, '/');
        if (end == NULL)
            return NULL;
        *len = (size_t)(end - p);
        return p;
    }
    if (strstr(arn, ":role/") == NULL)
        return NULL;
    p = strrchr(arn, '/') + 1;
    *len = strlen(p);
    return *len ? p : NULL;
}

static int
same_role(const char *a, const char *b)
{
    size_t la, lb;
    const char *na = role_name(a, &la), *nb = role_name(b, &lb);

    return na != NULL && nb != NULL && la == lb && memcmp(na, nb, la) == 0;
}

static int
managed(const struct stsrole_recon *r, const char *arn)
{
    size_t len, i;
    const char *n = role_name(arn, &len);

    if (n == NULL)
        return 0;
    for (i = 0; i < r->n_roles; i++)
        if (strlen(r->roles[i]) == len && memcmp(r->roles[i], n, len) == 0)
            return 1;
    return 0;
}

static int
refused(const char *code)
{
    /* AccessDenied (most services), AccessDeniedException (JSON
     * protocol), Client.UnauthorizedOperation (EC2). */
    return code != NULL &&
           (strstr(code, "AccessDenied") != NULL || strstr(code, "UnauthorizedOperation") != NULL);
}

/* -- trees --------------------------------------------------------------- */

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int
cmp_id(const void *a, const void *b)
{
    const struct rsess *x = a, *y = b;

    return strcmp(x->session_id, y->session_id);
}

/* Every tree node points at a struct whose first member is its char *key. */
static void *
lookup(void *const *root, const char *key)
{
    char *const k = (char *)key;
    void **n = tfind(&k, root, cmp_name);

    return n != NULL ? *n : NULL;
}

static struct rsess *
by_id(const struct stsrole_recon *r, const char *id)
{
    struct rsess k;
    void **n;

    if (id == NULL)
        return NULL;
    memset(&k, 0, sizeof(k));
    k.session_id = (char *)id;
    n = tfind(&k, &r->by_id, cmp_id);
    return n != NULL ? *n : NULL;
}

/* -- set-up ------------------------------------------------------------------ */

int
stsrole_recon_new(struct stsrole_recon **out, const struct stsrole_recon_opts *o,
                  struct stsrole_error *err)
{
    struct stsrole_recon *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (r == NULL)
        return oom(err);
    if (o != NULL)
        r->o = *o;
    r->count_calls = 1;
    *out = r;
    return STSROLE_OK;
}

static void
noop(void *p)
{
    (void)p;
}

void
stsrole_recon_free(struct stsrole_recon *r)
{
    size_t i, j;

    if (r == NULL)
        return;
    tdestroy(r->by_name, noop);
    tdestroy(r->by_id, noop);
    tdestroy(r->unknown, noop);
    tdestroy(r->unmatched, noop);
    tdestroy(r->assume_reqs, free);
    for (i = 0; i < r->n_roles; i++)
        free(r->roles[i]);
    free(r->roles);
    for (i = 0; i < r->ns; i++) {
        struct rsess *s = r->sv[i];
        char *strs[] = {s->name,       s->source_identity, s->user,      s->role_arn,
                        s->account,    s->session_id,      s->parent_id, s->rhost,
                        s->bastion_id, s->reason,          s->approvers};
        for (j = 0; j < sizeof(strs) / sizeof(strs[0]); j++)
            free(strs[j]);
        for (j = 0; j < s->nc; j++) {
            free(s->cv[j].what);
            free(s->cv[j].error);
        }
        free(s->cv);
        free(s);
    }
    free(r->sv);
    for (i = 0; i < r->nu; i++) {
        free(r->uv[i]->name);
        free(r->uv[i]->issuer_arn);
        free(r->uv[i]->account);
        free(r->uv[i]->source_identity);
        free(r->uv[i]);
    }
    free(r->uv);
    for (i = 0; i < r->na; i++) {
        struct uassume *a = r->av[i];
        char *strs[] = {a->key,      a->role_arn,  a->session_name, a->source_identity,
                        a->account,  a->source_ip, a->caller_arn,   a->error_code,
                        a->event_id, a->why};
        for (j = 0; j < sizeof(strs) / sizeof(strs[0]); j++)
            free(strs[j]);
        free(a);
    }
    free(r->av);
    for (i = 0; i < r->ncut; i++)
        free(r->cv[i].role_arn);
    free(r->cv);
    for (i = 0; i < r->nprob; i++)
        free(r->problems[i]);
    free(r->problems);
    free(r);
}

int
stsrole_recon_add_role(struct stsrole_recon *r, const char *role_arn, struct stsrole_error *err)
{
    size_t len;
    const char *n = role_name(role_arn, &len);
    char *c;

    if (n == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "reconcile: '%.200s' is not a role ARN",
                            role_arn != NULL ? role_arn : "");
    if (managed(r, role_arn))
        return STSROLE_OK;
    c = strndup(n, len);
    if (c == NULL)
        return oom(err);
    {
        char **nv = realloc(r->roles, (r->n_roles + 1) * sizeof(*nv));
        if (nv == NULL) {
            free(c);
            return oom(err);
        }
        r->roles = nv;
    }
    r->roles[r->n_roles++] = c;
    return STSROLE_OK;
}

/* -- the audit log ------------------------------------------------------- */

static const char *
jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) && v->valuestring[0] != '\0' ? v->valuestring : NULL;
}

static struct rsess *
session_get(struct stsrole_recon *r, const char *name, struct stsrole_error *err)
{
    struct rsess *s = lookup(&r->by_name, name);

    if (s != NULL)
        return s;
    if (grow((void **)&r->sv, &r->caps, r->ns, sizeof(*r->sv)) != 0 ||
        (s = calloc(1, sizeof(*s))) == NULL) {
        oom(err);
        return NULL;
    }
    if ((s->name = strdup(name)) == NULL || tsearch(s, &r->by_name, cmp_name) == NULL) {
        free(s->name);
        free(s);
        oom(err);
        return NULL;
    }
    r->sv[r->ns++] = s;
    return s;
}

/*
 * The SSH session a child credential belongs to: the record's parent
 * member, which the gateway writes on every record of a child.  Logs from
 * before it say so only in detail: "credential for session <id>, ..."
 * (refresh.ok of a login, breakglass.ok) or "profile NAME of session
 * <id>[, refreshed]" (profile.ok and a profile's refresh.ok).
 */
static int
take_parent(struct rsess *s, const cJSON *o)
{
    static const char pre[] = "credential for session ", mid[] = " of session ";
    const char *p = jstr(o, "parent"), *detail = jstr(o, "detail");
    size_t n;

    if (p == NULL && detail != NULL) {
        if (strncmp(detail, pre, sizeof(pre) - 1) == 0)
            p = detail + sizeof(pre) - 1;
        else if (strncmp(detail, "profile ", 8) == 0 && (p = strstr(detail, mid)) != NULL)
            p += sizeof(mid) - 1;
    }
    if (p == NULL)
        return 0;
    n = strspn(p, "0123456789abcdef");
    if (n == 0 || n > 64 || (p[n] != '\0' && p[n] != ','))
        return 0;
    free(s->parent_id);
    return (s->parent_id = strndup(p, n)) == NULL ? -1 : 0;
}

/* Break-glass records (issue 15) carry reason and approvers; approvers
 * may be a list or a string.  Kept as text for the finding.  Of the
 * gateway's breakglass.* records only the mint's (breakglass.ok) is the
 * break-glass credential's: the others name the session that asked or
 * approved. */
static int
take_breakglass(struct rsess *s, const cJSON *o)
{
    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(o, "approvers");
    const char *reason = jstr(o, "reason"), *ev = jstr(o, "event");

    if (ev != NULL && strncmp(ev, "breakglass.", 11) == 0 && strcmp(ev, "breakglass.ok") != 0)
        return 0;
    if (set_str(&s->reason, reason) != 0)
        return -1;
    if (cJSON_IsString(ap) && ap->valuestring[0] != '\0')
        return set_str(&s->approvers, ap->valuestring);
    if (cJSON_IsArray(ap) && cJSON_GetArraySize(ap) > 0) {
        struct stsrole_buf b;
        const cJSON *it;
        int rc = STSROLE_OK;

        stsrole_buf_init(&b, 4096);
        cJSON_ArrayForEach(it, ap)
        {
            if (cJSON_IsString(it) && rc == STSROLE_OK)
                rc = stsrole_buf_printf(&b, "%s%s", b.len ? ", " : "", it->valuestring);
        }
        if (rc == STSROLE_OK && b.len > 0)
            rc = set_str(&s->approvers, b.data) == 0 ? STSROLE_OK : STSROLE_E_NOMEM;
        stsrole_buf_free(&b);
        return rc == STSROLE_E_NOMEM ? -1 : 0;
    }
    return 0;
}

int
stsrole_recon_audit_problem(struct stsrole_recon *r, const char *detail, struct stsrole_error *err)
{
    char **nv = realloc(r->problems, (r->nprob + 1) * sizeof(*nv));

    if (nv == NULL)
        return oom(err);
    r->problems = nv;
    if ((r->problems[r->nprob] = strdup(detail)) == NULL)
        return oom(err);
    r->nprob++;
    return STSROLE_OK;
}

int
stsrole_recon_audit_line(struct stsrole_recon *r, const char *line, size_t len,
                         struct stsrole_error *err)
{
    cJSON *o = cJSON_ParseWithLength(line, len);
    const char *ev, *name, *ts, *role_arn;
    int64_t t;
    struct rsess *s;
    int rc = STSROLE_OK, open, bg, profile;

    r->audit_lines++;
    ev = jstr(o, "event");
    ts = jstr(o, "ts");
    if (o == NULL || ev == NULL || ts == NULL || stsrole_ct_parse_time(ts, &t) != 0) {
        r->audit_ignored++;
        cJSON_Delete(o);
        return STSROLE_OK;
    }
    name = jstr(o, "session_name");
    role_arn = jstr(o, "role_arn");
    if (role_arn != NULL && role_name(role_arn, &(size_t){0}) != NULL &&
        (rc = stsrole_recon_add_role(r, role_arn, err)) != STSROLE_OK)
        goto out;
    if (strcmp(ev, "revoke.all") == 0 && streq(jstr(o, "outcome"), "ok") && role_arn != NULL) {
        if (grow((void **)&r->cv, &r->capcut, r->ncut, sizeof(*r->cv)) != 0 ||
            (r->cv[r->ncut].role_arn = strdup(role_arn)) == NULL) {
            rc = oom(err);
            goto out;
        }
        r->cv[r->ncut++].t_ms = t;
        goto out;
    }
    if (name == NULL) {
        r->audit_ignored += strncmp(ev, "session.", 8) == 0;
        goto out;
    }
    /* Every credential stsrole mints has one of these (assume.ok: an
     * operator's stsrolectl assume, root's only, stsrole:mfa=none;
     * profile.ok: another profile of an SSH session, minted on its first
     * use; breakglass.ok: an approved request's; both children of the
     * SSH session as a refresh is). */
    bg = strcmp(ev, "breakglass.ok") == 0;
    profile = strcmp(ev, "profile.ok") == 0;
    open = strcmp(ev, "session.open") == 0 || strcmp(ev, "refresh.ok") == 0 ||
           strcmp(ev, "assume.ok") == 0 || bg || profile;
    s = open ? session_get(r, name, err) : lookup(&r->by_name, name);
    if (s == NULL) {
        if (open)
            rc = STSROLE_E_NOMEM;
        goto out;
    }
    if (open) {
        s->open_ms = t;
        s->is_refresh = ev[0] == 'r' || bg || profile || jstr(o, "parent") != NULL;
        s->is_profile |= profile;
        if (set_str(&s->source_identity, jstr(o, "source_identity")) != 0 ||
            set_str(&s->user, jstr(o, "user")) != 0 || set_str(&s->role_arn, role_arn) != 0 ||
            set_str(&s->account, jstr(o, "account")) != 0 ||
            set_str(&s->rhost, jstr(o, "rhost")) != 0 ||
            set_str(&s->bastion_id, jstr(o, "bastion_id")) != 0 ||
            (s->is_refresh && take_parent(s, o) != 0)) {
            rc = oom(err);
            goto out;
        }
        if (s->session_id == NULL && jstr(o, "session_id") != NULL) {
            if ((s->session_id = strdup(jstr(o, "session_id"))) == NULL ||
                tsearch(s, &r->by_id, cmp_id) == NULL) {
                rc = oom(err);
                goto out;
            }
        }
    } else if (strcmp(ev, "session.close") == 0) {
        s->close_ms = t;
    } else if (strcmp(ev, "revoke.ok") == 0) {
        if (s->revoke_ms == 0 || t < s->revoke_ms)
            s->revoke_ms = t;
    }
    if (take_breakglass(s, o) != 0)
        rc = oom(err);
out:
    cJSON_Delete(o);
    return rc;
}

/* Whether one deny policy holds both credentials: the same role in the same account. */
static int
same_deny(const struct rsess *a, const struct rsess *b)
{
    return same_role(a->role_arn, b->role_arn) &&
           streq(a->account ? a->account : "", b->account ? b->account : "");
}

/* Once every audit line is in: a refreshed credential is denied with its
 * SSH session (the deny matches the session tag every credential of the
 * session carries), and revoke --all cuts off every older session.  A
 * child on another role or in another account (a profile, break-glass)
 * is denied by that role's own policy: its own revoke.ok, not the login's. */
static void
resolve(struct stsrole_recon *r)
{
    size_t i, j;

    if (r->resolved)
        return;
    r->resolved = 1;
    for (i = 0; i < r->ns; i++) {
        struct rsess *s = r->sv[i];
        for (j = 0; j < r->ncut; j++)
            if (same_role(s->role_arn, r->cv[j].role_arn) && s->open_ms <= r->cv[j].t_ms &&
                (s->revoke_ms == 0 || r->cv[j].t_ms < s->revoke_ms))
                s->revoke_ms = r->cv[j].t_ms;
    }
    for (i = 0; i < r->ns; i++) {
        struct rsess *s = r->sv[i], *p = s->is_refresh ? by_id(r, s->parent_id) : NULL;
        if (p == NULL || p == s)
            continue;
        if (p->revoke_ms != 0 && (s->revoke_ms == 0 || p->revoke_ms < s->revoke_ms) &&
            same_deny(s, p))
            s->revoke_ms = p->revoke_ms;
        s->next_kid = p->first_kid;
        p->first_kid = s;
    }
}

static int
add_call(struct rsess *s, const struct stsrole_ct_event *ev)
{
    struct call *c;

    if (grow((void **)&s->cv, &s->capc, s->nc, sizeof(*s->cv)) != 0)
        return -1;
    c = &s->cv[s->nc];
    c->t_ms = ev->t_ms;
    c->error = NULL;
    if (asprintf(&c->what, "%s %s", ev->event_source ? ev->event_source : "?",
                 ev->event_name ? ev->event_name : "?") < 0)
        return -1;
    if (ev->error_code != NULL && (c->error = strdup(ev->error_code)) == NULL) {
        free(c->what);
        return -1;
    }
    s->nc++;
    return 0;
}

static int
unmatched_assume(struct stsrole_recon *r, const struct stsrole_ct_event *ev, const char *why,
                 struct stsrole_error *err)
{
    struct uassume *a;
    char *key;
    size_t len;
    const char *rn = role_name(ev->req_role_arn, &len);
    char role_account[13];

    /* The role's account (arn:aws:iam::ACCOUNT:role/...), whichever copy this is. */
    if (sscanf(ev->req_role_arn, "arn:%*[^:]:iam::%12[0-9]:", role_account) != 1)
        snprintf(role_account, sizeof(role_account), "%s", ev->account ? ev->account : "");

    if (asprintf(&key, "%.*s\n%s\n%s", (int)len, rn,
                 ev->req_session_name ? ev->req_session_name : "",
                 ev->req_source_identity ? ev->req_source_identity : "") < 0)
        return oom(err);
    if ((a = lookup(&r->unmatched, key)) != NULL) {
        free(key);
        a->count++;
        if (ev->t_ms < a->first_ms)
            a->first_ms = ev->t_ms;
        return STSROLE_OK;
    }
    if (grow((void **)&r->av, &r->capa, r->na, sizeof(*r->av)) != 0 ||
        (a = calloc(1, sizeof(*a))) == NULL) {
        free(key);
        return oom(err);
    }
    a->key = key;
    a->first_ms = ev->t_ms;
    a->count = 1;
    r->av[r->na++] = a;
    if (set_str(&a->role_arn, ev->req_role_arn) != 0 ||
        set_str(&a->session_name, ev->req_session_name) != 0 ||
        set_str(&a->source_identity, ev->req_source_identity) != 0 ||
        set_str(&a->account, role_account) != 0 || set_str(&a->source_ip, ev->source_ip) != 0 ||
        set_str(&a->caller_arn, ev->identity_arn) != 0 ||
        set_str(&a->error_code, ev->error_code) != 0 || set_str(&a->event_id, ev->event_id) != 0 ||
        set_str(&a->why, why) != 0 || tsearch(a, &r->unmatched, cmp_name) == NULL)
        return oom(err);
    return STSROLE_OK;
}

static int
assume_event(struct stsrole_recon *r, const struct stsrole_ct_event *ev, struct stsrole_error *err)
{
    struct rsess *s =
        ev->req_session_name != NULL ? lookup(&r->by_name, ev->req_session_name) : NULL;

    /* A cross-account AssumeRole is logged in the caller's account and in
     * the role's, with the same requestID: count it once. */
    if (ev->request_id != NULL) {
        char *id = strdup(ev->request_id), **n;
        if (id == NULL || (n = tsearch(id, &r->assume_reqs, cmp_str)) == NULL) {
            free(id);
            return oom(err);
        }
        if (*n != id) {
            free(id);
            return STSROLE_OK;
        }
    }
    if (s != NULL && streq(s->source_identity, ev->req_source_identity) &&
        same_role(s->role_arn, ev->req_role_arn)) {
        s->assume_seen = 1;
        return STSROLE_OK;
    }
    return unmatched_assume(r, ev,
                            s == NULL ? "no audit record has this session name"
                            : !streq(s->source_identity, ev->req_source_identity)
                                ? "the session name is in the audit log, with another "
                                  "SourceIdentity"
                                : "the session name is in the audit log, for another role",
                            err);
}

static int
unknown_call(struct stsrole_recon *r, const struct stsrole_ct_event *ev, struct stsrole_error *err)
{
    struct usess *u = lookup(&r->unknown, ev->session_name);

    if (u == NULL) {
        if (grow((void **)&r->uv, &r->capu, r->nu, sizeof(*r->uv)) != 0 ||
            (u = calloc(1, sizeof(*u))) == NULL)
            return oom(err);
        r->uv[r->nu++] = u;
        if (set_str(&u->name, ev->session_name) != 0 ||
            set_str(&u->issuer_arn, ev->issuer_arn ? ev->issuer_arn : ev->identity_arn) != 0 ||
            set_str(&u->account, ev->account) != 0 ||
            set_str(&u->source_identity, ev->source_identity) != 0 ||
            tsearch(u, &r->unknown, cmp_name) == NULL)
            return oom(err);
        u->first_ms = u->last_ms = ev->t_ms;
    }
    u->calls++;
    u->refused += refused(ev->error_code);
    if (ev->t_ms < u->first_ms)
        u->first_ms = ev->t_ms;
    if (ev->t_ms > u->last_ms)
        u->last_ms = ev->t_ms;
    return STSROLE_OK;
}

int
stsrole_recon_event(void *ctx, const struct stsrole_ct_event *ev, struct stsrole_error *err)
{
    struct stsrole_recon *r = ctx;
    const char *issuer;
    struct rsess *s;
    int rc;

    resolve(r);
    r->records++;
    if (r->seen_from == 0 || ev->t_ms < r->seen_from)
        r->seen_from = ev->t_ms;
    if (ev->t_ms > r->seen_to)
        r->seen_to = ev->t_ms;
    if ((r->o.from_ms != 0 && ev->t_ms < r->o.from_ms) ||
        (r->o.to_ms != 0 && ev->t_ms > r->o.to_ms))
        return STSROLE_OK;
    if (streq(ev->event_name, "AssumeRole") && streq(ev->event_source, "sts.amazonaws.com") &&
        managed(r, ev->req_role_arn)) {
        rc = assume_event(r, ev, err);
        if (rc != STSROLE_OK)
            return rc;
    }
    issuer = ev->issuer_arn != NULL ? ev->issuer_arn : ev->identity_arn;
    if (!streq(ev->identity_type, "AssumedRole") || ev->session_name == NULL || !managed(r, issuer))
        return STSROLE_OK;
    r->managed_calls++;
    s = lookup(&r->by_name, ev->session_name);
    if (s == NULL || !same_role(s->role_arn, issuer))
        return unknown_call(r, ev, err);
    if (r->count_calls) {
        if (s->calls++ == 0 || ev->t_ms < s->first_ms)
            s->first_ms = ev->t_ms;
        if (ev->t_ms > s->last_ms)
            s->last_ms = ev->t_ms;
    }
    if (s->revoke_ms != 0 && ev->t_ms > s->revoke_ms) {
        if (refused(ev->error_code)) {
            s->refused_after++;
            if (s->first_refusal_ms == 0 || ev->t_ms < s->first_refusal_ms)
                s->first_refusal_ms = ev->t_ms;
        } else {
            s->allowed_after++;
            if (ev->t_ms > s->last_allowed_after_ms)
                s->last_allowed_after_ms = ev->t_ms;
            if (ev->t_ms > s->revoke_ms + (int64_t)r->o.grace_s * 1000)
                s->allowed_late++;
        }
    }
    /* The report keeps the calls after a deny, and enough of the rest to
     * draw the session: a page of millions of calls helps nobody. */
    if (r->o.keep_calls) {
        if (s->nc >= CT_KEEP_CALLS && !(s->revoke_ms != 0 && ev->t_ms > s->revoke_ms))
            s->not_kept++;
        else if (add_call(s, ev) != 0)
            return oom(err);
    }
    return STSROLE_OK;
}

void
stsrole_recon_count_calls(struct stsrole_recon *r, int on)
{
    r->count_calls = on;
}

int
stsrole_recon_session_summary(struct stsrole_recon *r, const char *issuer_arn,
                              const char *session_name, const char *source_identity,
                              const char *account, uint64_t calls, int64_t first_ms,
                              int64_t last_ms, struct stsrole_error *err)
{
    struct stsrole_ct_event ev;
    struct rsess *s;
    uint64_t i;

    resolve(r);
    if (session_name == NULL || !managed(r, issuer_arn) || calls == 0)
        return STSROLE_OK;
    s = lookup(&r->by_name, session_name);
    if (s != NULL && same_role(s->role_arn, issuer_arn)) {
        if (s->calls == 0 || first_ms < s->first_ms)
            s->first_ms = first_ms;
        if (last_ms > s->last_ms)
            s->last_ms = last_ms;
        s->calls += calls;
        return STSROLE_OK;
    }
    memset(&ev, 0, sizeof(ev));
    ev.session_name = session_name;
    ev.issuer_arn = issuer_arn;
    ev.account = account;
    ev.source_identity = source_identity;
    for (i = 0; i < 2 && i < calls; i++) {
        int rc;
        ev.t_ms = i == 0 ? first_ms : last_ms;
        if ((rc = unknown_call(r, &ev, err)) != STSROLE_OK)
            return rc;
    }
    ((struct usess *)lookup(&r->unknown, session_name))->calls += calls - (calls > 1 ? 2 : 1);
    return STSROLE_OK;
}

char *
stsrole_recon_revoked(struct stsrole_recon *r)
{
    struct stsrole_buf b;
    size_t i;
    int rc = STSROLE_OK;
    char t[21];

    resolve(r);
    stsrole_buf_init(&b, 0);
    rc = stsrole_buf_puts(&b, "");
    for (i = 0; i < r->ns && rc == STSROLE_OK; i++) {
        if (r->sv[i]->revoke_ms == 0)
            continue;
        stsrole_iso8601(r->sv[i]->revoke_ms / 1000, t); /* the second of the deny */
        rc = stsrole_buf_printf(&b, "%s%s %s", b.len ? "\n" : "", r->sv[i]->name, t);
    }
    if (rc != STSROLE_OK) {
        stsrole_buf_free(&b);
        return NULL;
    }
    return stsrole_buf_steal(&b);
}

/* -- findings ------------------------------------------------------------------ */

struct out {
    cJSON *findings;
    int failed;
    size_t n[3]; /* critical, warning, info */
};

static const char *const severities[] = {"critical", "warning", "info"};

static void
add_s(cJSON *o, const char *k, const char *v, int *failed)
{
    if (o != NULL && v != NULL && cJSON_AddStringToObject(o, k, v) == NULL)
        *failed = 1;
}

static void
add_t(cJSON *o, const char *k, int64_t ms, int *failed)
{
    char iso[32];

    if (ms == 0 || o == NULL)
        return;
    iso_ms(ms, iso);
    add_s(o, k, iso, failed);
}

static void
add_n(cJSON *o, const char *k, double v, int *failed)
{
    if (o != NULL && cJSON_AddNumberToObject(o, k, v) == NULL)
        *failed = 1;
}

static cJSON *
finding(struct out *f, const char *name, int sev, int64_t t_ms)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || !cJSON_AddItemToArray(f->findings, o)) {
        cJSON_Delete(o);
        f->failed = 1;
        return NULL; /* the add_* helpers skip a NULL object */
    }
    add_s(o, "finding", name, &f->failed);
    add_s(o, "severity", severities[sev], &f->failed);
    add_t(o, "time", t_ms, &f->failed);
    f->n[sev]++;
    return o;
}

static void
session_fields(cJSON *o, const struct rsess *s, int *failed)
{
    add_s(o, "user", s->user, failed);
    add_s(o, "source_identity", s->source_identity, failed);
    add_s(o, "role_arn", s->role_arn, failed);
    add_s(o, "account", s->account, failed);
    add_s(o, "session_name", s->name, failed);
    add_s(o, "session_id", s->session_id, failed);
    add_s(o, "bastion_id", s->bastion_id, failed);
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double
pct(const int64_t *v, size_t n, int p)
{
    size_t k = (size_t)((p * n + 99) / 100);

    return (double)v[k == 0 ? 0 : k - 1] / 1000.0;
}

/* The delay from revoke.ok to the first refusal, per role and account. */
static cJSON *
delays(const struct stsrole_recon *r, int *failed)
{
    cJSON *arr = cJSON_CreateArray();
    char *done = calloc(r->ns + 1, 1);
    int64_t *v = calloc(r->ns + 1, sizeof(*v));
    size_t i, j, n;

    if (arr == NULL || done == NULL || v == NULL) {
        *failed = 1;
        free(done);
        free(v);
        return arr;
    }
    for (i = 0; i < r->ns; i++) {
        const struct rsess *s = r->sv[i];
        size_t rl;
        const char *rn;
        cJSON *o;

        if (done[i] || s->first_refusal_ms == 0)
            continue;
        n = 0;
        for (j = i; j < r->ns; j++) {
            const struct rsess *t = r->sv[j];
            if (!done[j] && t->first_refusal_ms != 0 && same_role(t->role_arn, s->role_arn) &&
                streq(t->account ? t->account : "", s->account ? s->account : "")) {
                done[j] = 1;
                v[n++] = t->first_refusal_ms - t->revoke_ms;
            }
        }
        qsort(v, n, sizeof(*v), cmp_i64);
        o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            *failed = 1;
            break;
        }
        rn = role_name(s->role_arn, &rl);
        {
            char role[256];
            snprintf(role, sizeof(role), "%.*s", rn ? (int)rl : 0, rn ? rn : "");
            add_s(o, "finding", "revoke.delay", failed);
            add_s(o, "severity", "info", failed);
            add_s(o, "role", role, failed);
        }
        add_s(o, "account", s->account, failed);
        add_n(o, "sessions", (double)n, failed);
        add_n(o, "min_s", pct(v, n, 0), failed);
        add_n(o, "p50_s", pct(v, n, 50), failed);
        add_n(o, "p90_s", pct(v, n, 90), failed);
        add_n(o, "max_s", pct(v, n, 100), failed);
    }
    free(done);
    free(v);
    return arr;
}

static int
in_window(const struct stsrole_recon *r, int64_t from, int64_t to, int64_t t)
{
    (void)r;
    return t >= from && t <= to;
}

static void
session_findings(struct stsrole_recon *r, struct out *f, int64_t from, int64_t to)
{
    size_t i;

    for (i = 0; i < r->ns; i++) {
        struct rsess *s = r->sv[i];
        cJSON *o;

        if (s->allowed_after != 0 || s->refused_after != 0) {
            int sev = s->allowed_late ? 0 : s->allowed_after ? 1 : 2;
            o = finding(f, "revoked.used", sev, s->revoke_ms);
            session_fields(o, s, &f->failed);
            add_t(o, "revoked", s->revoke_ms, &f->failed);
            add_n(o, "refused", (double)s->refused_after, &f->failed);
            add_n(o, "allowed", (double)s->allowed_after, &f->failed);
            add_t(o, "first_refusal", s->first_refusal_ms, &f->failed);
            if (s->first_refusal_ms != 0)
                add_n(o, "delay_s", (double)(s->first_refusal_ms - s->revoke_ms) / 1000.0,
                      &f->failed);
            add_t(o, "last_allowed", s->last_allowed_after_ms, &f->failed);
            add_s(o, "detail",
                  s->allowed_late    ? "calls were allowed after the deny had time to apply"
                  : s->allowed_after ? "calls were allowed within the grace time after the deny"
                                     : "every call after the deny was refused",
                  &f->failed);
        }
        /* CloudTrail delivers 5 to 15 minutes after the call: a session
         * opened in the last 15 minutes of a window that ends at a given
         * time (not at the last record read) may simply not be there yet. */
        if (!s->assume_seen && s->calls == 0 && in_window(r, from, to, s->open_ms) &&
            !(r->o.to_ms != 0 && s->open_ms > r->o.to_ms - CT_DELIVERY_LAG_MS)) {
            o = finding(f, "audit.only", 1, s->open_ms);
            session_fields(o, s, &f->failed);
            add_s(
                o, "detail",
                "the audit log has this session, CloudTrail has neither its AssumeRole nor a call",
                &f->failed);
        }
        if ((s->reason != NULL || s->approvers != NULL) && in_window(r, from, to, s->open_ms)) {
            o = finding(f, "breakglass", 1, s->open_ms);
            session_fields(o, s, &f->failed);
            add_s(o, "reason", s->reason, &f->failed);
            add_s(o, "approvers", s->approvers, &f->failed);
            add_n(o, "calls", (double)s->calls, &f->failed);
        }
    }
}

static void
trail_findings(struct stsrole_recon *r, struct out *f)
{
    size_t i, j;

    for (i = 0; i < r->na; i++) {
        struct uassume *a = r->av[i];
        cJSON *o = finding(f, "assume.unmatched", a->error_code ? 1 : 0, a->first_ms);

        add_s(o, "role_arn", a->role_arn, &f->failed);
        add_s(o, "account", a->account, &f->failed);
        add_s(o, "session_name", a->session_name, &f->failed);
        add_s(o, "source_identity", a->source_identity, &f->failed);
        add_s(o, "caller_arn", a->caller_arn, &f->failed);
        add_s(o, "source_ip", a->source_ip, &f->failed);
        add_s(o, "error_code", a->error_code, &f->failed);
        add_s(o, "event_id", a->event_id, &f->failed);
        add_n(o, "count", (double)a->count, &f->failed);
        add_s(o, "detail", a->why, &f->failed);
    }
    for (i = 0; i < r->nu; i++) {
        struct usess *u = r->uv[i];
        cJSON *o;

        for (j = 0; j < r->na; j++)
            if (streq(r->av[j]->session_name, u->name))
                break;
        if (j < r->na)
            continue; /* its AssumeRole is already a finding */
        o = finding(f, "cloudtrail.only", 1, u->first_ms);
        add_s(o, "role_arn", u->issuer_arn, &f->failed);
        add_s(o, "account", u->account, &f->failed);
        add_s(o, "session_name", u->name, &f->failed);
        add_s(o, "source_identity", u->source_identity, &f->failed);
        add_n(o, "calls", (double)u->calls, &f->failed);
        add_n(o, "refused", (double)u->refused, &f->failed);
        add_t(o, "last", u->last_ms, &f->failed);
        add_s(o, "detail",
              "CloudTrail has calls by this session of a managed role; no audit log has it",
              &f->failed);
    }
    for (i = 0; i < r->nprob; i++) {
        cJSON *o = finding(f, "audit.chain", 0, 0);
        add_s(o, "detail", r->problems[i], &f->failed);
    }
}

static int
sev_rank(const cJSON *o)
{
    const char *s = jstr(o, "severity");

    return streq(s, "critical") ? 0 : streq(s, "warning") ? 1 : 2;
}

static int
cmp_finding(const void *a, const void *b)
{
    const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
    const char *tx = jstr(x, "time"), *ty = jstr(y, "time");
    int c = sev_rank(x) - sev_rank(y);

    if (c != 0)
        return c;
    return strcmp(tx ? tx : "", ty ? ty : "");
}

/* Sorted by severity, then time, so the report and the summary read top down. */
static cJSON *
sorted(cJSON *arr, int *failed)
{
    int n = cJSON_GetArraySize(arr), i;
    cJSON **v = calloc((size_t)n + 1, sizeof(*v)), *out = cJSON_CreateArray();

    if (v == NULL || out == NULL) {
        free(v);
        cJSON_Delete(out);
        *failed = 1;
        return arr;
    }
    for (i = 0; i < n; i++)
        v[i] = cJSON_DetachItemFromArray(arr, 0);
    qsort(v, (size_t)n, sizeof(*v), cmp_finding);
    for (i = 0; i < n; i++)
        cJSON_AddItemToArray(out, v[i]);
    free(v);
    cJSON_Delete(arr);
    return out;
}

static void
tl(cJSON *arr, int64_t t, const char *kind, const char *text, const char *who, int *failed)
{
    cJSON *o;

    if (t == 0)
        return;
    o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        *failed = 1;
        return;
    }
    add_t(o, "t", t, failed);
    add_s(o, "kind", kind, failed);
    add_s(o, "text", text, failed);
    add_s(o, "credential", who, failed);
}

static void
timeline_of(const struct stsrole_recon *r, const struct rsess *s, cJSON *arr, int *failed)
{
    const struct rsess *p;
    size_t i;

    tl(arr, s->open_ms, s->is_refresh ? "refresh" : "login",
       s->is_profile   ? "another profile's credential, minted by the gateway on first use"
       : s->is_refresh ? "credential refreshed by the gateway"
                       : "SSH login, credential minted",
       s->name, failed);
    for (i = 0; i < s->nc; i++) {
        const struct call *c = &s->cv[i];
        int after = s->revoke_ms != 0 && c->t_ms > s->revoke_ms;
        char text[512];

        snprintf(text, sizeof(text), "%s%s%s", c->what, c->error ? ": " : "",
                 c->error ? c->error : "");
        tl(arr, c->t_ms,
           c->error != NULL && after && refused(c->error) ? "refused"
           : after                                        ? "allowed-after-deny"
           : c->error != NULL                             ? "error"
                                                          : "call",
           text, s->name, failed);
    }
    if (s->not_kept > 0) {
        char text[96];
        snprintf(text, sizeof(text), "%llu more calls, not drawn", (unsigned long long)s->not_kept);
        tl(arr, s->last_ms, "call", text, s->name, failed);
    }
    if (!s->is_refresh) {
        tl(arr, s->close_ms, "logout", "SSH logout", s->name, failed);
        tl(arr, s->revoke_ms, "deny", "credentials denied (revoke.ok)", s->name, failed);
    } else if ((p = by_id(r, s->parent_id)) == NULL || !same_deny(s, p)) {
        /* its own role's deny, not drawn with its SSH session's */
        tl(arr, s->revoke_ms, "deny", "credential denied on its role (revoke.ok)", s->name, failed);
    }
}

static int
cmp_tl(const void *a, const void *b)
{
    const char *x = jstr(*(cJSON *const *)a, "t"), *y = jstr(*(cJSON *const *)b, "t");

    return strcmp(x ? x : "", y ? y : "");
}

static void
sort_timeline(cJSON *arr, int *failed)
{
    int n = cJSON_GetArraySize(arr), i;
    cJSON **v = calloc((size_t)n + 1, sizeof(*v));

    if (v == NULL) {
        *failed = 1;
        return;
    }
    for (i = 0; i < n; i++)
        v[i] = cJSON_DetachItemFromArray(arr, 0);
    qsort(v, (size_t)n, sizeof(*v), cmp_tl);
    for (i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, v[i]);
    free(v);
}

/* One entry per SSH session: its login credential and the refreshes that
 * name it as their session, with one timeline. */
static cJSON *
sessions(const struct stsrole_recon *r, int *failed)
{
    cJSON *arr = cJSON_CreateArray();
    size_t i;

    if (arr == NULL) {
        *failed = 1;
        return NULL;
    }
    for (i = 0; i < r->ns; i++) {
        const struct rsess *s = r->sv[i], *c;
        cJSON *o, *t, *names;
        uint64_t calls = s->calls, refused_n = s->refused_after, allowed = s->allowed_after;

        if (s->is_refresh && by_id(r, s->parent_id) != NULL)
            continue;
        o = cJSON_CreateObject();
        t = cJSON_CreateArray();
        names = cJSON_CreateArray();
        if (o == NULL || t == NULL || names == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(t);
            cJSON_Delete(names);
            *failed = 1;
            break;
        }
        session_fields(o, s, failed);
        add_s(o, "rhost", s->rhost, failed);
        add_t(o, "open", s->open_ms, failed);
        add_t(o, "close", s->close_ms, failed);
        add_t(o, "revoked", s->revoke_ms, failed);
        add_s(o, "reason", s->reason, failed);
        add_s(o, "approvers", s->approvers, failed);
        timeline_of(r, s, t, failed);
        cJSON_AddItemToArray(names, cJSON_CreateString(s->name));
        for (c = s->first_kid; c != NULL; c = c->next_kid) {
            timeline_of(r, c, t, failed);
            cJSON_AddItemToArray(names, cJSON_CreateString(c->name));
            calls += c->calls;
            refused_n += c->refused_after;
            allowed += c->allowed_after;
        }
        sort_timeline(t, failed);
        add_n(o, "calls", (double)calls, failed);
        add_n(o, "refused_after_deny", (double)refused_n, failed);
        add_n(o, "allowed_after_deny", (double)allowed, failed);
        cJSON_AddItemToObject(o, "credentials", names);
        cJSON_AddItemToObject(o, "timeline", t);
    }
    return arr;
}

int
stsrole_recon_finish(struct stsrole_recon *r, cJSON **out, size_t *critical,
                     struct stsrole_error *err)
{
    struct out f;
    cJSON *doc = cJSON_CreateObject(), *w, *c;
    int64_t from, to;

    resolve(r);
    *out = NULL;
    memset(&f, 0, sizeof(f));
    from = r->o.from_ms ? r->o.from_ms : r->seen_from;
    to = r->o.to_ms ? r->o.to_ms : r->seen_to;
    f.findings = cJSON_CreateArray();
    w = cJSON_AddObjectToObject(doc, "window");
    if (doc == NULL || f.findings == NULL || w == NULL) {
        cJSON_Delete(doc);
        cJSON_Delete(f.findings);
        return oom(err);
    }
    add_t(w, "from", from, &f.failed);
    add_t(w, "to", to, &f.failed);
    trail_findings(r, &f);
    /* Without any trail record there is no window to hold sessions against. */
    session_findings(r, &f, r->records ? from : 1, r->records ? to : 0);
    f.findings = sorted(f.findings, &f.failed);
    cJSON_AddItemToObject(doc, "findings", f.findings);
    cJSON_AddItemToObject(doc, "delays", delays(r, &f.failed));
    cJSON_AddItemToObject(doc, "sessions", sessions(r, &f.failed));
    c = cJSON_AddObjectToObject(doc, "counts");
    if (c == NULL)
        f.failed = 1;
    else {
        add_n(c, "records", (double)r->records, &f.failed);
        add_n(c, "managed_role_calls", (double)r->managed_calls, &f.failed);
        add_n(c, "audit_lines", (double)r->audit_lines, &f.failed);
        add_n(c, "audit_sessions", (double)r->ns, &f.failed);
        add_n(c, "critical", (double)f.n[0], &f.failed);
        add_n(c, "warning", (double)f.n[1], &f.failed);
        add_n(c, "info", (double)f.n[2], &f.failed);
    }
    if (f.failed) {
        cJSON_Delete(doc);
        return oom(err);
    }
    *out = doc;
    *critical = f.n[0];
    return STSROLE_OK;
}
