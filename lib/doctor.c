/* SPDX-License-Identifier: BSD-3-Clause */
/* doctor.c: what `stsrolectl doctor` judges, purely: sshd -T, the PAM stack, STS answers. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "doctor.h"

/* -- sshd -T ------------------------------------------------------------------------------ */

int
stsrole_sshd_value(const char *text, size_t len, const char *key, char *out, size_t n)
{
    const char *line = text, *end = text + len, *nl, *v;
    size_t k = strlen(key), vl;

    for (; line < end; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(end - line));
        if (nl == NULL)
            nl = end;
        if ((size_t)(nl - line) <= k || strncmp(line, key, k) != 0 || line[k] != ' ')
            continue;
        v = line + k + 1;
        vl = (size_t)(nl - v);
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
            vl--;
        if (vl >= n)
            return 0;
        memcpy(out, v, vl);
        out[vl] = '\0';
        return 1;
    }
    return 0;
}

/* One comma-separated list: publickey, then keyboard-interactive later. */
static int
list_mfa(const char *list, size_t len)
{
    const char *p = list, *end = list + len, *comma;
    int key = 0;

    for (; p < end; p = comma + 1) {
        size_t m;

        comma = memchr(p, ',', (size_t)(end - p));
        if (comma == NULL)
            comma = end;
        m = (size_t)(comma - p);
        if (m == 9 && strncmp(p, "publickey", 9) == 0)
            key = 1;
        else if (key && m >= 20 && strncmp(p, "keyboard-interactive", 20) == 0 &&
                 (m == 20 || p[20] == ':'))
            return 1;
    }
    return 0;
}

int
stsrole_authmethods_mfa(const char *value)
{
    const char *p = value;
    int lists = 0;

    while (*p != '\0') {
        size_t m;

        p += strspn(p, " ");
        m = strcspn(p, " ");
        if (m == 0)
            break;
        /* "any" (sshd's default) lets a single method through. */
        if (!list_mfa(p, m))
            return 0;
        lists++;
        p += m;
    }
    return lists > 0;
}

/* -- the PAM stack ------------------------------------------------------------------------ */

#define PAM_MAX_DEPTH 8
#define PAM_MAX_ENTRIES 512

static int
type_of(const char *s, enum stsrole_pam_type *t)
{
    static const char *const names[] = {"auth", "account", "session", "password"};
    size_t i;

    if (*s == '-') /* "-auth": skip silently when the module is missing */
        s++;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *t = (enum stsrole_pam_type)i;
            return 0;
        }
    }
    return -1;
}

static int
copy_field(char *dst, size_t n, const char *src, size_t len)
{
    if (len >= n)
        return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

static int parse_into(const char *text, const char *name, int depth, int only_type,
                      enum stsrole_pam_type type, stsrole_pam_loader load, void *ctx,
                      struct stsrole_pam_stack *out, struct stsrole_error *err);

static int
include(const char *file, const char *from, int depth, int only_type, enum stsrole_pam_type type,
        stsrole_pam_loader load, void *ctx, struct stsrole_pam_stack *out,
        struct stsrole_error *err)
{
    char *text = NULL;
    int rc;

    if (depth >= PAM_MAX_DEPTH)
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: includes nested deeper than %d files", from,
                            PAM_MAX_DEPTH);
    if (strchr(file, '/') != NULL && file[0] != '/')
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: include of a relative path '%s'", from,
                            file);
    if ((rc = load(ctx, file, &text, err)) != STSROLE_OK)
        return rc;
    rc = parse_into(text, file, depth + 1, only_type, type, load, ctx, out, err);
    free(text);
    return rc;
}

static int
add_entry(struct stsrole_pam_stack *out, const struct stsrole_pam_entry *e,
          struct stsrole_error *err)
{
    struct stsrole_pam_entry *nv;

    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 16;
        if (cap > PAM_MAX_ENTRIES)
            return stsrole_fail(err, STSROLE_E_CONFIG, "PAM stack longer than %d lines",
                                PAM_MAX_ENTRIES);
        if ((nv = realloc(out->v, cap * sizeof(*nv))) == NULL)
            return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
        out->v = nv;
        out->cap = cap;
    }
    out->v[out->n++] = *e;
    return STSROLE_OK;
}

