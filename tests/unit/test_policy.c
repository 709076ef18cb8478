/* SPDX-License-Identifier: BSD-3-Clause */
/* test_policy.c: the revocation deny policy: document shape, parse-back, prune, budget,
 * per-person compaction and the role-wide cut-off. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "iam.h"
#include "policy.h"

#define NOW 1700000000
#define SKEW 300

static struct stsrole_revoked_entry
entry_of(int kind, const char *key, const char *person, int64_t issued, int64_t expires)
{
    struct stsrole_revoked_entry e;

    memset(&e, 0, sizeof(e));
    e.kind = kind;
    snprintf(e.key, sizeof(e.key), "%s", key);
    snprintf(e.person, sizeof(e.person), "%s", person);
    e.issued = issued;
    e.expires = expires;
    e.exact = 1;
    return e;
}

/* A session's sid entry; the sid is made from i (12 base32 characters). */
static struct stsrole_revoked_entry
sid_entry(unsigned i, const char *person, int64_t issued, int64_t expires)
{
    char hex[33], sid[STSROLE_SID_LEN + 1];

    snprintf(hex, sizeof(hex), "%015x%017x", i, 0);
    assert_int_equal(stsrole_sid_from_session_id(hex, sid, NULL), STSROLE_OK);
    return entry_of(STSROLE_KEY_SID, sid, person, issued, expires);
}

/* The longest SourceIdentity STS accepts: 64 characters. */
static const char *
long_person(unsigned i)
{
    static char p[STSROLE_PERSON_MAX + 1];

    snprintf(p, sizeof(p), "%064u", i);
    return p;
}

static char *
to_json(const struct stsrole_revoked_set *s)
{
    struct stsrole_buf b;
    struct stsrole_error e;

    stsrole_buf_init(&b, 0);
    assert_int_equal(stsrole_revoked_to_json(s, &b, &e), STSROLE_OK);
    return stsrole_buf_steal(&b);
}

/*
 * An evaluator of our own for the documents: a Deny statement applies when
 * every condition holds (StringEquals on a string or any of a list;
 * DateLessThan on aws:TokenIssueTime).  Written apart from the builder, so
 * a test checks what the document says, not what the builder meant.
 */
struct request {
    const char *sid, *userid, *person;
    int64_t issued; /* AWS's clock */
};

static const char *
ctx_value(const struct request *r, const char *key)
{
    if (strcmp(key, "aws:PrincipalTag/stsrole:sid") == 0)
        return r->sid;
    if (strcmp(key, "aws:userid") == 0)
        return r->userid;
    if (strcmp(key, "aws:SourceIdentity") == 0)
        return r->person;
    fail_msg("unexpected condition key %s", key);
    return NULL;
}

static int
denied(const char *doc, const struct request *r)
{
    cJSON *root = cJSON_Parse(doc), *st, *op, *kv, *it;
    int deny = 0;

    if (*doc == '\0')
        return 0;
    assert_non_null(root);
    cJSON_ArrayForEach(st, cJSON_GetObjectItem(root, "Statement"))
    {
        int all = 1;

        assert_string_equal(cJSON_GetObjectItem(st, "Effect")->valuestring, "Deny");
        assert_string_equal(cJSON_GetObjectItem(st, "Action")->valuestring, "*");
        cJSON_ArrayForEach(op, cJSON_GetObjectItem(st, "Condition"))
        {
            cJSON_ArrayForEach(kv, op)
            {
                if (strcmp(op->string, "StringEquals") == 0) {
                    const char *have = ctx_value(r, kv->string);
                    int any = 0;

                    if (cJSON_IsString(kv))
                        any = have != NULL && strcmp(have, kv->valuestring) == 0;
                    else
                        cJSON_ArrayForEach(it, kv) any |=
                            have != NULL && strcmp(have, it->valuestring) == 0;
                    all &= any;
                } else if (strcmp(op->string, "DateLessThan") == 0) {
                    int64_t t;

                    assert_string_equal(kv->string, "aws:TokenIssueTime");
                    assert_int_equal(stsrole_parse_iso8601(kv->valuestring, &t), 0);
                    all &= r->issued < t;
                } else {
                    fail_msg("unexpected operator %s", op->string);
                }
            }
        }
        deny |= all;
    }
    cJSON_Delete(root);
    return deny;
}

/* A revoked entry is denied whatever AWS's clock said within the skew. */
static int
entry_denied(const char *doc, const struct stsrole_revoked_entry *e)
{
    struct request r = {NULL, NULL, e->person, 0};

    if (e->kind == STSROLE_KEY_SID)
        r.sid = e->key;
    else
        r.userid = e->key;
    r.issued = e->issued + SKEW;
    if (!denied(doc, &r))
        return 0;
    r.issued = e->issued - SKEW;
    return denied(doc, &r);
}

