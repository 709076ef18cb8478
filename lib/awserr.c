/* SPDX-License-Identifier: BSD-3-Clause */
/* awserr.c: decodes AWS error answers (XML or JSON) and sorts them into stsrole's error classes. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <expat.h>

#include "aws.h"
#include "xml.h"

/* Error documents are small; anything larger is not worth decoding. */
#define ERR_BODY_MAX (64 * 1024)
#define ERR_MESSAGE_MAX 384 /* leaves room for the code in err->msg */
#define XML_DEPTH_MAX 16
#define XML_TEXT_MAX 2048

/*
 * Codes whose meaning does not depend on the HTTP status.  AWS is not
 * consistent about statuses (STS answers Throttling with 400, IAM answers
 * some throttling with 400 too), so the code wins over the status.
 */
static const struct {
    const char *code;
    enum stsrole_status status;
} known_codes[] = {
    /* The caller is authenticated but not allowed. */
    {"AccessDenied", STSROLE_E_DENIED},
    {"AccessDeniedException", STSROLE_E_DENIED},
    {"UnauthorizedOperation", STSROLE_E_DENIED},
    {"RegionDisabledException", STSROLE_E_DENIED},
    {"AuthorizationError", STSROLE_E_DENIED},
    {"OptInRequired", STSROLE_E_DENIED},
    /* The request itself is wrong: retrying it changes nothing. */
    {"ValidationError", STSROLE_E_REJECTED},
    {"ValidationException", STSROLE_E_REJECTED},
    {"InvalidParameterValue", STSROLE_E_REJECTED},
    {"InvalidParameterCombination", STSROLE_E_REJECTED},
    {"MissingParameter", STSROLE_E_REJECTED},
    {"MalformedPolicyDocument", STSROLE_E_REJECTED},
    {"MalformedPolicyDocumentException", STSROLE_E_REJECTED},
    {"PackedPolicyTooLarge", STSROLE_E_REJECTED},
    {"PackedPolicyTooLargeException", STSROLE_E_REJECTED},
    {"InvalidAction", STSROLE_E_REJECTED},
    {"IDPRejectedClaim", STSROLE_E_REJECTED},
    {"InvalidIdentityToken", STSROLE_E_REJECTED},
    {"IncompleteSignature", STSROLE_E_REJECTED},
    {"NoSuchEntity", STSROLE_E_REJECTED},
    {"LimitExceeded", STSROLE_E_REJECTED}, /* an IAM quota, not a rate */
    /* Retry later, with backoff. */
    {"Throttling", STSROLE_E_THROTTLED},
    {"ThrottlingException", STSROLE_E_THROTTLED},
    {"ThrottledException", STSROLE_E_THROTTLED},
    {"RequestThrottled", STSROLE_E_THROTTLED},
    {"RequestThrottledException", STSROLE_E_THROTTLED},
    {"RequestLimitExceeded", STSROLE_E_THROTTLED},
    {"TooManyRequestsException", STSROLE_E_THROTTLED},
    {"SlowDown", STSROLE_E_THROTTLED},
    {"ProvisionedThroughputExceededException", STSROLE_E_THROTTLED},
    {"PriorRequestNotComplete", STSROLE_E_THROTTLED},
    /* The credentials we signed with are expired or not valid (or the
     * clock is off, which looks the same to AWS). */
    {"ExpiredToken", STSROLE_E_EXPIRED},
    {"ExpiredTokenException", STSROLE_E_EXPIRED},
    {"InvalidClientTokenId", STSROLE_E_EXPIRED},
    {"SignatureDoesNotMatch", STSROLE_E_EXPIRED},
    {"UnrecognizedClientException", STSROLE_E_EXPIRED},
    {"RequestExpired", STSROLE_E_EXPIRED},
    {"RequestTimeTooSkewed", STSROLE_E_EXPIRED},
    {"InvalidAccessKeyId", STSROLE_E_EXPIRED},
    {"InvalidSignatureException", STSROLE_E_EXPIRED},
    {"MissingAuthenticationToken", STSROLE_E_EXPIRED},
    {"AuthFailure", STSROLE_E_EXPIRED},
    {"InvalidToken", STSROLE_E_EXPIRED},
    /* AWS's side failed: retry. */
    {"InternalFailure", STSROLE_E_SERVER},
    {"InternalError", STSROLE_E_SERVER},
    {"InternalServerError", STSROLE_E_SERVER},
    {"InternalServiceError", STSROLE_E_SERVER},
    {"ServiceFailure", STSROLE_E_SERVER},
    {"ServiceUnavailable", STSROLE_E_SERVER},
    {"ServiceUnavailableException", STSROLE_E_SERVER},
    {"Unavailable", STSROLE_E_SERVER},
    {"RequestTimeout", STSROLE_E_SERVER},
    {"RequestTimeoutException", STSROLE_E_SERVER},
};