/* One logical line (continuations joined): fields split on blanks, a
 * leading "[...]" control kept whole. */
static int
parse_line(char *line, const char *name, int lineno, int depth, int only_type,
           enum stsrole_pam_type type, stsrole_pam_loader load, void *ctx,
           struct stsrole_pam_stack *out, struct stsrole_error *err)
{
    struct stsrole_pam_entry e;
    char *p = line, *f[3], *args;
    size_t fl[3];
    int i;

    memset(&e, 0, sizeof(e));
    snprintf(e.origin, sizeof(e.origin), "%.140s:%d", name, lineno);
    p += strspn(p, " \t");
    if (*p == '\0' || *p == '#')
        return STSROLE_OK;
    if (strncmp(p, "@include", 8) == 0 && (p[8] == ' ' || p[8] == '\t')) {
        p += 8 + strspn(p + 8, " \t");
        p[strcspn(p, " \t")] = '\0';
        return include(p, e.origin, depth, only_type, type, load, ctx, out, err);
    }
    for (i = 0; i < 3; i++) {
        p += strspn(p, " \t");
        f[i] = p;
        if (i == 1 && *p == '[') {
            char *close = strchr(p, ']');
            if (close == NULL)
                return stsrole_fail(err, STSROLE_E_CONFIG, "%s: unclosed '[' in the control",
                                    e.origin);
            p = close + 1;
        } else {
            p += strcspn(p, " \t");
        }
        fl[i] = (size_t)(p - f[i]);
        if (fl[i] == 0)
            return stsrole_fail(err, STSROLE_E_CONFIG,
                                "%s: a PAM line needs type, control and "
                                "module",
                                e.origin);
    }
    args = p + strspn(p, " \t");
    f[0][fl[0]] = '\0';
    if (type_of(f[0], &e.type) != 0)
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: unknown PAM type '%.40s'", e.origin, f[0]);
    if (only_type && e.type != type)
        return STSROLE_OK;
    if (copy_field(e.control, sizeof(e.control), f[1], fl[1]) != 0)
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: control too long", e.origin);
    f[2][fl[2]] = '\0';
    if (strcmp(e.control, "include") == 0 || strcmp(e.control, "substack") == 0)
        return include(f[2], e.origin, depth, 1, e.type, load, ctx, out, err);
    {
        const char *base = strrchr(f[2], '/');
        base = base ? base + 1 : f[2];
        if (*base == '\0')
            return stsrole_fail(err, STSROLE_E_CONFIG, "%s: module path '%.60s' names no file",
                                e.origin, f[2]);
        if (copy_field(e.module, sizeof(e.module), base, strlen(base)) != 0 ||
            copy_field(e.args, sizeof(e.args), args, strlen(args)) != 0)
            return stsrole_fail(err, STSROLE_E_CONFIG, "%s: module or arguments too long",
                                e.origin);
    }
    return add_entry(out, &e, err);
}

static int
parse_into(const char *text, const char *name, int depth, int only_type, enum stsrole_pam_type type,
           stsrole_pam_loader load, void *ctx, struct stsrole_pam_stack *out,
           struct stsrole_error *err)
{
    struct stsrole_buf logical;
    const char *p = text, *nl;
    int lineno = 0, first = 0, rc = STSROLE_OK;

