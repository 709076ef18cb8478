/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_assume.c: "stsrolectl assume": mint one credential without PAM, print credential_process
 * JSON. */
#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "aws.h"
#include "audit.h"
#include "conf.h"
#include "ctl.h"
#include "http.h"
#include "iam.h"
#include "json.h"
#include "mint.h"
#include "session.h"

static int
fail(const char *what, const struct stsrole_error *err)
{
    fprintf(stderr, "stsrolectl: %s: %s%s%s%s\n", what, err->msg,
            err->request_id[0] ? " (request id " : "", err->request_id,
            err->request_id[0] ? ")" : "");
    return ctl_exit_for(err->status);
}

/* credential_process output (AWS CLI/SDK "Sourcing credentials with an
 * external process"): Version 1, the keys, and Expiration as ISO-8601. */
static int
print_credential_process(const struct stsrole_assumed *a)
{
    cJSON *o = cJSON_CreateObject();
    char exp[21];
    char *text;

    if (o == NULL)
        return -1;
    stsrole_iso8601(a->creds.expiration, exp);
    if (cJSON_AddNumberToObject(o, "Version", 1) == NULL ||
        cJSON_AddStringToObject(o, "AccessKeyId", a->creds.access_key_id) == NULL ||
        cJSON_AddStringToObject(o, "SecretAccessKey", a->creds.secret_access_key) == NULL ||
        cJSON_AddStringToObject(o, "SessionToken", a->creds.session_token) == NULL ||
        cJSON_AddStringToObject(o, "Expiration", exp) == NULL) {
        cJSON_Delete(o);
        return -1;
    }
    if (stsrole_json_print_secret(o, 1, &text, NULL) != STSROLE_OK)
        text = NULL;
    stsrole_json_delete_wiped(o);
    if (text == NULL)
        return -1;
    fputs(text, stdout);
    fputc('\n', stdout);
    stsrole_free_secret(text);
    return fflush(stdout) == 0 ? 0 : -1;
}

/* Who ran us, for the audit record: root, and the person behind sudo
 * when there is one (SUDO_USER is only a hint: root could set it). */
static void
operator_name(char *out, size_t outlen)
{
    const char *sudo = getenv("SUDO_USER");
    char clean[64];
    size_t i;

    for (i = 0; sudo != NULL && sudo[i] != '\0' && i + 1 < sizeof(clean); i++)
        clean[i] = isalnum((unsigned char)sudo[i]) || strchr("._-", sudo[i]) ? sudo[i] : '?';
    clean[i] = '\0';
    if (i > 0)
        snprintf(out, outlen, "uid 0 (sudo from %s)", clean);
    else
        snprintf(out, outlen, "uid 0");
}

/*
 * The audit record of an operator's mint: through the gateway when it runs
 * (it holds the log), else straight into audit_log (free then), else, with
 * no audit_log configured, syslog alone.  Always syslog.  Nonzero: not
 * recorded, so the credential must not be handed out.
 */
static int
record_assume(const struct stsrole_config *cfg, const struct stsrole_role *role, const char *user,
              const char *session_id, const char *session_name, const struct stsrole_assumed *a,
              const char *request_id)
{
    struct stsrole_audit_record r;
    struct stsrole_audit_log log;
    struct stsrole_error err;
    char who[128], detail[256], host[256], account[13];
    cJSON *req = NULL, *resp = NULL;
    int rc;

    operator_name(who, sizeof(who));
    snprintf(detail, sizeof(detail), "stsrolectl assume by %s: stsrole:mfa=none", who);
    syslog(LOG_AUTHPRIV | LOG_NOTICE,
           "assume role=%s user=%s session_id=%s session=%s access_key_id=%s request_id=%s "
           "reason=\"%s\"",
           role->arn, user, session_id, session_name, a->creds.access_key_id, request_id, detail);
    if (cfg->state_dir != NULL && (req = cJSON_CreateObject()) != NULL &&
        cJSON_AddStringToObject(req, "cmd", "minted") != NULL &&
        cJSON_AddStringToObject(req, "user", user) != NULL &&
        cJSON_AddStringToObject(req, "session_id", session_id) != NULL &&
        cJSON_AddStringToObject(req, "role_arn", role->arn) != NULL &&
        cJSON_AddStringToObject(req, "session_name", session_name) != NULL &&
        cJSON_AddStringToObject(req, "access_key_id", a->creds.access_key_id) != NULL &&
        cJSON_AddNumberToObject(req, "expiration", (double)a->creds.expiration) != NULL &&
        cJSON_AddStringToObject(req, "request_id", request_id) != NULL &&
        cJSON_AddStringToObject(req, "detail", detail) != NULL &&
        ctl_ask(cfg, req, &resp, 1) == CTL_EXIT_OK) {
        const cJSON *ok = cJSON_GetObjectItemCaseSensitive(resp, "ok");
        rc = cJSON_IsTrue(ok) ? 0 : -1;
        if (rc != 0)
            fprintf(stderr, "stsrolectl: the gateway did not record the credential\n");
        cJSON_Delete(req);
        cJSON_Delete(resp);
        return rc;
    }
    cJSON_Delete(req);
    cJSON_Delete(resp);
    if (cfg->audit_log == NULL)
        return 0; /* no audit log on this bastion: syslog above is the record */
    memset(&r, 0, sizeof(r));
    r.event = "assume.ok";
    r.user = user;
    r.uid = -1;
    r.session_id = session_id;
    r.role_arn = role->arn;
    stsrole_arn_account(role->arn, account);
    r.account = account[0] ? account : NULL;
    r.session_name = session_name;
    r.source_identity = user;
    r.access_key_id = a->creds.access_key_id;
    r.expiration = a->creds.expiration;
    r.aws_request_id = request_id[0] ? request_id : NULL;
    r.outcome = "ok";
    r.detail = detail;
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "-");
    host[sizeof(host) - 1] = '\0';
    if (stsrole_audit_open(&log, cfg->audit_log, host, cfg->bastion_id, &err) != STSROLE_OK) {
        fprintf(stderr, "stsrolectl: cannot record the credential in %s: %s\n", cfg->audit_log,
                err.msg);
        return -1;
    }
    rc = stsrole_audit_append(&log, &r, (int64_t)time(NULL) * 1000, NULL, &err);
    stsrole_audit_close(&log);
    if (rc != STSROLE_OK) {
        fprintf(stderr, "stsrolectl: cannot record the credential in %s: %s\n", cfg->audit_log,
                err.msg);
        return -1;
    }
    return 0;
}

