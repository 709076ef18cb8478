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
    if ((int64_t)s->uid > UID_MAX_VALID || s->sshd_pid < 0 || s->expiration < 0 ||
        s->expiration > TIME_MAX_VALID || s->opened < 0 || s->opened > TIME_MAX_VALID ||
        s->closed < 0 || s->closed > TIME_MAX_VALID)
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
    char *id = NULL;
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
        (rc = get_str(o, "parent", 0, &r.parent, err)) != STSROLE_OK)
        goto out;
    if (r.parent != NULL && !stsrole_session_id_valid(r.parent)) {
        rc = stsrole_fail(err, STSROLE_E_PROTOCOL, "session record: parent is malformed");
        goto out;
    }
    *s = r;
    memset(&r, 0, sizeof(r));
out:
    free(id);
    stsrole_session_free(&r);
    cJSON_Delete(o);
    return rc;
}

/* A directory we keep records in: a real directory (not a symlink) owned
 * by us or root, and writable by nobody else, or the gateway could be fed
 * forged records. Created with mode 0700 when missing. */
static int
open_state_dir(const char *path, int create, int *fd_out, struct stsrole_error *err)
{
    struct stat st;
    int fd;

    if (create && mkdir(path, 0700) != 0 && errno != EEXIST)
        return stsrole_fail(err, STSROLE_E_IO, "%s: mkdir: %s", path, strerror(errno));
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP || errno == ENOTDIR)
            return stsrole_fail(err, STSROLE_E_UNSAFE, "%s: not a directory, or a symlink", path);
        if (errno == ENOENT)
            return stsrole_fail(err, STSROLE_E_NOTFOUND, "%s: no such directory", path);
        return stsrole_fail(err, STSROLE_E_IO, "%s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        return stsrole_fail(err, STSROLE_E_IO, "%s: fstat: %s", path, strerror(saved));
    }
    if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        close(fd);
        return stsrole_fail(err, STSROLE_E_UNSAFE,
                            "%s: must be owned by root and not group- or world-writable "
                            "(owner uid %u, mode %04o)",
                            path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    }
    *fd_out = fd;
    return STSROLE_OK;
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
    rc = open_state_dir(state_dir, create, &fd, err);
    if (rc != STSROLE_OK)
        return rc;
    close(fd);
    return open_state_dir(out, create, fd_out, err);
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

/* ---- credentials_mode = process ------------------------------------------------------ */

/* A directory people must reach but not change: made with mode if missing,
 * then held to open_state_dir's rules (a real directory, root-owned, not
 * group- or world-writable), and given the search bits it lacks. */