    stsrole_buf_init(&logical, 64 * 1024);
    for (; *p != '\0' && rc == STSROLE_OK; p = *nl ? nl + 1 : nl) {
        size_t l;

        nl = p + strcspn(p, "\n");
        lineno++;
        l = (size_t)(nl - p);
        if (l > 0 && p[l - 1] == '\r')
            l--;
        if (logical.len == 0)
            first = lineno;
        /* pam.d(5): a backslash at the end continues the line */
        if (l > 0 && p[l - 1] == '\\') {
            rc = stsrole_buf_append(&logical, p, l - 1);
            if (rc == STSROLE_OK)
                rc = stsrole_buf_append(&logical, " ", 1);
            continue;
        }
        rc = stsrole_buf_append(&logical, p, l);
        if (rc == STSROLE_OK)
            rc = parse_line(logical.data, name, first, depth, only_type, type, load, ctx, out, err);
        stsrole_buf_reset(&logical);
    }
    if (rc == STSROLE_OK && logical.len > 0)
        rc = parse_line(logical.data, name, first, depth, only_type, type, load, ctx, out, err);
    if (rc == STSROLE_E_PROTOCOL || rc == STSROLE_E_NOMEM)
        stsrole_fail(err, rc, "%s: line too long or out of memory", name);
    stsrole_buf_free(&logical);
    return rc;
}

int
stsrole_pam_stack_parse(const char *text, const char *name, stsrole_pam_loader load, void *ctx,
                        struct stsrole_pam_stack *out, struct stsrole_error *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = parse_into(text, name, 0, 0, STSROLE_PAM_AUTH, load, ctx, out, err);
    if (rc != STSROLE_OK)
        stsrole_pam_stack_free(out);
    return rc;
}

