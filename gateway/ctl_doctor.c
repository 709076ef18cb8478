/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_doctor.c: "stsrolectl doctor": check the live bastion, read-only, one line per check. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "client.h"
#include "conf.h"
#include "ctl.h"
#include "doctor.h"
#include "iam.h"
#include "mint.h"
#include "policy.h"
#include "safefile.h"
#include "session.h"
#include "totp.h"

#define SSHD_T_MAX (256 * 1024)
#define SSHD_T_TIMEOUT_MS 10000
#define PAM_FILE_MAX (64 * 1024)
#define IMDS_PROBE_MS 2000
/* TOTP codes step every 30 s; a bastion further off than one step starts
 * refusing good codes (and SigV4 refuses requests 5 minutes off). */
#define CLOCK_MAX_SKEW 30
/* The dry-run credentials live as short as STS allows. */
#define DRY_RUN_DURATION 900
#define DOCTOR_USER "stsrole-doctor"

struct doctor {
    int json, failed;
    cJSON *checks;
};

static void report(struct doctor *d, const char *name, int ok, const char *fix, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));

static void
report(struct doctor *d, const char *name, int ok, const char *fix, const char *fmt, ...)
{
    char detail[1536], *p;
    va_list ap;
    cJSON *o;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    /* One line per check, whatever an answer from the network held. */
    for (p = detail; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    if (!ok)
        d->failed++;
    if (d->json) {
        if ((o = cJSON_CreateObject()) == NULL)
            return;
        cJSON_AddStringToObject(o, "check", name);
        cJSON_AddBoolToObject(o, "ok", ok);
        cJSON_AddStringToObject(o, "detail", detail);
        if (!ok)
            cJSON_AddStringToObject(o, "fix", fix);
        cJSON_AddItemToArray(d->checks, o);
        return;
    }
    if (ok)
        printf("\u2713 %s: %s\n", name, detail);
    else
        printf("\u2717 %s: %s; fix: %s\n", name, detail, fix);
    fflush(stdout);
}

/* -- files -------------------------------------------------------------------------------- */

/* Every directory from / down to path's parent must be root-owned and
 * writable by nobody else (a sticky root directory such as /tmp is fine:
 * only root may then replace a root-owned entry in it); the file itself a
 * root-owned regular file, not a symlink, not group/world writable, and
 * with secret != 0 not group/world readable either. */
static int
path_safe(const char *path, int secret, char *why, size_t n)
{
    char buf[PATH_MAX], *p;
    struct stat st;

    if (path[0] != '/' || strlen(path) >= sizeof(buf)) {
        snprintf(why, n, "%s: not an absolute path", path);
        return 0;
    }
    strcpy(buf, path);
    for (p = buf + 1;; p++) {
        int last = (p = strchr(p, '/')) == NULL;
        const char *dir = buf;

        if (!last)
            *p = '\0';
        if (lstat(buf[0] ? buf : "/", &st) != 0) {
            snprintf(why, n, "%s: %s", buf, strerror(errno));
            return 0;
        }
        if (S_ISLNK(st.st_mode) && (last || st.st_uid != 0)) {
            snprintf(why, n, "%s is a symbolic link%s", dir, last ? "" : " not owned by root");
            return 0;
        }
        if (st.st_uid != 0) {
            snprintf(why, n, "%s is owned by uid %u, not root", dir, (unsigned)st.st_uid);
            return 0;
        }
        if (!last && S_ISDIR(st.st_mode) && (st.st_mode & 022) && !(st.st_mode & S_ISVTX)) {
            snprintf(why, n, "directory %s is mode %04o: others can replace what is in it", dir,
                     (unsigned)(st.st_mode & 07777));
            return 0;
        }
        if (last) {
            if (!S_ISREG(st.st_mode)) {
                snprintf(why, n, "%s is not a regular file", dir);
                return 0;
            }
            if (st.st_mode & (secret ? 077 : 022)) {
                snprintf(why, n, "%s is mode %04o, wants %s", dir, (unsigned)(st.st_mode & 07777),
                         secret ? "0600" : "no group or other write (0600 or 0644)");
                return 0;
            }
            snprintf(why, n, "%s: root, mode %04o, every directory above it root-owned", dir,
                     (unsigned)(st.st_mode & 07777));
            return 1;
        }
        *p = '/';
    }
}

/* The path, then the real directory it resolves to (a root-owned symlink
 * on the way may point elsewhere). */
static int
path_and_target_safe(const char *path, int secret, char *why, size_t n)
{
    char real[PATH_MAX];

    if (!path_safe(path, secret, why, n))
        return 0;
    if (realpath(path, real) == NULL || strcmp(real, path) == 0)
        return 1;
    return path_safe(real, secret, why, n);
}

static void
check_config(struct doctor *d, const char *path, struct stsrole_config *cfg, int *loaded)
{
    struct stsrole_error err;
    char why[PATH_MAX + 128], acct[13], rname[65];
    const char *first = NULL;
    size_t i, n;
    int ok;

    ok = path_and_target_safe(path, 0, why, sizeof(why));
    report(d, "config.path", ok,
           "chown root:root on the file and every directory above it, chmod 0600 the file "
           "(chmod go-w the directories)",
           "%s", why);
    *loaded = stsrole_config_load(path, cfg, &err) == STSROLE_OK;
    if (!*loaded) {
        report(d, "config.syntax", 0, "correct the line named, see stsrole.conf(5)", "%s", err.msg);
        report(d, "config.roles", 0, "load the configuration first",
               "not checked: the configuration did not load");
        return;
    }
    report(d, "config.syntax", 1, "", "%s parses: bastion %s, %zu role%s", cfg->path,
           cfg->bastion_id, cfg->n_roles, cfg->n_roles == 1 ? "" : "s");
    if (cfg->n_roles == 0) {
        report(d, "config.roles", 0, "add a [role NAME] section with arn, revoker_arn and users",
               "no [role ...] section: nobody can get a credential");
        return;
    }
    for (i = 0; i < cfg->n_roles; i++) {
        const struct stsrole_role *r = &cfg->roles[i];
        if (r->arn == NULL || stsrole_arn_role(r->arn, acct, rname, &err) != STSROLE_OK) {
            report(d, "config.roles", 0, "give the role an arn = arn:aws:iam::ACCOUNT:role/NAME",
                   "[role %s]: no valid role ARN", r->name);
            return;
        }
        if (r->revoker_arn == NULL ||
            stsrole_arn_role(r->revoker_arn, acct, rname, &err) != STSROLE_OK) {
            report(d, "config.roles", 0,
                   "set revoker_arn (examples/aws/iam/revoker-trust-policy.json)",
                   "[role %s]: no valid revoker_arn: its credentials could not be revoked",
                   r->name);
            return;
        }
        if ((r->users == NULL || r->users[0] == NULL) &&
            (r->groups == NULL || r->groups[0] == NULL)) {
            report(d, "config.roles", 0, "add users = or groups = to the role",
                   "[role %s]: neither users nor groups: nobody may use it", r->name);
            return;
        }
    }
    report(d, "config.roles", 1, "", "%zu role%s, each with an ARN, a revoker and its people",
           cfg->n_roles, cfg->n_roles == 1 ? "" : "s");
    /* A break-glass credential is served as a profile of the requester's
     * session: only credentials_mode = process has profiles. */
    for (i = 0, n = 0; i < cfg->n_roles; i++)
        if (stsrole_role_needs_request(&cfg->roles[i]) && n++ == 0)
            first = cfg->roles[i].name;
    if (n > 0)
        report(d, "config.breakglass", cfg->credentials_mode == STSROLE_MODE_PROCESS,
               "set credentials_mode = process (stsrole.conf(5))",
               "%zu role%s taken only through a request (%s%s)%s", n, n == 1 ? "" : "s", first,
               n > 1 ? ", ..." : "",
               cfg->credentials_mode == STSROLE_MODE_PROCESS
                   ? ": served as the requester's session profile once approved"
                   : ": without credentials_mode = process nobody can use them");
}

static void
check_usersfile(struct doctor *d, const struct stsrole_config *cfg)
{
    const char *fix =
        "chown root:root and chmod 0600 the users file, keep its directory root-owned "
        "and 0700 or 0755, and give each entry a hex secret of even length";
    struct stsrole_error err;
    struct stsrole_buf text;
    char why[PATH_MAX + 128];

    if (cfg->usersfile == NULL) {
        report(d, "usersfile", 0, "set usersfile in stsrole.conf", "usersfile is not set");
        return;
    }
    if (!path_and_target_safe(cfg->usersfile, 1, why, sizeof(why))) {
        report(d, "usersfile", 0, fix, "%s", why);
        return;
    }
    if (stsrole_totp_check_usersfile(cfg->usersfile, &err) != STSROLE_OK ||
        stsrole_read_safely(cfg->usersfile, 0, STSROLE_SAFE_SECRET, 1024 * 1024, &text, &err) !=
            STSROLE_OK) {
        report(d, "usersfile", 0, fix, "%s", err.msg);
        return;
    }
    if (stsrole_totp_lint(text.data, text.len, cfg->usersfile, &err) != STSROLE_OK) {
        stsrole_buf_free(&text);
        report(d, "usersfile", 0, fix, "%s", err.msg);
        return;
    }
    stsrole_buf_free(&text);
    report(d, "usersfile", 1, "", "%s", why);
}

/* -- sshd ------------------------------------------------------------------------------- */

/* Runs argv with stdout and stderr into out (at most max bytes), without
 * a shell; *status is its wait status.  Returns 0, or -1 with why set. */
static int
run_capture(char *const argv[], struct stsrole_buf *out, int *status, char *why, size_t n)
{
    int pfd[2], devnull;
    pid_t pid;
    char chunk[4096];
    struct timespec start, now;

    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(why, n, "pipe: %s", strerror(errno));
        return -1;
    }
    if ((pid = fork()) < 0) {
        snprintf(why, n, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        devnull = open("/dev/null", O_RDONLY);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(pfd[1], 1) < 0 || dup2(pfd[1], 2) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct pollfd p = {pfd[0], POLLIN, 0};
        long waited;
        ssize_t r;

        clock_gettime(CLOCK_MONOTONIC, &now);
        waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (waited >= SSHD_T_TIMEOUT_MS || poll(&p, 1, (int)(SSHD_T_TIMEOUT_MS - waited)) == 0) {
            kill(pid, SIGKILL);
            snprintf(why, n, "%s did not finish within %d s", argv[0], SSHD_T_TIMEOUT_MS / 1000);
            break;
        }
        r = read(pfd[0], chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (stsrole_buf_append(out, chunk, (size_t)r) != STSROLE_OK) {
            kill(pid, SIGKILL);
            snprintf(why, n, "%s printed more than %zu bytes", argv[0], out->max);
            break;
        }
    }
    close(pfd[0]);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL)
        return -1;
    return 0;
}

static void
check_sshd(struct doctor *d, const char *sshd, const char *sshd_config)
{
    static const char *const names[] = {"sshd.usepam", "sshd.authenticationmethods",
                                        "sshd.permituserenvironment", "sshd.exposeauthinfo"};
    char *argv[] = {(char *)sshd, "-T", "-f", (char *)sshd_config, NULL};
    char why[512] = "", v[1024];
    const char *fix;
    struct stsrole_buf out;
    int status = 0, rc;
    size_t i, l;

    stsrole_buf_init(&out, SSHD_T_MAX);
    rc = run_capture(argv, &out, &status, why, sizeof(why));
    if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (why[0] == '\0') {
            /* sshd's own complaint: its first line */
            l = strcspn(out.data ? out.data : "", "\n");
            snprintf(why, sizeof(why), "%s -T -f %s failed: %.*s", sshd, sshd_config,
                     (int)(l > 300 ? 300 : l), out.data ? out.data : "");
        }
        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            report(d, names[i], 0, "make `sshd -t` pass (run as root)", "%s", why);
        stsrole_buf_free(&out);
        return;
    }
    rc = stsrole_sshd_value(out.data, out.len, "usepam", v, sizeof(v));
    report(d, names[0], rc && strcmp(v, "yes") == 0,
           "set \"UsePAM yes\" (examples/bastion/sshd_config.d-stsrole.conf)", "UsePAM %s: %s",
           rc ? v : "unknown",
           rc && strcmp(v, "yes") == 0 ? "logins go through the PAM stack"
                                       : "sshd never calls pam_stsrole");
    rc = stsrole_sshd_value(out.data, out.len, "authenticationmethods", v, sizeof(v));
    fix = "set \"AuthenticationMethods publickey,keyboard-interactive:pam\"";
    report(d, names[1], rc && stsrole_authmethods_mfa(v), fix, "AuthenticationMethods %s: %s",
           rc ? v : "unknown",
           rc && stsrole_authmethods_mfa(v)
               ? "every login needs a key, then the code"
               : "a login can succeed without both a key and keyboard-interactive after it");
    rc = stsrole_sshd_value(out.data, out.len, "permituserenvironment", v, sizeof(v));
    report(d, names[2], rc && strcmp(v, "no") == 0, "set \"PermitUserEnvironment no\"",
           "PermitUserEnvironment %s: %s", rc ? v : "unknown",
           rc && strcmp(v, "no") == 0 ? "a client cannot set AWS_* itself"
                                      : "a person could set AWS_* or LD_PRELOAD for their session");
    rc = stsrole_sshd_value(out.data, out.len, "exposeauthinfo", v, sizeof(v));
    report(d, names[3], rc && strcmp(v, "yes") == 0, "set \"ExposeAuthInfo yes\"",
           "ExposeAuthInfo %s: %s", rc ? v : "unknown",
           rc && strcmp(v, "yes") == 0 ? "the session knows which key logged in"
                                       : "the audit trail cannot name the key used");
    stsrole_buf_free(&out);
}

