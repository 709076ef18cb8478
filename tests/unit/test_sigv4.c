/* SPDX-License-Identifier: BSD-3-Clause */
/* test_sigv4.c: SigV4 known-answer vectors from botocore (an independent signer) and error paths.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hash.h"
#include "sigv4.h"

/*
 * Every vector below was produced by botocore 1.43's SigV4Auth (python3 on
 * PATH), with its clock held at 2025-03-14T09:26:53Z (epoch 1741944413) and
 * its debug log printing each stage.  To regenerate one, run
 *
 *   python3 -c 'import botocore.auth as A, datetime as D
 *   from botocore.awsrequest import AWSRequest as R
 *   from botocore.credentials import Credentials as C
 *   from botocore.utils import percent_encode as E
 *   A.get_current_datetime = lambda: D.datetime(2025, 3, 14, 9, 26, 53)
 *   A.logger.debug = lambda m, *a: print(m % a)
 *   <the lines given with the vector>'
 *
 * which prints CanonicalRequest, StringToSign and Signature, then whatever
 * the vector's last line prints.
 */
#define NOW 1741944413
#define AKID "AKIAIOSFODNN7EXAMPLE"
#define ASID "ASIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define TOKEN "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token=="
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static struct stsrole_sigv4_params
params(const char *akid, const char *token, const char *region, const char *service)
{
    struct stsrole_sigv4_params p;

    memset(&p, 0, sizeof(p));
    p.region = region;
    p.service = service;
    p.access_key_id = akid;
    p.secret_access_key = SECRET;
    p.session_token = token;
    p.now = NOW;
    p.normalize_path = 1;
    return p;
}

/* Runs every stage on one request and compares with botocore's output. */
static void
assert_signs_as(const struct stsrole_sigv4_request *req, const struct stsrole_sigv4_params *p,
                const char *canonical, const char *string_to_sign, const char *authorization)
{
    struct stsrole_buf canon, signed_headers, sts;
    struct stsrole_sigv4_signed s;
    struct stsrole_error err;
    unsigned char key[32];
    char sig[65];
    const char *want_sig = strstr(authorization, "Signature=") + strlen("Signature=");

    stsrole_buf_init(&canon, 0);
    stsrole_buf_init(&signed_headers, 0);
    stsrole_buf_init(&sts, 0);
    assert_int_equal(stsrole_sigv4_canonical_request(req, p, &canon, &signed_headers, &err),
                     STSROLE_OK);
    assert_string_equal(canon.data, canonical);
    assert_int_equal(stsrole_sigv4_string_to_sign(p, canon.data, &sts, &err), STSROLE_OK);
    assert_string_equal(sts.data, string_to_sign);
    assert_int_equal(stsrole_sigv4_signing_key(p, key, &err), STSROLE_OK);
    assert_int_equal(stsrole_sigv4_signature(key, sts.data, sig, &err), STSROLE_OK);
    assert_string_equal(sig, want_sig);
    assert_int_equal(stsrole_sigv4_sign_headers(req, p, &s, &err), STSROLE_OK);
    assert_string_equal(s.authorization, authorization);
    assert_string_equal(s.amz_date, "20250314T092653Z");
    assert_string_equal(s.signature, want_sig);
    stsrole_sigv4_signed_free(&s);
    assert_null(s.authorization);
    stsrole_buf_free(&canon);
    stsrole_buf_free(&signed_headers);
    stsrole_buf_free(&sts);
}

/*
 * STS AssumeRole as a form POST with a session token; the tag values hold
 * spaces, '~', '/' and non-ASCII.  Vector lines:
 *
 *   f = [("Action", "AssumeRole"), ("Version", "2011-06-15"),
 *        ("RoleArn", "arn:aws:iam::111122223333:role/SecurityAuditRole"),
 *        ("RoleSessionName", "alice@bastion-1.7f3a9c"), ("SourceIdentity", "alice"),
 *        ("DurationSeconds", "3600"), ("Tags.member.1.Key", "stsrole:mfa"),
 *        ("Tags.member.1.Value", "totp verified"), ("Tags.member.2.Key", "display-name"),
 *        ("Tags.member.2.Value", "Renée Müller ~ Ops/Team")]
 *   b = "&".join(E(k) + "=" + E(v) for k, v in f)
 *   r = R("POST", "https://sts.us-east-1.amazonaws.com/", data=b.encode(), headers={
 *       "Host": "sts.us-east-1.amazonaws.com",
 *       "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
 *   s = A.SigV4Auth(C("ASIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
 *       "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token=="),
 *       "sts", "us-east-1")
 *   s.add_auth(r); print(b); print(r.headers["Authorization"])
 */
