/* SPDX-License-Identifier: BSD-3-Clause */
/* test_audit.c: the audit log: record format, hash chain, resume after restart, tamper detection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "hash.h"

#define TS 1700000000123LL

struct fixture {
    char dir[64];
    char path[96];
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    strcpy(f->dir, "/tmp/stsrole-test-audit.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/audit.log", f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    char p[128];

    unlink(f->path);
    snprintf(p, sizeof(p), "%s.1", f->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s/link", f->dir);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

static struct stsrole_audit_record
rec(const char *event, const char *user)
{
    struct stsrole_audit_record r;

    memset(&r, 0, sizeof(r));
    r.event = event;
    r.user = user;
    r.uid = 1000;
    r.session_id = "0123456789abcdef0123456789abcdef";
    r.role_arn = "arn:aws:iam::222222222222:role/SecurityAuditRole";
    r.account = "222222222222";
    r.access_key_id = "ASIAEXAMPLE";
    r.expiration = 1700003600;
    r.outcome = "ok";
    return r;
}

/* Writes n records through the real writer. */
static void
write_log(const char *path, int n)
{
    struct stsrole_audit_log a;
    struct stsrole_audit_record r;
    struct stsrole_error e;
    char user[16];
    int i;

    assert_int_equal(stsrole_audit_open(&a, path, "bastion1.example", "b1", &e), STSROLE_OK);
    for (i = 0; i < n; i++) {
        snprintf(user, sizeof(user), "user%d", i);
        r = rec(i % 2 ? "session.close" : "session.open", user);
        assert_int_equal(stsrole_audit_append(&a, &r, TS + i, NULL, &e), STSROLE_OK);
    }
    stsrole_audit_close(&a);
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "r");
    char *buf = calloc(1, 1 << 20);

    assert_non_null(fp);
    *len = fread(buf, 1, (1 << 20) - 1, fp);
    fclose(fp);
    return buf;
}

static void
spit(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
    chmod(path, 0600);
}

/* Start of line n (1-based) in buf. */
static char *
line_at(char *buf, int n)
{
    while (--n > 0) {
        buf = strchr(buf, '\n');
        assert_non_null(buf);
        buf++;
    }
    return buf;
}

static size_t
verify(const char *path)
{
    struct stsrole_audit_verifier v;
    struct stsrole_error e;

    stsrole_audit_verify_init(&v);
    if (stsrole_audit_verify_file(path, &v, &e) == STSROLE_OK)
        return 0;
    return v.bad_line;
}

static void
test_format_fields_and_hash(void **state)
{
    struct stsrole_audit_record r = rec("revoke.ok", "alice");
    struct stsrole_buf b;
    struct stsrole_error e;
    cJSON *j, *it;
    const char *keys[] = {"seq",
                          "ts",
                          "host",
                          "bastion_id",
                          "event",
                          "user",
                          "uid",
                          "rhost",
                          "tty",
                          "session_id",
                          "role_arn",
                          "account",
                          "session_name",
                          "source_identity",
                          "access_key_id",
                          "expiration",
                          "aws_request_id",
                          "outcome",
                          "detail",
                          "prev",
                          "hash"};
    size_t i = 0;
    char want[65];

    (void)state;
    stsrole_buf_init(&b, 0);
    assert_int_equal(stsrole_audit_format("h", "b1", 7, TS, STSROLE_AUDIT_GENESIS, &r, &b, &e),
                     STSROLE_OK);
    assert_null(strchr(b.data, '\n'));
    j = cJSON_Parse(b.data);
    assert_non_null(j);
    cJSON_ArrayForEach(it, j)
    {
        assert_true(i < sizeof(keys) / sizeof(keys[0]));
        assert_string_equal(it->string, keys[i]);
        i++;
    }
    assert_int_equal(i, sizeof(keys) / sizeof(keys[0]));
    assert_int_equal(cJSON_GetObjectItem(j, "seq")->valueint, 7);
    assert_string_equal(cJSON_GetObjectItem(j, "ts")->valuestring, "2023-11-14T22:13:20.123Z");
    assert_string_equal(cJSON_GetObjectItem(j, "expiration")->valuestring, "2023-11-14T23:13:20Z");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "rhost")));
    assert_int_equal(cJSON_GetObjectItem(j, "uid")->valueint, 1000);
    /* hash = SHA-256 of the record up to prev, closed with '}'. */
    {
        char *cut = strstr(b.data, ",\"hash\":");

        assert_non_null(cut);
        *cut = '}';
        stsrole_sha256_hex(b.data, (size_t)(cut - b.data) + 1, want);
        *cut = ',';
    }
    assert_string_equal(cJSON_GetObjectItem(j, "hash")->valuestring, want);
    cJSON_Delete(j);
    stsrole_buf_free(&b);
}

