/* SPDX-License-Identifier: BSD-3-Clause */
/* policy.c: the revocation deny policy on a target role: build, parse back, prune, budget. */
#include "config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

/* IAM policy language version 2012-10-17 is the one that knows condition
 * keys such as aws:userid, aws:PrincipalTag and aws:TokenIssueTime. */
#define POLICY_VERSION "2012-10-17"
#define SID_CONDITION_KEY "aws:PrincipalTag/" STSROLE_SID_TAG

void
stsrole_revoked_init(struct stsrole_revoked_set *s)
{
    memset(s, 0, sizeof(*s));
}

void
stsrole_revoked_free(struct stsrole_revoked_set *s)
{
    free(s->v);
    free(s->p);
    free(s->foreign);
    memset(s, 0, sizeof(*s));
}

/* Grows *v (of *cap elements of size sz) to hold need. */
static int
grow(void **v, size_t *cap, size_t need, size_t sz)
{
    void *nv;
    size_t ncap;

    if (need <= *cap)
        return STSROLE_OK;
    ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / sz)
            return STSROLE_E_NOMEM;
        ncap *= 2;
    }
    if ((nv = realloc(*v, ncap * sz)) == NULL)
        return STSROLE_E_NOMEM;
    *v = nv;
    *cap = ncap;
    return STSROLE_OK;
}

int
stsrole_revoked_copy(struct stsrole_revoked_set *dst, const struct stsrole_revoked_set *src,
                     struct stsrole_error *err)
{
    struct stsrole_revoked_set n;

    stsrole_revoked_init(&n);
    if (grow((void **)&n.v, &n.cap, src->n, sizeof(*n.v)) != STSROLE_OK ||
        grow((void **)&n.p, &n.pcap, src->np, sizeof(*n.p)) != STSROLE_OK)
        goto nomem;
    if (src->n > 0)
        memcpy(n.v, src->v, src->n * sizeof(*n.v));
    if (src->np > 0)
        memcpy(n.p, src->p, src->np * sizeof(*n.p));
    n.n = src->n;
    n.np = src->np;
    n.older_than = src->older_than;
    n.older_until = src->older_until;
    if (src->foreign != NULL && (n.foreign = strdup(src->foreign)) == NULL)
        goto nomem;
    stsrole_revoked_free(dst);
    *dst = n;
    return STSROLE_OK;
nomem:
    stsrole_revoked_free(&n);
    return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory copying the revoked set");
}

int
stsrole_revoked_empty(const struct stsrole_revoked_set *s)
{
    return s->n == 0 && s->np == 0 && s->older_than == 0 && s->foreign == NULL;
}

/* STS's RoleSessionName and SourceIdentity characters: [\w+=,.@-]. */
static int
name_chars(const char *p, size_t min, size_t max)
{
    size_t n = strlen(p);

    if (n < min || n > max)
        return 0;
    for (; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p) && strchr("_+=,.@-", *p) == NULL)
            return 0;
    return 1;
}

int
stsrole_userid_valid(const char *userid)
{
    const char *colon, *p;

    if (userid == NULL)
        return 0;
    colon = strchr(userid, ':');
    if (colon == NULL || colon == userid || strlen(userid) > STSROLE_USERID_MAX)
        return 0;
    for (p = userid; p < colon; p++)
        if (!isalnum((unsigned char)*p))
            return 0;
    return name_chars(colon + 1, 2, 64);
}

int
stsrole_sid_valid(const char *sid)
{
    size_t n;

    if (sid == NULL || (n = strlen(sid)) < 8 || n > 32)
        return 0;
    for (; *sid != '\0'; sid++)
        if (!(*sid >= 'a' && *sid <= 'z') && !(*sid >= '0' && *sid <= '9'))
            return 0;
    return 1;
}

int
stsrole_person_valid(const char *person)
{
    return person != NULL && name_chars(person, 2, STSROLE_PERSON_MAX);
}

int
stsrole_revoked_key_valid(int kind, const char *key)
{
    if (kind == STSROLE_KEY_SID)
        return stsrole_sid_valid(key);
    if (kind == STSROLE_KEY_USERID)
        return stsrole_userid_valid(key);
    return 0;
}

int
stsrole_sid_from_session_id(const char *session_id, char out[STSROLE_SID_LEN + 1],
                            struct stsrole_error *err)
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    uint64_t bits = 0;
    int i;

    out[0] = '\0';
    if (session_id == NULL || strlen(session_id) < 15)
        return stsrole_fail(err, STSROLE_E_INVALID, "no session id to derive the sid from");
    /* 15 hex digits = 60 bits = 12 base32 characters. */
    for (i = 0; i < 15; i++) {
        char c = session_id[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

        if (d < 0)
            return stsrole_fail(err, STSROLE_E_INVALID, "session id is not lowercase hex");
        bits = bits << 4 | (uint64_t)d;
    }
    for (i = STSROLE_SID_LEN - 1; i >= 0; i--) {
        out[i] = b32[bits & 31];
        bits >>= 5;
    }
    out[STSROLE_SID_LEN] = '\0';
    return STSROLE_OK;
}

