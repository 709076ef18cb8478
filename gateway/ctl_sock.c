/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_sock.c: inside an SSH session: the gateway's credential socket (where it is, one command
 * and its answer), and break-glass requests as text. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_sock.h"
#include "runtime.h"

#define ANSWER_MAX (4 * 1024 * 1024)

void
ctl_sock_path(char *out, size_t outlen)
{
    const char *cf = getenv("AWS_CONFIG_FILE");
    char copy[4096], *dir;

    if (cf != NULL && strlen(cf) < sizeof(copy)) {
        memcpy(copy, cf, strlen(cf) + 1);
        dir = dirname(dirname(copy));
        if ((size_t)snprintf(out, outlen, "%s/%s", dir, STSROLE_CRED_SOCKET) < outlen)
            return;
    }
    snprintf(out, outlen, "/run/stsrole/%s", STSROLE_CRED_SOCKET);
}

int
ctl_sock_ask(const char *prog, const char *path, const char *line, cJSON **answer, char **text)
{
    struct sockaddr_un sa;
    /* A break-glass command may wait for an AssumeRole (gw_rtab.h, GW_BG_WAIT_MS). */
    struct timeval tv = {35, 0};
    struct ucred peer;
    socklen_t plen = sizeof(peer);
    char *buf;
    size_t len = 0;
    ssize_t n;
    int fd;

    *answer = NULL;
    if (text != NULL)
        *text = NULL;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path))
        return fprintf(stderr, "%s: %s: path too long\n", prog, path), CTL_EXIT_USAGE;
    memcpy(sa.sun_path, path, strlen(path));
    /* Only root's socket is the gateway's: anyone else's could be listening to steal. */
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0 || peer.uid != 0) {
        fprintf(stderr, "%s: cannot reach stsrole-gatewayd at %s: %s\n", prog, path,
                errno ? strerror(errno) : "not root's");
        if (fd >= 0)
            close(fd);
        return CTL_EXIT_UNAVAIL;
    }
    if ((buf = malloc(ANSWER_MAX)) == NULL ||
        send(fd, line, strlen(line), MSG_NOSIGNAL) != (ssize_t)strlen(line)) {
        free(buf);
        close(fd);
        fprintf(stderr, "%s: %s: cannot ask\n", prog, path);
        return CTL_EXIT_UNAVAIL;
    }
    while (len < ANSWER_MAX - 1 && memchr(buf, '\n', len) == NULL) {
        n = read(fd, buf + len, ANSWER_MAX - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if ((*answer = cJSON_Parse(buf)) == NULL || !cJSON_IsObject(*answer)) {
        cJSON_Delete(*answer);
        *answer = NULL;
        free(buf);
        fprintf(stderr, "%s: malformed answer from the gateway\n", prog);
        return CTL_EXIT_PROTOCOL;
    }
    if (text != NULL)
        *text = buf;
    else
        free(buf);
    return CTL_EXIT_OK;
}

static const char *
s_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : "-";
}

static long long
n_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

void
ctl_print_requests(FILE *f, const cJSON *list)
{
    const cJSON *q, *a, *it;
    char when[32];
    time_t t;
    struct tm tm;

    fprintf(f, "%-16s  %-24s  %-12s  %-9s  %-9s  %-20s  %s\n", "ID", "ROLE", "REQUESTER", "STATE",
            "APPROVALS", "EXPIRES", "REASON");
    cJSON_ArrayForEach(q, list)
    {
        size_t n = 0;

        a = cJSON_GetObjectItemCaseSensitive(q, "approvers");
        cJSON_ArrayForEach(it, a) n++;
        t = (time_t)n_of(q, "expires");
        if (gmtime_r(&t, &tm) == NULL ||
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
            snprintf(when, sizeof(when), "-");
        fprintf(f, "%-16s  %-24s  %-12s  %-9s  %zu/%-7lld  %-20s  %s%s\n", s_of(q, "id"),
                s_of(q, "role"), s_of(q, "requester"), s_of(q, "state"), n, n_of(q, "needed"), when,
                s_of(q, "reason"),
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q, "can_approve"))
                    ? "  [you may approve]"
                    : "");
    }
}
