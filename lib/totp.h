/* totp.h: TOTP verification against a pam_oath-format users file, through liboath. */
#ifndef STSROLE_TOTP_H
#define STSROLE_TOTP_H

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

#endif
