/* SPDX-License-Identifier: BSD-3-Clause */
/* cwlogs.c: a minimal CloudWatch Logs client over stsrole_aws_json: streams, PutLogEvents, reads.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cwlogs.h"

/* CloudWatch Logs speaks AWS JSON 1.1 with targets "Logs_20140328.<Op>". */
#define LOGS_JSON_VERSION "1.1"
#define LOGS_TARGET "Logs_20140328."
#define NOT_FOUND "ResourceNotFoundException"
#define ALREADY_EXISTS "ResourceAlreadyExistsException"
#define NAME_MAX_LEN 512

/* CreateLogGroup: logGroupName matches [\.\-_/#A-Za-z0-9]+, 1-512. */
int
stsrole_logs_group_valid(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;

    return n >= 1 && n <= NAME_MAX_LEN &&
           strspn(name, ".-_/#ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == n;
}

/* CreateLogStream: logStreamName matches [^:*]*, 1-512. */
int
stsrole_logs_stream_valid(const char *name)
{
    size_t i, n = name != NULL ? strlen(name) : 0;

    if (n < 1 || n > NAME_MAX_LEN)
        return 0;
    for (i = 0; i < n; i++)
        if (name[i] == ':' || name[i] == '*' || (unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return 0;
    return 1;
}

int64_t
stsrole_logs_timestamp(int64_t ts_ms, int64_t prev_ms, int64_t now_ms)
{
    int64_t lo = now_ms - STSROLE_LOGS_MAX_AGE_MS + 3600 * 1000LL;
    int64_t hi = now_ms + 3600 * 1000LL;
    int64_t t = ts_ms;

    if (t < lo)
        t = lo;
    if (t > hi)
        t = hi;
    /* Chronological order within a batch is a hard rule; across batches
     * it keeps GetLogEvents' order the log's order. */
    if (t < prev_ms)
        t = prev_ms;
    return t;
}

size_t
stsrole_logs_event_size(const char *message)
{
    return strlen(message) + STSROLE_LOGS_EVENT_OVERHEAD;
}

static int
utf8_ok(const char *s, size_t n)
{
    uint32_t cp;
    size_t i = 0, k;

    while (i < n) {
        if ((k = stsrole_utf8_decode((const unsigned char *)s + i, n - i, &cp)) == 0)
            return 0;
        i += k;
    }
    return 1;
}

static int
names_ok(const char *group, const char *stream, struct stsrole_error *err)
{
    if (!stsrole_logs_group_valid(group))
        return stsrole_fail(err, STSROLE_E_INVALID, "not a log group name: '%.80s'",
                            group ? group : "");
    if (!stsrole_logs_stream_valid(stream))
        return stsrole_fail(err, STSROLE_E_INVALID, "not a log stream name: '%.80s'",
                            stream ? stream : "");
    return STSROLE_OK;
}

int
stsrole_logs_put_body(const char *group, const char *stream, const struct stsrole_log_event *ev,
                      size_t n, struct stsrole_buf *out, struct stsrole_error *err)
{
    cJSON *o, *arr, *e;
    size_t i, len, total = 0;
    int rc, bad;

    if ((rc = names_ok(group, stream, err)) != STSROLE_OK)
        return rc;
    if (ev == NULL || n == 0 || n > STSROLE_LOGS_MAX_EVENTS)
        return stsrole_fail(err, STSROLE_E_INVALID, "PutLogEvents takes 1 to %d events, not %zu",
                            STSROLE_LOGS_MAX_EVENTS, n);
    for (i = 0; i < n; i++) {
        if (ev[i].message == NULL)
            return stsrole_fail(err, STSROLE_E_INVALID, "event %zu has no message", i);
        len = strlen(ev[i].message);
        if (len > STSROLE_LOGS_MAX_MESSAGE)
            return stsrole_fail(err, STSROLE_E_INVALID,
                                "event %zu: %zu bytes, more than a log event may hold", i, len);
        if (!utf8_ok(ev[i].message, len))
            return stsrole_fail(err, STSROLE_E_INVALID, "event %zu is not valid UTF-8", i);
        total += len + STSROLE_LOGS_EVENT_OVERHEAD;
        if (i > 0 && ev[i].timestamp < ev[i - 1].timestamp)
            return stsrole_fail(err, STSROLE_E_INVALID, "event %zu is older than the one before",
                                i);
    }
    if (total > STSROLE_LOGS_MAX_BATCH_BYTES)
        return stsrole_fail(err, STSROLE_E_INVALID, "batch of %zu bytes, more than %d", total,
                            STSROLE_LOGS_MAX_BATCH_BYTES);
    if (ev[n - 1].timestamp - ev[0].timestamp > STSROLE_LOGS_MAX_SPAN_MS)
        return stsrole_fail(err, STSROLE_E_INVALID, "batch spans more than 24 hours");
    o = cJSON_CreateObject();
    bad = o == NULL || cJSON_AddStringToObject(o, "logGroupName", group) == NULL ||
          cJSON_AddStringToObject(o, "logStreamName", stream) == NULL ||
          (arr = cJSON_AddArrayToObject(o, "logEvents")) == NULL;
    for (i = 0; !bad && i < n; i++) {
        /* References: the messages are printed, never copied. */
        bad = (e = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(arr, e) ||
              cJSON_AddNumberToObject(e, "timestamp", (double)ev[i].timestamp) == NULL ||
              !cJSON_AddItemToObject(e, "message", cJSON_CreateStringReference(ev[i].message));
    }
    return stsrole_aws_json_body(o, bad, out, err);
}

static long long
index_of(const cJSON *info, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(info, name);

    return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (long long)v->valuedouble : -1;
}

int
stsrole_logs_parse_put(const char *body, size_t len, struct stsrole_logs_rejected *rej,
                       struct stsrole_error *err)
{
    const cJSON *info;
    cJSON *o;

    rej->too_new_start = rej->too_old_end = rej->expired_end = -1;
    if (body == NULL || len == 0)
        return STSROLE_OK; /* a 2xx without a body: nothing refused */
    o = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "PutLogEvents: the answer is not JSON");
    }
    info = cJSON_GetObjectItemCaseSensitive(o, "rejectedLogEventsInfo");
    rej->too_new_start = index_of(info, "tooNewLogEventStartIndex");
    rej->too_old_end = index_of(info, "tooOldLogEventEndIndex");
    rej->expired_end = index_of(info, "expiredLogEventEndIndex");
    cJSON_Delete(o);
    return STSROLE_OK;
}

/* One call; a ResourceNotFoundException becomes STSROLE_E_NOTFOUND. */
static int
call(struct stsrole_aws_client *c, const char *op, const char *body,
     struct stsrole_http_response *resp, struct stsrole_error *err)
{
    char target[64];
    int rc;

    snprintf(target, sizeof(target), LOGS_TARGET "%s", op);
    rc = stsrole_aws_json(c, LOGS_JSON_VERSION, target, body, resp, err);
    if (rc != STSROLE_OK && err != NULL && strcmp(err->aws_code, NOT_FOUND) == 0) {
        err->status = STSROLE_E_NOTFOUND;
        return STSROLE_E_NOTFOUND;
    }
    return rc;
}

int
stsrole_logs_put(struct stsrole_aws_client *c, const char *group, const char *stream,
                 const struct stsrole_log_event *ev, size_t n, struct stsrole_logs_rejected *rej,
                 struct stsrole_error *err)
{
    struct stsrole_http_response resp;
    struct stsrole_buf body;
    int rc;

    stsrole_buf_init(&body, 0);
    rc = stsrole_logs_put_body(group, stream, ev, n, &body, err);
    if (rc == STSROLE_OK)
        rc = call(c, "PutLogEvents", body.data, &resp, err);
    stsrole_buf_free(&body);
    if (rc != STSROLE_OK)
        return rc;
    rc = stsrole_logs_parse_put(resp.body.data, resp.body.len, rej, err);
    stsrole_http_response_free(&resp);
    return rc;
}

int
stsrole_logs_create_stream(struct stsrole_aws_client *c, const char *group, const char *stream,
                           int *created, struct stsrole_error *err)
{
    struct stsrole_http_response resp;
    struct stsrole_buf body;
    cJSON *o;
    int rc;

    *created = 0;
    if ((rc = names_ok(group, stream, err)) != STSROLE_OK)
        return rc;
    stsrole_buf_init(&body, 0);
    o = cJSON_CreateObject();
    rc = stsrole_aws_json_body(o,
                               o == NULL ||
                                   cJSON_AddStringToObject(o, "logGroupName", group) == NULL ||
                                   cJSON_AddStringToObject(o, "logStreamName", stream) == NULL,
                               &body, err);
    if (rc == STSROLE_OK)
        rc = call(c, "CreateLogStream", body.data, &resp, err);
    stsrole_buf_free(&body);
    if (rc == STSROLE_OK) {
        stsrole_http_response_free(&resp);
        *created = 1;
        return STSROLE_OK;
    }
    if (err != NULL && strcmp(err->aws_code, ALREADY_EXISTS) == 0) {
        stsrole_error_clear(err);
        return STSROLE_OK;
    }
    return rc;
}

int
stsrole_logs_get_body(const char *group, const char *stream, int from_head, int limit,
                      const char *token, struct stsrole_buf *out, struct stsrole_error *err)
{
    cJSON *o;
    int rc;

    if ((rc = names_ok(group, stream, err)) != STSROLE_OK)
        return rc;
    if (limit < 1 || limit > STSROLE_LOGS_MAX_EVENTS)
        return stsrole_fail(err, STSROLE_E_INVALID, "GetLogEvents limit %d out of 1-%d", limit,
                            STSROLE_LOGS_MAX_EVENTS);
    o = cJSON_CreateObject();
    return stsrole_aws_json_body(
        o,
        o == NULL || cJSON_AddStringToObject(o, "logGroupName", group) == NULL ||
            cJSON_AddStringToObject(o, "logStreamName", stream) == NULL ||
            cJSON_AddBoolToObject(o, "startFromHead", from_head != 0) == NULL ||
            cJSON_AddNumberToObject(o, "limit", limit) == NULL ||
            (token != NULL && cJSON_AddStringToObject(o, "nextToken", token) == NULL),
        out, err);
}

void
stsrole_logs_page_free(struct stsrole_logs_page *page)
{
    size_t i;

    if (page == NULL)
        return;
    for (i = 0; i < page->n; i++)
        free(page->ev[i].message);
    free(page->ev);
    free(page->forward);
    free(page->backward);
    memset(page, 0, sizeof(*page));
}

static char *
token_of(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

int
stsrole_logs_parse_events(const char *body, size_t len, struct stsrole_logs_page *page,
                          struct stsrole_error *err)
{
    const cJSON *arr, *it, *ts, *msg;
    cJSON *o;
    int count, rc = STSROLE_OK;

    memset(page, 0, sizeof(*page));
    o = body != NULL ? cJSON_ParseWithLength(body, len) : NULL;
    arr = cJSON_GetObjectItemCaseSensitive(o, "events");
    if (!cJSON_IsObject(o) || !cJSON_IsArray(arr)) {
        cJSON_Delete(o);
        return stsrole_fail(err, STSROLE_E_PROTOCOL,
                            "GetLogEvents: the answer has no events array");
    }
    count = cJSON_GetArraySize(arr);
    if (count > 0 && (page->ev = calloc((size_t)count, sizeof(*page->ev))) == NULL) {
        cJSON_Delete(o);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    cJSON_ArrayForEach(it, arr)
    {
        ts = cJSON_GetObjectItemCaseSensitive(it, "timestamp");
        msg = cJSON_GetObjectItemCaseSensitive(it, "message");
        if (!cJSON_IsNumber(ts) || !cJSON_IsString(msg)) {
            rc = stsrole_fail(err, STSROLE_E_PROTOCOL,
                              "GetLogEvents: an event without timestamp or message");
            break;
        }
        page->ev[page->n].timestamp = (int64_t)ts->valuedouble;
        if ((page->ev[page->n].message = strdup(msg->valuestring)) == NULL) {
            rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
            break;
        }
        page->n++;
    }
    if (rc == STSROLE_OK) {
        page->forward = token_of(o, "nextForwardToken");
        page->backward = token_of(o, "nextBackwardToken");
    }
    cJSON_Delete(o);
    if (rc != STSROLE_OK)
        stsrole_logs_page_free(page);
    return rc;
}

int
stsrole_logs_get_events(struct stsrole_aws_client *c, const char *group, const char *stream,
                        int from_head, int limit, const char *token, struct stsrole_logs_page *page,
                        struct stsrole_error *err)
{
    struct stsrole_http_response resp;
    struct stsrole_buf body;
    int rc;

    memset(page, 0, sizeof(*page));
    stsrole_buf_init(&body, 0);
    rc = stsrole_logs_get_body(group, stream, from_head, limit, token, &body, err);
    if (rc == STSROLE_OK)
        rc = call(c, "GetLogEvents", body.data, &resp, err);
    stsrole_buf_free(&body);
    if (rc != STSROLE_OK)
        return rc;
    rc = stsrole_logs_parse_events(resp.body.data, resp.body.len, page, err);
    stsrole_http_response_free(&resp);
    return rc;
}