long
stsrole_revoked_find(const struct stsrole_revoked_set *s, int kind, const char *key)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        if (s->v[i].kind == kind && strcmp(s->v[i].key, key) == 0)
            return (long)i;
    return -1;
}

static long
person_find(const struct stsrole_revoked_set *s, const char *person)
{
    size_t i;

    for (i = 0; person != NULL && *person != '\0' && i < s->np; i++)
        if (strcmp(s->p[i].person, person) == 0)
            return (long)i;
    return -1;
}

/* The latest cut-off that applies to person's credentials, or 0. */
static int64_t
cutoff_for(const struct stsrole_revoked_set *s, const char *person)
{
    long at = person_find(s, person);
    int64_t c = s->older_than;

    if (at >= 0 && s->p[at].before > c)
        c = s->p[at].before;
    return c;
}

int
stsrole_revoked_covers(const struct stsrole_revoked_set *s, const char *person, int64_t issued,
                       int64_t skew)
{
    int64_t c = cutoff_for(s, person);

    return c != 0 && issued + skew < c;
}

int
stsrole_revoked_may_hit(const struct stsrole_revoked_set *s, const char *person, int64_t issued,
                        int64_t skew)
{
    int64_t c = cutoff_for(s, person);

    return c != 0 && issued < c + skew;
}

/* What each of the four drops below keeps or removes. */
enum drop_what {
    DROP_EXPIRED,   /* entries: expired more than skew ago */
    DROP_COVERED,   /* entries: a cut-off denies them already */
    DROP_STALE,     /* person cut-offs: no credential they deny is left */
    DROP_REDUNDANT, /* person cut-offs: the role-wide one denies as much, as long */
};

/* Removes, in place and in order, the entries (or person cut-offs) `what`
 * names; returns how many went. */
static size_t
drop(struct stsrole_revoked_set *s, enum drop_what what, int64_t now, int64_t skew)
{
    size_t i, j, n = what <= DROP_COVERED ? s->n : s->np, gone = 0;
    int out;

    for (i = 0, j = 0; i < n; i++) {
        if (what == DROP_EXPIRED)
            out = s->v[i].expires + skew <= now;
        else if (what == DROP_COVERED)
            out = stsrole_revoked_covers(s, s->v[i].person, s->v[i].issued, skew);
        else if (what == DROP_STALE)
            out = s->p[i].until + skew <= now;
        else
            out = s->older_than != 0 && s->p[i].before <= s->older_than &&
                  s->p[i].until <= s->older_until;
        if (out) {
            gone++;
        } else if (what <= DROP_COVERED) {
            s->v[j++] = s->v[i];
        } else {
            s->p[j++] = s->p[i];
        }
    }
    if (what <= DROP_COVERED)
        s->n = j;
    else
        s->np = j;
    return gone;
}

size_t
stsrole_revoked_prune(struct stsrole_revoked_set *s, int64_t now, int64_t skew,
                      int *cutoffs_removed)
{
    size_t removed = drop(s, DROP_EXPIRED, now, skew);
    int gone = (int)drop(s, DROP_STALE, now, skew);

    if (s->older_than != 0 && s->older_until + skew <= now) {
        s->older_than = 0;
        s->older_until = 0;
        gone++;
    }
    if (cutoffs_removed != NULL)
        *cutoffs_removed = gone;
    return removed;
}

/* Appends {"Sid":sid,"Effect":"Deny","Action":"*","Resource":"*","Condition":{}}
 * and returns its Condition object. */
static cJSON *
deny_statement(cJSON *stmts, const char *sid)
{
    cJSON *st, *cond;

    if ((st = cJSON_CreateObject()) == NULL)
        return NULL;
    cJSON_AddItemToArray(stmts, st);
    if (cJSON_AddStringToObject(st, "Sid", sid) == NULL ||
        cJSON_AddStringToObject(st, "Effect", "Deny") == NULL ||
        cJSON_AddStringToObject(st, "Action", "*") == NULL ||
        cJSON_AddStringToObject(st, "Resource", "*") == NULL ||
        (cond = cJSON_AddObjectToObject(st, "Condition")) == NULL)
        return NULL;
    return cond;
}

/* The list statement of one kind, or 1 when there is nothing of it.
 * Returns 0 on success, -1 out of memory, -2 a key that is not valid. */
