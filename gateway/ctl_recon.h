/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_recon.h: what reconcile and report share: the inputs read, the findings computed. */
#ifndef STSROLE_CTL_RECON_H
#define STSROLE_CTL_RECON_H

#include <stddef.h>

#include "conf.h"
#include "reconcile.h"

/* Exit status of reconcile when a critical finding was made. */
#define CTL_EXIT_CRITICAL 2

struct ctl_recon {
    struct stsrole_recon_opts opts;
    char **audit; /* audit log files, oldest first */
    size_t n_audit;
    char **role_args; /* --role ARN */
    size_t n_role_args;
    char **role_names; /* managed role names (Athena queries) */
    size_t n_role_names;
    const char *dir, *s3, *endpoint, *database, *table, *workgroup, *output, *jsonl, *html;
    int athena, quiet, have_cfg;
    struct stsrole_config cfg;
    struct stsrole_recon *recon;
    struct stsrole_buf text; /* one inflated file */
    size_t files, bad_files, skipped_records;
    struct cJSON *result; /* stsrole_recon_finish's document */
    size_t critical;
};

/* Parses the options of reconcile (report = 0) or report (1), reads every
 * input and computes cr->result.  Returns a CTL_EXIT_* code; free cr with
 * ctl_recon_free whatever it returned. */
int ctl_recon_run(int argc, char **argv, const char *config_path, int report, struct ctl_recon *cr);
void ctl_recon_free(struct ctl_recon *cr);

/* The queries of examples/aws/athena/ (without their comments; the
 * reconcile suite checks that they say the same). */
#define CTL_SQL_ASSUME                                                                             \
    "SELECT eventtime, eventid, recipientaccountid, sourceipaddress, errorcode, "                  \
    "useridentity.arn,\n"                                                                          \
    "       json_extract_scalar(requestparameters, '$.roleArn'),\n"                                \
    "       json_extract_scalar(requestparameters, '$.roleSessionName'),\n"                        \
    "       json_extract_scalar(requestparameters, '$.sourceIdentity')\n"                          \
    "FROM {table}\n"                                                                               \
    "WHERE \"timestamp\" BETWEEN '{from_day}' AND '{to_day}'\n"                                    \
    "  AND eventtime BETWEEN '{from}' AND '{to}'\n"                                                \
    "  AND eventsource = 'sts.amazonaws.com' AND eventname = 'AssumeRole'\n"                       \
    "  AND regexp_extract(json_extract_scalar(requestparameters, '$.roleArn'), '[^/]+$') IN "      \
    "({roles})\n"

#define CTL_SQL_SESSIONS                                                                           \
    "SELECT useridentity.sessioncontext.sessionissuer.arn,\n"                                      \
    "       regexp_extract(useridentity.arn, '[^/]+$'),\n"                                         \
    "       useridentity.sessioncontext.sourceidentity, recipientaccountid,\n"                     \
    "       count(*), min(eventtime), max(eventtime)\n"                                            \
    "FROM {table}\n"                                                                               \
    "WHERE \"timestamp\" BETWEEN '{from_day}' AND '{to_day}'\n"                                    \
    "  AND eventtime BETWEEN '{from}' AND '{to}'\n"                                                \
    "  AND useridentity.type = 'AssumedRole'\n"                                                    \
    "  AND useridentity.sessioncontext.sessionissuer.username IN ({roles})\n"                      \
    "GROUP BY 1, 2, 3, 4\n"

#define CTL_SQL_REVOKED                                                                            \
    "SELECT t.eventtime, t.eventsource, t.eventname, t.errorcode, t.useridentity.arn,\n"           \
    "       t.useridentity.sessioncontext.sessionissuer.arn,\n"                                    \
    "       t.useridentity.sessioncontext.sourceidentity, t.recipientaccountid, t.eventid\n"       \
    "FROM {table} t\n"                                                                             \
    "JOIN (VALUES {revoked}) AS r (session_name, denied)\n"                                        \
    "  ON regexp_extract(t.useridentity.arn, '[^/]+$') = r.session_name AND t.eventtime >= "       \
    "r.denied\n"                                                                                   \
    "WHERE t.\"timestamp\" BETWEEN '{from_day}' AND '{to_day}'\n"                                  \
    "  AND t.eventtime BETWEEN '{from}' AND '{to}'\n"                                              \
    "  AND t.useridentity.type = 'AssumedRole'\n"

#endif
