/* SPDX-License-Identifier: BSD-3-Clause */
/* fleetdrive.c: drives lib/ddb.c and lib/replay.c from the fleet tests and the replay benchmark. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "client.h"
#include "conf.h"
#include "ddb.h"
#include "http.h"
#include "login.h"
#include "registry.h"
#include "replay.h"
#include "totp.h"

/*
 * Usage:
 *   fleetdrive CONF list [USER]             the registry's live sessions (Query or Scan)
 *   fleetdrive CONF delete USER SESSION_ID  stsrole_registry_delete
 *   fleetdrive CONF claim USER STEP         stsrole_login_replay for one step (T30)
 *   fleetdrive CONF bench N USERSFILE USER CODE
 *        N rounds (after one warm-up), alternating which goes first, of the
 *        local check (stsrole_totp_verify, which must accept CODE, on
 *        USERSFILE as it was before: restored outside the timed part) and
 *        the shared check (stsrole_totp_step, then stsrole_login_replay of
 *        a step not claimed before).  One line per round:
 *        "round I local_us L locate_us S claim_us C".
 * CONF is an stsrole.conf (root-owned, as the module wants it).  Output
 * is one line per fact; errors go to stderr with exit status 1.
 */

static int
fail(const char *what, const struct stsrole_error *e)
{
    fprintf(stderr, "%s: %s: %s\n", what, stsrole_status_name(e->status), e->msg);
    return 1;
}

static int
client(const struct stsrole_config *cfg, struct stsrole_http_config *http,
       struct stsrole_creds_provider *base, struct stsrole_aws_client *c, struct stsrole_error *e)
{
    stsrole_client_http(cfg, http);
    if (stsrole_client_provider(cfg, http, base, e) != STSROLE_OK)
        return -1;
    stsrole_client_ddb(c, cfg, http, base);
    return 0;
}

static int
list(const struct stsrole_config *cfg, const char *user)
{
    struct stsrole_http_config http;
    struct stsrole_creds_provider base;
    struct stsrole_aws_client c;
    struct stsrole_registry_entry *l = NULL;
    struct stsrole_error e;
    size_t n = 0, skipped = 0, i;
    int rc;

    if (cfg->registry_table == NULL) {
        fprintf(stderr, "no registry_table\n");
        return 1;
    }
    if (client(cfg, &http, &base, &c, &e) != 0)
        return fail("provider", &e);
    rc = stsrole_registry_list(&c, cfg->registry_table, user, (int64_t)time(NULL), &l, &n, &skipped,
                               &e);
    stsrole_creds_provider_free(&base);
    if (rc != STSROLE_OK)
        return fail("list", &e);
    for (i = 0; i < n; i++)
        printf("session session_id=%s bastion_id=%s user=%s role_name=%s role_arn=%s "
               "revoker_arn=%s assumed_role_id=%s session_name=%s access_key_id=%s rhost=%s "
               "expiration=%lld opened=%lld ttl=%lld\n",
               l[i].session_id, l[i].bastion_id, l[i].user, l[i].role_name, l[i].role_arn,
               l[i].revoker_arn ? l[i].revoker_arn : "-", l[i].assumed_role_id, l[i].session_name,
               l[i].access_key_id, l[i].rhost ? l[i].rhost : "-", (long long)l[i].expiration,
               (long long)l[i].opened, (long long)l[i].ttl);
    printf("count %zu skipped %zu\n", n, skipped);
    stsrole_registry_list_free(l, n);
    return 0;
}

static int delete (const struct stsrole_config *cfg, const char *user, const char *sid)
{
    struct stsrole_http_config http;
    struct stsrole_creds_provider base;
    struct stsrole_aws_client c;
    struct stsrole_error e;
    int rc;

    if (client(cfg, &http, &base, &c, &e) != 0)
        return fail("provider", &e);
    rc = stsrole_registry_delete(&c, cfg->registry_table, user, sid, &e);
    stsrole_creds_provider_free(&base);
    if (rc != STSROLE_OK)
        return fail("delete", &e);
    printf("deleted\n");
    return 0;
}

static int
claim(const struct stsrole_config *cfg, const char *user, const char *step)
{
    struct stsrole_totp_step st = {strtoll(step, NULL, 10), 30};
    enum stsrole_replay_verdict v;
    struct stsrole_error e;

    if (stsrole_login_replay(cfg, user, &st, &v, &e) != STSROLE_OK)
        return fail("claim", &e);
    printf("%s\n", v == STSROLE_REPLAY_FRESH ? "fresh" : "used");
    return 0;
}

