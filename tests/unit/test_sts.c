/* SPDX-License-Identifier: BSD-3-Clause */
/* test_sts.c: AssumeRole limits, request body encoding, and decoding JSON and XML answers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts.h"

#define ARN "arn:aws:iam::123456789012:role/SecurityAuditRole"

static const struct stsrole_tag good_tags[] = {
    {"MfaChecked", "true"},
    {"Team Name", "Z\xc3\xbcrich Ops"},
    {"key:with/=+-@._", ""},
};
static const char *const good_transitive[] = {"mfachecked"};

static void
good_params(struct stsrole_assume_params *p)
{
    memset(p, 0, sizeof(*p));
    p->role_arn = ARN;
    p->session_name = "alice.bastion1.ab12";
    p->duration = 3600;
    p->source_identity = "alice";
    p->tags = good_tags;
    p->n_tags = 3;
    p->transitive_tag_keys = good_transitive;
    p->n_transitive_tag_keys = 1;
    p->external_id = "a/b:c+d=e,f.g@h-i_j";
    p->policy = "{\"Version\":\"2012-10-17\",\n\t\"Statement\":[]}";
    p->serial_number = "arn:aws:iam::123456789012:mfa/alice";
    p->token_code = "123456";
}

static void
expect_ok(const struct stsrole_assume_params *p)
{
    struct stsrole_error err;

    memset(&err, 0, sizeof(err));
    if (stsrole_sts_validate(p, &err) != STSROLE_OK)
        fail_msg("expected OK, got: %s", err.msg);
}

static void
expect_invalid(const struct stsrole_assume_params *p, const char *needle)
{
    struct stsrole_error err;

    memset(&err, 0, sizeof(err));
    assert_int_equal(stsrole_sts_validate(p, &err), STSROLE_E_INVALID);
    assert_int_equal(err.status, STSROLE_E_INVALID);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("message \"%s\" does not contain \"%s\"", err.msg, needle);
}

static char *
repeat(char c, size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void
t_validate_good(void **state)
{
    struct stsrole_assume_params p;

    (void)state;
    good_params(&p);
    expect_ok(&p);
    memset(&p, 0, sizeof(p));
    p.role_arn = ARN;
    p.session_name = "ab";
    expect_ok(&p);
}

static void
t_role_arn(void **state)
{
    struct stsrole_assume_params p;
    char *big, *name;

    (void)state;
    good_params(&p);
    p.role_arn = "arn:aws-us-gov:iam::123456789012:role/ops/team/SecurityAuditRole";
    expect_ok(&p);
    p.role_arn = NULL;
    expect_invalid(&p, "RoleArn: required");
    p.role_arn = "arn:aws:iam::1:role";
    expect_invalid(&p, "RoleArn: 19 characters, at least 20 required");
    p.role_arn = "arn:aws:iam::123456789012:user/alice";
    expect_invalid(&p, "RoleArn: not a role ARN");
    p.role_arn = "arn:aws:s3:::some-bucket-name/key";
    expect_invalid(&p, "RoleArn: not an IAM ARN");
    p.role_arn = "arn:aws:iam::12345678901:role/Audit";
    expect_invalid(&p, "RoleArn: account must be 12 digits");
    p.role_arn = "arn:AWS:iam::123456789012:role/Audit";
    expect_invalid(&p, "RoleArn: invalid partition");
    p.role_arn = "arn:aws:iam::123456789012:role/Audit Role";
    expect_invalid(&p, "RoleArn: invalid character 0x20");
    p.role_arn = "arn:aws:iam::123456789012:role/Audit\n";
    expect_invalid(&p, "RoleArn: invalid character 0x0a");
    p.role_arn = "arn:aws:iam::123456789012:role/";
    expect_invalid(&p, "RoleArn: role name: 0 characters");
    p.role_arn = "arn:aws:iam::123456789012:role/a//b";
    expect_invalid(&p, "RoleArn: empty role path segment");
    p.role_arn = "arn:aws:iam::123456789012:role/Audit*";
    expect_invalid(&p, "RoleArn: role name: invalid character 0x2a");
    name = repeat('r', 65);
    big = malloc(100);
    assert_non_null(big);
    snprintf(big, 100, "arn:aws:iam::123456789012:role/%s", name);
    p.role_arn = big;
    expect_invalid(&p, "RoleArn: role name: 65 characters, at most 64 allowed");
    free(big);
    free(name);
    big = repeat('a', 2049);
    memcpy(big, "arn:aws:iam::123456789012:role/", 31);
    p.role_arn = big;
    expect_invalid(&p, "RoleArn: 2049 characters, at most 2048 allowed");
    free(big);
}

static void
t_session_name(void **state)
{
    struct stsrole_assume_params p;
    char *big;

    (void)state;
    good_params(&p);
    p.session_name = "alice=x,y.z@b-1_";
    expect_ok(&p);
    p.session_name = NULL;
    expect_invalid(&p, "RoleSessionName: required");
    p.session_name = "a";
    expect_invalid(&p, "RoleSessionName: 1 characters, at least 2 required");
    big = repeat('s', 70);
    p.session_name = big;
    expect_invalid(&p, "RoleSessionName: 70 characters, at most 64 allowed");
    free(big);
    p.session_name = "alice smith";
    expect_invalid(&p, "RoleSessionName: invalid character 0x20 at position 6");
    p.session_name = "al/ice";
    expect_invalid(&p, "RoleSessionName: invalid character 0x2f");
    p.session_name = "J\xc3\xbcrgen";
    expect_invalid(&p, "RoleSessionName: invalid character U+00FC");
}

static void
t_duration(void **state)
{
    struct stsrole_assume_params p;

    (void)state;
    good_params(&p);
    p.duration = 0;
    expect_ok(&p);
    p.duration = 900;
    expect_ok(&p);
    p.duration = 43200;
    expect_ok(&p);
    p.duration = 899;
    expect_invalid(&p, "DurationSeconds: 899 is outside 900-43200");
    p.duration = 43201;
    expect_invalid(&p, "DurationSeconds: 43201");
    p.duration = -5;
    expect_invalid(&p, "DurationSeconds: -5");
}

static void
t_source_identity(void **state)
{
    struct stsrole_assume_params p;
    char *big;

    (void)state;
    good_params(&p);
    p.source_identity = "alice@example.com";
    expect_ok(&p);
    p.source_identity = NULL;
    expect_ok(&p);
    p.source_identity = "aws:alice";
    expect_invalid(&p, "SourceIdentity: the prefix \"aws:\" is reserved");
    p.source_identity = "AWS:alice";
    expect_invalid(&p, "SourceIdentity: the prefix \"aws:\" is reserved");
    p.source_identity = "alice:x";
    expect_invalid(&p, "SourceIdentity: invalid character 0x3a");
    p.source_identity = "a";
    expect_invalid(&p, "SourceIdentity: 1 characters, at least 2 required");
    p.source_identity = "";
    expect_invalid(&p, "SourceIdentity: 0 characters");
    p.source_identity = "al ice";
    expect_invalid(&p, "SourceIdentity: invalid character 0x20");
    big = repeat('x', 65);
    p.source_identity = big;
    expect_invalid(&p, "SourceIdentity: 65 characters, at most 64 allowed");
    free(big);
}

static void
t_tags(void **state)
{
    struct stsrole_assume_params p;
    struct stsrole_tag tags[51];
    char keys[51][8];
    char *big;
    size_t i;

    (void)state;
    good_params(&p);
    p.tags = tags;
    p.n_transitive_tag_keys = 0;
    for (i = 0; i < 51; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
        tags[i].key = keys[i];
        tags[i].value = "v";
    }
    p.n_tags = 50;
    expect_ok(&p);
    p.n_tags = 51;
    expect_invalid(&p, "Tags: 51 tags, at most 50 allowed");

    p.n_tags = 3;
    /* Letters, digits and spaces from any script are fine. */
    tags[2].value = "\xe6\x97\xa5\xe6\x9c\xac \xd9\xa3\xc2\xa0\xc3\xa9t\xc3\xa9 \xce\xb1\xce\xb2";
    expect_ok(&p);
    tags[2].value = NULL;
    expect_ok(&p);
    tags[2].value = "";
    expect_ok(&p);

    tags[2].key = "line\nbreak";
    expect_invalid(&p, "Tags.member.3.Key: invalid character 0x0a");
    tags[2].key = "";
    expect_invalid(&p, "Tags.member.3.Key: 0 characters, at least 1 required");
    tags[2].key = NULL;
    expect_invalid(&p, "Tags.member.3.Key: required");
    tags[2].key = "aws:Team";
    expect_invalid(&p, "Tags.member.3.Key: the prefix \"aws:\" is reserved");
    tags[2].key = "AwS:Team";
    expect_invalid(&p, "Tags.member.3.Key: the prefix \"aws:\" is reserved");
    tags[2].key = "K1";
    expect_invalid(&p, "Tags.member.3.Key: duplicate of Tags.member.2.Key");
    tags[2].key = "bad,comma";
    expect_invalid(&p, "Tags.member.3.Key: invalid character 0x2c");
    big = repeat('k', 129);
    tags[2].key = big;
    expect_invalid(&p, "Tags.member.3.Key: 129 characters, at most 128 allowed");
    free(big);
    tags[2].key = "ok";

    big = repeat('v', 257);
    tags[0].value = big;
    expect_invalid(&p, "Tags.member.1.Value: 257 characters, at most 256 allowed");
    free(big);
    tags[0].value = "smile \xf0\x9f\x98\x80";
    expect_invalid(&p, "Tags.member.1.Value: invalid character U+1F600");
    tags[0].value = "rtl\xe2\x80\xae"
                    "evil";
    expect_invalid(&p, "Tags.member.1.Value: invalid character U+202E");
    tags[0].value = "zero\xe2\x80\x8b"
                    "width";
    expect_invalid(&p, "Tags.member.1.Value: invalid character U+200B");
    tags[0].value = "tab\there";
    expect_invalid(&p, "Tags.member.1.Value: invalid character 0x09");
    tags[0].value = "bad\xc3\x28";
    expect_invalid(&p, "Tags.member.1.Value: invalid UTF-8 at byte 4");
    tags[0].value = "overlong\xc0\xaf";
    expect_invalid(&p, "Tags.member.1.Value: invalid UTF-8");
    tags[0].value = "surrogate\xed\xa0\x80";
    expect_invalid(&p, "Tags.member.1.Value: invalid UTF-8");
    tags[0].value = "cut\xe6\x97";
    expect_invalid(&p, "Tags.member.1.Value: invalid UTF-8");
    /* 256 two-byte characters: counted as characters, not bytes. */
    big = malloc(513);
    assert_non_null(big);
    for (i = 0; i < 256; i++)
        memcpy(big + 2 * i, "\xc3\xa9", 2);
    big[512] = '\0';
    tags[0].value = big;
    expect_ok(&p);
    free(big);
}

