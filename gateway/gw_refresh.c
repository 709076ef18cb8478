/* gw_refresh.c: credentials_mode = process: re-assume before expiry, serve to the owner, stop. */
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

#include "mint.h"
#include "aws.h"
#include "gw.h"
#include "gw_refresh.h"
#include "session.h"
#include "sts.h"

#define MINT_DEADLINE_MS 15000
#define RETRY_CAP_MS 60000
/* pam_stsrole hands the login's own credential over right after writing
 * the record: a session this young without one is not minted for yet. */
#define HANDOFF_GRACE_S 10
#define MAX_CLIENTS 64
/* One user cannot take every slot (each may wait GW_CRED_WAIT_MS) from the rest. */
#define MAX_CLIENTS_PER_UID 8
#define READ_TIMEOUT_MS 2000
#define MINTS_PER_STEP 8

/* One SSH session in credentials_mode = process.  Shared with the
 * serving thread under r->mu; the main thread alone writes the fields
 * below "main thread". */
struct rentry {
    char id[33];
    uid_t uid;
    pid_t sshd_pid;
    dev_t rec_dev; /* the record as last checked: closing it renames a new file in */
    ino_t rec_ino;
    int live;                   /* 0: closed, or a credential of it revoked */
    int64_t adopted_ms;         /* monotonic; set by a hand-off the main loop has not seen */
    struct stsrole_creds creds; /* the current one; access_key_id NULL: none yet */
    char *doc;                  /* its credential_process document: a secret */
    size_t doclen;
    int64_t minted; /* epoch s */
    char why[256];  /* the last refresh failure, for clients kept waiting */
    /* main thread */
    int64_t next_try_ms;
    int attempts;
    int seen;
};

struct gw_refresh {
    pthread_mutex_t mu;
    pthread_t thread;
    int thread_started;
    int stop;
    int listen_fd;
    int wake_fd;   /* main loop -> thread: entries changed, or stop */
    int notify_fd; /* thread -> main loop: a hand-off arrived */
    char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char *state_dir;
    struct rentry **v;
    size_t n, cap;
};

/* -- the table ------------------------------------------------------------------------ */

static struct rentry *
find(struct gw_refresh *r, const char *id)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        if (strcmp(r->v[i]->id, id) == 0)
            return r->v[i];
    return NULL;
}

static struct rentry *
create(struct gw_refresh *r, const char *id)
{
    struct rentry *e, **nv;

    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 32;

        if ((nv = realloc(r->v, ncap * sizeof(*nv))) == NULL)
            return NULL;
        r->v = nv;
        r->cap = ncap;
    }
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return NULL;
    memcpy(e->id, id, sizeof(e->id));
    r->v[r->n++] = e;
    return e;
}

static void
clear_creds(struct rentry *e)
{
    stsrole_creds_clear(&e->creds);
    if (e->doc != NULL) {
        stsrole_wipe(e->doc, e->doclen);
        free(e->doc);
    }
    e->doc = NULL;
    e->doclen = 0;
}

static void
drop(struct gw_refresh *r, size_t i)
{
    clear_creds(r->v[i]);
    free(r->v[i]);
    r->v[i] = r->v[--r->n];
}

/* The credential_process output (AWS SDKs, "Sourcing credentials with an
 * external process"): Version 1, the keys, Expiration in ISO-8601. */
