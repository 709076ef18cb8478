/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_aws_error.c: libFuzzer target for stsrole_aws_classify (AWS error bodies, XML and JSON). */
#include "fuzz.h"
#include "aws.h"

/* The statuses AWS answers errors with, then a spread around them. */
static long
status_of(uint8_t b)
{
    static const long common[] = {400, 401, 403, 404, 409, 429, 500, 502, 503, 504, 200, 301};
    size_t n = sizeof(common) / sizeof(common[0]);

    if (b < n)
        return common[b];
    return 399 + (long)(b - n); /* 399 .. 642 */
}

/* Codes and request ids are identifiers: awserr.c keeps [A-Za-z0-9._:-] only. */
static int
is_ident(const char *s)
{
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") ==
           strlen(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stsrole_error err;
    long status;
    int rc;

    if (size < 1)
        return 0;
    status = status_of(data[0]);
    memset(&err, 0xa5, sizeof(err)); /* classify must clear it itself */
    rc = stsrole_aws_classify(status, (const char *)data + 1, size - 1, &err);
    /* An error answer never turns into success, whatever its body says. */
    FUZZ_REQUIRE(rc != STSROLE_OK);
    fuzz_check_error(&err, rc);
    FUZZ_REQUIRE(is_ident(err.aws_code));
    FUZZ_REQUIRE(is_ident(err.request_id));
    /* The message quotes AWS's text and is headed for syslog. */
    FUZZ_REQUIRE(fuzz_no_controls(err.msg));
    /* Without an error struct the class must be the same. */
    FUZZ_REQUIRE(stsrole_aws_classify(status, (const char *)data + 1, size - 1, NULL) == rc);
    return 0;
}
