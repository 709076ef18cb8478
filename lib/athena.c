/* SPDX-License-Identifier: BSD-3-Clause */
/* athena.c: one Athena query run to its end through the JSON protocol, rows handed to a callback.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "athena.h"

#define ATHENA_JSON "1.1"
#define ATHENA_MAX_COLS 64
#define ATHENA_PAGE 1000 /* GetQueryResults' MaxResults ceiling */

int
stsrole_athena_start_body(const struct stsrole_athena_query *q, struct stsrole_buf *out,
                          struct stsrole_error *err)
{
    cJSON *o = cJSON_CreateObject(), *sub;
    int failed = 0;

    if (q == NULL || q->sql == NULL || *q->sql == '\0') {
        cJSON_Delete(o);
        return stsrole_fail(err, STSROLE_E_INVALID, "athena: no query");
    }
    failed |= cJSON_AddStringToObject(o, "QueryString", q->sql) == NULL;
    failed |=
        cJSON_AddStringToObject(o, "WorkGroup", q->workgroup ? q->workgroup : "primary") == NULL;
    if (q->database != NULL) {
        sub = cJSON_AddObjectToObject(o, "QueryExecutionContext");
        failed |= sub == NULL || cJSON_AddStringToObject(sub, "Database", q->database) == NULL;
    }
    if (q->output_location != NULL) {
        sub = cJSON_AddObjectToObject(o, "ResultConfiguration");
        failed |= sub == NULL ||
                  cJSON_AddStringToObject(sub, "OutputLocation", q->output_location) == NULL;
    }
    return stsrole_aws_json_body(o, failed, out, err);
}

int
stsrole_athena_id_body(const char *id, const char *next_token, struct stsrole_buf *out,
                       struct stsrole_error *err)
{
    cJSON *o = cJSON_CreateObject();
    int failed = 0;

    if (id == NULL || *id == '\0') {
        cJSON_Delete(o);
        return stsrole_fail(err, STSROLE_E_INVALID, "athena: no query execution id");
    }
    failed |= cJSON_AddStringToObject(o, "QueryExecutionId", id) == NULL;
    if (next_token != NULL && *next_token != '\0') {
        failed |= cJSON_AddStringToObject(o, "NextToken", next_token) == NULL;
        failed |= cJSON_AddNumberToObject(o, "MaxResults", ATHENA_PAGE) == NULL;
    }
    return stsrole_aws_json_body(o, failed, out, err);
}

static const cJSON *
get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

int
stsrole_athena_parse_state(const char *json, size_t len, int *done, struct stsrole_error *err)
{
    cJSON *doc = cJSON_ParseWithLength(json, len);
    const cJSON *st = get(get(get(doc, "QueryExecution"), "Status"), "State");
    const cJSON *why = get(get(get(doc, "QueryExecution"), "Status"), "StateChangeReason");
    int rc = STSROLE_OK;

    *done = 0;
    if (!cJSON_IsString(st))
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "athena: GetQueryExecution without a state");
    else if (strcmp(st->valuestring, "SUCCEEDED") == 0)
        *done = 1;
    else if (strcmp(st->valuestring, "FAILED") == 0 || strcmp(st->valuestring, "CANCELLED") == 0)
        rc = stsrole_fail(err, STSROLE_E_REJECTED, "athena: query %s: %.300s", st->valuestring,
                          cJSON_IsString(why) ? why->valuestring : "no reason given");
    else if (strcmp(st->valuestring, "QUEUED") != 0 && strcmp(st->valuestring, "RUNNING") != 0)
        rc =
            stsrole_fail(err, STSROLE_E_PROTOCOL, "athena: unknown state '%.40s'", st->valuestring);
    cJSON_Delete(doc);
    return rc;
}

