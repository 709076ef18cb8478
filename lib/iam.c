/* SPDX-License-Identifier: BSD-3-Clause */
/* iam.c: the few IAM calls the gateway makes on a target role's inline policy; answers in JSON or
 * XML. */
#include "config.h"

#include <ctype.h>
#include <cjson/cJSON.h>
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iam.h"

/* IAM names: role names [\w+=,.@-]{1,64}, policy names the same, 128. */
static int
iam_name_ok(const char *s, size_t max)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++)
        if (!isalnum((unsigned char)s[n]) && strchr("_+=,.@-", s[n]) == NULL)
            return 0;
    return n >= 1 && n <= max;
}

void
stsrole_arn_account(const char *arn, char account[13])
{
    const char *p = arn;
    int i;

    account[0] = '\0';
    /* arn:partition:service:region:account:resource */
    for (i = 0; i < 4 && p != NULL; i++) {
        p = strchr(p, ':');
        if (p != NULL)
            p++;
    }
    if (p == NULL || strspn(p, "0123456789") != 12 || p[12] != ':')
        return;
    memcpy(account, p, 12);
    account[12] = '\0';
}

int
stsrole_arn_role(const char *arn, char account[13], char name[65], struct stsrole_error *err)
{
    const char *res, *slash;

    if (arn == NULL || strncmp(arn, "arn:", 4) != 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "not an ARN: '%.200s'", arn ? arn : "");
    stsrole_arn_account(arn, account);
    res = strstr(arn, ":role/");
    if (account[0] == '\0' || res == NULL || strstr(arn, ":iam::") == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "not an IAM role ARN: '%.200s'", arn);
    slash = strrchr(res, '/');
    if (!iam_name_ok(slash + 1, 64))
        return stsrole_fail(err, STSROLE_E_INVALID, "bad role name in '%.200s'", arn);
    strcpy(name, slash + 1);
    return STSROLE_OK;
}

static int
body(const char *action, const char *role, const char *policy, const char *doc, const char *marker,
     struct stsrole_buf *out, struct stsrole_error *err)
{
    stsrole_buf_reset(out);
    if (!iam_name_ok(role, 64))
        return stsrole_fail(err, STSROLE_E_INVALID, "bad IAM role name");
    if (policy != NULL && !iam_name_ok(policy, 128))
        return stsrole_fail(err, STSROLE_E_INVALID, "bad IAM policy name '%.130s'", policy);
    /* stsrole_form_append: the form encoding AWS and its stand-ins agree on. */
    if (stsrole_form_append(out, "Action", action) != STSROLE_OK ||
        stsrole_form_append(out, "Version", STSROLE_IAM_VERSION) != STSROLE_OK ||
        stsrole_form_append(out, "RoleName", role) != STSROLE_OK ||
        (policy != NULL && stsrole_form_append(out, "PolicyName", policy) != STSROLE_OK) ||
        (doc != NULL && stsrole_form_append(out, "PolicyDocument", doc) != STSROLE_OK) ||
        (marker != NULL && stsrole_form_append(out, "Marker", marker) != STSROLE_OK))
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory building an IAM request");
    return STSROLE_OK;
}

int
stsrole_iam_get_role_policy_body(const char *role, const char *policy, struct stsrole_buf *out,
                                 struct stsrole_error *err)
{
    return body("GetRolePolicy", role, policy, NULL, NULL, out, err);
}

int
stsrole_iam_put_role_policy_body(const char *role, const char *policy, const char *doc,
                                 struct stsrole_buf *out, struct stsrole_error *err)
{
    if (doc == NULL || *doc == '\0')
        return stsrole_fail(err, STSROLE_E_INVALID, "empty policy document");
    return body("PutRolePolicy", role, policy, doc, NULL, out, err);
}

int
stsrole_iam_delete_role_policy_body(const char *role, const char *policy, struct stsrole_buf *out,
                                    struct stsrole_error *err)
{
    return body("DeleteRolePolicy", role, policy, NULL, NULL, out, err);
}

