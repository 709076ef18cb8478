/* SPDX-License-Identifier: BSD-3-Clause */
/* test_approval.c: break-glass requests: reasons, the two-person rule, expiry, the session tag
 * values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "approval.h"
#include "mint.h"

#define ID "0123456789abcdef"

static const char conf[] = "[stsrole]\nregion = us-east-1\nbastion_id = b1\n"
                           "[role bg]\narn = arn:aws:iam::222222222222:role/BreakGlassRole\n"
                           "groups = oncall\n"
                           "reason_pattern = ^(INC|CHG)-[0-9]+\napprovals = 2\n"
                           "approvers = alice bob carol\napproval_timeout = 600\n"
                           "max_duration = 900\n";

static struct stsrole_config cfg;

static int
setup(void **state)
{
    struct stsrole_error e;

    (void)state;
    return stsrole_config_parse(conf, "t.conf", &cfg, &e) == STSROLE_OK ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    stsrole_config_free(&cfg);
    return 0;
}

static void
test_reason(void **state)
{
    const struct stsrole_role *r = stsrole_config_role(&cfg, "bg");
    struct stsrole_error e;
    char longer[STSROLE_REASON_MAX + 2];

    (void)state;
    assert_int_equal(stsrole_reason_check(r, "INC-4711 db down", &e), STSROLE_OK);
    assert_int_equal(stsrole_reason_check(r, "because", &e), STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "does not match role bg's reason_pattern ^(INC|CHG)-[0-9]+"));
    assert_int_equal(stsrole_reason_check(r, "", &e), STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "needs a reason"));
    assert_int_equal(stsrole_reason_check(r, NULL, &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_reason_check(r, "INC-1\nforged audit line", &e), STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "control character"));
    /* What an approver's terminal shows is what was written. */
    assert_int_equal(stsrole_reason_check(r, "INC-1 caf\xc3\xa9 \xe2\x82\xac", &e), STSROLE_OK);
    assert_int_equal(stsrole_reason_check(r,
                                          "INC-1 \xc2\x9b"
                                          "2J",
                                          &e),
                     STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "control character")); /* C1: CSI */
    assert_int_equal(stsrole_reason_check(r,
                                          "INC-1 \xe2\x80\xae"
                                          "evil",
                                          &e),
                     STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "U+202E")); /* right-to-left override */
    assert_int_equal(stsrole_reason_check(r,
                                          "INC-1 a\xe2\x80\x8b"
                                          "b",
                                          &e),
                     STSROLE_E_INVALID);
    /* the rest of the set: U+061C, U+200F, U+2066, U+FEFF */
    assert_int_equal(stsrole_reason_check(r, "INC-1 \xd8\x9c", &e), STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "U+061C"));
    assert_int_equal(stsrole_reason_check(r, "INC-1 \xe2\x80\x8f", &e), STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "U+200F"));
    assert_int_equal(stsrole_reason_check(r, "INC-1 \xe2\x81\xa6", &e), STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "U+2066"));
    assert_int_equal(stsrole_reason_check(r, "INC-1 \xef\xbb\xbf", &e), STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "U+FEFF"));
    /* 1024 bytes is the most */
    memset(longer, 'x', 1024);
    memcpy(longer, "INC-1 ", 6);
    longer[1024] = '\0';
    assert_int_equal(stsrole_reason_check(r, longer, &e), STSROLE_OK);
    assert_int_equal(stsrole_reason_check(r, "INC-1 \xff", &e), STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "not valid UTF-8"));
    assert_int_equal(stsrole_reason_check(r, "INC-1 \xc3", &e), STSROLE_E_INVALID);
    memset(longer, 'x', sizeof(longer) - 1);
    memcpy(longer, "INC-1 ", 6);
    longer[sizeof(longer) - 1] = '\0';
    assert_int_equal(stsrole_reason_check(r, longer, &e), STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "longer than 1024"));
}

static void
test_tag_value(void **state)
{
    char out[STSROLE_TAG_VALUE_MAX + 1], in[600];

    (void)state;
    stsrole_tag_value("INC-4711: db/primary down, paging @bob (sev=1)", out, sizeof(out));
    assert_string_equal(out, "INC-4711: db/primary down_ paging @bob _sev=1_");
    stsrole_tag_value("caf\xc3\xa9 \"x\";$(id)", out, sizeof(out));
    assert_string_equal(out, "caf__ _x____id_");
    memset(in, 'a', sizeof(in) - 1);
    in[sizeof(in) - 1] = '\0';
    stsrole_tag_value(in, out, sizeof(out));
    assert_int_equal(strlen(out), 256);
    stsrole_tag_value("abcdef", out, 4);
    assert_string_equal(out, "abc");
}

