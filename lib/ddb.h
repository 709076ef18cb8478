/* ddb.h: a minimal DynamoDB client (JSON protocol) and the fleet session registry's item format. */
#ifndef STSROLE_DDB_H
#define STSROLE_DDB_H

#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "conf.h"
#include "stsrole.h"

/* cJSON's struct; only the library's .c files need its definition. */
struct cJSON;

/*
 * Sets c up for DynamoDB as cfg says: endpoint dynamodb_endpoint, region,
 * signing name "dynamodb", and a deadline that fits a login (the same one
 * AssumeRole gets: twice the timeout plus two seconds).  http and base are
 * borrowed and must outlive c.
 */
void stsrole_ddb_client(struct stsrole_aws_client *c, const struct stsrole_config *cfg,
                        const struct stsrole_http_config *http,
                        struct stsrole_creds_provider *base);

/*
 * What a conditional write did.  A failed condition is not an error: it is
 * DynamoDB's answer to the question the write asked ("is this step still
 * unused?"), so it is an outcome beside STSROLE_OK, never a status.
 * (lib/awserr.c does not know ConditionalCheckFailedException and sorts it,
 * by its HTTP 400, into STSROLE_E_REJECTED; stsrole_ddb_write_outcome takes
 * it back out by its code.)
 */
enum stsrole_ddb_outcome {
    STSROLE_DDB_WRITTEN = 0,      /* the item was written (or deleted) */
    STSROLE_DDB_CONDITION_FAILED, /* ConditionalCheckFailedException: nothing changed */
};

/* One PutItem (item is the whole Item), DeleteItem or UpdateItem (item
 * is the Key). */
struct stsrole_ddb_write {
    const char *table;
    const struct cJSON *item;
    const char *update;         /* UpdateExpression: UpdateItem only */
    const char *condition;      /* ConditionExpression, or NULL */
    const struct cJSON *names;  /* ExpressionAttributeNames, or NULL */
    const struct cJSON *values; /* ExpressionAttributeValues, or NULL */
};

/* Pure: the JSON request body of PutItem (op "PutItem"), DeleteItem or
 * UpdateItem.  STSROLE_E_INVALID when the table or item is missing, the op
 * unknown, or UpdateItem lacks its update expression. */
int stsrole_ddb_write_body(const struct stsrole_ddb_write *w, const char *op,
                           struct stsrole_buf *out, struct stsrole_error *err);

/*
 * Pure: the outcome of a write call that returned status with err.
 *   STSROLE_OK                                  -> STSROLE_OK, WRITTEN;
 *   ConditionalCheckFailedException (any class) -> STSROLE_OK, CONDITION_FAILED
 *                                                  (err cleared);
 *   anything else                               -> status unchanged.
 */
int stsrole_ddb_write_outcome(int status, struct stsrole_error *err,
                              enum stsrole_ddb_outcome *outcome);

/* PutItem / DeleteItem / UpdateItem.  Return STSROLE_OK with *outcome set, or the
 * error class of stsrole_aws_json (network, throttled, denied, rejected:
 * e.g. ResourceNotFoundException for a missing table, ...). */
int stsrole_ddb_put_item(struct stsrole_aws_client *c, const struct stsrole_ddb_write *w,
                         enum stsrole_ddb_outcome *outcome, struct stsrole_error *err);
int stsrole_ddb_delete_item(struct stsrole_aws_client *c, const struct stsrole_ddb_write *w,
                            enum stsrole_ddb_outcome *outcome, struct stsrole_error *err);
int stsrole_ddb_update_item(struct stsrole_aws_client *c, const struct stsrole_ddb_write *w,
                            enum stsrole_ddb_outcome *outcome, struct stsrole_error *err);

/* GetItem.  On STSROLE_OK *item is the item (the caller cJSON_Deletes
 * it) or NULL when there is none.  consistent: ConsistentRead. */
int stsrole_ddb_get_item(struct stsrole_aws_client *c, const char *table, const struct cJSON *key,
                         int consistent, struct cJSON **item, struct stsrole_error *err);

/* One page of a Query (key_condition set) or a Scan (key_condition NULL). */
struct stsrole_ddb_read {
    const char *table;
    const char *key_condition; /* KeyConditionExpression */
    const char *filter;        /* FilterExpression, or NULL */
    const struct cJSON *names;
    const struct cJSON *values;
    const struct cJSON *start_key; /* ExclusiveStartKey, or NULL for the first page */
    int limit;                     /* Limit, 0: none (keep pages under the HTTP cap) */
    int consistent;                /* ConsistentRead */
};

/* Pure: the JSON request body of a Query or Scan page. */
int stsrole_ddb_read_body(const struct stsrole_ddb_read *r, struct stsrole_buf *out,
                          struct stsrole_error *err);

/* Query or Scan one page.  On STSROLE_OK *page is the whole answer
 * ({"Items": [...], "LastEvaluatedKey": {...}}; the caller cJSON_Deletes it).
 * A body that is not a JSON object with an Items array is STSROLE_E_PROTOCOL. */
int stsrole_ddb_read_page(struct stsrole_aws_client *c, const struct stsrole_ddb_read *r,
                          struct cJSON **page, struct stsrole_error *err);

/* Attribute values: {"S": v} and {"N": "v"}; NULL when out of memory. */
struct cJSON *stsrole_ddb_s(const char *v);
struct cJSON *stsrole_ddb_n(int64_t v);
/* An item's attribute: the string of an S (NULL when absent or not S);
 * the number of an N (0, or -1 when absent, not N or not an integer). */
const char *stsrole_ddb_item_s(const struct cJSON *item, const char *name);
int stsrole_ddb_item_n(const struct cJSON *item, const char *name, int64_t *out);

/*
 * ---- The fleet session registry ---------------------------------------
 *
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
    int64_t ttl; /* 0 when writing: expiration + STSROLE_REGISTRY_TTL_MARGIN */
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

/* pam_stsrole's open_session: builds the client from cfg and puts e into
 * cfg->registry_table (which must be set). */
int stsrole_registry_record(const struct stsrole_config *cfg,
                            const struct stsrole_registry_entry *e, struct stsrole_error *err);

#endif
