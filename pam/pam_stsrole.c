/* SPDX-License-Identifier: BSD-3-Clause */
/* pam_stsrole.c: the PAM entry points: TOTP (auth), mint and record (open), close the record. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "exposure.h"
#include "http.h"
#include "login.h"
#include "mint.h"
#include "proc.h"
#include "replay.h"
#include "role.h"
#include "runtime.h"
#include "safefile.h"
#include "session.h"
#include "sts.h"
#include "ticket.h"
#include "totp.h"

#define DATA_SESSION "pam_stsrole_session"
/* Set during auth when the user picked one of several roles.  sshd runs
 * auth in a child process and copies the PAM environment (not PAM data)
 * back into the process that opens the session, so this is the one
 * channel from auth to open_session.  It is a choice, not a credential:
 * open_session checks it against the user's roles again. */
#define ENV_ROLE "STSROLE_ROLE"

struct args {
    const char *conf;
    int debug;
};

/* What close_session needs; open_session hands it over with pam_set_data
 * (sshd opens and closes the session in the same monitor process). */
struct open_session {
    char session_id[33];
    char *state_dir;
    char *role;
    char *session_name;
    char *runtime_dir; /* credentials_mode = process: the AWS config file to remove */
};

static const char *const env_names[] = {
    "AWS_ACCESS_KEY_ID",   "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",   "AWS_CREDENTIAL_EXPIRATION",
    "AWS_REGION",          "AWS_DEFAULT_REGION",
    "STSROLE_SESSION_ID",  "STSROLE_ROLE_ARN",
    "AWS_CONFIG_FILE",     "AWS_PROFILE",
    "AWS_SDK_LOAD_CONFIG",
};

/* ---- logging --------------------------------------------------------- */

/* Values that reach syslog come partly from the client (user name, rhost):
 * anything outside printable ASCII, and the characters that delimit our
 * key=value fields, become '?', so one decision stays one parseable line. */
static const char *
clean(const char *in, char *out, size_t outlen, int quoted)
{
    size_t i;

    if (in == NULL || in[0] == '\0')
        return "-";
    for (i = 0; in[i] != '\0' && i + 1 < outlen; i++) {
        unsigned char c = (unsigned char)in[i];
        int bad = c < 0x21 || c > 0x7e || c == '"' || c == '\\' || c == '=';
        if (quoted && c == ' ')
            bad = 0;
        out[i] = bad ? '?' : (char)c;
    }
    out[i] = '\0';
    return out;
}

struct decision {
    const char *phase; /* auth, open, close, args */
    const char *user;
    const char *rhost;
    const char *role;
    const char *session_name;
    const char *session_id;
    const char *outcome; /* success, refused, failopen, closed, error, ... */
    const char *request_id;
    const char *reason;
};

/* The one line per decision: who, from where, which role and session,
 * what happened and the AWS request id that ties it to CloudTrail.
 * Never a secret: at most the access key id, and only with debug. */
static void
log_decision(pam_handle_t *pamh, int prio, const struct decision *d)
{
    char u[128], h[256], r[128], s[80], id[40], q[160], why[STSROLE_ERRMSG_MAX];

    pam_syslog(pamh, LOG_AUTHPRIV | prio,
               "%s user=%s rhost=%s role=%s session=%s session_id=%s outcome=%s request_id=%s "
               "reason=\"%s\"",
               d->phase, clean(d->user, u, sizeof(u), 0), clean(d->rhost, h, sizeof(h), 0),
               clean(d->role, r, sizeof(r), 0), clean(d->session_name, s, sizeof(s), 0),
               clean(d->session_id, id, sizeof(id), 0), d->outcome,
               clean(d->request_id, q, sizeof(q), 0), clean(d->reason, why, sizeof(why), 1));
}

/* ---- arguments and items --------------------------------------------- */

static int
parse_args(pam_handle_t *pamh, int argc, const char **argv, struct args *a)
{
    int i;

    a->conf = STSROLE_DEFAULT_CONF;
    a->debug = 0;
    for (i = 0; i < argc; i++) {
        if (strncmp(argv[i], "conf=", 5) == 0 && argv[i][5] == '/')
            a->conf = argv[i] + 5;
        else if (strcmp(argv[i], "debug") == 0)
            a->debug = 1;
        else {
            /* A typo in the stack must not silently weaken it. */
            char arg[128], why[256];
            struct decision d = {.phase = "args", .outcome = "error", .reason = why};
            snprintf(why, sizeof(why), "unknown module argument %s (want conf=/PATH or debug)",
                     clean(argv[i], arg, sizeof(arg), 0));
            log_decision(pamh, LOG_ERR, &d);
            return -1;
        }
    }
    return 0;
}

