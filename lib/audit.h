/* SPDX-License-Identifier: BSD-3-Clause */
/* audit.h: the hash-chained JSON Lines audit log: record format, durable append, verification. */
#ifndef STSROLE_AUDIT_H
#define STSROLE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "stsrole.h"

struct cJSON;

/*
 * One record per line, keys always in this order, absent values null:
 *
 *   {"seq":1,"ts":"2025-01-01T00:00:00.000Z","host":..,"bastion_id":..,
 *    "event":"session.close","user":..,"uid":..,"rhost":..,"tty":..,
 *    "session_id":..,"role_arn":..,"account":..,"session_name":..,
 *    "source_identity":..,"access_key_id":..,"expiration":..,
 *    "aws_request_id":..,"outcome":"ok","detail":..,
 *    "prev":"<SHA-256 hex of the previous line>","hash":"<SHA-256 hex>"}
 *
 * seq starts at 1 and grows by one per line.  prev of line 1 is 64 zeros.
 * A log that was rotated away continues in a new file whose first record
 * is event "audit.rotate", with the next seq and the SHA-256 of the old
 * file's last line as prev: each file verifies alone, and verifying the
 * files in order with one verifier checks the links between them.
 * hash is the SHA-256 of the line without its ,"hash":"..." member (the
 * line up to prev, closed with '}'), so an edited line is caught on that
 * line and not only on the next one.  No field ever holds a secret.
 */

#define STSROLE_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
#define STSROLE_AUDIT_ROTATE "audit.rotate"

/* What happened; NULL strings and uid < 0 / expiration 0 are written as null. */
struct stsrole_audit_record {
    const char *event; /* required: session.open, revoke.ok, ... */
    const char *user;
    long long uid;
    const char *rhost;
    const char *tty;
    const char *session_id;
    const char *role_arn;
    const char *account;
    const char *session_name;
    const char *source_identity;
    const char *access_key_id;
    int64_t expiration;
    const char *aws_request_id;
    const char *outcome; /* "ok", "error", "retry", ... */
    const char *detail;  /* free text for people */
    /* NULL, or an object whose members follow detail (a break-glass
     * request's id, role, reason, approvers, ...; the parent SSH session
     * of a credential minted after the login); a member named like one
     * above is left out. */
    const struct cJSON *extra;
};

/* Pure: the line (without '\n') for record r. */
int stsrole_audit_format(const char *host, const char *bastion_id, uint64_t seq, int64_t ts_ms,
                         const char *prev, const struct stsrole_audit_record *r,
                         struct stsrole_buf *out, struct stsrole_error *err);

/* Pure: a one-line summary for syslog (no newline), truncated to fit. */
void stsrole_audit_summary(uint64_t seq, const struct stsrole_audit_record *r, char *out,
                           size_t outlen);

/* The open log.  One writer only: open takes an exclusive flock. */
struct stsrole_audit_log {
    int fd;
    char *path;
    char *host;
    char *bastion_id;
    uint64_t seq;          /* of the last line, 0 for an empty log */
    char prev[65];         /* SHA-256 of the last line, genesis when empty */
    char last_event[32];   /* of the last line, "" when unknown */
    char last_session[33]; /* session_id of the last line, "" when none */
    size_t torn;           /* bytes of an unfinished last line cut off by open */
    int tail_ok;           /* 0: the last line does not verify (see stsrolectl audit verify) */
    size_t unsynced;       /* lines written by stsrole_audit_write since the last fsync */
};

/*
 * Opens (creating it 0600) or resumes the log: seq and prev continue from
 * its last line.  A last line without '\n' can only come from a write that
 * was never acknowledged (crash mid-append); it is cut off and counted in
 * a->torn.  The file must be a regular file owned by us, not a symlink,
 * not group- or world-writable (STSROLE_E_UNSAFE).  Another process holding
 * the log is STSROLE_E_IO.
 */
int stsrole_audit_open(struct stsrole_audit_log *a, const char *path, const char *host,
                       const char *bastion_id, struct stsrole_error *err);

/*
 * Appends one record at time ts_ms (ms since the epoch, UTC) with one
 * write(), then fsync()s it before returning.  line (may be NULL) receives
 * the line written.  On failure the log is left as it was.
 */
int stsrole_audit_append(struct stsrole_audit_log *a, const struct stsrole_audit_record *r,
                         int64_t ts_ms, struct stsrole_buf *line, struct stsrole_error *err);

