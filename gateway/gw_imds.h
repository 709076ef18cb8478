/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_imds.h: the gateway's periodic check of who reaches IMDS (lib/exposure.h has the verdict
 * file). */
#ifndef GW_IMDS_H
#define GW_IMDS_H

struct gw;

/* With credentials = imds: when due (at start, then every
 * STSROLE_EXPOSURE_INTERVAL s), forks a child that drops to nobody and
 * tries imds_endpoint; records the verdict in STATE_DIR/imds-exposure
 * for pam_stsrole, in the audit log when it changes, in syslog (CRIT
 * while exposed) and in g for stsrolectl status. */
void gw_imds_step(struct gw *g);

#endif
