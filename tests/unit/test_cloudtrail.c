/* SPDX-License-Identifier: BSD-3-Clause */
/* test_cloudtrail.c: CloudTrail files inflated and parsed, and the join with the audit log. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "reconcile.h"

#define ROLE "arn:aws:iam::222222222222:role/SecurityAuditRole"
#define OTHER "arn:aws:iam::222222222222:role/SomeAppRole"
#define IR "arn:aws:iam::222222222222:role/IncidentResponseRole"

static size_t
gzip(const char *in, unsigned char *out, size_t cap)
{
    z_stream z;

    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)strlen(in);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    deflateEnd(&z);
    return cap - z.avail_out;
}

static void
t_gunzip(void **state)
{
    static const char text[] = "{\"Records\":[]}";
    unsigned char gz[256], big[4096];
    char *zeros = calloc(1, 100001);
    struct stsrole_buf out;
    struct stsrole_error err;
    size_t n;

    (void)state;
    stsrole_buf_init(&out, 0);
    n = gzip(text, gz, sizeof(gz));
    assert_int_equal(stsrole_ct_gunzip(gz, n, 1024, &out, &err), STSROLE_OK);
    assert_string_equal(out.data, text);
    /* plain JSON passes as it is */
    assert_int_equal(stsrole_ct_gunzip(text, strlen(text), 1024, &out, &err), STSROLE_OK);
    assert_string_equal(out.data, text);
    /* truncated and corrupt */
    assert_int_equal(stsrole_ct_gunzip(gz, n - 6, 1024, &out, &err), STSROLE_E_PROTOCOL);
    gz[12] ^= 0xff;
    assert_int_equal(stsrole_ct_gunzip(gz, n, 1024, &out, &err), STSROLE_E_PROTOCOL);
    /* a small file that inflates past the cap (a gzip bomb) is refused */
    memset(zeros, 'a', 100000);
    n = gzip(zeros, big, sizeof(big));
    assert_true(n < 1000);
    assert_int_equal(stsrole_ct_gunzip(big, n, 50000, &out, &err), STSROLE_E_PROTOCOL);
    assert_int_equal(stsrole_ct_gunzip(big, n, 100000, &out, &err), STSROLE_OK);
    assert_int_equal(out.len, 100000);
    free(zeros);
    stsrole_buf_free(&out);
}

struct seen {
    int n;
    struct stsrole_ct_event last;
    char session[80], issuer[120], si[40], req_name[80], err_code[40];
    int64_t t;
};

static int
on_event(void *ctx, const struct stsrole_ct_event *ev, struct stsrole_error *err)
{
    struct seen *s = ctx;

    (void)err;
    s->n++;
    s->t = ev->t_ms;
    snprintf(s->session, sizeof(s->session), "%s", ev->session_name ? ev->session_name : "");
    snprintf(s->issuer, sizeof(s->issuer), "%s", ev->issuer_arn ? ev->issuer_arn : "");
    snprintf(s->si, sizeof(s->si), "%s", ev->source_identity ? ev->source_identity : "");
    snprintf(s->req_name, sizeof(s->req_name), "%s",
             ev->req_session_name ? ev->req_session_name : "");
    snprintf(s->err_code, sizeof(s->err_code), "%s", ev->error_code ? ev->error_code : "");
    return STSROLE_OK;
}

