/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_sessions.c: the gateway follows each session record from open to revoked, durably. */
#include "config.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "gw.h"
#include "proc.h"
#include "safefile.h"

#define TRACK_MAX (64 * 1024)

struct gw_session *
gw_session_find(struct gw *g, const char *id)
{
    size_t i;

    for (i = 0; i < g->n_sess; i++)
        if (strcmp(g->sess[i]->rec.session_id, id) == 0)
            return g->sess[i];
    return NULL;
}

size_t
gw_queue_depth(const struct gw *g)
{
    size_t i, n = 0;

    for (i = 0; i < g->n_sess; i++)
        if ((g->sess[i]->closed || g->sess[i]->manual) && !g->sess[i]->revoked)
            n++;
    return n;
}

static struct gw_session *
session_add(struct gw *g, struct stsrole_session *rec)
{
    struct gw_session *s;

    if (g->n_sess == g->cap_sess) {
        size_t ncap = g->cap_sess ? g->cap_sess * 2 : 64;
        struct gw_session **nv = realloc(g->sess, ncap * sizeof(*nv));

        if (nv == NULL)
            return NULL;
        g->sess = nv;
        g->cap_sess = ncap;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return NULL;
    s->rec = *rec; /* takes ownership */
    memset(rec, 0, sizeof(*rec));
    g->sess[g->n_sess++] = s;
    return s;
}

static void
session_drop(struct gw *g, size_t i)
{
    stsrole_session_free(&g->sess[i]->rec);
    free(g->sess[i]);
    g->sess[i] = g->sess[--g->n_sess];
}

void
gw_sessions_free(struct gw *g)
{
    while (g->n_sess > 0)
        session_drop(g, g->n_sess - 1);
    free(g->sess);
    g->sess = NULL;
    g->cap_sess = 0;
}

static void
track_path(const struct gw *g, const char *id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/track/%s.json", g->state_gw, id);
}

int
gw_track_save(struct gw *g, struct gw_session *s)
{
    struct stsrole_buf rec, doc;
    struct stsrole_error err;
    char path[4200];
    int rc;

    if (g->batch) {
        s->unsaved = 1; /* after the batch's fsync: see gw_batch_end */
        return 0;
    }
    s->unsaved = 0;
    stsrole_buf_init(&rec, 0);
    stsrole_buf_init(&doc, 0);
    track_path(g, s->rec.session_id, path, sizeof(path));
    rc = stsrole_session_to_json(&s->rec, &rec, &err);
    if (rc == STSROLE_OK &&
        stsrole_buf_printf(&doc,
                           "{\"open_audited\":%d,\"close_audited\":%d,\"revoked\":%d,"
                           "\"revoke_audited\":%d,\"record\":%s}\n",
                           s->open_audited, s->close_audited, s->revoked, s->revoke_audited,
                           rec.data) != STSROLE_OK)
        rc = stsrole_fail(&err, STSROLE_E_NOMEM, "out of memory");
    if (rc == STSROLE_OK)
        rc = stsrole_write_atomic(path, doc.data, doc.len, 0600, &err);
    stsrole_buf_free(&rec);
    stsrole_buf_free(&doc);
    if (rc != STSROLE_OK) {
        gw_log(LOG_ERR, "track %s: %s", s->rec.session_id, err.msg);
        return -1;
    }
    return 0;
}

static int
flag(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) && v->valueint != 0;
}

static int
track_load_one(struct gw *g, const char *id)
{
    struct stsrole_buf text;
    struct stsrole_error err;
    struct stsrole_session rec;
    struct gw_session *s;
    char path[4200], *rtext = NULL;
    cJSON *o;
    int rc;

    track_path(g, id, path, sizeof(path));
    stsrole_buf_init(&text, 0);
    if (stsrole_read_safely(path, geteuid(), 0, TRACK_MAX, &text, &err) != STSROLE_OK) {
        gw_log(LOG_ERR, "track %s: %s", id, err.msg);
        return -1;
    }
    o = cJSON_ParseWithLength(text.data, text.len);
    stsrole_buf_free(&text);
    if (o == NULL ||
        (rtext = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, "record"))) == NULL) {
        gw_log(LOG_ERR, "track %s: malformed", id);
        cJSON_Delete(o);
        return -1;
    }
    memset(&rec, 0, sizeof(rec));
    rc = stsrole_session_from_json(rtext, strlen(rtext), &rec, &err);
    free(rtext);
    if (rc != STSROLE_OK || strcmp(rec.session_id, id) != 0) {
        gw_log(LOG_ERR, "track %s: %s", id, rc != STSROLE_OK ? err.msg : "wrong session id");
        if (rc == STSROLE_OK)
            stsrole_session_free(&rec);
        cJSON_Delete(o);
        return -1;
    }
    if ((s = session_add(g, &rec)) == NULL) {
        stsrole_session_free(&rec);
        cJSON_Delete(o);
        return -1;
    }
    s->open_audited = flag(o, "open_audited");
    s->close_audited = flag(o, "close_audited");
    s->revoked = flag(o, "revoked");
    s->revoke_audited = flag(o, "revoke_audited");
    cJSON_Delete(o);
    return 0;
}