/* -- PAM -------------------------------------------------------------------------------- */

struct pam_ctx {
    const char *dir;
};

static int
pam_load(void *ctx, const char *name, char **text, struct stsrole_error *err)
{
    const struct pam_ctx *p = ctx;
    char path[PATH_MAX];
    struct stsrole_buf b;
    int rc;

    if (name[0] == '/')
        snprintf(path, sizeof(path), "%s", name);
    else if ((size_t)snprintf(path, sizeof(path), "%s/%s", p->dir, name) >= sizeof(path))
        return stsrole_fail(err, STSROLE_E_INVALID, "%s: name too long", name);
    /* PAM files are code: root-owned, writable by root alone. */
    if ((rc = stsrole_read_safely(path, 0, 0, PAM_FILE_MAX, &b, err)) != STSROLE_OK)
        return rc;
    *text = stsrole_buf_steal(&b);
    return *text != NULL ? STSROLE_OK : stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
}

/* Every pam_stsrole line reads the configuration this run checks. */
static void
check_pam_config(struct doctor *d, const struct stsrole_pam_stack *s, const char *config)
{
    char want[PATH_MAX], got[PATH_MAX], used[PATH_MAX];
    size_t i;

    if (realpath(config, want) == NULL)
        snprintf(want, sizeof(want), "%s", config);
    for (i = 0; i < s->n; i++) {
        const char *a = s->v[i].args, *c = NULL;

        if (strcmp(s->v[i].module, "pam_stsrole.so") != 0)
            continue;
        for (; *a != '\0'; a += strcspn(a, " \t")) {
            a += strspn(a, " \t");
            if (strncmp(a, "conf=", 5) == 0)
                c = a + 5;
        }
        if (c != NULL)
            snprintf(used, sizeof(used), "%.*s", (int)strcspn(c, " \t"), c);
        else
            snprintf(used, sizeof(used), "%s", STSROLE_DEFAULT_CONF);
        if (realpath(used, got) == NULL)
            snprintf(got, sizeof(got), "%s", used);
        if (strcmp(got, want) != 0) {
            report(d, "pam.config", 0, "run stsrolectl doctor --config with that file",
                   "pam_stsrole (%s) reads %s, not %s, which this run checked", s->v[i].origin,
                   used, config);
            return;
        }
    }
    report(d, "pam.config", 1, "", "every pam_stsrole line reads %s", config);
}

