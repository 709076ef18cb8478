/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_ctl.c: the gateway's root-only control socket: sessions, revoke now, status. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "exposure.h"
#include "fdio.h"
#include "gw.h"
#include "gw_breakglass.h"
#include "gwproto.h"

static int
sock_path(const struct gw *g, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if ((size_t)snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", g->cfg.state_dir,
                         GW_SOCKET_NAME) >= sizeof(sa->sun_path)) {
        gw_log(LOG_ERR, "state_dir is too long for a unix socket path");
        return -1;
    }
    return 0;
}

int
gw_ctl_listen(struct gw *g)
{
    struct sockaddr_un sa;
    struct stat st;

    if (sock_path(g, &sa) != 0)
        return -1;
    /* Only one gateway runs (the audit log's lock says so): a socket left
     * here is stale. */
    if (lstat(sa.sun_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            gw_log(LOG_ERR, "%s exists and is not a socket", sa.sun_path);
            return -1;
        }
        unlink(sa.sun_path);
    }
    g->sock_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (g->sock_fd < 0 || bind(g->sock_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        chmod(sa.sun_path, 0600) != 0 || listen(g->sock_fd, 16) != 0) {
        gw_log(LOG_ERR, "%s: %s", sa.sun_path, strerror(errno));
        return -1;
    }
    return 0;
}

void
gw_ctl_close(struct gw *g)
{
    struct sockaddr_un sa;

    if (g->sock_fd < 0)
        return;
    close(g->sock_fd);
    g->sock_fd = -1;
    if (sock_path(g, &sa) == 0)
        unlink(sa.sun_path);
}

static void
add_time(cJSON *o, const char *k, int64_t t)
{
    char iso[21];

    if (t == 0) {
        cJSON_AddNullToObject(o, k);
        return;
    }
    stsrole_iso8601(t, iso);
    cJSON_AddStringToObject(o, k, iso);
}

static void
add_str(cJSON *o, const char *k, const char *v)
{
    if (v == NULL)
        cJSON_AddNullToObject(o, k);
    else
        cJSON_AddStringToObject(o, k, v);
}

static const char *
state_of(const struct gw_session *s)
{
    if (!s->closed)
        return s->revoked ? "revoked" : "live";
    if (s->revoked)
        return "closed";
    return s->failed_audited ? "failing" : "revoking";
}

static cJSON *
session_json(const struct gw_session *s)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "session_id", s->rec.session_id);
    add_str(o, "user", s->rec.user);
    cJSON_AddNumberToObject(o, "uid", (double)s->rec.uid);
    add_str(o, "rhost", s->rec.rhost);
    add_str(o, "tty", s->rec.tty);
    cJSON_AddNumberToObject(o, "sshd_pid", (double)s->rec.sshd_pid);
    add_str(o, "role_name", s->rec.role_name);
    add_str(o, "role_arn", s->rec.role_arn);
    add_str(o, "session_name", s->rec.session_name);
    add_str(o, "assumed_role_id", s->rec.assumed_role_id);
    add_str(o, "source_identity", s->rec.source_identity);
    add_str(o, "access_key_id", s->rec.access_key_id);
    add_time(o, "opened", s->rec.opened);
    add_time(o, "expiration", s->rec.expiration);
    add_time(o, "closed", s->rec.closed);
    cJSON_AddStringToObject(o, "credentials_mode", s->rec.refresh ? "process" : "env");
    add_str(o, "parent", s->rec.parent); /* a refreshed credential: its SSH session */
    cJSON_AddStringToObject(o, "state", state_of(s));
    return o;
}

static cJSON *
do_sessions(struct gw *g)
{
    cJSON *o = cJSON_CreateObject(), *arr;
    size_t i;

    if (o == NULL || (arr = cJSON_AddArrayToObject(o, "sessions")) == NULL)
        return o;
    cJSON_AddBoolToObject(o, "ok", 1);
    for (i = 0; i < g->n_sess; i++)
        cJSON_AddItemToArray(arr, session_json(g->sess[i]));
    return o;
}

static cJSON *error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

