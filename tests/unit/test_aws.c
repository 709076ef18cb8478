/* SPDX-License-Identifier: BSD-3-Clause */
/* test_aws.c: URL policy, form encoding, backoff, and the retry loop's deadline with a held clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "aws.h"
#include "partition.h"

static void
test_url_check(void **state)
{
    struct stsrole_error e;

    (void)state;
    assert_int_equal(stsrole_url_check("https://sts.us-east-1.amazonaws.com", &e), STSROLE_OK);
    assert_int_equal(stsrole_url_check("http://127.0.0.1:5000", &e), STSROLE_OK);
    assert_int_equal(stsrole_url_check("http://127.8.9.1/", &e), STSROLE_OK);
    assert_int_equal(stsrole_url_check("http://localhost:1/x", &e), STSROLE_OK);
    assert_int_equal(stsrole_url_check("http://[::1]:8080/", &e), STSROLE_OK);
    /* http:// to IMDS: for imds_endpoint only, never an AWS endpoint */
    assert_int_equal(stsrole_url_check("http://169.254.169.254", &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_url_check("http://[fd00:ec2::254]", &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_url_check_imds("http://169.254.169.254", &e), STSROLE_OK);
    assert_int_equal(stsrole_url_check_imds("http://[fd00:ec2::254]", &e), STSROLE_OK);
    assert_int_equal(stsrole_url_check_imds("http://127.0.0.1:8080", &e), STSROLE_OK);
    assert_int_equal(stsrole_url_check_imds("http://10.0.0.1", &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_url_check("http://sts.amazonaws.com", &e), STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "only to loopback"));
    assert_int_equal(stsrole_url_check("http://10.0.0.1", &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_url_check("http://127.0.0.1@evil.example/", &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_url_check("http://localhost.evil.example/", &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_url_check("file:///etc/passwd", &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_url_check("gopher://127.0.0.1/", &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_url_check("https://", &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_url_check("https://a b/", &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_url_check("", &e), STSROLE_E_INVALID);
}

static void
test_form_append(void **state)
{
    struct stsrole_buf b;

    (void)state;
    stsrole_buf_init(&b, 0);
    assert_int_equal(stsrole_form_append(&b, "Action", "AssumeRole"), STSROLE_OK);
    assert_int_equal(stsrole_form_append(&b, "Tags.member.1.Value", "Security Ops/Zoë~+=&"),
                     STSROLE_OK);
    /* The same bytes urllib.parse.urlencode (botocore) produces. */
    assert_string_equal(b.data, "Action=AssumeRole&Tags.member.1.Value="
                                "Security+Ops%2FZo%C3%AB~%2B%3D%26");
    stsrole_buf_free(&b);
}

/* Decode by Content-Type; sniff only when it says nothing useful. */
static void
test_format(void **state)
{
    (void)state;
    assert_int_equal(stsrole_aws_format("application/json", "<x/>", 4), STSROLE_AWS_JSON);
    assert_int_equal(stsrole_aws_format("Application/JSON; charset=UTF-8", NULL, 0),
                     STSROLE_AWS_JSON);
    assert_int_equal(stsrole_aws_format("application/x-amz-json-1.1", NULL, 0), STSROLE_AWS_JSON);
    assert_int_equal(stsrole_aws_format("text/xml", "{}", 2), STSROLE_AWS_XML);
    assert_int_equal(stsrole_aws_format("application/xml;charset=utf-8", "{}", 2), STSROLE_AWS_XML);
    assert_int_equal(stsrole_aws_format("application/jsonx", "<a/>", 4), STSROLE_AWS_XML);
    assert_int_equal(stsrole_aws_format("", " \n{}", 4), STSROLE_AWS_JSON);
    assert_int_equal(stsrole_aws_format(NULL, "\xef\xbb\xbf<a/>", 7), STSROLE_AWS_XML);
    assert_int_equal(stsrole_aws_format("text/html", "oops", 4), STSROLE_AWS_UNKNOWN);
    assert_int_equal(stsrole_aws_format(NULL, NULL, 0), STSROLE_AWS_UNKNOWN);
}

/* Which refusals are about the request's time, as the SDKs read them. */
static void
test_skew_error(void **state)
{
    struct stsrole_error e;
    const char *ddb = "{\"__type\":\"com.amazon.coral.service#InvalidSignatureException\","
                      "\"message\":\"Signature expired: 20261205T100000Z is now earlier than "
                      "20261205T105500Z (20261205T110000Z - 5 min.)\"}";
    const char *key = "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>The "
                      "request signature we calculated does not match</Message></Error>"
                      "</ErrorResponse>";
    const char *sts = "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>"
                      "Signature not yet current: 20261205T130000Z is still later than "
                      "20261205T110500Z (20261205T110000Z + 5 min.)</Message></Error>"
                      "</ErrorResponse>";

    (void)state;
    stsrole_aws_classify(400, ddb, strlen(ddb), &e);
    assert_true(stsrole_aws_is_skew_error(&e));
    stsrole_aws_classify(403, sts, strlen(sts), &e);
    assert_true(stsrole_aws_is_skew_error(&e));
    stsrole_aws_classify(403, key, strlen(key), &e);
    assert_false(stsrole_aws_is_skew_error(&e)); /* a wrong key is not a clock */
    stsrole_aws_classify(403, "{\"Error\":{\"Code\":\"RequestTimeTooSkewed\"}}", 41, &e);
    assert_true(stsrole_aws_is_skew_error(&e));
    assert_false(stsrole_aws_is_skew_error(NULL));
    stsrole_aws_set_clock_skew(-42);
    assert_int_equal(stsrole_aws_clock_skew(), -42);
    stsrole_aws_set_clock_skew(0);
}

/* The partition, IAM endpoint and IAM signing region follow from the region. */
static void
test_partition(void **state)
{
    const struct stsrole_partition *p;
    struct stsrole_error e;

    (void)state;
    assert_int_equal(stsrole_partition_of("eu-west-1", &p, &e), STSROLE_OK);
    assert_string_equal(p->name, "aws");
    assert_string_equal(p->iam_region, "us-east-1");
    assert_string_equal(p->iam_endpoint, "https://iam.amazonaws.com");
    assert_int_equal(stsrole_partition_of("cn-northwest-1", &p, &e), STSROLE_OK);
    assert_string_equal(p->name, "aws-cn");
    assert_string_equal(p->dns_suffix, "amazonaws.com.cn");
    assert_string_equal(p->iam_region, "cn-north-1");
    assert_string_equal(p->iam_endpoint, "https://iam.cn-north-1.amazonaws.com.cn");
    assert_int_equal(stsrole_partition_of("us-gov-east-1", &p, &e), STSROLE_OK);
    assert_string_equal(p->name, "aws-us-gov");
    assert_string_equal(p->iam_region, "us-gov-west-1");
    assert_string_equal(p->iam_endpoint, "https://iam.us-gov.amazonaws.com");
    assert_true(stsrole_arn_in_partition("arn:aws-us-gov:iam::123456789012:role/R", p));
    assert_false(stsrole_arn_in_partition("arn:aws:iam::123456789012:role/R", p));
    assert_false(stsrole_arn_in_partition("arn:aws-us-gov-x:iam::1:role/R", p));
    assert_int_equal(stsrole_partition_of("us-iso-east-1", &p, &e), STSROLE_E_CONFIG);
    assert_non_null(strstr(e.msg, "us-iso-east-1"));
    assert_int_equal(stsrole_partition_of("useast1", &p, &e), STSROLE_E_CONFIG);
    assert_int_equal(stsrole_partition_of("us-east-", &p, &e), STSROLE_E_CONFIG);
    assert_int_equal(stsrole_partition_of(NULL, &p, &e), STSROLE_E_CONFIG);
}

static void
test_backoff(void **state)
{
    int a;

    (void)state;
    for (a = 1; a < 20; a++) {
        assert_true(stsrole_aws_backoff_ms(a, 0.0) == 0);
        assert_true(stsrole_aws_backoff_ms(a, 0.999) <= 5000);
    }
    assert_int_equal(stsrole_aws_backoff_ms(1, 0.5), 100);
    assert_int_equal(stsrole_aws_backoff_ms(2, 0.5), 200);
    assert_int_equal(stsrole_aws_backoff_ms(10, 0.5), 2500);
    /* out-of-range jitter falls back to the middle, never beyond the cap */
    assert_int_equal(stsrole_aws_backoff_ms(3, 7.0), 400);
}

/* A clock the test holds: every sleep advances it, no real time passes. */
struct held {
    int64_t now;
    int sleeps;
    int retries;
};

static int64_t
held_now(void *ctx)
{
    return ((struct held *)ctx)->now;
}

static void
held_sleep(void *ctx, int ms)
{
    struct held *h = ctx;

    h->now += ms;
    h->sleeps++;
}

static void
held_retry(void *ctx, int attempt, int delay, const struct stsrole_error *why)
{
    (void)attempt;
    (void)delay;
    assert_int_equal(why->status, STSROLE_E_NETWORK);
    ((struct held *)ctx)->retries++;
}

static void
test_retry_until_attempts(void **state)
{
    /* Port 1 on loopback refuses at once: a network error on every try. */
    struct stsrole_http_config http = {NULL, NULL, 500, 1000, 0};
    struct stsrole_creds cr = {(char *)"AKIAIOSFODNN7EXAMPLE", (char *)"secret", NULL, 0};
    struct held h = {0, 0, 0};
    struct stsrole_aws_client c;
    struct stsrole_http_response resp;
    struct stsrole_error e;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.http = &http;
    c.creds = &cr;
    c.region = "us-east-1";
    c.service = "sts";
    c.endpoint = "http://127.0.0.1:1/";
    c.max_attempts = 4;
    c.deadline_ms = 600000;
    c.now_ms = held_now;
    c.sleep_ms = held_sleep;
    c.on_retry = held_retry;
    c.ctx = &h;
    assert_int_equal(stsrole_http_global_init(&e), STSROLE_OK);
    assert_int_equal(stsrole_aws_query(&c, "Action=GetCallerIdentity", &resp, &e),
                     STSROLE_E_NETWORK);
    assert_int_equal(h.retries, 3);
    assert_int_equal(h.sleeps, 3);

    /* With a short deadline it gives up before the attempts run out. */
    h = (struct held){0, 0, 0};
    c.max_attempts = 50;
    c.deadline_ms = 1000;
    assert_int_equal(stsrole_aws_query(&c, "Action=GetCallerIdentity", &resp, &e),
                     STSROLE_E_NETWORK);
    assert_true(h.now <= 1000);
    assert_true(h.retries < 49);
    assert_non_null(strstr(e.msg, "gave up"));

    /* A non-loopback http:// endpoint is a config error, never tried. */
    c.endpoint = "http://sts.amazonaws.com/";
    assert_int_equal(stsrole_aws_query(&c, "Action=GetCallerIdentity", &resp, &e),
                     STSROLE_E_CONFIG);
}

/* stsrole_aws_call refuses what it cannot send, before any attempt. */
static void
test_call_refuses(void **state)
{
    struct stsrole_http_config http = {NULL, NULL, 500, 1000, 0};
    struct stsrole_creds cr = {(char *)"AKIAIOSFODNN7EXAMPLE", (char *)"secret", NULL, 0};
    struct held h = {0, 0, 0};
    struct stsrole_header hs[STSROLE_AWS_MAX_HEADERS + 1] = {
        {"A", "1"}, {"B", "2"}, {"C", "3"}, {"D", "4"}, {"E", "5"}};
    struct stsrole_aws_client c;
    struct stsrole_aws_request rq;
    struct stsrole_http_response resp;
    struct stsrole_error e;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.http = &http;
    c.creds = &cr;
    c.region = "us-east-1";
    c.service = "s3";
    c.now_ms = held_now;
    c.sleep_ms = held_sleep;
    c.ctx = &h;
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    /* S3 with AWS's own endpoint: the request names its URL. */
    assert_int_equal(stsrole_aws_call(&c, &rq, &resp, &e), STSROLE_E_CONFIG);
    rq.url = "http://s3.us-east-1.amazonaws.com/b/k"; /* http only to loopback */
    assert_int_equal(stsrole_aws_call(&c, &rq, &resp, &e), STSROLE_E_CONFIG);
    rq.url = "http://127.0.0.1:1/b/k#frag";
    assert_int_equal(stsrole_aws_call(&c, &rq, &resp, &e), STSROLE_E_CONFIG);
    rq.url = "http://127.0.0.1:1/b/k?list-type=2";
    rq.headers = hs;
    rq.n_headers = STSROLE_AWS_MAX_HEADERS + 1;
    assert_int_equal(stsrole_aws_call(&c, &rq, &resp, &e), STSROLE_E_INVALID);
    rq.n_headers = 0;
    rq.body_len = 3; /* a length without a body */
    assert_int_equal(stsrole_aws_call(&c, &rq, &resp, &e), STSROLE_E_INVALID);
    assert_int_equal(h.sleeps, 0);
    /* A payload hash that is not one is the signer's refusal, not a retry. */
    rq.body_len = 0;
    rq.payload_hash = "not-a-hash";
    assert_int_equal(stsrole_aws_call(&c, &rq, &resp, &e), STSROLE_E_INVALID);
    assert_int_equal(h.sleeps, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_check),
        cmocka_unit_test(test_form_append),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_skew_error),
        cmocka_unit_test(test_partition),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_retry_until_attempts),
        cmocka_unit_test(test_call_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
