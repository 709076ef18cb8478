/* SPDX-License-Identifier: BSD-3-Clause */
/* creds.h: AWS credentials and the base-credential providers (env, shared file, IMDSv2). */
#ifndef STSROLE_CREDS_H
#define STSROLE_CREDS_H

#include <stdint.h>

#include "http.h"
#include "stsrole.h"

/* All strings are heap-owned and wiped by stsrole_creds_clear. */
struct stsrole_creds {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL for long-term keys */
    int64_t expiration;  /* epoch seconds, 0 = does not expire */
};

void stsrole_creds_clear(struct stsrole_creds *c);
int stsrole_creds_copy(struct stsrole_creds *dst, const struct stsrole_creds *src);

/* AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN. */
int stsrole_creds_from_env(struct stsrole_creds *out, struct stsrole_error *err);

/* Pure: parse the AWS shared-credentials format (INI) for one profile. */
int stsrole_creds_parse_shared(const char *text, const char *profile, struct stsrole_creds *out,
                               struct stsrole_error *err);
/* Reads PATH (refused unless root- or caller-owned, not group/world
 * accessible, not a symlink) and parses profile. */
int stsrole_creds_from_file(const char *path, const char *profile, struct stsrole_creds *out,
                            struct stsrole_error *err);

/* Pure: parse the IMDS security-credentials JSON document. */
int stsrole_creds_parse_imds(const char *json, size_t len, struct stsrole_creds *out,
                             struct stsrole_error *err);
/* IMDSv2: PUT /latest/api/token, GET .../security-credentials/, GET .../ROLE. */
/* EC2's instance id (IMDSv2 /latest/meta-data/instance-id: "i-" and 8 or
 * 17 hex digits) into out. */
#define STSROLE_INSTANCE_ID_MAX 19
int stsrole_imds_instance_id(const struct stsrole_http_config *http, const char *endpoint,
                             char out[STSROLE_INSTANCE_ID_MAX + 1], struct stsrole_error *err);
int stsrole_creds_from_imds(const struct stsrole_http_config *http, const char *endpoint,
                            struct stsrole_creds *out, struct stsrole_error *err);

enum stsrole_creds_kind {
    STSROLE_CREDS_IMDS,
    STSROLE_CREDS_ENV,
    STSROLE_CREDS_FILE,
};

/* A provider caches its credential and refreshes it before it expires. */
struct stsrole_creds_provider {
    enum stsrole_creds_kind kind;
    char *path;          /* FILE */
    char *profile;       /* FILE, default "default" */
    char *imds_endpoint; /* IMDS, default http://169.254.169.254 */
    const struct stsrole_http_config *http;
    struct stsrole_creds cached;
};

#define STSROLE_CREDS_REFRESH_MARGIN 300 /* refresh 5 minutes before expiry */

/* Returns the cached credential, refreshing it if it expires within the
 * margin.  out is a borrowed view valid until the next call. */
int stsrole_creds_provider_get(struct stsrole_creds_provider *p, int64_t now,
                               const struct stsrole_creds **out, struct stsrole_error *err);
void stsrole_creds_provider_free(struct stsrole_creds_provider *p);

#endif
