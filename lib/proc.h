/* SPDX-License-Identifier: BSD-3-Clause */
/* proc.h: what /proc says about one process (util layer). */
#ifndef STSROLE_PROC_H
#define STSROLE_PROC_H

#include <stdint.h>
#include <sys/types.h>

#include "stsrole.h"

/*
 * Reads /proc/PID/stat: *state gets field 3 ('R', 'S', 'Z', ...) and
 * *start field 22, starttime, in clock ticks since boot.  The pair (pid,
 * start) names one process for the life of the system, so it survives
 * pid reuse.  /proc/PID/stat stays readable under systemd's
 * ProcSubset=pid, which hides /proc/stat.  STSROLE_E_NOTFOUND when the
 * process is gone; STSROLE_E_IO when the file is not what the kernel
 * writes.  state or start may be NULL.
 */
int stsrole_proc_stat(pid_t pid, char *state, uint64_t *start, struct stsrole_error *err);

#endif