static int
list_statement(const struct stsrole_revoked_set *s, cJSON *stmts, int kind, const char *sid,
               const char *condkey, size_t *bad)
{
    cJSON *cond, *op, *ids, *it;
    size_t i, n = 0;

    for (i = 0; i < s->n; i++)
        n += s->v[i].kind == kind;
    if (n == 0)
        return 0;
    if ((cond = deny_statement(stmts, sid)) == NULL ||
        (op = cJSON_AddObjectToObject(cond, "StringEquals")) == NULL ||
        (ids = cJSON_AddArrayToObject(op, condkey)) == NULL)
        return -1;
    for (i = 0; i < s->n; i++) {
        if (s->v[i].kind != kind)
            continue;
        if (!stsrole_revoked_key_valid(kind, s->v[i].key)) {
            *bad = i;
            return -2;
        }
        if ((it = cJSON_CreateString(s->v[i].key)) == NULL)
            return -1;
        cJSON_AddItemToArray(ids, it);
    }
    return 0;
}

static int
cutoff_condition(cJSON *cond, int64_t before)
{
    char iso[21];
    cJSON *op;

    stsrole_iso8601(before, iso);
    return (op = cJSON_AddObjectToObject(cond, "DateLessThan")) != NULL &&
           cJSON_AddStringToObject(op, "aws:TokenIssueTime", iso) != NULL;
}

int
stsrole_revoked_to_json(const struct stsrole_revoked_set *s, struct stsrole_buf *out,
                        struct stsrole_error *err)
{
    cJSON *doc = NULL, *stmts, *cond, *op, *foreign = NULL, *it;
    char *text = NULL, sid[40];
    size_t i, bad = 0;
    int rc = STSROLE_E_NOMEM, lr;

    stsrole_buf_reset(out);
    if (stsrole_revoked_empty(s))
        return STSROLE_OK;
    if ((doc = cJSON_CreateObject()) == NULL ||
        cJSON_AddStringToObject(doc, "Version", POLICY_VERSION) == NULL ||
        (stmts = cJSON_AddArrayToObject(doc, "Statement")) == NULL)
        goto out;
    if ((lr = list_statement(s, stmts, STSROLE_KEY_SID, STSROLE_POLICY_SID_SIDS, SID_CONDITION_KEY,
                             &bad)) == 0)
        lr = list_statement(s, stmts, STSROLE_KEY_USERID, STSROLE_POLICY_SID_LIST, "aws:userid",
                            &bad);
    if (lr == -2) {
        rc = stsrole_fail(err, STSROLE_E_INVALID, "not a valid revocation key: '%.*s'", 130,
                          s->v[bad].key);
        goto done;
    }
    if (lr != 0)
        goto out;
    for (i = 0; i < s->np; i++) {
        if (!stsrole_person_valid(s->p[i].person)) {
            rc = stsrole_fail(err, STSROLE_E_INVALID, "not a SourceIdentity: '%.*s'", 70,
                              s->p[i].person);
            goto done;
        }
        /* IAM wants each Sid unique within a policy. */
        snprintf(sid, sizeof(sid), "%s%zu", STSROLE_POLICY_SID_PERSON, i + 1);
        if ((cond = deny_statement(stmts, sid)) == NULL ||
            (op = cJSON_AddObjectToObject(cond, "StringEquals")) == NULL ||
            cJSON_AddStringToObject(op, "aws:SourceIdentity", s->p[i].person) == NULL ||
            !cutoff_condition(cond, s->p[i].before))
            goto out;
    }
    if (s->older_than != 0) {
        if ((cond = deny_statement(stmts, STSROLE_POLICY_SID_OLDER)) == NULL ||
            !cutoff_condition(cond, s->older_than))
            goto out;
    }
    if (s->foreign != NULL) {
        if ((foreign = cJSON_Parse(s->foreign)) == NULL || !cJSON_IsArray(foreign)) {
            rc = stsrole_fail(err, STSROLE_E_INVALID, "kept statements are not a JSON array");
            goto done;
        }
        while ((it = cJSON_DetachItemFromArray(foreign, 0)) != NULL)
            cJSON_AddItemToArray(stmts, it);
    }
    if ((text = cJSON_PrintUnformatted(doc)) == NULL || stsrole_buf_puts(out, text) != STSROLE_OK)
        goto out;
    rc = STSROLE_OK;
    goto done;
out:
    rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory building the deny policy");
done:
    free(text);
    cJSON_Delete(foreign);
    cJSON_Delete(doc);
    return rc;
}

/* Adds or updates one entry.  Exact times (from the session record)
 * replace the bounds made when the entry was read back; otherwise the later
 * ones win, which prune later and are covered by a cut-off later. */