static void
test_sid_from_session_id(void **state)
{
    char sid[STSROLE_SID_LEN + 1];
    struct stsrole_error e;

    (void)state;
    assert_int_equal(stsrole_sid_from_session_id("000000000000000ffffffffffffffff0", sid, &e),
                     STSROLE_OK);
    assert_string_equal(sid, "aaaaaaaaaaaa");
    assert_int_equal(stsrole_sid_from_session_id("fffffffffffffff00000000000000000", sid, &e),
                     STSROLE_OK);
    assert_string_equal(sid, "777777777777");
    /* 0x0123456789abcde, 60 bits, 5 at a time (computed apart, in Python) */
    assert_int_equal(stsrole_sid_from_session_id("0123456789abcdef0123456789abcdef", sid, &e),
                     STSROLE_OK);
    assert_string_equal(sid, "aerukz4jvpg6");
    assert_true(stsrole_sid_valid(sid));
    assert_int_equal(stsrole_sid_from_session_id("0123456789ABCDEF", sid, &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_sid_from_session_id("0123", sid, &e), STSROLE_E_INVALID);
    assert_int_equal(stsrole_sid_from_session_id(NULL, sid, &e), STSROLE_E_INVALID);
}

static void
test_document_shape(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_revoked_entry add[3] = {
        entry_of(STSROLE_KEY_SID, "aencafteaf6n", "alice", NOW - 100, NOW + 3600),
        entry_of(STSROLE_KEY_SID, "bbbbbbbbbbbb", "bob", NOW - 50, NOW + 3600),
        entry_of(STSROLE_KEY_USERID, "AROAEXAMPLE123456789:carol@bastion1.cc", "carol", NOW - 50,
                 NOW + 3600),
    };
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    char *doc;

    (void)state;
    stsrole_revoked_init(&s);
    doc = to_json(&s);
    assert_string_equal(doc, ""); /* empty set: delete the policy */
    free(doc);
    assert_int_equal(stsrole_revoked_add(&s, add, 3, 0, NULL, 0, NOW, SKEW, &o, &e), STSROLE_OK);
    assert_int_equal(o.added, 3);
    assert_int_equal(o.fallback, 0);
    assert_int_equal(o.n_comp, 0);
    doc = to_json(&s);
    assert_string_equal(
        doc, "{\"Version\":\"2012-10-17\",\"Statement\":["
             "{\"Sid\":\"StsroleSid\",\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\","
             "\"Condition\":{\"StringEquals\":{\"aws:PrincipalTag/stsrole:sid\":[\"aencafteaf6n\","
             "\"bbbbbbbbbbbb\"]}}},"
             "{\"Sid\":\"StsroleRevoked\",\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\","
             "\"Condition\":{\"StringEquals\":{\"aws:userid\":[\"AROAEXAMPLE123456789:carol@"
             "bastion1.cc\"]}}}]}");
    assert_int_equal(stsrole_policy_size(doc, strlen(doc)), strlen(doc));
    free(doc);
    /* Adding again is idempotent. */
    assert_int_equal(stsrole_revoked_add(&s, add, 1, 0, NULL, 0, NOW, SKEW, &o, &e), STSROLE_OK);
    assert_int_equal(s.n, 3);
    /* A later credential of the same session updates its entry. */
    add[0].issued = NOW;
    add[0].expires = NOW + 7200;
    assert_int_equal(stsrole_revoked_add(&s, add, 1, 0, NULL, 0, NOW, SKEW, &o, &e), STSROLE_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.v[0].issued, NOW);
    assert_int_equal(s.v[0].expires, NOW + 7200);
    stsrole_revoked_free(&s);
}

static void
test_rejects_bad_keys(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_revoked_entry bad[4] = {
        entry_of(STSROLE_KEY_USERID, "AROAX:a\"b", "alice", 0, NOW),
        entry_of(STSROLE_KEY_SID, "ABCDEFGHIJKL", "alice", 0, NOW), /* upper case */
        entry_of(STSROLE_KEY_SID, "abc", "alice", 0, NOW),          /* too short */
        entry_of(STSROLE_KEY_SID, "abcdefghijkl", "al ice", 0, NOW),
    };
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    size_t i;

    (void)state;
    assert_true(stsrole_userid_valid("AROA123:ab"));
    assert_true(stsrole_userid_valid("AROA123:a+=,.@_-b"));
    assert_false(stsrole_userid_valid("AROA123:a"));   /* session names have 2+ chars */
    assert_false(stsrole_userid_valid(":abc"));        /* no id */
    assert_false(stsrole_userid_valid("AROA123"));     /* no session */
    assert_false(stsrole_userid_valid("AR OA:abc"));   /* whitespace would not count */
    assert_false(stsrole_userid_valid("AROA1:a b c")); /* nor here */
    assert_true(stsrole_person_valid("a.b@c"));
    assert_false(stsrole_person_valid("a"));
    assert_false(stsrole_person_valid("a\"b"));
    stsrole_revoked_init(&s);
    for (i = 0; i < 4; i++)
        assert_int_equal(stsrole_revoked_add(&s, &bad[i], 1, 0, NULL, 0, NOW, SKEW, &o, &e),
                         STSROLE_E_INVALID);
    assert_int_equal(s.n, 0);
    stsrole_revoked_free(&s);
}

static void
test_parse_back_round_trip(void **state)
{
    struct stsrole_revoked_set s, r;
    struct stsrole_revoked_entry add = sid_entry(1, "carol", NOW - 10, NOW + 60);
    struct stsrole_revoked_entry legacy =
        entry_of(STSROLE_KEY_USERID, "AROAEXAMPLE:dave@b.dd", "dave", NOW, NOW + 60);
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    size_t collapsed;
    char *doc, *doc2;

    (void)state;
    stsrole_revoked_init(&s);
    stsrole_revoked_init(&r);
    assert_int_equal(stsrole_revoked_add(&s, &add, 1, 0, NULL, 0, NOW, 0, &o, &e), STSROLE_OK);
    assert_int_equal(stsrole_revoked_revoke_older(&s, NOW - 5, 0, &collapsed, &e), STSROLE_OK);
    assert_int_equal(collapsed, 1);
    assert_int_equal(s.n, 0);
    assert_int_equal(stsrole_revoked_add(&s, &add, 1, 0, NULL, 0, NOW, 0, &o, &e), STSROLE_OK);
    assert_int_equal(o.covered, 1);
    add = sid_entry(2, "dave", NOW, NOW + 60);
    assert_int_equal(stsrole_revoked_add(&s, &add, 1, 0, NULL, 0, NOW, 0, &o, &e), STSROLE_OK);
    assert_int_equal(stsrole_revoked_add(&s, &legacy, 1, 0, NULL, 0, NOW, 0, &o, &e), STSROLE_OK);
    s.np = 0;
    {
        /* a person's cut-off, as a compaction writes it */
        struct stsrole_revoked_set t;

        stsrole_revoked_init(&t);
        assert_int_equal(stsrole_revoked_from_json(
                             "{\"Statement\":[{\"Sid\":\"StsrolePerson7\",\"Effect\":\"Deny\","
                             "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":"
                             "{\"aws:SourceIdentity\":\"erin\"},\"DateLessThan\":{\"aws:"
                             "TokenIssueTime\":\"2023-11-14T22:13:00Z\"}}}]}",
                             209, NOW, NOW + 999, &t, &e),
                         STSROLE_OK);
        assert_int_equal(t.np, 1);
        assert_string_equal(t.p[0].person, "erin");
        assert_int_equal(t.p[0].before, NOW - 20);
        assert_int_equal(t.p[0].until, NOW - 20 + STSROLE_POLICY_MAX_TOKEN_LIFE);
        assert_int_equal(stsrole_revoked_merge(&s, &t, &e), STSROLE_OK);
        stsrole_revoked_free(&t);
    }
    doc = to_json(&s);
    assert_non_null(
        strstr(doc, "\"DateLessThan\":{\"aws:TokenIssueTime\":\"2023-11-14T22:13:15Z\""));
    assert_non_null(strstr(doc, "\"Sid\":\"StsrolePerson1\""));
    assert_int_equal(stsrole_revoked_from_json(doc, strlen(doc), NOW + 7, NOW + 999, &r, &e),
                     STSROLE_OK);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.v[0].kind, STSROLE_KEY_SID);
    assert_string_equal(r.v[0].key, add.key);
    assert_string_equal(r.v[0].person, "");      /* unknown when read back */
    assert_int_equal(r.v[0].expires, NOW + 999); /* unknown: the caller's bound */
    assert_int_equal(r.v[0].issued, NOW + 7);    /* it existed when read */
    assert_int_equal(r.v[0].exact, 0);
    assert_int_equal(r.v[1].kind, STSROLE_KEY_USERID);
    assert_string_equal(r.v[1].key, "AROAEXAMPLE:dave@b.dd");
    assert_int_equal(r.np, 1);
    assert_int_equal(r.older_than, NOW - 5);
    assert_int_equal(r.older_until, NOW - 5 + STSROLE_POLICY_MAX_TOKEN_LIFE);
    doc2 = to_json(&r);
    assert_string_equal(doc, doc2);
    /* Merging the exact local view wins over the guess, person included. */
    assert_int_equal(stsrole_revoked_merge(&r, &s, &e), STSROLE_OK);
    assert_int_equal(r.v[0].expires, NOW + 60);
    assert_int_equal(r.v[0].issued, NOW);
    assert_int_equal(r.v[0].exact, 1);
    assert_string_equal(r.v[0].person, "dave");
    free(doc);
    free(doc2);
    stsrole_revoked_free(&s);
    stsrole_revoked_free(&r);
}