/*
 * stsrole_audit_write appends as stsrole_audit_append does but leaves the
 * fsync to stsrole_audit_sync, which makes every line written before it
 * durable at once (a batch: one fsync for many records).  A line written
 * and not yet synced is in the file for every reader, the chain included;
 * only a crash of the machine (not of the process) can lose it.
 */
int stsrole_audit_write(struct stsrole_audit_log *a, const struct stsrole_audit_record *r,
                        int64_t ts_ms, struct stsrole_buf *line, struct stsrole_error *err);
int stsrole_audit_sync(struct stsrole_audit_log *a, struct stsrole_error *err);

/* What one of the log's last lines is about. */
struct stsrole_audit_tail_line {
    char event[32];
    char session[33]; /* "" when the record names no session */
};

/* A line is rarely longer: the tail read for max_lines lines is this many
 * bytes each. */
#define STSROLE_AUDIT_LINE_TYPICAL 4096

/*
 * The last max_lines lines of the log that verify on their own (each its
 * hash), oldest first: *out (free it) holds *n of them.  Reads at most
 * max_lines * STSROLE_AUDIT_LINE_TYPICAL bytes from the end.
 */
int stsrole_audit_tail(const struct stsrole_audit_log *a, size_t max_lines,
                       struct stsrole_audit_tail_line **out, size_t *n, struct stsrole_error *err);

void stsrole_audit_close(struct stsrole_audit_log *a);

/* Checks a log line by line.  After a failure bad_line names the first
 * line that is broken and why says how. */
struct stsrole_audit_verifier {
    size_t line;     /* lines accepted in the current file */
    size_t lines;    /* lines accepted so far, in all files */
    uint64_t seq;    /* seq of the last accepted line */
    char prev[65];   /* SHA-256 of the last accepted line */
    char hash[65];   /* the hash member of the last accepted line */
    size_t bad_line; /* 0 while the chain holds, else a line number in the current file */
    char why[256];
    /* Optional, set after init: the writer's own view of the last line
     * (its seq and SHA-256), which catches a truncated or rewritten tail
     * that the chain alone cannot. */
    uint64_t head_seq;
    char head_prev[65];
    int head_checked; /* set once the line at head_seq was compared */
};

void stsrole_audit_verify_init(struct stsrole_audit_verifier *v);
/* One line, without its '\n'.  Returns STSROLE_OK or STSROLE_E_PROTOCOL. */
int stsrole_audit_verify_line(struct stsrole_audit_verifier *v, const char *line, size_t len);
/* A whole file; the last line must end with '\n'.  STSROLE_E_PROTOCOL with
 * v->bad_line set when the chain is broken, STSROLE_E_NOTFOUND/IO when the
 * file cannot be read.  Called again with the same verifier for the next
 * file of a rotated log, it checks that file continues the chain. */
int stsrole_audit_verify_file(const char *path, struct stsrole_audit_verifier *v,
                              struct stsrole_error *err);

/*
 * An audit stream as CloudWatch Logs gives it back: the JSON that `aws logs
 * get-log-events` or `aws logs filter-log-events` prints, one or more
 * documents (pages) in order.  Each event's message is one audit line,
 * with its own chain hash (hash) and its predecessor's (prev).  Shipping
 * is at-least-once, so a record may arrive twice; events are grouped by
 * logStreamName (one stream per bastion) and sorted by seq.
 */
struct stsrole_audit_stream {
    char name[513];     /* logStreamName, "" when the export does not name it */
    size_t events;      /* events read */
    size_t records;     /* distinct records */
    size_t duplicates;  /* events repeating a record already read, byte for byte */
    uint64_t first_seq; /* the stream may begin after seq 1 (retention, a filter) */
    uint64_t last_seq;
    size_t gaps;        /* runs of missing seqs between first_seq and last_seq */
    uint64_t missing;   /* seqs missing in all */
    char first_gap[48]; /* "FROM..TO" of the first gap */
    size_t broken;      /* faults: an altered, unreadable or conflicting record */
    char why[256];      /* the first of them */
};

/* Pure: checks the chain of every stream in the exports (texts[i] of
 * lens[i] bytes).  *streams (free()) gets one report per stream.
 * STSROLE_E_PROTOCOL when an export is not such JSON at all. */
int stsrole_audit_verify_export(const char *const *texts, const size_t *lens, size_t ntexts,
                                struct stsrole_audit_stream **streams, size_t *nstreams,
                                struct stsrole_error *err);

#endif
