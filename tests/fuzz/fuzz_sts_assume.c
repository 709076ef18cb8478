/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_sts_assume.c: libFuzzer target for stsrole_sts_parse_assume (AssumeRole answers, JSON and
 * XML). */
#include "fuzz.h"
#include "sts.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stsrole_assumed a;
    struct stsrole_error err;
    int rc;

    stsrole_error_clear(&err);
    rc = stsrole_sts_parse_assume(NULL, (const char *)data, size, &a, &err);
    fuzz_check_error(&err, rc);
    if (rc == STSROLE_OK) {
        /* What AssumeRole returns goes into the session's environment:
         * every field is present and none can smuggle a line break. */
        FUZZ_REQUIRE(a.creds.access_key_id != NULL && a.creds.secret_access_key != NULL &&
                     a.creds.session_token != NULL && a.arn != NULL && a.assumed_role_id != NULL);
        FUZZ_REQUIRE(fuzz_no_controls(a.creds.access_key_id));
        FUZZ_REQUIRE(fuzz_no_controls(a.creds.secret_access_key));
        FUZZ_REQUIRE(fuzz_no_controls(a.creds.session_token));
        FUZZ_REQUIRE(fuzz_no_controls(a.arn));
        FUZZ_REQUIRE(fuzz_no_controls(a.assumed_role_id));
        FUZZ_REQUIRE(fuzz_no_controls(a.source_identity));
        FUZZ_REQUIRE(a.creds.expiration > 0);
    } else {
        /* A failed parse hands back nothing to free or to use by mistake. */
        FUZZ_REQUIRE(a.creds.access_key_id == NULL && a.creds.secret_access_key == NULL &&
                     a.creds.session_token == NULL && a.arn == NULL && a.assumed_role_id == NULL &&
                     a.source_identity == NULL);
    }
    stsrole_assumed_free(&a);
    return 0;
}