static int
add_entry(struct stsrole_revoked_set *s, const struct stsrole_revoked_entry *src)
{
    struct stsrole_revoked_entry *e;
    long at = stsrole_revoked_find(s, src->kind, src->key);

    if (at >= 0) {
        e = &s->v[at];
        if (src->exact && !e->exact) {
            e->expires = src->expires;
            e->issued = src->issued;
            e->exact = 1;
        } else if (src->exact == e->exact) {
            if (src->expires > e->expires)
                e->expires = src->expires;
            if (src->issued > e->issued)
                e->issued = src->issued;
        }
        if (e->person[0] == '\0' && src->person[0] != '\0')
            memcpy(e->person, src->person, sizeof(e->person));
        return STSROLE_OK;
    }
    if (grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v)) != STSROLE_OK)
        return STSROLE_E_NOMEM;
    s->v[s->n++] = *src;
    return STSROLE_OK;
}

/* Sets person's cut-off to at least before (never earlier); the statement
 * lasts as long as any credential issued before it can. */
static int
set_person_cutoff(struct stsrole_revoked_set *s, const char *person, int64_t before)
{
    struct stsrole_revoked_person *p;
    long at = person_find(s, person);

    if (at < 0) {
        if (grow((void **)&s->p, &s->pcap, s->np + 1, sizeof(*s->p)) != STSROLE_OK)
            return STSROLE_E_NOMEM;
        p = &s->p[s->np++];
        memset(p, 0, sizeof(*p));
        snprintf(p->person, sizeof(p->person), "%s", person);
    } else {
        p = &s->p[at];
    }
    if (before > p->before)
        p->before = before;
    if (p->before + STSROLE_POLICY_MAX_TOKEN_LIFE > p->until)
        p->until = p->before + STSROLE_POLICY_MAX_TOKEN_LIFE;
    return STSROLE_OK;
}

static int
parse_list(struct stsrole_revoked_set *s, const cJSON *st, int kind, const char *condkey,
           int64_t read_at, int64_t unknown_expiry)
{
    struct stsrole_revoked_entry e;
    const cJSON *v, *it;
    int single;

    v = cJSON_GetObjectItemCaseSensitive(st, "Condition");
    v = cJSON_GetObjectItemCaseSensitive(v, "StringEquals");
    v = cJSON_GetObjectItemCaseSensitive(v, condkey);
    single = cJSON_IsString(v);
    if (!single && !cJSON_IsArray(v))
        return STSROLE_E_PROTOCOL;
    for (it = single ? v : v->child; it != NULL; it = single ? NULL : it->next) {
        if (!cJSON_IsString(it) || !stsrole_revoked_key_valid(kind, it->valuestring))
            return STSROLE_E_PROTOCOL;
        memset(&e, 0, sizeof(e));
        e.kind = kind;
        snprintf(e.key, sizeof(e.key), "%s", it->valuestring);
        e.issued = read_at;
        e.expires = unknown_expiry;
        if (add_entry(s, &e) != STSROLE_OK)
            return STSROLE_E_NOMEM;
    }
    return STSROLE_OK;
}

static int
parse_cutoff(const cJSON *st, int64_t *t)
{
    const cJSON *v;

    v = cJSON_GetObjectItemCaseSensitive(st, "Condition");
    v = cJSON_GetObjectItemCaseSensitive(v, "DateLessThan");
    v = cJSON_GetObjectItemCaseSensitive(v, "aws:TokenIssueTime");
    if (!cJSON_IsString(v) || stsrole_parse_iso8601(v->valuestring, t) != 0 || *t <= 0)
        return STSROLE_E_PROTOCOL;
    return STSROLE_OK;
}

static int
parse_older(struct stsrole_revoked_set *s, const cJSON *st)
{
    int64_t t;

    if (parse_cutoff(st, &t) != STSROLE_OK)
        return STSROLE_E_PROTOCOL;
    if (t > s->older_than)
        s->older_than = t;
    if (t + STSROLE_POLICY_MAX_TOKEN_LIFE > s->older_until)
        s->older_until = t + STSROLE_POLICY_MAX_TOKEN_LIFE;
    return STSROLE_OK;
}

static int
parse_person(struct stsrole_revoked_set *s, const cJSON *st)
{
    const cJSON *v;
    int64_t t;

    v = cJSON_GetObjectItemCaseSensitive(st, "Condition");
    v = cJSON_GetObjectItemCaseSensitive(v, "StringEquals");
    v = cJSON_GetObjectItemCaseSensitive(v, "aws:SourceIdentity");
    if (!cJSON_IsString(v) || !stsrole_person_valid(v->valuestring) ||
        parse_cutoff(st, &t) != STSROLE_OK)
        return STSROLE_E_PROTOCOL;
    return set_person_cutoff(s, v->valuestring, t);
}

/* Ours: a Deny whose Sid is sid, or (prefix) sid followed by digits. */
static int
is_ours(const cJSON *st, const char *sid, int prefix)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, "Sid");
    const cJSON *eff = cJSON_GetObjectItemCaseSensitive(st, "Effect");
    size_t n = strlen(sid);
    const char *p;

    if (!cJSON_IsString(v) || !cJSON_IsString(eff) || strcmp(eff->valuestring, "Deny") != 0)
        return 0;
    if (!prefix)
        return strcmp(v->valuestring, sid) == 0;
    if (strncmp(v->valuestring, sid, n) != 0 || v->valuestring[n] == '\0')
        return 0;
    for (p = v->valuestring + n; *p != '\0'; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    return 1;
}