/* What the body said, each part already sanitized. */
struct decoded {
    char code[64];
    char request_id[128];
    char message[ERR_MESSAGE_MAX + 4];
};

static enum stsrole_status
class_of_status(long status)
{
    if (status == 429)
        return STSROLE_E_THROTTLED;
    if (status >= 500 && status <= 599)
        return STSROLE_E_SERVER;
    if (status == 401)
        return STSROLE_E_EXPIRED;
    if (status == 403)
        return STSROLE_E_DENIED;
    if (status >= 400 && status <= 499)
        return STSROLE_E_REJECTED;
    return STSROLE_E_PROTOCOL; /* an error answer with a non-error status */
}

static enum stsrole_status
class_of(long status, const char *code)
{
    size_t i;

    for (i = 0; i < sizeof(known_codes) / sizeof(known_codes[0]); i++)
        if (strcmp(code, known_codes[i].code) == 0)
            return known_codes[i].status;
    return class_of_status(status);
}

/* Codes and request ids are identifiers: keep [A-Za-z0-9._:-], drop the
 * rest, so nothing odd reaches a log line or a metric name. */
static void
copy_ident(char *dst, size_t cap, const char *src, size_t n)
{
    size_t i, o = 0;
    char c;

    for (i = 0; i < n && o + 1 < cap; i++) {
        c = src[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '_' || c == ':' || c == '-')
            dst[o++] = c;
    }
    dst[o] = '\0';
}

/*
 * AWS messages quote request data (ARNs, tag values), so they are
 * untrusted text headed for syslog: controls and line breaks become
 * spaces (no forged log lines), invisible or bidi formatting and invalid
 * UTF-8 become '?', runs of spaces collapse, and the length is capped at a
 * character boundary.
 */
