/* SPDX-License-Identifier: BSD-3-Clause */
/* test_awserr.c: decoding and classification of AWS error answers, XML and JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws.h"

#define DENIED_MSG                                                                                 \
    "User: arn:aws:sts::111111111111:assumed-role/bastion/i-0abc is not authorized to perform: "   \
    "sts:AssumeRole on resource: arn:aws:iam::123456789012:role/SecurityAuditRole"

static int
classify(long status, const char *body, struct stsrole_error *err)
{
    memset(err, 0x55, sizeof(*err)); /* classify must set every field */
    return stsrole_aws_classify(status, body, body != NULL ? strlen(body) : 0, err);
}

static void
expect_class(long status, const char *body, int cls, const char *code, const char *msg)
{
    struct stsrole_error err;

    assert_int_equal(classify(status, body, &err), cls);
    assert_int_equal(err.status, cls);
    assert_string_equal(err.aws_code, code);
    if (msg != NULL)
        assert_string_equal(err.msg, msg);
}

static char *
xml_error(const char *code, const char *msg)
{
    char *s;

    assert_true(asprintf(&s,
                         "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                         "  <Error>\n    <Type>Sender</Type>\n    <Code>%s</Code>\n"
                         "    <Message>%s</Message>\n  </Error>\n"
                         "  <RequestId>4c5b8d6a-0f1e-4a3b-9c2d-1e2f3a4b5c6d</RequestId>\n"
                         "</ErrorResponse>\n",
                         code, msg) > 0);
    return s;
}

static char *
json_error(const char *code, const char *msg)
{
    char *s;

    assert_true(asprintf(&s,
                         "{\"Error\":{\"Code\":\"%s\",\"Message\":\"%s\",\"Type\":\"Sender\"},"
                         "\"RequestId\":\"4c5b8d6a-0f1e-4a3b-9c2d-1e2f3a4b5c6d\"}",
                         code, msg) > 0);
    return s;
}

static const struct {
    long status;
    const char *code;
    int cls;
} cases[] = {
    {403, "AccessDenied", STSROLE_E_DENIED},
    {400, "AccessDeniedException", STSROLE_E_DENIED},
    {403, "UnauthorizedOperation", STSROLE_E_DENIED},
    {403, "RegionDisabledException", STSROLE_E_DENIED},
    {400, "ValidationError", STSROLE_E_REJECTED},
    {400, "InvalidParameterValue", STSROLE_E_REJECTED},
    {400, "MalformedPolicyDocument", STSROLE_E_REJECTED},
    {400, "PackedPolicyTooLarge", STSROLE_E_REJECTED},
    {400, "InvalidAction", STSROLE_E_REJECTED},
    {400, "IDPRejectedClaim", STSROLE_E_REJECTED},
    {400, "Throttling", STSROLE_E_THROTTLED},
    {400, "ThrottlingException", STSROLE_E_THROTTLED},
    {503, "RequestLimitExceeded", STSROLE_E_THROTTLED},
    {429, "TooManyRequestsException", STSROLE_E_THROTTLED},
    {503, "SlowDown", STSROLE_E_THROTTLED},
    {400, "ExpiredToken", STSROLE_E_EXPIRED},
    {400, "ExpiredTokenException", STSROLE_E_EXPIRED},
    {403, "InvalidClientTokenId", STSROLE_E_EXPIRED},
    {403, "SignatureDoesNotMatch", STSROLE_E_EXPIRED},
    {400, "UnrecognizedClientException", STSROLE_E_EXPIRED},
    {400, "RequestExpired", STSROLE_E_EXPIRED},
    {403, "InvalidAccessKeyId", STSROLE_E_EXPIRED},
    {500, "InternalFailure", STSROLE_E_SERVER},
    {500, "InternalError", STSROLE_E_SERVER},
    {503, "ServiceUnavailable", STSROLE_E_SERVER},
    /* Unknown codes fall back on the status. */
    {404, "NoSuchThing", STSROLE_E_REJECTED},
    {400, "SomethingNew", STSROLE_E_REJECTED},
    {403, "SomethingNew", STSROLE_E_DENIED},
    {401, "SomethingNew", STSROLE_E_EXPIRED},
    {429, "SomethingNew", STSROLE_E_THROTTLED},
    {502, "SomethingNew", STSROLE_E_SERVER},
    {302, "SomethingNew", STSROLE_E_PROTOCOL},
};