static int
set_creds(struct rentry *e, const struct stsrole_creds *c, int64_t minted)
{
    struct stsrole_creds copy;
    cJSON *o, *it;
    char exp[21], *text = NULL;

    memset(&copy, 0, sizeof(copy));
    if (stsrole_creds_copy(&copy, c) != STSROLE_OK || copy.session_token == NULL) {
        stsrole_creds_clear(&copy);
        return -1;
    }
    stsrole_iso8601(c->expiration, exp);
    if ((o = cJSON_CreateObject()) != NULL && cJSON_AddNumberToObject(o, "Version", 1) != NULL &&
        cJSON_AddStringToObject(o, "AccessKeyId", c->access_key_id) != NULL &&
        cJSON_AddStringToObject(o, "SecretAccessKey", c->secret_access_key) != NULL &&
        cJSON_AddStringToObject(o, "SessionToken", c->session_token) != NULL &&
        cJSON_AddStringToObject(o, "Expiration", exp) != NULL)
        text = cJSON_PrintUnformatted(o);
    cJSON_ArrayForEach(it, o)
    {
        if (cJSON_IsString(it))
            stsrole_wipe(it->valuestring, strlen(it->valuestring));
    }
    cJSON_Delete(o);
    if (text == NULL) {
        stsrole_creds_clear(&copy);
        return -1;
    }
    clear_creds(e);
    e->creds = copy;
    e->doclen = strlen(text);
    text[e->doclen++] = '\n'; /* in place of the terminator: one line */
    e->doc = text;
    e->minted = minted;
    e->why[0] = '\0';
    return 0;
}

static void
wake(int fd)
{
    uint64_t one = 1;

    if (fd >= 0)
        (void)!write(fd, &one, sizeof(one));
}

static void
drain(int fd)
{
    uint64_t v;

    if (fd >= 0)
        (void)!read(fd, &v, sizeof(v));
}

/* -- checks both threads make --------------------------------------------------------- */

static void
record_path(const char *state_dir, const char *id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/sessions/%s.json", state_dir, id);
}

/* The sshd of the session is there and not a zombie.  (The main loop also
 * catches a reused pid, from its start time.) */
static int
pid_alive(pid_t pid)
{
    char path[64], buf[512], *p;
    ssize_t n;
    int fd;

    if (pid <= 0)
        return 1;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
        return 0;
    return p[2] != 'Z' && p[2] != 'X';
}

/* -- the serving thread --------------------------------------------------------------- */

struct client {
    int fd;
    uid_t uid;
    pid_t pid;
    char buf[GW_CRED_REQUEST_MAX + 1];
    size_t len;
    int64_t deadline;
    int waiting; /* for a credential of session id */
    char id[33];
};

static void
client_close(struct client *c)
{
    stsrole_wipe(c->buf, c->len);
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
    char msg[400], *text;
    cJSON *o;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 0);
    cJSON_AddStringToObject(o, "error", msg);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text != NULL)
        (void)!send(c->fd, text, strlen(text), MSG_NOSIGNAL);
    free(text);
    answer(c, "\n", 1);
}

/* Someone asked for a session that is not theirs, or not live: said the
 * same way to everyone, and logged. */
static void
refuse(struct client *c, const char *why)
{
    gw_log(LOG_WARNING, "credentials: refused uid %u (pid %d) session %s: %s", (unsigned)c->uid,
           (int)c->pid, c->id, why);
    syslog(LOG_AUTHPRIV | LOG_WARNING,
           "credentials refused: uid=%u pid=%d session_id=%s reason=\"%s\"", (unsigned)c->uid,
           (int)c->pid, c->id, why);
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
         pid_alive(rec.sshd_pid);
    stsrole_session_free(&rec);
    return ok;
}

