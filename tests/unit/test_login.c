/* SPDX-License-Identifier: BSD-3-Clause */
/* test_login.c: the login steps without PAM: the session record built from a mint, a login that
 * fails at the mint, and what an abort undoes (the record closed, the AWS config file removed). */
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "login.h"
#include "mint.h"
#include "runtime.h"
#include "session.h"
#include "sts.h"

static const char conf_text[] = "[stsrole]\n"
                                "region = eu-west-1\n"
                                "credentials = file:/nonexistent/stsrole-credentials\n"
                                "bastion_id = bastion-1\n"
                                "\n"
                                "[role audit]\n"
                                "arn = arn:aws:iam::222222222222:role/SecurityAuditRole\n"
                                "users = alice\n"
                                "tag.Team = Ops\n";

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static struct stsrole_session
person(void)
{
    struct stsrole_session who;

    memset(&who, 0, sizeof(who));
    who.user = "alice";
    who.uid = 1001;
    who.rhost = "192.0.2.7";
    who.tty = "ssh";
    who.sshd_pid = 4242;
    who.role_name = "audit";
    who.role_arn = "arn:aws:iam::222222222222:role/SecurityAuditRole";
    who.source_identity = "alice";
    return who;
}

static void
t_build(void **state)
{
    struct stsrole_session who = person(), rec;
    struct stsrole_assumed as;
    const char *id = "0123456789abcdef0123456789abcdef";

    (void)state;
    memset(&as, 0, sizeof(as));
    as.assumed_role_id = "AROAEXAMPLE:alice@bastion-1.0123456789abcdef";
    as.creds.access_key_id = "ASIAEXAMPLE";
    as.creds.expiration = 1800000000;
    stsrole_session_build(&rec, id, &who, &as, "alice@bastion-1.0123456789abcdef", "req-1",
                          1700000000);
    assert_string_equal(rec.session_id, id);
    assert_string_equal(rec.user, "alice");
    assert_int_equal(rec.uid, 1001);
    assert_string_equal(rec.rhost, "192.0.2.7");
    assert_string_equal(rec.tty, "ssh");
    assert_int_equal(rec.sshd_pid, 4242);
    assert_string_equal(rec.role_name, "audit");
    assert_string_equal(rec.assumed_role_id, as.assumed_role_id);
    assert_string_equal(rec.access_key_id, "ASIAEXAMPLE");
    assert_int_equal(rec.expiration, 1800000000);
    assert_string_equal(rec.session_name, "alice@bastion-1.0123456789abcdef");
    assert_string_equal(rec.aws_request_id, "req-1");
    assert_int_equal(rec.opened, 1700000000);
    assert_int_equal(rec.closed, 0);
    assert_int_equal(rec.refresh, 0);
    assert_null(rec.parent);
    /* No SourceIdentity in the answer: the person's; STS's echo otherwise. */
    assert_string_equal(rec.source_identity, "alice");
    as.source_identity = "alice-echo";
    stsrole_session_build(&rec, id, &who, &as, "n", "r", 1);
    assert_string_equal(rec.source_identity, "alice-echo");
}

/* Every AssumeRole of a session carries its revocation key: stsrole:sid,
 * derived from the session id, the one transitive tag; and the record
 * keeps it, so the gateway denies the sid. */