static void
test_approver_listed(void **state)
{
    struct stsrole_config c;
    struct stsrole_error e;
    const struct stsrole_role *r;
    const char *const leads[] = {"users", "secleads", NULL};
    const char *const others[] = {"users", "secleads-old", "@secleads", NULL};

    (void)state;
    assert_int_equal(stsrole_config_parse("[stsrole]\nregion = us-east-1\n[role bg]\n"
                                          "arn = arn:aws:iam::222222222222:role/B\ngroups = g\n"
                                          "approvals = 1\napprovers = alice @secleads\n",
                                          "t.conf", &c, &e),
                     STSROLE_OK);
    r = stsrole_config_role(&c, "bg");
    assert_true(stsrole_approver_listed(r, "alice", NULL));
    assert_true(stsrole_approver_listed(r, "erin", leads));
    assert_false(stsrole_approver_listed(r, "erin", others));
    assert_false(stsrole_approver_listed(r, "@secleads", NULL));
    assert_false(stsrole_approver_listed(r, "secleads", NULL));
    assert_false(stsrole_approver_listed(r, "alice2", leads + 2));
    stsrole_config_free(&c);
}

static void
test_two_people(void **state)
{
    const struct stsrole_role *r = stsrole_config_role(&cfg, "bg");
    struct stsrole_request q;
    struct stsrole_error e;
    char reason[STSROLE_TAG_VALUE_MAX + 1], approvers[STSROLE_TAG_VALUE_MAX + 1];
    int done;

    (void)state;
    assert_int_equal(stsrole_request_init(&q, r, "xyz", "dave", 1004, "INC-1", 1000, &e),
                     STSROLE_E_INVALID);
    assert_int_equal(stsrole_request_init(&q, r, ID, "dave", 1004, "no ticket", 1000, &e),
                     STSROLE_E_INVALID);
    assert_int_equal(stsrole_request_init(&q, r, ID, "dave", 1004, "INC-42 disk; full", 1000, &e),
                     STSROLE_OK);
    assert_int_equal(q.expires, 1600);
    assert_int_equal(stsrole_request_tags(&q, reason, approvers, &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_request_approve(&q, "dave", 1001, &done, &e), STSROLE_E_DENIED);
    assert_non_null(strstr(e.msg, "cannot approve their own request"));
    assert_int_equal(stsrole_request_deny(&q, "dave", 1001, &e), STSROLE_E_DENIED);
    assert_int_equal(stsrole_request_cancel(&q, "alice", 1001, &e), STSROLE_E_DENIED);
    assert_int_equal(stsrole_request_approve(&q, "alice", 1002, &done, &e), STSROLE_OK);
    assert_false(done);
    assert_int_equal(stsrole_request_approve(&q, "alice", 1003, &done, &e), STSROLE_E_DENIED);
    assert_non_null(strstr(e.msg, "already approved"));
    assert_int_equal(q.state, STSROLE_REQ_PENDING);
    assert_int_equal(stsrole_request_approve(&q, "bob", 1004, &done, &e), STSROLE_OK);
    assert_true(done);
    assert_string_equal(stsrole_request_state_name(q.state), "approved");
    assert_int_equal(stsrole_request_approve(&q, "carol", 1005, &done, &e), STSROLE_E_DENIED);
    assert_int_equal(stsrole_request_tags(&q, reason, approvers, &e), STSROLE_OK);
    assert_string_equal(reason, "INC-42 disk_ full");
    assert_string_equal(approvers, "alice bob");
    stsrole_request_free(&q);
}

static void
test_expiry_deny_cancel(void **state)
{
    const struct stsrole_role *r = stsrole_config_role(&cfg, "bg");
    struct stsrole_request q;
    struct stsrole_error e;
    int done;

    (void)state;
    assert_int_equal(stsrole_request_init(&q, r, ID, "dave", 1004, "INC-1", 1000, &e), STSROLE_OK);
    assert_int_equal(stsrole_request_expire(&q, 1599), 0);
    assert_int_equal(stsrole_request_approve(&q, "alice", 1599, &done, &e), STSROLE_OK);
    assert_int_equal(stsrole_request_approve(&q, "bob", 1600, &done, &e), STSROLE_E_DENIED);
    assert_non_null(strstr(e.msg, "is expired"));
    assert_false(done);
    assert_int_equal(q.state, STSROLE_REQ_EXPIRED);
    stsrole_request_free(&q);

    assert_int_equal(stsrole_request_init(&q, r, ID, "dave", 1004, "INC-1", 1000, &e), STSROLE_OK);
    assert_int_equal(stsrole_request_deny(&q, "carol", 1001, &e), STSROLE_OK);
    assert_string_equal(q.decided_by, "carol");
    assert_int_equal(stsrole_request_approve(&q, "alice", 1002, &done, &e), STSROLE_E_DENIED);
    assert_non_null(strstr(e.msg, "is denied"));
    stsrole_request_free(&q);

    assert_int_equal(stsrole_request_init(&q, r, ID, "dave", 1004, "INC-1", 1000, &e), STSROLE_OK);
    assert_int_equal(stsrole_request_cancel(&q, "dave", 1001, &e), STSROLE_OK);
    assert_string_equal(stsrole_request_state_name(q.state), "cancelled");
    assert_int_equal(stsrole_request_cancel(&q, "dave", 1002, &e), STSROLE_E_DENIED);
    stsrole_request_free(&q);
}

/* reason = required without approvals: approved at once, no second
 * person; its approvers tag says "none". */
static void
test_reason_only(void **state)
{
    struct stsrole_config c;
    struct stsrole_requests t = {NULL, 0};
    struct stsrole_request q;
    struct stsrole_error e;
    char reason[STSROLE_TAG_VALUE_MAX + 1], approvers[STSROLE_TAG_VALUE_MAX + 1];
    const struct stsrole_role *r;

    (void)state;
    assert_int_equal(stsrole_config_parse("[stsrole]\nregion = us-east-1\n[role ir]\n"
                                          "arn = arn:aws:iam::222222222222:role/IR\n"
                                          "users = dave\nreason = required\n"
                                          "[role plain]\narn = arn:aws:iam::2:role/P\n"
                                          "users = dave\n",
                                          "t.conf", &c, &e),
                     STSROLE_OK);
    r = stsrole_config_role(&c, "ir");
    assert_int_equal(stsrole_request_init(&q, r, ID, "dave", 1004, "", 1000, &e),
                     STSROLE_E_INVALID);
    assert_int_equal(stsrole_request_init(&q, r, ID, "dave", 1004, "INC-3", 1000, &e), STSROLE_OK);
    assert_int_equal(q.state, STSROLE_REQ_APPROVED);
    assert_int_equal(q.needed, 0);
    assert_int_equal(stsrole_request_tags(&q, reason, approvers, &e), STSROLE_OK);
    assert_string_equal(reason, "INC-3");
    assert_string_equal(approvers, "none");
    /* Kept in the table for the listings. */
    assert_int_equal(stsrole_requests_add(&t, &q, &e), STSROLE_OK);
    assert_int_equal(t.n, 1);
    stsrole_requests_free(&t);
    /* A role without the keys takes no requests. */
    assert_int_equal(
        stsrole_request_init(&q, stsrole_config_role(&c, "plain"), ID, "dave", 1004, "x", 1000, &e),
        STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "takes no requests"));
    stsrole_config_free(&c);
}

