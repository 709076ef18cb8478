/* test_policy.c: the revocation deny policy: document shape, parse-back, prune, budget, fallback.
 */
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

static struct stsrole_revoked_entry
entry(const char *userid, int64_t issued, int64_t expires)
{
    struct stsrole_revoked_entry e;

    memset(&e, 0, sizeof(e));
    snprintf(e.userid, sizeof(e.userid), "%s", userid);
    e.issued = issued;
    e.expires = expires;
    e.exact = 1;
    return e;
}

/* A worst-case userid: AROA + 17 + ':' + a 64-character session name. */
static struct stsrole_revoked_entry
long_entry(int i, int64_t issued, int64_t expires)
{
    char id[STSROLE_USERID_MAX + 1];

    snprintf(id, sizeof(id), "AROAABCDEFGHIJKLMNOPQ:%064d", i);
    return entry(id, issued, expires);
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

static void
test_document_shape(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_revoked_entry add[2] = {
        entry("AROAEXAMPLE123456789:alice@bastion1.aa", NOW - 100, NOW + 3600),
        entry("AROAEXAMPLE123456789:bob@bastion1.bb", NOW - 50, NOW + 3600),
    };
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    char *doc;

    (void)state;
    stsrole_revoked_init(&s);
    doc = to_json(&s);
    assert_string_equal(doc, ""); /* empty set: delete the policy */
    free(doc);
    assert_int_equal(stsrole_revoked_add(&s, add, 2, 0, NOW, 300, &o, &e), STSROLE_OK);
    assert_int_equal(o.added, 2);
    assert_int_equal(o.fallback, 0);
    doc = to_json(&s);
    assert_string_equal(
        doc, "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"StsroleRevoked\",\"Effect\":"
             "\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{\"aws:"
             "userid\":[\"AROAEXAMPLE123456789:alice@bastion1.aa\",\"AROAEXAMPLE123456789:bob@"
             "bastion1.bb\"]}}}]}");
    assert_int_equal(stsrole_policy_size(doc, strlen(doc)), strlen(doc));
    free(doc);
    /* Adding again is idempotent. */
    assert_int_equal(stsrole_revoked_add(&s, add, 1, 0, NOW, 300, &o, &e), STSROLE_OK);
    assert_int_equal(s.n, 2);
    stsrole_revoked_free(&s);
}

static void
test_rejects_bad_userids(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_revoked_entry bad = entry("AROAX:a\"b", 0, NOW);
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;

    (void)state;
    assert_true(stsrole_userid_valid("AROA123:ab"));
    assert_true(stsrole_userid_valid("AROA123:a+=,.@_-b"));
    assert_false(stsrole_userid_valid("AROA123:a"));   /* session names have 2+ chars */
    assert_false(stsrole_userid_valid(":abc"));        /* no id */
    assert_false(stsrole_userid_valid("AROA123"));     /* no session */
    assert_false(stsrole_userid_valid("AR OA:abc"));   /* whitespace would not count */
    assert_false(stsrole_userid_valid("AROA1:a b c")); /* nor here */
    stsrole_revoked_init(&s);
    assert_int_equal(stsrole_revoked_add(&s, &bad, 1, 0, NOW, 300, &o, &e), STSROLE_E_INVALID);
    assert_int_equal(s.n, 0);
    stsrole_revoked_free(&s);
}

static void
test_parse_back_round_trip(void **state)
{
    struct stsrole_revoked_set s, r;
    struct stsrole_revoked_entry add = entry("AROAEXAMPLE:carol@b.cc", NOW - 10, NOW + 60);
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    size_t collapsed;
    char *doc, *doc2;

    (void)state;
    stsrole_revoked_init(&s);
    stsrole_revoked_init(&r);
    assert_int_equal(stsrole_revoked_add(&s, &add, 1, 0, NOW, 0, &o, &e), STSROLE_OK);
    assert_int_equal(stsrole_revoked_revoke_older(&s, NOW - 5, 0, &collapsed, &e), STSROLE_OK);
    assert_int_equal(collapsed, 1);
    assert_int_equal(s.n, 0);
    assert_int_equal(stsrole_revoked_add(&s, &add, 1, 0, NOW, 0, &o, &e), STSROLE_OK);
    assert_int_equal(o.covered, 1);
    add = entry("AROAEXAMPLE:dave@b.dd", NOW, NOW + 60);
    assert_int_equal(stsrole_revoked_add(&s, &add, 1, 0, NOW, 0, &o, &e), STSROLE_OK);
    assert_int_equal(o.added, 1);
    doc = to_json(&s);
    assert_non_null(
        strstr(doc, "\"DateLessThan\":{\"aws:TokenIssueTime\":\"2023-11-14T22:13:15Z\""));
    assert_int_equal(stsrole_revoked_from_json(doc, strlen(doc), NOW + 7, NOW + 999, &r, &e),
                     STSROLE_OK);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].userid, "AROAEXAMPLE:dave@b.dd");
    assert_int_equal(r.v[0].expires, NOW + 999); /* unknown: the caller's bound */
    assert_int_equal(r.v[0].issued, NOW + 7);    /* it existed when read */
    assert_int_equal(r.v[0].exact, 0);
    assert_int_equal(r.older_than, NOW - 5);
    assert_int_equal(r.older_until, NOW - 5 + STSROLE_POLICY_MAX_TOKEN_LIFE);
    doc2 = to_json(&r);
    assert_string_equal(doc, doc2);
    /* Merging the exact local view wins over the guess. */
    assert_int_equal(stsrole_revoked_merge(&r, &s, &e), STSROLE_OK);
    assert_int_equal(r.v[0].expires, NOW + 60);
    assert_int_equal(r.v[0].issued, NOW);
    assert_int_equal(r.v[0].exact, 1);
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
        entry("AROAX:old1", NOW - 100, NOW + 3600),
        entry("AROAX:old2", NOW - 90, NOW + 3600),
    };
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    const char *iam =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"StsroleRevoked\",\"Effect\":"
        "\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{"
        "\"aws:userid\":[\"AROAX:new1\"]}}},{\"Sid\":\"StsroleRevokedOlder\",\"Effect\":"
        "\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"DateLessThan\":{"
        "\"aws:TokenIssueTime\":\"2023-11-14T22:13:10Z\"}}}]}";

    (void)state;
    stsrole_revoked_init(&local);
    stsrole_revoked_init(&remote);
    assert_int_equal(stsrole_revoked_add(&local, add, 2, 0, NOW - 50, 0, &o, &e), STSROLE_OK);
    assert_int_equal(stsrole_revoked_from_json(iam, strlen(iam), NOW + 5, NOW + 43200, &remote, &e),
                     STSROLE_OK);
    assert_int_equal(remote.older_than, NOW - 10);
    assert_int_equal(stsrole_revoked_merge(&local, &remote, &e), STSROLE_OK);
    assert_int_equal(local.n, 3);
    assert_int_equal(stsrole_revoked_fold(&local, 0), 2);
    assert_int_equal(local.n, 1);
    assert_string_equal(local.v[0].userid, "AROAX:new1"); /* issued after the cut-off: kept */
    stsrole_revoked_free(&local);
    stsrole_revoked_free(&remote);
}