static void
t_transitive(void **state)
{
    struct stsrole_assume_params p;
    const char *keys[51];
    size_t i;

    (void)state;
    good_params(&p);
    p.transitive_tag_keys = keys;
    keys[0] = "Team Name";
    keys[1] = "MFACHECKED";
    p.n_transitive_tag_keys = 2;
    expect_ok(&p);
    keys[1] = "Department";
    expect_invalid(&p, "TransitiveTagKeys.member.2: \"Department\" is not one of the tag keys");
    keys[1] = "bad\x01";
    expect_invalid(&p, "TransitiveTagKeys.member.2: invalid character 0x01");
    keys[1] = NULL;
    expect_invalid(&p, "TransitiveTagKeys.member.2: required");
    for (i = 0; i < 51; i++)
        keys[i] = "MfaChecked";
    p.n_transitive_tag_keys = 51;
    expect_invalid(&p, "TransitiveTagKeys: 51 keys, at most 50 allowed");
    p.n_tags = 0;
    p.n_transitive_tag_keys = 1;
    expect_invalid(&p, "TransitiveTagKeys.member.1: \"MfaChecked\" is not one of the tag keys");
}

static void
t_external_id(void **state)
{
    struct stsrole_assume_params p;
    char *big;

    (void)state;
    good_params(&p);
    big = repeat('e', 1224);
    p.external_id = big;
    expect_ok(&p);
    free(big);
    big = repeat('e', 1225);
    p.external_id = big;
    expect_invalid(&p, "ExternalId: 1225 characters, at most 1224 allowed");
    free(big);
    p.external_id = "x";
    expect_invalid(&p, "ExternalId: 1 characters, at least 2 required");
    p.external_id = "has space";
    expect_invalid(&p, "ExternalId: invalid character 0x20");
    p.external_id = "semi;colon";
    expect_invalid(&p, "ExternalId: invalid character 0x3b");
}