static const char *
item_str(pam_handle_t *pamh, int type)
{
    const void *v = NULL;

    if (pam_get_item(pamh, type, &v) != PAM_SUCCESS)
        return NULL;
    return v;
}

/* 0, or ENOENT: pam_modutil_getpwnam tells no unknown user from an NSS
 * failure, and either refuses. */
static int
lookup_user(pam_handle_t *pamh, const char *user, uid_t *uid, gid_t *gid)
{
    const struct passwd *pw = pam_modutil_getpwnam(pamh, user);

    if (pw == NULL)
        return ENOENT;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

/* pam_putenv copies "NAME=value"; our temporary copy may hold a secret,
 * so it lives in a buffer that is wiped when freed. */
static int
put_env(pam_handle_t *pamh, const char *name, const char *value)
{
    struct stsrole_buf b;
    int rc;

    stsrole_buf_init(&b, 0);
    if (stsrole_buf_printf(&b, "%s=%s", name, value) != STSROLE_OK) {
        stsrole_buf_free(&b);
        return PAM_BUF_ERR;
    }
    rc = pam_putenv(pamh, b.data);
    stsrole_buf_free(&b);
    return rc;
}

/* ---- auth -------------------------------------------------------------- */

/* liboath's verdict as a PAM code.  Every failure is a real error, never
 * PAM_SUCCESS or PAM_IGNORE (pam-u2f CVE-2025-23013), so pam_faillock's
 * authfail sees it. */
static int
auth_code(int status)
{
    switch (status) {
    case STSROLE_OK:
        return PAM_SUCCESS;
    case STSROLE_E_NOTFOUND:
        return PAM_USER_UNKNOWN;
    case STSROLE_E_UNSAFE:
    case STSROLE_E_IO:
    case STSROLE_E_CONFIG:
        return PAM_AUTHINFO_UNAVAIL;
    case STSROLE_E_NOMEM:
        return PAM_BUF_ERR;
    default: /* STSROLE_E_DENIED, STSROLE_E_INVALID and anything unexpected */
        return PAM_AUTH_ERR;
    }
}

/* liboath's own lock and temporary file, found while stsrole held its lock
 * on the users file, were left by a process that died inside liboath; the
 * library removed them (lib/totp.h).  Said once, as a warning: until then
 * they refused every login. */
static void
log_stale(pam_handle_t *pamh, const struct decision *d, const char *usersfile, unsigned stale)
{
    struct decision w = *d;
    char why[STSROLE_ERRMSG_MAX];

    snprintf(why, sizeof(why),
             "removed %s%s%s%s%s, left behind by a process that died inside liboath "
             "(they refused every login)",
             (stale & STSROLE_TOTP_STALE_LOCK) ? usersfile : "",
             (stale & STSROLE_TOTP_STALE_LOCK) ? ".lock" : "",
             stale == (STSROLE_TOTP_STALE_LOCK | STSROLE_TOTP_STALE_NEW) ? " and " : "",
             (stale & STSROLE_TOTP_STALE_NEW) ? usersfile : "",
             (stale & STSROLE_TOTP_STALE_NEW) ? ".new" : "");
    w.outcome = "stale-lock-removed";
    w.reason = why;
    log_decision(pamh, LOG_WARNING, &w);
}

/*
 * The fleet-wide replay check (replay_store = dynamodb:TABLE), once liboath
 * has accepted code on this bastion: the code's time step is claimed for
 * the user in DynamoDB.  A step that this or another bastion accepted
 * already is PAM_AUTH_ERR, like a replay liboath catches.  When the store
 * cannot answer, failmode decides: secure refuses with
 * PAM_AUTHINFO_UNAVAIL (pam_sm_authenticate(3): the module cannot reach
 * the authentication information, "due to a network or hardware
 * failure"); safe lets liboath's local verdict stand and logs that it
 * did.  Neither is ever PAM_SUCCESS or PAM_IGNORE for a refused code.
 */
static int
fleet_replay(pam_handle_t *pamh, const struct stsrole_config *cfg, const char *user,
             const char *code, struct decision *d, struct stsrole_error *err)
{
    static int http_ready;
    struct stsrole_totp_step step;
    enum stsrole_replay_verdict verdict = STSROLE_REPLAY_USED;
    struct decision w;
    const char *unavailable = "replay-store-unavailable";
    int status;

    status = stsrole_totp_step(cfg->usersfile, user, code, cfg->totp_window, &step, err);
    if (status != STSROLE_OK)
        unavailable = "replay-step-unknown"; /* e.g. an event-based (HOTP/E) entry */
    if (status == STSROLE_OK && !http_ready) {
        status = stsrole_http_global_init(err);
        http_ready = status == STSROLE_OK;
    }
    if (status == STSROLE_OK)
        status = stsrole_login_replay(cfg, user, &step, &verdict, err);
    if (err->request_id[0] != '\0')
        d->request_id = err->request_id;
    if (status == STSROLE_OK && verdict == STSROLE_REPLAY_FRESH)
        return PAM_SUCCESS;
    if (status == STSROLE_OK) {
        d->outcome = "replayed-fleet";
        return PAM_AUTH_ERR;
    }
    if (status == STSROLE_E_NOMEM) {
        d->outcome = "error";
        return PAM_BUF_ERR;
    }
    if (cfg->failmode == STSROLE_FAIL_SAFE) {
        w = *d;
        w.outcome = "replay-store-failopen";
        w.reason = err->msg;
        log_decision(pamh, LOG_WARNING, &w);
        stsrole_error_clear(err);
        d->request_id = NULL;
        return PAM_SUCCESS;
    }
    d->outcome = unavailable;
    return PAM_AUTHINFO_UNAVAIL;
}

/* After a good code, a user with several roles picks one now: sshd's
 * keyboard-interactive can prompt here, while its open_session cannot.
 * The break-glass roles the user may request follow the menu, marked;
 * they are never a choice. */
static int
preselect_role(pam_handle_t *pamh, const struct stsrole_config *cfg, const char *user,
               const char **picked, struct stsrole_error *err)
{
    const struct stsrole_role *choices[STSROLE_PAM_MAX_CHOICES], *chosen = NULL;
    const struct stsrole_role *marked[STSROLE_PAM_MAX_CHOICES];
    size_t n = 0, n_marked = 0;
    uid_t uid;
    gid_t gid;
    int rc;

    *picked = NULL;
    if (lookup_user(pamh, user, &uid, &gid) != 0)
        return PAM_SUCCESS; /* open_session refuses, with its own message */
    if (stsrole_pam_roles_for_user(pamh, cfg, user, gid, choices, &n, err) != STSROLE_OK || n < 2)
        return PAM_SUCCESS;
    if (stsrole_pam_requestable_roles(pamh, cfg, user, gid, marked, &n_marked, err) != STSROLE_OK)
        n_marked = 0; /* only a listing: the login goes on without it */
    rc = stsrole_pam_ask_role(pamh, choices, n, marked, n_marked, &chosen);
    if (rc != PAM_SUCCESS) {
        stsrole_fail(err, STSROLE_E_INVALID, "no role chosen");
        return rc;
    }
    *picked = chosen->name;
    if (put_env(pamh, ENV_ROLE, chosen->name) != PAM_SUCCESS) {
        stsrole_fail(err, STSROLE_E_NOMEM, "pam_putenv failed");
        return PAM_BUF_ERR;
    }
    return PAM_SUCCESS;
}

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct stsrole_config cfg;
    struct stsrole_error err;
    struct args a;
    struct decision d = {.phase = "auth"};
    struct stsrole_totp_report rep;
    const char *user = NULL, *picked = NULL;
    char *code = NULL;
    int rc, status;

    memset(&cfg, 0, sizeof(cfg));
    stsrole_error_clear(&err);
    if (parse_args(pamh, argc, argv, &a) != 0)
        return PAM_SERVICE_ERR;
    d.rhost = item_str(pamh, PAM_RHOST);
    rc = pam_get_user(pamh, &user, NULL);
    if (rc != PAM_SUCCESS || user == NULL || user[0] == '\0') {
        d.outcome = "error";
        d.reason = "no user name";
        log_decision(pamh, LOG_ERR, &d);
        if (rc == PAM_CONV_AGAIN)
            return PAM_INCOMPLETE;
        return rc == PAM_SUCCESS ? PAM_USER_UNKNOWN : rc;
    }
    d.user = user;

    status = stsrole_config_load(a.conf, &cfg, &err);
    if (status != STSROLE_OK) {
        d.outcome = "config-error";
        d.reason = err.msg;
        log_decision(pamh, LOG_ERR, &d);
        return status == STSROLE_E_NOMEM ? PAM_BUF_ERR : PAM_SERVICE_ERR;
    }

    /* An unsafe users file, or one in a directory others can write (or
     * under such a state_dir), is refused before anyone is asked for a
     * code. */
    if ((status = stsrole_check_parents(cfg.usersfile, &err)) != STSROLE_OK) {
        rc = status == STSROLE_E_NOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
        d.outcome = "usersfile-unavailable";
        goto out;
    }
    if ((status = stsrole_check_parents(cfg.state_dir, &err)) != STSROLE_OK) {
        rc = status == STSROLE_E_NOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
        d.outcome = "state-dir-unsafe";
        goto out;
    }
    status = stsrole_totp_check_usersfile(cfg.usersfile, &err);
    if (status != STSROLE_OK) {
        rc = status == STSROLE_E_NOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
        d.outcome = "usersfile-unavailable";
        goto out;
    }

    rc = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &code, "Verification code: ");
    if (rc != PAM_SUCCESS || code == NULL) {
        rc = PAM_CONV_ERR;
        d.outcome = "conversation-error";
        stsrole_fail(&err, STSROLE_E_INVALID, "no code entered");
        goto out;
    }
    status = stsrole_totp_verify(cfg.usersfile, user, code, cfg.totp_window,
                                 cfg.totp_lock_wait * 1000, &rep, &err);
    if (rep.stale != 0)
        log_stale(pamh, &d, cfg.usersfile, rep.stale);
    rc = auth_code(status);
    d.outcome = rc == PAM_SUCCESS            ? "success"
                : rc == PAM_USER_UNKNOWN     ? "unknown-user"
                : rc == PAM_AUTHINFO_UNAVAIL ? "usersfile-unavailable"
                : rc == PAM_AUTH_ERR         ? "bad-code"
                                             : "error";
    if (rc != PAM_SUCCESS)
        goto out;
    if (cfg.replay_table != NULL) {
        rc = fleet_replay(pamh, &cfg, user, code, &d, &err);
        if (rc != PAM_SUCCESS)
            goto out;
    }

    rc = preselect_role(pamh, &cfg, user, &picked, &err);
    if (rc != PAM_SUCCESS) {
        d.outcome = "no-role-chosen";
        goto out;
    }
    d.role = picked;
    stsrole_error_clear(&err);

    /* The proof for open_session that this login passed MFA here. */
    {
        struct stsrole_ticket_bind b = {user, item_str(pamh, PAM_SERVICE), d.rhost};

        status = stsrole_ticket_issue(cfg.state_dir, &b, "totp", (int64_t)time(NULL), &err);
        if (status != STSROLE_OK) {
            rc = status == STSROLE_E_NOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
            d.outcome = "ticket-error";
            goto out;
        }
    }