static void
test_parse_keeps_foreign_statements(void **state)
{
    const char *in = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Sid\":\"Other\",\"Effect\":"
                     "\"Deny\",\"Action\":\"s3:*\",\"Resource\":\"*\"}}";
    struct stsrole_revoked_set r;
    struct stsrole_revoked_entry add = entry("AROAEXAMPLE:erin@b.ee", NOW, NOW + 60);
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    char *doc;

    (void)state;
    stsrole_revoked_init(&r);
    assert_int_equal(stsrole_revoked_from_json(in, strlen(in), NOW, NOW, &r, &e), STSROLE_OK);
    assert_int_equal(r.n, 0);
    assert_non_null(r.foreign);
    assert_false(stsrole_revoked_empty(&r));
    assert_int_equal(stsrole_revoked_add(&r, &add, 1, 0, NOW, 0, &o, &e), STSROLE_OK);
    doc = to_json(&r);
    assert_non_null(strstr(doc, "{\"Sid\":\"Other\",\"Effect\":\"Deny\",\"Action\":\"s3:*\""));
    assert_non_null(strstr(doc, "AROAEXAMPLE:erin@b.ee"));
    free(doc);
    assert_int_equal(stsrole_revoked_from_json("[1]", 3, NOW, NOW, &r, &e), STSROLE_E_PROTOCOL);
    assert_int_equal(stsrole_revoked_from_json("{\"Statement\":[{\"Sid\":\"StsroleRevoked\","
                                               "\"Effect\":\"Deny\"}]}",
                                               54, NOW, NOW, &r, &e),
                     STSROLE_E_PROTOCOL);
    /* A failed parse leaves the set as it was. */
    assert_non_null(r.foreign);
    stsrole_revoked_free(&r);
}

