/* SPDX-License-Identifier: BSD-3-Clause */
/* test_gw_notify.c: the gateway's notify commands: the line on stdin, an empty environment, the
 * ownership checks, the timeout and the cap, with the gateway's clock and log held here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "gw.h"
#include "gw_notify.h"

/* syslog(3)'s values; <syslog.h> stays out, so that syslog can be defined here. */
#define T_LOG_NOTICE 5
#define T_LOG_LOCAL3 (19 << 3)

/* -- the gateway's clock and log, as gw_notify.c sees them ------------------ */
static int64_t clock_offset_ms;
static char logged[16384];
static char syslogged[1024];
static int syslog_pri = -1;

int64_t
gw_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_offset_ms;
}

void
gw_log(int prio, const char *fmt, ...)
{
    size_t len = strlen(logged);
    va_list ap;

    (void)prio;
    va_start(ap, fmt);
    vsnprintf(logged + len, sizeof(logged) - len, fmt, ap);
    va_end(ap);
    len = strlen(logged);
    if (len + 1 < sizeof(logged)) {
        logged[len] = '\n';
        logged[len + 1] = '\0';
    }
}

static void
vcapture_syslog(int pri, const char *fmt, va_list ap)
{
    syslog_pri = pri;
    vsnprintf(syslogged, sizeof(syslogged), fmt, ap);
}

/* Both names: with _FORTIFY_SOURCE, <syslog.h> turns syslog into __syslog_chk. */
void syslog(int pri, const char *fmt, ...);
void __syslog_chk(int pri, int flag, const char *fmt, ...);

void
syslog(int pri, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vcapture_syslog(pri, fmt, ap);
    va_end(ap);
}

void
__syslog_chk(int pri, int flag, const char *fmt, ...)
{
    va_list ap;

    (void)flag;
    va_start(ap, fmt);
    vcapture_syslog(pri, fmt, ap);
    va_end(ap);
}

/* -- fixtures --------------------------------------------------------------- */
struct fx {
    char dir[64];
    struct gw g;
    struct stsrole_role role;
    char *argv[3];
    char cmd[128];
};

static const char line[] = "{\"event\":\"request\",\"id\":\"00112233aabbccdd\",\"role\":\"bg\","
                           "\"reason\":\"INC-1 $(touch /tmp/x) \\\"quoted\\\"\"}\n";