static void
t_parse(void **state)
{
    static const char file[] =
        "{\"Records\":[{\"eventTime\":\"2026-12-05T10:00:00Z\",\"eventSource\":"
        "\"ec2.amazonaws.com\",\"eventName\":\"DescribeInstances\",\"errorCode\":"
        "\"Client.UnauthorizedOperation\",\"userIdentity\":{\"type\":\"AssumedRole\","
        "\"principalId\":\"AROAX:alice@b1.n1\",\"arn\":\"arn:aws:sts::222222222222:assumed-role/"
        "SecurityAuditRole/alice@b1.n1\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\","
        "\"arn\":\"" ROLE "\"},\"sourceIdentity\":\"alice\"}}},"
        "{\"eventTime\":\"yesterday\"},"
        "{\"eventTime\":\"2026-02-30T00:00:00Z\"},"
        "{\"eventTime\":\"2026-12-05T10:00:01.5Z\",\"eventSource\":\"sts.amazonaws.com\","
        "\"eventName\":\"AssumeRole\",\"requestParameters\":{\"roleArn\":\"" ROLE "\","
        "\"roleSessionName\":\"bob@b1.n2\",\"sourceIdentity\":\"bob\"}}]}";
    struct stsrole_error err;
    struct seen s;
    size_t skipped;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(stsrole_ct_parse(file, strlen(file), on_event, &s, &skipped, &err),
                     STSROLE_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(skipped, 2);
    assert_string_equal(s.req_name, "bob@b1.n2");
    assert_int_equal(s.t, 1796464801500LL); /* 2026-12-05T10:00:01.500Z */
    memset(&s, 0, sizeof(s));
    assert_int_equal(stsrole_ct_parse(file, 600, on_event, &s, &skipped, &err), STSROLE_E_PROTOCOL);
    assert_int_equal(stsrole_ct_parse("{\"records\":[]}", 14, on_event, &s, &skipped, &err),
                     STSROLE_E_PROTOCOL);
    /* the first record alone */
    memset(&s, 0, sizeof(s));
    {
        char one[1024];
        const char *end = strstr(file, "},{\"eventTime\":\"yesterday");
        snprintf(one, sizeof(one), "%.*s}]}", (int)(end - file), file);
        assert_int_equal(stsrole_ct_parse(one, strlen(one), on_event, &s, &skipped, &err),
                         STSROLE_OK);
    }
    assert_int_equal(s.n, 1);
    assert_string_equal(s.session, "alice@b1.n1");
    assert_string_equal(s.issuer, ROLE);
    assert_string_equal(s.si, "alice");
    assert_string_equal(s.err_code, "Client.UnauthorizedOperation");
}

/* -- the join -------------------------------------------------------------- */

static char *
audit(const char *ts, const char *event, const char *user, const char *sid, const char *name,
      const char *role, const char *detail, const char *extra)
{
    char *s;

    assert_true(asprintf(&s,
                         "{\"seq\":1,\"ts\":\"%s\",\"host\":\"h\",\"bastion_id\":\"b1\","
                         "\"event\":\"%s\",\"user\":\"%s\",\"uid\":1000,\"rhost\":null,"
                         "\"tty\":null,\"session_id\":\"%s\",\"role_arn\":\"%s\",\"account\":"
                         "\"222222222222\",\"session_name\":\"%s\",\"source_identity\":\"%s\","
                         "\"detail\":%s%s%s%s,\"prev\":\"0\",\"hash\":\"0\"}",
                         ts, event, user, sid, role, name, user, detail ? "\"" : "",
                         detail ? detail : "null", detail ? "\"" : "", extra ? extra : "") > 0);
    return s;
}

static void
feed_audit(struct stsrole_recon *r, char *line)
{
    struct stsrole_error err;

    assert_int_equal(stsrole_recon_audit_line(r, line, strlen(line), &err), STSROLE_OK);
    free(line);
}

/* A call by role session name of role (in account 222222222222). */
static void
call_as(struct stsrole_recon *r, const char *role, const char *t, const char *name, const char *si,
        const char *error)
{
    struct stsrole_ct_event ev;
    struct stsrole_error err;
    char arn[200];

    memset(&ev, 0, sizeof(ev));
    snprintf(arn, sizeof(arn), "arn:aws:sts::222222222222:assumed-role/%s/%s",
             strrchr(role, '/') + 1, name);
    assert_int_equal(stsrole_ct_parse_time(t, &ev.t_ms), 0);
    ev.event_source = "ec2.amazonaws.com";
    ev.event_name = "DescribeInstances";
    ev.identity_type = "AssumedRole";
    ev.identity_arn = arn;
    ev.issuer_arn = role;
    ev.session_name = name;
    ev.source_identity = si;
    ev.error_code = error;
    ev.account = "222222222222";
    assert_int_equal(stsrole_recon_event(r, &ev, &err), STSROLE_OK);
}

static void
call(struct stsrole_recon *r, const char *t, const char *name, const char *si, const char *error)
{
    call_as(r, ROLE, t, name, si, error);
}

static void
assume(struct stsrole_recon *r, const char *t, const char *role, const char *name, const char *si,
       const char *request_id, const char *error)
{
    struct stsrole_ct_event ev;
    struct stsrole_error err;

    memset(&ev, 0, sizeof(ev));
    assert_int_equal(stsrole_ct_parse_time(t, &ev.t_ms), 0);
    ev.event_source = "sts.amazonaws.com";
    ev.event_name = "AssumeRole";
    ev.identity_type = "AssumedRole";
    ev.identity_arn = "arn:aws:sts::111111111111:assumed-role/BastionInstanceRole/i-1";
    ev.issuer_arn = "arn:aws:iam::111111111111:role/BastionInstanceRole";
    ev.session_name = "i-1";
    ev.req_role_arn = role;
    ev.req_session_name = name;
    ev.req_source_identity = si;
    ev.request_id = request_id;
    ev.error_code = error;
    ev.account = "222222222222";
    assert_int_equal(stsrole_recon_event(r, &ev, &err), STSROLE_OK);
}

/* Finds the one finding named name (for session, when given); NULL if none, fails if several. */
static const cJSON *
find(const cJSON *doc, const char *name, const char *session)
{
    const cJSON *it, *hit = NULL;

    cJSON_ArrayForEach(it, cJSON_GetObjectItem(doc, "findings"))
    {
        const cJSON *f = cJSON_GetObjectItem(it, "finding"),
                    *s = cJSON_GetObjectItem(it, "session_name");
        if (strcmp(f->valuestring, name) != 0 ||
            (session != NULL && (s == NULL || strcmp(s->valuestring, session) != 0)))
            continue;
        assert_null(hit);
        hit = it;
    }
    return hit;
}

static const char *
sev(const cJSON *f)
{
    return cJSON_GetObjectItem(f, "severity")->valuestring;
}

static void
t_join(void **state)
{
    struct stsrole_recon_opts o = {0, 0, 60, 1};
    struct stsrole_recon *r;
    struct stsrole_error err;
    cJSON *doc;
    const cJSON *f;
    size_t critical;

    (void)state;
    assert_int_equal(stsrole_recon_new(&r, &o, &err), STSROLE_OK);
    assert_int_equal(stsrole_recon_add_role(
                         r, "arn:aws:iam::333333333333:role/stsrole/IncidentResponseRole", &err),
                     STSROLE_OK);
    assert_int_equal(stsrole_recon_add_role(r, "not-an-arn", &err), STSROLE_E_INVALID);
    feed_audit(r, audit("2026-12-05T10:00:00.000Z", "session.open", "alice", "aa01", "alice@b1.n1",
                        ROLE, NULL, NULL));
    feed_audit(r, audit("2026-12-05T10:10:00.000Z", "session.close", "alice", "aa01", "alice@b1.n1",
                        ROLE, NULL, NULL));
    feed_audit(r, audit("2026-12-05T10:10:01.000Z", "revoke.ok", "alice", "aa01", "alice@b1.n1",
                        ROLE, NULL, NULL));
    /* carol's refreshed credential names its session in detail */
    feed_audit(r, audit("2026-12-05T10:00:00.000Z", "session.open", "carol", "cc01", "carol@b1.n3",
                        ROLE, NULL, NULL));
    feed_audit(r, audit("2026-12-05T10:50:00.000Z", "refresh.ok", "carol", "cc02", "carol@b1.n4",
                        ROLE, "credential for session cc01, which replaces none", NULL));
    feed_audit(r, audit("2026-12-05T11:00:00.000Z", "revoke.ok", "carol", "cc01", "carol@b1.n3",
                        ROLE, NULL, NULL));
    /* break-glass fields, as issue 15 is to write them */
    feed_audit(r, audit("2026-12-05T10:00:00.000Z", "session.open", "grace", "gg01", "grace@b1.n5",
                        ROLE, NULL, ",\"reason\":\"INC-1\",\"approvers\":[\"heidi\",\"ivan\"]"));
    /* the gateway's break-glass mint: a child of grace's SSH session */
    feed_audit(r, audit("2026-12-05T10:05:00.000Z", "breakglass.ok", "grace", "gg02", "grace@b1.n7",
                        ROLE, "credential for session gg01, break-glass request 0123456789abcdef",
                        ",\"id\":\"0123456789abcdef\",\"reason\":\"INC-2\","
                        "\"approvers\":[\"heidi\"]"));
    /* the request's record names the login that asked: not a break-glass credential */
    feed_audit(r, audit("2026-12-05T10:04:00.000Z", "breakglass.request", "alice", "aa01",
                        "alice@b1.n1", ROLE, "request 0123456789abcdef",
                        ",\"id\":\"0123456789abcdef\",\"reason\":\"INC-2\""));
    /* an operator's stsrolectl assume is a known mint */
    feed_audit(r, audit("2026-12-05T10:00:00.000Z", "assume.ok", "oscar", "oo01", "oscar@b1.n6",
                        ROLE, "stsrolectl assume by uid 0: stsrole:mfa=none", NULL));
    feed_audit(r, strdup("not json at all"));

    assume(r, "2026-12-05T09:59:59Z", ROLE, "alice@b1.n1", "alice", "req-1", NULL);
    assume(r, "2026-12-05T09:59:59Z", ROLE, "alice@b1.n1", "alice", "req-1", NULL);
    assume(r, "2026-12-05T09:59:59Z", ROLE, "oscar@b1.n6", "oscar", "req-6", NULL);
    assume(r, "2026-12-05T10:04:59Z", ROLE, "grace@b1.n7", "grace", "req-7", NULL);
    /* right name, wrong SourceIdentity */
    assume(r, "2026-12-05T10:30:00Z", ROLE, "alice@b1.n1", "mallory", "req-2", NULL);
    /* an unmanaged role is none of our business */
    assume(r, "2026-12-05T10:30:00Z", OTHER, "x", "x", "req-3", NULL);
    /* a managed role in another account, under a path, matched by name */
    assume(r, "2026-12-05T10:31:00Z", "arn:aws:iam::444444444444:role/IncidentResponseRole", "eve",
           NULL, "req-4", NULL);
    assume(r, "2026-12-05T10:31:01Z", "arn:aws:iam::444444444444:role/IncidentResponseRole", "eve",
           NULL, "req-4", NULL);
    /* refused by AWS: only a warning */
    assume(r, "2026-12-05T10:32:00Z", ROLE, "trudy", "trudy", "req-5", "AccessDenied");
    call(r, "2026-12-05T10:01:00Z", "alice@b1.n1", "alice", NULL);
    call(r, "2026-12-05T10:10:05Z", "alice@b1.n1", "alice", NULL); /* within the grace */
    call(r, "2026-12-05T10:10:09Z", "alice@b1.n1", "alice", "AccessDenied");
    /* the child is denied with its session */
    call(r, "2026-12-05T11:00:04Z", "carol@b1.n4", "carol", "Client.UnauthorizedOperation");
    call(r, "2026-12-05T11:05:00Z", "carol@b1.n4", "carol", NULL); /* late: critical */
    call(r, "2026-12-05T10:20:00Z", "ghost@b2.n9", "ghost", NULL);
    assert_int_equal(stsrole_recon_finish(r, &doc, &critical, &err), STSROLE_OK);

    f = find(doc, "assume.unmatched", "alice@b1.n1");
    assert_non_null(f);
    assert_string_equal(sev(f), "critical");
    assert_non_null(strstr(cJSON_GetObjectItem(f, "detail")->valuestring, "SourceIdentity"));
    assert_non_null(find(doc, "assume.unmatched", "eve"));
    assert_null(find(doc, "assume.unmatched", "x"));
    assert_null(find(doc, "assume.unmatched", "oscar@b1.n6"));
    assert_string_equal(sev(find(doc, "assume.unmatched", "trudy")), "warning");
    /* eve's AssumeRole, logged twice under one requestID, counts once */
    assert_int_equal(cJSON_GetObjectItem(find(doc, "assume.unmatched", "eve"), "count")->valueint,
                     1);
    f = find(doc, "revoked.used", "alice@b1.n1");
    assert_string_equal(sev(f), "warning");
    assert_int_equal(cJSON_GetObjectItem(f, "allowed")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(f, "refused")->valueint, 1);
    assert_true(cJSON_GetObjectItem(f, "delay_s")->valuedouble == 8.0);
    f = find(doc, "revoked.used", "carol@b1.n4");
    assert_string_equal(sev(f), "critical");
    assert_true(cJSON_GetObjectItem(f, "delay_s")->valuedouble == 4.0);
    assert_string_equal(sev(find(doc, "cloudtrail.only", "ghost@b2.n9")), "warning");
    f = find(doc, "breakglass", "grace@b1.n5");
    assert_string_equal(cJSON_GetObjectItem(f, "approvers")->valuestring, "heidi, ivan");
    assert_string_equal(cJSON_GetObjectItem(f, "reason")->valuestring, "INC-1");
    f = find(doc, "breakglass", "grace@b1.n7");
    assert_non_null(f);
    assert_string_equal(cJSON_GetObjectItem(f, "approvers")->valuestring, "heidi");
    assert_string_equal(cJSON_GetObjectItem(f, "reason")->valuestring, "INC-2");
    assert_null(find(doc, "breakglass", "alice@b1.n1"));
    /* its AssumeRole is a known mint, not an unmatched one */
    assert_null(find(doc, "assume.unmatched", "grace@b1.n7"));
    /* grace and carol's login made no call and had no AssumeRole in the trail */
    assert_non_null(find(doc, "audit.only", "grace@b1.n5"));
    assert_null(find(doc, "audit.only", "alice@b1.n1"));
    assert_int_equal(critical, 3); /* alice's name misused, eve, carol late */
    /* one SSH session for carol, with her refreshed credential in it */
    {
        const cJSON *s;
        int n = 0;
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(doc, "sessions"))
        {
            if (strcmp(cJSON_GetObjectItem(s, "user")->valuestring, "carol") == 0) {
                n++;
                assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s, "credentials")), 2);
            }
        }
        assert_int_equal(n, 1);
    }
    cJSON_Delete(doc);
    stsrole_recon_free(r);
}

