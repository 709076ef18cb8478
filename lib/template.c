/* SPDX-License-Identifier: BSD-3-Clause */
/* template.c: [roles NAME] templates: account lists and files, ${...} placeholders. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partition.h"
#include "safefile.h"
#include "template.h"

#define ACCOUNTS_FILE_MAX (1024 * 1024)

static const char *const placeholders[] = {"partition", "account", "alias", NULL};

int
stsrole_account_id_valid(const char *s)
{
    return s != NULL && strlen(s) == STSROLE_ACCOUNT_LEN &&
           strspn(s, "0123456789") == STSROLE_ACCOUNT_LEN;
}

int
stsrole_alias_valid(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    return n >= 1 && n <= STSROLE_ALIAS_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == n;
}

/* The placeholder at s ("${"), as an index into placeholders, or -1. */
static int
placeholder_at(const char *s, size_t *len)
{
    const char *close = strchr(s + 2, '}');
    size_t i, n;

    if (close == NULL)
        return -1;
    n = (size_t)(close - (s + 2));
    for (i = 0; placeholders[i] != NULL; i++) {
        if (strlen(placeholders[i]) == n && strncmp(s + 2, placeholders[i], n) == 0) {
            *len = n + 3;
            return (int)i;
        }
    }
    return -1;
}

int
stsrole_template_check(const char *tmpl, struct stsrole_error *err)
{
    const char *s;
    size_t len;

    for (s = strchr(tmpl, '$'); s != NULL; s = strchr(s + 1, '$')) {
        if (s[1] != '{')
            return stsrole_fail(err, STSROLE_E_CONFIG, "'$' starts no placeholder at \"%.20s\"", s);
        if (placeholder_at(s, &len) < 0)
            return stsrole_fail(err, STSROLE_E_CONFIG,
                                "unknown placeholder \"%.*s\" (expected ${partition}, ${account} "
                                "or ${alias})",
                                (int)strcspn(s, "}") + (strchr(s, '}') != NULL), s);
    }
    return STSROLE_OK;
}

