/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_admin.c: stsrolectl sessions, revoke, audit verify and status: the gateway's admin side. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "client.h"
#include "conf.h"
#include "ctl.h"
#include "ctl_sock.h"
#include "ddb.h"
#include "fdio.h"
#include "gwproto.h"
#include "registry.h"

/* A revocation may wait on AWS (retries within 15 s per call). */
#define CTL_TIMEOUT_S 120

static int
load(const char *path, struct stsrole_config *cfg, int quiet)
{
    struct stsrole_error err;

    memset(cfg, 0, sizeof(*cfg));
    if (stsrole_config_load(path ? path : STSROLE_DEFAULT_CONF, cfg, &err) != STSROLE_OK) {
        if (!quiet)
            fprintf(stderr, "stsrolectl: %s\n", err.msg);
        return ctl_exit_for(err.status);
    }
    if (cfg->state_dir == NULL) {
        if (!quiet)
            fprintf(stderr, "stsrolectl: %s: state_dir is not set\n", cfg->path);
        stsrole_config_free(cfg);
        return CTL_EXIT_CONFIG;
    }
    return CTL_EXIT_OK;
}

/* One request to the gateway; *resp is its parsed answer. */
int
ctl_ask(const struct stsrole_config *cfg, cJSON *req, cJSON **resp, int quiet)
{
    struct sockaddr_un sa;
    struct timeval tv = {CTL_TIMEOUT_S, 0};
    char *text, *buf;
    size_t len = 0;
    int fd, rc = CTL_EXIT_UNAVAIL;

    *resp = NULL;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", cfg->state_dir,
                         GW_SOCKET_NAME) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "stsrolectl: state_dir is too long\n");
        return CTL_EXIT_CONFIG;
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (!quiet)
            fprintf(stderr, "stsrolectl: the gateway is not reachable at %s: %s\n", sa.sun_path,
                    strerror(errno));
        if (fd >= 0)
            close(fd);
        return errno == EACCES ? CTL_EXIT_NOPERM : CTL_EXIT_UNAVAIL;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    text = cJSON_PrintUnformatted(req);
    buf = malloc(GW_RESPONSE_MAX + 1);
    if (text == NULL || buf == NULL || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
        write(fd, "\n", 1) != 1) {
        fprintf(stderr, "stsrolectl: cannot send to the gateway: %s\n", strerror(errno));
        goto out;
    }
    len = stsrole_read_line(fd, buf, GW_RESPONSE_MAX);
    if ((*resp = cJSON_ParseWithLength(buf, len)) == NULL) {
        fprintf(stderr, "stsrolectl: no answer from the gateway\n");
        rc = CTL_EXIT_PROTOCOL;
        goto out;
    }
    rc = CTL_EXIT_OK;
out:
    free(text);
    free(buf);
    close(fd);
    return rc;
}

static const char *
str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : "-";
}

static double
num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int
answer_ok(const cJSON *resp)
{
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok")))
        return 1;
    fprintf(stderr, "stsrolectl: %s\n", str(resp, "error"));
    return 0;
}

/* Every subcommand accepts --config after its name as well. */
#define CONFIG_OPT                                                                                 \
    {                                                                                              \
        "config", required_argument, NULL, 'c'                                                     \
    }

static int
simple(const char *config_path, const char *cmd, cJSON **resp, struct stsrole_config *cfg)
{
    cJSON *req;
    int rc;

    if ((rc = load(config_path, cfg, 0)) != CTL_EXIT_OK)
        return rc;
    req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "cmd", cmd);
    rc = ctl_ask(cfg, req, resp, 0);
    cJSON_Delete(req);
    return rc;
}

static int
by_bastion_then_opened(const void *a, const void *b)
{
    const struct stsrole_registry_entry *x = a, *y = b;
    int c = strcmp(x->bastion_id, y->bastion_id);

    if (c != 0)
        return c;
    return x->opened < y->opened ? -1 : x->opened > y->opened ? 1 : 0;
}

