/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_doctor.c: libFuzzer target for doctor's parsers: PAM service files (with includes),
 * sshd -T output, AuthenticationMethods, GetCallerIdentity answers. */
#include "doctor.h"
#include "fuzz.h"

/* Every include resolves to the input itself: nesting and loops are the
 * parser's to bound. */
static int
self_loader(void *ctx, const char *name, char **text, struct stsrole_error *err)
{
    (void)name;
    (void)err;
    *text = strdup(ctx);
    return *text != NULL ? STSROLE_OK : stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
}

static void
terminated(const char *s, size_t n)
{
    FUZZ_REQUIRE(memchr(s, '\0', n) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stsrole_pam_stack s;
    struct stsrole_pam_verdict v;
    struct stsrole_error err;
    char value[256], arn[128];
    char *text = fuzz_cstring(data, size);
    size_t i;
    int rc;

    if (text == NULL)
        return 0;
    stsrole_error_clear(&err);
    rc = stsrole_pam_stack_parse(text, "fuzz", self_loader, text, &s, &err);
    fuzz_check_error(&err, rc);
    if (rc == STSROLE_OK) {
        for (i = 0; i < s.n; i++) {
            terminated(s.v[i].control, sizeof(s.v[i].control));
            terminated(s.v[i].module, sizeof(s.v[i].module));
            terminated(s.v[i].args, sizeof(s.v[i].args));
            FUZZ_REQUIRE(s.v[i].module[0] != '\0' && strchr(s.v[i].module, '/') == NULL);
        }
        stsrole_pam_judge(&s, "pam_stsrole.so", &v);
        terminated(v.auth, sizeof(v.auth));
        terminated(v.faillock, sizeof(v.faillock));
        terminated(v.skip, sizeof(v.skip));
        terminated(v.session, sizeof(v.session));
        stsrole_pam_stack_free(&s);
    } else {
        FUZZ_REQUIRE(s.v == NULL && s.n == 0);
    }
    if (stsrole_sshd_value(text, size, "authenticationmethods", value, sizeof(value))) {
        FUZZ_REQUIRE(strlen(value) < sizeof(value));
        (void)stsrole_authmethods_mfa(value);
    }
    (void)stsrole_authmethods_mfa(text);
    if (stsrole_caller_arn(text, size, arn, sizeof(arn)) == 0)
        FUZZ_REQUIRE(strlen(arn) > 0 && strlen(arn) < sizeof(arn));
    free(text);
    return 0;
}