static void
copy_message(char *dst, size_t cap, const char *src, size_t n)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t lim = cap - 4, i = 0, o = 0, k;
    uint32_t cp;
    int truncated = 0;

    while (i < n) {
        if (s[i] < 0x20 || s[i] == 0x7f || s[i] == ' ') {
            if (o > 0 && dst[o - 1] != ' ' && o < lim)
                dst[o++] = ' ';
            i++;
            continue;
        }
        k = stsrole_utf8_decode(s + i, n - i, &cp);
        if (o + (k != 0 ? k : 1) > lim) {
            truncated = 1;
            break;
        }
        if (k == 0 || (s[i] >= 0x80 && (cp < 0xa0 || (cp >= 0x200b && cp <= 0x200f) ||
                                        (cp >= 0x2028 && cp <= 0x202e) ||
                                        (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff))) {
            dst[o++] = '?';
            i += k != 0 ? k : 1;
            continue;
        }
        memcpy(dst + o, s + i, k);
        o += k;
        i += k;
    }
    while (o > 0 && dst[o - 1] == ' ')
        o--;
    if (truncated) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* ---- JSON ---- */

static const char *
json_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * {"Error":{"Code","Message","Type"},"RequestId"} (the Query API asked for
 * JSON, possibly wrapped in "ErrorResponse") or
 * {"__type":"com.amazon.coral.service#ThrottlingException","message":...}
 * (the AWS JSON protocols).
 */
static int
decode_json(const char *body, size_t len, struct decoded *d)
{
    const cJSON *root, *e, *wrap;
    const char *code = NULL, *msg = NULL, *rid = NULL, *hash, *colon;
    size_t code_len = 0;
    cJSON *doc;

    doc = cJSON_ParseWithLength(body, len);
    if (doc == NULL)
        return -1;
    root = doc;
    wrap = cJSON_GetObjectItemCaseSensitive(root, "ErrorResponse");
    if (cJSON_IsObject(wrap))
        root = wrap;
    e = cJSON_GetObjectItemCaseSensitive(root, "Error");
    if (cJSON_IsObject(e)) {
        code = json_str(e, "Code");
        msg = json_str(e, "Message");
        if (msg == NULL)
            msg = json_str(e, "message");
        code_len = code != NULL ? strlen(code) : 0;
    } else if ((code = json_str(root, "__type")) != NULL) {
        /* Per the AWS JSON protocol: the shape name follows '#', and
         * anything after ':' is a URI to ignore. */
        hash = strrchr(code, '#');
        if (hash != NULL)
            code = hash + 1;
        colon = strchr(code, ':');
        code_len = colon != NULL ? (size_t)(colon - code) : strlen(code);
        msg = json_str(root, "message");
        if (msg == NULL)
            msg = json_str(root, "Message");
    }
    rid = json_str(root, "RequestId");
    if (rid == NULL)
        rid = json_str(doc, "RequestId");
    if (code != NULL)
        copy_ident(d->code, sizeof(d->code), code, code_len);
    if (msg != NULL)
        copy_message(d->message, sizeof(d->message), msg, strlen(msg));
    if (rid != NULL)
        copy_ident(d->request_id, sizeof(d->request_id), rid, strlen(rid));
    cJSON_Delete(doc);
    return d->code[0] != '\0' ? 0 : -1;
}

/* ---- XML ---- */

enum xml_item { X_CODE, X_MESSAGE, X_REQUEST_ID, X_COUNT };

/* Paths by local names, the root included.  EC2 uses <Response><Errors>
 * and RequestID; moto wraps Query-API errors as <ErrorResponse><Errors>;
 * S3-style services answer a bare <Error>. */
static const struct {
    const char *path;
    enum xml_item item;
} xml_paths[] = {
    {"ErrorResponse/Error/Code", X_CODE},
    {"ErrorResponse/Error/Message", X_MESSAGE},
    {"ErrorResponse/RequestId", X_REQUEST_ID},
    {"ErrorResponse/Errors/Error/Code", X_CODE},
    {"ErrorResponse/Errors/Error/Message", X_MESSAGE},
    {"Response/Errors/Error/Code", X_CODE},
    {"Response/Errors/Error/Message", X_MESSAGE},
    {"Response/RequestID", X_REQUEST_ID},
    {"Response/RequestId", X_REQUEST_ID},
    {"Error/Code", X_CODE},
    {"Error/Message", X_MESSAGE},
    {"Error/RequestId", X_REQUEST_ID},
};

struct xml_state {
    XML_Parser parser;
    struct stsrole_xml_path at;
    int capture; /* item being read, or -1 */
    int seen[X_COUNT];
    char text[X_COUNT][XML_TEXT_MAX + 1];
    size_t text_len[X_COUNT];
    int refused;
};

static void
xml_refuse(struct xml_state *st)
{
    st->refused = 1;
    XML_StopParser(st->parser, XML_FALSE);
}

static void XMLCALL
xml_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct xml_state *st = ud;
    size_t i;
    int rc;

    (void)attrs;
    st->capture = -1; /* mixed content: the text so far was not a leaf */
    rc = stsrole_xml_path_enter(&st->at, name, XML_DEPTH_MAX);
    if (rc < 0) {
        xml_refuse(st);
        return;
    }
    if (rc == 0)
        return;
    for (i = 0; i < sizeof(xml_paths) / sizeof(xml_paths[0]); i++) {
        /* The first occurrence wins: EC2 may list several errors. */
        if (strcmp(st->at.path, xml_paths[i].path) == 0 && !st->seen[xml_paths[i].item]) {
            st->seen[xml_paths[i].item] = 1;
            st->capture = (int)xml_paths[i].item;
            break;
        }
    }
}

static void XMLCALL
xml_end(void *ud, const XML_Char *name)
{
    struct xml_state *st = ud;

    (void)name;
    st->capture = -1;
    stsrole_xml_path_leave(&st->at);
}

