/* SPDX-License-Identifier: BSD-3-Clause */
/* sts.c: sts:AssumeRole: parameter checks against STS limits, request body, answer decoding. */
#include "config.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <expat.h>

#include "aws.h"
#include "json.h"
#include "sts.h"
#include "xml.h"

/* Limits from the AssumeRole API reference (and the STS service model). */
#define ARN_MIN 20
#define ARN_MAX 2048
#define SESSION_NAME_MIN 2
#define SESSION_NAME_MAX 64
#define DURATION_MIN 900
#define DURATION_MAX 43200
#define SOURCE_IDENTITY_MIN 2
#define SOURCE_IDENTITY_MAX 64
#define TAGS_MAX 50
#define TAG_KEY_MIN 1
#define TAG_KEY_MAX 128
#define TAG_VALUE_MAX 256
#define EXTERNAL_ID_MIN 2
#define EXTERNAL_ID_MAX 1224
#define POLICY_MAX 2048
#define SERIAL_MIN 9
#define SERIAL_MAX 256
#define TOKEN_CODE_LEN 6
#define ROLE_NAME_MAX 64  /* IAM CreateRole RoleName */
#define ROLE_PATH_MAX 512 /* IAM CreateRole Path */

/* Bounds on what we accept back.  A real answer is 1-4 KiB; the session
 * token grows with session tags and policies but stays far below these. */
#define BODY_MAX (256 * 1024)
#define AKID_MIN 16
#define AKID_MAX 128
#define SECRET_MAX 1024
#define TOKEN_MAX 32768
#define ROLE_ID_MIN 2
#define ROLE_ID_MAX 193
#define DATE_MAX 64
#define PPS_MAX 8
#define XML_DEPTH_MAX 32
#define XML_ROOT "AssumeRoleResponse"

/* Expiration must fall in [2000-01-01, 2200-01-01): anything else is a
 * unit mix-up (milliseconds) or garbage, not a credential lifetime. */
#define EPOCH_MIN 946684800.0
#define EPOCH_MAX 7258118400.0

enum charset {
    CS_WORD,    /* \w: AccessKeyId */
    CS_NAME,    /* [\w+=,.@-]: RoleSessionName, SourceIdentity, role names */
    CS_EXTID,   /* [\w+=,.@:/-]: ExternalId, SerialNumber */
    CS_ROLEID,  /* [\w+=,.@:-]: AssumedRoleId */
    CS_DIGIT,   /* [0-9]: TokenCode, PackedPolicySize */
    CS_TAG,     /* [\p{L}\p{Z}\p{N}_.:/=+\-@]: tag keys and values */
    CS_POLICY,  /* printable Latin-1, tab, LF, CR: Policy */
    CS_VISIBLE, /* [!-~]: ARNs, secrets, tokens (they end up in an environment) */
    CS_DATE,    /* ISO-8601 timestamps */
};

/*
 * Code points that are surely outside \p{L}\p{Z}\p{N}.  A full Unicode
 * category table is not worth carrying: STS has the final word and answers
 * ValidationError.  What we must refuse locally are controls, format and
 * bidi characters, private use, noncharacters and the common punctuation
 * and symbol blocks (emoji included), so that nothing invisible or
 * misleading reaches a tag that IAM conditions will compare.
 */
static const struct {
    uint32_t lo, hi;
} tag_refused[] = {
    {0x0080, 0x009f},    {0x00a1, 0x00a9},   {0x00ab, 0x00b1},   {0x00b4, 0x00b4},
    {0x00b6, 0x00b8},    {0x00bb, 0x00bb},   {0x00bf, 0x00bf},   {0x00d7, 0x00d7},
    {0x00f7, 0x00f7},    {0x0300, 0x036f},   {0x200b, 0x2027},   {0x202a, 0x202e},
    {0x2030, 0x205e},    {0x2060, 0x206f},   {0x20a0, 0x20ff},   {0x2190, 0x245f},
    {0x2500, 0x2775},    {0x2794, 0x2bff},   {0x2e00, 0x2e2e},   {0x2e30, 0x2e7f},
    {0x3001, 0x3004},    {0x3008, 0x3020},   {0xe000, 0xf8ff},   {0xfdd0, 0xfdef},
    {0xfe00, 0xfe0f},    {0xfe20, 0xfe2f},   {0xfeff, 0xfeff},   {0xff01, 0xff0f},
    {0xff1a, 0xff20},    {0xff3b, 0xff40},   {0xff5b, 0xff65},   {0xfff0, 0xffff},
    {0x1f000, 0x1f0ff},  {0x1f10d, 0x1faff}, {0xe0000, 0xe007f}, {0xe0100, 0xe01ef},
    {0xf0000, 0x10ffff},
};

