/* SPDX-License-Identifier: BSD-3-Clause */
/* doctor.h: what `stsrolectl doctor` judges, purely: sshd -T, the PAM stack, STS answers. */
#ifndef STSROLE_DOCTOR_H
#define STSROLE_DOCTOR_H

#include <stddef.h>
#include <stdint.h>

#include "stsrole.h"

/* -- sshd -T ------------------------------------------------------------------------------ */

/*
 * `sshd -T` prints the effective configuration, one "keyword value" per
 * line, keywords in lower case.  Copies the value of key (lower case) into
 * out[n] and returns 1, or returns 0 when the keyword is absent or its value
 * does not fit.
 */
int stsrole_sshd_value(const char *text, size_t len, const char *key, char *out, size_t n);

/*
 * An AuthenticationMethods value as sshd -T prints it: lists separated by
 * spaces, methods within a list by commas ("any" when unset).  Returns 1
 * when every list asks for publickey and, after it, keyboard-interactive
 * (with or without a ":pam" submethod), so no login reaches a shell
 * without both; 0 otherwise.
 */
int stsrole_authmethods_mfa(const char *value);

/* -- the PAM stack ------------------------------------------------------------------------ */

enum stsrole_pam_type {
    STSROLE_PAM_AUTH = 0,
    STSROLE_PAM_ACCOUNT,
    STSROLE_PAM_SESSION,
    STSROLE_PAM_PASSWORD,
};

/* One module line after includes are expanded. */
struct stsrole_pam_entry {
    enum stsrole_pam_type type;
    char control[128]; /* "required", "[success=1 default=bad]", ... */
    char module[128];  /* the module's file name, without its directory */
    char args[256];    /* its arguments, space-separated */
    char origin[160];  /* "FILE:LINE" it came from */
};

struct stsrole_pam_stack {
    struct stsrole_pam_entry *v;
    size_t n, cap;
};

/*
 * Reads one included service file: fills *text (heap, NUL-terminated) and
 * returns STSROLE_OK, or a status with err filled.  name is as written in
 * the including file ("common-auth").
 */
typedef int (*stsrole_pam_loader)(void *ctx, const char *name, char **text,
                                  struct stsrole_error *err);

/*
 * Parses a PAM service file (pam.d(5) syntax: "type control module [args]",
 * "[...]" controls, "-type", backslash continuations, comments) and expands
 * "@include NAME" and the include/substack controls through load, at most
 * 8 files deep.  name labels the entries' origin.  Free with
 * stsrole_pam_stack_free.
 */
int stsrole_pam_stack_parse(const char *text, const char *name, stsrole_pam_loader load, void *ctx,
                            struct stsrole_pam_stack *out, struct stsrole_error *err);
void stsrole_pam_stack_free(struct stsrole_pam_stack *s);

/* What the stack does around pam_stsrole; each message is empty when fine. */
struct stsrole_pam_verdict {
    char auth[STSROLE_ERRMSG_MAX];     /* pam_stsrole missing from auth, or made optional */
    char faillock[STSROLE_ERRMSG_MAX]; /* not between pam_faillock preauth and authfail */
    char skip[STSROLE_ERRMSG_MAX];     /* a module before it can end auth without it */
    char session[STSROLE_ERRMSG_MAX];  /* missing from session, or made optional */
};

/*
 * Judges a stack for module (e.g. "pam_stsrole.so"):
 * - auth: present, with a control that makes its failure count;
 * - faillock: pam_faillock.so preauth before it and authfail after it;
 * - skip: no module before it is "sufficient", returns "done" on some
 *   value, or jumps (success=N, ...) to a line past it;
 * - session: present with required, requisite or a control whose default
 *   is bad or die.
 */
void stsrole_pam_judge(const struct stsrole_pam_stack *s, const char *module,
                       struct stsrole_pam_verdict *v);

/* -- STS ---------------------------------------------------------------------------------- */

/* The Arn of a GetCallerIdentity answer (JSON or XML) into out[n];
 * returns 0 on success. */
int stsrole_caller_arn(const char *body, size_t len, char *out, size_t n);

#endif