static void
check_pam(struct doctor *d, const char *service, const char *config)
{
    struct pam_ctx ctx = {"/etc/pam.d"};
    struct stsrole_pam_stack s;
    struct stsrole_pam_verdict v;
    struct stsrole_error err;
    char *text = NULL;
    const char *where = "(examples/bastion/pam.d-sshd)";
    char fix[256];

    if (strchr(service, '/') != NULL || service[0] == '.') {
        report(d, "pam.auth", 0, "name a service in /etc/pam.d", "'%s' is not a service name",
               service);
        return;
    }
    if (pam_load(&ctx, service, &text, &err) != STSROLE_OK ||
        stsrole_pam_stack_parse(text, service, pam_load, &ctx, &s, &err) != STSROLE_OK) {
        free(text);
        snprintf(fix, sizeof(fix), "fix /etc/pam.d/%s (pam.d(5)): root-owned, 0644", service);
        report(d, "pam.auth", 0, fix, "/etc/pam.d/%s: %s", service, err.msg);
        report(d, "pam.faillock", 0, "fix the service file first", "not checked");
        report(d, "pam.skip", 0, "fix the service file first", "not checked");
        report(d, "pam.session", 0, "fix the service file first", "not checked");
        report(d, "pam.config", 0, "fix the service file first", "not checked");
        return;
    }
    free(text);
    stsrole_pam_judge(&s, "pam_stsrole.so", &v);
    snprintf(fix, sizeof(fix),
             "in /etc/pam.d/%s: \"auth [success=1 default=bad] pam_stsrole.so\" %s", service,
             where);
    report(d, "pam.auth", v.auth[0] == '\0', fix, "%s",
           v.auth[0] ? v.auth : "pam_stsrole asks for the code, and its failure fails the login");
    snprintf(fix, sizeof(fix),
             "in /etc/pam.d/%s: pam_faillock.so preauth before pam_stsrole, authfail after %s",
             service, where);
    report(d, "pam.faillock", v.faillock[0] == '\0', fix, "%s",
           v.faillock[0] ? v.faillock : "between pam_faillock preauth and authfail");
    snprintf(fix, sizeof(fix),
             "in /etc/pam.d/%s: move that module after pam_stsrole or make it required %s", service,
             where);
    report(d, "pam.skip", v.skip[0] == '\0', fix, "%s",
           v.skip[0] ? v.skip : "no module before it can end auth without the code");
    snprintf(fix, sizeof(fix), "in /etc/pam.d/%s: \"session required pam_stsrole.so\" %s", service,
             where);
    report(d, "pam.session", v.session[0] == '\0', fix, "%s",
           v.session[0] ? v.session : "pam_stsrole opens and closes every session");
    check_pam_config(d, &s, config);
    stsrole_pam_stack_free(&s);
}

