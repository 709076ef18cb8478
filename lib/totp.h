/* SPDX-License-Identifier: BSD-3-Clause */
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
 * stsrole's own lock around liboath's check-and-record.
 *
 * liboath (oath_authenticate_usersfile) reads and checks the users file
 * before it locks it, and locks by creating USERSFILE.lock with O_EXCL
 * without waiting.  So two logins at once either both accept the same code
 * or one of them fails ("System error when locking file"), and a lock file
 * left by a crashed process locks everybody out.  stsrole therefore takes
 * flock(2) on USERSFILE.stsrole.lock, beside the users file in its vetted
 * root-only directory, for the whole call, and waits for it with a bound.
 * Under that lock no other stsrole process is inside liboath, so liboath's
 * own USERSFILE.lock or USERSFILE.new, if present, was left behind by a
 * process that died and is removed.  The users file must not be updated by
 * anything that does not take this lock (pam_oath on the same file would
 * not), which is why it is stsrole's own file.
 */
#define STSROLE_TOTP_LOCK_SUFFIX ".stsrole.lock"
#define STSROLE_TOTP_LOCK_WAIT_MS 5000      /* the default bound on the wait */
#define STSROLE_TOTP_LOCK_WAIT_MAX_MS 60000 /* sshd's LoginGraceTime is 120 s */

/* liboath's leftovers that the lock holder removed (bits of .stale). */
#define STSROLE_TOTP_STALE_LOCK 0x1 /* USERSFILE.lock */
#define STSROLE_TOTP_STALE_NEW 0x2  /* USERSFILE.new */

/* What happened around one verification, for the caller to log. */
struct stsrole_totp_report {
    long waited_ms; /* how long the lock took to get */
    unsigned stale; /* STSROLE_TOTP_STALE_* removed before liboath ran */
};

/*
 * Takes stsrole's exclusive lock for usersfile, creating the lock file
 * (root, 0600) if needed, and waits up to wait_ms (0..STSROLE_TOTP_LOCK_WAIT_MAX_MS)
 * for another holder to let go.  The lock file is opened through the vetted
 * directory with O_NOFOLLOW and must be a regular file owned by root and
 * writable by nobody else.  On success *fd holds the lock until
 * stsrole_totp_unlock(*fd); *waited_ms (may be NULL) says how long it took.
 *
 * Returns:
 *   STSROLE_OK          locked;
 *   STSROLE_E_INVALID   wait_ms out of range;
 *   STSROLE_E_UNSAFE    the directory or the lock file is unsafe (msg says why);
 *   STSROLE_E_IO        the lock file cannot be created or locked, or it was
 *                       still held after wait_ms (msg says "busy").
 */
int stsrole_totp_lock(const char *usersfile, int wait_ms, int *fd, long *waited_ms,
                      struct stsrole_error *err);

/* Releases the lock; fd < 0 is fine. */
void stsrole_totp_unlock(int fd);

/*
 * Call with stsrole's lock held: removes liboath's USERSFILE.lock and
 * USERSFILE.new if they exist, since nobody can be using them, and sets
 * *removed to the STSROLE_TOTP_STALE_* bits of what was there.
 * Returns STSROLE_OK, STSROLE_E_UNSAFE (directory) or STSROLE_E_IO.
 */
int stsrole_totp_clear_stale(const char *usersfile, unsigned *removed, struct stsrole_error *err);

/*
 * Verifies code for user with oath_authenticate_usersfile, allowing
 * window time steps on either side (0..STSROLE_TOTP_MAX_WINDOW).  liboath
 * records the accepted code in the file, so the same code (or an older
 * one) is refused afterwards.  The file's password field is not used: the
 * first factor is the SSH key.
 *
 * All of it runs under stsrole's lock (above): the call takes it, waiting
 * up to lock_wait_ms (STSROLE_TOTP_LOCK_WAIT_MS is the default), removes
 * liboath's stale lock files, checks the users file
 * (stsrole_totp_check_usersfile), verifies and records the code, and lets
 * go.  Of two calls with the same code at once, exactly one is accepted.
 * report (may be NULL) says how long the lock took and what stale files
 * were removed, also when the verdict is a failure: the caller logs them.
 *
 * Returns:
 *   STSROLE_OK          the code is valid and has now been consumed;
 *   STSROLE_E_INVALID   the code is not 6 to 8 digits, or window or
 *                       lock_wait_ms is out of range;
 *   STSROLE_E_DENIED    the code is wrong, or was already used (msg says which);
 *   STSROLE_E_NOTFOUND  the users file has no entry for user;
 *   STSROLE_E_UNSAFE    the users file, its directory or the lock file is unsafe;
 *   STSROLE_E_IO        the users file is missing, or liboath could not read,
 *                       lock or rewrite it, or stsrole's lock stayed busy
 *                       for lock_wait_ms (msg says "busy");
 *   STSROLE_E_NOMEM     out of memory;
 *   STSROLE_E_CONFIG    an entry in the users file is malformed.
 */
int stsrole_totp_verify(const char *usersfile, const char *user, const char *code, int window,
                        int lock_wait_ms, struct stsrole_totp_report *report,
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