int
stsrole_template_expand(const char *tmpl, const char *partition, const struct stsrole_account *a,
                        char **out, struct stsrole_error *err)
{
    struct stsrole_buf b;
    const char *s = tmpl, *d;
    size_t len;
    int which, rc = STSROLE_OK;

    *out = NULL;
    stsrole_buf_init(&b, 0);
    while (rc == STSROLE_OK && (d = strstr(s, "${")) != NULL) {
        which = placeholder_at(d, &len);
        if (which < 0) {
            stsrole_buf_free(&b);
            return stsrole_template_check(tmpl, err);
        }
        rc = stsrole_buf_append(&b, s, (size_t)(d - s));
        if (rc == STSROLE_OK)
            rc = stsrole_buf_puts(&b, which == 0 ? partition : which == 1 ? a->id : a->alias);
        s = d + len;
    }
    if (rc == STSROLE_OK)
        rc = stsrole_buf_puts(&b, s);
    if (rc != STSROLE_OK) {
        stsrole_buf_free(&b);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    *out = stsrole_buf_steal(&b);
    return *out != NULL ? STSROLE_OK : stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
}

/* Appends one account, refusing a repeated id or alias. */
static int
add_account(struct stsrole_accounts *a, const char *id, size_t idlen, const char *alias,
            size_t aliaslen, struct stsrole_error *err)
{
    struct stsrole_account *nv;
    char idb[32], aliasb[64];
    size_t i;

    snprintf(idb, sizeof(idb), "%.*s", (int)(idlen < 31 ? idlen : 31), id);
    snprintf(aliasb, sizeof(aliasb), "%.*s", (int)(aliaslen < 63 ? aliaslen : 63), alias);
    if (idlen != STSROLE_ACCOUNT_LEN || !stsrole_account_id_valid(idb))
        return stsrole_fail(err, STSROLE_E_CONFIG, "'%s%s': an account id is 12 digits", idb,
                            idlen > 31 ? "..." : "");
    if (aliaslen > STSROLE_ALIAS_MAX || !stsrole_alias_valid(aliasb))
        return stsrole_fail(err, STSROLE_E_CONFIG, "alias '%s%s': 1-%d of a-z 0-9 - _ .", aliasb,
                            aliaslen > 63 ? "..." : "", STSROLE_ALIAS_MAX);
    for (i = 0; i < a->n; i++) {
        if (strcmp(a->v[i].id, idb) == 0)
            return stsrole_fail(err, STSROLE_E_CONFIG, "account %s is listed twice", idb);
        if (strcmp(a->v[i].alias, aliasb) == 0)
            return stsrole_fail(err, STSROLE_E_CONFIG, "alias '%s' is used twice (%s and %s)",
                                aliasb, a->v[i].id, idb);
    }
    if (a->n == STSROLE_ACCOUNTS_MAX)
        return stsrole_fail(err, STSROLE_E_CONFIG, "more than %d accounts", STSROLE_ACCOUNTS_MAX);
    if ((nv = realloc(a->v, (a->n + 1) * sizeof(*nv))) == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    a->v = nv;
    memcpy(nv[a->n].id, idb, sizeof(nv[a->n].id));
    memcpy(nv[a->n].alias, aliasb, strlen(aliasb) + 1);
    a->n++;
    return STSROLE_OK;
}

int
stsrole_accounts_parse_list(const char *value, struct stsrole_accounts *out,
                            struct stsrole_error *err)
{
    const char *s = value;
    size_t len;
    int rc;

    memset(out, 0, sizeof(*out));
    for (;;) {
        s += strspn(s, ", \t");
        if ((len = strcspn(s, ", \t")) == 0)
            break;
        if ((rc = add_account(out, s, len, s, len, err)) != STSROLE_OK) {
            stsrole_accounts_free(out);
            return rc;
        }
        s += len;
    }
    if (out->n == 0)
        return stsrole_fail(err, STSROLE_E_CONFIG, "no account ids");
    return STSROLE_OK;
}

int
stsrole_accounts_parse_file(const char *text, const char *name, struct stsrole_accounts *out,
                            struct stsrole_error *err)
{
    struct stsrole_error e;
    const char *s = text, *id, *alias;
    size_t n, idlen, aliaslen;
    int line = 0, rc;

    memset(out, 0, sizeof(*out));
    while (*s != '\0') {
        n = strcspn(s, "\n");
        line++;
        id = s + strspn(s, " \t");
        idlen = strcspn(id, " \t\n");
        alias = id + idlen + strspn(id + idlen, " \t");
        aliaslen = strcspn(alias, " \t\n");
        if (id < s + n && *id != '#') {
            if (idlen == 0 || aliaslen == 0 ||
                alias + aliaslen + strspn(alias + aliaslen, " \t") != s + n) {
                stsrole_accounts_free(out);
                return stsrole_fail(err, STSROLE_E_CONFIG, "%s:%d: expected 'ACCOUNT_ID ALIAS'",
                                    name, line);
            }
            if ((rc = add_account(out, id, idlen, alias, aliaslen, &e)) != STSROLE_OK) {
                stsrole_accounts_free(out);
                return stsrole_fail(err, rc, "%s:%d: %s", name, line, e.msg);
            }
        }
        s += n + (s[n] == '\n');
    }
    if (out->n == 0)
        return stsrole_fail(err, STSROLE_E_CONFIG, "%s: no accounts", name);
    return STSROLE_OK;
}

int
stsrole_accounts_load(const char *path, struct stsrole_accounts *out, struct stsrole_error *err)
{
    struct stsrole_buf text;
    int rc;

    memset(out, 0, sizeof(*out));
    /* It decides which accounts people get credentials for: as trusted
     * as stsrole.conf itself. */
    rc = stsrole_read_safely(path, 0, 0, ACCOUNTS_FILE_MAX, &text, err);
    if (rc != STSROLE_OK)
        return rc;
    rc = stsrole_accounts_parse_file(text.data, path, out, err);
    stsrole_buf_free(&text);
    return rc;
}

void
stsrole_accounts_free(struct stsrole_accounts *a)
{
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

const char *
stsrole_template_partition(const char *region)
{
    const struct stsrole_partition *p;

    /* The config refuses a region outside these partitions before it
     * expands a template; "aws" only for a caller that did not. */
    return stsrole_partition_of(region, &p, NULL) == STSROLE_OK ? p->name : "aws";
}
