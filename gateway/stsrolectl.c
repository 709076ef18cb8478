/* SPDX-License-Identifier: BSD-3-Clause */
/* stsrolectl.c: the admin CLI's entry point: global options and dispatch to one subcommand. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "stsrole.h"

static void
usage(FILE *f)
{
    fprintf(
        f,
        "usage: stsrolectl [--config PATH] COMMAND [ARGS]\n"
        "\n"
        "commands:\n"
        "  assume --role NAME --user USER\n"
        "                      mint one credential without PAM and print it as\n"
        "                      credential_process JSON (Version 1)\n"
        "  sessions [--json] [--fleet]\n"
        "                      list live sessions (--fleet: every bastion's, from DynamoDB)\n"
        "  revoke --session ID | --user USER [--fleet] | --all --role NAME\n"
        "                      revoke credentials now\n"
        "  audit verify [FILE...]\n"
        "  audit verify --stream EXPORT...\n"
        "                      check the audit log's hash chain (several files: oldest first)\n"
        "  status [--json]     gateway health, queue depth, policy budget per role\n"
        "  reconcile (--dir DIR | --s3 s3://BUCKET/PREFIX | --athena) [--jsonl FILE]\n"
        "                      join CloudTrail with the audit log; exit 2 on a critical finding\n"
        "  report --html FILE (--dir DIR | --s3 ... | --athena)\n"
        "                      the same as one self-contained HTML page\n"
        "  roles [--json]      inside a session (credentials_mode = process): the\n"
        "                      profiles you may use\n"
        "  requests [--json]   every break-glass request the gateway holds\n"
        "  doctor [--json] [--sshd-config PATH] [--pam-service NAME]\n"
        "                      check the live bastion, one line per check (read-only)\n"
        "\n"
        "options:\n"
        "  --config PATH       configuration file (default %s)\n"
        "  -h, --help          this text\n"
        "  --version           print the version\n"
        "\n"
        "exit codes: 0 ok, 1 failure, 64 usage, 65 invalid input or rejected by AWS,\n"
        "69 network/server/throttled after retries or gateway unreachable, 76 malformed\n"
        "answer, 77 denied by AWS or base credentials expired, 78 configuration error\n",
        "/etc/stsrole/stsrole.conf");
}

int
ctl_exit_for(int status)
{
    switch (status) {
    case STSROLE_OK:
        return CTL_EXIT_OK;
    case STSROLE_E_CONFIG:
    case STSROLE_E_UNSAFE:
    case STSROLE_E_NOTFOUND:
        return CTL_EXIT_CONFIG;
    case STSROLE_E_INVALID:
    case STSROLE_E_REJECTED:
        return CTL_EXIT_DATAERR;
    case STSROLE_E_DENIED:
    case STSROLE_E_EXPIRED:
        return CTL_EXIT_NOPERM;
    case STSROLE_E_THROTTLED:
    case STSROLE_E_SERVER:
    case STSROLE_E_NETWORK:
        return CTL_EXIT_UNAVAIL;
    case STSROLE_E_PROTOCOL:
        return CTL_EXIT_PROTOCOL;
    default:
        return CTL_EXIT_FAIL;
    }
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    static const struct {
        const char *name;
        int (*fn)(int, char **, const char *);
    } cmds[] = {
        {"assume", ctl_assume},     {"sessions", ctl_sessions}, {"revoke", ctl_revoke},
        {"audit", ctl_audit},       {"status", ctl_status},     {"reconcile", ctl_reconcile},
        {"report", ctl_report},     {"roles", ctl_roles},       {"doctor", ctl_doctor},
        {"requests", ctl_requests},
    };
    const char *config = NULL;
    size_t i;
    int c;

    /* '+' stops at the first non-option, the subcommand; the subcommand
     * parses the rest, where --config is also accepted. */
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'h':
            usage(stdout);
            return CTL_EXIT_OK;
        case 'V':
            printf("stsrolectl %s\n", PACKAGE_VERSION);
            return CTL_EXIT_OK;
        default:
            fprintf(stderr, "stsrolectl: see stsrolectl --help\n");
            return CTL_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr,
                "stsrolectl: no command given (usage: stsrolectl [--config PATH] COMMAND [ARGS]; "
                "see --help)\n");
        return CTL_EXIT_USAGE;
    }
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[optind], cmds[i].name) == 0) {
            char **sub = argv + optind;
            int n = argc - optind;
            optind = 0; /* reset getopt for the subcommand */
            return cmds[i].fn(n, sub, config);
        }
    }
    fprintf(stderr, "stsrolectl: unknown command '%s' (see stsrolectl --help)\n", argv[optind]);
    return CTL_EXIT_USAGE;
}
