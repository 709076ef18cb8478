/* login.c: the steps of a PAM login, as library calls: replay check, mint, record, hand-off. */
#include "config.h"

#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "client.h"
#include "login.h"

int
stsrole_login_replay(const struct stsrole_config *cfg, const char *user,
                     const struct stsrole_totp_step *step, enum stsrole_replay_verdict *verdict,
                     struct stsrole_error *err)
{
    struct stsrole_http_config http;
    struct stsrole_creds_provider base;
    struct stsrole_aws_client c;
    struct stsrole_replay_claim cl;
    unsigned char raw[16];
    char nonce[33];
    time_t now = time(NULL);
    int rc;

    *verdict = STSROLE_REPLAY_USED;
    if (cfg->replay_table == NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG, "replay_store is not dynamodb:TABLE");
    if (now == (time_t)-1)
        return stsrole_fail(err, STSROLE_E_IO, "the system clock is unavailable");
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return stsrole_fail(err, STSROLE_E_IO, "no randomness for the replay claim");
    stsrole_hex(raw, sizeof(raw), nonce);
    memset(&cl, 0, sizeof(cl));
    cl.user = user;
    cl.step = *step;
    cl.bastion_id = cfg->bastion_id;
    cl.now = (int64_t)now;
    cl.nonce = nonce;
    stsrole_client_http(cfg, &http);
    rc = stsrole_client_provider(cfg, &http, &base, err);
    if (rc != STSROLE_OK)
        return rc;
    stsrole_client_ddb(&c, cfg, &http, &base);
    rc = stsrole_replay_claim(&c, cfg->replay_table, cl.user != NULL ? &cl : NULL, verdict, err);
    stsrole_creds_provider_free(&base);
    return rc;
}

int
stsrole_login_register(const struct stsrole_config *cfg, const struct stsrole_registry_entry *e,
                       struct stsrole_error *err)
{
    struct stsrole_http_config http;
    struct stsrole_creds_provider base;
    struct stsrole_aws_client c;
    int rc;

    if (cfg->registry_table == NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG, "no registry_table configured");
    stsrole_client_http(cfg, &http);
    rc = stsrole_client_provider(cfg, &http, &base, err);
    if (rc != STSROLE_OK)
        return rc;
    stsrole_client_ddb(&c, cfg, &http, &base);
    rc = stsrole_registry_put(&c, cfg->registry_table, e, err);
    stsrole_creds_provider_free(&base);
    return rc;
}