/* A crash between writing a fallback to IAM and saving our copy: at start
 * the old copy and IAM's are merged, and the cut-off folds the old entries
 * in again, while entries IAM lists after the cut-off stay. */
static void
test_merge_after_fallback_folds(void **state)
{
    struct stsrole_revoked_set local, remote;
    struct stsrole_revoked_entry add[2] = {
        entry_of(STSROLE_KEY_USERID, "AROAX:old1", "a1", NOW - 100, NOW + 3600),
        sid_entry(2, "a2", NOW - 90, NOW + 3600),
    };
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    const char *iam =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"StsroleSid\",\"Effect\":"
        "\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{"
        "\"aws:PrincipalTag/stsrole:sid\":[\"newnewnewnew\"]}}},{\"Sid\":\"StsroleRevokedOlder\","
        "\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"DateLessThan\":{"
        "\"aws:TokenIssueTime\":\"2023-11-14T22:13:10Z\"}}}]}";

    (void)state;
    stsrole_revoked_init(&local);
    stsrole_revoked_init(&remote);
    assert_int_equal(stsrole_revoked_add(&local, add, 2, 0, NULL, 0, NOW, 0, &o, &e), STSROLE_OK);
    assert_int_equal(stsrole_revoked_from_json(iam, strlen(iam), NOW + 5, NOW + 43200, &remote, &e),
                     STSROLE_OK);
    assert_int_equal(remote.older_than, NOW - 10);
    assert_int_equal(stsrole_revoked_merge(&local, &remote, &e), STSROLE_OK);
    assert_int_equal(local.n, 3);
    assert_int_equal(stsrole_revoked_fold(&local, 0), 2);
    assert_int_equal(local.n, 1);
    assert_string_equal(local.v[0].key, "newnewnewnew"); /* issued after the cut-off: kept */
    stsrole_revoked_free(&local);
    stsrole_revoked_free(&remote);
}

