/* SPDX-License-Identifier: BSD-3-Clause */
/* cloudtrail.c: CloudTrail log files read: inflated, parsed, one record at a time. */
#include "config.h"

#include <string.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "cloudtrail.h"

static const char *
jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) && v->valuestring[0] != '\0' ? v->valuestring : NULL;
}

/* "YYYY-MM-DDTHH:MM:SS[.fff]Z" to ms since the epoch: a fixed format, so
 * no strptime per record (a day of an organisation trail is millions). */
int
stsrole_ct_parse_time(const char *s, int64_t *out)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int v[6], i, ms = 0, leap;
    const char *p = s;
    int64_t y, m, days;

    for (i = 0; i < 6; i++) {
        int w = i == 0 ? 4 : 2, j, n = 0;
        for (j = 0; j < w; j++, p++) {
            if (*p < '0' || *p > '9')
                return -1;
            n = n * 10 + (*p - '0');
        }
        v[i] = n;
        if (i < 5 && *p++ != "--T::"[i])
            return -1;
    }
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            if (digits++ < 3)
                ms = ms * 10 + (*p - '0');
        if (digits == 0)
            return -1;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    if (strcmp(p, "Z") != 0)
        return -1;
    leap = (v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0;
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1] + (v[1] == 2 && leap) ||
        v[3] > 23 || v[4] > 59 || v[5] > 60)
        return -1;
    /* Days from civil (H. Hinnant's algorithm). */
    y = v[0] - (v[1] <= 2);
    m = v[1];
    {
        int64_t era = y / 400, yoe = y - era * 400;
        int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + v[2] - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        days = era * 146097 + doe - 719468;
    }
    *out = ((days * 86400) + v[3] * 3600 + v[4] * 60 + v[5]) * 1000 + ms;
    return 0;
}

int
stsrole_ct_gunzip(const void *in, size_t len, size_t max, struct stsrole_buf *out,
                  struct stsrole_error *err)
{
    const unsigned char *b = in;
    unsigned char chunk[65536];
    z_stream z;
    int zr, rc = STSROLE_OK;

    stsrole_buf_reset(out);
    if (len < 2 || b[0] != 0x1f || b[1] != 0x8b) {
        if (len > max)
            return stsrole_fail(err, STSROLE_E_PROTOCOL, "file larger than %zu bytes", max);
        return stsrole_buf_append(out, in, len) == STSROLE_OK
                   ? STSROLE_OK
                   : stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    memset(&z, 0, sizeof(z));
    /* 15 + 32: a gzip or zlib header, detected by zlib. */
    if (inflateInit2(&z, 15 + 32) != Z_OK)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    z.next_in = (unsigned char *)b;
    z.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
    if (len > UINT32_MAX)
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "compressed file too large");
    while (rc == STSROLE_OK) {
        z.next_out = chunk;
        z.avail_out = sizeof(chunk);
        zr = inflate(&z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END) {
            rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "gzip: %s",
                              z.msg != NULL ? z.msg : "corrupt or truncated data");
            break;
        }
        if (out->len + (sizeof(chunk) - z.avail_out) > max) {
            rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "inflates beyond %zu bytes", max);
            break;
        }
        if (stsrole_buf_append(out, chunk, sizeof(chunk) - z.avail_out) != STSROLE_OK)
            rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
        if (zr == Z_STREAM_END)
            break;
        if (z.avail_in == 0 && z.avail_out != 0) {
            rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "gzip: truncated data");
            break;
        }
    }
    inflateEnd(&z);
    return rc;
}

static const cJSON *
jobj(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsObject(v) ? v : NULL;
}

int
stsrole_ct_parse(const char *text, size_t len,
                 int (*fn)(void *ctx, const struct stsrole_ct_event *ev, struct stsrole_error *err),
                 void *ctx, size_t *skipped, struct stsrole_error *err)
{
    cJSON *doc = cJSON_ParseWithLength(text, len);
    const cJSON *recs = cJSON_GetObjectItemCaseSensitive(doc, "Records"), *rec;
    int rc = STSROLE_OK;

    *skipped = 0;
    if (!cJSON_IsArray(recs)) {
        cJSON_Delete(doc);
        return stsrole_fail(err, STSROLE_E_PROTOCOL,
                            "not a CloudTrail log file (no \"Records\" array)");
    }
    cJSON_ArrayForEach(rec, recs)
    {
        struct stsrole_ct_event ev;
        const cJSON *ui = jobj(rec, "userIdentity"), *sc = jobj(ui, "sessionContext");
        const cJSON *rp = jobj(rec, "requestParameters");
        const char *t = jstr(rec, "eventTime"), *slash;

        memset(&ev, 0, sizeof(ev));
        if (t == NULL || stsrole_ct_parse_time(t, &ev.t_ms) != 0) {
            (*skipped)++;
            continue;
        }
        ev.event_id = jstr(rec, "eventID");
        ev.request_id = jstr(rec, "requestID");
        ev.event_source = jstr(rec, "eventSource");
        ev.event_name = jstr(rec, "eventName");
        ev.error_code = jstr(rec, "errorCode");
        ev.account = jstr(rec, "recipientAccountId");
        ev.source_ip = jstr(rec, "sourceIPAddress");
        ev.identity_type = jstr(ui, "type");
        ev.identity_arn = jstr(ui, "arn");
        ev.issuer_arn = jstr(jobj(sc, "sessionIssuer"), "arn");
        ev.source_identity = jstr(sc, "sourceIdentity");
        if (ev.identity_arn != NULL && strstr(ev.identity_arn, ":assumed-role/") != NULL &&
            (slash = strrchr(ev.identity_arn, '/')) != NULL && slash[1] != '\0')
            ev.session_name = slash + 1;
        ev.req_role_arn = jstr(rp, "roleArn");
        ev.req_session_name = jstr(rp, "roleSessionName");
        ev.req_source_identity = jstr(rp, "sourceIdentity");
        rc = fn(ctx, &ev, err);
        if (rc != STSROLE_OK)
            break;
    }
    cJSON_Delete(doc);
    return rc;
}
