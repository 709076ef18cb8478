/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_imds.c: checks, at start and then periodically, whether a uid other than root reaches IMDS. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <curl/curl.h>

#include "exposure.h"
#include "gw.h"
#include "gw_imds.h"

#define PROBE_CONNECT_MS 1000
#define PROBE_WAIT_MS (PROBE_CONNECT_MS + 1000)

/* Host and port of url (curl's parser; the port defaults by scheme). */
static int
endpoint_addr(const char *url, char *host, size_t hostlen, char *port, size_t portlen)
{
    CURLU *u = curl_url();
    char *h = NULL, *p = NULL;
    int rc = -1;

    if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        /* IPv6 literals come back in brackets */
        size_t n = strlen(h);
        if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
            h[n - 1] = '\0';
            memmove(h, h + 1, n - 1);
        }
        if ((size_t)snprintf(host, hostlen, "%s", h) < hostlen &&
            (size_t)snprintf(port, portlen, "%s", p) < portlen)
            rc = 0;
    }
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return rc;
}

/* In the child, as uid/gid with no supplementary groups: one non-blocking
 * connect.  'O' it connected, 'C' it did not (refused, unreachable, timed
 * out), 'E' the check could not be made. */
static char
probe_as(const struct addrinfo *ai, uid_t uid, gid_t gid)
{
    struct pollfd p;
    socklen_t len = sizeof(int);
    int fd, soerr = 0;

    if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0 || getuid() != uid ||
        geteuid() != uid || (uid != 0 && setuid(0) == 0))
        return 'E';
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 'E';
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return 'O';
    if (errno != EINPROGRESS)
        return 'C';
    p = (struct pollfd){.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, PROBE_CONNECT_MS) != 1)
        return 'C';
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        return 'E';
    return soerr == 0 ? 'O' : 'C';
}

/* Starts the check as uid/gid: a child that drops to them and writes its
 * verdict into a pipe the main loop polls (gw_imds_fd), so a firewall that
 * drops the probe never stalls revocation.  -1 with why filled when it
 * cannot start. */
static int
probe_start(struct gw *g, const char *url, uid_t uid, gid_t gid, char *why, size_t whylen)
{
    struct addrinfo hints, *ai = NULL;
    char host[256], port[16];
    int pfd[2];
    pid_t pid;

    if (endpoint_addr(url, host, sizeof(host), port, sizeof(port)) != 0) {
        snprintf(why, whylen, "imds_endpoint %s: cannot parse it", url);
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &ai) != 0) {
        snprintf(why, whylen, "imds_endpoint %s: the check needs an IP address", url);
        return -1;
    }
    if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(why, whylen, "cannot start the check: %s", strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    if ((pid = fork()) < 0) {
        snprintf(why, whylen, "cannot start the check: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        freeaddrinfo(ai);
        return -1;
    }
    if (pid == 0) {
        char v;
        close(pfd[0]);
        v = probe_as(ai, uid, gid);
        (void)!write(pfd[1], &v, 1);
        _exit(0);
    }
    freeaddrinfo(ai);
    close(pfd[1]);
    g->imds_pid = pid;
    g->imds_fd = pfd[0];
    g->imds_uid = uid;
    g->imds_deadline_ms = gw_mono_ms() + PROBE_WAIT_MS;
    return 0;
}

/* The verdict of the running check: 0 when it has not answered and its
 * time is not up yet. */
static int
probe_finish(struct gw *g, enum stsrole_exposure *e, char *why, size_t whylen)
{
    const char *url = g->cfg.imds_endpoint;
    unsigned uid = (unsigned)g->imds_uid;
    char verdict = 'E';
    ssize_t n = read(g->imds_fd, &verdict, 1);

    if (n < 0 && (errno == EAGAIN || errno == EINTR) && gw_mono_ms() < g->imds_deadline_ms)
        return 0;
    if (n != 1)
        verdict = 'E'; /* the child died, or its time is up */
    gw_imds_stop(g);
    switch (verdict) {
    case 'O':
        snprintf(why, whylen,
                 "uid %u connected to imds_endpoint %s: every local user can take the bastion's "
                 "own credential; install %s",
                 uid, url, STSROLE_IMDS_FIX);
        *e = STSROLE_EXPOSED;
        break;
    case 'C':
        snprintf(why, whylen, "uid %u cannot connect to imds_endpoint %s", uid, url);
        *e = STSROLE_EXPOSURE_CLOSED;
        break;
    default:
        snprintf(why, whylen, "the check as uid %u against %s failed", uid, url);
        *e = STSROLE_EXPOSURE_UNKNOWN;
    }
    return 1;
}

static void
record(struct gw *g, enum stsrole_exposure e, const char *why)
{
    struct stsrole_error err;

    if (stsrole_exposure_write(g->cfg.state_dir, e, g->cfg.imds_endpoint, (unsigned)g->imds_uid,
                               gw_now(), &err) != STSROLE_OK)
        gw_log(LOG_ERR, "imds check: cannot record the verdict: %s", err.msg);
    if (e != (enum stsrole_exposure)g->imds_state) {
        if (e == STSROLE_EXPOSED)
            gw_log(LOG_CRIT, "IMDS EXPOSED: %s", why);
        else
            gw_log(e == STSROLE_EXPOSURE_CLOSED ? LOG_INFO : LOG_ERR, "imds check: %s", why);
        gw_audit(g, "imds.check", NULL, NULL, e == STSROLE_EXPOSURE_CLOSED ? "ok" : "error", NULL,
                 why);
    } else if (e == STSROLE_EXPOSED) {
        /* loud while it lasts */
        gw_log(LOG_CRIT, "IMDS EXPOSED: %s", why);
    }
    g->imds_state = (int)e;
    snprintf(g->imds_why, sizeof(g->imds_why), "%s", why);
}

void
gw_imds_step(struct gw *g)
{
    const struct passwd *pw;
    enum stsrole_exposure e;
    char why[512];
    uid_t uid = 65534;
    gid_t gid = 65534;
    int64_t now = gw_mono_ms();

    if (g->cfg.credentials != STSROLE_CREDS_IMDS)
        return;
    if (g->imds_pid > 0) {
        if (probe_finish(g, &e, why, sizeof(why)))
            record(g, e, why);
        return;
    }
    if (now < g->next_imds_ms)
        return;
    g->next_imds_ms = now + (int64_t)STSROLE_EXPOSURE_INTERVAL * 1000;
    /* Any uid but root stands for them all: the lock-down is by uid 0. */
    if ((pw = getpwnam("nobody")) != NULL && pw->pw_uid != 0) {
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    }
    g->imds_uid = uid;
    if (probe_start(g, g->cfg.imds_endpoint, uid, gid, why, sizeof(why)) != 0)
        record(g, STSROLE_EXPOSURE_UNKNOWN, why);
}

int
gw_imds_fd(const struct gw *g)
{
    return g->imds_pid > 0 ? g->imds_fd : -1;
}

int64_t
gw_imds_next_ms(const struct gw *g)
{
    if (g->cfg.credentials != STSROLE_CREDS_IMDS)
        return INT64_MAX;
    return g->imds_pid > 0 ? g->imds_deadline_ms : g->next_imds_ms;
}

void
gw_imds_stop(struct gw *g)
{
    int status;

    if (g->imds_pid <= 0)
        return;
    kill(g->imds_pid, SIGKILL);
    while (waitpid(g->imds_pid, &status, 0) < 0 && errno == EINTR)
        ;
    close(g->imds_fd);
    g->imds_pid = 0;
    g->imds_fd = -1;
}