/* stsrolectl revoke --all: every older session of the role counts as denied. */
static void
t_revoke_all_and_summary(void **state)
{
    struct stsrole_recon_opts o = {0, 0, 0, 0};
    struct stsrole_recon *r;
    struct stsrole_error err;
    cJSON *doc;
    size_t critical;
    char *names;
    int64_t t1, t2;

    (void)state;
    assert_int_equal(stsrole_recon_new(&r, &o, &err), STSROLE_OK);
    feed_audit(r, audit("2026-12-05T10:00:00.000Z", "session.open", "dave", "dd01", "dave@b1.n1",
                        ROLE, NULL, NULL));
    {
        char line[512];
        snprintf(line, sizeof(line),
                 "{\"seq\":2,\"ts\":\"2026-12-05T10:30:00.000Z\",\"event\":\"revoke.all\","
                 "\"role_arn\":\"%s\",\"outcome\":\"ok\"}",
                 ROLE);
        assert_int_equal(stsrole_recon_audit_line(r, line, strlen(line), &err), STSROLE_OK);
    }
    names = stsrole_recon_revoked(r);
    assert_string_equal(names, "dave@b1.n1 2026-12-05T10:30:00Z");
    free(names);
    assert_int_equal(stsrole_ct_parse_time("2026-12-05T10:01:00Z", &t1), 0);
    assert_int_equal(stsrole_ct_parse_time("2026-12-05T10:20:00Z", &t2), 0);
    /* Athena's aggregate row, then the revoked query's calls without counting */
    assert_int_equal(stsrole_recon_session_summary(r, ROLE, "dave@b1.n1", "dave", "222222222222",
                                                   12, t1, t2, &err),
                     STSROLE_OK);
    stsrole_recon_count_calls(r, 0);
    call(r, "2026-12-05T10:30:02Z", "dave@b1.n1", "dave", "AccessDenied");
    assert_int_equal(stsrole_recon_finish(r, &doc, &critical, &err), STSROLE_OK);
    assert_int_equal(critical, 0);
    assert_string_equal(sev(find(doc, "revoked.used", "dave@b1.n1")), "info");
    assert_int_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "sessions"), 0), "calls")
            ->valueint,
        12);
    cJSON_Delete(doc);
    stsrole_recon_free(r);
}

