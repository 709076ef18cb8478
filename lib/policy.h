/* policy.h: the revocation deny policy on a target role: build, parse back, prune, budget. */
#ifndef STSROLE_POLICY_H
#define STSROLE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "stsrole.h"

/*
 * AWS cannot revoke an STS credential; it can only deny it.  The gateway
 * keeps, per target role, one inline policy "stsrole-revoked-<bastion_id>"
 * (so two bastions never overwrite each other) holding:
 *
 *   {"Sid":"StsroleRevoked","Effect":"Deny","Action":"*","Resource":"*",
 *    "Condition":{"StringEquals":{"aws:userid":["AROA...:session", ...]}}}
 *
 * and, only after a budget fallback or `stsrolectl revoke --all`, AWS's
 * "revoke older sessions" statement:
 *
 *   {"Sid":"StsroleRevokedOlder","Effect":"Deny","Action":"*","Resource":"*",
 *    "Condition":{"DateLessThan":{"aws:TokenIssueTime":"2025-01-01T00:00:00Z"}}}
 *
 * Everything here is pure: the clock is a parameter.
 */

/* IAM: all inline policies of one role share 10,240 characters, whitespace
 * not counted (IAM and STS quotas, "Role inline policy size"). */
#define STSROLE_POLICY_BUDGET 10240
/* AssumeRole's largest DurationSeconds (role MaxSessionDuration cap): no
 * credential issued before a cut-off outlives cut-off + this. */
#define STSROLE_POLICY_MAX_TOKEN_LIFE 43200
/* An aws:userid is "AROA<id>:<RoleSessionName>": 21 + 1 + at most 64. */
#define STSROLE_USERID_MAX 128
/* The cost of one more entry in the list, worst case: quotes, comma and
 * the longest userid STS issues (AROA id of 21 + ':' + 64). */
#define STSROLE_POLICY_ENTRY_MAX (86 + 3)

#define STSROLE_POLICY_SID_LIST "StsroleRevoked"
#define STSROLE_POLICY_SID_OLDER "StsroleRevokedOlder"

struct stsrole_revoked_entry {
    char userid[STSROLE_USERID_MAX + 1];
    int64_t issued;  /* when the session opened (bastion clock), or an upper bound */
    int64_t expires; /* when the credential expires anyway, or an upper bound */
    int exact;       /* 0: both are bounds (the entry was read back from IAM) */
};

struct stsrole_revoked_set {
    struct stsrole_revoked_entry *v;
    size_t n, cap;
    int64_t older_than;  /* 0: no TokenIssueTime statement */
    int64_t older_until; /* the TokenIssueTime statement may be pruned after this */
    char *foreign;       /* statements we did not write, kept verbatim (a JSON array), or NULL */
};

void stsrole_revoked_init(struct stsrole_revoked_set *s);
void stsrole_revoked_free(struct stsrole_revoked_set *s);
/* Deep copy; dst must be initialised (its old content is freed). */
int stsrole_revoked_copy(struct stsrole_revoked_set *dst, const struct stsrole_revoked_set *src,
                         struct stsrole_error *err);
/* 1 when the set writes no statement at all (the policy should be deleted). */
int stsrole_revoked_empty(const struct stsrole_revoked_set *s);

/* 1 when userid looks like an aws:userid STS issues: [A-Za-z0-9] id, ':',
 * then RoleSessionName characters [\w+=,.@-]; nothing that needs JSON escaping. */
int stsrole_userid_valid(const char *userid);

/* Index of userid in the list, or -1. */
long stsrole_revoked_find(const struct stsrole_revoked_set *s, const char *userid);

/* 1 when a credential issued at `issued` is already denied by the
 * TokenIssueTime statement (issued + skew before the cut-off). */
int stsrole_revoked_covers(const struct stsrole_revoked_set *s, int64_t issued, int64_t skew);

