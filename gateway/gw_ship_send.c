/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_ship_send.c: the shipper's PutLogEvents side: stream, reconciliation after a lost answer,
 * batches. */
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

/* How long an accepted batch may take to show in GetLogEvents, and a
 * request in flight to be processed, before "absent" means "not sent". */
#define SETTLE_MS 10000
#define TAIL_EVENTS 50
/* Pages read backward before the stream's state counts as unknown. */
#define TAIL_PAGES 100

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
        gw_ship_failed(sh, "CreateLogStream", &err);
        return -1;
    }
    if (created)
        gw_log(LOG_INFO, "audit shipping: created log stream %s in %s", sh->stream, sh->group);
    return 0;
}

/* What the end of the stream says, read backward page by page. */
struct tail {
    int found;       /* an event whose SHA-256 is the one looked for */
    int passed;      /* an event older than it (a smaller seq): it is not there */
    int head;        /* the token repeated: every event was read */
    int have_newest; /* newest_*: the stream's newest event */
    char newest_hash[65];
    int64_t newest_ts;
    uint64_t newest_seq;
};

/*
 * Reads the stream from its newest event backward (GetLogEvents,
 * startFromHead false, following nextBackwardToken) until the event whose
 * SHA-256 is want turns up, an older record than want_seq does, or the
 * token comes back unchanged (the stream's head).  CloudWatch Logs may
 * answer an empty page while older events exist, so an empty page ends
 * nothing: only the token does.  After TAIL_PAGES pages without an answer
 * the state is unknown (t->found, passed and head all 0).  want NULL:
 * only the newest event.  STSROLE_E_NOTFOUND: no such stream.
 */
static int
tail_search(struct gw_ship *sh, const char *want, uint64_t want_seq, struct tail *t,
            struct stsrole_error *err)
{
    struct stsrole_logs_page page;
    char h[65], prev[65], *token = NULL;
    uint64_t seq;
    int64_t ts;
    size_t i;
    int pages, rc = STSROLE_OK;

    memset(t, 0, sizeof(*t));
    for (pages = 0; pages < TAIL_PAGES && !t->found && !t->passed && !t->head; pages++) {
        rc = stsrole_logs_get_events(&sh->client, sh->group, sh->stream, 0, TAIL_EVENTS, token,
                                     &page, err);
        if (rc != STSROLE_OK)
            break;
        for (i = page.n; i > 0 && !t->found && !t->passed; i--) {
            const char *m = page.ev[i - 1].message;

            stsrole_sha256_hex(m, strlen(m), h);
            if (gw_ship_scan_fields(m, strlen(m), &seq, prev, &ts) != 0)
                seq = 0;
            if (!t->have_newest) {
                t->have_newest = 1;
                memcpy(t->newest_hash, h, sizeof(h));
                t->newest_ts = page.ev[i - 1].timestamp;
                t->newest_seq = seq;
                if (want == NULL)
                    t->found = 1;
            }
            if (want != NULL && strcmp(h, want) == 0)
                t->found = 1;
            else if (want != NULL && seq != 0 && seq < want_seq)
                t->passed = 1; /* the stream is in seq order: want would be newer */
        }
        t->head = page.backward == NULL || (token != NULL && strcmp(page.backward, token) == 0);
        free(token);
        token = page.backward;
        page.backward = NULL;
        stsrole_logs_page_free(&page);
    }
    free(token);
    return rc;
}

/*
 * What the stream holds: a pending batch found there becomes the end; one
 * shown absent after SETTLE_MS is dropped (it is sent again); while the
 * stream's pages say neither, nothing is sent again.  Without a cursor,
 * the stream's newest event says where to resume.  0 done, 1 wait
 * (*wait_ms), -1 failed.
 */
