/* SPDX-License-Identifier: BSD-3-Clause */
/* registry.c: the fleet session registry: one DynamoDB item per SSH session, put, listed, deleted.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "registry.h"
#include "session.h"

#define PK_USER "user#"
#define SK_SESSION "session#"

/* {"pk": {"S": "user#USER"}, "sk": {"S": "session#ID"}} */
static cJSON *
registry_key(const char *user, const char *session_id)
{
    char *pk = malloc(strlen(PK_USER) + strlen(user) + 1);
    char sk[sizeof(SK_SESSION) + 33];
    cJSON *k = cJSON_CreateObject(), *a, *b;

    if (pk == NULL || k == NULL) {
        free(pk);
        cJSON_Delete(k);
        return NULL;
    }
    strcpy(pk, PK_USER);
    strcat(pk, user);
    snprintf(sk, sizeof(sk), SK_SESSION "%s", session_id);
    a = stsrole_ddb_s(pk);
    b = stsrole_ddb_s(sk);
    free(pk);
    if (a == NULL || !cJSON_AddItemToObject(k, "pk", a)) {
        cJSON_Delete(a);
        cJSON_Delete(b);
        cJSON_Delete(k);
        return NULL;
    }
    if (b == NULL || !cJSON_AddItemToObject(k, "sk", b)) {
        cJSON_Delete(b);
        cJSON_Delete(k);
        return NULL;
    }
    return k;
}

static int
put_attr(cJSON *item, const char *name, cJSON *v)
{
    if (v == NULL)
        return -1;
    if (!cJSON_AddItemToObject(item, name, v)) {
        cJSON_Delete(v);
        return -1;
    }
    return 0;
}

static int
put_s(cJSON *item, const char *name, const char *v)
{
    if (v == NULL)
        return 0;
    return put_attr(item, name, stsrole_ddb_s(v));
}

int
stsrole_registry_item(const struct stsrole_registry_entry *e, cJSON **item,
                      struct stsrole_error *err)
{
    cJSON *it;
    int bad;

