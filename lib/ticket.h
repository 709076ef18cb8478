/* SPDX-License-Identifier: BSD-3-Clause */
/* ticket.h: the single-use ticket that pam_stsrole's auth leaves for its open_session. */
#ifndef STSROLE_TICKET_H
#define STSROLE_TICKET_H

#include <stdint.h>
#include <sys/types.h>

#include "stsrole.h"

/* A ticket lives this long (s): from a good code to the session opening. */
#define STSROLE_TICKET_LIFE 120

/*
 * Auth and session are one login.  A successful auth writes
 * STATE_DIR/tickets/<ppid>.<pid> (directory root-owned 0700, the file
 * created O_EXCL|O_NOFOLLOW, root-owned 0600), in this text form:
 *
 *   stsrole-ticket 1
 *   user NAME
 *   service NAME
 *   rhost NAME            (empty when PAM_RHOST is unset)
 *   pid PID STARTTIME     (the process that ran auth)
 *   ppid PID STARTTIME    (its parent)
 *   issued EPOCH
 *   mfa METHOD            (the MFA method that passed: "totp")
 *
 * STARTTIME is field 22 of /proc/PID/stat (proc.h).  open_session takes
 * the ticket whose pid or ppid is its own process (same pid and start
 * time): sshd runs auth in a child of its monitor and the session in the
 * monitor itself; login(1), su(1) and pam_start callers run both in one
 * process.  Taking it unlinks it before it is read (single use), then
 * checks owner, mode and link count, the binding (user, service, rhost),
 * and its age.
 */
struct stsrole_ticket_bind {
    const char *user;
    const char *service;
    const char *rhost; /* may be NULL */
};

/* Writes the ticket for this process.  mfa is [a-z]{1,15}.  A field with a
 * newline is refused (STSROLE_E_INVALID). */
int stsrole_ticket_issue(const char *state_dir, const struct stsrole_ticket_bind *b,
                         const char *mfa, int64_t now, struct stsrole_error *err);

/* Finds, unlinks and checks this process's ticket; on success mfa gets the
 * method that passed.  STSROLE_E_NOTFOUND: none (no auth by pam_stsrole
 * in this login); STSROLE_E_DENIED: one was there but is for another
 * user, service, host or process, or expired (message says which);
 * STSROLE_E_UNSAFE: wrong owner, mode or links.  Expired tickets of
 * other logins met on the way are removed. */
int stsrole_ticket_take(const char *state_dir, const struct stsrole_ticket_bind *b, int64_t now,
                        char mfa[16], struct stsrole_error *err);

#endif
