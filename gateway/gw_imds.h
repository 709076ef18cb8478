/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_imds.h: the gateway's periodic check of who reaches IMDS (lib/exposure.h has the verdict
 * file). */
#ifndef GW_IMDS_H
#define GW_IMDS_H

#include <stdint.h>

struct gw;

/* With credentials = imds: when due (at start, then every
 * STSROLE_EXPOSURE_INTERVAL s), forks a child that drops to nobody and
 * tries imds_endpoint; a later step (its pipe is gw_imds_fd, its time
 * is up at gw_imds_next_ms) records the verdict in STATE_DIR/imds-exposure
 * for pam_stsrole, in the audit log when it changes, in syslog (CRIT
 * while exposed) and in g for stsrolectl status.  Never waits. */
void gw_imds_step(struct gw *g);
/* The running check's pipe for the main loop's poll, or -1. */
int gw_imds_fd(const struct gw *g);
/* When gw_imds_step next has something to do (monotonic ms). */
int64_t gw_imds_next_ms(const struct gw *g);
/* Kills a running check (at exit). */
void gw_imds_stop(struct gw *g);

#endif
