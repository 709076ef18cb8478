/* SPDX-License-Identifier: BSD-3-Clause */
/* cwlogs.h: a minimal CloudWatch Logs client (JSON protocol 1.1): streams, PutLogEvents, reads. */
#ifndef STSROLE_CWLOGS_H
#define STSROLE_CWLOGS_H

#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "stsrole.h"

/*
 * PutLogEvents' limits (CloudWatch Logs API reference, PutLogEvents):
 * at most 10,000 events and 1,048,576 bytes per batch, counting each
 * message's UTF-8 bytes plus 26; events in chronological order; one batch
 * spans at most 24 hours; no event more than 2 hours ahead or 14 days
 * behind (nor before the group's retention).  An event may hold 256 KB
 * (1 MB in newer regions): the smaller figure is used.
 */
#define STSROLE_LOGS_MAX_EVENTS 10000
#define STSROLE_LOGS_MAX_BATCH_BYTES 1048576
#define STSROLE_LOGS_EVENT_OVERHEAD 26
#define STSROLE_LOGS_MAX_MESSAGE (262144 - STSROLE_LOGS_EVENT_OVERHEAD)
#define STSROLE_LOGS_MAX_SPAN_MS (24LL * 3600 * 1000)
#define STSROLE_LOGS_MAX_AHEAD_MS (2LL * 3600 * 1000)
#define STSROLE_LOGS_MAX_AGE_MS (14LL * 24 * 3600 * 1000)
/* GetLogEvents answers up to 1 MB: a client reading events needs an
 * http config whose max_response is at least this. */
#define STSROLE_LOGS_MAX_RESPONSE (1536 * 1024)

/* Pure: 1 when name is a valid log group name (1-512 of [.-_/#A-Za-z0-9])
 * or log stream name (1-512 characters, no ':' or '*', no control
 * characters), else 0. */
int stsrole_logs_group_valid(const char *name);
int stsrole_logs_stream_valid(const char *name);

/* One event to send: message is NUL-terminated UTF-8 without NUL. */
struct stsrole_log_event {
    int64_t timestamp; /* ms since the epoch */
    const char *message;
};

/*
 * Pure: the timestamp to send for a record written at ts_ms, when the
 * previous event sent had prev_ms (0: none) and the clock says now_ms.
 * Never below prev_ms, so the events keep the log's order even when the
 * wall clock stepped back, and inside the window PutLogEvents accepts
 * (no more than 14 days back, with an hour to spare, and no more than an
 * hour ahead).  The message keeps the true time.
 */
int64_t stsrole_logs_timestamp(int64_t ts_ms, int64_t prev_ms, int64_t now_ms);

/* Pure: the bytes an event counts for in a batch (message + 26). */
size_t stsrole_logs_event_size(const char *message);

/*
 * Pure: the PutLogEvents request body.  STSROLE_E_INVALID when a limit
 * above is broken (count, sizes, order, span), a message is not valid
 * UTF-8 or a name is invalid.
 */
int stsrole_logs_put_body(const char *group, const char *stream, const struct stsrole_log_event *ev,
                          size_t n, struct stsrole_buf *out, struct stsrole_error *err);

/* What PutLogEvents refused (rejectedLogEventsInfo); -1 when absent. */
struct stsrole_logs_rejected {
    long long too_new_start; /* events from this index on were too new */
    long long too_old_end;   /* events up to this index were too old */
    long long expired_end;   /* events up to this index were past the retention */
};

/* Pure: the answer of PutLogEvents.  STSROLE_E_PROTOCOL when it is not a
 * JSON object. */
int stsrole_logs_parse_put(const char *body, size_t len, struct stsrole_logs_rejected *rej,
                           struct stsrole_error *err);

/*
 * PutLogEvents (no sequence token: CloudWatch Logs ignores them since
 * 2023).  STSROLE_OK with *rej filled; a missing group or stream is
 * STSROLE_E_NOTFOUND; otherwise the class of stsrole_aws_json.  After a
 * network, server or protocol failure the batch may or may not have been
 * stored.
 */
int stsrole_logs_put(struct stsrole_aws_client *c, const char *group, const char *stream,
                     const struct stsrole_log_event *ev, size_t n,
                     struct stsrole_logs_rejected *rej, struct stsrole_error *err);

/* CreateLogStream.  A stream that exists already is a success (*created
 * 0); a missing group is STSROLE_E_NOTFOUND. */
int stsrole_logs_create_stream(struct stsrole_aws_client *c, const char *group, const char *stream,
                               int *created, struct stsrole_error *err);

/* Events read back. */
struct stsrole_logs_got {
    int64_t timestamp;
    char *message;
};

struct stsrole_logs_page {
    struct stsrole_logs_got *ev;
    size_t n;
    char *forward;  /* nextForwardToken, or NULL */
    char *backward; /* nextBackwardToken, or NULL */
};

/* Pure: the GetLogEvents request body.  limit 1-10000; token may be NULL. */
int stsrole_logs_get_body(const char *group, const char *stream, int from_head, int limit,
                          const char *token, struct stsrole_buf *out, struct stsrole_error *err);
/* Pure: a GetLogEvents answer into page (free with stsrole_logs_page_free).
 * STSROLE_E_PROTOCOL when it is not an object with an events array whose
 * members carry a numeric timestamp and a string message. */
int stsrole_logs_parse_events(const char *body, size_t len, struct stsrole_logs_page *page,
                              struct stsrole_error *err);
void stsrole_logs_page_free(struct stsrole_logs_page *page);

/*
 * One page of GetLogEvents: the newest limit events when from_head is 0
 * and token NULL, in chronological order.  A missing group or stream is
 * STSROLE_E_NOTFOUND.
 */
int stsrole_logs_get_events(struct stsrole_aws_client *c, const char *group, const char *stream,
                            int from_head, int limit, const char *token,
                            struct stsrole_logs_page *page, struct stsrole_error *err);

#endif