static void
t_xml_classes(void **state)
{
    struct stsrole_error err;
    char want[256];
    size_t i;
    char *body;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        body = xml_error(cases[i].code, "something went wrong");
        snprintf(want, sizeof(want), "%s: something went wrong", cases[i].code);
        if (classify(cases[i].status, body, &err) != cases[i].cls)
            fail_msg("%s/%ld: got %s", cases[i].code, cases[i].status,
                     stsrole_status_name(err.status));
        assert_string_equal(err.aws_code, cases[i].code);
        assert_string_equal(err.msg, want);
        assert_string_equal(err.request_id, "4c5b8d6a-0f1e-4a3b-9c2d-1e2f3a4b5c6d");
        free(body);
    }
}

static void
t_json_classes(void **state)
{
    struct stsrole_error err;
    size_t i;
    char *body;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        body = json_error(cases[i].code, "something went wrong");
        if (classify(cases[i].status, body, &err) != cases[i].cls)
            fail_msg("%s/%ld: got %s", cases[i].code, cases[i].status,
                     stsrole_status_name(err.status));
        assert_string_equal(err.aws_code, cases[i].code);
        assert_string_equal(err.request_id, "4c5b8d6a-0f1e-4a3b-9c2d-1e2f3a4b5c6d");
        free(body);
    }
}

static void
t_access_denied(void **state)
{
    char *body;

    (void)state;
    body = xml_error("AccessDenied", DENIED_MSG);
    expect_class(403, body, STSROLE_E_DENIED, "AccessDenied", "AccessDenied: " DENIED_MSG);
    free(body);
    body = json_error("AccessDenied", DENIED_MSG);
    expect_class(403, body, STSROLE_E_DENIED, "AccessDenied", "AccessDenied: " DENIED_MSG);
    free(body);
}

static void
t_json_type(void **state)
{
    struct stsrole_error err;

    (void)state;
    expect_class(400,
                 "{\"__type\":\"com.amazon.coral.service#ThrottlingException\","
                 "\"message\":\"Rate exceeded\"}",
                 STSROLE_E_THROTTLED, "ThrottlingException", "ThrottlingException: Rate exceeded");
    expect_class(400,
                 "{\"__type\":\"ExpiredTokenException:http://internal.amazon.com/coral/"
                 "com.amazon.coral.availability/\",\"Message\":\"The security token included "
                 "in the request is expired\"}",
                 STSROLE_E_EXPIRED, "ExpiredTokenException",
                 "ExpiredTokenException: The security token included in the request is expired");
    expect_class(400, "{\"__type\":\"UnrecognizedClientException\"}", STSROLE_E_EXPIRED,
                 "UnrecognizedClientException", "UnrecognizedClientException (HTTP 400)");
    expect_class(500, "{\"__type\":\"com.amazon.coral#InternalFailure\",\"message\":null}",
                 STSROLE_E_SERVER, "InternalFailure", "InternalFailure (HTTP 500)");
    /* Wrapped the way the Query API's XML is. */
    assert_int_equal(classify(403,
                              "{\"ErrorResponse\":{\"Error\":{\"Code\":\"AccessDenied\","
                              "\"Message\":\"no\"},\"RequestId\":\"abc-123\"}}",
                              &err),
                     STSROLE_E_DENIED);
    assert_string_equal(err.request_id, "abc-123");
    assert_string_equal(err.msg, "AccessDenied: no");
}

