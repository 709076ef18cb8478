/* SPDX-License-Identifier: BSD-3-Clause */
/* iam.h: the few IAM calls the gateway makes on a target role's inline policy; answers in JSON or
 * XML. */
#ifndef STSROLE_IAM_H
#define STSROLE_IAM_H

#include <stddef.h>

#include "aws.h"
#include "stsrole.h"

/* IAM is global within its partition: SigV4 scope the partition's IAM
 * region (struct stsrole_partition), service "iam", Query API version
 * 2010-05-08. */
#define STSROLE_IAM_VERSION "2010-05-08"

/* Pure: account and role name from "arn:PARTITION:iam::ACCOUNT:role/PATH/NAME"
 * (the name is the last path segment).  name must hold 65 bytes (IAM's
 * role-name limit is 64). */
int stsrole_arn_role(const char *arn, char account[13], char name[65], struct stsrole_error *err);
/* Pure: the 12-digit account of any ARN into account[13]; "" when absent. */
void stsrole_arn_account(const char *arn, char account[13]);

/* Pure: the form bodies.  doc is the policy JSON; it is URL-encoded here. */
int stsrole_iam_get_role_policy_body(const char *role, const char *policy, struct stsrole_buf *out,
                                     struct stsrole_error *err);
int stsrole_iam_put_role_policy_body(const char *role, const char *policy, const char *doc,
                                     struct stsrole_buf *out, struct stsrole_error *err);
int stsrole_iam_delete_role_policy_body(const char *role, const char *policy,
                                        struct stsrole_buf *out, struct stsrole_error *err);
int stsrole_iam_list_role_policies_body(const char *role, const char *marker,
                                        struct stsrole_buf *out, struct stsrole_error *err);

/* Pure: the PolicyDocument of a GetRolePolicy answer, JSON or XML as
 * content_type says (stsrole_aws_format; NULL: sniffed), URL-decoded as
 * IAM sends it (RFC 3986), into *doc (heap).  STSROLE_E_PROTOCOL when
 * absent. */
int stsrole_iam_parse_get_role_policy(const char *content_type, const char *body, size_t len,
                                      char **doc, struct stsrole_error *err);
/* Pure: the PolicyNames of a ListRolePolicies answer (JSON or XML, as
 * above), NULL-terminated (free with stsrole_strv_free), and the Marker
 * when IsTruncated. */
int stsrole_iam_parse_list_role_policies(const char *content_type, const char *body, size_t len,
                                         char ***names, char **marker, struct stsrole_error *err);

/*
 * The calls.  c must be an "iam" client (the partition's IAM region, cfg's
 * iam_endpoint) with the revoker's credentials.  request_id (may be NULL)
 * receives the AWS request id of the final answer, for the audit log.
 *
 * get:    STSROLE_E_NOTFOUND when the role has no such policy (NoSuchEntity).
 * put:    idempotent: the whole document replaces the old one.  IAM's
 *         LimitExceeded (the 10,240-character budget) comes back with
 *         err->aws_code "LimitExceeded".
 * delete: idempotent: a policy that is already gone is STSROLE_OK.
 * list:   follows Marker for at most 10 pages.
 */
int stsrole_iam_get_role_policy(struct stsrole_aws_client *c, const char *role, const char *policy,
                                char **doc, char request_id[128], struct stsrole_error *err);
int stsrole_iam_put_role_policy(struct stsrole_aws_client *c, const char *role, const char *policy,
                                const char *doc, char request_id[128], struct stsrole_error *err);
int stsrole_iam_delete_role_policy(struct stsrole_aws_client *c, const char *role,
                                   const char *policy, char request_id[128],
                                   struct stsrole_error *err);
int stsrole_iam_list_role_policies(struct stsrole_aws_client *c, const char *role, char ***names,
                                   struct stsrole_error *err);

#endif