int
stsrole_revoked_from_json(const char *doc, size_t len, int64_t read_at, int64_t unknown_expiry,
                          struct stsrole_revoked_set *s, struct stsrole_error *err)
{
    struct stsrole_revoked_set n;
    cJSON *root, *stmts, *st, *foreign = NULL;
    int rc = STSROLE_OK;

    stsrole_revoked_init(&n);
    root = cJSON_ParseWithLength(doc, len);
    if (root == NULL || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "the deny policy is not a JSON object");
    }
    stmts = cJSON_GetObjectItemCaseSensitive(root, "Statement");
    if (cJSON_IsObject(stmts)) {
        /* A lone statement object (IAM accepts it): make it a list of one. */
        cJSON *arr = cJSON_CreateArray();

        if (arr == NULL) {
            rc = STSROLE_E_NOMEM;
            goto out;
        }
        cJSON_AddItemToArray(arr, cJSON_DetachItemViaPointer(root, stmts));
        cJSON_AddItemToObject(root, "Statement", arr);
        stmts = arr;
    }
    if (!cJSON_IsArray(stmts)) {
        rc = STSROLE_E_PROTOCOL;
        goto out;
    }
    cJSON_ArrayForEach(st, stmts)
    {
        if (!cJSON_IsObject(st)) {
            rc = STSROLE_E_PROTOCOL;
            goto out;
        }
        if (is_ours(st, STSROLE_POLICY_SID_SIDS, 0))
            rc = parse_list(&n, st, STSROLE_KEY_SID, SID_CONDITION_KEY, read_at, unknown_expiry);
        else if (is_ours(st, STSROLE_POLICY_SID_LIST, 0))
            rc = parse_list(&n, st, STSROLE_KEY_USERID, "aws:userid", read_at, unknown_expiry);
        else if (is_ours(st, STSROLE_POLICY_SID_PERSON, 1))
            rc = parse_person(&n, st);
        else if (is_ours(st, STSROLE_POLICY_SID_OLDER, 0))
            rc = parse_older(&n, st);
        else {
            cJSON *dup = cJSON_Duplicate(st, 1);

            if (dup == NULL || (foreign == NULL && (foreign = cJSON_CreateArray()) == NULL)) {
                cJSON_Delete(dup);
                rc = STSROLE_E_NOMEM;
                goto out;
            }
            cJSON_AddItemToArray(foreign, dup);
        }
        if (rc != STSROLE_OK)
            goto out;
    }
    if (foreign != NULL && (n.foreign = cJSON_PrintUnformatted(foreign)) == NULL)
        rc = STSROLE_E_NOMEM;
out:
    cJSON_Delete(foreign);
    cJSON_Delete(root);
    if (rc != STSROLE_OK) {
        stsrole_revoked_free(&n);
        if (rc == STSROLE_E_NOMEM)
            return stsrole_fail(err, rc, "out of memory parsing the deny policy");
        return stsrole_fail(err, STSROLE_E_PROTOCOL,
                            "the deny policy is malformed (Statement or a condition)");
    }
    stsrole_revoked_free(s);
    *s = n;
    return STSROLE_OK;
}

int
stsrole_revoked_merge(struct stsrole_revoked_set *dst, const struct stsrole_revoked_set *src,
                      struct stsrole_error *err)
{
    struct stsrole_revoked_set n;
    size_t i;

    stsrole_revoked_init(&n);
    if (stsrole_revoked_copy(&n, dst, err) != STSROLE_OK)
        return STSROLE_E_NOMEM;
    for (i = 0; i < src->n; i++)
        if (add_entry(&n, &src->v[i]) != STSROLE_OK)
            goto nomem;
    for (i = 0; i < src->np; i++) {
        long at;

        if (set_person_cutoff(&n, src->p[i].person, src->p[i].before) != STSROLE_OK)
            goto nomem;
        at = person_find(&n, src->p[i].person);
        if (src->p[i].until > n.p[at].until)
            n.p[at].until = src->p[i].until;
    }
    if (src->older_than > n.older_than)
        n.older_than = src->older_than;
    if (src->older_until > n.older_until)
        n.older_until = src->older_until;
    if (n.foreign == NULL && src->foreign != NULL && (n.foreign = strdup(src->foreign)) == NULL)
        goto nomem;
    stsrole_revoked_free(dst);
    *dst = n;
    return STSROLE_OK;
nomem:
    stsrole_revoked_free(&n);
    return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory merging revoked sets");
}