static int
is_word(uint32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int
charset_allows(enum charset cs, uint32_t c)
{
    size_t i;

    switch (cs) {
    case CS_WORD:
        return is_word(c);
    case CS_NAME:
        return is_word(c) || (c != 0 && strchr("+=,.@-", (int)c) != NULL);
    case CS_EXTID:
        return is_word(c) || (c != 0 && strchr("+=,.@:/-", (int)c) != NULL);
    case CS_ROLEID:
        return is_word(c) || (c != 0 && strchr("+=,.@:-", (int)c) != NULL);
    case CS_DIGIT:
        return c >= '0' && c <= '9';
    case CS_TAG:
        if (c < 0x80)
            return is_word(c) || (c != 0 && strchr(" .:/=+-@", (int)c) != NULL);
        if ((c & 0xfffe) == 0xfffe)
            return 0;
        for (i = 0; i < sizeof(tag_refused) / sizeof(tag_refused[0]); i++)
            if (c >= tag_refused[i].lo && c <= tag_refused[i].hi)
                return 0;
        return 1;
    case CS_POLICY:
        /* STS allows U+0009, U+000A, U+000D, U+0020-U+00FF; DEL and the C1
         * controls have no business in a policy document either. */
        return c == '\t' || c == '\n' || c == '\r' || (c >= 0x20 && c <= 0x7e) ||
               (c >= 0xa0 && c <= 0xff);
    case CS_VISIBLE:
        return c >= 0x21 && c <= 0x7e;
    case CS_DATE:
        return (c >= '0' && c <= '9') || (c != 0 && strchr("TZ:.+-", (int)c) != NULL);
    }
    return 0;
}

/* Checks s[0..n) against a charset and a length in characters.  Messages
 * name the field and, unless the value is secret, the offending character. */
static int
check_text(enum stsrole_status status, const char *field, const char *s, size_t n, size_t min,
           size_t max, enum charset cs, int secret, struct stsrole_error *err)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, chars = 0, k;
    uint32_t c;

    while (i < n) {
        k = stsrole_utf8_decode(u + i, n - i, &c);
        chars++;
        if (k == 0)
            return stsrole_fail(err, status, "%s: invalid UTF-8 at byte %zu", field, i + 1);
        if (!charset_allows(cs, c)) {
            if (secret)
                return stsrole_fail(err, status, "%s: invalid character at position %zu", field,
                                    chars);
            if (c < 0x80)
                return stsrole_fail(err, status, "%s: invalid character 0x%02x at position %zu",
                                    field, (unsigned)c, chars);
            return stsrole_fail(err, status, "%s: invalid character U+%04X at position %zu", field,
                                (unsigned)c, chars);
        }
        i += k;
    }
    if (chars < min)
        return stsrole_fail(err, status, "%s: %zu characters, at least %zu required", field, chars,
                            min);
    if (chars > max)
        return stsrole_fail(err, status, "%s: %zu characters, at most %zu allowed", field, chars,
                            max);
    return STSROLE_OK;
}

static int
check_param(const char *field, const char *s, size_t min, size_t max, enum charset cs,
            struct stsrole_error *err)
{
    return check_text(STSROLE_E_INVALID, field, s, strlen(s), min, max, cs, 0, err);
}

/* ASCII-only case folding: locale-independent, like AWS's own comparison
 * of the reserved prefix.  Keys that differ only in non-ASCII case are left
 * for STS to refuse. */
static int
ascii_casecmp(const char *a, const char *b)
{
    unsigned char x, y;

    for (;; a++, b++) {
        x = (unsigned char)*a;
        y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y || x == '\0')
            return x - y;
    }
}

static int
has_aws_prefix(const char *s)
{
    return strlen(s) >= 4 && (s[0] == 'a' || s[0] == 'A') && (s[1] == 'w' || s[1] == 'W') &&
           (s[2] == 's' || s[2] == 'S') && s[3] == ':';
}

/* arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME.  AWS only checks the ARN's
 * characters; anything else is caught here, before a round trip. */