out:
    stsrole_free_secret(code);
    d.reason = err.msg;
    log_decision(pamh, rc == PAM_SUCCESS ? LOG_INFO : LOG_NOTICE, &d);
    stsrole_config_free(&cfg);
    /* Defence in depth: only the success path above may return success. */
    if (rc == PAM_IGNORE)
        rc = PAM_AUTH_ERR;
    return rc;
}

/* pam_setcred: the credentials this module hands out are tied to the
 * session, so they are minted in open_session.  Establishing or deleting
 * "credentials" here is the standard no-op that sshd and login expect. */
PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct args a;

    if (parse_args(pamh, argc, argv, &a) != 0)
        return PAM_SERVICE_ERR;
    return PAM_SUCCESS;
}

/* ---- open_session ----------------------------------------------------- */

static void
open_session_free(pam_handle_t *pamh, void *data, int error_status)
{
    struct open_session *o = data;

    if (o == NULL)
        return;
    free(o->state_dir);
    free(o->role);
    free(o->session_name);
    free(o->runtime_dir);
    stsrole_wipe(o, sizeof(*o));
    free(o);
}

static void
clear_env(pam_handle_t *pamh)
{
    size_t i;

    /* pam_putenv("NAME") without '=' deletes; Linux-PAM overwrites the
     * old "NAME=value" string before it frees it. */
    for (i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++) {
        if (pam_getenv(pamh, env_names[i]) != NULL)
            pam_putenv(pamh, env_names[i]);
    }
}

