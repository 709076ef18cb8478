/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_gateway_request.c: libFuzzer target for gw_ctl_respond (stsrolectl's requests on the
 * gateway's control socket). */
/* fuzz-extra-sources: gateway/gw_ctl.c */
#include <cjson/cJSON.h>
#include <stdarg.h>

#include "../../gateway/gw.h"
#include "../../gateway/gw_breakglass.h"
#include "../../gateway/gwproto.h"
#include "fuzz.h"

/*
 * The gateway the requests reach: five sessions in every state that
 * do_revoke tells apart, and one role.  What lies behind the control
 * socket (IAM, the audit log, the session records) is replaced by the
 * stubs below, which record what they were asked to do.
 */
#define N_SESS 5
#define CAROL_FAILS "carol" /* revoking carol's session fails, so "failed" is exercised */

static const struct {
    const char *id, *user;
    int revoked, closed;
} fixture[N_SESS] = {
    {"3f2a9c0e5b7d41a68c1e2f3a4b5c6d7e", "alice", 0, 0},
    {"0123456789abcdef0123456789abcdef", "alice", 1, 0},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bob", 0, 1},
    {"fedcba9876543210fedcba9876543210", NULL, 0, 1}, /* its record is gone */
    {"00000000000000000000000000000001", CAROL_FAILS, 0, 0},
};

static const char role_arn[] = "arn:aws:iam::210987654321:role/SecurityAuditRole";

static struct gw g;
static struct gw_session sessions[N_SESS];
static struct gw_session *session_ptrs[N_SESS];
static struct stsrole_role conf_role;
static struct gw_role role;
static struct gw_role *role_ptrs[1];

/* What the stubs saw during one request. */
static struct {
    int steps, revoke_due, revoke_all, fleet;
    char revoke_all_role[GW_REQUEST_MAX + 1];
    char fleet_user[GW_REQUEST_MAX + 1];
} seen;

void
gw_log(int prio, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
}

void
gw_sessions_step(struct gw *gw)
{
    seen.steps++;
}

void
gw_revoke_due(struct gw *gw, int force)
{
    size_t i;

    /* stsrolectl revoke bypasses the back-off timers. */
    FUZZ_REQUIRE(force == 1);
    seen.revoke_due++;
    for (i = 0; i < gw->n_sess; i++) {
        struct gw_session *s = gw->sess[i];

        if (!(s->closed || s->manual) || s->revoked)
            continue;
        if (s->rec.user != NULL && strcmp(s->rec.user, CAROL_FAILS) == 0)
            snprintf(gw->last_error, sizeof(gw->last_error), "AccessDenied: not authorized");
        else
            s->revoked = 1;
    }
}

int
gw_revoke_all(struct gw *gw, const char *role_name, char *msg, size_t msglen)
{
    seen.revoke_all++;
    snprintf(seen.revoke_all_role, sizeof(seen.revoke_all_role), "%s", role_name);
    if (stsrole_config_role(&gw->cfg, role_name) == NULL) {
        snprintf(msg, msglen, "no role '%s' in the configuration", role_name);
        return STSROLE_E_NOTFOUND;
    }
    snprintf(msg, msglen, "credentials of %s issued before now are denied", role_name);
    return STSROLE_OK;
}

struct cJSON *
gw_fleet_revoke(struct gw *gw, const char *user)
{
    cJSON *o = cJSON_CreateObject();

    seen.fleet++;
    snprintf(seen.fleet_user, sizeof(seen.fleet_user), "%s", user);
    FUZZ_REQUIRE(o != NULL);
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddArrayToObject(o, "revoked");
    cJSON_AddArrayToObject(o, "failed");
    return o;
}

/* "minted" (stsrolectl assume) records through the audit log: the stub
 * checks what the control socket validated before it gets here. */
int
gw_audit(struct gw *g, const char *event, const struct gw_session *s, const char *role_arn,
         const char *outcome, const char *request_id, const char *detail)
{
    FUZZ_REQUIRE(event != NULL && s != NULL && stsrole_session_id_valid(s->rec.session_id));
    FUZZ_REQUIRE(s->rec.user != NULL && s->rec.role_arn != NULL && s->rec.access_key_id != NULL);
    return 0;
}

/* Root's view of the break-glass requests: none here. */
struct cJSON *
gw_breakglass_all(struct gw *gw)
{
    cJSON *o = cJSON_CreateObject();

    FUZZ_REQUIRE(o != NULL);
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddArrayToObject(o, "requests");
    return o;
}

int
gw_ship_status(struct gw *gw, struct cJSON *o)
{
    return 0; /* shipping is off: adds nothing */
}

struct gw_session *
gw_session_find(struct gw *gw, const char *id)
{
    size_t i;

    for (i = 0; i < gw->n_sess; i++)
        if (strcmp(gw->sess[i]->rec.session_id, id) == 0)
            return gw->sess[i];
    return NULL;
}

size_t
gw_queue_depth(const struct gw *gw)
{
    size_t i, n = 0;

    for (i = 0; i < gw->n_sess; i++)
        n += (gw->sess[i]->closed || gw->sess[i]->manual) && !gw->sess[i]->revoked;
    return n;
}

const struct stsrole_role *
gw_conf_role_by_arn(const struct gw *gw, const char *arn)
{
    size_t i;

    for (i = 0; arn != NULL && i < gw->cfg.n_roles; i++)
        if (strcmp(gw->cfg.roles[i].arn, arn) == 0)
            return &gw->cfg.roles[i];
    return NULL;
}

static void
setup_once(void)
{
    static char bastion[] = "bastion1", state[] = "/var/lib/stsrole", audit[] = "/var/log/a";
    static char conf_path[] = "/etc/stsrole/stsrole.conf", name[] = "SecurityAuditRole";
    static char arn[sizeof(role_arn)];

    memcpy(arn, role_arn, sizeof(role_arn));
    g.config_path = conf_path;
    g.cfg.bastion_id = bastion;
    g.cfg.state_dir = state;
    conf_role.name = name;
    conf_role.arn = arn;
    g.cfg.roles = &conf_role;
    g.cfg.n_roles = 1;
    g.audit.path = audit;
    g.audit.seq = 41;
    memcpy(g.audit.prev, STSROLE_AUDIT_GENESIS, sizeof(g.audit.prev));
    g.audit.tail_ok = 1;
    snprintf(g.policy_name, sizeof(g.policy_name), "stsrole-revoked-bastion1");
    g.started = 1764385000;
    role.arn = arn;
    snprintf(role.policy, sizeof(role.policy), "%s", g.policy_name);
    stsrole_revoked_init(&role.set);
    role_ptrs[0] = &role;
    g.roles = role_ptrs;
    g.n_roles = 1;
    g.sess = session_ptrs;
    g.n_sess = N_SESS;
    g.sock_fd = -1;
}

/* Every request starts from the same gateway. */
static void
reset(void)
{
    static char users[N_SESS][16], session_name[] = "alice.bastion1.3f2a9c";
    static char akid[] = "ASIARZPUZDIKMKDV5K4Q", arn[sizeof(role_arn)], rhost[] = "192.0.2.10";
    static char tty[] = "ssh", role_name[] = "SecurityAuditRole", source[] = "alice";
    static char role_id[] = "AROA3X42LBCDODTB7GBMQ:alice.bastion1.3f2a9c";
    size_t i;

    memcpy(arn, role_arn, sizeof(role_arn));
    memset(&seen, 0, sizeof(seen));
    g.last_error[0] = '\0';
    for (i = 0; i < N_SESS; i++) {
        struct gw_session *s = &sessions[i];

        memset(s, 0, sizeof(*s));
        memcpy(s->rec.session_id, fixture[i].id, 33);
        if (fixture[i].user != NULL) {
            snprintf(users[i], sizeof(users[i]), "%s", fixture[i].user);
            s->rec.user = users[i];
        }
        s->rec.uid = 1001 + (uid_t)i;
        s->rec.role_arn = arn;
        s->rec.session_name = session_name;
        s->rec.access_key_id = akid;
        if (i == 0) { /* one full record; the others lack what may be missing */
            s->rec.rhost = rhost;
            s->rec.tty = tty;
            s->rec.role_name = role_name;
            s->rec.assumed_role_id = role_id;
            s->rec.source_identity = source;
            s->rec.sshd_pid = 4242;
            s->rec.closed = 0;
        }
        s->rec.opened = 1764385631;
        s->rec.expiration = 1764389231;
        s->revoked = fixture[i].revoked;
        s->closed = fixture[i].closed;
        s->record_present = !fixture[i].closed;
        session_ptrs[i] = s;
    }
}

/* Which sessions this request names, by the rule stsrolectl documents:
 * an unrevoked session whose id, or whose user, is the one asked for. */
static int
named(const cJSON *req, size_t i)
{
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(req, "session");
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(req, "user");

    if (fixture[i].revoked)
        return 0;
    if (cJSON_IsString(sid) && strcmp(sid->valuestring, fixture[i].id) == 0)
        return 1;
    return cJSON_IsString(user) && fixture[i].user != NULL &&
           strcmp(user->valuestring, fixture[i].user) == 0;
}

static void
check(const char *request, size_t len, const char *text)
{
    cJSON *req = cJSON_ParseWithLength(request, len), *resp;
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd"), *ok, *all, *role_name, *user;
    const char *c = cJSON_IsString(cmd) ? cmd->valuestring : "";
    int is_revoke = strcmp(c, "revoke") == 0, by_all = 0, by_fleet = 0, n_named = 0;
    size_t i;

    /* stsrolectl reads exactly one line back. */
    FUZZ_REQUIRE(text != NULL && strchr(text, '\n') == NULL && strlen(text) < GW_RESPONSE_MAX);
    resp = cJSON_Parse(text);
    FUZZ_REQUIRE(cJSON_IsObject(resp));
    ok = cJSON_GetObjectItemCaseSensitive(resp, "ok");
    FUZZ_REQUIRE(cJSON_IsBool(ok));
    if (cJSON_IsFalse(ok))
        FUZZ_REQUIRE(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(resp, "error")));
    if (strcmp(c, "sessions") != 0 && strcmp(c, "status") != 0 && strcmp(c, "requests") != 0 &&
        !is_revoke)
        FUZZ_REQUIRE(cJSON_IsFalse(ok));

    if (is_revoke) {
        user = cJSON_GetObjectItemCaseSensitive(req, "user");
        all = cJSON_GetObjectItemCaseSensitive(req, "all");
        role_name = cJSON_GetObjectItemCaseSensitive(req, "role");
        /* --fleet goes first, then --all; neither marks a session here. */
        by_fleet = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "fleet"));
        by_all = !by_fleet && cJSON_IsTrue(all);
        FUZZ_REQUIRE(seen.fleet == (by_fleet && cJSON_IsString(user)));
        if (seen.fleet)
            FUZZ_REQUIRE(strcmp(seen.fleet_user, user->valuestring) == 0);
        /* --all asks IAM for one role by name, and nothing else. */
        FUZZ_REQUIRE(seen.revoke_all == (by_all && cJSON_IsString(role_name)));
        if (seen.revoke_all)
            FUZZ_REQUIRE(strcmp(seen.revoke_all_role, role_name->valuestring) == 0);
    } else {
        FUZZ_REQUIRE(seen.revoke_all == 0 && seen.fleet == 0);
    }
    /* Only the sessions asked for are marked, and every one of them is. */
    for (i = 0; i < N_SESS; i++) {
        int want = is_revoke && !by_all && !by_fleet && named(req, i);

        if (sessions[i].manual != want)
            fprintf(stderr, "detail: session %s (user %s): manual=%d, expected %d\n", fixture[i].id,
                    fixture[i].user ? fixture[i].user : "(none)", sessions[i].manual, want);
        FUZZ_REQUIRE(sessions[i].manual == want);
        n_named += want;
        if (fixture[i].revoked)
            FUZZ_REQUIRE(sessions[i].revoked);
        else if (!want && !fixture[i].closed)
            FUZZ_REQUIRE(!sessions[i].revoked); /* a live session nobody named */
    }
    FUZZ_REQUIRE(seen.revoke_due == (n_named > 0) && seen.steps == (n_named > 0));
    if (n_named > 0) {
        const cJSON *revoked = cJSON_GetObjectItemCaseSensitive(resp, "revoked");
        const cJSON *failed = cJSON_GetObjectItemCaseSensitive(resp, "failed");

        FUZZ_REQUIRE(cJSON_IsArray(revoked) && cJSON_IsArray(failed));
        FUZZ_REQUIRE(cJSON_GetArraySize(revoked) + cJSON_GetArraySize(failed) == n_named);
        /* A session whose revocation failed is never reported as revoked. */
        FUZZ_REQUIRE(cJSON_IsTrue(ok) == (cJSON_GetArraySize(failed) == 0));
    }
    if (strcmp(c, "sessions") == 0)
        FUZZ_REQUIRE(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(resp, "sessions")) ==
                     N_SESS);
    cJSON_Delete(resp);
    cJSON_Delete(req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    char buf[GW_REQUEST_MAX + 1], *text;

    if (!ready) {
        setup_once();
        ready = 1;
    }
    /* serve() reads at most GW_REQUEST_MAX bytes and terminates them. */
    if (size > GW_REQUEST_MAX)
        size = GW_REQUEST_MAX;
    memcpy(buf, data, size);
    buf[size] = '\0';
    reset();
    text = gw_ctl_respond(&g, buf, size);
    check(buf, size, text);
    free(text);
    return 0;
}
