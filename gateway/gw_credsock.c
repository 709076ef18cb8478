/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_credsock.c: RUNTIME_DIR/credentials.sock: its thread serves each session's credential to its
 * owner. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "gw.h"
#include "gw_refresh.h"
#include "gw_rtab.h"
#include "gwproto.h"
#include "json.h"
#include "runtime.h"
#include "session.h"
#include "totp.h"

#define MAX_CLIENTS 64
/* One user cannot take every slot (each may wait GW_CRED_WAIT_MS) from the rest. */
#define MAX_CLIENTS_PER_UID 8
#define READ_TIMEOUT_MS 2000

struct client {
    int fd;
    uid_t uid;
    pid_t pid;
    char buf[GW_CRED_REQUEST_MAX + 1];
    size_t len;
    int64_t deadline;
    int waiting; /* for a credential of session id */
    char id[33];
    char profile[128]; /* another profile of the session; empty: its own credential */
    char code[16];     /* a step-up code: a secret */
    int roles;         /* asks for the session's profiles instead */
    uint64_t ticket;   /* waits for the main loop's answer to a break-glass command */
};

static void
client_close(struct client *c)
{
    stsrole_wipe(c->buf, c->len);
    stsrole_wipe(c->code, sizeof(c->code));
    close(c->fd);
    c->fd = -1;
}

/* The socket is non-blocking and an answer is a few kilobytes, well
 * within a unix socket's buffer: one send, or the client is gone. */
static void
answer(struct client *c, const char *text, size_t len)
{
    (void)!send(c->fd, text, len, MSG_NOSIGNAL);
    client_close(c);
}

static void answer_error(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
answer_error(struct client *c, const char *fmt, ...)
{
    char *text = NULL;
    cJSON *o;
    va_list ap;

    va_start(ap, fmt);
    o = gw_error_vobject(fmt, ap);
    va_end(ap);
    if (o != NULL)
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text != NULL)
        (void)!send(c->fd, text, strlen(text), MSG_NOSIGNAL);
    free(text);
    answer(c, "\n", 1);
}

/* The serving thread's count of refusals it logged: a local user who
 * asks for sessions not theirs in a loop cannot flood the logs.  That
 * thread alone touches it. */
static struct gw_refusals sock_refused;

/* Someone asked for a session that is not theirs, or not live: said the
 * same way to everyone, and logged (up to GW_REFUSALS_PER_MIN a minute
 * for each uid). */
static void
refuse(struct client *c, const char *why)
{
    if (!gw_refusal_counts(&sock_refused, c->uid, "logged"))
        goto answer;
    gw_log(LOG_WARNING, "credentials: refused uid %u (pid %d) session %s: %s", (unsigned)c->uid,
           (int)c->pid, c->id, why);
    syslog(LOG_AUTHPRIV | LOG_WARNING,
           "credentials refused: uid=%u pid=%d session_id=%s reason=\"%s\"", (unsigned)c->uid,
           (int)c->pid, c->id, why);
answer:
    answer_error(c, "no live stsrole session %s of uid %u in credentials_mode = process (%s)",
                 c->id, (unsigned)c->uid, why);
}

/* No entry yet: a record that will have one soon (the main loop has not
 * read it) keeps the client waiting; anything else is refused. */
static int
record_pending(struct gw_refresh *r, struct client *c)
{
    struct stsrole_session rec;
    struct stsrole_error err;
    int ok;

    if (stsrole_session_read(r->state_dir, c->id, &rec, &err) != STSROLE_OK)
        return 0;
    ok = rec.closed == 0 && rec.refresh && rec.parent == NULL && rec.uid == c->uid &&
         gw_rtab_pid_alive(rec.sshd_pid, rec.sshd_start);
    stsrole_session_free(&rec);
    return ok;
}

/* Another profile of a live session of the client's (stsrole.conf(5),
 * PROFILES), or the list of them: asks the main thread to decide and mint
 * the first time.  1 when the client got its answer, 0 to keep it waiting. */