/* aws_config: credentials_mode = process.  Then no key goes into the
 * environment: the SDKs look there before the profile, so a static key
 * would win and never be refreshed. */
static int
set_env(pam_handle_t *pamh, const struct stsrole_config *cfg, const struct stsrole_role *role,
        const struct stsrole_assumed *as, const char *session_id, const char *aws_config)
{
    char expires[21];
    int rc;

    stsrole_iso8601(as->creds.expiration, expires);
    if (aws_config != NULL)
        rc = put_env(pamh, "AWS_CONFIG_FILE", aws_config) != PAM_SUCCESS ||
                     put_env(pamh, "AWS_PROFILE", STSROLE_AWS_PROFILE) != PAM_SUCCESS ||
                     /* the Go SDK (v1) reads the config file only when told to */
                     put_env(pamh, "AWS_SDK_LOAD_CONFIG", "1") != PAM_SUCCESS
                 ? PAM_BUF_ERR
                 : PAM_SUCCESS;
    else
        rc = put_env(pamh, "AWS_ACCESS_KEY_ID", as->creds.access_key_id) != PAM_SUCCESS ||
                     put_env(pamh, "AWS_SECRET_ACCESS_KEY", as->creds.secret_access_key) !=
                         PAM_SUCCESS ||
                     put_env(pamh, "AWS_SESSION_TOKEN", as->creds.session_token) != PAM_SUCCESS ||
                     put_env(pamh, "AWS_CREDENTIAL_EXPIRATION", expires) != PAM_SUCCESS
                 ? PAM_BUF_ERR
                 : PAM_SUCCESS;
    if (rc != PAM_SUCCESS || (rc = put_env(pamh, "AWS_REGION", cfg->region)) != PAM_SUCCESS ||
        (rc = put_env(pamh, "AWS_DEFAULT_REGION", cfg->region)) != PAM_SUCCESS ||
        (rc = put_env(pamh, "STSROLE_SESSION_ID", session_id)) != PAM_SUCCESS ||
        (rc = put_env(pamh, "STSROLE_ROLE_ARN", role->arn)) != PAM_SUCCESS)
        clear_env(pamh);
    return rc;
}

