/* SPDX-License-Identifier: BSD-3-Clause */
/* ticket.c: the auth-to-session ticket under STATE_DIR/tickets (see ticket.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "safefile.h"
#include "ticket.h"

#define TICKET_DIR "tickets"
#define TICKET_MAX 2048

/* STATE_DIR/tickets: root's alone (0700), as is STATE_DIR above it. */
static int
open_ticket_dir(const char *state_dir, int create, int *fd_out, struct stsrole_error *err)
{
    struct stat st;
    int top, fd, rc;

    rc = stsrole_open_dir_safely(state_dir, create, &top, err);
    if (rc != STSROLE_OK)
        return rc;
    if (create && mkdirat(top, TICKET_DIR, 0700) != 0 && errno != EEXIST) {
        rc = stsrole_fail(err, STSROLE_E_IO, "%s/%s: mkdir: %s", state_dir, TICKET_DIR,
                          strerror(errno));
        close(top);
        return rc;
    }
    fd = openat(top, TICKET_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(top);
    if (fd < 0)
        return stsrole_fail(err, errno == ENOENT ? STSROLE_E_NOTFOUND : STSROLE_E_UNSAFE,
                            "%s/%s: %s", state_dir, TICKET_DIR, strerror(errno));
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        close(fd);
        return stsrole_fail(err, STSROLE_E_UNSAFE,
                            "%s/%s: must be a directory of uid %u with mode 0700", state_dir,
                            TICKET_DIR, (unsigned)geteuid());
    }
    *fd_out = fd;
    return STSROLE_OK;
}

static int
field_ok(const char *s)
{
    return s == NULL || strchr(s, '\n') == NULL;
}

static int
mfa_ok(const char *m)
{
    size_t i;

    for (i = 0; m[i] != '\0'; i++)
        if (i >= 15 || m[i] < 'a' || m[i] > 'z')
            return 0;
    return i > 0;
}

int
stsrole_ticket_issue(const char *state_dir, const struct stsrole_ticket_bind *b, const char *mfa,
                     int64_t now, struct stsrole_error *err)
{
    char name[64], text[TICKET_MAX];
    uint64_t start, pstart;
    pid_t pid = getpid(), ppid = getppid();
    int dfd, fd, n, rc, tries;
    ssize_t w;

    if (b->user == NULL || b->user[0] == '\0' || b->service == NULL || !field_ok(b->user) ||
        !field_ok(b->service) || !field_ok(b->rhost) || mfa == NULL || !mfa_ok(mfa))
        return stsrole_fail(err, STSROLE_E_INVALID,
                            "ticket: a login field is empty or "
                            "holds a newline");
    if ((rc = stsrole_proc_stat(pid, NULL, &start, err)) != STSROLE_OK ||
        (rc = stsrole_proc_stat(ppid, NULL, &pstart, err)) != STSROLE_OK)
        return rc;
    n = snprintf(text, sizeof(text),
                 "stsrole-ticket 1\nuser %s\nservice %s\nrhost %s\npid %d %llu\nppid %d "
                 "%llu\nissued %lld\nmfa %s\n",
                 b->user, b->service, b->rhost != NULL ? b->rhost : "", (int)pid,
                 (unsigned long long)start, (int)ppid, (unsigned long long)pstart, (long long)now,
                 mfa);
    if (n < 0 || (size_t)n >= sizeof(text))
        return stsrole_fail(err, STSROLE_E_INVALID, "ticket: login fields too long");
    rc = open_ticket_dir(state_dir, 1, &dfd, err);
    if (rc != STSROLE_OK)
        return rc;
    snprintf(name, sizeof(name), "%d.%d", (int)ppid, (int)pid);
    /* A ticket of an earlier auth in this very process (a second
     * pam_authenticate) is replaced, never reused. */
    for (tries = 0; tries < 2; tries++) {
        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            break;
        unlinkat(dfd, name, 0);
    }
    if (fd < 0) {
        rc = stsrole_fail(err, STSROLE_E_IO, "%s/%s/%s: %s", state_dir, TICKET_DIR, name,
                          strerror(errno));
        close(dfd);
        return rc;
    }
    w = write(fd, text, (size_t)n);
    if (w != n || fsync(fd) != 0) {
        rc = stsrole_fail(err, STSROLE_E_IO, "%s/%s/%s: write: %s", state_dir, TICKET_DIR, name,
                          w < 0 ? strerror(errno) : "short write");
        unlinkat(dfd, name, 0);
        close(fd);
        close(dfd);
        return rc;
    }
    close(fd);
    close(dfd);
    return STSROLE_OK;
}

struct ticket {
    char user[256], service[256], rhost[1024], mfa[16];
    long long pid, ppid, issued;
    unsigned long long start, pstart;
};