static int
serve_profile(struct gw_refresh *r, struct client *c, int64_t now_ms)
{
    struct rentry *e;
    struct rprofile *p = NULL;
    char msg[300] = "", why[256] = "", *doc = NULL;
    size_t len = 0;
    int wake = 0, step_up = 0, gone = 0, full = 0;

    pthread_mutex_lock(&r->mu);
    e = gw_rtab_find(r, c->id);
    if (e == NULL) {
        gone = 1;
    } else if (c->roles) {
        if (e->roles != NULL && (doc = strdup(e->roles)) != NULL)
            len = strlen(doc);
    } else if ((p = gw_rtab_profile(e, c->profile, 1)) == NULL) {
        full = 1;
    } else if (p->refused[0] != '\0') {
        snprintf(msg, sizeof(msg), "%s", p->refused);
        gw_rtab_profile_remove(e, p);
    } else if (p->breakglass && (p->cred.doc == NULL || p->cred.creds.expiration <= gw_now())) {
        /* Never refreshed: a new request is needed. */
        snprintf(msg, sizeof(msg),
                 "the break-glass credential of profile %.100s has expired: run `stsrole "
                 "request %.100s --reason TEXT` again",
                 c->profile, c->profile);
        gw_rtab_profile_remove(e, p);
    } else if (p->cred.doc != NULL && p->cred.creds.expiration > gw_now()) {
        if ((doc = malloc(p->cred.doclen)) != NULL) {
            memcpy(doc, p->cred.doc, p->cred.doclen);
            len = p->cred.doclen;
        }
    } else if (p->need_code && p->code[0] == '\0' && c->code[0] == '\0') {
        step_up = 1;
    } else {
        if (c->code[0] != '\0' && p->need_code && p->code[0] == '\0') {
            memcpy(p->code, c->code, sizeof(p->code));
            p->wanted = wake = 1;
        }
        if (!p->wanted && !p->need_code)
            p->wanted = wake = 1;
        snprintf(why, sizeof(why), "%s", p->cred.why);
    }
    stsrole_wipe(c->code, sizeof(c->code));
    pthread_mutex_unlock(&r->mu);
    if (wake)
        gw_rtab_wake(r->notify_fd);
    if (gone) {
        refuse(c, "no such session");
    } else if (full) {
        answer_error(c, "too many profiles asked for in session %s", c->id);
    } else if (msg[0] != '\0') {
        answer_error(c, "%s", msg);
    } else if (step_up) {
        answer(c,
               "{\"ok\":false,\"step_up\":\"totp\",\"error\":\"this profile needs a fresh "
               "verification code (step_up = totp)\"}\n",
               strlen("{\"ok\":false,\"step_up\":\"totp\",\"error\":\"this profile needs a "
                      "fresh verification code (step_up = totp)\"}\n"));
    } else if (doc != NULL) {
        answer(c, doc, len);
        stsrole_wipe(doc, len);
        free(doc);
    } else if (now_ms >= c->deadline) {
        answer_error(c, "no credential for profile %s of session %s yet%s%s",
                     c->roles ? "(list)" : c->profile, c->id, why[0] ? ": " : "", why);
    } else {
        return 0;
    }
    return 1;
}

