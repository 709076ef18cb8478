/* SPDX-License-Identifier: BSD-3-Clause */
/* creds.c: base credentials from the environment, a shared-credentials file, or IMDSv2. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "creds.h"
#include "json.h"
#include "safefile.h"

#define CREDS_FILE_MAX (64 * 1024)
#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_TOKEN_TTL "21600"

void
stsrole_creds_clear(struct stsrole_creds *c)
{
    if (c == NULL)
        return;
    stsrole_free_secret(c->access_key_id);
    stsrole_free_secret(c->secret_access_key);
    stsrole_free_secret(c->session_token);
    memset(c, 0, sizeof(*c));
}

int
stsrole_creds_copy(struct stsrole_creds *dst, const struct stsrole_creds *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->access_key_id = stsrole_strdup(src->access_key_id);
    dst->secret_access_key = stsrole_strdup(src->secret_access_key);
    dst->session_token = stsrole_strdup(src->session_token);
    dst->expiration = src->expiration;
    if (dst->access_key_id == NULL || dst->secret_access_key == NULL ||
        (src->session_token != NULL && dst->session_token == NULL)) {
        stsrole_creds_clear(dst);
        return STSROLE_E_NOMEM;
    }
    return STSROLE_OK;
}

/* An access key id is 16-128 characters of [A-Z0-9] (AWS's AccessKeyId
 * type); anything else is a typo or garbage, not something to sign with. */
static int
valid_key_id(const char *s)
{
    size_t n = strlen(s), i;

    if (n < 16 || n > 128)
        return 0;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]))
            return 0;
    return 1;
}

static int
valid_secret(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > 4096)
        return 0;
    for (i = 0; i < n; i++)
        if (!isgraph((unsigned char)s[i]))
            return 0;
    return 1;
}

static int
check_creds(struct stsrole_creds *c, const char *where, struct stsrole_error *err)
{
    if (c->access_key_id == NULL || c->secret_access_key == NULL) {
        stsrole_creds_clear(c);
        return stsrole_fail(err, STSROLE_E_NOTFOUND, "%s: no access key id and secret", where);
    }
    if (!valid_key_id(c->access_key_id)) {
        stsrole_creds_clear(c);
        return stsrole_fail(err, STSROLE_E_INVALID, "%s: malformed access key id", where);
    }
    if (!valid_secret(c->secret_access_key) ||
        (c->session_token != NULL && !valid_secret(c->session_token))) {
        stsrole_creds_clear(c);
        return stsrole_fail(err, STSROLE_E_INVALID, "%s: malformed secret key or session token",
                            where);
    }
    return STSROLE_OK;
}

int
stsrole_creds_from_env(struct stsrole_creds *out, struct stsrole_error *err)
{
    const char *token = getenv("AWS_SESSION_TOKEN");

    memset(out, 0, sizeof(*out));
    out->access_key_id = stsrole_strdup(getenv("AWS_ACCESS_KEY_ID"));
    out->secret_access_key = stsrole_strdup(getenv("AWS_SECRET_ACCESS_KEY"));
    if (token != NULL && *token != '\0')
        out->session_token = stsrole_strdup(token);
    return check_creds(out, "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)", err);
}

static int
replace_secret(char **slot, const char *value, size_t len)
{
    stsrole_free_secret(*slot);
    *slot = strndup(value, len);
    return *slot != NULL;
}

static const char *
trim(const char *s, const char *end, const char **tail)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    *tail = end;
    return s;
}

/*
 * The shared-credentials format is INI, but not through inih: Debian's
 * libinih is built with INI_MAX_LINE 200, and session tokens are several
 * hundred characters long.  The format is small: [profile] lines,
 * "key = value" lines, and '#' or ';' comment lines.
 */
int
stsrole_creds_parse_shared(const char *text, const char *profile, struct stsrole_creds *out,
                           struct stsrole_error *err)
{
    const char *want = profile != NULL ? profile : "default";
    const char *line = text, *nl, *b, *e, *eq, *k, *ke, *v, *ve;
    int lineno = 0, in = 0, found = 0, ok = 1;

