/* SPDX-License-Identifier: BSD-3-Clause */
/* reconcile.h: the audit log joined with CloudTrail, and what the join finds (stsrolectl(8)). */
#ifndef STSROLE_RECONCILE_H
#define STSROLE_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "cloudtrail.h"
#include "stsrole.h"

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

/* The revoked sessions, one "NAME YYYY-MM-DDTHH:MM:SSZ" line each (the
 * second of the deny), for a query that fetches their calls after it
 * (Athena mode).  Caller frees. */
char *stsrole_recon_revoked(struct stsrole_recon *r);

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
