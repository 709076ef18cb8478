/* SPDX-License-Identifier: BSD-3-Clause */
/* json.c: cJSON trees that held secrets: wiped string by string before they are freed. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "stsrole.h"

static void
wipe_strings(cJSON *n)
{
    for (; n != NULL; n = n->next) {
        if (n->valuestring != NULL && !(n->type & cJSON_IsReference))
            stsrole_wipe(n->valuestring, strlen(n->valuestring));
        if (n->string != NULL && !(n->type & cJSON_StringIsConst))
            stsrole_wipe(n->string, strlen(n->string));
        if (!(n->type & cJSON_IsReference))
            wipe_strings(n->child);
    }
}

void
stsrole_json_delete_wiped(cJSON *tree)
{
    if (tree == NULL)
        return;
    wipe_strings(tree);
    cJSON_Delete(tree);
}

int
stsrole_json_print_secret(const struct cJSON *o, int formatted, char **out,
                          struct stsrole_error *err)
{
    size_t size;
    char *buf;

    *out = NULL;
    /* cJSON_PrintPreallocated never reallocates: when the buffer is too
     * small it fails, and a larger one is tried (the one tried is wiped). */
    for (size = 2048; size <= 256 * 1024; size *= 2) {
        if ((buf = calloc(1, size)) == NULL)
            return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
        /* cJSON wants 5 bytes to spare for its own estimate. */
        if (cJSON_PrintPreallocated((cJSON *)o, buf, (int)size - 5, formatted)) {
            *out = buf;
            return STSROLE_OK;
        }
        stsrole_wipe(buf, size);
        free(buf);
    }
    return stsrole_fail(err, STSROLE_E_INVALID, "JSON document too large");
}