/*
 * Removes entries whose credential expired more than skew seconds ago, and
 * the TokenIssueTime statement once older_until has passed.  Returns how
 * many entries were removed; *older_removed (may be NULL) is set to 1 when
 * the statement went.
 */
size_t stsrole_revoked_prune(struct stsrole_revoked_set *s, int64_t now, int64_t skew,
                             int *older_removed);

/* The compact JSON document (no whitespace), or an empty buffer when the
 * set is empty.  Entries are written in list order. */
int stsrole_revoked_to_json(const struct stsrole_revoked_set *s, struct stsrole_buf *out,
                            struct stsrole_error *err);

/*
 * Parses a document back (as IAM returns it, already URL-decoded).  Our two
 * statements are recognised by Sid; every other statement is kept verbatim
 * in s->foreign, so a rewrite never drops a Deny we did not write.  Entries
 * read back get bounds, exact = 0: issued = read_at (the credential existed
 * when the document was read) and expires = unknown_expiry.
 * Anything that is not a policy document is STSROLE_E_PROTOCOL.
 */
int stsrole_revoked_from_json(const char *doc, size_t len, int64_t read_at, int64_t unknown_expiry,
                              struct stsrole_revoked_set *s, struct stsrole_error *err);

/* Merges src into dst: union of entries (an exact expiry wins over a guess,
 * otherwise the later one), later cut-off, later older_until; dst keeps its
 * own foreign statements unless it has none. */
int stsrole_revoked_merge(struct stsrole_revoked_set *dst, const struct stsrole_revoked_set *src,
                          struct stsrole_error *err);

/* Drops the listed entries the TokenIssueTime statement covers (after a
 * merge brought older ones back); returns how many. */
size_t stsrole_revoked_fold(struct stsrole_revoked_set *s, int64_t skew);

/* IAM's measure: characters that are not whitespace. */
size_t stsrole_policy_size(const char *doc, size_t len);

struct stsrole_policy_budget {
    size_t limit;    /* STSROLE_POLICY_BUDGET minus the role's other inline policies */
    size_t used;     /* the size of our document */
    size_t reserve;  /* kept free so the TokenIssueTime fallback always fits */
    size_t left;     /* limit - used - reserve, 0 when over */
    size_t capacity; /* how many more worst-case entries fit in left */
};

/* others = the summed size of the role's other inline policies (0 when
 * unknown: IAM then has the last word with LimitExceeded). */
int stsrole_revoked_budget(const struct stsrole_revoked_set *s, size_t others,
                           struct stsrole_policy_budget *b, struct stsrole_error *err);

struct stsrole_revoke_outcome {
    size_t added;     /* entries newly listed (or with a refreshed expiry) */
    size_t covered;   /* not listed: the cut-off already denies them */
    int fallback;     /* 1: the list did not fit, the cut-off moved to now */
    size_t collapsed; /* listed entries dropped because the new cut-off covers them */
};

/*
 * Adds entries to the set, within the budget.  An entry the TokenIssueTime
 * statement already covers is not listed.  When the list would not fit
 * (leaving room for the fallback statement), the documented fallback
 * happens: the cut-off moves to now (AWS's "revoke older sessions"), which
 * also denies every other credential of the role issued before now; the
 * listed entries it covers are dropped, and out->fallback is set so the
 * caller audits it.  When even that does not fit (the role's other inline
 * policies use the budget), nothing changes and STSROLE_E_INVALID is
 * returned: the caller must fail loudly and retry.  The set is changed only
 * on success.
 */
int stsrole_revoked_add(struct stsrole_revoked_set *s, const struct stsrole_revoked_entry *add,
                        size_t n_add, size_t others, int64_t now, int64_t skew,
                        struct stsrole_revoke_outcome *out, struct stsrole_error *err);

/* `revoke --all`: the cut-off moves to now; listed entries it covers go. */
int stsrole_revoked_revoke_older(struct stsrole_revoked_set *s, int64_t now, int64_t skew,
                                 size_t *collapsed, struct stsrole_error *err);

#endif
