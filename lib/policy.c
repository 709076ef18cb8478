/* policy.c: the revocation deny policy on a target role: build, parse back, prune, budget. */
#include "config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

/* IAM policy language version 2012-10-17 is the one that knows condition
 * keys such as aws:userid and aws:TokenIssueTime. */
#define POLICY_VERSION "2012-10-17"

void
stsrole_revoked_init(struct stsrole_revoked_set *s)
{
    memset(s, 0, sizeof(*s));
}

void
stsrole_revoked_free(struct stsrole_revoked_set *s)
{
    free(s->v);
    free(s->foreign);
    memset(s, 0, sizeof(*s));
}

static int
set_reserve(struct stsrole_revoked_set *s, size_t need)
{
    struct stsrole_revoked_entry *nv;
    size_t ncap;

    if (need <= s->cap)
        return STSROLE_OK;
    ncap = s->cap ? s->cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / sizeof(*nv))
            return STSROLE_E_NOMEM;
        ncap *= 2;
    }
    nv = realloc(s->v, ncap * sizeof(*nv));
    if (nv == NULL)
        return STSROLE_E_NOMEM;
    s->v = nv;
    s->cap = ncap;
    return STSROLE_OK;
}

int
stsrole_revoked_copy(struct stsrole_revoked_set *dst, const struct stsrole_revoked_set *src,
                     struct stsrole_error *err)
{
    struct stsrole_revoked_set n;

    stsrole_revoked_init(&n);
    if (set_reserve(&n, src->n) != STSROLE_OK)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory copying the revoked set");
    if (src->n > 0)
        memcpy(n.v, src->v, src->n * sizeof(*n.v));
    n.n = src->n;
    n.older_than = src->older_than;
    n.older_until = src->older_until;
    if (src->foreign != NULL && (n.foreign = strdup(src->foreign)) == NULL) {
        stsrole_revoked_free(&n);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory copying the revoked set");
    }
    stsrole_revoked_free(dst);
    *dst = n;
    return STSROLE_OK;
}

int
stsrole_revoked_empty(const struct stsrole_revoked_set *s)
{
    return s->n == 0 && s->older_than == 0 && s->foreign == NULL;
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
    /* RoleSessionName: [\w+=,.@-]{2,64} (STS AssumeRole parameters). */
    if (strlen(colon + 1) < 2 || strlen(colon + 1) > 64)
        return 0;
    for (p = colon + 1; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p) && strchr("_+=,.@-", *p) == NULL)
            return 0;
    return 1;
}

long
stsrole_revoked_find(const struct stsrole_revoked_set *s, const char *userid)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        if (strcmp(s->v[i].userid, userid) == 0)
            return (long)i;
    return -1;
}

int
stsrole_revoked_covers(const struct stsrole_revoked_set *s, int64_t issued, int64_t skew)
{
    return s->older_than != 0 && issued + skew < s->older_than;
}

size_t
stsrole_revoked_prune(struct stsrole_revoked_set *s, int64_t now, int64_t skew, int *older_removed)
{
    size_t i, j, removed = 0;

    for (i = 0, j = 0; i < s->n; i++) {
        if (s->v[i].expires + skew <= now) {
            removed++;
            continue;
        }
        if (i != j)
            s->v[j] = s->v[i];
        j++;
    }
    s->n = j;
    if (older_removed != NULL)
        *older_removed = 0;
    if (s->older_than != 0 && s->older_until + skew <= now) {
        s->older_than = 0;
        s->older_until = 0;
        if (older_removed != NULL)
            *older_removed = 1;
    }
    return removed;
}