/* "<32 hex>.json" and nothing else (temporary files end differently). */
static int
record_name(const char *name, char id[33])
{
    size_t n = strlen(name);

    if (n != 37 || strcmp(name + 32, ".json") != 0)
        return 0;
    memcpy(id, name, 32);
    id[32] = '\0';
    return stsrole_session_id_valid(id);
}

int
gw_sessions_load(struct gw *g)
{
    char path[4200], id[33];
    struct dirent *de;
    DIR *d;

    snprintf(path, sizeof(path), "%s/track", g->state_gw);
    if ((d = opendir(path)) == NULL) {
        gw_log(LOG_ERR, "%s: %s", path, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL)
        if (record_name(de->d_name, id) && gw_session_find(g, id) == NULL)
            track_load_one(g, id);
    closedir(d);
    return 0;
}

/* One of the log's last lines may stand for a step whose flag never reached
 * the track file (killed in between, or in a durable batch before its
 * flags were saved): take the log's word for it, so that step is not
 * written twice.  A flag only ever goes from 0 to 1, so a line whose flag
 * was saved long ago changes nothing. */
static void
recover_line(struct gw *g, const char *ev, const char *id)
{
    struct stsrole_session rec;
    struct stsrole_error err;
    struct gw_session *s;
    /* profile.ok and refresh.ok stand for a minted credential's session.open */
    int opens = strcmp(ev, "session.open") == 0 || strcmp(ev, "profile.ok") == 0 ||
                strcmp(ev, "refresh.ok") == 0;
    int *f;

    if (id[0] == '\0' || !stsrole_session_id_valid(id))
        return;
    s = gw_session_find(g, id);
    if (s == NULL) {
        if (!opens || stsrole_session_read(g->cfg.state_dir, id, &rec, &err) != STSROLE_OK)
            return;
        if ((s = session_add(g, &rec)) == NULL) {
            stsrole_session_free(&rec);
            return;
        }
    }
    if (opens)
        f = &s->open_audited;
    else if (strcmp(ev, "session.close") == 0)
        f = &s->close_audited;
    else if (strcmp(ev, "revoke.ok") == 0)
        f = &s->revoke_audited;
    else
        return;
    if (*f)
        return;
    *f = 1;
    if (f == &s->revoke_audited)
        s->revoked = 1;
    gw_log(LOG_NOTICE, "session %s: %s was logged before a restart; not logging it again",
           s->rec.session_id, ev);
    gw_track_save(g, s);
}

void
gw_sessions_recover(struct gw *g)
{
    struct stsrole_audit_tail_line *v = NULL;
    struct stsrole_error err;
    size_t i, n = 0;

    /* A durable batch leaves at most GW_BATCH_MAX lines with their flags
     * unsaved, all of them at the log's end. */
    if (stsrole_audit_tail(&g->audit, GW_BATCH_MAX, &v, &n, &err) != STSROLE_OK) {
        gw_log(LOG_ERR, "audit log: %s; recovering from its last line only", err.msg);
        recover_line(g, g->audit.last_event, g->audit.last_session);
        return;
    }
    for (i = 0; i < n; i++)
        recover_line(g, v[i].event, v[i].session);
    free(v);
}

static int64_t
boot_time(void)
{
    static int64_t btime;
    char line[256];
    FILE *f;

    if (btime != 0)
        return btime;
    if ((f = fopen("/proc/stat", "re")) == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "btime %ld", (long *)&btime) == 1)
            break;
    fclose(f);
    return btime;
}

/* Is the session's sshd still there?  A pid that is gone, a zombie, or a
 * process started after the session opened (the pid was reused) means
 * the session is over. */
