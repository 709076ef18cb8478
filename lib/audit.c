/* SPDX-License-Identifier: BSD-3-Clause */
/* audit.c: the hash-chained JSON Lines audit log: record format, durable append, verification. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "fdio.h"
#include "hash.h"

/* ,"hash":"<64 hex>"} closes every line. */
#define HASH_PREFIX ",\"hash\":\""
#define HASH_PREFIX_LEN 9
#define HASH_SUFFIX_LEN (HASH_PREFIX_LEN + 64 + 2)
/* The tail read at open; a record is a few hundred bytes. */
#define TAIL_MAX (64 * 1024)

static void
ts_format(int64_t ts_ms, char out[32])
{
    char base[21];

    stsrole_iso8601(ts_ms / 1000, base);
    /* "YYYY-MM-DDTHH:MM:SS" + ".mmm" + "Z" */
    snprintf(out, 32, "%.19s.%03uZ", base, (unsigned)(ts_ms % 1000));
}

static int
add_str(cJSON *o, const char *k, const char *v)
{
    if (v == NULL)
        return cJSON_AddNullToObject(o, k) != NULL;
    return cJSON_AddStringToObject(o, k, v) != NULL;
}

/* extra's members, each once, none in place of a standard one (prev and
 * hash are added after this, and refused too). */
static int
add_extra(cJSON *o, const cJSON *extra)
{
    const cJSON *it;
    cJSON *copy;

    if (extra == NULL)
        return 1;
    cJSON_ArrayForEach(it, extra)
    {
        if (it->string == NULL || cJSON_HasObjectItem(o, it->string) ||
            strcmp(it->string, "prev") == 0 || strcmp(it->string, "hash") == 0)
            continue;
        if ((copy = cJSON_Duplicate(it, 1)) == NULL ||
            !cJSON_AddItemToObject(o, it->string, copy)) {
            cJSON_Delete(copy);
            return 0;
        }
    }
    return 1;
}

int
stsrole_audit_format(const char *host, const char *bastion_id, uint64_t seq, int64_t ts_ms,
                     const char *prev, const struct stsrole_audit_record *r,
                     struct stsrole_buf *out, struct stsrole_error *err)
{
    cJSON *o;
    char ts[32], exp[21], hash[65], *text = NULL;
    size_t tl;
    int ok;