    *item = NULL;
    if (e == NULL || !stsrole_session_id_valid(e->session_id))
        return stsrole_fail(err, STSROLE_E_INVALID, "registry: malformed session id");
    if (e->sid[0] != '\0' && !stsrole_sid_valid(e->sid))
        return stsrole_fail(err, STSROLE_E_INVALID, "registry: malformed sid");
    if (e->user == NULL || e->user[0] == '\0' || e->bastion_id == NULL || e->role_name == NULL ||
        e->role_arn == NULL || e->assumed_role_id == NULL || e->session_name == NULL ||
        e->access_key_id == NULL || e->expiration <= 0 || e->opened <= 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "registry: the session %s lacks a field",
                            e->session_id);
    it = registry_key(e->user, e->session_id);
    if (it == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    bad = put_s(it, "kind", "session") != 0 ||
          put_attr(it, "v", stsrole_ddb_n(STSROLE_REGISTRY_VERSION)) != 0 ||
          put_s(it, "session_id", e->session_id) != 0 ||
          put_s(it, "bastion_id", e->bastion_id) != 0 || put_s(it, "user", e->user) != 0 ||
          put_s(it, "role_name", e->role_name) != 0 || put_s(it, "role_arn", e->role_arn) != 0 ||
          put_s(it, "revoker_arn", e->revoker_arn) != 0 ||
          put_s(it, "assumed_role_id", e->assumed_role_id) != 0 ||
          put_s(it, "session_name", e->session_name) != 0 ||
          put_s(it, "access_key_id", e->access_key_id) != 0 ||
          put_s(it, "rhost", e->rhost != NULL && e->rhost[0] != '\0' ? e->rhost : NULL) != 0 ||
          put_attr(it, "expiration", stsrole_ddb_n(e->expiration)) != 0 ||
          put_attr(it, "opened", stsrole_ddb_n(e->opened)) != 0 ||
          put_attr(it, "ttl",
                   stsrole_ddb_n(e->ttl > 0 ? e->ttl
                                            : e->expiration + STSROLE_REGISTRY_TTL_MARGIN)) != 0 ||
          put_s(it, "sid", e->sid[0] != '\0' ? e->sid : NULL) != 0 ||
          (e->refresh && put_attr(it, "refresh", stsrole_ddb_n(1)) != 0);
    if (bad) {
        cJSON_Delete(it);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    *item = it;
    return STSROLE_OK;
}

void
stsrole_registry_entry_free(struct stsrole_registry_entry *e)
{
    if (e == NULL)
        return;
    free(e->bastion_id);
    free(e->user);
    free(e->role_name);
    free(e->role_arn);
    free(e->revoker_arn);
    free(e->assumed_role_id);
    free(e->session_name);
    free(e->access_key_id);
    free(e->rhost);
    memset(e, 0, sizeof(*e));
}

static int
dup_attr(const cJSON *item, const char *name, int required, char **slot)
{
    const char *v = stsrole_ddb_item_s(item, name);

    if (v == NULL || v[0] == '\0')
        return required ? -1 : 0;
    *slot = strdup(v);
    return *slot != NULL ? 0 : -2;
}

int
stsrole_registry_parse(const cJSON *item, struct stsrole_registry_entry *e,
                       struct stsrole_error *err)
{
    const char *kind = stsrole_ddb_item_s(item, "kind"), *sid, *tag;
    const char *pk = stsrole_ddb_item_s(item, "pk"), *sk = stsrole_ddb_item_s(item, "sk");
    int64_t version = 0, refresh = 0;
    int r = 0;

    memset(e, 0, sizeof(*e));
    if (kind == NULL || strcmp(kind, "session") != 0 || stsrole_ddb_item_n(item, "v", &version) ||
        version != STSROLE_REGISTRY_VERSION)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "registry: not a version-%d session item",
                            STSROLE_REGISTRY_VERSION);
    sid = stsrole_ddb_item_s(item, "session_id");
    if (sid == NULL || !stsrole_session_id_valid(sid))
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "registry: malformed session_id");
    memcpy(e->session_id, sid, sizeof(e->session_id));
    r |= dup_attr(item, "bastion_id", 1, &e->bastion_id);
    r |= dup_attr(item, "user", 1, &e->user);
    r |= dup_attr(item, "role_name", 1, &e->role_name);
    r |= dup_attr(item, "role_arn", 1, &e->role_arn);
    r |= dup_attr(item, "revoker_arn", 0, &e->revoker_arn);
    r |= dup_attr(item, "assumed_role_id", 1, &e->assumed_role_id);
    r |= dup_attr(item, "session_name", 1, &e->session_name);
    r |= dup_attr(item, "access_key_id", 1, &e->access_key_id);
    r |= dup_attr(item, "rhost", 0, &e->rhost);
    tag = stsrole_ddb_item_s(item, "sid");
    if (tag != NULL && (strlen(tag) > STSROLE_SID_LEN || !stsrole_sid_valid(tag)))
        r = -1;
    else if (tag != NULL)
        memcpy(e->sid, tag, strlen(tag) + 1);
    if (stsrole_ddb_item_n(item, "refresh", &refresh) == 0)
        e->refresh = refresh == 1;
    if (r == 0 && (stsrole_ddb_item_n(item, "expiration", &e->expiration) != 0 ||
                   stsrole_ddb_item_n(item, "opened", &e->opened) != 0 ||
                   stsrole_ddb_item_n(item, "ttl", &e->ttl) != 0))
        r = -1;
    /* The key must agree with the attributes: a reader acts on the
     * attributes and deletes by the key. */
    if (r == 0 && (pk == NULL || sk == NULL || strncmp(pk, PK_USER, strlen(PK_USER)) != 0 ||
                   strcmp(pk + strlen(PK_USER), e->user) != 0 ||
                   strncmp(sk, SK_SESSION, strlen(SK_SESSION)) != 0 ||
                   strcmp(sk + strlen(SK_SESSION), e->session_id) != 0))
        r = -1;
    if (r != 0) {
        stsrole_registry_entry_free(e);
        if (r == -2)
            return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
        return stsrole_fail(err, STSROLE_E_PROTOCOL,
                            "registry: session item %s lacks an attribute or has the wrong key",
                            sid);
    }
    return STSROLE_OK;
}

