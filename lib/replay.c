/* SPDX-License-Identifier: BSD-3-Clause */
/* replay.c: fleet-wide TOTP replay protection: a conditional PutItem per accepted step. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "ddb.h"
#include "replay.h"

#define PK_USER "user#"
#define SK_TOTP "totp"

static int
add(cJSON *o, const char *name, cJSON *v)
{
    if (v == NULL)
        return -1;
    if (!cJSON_AddItemToObject(o, name, v)) {
        cJSON_Delete(v);
        return -1;
    }
    return 0;
}

int
stsrole_replay_request(const struct stsrole_replay_claim *cl, cJSON **item, cJSON **names,
                       cJSON **values, struct stsrole_error *err)
{
    cJSON *it, *nm, *vl;
    char *pk;
    int64_t step_time;
    int bad;

    *item = *names = *values = NULL;
    if (cl == NULL || cl->user == NULL || cl->user[0] == '\0' || cl->bastion_id == NULL ||
        cl->bastion_id[0] == '\0' || cl->nonce == NULL || cl->nonce[0] == '\0' ||
        cl->step.step <= 0 || (cl->step.step_size != 30 && cl->step.step_size != 60))
        return stsrole_fail(err, STSROLE_E_INVALID,
                            "replay claim without user, bastion, "
                            "nonce or a valid step");
    step_time = cl->step.step * cl->step.step_size;
    pk = malloc(strlen(PK_USER) + strlen(cl->user) + 1);
    it = cJSON_CreateObject();
    nm = cJSON_CreateObject();
    vl = cJSON_CreateObject();
    bad = pk == NULL || it == NULL || nm == NULL || vl == NULL;
    if (!bad) {
        sprintf(pk, PK_USER "%s", cl->user);
        bad = add(it, "pk", stsrole_ddb_s(pk)) != 0 || add(it, "sk", stsrole_ddb_s(SK_TOTP)) != 0 ||
              add(it, "kind", stsrole_ddb_s("totp")) != 0 ||
              add(it, "step_time", stsrole_ddb_n(step_time)) != 0 ||
              add(it, "step", stsrole_ddb_n(cl->step.step)) != 0 ||
              add(it, "step_size", stsrole_ddb_n(cl->step.step_size)) != 0 ||
              add(it, "bastion_id", stsrole_ddb_s(cl->bastion_id)) != 0 ||
              add(it, "accepted", stsrole_ddb_n(cl->now)) != 0 ||
              add(it, "nonce", stsrole_ddb_s(cl->nonce)) != 0 ||
              add(it, "ttl", stsrole_ddb_n(step_time + STSROLE_REPLAY_TTL)) != 0 ||
              /* Names, not the bare words: keeps the expression clear of
               * DynamoDB's reserved words whatever the attributes are. */
              cJSON_AddStringToObject(nm, "#pk", "pk") == NULL ||
              cJSON_AddStringToObject(nm, "#t", "step_time") == NULL ||
              add(vl, ":t", stsrole_ddb_n(step_time)) != 0;
    }
    free(pk);
    if (bad) {
        cJSON_Delete(it);
        cJSON_Delete(nm);
        cJSON_Delete(vl);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    *item = it;
    *names = nm;
    *values = vl;
    return STSROLE_OK;
}

int
stsrole_replay_claim(struct stsrole_aws_client *c, const char *table,
                     const struct stsrole_replay_claim *cl, enum stsrole_replay_verdict *verdict,
                     struct stsrole_error *err)
{
    struct stsrole_ddb_write w;
    enum stsrole_ddb_outcome outcome;
    cJSON *item, *names, *values;
    int rc;

    *verdict = STSROLE_REPLAY_USED;
    rc = stsrole_replay_request(cl, &item, &names, &values, err);
    if (rc != STSROLE_OK)
        return rc;
    memset(&w, 0, sizeof(w));
    w.table = table;
    w.item = item;
    w.condition = "attribute_not_exists(#pk) OR #t < :t";
    w.names = names;
    w.values = values;
    /* A retry after a lost answer finds our own claim: the nonce says so.
     * When that read fails, the code stays refused (fail closed). */
    rc = stsrole_ddb_put_item_once(c, &w, "nonce", &outcome, err);
    if (rc == STSROLE_OK && outcome == STSROLE_DDB_WRITTEN)
        *verdict = STSROLE_REPLAY_FRESH;
    else if (rc == STSROLE_OK)
        stsrole_fail(err, STSROLE_E_DENIED,
                     "code already used on this or another bastion (fleet replay refused)");
    cJSON_Delete(item);
    cJSON_Delete(names);
    cJSON_Delete(values);
    return rc;
}