static cJSON *
deny_statement(cJSON *stmts, const char *sid, const char *op)
{
    cJSON *st, *cond, *opobj;

    if ((st = cJSON_CreateObject()) == NULL)
        return NULL;
    cJSON_AddItemToArray(stmts, st);
    if (cJSON_AddStringToObject(st, "Sid", sid) == NULL ||
        cJSON_AddStringToObject(st, "Effect", "Deny") == NULL ||
        cJSON_AddStringToObject(st, "Action", "*") == NULL ||
        cJSON_AddStringToObject(st, "Resource", "*") == NULL ||
        (cond = cJSON_AddObjectToObject(st, "Condition")) == NULL ||
        (opobj = cJSON_AddObjectToObject(cond, op)) == NULL)
        return NULL;
    return opobj;
}

int
stsrole_revoked_to_json(const struct stsrole_revoked_set *s, struct stsrole_buf *out,
                        struct stsrole_error *err)
{
    cJSON *doc = NULL, *stmts, *op, *ids, *foreign = NULL, *it;
    char *text = NULL;
    size_t i;
    int rc = STSROLE_E_NOMEM;

    stsrole_buf_reset(out);
    if (stsrole_revoked_empty(s))
        return STSROLE_OK;
    if ((doc = cJSON_CreateObject()) == NULL ||
        cJSON_AddStringToObject(doc, "Version", POLICY_VERSION) == NULL ||
        (stmts = cJSON_AddArrayToObject(doc, "Statement")) == NULL)
        goto out;
    if (s->n > 0) {
        if ((op = deny_statement(stmts, STSROLE_POLICY_SID_LIST, "StringEquals")) == NULL ||
            (ids = cJSON_AddArrayToObject(op, "aws:userid")) == NULL)
            goto out;
        for (i = 0; i < s->n; i++) {
            if (!stsrole_userid_valid(s->v[i].userid)) {
                rc = stsrole_fail(err, STSROLE_E_INVALID, "not an aws:userid: '%.*s'", 130,
                                  s->v[i].userid);
                goto done;
            }
            if ((it = cJSON_CreateString(s->v[i].userid)) == NULL)
                goto out;
            cJSON_AddItemToArray(ids, it);
        }
    }
    if (s->older_than != 0) {
        char iso[21];

        stsrole_iso8601(s->older_than, iso);
        if ((op = deny_statement(stmts, STSROLE_POLICY_SID_OLDER, "DateLessThan")) == NULL ||
            cJSON_AddStringToObject(op, "aws:TokenIssueTime", iso) == NULL)
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

static int
add_entry(struct stsrole_revoked_set *s, const char *userid, int64_t issued, int64_t expires,
          int exact)
{
    struct stsrole_revoked_entry *e;
    long at = stsrole_revoked_find(s, userid);

    if (at >= 0) {
        e = &s->v[at];
        /* Exact times (from the session record) replace the bounds made
         * when the entry was read back; two bounds keep the later ones,
         * which prune later and are covered by a cut-off later. */
        if (exact && !e->exact) {
            e->expires = expires;
            e->issued = issued;
            e->exact = 1;
        } else if (exact == e->exact) {
            if (expires > e->expires)
                e->expires = expires;
            if (issued > e->issued)
                e->issued = issued;
        }
        return STSROLE_OK;
    }
    if (set_reserve(s, s->n + 1) != STSROLE_OK)
        return STSROLE_E_NOMEM;
    e = &s->v[s->n++];
    memset(e, 0, sizeof(*e));
    memcpy(e->userid, userid, strlen(userid) + 1);
    e->issued = issued;
    e->expires = expires;
    e->exact = exact;
    return STSROLE_OK;
}

/* The statement list of a document: an array, or one object (IAM accepts both). */
static int
parse_userids(struct stsrole_revoked_set *s, const cJSON *st, int64_t read_at,
              int64_t unknown_expiry)
{
    const cJSON *v, *it;

    v = cJSON_GetObjectItemCaseSensitive(st, "Condition");
    v = cJSON_GetObjectItemCaseSensitive(v, "StringEquals");
    v = cJSON_GetObjectItemCaseSensitive(v, "aws:userid");
    if (cJSON_IsString(v)) {
        if (!stsrole_userid_valid(v->valuestring))
            return STSROLE_E_PROTOCOL;
        return add_entry(s, v->valuestring, read_at, unknown_expiry, 0);
    }
    if (!cJSON_IsArray(v))
        return STSROLE_E_PROTOCOL;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it) || !stsrole_userid_valid(it->valuestring))
            return STSROLE_E_PROTOCOL;
        if (add_entry(s, it->valuestring, read_at, unknown_expiry, 0) != STSROLE_OK)
            return STSROLE_E_NOMEM;
    }
    return STSROLE_OK;
}

