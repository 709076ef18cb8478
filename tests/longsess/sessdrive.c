/* SPDX-License-Identifier: BSD-3-Clause */
/* sessdrive.c: holds one PAM session open, as sshd's monitor does, until told to close it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>

#include "../pam/forge_ticket.h"

/*
 * Usage: sessdrive CONFDIR SERVICE USER [STATE_DIR]  (STATE_DIR: forge the auth ticket first)
 * pam_open_session on SERVICE from CONFDIR (pam_start_confdir), then prints
 *   open rc=N
 *   env NAME=VALUE        (each AWS_* and STSROLE_* variable)
 *   ready
 * and waits for a line on stdin; then pam_close_session ("close rc=N") and
 * exit.  This process plays sshd: its pid goes into the session record,
 * and it stays alive while the session is open.  Messages from the module
 * are printed as "info: ..." and "error: ..."; prompts fail, as in sshd's
 * open_session.
 */

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
    int i;

    (void)data;
    (void)resp;
    for (i = 0; i < n; i++) {
        if (msg[i]->msg_style == PAM_TEXT_INFO)
            printf("info: %s\n", msg[i]->msg);
        else if (msg[i]->msg_style == PAM_ERROR_MSG)
            printf("error: %s\n", msg[i]->msg);
        else
            return PAM_CONV_ERR;
    }
    fflush(stdout);
    *resp = NULL;
    return PAM_SUCCESS;
}

int
main(int argc, char **argv)
{
    struct pam_conv pc = {conv, NULL};
    pam_handle_t *h = NULL;
    char line[64], **env;
    int rc, i;

    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: sessdrive CONFDIR SERVICE USER [STATE_DIR]\n");
        return 64;
    }
    rc = pam_start_confdir(argv[2], argv[3], &pc, argv[1], &h);
    if (rc != PAM_SUCCESS) {
        printf("start rc=%d\n", rc);
        return 1;
    }
    pam_set_item(h, PAM_RHOST, "192.0.2.77");
    pam_set_item(h, PAM_TTY, "ssh");
    /* STATE_DIR: stand in for pam_stsrole's auth (no code is asked). */
    if (argc == 5 && forge_ticket(argv[4], argv[3], argv[2], "192.0.2.77") != 0) {
        printf("ticket rc=-1\n");
        return 1;
    }
    rc = pam_open_session(h, 0);
    printf("open rc=%d\n", rc);
    env = pam_getenvlist(h);
    for (i = 0; env != NULL && env[i] != NULL; i++) {
        if (strncmp(env[i], "AWS_", 4) == 0 || strncmp(env[i], "STSROLE_", 8) == 0)
            printf("env %s\n", env[i]);
        free(env[i]);
    }
    free(env);
    printf("ready\n");
    fflush(stdout);
    if (rc == PAM_SUCCESS) {
        if (fgets(line, sizeof(line), stdin) == NULL)
            line[0] = '\0';
        rc = pam_close_session(h, 0);
        printf("close rc=%d\n", rc);
    }
    pam_end(h, rc);
    return 0;
}
