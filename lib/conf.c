/* conf.c: stsrole.conf: INI parsing with inih, strict validation naming file:line, role lookup. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "conf.h"
#include "cwlogs.h"
#include "http.h"
#include "safefile.h"

#define CONF_MAX (256 * 1024)
#define MAX_ROLES 256
#define MAX_LIST 1024

struct parse {
    struct stsrole_config *cfg;
    const char *name;
    const char *text; /* remaining input for the line reader */
    int line;
    int failed;
    struct stsrole_error *err;
    uint64_t seen; /* bitmask of [stsrole] keys seen, to refuse duplicates */
};

static int perr(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* inih calls the reader once per physical line, so counting calls gives
 * the line number of the key being handled. */
static char *
read_line(char *str, int num, void *stream)
{
    struct parse *p = stream;
    size_t n;

    if (*p->text == '\0' || p->failed)
        return NULL;
    n = strcspn(p->text, "\n");
    /* Debian's libinih reads lines of at most INI_MAX_LINE (200) bytes and
     * would take the rest for a line of its own: refuse instead. */
    if (n > (size_t)num - 2) {
        p->line++;
        perr(p, "line longer than %d characters", num - 2);
        return NULL;
    }
    if (p->text[n] == '\n')
        n++;
    memcpy(str, p->text, n);
    str[n] = '\0';
    p->text += n;
    p->line++;
    return str;
}

static int
perr(struct parse *p, const char *fmt, ...)
{
    char msg[STSROLE_ERRMSG_MAX];
    va_list ap;

    if (p->failed)
        return 0;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    stsrole_fail(p->err, STSROLE_E_CONFIG, "%s:%d: %s", p->name, p->line, msg);
    p->failed = 1;
    return 0;
}

static int
set_str(struct parse *p, char **slot, const char *key, const char *value)
{
    if (*slot != NULL)
        return perr(p, "'%s' is set twice", key);
    if (*value == '\0')
        return perr(p, "'%s' is empty", key);
    *slot = strdup(value);
    if (*slot == NULL)
        return perr(p, "out of memory");
    return 1;
}

static int
parse_int(struct parse *p, const char *key, const char *value, long lo, long hi, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < lo || v > hi)
        return perr(p, "'%s = %s': expected a whole number from %ld to %ld", key, value, lo, hi);
    *out = (int)v;
    return 1;
}

static int
set_url(struct parse *p, char **slot, const char *key, const char *value)
{
    struct stsrole_error e;

    /* http:// to IMDS only for imds_endpoint; loopback only for the rest */
    if ((strcmp(key, "imds_endpoint") == 0 ? stsrole_url_check_imds(value, &e)
                                           : stsrole_url_check(value, &e)) != STSROLE_OK)
        return perr(p, "'%s': %s", key, e.msg);
    return set_str(p, slot, key, value);
}

/* DynamoDB's table-name rule (CreateTable, TableName): 3 to 255 of
 * [a-zA-Z0-9_.-]. */
