/* SPDX-License-Identifier: BSD-3-Clause */
/* test_ddb.c: the fleet store without sockets: DynamoDB bodies and outcomes, registry and replay
 * items, locating a TOTP step, and the fleet keys of stsrole.conf. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "aws.h"
#include "conf.h"
#include "ddb.h"
#include "registry.h"
#include "replay.h"
#include "totp.h"

static const char *
s_of(const cJSON *o, const char *attr)
{
    const char *v = stsrole_ddb_item_s(o, attr);

    assert_non_null(v);
    return v;
}

static int64_t
n_of(const cJSON *o, const char *attr)
{
    int64_t v = 0;

    assert_int_equal(stsrole_ddb_item_n(o, attr, &v), 0);
    return v;
}

/* ---- requests and outcomes ---------------------------------------------- */

static void
test_write_body(void **state)
{
    struct stsrole_ddb_write w;
    struct stsrole_error e;
    struct stsrole_buf b;
    cJSON *item = cJSON_CreateObject(), *names = cJSON_CreateObject(),
          *values = cJSON_CreateObject(), *doc;

    (void)state;
    cJSON_AddItemToObject(item, "pk", stsrole_ddb_s("user#alice"));
    cJSON_AddItemToObject(item, "n", stsrole_ddb_n(-42));
    cJSON_AddStringToObject(names, "#t", "step_time");
    cJSON_AddItemToObject(values, ":t", stsrole_ddb_n(1800000000));
    memset(&w, 0, sizeof(w));
    w.table = "stsrole-replay";
    w.item = item;
    w.condition = "attribute_not_exists(pk) OR #t < :t";
    w.names = names;
    w.values = values;
    stsrole_buf_init(&b, 0);
    assert_int_equal(stsrole_ddb_write_body(&w, "PutItem", &b, &e), STSROLE_OK);
    doc = cJSON_Parse(b.data);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetObjectItem(doc, "TableName")->valuestring, "stsrole-replay");
    assert_string_equal(s_of(cJSON_GetObjectItem(doc, "Item"), "pk"), "user#alice");
    /* Numbers travel as strings. */
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "Item"), "n"), "N")
            ->valuestring,
        "-42");
    assert_string_equal(cJSON_GetObjectItem(doc, "ConditionExpression")->valuestring,
                        "attribute_not_exists(pk) OR #t < :t");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "ExpressionAttributeNames"), "#t")
            ->valuestring,
        "step_time");
    assert_int_equal(n_of(cJSON_GetObjectItem(doc, "ExpressionAttributeValues"), ":t"), 1800000000);
    assert_null(cJSON_GetObjectItem(doc, "Key"));
    cJSON_Delete(doc);

    /* DeleteItem: the item is the Key; nothing optional is sent when unset. */
    w.condition = NULL;
    w.names = w.values = NULL;
    assert_int_equal(stsrole_ddb_write_body(&w, "DeleteItem", &b, &e), STSROLE_OK);
    doc = cJSON_Parse(b.data);
    assert_non_null(cJSON_GetObjectItem(doc, "Key"));
    assert_null(cJSON_GetObjectItem(doc, "Item"));
    assert_null(cJSON_GetObjectItem(doc, "ConditionExpression"));
    assert_null(cJSON_GetObjectItem(doc, "ExpressionAttributeNames"));
    assert_null(cJSON_GetObjectItem(doc, "UpdateExpression"));
    cJSON_Delete(doc);

    /* UpdateItem: the Key and its expression; an expression anywhere else is refused. */
    assert_int_equal(stsrole_ddb_write_body(&w, "UpdateItem", &b, &e), STSROLE_E_INVALID);
    w.update = "SET #r = :r";
    assert_int_equal(stsrole_ddb_write_body(&w, "UpdateItem", &b, &e), STSROLE_OK);
    doc = cJSON_Parse(b.data);
    assert_non_null(cJSON_GetObjectItem(doc, "Key"));
    assert_string_equal(cJSON_GetObjectItem(doc, "UpdateExpression")->valuestring, "SET #r = :r");
    cJSON_Delete(doc);
    assert_int_equal(stsrole_ddb_write_body(&w, "PutItem", &b, &e), STSROLE_E_INVALID);
    w.update = NULL;
    assert_int_equal(stsrole_ddb_write_body(&w, "Scan", &b, &e), STSROLE_E_INVALID);

    w.table = NULL;
    assert_int_equal(stsrole_ddb_write_body(&w, "PutItem", &b, &e), STSROLE_E_INVALID);
    w.table = "t";
    w.item = NULL;
    assert_int_equal(stsrole_ddb_write_body(&w, "PutItem", &b, &e), STSROLE_E_INVALID);
    stsrole_buf_free(&b);
    cJSON_Delete(item);
    cJSON_Delete(names);
    cJSON_Delete(values);
}

