/* SPDX-License-Identifier: BSD-3-Clause */
/* cloudtrail.h: CloudTrail log files read: gzip inflated, the Records parsed one at a time. */
#ifndef STSROLE_CLOUDTRAIL_H
#define STSROLE_CLOUDTRAIL_H

#include <stddef.h>
#include <stdint.h>

#include "stsrole.h"

/* The largest CloudTrail file reconcile reads or inflates.  CloudTrail's
 * own stay far below (it delivers about every 5 minutes per account and
 * region); the cap bounds what a hostile file can make cJSON allocate. */
#define STSROLE_CT_MAX_FILE (128u * 1024 * 1024)

/*
 * One CloudTrail record, reduced to the fields reconcile reads (AWS
 * CloudTrail User Guide, "CloudTrail record contents").  Strings borrow
 * the parsed document and are NULL when the record lacks them.
 */
struct stsrole_ct_event {
    int64_t t_ms;                /* eventTime */
    const char *event_id;        /* eventID */
    const char *request_id;      /* requestID */
    const char *event_source;    /* "sts.amazonaws.com" */
    const char *event_name;      /* "AssumeRole" */
    const char *error_code;      /* "AccessDenied", NULL when the call succeeded */
    const char *account;         /* recipientAccountId */
    const char *source_ip;       /* sourceIPAddress */
    const char *identity_type;   /* userIdentity.type: "AssumedRole", ... */
    const char *identity_arn;    /* userIdentity.arn */
    const char *issuer_arn;      /* userIdentity.sessionContext.sessionIssuer.arn */
    const char *session_name;    /* the session part of userIdentity.arn (assumed-role/R/NAME) */
    const char *source_identity; /* userIdentity.sessionContext.sourceIdentity */
    /* requestParameters of sts:AssumeRole */
    const char *req_role_arn;
    const char *req_session_name;
    const char *req_source_identity;
};

/* CloudTrail's eventTime, "YYYY-MM-DDTHH:MM:SS[.fff]Z", to ms since the
 * epoch.  Returns 0, or -1 for anything else (no other zone, no leap
 * seconds beyond :60, no February 30th). */
int stsrole_ct_parse_time(const char *s, int64_t *ms);

/* Inflates a gzip (or zlib) buffer into out, at most max bytes
 * (STSROLE_E_PROTOCOL beyond, or when the data is corrupt).  A buffer
 * that is not gzip is copied as is, so plain JSON files work too. */
int stsrole_ct_gunzip(const void *in, size_t len, size_t max, struct stsrole_buf *out,
                      struct stsrole_error *err);

/*
 * Parses one CloudTrail log file ({"Records":[...]}) and calls fn for each
 * record that has a valid eventTime; *skipped counts those that do not.
 * fn returns STSROLE_OK to go on.  STSROLE_E_PROTOCOL when the text is not
 * such a file.
 */
int stsrole_ct_parse(const char *text, size_t len,
                     int (*fn)(void *ctx, const struct stsrole_ct_event *ev,
                               struct stsrole_error *err),
                     void *ctx, size_t *skipped, struct stsrole_error *err);

#endif