int
stsrole_iam_list_role_policies_body(const char *role, const char *marker, struct stsrole_buf *out,
                                    struct stsrole_error *err)
{
    return body("ListRolePolicies", role, NULL, NULL, marker, out, err);
}

/* A small collector: the text of elements named `want`, and of
 * IsTruncated/Marker, wherever they are in the document. */
struct xml_ctx {
    const char *want;
    int in_want, in_trunc, in_marker, depth, failed;
    struct stsrole_buf cur;
    char **vals;
    size_t n, cap;
    int truncated;
    struct stsrole_buf marker;
};

static void XMLCALL
xml_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct xml_ctx *x = ud;

    (void)attrs;
    x->depth++;
    if (x->depth > 16)
        x->failed = 1;
    if (strcmp(name, x->want) == 0) {
        x->in_want = 1;
        stsrole_buf_reset(&x->cur);
    } else if (strcmp(name, "IsTruncated") == 0) {
        x->in_trunc = 1;
        stsrole_buf_reset(&x->cur);
    } else if (strcmp(name, "Marker") == 0) {
        x->in_marker = 1;
        stsrole_buf_reset(&x->marker);
    }
}

static void XMLCALL
xml_text(void *ud, const XML_Char *s, int len)
{
    struct xml_ctx *x = ud;

    if ((x->in_want || x->in_trunc) && stsrole_buf_append(&x->cur, s, (size_t)len) != STSROLE_OK)
        x->failed = 1;
    if (x->in_marker && stsrole_buf_append(&x->marker, s, (size_t)len) != STSROLE_OK)
        x->failed = 1;
}

static void XMLCALL
xml_end(void *ud, const XML_Char *name)
{
    struct xml_ctx *x = ud;

    x->depth--;
    if (x->in_want && strcmp(name, x->want) == 0) {
        char **nv;

        x->in_want = 0;
        if (x->n + 2 > x->cap) {
            size_t ncap = x->cap ? x->cap * 2 : 8;

            if ((nv = realloc(x->vals, ncap * sizeof(*nv))) == NULL) {
                x->failed = 1;
                return;
            }
            x->vals = nv;
            x->cap = ncap;
        }
        if ((x->vals[x->n] = stsrole_strdup(x->cur.data ? x->cur.data : "")) == NULL) {
            x->failed = 1;
            return;
        }
        x->vals[++x->n] = NULL;
    } else if (x->in_trunc && strcmp(name, "IsTruncated") == 0) {
        x->in_trunc = 0;
        x->truncated = x->cur.data != NULL && strcmp(x->cur.data, "true") == 0;
    } else if (x->in_marker && strcmp(name, "Marker") == 0) {
        x->in_marker = 0;
    }
}

static int
xml_collect(const char *xml, size_t len, const char *want, struct xml_ctx *x,
            struct stsrole_error *err)
{
    XML_Parser p;
    int ok;

