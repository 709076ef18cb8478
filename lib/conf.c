/* SPDX-License-Identifier: BSD-3-Clause */
/* conf.c: stsrole.conf: INI parsing with inih, strict validation naming file:line, role lookup. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <ini.h>

#include "conf.h"
#include "cwlogs.h"
#include "http.h"
#include "safefile.h"
#include "sts.h"
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
    /* Bitmasks of the keys seen, by their row in global_keys and
     * role_keys, to refuse duplicates; a [role NAME] may come back. */
    uint64_t seen;
    uint64_t role_seen[MAX_ROLES];
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

/* Splits "a, b c" into a NULL-terminated list of names.  The names are
 * counted and checked first, so the list takes only the room it needs: a
 * config has a list or two per role, and every login parses it. */
static int
set_list(struct parse *p, char ***slot, const char *key, const char *value)
{
    char **list;
    size_t n = 0, i, len;
    const char *s = value;

    if (*slot != NULL)
        return perr(p, "'%s' is set twice", key);
    for (;;) {
        s += strspn(s, ", \t");
        len = strcspn(s, ", \t");
        if (len == 0)
            break;
        if (n == MAX_LIST)
            return perr(p, "'%s': more than %d names", key, MAX_LIST);
        if (len > 256)
            return perr(p, "'%s': a name longer than 256 characters", key);
        n++;
        s += len;
    }
    if (n == 0)
        return perr(p, "'%s' is empty", key);
    list = calloc(n + 1, sizeof(*list));
    if (list == NULL)
        return perr(p, "out of memory");
    *slot = list;
    for (s = value, i = 0; i < n; i++) {
        s += strspn(s, ", \t");
        len = strcspn(s, ", \t");
        list[i] = strndup(s, len);
        if (list[i] == NULL)
            return perr(p, "out of memory");
        s += len;
    }
    return 1;
}

/* What is wrong with a value, or NULL when it is fine. */
typedef const char *check_fn(const char *value);

static const char *
region_check(const char *v)
{
    if (strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(v) || strlen(v) > 32)
        return "not an AWS region name";
    return NULL;
}

static const char *
abs_path_check(const char *v)
{
    return v[0] == '/' ? NULL : "must be an absolute path";
}

/* runtime_dir and credential_helper both end up in the session's AWS
 * config file, whose credential_process line is split on whitespace. */
static const char *
command_path_check(const char *v)
{
    if (v[0] != '/')
        return "must be an absolute path";
    if (strpbrk(v, " \t\"'\\") != NULL)
        return "must not contain spaces or quotes";
    return NULL;
}

static const char *
proxy_check(const char *v)
{
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        return "expected http://HOST:PORT or https://HOST:PORT";
    return NULL;
}

static const char *
bastion_id_check(const char *v)
{
    if (strlen(v) > 32 ||
        strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(v))
        return "at most 32 of A-Z a-z 0-9 - _ .";
    return NULL;
}

static const char *
log_group_check(const char *v)
{
    return stsrole_logs_group_valid(v) ? NULL
                                       : "a log group name is 1-512 of A-Z a-z 0-9 _ - . / #";
}

static const char *
log_stream_check(const char *v)
{
    return stsrole_logs_stream_valid(v)
               ? NULL
               : "a log stream name is 1-512 characters without ':' or '*'";
}

static const char *
table_check(const char *v)
{
    return table_name_ok(v) ? NULL : "a table name is 3-255 of A-Z a-z 0-9 _ - .";
}

static const char *
role_arn_check(const char *v)
{
    if (strncmp(v, "arn:", 4) != 0 || strstr(v, ":role/") == NULL)
        return "not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)";
    return NULL;
}

static const char *
revoker_arn_check(const char *v)
{
    return role_arn_check(v) == NULL ? NULL : "not an IAM role ARN";
}

/* Compiled once here so that a bad pattern stops the load with file:line,
 * not the first request; the gateway compiles it again to match. */
