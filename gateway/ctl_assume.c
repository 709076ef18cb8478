/* ctl_assume.c: "stsrolectl assume": mint one credential without PAM, print credential_process
 * JSON. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "conf.h"
#include "ctl.h"
#include "http.h"
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
    text = cJSON_Print(o);
    stsrole_json_delete_wiped(o);
    if (text == NULL)
        return -1;
    fputs(text, stdout);
    fputc('\n', stdout);
    stsrole_free_secret(text);
    return fflush(stdout) == 0 ? 0 : -1;
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
    rc = stsrole_mint(&cfg, role, &m, &a, request_id, &err);
    stsrole_config_free(&cfg);
    if (rc != STSROLE_OK)
        return fail(role_name, &err);
    if (print_credential_process(&a) != 0) {
        stsrole_assumed_free(&a);
        fprintf(stderr, "stsrolectl: cannot write the credential\n");
        return CTL_EXIT_FAIL;
    }
    stsrole_assumed_free(&a);
    return CTL_EXIT_OK;
}