/* A break-glass record's extra members follow detail; none replaces a
 * standard member, prev or hash; a forged newline stays escaped; the
 * line verifies. */
static void
test_format_extra(void **state)
{
    struct stsrole_audit_record r = rec("breakglass.ok", "dave");
    struct stsrole_audit_verifier v;
    struct stsrole_buf b;
    struct stsrole_error e;
    cJSON *x = cJSON_CreateObject(), *a, *j;
    const cJSON *it;
    const char *after[] = {"detail", "id", "reason", "approvers", "prev", "hash"};
    size_t i = 0;

    (void)state;
    cJSON_AddStringToObject(x, "id", "0123456789abcdef");
    cJSON_AddStringToObject(x, "event", "forged");
    cJSON_AddStringToObject(x, "reason", "INC-1\n{\"seq\":1}");
    a = cJSON_AddArrayToObject(x, "approvers");
    cJSON_AddItemToArray(a, cJSON_CreateString("alice"));
    cJSON_AddItemToArray(a, cJSON_CreateString("bob"));
    cJSON_AddStringToObject(x, "prev", "0");
    cJSON_AddStringToObject(x, "hash", "0");
    r.extra = x;
    stsrole_buf_init(&b, 0);
    assert_int_equal(stsrole_audit_format("h", "b1", 1, TS, STSROLE_AUDIT_GENESIS, &r, &b, &e),
                     STSROLE_OK);
    assert_null(strchr(b.data, '\n'));
    j = cJSON_Parse(b.data);
    assert_string_equal(cJSON_GetObjectItem(j, "event")->valuestring, "breakglass.ok");
    assert_string_equal(cJSON_GetObjectItem(j, "reason")->valuestring, "INC-1\n{\"seq\":1}");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "approvers")), 2);
    it = cJSON_GetObjectItem(j, "detail");
    for (; it != NULL; it = it->next, i++) {
        assert_true(i < sizeof(after) / sizeof(after[0]));
        assert_string_equal(it->string, after[i]);
    }
    assert_int_equal(i, sizeof(after) / sizeof(after[0]));
    stsrole_audit_verify_init(&v);
    assert_int_equal(stsrole_audit_verify_line(&v, b.data, b.len), STSROLE_OK);
    cJSON_Delete(j);
    cJSON_Delete(x);
    stsrole_buf_free(&b);
}

static void
test_chain_and_resume(void **state)
{
    struct fixture *f = *state;
    struct stsrole_audit_log a;
    struct stsrole_audit_record r = rec("gateway.start", NULL);
    struct stsrole_buf line;
    struct stsrole_error e;
    char *buf, *last, first_prev[65];
    size_t len;

    write_log(f->path, 5);
    assert_int_equal(verify(f->path), 0);
    /* A restart continues seq and prev from the last line. */
    stsrole_buf_init(&line, 0);
    assert_int_equal(stsrole_audit_open(&a, f->path, "h", "b1", &e), STSROLE_OK);
    assert_int_equal(a.seq, 5);
    assert_true(a.tail_ok);
    assert_string_equal(a.last_event, "session.open");
    assert_string_equal(a.last_session, "0123456789abcdef0123456789abcdef");
    buf = slurp(f->path, &len);
    last = line_at(buf, 5);
    stsrole_sha256_hex(last, strlen(last) - 1, first_prev);
    assert_string_equal(a.prev, first_prev);
    free(buf);
    assert_int_equal(stsrole_audit_append(&a, &r, TS + 10, &line, &e), STSROLE_OK);
    assert_non_null(strstr(line.data, "\"seq\":6,"));
    assert_non_null(strstr(line.data, first_prev));
    stsrole_audit_close(&a);
    stsrole_buf_free(&line);
    assert_int_equal(verify(f->path), 0);
}

