/* SPDX-License-Identifier: BSD-3-Clause */
/* http.c: one bounded HTTP exchange over libcurl, with TLS always verified and no ambient proxy. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"

#define DEFAULT_CONNECT_MS 3000L
#define DEFAULT_TIMEOUT_MS 10000L

/* Splits "scheme://host[:port]/..." and returns the host (brackets removed
 * for IPv6) in host[hostlen]. */
static int
url_host(const char *url, const char **rest, char *host, size_t hostlen)
{
    const char *p = strstr(url, "://"), *end;
    size_t n;

    if (p == NULL)
        return -1;
    p += 3;
    if (strpbrk(url, " \t\r\n") != NULL)
        return -1;
    /* userinfo is never legitimate in an endpoint and can disguise the host */
    end = p + strcspn(p, "/?#");
    if (memchr(p, '@', (size_t)(end - p)) != NULL)
        return -1;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (close == NULL)
            return -1;
        n = (size_t)(close - p - 1);
        p++;
    } else {
        n = strcspn(p, ":/?#");
    }
    if (n == 0 || n >= hostlen)
        return -1;
    memcpy(host, p, n);
    host[n] = '\0';
    *rest = end;
    return 0;
}

/* Loopback: a local stand-in (tests, a local proxy to AWS). */
static int
host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (strcasecmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* The two fixed addresses of EC2's instance metadata service, which is
 * plain HTTP by design and reachable only from the instance itself
 * (169.254.169.254, fd00:ec2::254). */
static int
host_is_imds(const char *host)
{
    static const unsigned char imds6[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0,    0,
                                            0,    0,    0,    0,    0, 0, 0x02, 0x54};
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, host, &a4) == 1)
        return ntohl(a4.s_addr) == 0xa9fea9feU;
    return inet_pton(AF_INET6, host, &a6) == 1 && memcmp(&a6, imds6, 16) == 0;
}

static int
url_check(const char *url, int allow_imds, struct stsrole_error *err)
{
    char host[256];
    const char *rest;

    if (url == NULL || *url == '\0')
        return stsrole_fail(err, STSROLE_E_INVALID, "empty URL");
    if (url_host(url, &rest, host, sizeof(host)) != 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "malformed URL '%.200s'", url);
    if (strncasecmp(url, "https://", 8) == 0)
        return STSROLE_OK;
    if (strncasecmp(url, "http://", 7) == 0) {
        /* Plain HTTP would expose signed requests and returned credentials
         * to the network; it is only for local stand-ins and, for
         * imds_endpoint alone, IMDS. */
        if (host_is_loopback(host) || (allow_imds && host_is_imds(host)))
            return STSROLE_OK;
        return stsrole_fail(err, STSROLE_E_INVALID,
                            "'%.200s': http:// is allowed only to loopback%s; use https://", url,
                            allow_imds ? " and the IMDS addresses" : "");
    }
    return stsrole_fail(err, STSROLE_E_INVALID, "'%.200s': only https:// URLs are allowed", url);
}

int
stsrole_url_check(const char *url, struct stsrole_error *err)
{
    return url_check(url, 0, err);
}

int
stsrole_url_check_imds(const char *url, struct stsrole_error *err)
{
    return url_check(url, 1, err);
}

/*
 * Variables that libcurl or OpenSSL read from the environment and that
 * would weaken or expose TLS, cleared before the first handshake (a
 * process run through sudo, or a service with a tampered environment,
 * must not get them):
 * - SSLKEYLOGFILE: Debian's libcurl writes every TLS session key there.
 * - OPENSSL_CONF: an OpenSSL config file can load engines and providers
 *   and change verification defaults.
 * - OPENSSL_ENGINES, OPENSSL_MODULES: where OpenSSL loads engines and
 *   providers from.
 * - SSL_CERT_FILE, SSL_CERT_DIR: OpenSSL's default trust anchors; ours
 *   are the system's, or ca_file, set explicitly.
 * - CURL_CA_BUNDLE: read by the curl tool, not libcurl, but cleared so
 *   that no future libcurl default picks it up.
 * The proxy variables (http_proxy, ALL_PROXY, ...) need no clearing:
 * every request sets CURLOPT_PROXY and CURLOPT_NOPROXY itself.
 */
static const char *const tls_env[] = {
    "SSLKEYLOGFILE", "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE",
};

int
stsrole_http_global_init(struct stsrole_error *err)
{
    size_t i;

    for (i = 0; i < sizeof(tls_env) / sizeof(tls_env[0]); i++)
        if (unsetenv(tls_env[i]) != 0)
            return stsrole_fail(err, STSROLE_E_IO, "cannot clear %s", tls_env[i]);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return stsrole_fail(err, STSROLE_E_NOMEM, "curl_global_init failed");
    return STSROLE_OK;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct stsrole_http_response *resp = userp;
    size_t n = size * nmemb;

    if (stsrole_buf_append(&resp->body, data, n) != STSROLE_OK)
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    return n;
}

