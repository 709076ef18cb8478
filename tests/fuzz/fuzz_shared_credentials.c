/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_shared_credentials.c: libFuzzer target for stsrole_creds_parse_shared (~/.aws/credentials).
 */
#include "creds.h"
#include "fuzz.h"

static void
parse_one(const char *text, const char *profile)
{
    struct stsrole_creds c;
    struct stsrole_error err;
    int rc;

    stsrole_error_clear(&err);
    rc = stsrole_creds_parse_shared(text, profile, &c, &err);
    fuzz_check_error(&err, rc);
    if (rc == STSROLE_OK) {
        FUZZ_REQUIRE(c.access_key_id != NULL && c.secret_access_key != NULL);
        FUZZ_REQUIRE(fuzz_no_controls(c.access_key_id));
        FUZZ_REQUIRE(fuzz_no_controls(c.secret_access_key));
        FUZZ_REQUIRE(fuzz_no_controls(c.session_token));
    } else {
        FUZZ_REQUIRE(c.access_key_id == NULL && c.secret_access_key == NULL &&
                     c.session_token == NULL);
    }
    stsrole_creds_clear(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstring(data, size);

    if (text == NULL)
        return 0;
    parse_one(text, NULL); /* "default" */
    parse_one(text, "prod");
    free(text);
    return 0;
}