static const char *const assume_form[][2] = {
    {"Action", "AssumeRole"},
    {"Version", "2011-06-15"},
    {"RoleArn", "arn:aws:iam::111122223333:role/SecurityAuditRole"},
    {"RoleSessionName", "alice@bastion-1.7f3a9c"},
    {"SourceIdentity", "alice"},
    {"DurationSeconds", "3600"},
    {"Tags.member.1.Key", "stsrole:mfa"},
    {"Tags.member.1.Value", "totp verified"},
    {"Tags.member.2.Key", "display-name"},
    {"Tags.member.2.Value", "Ren\xc3\xa9"
                            "e M\xc3\xbc"
                            "ller ~ Ops/Team"},
};
static const char assume_body[] =
    "Action=AssumeRole&Version=2011-06-15"
    "&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2FSecurityAuditRole"
    "&RoleSessionName=alice%40bastion-1.7f3a9c&SourceIdentity=alice&DurationSeconds=3600"
    "&Tags.member.1.Key=stsrole%3Amfa&Tags.member.1.Value=totp%20verified"
    "&Tags.member.2.Key=display-name"
    "&Tags.member.2.Value=Ren%C3%A9e%20M%C3%BCller%20~%20Ops%2FTeam";
static const char assume_auth[] =
    "AWS4-HMAC-SHA256 Credential=" ASID "/20250314/us-east-1/sts/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "
    "Signature=5564a77539e1f9f161d75d403cbabb56166ce533284f0920fe2be2f159503e02";

static void
t_sts_assume_role_post(void **state)
{
    struct stsrole_header h[] = {
        {"Host", "sts.us-east-1.amazonaws.com"},
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
    };
    struct stsrole_sigv4_request req = {"POST", "/", NULL, h, 2, NULL, 0};
    struct stsrole_sigv4_params p = params(ASID, TOKEN, "us-east-1", "sts");
    struct stsrole_buf body;
    size_t i;

    (void)state;
    /* The body our encoder builds is byte for byte botocore's. */
    stsrole_buf_init(&body, 0);
    for (i = 0; i < sizeof(assume_form) / sizeof(assume_form[0]); i++) {
        if (i > 0)
            assert_int_equal(stsrole_buf_puts(&body, "&"), STSROLE_OK);
        assert_int_equal(stsrole_uri_encode(&body, assume_form[i][0], strlen(assume_form[i][0]), 1),
                         STSROLE_OK);
        assert_int_equal(stsrole_buf_puts(&body, "="), STSROLE_OK);
        assert_int_equal(stsrole_uri_encode(&body, assume_form[i][1], strlen(assume_form[i][1]), 1),
                         STSROLE_OK);
    }
    assert_string_equal(body.data, assume_body);
    req.payload = body.data;
    req.payload_len = body.len;
    assert_signs_as(&req, &p,
                    "POST\n/\n\n"
                    "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
                    "host:sts.us-east-1.amazonaws.com\n"
                    "x-amz-date:20250314T092653Z\n"
                    "x-amz-security-token:" TOKEN "\n\n"
                    "content-type;host;x-amz-date;x-amz-security-token\n"
                    "a435805a29ff160bf99491609d3200568d63ec68803ace8daf5184e9eec0e388",
                    "AWS4-HMAC-SHA256\n20250314T092653Z\n20250314/us-east-1/sts/aws4_request\n"
                    "7a8d5a248889b4b92158f838b06122084d96bae4fe997d921b03bf19ac80ea1a",
                    assume_auth);
    stsrole_buf_free(&body);
}

/* A retry carries the previous attempt's signer headers: they are replaced,
 * not signed (botocore does the same), so the signature is unchanged. */