static int
parse_older(struct stsrole_revoked_set *s, const cJSON *st)
{
    const cJSON *v;
    int64_t t;

    v = cJSON_GetObjectItemCaseSensitive(st, "Condition");
    v = cJSON_GetObjectItemCaseSensitive(v, "DateLessThan");
    v = cJSON_GetObjectItemCaseSensitive(v, "aws:TokenIssueTime");
    if (!cJSON_IsString(v) || stsrole_parse_iso8601(v->valuestring, &t) != 0)
        return STSROLE_E_PROTOCOL;
    if (t > s->older_than)
        s->older_than = t;
    if (t + STSROLE_POLICY_MAX_TOKEN_LIFE > s->older_until)
        s->older_until = t + STSROLE_POLICY_MAX_TOKEN_LIFE;
    return STSROLE_OK;
}

static int
is_ours(const cJSON *st, const char *sid)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, "Sid");
    const cJSON *eff = cJSON_GetObjectItemCaseSensitive(st, "Effect");

    return cJSON_IsString(v) && strcmp(v->valuestring, sid) == 0 && cJSON_IsString(eff) &&
           strcmp(eff->valuestring, "Deny") == 0;
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
        /* A lone statement object: make it a list of one. */
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
        if (is_ours(st, STSROLE_POLICY_SID_LIST)) {
            if ((rc = parse_userids(&n, st, read_at, unknown_expiry)) != STSROLE_OK)
                goto out;
        } else if (is_ours(st, STSROLE_POLICY_SID_OLDER)) {
            if ((rc = parse_older(&n, st)) != STSROLE_OK)
                goto out;
        } else {
            cJSON *dup = cJSON_Duplicate(st, 1);

            if (dup == NULL || (foreign == NULL && (foreign = cJSON_CreateArray()) == NULL)) {
                cJSON_Delete(dup);
                rc = STSROLE_E_NOMEM;
                goto out;
            }
            cJSON_AddItemToArray(foreign, dup);
        }
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
        if (add_entry(&n, src->v[i].userid, src->v[i].issued, src->v[i].expires, src->v[i].exact) !=
            STSROLE_OK)
            goto nomem;
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

int
stsrole_revoked_budget(const struct stsrole_revoked_set *s, size_t others,
                       struct stsrole_policy_budget *b, struct stsrole_error *err)
{
    struct stsrole_revoked_set t;
    size_t with, first;

    memset(b, 0, sizeof(*b));
    b->limit = others >= STSROLE_POLICY_BUDGET ? 0 : STSROLE_POLICY_BUDGET - others;
    if ((b->used = doc_size(s, err)) == SIZE_MAX)
        return err != NULL ? err->status : STSROLE_E_INVALID;
    /* Sizes are measured on the builder's own output rather than
     * hard-coded, so they follow any change to the document's shape. */
    stsrole_revoked_init(&t);
    t.v = s->v;
    t.n = s->n;
    t.older_than = s->older_than != 0 ? s->older_than : 1;
    t.older_until = s->older_until;
    t.foreign = s->foreign;
    with = doc_size(&t, NULL);
    if (with == SIZE_MAX)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory sizing the deny policy");
    b->reserve = with - b->used;
    if (b->used + b->reserve < b->limit)
        b->left = b->limit - b->used - b->reserve;
    if (s->n > 0) {
        b->capacity = b->left / STSROLE_POLICY_ENTRY_MAX;
        return STSROLE_OK;
    }
    /* The first entry also brings its statement. */
    {
        struct stsrole_revoked_entry one;

        memset(&one, 0, sizeof(one));
        memcpy(one.userid, "A:xx", 5);
        t.v = &one;
        t.n = 1;
        t.older_than = s->older_than;
        first = doc_size(&t, NULL);
        if (first == SIZE_MAX)
            return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory sizing the deny policy");
        first = first - b->used - 4 + (STSROLE_POLICY_ENTRY_MAX - 3);
        b->capacity = b->left >= first ? 1 + (b->left - first) / STSROLE_POLICY_ENTRY_MAX : 0;
    }
    return STSROLE_OK;
}

