/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_roles.c: stsrolectl roles: inside a session, the profiles its person may use, from the
 * gateway. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "runtime.h"
#include "session.h"

#define ANSWER_MAX (4 * 1024 * 1024)

/* RUNTIME_DIR from the session's AWS_CONFIG_FILE (RUNTIME_DIR/aws/ID.config). */
static int
socket_from_env(char *out, size_t outlen)
{
    const char *cf = getenv("AWS_CONFIG_FILE");
    char copy[4096], *dir;

    if (cf == NULL || strlen(cf) >= sizeof(copy))
        return -1;
    memcpy(copy, cf, strlen(cf) + 1);
    dir = dirname(dirname(copy));
    if ((size_t)snprintf(out, outlen, "%s/%s", dir, STSROLE_CRED_SOCKET) >= outlen)
        return -1;
    return 0;
}

static int
ask(const char *path, const char *id, char **answer, size_t *len)
{
    struct sockaddr_un sa;
    struct timeval tv = {20, 0};
    struct ucred peer;
    socklen_t plen = sizeof(peer);
    char req[128], *buf;
    ssize_t n;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path))
        return fprintf(stderr, "stsrolectl: %s: path too long\n", path), CTL_EXIT_USAGE;
    memcpy(sa.sun_path, path, strlen(path));
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0 || peer.uid != 0) {
        fprintf(stderr, "stsrolectl: cannot reach stsrole-gatewayd at %s: %s\n", path,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        return CTL_EXIT_UNAVAIL;
    }
    snprintf(req, sizeof(req), "{\"cmd\":\"roles\",\"session\":\"%s\"}\n", id);
    if ((buf = malloc(ANSWER_MAX)) == NULL ||
        send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
        free(buf);
        close(fd);
        fprintf(stderr, "stsrolectl: %s: cannot ask\n", path);
        return CTL_EXIT_UNAVAIL;
    }
    *len = 0;
    while (*len < ANSWER_MAX - 1 && memchr(buf, '\n', *len) == NULL) {
        n = read(fd, buf + *len, ANSWER_MAX - 1 - *len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        *len += (size_t)n;
    }
    close(fd);
    buf[*len] = '\0';
    *answer = buf;
    return CTL_EXIT_OK;
}

int
ctl_roles(int argc, char **argv, const char *config_path)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"session", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"config", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    const char *id = getenv("STSROLE_SESSION_ID"), *sock = NULL;
    char path[4200], *text = NULL;
    const cJSON *list, *it, *err;
    cJSON *o;
    size_t len = 0;
    int c, json = 0, rc;

    (void)config_path;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sock = optarg;
            break;
        case 'i':
            id = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'c':
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc || !stsrole_session_id_valid(id)) {
        fprintf(stderr, "stsrolectl roles: run it inside an stsrole session "
                        "(STSROLE_SESSION_ID), or give --session ID\n");
        return CTL_EXIT_USAGE;
    }
    if (sock == NULL) {
        if (socket_from_env(path, sizeof(path)) != 0)
            snprintf(path, sizeof(path), "/run/stsrole/%s", STSROLE_CRED_SOCKET);
        sock = path;
    }
    if ((rc = ask(sock, id, &text, &len)) != CTL_EXIT_OK)
        return rc;
    o = cJSON_Parse(text);
    list = cJSON_GetObjectItemCaseSensitive(o, "profiles");
    err = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (!cJSON_IsArray(list)) {
        fprintf(stderr, "stsrolectl roles: %s\n",
                cJSON_IsString(err) ? err->valuestring : "malformed answer from the gateway");
        rc = cJSON_IsString(err) ? CTL_EXIT_NOPERM : CTL_EXIT_PROTOCOL;
    } else if (json) {
        fputs(text, stdout);
    } else {
        cJSON_ArrayForEach(it, list)
        {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "profile");
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(it, "arn");
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "step_up");

            if (cJSON_IsString(p) && cJSON_IsString(a))
                printf("%-40s %s%s\n", p->valuestring, a->valuestring,
                       cJSON_IsTrue(s) ? "  (step-up: totp)" : "");
        }
    }
    cJSON_Delete(o);
    free(text);
    return rc;
}