/* -- IMDS ------------------------------------------------------------------------------- */

/* host and port of an http://HOST[:PORT][/...] endpoint */
static int
endpoint_host(const char *url, char *host, size_t hn, char *port, size_t pn)
{
    const char *p, *end, *colon;
    size_t l;

    if (strncmp(url, "http://", 7) != 0)
        return -1;
    p = url + 7;
    end = p + strcspn(p, "/?#");
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (close == NULL)
            return -1;
        l = (size_t)(close - p - 1);
        if (l == 0 || l >= hn)
            return -1;
        memcpy(host, p + 1, l);
        host[l] = '\0';
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        l = (size_t)((colon ? colon : end) - p);
        if (l == 0 || l >= hn)
            return -1;
        memcpy(host, p, l);
        host[l] = '\0';
    }
    l = colon ? (size_t)(end - colon - 1) : 2;
    if (l == 0 || l >= pn)
        return -1;
    if (colon) {
        memcpy(port, colon + 1, l);
        port[l] = '\0';
    } else {
        strcpy(port, "80");
    }
    return 0;
}

/* In a child that has given up root for `nobody`: 0 when a TCP connection
 * to host:port cannot be made, 1 when it can, 2 when the probe could not
 * run. */
static int
probe_as_nobody(const char *host, const char *port)
{
    struct addrinfo hints, *ai = NULL;
    struct passwd *pw = getpwnam("nobody");
    struct pollfd p;
    int fd, e = 0;
    socklen_t el = sizeof(e);

    if (pw == NULL || setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0 || getuid() == 0 || geteuid() == 0)
        return 2;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return 2;
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return 2;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        freeaddrinfo(ai);
        if (errno != EINPROGRESS)
            return 0; /* refused at once: a reject rule, or nothing there */
        p.fd = fd;
        p.events = POLLOUT;
        if (poll(&p, 1, IMDS_PROBE_MS) <= 0)
            return 0; /* dropped: nothing answered */
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
            return 2;
        if (e != 0)
            return 0;
    } else {
        freeaddrinfo(ai);
    }
    /* Reachable.  Nothing is sent; the connection is held until the peer
     * closes it or the probe time ends, so that whoever listens can see
     * which uid connected (tests/doctor's stand-in checks it is nobody). */
    p.fd = fd;
    p.events = POLLIN;
    poll(&p, 1, IMDS_PROBE_MS);
    return 1;
}