static void
t_sid_on_every_mint(void **state)
{
    struct stsrole_config cfg;
    struct stsrole_role role;
    struct stsrole_assume_params ap;
    struct stsrole_tag tags[50];
    struct stsrole_session who = person(), rec, back;
    struct stsrole_assumed as;
    struct stsrole_buf body, json;
    struct stsrole_error err;
    char name[65], sid[STSROLE_SID_LEN + 1];
    const char *id = "0123456789abcdef0123456789abcdef";
    size_t i, found = 0;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    memset(&role, 0, sizeof(role));
    cfg.bastion_id = "bastion-1";
    cfg.duration = 3600;
    role.arn = "arn:aws:iam::222222222222:role/SecurityAuditRole";
    assert_int_equal(stsrole_mint_params(&cfg, &role, "alice", id, "0123456789abcdef", "totp", tags,
                                         name, sid, &ap, &err),
                     STSROLE_OK);
    assert_string_equal(sid, "aerukz4jvpg6");
    for (i = 0; i < ap.n_tags; i++)
        if (strcmp(ap.tags[i].key, "stsrole:sid") == 0) {
            assert_string_equal(ap.tags[i].value, sid);
            found++;
        }
    assert_int_equal(found, 1);
    assert_int_equal(ap.n_transitive_tag_keys, 1);
    assert_string_equal(ap.transitive_tag_keys[0], "stsrole:sid");
    assert_int_equal(stsrole_sts_validate(&ap, &err), STSROLE_OK);
    stsrole_buf_init(&body, 0);
    assert_int_equal(stsrole_sts_assume_body(&ap, &body, &err), STSROLE_OK);
    assert_non_null(strstr(body.data, "Tags.member.4.Key=stsrole%3Asid&Tags.member.4.Value="
                                      "aerukz4jvpg6"));
    assert_non_null(strstr(body.data, "TransitiveTagKeys.member.1=stsrole%3Asid"));
    stsrole_buf_free(&body);

    /* The record keeps it; a malformed one is refused both ways. */
    memcpy(who.sid, sid, sizeof(who.sid));
    memset(&as, 0, sizeof(as));
    as.assumed_role_id = "AROAEXAMPLE:alice@bastion-1.0123456789abcdef";
    as.creds.access_key_id = "ASIAEXAMPLE";
    as.creds.expiration = 1800000000;
    stsrole_session_build(&rec, id, &who, &as, name, "req-1", 1700000000);
    assert_string_equal(rec.sid, sid);
    assert_int_equal(stsrole_session_to_json(&rec, &json, &err), STSROLE_OK);
    assert_non_null(strstr(json.data, "\"sid\":\"aerukz4jvpg6\""));
    assert_int_equal(stsrole_session_from_json(json.data, json.len, &back, &err), STSROLE_OK);
    assert_string_equal(back.sid, sid);
    stsrole_session_free(&back);
    {
        char *bad = strstr(json.data, "aerukz4jvpg6");

        bad[0] = 'A'; /* upper case: not a sid stsrole writes */
        assert_int_equal(stsrole_session_from_json(json.data, json.len, &back, &err),
                         STSROLE_E_PROTOCOL);
    }
    stsrole_buf_free(&json);
    memcpy(rec.sid, "a\"b", 4);
    assert_int_equal(stsrole_session_to_json(&rec, &json, &err), STSROLE_E_INVALID);
    /* A record from before sids has none, and reads back without one. */
    rec.sid[0] = '\0';
    assert_int_equal(stsrole_session_to_json(&rec, &json, &err), STSROLE_OK);
    assert_null(strstr(json.data, "\"sid\""));
    assert_int_equal(stsrole_session_from_json(json.data, json.len, &back, &err), STSROLE_OK);
    assert_string_equal(back.sid, "");
    stsrole_session_free(&back);
    stsrole_buf_free(&json);
}

/* The base credentials cannot be read: the mint fails, nothing is recorded. */
static void
t_open_fails_at_mint(void **state)
{
    struct stsrole_config cfg;
    struct stsrole_login l;
    struct stsrole_error err;

    (void)state;
    assert_int_equal(stsrole_config_parse(conf_text, "t.conf", &cfg, &err), STSROLE_OK);
    memset(&l, 0, sizeof(l));
    l.cfg = &cfg;
    l.role = stsrole_config_role(&cfg, "audit");
    l.user = "alice";
    l.uid = 1001;
    l.gid = 1001;
    l.sshd_pid = getpid();
    l.mfa = "totp";
    assert_int_not_equal(stsrole_login_open(&l, &err), STSROLE_OK);
    assert_int_equal(l.stage, STSROLE_LOGIN_MINTED);
    assert_string_equal(l.what, "could not obtain AWS credentials");
    assert_true(stsrole_session_id_valid(l.session_id));
    assert_memory_equal(l.mint.session_name, "alice@bastion-1.", 16);
    assert_int_equal(l.recorded, 0);
    assert_int_equal(l.configured, 0);
    assert_null(l.as.creds.access_key_id);
    stsrole_login_abort(&l);
    stsrole_config_free(&cfg);
}

/* An abort closes the record (so the gateway revokes at once) and removes
 * the session's AWS config file. */
