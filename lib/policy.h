/* SPDX-License-Identifier: BSD-3-Clause */
/* policy.h: the revocation deny policy on a target role: build, parse back, prune, budget. */
#ifndef STSROLE_POLICY_H
#define STSROLE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "stsrole.h"

/*
 * AWS cannot revoke an STS credential; it can only deny it.  The gateway
 * keeps, per target role, one inline policy "stsrole-revoked-<bastion_id>"
 * (so two bastions never overwrite each other) holding up to four kinds of
 * Deny statement (Effect Deny, Action *, Resource *), recognised by Sid:
 *
 *   StsroleSid           StringEquals aws:PrincipalTag/stsrole:sid [sid, ...]
 *                        one entry per revoked SSH session: every credential
 *                        the session had carries its sid as a transitive tag
 *   StsroleRevoked       StringEquals aws:userid ["AROA...:session", ...]
 *                        one entry per credential, written before sids
 *                        existed; read back and kept until they expire
 *   StsrolePerson<N>     StringEquals aws:SourceIdentity PERSON and
 *                        DateLessThan aws:TokenIssueTime CUT-OFF: one
 *                        person's revoked sessions folded into one statement
 *   StsroleRevokedOlder  DateLessThan aws:TokenIssueTime CUT-OFF: the
 *                        role-wide last resort (and `stsrolectl revoke --all`)
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
/* SourceIdentity: 2 to 64 characters of [\w+=,.@-] (STS AssumeRole). */
#define STSROLE_PERSON_MAX 64
/* The revocation key: 12 characters of RFC 4648 base32, lower case (60 bits). */
#define STSROLE_SID_LEN 12
#define STSROLE_SID_TAG "stsrole:sid"
/* The cost of one more entry in a list, worst case: quotes, comma, key. */
#define STSROLE_POLICY_SID_COST (STSROLE_SID_LEN + 3)
#define STSROLE_POLICY_USERID_COST (86 + 3)

#define STSROLE_POLICY_SID_LIST "StsroleRevoked"
#define STSROLE_POLICY_SID_SIDS "StsroleSid"
#define STSROLE_POLICY_SID_PERSON "StsrolePerson"
#define STSROLE_POLICY_SID_OLDER "StsroleRevokedOlder"

enum stsrole_revoked_kind {
    STSROLE_KEY_SID = 0, /* aws:PrincipalTag/stsrole:sid: a whole SSH session */
    STSROLE_KEY_USERID,  /* aws:userid: one credential (before sids) */
};

struct stsrole_revoked_entry {
    int kind;                            /* enum stsrole_revoked_kind */
    char key[STSROLE_USERID_MAX + 1];    /* the sid or the aws:userid */
    char person[STSROLE_PERSON_MAX + 1]; /* SourceIdentity, "" when unknown */
    int64_t issued;  /* the session's latest credential was issued then (bastion clock), or later */
    int64_t expires; /* when its last credential expires anyway, or an upper bound */
    int exact;       /* 0: both are bounds (the entry was read back from IAM) */
};

/* One person's cut-off: their credentials issued before `before` are denied. */
struct stsrole_revoked_person {
    char person[STSROLE_PERSON_MAX + 1];
    int64_t before;
    int64_t until; /* the statement may be pruned after this */
};

struct stsrole_revoked_set {
    struct stsrole_revoked_entry *v;
    size_t n, cap;
    struct stsrole_revoked_person *p;
    size_t np, pcap;
    int64_t older_than;  /* 0: no role-wide TokenIssueTime statement */
    int64_t older_until; /* that statement may be pruned after this */
    char *foreign;       /* statements we did not write, kept verbatim (a JSON array), or NULL */
};