/* A batch: lines written at once chain like appended ones, and one sync makes
 * them durable; the tail gives back the last lines, oldest first, each with
 * its event and session, skipping a damaged one. */
static void
test_batch_and_tail(void **state)
{
    struct fixture *f = *state;
    struct stsrole_audit_log a;
    struct stsrole_audit_record r;
    struct stsrole_audit_tail_line *v = NULL;
    struct stsrole_error e;
    char sid[33];
    size_t n;
    int i;

    write_log(f->path, 3);
    assert_int_equal(stsrole_audit_open(&a, f->path, "h", "b1", &e), STSROLE_OK);
    for (i = 0; i < 10; i++) {
        snprintf(sid, sizeof(sid), "%032x", i);
        r = rec(i % 2 ? "revoke.ok" : "session.close", "u");
        r.session_id = sid;
        assert_int_equal(stsrole_audit_write(&a, &r, TS + 100 + i, NULL, &e), STSROLE_OK);
    }
    assert_int_equal(a.unsynced, 10);
    assert_int_equal(a.seq, 13);
    assert_int_equal(stsrole_audit_sync(&a, &e), STSROLE_OK);
    assert_int_equal(a.unsynced, 0);
    assert_int_equal(verify(f->path), 0);

    /* the last 4 of 13, oldest first */
    assert_int_equal(stsrole_audit_tail(&a, 4, &v, &n, &e), STSROLE_OK);
    assert_int_equal(n, 4);
    assert_string_equal(v[0].event, "session.close");
    assert_string_equal(v[0].session, "00000000000000000000000000000006");
    assert_string_equal(v[3].event, "revoke.ok");
    assert_string_equal(v[3].session, "00000000000000000000000000000009");
    free(v);
    /* more than there are: all 13 */
    assert_int_equal(stsrole_audit_tail(&a, 512, &v, &n, &e), STSROLE_OK);
    assert_int_equal(n, 13);
    assert_string_equal(v[0].event, "session.open");
    assert_string_equal(v[12].session, "00000000000000000000000000000009");
    free(v);
    stsrole_audit_close(&a);
}

static void
test_one_writer_only(void **state)
{
    struct fixture *f = *state;
    struct stsrole_audit_log a, b;
    struct stsrole_error e;

    assert_int_equal(stsrole_audit_open(&a, f->path, "h", "b1", &e), STSROLE_OK);
    assert_int_equal(stsrole_audit_open(&b, f->path, "h", "b1", &e), STSROLE_E_IO);
    stsrole_audit_close(&a);
}

static void
test_unsafe_files_refused(void **state)
{
    struct fixture *f = *state;
    struct stsrole_audit_log a;
    struct stsrole_error e;
    char link[128];

    write_log(f->path, 1);
    chmod(f->path, 0666);
    assert_int_equal(stsrole_audit_open(&a, f->path, "h", "b1", &e), STSROLE_E_UNSAFE);
    chmod(f->path, 0600);
    snprintf(link, sizeof(link), "%s/link", f->dir);
    assert_int_equal(symlink(f->path, link), 0);
    assert_int_equal(stsrole_audit_open(&a, link, "h", "b1", &e), STSROLE_E_UNSAFE);
}

static void
test_torn_tail_is_cut(void **state)
{
    struct fixture *f = *state;
    struct stsrole_audit_log a;
    struct stsrole_audit_record r = rec("gateway.start", NULL);
    struct stsrole_error e;
    char *buf;
    size_t len;

    write_log(f->path, 3);
    buf = slurp(f->path, &len);
    /* A crash in the middle of the fourth append. */
    memcpy(buf + len, "{\"seq\":4,\"ts\":", 14);
    spit(f->path, buf, len + 14);
    assert_int_equal(verify(f->path), 4);
    assert_int_equal(stsrole_audit_open(&a, f->path, "h", "b1", &e), STSROLE_OK);
    assert_int_equal(a.torn, 14);
    assert_int_equal(a.seq, 3);
    assert_int_equal(stsrole_audit_append(&a, &r, TS, NULL, &e), STSROLE_OK);
    stsrole_audit_close(&a);
    assert_int_equal(verify(f->path), 0);
    free(buf);
}