static void
test_parse_keeps_foreign_statements(void **state)
{
    const char *in = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Sid\":\"Other\",\"Effect\":"
                     "\"Deny\",\"Action\":\"s3:*\",\"Resource\":\"*\"}}";
    struct stsrole_revoked_set r;
    struct stsrole_revoked_entry add = sid_entry(5, "erin", NOW, NOW + 60);
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    char *doc;

    (void)state;
    stsrole_revoked_init(&r);
    assert_int_equal(stsrole_revoked_from_json(in, strlen(in), NOW, NOW, &r, &e), STSROLE_OK);
    assert_int_equal(r.n, 0);
    assert_non_null(r.foreign);
    assert_false(stsrole_revoked_empty(&r));
    assert_int_equal(stsrole_revoked_add(&r, &add, 1, 0, NULL, 0, NOW, 0, &o, &e), STSROLE_OK);
    doc = to_json(&r);
    assert_non_null(strstr(doc, "{\"Sid\":\"Other\",\"Effect\":\"Deny\",\"Action\":\"s3:*\""));
    assert_non_null(strstr(doc, add.key));
    free(doc);
    assert_int_equal(stsrole_revoked_from_json("[1]", 3, NOW, NOW, &r, &e), STSROLE_E_PROTOCOL);
    assert_int_equal(stsrole_revoked_from_json("{\"Statement\":[{\"Sid\":\"StsroleRevoked\","
                                               "\"Effect\":\"Deny\"}]}",
                                               54, NOW, NOW, &r, &e),
                     STSROLE_E_PROTOCOL);
    /* "StsrolePersonX" is not ours (digits only after the prefix): kept as it is. */
    assert_int_equal(stsrole_revoked_from_json("{\"Statement\":[{\"Sid\":\"StsrolePersonX\","
                                               "\"Effect\":\"Deny\",\"Action\":\"*\"}]}",
                                               69, NOW, NOW, &r, &e),
                     STSROLE_OK);
    assert_int_equal(r.np, 0);
    assert_non_null(r.foreign);
    /* A malformed person statement of ours is refused, never silently dropped. */
    assert_int_equal(stsrole_revoked_from_json("{\"Statement\":[{\"Sid\":\"StsrolePerson1\","
                                               "\"Effect\":\"Deny\",\"Condition\":{}}]}",
                                               70, NOW, NOW, &r, &e),
                     STSROLE_E_PROTOCOL);
    assert_non_null(r.foreign); /* a failed parse leaves the set as it was */
    stsrole_revoked_free(&r);
}

static void
test_prune_after_expiry_plus_skew(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_revoked_entry add[3] = {
        sid_entry(1, "p1", NOW - 3600, NOW - 400),
        sid_entry(2, "p2", NOW - 3600, NOW - 200),
        sid_entry(3, "p3", NOW - 60, NOW + 3000),
    };
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    size_t collapsed;
    int gone;
    char *doc;

    (void)state;
    stsrole_revoked_init(&s);
    assert_int_equal(stsrole_revoked_add(&s, add, 3, 0, NULL, 0, NOW, SKEW, &o, &e), STSROLE_OK);
    assert_int_equal(stsrole_revoked_prune(&s, NOW, SKEW, &gone), 1); /* only past skew */
    assert_int_equal(gone, 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.v[0].key, add[1].key);
    assert_int_equal(stsrole_revoked_prune(&s, NOW + 3300, SKEW, &gone), 2);
    assert_true(stsrole_revoked_empty(&s));
    doc = to_json(&s);
    assert_string_equal(doc, "");
    free(doc);
    /* The cut-off statement lasts for AssumeRole's longest credential. */
    assert_int_equal(stsrole_revoked_revoke_older(&s, NOW, SKEW, &collapsed, &e), STSROLE_OK);
    assert_int_equal(stsrole_revoked_prune(&s, NOW + STSROLE_POLICY_MAX_TOKEN_LIFE, SKEW, &gone),
                     0);
    assert_int_equal(gone, 0);
    stsrole_revoked_prune(&s, NOW + STSROLE_POLICY_MAX_TOKEN_LIFE + SKEW, SKEW, &gone);
    assert_int_equal(gone, 1);
    assert_true(stsrole_revoked_empty(&s));
    stsrole_revoked_free(&s);
}

/* Issue #12's capacity: at least 600 revoked sessions per role before any
 * compaction, measured with the longest names (sids have one length; the
 * person does not appear in a listed entry). */
static void
test_budget_and_capacity(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_policy_budget b0, b;
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    struct stsrole_revoked_entry add;
    size_t i, cap;

    (void)state;
    stsrole_revoked_init(&s);
    assert_int_equal(stsrole_revoked_budget(&s, 0, &b0, &e), STSROLE_OK);
    assert_int_equal(b0.limit, STSROLE_POLICY_BUDGET);
    assert_int_equal(b0.used, 0);
    assert_true(b0.reserve > 100 && b0.reserve < 200);
    cap = b0.capacity;
    print_message("capacity of an empty policy: %zu sessions\n", cap);
    assert_true(cap >= 600);
    assert_int_equal(cap, 661); /* the figure stsrole-gatewayd(8) and the README give */
    /* Exactly `capacity` entries fit without any compaction. */
    for (i = 0; i < cap; i++) {
        add = sid_entry((unsigned)i, long_person((unsigned)i), NOW - 1000, NOW + 3600);
        assert_int_equal(stsrole_revoked_add(&s, &add, 1, 0, NULL, 0, NOW, SKEW, &o, &e),
                         STSROLE_OK);
        assert_int_equal(o.fallback, 0);
        assert_int_equal(o.n_comp, 0);
        assert_int_equal(stsrole_revoked_budget(&s, 0, &b, &e), STSROLE_OK);
        assert_true(b.used + b.reserve <= b.limit);
        assert_int_equal(b.capacity, cap - i - 1);
    }
    /* The role's other inline policies (other bastions' included) count
     * against the same budget. */
    assert_int_equal(stsrole_revoked_budget(&s, 5000, &b, &e), STSROLE_OK);
    assert_int_equal(b.limit, STSROLE_POLICY_BUDGET - 5000);
    assert_int_equal(b.left, 0);
    assert_int_equal(b.capacity, 0);
    stsrole_revoked_free(&s);
}

