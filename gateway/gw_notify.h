/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_notify.h: a role's notify (stsrole.conf(5)) told about break-glass request events. */
#ifndef STSROLE_GW_NOTIFY_H
#define STSROLE_GW_NOTIFY_H

#include <stdint.h>
#include <sys/types.h>

#define GW_NOTIFY_MAX 16           /* commands running at a time; beyond, events are dropped */
#define GW_NOTIFY_TIMEOUT_MS 10000 /* then the command's process group is killed */
/* The event line goes whole into an empty pipe, so writing it cannot block
 * the main loop, and a command reads it in one piece (pipe(7): PIPE_BUF). */
#define GW_NOTIFY_LINE_MAX 4096

/* One command started and not yet reaped. */
struct gw_notify_run {
    pid_t pid; /* also its process group */
    int64_t deadline_ms;
    int killed;
    char role[128];
};

/* struct gw's notify member: what runs. */
struct gw_notify {
    struct gw_notify_run run[GW_NOTIFY_MAX];
    size_t n;
};

struct gw;
struct stsrole_role;

/* Tells role's notify (stsrole.conf(5)) about one request event; line is
 * stsrole_request_event's JSON line.  syslog:FACILITY logs it; a command is
 * started (root-owned, not group/world-writable, cleared environment, line on
 * its stdin, stdout/stderr to /dev/null) and never waited for here. */
void gw_notify_event(struct gw *g, const struct stsrole_role *role, const char *line);
/* Main loop: reaps finished commands, kills (SIGKILL, process group) those
 * running longer than GW_NOTIFY_TIMEOUT_MS, logs their exit.  Returns the ms
 * until the next deadline, or -1 when none runs. */
int gw_notify_reap(struct gw *g);

#endif
