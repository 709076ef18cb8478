/* SPDX-License-Identifier: BSD-3-Clause */
/* test_conf.c: stsrole.conf parsing, each bad input's own error, and the file-safety checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"

static const char good[] = "# bastion config\n"
                           "[stsrole]\n"
                           "region = eu-west-1\n"
                           "credentials = file:/etc/stsrole/credentials\n"
                           "bastion_id = bastion-1\n"
                           "failmode = safe\n"
                           "duration = 1800\n"
                           "totp_lock_wait = 30\n"
                           "\n"
                           "[role audit]\n"
                           "arn = arn:aws:iam::222222222222:role/SecurityAuditRole\n"
                           "revoker_arn = arn:aws:iam::222222222222:role/StsRoleRevoker\n"
                           "users = alice, bob carol\n"
                           "groups = secops\n"
                           "external_id = ext/id:1\n"
                           "tag.Team = Security Ops\n"
                           "\n"
                           "[role breakglass]\n"
                           "arn = arn:aws:iam::222222222222:role/BreakGlassRole\n"
                           "groups = oncall\n"
                           "duration = 900\n";

static void
test_good_config(void **state)
{
    struct stsrole_config c;
    struct stsrole_error e;
    const struct stsrole_role *r;

    (void)state;
    assert_int_equal(stsrole_config_parse(good, "t.conf", &c, &e), STSROLE_OK);
    assert_string_equal(c.region, "eu-west-1");
    assert_string_equal(c.sts_endpoint, "https://sts.eu-west-1.amazonaws.com");
    assert_string_equal(c.iam_endpoint, "https://iam.amazonaws.com");
    assert_int_equal(c.credentials, STSROLE_CREDS_FILE);
    assert_string_equal(c.credentials_path, "/etc/stsrole/credentials");
    assert_int_equal(c.failmode, STSROLE_FAIL_SAFE);
    assert_int_equal(c.duration, 1800);
    assert_int_equal(c.totp_window, 1);
    assert_int_equal(c.totp_lock_wait, 30);
    assert_string_equal(c.state_dir, "/var/lib/stsrole");
    assert_int_equal(c.n_roles, 2);
    r = stsrole_config_role(&c, "audit");
    assert_non_null(r);
    assert_string_equal(r->users[0], "alice");
    assert_string_equal(r->users[1], "bob");
    assert_string_equal(r->users[2], "carol");
    assert_null(r->users[3]);
    assert_string_equal(r->groups[0], "secops");
    assert_string_equal(r->external_id, "ext/id:1");
    assert_int_equal(r->n_tags, 1);
    assert_string_equal(r->tag_keys[0], "Team");
    assert_string_equal(r->tag_values[0], "Security Ops");
    r = stsrole_config_role(&c, "breakglass");
    assert_int_equal(r->duration, 900);
    assert_null(r->users);
    assert_null(stsrole_config_role(&c, "nope"));
    stsrole_config_free(&c);
}

static void
test_defaults_secure(void **state)
{
    struct stsrole_config c;
    struct stsrole_error e;

    (void)state;
    assert_int_equal(stsrole_config_parse("[stsrole]\nregion = us-east-1\n[role a]\narn = "
                                          "arn:aws:iam::1:role/A\nusers = u\n",
                                          "t", &c, &e),
                     STSROLE_OK);
    assert_int_equal(c.failmode, STSROLE_FAIL_SECURE);
    assert_int_equal(c.credentials, STSROLE_CREDS_IMDS);
    assert_int_equal(c.duration, 3600);
    assert_int_equal(c.totp_lock_wait, 5);
    /* with IMDS credentials the EC2 instance id, read by stsrole_config_load */
    assert_null(c.bastion_id);
    assert_int_equal(c.bastion_id_from_imds, 1);
    /* where "make install" put the helper, not a fixed /usr/bin */
    assert_string_equal(c.credential_helper, STSROLE_BINDIR "/stsrole-credential-process");
    stsrole_config_free(&c);
}

/* Each bad input must fail with a message naming file:line and the key. */
static void
expect_error(const char *text, const char *want)
{
    struct stsrole_config c;
    struct stsrole_error e;

    stsrole_error_clear(&e);
    if (stsrole_config_parse(text, "t.conf", &c, &e) != STSROLE_E_CONFIG) {
        stsrole_config_free(&c);
        fail_msg("accepted: %s", text);
    }
    if (strstr(e.msg, want) == NULL)
        fail_msg("message '%s' lacks '%s'", e.msg, want);
}

