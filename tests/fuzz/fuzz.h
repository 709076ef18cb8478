/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz.h: helpers shared by the libFuzzer targets: the entry point's prototype and property checks.
 */
#ifndef STSROLE_FUZZ_H
#define STSROLE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stsrole.h"

/* libFuzzer calls this once per input; declared here for -Wmissing-prototypes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A broken property is a finding just like a crash: abort() makes
 * libFuzzer save the input as a crash-* reproducer.
 */
#define FUZZ_REQUIRE(cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A NUL-terminated heap copy of the input, for the parsers that take C strings. */
static inline char *
fuzz_cstring(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        return NULL;
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/*
 * Text that came from outside and may reach an environment variable or a
 * log line must hold no control character: a newline there forges a log
 * line or a second variable.  NULL passes (the field is absent).
 */
static inline int
fuzz_no_controls(const char *s)
{
    const unsigned char *c;

    if (s == NULL)
        return 1;
    for (c = (const unsigned char *)s; *c != '\0'; c++)
        if (*c < 0x20 || *c == 0x7f)
            return 0;
    return 1;
}

/* The error message is always a terminated string and, when the call
 * failed, says something. */
static inline void
fuzz_check_error(const struct stsrole_error *err, int rc)
{
    FUZZ_REQUIRE(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
    FUZZ_REQUIRE(memchr(err->aws_code, '\0', sizeof(err->aws_code)) != NULL);
    FUZZ_REQUIRE(memchr(err->request_id, '\0', sizeof(err->request_id)) != NULL);
    if (rc != STSROLE_OK) {
        if ((int)err->status != rc)
            fprintf(stderr, "detail: returned %s, but err->status is %s (\"%s\")\n",
                    stsrole_status_name((enum stsrole_status)rc), stsrole_status_name(err->status),
                    err->msg);
        FUZZ_REQUIRE((int)err->status == rc);
        FUZZ_REQUIRE(err->msg[0] != '\0');
    }
}

#endif
