/* SPDX-License-Identifier: BSD-3-Clause */
/* test_totp.c: stsrole's lock around liboath's check-and-record: many logins at once, the same
 * code twice at once, liboath's stale lock files, an unsafe lock file, and the bounded wait. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <liboath/oath.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "totp.h"

#define NUSERS 20
#define SECRET_LEN 20

static char dir[64];
static char usersfile[96];
static unsigned char secrets[NUSERS][SECRET_LEN];

static void
path_of(char *out, size_t cap, const char *suffix)
{
    snprintf(out, cap, "%s%s", usersfile, suffix);
}

/* A fresh root-only directory with a users file of NUSERS TOTP users. */
static int
setup(void **state)
{
    FILE *f;
    int i, j;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/stsrole-totp-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(usersfile, sizeof(usersfile), "%s/users.oath", dir);
    f = fopen(usersfile, "w");
    if (f == NULL)
        return -1;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (i = 0; i < NUSERS; i++) {
        fprintf(f, "HOTP/T30 user%d - ", i);
        for (j = 0; j < SECRET_LEN; j++) {
            secrets[i][j] = (unsigned char)rand();
            fprintf(f, "%02x", secrets[i][j]);
        }
        fputc('\n', f);
    }
    fclose(f);
    return chmod(usersfile, 0600);
}

static int
teardown(void **state)
{
    static const char *const suffixes[] = {"", ".lock", ".new", STSROLE_TOTP_LOCK_SUFFIX};
    char p[128];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        path_of(p, sizeof(p), suffixes[i]);
        unlink(p);
    }
    return rmdir(dir);
}

static void
code_of(int user, char out[7])
{
    assert_int_equal(
        oath_totp_generate((const char *)secrets[user], SECRET_LEN, time(NULL), 30, 0, 6, out),
        OATH_OK);
}

/* Forks n children that wait on one pipe, then each verify user[i]'s code
 * under the lock at the same moment.  Fills rc[i] with each verdict. */
static void
race(int n, const int *user, char codes[][7], int *rc)
{
    pid_t pids[64];
    int gate[2], i, status;

    assert_true(n <= 64);
    assert_int_equal(pipe(gate), 0);
    for (i = 0; i < n; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            struct stsrole_error e;
            char name[16], go;
            int r;

            close(gate[1]);
            /* Blocks until the parent closes the write end: every child
             * is released by the same event. */
            if (read(gate[0], &go, 1) != 0)
                _exit(100);
            snprintf(name, sizeof(name), "user%d", user[i]);
            r = stsrole_totp_verify(usersfile, name, codes[i], 1, 10000, NULL, &e);
            _exit(r);
        }
    }
    close(gate[0]);
    close(gate[1]);
    for (i = 0; i < n; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        rc[i] = WEXITSTATUS(status);
    }
}

/* Control: what liboath alone does with a lock file a crashed process left. */
static void
test_liboath_alone_fails_on_a_stale_lock(void **state)
{
    char lock[128], code[7];
    time_t last;
    int fd, orc;

    (void)state;
    path_of(lock, sizeof(lock), ".lock");
    fd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    code_of(0, code);
    oath_init();
    orc = oath_authenticate_usersfile(usersfile, "user0", code, 1, NULL, &last);
    oath_done();
    assert_int_not_equal(orc, OATH_OK);
    unlink(lock);
}

static void
test_many_users_at_once_all_pass(void **state)
{
    int user[NUSERS], rc[NUSERS], i;
    char codes[NUSERS][7];

    (void)state;
    for (i = 0; i < NUSERS; i++) {
        user[i] = i;
        code_of(i, codes[i]);
    }
    race(NUSERS, user, codes, rc);
    for (i = 0; i < NUSERS; i++)
        assert_int_equal(rc[i], STSROLE_OK);
}

static void
test_same_code_at_once_exactly_one_wins(void **state)
{
    int user[16], rc[16], i, ok = 0, denied = 0;
    char codes[16][7];

    (void)state;
    for (i = 0; i < 16; i++) {
        user[i] = 3;
        code_of(3, codes[i]);
    }
    race(16, user, codes, rc);
    for (i = 0; i < 16; i++) {
        ok += rc[i] == STSROLE_OK;
        denied += rc[i] == STSROLE_E_DENIED;
    }
    assert_int_equal(ok, 1);
    assert_int_equal(denied, 15);
}

