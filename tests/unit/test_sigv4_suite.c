/* SPDX-License-Identifier: BSD-3-Clause */
/* test_sigv4_suite.c: runs AWS's official SigV4 test vectors (aws-c-auth suite), stage by stage. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "hash.h"
#include "sigv4.h"

#define DEFAULT_SUITE SRCDIR "/../../shared/testdata/aws-sigv4-suite"
#define MAX_CASES 512
#define MAX_HEADERS 64
#define MAX_FILE (1024 * 1024)
#define EXIT_SKIP 77

struct parsed_request {
    char *method;
    char *path;
    char *query;
    struct stsrole_header headers[MAX_HEADERS + 1]; /* +1 for x-amz-content-sha256 */
    char *values[MAX_HEADERS];                      /* owned, continuation lines joined */
    size_t n_headers;
    const char *body;
    size_t body_len;
    char *text; /* the file, cut up in place */
};

struct context {
    char *access_key_id;
    char *secret_access_key;
    char *token;
    char *region;
    char *service;
    int64_t now;
    int normalize;
    int sign_body;
    int omit_session_token;
};

struct suite_case {
    const char *dir;
    const char *name;
    int checks;
};

static char *
read_text(const char *dir, const char *file, size_t *len)
{
    char path[4096];
    FILE *f;
    char *buf;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    buf = malloc(MAX_FILE + 1);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }
    n = fread(buf, 1, MAX_FILE, f);
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

/* Prints both sides in full so `diff` on the two blocks shows the change. */
static int
check(struct suite_case *c, const char *stage, const char *expected, const char *actual)
{
    if (expected == NULL) {
        printf("FAIL %s: %s: expected file missing\n", c->name, stage);
        return 0;
    }
    if (actual != NULL && strcmp(expected, actual) == 0) {
        c->checks++;
        return 1;
    }
    printf("FAIL %s: stage %s differs\n--- expected\n%s\n+++ actual\n%s\n=== end %s %s\n", c->name,
           stage, expected, actual != NULL ? actual : "(none)", c->name, stage);
    return 0;
}

static int
check_file(struct suite_case *c, const char *stage, const char *file, const char *actual)
{
    char *expected = read_text(c->dir, file, NULL);
    int ok = check(c, stage, expected, actual);

    free(expected);
    return ok;
}

static void
request_free(struct parsed_request *r)
{
    size_t i;

    for (i = 0; i < r->n_headers && i < MAX_HEADERS; i++)
        free(r->values[i]);
    free(r->text);
    memset(r, 0, sizeof(*r));
}

static int
append_line(char **value, const char *line)
{
    size_t a = strlen(*value), b = strlen(line);
    char *n = realloc(*value, a + b + 2);

    if (n == NULL)
        return 0;
    n[a] = '\n';
    memcpy(n + a + 1, line, b + 1);
    *value = n;
    return 1;
}

/*
 * request.txt: "METHOD target HTTP/1.1", header lines ("Name:value", a
 * line starting with a blank continues the previous value), an optional
 * empty line and the body.  The target may hold spaces (get-space-*).
 */
static int
parse_request(const char *dir, struct parsed_request *r)
{
    char *p, *line, *eol, *sp, *q;
    size_t len;

    memset(r, 0, sizeof(*r));
    r->text = read_text(dir, "request.txt", &len);
    if (r->text == NULL)
        return 0;
    p = r->text;
    eol = strchr(p, '\n');
    if (eol == NULL)
        eol = p + strlen(p);
    if (*eol == '\n')
        *eol++ = '\0';
    else
        eol = p + strlen(p);
    line = p;
    p = eol;
    len = strlen(line);
    if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';
    sp = strchr(line, ' ');
    q = strrchr(line, ' ');
    if (sp == NULL || q == NULL || q == sp)
        return 0;
    *sp = '\0';
    *q = '\0';
    r->method = line;
    r->path = sp + 1;
    q = strchr(r->path, '?');
    if (q != NULL) {
        *q = '\0';
        r->query = q + 1;
    }
    while (*p != '\0') {
        char *colon;

        line = p;
        eol = strchr(p, '\n');
        if (eol != NULL) {
            *eol = '\0';
            p = eol + 1;
        } else {
            p = line + strlen(line);
        }
        len = strlen(line);
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        if (len == 0)
            break;
        if (line[0] == ' ' || line[0] == '\t') {
            if (r->n_headers == 0 || !append_line(&r->values[r->n_headers - 1], line))
                return 0;
            continue;
        }
        colon = strchr(line, ':');
        if (colon == NULL || r->n_headers == MAX_HEADERS)
            return 0;
        *colon = '\0';
        r->values[r->n_headers] = strdup(colon + 1);
        if (r->values[r->n_headers] == NULL)
            return 0;
        r->headers[r->n_headers].name = line;
        r->n_headers++;
    }
    r->body = p;
    r->body_len = strlen(p);
    return 1;
}