/* 1 when the client got its answer, 0 to keep it waiting. */
static int
try_serve(struct gw_refresh *r, struct client *c, int64_t now_ms)
{
    struct rentry *e;
    struct stat st;
    char path[4200], *doc = NULL, why[256] = "", role[128];
    size_t len = 0;
    uid_t uid;
    pid_t pid;
    int64_t start;
    dev_t dev;
    ino_t ino;
    int live, expired;

    pthread_mutex_lock(&r->mu);
    e = gw_rtab_find(r, c->id);
    if (e == NULL) {
        pthread_mutex_unlock(&r->mu);
        if (!record_pending(r, c)) {
            refuse(c, "no such session");
            return 1;
        }
        goto wait;
    }
    uid = e->uid;
    pid = e->sshd_pid;
    start = e->sshd_start;
    dev = e->rec_dev;
    ino = e->rec_ino;
    live = e->live;
    expired = e->cred.creds.access_key_id == NULL || e->cred.creds.expiration <= gw_now();
    if (uid == c->uid && live && !expired) {
        doc = malloc(e->cred.doclen);
        if (doc != NULL) {
            memcpy(doc, e->cred.doc, e->cred.doclen);
            len = e->cred.doclen;
        }
    }
    snprintf(why, sizeof(why), "%s", e->cred.why);
    snprintf(role, sizeof(role), "%s", e->role_name);
    pthread_mutex_unlock(&r->mu);

    if (uid != c->uid || !live) {
        refuse(c, uid != c->uid ? "not the session's user" : "the session is closed or revoked");
        goto out;
    }
    /* Checked here too, so a logout counts the moment it is on disk, even
     * while the main loop waits on AWS: close_session renames a new record
     * in, and the sshd exits. */
    gw_rtab_record_path(r->state_dir, c->id, path, sizeof(path));
    if (lstat(path, &st) != 0 || st.st_dev != dev || st.st_ino != ino) {
        refuse(c, "the session record changed: logged out");
        goto out;
    }
    if (!gw_rtab_pid_alive(pid, start)) {
        refuse(c, "the session's sshd is gone");
        goto out;
    }
    /* The login's own role is the session's own credential. */
    if (c->roles || (c->profile[0] != '\0' && strcmp(c->profile, role) != 0)) {
        if (doc != NULL) {
            stsrole_wipe(doc, len);
            free(doc);
        }
        return serve_profile(r, c, now_ms);
    }
    if (doc != NULL) {
        answer(c, doc, len);
        goto out;
    }
    if (!expired) {
        answer_error(c, "out of memory");
        goto out;
    }
wait:
    if (now_ms >= c->deadline) {
        answer_error(c, "no credential for session %s yet%s%s", c->id, why[0] ? ": " : "", why);
        return 1;
    }
    return 0;
out:
    if (doc != NULL) {
        stsrole_wipe(doc, len);
        free(doc);
    }
    return 1;
}

static int64_t
num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static const char *
str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* pam_stsrole's hand-off: the login's credential, checked against the
 * record it has just written. */
static void
adopt(struct gw_refresh *r, struct client *c, const cJSON *req)
{
    struct stsrole_session rec;
    struct stsrole_error err;
    struct stsrole_creds cr;
    struct rentry *e;
    struct stat st;
    char path[4200];
    const char *id = str(req, "session");
    int rc = -1;

    if (c->uid != 0) {
        /* The id comes from the peer: it reaches the logs only once it is
         * known to be 32 hex digits (no newline, no forged log line). */
        snprintf(c->id, sizeof(c->id), "%s", stsrole_session_id_valid(id) ? id : "(malformed)");
        refuse(c, "only root hands credentials over");
        return;
    }
    memset(&cr, 0, sizeof(cr));
    cr.access_key_id = (char *)str(req, "AccessKeyId");
    cr.secret_access_key = (char *)str(req, "SecretAccessKey");
    cr.session_token = (char *)str(req, "SessionToken");
    cr.expiration = num(req, "Expiration");
    if (!stsrole_session_id_valid(id) || cr.access_key_id == NULL || cr.secret_access_key == NULL ||
        cr.session_token == NULL || cr.expiration <= 0) {
        answer_error(c, "adopt: malformed request");
        return;
    }
    if (stsrole_session_read(r->state_dir, id, &rec, &err) != STSROLE_OK) {
        answer_error(c, "adopt: %s", err.msg);
        return;
    }
    gw_rtab_record_path(r->state_dir, id, path, sizeof(path));
    if (rec.closed != 0 || !rec.refresh || rec.parent != NULL ||
        strcmp(rec.access_key_id, cr.access_key_id) != 0 || lstat(path, &st) != 0) {
        stsrole_session_free(&rec);
        answer_error(c, "adopt: the credential does not match session %s's open record", id);
        return;
    }
    pthread_mutex_lock(&r->mu);
    if ((e = gw_rtab_find(r, id)) == NULL)
        e = gw_rtab_create(r, id);
    if (e != NULL &&
        (e->cred.creds.access_key_id == NULL || e->cred.creds.expiration < cr.expiration)) {
        e->uid = rec.uid;
        e->sshd_pid = rec.sshd_pid;
        e->sshd_start = rec.sshd_start;
        e->rec_dev = st.st_dev;
        e->rec_ino = st.st_ino;
        e->live = 1;
        e->adopted_ms = gw_mono_ms();
        rc = gw_rtab_set_creds(&e->cred, &cr, rec.opened);
    } else if (e != NULL) {
        rc = 0; /* the gateway minted a newer one already */
    }
    pthread_mutex_unlock(&r->mu);
    stsrole_session_free(&rec);
    if (rc != 0) {
        answer_error(c, "adopt: out of memory");
        return;
    }
    gw_rtab_wake(r->notify_fd);
    answer(c, "{\"ok\":true}\n", 12);
}