static int
check_role_arn(const char *arn, struct stsrole_error *err)
{
    const char *p, *q, *name;
    size_t i;
    int rc;

    if (arn == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "RoleArn: required");
    rc = check_param("RoleArn", arn, ARN_MIN, ARN_MAX, CS_VISIBLE, err);
    if (rc != STSROLE_OK)
        return rc;
    if (strncmp(arn, "arn:", 4) != 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "RoleArn: does not start with \"arn:\"");
    p = arn + 4;
    for (q = p; *q != ':' && *q != '\0'; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-'))
            return stsrole_fail(err, STSROLE_E_INVALID, "RoleArn: invalid partition");
    if (q == p || q - p > 32)
        return stsrole_fail(err, STSROLE_E_INVALID, "RoleArn: invalid partition");
    if (strncmp(q, ":iam::", 6) != 0)
        return stsrole_fail(err, STSROLE_E_INVALID,
                            "RoleArn: not an IAM ARN (arn:PARTITION:iam::ACCOUNT:role/NAME)");
    p = q + 6;
    for (i = 0; i < 12; i++)
        if (p[i] < '0' || p[i] > '9')
            return stsrole_fail(err, STSROLE_E_INVALID, "RoleArn: account must be 12 digits");
    p += 12;
    if (strncmp(p, ":role/", 6) != 0)
        return stsrole_fail(err, STSROLE_E_INVALID,
                            "RoleArn: not a role ARN (arn:PARTITION:iam::ACCOUNT:role/NAME)");
    p += 5; /* at the '/' that starts the path */
    name = strrchr(p, '/') + 1;
    if ((size_t)(name - p) > ROLE_PATH_MAX)
        return stsrole_fail(err, STSROLE_E_INVALID, "RoleArn: role path longer than %d characters",
                            ROLE_PATH_MAX);
    for (q = p; q < name; q++)
        if (*q == '/' && q[1] == '/')
            return stsrole_fail(err, STSROLE_E_INVALID, "RoleArn: empty role path segment");
    return check_param("RoleArn: role name", name, 1, ROLE_NAME_MAX, CS_NAME, err);
}

static int
check_tags(const struct stsrole_assume_params *p, struct stsrole_error *err)
{
    char field[48], other[48];
    size_t i, j;
    int rc;

    if (p->n_tags > TAGS_MAX)
        return stsrole_fail(err, STSROLE_E_INVALID, "Tags: %zu tags, at most %d allowed", p->n_tags,
                            TAGS_MAX);
    if (p->n_tags > 0 && p->tags == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "Tags: %zu tags but no array", p->n_tags);
    for (i = 0; i < p->n_tags; i++) {
        const struct stsrole_tag *t = &p->tags[i];

        snprintf(field, sizeof(field), "Tags.member.%zu.Key", i + 1);
        if (t->key == NULL)
            return stsrole_fail(err, STSROLE_E_INVALID, "%s: required", field);
        rc = check_param(field, t->key, TAG_KEY_MIN, TAG_KEY_MAX, CS_TAG, err);
        if (rc != STSROLE_OK)
            return rc;
        /* "aws:" is reserved for AWS's own keys (IAM tag rules). */
        if (has_aws_prefix(t->key))
            return stsrole_fail(err, STSROLE_E_INVALID, "%s: the prefix \"aws:\" is reserved",
                                field);
        /* Session tag keys are case-insensitive: Department and department
         * are the same key, and STS refuses both in one request. */
        for (j = 0; j < i; j++) {
            if (ascii_casecmp(p->tags[j].key, t->key) == 0) {
                snprintf(other, sizeof(other), "Tags.member.%zu.Key", j + 1);
                return stsrole_fail(err, STSROLE_E_INVALID,
                                    "%s: duplicate of %s (keys are case-insensitive)", field,
                                    other);
            }
        }
        snprintf(field, sizeof(field), "Tags.member.%zu.Value", i + 1);
        rc = check_param(field, t->value != NULL ? t->value : "", 0, TAG_VALUE_MAX, CS_TAG, err);
        if (rc != STSROLE_OK)
            return rc;
    }
    return STSROLE_OK;
}

static int
check_transitive(const struct stsrole_assume_params *p, struct stsrole_error *err)
{
    char field[48];
    size_t i, j;
    int rc;

    if (p->n_transitive_tag_keys > TAGS_MAX)
        return stsrole_fail(err, STSROLE_E_INVALID,
                            "TransitiveTagKeys: %zu keys, at most %d allowed",
                            p->n_transitive_tag_keys, TAGS_MAX);
    if (p->n_transitive_tag_keys > 0 && p->transitive_tag_keys == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "TransitiveTagKeys: %zu keys but no array",
                            p->n_transitive_tag_keys);
    for (i = 0; i < p->n_transitive_tag_keys; i++) {
        const char *k = p->transitive_tag_keys[i];

        snprintf(field, sizeof(field), "TransitiveTagKeys.member.%zu", i + 1);
        if (k == NULL)
            return stsrole_fail(err, STSROLE_E_INVALID, "%s: required", field);
        rc = check_param(field, k, TAG_KEY_MIN, TAG_KEY_MAX, CS_TAG, err);
        if (rc != STSROLE_OK)
            return rc;
        /* A transitive key must name one of this request's session tags. */
        for (j = 0; j < p->n_tags; j++)
            if (ascii_casecmp(p->tags[j].key, k) == 0)
                break;
        if (j == p->n_tags)
            return stsrole_fail(err, STSROLE_E_INVALID, "%s: \"%s\" is not one of the tag keys",
                                field, k);
    }
    return STSROLE_OK;
}

static int
check_policy(const char *policy, struct stsrole_error *err)
{
    const char *end = NULL;
    cJSON *doc;
    int is_object, rc;

    rc = check_param("Policy", policy, 1, POLICY_MAX, CS_POLICY, err);
    if (rc != STSROLE_OK)
        return rc;
    doc = cJSON_ParseWithLengthOpts(policy, strlen(policy), &end, 0);
    if (doc == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "Policy: not valid JSON");
    is_object = cJSON_IsObject(doc);
    cJSON_Delete(doc);
    if (end != NULL)
        end += strspn(end, " \t\r\n");
    if (end == NULL || *end != '\0')
        return stsrole_fail(err, STSROLE_E_INVALID, "Policy: not valid JSON (trailing data)");
    if (!is_object)
        return stsrole_fail(err, STSROLE_E_INVALID, "Policy: not a JSON object");
    return STSROLE_OK;
}

int
stsrole_sts_validate(const struct stsrole_assume_params *p, struct stsrole_error *err)
{
    size_t i;
    int rc;

    rc = check_role_arn(p->role_arn, err);
    if (rc != STSROLE_OK)
        return rc;
    if (p->session_name == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "RoleSessionName: required");
    rc = check_param("RoleSessionName", p->session_name, SESSION_NAME_MIN, SESSION_NAME_MAX,
                     CS_NAME, err);
    if (rc != STSROLE_OK)
        return rc;
    if (p->duration != 0 && (p->duration < DURATION_MIN || p->duration > DURATION_MAX))
        return stsrole_fail(err, STSROLE_E_INVALID, "DurationSeconds: %d is outside %d-%d",
                            p->duration, DURATION_MIN, DURATION_MAX);
    if (p->source_identity != NULL) {
        /* The charset already excludes ':', but the reserved prefix
         * deserves its own message. */
        if (has_aws_prefix(p->source_identity))
            return stsrole_fail(err, STSROLE_E_INVALID,
                                "SourceIdentity: the prefix \"aws:\" is reserved");
        rc = check_param("SourceIdentity", p->source_identity, SOURCE_IDENTITY_MIN,
                         SOURCE_IDENTITY_MAX, CS_NAME, err);
        if (rc != STSROLE_OK)
            return rc;
    }
    rc = check_tags(p, err);
    if (rc != STSROLE_OK)
        return rc;
    rc = check_transitive(p, err);
    if (rc != STSROLE_OK)
        return rc;
    if (p->external_id != NULL) {
        rc = check_param("ExternalId", p->external_id, EXTERNAL_ID_MIN, EXTERNAL_ID_MAX, CS_EXTID,
                         err);
        if (rc != STSROLE_OK)
            return rc;
    }
    if (p->policy != NULL) {
        rc = check_policy(p->policy, err);
        if (rc != STSROLE_OK)
            return rc;
    }
    /* STS wants both or neither: the device and the code it showed. */
    if (p->serial_number != NULL && p->token_code == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "TokenCode: required with SerialNumber");
    if (p->token_code != NULL && p->serial_number == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "SerialNumber: required with TokenCode");
    if (p->serial_number != NULL) {
        rc = check_param("SerialNumber", p->serial_number, SERIAL_MIN, SERIAL_MAX, CS_EXTID, err);
        if (rc != STSROLE_OK)
            return rc;
        /* The code is a secret: the message neither quotes nor measures it. */
        for (i = 0; p->token_code[i] != '\0' && i <= TOKEN_CODE_LEN; i++)
            if (p->token_code[i] < '0' || p->token_code[i] > '9')
                break;
        if (i != TOKEN_CODE_LEN || p->token_code[i] != '\0')
            return stsrole_fail(err, STSROLE_E_INVALID, "TokenCode: must be exactly %d digits",
                                TOKEN_CODE_LEN);
    }
    return STSROLE_OK;
}

static int
put_param(struct stsrole_buf *out, const char *name, const char *value)
{
    return stsrole_form_append(out, name, value);
}

static int
build_body(const struct stsrole_assume_params *p, struct stsrole_buf *out)
{
    char name[48], num[16];
    size_t i;
    int rc;

    rc = put_param(out, "Action", "AssumeRole");
    if (rc == STSROLE_OK)
        rc = put_param(out, "Version", "2011-06-15");
    if (rc == STSROLE_OK)
        rc = put_param(out, "RoleArn", p->role_arn);
    if (rc == STSROLE_OK)
        rc = put_param(out, "RoleSessionName", p->session_name);
    if (rc == STSROLE_OK && p->duration != 0) {
        snprintf(num, sizeof(num), "%d", p->duration);
        rc = put_param(out, "DurationSeconds", num);
    }
    if (rc == STSROLE_OK && p->source_identity != NULL)
        rc = put_param(out, "SourceIdentity", p->source_identity);
    for (i = 0; rc == STSROLE_OK && i < p->n_tags; i++) {
        snprintf(name, sizeof(name), "Tags.member.%zu.Key", i + 1);
        rc = put_param(out, name, p->tags[i].key);
        if (rc != STSROLE_OK)
            break;
        snprintf(name, sizeof(name), "Tags.member.%zu.Value", i + 1);
        rc = put_param(out, name, p->tags[i].value != NULL ? p->tags[i].value : "");
    }
    for (i = 0; rc == STSROLE_OK && i < p->n_transitive_tag_keys; i++) {
        snprintf(name, sizeof(name), "TransitiveTagKeys.member.%zu", i + 1);
        rc = put_param(out, name, p->transitive_tag_keys[i]);
    }
    if (rc == STSROLE_OK && p->external_id != NULL)
        rc = put_param(out, "ExternalId", p->external_id);
    if (rc == STSROLE_OK && p->policy != NULL)
        rc = put_param(out, "Policy", p->policy);
    if (rc == STSROLE_OK && p->serial_number != NULL) {
        rc = put_param(out, "SerialNumber", p->serial_number);
        if (rc == STSROLE_OK)
            rc = put_param(out, "TokenCode", p->token_code);
    }
    return rc;
}

int
stsrole_sts_assume_body(const struct stsrole_assume_params *p, struct stsrole_buf *out,
                        struct stsrole_error *err)
{
    size_t start = out->len;
    int rc;

    rc = stsrole_sts_validate(p, err);
    if (rc != STSROLE_OK)
        return rc;
    rc = build_body(p, out);
    if (rc != STSROLE_OK) {
        /* The part written so far may hold the TokenCode. */
        if (out->data != NULL) {
            stsrole_wipe(out->data + start, out->len - start);
            out->data[start] = '\0';
        }
        out->len = start;
        return stsrole_fail(err, rc, "AssumeRole request body: %s",
                            rc == STSROLE_E_NOMEM ? "out of memory" : "too large");
    }
    return STSROLE_OK;
}

void
stsrole_assumed_free(struct stsrole_assumed *a)
{
    if (a == NULL)
        return;
    stsrole_creds_clear(&a->creds);
    stsrole_free_secret(a->assumed_role_id);
    stsrole_free_secret(a->arn);
    stsrole_free_secret(a->source_identity);
    memset(a, 0, sizeof(*a));
    a->packed_policy_size = -1;
}

/* ---- decoding the answer ---- */

enum field {
    F_AKID,
    F_SECRET,
    F_TOKEN,
    F_EXPIRATION,
    F_ARN,
    F_ROLE_ID,
    F_SOURCE_IDENTITY,
    F_PACKED_POLICY_SIZE,
    F_COUNT
};

static const struct field_spec {
    const char *name;
    const char *xml_path; /* by local names, from the root element */
    size_t min, max;
    enum charset cs;
    int secret;
    int required;
} fields[F_COUNT] = {
    [F_AKID] = {"AccessKeyId", XML_ROOT "/AssumeRoleResult/Credentials/AccessKeyId", AKID_MIN,
                AKID_MAX, CS_WORD, 0, 1},
    [F_SECRET] = {"SecretAccessKey", XML_ROOT "/AssumeRoleResult/Credentials/SecretAccessKey", 1,
                  SECRET_MAX, CS_VISIBLE, 1, 1},
    [F_TOKEN] = {"SessionToken", XML_ROOT "/AssumeRoleResult/Credentials/SessionToken", 1,
                 TOKEN_MAX, CS_VISIBLE, 1, 1},
    [F_EXPIRATION] = {"Expiration", XML_ROOT "/AssumeRoleResult/Credentials/Expiration", 1,
                      DATE_MAX, CS_DATE, 0, 1},
    [F_ARN] = {"Arn", XML_ROOT "/AssumeRoleResult/AssumedRoleUser/Arn", ARN_MIN, ARN_MAX,
               CS_VISIBLE, 0, 1},
    [F_ROLE_ID] = {"AssumedRoleId", XML_ROOT "/AssumeRoleResult/AssumedRoleUser/AssumedRoleId",
                   ROLE_ID_MIN, ROLE_ID_MAX, CS_ROLEID, 0, 1},
    [F_SOURCE_IDENTITY] = {"SourceIdentity", XML_ROOT "/AssumeRoleResult/SourceIdentity",
                           SOURCE_IDENTITY_MIN, SOURCE_IDENTITY_MAX, CS_NAME, 0, 0},
    [F_PACKED_POLICY_SIZE] = {"PackedPolicySize", XML_ROOT "/AssumeRoleResult/PackedPolicySize", 1,
                              PPS_MAX, CS_DIGIT, 0, 0},
};

/* The answer's fields as text, whichever format they came in.  JSON may
 * give Expiration and PackedPolicySize as numbers instead. */
struct raw_answer {
    const char *v[F_COUNT];
    size_t n[F_COUNT];
    int have_exp_num;
    double exp_num;
    int have_pps_num;
    double pps_num;
};

static int
epoch_from_number(double v, int64_t *out, struct stsrole_error *err)
{
    if (!isfinite(v) || v < EPOCH_MIN || v >= EPOCH_MAX)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "Expiration: %.17g is not a plausible time",
                            v);
    /* Epoch seconds may carry milliseconds; truncating (v is positive)
     * rounds down, which errs on the side of refreshing early.  No floor():
     * the library does not link libm. */
    *out = (int64_t)v;
    return STSROLE_OK;
}