static void
t_resign_ignores_old_signer_headers(void **state)
{
    struct stsrole_header h[] = {
        {"Host", "sts.us-east-1.amazonaws.com"},
        {"Authorization", "AWS4-HMAC-SHA256 stale"},
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
        {"X-Amz-Date", "20000101T000000Z"},
        {"X-Amz-Security-Token", "stale"},
    };
    struct stsrole_sigv4_request req = {"POST", "/", "", h, 5, assume_body, strlen(assume_body)};
    struct stsrole_sigv4_params p = params(ASID, TOKEN, "us-east-1", "sts");
    struct stsrole_sigv4_signed s;
    struct stsrole_error err;

    (void)state;
    assert_int_equal(stsrole_sigv4_sign_headers(&req, &p, &s, &err), STSROLE_OK);
    assert_string_equal(s.authorization, assume_auth);
    stsrole_sigv4_signed_free(&s);
}

/*
 * A GET with a query (IAM ListRoles); User-Agent is not signed.  Vector lines:
 *
 *   r = R("GET", "https://iam.amazonaws.com/?Version=2010-05-08&Action=ListRoles"
 *         "&PathPrefix=%2Fstsrole%2F&MaxItems=100",
 *         headers={"Host": "iam.amazonaws.com", "User-Agent": "stsrole/1.0"})
 *   s = A.SigV4Auth(C("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
 *       "iam", "us-east-1")
 *   s.add_auth(r); print(r.headers["Authorization"])
 */
static void
t_iam_get_query(void **state)
{
    struct stsrole_header h[] = {{"Host", "iam.amazonaws.com"}, {"User-Agent", "stsrole/1.0"}};
    struct stsrole_sigv4_request req = {
        "GET", "/", "Version=2010-05-08&Action=ListRoles&PathPrefix=%2Fstsrole%2F&MaxItems=100",
        h,     2,   NULL,
        0};
    struct stsrole_sigv4_params p = params(AKID, NULL, "us-east-1", "iam");

    (void)state;
    assert_signs_as(
        &req, &p,
        "GET\n/\nAction=ListRoles&MaxItems=100&PathPrefix=%2Fstsrole%2F&Version=2010-05-08\n"
        "host:iam.amazonaws.com\nx-amz-date:20250314T092653Z\n\nhost;x-amz-date\n" EMPTY_SHA256,
        "AWS4-HMAC-SHA256\n20250314T092653Z\n20250314/us-east-1/iam/aws4_request\n"
        "842d48a36063c8a4115fb89ee503b7af057c26b945566315aa6358958c45d1bf",
        "AWS4-HMAC-SHA256 Credential=" AKID "/20250314/us-east-1/iam/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=aff6c19040d78b028679441ac2b1e0395db91655e5aba5491cc3c4913902af1d");
}

/*
 * The URI-encoding rules in one request: a path with a space, '~', raw
 * UTF-8, a client-encoded "%2F" (encoded again: non-S3 paths are encoded
 * twice), '.', '..' and '//'; query values with space, '/', '+', '*' and
 * UTF-8; a header value to trim.  Vector lines:
 *
 *   r = R("GET", "https://example.amazonaws.com/docs/a b~c/café/x%2Fy/./q//r/../s/",
 *         params={"prefix": "a b/c~d+e*f", "name": "Renée ሴ", "empty": ""},
 *         headers={"Host": "example.amazonaws.com", "My-Header": "  a   b\tc  "})
 *   s = A.SigV4Auth(C("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
 *       "service", "eu-west-1")
 *   s.add_auth(r); print(r.headers["Authorization"])
 */
static void
t_uri_rules_request(void **state)
{
    struct stsrole_header h[] = {{"Host", "example.amazonaws.com"}, {"My-Header", "  a   b\tc  "}};
    /* The same query raw and as a client would have encoded it. */
    static const char *const queries[] = {
        "prefix=a b/c~d+e*f&name=Ren\xc3\xa9"
        "e \xe1\x88\xb4&empty",
        "prefix=a%20b%2fc~d%2Be%2Af&name=Ren%C3%A9e%20%E1%88%B4&empty=",
    };
    struct stsrole_sigv4_params p = params(AKID, NULL, "eu-west-1", "service");
    size_t i;

    (void)state;
    for (i = 0; i < 2; i++) {
        struct stsrole_sigv4_request req = {
            "GET", "/docs/a b~c/caf\xc3\xa9/x%2Fy/./q//r/../s/", queries[i], h, 2, NULL, 0};

        assert_signs_as(
            &req, &p,
            "GET\n/docs/a%20b~c/caf%C3%A9/x%252Fy/q/s/\n"
            "empty=&name=Ren%C3%A9e%20%E1%88%B4&prefix=a%20b%2Fc~d%2Be%2Af\n"
            "host:example.amazonaws.com\nmy-header:a b c\nx-amz-date:20250314T092653Z\n\n"
            "host;my-header;x-amz-date\n" EMPTY_SHA256,
            "AWS4-HMAC-SHA256\n20250314T092653Z\n20250314/eu-west-1/service/aws4_request\n"
            "9fb5c7965cfdf026df1ed229a6254f780e31b0c4ffcb332459d4e93dbd1f390e",
            "AWS4-HMAC-SHA256 Credential=" AKID "/20250314/eu-west-1/service/aws4_request, "
            "SignedHeaders=host;my-header;x-amz-date, "
            "Signature=dbcc8e8768a3d5944bc09dae4da7a3ff0e50adb96d9117934f847af0fbfeb2e5");
    }
}

