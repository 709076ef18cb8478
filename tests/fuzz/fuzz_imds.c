/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_imds.c: libFuzzer target for stsrole_creds_parse_imds (the IMDS security-credentials
 * document). */
#include "creds.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stsrole_creds c;
    struct stsrole_error err;
    int rc;

    stsrole_error_clear(&err);
    rc = stsrole_creds_parse_imds((const char *)data, size, &c, &err);
    fuzz_check_error(&err, rc);
    if (rc == STSROLE_OK) {
        /* Instance-profile credentials are always temporary. */
        FUZZ_REQUIRE(c.access_key_id != NULL && c.secret_access_key != NULL &&
                     c.session_token != NULL);
        FUZZ_REQUIRE(fuzz_no_controls(c.access_key_id));
        FUZZ_REQUIRE(fuzz_no_controls(c.secret_access_key));
        FUZZ_REQUIRE(fuzz_no_controls(c.session_token));
    } else {
        FUZZ_REQUIRE(c.access_key_id == NULL && c.secret_access_key == NULL &&
                     c.session_token == NULL);
    }
    stsrole_creds_clear(&c);
    return 0;
}