#define HEAD "[stsrole]\nregion = us-east-1\n"
/* (with credentials = imds, bastion_id would default to the instance id, read from IMDS) */
#define ROLE "[role a]\narn = arn:aws:iam::1:role/A\nusers = u\n"

static void
test_bad_inputs(void **state)
{
    (void)state;
    expect_error(HEAD "colour = blue\n" ROLE, "t.conf:3: unknown key 'colour'");
    expect_error(HEAD "duration = 60\n" ROLE, "t.conf:3: 'duration = 60': expected a whole "
                                              "number from 900 to 43200");
    expect_error(HEAD "duration = 1h\n" ROLE, "t.conf:3:");
    expect_error(HEAD "totp_lock_wait = 0\n" ROLE, "'totp_lock_wait = 0': expected a whole "
                                                   "number from 1 to 60");
    expect_error(HEAD "totp_lock_wait = 61\n" ROLE, "'totp_lock_wait = 61'");
    expect_error(HEAD "failmode = open\n" ROLE, "t.conf:3: 'failmode = open'");
    expect_error(HEAD "imds_exposure = ignore\n" ROLE,
                 "t.conf:3: 'imds_exposure = ignore': expected refuse or warn");
    expect_error(HEAD "credentials = vault\n" ROLE, "'credentials = vault'");
    expect_error(HEAD "credentials = file:relative\n" ROLE, "file:/ABSOLUTE/PATH");
    expect_error(HEAD "sts_endpoint = http://sts.example.com\n" ROLE,
                 "http:// is allowed only to loopback");
    expect_error(HEAD "sts_endpoint = ftp://x\n" ROLE, "only https://");
    expect_error(HEAD "region = us-west-2\n" ROLE, "t.conf:3: 'region' is set twice");
    expect_error(HEAD "state_dir = var/lib\n" ROLE, "must be an absolute path");
    expect_error(HEAD "bastion_id = has space\n" ROLE, "'bastion_id = has space'");
    expect_error(HEAD "[misc]\nx = 1\n" ROLE, "t.conf:4: unknown section [misc]");
    expect_error(HEAD "[role a]\narn = nope\n", "t.conf:4: 'arn = nope'");
    expect_error(HEAD ROLE "shell = /bin/sh\n", "t.conf:6: unknown key 'shell' in [role a]");
    expect_error(HEAD "[role a]\nusers = u\n", "[role a] has no 'arn'");
    expect_error(HEAD "[role a]\narn = arn:aws:iam::1:role/A\n", "neither 'users' nor 'groups'");
    expect_error(HEAD "[role a b]\narn = arn:aws:iam::1:role/A\n", "a role name is");
    expect_error(HEAD ROLE "tag.Team = a\ntag.team = b\n", "t.conf:7: 'tag.team' is set twice");
    expect_error("[stsrole]\n" ROLE, "'region' is required");
    expect_error(HEAD, "no [role NAME] or [roles NAME] section");
    {
        char longline[600];
        snprintf(longline, sizeof(longline),
                 HEAD "[role a]\nusers = u\narn = "
                      "arn:aws:iam::1:role/%0400d\n",
                 0);
        expect_error(longline, "t.conf:5: line longer than");
    }
    expect_error(HEAD "this is not ini\n" ROLE, "t.conf:3: syntax error");
}

#define BG "[role bg]\narn = arn:aws:iam::1:role/BreakGlassRole\ngroups = oncall\n"

