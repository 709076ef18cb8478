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
#include "template.h"

#define CONF_MAX (256 * 1024)
#define MAX_ROLES 256
/* Roles after the templates are expanded: 100 accounts of three roles
 * are 300. */
#define MAX_INSTANCES 16384
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

    if (stsrole_url_check(value, &e) != STSROLE_OK)
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
        "duration",
        "totp_window",
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

/* The keys only a [roles NAME] template has, and the ${...} in its ARNs. */
static int
template_key(struct parse *p, struct stsrole_role *r, const char *name, const char *value)
{
    struct stsrole_accounts a;
    struct stsrole_error e;

    if (strcmp(name, "arn") == 0 || strcmp(name, "revoker_arn") == 0) {
        if (!r->is_template && strstr(value, "${") != NULL)
            return perr(p, "'%s = %s': placeholders are for [roles NAME] templates", name, value);
        if (r->is_template && stsrole_template_check(value, &e) != STSROLE_OK)
            return perr(p, "'%s = %s': %s", name, value, e.msg);
        return -1;
    }
    if (strcmp(name, "accounts") != 0 && strcmp(name, "step_up") != 0)
        return -1;
    if (!r->is_template)
        return perr(p, "'%s' is a key of [roles NAME] templates, not of [role %s]", name, r->name);
    if (strcmp(name, "step_up") == 0) {
        if (r->step_up)
            return perr(p, "'step_up' is set twice");
        if (strcmp(value, "totp") != 0)
            return perr(p, "'step_up = %s': expected totp", value);
        r->step_up = 1;
        return 1;
    }
    if (strncmp(value, "file:", 5) == 0) {
        if (value[5] != '/')
            return perr(p, "'accounts = %s': expected file:/ABSOLUTE/PATH", value);
    } else if (stsrole_accounts_parse_list(value, &a, &e) != STSROLE_OK) {
        return perr(p, "'accounts': %s", e.msg);
    } else {
        stsrole_accounts_free(&a);
    }
    return set_str(p, &r->accounts, name, value);
}

static int
role_key(struct parse *p, struct stsrole_role *r, const char *name, const char *value)
{
    int rc = template_key(p, r, name, value);

    if (rc >= 0)
        return rc;
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
    return perr(p, "unknown key '%s' in [role%s %s]", name, r->is_template ? "s" : "", r->name);
}