size_t
stsrole_revoked_fold(struct stsrole_revoked_set *s, int64_t skew)
{
    size_t dropped = drop(s, DROP_COVERED, 0, skew);

    drop(s, DROP_REDUNDANT, 0, skew);
    return dropped;
}

size_t
stsrole_policy_size(const char *doc, size_t len)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++)
        if (!isspace((unsigned char)doc[i]))
            n++;
    return n;
}

/* IAM's size of the document s writes, or SIZE_MAX when it cannot be built. */
static size_t
doc_size(const struct stsrole_revoked_set *s, struct stsrole_error *err)
{
    struct stsrole_buf doc;
    size_t n = SIZE_MAX;

    stsrole_buf_init(&doc, 0);
    if (stsrole_revoked_to_json(s, &doc, err) == STSROLE_OK)
        n = stsrole_policy_size(doc.data, doc.len);
    stsrole_buf_free(&doc);
    return n;
}

/* A set that shares s's arrays (never freed): sizes of variants of s. */
static struct stsrole_revoked_set
view(const struct stsrole_revoked_set *s)
{
    struct stsrole_revoked_set t = *s;

    t.cap = t.pcap = 0;
    return t;
}

int
stsrole_revoked_budget(const struct stsrole_revoked_set *s, size_t others,
                       struct stsrole_policy_budget *b, struct stsrole_error *err)
{
    struct stsrole_policy_budget one;
    struct stsrole_revoked_set t;
    struct stsrole_revoked_entry *v;
    size_t with, i;
    int has_sid = 0, rc;

    memset(b, 0, sizeof(*b));
    b->limit = others >= STSROLE_POLICY_BUDGET ? 0 : STSROLE_POLICY_BUDGET - others;
    if ((b->used = doc_size(s, err)) == SIZE_MAX)
        return err != NULL ? err->status : STSROLE_E_INVALID;
    /* Sizes are measured on the builder's own output rather than
     * hard-coded, so they follow any change to the document's shape. */
    t = view(s);
    if (t.older_than == 0)
        t.older_than = 1;
    if ((with = doc_size(&t, NULL)) == SIZE_MAX)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory sizing the deny policy");
    b->reserve = with - b->used;
    if (b->used + b->reserve < b->limit)
        b->left = b->limit - b->used - b->reserve;
    for (i = 0; i < s->n; i++)
        has_sid |= s->v[i].kind == STSROLE_KEY_SID;
    if (has_sid) {
        b->capacity = b->left / STSROLE_POLICY_SID_COST;
        return STSROLE_OK;
    }
    /* The first sid entry also brings its statement. */
    if ((v = calloc(s->n + 1, sizeof(*v))) == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory sizing the deny policy");
    if (s->n > 0)
        memcpy(v, s->v, s->n * sizeof(*v));
    v[s->n].kind = STSROLE_KEY_SID;
    memset(v[s->n].key, 'a', STSROLE_SID_LEN);
    t = view(s);
    t.v = v;
    t.n = s->n + 1;
    rc = stsrole_revoked_budget(&t, others, &one, err);
    free(v);
    if (rc != STSROLE_OK)
        return rc;
    b->capacity = one.limit >= one.used + one.reserve ? 1 + one.capacity : 0;
    return STSROLE_OK;
}

/* Does s fit in the budget with room for the role-wide statement? */
static int
fits(const struct stsrole_revoked_set *s, size_t others, int *ok, struct stsrole_error *err)
{
    struct stsrole_policy_budget b;
    int rc = stsrole_revoked_budget(s, others, &b, err);

    if (rc != STSROLE_OK)
        return rc;
    *ok = b.limit >= b.used + b.reserve;
    return STSROLE_OK;
}

static void
set_older(struct stsrole_revoked_set *s, int64_t before)
{
    if (before > s->older_than)
        s->older_than = before;
    /* No credential issued before the cut-off outlives it by more than
     * AssumeRole's maximum duration. */
    if (s->older_than + STSROLE_POLICY_MAX_TOKEN_LIFE > s->older_until)
        s->older_until = s->older_than + STSROLE_POLICY_MAX_TOKEN_LIFE;
}

/* The oldest live credential of person, or INT64_MAX. */
static int64_t
oldest_live(const struct stsrole_live *live, size_t n_live, const char *person)
{
    int64_t t = INT64_MAX;
    size_t i;

    for (i = 0; i < n_live; i++)
        if (live[i].person != NULL && strcmp(live[i].person, person) == 0 && live[i].issued < t)
            t = live[i].issued;
    return t;
}

/* The cut-off that folds person's entries: all of them (safe = 0), or only
 * those it can fold while staying skew before the person's oldest live
 * credential and before now (safe = 1), so it hits none of their live
 * sessions nor any they open later.  *count gets how many it folds. */
static int64_t
person_plan(const struct stsrole_revoked_set *s, const char *person,
            const struct stsrole_live *live, size_t n_live, int64_t now, int64_t skew, int safe,
            size_t *count)
{
    int64_t bound = INT64_MAX, best = 0, c;
    size_t i;
    long at = person_find(s, person);

    *count = 0;
    if (safe) {
        /* Neither a live credential nor one issued from now on may be hit. */
        int64_t l = oldest_live(live, n_live, person);

        bound = (l < now ? l : now) - skew;
    }
    for (i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].person, person) != 0)
            continue;
        c = s->v[i].issued + skew + 1;
        if (c > bound)
            continue;
        (*count)++;
        if (c > best)
            best = c;
    }
    if (*count > 0 && at >= 0 && s->p[at].before > best)
        best = s->p[at].before;
    return best;
}

