/* SPDX-License-Identifier: BSD-3-Clause */
/* proc.c: a process's state and start time from /proc/PID/stat. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

int
stsrole_proc_stat(pid_t pid, char *state, uint64_t *start, struct stsrole_error *err)
{
    char path[64], buf[1024], *p, *end;
    unsigned long long v;
    ssize_t n;
    int fd, i;

    if (pid <= 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "no process id");
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return stsrole_fail(err,
                            errno == ENOENT || errno == ESRCH ? STSROLE_E_NOTFOUND : STSROLE_E_IO,
                            "%s: %s", path, strerror(errno));
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return stsrole_fail(err, STSROLE_E_NOTFOUND, "%s: empty (the process is gone)", path);
    buf[n] = '\0';
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses,
     * so the fields start after the last ')'. */
    if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] == '\0')
        return stsrole_fail(err, STSROLE_E_IO, "%s: unexpected format", path);
    if (state != NULL)
        *state = p[2];
    p += 2;
    /* From state (field 3) to starttime (field 22): 19 separators. */
    for (i = 0; i < 19; i++) {
        p = strchr(p, ' ');
        if (p == NULL)
            return stsrole_fail(err, STSROLE_E_IO, "%s: too few fields", path);
        p++;
    }
    errno = 0;
    v = strtoull(p, &end, 10);
    if (errno != 0 || end == p || (*end != ' ' && *end != '\n' && *end != '\0'))
        return stsrole_fail(err, STSROLE_E_IO, "%s: no start time", path);
    if (start != NULL)
        *start = (uint64_t)v;
    return STSROLE_OK;
}