/* A session opened in the last 15 minutes of a given window may not be in CloudTrail yet. */
static void
t_delivery_lag(void **state)
{
    struct stsrole_recon_opts o = {0, 0, 60, 0};
    struct stsrole_recon *r;
    struct stsrole_error err;
    cJSON *doc;
    size_t critical;

    (void)state;
    assert_int_equal(stsrole_ct_parse_time("2026-12-05T00:00:00Z", &o.from_ms), 0);
    assert_int_equal(stsrole_ct_parse_time("2026-12-05T12:00:00Z", &o.to_ms), 0);
    assert_int_equal(stsrole_recon_new(&r, &o, &err), STSROLE_OK);
    feed_audit(r, audit("2026-12-05T11:40:00.000Z", "session.open", "early", "ee01", "early@b1.n1",
                        ROLE, NULL, NULL));
    feed_audit(r, audit("2026-12-05T11:50:00.000Z", "session.open", "late", "ll01", "late@b1.n1",
                        ROLE, NULL, NULL));
    call(r, "2026-12-05T11:00:00Z", "ghost@b2.n9", "ghost", NULL);
    assert_int_equal(stsrole_recon_finish(r, &doc, &critical, &err), STSROLE_OK);
    assert_non_null(find(doc, "audit.only", "early@b1.n1"));
    assert_null(find(doc, "audit.only", "late@b1.n1"));
    cJSON_Delete(doc);
    stsrole_recon_free(r);
}

