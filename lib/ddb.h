/* SPDX-License-Identifier: BSD-3-Clause */
/* ddb.h: a minimal DynamoDB client (JSON protocol): items, writes, reads. */
#ifndef STSROLE_DDB_H
#define STSROLE_DDB_H

#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "stsrole.h"

/* cJSON's struct; only the library's .c files need its definition. */
struct cJSON;

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

/*
 * A conditional PutItem that is safe to retry.  stsrole_aws_json sends a
 * write again when its answer was lost; if the first one landed, the
 * second fails its own condition.  So the item carries a nonce (the
 * string attribute nonce_attr, a value no other writer uses) and, when the
 * condition fails, a consistent GetItem of the item's key (pk, sk) tells
 * whether the item that stands is ours: then *outcome is WRITTEN.  When
 * that read fails too, the item counts as someone else's (fail closed):
 * CONDITION_FAILED.  Errors of the PutItem itself are returned as they are.
 */
int stsrole_ddb_put_item_once(struct stsrole_aws_client *c, const struct stsrole_ddb_write *w,
                              const char *nonce_attr, enum stsrole_ddb_outcome *outcome,
                              struct stsrole_error *err);

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

#endif