static int
sshd_alive(struct gw_session *s)
{
    char path[64], buf[1024], *p, state;
    unsigned long long start;
    ssize_t n;
    int fd, i;

    if (s->rec.sshd_pid <= 0)
        return 1; /* nothing to watch: the record's close decides */
    /* The record names the process (pid and start time, from
     * /proc/PID/stat, which ProcSubset=pid leaves visible): anything else
     * with that pid is a later process. */
    if (s->rec.sshd_start > 0) {
        uint64_t now_start;
        char now_state;

        if (stsrole_proc_stat(s->rec.sshd_pid, &now_state, &now_start, NULL) != STSROLE_OK)
            return 0;
        return now_state != 'Z' && now_state != 'X' && (int64_t)now_start == s->rec.sshd_start;
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)s->rec.sshd_pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno != ENOENT && errno != ESRCH;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "pid (comm) state ppid ...": comm may hold spaces and parens. */
    if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 1, " %c", &state) != 1)
        return 1;
    if (state == 'Z' || state == 'X')
        return 0;
    if (s->proc_start == 0) {
        /* Field 22, starttime in clock ticks since boot; 19 fields after state. */
        for (i = 0, p = p + 2; i < 19 && p != NULL; i++) {
            p = strchr(p, ' ');
            if (p != NULL)
                p++;
        }
        if (p == NULL || sscanf(p, "%llu", &start) != 1 || boot_time() == 0)
            return 1;
        s->proc_start = boot_time() + (int64_t)(start / (unsigned long long)sysconf(_SC_CLK_TCK));
    }
    return !(s->rec.opened > 0 && s->proc_start > s->rec.opened + 2);
}

static void
update_closed(struct gw_session *s)
{
    if (s->closed)
        return;
    if (!s->record_present || s->rec.closed != 0 || !sshd_alive(s))
        s->closed = 1;
}

/* Identity of the record file: atomic rewrites (rename) give it a new inode. */
static int
record_stat(const struct gw *g, const char *id, struct stat *st)
{
    char path[4200];

    snprintf(path, sizeof(path), "%s/sessions/%s.json", g->cfg.state_dir, id);
    return lstat(path, st);
}

static int
record_unchanged(const struct gw_session *s, const struct stat *st)
{
    return s->rec_ino == (uint64_t)st->st_ino && s->rec_size == (int64_t)st->st_size &&
           s->rec_mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

void
gw_sessions_seen(struct gw *g, const char *id)
{
    struct stsrole_session rec;
    struct stsrole_error err;
    struct gw_session *s = gw_session_find(g, id);
    struct stat st;
    int rc, have_st;

    /* Taken before the read: a rewrite after it shows up as a change. */
    have_st = record_stat(g, id, &st) == 0;
    rc = stsrole_session_read(g->cfg.state_dir, id, &rec, &err);
    if (rc == STSROLE_E_NOTFOUND) {
        if (s != NULL) {
            s->record_present = 0;
            update_closed(s);
        }
        return;
    }
    if (rc != STSROLE_OK) {
        gw_log(LOG_ERR, "session %s: %s", id, err.msg);
        return;
    }
    if (s == NULL) {
        if ((s = session_add(g, &rec)) == NULL) {
            stsrole_session_free(&rec);
            gw_log(LOG_ERR, "out of memory");
            return;
        }
    } else {
        /* The record only ever gains its close time; keep the newest. */
        stsrole_session_free(&s->rec);
        s->rec = rec;
    }
    s->record_present = 1;
    if (have_st) {
        s->rec_ino = (uint64_t)st.st_ino;
        s->rec_size = (int64_t)st.st_size;
        s->rec_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    }
    update_closed(s);
}

int
gw_sessions_scan(struct gw *g)
{
    char path[4200], id[33];
    struct dirent *de;
    size_t i;
    DIR *d;

    snprintf(path, sizeof(path), "%s/sessions", g->cfg.state_dir);
    if ((d = opendir(path)) == NULL) {
        gw_log(LOG_ERR, "%s: %s", path, strerror(errno));
        return -1;
    }
    for (i = 0; i < g->n_sess; i++)
        g->sess[i]->record_present = 0;
    while ((de = readdir(d)) != NULL) {
        struct gw_session *s;
        struct stat st;

        if (!record_name(de->d_name, id))
            continue;
        /* Records only change by atomic rewrite; an unchanged one needs
         * no new read, which keeps a scan of many sessions cheap. */
        s = gw_session_find(g, id);
        if (s != NULL && record_stat(g, id, &st) == 0 && record_unchanged(s, &st)) {
            s->record_present = 1;
            continue;
        }
        gw_sessions_seen(g, id);
    }
    closedir(d);
    for (i = 0; i < g->n_sess; i++)
        update_closed(g->sess[i]);
    return 0;
}

int
gw_sessions_watch(struct gw *g)
{
    char path[4200];

    snprintf(path, sizeof(path), "%s/sessions", g->cfg.state_dir);
    g->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (g->inotify_fd < 0 ||
        inotify_add_watch(g->inotify_fd, path,
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE) < 0) {
        /* The periodic scan still finds everything, only later. */
        gw_log(LOG_WARNING, "inotify on %s: %s; relying on the periodic scan", path,
               strerror(errno));
        if (g->inotify_fd >= 0)
            close(g->inotify_fd);
        g->inotify_fd = -1;
    }
    return 0;
}

void
gw_sessions_inotify(struct gw *g)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    const struct inotify_event *ev;
    char id[33];
    ssize_t n;
    int reads, rescan = 0;

    for (reads = 0; reads < 64; reads++) {
        n = read(g->inotify_fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
            ev = (const struct inotify_event *)p;
            if (ev->mask & IN_Q_OVERFLOW)
                rescan = 1;
            else if (ev->len > 0 && record_name(ev->name, id))
                gw_sessions_seen(g, id);
        }
    }
    if (rescan)
        gw_sessions_scan(g);
}