static void
t_policy(void **state)
{
    struct stsrole_assume_params p;
    char *big;

    (void)state;
    good_params(&p);
    p.policy = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
               "\"Action\":\"s3:GetObject\",\"Resource\":\"*\",\"Sid\":\"caf\xc3\xa9\"}]}\r\n";
    expect_ok(&p);
    p.policy = "";
    expect_invalid(&p, "Policy: 0 characters, at least 1 required");
    big = repeat(' ', 2049);
    big[0] = '{';
    big[2048] = '}';
    p.policy = big;
    expect_invalid(&p, "Policy: 2049 characters, at most 2048 allowed");
    big[2047] = '}';
    big[2048] = '\0';
    p.policy = big;
    expect_ok(&p);
    free(big);
    p.policy = "not json";
    expect_invalid(&p, "Policy: not valid JSON");
    p.policy = "{\"Version\":";
    expect_invalid(&p, "Policy: not valid JSON");
    p.policy = "{} {}";
    expect_invalid(&p, "Policy: not valid JSON (trailing data)");
    p.policy = "[1,2]";
    expect_invalid(&p, "Policy: not a JSON object");
    p.policy = "{\"a\":\"\x01\"}";
    expect_invalid(&p, "Policy: invalid character 0x01");
    p.policy = "{\"a\":\"\xc4\x80\"}";
    expect_invalid(&p, "Policy: invalid character U+0100");
}

