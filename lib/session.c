/* SPDX-License-Identifier: BSD-3-Clause */
/* session.c: the durable per-session records under STATE_DIR/sessions, as JSON. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "safefile.h"
#include "session.h"

#define SESSION_FORMAT_VERSION 1
/* A record is a few hundred bytes; anything far larger is not ours. */
#define SESSION_MAX_BYTES (64 * 1024)

/* STS's RoleSessionName and SourceIdentity character set: [\w+=,.@-]. */
static int
sts_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("_+=,.@-", c) != NULL;
}

static size_t
copy_sanitised(char *dst, const char *src, size_t max)
{
    size_t i;

    for (i = 0; i < max && src[i] != '\0'; i++)
        dst[i] = sts_name_char((unsigned char)src[i]) ? src[i] : '-';
    return i;
}

int
stsrole_session_name(const char *user, const char *bastion_id, const char *nonce, char out[65],
                     struct stsrole_error *err)
{
    size_t ulen, blen, nlen, room, o = 0;

    if (user == NULL || *user == '\0' || bastion_id == NULL || *bastion_id == '\0' ||
        nonce == NULL || *nonce == '\0')
        return stsrole_fail(err, STSROLE_E_INVALID, "session name: empty user, bastion or nonce");
    nlen = strlen(nonce);
    if (nlen > 32)
        return stsrole_fail(err, STSROLE_E_INVALID, "session name: nonce longer than 32");
    /* 64 = RoleSessionName's maximum; '@' and '.' take two.  The nonce
     * is kept whole (it makes the name unique per SSH session); the user
     * keeps at least half of what is left, the bastion id the rest. */
    room = 64 - 2 - nlen;
    ulen = strlen(user);
    blen = strlen(bastion_id);
    if (ulen + blen > room) {
        if (ulen > room / 2 && blen > room - room / 2) {
            ulen = room / 2 + (room % 2);
            blen = room - ulen;
        } else if (ulen > blen) {
            ulen = room - blen;
        } else {
            blen = room - ulen;
        }
    }
    o += copy_sanitised(out + o, user, ulen);
    out[o++] = '@';
    o += copy_sanitised(out + o, bastion_id, blen);
    out[o++] = '.';
    o += copy_sanitised(out + o, nonce, nlen);
    out[o] = '\0';
    return STSROLE_OK;
}

int
stsrole_session_id(char out[33], struct stsrole_error *err)
{
    unsigned char raw[16];

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return stsrole_fail(err, STSROLE_E_IO, "no randomness for the session id");
    stsrole_hex(raw, sizeof(raw), out);
    return STSROLE_OK;
}

void
stsrole_session_build(struct stsrole_session *rec, const char *session_id,
                      const struct stsrole_session *who, const struct stsrole_assumed *as,
                      const char *session_name, const char *request_id, int64_t opened)
{
    memset(rec, 0, sizeof(*rec));
    memcpy(rec->session_id, session_id, sizeof(rec->session_id));
    rec->user = who->user;
    rec->uid = who->uid;
    rec->rhost = who->rhost;
    rec->tty = who->tty;
    rec->sshd_pid = who->sshd_pid;
    rec->sshd_start = who->sshd_start;
    rec->mfa = who->mfa;
    rec->role_name = who->role_name;
    rec->role_arn = who->role_arn;
    rec->assumed_role_id = as->assumed_role_id;
    rec->session_name = (char *)session_name;
    rec->access_key_id = as->creds.access_key_id;
    rec->expiration = as->creds.expiration;
    rec->source_identity = as->source_identity != NULL ? as->source_identity : who->source_identity;
    rec->aws_request_id = (char *)request_id;
    rec->opened = opened;
    memcpy(rec->sid, who->sid, sizeof(rec->sid));
}

void
stsrole_session_free(struct stsrole_session *s)
{
    if (s == NULL)
        return;
    free(s->user);
    free(s->rhost);
    free(s->tty);
    free(s->role_name);
    free(s->role_arn);
    free(s->assumed_role_id);
    free(s->session_name);
    free(s->access_key_id);
    free(s->source_identity);
    free(s->aws_request_id);
    free(s->parent);
    free(s->mfa);
    memset(s, 0, sizeof(*s));
}

