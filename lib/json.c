/* json.c: cJSON trees that held secrets: wiped string by string before they are freed. */
#include "config.h"

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
