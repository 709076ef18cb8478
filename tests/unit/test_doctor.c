/* SPDX-License-Identifier: BSD-3-Clause */
/* test_doctor.c: doctor's pure judgements: sshd -T values, AuthenticationMethods, PAM stacks,
GetCallerIdentity's Arn, users-file lint. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "doctor.h"
#include "totp.h"

static const char sshd_t[] = "port 22\n"
                             "usepam yes\n"
                             "authenticationmethods publickey,keyboard-interactive:pam\n"
                             "permituserenvironment no\n"
                             "exposeauthinfo yes\n"
                             "usepamx no\n";

static void
test_sshd_value(void **state)
{
    char v[64];

    (void)state;
    assert_true(stsrole_sshd_value(sshd_t, strlen(sshd_t), "usepam", v, sizeof(v)));
    assert_string_equal(v, "yes");
    assert_true(stsrole_sshd_value(sshd_t, strlen(sshd_t), "authenticationmethods", v, sizeof(v)));
    assert_string_equal(v, "publickey,keyboard-interactive:pam");
    assert_false(stsrole_sshd_value(sshd_t, strlen(sshd_t), "usepa", v, sizeof(v)));
    assert_false(stsrole_sshd_value(sshd_t, strlen(sshd_t), "absent", v, sizeof(v)));
    /* a value that does not fit is "absent", never truncated */
    assert_false(stsrole_sshd_value(sshd_t, strlen(sshd_t), "authenticationmethods", v, 8));
}

static void
test_authmethods(void **state)
{
    (void)state;
    assert_true(stsrole_authmethods_mfa("publickey,keyboard-interactive:pam"));
    assert_true(stsrole_authmethods_mfa("publickey,keyboard-interactive"));
    assert_true(stsrole_authmethods_mfa("publickey,password,keyboard-interactive:pam"));
    assert_true(stsrole_authmethods_mfa(
        "publickey,keyboard-interactive:pam publickey,keyboard-interactive"));
    assert_false(stsrole_authmethods_mfa("any"));
    assert_false(stsrole_authmethods_mfa(""));
    assert_false(stsrole_authmethods_mfa("publickey"));
    assert_false(stsrole_authmethods_mfa("keyboard-interactive:pam,publickey"));
    /* a second list without the code lets people past it */
    assert_false(stsrole_authmethods_mfa("publickey,keyboard-interactive:pam publickey"));
    assert_false(stsrole_authmethods_mfa("publickey,keyboard-interactivex"));
    assert_false(stsrole_authmethods_mfa("publickeys,keyboard-interactive"));
}

/* The include files of the PAM tests, by name. */
static const char *const files[][2] = {
    {"common-auth", "auth [success=1 default=ignore] pam_unix.so nullok\n"
                    "auth requisite pam_deny.so\n"
                    "auth required pam_permit.so\n"},
    {"common-session", "session required pam_unix.so\n"},
    {"loop", "@include loop\n"},
};

static int
loader(void *ctx, const char *name, char **text, struct stsrole_error *err)
{
    size_t i;

    (void)ctx;
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        if (strcmp(files[i][0], name) == 0) {
            *text = strdup(files[i][1]);
            return STSROLE_OK;
        }
    return stsrole_fail(err, STSROLE_E_NOTFOUND, "%s: no such file", name);
}

static void
judge(const char *text, struct stsrole_pam_verdict *v)
{
    struct stsrole_pam_stack s;
    struct stsrole_error err;

    assert_int_equal(stsrole_pam_stack_parse(text, "sshd", loader, NULL, &s, &err), STSROLE_OK);
    stsrole_pam_judge(&s, "pam_stsrole.so", v);
    stsrole_pam_stack_free(&s);
}

/* examples/bastion/pam.d-sshd, shortened */
static const char good[] =
    "# comment\n"
    "auth     requisite  pam_faillock.so preauth\n"
    "auth     [success=1 default=bad]  /usr/lib/x86_64-linux-gnu/security/pam_stsrole.so \\\n"
    "         conf=/etc/stsrole/stsrole.conf\n"
    "auth     [default=die]            pam_faillock.so authfail\n"
    "auth     sufficient pam_faillock.so authsucc\n"
    "auth     required   pam_deny.so\n"
    "account  required   pam_faillock.so\n"
    "@include common-session\n"
    "session  required   pam_stsrole.so\n";

