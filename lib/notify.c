/* SPDX-License-Identifier: BSD-3-Clause */
/* notify.c: the service manager's notification protocol (sd_notify(3)), spoken directly. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

int
stsrole_notify(const char *state, struct stsrole_error *err)
{
    struct sockaddr_un sa;
    const char *addr = secure_getenv("NOTIFY_SOCKET");
    socklen_t sa_len;
    size_t n;
    ssize_t sent;
    int fd, saved;

    if (addr == NULL || *addr == '\0')
        return STSROLE_OK;
    n = strlen(addr);
    if ((addr[0] != '/' && addr[0] != '@') || n >= sizeof(sa.sun_path))
        return stsrole_fail(err, STSROLE_E_INVALID,
                            "NOTIFY_SOCKET: expected /PATH or @ABSTRACT, at most %zu bytes",
                            sizeof(sa.sun_path) - 1);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, addr, n);
    /* An abstract name starts with a NUL byte and has no terminator: its
     * length is the address length (unix(7)). */
    if (addr[0] == '@')
        sa.sun_path[0] = '\0';
    sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (addr[0] == '/' ? 1 : 0));
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return stsrole_fail(err, STSROLE_E_IO, "NOTIFY_SOCKET: socket: %s", strerror(errno));
    sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, sa_len);
    saved = errno;
    close(fd);
    if (sent != (ssize_t)strlen(state))
        return stsrole_fail(err, STSROLE_E_IO, "NOTIFY_SOCKET %s: %s", addr,
                            sent < 0 ? strerror(saved) : "short send");
    return STSROLE_OK;
}

static int
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int
stsrole_notify_watchdog(uint64_t *usec)
{
    const char *pid_s = secure_getenv("WATCHDOG_PID");
    uint64_t v, pid;

    if (parse_u64(secure_getenv("WATCHDOG_USEC"), &v) != 0 || v == 0)
        return 0;
    if (pid_s != NULL && (parse_u64(pid_s, &pid) != 0 || pid != (uint64_t)getpid()))
        return 0;
    *usec = v;
    return 1;
}