static void
add_iso(cJSON *o, const char *k, int64_t t)
{
    char iso[21];

    stsrole_iso8601(t, iso);
    cJSON_AddStringToObject(o, k, iso);
}

/* sessions --fleet: the registry itself, read with this bastion's base
 * credentials; no gateway needed. */
static int
fleet_sessions(const char *config_path, int json)
{
    struct stsrole_config cfg;
    struct stsrole_http_config http;
    struct stsrole_creds_provider base;
    struct stsrole_aws_client c;
    struct stsrole_error err;
    struct stsrole_registry_entry *list = NULL;
    size_t i, n = 0, skipped = 0;
    char opened[21], expires[21], *text;
    cJSON *arr, *o;
    int rc;

    if ((rc = load(config_path, &cfg, 0)) != CTL_EXIT_OK)
        return rc;
    if (cfg.registry_table == NULL) {
        fprintf(stderr, "stsrolectl: sessions --fleet needs registry_table in %s\n", cfg.path);
        stsrole_config_free(&cfg);
        return CTL_EXIT_CONFIG;
    }
    stsrole_client_http(&cfg, &http);
    if ((rc = stsrole_http_global_init(&err)) != STSROLE_OK ||
        (rc = stsrole_client_provider(&cfg, &http, &base, &err)) != STSROLE_OK) {
        fprintf(stderr, "stsrolectl: %s\n", err.msg);
        stsrole_config_free(&cfg);
        return ctl_exit_for(rc);
    }
    stsrole_client_ddb(&c, &cfg, &http, &base);
    rc = stsrole_registry_list(&c, cfg.registry_table, NULL, (int64_t)time(NULL), &list, &n,
                               &skipped, &err);
    stsrole_creds_provider_free(&base);
    if (rc != STSROLE_OK) {
        fprintf(stderr, "stsrolectl: registry %s: %s\n", cfg.registry_table, err.msg);
        stsrole_config_free(&cfg);
        return ctl_exit_for(rc);
    }
    qsort(list, n, sizeof(*list), by_bastion_then_opened);
    if (json) {
        arr = cJSON_CreateArray();
        for (i = 0; arr != NULL && i < n; i++) {
            if ((o = cJSON_CreateObject()) == NULL)
                break;
            cJSON_AddItemToArray(arr, o);
            cJSON_AddStringToObject(o, "session_id", list[i].session_id);
            cJSON_AddStringToObject(o, "bastion_id", list[i].bastion_id);
            cJSON_AddStringToObject(o, "user", list[i].user);
            cJSON_AddStringToObject(o, "role_name", list[i].role_name);
            cJSON_AddStringToObject(o, "role_arn", list[i].role_arn);
            cJSON_AddStringToObject(o, "assumed_role_id", list[i].assumed_role_id);
            cJSON_AddStringToObject(o, "session_name", list[i].session_name);
            cJSON_AddStringToObject(o, "access_key_id", list[i].access_key_id);
            if (list[i].rhost != NULL)
                cJSON_AddStringToObject(o, "rhost", list[i].rhost);
            else
                cJSON_AddNullToObject(o, "rhost");
            add_iso(o, "opened", list[i].opened);
            add_iso(o, "expiration", list[i].expiration);
        }
        text = arr != NULL ? cJSON_Print(arr) : NULL;
        printf("%s\n", text ? text : "[]");
        free(text);
        cJSON_Delete(arr);
    } else {
        printf("%-32s  %-16s  %-12s  %-22s  %-15s  %-20s  %s\n", "SESSION", "BASTION", "USER",
               "ROLE", "FROM", "OPENED", "EXPIRES");
        for (i = 0; i < n; i++) {
            stsrole_iso8601(list[i].opened, opened);
            stsrole_iso8601(list[i].expiration, expires);
            printf("%-32s  %-16s  %-12s  %-22s  %-15s  %-20s  %s\n", list[i].session_id,
                   list[i].bastion_id, list[i].user, list[i].role_name,
                   list[i].rhost ? list[i].rhost : "-", opened, expires);
        }
    }
    if (skipped > 0)
        fprintf(stderr, "stsrolectl: %zu registry items of another format were skipped\n", skipped);
    stsrole_registry_list_free(list, n);
    stsrole_config_free(&cfg);
    return CTL_EXIT_OK;
}