static void
t_abort_undoes(void **state)
{
    char dir[] = "/tmp/stsrole-login-XXXXXX", state_dir[64], runtime_dir[64], path[4096];
    const char *const profiles[] = {"prod-payments-audit", "dev-audit"};
    const char *const bad[] = {"x y"};
    struct stsrole_session who = person(), rec, back;
    struct stsrole_assumed as;
    struct stsrole_config cfg;
    struct stsrole_login l;
    struct stsrole_error err;
    struct stat st;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
    snprintf(runtime_dir, sizeof(runtime_dir), "%s/run", dir);
    memset(&cfg, 0, sizeof(cfg));
    cfg.state_dir = state_dir;
    cfg.runtime_dir = runtime_dir;
    memset(&as, 0, sizeof(as));
    as.assumed_role_id = "AROAEXAMPLE:alice@bastion-1.0123456789abcdef";
    as.creds.access_key_id = "ASIAEXAMPLE";
    as.creds.expiration = 1800000000;

    memset(&l, 0, sizeof(l));
    l.cfg = &cfg;
    assert_int_equal(stsrole_session_id(l.session_id, &err), STSROLE_OK);
    stsrole_session_build(&rec, l.session_id, &who, &as, "alice@bastion-1.0123456789abcdef",
                          "req-1", 1700000000);
    assert_int_equal(stsrole_session_write(state_dir, &rec, &err), STSROLE_OK);
    assert_int_equal(stsrole_runtime_aws_config(runtime_dir, l.session_id, getuid(), getgid(),
                                                "/usr/bin/stsrole-credential-process", "eu-west-1",
                                                profiles, 2, path, sizeof(path), &err),
                     STSROLE_OK);
    assert_int_equal(stat(path, &st), 0);
    {
        /* one profile per role, each asking for itself */
        char text[4096], want[512];
        FILE *f = fopen(path, "r");
        size_t n;

        assert_non_null(f);
        n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        assert_non_null(strstr(text, "[profile stsrole]\n"));
        snprintf(want, sizeof(want),
                 "[profile prod-payments-audit]\ncredential_process = "
                 "/usr/bin/stsrole-credential-process --socket %s/credentials.sock --session %s "
                 "--profile prod-payments-audit\nregion = eu-west-1\n",
                 runtime_dir, l.session_id);
        assert_non_null(strstr(text, want));
        assert_non_null(strstr(text, "--profile dev-audit\n"));
    }
    assert_int_equal(stsrole_runtime_aws_config(runtime_dir, l.session_id, getuid(), getgid(),
                                                "/usr/bin/stsrole-credential-process", "eu-west-1",
                                                bad, 1, path, sizeof(path), &err),
                     STSROLE_E_INVALID);
    l.recorded = 1;
    l.configured = 1;
    stsrole_login_abort(&l);

    assert_int_equal(stsrole_session_read(state_dir, l.session_id, &back, &err), STSROLE_OK);
    assert_true(back.closed > 0);
    assert_string_equal(back.access_key_id, "ASIAEXAMPLE");
    stsrole_session_free(&back);
    assert_int_not_equal(stat(path, &st), 0);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Role chaining known at run time: a base credential with a session token
 * is a role session, so a duration over 3600 is cut to 3600 and said. */
static void
t_chained_cut(void **state)
{
    struct stsrole_creds_provider base;
    struct stsrole_assume_params ap;
    struct stsrole_error e;
    int cut;

    (void)state;
    memset(&base, 0, sizeof(base));
    base.kind = STSROLE_CREDS_ENV;
    setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLECHAINED01", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    setenv("AWS_SESSION_TOKEN", "token", 1);
    memset(&ap, 0, sizeof(ap));
    ap.duration = 7200;
    assert_int_equal(stsrole_mint_chained(&base, &ap, &cut, &e), STSROLE_OK);
    assert_int_equal(cut, 7200);
    assert_int_equal(ap.duration, STSROLE_CHAINED_MAX);
    stsrole_creds_provider_free(&base);
    /* A long-term key (no token) keeps the duration. */
    unsetenv("AWS_SESSION_TOKEN");
    memset(&base, 0, sizeof(base));
    base.kind = STSROLE_CREDS_ENV;
    ap.duration = 7200;
    assert_int_equal(stsrole_mint_chained(&base, &ap, &cut, &e), STSROLE_OK);
    assert_int_equal(cut, 0);
    assert_int_equal(ap.duration, 7200);
    stsrole_creds_provider_free(&base);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_build),
        cmocka_unit_test(t_sid_on_every_mint),
        cmocka_unit_test(t_open_fails_at_mint),
        cmocka_unit_test(t_abort_undoes),
        cmocka_unit_test(t_chained_cut),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