static void XMLCALL
xml_text(void *ud, const XML_Char *s, int len)
{
    struct xml_state *st = ud;
    size_t n, room;

    if (st->capture < 0 || len <= 0)
        return;
    /* Excess text is cut: a message is capped later anyway. */
    room = XML_TEXT_MAX - st->text_len[st->capture];
    n = (size_t)len < room ? (size_t)len : room;
    memcpy(st->text[st->capture] + st->text_len[st->capture], s, n);
    st->text_len[st->capture] += n;
    st->text[st->capture][st->text_len[st->capture]] = '\0';
}

/* A DOCTYPE is how entity expansion bombs and external entities get in;
 * AWS never sends one. */
static void XMLCALL
xml_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
            int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    xml_refuse(ud);
}

static void XMLCALL
xml_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value, int value_len,
           const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid,
           const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid, (void)pubid,
        (void)notation;
    xml_refuse(ud);
}

static void
trim(const char **s, size_t *n)
{
    while (*n > 0 && strchr(" \t\r\n", **s) != NULL)
        (*s)++, (*n)--;
    while (*n > 0 && strchr(" \t\r\n", (*s)[*n - 1]) != NULL)
        (*n)--;
}

static int
decode_xml(const char *body, size_t len, struct decoded *d)
{
    struct xml_state *st;
    const char *v;
    size_t n;
    int ok;

    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return -1;
    st->capture = -1;
    st->parser = XML_ParserCreate(NULL);
    if (st->parser == NULL) {
        free(st);
        return -1;
    }
    XML_SetUserData(st->parser, st);
    XML_SetElementHandler(st->parser, xml_start, xml_end);
    XML_SetCharacterDataHandler(st->parser, xml_text);
    XML_SetStartDoctypeDeclHandler(st->parser, xml_doctype);
    XML_SetEntityDeclHandler(st->parser, xml_entity);
    XML_SetParamEntityParsing(st->parser, XML_PARAM_ENTITY_PARSING_NEVER);
    ok = XML_Parse(st->parser, body, (int)len, XML_TRUE) == XML_STATUS_OK && !st->refused;
    XML_ParserFree(st->parser);
    if (ok) {
        v = st->text[X_CODE], n = st->text_len[X_CODE];
        trim(&v, &n);
        copy_ident(d->code, sizeof(d->code), v, n);
        v = st->text[X_MESSAGE], n = st->text_len[X_MESSAGE];
        trim(&v, &n);
        copy_message(d->message, sizeof(d->message), v, n);
        v = st->text[X_REQUEST_ID], n = st->text_len[X_REQUEST_ID];
        trim(&v, &n);
        copy_ident(d->request_id, sizeof(d->request_id), v, n);
    }
    free(st);
    return ok && d->code[0] != '\0' ? 0 : -1;
}

int
stsrole_aws_classify(long http_status, const char *body, size_t len, struct stsrole_error *err)
{
    return stsrole_aws_classify_as(STSROLE_AWS_UNKNOWN, http_status, body, len, err);
}

int
stsrole_aws_classify_as(enum stsrole_aws_format format, long http_status, const char *body,
                        size_t len, struct stsrole_error *err)
{
    struct decoded d;
    enum stsrole_status cls;
    int rc = -1;

    memset(&d, 0, sizeof(d));
    stsrole_error_clear(err);
    if (body != NULL && len > 0 && len <= ERR_BODY_MAX && memchr(body, '\0', len) == NULL) {
        if (format == STSROLE_AWS_UNKNOWN)
            format = stsrole_aws_format(NULL, body, len);
        if (format == STSROLE_AWS_JSON)
            rc = decode_json(body, len, &d);
        else if (format == STSROLE_AWS_XML)
            rc = decode_xml(body, len, &d);
    }
    if (rc != 0) {
        cls = class_of_status(http_status);
        if (err != NULL)
            memcpy(err->request_id, d.request_id, sizeof(err->request_id));
        return stsrole_fail(err, cls, "HTTP %ld with an undecodable body", http_status);
    }
    cls = class_of(http_status, d.code);
    if (err != NULL) {
        memcpy(err->aws_code, d.code, sizeof(err->aws_code));
        memcpy(err->request_id, d.request_id, sizeof(err->request_id));
    }
    if (d.message[0] != '\0')
        return stsrole_fail(err, cls, "%s: %s", d.code, d.message);
    return stsrole_fail(err, cls, "%s (HTTP %ld)", d.code, http_status);
}
