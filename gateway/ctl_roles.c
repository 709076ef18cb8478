/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_roles.c: stsrolectl roles: inside a session, the profiles its person may use, from the
 * gateway. */
#include "config.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_sock.h"
#include "session.h"

int
ctl_roles(int argc, char **argv, const char *config_path)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"session", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"config", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    const char *id = getenv("STSROLE_SESSION_ID"), *sock = NULL;
    char path[4200], req[128], *text = NULL;
    const cJSON *list, *it, *err;
    cJSON *o;
    int c, json = 0, rc;

    (void)config_path;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sock = optarg;
            break;
        case 'i':
            id = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'c':
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc || !stsrole_session_id_valid(id)) {
        fprintf(stderr, "stsrolectl roles: run it inside an stsrole session "
                        "(STSROLE_SESSION_ID), or give --session ID\n");
        return CTL_EXIT_USAGE;
    }
    if (sock == NULL) {
        ctl_sock_path(path, sizeof(path));
        sock = path;
    }
    snprintf(req, sizeof(req), "{\"cmd\":\"roles\",\"session\":\"%s\"}\n", id);
    if ((rc = ctl_sock_ask("stsrolectl", sock, req, &o, &text)) != CTL_EXIT_OK)
        return rc;
    list = cJSON_GetObjectItemCaseSensitive(o, "profiles");
    err = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (!cJSON_IsArray(list)) {
        fprintf(stderr, "stsrolectl roles: %s\n",
                cJSON_IsString(err) ? err->valuestring : "malformed answer from the gateway");
        rc = cJSON_IsString(err) ? CTL_EXIT_NOPERM : CTL_EXIT_PROTOCOL;
    } else if (json) {
        fputs(text, stdout);
    } else {
        cJSON_ArrayForEach(it, list)
        {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "profile");
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(it, "arn");
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "step_up");
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(it, "request");

            if (cJSON_IsString(p) && cJSON_IsString(a))
                printf("%-40s %s%s%s\n", p->valuestring, a->valuestring,
                       cJSON_IsTrue(s) ? "  (step-up: totp)" : "",
                       cJSON_IsTrue(r) ? "  (break-glass: stsrole request)" : "");
        }
    }
    cJSON_Delete(o);
    free(text);
    return rc;
}