int
stsrole_session_id_valid(const char *id)
{
    size_t i;

    if (id == NULL)
        return 0;
    for (i = 0; id[i] != '\0'; i++) {
        if (i >= 32 || !((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    }
    return i == 32;
}

/* cJSON keeps numbers as doubles: exact for integers up to 2^53, which
 * covers epoch seconds, uids and pids. */
/* Bounds each number must fit, checked both ways so a record always reads
 * back as written: uid_t and pid_t are 32 bits ((uid_t)-1 means "no
 * uid"), and times end at 9999-12-31, well inside cJSON's 15 printed
 * digits. */
#define UID_MAX_VALID 4294967294LL
#define PID_MAX_VALID 2147483647LL
#define TIME_MAX_VALID 253402300799LL

static int
add_str(cJSON *o, const char *key, const char *val)
{
    cJSON *item = val != NULL ? cJSON_CreateString(val) : cJSON_CreateNull();

    if (item == NULL)
        return -1;
    if (!cJSON_AddItemToObject(o, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

static int
add_int(cJSON *o, const char *key, int64_t v)
{
    return cJSON_AddNumberToObject(o, key, (double)v) == NULL ? -1 : 0;
}

int
stsrole_session_to_json(const struct stsrole_session *s, struct stsrole_buf *out,
                        struct stsrole_error *err)
{
    cJSON *o;
    char *text;
    int bad = 0, rc;

    if (s == NULL || !stsrole_session_id_valid(s->session_id))
        return stsrole_fail(err, STSROLE_E_INVALID, "session record without a valid id");
    /* Refuse what stsrole_session_from_json would refuse, so no record is
     * written that the gateway cannot read back. */
    if (s->parent != NULL && !stsrole_session_id_valid(s->parent))
        return stsrole_fail(err, STSROLE_E_INVALID, "session record: parent id is malformed");
    if (s->sid[0] != '\0' && !stsrole_sid_valid(s->sid))
        return stsrole_fail(err, STSROLE_E_INVALID, "session record: sid is malformed");
    if ((int64_t)s->uid > UID_MAX_VALID || s->sshd_pid < 0 || s->sshd_start < 0 ||
        s->sshd_start > TIME_MAX_VALID || s->expiration < 0 || s->expiration > TIME_MAX_VALID ||
        s->opened < 0 || s->opened > TIME_MAX_VALID || s->closed < 0 || s->closed > TIME_MAX_VALID)
        return stsrole_fail(err, STSROLE_E_INVALID, "session record: a number is out of range");
    o = cJSON_CreateObject();
    if (o == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    bad |= add_int(o, "version", SESSION_FORMAT_VERSION);
    bad |= add_str(o, "session_id", s->session_id);
    bad |= add_str(o, "user", s->user);
    bad |= add_int(o, "uid", (int64_t)s->uid);
    bad |= add_str(o, "rhost", s->rhost);
    bad |= add_str(o, "tty", s->tty);
    bad |= add_int(o, "sshd_pid", (int64_t)s->sshd_pid);
    bad |= add_str(o, "role_name", s->role_name);
    bad |= add_str(o, "role_arn", s->role_arn);
    bad |= add_str(o, "assumed_role_id", s->assumed_role_id);
    bad |= add_str(o, "session_name", s->session_name);
    bad |= add_str(o, "access_key_id", s->access_key_id);
    bad |= add_int(o, "expiration", s->expiration);
    bad |= add_str(o, "source_identity", s->source_identity);
    bad |= add_str(o, "aws_request_id", s->aws_request_id);
    bad |= add_int(o, "opened", s->opened);
    bad |= add_int(o, "closed", s->closed);
    /* Only in credentials_mode = process, so env-mode records read as before. */
    if (s->refresh)
        bad |= add_str(o, "credentials_mode", "process");
    if (s->parent != NULL)
        bad |= add_str(o, "parent", s->parent);
    /* Absent when unknown, so older readers and records agree. */
    if (s->sshd_start > 0)
        bad |= add_int(o, "sshd_start", s->sshd_start);
    if (s->mfa != NULL)
        bad |= add_str(o, "mfa", s->mfa);
    if (s->sid[0] != '\0')
        bad |= add_str(o, "sid", s->sid);
    text = bad ? NULL : cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    stsrole_buf_init(out, 0);
    rc = stsrole_buf_puts(out, text);
    if (rc == STSROLE_OK)
        rc = stsrole_buf_puts(out, "\n");
    free(text);
    if (rc != STSROLE_OK) {
        stsrole_buf_free(out);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    return STSROLE_OK;
}

static int
get_str(const cJSON *o, const char *key, int required, char **out, struct stsrole_error *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);

    *out = NULL;
    if ((item == NULL || cJSON_IsNull(item)) && !required)
        return STSROLE_OK;
    if (!cJSON_IsString(item) || item->valuestring == NULL)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "session record: %s: %s", key,
                            item == NULL ? "missing" : "not a string");
    *out = strdup(item->valuestring);
    if (*out == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    return STSROLE_OK;
}

static int
get_int(const cJSON *o, const char *key, int64_t min, int64_t max, int64_t *out,
        struct stsrole_error *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
    double d;

    if (!cJSON_IsNumber(item))
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "session record: %s: %s", key,
                            item == NULL ? "missing" : "not a number");
    d = item->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < (double)min || d > (double)max)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "session record: %s: out of range", key);
    *out = (int64_t)d;
    return STSROLE_OK;
}

/* "credentials_mode": absent or "env" (0), or "process" (1). */
static int
get_mode(const cJSON *o, int *refresh, struct stsrole_error *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, "credentials_mode");

    *refresh = 0;
    if (item == NULL || cJSON_IsNull(item))
        return STSROLE_OK;
    if (cJSON_IsString(item) && strcmp(item->valuestring, "env") == 0)
        return STSROLE_OK;
    if (cJSON_IsString(item) && strcmp(item->valuestring, "process") == 0) {
        *refresh = 1;
        return STSROLE_OK;
    }
    return stsrole_fail(err, STSROLE_E_PROTOCOL, "session record: credentials_mode: unknown");
}

int
stsrole_session_from_json(const char *json, size_t len, struct stsrole_session *s,
                          struct stsrole_error *err)
{
    struct stsrole_session r;
    cJSON *o;
    char *id = NULL, *sid = NULL;
    int64_t v;
    int rc;

    memset(&r, 0, sizeof(r));
    memset(s, 0, sizeof(*s));
    if (json == NULL || len > SESSION_MAX_BYTES)
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "session record: empty or oversized");
    o = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "session record: not a JSON object");
    }
    if ((rc = get_int(o, "version", 0, 1000, &v, err)) != STSROLE_OK)
        goto out;
    if (v != SESSION_FORMAT_VERSION) {
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "session record: unknown version %lld",
                          (long long)v);
        goto out;
    }
    if ((rc = get_str(o, "session_id", 1, &id, err)) != STSROLE_OK)
        goto out;
    if (!stsrole_session_id_valid(id)) {
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "session record: session_id is malformed");
        goto out;
    }
    memcpy(r.session_id, id, 33);
    if ((rc = get_str(o, "user", 1, &r.user, err)) != STSROLE_OK ||
        (rc = get_int(o, "uid", 0, UID_MAX_VALID, &v, err)) != STSROLE_OK)
        goto out;
    r.uid = (uid_t)v;
    if ((rc = get_str(o, "rhost", 0, &r.rhost, err)) != STSROLE_OK ||
        (rc = get_str(o, "tty", 0, &r.tty, err)) != STSROLE_OK ||
        (rc = get_int(o, "sshd_pid", 0, PID_MAX_VALID, &v, err)) != STSROLE_OK)
        goto out;
    r.sshd_pid = (pid_t)v;
    if ((rc = get_str(o, "role_name", 0, &r.role_name, err)) != STSROLE_OK ||
        (rc = get_str(o, "role_arn", 1, &r.role_arn, err)) != STSROLE_OK ||
        (rc = get_str(o, "assumed_role_id", 1, &r.assumed_role_id, err)) != STSROLE_OK ||
        (rc = get_str(o, "session_name", 1, &r.session_name, err)) != STSROLE_OK ||
        (rc = get_str(o, "access_key_id", 1, &r.access_key_id, err)) != STSROLE_OK ||
        (rc = get_int(o, "expiration", 0, TIME_MAX_VALID, &r.expiration, err)) != STSROLE_OK ||
        (rc = get_str(o, "source_identity", 1, &r.source_identity, err)) != STSROLE_OK ||
        (rc = get_str(o, "aws_request_id", 0, &r.aws_request_id, err)) != STSROLE_OK ||
        (rc = get_int(o, "opened", 0, TIME_MAX_VALID, &r.opened, err)) != STSROLE_OK ||
        (rc = get_int(o, "closed", 0, TIME_MAX_VALID, &r.closed, err)) != STSROLE_OK)
        goto out;
    if ((rc = get_mode(o, &r.refresh, err)) != STSROLE_OK ||
        (rc = get_str(o, "parent", 0, &r.parent, err)) != STSROLE_OK ||
        (rc = get_str(o, "mfa", 0, &r.mfa, err)) != STSROLE_OK)
        goto out;
    if (cJSON_GetObjectItemCaseSensitive(o, "sshd_start") != NULL &&
        (rc = get_int(o, "sshd_start", 0, TIME_MAX_VALID, &r.sshd_start, err)) != STSROLE_OK)
        goto out;
    if (r.parent != NULL && !stsrole_session_id_valid(r.parent)) {
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "session record: parent is malformed");
        goto out;
    }
    if ((rc = get_str(o, "sid", 0, &sid, err)) != STSROLE_OK)
        goto out;
    if (sid != NULL && (strlen(sid) > STSROLE_SID_LEN || !stsrole_sid_valid(sid))) {
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "session record: sid is malformed");
        goto out;
    }
    if (sid != NULL)
        memcpy(r.sid, sid, strlen(sid) + 1);
    *s = r;
    memset(&r, 0, sizeof(r));