/* -- break-glass commands: checked for shape here, decided by the main loop -------------- */

static int
bg_name_ok(const char *s, size_t max)
{
    return s != NULL && s[0] != '\0' && strlen(s) < max &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") ==
               strlen(s);
}

/* Queues the command for the main loop; the client waits for its answer. */
static void
bg_submit(struct gw_refresh *r, struct client *c, const char *cmd, const cJSON *req, int64_t now_ms)
{
    const char *id = str(req, "session"), *role = str(req, "role"), *rid = str(req, "id");
    const char *reason = str(req, "reason");
    struct gw_bgjob *j;
    int full;

    if (!stsrole_session_id_valid(id)) {
        answer_error(c, "%s: a session id is 32 hex digits (STSROLE_SESSION_ID)", cmd);
        return;
    }
    if (strcmp(cmd, "request") == 0 && !bg_name_ok(role, sizeof(j->role))) {
        answer_error(c, "request: a role name is 1-127 of A-Z a-z 0-9 - _ .");
        return;
    }
    if (strcmp(cmd, "request") != 0 && strcmp(cmd, "requests") != 0 &&
        (rid == NULL || strlen(rid) != 16 || strspn(rid, "0123456789abcdef") != 16)) {
        answer_error(c, "%s: a request id is 16 hex digits", cmd);
        return;
    }
    if ((j = calloc(1, sizeof(*j))) == NULL) {
        answer_error(c, "out of memory");
        return;
    }
    j->uid = c->uid;
    j->pid = c->pid;
    snprintf(j->cmd, sizeof(j->cmd), "%s", cmd);
    memcpy(j->session, id, sizeof(j->session));
    if (strcmp(cmd, "request") == 0)
        snprintf(j->role, sizeof(j->role), "%s", role);
    else if (rid != NULL && strcmp(cmd, "requests") != 0)
        memcpy(j->id, rid, sizeof(j->id));
    /* Longer than allowed stays longer: the main loop says so. */
    if (reason != NULL)
        snprintf(j->reason, sizeof(j->reason), "%s", reason);
    pthread_mutex_lock(&r->mu);
    full = r->n_jobs >= GW_BGJOBS_MAX;
    if (!full) {
        j->ticket = ++r->next_ticket;
        c->ticket = j->ticket;
        r->jobs[r->n_jobs++] = j;
    }
    pthread_mutex_unlock(&r->mu);
    if (full) {
        free(j);
        answer_error(c, "the gateway is busy with break-glass commands: try again");
        return;
    }
    c->waiting = 1;
    c->deadline = now_ms + GW_BG_WAIT_MS;
    gw_rtab_wake(r->notify_fd);
}