static struct stsrole_role *
role_section(struct parse *p, const char *name)
{
    struct stsrole_config *c = p->cfg;
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
    int is_template;

    if (p->failed)
        return 0;
    if (strcmp(section, "stsrole") == 0)
        return global_key(p, name, value);
    is_template = strncmp(section, "roles ", 6) == 0;
    if (strncmp(section, "role ", 5) != 0 && !is_template)
        return perr(p, "unknown section [%s] (expected [stsrole], [role NAME] or [roles NAME])",
                    section);
    rname = section + 5 + is_template;
    if (*rname == '\0' || strlen(rname) > 64 ||
        strspn(rname, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") !=
            strlen(rname))
        return perr(p, "[%s]: a role name is 1-64 of A-Z a-z 0-9 - _ .", section);
    r = role_section(p, rname);
    if (r != NULL && r->is_template != is_template)
        return perr(p, "[%s]: '%s' is also the name of a [%s %s]", section, rname,
                    is_template ? "role" : "roles", rname);
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
        r->is_template = is_template;
        r->line = p->line;
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

static void
role_free(struct stsrole_role *r)
{
    size_t t;

    free(r->name);
    free(r->arn);
    free(r->revoker_arn);
    free_list(r->users);
    free_list(r->groups);
    free(r->external_id);
    for (t = 0; t < r->n_tags; t++) {
        free(r->tag_keys[t]);
        free(r->tag_values[t]);
    }
    free(r->tag_keys);
    free(r->tag_values);
    free(r->template_name);
    free(r->account);
    free(r->alias);
    free(r->accounts);
    memset(r, 0, sizeof(*r));
}

static char **
dup_list(char **l, int *ok)
{
    char **d;
    size_t n = 0, i;

    if (l == NULL)
        return NULL;
    while (l[n] != NULL)
        n++;
    if ((d = calloc(n + 1, sizeof(*d))) == NULL) {
        *ok = 0;
        return NULL;
    }
    for (i = 0; i < n; i++)
        if ((d[i] = strdup(l[i])) == NULL)
            *ok = 0;
    return d;
}

/* One role of template t for account a. */
static int
instantiate(const struct stsrole_config *c, const struct stsrole_role *t,
            const struct stsrole_account *a, struct stsrole_role *r, struct stsrole_error *err)
{
    const char *partition = stsrole_template_partition(c->region);
    size_t i;
    int ok = 1, rc;

    memset(r, 0, sizeof(*r));
    rc = stsrole_template_expand(t->arn, partition, a, &r->arn, err);
    if (rc == STSROLE_OK && t->revoker_arn != NULL)
        rc = stsrole_template_expand(t->revoker_arn, partition, a, &r->revoker_arn, err);
    if (rc != STSROLE_OK)
        return rc;
    if (asprintf(&r->name, "%s-%s", a->alias, t->name) < 0)
        r->name = NULL, ok = 0;
    r->template_name = strdup(t->name);
    r->account = strdup(a->id);
    r->alias = strdup(a->alias);
    r->users = dup_list(t->users, &ok);
    r->groups = dup_list(t->groups, &ok);
    r->duration = t->duration;
    r->step_up = t->step_up;
    r->line = t->line;
    if (t->external_id != NULL && (r->external_id = strdup(t->external_id)) == NULL)
        ok = 0;
    if (t->n_tags > 0) {
        r->tag_keys = calloc(t->n_tags, sizeof(char *));
        r->tag_values = calloc(t->n_tags, sizeof(char *));
        if (r->tag_keys == NULL || r->tag_values == NULL)
            ok = 0;
        for (i = 0; ok && i < t->n_tags; i++, r->n_tags++) {
            r->tag_keys[i] = strdup(t->tag_keys[i]);
            r->tag_values[i] = strdup(t->tag_values[i]);
            ok = r->tag_keys[i] != NULL && r->tag_values[i] != NULL;
        }
    }
    if (!ok || r->name == NULL || r->template_name == NULL || r->account == NULL ||
        r->alias == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    return STSROLE_OK;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp((*(const struct stsrole_role *const *)a)->name,
                  (*(const struct stsrole_role *const *)b)->name);
}

/* Every [roles NAME] becomes one role per account, named ALIAS-NAME,
 * after the plain roles; no two roles may end up with one name. */
static int
expand_templates(struct stsrole_config *c, const char *name, struct stsrole_error *err)
{
    struct stsrole_accounts *acc;
    struct stsrole_role *out = NULL, **sorted = NULL;
    struct stsrole_error e;
    size_t i, j, total = 0, n = 0;
    int rc = STSROLE_OK;

    if ((acc = calloc(c->n_roles, sizeof(*acc))) == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    for (i = 0; i < c->n_roles && rc == STSROLE_OK; i++) {
        const struct stsrole_role *t = &c->roles[i];

        if (!t->is_template) {
            total++;
            continue;
        }
        if (strncmp(t->accounts, "file:", 5) == 0)
            rc = stsrole_accounts_load(t->accounts + 5, &acc[i], &e);
        else
            rc = stsrole_accounts_parse_list(t->accounts, &acc[i], &e);
        if (rc != STSROLE_OK)
            stsrole_fail(err, rc, "%s:%d: [roles %s]: accounts: %s", name, t->line, t->name, e.msg);
        total += acc[i].n;
    }
    if (rc == STSROLE_OK && total > MAX_INSTANCES)
        rc = stsrole_fail(err, STSROLE_E_CONFIG,
                          "%s: more than %d roles once the templates are "
                          "expanded",
                          name, MAX_INSTANCES);
    if (rc == STSROLE_OK && ((out = calloc(total, sizeof(*out))) == NULL ||
                             (sorted = calloc(total, sizeof(*sorted))) == NULL))
        rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    for (i = 0; i < c->n_roles && rc == STSROLE_OK; i++)
        if (!c->roles[i].is_template) {
            out[n++] = c->roles[i];
            memset(&c->roles[i], 0, sizeof(c->roles[i]));
        }
    for (i = 0; i < c->n_roles && rc == STSROLE_OK; i++) {
        for (j = 0; j < acc[i].n && rc == STSROLE_OK; j++) {
            rc = instantiate(c, &c->roles[i], &acc[i].v[j], &out[n], &e);
            n++;
            if (rc != STSROLE_OK)
                stsrole_fail(err, rc, "%s:%d: [roles %s]: account %s: %s", name, c->roles[i].line,
                             c->roles[i].name, acc[i].v[j].id, e.msg);
        }
    }
    for (i = 0; i < c->n_roles; i++)
        stsrole_accounts_free(&acc[i]);
    free(acc);
    if (rc == STSROLE_OK) {
        for (i = 0; i < n; i++)
            sorted[i] = &out[i];
        qsort(sorted, n, sizeof(*sorted), by_name);
        for (i = 1; i < n && rc == STSROLE_OK; i++)
            if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
                rc = stsrole_fail(err, STSROLE_E_CONFIG,
                                  "%s:%d: role '%s' comes twice (a [role NAME], or ALIAS-NAME of a "
                                  "[roles NAME])",
                                  name,
                                  sorted[i]->line > sorted[i - 1]->line ? sorted[i]->line
                                                                        : sorted[i - 1]->line,
                                  sorted[i]->name);
    }
    free(sorted);
    if (rc != STSROLE_OK) {
        for (i = 0; i < n; i++)
            role_free(&out[i]);
        free(out);
        return rc;
    }
    for (i = 0; i < c->n_roles; i++)
        role_free(&c->roles[i]);
    free(c->roles);
    c->roles = out;
    c->n_roles = n;
    return STSROLE_OK;
}

static int
finish(struct stsrole_config *c, const char *name, struct stsrole_error *err)
{
    char host[HOST_NAME_MAX + 1], buf[256];
    size_t i;
    int rc;

    if (c->region == NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: 'region' is required in [stsrole]", name);
    if (c->n_roles == 0)
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: no [role NAME] or [roles NAME] section",
                            name);
    for (i = 0; i < c->n_roles; i++) {
        const char *kind = c->roles[i].is_template ? "roles" : "role";

        if (c->roles[i].arn == NULL)
            return stsrole_fail(err, STSROLE_E_CONFIG, "%s:%d: [%s %s] has no 'arn'", name,
                                c->roles[i].line, kind, c->roles[i].name);
        if (c->roles[i].users == NULL && c->roles[i].groups == NULL)
            return stsrole_fail(err, STSROLE_E_CONFIG,
                                "%s:%d: [%s %s] has neither 'users' nor 'groups'", name,
                                c->roles[i].line, kind, c->roles[i].name);
        if (c->roles[i].is_template && c->roles[i].accounts == NULL)
            return stsrole_fail(err, STSROLE_E_CONFIG, "%s:%d: [roles %s] has no 'accounts'", name,
                                c->roles[i].line, c->roles[i].name);
    }
    rc = expand_templates(c, name, err);
    if (rc != STSROLE_OK)
        return rc;
    for (i = 0; i < c->n_roles; i++) {
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
    if (c->bastion_id == NULL) {
        size_t n;
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "bastion");
        host[sizeof(host) - 1] = '\0';
        n = strcspn(host, ".");
        host[n > 32 ? 32 : n] = '\0';
        c->bastion_id = strdup(host);
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
        !set_default(&c->credential_helper, "/usr/bin/stsrole-credential-process") ||
        c->bastion_id == NULL)
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
    return rc;
}

void
stsrole_config_free(struct stsrole_config *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->n_roles; i++)
        role_free(&c->roles[i]);
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

int
stsrole_role_allows(const struct stsrole_role *role, const char *user, const gid_t *gids, int ngids,
                    stsrole_group_lookup *lookup, void *ctx)
{
    size_t i;
    gid_t g;
    int j;

    for (i = 0; role->users != NULL && role->users[i] != NULL; i++)
        if (strcmp(role->users[i], user) == 0)
            return 1;
    for (i = 0; role->groups != NULL && role->groups[i] != NULL; i++) {
        if (!lookup(ctx, role->groups[i], &g))
            continue;
        for (j = 0; j < ngids; j++)
            if (gids[j] == g)
                return 1;
    }
    return 0;
}