static void
test_breakglass_keys(void **state)
{
    struct stsrole_config c;
    struct stsrole_error e;
    const struct stsrole_role *r;

    (void)state;
    assert_int_equal(stsrole_config_parse(HEAD ROLE BG "reason_pattern = ^(INC|CHG)-[0-9]+\n"
                                                       "approvals = 2\n"
                                                       "approvers = alice, @secleads bob\n"
                                                       "approval_timeout = 600\n"
                                                       "max_duration = 900\n"
                                                       "notify = /usr/local/sbin/page -q oncall\n",
                                          "t.conf", &c, &e),
                     STSROLE_OK);
    r = stsrole_config_role(&c, "bg");
    assert_non_null(r);
    assert_int_equal(r->reason_required, 1); /* implied by reason_pattern */
    assert_string_equal(r->reason_pattern, "^(INC|CHG)-[0-9]+");
    assert_int_equal(r->approvals, 2);
    assert_string_equal(r->approvers[1], "@secleads");
    assert_int_equal(r->approval_timeout, 600);
    assert_int_equal(stsrole_role_duration(&c, r), 900);
    assert_int_equal(r->notify_facility, -1);
    assert_string_equal(r->notify_argv[0], "/usr/local/sbin/page");
    assert_string_equal(r->notify_argv[2], "oncall");
    assert_null(r->notify_argv[3]);
    assert_true(stsrole_role_needs_request(r));
    r = stsrole_config_role(&c, "a");
    assert_false(stsrole_role_needs_request(r));
    assert_int_equal(stsrole_role_duration(&c, r), 3600);
    stsrole_config_free(&c);

    assert_int_equal(stsrole_config_parse(HEAD BG
                                          "reason = required\napprovals = 1\n"
                                          "approvers = @secleads\nnotify = syslog:authpriv\n"
                                          "max_duration = 7200\nduration = 1800\n",
                                          "t.conf", &c, &e),
                     STSROLE_OK);
    r = stsrole_config_role(&c, "bg");
    assert_int_equal(r->approval_timeout, STSROLE_APPROVAL_TIMEOUT_DEFAULT);
    assert_int_equal(r->notify_facility, 10 << 3); /* LOG_AUTHPRIV */
    assert_null(r->notify_argv);
    assert_int_equal(stsrole_role_duration(&c, r), 1800); /* max_duration caps, never raises */
    stsrole_config_free(&c);

    expect_error(HEAD BG "reason_pattern = (INC\n",
                 "t.conf:6: 'reason_pattern = (INC': not a POSIX");
    expect_error(HEAD BG "reason = maybe\n", "t.conf:6: 'reason = maybe': expected required");
    expect_error(HEAD BG "approvals = 11\napprovers = a\n", "'approvals = 11'");
    expect_error(HEAD BG "approvals = 1\n", "[role bg] has 'approvals' but no 'approvers'");
    expect_error(HEAD BG "approvers = a\n", "[role bg] has 'approvers' but no 'approvals'");
    expect_error(HEAD BG "approval_timeout = 60\n", "'approval_timeout' but no 'approvals'");
    expect_error(HEAD BG "approvals = 2\napprovers = a\n", "needs 2 approvals but names only 1");
    expect_error(HEAD BG "approvals = 1\napprovers = @\n", "names '@' without a group");
    expect_error(HEAD BG "approval_timeout = 1\n", "'approval_timeout = 1'");
    expect_error("[stsrole]\nregion = us-east-1\ncredentials_mode = process\n" BG
                 "max_duration = 900\n",
                 "refresh_margin (900) must be shorter than the duration of [role bg] (900)");
    {
        char text[4096];
        int off = snprintf(text, sizeof(text), HEAD BG "approvals = 1\napprovers = a\n");
        for (int t = 0; t < 45; t++)
            off += snprintf(text + off, sizeof(text) - (size_t)off, "tag.k%d = v\n", t);
        expect_error(text, "[role bg] takes approvals: at most 44 tag.KEY lines");
    }
    expect_error(HEAD BG "max_duration = 60\n", "t.conf:6: 'max_duration = 60'");
    expect_error(HEAD BG "notify = syslog:kern\n", "t.conf:6: 'notify = syslog:kern': expected");
    expect_error(HEAD BG "notify = mail -s x\n", "expected syslog:FACILITY or /ABSOLUTE/PATH");
    expect_error(HEAD BG "notify = /bin/sh -c $REASON\n", "no quotes, backslashes, commas, $ or `");
    expect_error(HEAD BG "notify = /bin/page\nnotify = syslog:auth\n",
                 "t.conf:7: 'notify' is set twice");
}

static char dir[64];

