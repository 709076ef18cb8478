/* SPDX-License-Identifier: BSD-3-Clause */
/* exposure.h: whether a uid other than root reaches IMDS, as the gateway found and the PAM module
 * reads. */
#ifndef STSROLE_EXPOSURE_H
#define STSROLE_EXPOSURE_H

#include <stdint.h>

#include "stsrole.h"

/* The file that closes IMDS to everyone but root (examples/bastion). */
#define STSROLE_IMDS_FIX "examples/bastion/imds-lockdown.nft"
/* STATE_DIR/imds-exposure: root-owned, 0644, written atomically. */
#define STSROLE_EXPOSURE_FILE "imds-exposure"
/* The gateway checks this often (s); a verdict older than STALE is none. */
#define STSROLE_EXPOSURE_INTERVAL 60
#define STSROLE_EXPOSURE_STALE (3 * STSROLE_EXPOSURE_INTERVAL + 30)

enum stsrole_exposure {
    STSROLE_EXPOSURE_UNKNOWN = 0, /* no verdict, a stale one, or the check itself failed */
    STSROLE_EXPOSURE_CLOSED,      /* an unprivileged uid cannot connect to imds_endpoint */
    STSROLE_EXPOSED,              /* it can: anyone on the bastion can take its credential */
};

/* "closed", "exposed" or "unknown". */
const char *stsrole_exposure_name(enum stsrole_exposure e);

/* Records the verdict of a check made at time checked (epoch s) against
 * endpoint, for uid probe_uid. */
int stsrole_exposure_write(const char *state_dir, enum stsrole_exposure e, const char *endpoint,
                           unsigned probe_uid, int64_t checked, struct stsrole_error *err);

/* Reads the verdict (root-owned file, checked).  A missing file, one that
 * is malformed, older than STSROLE_EXPOSURE_STALE at now, or from the
 * future, gives STSROLE_EXPOSURE_UNKNOWN with why saying which; the return
 * is STSROLE_OK then too, unless the file is unsafe (STSROLE_E_UNSAFE). */
int stsrole_exposure_read(const char *state_dir, int64_t now, enum stsrole_exposure *e, char *why,
                          size_t whylen, struct stsrole_error *err);

#endif