int
ctl_assume(int argc, char **argv, const char *config_path)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"role", required_argument, NULL, 'r'},
        {"user", required_argument, NULL, 'u'},
        {NULL, 0, NULL, 0},
    };
    const char *role_name = NULL, *user = NULL;
    struct stsrole_config cfg;
    const struct stsrole_role *role;
    struct stsrole_error err;
    struct stsrole_assumed a;
    struct stsrole_mint m;
    char session_id[33], request_id[128];
    int c, rc;

    while ((c = getopt_long(argc, argv, "+c:r:u:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'r':
            role_name = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        default:
            /* getopt has printed what was wrong */
            fprintf(stderr, "stsrolectl: usage: stsrolectl assume [--config PATH] --role NAME "
                            "--user USER\n");
            return CTL_EXIT_USAGE;
        }
    }
    if (optind < argc || role_name == NULL || user == NULL) {
        fprintf(stderr,
                "stsrolectl: assume: %s (usage: stsrolectl assume [--config PATH] "
                "--role NAME --user USER)\n",
                optind < argc ? "unexpected argument" : "--role and --user are required");
        return CTL_EXIT_USAGE;
    }
    /* The credential comes from the bastion's own identity, which is
     * root's alone: nobody else may mint with it (and any other uid
     * reaching it is what the gateway's IMDS check reports). */
    if (getuid() != 0 || geteuid() != 0) {
        fprintf(stderr, "stsrolectl: assume is for root only: it mints AWS credentials with the "
                        "bastion's own identity (log in over SSH for yours)\n");
        return CTL_EXIT_NOPERM;
    }
    stsrole_error_clear(&err);
    rc = stsrole_config_load(config_path, &cfg, &err);
    if (rc != STSROLE_OK) {
        fprintf(stderr, "stsrolectl: config: %s\n", err.msg);
        return CTL_EXIT_CONFIG;
    }
    role = stsrole_config_role(&cfg, role_name);
    if (role == NULL) {
        fprintf(stderr, "stsrolectl: config: %s has no [role %s]\n", cfg.path, role_name);
        stsrole_config_free(&cfg);
        return CTL_EXIT_CONFIG;
    }
    if (stsrole_http_global_init(&err) != STSROLE_OK ||
        stsrole_session_id(session_id, &err) != STSROLE_OK) {
        stsrole_config_free(&cfg);
        return fail("setup", &err);
    }
    memset(&m, 0, sizeof(m));
    m.user = user;
    m.session_id = session_id;
    /* No MFA was checked here: the tag says so, and trust policies that
     * require stsrole:mfa=totp refuse it. */
    m.mfa = "none";
    rc = stsrole_mint(&cfg, role, &m, &a, request_id, &err);
    if (rc != STSROLE_OK) {
        stsrole_config_free(&cfg);
        return fail(role_name, &err);
    }
    if (m.chained_from != 0)
        fprintf(stderr,
                "stsrolectl: warning: duration %d cut to %d seconds: the base credential carries "
                "a session token, so it is a role session, and AWS caps AssumeRole from one at "
                "that (role chaining)\n",
                m.chained_from, STSROLE_CHAINED_MAX);
    if (stsrole_aws_clock_skew() != 0)
        fprintf(stderr,
                "stsrolectl: warning: clock skew: the local clock is %lld s %s AWS's; the "
                "request was signed again with AWS's time (fix NTP)\n",
                (long long)(stsrole_aws_clock_skew() < 0 ? -stsrole_aws_clock_skew()
                                                         : stsrole_aws_clock_skew()),
                stsrole_aws_clock_skew() < 0 ? "ahead of" : "behind");
    rc = record_assume(&cfg, role, user, session_id, m.session_name, &a, request_id);
    stsrole_config_free(&cfg);
    if (rc != 0) {
        stsrole_assumed_free(&a);
        fprintf(stderr, "stsrolectl: the credential was not recorded, so it is not shown\n");
        return CTL_EXIT_UNAVAIL;
    }
    if (print_credential_process(&a) != 0) {
        stsrole_assumed_free(&a);
        fprintf(stderr, "stsrolectl: cannot write the credential\n");
        return CTL_EXIT_FAIL;
    }
    stsrole_assumed_free(&a);
    return CTL_EXIT_OK;
}