static char *
json_string(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(it) ? strdup(it->valuestring) : NULL;
}

static int
json_bool(const cJSON *obj, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

static void
context_free(struct context *c)
{
    free(c->access_key_id);
    free(c->secret_access_key);
    free(c->token);
    free(c->region);
    free(c->service);
    memset(c, 0, sizeof(*c));
}

/* context.json: credentials{access_key_id, secret_access_key, token?},
 * region, service, timestamp, normalize, expiration_in_seconds, sign_body,
 * omit_session_token? */
static int
parse_context(const char *dir, struct context *c)
{
    char *text = read_text(dir, "context.json", NULL);
    cJSON *root, *creds;
    char *ts = NULL;
    int ok = 0;

    memset(c, 0, sizeof(*c));
    if (text == NULL)
        return 0;
    root = cJSON_Parse(text);
    free(text);
    if (root == NULL)
        return 0;
    creds = cJSON_GetObjectItemCaseSensitive(root, "credentials");
    c->access_key_id = json_string(creds, "access_key_id");
    c->secret_access_key = json_string(creds, "secret_access_key");
    c->token = json_string(creds, "token");
    c->region = json_string(root, "region");
    c->service = json_string(root, "service");
    ts = json_string(root, "timestamp");
    c->normalize = json_bool(root, "normalize");
    c->sign_body = json_bool(root, "sign_body");
    c->omit_session_token = json_bool(root, "omit_session_token");
    ok = c->access_key_id != NULL && c->secret_access_key != NULL && c->region != NULL &&
         c->service != NULL && ts != NULL && stsrole_parse_iso8601(ts, &c->now) == 0;
    free(ts);
    cJSON_Delete(root);
    return ok;
}

/* The value of the first "Name:" line of a signed-request file. */
static char *
header_line(const char *dir, const char *file, const char *name)
{
    char *text = read_text(dir, file, NULL), *p, *eol, *v = NULL;
    size_t n = strlen(name);

    if (text == NULL)
        return NULL;
    for (p = text; p != NULL && *p != '\0'; p = eol != NULL ? eol + 1 : NULL) {
        eol = strchr(p, '\n');
        if (eol != NULL)
            *eol = '\0';
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            v = strdup(p + n + 1);
            break;
        }
    }
    free(text);
    return v;
}

