/* SPDX-License-Identifier: BSD-3-Clause */
/* template.h: [roles NAME] templates: account lists, ${...} placeholders, expansion of a name. */
#ifndef STSROLE_TEMPLATE_H
#define STSROLE_TEMPLATE_H

#include <stddef.h>

#include "stsrole.h"

/* An AWS account id is 12 digits (AWS Organizations, Account.Id). */
#define STSROLE_ACCOUNT_LEN 12
/* An alias: 1-40 of a-z 0-9 - _ . (it starts the profile name ALIAS-ROLE). */
#define STSROLE_ALIAS_MAX 40
/* Accounts one template may cover. */
#define STSROLE_ACCOUNTS_MAX 4096

struct stsrole_account {
    char id[STSROLE_ACCOUNT_LEN + 1];
    char alias[STSROLE_ALIAS_MAX + 1]; /* the id itself when the list gives none */
};

struct stsrole_accounts {
    struct stsrole_account *v;
    size_t n;
};

/* 1 when s is 12 digits. */
int stsrole_account_id_valid(const char *s);
/* 1 when s is 1-STSROLE_ALIAS_MAX of a-z 0-9 - _ . */
int stsrole_alias_valid(const char *s);

/* Checks a template string: every "${" opens one of ${partition},
 * ${account}, ${alias}.  STSROLE_E_CONFIG names the first other one. */
int stsrole_template_check(const char *tmpl, struct stsrole_error *err);
/* Fills in the placeholders; *out is the caller's to free. */
int stsrole_template_expand(const char *tmpl, const char *partition,
                            const struct stsrole_account *a, char **out, struct stsrole_error *err);

/* accounts = ID ID ...: ids separated by commas or blanks, each its own
 * alias.  Refuses a bad id and a repeated one. */
int stsrole_accounts_parse_list(const char *value, struct stsrole_accounts *out,
                                struct stsrole_error *err);
/* The text of accounts = file:PATH: one "ID ALIAS" a line; blank lines and
 * lines starting with '#' are skipped.  Errors say "name:line: ...". */
int stsrole_accounts_parse_file(const char *text, const char *name, struct stsrole_accounts *out,
                                struct stsrole_error *err);
/* Reads PATH with stsrole_read_safely (root-owned, not group- or
 * world-writable, no symlink) and parses it as above. */
int stsrole_accounts_load(const char *path, struct stsrole_accounts *out,
                          struct stsrole_error *err);
void stsrole_accounts_free(struct stsrole_accounts *a);

/* The ARN partition of a region, by stsrole_partition_of: aws-cn for
 * cn-*, aws-us-gov for us-gov-*, aws for the commercial regions and for
 * any region stsrole_partition_of refuses (the isolated partitions among
 * them: the config refuses those regions before templates expand). */
const char *stsrole_template_partition(const char *region);

#endif
