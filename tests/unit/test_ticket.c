/* SPDX-License-Identifier: BSD-3-Clause */
/* test_ticket.c: the auth-to-session ticket (lib/ticket.c): taken once, only by its own login
 * (user, service, host, process), within its life; auth in a child as under sshd's privilege
 * separation; unsafe tickets refused.  Also proc.c's start time and the session record's new
 * fields. */
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "proc.h"
#include "session.h"
#include "ticket.h"

static char dir[] = "/tmp/stsrole-ticket-XXXXXX";
static const struct stsrole_ticket_bind alice = {"alice", "sshd", "192.0.2.7"};

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/stsrole-ticket-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    (void)state;
    return nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static int64_t
now(void)
{
    return (int64_t)time(NULL);
}

/* One process (login(1), su, pam_start callers): issued, taken once. */
static void
t_single_use(void **state)
{
    struct stsrole_error err;
    char mfa[16];

    (void)state;
    assert_int_equal(stsrole_ticket_issue(dir, &alice, "totp", now(), &err), STSROLE_OK);
    assert_int_equal(stsrole_ticket_take(dir, &alice, now(), mfa, &err), STSROLE_OK);
    assert_string_equal(mfa, "totp");
    assert_int_equal(stsrole_ticket_take(dir, &alice, now(), mfa, &err), STSROLE_E_NOTFOUND);
    assert_string_equal(mfa, "");
}

static void
t_none(void **state)
{
    struct stsrole_error err;
    char mfa[16];

    (void)state;
    assert_int_equal(stsrole_ticket_take(dir, &alice, now(), mfa, &err), STSROLE_E_NOTFOUND);
    assert_non_null(strstr(err.msg, "no ticket"));
}

/* A ticket for another user, service or host is refused, and used up. */
static void
t_binding(void **state)
{
    static const struct stsrole_ticket_bind others[] = {
        {"mallory", "sshd", "192.0.2.7"},
        {"alice", "su", "192.0.2.7"},
        {"alice", "sshd", "198.51.100.9"},
        {"alice", "sshd", NULL},
    };
    static const char *const why[] = {"another user", "another PAM service", "another remote host",
                                      "another remote host"};
    struct stsrole_error err;
    char mfa[16];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        assert_int_equal(stsrole_ticket_issue(dir, &alice, "totp", now(), &err), STSROLE_OK);
        assert_int_equal(stsrole_ticket_take(dir, &others[i], now(), mfa, &err), STSROLE_E_DENIED);
        assert_non_null(strstr(err.msg, why[i]));
        assert_int_equal(stsrole_ticket_take(dir, &alice, now(), mfa, &err), STSROLE_E_NOTFOUND);
    }
}

static void
t_expired(void **state)
{
    struct stsrole_error err;
    char mfa[16];

    (void)state;
    assert_int_equal(
        stsrole_ticket_issue(dir, &alice, "totp", now() - STSROLE_TICKET_LIFE - 1, &err),
        STSROLE_OK);
    assert_int_equal(stsrole_ticket_take(dir, &alice, now(), mfa, &err), STSROLE_E_DENIED);
    assert_non_null(strstr(err.msg, "expired"));
    /* issued in the future: a clock step, or forged */
    assert_int_equal(stsrole_ticket_issue(dir, &alice, "totp", now() + 60, &err), STSROLE_OK);
    assert_int_equal(stsrole_ticket_take(dir, &alice, now(), mfa, &err), STSROLE_E_DENIED);
}

static pid_t
issue_in_child(const struct stsrole_ticket_bind *b, int grandchild)
{
    pid_t pid = fork();
    struct stsrole_error err;

    if (pid == 0) {
        if (grandchild) {
            pid_t g = fork();
            if (g != 0)
                _exit(g < 0 || waitpid(g, NULL, 0) != g);
        }
        _exit(stsrole_ticket_issue(dir, b, "totp", now(), &err) == STSROLE_OK ? 0 : 1);
    }
    return pid;
}

/* sshd: auth in a child of the monitor, the session in the monitor. */
static void
t_privsep(void **state)
{
    struct stsrole_error err;
    char mfa[16];
    int status;
    pid_t pid;

    (void)state;
    pid = issue_in_child(&alice, 0);
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(stsrole_ticket_take(dir, &alice, now(), mfa, &err), STSROLE_OK);
    assert_string_equal(mfa, "totp");
}