/* The requester's session ended: cancelled on their behalf, by "logout". */
static void
test_withdraw(void **state)
{
    const struct stsrole_role *r = stsrole_config_role(&cfg, "bg");
    struct stsrole_request q;
    struct stsrole_error e;
    int done;

    (void)state;
    assert_int_equal(stsrole_request_init(&q, r, ID, "dave", 1004, "INC-1", 1000, &e), STSROLE_OK);
    assert_int_equal(stsrole_request_withdraw(&q, "logout", 1010, &e), STSROLE_OK);
    assert_int_equal(q.state, STSROLE_REQ_CANCELLED);
    assert_string_equal(q.decided_by, "logout");
    assert_int_equal(q.decided, 1010);
    assert_int_equal(stsrole_request_approve(&q, "alice", 1011, &done, &e), STSROLE_E_DENIED);
    assert_int_equal(stsrole_request_withdraw(&q, "logout", 1012, &e), STSROLE_E_DENIED);
    stsrole_request_free(&q);
    /* Past its expiry it is expired, not cancelled. */
    assert_int_equal(stsrole_request_init(&q, r, ID, "dave", 1004, "INC-1", 1000, &e), STSROLE_OK);
    assert_int_equal(stsrole_request_withdraw(&q, "logout", 1600, &e), STSROLE_E_DENIED);
    assert_int_equal(q.state, STSROLE_REQ_EXPIRED);
    stsrole_request_free(&q);
}

