/* SPDX-License-Identifier: BSD-3-Clause */
/* login.c: the steps of a PAM login, as library calls: replay check, mint, record, hand-off. */
#include "config.h"

#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "client.h"
#include "handoff.h"
#include "login.h"
#include "runtime.h"
#include "session.h"

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

int
stsrole_login_open(struct stsrole_login *l, struct stsrole_error *err)
{
    const struct stsrole_config *cfg = l->cfg;
    struct stsrole_session who, rec;
    int rc;

    rc = stsrole_session_id(l->session_id, err);
    if (rc != STSROLE_OK) {
        l->what = "could not create a session id";
        return rc;
    }
    l->stage = STSROLE_LOGIN_ID;
    l->mint.user = l->user;
    l->mint.session_id = l->session_id;
    l->mint.mfa = l->mfa;
    rc = stsrole_mint(cfg, l->role, &l->mint, &l->as, l->request_id, err);
    l->stage = STSROLE_LOGIN_MINTED;
    if (rc != STSROLE_OK) {
        l->what = "could not obtain AWS credentials";
        return rc;
    }

    /* The gateway revokes from this record, so it is on disk before the
     * credentials reach the session. */
    memset(&who, 0, sizeof(who));
    who.user = (char *)l->user;
    who.uid = l->uid;
    who.rhost = (char *)l->rhost;
    who.tty = (char *)l->tty;
    who.sshd_pid = l->sshd_pid;
    who.sshd_start = l->sshd_start;
    who.mfa = (char *)l->mfa;
    who.role_name = l->role->name;
    who.role_arn = l->role->arn;
    who.source_identity = (char *)l->user;
    memcpy(who.sid, l->mint.sid, sizeof(who.sid));
    l->opened = (int64_t)time(NULL);
    stsrole_session_build(&rec, l->session_id, &who, &l->as, l->mint.session_name, l->request_id,
                          l->opened);
    rec.refresh = cfg->credentials_mode == STSROLE_MODE_PROCESS;
    if (rec.opened <= 0) {
        l->what = "could not record the session";
        return stsrole_fail(err, STSROLE_E_IO, "the system clock is unavailable");
    }
    /* Set before writing: a write that fails after its rename (the
     * directory fsync) leaves a record, which must then be closed. */
    l->recorded = 1;
    rc = stsrole_session_write(cfg->state_dir, &rec, err);
    if (rc != STSROLE_OK) {
        l->what = "could not record the session";
        return rc;
    }
    /* The fleet registry, after the local record: if this fails, the abort
     * closes the local record and the gateway revokes. */
    if (cfg->registry_table != NULL) {
        struct stsrole_registry_entry reg;

        memset(&reg, 0, sizeof(reg));
        memcpy(reg.session_id, l->session_id, sizeof(reg.session_id));
        reg.bastion_id = cfg->bastion_id;
        reg.user = (char *)l->user;
        reg.role_name = l->role->name;
        reg.role_arn = l->role->arn;
        reg.revoker_arn = l->role->revoker_arn;
        reg.assumed_role_id = l->as.assumed_role_id;
        reg.session_name = l->mint.session_name;
        reg.access_key_id = l->as.creds.access_key_id;
        reg.rhost = (char *)l->rhost;
        reg.expiration = l->as.creds.expiration;
        reg.opened = rec.opened;
        memcpy(reg.sid, rec.sid, sizeof(reg.sid));
        reg.refresh = rec.refresh;
        rc = stsrole_login_register(cfg, &reg, err);
        if (rc != STSROLE_OK) {
            l->what = "could not register the session in the fleet registry";
            return rc;
        }
    }

    if (rec.refresh) {
        rc = stsrole_runtime_aws_config(cfg->runtime_dir, l->session_id, l->uid, l->gid,
                                        cfg->credential_helper, cfg->region, l->profiles,
                                        l->n_profiles, l->aws_config, sizeof(l->aws_config), err);
        if (rc != STSROLE_OK) {
            l->what = "could not write the session's AWS config file";
            return rc;
        }
        l->configured = 1;
        /* The gateway serves the login's credential until it refreshes it.
         * One that cannot be reached does not stop the login: the record
         * is on disk, so the gateway mints for the session when it is
         * back, and revokes every credential at logout. */
        stsrole_error_clear(&l->handoff_err);
        l->handoff_status =
            stsrole_handoff(cfg->runtime_dir, l->session_id, &l->as.creds, 2000, &l->handoff_err);
    }
    return STSROLE_OK;
}

void
stsrole_login_abort(struct stsrole_login *l)
{
    if (l->recorded) {
        /* Credentials exist and may be recorded but will not be used:
         * closing the record lets the gateway revoke them at once (it
         * fails harmlessly when no record was written). */
        struct stsrole_error e2;
        stsrole_session_mark_closed(l->cfg->state_dir, l->session_id, (int64_t)time(NULL), &e2);
    }
    if (l->configured) {
        struct stsrole_error e3;
        stsrole_runtime_aws_config_remove(l->cfg->runtime_dir, l->session_id, &e3);
    }
    stsrole_login_free(l);
}

void
stsrole_login_free(struct stsrole_login *l)
{
    stsrole_assumed_free(&l->as);
}