static void
check_imds(struct doctor *d, const struct stsrole_config *cfg)
{
    const char *url =
        cfg != NULL && cfg->imds_endpoint ? cfg->imds_endpoint : "http://169.254.169.254";
    const char *fix = "load the nftables rule that gives IMDS to root alone "
                      "(/usr/share/doc/stsrole-gateway/examples/imds-lockdown.nft)";
    char host[128], port[16];
    pid_t pid;
    int status = 0;

    if (endpoint_host(url, host, sizeof(host), port, sizeof(port)) != 0) {
        report(d, "imds", 0, "set imds_endpoint to http://HOST[:PORT]",
               "cannot read host and port from %s", url);
        return;
    }
    if (geteuid() != 0) {
        report(d, "imds", 0, "run stsrolectl doctor as root",
               "not checked: the probe must drop from root to nobody");
        return;
    }
    fflush(NULL);
    if ((pid = fork()) < 0) {
        report(d, "imds", 0, "retry", "fork: %s", strerror(errno));
        return;
    }
    if (pid == 0)
        _exit(probe_as_nobody(host, port));
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 2) {
        report(d, "imds", 0, "make sure the user nobody exists",
               "the probe as nobody could not run against %s:%s", host, port);
        return;
    }
    if (WEXITSTATUS(status) == 1)
        report(d, "imds", 0, fix,
               "%s:%s is reachable as uid nobody: anyone with a shell can take the bastion's "
               "credential",
               host, port);
    else
        report(d, "imds", 1, "", "%s:%s is unreachable as uid nobody", host, port);
}

/* -- the clock and AWS ------------------------------------------------------------------ */