/* 1 when the client got its answer, 0 to keep it waiting. */
static int
bg_poll(struct gw_refresh *r, struct client *c, int64_t now_ms)
{
    struct gw_bgjob *j;
    char *text = NULL;

    pthread_mutex_lock(&r->mu);
    if ((j = gw_rtab_job(r, c->ticket)) != NULL && (j->answer != NULL || now_ms >= c->deadline)) {
        text = j->answer;
        j->answer = NULL;
        gw_rtab_job_remove(r, j);
        j = NULL;
    }
    pthread_mutex_unlock(&r->mu);
    if (text != NULL) {
        answer(c, text, strlen(text));
        free(text);
        return 1;
    }
    if (j == NULL && now_ms >= c->deadline) {
        answer_error(c, "no answer from the gateway in time");
        return 1;
    }
    return 0;
}

/* The client is gone: its command's answer, if it comes, has no one to go to. */
static void
bg_forget(struct gw_refresh *r, struct client *c)
{
    struct gw_bgjob *j;

    if (c->ticket == 0)
        return;
    pthread_mutex_lock(&r->mu);
    if ((j = gw_rtab_job(r, c->ticket)) != NULL)
        gw_rtab_job_remove(r, j);
    pthread_mutex_unlock(&r->mu);
    c->ticket = 0;
}

