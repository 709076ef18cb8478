/* SPDX-License-Identifier: BSD-3-Clause */
/* forge_ticket.h: the test drivers' stand-in for pam_stsrole's auth: writes the ticket (format in
 * lib/ticket.h) that auth leaves for open_session, for tests that open a session without asking
 * for a code.  Root writes it, as auth would; a test of the refusal simply leaves it out. */
#ifndef FORGE_TICKET_H
#define FORGE_TICKET_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Field 22 (starttime) of /proc/PID/stat, 0 when unreadable. */
static inline unsigned long long
forge_starttime(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long v = 0;
    FILE *f;
    size_t n;
    int i;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if ((p = strrchr(buf, ')')) == NULL)
        return 0;
    for (p += 2, i = 0; i < 19 && p != NULL; i++)
        if ((p = strchr(p, ' ')) != NULL)
            p++;
    if (p != NULL)
        sscanf(p, "%llu", &v);
    return v;
}

/* 0, or -1 with errno.  age: seconds before now that it was issued. */
static inline int
forge_ticket_aged(const char *state_dir, const char *user, const char *service, const char *rhost,
                  long age)
{
    char path[4096];
    FILE *f;
    int fd;

    if (strlen(state_dir) > 4000) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST)
        return -1;
    if (snprintf(path, sizeof(path), "%s/tickets", state_dir) >= (int)sizeof(path) ||
        (mkdir(path, 0700) != 0 && errno != EEXIST))
        return -1;
    if (snprintf(path, sizeof(path), "%s/tickets/%d.%d", state_dir, (int)getppid(),
                 (int)getpid()) >= (int)sizeof(path))
        return -1;
    unlink(path);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600)) < 0)
        return -1;
    if ((f = fdopen(fd, "w")) == NULL) {
        close(fd);
        return -1;
    }
    fprintf(f,
            "stsrole-ticket 1\nuser %s\nservice %s\nrhost %s\npid %d %llu\nppid %d %llu\n"
            "issued %lld\nmfa totp\n",
            user, service, rhost != NULL ? rhost : "", (int)getpid(), forge_starttime(getpid()),
            (int)getppid(), forge_starttime(getppid()), (long long)time(NULL) - age);
    return fclose(f) == 0 ? 0 : -1;
}

static inline int
forge_ticket(const char *state_dir, const char *user, const char *service, const char *rhost)
{
    return forge_ticket_aged(state_dir, user, service, rhost, 0);
}

#endif