/* credentials_mode = process: a gateway that did not take the login's
 * credential does not stop the login (login.h); it is logged and told. */
static void
handoff_warn(pam_handle_t *pamh, int flags, const struct stsrole_login *l, const struct decision *d)
{
    struct decision w;

    w = *d;
    w.outcome = "handoff-failed";
    w.reason = l->handoff_err.msg;
    log_decision(pamh, LOG_WARNING, &w);
    if (!(flags & PAM_SILENT))
        pam_info(pamh, "stsrole: the gateway is not answering; AWS credentials follow when it "
                       "is back.");
}

/* The role of this login.  *only_requestable is set when no role fits
 * but break-glass ones do: refused all the same (a request is made from a
 * session, which needs a role of its own), with a message that says so. */
static int
choose_role(pam_handle_t *pamh, const struct stsrole_config *cfg, const char *user, gid_t gid,
            const struct stsrole_role **role, int *only_requestable, struct stsrole_error *err)
{
    const struct stsrole_role *choices[STSROLE_PAM_MAX_CHOICES];
    const struct stsrole_role *marked[STSROLE_PAM_MAX_CHOICES];
    size_t n = 0, n_marked = 0;
    int rc;

    *role = NULL;
    *only_requestable = 0;
    rc = stsrole_pam_roles_for_user(pamh, cfg, user, gid, choices, &n, err);
    if (rc != STSROLE_OK)
        return rc;
    if (n == 0) {
        rc = stsrole_pam_requestable_roles(pamh, cfg, user, gid, marked, &n_marked, err);
        if (rc != STSROLE_OK)
            return rc;
        *only_requestable = n_marked > 0;
        if (n_marked > 0)
            return stsrole_fail(err, STSROLE_E_NOTFOUND,
                                "user %s is listed in %s only for roles that need a request "
                                "(%s%s), and a request is made from a session with a role of "
                                "its own",
                                user, cfg->path != NULL ? cfg->path : "the config", marked[0]->name,
                                n_marked > 1 ? ", ..." : "");
        return stsrole_fail(err, STSROLE_E_NOTFOUND,
                            "no [role] in %s lists user %s or a group "
                            "of theirs",
                            cfg->path != NULL ? cfg->path : "the config", user);
    }
    if (n == 1) {
        *role = choices[0];
        return STSROLE_OK;
    }
    /* Chosen at auth (sshd), and still one of this user's roles. */
    *role = stsrole_pam_role_named(choices, n, pam_getenv(pamh, ENV_ROLE));
    if (*role != NULL)
        return STSROLE_OK;
    if (stsrole_pam_requestable_roles(pamh, cfg, user, gid, marked, &n_marked, err) != STSROLE_OK)
        n_marked = 0; /* only a listing: the login goes on without it */
    rc = stsrole_pam_ask_role(pamh, choices, n, marked, n_marked, role);
    if (rc == PAM_SUCCESS)
        return STSROLE_OK;
    if (rc == PAM_CONV_ERR)
        return stsrole_fail(err, STSROLE_E_INVALID,
                            "%zu roles match user %s and none was "
                            "chosen (sshd chooses during keyboard-interactive auth)",
                            n, user);
    return stsrole_fail(err, STSROLE_E_INVALID, "no valid role chosen");
}

