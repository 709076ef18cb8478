/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_s3_athena.c: libFuzzer target for the S3 listing parser and the Athena answer parsers. */
#include "fuzz.h"

#include "athena.h"
#include "s3.h"

static int
on_key(void *ctx, const char *key, uint64_t size)
{
    (void)ctx, (void)size;
    /* S3 keys are at most 1024 bytes; the parser's buffer allows UTF-8 of that. */
    FUZZ_REQUIRE(strlen(key) <= 4 * 1024);
    return STSROLE_OK;
}

static int
on_row(void *ctx, const char *const *cells, size_t n, struct stsrole_error *err)
{
    (void)ctx, (void)cells, (void)err;
    FUZZ_REQUIRE(n <= 64);
    return STSROLE_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stsrole_error err;
    struct stsrole_buf next;
    const char *in = (const char *)data;
    int truncated, done, rc;

    stsrole_buf_init(&next, 0);
    rc = stsrole_s3_parse_list(in, size, on_key, NULL, &truncated, &next, &err);
    FUZZ_REQUIRE(rc == STSROLE_OK || rc == STSROLE_E_PROTOCOL || rc == STSROLE_E_NOMEM);
    /* A truncated listing always says where to go on. */
    FUZZ_REQUIRE(rc != STSROLE_OK || !truncated || next.len > 0);
    rc = stsrole_athena_parse_rows(in, size, size > 0 && data[0] & 1, on_row, NULL, &next, &err);
    FUZZ_REQUIRE(rc == STSROLE_OK || rc == STSROLE_E_PROTOCOL || rc == STSROLE_E_NOMEM);
    rc = stsrole_athena_parse_state(in, size, &done, &err);
    FUZZ_REQUIRE(rc == STSROLE_OK || rc == STSROLE_E_PROTOCOL || rc == STSROLE_E_REJECTED);
    FUZZ_REQUIRE(rc == STSROLE_OK || done == 0);
    stsrole_buf_free(&next);
    return 0;
}
