/* SPDX-License-Identifier: BSD-3-Clause */
/* fdio.c: reads on descriptors that retry EINTR and stop at a bound. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"

ssize_t
stsrole_pread_full(int fd, void *buf, size_t len, off_t off)
{
    size_t got = 0;
    ssize_t n;

    while (got < len) {
        n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

size_t
stsrole_read_line(int fd, char *buf, size_t max)
{
    size_t len = 0;
    ssize_t n;

    while (len < max && memchr(buf, '\n', len) == NULL) {
        n = read(fd, buf + len, max - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}