static void
tell_user(pam_handle_t *pamh, int flags, int safe, const char *what,
          const struct stsrole_error *err)
{
    if (flags & PAM_SILENT)
        return;
    if (safe)
        pam_info(pamh, "stsrole: WARNING: %s: %s. This session has NO AWS credentials.", what,
                 stsrole_status_name(err->status));
    else
        pam_error(pamh, "stsrole: session refused: %s (%s).", what,
                  stsrole_status_name(err->status));
}

/* What AWS forced on this login, said once per process: a duration cut by
 * role chaining, and a local clock AWS refused (stsrole signed again with
 * AWS's time, learned from the answer's Date). */
static void
aws_warnings(pam_handle_t *pamh, const struct stsrole_login *l)
{
    static int chained_said, skew_said;
    int64_t skew = stsrole_aws_clock_skew();

    if (l->stage >= STSROLE_LOGIN_MINTED && l->mint.chained_from != 0 && !chained_said) {
        chained_said = 1;
        pam_syslog(pamh, LOG_WARNING,
                   "duration %d of role %s cut to %d seconds: the base credential is a role "
                   "session, and AWS caps AssumeRole from one at that (role chaining)",
                   l->mint.chained_from, l->role->name, STSROLE_CHAINED_MAX);
    }
    if (skew != 0 && !skew_said) {
        skew_said = 1;
        pam_syslog(pamh, LOG_WARNING,
                   "clock skew: the local clock is %lld s %s AWS's; requests are signed with "
                   "AWS's time (fix NTP)",
                   (long long)(skew < 0 ? -skew : skew), skew < 0 ? "ahead of" : "behind");
    }
}

