/* SPDX-License-Identifier: BSD-3-Clause */
/* gw.h: the gateway daemon's shared state and the functions its files offer each other. */
#ifndef STSROLE_GW_H
#define STSROLE_GW_H

#include <stdint.h>
#include <sys/types.h>

#include "audit.h"
#include "client.h"
#include "conf.h"
#include "creds.h"
#include "gw_log.h"
#include "gw_notify.h"
#include "http.h"
#include "policy.h"
#include "session.h"

/* One SSH session the gateway follows, from its record to its revocation.
 * The four flags are durable (STATE_DIR/gateway/track/<id>.json) and only
 * ever go from 0 to 1; each is set right after the audit line it stands
 * for, so a restart can tell from the log's last line what was done. */
struct gw_session {
    struct stsrole_session rec;
    int open_audited;   /* session.open written */
    int close_audited;  /* session.close written */
    int revoked;        /* the deny policy holds its aws:userid (or a cut-off covers it) */
    int revoke_audited; /* revoke.ok written */
    /* volatile */
    int closed;         /* the record says closed, its sshd is gone, or the record is gone */
    int record_present; /* STATE_DIR/sessions/<id>.json exists */
    int manual;         /* stsrolectl revoke asked for it */
    int remote;         /* another bastion's, from the registry: revoke --fleet; never tracked */
    const char *revoke_detail;
    int attempts;        /* failed revocation attempts */
    int failed_audited;  /* revoke.failed written for the current failure run */
    int64_t next_try_ms; /* monotonic: no revocation attempt before this */
    int64_t proc_start;  /* start of sshd_pid (epoch s), 0: not read yet */
    int unsaved;         /* a flag set in a durable batch: saved after the batch's fsync */
    /* the record file as last read, so a scan re-reads only what changed */
    uint64_t rec_ino;
    int64_t rec_mtime_ns;
    int64_t rec_size;
};

/*
 * Refusals a local user can repeat at will over the credential socket (a
 * profile they may not use, a break-glass command refused, a step-up code
 * after the lockout) are audited at most GW_REFUSALS_PER_MIN a minute per
 * uid, for at most GW_REFUSAL_UIDS uids a minute; the rest are answered
 * but not audited, and one log line a minute says so.
 */
#define GW_REFUSALS_PER_MIN 20
#define GW_REFUSAL_UIDS 32
struct gw_refusals {
    struct {
        uid_t uid;
        int64_t minute; /* monotonic */
        int n;          /* refusals this minute, up to GW_REFUSALS_PER_MIN + 1 */
    } v[GW_REFUSAL_UIDS];
    int64_t full_minute; /* the last minute the table was full, plus one */
};

/* One target role and the inline policy this bastion writes on it. */
struct gw_role {
    char *arn;
    char account[13];
    char name[65];
    char policy[129];               /* stsrole-revoked-<bastion_id> */
    struct stsrole_revoked_set set; /* what IAM holds, as far as we know */
    int synced;                     /* merged with IAM's copy since start */
    int dirty;                      /* set differs from IAM: write it */
    size_t others;                  /* the role's other inline policies, characters */
    int others_known;
    int64_t next_try_ms; /* after a failed sync or write */
    int attempts;
    char last_error[STSROLE_ERRMSG_MAX + 32];
    char last_request_id[128];
    int unsaved; /* committed in a durable batch: saved at its end */
};

/* Cached credentials of one revoker role (assumed with the base ones). */
struct gw_revoker {
    char *arn;
    struct stsrole_creds creds;
};

struct gw {
    const char *config_path;
    struct stsrole_config cfg;
    struct stsrole_http_config http;
    struct stsrole_creds_provider base;
    struct stsrole_audit_log audit;
    int audit_open;
    char host[256];
    char policy_name[129];
    char state_gw[4096]; /* STATE_DIR/gateway */
    int64_t skew;        /* seconds added to every expiry before pruning */
    int reconcile_s;     /* seconds between full scans */
    int64_t started;     /* epoch s */

    struct gw_session **sess;
    size_t n_sess, cap_sess;
    struct gw_role **roles;
    size_t n_roles, cap_roles;
    struct gw_revoker *revokers;
    size_t n_revokers;

    int inotify_fd;
    int sock_fd;
    int signal_fd;
    int lock_fd; /* flock on STATE_DIR/gateway/lock */
    int stop;
    int64_t next_reconcile_ms;
    int64_t next_imds_ms; /* gw_imds.c: the next check of who reaches IMDS */
    int imds_state;       /* enum stsrole_exposure of the last check */
    char imds_why[512];
    pid_t imds_pid; /* a check running: its child; 0: none */
    int imds_fd;    /* its pipe */
    int64_t imds_deadline_ms;
    uid_t imds_uid; /* the uid it runs as */
    uint64_t revoked_total;
    uint64_t failed_total;
    char last_error[STSROLE_ERRMSG_MAX + 96];
    int audit_broken;     /* the last append failed */
    struct gw_ship *ship; /* gw_ship.c: NULL while audit_log_group is unset */
    /* Called by gw_audit after each durable append (gw_ship_appended), so
     * gw_audit.c does not call up into the shipper that calls it. */
    void (*audit_appended)(struct gw *g);
    struct gw_fleet *fleet; /* gw_registry.c: registry items waiting to be deleted */

