/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_notify.c: a role's notify told about request events: a syslog line, or a command started
 * without a shell, its line on stdin, reaped and killed at its deadline by the main loop. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "gw.h"
#include "gw_notify.h"
#include "safefile.h"

/* The command's whole environment: nothing of the gateway's (its AWS
 * variables, its credentials' paths) reaches it. */
static char notify_path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
static char *const notify_envp[] = {notify_path_env, NULL};

/* The command as configured, resolved to the file that will run (so a
 * symlink such as /usr/bin/mail is followed once, here), and refused
 * unless that file and every directory above it are root's alone: whoever
 * could write one of them could run anything as root through us. */
static int
check_command(const char *path, char *real, size_t realsz, char *why, size_t whysz)
{
    struct stsrole_error err;
    struct stat st;
    char *rp;
    int fd;

    if ((rp = realpath(path, NULL)) == NULL) {
        snprintf(why, whysz, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (strlen(rp) >= realsz) {
        snprintf(why, whysz, "%s: path too long", path);
        free(rp);
        return -1;
    }
    strcpy(real, rp);
    free(rp);
    if ((fd = open(real, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        snprintf(why, whysz, "%s: %s", real, strerror(errno));
        return -1;
    }
    if (stsrole_check_fd(fd, real, 0, 0, &err) != STSROLE_OK) {
        snprintf(why, whysz, "%s", err.msg);
        close(fd);
        return -1;
    }
    if (fstat(fd, &st) != 0 || (st.st_mode & 0111) == 0) {
        snprintf(why, whysz, "%s: not executable", real);
        close(fd);
        return -1;
    }
    close(fd);
    if (stsrole_check_parents(real, &err) != STSROLE_OK) {
        snprintf(why, whysz, "%s", err.msg);
        return -1;
    }
    return 0;
}

/* The child, between fork and execve: async-signal-safe calls only (the
 * gateway has threads).  The line is already in the pipe on in. */
static void __attribute__((noreturn))
child_exec(int in, int nul, const char *path, char *const argv[], int maxfd)
{
    struct sigaction dfl;
    sigset_t none;
    int s, fd;

    /* Its own process group, so the timeout kills whatever it started. */
    if (setpgid(0, 0) != 0)
        _exit(126);
    /* The gateway ignores SIGPIPE and blocks the signals it reads from a
     * signalfd; both would survive execve. */
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (s = 1; s < NSIG; s++)
        (void)sigaction(s, &dfl, NULL);
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
        _exit(126);
    /* Above 2 first, so that no dup2 below lands on a descriptor it still needs. */
    if ((in = fcntl(in, F_DUPFD, 3)) < 0 || (nul = fcntl(nul, F_DUPFD, 3)) < 0)
        _exit(126);
    if (dup2(in, 0) != 0 || dup2(nul, 1) != 1 || dup2(nul, 2) != 2)
        _exit(126);
    if (close_range(3, ~0U, 0) != 0)
        for (fd = 3; fd < maxfd; fd++)
            (void)close(fd);
    if (chdir("/") != 0)
        _exit(126);
    execve(path, argv, notify_envp);
    _exit(127);
}

/* Starts role's command with line (n bytes, newline-terminated) on its
 * standard input. */
static void
start_command(struct gw *g, const struct stsrole_role *role, const char *line, size_t n)
{
    char real[PATH_MAX], why[STSROLE_ERRMSG_MAX + 64];
    struct gw_notify_run *r;
    int p[2] = {-1, -1}, nul = -1;
    long maxfd = sysconf(_SC_OPEN_MAX);
    ssize_t w;
    pid_t pid;

    if (g->notify.n >= GW_NOTIFY_MAX) {
        gw_log(LOG_WARNING, "notify for role %s: %d commands still running; event dropped: %.*s",
               role->name, GW_NOTIFY_MAX, (int)n - 1, line);
        return;
    }
    if (check_command(role->notify_argv[0], real, sizeof(real), why, sizeof(why)) != 0) {
        gw_log(LOG_ERR, "notify for role %s: command refused: %s; event dropped: %.*s", role->name,
               why, (int)n - 1, line);
        return;
    }
    /* The whole line goes into the empty pipe before the command starts:
     * a non-blocking write of at most PIPE_BUF bytes, so it neither waits
     * for the command nor arrives in pieces. */
    if (pipe2(p, O_CLOEXEC) != 0 || fcntl(p[1], F_SETFL, O_NONBLOCK) != 0) {
        snprintf(why, sizeof(why), "pipe: %s", strerror(errno));
        goto dropped;
    }
    do
        w = write(p[1], line, n);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)n) {
        snprintf(why, sizeof(why), "write to its pipe: %s", w < 0 ? strerror(errno) : "short");
        goto dropped;
    }
    close(p[1]);
    p[1] = -1;
    if ((nul = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
        snprintf(why, sizeof(why), "/dev/null: %s", strerror(errno));
        goto dropped;
    }
    if ((pid = fork()) < 0) {
        snprintf(why, sizeof(why), "fork: %s", strerror(errno));
        goto dropped;
    }
    if (pid == 0)
        child_exec(p[0], nul, real, role->notify_argv,
                   maxfd > 0 && maxfd < INT_MAX ? (int)maxfd : 1024);
    /* Also here, so that a kill at the deadline cannot come before the
     * child's own setpgid (EACCES: it has already run execve, after it). */
    (void)setpgid(pid, pid);
    close(p[0]);
    close(nul);
    r = &g->notify.run[g->notify.n++];
    memset(r, 0, sizeof(*r));
    r->pid = pid;
    r->deadline_ms = gw_mono_ms() + GW_NOTIFY_TIMEOUT_MS;
    snprintf(r->role, sizeof(r->role), "%s", role->name);
    return;
dropped:
    gw_log(LOG_ERR, "notify for role %s: %s; event dropped: %.*s", role->name, why, (int)n - 1,
           line);
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    if (nul >= 0)
        close(nul);
}

void
gw_notify_event(struct gw *g, const struct stsrole_role *role, const char *line)
{
    char buf[GW_NOTIFY_LINE_MAX + 1];
    size_t n;

    if (role == NULL || role->notify == NULL || line == NULL)
        return;
    n = strlen(line);
    if (n > 0 && line[n - 1] == '\n')
        n--;
    /* One line: stsrole_request_event escapes the reason, so a newline
     * here is a bug, and it must not make a second event. */
    if (memchr(line, '\n', n) != NULL || n + 1 > GW_NOTIFY_LINE_MAX) {
        gw_log(LOG_ERR,
               "notify for role %s: event of %zu bytes is not one line of at most %d; "
               "dropped",
               role->name, n, GW_NOTIFY_LINE_MAX);
        return;
    }
    if (role->notify_argv == NULL) {
        syslog(role->notify_facility | LOG_NOTICE, "%.*s", (int)n, line);
        return;
    }
    memcpy(buf, line, n);
    buf[n] = '\n';
    start_command(g, role, buf, n + 1);
}

static void
log_exit(const struct gw_notify_run *r, int status)
{
    if (r->killed)
        gw_log(LOG_WARNING,
               "notify for role %s: pid %d ran longer than %d s and was killed (SIGKILL to its "
               "process group)",
               r->role, (int)r->pid, GW_NOTIFY_TIMEOUT_MS / 1000);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        gw_log(LOG_INFO, "notify for role %s: pid %d exited 0", r->role, (int)r->pid);
    else if (WIFEXITED(status))
        gw_log(LOG_WARNING, "notify for role %s: pid %d exited %d", r->role, (int)r->pid,
               WEXITSTATUS(status));
    else
        gw_log(LOG_WARNING, "notify for role %s: pid %d ended by signal %d", r->role, (int)r->pid,
               WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int
gw_notify_reap(struct gw *g)
{
    struct gw_notify *t = &g->notify;
    struct gw_notify_run *r;
    int64_t now = gw_mono_ms(), next = -1;
    size_t i = 0;
    pid_t rc;
    int status;

    while (i < t->n) {
        r = &t->run[i];
        status = 0;
        /* Only our own pids: gw_imds.c waits for its child by pid too. */
        rc = waitpid(r->pid, &status, WNOHANG);
        if (rc == r->pid || (rc < 0 && errno == ECHILD)) {
            if (rc < 0)
                gw_log(LOG_ERR, "notify for role %s: pid %d: %s", r->role, (int)r->pid,
                       strerror(errno));
            else
                log_exit(r, status);
            t->run[i] = t->run[--t->n];
            continue;
        }
        if (now >= r->deadline_ms) {
            if (!r->killed && kill(-r->pid, SIGKILL) != 0)
                gw_log(LOG_ERR, "notify for role %s: kill of process group %d: %s", r->role,
                       (int)r->pid, strerror(errno));
            r->killed = 1;
            /* Reaped when its SIGCHLD wakes the loop; looked at again in a
             * second in any case. */
            r->deadline_ms = now + 1000;
        }
        if (next < 0 || r->deadline_ms - now < next)
            next = r->deadline_ms - now;
        i++;
    }
    return next < 0 ? -1 : next > INT_MAX ? INT_MAX : (int)next;
}
