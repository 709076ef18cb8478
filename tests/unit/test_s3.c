/* SPDX-License-Identifier: BSD-3-Clause */
/* test_s3.c: S3's SigV4 variant against AWS's documented examples and botocore, S3 URLs and
 * listings, Athena answers. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "athena.h"
#include "s3.h"
#include "sigv4.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define T_20130524 1369353600 /* 2013-05-24T00:00:00Z, the date of AWS's S3 examples */

static struct stsrole_sigv4_params
s3_params(const char *token)
{
    struct stsrole_sigv4_params p;

    memset(&p, 0, sizeof(p));
    p.region = "us-east-1";
    p.service = "s3";
    p.access_key_id = "AKIAIOSFODNN7EXAMPLE";
    p.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    p.session_token = token;
    p.now = T_20130524;
    p.normalize_path = 0;
    p.payload_hash = EMPTY_SHA256;
    return p;
}

static void
assert_signature(const char *path, const char *query, const struct stsrole_header *h, size_t n,
                 const char *token, const char *want)
{
    struct stsrole_sigv4_request req;
    struct stsrole_sigv4_params p = s3_params(token);
    struct stsrole_sigv4_signed sig;
    struct stsrole_error err;

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.path = path;
    req.query = query;
    req.headers = h;
    req.n_headers = n;
    assert_int_equal(stsrole_sigv4_sign_headers(&req, &p, &sig, &err), STSROLE_OK);
    assert_string_equal(sig.signature, want);
    stsrole_sigv4_signed_free(&sig);
}

/* S3 API Reference, "Signature Calculations for the Authorization Header:
 * Transferring Payload in a Single Chunk", examples GET Object and GET
 * Bucket (List Objects); botocore's S3SigV4Auth gives the same. */