static void
test_prune_after_expiry_plus_skew(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_revoked_entry add[3] = {
        entry("AROAX:one1", NOW - 3600, NOW - 400),
        entry("AROAX:two2", NOW - 3600, NOW - 200),
        entry("AROAX:three", NOW - 60, NOW + 3000),
    };
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    size_t collapsed;
    int older;
    char *doc;

    (void)state;
    stsrole_revoked_init(&s);
    assert_int_equal(stsrole_revoked_add(&s, add, 3, 0, NOW, 300, &o, &e), STSROLE_OK);
    assert_int_equal(stsrole_revoked_prune(&s, NOW, 300, &older), 1); /* only past skew */
    assert_int_equal(older, 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.v[0].userid, "AROAX:two2");
    assert_int_equal(stsrole_revoked_prune(&s, NOW + 3300, 300, &older), 2);
    assert_true(stsrole_revoked_empty(&s));
    doc = to_json(&s);
    assert_string_equal(doc, "");
    free(doc);
    /* The cut-off statement lasts for AssumeRole's longest credential. */
    assert_int_equal(stsrole_revoked_revoke_older(&s, NOW, 300, &collapsed, &e), STSROLE_OK);
    assert_int_equal(stsrole_revoked_prune(&s, NOW + STSROLE_POLICY_MAX_TOKEN_LIFE, 300, &older),
                     0);
    assert_int_equal(older, 0);
    stsrole_revoked_prune(&s, NOW + STSROLE_POLICY_MAX_TOKEN_LIFE + 300, 300, &older);
    assert_int_equal(older, 1);
    assert_true(stsrole_revoked_empty(&s));
    stsrole_revoked_free(&s);
}

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
    assert_true(cap > 100 && cap < 115);
    /* Exactly `capacity` worst-case entries fit without a fallback. */
    for (i = 0; i < cap; i++) {
        add = long_entry((int)i, NOW - 1000, NOW + 3600);
        assert_int_equal(stsrole_revoked_add(&s, &add, 1, 0, NOW, 300, &o, &e), STSROLE_OK);
        assert_int_equal(o.fallback, 0);
        assert_int_equal(stsrole_revoked_budget(&s, 0, &b, &e), STSROLE_OK);
        assert_true(b.used + b.reserve <= b.limit);
        assert_int_equal(b.capacity, cap - i - 1);
    }
    /* The role's other inline policies count against the same budget. */
    assert_int_equal(stsrole_revoked_budget(&s, 5000, &b, &e), STSROLE_OK);
    assert_int_equal(b.limit, STSROLE_POLICY_BUDGET - 5000);
    assert_int_equal(b.left, 0);
    assert_int_equal(b.capacity, 0);
    stsrole_revoked_free(&s);
}

