/* SPDX-License-Identifier: BSD-3-Clause */
/* client.c: AWS clients built from stsrole.conf: HTTP settings, base credentials, endpoints. */
#include "config.h"

#include <string.h>

#include "client.h"

void
stsrole_client_http(const struct stsrole_config *cfg, struct stsrole_http_config *http)
{
    memset(http, 0, sizeof(*http));
    http->ca_file = cfg->ca_file;
    http->proxy = cfg->proxy;
    http->timeout_ms = (long)cfg->timeout * 1000L;
}

void
stsrole_client_aws(const struct stsrole_config *cfg, const struct stsrole_http_config *http,
                   struct stsrole_creds_provider *base, const char *service, const char *endpoint,
                   struct stsrole_aws_client *c)
{
    memset(c, 0, sizeof(*c));
    c->http = http;
    c->base = base;
    c->region = cfg->region;
    c->service = service;
    c->endpoint = endpoint;
    c->deadline_ms = cfg->timeout * 1000 * 2 + 2000;
}

int
stsrole_client_provider(const struct stsrole_config *cfg, const struct stsrole_http_config *http,
                        struct stsrole_creds_provider *p, struct stsrole_error *err)
{
    memset(p, 0, sizeof(*p));
    p->kind = cfg->credentials;
    p->http = http;
    p->path = stsrole_strdup(cfg->credentials_path);
    p->profile = stsrole_strdup(cfg->credentials_profile);
    p->imds_endpoint = stsrole_strdup(cfg->imds_endpoint);
    if ((cfg->credentials_path != NULL && p->path == NULL) || p->profile == NULL ||
        p->imds_endpoint == NULL) {
        stsrole_creds_provider_free(p);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    return STSROLE_OK;
}

void
stsrole_client_ddb(struct stsrole_aws_client *c, const struct stsrole_config *cfg,
                   const struct stsrole_http_config *http, struct stsrole_creds_provider *base)
{
    stsrole_client_aws(cfg, http, base, "dynamodb", cfg->dynamodb_endpoint, c);
}

void
stsrole_client_logs(struct stsrole_aws_client *c, const struct stsrole_config *cfg,
                    const struct stsrole_http_config *http, struct stsrole_creds_provider *base)
{
    stsrole_client_aws(cfg, http, base, "logs", cfg->logs_endpoint, c);
    c->max_attempts = 1;
}