static void
write_script(const char *path, const char *body, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s", body);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static int
setup(void **state)
{
    struct fx *fx;

    if (geteuid() != 0) {
        print_message("skipped: root owns the commands notify may run; run as root\n");
        return -1;
    }
    fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    strcpy(fx->dir, "/tmp/test_gw_notify.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->cmd, sizeof(fx->cmd), "%s/notify", fx->dir);
    fx->argv[0] = fx->cmd;
    fx->argv[1] = (char *)"fixed-arg";
    fx->role.name = (char *)"bg";
    fx->role.notify = fx->cmd;
    fx->role.notify_facility = -1;
    fx->role.notify_argv = fx->argv;
    logged[0] = '\0';
    clock_offset_ms = 0;
    *state = fx;
    return 0;
}

/* Kills and reaps whatever a test left running, and removes its files. */
static int
teardown(void **state)
{
    struct fx *fx = *state;
    char cmd[128];
    size_t i;

    for (i = 0; i < fx->g.notify.n; i++) {
        kill(-fx->g.notify.run[i].pid, SIGKILL);
        waitpid(fx->g.notify.run[i].pid, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

/* Blocks until pid (the command) has ended, without reaping it. */
static void
wait_ended(pid_t pid)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
}

static char *
slurp(const char *path, size_t *len)
{
    static char buf[8192];
    int fd = open(path, O_RDONLY);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n >= 0);
    close(fd);
    buf[n] = '\0';
    if (len != NULL)
        *len = (size_t)n;
    return buf;
}

/* -- the cases -------------------------------------------------------------- */
static void
test_line_on_stdin_empty_env(void **state)
{
    struct fx *fx = *state;
    char body[1024], path[128];
    const char *got;
    size_t len;
    pid_t pid;
    int marker;

    /* The gateway's own descriptors (here one without O_CLOEXEC) stay behind. */
    snprintf(path, sizeof(path), "%s/marker", fx->dir);
    marker = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(marker >= 0);
    snprintf(body, sizeof(body),
             "cat > %s/line\n"
             "tr '\\000' '\\n' < /proc/$$/environ > %s/env\n"
             "echo \"$#:$1\" > %s/args\n"
             "for f in /proc/$$/fd/*; do readlink \"$f\"; done > %s/fds\n"
             "echo $(ps -o pgid= -p $$) $$ > %s/pgid\n"
             "echo \"$(id -u) $(pwd)\" > %s/where\n",
             fx->dir, fx->dir, fx->dir, fx->dir, fx->dir, fx->dir);
    write_script(fx->cmd, body, 0755);
    setenv("AWS_SECRET_ACCESS_KEY", "not-for-the-command", 1);
    gw_notify_event(&fx->g, &fx->role, line);
    assert_int_equal(fx->g.notify.n, 1);
    pid = fx->g.notify.run[0].pid;
    assert_int_equal(gw_notify_reap(&fx->g) > 9000, 1);
    wait_ended(pid);
    assert_int_equal(gw_notify_reap(&fx->g), -1);
    assert_int_equal(fx->g.notify.n, 0);
    close(marker);
    unsetenv("AWS_SECRET_ACCESS_KEY");

    snprintf(path, sizeof(path), "%s/line", fx->dir);
    got = slurp(path, &len);
    assert_int_equal(len, strlen(line));
    assert_memory_equal(got, line, len);
    snprintf(path, sizeof(path), "%s/env", fx->dir);
    assert_string_equal(slurp(path, NULL), "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n");
    snprintf(path, sizeof(path), "%s/args", fx->dir);
    assert_string_equal(slurp(path, NULL), "1:fixed-arg\n");
    snprintf(path, sizeof(path), "%s/fds", fx->dir);
    got = slurp(path, NULL);
    assert_null(strstr(got, "marker"));
    assert_non_null(strstr(got, "/dev/null\n/dev/null\n"));
    snprintf(path, sizeof(path), "%s/pgid", fx->dir);
    got = slurp(path, NULL);
    {
        long pg = 0, self = 0;

        assert_int_equal(sscanf(got, "%ld %ld", &pg, &self), 2);
        assert_int_equal(pg, self);
    }
    snprintf(path, sizeof(path), "%s/where", fx->dir);
    assert_string_equal(slurp(path, NULL), "0 /\n");
    assert_non_null(strstr(logged, "notify for role bg: pid"));
    assert_non_null(strstr(logged, "exited 0"));
}

static void
test_hanging_command_killed(void **state)
{
    struct fx *fx = *state;
    char body[512], fifo[128], buf[32];
    struct pollfd p;
    pid_t pid;
    long bg;
    ssize_t n;
    int fd, status;

    /* A shell that starts a child of its own and waits: the kill must
     * reach both through the process group. */
    snprintf(fifo, sizeof(fifo), "%s/ready", fx->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    snprintf(body, sizeof(body), "sleep 600 &\necho $! > %s\nwait\n", fifo);
    write_script(fx->cmd, body, 0700);
    fd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(fd >= 0);
    gw_notify_event(&fx->g, &fx->role, line);
    assert_int_equal(fx->g.notify.n, 1);
    pid = fx->g.notify.run[0].pid;
    p = (struct pollfd){.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
    n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    close(fd);
    bg = strtol(buf, NULL, 10);
    assert_true(bg > 1);
    /* The shell's child comes to us when the shell dies, so that we can
     * wait for it (valgrind knows no pidfd_open); SIGALRM bounds the wait. */
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);

    /* Before its deadline it runs on. */
    clock_offset_ms = GW_NOTIFY_TIMEOUT_MS - 1000;
    assert_true(gw_notify_reap(&fx->g) > 0);
    assert_int_equal(fx->g.notify.n, 1);
    assert_int_equal(kill(pid, 0), 0);
    clock_offset_ms = GW_NOTIFY_TIMEOUT_MS;
    gw_notify_reap(&fx->g);
    wait_ended(pid);
    assert_int_equal(gw_notify_reap(&fx->g), -1);
    assert_int_equal(fx->g.notify.n, 0);
    assert_non_null(strstr(logged, "ran longer than 10 s and was killed"));
    /* The shell's own child ended too. */
    alarm(30);
    assert_int_equal(waitpid((pid_t)bg, &status, 0), (pid_t)bg);
    alarm(0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

static void
expect_refused(struct fx *fx, const char *why)
{
    logged[0] = '\0';
    gw_notify_event(&fx->g, &fx->role, line);
    assert_int_equal(fx->g.notify.n, 0);
    assert_non_null(strstr(logged, "notify for role bg: command refused: "));
    assert_non_null(strstr(logged, why));
    /* The event itself is in the log line, so it is not lost. */
    assert_non_null(strstr(logged, "event dropped: {\"event\":\"request\""));
}

static void
test_unsafe_command_refused(void **state)
{
    struct fx *fx = *state;
    char sub[128], link[128];

    write_script(fx->cmd, "exit 0\n", 0775);
    expect_refused(fx, "group- or world-writable");
    assert_int_equal(chmod(fx->cmd, 0757), 0);
    expect_refused(fx, "group- or world-writable");
    assert_int_equal(chmod(fx->cmd, 0755), 0);
    assert_int_equal(chown(fx->cmd, 65534, 65534), 0);
    expect_refused(fx, "owned by uid 65534, must be owned by root");
    assert_int_equal(chown(fx->cmd, 0, 0), 0);
    assert_int_equal(chmod(fx->cmd, 0644), 0);
    expect_refused(fx, "not executable");
    assert_int_equal(chmod(fx->cmd, 0755), 0);

    /* A safe file in a directory someone else may write is no safer. */
    snprintf(sub, sizeof(sub), "%s/open", fx->dir);
    assert_int_equal(mkdir(sub, 0777), 0);
    assert_int_equal(chmod(sub, 0777), 0);
    snprintf(fx->cmd, sizeof(fx->cmd), "%s/open/notify", fx->dir);
    write_script(fx->cmd, "exit 0\n", 0755);
    expect_refused(fx, "/open");

    /* A symlink is followed to the file it names, which is checked. */
    snprintf(link, sizeof(link), "%s/link", fx->dir);
    assert_int_equal(symlink(fx->cmd, link), 0);
    snprintf(fx->cmd, sizeof(fx->cmd), "%s", link);
    expect_refused(fx, "/open/notify");

    snprintf(fx->cmd, sizeof(fx->cmd), "%s/missing", fx->dir);
    expect_refused(fx, "No such file");
}

static void
test_cap_drops_with_log(void **state)
{
    struct fx *fx = *state;
    pid_t pids[GW_NOTIFY_MAX];
    size_t i;

    write_script(fx->cmd, "exec sleep 600\n", 0755);
    for (i = 0; i < GW_NOTIFY_MAX; i++)
        gw_notify_event(&fx->g, &fx->role, line);
    assert_int_equal(fx->g.notify.n, GW_NOTIFY_MAX);
    assert_null(strstr(logged, "dropped"));
    gw_notify_event(&fx->g, &fx->role, line);
    assert_int_equal(fx->g.notify.n, GW_NOTIFY_MAX);
    assert_non_null(strstr(logged, "notify for role bg: 16 commands still running; event "
                                   "dropped: {\"event\":\"request\""));

    for (i = 0; i < GW_NOTIFY_MAX; i++)
        pids[i] = fx->g.notify.run[i].pid;
    clock_offset_ms = GW_NOTIFY_TIMEOUT_MS;
    gw_notify_reap(&fx->g);
    for (i = 0; i < GW_NOTIFY_MAX; i++)
        wait_ended(pids[i]);
    assert_int_equal(gw_notify_reap(&fx->g), -1);
    assert_int_equal(fx->g.notify.n, 0);
    /* Room again. */
    clock_offset_ms = 0;
    logged[0] = '\0';
    gw_notify_event(&fx->g, &fx->role, line);
    assert_int_equal(fx->g.notify.n, 1);
}

static void
test_syslog_facility(void **state)
{
    struct fx *fx = *state;

    fx->role.notify = (char *)"syslog:local3";
    fx->role.notify_argv = NULL;
    fx->role.notify_facility = T_LOG_LOCAL3;
    gw_notify_event(&fx->g, &fx->role, line);
    assert_int_equal(fx->g.notify.n, 0);
    assert_int_equal(syslog_pri, T_LOG_LOCAL3 | T_LOG_NOTICE);
    assert_int_equal(strlen(syslogged), strlen(line) - 1);
    assert_memory_equal(syslogged, line, strlen(line) - 1);
}

static void
test_no_notify_and_bad_lines(void **state)
{
    struct fx *fx = *state;

    fx->role.notify = NULL;
    fx->role.notify_argv = NULL;
    fx->role.notify_facility = 0;
    syslog_pri = -1;
    gw_notify_event(&fx->g, &fx->role, line);
    assert_int_equal(syslog_pri, -1);
    assert_string_equal(logged, "");
    assert_int_equal(gw_notify_reap(&fx->g), -1);

    /* A second line inside the event would be a second event: refused. */
    fx->role.notify = fx->cmd;
    fx->role.notify_argv = fx->argv;
    write_script(fx->cmd, "exit 0\n", 0755);
    gw_notify_event(&fx->g, &fx->role, "{\"event\":\"x\"}\n{\"event\":\"forged\"}\n");
    assert_int_equal(fx->g.notify.n, 0);
    assert_non_null(strstr(logged, "is not one line"));
}

static void
test_exit_status_logged(void **state)
{
    struct fx *fx = *state;
    pid_t pid;

    write_script(fx->cmd, "cat >/dev/null; exit 3\n", 0755);
    gw_notify_event(&fx->g, &fx->role, line);
    assert_int_equal(fx->g.notify.n, 1);
    pid = fx->g.notify.run[0].pid;
    wait_ended(pid);
    assert_int_equal(gw_notify_reap(&fx->g), -1);
    assert_non_null(strstr(logged, "notify for role bg: pid"));
    assert_non_null(strstr(logged, " exited 3\n"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_on_stdin_empty_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hanging_command_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_command_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_drops_with_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syslog_facility, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_notify_and_bad_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_status_logged, setup, teardown),
    };

    if (geteuid() != 0) {
        printf("skipped: test_gw_notify runs commands that must be root's; run as root\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