/* An export as `aws logs get-log-events` prints it, of the lines picked
 * (1-based; 0 ends), each in stream name. */
static char *
export_of(char *buf, const int *pick, const char *name)
{
    cJSON *doc = cJSON_CreateObject(), *events = cJSON_AddArrayToObject(doc, "events");
    char *out, *line, *end, save;
    int i;

    for (i = 0; pick[i] != 0; i++) {
        cJSON *ev = cJSON_CreateObject();

        line = line_at(buf, pick[i]);
        end = strchr(line, '\n');
        save = *end;
        *end = '\0';
        cJSON_AddNumberToObject(ev, "timestamp", 1700000000000.0 + pick[i]);
        cJSON_AddStringToObject(ev, "message", line);
        if (name != NULL)
            cJSON_AddStringToObject(ev, "logStreamName", name);
        *end = save;
        cJSON_AddItemToArray(events, ev);
    }
    out = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return out;
}

static void
test_export_duplicates_and_gaps(void **state)
{
    static const int dup[] = {1, 2, 3, 3, 4, 5, 6, 0}, gap[] = {2, 3, 5, 6, 0}, a[] = {1, 2, 0},
                     b[] = {2, 1, 3, 0};
    struct fixture *f = *state;
    struct stsrole_audit_stream *st;
    struct stsrole_error e;
    const char *texts[2];
    size_t lens[2], n, len;
    char *buf, *x, *y;

    write_log(f->path, 6);
    buf = slurp(f->path, &len);
    /* Delivered twice: counted, and the chain still holds. */
    x = export_of(buf, dup, NULL);
    texts[0] = x, lens[0] = strlen(x);
    assert_int_equal(stsrole_audit_verify_export(texts, lens, 1, &st, &n, &e), STSROLE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(st[0].events, 7);
    assert_int_equal(st[0].records, 6);
    assert_int_equal(st[0].duplicates, 1);
    assert_int_equal(st[0].gaps, 0);
    assert_int_equal(st[0].broken, 0);
    free(st);
    free(x);
    /* Starts at seq 2 (retention) and lacks seq 4: one gap. */
    x = export_of(buf, gap, NULL);
    texts[0] = x, lens[0] = strlen(x);
    assert_int_equal(stsrole_audit_verify_export(texts, lens, 1, &st, &n, &e), STSROLE_OK);
    assert_int_equal(st[0].first_seq, 2);
    assert_int_equal(st[0].last_seq, 6);
    assert_int_equal(st[0].gaps, 1);
    assert_int_equal(st[0].missing, 1);
    assert_string_equal(st[0].first_gap, "4..4");
    assert_int_equal(st[0].broken, 0);
    free(st);
    free(x);
    /* Two pages, two streams, out of order within one: sorted by seq. */
    x = export_of(buf, a, "gw-a");
    y = export_of(buf, b, "gw-b");
    texts[0] = x, lens[0] = strlen(x), texts[1] = y, lens[1] = strlen(y);
    assert_int_equal(stsrole_audit_verify_export(texts, lens, 2, &st, &n, &e), STSROLE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(st[0].name, "gw-a");
    assert_int_equal(st[0].records, 2);
    assert_string_equal(st[1].name, "gw-b");
    assert_int_equal(st[1].records, 3);
    assert_int_equal(st[1].broken, 0);
    free(st);
    free(x);
    /* An edited record is broken (its hash); so is a non-export. */
    x = export_of(buf, dup, NULL);
    *strstr(x, "user2") = 'U';
    texts[0] = x, lens[0] = strlen(x);
    assert_int_equal(stsrole_audit_verify_export(texts, lens, 1, &st, &n, &e), STSROLE_OK);
    assert_true(st[0].broken > 0);
    assert_non_null(strstr(st[0].why, "hash"));
    free(st);
    free(x);
    texts[0] = "[1]", lens[0] = 3;
    assert_int_equal(stsrole_audit_verify_export(texts, lens, 1, &st, &n, &e), STSROLE_E_PROTOCOL);
    assert_null(st);
    free(y);
    free(buf);
}

static void
test_edit_is_caught_on_that_line(void **state)
{
    struct fixture *f = *state;
    char *buf, *p;
    size_t len;
    int n;

    for (n = 1; n <= 6; n++) {
        write_log(f->path, 6);
        buf = slurp(f->path, &len);
        p = strstr(line_at(buf, n), "\"user\":\"user");
        p[12] = 'X'; /* "userN" -> "userX" */
        spit(f->path, buf, len);
        assert_int_equal(verify(f->path), n);
        free(buf);
        unlink(f->path);
    }
}

static void
test_delete_is_caught_on_that_line(void **state)
{
    struct fixture *f = *state;
    char *buf, *a, *b;
    size_t len;
    int n;

    for (n = 1; n <= 5; n++) {
        write_log(f->path, 6);
        buf = slurp(f->path, &len);
        a = line_at(buf, n);
        b = line_at(buf, n + 1);
        memmove(a, b, len - (size_t)(b - buf));
        spit(f->path, buf, len - (size_t)(b - a));
        assert_int_equal(verify(f->path), n);
        free(buf);
        unlink(f->path);
    }
}

static void
test_deleted_last_line_needs_the_head(void **state)
{
    struct fixture *f = *state;
    struct stsrole_audit_verifier v;
    struct stsrole_audit_log a;
    struct stsrole_error e;
    uint64_t head_seq;
    char head_prev[65], *buf;
    size_t len;

    write_log(f->path, 4);
    assert_int_equal(stsrole_audit_open(&a, f->path, "h", "b1", &e), STSROLE_OK);
    head_seq = a.seq;
    memcpy(head_prev, a.prev, 65);
    stsrole_audit_close(&a);
    buf = slurp(f->path, &len);
    spit(f->path, buf, (size_t)(line_at(buf, 4) - buf));
    assert_int_equal(verify(f->path), 0); /* the chain alone cannot tell */
    stsrole_audit_verify_init(&v);
    v.head_seq = head_seq;
    memcpy(v.head_prev, head_prev, 65);
    assert_int_equal(stsrole_audit_verify_file(f->path, &v, &e), STSROLE_E_PROTOCOL);
    assert_int_equal(v.bad_line, 4);
    assert_non_null(strstr(e.msg, "line 4"));
    free(buf);
}

static void
test_swap_is_caught_on_that_line(void **state)
{
    struct fixture *f = *state;
    char *buf, *out, *a, *b, *c;
    size_t len, la, lb;
    int n;

    for (n = 1; n <= 5; n++) {
        write_log(f->path, 6);
        buf = slurp(f->path, &len);
        out = calloc(1, len + 1);
        a = line_at(buf, n);
        b = line_at(buf, n + 1);
        c = line_at(buf, n + 2);
        la = (size_t)(b - a);
        lb = (size_t)(c - b);
        memcpy(out, buf, (size_t)(a - buf));
        memcpy(out + (a - buf), b, lb);
        memcpy(out + (a - buf) + lb, a, la);
        memcpy(out + (c - buf), c, len - (size_t)(c - buf));
        spit(f->path, out, len);
        assert_int_equal(verify(f->path), n);
        free(out);
        free(buf);
        unlink(f->path);
    }
}

static void
test_rewritten_line_with_new_hash(void **state)
{
    struct fixture *f = *state;
    struct stsrole_audit_record r = rec("session.open", "mallory");
    struct stsrole_buf forged;
    struct stsrole_error e;
    char *buf, *out, *l3, *l4, prev[65];
    size_t len;

    /* A forger who recomputes the line's own hash is caught by the next
     * line's prev, and the report still names the forged line. */
    write_log(f->path, 5);
    buf = slurp(f->path, &len);
    l3 = line_at(buf, 3);
    l4 = line_at(buf, 4);
    stsrole_sha256_hex(line_at(buf, 2), (size_t)(l3 - line_at(buf, 2)) - 1, prev);
    stsrole_buf_init(&forged, 0);
    assert_int_equal(
        stsrole_audit_format("bastion1.example", "b1", 3, TS + 2, prev, &r, &forged, &e),
        STSROLE_OK);
    out = calloc(1, len + forged.len + 2);
    memcpy(out, buf, (size_t)(l3 - buf));
    memcpy(out + (l3 - buf), forged.data, forged.len);
    out[(l3 - buf) + forged.len] = '\n';
    memcpy(out + (l3 - buf) + forged.len + 1, l4, len - (size_t)(l4 - buf));
    spit(f->path, out, (size_t)(l3 - buf) + forged.len + 1 + len - (size_t)(l4 - buf));
    assert_int_equal(verify(f->path), 3);
    stsrole_buf_free(&forged);
    free(out);
    free(buf);
}

static size_t
verify_pair(const char *old, const char *cur, int *which)
{
    struct stsrole_audit_verifier v;
    struct stsrole_error e;

    stsrole_audit_verify_init(&v);
    *which = 1;
    if (stsrole_audit_verify_file(old, &v, &e) != STSROLE_OK)
        return v.bad_line;
    *which = 2;
    if (stsrole_audit_verify_file(cur, &v, &e) != STSROLE_OK)
        return v.bad_line;
    *which = 0;
    return 0;
}

static void
test_rotation_continues_the_chain(void **state)
{
    struct fixture *f = *state;
    struct stsrole_audit_log old, cur;
    struct stsrole_audit_record r = rec("session.open", "after");
    struct stsrole_audit_record rot = rec(STSROLE_AUDIT_ROTATE, NULL);
    struct stsrole_error e;
    char rotated[128], *buf;
    size_t len;
    int which, i;

    write_log(f->path, 5);
    snprintf(rotated, sizeof(rotated), "%s.1", f->path);
    assert_int_equal(rename(f->path, rotated), 0);
    /* What the gateway does on SIGHUP after logrotate: the new, empty file
     * continues the old chain, starting with audit.rotate. */
    assert_int_equal(stsrole_audit_open(&old, rotated, "h", "b1", &e), STSROLE_OK);
    assert_int_equal(stsrole_audit_open(&cur, f->path, "h", "b1", &e), STSROLE_OK);
    assert_int_equal(cur.seq, 0);
    cur.seq = old.seq;
    memcpy(cur.prev, old.prev, sizeof(cur.prev));
    stsrole_audit_close(&old);
    assert_int_equal(stsrole_audit_append(&cur, &rot, TS, NULL, &e), STSROLE_OK);
    for (i = 0; i < 3; i++)
        assert_int_equal(stsrole_audit_append(&cur, &r, TS + i, NULL, &e), STSROLE_OK);
    stsrole_audit_close(&cur);
    assert_int_equal(verify(f->path), 0); /* each file alone */
    assert_int_equal(verify(rotated), 0);
    assert_int_equal(verify_pair(rotated, f->path, &which), 0);
    /* Resuming the new file goes on from seq 9. */
    assert_int_equal(stsrole_audit_open(&cur, f->path, "h", "b1", &e), STSROLE_OK);
    assert_int_equal(cur.seq, 9);
    stsrole_audit_close(&cur);
    /* The old file lost its last line: the new one no longer continues it. */
    buf = slurp(rotated, &len);
    spit(rotated, buf, (size_t)(line_at(buf, 5) - buf));
    assert_int_equal(verify_pair(rotated, f->path, &which), 1);
    assert_int_equal(which, 2);
    free(buf);
    /* The new file lost audit.rotate: caught on its first line. */
    buf = slurp(f->path, &len);
    spit(f->path, line_at(buf, 2), len - (size_t)(line_at(buf, 2) - buf));
    assert_int_equal(verify(f->path), 1);
    free(buf);
}

static void
test_damaged_tail_keeps_seq(void **state)
{
    struct fixture *f = *state;
    struct stsrole_audit_log a;
    struct stsrole_error e;
    char *buf, *p;
    size_t len;

    write_log(f->path, 4);
    buf = slurp(f->path, &len);
    p = strstr(line_at(buf, 4), "\"hash\":\"");
    p[9] = p[9] == '0' ? '1' : '0';
    spit(f->path, buf, len);
    assert_int_equal(stsrole_audit_open(&a, f->path, "h", "b1", &e), STSROLE_OK);
    assert_false(a.tail_ok);
    assert_int_equal(a.seq, 4);
    stsrole_audit_close(&a);
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_fields_and_hash),
        cmocka_unit_test(test_format_extra),
        cmocka_unit_test_setup_teardown(test_chain_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_and_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_writer_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_files_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_is_caught_on_that_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_is_caught_on_that_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_last_line_needs_the_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap_is_caught_on_that_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewritten_line_with_new_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_continues_the_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_tail_keeps_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_duplicates_and_gaps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