cJSON *
gw_error_vobject(const char *fmt, va_list ap)
{
    cJSON *o = cJSON_CreateObject();
    char msg[GW_ERROR_MAX];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (o == NULL || cJSON_AddBoolToObject(o, "ok", 0) == NULL ||
        cJSON_AddStringToObject(o, "error", msg) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *
error(const char *fmt, ...)
{
    cJSON *o;
    va_list ap;

    va_start(ap, fmt);
    o = gw_error_vobject(fmt, ap);
    va_end(ap);
    return o;
}

static cJSON *
do_revoke(struct gw *g, const cJSON *req)
{
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(req, "session");
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(req, "user");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(req, "role");
    cJSON *o, *ok, *bad;
    char msg[512], (*ids)[33];
    size_t i, n = 0;
    int rc;

    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "fleet"))) {
        if (!cJSON_IsString(user))
            return error("revoke --fleet needs --user USER");
        o = gw_fleet_revoke(g, user->valuestring);
        return o != NULL ? o : error("out of memory");
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "all"))) {
        if (!cJSON_IsString(role))
            return error("revoke --all needs --role NAME");
        rc = gw_revoke_all(g, role->valuestring, msg, sizeof(msg));
        if (rc != STSROLE_OK) {
            o = error("%s", msg);
            cJSON_AddNumberToObject(o, "status", rc);
            return o;
        }
        o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ok", 1);
        cJSON_AddStringToObject(o, "detail", msg);
        return o;
    }
    if (!cJSON_IsString(sid) && !cJSON_IsString(user))
        return error("revoke needs a session id or a user");
    if ((ids = calloc(g->n_sess + 1, sizeof(*ids))) == NULL)
        return error("out of memory");
    for (i = 0; i < g->n_sess; i++) {
        struct gw_session *s = g->sess[i];

        if (s->revoked)
            continue;
        if ((cJSON_IsString(sid) && strcmp(s->rec.session_id, sid->valuestring) == 0) ||
            (cJSON_IsString(user) && s->rec.user != NULL &&
             strcmp(s->rec.user, user->valuestring) == 0)) {
            s->manual = 1;
            memcpy(ids[n++], s->rec.session_id, 33);
        }
    }
    if (n == 0) {
        free(ids);
        return error("no unrevoked session matches");
    }
    gw_sessions_step(g); /* session.open first, if it is not written yet */
    gw_revoke_due(g, 1);
    o = cJSON_CreateObject();
    ok = cJSON_AddArrayToObject(o, "revoked");
    bad = cJSON_AddArrayToObject(o, "failed");
    for (i = 0; i < n; i++) {
        struct gw_session *s = gw_session_find(g, ids[i]);

        cJSON_AddItemToArray(s != NULL && !s->revoked ? bad : ok, cJSON_CreateString(ids[i]));
    }
    free(ids);
    cJSON_AddBoolToObject(o, "ok", cJSON_GetArraySize(bad) == 0);
    if (cJSON_GetArraySize(bad) != 0)
        cJSON_AddStringToObject(o, "error", g->last_error);
    return o;
}