static void
t_mfa(void **state)
{
    struct stsrole_assume_params p;
    struct stsrole_error err;
    char *big;

    (void)state;
    good_params(&p);
    p.serial_number = NULL;
    p.token_code = NULL;
    expect_ok(&p);
    p.serial_number = "GAHT12345678";
    p.token_code = "000123";
    expect_ok(&p);
    p.token_code = NULL;
    expect_invalid(&p, "TokenCode: required with SerialNumber");
    p.serial_number = NULL;
    p.token_code = "123456";
    expect_invalid(&p, "SerialNumber: required with TokenCode");
    p.serial_number = "GAHT1234";
    expect_invalid(&p, "SerialNumber: 8 characters, at least 9 required");
    big = repeat('s', 257);
    p.serial_number = big;
    expect_invalid(&p, "SerialNumber: 257 characters, at most 256 allowed");
    free(big);
    p.serial_number = "GAHT 12345678";
    expect_invalid(&p, "SerialNumber: invalid character 0x20");
    p.serial_number = "GAHT12345678";

    /* The code is a secret: never quoted, not even in part. */
    p.token_code = "98765";
    expect_invalid(&p, "TokenCode: must be exactly 6 digits");
    memset(&err, 0, sizeof(err));
    stsrole_sts_validate(&p, &err);
    assert_null(strstr(err.msg, "98765"));
    p.token_code = "98765x";
    expect_invalid(&p, "TokenCode: must be exactly 6 digits");
    stsrole_sts_validate(&p, &err);
    assert_null(strstr(err.msg, "98765"));
    assert_null(strstr(err.msg, "0x78"));
    p.token_code = "9876543";
    expect_invalid(&p, "TokenCode: must be exactly 6 digits");
    p.token_code = "";
    expect_invalid(&p, "TokenCode: must be exactly 6 digits");
}

/* ---- request body ---- */

static void
t_body_full(void **state)
{
    struct stsrole_assume_params p;
    struct stsrole_error err;
    struct stsrole_buf b;

    (void)state;
    good_params(&p);
    p.session_name = "alice=x,y.z@b-1";
    p.role_arn = "arn:aws:iam::123456789012:role/ops/Audit";
    p.policy = "{\"Version\":\"2012-10-17\"}";
    p.external_id = "a/b:c+d=e";
    stsrole_buf_init(&b, 0);
    assert_int_equal(stsrole_sts_assume_body(&p, &b, &err), STSROLE_OK);
    assert_string_equal(b.data, "Action=AssumeRole&Version=2011-06-15"
                                "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fops%2FAudit"
                                "&RoleSessionName=alice%3Dx%2Cy.z%40b-1"
                                "&DurationSeconds=3600"
                                "&SourceIdentity=alice"
                                "&Tags.member.1.Key=MfaChecked&Tags.member.1.Value=true"
                                "&Tags.member.2.Key=Team+Name&Tags.member.2.Value=Z%C3%BCrich+Ops"
                                "&Tags.member.3.Key=key%3Awith%2F%3D%2B-%40._&Tags.member.3.Value="
                                "&TransitiveTagKeys.member.1=mfachecked"
                                "&ExternalId=a%2Fb%3Ac%2Bd%3De"
                                "&Policy=%7B%22Version%22%3A%222012-10-17%22%7D"
                                "&SerialNumber=arn%3Aaws%3Aiam%3A%3A123456789012%3Amfa%2Falice"
                                "&TokenCode=123456");
    assert_int_equal(b.len, strlen(b.data));
    stsrole_buf_free(&b);
}

static void
t_body_minimal(void **state)
{
    struct stsrole_assume_params p;
    struct stsrole_error err;
    struct stsrole_buf b;

    (void)state;
    memset(&p, 0, sizeof(p));
    p.role_arn = ARN;
    p.session_name = "alice.bastion1.ab12";
    stsrole_buf_init(&b, 0);
    assert_int_equal(stsrole_sts_assume_body(&p, &b, &err), STSROLE_OK);
    assert_string_equal(b.data,
                        "Action=AssumeRole&Version=2011-06-15"
                        "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FSecurityAuditRole"
                        "&RoleSessionName=alice.bastion1.ab12");
    stsrole_buf_free(&b);
}

static void
t_body_invalid(void **state)
{
    struct stsrole_assume_params p;
    struct stsrole_error err;
    struct stsrole_buf b;

    (void)state;
    good_params(&p);
    p.session_name = "bad name";
    stsrole_buf_init(&b, 0);
    assert_int_equal(stsrole_sts_assume_body(&p, &b, &err), STSROLE_E_INVALID);
    assert_non_null(strstr(err.msg, "RoleSessionName"));
    assert_int_equal(b.len, 0);
    stsrole_buf_free(&b);
}

static void
t_body_too_large(void **state)
{
    struct stsrole_assume_params p;
    struct stsrole_error err;
    struct stsrole_buf b;

    (void)state;
    good_params(&p);
    stsrole_buf_init(&b, 300); /* room for the start, not for the TokenCode */
    assert_int_not_equal(stsrole_sts_assume_body(&p, &b, &err), STSROLE_OK);
    assert_non_null(strstr(err.msg, "request body"));
    assert_int_equal(b.len, 0);
    assert_true(b.data == NULL || b.data[0] == '\0');
    stsrole_buf_free(&b);
}