/* Why the session counts as closed, for the audit line. */
static void
close_reason(const struct gw_session *s, char *out, size_t outlen)
{
    if (s->rec.closed != 0)
        snprintf(out, outlen, "logout recorded by pam_stsrole");
    else if (!s->record_present)
        snprintf(out, outlen, "session record removed");
    else
        snprintf(out, outlen, "sshd process %d is gone", (int)s->rec.sshd_pid);
}

static int
done(const struct gw_session *s)
{
    return s->closed && s->open_audited && s->close_audited && s->revoked && s->revoke_audited;
}

/* Removes the records of the credentials done, then their track files, with
 * one fsync of each directory: in that order a crash leaves at worst a
 * finished track file, which the next start removes.  A credential whose
 * record cannot be removed keeps its track file, saved. */
static void
finish_done(struct gw *g)
{
    struct gw_session *s;
    struct stsrole_error err;
    char path[4200];
    unsigned char *gone;
    size_t i, n = 0;
    int lock = -1, dfd, have_lock;

    for (i = 0; i < g->n_sess; i++)
        n += done(g->sess[i]);
    if (n == 0 || (gone = calloc(g->n_sess, 1)) == NULL)
        return;
    have_lock = stsrole_session_lock(g->cfg.state_dir, &lock, &err) == STSROLE_OK;
    if (!have_lock && err.status != STSROLE_E_NOTFOUND) {
        gw_log(LOG_ERR, "%s", err.msg);
        free(gone);
        return;
    }
    for (i = 0; i < g->n_sess; i++) {
        s = g->sess[i];
        if (!done(s))
            continue;
        snprintf(path, sizeof(path), "%s/sessions/%s.json", g->cfg.state_dir, s->rec.session_id);
        if (have_lock && unlink(path) != 0 && errno != ENOENT) {
            gw_log(LOG_ERR, "%s: %s", path, strerror(errno));
            if (s->unsaved)
                gw_track_save(g, s);
            continue;
        }
        gone[i] = 1;
    }
    if (have_lock) {
        (void)fsync(lock); /* the lock is the sessions directory */
        stsrole_session_unlock(lock);
    }
    for (i = 0; i < g->n_sess; i++) {
        if (!gone[i])
            continue;
        s = g->sess[i];
        track_path(g, s->rec.session_id, path, sizeof(path));
        if (unlink(path) != 0 && errno != ENOENT) {
            gw_log(LOG_ERR, "%s: %s", path, strerror(errno));
            gone[i] = 0;
            if (s->unsaved)
                gw_track_save(g, s);
        }
    }
    snprintf(path, sizeof(path), "%s/track", g->state_gw);
    if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    /* from the end: session_drop moves the last session into the slot */
    for (i = g->n_sess; i-- > 0;)
        if (gone[i])
            session_drop(g, i);
    free(gone);
}

/* Syncs the batch's lines, then saves the flags they stand for: the
 * sessions not done; a session done is left to finish_done (its lines
 * stand for its flags until its record is gone).  all: every session. */
static void
batch_save(struct gw *g, int all)
{
    size_t i;
    int batch = g->batch;

    if (gw_audit_sync(g) != 0)
        return; /* flags unsaved, nothing removed: after a crash the lines come again */
    g->batch = 0;
    for (i = 0; i < g->n_sess; i++)
        if (g->sess[i]->unsaved && (all || !done(g->sess[i])))
            gw_track_save(g, g->sess[i]);
    g->batch = batch;
}

