/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_rtab.c: the credentials_mode = process session table: entries, their credential, wake-ups. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "gw.h"
#include "gw_rtab.h"
#include "json.h"
#include "proc.h"

struct rentry *
gw_rtab_find(struct gw_refresh *r, const char *id)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        if (strcmp(r->v[i]->id, id) == 0)
            return r->v[i];
    return NULL;
}

struct rentry *
gw_rtab_create(struct gw_refresh *r, const char *id)
{
    struct rentry *e, **nv;

    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 32;

        if ((nv = realloc(r->v, ncap * sizeof(*nv))) == NULL)
            return NULL;
        r->v = nv;
        r->cap = ncap;
    }
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return NULL;
    memcpy(e->id, id, sizeof(e->id));
    r->v[r->n++] = e;
    return e;
}

void
gw_rtab_clear_creds(struct rcred *rc)
{
    stsrole_creds_clear(&rc->creds);
    if (rc->doc != NULL) {
        stsrole_wipe(rc->doc, rc->doclen);
        free(rc->doc);
    }
    rc->doc = NULL;
    rc->doclen = 0;
}

struct rprofile *
gw_rtab_profile(struct rentry *e, const char *name, int create)
{
    struct rprofile *p, **nv;
    size_t i;

    for (i = 0; i < e->n_prof; i++)
        if (strcmp(e->prof[i]->name, name) == 0)
            return e->prof[i];
    if (!create || e->n_prof == GW_PROFILES_MAX || strlen(name) >= sizeof(p->name))
        return NULL;
    if ((nv = realloc(e->prof, (e->n_prof + 1) * sizeof(*nv))) == NULL)
        return NULL;
    e->prof = nv;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return NULL;
    memcpy(p->name, name, strlen(name) + 1);
    e->prof[e->n_prof++] = p;
    return p;
}

void
gw_rtab_profile_remove(struct rentry *e, struct rprofile *p)
{
    size_t i;

    for (i = 0; i < e->n_prof; i++) {
        if (e->prof[i] != p)
            continue;
        gw_rtab_clear_creds(&p->cred);
        stsrole_wipe(p, sizeof(*p));
        free(p);
        e->prof[i] = e->prof[--e->n_prof];
        return;
    }
}

void
gw_rtab_drop(struct gw_refresh *r, size_t i)
{
    gw_rtab_clear_creds(&r->v[i]->cred);
    while (r->v[i]->n_prof > 0)
        gw_rtab_profile_remove(r->v[i], r->v[i]->prof[0]);
    free(r->v[i]->prof);
    free(r->v[i]->roles);
    free(r->v[i]);
    r->v[i] = r->v[--r->n];
}

/* The credential_process output (AWS SDKs, "Sourcing credentials with an
 * external process"): Version 1, the keys, Expiration in ISO-8601; one
 * line.  The copy of c and the text are the caller's. */
static int
make_doc(const struct stsrole_creds *c, struct stsrole_creds *copy, char **doc, size_t *doclen)
{
    cJSON *o;
    char exp[21], *text = NULL;

    memset(copy, 0, sizeof(*copy));
    if (stsrole_creds_copy(copy, c) != STSROLE_OK || copy->session_token == NULL) {
        stsrole_creds_clear(copy);
        return -1;
    }
    stsrole_iso8601(c->expiration, exp);
    if ((o = cJSON_CreateObject()) != NULL && cJSON_AddNumberToObject(o, "Version", 1) != NULL &&
        cJSON_AddStringToObject(o, "AccessKeyId", c->access_key_id) != NULL &&
        cJSON_AddStringToObject(o, "SecretAccessKey", c->secret_access_key) != NULL &&
        cJSON_AddStringToObject(o, "SessionToken", c->session_token) != NULL &&
        cJSON_AddStringToObject(o, "Expiration", exp) != NULL &&
        stsrole_json_print_secret(o, 0, &text, NULL) != STSROLE_OK)
        text = NULL;
    stsrole_json_delete_wiped(o);
    if (text == NULL) {
        stsrole_creds_clear(copy);
        return -1;
    }
    *doclen = strlen(text);
    text[(*doclen)++] = '\n'; /* in place of the terminator: one line */
    *doc = text;
    return 0;
}

int
gw_rtab_set_creds(struct rcred *rc, const struct stsrole_creds *c, int64_t minted)
{
    struct stsrole_creds copy;
    char *doc;
    size_t len;

    if (make_doc(c, &copy, &doc, &len) != 0)
        return -1;
    gw_rtab_clear_creds(rc);
    rc->creds = copy;
    rc->doc = doc;
    rc->doclen = len;
    rc->minted = minted;
    rc->why[0] = '\0';
    return 0;
}

int
gw_rtab_set_minted(struct rcred *rc, const struct stsrole_creds *c, int64_t minted)
{
    if (gw_rtab_set_creds(rc, c, minted) != 0) {
        (void)gw_rtab_retry_later(rc);
        return -1;
    }
    rc->attempts = 0;
    rc->next_try_ms = 0;
    return 0;
}

int
gw_rtab_retry_later(struct rcred *rc)
{
    rc->next_try_ms = gw_mono_ms() + stsrole_backoff_ms(rc->attempts++, 1000, GW_RTAB_RETRY_CAP_MS);
    return rc->attempts;
}

int64_t
gw_rtab_due_at(const struct rcred *rc, int64_t margin)
{
    int64_t t = rc->creds.expiration - margin;

    if (t < rc->minted + 1)
        t = rc->minted + ((rc->creds.expiration - rc->minted) / 2 > 1
                              ? (rc->creds.expiration - rc->minted) / 2
                              : 1);
    return t;
}

struct gw_bgjob *
gw_rtab_job(struct gw_refresh *r, uint64_t ticket)
{
    size_t i;

    for (i = 0; i < r->n_jobs; i++)
        if (r->jobs[i]->ticket == ticket)
            return r->jobs[i];
    return NULL;
}

void
gw_rtab_job_remove(struct gw_refresh *r, struct gw_bgjob *j)
{
    size_t i;

    for (i = 0; i < r->n_jobs; i++) {
        if (r->jobs[i] != j)
            continue;
        free(j->answer);
        stsrole_wipe(j, sizeof(*j));
        free(j);
        r->jobs[i] = r->jobs[--r->n_jobs];
        return;
    }
}

void
gw_rtab_wake(int fd)
{
    uint64_t one = 1;

    if (fd >= 0)
        (void)!write(fd, &one, sizeof(one));
}

void
gw_rtab_drain(int fd)
{
    uint64_t v;

    if (fd >= 0)
        (void)!read(fd, &v, sizeof(v));
}

/* -- checks both threads make --------------------------------------------------------- */

void
gw_rtab_record_path(const char *state_dir, const char *id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/sessions/%s.json", state_dir, id);
}

/* The sshd of the session is there, not a zombie, and (when the record
 * has its start time) the very process that logged in, not a later one
 * with its pid. */
int
gw_rtab_pid_alive(pid_t pid, int64_t start)
{
    uint64_t now_start;
    char state;

    if (pid <= 0)
        return 1;
    if (stsrole_proc_stat(pid, &state, &now_start, NULL) != STSROLE_OK)
        return 0;
    if (state == 'Z' || state == 'X')
        return 0;
    return start <= 0 || (int64_t)now_start == start;
}
