/* SPDX-License-Identifier: BSD-3-Clause */
/* handoff.h: a login's first credential handed to the gateway (credentials_mode = process). */
#ifndef STSROLE_HANDOFF_H
#define STSROLE_HANDOFF_H

#include "creds.h"
#include "stsrole.h"

/* Hands the session's first credential (minted at login) to the gateway
 * over RUNTIME_DIR/credentials.sock, so it serves that one until the first
 * refresh.  The peer must be root (SO_PEERCRED) before a secret is sent.
 * STSROLE_E_IO: the gateway cannot be reached; STSROLE_E_DENIED: it said
 * no (the message says why). */
int stsrole_handoff(const char *runtime_dir, const char *session_id, const struct stsrole_creds *c,
                    int timeout_ms, struct stsrole_error *err);

#endif
