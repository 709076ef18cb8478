/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_reconcile.c: "stsrolectl reconcile": read the audit log and CloudTrail, print the findings.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "athena.h"
#include "audit.h"
#include "client.h"
#include "conf.h"
#include "ctl.h"
#include "ctl_recon.h"
#include "http.h"
#include "reconcile.h"
#include "s3.h"
#include "safefile.h"

#define AUDIT_MAX (1024u * 1024 * 1024)
#define DAY_MS (86400LL * 1000)
#define ATHENA_RESPONSE_MAX (16u * 1024 * 1024)

static const char usage_text[] =
    "usage: stsrolectl %s [--config PATH] [--audit FILE]... [--role ARN]...\n"
    "         (--dir DIR | --s3 s3://BUCKET[/PREFIX] | --athena)\n"
    "         [--from TIME] [--to TIME] [--grace SECONDS] [--endpoint URL]\n"
    "         [--database DB] [--table TABLE] [--workgroup WG] [--output s3://...]\n"
    "%s";

static int
usage(const char *cmd, const char *why)
{
    fprintf(stderr, "stsrolectl: %s: %s\n", cmd, why);
    fprintf(stderr, usage_text, cmd,
            strcmp(cmd, "report") == 0 ? "         --html FILE\n"
                                       : "         [--jsonl FILE] [--quiet]\n");
    return CTL_EXIT_USAGE;
}

static int
fail(const struct stsrole_error *err)
{
    fprintf(stderr, "stsrolectl: %s%s%s%s\n", err->msg, err->request_id[0] ? " (request id " : "",
            err->request_id, err->request_id[0] ? ")" : "");
    return ctl_exit_for(err->status);
}

/* "2026-12-05", "2026-12-05T10:00:00Z" or a number of hours back ("24h"). */
static int
parse_when(const char *s, int64_t *ms)
{
    char buf[40];
    int64_t e;
    char *end;
    long h;

    if (s[0] != '\0' && s[strlen(s) - 1] == 'h') {
        errno = 0;
        h = strtol(s, &end, 10);
        if (errno != 0 || *end != 'h' || end[1] != '\0' || h < 0 || h > 24 * 366)
            return -1;
        *ms = ((int64_t)time(NULL) - (int64_t)h * 3600) * 1000;
        return 0;
    }
    if (strlen(s) == 10) {
        snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
        s = buf;
    }
    if (stsrole_parse_iso8601(s, &e) != 0)
        return -1;
    *ms = e * 1000;
    return 0;
}

/* -- the audit log ------------------------------------------------------ */

static int
read_audit(struct ctl_recon *cr, struct stsrole_error *err)
{
    struct stsrole_audit_verifier v;
    struct stsrole_buf b;
    size_t i;
    int rc = STSROLE_OK;

    stsrole_audit_verify_init(&v);
    for (i = 0; i < cr->n_audit && rc == STSROLE_OK; i++) {
        struct stsrole_error verr;
        if (stsrole_audit_verify_file(cr->audit[i], &v, &verr) == STSROLE_E_PROTOCOL) {
            char msg[600];
            snprintf(msg, sizeof(msg), "%s: hash chain broken at line %zu: %s", cr->audit[i],
                     v.bad_line, v.why);
            rc = stsrole_recon_audit_problem(cr->recon, msg, err);
            stsrole_audit_verify_init(&v); /* check the next file on its own */
        }
    }
    stsrole_buf_init(&b, AUDIT_MAX);
    for (i = 0; i < cr->n_audit && rc == STSROLE_OK; i++) {
        const char *p, *nl;
        rc = stsrole_read_safely(cr->audit[i], geteuid(), 0, AUDIT_MAX, &b, err);
        for (p = b.data; rc == STSROLE_OK && p != NULL && p < b.data + b.len; p = nl + 1) {
            nl = memchr(p, '\n', (size_t)(b.data + b.len - p));
            if (nl == NULL)
                nl = b.data + b.len;
            if (nl > p)
                rc = stsrole_recon_audit_line(cr->recon, p, (size_t)(nl - p), err);
        }
    }
    stsrole_buf_free(&b);
    return rc;
}

/* -- CloudTrail files --------------------------------------------------- */

static int
feed(struct ctl_recon *cr, const char *name, const void *data, size_t len,
     struct stsrole_error *err)
{
    size_t skipped = 0;
    int rc;