static int
table_name_ok(const char *v)
{
    size_t n = strlen(v);

    return n >= 3 && n <= 255 &&
           strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* Splits "a, b c" into a NULL-terminated list of names. */
static int
set_list(struct parse *p, char ***slot, const char *key, const char *value)
{
    char **list;
    size_t n = 0;
    const char *s = value;

    if (*slot != NULL)
        return perr(p, "'%s' is set twice", key);
    list = calloc(MAX_LIST + 1, sizeof(*list));
    if (list == NULL)
        return perr(p, "out of memory");
    *slot = list;
    while (*s != '\0') {
        size_t len;
        s += strspn(s, ", \t");
        len = strcspn(s, ", \t");
        if (len == 0)
            break;
        if (n == MAX_LIST)
            return perr(p, "'%s': more than %d names", key, MAX_LIST);
        if (len > 256)
            return perr(p, "'%s': a name longer than 256 characters", key);
        list[n] = strndup(s, len);
        if (list[n] == NULL)
            return perr(p, "out of memory");
        n++;
        s += len;
    }
    if (n == 0)
        return perr(p, "'%s' is empty", key);
    return 1;
}

static int
global_key(struct parse *p, const char *name, const char *value)
{
    struct stsrole_config *c = p->cfg;
    static const char *const keys[] = {
        "region",
        "sts_endpoint",
        "iam_endpoint",
        "credentials",
        "credentials_profile",
        "imds_endpoint",
        "ca_file",
        "proxy",
        "usersfile",
        "state_dir",
        "audit_log",
        "bastion_id",
        "failmode",
        "imds_exposure",
        "duration",
        "totp_window",
        "totp_lock_wait",
        "timeout",
        "replay_store",
        "registry_table",
        "dynamodb_endpoint",
        "logs_endpoint",
        "audit_log_group",
        "audit_log_stream",
        "audit_ship_batch",
        "credentials_mode",
        "refresh_margin",
        "runtime_dir",
        "credential_helper",
        NULL,
    };
    size_t i;

    for (i = 0; keys[i] != NULL; i++)
        if (strcmp(name, keys[i]) == 0)
            break;
    if (keys[i] == NULL)
        return perr(p, "unknown key '%s' in [stsrole]", name);
    if (p->seen & ((uint64_t)1 << i))
        return perr(p, "'%s' is set twice", name);
    p->seen |= (uint64_t)1 << i;

    if (strcmp(name, "region") == 0) {
        if (strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(value) ||
            strlen(value) > 32)
            return perr(p, "'region = %s': not an AWS region name", value);
        return set_str(p, &c->region, name, value);
    }
    if (strcmp(name, "sts_endpoint") == 0)
        return set_url(p, &c->sts_endpoint, name, value);
    if (strcmp(name, "iam_endpoint") == 0)
        return set_url(p, &c->iam_endpoint, name, value);
    if (strcmp(name, "imds_endpoint") == 0)
        return set_url(p, &c->imds_endpoint, name, value);
    if (strcmp(name, "dynamodb_endpoint") == 0)
        return set_url(p, &c->dynamodb_endpoint, name, value);
    if (strcmp(name, "logs_endpoint") == 0)
        return set_url(p, &c->logs_endpoint, name, value);
    if (strcmp(name, "audit_log_group") == 0) {
        if (!stsrole_logs_group_valid(value))
            return perr(p,
                        "'audit_log_group = %s': a log group name is 1-512 of A-Z a-z 0-9 "
                        "_ - . / #",
                        value);
        return set_str(p, &c->audit_log_group, name, value);
    }
    if (strcmp(name, "audit_log_stream") == 0) {
        if (!stsrole_logs_stream_valid(value))
            return perr(p,
                        "'audit_log_stream = %s': a log stream name is 1-512 characters "
                        "without ':' or '*'",
                        value);
        return set_str(p, &c->audit_log_stream, name, value);
    }
    /* PutLogEvents takes at most 10,000 events (CloudWatch Logs API). */
    if (strcmp(name, "audit_ship_batch") == 0)
        return parse_int(p, name, value, 1, 10000, &c->audit_ship_batch);
    if (strcmp(name, "replay_store") == 0) {
        if (strcmp(value, "local") == 0)
            return 1;
        if (strncmp(value, "dynamodb:", 9) != 0 || !table_name_ok(value + 9))
            return perr(p,
                        "'replay_store = %s': expected local or dynamodb:TABLE "
                        "(a table name is 3-255 of A-Z a-z 0-9 _ - .)",
                        value);
        return set_str(p, &c->replay_table, name, value + 9);
    }
    if (strcmp(name, "registry_table") == 0) {
        if (!table_name_ok(value))
            return perr(p, "'registry_table = %s': a table name is 3-255 of A-Z a-z 0-9 _ - .",
                        value);
        return set_str(p, &c->registry_table, name, value);
    }
    if (strcmp(name, "credentials") == 0) {
        if (strcmp(value, "imds") == 0)
            c->credentials = STSROLE_CREDS_IMDS;
        else if (strcmp(value, "env") == 0)
            c->credentials = STSROLE_CREDS_ENV;
        else if (strncmp(value, "file:", 5) == 0 && value[5] == '/') {
            c->credentials = STSROLE_CREDS_FILE;
            return set_str(p, &c->credentials_path, name, value + 5);
        } else
            return perr(p, "'credentials = %s': expected imds, env or file:/ABSOLUTE/PATH", value);
        return 1;
    }
    if (strcmp(name, "credentials_profile") == 0)
        return set_str(p, &c->credentials_profile, name, value);
    if (strcmp(name, "credentials_mode") == 0) {
        if (strcmp(value, "env") == 0)
            c->credentials_mode = STSROLE_MODE_ENV;
        else if (strcmp(value, "process") == 0)
            c->credentials_mode = STSROLE_MODE_PROCESS;
        else
            return perr(p, "'credentials_mode = %s': expected env or process", value);
        return 1;
    }
    /* At least a minute, so a refresh that needs a few retries still lands
     * before the old credential expires. */
    if (strcmp(name, "refresh_margin") == 0)
        return parse_int(p, name, value, 60, 43199, &c->refresh_margin);
    if (strcmp(name, "runtime_dir") == 0 || strcmp(name, "credential_helper") == 0) {
        if (value[0] != '/')
            return perr(p, "'%s = %s': must be an absolute path", name, value);
        /* Both end up in the session's AWS config file, whose
         * credential_process line is split on whitespace. */
        if (strpbrk(value, " \t\"'\\") != NULL)
            return perr(p, "'%s = %s': must not contain spaces or quotes", name, value);
        return set_str(p,
                       strcmp(name, "runtime_dir") == 0 ? &c->runtime_dir : &c->credential_helper,
                       name, value);
    }
    if (strcmp(name, "ca_file") == 0 || strcmp(name, "usersfile") == 0 ||
        strcmp(name, "state_dir") == 0 || strcmp(name, "audit_log") == 0) {
        char **slot = strcmp(name, "ca_file") == 0     ? &c->ca_file
                      : strcmp(name, "usersfile") == 0 ? &c->usersfile
                      : strcmp(name, "state_dir") == 0 ? &c->state_dir
                                                       : &c->audit_log;
        if (value[0] != '/')
            return perr(p, "'%s = %s': must be an absolute path", name, value);
        return set_str(p, slot, name, value);
    }
    if (strcmp(name, "proxy") == 0) {
        if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0)
            return perr(p, "'proxy = %s': expected http://HOST:PORT or https://HOST:PORT", value);
        return set_str(p, &c->proxy, name, value);
    }
    if (strcmp(name, "bastion_id") == 0) {
        if (strlen(value) > 32 || strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
                                                "rstuvwxyz0123456789-_.") != strlen(value))
            return perr(p, "'bastion_id = %s': at most 32 of A-Z a-z 0-9 - _ .", value);
        return set_str(p, &c->bastion_id, name, value);
    }
    if (strcmp(name, "imds_exposure") == 0) {
        if (strcmp(value, "refuse") == 0)
            c->imds_exposure_warn = 0;
        else if (strcmp(value, "warn") == 0)
            c->imds_exposure_warn = 1;
        else
            return perr(p, "'imds_exposure = %s': expected refuse or warn", value);
        return 1;
    }
    if (strcmp(name, "failmode") == 0) {
        if (strcmp(value, "secure") == 0)
            c->failmode = STSROLE_FAIL_SECURE;
        else if (strcmp(value, "safe") == 0)
            c->failmode = STSROLE_FAIL_SAFE;
        else
            return perr(p, "'failmode = %s': expected secure or safe", value);
        return 1;
    }
    /* AssumeRole's DurationSeconds range (STS API reference). */
    if (strcmp(name, "duration") == 0)
        return parse_int(p, name, value, 900, 43200, &c->duration);
    if (strcmp(name, "totp_window") == 0)
        return parse_int(p, name, value, 0, 10, &c->totp_window);
    /* Bounded by STSROLE_TOTP_LOCK_WAIT_MAX_MS (totp.h), well inside
     * sshd's LoginGraceTime. */
    if (strcmp(name, "totp_lock_wait") == 0)
        return parse_int(p, name, value, 1, 60, &c->totp_lock_wait);
    return parse_int(p, name, value, 1, 120, &c->timeout);
}