/* A credential that is still live, for the compaction's choices. */
struct stsrole_live {
    const char *person; /* SourceIdentity */
    int64_t issued;     /* bastion clock */
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
/* 1 when sid is 8 to 32 characters of [a-z0-9] (stsrole writes 12 of base32). */
int stsrole_sid_valid(const char *sid);
/* 1 when person is a SourceIdentity STS accepts: 2 to 64 of [\w+=,.@-]. */
int stsrole_person_valid(const char *person);
/* 1 when key is valid for its kind. */
int stsrole_revoked_key_valid(int kind, const char *key);

/* The revocation key of an SSH session: its first 60 bits (15 hex digits
 * of the 32-digit session id) in base32, lower case.  Pure, so every
 * AssumeRole of the session (login, each refresh) derives the same sid.
 * out must hold STSROLE_SID_LEN + 1 bytes. */
int stsrole_sid_from_session_id(const char *session_id, char out[STSROLE_SID_LEN + 1],
                                struct stsrole_error *err);

/* Index of (kind, key) in the list, or -1. */
long stsrole_revoked_find(const struct stsrole_revoked_set *s, int kind, const char *key);

/* 1 when a credential of person (NULL: unknown) issued at `issued` is
 * surely denied by a cut-off: issued + skew before the role-wide one, or
 * before person's. */
int stsrole_revoked_covers(const struct stsrole_revoked_set *s, const char *person, int64_t issued,
                           int64_t skew);
/* 1 when a cut-off may deny it: issued before a cut-off + skew.  Live
 * sessions for which this holds are audited as hit. */
int stsrole_revoked_may_hit(const struct stsrole_revoked_set *s, const char *person, int64_t issued,
                            int64_t skew);

/*
 * Removes entries whose credential expired more than skew seconds ago, and
 * the cut-off statements once their `until` has passed.  Returns how many
 * entries were removed; *cutoffs_removed (may be NULL) is set to the number
 * of cut-off statements that went.
 */
size_t stsrole_revoked_prune(struct stsrole_revoked_set *s, int64_t now, int64_t skew,
                             int *cutoffs_removed);

/* The compact JSON document (no whitespace), or an empty buffer when the
 * set is empty. */
int stsrole_revoked_to_json(const struct stsrole_revoked_set *s, struct stsrole_buf *out,
                            struct stsrole_error *err);

/*
 * Parses a document back (as IAM returns it, already URL-decoded).  Our
 * statements are recognised by Sid; every other statement is kept verbatim
 * in s->foreign, so a rewrite never drops a Deny we did not write.  Entries
 * read back get bounds, exact = 0: issued = read_at (the credential existed
 * when the document was read) and expires = unknown_expiry; person cut-offs
 * get until = before + STSROLE_POLICY_MAX_TOKEN_LIFE.
 * Anything that is not a policy document is STSROLE_E_PROTOCOL.
 */
int stsrole_revoked_from_json(const char *doc, size_t len, int64_t read_at, int64_t unknown_expiry,
                              struct stsrole_revoked_set *s, struct stsrole_error *err);

/* Merges src into dst: union of entries (an exact expiry wins over a guess,
 * otherwise the later one), the later cut-off of each person and of the
 * role; dst keeps its own foreign statements unless it has none. */
int stsrole_revoked_merge(struct stsrole_revoked_set *dst, const struct stsrole_revoked_set *src,
                          struct stsrole_error *err);

/* Drops the listed entries a cut-off covers (after a merge brought older
 * ones back), and person cut-offs the role-wide one makes redundant;
 * returns how many entries went. */
size_t stsrole_revoked_fold(struct stsrole_revoked_set *s, int64_t skew);

/* IAM's measure: characters that are not whitespace. */
size_t stsrole_policy_size(const char *doc, size_t len);

struct stsrole_policy_budget {
    size_t limit;    /* STSROLE_POLICY_BUDGET minus the role's other inline policies */
    size_t used;     /* the size of our document */
    size_t reserve;  /* kept free so the role-wide cut-off always fits */
    size_t left;     /* limit - used - reserve, 0 when over */
    size_t capacity; /* how many more sessions fit in left as sid entries */
};

/* others = the summed size of the role's other inline policies (0 when
 * unknown: IAM then has the last word with LimitExceeded). */
int stsrole_revoked_budget(const struct stsrole_revoked_set *s, size_t others,
                           struct stsrole_policy_budget *b, struct stsrole_error *err);

#define STSROLE_COMPACT_MAX 16

/* One person's entries folded into their cut-off statement. */
struct stsrole_compaction {
    char person[STSROLE_PERSON_MAX + 1];
    int64_t before;  /* the person's cut-off after the compaction */
    size_t folded;   /* listed entries it replaced */
    size_t own_live; /* the person's live credentials it may also deny */
    int64_t window;  /* their sessions opened before this may be denied too (0: none after now) */
};

struct stsrole_revoke_outcome {
    size_t added;   /* entries newly listed (or with a later issue or expiry) */
    size_t covered; /* not listed: a cut-off already denies them */
    struct stsrole_compaction comp[STSROLE_COMPACT_MAX];
    size_t n_comp;
    int fallback;     /* 1: the role-wide cut-off was set or moved */
    int64_t cutoff;   /* that cut-off */
    size_t collapsed; /* listed entries it replaced */
};

/*
 * Adds entries to the set (an entry's key, person and times; exact = 1),
 * within the budget.  An entry a cut-off already covers is not listed.
 * When the list would not fit (leaving room for the role-wide statement):
 *
 *  1. per person, the person with the most entries that can be folded
 *     without touching any of their live credentials (live[]) or any they
 *     open later (the cut-off stays skew before the oldest, and before now)
 *     gets a cut-off statement that replaces those entries, while that
 *     makes the document smaller; then
 *  2. the person with the most entries gets a cut-off past all of them
 *     (their live credentials it may hit are counted in own_live); then
 *  3. the role-wide cut-off, set just past the fewest (oldest) entries that
 *     must go (at most skew past the newest), which also denies every other
 *     credential of the role issued before it.
 *
 * Every revoked entry stays denied: listed or under a cut-off, never
 * dropped for the budget.  Only when even the role-wide statement alone
 * cannot fit (the role's other inline policies use the budget) does the
 * call fail, with STSROLE_E_INVALID, and the set is unchanged; it is also
 * changed only on success.
 */
int stsrole_revoked_add(struct stsrole_revoked_set *s, const struct stsrole_revoked_entry *add,
                        size_t n_add, size_t others, const struct stsrole_live *live, size_t n_live,
                        int64_t now, int64_t skew, struct stsrole_revoke_outcome *out,
                        struct stsrole_error *err);

/* `revoke --all`: the role-wide cut-off moves to now; listed entries it covers go. */
int stsrole_revoked_revoke_older(struct stsrole_revoked_set *s, int64_t now, int64_t skew,
                                 size_t *collapsed, struct stsrole_error *err);

/* The deny policy's name on each role: "stsrole-revoked-<bastion_id>" (so
 * two bastions never overwrite each other), characters outside IAM's
 * policy-name set [\w+=,.@-] replaced by '-', cut at IAM's 128.  Pure. */
void stsrole_policy_name(const char *bastion_id, char out[129]);

#endif
