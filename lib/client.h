/* SPDX-License-Identifier: BSD-3-Clause */
/* client.h: AWS clients built from stsrole.conf (conf layer): the one place that reads the config
 * for a client, so the service clients below take only what they are given. */
#ifndef STSROLE_CLIENT_H
#define STSROLE_CLIENT_H

#include "aws.h"
#include "conf.h"
#include "creds.h"
#include "http.h"

/* Fills http from cfg (pointers borrow cfg's strings). */
void stsrole_client_http(const struct stsrole_config *cfg, struct stsrole_http_config *http);
/* A client for service at endpoint, signing with base's credentials in
 * cfg's region.  Its deadline fits a login: 2 x timeout + 2 s (well below
 * sshd's LoginGraceTime); callers may change it afterwards. */
void stsrole_client_aws(const struct stsrole_config *cfg, const struct stsrole_http_config *http,
                        struct stsrole_creds_provider *base, const char *service,
                        const char *endpoint, struct stsrole_aws_client *c);
/* Sets up a base-credential provider from cfg; free with
 * stsrole_creds_provider_free. */
int stsrole_client_provider(const struct stsrole_config *cfg,
                            const struct stsrole_http_config *http,
                            struct stsrole_creds_provider *p, struct stsrole_error *err);

/*
 * Sets c up for DynamoDB as cfg says: endpoint dynamodb_endpoint, region,
 * signing name "dynamodb", and a deadline that fits a login (the same one
 * AssumeRole gets: twice the timeout plus two seconds).  http and base are
 * borrowed and must outlive c.
 */
void stsrole_client_ddb(struct stsrole_aws_client *c, const struct stsrole_config *cfg,
                        const struct stsrole_http_config *http,
                        struct stsrole_creds_provider *base);

/*
 * Sets c up for CloudWatch Logs as cfg says: endpoint logs_endpoint,
 * region, signing name "logs", one attempt (PutLogEvents is not
 * idempotent: a retry after a lost answer would store the batch twice, so
 * the caller retries, after finding out what landed), and a deadline of
 * twice the timeout plus two seconds.  http and base are borrowed.
 */
void stsrole_client_logs(struct stsrole_aws_client *c, const struct stsrole_config *cfg,
                         const struct stsrole_http_config *http,
                         struct stsrole_creds_provider *base);

#endif