/*
 * S3-style path (normalize_path = 0): no dot or slash removal, encoded
 * once, so the client's "%2F" stays.  Vector lines (S3SigV4Auth adds
 * x-amz-content-sha256, which our caller passes itself):
 *
 *   r = R("GET", "https://bucket.s3.amazonaws.com/a%2Fb%20c/./x//y",
 *         headers={"Host": "bucket.s3.amazonaws.com"})
 *   s = A.S3SigV4Auth(C("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
 *       "s3", "us-east-1")
 *   s.add_auth(r); print(r.headers["Authorization"])
 */
static void
t_s3_style_path(void **state)
{
    struct stsrole_header h[] = {{"Host", "bucket.s3.amazonaws.com"},
                                 {"X-Amz-Content-SHA256", EMPTY_SHA256}};
    /* Raw space and lowercase escape: still one encoding, uppercase hex. */
    struct stsrole_sigv4_request req = {"GET", "/a%2fb c/./x//y", NULL, h, 2, NULL, 0};
    struct stsrole_sigv4_params p = params(AKID, NULL, "us-east-1", "s3");

    (void)state;
    p.normalize_path = 0;
    assert_signs_as(&req, &p,
                    "GET\n/a%2Fb%20c/./x//y\n\nhost:bucket.s3.amazonaws.com\n"
                    "x-amz-content-sha256:" EMPTY_SHA256 "\nx-amz-date:20250314T092653Z\n\n"
                    "host;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA256,
                    "AWS4-HMAC-SHA256\n20250314T092653Z\n20250314/us-east-1/s3/aws4_request\n"
                    "b3d0b050f61b51b6db6e2a208edb3425da735364d4d6afcbac009697cb5244b6",
                    "AWS4-HMAC-SHA256 Credential=" AKID "/20250314/us-east-1/s3/aws4_request, "
                    "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                    "Signature=f04f3418686e2f30d1a5e060bc6c7e88a79678fc40bc0c96380ddc51ad919a28");
}

/*
 * stsrole_uri_encode against botocore's encoder:
 *   python3 -c 'from botocore.utils import percent_encode as E; print(E(S), E(S, safe="/-_.~"))'
 */
static void
t_uri_encode(void **state)
{
    static const struct {
        const char *in, *slash_encoded, *slash_kept;
    } v[] = {
        {" ", "%20", "%20"},
        {"~", "~", "~"},
        {"a/b", "a%2Fb", "a/b"},
        {"caf\xc3\xa9", "caf%C3%A9", "caf%C3%A9"},
        {"\xe1\x88\xb4", "%E1%88%B4", "%E1%88%B4"},
        {"+*%", "%2B%2A%25", "%2B%2A%25"},
        {"-_.~AZaz09", "-_.~AZaz09", "-_.~AZaz09"},
        {"!'()", "%21%27%28%29", "%21%27%28%29"},
    };
    struct stsrole_buf b;
    size_t i;

    (void)state;
    stsrole_buf_init(&b, 0);
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        stsrole_buf_reset(&b);
        assert_int_equal(stsrole_uri_encode(&b, v[i].in, strlen(v[i].in), 1), STSROLE_OK);
        assert_string_equal(b.data, v[i].slash_encoded);
        stsrole_buf_reset(&b);
        assert_int_equal(stsrole_uri_encode(&b, v[i].in, strlen(v[i].in), 0), STSROLE_OK);
        assert_string_equal(b.data, v[i].slash_kept);
    }
    /* A NUL inside the given length is a byte like any other. */
    stsrole_buf_reset(&b);
    assert_int_equal(stsrole_uri_encode(&b, "a\0b", 3, 1), STSROLE_OK);
    assert_string_equal(b.data, "a%00b");
    stsrole_buf_reset(&b);
    assert_int_equal(stsrole_uri_encode(&b, NULL, 0, 1), STSROLE_OK);
    assert_int_equal(b.len, 0);
    stsrole_buf_free(&b);
}

