/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_config.c: libFuzzer target for stsrole_config_parse (stsrole.conf). */
#include "conf.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stsrole_config cfg;
    struct stsrole_error err;
    char *text = fuzz_cstring(data, size);
    size_t i;
    int rc;

    if (text == NULL)
        return 0;
    stsrole_error_clear(&err);
    rc = stsrole_config_parse(text, "fuzz.conf", &cfg, &err);
    fuzz_check_error(&err, rc);
    if (rc == STSROLE_OK) {
        /* What finish() promises to every caller (bastion_id is read from
         * IMDS by stsrole_config_load when credentials = imds leaves it unset). */
        FUZZ_REQUIRE(cfg.region != NULL && cfg.sts_endpoint != NULL && cfg.iam_endpoint != NULL &&
                     (cfg.bastion_id != NULL || cfg.bastion_id_from_imds) &&
                     cfg.state_dir != NULL && cfg.n_roles > 0);
        for (i = 0; i < cfg.n_roles; i++) {
            FUZZ_REQUIRE(cfg.roles[i].name != NULL && cfg.roles[i].arn != NULL);
            FUZZ_REQUIRE(cfg.roles[i].users != NULL || cfg.roles[i].groups != NULL);
            FUZZ_REQUIRE(stsrole_config_role(&cfg, cfg.roles[i].name) != NULL);
        }
    } else {
        FUZZ_REQUIRE(cfg.region == NULL && cfg.roles == NULL && cfg.n_roles == 0);
    }
    stsrole_config_free(&cfg);
    free(text);
    return 0;
}
