/* SPDX-License-Identifier: BSD-3-Clause */
/* approval.h: break-glass requests: the reason check, the state of one request, its session tags.
 */
#ifndef STSROLE_APPROVAL_H
#define STSROLE_APPROVAL_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "conf.h"
#include "stsrole.h"

/* STS: a session tag value is at most 256 characters. */
#define STSROLE_TAG_VALUE_MAX 256
/* The longest reason a requester may type; the tag carries its first 256. */
#define STSROLE_REASON_MAX 1024
#define STSROLE_REQUEST_ID_LEN 16 /* hex digits */

enum stsrole_request_state {
    STSROLE_REQ_PENDING = 0,
    STSROLE_REQ_APPROVED,  /* enough approvals arrived in time */
    STSROLE_REQ_DENIED,    /* an approver said no */
    STSROLE_REQ_CANCELLED, /* the requester withdrew it */
    STSROLE_REQ_EXPIRED,   /* approval_timeout passed first */
};

struct stsrole_request {
    char id[STSROLE_REQUEST_ID_LEN + 1];
    char *role;
    char *requester;
    uid_t requester_uid;
    char *reason;
    time_t created;
    time_t expires;
    int needed; /* the role's approvals, when the request was made */
    char *approvers[STSROLE_APPROVALS_MAX];
    size_t n_approvers;
    char *decided_by; /* who denied or cancelled it */
    time_t decided;   /* when it stopped being pending */
    enum stsrole_request_state state;
    /* Set by the gateway: the requester's SSH session (the credential
     * becomes one of its profiles; its logout cancels the request), and
     * whether the approved credential was minted (1) or could not be (-1). */
    char session[33];
    int minted;
};

/* Whether a reason is acceptable for role: present when required, at most
 * STSROLE_REASON_MAX bytes of valid UTF-8, no control characters (C0, DEL,
 * C1) nor bidirectional or zero-width formatting ones, matching
 * reason_pattern.
 * STSROLE_E_INVALID with a message the requester can be shown. */
int stsrole_reason_check(const struct stsrole_role *role, const char *reason,
                         struct stsrole_error *err);

/* Copies in into out (size outsz) as a session tag value: each character
 * that STS does not allow in a tag value ([\p{L}\p{Z}\p{N}_.:/=+\-@]),
 * and every non-ASCII byte, becomes '_'; at most STSROLE_TAG_VALUE_MAX
 * characters and outsz - 1 bytes. */
void stsrole_tag_value(const char *in, char *out, size_t outsz);

/* 1 when user may approve for role: named in approvers, or a member of
 * one of its @GROUPs; groups lists the names of all of user's groups
 * (primary and supplementary, as the caller resolved them through NSS),
 * NULL-terminated. */
int stsrole_approver_listed(const struct stsrole_role *role, const char *user,
                            const char *const *groups);

/* Fills a pending request; id is 16 hex digits from the caller's random
 * source.  The strings are copied.  A role with reason = required and no
 * approvals is approved at once (needed 0, no approvers). */
int stsrole_request_init(struct stsrole_request *req, const struct stsrole_role *role,
                         const char *id, const char *requester, uid_t uid, const char *reason,
                         time_t now, struct stsrole_error *err);
void stsrole_request_free(struct stsrole_request *req);

/* One approval by approver, whom the caller has found in the role's
 * approvers and with a live MFA-verified session.  Refused (E_DENIED)
 * from the requester, twice from the same person, or when the request is
 * no longer pending; a pending request past its expiry becomes EXPIRED
 * first.  *approved is 1 when this approval was the last one needed. */
int stsrole_request_approve(struct stsrole_request *req, const char *approver, time_t now,
                            int *approved, struct stsrole_error *err);
/* Deny (by an approver) or cancel (by the requester): pending only. */
int stsrole_request_deny(struct stsrole_request *req, const char *who, time_t now,
                         struct stsrole_error *err);
int stsrole_request_cancel(struct stsrole_request *req, const char *who, time_t now,
                           struct stsrole_error *err);
/* Cancelled on the requester's behalf, by (e.g. "logout": their session
 * ended): pending only. */
int stsrole_request_withdraw(struct stsrole_request *req, const char *by, time_t now,
                             struct stsrole_error *err);
/* A pending request past its expiry becomes EXPIRED; returns 1 when it did. */
int stsrole_request_expire(struct stsrole_request *req, time_t now);

/* The gateway's requests.  A person has at most STSROLE_REQUESTS_PER_USER
 * pending at once, and one per role, so no local user can fill the table
 * or flood the approvers. */
#define STSROLE_REQUESTS_MAX 256
#define STSROLE_REQUESTS_PER_USER 3

struct stsrole_requests {
    struct stsrole_request *v;
    size_t n;
};

/* Moves *req (pending, or approved at once: needed 0) into t; req is left empty.  E_DENIED when its
 * requester already has a pending request for the role, or
 * STSROLE_REQUESTS_PER_USER pending ones, or the table is full even
 * after stsrole_requests_prune; E_INVALID for a duplicate id. */
int stsrole_requests_add(struct stsrole_requests *t, struct stsrole_request *req,
                         struct stsrole_error *err);
/* The request with id, or NULL; valid until the next add or prune. */
struct stsrole_request *stsrole_requests_find(struct stsrole_requests *t, const char *id);
/* Forgets the requests that are no longer pending and were decided (or
 * expired) before now - keep seconds.  The audit log keeps them. */
void stsrole_requests_prune(struct stsrole_requests *t, time_t now, time_t keep);
void stsrole_requests_free(struct stsrole_requests *t);

/* One line of JSON, newline-terminated, saying what happened to a request:
 * {"event":EVENT,"id":...,"role":...,"requester":...,"reason":...,
 * "state":...,"needed":N,"approvers":[...],"by":ACTOR,"expires":T}.  The
 * line notify's command reads on its standard input and syslog gets; the
 * reason is JSON-escaped, so it cannot forge a second line.  by may be
 * NULL.  *out is malloc'd. */
int stsrole_request_event(const struct stsrole_request *req, const char *event, const char *by,
                          char **out, struct stsrole_error *err);

/* "pending", "approved", ... for audit records and listings. */
const char *stsrole_request_state_name(enum stsrole_request_state s);

/* The values of the stsrole:reason and stsrole:approvers session tags of
 * an approved request (approvers separated by spaces, "none" when the
 * role needs no approval), each cleaned by stsrole_tag_value; both
 * buffers STSROLE_TAG_VALUE_MAX + 1 bytes. */
int stsrole_request_tags(const struct stsrole_request *req, char reason[STSROLE_TAG_VALUE_MAX + 1],
                         char approvers[STSROLE_TAG_VALUE_MAX + 1], struct stsrole_error *err);

#endif