static size_t
count_may_hit(const struct stsrole_revoked_set *s, const char *person,
              const struct stsrole_live *live, size_t n_live, int64_t skew)
{
    size_t i, n = 0;

    for (i = 0; i < n_live; i++)
        if (live[i].person != NULL && (person == NULL || strcmp(live[i].person, person) == 0) &&
            stsrole_revoked_may_hit(s, live[i].person, live[i].issued, skew))
            n++;
    return n;
}

/* Steps 1 and 2 of stsrole_revoked_add: fold one person's entries into a
 * cut-off of theirs while that makes the document smaller and it does not
 * fit.  Returns a status; *ok says whether it fits now. */
static int
compact_persons(struct stsrole_revoked_set *n, size_t others, const struct stsrole_live *live,
                size_t n_live, int64_t now, int64_t skew, int safe,
                struct stsrole_revoke_outcome *out, int *ok, struct stsrole_error *err)
{
    struct stsrole_revoked_set t;
    size_t i, j, best_count, count, before_size, after_size;
    const char *best;
    int64_t c, best_c;
    int rc;

    stsrole_revoked_init(&t);
    while (!*ok && out->n_comp < STSROLE_COMPACT_MAX) {
        best = NULL;
        best_count = 0;
        best_c = 0;
        for (i = 0; i < n->n; i++) {
            const char *p = n->v[i].person;

            if (!stsrole_person_valid(p))
                continue; /* read back from IAM: the person is unknown */
            for (j = 0; j < i && strcmp(n->v[j].person, p) != 0; j++)
                ;
            if (j < i)
                continue; /* counted already */
            c = person_plan(n, p, live, n_live, now, skew, safe, &count);
            if (count > best_count) {
                best = p;
                best_count = count;
                best_c = c;
            }
        }
        if (best == NULL)
            break;
        if ((rc = stsrole_revoked_copy(&t, n, err)) != STSROLE_OK)
            return rc;
        if (set_person_cutoff(&t, best, best_c) != STSROLE_OK) {
            stsrole_revoked_free(&t);
            return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory compacting");
        }
        count = stsrole_revoked_fold(&t, skew);
        before_size = doc_size(n, NULL);
        after_size = doc_size(&t, NULL);
        /* The person with the most entries gains the most; if they do not
         * gain, nobody will. */
        if (after_size >= before_size || count == 0)
            break;
        {
            struct stsrole_compaction *k = &out->comp[out->n_comp++];

            snprintf(k->person, sizeof(k->person), "%s", best);
            k->before = best_c;
            k->folded = count;
            k->own_live = count_may_hit(&t, best, live, n_live, skew) -
                          count_may_hit(n, best, live, n_live, skew);
            k->window = best_c + skew > now ? best_c + skew : 0;
        }
        stsrole_revoked_free(n);
        *n = t;
        stsrole_revoked_init(&t);
        if ((rc = fits(n, others, ok, err)) != STSROLE_OK)
            return rc;
    }
    stsrole_revoked_free(&t);
    return STSROLE_OK;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* The role-wide cut-off with t's cut-off at c, folded. */
static int
older_variant(const struct stsrole_revoked_set *n, int64_t c, int64_t skew,
              struct stsrole_revoked_set *t, size_t *folded, struct stsrole_error *err)
{
    int rc = stsrole_revoked_copy(t, n, err);

    if (rc != STSROLE_OK)
        return rc;
    set_older(t, c);
    *folded = stsrole_revoked_fold(t, skew);
    return STSROLE_OK;
}

/* Step 3: the earliest role-wide cut-off past enough of the oldest entries
 * (and person cut-offs) that the document fits.  *ok = 0 when none does. */
static int
compact_role(struct stsrole_revoked_set *n, size_t others, int64_t skew,
             struct stsrole_revoke_outcome *out, int *ok, struct stsrole_error *err)
{
    struct stsrole_revoked_set t;
    int64_t *cand;
    size_t nc = 0, i, lo, hi, folded;
    int rc, fit;