    memset(x, 0, sizeof(*x));
    x->want = want;
    stsrole_buf_init(&x->cur, 0);
    stsrole_buf_init(&x->marker, 0);
    if (len > (size_t)STSROLE_HTTP_MAX_RESPONSE)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "IAM answer too large");
    if ((p = XML_ParserCreate("UTF-8")) == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory parsing XML");
    XML_SetUserData(p, x);
    XML_SetElementHandler(p, xml_start, xml_end);
    XML_SetCharacterDataHandler(p, xml_text);
    ok = XML_Parse(p, xml, (int)len, 1) == XML_STATUS_OK && !x->failed;
    XML_ParserFree(p);
    stsrole_buf_free(&x->cur);
    if (!ok) {
        stsrole_strv_free(x->vals);
        x->vals = NULL;
        stsrole_buf_free(&x->marker);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "malformed IAM answer (XML)");
    }
    return STSROLE_OK;
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* RFC 3986 percent-decoding in place; '+' stays '+' (IAM encodes it). */
static int
url_decode(char *s)
{
    char *r = s, *w = s;
    int hi, lo;

    while (*r != '\0') {
        if (*r == '%') {
            if ((hi = hexval((unsigned char)r[1])) < 0 || (lo = hexval((unsigned char)r[2])) < 0)
                return -1;
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return 0;
}

/*
 * The JSON form of a Query-API answer, as IAM sends it when asked with
 * Accept: application/json:
 *   {"<Op>Response":{"<Op>Result":{...},"ResponseMetadata":{...}}}
 * The result object of op, or NULL.
 */
static const cJSON *
json_result(const cJSON *doc, const char *op)
{
    char name[64];
    const cJSON *resp;

    snprintf(name, sizeof(name), "%sResponse", op);
    resp = cJSON_GetObjectItemCaseSensitive(doc, name);
    snprintf(name, sizeof(name), "%sResult", op);
    return cJSON_IsObject(resp) ? cJSON_GetObjectItemCaseSensitive(resp, name) : NULL;
}

static int
json_parse(const char *body, size_t len, cJSON **doc, struct stsrole_error *err)
{
    if (body == NULL || len > (size_t)STSROLE_HTTP_MAX_RESPONSE)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "IAM answer missing or too large");
    if ((*doc = cJSON_ParseWithLength(body, len)) == NULL)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "malformed IAM answer (JSON)");
    return STSROLE_OK;
}

/* The PolicyDocument as IAM sends it, in either format: vals[0] (heap). */
static int
get_role_policy_raw(const char *content_type, const char *body, size_t len, char **raw,
                    struct stsrole_error *err)
{
    const cJSON *res, *d;
    struct xml_ctx x;
    cJSON *doc;
    int rc;

    *raw = NULL;
    if (stsrole_aws_format(content_type, body, len) == STSROLE_AWS_JSON) {
        if ((rc = json_parse(body, len, &doc, err)) != STSROLE_OK)
            return rc;
        res = json_result(doc, "GetRolePolicy");
        d = res != NULL ? cJSON_GetObjectItemCaseSensitive(res, "PolicyDocument") : NULL;
        if (cJSON_IsString(d) && (*raw = stsrole_strdup(d->valuestring)) == NULL)
            rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory parsing JSON");
        else if (!cJSON_IsString(d))
            rc = stsrole_fail(err, STSROLE_E_PROTOCOL,
                              "GetRolePolicy answer without a PolicyDocument");
        cJSON_Delete(doc);
        return rc;
    }
    if ((rc = xml_collect(body, len, "PolicyDocument", &x, err)) != STSROLE_OK)
        return rc;
    stsrole_buf_free(&x.marker);
    if (x.n != 1) {
        stsrole_strv_free(x.vals);
        return stsrole_fail(err, STSROLE_E_PROTOCOL,
                            "GetRolePolicy answer without one "
                            "PolicyDocument");
    }
    *raw = x.vals[0];
    free(x.vals);
    return STSROLE_OK;
}

int
stsrole_iam_parse_get_role_policy(const char *content_type, const char *body, size_t len,
                                  char **doc, struct stsrole_error *err)
{
    char *raw;
    int rc;

    *doc = NULL;
    if ((rc = get_role_policy_raw(content_type, body, len, &raw, err)) != STSROLE_OK)
        return rc;
    /* IAM URL-encodes policy documents in its answers, in JSON and XML
     * alike; a document that is already JSON is left alone. */
    if (raw[strspn(raw, " \t\r\n")] != '{' && url_decode(raw) != 0) {
        free(raw);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "PolicyDocument is badly URL-encoded");
    }
    *doc = raw;
    return STSROLE_OK;
}

/* ListRolePolicies in JSON: PolicyNames an array of strings, IsTruncated
 * a boolean, Marker a string when truncated. */
static int
list_role_policies_json(const char *body, size_t len, char ***names, char **marker,
                        struct stsrole_error *err)
{
    const cJSON *res, *arr, *it, *trunc, *mk;
    cJSON *doc;
    char **v;
    size_t n = 0;
    int rc;

