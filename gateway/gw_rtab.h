/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_rtab.h: the table of credentials_mode = process sessions that gw_refresh.c (the scheduler,
 * main thread) and gw_credsock.c (the socket server, its own thread) share under r->mu. */
#ifndef STSROLE_GW_RTAB_H
#define STSROLE_GW_RTAB_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "approval.h"
#include "creds.h"

/* The most profiles one session may have asked for at once. */
#define GW_PROFILES_MAX 1024

/* A credential as served to clients: a session's own (struct rentry) or
 * one of its other profiles' (struct rprofile), under r->mu.  The main
 * thread writes it, and the serving thread too when a hand-off ("adopt")
 * sets a session's own; the main thread alone writes the fields below
 * "main thread". */
struct rcred {
    struct stsrole_creds creds; /* access_key_id NULL: none yet */
    char *doc;                  /* its credential_process document: a secret */
    size_t doclen;
    int64_t minted; /* epoch s */
    char why[256];  /* the last failure, for clients kept waiting */
    /* main thread */
    int64_t next_try_ms;
    int attempts;
};

/* Another profile of a session (stsrole.conf(5), PROFILES): a role other
 * than the login's, minted the first time its owner asks for it.  The
 * serving thread creates it and sets wanted or code; the main thread
 * decides (refused, need_code, passed) and mints. */
struct rprofile {
    char name[128];
    struct rcred cred; /* why: the last mint failure */
    int breakglass;    /* an approved break-glass request's: never refreshed (gw_breakglass.c) */
    int wanted;        /* a client waits for a first credential */
    int need_code;     /* step_up = totp and no code accepted yet */
    int passed;        /* the step-up code was accepted */
    char code[16];     /* a step-up code for the main thread to verify: a secret */
    char refused[256]; /* why it is not minted, for the clients waiting */
};

/* One SSH session in credentials_mode = process.  Shared with the
 * serving thread under r->mu; the main thread alone writes the fields
 * below "main thread". */
struct rentry {
    char id[33];
    uid_t uid;
    pid_t sshd_pid;
    int64_t sshd_start; /* its start time from the record (proc.h); 0: unknown */
    dev_t rec_dev;      /* the record as last checked: closing it renames a new file in */
    ino_t rec_ino;
    int live;            /* 0: closed, or a credential of it revoked */
    int64_t adopted_ms;  /* monotonic; set by a hand-off the main loop has not seen */
    struct rcred cred;   /* the current one; why: the last refresh failure */
    char role_name[128]; /* the login's role: that profile is the session's own credential */
    struct rprofile **prof;
    size_t n_prof;
    char *roles;         /* the answer to "roles": {"ok":true,"profiles":[...]}, one line */
    int stepup_failures; /* main thread: refused step-up codes of this session */
    /* main thread */
    int seen;
};

/* A break-glass command (request, requests, approve, deny, cancel,
 * gw_refresh.h) that the serving thread hands to the main loop
 * (gw_breakglass.c); the client waits for answer, found by ticket.  The
 * strings are checked for length and characters before they are queued. */
#define GW_BGJOBS_MAX 64
#define GW_BG_WAIT_MS 30000
struct gw_bgjob {
    uint64_t ticket;
    uid_t uid; /* SO_PEERCRED */
    pid_t pid;
    char cmd[16];
    char session[33];
    char role[128];
    char id[17];
    char reason[STSROLE_REASON_MAX + 2]; /* one more than allowed: too long is told */
    int taken;                           /* the main loop has it */
    char *answer;                        /* one line with its '\n', from the main loop */
};

struct gw_refresh {
    pthread_mutex_t mu;
    pthread_t thread;
    int thread_started;
    int stop;
    int listen_fd;
    int wake_fd;   /* main loop -> thread: entries changed, or stop */
    int notify_fd; /* thread -> main loop: a hand-off arrived */
    char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char *state_dir;
    struct rentry **v;
    size_t n, cap;
    struct gw_bgjob *jobs[GW_BGJOBS_MAX];
    size_t n_jobs;
    uint64_t next_ticket;
};

struct rentry *gw_rtab_find(struct gw_refresh *r, const char *id);
struct rentry *gw_rtab_create(struct gw_refresh *r, const char *id);
void gw_rtab_drop(struct gw_refresh *r, size_t i);
/* Setting one replaces the credential and its document and clears why;
 * clearing one wipes both.  Neither touches the retry fields. */
int gw_rtab_set_creds(struct rcred *rc, const struct stsrole_creds *c, int64_t minted);
void gw_rtab_clear_creds(struct rcred *rc);
/* Main thread.  A credential it minted: set, and the retries start over;
 * one it cannot keep (out of memory) is tried again after the back-off. */
int gw_rtab_set_minted(struct rcred *rc, const struct stsrole_creds *c, int64_t minted);
/* Main thread: a failed try; the next after a back-off that doubles up
 * to GW_RTAB_RETRY_CAP_MS.  Returns the failed tries in a row. */
#define GW_RTAB_RETRY_CAP_MS 60000
int gw_rtab_retry_later(struct rcred *rc);
/* When the credential should be replaced (epoch s): margin before it
 * expires; one STS made shorter than the margin is kept for half its
 * life, so a short one does not turn into a refresh loop. */
int64_t gw_rtab_due_at(const struct rcred *rc, int64_t margin);
/* The profile called name, created when create is set (NULL when there
 * are GW_PROFILES_MAX already); removing one wipes it. */
struct rprofile *gw_rtab_profile(struct rentry *e, const char *name, int create);
void gw_rtab_profile_remove(struct rentry *e, struct rprofile *p);
/* The job with ticket, or NULL; removing one frees it. */
struct gw_bgjob *gw_rtab_job(struct gw_refresh *r, uint64_t ticket);
void gw_rtab_job_remove(struct gw_refresh *r, struct gw_bgjob *j);
void gw_rtab_wake(int fd);
void gw_rtab_drain(int fd);
void gw_rtab_record_path(const char *state_dir, const char *id, char *out, size_t outlen);
int gw_rtab_pid_alive(pid_t pid, int64_t start);

#endif