/* The text form of ticket.h, every line present once and in order. */
static int
parse(char *text, struct ticket *t)
{
    char *line, *save = NULL;
    int i = 0;

    memset(t, 0, sizeof(*t));
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        int ok;
        switch (i++) {
        case 0:
            ok = strcmp(line, "stsrole-ticket 1") == 0;
            break;
        case 1:
            ok = strncmp(line, "user ", 5) == 0 &&
                 snprintf(t->user, sizeof(t->user), "%s", line + 5) < (int)sizeof(t->user);
            break;
        case 2:
            ok = strncmp(line, "service ", 8) == 0 &&
                 snprintf(t->service, sizeof(t->service), "%s", line + 8) < (int)sizeof(t->service);
            break;
        case 3:
            ok = strncmp(line, "rhost ", 6) == 0 &&
                 snprintf(t->rhost, sizeof(t->rhost), "%s", line + 6) < (int)sizeof(t->rhost);
            break;
        case 4:
            ok = sscanf(line, "pid %lld %llu", &t->pid, &t->start) == 2;
            break;
        case 5:
            ok = sscanf(line, "ppid %lld %llu", &t->ppid, &t->pstart) == 2;
            break;
        case 6:
            ok = sscanf(line, "issued %lld", &t->issued) == 1;
            break;
        case 7:
            ok = strncmp(line, "mfa ", 4) == 0 && mfa_ok(line + 4) &&
                 snprintf(t->mfa, sizeof(t->mfa), "%s", line + 4) > 0;
            break;
        default:
            ok = 0;
        }
        if (!ok)
            return -1;
    }
    return i == 8 ? 0 : -1;
}

static int
same(const char *want, const char *got)
{
    return strcmp(want != NULL ? want : "", got) == 0;
}

/* Opens name, unlinks it (single use: gone whatever follows), and checks
 * and parses what was opened. */
static int
take_one(int dfd, const char *name, struct ticket *t, struct stsrole_error *err)
{
    char text[TICKET_MAX];
    struct stat st;
    ssize_t n;
    int fd;

    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (unlinkat(dfd, name, 0) != 0 && fd >= 0) {
        close(fd);
        return stsrole_fail(err, STSROLE_E_IO, "ticket %s: cannot remove it: %s", name,
                            strerror(errno));
    }
    if (fd < 0)
        return stsrole_fail(err, STSROLE_E_UNSAFE, "ticket %s: %s", name, strerror(errno));
    /* After the unlink a ticket of ours has no name left: a hard link
     * planted elsewhere would keep one. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 07777) != 0600 || st.st_nlink != 0) {
        close(fd);
        return stsrole_fail(err, STSROLE_E_UNSAFE,
                            "ticket %s: not a regular file of uid %u, mode 0600, without other "
                            "links",
                            name, (unsigned)geteuid());
    }
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0)
        return stsrole_fail(err, STSROLE_E_UNSAFE, "ticket %s: empty or unreadable", name);
    text[n] = '\0';
    if (parse(text, t) != 0)
        return stsrole_fail(err, STSROLE_E_UNSAFE, "ticket %s: malformed", name);
    return STSROLE_OK;
}

int
stsrole_ticket_take(const char *state_dir, const struct stsrole_ticket_bind *b, int64_t now,
                    char mfa[16], struct stsrole_error *err)
{
    pid_t me = getpid();
    uint64_t my_start;
    struct ticket t;
    struct dirent *de;
    DIR *d;
    int dfd, rc, found = 0;

    mfa[0] = '\0';
    rc = stsrole_proc_stat(me, NULL, &my_start, err);
    if (rc != STSROLE_OK)
        return rc;
    rc = open_ticket_dir(state_dir, 0, &dfd, err);
    if (rc == STSROLE_E_NOTFOUND)
        return stsrole_fail(err, STSROLE_E_NOTFOUND,
                            "no ticket from pam_stsrole's auth for "
                            "this login");
    if (rc != STSROLE_OK)
        return rc;
    if ((d = fdopendir(dfd)) == NULL) {
        close(dfd);
        return stsrole_fail(err, STSROLE_E_IO, "%s/%s: %s", state_dir, TICKET_DIR, strerror(errno));
    }
    rc = STSROLE_OK;
    while (!found && (de = readdir(d)) != NULL) {
        long long ppid, pid;
        char tail;
        struct stat st;

        if (sscanf(de->d_name, "%lld.%lld%c", &ppid, &pid, &tail) != 2)
            continue;
        if (ppid != me && pid != me) {
            /* Someone else's: removed once it can no longer be taken. */
            if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                (int64_t)st.st_mtime + STSROLE_TICKET_LIFE < now)
                unlinkat(dirfd(d), de->d_name, 0);
            continue;
        }
        found = 1;
        rc = take_one(dirfd(d), de->d_name, &t, err);
        if (rc != STSROLE_OK)
            break;
        if (!((t.pid == me && t.start == my_start) || (t.ppid == me && t.pstart == my_start)))
            rc = stsrole_fail(err, STSROLE_E_DENIED, "the ticket is for another process");
        else if (strcmp(t.user, b->user) != 0)
            rc = stsrole_fail(err, STSROLE_E_DENIED, "the ticket is for another user");
        else if (!same(b->service, t.service))
            rc = stsrole_fail(err, STSROLE_E_DENIED, "the ticket is for another PAM service");
        else if (!same(b->rhost, t.rhost))
            rc = stsrole_fail(err, STSROLE_E_DENIED, "the ticket is for another remote host");
        else if (t.issued > now + 5 || now - t.issued > STSROLE_TICKET_LIFE)
            rc = stsrole_fail(err, STSROLE_E_DENIED,
                              "the ticket expired (issued %llds ago, "
                              "life %ds)",
                              (long long)(now - t.issued), STSROLE_TICKET_LIFE);
        else
            memcpy(mfa, t.mfa, sizeof(t.mfa));
    }
    closedir(d);
    stsrole_wipe(&t, sizeof(t));
    if (!found)
        return stsrole_fail(err, STSROLE_E_NOTFOUND,
                            "no ticket from pam_stsrole's auth for this login");
    return rc;
}