PAM_EXTERN int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    static int http_ready;
    struct stsrole_config cfg;
    struct stsrole_error err;
    struct stsrole_login l;
    struct open_session *keep = NULL;
    const struct stsrole_role *role = NULL, **usable = NULL;
    const char **profiles = NULL;
    size_t n_usable = 0, i;
    struct decision d = {.phase = "open"};
    struct args a;
    const char *user, *what = NULL;
    char mfa[16];
    uint64_t sshd_start = 0;
    uid_t uid;
    gid_t gid;
    int status, rc, safe, only_requestable = 0;

    memset(&cfg, 0, sizeof(cfg));
    memset(&l, 0, sizeof(l));
    stsrole_error_clear(&err);
    if (parse_args(pamh, argc, argv, &a) != 0)
        return PAM_SERVICE_ERR;
    user = item_str(pamh, PAM_USER);
    d.user = user;
    d.rhost = item_str(pamh, PAM_RHOST);
    if (user == NULL || user[0] == '\0') {
        d.outcome = "refused";
        d.reason = "no user name";
        log_decision(pamh, LOG_ERR, &d);
        return PAM_SESSION_ERR;
    }
    status = stsrole_config_load(a.conf, &cfg, &err);
    if (status != STSROLE_OK) {
        d.outcome = "config-error";
        d.reason = err.msg;
        log_decision(pamh, LOG_ERR, &d);
        if (!(flags & PAM_SILENT))
            pam_error(pamh, "stsrole: session refused: the stsrole configuration is invalid.");
        return status == STSROLE_E_NOMEM ? PAM_BUF_ERR : PAM_SERVICE_ERR;
    }
    safe = cfg.failmode == STSROLE_FAIL_SAFE;

    /* No credential without this module's auth in this very login (a
     * Match block without keyboard-interactive, or the session line in
     * another service, must not hand out MFA-tagged credentials).  No
     * ticket, or one for another login, is policy like the role mapping
     * below: refused in either failmode.  A ticket that cannot be checked
     * (unsafe or unreadable state_dir) is a failure, which failmode
     * governs; safe then lets the person in without credentials. */
    status = stsrole_check_parents(cfg.state_dir, &err);
    if (status != STSROLE_OK) {
        what = "the stsrole state directory is not safe";
        goto fail;
    }
    {
        struct stsrole_ticket_bind b = {user, item_str(pamh, PAM_SERVICE), d.rhost};

        status = stsrole_ticket_take(cfg.state_dir, &b, (int64_t)time(NULL), mfa, &err);
        if (status != STSROLE_OK && status != STSROLE_E_NOTFOUND && status != STSROLE_E_DENIED) {
            what = "could not check that this login passed its code check";
            goto fail;
        }
        if (status != STSROLE_OK) {
            d.outcome = "refused-no-auth";
            d.reason = err.msg;
            log_decision(pamh, LOG_ERR, &d);
            if (!(flags & PAM_SILENT))
                pam_error(pamh, "stsrole: session refused: this login did not pass stsrole's "
                                "verification code check.");
            stsrole_config_free(&cfg);
            return status == STSROLE_E_NOMEM ? PAM_BUF_ERR : PAM_SESSION_ERR;
        }
    }

    /* Who may have which role is policy, not a failure: it refuses in
     * either failmode. */
    rc = lookup_user(pamh, user, &uid, &gid);
    if (rc != 0) {
        stsrole_fail(&err, STSROLE_E_NOTFOUND, "user %s: %s", user,
                     rc == ENOENT ? "unknown to the system" : strerror(rc));
        status = STSROLE_E_NOTFOUND;
    } else {
        status = choose_role(pamh, &cfg, user, gid, &role, &only_requestable, &err);
    }
    if (status != STSROLE_OK) {
        d.outcome = "refused";
        d.reason = err.msg;
        log_decision(pamh, LOG_NOTICE, &d);
        if (!(flags & PAM_SILENT) && only_requestable)
            pam_error(pamh,
                      "stsrole: session refused: %s may only request break-glass roles, and "
                      "a request is made from a session that has an AWS role of its own; ask "
                      "for such a role.",
                      user);
        else if (!(flags & PAM_SILENT) && status == STSROLE_E_NOTFOUND)
            pam_error(pamh, "stsrole: session refused: no AWS role is configured for %s.", user);
        else if (!(flags & PAM_SILENT))
            /* The person gets a plain sentence; the log line has the detail. */
            pam_error(pamh, "stsrole: session refused: no AWS role was chosen for this login.");
        stsrole_config_free(&cfg);
        return status == STSROLE_E_NOMEM ? PAM_BUF_ERR : PAM_SESSION_ERR;
    }
    d.role = role->name;

    /* From here on a failure is governed by failmode. */
    if (!http_ready) {
        status = stsrole_http_global_init(&err);
        if (status != STSROLE_OK) {
            what = "could not initialise HTTP";
            goto fail;
        }
        http_ready = 1;
    }
    /* The bastion's own credential must be root's alone, or anyone on
     * the bastion can mint what this module mints (exposure.h). */
    if (cfg.credentials == STSROLE_CREDS_IMDS) {
        enum stsrole_exposure e;
        char why[512];

        status =
            stsrole_exposure_read(cfg.state_dir, (int64_t)time(NULL), &e, why, sizeof(why), &err);
        if (status == STSROLE_OK && e != STSROLE_EXPOSURE_CLOSED && cfg.imds_exposure_warn) {
            struct decision w = d;
            w.outcome = "imds-exposed-warn";
            w.reason = why;
            log_decision(pamh, LOG_CRIT, &w);
        } else if (status == STSROLE_OK && e != STSROLE_EXPOSURE_CLOSED) {
            status = stsrole_fail(&err, STSROLE_E_UNSAFE, "%s", why);
            what = "the bastion's own AWS credential is not protected";
            goto fail;
        } else if (status != STSROLE_OK) {
            what = "the bastion's own AWS credential is not protected";
            goto fail;
        }
    }
    l.cfg = &cfg;
    l.role = role;
    l.user = user;
    l.uid = uid;
    l.gid = gid;
    l.rhost = d.rhost;
    l.tty = item_str(pamh, PAM_TTY);
    l.sshd_pid = getpid();
    /* The gateway tells this sshd from a later process with its pid. */
    if (stsrole_proc_stat(l.sshd_pid, NULL, &sshd_start, NULL) == STSROLE_OK)
        l.sshd_start = (int64_t)sshd_start;
    l.mfa = mfa;
    /* credentials_mode = process: a profile for every role the person may
     * use (stsrole.conf(5), PROFILES), and for every break-glass role they
     * may request (served once a request is approved). */
    if (cfg.credentials_mode == STSROLE_MODE_PROCESS) {
        status = stsrole_pam_usable_roles(pamh, &cfg, user, gid, 1, &usable, &n_usable, &err);
        if (status == STSROLE_OK && (profiles = calloc(n_usable + 1, sizeof(*profiles))) == NULL)
            status = stsrole_fail(&err, STSROLE_E_NOMEM, "out of memory");
        if (status != STSROLE_OK) {
            what = "could not list the person's roles";
            goto fail;
        }
        for (i = 0; i < n_usable; i++)
            profiles[i] = usable[i]->name;
        l.profiles = profiles;
        l.n_profiles = n_usable;
    }
    status = stsrole_login_open(&l, &err);
    aws_warnings(pamh, &l);
    if (l.stage >= STSROLE_LOGIN_ID)
        d.session_id = l.session_id;
    if (l.stage >= STSROLE_LOGIN_MINTED) {
        d.session_name = l.mint.session_name[0] != '\0' ? l.mint.session_name : NULL;
        d.request_id = l.request_id[0] != '\0' ? l.request_id : err.request_id;
    }
    if (status != STSROLE_OK) {
        what = l.what;
        goto fail;
    }
    if (l.configured && l.handoff_status != STSROLE_OK)
        handoff_warn(pamh, flags, &l, &d);

    keep = calloc(1, sizeof(*keep));
    if (keep != NULL) {
        memcpy(keep->session_id, l.session_id, sizeof(keep->session_id));
        keep->state_dir = strdup(cfg.state_dir);
        keep->role = strdup(role->name);
        keep->session_name = strdup(l.mint.session_name);
        keep->runtime_dir = l.configured ? strdup(cfg.runtime_dir) : NULL;
    }
    if (keep == NULL || keep->state_dir == NULL || keep->role == NULL ||
        keep->session_name == NULL || (l.configured && keep->runtime_dir == NULL)) {
        open_session_free(pamh, keep, 0);
        status = stsrole_fail(&err, STSROLE_E_NOMEM, "out of memory");
        what = "out of memory";
        goto fail;
    }
    if (pam_set_data(pamh, DATA_SESSION, keep, open_session_free) != PAM_SUCCESS) {
        open_session_free(pamh, keep, 0);
        status = stsrole_fail(&err, STSROLE_E_NOMEM, "pam_set_data failed");
        what = "could not keep the session id";
        goto fail;
    }
    if (set_env(pamh, &cfg, role, &l.as, l.session_id, l.configured ? l.aws_config : NULL) !=
        PAM_SUCCESS) {
        pam_set_data(pamh, DATA_SESSION, NULL, NULL);
        status = stsrole_fail(&err, STSROLE_E_NOMEM, "pam_putenv failed");
        what = "could not set the environment";
        goto fail;
    }
    d.outcome = "success";
    if (a.debug)
        pam_syslog(pamh, LOG_AUTHPRIV | LOG_DEBUG, "open session_id=%s access_key_id=%s",
                   l.session_id, l.as.creds.access_key_id);
    log_decision(pamh, LOG_INFO, &d);
    stsrole_login_free(&l);
    free(profiles);
    free(usable);
    stsrole_config_free(&cfg);
    return PAM_SUCCESS;