static void
test_stale_liboath_files_are_removed(void **state)
{
    struct stsrole_totp_report rep;
    struct stsrole_error e;
    char lock[128], newf[128], code[7];
    struct stat st;
    int fd;

    (void)state;
    path_of(lock, sizeof(lock), ".lock");
    path_of(newf, sizeof(newf), ".new");
    fd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    fd = open(newf, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    code_of(1, code);
    assert_int_equal(stsrole_totp_verify(usersfile, "user1", code, 1, 1000, &rep, &e), STSROLE_OK);
    assert_int_equal(rep.stale, STSROLE_TOTP_STALE_LOCK | STSROLE_TOTP_STALE_NEW);
    assert_int_equal(lstat(lock, &st), -1);
    assert_int_equal(lstat(newf, &st), -1);
    /* The same code again: recorded, so refused; nothing stale any more. */
    assert_int_equal(stsrole_totp_verify(usersfile, "user1", code, 1, 1000, &rep, &e),
                     STSROLE_E_DENIED);
    assert_int_equal(rep.stale, 0);
}

static void
test_lock_file_is_root_only(void **state)
{
    struct stsrole_error e;
    char lock[128];
    struct stat st;
    int fd;

    (void)state;
    path_of(lock, sizeof(lock), STSROLE_TOTP_LOCK_SUFFIX);
    unlink(lock);
    assert_int_equal(stsrole_totp_lock(usersfile, 0, &fd, NULL, &e), STSROLE_OK);
    stsrole_totp_unlock(fd);
    assert_int_equal(lstat(lock, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* Writable by others: refused. */
    assert_int_equal(chmod(lock, 0622), 0);
    assert_int_equal(stsrole_totp_lock(usersfile, 0, &fd, NULL, &e), STSROLE_E_UNSAFE);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(e.msg, "writable"));
    assert_int_equal(chmod(lock, 0600), 0);
    /* Owned by someone else: refused. */
    assert_int_equal(chown(lock, 1, 1), 0);
    assert_int_equal(stsrole_totp_lock(usersfile, 0, &fd, NULL, &e), STSROLE_E_UNSAFE);
    assert_non_null(strstr(e.msg, "owned by uid 1"));
    /* A symlink in its place (say to /etc/shadow): refused, not followed. */
    assert_int_equal(unlink(lock), 0);
    assert_int_equal(symlink("/etc/shadow", lock), 0);
    assert_int_equal(stsrole_totp_lock(usersfile, 0, &fd, NULL, &e), STSROLE_E_UNSAFE);
    assert_non_null(strstr(e.msg, "symbolic link"));
    assert_int_equal(unlink(lock), 0);
    /* A directory writable by others: refused before the lock file. */
    assert_int_equal(chmod(dir, 0777), 0);
    assert_int_equal(stsrole_totp_lock(usersfile, 0, &fd, NULL, &e), STSROLE_E_UNSAFE);
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(stsrole_totp_lock(usersfile, -1, &fd, NULL, &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_totp_lock(usersfile, STSROLE_TOTP_LOCK_WAIT_MAX_MS + 1, &fd, NULL, &e),
                     STSROLE_E_INVALID);
}

/* A holder that keeps the lock: the wait is bounded, then a second try
 * after it lets go succeeds at once. */
static void
test_wait_is_bounded(void **state)
{
    struct stsrole_error e;
    int locked[2], release[2], fd, status;
    long waited = 0;
    char c;
    pid_t pid;

    (void)state;
    assert_int_equal(pipe(locked), 0);
    assert_int_equal(pipe(release), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int hfd;

        close(release[1]);
        if (stsrole_totp_lock(usersfile, 0, &hfd, NULL, &e) != STSROLE_OK)
            _exit(1);
        if (write(locked[1], "x", 1) != 1)
            _exit(2);
        /* Until the parent closes its end. */
        if (read(release[0], &c, 1) != 0)
            _exit(3);
        _exit(0);
    }
    close(release[0]);
    assert_int_equal(read(locked[0], &c, 1), 1);
    assert_int_equal(stsrole_totp_lock(usersfile, 150, &fd, &waited, &e), STSROLE_E_IO);
    assert_non_null(strstr(e.msg, "busy"));
    close(release[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(status, 0);
    assert_int_equal(stsrole_totp_lock(usersfile, 150, &fd, &waited, &e), STSROLE_OK);
    assert_true(waited < 150);
    stsrole_totp_unlock(fd);
    close(locked[0]);
    close(locked[1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_liboath_alone_fails_on_a_stale_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_users_at_once_all_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_code_at_once_exactly_one_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_liboath_files_are_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_file_is_root_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_is_bounded, setup, teardown),
    };

    /* The users file and its directory must be root's (the code checks
     * that, as it does in sshd). */
    if (geteuid() != 0) {
        printf("skipped: test_totp: needs root (root-owned users file and directory)\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
