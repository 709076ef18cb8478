/* SPDX-License-Identifier: BSD-3-Clause */
/* mint.h: mint one session credential for a person from the config: session name, tags, AssumeRole.
 */
#ifndef STSROLE_MINT_H
#define STSROLE_MINT_H

#include <stdint.h>

#include "aws.h"
#include "conf.h"
#include "policy.h"
#include "sts.h"

/* The AssumeRole parameters of a person's session: session name
 * "<user>@<bastion_id>.<nonce>" (into name), SourceIdentity = user, the tags
 * stsrole:bastion, stsrole:mfa = mfa (the method that passed: "totp", or
 * "none" for an operator's stsrolectl assume), stsrole:session = session_id,
 * stsrole:sid = the session's revocation key (into sid, derived from
 * session_id; the one transitive tag) and the role's tag.KEY lines (into
 * tags), the role's (or the global) duration and its ExternalId.  ap points
 * into tags, name and sid. */
int stsrole_mint_params(const struct stsrole_config *cfg, const struct stsrole_role *role,
                        const char *user, const char *session_id, const char *nonce,
                        const char *mfa, struct stsrole_tag tags[50], char name[65],
                        char sid[STSROLE_SID_LEN + 1], struct stsrole_assume_params *ap,
                        struct stsrole_error *err);

/* Adds the break-glass tags stsrole:reason and stsrole:approvers (values
 * from stsrole_request_tags, which the caller keeps alive) to the
 * parameters stsrole_mint_params built in tags.  E_INVALID when either is
 * empty or the 50 tags STS allows would be exceeded. */
int stsrole_mint_breakglass(struct stsrole_assume_params *ap, struct stsrole_tag tags[50],
                            const char *reason, const char *approvers, struct stsrole_error *err);

/* (In mint.c, not sts.c, so that the call to stsrole_sts_parse_assume
 * stays a reference between objects, which the fault injection wraps.) */
/* One AssumeRole through client c: validates and encodes ap, sends it with
 * c's retries, decodes the answer into out.  request_id receives AWS's
 * request id, on failure too when AWS answered. */
int stsrole_mint_assume(struct stsrole_aws_client *c, const struct stsrole_assume_params *ap,
                        struct stsrole_assumed *out, char request_id[128],
                        struct stsrole_error *err);

/* What a mint needs beyond the config. */
struct stsrole_mint {
    const char *user;              /* SourceIdentity */
    const char *session_id;        /* STSROLE_SESSION_ID; also the nonce in the session name */
    const char *mfa;               /* the stsrole:mfa tag: the method that passed, or "none" */
    char session_name[65];         /* filled by stsrole_mint */
    char sid[STSROLE_SID_LEN + 1]; /* filled by stsrole_mint: the stsrole:sid tag */
    int chained_from;              /* filled: the duration asked for, when role chaining cut it */
};

/* Role chaining, known at run time: when base's credential carries a
 * session token it is a role session, and AWS refuses AssumeRole from it
 * for longer than STSROLE_CHAINED_MAX (ValidationError).  Cuts
 * ap->duration to that and sets *cut_from to what was asked (else 0).
 * Fetches the base credential (cached in base for the call after). */
int stsrole_mint_chained(struct stsrole_creds_provider *base, struct stsrole_assume_params *ap,
                         int *cut_from, struct stsrole_error *err);

/* Assumes role for m->user: builds the session name, SourceIdentity and
 * the tags stsrole:bastion, stsrole:mfa = m->mfa, stsrole:session, stsrole:sid, the role's
 * duration (cut by stsrole_mint_chained; m->chained_from says so) and
 * ExternalId, then calls STS through cfg's endpoint and base credentials,
 * with retries.  err carries the AWS request id on failure. */
int stsrole_mint(const struct stsrole_config *cfg, const struct stsrole_role *role,
                 struct stsrole_mint *m, struct stsrole_assumed *out, char request_id[128],
                 struct stsrole_error *err);

#endif