    rc = stsrole_ct_gunzip(data, len, STSROLE_CT_MAX_FILE, &cr->text, err);
    if (rc == STSROLE_OK)
        rc = stsrole_ct_parse(cr->text.data, cr->text.len, stsrole_recon_event, cr->recon, &skipped,
                              err);
    if (rc == STSROLE_E_PROTOCOL) {
        /* One bad file is reported and skipped: the rest still count. */
        fprintf(stderr, "stsrolectl: %s: %s (skipped)\n", name, err->msg);
        cr->bad_files++;
        return STSROLE_OK;
    }
    cr->files++;
    cr->skipped_records += skipped;
    return rc;
}

static int
is_trail_file(const char *path)
{
    size_t n = strlen(path);

    /* Digest files (log file integrity validation) are not logs. */
    if (strstr(path, "/CloudTrail-Digest/") != NULL)
        return 0;
    return (n > 8 && strcmp(path + n - 8, ".json.gz") == 0) ||
           (n > 5 && strcmp(path + n - 5, ".json") == 0);
}

/* The day in a CloudTrail key (.../CloudTrail/REGION/YYYY/MM/DD/...), 0 if none. */
static int64_t
key_day_ms(const char *key)
{
    const char *p = strstr(key, "/CloudTrail/");
    int y, m, d;
    char iso[32];
    int64_t e;

    if (p == NULL || (p = strchr(p + 12, '/')) == NULL ||
        sscanf(p, "/%4d/%2d/%2d/", &y, &m, &d) != 3)
        return 0;
    snprintf(iso, sizeof(iso), "%04d-%02d-%02dT00:00:00Z", y, m, d);
    return stsrole_parse_iso8601(iso, &e) == 0 ? e * 1000 : 0;
}

/* A file delivered on a day can hold events from the day before (delivery
 * runs about 5 to 15 minutes behind): keep one day either side. */
static int
day_wanted(const struct ctl_recon *cr, const char *key)
{
    int64_t d = key_day_ms(key);

    if (d == 0)
        return 1;
    if (cr->opts.from_ms != 0 && d + 2 * DAY_MS <= cr->opts.from_ms)
        return 0;
    if (cr->opts.to_ms != 0 && d > cr->opts.to_ms + DAY_MS)
        return 0;
    return 1;
}

/* nftw(3) passes no context to its callback: the walk's state is file-local. */
static struct ctl_recon *walk_cr;
static char **walk_v;
static size_t walk_n, walk_cap;

static int
walk_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)st, (void)f;
    if (type != FTW_F || !is_trail_file(path) || !day_wanted(walk_cr, path))
        return 0;
    if (walk_n == walk_cap) {
        size_t nc = walk_cap ? walk_cap * 2 : 256;
        char **nv = realloc(walk_v, nc * sizeof(*nv));
        if (nv == NULL)
            return -1;
        walk_v = nv;
        walk_cap = nc;
    }
    return (walk_v[walk_n++] = strdup(path)) == NULL ? -1 : 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
read_file(const char *path, struct stsrole_buf *out, struct stsrole_error *err)
{
    char chunk[65536];
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = STSROLE_OK;

    stsrole_buf_reset(out);
    if (fd < 0)
        return stsrole_fail(err, STSROLE_E_IO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return stsrole_fail(err, STSROLE_E_IO, "%s: not a regular file", path);
    }
    while ((n = read(fd, chunk, sizeof(chunk))) != 0 && rc == STSROLE_OK) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = stsrole_fail(err, STSROLE_E_IO, "%s: %s", path, strerror(errno));
        else if (stsrole_buf_append(out, chunk, (size_t)n) != STSROLE_OK)
            rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "%s: larger than %zu bytes", path, out->max);
    }
    close(fd);
    return rc;
}

static int
from_dir(struct ctl_recon *cr, struct stsrole_error *err)
{
    struct stsrole_buf raw;
    size_t i;
    int rc = STSROLE_OK;

    walk_cr = cr;
    walk_v = NULL;
    walk_n = walk_cap = 0;
    if (nftw(cr->dir, walk_one, 32, FTW_PHYS) != 0)
        rc = stsrole_fail(err, STSROLE_E_IO, "%s: cannot read the directory tree: %s", cr->dir,
                          strerror(errno));
    if (walk_n > 1)
        qsort(walk_v, walk_n, sizeof(*walk_v), cmp_str);
    stsrole_buf_init(&raw, STSROLE_CT_MAX_FILE);
    for (i = 0; i < walk_n && rc == STSROLE_OK; i++) {
        rc = read_file(walk_v[i], &raw, err);
        if (rc == STSROLE_OK)
            rc = feed(cr, walk_v[i], raw.data, raw.len, err);
    }
    for (i = 0; i < walk_n; i++)
        free(walk_v[i]);
    free(walk_v);
    stsrole_buf_free(&raw);
    return rc;
}