static void
test_fallback_when_full(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_policy_budget b;
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    struct stsrole_revoked_entry add;
    size_t i, n;
    char *doc;

    (void)state;
    stsrole_revoked_init(&s);
    for (i = 0;; i++) {
        add = long_entry((int)i, NOW - 1000, NOW + 3600);
        assert_int_equal(stsrole_revoked_add(&s, &add, 1, 0, NOW, 300, &o, &e), STSROLE_OK);
        if (o.fallback)
            break;
        assert_true(i < 200);
    }
    n = i; /* entries listed before the fallback */
    assert_int_equal(o.collapsed, n + 1);
    assert_int_equal(s.n, 0);
    assert_int_equal(s.older_than, NOW);
    doc = to_json(&s);
    assert_non_null(strstr(doc, "\"Sid\":\"StsroleRevokedOlder\""));
    assert_null(strstr(doc, "\"Sid\":\"StsroleRevoked\""));
    assert_int_equal(stsrole_revoked_budget(&s, 0, &b, &e), STSROLE_OK);
    assert_true(b.used <= STSROLE_POLICY_BUDGET);
    free(doc);
    /* A session opened within the skew of the cut-off is still listed. */
    add = long_entry(9999, NOW - 10, NOW + 3600);
    assert_int_equal(stsrole_revoked_add(&s, &add, 1, 0, NOW + 1, 300, &o, &e), STSROLE_OK);
    assert_int_equal(o.added, 1);
    assert_int_equal(o.covered, 0);
    stsrole_revoked_free(&s);
}

static void
test_budget_exhausted_changes_nothing(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    struct stsrole_revoked_entry add = long_entry(1, NOW - 1000, NOW + 3600);

    (void)state;
    stsrole_revoked_init(&s);
    /* Other inline policies leave too little even for the fallback. */
    assert_int_equal(stsrole_revoked_add(&s, &add, 1, 10200, NOW, 300, &o, &e), STSROLE_E_INVALID);
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

static void
test_generated_document_is_json(void **state)
{
    struct stsrole_revoked_set s;
    struct stsrole_revoke_outcome o;
    struct stsrole_error e;
    struct stsrole_revoked_entry add;
    cJSON *j, *ids;
    char *doc;
    int i;

    (void)state;
    stsrole_revoked_init(&s);
    for (i = 0; i < 150; i++) {
        add = long_entry(i, NOW - 1000, NOW + 3600);
        assert_int_equal(stsrole_revoked_add(&s, &add, 1, 0, NOW + i, 300, &o, &e), STSROLE_OK);
        doc = to_json(&s);
        j = cJSON_Parse(doc);
        assert_non_null(j);
        assert_true(strlen(doc) <= STSROLE_POLICY_BUDGET);
        ids = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "Statement"), 0),
                                  "Condition");
        assert_non_null(ids);
        cJSON_Delete(j);
        free(doc);
    }
    stsrole_revoked_free(&s);
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
    assert_string_equal(s.v[0].userid, "AROAX:a+b@b1.01"); /* '+' stays '+' */
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_shape),
        cmocka_unit_test(test_rejects_bad_userids),
        cmocka_unit_test(test_parse_back_round_trip),
        cmocka_unit_test(test_merge_after_fallback_folds),
        cmocka_unit_test(test_parse_keeps_foreign_statements),
        cmocka_unit_test(test_prune_after_expiry_plus_skew),
        cmocka_unit_test(test_budget_and_capacity),
        cmocka_unit_test(test_fallback_when_full),
        cmocka_unit_test(test_budget_exhausted_changes_nothing),
        cmocka_unit_test(test_size_ignores_whitespace),
        cmocka_unit_test(test_generated_document_is_json),
        cmocka_unit_test(test_iam_get_role_policy_answer),
        cmocka_unit_test(test_iam_list_and_bodies),
        cmocka_unit_test(test_iam_json_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