    if ((cand = calloc(n->n + n->np + 1, sizeof(*cand))) == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory compacting");
    for (i = 0; i < n->n; i++)
        cand[nc++] = n->v[i].issued + skew + 1;
    for (i = 0; i < n->np; i++)
        cand[nc++] = n->p[i].before;
    if (n->older_than > 0)
        cand[nc++] = n->older_than;
    qsort(cand, nc, sizeof(*cand), cmp_i64);
    /* Fitting only gets easier as the cut-off moves later: bisect for the
     * earliest one that fits, so it hits as few live sessions as it can. */
    stsrole_revoked_init(&t);
    lo = 0;
    hi = nc;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if ((rc = older_variant(n, cand[mid], skew, &t, &folded, err)) != STSROLE_OK ||
            (rc = fits(&t, others, &fit, err)) != STSROLE_OK)
            goto out;
        if (fit)
            hi = mid;
        else
            lo = mid + 1;
    }
    *ok = nc > 0 && lo < nc;
    rc = STSROLE_OK;
    if (*ok) {
        if ((rc = older_variant(n, cand[lo], skew, &t, &folded, err)) != STSROLE_OK)
            goto out;
        out->fallback = 1;
        out->cutoff = t.older_than;
        out->collapsed = folded;
        stsrole_revoked_free(n);
        *n = t;
        stsrole_revoked_init(&t);
    }
out:
    stsrole_revoked_free(&t);
    free(cand);
    return rc;
}

int
stsrole_revoked_add(struct stsrole_revoked_set *s, const struct stsrole_revoked_entry *add,
                    size_t n_add, size_t others, const struct stsrole_live *live, size_t n_live,
                    int64_t now, int64_t skew, struct stsrole_revoke_outcome *out,
                    struct stsrole_error *err)
{
    struct stsrole_revoked_set n;
    struct stsrole_revoked_entry e;
    size_t i;
    int rc, ok;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < n_add; i++) {
        if (!stsrole_revoked_key_valid(add[i].kind, add[i].key))
            return stsrole_fail(err, STSROLE_E_INVALID, "not a valid revocation key: '%.*s'", 130,
                                add[i].key);
        if (add[i].person[0] != '\0' && !stsrole_person_valid(add[i].person))
            return stsrole_fail(err, STSROLE_E_INVALID, "not a SourceIdentity: '%.*s'", 70,
                                add[i].person);
    }
    stsrole_revoked_init(&n);
    if ((rc = stsrole_revoked_copy(&n, s, err)) != STSROLE_OK)
        return rc;
    for (i = 0; i < n_add; i++) {
        if (stsrole_revoked_covers(&n, add[i].person, add[i].issued, skew)) {
            out->covered++;
            continue;
        }
        e = add[i];
        e.exact = 1;
        if (add_entry(&n, &e) != STSROLE_OK) {
            stsrole_revoked_free(&n);
            return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory adding a revocation");
        }
        out->added++;
    }
    if ((rc = fits(&n, others, &ok, err)) != STSROLE_OK ||
        (!ok && (rc = compact_persons(&n, others, live, n_live, now, skew, 1, out, &ok, err)) !=
                    STSROLE_OK) ||
        (!ok && (rc = compact_persons(&n, others, live, n_live, now, skew, 0, out, &ok, err)) !=
                    STSROLE_OK) ||
        (!ok && (rc = compact_role(&n, others, skew, out, &ok, err)) != STSROLE_OK))
        goto fail;
    if (!ok) {
        struct stsrole_revoked_set t;
        struct stsrole_policy_budget b;

        /* Even the role-wide statement alone does not fit. */
        t = view(&n);
        t.n = t.np = 0;
        t.older_than = 1;
        stsrole_revoked_budget(&t, others, &b, NULL);
        rc = stsrole_fail(err, STSROLE_E_INVALID,
                          "inline policy budget exhausted: %zu characters needed, %zu left "
                          "after the role's other inline policies (%zu)",
                          b.used, b.limit, others);
        goto fail;
    }
    stsrole_revoked_free(s);
    *s = n;
    return STSROLE_OK;
fail:
    stsrole_revoked_free(&n);
    memset(out, 0, sizeof(*out));
    return rc;
}

int
stsrole_revoked_revoke_older(struct stsrole_revoked_set *s, int64_t now, int64_t skew,
                             size_t *collapsed, struct stsrole_error *err)
{
    (void)err;
    set_older(s, now);
    *collapsed = stsrole_revoked_fold(s, skew);
    return STSROLE_OK;
}

void
stsrole_policy_name(const char *bastion_id, char out[129])
{
    size_t i, n;

    n = (size_t)snprintf(out, 129, "stsrole-revoked-%s", bastion_id ? bastion_id : "bastion");
    if (n > 128)
        n = 128;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("_+=,.@-", c) != NULL))
            out[i] = '-';
    }
}
