/* conf.c: stsrole.conf: INI parsing with inih, strict validation naming file:line, role lookup. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
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

static const struct word credentials_mode_words[] = {
    {"env", STSROLE_MODE_ENV},
    {"process", STSROLE_MODE_PROCESS},
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
    int (*fn)(struct parse *p, const char *value);
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

static int set_credentials(struct parse *p, const char *value);
static int set_replay_store(struct parse *p, const char *value);

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
};

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

_Static_assert(NKEYS(global_keys) <= 64 && NKEYS(role_keys) <= 64,
               "struct parse keeps one bit per key in a uint64_t");
_Static_assert(sizeof(enum stsrole_failmode) == sizeof(int) &&
                   sizeof(enum stsrole_credentials_mode) == sizeof(int),
               "K_WORD stores an enum through an int");

static int
set_credentials(struct parse *p, const char *value)
{
    struct stsrole_config *c = p->cfg;

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
set_replay_store(struct parse *p, const char *value)
{
    if (strcmp(value, "local") == 0)
        return 1;
    if (strncmp(value, "dynamodb:", 9) != 0 || !table_name_ok(value + 9))
        return perr(p,
                    "'replay_store = %s': expected local or dynamodb:TABLE "
                    "(a table name is 3-255 of A-Z a-z 0-9 _ - .)",
                    value);
    return set_str(p, &p->cfg->replay_table, "replay_store", value + 9);
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
        return k->fn(p, value);
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

static int
on_key(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    struct stsrole_config *c = p->cfg;
    struct stsrole_role *r;
    const char *rname;
    size_t i;

    if (p->failed)
        return 0;
    if (strcmp(section, "stsrole") == 0)
        return set_key(p, global_keys, NKEYS(global_keys), c, &p->seen, section, name, value);
    if (strncmp(section, "role ", 5) != 0)
        return perr(p, "unknown section [%s] (expected [stsrole] or [role NAME])", section);
    rname = section + 5;
    if (*rname == '\0' || strlen(rname) > 64 ||
        strspn(rname, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") !=
            strlen(rname))
        return perr(p, "[%s]: a role name is 1-64 of A-Z a-z 0-9 - _ .", section);
    for (i = 0; i < c->n_roles; i++)
        if (strcmp(c->roles[i].name, rname) == 0)
            break;
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
        c->n_roles++;
    }
    r = &c->roles[i];
    if (strncmp(name, "tag.", 4) == 0 && name[4] != '\0')
        return add_tag(p, r, name + 4, value);
    return set_key(p, role_keys, NKEYS(role_keys), r, &p->role_seen[i], section, name, value);
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

void
stsrole_config_free(struct stsrole_config *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->n_roles; i++) {
        struct stsrole_role *r = &c->roles[i];
        free(r->name);
        free_keys(role_keys, NKEYS(role_keys), r);
        for (size_t t = 0; t < r->n_tags; t++) {
            free(r->tag_keys[t]);
            free(r->tag_values[t]);
        }
        free(r->tag_keys);
        free(r->tag_values);
    }
    free(c->roles);
    free(c->path);
    free_keys(global_keys, NKEYS(global_keys), c);
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