/* A whole line is in: decide, or start waiting. */
static void
handle(struct gw_refresh *r, struct client *c, int64_t now_ms)
{
    cJSON *req;
    const char *cmd, *id;

    req = cJSON_ParseWithLength(c->buf, c->len);
    stsrole_wipe(c->buf, c->len);
    c->len = 0;
    cmd = str(req, "cmd");
    if (cmd != NULL && (strcmp(cmd, "credentials") == 0 || strcmp(cmd, "roles") == 0)) {
        const char *profile = str(req, "profile"), *code = str(req, "code");

        id = str(req, "session");
        c->roles = strcmp(cmd, "roles") == 0;
        if (!stsrole_session_id_valid(id)) {
            answer_error(c, "credentials: a session id is 32 hex digits");
        } else if (profile != NULL &&
                   (profile[0] == '\0' || strlen(profile) >= sizeof(c->profile) ||
                    strspn(profile, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789-_.") != strlen(profile))) {
            answer_error(c, "credentials: a profile name is 1-127 of A-Z a-z 0-9 - _ .");
        } else if (code != NULL && !stsrole_totp_code_wellformed(code)) {
            answer_error(c, "credentials: a verification code is 6 to 8 digits");
        } else {
            if (profile != NULL && strcmp(profile, STSROLE_AWS_PROFILE) != 0)
                memcpy(c->profile, profile, strlen(profile) + 1);
            if (code != NULL)
                memcpy(c->code, code, strlen(code) + 1);
            memcpy(c->id, id, sizeof(c->id));
            c->waiting = 1;
            c->deadline = now_ms + GW_CRED_WAIT_MS;
            if (try_serve(r, c, now_ms))
                c->waiting = 0;
        }
    } else if (cmd != NULL && strcmp(cmd, "adopt") == 0) {
        adopt(r, c, req);
    } else if (cmd != NULL && (strcmp(cmd, "request") == 0 || strcmp(cmd, "requests") == 0 ||
                               strcmp(cmd, "approve") == 0 || strcmp(cmd, "deny") == 0 ||
                               strcmp(cmd, "cancel") == 0)) {
        bg_submit(r, c, cmd, req, now_ms);
    } else {
        answer_error(c, "malformed request");
    }
    stsrole_json_delete_wiped(req);
}

static void
client_read(struct gw_refresh *r, struct client *c, int64_t now_ms)
{
    ssize_t n;

    n = read(c->fd, c->buf + c->len, GW_CRED_REQUEST_MAX - c->len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        client_close(c);
        return;
    }
    c->len += (size_t)n;
    if (memchr(c->buf, '\n', c->len) != NULL)
        handle(r, c, now_ms);
    else if (c->len == GW_CRED_REQUEST_MAX)
        answer_error(c, "request too long");
}

static void
accept_clients(struct gw_refresh *r, struct client *cl, size_t *n, int64_t now_ms)
{
    struct ucred cred;
    socklen_t clen;
    size_t i, same;
    int fd;

    while (*n < MAX_CLIENTS) {
        fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        clen = sizeof(cred);
        /* The kernel's word on who connected: the only identity that counts. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0) {
            close(fd);
            continue;
        }
        for (i = 0, same = 0; i < *n; i++)
            same += cl[i].fd >= 0 && cl[i].uid == cred.uid;
        memset(&cl[*n], 0, sizeof(cl[*n]));
        cl[*n].fd = fd;
        cl[*n].uid = cred.uid;
        cl[*n].pid = cred.pid;
        if (same >= MAX_CLIENTS_PER_UID && cred.uid != 0) {
            answer_error(&cl[*n], "too many requests of uid %u at once", (unsigned)cred.uid);
            continue;
        }
        cl[*n].deadline = now_ms + READ_TIMEOUT_MS;
        (*n)++;
    }
}

static void *
serve(void *arg)
{
    struct gw_refresh *r = arg;
    struct client *cl;
    struct pollfd *pfd;
    size_t i, n = 0;
    int64_t now, t;
    int timeout, stop, recheck;

    cl = calloc(MAX_CLIENTS, sizeof(*cl));
    pfd = calloc(MAX_CLIENTS + 2, sizeof(*pfd));
    if (cl == NULL || pfd == NULL) {
        gw_log(LOG_ERR, "credentials socket: out of memory; not serving");
        free(cl);
        free(pfd);
        return NULL;
    }
    for (;;) {
        now = gw_mono_ms();
        timeout = -1;
        for (i = 0; i < n; i++) {
            t = cl[i].deadline - now;
            if (timeout < 0 || t < timeout)
                timeout = t < 0 ? 0 : (int)(t > 60000 ? 60000 : t);
        }
        pfd[0] = (struct pollfd){.fd = n < MAX_CLIENTS ? r->listen_fd : -1, .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = r->wake_fd, .events = POLLIN};
        for (i = 0; i < n; i++)
            pfd[2 + i] = (struct pollfd){.fd = cl[i].fd, .events = cl[i].waiting ? 0 : POLLIN};
        if (poll(pfd, 2 + n, timeout) < 0 && errno != EINTR) {
            gw_log(LOG_ERR, "credentials socket: poll: %s; no longer serving", strerror(errno));
            break;
        }
        now = gw_mono_ms();
        recheck = 0;
        if (pfd[1].revents & POLLIN) {
            gw_rtab_drain(r->wake_fd);
            pthread_mutex_lock(&r->mu);
            stop = r->stop;
            pthread_mutex_unlock(&r->mu);
            if (stop)
                break;
            recheck = 1;
        }
        for (i = 0; i < n; i++) {
            struct client *c = &cl[i];

            if (c->fd < 0)
                continue;
            if (pfd[2 + i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
                bg_forget(r, c);
                client_close(c);
            } else if (!c->waiting && (pfd[2 + i].revents & POLLIN))
                client_read(r, c, now);
            else if (!c->waiting && now >= c->deadline)
                client_close(c); /* never sent a whole request */
            else if (c->waiting && c->ticket != 0 && (recheck || now >= c->deadline) &&
                     bg_poll(r, c, now))
                c->waiting = 0;
            else if (c->waiting && c->ticket == 0 && (recheck || now >= c->deadline) &&
                     try_serve(r, c, now))
                c->waiting = 0;
        }
        for (i = 0; i < n;) {
            if (cl[i].fd < 0)
                cl[i] = cl[--n];
            else
                i++;
        }
        if (pfd[0].revents & POLLIN)
            accept_clients(r, cl, &n, now);
    }
    for (i = 0; i < n; i++) {
        if (cl[i].fd >= 0) {
            bg_forget(r, &cl[i]);
            client_close(&cl[i]);
        }
    }
    free(cl);
    free(pfd);
    return NULL;
}

/* -- start and stop ------------------------------------------------------------------- */

int
gw_credsock_fd(const struct gw *g)
{
    return g->refresh != NULL ? g->refresh->notify_fd : -1;
}

static int
bind_socket(struct gw_refresh *r)
{
    struct sockaddr_un sa;
    struct stat st;
    int probe;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, r->sock_path, sizeof(sa.sun_path));
    if (lstat(sa.sun_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            gw_log(LOG_ERR, "%s exists and is not a socket", sa.sun_path);
            return -1;
        }
        /* Another gateway (another state_dir) may be serving it. */
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(probe);
            gw_log(LOG_ERR, "%s: another stsrole-gatewayd serves it", sa.sun_path);
            return -1;
        }
        if (probe >= 0)
            close(probe);
        unlink(sa.sun_path);
    }
    r->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    /* 0666: anyone may ask; SO_PEERCRED decides who is answered. */
    if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        chmod(sa.sun_path, 0666) != 0 || listen(r->listen_fd, 64) != 0) {
        gw_log(LOG_ERR, "%s: %s", sa.sun_path, strerror(errno));
        return -1;
    }
    return 0;
}

