/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_sigv4.c: libFuzzer target for stsrole_sigv4_sign_headers on odd requests. */
#include "fuzz.h"
#include "sigv4.h"

#define MAX_HEADERS 64

/*
 * Input layout: one flag byte (bit 0: normalize the path, bit 1: sign
 * with a session token; other bits are ignored), then lines:
 *   METHOD \n PATH \n QUERY \n (NAME:VALUE \n)* \n PAYLOAD
 * Lines are split on '\n' only, so a value may still hold '\r'.
 */
static char *
next_line(char **cur, char *end)
{
    char *s = *cur, *nl;

    if (s >= end)
        return NULL;
    nl = memchr(s, '\n', (size_t)(end - s));
    if (nl == NULL) {
        *cur = end;
        return s; /* the copy is NUL-terminated at end */
    }
    *nl = '\0';
    *cur = nl + 1;
    return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stsrole_header headers[MAX_HEADERS];
    struct stsrole_sigv4_request req;
    struct stsrole_sigv4_params p;
    struct stsrole_sigv4_signed out;
    struct stsrole_error err;
    char *text, *cur, *end, *line, *colon;
    uint8_t flags;
    int rc;

    if (size < 1)
        return 0;
    flags = data[0];
    text = fuzz_cstring(data + 1, size - 1);
    if (text == NULL)
        return 0;
    cur = text;
    end = text + size - 1;

    memset(&req, 0, sizeof(req));
    req.method = next_line(&cur, end);
    req.path = next_line(&cur, end);
    req.query = next_line(&cur, end);
    req.headers = headers;
    while (req.n_headers < MAX_HEADERS && (line = next_line(&cur, end)) != NULL && *line != '\0') {
        colon = strchr(line, ':');
        headers[req.n_headers].name = line;
        headers[req.n_headers].value = "";
        if (colon != NULL) {
            *colon = '\0';
            headers[req.n_headers].value = colon + 1;
        }
        req.n_headers++;
    }
    if (cur < end) {
        req.payload = cur;
        req.payload_len = (size_t)(end - cur);
    }

    memset(&p, 0, sizeof(p));
    p.region = "us-east-1";
    p.service = "sts";
    p.access_key_id = "AKIDEXAMPLE";
    p.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    p.session_token = (flags & 2) ? "FQoGZXIvYXdzEBYaDExampleSessionToken/+=" : NULL;
    p.now = 1440938160; /* 2015-08-30T12:36:00Z, the AWS suite's date */
    p.normalize_path = flags & 1;

    stsrole_error_clear(&err);
    rc = stsrole_sigv4_sign_headers(&req, &p, &out, &err);
    fuzz_check_error(&err, rc);
    if (rc == STSROLE_OK) {
        /* These go out as header values: no line break may get in. */
        FUZZ_REQUIRE(out.authorization != NULL && fuzz_no_controls(out.authorization));
        FUZZ_REQUIRE(strlen(out.amz_date) == 16);
        FUZZ_REQUIRE(strlen(out.signature) == 64 &&
                     strspn(out.signature, "0123456789abcdef") == 64);
    }
    stsrole_sigv4_signed_free(&out);

    free(text);
    return 0;
}