/* The options of a listing: --config PATH and --json; CTL_EXIT_OK or a
 * usage error (said, with usage, on stderr). */
static int
listing_opts(int argc, char **argv, const char **config_path, int *json, const char *usage)
{
    static const struct option opts[] = {
        CONFIG_OPT, {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'c')
            *config_path = optarg;
        else if (c == 'j')
            *json = 1;
        else
            return CTL_EXIT_USAGE;
    }
    if (optind != argc) {
        fprintf(stderr, "usage: %s\n", usage);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

/* Asks the gateway cmd and checks its answer (*resp, for the caller to
 * free with cfg); with json prints member of it (all of it when NULL). */
static int
ask_listing(const char *config_path, const char *cmd, int json, const char *member, cJSON **resp,
            struct stsrole_config *cfg)
{
    char *text;
    int rc;

    if ((rc = simple(config_path, cmd, resp, cfg)) != CTL_EXIT_OK)
        return rc;
    if (!answer_ok(*resp))
        return CTL_EXIT_FAIL;
    if (json) {
        text =
            cJSON_Print(member != NULL ? cJSON_GetObjectItemCaseSensitive(*resp, member) : *resp);
        printf("%s\n", text != NULL ? text : member != NULL ? "[]" : "{}");
        free(text);
    }
    return CTL_EXIT_OK;
}

int
ctl_sessions(int argc, char **argv, const char *config_path)
{
    static const struct option opts[] = {CONFIG_OPT,
                                         {"json", no_argument, NULL, 'j'},
                                         {"fleet", no_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    struct stsrole_config cfg;
    const cJSON *arr, *s;
    cJSON *resp = NULL;
    int c, json = 0, fleet = 0, rc;

    memset(&cfg, 0, sizeof(cfg));
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'c')
            config_path = optarg;
        else if (c == 'j')
            json = 1;
        else if (c == 'f')
            fleet = 1;
        else
            return CTL_EXIT_USAGE;
    }
    if (optind != argc) {
        fprintf(stderr, "usage: stsrolectl sessions [--fleet] [--json]\n");
        return CTL_EXIT_USAGE;
    }
    if (fleet)
        return fleet_sessions(config_path, json);
    if ((rc = ask_listing(config_path, "sessions", json, "sessions", &resp, &cfg)) != CTL_EXIT_OK ||
        json)
        goto out;
    arr = cJSON_GetObjectItemCaseSensitive(resp, "sessions");
    printf("%-32s  %-12s  %-22s  %-15s  %-7s  %-20s  %-20s  %s\n", "SESSION", "USER", "ROLE",
           "FROM", "TTY", "OPENED", "EXPIRES", "STATE");
    cJSON_ArrayForEach(s, arr)
    {
        printf("%-32s  %-12s  %-22s  %-15s  %-7s  %-20s  %-20s  %s\n", str(s, "session_id"),
               str(s, "user"), str(s, "role_name"), str(s, "rhost"), str(s, "tty"),
               str(s, "opened"), str(s, "expiration"), str(s, "state"));
    }
out:
    cJSON_Delete(resp);
    stsrole_config_free(&cfg);
    return rc;
}

int
ctl_requests(int argc, char **argv, const char *config_path)
{
    struct stsrole_config cfg;
    cJSON *resp = NULL;
    int json = 0, rc;

    memset(&cfg, 0, sizeof(cfg));
    if ((rc = listing_opts(argc, argv, &config_path, &json, "stsrolectl requests [--json]")) !=
        CTL_EXIT_OK)
        return rc;
    rc = ask_listing(config_path, "requests", json, NULL, &resp, &cfg);
    if (rc == CTL_EXIT_OK && !json)
        ctl_print_requests(stdout, cJSON_GetObjectItemCaseSensitive(resp, "requests"));
    cJSON_Delete(resp);
    stsrole_config_free(&cfg);
    return rc;
}

int
ctl_revoke(int argc, char **argv, const char *config_path)
{
    static const struct option opts[] = {CONFIG_OPT,
                                         {"session", required_argument, NULL, 's'},
                                         {"user", required_argument, NULL, 'u'},
                                         {"all", no_argument, NULL, 'a'},
                                         {"role", required_argument, NULL, 'r'},
                                         {"fleet", no_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    const char *session = NULL, *user = NULL, *role = NULL;
    struct stsrole_config cfg;
    const cJSON *v;
    cJSON *req, *resp = NULL;
    int c, all = 0, fleet = 0, rc;

    memset(&cfg, 0, sizeof(cfg));
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 's':
            session = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'a':
            all = 1;
            break;
        case 'r':
            role = optarg;
            break;
        case 'f':
            fleet = 1;
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc || (!!session + !!user + !!all) != 1 || (all != (role != NULL)) ||
        (fleet && user == NULL)) {
        fprintf(stderr, "usage: stsrolectl revoke --session ID | --user USER [--fleet] | --all "
                        "--role NAME\n");
        return CTL_EXIT_USAGE;
    }
    if ((rc = load(config_path, &cfg, 0)) != CTL_EXIT_OK)
        return rc;
    req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "cmd", "revoke");
    if (session != NULL)
        cJSON_AddStringToObject(req, "session", session);
    if (user != NULL)
        cJSON_AddStringToObject(req, "user", user);
    if (all) {
        cJSON_AddBoolToObject(req, "all", 1);
        cJSON_AddStringToObject(req, "role", role);
    }
    if (fleet)
        cJSON_AddBoolToObject(req, "fleet", 1);
    rc = ctl_ask(&cfg, req, &resp, 0);
    cJSON_Delete(req);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (fleet) {
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(resp, "revoked"))
        {
            printf("revoked %-16s  %s  (%s)\n", str(v, "bastion_id"), str(v, "session_id"),
                   str(v, "via"));
        }
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(resp, "expired"))
        {
            printf("expired %-16s  %s  (nothing left to deny)\n", str(v, "bastion_id"),
                   str(v, "session_id"));
        }
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(resp, "failed"))
        {
            printf("FAILED  %-16s  %s: %s\n", str(v, "bastion_id"), str(v, "session_id"),
                   str(v, "error"));
        }
        if (!answer_ok(resp))
            rc = CTL_EXIT_UNAVAIL;
        goto out;
    }
    if (all) {
        if (!answer_ok(resp)) {
            v = cJSON_GetObjectItemCaseSensitive(resp, "status");
            rc = cJSON_IsNumber(v) ? ctl_exit_for(v->valueint) : CTL_EXIT_FAIL;
            goto out;
        }
        printf("revoked: %s\n", str(resp, "detail"));
        goto out;
    }
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(resp, "revoked"))
        printf("revoked %s\n", v->valuestring);
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(resp, "failed"))
        printf("FAILED  %s (the gateway keeps retrying)\n", v->valuestring);
    if (!answer_ok(resp))
        rc = CTL_EXIT_UNAVAIL;