static void
t_sha256_hex(void **state)
{
    char out[65];

    (void)state;
    stsrole_sha256_hex(NULL, 0, out);
    assert_string_equal(out, EMPTY_SHA256);
    stsrole_sha256_hex("Param1=value1", 13, out);
    assert_string_equal(out, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
}

/* AWS's documented signing-key example (IAM user guide, "Deriving the
 * signing key"): 20120215, us-east-1, iam. */
static void
t_signing_key_aws_example(void **state)
{
    struct stsrole_sigv4_params p = params(AKID, NULL, "us-east-1", "iam");
    struct stsrole_error err;
    unsigned char key[32];
    char hex[65];

    (void)state;
    p.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    p.now = 1329264000; /* 2012-02-15T00:00:00Z */
    assert_int_equal(stsrole_sigv4_signing_key(&p, key, &err), STSROLE_OK);
    stsrole_hex(key, sizeof(key), hex);
    assert_string_equal(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    /* Only the date of the scope counts, not the time of day. */
    p.now = 1329264000 + 86399;
    assert_int_equal(stsrole_sigv4_signing_key(&p, key, &err), STSROLE_OK);
    stsrole_hex(key, sizeof(key), hex);
    assert_string_equal(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

static void
t_errors(void **state)
{
    struct stsrole_header h[] = {{"Host", "sts.amazonaws.com"}};
    struct stsrole_header no_host[] = {{"Content-Type", "text/plain"}};
    struct stsrole_header null_value[] = {{"Host", NULL}};
    struct stsrole_header bad_name[] = {{"Host", "x"}, {"Bad Name", "x"}};
    struct stsrole_sigv4_request ok = {"GET", "/", NULL, h, 1, NULL, 0};
    struct stsrole_sigv4_request req;
    struct stsrole_sigv4_params p = params(AKID, NULL, "us-east-1", "sts"), q;
    struct stsrole_sigv4_signed s;
    struct stsrole_buf b;
    struct stsrole_error err;
    unsigned char key[32];
    char sig[65];

    (void)state;
    stsrole_buf_init(&b, 0);

    /* Each stage refuses NULL and empty inputs. */
    assert_int_equal(stsrole_uri_encode(NULL, "a", 1, 1), STSROLE_E_INVALID);
    assert_int_equal(stsrole_uri_encode(&b, NULL, 1, 1), STSROLE_E_INVALID);
    assert_int_equal(stsrole_sigv4_canonical_request(NULL, &p, &b, NULL, &err), STSROLE_E_INVALID);
    assert_int_equal(stsrole_sigv4_canonical_request(&ok, NULL, &b, NULL, &err), STSROLE_E_INVALID);
    assert_int_equal(stsrole_sigv4_canonical_request(&ok, &p, NULL, NULL, &err), STSROLE_E_INVALID);
    assert_int_equal(stsrole_sigv4_string_to_sign(&p, NULL, &b, &err), STSROLE_E_INVALID);
    assert_int_equal(stsrole_sigv4_string_to_sign(&p, "", &b, &err), STSROLE_E_INVALID);
    assert_int_equal(stsrole_sigv4_string_to_sign(NULL, "x", &b, &err), STSROLE_E_INVALID);
    assert_int_equal(stsrole_sigv4_signing_key(NULL, key, &err), STSROLE_E_INVALID);
    assert_int_equal(stsrole_sigv4_signing_key(&p, NULL, &err), STSROLE_E_INVALID);
    assert_int_equal(stsrole_sigv4_signature(NULL, "x", sig, &err), STSROLE_E_INVALID);
    assert_int_equal(stsrole_sigv4_signature(key, NULL, sig, &err), STSROLE_E_INVALID);
    assert_int_equal(stsrole_sigv4_signature(key, "", sig, &err), STSROLE_E_INVALID);
    assert_int_equal(stsrole_sigv4_sign_headers(&ok, &p, NULL, &err), STSROLE_E_INVALID);
    /* A NULL error struct is allowed. */
    assert_int_equal(stsrole_sigv4_signing_key(NULL, key, NULL), STSROLE_E_INVALID);

    /* Missing or malformed parameters. */
    q = p;
    q.secret_access_key = "";
    assert_int_equal(stsrole_sigv4_signing_key(&q, key, &err), STSROLE_E_INVALID);
    assert_int_equal(err.status, STSROLE_E_INVALID);
    assert_non_null(strstr(err.msg, "secret"));
    q = p;
    q.secret_access_key = NULL;
    assert_int_equal(stsrole_sigv4_sign_headers(&ok, &q, &s, &err), STSROLE_E_INVALID);
    assert_null(s.authorization);
    stsrole_sigv4_signed_free(&s);
    q = p;
    q.region = "";
    assert_int_equal(stsrole_sigv4_signing_key(&q, key, &err), STSROLE_E_INVALID);
    q = p;
    q.service = NULL;
    assert_int_equal(stsrole_sigv4_string_to_sign(&q, "x", &b, &err), STSROLE_E_INVALID);
    q = p;
    q.region = "us-east-1/x"; /* would forge another credential scope */
    assert_int_equal(stsrole_sigv4_signing_key(&q, key, &err), STSROLE_E_INVALID);
    q = p;
    q.access_key_id = "";
    assert_int_equal(stsrole_sigv4_sign_headers(&ok, &q, &s, &err), STSROLE_E_INVALID);
    q = p;
    q.session_token = "tok\r\nX-Injected: 1";
    assert_int_equal(stsrole_sigv4_sign_headers(&ok, &q, &s, &err), STSROLE_E_INVALID);
    q = p;
    q.now = -1;
    assert_int_equal(stsrole_sigv4_signing_key(&q, key, &err), STSROLE_E_INVALID);

    /* Malformed requests. */
    req = ok;
    req.method = "";
    assert_int_equal(stsrole_sigv4_canonical_request(&req, &p, &b, NULL, &err), STSROLE_E_INVALID);
    req = ok;
    req.method = NULL;
    assert_int_equal(stsrole_sigv4_sign_headers(&req, &p, &s, &err), STSROLE_E_INVALID);
    req = ok;
    req.path = "relative";
    assert_int_equal(stsrole_sigv4_canonical_request(&req, &p, &b, NULL, &err), STSROLE_E_INVALID);
    req = ok;
    req.headers = no_host;
    assert_int_equal(stsrole_sigv4_canonical_request(&req, &p, &b, NULL, &err), STSROLE_E_INVALID);
    assert_non_null(strstr(err.msg, "Host"));
    req.n_headers = 0;
    req.headers = NULL;
    assert_int_equal(stsrole_sigv4_canonical_request(&req, &p, &b, NULL, &err), STSROLE_E_INVALID);
    req = ok;
    req.headers = null_value;
    assert_int_equal(stsrole_sigv4_canonical_request(&req, &p, &b, NULL, &err), STSROLE_E_INVALID);
    req = ok;
    req.headers = bad_name;
    req.n_headers = 2;
    assert_int_equal(stsrole_sigv4_canonical_request(&req, &p, &b, NULL, &err), STSROLE_E_INVALID);
    req = ok;
    req.payload_len = 3; /* with a NULL payload */
    assert_int_equal(stsrole_sigv4_canonical_request(&req, &p, &b, NULL, &err), STSROLE_E_INVALID);

    /* The good request still signs after all that. */
    assert_int_equal(stsrole_sigv4_sign_headers(&ok, &p, &s, &err), STSROLE_OK);
    assert_non_null(s.authorization);
    stsrole_sigv4_signed_free(&s);
    stsrole_sigv4_signed_free(NULL);
    stsrole_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_sha256_hex),
        cmocka_unit_test(t_signing_key_aws_example),
        cmocka_unit_test(t_uri_encode),
        cmocka_unit_test(t_sts_assume_role_post),
        cmocka_unit_test(t_resign_ignores_old_signer_headers),
        cmocka_unit_test(t_iam_get_query),
        cmocka_unit_test(t_uri_rules_request),
        cmocka_unit_test(t_s3_style_path),
        cmocka_unit_test(t_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
