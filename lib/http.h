/* SPDX-License-Identifier: BSD-3-Clause */
/* http.h: the HTTP transport over libcurl: verified TLS, loopback-only http, bounded everything. */
#ifndef STSROLE_HTTP_H
#define STSROLE_HTTP_H

#include <stdint.h>

#include "sigv4.h"
#include "stsrole.h"

#define STSROLE_HTTP_MAX_RESPONSE (256 * 1024)

struct stsrole_http_config {
    const char *ca_file;     /* NULL: the system CA store */
    const char *proxy;       /* NULL: no proxy, whatever the environment says */
    long connect_timeout_ms; /* 0: 3000 */
    long timeout_ms;         /* total per request, 0: 10000 */
    size_t max_response;     /* 0: STSROLE_HTTP_MAX_RESPONSE */
};

struct stsrole_http_request {
    const char *method; /* "GET", "POST", "PUT" */
    const char *url;
    const struct stsrole_header *headers;
    size_t n_headers;
    const char *body;
    size_t body_len;
};

struct stsrole_http_response {
    long status;
    char content_type[128];
    char request_id[128]; /* x-amzn-RequestId or x-amz-request-id */
    int64_t date;         /* the Date header as epoch seconds, 0 when absent or unreadable */
    struct stsrole_buf body;
};

/* Accepts https:// URLs, and http:// only when the host is loopback
 * (127.0.0.0/8, ::1, localhost).  Pure. */
int stsrole_url_check(const char *url, struct stsrole_error *err);
/* The same, and http:// to IMDS (169.254.169.254, fd00:ec2::254): for
 * imds_endpoint only.  Pure. */
int stsrole_url_check_imds(const char *url, struct stsrole_error *err);

/* Call once per process before any request (curl_global_init). */
int stsrole_http_global_init(struct stsrole_error *err);

/* Performs one request.  Redirects are not followed, TLS is verified,
 * TLS >= 1.2.  A transport failure is STSROLE_E_NETWORK, an oversized
 * body STSROLE_E_PROTOCOL.  Any HTTP status is a success here: the caller
 * interprets it.  Free resp with stsrole_http_response_free. */
int stsrole_http_perform(const struct stsrole_http_config *cfg,
                         const struct stsrole_http_request *req, struct stsrole_http_response *resp,
                         struct stsrole_error *err);
void stsrole_http_response_free(struct stsrole_http_response *resp);

#endif