/* Another profile of an SSH session (profile.ok) and its refresh are the session's
 * credentials, linked by the records' parent member or, in older logs, by detail; each is
 * denied by its own role's revoke.ok, not by the login's on another role. */
static void
t_profiles(void **state)
{
    struct stsrole_recon_opts o = {0, 0, 60, 1};
    struct stsrole_recon *r;
    struct stsrole_error err;
    const cJSON *f, *s, *e;
    cJSON *doc;
    size_t critical;
    int n = 0, denies = 0, profile = 0;

    (void)state;
    assert_int_equal(stsrole_recon_new(&r, &o, &err), STSROLE_OK);
    feed_audit(r, audit("2026-12-05T10:00:00.000Z", "session.open", "dan", "dd01", "dan@b1.n1",
                        ROLE, NULL, NULL));
    /* the link is the parent member; the detail names no session */
    feed_audit(r, audit("2026-12-05T10:01:00.000Z", "profile.ok", "dan", "dd02", "dan@b1.p2", IR,
                        "profile prod-ir", ",\"parent\":\"dd01\""));
    /* an older log: the detail only */
    feed_audit(r, audit("2026-12-05T10:50:00.000Z", "refresh.ok", "dan", "dd03", "dan@b1.p3", IR,
                        "profile prod-ir of session dd01, refreshed", NULL));
    feed_audit(r, audit("2026-12-05T11:00:00.000Z", "revoke.ok", "dan", "dd01", "dan@b1.n1", ROLE,
                        NULL, NULL));
    feed_audit(r, audit("2026-12-05T11:00:30.000Z", "revoke.ok", "dan", "dd02", "dan@b1.p2", IR,
                        NULL, ",\"parent\":\"dd01\""));
    feed_audit(r, audit("2026-12-05T11:00:30.000Z", "revoke.ok", "dan", "dd03", "dan@b1.p3", IR,
                        NULL, ",\"parent\":\"dd01\""));
    /* a detail that only looks like a link: no parent, a login of its own */
    feed_audit(r, audit("2026-12-05T10:00:00.000Z", "profile.ok", "fay", "ff02", "fay@b1.p1", IR,
                        "profile x of session zz, refreshed", NULL));
    call_as(r, IR, "2026-12-05T10:02:00Z", "dan@b1.p2", "dan", NULL);
    /* after the login's deny, before its own role's: allowed, and no finding */
    call_as(r, IR, "2026-12-05T11:00:10Z", "dan@b1.p2", "dan", NULL);
    call_as(r, IR, "2026-12-05T11:00:40Z", "dan@b1.p3", "dan", "AccessDenied");
    assert_int_equal(stsrole_recon_finish(r, &doc, &critical, &err), STSROLE_OK);
    assert_int_equal(critical, 0);
    assert_null(find(doc, "cloudtrail.only", NULL));
    assert_null(find(doc, "revoked.used", "dan@b1.p2"));
    f = find(doc, "revoked.used", "dan@b1.p3");
    assert_string_equal(sev(f), "info");
    assert_int_equal(cJSON_GetObjectItem(f, "refused")->valueint, 1);
    assert_true(cJSON_GetObjectItem(f, "delay_s")->valuedouble == 10.0);
    assert_string_equal(cJSON_GetObjectItem(f, "user")->valuestring, "dan");
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(doc, "sessions"))
    {
        if (strcmp(cJSON_GetObjectItem(s, "user")->valuestring, "dan") != 0)
            continue;
        n++;
        assert_string_equal(cJSON_GetObjectItem(s, "session_id")->valuestring, "dd01");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s, "credentials")), 3);
        assert_int_equal(cJSON_GetObjectItem(s, "calls")->valueint, 3);
        assert_int_equal(cJSON_GetObjectItem(s, "refused_after_deny")->valueint, 1);
        assert_int_equal(cJSON_GetObjectItem(s, "allowed_after_deny")->valueint, 0);
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(s, "timeline"))
        {
            const char *k = cJSON_GetObjectItem(e, "kind")->valuestring,
                       *t = cJSON_GetObjectItem(e, "text")->valuestring;
            denies += strcmp(k, "deny") == 0;
            profile += strstr(t, "another profile") != NULL;
        }
    }
    assert_int_equal(n, 1);
    assert_int_equal(denies, 3); /* the login's, and each of the profile's own */
    assert_int_equal(profile, 1);
    n = 0;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(doc, "sessions")) n +=
        strcmp(cJSON_GetObjectItem(s, "user")->valuestring, "fay") == 0;
    assert_int_equal(n, 1);
    cJSON_Delete(doc);
    stsrole_recon_free(r);
}

