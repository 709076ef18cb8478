/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_sock.h: inside an SSH session: the gateway's credential socket (where it is, one command
 * and its answer), and break-glass requests as text; shared by stsrolectl roles and stsrole. */
#ifndef STSROLE_CTL_SOCK_H
#define STSROLE_CTL_SOCK_H

#include <stddef.h>
#include <stdio.h>

struct cJSON;

/* RUNTIME_DIR/credentials.sock, RUNTIME_DIR from the session's
 * AWS_CONFIG_FILE (RUNTIME_DIR/aws/ID.config), else /run/stsrole. */
void ctl_sock_path(char *out, size_t outlen);

/* Sends line (one JSON object with its '\n') to the socket at path, which
 * must be root's (SO_PEERCRED), and parses the one line that comes back
 * into *answer (cJSON_Delete it); *text (may be NULL) gets the raw line
 * (free it).  prog prefixes the messages on stderr.  Returns a
 * CTL_EXIT_* code (CTL_EXIT_UNAVAIL: no gateway there). */
int ctl_sock_ask(const char *prog, const char *path, const char *line, struct cJSON **answer,
                 char **text);

/* One line per request of list (the wire protocol's REQ objects). */
void ctl_print_requests(FILE *f, const struct cJSON *list);

#endif
