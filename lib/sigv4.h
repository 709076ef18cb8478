/* SPDX-License-Identifier: BSD-3-Clause */
/* sigv4.h: AWS Signature Version 4, as pure functions of their inputs, stage by stage. */
#ifndef STSROLE_SIGV4_H
#define STSROLE_SIGV4_H

#include <stdint.h>

#include "stsrole.h"

struct stsrole_header {
    const char *name;
    const char *value;
};

/* The request as it will be sent. path and query are as on the request
 * line (already percent-encoded by the client, or raw UTF-8); the signer
 * re-encodes them per AWS's rules. */
struct stsrole_sigv4_request {
    const char *method;
    const char *path;  /* "/" when empty */
    const char *query; /* without '?', NULL or "" for none */
    const struct stsrole_header *headers;
    size_t n_headers;    /* must include Host */
    const char *payload; /* body bytes, may be NULL when payload_len is 0 */
    size_t payload_len;
};

struct stsrole_sigv4_params {
    const char *region;
    const char *service;
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "" for none */
    int64_t now;               /* epoch seconds */
    int normalize_path;        /* 1 for every service except S3 */
    /* S3's variant: the x-amz-content-sha256 value the request carries
     * (the payload's hex SHA-256, or "UNSIGNED-PAYLOAD"), which S3 signs as
     * the payload hash.  The request must have that header with exactly
     * this value.  NULL for every other service: the payload is hashed. */
    const char *payload_hash;
};

/*
 * URI-encode per AWS: unreserved (A-Z a-z 0-9 - _ . ~) kept, everything
 * else as %XX with uppercase hex.  encode_slash = 0 keeps '/' (paths).
 */
int stsrole_uri_encode(struct stsrole_buf *out, const char *s, size_t len, int encode_slash);

/* Stage 1, header signing: the canonical request.  The signer adds
 * x-amz-date and, when a token is set, x-amz-security-token to the signed
 * headers itself.  signed_headers receives "host;x-amz-date;...". */
int stsrole_sigv4_canonical_request(const struct stsrole_sigv4_request *req,
                                    const struct stsrole_sigv4_params *p, struct stsrole_buf *out,
                                    struct stsrole_buf *signed_headers, struct stsrole_error *err);
/* Stage 2: the string to sign for a canonical request. */
int stsrole_sigv4_string_to_sign(const struct stsrole_sigv4_params *p,
                                 const char *canonical_request, struct stsrole_buf *out,
                                 struct stsrole_error *err);
/* Stage 3a: the signing key (HMAC chain over date, region, service). */
int stsrole_sigv4_signing_key(const struct stsrole_sigv4_params *p, unsigned char key[32],
                              struct stsrole_error *err);
/* Stage 3b: the hex signature of a string to sign, into out[65]. */
int stsrole_sigv4_signature(const unsigned char key[32], const char *string_to_sign, char out[65],
                            struct stsrole_error *err);

/* The headers to add to a request signed by headers. */
struct stsrole_sigv4_signed {
    char amz_date[17];   /* X-Amz-Date: YYYYMMDDTHHMMSSZ */
    char *authorization; /* Authorization header value, heap */
    char signature[65];
};
/* All stages: fills out; the caller sends X-Amz-Date, Authorization and,
 * when a token is set, X-Amz-Security-Token.  Free with
 * stsrole_sigv4_signed_free. */
int stsrole_sigv4_sign_headers(const struct stsrole_sigv4_request *req,
                               const struct stsrole_sigv4_params *p,
                               struct stsrole_sigv4_signed *out, struct stsrole_error *err);
void stsrole_sigv4_signed_free(struct stsrole_sigv4_signed *s);

#endif
