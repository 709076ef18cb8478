/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_session_record.c: libFuzzer target for stsrole_session_from_json (the gateway's session
 * records). */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "session.h"

static int
same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* The number the document holds for key, which the record must keep
 * exactly: a uid that wraps to 0 would name root. */
static void
check_number(const cJSON *doc, const char *key, int64_t got)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(doc, key);

    FUZZ_REQUIRE(cJSON_IsNumber(item));
    if (item->valuedouble != (double)got)
        fprintf(stderr, "detail: session record: \"%s\": %.17g in the file, %lld parsed\n", key,
                item->valuedouble, (long long)got);
    FUZZ_REQUIRE(item->valuedouble == (double)got);
}

/* A record the gateway can read it must also be able to write back:
 * marking a session closed is read, modify, write. */
static void
check_round_trip(const struct stsrole_session *s)
{
    struct stsrole_session again;
    struct stsrole_error err;
    struct stsrole_buf json;
    int rc;

    stsrole_error_clear(&err);
    rc = stsrole_session_to_json(s, &json, &err);
    FUZZ_REQUIRE(rc == STSROLE_OK);
    rc = stsrole_session_from_json(json.data, json.len, &again, &err);
    FUZZ_REQUIRE(rc == STSROLE_OK);
    FUZZ_REQUIRE(strcmp(s->session_id, again.session_id) == 0);
    FUZZ_REQUIRE(same_str(s->user, again.user) && s->uid == again.uid);
    FUZZ_REQUIRE(same_str(s->rhost, again.rhost) && same_str(s->tty, again.tty));
    FUZZ_REQUIRE(s->sshd_pid == again.sshd_pid);
    FUZZ_REQUIRE(same_str(s->role_name, again.role_name) && same_str(s->role_arn, again.role_arn));
    FUZZ_REQUIRE(same_str(s->assumed_role_id, again.assumed_role_id));
    FUZZ_REQUIRE(same_str(s->session_name, again.session_name));
    FUZZ_REQUIRE(same_str(s->access_key_id, again.access_key_id));
    FUZZ_REQUIRE(same_str(s->source_identity, again.source_identity));
    FUZZ_REQUIRE(same_str(s->aws_request_id, again.aws_request_id));
    if (s->expiration != again.expiration || s->opened != again.opened || s->closed != again.closed)
        fprintf(stderr, "detail: session record: rewritten as %s", json.data);
    FUZZ_REQUIRE(s->expiration == again.expiration);
    FUZZ_REQUIRE(s->opened == again.opened && s->closed == again.closed);
    stsrole_session_free(&again);
    stsrole_buf_free(&json);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stsrole_session s;
    struct stsrole_error err;
    cJSON *doc;
    int rc;

    stsrole_error_clear(&err);
    rc = stsrole_session_from_json((const char *)data, size, &s, &err);
    fuzz_check_error(&err, rc);
    if (rc == STSROLE_OK) {
        /* The id becomes a file name under STATE_DIR/sessions. */
        FUZZ_REQUIRE(stsrole_session_id_valid(s.session_id));
        FUZZ_REQUIRE(s.user != NULL && s.role_arn != NULL && s.assumed_role_id != NULL &&
                     s.session_name != NULL && s.access_key_id != NULL);
        doc = cJSON_ParseWithLength((const char *)data, size);
        FUZZ_REQUIRE(doc != NULL);
        check_number(doc, "uid", (int64_t)s.uid);
        check_number(doc, "sshd_pid", (int64_t)s.sshd_pid);
        check_number(doc, "expiration", s.expiration);
        check_number(doc, "opened", s.opened);
        check_number(doc, "closed", s.closed);
        cJSON_Delete(doc);
        check_round_trip(&s);
    } else {
        FUZZ_REQUIRE(s.user == NULL && s.role_arn == NULL && s.access_key_id == NULL);
    }
    stsrole_session_free(&s);
    return 0;
}