/* ---- decoding answers ---- */

#define AKID "ASIARZPUZDIKCPKSU73X"
#define SECRET "1jmEhIQys/A3WkQO7+5uN6urN/D5Abe123FAEUBQ"
#define TOKEN "FQoGZXIvYXdzEBYaDqMx9ujlf5uYM/s1ajbzCDd3XE3ccrRz+kjB4H3G=="
#define ROLE_ID "AROA3X42LBCDWUYHDZELW:alice.bastion1.ab12"
#define USER_ARN "arn:aws:sts::123456789012:assumed-role/SecurityAuditRole/alice.bastion1.ab12"

static const char json_real[] =
    "{\"AssumeRoleResponse\":{\"AssumeRoleResult\":{\"AssumedRoleUser\":{\"Arn\":\"" USER_ARN
    "\",\"AssumedRoleId\":\"" ROLE_ID "\"},\"Credentials\":{\"AccessKeyId\":\"" AKID
    "\",\"Expiration\":1.514869445E9,\"SecretAccessKey\":\"" SECRET "\",\"SessionToken\":\"" TOKEN
    "\"},\"PackedPolicySize\":null,\"SourceIdentity\":null},"
    "\"ResponseMetadata\":{\"RequestId\":\"c6104cbe-af31-11e0-8154-cbc7ccf896c7\"}}}";

/* moto 5's answer, byte for byte. */
static const char xml_moto[] =
    "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/\n2011-06-15/\">"
    "<AssumeRoleResult><Credentials><AccessKeyId>" AKID "</AccessKeyId><SecretAccessKey>" SECRET
    "</SecretAccessKey><SessionToken>" TOKEN "</SessionToken>"
    "<Expiration>2026-11-29T03:17:09.306411Z</Expiration></Credentials><AssumedRoleUser>"
    "<AssumedRoleId>" ROLE_ID "</AssumedRoleId><Arn>" USER_ARN "</Arn></AssumedRoleUser>"
    "<PackedPolicySize>6</PackedPolicySize></AssumeRoleResult><ResponseMetadata><RequestId>"
    "Vgyme2urNKHmDcgOLVtxWdPpiVk7mJcG6F35U5155uuyE4fQhhRp</RequestId></ResponseMetadata>"
    "</AssumeRoleResponse>";

/* The API reference's example: pretty-printed, with SourceIdentity. */
static const char xml_classic[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleResult>\n"
    "    <SourceIdentity>DevUser123</SourceIdentity>\n"
    "    <AssumedRoleUser>\n"
    "      <Arn>" USER_ARN "</Arn>\n"
    "      <AssumedRoleId>" ROLE_ID "</AssumedRoleId>\n"
    "    </AssumedRoleUser>\n"
    "    <Credentials>\n"
    "      <AccessKeyId>" AKID "</AccessKeyId>\n"
    "      <SecretAccessKey>\n        " SECRET "\n      </SecretAccessKey>\n"
    "      <SessionToken>" TOKEN "</SessionToken>\n"
    "      <Expiration>2011-07-15T23:28:33.359Z</Expiration>\n"
    "    </Credentials>\n"
    "    <PackedPolicySize>8</PackedPolicySize>\n"
    "    <Unknown><Nested>ignored</Nested></Unknown>\n"
    "  </AssumeRoleResult>\n"
    "  <ResponseMetadata>\n"
    "    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
    "  </ResponseMetadata>\n"
    "</AssumeRoleResponse>\n";

static int
parse(const char *body, size_t len, struct stsrole_assumed *a, struct stsrole_error *err)
{
    memset(err, 0, sizeof(*err));
    return stsrole_sts_parse_assume(NULL, body, len, a, err);
}

static void
expect_parsed(const struct stsrole_assumed *a, int64_t exp)
{
    assert_string_equal(a->creds.access_key_id, AKID);
    assert_string_equal(a->creds.secret_access_key, SECRET);
    assert_string_equal(a->creds.session_token, TOKEN);
    assert_int_equal(a->creds.expiration, exp);
    assert_string_equal(a->arn, USER_ARN);
    assert_string_equal(a->assumed_role_id, ROLE_ID);
}

static void
expect_protocol(const char *body, size_t len, const char *needle)
{
    struct stsrole_assumed a;
    struct stsrole_error err;

    assert_int_equal(parse(body, len, &a, &err), STSROLE_E_PROTOCOL);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("message \"%s\" does not contain \"%s\"", err.msg, needle);
    /* A failed parse leaves nothing behind to free or leak. */
    assert_null(a.creds.access_key_id);
    assert_null(a.creds.secret_access_key);
    assert_null(a.creds.session_token);
    assert_null(a.arn);
    assert_null(a.assumed_role_id);
    /* Nor does it quote a secret. */
    assert_null(strstr(err.msg, "1jmEhIQys"));
    assert_null(strstr(err.msg, "FQoGZXIv"));
}

/* Replaces the first occurrence of from in src with to. */
static char *
edit(const char *src, const char *from, const char *to)
{
    const char *at = strstr(src, from);
    size_t n = strlen(src) - strlen(from) + strlen(to) + 1;
    char *out;

    assert_non_null(at);
    out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - src), src, to, at + strlen(from));
    return out;
}