/* GW_BATCH_MAX lines unsynced: every flag saved, nothing removed (revocation
 * threads may hold the sessions, and read their roles: the role state is
 * left to gw_batch_end). */
static void
batch_flush(struct gw *g)
{
    batch_save(g, 1);
}

/*
 * The durable batch of one turn of the main loop.  A logout that touched
 * 100 accounts has 100 credentials, each with a session.close and a
 * revoke.ok line, a track file saved twice, a record and a role state
 * file: done one after another, each with its own fsync, that was some
 * 1,200 fsyncs on the main thread.  In a batch the order that makes a
 * crash safe is kept, batch-wide:
 *
 *  1. The deny is in IAM before its revoke.ok line is written (revoke_role
 *     writes the line after PutRolePolicy's answer); session.open and
 *     session.close precede revoke.ok (mark_revoked, gw_sessions_step).
 *  2. Audit lines are written at once (every reader of the file sees them,
 *     the chain continues) and fsynced once, here, before anything that
 *     stands on them.  The shipper is told only then.
 *  3. Then the flags are saved (track files), for credentials not done.
 *  4. Then the records of the credentials done are removed (one fsync of
 *     the sessions directory), and then their track files (one fsync of
 *     the track directory).
 *  5. Role state files are written after the fsync without one of their
 *     own: they cache what IAM holds, and IAM's copy is merged in before
 *     the first write after a start (role_sync).
 *
 * A crash between 2 and 4 leaves lines whose flags are not saved: the next
 * start takes them from the log's last GW_BATCH_MAX lines
 * (gw_sessions_recover), and a batch never holds more unsaved (gw_audit
 * calls batch_flush).  A failed fsync saves no flag and removes nothing:
 * after a crash the lines are written again, never lost.
 */
void
gw_batch_begin(struct gw *g)
{
    g->batch = 1;
    g->batch_flush = batch_flush;
}

void
gw_batch_end(struct gw *g)
{
    size_t i;
    int unsaved = g->audit.unsynced > 0;

    for (i = 0; !unsaved && i < g->n_sess; i++)
        unsaved = g->sess[i]->unsaved;
    if (unsaved) {
        batch_save(g, 0);
        if (g->audit.unsynced > 0) {
            g->batch = 0;
            return; /* the sync failed */
        }
    }
    g->batch = 0;
    gw_roles_save_batch(g);
    finish_done(g);
}

void
gw_sessions_step(struct gw *g)
{
    struct gw_session *s;
    char why[128];
    size_t i;
    int save;

    for (i = 0; i < g->n_sess;) {
        s = g->sess[i];
        save = 0;
        /* Each flag is saved before the next audit line is written: a
         * restart only ever has the log's last line to reconcile.  The
         * lines go in order; when one cannot be written (the log fails),
         * the later ones wait, but revocation itself does not. */
        if (!s->open_audited) {
            /* who minted it (the person is the record's user) and why */
            snprintf(why, sizeof(why), "minted by pam_stsrole at login, stsrole:mfa=%s",
                     s->rec.mfa != NULL ? s->rec.mfa : "totp");
            if (gw_audit(g, "session.open", s, NULL, "ok", NULL, why) != 0) {
                i++;
                continue;
            }
            s->open_audited = 1;
            /* Saved now, as the next line may be a cut-off's notice. */
            save = gw_track_save(g, s) != 0;
            if (!save)
                gw_revoke_opened(g, s);
        }
        if (s->closed && !s->close_audited) {
            if (save)
                save = gw_track_save(g, s) != 0;
            close_reason(s, why, sizeof(why));
            if (gw_audit(g, "session.close", s, NULL, "ok", "", why) != 0) {
                if (save)
                    gw_track_save(g, s);
                i++;
                continue;
            }
            s->close_audited = 1;
            save = 1;
        }
        if (s->revoked && !s->revoke_audited) {
            if (save)
                save = gw_track_save(g, s) != 0;
            if (gw_audit(g, "revoke.ok", s, NULL, "ok", "",
                         s->revoke_detail ? s->revoke_detail : "in the deny policy") == 0) {
                s->revoke_audited = 1;
                save = 1;
            }
        }
        if (save)
            gw_track_save(g, s);
        i++;
    }
    /* In a batch, after its fsync (gw_batch_end). */
    if (!g->batch)
        finish_done(g);
}
