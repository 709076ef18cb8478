/* SPDX-License-Identifier: BSD-3-Clause */
/* test_util.c: the secret-safe buffer, hex, ISO-8601, status, back-off, descriptor, JSON-wipe and
 * XML-path helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdio.h"
#include "json.h"
#include "stsrole.h"
#include "xml.h"

static void
test_buf_grows_and_terminates(void **state)
{
    struct stsrole_buf b;
    int i;

    (void)state;
    stsrole_buf_init(&b, 0);
    for (i = 0; i < 1000; i++)
        assert_int_equal(stsrole_buf_puts(&b, "abc"), STSROLE_OK);
    assert_int_equal(b.len, 3000);
    assert_int_equal(b.data[3000], '\0');
    assert_int_equal(stsrole_buf_printf(&b, "%d-%s", 42, "x"), STSROLE_OK);
    assert_string_equal(b.data + 3000, "42-x");
    stsrole_buf_free(&b);
    assert_null(b.data);
}

static void
test_buf_max_caps_size(void **state)
{
    struct stsrole_buf b;

    (void)state;
    stsrole_buf_init(&b, 8);
    assert_int_equal(stsrole_buf_puts(&b, "12345678"), STSROLE_OK);
    assert_int_equal(stsrole_buf_puts(&b, "9"), STSROLE_E_PROTOCOL);
    assert_int_equal(b.len, 8);
    stsrole_buf_free(&b);
}

static void
test_buf_steal_and_reset(void **state)
{
    struct stsrole_buf b;
    char *s;

    (void)state;
    stsrole_buf_init(&b, 0);
    s = stsrole_buf_steal(&b);
    assert_string_equal(s, "");
    free(s);
    stsrole_buf_puts(&b, "secret");
    stsrole_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    stsrole_buf_free(&b);
}

static void
test_hex_and_iso8601(void **state)
{
    unsigned char in[] = {0x00, 0xab, 0xff};
    char hex[7], iso[21];
    int64_t t;

    (void)state;
    stsrole_hex(in, 3, hex);
    assert_string_equal(hex, "00abff");
    stsrole_iso8601(1514869445, iso);
    assert_string_equal(iso, "2018-01-02T05:04:05Z");
    assert_int_equal(stsrole_parse_iso8601("2018-01-02T05:04:05Z", &t), 0);
    assert_int_equal(t, 1514869445);
    assert_int_equal(stsrole_parse_iso8601("2011-07-15T23:28:33.359Z", &t), 0);
    assert_int_equal(t, 1310772513);
    assert_int_not_equal(stsrole_parse_iso8601("2011-07-15T23:28:33", &t), 0);
    assert_int_not_equal(stsrole_parse_iso8601("2011-07-15T23:28:33Zjunk", &t), 0);
    assert_int_not_equal(stsrole_parse_iso8601("yesterday", &t), 0);
}

static void
test_fail_and_names(void **state)
{
    struct stsrole_error e;

    (void)state;
    stsrole_error_clear(&e);
    assert_int_equal(stsrole_fail(&e, STSROLE_E_DENIED, "no %s", "way"), STSROLE_E_DENIED);
    assert_string_equal(e.msg, "no way");
    assert_int_equal(e.status, STSROLE_E_DENIED);
    assert_int_equal(stsrole_fail(NULL, STSROLE_E_IO, "ignored"), STSROLE_E_IO);
    assert_string_equal(stsrole_status_name(STSROLE_E_THROTTLED), "throttled");
    assert_true(stsrole_status_retryable(STSROLE_E_NETWORK));
    assert_true(stsrole_status_retryable(STSROLE_E_SERVER));
    assert_false(stsrole_status_retryable(STSROLE_E_DENIED));
    assert_false(stsrole_status_retryable(STSROLE_E_PROTOCOL));
}

static void
test_backoff(void **state)
{
    (void)state;
    assert_int_equal(stsrole_backoff_ms(-1, 1000, 60000), 1000);
    assert_int_equal(stsrole_backoff_ms(0, 1000, 60000), 1000);
    assert_int_equal(stsrole_backoff_ms(1, 1000, 60000), 2000);
    assert_int_equal(stsrole_backoff_ms(5, 1000, 60000), 32000);
    assert_int_equal(stsrole_backoff_ms(6, 1000, 60000), 60000);
    assert_int_equal(stsrole_backoff_ms(1000, 1000, 300000), 300000);
    assert_int_equal(stsrole_backoff_ms(3, 100, 5000), 800);
}

static void
test_pread_full_stops_at_eof(void **state)
{
    char path[] = "/tmp/test_util.XXXXXX", buf[16];
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, "0123456789", 10), 10);
    assert_int_equal(stsrole_pread_full(fd, buf, 4, 2), 4);
    assert_memory_equal(buf, "2345", 4);
    /* Short only at the end of the file, and 0 past it. */
    assert_int_equal(stsrole_pread_full(fd, buf, sizeof(buf), 6), 4);
    assert_memory_equal(buf, "6789", 4);
    assert_int_equal(stsrole_pread_full(fd, buf, sizeof(buf), 10), 0);
    assert_int_equal(stsrole_pread_full(fd, buf, sizeof(buf), 99), 0);
    close(fd);
    assert_int_equal(stsrole_pread_full(fd, buf, 1, 0), -1);
}