static void
make(struct stsrole_request *q, const char *role, const char *id, const char *user, uid_t uid,
     time_t now)
{
    struct stsrole_config c;
    struct stsrole_error e;
    char text[512];

    snprintf(text, sizeof(text),
             "[stsrole]\nregion = us-east-1\n[role %s]\narn = arn:aws:iam::222222222222:role/B\n"
             "groups = g\napprovals = 1\napprovers = alice\napproval_timeout = 60\n",
             role);
    assert_int_equal(stsrole_config_parse(text, "t.conf", &c, &e), STSROLE_OK);
    assert_int_equal(
        stsrole_request_init(q, stsrole_config_role(&c, role), id, user, uid, "x", now, &e),
        STSROLE_OK);
    stsrole_config_free(&c);
}

static void
test_event(void **state)
{
    const struct stsrole_role *r = stsrole_config_role(&cfg, "bg");
    struct stsrole_request q;
    struct stsrole_error e;
    char *line;
    int done;

    (void)state;
    assert_int_equal(stsrole_request_init(&q, r, ID, "dave", 1004,
                                          "INC-9 \"x\"}, {\"event\":\"approved", 1000, &e),
                     STSROLE_OK);
    assert_int_equal(stsrole_request_approve(&q, "alice", 1001, &done, &e), STSROLE_OK);
    assert_int_equal(stsrole_request_event(&q, "approval", "alice", &line, &e), STSROLE_OK);
    assert_string_equal(line, "{\"event\":\"approval\",\"id\":\"" ID "\",\"role\":\"bg\","
                              "\"requester\":\"dave\",\"reason\":\"INC-9 \\\"x\\\"}, "
                              "{\\\"event\\\":\\\"approved\",\"state\":\"pending\","
                              "\"needed\":2,\"approvers\":[\"alice\"],\"by\":\"alice\","
                              "\"expires\":1600}\n");
    /* One line: the only newline is the last byte. */
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
    free(line);
    stsrole_request_free(&q);
}

static void
test_table(void **state)
{
    struct stsrole_requests t = {NULL, 0};
    struct stsrole_request q;
    struct stsrole_error e;
    char id[17];
    int i, done;

    (void)state;
    make(&q, "bg", "000000000000000a", "dave", 1004, 1000);
    assert_int_equal(stsrole_requests_add(&t, &q, &e), STSROLE_OK);
    assert_null(q.role); /* moved */
    make(&q, "bg", "000000000000000b", "dave", 1004, 1001);
    assert_int_equal(stsrole_requests_add(&t, &q, &e), STSROLE_E_DENIED);
    assert_non_null(strstr(e.msg, "already has request 000000000000000a pending for role bg"));
    stsrole_request_free(&q);
    make(&q, "bg", "000000000000000a", "erin", 1005, 1001);
    assert_int_equal(stsrole_requests_add(&t, &q, &e), STSROLE_E_INVALID);
    stsrole_request_free(&q);
    make(&q, "r2", "000000000000000c", "dave", 1004, 1001);
    assert_int_equal(stsrole_requests_add(&t, &q, &e), STSROLE_OK);
    make(&q, "r3", "000000000000000d", "dave", 1004, 1001);
    assert_int_equal(stsrole_requests_add(&t, &q, &e), STSROLE_OK);
    make(&q, "r4", "000000000000000e", "dave", 1004, 1001);
    assert_int_equal(stsrole_requests_add(&t, &q, &e), STSROLE_E_DENIED);
    assert_non_null(strstr(e.msg, "already has 3 requests pending"));
    stsrole_request_free(&q);
    assert_int_equal(t.n, 3);
    assert_int_equal(stsrole_request_approve(stsrole_requests_find(&t, "000000000000000a"), "alice",
                                             1002, &done, &e),
                     STSROLE_OK);
    assert_true(done);
    /* Approved: dave may ask for bg again; an hour later the old one is forgotten. */
    make(&q, "bg", "000000000000000f", "dave", 1004, 1003);
    assert_int_equal(stsrole_requests_add(&t, &q, &e), STSROLE_OK);
    stsrole_requests_prune(&t, 1002 + 3600, 3600);
    assert_null(stsrole_requests_find(&t, "000000000000000a"));
    assert_int_equal(t.n, 3);
    /* r2, r3 and the second bg expired at 1061 and 1063: gone an hour later. */
    stsrole_requests_prune(&t, 1063 + 3600, 3600);
    assert_int_equal(t.n, 0);
    /* The table is bounded: other users fill it, then nobody adds more. */
    for (i = 0; i < STSROLE_REQUESTS_MAX; i++) {
        char user[16];
        snprintf(id, sizeof(id), "%016x", i + 1);
        snprintf(user, sizeof(user), "u%d", i);
        make(&q, "bg", id, user, (uid_t)(2000 + i), 5000);
        assert_int_equal(stsrole_requests_add(&t, &q, &e), STSROLE_OK);
    }
    make(&q, "bg", "ffffffffffffffff", "late", 9999, 5001);
    assert_int_equal(stsrole_requests_add(&t, &q, &e), STSROLE_E_DENIED);
    stsrole_request_free(&q);
    stsrole_requests_free(&t);
    assert_int_equal(t.n, 0);
}