static int
setup_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/stsrole-conf-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown_dir(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* bastion_id names the deny policy: it must be unique in the fleet. */
static void
test_bastion_id(void **state)
{
    static const char *const bad[] = {"",
                                      "localhost",
                                      "LOCALHOST",
                                      "localhost.localdomain",
                                      "ip-10-0-1-5",
                                      "ip-172-31-40-9.ec2.internal"};
    static const char *const fine[] = {"i-0123456789abcdef0", "bastion-eu-1", "ip-10-0-1",
                                       "ip-10-0-1-5x", "vm"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_true(stsrole_bastion_id_ambiguous(bad[i]));
    for (i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
        assert_false(stsrole_bastion_id_ambiguous(fine[i]));
    expect_error(HEAD "credentials = env\nbastion_id = ip-10-0-1-5\n" ROLE,
                 "'bastion_id = ip-10-0-1-5' is not unique across a fleet");
    expect_error(HEAD "credentials = env\nbastion_id = localhost\n" ROLE, "is not unique");
}

/* http:// to the IMDS addresses is for imds_endpoint alone. */
static void
test_http_imds_only(void **state)
{
    struct stsrole_config c;
    struct stsrole_error e;

    (void)state;
    expect_error(HEAD "sts_endpoint = http://169.254.169.254\n" ROLE,
                 "'sts_endpoint': 'http://169.254.169.254': http:// is allowed only to loopback");
    expect_error(HEAD "iam_endpoint = http://[fd00:ec2::254]/\n" ROLE, "'iam_endpoint'");
    assert_int_equal(
        stsrole_config_parse(HEAD "imds_endpoint = http://[fd00:ec2::254]\n" ROLE, "t", &c, &e),
        STSROLE_OK);
    stsrole_config_free(&c);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* The partition follows region: default endpoints, IAM's endpoint, and the
 * partition every role ARN must be in. */
static void
test_partitions(void **state)
{
    struct stsrole_config c;
    struct stsrole_error e;

    (void)state;
    assert_int_equal(stsrole_config_parse("[stsrole]\nregion = cn-north-1\ncredentials = env\n"
                                          "[role a]\narn = arn:aws-cn:iam::111122223333:role/A\n"
                                          "revoker_arn = arn:aws-cn:iam::111122223333:role/R\n"
                                          "users = u\n",
                                          "t", &c, &e),
                     STSROLE_OK);
    assert_string_equal(c.partition->name, "aws-cn");
    assert_string_equal(c.partition->iam_region, "cn-north-1");
    assert_string_equal(c.sts_endpoint, "https://sts.cn-north-1.amazonaws.com.cn");
    assert_string_equal(c.iam_endpoint, "https://iam.cn-north-1.amazonaws.com.cn");
    assert_string_equal(c.dynamodb_endpoint, "https://dynamodb.cn-north-1.amazonaws.com.cn");
    assert_string_equal(c.logs_endpoint, "https://logs.cn-north-1.amazonaws.com.cn");
    stsrole_config_free(&c);
    assert_int_equal(stsrole_config_parse("[stsrole]\nregion = us-gov-west-1\n[role a]\narn = "
                                          "arn:aws-us-gov:iam::1:role/A\nusers = u\n",
                                          "t", &c, &e),
                     STSROLE_OK);
    assert_string_equal(c.partition->iam_region, "us-gov-west-1");
    assert_string_equal(c.sts_endpoint, "https://sts.us-gov-west-1.amazonaws.com");
    assert_string_equal(c.iam_endpoint, "https://iam.us-gov.amazonaws.com");
    stsrole_config_free(&c);
    expect_error("[stsrole]\nregion = eu-west-1\n[role a]\narn = arn:aws-cn:iam::1:role/A\n"
                 "users = u\n",
                 "[role a] arn is in partition");
    expect_error("[stsrole]\nregion = cn-north-1\n[role a]\narn = arn:aws-cn:iam::1:role/A\n"
                 "revoker_arn = arn:aws:iam::1:role/R\nusers = u\n",
                 "[role a] revoker_arn is in partition");
    expect_error("[stsrole]\nregion = us-iso-east-1\n" ROLE, "us-iso-east-1");
}

/* Role chaining: a credential from IMDS is a role session, and AWS caps
 * AssumeRole from one at 3600 s; such a config is refused at load. */
static void
test_chained_duration(void **state)
{
    struct stsrole_config c;
    struct stsrole_error e;

    (void)state;
    expect_error(HEAD "duration = 7200\n" ROLE, "duration = 7200");
    expect_error(HEAD "credentials = imds\n" ROLE "duration = 3601\n", "[role a] duration = 3601");
    expect_error(HEAD ROLE "duration = 3601\n", "role chaining");
    /* env and file: known only at run time (a session token or not). */
    assert_int_equal(
        stsrole_config_parse(HEAD "credentials = env\nduration = 7200\n" ROLE, "t", &c, &e),
        STSROLE_OK);
    stsrole_config_free(&c);
}

static void
test_file_safety(void **state)
{
    struct stsrole_config c;
    struct stsrole_error e;
    char path[128], link[128], missing[128];

    (void)state;
    if (geteuid() != 0)
        skip(); /* ownership checks need root to chown */
    snprintf(path, sizeof(path), "%s/stsrole.conf", dir);
    snprintf(link, sizeof(link), "%s/link.conf", dir);
    snprintf(missing, sizeof(missing), "%s/missing.conf", dir);
    write_file(path, HEAD "bastion_id = b1\n" ROLE, 0600);
    assert_int_equal(stsrole_config_load(path, &c, &e), STSROLE_OK);
    stsrole_config_free(&c);
    /* 0644 is fine: the config holds no secret, only root may write it */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(stsrole_config_load(path, &c, &e), STSROLE_OK);
    stsrole_config_free(&c);

    assert_int_equal(stsrole_config_load(missing, &c, &e), STSROLE_E_NOTFOUND);
    assert_non_null(strstr(e.msg, "no such file"));

    assert_int_equal(chmod(path, 0666), 0);
    assert_int_equal(stsrole_config_load(path, &c, &e), STSROLE_E_UNSAFE);
    assert_non_null(strstr(e.msg, "world-writable"));
    assert_int_equal(chmod(path, 0620), 0);
    assert_int_equal(stsrole_config_load(path, &c, &e), STSROLE_E_UNSAFE);

    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(chown(path, 65534, 65534), 0);
    assert_int_equal(stsrole_config_load(path, &c, &e), STSROLE_E_UNSAFE);
    assert_non_null(strstr(e.msg, "must be owned by root"));
    assert_int_equal(chown(path, 0, 0), 0);

    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(stsrole_config_load(link, &c, &e), STSROLE_E_UNSAFE);
    assert_non_null(strstr(e.msg, "symbolic link"));

    assert_int_equal(stsrole_config_load(dir, &c, &e), STSROLE_E_UNSAFE);
    assert_non_null(strstr(e.msg, "not a regular file"));
}

#define TMPL                                                                                       \
    "[roles audit]\n"                                                                              \
    "arn = arn:${partition}:iam::${account}:role/stsrole/SecurityAuditRole\n"                      \
    "revoker_arn = arn:${partition}:iam::${account}:role/stsrole/StsRoleRevoker\n"                 \
    "users = alice\n"

/* A template becomes one role per account, after the plain roles. */
/* Break-glass keys on a [roles NAME] template reach every instance, and
 * no instance is handed out directly (login menu or profile). */
static int
no_group(void *ctx, const char *name, gid_t *gid)
{
    (void)ctx, (void)name, (void)gid;
    return 0;
}

static void
test_breakglass_template(void **state)
{
    struct stsrole_config c;
    struct stsrole_error e;
    const struct stsrole_role *r;
    gid_t gid = 0;

    (void)state;
    assert_int_equal(stsrole_config_parse("[stsrole]\nregion = eu-west-1\n"
                                          "[roles bg]\narn = arn:${partition}:iam::${account}:"
                                          "role/stsrole/BreakGlassRole\nusers = bob\n"
                                          "accounts = 111111111111, 222222222222\n"
                                          "reason_pattern = ^INC-[0-9]+\napprovals = 1\n"
                                          "approvers = carol\nmax_duration = 900\n"
                                          "notify = syslog:authpriv\n",
                                          "t.conf", &c, &e),
                     STSROLE_OK);
    r = stsrole_config_role(&c, "222222222222-bg");
    assert_non_null(r);
    assert_int_equal(r->reason_required, 1);
    assert_string_equal(r->reason_pattern, "^INC-[0-9]+");
    assert_int_equal(r->approvals, 1);
    assert_string_equal(r->approvers[0], "carol");
    assert_int_equal(r->approval_timeout, 900);
    assert_int_equal(r->max_duration, 900);
    assert_string_equal(r->notify, "syslog:authpriv");
    assert_true(stsrole_role_needs_request(r));
    assert_int_equal(stsrole_role_allows(r, "bob", &gid, 1, no_group, NULL), 0);
    stsrole_config_free(&c);
}

static void
test_templates(void **state)
{
    struct stsrole_config c;
    struct stsrole_error e;
    const struct stsrole_role *r;

    (void)state;
    /* Every role ARN is in the region's partition (aws-cn here). */
    assert_int_equal(
        stsrole_config_parse("[stsrole]\nregion = cn-north-1\n"
                             "[role a]\narn = arn:aws-cn:iam::1:role/A\nusers = u\n" TMPL
                             "accounts = 111111111111, 222222222222\n"
                             "duration = 1800\ntag.Team = sec\n"
                             "[roles bg]\narn = arn:${partition}:iam::${account}:role/"
                             "B-${alias}\nusers = bob\nstep_up = totp\n"
                             "accounts = 333333333333\n",
                             "t.conf", &c, &e),
        STSROLE_OK);
    assert_int_equal(c.n_roles, 4);
    assert_string_equal(c.roles[0].name, "a");
    assert_null(c.roles[0].template_name);
    r = stsrole_config_role(&c, "222222222222-audit");
    assert_non_null(r);
    assert_string_equal(r->arn, "arn:aws-cn:iam::222222222222:role/stsrole/SecurityAuditRole");
    assert_string_equal(r->revoker_arn, "arn:aws-cn:iam::222222222222:role/stsrole/StsRoleRevoker");
    assert_string_equal(r->template_name, "audit");
    assert_string_equal(r->account, "222222222222");
    assert_string_equal(r->alias, "222222222222");
    assert_string_equal(r->users[0], "alice");
    assert_int_equal(r->duration, 1800);
    assert_int_equal(r->n_tags, 1);
    assert_string_equal(r->tag_values[0], "sec");
    assert_int_equal(r->step_up, 0);
    r = stsrole_config_role(&c, "333333333333-bg");
    assert_non_null(r);
    assert_string_equal(r->arn, "arn:aws-cn:iam::333333333333:role/B-333333333333");
    assert_null(r->revoker_arn);
    assert_int_equal(r->step_up, 1);
    assert_null(stsrole_config_role(&c, "audit"));
    stsrole_config_free(&c);
    assert_string_equal(stsrole_template_partition("us-gov-west-1"), "aws-us-gov");
    assert_string_equal(stsrole_template_partition("eu-west-1"), "aws");
    assert_string_equal(stsrole_template_partition("cn-northwest-1"), "aws-cn");
    /* What stsrole_partition_of refuses (the config refuses it first): "aws". */
    assert_string_equal(stsrole_template_partition("us-iso-east-1"), "aws");
    assert_string_equal(stsrole_template_partition(NULL), "aws");
}

static void
test_template_errors(void **state)
{
    (void)state;
    expect_error(HEAD TMPL "accounts = 12345\n", "t.conf:7: 'accounts': '12345': an account id "
                                                 "is 12 digits");
    expect_error(HEAD TMPL "accounts = 111111111111 11111111111a\n",
                 "t.conf:7: 'accounts': '11111111111a'");
    expect_error(HEAD TMPL "accounts = 111111111111 111111111111\n",
                 "t.conf:7: 'accounts': account 111111111111 is listed twice");
    expect_error(HEAD TMPL "accounts = file:rel\n", "t.conf:7: 'accounts = file:rel'");
    expect_error(HEAD "[roles audit]\narn = arn:aws:iam::${acount}:role/A\n",
                 "t.conf:4: 'arn = arn:aws:iam::${acount}:role/A': unknown placeholder "
                 "\"${acount}\"");
    expect_error(HEAD "[roles audit]\nrevoker_arn = arn:aws:iam::$account:role/A\n",
                 "t.conf:4: 'revoker_arn");
    expect_error(HEAD "[role a]\narn = arn:aws:iam::${account}:role/A\n",
                 "t.conf:4: 'arn = arn:aws:iam::${account}:role/A': placeholders are for "
                 "[roles NAME] templates");
    expect_error(HEAD ROLE "accounts = 111111111111\n",
                 "t.conf:6: 'accounts' is a key of [roles NAME] templates");
    expect_error(HEAD TMPL "accounts = 111111111111\nstep_up = sms\n",
                 "t.conf:8: 'step_up = sms': expected totp");
    expect_error(HEAD TMPL, "t.conf:4: [roles audit] has no 'accounts'");
    expect_error(HEAD "[role audit]\narn = arn:aws:iam::1:role/A\nusers = u\n" TMPL,
                 "t.conf:7: [roles audit]: 'audit' is also the name of a [role audit]");
    /* 111111111111-audit from the template, and a plain role of that name */
    expect_error(HEAD "[role 111111111111-audit]\narn = arn:aws:iam::1:role/A\nusers = u\n" TMPL
                      "accounts = 111111111111\n",
                 "t.conf:7: role '111111111111-audit' comes twice");
}

/* accounts = file:PATH, "ID ALIAS" lines, as trusted as the config. */
static void
test_template_file(void **state)
{
    struct stsrole_config c;
    struct stsrole_error e;
    char conf[256], accounts[128], text[1024];

    (void)state;
    if (geteuid() != 0)
        skip(); /* the file must be root's */
    snprintf(accounts, sizeof(accounts), "%s/accounts", dir);
    snprintf(conf, sizeof(conf), "%s/stsrole.conf", dir);
    snprintf(text, sizeof(text), HEAD "bastion_id = b1\n" TMPL "accounts = file:%s\n", accounts);
    write_file(conf, text, 0600);
    assert_int_equal(stsrole_config_load(conf, &c, &e), STSROLE_E_NOTFOUND); /* not yet */
    assert_non_null(strstr(e.msg, "stsrole.conf:5: [roles audit]: accounts: "));
    write_file(accounts, "# id alias\n111111111111 prod-payments\n\n222222222222  dev\n", 0644);
    assert_int_equal(stsrole_config_load(conf, &c, &e), STSROLE_OK);
    assert_int_equal(c.n_roles, 2);
    assert_non_null(stsrole_config_role(&c, "prod-payments-audit"));
    assert_string_equal(stsrole_config_role(&c, "dev-audit")->account, "222222222222");
    stsrole_config_free(&c);

    write_file(accounts, "111111111111 prod\n222222222222 prod\n", 0644);
    assert_int_equal(stsrole_config_load(conf, &c, &e), STSROLE_E_CONFIG);
    assert_non_null(strstr(e.msg, ":5: [roles audit]: accounts: "));
    assert_non_null(strstr(e.msg, "/accounts:2: alias 'prod' is used twice"));
    write_file(accounts, "111111111111 prod\n1111 dev\n", 0644);
    assert_int_equal(stsrole_config_load(conf, &c, &e), STSROLE_E_CONFIG);
    assert_non_null(strstr(e.msg, "/accounts:2: '1111': an account id is 12 digits"));
    write_file(accounts, "111111111111\n", 0644);
    assert_int_equal(stsrole_config_load(conf, &c, &e), STSROLE_E_CONFIG);
    assert_non_null(strstr(e.msg, "/accounts:1: expected 'ACCOUNT_ID ALIAS'"));
    write_file(accounts, "111111111111 Prod\n", 0644);
    assert_int_equal(stsrole_config_load(conf, &c, &e), STSROLE_E_CONFIG);
    assert_non_null(strstr(e.msg, "alias 'Prod'"));
    /* Who may write it decides which accounts people reach. */
    write_file(accounts, "111111111111 prod\n", 0664);
    assert_int_equal(stsrole_config_load(conf, &c, &e), STSROLE_E_UNSAFE);
    assert_int_equal(chmod(accounts, 0644), 0);
    assert_int_equal(chown(accounts, 65534, 65534), 0);
    assert_int_equal(stsrole_config_load(conf, &c, &e), STSROLE_E_UNSAFE);
    assert_non_null(strstr(e.msg, "must be owned by root"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_config),
        cmocka_unit_test(test_defaults_secure),
        cmocka_unit_test(test_bastion_id),
        cmocka_unit_test(test_http_imds_only),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_partitions),
        cmocka_unit_test(test_chained_duration),
        cmocka_unit_test(test_breakglass_keys),
        cmocka_unit_test(test_breakglass_template),
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_template_errors),
        cmocka_unit_test_setup_teardown(test_template_file, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_file_safety, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