/* Does s fit in limit with room for the fallback statement? */
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

static size_t
collapse(struct stsrole_revoked_set *s, int64_t now, int64_t skew)
{
    if (now > s->older_than)
        s->older_than = now;
    /* No credential issued before the cut-off outlives it by more than
     * AssumeRole's maximum duration. */
    if (s->older_than + STSROLE_POLICY_MAX_TOKEN_LIFE > s->older_until)
        s->older_until = s->older_than + STSROLE_POLICY_MAX_TOKEN_LIFE;
    return stsrole_revoked_fold(s, skew);
}

int
stsrole_revoked_add(struct stsrole_revoked_set *s, const struct stsrole_revoked_entry *add,
                    size_t n_add, size_t others, int64_t now, int64_t skew,
                    struct stsrole_revoke_outcome *out, struct stsrole_error *err)
{
    struct stsrole_revoked_set n;
    size_t i;
    int rc, ok;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < n_add; i++)
        if (!stsrole_userid_valid(add[i].userid))
            return stsrole_fail(err, STSROLE_E_INVALID, "not an aws:userid: '%.*s'", 130,
                                add[i].userid);
    stsrole_revoked_init(&n);
    if ((rc = stsrole_revoked_copy(&n, s, err)) != STSROLE_OK)
        return rc;
    for (i = 0; i < n_add; i++) {
        if (stsrole_revoked_covers(&n, add[i].issued, skew)) {
            out->covered++;
            continue;
        }
        if (add_entry(&n, add[i].userid, add[i].issued, add[i].expires, 1) != STSROLE_OK) {
            stsrole_revoked_free(&n);
            return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory adding a revocation");
        }
        out->added++;
    }
    if ((rc = fits(&n, others, &ok, err)) != STSROLE_OK)
        goto fail;
    if (!ok) {
        /* The documented fallback: AWS's "revoke older sessions". */
        out->fallback = 1;
        out->collapsed = collapse(&n, now, skew);
        if ((rc = fits(&n, others, &ok, err)) != STSROLE_OK)
            goto fail;
        if (!ok) {
            struct stsrole_policy_budget b;

            stsrole_revoked_budget(&n, others, &b, NULL);
            rc = stsrole_fail(err, STSROLE_E_INVALID,
                              "inline policy budget exhausted: %zu characters needed, %zu left "
                              "after the role's other inline policies (%zu)",
                              b.used + b.reserve, b.limit, others);
            goto fail;
        }
    }
    stsrole_revoked_free(s);
    *s = n;
    return STSROLE_OK;
fail:
    stsrole_revoked_free(&n);
    memset(out, 0, sizeof(*out));
    return rc;
}

size_t
stsrole_revoked_fold(struct stsrole_revoked_set *s, int64_t skew)
{
    size_t i, j, dropped = 0;

    for (i = 0, j = 0; i < s->n; i++) {
        if (stsrole_revoked_covers(s, s->v[i].issued, skew)) {
            dropped++;
            continue;
        }
        if (i != j)
            s->v[j] = s->v[i];
        j++;
    }
    s->n = j;
    return dropped;
}

int
stsrole_revoked_revoke_older(struct stsrole_revoked_set *s, int64_t now, int64_t skew,
                             size_t *collapsed, struct stsrole_error *err)
{
    (void)err;
    *collapsed = collapse(s, now, skew);
    return STSROLE_OK;
}