static void
t_aws_example_get_object(void **state)
{
    struct stsrole_header h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                                 {"Range", "bytes=0-9"},
                                 {"x-amz-content-sha256", EMPTY_SHA256}};

    (void)state;
    assert_signature("/test.txt", NULL, h, 3, NULL,
                     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void
t_aws_example_list(void **state)
{
    struct stsrole_header h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                                 {"x-amz-content-sha256", EMPTY_SHA256}};

    (void)state;
    assert_signature("/", "max-keys=2&prefix=J", h, 2, NULL,
                     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

/* botocore 1.x S3SigV4Auth, clock at 2013-05-24T00:00:00Z (see
 * test_sigv4.c for the recipe): an encoded key is signed as it is, once. */
static void
t_botocore_key_encoded_once(void **state)
{
    struct stsrole_header h[] = {{"Host", "127.0.0.1:5000"},
                                 {"x-amz-content-sha256", EMPTY_SHA256}};

    (void)state;
    assert_signature(
        "/my-trail/AWSLogs/222222222222/CloudTrail/us-east-1/2026/12/05/a%3Ab%20c.json.gz", NULL, h,
        2, "FQoGZXIvYXdzEXAMPLETOKEN",
        "1634751b0bebd6402136edcaa74ec813c14a60c3889b0bbd73de8a50d4d5f9b3");
}

static void
t_botocore_list_v2_page(void **state)
{
    struct stsrole_header h[] = {{"Host", "127.0.0.1:5000"},
                                 {"x-amz-content-sha256", EMPTY_SHA256}};

    (void)state;
    assert_signature("/my-trail",
                     "continuation-token=1%2FABC%3D%3D&list-type=2&max-keys=1000&prefix=AWSLogs%"
                     "2F222222222222%2F",
                     h, 2, "FQoGZXIvYXdzEXAMPLETOKEN",
                     "a224d93e33e1334ba9b82c6fbcc94f0ac5a4988cbe33e652503a2aa61f6775da");
}

/* The variant refuses a payload hash the request does not carry. */
static void
t_payload_hash_must_match_header(void **state)
{
    struct stsrole_header h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                                 {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}};
    struct stsrole_sigv4_request req;
    struct stsrole_sigv4_params p = s3_params(NULL);
    struct stsrole_sigv4_signed sig;
    struct stsrole_error err;

    (void)state;
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.path = "/test.txt";
    req.headers = h;
    req.n_headers = 1;
    assert_int_equal(stsrole_sigv4_sign_headers(&req, &p, &sig, &err), STSROLE_E_INVALID);
    req.n_headers = 2; /* header says UNSIGNED-PAYLOAD, params say the hash */
    assert_int_equal(stsrole_sigv4_sign_headers(&req, &p, &sig, &err), STSROLE_E_INVALID);
    p.payload_hash = "UNSIGNED-PAYLOAD";
    assert_int_equal(stsrole_sigv4_sign_headers(&req, &p, &sig, &err), STSROLE_OK);
    stsrole_sigv4_signed_free(&sig);
    p.payload_hash = "not-a-hash";
    assert_int_equal(stsrole_sigv4_sign_headers(&req, &p, &sig, &err), STSROLE_E_INVALID);
}

static void
t_urls(void **state)
{
    struct stsrole_buf url, host, path;
    struct stsrole_error err;

    (void)state;
    stsrole_buf_init(&url, 0);
    stsrole_buf_init(&host, 0);
    stsrole_buf_init(&path, 0);
    assert_int_equal(stsrole_s3_url(NULL, "eu-west-1", "my-trail", "AWSLogs/1/a b.json.gz", NULL,
                                    &url, &host, &path, &err),
                     STSROLE_OK);
    assert_string_equal(url.data,
                        "https://my-trail.s3.eu-west-1.amazonaws.com/AWSLogs/1/a%20b.json.gz");
    assert_string_equal(host.data, "my-trail.s3.eu-west-1.amazonaws.com");
    /* A dotted bucket goes path style: a wildcard certificate does not cover it. */
    assert_int_equal(stsrole_s3_url(NULL, "eu-west-1", "trail.example.com", NULL, "list-type=2",
                                    &url, &host, &path, &err),
                     STSROLE_OK);
    assert_string_equal(url.data,
                        "https://s3.eu-west-1.amazonaws.com/trail.example.com?list-type=2");
    assert_int_equal(stsrole_s3_url("http://127.0.0.1:5000", "us-east-1", "my-trail", "k/..", NULL,
                                    &url, &host, &path, &err),
                     STSROLE_OK);
    assert_string_equal(url.data, "http://127.0.0.1:5000/my-trail/k/..");
    assert_string_equal(path.data, "/my-trail/k/..");
    assert_int_equal(
        stsrole_s3_url(NULL, "us-east-1", "Bad_Bucket", NULL, NULL, &url, &host, &path, &err),
        STSROLE_E_INVALID);
    assert_int_equal(
        stsrole_s3_url(NULL, "us-east-1/x", "ok-bucket", NULL, NULL, &url, &host, &path, &err),
        STSROLE_E_INVALID);
    /* AWS's own endpoints are in the region's partition (lib/partition.c). */
    assert_int_equal(
        stsrole_s3_url(NULL, "cn-north-1", "my-trail", "k", NULL, &url, &host, &path, &err),
        STSROLE_OK);
    assert_string_equal(url.data, "https://my-trail.s3.cn-north-1.amazonaws.com.cn/k");
    assert_string_equal(host.data, "my-trail.s3.cn-north-1.amazonaws.com.cn");
    assert_int_equal(stsrole_s3_url(NULL, "cn-northwest-1", "trail.example.cn", NULL, "list-type=2",
                                    &url, &host, &path, &err),
                     STSROLE_OK);
    assert_string_equal(url.data,
                        "https://s3.cn-northwest-1.amazonaws.com.cn/trail.example.cn?list-type=2");
    assert_int_equal(
        stsrole_s3_url(NULL, "us-gov-west-1", "my-trail", NULL, NULL, &url, &host, &path, &err),
        STSROLE_OK);
    assert_string_equal(url.data, "https://my-trail.s3.us-gov-west-1.amazonaws.com/");
    /* A region of no known partition has no AWS endpoint to guess. */
    assert_int_equal(
        stsrole_s3_url(NULL, "us-iso-east-1", "ok-bucket", NULL, NULL, &url, &host, &path, &err),
        STSROLE_E_INVALID);
    assert_non_null(strstr(err.msg, "us-iso-east-1"));
    assert_int_equal(stsrole_s3_url(NULL, NULL, "ok-bucket", NULL, NULL, &url, &host, &path, &err),
                     STSROLE_E_INVALID);
    /* With an endpoint, the region only signs: a stand-in needs no known one. */
    assert_int_equal(stsrole_s3_url("http://127.0.0.1:5000", "us-iso-east-1", "ok-bucket", NULL,
                                    NULL, &url, &host, &path, &err),
                     STSROLE_OK);
    stsrole_buf_free(&url);
    stsrole_buf_free(&host);
    stsrole_buf_free(&path);
}

struct keys {
    char v[4][64];
    uint64_t size[4];
    int n;
};

static int
on_key(void *ctx, const char *key, uint64_t size)
{
    struct keys *k = ctx;

    if (k->n == 4)
        return STSROLE_E_PROTOCOL;
    snprintf(k->v[k->n], sizeof(k->v[0]), "%s", key);
    k->size[k->n++] = size;
    return STSROLE_OK;
}

static void
t_list_parse(void **state)
{
    static const char page[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>my-trail</Name><Prefix>AWSLogs/</Prefix><KeyCount>2</KeyCount>"
        "<MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
        "<Contents><Key>AWSLogs/a&amp;b.json.gz</Key><Size>123</Size></Contents>"
        "<Contents><Key>AWSLogs/c.json.gz</Key><Size>7</Size></Contents>"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</"
        "NextContinuationToken>"
        "</ListBucketResult>";
    static const char bomb[] = "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><ListBucketResult>&a;"
                               "</ListBucketResult>";
    static const char no_token[] = "<ListBucketResult><IsTruncated>true</IsTruncated>"
                                   "</ListBucketResult>";
    struct stsrole_buf next;
    struct stsrole_error err;
    struct keys k;
    int truncated;

    (void)state;
    memset(&k, 0, sizeof(k));
    stsrole_buf_init(&next, 0);
    assert_int_equal(stsrole_s3_parse_list(page, strlen(page), on_key, &k, &truncated, &next, &err),
                     STSROLE_OK);
    assert_int_equal(k.n, 2);
    assert_string_equal(k.v[0], "AWSLogs/a&b.json.gz");
    assert_int_equal(k.size[0], 123);
    assert_int_equal(truncated, 1);
    assert_string_equal(next.data, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    assert_int_equal(stsrole_s3_parse_list(bomb, strlen(bomb), on_key, &k, &truncated, &next, &err),
                     STSROLE_E_PROTOCOL);
    assert_int_equal(
        stsrole_s3_parse_list(no_token, strlen(no_token), on_key, &k, &truncated, &next, &err),
        STSROLE_E_PROTOCOL);
    stsrole_buf_free(&next);
}

struct rows {
    int n;
    char first[3][64];
};

static int
on_row(void *ctx, const char *const *cells, size_t n, struct stsrole_error *err)
{
    struct rows *r = ctx;
    size_t i;

    (void)err;
    for (i = 0; i < n && i < 3 && r->n == 0; i++)
        snprintf(r->first[i], sizeof(r->first[0]), "%s", cells[i] ? cells[i] : "(null)");
    r->n++;
    return STSROLE_OK;
}

static void
t_athena_answers(void **state)
{
    static const char rows[] =
        "{\"ResultSet\":{\"Rows\":[{\"Data\":[{\"VarCharValue\":\"eventtime\"},"
        "{\"VarCharValue\":\"eventid\"},{\"VarCharValue\":\"errorcode\"}]},"
        "{\"Data\":[{\"VarCharValue\":\"2026-12-05T11:00:00Z\"},{\"VarCharValue\":\"e1\"},{}]},"
        "{\"Data\":[{\"VarCharValue\":\"2026-12-05T11:00:01Z\"},{\"VarCharValue\":\"e2\"},"
        "{\"VarCharValue\":\"AccessDenied\"}]}]},\"NextToken\":\"tok2\"}";
    static const char failed[] = "{\"QueryExecution\":{\"Status\":{\"State\":\"FAILED\","
                                 "\"StateChangeReason\":\"TABLE_NOT_FOUND\"}}}";
    static const char running[] = "{\"QueryExecution\":{\"Status\":{\"State\":\"RUNNING\"}}}";
    static const char ok[] = "{\"QueryExecution\":{\"Status\":{\"State\":\"SUCCEEDED\"}}}";
    struct stsrole_athena_query q;
    struct stsrole_buf next, body;
    struct stsrole_error err;
    struct rows r;
    int done;

    (void)state;
    memset(&r, 0, sizeof(r));
    stsrole_buf_init(&next, 0);
    stsrole_buf_init(&body, 0);
    assert_int_equal(stsrole_athena_parse_rows(rows, strlen(rows), 1, on_row, &r, &next, &err),
                     STSROLE_OK);
    assert_int_equal(r.n, 2); /* the header row is skipped */
    assert_string_equal(r.first[0], "2026-12-05T11:00:00Z");
    assert_string_equal(r.first[2], "(null)");
    assert_string_equal(next.data, "tok2");
    assert_int_equal(stsrole_athena_parse_state(failed, strlen(failed), &done, &err),
                     STSROLE_E_REJECTED);
    assert_non_null(strstr(err.msg, "TABLE_NOT_FOUND"));
    assert_int_equal(stsrole_athena_parse_state(running, strlen(running), &done, &err), STSROLE_OK);
    assert_int_equal(done, 0);
    assert_int_equal(stsrole_athena_parse_state(ok, strlen(ok), &done, &err), STSROLE_OK);
    assert_int_equal(done, 1);
    memset(&q, 0, sizeof(q));
    q.sql = "SELECT 1";
    q.database = "trails";
    assert_int_equal(stsrole_athena_start_body(&q, &body, &err), STSROLE_OK);
    assert_string_equal(body.data, "{\"QueryString\":\"SELECT 1\",\"WorkGroup\":\"primary\","
                                   "\"QueryExecutionContext\":{\"Database\":\"trails\"}}");
    assert_int_equal(stsrole_athena_id_body("abc-1", "tok2", &body, &err), STSROLE_OK);
    assert_string_equal(
        body.data, "{\"QueryExecutionId\":\"abc-1\",\"NextToken\":\"tok2\",\"MaxResults\":1000}");
    stsrole_buf_free(&next);
    stsrole_buf_free(&body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_aws_example_get_object),
        cmocka_unit_test(t_aws_example_list),
        cmocka_unit_test(t_botocore_key_encoded_once),
        cmocka_unit_test(t_botocore_list_v2_page),
        cmocka_unit_test(t_payload_hash_must_match_header),
        cmocka_unit_test(t_urls),
        cmocka_unit_test(t_list_parse),
        cmocka_unit_test(t_athena_answers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