/* Six bastions write their own policy on one role; each counts the others'
 * against the shared budget.  Together they hold at least 600 sessions
 * before any compaction. */
static void
test_six_bastions_hold_600(void **state)
{
    struct stsrole_revoked_set s[6];
    struct stsrole_revoked_entry add;
    struct stsrole_revoke_outcome o;
    struct stsrole_policy_budget b;
    struct stsrole_error e;
    size_t i, k, others, total = 0, sizes[6] = {0};
    int progress = 1;
    char *doc;

    (void)state;
    for (k = 0; k < 6; k++)
        stsrole_revoked_init(&s[k]);
    while (progress) {
        progress = 0;
        for (k = 0; k < 6; k++) {
            for (others = 0, i = 0; i < 6; i++)
                others += i != k ? sizes[i] : 0;
            assert_int_equal(stsrole_revoked_budget(&s[k], others, &b, &e), STSROLE_OK);
            if (b.capacity == 0)
                continue;
            add = sid_entry((unsigned)total, long_person((unsigned)total), NOW - 1000, NOW + 3600);
            assert_int_equal(
                stsrole_revoked_add(&s[k], &add, 1, others, NULL, 0, NOW, SKEW, &o, &e),
                STSROLE_OK);
            assert_int_equal(o.n_comp, 0);
            assert_int_equal(o.fallback, 0);
            doc = to_json(&s[k]);
            sizes[k] = stsrole_policy_size(doc, strlen(doc));
            free(doc);
            total++;
            progress = 1;
        }
    }
    print_message("six bastions: %zu sessions before any compaction\n", total);
    assert_true(total >= 600);
    for (others = 0, k = 0; k < 6; k++)
        others += sizes[k];
    assert_true(others <= STSROLE_POLICY_BUDGET);
    for (k = 0; k < 6; k++)
        stsrole_revoked_free(&s[k]);
}

/* Adds one entry, checks the call never fails for the budget, that the
 * document fits, and returns the outcome. */
static struct stsrole_revoke_outcome
add_one(struct stsrole_revoked_set *s, const struct stsrole_revoked_entry *add, size_t others,
        const struct stsrole_live *live, size_t n_live)
{
    struct stsrole_revoke_outcome o;
    struct stsrole_policy_budget b;
    struct stsrole_error e;

    assert_int_equal(stsrole_revoked_add(s, add, 1, others, live, n_live, NOW, SKEW, &o, &e),
                     STSROLE_OK);
    assert_int_equal(stsrole_revoked_budget(s, others, &b, &e), STSROLE_OK);
    assert_true(b.used <= b.limit);
    return o;
}

static int
live_denied(const char *doc, const struct stsrole_live *l, const char *sid)
{
    struct request r = {sid, NULL, l->person, l->issued + SKEW};

    /* not denied even if AWS's clock was skew ahead or behind */
    if (denied(doc, &r))
        return 1;
    r.issued = l->issued - SKEW;
    return denied(doc, &r);
}

/* Issue #12: one person logs in and out 2,000 times while another keeps a
 * session open.  Only the first person's entries are ever folded, into a
 * cut-off of theirs; the role-wide cut-off never comes; every revoked
 * session stays denied, the other person's live one never is. */
static void
test_one_person_flood_compacts_that_person(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_revoked_entry *all;
    struct stsrole_revoke_outcome o;
    struct stsrole_live live[1] = {{"bob", NOW - 9000}};
    struct stsrole_revoked_entry bobs = sid_entry(99999, "bob", NOW - 8000, NOW + 3600);
    size_t i, j, comps = 0;
    char *doc;

    (void)state;
    stsrole_revoked_init(&s);
    all = calloc(2000, sizeof(*all));
    assert_non_null(all);
    o = add_one(&s, &bobs, 0, live, 1);
    for (i = 0; i < 2000; i++) {
        all[i] = sid_entry((unsigned)i, "mallory", NOW - 8000 + (int64_t)i * 4, NOW + 3600);
        o = add_one(&s, &all[i], 0, live, 1);
        assert_int_equal(o.fallback, 0);
        for (j = 0; j < o.n_comp; j++) {
            assert_string_equal(o.comp[j].person, "mallory");
            assert_int_equal(o.comp[j].own_live, 0);
            assert_true(o.comp[j].window == 0 || o.comp[j].window > NOW);
            comps++;
        }
        if (i % 97 == 0 || i == 1999) {
            doc = to_json(&s);
            assert_false(live_denied(doc, &live[0], "bobbobbobbob"));
            for (j = 0; j <= i; j += 7)
                assert_true(entry_denied(doc, &all[j]));
            assert_true(entry_denied(doc, &all[i]));
            assert_true(entry_denied(doc, &bobs));
            free(doc);
        }
    }
    assert_true(comps >= 2);
    assert_int_equal(s.np, 1);
    /* no role-wide cut-off; mallory's next session, after her cut-off, is not denied */
    doc = to_json(&s);
    assert_null(strstr(doc, "StsroleRevokedOlder"));
    {
        struct request r = {"nextnextnext", NULL, "mallory", s.p[0].before + SKEW};

        assert_false(denied(doc, &r));
    }
    free(doc);
    free(all);
    stsrole_revoked_free(&s);
}