/* 1 when the client got its answer, 0 to keep it waiting. */
static int
try_serve(struct gw_refresh *r, struct client *c, int64_t now_ms)
{
    struct rentry *e;
    struct stat st;
    char path[4200], *doc = NULL, why[256] = "";
    size_t len = 0;
    uid_t uid;
    pid_t pid;
    dev_t dev;
    ino_t ino;
    int live, expired;

    pthread_mutex_lock(&r->mu);
    e = find(r, c->id);
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
    dev = e->rec_dev;
    ino = e->rec_ino;
    live = e->live;
    expired = e->creds.access_key_id == NULL || e->creds.expiration <= gw_now();
    if (uid == c->uid && live && !expired) {
        doc = malloc(e->doclen);
        if (doc != NULL) {
            memcpy(doc, e->doc, e->doclen);
            len = e->doclen;
        }
    }
    snprintf(why, sizeof(why), "%s", e->why);
    pthread_mutex_unlock(&r->mu);

    if (uid != c->uid || !live) {
        refuse(c, uid != c->uid ? "not the session's user" : "the session is closed or revoked");
        goto out;
    }
    /* Checked here too, so a logout counts the moment it is on disk, even
     * while the main loop waits on AWS: close_session renames a new record
     * in, and the sshd exits. */
    record_path(r->state_dir, c->id, path, sizeof(path));
    if (lstat(path, &st) != 0 || st.st_dev != dev || st.st_ino != ino) {
        refuse(c, "the session record changed: logged out");
        goto out;
    }
    if (!pid_alive(pid)) {
        refuse(c, "the session's sshd is gone");
        goto out;
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
        snprintf(c->id, sizeof(c->id), "%s", id != NULL ? id : "-");
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
    record_path(r->state_dir, id, path, sizeof(path));
    if (rec.closed != 0 || !rec.refresh || rec.parent != NULL ||
        strcmp(rec.access_key_id, cr.access_key_id) != 0 || lstat(path, &st) != 0) {
        stsrole_session_free(&rec);
        answer_error(c, "adopt: the credential does not match session %s's open record", id);
        return;
    }
    pthread_mutex_lock(&r->mu);
    if ((e = find(r, id)) == NULL)
        e = create(r, id);
    if (e != NULL && (e->creds.access_key_id == NULL || e->creds.expiration < cr.expiration)) {
        e->uid = rec.uid;
        e->sshd_pid = rec.sshd_pid;
        e->rec_dev = st.st_dev;
        e->rec_ino = st.st_ino;
        e->live = 1;
        e->adopted_ms = gw_mono_ms();
        rc = set_creds(e, &cr, rec.opened);
    } else if (e != NULL) {
        rc = 0; /* the gateway minted a newer one already */
    }
    pthread_mutex_unlock(&r->mu);
    stsrole_session_free(&rec);
    if (rc != 0) {
        answer_error(c, "adopt: out of memory");
        return;
    }
    wake(r->notify_fd);
    answer(c, "{\"ok\":true}\n", 12);
}

/* A whole line is in: decide, or start waiting. */
static void
handle(struct gw_refresh *r, struct client *c, int64_t now_ms)
{
    cJSON *req, *it;
    const char *cmd, *id;

    req = cJSON_ParseWithLength(c->buf, c->len);
    stsrole_wipe(c->buf, c->len);
    c->len = 0;
    cmd = str(req, "cmd");
    if (cmd != NULL && strcmp(cmd, "credentials") == 0) {
        id = str(req, "session");
        if (!stsrole_session_id_valid(id)) {
            answer_error(c, "credentials: a session id is 32 hex digits");
        } else {
            memcpy(c->id, id, sizeof(c->id));
            c->waiting = 1;
            c->deadline = now_ms + GW_CRED_WAIT_MS;
            if (try_serve(r, c, now_ms))
                c->waiting = 0;
        }
    } else if (cmd != NULL && strcmp(cmd, "adopt") == 0) {
        adopt(r, c, req);
    } else {
        answer_error(c, "malformed request");
    }
    cJSON_ArrayForEach(it, req)
    {
        if (cJSON_IsString(it))
            stsrole_wipe(it->valuestring, strlen(it->valuestring));
    }
    cJSON_Delete(req);
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
            drain(r->wake_fd);
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
            if (pfd[2 + i].revents & (POLLHUP | POLLERR | POLLNVAL))
                client_close(c);
            else if (!c->waiting && (pfd[2 + i].revents & POLLIN))
                client_read(r, c, now);
            else if (!c->waiting && now >= c->deadline)
                client_close(c); /* never sent a whole request */
            else if (c->waiting && (recheck || now >= c->deadline) && try_serve(r, c, now))
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
    for (i = 0; i < n; i++)
        if (cl[i].fd >= 0)
            client_close(&cl[i]);
    free(cl);
    free(pfd);
    return NULL;
}

/* -- start and stop ------------------------------------------------------------------- */

int
gw_refresh_fd(const struct gw *g)
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
gw_refresh_stop(struct gw *g)
{
    struct gw_refresh *r = g->refresh;

    if (r == NULL)
        return;
    if (r->thread_started) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_mutex_unlock(&r->mu);
        wake(r->wake_fd);
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
        drop(r, r->n - 1);
    free(r->v);
    free(r->state_dir);
    pthread_mutex_destroy(&r->mu);
    free(r);
    g->refresh = NULL;
}

int
gw_refresh_start(struct gw *g)
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
    if (stsrole_session_runtime_dir(g->cfg.runtime_dir, &dfd, &err) != STSROLE_OK) {
        gw_log(LOG_ERR, "runtime_dir: %s", err.msg);
        gw_refresh_stop(g);
        return -1;
    }
    close(dfd);
    if ((size_t)snprintf(r->sock_path, sizeof(r->sock_path), "%s/%s", g->cfg.runtime_dir,
                         STSROLE_CRED_SOCKET) >= sizeof(r->sock_path)) {
        gw_log(LOG_ERR, "runtime_dir is too long for a unix socket path");
        gw_refresh_stop(g);
        return -1;
    }
    if ((r->state_dir = strdup(g->cfg.state_dir)) == NULL || bind_socket(r) != 0 ||
        (r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
        (r->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        gw_log(LOG_ERR, "credentials socket: %s", strerror(errno));
        gw_refresh_stop(g);
        return -1;
    }
    /* Started after the signals are blocked (signalfd): the thread
     * inherits the mask, so SIGTERM and SIGHUP still reach the main loop. */
    if (pthread_create(&r->thread, NULL, serve, r) != 0) {
        gw_log(LOG_ERR, "credentials socket: cannot start its thread");
        gw_refresh_stop(g);
        return -1;
    }
    r->thread_started = 1;
    gw_log(LOG_INFO, "credentials_mode = process: serving %s, refresh %d s before expiry",
           r->sock_path, g->cfg.refresh_margin);
    return 0;
}

/* -- the main loop's side --------------------------------------------------------------- */

static int
refreshed(const struct gw_session *s)
{
    return s->rec.refresh;
}

static struct gw_session *
parent_of(struct gw *g, struct gw_session *s)
{
    return s->rec.parent == NULL ? s : gw_session_find(g, s->rec.parent);
}

/* A chain (an SSH session and the credentials refreshed for it) lives
 * while its session is open and none of its credentials was revoked by
 * hand (stsrolectl revoke) or by a cut-off.  One revoked credential stops
 * the whole chain, and the rest are revoked with it: refreshing would
 * hand out again what the administrator just took away. */
static int
chain_live(struct gw *g, struct gw_session *p)
{
    size_t i;

    if (p->closed || !p->record_present || p->manual || p->revoked)
        return 0;
    for (i = 0; i < g->n_sess; i++) {
        const struct gw_session *s = g->sess[i];

        if (s->rec.parent != NULL && strcmp(s->rec.parent, p->rec.session_id) == 0 &&
            (s->manual || (s->revoked && !s->closed)))
            return 0;
    }
    return 1;
}

/* A refreshed credential's record closes with its session: the same
 * logout revokes the whole chain in one policy write. */
static void
close_child(struct gw *g, struct gw_session *s)
{
    struct stsrole_error err;

    if (stsrole_session_mark_closed(g->cfg.state_dir, s->rec.session_id, gw_now(), &err) !=
        STSROLE_OK)
        gw_log(LOG_ERR, "session %s: %s", s->rec.session_id, err.msg);
    else
        gw_sessions_seen(g, s->rec.session_id);
    s->closed = 1;
}

static void
follow_sessions(struct gw *g)
{
    struct gw_session *s, *p;
    int64_t now = gw_now();
    size_t i;

    for (i = 0; i < g->n_sess; i++) {
        s = g->sess[i];
        if (!refreshed(s))
            continue;
        p = parent_of(g, s);
        if (s != p && !s->closed && (p == NULL || p->closed))
            close_child(g, s);
        if (p != NULL && !chain_live(g, p) && !p->closed && !s->revoked && !s->manual)
            s->manual = 1; /* revoked with the rest of its chain */
        /* Nothing to deny once AWS refuses it anyway (the same rule as
         * pruning): keeps the chain's expired credentials out of the
         * policy's budget. */
        if (s->closed && !s->revoked && s->rec.expiration != 0 &&
            s->rec.expiration + g->skew <= now) {
            s->revoked = 1;
            s->revoke_detail = "expired before the session ended: AWS refuses it already";
        }
    }
    for (i = 0; i < g->n_sess; i++) {
        s = g->sess[i];
        if (refreshed(s) && s->rec.parent == NULL && s->closed) {
            struct stsrole_error err;

            if (stsrole_session_aws_config_remove(g->cfg.runtime_dir, s->rec.session_id, &err) !=
                STSROLE_OK)
                gw_log(LOG_WARNING, "%s", err.msg);
        }
    }
}

/* The serving table follows the main loop's view of the sessions. */
static void
sync_table(struct gw *g)
{
    struct gw_refresh *r = g->refresh;
    struct gw_session *s;
    struct stat st;
    char path[4200], (*unseen)[33] = NULL;
    size_t i, n_unseen = 0;
    int changed = 0;

    /* A record rewritten since the main loop read it (the logout's
     * rename) is read now, before the table says it is live. */
    for (i = 0; i < g->n_sess; i++) {
        s = g->sess[i];
        if (!refreshed(s) || s->rec.parent != NULL || s->closed)
            continue;
        record_path(g->cfg.state_dir, s->rec.session_id, path, sizeof(path));
        if (lstat(path, &st) != 0 || (uint64_t)st.st_ino != s->rec_ino)
            gw_sessions_seen(g, s->rec.session_id);
    }
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++)
        r->v[i]->seen = 0;
    for (i = 0; i < g->n_sess; i++) {
        struct rentry *e;
        int live, chain;

        s = g->sess[i];
        if (!refreshed(s) || s->rec.parent != NULL)
            continue;
        live = chain = chain_live(g, s);
        e = find(r, s->rec.session_id);
        if (e == NULL && live)
            e = create(r, s->rec.session_id);
        if (e == NULL)
            continue;
        e->seen = 1;
        if (live) {
            record_path(g->cfg.state_dir, s->rec.session_id, path, sizeof(path));
            live = lstat(path, &st) == 0 && (uint64_t)st.st_ino == s->rec_ino;
            if (live) {
                e->rec_dev = st.st_dev;
                e->rec_ino = st.st_ino;
            }
        }
        changed |= e->live != live;
        e->live = live;
        e->uid = s->rec.uid;
        e->sshd_pid = s->rec.sshd_pid;
        e->adopted_ms = 0;
        if (!chain && e->creds.access_key_id != NULL) {
            clear_creds(e); /* never served again: no reason to hold it */
            changed = 1;
        }
    }
    /* A hand-off can beat inotify to a new record: keep its entry a while
     * and read the record now. */
    unseen = calloc(r->n + 1, sizeof(*unseen));
    for (i = 0; i < r->n;) {
        struct rentry *e = r->v[i];

        if (!e->seen && e->adopted_ms != 0 && gw_mono_ms() - e->adopted_ms < 30000) {
            if (unseen != NULL)
                memcpy(unseen[n_unseen++], e->id, 33);
            i++;
        } else if (!e->seen) {
            drop(r, i);
            changed = 1;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&r->mu);
    for (i = 0; i < n_unseen; i++)
        gw_sessions_seen(g, unseen[i]);
    free(unseen);
    if (changed)
        wake(r->wake_fd);
}

static int64_t
backoff_ms(int attempts)
{
    int64_t ms = 1000;

    while (attempts-- > 1 && ms < RETRY_CAP_MS)
        ms *= 2;
    return ms > RETRY_CAP_MS ? RETRY_CAP_MS : ms;
}

/* When the current credential should be replaced (epoch s).  A credential
 * STS made shorter than the margin is kept for half its life, so a short
 * one does not turn into a refresh loop. */
static int64_t
due_at(const struct gw *g, const struct rentry *e, const struct gw_session *p)
{
    int64_t t;

    /* A login from before this gateway started handed its credential to
     * another one (or to none): nothing is coming. */
    if (e->creds.access_key_id == NULL)
        return p->rec.opened < g->started ? 0 : p->rec.opened + HANDOFF_GRACE_S;
    t = e->creds.expiration - g->cfg.refresh_margin;
    if (t < e->minted + 1)
        t = e->minted +
            ((e->creds.expiration - e->minted) / 2 > 1 ? (e->creds.expiration - e->minted) / 2 : 1);
    return t;
}

/* AssumeRole again for the session's user: the same role, SourceIdentity
 * and tags as at login (stsrole:session stays the SSH session's id, so
 * CloudTrail finds every credential of it), a new nonce in the session
 * name.  The record is durable before the credential is served, as
 * pam_stsrole does at login. */
static int
mint(struct gw *g, struct gw_session *p, struct stsrole_assumed *as, char child[33],
     char request_id[128], struct stsrole_error *err)
{
    const struct stsrole_role *role = gw_conf_role_by_arn(g, p->rec.role_arn);
    struct stsrole_assume_params ap;
    struct stsrole_aws_client c;
    struct stsrole_tag tags[50];
    struct stsrole_session rec;
    char nonce[17], name[65];
    int rc;

    memset(as, 0, sizeof(*as));
    request_id[0] = '\0';
    if (role == NULL)
        return stsrole_fail(err, STSROLE_E_CONFIG, "role %s is no longer in %s", p->rec.role_arn,
                            g->config_path);
    if ((rc = stsrole_session_id(child, err)) != STSROLE_OK)
        return rc;
    snprintf(nonce, sizeof(nonce), "%.16s", child);
    /* stsrole:mfa=totp was checked at this session's login. */
    rc = stsrole_mint_params(&g->cfg, role, p->rec.user, p->rec.session_id, nonce, tags, name, &ap,
                             err);
    if (rc != STSROLE_OK)
        return rc;
    ap.source_identity = p->rec.source_identity;
    stsrole_client_aws(&g->cfg, &g->http, &g->base, "sts", g->cfg.sts_endpoint, &c);
    c.deadline_ms = MINT_DEADLINE_MS;
    rc = stsrole_sts_assume_role(&c, &ap, as, request_id, err);
    if (rc != STSROLE_OK)
        return rc;
    if (as->creds.session_token == NULL) {
        stsrole_assumed_free(as);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "AssumeRole answered without a token");
    }
    memset(&rec, 0, sizeof(rec));
    memcpy(rec.session_id, child, 33);
    rec.user = p->rec.user;
    rec.uid = p->rec.uid;
    rec.rhost = p->rec.rhost;
    rec.tty = p->rec.tty;
    rec.sshd_pid = p->rec.sshd_pid;
    rec.role_name = p->rec.role_name;
    rec.role_arn = p->rec.role_arn;
    rec.assumed_role_id = as->assumed_role_id;
    rec.session_name = name;
    rec.access_key_id = as->creds.access_key_id;
    rec.expiration = as->creds.expiration;
    rec.source_identity =
        as->source_identity != NULL ? as->source_identity : p->rec.source_identity;
    rec.aws_request_id = request_id;
    rec.opened = gw_now();
    rec.refresh = 1;
    rec.parent = p->rec.session_id;
    rc = stsrole_session_write(g->cfg.state_dir, &rec, err);
    if (rc != STSROLE_OK) {
        /* Never served, so never used: it expires on its own. */
        stsrole_assumed_free(as);
        return rc;
    }
    return STSROLE_OK;
}

static void
refresh_one(struct gw *g, struct gw_session *p)
{
    struct gw_refresh *r = g->refresh;
    struct stsrole_assumed as;
    struct stsrole_error err;
    struct gw_session *cs;
    struct rentry *e;
    char child[33] = "", request_id[128], detail[1024], prev[64] = "none", iso[21];
    int rc, attempts = 0;

    stsrole_error_clear(&err);
    pthread_mutex_lock(&r->mu);
    if ((e = find(r, p->rec.session_id)) != NULL && e->creds.access_key_id != NULL) {
        stsrole_iso8601(e->creds.expiration, iso);
        snprintf(prev, sizeof(prev), "%s, expiring %s", e->creds.access_key_id, iso);
    }
    pthread_mutex_unlock(&r->mu);
    rc = mint(g, p, &as, child, request_id, &err);
    if (rc != STSROLE_OK) {
        pthread_mutex_lock(&r->mu);
        if ((e = find(r, p->rec.session_id)) != NULL) {
            attempts = ++e->attempts;
            e->next_try_ms = gw_mono_ms() + backoff_ms(e->attempts);
            snprintf(e->why, sizeof(e->why), "refresh failed (%s)",
                     stsrole_status_name(err.status));
        }
        pthread_mutex_unlock(&r->mu);
        snprintf(detail, sizeof(detail), "attempt %d: %s: %s; current credential %s", attempts,
                 stsrole_status_name(err.status), err.msg, prev);
        gw_audit(g, "refresh.failed", p, NULL, "error", request_id, detail);
        wake(r->wake_fd);
        return;
    }
    gw_sessions_seen(g, child);
    cs = gw_session_find(g, child);
    snprintf(detail, sizeof(detail), "credential for session %s, which replaces %s",
             p->rec.session_id, prev);
    if (cs != NULL && gw_audit(g, "refresh.ok", cs, NULL, "ok", request_id, detail) == 0) {
        cs->open_audited = 1; /* this line stands for its session.open */
        gw_track_save(g, cs);
    }
    pthread_mutex_lock(&r->mu);
    if ((e = find(r, p->rec.session_id)) != NULL) {
        if (set_creds(e, &as.creds, gw_now()) == 0) {
            e->attempts = 0;
            e->next_try_ms = 0;
        } else {
            e->next_try_ms = gw_mono_ms() + backoff_ms(++e->attempts);
        }
    }
    pthread_mutex_unlock(&r->mu);
    stsrole_assumed_free(&as);
    wake(r->wake_fd);
}

void
gw_refresh_step(struct gw *g)
{
    struct gw_refresh *r = g->refresh;
    struct gw_session *p;
    struct rentry *e;
    int64_t now, mono;
    size_t i, n;
    int due;

    if (r == NULL)
        return;
    drain(r->notify_fd);
    follow_sessions(g);
    sync_table(g);
    /* A few per step, so that revocations due meanwhile (the main loop
     * goes on to them) never wait behind a whole bastion's refreshes, as
     * after a restart; gw_refresh_next_ms brings the loop straight back. */
    for (i = 0, n = 0; i < g->n_sess && n < MINTS_PER_STEP; i++) {
        p = g->sess[i];
        if (!refreshed(p) || p->rec.parent != NULL || !chain_live(g, p))
            continue;
        now = gw_now();
        mono = gw_mono_ms();
        pthread_mutex_lock(&r->mu);
        e = find(r, p->rec.session_id);
        due = e != NULL && e->live && mono >= e->next_try_ms && due_at(g, e, p) <= now;
        pthread_mutex_unlock(&r->mu);
        if (due) {
            refresh_one(g, p);
            n++;
        }
    }
}

int64_t
gw_refresh_next_ms(const struct gw *g)
{
    struct gw_refresh *r = g->refresh;
    int64_t best = INT64_MAX, mono = gw_mono_ms(), now = gw_now(), t;
    size_t i;

    if (r == NULL)
        return best;
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < g->n_sess; i++) {
        const struct gw_session *p = g->sess[i];
        const struct rentry *e;

        if (!refreshed(p) || p->rec.parent != NULL || p->closed ||
            (e = find(r, p->rec.session_id)) == NULL || !e->live)
            continue;
        t = mono + (due_at(g, e, p) - now) * 1000;
        if (t < e->next_try_ms)
            t = e->next_try_ms;
        if (t < best)
            best = t;
    }
    pthread_mutex_unlock(&r->mu);
    return best;
}