static int
finish_answer(const struct raw_answer *r, struct stsrole_assumed *out, struct stsrole_error *err)
{
    char date[DATE_MAX + 1];
    int64_t exp;
    long pps = -1;
    int i, rc;

    for (i = 0; i < F_COUNT; i++) {
        const struct field_spec *f = &fields[i];

        if (r->v[i] == NULL) {
            if (i == F_EXPIRATION && r->have_exp_num)
                continue;
            if (i == F_PACKED_POLICY_SIZE && r->have_pps_num)
                continue;
            if (f->required)
                return stsrole_fail(err, STSROLE_E_PROTOCOL, "%s: missing from the answer",
                                    f->name);
            continue;
        }
        rc = check_text(STSROLE_E_PROTOCOL, f->name, r->v[i], r->n[i], f->min, f->max, f->cs,
                        f->secret, err);
        if (rc != STSROLE_OK)
            return rc;
    }
    if (strncmp(r->v[F_ARN], "arn:", 4) != 0)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "Arn: not an ARN");

    if (r->have_exp_num) {
        rc = epoch_from_number(r->exp_num, &exp, err);
        if (rc != STSROLE_OK)
            return rc;
    } else {
        memcpy(date, r->v[F_EXPIRATION], r->n[F_EXPIRATION]);
        date[r->n[F_EXPIRATION]] = '\0';
        if (stsrole_parse_iso8601(date, &exp) != 0)
            return stsrole_fail(err, STSROLE_E_PROTOCOL, "Expiration: \"%s\" is not ISO-8601 UTC",
                                date);
        rc = epoch_from_number((double)exp, &exp, err);
        if (rc != STSROLE_OK)
            return rc;
    }
    if (r->have_pps_num) {
        if (!isfinite(r->pps_num) || r->pps_num < 0 || r->pps_num > 1e6 ||
            r->pps_num != (double)(long)r->pps_num)
            return stsrole_fail(err, STSROLE_E_PROTOCOL, "PackedPolicySize: not a percentage");
        pps = (long)r->pps_num;
    } else if (r->v[F_PACKED_POLICY_SIZE] != NULL) {
        pps = strtol(r->v[F_PACKED_POLICY_SIZE], NULL, 10);
    }

    out->creds.access_key_id = stsrole_strndup(r->v[F_AKID], r->n[F_AKID]);
    out->creds.secret_access_key = stsrole_strndup(r->v[F_SECRET], r->n[F_SECRET]);
    out->creds.session_token = stsrole_strndup(r->v[F_TOKEN], r->n[F_TOKEN]);
    out->creds.expiration = exp;
    out->arn = stsrole_strndup(r->v[F_ARN], r->n[F_ARN]);
    out->assumed_role_id = stsrole_strndup(r->v[F_ROLE_ID], r->n[F_ROLE_ID]);
    out->packed_policy_size = (int)pps;
    if (r->v[F_SOURCE_IDENTITY] != NULL)
        out->source_identity = stsrole_strndup(r->v[F_SOURCE_IDENTITY], r->n[F_SOURCE_IDENTITY]);
    if (out->creds.access_key_id == NULL || out->creds.secret_access_key == NULL ||
        out->creds.session_token == NULL || out->arn == NULL || out->assumed_role_id == NULL ||
        (r->v[F_SOURCE_IDENTITY] != NULL && out->source_identity == NULL))
        return stsrole_fail(err, STSROLE_E_NOMEM, "AssumeRole answer: out of memory");
    return STSROLE_OK;
}

