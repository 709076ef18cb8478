/* SPDX-License-Identifier: BSD-3-Clause */
/* pamdrive.c: runs PAM operations on a service file from a test directory (pam_start_confdir). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "forge_ticket.h"

/*
 * Usage: pamdrive -c CONFDIR -s SERVICE -u USER [-r RHOST] [-t TTY]
 *                 [-a ANSWER]... [-n] [-l LOGFILE] OP...
 * OP is auth, acct, setcred, open, close, env, noprompt (later prompts
 * fail, as in sshd's open_session) or end-and-start (a new handle, as
 * sshd's separate processes would have), or ticket=STATE_DIR[,KEY=VALUE...]
 * (writes the ticket pam_stsrole's auth leaves, forge_ticket.h: a session
 * without a code prompt; keys user, service, rhost put another login's
 * field in it, age=SECONDS backdates it).  Every prompt, message
 * and result is printed on stdout, one line each:
 *   prompt-off: TEXT | prompt-on: TEXT | info: TEXT | error: TEXT
 *   OP rc=N NAME
 *   env NAME=VALUE
 * Answers are used in order; when they run out, or with -n (like sshd's
 * open_session, which cannot prompt), a prompt fails with PAM_CONV_ERR.
 * syslog() from the module is captured into LOGFILE (one line per call),
 * by defining the syslog entry points here, ahead of libc's.
 */

static const char **answers;
static int n_answers, next_answer, no_prompts;
static FILE *log_file;

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
    struct pam_response *r = calloc((size_t)n, sizeof(*r));
    int i;

    (void)data;
    if (r == NULL)
        return PAM_BUF_ERR;
    for (i = 0; i < n; i++) {
        switch (msg[i]->msg_style) {
        case PAM_PROMPT_ECHO_OFF:
        case PAM_PROMPT_ECHO_ON:
            printf("%s: %s\n",
                   msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ? "prompt-off" : "prompt-on",
                   msg[i]->msg);
            if (no_prompts || next_answer >= n_answers) {
                int j;
                for (j = 0; j < i; j++)
                    free(r[j].resp);
                free(r);
                return PAM_CONV_ERR;
            }
            r[i].resp = strdup(answers[next_answer++]);
            break;
        case PAM_TEXT_INFO:
            printf("info: %s\n", msg[i]->msg);
            break;
        case PAM_ERROR_MSG:
            printf("error: %s\n", msg[i]->msg);
            break;
        default:
            free(r);
            return PAM_CONV_ERR;
        }
    }
    fflush(stdout);
    *resp = r;
    return PAM_SUCCESS;
}

/* ---- syslog capture ---- */

void openlog(const char *ident, int option, int facility);
void closelog(void);
void syslog(int prio, const char *fmt, ...);
void vsyslog(int prio, const char *fmt, va_list ap);
void __syslog_chk(int prio, int flag, const char *fmt, ...);
void __vsyslog_chk(int prio, int flag, const char *fmt, va_list ap);

void
openlog(const char *ident, int option, int facility)
{
    (void)ident;
    (void)option;
    (void)facility;
}

void
closelog(void)
{
}

void
vsyslog(int prio, const char *fmt, va_list ap)
{
    FILE *f = log_file != NULL ? log_file : stderr;

    fprintf(f, "facility=%d prio=%d ", prio & LOG_FACMASK, prio & LOG_PRIMASK);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
}

void
syslog(int prio, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsyslog(prio, fmt, ap);
    va_end(ap);
}

void
__vsyslog_chk(int prio, int flag, const char *fmt, va_list ap)
{
    (void)flag;
    vsyslog(prio, fmt, ap);
}

void
__syslog_chk(int prio, int flag, const char *fmt, ...)
{
    va_list ap;

    (void)flag;
    va_start(ap, fmt);
    vsyslog(prio, fmt, ap);
    va_end(ap);
}

/* ---- driver ---- */

static const char *
code_name(int rc)
{
    static const struct {
        int rc;
        const char *name;
    } names[] = {
        {PAM_SUCCESS, "PAM_SUCCESS"},
        {PAM_OPEN_ERR, "PAM_OPEN_ERR"},
        {PAM_SYMBOL_ERR, "PAM_SYMBOL_ERR"},
        {PAM_SERVICE_ERR, "PAM_SERVICE_ERR"},
        {PAM_SYSTEM_ERR, "PAM_SYSTEM_ERR"},
        {PAM_BUF_ERR, "PAM_BUF_ERR"},
        {PAM_PERM_DENIED, "PAM_PERM_DENIED"},
        {PAM_AUTH_ERR, "PAM_AUTH_ERR"},
        {PAM_CRED_INSUFFICIENT, "PAM_CRED_INSUFFICIENT"},
        {PAM_AUTHINFO_UNAVAIL, "PAM_AUTHINFO_UNAVAIL"},
        {PAM_USER_UNKNOWN, "PAM_USER_UNKNOWN"},
        {PAM_MAXTRIES, "PAM_MAXTRIES"},
        {PAM_NEW_AUTHTOK_REQD, "PAM_NEW_AUTHTOK_REQD"},
        {PAM_ACCT_EXPIRED, "PAM_ACCT_EXPIRED"},
        {PAM_SESSION_ERR, "PAM_SESSION_ERR"},
        {PAM_CRED_UNAVAIL, "PAM_CRED_UNAVAIL"},
        {PAM_CRED_EXPIRED, "PAM_CRED_EXPIRED"},
        {PAM_CRED_ERR, "PAM_CRED_ERR"},
        {PAM_CONV_ERR, "PAM_CONV_ERR"},
        {PAM_ABORT, "PAM_ABORT"},
        {PAM_IGNORE, "PAM_IGNORE"},
        {PAM_MODULE_UNKNOWN, "PAM_MODULE_UNKNOWN"},
        {PAM_INCOMPLETE, "PAM_INCOMPLETE"},
    };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].rc == rc)
            return names[i].name;
    }
    return "PAM_OTHER";
}