/* Another login's ticket (a grandchild's: neither pid nor ppid is ours)
 * is not ours to take. */
static void
t_other_process(void **state)
{
    struct stsrole_error err;
    char mfa[16];
    int status;
    pid_t pid;

    (void)state;
    pid = issue_in_child(&alice, 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(stsrole_ticket_take(dir, &alice, now(), mfa, &err), STSROLE_E_NOTFOUND);
}

/* A second name for the ticket (a hard link) or a loose mode is refused. */
static void
t_unsafe(void **state)
{
    struct stsrole_error err;
    char mfa[16], name[4200], other[4300];

    (void)state;
    snprintf(name, sizeof(name), "%s/tickets/%d.%d", dir, (int)getppid(), (int)getpid());
    assert_int_equal(stsrole_ticket_issue(dir, &alice, "totp", now(), &err), STSROLE_OK);
    snprintf(other, sizeof(other), "%s/keep", dir);
    assert_int_equal(link(name, other), 0);
    assert_int_equal(stsrole_ticket_take(dir, &alice, now(), mfa, &err), STSROLE_E_UNSAFE);
    unlink(other);
    assert_int_equal(stsrole_ticket_issue(dir, &alice, "totp", now(), &err), STSROLE_OK);
    assert_int_equal(chmod(name, 0644), 0);
    assert_int_equal(stsrole_ticket_take(dir, &alice, now(), mfa, &err), STSROLE_E_UNSAFE);
    /* the directory must be root's alone */
    snprintf(name, sizeof(name), "%s/tickets", dir);
    assert_int_equal(chmod(name, 0755), 0);
    assert_int_equal(stsrole_ticket_issue(dir, &alice, "totp", now(), &err), STSROLE_E_UNSAFE);
    assert_int_equal(stsrole_ticket_take(dir, &alice, now(), mfa, &err), STSROLE_E_UNSAFE);
    /* a newline in a login field would forge a line */
    {
        struct stsrole_ticket_bind nl = {"alice\nmfa totp", "sshd", NULL};
        assert_int_equal(stsrole_ticket_issue(dir, &nl, "totp", now(), &err), STSROLE_E_INVALID);
    }
}

/* proc.c: our start time, stable; a process that is gone is NOTFOUND. */
static void
t_proc_stat(void **state)
{
    uint64_t a = 0, b = 0;
    char st = 0;
    pid_t pid;

    (void)state;
    assert_int_equal(stsrole_proc_stat(getpid(), &st, &a, NULL), STSROLE_OK);
    assert_int_equal(stsrole_proc_stat(getpid(), NULL, &b, NULL), STSROLE_OK);
    assert_true(a > 0 && a == b);
    assert_int_equal(st, 'R');
    pid = fork();
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(stsrole_proc_stat(pid, NULL, &a, NULL), STSROLE_E_NOTFOUND);
}

/* The session record keeps the sshd's start time and the MFA method. */
static void
t_record_fields(void **state)
{
    struct stsrole_session s, back;
    struct stsrole_error err;
    struct stsrole_buf json;

    (void)state;
    memset(&s, 0, sizeof(s));
    strcpy(s.session_id, "0123456789abcdef0123456789abcdef");
    s.user = "alice";
    s.sshd_pid = 4242;
    s.sshd_start = 123456789;
    s.mfa = "totp";
    s.role_arn = "arn:aws:iam::222222222222:role/R";
    s.assumed_role_id = "AROA:x";
    s.session_name = "x";
    s.access_key_id = "ASIA";
    s.source_identity = "alice";
    assert_int_equal(stsrole_session_to_json(&s, &json, &err), STSROLE_OK);
    assert_int_equal(stsrole_session_from_json(json.data, json.len, &back, &err), STSROLE_OK);
    assert_int_equal(back.sshd_start, 123456789);
    assert_string_equal(back.mfa, "totp");
    stsrole_session_free(&back);
    stsrole_buf_free(&json);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_single_use, setup, teardown),
        cmocka_unit_test_setup_teardown(t_none, setup, teardown),
        cmocka_unit_test_setup_teardown(t_binding, setup, teardown),
        cmocka_unit_test_setup_teardown(t_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(t_privsep, setup, teardown),
        cmocka_unit_test_setup_teardown(t_other_process, setup, teardown),
        cmocka_unit_test_setup_teardown(t_unsafe, setup, teardown),
        cmocka_unit_test(t_proc_stat),
        cmocka_unit_test(t_record_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
