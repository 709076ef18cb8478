/* SPDX-License-Identifier: BSD-3-Clause */
/* ddb.c: a minimal DynamoDB client over stsrole_aws_json. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ddb.h"

/* DynamoDB speaks AWS JSON 1.0 with targets "DynamoDB_20120810.<Op>". */
#define DDB_JSON_VERSION "1.0"
#define DDB_TARGET "DynamoDB_20120810."
#define CONDITION_FAILED "ConditionalCheckFailedException"

/* ---- attribute values ------------------------------------------------- */

cJSON *
stsrole_ddb_s(const char *v)
{
    cJSON *o = cJSON_CreateObject();

    if (o != NULL && (v == NULL || cJSON_AddStringToObject(o, "S", v) == NULL)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *
stsrole_ddb_n(int64_t v)
{
    char num[24];
    cJSON *o = cJSON_CreateObject();

    /* DynamoDB numbers travel as strings: exact, whatever their size. */
    snprintf(num, sizeof(num), "%" PRId64, v);
    if (o != NULL && cJSON_AddStringToObject(o, "N", num) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

const char *
stsrole_ddb_item_s(const cJSON *item, const char *name)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(a, "S");

    return cJSON_IsString(s) ? s->valuestring : NULL;
}

int
stsrole_ddb_item_n(const cJSON *item, const char *name, int64_t *out)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(a, "N");
    long long v;
    char *end;

    if (!cJSON_IsString(n) || n->valuestring[0] == '\0')
        return -1;
    errno = 0;
    v = strtoll(n->valuestring, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* Adds a member only when there is something to add; 0 on success. */
static int
add_copy(cJSON *o, const char *name, const cJSON *v)
{
    cJSON *dup;

    if (v == NULL)
        return 0;
    dup = cJSON_Duplicate(v, 1);
    if (dup == NULL)
        return -1;
    if (!cJSON_AddItemToObject(o, name, dup)) {
        cJSON_Delete(dup);
        return -1;
    }
    return 0;
}

static int
add_str(cJSON *o, const char *name, const char *v)
{
    if (v == NULL)
        return 0;
    return cJSON_AddStringToObject(o, name, v) != NULL ? 0 : -1;
}

/* ---- requests ---------------------------------------------------------- */

int
stsrole_ddb_write_body(const struct stsrole_ddb_write *w, const char *op, struct stsrole_buf *out,
                       struct stsrole_error *err)
{
    int put = op != NULL && strcmp(op, "PutItem") == 0;
    int update = op != NULL && strcmp(op, "UpdateItem") == 0;
    cJSON *o;
    int bad;

    if (w == NULL || w->table == NULL || w->table[0] == '\0' || !cJSON_IsObject(w->item))
        return stsrole_fail(err, STSROLE_E_INVALID, "DynamoDB write without a table or item");
    if (!put && !update && (op == NULL || strcmp(op, "DeleteItem") != 0))
        return stsrole_fail(err, STSROLE_E_INVALID, "not a DynamoDB write: %s", op ? op : "-");
    if (update != (w->update != NULL))
        return stsrole_fail(err, STSROLE_E_INVALID, "an update expression is for UpdateItem only");
    o = cJSON_CreateObject();
    bad = o == NULL || add_str(o, "TableName", w->table) != 0 ||
          add_copy(o, put ? "Item" : "Key", w->item) != 0 ||
          add_str(o, "UpdateExpression", w->update) != 0 ||
          add_str(o, "ConditionExpression", w->condition) != 0 ||
          add_copy(o, "ExpressionAttributeNames", w->names) != 0 ||
          add_copy(o, "ExpressionAttributeValues", w->values) != 0;
    return stsrole_aws_json_body(o, bad, out, err);
}

int
stsrole_ddb_read_body(const struct stsrole_ddb_read *r, struct stsrole_buf *out,
                      struct stsrole_error *err)
{
    cJSON *o;
    int bad;

    if (r == NULL || r->table == NULL || r->table[0] == '\0')
        return stsrole_fail(err, STSROLE_E_INVALID, "DynamoDB read without a table");
    o = cJSON_CreateObject();
    bad = o == NULL || add_str(o, "TableName", r->table) != 0 ||
          add_str(o, "KeyConditionExpression", r->key_condition) != 0 ||
          add_str(o, "FilterExpression", r->filter) != 0 ||
          add_copy(o, "ExpressionAttributeNames", r->names) != 0 ||
          add_copy(o, "ExpressionAttributeValues", r->values) != 0 ||
          add_copy(o, "ExclusiveStartKey", r->start_key) != 0 ||
          (r->limit > 0 && cJSON_AddNumberToObject(o, "Limit", r->limit) == NULL) ||
          (r->consistent && cJSON_AddTrueToObject(o, "ConsistentRead") == NULL);
    return stsrole_aws_json_body(o, bad, out, err);
}

int
stsrole_ddb_write_outcome(int status, struct stsrole_error *err, enum stsrole_ddb_outcome *outcome)
{
    *outcome = STSROLE_DDB_WRITTEN;
    if (status == STSROLE_OK)
        return STSROLE_OK;
    /* By code, not by class: the class of a 400 says "rejected", which
     * would read as a malformed request. */
    if (err != NULL && strcmp(err->aws_code, CONDITION_FAILED) == 0) {
        *outcome = STSROLE_DDB_CONDITION_FAILED;
        stsrole_error_clear(err);
        return STSROLE_OK;
    }
    return status;
}

static int
call(struct stsrole_aws_client *c, const char *op, const struct stsrole_buf *body,
     struct stsrole_http_response *resp, struct stsrole_error *err)
{
    char target[64];

    snprintf(target, sizeof(target), DDB_TARGET "%s", op);
    return stsrole_aws_json(c, DDB_JSON_VERSION, target, body->data, resp, err);
}

static int
write_item(struct stsrole_aws_client *c, const struct stsrole_ddb_write *w, const char *op,
           enum stsrole_ddb_outcome *outcome, struct stsrole_error *err)
{
    struct stsrole_http_response resp;
    struct stsrole_buf body;
    int rc;

    *outcome = STSROLE_DDB_WRITTEN;
    stsrole_buf_init(&body, 0);
    rc = stsrole_ddb_write_body(w, op, &body, err);
    if (rc == STSROLE_OK) {
        rc = call(c, op, &body, &resp, err);
        if (rc == STSROLE_OK)
            stsrole_http_response_free(&resp);
        rc = stsrole_ddb_write_outcome(rc, err, outcome);
    }
    stsrole_buf_free(&body);
    return rc;
}

int
stsrole_ddb_put_item(struct stsrole_aws_client *c, const struct stsrole_ddb_write *w,
                     enum stsrole_ddb_outcome *outcome, struct stsrole_error *err)
{
    return write_item(c, w, "PutItem", outcome, err);
}

int
stsrole_ddb_put_item_once(struct stsrole_aws_client *c, const struct stsrole_ddb_write *w,
                          const char *nonce_attr, enum stsrole_ddb_outcome *outcome,
                          struct stsrole_error *err)
{
    const char *nonce = stsrole_ddb_item_s(w->item, nonce_attr), *have;
    cJSON *key, *found = NULL;
    struct stsrole_error e2;
    int rc;

    if (nonce == NULL || nonce[0] == '\0' || w->condition == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID,
                            "a retry-safe PutItem needs a condition and "
                            "a nonce attribute");
    rc = stsrole_ddb_put_item(c, w, outcome, err);
    if (rc != STSROLE_OK || *outcome != STSROLE_DDB_CONDITION_FAILED)
        return rc;
    key = cJSON_CreateObject();
    if (key == NULL ||
        !cJSON_AddItemToObject(
            key, "pk", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(w->item, "pk"), 1)) ||
        !cJSON_AddItemToObject(
            key, "sk", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(w->item, "sk"), 1))) {
        cJSON_Delete(key);
        return STSROLE_OK; /* unknown: not ours */
    }
    if (stsrole_ddb_get_item(c, w->table, key, 1, &found, &e2) == STSROLE_OK) {
        have = stsrole_ddb_item_s(found, nonce_attr);
        if (have != NULL && strcmp(have, nonce) == 0)
            *outcome = STSROLE_DDB_WRITTEN; /* our earlier attempt landed */
        cJSON_Delete(found);
    }
    cJSON_Delete(key);
    return STSROLE_OK;
}

int
stsrole_ddb_delete_item(struct stsrole_aws_client *c, const struct stsrole_ddb_write *w,
                        enum stsrole_ddb_outcome *outcome, struct stsrole_error *err)
{
    return write_item(c, w, "DeleteItem", outcome, err);
}

int
stsrole_ddb_update_item(struct stsrole_aws_client *c, const struct stsrole_ddb_write *w,
                        enum stsrole_ddb_outcome *outcome, struct stsrole_error *err)
{
    return write_item(c, w, "UpdateItem", outcome, err);
}

/* The answer of a read as a JSON object, or STSROLE_E_PROTOCOL. */
static int
parse_answer(const struct stsrole_http_response *resp, const char *op, cJSON **out,
             struct stsrole_error *err)
{
    cJSON *doc = NULL;

    if (resp->body.data != NULL)
        doc = cJSON_ParseWithLength(resp->body.data, resp->body.len);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "DynamoDB %s: the answer is not a JSON object",
                            op);
    }
    *out = doc;
    return STSROLE_OK;
}