static int
add_tag(struct parse *p, struct stsrole_role *r, const char *key, const char *value)
{
    char **k, **v;
    size_t i;

    /* STS allows 50 session tags; stsrole itself sets four. */
    if (r->n_tags == 46)
        return perr(p, "[role %s]: more than 46 tag.KEY lines", r->name);
    for (i = 0; i < r->n_tags; i++)
        if (strcasecmp(r->tag_keys[i], key) == 0)
            return perr(p, "'tag.%s' is set twice (tag keys are case-insensitive)", key);
    k = realloc(r->tag_keys, (r->n_tags + 1) * sizeof(*k));
    if (k == NULL)
        return perr(p, "out of memory");
    r->tag_keys = k;
    v = realloc(r->tag_values, (r->n_tags + 1) * sizeof(*v));
    if (v == NULL)
        return perr(p, "out of memory");
    r->tag_values = v;
    k[r->n_tags] = strdup(key);
    v[r->n_tags] = strdup(value);
    r->n_tags++;
    if (k[r->n_tags - 1] == NULL || v[r->n_tags - 1] == NULL)
        return perr(p, "out of memory");
    return 1;
}

static int
role_key(struct parse *p, struct stsrole_role *r, const char *name, const char *value)
{
    if (strcmp(name, "arn") == 0) {
        if (strncmp(value, "arn:", 4) != 0 || strstr(value, ":role/") == NULL)
            return perr(p, "'arn = %s': not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                        value);
        return set_str(p, &r->arn, name, value);
    }
    if (strcmp(name, "revoker_arn") == 0) {
        if (strncmp(value, "arn:", 4) != 0 || strstr(value, ":role/") == NULL)
            return perr(p, "'revoker_arn = %s': not an IAM role ARN", value);
        return set_str(p, &r->revoker_arn, name, value);
    }
    if (strcmp(name, "users") == 0)
        return set_list(p, &r->users, name, value);
    if (strcmp(name, "groups") == 0)
        return set_list(p, &r->groups, name, value);
    if (strcmp(name, "duration") == 0) {
        if (r->duration != 0)
            return perr(p, "'duration' is set twice");
        return parse_int(p, name, value, 900, 43200, &r->duration);
    }
    if (strcmp(name, "external_id") == 0)
        return set_str(p, &r->external_id, name, value);
    if (strncmp(name, "tag.", 4) == 0 && name[4] != '\0')
        return add_tag(p, r, name + 4, value);
    return perr(p, "unknown key '%s' in [role %s]", name, r->name);
}

static struct stsrole_role *
role_section(struct parse *p, const char *section)
{
    struct stsrole_config *c = p->cfg;
    const char *name = section + 5;
    size_t i;

    for (i = 0; i < c->n_roles; i++)
        if (strcmp(c->roles[i].name, name) == 0)
            return &c->roles[i];
    return NULL;
}

static int
on_key(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    struct stsrole_config *c = p->cfg;
    struct stsrole_role *r;
    const char *rname;

    if (p->failed)
        return 0;
    if (strcmp(section, "stsrole") == 0)
        return global_key(p, name, value);
    if (strncmp(section, "role ", 5) != 0)
        return perr(p, "unknown section [%s] (expected [stsrole] or [role NAME])", section);
    rname = section + 5;
    if (*rname == '\0' || strlen(rname) > 64 ||
        strspn(rname, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") !=
            strlen(rname))
        return perr(p, "[%s]: a role name is 1-64 of A-Z a-z 0-9 - _ .", section);
    r = role_section(p, section);
    if (r == NULL) {
        struct stsrole_role *n;
        if (c->n_roles == MAX_ROLES)
            return perr(p, "more than %d roles", MAX_ROLES);
        n = realloc(c->roles, (c->n_roles + 1) * sizeof(*n));
        if (n == NULL)
            return perr(p, "out of memory");
        c->roles = n;
        r = &c->roles[c->n_roles];
        memset(r, 0, sizeof(*r));
        r->name = strdup(rname);
        if (r->name == NULL)
            return perr(p, "out of memory");
        c->n_roles++;
    }
    return role_key(p, r, name, value);
}

static int
set_default(char **slot, const char *value)
{
    if (*slot == NULL)
        *slot = strdup(value);
    return *slot != NULL;
}

int
stsrole_bastion_id_ambiguous(const char *id)
{
    unsigned a, b, c, d;
    int n = -1;

    if (id == NULL || id[0] == '\0' || strcasecmp(id, "localhost") == 0 ||
        strncasecmp(id, "localhost.", 10) == 0)
        return 1;
    /* EC2's default host names: ip-10-0-1-5 (and ip-10-0-1-5.ec2.internal) */
    return sscanf(id, "ip-%u-%u-%u-%u%n", &a, &b, &c, &d, &n) == 4 && n > 0 &&
           (id[n] == '\0' || id[n] == '.');
}

static int
finish(struct stsrole_config *c, const char *name, struct stsrole_error *err)
{
    char host[HOST_NAME_MAX + 1], buf[256];
    size_t i;

    if (c->region == NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: 'region' is required in [stsrole]", name);
    if (c->n_roles == 0)
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: no [role NAME] section", name);
    for (i = 0; i < c->n_roles; i++) {
        if (c->roles[i].arn == NULL)
            return stsrole_fail(err, STSROLE_E_CONFIG, "%s: [role %s] has no 'arn'", name,
                                c->roles[i].name);
        if (c->roles[i].users == NULL && c->roles[i].groups == NULL)
            return stsrole_fail(err, STSROLE_E_CONFIG,
                                "%s: [role %s] has neither 'users' nor 'groups'", name,
                                c->roles[i].name);
        /* A margin as long as the credential would refresh it as soon as
         * it is issued, again and again. */
        if (c->credentials_mode == STSROLE_MODE_PROCESS &&
            c->refresh_margin >= (c->roles[i].duration ? c->roles[i].duration : c->duration))
            return stsrole_fail(err, STSROLE_E_CONFIG,
                                "%s: refresh_margin (%d) must be shorter than the duration of "
                                "[role %s] (%d)",
                                name, c->refresh_margin, c->roles[i].name,
                                c->roles[i].duration ? c->roles[i].duration : c->duration);
    }
    /* Each bastion's deny policy is named after bastion_id, so it must be
     * unique in the fleet: with IMDS credentials it defaults to the EC2
     * instance id, which stsrole_config_load reads (a host name such as
     * ip-10-0-1-5 repeats across VPCs); otherwise to the host name. */
    if (c->bastion_id == NULL && c->credentials == STSROLE_CREDS_IMDS) {
        c->bastion_id_from_imds = 1;
    } else if (c->bastion_id == NULL) {
        size_t n;
        if (gethostname(host, sizeof(host)) != 0)
            host[0] = '\0';
        host[sizeof(host) - 1] = '\0';
        n = strcspn(host, ".");
        host[n > 32 ? 32 : n] = '\0';
        if (stsrole_bastion_id_ambiguous(host))
            return stsrole_fail(err, STSROLE_E_CONFIG,
                                "%s: bastion_id is not set and the host name '%s' is not unique "
                                "across a fleet: set bastion_id",
                                name, host);
        c->bastion_id = strdup(host);
        if (c->bastion_id == NULL)
            return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    } else if (stsrole_bastion_id_ambiguous(c->bastion_id)) {
        return stsrole_fail(err, STSROLE_E_CONFIG,
                            "%s: 'bastion_id = %s' is not unique across a fleet (empty, localhost, "
                            "or an EC2 default host name ip-A-B-C-D): use the instance id or a "
                            "name of your own",
                            name, c->bastion_id);
    }
    snprintf(buf, sizeof(buf), "https://dynamodb.%s.amazonaws.com", c->region);
    if (!set_default(&c->dynamodb_endpoint, buf))
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    snprintf(buf, sizeof(buf), "https://logs.%s.amazonaws.com", c->region);
    if (!set_default(&c->logs_endpoint, buf) ||
        (c->audit_log_group != NULL && c->bastion_id != NULL &&
         !set_default(&c->audit_log_stream, c->bastion_id)))
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    snprintf(buf, sizeof(buf), "https://sts.%s.amazonaws.com", c->region);
    if (!set_default(&c->sts_endpoint, buf) ||
        !set_default(&c->iam_endpoint, "https://iam.amazonaws.com") ||
        !set_default(&c->imds_endpoint, "http://169.254.169.254") ||
        !set_default(&c->credentials_profile, "default") ||
        !set_default(&c->usersfile, "/etc/stsrole/users.oath") ||
        !set_default(&c->state_dir, "/var/lib/stsrole") ||
        !set_default(&c->audit_log, "/var/log/stsrole/audit.log") ||
        !set_default(&c->runtime_dir, "/run/stsrole") ||
        !set_default(&c->credential_helper, "/usr/bin/stsrole-credential-process"))
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    return STSROLE_OK;
}

int
stsrole_config_parse(const char *text, const char *name, struct stsrole_config *cfg,
                     struct stsrole_error *err)
{
    struct parse p;
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    cfg->duration = 3600;
    cfg->totp_window = 1;
    cfg->totp_lock_wait = 5; /* STSROLE_TOTP_LOCK_WAIT_MS */
    cfg->timeout = 10;
    cfg->credentials = STSROLE_CREDS_IMDS;
    cfg->audit_ship_batch = 1000;
    cfg->refresh_margin = 900; /* botocore refreshes within 15 minutes of expiry */
    memset(&p, 0, sizeof(p));
    p.cfg = cfg;
    p.name = name;
    p.text = text;
    p.err = err;
    rc = ini_parse_stream(read_line, &p, on_key, &p);
    if (rc != 0 && !p.failed) {
        if (rc < 0)
            stsrole_fail(err, STSROLE_E_NOMEM, "%s: out of memory", name);
        else
            stsrole_fail(err, STSROLE_E_CONFIG,
                         "%s:%d: syntax error (expected 'key = value' "
                         "or '[section]')",
                         name, rc);
        p.failed = 1;
    }
    if (!p.failed && finish(cfg, name, err) != STSROLE_OK)
        p.failed = 1;
    if (p.failed) {
        enum stsrole_status st = err ? err->status : STSROLE_E_CONFIG;
        stsrole_config_free(cfg);
        return st;
    }
    cfg->path = strdup(name);
    if (cfg->path == NULL) {
        stsrole_config_free(cfg);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    return STSROLE_OK;
}

int
stsrole_config_load(const char *path, struct stsrole_config *cfg, struct stsrole_error *err)
{
    struct stsrole_buf text;
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    if (path == NULL)
        path = STSROLE_DEFAULT_CONF;
    /* The config names the roles people get and where credentials come
     * from: only root may be able to change it. */
    rc = stsrole_read_safely(path, 0, 0, CONF_MAX, &text, err);
    if (rc != STSROLE_OK)
        return rc;
    rc = stsrole_config_parse(text.data, path, cfg, err);
    stsrole_buf_free(&text);
    if (rc == STSROLE_OK && cfg->bastion_id_from_imds) {
        struct stsrole_http_config http;
        char id[STSROLE_INSTANCE_ID_MAX + 1];

        memset(&http, 0, sizeof(http));
        http.ca_file = cfg->ca_file;
        http.timeout_ms = (long)cfg->timeout * 1000L;
        rc = stsrole_imds_instance_id(&http, cfg->imds_endpoint, id, err);
        if (rc == STSROLE_OK && ((cfg->bastion_id = strdup(id)) == NULL ||
                                 (cfg->audit_log_group != NULL &&
                                  !set_default(&cfg->audit_log_stream, cfg->bastion_id))))
            rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
        else if (rc != STSROLE_OK) {
            char why[STSROLE_ERRMSG_MAX];
            snprintf(why, sizeof(why), "%s", err != NULL ? err->msg : "");
            rc = stsrole_fail(err, STSROLE_E_CONFIG,
                              "%s: bastion_id is not set and the EC2 instance id could not be "
                              "read from IMDS (%s): set bastion_id",
                              path, why);
        }
        if (rc != STSROLE_OK)
            stsrole_config_free(cfg);
    }
    return rc;
}

static void
free_list(char **l)
{
    size_t i;

    if (l == NULL)
        return;
    for (i = 0; l[i] != NULL; i++)
        free(l[i]);
    free(l);
}

void
stsrole_config_free(struct stsrole_config *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->n_roles; i++) {
        struct stsrole_role *r = &c->roles[i];
        free(r->name);
        free(r->arn);
        free(r->revoker_arn);
        free_list(r->users);
        free_list(r->groups);
        free(r->external_id);
        for (size_t t = 0; t < r->n_tags; t++) {
            free(r->tag_keys[t]);
            free(r->tag_values[t]);
        }
        free(r->tag_keys);
        free(r->tag_values);
    }
    free(c->roles);
    free(c->path);
    free(c->region);
    free(c->sts_endpoint);
    free(c->iam_endpoint);
    free(c->credentials_path);
    free(c->credentials_profile);
    free(c->imds_endpoint);
    free(c->ca_file);
    free(c->proxy);
    free(c->usersfile);
    free(c->state_dir);
    free(c->audit_log);
    free(c->bastion_id);
    free(c->replay_table);
    free(c->registry_table);
    free(c->dynamodb_endpoint);
    free(c->logs_endpoint);
    free(c->audit_log_group);
    free(c->audit_log_stream);
    free(c->runtime_dir);
    free(c->credential_helper);
    memset(c, 0, sizeof(*c));
}

const struct stsrole_role *
stsrole_config_role(const struct stsrole_config *cfg, const char *name)
{
    size_t i;

    for (i = 0; i < cfg->n_roles; i++)
        if (strcmp(cfg->roles[i].name, name) == 0)
            return &cfg->roles[i];
    return NULL;
}