static double
now_real(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An unsigned request: STS refuses it, and its answer carries the Date. */
static void
check_clock(struct doctor *d, const struct stsrole_config *cfg,
            const struct stsrole_http_config *http)
{
    struct stsrole_http_request req;
    struct stsrole_http_response resp;
    struct stsrole_error err;
    double t0, t1, off;

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = cfg->sts_endpoint;
    t0 = now_real();
    if (stsrole_http_perform(http, &req, &resp, &err) != STSROLE_OK) {
        report(d, "clock", 0, "make sts_endpoint reachable", "no answer from STS: %s", err.msg);
        return;
    }
    t1 = now_real();
    stsrole_http_response_free(&resp);
    if (resp.date <= 0) {
        report(d, "clock", 0, "check sts_endpoint", "%s sent no readable Date header",
               cfg->sts_endpoint);
        return;
    }
    off = (double)resp.date - (t0 + t1) / 2;
    if (off <= CLOCK_MAX_SKEW && off >= -CLOCK_MAX_SKEW)
        report(d, "clock", 1, "", "within %.0f s of STS's Date (limit %d s: TOTP steps are 30 s)",
               off < 0 ? -off : off, CLOCK_MAX_SKEW);
    else
        report(d, "clock", 0,
               "synchronise the clock (chrony or systemd-timesyncd with the Amazon Time Sync "
               "Service, 169.254.169.123)",
               "this clock is %.0f s %s STS's Date (limit %d s: TOTP steps are 30 s)",
               off < 0 ? -off : off, off > 0 ? "behind" : "ahead of", CLOCK_MAX_SKEW);
}

static void
check_base(struct doctor *d, const struct stsrole_config *cfg,
           const struct stsrole_http_config *http, struct stsrole_creds_provider *base,
           int *base_ok)
{
    struct stsrole_aws_client c;
    struct stsrole_http_response resp;
    struct stsrole_error err;
    char arn[256];

    *base_ok = 0;
    if (stsrole_client_provider(cfg, http, base, &err) != STSROLE_OK) {
        report(d, "aws.base", 0, "check credentials = in stsrole.conf", "%s", err.msg);
        return;
    }
    stsrole_client_aws(cfg, http, base, "sts", cfg->sts_endpoint, &c);
    if (stsrole_aws_query(&c, "Action=GetCallerIdentity&Version=2011-06-15", &resp, &err) !=
        STSROLE_OK) {
        report(d, "aws.base", 0,
               "give the bastion its instance profile (credentials = imds) or valid keys",
               "GetCallerIdentity: %s", err.msg);
        return;
    }
    if (stsrole_caller_arn(resp.body.data, resp.body.len, arn, sizeof(arn)) != 0)
        snprintf(arn, sizeof(arn), "(no Arn in the answer)");
    stsrole_http_response_free(&resp);
    *base_ok = 1;
    report(d, "aws.base", 1, "", "the base credential works: %s", arn);
}

static void
check_role(struct doctor *d, const struct stsrole_config *cfg,
           const struct stsrole_http_config *http, struct stsrole_creds_provider *base,
           const struct stsrole_role *r)
{
    struct stsrole_assume_params ap;
    struct stsrole_aws_client c;
    struct stsrole_assumed a;
    struct stsrole_tag tags[50];
    struct stsrole_error err;
    char name[48], id[33], session[65], request_id[128], sid[STSROLE_SID_LEN + 1];

    snprintf(name, sizeof(name), "aws.role:%.30s", r->name);
    /* A dry run of a break-glass role would mint it without its approvals
     * (and set off the alarms that watch it): its trust is left unproven. */
    if (stsrole_role_needs_request(r)) {
        report(d, name, 1, "",
               "%s not assumed: break-glass, taken only through a request (%d approval%s "
               "needed); a dry run would bypass it",
               r->arn, r->approvals, r->approvals == 1 ? "" : "s");
        return;
    }
    if (stsrole_session_id(id, &err) != STSROLE_OK ||
        /* the login's tags, stsrole:mfa=totp included, or the trust policy
         * under test would refuse the dry run for the wrong reason */
        stsrole_mint_params(cfg, r, DOCTOR_USER, id, id, "totp", tags, session, sid, &ap, &err) !=
            STSROLE_OK) {
        report(d, name, 0, "fix the role's section", "%s", err.msg);
        return;
    }
    ap.duration = DRY_RUN_DURATION;
    stsrole_client_aws(cfg, http, base, "sts", cfg->sts_endpoint, &c);
    if (stsrole_mint_assume(&c, &ap, &a, request_id, &err) != STSROLE_OK) {
        report(d, name, 0,
               "let the bastion's principal assume the role with SourceIdentity and session tags "
               "(examples/aws/iam/workload-trust-policy.json)",
               "AssumeRole %s: %s", r->arn, err.msg);
        return;
    }
    report(d, name, 1, "", "assumed %s as %s (dry run, %d s, discarded)", r->arn, session,
           DRY_RUN_DURATION);
    stsrole_assumed_free(&a);
}

static void
check_revoker(struct doctor *d, const struct stsrole_config *cfg,
              const struct stsrole_http_config *http, struct stsrole_creds_provider *base,
              const struct stsrole_role *r)
{
    struct stsrole_assume_params ap;
    struct stsrole_aws_client c;
    struct stsrole_assumed a;
    struct stsrole_error err;
    struct stsrole_revoked_set set;
    struct stsrole_policy_budget b;
    char name[48], bname[48], session[65], request_id[128], acct[13], rname[65], pol[129];
    char **names = NULL, *doc = NULL, *other;
    size_t i, others = 0;
    int64_t now = (int64_t)time(NULL);
    int rc;

    snprintf(name, sizeof(name), "aws.revoker:%.28s", r->name);
    snprintf(bname, sizeof(bname), "aws.budget:%.29s", r->name);
    if (r->revoker_arn == NULL || stsrole_arn_role(r->arn, acct, rname, &err) != STSROLE_OK) {
        report(d, name, 0, "set revoker_arn", "[role %s] has no usable revoker_arn", r->name);
        report(d, bname, 0, "set revoker_arn", "not checked");
        return;
    }
    memset(&ap, 0, sizeof(ap));
    if (stsrole_session_name(DOCTOR_USER, cfg->bastion_id, "revoker", session, &err) !=
        STSROLE_OK) {
        report(d, name, 0, "check bastion_id", "%s", err.msg);
        report(d, bname, 0, "check bastion_id", "not checked");
        return;
    }
    ap.role_arn = r->revoker_arn;
    ap.session_name = session;
    ap.duration = DRY_RUN_DURATION;
    stsrole_client_aws(cfg, http, base, "sts", cfg->sts_endpoint, &c);
    if (stsrole_mint_assume(&c, &ap, &a, request_id, &err) != STSROLE_OK) {
        report(d, name, 0,
               "let the bastion assume the revoker (examples/aws/iam/revoker-trust-policy.json)",
               "AssumeRole %s: %s", r->revoker_arn, err.msg);
        report(d, bname, 0, "make the revoker work first", "not checked");
        return;
    }
    memset(&c, 0, sizeof(c));
    c.http = http;
    c.creds = &a.creds;
    c.region = cfg->partition->iam_region; /* IAM signs for its partition's region */
    c.service = "iam";
    c.endpoint = cfg->iam_endpoint;
    stsrole_policy_name(cfg->bastion_id, pol);
    rc = stsrole_iam_get_role_policy(&c, rname, pol, &doc, NULL, &err);
    if (rc != STSROLE_OK && rc != STSROLE_E_NOTFOUND) {
        stsrole_assumed_free(&a);
        report(d, name, 0,
               "allow the revoker iam:GetRolePolicy, iam:PutRolePolicy and "
               "iam:DeleteRolePolicy on the role (examples/aws/iam/revoker-policy.json)",
               "GetRolePolicy %s on %s: %s", pol, rname, err.msg);
        report(d, bname, 0, "make the revoker work first", "not checked");
        return;
    }
    report(d, name, 1, "", "%s can read %s on %s (%s)", r->revoker_arn, pol, rname,
           rc == STSROLE_OK ? "present" : "not written yet");
    stsrole_revoked_init(&set);
    if (doc != NULL &&
        stsrole_revoked_from_json(doc, strlen(doc), now, now + STSROLE_POLICY_MAX_TOKEN_LIFE, &set,
                                  &err) != STSROLE_OK) {
        report(d, bname, 0, "let the gateway rewrite it, or delete it",
               "%s on %s does not parse: %s", pol, rname, err.msg);
        goto out;
    }
    if (stsrole_iam_list_role_policies(&c, rname, &names, &err) != STSROLE_OK) {
        report(d, bname, 0, "allow the revoker iam:ListRolePolicies and iam:GetRolePolicy",
               "ListRolePolicies on %s: %s", rname, err.msg);
        goto out;
    }
    for (i = 0; names[i] != NULL; i++) {
        if (strcmp(names[i], pol) == 0)
            continue;
        if (stsrole_iam_get_role_policy(&c, rname, names[i], &other, NULL, &err) != STSROLE_OK) {
            report(d, bname, 0, "allow the revoker iam:GetRolePolicy on the role",
                   "GetRolePolicy %s on %s: %s", names[i], rname, err.msg);
            goto out;
        }
        others += stsrole_policy_size(other, strlen(other));
        free(other);
    }
    if (stsrole_revoked_budget(&set, others, &b, &err) != STSROLE_OK || b.capacity == 0)
        report(d, bname, 0,
               "make the role's other inline policies smaller, or move them to managed policies",
               "%s: other inline policies use %zu of %d characters, the deny list %zu: no room "
               "for one more revocation",
               rname, others, STSROLE_POLICY_BUDGET, b.used);
    else
        report(d, bname, 1, "",
               "%s: other inline policies use %zu of %d characters, the deny list %zu: room for "
               "%zu more revocations",
               rname, others, STSROLE_POLICY_BUDGET, b.used, b.capacity);
out:
    stsrole_strv_free(names);
    free(doc);
    stsrole_revoked_free(&set);
    stsrole_assumed_free(&a);
}

/* -- the gateway ------------------------------------------------------------------------ */

static void
check_gateway(struct doctor *d, const struct stsrole_config *cfg)
{
    cJSON *req = cJSON_CreateObject(), *resp = NULL;
    const cJSON *health, *ship, *failing, *queue, *last;
    char shipping[256] = "";

    if (req == NULL || cJSON_AddStringToObject(req, "cmd", "status") == NULL ||
        ctl_gateway_ask(cfg, req, &resp) != CTL_EXIT_OK) {
        cJSON_Delete(req);
        report(d, "gateway", 0, "systemctl enable --now stsrole-gatewayd",
               "not reachable at %s/gatewayd.sock: nothing would be revoked at logout",
               cfg->state_dir);
        return;
    }
    cJSON_Delete(req);
    health = cJSON_GetObjectItemCaseSensitive(resp, "health");
    queue = cJSON_GetObjectItemCaseSensitive(resp, "queue");
    failing = cJSON_GetObjectItemCaseSensitive(resp, "failing");
    ship = cJSON_GetObjectItemCaseSensitive(resp, "ship");
    if (ship != NULL) {
        last = cJSON_GetObjectItemCaseSensitive(ship, "last_ok");
        snprintf(shipping, sizeof(shipping), ", last shipped %s%s",
                 cJSON_IsString(last) ? last->valuestring : "never",
                 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ship, "failing"))
                     ? " (shipping FAILING)"
                     : "");
    }
    report(d, "gateway",
           cJSON_IsString(health) && strcmp(health->valuestring, "ok") == 0 &&
               !(cJSON_IsNumber(failing) && failing->valuedouble > 0) &&
               !(ship != NULL && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ship, "failing"))),
           "see stsrolectl status and journalctl -u stsrole-gatewayd",
           "running, health %s, %.0f revocation%s queued, %.0f failing%s",
           cJSON_IsString(health) ? health->valuestring : "unknown",
           cJSON_IsNumber(queue) ? queue->valuedouble : 0,
           cJSON_IsNumber(queue) && queue->valuedouble == 1 ? "" : "s",
           cJSON_IsNumber(failing) ? failing->valuedouble : 0, shipping);
    cJSON_Delete(resp);
}

