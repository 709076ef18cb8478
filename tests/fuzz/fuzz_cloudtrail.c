/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_cloudtrail.c: libFuzzer target for reconcile's pure core: audit lines, a CloudTrail file
 * (gzip or plain) and the join into findings. */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "reconcile.h"

/* Input: audit lines, a blank line, then one CloudTrail file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stsrole_recon_opts o = {0, 0, 60, 1};
    struct stsrole_recon *r;
    struct stsrole_error err;
    struct stsrole_buf text;
    const char *in = (const char *)data, *sep, *p, *nl;
    size_t audit_len, skipped, critical = 0;
    cJSON *doc = NULL;
    const cJSON *f, *counts;
    int rc;

    sep = memmem(in, size, "\n\n", 2);
    audit_len = sep != NULL ? (size_t)(sep - in) : 0;
    if (stsrole_recon_new(&r, &o, &err) != STSROLE_OK)
        return 0;
    stsrole_recon_add_role(r, "arn:aws:iam::222222222222:role/SecurityAuditRole", &err);
    for (p = in; p < in + audit_len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(in + audit_len - p));
        if (nl == NULL)
            nl = in + audit_len;
        rc = stsrole_recon_audit_line(r, p, (size_t)(nl - p), &err);
        FUZZ_REQUIRE(rc == STSROLE_OK || rc == STSROLE_E_NOMEM);
    }
    stsrole_buf_init(&text, 0);
    p = sep != NULL ? sep + 2 : in;
    rc = stsrole_ct_gunzip(p, size - (size_t)(p - in), 1 << 20, &text, &err);
    FUZZ_REQUIRE(rc == STSROLE_OK || rc == STSROLE_E_PROTOCOL || rc == STSROLE_E_NOMEM);
    FUZZ_REQUIRE(text.len <= 1 << 20);
    if (rc == STSROLE_OK) {
        rc = stsrole_ct_parse(text.data, text.len, stsrole_recon_event, r, &skipped, &err);
        FUZZ_REQUIRE(rc == STSROLE_OK || rc == STSROLE_E_PROTOCOL || rc == STSROLE_E_NOMEM);
    }
    rc = stsrole_recon_finish(r, &doc, &critical, &err);
    FUZZ_REQUIRE(rc == STSROLE_OK || rc == STSROLE_E_NOMEM);
    if (rc == STSROLE_OK) {
        size_t n = 0;
        /* Every finding names its kind and a known severity; critical counts them. */
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(doc, "findings"))
        {
            const cJSON *sev = cJSON_GetObjectItem(f, "severity");
            FUZZ_REQUIRE(cJSON_IsString(cJSON_GetObjectItem(f, "finding")));
            FUZZ_REQUIRE(cJSON_IsString(sev));
            FUZZ_REQUIRE(strcmp(sev->valuestring, "critical") == 0 ||
                         strcmp(sev->valuestring, "warning") == 0 ||
                         strcmp(sev->valuestring, "info") == 0);
            n += strcmp(sev->valuestring, "critical") == 0;
        }
        FUZZ_REQUIRE(n == critical);
        counts = cJSON_GetObjectItem(doc, "counts");
        FUZZ_REQUIRE(cJSON_GetObjectItem(counts, "critical")->valuedouble == (double)critical);
    }
    cJSON_Delete(doc);
    stsrole_buf_free(&text);
    stsrole_recon_free(r);
    return 0;
}