static void
t_xml_variants(void **state)
{
    struct stsrole_error err;

    (void)state;
    /* EC2's shape: <Response><Errors><Error>..., RequestID; the first error wins. */
    assert_int_equal(classify(503,
                              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors>"
                              "<Error><Code>RequestLimitExceeded</Code><Message>Request limit "
                              "exceeded.</Message></Error><Error><Code>AuthFailure</Code>"
                              "</Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example"
                              "</RequestID></Response>",
                              &err),
                     STSROLE_E_THROTTLED);
    assert_string_equal(err.aws_code, "RequestLimitExceeded");
    assert_string_equal(err.request_id, "ea966190-f9aa-478e-9ede-example");
    assert_string_equal(err.msg, "RequestLimitExceeded: Request limit exceeded.");
    /* moto's authentication errors: <ErrorResponse><Errors><Error>. */
    expect_class(403,
                 "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ErrorResponse><Errors><Error>"
                 "<Code>InvalidClientTokenId</Code><Message>The security token included in the "
                 "request is invalid.</Message><Type>Sender</Type></Error></Errors>"
                 "</ErrorResponse>",
                 STSROLE_E_EXPIRED, "InvalidClientTokenId",
                 "InvalidClientTokenId: The security token included in the request is invalid.");
    /* S3's bare <Error>. */
    expect_class(503,
                 "<Error><Code>SlowDown</Code><Message>Please reduce your request rate."
                 "</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>",
                 STSROLE_E_THROTTLED, "SlowDown", "SlowDown: Please reduce your request rate.");
    /* Namespace prefixes, and moto's extra lowercase <message>. */
    expect_class(404,
                 "<e:ErrorResponse xmlns:e=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
                 "<e:Error><e:Type>Sender</e:Type><e:Code>NoSuchEntity</e:Code><e:Message>Role "
                 "nope not found</e:Message><e:message>ignored</e:message></e:Error>"
                 "<e:RequestId>mb4Xma</e:RequestId></e:ErrorResponse>",
                 STSROLE_E_REJECTED, "NoSuchEntity", "NoSuchEntity: Role nope not found");
    /* Entities are decoded. */
    expect_class(400,
                 "<ErrorResponse><Error><Code>ValidationError</Code><Message>1 validation error "
                 "detected: Value &apos;a b&apos; at &apos;roleSessionName&apos; failed &amp; "
                 "&lt;x&gt;</Message></Error></ErrorResponse>",
                 STSROLE_E_REJECTED, "ValidationError",
                 "ValidationError: 1 validation error detected: Value 'a b' at "
                 "'roleSessionName' failed & <x>");
}

static void
t_undecodable(void **state)
{
    /* moto's answer when it crashes */
    static const char html[] =
        "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
        "<h1>Internal Server Error</h1>\n<p>The server encountered an internal error.</p>\n";

    (void)state;
    expect_class(500, html, STSROLE_E_SERVER, "", "HTTP 500 with an undecodable body");
    expect_class(503, "", STSROLE_E_SERVER, "", "HTTP 503 with an undecodable body");
    expect_class(503, NULL, STSROLE_E_SERVER, "", "HTTP 503 with an undecodable body");
    expect_class(429, "Too Many Requests", STSROLE_E_THROTTLED, "",
                 "HTTP 429 with an undecodable body");
    expect_class(400, "{\"Error\":{\"Code\":", STSROLE_E_REJECTED, "",
                 "HTTP 400 with an undecodable body");
    expect_class(403, "<ErrorResponse><Error><Code>AccessDenied</Code>", STSROLE_E_DENIED, "",
                 "HTTP 403 with an undecodable body");
    expect_class(401, "{\"message\":\"no code here\"}", STSROLE_E_EXPIRED, "",
                 "HTTP 401 with an undecodable body");
    expect_class(502, "<Other><Code>AccessDenied</Code></Other>", STSROLE_E_SERVER, "",
                 "HTTP 502 with an undecodable body");
    expect_class(200, "[]", STSROLE_E_PROTOCOL, "", "HTTP 200 with an undecodable body");
}