/* -- the command ------------------------------------------------------------------------ */

static void
not_checked(struct doctor *d, const char *name)
{
    report(d, name, 0, "make the configuration load first",
           "not checked: the configuration did not load");
}

int
ctl_doctor(int argc, char **argv, const char *config_path)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"sshd", required_argument, NULL, 's'},
                                         {"sshd-config", required_argument, NULL, 'f'},
                                         {"pam-service", required_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    const char *sshd = "/usr/sbin/sshd", *sshd_config = "/etc/ssh/sshd_config";
    const char *service = "sshd";
    struct doctor d;
    struct stsrole_config cfg;
    struct stsrole_http_config http;
    struct stsrole_creds_provider base;
    struct stsrole_error err;
    int c, loaded = 0, base_ok = 0;
    size_t i;

    memset(&d, 0, sizeof(d));
    memset(&cfg, 0, sizeof(cfg));
    memset(&base, 0, sizeof(base));
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'j':
            d.json = 1;
            break;
        case 's':
            sshd = optarg;
            break;
        case 'f':
            sshd_config = optarg;
            break;
        case 'p':
            service = optarg;
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "usage: stsrolectl doctor [--json] [--sshd-config PATH] [--sshd PATH] "
                        "[--pam-service NAME]\n");
        return CTL_EXIT_USAGE;
    }
    if (d.json && (d.checks = cJSON_CreateArray()) == NULL)
        return CTL_EXIT_FAIL;

    check_config(&d, config_path ? config_path : STSROLE_DEFAULT_CONF, &cfg, &loaded);
    if (loaded)
        check_usersfile(&d, &cfg);
    else
        not_checked(&d, "usersfile");
    check_sshd(&d, sshd, sshd_config);
    check_pam(&d, service, config_path ? config_path : STSROLE_DEFAULT_CONF);
    check_imds(&d, loaded ? &cfg : NULL);
    if (loaded && stsrole_http_global_init(&err) == STSROLE_OK) {
        stsrole_client_http(&cfg, &http);
        check_clock(&d, &cfg, &http);
        check_base(&d, &cfg, &http, &base, &base_ok);
        for (i = 0; i < cfg.n_roles; i++) {
            if (!base_ok) {
                report(&d, "aws.roles", 0, "make the base credential work first",
                       "not checked: the base credential does not work");
                break;
            }
            check_role(&d, &cfg, &http, &base, &cfg.roles[i]);
            check_revoker(&d, &cfg, &http, &base, &cfg.roles[i]);
        }
        stsrole_creds_provider_free(&base);
        check_gateway(&d, &cfg);
    } else {
        not_checked(&d, "clock");
        not_checked(&d, "aws.base");
        not_checked(&d, "gateway");
    }
    if (d.json) {
        cJSON *o = cJSON_CreateObject();
        char *text;

        cJSON_AddBoolToObject(o, "ok", d.failed == 0);
        cJSON_AddNumberToObject(o, "failed", d.failed);
        cJSON_AddItemToObject(o, "checks", d.checks);
        text = cJSON_Print(o);
        printf("%s\n", text ? text : "{}");
        free(text);
        cJSON_Delete(o);
    } else {
        printf("%d check%s failed\n", d.failed, d.failed == 1 ? "" : "s");
    }
    if (loaded)
        stsrole_config_free(&cfg);
    return d.failed == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}
