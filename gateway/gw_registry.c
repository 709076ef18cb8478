/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_registry.c: the registry items of revoked sessions, deleted from DynamoDB with back-off. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "ddb.h"
#include "gw.h"
#include "registry.h"

#define FORGET_MAX 4096 /* items queued for deletion; past that, TTL removes them */
#define FORGET_CAP_MS 300000
#define FORGET_TRIES 8 /* denied or rejected: give up after this many, TTL removes it */

struct forget {
    char *user;
    char session_id[33];
    int attempts;
    int64_t next_ms;
};

struct gw_fleet {
    struct forget *v;
    size_t n, cap;
};

void
gw_registry_forget(struct gw *g, const struct gw_session *s)
{
    struct gw_fleet *f;
    struct forget *nv;
    size_t i;

    if (g->cfg.registry_table == NULL || s->rec.user == NULL)
        return;
    if (g->fleet == NULL && (g->fleet = calloc(1, sizeof(*g->fleet))) == NULL)
        return;
    f = g->fleet;
    for (i = 0; i < f->n; i++)
        if (strcmp(f->v[i].session_id, s->rec.session_id) == 0)
            return;
    if (f->n == FORGET_MAX) {
        gw_log(LOG_WARNING,
               "registry: %d deletions wait already; the item of session %s is left "
               "to DynamoDB's TTL",
               FORGET_MAX, s->rec.session_id);
        return;
    }
    if (f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 16;

        if ((nv = realloc(f->v, ncap * sizeof(*nv))) == NULL)
            return;
        f->v = nv;
        f->cap = ncap;
    }
    memset(&f->v[f->n], 0, sizeof(f->v[f->n]));
    if ((f->v[f->n].user = strdup(s->rec.user)) == NULL)
        return;
    memcpy(f->v[f->n].session_id, s->rec.session_id, 33);
    f->n++;
}

static void
forget_drop(struct gw_fleet *f, size_t i)
{
    free(f->v[i].user);
    f->v[i] = f->v[--f->n];
}

void
gw_registry_step(struct gw *g)
{
    struct gw_fleet *f = g->fleet;
    struct stsrole_aws_client c;
    struct stsrole_error err;
    int64_t now = gw_mono_ms(), later;
    size_t i, j;

    if (f == NULL || f->n == 0 || g->cfg.registry_table == NULL)
        return;
    stsrole_client_ddb(&c, &g->cfg, &g->http, &g->base);
    for (i = 0; i < f->n;) {
        struct forget *e = &f->v[i];

        if (e->next_ms > now) {
            i++;
            continue;
        }
        if (stsrole_registry_delete(&c, g->cfg.registry_table, e->user, e->session_id, &err) ==
            STSROLE_OK) {
            forget_drop(f, i);
            continue;
        }
        e->attempts++;
        if (!stsrole_status_retryable(err.status) && e->attempts >= FORGET_TRIES) {
            gw_log(LOG_WARNING,
                   "registry: cannot delete the item of session %s (%s); DynamoDB's "
                   "TTL will",
                   e->session_id, err.msg);
            forget_drop(f, i);
            continue;
        }
        later = gw_mono_ms() + stsrole_backoff_ms(e->attempts - 1, 1000, FORGET_CAP_MS);
        e->next_ms = later;
        if (e->attempts == 1)
            gw_log(LOG_NOTICE, "registry: deleting the item of session %s: %s; will retry",
                   e->session_id, err.msg);
        if (stsrole_status_retryable(err.status)) {
            /* DynamoDB is out of reach: the others wait too, rather than
             * each holding the loop for its own deadline. */
            for (j = 0; j < f->n; j++)
                if (f->v[j].next_ms < later)
                    f->v[j].next_ms = later;
            return;
        }
        i++;
    }
}

int64_t
gw_registry_next_ms(const struct gw *g)
{
    int64_t best = INT64_MAX;
    size_t i;

    for (i = 0; g->fleet != NULL && i < g->fleet->n; i++)
        if (g->fleet->v[i].next_ms < best)
            best = g->fleet->v[i].next_ms;
    return best;
}

void
gw_registry_free(struct gw *g)
{
    if (g->fleet == NULL)
        return;
    while (g->fleet->n > 0)
        forget_drop(g->fleet, g->fleet->n - 1);
    free(g->fleet->v);
    free(g->fleet);
    g->fleet = NULL;
}