int
gw_ship_send_reconcile(struct gw_ship *sh, int64_t *wait_ms)
{
    struct stsrole_error err;
    struct tail t;
    int rc;
    int64_t age;

    if (sh->have_at && !sh->have_pend) {
        sh->reconciled = 1;
        return 0;
    }
    gw_ship_set_state(sh, "reconciling");
    rc = tail_search(sh, sh->have_pend ? sh->pend.hash : NULL, sh->have_pend ? sh->pend.seq : 0, &t,
                     &err);
    if (rc == STSROLE_E_NOTFOUND) {
        if (make_stream(sh) != 0)
            return -1;
        memset(&t, 0, sizeof(t));
        t.head = 1; /* a new stream holds nothing */
    } else if (rc != STSROLE_OK) {
        gw_ship_failed(sh, "GetLogEvents", &err);
        return -1;
    }
    if (sh->have_pend) {
        age = gw_now_ms() - sh->pend_since;
        if (t.found) {
            gw_log(LOG_NOTICE,
                   "audit shipping: the batch through seq %llu is in the stream "
                   "already; not sending it again",
                   (unsigned long long)sh->pend.seq);
            sh->at = sh->pend;
            sh->have_at = 1;
        } else if (age >= 0 && age < SETTLE_MS) {
            *wait_ms = SETTLE_MS - age;
            gw_ship_set_state(sh, "settling");
            return 1;
        } else if (!t.passed && !t.head) {
            /* Neither found nor shown absent: sending it again could
             * store it twice.  Ask again later. */
            gw_log(LOG_NOTICE,
                   "audit shipping: %d pages of the stream did not show whether the batch "
                   "through seq %llu is there; asking again in %d s",
                   TAIL_PAGES, (unsigned long long)sh->pend.seq, SETTLE_MS / 1000);
            *wait_ms = SETTLE_MS;
            gw_ship_set_state(sh, "reconciling: unknown");
            return 1;
        } else {
            gw_log(LOG_NOTICE,
                   "audit shipping: the batch through seq %llu is not in the stream "
                   "%lld s after it was sent; sending it again",
                   (unsigned long long)sh->pend.seq, (long long)(age / 1000));
        }
        sh->have_pend = 0;
        sh->located = 0; /* at moved, or src must go back to it */
        gw_ship_cursor_save(sh);
    } else if (t.have_newest) {
        /* No cursor: resume after the stream's newest event. */
        memset(&sh->at, 0, sizeof(sh->at));
        memcpy(sh->at.hash, t.newest_hash, sizeof(sh->at.hash));
        sh->at.end = -1;
        sh->at.sent_ts = t.newest_ts;
        sh->at.seq = t.newest_seq;
        sh->have_at = 1;
        sh->located = 0;
    } else if (!t.head) {
        /* Pages without events and without the head: the stream may hold
         * events; resuming from the log's start could ship them twice. */
        gw_log(LOG_NOTICE,
               "audit shipping: %d pages of the stream showed no event and not its "
               "start; asking again in %d s",
               TAIL_PAGES, SETTLE_MS / 1000);
        *wait_ms = SETTLE_MS;
        gw_ship_set_state(sh, "reconciling: unknown");
        return 1;
    }
    sh->reconciled = 1;
    return 0;
}

/* Sends the batch of n events; 0 sent, -1 not. */
int
gw_ship_send_batch(struct gw_ship *sh, size_t n)
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
    if (gw_ship_cursor_save(sh) != 0) {
        sh->have_pend = 0;
        stsrole_fail(&err, STSROLE_E_IO, "cannot write %s", sh->cursor_path);
        gw_ship_failed(sh, "cursor", &err);
        return -1;
    }
    gw_ship_set_state(sh, "sending");
    rc = stsrole_logs_put(&sh->client, sh->group, sh->stream, sh->ev, n, &rej, &err);
    if (rc == STSROLE_OK) {
        sh->at = sh->pend;
        sh->have_at = 1;
        sh->have_pend = 0;
        sh->off = last->end;
        gw_ship_cursor_save(sh);
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
            gw_ship_note(sh, "ship.rejected", "error",
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
        gw_ship_cursor_save(sh);
        if (make_stream(sh) == 0)
            sh->attempts++; /* sent again after a second */
        return -1;
    }
    gw_ship_failed(sh, "PutLogEvents", &err);
    if (rc == STSROLE_E_NETWORK || rc == STSROLE_E_SERVER || rc == STSROLE_E_PROTOCOL) {
        /* It may have landed: look before sending it again. */
        sh->reconciled = 0;
        return -1;
    }
    sh->have_pend = 0;
    gw_ship_cursor_save(sh);
    return -1;
}