/* Per-person compaction stays skew clear of the person's own live session
 * while folding their older entries helps. */
static void
test_compaction_spares_own_live(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_revoked_entry e[80];
    struct stsrole_revoke_outcome o;
    struct stsrole_live live[1] = {{"mallory", NOW - 3000}};
    size_t i, j, comps = 0, others = STSROLE_POLICY_BUDGET - 1200;
    char *doc;

    (void)state;
    stsrole_revoked_init(&s);
    for (i = 0; i < 80; i++) {
        /* 40 before her live session, 40 after */
        int64_t t = i < 40 ? NOW - 6000 + (int64_t)i * 10 : NOW - 2000 + (int64_t)i * 10;

        e[i] = sid_entry((unsigned)i, "mallory", t, NOW + 3600);
        o = add_one(&s, &e[i], others, live, 1);
        assert_int_equal(o.fallback, 0);
        for (j = 0; j < o.n_comp; j++) {
            assert_int_equal(o.comp[j].own_live, 0);
            assert_true(o.comp[j].before <= live[0].issued - SKEW);
            comps++;
        }
    }
    assert_true(comps >= 1);
    doc = to_json(&s);
    assert_false(live_denied(doc, &live[0], "livelivelive"));
    for (i = 0; i < 80; i++)
        assert_true(entry_denied(doc, &e[i]));
    free(doc);
    stsrole_revoked_free(&s);
}

/* Entries older than twice the skew fold without touching the person's
 * later sessions: nothing they open from now on is hit. */
static void
test_compaction_spares_later_sessions(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_revoked_entry e[80];
    struct stsrole_revoke_outcome o;
    size_t i, j, comps = 0, others = STSROLE_POLICY_BUDGET - 1200;

    (void)state;
    stsrole_revoked_init(&s);
    for (i = 0; i < 80; i++) {
        e[i] = sid_entry((unsigned)i, "mallory", NOW - 9000 + (int64_t)i * 10, NOW + 3600);
        o = add_one(&s, &e[i], others, NULL, 0);
        for (j = 0; j < o.n_comp; j++) {
            assert_int_equal(o.comp[j].window, 0);
            assert_true(o.comp[j].before <= NOW - SKEW);
            comps++;
        }
    }
    assert_true(comps >= 1);
    assert_false(stsrole_revoked_may_hit(&s, "mallory", NOW, SKEW));
    stsrole_revoked_free(&s);
}

/* When only a cut-off past the person's own live session makes room, it is
 * taken (it hits no one else) and the outcome says so. */
static void
test_compaction_hits_own_live_and_says_so(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_revoked_entry e[80];
    struct stsrole_revoke_outcome o;
    struct stsrole_live live[2] = {{"mallory", NOW - 9000}, {"bob", NOW - 9000}};
    size_t i, j, own = 0, others = STSROLE_POLICY_BUDGET - 1200;
    char *doc;

    (void)state;
    stsrole_revoked_init(&s);
    for (i = 0; i < 80; i++) {
        e[i] = sid_entry((unsigned)i, "mallory", NOW - 5000 + (int64_t)i * 10, NOW + 3600);
        o = add_one(&s, &e[i], others, live, 2);
        assert_int_equal(o.fallback, 0);
        for (j = 0; j < o.n_comp; j++)
            own += o.comp[j].own_live;
    }
    assert_int_equal(own, 1); /* her live session, counted once */
    doc = to_json(&s);
    assert_true(live_denied(doc, &live[0], "livelivelive"));
    assert_false(live_denied(doc, &live[1], "bobbobbobbob"));
    for (i = 0; i < 80; i++)
        assert_true(entry_denied(doc, &e[i]));
    free(doc);
    stsrole_revoked_free(&s);
}

/* Issue #19: a burst of logouts, every entry younger than the skew, one
 * person each, more than the budget holds.  Every call succeeds, the
 * document fits, every revoked session is denied (whatever AWS's clock
 * said within the skew), and the role-wide cut-off is no later than skew
 * past the newest entry it folds. */
static void
burst(size_t n, size_t others, size_t batch)
{
    struct stsrole_revoked_set s;
    struct stsrole_revoked_entry *e;
    struct stsrole_revoke_outcome o;
    struct stsrole_live live[2] = {{"olivia", NOW - 4000}, {"oscar", NOW - 10}};
    struct stsrole_policy_budget b;
    struct stsrole_error err;
    size_t i, j, fallbacks = 0;
    int64_t newest = 0;
    char *doc;

    stsrole_revoked_init(&s);
    e = calloc(n, sizeof(*e));
    assert_non_null(e);
    for (i = 0; i < n; i++)
        e[i] = sid_entry((unsigned)i, long_person((unsigned)i), NOW - SKEW / 2 + (int64_t)(i % 100),
                         NOW + 3600);
    for (i = 0; i < n; i += batch) {
        size_t k = n - i < batch ? n - i : batch;

        assert_int_equal(stsrole_revoked_add(&s, &e[i], k, others, live, 2, NOW, SKEW, &o, &err),
                         STSROLE_OK);
        assert_int_equal(stsrole_revoked_budget(&s, others, &b, &err), STSROLE_OK);
        assert_true(b.used <= b.limit);
        if (o.fallback) {
            fallbacks++;
            for (j = 0; j < i + k; j++)
                if (e[j].issued > newest)
                    newest = e[j].issued;
            assert_true(o.cutoff <= newest + SKEW + 1);
            assert_true(o.cutoff > NOW); /* younger than the skew: past now */
        }
    }
    assert_true(fallbacks >= 1);
    doc = to_json(&s);
    assert_true(stsrole_policy_size(doc, strlen(doc)) + others <= STSROLE_POLICY_BUDGET);
    for (i = 0; i < n; i++)
        assert_true(entry_denied(doc, &e[i]));
    /* The live sessions it also hits are the caller's to audit. */
    assert_true(stsrole_revoked_may_hit(&s, "oscar", live[1].issued, SKEW));
    /* A session opened skew after the cut-off is not hit. */
    assert_false(stsrole_revoked_may_hit(&s, "nina", s.older_than + SKEW, SKEW));
    free(doc);
    free(e);
    stsrole_revoked_free(&s);
}