    stsrole_buf_reset(out);
    if (r->event == NULL || prev == NULL || strlen(prev) != 64 || seq == 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "audit record without event, seq or prev");
    if ((o = cJSON_CreateObject()) == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory formatting an audit record");
    ts_format(ts_ms, ts);
    if (r->expiration != 0)
        stsrole_iso8601(r->expiration, exp);
    ok = cJSON_AddNumberToObject(o, "seq", (double)seq) != NULL && add_str(o, "ts", ts) &&
         add_str(o, "host", host) && add_str(o, "bastion_id", bastion_id) &&
         add_str(o, "event", r->event) && add_str(o, "user", r->user) &&
         (r->uid >= 0 ? cJSON_AddNumberToObject(o, "uid", (double)r->uid) != NULL
                      : cJSON_AddNullToObject(o, "uid") != NULL) &&
         add_str(o, "rhost", r->rhost) && add_str(o, "tty", r->tty) &&
         add_str(o, "session_id", r->session_id) && add_str(o, "role_arn", r->role_arn) &&
         add_str(o, "account", r->account) && add_str(o, "session_name", r->session_name) &&
         add_str(o, "source_identity", r->source_identity) &&
         add_str(o, "access_key_id", r->access_key_id) &&
         add_str(o, "expiration", r->expiration != 0 ? exp : NULL) &&
         add_str(o, "aws_request_id", r->aws_request_id) && add_str(o, "outcome", r->outcome) &&
         add_str(o, "detail", r->detail) && add_extra(o, r->extra) && add_str(o, "prev", prev);
    if (ok)
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory formatting an audit record");
    /* hash covers the record up to prev; the line then closes with it. */
    tl = strlen(text);
    stsrole_sha256_hex(text, tl, hash);
    ok = stsrole_buf_append(out, text, tl - 1) == STSROLE_OK &&
         stsrole_buf_printf(out, HASH_PREFIX "%s\"}", hash) == STSROLE_OK;
    free(text);
    if (!ok)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory formatting an audit record");
    return STSROLE_OK;
}

void
stsrole_audit_summary(uint64_t seq, const struct stsrole_audit_record *r, char *out, size_t outlen)
{
#define S(x) ((x) != NULL ? (x) : "-")
    snprintf(out, outlen,
             "audit seq=%llu event=%s outcome=%s user=%s session=%s role=%s key=%s "
             "request=%s%s%s",
             (unsigned long long)seq, S(r->event), S(r->outcome), S(r->user), S(r->session_id),
             S(r->role_arn), S(r->access_key_id), S(r->aws_request_id),
             r->detail != NULL ? " detail=" : "", r->detail != NULL ? r->detail : "");
#undef S
}

static int
is_hex64(const char *s, size_t len)
{
    size_t i;

    if (len != 64)
        return 0;
    for (i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* What one line says about itself, once its own hash checks out. */
struct line_info {
    uint64_t seq;
    char prev[65];
    char hash[65];
    char event[32];
    char session[33];
};

/* Checks a line on its own: shape, its hash member, the required members.
 * why receives the reason on failure. */
static int
line_check(const char *line, size_t len, struct line_info *li, char *why, size_t whylen)
{
    const char *suffix;
    char want[65];
    cJSON *o = NULL;
    const cJSON *seq, *prev, *ts, *ev, *sid;
    struct stsrole_buf body;
    int rc = STSROLE_E_PROTOCOL;

    memset(li, 0, sizeof(*li));
    if (len < HASH_SUFFIX_LEN + 2 || line[0] != '{') {
        snprintf(why, whylen, "not an audit record");
        return rc;
    }
    suffix = line + len - HASH_SUFFIX_LEN;
    if (memcmp(suffix, HASH_PREFIX, HASH_PREFIX_LEN) != 0 ||
        !is_hex64(suffix + HASH_PREFIX_LEN, 64) || memcmp(line + len - 2, "\"}", 2) != 0) {
        snprintf(why, whylen, "record has no hash member at its end");
        return rc;
    }
    stsrole_buf_init(&body, 0);
    if (stsrole_buf_append(&body, line, len - HASH_SUFFIX_LEN) != STSROLE_OK ||
        stsrole_buf_puts(&body, "}") != STSROLE_OK) {
        snprintf(why, whylen, "out of memory");
        stsrole_buf_free(&body);
        return STSROLE_E_NOMEM;
    }
    stsrole_sha256_hex(body.data, body.len, want);
    stsrole_buf_free(&body);
    if (memcmp(want, suffix + HASH_PREFIX_LEN, 64) != 0) {
        snprintf(why, whylen, "record altered: its content does not match its hash");
        return rc;
    }
    memcpy(li->hash, suffix + HASH_PREFIX_LEN, 64);
    o = cJSON_ParseWithLength(line, len);
    seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
    prev = cJSON_GetObjectItemCaseSensitive(o, "prev");
    ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
    ev = cJSON_GetObjectItemCaseSensitive(o, "event");
    sid = cJSON_GetObjectItemCaseSensitive(o, "session_id");
    if (!cJSON_IsObject(o) || !cJSON_IsNumber(seq) || seq->valuedouble < 1 ||
        seq->valuedouble > 9007199254740992.0 ||
        seq->valuedouble != (double)(uint64_t)seq->valuedouble || !cJSON_IsString(prev) ||
        !is_hex64(prev->valuestring, strlen(prev->valuestring)) || !cJSON_IsString(ts) ||
        !cJSON_IsString(ev) || strlen(ev->valuestring) >= sizeof(li->event)) {
        snprintf(why, whylen, "record lacks seq, ts, event or prev");
        goto out;
    }
    li->seq = (uint64_t)seq->valuedouble;
    memcpy(li->prev, prev->valuestring, 65);
    strcpy(li->event, ev->valuestring);
    if (cJSON_IsString(sid) && strlen(sid->valuestring) < sizeof(li->session))
        strcpy(li->session, sid->valuestring);
    rc = STSROLE_OK;
out:
    cJSON_Delete(o);
    return rc;
}

void
stsrole_audit_verify_init(struct stsrole_audit_verifier *v)
{
    memset(v, 0, sizeof(*v));
    memcpy(v->prev, STSROLE_AUDIT_GENESIS, 65);
}

static int bad(struct stsrole_audit_verifier *v, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad(struct stsrole_audit_verifier *v, size_t line, const char *fmt, ...)
{
    va_list ap;

    v->bad_line = line;
    va_start(ap, fmt);
    vsnprintf(v->why, sizeof(v->why), fmt, ap);
    va_end(ap);
    return STSROLE_E_PROTOCOL;
}

int
stsrole_audit_verify_line(struct stsrole_audit_verifier *v, const char *line, size_t len)
{
    struct line_info li;
    size_t n = v->line + 1;
    char why[200], self[65];

    if (v->bad_line != 0)
        return STSROLE_E_PROTOCOL;
    if (line_check(line, len, &li, why, sizeof(why)) != STSROLE_OK)
        return bad(v, n, "%s", why);
    if (v->lines == 0) {
        /* The chain starts at genesis, or, in a rotated file, with the
         * audit.rotate record that carries the previous file's seq and hash
         * (verify the files together to check the link). */
        if (strcmp(li.event, STSROLE_AUDIT_ROTATE) != 0 &&
            (li.seq != 1 || strcmp(li.prev, STSROLE_AUDIT_GENESIS) != 0))
            return bad(v, n,
                       "the first line does not start the chain (seq %llu, prev not "
                       "genesis): a line is missing before it",
                       (unsigned long long)li.seq);
        /* The gateway's last record must be among the lines checked: a
         * file that begins after it could have been rewritten wholesale.
         * (A rotation between asking the gateway and reading the file also
         * lands here; verifying again, with the rotated file, settles it.) */
        if (v->head_seq != 0 && li.seq > v->head_seq)
            return bad(v, n,
                       "the file begins at seq %llu, after the gateway's last record (seq "
                       "%llu): verify it together with the file before it",
                       (unsigned long long)li.seq, (unsigned long long)v->head_seq);
    } else if (li.seq != v->seq + 1) {
        if (li.seq > v->seq + 1)
            return bad(v, n, "seq %llu where %llu was due: a line is missing before this one",
                       (unsigned long long)li.seq, (unsigned long long)(v->seq + 1));
        return bad(v, n, "seq %llu where %llu was due: a line was moved, copied or inserted",
                   (unsigned long long)li.seq, (unsigned long long)(v->seq + 1));
    } else if (strcmp(li.prev, v->prev) != 0) {
        if (v->line == 0)
            return bad(v, n,
                       "does not continue the previous file: its prev is not the "
                       "SHA-256 of that file's last line");
        /* Both lines verify on their own and their seqs follow: the earlier
         * one was rewritten (with its own hash recomputed). */
        return bad(v, v->line, "record altered: line %zu records a different SHA-256 for this line",
                   n);
    }
    stsrole_sha256_hex(line, len, self);
    if (v->head_seq != 0 && li.seq == v->head_seq) {
        if (strcmp(self, v->head_prev) != 0)
            return bad(v, n, "record altered: it differs from the line the gateway wrote");
        v->head_checked = 1;
    }
    v->line = n;
    v->lines++;
    v->seq = li.seq;
    memcpy(v->prev, self, 65);
    memcpy(v->hash, li.hash, 65);
    return STSROLE_OK;
}

int
stsrole_audit_verify_file(const char *path, struct stsrole_audit_verifier *v,
                          struct stsrole_error *err)
{
    FILE *f;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = STSROLE_OK;

    if ((f = fopen(path, "re")) == NULL)
        return stsrole_fail(err, errno == ENOENT ? STSROLE_E_NOTFOUND : STSROLE_E_IO,
                            "cannot open %s: %s", path, strerror(errno));
    v->line = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') {
            rc = bad(v, v->line + 1, "incomplete last line (no newline)");
            break;
        }
        if ((rc = stsrole_audit_verify_line(v, line, (size_t)n - 1)) != STSROLE_OK)
            break;
    }
    if (rc == STSROLE_OK && ferror(f))
        rc = stsrole_fail(err, STSROLE_E_IO, "cannot read %s", path);
    else if (rc == STSROLE_OK && v->head_seq > v->seq)
        rc = bad(v, v->line + 1,
                 "missing: the log ends at seq %llu but the gateway wrote up to seq %llu",
                 (unsigned long long)v->seq, (unsigned long long)v->head_seq);
    else if (rc == STSROLE_OK && v->head_seq != 0 && !v->head_checked)
        /* The gateway's last record lies in a file checked without its
         * head (e.g. this one is empty after a rotation): it could have
         * been rewritten unseen.  Verify again once the gateway has
         * written to this file. */
        rc = bad(v, v->line + 1,
                 "the gateway's last record (seq %llu) is not in this file: verify again "
                 "after the gateway writes to it",
                 (unsigned long long)v->head_seq);
    free(line);
    fclose(f);
    if (rc == STSROLE_E_PROTOCOL)
        stsrole_fail(err, rc, "line %zu: %s", v->bad_line, v->why);
    return rc;
}

static int
fsync_parent(const char *path)
{
    char *dup = strdup(path);
    int fd, rc = -1;

    if (dup == NULL)
        return -1;
    fd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        rc = fsync(fd);
        close(fd);
    }
    free(dup);
    return rc;
}

/* Counts '\n' in the whole file: the last resort when no line of the tail
 * reads, assuming the file starts at seq 1. */
static int
count_lines(int fd, off_t size, uint64_t *lines)
{
    char buf[8192];
    off_t off = 0;
    size_t chunk, i;

    *lines = 0;
    while (off < size) {
        chunk = (size_t)(size - off) < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
        if (stsrole_pread_full(fd, buf, chunk, off) != (ssize_t)chunk)
            return -1;
        for (i = 0; i < chunk; i++)
            *lines += buf[i] == '\n';
        off += (off_t)chunk;
    }
    return 0;
}

/* Reads the last line and resumes seq/prev from it, cutting off an
 * unfinished line first. */
static int
resume(struct stsrole_audit_log *a, struct stsrole_error *err)
{
    struct stat st;
    struct line_info li;
    char *buf, *end, *start, why[200];
    size_t chunk;
    off_t size, cut;

    if (fstat(a->fd, &st) != 0)
        return stsrole_fail(err, STSROLE_E_IO, "cannot stat %s: %s", a->path, strerror(errno));
    size = st.st_size;
    if (size == 0)
        return STSROLE_OK;
    chunk = size < TAIL_MAX ? (size_t)size : TAIL_MAX;
    if ((buf = malloc(chunk + 1)) == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory reading %s", a->path);
    if (stsrole_pread_full(a->fd, buf, chunk, size - (off_t)chunk) != (ssize_t)chunk) {
        free(buf);
        return stsrole_fail(err, STSROLE_E_IO, "cannot read %s", a->path);
    }
    buf[chunk] = '\0';
    if (buf[chunk - 1] != '\n') {
        end = memrchr(buf, '\n', chunk);
        if (end == NULL && (size_t)size > chunk) {
            free(buf);
            return stsrole_fail(err, STSROLE_E_PROTOCOL, "%s: last line too long", a->path);
        }
        cut = end == NULL ? 0 : size - (off_t)chunk + (end - buf) + 1;
        if (ftruncate(a->fd, cut) != 0 || fsync(a->fd) != 0) {
            free(buf);
            return stsrole_fail(err, STSROLE_E_IO, "cannot cut the unfinished line of %s: %s",
                                a->path, strerror(errno));
        }
        a->torn = (size_t)(size - cut);
        chunk -= (size_t)(size - cut);
        size = cut;
        if (size == 0) {
            free(buf);
            return STSROLE_OK;
        }
    }
    /* buf[0..chunk) now ends with '\n'. */
    end = buf + chunk - 1;
    *end = '\0';
    start = memrchr(buf, '\n', (size_t)(end - buf));
    if (start == NULL && (size_t)size > chunk) {
        free(buf);
        return stsrole_fail(err, STSROLE_E_PROTOCOL, "%s: last line too long", a->path);
    }
    start = start == NULL ? buf : start + 1;
    stsrole_sha256_hex(start, (size_t)(end - start), a->prev);
    if (line_check(start, (size_t)(end - start), &li, why, sizeof(why)) == STSROLE_OK) {
        a->tail_ok = 1;
        a->seq = li.seq;
        strcpy(a->last_event, li.event);
        strcpy(a->last_session, li.session);
        free(buf);
        return STSROLE_OK;
    }
    /* The last line is damaged: seq still follows from the nearest line
     * before it that reads, plus the lines after that one. */
    a->tail_ok = 0;
    {
        uint64_t after = 1;
        char *e = start - 1, *b;

        while (e > buf) {
            *e = '\0';
            b = memrchr(buf, '\n', (size_t)(e - buf));
            b = b == NULL ? buf : b + 1;
            if (line_check(b, (size_t)(e - b), &li, why, sizeof(why)) == STSROLE_OK) {
                a->seq = li.seq + after;
                free(buf);
                return STSROLE_OK;
            }
            after++;
            e = b - 1;
        }
    }
    free(buf);
    if (count_lines(a->fd, size, &a->seq) != 0)
        return stsrole_fail(err, STSROLE_E_IO, "cannot read %s", a->path);
    return STSROLE_OK;
}

int
stsrole_audit_open(struct stsrole_audit_log *a, const char *path, const char *host,
                   const char *bastion_id, struct stsrole_error *err)
{
    struct stat st;
    int rc;

    memset(a, 0, sizeof(*a));
    a->fd = -1;
    a->tail_ok = 1; /* an empty log has nothing to doubt */
    memcpy(a->prev, STSROLE_AUDIT_GENESIS, 65);
    if ((a->path = strdup(path)) == NULL || (a->host = strdup(host ? host : "")) == NULL ||
        (a->bastion_id = strdup(bastion_id ? bastion_id : "")) == NULL) {
        stsrole_audit_close(a);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory opening the audit log");
    }
    a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        rc = stsrole_fail(err, errno == ELOOP ? STSROLE_E_UNSAFE : STSROLE_E_IO,
                          "cannot open audit log %s: %s", path, strerror(errno));
        stsrole_audit_close(a);
        return rc;
    }
    if (fstat(a->fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 022) != 0) {
        stsrole_audit_close(a);
        return stsrole_fail(err, STSROLE_E_UNSAFE,
                            "audit log %s must be a regular file owned by uid %d and not "
                            "group- or world-writable",
                            path, (int)geteuid());
    }
    /* One writer only: two would fork the chain. */
    if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
        rc = stsrole_fail(err, STSROLE_E_IO, "audit log %s is held by another process: %s", path,
                          strerror(errno));
        stsrole_audit_close(a);
        return rc;
    }
    if (st.st_size == 0 && fsync_parent(path) != 0) {
        rc = stsrole_fail(err, STSROLE_E_IO, "cannot sync the directory of %s: %s", path,
                          strerror(errno));
        stsrole_audit_close(a);
        return rc;
    }
    if ((rc = resume(a, err)) != STSROLE_OK) {
        stsrole_audit_close(a);
        return rc;
    }
    return STSROLE_OK;
}

