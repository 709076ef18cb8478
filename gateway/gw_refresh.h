/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_refresh.h: credentials_mode = process in the gateway: refresh, serve to the owner, stop. */
#ifndef STSROLE_GW_REFRESH_H
#define STSROLE_GW_REFRESH_H

#include <stdint.h>
#include <sys/types.h>

/*
 * RUNTIME_DIR/credentials.sock (runtime.h: STSROLE_CRED_SOCKET), a
 * SOCK_STREAM unix socket, mode 0666 in a root-owned 0755 RUNTIME_DIR:
 * every local user may connect, and the gateway decides by SO_PEERCRED
 * who gets what.  One request per connection, one JSON object on one
 * line, at most GW_CRED_REQUEST_MAX bytes:
 *
 *   {"cmd":"credentials","session":"<id>"}
 *       from stsrole-credential-process, as the session's user.  Answered
 *       with the credential_process document itself ({"Version":1,
 *       "AccessKeyId":...,"Expiration":"..."}) only when the peer's uid
 *       owns that session, its record is open and unchanged, its sshd is
 *       alive, and no credential of it was revoked.  While the session's
 *       credential is being minted (a new login, a restarted gateway) the
 *       answer waits, at most GW_CRED_WAIT_MS.
 *   {"cmd":"credentials","session":"<id>","profile":"<role>"[,"code":"<totp>"]}
 *       another profile of the session (stsrole.conf(5), PROFILES), with the
 *       same checks; the gateway mints it on first use when the role is in
 *       the config and the person may use it.  A step_up = totp role is
 *       answered {"ok":false,"step_up":"totp",...} until a code is sent.
 *   {"cmd":"roles","session":"<id>"}
 *       the profiles the person may use: {"ok":true,"profiles":[{"profile":
 *       ...,"arn":...,"account":...,"step_up":bool}]}.
 *   {"cmd":"adopt","session":"<id>","AccessKeyId":...,"SecretAccessKey":...,
 *    "SessionToken":...,"Expiration":<epoch>}
 *       from pam_stsrole (uid 0 only): the login's own credential, served
 *       until the first refresh.  It must match the session's record.
 *
 *   {"cmd":"request","session":"<id>","role":"<role>","reason":"<text>"}
 *   {"cmd":"requests","session":"<id>"}
 *   {"cmd":"approve"|"deny"|"cancel","session":"<id>","id":"<request id>"}
 *       break-glass (gw_breakglass.h): the caller's own live session, with
 *       MFA; answered by the main loop, at most GW_BG_WAIT_MS later.
 *
 * Any other answer is {"ok":false,"error":"..."}; adopt answers {"ok":true}.
 */
#define GW_CRED_REQUEST_MAX 8192
#define GW_CRED_WAIT_MS 10000

struct gw;
struct gw_session;
struct stsrole_role;
struct stsrole_assumed;
struct stsrole_error;

/* gw_credsock.c: binds the socket and starts the thread that serves it,
 * when credentials_mode = process (else does nothing).  0 on success. */
int gw_credsock_start(struct gw *g);
/* Readable when a hand-off arrived (poll it); -1 when refresh is off. */
int gw_credsock_fd(const struct gw *g);
/* Stops the thread, removes the socket, wipes every secret. */
void gw_credsock_stop(struct gw *g);

/* gw_refresh.c: every loop, before gw_sessions_step: refreshed credentials
 * follow their SSH session's close and revocation, credentials due are
 * minted. */
void gw_refresh_step(struct gw *g);
/* Monotonic ms of the next refresh or retry, INT64_MAX when none. */
int64_t gw_refresh_next_ms(const struct gw *g);
/* A credential for session p's person: role (NULL: the login's role) with
 * the session's SourceIdentity and stsrole:sid, recorded durably as a
 * child of p (id in child) before it is returned in as. */
int gw_refresh_mint(struct gw *g, struct gw_session *p, const struct stsrole_role *role,
                    struct stsrole_assumed *as, char child[33], char request_id[128],
                    struct stsrole_error *err);
/* The same with the break-glass tags stsrole:reason and stsrole:approvers
 * (stsrole_request_tags' values; both NULL: none). */
int gw_refresh_mint_tagged(struct gw *g, struct gw_session *p, const struct stsrole_role *role,
                           const char *reason, const char *approvers, struct stsrole_assumed *as,
                           char child[33], char request_id[128], struct stsrole_error *err);

/* gw_profiles.c: the session's other profiles (stsrole.conf(5), PROFILES):
 * decides the requests the serving thread queued (the role exists and the
 * person may use it, step-up codes), mints and refreshes them. */
void gw_profiles_step(struct gw *g);
/* Monotonic ms of the next profile work, INT64_MAX when none. */
int64_t gw_profiles_next_ms(const struct gw *g);
/* The person's groups now, from NSS (the same sources as their login):
 * *out is malloc'd; -1 when NSS cannot say. */
int gw_user_gids(const char *user, gid_t **out, int *n);
/* stsrole_group_lookup through NSS. */
int gw_group_gid(void *ctx, const char *name, gid_t *gid);

#endif
