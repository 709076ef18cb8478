/* SPDX-License-Identifier: BSD-3-Clause */
/* test_cwlogs.c: the CloudWatch Logs client without sockets: PutLogEvents' limits and body,
 * timestamps, answers read back, names, and the shipping keys of stsrole.conf. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "conf.h"
#include "cwlogs.h"

#define NOW 1700000000000LL
#define HOUR (3600LL * 1000)
#define DAY (24 * HOUR)

static int
put_body(const struct stsrole_log_event *ev, size_t n, cJSON **out)
{
    struct stsrole_buf b;
    struct stsrole_error err;
    int rc;

    stsrole_buf_init(&b, 0);
    rc = stsrole_logs_put_body("/stsrole/audit", "bastion-a", ev, n, &b, &err);
    *out = rc == STSROLE_OK ? cJSON_Parse(b.data) : NULL;
    stsrole_buf_free(&b);
    return rc;
}

static void
put_body_carries_the_messages_verbatim(void **state)
{
    /* A line of the audit log, quotes and backslashes included. */
    const char *line = "{\"seq\":7,\"detail\":\"a \\\"quoted\\\" word, \\\\ and \\u00e9\"}";
    struct stsrole_log_event ev[2] = {{NOW, line}, {NOW + 5, "second"}};
    const cJSON *arr, *e;
    cJSON *o;

    (void)state;
    assert_int_equal(put_body(ev, 2, &o), STSROLE_OK);
    assert_string_equal(cJSON_GetObjectItem(o, "logGroupName")->valuestring, "/stsrole/audit");
    assert_string_equal(cJSON_GetObjectItem(o, "logStreamName")->valuestring, "bastion-a");
    assert_null(cJSON_GetObjectItem(o, "sequenceToken"));
    arr = cJSON_GetObjectItem(o, "logEvents");
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    e = cJSON_GetArrayItem(arr, 0);
    assert_string_equal(cJSON_GetObjectItem(e, "message")->valuestring, line);
    assert_true(cJSON_GetObjectItem(e, "timestamp")->valuedouble == (double)NOW);
    e = cJSON_GetArrayItem(arr, 1);
    assert_true(cJSON_GetObjectItem(e, "timestamp")->valuedouble == (double)(NOW + 5));
    cJSON_Delete(o);
}

static void
put_body_refuses_what_the_api_refuses(void **state)
{
    struct stsrole_log_event ev[3] = {{NOW, "a"}, {NOW - 1, "b"}, {NOW, "c"}};
    struct stsrole_log_event *many;
    char *big;
    cJSON *o;
    size_t i;

    (void)state;
    assert_int_equal(put_body(ev, 0, &o), STSROLE_E_INVALID);
    /* Chronological order within a batch. */
    assert_int_equal(put_body(ev, 2, &o), STSROLE_E_INVALID);
    /* At most 24 hours between the first and the last. */
    ev[1].timestamp = NOW + DAY + 1;
    assert_int_equal(put_body(ev, 2, &o), STSROLE_E_INVALID);
    ev[1].timestamp = NOW + DAY;
    assert_int_equal(put_body(ev, 2, &o), STSROLE_OK);
    cJSON_Delete(o);
    /* Not UTF-8. */
    ev[0].message = "caf\xe9";
    assert_int_equal(put_body(ev, 1, &o), STSROLE_E_INVALID);
    /* One event over 256 KB. */
    big = malloc(STSROLE_LOGS_MAX_MESSAGE + 2);
    assert_non_null(big);
    memset(big, 'x', STSROLE_LOGS_MAX_MESSAGE + 1);
    big[STSROLE_LOGS_MAX_MESSAGE + 1] = '\0';
    ev[0].message = big;
    assert_int_equal(put_body(ev, 1, &o), STSROLE_E_INVALID);
    big[STSROLE_LOGS_MAX_MESSAGE] = '\0';
    assert_int_equal(put_body(ev, 1, &o), STSROLE_OK);
    cJSON_Delete(o);
    /* More than 1 MB in all: five events of 256 KB. */
    many = calloc(STSROLE_LOGS_MAX_EVENTS + 1, sizeof(*many));
    assert_non_null(many);
    for (i = 0; i < 5; i++)
        many[i] = (struct stsrole_log_event){NOW, big};
    assert_int_equal(put_body(many, 4, &o), STSROLE_OK);
    cJSON_Delete(o);
    assert_int_equal(put_body(many, 5, &o), STSROLE_E_INVALID);
    /* More than 10,000 events. */
    for (i = 0; i <= STSROLE_LOGS_MAX_EVENTS; i++)
        many[i] = (struct stsrole_log_event){NOW, "e"};
    assert_int_equal(put_body(many, STSROLE_LOGS_MAX_EVENTS, &o), STSROLE_OK);
    cJSON_Delete(o);
    assert_int_equal(put_body(many, STSROLE_LOGS_MAX_EVENTS + 1, &o), STSROLE_E_INVALID);
    free(many);
    free(big);
}