static const char *
req_str(const cJSON *req, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* stsrolectl assume (root, checked in gw_ctl_accept) tells what it minted:
 * the gateway holds the audit log, so it writes the record. */
static cJSON *
do_minted(struct gw *g, const cJSON *req)
{
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(req, "expiration");
    struct gw_session s;
    const char *id = req_str(req, "session_id");
    cJSON *o;
    int rc;

    if (!stsrole_session_id_valid(id) || req_str(req, "user") == NULL ||
        req_str(req, "role_arn") == NULL || req_str(req, "access_key_id") == NULL)
        return error("minted: malformed request");
    memset(&s, 0, sizeof(s));
    memcpy(s.rec.session_id, id, sizeof(s.rec.session_id));
    s.remote = 1; /* no local uid to name */
    s.rec.user = (char *)req_str(req, "user");
    s.rec.source_identity = s.rec.user;
    s.rec.role_arn = (char *)req_str(req, "role_arn");
    s.rec.session_name = (char *)req_str(req, "session_name");
    s.rec.access_key_id = (char *)req_str(req, "access_key_id");
    s.rec.expiration = cJSON_IsNumber(exp) ? (int64_t)exp->valuedouble : 0;
    rc = gw_audit(g, "assume.ok", &s, NULL, "ok", req_str(req, "request_id"),
                  req_str(req, "detail"));
    if (rc != 0)
        return error("the audit log could not record it");
    o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    return o;
}

static cJSON *
do_status(struct gw *g)
{
    cJSON *o = cJSON_CreateObject(), *roles, *audit, *ro;
    struct stsrole_policy_budget b;
    const char *health = "ok";
    size_t i, failing = 0;
    char iso[21];

    for (i = 0; i < g->n_sess; i++)
        failing += g->sess[i]->failed_audited && !g->sess[i]->revoked;
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddNumberToObject(o, "pid", (double)getpid());
    add_time(o, "started", g->started);
    add_str(o, "bastion_id", g->cfg.bastion_id);
    add_str(o, "policy_name", g->policy_name);
    add_str(o, "config", g->config_path);
    cJSON_AddNumberToObject(o, "sessions", (double)g->n_sess);
    cJSON_AddNumberToObject(o, "queue", (double)gw_queue_depth(g));
    cJSON_AddNumberToObject(o, "failing", (double)failing);
    cJSON_AddNumberToObject(o, "revoked_total", (double)g->revoked_total);
    cJSON_AddNumberToObject(o, "skew", (double)g->skew);
    /* AWS's clock minus ours, learned from a refused signature's Date. */
    cJSON_AddNumberToObject(o, "clock_skew_s", (double)stsrole_aws_clock_skew());
    audit = cJSON_AddObjectToObject(o, "audit");
    add_str(audit, "path", g->audit.path);
    cJSON_AddNumberToObject(audit, "seq", (double)g->audit.seq);
    cJSON_AddStringToObject(audit, "prev", g->audit.prev);
    cJSON_AddBoolToObject(audit, "tail_ok", g->audit.tail_ok);
    cJSON_AddBoolToObject(audit, "failing", g->audit_broken);
    roles = cJSON_AddArrayToObject(o, "roles");
    for (i = 0; i < g->n_roles; i++) {
        const struct gw_role *r = g->roles[i];
        const struct stsrole_role *cr = gw_conf_role_by_arn(g, r->arn);

        ro = cJSON_CreateObject();
        cJSON_AddItemToArray(roles, ro);
        add_str(ro, "name", cr != NULL ? cr->name : NULL);
        cJSON_AddStringToObject(ro, "arn", r->arn);
        cJSON_AddStringToObject(ro, "policy", r->policy);
        cJSON_AddBoolToObject(ro, "synced", r->synced);
        cJSON_AddNumberToObject(ro, "entries", (double)r->set.n);
        if (r->set.older_than != 0) {
            stsrole_iso8601(r->set.older_than, iso);
            cJSON_AddStringToObject(ro, "token_issue_cutoff", iso);
        } else {
            cJSON_AddNullToObject(ro, "token_issue_cutoff");
        }
        if (stsrole_revoked_budget(&r->set, r->others_known ? r->others : 0, &b, NULL) ==
            STSROLE_OK) {
            cJSON_AddNumberToObject(ro, "budget", STSROLE_POLICY_BUDGET);
            cJSON_AddNumberToObject(ro, "others", (double)r->others);
            cJSON_AddBoolToObject(ro, "others_known", r->others_known);
            cJSON_AddNumberToObject(ro, "used", (double)b.used);
            cJSON_AddNumberToObject(ro, "left", (double)b.left);
            cJSON_AddNumberToObject(ro, "capacity", (double)b.capacity);
            /* revoked sessions (sid entries) that still fit; with
             * others_known every bastion's policy is counted */
            cJSON_AddNumberToObject(ro, "sessions_left", (double)b.capacity);
            cJSON_AddBoolToObject(ro, "fleet", r->others_known);
        }
        {
            cJSON *pa = cJSON_AddArrayToObject(ro, "person_cutoffs");
            size_t k, n_sid = 0;

            for (k = 0; k < r->set.n; k++)
                n_sid += r->set.v[k].kind == STSROLE_KEY_SID;
            cJSON_AddNumberToObject(ro, "sid_entries", (double)n_sid);
            cJSON_AddNumberToObject(ro, "userid_entries", (double)(r->set.n - n_sid));
            for (k = 0; pa != NULL && k < r->set.np; k++) {
                cJSON *po = cJSON_CreateObject();

                if (po == NULL)
                    break;
                cJSON_AddItemToArray(pa, po);
                cJSON_AddStringToObject(po, "person", r->set.p[k].person);
                stsrole_iso8601(r->set.p[k].before, iso);
                cJSON_AddStringToObject(po, "before", iso);
            }
        }
        add_str(ro, "last_error", r->last_error[0] ? r->last_error : NULL);
        if (r->last_error[0])
            health = "degraded";
    }
    /* Every instance of every [roles NAME] template, as expanded at the
     * last (re)load: the profile a session gets for it, and its ARN. */
    roles = cJSON_AddArrayToObject(o, "instances");
    for (i = 0; roles != NULL && i < g->cfg.n_roles; i++) {
        const struct stsrole_role *cr = &g->cfg.roles[i];

        if (cr->template_name == NULL || (ro = cJSON_CreateObject()) == NULL)
            continue;
        cJSON_AddItemToArray(roles, ro);
        add_str(ro, "template", cr->template_name);
        add_str(ro, "account", cr->account);
        add_str(ro, "alias", cr->alias);
        add_str(ro, "name", cr->name);
        add_str(ro, "arn", cr->arn);
    }
    if (failing > 0 || g->audit_broken || !g->audit.tail_ok || gw_ship_status(g, o))
        health = "degraded";
    if (g->cfg.credentials == STSROLE_CREDS_IMDS) {
        cJSON *im = cJSON_AddObjectToObject(o, "imds");

        add_str(im, "exposure", stsrole_exposure_name((enum stsrole_exposure)g->imds_state));
        add_str(im, "detail", g->imds_why[0] ? g->imds_why : NULL);
        add_str(im, "fix", g->imds_state != STSROLE_EXPOSURE_CLOSED ? STSROLE_IMDS_FIX : NULL);
        if (g->imds_state != STSROLE_EXPOSURE_CLOSED)
            health = "degraded";
    }
    cJSON_AddStringToObject(o, "health", health);
    add_str(o, "last_error", g->last_error[0] ? g->last_error : NULL);
    return o;
}

static int
write_all(int fd, const char *p, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

char *
gw_ctl_respond(struct gw *g, const char *request, size_t len)
{
    const cJSON *cmd;
    cJSON *req, *resp;
    char *text;

    req = cJSON_ParseWithLength(request, len);
    cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
    if (!cJSON_IsString(cmd))
        resp = error("malformed request");
    else if (strcmp(cmd->valuestring, "sessions") == 0)
        resp = do_sessions(g);
    else if (strcmp(cmd->valuestring, "revoke") == 0)
        resp = do_revoke(g, req);
    else if (strcmp(cmd->valuestring, "status") == 0)
        resp = do_status(g);
    else if (strcmp(cmd->valuestring, "minted") == 0)
        resp = do_minted(g, req);
    else if (strcmp(cmd->valuestring, "requests") == 0)
        resp = gw_breakglass_all(g);
    else
        resp = error("unknown command '%.40s'", cmd->valuestring);
    cJSON_Delete(req);
    text = resp != NULL ? cJSON_PrintUnformatted(resp) : NULL;
    cJSON_Delete(resp);
    return text;
}

static void
serve(struct gw *g, int fd)
{
    char buf[GW_REQUEST_MAX + 1], *text;
    size_t len;

    len = stsrole_read_line(fd, buf, GW_REQUEST_MAX);
    text = gw_ctl_respond(g, buf, len);
    if (text != NULL) {
        if (write_all(fd, text, strlen(text)) != 0 || write_all(fd, "\n", 1) != 0)
            gw_log(LOG_WARNING, "control socket: the client went away");
        free(text);
    }
}

void
gw_ctl_accept(struct gw *g)
{
    struct timeval tv = {2, 0};
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    int fd;

    fd = accept4(g->sock_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    /* The socket's mode already keeps others out; the peer's uid is
     * checked as well, so a mode mistake does not open the door. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 || cred.uid != geteuid()) {
        const char *deny = "{\"ok\":false,\"error\":\"permission denied\"}\n";

        (void)write_all(fd, deny, strlen(deny));
        close(fd);
        return;
    }
    serve(g, fd);
    close(fd);
}
