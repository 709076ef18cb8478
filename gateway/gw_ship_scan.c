/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_ship_scan.c: the shipper's log scanner: finds the cursor's line, reads the next batch of
 * lines. */
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
#include "fdio.h"
#include "gw.h"
#include "gw_ship_int.h"
#include "hash.h"
#include "safefile.h"

/* Does the line ending at p->end in fd hash to p->hash? */
static int
line_is(int fd, const struct pos *p)
{
    char *buf, h[65];
    int ok = 0;

    if (p->end < 0 || p->len < 1 || p->len > WINDOW || p->end < p->len)
        return 0;
    if ((buf = malloc((size_t)p->len)) == NULL)
        return 0;
    if (stsrole_pread_full(fd, buf, (size_t)p->len, (off_t)(p->end - p->len)) == (ssize_t)p->len &&
        buf[p->len - 1] == '\n') {
        stsrole_sha256_hex(buf, (size_t)p->len - 1, h);
        ok = strcmp(h, p->hash) == 0;
    }
    free(buf);
    return ok;
}

/* The offset after the line of fd that hashes to hash, or -1. */
static int64_t
find_line(int fd, const char *hash, int64_t *len)
{
    FILE *f;
    char *line = NULL, h[65];
    size_t cap = 0;
    ssize_t n;
    int64_t off = 0, found = -1;
    int dfd = dup(fd);

    if (dfd < 0 || (f = fdopen(dfd, "r")) == NULL) {
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    if (fseeko(f, 0, SEEK_SET) == 0) {
        while ((n = getline(&line, &cap, f)) > 0 && line[n - 1] == '\n') {
            off += n;
            stsrole_sha256_hex(line, (size_t)n - 1, h);
            if (strcmp(h, hash) == 0) {
                found = off;
                *len = n;
                break;
            }
        }
    }
    free(line);
    fclose(f);
    return found;
}

void
gw_ship_scan_use_src(struct gw_ship *sh, int fd, int64_t off)
{
    if (sh->src_fd >= 0 && sh->src_fd != fd)
        close(sh->src_fd);
    sh->src_fd = fd;
    gw_ship_fd_identity(fd, &sh->src_dev, &sh->src_ino, NULL);
    sh->off = off;
}

/* Puts src/off just after `at` in the files, or at the start of the
 * current file when `at` cannot be found there (ship.gap when the current
 * file does not continue it). */
int
gw_ship_scan_locate(struct gw_ship *sh)
{
    uint64_t dev, ino, odev, oino;
    int64_t end, len = 0;
    char old[4200];
    int fd;

    if (sh->cur_fd < 0 || gw_ship_fd_identity(sh->cur_fd, &dev, &ino, NULL) != 0)
        return -1;
    if ((fd = dup(sh->cur_fd)) < 0)
        return -1;
    sh->located = 1;
    if (!sh->have_at) {
        gw_ship_scan_use_src(sh, fd, 0);
        return 0;
    }
    if (sh->src_fd >= 0 && sh->at.end >= 0 && sh->at.dev == sh->src_dev &&
        sh->at.ino == sh->src_ino && line_is(sh->src_fd, &sh->at)) {
        close(fd);
        sh->off = sh->at.end;
        return 0;
    }
    if (sh->at.end >= 0 && sh->at.dev == dev && sh->at.ino == ino && line_is(fd, &sh->at)) {
        gw_ship_scan_use_src(sh, fd, sh->at.end);
        return 0;
    }
    /* Rotated while we were down: logrotate's delaycompress keeps the
     * previous file as audit_log.1 until the next rotation. */
    snprintf(old, sizeof(old), "%s.1", sh->audit_path);
    {
        int ofd = open(old, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

        if (ofd >= 0) {
            if (sh->at.end >= 0 && gw_ship_fd_identity(ofd, &odev, &oino, NULL) == 0 &&
                odev == sh->at.dev && oino == sh->at.ino && line_is(ofd, &sh->at)) {
                close(fd);
                gw_ship_scan_use_src(sh, ofd, sh->at.end);
                gw_log(LOG_NOTICE, "audit shipping: resuming in %s, seq %llu", old,
                       (unsigned long long)sh->at.seq + 1);
                return 0;
            }
            close(ofd);
        }
    }
    if ((end = find_line(fd, sh->at.hash, &len)) >= 0) {
        gw_ship_scan_use_src(sh, fd, end);
        sh->at.dev = dev;
        sh->at.ino = ino;
        sh->at.end = end;
        sh->at.len = len;
        return 0;
    }
    /* The first line tells: it continues the stream (audit.rotate with
     * our last line as prev) or there is a gap, which gw_ship_scan_fill() notes. */
    gw_ship_scan_use_src(sh, fd, 0);
    return 0;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" -> ms; 0 when unreadable. */
static int64_t
ts_ms(const char *s)
{
    int64_t sec;
    const char *dot;
    int ms = 0, scale = 100, i;

    if (stsrole_parse_iso8601(s, &sec) != 0)
        return 0;
    if ((dot = strchr(s, '.')) != NULL)
        for (i = 1; i <= 3 && dot[i] >= '0' && dot[i] <= '9'; i++, scale /= 10)
            ms += (dot[i] - '0') * scale;
    return sec * 1000 + ms;
}

/* What a line says about itself: seq, prev, ts.  -1 when it is not a record. */
int
gw_ship_scan_fields(const char *text, size_t len, uint64_t *seq, char prev[65], int64_t *ts)
{
    const cJSON *s, *p, *t;
    cJSON *o = cJSON_ParseWithLength(text, len);
    int rc = -1;

    s = cJSON_GetObjectItemCaseSensitive(o, "seq");
    p = cJSON_GetObjectItemCaseSensitive(o, "prev");
    t = cJSON_GetObjectItemCaseSensitive(o, "ts");
    if (cJSON_IsNumber(s) && s->valuedouble >= 1 && cJSON_IsString(p) &&
        strlen(p->valuestring) == 64 && cJSON_IsString(t)) {
        *seq = (uint64_t)s->valuedouble;
        memcpy(prev, p->valuestring, 65);
        *ts = ts_ms(t->valuestring);
        rc = 0;
    }
    cJSON_Delete(o);
    return rc;
}

static int
shippable(const char *text, size_t len)
{
    uint32_t cp;
    size_t i = 0, k;

    if (len > STSROLE_LOGS_MAX_MESSAGE || memchr(text, '\0', len) != NULL)
        return 0;
    while (i < len) {
        if ((k = stsrole_utf8_decode((const unsigned char *)text + i, len - i, &cp)) == 0)
            return 0;
        i += k;
    }
    return 1;
}

/* Moves the stream's end past a line that cannot go (ship.gap says why). */
static void
skip_line(struct gw_ship *sh, const struct line *l, const char *why)
{
    gw_ship_note(sh, "ship.gap", "error",
                 "seq %llu (%lld bytes) is not shipped to %s:%s: %s; it stays in the local log",
                 (unsigned long long)l->seq, (long long)l->len, sh->group, sh->stream, why);
    sh->at.dev = sh->src_dev;
    sh->at.ino = sh->src_ino;
    sh->at.end = l->end;
    sh->at.len = l->len;
    sh->at.seq = l->seq;
    memcpy(sh->at.hash, l->hash, 65);
    sh->have_at = 1;
    sh->off = l->end;
    gw_ship_cursor_save(sh);
}

/*
 * The next batch from src at off: up to the durable size of the current
 * file, or to the end of a file rotated away.  Returns the number of
 * events (0: nothing new), or -1 when the log cannot be read.
 */
int
gw_ship_scan_fill(struct gw_ship *sh, int64_t durable, size_t *nev)
{
    uint64_t sdev, sino, cdev, cino;
    int64_t limit, size, base, now = gw_now_ms(), prev_ts, first_ts = 0;
    size_t total = 0, n = 0;
    ssize_t got;
    char *p, *nl, prev[65], expect[65];
    int64_t ts;
    int is_cur;

    *nev = 0;
    if (gw_ship_fd_identity(sh->src_fd, &sdev, &sino, &size) != 0)
        return -1;
    /* The file being written is read only as far as it is durable: a
     * line must never reach the stream and then vanish in a crash. */
    is_cur = sh->cur_fd >= 0 && gw_ship_fd_identity(sh->cur_fd, &cdev, &cino, NULL) == 0 &&
             cdev == sdev && cino == sino;
    limit = is_cur ? durable : size;
    pthread_mutex_lock(&sh->mu);
    sh->st_backlog = limit > sh->off ? limit - sh->off : 0;
    pthread_mutex_unlock(&sh->mu);
    if (sh->off >= limit)
        return 0;
    base = sh->off;
    got = stsrole_pread_full(sh->src_fd, sh->win,
                             (size_t)(limit - base < WINDOW ? limit - base : WINDOW), (off_t)base);
    if (got < 0)
        return -1;
    prev_ts = sh->have_at ? sh->at.sent_ts : 0;
    memcpy(expect, sh->have_at ? sh->at.hash : "", sh->have_at ? 65 : 1);
    for (p = sh->win; p < sh->win + got && n < (size_t)sh->batch; p = nl + 1) {
        struct line *l = &sh->lines[n];
        size_t len;

        if ((nl = memchr(p, '\n', (size_t)(sh->win + got - p))) == NULL)
            break;
        len = (size_t)(nl - p);
        l->end = base + (nl + 1 - sh->win);
        l->len = (int64_t)len + 1;
        stsrole_sha256_hex(p, len, l->hash);
        if (gw_ship_scan_fields(p, len, &l->seq, prev, &ts) != 0) {
            if (n > 0)
                break;
            l->seq = sh->have_at ? sh->at.seq + 1 : 0;
            skip_line(sh, l, "not an audit record");
            memcpy(expect, l->hash, 65);
            continue;
        }
        if (expect[0] != '\0' && strcmp(prev, expect) != 0 && n > 0)
            break; /* a gap starts a batch of its own */
        if (expect[0] != '\0' && strcmp(prev, expect) != 0 && strcmp(sh->gap_noted, l->hash) != 0) {
            /* The stream is about to break its chain: say so in the log
             * (and so, later, in the stream), once. */
            memcpy(sh->gap_noted, l->hash, 65);
            gw_ship_note(
                sh, "ship.gap", "error",
                "%s:%s ends at seq %llu and the local log continues with seq %llu, whose prev "
                "is not that record's hash: records in between (rotated away before they "
                "were shipped?) are missing from the stream",
                sh->group, sh->stream, (unsigned long long)(sh->have_at ? sh->at.seq : 0),
                (unsigned long long)l->seq);
        }
        if (!shippable(p, len)) {
            if (n > 0)
                break;
            skip_line(sh, l,
                      len > STSROLE_LOGS_MAX_MESSAGE ? "longer than a CloudWatch Logs event"
                                                     : "not valid UTF-8");
            memcpy(expect, l->hash, 65);
            continue;
        }
        ts = stsrole_logs_timestamp(ts != 0 ? ts : now, prev_ts, now);
        if (n > 0 && (ts - first_ts > STSROLE_LOGS_MAX_SPAN_MS ||
                      total + len + STSROLE_LOGS_EVENT_OVERHEAD > STSROLE_LOGS_MAX_BATCH_BYTES))
            break;
        if (n == 0)
            first_ts = ts;
        *nl = '\0';
        l->text = p;
        sh->ev[n].timestamp = ts;
        sh->ev[n].message = p;
        total += len + STSROLE_LOGS_EVENT_OVERHEAD;
        prev_ts = ts;
        memcpy(expect, l->hash, 65);
        n++;
    }
    if (n == 0 && got == WINDOW && memchr(sh->win, '\n', (size_t)got) == NULL) {
        struct stsrole_error err;

        stsrole_fail(&err, STSROLE_E_PROTOCOL,
                     "the line at offset %lld is longer than %d bytes: not an audit record",
                     (long long)sh->off, WINDOW);
        gw_ship_failed(sh, "reading the audit log", &err);
        return -1;
    }
    *nev = n;
    return (int)n;
}
