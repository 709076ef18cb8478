/* conf.h: /etc/stsrole/stsrole.conf: parsing (inih), validation and role selection. */
#ifndef STSROLE_CONF_H
#define STSROLE_CONF_H

#include <sys/types.h>

#include "aws.h"
#include "creds.h"
#include "stsrole.h"

#define STSROLE_DEFAULT_CONF "/etc/stsrole/stsrole.conf"

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
};

struct stsrole_config {
    char *path;
    char *region;
    char *sts_endpoint; /* default https://sts.REGION.amazonaws.com */
    char *iam_endpoint; /* default https://iam.amazonaws.com */
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
    char *dynamodb_endpoint; /* default https://dynamodb.REGION.amazonaws.com */
    /* The gateway ships the audit log to CloudWatch Logs while
     * audit_log_group is set (stsrole-gatewayd(8), SHIPPING). */
    char *logs_endpoint;    /* default https://logs.REGION.amazonaws.com */
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
    struct stsrole_role *roles;
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

#endif
