/* SPDX-License-Identifier: BSD-3-Clause */
/* stsrole.c: the user's command inside an SSH session: the roles offered, and break-glass
 * requests (ask, list, approve, deny, cancel) through the gateway's credential socket. */
#include "config.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "ctl_sock.h"
#include "session.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
/* --wait: how often the gateway is asked again, in ms. */
#define WAIT_POLL_MS 2000

static void
usage(FILE *f)
{
    fprintf(f, "usage: stsrole roles [--json]\n"
               "       stsrole request ROLE --reason TEXT [--wait]\n"
               "       stsrole requests [--json]\n"
               "       stsrole approve ID | deny ID | cancel ID\n"
               "Inside an stsrole SSH session (credentials_mode = process): ask for a\n"
               "break-glass role, and approve or deny other people's requests.  Once a\n"
               "request is approved, `aws --profile ROLE ...` uses its credential.\n"
               "Exit 0 on success, 1 when refused, denied or expired, 2 on a usage error.\n");
}

/* The gateway's answer to one command as this session: 0, or an exit code. */
static int
ask(const char *cmd, const char *id, const char *role, const char *reason, cJSON **answer)
{
    char path[4200], *line, *text;
    cJSON *req = cJSON_CreateObject();
    int rc;

    *answer = NULL;
    if (req == NULL || cJSON_AddStringToObject(req, "cmd", cmd) == NULL ||
        cJSON_AddStringToObject(req, "session", getenv("STSROLE_SESSION_ID")) == NULL ||
        (id != NULL && cJSON_AddStringToObject(req, "id", id) == NULL) ||
        (role != NULL && cJSON_AddStringToObject(req, "role", role) == NULL) ||
        (reason != NULL && cJSON_AddStringToObject(req, "reason", reason) == NULL) ||
        (line = cJSON_PrintUnformatted(req)) == NULL) {
        cJSON_Delete(req);
        fprintf(stderr, "stsrole: out of memory\n");
        return EXIT_REFUSED;
    }
    cJSON_Delete(req);
    /* One line: cJSON escapes every newline inside the strings. */
    if (asprintf(&text, "%s\n", line) < 0) {
        free(line);
        return EXIT_REFUSED;
    }
    free(line);
    ctl_sock_path(path, sizeof(path));
    rc = ctl_sock_ask("stsrole", path, text, answer, NULL);
    free(text);
    if (rc != CTL_EXIT_OK)
        return rc == CTL_EXIT_USAGE ? EXIT_USAGE : EXIT_REFUSED;
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(*answer, "ok"))) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(*answer, "error");

        fprintf(stderr, "stsrole %s: %s\n", cmd,
                cJSON_IsString(e) ? e->valuestring : "refused by the gateway");
        cJSON_Delete(*answer);
        *answer = NULL;
        return EXIT_REFUSED;
    }
    return 0;
}

static const char *
state_of(const cJSON *q)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(q, "state");

    return cJSON_IsString(s) ? s->valuestring : "?";
}

/* "request ID ROLE: STATE ..." for one request; the exit code it stands for. */
static int
report(const cJSON *q)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(q, "id");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(q, "role");
    const char *state = state_of(q);

    if (!cJSON_IsString(id) || !cJSON_IsString(role)) {
        fprintf(stderr, "stsrole: malformed answer from the gateway\n");
        return EXIT_REFUSED;
    }
    printf("request %s %s: %s", id->valuestring, role->valuestring, state);
    if (strcmp(state, "approved") == 0 &&
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q, "minted")))
        printf(" (use it with: aws --profile %s ...)", role->valuestring);
    else if (strcmp(state, "approved") == 0)
        printf(" (but no credential could be minted: see the gateway's log)");
    printf("\n");
    return strcmp(state, "pending") == 0 || strcmp(state, "approved") == 0 ? 0 : EXIT_REFUSED;
}

/* --wait: asks again until the request is no longer pending.  A request
 * the gateway no longer lists (a restarted gateway holds none; a full
 * listing says "truncated") ends the wait, as does its expiry passing. */