/* -- S3 ----------------------------------------------------------------- */

struct s3_ctx {
    struct ctl_recon *cr;
    char **keys;
    size_t n, cap;
};

static int
s3_key(void *ctx, const char *key, uint64_t size)
{
    struct s3_ctx *s = ctx;

    (void)size;
    if (!is_trail_file(key) || !day_wanted(s->cr, key))
        return STSROLE_OK;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        char **nv = realloc(s->keys, nc * sizeof(*nv));
        if (nv == NULL)
            return STSROLE_E_NOMEM;
        s->keys = nv;
        s->cap = nc;
    }
    return (s->keys[s->n++] = strdup(key)) == NULL ? STSROLE_E_NOMEM : STSROLE_OK;
}

static int
from_s3(struct ctl_recon *cr, struct stsrole_aws_client *c, struct stsrole_error *err)
{
    struct s3_ctx s = {cr, NULL, 0, 0};
    struct stsrole_buf raw;
    char bucket[64];
    const char *p = cr->s3 + 5, *prefix;
    size_t blen, i;
    int rc;

    blen = strcspn(p, "/");
    if (blen == 0 || blen >= sizeof(bucket))
        return stsrole_fail(err, STSROLE_E_INVALID, "--s3 %s: no bucket", cr->s3);
    memcpy(bucket, p, blen);
    bucket[blen] = '\0';
    prefix = p[blen] == '/' ? p + blen + 1 : "";
    rc = stsrole_s3_list(c, bucket, prefix, NULL, s3_key, &s, err);
    if (rc == STSROLE_E_NOMEM)
        stsrole_fail(err, rc, "out of memory");
    stsrole_buf_init(&raw, STSROLE_CT_MAX_FILE);
    for (i = 0; i < s.n && rc == STSROLE_OK; i++) {
        rc = stsrole_s3_get(c, bucket, s.keys[i], STSROLE_CT_MAX_FILE, &raw, err);
        if (rc == STSROLE_OK)
            rc = feed(cr, s.keys[i], raw.data, raw.len, err);
    }
    for (i = 0; i < s.n; i++)
        free(s.keys[i]);
    free(s.keys);
    stsrole_buf_free(&raw);
    return rc;
}

/* -- Athena ------------------------------------------------------------- */

/* Names that go into SQL: role and session names ([\w+=,.@-], IAM's
 * rule), database and table names ([A-Za-z0-9_]).  Anything else is
 * refused, so no quote can reach the query. */
static int
sql_safe(const char *s, const char *extra)
{
    const char *c;

    if (s == NULL || *s == '\0')
        return 0;
    for (c = s; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || strchr(extra, *c) != NULL))
            return 0;
    return 1;
}

/* 'a', 'b', ... of a '\n'-separated list. */
static int
sql_list(struct stsrole_buf *out, const char *list, struct stsrole_error *err)
{
    const char *p = list, *nl;
    char name[129];
    int rc = STSROLE_OK;

    stsrole_buf_reset(out);
    while (*p != '\0' && rc == STSROLE_OK) {
        size_t n;
        nl = strchr(p, '\n');
        n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (n == 0 || n >= sizeof(name))
            return stsrole_fail(err, STSROLE_E_INVALID, "a name of %zu characters", n);
        memcpy(name, p, n);
        name[n] = '\0';
        if (!sql_safe(name, "+=,.@-"))
            return stsrole_fail(err, STSROLE_E_INVALID, "'%s' is not a valid IAM name", name);
        rc = stsrole_buf_printf(out, "%s'%s'", out->len ? ", " : "", name);
        p = nl != NULL ? nl + 1 : p + n;
    }
    return rc == STSROLE_OK ? STSROLE_OK : stsrole_fail(err, rc, "out of memory");
}