    memset(out, 0, sizeof(*out));
    for (; ok && *line != '\0'; line = *nl != '\0' ? nl + 1 : nl) {
        nl = line + strcspn(line, "\n");
        lineno++;
        b = trim(line, nl, &e);
        if (b == e || *b == '#' || *b == ';')
            continue;
        if (*b == '[') {
            if (e[-1] != ']' || e - b < 3) {
                stsrole_creds_clear(out);
                return stsrole_fail(err, STSROLE_E_INVALID,
                                    "credentials file line %d: malformed [profile]", lineno);
            }
            k = trim(b + 1, e - 1, &ke);
            in = (size_t)(ke - k) == strlen(want) && strncmp(k, want, (size_t)(ke - k)) == 0;
            found |= in;
            continue;
        }
        eq = memchr(b, '=', (size_t)(e - b));
        if (eq == NULL) {
            stsrole_creds_clear(out);
            return stsrole_fail(err, STSROLE_E_INVALID,
                                "credentials file line %d: syntax error (expected key = value)",
                                lineno);
        }
        if (!in)
            continue;
        k = trim(b, eq, &ke);
        v = trim(eq + 1, e, &ve);
#define KEY_IS(name)                                                                               \
    ((size_t)(ke - k) == sizeof(name) - 1 && strncmp(k, name, sizeof(name) - 1) == 0)
        if (KEY_IS("aws_access_key_id"))
            ok = replace_secret(&out->access_key_id, v, (size_t)(ve - v));
        else if (KEY_IS("aws_secret_access_key"))
            ok = replace_secret(&out->secret_access_key, v, (size_t)(ve - v));
        else if (KEY_IS("aws_session_token"))
            ok = replace_secret(&out->session_token, v, (size_t)(ve - v));
#undef KEY_IS
    }
    if (!ok) {
        stsrole_creds_clear(out);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory parsing credentials");
    }
    if (!found)
        return stsrole_fail(err, STSROLE_E_NOTFOUND, "credentials file: no profile [%s]", want);
    return check_creds(out, "credentials file", err);
}

int
stsrole_creds_from_file(const char *path, const char *profile, struct stsrole_creds *out,
                        struct stsrole_error *err)
{
    struct stsrole_buf text;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = stsrole_read_safely(path, getuid(), STSROLE_SAFE_SECRET, CREDS_FILE_MAX, &text, err);
    if (rc != STSROLE_OK)
        return rc;
    rc = stsrole_creds_parse_shared(text.data, profile, out, err);
    stsrole_buf_free(&text);
    if (rc != STSROLE_OK) {
        /* prefix the path so the one line says where */
        char msg[STSROLE_ERRMSG_MAX];
        snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
        return stsrole_fail(err, rc, "%s: %s", path, msg);
    }
    return STSROLE_OK;
}

static const char *
json_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
stsrole_creds_parse_imds(const char *json, size_t len, struct stsrole_creds *out,
                         struct stsrole_error *err)
{
    cJSON *doc;
    const char *code, *exp;
    int64_t when;
    int rc;

    memset(out, 0, sizeof(*out));
    doc = cJSON_ParseWithLength(json, len);
    if (doc == NULL || !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "IMDS: credentials are not a JSON object");
    }
    code = json_str(doc, "Code");
    if (code == NULL || strcmp(code, "Success") != 0) {
        cJSON_Delete(doc);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "IMDS: credentials Code is not Success");
    }
    exp = json_str(doc, "Expiration");
    if (exp == NULL || stsrole_parse_iso8601(exp, &when) != 0) {
        cJSON_Delete(doc);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "IMDS: missing or malformed Expiration");
    }
    out->access_key_id = stsrole_strdup(json_str(doc, "AccessKeyId"));
    out->secret_access_key = stsrole_strdup(json_str(doc, "SecretAccessKey"));
    out->session_token = stsrole_strdup(json_str(doc, "Token"));
    out->expiration = when;
    /* cJSON keeps its own copies of the secrets. */
    stsrole_json_delete_wiped(doc);
    if (out->session_token == NULL) {
        stsrole_creds_clear(out);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "IMDS: credentials without a Token");
    }
    rc = check_creds(out, "IMDS", err);
    if (rc == STSROLE_E_NOTFOUND || rc == STSROLE_E_INVALID) {
        /* From IMDS a missing or malformed key is a malformed answer. */
        if (err != NULL)
            err->status = STSROLE_E_PROTOCOL;
        return STSROLE_E_PROTOCOL;
    }
    return rc;
}