/* An approved request's credential: the login's tags, the two break-glass
 * tags, and max_duration, as they go over the wire to STS. */
static void
test_mint_tags(void **state)
{
    const struct stsrole_role *r = stsrole_config_role(&cfg, "bg");
    struct stsrole_request q;
    struct stsrole_error e;
    struct stsrole_tag tags[50];
    struct stsrole_assume_params ap;
    struct stsrole_buf body;
    char name[65], sid[STSROLE_SID_LEN + 1];
    char reason[STSROLE_TAG_VALUE_MAX + 1], approvers[STSROLE_TAG_VALUE_MAX + 1];
    int done;

    (void)state;
    assert_int_equal(stsrole_request_init(&q, r, ID, "dave", 1004, "INC-7 (sev1)", 1000, &e),
                     STSROLE_OK);
    assert_int_equal(stsrole_request_approve(&q, "alice", 1001, &done, &e), STSROLE_OK);
    assert_int_equal(stsrole_request_approve(&q, "bob", 1002, &done, &e), STSROLE_OK);
    assert_int_equal(stsrole_request_tags(&q, reason, approvers, &e), STSROLE_OK);
    assert_int_equal(stsrole_mint_params(&cfg, r, "dave", "0123456789abcdef0123456789abcdef",
                                         "0123456789abcdef", "totp", tags, name, sid, &ap, &e),
                     STSROLE_OK);
    assert_int_equal(stsrole_mint_breakglass(&ap, tags, "", approvers, &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_mint_breakglass(&ap, tags, reason, approvers, &e), STSROLE_OK);
    assert_int_equal(ap.duration, 900);
    assert_int_equal(stsrole_sts_validate(&ap, &e), STSROLE_OK);
    stsrole_buf_init(&body, 0);
    assert_int_equal(stsrole_sts_assume_body(&ap, &body, &e), STSROLE_OK);
    assert_non_null(strstr(body.data, "Tags.member.5.Key=stsrole%3Areason&Tags.member.5.Value="
                                      "INC-7+_sev1_"));
    assert_non_null(strstr(body.data, "Tags.member.6.Key=stsrole%3Aapprovers&Tags.member.6.Value="
                                      "alice+bob"));
    assert_non_null(strstr(body.data, "SourceIdentity=dave"));
    assert_non_null(strstr(body.data, "Tags.member.2.Key=stsrole%3Amfa"));
    assert_non_null(strstr(body.data, "Tags.member.4.Key=stsrole%3Asid"));
    assert_non_null(strstr(body.data, "DurationSeconds=900"));
    stsrole_buf_free(&body);
    stsrole_request_free(&q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason),
        cmocka_unit_test(test_tag_value),
        cmocka_unit_test(test_approver_listed),
        cmocka_unit_test(test_two_people),
        cmocka_unit_test(test_reason_only),
        cmocka_unit_test(test_withdraw),
        cmocka_unit_test(test_expiry_deny_cancel),
        cmocka_unit_test(test_mint_tags),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_event),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
