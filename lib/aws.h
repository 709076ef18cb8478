/* SPDX-License-Identifier: BSD-3-Clause */
/* aws.h: AWS error decoding and classification, and the one signed, retried AWS request. */
#ifndef STSROLE_AWS_H
#define STSROLE_AWS_H

#include <stdint.h>

#include "creds.h"
#include "http.h"
#include "stsrole.h"

/*
 * Pure: decode an AWS error answer (XML <ErrorResponse> or JSON
 * {"Error":{...}} / {"__type":...}) and classify it by HTTP status and code
 * into denied, rejected, throttled, expired or server.  Fills err->aws_code,
 * err->request_id and err->msg and returns the class.  A body that cannot
 * be decoded is classified by status alone.
 */
int stsrole_aws_classify(long http_status, const char *body, size_t len, struct stsrole_error *err);

/* How an answer is encoded. */
enum stsrole_aws_format { STSROLE_AWS_UNKNOWN = 0, STSROLE_AWS_JSON, STSROLE_AWS_XML };

/*
 * Pure: the encoding of an answer, by its Content-Type: application/json
 * and application/x-amz-json-* are JSON, text/xml and application/xml are
 * XML.  Real STS and IAM answer JSON when asked with Accept:
 * application/json, and XML otherwise (moto always answers XML).  Only
 * when the type is absent or neither does the first character of body
 * decide; UNKNOWN when that is neither '{' nor '<'.
 */
enum stsrole_aws_format stsrole_aws_format(const char *content_type, const char *body, size_t len);

/* stsrole_aws_classify for a body whose format is already known (UNKNOWN:
 * sniffed from the body). */
int stsrole_aws_classify_as(enum stsrole_aws_format format, long http_status, const char *body,
                            size_t len, struct stsrole_error *err);

/* One AWS endpoint a client talks to. */
struct stsrole_aws_client {
    const struct stsrole_http_config *http;
    struct stsrole_creds_provider *base; /* NULL: use creds */
    const struct stsrole_creds *creds;   /* used when base is NULL */
    const char *region;
    const char *service;  /* "sts", "iam", "s3" */
    const char *endpoint; /* https://sts.us-east-1.amazonaws.com; S3: NULL for AWS's own */
    int deadline_ms;      /* total time for all attempts, 0: 30000 */
    int max_attempts;     /* 0: 5 */
    /* Injected for tests: clock in ms and sleep; NULL uses the real ones. */
    int64_t (*now_ms)(void *ctx);
    void (*sleep_ms)(void *ctx, int ms);
    void *ctx;
    /* Called before each retry, for logging/auditing; may be NULL. */
    void (*on_retry)(void *ctx, int attempt, int delay_ms, const struct stsrole_error *why);
};

#define STSROLE_AWS_MAX_HEADERS 4 /* a request's own headers (stsrole_aws_request) */

/* One request to an AWS service; borrowed for the call. */
struct stsrole_aws_request {
    const char *method; /* "POST", "GET" */
    /* NULL: the client's endpoint.  Sent as written; its path and query
     * (already encoded, no '#') are what is signed. */
    const char *url;
    /* Signed and sent besides Host and the signature's own headers, at
     * most STSROLE_AWS_MAX_HEADERS (Content-Type, X-Amz-Target). */
    const struct stsrole_header *headers;
    size_t n_headers;
    const char *body; /* NULL: none */
    size_t body_len;
    /* S3's SigV4 variant: the value of x-amz-content-sha256, sent and
     * signed as the payload hash (the body's hex SHA-256, or
     * "UNSIGNED-PAYLOAD"), and the path signed as written (S3 neither
     * normalises nor double-encodes it).  NULL for every other service:
     * the body is hashed and the path normalised. */
    const char *payload_hash;
    const char *accept;  /* an Accept header, sent unsigned; NULL: none */
    size_t max_response; /* 0: the HTTP config's */
    /* Each attempt's time limit is at least this (the HTTP config's when
     * that is longer); the deadline still bounds it.  0: the config's. */
    long timeout_ms;
};

/*
 * Signs (SigV4, with the client's credentials: base, fetched for each
 * attempt, else creds) and sends req.  Retries throttled, server and
 * network failures with jittered exponential backoff, at most
 * max_attempts times within the client's deadline.  A refusal about the
 * signature's time (stsrole_aws_is_skew_error) whose answer carries a
 * Date more than a minute from the corrected local clock sets the
 * process's clock skew from it, calls on_retry (err names the skew, delay
 * 0) and signs once more.  An expired-credential answer to the first
 * attempt, with a base provider, drops its cached credential and signs
 * once more with a fresh one.  On a 2xx answer fills resp and returns OK;
 * on an AWS error returns its class with err filled (the body decoded by
 * its Content-Type: XML <ErrorResponse> or S3's bare <Error>, or JSON).
 */
int stsrole_aws_call(struct stsrole_aws_client *c, const struct stsrole_aws_request *req,
                     struct stsrole_http_response *resp, struct stsrole_error *err);

/* stsrole_aws_call: POSTs a form-encoded Query API body to the client's
 * endpoint, asking for JSON. */
int stsrole_aws_query(struct stsrole_aws_client *c, const char *body,
                      struct stsrole_http_response *resp, struct stsrole_error *err);

/* stsrole_aws_call for AWS's JSON protocol (DynamoDB: json_version "1.0",
 * CloudWatch Logs: "1.1"): POSTs body with X-Amz-Target: target (e.g.
 * "DynamoDB_20120810.PutItem"). */
int stsrole_aws_json(struct stsrole_aws_client *c, const char *json_version, const char *target,
                     const char *body, struct stsrole_http_response *resp,
                     struct stsrole_error *err);

struct cJSON;
/* A JSON-protocol request body: prints o (compact) into out, replacing what
 * out held, and deletes o.  failed != 0, or o == NULL, means building o ran
 * out of memory: o is deleted and STSROLE_E_NOMEM returned. */
int stsrole_aws_json_body(struct cJSON *o, int failed, struct stsrole_buf *out,
                          struct stsrole_error *err);

/*
 * Appends "&name=value" (no '&' when out is empty) to a Query-API form
 * body, encoded as application/x-www-form-urlencoded: AWS's unreserved
 * characters kept, space as '+', everything else %XX.  This is the
 * encoding botocore sends; AWS signs the body bytes, but stand-ins that
 * re-encode the parsed form (moto) only agree with this one.
 */
int stsrole_form_append(struct stsrole_buf *out, const char *name, const char *value);

/* The process's clock correction: AWS's clock minus the local one, in
 * seconds, as last learned from an answer's Date (0: none learned).  Every
 * signature adds it.  Thread-safe. */
int64_t stsrole_aws_clock_skew(void);
void stsrole_aws_set_clock_skew(int64_t seconds);

/* Pure: whether err (a classified AWS refusal) may say the request's time
 * was off: RequestTimeTooSkewed, RequestExpired, InvalidSignatureException,
 * or SignatureDoesNotMatch with a "Signature expired" or "Signature not yet
 * current" message. */
int stsrole_aws_is_skew_error(const struct stsrole_error *err);

/* Backoff for attempt n (1-based): full jitter over min(cap, base*2^n). Pure
 * given the random value r in [0,1). */
int stsrole_aws_backoff_ms(int attempt, double r);
/* stsrole_aws_backoff_ms with r from RAND_bytes (0.5 when it fails). */
int stsrole_aws_jittered_backoff_ms(int attempt);
/* Sleeps ms through the client's injected sleep_ms, or nanosleep(2). */
void stsrole_aws_sleep(struct stsrole_aws_client *c, int ms);

#endif