/* ('name', 'time'), ... of "NAME TIME" lines (stsrole_recon_revoked). */
static int
sql_values(struct stsrole_buf *out, const char *lines, struct stsrole_error *err)
{
    const char *p = lines, *nl, *sp;
    char name[129], t[21];
    int rc = STSROLE_OK;

    stsrole_buf_reset(out);
    while (*p != '\0' && rc == STSROLE_OK) {
        size_t n;
        nl = strchr(p, '\n');
        n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        sp = memchr(p, ' ', n);
        if (sp == NULL || (size_t)(sp - p) >= sizeof(name) || n - (size_t)(sp - p) - 1 != 20)
            return stsrole_fail(err, STSROLE_E_INVALID, "a malformed revoked session");
        memcpy(name, p, (size_t)(sp - p));
        name[sp - p] = '\0';
        memcpy(t, sp + 1, 20);
        t[20] = '\0';
        if (!sql_safe(name, "+=,.@-") || !sql_safe(t, "-:TZ"))
            return stsrole_fail(err, STSROLE_E_INVALID, "'%s' is not a valid IAM name", name);
        rc = stsrole_buf_printf(out, "%s('%s', '%s')", out->len ? ", " : "", name, t);
        p = nl != NULL ? nl + 1 : p + n;
    }
    return rc == STSROLE_OK ? STSROLE_OK : stsrole_fail(err, rc, "out of memory");
}

/* Fills a template from examples/aws/athena: {table}, {from}, {to},
 * {from_day}, {to_day}, {roles}, {revoked}. */
static int
fill(struct stsrole_buf *out, const char *tmpl, const char *const *kv, struct stsrole_error *err)
{
    const char *p = tmpl;
    int rc = STSROLE_OK;

    stsrole_buf_reset(out);
    while (*p != '\0' && rc == STSROLE_OK) {
        size_t i;
        if (*p == '{') {
            for (i = 0; kv[i] != NULL; i += 2)
                if (strncmp(p + 1, kv[i], strlen(kv[i])) == 0 && p[1 + strlen(kv[i])] == '}')
                    break;
            if (kv[i] != NULL) {
                rc = stsrole_buf_puts(out, kv[i + 1]);
                p += strlen(kv[i]) + 2;
                continue;
            }
        }
        rc = stsrole_buf_append(out, p, 1);
        p++;
    }
    return rc == STSROLE_OK ? STSROLE_OK : stsrole_fail(err, rc, "out of memory");
}

static const char *
cell(const char *const *c, size_t n, size_t i)
{
    return i < n ? c[i] : NULL;
}

static int
time_cell(const char *s, int64_t *ms)
{
    return s == NULL ? -1 : stsrole_ct_parse_time(s, ms);
}

/* Rows of the AssumeRole query, as events. */
static int
row_assume(void *ctx, const char *const *c, size_t n, struct stsrole_error *err)
{
    struct stsrole_ct_event ev;

    memset(&ev, 0, sizeof(ev));
    if (n < 9 || time_cell(c[0], &ev.t_ms) != 0)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "athena: a malformed AssumeRole row");
    ev.event_source = "sts.amazonaws.com";
    ev.event_name = "AssumeRole";
    ev.event_id = cell(c, n, 1);
    ev.account = cell(c, n, 2);
    ev.source_ip = cell(c, n, 3);
    ev.error_code = cell(c, n, 4);
    ev.identity_arn = cell(c, n, 5);
    ev.req_role_arn = cell(c, n, 6);
    ev.req_session_name = cell(c, n, 7);
    ev.req_source_identity = cell(c, n, 8);
    return stsrole_recon_event(ctx, &ev, err);
}

/* Rows of the session query: one per role session of a managed role. */
static int
row_session(void *ctx, const char *const *c, size_t n, struct stsrole_error *err)
{
    int64_t first, last;
    char *end;
    unsigned long long calls;

    if (n < 7 || c[4] == NULL || time_cell(c[5], &first) != 0 || time_cell(c[6], &last) != 0)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "athena: a malformed session row");
    errno = 0;
    calls = strtoull(c[4], &end, 10);
    if (errno != 0 || *end != '\0')
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "athena: a malformed call count");
    return stsrole_recon_session_summary(ctx, c[0], c[1], c[2], c[3], calls, first, last, err);
}