out:
    cJSON_Delete(resp);
    stsrole_config_free(&cfg);
    return rc;
}

/* The gateway's own record of the log's last line, when it is the log the
 * gateway writes: catches a truncated or rewritten tail. */
static void
gateway_head(const char *file, const char *config_path, struct stsrole_audit_verifier *v,
             int explicit_file)
{
    struct stsrole_config cfg;
    cJSON *req, *resp = NULL;
    const cJSON *audit, *prev;
    char a[PATH_MAX], b[PATH_MAX];

    if (load(config_path, &cfg, explicit_file) != CTL_EXIT_OK)
        return;
    if (cfg.audit_log == NULL || realpath(file, a) == NULL || realpath(cfg.audit_log, b) == NULL ||
        strcmp(a, b) != 0) {
        stsrole_config_free(&cfg);
        return;
    }
    req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "cmd", "status");
    if (ctl_ask(&cfg, req, &resp, 1) == CTL_EXIT_OK) {
        audit = cJSON_GetObjectItemCaseSensitive(resp, "audit");
        prev = cJSON_GetObjectItemCaseSensitive(audit, "prev");
        if (cJSON_IsString(prev) && strlen(prev->valuestring) == 64 && num(audit, "seq") > 0) {
            v->head_seq = (uint64_t)num(audit, "seq");
            memcpy(v->head_prev, prev->valuestring, 65);
        }
    } else {
        fprintf(stderr, "stsrolectl: note: the gateway is not running; checking the chain "
                        "only (a cut-off tail cannot be seen)\n");
    }
    cJSON_Delete(req);
    cJSON_Delete(resp);
    stsrole_config_free(&cfg);
}