/* ---- JSON ---- */

/* A member that appears twice is ambiguous: refuse rather than pick one. */
static int
json_member(const cJSON *obj, const char *name, const cJSON **out, struct stsrole_error *err)
{
    const cJSON *c;
    int count = 0;

    *out = NULL;
    cJSON_ArrayForEach(c, obj)
    {
        if (c->string != NULL && strcmp(c->string, name) == 0) {
            *out = c;
            count++;
        }
    }
    if (count > 1)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "%s: appears %d times in the answer", name,
                            count);
    if (*out != NULL && cJSON_IsNull(*out))
        *out = NULL;
    return STSROLE_OK;
}

static int
json_object(const cJSON *obj, const char *name, const cJSON **out, struct stsrole_error *err)
{
    int rc = json_member(obj, name, out, err);

    if (rc != STSROLE_OK)
        return rc;
    if (*out == NULL)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "%s: missing from the answer", name);
    if (!cJSON_IsObject(*out))
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "%s: not an object", name);
    return STSROLE_OK;
}

static int
json_field(const cJSON *obj, enum field f, struct raw_answer *r, struct stsrole_error *err)
{
    const cJSON *item;
    int rc;

    rc = json_member(obj, fields[f].name, &item, err);
    if (rc != STSROLE_OK || item == NULL)
        return rc;
    if (cJSON_IsString(item)) {
        r->v[f] = item->valuestring;
        r->n[f] = strlen(item->valuestring);
        return STSROLE_OK;
    }
    if (cJSON_IsNumber(item) && f == F_EXPIRATION) {
        r->have_exp_num = 1;
        r->exp_num = item->valuedouble;
        return STSROLE_OK;
    }
    if (cJSON_IsNumber(item) && f == F_PACKED_POLICY_SIZE) {
        r->have_pps_num = 1;
        r->pps_num = item->valuedouble;
        return STSROLE_OK;
    }
    return stsrole_fail(err, STSROLE_E_PROTOCOL, "%s: unexpected JSON type", fields[f].name);
}

