/* totp.h: TOTP verification against a pam_oath-format users file, through liboath. */
#ifndef STSROLE_TOTP_H
#define STSROLE_TOTP_H

#include <stdint.h>

#include "stsrole.h"

#define STSROLE_TOTP_MAX_WINDOW 10

/*
 * Checks that the users file can be trusted before liboath opens it by
 * name: a regular file (not a symlink) owned by root, with no group or
 * other access (it holds the TOTP secrets), in a root-owned directory that
 * nobody else can write to (liboath replaces the file through a temporary
 * file and a lock file in that directory).
 *
 * Returns STSROLE_OK, STSROLE_E_UNSAFE (owner, mode or symlink; msg says
 * which) or STSROLE_E_IO (missing or unreadable).
 */
int stsrole_totp_check_usersfile(const char *usersfile, struct stsrole_error *err);

/*
 * Pure: checks every entry of a users file's text as stsrole_totp_verify
 * checks the one it uses (a hex secret of even length, no NUL byte);
 * STSROLE_E_CONFIG names the first bad line.
 */
int stsrole_totp_lint(const char *text, size_t len, const char *usersfile,
                      struct stsrole_error *err);

/*
 * Pure: whether code looks like a TOTP code at all (6 to 8 ASCII digits).
 * Returns 1 or 0.
 */
int stsrole_totp_code_wellformed(const char *code);

/*
 * Verifies code for user with oath_authenticate_usersfile, allowing
 * window time steps on either side (0..STSROLE_TOTP_MAX_WINDOW).  liboath
 * records the accepted code in the file, so the same code (or an older
 * one) is refused afterwards.  The file's password field is not used: the
 * first factor is the SSH key.  Calls stsrole_totp_check_usersfile first.
 *
 * Returns:
 *   STSROLE_OK          the code is valid and has now been consumed;
 *   STSROLE_E_INVALID   the code is not 6 to 8 digits, or window is out of range;
 *   STSROLE_E_DENIED    the code is wrong, or was already used (msg says which);
 *   STSROLE_E_NOTFOUND  the users file has no entry for user;
 *   STSROLE_E_UNSAFE    the users file or its directory is unsafe;
 *   STSROLE_E_IO        the users file is missing, or liboath could not read,
 *                       lock or rewrite it;
 *   STSROLE_E_NOMEM     out of memory;
 *   STSROLE_E_CONFIG    an entry in the users file is malformed.
 */
int stsrole_totp_verify(const char *usersfile, const char *user, const char *code, int window,
                        struct stsrole_error *err);

/*
 * Which RFC 6238 time step an accepted code belongs to.  liboath's users
 * file (oath_authenticate_usersfile) records the code but not its step, and
 * returns no offset, so the fleet-wide replay check (replay.h) locates the
 * step itself: T = floor(now / X) + offset, with the offset that
 * oath_totp_validate4 reports for the same secret, window and code.
 */
struct stsrole_totp_step {
    int64_t step;  /* T of RFC 6238: whole periods of step_size seconds since the epoch */
    int step_size; /* X of RFC 6238: 30 or 60 (HOTP/T30, HOTP/T60) */
};

/*
 * Pure: finds the step at which one of user's TOTP entries in text (a
 * pam_oath users file: "HOTP/T30[/D] USER PASSWORD HEXSECRET ...") produces
 * code, searching window + 1 steps either side of now (one more than
 * liboath searched, in case the clock ticked since it accepted the code).
 * Entries are tried in file order, as liboath tries them.
 *
 * Returns:
 *   STSROLE_OK          out is filled;
 *   STSROLE_E_INVALID   code is not 6 to 8 digits, or window out of range;
 *   STSROLE_E_NOTFOUND  no TOTP entry of user produces code near now;
 *   STSROLE_E_CONFIG    user's matching entry is event-based (HOTP/E), which
 *                       has no time step, or its secret is not hex;
 *   STSROLE_E_NOMEM     out of memory.
 */
int stsrole_totp_locate(const char *text, size_t len, const char *user, const char *code,
                        int window, int64_t now, struct stsrole_totp_step *out,
                        struct stsrole_error *err);

/*
 * Reads usersfile with the same ownership and mode checks as
 * stsrole_totp_check_usersfile and locates code's step at the current time
 * (stsrole_totp_locate).  Call it after stsrole_totp_verify accepted code.
 * Returns what stsrole_totp_locate returns, or STSROLE_E_UNSAFE / STSROLE_E_IO
 * for the file.
 */
int stsrole_totp_step(const char *usersfile, const char *user, const char *code, int window,
                      struct stsrole_totp_step *out, struct stsrole_error *err);

#endif
