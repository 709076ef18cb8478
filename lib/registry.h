/* SPDX-License-Identifier: BSD-3-Clause */
/* registry.h: the fleet session registry (registry_table): its items and the DynamoDB calls on
 * them. */
#ifndef STSROLE_REGISTRY_H
#define STSROLE_REGISTRY_H

#include <stdint.h>

#include "ddb.h"
#include "policy.h"
#include "stsrole.h"

/*
 * registry_table in stsrole.conf names it.  pam_stsrole writes one item per
 * SSH session it hands credentials to, in open_session, after the local
 * session record (STATE_DIR/sessions/ID.json) is durable and before the
 * credentials reach the session.  It never touches the item again:
 * close_session must not wait on AWS, so removing the item is the job of
 * the gateway that revokes the session (stsrole_registry_delete), and
 * DynamoDB's TTL removes whatever is left.
 *
 * Table: partition key "pk" (S), sort key "sk" (S), TTL on "ttl".  The
 * replay table (replay.h) has the same key schema, so one table may serve
 * both (its items have sk "totp").
 *
 *   attribute        type  value
 *   pk               S     "user#" USER
 *   sk               S     "session#" SESSION_ID
 *   kind             S     "session"
 *   v                N     1: the format version; readers skip other versions
 *   session_id       S     32 lowercase hex: STSROLE_SESSION_ID, the name of
 *                          the local record on the bastion that opened it
 *   bastion_id       S     bastion_id of that bastion
 *   user             S     the login name (also the SourceIdentity)
 *   role_name        S     NAME of the [role NAME] used
 *   role_arn         S     the role assumed
 *   revoker_arn      S     that role's revoker_arn (absent when not set)
 *   assumed_role_id  S     "AROA...:SESSION_NAME", the aws:userid to deny
 *   session_name     S     the RoleSessionName
 *   access_key_id    S     the session's access key id (not a secret)
 *   rhost            S     where the person came from (absent when unknown)
 *   expiration       N     epoch seconds at which the credential expires
 *   opened           N     epoch seconds of open_session
 *   ttl              N     expiration + STSROLE_REGISTRY_TTL_MARGIN
 *   sid              S     the stsrole:sid tag every credential of the
 *                          session carries (absent in items written before
 *                          sids existed: then assumed_role_id is denied)
 *   refresh          N     1 when the gateway of its bastion refreshes the
 *                          credential (credentials_mode = process): newer
 *                          credentials than "expiration" may exist
 *
 * Reading: Query pk = "user#USER" AND begins_with(sk, "session#") for one
 * person, Scan with FilterExpression begins_with(sk, "session#") for the
 * fleet (stsrole_registry_list does both, page by page).  DynamoDB deletes
 * expired items late (typically within days), so an item whose ttl has
 * passed is gone for every reader.  "user" and "ttl" are DynamoDB reserved
 * words: expressions must name them through ExpressionAttributeNames.  A
 * gateway that refreshes a credential (sessions longer than the 1-hour
 * role-chaining cap) rewrites expiration and ttl.
 */
#define STSROLE_REGISTRY_VERSION 1
/* Long enough that the item outlives every use of the credential, short
 * enough that the registry does not fill with the dead. */
#define STSROLE_REGISTRY_TTL_MARGIN 3600

struct stsrole_registry_entry {
    char session_id[33];
    char *bastion_id;
    char *user;
    char *role_name;
    char *role_arn;
    char *revoker_arn; /* may be NULL */
    char *assumed_role_id;
    char *session_name;
    char *access_key_id;
    char *rhost; /* may be NULL */
    int64_t expiration;
    int64_t opened;
    int64_t ttl;                   /* 0 when writing: expiration + STSROLE_REGISTRY_TTL_MARGIN */
    char sid[STSROLE_SID_LEN + 1]; /* "" when the credential has no stsrole:sid tag */
    int refresh;                   /* the session's credential is refreshed by its gateway */
};

/* Pure: the item for e (*item: caller cJSON_Deletes it).  STSROLE_E_INVALID
 * when a required field is missing or the session id is malformed. */
int stsrole_registry_item(const struct stsrole_registry_entry *e, struct cJSON **item,
                          struct stsrole_error *err);
/* Pure: an item back into e (heap strings; free with
 * stsrole_registry_entry_free).  STSROLE_E_PROTOCOL when the item is not a
 * version-1 session item or a required attribute is missing. */
int stsrole_registry_parse(const struct cJSON *item, struct stsrole_registry_entry *e,
                           struct stsrole_error *err);
void stsrole_registry_entry_free(struct stsrole_registry_entry *e);

/* PutItem with attribute_not_exists(pk): a session id is never reused, so
 * a failed condition (STSROLE_E_INVALID, "already registered") means a bug
 * or a forgery, never a second write of ours. */
int stsrole_registry_put(struct stsrole_aws_client *c, const char *table,
                         const struct stsrole_registry_entry *e, struct stsrole_error *err);
/* A refresh of the session's credential (credentials_mode = process):
 * UpdateItem of expiration (and ttl: expiration + the margin), only while
 * the item exists.  STSROLE_E_NOTFOUND when it is gone: the session was
 * revoked fleet-wide (revoke --fleet deletes it), or its ttl passed. */
int stsrole_registry_refresh(struct stsrole_aws_client *c, const char *table, const char *user,
                             const char *session_id, int64_t expiration, struct stsrole_error *err);
/* DeleteItem; an item that is already gone is a success. */
int stsrole_registry_delete(struct stsrole_aws_client *c, const char *table, const char *user,
                            const char *session_id, struct stsrole_error *err);
/*
 * Every live session item, of user (Query) or of the whole fleet (user
 * NULL: Scan), all pages (at most STSROLE_REGISTRY_MAX_PAGES of
 * STSROLE_REGISTRY_PAGE items), strongly consistent.  Items whose ttl is at
 * or before now are left out; items that do not parse are counted in
 * *skipped (may be NULL) and left out.  *out is an array of *n entries:
 * free with stsrole_registry_list_free.
 */
#define STSROLE_REGISTRY_PAGE 100
#define STSROLE_REGISTRY_MAX_PAGES 1000
int stsrole_registry_list(struct stsrole_aws_client *c, const char *table, const char *user,
                          int64_t now, struct stsrole_registry_entry **out, size_t *n,
                          size_t *skipped, struct stsrole_error *err);
void stsrole_registry_list_free(struct stsrole_registry_entry *list, size_t n);

#endif
