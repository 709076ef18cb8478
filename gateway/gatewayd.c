/* SPDX-License-Identifier: BSD-3-Clause */
/* gatewayd.c: stsrole-gatewayd's entry point: options, start-up, the event loop, signals, reload.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"
#include "gw_breakglass.h"
#include "gw_imds.h"
#include "gw_refresh.h"
#include "iam.h"
#include "notify.h"
#include "safefile.h"

#define DEFAULT_SKEW 300     /* clock skew margin before pruning, seconds */
#define DEFAULT_RECONCILE 10 /* seconds between full scans of the session records */

static void
usage(FILE *f)
{
    fprintf(f, "usage: stsrole-gatewayd [--config PATH] [--skew SECONDS] [--reconcile SECONDS]\n"
               "Revokes the STS credentials of closed SSH sessions and keeps the audit log.\n"
               "Runs in the foreground; see stsrole-gatewayd(8).\n");
}

/* STATE_DIR/<sub> as a 0700 directory we own that nobody else may write. */
static int
state_subdir(const char *path)
{
    struct stat st;

    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        gw_log(LOG_ERR, "%s: mkdir: %s", path, strerror(errno));
        return -1;
    }
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 022) != 0) {
        gw_log(LOG_ERR, "%s: must be a directory owned by uid %d, not group- or world-writable",
               path, (int)geteuid());
        return -1;
    }
    return 0;
}