/* The report draws at most 2000 calls of a credential, but every call after its deny. */
static void
t_report_keeps_calls_after_deny(void **state)
{
    struct stsrole_recon_opts o = {0, 0, 60, 1};
    struct stsrole_recon *r;
    struct stsrole_error err;
    const cJSON *s, *e, *last = NULL;
    cJSON *doc;
    size_t critical;
    int i, n = 0;
    char t[32];

    (void)state;
    assert_int_equal(stsrole_recon_new(&r, &o, &err), STSROLE_OK);
    feed_audit(r, audit("2026-12-05T10:00:00.000Z", "session.open", "busy", "bb01", "busy@b1.n1",
                        ROLE, NULL, NULL));
    feed_audit(r, audit("2026-12-05T11:00:00.000Z", "revoke.ok", "busy", "bb01", "busy@b1.n1", ROLE,
                        NULL, NULL));
    for (i = 0; i < 2100; i++) {
        snprintf(t, sizeof(t), "2026-12-05T10:%02d:%02dZ", i / 60 % 60, i % 60);
        call(r, t, "busy@b1.n1", "busy", NULL);
    }
    call(r, "2026-12-05T11:00:05Z", "busy@b1.n1", "busy", "AccessDenied");
    assert_int_equal(stsrole_recon_finish(r, &doc, &critical, &err), STSROLE_OK);
    s = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "sessions"), 0);
    assert_int_equal(cJSON_GetObjectItem(s, "calls")->valueint, 2101);
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(s, "timeline"))
    {
        n++;
        if (strcmp(cJSON_GetObjectItem(e, "kind")->valuestring, "refused") == 0)
            last = e;
    }
    assert_non_null(last);                     /* the refusal after the deny is drawn */
    assert_int_equal(n, 2000 + 1 + 1 + 1 + 1); /* calls, refusal, "100 more", login, deny */
    cJSON_Delete(doc);
    stsrole_recon_free(r);
}

static void
t_times(void **state)
{
    int64_t t;

    (void)state;
    assert_int_equal(stsrole_ct_parse_time("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(stsrole_ct_parse_time("2024-02-29T23:59:59.999Z", &t), 0);
    assert_int_equal(t, 1709251199999LL);
    assert_int_equal(stsrole_ct_parse_time("2023-02-29T00:00:00Z", &t), -1);
    assert_int_equal(stsrole_ct_parse_time("2023-01-01T00:00:00", &t), -1);
    assert_int_equal(stsrole_ct_parse_time("2023-01-01T24:00:00Z", &t), -1);
    assert_int_equal(stsrole_ct_parse_time("2023-01-01 00:00:00Z", &t), -1);
    assert_int_equal(stsrole_ct_parse_time("2023-01-01T00:00:00.Z", &t), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_gunzip),       cmocka_unit_test(t_parse),
        cmocka_unit_test(t_join),         cmocka_unit_test(t_revoke_all_and_summary),
        cmocka_unit_test(t_delivery_lag), cmocka_unit_test(t_report_keeps_calls_after_deny),
        cmocka_unit_test(t_profiles),     cmocka_unit_test(t_times),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