out:
    free(id);
    free(sid);
    stsrole_session_free(&r);
    cJSON_Delete(o);
    return rc;
}

/* Opens (and with create, makes) STATE_DIR and STATE_DIR/sessions; the
 * descriptor of the latter goes to *fd_out, its path to out. */
static int
sessions_dir(const char *state_dir, int create, char *out, size_t outlen, int *fd_out,
             struct stsrole_error *err)
{
    int fd, rc;

    if (state_dir == NULL || state_dir[0] != '/')
        return stsrole_fail(err, STSROLE_E_CONFIG, "state_dir must be an absolute path");
    if ((size_t)snprintf(out, outlen, "%s/sessions", state_dir) >= outlen)
        return stsrole_fail(err, STSROLE_E_CONFIG, "state_dir is too long");
    rc = stsrole_open_dir_safely(state_dir, create, &fd, err);
    if (rc != STSROLE_OK)
        return rc;
    close(fd);
    return stsrole_open_dir_safely(out, create, fd_out, err);
}

static int
record_path(const char *dir, const char *session_id, char *out, size_t outlen,
            struct stsrole_error *err)
{
    /* The id becomes a file name: only the exact hex form may, so no
     * "../" or "/" can leave the directory. */
    if (!stsrole_session_id_valid(session_id))
        return stsrole_fail(err, STSROLE_E_INVALID, "session id is malformed");
    if ((size_t)snprintf(out, outlen, "%s/%s.json", dir, session_id) >= outlen)
        return stsrole_fail(err, STSROLE_E_CONFIG, "state_dir is too long");
    return STSROLE_OK;
}