static int
open_shared_dir(const char *path, mode_t mode, int *fd_out, struct stsrole_error *err)
{
    struct stat st;
    int fd, rc;

    if (mkdir(path, mode) != 0 && errno != EEXIST)
        return stsrole_fail(err, STSROLE_E_IO, "%s: mkdir: %s", path, strerror(errno));
    rc = open_state_dir(path, 0, &fd, err);
    if (rc != STSROLE_OK)
        return rc;
    if (fstat(fd, &st) != 0 ||
        ((st.st_mode & 0111) != 0111 && fchmod(fd, (st.st_mode & 07777) | 0111) != 0)) {
        rc = stsrole_fail(err, STSROLE_E_IO, "%s: cannot make it searchable: %s", path,
                          strerror(errno));
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return STSROLE_OK;
}

int
stsrole_session_runtime_dir(const char *runtime_dir, int *fd_out, struct stsrole_error *err)
{
    *fd_out = -1;
    if (runtime_dir == NULL || runtime_dir[0] != '/')
        return stsrole_fail(err, STSROLE_E_CONFIG, "runtime_dir must be an absolute path");
    return open_shared_dir(runtime_dir, 0755, fd_out, err);
}

/* RUNTIME_DIR/aws: 0711, so a user reaches the file whose name they know
 * (from AWS_CONFIG_FILE) and cannot list who else is logged in. */
static int
config_dir(const char *runtime_dir, char *dir, size_t dirlen, int *fd_out,
           struct stsrole_error *err)
{
    int fd, rc;

    rc = stsrole_session_runtime_dir(runtime_dir, &fd, err);
    if (rc != STSROLE_OK)
        return rc;
    close(fd);
    if ((size_t)snprintf(dir, dirlen, "%s/%s", runtime_dir, STSROLE_AWS_CONFIG_DIR) >= dirlen)
        return stsrole_fail(err, STSROLE_E_CONFIG, "runtime_dir is too long");
    return open_shared_dir(dir, 0711, fd_out, err);
}

int
stsrole_session_aws_config(const char *runtime_dir, const char *session_id, uid_t uid, gid_t gid,
                           const char *helper, const char *region, char *path, size_t pathlen,
                           struct stsrole_error *err)
{
    struct stsrole_buf text;
    char dir[4096], name[48];
    int dfd, fd, rc;

    if (!stsrole_session_id_valid(session_id) || helper == NULL || region == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "AWS config file: bad arguments");
    rc = config_dir(runtime_dir, dir, sizeof(dir), &dfd, err);
    if (rc != STSROLE_OK)
        return rc;
    snprintf(name, sizeof(name), "%s.config", session_id);
    if ((size_t)snprintf(path, pathlen, "%s/%s", dir, name) >= pathlen) {
        close(dfd);
        return stsrole_fail(err, STSROLE_E_CONFIG, "runtime_dir is too long");
    }
    stsrole_buf_init(&text, 0);
    /* botocore splits credential_process on whitespace; stsrole.conf
     * refuses spaces and quotes in both paths. */
    rc = stsrole_buf_printf(&text,
                            "# stsrole: the AWS configuration of SSH session %s, removed at "
                            "logout.\n"
                            "# stsrole-gatewayd serves and refreshes its credential while the "
                            "session lives.\n"
                            "[profile %s]\n"
                            "credential_process = %s --socket %s/%s --session %s\n"
                            "region = %s\n",
                            session_id, STSROLE_AWS_PROFILE, helper, runtime_dir,
                            STSROLE_CRED_SOCKET, session_id, region);
    if (rc != STSROLE_OK) {
        close(dfd);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    /* Session ids are random: a file by this name is a leftover. */
    (void)unlinkat(dfd, name, 0);
    fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = stsrole_fail(err, STSROLE_E_IO, "%s: %s", path, strerror(errno));
    } else {
        if (write(fd, text.data, text.len) != (ssize_t)text.len || fchown(fd, uid, gid) != 0 ||
            fchmod(fd, 0600) != 0)
            rc = stsrole_fail(err, STSROLE_E_IO, "%s: %s", path, strerror(errno));
        if (close(fd) != 0 && rc == STSROLE_OK)
            rc = stsrole_fail(err, STSROLE_E_IO, "%s: close: %s", path, strerror(errno));
        if (rc != STSROLE_OK)
            (void)unlinkat(dfd, name, 0);
    }
    stsrole_buf_free(&text);
    close(dfd);
    return rc;
}

int
stsrole_session_aws_config_remove(const char *runtime_dir, const char *session_id,
                                  struct stsrole_error *err)
{
    char path[4200];

    if (!stsrole_session_id_valid(session_id) || runtime_dir == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "AWS config file: bad arguments");
    snprintf(path, sizeof(path), "%s/%s/%s.config", runtime_dir, STSROLE_AWS_CONFIG_DIR,
             session_id);
    if (unlink(path) != 0 && errno != ENOENT)
        return stsrole_fail(err, STSROLE_E_IO, "%s: %s", path, strerror(errno));
    return STSROLE_OK;
}

static void
wipe_json_strings(cJSON *o)
{
    cJSON *it;

    cJSON_ArrayForEach(it, o)
    {
        if (cJSON_IsString(it) && it->valuestring != NULL)
            stsrole_wipe(it->valuestring, strlen(it->valuestring));
    }
}

int
stsrole_session_handoff(const char *runtime_dir, const char *session_id,
                        const struct stsrole_creds *c, int timeout_ms, struct stsrole_error *err)
{
    struct sockaddr_un sa;
    struct timeval tv;
    struct ucred peer;
    socklen_t plen = sizeof(peer);
    cJSON *req, *resp;
    const cJSON *e;
    char *text = NULL, answer[1024];
    size_t len = 0, tlen;
    ssize_t n;
    int fd, rc = STSROLE_OK;

    if (!stsrole_session_id_valid(session_id) || c == NULL || c->access_key_id == NULL ||
        c->secret_access_key == NULL || c->session_token == NULL || runtime_dir == NULL)
        return stsrole_fail(err, STSROLE_E_INVALID, "handoff: bad arguments");
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", runtime_dir,
                         STSROLE_CRED_SOCKET) >= sizeof(sa.sun_path))
        return stsrole_fail(err, STSROLE_E_CONFIG, "runtime_dir is too long for a unix socket");
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return stsrole_fail(err, STSROLE_E_IO, "socket: %s", strerror(errno));
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        rc = stsrole_fail(err, STSROLE_E_IO, "cannot reach stsrole-gatewayd at %s: %s", sa.sun_path,
                          strerror(errno));
        close(fd);
        return rc;
    }
    /* The secret goes only to a root process: whoever else managed to
     * bind this path gets nothing. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0 ||
        (peer.uid != 0 && peer.uid != geteuid())) {
        close(fd);
        return stsrole_fail(err, STSROLE_E_UNSAFE, "%s: the listener is not root", sa.sun_path);
    }
    req = cJSON_CreateObject();
    if (req != NULL && cJSON_AddStringToObject(req, "cmd", "adopt") != NULL &&
        cJSON_AddStringToObject(req, "session", session_id) != NULL &&
        cJSON_AddStringToObject(req, "AccessKeyId", c->access_key_id) != NULL &&
        cJSON_AddStringToObject(req, "SecretAccessKey", c->secret_access_key) != NULL &&
        cJSON_AddStringToObject(req, "SessionToken", c->session_token) != NULL &&
        cJSON_AddNumberToObject(req, "Expiration", (double)c->expiration) != NULL)
        text = cJSON_PrintUnformatted(req);
    wipe_json_strings(req);
    cJSON_Delete(req);
    if (text == NULL) {
        close(fd);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    }
    tlen = strlen(text);
    text[tlen] = '\n'; /* replaces the terminator; the length is kept */
    n = send(fd, text, tlen + 1, MSG_NOSIGNAL);
    stsrole_wipe(text, tlen + 1);
    free(text);
    if (n != (ssize_t)(tlen + 1)) {
        close(fd);
        return stsrole_fail(err, STSROLE_E_IO, "%s: send: %s", sa.sun_path,
                            n < 0 ? strerror(errno) : "short write");
    }
    while (len < sizeof(answer) - 1 && memchr(answer, '\n', len) == NULL) {
        n = read(fd, answer + len, sizeof(answer) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    answer[len] = '\0';
    resp = cJSON_ParseWithLength(answer, len);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"))) {
        rc = STSROLE_OK;
    } else {
        e = cJSON_GetObjectItemCaseSensitive(resp, "error");
        rc = stsrole_fail(err, len == 0 ? STSROLE_E_IO : STSROLE_E_DENIED, "stsrole-gatewayd: %s",
                          cJSON_IsString(e) ? e->valuestring
                          : len == 0        ? "no answer"
                                            : "malformed answer");
    }
    cJSON_Delete(resp);
    return rc;
}
