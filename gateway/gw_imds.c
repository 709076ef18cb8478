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

/* The verdict for uid/gid, from a child that drops to them; the parent
 * waits at most PROBE_WAIT_MS. */
static enum stsrole_exposure
probe(const char *url, uid_t uid, gid_t gid, char *why, size_t whylen)
{
    struct addrinfo hints, *ai = NULL;
    char host[256], port[16], verdict = 'E';
    struct pollfd p;
    int pfd[2], status;
    pid_t pid;

    if (endpoint_addr(url, host, sizeof(host), port, sizeof(port)) != 0) {
        snprintf(why, whylen, "imds_endpoint %s: cannot parse it", url);
        return STSROLE_EXPOSURE_UNKNOWN;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &ai) != 0) {
        snprintf(why, whylen, "imds_endpoint %s: the check needs an IP address", url);
        return STSROLE_EXPOSURE_UNKNOWN;
    }
    if (pipe2(pfd, O_CLOEXEC) != 0 || (pid = fork()) < 0) {
        snprintf(why, whylen, "cannot start the check: %s", strerror(errno));
        freeaddrinfo(ai);
        return STSROLE_EXPOSURE_UNKNOWN;
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
    p = (struct pollfd){.fd = pfd[0], .events = POLLIN};
    if (poll(&p, 1, PROBE_WAIT_MS) != 1 || read(pfd[0], &verdict, 1) != 1)
        verdict = 'E';
    close(pfd[0]);
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    switch (verdict) {
    case 'O':
        snprintf(why, whylen,
                 "uid %u connected to imds_endpoint %s: every local user can take the bastion's "
                 "own credential; install %s",
                 (unsigned)uid, url, STSROLE_IMDS_FIX);
        return STSROLE_EXPOSED;
    case 'C':
        snprintf(why, whylen, "uid %u cannot connect to imds_endpoint %s", (unsigned)uid, url);
        return STSROLE_EXPOSURE_CLOSED;
    default:
        snprintf(why, whylen, "the check as uid %u against %s failed", (unsigned)uid, url);
        return STSROLE_EXPOSURE_UNKNOWN;
    }
}

void
gw_imds_step(struct gw *g)
{
    const struct passwd *pw;
    struct stsrole_error err;
    enum stsrole_exposure e;
    char why[512];
    uid_t uid = 65534;
    gid_t gid = 65534;
    int64_t now = gw_mono_ms();

    if (g->cfg.credentials != STSROLE_CREDS_IMDS || now < g->next_imds_ms)
        return;
    g->next_imds_ms = now + (int64_t)STSROLE_EXPOSURE_INTERVAL * 1000;
    /* Any uid but root stands for them all: the lock-down is by uid 0. */
    if ((pw = getpwnam("nobody")) != NULL && pw->pw_uid != 0) {
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    }
    e = probe(g->cfg.imds_endpoint, uid, gid, why, sizeof(why));
    if (stsrole_exposure_write(g->cfg.state_dir, e, g->cfg.imds_endpoint, (unsigned)uid, gw_now(),
                               &err) != STSROLE_OK)
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