static void
test_read_line_bounded(void **state)
{
    int sv[2];
    char buf[9];

    (void)state;
    /* Stops at the newline, even with the peer still open. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[1], "ab\n", 3), 3);
    assert_int_equal(stsrole_read_line(sv[0], buf, 8), 3);
    assert_string_equal(buf, "ab\n");
    /* Stops at max, terminated. */
    assert_int_equal(write(sv[1], "0123456789\n", 11), 11);
    assert_int_equal(stsrole_read_line(sv[0], buf, 8), 8);
    assert_string_equal(buf, "01234567");
    assert_int_equal(stsrole_read_line(sv[0], buf, 8), 3);
    /* Stops when the peer closes without a newline; 0 for nothing. */
    assert_int_equal(write(sv[1], "xyz", 3), 3);
    close(sv[1]);
    assert_int_equal(stsrole_read_line(sv[0], buf, 8), 3);
    assert_string_equal(buf, "xyz");
    assert_int_equal(stsrole_read_line(sv[0], buf, 8), 0);
    assert_string_equal(buf, "");
    close(sv[0]);
}

/* cJSON_Delete frees through check_free, which looks at each of the
 * tree's strings (noted beforehand) as it is released. */
static struct {
    void *p;
    size_t len;
} strs[16];
static size_t n_strs, n_checked, n_left;

static void
note_strings(cJSON *n)
{
    for (; n != NULL; n = n->next) {
        if (n->valuestring != NULL && n_strs < 16)
            strs[n_strs].p = n->valuestring, strs[n_strs++].len = strlen(n->valuestring);
        if (n->string != NULL && n_strs < 16)
            strs[n_strs].p = n->string, strs[n_strs++].len = strlen(n->string);
        note_strings(n->child);
    }
}

static void
check_free(void *p)
{
    for (size_t i = 0; i < n_strs; i++) {
        if (strs[i].p != p)
            continue;
        n_checked++;
        for (size_t j = 0; j < strs[i].len; j++)
            n_left += ((char *)p)[j] != 0;
    }
    free(p);
}

static void
test_json_delete_wiped(void **state)
{
    static const char ref[] = "not ours";
    cJSON_Hooks hooks = {malloc, check_free};
    cJSON *o;

    (void)state;
    cJSON_InitHooks(&hooks);
    o = cJSON_Parse("{\"SecretAccessKey\":\"s3cr3t\",\"n\":{\"Token\":[\"t0k\"]},\"v\":1}");
    assert_non_null(o);
    n_strs = n_checked = n_left = 0;
    note_strings(o);
    assert_int_equal(n_strs, 6); /* 4 names, 2 values */
    /* A string the tree only references is not its to wipe. */
    assert_true(cJSON_AddItemToObject(o, "r", cJSON_CreateStringReference(ref)));
    stsrole_json_delete_wiped(o);
    assert_int_equal(n_checked, 6);
    assert_int_equal(n_left, 0);
    assert_string_equal(ref, "not ours");
    stsrole_json_delete_wiped(NULL);
    cJSON_InitHooks(NULL);
}

static void
test_xml_path(void **state)
{
    struct stsrole_xml_path p;
    char longname[300];

    (void)state;
    memset(&p, 0, sizeof(p));
    assert_int_equal(stsrole_xml_path_enter(&p, "a:Root", 4), 1);
    assert_int_equal(stsrole_xml_path_enter(&p, "Child", 4), 1);
    assert_string_equal(p.path, "Root/Child");
    stsrole_xml_path_leave(&p);
    assert_string_equal(p.path, "Root");
    /* A name too long to track leaves the path at its parent until the
     * parse climbs back out of it. */
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(stsrole_xml_path_enter(&p, longname, 4), 0);
    assert_int_equal(stsrole_xml_path_enter(&p, "Leaf", 4), 0);
    assert_string_equal(p.path, "Root");
    stsrole_xml_path_leave(&p);
    stsrole_xml_path_leave(&p);
    assert_int_equal(stsrole_xml_path_enter(&p, "B", 4), 1);
    assert_string_equal(p.path, "Root/B");
    assert_int_equal(stsrole_xml_path_enter(&p, "C", 4), 1);
    assert_int_equal(stsrole_xml_path_enter(&p, "D", 4), 1);
    /* max_depth open: refused, nothing entered. */
    assert_int_equal(stsrole_xml_path_enter(&p, "E", 4), -1);
    assert_int_equal(p.depth, 4);
    assert_string_equal(p.path, "Root/B/C/D");
    while (p.depth > 0)
        stsrole_xml_path_leave(&p);
    assert_string_equal(p.path, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_and_terminates), cmocka_unit_test(test_buf_max_caps_size),
        cmocka_unit_test(test_buf_steal_and_reset),      cmocka_unit_test(test_hex_and_iso8601),
        cmocka_unit_test(test_fail_and_names),           cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_pread_full_stops_at_eof),  cmocka_unit_test(test_read_line_bounded),
        cmocka_unit_test(test_json_delete_wiped),        cmocka_unit_test(test_xml_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