/* Rows of the revoked-sessions query: each call, as an event. */
static int
row_call(void *ctx, const char *const *c, size_t n, struct stsrole_error *err)
{
    struct stsrole_ct_event ev;
    const char *slash;

    memset(&ev, 0, sizeof(ev));
    if (n < 9 || time_cell(c[0], &ev.t_ms) != 0)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "athena: a malformed call row");
    ev.event_source = cell(c, n, 1);
    ev.event_name = cell(c, n, 2);
    ev.error_code = cell(c, n, 3);
    ev.identity_type = "AssumedRole";
    ev.identity_arn = cell(c, n, 4);
    ev.issuer_arn = cell(c, n, 5);
    ev.source_identity = cell(c, n, 6);
    ev.account = cell(c, n, 7);
    ev.event_id = cell(c, n, 8);
    if (ev.identity_arn != NULL && (slash = strrchr(ev.identity_arn, '/')) != NULL)
        ev.session_name = slash + 1;
    return stsrole_recon_event(ctx, &ev, err);
}

static int
from_athena(struct ctl_recon *cr, struct stsrole_aws_client *c, struct stsrole_error *err)
{
    struct stsrole_athena_query q;
    struct stsrole_buf roles, sessions, sql;
    char from[21], to[21], from_day[11], to_day[11], *revoked = NULL, *names = NULL;
    size_t i, len = 0;
    int rc;

    if (!sql_safe(cr->table, "") || (cr->database != NULL && !sql_safe(cr->database, "")))
        return stsrole_fail(err, STSROLE_E_INVALID, "--table and --database take [A-Za-z0-9_]");
    stsrole_iso8601(cr->opts.from_ms / 1000, from);
    stsrole_iso8601(cr->opts.to_ms / 1000, to);
    /* The partition column "timestamp" holds yyyy/MM/dd (partition projection). */
    snprintf(from_day, sizeof(from_day), "%.4s/%.2s/%.2s", from, from + 5, from + 8);
    snprintf(to_day, sizeof(to_day), "%.4s/%.2s/%.2s", to, to + 5, to + 8);
    stsrole_buf_init(&roles, 0);
    stsrole_buf_init(&sessions, 0);
    stsrole_buf_init(&sql, 0);
    for (i = 0; i < cr->n_role_names; i++)
        len += strlen(cr->role_names[i]) + 1;
    names = calloc(len + 1, 1);
    for (i = 0; names != NULL && i < cr->n_role_names; i++)
        strcat(strcat(names, i ? "\n" : ""), cr->role_names[i]);
    rc = names == NULL ? stsrole_fail(err, STSROLE_E_NOMEM, "out of memory") : STSROLE_OK;
    if (rc == STSROLE_OK && cr->n_role_names == 0)
        rc = stsrole_fail(err, STSROLE_E_CONFIG, "no managed role to query for");
    if (rc == STSROLE_OK)
        rc = sql_list(&roles, names, err);
    revoked = rc == STSROLE_OK ? stsrole_recon_revoked(cr->recon) : NULL;
    if (rc == STSROLE_OK && revoked == NULL)
        rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    if (rc == STSROLE_OK)
        rc = sql_values(&sessions, revoked, err);
    memset(&q, 0, sizeof(q));
    q.database = cr->database;
    q.workgroup = cr->workgroup;
    q.output_location = cr->output;
    q.poll_ms = 1000;
    for (i = 0; i < 3 && rc == STSROLE_OK; i++) {
        static const char *const tmpl[] = {CTL_SQL_ASSUME, CTL_SQL_SESSIONS, CTL_SQL_REVOKED};
        int (*const rows[])(void *, const char *const *, size_t,
                            struct stsrole_error *) = {row_assume, row_session, row_call};
        const char *kv[] = {"table", cr->table,  "from",    from,          "to",
                            to,      "from_day", from_day,  "to_day",      to_day,
                            "roles", roles.data, "revoked", sessions.data, NULL};

        if (i == 2 && sessions.len == 0)
            break; /* no session was revoked: nothing to fetch */
        /* The session query counts the calls; the revoked query only
         * places them after the deny. */
        stsrole_recon_count_calls(cr->recon, i != 2);
        rc = fill(&sql, tmpl[i], kv, err);
        q.sql = sql.data;
        if (rc == STSROLE_OK)
            rc = stsrole_athena_run(c, &q, rows[i], cr->recon, err);
        cr->files++;
    }
    free(names);
    free(revoked);
    stsrole_buf_free(&roles);
    stsrole_buf_free(&sessions);
    stsrole_buf_free(&sql);
    return rc;
}

/* -- options and set-up ----------------------------------------------------- */

static int
add_str(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(*nv));

    if (nv == NULL)
        return -1;
    *v = nv;
    (*v)[(*n)++] = (char *)s;
    return 0;
}