static void
copy_header_value(char *dst, size_t dstlen, const char *v, size_t n)
{
    size_t i, j = 0;

    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    for (i = 0; i < n && j + 1 < dstlen; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '\r' || c == '\n')
            break;
        if (isprint(c))
            dst[j++] = (char)c;
    }
    dst[j] = '\0';
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct stsrole_http_response *resp = userp;
    size_t n = size * nmemb;
    static const struct {
        const char *name;
        size_t off, len;
    } wanted[] = {
        {"content-type:", offsetof(struct stsrole_http_response, content_type),
         sizeof(((struct stsrole_http_response *)0)->content_type)},
        {"x-amzn-requestid:", offsetof(struct stsrole_http_response, request_id),
         sizeof(((struct stsrole_http_response *)0)->request_id)},
        {"x-amz-request-id:", offsetof(struct stsrole_http_response, request_id),
         sizeof(((struct stsrole_http_response *)0)->request_id)},
    };
    size_t i;

    for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
        size_t k = strlen(wanted[i].name);
        if (n > k && strncasecmp(data, wanted[i].name, k) == 0)
            copy_header_value((char *)resp + wanted[i].off, wanted[i].len, data + k, n - k);
    }
    /* The server's clock (RFC 9110 HTTP-date), for correcting a skewed
     * local clock the way the AWS SDKs do. */
    if (n > 5 && strncasecmp(data, "date:", 5) == 0) {
        char v[64];
        time_t t;

        copy_header_value(v, sizeof(v), data + 5, n - 5);
        t = curl_getdate(v, NULL);
        resp->date = t > 0 ? (int64_t)t : 0;
    }
    return n;
}

/* The list holds the signed headers, including X-Amz-Security-Token. */
static void
slist_free_wiped(struct curl_slist *l)
{
    struct curl_slist *p;

    for (p = l; p != NULL; p = p->next)
        stsrole_wipe(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

static int
network_error(struct stsrole_error *err, CURLcode rc, const char *errbuf, const char *url)
{
    enum stsrole_status st = STSROLE_E_NETWORK;

    /* A body shorter than its Content-Length is a malformed answer, not
     * a transport failure to retry (CURLE_PARTIAL_FILE). */
    if (rc == CURLE_WRITE_ERROR || rc == CURLE_FILESIZE_EXCEEDED || rc == CURLE_PARTIAL_FILE)
        st = STSROLE_E_PROTOCOL;
    return stsrole_fail(err, st, "%s: %s%s%s", url, curl_easy_strerror(rc), errbuf[0] ? ": " : "",
                        errbuf);
}

int
stsrole_http_perform(const struct stsrole_http_config *cfg, const struct stsrole_http_request *req,
                     struct stsrole_http_response *resp, struct stsrole_error *err)
{
    CURL *h;
    struct curl_slist *hdrs = NULL, *tmp;
    struct stsrole_buf line;
    char errbuf[CURL_ERROR_SIZE];
    CURLcode rc;
    size_t i, max;
    int status;

    memset(resp, 0, sizeof(*resp));
    max = cfg->max_response ? cfg->max_response : STSROLE_HTTP_MAX_RESPONSE;
    stsrole_buf_init(&resp->body, max);
    /* Any request, IMDS's included; endpoints are checked more narrowly
     * where they are configured (conf.c) and used (aws.c). */
    status = stsrole_url_check_imds(req->url, err);
    if (status != STSROLE_OK)
        return status;
    h = curl_easy_init();
    if (h == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "curl_easy_init failed");

    stsrole_buf_init(&line, 0);
    /* Suppress curl's defaults that AWS does not want signed or sent. */
    hdrs = curl_slist_append(NULL, "Expect:");
    for (i = 0; hdrs != NULL && i < req->n_headers; i++) {
        stsrole_buf_reset(&line);
        if (strpbrk(req->headers[i].name, "\r\n:") != NULL ||
            strpbrk(req->headers[i].value, "\r\n") != NULL) {
            slist_free_wiped(hdrs);
            stsrole_buf_free(&line);
            curl_easy_cleanup(h);
            return stsrole_fail(err, STSROLE_E_INVALID, "header '%.64s' has a line break",
                                req->headers[i].name);
        }
        if (stsrole_buf_printf(&line, "%s: %s", req->headers[i].name, req->headers[i].value) !=
            STSROLE_OK)
            break;
        tmp = curl_slist_append(hdrs, line.data);
        if (tmp == NULL) {
            slist_free_wiped(hdrs);
            hdrs = NULL;
            break;
        }
        hdrs = tmp;
    }
    stsrole_buf_free(&line); /* may have held a session token */
    if (hdrs == NULL || i < req->n_headers) {
        slist_free_wiped(hdrs);
        curl_easy_cleanup(h);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory building headers");
    }

    errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (cfg->ca_file != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
    /* An explicit proxy setting overrides http_proxy/https_proxy/ALL_PROXY;
     * "" disables them, so the environment of sshd cannot redirect us. */
    curl_easy_setopt(h, CURLOPT_PROXY, cfg->proxy != NULL ? cfg->proxy : "");
    curl_easy_setopt(h, CURLOPT_NOPROXY, cfg->proxy != NULL ? "" : "*");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : DEFAULT_CONNECT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(h, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
    if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        if (req->body != NULL) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        }
    }

    rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    slist_free_wiped(hdrs);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        stsrole_buf_free(&resp->body);
        if (rc == CURLE_WRITE_ERROR || rc == CURLE_FILESIZE_EXCEEDED)
            return stsrole_fail(err, STSROLE_E_PROTOCOL, "%s: answer larger than %zu bytes",
                                req->url, max);
        return network_error(err, rc, errbuf, req->url);
    }
    return STSROLE_OK;
}

void
stsrole_http_response_free(struct stsrole_http_response *resp)
{
    if (resp != NULL)
        stsrole_buf_free(&resp->body);
}