int
stsrole_athena_parse_rows(const char *json, size_t len, int skip_header,
                          int (*fn)(void *ctx, const char *const *cells, size_t n,
                                    struct stsrole_error *err),
                          void *ctx, struct stsrole_buf *next, struct stsrole_error *err)
{
    cJSON *doc = cJSON_ParseWithLength(json, len);
    const cJSON *rows = get(get(doc, "ResultSet"), "Rows"), *row, *nt = get(doc, "NextToken");
    const char *cells[ATHENA_MAX_COLS];
    int rc = STSROLE_OK, first = 1;

    stsrole_buf_reset(next);
    if (!cJSON_IsArray(rows)) {
        cJSON_Delete(doc);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "athena: GetQueryResults without rows");
    }
    cJSON_ArrayForEach(row, rows)
    {
        const cJSON *data = get(row, "Data"), *cell;
        size_t n = 0;

        if (first && skip_header) {
            first = 0;
            continue;
        }
        first = 0;
        if (!cJSON_IsArray(data)) {
            rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "athena: a row without Data");
            break;
        }
        cJSON_ArrayForEach(cell, data)
        {
            const cJSON *v = get(cell, "VarCharValue");
            if (n == ATHENA_MAX_COLS)
                break;
            cells[n++] = cJSON_IsString(v) ? v->valuestring : NULL;
        }
        if ((rc = fn(ctx, cells, n, err)) != STSROLE_OK)
            break;
    }
    if (rc == STSROLE_OK && cJSON_IsString(nt) &&
        stsrole_buf_puts(next, nt->valuestring) != STSROLE_OK)
        rc = stsrole_fail(err, STSROLE_E_NOMEM, "athena: out of memory");
    cJSON_Delete(doc);
    return rc;
}

static int
call(struct stsrole_aws_client *c, const char *op, const char *body,
     struct stsrole_http_response *resp, struct stsrole_error *err)
{
    char target[64];

    snprintf(target, sizeof(target), "AmazonAthena.%s", op);
    return stsrole_aws_json(c, ATHENA_JSON, target, body, resp, err);
}

int
stsrole_athena_run(struct stsrole_aws_client *c, const struct stsrole_athena_query *q,
                   int (*fn)(void *ctx, const char *const *cells, size_t n,
                             struct stsrole_error *err),
                   void *ctx, struct stsrole_error *err)
{
    struct stsrole_http_response resp;
    struct stsrole_buf body, next;
    char id[128] = "";
    int rc, done = 0, page = 0, poll = q->poll_ms > 0 ? q->poll_ms : 1000;
    long waited = 0, max_wait = (long)(q->max_wait_s > 0 ? q->max_wait_s : 600) * 1000;

    if (c->service == NULL || strcmp(c->service, "athena") != 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "athena: the client is not for athena");
    stsrole_buf_init(&body, 0);
    stsrole_buf_init(&next, 0);
    rc = stsrole_athena_start_body(q, &body, err);
    if (rc == STSROLE_OK)
        rc = call(c, "StartQueryExecution", body.data, &resp, err);
    if (rc == STSROLE_OK) {
        cJSON *doc = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "", resp.body.len);
        const cJSON *v = get(doc, "QueryExecutionId");
        if (cJSON_IsString(v) && strlen(v->valuestring) < sizeof(id) &&
            strspn(v->valuestring, "0123456789abcdefABCDEF-") == strlen(v->valuestring))
            memcpy(id, v->valuestring, strlen(v->valuestring) + 1);
        else
            rc = stsrole_fail(err, STSROLE_E_PROTOCOL,
                              "athena: StartQueryExecution without a valid QueryExecutionId");
        cJSON_Delete(doc);
        stsrole_http_response_free(&resp);
    }
    while (rc == STSROLE_OK && !done) {
        rc = stsrole_athena_id_body(id, NULL, &body, err);
        if (rc == STSROLE_OK)
            rc = call(c, "GetQueryExecution", body.data, &resp, err);
        if (rc != STSROLE_OK)
            break;
        rc = stsrole_athena_parse_state(resp.body.data ? resp.body.data : "", resp.body.len, &done,
                                        err);
        stsrole_http_response_free(&resp);
        if (rc == STSROLE_OK && !done) {
            if (waited >= max_wait) {
                rc =
                    stsrole_fail(err, STSROLE_E_NETWORK,
                                 "athena: query %s still running after %ld s", id, max_wait / 1000);
                break;
            }
            stsrole_aws_sleep(c, poll);
            waited += poll;
        }
    }
    while (rc == STSROLE_OK) {
        rc = stsrole_athena_id_body(id, next.len ? next.data : NULL, &body, err);
        if (rc == STSROLE_OK)
            rc = call(c, "GetQueryResults", body.data, &resp, err);
        if (rc != STSROLE_OK)
            break;
        rc = stsrole_athena_parse_rows(resp.body.data ? resp.body.data : "", resp.body.len,
                                       page++ == 0, fn, ctx, &next, err);
        stsrole_http_response_free(&resp);
        if (next.len == 0)
            break;
    }
    stsrole_buf_free(&body);
    stsrole_buf_free(&next);
    return rc;
}