static void
t_json_exponent(void **state)
{
    struct stsrole_assumed a;
    struct stsrole_error err;

    (void)state;
    assert_int_equal(parse(json_real, strlen(json_real), &a, &err), STSROLE_OK);
    expect_parsed(&a, 1514869445);
    assert_null(a.source_identity);
    assert_int_equal(a.packed_policy_size, -1);
    stsrole_assumed_free(&a);
    assert_null(a.creds.secret_access_key);
    assert_null(a.arn);
}

static void
t_json_integer(void **state)
{
    struct stsrole_assumed a;
    struct stsrole_error err;
    char *s1, *s2, *s3;

    (void)state;
    s1 = edit(json_real, "1.514869445E9", "1514869445");
    s2 = edit(s1, "\"PackedPolicySize\":null", "\"PackedPolicySize\":6");
    s3 = edit(s2, "\"SourceIdentity\":null", "\"SourceIdentity\":\"alice\"");
    assert_int_equal(parse(s3, strlen(s3), &a, &err), STSROLE_OK);
    expect_parsed(&a, 1514869445);
    assert_string_equal(a.source_identity, "alice");
    assert_int_equal(a.packed_policy_size, 6);
    stsrole_assumed_free(&a);
    free(s1);
    free(s2);
    free(s3);

    /* Epoch seconds with milliseconds round down. */
    s1 = edit(json_real, "1.514869445E9", "1.514869445999E9");
    assert_int_equal(parse(s1, strlen(s1), &a, &err), STSROLE_OK);
    assert_int_equal(a.creds.expiration, 1514869445);
    stsrole_assumed_free(&a);
    free(s1);

    /* An ISO-8601 string is accepted too. */
    s1 = edit(json_real, "1.514869445E9", "\"2018-01-02T05:04:05Z\"");
    assert_int_equal(parse(s1, strlen(s1), &a, &err), STSROLE_OK);
    assert_int_equal(a.creds.expiration, 1514869445);
    stsrole_assumed_free(&a);
    free(s1);
}

static void
t_json_bare(void **state)
{
    static const char body[] =
        "  {\"AssumedRoleUser\":{\"Arn\":\"" USER_ARN "\",\"AssumedRoleId\":\"" ROLE_ID
        "\"},\"Credentials\":{\"AccessKeyId\":\"" AKID "\",\"Expiration\":1514869445,"
        "\"SecretAccessKey\":\"" SECRET "\",\"SessionToken\":\"" TOKEN "\"}}\n";
    struct stsrole_assumed a;
    struct stsrole_error err;

    (void)state;
    assert_int_equal(parse(body, strlen(body), &a, &err), STSROLE_OK);
    expect_parsed(&a, 1514869445);
    stsrole_assumed_free(&a);
}

static void
t_json_bad(void **state)
{
    char *s;
    size_t n;

    (void)state;
    n = strlen(json_real);
    expect_protocol(json_real, n - 10, "malformed JSON");
    expect_protocol("{", 1, "malformed JSON");
    s = edit(json_real, "\"AccessKeyId\":\"" AKID "\",", "");
    expect_protocol(s, strlen(s), "AccessKeyId: missing");
    free(s);
    s = edit(json_real, "\"AssumedRoleId\":\"" ROLE_ID "\"", "\"AssumedRoleId\":null");
    expect_protocol(s, strlen(s), "AssumedRoleId: missing");
    free(s);
    s = edit(json_real, "\"Credentials\":{", "\"Credentials\":[],\"x\":{");
    expect_protocol(s, strlen(s), "Credentials: not an object");
    free(s);
    s = edit(json_real, TOKEN, "FQoG\\nexport AWS_X=1");
    expect_protocol(s, strlen(s), "SessionToken: invalid character at position 5");
    free(s);
    s = edit(json_real, AKID, "ASIARZPUZDIK\\rCPKSU73X");
    expect_protocol(s, strlen(s), "AccessKeyId: invalid character 0x0d");
    free(s);
    s = edit(json_real, ROLE_ID, "AROA3X42:alice\\u0000root");
    expect_protocol(s, strlen(s), "contains a NUL");
    free(s);
    s = edit(json_real, "1.514869445E9", "1.514869445E12");
    expect_protocol(s, strlen(s), "Expiration: ");
    free(s);
    s = edit(json_real, "1.514869445E9", "true");
    expect_protocol(s, strlen(s), "Expiration: unexpected JSON type");
    free(s);
    s = edit(json_real, "1.514869445E9", "\"tomorrow\"");
    expect_protocol(s, strlen(s), "Expiration: invalid character 0x74");
    free(s);
    s = edit(json_real, "1.514869445E9", "\"2018-13-02T05:04:05Z\"");
    expect_protocol(s, strlen(s), "Expiration: \"2018-13-02T05:04:05Z\" is not ISO-8601");
    free(s);
    s = edit(json_real, AKID, "ASIA12345678901");
    expect_protocol(s, strlen(s), "AccessKeyId: 15 characters, at least 16 required");
    free(s);
    s = edit(json_real, "\"AccessKeyId\"",
             "\"AccessKeyId\":\"AKIAIOSFODNN7EXAMPLE\",\"AccessKeyId\"");
    expect_protocol(s, strlen(s), "AccessKeyId: appears 2 times");
    free(s);
    s = edit(json_real, "\"PackedPolicySize\":null", "\"PackedPolicySize\":-3");
    expect_protocol(s, strlen(s), "PackedPolicySize");
    free(s);
    s = edit(json_real, USER_ARN, "urn:not-an-arn:but-long-enough");
    expect_protocol(s, strlen(s), "Arn: not an ARN");
    free(s);
    s = edit(json_real, "}}}", "}}} x");
    expect_protocol(s, strlen(s), "data after the JSON");
    free(s);
    expect_protocol("[1]", 3, "neither JSON nor XML");
    expect_protocol("{\"a\":1} ", 8, "Credentials: missing");
    expect_protocol("", 0, "empty");
    expect_protocol("   \n", 4, "neither JSON nor XML");
}