static void
timestamps_keep_order_and_the_window(void **state)
{
    (void)state;
    assert_true(stsrole_logs_timestamp(NOW - 5, 0, NOW) == NOW - 5);
    /* The clock stepped back: never before the previous event. */
    assert_true(stsrole_logs_timestamp(NOW - 5000, NOW - 10, NOW) == NOW - 10);
    /* 15 days old: moved to an hour inside the 14-day window. */
    assert_true(stsrole_logs_timestamp(NOW - 15 * DAY, 0, NOW) == NOW - 14 * DAY + HOUR);
    /* Three hours ahead: an hour ahead at most. */
    assert_true(stsrole_logs_timestamp(NOW + 3 * HOUR, 0, NOW) == NOW + HOUR);
    assert_int_equal(stsrole_logs_event_size("abc"), 3 + 26);
}

static void
answers_read_back(void **state)
{
    struct stsrole_logs_rejected rej;
    struct stsrole_logs_page page;
    struct stsrole_error err;
    const char *put = "{\"nextSequenceToken\":\"1\",\"rejectedLogEventsInfo\":"
                      "{\"tooOldLogEventEndIndex\":2,\"expiredLogEventEndIndex\":0}}";
    const char *got = "{\"events\":[{\"timestamp\":1700000000000,\"message\":\"one\","
                      "\"ingestionTime\":1},{\"timestamp\":1700000000001,\"message\":\"two\"}],"
                      "\"nextForwardToken\":\"f/1\",\"nextBackwardToken\":\"b/0\"}";

    (void)state;
    assert_int_equal(stsrole_logs_parse_put(put, strlen(put), &rej, &err), STSROLE_OK);
    assert_int_equal(rej.too_old_end, 2);
    assert_int_equal(rej.expired_end, 0);
    assert_int_equal(rej.too_new_start, -1);
    assert_int_equal(stsrole_logs_parse_put("{}", 2, &rej, &err), STSROLE_OK);
    assert_int_equal(rej.too_old_end, -1);
    assert_int_equal(stsrole_logs_parse_put("<x/>", 4, &rej, &err), STSROLE_E_PROTOCOL);
    assert_int_equal(stsrole_logs_parse_put("", 0, &rej, &err), STSROLE_OK);

    assert_int_equal(stsrole_logs_parse_events(got, strlen(got), &page, &err), STSROLE_OK);
    assert_int_equal(page.n, 2);
    assert_string_equal(page.ev[0].message, "one");
    assert_true(page.ev[1].timestamp == NOW + 1);
    assert_string_equal(page.forward, "f/1");
    assert_string_equal(page.backward, "b/0");
    stsrole_logs_page_free(&page);
    assert_int_equal(stsrole_logs_parse_events("{\"events\":[{\"timestamp\":1}]}", 28, &page, &err),
                     STSROLE_E_PROTOCOL);
    assert_int_equal(stsrole_logs_parse_events("{}", 2, &page, &err), STSROLE_E_PROTOCOL);
}