static int
imds_call(const struct stsrole_http_config *http, const char *method, const char *url,
          const struct stsrole_header *h, struct stsrole_http_response *resp,
          struct stsrole_error *err)
{
    struct stsrole_http_request req = {method, url, h, 1, NULL, 0};
    int rc = stsrole_http_perform(http, &req, resp, err);

    if (rc != STSROLE_OK)
        return rc;
    if (resp->status != 200) {
        long st = resp->status;
        stsrole_http_response_free(resp);
        return stsrole_fail(err, st >= 500 ? STSROLE_E_SERVER : STSROLE_E_DENIED,
                            "IMDS: %s %s answered HTTP %ld", method, url, st);
    }
    return STSROLE_OK;
}

/* IMDSv2: a PUT with a TTL yields a session token for the GETs, into
 * token (a buffer that is wiped when freed). */
static int
imds_token(const struct stsrole_http_config *cfg, const char *endpoint, struct stsrole_buf *token,
           struct stsrole_error *err)
{
    struct stsrole_http_response resp;
    struct stsrole_header h;
    struct stsrole_buf url;
    size_t n;
    int rc;

    stsrole_buf_init(&url, 0);
    if (stsrole_buf_printf(&url, "%s/latest/api/token", endpoint) != STSROLE_OK) {
        stsrole_buf_free(&url);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    h.name = "X-aws-ec2-metadata-token-ttl-seconds";
    h.value = IMDS_TOKEN_TTL;
    rc = imds_call(cfg, "PUT", url.data, &h, &resp, err);
    stsrole_buf_free(&url);
    if (rc != STSROLE_OK)
        return rc;
    n = resp.body.len;
    if (n == 0 || n > 1024 || stsrole_buf_append(token, resp.body.data, n) != STSROLE_OK ||
        strpbrk(token->data, "\r\n") != NULL)
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "IMDS: malformed session token");
    stsrole_http_response_free(&resp);
    return rc;
}

/* The start of every IMDS conversation: cfg from http (short timeout, no
 * proxy), an IMDSv2 token into token, and h the header that carries it. */
static int
imds_session(const struct stsrole_http_config *http, const char *endpoint,
             struct stsrole_http_config *cfg, struct stsrole_buf *token, struct stsrole_header *h,
             struct stsrole_error *err)
{
    int rc;

    *cfg = *http;
    /* IMDS is link-local and answers within milliseconds; never wait long. */
    if (cfg->timeout_ms == 0 || cfg->timeout_ms > 5000)
        cfg->timeout_ms = 5000;
    cfg->max_response = 64 * 1024;
    cfg->proxy = NULL;
    h->name = "X-aws-ec2-metadata-token";
    h->value = "";
    rc = imds_token(cfg, endpoint, token, err);
    if (rc == STSROLE_OK)
        h->value = token->data;
    return rc;
}

int
stsrole_imds_instance_id(const struct stsrole_http_config *http, const char *endpoint,
                         char out[STSROLE_INSTANCE_ID_MAX + 1], struct stsrole_error *err)
{
    struct stsrole_http_config cfg;
    struct stsrole_http_response resp;
    struct stsrole_header h;
    struct stsrole_buf url, token;
    size_t n;
    int rc;

    out[0] = '\0';
    if (endpoint == NULL)
        endpoint = IMDS_DEFAULT;
    stsrole_buf_init(&url, 0);
    stsrole_buf_init(&token, 4096);
    if ((rc = imds_session(http, endpoint, &cfg, &token, &h, err)) != STSROLE_OK)
        goto out;
    if (stsrole_buf_printf(&url, "%s/latest/meta-data/instance-id", endpoint) != STSROLE_OK) {
        rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = imds_call(&cfg, "GET", url.data, &h, &resp, err)) != STSROLE_OK)
        goto out;
    /* "i-" and 8 or 17 hex digits (EC2's instance id) */
    n = resp.body.len;
    if (n < 10 || n > STSROLE_INSTANCE_ID_MAX || strncmp(resp.body.data, "i-", 2) != 0 ||
        strspn(resp.body.data + 2, "0123456789abcdef") != n - 2) {
        stsrole_http_response_free(&resp);
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "IMDS: malformed instance id");
        goto out;
    }
    memcpy(out, resp.body.data, n);
    out[n] = '\0';
    stsrole_http_response_free(&resp);