static void
t_doctype(void **state)
{
    static const char laughs[] =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE ErrorResponse [<!ENTITY a \"aaaaaaaaaa\">"
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
        "<ErrorResponse><Error><Code>AccessDenied</Code><Message>&c;</Message></Error>"
        "</ErrorResponse>";

    (void)state;
    expect_class(403, laughs, STSROLE_E_DENIED, "", "HTTP 403 with an undecodable body");
    expect_class(500,
                 "<!DOCTYPE x SYSTEM \"file:///etc/shadow\"><ErrorResponse><Error><Code>"
                 "Throttling</Code></Error></ErrorResponse>",
                 STSROLE_E_SERVER, "", "HTTP 500 with an undecodable body");
}

static void
t_sanitize(void **state)
{
    struct stsrole_error err;
    char *body, *big;
    size_t i;

    (void)state;
    /* Line breaks and controls cannot forge a second log line. */
    body = json_error("AccessDenied", "line one\\nFAKE: line two\\r\\t\\u001b[31mred");
    assert_int_equal(classify(403, body, &err), STSROLE_E_DENIED);
    assert_string_equal(err.msg, "AccessDenied: line one FAKE: line two [31mred");
    free(body);
    body = xml_error("AccessDenied", "a&#10;b&#13;c  \t d");
    assert_int_equal(classify(403, body, &err), STSROLE_E_DENIED);
    assert_string_equal(err.msg, "AccessDenied: a b c d");
    free(body);
    /* Bidi overrides and invalid UTF-8 become '?'; real text stays. */
    body = json_error("AccessDenied", "Z\xc3\xbcrich \xe2\x80\xae"
                                      "evil \xff end");
    assert_int_equal(classify(403, body, &err), STSROLE_E_DENIED);
    assert_string_equal(err.msg, "AccessDenied: Z\xc3\xbcrich ?evil ? end");
    free(body);
    /* Codes and request ids keep identifier characters only. */
    assert_int_equal(classify(403,
                              "{\"Error\":{\"Code\":\"Access\\nDenied<x>\",\"Message\":\"m\"},"
                              "\"RequestId\":\"id-1\\r\\nX-Injected: 1\"}",
                              &err),
                     STSROLE_E_DENIED);
    assert_string_equal(err.aws_code, "AccessDeniedx");
    assert_string_equal(err.request_id, "id-1X-Injected:1");
    /* Long messages are cut at a character boundary. */
    big = malloc(3 * 2000 + 1);
    assert_non_null(big);
    for (i = 0; i < 2000; i++)
        memcpy(big + 3 * i, "\xe2\x82\xac", 3); /* the euro sign */
    big[3 * 2000] = '\0';
    body = xml_error("ValidationError", big);
    assert_int_equal(classify(400, body, &err), STSROLE_E_REJECTED);
    assert_true(strlen(err.msg) < sizeof(err.msg));
    assert_true(strlen(err.msg) > 300);
    assert_string_equal(err.msg + strlen(err.msg) - 6, "\xe2\x82\xac...");
    free(body);
    free(big);
    /* A NULL err is allowed: the class is still returned. */
    assert_int_equal(stsrole_aws_classify(400, "{\"__type\":\"Throttling\"}", 23, NULL),
                     STSROLE_E_THROTTLED);
    assert_int_equal(stsrole_aws_classify(502, "", 0, NULL), STSROLE_E_SERVER);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_xml_classes),   cmocka_unit_test(t_json_classes),
        cmocka_unit_test(t_access_denied), cmocka_unit_test(t_json_type),
        cmocka_unit_test(t_xml_variants),  cmocka_unit_test(t_undecodable),
        cmocka_unit_test(t_doctype),       cmocka_unit_test(t_sanitize),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