static void
test_read_body(void **state)
{
    struct stsrole_ddb_read r;
    struct stsrole_error e;
    struct stsrole_buf b;
    cJSON *start = cJSON_CreateObject(), *doc;

    (void)state;
    cJSON_AddItemToObject(start, "pk", stsrole_ddb_s("user#bob"));
    memset(&r, 0, sizeof(r));
    r.table = "stsrole-sessions";
    r.key_condition = "#pk = :p";
    r.start_key = start;
    r.limit = 100;
    r.consistent = 1;
    stsrole_buf_init(&b, 0);
    assert_int_equal(stsrole_ddb_read_body(&r, &b, &e), STSROLE_OK);
    doc = cJSON_Parse(b.data);
    assert_string_equal(cJSON_GetObjectItem(doc, "KeyConditionExpression")->valuestring,
                        "#pk = :p");
    assert_int_equal(cJSON_GetObjectItem(doc, "Limit")->valueint, 100);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(doc, "ConsistentRead")));
    assert_string_equal(s_of(cJSON_GetObjectItem(doc, "ExclusiveStartKey"), "pk"), "user#bob");
    assert_null(cJSON_GetObjectItem(doc, "FilterExpression"));
    cJSON_Delete(doc);
    r.table = "";
    assert_int_equal(stsrole_ddb_read_body(&r, &b, &e), STSROLE_E_INVALID);
    stsrole_buf_free(&b);
    cJSON_Delete(start);
}

static void
test_condition_failed_is_an_outcome(void **state)
{
    static const char body[] = "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
                               "ConditionalCheckFailedException\","
                               "\"message\":\"The conditional request failed\"}";
    static const char other[] = "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
                                "ValidationException\",\"message\":\"bad\"}";
    enum stsrole_ddb_outcome o;
    struct stsrole_error e;
    int rc;

    (void)state;
    /* What lib/awserr.c makes of DynamoDB's answer: a 400, "rejected". */
    rc = stsrole_aws_classify(400, body, strlen(body), &e);
    assert_int_equal(rc, STSROLE_E_REJECTED);
    assert_string_equal(e.aws_code, "ConditionalCheckFailedException");
    /* ... which the client turns into an outcome, not an error. */
    assert_int_equal(stsrole_ddb_write_outcome(rc, &e, &o), STSROLE_OK);
    assert_int_equal(o, STSROLE_DDB_CONDITION_FAILED);
    assert_int_equal(e.status, STSROLE_OK);
    assert_string_equal(e.aws_code, "");

    rc = stsrole_aws_classify(400, other, strlen(other), &e);
    assert_int_equal(stsrole_ddb_write_outcome(rc, &e, &o), STSROLE_E_REJECTED);
    assert_string_equal(e.aws_code, "ValidationException");
    stsrole_fail(&e, STSROLE_E_NETWORK, "connection refused");
    assert_int_equal(stsrole_ddb_write_outcome(STSROLE_E_NETWORK, &e, &o), STSROLE_E_NETWORK);
    assert_int_equal(stsrole_ddb_write_outcome(STSROLE_OK, &e, &o), STSROLE_OK);
    assert_int_equal(o, STSROLE_DDB_WRITTEN);
}