static void
test_pam_good(void **state)
{
    struct stsrole_pam_verdict v;
    struct stsrole_pam_stack s;
    struct stsrole_error err;

    (void)state;
    judge(good, &v);
    assert_string_equal(v.auth, "");
    assert_string_equal(v.faillock, "");
    assert_string_equal(v.skip, "");
    assert_string_equal(v.session, "");
    assert_int_equal(stsrole_pam_stack_parse(good, "sshd", loader, NULL, &s, &err), STSROLE_OK);
    assert_int_equal(s.n, 8);
    assert_string_equal(s.v[1].module, "pam_stsrole.so");
    assert_string_equal(s.v[1].control, "[success=1 default=bad]");
    assert_string_equal(s.v[1].args, "conf=/etc/stsrole/stsrole.conf");
    assert_string_equal(s.v[1].origin, "sshd:3");
    assert_string_equal(s.v[6].origin, "common-session:1");
    stsrole_pam_stack_free(&s);
}

static void
test_pam_broken(void **state)
{
    struct stsrole_pam_verdict v;

    (void)state;
    /* no module at all */
    judge("auth required pam_unix.so\nsession required pam_unix.so\n", &v);
    assert_non_null(strstr(v.auth, "not in the auth stack"));
    assert_non_null(strstr(v.session, "not in the session stack"));
    /* optional: its failure would not count */
    judge("auth requisite pam_faillock.so preauth\nauth optional pam_stsrole.so\n"
          "auth [default=die] pam_faillock.so authfail\nsession optional pam_stsrole.so\n",
          &v);
    assert_non_null(strstr(v.auth, "'optional'"));
    assert_non_null(strstr(v.session, "'optional' in session"));
    assert_string_equal(v.faillock, "");
    /* no faillock around it */
    judge("auth required pam_stsrole.so\nsession required pam_stsrole.so\n", &v);
    assert_non_null(strstr(v.faillock, "no pam_faillock.so preauth before"));
    judge("auth requisite pam_faillock.so preauth\nauth required pam_stsrole.so\n", &v);
    assert_non_null(strstr(v.faillock, "authfail after"));
    /* authfail before it does not count */
    judge("auth requisite pam_faillock.so preauth\nauth [default=die] pam_faillock.so authfail\n"
          "auth required pam_stsrole.so\n",
          &v);
    assert_non_null(strstr(v.faillock, "authfail after"));
    /* a sufficient module before it skips the code */
    judge("auth sufficient pam_permit.so\nauth required pam_stsrole.so\n", &v);
    assert_non_null(strstr(v.skip, "pam_permit.so (sshd:1) is 'sufficient'"));
    /* ... also through an include */
    judge("auth requisite pam_faillock.so preauth\n@include common-auth\n"
          "auth required pam_stsrole.so\n",
          &v);
    assert_string_equal(v.skip, ""); /* success=1 lands on pam_permit, before it */
    judge("auth [success=3 default=ignore] pam_unix.so\nauth required pam_deny.so\n"
          "auth required pam_stsrole.so\n",
          &v);
    assert_non_null(strstr(v.skip, "jumps 3 lines"));
    judge("auth [success=done default=ignore] pam_unix.so\nauth required pam_stsrole.so\n", &v);
    assert_non_null(strstr(v.skip, "'done'"));
    /* after it, sufficient is fine */
    judge("auth required pam_stsrole.so\nauth sufficient pam_permit.so\n", &v);
    assert_string_equal(v.skip, "");
}

