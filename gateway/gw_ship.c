/* SPDX-License-Identifier: BSD-3-Clause */
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
#include "gw_ship_int.h"
#include "hash.h"
#include "safefile.h"

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
 * At least once.  PutLogEvents is not idempotent: CloudWatch Logs ignores
 * sequence tokens since 2023, so a batch sent twice is stored twice.  The
 * cursor STATE_DIR/gateway/ship.json says where the stream ends: the file,
 * the offset after the last shipped line, its seq and its SHA-256.
 * Before a batch is sent, the cursor records it as pending (durably);
 * after PutLogEvents succeeded, it becomes the new end.  A pending batch
 * found at start (a crash in between), or left by a call whose outcome is
 * unknown (lost answer, timeout, 5xx), is looked for in the stream, read
 * backward page by page (GetLogEvents) until the token repeats: there,
 * the cursor moves past it; shown absent SETTLE_MS after it was sent (an
 * older record, or the stream's head, reached first), it is sent again;
 * neither (empty pages, the page budget spent), it is asked for again
 * later.  A batch whose PutLogEvents landed but is not yet readable after
 * SETTLE_MS is sent twice: readers dedupe by seq and hash (stsrolectl
 * audit verify --stream).  Nothing moves the cursor past a line that is
 * not in the stream, except a line CloudWatch cannot take (ship.gap).
 */

#define CURSOR_FILE "ship.json"
#define BACKOFF_CAP_MS 60000
#define IDLE_MS 60000
#define FAILING_AFTER 3

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

/* An audit record for the main thread to write. */
void
gw_ship_note(struct gw_ship *sh, const char *event, const char *outcome, const char *fmt, ...)
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

void
gw_ship_set_state(struct gw_ship *sh, const char *state)
{
    pthread_mutex_lock(&sh->mu);
    snprintf(sh->st_state, sizeof(sh->st_state), "%s", state);
    pthread_mutex_unlock(&sh->mu);
}

void
gw_ship_failed(struct gw_ship *sh, const char *what, const struct stsrole_error *err)
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
    wait_for(sh, stsrole_backoff_ms(sh->attempts - 1, 1000, BACKOFF_CAP_MS), NULL);
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

int
gw_ship_fd_identity(int fd, uint64_t *dev, uint64_t *ino, int64_t *size)
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

    gw_ship_cursor_load(sh);
    sh->reconciled = sh->have_at && !sh->have_pend;
    pthread_mutex_lock(&sh->mu);
    sh->st_seq = sh->have_at ? sh->at.seq : 0;
    pthread_mutex_unlock(&sh->mu);
    while (!stopping(sh, &drain)) {
        adopt(sh, &durable, &gen);
        if (!sh->reconciled) {
            rc = gw_ship_send_reconcile(sh, &wait_ms);
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
            if (gw_ship_scan_locate(sh) != 0) {
                wait_for(sh, IDLE_MS, &gen);
                continue;
            }
        }
        if (gw_ship_scan_fill(sh, durable, &n) < 0) {
            if (drain)
                break;
            stsrole_fail(&err, STSROLE_E_IO, "cannot read the audit log");
            gw_ship_failed(sh, "reading", &err);
            backoff(sh);
            continue;
        }
        if (n == 0) {
            /* A file rotated away and read to its end: on to the current one. */
            if (sh->cur_fd >= 0 && gw_ship_fd_identity(sh->cur_fd, &cdev, &cino, NULL) == 0 &&
                (cdev != sh->src_dev || cino != sh->src_ino)) {
                int fd = dup(sh->cur_fd);

                if (fd >= 0) {
                    gw_ship_scan_use_src(sh, fd, 0);
                    continue;
                }
            }
            if (drain)
                break;
            gw_ship_set_state(sh, "idle");
            wait_for(sh, IDLE_MS, &gen);
            continue;
        }
        if (gw_ship_send_batch(sh, n) != 0) {
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
