/* SPDX-License-Identifier: BSD-3-Clause */
/* mint.c: a person's session credential from the config: session name, tags, SourceIdentity,
 * AssumeRole. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "client.h"
#include "mint.h"
#include "session.h"

int
stsrole_mint_params(const struct stsrole_config *cfg, const struct stsrole_role *role,
                    const char *user, const char *session_id, const char *nonce, const char *mfa,
                    struct stsrole_tag tags[50], char name[65], char sid[STSROLE_SID_LEN + 1],
                    struct stsrole_assume_params *ap, struct stsrole_error *err)
{
    /* The revocation key survives role chaining, and a chained AssumeRole
     * cannot set it again (STS refuses a tag key that is already
     * transitive): every session chained from this one keeps it. */
    static const char *const transitive[] = {STSROLE_SID_TAG};
    size_t i;
    int rc;

    if (mfa == NULL || mfa[0] == '\0')
        return stsrole_fail(err, STSROLE_E_INVALID, "no MFA method for the stsrole:mfa tag");
    rc = stsrole_session_name(user, cfg->bastion_id, nonce, name, err);
    if (rc == STSROLE_OK)
        rc = stsrole_sid_from_session_id(session_id, sid, err);
    if (rc != STSROLE_OK)
        return rc;
    tags[0] = (struct stsrole_tag){"stsrole:bastion", cfg->bastion_id};
    tags[1] = (struct stsrole_tag){"stsrole:mfa", mfa};
    tags[2] = (struct stsrole_tag){"stsrole:session", session_id};
    tags[3] = (struct stsrole_tag){STSROLE_SID_TAG, sid};
    /* STS allows 50 session tags; stsrole sets four (conf.c caps the rest). */
    for (i = 0; i < role->n_tags && i < 46; i++)
        tags[4 + i] = (struct stsrole_tag){role->tag_keys[i], role->tag_values[i]};
    memset(ap, 0, sizeof(*ap));
    ap->role_arn = role->arn;
    ap->session_name = name;
    ap->duration = stsrole_role_duration(cfg, role);
    ap->source_identity = user;
    ap->tags = tags;
    ap->n_tags = 4 + i;
    ap->transitive_tag_keys = transitive;
    ap->n_transitive_tag_keys = 1;
    ap->external_id = role->external_id;
    return STSROLE_OK;
}

int
stsrole_mint_breakglass(struct stsrole_assume_params *ap, struct stsrole_tag tags[50],
                        const char *reason, const char *approvers, struct stsrole_error *err)
{
    if (reason == NULL || approvers == NULL || reason[0] == '\0' || approvers[0] == '\0')
        return stsrole_fail(err, STSROLE_E_INVALID,
                            "a break-glass credential needs a reason "
                            "and approvers");
    /* conf.c leaves a role with approvals at most 44 tag.KEY lines. */
    if (ap->tags != tags || ap->n_tags > 48)
        return stsrole_fail(err, STSROLE_E_INVALID, "no room for the break-glass session tags");
    tags[ap->n_tags++] = (struct stsrole_tag){"stsrole:reason", reason};
    tags[ap->n_tags++] = (struct stsrole_tag){"stsrole:approvers", approvers};
    return STSROLE_OK;
}

int
stsrole_mint_assume(struct stsrole_aws_client *c, const struct stsrole_assume_params *ap,
                    struct stsrole_assumed *out, char request_id[128], struct stsrole_error *err)
{
    struct stsrole_http_response resp;
    struct stsrole_buf body;
    int rc;

    memset(out, 0, sizeof(*out));
    request_id[0] = '\0';
    /* A failure before AWS answers leaves err's request id as it was
     * (stsrole_fail does not touch it): start from none. */
    if (err != NULL)
        err->request_id[0] = '\0';
    stsrole_buf_init(&body, 0);
    rc = stsrole_sts_assume_body(ap, &body, err);
    if (rc == STSROLE_OK)
        rc = stsrole_aws_query(c, body.data, &resp, err);
    stsrole_buf_free(&body); /* may hold a TokenCode */
    if (rc != STSROLE_OK) {
        if (err != NULL)
            snprintf(request_id, 128, "%s", err->request_id);
        return rc;
    }
    snprintf(request_id, 128, "%s", resp.request_id);
    rc = stsrole_sts_parse_assume(resp.content_type, resp.body.data, resp.body.len, out, err);
    stsrole_http_response_free(&resp);
    return rc;
}

int
stsrole_mint_chained(struct stsrole_creds_provider *base, struct stsrole_assume_params *ap,
                     int *cut_from, struct stsrole_error *err)
{
    const struct stsrole_creds *cr;
    int rc;

    *cut_from = 0;
    if (ap->duration <= STSROLE_CHAINED_MAX)
        return STSROLE_OK;
    if ((rc = stsrole_creds_provider_get(base, 0, &cr, err)) != STSROLE_OK)
        return rc;
    if (cr->session_token != NULL && cr->session_token[0] != '\0') {
        *cut_from = ap->duration;
        ap->duration = STSROLE_CHAINED_MAX;
    }
    return STSROLE_OK;
}

int
stsrole_mint(const struct stsrole_config *cfg, const struct stsrole_role *role,
             struct stsrole_mint *m, struct stsrole_assumed *out, char request_id[128],
             struct stsrole_error *err)
{
    struct stsrole_http_config http;
    struct stsrole_creds_provider base;
    struct stsrole_aws_client client;
    struct stsrole_assume_params ap;
    struct stsrole_tag tags[50];
    char nonce[17];
    int rc;

    memset(out, 0, sizeof(*out));
    request_id[0] = '\0';
    if (m->session_id == NULL || strlen(m->session_id) < 16)
        return stsrole_fail(err, STSROLE_E_INVALID, "session id missing");
    /* 16 hex characters of the session id are the nonce: 64 bits keep
     * names unique per session and leave room for user and bastion. */
    snprintf(nonce, sizeof(nonce), "%.16s", m->session_id);
    rc = stsrole_mint_params(cfg, role, m->user, m->session_id, nonce, m->mfa, tags,
                             m->session_name, m->sid, &ap, err);
    if (rc != STSROLE_OK)
        return rc;
    /* Validate before fetching base credentials: a bad input costs no I/O. */
    rc = stsrole_sts_validate(&ap, err);
    if (rc != STSROLE_OK)
        return rc;
    stsrole_client_http(cfg, &http);
    rc = stsrole_client_provider(cfg, &http, &base, err);
    if (rc != STSROLE_OK)
        return rc;
    stsrole_client_aws(cfg, &http, &base, "sts", cfg->sts_endpoint, &client);
    rc = stsrole_mint_chained(&base, &ap, &m->chained_from, err);
    if (rc == STSROLE_OK)
        rc = stsrole_mint_assume(&client, &ap, out, request_id, err);
    stsrole_creds_provider_free(&base);
    return rc;
}
