/* SPDX-License-Identifier: BSD-3-Clause */
/* test_creds.c: base credentials from the environment, shared file and IMDS JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "creds.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static void
test_env(void **state)
{
    struct stsrole_creds c;
    struct stsrole_error e;

    (void)state;
    setenv("AWS_ACCESS_KEY_ID", AKID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    unsetenv("AWS_SESSION_TOKEN");
    assert_int_equal(stsrole_creds_from_env(&c, &e), STSROLE_OK);
    assert_string_equal(c.access_key_id, AKID);
    assert_string_equal(c.secret_access_key, SECRET);
    assert_null(c.session_token);
    stsrole_creds_clear(&c);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    assert_int_equal(stsrole_creds_from_env(&c, &e), STSROLE_OK);
    assert_string_equal(c.session_token, "tok");
    stsrole_creds_clear(&c);
    setenv("AWS_ACCESS_KEY_ID", "short", 1);
    assert_int_equal(stsrole_creds_from_env(&c, &e), STSROLE_E_INVALID);
    assert_null(strstr(e.msg, SECRET));
    unsetenv("AWS_ACCESS_KEY_ID");
    assert_int_equal(stsrole_creds_from_env(&c, &e), STSROLE_E_NOTFOUND);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
}

static void
test_shared_file_format(void **state)
{
    static const char text[] = "[default]\n"
                               "aws_access_key_id = AKIADEFAULTDEFAULT00\n"
                               "aws_secret_access_key = d\n"
                               "\n"
                               "[bastion]\n"
                               "aws_access_key_id=" AKID "\n"
                               "aws_secret_access_key=" SECRET "\n"
                               "aws_session_token = tok==\n"
                               "region = us-east-1\n";
    struct stsrole_creds c;
    struct stsrole_error e;

    (void)state;
    assert_int_equal(stsrole_creds_parse_shared(text, "bastion", &c, &e), STSROLE_OK);
    assert_string_equal(c.access_key_id, AKID);
    assert_string_equal(c.secret_access_key, SECRET);
    assert_string_equal(c.session_token, "tok==");
    stsrole_creds_clear(&c);
    assert_int_equal(stsrole_creds_parse_shared(text, NULL, &c, &e), STSROLE_OK);
    assert_string_equal(c.access_key_id, "AKIADEFAULTDEFAULT00");
    stsrole_creds_clear(&c);
    assert_int_equal(stsrole_creds_parse_shared(text, "other", &c, &e), STSROLE_E_NOTFOUND);
    assert_non_null(strstr(e.msg, "[other]"));
    assert_int_equal(stsrole_creds_parse_shared("[default]\nnot ini\n", NULL, &c, &e),
                     STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "line 2"));
    assert_int_equal(
        stsrole_creds_parse_shared("[default]\naws_access_key_id = " AKID "\n", NULL, &c, &e),
        STSROLE_E_NOTFOUND);
}

/* Session tokens run to hundreds of characters; none may be cut. */
static void
test_shared_file_long_token(void **state)
{
    char text[4096], token[1501];
    struct stsrole_creds c;
    struct stsrole_error e;

    (void)state;
    memset(token, 'T', 1500);
    token[0] = '/';
    token[1499] = '=';
    token[1500] = '\0';
    snprintf(text, sizeof(text),
             "# comment\n; another\n[default]\r\n  aws_access_key_id=" AKID
             "\naws_secret_access_key =  " SECRET "  \naws_session_token = %s\n",
             token);
    assert_int_equal(stsrole_creds_parse_shared(text, NULL, &c, &e), STSROLE_OK);
    assert_string_equal(c.session_token, token);
    assert_string_equal(c.secret_access_key, SECRET);
    stsrole_creds_clear(&c);
    assert_int_equal(stsrole_creds_parse_shared("[default\nx = y\n", NULL, &c, &e),
                     STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "line 1"));
}

static void
test_shared_file_safety(void **state)
{
    char dir[] = "/tmp/stsrole-creds-XXXXXX", path[64], cmd[96];
    struct stsrole_creds c;
    struct stsrole_error e;
    FILE *f;

    (void)state;
    if (geteuid() != 0)
        skip();
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/credentials", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", AKID, SECRET);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(stsrole_creds_from_file(path, NULL, &c, &e), STSROLE_OK);
    stsrole_creds_clear(&c);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(stsrole_creds_from_file(path, NULL, &c, &e), STSROLE_E_UNSAFE);
    assert_non_null(strstr(e.msg, "chmod 600"));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(chown(path, 65534, 0), 0);
    assert_int_equal(stsrole_creds_from_file(path, NULL, &c, &e), STSROLE_E_UNSAFE);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void
test_imds_json(void **state)
{
    static const char ok[] = "{\"Code\":\"Success\",\"LastUpdated\":\"2026-01-01T00:00:00Z\","
                             "\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIAIOSFODNN7EXAMPLE\","
                             "\"SecretAccessKey\":\"" SECRET "\",\"Token\":\"tok\","
                             "\"Expiration\":\"2026-01-01T06:00:00Z\"}";
    struct stsrole_creds c;
    struct stsrole_error e;

    (void)state;
    assert_int_equal(stsrole_creds_parse_imds(ok, strlen(ok), &c, &e), STSROLE_OK);
    assert_string_equal(c.access_key_id, "ASIAIOSFODNN7EXAMPLE");
    assert_string_equal(c.session_token, "tok");
    assert_int_equal(c.expiration, 1767247200);
    stsrole_creds_clear(&c);
    assert_int_equal(stsrole_creds_parse_imds("{\"Code\":\"Failure\"}", 18, &c, &e),
                     STSROLE_E_PROTOCOL);
    assert_int_equal(stsrole_creds_parse_imds("{\"Code\":\"Succ", 13, &c, &e), STSROLE_E_PROTOCOL);
    assert_int_equal(stsrole_creds_parse_imds("[]", 2, &c, &e), STSROLE_E_PROTOCOL);
}

static int64_t fake_now;

static void
test_provider_caches_and_refreshes(void **state)
{
    struct stsrole_creds_provider p;
    const struct stsrole_creds *c1, *c2;
    struct stsrole_error e;

    (void)state;
    (void)fake_now;
    memset(&p, 0, sizeof(p));
    p.kind = STSROLE_CREDS_ENV;
    setenv("AWS_ACCESS_KEY_ID", AKID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    assert_int_equal(stsrole_creds_provider_get(&p, 1000, &c1, &e), STSROLE_OK);
    setenv("AWS_ACCESS_KEY_ID", "AKIASECONDSECOND0000", 1);
    /* Long-term keys do not expire: the cached one is kept. */
    assert_int_equal(stsrole_creds_provider_get(&p, 2000, &c2, &e), STSROLE_OK);
    assert_string_equal(c2->access_key_id, AKID);
    /* A cached credential near its expiry is refreshed. */
    p.cached.expiration = 2000 + STSROLE_CREDS_REFRESH_MARGIN - 1;
    assert_int_equal(stsrole_creds_provider_get(&p, 2000, &c2, &e), STSROLE_OK);
    assert_string_equal(c2->access_key_id, "AKIASECONDSECOND0000");
    stsrole_creds_provider_free(&p);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_shared_file_format),
        cmocka_unit_test(test_shared_file_long_token),
        cmocka_unit_test(test_shared_file_safety),
        cmocka_unit_test(test_imds_json),
        cmocka_unit_test(test_provider_caches_and_refreshes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