static int
write_record(const char *dir, const struct stsrole_session *s, struct stsrole_error *err)
{
    struct stsrole_buf json;
    char path[4096];
    int rc;

    rc = record_path(dir, s->session_id, path, sizeof(path), err);
    if (rc != STSROLE_OK)
        return rc;
    rc = stsrole_session_to_json(s, &json, err);
    if (rc != STSROLE_OK)
        return rc;
    /* stsrole_write_atomic fsyncs the file and the directory before it
     * returns: the gateway must find this record even after a crash. */
    rc = stsrole_write_atomic(path, json.data, json.len, 0600, err);
    stsrole_buf_free(&json);
    return rc;
}

int
stsrole_session_write(const char *state_dir, const struct stsrole_session *s,
                      struct stsrole_error *err)
{
    char dir[4096];
    int fd, rc;

    if (s == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "no session record");
    rc = sessions_dir(state_dir, 1, dir, sizeof(dir), &fd, err);
    if (rc != STSROLE_OK)
        return rc;
    close(fd);
    return write_record(dir, s, err);
}

static int
read_record(const char *dir, const char *session_id, struct stsrole_session *s,
            struct stsrole_error *err)
{
    struct stsrole_buf text;
    char path[4096];
    int rc;

    rc = record_path(dir, session_id, path, sizeof(path), err);
    if (rc != STSROLE_OK)
        return rc;
    rc = stsrole_read_safely(path, geteuid(), 0, SESSION_MAX_BYTES, &text, err);
    if (rc != STSROLE_OK)
        return rc;
    rc = stsrole_session_from_json(text.data, text.len, s, err);
    stsrole_buf_free(&text);
    if (rc == STSROLE_OK && strcmp(s->session_id, session_id) != 0) {
        stsrole_session_free(s);
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "%s: holds another session id", path);
    }
    return rc;
}