static void
test_item_n(void **state)
{
    cJSON *it = cJSON_Parse("{\"a\":{\"N\":\"12\"},\"b\":{\"N\":\"1.5\"},\"c\":{\"S\":\"12\"},"
                            "\"d\":{\"N\":\"\"},\"e\":{\"N\":\"99999999999999999999\"}}");
    int64_t v = 0;

    (void)state;
    assert_int_equal(stsrole_ddb_item_n(it, "a", &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(stsrole_ddb_item_n(it, "b", &v), -1);
    assert_int_equal(stsrole_ddb_item_n(it, "c", &v), -1);
    assert_int_equal(stsrole_ddb_item_n(it, "d", &v), -1);
    assert_int_equal(stsrole_ddb_item_n(it, "e", &v), -1);
    assert_int_equal(stsrole_ddb_item_n(it, "missing", &v), -1);
    assert_null(stsrole_ddb_item_s(it, "a"));
    assert_string_equal(stsrole_ddb_item_s(it, "c"), "12");
    cJSON_Delete(it);
}

/* ---- the registry item ---------------------------------------------------- */

static void
entry(struct stsrole_registry_entry *e)
{
    memset(e, 0, sizeof(*e));
    strcpy(e->session_id, "0123456789abcdef0123456789abcdef");
    e->bastion_id = "bastion-1";
    e->user = "alice";
    e->role_name = "SecurityAuditRole";
    e->role_arn = "arn:aws:iam::222222222222:role/stsrole/SecurityAuditRole";
    e->revoker_arn = "arn:aws:iam::222222222222:role/stsrole/StsRoleRevoker";
    e->assumed_role_id = "AROAEXAMPLE:alice@bastion-1.0123456789abcdef";
    e->session_name = "alice@bastion-1.0123456789abcdef";
    e->access_key_id = "ASIAEXAMPLE";
    e->rhost = "192.0.2.1";
    e->expiration = 1800003600;
    e->opened = 1800000000;
}

static void
test_registry_round_trip(void **state)
{
    struct stsrole_registry_entry e, back;
    struct stsrole_error err;
    cJSON *item;

    (void)state;
    entry(&e);
    assert_int_equal(stsrole_registry_item(&e, &item, &err), STSROLE_OK);
    assert_string_equal(s_of(item, "pk"), "user#alice");
    assert_string_equal(s_of(item, "sk"), "session#0123456789abcdef0123456789abcdef");
    assert_string_equal(s_of(item, "kind"), "session");
    assert_int_equal(n_of(item, "v"), 1);
    assert_int_equal(n_of(item, "ttl"), 1800003600 + STSROLE_REGISTRY_TTL_MARGIN);
    assert_int_equal(n_of(item, "expiration"), 1800003600);
    assert_int_equal(stsrole_registry_parse(item, &back, &err), STSROLE_OK);
    assert_string_equal(back.session_id, e.session_id);
    assert_string_equal(back.bastion_id, "bastion-1");
    assert_string_equal(back.user, "alice");
    assert_string_equal(back.role_arn, e.role_arn);
    assert_string_equal(back.revoker_arn, e.revoker_arn);
    assert_string_equal(back.assumed_role_id, e.assumed_role_id);
    assert_string_equal(back.session_name, e.session_name);
    assert_string_equal(back.access_key_id, "ASIAEXAMPLE");
    assert_string_equal(back.rhost, "192.0.2.1");
    assert_int_equal(back.opened, 1800000000);
    assert_int_equal(back.ttl, 1800003600 + STSROLE_REGISTRY_TTL_MARGIN);
    stsrole_registry_entry_free(&back);
    cJSON_Delete(item);

    /* Optional fields are left out, not written empty. */
    e.revoker_arn = NULL;
    e.rhost = "";
    e.ttl = 1900000000;
    assert_int_equal(stsrole_registry_item(&e, &item, &err), STSROLE_OK);
    assert_null(cJSON_GetObjectItem(item, "revoker_arn"));
    assert_null(cJSON_GetObjectItem(item, "rhost"));
    assert_int_equal(n_of(item, "ttl"), 1900000000);
    assert_int_equal(stsrole_registry_parse(item, &back, &err), STSROLE_OK);
    assert_null(back.revoker_arn);
    assert_null(back.rhost);
    assert_string_equal(back.sid, ""); /* an item from before sids */
    assert_int_equal(back.refresh, 0);
    stsrole_registry_entry_free(&back);
    cJSON_Delete(item);

    /* The sid and the refresh mark travel with the item. */
    strcpy(e.sid, "aerukz4jvpg6");
    e.refresh = 1;
    assert_int_equal(stsrole_registry_item(&e, &item, &err), STSROLE_OK);
    assert_string_equal(s_of(item, "sid"), "aerukz4jvpg6");
    assert_int_equal(n_of(item, "refresh"), 1);
    assert_int_equal(stsrole_registry_parse(item, &back, &err), STSROLE_OK);
    assert_string_equal(back.sid, "aerukz4jvpg6");
    assert_int_equal(back.refresh, 1);
    stsrole_registry_entry_free(&back);
    cJSON_ReplaceItemInObject(item, "sid", stsrole_ddb_s("NOT-A-SID"));
    assert_int_equal(stsrole_registry_parse(item, &back, &err), STSROLE_E_PROTOCOL);
    cJSON_Delete(item);
    strcpy(e.sid, "x\"y");
    assert_int_equal(stsrole_registry_item(&e, &item, &err), STSROLE_E_INVALID);
}

static void
test_registry_refuses(void **state)
{
    struct stsrole_registry_entry e, back;
    struct stsrole_error err;
    cJSON *item;

    (void)state;
    entry(&e);
    strcpy(e.session_id, "../../etc/passwd");
    assert_int_equal(stsrole_registry_item(&e, &item, &err), STSROLE_E_INVALID);
    entry(&e);
    e.assumed_role_id = NULL;
    assert_int_equal(stsrole_registry_item(&e, &item, &err), STSROLE_E_INVALID);
    entry(&e);
    e.expiration = 0;
    assert_int_equal(stsrole_registry_item(&e, &item, &err), STSROLE_E_INVALID);

    entry(&e);
    assert_int_equal(stsrole_registry_item(&e, &item, &err), STSROLE_OK);
    /* Another format version is skipped, not misread. */
    cJSON_ReplaceItemInObject(item, "v", stsrole_ddb_n(2));
    assert_int_equal(stsrole_registry_parse(item, &back, &err), STSROLE_E_PROTOCOL);
    cJSON_ReplaceItemInObject(item, "v", stsrole_ddb_n(1));
    /* The key must name the same person and session as the attributes:
     * a reader revokes by the attributes and deletes by the key. */
    cJSON_ReplaceItemInObject(item, "pk", stsrole_ddb_s("user#mallory"));
    assert_int_equal(stsrole_registry_parse(item, &back, &err), STSROLE_E_PROTOCOL);
    cJSON_ReplaceItemInObject(item, "pk", stsrole_ddb_s("user#alice"));
    cJSON_ReplaceItemInObject(item, "sk",
                              stsrole_ddb_s("session#ffffffffffffffffffffffffffffffff"));
    assert_int_equal(stsrole_registry_parse(item, &back, &err), STSROLE_E_PROTOCOL);
    cJSON_ReplaceItemInObject(item, "sk",
                              stsrole_ddb_s("session#0123456789abcdef0123456789abcdef"));
    assert_int_equal(stsrole_registry_parse(item, &back, &err), STSROLE_OK);
    stsrole_registry_entry_free(&back);
    cJSON_DeleteItemFromObject(item, "assumed_role_id");
    assert_int_equal(stsrole_registry_parse(item, &back, &err), STSROLE_E_PROTOCOL);
    cJSON_AddItemToObject(item, "assumed_role_id", stsrole_ddb_n(5));
    assert_int_equal(stsrole_registry_parse(item, &back, &err), STSROLE_E_PROTOCOL);
    cJSON_Delete(item);
    assert_int_equal(stsrole_registry_parse(NULL, &back, &err), STSROLE_E_PROTOCOL);
}

/* ---- the replay claim ------------------------------------------------------ */

static void
test_replay_request(void **state)
{
    struct stsrole_replay_claim cl;
    struct stsrole_error e;
    cJSON *item, *names, *values;

    (void)state;
    memset(&cl, 0, sizeof(cl));
    cl.user = "alice";
    cl.step.step = 60000000;
    cl.step.step_size = 30;
    cl.bastion_id = "bastion-2";
    cl.now = 1800000012;
    cl.nonce = "00112233445566778899aabbccddeeff";
    assert_int_equal(stsrole_replay_request(&cl, &item, &names, &values, &e), STSROLE_OK);
    assert_string_equal(s_of(item, "pk"), "user#alice");
    assert_string_equal(s_of(item, "sk"), "totp");
    assert_int_equal(n_of(item, "step"), 60000000);
    assert_int_equal(n_of(item, "step_time"), 1800000000);
    assert_int_equal(n_of(item, "step_size"), 30);
    assert_int_equal(n_of(item, "accepted"), 1800000012);
    assert_int_equal(n_of(item, "ttl"), 1800000000 + STSROLE_REPLAY_TTL);
    assert_string_equal(s_of(item, "bastion_id"), "bastion-2");
    assert_string_equal(s_of(item, "nonce"), cl.nonce);
    /* The condition compares the step's start, so T60 and T30 steps order. */
    assert_string_equal(cJSON_GetObjectItem(names, "#t")->valuestring, "step_time");
    assert_string_equal(cJSON_GetObjectItem(names, "#pk")->valuestring, "pk");
    assert_int_equal(n_of(values, ":t"), 1800000000);
    cJSON_Delete(item);
    cJSON_Delete(names);
    cJSON_Delete(values);

    cl.step.step_size = 60;
    cl.step.step = 30000000;
    assert_int_equal(stsrole_replay_request(&cl, &item, &names, &values, &e), STSROLE_OK);
    assert_int_equal(n_of(item, "step_time"), 1800000000);
    cJSON_Delete(item);
    cJSON_Delete(names);
    cJSON_Delete(values);

    cl.step.step_size = 45;
    assert_int_equal(stsrole_replay_request(&cl, &item, &names, &values, &e), STSROLE_E_INVALID);
    cl.step.step_size = 30;
    cl.step.step = 0;
    assert_int_equal(stsrole_replay_request(&cl, &item, &names, &values, &e), STSROLE_E_INVALID);
    cl.step.step = 1;
    cl.nonce = "";
    assert_int_equal(stsrole_replay_request(&cl, &item, &names, &values, &e), STSROLE_E_INVALID);
    assert_null(item);
}

/* ---- locating a TOTP step (RFC 6238, appendix B: SHA-1 secret) ---------------- */

#define RFC_SECRET "3132333435363738393031323334353637383930"

static void
test_totp_locate(void **state)
{
    static const char file[] = "# comment\n"
                               "HOTP/T30 bob - 00112233445566778899aabbccddeeff00112233\n"
                               "HOTP/T30/8 alice - " RFC_SECRET " 0 11111111 "
                               "2020-01-01T00:00:00L\n"
                               "HOTP/T60 sixty + " RFC_SECRET "\n"
                               "HOTP/E counter - " RFC_SECRET "\n";
    struct stsrole_totp_step st;
    struct stsrole_error e;

    (void)state;
    /* RFC 6238: T = 59 s gives 94287082 at step 1; T = 1111111109 gives
     * 07081804 at step 0x23523EC. */
    assert_int_equal(stsrole_totp_locate(file, strlen(file), "alice", "94287082", 1, 59, &st, &e),
                     STSROLE_OK);
    assert_int_equal(st.step, 1);
    assert_int_equal(st.step_size, 30);
    assert_int_equal(
        stsrole_totp_locate(file, strlen(file), "alice", "07081804", 0, 1111111109, &st, &e),
        STSROLE_OK);
    assert_int_equal(st.step, 0x23523EC);
    /* From a neighbouring step: the offset is found, T is the code's own. */
    assert_int_equal(
        stsrole_totp_locate(file, strlen(file), "alice", "07081804", 1, 1111111109 + 30, &st, &e),
        STSROLE_OK);
    assert_int_equal(st.step, 0x23523EC);
    /* One step beyond the window is still found (the clock may have
     * ticked since liboath accepted it); two are not. */
    assert_int_equal(
        stsrole_totp_locate(file, strlen(file), "alice", "07081804", 1, 1111111109 + 60, &st, &e),
        STSROLE_OK);
    assert_int_equal(
        stsrole_totp_locate(file, strlen(file), "alice", "07081804", 1, 1111111109 + 90, &st, &e),
        STSROLE_E_NOTFOUND);
    /* HOTP/T60: 118 s is step 1 of 60 s, the same HMAC input as above. */
    assert_int_equal(stsrole_totp_locate(file, strlen(file), "sixty", "287082", 0, 118, &st, &e),
                     STSROLE_OK);
    assert_int_equal(st.step, 1);
    assert_int_equal(st.step_size, 60);
    /* Someone else's entry never answers for alice. */
    assert_int_equal(stsrole_totp_locate(file, strlen(file), "bob", "94287082", 1, 59, &st, &e),
                     STSROLE_E_NOTFOUND);
    assert_int_equal(stsrole_totp_locate(file, strlen(file), "carol", "94287082", 1, 59, &st, &e),
                     STSROLE_E_NOTFOUND);
    assert_int_equal(stsrole_totp_locate(file, strlen(file), "counter", "755224", 1, 59, &st, &e),
                     STSROLE_E_CONFIG);
    assert_non_null(strstr(e.msg, "HOTP/E"));
    assert_int_equal(stsrole_totp_locate(file, strlen(file), "alice", "9428708x", 1, 59, &st, &e),
                     STSROLE_E_INVALID);
    assert_int_equal(stsrole_totp_locate(file, strlen(file), "alice", "94287082", 11, 59, &st, &e),
                     STSROLE_E_INVALID);
}

static void
test_totp_locate_entries(void **state)
{
    /* liboath tries a user's entries in order: the second one matches. */
    static const char two[] = "HOTP/T30 alice - 00112233445566778899aabbccddeeff00112233\n"
                              "HOTP/T30/8 alice - " RFC_SECRET "\n";
    static const char badhex[] = "HOTP/T30 alice - zz\n";
    struct stsrole_totp_step st;
    struct stsrole_error e;

    (void)state;
    assert_int_equal(stsrole_totp_locate(two, strlen(two), "alice", "94287082", 1, 59, &st, &e),
                     STSROLE_OK);
    assert_int_equal(st.step, 1);
    assert_int_equal(
        stsrole_totp_locate(badhex, strlen(badhex), "alice", "94287082", 1, 59, &st, &e),
        STSROLE_E_CONFIG);
    /* Only len bytes count: cut after "alice - ", the entry has no secret,
     * which is refused before anything is looked up (liboath mishandles it). */
    assert_int_equal(stsrole_totp_locate(two, 17, "alice", "94287082", 1, 59, &st, &e),
                     STSROLE_E_CONFIG);
    assert_int_equal(stsrole_totp_locate(two, 59, "alice", "94287082", 1, 59, &st, &e),
                     STSROLE_E_NOTFOUND);
}

/* ---- the fleet keys of stsrole.conf ----------------------------------------- */

static int
parse(const char *extra, struct stsrole_config *c, struct stsrole_error *e)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "[stsrole]\nregion = eu-west-1\n%s\n[role r]\narn = arn:aws:iam::1:role/R\n"
             "users = alice\n",
             extra);
    return stsrole_config_parse(text, "fleet.conf", c, e);
}

