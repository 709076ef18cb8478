/* cloudtrail.h: CloudTrail log files read, joined with the audit log, and turned into findings. */
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

/* What reconcile considers, and how strictly. */
struct stsrole_recon_opts {
    int64_t from_ms, to_ms; /* the window the trail covers; 0: from the events seen */
    int grace_s;            /* a call allowed this long after revoke.ok is a warning, later
                               critical (IAM changes take seconds to apply everywhere) */
    int keep_calls;         /* keep each call of a known session (for the HTML report) */
};

struct stsrole_recon;

int stsrole_recon_new(struct stsrole_recon **r, const struct stsrole_recon_opts *o,
                      struct stsrole_error *err);
void stsrole_recon_free(struct stsrole_recon *r);

/* A role stsrole manages, by ARN; matched by role name in every account,
 * as the same roles exist in each (StackSets).  Every role_arn in the
 * audit log is added too. */
int stsrole_recon_add_role(struct stsrole_recon *r, const char *role_arn,
                           struct stsrole_error *err);

/* One audit-log line (stsrole-gatewayd(8), AUDIT LOG).  Every audit line
 * must come before the first event.  Lines that are not audit records are
 * counted and ignored. */
int stsrole_recon_audit_line(struct stsrole_recon *r, const char *line, size_t len,
                             struct stsrole_error *err);
/* A finding about the audit log itself, e.g. a broken hash chain. */
int stsrole_recon_audit_problem(struct stsrole_recon *r, const char *detail,
                                struct stsrole_error *err);

/* One CloudTrail record.  Matches stsrole_ct_parse's callback. */
int stsrole_recon_event(void *r, const struct stsrole_ct_event *ev, struct stsrole_error *err);

/*
 * What an aggregate query (Athena) says of one role session: how many
 * calls, when first and last.  Events fed afterwards with count_calls = 0
 * in the recon then only mark refusals and AssumeRole, so nothing is
 * counted twice.
 */
int stsrole_recon_session_summary(struct stsrole_recon *r, const char *issuer_arn,
                                  const char *session_name, const char *source_identity,
                                  const char *account, uint64_t calls, int64_t first_ms,
                                  int64_t last_ms, struct stsrole_error *err);
void stsrole_recon_count_calls(struct stsrole_recon *r, int on);

/* The session names of revoked sessions, '\n'-separated, for a query
 * that fetches their calls (Athena mode).  Caller frees. */
char *stsrole_recon_revoked_names(struct stsrole_recon *r);

/*
 * Computes the findings.  *out receives a JSON object:
 *   {"window":{"from","to"},"counts":{...},"findings":[...],
 *    "delays":[...],"sessions":[...]}
 * findings: objects with finding, severity (critical|warning|info),
 * time and the fields of the finding (see stsrolectl(8), RECONCILE).
 * sessions: one per SSH session, with a timeline (keep_calls adds each
 * call).  *critical receives the number of critical findings.  The
 * caller frees *out with cJSON_Delete.
 */
struct cJSON;
int stsrole_recon_finish(struct stsrole_recon *r, struct cJSON **out, size_t *critical,
                         struct stsrole_error *err);

#endif