int
stsrole_ddb_get_item(struct stsrole_aws_client *c, const char *table, const cJSON *key,
                     int consistent, cJSON **item, struct stsrole_error *err)
{
    struct stsrole_http_response resp;
    struct stsrole_buf body;
    cJSON *o, *doc = NULL, *it;
    int rc, bad;

    *item = NULL;
    if (table == NULL || !cJSON_IsObject(key))
        return stsrole_fail(err, STSROLE_E_INVALID, "GetItem without a table or key");
    o = cJSON_CreateObject();
    bad = o == NULL || add_str(o, "TableName", table) != 0 || add_copy(o, "Key", key) != 0 ||
          (consistent && cJSON_AddTrueToObject(o, "ConsistentRead") == NULL);
    stsrole_buf_init(&body, 0);
    rc = stsrole_aws_json_body(o, bad, &body, err);
    if (rc == STSROLE_OK)
        rc = call(c, "GetItem", &body, &resp, err);
    stsrole_buf_free(&body);
    if (rc != STSROLE_OK)
        return rc;
    rc = parse_answer(&resp, "GetItem", &doc, err);
    stsrole_http_response_free(&resp);
    if (rc != STSROLE_OK)
        return rc;
    it = cJSON_DetachItemFromObjectCaseSensitive(doc, "Item");
    cJSON_Delete(doc);
    if (it != NULL && !cJSON_IsObject(it)) {
        cJSON_Delete(it);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "DynamoDB GetItem: Item is not an object");
    }
    *item = it;
    return STSROLE_OK;
}

int
stsrole_ddb_read_page(struct stsrole_aws_client *c, const struct stsrole_ddb_read *r, cJSON **page,
                      struct stsrole_error *err)
{
    struct stsrole_http_response resp;
    struct stsrole_buf body;
    const char *op = r != NULL && r->key_condition != NULL ? "Query" : "Scan";
    cJSON *doc = NULL;
    const cJSON *last;
    int rc;

    *page = NULL;
    stsrole_buf_init(&body, 0);
    rc = stsrole_ddb_read_body(r, &body, err);
    if (rc == STSROLE_OK)
        rc = call(c, op, &body, &resp, err);
    stsrole_buf_free(&body);
    if (rc != STSROLE_OK)
        return rc;
    rc = parse_answer(&resp, op, &doc, err);
    stsrole_http_response_free(&resp);
    if (rc != STSROLE_OK)
        return rc;
    last = cJSON_GetObjectItemCaseSensitive(doc, "LastEvaluatedKey");
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "Items")) ||
        (last != NULL && !cJSON_IsObject(last))) {
        cJSON_Delete(doc);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "DynamoDB %s: no Items array", op);
    }
    *page = doc;
    return STSROLE_OK;
}