static void
t_xml_moto(void **state)
{
    struct stsrole_assumed a;
    struct stsrole_error err;

    (void)state;
    assert_int_equal(parse(xml_moto, strlen(xml_moto), &a, &err), STSROLE_OK);
    expect_parsed(&a, 1795922229);
    assert_null(a.source_identity);
    assert_int_equal(a.packed_policy_size, 6);
    stsrole_assumed_free(&a);
}

static void
t_xml_classic(void **state)
{
    struct stsrole_assumed a;
    struct stsrole_error err;

    (void)state;
    assert_int_equal(parse(xml_classic, strlen(xml_classic), &a, &err), STSROLE_OK);
    expect_parsed(&a, 1310772513);
    assert_string_equal(a.source_identity, "DevUser123");
    assert_int_equal(a.packed_policy_size, 8);
    stsrole_assumed_free(&a);

    /* Namespace prefixes do not matter, only local names do. */
    {
        static const char prefixed[] =
            "<sts:AssumeRoleResponse xmlns:sts=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
            "<sts:AssumeRoleResult><sts:Credentials><sts:AccessKeyId>" AKID
            "</sts:AccessKeyId><sts:SecretAccessKey>" SECRET "</sts:SecretAccessKey>"
            "<sts:SessionToken>" TOKEN "</sts:SessionToken><sts:Expiration>2011-07-15T23:28:33Z"
            "</sts:Expiration></sts:Credentials><sts:AssumedRoleUser><sts:Arn>" USER_ARN
            "</sts:Arn><sts:AssumedRoleId>" ROLE_ID "</sts:AssumedRoleId></sts:AssumedRoleUser>"
            "<sts:SourceIdentity/></sts:AssumeRoleResult></sts:AssumeRoleResponse>";

        assert_int_equal(parse(prefixed, strlen(prefixed), &a, &err), STSROLE_OK);
        expect_parsed(&a, 1310772513);
        assert_null(a.source_identity);
        assert_int_equal(a.packed_policy_size, -1);
        stsrole_assumed_free(&a);
    }
}

