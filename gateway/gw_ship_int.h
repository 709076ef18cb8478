/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_ship_int.h: what the shipper's files (gw_ship.c: the thread and its hand-off with the main
 * loop; gw_ship_cursor.c; gw_ship_scan.c: the log scanner; gw_ship_send.c: PutLogEvents) share. */
#ifndef STSROLE_GW_SHIP_INT_H
#define STSROLE_GW_SHIP_INT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "cwlogs.h"

#define NOTES_MAX 32

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

void gw_ship_failed(struct gw_ship *sh, const char *what, const struct stsrole_error *err);
int gw_ship_fd_identity(int fd, uint64_t *dev, uint64_t *ino, int64_t *size);
void gw_ship_note(struct gw_ship *sh, const char *event, const char *outcome, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void gw_ship_set_state(struct gw_ship *sh, const char *state);
void gw_ship_cursor_load(struct gw_ship *sh);
int gw_ship_cursor_save(struct gw_ship *sh);
int gw_ship_scan_fill(struct gw_ship *sh, int64_t durable, size_t *nev);
int gw_ship_scan_fields(const char *text, size_t len, uint64_t *seq, char prev[65], int64_t *ts);
int gw_ship_scan_locate(struct gw_ship *sh);
void gw_ship_scan_use_src(struct gw_ship *sh, int fd, int64_t off);
int gw_ship_send_reconcile(struct gw_ship *sh, int64_t *wait_ms);
int gw_ship_send_batch(struct gw_ship *sh, size_t n);

#endif