void
ctl_recon_free(struct ctl_recon *cr)
{
    size_t i;

    stsrole_recon_free(cr->recon);
    for (i = 0; i < cr->n_role_names; i++)
        free(cr->role_names[i]);
    free(cr->role_names);
    free(cr->audit);
    free(cr->role_args);
    stsrole_buf_free(&cr->text);
    if (cr->have_cfg)
        stsrole_config_free(&cr->cfg);
    cJSON_Delete(cr->result);
    memset(cr, 0, sizeof(*cr));
}

static int
collect_roles(struct ctl_recon *cr, struct stsrole_error *err)
{
    size_t i;
    int rc = STSROLE_OK;

    for (i = 0; cr->have_cfg && i < cr->cfg.n_roles && rc == STSROLE_OK; i++)
        rc = stsrole_recon_add_role(cr->recon, cr->cfg.roles[i].arn, err);
    for (i = 0; i < cr->n_role_args && rc == STSROLE_OK; i++)
        rc = stsrole_recon_add_role(cr->recon, cr->role_args[i], err);
    return rc;
}

static int
client_for(struct ctl_recon *cr, const char *service, struct stsrole_http_config *http,
           struct stsrole_creds_provider *base, struct stsrole_aws_client *c,
           struct stsrole_error *err)
{
    if (!cr->have_cfg)
        return stsrole_fail(err, STSROLE_E_CONFIG,
                            "--s3 and --athena need a configuration (credentials, region)");
    stsrole_client_http(&cr->cfg, http);
    if (strcmp(service, "athena") == 0)
        http->max_response = ATHENA_RESPONSE_MAX;
    if (stsrole_client_provider(&cr->cfg, http, base, err) != STSROLE_OK)
        return err->status;
    stsrole_client_aws(&cr->cfg, http, base, service, cr->endpoint, c);
    /* One S3 attempt may take a minute (lib/s3.c, S3_TIMEOUT_MS): the
     * deadline leaves room to retry a transfer that stalled that long. */
    c->deadline_ms = strcmp(service, "s3") == 0 ? 180000 : 60000;
    if (cr->endpoint == NULL && strcmp(service, "athena") == 0) {
        static char ep[128]; /* the client borrows it; one client per run */
        snprintf(ep, sizeof(ep), "https://athena.%s.%s", cr->cfg.region,
                 cr->cfg.partition->dns_suffix);
        c->endpoint = ep;
    }
    return STSROLE_OK;
}