static int
wait_decided(const char *id, double expires)
{
    const cJSON *list, *q;
    cJSON *a;
    int rc, found, truncated;

    for (;;) {
        (void)poll(NULL, 0, WAIT_POLL_MS);
        if ((rc = ask("requests", NULL, NULL, NULL, &a)) != 0)
            return rc;
        list = cJSON_GetObjectItemCaseSensitive(a, "requests");
        truncated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "truncated"));
        rc = -1;
        found = 0;
        cJSON_ArrayForEach(q, list)
        {
            const cJSON *qid = cJSON_GetObjectItemCaseSensitive(q, "id");

            if (!cJSON_IsString(qid) || strcmp(qid->valuestring, id) != 0)
                continue;
            found = 1;
            if (strcmp(state_of(q), "pending") != 0)
                rc = report(q);
        }
        cJSON_Delete(a);
        if (rc >= 0)
            return rc;
        if (!found && (!truncated || (expires > 0 && (double)time(NULL) > expires + 60))) {
            fprintf(stderr,
                    "stsrole: request %s is no longer known to the gateway (was it restarted?); "
                    "ask again\n",
                    id);
            return EXIT_REFUSED;
        }
    }
}

static int
do_request(int argc, char **argv)
{
    static const struct option opts[] = {
        {"reason", required_argument, NULL, 'r'},
        {"wait", no_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    const char *reason = NULL;
    char id[17] = "";
    const cJSON *q, *qid;
    cJSON *a;
    int c, wait = 0, rc;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'r')
            reason = optarg;
        else if (c == 'w')
            wait = 1;
        else
            return EXIT_USAGE;
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if ((rc = ask("request", NULL, argv[optind], reason, &a)) != 0)
        return rc;
    q = cJSON_GetObjectItemCaseSensitive(a, "request");
    rc = report(q);
    qid = cJSON_GetObjectItemCaseSensitive(q, "id");
    if (rc == 0 && cJSON_IsString(qid) && strlen(qid->valuestring) < sizeof(id))
        snprintf(id, sizeof(id), "%s", qid->valuestring);
    if (rc == 0 && wait && strcmp(state_of(q), "pending") == 0 && id[0] != '\0') {
        fprintf(stderr, "stsrole: waiting for approval of request %s...\n", id);
        fflush(stdout);
        rc = wait_decided(id, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(q, "expires")));
    }
    cJSON_Delete(a);
    return rc;
}

static int
do_requests(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    const cJSON *list;
    cJSON *a;
    char *text;
    int c, json = 0, rc;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else
            return EXIT_USAGE;
    }
    if (optind != argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if ((rc = ask("requests", NULL, NULL, NULL, &a)) != 0)
        return rc;
    list = cJSON_GetObjectItemCaseSensitive(a, "requests");
    if (json) {
        text = cJSON_PrintUnformatted(list);
        printf("%s\n", text != NULL ? text : "[]");
        free(text);
    } else {
        ctl_print_requests(stdout, list);
    }
    cJSON_Delete(a);
    return 0;
}

static int
do_decide(const char *cmd, int argc, char **argv)
{
    cJSON *a;
    int rc;

    if (argc != 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if ((rc = ask(cmd, argv[1], NULL, NULL, &a)) != 0)
        return rc;
    rc = report(cJSON_GetObjectItemCaseSensitive(a, "request"));
    /* Denying or cancelling is what was asked: done. */
    if (strcmp(cmd, "approve") != 0)
        rc = 0;
    cJSON_Delete(a);
    return rc;
}

int
main(int argc, char **argv)
{
    const char *cmd;
    int rc;

    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("stsrole %s\n", PACKAGE_VERSION);
        return 0;
    }
    cmd = argv[1];
    if (!stsrole_session_id_valid(getenv("STSROLE_SESSION_ID"))) {
        fprintf(stderr, "stsrole: run it inside an stsrole session (STSROLE_SESSION_ID)\n");
        return EXIT_USAGE;
    }
    argc--;
    argv++;
    optind = 1;
    if (strcmp(cmd, "roles") == 0) {
        rc = ctl_roles(argc, argv, NULL);
        return rc == CTL_EXIT_OK ? 0 : rc == CTL_EXIT_USAGE ? EXIT_USAGE : EXIT_REFUSED;
    }
    if (strcmp(cmd, "request") == 0)
        return do_request(argc, argv);
    if (strcmp(cmd, "requests") == 0)
        return do_requests(argc, argv);
    if (strcmp(cmd, "approve") == 0 || strcmp(cmd, "deny") == 0 || strcmp(cmd, "cancel") == 0)
        return do_decide(cmd, argc, argv);
    fprintf(stderr, "stsrole: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