static const char *
reason_pattern_check(const char *v)
{
    regex_t re;

    if (regcomp(&re, v, REG_EXTENDED | REG_NOSUB) != 0)
        return "not a POSIX extended regular expression (regcomp refused it)";
    regfree(&re);
    return NULL;
}

/* One word of an enumerated key, and the enum value it stands for. */
struct word {
    const char *word;
    int value;
};

static const struct word failmode_words[] = {
    {"secure", STSROLE_FAIL_SECURE},
    {"safe", STSROLE_FAIL_SAFE},
    {NULL, 0},
};

/* imds_exposure: imds_exposure_warn is 0 (refuse) or 1 (warn). */
static const struct word imds_exposure_words[] = {
    {"refuse", 0},
    {"warn", 1},
    {NULL, 0},
};

static const struct word step_up_words[] = {
    {"totp", 1},
    {NULL, 0},
};

static const struct word credentials_mode_words[] = {
    {"env", STSROLE_MODE_ENV},
    {"process", STSROLE_MODE_PROCESS},
    {NULL, 0},
};

static const struct word reason_words[] = {
    {"optional", 0},
    {"required", 1},
    {NULL, 0},
};

/* The facilities a notify = syslog:FACILITY may name (syslog(3)). */
static const struct word facility_words[] = {
    {"auth", LOG_AUTH},
    {"authpriv", LOG_AUTHPRIV},
    {"daemon", LOG_DAEMON},
    {"user", LOG_USER},
    {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1},
    {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4},
    {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6},
    {"local7", LOG_LOCAL7},
    {NULL, 0},
};

enum kind {
    K_STR,  /* a string; check, when set, says what is wrong with it */
    K_URL,  /* an endpoint, checked by stsrole_url_check (imds_endpoint: _imds) */
    K_LIST, /* "a, b c": a NULL-terminated list of names */
    K_INT,  /* a whole number from lo to hi */
    K_WORD, /* one of words, stored as its enum value */
    K_FN,   /* set by fn; off names the char * it may fill */
};

struct parse;

/* One key of a section: where its value goes and how it is checked. */
struct key {
    const char *name;
    enum kind kind;
    size_t off; /* of the field, in struct stsrole_config or struct stsrole_role */
    check_fn *check;
    long lo, hi;
    const struct word *words;
    const char *expected; /* K_WORD: "expected A or B" */
    int (*fn)(struct parse *p, void *base, const char *value);
};

#define CFG(f) offsetof(struct stsrole_config, f)
#define ROLE(f) offsetof(struct stsrole_role, f)
/* clang-format off */
#define STR(n, o, c)         {.name = (n), .kind = K_STR, .off = (o), .check = (c)}
#define URL(n, o)            {.name = (n), .kind = K_URL, .off = (o)}
#define LIST(n, o)           {.name = (n), .kind = K_LIST, .off = (o)}
#define INT(n, o, l, h)      {.name = (n), .kind = K_INT, .off = (o), .lo = (l), .hi = (h)}
#define WORD(n, o, w, e)     {.name = (n), .kind = K_WORD, .off = (o), .words = (w), .expected = (e)}
#define FN(n, o, f)          {.name = (n), .kind = K_FN, .off = (o), .fn = (f)}
/* clang-format on */

static int set_credentials(struct parse *p, void *base, const char *value);
static int set_replay_store(struct parse *p, void *base, const char *value);
static int set_notify(struct parse *p, void *base, const char *value);

