/* gw_ship.c: the audit log shipped to CloudWatch Logs by a thread of its own, in order, once. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cwlogs.h"
#include "gw.h"
#include "safefile.h"
#include "hash.h"

/*
 * Store and forward.  The local audit log is the store: the shipper only
 * reads it, line by line, and sends each line verbatim as one event, in
 * the log's order, to the stream audit_log_stream of audit_log_group.
 *
 * A thread of its own, so that CloudWatch Logs being slow or away never
 * holds up a revocation in the main loop.  The main thread tells it how
 * far the log is durable (after each fsync'd append), so a line is never
 * shipped before it is on the local disk; the thread hands audit records
 * of its own (ship.gap, ship.rejected) back to the main thread, the log's
 * only writer.
 *
 * Exactly once.  PutLogEvents is not idempotent: CloudWatch Logs ignores
 * sequence tokens since 2023, so a batch sent twice is stored twice.  The
 * cursor STATE_DIR/gateway/ship.json says where the stream ends: the file,
 * the offset after the last shipped line, its seq and its SHA-256.
 * Before a batch is sent, the cursor records it as pending (durably);
 * after PutLogEvents succeeded, it becomes the new end.  A pending batch
 * found at start (a crash in between), or left by a call whose outcome is
 * unknown (lost answer, timeout, 5xx), is looked for among the stream's
 * newest events (GetLogEvents): there, the cursor moves past it; absent
 * for SETTLE_MS after it was sent, it is sent again.  Nothing else ever
 * sends a line twice, and nothing moves the cursor past a line that is
 * not in the stream, except a line CloudWatch cannot take (ship.gap).
 */

#define CURSOR_FILE "ship.json"
#define CURSOR_MAX (16 * 1024)
/* How long an accepted batch may take to show in GetLogEvents, and a
 * request in flight to be processed, before "absent" means "not sent". */
#define SETTLE_MS 10000
#define TAIL_EVENTS 50
#define BACKOFF_CAP_MS 60000
#define IDLE_MS 60000
#define NOTES_MAX 32
#define FAILING_AFTER 3
/* One read: a full batch plus the longest line that could follow it. */
#define WINDOW (STSROLE_LOGS_MAX_BATCH_BYTES + STSROLE_LOGS_MAX_MESSAGE + 2)

/* A place in the log: just after one line. */
struct pos {
    uint64_t dev, ino; /* the file */
    int64_t end;       /* offset after the line's '\n'; -1: unknown (read from the stream) */
    int64_t len;       /* the line's bytes with its '\n' */
    uint64_t seq;
    char hash[65];   /* SHA-256 of the line: the next line's prev */
    int64_t sent_ts; /* the event timestamp it went out with */
};

struct note {
    char event[24];
    char outcome[8];
    char detail[640];
};

struct line {
    const char *text; /* NUL-terminated in the window */
    int64_t end;
    int64_t len;
    uint64_t seq;
    char hash[65];
};

struct gw_ship {
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    int efd;           /* readable: notes wait for the main thread */

    /* Under mu, from the main thread. */
    int new_fd;                /* a read descriptor of the file now written, handed over */
    uint64_t cur_dev, cur_ino; /* that file */
    int64_t durable;           /* its bytes known to be on disk */
    uint64_t gen;              /* bumped by every change above */
    int stop, drain;

    /* Under mu, from the thread. */
    struct note notes[NOTES_MAX];
    size_t n_notes, notes_lost;
    int done;
    uint64_t st_seq;
    uint64_t st_events;
    uint64_t st_batches;
    int64_t st_last_ok; /* epoch ms */
    int64_t st_backlog;
    int st_failures;
    char st_state[24];
    char st_error[STSROLE_ERRMSG_MAX + 64];