int
stsrole_registry_put(struct stsrole_aws_client *c, const char *table,
                     const struct stsrole_registry_entry *e, struct stsrole_error *err)
{
    struct stsrole_ddb_write w;
    enum stsrole_ddb_outcome outcome;
    cJSON *item = NULL;
    unsigned char raw[16];
    char nonce[33];
    int rc;

    rc = stsrole_registry_item(e, &item, err);
    if (rc != STSROLE_OK)
        return rc;
    /* The nonce makes the conditional write safe to retry: after a lost
     * answer the retry fails its condition on our own item, and the
     * read-back recognises it (stsrole_ddb_put_item_once). */
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        cJSON_Delete(item);
        return stsrole_fail(err, STSROLE_E_IO, "no randomness for the registry nonce");
    }
    stsrole_hex(raw, sizeof(raw), nonce);
    if (!cJSON_AddItemToObject(item, "nonce", stsrole_ddb_s(nonce))) {
        cJSON_Delete(item);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    memset(&w, 0, sizeof(w));
    w.table = table;
    w.item = item;
    w.condition = "attribute_not_exists(pk)";
    rc = stsrole_ddb_put_item_once(c, &w, "nonce", &outcome, err);
    cJSON_Delete(item);
    if (rc == STSROLE_OK && outcome == STSROLE_DDB_CONDITION_FAILED)
        return stsrole_fail(err, STSROLE_E_INVALID, "registry: session %s is already registered",
                            e->session_id);
    return rc;
}

int
stsrole_registry_refresh(struct stsrole_aws_client *c, const char *table, const char *user,
                         const char *session_id, int64_t expiration, struct stsrole_error *err)
{
    struct stsrole_ddb_write w;
    enum stsrole_ddb_outcome outcome;
    cJSON *key, *names = NULL, *values = NULL;
    int rc = STSROLE_E_NOMEM;

    if (user == NULL || user[0] == '\0' || !stsrole_session_id_valid(session_id) || expiration <= 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "registry: refresh needs a session");
    key = registry_key(user, session_id);
    /* "ttl" is a DynamoDB reserved word: both go through names. */
    if (key == NULL || (names = cJSON_CreateObject()) == NULL ||
        (values = cJSON_CreateObject()) == NULL ||
        cJSON_AddStringToObject(names, "#e", "expiration") == NULL ||
        cJSON_AddStringToObject(names, "#t", "ttl") == NULL ||
        put_attr(values, ":e", stsrole_ddb_n(expiration)) != 0 ||
        put_attr(values, ":t", stsrole_ddb_n(expiration + STSROLE_REGISTRY_TTL_MARGIN)) != 0)
        goto out;
    memset(&w, 0, sizeof(w));
    w.table = table;
    w.item = key;
    w.update = "SET #e = :e, #t = :t";
    w.condition = "attribute_exists(pk)";
    w.names = names;
    w.values = values;
    rc = stsrole_ddb_update_item(c, &w, &outcome, err);
    if (rc == STSROLE_OK && outcome == STSROLE_DDB_CONDITION_FAILED)
        rc = stsrole_fail(err, STSROLE_E_NOTFOUND, "registry: the item of session %s is gone",
                          session_id);
out:
    cJSON_Delete(key);
    cJSON_Delete(names);
    cJSON_Delete(values);
    if (rc == STSROLE_E_NOMEM)
        return stsrole_fail(err, rc, "out of memory");
    return rc;
}