int
stsrole_session_read(const char *state_dir, const char *session_id, struct stsrole_session *s,
                     struct stsrole_error *err)
{
    char dir[4096];
    int fd, rc;

    memset(s, 0, sizeof(*s));
    rc = sessions_dir(state_dir, 0, dir, sizeof(dir), &fd, err);
    if (rc != STSROLE_OK)
        return rc;
    close(fd);
    return read_record(dir, session_id, s, err);
}

int
stsrole_session_lock(const char *state_dir, int *lock_fd, struct stsrole_error *err)
{
    char dir[4096];
    int fd, rc;

    *lock_fd = -1;
    rc = sessions_dir(state_dir, 0, dir, sizeof(dir), &fd, err);
    if (rc != STSROLE_OK)
        return rc;
    if (flock(fd, LOCK_EX) != 0) {
        rc = stsrole_fail(err, STSROLE_E_IO, "%s: flock: %s", dir, strerror(errno));
        close(fd);
        return rc;
    }
    *lock_fd = fd;
    return STSROLE_OK;
}

void
stsrole_session_unlock(int lock_fd)
{
    if (lock_fd >= 0)
        close(lock_fd); /* closing the last descriptor drops the flock */
}

int
stsrole_session_mark_closed(const char *state_dir, const char *session_id, int64_t now,
                            struct stsrole_error *err)
{
    struct stsrole_session s;
    char dir[4096];
    int fd, rc;

    /* Read-modify-write under the directory lock, so a concurrent
     * rewrite of the same record (stsrole_session_lock) is not lost.
     * Only local files are touched: logout never waits on AWS. */
    rc = stsrole_session_lock(state_dir, &fd, err);
    if (rc != STSROLE_OK)
        return rc;
    if ((size_t)snprintf(dir, sizeof(dir), "%s/sessions", state_dir) >= sizeof(dir)) {
        stsrole_session_unlock(fd);
        return stsrole_fail(err, STSROLE_E_CONFIG, "state_dir is too long");
    }
    rc = read_record(dir, session_id, &s, err);
    if (rc == STSROLE_OK) {
        /* The first close wins: a record is closed once. */
        if (s.closed == 0) {
            s.closed = now > 0 ? now : 1;
            rc = write_record(dir, &s, err);
        }
        stsrole_session_free(&s);
    }
    stsrole_session_unlock(fd);
    return rc;
}