static int
make_dirs(struct gw *g)
{
    char p[4200];

    if (g->cfg.state_dir == NULL || g->cfg.state_dir[0] != '/') {
        gw_log(LOG_ERR, "state_dir must be an absolute path");
        return -1;
    }
    snprintf(g->state_gw, sizeof(g->state_gw), "%s/gateway", g->cfg.state_dir);
    if (state_subdir(g->cfg.state_dir) != 0)
        return -1;
    snprintf(p, sizeof(p), "%s/sessions", g->cfg.state_dir);
    if (state_subdir(p) != 0 || state_subdir(g->state_gw) != 0)
        return -1;
    snprintf(p, sizeof(p), "%s/track", g->state_gw);
    if (state_subdir(p) != 0)
        return -1;
    snprintf(p, sizeof(p), "%s/roles", g->state_gw);
    if (state_subdir(p) != 0)
        return -1;
    /* One gateway per state directory: two would revoke, prune and
     * remove records behind each other's back.  Held until exit. */
    snprintf(p, sizeof(p), "%s/lock", g->state_gw);
    if ((g->lock_fd = open(p, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
        flock(g->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        gw_log(LOG_ERR, "%s: %s", p,
               errno == EWOULDBLOCK ? "another stsrole-gatewayd uses this state_dir"
                                    : strerror(errno));
        return -1;
    }
    return 0;
}

static int
load_config(const char *path, struct stsrole_config *cfg)
{
    struct stsrole_error err;

    memset(cfg, 0, sizeof(*cfg));
    if (stsrole_config_load(path, cfg, &err) != STSROLE_OK) {
        gw_log(LOG_ERR, "%s", err.msg);
        return -1;
    }
    if (cfg->state_dir == NULL || cfg->audit_log == NULL || cfg->bastion_id == NULL) {
        gw_log(LOG_ERR, "%s: state_dir, audit_log and bastion_id are required", path);
        stsrole_config_free(cfg);
        return -1;
    }
    /* Records in a state_dir that someone else could swap are no records. */
    if (stsrole_check_parents(cfg->state_dir, &err) != STSROLE_OK) {
        gw_log(LOG_ERR, "state_dir: %s", err.msg);
        stsrole_config_free(cfg);
        return -1;
    }
    return 0;
}

static int
open_audit(struct gw *g, const char *path, struct stsrole_audit_log *a)
{
    struct stsrole_error err;

    if (stsrole_audit_open(a, path, g->host, g->cfg.bastion_id, &err) != STSROLE_OK) {
        gw_log(LOG_ERR, "audit log: %s", err.msg);
        return -1;
    }
    if (a->torn > 0)
        gw_log(LOG_WARNING, "audit log %s: cut off %zu bytes of an unfinished last line", path,
               a->torn);
    if (!a->tail_ok)
        gw_log(LOG_ERR, "audit log %s: the last line does not verify; run stsrolectl audit verify",
               path);
    return 0;
}

static int
setup_base(struct gw *g)
{
    struct stsrole_error err;

    stsrole_client_http(&g->cfg, &g->http);
    if (stsrole_client_provider(&g->cfg, &g->http, &g->base, &err) != STSROLE_OK) {
        gw_log(LOG_ERR, "base credentials: %s", err.msg);
        return -1;
    }
    return 0;
}

/* Opens the audit log at path in place of the running one.  An empty new
 * file continues the running chain: its first record is audit.rotate. */
static int
switch_audit(struct gw *g, const char *path, const char *why)
{
    struct stsrole_audit_log na;
    char detail[4200];
    uint64_t seq = g->audit.seq;

    if (open_audit(g, path, &na) != 0)
        return -1;
    snprintf(detail, sizeof(detail), "%s; continues %s, which ends at seq %llu", why, g->audit.path,
             (unsigned long long)seq);
    if (na.seq == 0) {
        na.seq = g->audit.seq;
        memcpy(na.prev, g->audit.prev, sizeof(na.prev));
    }
    stsrole_audit_close(&g->audit);
    g->audit = na;
    gw_audit(g, STSROLE_AUDIT_ROTATE, NULL, NULL, "ok", NULL, detail);
    return 0;
}

/* logrotate renames the log and sends SIGHUP: a log whose path now names
 * another file (or none) is followed to the new one. */
static void
follow_rotation(struct gw *g)
{
    struct stat now, ours;

    if (fstat(g->audit.fd, &ours) != 0)
        return;
    if (stat(g->cfg.audit_log, &now) == 0 && now.st_ino == ours.st_ino && now.st_dev == ours.st_dev)
        return;
    if (switch_audit(g, g->cfg.audit_log, "the log was rotated") != 0)
        gw_log(LOG_ERR,
               "audit log rotated, but %s cannot be opened; still writing to the old "
               "file",
               g->cfg.audit_log);
}

static void
reload(struct gw *g)
{
    struct stsrole_config ncfg, old;

    stsrole_notify("RELOADING=1", NULL);
    follow_rotation(g);
    if (load_config(g->config_path, &ncfg) != 0) {
        gw_log(LOG_ERR, "reload: keeping the running configuration");
        stsrole_notify("READY=1", NULL);
        return;
    }
    /* The policy name and the state live on across a reload; changing
     * them needs a restart, which re-reads both. */
    if (strcmp(ncfg.bastion_id, g->cfg.bastion_id) != 0 ||
        strcmp(ncfg.state_dir, g->cfg.state_dir) != 0) {
        gw_log(LOG_ERR, "reload: bastion_id and state_dir change only on restart; keeping the "
                        "running configuration");
        stsrole_config_free(&ncfg);
        stsrole_notify("READY=1", NULL);
        return;
    }
    if (strcmp(ncfg.audit_log, g->cfg.audit_log) != 0 &&
        switch_audit(g, ncfg.audit_log, "audit_log changed in the configuration") != 0) {
        gw_log(LOG_ERR, "reload: keeping the running configuration");
        stsrole_config_free(&ncfg);
        stsrole_notify("READY=1", NULL);
        return;
    }
    old = g->cfg;
    g->cfg = ncfg;
    stsrole_creds_provider_free(&g->base);
    gw_revokers_clear(g);
    if (setup_base(g) != 0)
        gw_log(LOG_ERR, "reload: base credentials unavailable; revocations will be retried");
    stsrole_config_free(&old);
    gw_audit(g, "gateway.reload", NULL, NULL, "ok", NULL, g->config_path);
    stsrole_notify("READY=1", NULL);
}

static int
setup_signals(struct gw *g)
{
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD); /* a notify command ended: gw_notify_reap */
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
        (g->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
        gw_log(LOG_ERR, "signalfd: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void
handle_signals(struct gw *g)
{
    struct signalfd_siginfo si;
    int i;

    for (i = 0; i < 16 && read(g->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si); i++) {
        if (si.ssi_signo == SIGHUP)
            reload(g);
        else if (si.ssi_signo == SIGCHLD)
            continue; /* reaped at the top of the loop */
        else
            g->stop = 1;
    }
}

/* STATUS= for systemctl status, sent only when it changes. */
static void
notify_status(struct gw *g)
{
    static char last[160];
    char now[160];

    snprintf(now, sizeof(now), "STATUS=%zu sessions followed, %zu to revoke, %llu revoked%s",
             g->n_sess, gw_queue_depth(g), (unsigned long long)g->revoked_total,
             g->audit_broken ? ", AUDIT LOG FAILING" : "");
    if (strcmp(now, last) == 0)
        return;
    memcpy(last, now, sizeof(last));
    stsrole_notify(now, NULL);
}

static void
run(struct gw *g)
{
    struct pollfd pfd[6];
    uint64_t wd_usec = 0;
    int64_t now, wake, next_wd = 0;
    int timeout, loops, notify_ms;

    if (!stsrole_notify_watchdog(&wd_usec))
        wd_usec = 0;
    while (!g->stop) {
        gw_imds_step(g);
        gw_refresh_step(g);
        gw_breakglass_step(g);
        gw_batch_begin(g); /* one fsync for the lines of what follows */
        gw_sessions_step(g);
        gw_revoke_due(g, 0);
        gw_sessions_step(g);
        gw_batch_end(g);
        gw_prune(g);
        gw_registry_step(g);
        gw_ship_step(g);
        notify_ms = gw_notify_reap(g);
        gw_log_clock_skew();
        notify_status(g);
        now = gw_mono_ms();
        wake = gw_next_wakeup_ms(g);
        if (gw_registry_next_ms(g) < wake)
            wake = gw_registry_next_ms(g);
        if (g->next_reconcile_ms < wake)
            wake = g->next_reconcile_ms;
        if (gw_imds_next_ms(g) < wake)
            wake = gw_imds_next_ms(g);
        if (gw_refresh_next_ms(g) < wake)
            wake = gw_refresh_next_ms(g);
        if (gw_breakglass_next_ms(g) < wake)
            wake = gw_breakglass_next_ms(g);
        if (notify_ms >= 0 && now + notify_ms < wake)
            wake = now + notify_ms;
        /* While the audit log fails, retry it once a second, not in a spin. */
        if (g->audit_broken && wake < now + 1000)
            wake = now + 1000;
        if (wd_usec > 0) {
            if (now >= next_wd) {
                stsrole_notify("WATCHDOG=1", NULL);
                next_wd = now + (int64_t)(wd_usec / 2000);
            }
            if (next_wd < wake)
                wake = next_wd;
        }
        timeout = wake <= now ? 0 : wake - now > 60000 ? 60000 : (int)(wake - now);
        pfd[0] = (struct pollfd){.fd = g->signal_fd, .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = g->inotify_fd, .events = POLLIN};
        pfd[2] = (struct pollfd){.fd = g->sock_fd, .events = POLLIN};
        pfd[3] = (struct pollfd){.fd = gw_ship_fd(g), .events = POLLIN};
        pfd[4] = (struct pollfd){.fd = gw_credsock_fd(g), .events = POLLIN};
        pfd[5] = (struct pollfd){.fd = gw_imds_fd(g), .events = POLLIN};
        if (poll(pfd, 6, timeout) < 0 && errno != EINTR) {
            gw_log(LOG_ERR, "poll: %s", strerror(errno));
            break;
        }
        if (pfd[0].revents & POLLIN)
            handle_signals(g);
        if (pfd[1].revents & POLLIN)
            gw_sessions_inotify(g);
        /* A burst of stsrolectl calls is served, but not forever. */
        for (loops = 0; loops < 8 && (pfd[2].revents & POLLIN) && !g->stop; loops++) {
            gw_ctl_accept(g);
            if (poll(&pfd[2], 1, 0) <= 0)
                break;
        }
        if (gw_mono_ms() >= g->next_reconcile_ms) {
            gw_sessions_scan(g);
            g->next_reconcile_ms = gw_mono_ms() + (int64_t)g->reconcile_s * 1000;
        }
    }
}

static long
parse_seconds(const char *opt, const char *s, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > max) {
        fprintf(stderr, "stsrole-gatewayd: %s wants seconds from 0 to %ld\n", opt, max);
        exit(64);
    }
    return v;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},    {"skew", required_argument, NULL, 's'},
        {"reconcile", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0},
    };
    struct gw g;
    struct stsrole_error err;
    char detail[256];
    int c, rc = 1;

    memset(&g, 0, sizeof(g));
    g.config_path = STSROLE_DEFAULT_CONF;
    g.skew = DEFAULT_SKEW;
    g.reconcile_s = DEFAULT_RECONCILE;
    g.inotify_fd = g.sock_fd = g.signal_fd = g.lock_fd = -1;
    g.audit_appended = gw_ship_appended;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            g.config_path = optarg;
            break;
        case 's':
            g.skew = parse_seconds("--skew", optarg, 86400);
            break;
        case 'r':
            g.reconcile_s = (int)parse_seconds("--reconcile", optarg, 3600);
            if (g.reconcile_s == 0)
                g.reconcile_s = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("stsrole-gatewayd %s\n", PACKAGE_VERSION);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 64;
    }
    gw_log_init();
    openlog("stsrole-gatewayd", LOG_PID, LOG_AUTHPRIV);
    umask(077);
    if (load_config(g.config_path, &g.cfg) != 0)
        return 78;
    if (gethostname(g.host, sizeof(g.host) - 1) != 0)
        strcpy(g.host, "localhost");
    stsrole_policy_name(g.cfg.bastion_id, g.policy_name);
    g.started = gw_now();
    if (setup_signals(&g) != 0 || make_dirs(&g) != 0)
        goto out;
    if (stsrole_http_global_init(&err) != STSROLE_OK) {
        gw_log(LOG_ERR, "%s", err.msg);
        goto out;
    }
    if (open_audit(&g, g.cfg.audit_log, &g.audit) != 0)
        goto out;
    g.audit_open = 1;
    if (setup_base(&g) != 0)
        gw_log(LOG_ERR, "base credentials unavailable; revocations will be retried");
    if (gw_roles_load(&g) != 0 || gw_sessions_load(&g) != 0)
        goto out;
    gw_sessions_recover(&g);
    snprintf(detail, sizeof(detail), "version %s, pid %d, policy %s%s", PACKAGE_VERSION,
             (int)getpid(), g.policy_name, g.audit.tail_ok ? "" : ", audit tail does not verify");
    gw_audit(&g, "gateway.start", NULL, NULL, g.audit.tail_ok ? "ok" : "error", NULL, detail);
    if (gw_ship_start(&g) != 0)
        gw_log(LOG_ERR, "audit shipping is off: it could not start");
    if (gw_sessions_watch(&g) != 0 || gw_ctl_listen(&g) != 0 || gw_credsock_start(&g) != 0)
        goto out;
    gw_sessions_scan(&g);
    g.next_reconcile_ms = gw_mono_ms() + (int64_t)g.reconcile_s * 1000;
    gw_log(LOG_INFO, "ready: %zu sessions followed, policy %s, audit seq %llu", g.n_sess,
           g.policy_name, (unsigned long long)g.audit.seq);
    stsrole_notify("READY=1", NULL);
    run(&g);
    stsrole_notify("STOPPING=1", NULL);
    gw_audit(&g, "gateway.stop", NULL, NULL, "ok", NULL, NULL);
    rc = 0;
out:
    gw_credsock_stop(&g);
    gw_breakglass_free(&g);
    gw_ship_stop(&g);
    gw_imds_stop(&g);
    gw_registry_free(&g);
    gw_ctl_close(&g);
    if (g.inotify_fd >= 0)
        close(g.inotify_fd);
    if (g.signal_fd >= 0)
        close(g.signal_fd);
    if (g.lock_fd >= 0)
        close(g.lock_fd);
    gw_revokers_clear(&g);
    gw_sessions_free(&g);
    gw_roles_free(&g);
    stsrole_creds_provider_free(&g.base);
    if (g.audit_open)
        stsrole_audit_close(&g.audit);
    stsrole_config_free(&g.cfg);
    closelog();
    return rc;
}