void
stsrole_pam_stack_free(struct stsrole_pam_stack *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* The action of a "[value=action ...]" control for value, or NULL. */
static const char *
action_for(const char *control, const char *value, char *buf, size_t n)
{
    const char *p = control + 1;
    size_t vl = strlen(value);

    while (*p != '\0' && *p != ']') {
        size_t m;

        p += strspn(p, " \t");
        m = strcspn(p, " \t]");
        if (m > vl && strncmp(p, value, vl) == 0 && p[vl] == '=') {
            if (copy_field(buf, n, p + vl + 1, m - vl - 1) != 0)
                return NULL;
            return buf;
        }
        p += m;
    }
    return NULL;
}

/* Whether the control can end the stack (done) or jump past index target. */
static int
can_skip(const char *control, size_t at, size_t target, char *why, size_t n)
{
    const char *p;

    if (strcmp(control, "sufficient") == 0) {
        snprintf(why, n, "is 'sufficient'");
        return 1;
    }
    if (control[0] != '[')
        return 0;
    for (p = control + 1; *p != '\0' && *p != ']';) {
        size_t m;
        const char *eq;

        p += strspn(p, " \t");
        m = strcspn(p, " \t]");
        eq = memchr(p, '=', m);
        if (eq != NULL) {
            const char *act = eq + 1;
            size_t al = m - (size_t)(act - p);
            if (al == 4 && strncmp(act, "done", 4) == 0) {
                snprintf(why, n, "returns 'done' on %.*s", (int)(eq - p), p);
                return 1;
            }
            if (al > 0 && isdigit((unsigned char)act[0])) {
                unsigned long jump = strtoul(act, NULL, 10);
                if (at + jump + 1 > target) {
                    snprintf(why, n, "jumps %lu lines on %.*s, past it", jump, (int)(eq - p), p);
                    return 1;
                }
            }
        }
        p += m;
    }
    return 0;
}

/* A control under which a module's failure fails the stack. */
static int
counts(const char *control)
{
    char buf[32];
    const char *d;

    if (strcmp(control, "required") == 0 || strcmp(control, "requisite") == 0)
        return 1;
    if (control[0] != '[')
        return 0;
    d = action_for(control, "default", buf, sizeof(buf));
    return d != NULL && (strcmp(d, "bad") == 0 || strcmp(d, "die") == 0);
}

static int
has_arg(const char *args, const char *word)
{
    size_t wl = strlen(word);
    const char *p = args;

    while (*p != '\0') {
        size_t m;

        p += strspn(p, " \t");
        m = strcspn(p, " \t");
        if (m == wl && strncmp(p, word, wl) == 0)
            return 1;
        p += m;
    }
    return 0;
}

static long
find(const struct stsrole_pam_stack *s, enum stsrole_pam_type type, const char *module, size_t from,
     size_t to, const char *arg)
{
    size_t i;

    for (i = from; i < to && i < s->n; i++)
        if (s->v[i].type == type && strcmp(s->v[i].module, module) == 0 &&
            (arg == NULL || has_arg(s->v[i].args, arg)))
            return (long)i;
    return -1;
}

void
stsrole_pam_judge(const struct stsrole_pam_stack *s, const char *module,
                  struct stsrole_pam_verdict *v)
{
    long at, sess, pre, fail;
    size_t i;
    char why[128];

    memset(v, 0, sizeof(*v));
    at = find(s, STSROLE_PAM_AUTH, module, 0, s->n, NULL);
    if (at < 0) {
        snprintf(v->auth, sizeof(v->auth), "%s is not in the auth stack", module);
        snprintf(v->faillock, sizeof(v->faillock), "%s is not in the auth stack", module);
        snprintf(v->skip, sizeof(v->skip), "%s is not in the auth stack", module);
    } else {
        const struct stsrole_pam_entry *e = &s->v[at];
        if (!counts(e->control))
            snprintf(v->auth, sizeof(v->auth),
                     "%s (%s) is '%s': its failure would not fail the login", module, e->origin,
                     e->control);
        pre = find(s, STSROLE_PAM_AUTH, "pam_faillock.so", 0, (size_t)at, "preauth");
        fail = find(s, STSROLE_PAM_AUTH, "pam_faillock.so", (size_t)at + 1, s->n, "authfail");
        if (pre < 0 || fail < 0)
            snprintf(v->faillock, sizeof(v->faillock),
                     "%s (%s) has no pam_faillock.so %s %s it: wrong codes are not counted", module,
                     e->origin, pre < 0 ? "preauth" : "authfail", pre < 0 ? "before" : "after");
        for (i = 0; i < (size_t)at; i++) {
            if (s->v[i].type != STSROLE_PAM_AUTH)
                continue;
            if (can_skip(s->v[i].control, i, (size_t)at, why, sizeof(why))) {
                snprintf(v->skip, sizeof(v->skip),
                         "%s (%s) %s: it can end auth before %s asks for the code", s->v[i].module,
                         s->v[i].origin, why, module);
                break;
            }
        }
    }
    sess = find(s, STSROLE_PAM_SESSION, module, 0, s->n, NULL);
    if (sess < 0)
        snprintf(v->session, sizeof(v->session),
                 "%s is not in the session stack: no credentials at login", module);
    else if (!counts(s->v[sess].control))
        snprintf(v->session, sizeof(v->session),
                 "%s (%s) is '%s' in session: failmode = secure could not refuse the session",
                 module, s->v[sess].origin, s->v[sess].control);
}

/* -- STS ---------------------------------------------------------------------------------- */

int
stsrole_caller_arn(const char *body, size_t len, char *out, size_t n)
{
    const char *p = body, *end = body + len, *a, *b;
    size_t i;

    while (p < end && isspace((unsigned char)*p))
        p++;
    if (p < end && *p == '{') {
        cJSON *root = cJSON_ParseWithLength(body, len);
        const cJSON *arn = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(root, "GetCallerIdentityResponse"),
                "GetCallerIdentityResult"),
            "Arn");
        int rc = -1;

        if (cJSON_IsString(arn) && strlen(arn->valuestring) < n) {
            strcpy(out, arn->valuestring);
            rc = 0;
        }
        cJSON_Delete(root);
        return rc;
    }
    /* XML: <GetCallerIdentityResult><Arn>...</Arn> (no entities in an ARN) */
    a = memmem(body, len, "<Arn>", 5);
    if (a == NULL)
        return -1;
    a += 5;
    b = memmem(a, (size_t)(end - a), "</Arn>", 6);
    if (b == NULL || (size_t)(b - a) >= n || b == a)
        return -1;
    for (i = 0; a + i < b; i++) {
        if (!isgraph((unsigned char)a[i]) || a[i] == '<' || a[i] == '&')
            return -1;
        out[i] = a[i];
    }
    out[i] = '\0';
    return 0;
}