static long long
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
copy_file(const char *from, const char *to)
{
    char buf[65536];
    size_t n;
    FILE *in = fopen(from, "r"), *out = fopen(to, "w");
    int rc = 0;

    if (in == NULL || out == NULL)
        rc = -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in != NULL)
        fclose(in);
    if (out != NULL && fclose(out) != 0)
        rc = -1;
    return rc;
}

/* One local check: the users file as it was before code was used (copied
 * back outside the timed part), then stsrole_totp_verify. */
static int
time_local(const struct stsrole_config *cfg, const char *pristine, const char *usersfile,
           const char *user, const char *code, long long *us)
{
    struct stsrole_error e;
    long long t0;

    if (copy_file(pristine, usersfile) != 0) {
        perror(usersfile);
        return 1;
    }
    t0 = now_us();
    if (stsrole_totp_verify(usersfile, user, code, cfg->totp_window, STSROLE_TOTP_LOCK_WAIT_MS,
                            NULL, &e) != STSROLE_OK)
        return fail("local", &e);
    *us = now_us() - t0;
    return 0;
}

/* One shared check as pam_stsrole makes it: locate the code's step, then
 * claim it (one conditional PutItem).  Each round claims a step one past
 * the last, as each new login brings a new step. */
static int
time_shared(const struct stsrole_config *cfg, const char *usersfile, const char *user,
            const char *code, int64_t bump, long long *locate_us, long long *claim_us)
{
    struct stsrole_totp_step st;
    enum stsrole_replay_verdict v;
    struct stsrole_error e;
    long long t0, t1;

    t0 = now_us();
    if (stsrole_totp_step(usersfile, user, code, cfg->totp_window, &st, &e) != STSROLE_OK)
        return fail("step", &e);
    t1 = now_us();
    st.step += bump;
    if (stsrole_login_replay(cfg, user, &st, &v, &e) != STSROLE_OK)
        return fail("shared", &e);
    if (v != STSROLE_REPLAY_FRESH)
        return fail("shared: a fresh step was refused", &e);
    *locate_us = t1 - t0;
    *claim_us = now_us() - t1;
    return 0;
}

/* Rounds 0..n; round 0 warms up.  The order alternates each round. */
static int
bench(const struct stsrole_config *cfg, int n, const char *usersfile, const char *user,
      const char *code)
{
    char pristine[4096];
    long long local = 0, locate = 0, claim = 0;
    int i, rc = 0;

    snprintf(pristine, sizeof(pristine), "%s.pristine", usersfile);
    if (copy_file(usersfile, pristine) != 0) {
        perror(pristine);
        return 1;
    }
    for (i = 0; i <= n && rc == 0; i++) {
        if (i % 2 == 0)
            rc = time_local(cfg, pristine, usersfile, user, code, &local) ||
                 time_shared(cfg, usersfile, user, code, i, &locate, &claim);
        else
            rc = time_shared(cfg, usersfile, user, code, i, &locate, &claim) ||
                 time_local(cfg, pristine, usersfile, user, code, &local);
        if (rc == 0 && i > 0)
            printf("round %d local_us %lld locate_us %lld claim_us %lld\n", i, local, locate,
                   claim);
    }
    remove(pristine);
    return rc;
}

int
main(int argc, char **argv)
{
    struct stsrole_config cfg;
    struct stsrole_error e;
    int rc;

    umask(077); /* the benchmark's copies hold TOTP secrets */
    if (argc < 3) {
        fprintf(stderr, "usage: fleetdrive CONF list [USER] | delete USER ID | claim USER STEP "
                        "| bench N USERSFILE USER CODE\n");
        return 2;
    }
    if (stsrole_config_load(argv[1], &cfg, &e) != STSROLE_OK)
        return fail(argv[1], &e);
    if (stsrole_http_global_init(&e) != STSROLE_OK)
        return fail("http", &e);
    if (strcmp(argv[2], "list") == 0)
        rc = list(&cfg, argc > 3 ? argv[3] : NULL);
    else if (strcmp(argv[2], "delete") == 0 && argc == 5)
        rc = delete (&cfg, argv[3], argv[4]);
    else if (strcmp(argv[2], "claim") == 0 && argc == 5)
        rc = claim(&cfg, argv[3], argv[4]);
    else if (strcmp(argv[2], "bench") == 0 && argc == 7)
        rc = bench(&cfg, atoi(argv[3]), argv[4], argv[5], argv[6]);
    else {
        fprintf(stderr, "fleetdrive: unknown command\n");
        rc = 2;
    }
    stsrole_config_free(&cfg);
    return rc;
}