static void
get_body_asks_for_the_tail(void **state)
{
    struct stsrole_buf b;
    struct stsrole_error err;
    cJSON *o;

    (void)state;
    stsrole_buf_init(&b, 0);
    assert_int_equal(stsrole_logs_get_body("/g", "s", 0, 50, NULL, &b, &err), STSROLE_OK);
    o = cJSON_Parse(b.data);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "startFromHead")));
    assert_int_equal(cJSON_GetObjectItem(o, "limit")->valueint, 50);
    assert_null(cJSON_GetObjectItem(o, "nextToken"));
    cJSON_Delete(o);
    assert_int_equal(stsrole_logs_get_body("/g", "s", 1, 10001, NULL, &b, &err), STSROLE_E_INVALID);
    assert_int_equal(stsrole_logs_get_body("/g", "a:b", 1, 1, NULL, &b, &err), STSROLE_E_INVALID);
    stsrole_buf_free(&b);
}

static void
names(void **state)
{
    (void)state;
    assert_true(stsrole_logs_group_valid("/stsrole/audit"));
    assert_true(stsrole_logs_group_valid("a.b-c_d#1"));
    assert_false(stsrole_logs_group_valid(""));
    assert_false(stsrole_logs_group_valid("has space"));
    assert_true(stsrole_logs_stream_valid("bastion-a"));
    assert_true(stsrole_logs_stream_valid("with space"));
    assert_false(stsrole_logs_stream_valid("a:b"));
    assert_false(stsrole_logs_stream_valid("a*"));
    assert_false(stsrole_logs_stream_valid("tab\there"));
}

static int
parse(const char *keys, struct stsrole_config *c, struct stsrole_error *e)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "[stsrole]\nregion = eu-west-1\nbastion_id = b1\n%s\n[role r]\narn = "
             "arn:aws:iam::1:role/R\nusers = alice\n",
             keys);
    return stsrole_config_parse(text, "ship.conf", c, e);
}

static void
config_keys(void **state)
{
    struct stsrole_config c;
    struct stsrole_error e;

    (void)state;
    assert_int_equal(parse("", &c, &e), STSROLE_OK);
    assert_null(c.audit_log_group);
    assert_null(c.audit_log_stream);
    assert_string_equal(c.logs_endpoint, "https://logs.eu-west-1.amazonaws.com");
    assert_int_equal(c.audit_ship_batch, 1000);
    stsrole_config_free(&c);

    assert_int_equal(parse("audit_log_group = /stsrole/audit", &c, &e), STSROLE_OK);
    assert_string_equal(c.audit_log_stream, "b1"); /* the bastion_id */
    stsrole_config_free(&c);

    assert_int_equal(parse("audit_log_group = /a\naudit_log_stream = s1\naudit_ship_batch = "
                           "10000\nlogs_endpoint = http://127.0.0.1:5000",
                           &c, &e),
                     STSROLE_OK);
    assert_string_equal(c.audit_log_stream, "s1");
    assert_int_equal(c.audit_ship_batch, 10000);
    assert_string_equal(c.logs_endpoint, "http://127.0.0.1:5000");
    stsrole_config_free(&c);

    assert_int_equal(parse("audit_ship_batch = 10001", &c, &e), STSROLE_E_CONFIG);
    assert_int_equal(parse("audit_ship_batch = 0", &c, &e), STSROLE_E_CONFIG);
    assert_int_equal(parse("audit_log_group = no spaces", &c, &e), STSROLE_E_CONFIG);
    assert_int_equal(parse("audit_log_stream = a:b", &c, &e), STSROLE_E_CONFIG);
    assert_int_equal(parse("logs_endpoint = http://logs.example.com", &c, &e), STSROLE_E_CONFIG);
    assert_non_null(strstr(e.msg, "logs_endpoint"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_body_carries_the_messages_verbatim),
        cmocka_unit_test(put_body_refuses_what_the_api_refuses),
        cmocka_unit_test(timestamps_keep_order_and_the_window),
        cmocka_unit_test(answers_read_back),
        cmocka_unit_test(get_body_asks_for_the_tail),
        cmocka_unit_test(names),
        cmocka_unit_test(config_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
