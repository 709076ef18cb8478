/* SPDX-License-Identifier: BSD-3-Clause */
/* handoff.c: a login's first credential handed to the gateway over RUNTIME_DIR/credentials.sock. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdio.h"
#include "handoff.h"
#include "json.h"
#include "runtime.h"
#include "session.h"

int
stsrole_handoff(const char *runtime_dir, const char *session_id, const struct stsrole_creds *c,
                int timeout_ms, struct stsrole_error *err)
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
        cJSON_AddNumberToObject(req, "Expiration", (double)c->expiration) != NULL &&
        stsrole_json_print_secret(req, 0, &text, NULL) != STSROLE_OK)
        text = NULL;
    stsrole_json_delete_wiped(req);
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
    len = stsrole_read_line(fd, answer, sizeof(answer) - 1);
    close(fd);
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