static void
t_xml_bad(void **state)
{
    char *s;
    size_t n;

    (void)state;
    n = strlen(xml_moto);
    expect_protocol(xml_moto, n / 2, "malformed XML");
    expect_protocol(xml_moto, n - 1, "malformed XML");
    expect_protocol("<x", 2, "malformed XML");
    s = edit(xml_moto, "</AssumeRoleResponse>", "</AssumeRoleResponse><junk/>");
    expect_protocol(s, strlen(s), "malformed XML");
    free(s);

    s = edit(xml_moto, "<SessionToken>" TOKEN "</SessionToken>", "");
    expect_protocol(s, strlen(s), "SessionToken: missing from the answer");
    free(s);
    s = edit(xml_moto, "<Arn>" USER_ARN "</Arn>", "<Arn></Arn>");
    expect_protocol(s, strlen(s), "Arn: missing from the answer");
    free(s);

    /* Line breaks inside a value would split the environment entry. */
    s = edit(xml_moto, TOKEN, "FQoG\nAWS_SECRET_ACCESS_KEY=x");
    expect_protocol(s, strlen(s), "SessionToken: invalid character at position 5");
    free(s);
    s = edit(xml_moto, SECRET, "1jmEhIQys&#13;more");
    expect_protocol(s, strlen(s), "SecretAccessKey: invalid character at position 10");
    free(s);
    s = edit(xml_moto, AKID, "ASIARZPUZDIK&#10;CPKSU73X");
    expect_protocol(s, strlen(s), "AccessKeyId: invalid character 0x0a");
    free(s);
    s = edit(xml_moto, AKID, "ASIARZPUZDIK&#0;CPKSU73X");
    expect_protocol(s, strlen(s), "malformed XML");
    free(s);
    s = edit(xml_moto, ROLE_ID, "AROA3X42LBC DWUYHDZELW:alice");
    expect_protocol(s, strlen(s), "AssumedRoleId: invalid character 0x20");
    free(s);
    s = edit(xml_moto, "2026-11-29T03:17:09.306411Z", "1514869445");
    expect_protocol(s, strlen(s), "Expiration: \"1514869445\" is not ISO-8601");
    free(s);
    s = edit(xml_moto, "<PackedPolicySize>6", "<PackedPolicySize>six");
    expect_protocol(s, strlen(s), "PackedPolicySize: invalid character 0x73");
    free(s);

    s = edit(xml_moto, "<AccessKeyId>",
             "<AccessKeyId>AKIAIOSFODNN7EXAMPLE</AccessKeyId><AccessKeyId>");
    expect_protocol(s, strlen(s), "AccessKeyId: appears twice");
    free(s);
    s = edit(xml_moto, "<AccessKeyId>", "<AccessKeyId><b>x</b>");
    expect_protocol(s, strlen(s), "AccessKeyId: unexpected element inside it");
    free(s);
    s = strdup("<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>");
    assert_non_null(s);
    expect_protocol(s, strlen(s), "root element is <ErrorResponse>");
    free(s);
}

static void
t_xml_doctype(void **state)
{
    static const char laughs[] =
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>\n"
        "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>&lol3;</AccessKeyId>"
        "</Credentials></AssumeRoleResult></AssumeRoleResponse>";
    static const char external[] =
        "<!DOCTYPE r SYSTEM \"file:///etc/passwd\"><AssumeRoleResponse/>";
    char *s;

    (void)state;
    expect_protocol(laughs, strlen(laughs), "DOCTYPE refused");
    expect_protocol(external, strlen(external), "DOCTYPE refused");
    s = edit(xml_moto, "<AssumeRoleResponse", "<!DOCTYPE AssumeRoleResponse><AssumeRoleResponse");
    expect_protocol(s, strlen(s), "DOCTYPE refused");
    free(s);
}

static void
t_bounds(void **state)
{
    struct stsrole_assumed a;
    struct stsrole_error err;
    char *big, *s;
    size_t n = 300 * 1024;

    (void)state;
    big = repeat(' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    expect_protocol(big, n, "bytes, at most");
    free(big);

    big = repeat('A', 40000);
    s = edit(xml_moto, TOKEN, big);
    expect_protocol(s, strlen(s), "SessionToken: ");
    free(s);
    s = edit(json_real, TOKEN, big);
    expect_protocol(s, strlen(s), "SessionToken: 40000 characters, at most 32768 allowed");
    free(s);
    free(big);

    /* Deep nesting of unknown elements is bounded. */
    big = malloc(64 * 7 + 1);
    assert_non_null(big);
    big[0] = '\0';
    for (n = 0; n < 64; n++)
        strcat(big, "<a>");
    s = edit(xml_moto, "<ResponseMetadata>", big);
    expect_protocol(s, strlen(s), "nested deeper than");
    free(s);
    free(big);

    /* A stray NUL cannot shorten a JSON value. */
    {
        char nul[sizeof(json_real)];

        memcpy(nul, json_real, sizeof(json_real));
        *strstr(nul, "alice") = '\0';
        assert_int_equal(parse(nul, sizeof(json_real) - 1, &a, &err), STSROLE_E_PROTOCOL);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_validate_good),   cmocka_unit_test(t_role_arn),
        cmocka_unit_test(t_session_name),    cmocka_unit_test(t_duration),
        cmocka_unit_test(t_source_identity), cmocka_unit_test(t_tags),
        cmocka_unit_test(t_transitive),      cmocka_unit_test(t_external_id),
        cmocka_unit_test(t_policy),          cmocka_unit_test(t_mfa),
        cmocka_unit_test(t_body_full),       cmocka_unit_test(t_body_minimal),
        cmocka_unit_test(t_body_invalid),    cmocka_unit_test(t_body_too_large),
        cmocka_unit_test(t_json_exponent),   cmocka_unit_test(t_json_integer),
        cmocka_unit_test(t_json_bare),       cmocka_unit_test(t_json_bad),
        cmocka_unit_test(t_xml_moto),        cmocka_unit_test(t_xml_classic),
        cmocka_unit_test(t_xml_bad),         cmocka_unit_test(t_xml_doctype),
        cmocka_unit_test(t_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
