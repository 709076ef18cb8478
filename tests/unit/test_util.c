/* test_util.c: the secret-safe buffer, hex, ISO-8601 and status helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stsrole.h"

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_and_terminates), cmocka_unit_test(test_buf_max_caps_size),
        cmocka_unit_test(test_buf_steal_and_reset),      cmocka_unit_test(test_hex_and_iso8601),
        cmocka_unit_test(test_fail_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