static void
test_burst_younger_than_skew(void **state)
{
    (void)state;
    burst(900, 0, 1);                            /* one logout at a time */
    burst(900, 0, 25);                           /* batches of 25 */
    burst(200, STSROLE_POLICY_BUDGET - 1000, 1); /* a small budget */
    burst(200, STSROLE_POLICY_BUDGET - 400, 3);  /* room for hardly anything */
}

static void
test_budget_exhausted_changes_nothing(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    struct stsrole_revoked_entry add = sid_entry(1, "alice", NOW - 1000, NOW + 3600);

    (void)state;
    stsrole_revoked_init(&s);
    /* Other inline policies leave too little even for the cut-off. */
    assert_int_equal(stsrole_revoked_add(&s, &add, 1, 10200, NULL, 0, NOW, SKEW, &o, &e),
                     STSROLE_E_INVALID);
    assert_non_null(strstr(e.msg, "budget exhausted"));
    assert_int_equal(s.n, 0);
    assert_int_equal(s.older_than, 0);
    assert_int_equal(o.added, 0);
    stsrole_revoked_free(&s);
}

static void
test_size_ignores_whitespace(void **state)
{
    (void)state;
    assert_int_equal(stsrole_policy_size("{ \"a\" :\n\t[1, 2] }", 18), 12);
    assert_int_equal(stsrole_policy_size("", 0), 0);
}

/* What IAM sends back: the document URL-encoded inside XML (GetRolePolicy). */
static void
test_iam_get_role_policy_answer(void **state)
{
    const char *xml =
        "<GetRolePolicyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
        "<GetRolePolicyResult><PolicyName>stsrole-revoked-b1</PolicyName>"
        "<RoleName>SecurityAuditRole</RoleName><PolicyDocument>"
        "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Sid%22%3A%22Stsrole"
        "Revoked%22%2C%22Effect%22%3A%22Deny%22%2C%22Action%22%3A%22%2A%22%2C%22Resource%22%3A"
        "%22%2A%22%2C%22Condition%22%3A%7B%22StringEquals%22%3A%7B%22aws%3Auserid%22%3A%5B%22"
        "AROAX%3Aa%2Bb%40b1.01%22%5D%7D%7D%7D%5D%7D"
        "</PolicyDocument></GetRolePolicyResult><ResponseMetadata><RequestId>r-1</RequestId>"
        "</ResponseMetadata></GetRolePolicyResponse>";
    struct stsrole_revoked_set s;
    struct stsrole_error e;
    char *doc;

    (void)state;
    assert_int_equal(stsrole_iam_parse_get_role_policy("text/xml", xml, strlen(xml), &doc, &e),
                     STSROLE_OK);
    assert_non_null(strstr(doc, "\"aws:userid\":[\"AROAX:a+b@b1.01\"]"));
    stsrole_revoked_init(&s);
    assert_int_equal(stsrole_revoked_from_json(doc, strlen(doc), NOW, NOW, &s, &e), STSROLE_OK);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.v[0].key, "AROAX:a+b@b1.01"); /* '+' stays '+' */
    stsrole_revoked_free(&s);
    free(doc);
    assert_int_equal(stsrole_iam_parse_get_role_policy(NULL, "<a><b>", 6, &doc, &e),
                     STSROLE_E_PROTOCOL);
    assert_int_equal(stsrole_iam_parse_get_role_policy(NULL, "<a/>", 4, &doc, &e),
                     STSROLE_E_PROTOCOL);
}

/* IAM asked with Accept: application/json answers JSON: the same nesting
 * as the XML, PolicyDocument still URL-encoded, PolicyNames an array and
 * IsTruncated a boolean.  Decided by Content-Type, not by the body. */