static int
run_case(struct suite_case *c)
{
    struct parsed_request r;
    struct context ctx;
    struct stsrole_sigv4_request req;
    struct stsrole_sigv4_params p;
    struct stsrole_sigv4_signed s;
    struct stsrole_buf canon, sts, signed_hdrs;
    struct stsrole_error err;
    unsigned char key[32];
    char sig[65], body_hash[65], *want;
    size_t i;
    int ok = 1, rc;

    memset(&ctx, 0, sizeof(ctx));
    if (!parse_request(c->dir, &r) || !parse_context(c->dir, &ctx)) {
        printf("FAIL %s: cannot parse request.txt or context.json\n", c->name);
        request_free(&r);
        context_free(&ctx);
        return 0;
    }
    for (i = 0; i < r.n_headers; i++)
        r.headers[i].value = r.values[i];
    stsrole_buf_init(&canon, 0);
    stsrole_buf_init(&sts, 0);
    stsrole_buf_init(&signed_hdrs, 0);
    stsrole_error_clear(&err);
    memset(&s, 0, sizeof(s));

    memset(&req, 0, sizeof(req));
    req.method = r.method;
    req.path = r.path;
    req.query = r.query;
    req.headers = r.headers;
    req.n_headers = r.n_headers;
    req.payload = r.body;
    req.payload_len = r.body_len;

    memset(&p, 0, sizeof(p));
    p.region = ctx.region;
    p.service = ctx.service;
    p.access_key_id = ctx.access_key_id;
    p.secret_access_key = ctx.secret_access_key;
    /* omit_session_token: the token is sent but added after signing, unsigned. */
    p.session_token = ctx.omit_session_token ? NULL : ctx.token;
    p.now = ctx.now;
    p.normalize_path = ctx.normalize;

    /* Header signing.  sign_body: the caller sends x-amz-content-sha256,
     * which the signer then signs like any other header. */
    if (ctx.sign_body) {
        stsrole_sha256_hex(r.body, r.body_len, body_hash);
        r.headers[r.n_headers].name = "X-Amz-Content-Sha256";
        r.headers[r.n_headers].value = body_hash;
        req.n_headers = r.n_headers + 1;
    }
    rc = stsrole_sigv4_canonical_request(&req, &p, &canon, &signed_hdrs, &err);
    if (rc != STSROLE_OK)
        printf("FAIL %s: header canonical request: %s\n", c->name, err.msg);
    ok &= check_file(c, "header-canonical-request", "header-canonical-request.txt",
                     rc == STSROLE_OK ? canon.data : NULL);
    rc = stsrole_sigv4_string_to_sign(&p, canon.data != NULL ? canon.data : "", &sts, &err);
    ok &= check_file(c, "header-string-to-sign", "header-string-to-sign.txt",
                     rc == STSROLE_OK ? sts.data : NULL);
    rc = stsrole_sigv4_signing_key(&p, key, &err);
    if (rc == STSROLE_OK)
        rc = stsrole_sigv4_signature(key, sts.data != NULL ? sts.data : "", sig, &err);
    ok &= check_file(c, "header-signature", "header-signature.txt", rc == STSROLE_OK ? sig : NULL);
    rc = stsrole_sigv4_sign_headers(&req, &p, &s, &err);
    want = header_line(c->dir, "header-signed-request.txt", "Authorization");
    ok &= check(c, "header-authorization", want, rc == STSROLE_OK ? s.authorization : NULL);
    free(want);
    want = header_line(c->dir, "header-signed-request.txt", "X-Amz-Date");
    ok &= check(c, "header-x-amz-date", want, rc == STSROLE_OK ? s.amz_date : NULL);
    free(want);
    stsrole_sigv4_signed_free(&s);

    stsrole_wipe(key, sizeof(key));

    stsrole_buf_free(&canon);
    stsrole_buf_free(&sts);
    stsrole_buf_free(&signed_hdrs);
    request_free(&r);
    context_free(&ctx);
    return ok;
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(void)
{
    const char *root = getenv("SIGV4_SUITE");
    char *names[MAX_CASES];
    size_t n = 0, i, passed = 0;
    int checks = 0;
    struct dirent *de;
    DIR *d;

    if (root == NULL || root[0] == '\0')
        root = DEFAULT_SUITE;
    d = opendir(root);
    if (d == NULL) {
        printf("skipped: AWS SigV4 suite not found at %s (a plain clone has no ../shared)\n", root);
        return EXIT_SKIP;
    }
    while ((de = readdir(d)) != NULL && n < MAX_CASES) {
        char path[4096];
        struct stat st;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s/request.txt", root, de->d_name);
        if (stat(path, &st) != 0)
            continue;
        names[n] = strdup(de->d_name);
        if (names[n] == NULL)
            break;
        n++;
    }
    closedir(d);
    if (n == 0) {
        printf("FAIL: no test cases under %s\n", root);
        return 1;
    }
    qsort(names, n, sizeof(names[0]), cmp_name);
    for (i = 0; i < n; i++) {
        char dir[4096];
        struct suite_case c;

        snprintf(dir, sizeof(dir), "%s/%s", root, names[i]);
        c.dir = dir;
        c.name = names[i];
        c.checks = 0;
        if (run_case(&c)) {
            passed++;
            printf("pass %s (%d stages)\n", names[i], c.checks);
        }
        checks += c.checks;
        free(names[i]);
    }
    printf("sigv4 suite: %zu/%zu cases passed, %d stage checks, from %s\n", passed, n, checks,
           root);
    return passed == n ? 0 : 1;
}