/* The keys of [stsrole]: adding a key means adding its row here. */
static const struct key global_keys[] = {
    STR("region", CFG(region), region_check),
    URL("sts_endpoint", CFG(sts_endpoint)),
    URL("iam_endpoint", CFG(iam_endpoint)),
    FN("credentials", CFG(credentials_path), set_credentials),
    STR("credentials_profile", CFG(credentials_profile), NULL),
    URL("imds_endpoint", CFG(imds_endpoint)),
    STR("ca_file", CFG(ca_file), abs_path_check),
    STR("proxy", CFG(proxy), proxy_check),
    STR("usersfile", CFG(usersfile), abs_path_check),
    STR("state_dir", CFG(state_dir), abs_path_check),
    STR("audit_log", CFG(audit_log), abs_path_check),
    STR("bastion_id", CFG(bastion_id), bastion_id_check),
    WORD("failmode", CFG(failmode), failmode_words, "expected secure or safe"),
    WORD("imds_exposure", CFG(imds_exposure_warn), imds_exposure_words, "expected refuse or warn"),
    /* AssumeRole's DurationSeconds range (STS API reference). */
    INT("duration", CFG(duration), 900, 43200),
    INT("totp_window", CFG(totp_window), 0, 10),
    /* Bounded by STSROLE_TOTP_LOCK_WAIT_MAX_MS (totp.h), well inside
     * sshd's LoginGraceTime. */
    INT("totp_lock_wait", CFG(totp_lock_wait), 1, 60),
    INT("timeout", CFG(timeout), 1, 120),
    FN("replay_store", CFG(replay_table), set_replay_store),
    STR("registry_table", CFG(registry_table), table_check),
    URL("dynamodb_endpoint", CFG(dynamodb_endpoint)),
    URL("logs_endpoint", CFG(logs_endpoint)),
    STR("audit_log_group", CFG(audit_log_group), log_group_check),
    STR("audit_log_stream", CFG(audit_log_stream), log_stream_check),
    /* PutLogEvents takes at most 10,000 events (CloudWatch Logs API). */
    INT("audit_ship_batch", CFG(audit_ship_batch), 1, 10000),
    WORD("credentials_mode", CFG(credentials_mode), credentials_mode_words,
         "expected env or process"),
    /* At least a minute, so a refresh that needs a few retries still lands
     * before the old credential expires. */
    INT("refresh_margin", CFG(refresh_margin), 60, 43199),
    STR("runtime_dir", CFG(runtime_dir), command_path_check),
    STR("credential_helper", CFG(credential_helper), command_path_check),
};

/* The keys of [role NAME]; tag.KEY lines are handled apart. */
static const struct key role_keys[] = {
    STR("arn", ROLE(arn), role_arn_check),
    STR("revoker_arn", ROLE(revoker_arn), revoker_arn_check),
    LIST("users", ROLE(users)),
    LIST("groups", ROLE(groups)),
    INT("duration", ROLE(duration), 900, 43200),
    STR("external_id", ROLE(external_id), NULL),
    WORD("reason", ROLE(reason_required), reason_words, "expected required or optional"),
    STR("reason_pattern", ROLE(reason_pattern), reason_pattern_check),
    INT("approvals", ROLE(approvals), 0, STSROLE_APPROVALS_MAX),
    LIST("approvers", ROLE(approvers)),
    INT("approval_timeout", ROLE(approval_timeout), 5, 86400),
    INT("max_duration", ROLE(max_duration), 900, 43200),
    FN("notify", ROLE(notify), set_notify),
    /* [roles NAME] templates only (template_key) */
    STR("accounts", ROLE(accounts), NULL),
    WORD("step_up", ROLE(step_up), step_up_words, "expected totp"),
};

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

_Static_assert(NKEYS(global_keys) <= 64 && NKEYS(role_keys) <= 64,
               "struct parse keeps one bit per key in a uint64_t");
_Static_assert(sizeof(enum stsrole_failmode) == sizeof(int) &&
                   sizeof(enum stsrole_credentials_mode) == sizeof(int),
               "K_WORD stores an enum through an int");

static int
set_credentials(struct parse *p, void *base, const char *value)
{
    struct stsrole_config *c = base;

    if (strcmp(value, "imds") == 0)
        c->credentials = STSROLE_CREDS_IMDS;
    else if (strcmp(value, "env") == 0)
        c->credentials = STSROLE_CREDS_ENV;
    else if (strncmp(value, "file:", 5) == 0 && value[5] == '/') {
        c->credentials = STSROLE_CREDS_FILE;
        return set_str(p, &c->credentials_path, "credentials", value + 5);
    } else
        return perr(p, "'credentials = %s': expected imds, env or file:/ABSOLUTE/PATH", value);
    return 1;
}