    if ((rc = json_parse(body, len, &doc, err)) != STSROLE_OK)
        return rc;
    res = json_result(doc, "ListRolePolicies");
    arr = res != NULL ? cJSON_GetObjectItemCaseSensitive(res, "PolicyNames") : NULL;
    trunc = res != NULL ? cJSON_GetObjectItemCaseSensitive(res, "IsTruncated") : NULL;
    mk = res != NULL ? cJSON_GetObjectItemCaseSensitive(res, "Marker") : NULL;
    if (!cJSON_IsArray(arr) || (trunc != NULL && !cJSON_IsBool(trunc)) ||
        (cJSON_IsTrue(trunc) && !cJSON_IsString(mk))) {
        cJSON_Delete(doc);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "malformed ListRolePolicies answer (JSON)");
    }
    if ((v = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*v))) == NULL) {
        cJSON_Delete(doc);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory parsing JSON");
    }
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it) || (v[n] = stsrole_strdup(it->valuestring)) == NULL) {
            rc = cJSON_IsString(it)
                     ? stsrole_fail(err, STSROLE_E_NOMEM, "out of memory")
                     : stsrole_fail(err, STSROLE_E_PROTOCOL,
                                    "ListRolePolicies: a policy name is not a string");
            stsrole_strv_free(v);
            cJSON_Delete(doc);
            return rc;
        }
        n++;
    }
    if (cJSON_IsTrue(trunc) && (*marker = stsrole_strdup(mk->valuestring)) == NULL) {
        stsrole_strv_free(v);
        cJSON_Delete(doc);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    cJSON_Delete(doc);
    *names = v;
    return STSROLE_OK;
}

int
stsrole_iam_parse_list_role_policies(const char *content_type, const char *body, size_t len,
                                     char ***names, char **marker, struct stsrole_error *err)
{
    struct xml_ctx x;
    int rc;

    *names = NULL;
    *marker = NULL;
    if (stsrole_aws_format(content_type, body, len) == STSROLE_AWS_JSON)
        return list_role_policies_json(body, len, names, marker, err);
    if ((rc = xml_collect(body, len, "member", &x, err)) != STSROLE_OK)
        return rc;
    if (x.vals == NULL && (x.vals = calloc(1, sizeof(*x.vals))) == NULL) {
        stsrole_buf_free(&x.marker);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory parsing XML");
    }
    *names = x.vals;
    if (x.truncated && x.marker.len > 0)
        *marker = stsrole_buf_steal(&x.marker);
    stsrole_buf_free(&x.marker);
    return STSROLE_OK;
}

static void
copy_request_id(char request_id[128], const struct stsrole_http_response *resp,
                const struct stsrole_error *err)
{
    if (request_id == NULL)
        return;
    if (resp != NULL && resp->request_id[0] != '\0')
        snprintf(request_id, 128, "%s", resp->request_id);
    else if (err != NULL && err->request_id[0] != '\0')
        snprintf(request_id, 128, "%s", err->request_id);
    else
        request_id[0] = '\0';
}

static int
call(struct stsrole_aws_client *c, const struct stsrole_buf *form,
     struct stsrole_http_response *resp, char request_id[128], struct stsrole_error *err)
{
    int rc;

    memset(resp, 0, sizeof(*resp));
    stsrole_buf_init(&resp->body, 0);
    if (request_id != NULL)
        request_id[0] = '\0';
    rc = stsrole_aws_query(c, form->data, resp, err);
    copy_request_id(request_id, rc == STSROLE_OK ? resp : NULL, err);
    return rc;
}

static int
is_no_such_entity(const struct stsrole_error *err)
{
    return err != NULL && strcmp(err->aws_code, "NoSuchEntity") == 0;
}

