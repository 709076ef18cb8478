/* SPDX-License-Identifier: BSD-3-Clause */
/* sts.h: sts:AssumeRole: local validation, request body, and decoding of JSON or XML answers. */
#ifndef STSROLE_STS_H
#define STSROLE_STS_H

#include <stdint.h>

#include "creds.h"
#include "stsrole.h"

/* Role chaining: AssumeRole called with a role session's credential is
 * capped at one hour (IAM User Guide, "Role chaining"). */
#define STSROLE_CHAINED_MAX 3600

struct stsrole_tag {
    const char *key;
    const char *value;
};

struct stsrole_assume_params {
    const char *role_arn;        /* required */
    const char *session_name;    /* required */
    int duration;                /* 0: omitted (AWS default 3600) */
    const char *source_identity; /* NULL: omitted */
    const struct stsrole_tag *tags;
    size_t n_tags;
    const char *const *transitive_tag_keys;
    size_t n_transitive_tag_keys;
    const char *external_id;   /* NULL: omitted */
    const char *policy;        /* session policy JSON, NULL: omitted */
    const char *serial_number; /* MFA device, NULL: omitted */
    const char *token_code;    /* MFA code, a secret */
};

/* What AssumeRole returned.  Free with stsrole_assumed_free. */
struct stsrole_assumed {
    struct stsrole_creds creds;
    char *assumed_role_id; /* AROA...:session-name, the aws:userid */
    char *arn;             /* arn:aws:sts::ACCT:assumed-role/ROLE/SESSION */
    char *source_identity;
    int packed_policy_size; /* -1 when absent */
};

void stsrole_assumed_free(struct stsrole_assumed *a);

/* Checks every parameter against STS's documented limits.  A violation is
 * STSROLE_E_INVALID with a message that names the field. */
int stsrole_sts_validate(const struct stsrole_assume_params *p, struct stsrole_error *err);

/* The form-encoded body: Action=AssumeRole&Version=2011-06-15&... */
int stsrole_sts_assume_body(const struct stsrole_assume_params *p, struct stsrole_buf *out,
                            struct stsrole_error *err);

/* Decodes a 2xx AssumeRole answer, JSON or XML as its content_type says
 * (stsrole_aws_format; NULL: sniffed from the body).  Every field is
 * checked; anything missing or malformed is STSROLE_E_PROTOCOL. */
int stsrole_sts_parse_assume(const char *content_type, const char *body, size_t len,
                             struct stsrole_assumed *out, struct stsrole_error *err);

#endif