    /* The thread's own. */
    struct stsrole_config cfg; /* only what shipping needs, copied */
    struct stsrole_http_config http;
    struct stsrole_creds_provider base;
    struct stsrole_aws_client client;
    char *group, *stream, *audit_path, *cursor_path;
    int batch;
    int cur_fd; /* the file now written */
    int src_fd; /* the file read from: the current one or one rotated away */
    uint64_t src_dev, src_ino;
    int64_t off;   /* in src: after the last line the stream holds */
    struct pos at; /* where the stream ends */
    int have_at;
    struct pos pend;    /* the batch in flight */
    int64_t pend_since; /* epoch ms it was first sent */
    int have_pend;
    int reconciled, located, attempts;
    char gap_noted[65]; /* the line a ship.gap was written for */
    char *win;
    struct line *lines;
    struct stsrole_log_event *ev;
};

/* -- the main thread's side ------------------------------------------------------------------ */

static void
publish(struct gw *g, struct gw_ship *sh)
{
    struct stat st, ost;
    char proc[64];
    int fd = -1;

    if (!g->audit_open || fstat(g->audit.fd, &st) != 0)
        return;
    pthread_mutex_lock(&sh->mu);
    if ((uint64_t)st.st_dev != sh->cur_dev || (uint64_t)st.st_ino != sh->cur_ino) {
        /* The file itself, whatever its name is by now (rotation). */
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", g->audit.fd);
        fd = open(proc, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            fd = open(g->audit.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0 &&
            (fstat(fd, &ost) != 0 || ost.st_dev != st.st_dev || ost.st_ino != st.st_ino)) {
            close(fd);
            fd = -1;
        }
        if (fd < 0) {
            pthread_mutex_unlock(&sh->mu);
            gw_log(LOG_ERR, "audit shipping: cannot open %s for reading", g->audit.path);
            return;
        }
        if (sh->new_fd >= 0)
            close(sh->new_fd);
        sh->new_fd = fd;
        sh->cur_dev = (uint64_t)st.st_dev;
        sh->cur_ino = (uint64_t)st.st_ino;
    }
    sh->durable = (int64_t)st.st_size;
    sh->gen++;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
}

void
gw_ship_appended(struct gw *g)
{
    if (g->ship != NULL)
        publish(g, g->ship);
}

int
gw_ship_fd(const struct gw *g)
{
    return g->ship != NULL ? g->ship->efd : -1;
}

void
gw_ship_step(struct gw *g)
{
    struct gw_ship *sh = g->ship;
    struct note notes[NOTES_MAX];
    size_t i, n, lost;
    uint64_t v;

    if (sh == NULL)
        return;
    if (read(sh->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        gw_log(LOG_WARNING, "audit shipping: eventfd: %s", strerror(errno));
    pthread_mutex_lock(&sh->mu);
    n = sh->n_notes;
    memcpy(notes, sh->notes, n * sizeof(notes[0]));
    lost = sh->notes_lost;
    sh->n_notes = 0;
    sh->notes_lost = 0;
    pthread_mutex_unlock(&sh->mu);
    for (i = 0; i < n; i++)
        gw_audit(g, notes[i].event, NULL, NULL, notes[i].outcome, NULL, notes[i].detail);
    if (lost > 0)
        gw_log(LOG_ERR, "audit shipping: %zu of its audit records were dropped", lost);
}

int
gw_ship_status(struct gw *g, cJSON *o)
{
    struct gw_ship *sh = g->ship;
    cJSON *s;
    char iso[21];
    int failing;

    if (sh == NULL)
        return 0;
    if ((s = cJSON_AddObjectToObject(o, "ship")) == NULL)
        return 0;
    pthread_mutex_lock(&sh->mu);
    cJSON_AddStringToObject(s, "group", sh->group);
    cJSON_AddStringToObject(s, "stream", sh->stream);
    cJSON_AddStringToObject(s, "state", sh->st_state);
    cJSON_AddNumberToObject(s, "shipped_seq", (double)sh->st_seq);
    cJSON_AddNumberToObject(s, "events_sent", (double)sh->st_events);
    cJSON_AddNumberToObject(s, "batches_sent", (double)sh->st_batches);
    cJSON_AddNumberToObject(s, "backlog_bytes", (double)sh->st_backlog);
    if (sh->st_last_ok != 0) {
        stsrole_iso8601(sh->st_last_ok / 1000, iso);
        cJSON_AddStringToObject(s, "last_ok", iso);
    } else {
        cJSON_AddNullToObject(s, "last_ok");
    }
    if (sh->st_error[0] != '\0')
        cJSON_AddStringToObject(s, "last_error", sh->st_error);
    else
        cJSON_AddNullToObject(s, "last_error");
    failing = sh->st_failures >= FAILING_AFTER || sh->done;
    cJSON_AddBoolToObject(s, "failing", failing);
    pthread_mutex_unlock(&sh->mu);
    return failing;
}

/* -- the thread's helpers -------------------------------------------------------------------- */

static void note(struct gw_ship *sh, const char *event, const char *outcome, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* An audit record for the main thread to write. */
static void
note(struct gw_ship *sh, const char *event, const char *outcome, const char *fmt, ...)
{
    struct note *n;
    uint64_t one = 1;
    va_list ap;

    pthread_mutex_lock(&sh->mu);
    if (sh->n_notes == NOTES_MAX) {
        sh->notes_lost++;
    } else {
        n = &sh->notes[sh->n_notes++];
        snprintf(n->event, sizeof(n->event), "%s", event);
        snprintf(n->outcome, sizeof(n->outcome), "%s", outcome);
        va_start(ap, fmt);
        vsnprintf(n->detail, sizeof(n->detail), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&sh->mu);
    if (write(sh->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        gw_log(LOG_WARNING, "audit shipping: eventfd: %s", strerror(errno));
}

static void
set_state(struct gw_ship *sh, const char *state)
{
    pthread_mutex_lock(&sh->mu);
    snprintf(sh->st_state, sizeof(sh->st_state), "%s", state);
    pthread_mutex_unlock(&sh->mu);
}

static void
failed(struct gw_ship *sh, const char *what, const struct stsrole_error *err)
{
    pthread_mutex_lock(&sh->mu);
    sh->st_failures++;
    snprintf(sh->st_error, sizeof(sh->st_error), "%s: %s: %s", what,
             stsrole_status_name(err->status), err->msg);
    snprintf(sh->st_state, sizeof(sh->st_state), "retrying");
    pthread_mutex_unlock(&sh->mu);
    if (sh->attempts == 0)
        gw_log(LOG_WARNING, "audit shipping: %s: %s; retrying with back-off", what, err->msg);
    sh->attempts++;
}

static int
stopping(struct gw_ship *sh, int *drain)
{
    int stop;

    pthread_mutex_lock(&sh->mu);
    stop = sh->stop;
    if (drain != NULL)
        *drain = sh->drain;
    pthread_mutex_unlock(&sh->mu);
    return stop;
}

/* Waits ms, or until stop (and drain, when wake_on_drain), or, when
 * gen_seen is given, until the main thread published something new. */
static void
wait_for(struct gw_ship *sh, int64_t ms, const uint64_t *gen_seen)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&sh->mu);
    while (!sh->stop && !sh->drain && (gen_seen == NULL || sh->gen == *gen_seen))
        if (pthread_cond_timedwait(&sh->cv, &sh->mu, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&sh->mu);
}

static void
backoff(struct gw_ship *sh)
{
    int64_t ms = 1000;
    int i;

    for (i = 1; i < sh->attempts && ms < BACKOFF_CAP_MS; i++)
        ms *= 2;
    wait_for(sh, ms > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : ms, NULL);
}

/* Takes the descriptor the main thread handed over, if any. */
static void
adopt(struct gw_ship *sh, int64_t *durable, uint64_t *gen)
{
    pthread_mutex_lock(&sh->mu);
    if (sh->new_fd >= 0) {
        if (sh->cur_fd >= 0)
            close(sh->cur_fd);
        sh->cur_fd = sh->new_fd;
        sh->new_fd = -1;
    }
    *durable = sh->durable;
    *gen = sh->gen;
    pthread_mutex_unlock(&sh->mu);
}

static int
fd_identity(int fd, uint64_t *dev, uint64_t *ino, int64_t *size)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return -1;
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    if (size != NULL)
        *size = (int64_t)st.st_size;
    return 0;
}

static ssize_t
pread_full(int fd, char *buf, size_t len, off_t off)
{
    size_t got = 0;
    ssize_t n;

    while (got < len) {
        n = pread(fd, buf + got, len - got, off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* -- the cursor ------------------------------------------------------------------------------ */

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

static int
cursor_save(struct gw_ship *sh)
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

static void
cursor_load(struct gw_ship *sh)
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

/* -- reading the log ------------------------------------------------------------------------- */

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
    if (pread_full(fd, buf, (size_t)p->len, (off_t)(p->end - p->len)) == (ssize_t)p->len &&
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

static void
use_src(struct gw_ship *sh, int fd, int64_t off)
{
    if (sh->src_fd >= 0 && sh->src_fd != fd)
        close(sh->src_fd);
    sh->src_fd = fd;
    fd_identity(fd, &sh->src_dev, &sh->src_ino, NULL);
    sh->off = off;
}

/* Puts src/off just after `at` in the files, or at the start of the
 * current file when `at` cannot be found there (ship.gap when the current
 * file does not continue it). */
static int
locate(struct gw_ship *sh)
{
    uint64_t dev, ino, odev, oino;
    int64_t end, len = 0;
    char old[4200];
    int fd;

    if (sh->cur_fd < 0 || fd_identity(sh->cur_fd, &dev, &ino, NULL) != 0)
        return -1;
    if ((fd = dup(sh->cur_fd)) < 0)
        return -1;
    sh->located = 1;
    if (!sh->have_at) {
        use_src(sh, fd, 0);
        return 0;
    }
    if (sh->src_fd >= 0 && sh->at.end >= 0 && sh->at.dev == sh->src_dev &&
        sh->at.ino == sh->src_ino && line_is(sh->src_fd, &sh->at)) {
        close(fd);
        sh->off = sh->at.end;
        return 0;
    }
    if (sh->at.end >= 0 && sh->at.dev == dev && sh->at.ino == ino && line_is(fd, &sh->at)) {
        use_src(sh, fd, sh->at.end);
        return 0;
    }
    /* Rotated while we were down: logrotate's delaycompress keeps the
     * previous file as audit_log.1 until the next rotation. */
    snprintf(old, sizeof(old), "%s.1", sh->audit_path);
    {
        int ofd = open(old, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

        if (ofd >= 0) {
            if (sh->at.end >= 0 && fd_identity(ofd, &odev, &oino, NULL) == 0 &&
                odev == sh->at.dev && oino == sh->at.ino && line_is(ofd, &sh->at)) {
                close(fd);
                use_src(sh, ofd, sh->at.end);
                gw_log(LOG_NOTICE, "audit shipping: resuming in %s, seq %llu", old,
                       (unsigned long long)sh->at.seq + 1);
                return 0;
            }
            close(ofd);
        }
    }
    if ((end = find_line(fd, sh->at.hash, &len)) >= 0) {
        use_src(sh, fd, end);
        sh->at.dev = dev;
        sh->at.ino = ino;
        sh->at.end = end;
        sh->at.len = len;
        return 0;
    }
    /* The first line tells: it continues the stream (audit.rotate with
     * our last line as prev) or there is a gap, which fill() notes. */
    use_src(sh, fd, 0);
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
static int
line_fields(const char *text, size_t len, uint64_t *seq, char prev[65], int64_t *ts)
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
    note(sh, "ship.gap", "error",
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
    cursor_save(sh);
}

/*
 * The next batch from src at off: up to the durable size of the current
 * file, or to the end of a file rotated away.  Returns the number of
 * events (0: nothing new), or -1 when the log cannot be read.
 */
static int
fill(struct gw_ship *sh, int64_t durable, size_t *nev)
{
    uint64_t sdev, sino, cdev, cino;
    int64_t limit, size, base, now = gw_now_ms(), prev_ts, first_ts = 0;
    size_t total = 0, n = 0;
    ssize_t got;
    char *p, *nl, prev[65], expect[65];
    int64_t ts;
    int is_cur;

    *nev = 0;
    if (fd_identity(sh->src_fd, &sdev, &sino, &size) != 0)
        return -1;
    /* The file being written is read only as far as it is durable: a
     * line must never reach the stream and then vanish in a crash. */
    is_cur = sh->cur_fd >= 0 && fd_identity(sh->cur_fd, &cdev, &cino, NULL) == 0 && cdev == sdev &&
             cino == sino;
    limit = is_cur ? durable : size;
    pthread_mutex_lock(&sh->mu);
    sh->st_backlog = limit > sh->off ? limit - sh->off : 0;
    pthread_mutex_unlock(&sh->mu);
    if (sh->off >= limit)
        return 0;
    base = sh->off;
    got = pread_full(sh->src_fd, sh->win, (size_t)(limit - base < WINDOW ? limit - base : WINDOW),
                     (off_t)base);
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
        if (line_fields(p, len, &l->seq, prev, &ts) != 0) {
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
            note(sh, "ship.gap", "error",
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
        failed(sh, "reading the audit log", &err);
        return -1;
    }
    *nev = n;
    return (int)n;
}

/* -- talking to CloudWatch Logs -------------------------------------------------------------- */

static int
make_stream(struct gw_ship *sh)
{
    struct stsrole_error err;
    int created, rc;

    rc = stsrole_logs_create_stream(&sh->client, sh->group, sh->stream, &created, &err);
    if (rc != STSROLE_OK) {
        if (rc == STSROLE_E_NOTFOUND)
            snprintf(err.msg, sizeof(err.msg),
                     "log group %s does not exist (see "
                     "examples/aws/cloudformation/bastion-fleet.yaml)",
                     sh->group);
        failed(sh, "CreateLogStream", &err);
        return -1;
    }
    if (created)
        gw_log(LOG_INFO, "audit shipping: created log stream %s in %s", sh->stream, sh->group);
    return 0;
}

/*
 * What the stream holds: a pending batch found there becomes the end; one
 * not found after SETTLE_MS is dropped (it is sent again).  Without a
 * cursor, the stream's newest event says where to resume.  0 done, 1 wait
 * (*wait_ms), -1 failed.
 */
static int
reconcile(struct gw_ship *sh, int64_t *wait_ms)
{
    struct stsrole_logs_page page;
    struct stsrole_error err;
    char h[65], prev[65];
    size_t i;
    int rc, found = -1;
    int64_t age, ts;
    uint64_t seq;

    if (sh->have_at && !sh->have_pend) {
        sh->reconciled = 1;
        return 0;
    }
    set_state(sh, "reconciling");
    rc = stsrole_logs_get_events(&sh->client, sh->group, sh->stream, 0, TAIL_EVENTS, NULL, &page,
                                 &err);
    if (rc == STSROLE_E_NOTFOUND) {
        if (make_stream(sh) != 0)
            return -1;
        memset(&page, 0, sizeof(page));
    } else if (rc != STSROLE_OK) {
        failed(sh, "GetLogEvents", &err);
        return -1;
    }
    if (sh->have_pend) {
        for (i = 0; i < page.n && found < 0; i++) {
            stsrole_sha256_hex(page.ev[i].message, strlen(page.ev[i].message), h);
            if (strcmp(h, sh->pend.hash) == 0)
                found = (int)i;
        }
        age = gw_now_ms() - sh->pend_since;
        if (found >= 0) {
            gw_log(LOG_NOTICE,
                   "audit shipping: the batch through seq %llu is in the stream "
                   "already; not sending it again",
                   (unsigned long long)sh->pend.seq);
            sh->at = sh->pend;
            sh->have_at = 1;
        } else if (age >= 0 && age < SETTLE_MS) {
            stsrole_logs_page_free(&page);
            *wait_ms = SETTLE_MS - age;
            set_state(sh, "settling");
            return 1;
        } else {
            gw_log(LOG_NOTICE,
                   "audit shipping: the batch through seq %llu is not in the stream "
                   "%lld s after it was sent; sending it again",
                   (unsigned long long)sh->pend.seq, (long long)(age / 1000));
        }
        sh->have_pend = 0;
        sh->located = 0; /* at moved, or src must go back to it */
        cursor_save(sh);
    } else if (page.n > 0) {
        /* No cursor: resume after the stream's newest event. */
        const char *m = page.ev[page.n - 1].message;

        memset(&sh->at, 0, sizeof(sh->at));
        stsrole_sha256_hex(m, strlen(m), sh->at.hash);
        sh->at.end = -1;
        sh->at.sent_ts = page.ev[page.n - 1].timestamp;
        if (line_fields(m, strlen(m), &seq, prev, &ts) == 0)
            sh->at.seq = seq;
        sh->have_at = 1;
        sh->located = 0;
    }
    stsrole_logs_page_free(&page);
    sh->reconciled = 1;
    return 0;
}

/* Sends the batch of n events; 0 sent, -1 not. */
static int
send_batch(struct gw_ship *sh, size_t n)
{
    struct stsrole_logs_rejected rej;
    struct stsrole_error err;
    const struct line *last = &sh->lines[n - 1];
    int rc;

    sh->pend.dev = sh->src_dev;
    sh->pend.ino = sh->src_ino;
    sh->pend.end = last->end;
    sh->pend.len = last->len;
    sh->pend.seq = last->seq;
    memcpy(sh->pend.hash, last->hash, 65);
    sh->pend.sent_ts = sh->ev[n - 1].timestamp;
    sh->pend_since = gw_now_ms();
    sh->have_pend = 1;
    /* No send without the durable intent: a crash after it must not
     * leave a batch in the stream that a restart would send again. */
    if (cursor_save(sh) != 0) {
        sh->have_pend = 0;
        stsrole_fail(&err, STSROLE_E_IO, "cannot write %s", sh->cursor_path);
        failed(sh, "cursor", &err);
        return -1;
    }
    set_state(sh, "sending");
    rc = stsrole_logs_put(&sh->client, sh->group, sh->stream, sh->ev, n, &rej, &err);
    if (rc == STSROLE_OK) {
        sh->at = sh->pend;
        sh->have_at = 1;
        sh->have_pend = 0;
        sh->off = last->end;
        cursor_save(sh);
        sh->attempts = 0;
        pthread_mutex_lock(&sh->mu);
        sh->st_seq = sh->at.seq;
        sh->st_events += n;
        sh->st_batches++;
        sh->st_last_ok = gw_now_ms();
        sh->st_failures = 0;
        sh->st_error[0] = '\0';
        snprintf(sh->st_state, sizeof(sh->st_state), "shipping");
        pthread_mutex_unlock(&sh->mu);
        if (rej.too_new_start >= 0 || rej.too_old_end >= 0 || rej.expired_end >= 0)
            note(sh, "ship.rejected", "error",
                 "CloudWatch Logs refused part of the batch seq %llu-%llu (too old through "
                 "index %lld, past the retention through %lld, too new from %lld); those "
                 "records stay in the local log only",
                 (unsigned long long)sh->lines[0].seq, (unsigned long long)last->seq,
                 rej.too_old_end, rej.expired_end, rej.too_new_start);
        return 0;
    }
    if (rc == STSROLE_E_NOTFOUND) {
        /* No stream (or group): nothing landed. */
        sh->have_pend = 0;
        cursor_save(sh);
        if (make_stream(sh) == 0)
            sh->attempts++; /* sent again after a second */
        return -1;
    }
    failed(sh, "PutLogEvents", &err);
    if (rc == STSROLE_E_NETWORK || rc == STSROLE_E_SERVER || rc == STSROLE_E_PROTOCOL) {
        /* It may have landed: look before sending it again. */
        sh->reconciled = 0;
        return -1;
    }
    sh->have_pend = 0;
    cursor_save(sh);
    return -1;
}

/* -- the thread ------------------------------------------------------------------------------ */

static void *
ship_main(void *arg)
{
    struct gw_ship *sh = arg;
    struct stsrole_error err;
    uint64_t gen, cdev, cino;
    int64_t durable, wait_ms;
    size_t n;
    int drain, rc;

    cursor_load(sh);
    sh->reconciled = sh->have_at && !sh->have_pend;
    pthread_mutex_lock(&sh->mu);
    sh->st_seq = sh->have_at ? sh->at.seq : 0;
    pthread_mutex_unlock(&sh->mu);
    while (!stopping(sh, &drain)) {
        adopt(sh, &durable, &gen);
        if (!sh->reconciled) {
            rc = reconcile(sh, &wait_ms);
            if (rc == 1) {
                if (drain)
                    break;
                wait_for(sh, wait_ms, NULL);
                continue;
            }
            if (rc != 0) {
                if (drain)
                    break;
                backoff(sh);
                continue;
            }
        }
        if (!sh->located) {
            if (locate(sh) != 0) {
                wait_for(sh, IDLE_MS, &gen);
                continue;
            }
        }
        if (fill(sh, durable, &n) < 0) {
            if (drain)
                break;
            stsrole_fail(&err, STSROLE_E_IO, "cannot read the audit log");
            failed(sh, "reading", &err);
            backoff(sh);
            continue;
        }
        if (n == 0) {
            /* A file rotated away and read to its end: on to the current one. */
            if (sh->cur_fd >= 0 && fd_identity(sh->cur_fd, &cdev, &cino, NULL) == 0 &&
                (cdev != sh->src_dev || cino != sh->src_ino)) {
                int fd = dup(sh->cur_fd);

                if (fd >= 0) {
                    use_src(sh, fd, 0);
                    continue;
                }
            }
            if (drain)
                break;
            set_state(sh, "idle");
            wait_for(sh, IDLE_MS, &gen);
            continue;
        }
        if (send_batch(sh, n) != 0) {
            if (drain)
                break;
            if (sh->attempts > 0)
                backoff(sh);
        }
    }
    pthread_mutex_lock(&sh->mu);
    sh->done = 1;
    snprintf(sh->st_state, sizeof(sh->st_state), "stopped");
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
    return NULL;
}

/* -- start and stop -------------------------------------------------------------------------- */

static void
ship_free(struct gw_ship *sh)
{
    if (sh->new_fd >= 0)
        close(sh->new_fd);
    if (sh->cur_fd >= 0)
        close(sh->cur_fd);
    if (sh->src_fd >= 0)
        close(sh->src_fd);
    if (sh->efd >= 0)
        close(sh->efd);
    stsrole_creds_provider_free(&sh->base);
    stsrole_config_free(&sh->cfg);
    free(sh->group);
    free(sh->stream);
    free(sh->audit_path);
    free(sh->cursor_path);
    free(sh->win);
    free(sh->lines);
    free(sh->ev);
    pthread_cond_destroy(&sh->cv);
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

/* The settings shipping needs, copied: the main thread's configuration
 * is replaced on reload, under the thread's feet. */
static int
copy_config(struct gw_ship *sh, const struct stsrole_config *c)
{
    struct stsrole_config *m = &sh->cfg;

    memset(m, 0, sizeof(*m));
    m->region = stsrole_strdup(c->region);
    m->logs_endpoint = stsrole_strdup(c->logs_endpoint);
    m->credentials = c->credentials;
    m->credentials_path = stsrole_strdup(c->credentials_path);
    m->credentials_profile = stsrole_strdup(c->credentials_profile);
    m->imds_endpoint = stsrole_strdup(c->imds_endpoint);
    m->ca_file = stsrole_strdup(c->ca_file);
    m->proxy = stsrole_strdup(c->proxy);
    m->timeout = c->timeout;
    return m->region == NULL || m->logs_endpoint == NULL ||
                   (c->credentials_path != NULL && m->credentials_path == NULL) ||
                   (c->credentials_profile != NULL && m->credentials_profile == NULL) ||
                   (c->imds_endpoint != NULL && m->imds_endpoint == NULL) ||
                   (c->ca_file != NULL && m->ca_file == NULL) ||
                   (c->proxy != NULL && m->proxy == NULL)
               ? -1
               : 0;
}

int
gw_ship_start(struct gw *g)
{
    struct gw_ship *sh;
    struct stsrole_error err;
    pthread_condattr_t ca;
    char path[4200];

    if (g->cfg.audit_log_group == NULL)
        return 0;
    if ((sh = calloc(1, sizeof(*sh))) == NULL)
        return -1;
    sh->new_fd = sh->cur_fd = sh->src_fd = -1;
    pthread_mutex_init(&sh->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sh->cv, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(sh->st_state, sizeof(sh->st_state), "starting");
    snprintf(path, sizeof(path), "%s/%s", g->state_gw, CURSOR_FILE);
    sh->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    sh->group = strdup(g->cfg.audit_log_group);
    sh->stream = strdup(g->cfg.audit_log_stream ? g->cfg.audit_log_stream : g->cfg.bastion_id);
    sh->audit_path = strdup(g->cfg.audit_log);
    sh->cursor_path = strdup(path);
    sh->batch = g->cfg.audit_ship_batch > 0 ? g->cfg.audit_ship_batch : 1000;
    sh->win = malloc(WINDOW);
    sh->lines = calloc((size_t)sh->batch, sizeof(*sh->lines));
    sh->ev = calloc((size_t)sh->batch, sizeof(*sh->ev));
    if (sh->efd < 0 || sh->group == NULL || sh->stream == NULL || sh->audit_path == NULL ||
        sh->cursor_path == NULL || sh->win == NULL || sh->lines == NULL || sh->ev == NULL ||
        copy_config(sh, &g->cfg) != 0) {
        ship_free(sh);
        return -1;
    }
    stsrole_client_http(&sh->cfg, &sh->http);
    sh->http.max_response = STSROLE_LOGS_MAX_RESPONSE;
    if (stsrole_client_provider(&sh->cfg, &sh->http, &sh->base, &err) != STSROLE_OK) {
        gw_log(LOG_ERR, "audit shipping: %s", err.msg);
        ship_free(sh);
        return -1;
    }
    stsrole_client_logs(&sh->client, &sh->cfg, &sh->http, &sh->base);
    publish(g, sh);
    if (pthread_create(&sh->thread, NULL, ship_main, sh) != 0) {
        gw_log(LOG_ERR, "audit shipping: cannot start its thread");
        ship_free(sh);
        return -1;
    }
    sh->started = 1;
    g->ship = sh;
    gw_log(LOG_INFO, "audit shipping to CloudWatch Logs %s:%s via %s, %d records a batch",
           sh->group, sh->stream, sh->cfg.logs_endpoint, sh->batch);
    return 0;
}

/* Asks the thread to drain (or stop) and waits up to ms for it to end;
 * 1 when it has (and is joined). */
static int
end_within(struct gw_ship *sh, int *flag, int64_t ms)
{
    struct timespec ts;
    int done;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&sh->mu);
    *flag = 1;
    pthread_cond_broadcast(&sh->cv);
    while (!sh->done)
        if (pthread_cond_timedwait(&sh->cv, &sh->mu, &ts) == ETIMEDOUT)
            break;
    done = sh->done;
    pthread_mutex_unlock(&sh->mu);
    if (done)
        pthread_join(sh->thread, NULL); /* it has returned, or is about to */
    return done;
}

void
gw_ship_stop(struct gw *g)
{
    struct gw_ship *sh = g->ship;
    int64_t call_ms;

    if (sh == NULL)
        return;
    g->ship = NULL;
    /* What is left goes out now, within a bound: a stop must not hang on
     * CloudWatch Logs; what does not make it goes at the next start. */
    call_ms = (int64_t)sh->cfg.timeout * 2000 + 3000;
    if (!end_within(sh, &sh->drain, call_ms > 5000 ? call_ms : 5000) &&
        !end_within(sh, &sh->stop, call_ms)) {
        /* Stuck in a call: leave it to the process's exit. */
        gw_log(LOG_WARNING, "audit shipping: still busy at exit; the next start resumes");
        return;
    }
    ship_free(sh);
}