int
stsrole_iam_get_role_policy(struct stsrole_aws_client *c, const char *role, const char *policy,
                            char **doc, char request_id[128], struct stsrole_error *err)
{
    struct stsrole_buf form;
    struct stsrole_http_response resp;
    int rc;

    *doc = NULL;
    stsrole_buf_init(&form, 0);
    if ((rc = stsrole_iam_get_role_policy_body(role, policy, &form, err)) != STSROLE_OK)
        goto out;
    rc = call(c, &form, &resp, request_id, err);
    if (rc == STSROLE_OK)
        rc = stsrole_iam_parse_get_role_policy(resp.content_type, resp.body.data, resp.body.len,
                                               doc, err);
    else if (is_no_such_entity(err))
        rc = stsrole_fail(err, STSROLE_E_NOTFOUND, "role %s has no inline policy %s", role, policy);
    stsrole_http_response_free(&resp);
out:
    stsrole_buf_free(&form);
    return rc;
}

int
stsrole_iam_put_role_policy(struct stsrole_aws_client *c, const char *role, const char *policy,
                            const char *doc, char request_id[128], struct stsrole_error *err)
{
    struct stsrole_buf form;
    struct stsrole_http_response resp;
    int rc;

    stsrole_buf_init(&form, 0);
    if ((rc = stsrole_iam_put_role_policy_body(role, policy, doc, &form, err)) == STSROLE_OK) {
        rc = call(c, &form, &resp, request_id, err);
        stsrole_http_response_free(&resp);
    }
    stsrole_buf_free(&form);
    return rc;
}

int
stsrole_iam_delete_role_policy(struct stsrole_aws_client *c, const char *role, const char *policy,
                               char request_id[128], struct stsrole_error *err)
{
    struct stsrole_buf form;
    struct stsrole_http_response resp;
    int rc;

    stsrole_buf_init(&form, 0);
    if ((rc = stsrole_iam_delete_role_policy_body(role, policy, &form, err)) == STSROLE_OK) {
        rc = call(c, &form, &resp, request_id, err);
        stsrole_http_response_free(&resp);
        /* Deleting what is already gone is the state we wanted. */
        if (rc != STSROLE_OK && is_no_such_entity(err)) {
            stsrole_error_clear(err);
            rc = STSROLE_OK;
        }
    }
    stsrole_buf_free(&form);
    return rc;
}

int
stsrole_iam_list_role_policies(struct stsrole_aws_client *c, const char *role, char ***names,
                               struct stsrole_error *err)
{
    struct stsrole_buf form;
    struct stsrole_http_response resp;
    char **all = NULL, **page, *marker = NULL, *next;
    size_t n = 0, i, k;
    int rc = STSROLE_OK, pages;

    *names = NULL;
    stsrole_buf_init(&form, 0);
    for (pages = 0; pages < 10; pages++) {
        if ((rc = stsrole_iam_list_role_policies_body(role, marker, &form, err)) != STSROLE_OK)
            break;
        rc = call(c, &form, &resp, NULL, err);
        if (rc == STSROLE_OK)
            rc = stsrole_iam_parse_list_role_policies(resp.content_type, resp.body.data,
                                                      resp.body.len, &page, &next, err);
        stsrole_http_response_free(&resp);
        if (rc != STSROLE_OK)
            break;
        for (k = 0; page[k] != NULL; k++)
            ;
        {
            char **nv = realloc(all, (n + k + 1) * sizeof(*nv));

            if (nv == NULL) {
                stsrole_strv_free(page);
                free(next);
                rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory listing policies");
                break;
            }
            all = nv;
        }
        for (i = 0; i < k; i++)
            all[n++] = page[i];
        all[n] = NULL;
        free(page);
        free(marker);
        marker = next;
        if (marker == NULL)
            break;
    }
    free(marker);
    stsrole_buf_free(&form);
    if (rc != STSROLE_OK) {
        stsrole_strv_free(all);
        return rc;
    }
    if (all == NULL && (all = calloc(1, sizeof(*all))) == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory listing policies");
    *names = all;
    return STSROLE_OK;
}