/* An exported CloudWatch Logs stream is read whole; this bounds it. */
#define EXPORT_MAX (512L * 1024 * 1024)

static char *
read_export(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    struct stsrole_buf b;
    char chunk[65536];
    size_t n;

    if (f == NULL)
        return NULL;
    stsrole_buf_init(&b, EXPORT_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (stsrole_buf_append(&b, chunk, n) != STSROLE_OK)
            break;
    if (ferror(f) || !feof(f)) {
        fclose(f);
        stsrole_buf_free(&b);
        return NULL;
    }
    fclose(f);
    *len = b.len;
    return b.data != NULL ? stsrole_buf_steal(&b) : strdup("");
}

/* "audit verify --stream EXPORT...": the chain across a shipped stream,
 * its duplicates (at-least-once delivery) and its gaps. */
static int
audit_verify_stream(int n, char **files)
{
    struct stsrole_audit_stream *st = NULL;
    struct stsrole_error err;
    char **texts = calloc((size_t)n, sizeof(*texts));
    size_t *lens = calloc((size_t)n, sizeof(*lens)), ns = 0, i;
    int k, rc = CTL_EXIT_OK;

    for (k = 0; texts != NULL && lens != NULL && k < n; k++)
        if ((texts[k] = read_export(files[k], &lens[k])) == NULL) {
            fprintf(stderr, "stsrolectl: cannot read %s\n", files[k]);
            rc = CTL_EXIT_DATAERR;
            break;
        }
    if (texts == NULL || lens == NULL) {
        fprintf(stderr, "stsrolectl: out of memory\n");
        rc = CTL_EXIT_FAIL;
    } else if (rc == CTL_EXIT_OK &&
               stsrole_audit_verify_export((const char *const *)texts, lens, (size_t)n, &st, &ns,
                                           &err) != STSROLE_OK) {
        fprintf(stderr, "stsrolectl: %s\n", err.msg);
        rc = CTL_EXIT_DATAERR;
    }
    for (i = 0; i < ns; i++) {
        printf("%s: %zu events, %zu records, seq %llu..%llu, %zu duplicates",
               st[i].name[0] != '\0' ? st[i].name : "stream", st[i].events, st[i].records,
               (unsigned long long)st[i].first_seq, (unsigned long long)st[i].last_seq,
               st[i].duplicates);
        if (st[i].gaps > 0)
            printf(", %zu gaps (%llu records missing; first seq %s)", st[i].gaps,
                   (unsigned long long)st[i].missing, st[i].first_gap);
        if (st[i].broken > 0)
            printf(", chain BROKEN: %s\n", st[i].why);
        else
            printf(st[i].gaps > 0 ? ", chain intact where present\n" : ", chain intact\n");
        if (st[i].broken > 0 || st[i].gaps > 0)
            rc = CTL_EXIT_FAIL;
    }
    if (rc == CTL_EXIT_OK && ns == 0) {
        printf("no events\n");
        rc = CTL_EXIT_FAIL;
    }
    for (k = 0; texts != NULL && k < n; k++)
        free(texts[k]);
    free(texts);
    free(lens);
    free(st);
    return rc;
}

int
ctl_audit(int argc, char **argv, const char *config_path)
{
    static const struct option opts[] = {
        CONFIG_OPT, {"stream", no_argument, NULL, 's'}, {NULL, 0, NULL, 0}};
    int stream = 0;
    struct stsrole_audit_verifier v, head;
    struct stsrole_config cfg;
    struct stsrole_error err;
    char *conf_file = NULL;
    const char *file;
    int c, i, n, rc = CTL_EXIT_OK;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 's')
            stream = 1;
        else if (c == 'c')
            config_path = optarg;
        else
            return CTL_EXIT_USAGE;
    }
    if (optind >= argc || strcmp(argv[optind], "verify") != 0 ||
        (stream && argc - optind - 1 < 1)) {
        fprintf(stderr, "usage: stsrolectl audit verify [FILE...]\n"
                        "       stsrolectl audit verify --stream EXPORT...\n");
        return CTL_EXIT_USAGE;
    }
    n = argc - optind - 1;
    if (stream)
        return audit_verify_stream(n, argv + optind + 1);
    if (n == 0) {
        if ((rc = load(config_path, &cfg, 0)) != CTL_EXIT_OK)
            return rc;
        conf_file = cfg.audit_log != NULL ? strdup(cfg.audit_log) : NULL;
        stsrole_config_free(&cfg);
        if (conf_file == NULL) {
            fprintf(stderr, "stsrolectl: audit_log is not set\n");
            return CTL_EXIT_CONFIG;
        }
    }
    /* Several files are the pieces of one rotated log, oldest first: one
     * verifier walks them all, so the links between them are checked. */
    stsrole_audit_verify_init(&v);
    for (i = 0; i < (n == 0 ? 1 : n) && rc == CTL_EXIT_OK; i++) {
        file = n == 0 ? conf_file : argv[optind + 1 + i];
        if (i == (n == 0 ? 0 : n - 1)) {
            stsrole_audit_verify_init(&head);
            gateway_head(file, config_path, &head, n != 0);
            v.head_seq = head.head_seq;
            memcpy(v.head_prev, head.head_prev, sizeof(v.head_prev));
        }
        rc = stsrole_audit_verify_file(file, &v, &err);
        if (rc == STSROLE_OK) {
            printf("%s: %zu records, chain intact (last seq %llu)\n", file, v.line,
                   (unsigned long long)v.seq);
            rc = CTL_EXIT_OK;
        } else if (rc == STSROLE_E_PROTOCOL) {
            printf("%s: line %zu: %s\n", file, v.bad_line, v.why);
            rc = CTL_EXIT_FAIL;
        } else {
            fprintf(stderr, "stsrolectl: %s\n", err.msg);
            rc = ctl_exit_for(rc);
        }
    }
    free(conf_file);
    return rc;
}