fail:
    stsrole_login_abort(&l);
    free(profiles);
    free(usable);
    d.reason = err.msg;
    d.outcome = safe ? "failopen" : "refused";
    log_decision(pamh, safe ? LOG_WARNING : LOG_ERR, &d);
    tell_user(pamh, flags, safe, what, &err);
    stsrole_config_free(&cfg);
    if (safe)
        return PAM_SUCCESS;
    return status == STSROLE_E_NOMEM ? PAM_BUF_ERR : PAM_SESSION_ERR;
}

/* ---- close_session ---------------------------------------------------- */

PAM_EXTERN int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    const struct open_session *o = NULL;
    const void *data = NULL;
    struct stsrole_error err;
    struct decision d = {.phase = "close"};
    struct args a;
    int status;

    stsrole_error_clear(&err);
    if (parse_args(pamh, argc, argv, &a) != 0)
        return PAM_SERVICE_ERR;
    d.user = item_str(pamh, PAM_USER);
    d.rhost = item_str(pamh, PAM_RHOST);
    if (pam_get_data(pamh, DATA_SESSION, &data) != PAM_SUCCESS || data == NULL) {
        /* No credentials were handed out (safe failmode, or the session
         * was never opened here): nothing to close. */
        if (a.debug)
            pam_syslog(pamh, LOG_AUTHPRIV | LOG_DEBUG, "close: no stsrole session");
        return PAM_SUCCESS;
    }
    o = data;
    d.role = o->role;
    d.session_name = o->session_name;
    d.session_id = o->session_id;
    /* Local files only: logout never waits on AWS.  The gateway revokes,
     * and removes the fleet registry item (registry.h) when there is one. */
    status = stsrole_session_mark_closed(o->state_dir, o->session_id, (int64_t)time(NULL), &err);
    if (o->runtime_dir != NULL) {
        /* The gateway removes it too, should this fail. */
        struct stsrole_error e2;
        stsrole_runtime_aws_config_remove(o->runtime_dir, o->session_id, &e2);
    }
    clear_env(pamh);
    d.outcome = status == STSROLE_OK ? "closed" : "error";
    d.reason = err.msg;
    log_decision(pamh, status == STSROLE_OK ? LOG_INFO : LOG_ERR, &d);
    pam_set_data(pamh, DATA_SESSION, NULL, NULL);
    return status == STSROLE_OK ? PAM_SUCCESS : PAM_SESSION_ERR;
}
