/* SPDX-License-Identifier: BSD-3-Clause */
/* credproc.c: stsrole-credential-process, the credential_process helper that asks the gateway. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <termios.h>
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
    fprintf(f, "usage: stsrole-credential-process --socket PATH --session ID [--profile NAME]\n"
               "Prints the SSH session's current AWS credential (or that of another of its\n"
               "profiles) as credential_process JSON, as stsrole-gatewayd serves it.  A\n"
               "profile with step_up = totp asks for a code on the terminal first.\n"
               "See stsrole-gatewayd(8).\n");
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

/* One request, one answer (read into buf, at most ANSWER_MAX bytes). */
static int
ask(const char *path, const char *id, const char *profile, const char *code, char *buf, size_t *len)
{
    struct sockaddr_un sa;
    struct timeval tv = {ANSWER_TIMEOUT_S, 0};
    struct ucred peer;
    socklen_t plen = sizeof(peer);
    cJSON *o, *it;
    char *req = NULL;
    int fd, ok;

    *len = 0;
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
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0 || peer.uid != 0) {
        close(fd);
        return fail("%s: not served by root", path);
    }
    if ((o = cJSON_CreateObject()) != NULL && cJSON_AddStringToObject(o, "cmd", "credentials") &&
        cJSON_AddStringToObject(o, "session", id) &&
        (profile == NULL || cJSON_AddStringToObject(o, "profile", profile)) &&
        (code == NULL || cJSON_AddStringToObject(o, "code", code)))
        req = cJSON_PrintUnformatted(o);
    if (code != NULL && (it = cJSON_GetObjectItemCaseSensitive(o, "code")) != NULL &&
        cJSON_IsString(it))
        explicit_bzero(it->valuestring, strlen(it->valuestring));
    cJSON_Delete(o);
    ok = req != NULL && send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req) &&
         send(fd, "\n", 1, MSG_NOSIGNAL) == 1;
    if (req != NULL)
        explicit_bzero(req, strlen(req));
    free(req);
    if (!ok) {
        close(fd);
        return fail("%s: send: %s", path, strerror(errno));
    }
    *len = stsrole_read_line(fd, buf, ANSWER_MAX);
    close(fd);
    return 0;
}

/* step_up = totp: a fresh code from the person, on their terminal (not
 * stdin or stdout: those belong to the SDK that runs this helper). */
static int
read_code(const char *profile, char *code, size_t size)
{
    struct termios old, quiet;
    char line[64];
    ssize_t n;
    size_t len;
    int fd, echo_off;

    if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
        return fail("profile %s needs a verification code (step_up = totp), and there is no "
                    "terminal to ask on",
                    profile);
    echo_off = tcgetattr(fd, &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        echo_off = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
    }
    dprintf(fd, "stsrole: verification code for profile %s: ", profile);
    n = read(fd, line, sizeof(line) - 1);
    if (echo_off)
        tcsetattr(fd, TCSAFLUSH, &old);
    dprintf(fd, "\n");
    close(fd);
    if (n <= 0) {
        explicit_bzero(line, sizeof(line));
        return fail("no verification code entered");
    }
    line[n] = '\0';
    len = strcspn(line, "\r\n");
    line[len] = '\0';
    if (len == 0 || len >= size) {
        explicit_bzero(line, sizeof(line));
        return fail("no verification code entered");
    }
    memcpy(code, line, len + 1);
    explicit_bzero(line, sizeof(line));
    return 0;
}

static int
wants_step_up(const char *text, size_t len)
{
    cJSON *o = cJSON_ParseWithLength(text, len);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "step_up");
    int yes = cJSON_IsString(s) && strcmp(s->valuestring, "totp") == 0;

    cJSON_Delete(o);
    return yes;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},  {"session", required_argument, NULL, 'i'},
        {"profile", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *id = NULL, *profile = NULL;
    char *buf, code[16] = "";
    size_t len = 0;
    int c, rc;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            path = optarg;
            break;
        case 'i':
            id = optarg;
            break;
        case 'p':
            profile = optarg;
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
    if ((buf = malloc(ANSWER_MAX + 1)) == NULL)
        return fail("out of memory");
    rc = ask(path, id, profile, NULL, buf, &len);
    /* One fresh code at most, for a profile that asks for one. */
    if (rc == 0 && profile != NULL && wants_step_up(buf, len)) {
        explicit_bzero(buf, ANSWER_MAX + 1);
        rc = read_code(profile, code, sizeof(code));
        if (rc == 0)
            rc = ask(path, id, profile, code, buf, &len);
        explicit_bzero(code, sizeof(code));
    }
    /* The document itself on success, printed unchanged; it holds the
     * secret, so the buffer is wiped either way. */
    if (rc != 0)
        ;
    else if (len > 13 && memcmp(buf, "{\"Version\":1,", 13) == 0 && buf[len - 1] == '\n')
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
