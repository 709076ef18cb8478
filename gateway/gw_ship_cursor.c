/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_ship_cursor.c: the shipper's cursor (STATE_DIR/gateway/ship.json): what CloudWatch Logs holds.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cwlogs.h"
#include "gw.h"
#include "gw_ship_int.h"
#include "hash.h"
#include "safefile.h"

#define CURSOR_MAX (16 * 1024)

static cJSON *
pos_json(const struct pos *p)
{
    cJSON *o = cJSON_CreateObject();
    char num[24];

    if (o == NULL)
        return NULL;
    /* dev and ino as strings: 64-bit values a double cannot hold. */
    snprintf(num, sizeof(num), "%" PRIu64, p->dev);
    cJSON_AddStringToObject(o, "dev", num);
    snprintf(num, sizeof(num), "%" PRIu64, p->ino);
    cJSON_AddStringToObject(o, "ino", num);
    cJSON_AddNumberToObject(o, "end", (double)p->end);
    cJSON_AddNumberToObject(o, "len", (double)p->len);
    cJSON_AddNumberToObject(o, "seq", (double)p->seq);
    cJSON_AddStringToObject(o, "hash", p->hash);
    cJSON_AddNumberToObject(o, "ts", (double)p->sent_ts);
    return o;
}

static int
pos_parse(const cJSON *o, struct pos *p)
{
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(o, "dev");
    const cJSON *ino = cJSON_GetObjectItemCaseSensitive(o, "ino");
    const cJSON *end = cJSON_GetObjectItemCaseSensitive(o, "end");
    const cJSON *len = cJSON_GetObjectItemCaseSensitive(o, "len");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(o, "hash");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "ts");

    memset(p, 0, sizeof(*p));
    if (!cJSON_IsString(dev) || !cJSON_IsString(ino) || !cJSON_IsNumber(end) ||
        !cJSON_IsNumber(len) || !cJSON_IsNumber(seq) || !cJSON_IsString(hash) ||
        strlen(hash->valuestring) != 64 || !cJSON_IsNumber(ts))
        return -1;
    p->dev = strtoull(dev->valuestring, NULL, 10);
    p->ino = strtoull(ino->valuestring, NULL, 10);
    p->end = (int64_t)end->valuedouble;
    p->len = (int64_t)len->valuedouble;
    p->seq = (uint64_t)seq->valuedouble;
    memcpy(p->hash, hash->valuestring, 65);
    p->sent_ts = (int64_t)ts->valuedouble;
    return 0;
}

int
gw_ship_cursor_save(struct gw_ship *sh)
{
    struct stsrole_error err;
    cJSON *o, *p;
    char *text;
    int rc;

    if ((o = cJSON_CreateObject()) == NULL)
        return -1;
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "group", sh->group);
    cJSON_AddStringToObject(o, "stream", sh->stream);
    if (sh->have_at && (p = pos_json(&sh->at)) != NULL)
        cJSON_AddItemToObject(o, "at", p);
    else
        cJSON_AddNullToObject(o, "at");
    if (sh->have_pend && (p = pos_json(&sh->pend)) != NULL) {
        cJSON_AddNumberToObject(p, "since", (double)sh->pend_since);
        cJSON_AddItemToObject(o, "pending", p);
    } else {
        cJSON_AddNullToObject(o, "pending");
    }
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text == NULL)
        return -1;
    rc = stsrole_write_atomic(sh->cursor_path, text, strlen(text), 0600, &err);
    free(text);
    if (rc != STSROLE_OK) {
        gw_log(LOG_ERR, "audit shipping: %s", err.msg);
        return -1;
    }
    return 0;
}

void
gw_ship_cursor_load(struct gw_ship *sh)
{
    struct stsrole_buf text;
    struct stsrole_error err;
    const cJSON *group, *stream, *at, *pend, *since;
    cJSON *o;
    int rc;

    stsrole_buf_init(&text, 0);
    rc = stsrole_read_safely(sh->cursor_path, geteuid(), 0, CURSOR_MAX, &text, &err);
    if (rc == STSROLE_E_NOTFOUND)
        return;
    if (rc != STSROLE_OK) {
        gw_log(LOG_ERR, "audit shipping: %s; the stream's last event decides where to resume",
               err.msg);
        return;
    }
    o = cJSON_ParseWithLength(text.data, text.len);
    stsrole_buf_free(&text);
    group = cJSON_GetObjectItemCaseSensitive(o, "group");
    stream = cJSON_GetObjectItemCaseSensitive(o, "stream");
    if (!cJSON_IsString(group) || !cJSON_IsString(stream) ||
        strcmp(group->valuestring, sh->group) != 0 ||
        strcmp(stream->valuestring, sh->stream) != 0) {
        gw_log(LOG_NOTICE,
               "audit shipping: %s is for another stream (or unreadable); the "
               "stream's last event decides where to resume",
               sh->cursor_path);
        cJSON_Delete(o);
        return;
    }
    at = cJSON_GetObjectItemCaseSensitive(o, "at");
    pend = cJSON_GetObjectItemCaseSensitive(o, "pending");
    sh->have_at = cJSON_IsObject(at) && pos_parse(at, &sh->at) == 0;
    since = cJSON_GetObjectItemCaseSensitive(pend, "since");
    sh->have_pend =
        cJSON_IsObject(pend) && pos_parse(pend, &sh->pend) == 0 && cJSON_IsNumber(since);
    if (sh->have_pend)
        sh->pend_since = (int64_t)since->valuedouble;
    cJSON_Delete(o);
}
