/* SPDX-License-Identifier: BSD-3-Clause */
/* test_notify.c: sd_notify's protocol spoken directly, against datagram sockets the test binds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

/* Binds a datagram socket at addr ("@name": abstract) the way systemd
 * binds its notify socket, and returns it. */
static int
bind_notify(const char *addr)
{
    struct sockaddr_un sa;
    size_t n = strlen(addr);
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, addr, n);
    if (addr[0] == '@')
        sa.sun_path[0] = '\0';
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(
        bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)),
        0);
    return fd;
}

static void
expect_datagram(int fd, const char *want)
{
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

static void
test_unset_is_quiet(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(stsrole_notify("READY=1", NULL), STSROLE_OK);
    setenv("NOTIFY_SOCKET", "", 1);
    assert_int_equal(stsrole_notify("READY=1", NULL), STSROLE_OK);
}

static void
test_path_socket(void **state)
{
    char dir[] = "/tmp/test_notify.XXXXXX", path[64];
    int fd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/notify", dir);
    fd = bind_notify(path);
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(stsrole_notify("READY=1", NULL), STSROLE_OK);
    expect_datagram(fd, "READY=1");
    assert_int_equal(stsrole_notify("STATUS=3 sessions followed\nWATCHDOG=1", NULL), STSROLE_OK);
    expect_datagram(fd, "STATUS=3 sessions followed\nWATCHDOG=1");
    close(fd);
    unlink(path);
    rmdir(dir);
}

static void
test_abstract_socket(void **state)
{
    char name[64];
    int fd;

    (void)state;
    snprintf(name, sizeof(name), "@stsrole-test-notify-%ld", (long)getpid());
    fd = bind_notify(name);
    setenv("NOTIFY_SOCKET", name, 1);
    assert_int_equal(stsrole_notify("STOPPING=1", NULL), STSROLE_OK);
    expect_datagram(fd, "STOPPING=1");
    close(fd);
}

static void
test_bad_addresses(void **state)
{
    struct stsrole_error e;
    char longpath[200];

    (void)state;
    setenv("NOTIFY_SOCKET", "relative/notify", 1);
    assert_int_equal(stsrole_notify("READY=1", &e), STSROLE_E_INVALID);
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    setenv("NOTIFY_SOCKET", longpath, 1);
    assert_int_equal(stsrole_notify("READY=1", &e), STSROLE_E_INVALID);
    setenv("NOTIFY_SOCKET", "/nonexistent-dir/notify", 1);
    assert_int_equal(stsrole_notify("READY=1", &e), STSROLE_E_IO);
    assert_non_null(strstr(e.msg, "/nonexistent-dir/notify"));
    unsetenv("NOTIFY_SOCKET");
}

static void
test_watchdog(void **state)
{
    char pid[32];
    uint64_t usec = 0;

    (void)state;
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    assert_int_equal(stsrole_notify_watchdog(&usec), 0);
    setenv("WATCHDOG_USEC", "60000000", 1);
    assert_int_equal(stsrole_notify_watchdog(&usec), 1);
    assert_true(usec == 60000000);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(stsrole_notify_watchdog(&usec), 1);
    /* Meant for another process (a parent that forked us). */
    snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(stsrole_notify_watchdog(&usec), 0);
    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "0", 1);
    assert_int_equal(stsrole_notify_watchdog(&usec), 0);
    setenv("WATCHDOG_USEC", "12s", 1);
    assert_int_equal(stsrole_notify_watchdog(&usec), 0);
    setenv("WATCHDOG_USEC", "-5", 1);
    assert_int_equal(stsrole_notify_watchdog(&usec), 0);
    unsetenv("WATCHDOG_USEC");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unset_is_quiet),  cmocka_unit_test(test_path_socket),
        cmocka_unit_test(test_abstract_socket), cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_watchdog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