static void
test_pam_syntax(void **state)
{
    struct stsrole_pam_stack s;
    struct stsrole_error err;

    (void)state;
    assert_int_equal(stsrole_pam_stack_parse("auth required\n", "x", loader, NULL, &s, &err),
                     STSROLE_E_CONFIG);
    assert_non_null(strstr(err.msg, "x:1"));
    assert_int_equal(
        stsrole_pam_stack_parse("bogus required pam_unix.so\n", "x", loader, NULL, &s, &err),
        STSROLE_E_CONFIG);
    assert_int_equal(
        stsrole_pam_stack_parse("auth [success=1 pam_unix.so\n", "x", loader, NULL, &s, &err),
        STSROLE_E_CONFIG);
    assert_int_equal(
        stsrole_pam_stack_parse("auth required /lib/security/\n", "x", loader, NULL, &s, &err),
        STSROLE_E_CONFIG);
    assert_non_null(strstr(err.msg, "names no file"));
    assert_int_equal(stsrole_pam_stack_parse("@include missing\n", "x", loader, NULL, &s, &err),
                     STSROLE_E_NOTFOUND);
    assert_int_equal(stsrole_pam_stack_parse("@include loop\n", "x", loader, NULL, &s, &err),
                     STSROLE_E_CONFIG);
    assert_non_null(strstr(err.msg, "nested"));
    assert_int_equal(
        stsrole_pam_stack_parse("auth include ../common-auth\n", "x", loader, NULL, &s, &err),
        STSROLE_E_CONFIG);
    /* include by type takes only that type's lines */
    assert_int_equal(stsrole_pam_stack_parse("session include common-auth\n-auth optional x.so\n",
                                             "x", loader, NULL, &s, &err),
                     STSROLE_OK);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.v[0].module, "x.so");
    stsrole_pam_stack_free(&s);
}

static void
test_caller_arn(void **state)
{
    static const char xml[] =
        "<GetCallerIdentityResponse><GetCallerIdentityResult>"
        "<Arn>arn:aws:iam::111111111111:user/bastion</Arn><UserId>AIDA</UserId>"
        "</GetCallerIdentityResult></GetCallerIdentityResponse>";
    static const char json[] = "{\"GetCallerIdentityResponse\":{\"GetCallerIdentityResult\":"
                               "{\"Arn\":\"arn:aws:sts::111111111111:assumed-role/Bastion/i-1\"}}}";
    char arn[128];

    (void)state;
    assert_int_equal(stsrole_caller_arn(xml, strlen(xml), arn, sizeof(arn)), 0);
    assert_string_equal(arn, "arn:aws:iam::111111111111:user/bastion");
    assert_int_equal(stsrole_caller_arn(json, strlen(json), arn, sizeof(arn)), 0);
    assert_string_equal(arn, "arn:aws:sts::111111111111:assumed-role/Bastion/i-1");
    assert_int_equal(stsrole_caller_arn(xml, strlen(xml), arn, 10), -1);
    assert_int_equal(stsrole_caller_arn("<Arn></Arn>", 11, arn, sizeof(arn)), -1);
    assert_int_equal(stsrole_caller_arn("{}", 2, arn, sizeof(arn)), -1);
}

static void
test_usersfile_lint(void **state)
{
    static const char ok[] = "# users\nHOTP/T30 alice - 00112233\nHOTP/T30 bob - aabbccdd\n";
    static const char bad[] = "HOTP/T30 alice - 00112233\nHOTP/T30 bob - xyz\n";
    struct stsrole_error err;

    (void)state;
    assert_int_equal(stsrole_totp_lint(ok, strlen(ok), "u", &err), STSROLE_OK);
    assert_int_equal(stsrole_totp_lint(bad, strlen(bad), "u", &err), STSROLE_E_CONFIG);
    assert_non_null(strstr(err.msg, "u:2: the entry of bob"));
    assert_int_equal(stsrole_totp_lint("HOTP/T30 carol\n", 15, "u", &err), STSROLE_E_CONFIG);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sshd_value),     cmocka_unit_test(test_authmethods),
        cmocka_unit_test(test_pam_good),       cmocka_unit_test(test_pam_broken),
        cmocka_unit_test(test_pam_syntax),     cmocka_unit_test(test_caller_arn),
        cmocka_unit_test(test_usersfile_lint),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