static int
parse_json(const char *body, size_t len, struct stsrole_assumed *out, struct stsrole_error *err)
{
    struct raw_answer r;
    const cJSON *result, *resp, *creds, *user;
    const char *end = NULL;
    cJSON *doc;
    int rc;

    /* cJSON hands back C strings: a NUL inside a value, raw or escaped,
     * would silently cut it short, so neither is accepted. */
    if (memchr(body, '\0', len) != NULL || memmem(body, len, "\\u0000", 6) != NULL)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "AssumeRole answer: contains a NUL");
    doc = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (doc == NULL)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "AssumeRole answer: malformed JSON");
    memset(&r, 0, sizeof(r));
    while (end != NULL && end < body + len && strchr(" \t\r\n", *end) != NULL)
        end++;
    if (end != body + len) {
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "AssumeRole answer: data after the JSON");
        goto done;
    }
    if (!cJSON_IsObject(doc)) {
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "AssumeRole answer: not a JSON object");
        goto done;
    }
    /* The Query API wraps the result ({"AssumeRoleResponse":{"AssumeRoleResult":
     * ...}}); the AWS JSON protocol returns the result members bare. */
    rc = json_member(doc, "AssumeRoleResponse", &resp, err);
    if (rc != STSROLE_OK)
        goto done;
    if (resp != NULL) {
        rc = json_object(doc, "AssumeRoleResponse", &resp, err);
        if (rc == STSROLE_OK)
            rc = json_object(resp, "AssumeRoleResult", &result, err);
    } else {
        result = doc;
    }
    if (rc == STSROLE_OK)
        rc = json_object(result, "Credentials", &creds, err);
    if (rc == STSROLE_OK)
        rc = json_object(result, "AssumedRoleUser", &user, err);
    if (rc == STSROLE_OK)
        rc = json_field(creds, F_AKID, &r, err);
    if (rc == STSROLE_OK)
        rc = json_field(creds, F_SECRET, &r, err);
    if (rc == STSROLE_OK)
        rc = json_field(creds, F_TOKEN, &r, err);
    if (rc == STSROLE_OK)
        rc = json_field(creds, F_EXPIRATION, &r, err);
    if (rc == STSROLE_OK)
        rc = json_field(user, F_ARN, &r, err);
    if (rc == STSROLE_OK)
        rc = json_field(user, F_ROLE_ID, &r, err);
    if (rc == STSROLE_OK)
        rc = json_field(result, F_SOURCE_IDENTITY, &r, err);
    if (rc == STSROLE_OK)
        rc = json_field(result, F_PACKED_POLICY_SIZE, &r, err);
    if (rc == STSROLE_OK)
        rc = finish_answer(&r, out, err);
