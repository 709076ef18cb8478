/* SPDX-License-Identifier: BSD-3-Clause */
/* approval.c: break-glass requests: the reason check, one request's state transitions, its session
 * tags. */
#include "config.h"

#include <cjson/cJSON.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approval.h"

int
stsrole_reason_check(const struct stsrole_role *role, const char *reason, struct stsrole_error *err)
{
    regex_t re;
    size_t i, k, n;
    int rc;

    n = reason != NULL ? strnlen(reason, STSROLE_REASON_MAX + 1) : 0;
    if (n == 0) {
        if (role->reason_required)
            return stsrole_fail(err, STSROLE_E_INVALID, "role %s needs a reason (--reason)",
                                role->name);
        return STSROLE_OK;
    }
    if (n > STSROLE_REASON_MAX)
        return stsrole_fail(err, STSROLE_E_INVALID, "the reason is longer than %d bytes",
                            STSROLE_REASON_MAX);
    /* It goes into audit records, syslog, notify's input and the
     * approvers' terminals: one line of valid UTF-8, without control
     * characters (C0, DEL, C1) or the invisible ones that reorder or hide
     * text (Unicode's bidirectional controls, zero-width characters), so
     * an approver reads what was written. */
    for (i = 0; i < n; i += k) {
        uint32_t cp;

        if ((k = stsrole_utf8_decode((const unsigned char *)reason + i, n - i, &cp)) == 0)
            return stsrole_fail(err, STSROLE_E_INVALID, "the reason is not valid UTF-8");
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return stsrole_fail(err, STSROLE_E_INVALID, "the reason contains a control character");
        if ((cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
            (cp >= 0x2060 && cp <= 0x2069) || cp == 0x061c || cp == 0xfeff)
            return stsrole_fail(err, STSROLE_E_INVALID,
                                "the reason contains an invisible formatting character "
                                "(U+%04X)",
                                (unsigned)cp);
    }
    if (role->reason_pattern == NULL)
        return STSROLE_OK;
    if (regcomp(&re, role->reason_pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return stsrole_fail(err, STSROLE_E_CONFIG, "role %s: reason_pattern does not compile",
                            role->name);
    rc = regexec(&re, reason, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        return stsrole_fail(err, STSROLE_E_INVALID,
                            "the reason does not match role %s's reason_pattern %s", role->name,
                            role->reason_pattern);
    return STSROLE_OK;
}

/* The ASCII part of STS's tag-value set [\p{L}\p{Z}\p{N}_.:/=+\-@]. */
static int
tag_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr(" _.:/=+-@", c) != NULL;
}

void
stsrole_tag_value(const char *in, char *out, size_t outsz)
{
    size_t i;

    if (outsz == 0)
        return;
    for (i = 0; in[i] != '\0' && i < STSROLE_TAG_VALUE_MAX && i + 1 < outsz; i++)
        out[i] = tag_char_ok((unsigned char)in[i]) ? in[i] : '_';
    out[i] = '\0';
}

int
stsrole_approver_listed(const struct stsrole_role *role, const char *user,
                        const char *const *groups)
{
    size_t i, j;

    for (i = 0; role->approvers != NULL && role->approvers[i] != NULL; i++) {
        const char *a = role->approvers[i];
        if (a[0] != '@') {
            if (strcmp(a, user) == 0)
                return 1;
            continue;
        }
        for (j = 0; groups != NULL && groups[j] != NULL; j++)
            if (strcmp(a + 1, groups[j]) == 0)
                return 1;
    }
    return 0;
}

int
stsrole_request_init(struct stsrole_request *req, const struct stsrole_role *role, const char *id,
                     const char *requester, uid_t uid, const char *reason, time_t now,
                     struct stsrole_error *err)
{
    memset(req, 0, sizeof(*req));
    if (strlen(id) != STSROLE_REQUEST_ID_LEN ||
        strspn(id, "0123456789abcdef") != STSROLE_REQUEST_ID_LEN)
        return stsrole_fail(err, STSROLE_E_INVALID, "a request id is 16 hex digits");
    if (role->approvals <= 0 && !role->reason_required)
        return stsrole_fail(err, STSROLE_E_INVALID, "role %s takes no requests", role->name);
    if (stsrole_reason_check(role, reason, err) != STSROLE_OK)
        return err != NULL ? err->status : STSROLE_E_INVALID;
    memcpy(req->id, id, sizeof(req->id));
    req->role = strdup(role->name);
    req->requester = strdup(requester);
    req->reason = strdup(reason != NULL ? reason : "");
    if (req->role == NULL || req->requester == NULL || req->reason == NULL) {
        stsrole_request_free(req);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    req->requester_uid = uid;
    req->created = now;
    req->expires = now + role->approval_timeout;
    req->needed = role->approvals > 0 ? role->approvals : 0;
    req->state = STSROLE_REQ_PENDING;
    if (req->needed == 0) {
        /* reason = required alone: the reason is the whole control. */
        req->state = STSROLE_REQ_APPROVED;
        req->decided = now;
    }
    return STSROLE_OK;
}

void
stsrole_request_free(struct stsrole_request *req)
{
    size_t i;

    if (req == NULL)
        return;
    free(req->role);
    free(req->requester);
    free(req->reason);
    free(req->decided_by);
    for (i = 0; i < req->n_approvers; i++)
        free(req->approvers[i]);
    memset(req, 0, sizeof(*req));
}

int
stsrole_request_expire(struct stsrole_request *req, time_t now)
{
    if (req->state != STSROLE_REQ_PENDING || now < req->expires)
        return 0;
    req->state = STSROLE_REQ_EXPIRED;
    req->decided = req->expires;
    return 1;
}

static int
still_pending(struct stsrole_request *req, time_t now, struct stsrole_error *err)
{
    stsrole_request_expire(req, now);
    if (req->state != STSROLE_REQ_PENDING)
        return stsrole_fail(err, STSROLE_E_DENIED, "request %s is %s, no longer pending", req->id,
                            stsrole_request_state_name(req->state));
    return STSROLE_OK;
}

int
stsrole_request_approve(struct stsrole_request *req, const char *approver, time_t now,
                        int *approved, struct stsrole_error *err)
{
    size_t i;

    *approved = 0;
    if (still_pending(req, now, err) != STSROLE_OK)
        return STSROLE_E_DENIED;
    /* Two people: the requester's own approval never counts. */
    if (strcmp(approver, req->requester) == 0)
        return stsrole_fail(err, STSROLE_E_DENIED, "%s cannot approve their own request %s",
                            approver, req->id);
    for (i = 0; i < req->n_approvers; i++)
        if (strcmp(req->approvers[i], approver) == 0)
            return stsrole_fail(err, STSROLE_E_DENIED, "%s has already approved request %s",
                                approver, req->id);
    if (req->n_approvers >= STSROLE_APPROVALS_MAX)
        return stsrole_fail(err, STSROLE_E_DENIED, "request %s has all its approvals", req->id);
    req->approvers[req->n_approvers] = strdup(approver);
    if (req->approvers[req->n_approvers] == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    req->n_approvers++;
    if (req->n_approvers >= (size_t)req->needed) {
        req->state = STSROLE_REQ_APPROVED;
        req->decided = now;
        *approved = 1;
    }
    return STSROLE_OK;
}

static int
close_request(struct stsrole_request *req, enum stsrole_request_state to, const char *who,
              time_t now, struct stsrole_error *err)
{
    if (still_pending(req, now, err) != STSROLE_OK)
        return STSROLE_E_DENIED;
    req->decided_by = strdup(who);
    if (req->decided_by == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    req->state = to;
    req->decided = now;
    return STSROLE_OK;
}

int
stsrole_request_deny(struct stsrole_request *req, const char *who, time_t now,
                     struct stsrole_error *err)
{
    if (strcmp(who, req->requester) == 0)
        return stsrole_fail(err, STSROLE_E_DENIED,
                            "%s cannot deny their own request %s (cancel it instead)", who,
                            req->id);
    return close_request(req, STSROLE_REQ_DENIED, who, now, err);
}

int
stsrole_request_cancel(struct stsrole_request *req, const char *who, time_t now,
                       struct stsrole_error *err)
{
    if (strcmp(who, req->requester) != 0)
        return stsrole_fail(err, STSROLE_E_DENIED, "only %s can cancel request %s", req->requester,
                            req->id);
    return close_request(req, STSROLE_REQ_CANCELLED, who, now, err);
}

int
stsrole_request_withdraw(struct stsrole_request *req, const char *by, time_t now,
                         struct stsrole_error *err)
{
    return close_request(req, STSROLE_REQ_CANCELLED, by, now, err);
}

struct stsrole_request *
stsrole_requests_find(struct stsrole_requests *t, const char *id)
{
    size_t i;

    for (i = 0; id != NULL && i < t->n; i++)
        if (strcmp(t->v[i].id, id) == 0)
            return &t->v[i];
    return NULL;
}

void
stsrole_requests_prune(struct stsrole_requests *t, time_t now, time_t keep)
{
    size_t i = 0;

    while (i < t->n) {
        struct stsrole_request *q = &t->v[i];
        stsrole_request_expire(q, now);
        if (q->state != STSROLE_REQ_PENDING && q->decided <= now - keep) {
            stsrole_request_free(q);
            t->v[i] = t->v[--t->n];
        } else {
            i++;
        }
    }
}

int
stsrole_requests_add(struct stsrole_requests *t, struct stsrole_request *req,
                     struct stsrole_error *err)
{
    struct stsrole_request *v;
    size_t i, mine = 0;

    if (req->state != STSROLE_REQ_PENDING && req->needed > 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "request %s is not pending", req->id);
    if (stsrole_requests_find(t, req->id) != NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "request id %s is taken", req->id);
    stsrole_requests_prune(t, req->created, 3600);
    for (i = 0; i < t->n; i++) {
        if (t->v[i].state != STSROLE_REQ_PENDING || t->v[i].requester_uid != req->requester_uid)
            continue;
        if (strcmp(t->v[i].role, req->role) == 0)
            return stsrole_fail(err, STSROLE_E_DENIED,
                                "%s already has request %s pending for role %s", req->requester,
                                t->v[i].id, req->role);
        mine++;
    }
    if (mine >= STSROLE_REQUESTS_PER_USER)
        return stsrole_fail(err, STSROLE_E_DENIED, "%s already has %d requests pending",
                            req->requester, STSROLE_REQUESTS_PER_USER);
    if (t->n >= STSROLE_REQUESTS_MAX)
        stsrole_requests_prune(t, req->created, 0);
    if (t->n >= STSROLE_REQUESTS_MAX)
        return stsrole_fail(err, STSROLE_E_DENIED, "%d requests are pending already",
                            STSROLE_REQUESTS_MAX);
    v = realloc(t->v, (t->n + 1) * sizeof(*v));
    if (v == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    t->v = v;
    t->v[t->n++] = *req;
    memset(req, 0, sizeof(*req));
    return STSROLE_OK;
}

void
stsrole_requests_free(struct stsrole_requests *t)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        stsrole_request_free(&t->v[i]);
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

const char *
stsrole_request_state_name(enum stsrole_request_state s)
{
    switch (s) {
    case STSROLE_REQ_PENDING:
        return "pending";
    case STSROLE_REQ_APPROVED:
        return "approved";
    case STSROLE_REQ_DENIED:
        return "denied";
    case STSROLE_REQ_CANCELLED:
        return "cancelled";
    case STSROLE_REQ_EXPIRED:
        return "expired";
    }
    return "unknown";
}

int
stsrole_request_tags(const struct stsrole_request *req, char reason[STSROLE_TAG_VALUE_MAX + 1],
                     char approvers[STSROLE_TAG_VALUE_MAX + 1], struct stsrole_error *err)
{
    char joined[STSROLE_APPROVALS_MAX * 257];
    size_t i, off = 0, n;

    if (req->state != STSROLE_REQ_APPROVED || (req->n_approvers == 0 && req->needed > 0))
        return stsrole_fail(err, STSROLE_E_INVALID, "request %s is not approved", req->id);
    for (i = 0; i < req->n_approvers; i++) {
        n = strlen(req->approvers[i]);
        if (off + n + 2 > sizeof(joined))
            break;
        if (off > 0)
            joined[off++] = ' ';
        memcpy(joined + off, req->approvers[i], n);
        off += n;
    }
    joined[off] = '\0';
    stsrole_tag_value(req->reason, reason, STSROLE_TAG_VALUE_MAX + 1);
    stsrole_tag_value(joined, approvers, STSROLE_TAG_VALUE_MAX + 1);
    /* STS refuses an empty tag value, and the trust policy asks for both. */
    if (reason[0] == '\0')
        memcpy(reason, "none", 5);
    if (approvers[0] == '\0')
        memcpy(approvers, "none", 5);
    return STSROLE_OK;
}

int
stsrole_request_event(const struct stsrole_request *req, const char *event, const char *by,
                      char **out, struct stsrole_error *err)
{
    cJSON *o, *a;
    char *text;
    size_t i, n;
    int ok;

    *out = NULL;
    o = cJSON_CreateObject();
    ok = o != NULL && cJSON_AddStringToObject(o, "event", event) != NULL &&
         cJSON_AddStringToObject(o, "id", req->id) != NULL &&
         cJSON_AddStringToObject(o, "role", req->role) != NULL &&
         cJSON_AddStringToObject(o, "requester", req->requester) != NULL &&
         cJSON_AddStringToObject(o, "reason", req->reason) != NULL &&
         cJSON_AddStringToObject(o, "state", stsrole_request_state_name(req->state)) != NULL &&
         cJSON_AddNumberToObject(o, "needed", req->needed) != NULL &&
         (a = cJSON_AddArrayToObject(o, "approvers")) != NULL &&
         (by == NULL || cJSON_AddStringToObject(o, "by", by) != NULL) &&
         cJSON_AddNumberToObject(o, "expires", (double)req->expires) != NULL;
    for (i = 0; ok && i < req->n_approvers; i++)
        ok = cJSON_AddItemToArray(a, cJSON_CreateString(req->approvers[i]));
    text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    n = strlen(text);
    *out = malloc(n + 2);
    if (*out != NULL) {
        memcpy(*out, text, n);
        memcpy(*out + n, "\n", 2);
    }
    free(text);
    if (*out == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    return STSROLE_OK;
}