int
ctl_recon_run(int argc, char **argv, const char *config_path, int report, struct ctl_recon *cr)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},    {"audit", required_argument, NULL, 'a'},
        {"role", required_argument, NULL, 'r'},      {"dir", required_argument, NULL, 'd'},
        {"s3", required_argument, NULL, 's'},        {"athena", no_argument, NULL, 'A'},
        {"from", required_argument, NULL, 'f'},      {"to", required_argument, NULL, 't'},
        {"grace", required_argument, NULL, 'g'},     {"endpoint", required_argument, NULL, 'e'},
        {"database", required_argument, NULL, 'D'},  {"table", required_argument, NULL, 'T'},
        {"workgroup", required_argument, NULL, 'W'}, {"output", required_argument, NULL, 'O'},
        {"jsonl", required_argument, NULL, 'j'},     {"quiet", no_argument, NULL, 'q'},
        {"html", required_argument, NULL, 'H'},      {NULL, 0, NULL, 0},
    };
    const char *cmd = report ? "report" : "reconcile";
    struct stsrole_error err;
    struct stsrole_http_config http;
    struct stsrole_creds_provider base;
    struct stsrole_aws_client client;
    int c, modes, rc, have_base = 0;
    char *end;
    long g;

    memset(cr, 0, sizeof(*cr));
    cr->opts.grace_s = 60;
    cr->opts.keep_calls = report;
    cr->table = "cloudtrail_logs";
    stsrole_error_clear(&err);
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'a':
            if (add_str(&cr->audit, &cr->n_audit, optarg) != 0)
                return CTL_EXIT_FAIL;
            break;
        case 'r':
            if (add_str(&cr->role_args, &cr->n_role_args, optarg) != 0)
                return CTL_EXIT_FAIL;
            break;
        case 'd':
            cr->dir = optarg;
            break;
        case 's':
            cr->s3 = optarg;
            break;
        case 'A':
            cr->athena = 1;
            break;
        case 'f':
        case 't':
            if (parse_when(optarg, c == 'f' ? &cr->opts.from_ms : &cr->opts.to_ms) != 0)
                return usage(cmd, "--from/--to take YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or NNh");
            break;
        case 'g':
            errno = 0;
            g = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || g < 0 || g > 86400)
                return usage(cmd, "--grace takes 0..86400 seconds");
            cr->opts.grace_s = (int)g;
            break;
        case 'e':
            cr->endpoint = optarg;
            break;
        case 'D':
            cr->database = optarg;
            break;
        case 'T':
            cr->table = optarg;
            break;
        case 'W':
            cr->workgroup = optarg;
            break;
        case 'O':
            cr->output = optarg;
            break;
        case 'j':
            if (report)
                return usage(cmd, "--jsonl belongs to reconcile");
            cr->jsonl = optarg;
            break;
        case 'q':
            cr->quiet = 1;
            break;
        case 'H':
            if (!report)
                return usage(cmd, "--html belongs to report");
            cr->html = optarg;
            break;
        default:
            return usage(cmd, "unknown option");
        }
    }
    modes = (cr->dir != NULL) + (cr->s3 != NULL) + cr->athena;
    if (optind < argc)
        return usage(cmd, "unexpected argument");
    if (modes != 1)
        return usage(cmd, "give exactly one of --dir, --s3 and --athena");
    if (report && cr->html == NULL)
        return usage(cmd, "--html FILE is required");
    if (cr->s3 != NULL && strncmp(cr->s3, "s3://", 5) != 0)
        return usage(cmd, "--s3 takes s3://BUCKET[/PREFIX]");
    if (cr->opts.from_ms != 0 && cr->opts.to_ms != 0 && cr->opts.to_ms < cr->opts.from_ms)
        return usage(cmd, "--to is before --from");
    if (cr->dir == NULL) {
        /* S3 and Athena read a bounded window: the last day unless told. */
        if (cr->opts.to_ms == 0)
            cr->opts.to_ms = (int64_t)time(NULL) * 1000;
        if (cr->opts.from_ms == 0)
            cr->opts.from_ms = cr->opts.to_ms - DAY_MS;
    }
    if (config_path != NULL || access(STSROLE_DEFAULT_CONF, F_OK) == 0) {
        if (stsrole_config_load(config_path ? config_path : STSROLE_DEFAULT_CONF, &cr->cfg, &err) !=
            STSROLE_OK) {
            fprintf(stderr, "stsrolectl: config: %s\n", err.msg);
            return CTL_EXIT_CONFIG;
        }
        cr->have_cfg = 1;
    }
    if (cr->n_audit == 0 && cr->have_cfg && cr->cfg.audit_log != NULL &&
        add_str(&cr->audit, &cr->n_audit, cr->cfg.audit_log) != 0)
        return CTL_EXIT_FAIL;
    if (cr->n_audit == 0)
        return usage(cmd, "no audit log (--audit FILE, or audit_log in the configuration)");
    stsrole_buf_init(&cr->text, STSROLE_CT_MAX_FILE);
    rc = stsrole_recon_new(&cr->recon, &cr->opts, &err);
    if (rc == STSROLE_OK)
        rc = collect_roles(cr, &err);
    if (rc == STSROLE_OK)
        rc = read_audit(cr, &err);
    if (rc == STSROLE_OK && cr->athena) {
        /* The names of the managed roles, for the queries. */
        size_t i;
        for (i = 0; cr->have_cfg && i < cr->cfg.n_roles; i++) {
            const char *n = strrchr(cr->cfg.roles[i].arn, '/');
            char *d = n != NULL ? strdup(n + 1) : NULL;
            if (d == NULL || add_str(&cr->role_names, &cr->n_role_names, d) != 0) {
                free(d);
                rc = stsrole_fail(&err, STSROLE_E_NOMEM, "out of memory");
            }
        }
        for (i = 0; rc == STSROLE_OK && i < cr->n_role_args; i++) {
            const char *n = strrchr(cr->role_args[i], '/');
            char *d = n != NULL ? strdup(n + 1) : NULL;
            if (d == NULL || add_str(&cr->role_names, &cr->n_role_names, d) != 0) {
                free(d);
                rc = stsrole_fail(&err, STSROLE_E_NOMEM, "out of memory");
            }
        }
    }
    if (rc == STSROLE_OK && cr->dir != NULL) {
        rc = from_dir(cr, &err);
    } else if (rc == STSROLE_OK) {
        rc = stsrole_http_global_init(&err);
        if (rc == STSROLE_OK)
            rc = client_for(cr, cr->s3 ? "s3" : "athena", &http, &base, &client, &err);
        have_base = rc == STSROLE_OK;
        if (rc == STSROLE_OK)
            rc = cr->s3 ? from_s3(cr, &client, &err) : from_athena(cr, &client, &err);
    }
    if (have_base)
        stsrole_creds_provider_free(&base);
    if (rc == STSROLE_OK)
        rc = stsrole_recon_finish(cr->recon, &cr->result, &cr->critical, &err);
    if (rc != STSROLE_OK)
        return fail(&err);
    return CTL_EXIT_OK;
}

