/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_breakglass.h: break-glass requests in the gateway: the table, the commands the credential
 * socket hands over, expiry, and the mint at the last approval. */
#ifndef STSROLE_GW_BREAKGLASS_H
#define STSROLE_GW_BREAKGLASS_H

#include <stdint.h>

struct gw;
struct cJSON;

/*
 * The requests live in the gateway's memory, on the main thread (a
 * restart forgets the pending ones; the audit log keeps them).  Every
 * command comes from the caller's own live SSH session (SO_PEERCRED uid =
 * the record's uid, the record open and unchanged, its sshd alive,
 * stsrole:mfa = totp), and the person is that record's user, who must be
 * getpwuid(uid)'s name.  Refused attempts from such a session are audited
 * as breakglass.refused (at most GW_REFUSALS_PER_MIN a minute per uid, gw.h).
 */
/* The most requests one "requests" answer lists (then "truncated": true). */
#define GW_BG_LIST_MAX 64

/* Main loop: runs the commands the credential socket queued (answering
 * them), expires requests past approval_timeout and cancels the pending
 * ones of sessions that ended (by "logout"). */
void gw_breakglass_step(struct gw *g);
/* Monotonic ms of the next expiry or queued command, INT64_MAX when none. */
int64_t gw_breakglass_next_ms(const struct gw *g);
/* Root's view (the control socket's "requests"): {"ok":true,"requests":[...]}. */
struct cJSON *gw_breakglass_all(struct gw *g);
void gw_breakglass_free(struct gw *g);

#endif