done:
    /* cJSON's copies of the strings hold the secret key and token. */
    stsrole_json_delete_wiped(doc);
    return rc;
}

/* ---- XML ---- */

/* expat copies parts of the input into its own buffers; route its memory
 * through allocators that wipe every block before it is released. */
static void *
xml_malloc(size_t n)
{
    return malloc(n);
}

static void
xml_free(void *p)
{
    if (p != NULL) {
        stsrole_wipe(p, malloc_usable_size(p));
        free(p);
    }
}

static void *
xml_realloc(void *p, size_t n)
{
    size_t old;
    void *q;

    if (p == NULL)
        return malloc(n);
    q = malloc(n != 0 ? n : 1);
    if (q == NULL)
        return NULL;
    old = malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    xml_free(p);
    return q;
}

static const XML_Memory_Handling_Suite xml_wiping_memory = {xml_malloc, xml_realloc, xml_free};

struct xml_state {
    XML_Parser parser;
    struct stsrole_xml_path at;
    int capture;       /* field being read, or -1 */
    int capture_depth; /* its element's depth */
    int seen[F_COUNT];
    struct stsrole_buf value[F_COUNT];
    int failed; /* the status a handler stopped the parse with, or 0 */
    struct stsrole_error *err;
};

static void
xml_abort(struct xml_state *st, int status)
{
    st->failed = status;
    XML_StopParser(st->parser, XML_FALSE);
}

/* Without namespace processing a name is "prefix:local" or "local"; the
 * answer is matched by local names, whatever the namespace (moto's even
 * has a line break in it). */
static void XMLCALL
xml_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct xml_state *st = ud;
    int i, rc;

    (void)attrs;
    if (st->failed)
        return;
    if (st->capture >= 0) {
        stsrole_fail(st->err, STSROLE_E_PROTOCOL, "%s: unexpected element inside it",
                     fields[st->capture].name);
        xml_abort(st, STSROLE_E_PROTOCOL);
        return;
    }
    rc = stsrole_xml_path_enter(&st->at, name, XML_DEPTH_MAX);
    if (rc < 0) {
        stsrole_fail(st->err, STSROLE_E_PROTOCOL, "AssumeRole answer: nested deeper than %d",
                     XML_DEPTH_MAX);
        xml_abort(st, STSROLE_E_PROTOCOL);
        return;
    }
    if (st->at.depth == 1) {
        if (strcmp(st->at.path, XML_ROOT) != 0) {
            stsrole_fail(st->err, STSROLE_E_PROTOCOL,
                         "AssumeRole answer: root element is <%.64s>, not <" XML_ROOT ">",
                         stsrole_xml_local_name(name));
            xml_abort(st, STSROLE_E_PROTOCOL);
        }
        return;
    }
    if (rc == 0)
        return;
    for (i = 0; i < F_COUNT; i++) {
        if (strcmp(st->at.path, fields[i].xml_path) != 0)
            continue;
        if (st->seen[i]) {
            stsrole_fail(st->err, STSROLE_E_PROTOCOL, "%s: appears twice in the answer",
                         fields[i].name);
            xml_abort(st, STSROLE_E_PROTOCOL);
            return;
        }
        st->seen[i] = 1;
        st->capture = i;
        st->capture_depth = st->at.depth;
        return;
    }
}