/* -- output ------------------------------------------------------------------ */

static int
print_lines(FILE *f, const cJSON *arr)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, arr)
    {
        char *t = cJSON_PrintUnformatted(it);
        if (t == NULL)
            return -1;
        fprintf(f, "%s\n", t);
        cJSON_free(t);
    }
    return 0;
}

static double
num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *
str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : "-";
}

static void
summary(FILE *f, const struct ctl_recon *cr)
{
    const cJSON *doc = cr->result, *counts = cJSON_GetObjectItem(doc, "counts");
    const cJSON *w = cJSON_GetObjectItem(doc, "window"), *it;

    fprintf(f,
            "reconcile: %.0f CloudTrail records from %zu %s (%zu unreadable), %.0f calls by "
            "managed roles\n",
            num(counts, "records"), cr->files, cr->athena ? "queries" : "files", cr->bad_files,
            num(counts, "managed_role_calls"));
    fprintf(f, "window: %s .. %s; audit log: %.0f lines, %.0f credentials\n", str(w, "from"),
            str(w, "to"), num(counts, "audit_lines"), num(counts, "audit_sessions"));
    fprintf(f, "findings: %.0f critical, %.0f warning, %.0f info\n", num(counts, "critical"),
            num(counts, "warning"), num(counts, "info"));
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(doc, "findings"))
    {
        fprintf(f, "  %-8s %-17s %s %s %s (%s)%s%s\n", str(it, "severity"), str(it, "finding"),
                str(it, "time"), str(it, "session_name"), str(it, "role_arn"),
                str(it, "source_identity"), cJSON_GetObjectItem(it, "detail") ? ": " : "",
                cJSON_GetObjectItem(it, "detail") ? str(it, "detail") : "");
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(doc, "delays"))
    {
        fprintf(f,
                "  deny to first refusal, %s in %s: %.0f sessions, min %.1f s, median %.1f s, "
                "p90 %.1f s, max %.1f s\n",
                str(it, "role"), str(it, "account"), num(it, "sessions"), num(it, "min_s"),
                num(it, "p50_s"), num(it, "p90_s"), num(it, "max_s"));
    }
}

int
ctl_reconcile(int argc, char **argv, const char *config_path)
{
    struct ctl_recon cr;
    FILE *f = NULL;
    int rc;

    rc = ctl_recon_run(argc, argv, config_path, 0, &cr);
    if (rc != CTL_EXIT_OK) {
        ctl_recon_free(&cr);
        return rc;
    }
    if (cr.jsonl != NULL) {
        /* Findings name people and sessions: a new file is for its owner only. */
        int fd = strcmp(cr.jsonl, "-") == 0
                     ? -1
                     : open(cr.jsonl, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        f = strcmp(cr.jsonl, "-") == 0 ? stdout : fd >= 0 ? fdopen(fd, "w") : NULL;
        if (f == NULL && fd >= 0)
            close(fd);
        if (f == NULL || print_lines(f, cJSON_GetObjectItem(cr.result, "findings")) != 0 ||
            print_lines(f, cJSON_GetObjectItem(cr.result, "delays")) != 0 ||
            (f != stdout ? fclose(f) : fflush(f)) != 0) {
            fprintf(stderr, "stsrolectl: %s: %s\n", cr.jsonl, strerror(errno));
            ctl_recon_free(&cr);
            return CTL_EXIT_FAIL;
        }
    }
    if (!cr.quiet)
        summary(f == stdout ? stderr : stdout, &cr);
    rc = cr.critical > 0 ? CTL_EXIT_CRITICAL : CTL_EXIT_OK;
    ctl_recon_free(&cr);
    return rc;
}
