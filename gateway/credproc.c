/* credproc.c: stsrole-credential-process, the credential_process helper that asks the gateway. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fdio.h"
#include "gw_refresh.h"

/* The gateway keeps a request waiting at most GW_CRED_WAIT_MS while it
 * mints; a little more than that here. */
#define ANSWER_TIMEOUT_S (GW_CRED_WAIT_MS / 1000 + 5)
#define ANSWER_MAX 65536

static void
usage(FILE *f)
{
    fprintf(f, "usage: stsrole-credential-process --socket PATH --session ID\n"
               "Prints the SSH session's current AWS credential as credential_process JSON,\n"
               "as stsrole-gatewayd serves it.  See stsrole-gatewayd(8).\n");
}

static int
hex32(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        if (i >= 32 || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return i == 32;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "stsrole-credential-process: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* The gateway's refusal, {"ok":false,"error":"..."}, as one line. */
static int
refused(const char *text, size_t len)
{
    cJSON *o = cJSON_ParseWithLength(text, len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    int rc;

    rc = fail("stsrole-gatewayd: %s", cJSON_IsString(e) ? e->valuestring : "malformed answer");
    cJSON_Delete(o);
    return rc;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"session", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct sockaddr_un sa;
    struct timeval tv = {ANSWER_TIMEOUT_S, 0};
    struct ucred peer;
    socklen_t plen = sizeof(peer);
    const char *path = NULL, *id = NULL;
    char req[128], *buf;
    size_t len = 0;
    int c, fd, rc;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            path = optarg;
            break;
        case 'i':
            id = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("stsrole-credential-process %s\n", PACKAGE_VERSION);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    if (optind != argc || path == NULL || id == NULL || !hex32(id)) {
        usage(stderr);
        return 64;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path))
        return fail("%s: path too long", path);
    memcpy(sa.sun_path, path, strlen(path));
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return fail("cannot reach stsrole-gatewayd at %s: %s", path, strerror(errno));
    /* Credentials are taken only from root: a socket someone else bound
     * at this path would be answering. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0 || peer.uid != 0)
        return fail("%s: not served by root", path);
    snprintf(req, sizeof(req), "{\"cmd\":\"credentials\",\"session\":\"%s\"}\n", id);
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
        return fail("%s: send: %s", path, strerror(errno));
    if ((buf = malloc(ANSWER_MAX + 1)) == NULL)
        return fail("out of memory");
    len = stsrole_read_line(fd, buf, ANSWER_MAX);
    close(fd);
    /* The document itself on success, printed unchanged; it holds the
     * secret, so the buffer is wiped either way. */
    if (len > 13 && memcmp(buf, "{\"Version\":1,", 13) == 0 && buf[len - 1] == '\n')
        rc = fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0
                 ? 0
                 : fail("cannot write to stdout");
    else if (len == 0)
        rc = fail("stsrole-gatewayd did not answer");
    else
        rc = refused(buf, len);
    explicit_bzero(buf, ANSWER_MAX + 1);
    free(buf);
    return rc;
}
