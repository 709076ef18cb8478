/* SPDX-License-Identifier: BSD-3-Clause */
/* conf.h: /etc/stsrole/stsrole.conf: parsing (inih), validation and role selection. */
#ifndef STSROLE_CONF_H
#define STSROLE_CONF_H

#include <sys/types.h>

#include "aws.h"
#include "creds.h"
#include "partition.h"
#include "stsrole.h"
#include "template.h"

#define STSROLE_DEFAULT_CONF "/etc/stsrole/stsrole.conf"
#define STSROLE_APPROVALS_MAX 10
#define STSROLE_APPROVAL_TIMEOUT_DEFAULT 900

enum stsrole_failmode {
    STSROLE_FAIL_SECURE = 0,
    STSROLE_FAIL_SAFE,
};

/* How a session reaches its credentials (stsrole.conf(5), credentials_mode). */
enum stsrole_credentials_mode {
    STSROLE_MODE_ENV = 0, /* static AWS_* variables, valid until they expire */
    STSROLE_MODE_PROCESS, /* an AWS config file whose credential_process asks the gateway */
};

struct stsrole_role {
    char *name;
    char *arn;
    char *revoker_arn;
    char **users;  /* NULL-terminated */
    char **groups; /* NULL-terminated */
    int duration;  /* 0: the global duration */
    char *external_id;
    char **tag_keys; /* from "tag.KEY = VALUE" lines, added to the session tags */
    char **tag_values;
    size_t n_tags;
    /* Break-glass (stsrole.conf(5), BREAK-GLASS): a role with approvals > 0
     * is minted only through a request that approvals other people from
     * approvers granted within approval_timeout seconds. */
    int reason_required;  /* reason = required */
    char *reason_pattern; /* POSIX ERE the reason must match; checked by regcomp at load */
    int approvals;        /* 0: no approval needed */
    char **approvers;     /* NULL-terminated; "@GROUP" names a group */
    int approval_timeout; /* seconds a request waits; default 900 */
    int max_duration;     /* 0: no cap beyond duration */
    char *notify;         /* as written */
    int notify_facility;  /* notify = syslog:FACILITY, a LOG_* facility; -1: a command */
    char **notify_argv;   /* notify = /PATH [ARG...]: run without a shell; NULL-terminated */
    /* A [roles NAME] template becomes one role per account, named
     * ALIAS-NAME (the profile's name in the session): these say which
     * template, account and alias it came from.  NULL for [role NAME]. */
    char *template_name;
    char *account;
    char *alias;
    int step_up; /* step_up = totp: a fresh code before the first mint */
    /* While parsing only: the template's accounts = value and the line
     * of its section. */
    char *accounts;
    int is_template;
    int line;
};

struct stsrole_config {
    char *path;
    char *region;
    /* aws, aws-cn or aws-us-gov, from region: the DNS suffix of the default
     * endpoints, IAM's endpoint and signing region, and the partition every
     * role ARN must name. */
    const struct stsrole_partition *partition;
    char *sts_endpoint; /* default https://sts.REGION.DNS_SUFFIX */
    char *iam_endpoint; /* default the partition's IAM endpoint */
    enum stsrole_creds_kind credentials;
    char *credentials_path;    /* file:PATH */
    char *credentials_profile; /* credentials_profile, default "default" */
    char *imds_endpoint;       /* default http://169.254.169.254 */
    char *ca_file;
    char *proxy;
    char *usersfile;
    char *state_dir;
    char *audit_log;
    char *bastion_id;
    int bastion_id_from_imds; /* bastion_id unset with credentials = imds: the instance id */
    /* The fleet store (DynamoDB): replay_store = dynamodb:TABLE sets
     * replay_table (NULL: replay_store = local, liboath's users file
     * alone); registry_table, when set, receives one item per session. */
    char *replay_table;
    char *registry_table;
    char *dynamodb_endpoint; /* default https://dynamodb.REGION.DNS_SUFFIX */
    /* The gateway ships the audit log to CloudWatch Logs while
     * audit_log_group is set (stsrole-gatewayd(8), SHIPPING). */
    char *logs_endpoint;    /* default https://logs.REGION.DNS_SUFFIX */
    char *audit_log_group;  /* NULL: no shipping */
    char *audit_log_stream; /* default bastion_id */
    int audit_ship_batch;   /* events per PutLogEvents, default 1000 */
    /* credentials_mode = process: the gateway refreshes the session's
     * credential refresh_margin seconds before it expires and serves it on
     * RUNTIME_DIR/credentials.sock to credential_helper. */
    enum stsrole_credentials_mode credentials_mode;
    int refresh_margin;      /* default 900 */
    char *runtime_dir;       /* default /run/stsrole */
    char *credential_helper; /* default /usr/bin/stsrole-credential-process */
    enum stsrole_failmode failmode;
    /* imds_exposure = refuse (0, the default) | warn (1): what a login does
     * while the gateway finds IMDS open to others than root (exposure.h). */
    int imds_exposure_warn;
    int duration;
    int totp_window;
    int totp_lock_wait; /* seconds a login waits for the users file's lock; default 5 */
    int timeout;
    struct stsrole_role *roles; /* [role NAME] sections, then every template's instances */
    size_t n_roles;
};

/* Pure: parses INI text; name is used in "name:line: ..." messages. */
int stsrole_config_parse(const char *text, const char *name, struct stsrole_config *cfg,
                         struct stsrole_error *err);
/* Reads path with stsrole_read_safely (root-owned, not group/world
 * writable, not a symlink) and parses it. */
int stsrole_config_load(const char *path, struct stsrole_config *cfg, struct stsrole_error *err);
void stsrole_config_free(struct stsrole_config *cfg);

/* Pure: 1 when id cannot name one bastion in a fleet: empty, localhost,
 * or an EC2 default host name (ip-10-0-1-5, with or without a domain). */
int stsrole_bastion_id_ambiguous(const char *id);

const struct stsrole_role *stsrole_config_role(const struct stsrole_config *cfg, const char *name);
/* The DurationSeconds a role's credential asks for: its duration (or the
 * global one), capped by max_duration. */
int stsrole_role_duration(const struct stsrole_config *cfg, const struct stsrole_role *role);
/* 1 when the role is taken only through a request (a reason or approvals
 * are needed): the login menu leaves it out. */
int stsrole_role_needs_request(const struct stsrole_role *role);

/* Resolves a group name to its gid: 1 when found, 0 when there is no such
 * group (or NSS cannot say: a role naming it then matches nobody). */
typedef int stsrole_group_lookup(void *ctx, const char *name, gid_t *gid);
/* 1 when role's users list names user, or its groups list names a group
 * whose gid is among gids[0..ngids) (the user's primary and supplementary
 * groups); always 0 for a role that needs a request. */
int stsrole_role_allows(const struct stsrole_role *role, const char *user, const gid_t *gids,
                        int ngids, stsrole_group_lookup *lookup, void *ctx);
/* The same lists, whether or not the role needs a request: for one that
 * does, 1 means user may ask for it (stsrole request). */
int stsrole_role_lists(const struct stsrole_role *role, const char *user, const gid_t *gids,
                       int ngids, stsrole_group_lookup *lookup, void *ctx);

#endif