static int
start(const char *service, const char *user, const char *confdir, const char *rhost,
      const char *tty, const struct pam_conv *c, pam_handle_t **pamh)
{
    int rc = pam_start_confdir(service, user, c, confdir, pamh);

    if (rc != PAM_SUCCESS) {
        printf("start rc=%d %s\n", rc, code_name(rc));
        return rc;
    }
    if (rhost != NULL)
        pam_set_item(*pamh, PAM_RHOST, rhost);
    if (tty != NULL)
        pam_set_item(*pamh, PAM_TTY, tty);
    return PAM_SUCCESS;
}

int
main(int argc, char **argv)
{
    const char *confdir = NULL, *service = NULL, *user = NULL, *rhost = NULL, *tty = NULL;
    const char *logpath = NULL;
    struct pam_conv c = {conv, NULL};
    pam_handle_t *pamh = NULL;
    int opt, i, rc = PAM_SUCCESS;

    answers = calloc((size_t)argc, sizeof(*answers));
    if (answers == NULL)
        return 2;
    while ((opt = getopt(argc, argv, "c:s:u:r:t:a:nl:")) != -1) {
        switch (opt) {
        case 'c':
            confdir = optarg;
            break;
        case 's':
            service = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'r':
            rhost = optarg;
            break;
        case 't':
            tty = optarg;
            break;
        case 'a':
            answers[n_answers++] = optarg;
            break;
        case 'n':
            no_prompts = 1;
            break;
        case 'l':
            logpath = optarg;
            break;
        default:
            return 2;
        }
    }
    if (confdir == NULL || service == NULL || user == NULL || optind >= argc) {
        fprintf(stderr, "usage: pamdrive -c CONFDIR -s SERVICE -u USER [-r RHOST] [-t TTY] "
                        "[-a ANSWER]... [-n] [-l LOG] OP...\n");
        return 2;
    }
    if (logpath != NULL && (log_file = fopen(logpath, "a")) == NULL) {
        perror(logpath);
        return 2;
    }
    if (start(service, user, confdir, rhost, tty, &c, &pamh) != PAM_SUCCESS)
        return 1;
    for (i = optind; i < argc; i++) {
        const char *op = argv[i];

        if (strcmp(op, "auth") == 0)
            rc = pam_authenticate(pamh, 0);
        else if (strcmp(op, "acct") == 0)
            rc = pam_acct_mgmt(pamh, 0);
        else if (strcmp(op, "setcred") == 0)
            rc = pam_setcred(pamh, PAM_ESTABLISH_CRED);
        else if (strcmp(op, "open") == 0)
            rc = pam_open_session(pamh, 0);
        else if (strcmp(op, "close") == 0)
            rc = pam_close_session(pamh, 0);
        else if (strcmp(op, "env") == 0) {
            char **env = pam_getenvlist(pamh), **e;
            for (e = env; e != NULL && *e != NULL; e++) {
                printf("env %s\n", *e);
                free(*e);
            }
            free(env);
            rc = PAM_SUCCESS;
        } else if (strncmp(op, "ticket=", 7) == 0) {
            char dir[4096], *kv, *save = NULL;
            const char *tu = user, *ts = service, *th = rhost;
            long age = 0;

            snprintf(dir, sizeof(dir), "%s", op + 7);
            strtok_r(dir, ",", &save);
            while ((kv = strtok_r(NULL, ",", &save)) != NULL) {
                if (strncmp(kv, "user=", 5) == 0)
                    tu = kv + 5;
                else if (strncmp(kv, "service=", 8) == 0)
                    ts = kv + 8;
                else if (strncmp(kv, "rhost=", 6) == 0)
                    th = kv + 6;
                else if (strncmp(kv, "age=", 4) == 0)
                    age = atol(kv + 4);
            }
            rc = forge_ticket_aged(dir, tu, ts, th, age) == 0 ? PAM_SUCCESS : PAM_SYSTEM_ERR;
        } else if (strcmp(op, "noprompt") == 0) {
            no_prompts = 1;
            continue;
        } else if (strcmp(op, "end-and-start") == 0) {
            pam_end(pamh, rc);
            pamh = NULL;
            rc = start(service, user, confdir, rhost, tty, &c, &pamh);
            if (rc != PAM_SUCCESS)
                return 1;
        } else {
            fprintf(stderr, "unknown op %s\n", op);
            rc = PAM_SYSTEM_ERR;
            break;
        }
        printf("%s rc=%d %s\n", op, rc, code_name(rc));
        fflush(stdout);
    }
    pam_end(pamh, rc);
    free(answers);
    if (log_file != NULL)
        fclose(log_file);
    return 0;
}
