/* SPDX-License-Identifier: BSD-3-Clause */
/* notify.h: the service manager's notification protocol (sd_notify(3)), spoken directly. */
#ifndef STSROLE_NOTIFY_H
#define STSROLE_NOTIFY_H

#include <stdint.h>

#include "stsrole.h"

/*
 * Sends state ("READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=...", one
 * or more NAME=VALUE lines) as one datagram to the AF_UNIX socket named
 * by $NOTIFY_SOCKET: a path, or with a leading '@' a name in the abstract
 * namespace.  This is the protocol systemd documents as stable for
 * daemons that do not link libsystemd (sd_notify(3), "Notes").
 * Returns STSROLE_OK when it was sent or when NOTIFY_SOCKET is unset (no
 * service manager listens); STSROLE_E_INVALID for an address this does
 * not speak (not '/' or '@', or too long); STSROLE_E_IO when sending
 * fails.
 */
int stsrole_notify(const char *state, struct stsrole_error *err);

/*
 * The watchdog interval the service manager asks for (WatchdogSec=), as
 * sd_watchdog_enabled(3) reads it: $WATCHDOG_USEC, and $WATCHDOG_PID when
 * set must be this process.  Returns 1 and sets *usec when enabled, 0 when
 * not (or when either variable is malformed).
 */
int stsrole_notify_watchdog(uint64_t *usec);

#endif
