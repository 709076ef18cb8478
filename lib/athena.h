/* SPDX-License-Identifier: BSD-3-Clause */
/* athena.h: run one Athena query (StartQueryExecution, GetQueryExecution, GetQueryResults). */
#ifndef STSROLE_ATHENA_H
#define STSROLE_ATHENA_H

#include "aws.h"
#include "stsrole.h"

struct stsrole_athena_query {
    const char *sql;
    const char *database;        /* QueryExecutionContext.Database, NULL: the workgroup's */
    const char *workgroup;       /* NULL: "primary" */
    const char *output_location; /* ResultConfiguration.OutputLocation, NULL: the workgroup's */
    int poll_ms;                 /* between GetQueryExecution calls, 0: 1000 */
    int max_wait_s;              /* give up after, 0: 600 */
};

/* Pure: the request bodies. */
int stsrole_athena_start_body(const struct stsrole_athena_query *q, struct stsrole_buf *out,
                              struct stsrole_error *err);
int stsrole_athena_id_body(const char *id, const char *next_token, struct stsrole_buf *out,
                           struct stsrole_error *err);

/* Pure: a GetQueryExecution answer.  *done: 1 succeeded, 0 still running;
 * a failed or cancelled query is STSROLE_E_REJECTED with Athena's reason. */
int stsrole_athena_parse_state(const char *json, size_t len, int *done, struct stsrole_error *err);

/* Pure: one GetQueryResults page.  fn receives each row's cells (NULL for
 * a cell without VarCharValue); skip_header drops the first row, which on
 * the first page holds the column names.  next receives NextToken ("" at
 * the end). */
int stsrole_athena_parse_rows(const char *json, size_t len, int skip_header,
                              int (*fn)(void *ctx, const char *const *cells, size_t n,
                                        struct stsrole_error *err),
                              void *ctx, struct stsrole_buf *next, struct stsrole_error *err);

/* Starts the query, waits for it (bounded by max_wait_s), and calls fn for
 * every result row, page by page.  c->service must be "athena". */
int stsrole_athena_run(struct stsrole_aws_client *c, const struct stsrole_athena_query *q,
                       int (*fn)(void *ctx, const char *const *cells, size_t n,
                                 struct stsrole_error *err),
                       void *ctx, struct stsrole_error *err);

#endif