static int
set_replay_store(struct parse *p, void *base, const char *value)
{
    (void)base;
    if (strcmp(value, "local") == 0)
        return 1;
    if (strncmp(value, "dynamodb:", 9) != 0 || !table_name_ok(value + 9))
        return perr(p,
                    "'replay_store = %s': expected local or dynamodb:TABLE "
                    "(a table name is 3-255 of A-Z a-z 0-9 _ - .)",
                    value);
    return set_str(p, &p->cfg->replay_table, "replay_store", value + 9);
}

/* notify = syslog:FACILITY, or an absolute path and fixed arguments,
 * split on blanks and run without a shell: nothing a requester types
 * (the reason, the role) ever becomes an argument or a command. */
static int
set_notify(struct parse *p, void *base, const char *value)
{
    struct stsrole_role *r = base;
    const struct word *w;

    r->notify_facility = -1;
    if (strncmp(value, "syslog:", 7) == 0) {
        for (w = facility_words; w->word != NULL; w++)
            if (strcmp(value + 7, w->word) == 0)
                break;
        if (w->word == NULL)
            return perr(p,
                        "'notify = %s': expected auth, authpriv, daemon, user or local0 to "
                        "local7 after syslog:",
                        value);
        r->notify_facility = w->value;
    } else {
        if (value[0] != '/')
            return perr(p, "'notify = %s': expected syslog:FACILITY or /ABSOLUTE/PATH [ARG...]",
                        value);
        if (strpbrk(value, "\"'\\$`,") != NULL)
            return perr(p,
                        "'notify = %s': no quotes, backslashes, commas, $ or ` (no shell runs it)",
                        value);
        if (!set_list(p, &r->notify_argv, "notify", value))
            return 0;
    }
    return set_str(p, &r->notify, "notify", value);
}

/* Sets one key of a section from its table; base is the struct that the
 * offsets point into, seen that section's bitmask of keys already set. */
static int
set_key(struct parse *p, const struct key *keys, size_t n, void *base, uint64_t *seen,
        const char *section, const char *name, const char *value)
{
    const struct key *k;
    const struct word *w;
    const char *why;
    void *field;
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(name, keys[i].name) == 0)
            break;
    if (i == n)
        return perr(p, "unknown key '%s' in [%s]", name, section);
    if (*seen & ((uint64_t)1 << i))
        return perr(p, "'%s' is set twice", name);
    *seen |= (uint64_t)1 << i;
    k = &keys[i];
    field = (char *)base + k->off;
    switch (k->kind) {
    case K_STR:
        if (k->check != NULL && (why = k->check(value)) != NULL)
            return perr(p, "'%s = %s': %s", name, value, why);
        return set_str(p, field, name, value);
    case K_URL:
        return set_url(p, field, name, value);
    case K_LIST:
        return set_list(p, field, name, value);
    case K_INT:
        return parse_int(p, name, value, k->lo, k->hi, field);
    case K_WORD:
        for (w = k->words; w->word != NULL; w++)
            if (strcmp(value, w->word) == 0) {
                /* The enum fields are int-sized, and their values small. */
                *(int *)field = w->value;
                return 1;
            }
        return perr(p, "'%s = %s': %s", name, value, k->expected);
    case K_FN:
        return k->fn(p, base, value);
    }
    return perr(p, "unknown key '%s' in [%s]", name, section);
}

