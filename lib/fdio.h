/* SPDX-License-Identifier: BSD-3-Clause */
/* fdio.h: reads on descriptors that retry EINTR and stop at a bound. */
#ifndef STSROLE_FDIO_H
#define STSROLE_FDIO_H

#include <sys/types.h>

/*
 * Reads len bytes of fd at offset off, retrying EINTR and short reads.
 * Returns the number of bytes read: len, or fewer only when the file ends
 * first (0 at or past its end).  Returns -1, with errno set, when pread
 * fails; what was read before is then in buf, but its length is lost.
 */
ssize_t stsrole_pread_full(int fd, void *buf, size_t len, off_t off);

/*
 * Reads one line from a stream socket or pipe into buf, which has room
 * for max + 1 bytes: reads until a '\n' has arrived, max bytes are in,
 * the peer closes, or a read fails (a timeout set with SO_RCVTIMEO
 * included); EINTR is retried.  Returns the number of bytes read, 0 to
 * max; buf[that] is '\0'.  Whatever came in the same read after the
 * '\n' is kept: the callers' protocols send one line and then wait.
 */
size_t stsrole_read_line(int fd, char *buf, size_t max);

#endif
