/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl.h: the stsrolectl subcommands, one function each; main() in stsrolectl.c dispatches. */
#ifndef STSROLE_CTL_H
#define STSROLE_CTL_H

/* Exit codes (sysexits.h values) shared by every subcommand. */
#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1      /* generic failure, e.g. audit chain broken */
#define CTL_EXIT_USAGE 64    /* bad command line */
#define CTL_EXIT_DATAERR 65  /* invalid input, or AWS rejected the request */
#define CTL_EXIT_UNAVAIL 69  /* network, server or throttling after retries; gateway down */
#define CTL_EXIT_PROTOCOL 76 /* malformed or oversized answer */
#define CTL_EXIT_NOPERM 77   /* AWS denied, or base credentials expired/invalid */
#define CTL_EXIT_CONFIG 78   /* configuration error */

/* Each takes the arguments after the subcommand name (argv[0] is the
 * subcommand) and the --config path (NULL: the default). */
int ctl_assume(int argc, char **argv, const char *config_path);
int ctl_sessions(int argc, char **argv, const char *config_path);
int ctl_revoke(int argc, char **argv, const char *config_path);
int ctl_audit(int argc, char **argv, const char *config_path);
int ctl_status(int argc, char **argv, const char *config_path);
int ctl_roles(int argc, char **argv, const char *config_path);
int ctl_requests(int argc, char **argv, const char *config_path);
int ctl_reconcile(int argc, char **argv, const char *config_path);
int ctl_report(int argc, char **argv, const char *config_path);
int ctl_doctor(int argc, char **argv, const char *config_path);

struct stsrole_config;
struct cJSON;
/* One request to the gateway's control socket (gwproto.h), quietly: the
 * caller reports a failure (CTL_EXIT_UNAVAIL: not running or not reachable). */
int ctl_gateway_ask(const struct stsrole_config *cfg, struct cJSON *req, struct cJSON **resp);

/* One request to the gateway's control socket (STATE_DIR/gatewayd.sock);
 * *resp is its parsed answer (cJSON_Delete it).  quiet: no message when
 * the gateway is unreachable.  Returns a CTL_EXIT_* code. */
struct stsrole_config;
struct cJSON;
int ctl_ask(const struct stsrole_config *cfg, struct cJSON *req, struct cJSON **resp, int quiet);

/* Maps a library status to the exit codes above. */
int ctl_exit_for(int status);

#endif