static void
test_conf_fleet_keys(void **state)
{
    struct stsrole_config c;
    struct stsrole_error e;

    (void)state;
    assert_int_equal(parse("", &c, &e), STSROLE_OK);
    assert_null(c.replay_table);
    assert_null(c.registry_table);
    assert_string_equal(c.dynamodb_endpoint, "https://dynamodb.eu-west-1.amazonaws.com");
    stsrole_config_free(&c);

    assert_int_equal(parse("replay_store = local", &c, &e), STSROLE_OK);
    assert_null(c.replay_table);
    stsrole_config_free(&c);

    assert_int_equal(parse("replay_store = dynamodb:stsrole-replay\nregistry_table = "
                           "stsrole.sessions_1\ndynamodb_endpoint = http://127.0.0.1:5000",
                           &c, &e),
                     STSROLE_OK);
    assert_string_equal(c.replay_table, "stsrole-replay");
    assert_string_equal(c.registry_table, "stsrole.sessions_1");
    assert_string_equal(c.dynamodb_endpoint, "http://127.0.0.1:5000");
    stsrole_config_free(&c);

    assert_int_equal(parse("replay_store = dynamodb:", &c, &e), STSROLE_E_CONFIG);
    assert_non_null(strstr(e.msg, "fleet.conf:3: 'replay_store = dynamodb:'"));
    assert_int_equal(parse("replay_store = dynamodb:a/b", &c, &e), STSROLE_E_CONFIG);
    assert_int_equal(parse("replay_store = dynamodb:ab", &c, &e), STSROLE_E_CONFIG);
    assert_int_equal(parse("replay_store = redis:x", &c, &e), STSROLE_E_CONFIG);
    assert_int_equal(parse("registry_table = no space", &c, &e), STSROLE_E_CONFIG);
    assert_non_null(strstr(e.msg, "fleet.conf:3: 'registry_table"));
    assert_int_equal(parse("registry_table = abc\nregistry_table = abd", &c, &e), STSROLE_E_CONFIG);
    assert_non_null(strstr(e.msg, "fleet.conf:4: 'registry_table' is set twice"));
    /* Plain HTTP only to loopback, as for every other endpoint. */
    assert_int_equal(parse("dynamodb_endpoint = http://dynamodb.eu-west-1.amazonaws.com", &c, &e),
                     STSROLE_E_CONFIG);
    assert_non_null(strstr(e.msg, "fleet.conf:3: 'dynamodb_endpoint'"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_body),
        cmocka_unit_test(test_read_body),
        cmocka_unit_test(test_condition_failed_is_an_outcome),
        cmocka_unit_test(test_item_n),
        cmocka_unit_test(test_registry_round_trip),
        cmocka_unit_test(test_registry_refuses),
        cmocka_unit_test(test_replay_request),
        cmocka_unit_test(test_totp_locate),
        cmocka_unit_test(test_totp_locate_entries),
        cmocka_unit_test(test_conf_fleet_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