int
stsrole_registry_delete(struct stsrole_aws_client *c, const char *table, const char *user,
                        const char *session_id, struct stsrole_error *err)
{
    struct stsrole_ddb_write w;
    enum stsrole_ddb_outcome outcome;
    cJSON *key;
    int rc;

    if (user == NULL || user[0] == '\0' || !stsrole_session_id_valid(session_id))
        return stsrole_fail(err, STSROLE_E_INVALID, "registry: delete needs a user and session id");
    key = registry_key(user, session_id);
    if (key == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    memset(&w, 0, sizeof(w));
    w.table = table;
    w.item = key;
    rc = stsrole_ddb_delete_item(c, &w, &outcome, err);
    cJSON_Delete(key);
    return rc;
}

void
stsrole_registry_list_free(struct stsrole_registry_entry *list, size_t n)
{
    size_t i;

    for (i = 0; list != NULL && i < n; i++)
        stsrole_registry_entry_free(&list[i]);
    free(list);
}

/* Appends the live, well-formed session items of one page. */
static int
collect(const cJSON *page, int64_t now, struct stsrole_registry_entry **list, size_t *n,
        size_t *cap, size_t *skipped, struct stsrole_error *err)
{
    const cJSON *it;
    struct stsrole_registry_entry e;
    struct stsrole_error perr;

    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(page, "Items"))
    {
        const char *sk = stsrole_ddb_item_s(it, "sk");

        if (sk == NULL || strncmp(sk, SK_SESSION, strlen(SK_SESSION)) != 0)
            continue; /* a replay item of a shared table */
        if (stsrole_registry_parse(it, &e, &perr) != STSROLE_OK) {
            if (perr.status == STSROLE_E_NOMEM)
                return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
            (*skipped)++;
            continue;
        }
        if (e.ttl <= now) {
            stsrole_registry_entry_free(&e);
            continue;
        }
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 16;
            struct stsrole_registry_entry *nl = realloc(*list, ncap * sizeof(*nl));
            if (nl == NULL) {
                stsrole_registry_entry_free(&e);
                return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
            }
            *list = nl;
            *cap = ncap;
        }
        (*list)[(*n)++] = e;
    }
    return STSROLE_OK;
}

int
stsrole_registry_list(struct stsrole_aws_client *c, const char *table, const char *user,
                      int64_t now, struct stsrole_registry_entry **out, size_t *n, size_t *skipped,
                      struct stsrole_error *err)
{
    struct stsrole_ddb_read r;
    struct stsrole_registry_entry *list = NULL;
    size_t count = 0, cap = 0, skip = 0;
    cJSON *names, *values, *page = NULL, *start = NULL;
    char *pk = NULL;
    int rc = STSROLE_OK, pages;

    *out = NULL;
    *n = 0;
    names = cJSON_CreateObject();
    values = cJSON_CreateObject();
    if (user != NULL) {
        pk = malloc(strlen(PK_USER) + strlen(user) + 1);
        if (pk != NULL)
            sprintf(pk, PK_USER "%s", user);
    }
    if (names == NULL || values == NULL || (user != NULL && pk == NULL) ||
        cJSON_AddStringToObject(names, "#sk", "sk") == NULL ||
        put_attr(values, ":s", stsrole_ddb_s(SK_SESSION)) != 0 ||
        (pk != NULL && (cJSON_AddStringToObject(names, "#pk", "pk") == NULL ||
                        put_attr(values, ":p", stsrole_ddb_s(pk)) != 0)))
        rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    memset(&r, 0, sizeof(r));
    r.table = table;
    if (user != NULL)
        r.key_condition = "#pk = :p AND begins_with(#sk, :s)";
    else
        r.filter = "begins_with(#sk, :s)";
    r.names = names;
    r.values = values;
    r.limit = STSROLE_REGISTRY_PAGE;
    /* Revocation acts on what this returns: read what was just written. */
    r.consistent = 1;
    for (pages = 0; rc == STSROLE_OK; pages++) {
        if (pages == STSROLE_REGISTRY_MAX_PAGES) {
            rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "registry: more than %d pages",
                              STSROLE_REGISTRY_MAX_PAGES);
            break;
        }
        r.start_key = start;
        rc = stsrole_ddb_read_page(c, &r, &page, err);
        cJSON_Delete(start);
        start = NULL;
        if (rc != STSROLE_OK)
            break;
        rc = collect(page, now, &list, &count, &cap, &skip, err);
        start = cJSON_DetachItemFromObjectCaseSensitive(page, "LastEvaluatedKey");
        cJSON_Delete(page);
        if (start == NULL)
            break;
    }
    cJSON_Delete(start);
    cJSON_Delete(names);
    cJSON_Delete(values);
    free(pk);
    if (rc != STSROLE_OK) {
        stsrole_registry_list_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    if (skipped != NULL)
        *skipped = skip;
    return STSROLE_OK;
}