static void
test_iam_json_answers(void **state)
{
    const char *get = "{\"GetRolePolicyResponse\":{\"GetRolePolicyResult\":{"
                      "\"PolicyDocument\":\"%7B%22Version%22%3A%222012-10-17%22%7D\","
                      "\"PolicyName\":\"stsrole-revoked-b1\",\"RoleName\":\"R\"},"
                      "\"ResponseMetadata\":{\"RequestId\":\"r-1\"}}}";
    const char *list = "{\"ListRolePoliciesResponse\":{\"ListRolePoliciesResult\":{"
                       "\"IsTruncated\":true,\"Marker\":\"m/1+=\",\"PolicyNames\":"
                       "[\"permissions\",\"stsrole-revoked-b2\"]},"
                       "\"ResponseMetadata\":{\"RequestId\":\"r-2\"}}}";
    const char *last = "{\"ListRolePoliciesResponse\":{\"ListRolePoliciesResult\":{"
                       "\"IsTruncated\":false,\"PolicyNames\":[]}}}";
    struct stsrole_error e;
    char *doc, **names, *marker;

    (void)state;
    assert_int_equal(
        stsrole_iam_parse_get_role_policy("application/json", get, strlen(get), &doc, &e),
        STSROLE_OK);
    assert_string_equal(doc, "{\"Version\":\"2012-10-17\"}");
    free(doc);
    assert_int_equal(stsrole_iam_parse_get_role_policy("application/json;charset=UTF-8", get,
                                                       strlen(get), &doc, &e),
                     STSROLE_OK);
    free(doc);
    /* Content-Type wins: XML declared, JSON sent, is malformed. */
    assert_int_equal(stsrole_iam_parse_get_role_policy("text/xml", get, strlen(get), &doc, &e),
                     STSROLE_E_PROTOCOL);
    assert_int_equal(
        stsrole_iam_parse_get_role_policy("application/json", "{\"a\":1}", 7, &doc, &e),
        STSROLE_E_PROTOCOL);
    assert_null(doc);
    assert_int_equal(stsrole_iam_parse_list_role_policies("application/json", list, strlen(list),
                                                          &names, &marker, &e),
                     STSROLE_OK);
    assert_string_equal(names[0], "permissions");
    assert_string_equal(names[1], "stsrole-revoked-b2");
    assert_null(names[2]);
    assert_string_equal(marker, "m/1+=");
    stsrole_strv_free(names);
    free(marker);
    assert_int_equal(stsrole_iam_parse_list_role_policies("application/json", last, strlen(last),
                                                          &names, &marker, &e),
                     STSROLE_OK);
    assert_null(names[0]);
    assert_null(marker);
    stsrole_strv_free(names);
    /* A name that is not a string, or IsTruncated as a string, is refused. */
    assert_int_equal(stsrole_iam_parse_list_role_policies(
                         "application/json",
                         "{\"ListRolePoliciesResponse\":{\"ListRolePoliciesResult\":{"
                         "\"PolicyNames\":[1]}}}",
                         75, &names, &marker, &e),
                     STSROLE_E_PROTOCOL);
    assert_null(names);
}

static void
test_iam_list_and_bodies(void **state)
{
    const char *xml = "<ListRolePoliciesResponse><ListRolePoliciesResult><PolicyNames>"
                      "<member>permissions</member><member>stsrole-revoked-b2</member>"
                      "</PolicyNames><IsTruncated>true</IsTruncated><Marker>m/1+=</Marker>"
                      "</ListRolePoliciesResult></ListRolePoliciesResponse>";
    struct stsrole_buf b;
    struct stsrole_error e;
    char **names, *marker, account[13], name[65];

    (void)state;
    assert_int_equal(
        stsrole_iam_parse_list_role_policies("text/xml", xml, strlen(xml), &names, &marker, &e),
        STSROLE_OK);
    assert_string_equal(names[0], "permissions");
    assert_string_equal(names[1], "stsrole-revoked-b2");
    assert_null(names[2]);
    assert_string_equal(marker, "m/1+=");
    stsrole_strv_free(names);
    free(marker);
    stsrole_buf_init(&b, 0);
    assert_int_equal(
        stsrole_iam_put_role_policy_body("R", "stsrole-revoked-b1", "{\"a\": \"*\"}", &b, &e),
        STSROLE_OK);
    assert_string_equal(b.data, "Action=PutRolePolicy&Version=2010-05-08&RoleName=R&PolicyName="
                                "stsrole-revoked-b1&PolicyDocument=%7B%22a%22%3A+%22%2A%22%7D");
    assert_int_equal(stsrole_iam_delete_role_policy_body("R", "bad name", &b, &e),
                     STSROLE_E_INVALID);
    stsrole_buf_free(&b);
    assert_int_equal(stsrole_arn_role("arn:aws:iam::222222222222:role/stsrole/SecurityAuditRole",
                                      account, name, &e),
                     STSROLE_OK);
    assert_string_equal(account, "222222222222");
    assert_string_equal(name, "SecurityAuditRole");
    assert_int_equal(stsrole_arn_role("arn:aws:iam::222222222222:user/bob", account, name, &e),
                     STSROLE_E_INVALID);
}

/* One name per bastion, only IAM's policy-name characters, at most 128. */
static void
test_policy_name(void **state)
{
    char name[129], long_id[200];

    (void)state;
    stsrole_policy_name("bastion-euw1-a", name);
    assert_string_equal(name, "stsrole-revoked-bastion-euw1-a");
    stsrole_policy_name("b 1/x:y", name);
    assert_string_equal(name, "stsrole-revoked-b-1-x-y");
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    stsrole_policy_name(long_id, name);
    assert_int_equal(strlen(name), 128);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sid_from_session_id),
        cmocka_unit_test(test_document_shape),
        cmocka_unit_test(test_rejects_bad_keys),
        cmocka_unit_test(test_parse_back_round_trip),
        cmocka_unit_test(test_merge_after_fallback_folds),
        cmocka_unit_test(test_parse_keeps_foreign_statements),
        cmocka_unit_test(test_prune_after_expiry_plus_skew),
        cmocka_unit_test(test_budget_and_capacity),
        cmocka_unit_test(test_six_bastions_hold_600),
        cmocka_unit_test(test_one_person_flood_compacts_that_person),
        cmocka_unit_test(test_compaction_spares_own_live),
        cmocka_unit_test(test_compaction_spares_later_sessions),
        cmocka_unit_test(test_compaction_hits_own_live_and_says_so),
        cmocka_unit_test(test_burst_younger_than_skew),
        cmocka_unit_test(test_budget_exhausted_changes_nothing),
        cmocka_unit_test(test_size_ignores_whitespace),
        cmocka_unit_test(test_iam_get_role_policy_answer),
        cmocka_unit_test(test_iam_list_and_bodies),
        cmocka_unit_test(test_iam_json_answers),
        cmocka_unit_test(test_policy_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