    struct gw_refresh *refresh;        /* gw_refresh.c: NULL unless credentials_mode = process */
    struct gw_breakglass *bg;          /* gw_breakglass.c: the break-glass requests */
    struct gw_refusals refused;        /* gw_audit.c: gw_audit_refusal's count */
    struct gw_refusals refused_logged; /* refusals only logged (no person to audit them for) */
    struct gw_notify notify;           /* gw_notify.c: the notify commands running */

    /* gw_sessions.c: the durable batch of one turn of the main loop
     * (gw_batch_begin/gw_batch_end): audit lines are written at once and
     * fsynced together; flags, records and role state wait for that fsync. */
    int batch;
    /* Called by gw_audit when the batch holds GW_BATCH_MAX unsynced lines:
     * syncs them and saves the flags they stand for. */
    void (*batch_flush)(struct gw *g);
};

/* The most audit lines a durable batch leaves unsynced, or with their flags
 * unsaved: gw_sessions_recover reads back this many at a start. */
#define GW_BATCH_MAX 512

/* gw_audit.c: appends one audit record (and its syslog summary).  0 on success.  In a
 * durable batch (g->batch) the line is written but fsynced by gw_audit_sync. */
int gw_audit(struct gw *g, const char *event, const struct gw_session *s, const char *role_arn,
             const char *outcome, const char *request_id, const char *detail);
/* The same with extra members after detail (audit.h). */
struct cJSON;
int gw_audit_extra(struct gw *g, const char *event, const struct gw_session *s,
                   const char *role_arn, const char *outcome, const char *request_id,
                   const char *detail, const struct cJSON *extra);
/* Makes the lines of the batch durable (one fsync) and tells the shipper.  0 on success. */
int gw_audit_sync(struct gw *g);
/* 1 when a refusal of uid's counts in t (is to be audited, or logged),
 * 0 when it is over the limit (struct gw_refusals); what ("audited",
 * "logged") words the one log line that says so.  t belongs to one thread. */
int gw_refusal_counts(struct gw_refusals *t, uid_t uid, const char *what);
/* gw_refusal_counts of the main thread's table, for audit records. */
int gw_audit_refusal(struct gw *g, uid_t uid);

/* gw_sessions.c */
int gw_sessions_load(struct gw *g);                  /* track files, at start */
void gw_sessions_recover(struct gw *g);              /* from the log's last line */
int gw_sessions_scan(struct gw *g);                  /* STATE_DIR/sessions, full */
void gw_sessions_seen(struct gw *g, const char *id); /* one record changed */
int gw_sessions_watch(struct gw *g);                 /* inotify */
void gw_sessions_inotify(struct gw *g);
void gw_sessions_step(struct gw *g); /* audits and clean-up */
/* In a durable batch, only marks s unsaved: gw_batch_end saves it after the fsync. */
int gw_track_save(struct gw *g, struct gw_session *s);
void gw_batch_begin(struct gw *g);
void gw_batch_end(struct gw *g);
struct gw_session *gw_session_find(struct gw *g, const char *id);
size_t gw_queue_depth(const struct gw *g);
void gw_sessions_free(struct gw *g);

/* gw_revoke.c */
int gw_roles_load(struct gw *g);
struct gw_role *gw_role_for(struct gw *g, const char *arn, const char *policy);
const struct stsrole_role *gw_conf_role_by_arn(const struct gw *g, const char *arn);
/* Revokes every session due (closed or asked for), role by role.  With
 * force, ignores back-off timers (stsrolectl revoke). */
void gw_revoke_due(struct gw *g, int force);
/* `revoke --all --role NAME`. */
int gw_revoke_all(struct gw *g, const char *role_name, char *msg, size_t msglen);
void gw_prune(struct gw *g);
/* After session.open: audits the session when a cut-off written before it
 * opened may deny its credential (it opened within --skew of it). */
void gw_revoke_opened(struct gw *g, const struct gw_session *s);
void gw_revokers_clear(struct gw *g);
/* After a durable batch's fsync: the role state committed in it. */
void gw_roles_save_batch(struct gw *g);
void gw_roles_free(struct gw *g);
int64_t gw_next_wakeup_ms(const struct gw *g);

/* gw_ctl.c */
int gw_ctl_listen(struct gw *g);
void gw_ctl_accept(struct gw *g);
void gw_ctl_close(struct gw *g);

/* gw_revoke.c, for revoke --fleet: revokes sessions of one role now (v may
 * hold remote sessions that are in no list). */
void gw_revoke_sessions(struct gw *g, const char *arn, struct gw_session **v, size_t n);

/* gw_ship.c: the audit log shipped to CloudWatch Logs by a thread of its own. */
struct cJSON;
int gw_ship_start(struct gw *g);     /* after the audit log is open; 0 also when off */
void gw_ship_appended(struct gw *g); /* after each durable append */
void gw_ship_step(struct gw *g);     /* main loop: writes the shipper's audit records */
int gw_ship_fd(const struct gw *g);  /* readable when gw_ship_step has work, or -1 */
void gw_ship_stop(struct gw *g);     /* ships what it can within a deadline, then stops */
int gw_ship_status(struct gw *g, struct cJSON *o); /* adds "ship"; 1 when failing */

/* gw_registry.c: the session registry (registry_table) items of revoked sessions. */
void gw_registry_forget(struct gw *g, const struct gw_session *s); /* its item, once revoked */
void gw_registry_step(struct gw *g);                               /* deletes the items due */
int64_t gw_registry_next_ms(const struct gw *g);
void gw_registry_free(struct gw *g);

/* gw_fleet.c: revoke --user --fleet. */
struct cJSON *gw_fleet_revoke(struct gw *g, const char *user);

#endif