static void XMLCALL
xml_end(void *ud, const XML_Char *name)
{
    struct xml_state *st = ud;

    (void)name;
    if (st->failed)
        return;
    if (st->capture >= 0 && st->at.depth == st->capture_depth)
        st->capture = -1;
    stsrole_xml_path_leave(&st->at);
}

static void XMLCALL
xml_text(void *ud, const XML_Char *s, int len)
{
    struct xml_state *st = ud;
    int rc;

    if (st->failed || st->capture < 0 || len <= 0)
        return;
    rc = stsrole_buf_append(&st->value[st->capture], s, (size_t)len);
    if (rc != STSROLE_OK) {
        stsrole_fail(st->err, rc, "%s: longer than %zu bytes", fields[st->capture].name,
                     st->value[st->capture].max);
        xml_abort(st, rc);
    }
}

/* A DOCTYPE is how entity expansion bombs and external entities get in;
 * an AWS answer never has one. */
static void XMLCALL
xml_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
            int has_internal_subset)
{
    struct xml_state *st = ud;

    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    stsrole_fail(st->err, STSROLE_E_PROTOCOL, "AssumeRole answer: DOCTYPE refused");
    xml_abort(st, STSROLE_E_PROTOCOL);
}

static void XMLCALL
xml_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value, int value_len,
           const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid,
           const XML_Char *notation)
{
    struct xml_state *st = ud;

    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid, (void)pubid,
        (void)notation;
    stsrole_fail(st->err, STSROLE_E_PROTOCOL, "AssumeRole answer: entity declaration refused");
    xml_abort(st, STSROLE_E_PROTOCOL);
}

static int
is_xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
parse_xml(const char *body, size_t len, struct stsrole_assumed *out, struct stsrole_error *err)
{
    struct xml_state st;
    struct raw_answer r;
    int i, rc = STSROLE_OK;

    memset(&st, 0, sizeof(st));
    memset(&r, 0, sizeof(r));
    st.capture = -1;
    st.err = err;
    for (i = 0; i < F_COUNT; i++) /* slack for surrounding whitespace */
        stsrole_buf_init(&st.value[i], fields[i].max * 4 + 64);
    st.parser = XML_ParserCreate_MM(NULL, &xml_wiping_memory, NULL);
    if (st.parser == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "AssumeRole answer: out of memory");
    XML_SetUserData(st.parser, &st);
    XML_SetElementHandler(st.parser, xml_start, xml_end);
    XML_SetCharacterDataHandler(st.parser, xml_text);
    XML_SetStartDoctypeDeclHandler(st.parser, xml_doctype);
    XML_SetEntityDeclHandler(st.parser, xml_entity);
    XML_SetParamEntityParsing(st.parser, XML_PARAM_ENTITY_PARSING_NEVER);
    if (XML_Parse(st.parser, body, (int)len, XML_TRUE) != XML_STATUS_OK && !st.failed) {
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL,
                          "AssumeRole answer: malformed XML: %s at line %lu",
                          XML_ErrorString(XML_GetErrorCode(st.parser)),
                          (unsigned long)XML_GetCurrentLineNumber(st.parser));
    } else if (st.failed) {
        rc = st.failed;
    } else {
        for (i = 0; i < F_COUNT; i++) {
            const char *v = st.value[i].data;
            size_t n = st.value[i].len;

            if (!st.seen[i])
                continue;
            /* Pretty-printed XML may pad a value with whitespace. */
            while (n > 0 && is_xml_space(*v))
                v++, n--;
            while (n > 0 && is_xml_space(v[n - 1]))
                n--;
            if (n == 0) /* <SourceIdentity/> means none */
                continue;
            r.v[i] = v;
            r.n[i] = n;
        }
        rc = finish_answer(&r, out, err);
    }
    XML_ParserFree(st.parser);
    for (i = 0; i < F_COUNT; i++)
        stsrole_buf_free(&st.value[i]);
    return rc;
}

int
stsrole_sts_parse_assume(const char *content_type, const char *body, size_t len,
                         struct stsrole_assumed *out, struct stsrole_error *err)
{
    enum stsrole_aws_format format;
    int rc;

    memset(out, 0, sizeof(*out));
    out->packed_policy_size = -1;
    if (body == NULL || len == 0)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "AssumeRole answer: empty");
    if (len > BODY_MAX)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "AssumeRole answer: %zu bytes, at most %d",
                            len, BODY_MAX);
    format = stsrole_aws_format(content_type, body, len);
    if (format == STSROLE_AWS_JSON)
        rc = parse_json(body, len, out, err);
    else if (format == STSROLE_AWS_XML)
        rc = parse_xml(body, len, out, err);
    else
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "AssumeRole answer: neither JSON nor XML");
    if (rc != STSROLE_OK)
        stsrole_assumed_free(out);
    return rc;
}