/* Frees the strings and lists that a table's keys point to in base. */
static void
free_keys(const struct key *keys, size_t n, void *base)
{
    size_t i;

    for (i = 0; i < n; i++) {
        void *field = (char *)base + keys[i].off;
        if (keys[i].kind == K_LIST)
            stsrole_strv_free(*(char ***)field);
        else if (keys[i].kind == K_STR || keys[i].kind == K_URL || keys[i].kind == K_FN)
            free(*(char **)field);
    }
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

/* What a [roles NAME] template adds to a role's keys: the template-only
 * rows (accounts, step_up) refused elsewhere, ${...} only in a template's
 * ARNs, and accounts = ID... checked id by id.  -1 lets the row set it. */
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
    if (strcmp(name, "accounts") != 0)
        return -1;
    if (strncmp(value, "file:", 5) == 0) {
        if (value[5] != '/')
            return perr(p, "'accounts = %s': expected file:/ABSOLUTE/PATH", value);
    } else if (stsrole_accounts_parse_list(value, &a, &e) != STSROLE_OK) {
        return perr(p, "'accounts': %s", e.msg);
    } else {
        stsrole_accounts_free(&a);
    }
    return -1;
}

static int
on_key(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    struct stsrole_config *c = p->cfg;
    struct stsrole_role *r;
    const char *rname;
    size_t i;
    int is_template, rc;

    if (p->failed)
        return 0;
    if (strcmp(section, "stsrole") == 0)
        return set_key(p, global_keys, NKEYS(global_keys), c, &p->seen, section, name, value);
    is_template = strncmp(section, "roles ", 6) == 0;
    if (strncmp(section, "role ", 5) != 0 && !is_template)
        return perr(p, "unknown section [%s] (expected [stsrole], [role NAME] or [roles NAME])",
                    section);
    rname = section + 5 + is_template;
    if (*rname == '\0' || strlen(rname) > 64 ||
        strspn(rname, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") !=
            strlen(rname))
        return perr(p, "[%s]: a role name is 1-64 of A-Z a-z 0-9 - _ .", section);
    for (i = 0; i < c->n_roles; i++)
        if (strcmp(c->roles[i].name, rname) == 0)
            break;
    if (i < c->n_roles && c->roles[i].is_template != is_template)
        return perr(p, "[%s]: '%s' is also the name of a [%s %s]", section, rname,
                    is_template ? "role" : "roles", rname);
    if (i == c->n_roles) {
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
    r = &c->roles[i];
    if (strncmp(name, "tag.", 4) == 0 && name[4] != '\0')
        return add_tag(p, r, name + 4, value);
    if ((rc = template_key(p, r, name, value)) >= 0)
        return rc;
    return set_key(p, role_keys, NKEYS(role_keys), r, &p->role_seen[i], section, name, value);
}

static int
set_default(char **slot, const char *value)
{
    if (*slot == NULL)
        *slot = strdup(value);
    return *slot != NULL;
}

/*
 * Role chaining: AssumeRole called with a role session's credential gets at
 * most 3600 seconds, and a longer DurationSeconds is a ValidationError
 * (IAM User Guide, "Role chaining").  An IMDS credential is always a role
 * session; for env and file: credentials it depends on a session token,
 * known only at run time (stsrole_mint_chained).
 */
static int
chained_duration(const struct stsrole_config *c, const char *name, const char *role, int duration,
                 struct stsrole_error *err)
{
    if (c->credentials != STSROLE_CREDS_IMDS || duration <= STSROLE_CHAINED_MAX)
        return STSROLE_OK;
    return stsrole_fail(err, STSROLE_E_CONFIG,
                        "%s: %s%s%sduration = %d: credentials = imds is a role session, and AWS "
                        "caps AssumeRole from a role session at %d seconds (role chaining)",
                        name, role != NULL ? "[role " : "", role != NULL ? role : "",
                        role != NULL ? "] " : "", duration, STSROLE_CHAINED_MAX);
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

/* The break-glass keys only make sense together: approvers without
 * approvals (or the reverse) is a config that does not say what it means. */
static int
finish_breakglass(struct stsrole_role *r, const char *name, struct stsrole_error *err)
{
    size_t i, users = 0;

    if (r->reason_pattern != NULL)
        r->reason_required = 1;
    if (r->approvals > 0 && r->approvers == NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG,
                            "%s: [role %s] has 'approvals' but no 'approvers'", name, r->name);
    if (r->approvals == 0 && r->approvers != NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG,
                            "%s: [role %s] has 'approvers' but no 'approvals'", name, r->name);
    if (r->approval_timeout != 0 && r->approvals == 0)
        return stsrole_fail(err, STSROLE_E_CONFIG,
                            "%s: [role %s] has 'approval_timeout' but no 'approvals'", name,
                            r->name);
    for (i = 0; r->approvers != NULL && r->approvers[i] != NULL; i++) {
        if (strcmp(r->approvers[i], "@") == 0)
            return stsrole_fail(err, STSROLE_E_CONFIG,
                                "%s: [role %s]: 'approvers' names '@' without a group", name,
                                r->name);
        if (r->approvers[i][0] != '@')
            users++;
    }
    /* Only named users can be counted here; groups are resolved per request. */
    if (r->approvers != NULL && users == i && users < (size_t)r->approvals)
        return stsrole_fail(err, STSROLE_E_CONFIG,
                            "%s: [role %s] needs %d approvals but names only %zu approvers", name,
                            r->name, r->approvals, users);
    /* stsrole:reason and stsrole:approvers join the four tags stsrole
     * always sets: 50 in all (STS's limit) leaves 44 tag.KEY lines. */
    if (stsrole_role_needs_request(r) && r->n_tags > 44)
        return stsrole_fail(err, STSROLE_E_CONFIG,
                            "%s: [role %s] takes requests: at most 44 tag.KEY lines", name,
                            r->name);
    if (r->approvals > 0 && r->approval_timeout == 0)
        r->approval_timeout = STSROLE_APPROVAL_TIMEOUT_DEFAULT;
    return STSROLE_OK;
}

static void
role_free(struct stsrole_role *r)
{
    size_t t;

    free(r->name);
    free_keys(role_keys, NKEYS(role_keys), r);
    for (t = 0; t < r->n_tags; t++) {
        free(r->tag_keys[t]);
        free(r->tag_values[t]);
    }
    free(r->tag_keys);
    free(r->tag_values);
    free(r->template_name);
    free(r->account);
    free(r->alias);
    stsrole_strv_free(r->notify_argv);
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
    r->reason_required = t->reason_required;
    r->approvals = t->approvals;
    r->approvers = dup_list(t->approvers, &ok);
    r->approval_timeout = t->approval_timeout;
    r->max_duration = t->max_duration;
    r->notify_facility = t->notify_facility;
    r->notify_argv = dup_list(t->notify_argv, &ok);
    if (t->reason_pattern != NULL && (r->reason_pattern = strdup(t->reason_pattern)) == NULL)
        ok = 0;
    if (t->notify != NULL && (r->notify = strdup(t->notify)) == NULL)
        ok = 0;
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
    struct stsrole_error perr;
    char host[HOST_NAME_MAX + 1], buf[256];
    size_t i;
    int rc;

    if (c->region == NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: 'region' is required in [stsrole]", name);
    /* Its own error: err may be NULL, and err->msg cannot format itself. */
    if (stsrole_partition_of(c->region, &c->partition, &perr) != STSROLE_OK)
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: %s", name, perr.msg);
    if (c->n_roles == 0)
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: no [role NAME] or [roles NAME] section",
                            name);
    if ((rc = chained_duration(c, name, NULL, c->duration, err)) != STSROLE_OK)
        return rc;
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
        /* Checked on the template itself, before its instances copy it. */
        if (finish_breakglass(&c->roles[i], name, err) != STSROLE_OK)
            return err ? err->status : STSROLE_E_CONFIG;
    }
    rc = expand_templates(c, name, err);
    if (rc != STSROLE_OK)
        return rc;
    for (i = 0; i < c->n_roles; i++) {
        /* STS refuses a role of another partition, and the revoker's IAM
         * calls could not reach it: refuse it here, naming it. */
        if (!stsrole_arn_in_partition(c->roles[i].arn, c->partition) ||
            (c->roles[i].revoker_arn != NULL &&
             !stsrole_arn_in_partition(c->roles[i].revoker_arn, c->partition))) {
            int bad_arn = !stsrole_arn_in_partition(c->roles[i].arn, c->partition);
            const char *arn = bad_arn ? c->roles[i].arn : c->roles[i].revoker_arn;

            return stsrole_fail(err, STSROLE_E_CONFIG,
                                "%s: [role %s] %s is in partition %.*s, not in %s (the partition "
                                "of region %s)",
                                name, c->roles[i].name, bad_arn ? "arn" : "revoker_arn",
                                (int)strcspn(arn + 4, ":"), arn + 4, c->partition->name, c->region);
        }
        if ((rc = chained_duration(c, name, c->roles[i].name, c->roles[i].duration, err)) !=
            STSROLE_OK)
            return rc;
        /* A margin as long as the credential would refresh it as soon as
         * it is issued, again and again.  A break-glass credential is
         * never refreshed (a new request is needed). */
        if (c->credentials_mode == STSROLE_MODE_PROCESS &&
            !stsrole_role_needs_request(&c->roles[i]) &&
            c->refresh_margin >= stsrole_role_duration(c, &c->roles[i]))
            return stsrole_fail(err, STSROLE_E_CONFIG,
                                "%s: refresh_margin (%d) must be shorter than the duration of "
                                "[role %s] (%d)",
                                name, c->refresh_margin, c->roles[i].name,
                                stsrole_role_duration(c, &c->roles[i]));
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
    snprintf(buf, sizeof(buf), "https://dynamodb.%s.%s", c->region, c->partition->dns_suffix);
    if (!set_default(&c->dynamodb_endpoint, buf))
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    snprintf(buf, sizeof(buf), "https://logs.%s.%s", c->region, c->partition->dns_suffix);
    if (!set_default(&c->logs_endpoint, buf) ||
        (c->audit_log_group != NULL && c->bastion_id != NULL &&
         !set_default(&c->audit_log_stream, c->bastion_id)))
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    snprintf(buf, sizeof(buf), "https://sts.%s.%s", c->region, c->partition->dns_suffix);
    if (!set_default(&c->sts_endpoint, buf) ||
        !set_default(&c->iam_endpoint, c->partition->iam_endpoint) ||
        !set_default(&c->imds_endpoint, "http://169.254.169.254") ||
        !set_default(&c->credentials_profile, "default") ||
        !set_default(&c->usersfile, "/etc/stsrole/users.oath") ||
        !set_default(&c->state_dir, "/var/lib/stsrole") ||
        !set_default(&c->audit_log, "/var/log/stsrole/audit.log") ||
        !set_default(&c->runtime_dir, "/run/stsrole") ||
        !set_default(&c->credential_helper, STSROLE_BINDIR "/stsrole-credential-process"))
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
    free_keys(global_keys, NKEYS(global_keys), c);
    memset(c, 0, sizeof(*c));
}

int
stsrole_role_duration(const struct stsrole_config *cfg, const struct stsrole_role *role)
{
    int d = role->duration ? role->duration : cfg->duration;

    return role->max_duration != 0 && role->max_duration < d ? role->max_duration : d;
}

int
stsrole_role_needs_request(const struct stsrole_role *role)
{
    return role->approvals > 0 || role->reason_required;
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
    /* A role that needs a reason or approvals is taken only through a
     * request (stsrole.conf(5), break-glass keys): neither the login menu
     * nor a profile minted on demand may hand it out directly. */
    if (stsrole_role_needs_request(role))
        return 0;
    return stsrole_role_lists(role, user, gids, ngids, lookup, ctx);
}

int
stsrole_role_lists(const struct stsrole_role *role, const char *user, const gid_t *gids, int ngids,
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