/* One record written; with sync, fsync'd before it counts. */
static int
audit_put(struct stsrole_audit_log *a, const struct stsrole_audit_record *r, int64_t ts_ms,
          struct stsrole_buf *line, int sync, struct stsrole_error *err)
{
    struct stsrole_buf b;
    off_t start;
    size_t done = 0;
    ssize_t n;
    int rc;

    if (a->fd < 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "the audit log is not open");
    stsrole_buf_init(&b, 0);
    rc = stsrole_audit_format(a->host, a->bastion_id, a->seq + 1, ts_ms, a->prev, r, &b, err);
    if (rc != STSROLE_OK)
        goto out;
    if (stsrole_buf_puts(&b, "\n") != STSROLE_OK) {
        rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory writing the audit log");
        goto out;
    }
    start = lseek(a->fd, 0, SEEK_END);
    while (done < b.len) {
        n = write(a->fd, b.data + done, b.len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (done < b.len || (sync && fsync(a->fd) != 0)) {
        rc = stsrole_fail(err, STSROLE_E_IO, "cannot write audit log %s: %s", a->path,
                          strerror(errno));
        /* Leave no half line behind: the next record must chain to the
         * last one that is really there. */
        if (start >= 0 && ftruncate(a->fd, start) == 0 && sync)
            (void)fsync(a->fd);
        goto out;
    }
    a->seq++;
    a->unsynced = sync ? 0 : a->unsynced + 1;
    stsrole_sha256_hex(b.data, b.len - 1, a->prev);
    snprintf(a->last_event, sizeof(a->last_event), "%s", r->event);
    snprintf(a->last_session, sizeof(a->last_session), "%s",
             r->session_id != NULL ? r->session_id : "");
    if (line != NULL) {
        stsrole_buf_reset(line);
        if (stsrole_buf_append(line, b.data, b.len - 1) != STSROLE_OK)
            rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory copying the audit line");
    }
out:
    stsrole_buf_free(&b);
    return rc;
}

int
stsrole_audit_append(struct stsrole_audit_log *a, const struct stsrole_audit_record *r,
                     int64_t ts_ms, struct stsrole_buf *line, struct stsrole_error *err)
{
    return audit_put(a, r, ts_ms, line, 1, err);
}

int
stsrole_audit_write(struct stsrole_audit_log *a, const struct stsrole_audit_record *r,
                    int64_t ts_ms, struct stsrole_buf *line, struct stsrole_error *err)
{
    return audit_put(a, r, ts_ms, line, 0, err);
}

int
stsrole_audit_sync(struct stsrole_audit_log *a, struct stsrole_error *err)
{
    if (a->fd < 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "the audit log is not open");
    if (fsync(a->fd) != 0)
        return stsrole_fail(err, STSROLE_E_IO, "cannot sync audit log %s: %s", a->path,
                            strerror(errno));
    a->unsynced = 0;
    return STSROLE_OK;
}

int
stsrole_audit_tail(const struct stsrole_audit_log *a, size_t max_lines,
                   struct stsrole_audit_tail_line **out, size_t *n, struct stsrole_error *err)
{
    struct stsrole_audit_tail_line *v;
    struct line_info li;
    struct stat st;
    char *buf, *p, *nl, why[200];
    size_t want, have = 0, first;
    off_t size;

    *out = NULL;
    *n = 0;
    if (a->fd < 0)
        return stsrole_fail(err, STSROLE_E_INVALID, "the audit log is not open");
    if (fstat(a->fd, &st) != 0)
        return stsrole_fail(err, STSROLE_E_IO, "cannot stat %s: %s", a->path, strerror(errno));
    size = st.st_size;
    if (size == 0 || max_lines == 0)
        return STSROLE_OK;
    want = max_lines * STSROLE_AUDIT_LINE_TYPICAL;
    if ((off_t)want > size)
        want = (size_t)size;
    if ((buf = malloc(want + 1)) == NULL || (v = calloc(max_lines, sizeof(*v))) == NULL) {
        free(buf);
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory reading %s", a->path);
    }
    if (stsrole_pread_full(a->fd, buf, want, size - (off_t)want) != (ssize_t)want) {
        free(buf);
        free(v);
        return stsrole_fail(err, STSROLE_E_IO, "cannot read %s", a->path);
    }
    buf[want] = '\0';
    /* A read that starts inside a line skips it: only whole lines count. */
    p = buf;
    if ((off_t)want < size) {
        if ((nl = memchr(buf, '\n', want)) == NULL) {
            free(buf);
            free(v);
            return STSROLE_OK;
        }
        p = nl + 1;
    }
    /* A ring of the last max_lines lines that verify on their own. */
    first = 0;
    while (p < buf + want && (nl = memchr(p, '\n', (size_t)(buf + want - p))) != NULL) {
        if (line_check(p, (size_t)(nl - p), &li, why, sizeof(why)) == STSROLE_OK) {
            struct stsrole_audit_tail_line *t = &v[(first + have) % max_lines];

            snprintf(t->event, sizeof(t->event), "%s", li.event);
            snprintf(t->session, sizeof(t->session), "%s", li.session);
            if (have < max_lines)
                have++;
            else
                first = (first + 1) % max_lines;
        }
        p = nl + 1;
    }
    free(buf);
    /* oldest first */
    if (first != 0) {
        struct stsrole_audit_tail_line *w = calloc(max_lines, sizeof(*w));
        size_t i;

        if (w == NULL) {
            free(v);
            return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory reading %s", a->path);
        }
        for (i = 0; i < have; i++)
            w[i] = v[(first + i) % max_lines];
        free(v);
        v = w;
    }
    *out = v;
    *n = have;
    return STSROLE_OK;
}

void
stsrole_audit_close(struct stsrole_audit_log *a)
{
    if (a->fd >= 0)
        close(a->fd);
    free(a->path);
    free(a->host);
    free(a->bastion_id);
    memset(a, 0, sizeof(*a));
    a->fd = -1;
}

/* ---- an exported CloudWatch Logs stream ---------------------------------- */

struct export_event {
    size_t stream;    /* index into the stream table */
    size_t order;     /* position in the export */
    const char *line; /* the message: one audit line */
    struct line_info li;
    char self[65]; /* SHA-256 of the line: the next record's prev */
    char why[128]; /* when not ok */
    int ok;
};

static int
export_cmp(const void *a, const void *b)
{
    const struct export_event *x = a, *y = b;

    if (x->stream != y->stream)
        return x->stream < y->stream ? -1 : 1;
    if (x->li.seq != y->li.seq)
        return x->li.seq < y->li.seq ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int
stream_index(struct stsrole_audit_stream **s, size_t *n, const char *name, size_t *idx)
{
    struct stsrole_audit_stream *ns;
    size_t i;

    for (i = 0; i < *n; i++)
        if (strcmp((*s)[i].name, name) == 0) {
            *idx = i;
            return STSROLE_OK;
        }
    if ((ns = realloc(*s, (*n + 1) * sizeof(**s))) == NULL)
        return STSROLE_E_NOMEM;
    *s = ns;
    memset(&ns[*n], 0, sizeof(ns[*n]));
    snprintf(ns[*n].name, sizeof(ns[*n].name), "%s", name);
    *idx = (*n)++;
    return STSROLE_OK;
}

static void stream_broken(struct stsrole_audit_stream *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
stream_broken(struct stsrole_audit_stream *s, const char *fmt, ...)
{
    va_list ap;

    if (s->broken++ != 0)
        return; /* the first fault is the one worth reading */
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof(s->why), fmt, ap);
    va_end(ap);
}

/* Walks one stream's events, sorted by seq, and fills its report. */
static void
export_walk(struct stsrole_audit_stream *s, const struct export_event *e, size_t n)
{
    const struct export_event *last = NULL;
    size_t i;

    for (i = 0; i < n; i++) {
        s->events++;
        if (!e[i].ok) {
            stream_broken(s, "event %zu: %s", e[i].order + 1, e[i].why);
            continue;
        }
        if (last != NULL && e[i].li.seq == last->li.seq) {
            if (strcmp(e[i].line, last->line) == 0)
                s->duplicates++; /* delivered twice: PutLogEvents is at-least-once */
            else
                stream_broken(s, "two different records with seq %llu",
                              (unsigned long long)e[i].li.seq);
            continue;
        }
        s->records++;
        if (last == NULL) {
            s->first_seq = e[i].li.seq;
        } else if (e[i].li.seq != last->li.seq + 1) {
            if (s->gaps++ == 0)
                snprintf(s->first_gap, sizeof(s->first_gap), "%llu..%llu",
                         (unsigned long long)last->li.seq + 1, (unsigned long long)e[i].li.seq - 1);
            s->missing += e[i].li.seq - last->li.seq - 1;
        } else if (strcmp(e[i].li.prev, last->self) != 0) {
            stream_broken(s,
                          "seq %llu: its prev is not the SHA-256 of seq %llu (a record was "
                          "altered)",
                          (unsigned long long)e[i].li.seq, (unsigned long long)last->li.seq);
        }
        s->last_seq = e[i].li.seq;
        last = &e[i];
    }
}

int
stsrole_audit_verify_export(const char *const *texts, const size_t *lens, size_t ntexts,
                            struct stsrole_audit_stream **streams, size_t *nstreams,
                            struct stsrole_error *err)
{
    struct export_event *ev = NULL, *nev;
    cJSON **docs;
    size_t n = 0, cap = 0, t, i, j;
    int rc = STSROLE_OK;

    *streams = NULL;
    *nstreams = 0;
    if ((docs = calloc(ntexts + 1, sizeof(*docs))) == NULL)
        return stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
    for (t = 0; t < ntexts && rc == STSROLE_OK; t++) {
        const cJSON *events, *it, *msg, *name;

        docs[t] = cJSON_ParseWithLength(texts[t], lens[t]);
        events = cJSON_GetObjectItemCaseSensitive(docs[t], "events");
        if (!cJSON_IsArray(events)) {
            rc = stsrole_fail(err, STSROLE_E_PROTOCOL,
                              "export %zu is not the JSON of aws logs get-log-events or "
                              "filter-log-events (no \"events\" array)",
                              t + 1);
            break;
        }
        cJSON_ArrayForEach(it, events)
        {
            msg = cJSON_GetObjectItemCaseSensitive(it, "message");
            name = cJSON_GetObjectItemCaseSensitive(it, "logStreamName");
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                if ((nev = realloc(ev, cap * sizeof(*ev))) == NULL) {
                    rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
                    break;
                }
                ev = nev;
            }
            memset(&ev[n], 0, sizeof(ev[n]));
            if (stream_index(streams, nstreams, cJSON_IsString(name) ? name->valuestring : "",
                             &ev[n].stream) != STSROLE_OK) {
                rc = stsrole_fail(err, STSROLE_E_NOMEM, "out of memory");
                break;
            }
            ev[n].order = n;
            if (!cJSON_IsString(msg)) {
                ev[n].line = "";
                snprintf(ev[n].why, sizeof(ev[n].why), "an event without a message");
            } else {
                ev[n].line = msg->valuestring;
                ev[n].ok = line_check(msg->valuestring, strlen(msg->valuestring), &ev[n].li,
                                      ev[n].why, sizeof(ev[n].why)) == STSROLE_OK;
                if (ev[n].ok)
                    stsrole_sha256_hex(msg->valuestring, strlen(msg->valuestring), ev[n].self);
            }
            n++;
        }
    }
    if (rc == STSROLE_OK && n > 0) {
        qsort(ev, n, sizeof(*ev), export_cmp);
        for (i = 0; i < n; i = j) {
            for (j = i; j < n && ev[j].stream == ev[i].stream; j++)
                ;
            export_walk(&(*streams)[ev[i].stream], ev + i, j - i);
        }
    }
    free(ev);
    for (t = 0; t < ntexts; t++)
        cJSON_Delete(docs[t]);
    free(docs);
    if (rc != STSROLE_OK) {
        free(*streams);
        *streams = NULL;
        *nstreams = 0;
    }
    return rc;
}