out:
    stsrole_buf_free(&token);
    stsrole_buf_free(&url);
    return rc;
}

int
stsrole_creds_from_imds(const struct stsrole_http_config *http, const char *endpoint,
                        struct stsrole_creds *out, struct stsrole_error *err)
{
    static const char path[] = "/latest/meta-data/iam/security-credentials/";
    struct stsrole_http_config cfg;
    struct stsrole_http_response resp;
    struct stsrole_header h;
    struct stsrole_buf url, token;
    size_t n;
    int rc;

    memset(out, 0, sizeof(*out));
    if (endpoint == NULL)
        endpoint = IMDS_DEFAULT;
    stsrole_buf_init(&url, 0);
    stsrole_buf_init(&token, 4096);
    if ((rc = imds_session(http, endpoint, &cfg, &token, &h, err)) != STSROLE_OK)
        goto out;
    if (stsrole_buf_printf(&url, "%s%s", endpoint, path) != STSROLE_OK) {
        rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
        goto out;
    }
    rc = imds_call(&cfg, "GET", url.data, &h, &resp, err);
    if (rc != STSROLE_OK)
        goto out;
    /* The listing holds one role name per line; take the first. */
    n = strcspn(resp.body.data ? resp.body.data : "", "\r\n");
    if (n == 0 || n > 64 ||
        strspn(resp.body.data,
               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+=,.@_-") < n) {
        stsrole_http_response_free(&resp);
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "IMDS: no instance-profile role name");
        goto out;
    }
    stsrole_buf_append(&url, resp.body.data, n);
    stsrole_http_response_free(&resp);
    rc = imds_call(&cfg, "GET", url.data, &h, &resp, err);
    if (rc != STSROLE_OK)
        goto out;
    rc = stsrole_creds_parse_imds(resp.body.data, resp.body.len, out, err);
    stsrole_http_response_free(&resp);
out:
    stsrole_buf_free(&url);
    stsrole_buf_free(&token);
    return rc;
}

static int64_t
wall_now(void)
{
    return (int64_t)time(NULL);
}

int
stsrole_creds_provider_get(struct stsrole_creds_provider *p, int64_t now,
                           const struct stsrole_creds **out, struct stsrole_error *err)
{
    struct stsrole_creds fresh;
    int rc;

    if (now == 0)
        now = wall_now();
    if (p->cached.access_key_id != NULL &&
        (p->cached.expiration == 0 || p->cached.expiration - STSROLE_CREDS_REFRESH_MARGIN > now)) {
        *out = &p->cached;
        return STSROLE_OK;
    }
    switch (p->kind) {
    case STSROLE_CREDS_ENV:
        rc = stsrole_creds_from_env(&fresh, err);
        break;
    case STSROLE_CREDS_FILE:
        rc = stsrole_creds_from_file(p->path, p->profile, &fresh, err);
        break;
    case STSROLE_CREDS_IMDS:
        rc = stsrole_creds_from_imds(p->http, p->imds_endpoint, &fresh, err);
        break;
    default:
        rc = stsrole_fail(err, STSROLE_E_CONFIG, "unknown credential source");
    }
    if (rc != STSROLE_OK)
        return rc;
    if (fresh.expiration != 0 && fresh.expiration <= now) {
        stsrole_creds_clear(&fresh);
        return stsrole_fail(err, STSROLE_E_EXPIRED, "base credentials already expired");
    }
    stsrole_creds_clear(&p->cached);
    p->cached = fresh;
    *out = &p->cached;
    return STSROLE_OK;
}

void
stsrole_creds_provider_free(struct stsrole_creds_provider *p)
{
    if (p == NULL)
        return;
    stsrole_creds_clear(&p->cached);
    free(p->path);
    free(p->profile);
    free(p->imds_endpoint);
    p->path = p->profile = p->imds_endpoint = NULL;
}
