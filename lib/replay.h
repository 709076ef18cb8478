/* SPDX-License-Identifier: BSD-3-Clause */
/* replay.h: fleet-wide TOTP replay protection: each accepted step claimed once in DynamoDB. */
#ifndef STSROLE_REPLAY_H
#define STSROLE_REPLAY_H

#include <stdint.h>

#include "aws.h"
#include "stsrole.h"
#include "totp.h"

struct cJSON;

/*
 * liboath's users file refuses a replayed code on one bastion only.  With
 * replay_store = dynamodb:TABLE, after liboath has accepted a code, the
 * bastion claims the code's time step for the user with one conditional
 * PutItem on a per-user counter:
 *
 *   attribute    type  value
 *   pk           S     "user#" USER
 *   sk           S     "totp"
 *   kind         S     "totp"
 *   step_time    N     T * X: the start (epoch seconds) of the accepted step
 *   step         N     T (RFC 6238's counter), for people reading the table
 *   step_size    N     X, 30 or 60
 *   bastion_id   S     the bastion that accepted it
 *   accepted     N     epoch seconds, that bastion's clock
 *   nonce        S     random per claim (see below)
 *   ttl          N     step_time + STSROLE_REPLAY_TTL
 *
 *   ConditionExpression: attribute_not_exists(pk) OR step_time < :t
 *
 * DynamoDB applies conditional writes to one item one at a time, so of
 * two bastions that claim the same step at the same instant exactly one
 * succeeds; the other gets ConditionalCheckFailedException.  The
 * comparison (not equality) refuses, fleet-wide, any code at or before the
 * last accepted one, as liboath does locally.  step_time rather than T
 * keeps HOTP/T30 and HOTP/T60 entries of one user comparable.
 *
 * stsrole_aws_json retries a write whose answer was lost (timeout, 5xx).
 * If the lost attempt had succeeded, the retry finds its own claim and
 * fails the condition; the nonce tells that case apart: after a failed
 * condition the item is read back (strongly consistent), and a claim that
 * carries our nonce is ours.
 */
#define STSROLE_REPLAY_TTL 86400 /* far beyond any window: a step's item outlives its codes */

enum stsrole_replay_verdict {
    STSROLE_REPLAY_FRESH = 0, /* claimed: no bastion accepted this step or a later one before */
    STSROLE_REPLAY_USED,      /* this step, or a later one, was already accepted somewhere */
};

struct stsrole_replay_claim {
    const char *user;
    struct stsrole_totp_step step;
    const char *bastion_id;
    int64_t now;       /* epoch seconds */
    const char *nonce; /* 32 hex characters, fresh for every claim */
};

/* Pure: the PutItem of a claim (caller cJSON_Deletes *item, *names and
 * *values).  STSROLE_E_INVALID for an empty user, bastion or nonce or a step
 * that is not positive. */
int stsrole_replay_request(const struct stsrole_replay_claim *cl, struct cJSON **item,
                           struct cJSON **names, struct cJSON **values, struct stsrole_error *err);

/*
 * Claims cl's step in table through c.
 * Returns STSROLE_OK with *verdict set (with USED, err->msg says why), or
 * the error class of the DynamoDB
 * call (network, throttled, server, denied, expired, rejected: a missing
 * table is ResourceNotFoundException, rejected).  The caller's failmode
 * decides what an error means; a verdict of USED always refuses.
 */
int stsrole_replay_claim(struct stsrole_aws_client *c, const char *table,
                         const struct stsrole_replay_claim *cl,
                         enum stsrole_replay_verdict *verdict, struct stsrole_error *err);

#endif