void
gw_credsock_stop(struct gw *g)
{
    struct gw_refresh *r = g->refresh;

    if (r == NULL)
        return;
    if (r->thread_started) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_mutex_unlock(&r->mu);
        gw_rtab_wake(r->wake_fd);
        pthread_join(r->thread, NULL);
    }
    if (r->listen_fd >= 0) {
        close(r->listen_fd);
        unlink(r->sock_path);
    }
    if (r->wake_fd >= 0)
        close(r->wake_fd);
    if (r->notify_fd >= 0)
        close(r->notify_fd);
    while (r->n > 0)
        gw_rtab_drop(r, r->n - 1);
    while (r->n_jobs > 0)
        gw_rtab_job_remove(r, r->jobs[0]);
    free(r->v);
    free(r->state_dir);
    pthread_mutex_destroy(&r->mu);
    free(r);
    g->refresh = NULL;
}

int
gw_credsock_start(struct gw *g)
{
    struct gw_refresh *r;
    struct stsrole_error err;
    int dfd;

    if (g->cfg.credentials_mode != STSROLE_MODE_PROCESS)
        return 0;
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return -1;
    pthread_mutex_init(&r->mu, NULL);
    r->listen_fd = r->wake_fd = r->notify_fd = -1;
    g->refresh = r;
    if (stsrole_runtime_dir(g->cfg.runtime_dir, &dfd, &err) != STSROLE_OK) {
        gw_log(LOG_ERR, "runtime_dir: %s", err.msg);
        gw_credsock_stop(g);
        return -1;
    }
    close(dfd);
    if ((size_t)snprintf(r->sock_path, sizeof(r->sock_path), "%s/%s", g->cfg.runtime_dir,
                         STSROLE_CRED_SOCKET) >= sizeof(r->sock_path)) {
        gw_log(LOG_ERR, "runtime_dir is too long for a unix socket path");
        gw_credsock_stop(g);
        return -1;
    }
    if ((r->state_dir = strdup(g->cfg.state_dir)) == NULL || bind_socket(r) != 0 ||
        (r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
        (r->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        gw_log(LOG_ERR, "credentials socket: %s", strerror(errno));
        gw_credsock_stop(g);
        return -1;
    }
    /* Started after the signals are blocked (signalfd): the thread
     * inherits the mask, so SIGTERM and SIGHUP still reach the main loop. */
    if (pthread_create(&r->thread, NULL, serve, r) != 0) {
        gw_log(LOG_ERR, "credentials socket: cannot start its thread");
        gw_credsock_stop(g);
        return -1;
    }
    r->thread_started = 1;
    gw_log(LOG_INFO, "credentials_mode = process: serving %s, refresh %d s before expiry",
           r->sock_path, g->cfg.refresh_margin);
    return 0;
}