int
ctl_status(int argc, char **argv, const char *config_path)
{
    struct stsrole_config cfg;
    const cJSON *audit, *r;
    cJSON *resp = NULL;
    int json = 0, rc;

    memset(&cfg, 0, sizeof(cfg));
    if ((rc = listing_opts(argc, argv, &config_path, &json, "stsrolectl status [--json]")) !=
        CTL_EXIT_OK)
        return rc;
    if ((rc = ask_listing(config_path, "status", json, NULL, &resp, &cfg)) != CTL_EXIT_OK)
        goto out;
    if (!json) {
        audit = cJSON_GetObjectItemCaseSensitive(resp, "audit");
        printf("gateway:  %s (pid %.0f, since %s, bastion %s, policy %s)\n", str(resp, "health"),
               num(resp, "pid"), str(resp, "started"), str(resp, "bastion_id"),
               str(resp, "policy_name"));
        printf("sessions: %.0f followed, %.0f waiting for revocation, %.0f failing, %.0f revoked "
               "since start\n",
               num(resp, "sessions"), num(resp, "queue"), num(resp, "failing"),
               num(resp, "revoked_total"));
        printf("audit:    %s, seq %.0f%s%s\n", str(audit, "path"), num(audit, "seq"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(audit, "failing")) ? ", FAILING" : "",
               cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(audit, "tail_ok"))
                   ? ", last line did not verify at start"
                   : "");
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(resp, "roles"))
        {
            const cJSON *pc;

            printf("role:     %s (%s)\n", str(r, "name"), str(r, "arn"));
            printf("          %s: %.0f entries%s%s, %.0f of %.0f characters used "
                   "(other inline policies: %.0f%s), %.0f left, room for %.0f more sessions%s\n",
                   str(r, "policy"), num(r, "entries"),
                   cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "token_issue_cutoff"))
                       ? ", tokens before "
                       : "",
                   cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "token_issue_cutoff"))
                       ? str(r, "token_issue_cutoff")
                       : "",
                   num(r, "used"), num(r, "budget"), num(r, "others"),
                   cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "others_known"))
                       ? ""
                       : " or more: not listable",
                   num(r, "left"), num(r, "sessions_left"),
                   cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "fleet"))
                       ? " fleet-wide"
                       : " (this bastion's count; the revoker may not list the others)");
            cJSON_ArrayForEach(pc, cJSON_GetObjectItemCaseSensitive(r, "person_cutoffs"))
                printf("          %s: credentials issued before %s denied (compacted)\n",
                       str(pc, "person"), str(pc, "before"));
            if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "last_error")))
                printf("          last error: %s\n", str(r, "last_error"));
        }
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(resp, "instances"))
            printf("instance: %s %s %s %s %s\n", str(r, "template"), str(r, "account"),
                   str(r, "alias"), str(r, "name"), str(r, "arn"));
        r = cJSON_GetObjectItemCaseSensitive(resp, "imds");
        if (r != NULL) {
            printf("imds:     %s%s%s\n", str(r, "exposure"),
                   cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "detail")) ? ": " : "",
                   cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "detail")) ? str(r, "detail")
                                                                                 : "");
            if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "fix")))
                printf("          fix: %s (only root may reach IMDS)\n", str(r, "fix"));
        }
        r = cJSON_GetObjectItemCaseSensitive(resp, "ship");
        if (r != NULL) {
            printf("shipping: %s:%s, %s, through seq %.0f, %.0f bytes waiting, last sent %s\n",
                   str(r, "group"), str(r, "stream"), str(r, "state"), num(r, "shipped_seq"),
                   num(r, "backlog_bytes"), str(r, "last_ok"));
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "failing")))
                printf("          FAILING: %s\n", str(r, "last_error"));
        }
        if (num(resp, "clock_skew_s") != 0)
            printf("clock:    SKEWED: AWS's clock is %.0f s %s ours; requests are signed with "
                   "AWS's time (fix NTP)\n",
                   num(resp, "clock_skew_s") < 0 ? -num(resp, "clock_skew_s")
                                                 : num(resp, "clock_skew_s"),
                   num(resp, "clock_skew_s") < 0 ? "behind" : "ahead of");
        else
            printf("clock:    in step with AWS (no skew learned)\n");
        if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(resp, "last_error")))
            printf("last error: %s\n", str(resp, "last_error"));
    }
    rc = strcmp(str(resp, "health"), "ok") == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
out:
    cJSON_Delete(resp);
    stsrole_config_free(&cfg);
    return rc;
}

int
ctl_gateway_ask(const struct stsrole_config *cfg, cJSON *req, cJSON **resp)
{
    return ctl_ask(cfg, req, resp, 1);
}
