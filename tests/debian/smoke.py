#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""smoke.py: one login through the installed packages, on loopback.

The system's sshd (/usr/sbin/sshd, through a symlink whose name is the PAM service
/etc/pam.d/stsrole-deb-PID, so the system's own /etc/pam.d/sshd is never touched) with a PAM
stack that names the module as an installed one, "pam_stsrole.so" with no path and no conf=:
PAM finds it in the multiarch security directory and it reads /etc/stsrole/stsrole.conf.  The
installed /usr/bin/stsrolectl doctor then checks that sshd and PAM stack.  moto stands in for
AWS.  Called by tests/debian/run.sh between install and purge.
"""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from harness import Suite, check  # noqa: E402
import sshdtest  # noqa: E402
from sshdtest import Lab, SetupError, ssh_login, totp, write  # noqa: E402

CONF = "/etc/stsrole/stsrole.conf"
USERS = "/etc/stsrole/users.oath"


def main():
    why = sshdtest.missing_prerequisite()
    if why:
        print("skipped: %s" % why)
        return 77
    try:
        from mototest import Moto
    except ImportError as e:
        print("skipped: tests/lib/mototest.py: %s" % e)
        return 77
    suite = Suite("debian-smoke")
    service = "stsrole-deb-%d" % os.getpid()
    with Lab("deb") as lab, Moto(log=os.path.join(lab.root, "moto.log")) as m:
        try:
            run(suite, lab, m, service)
        except SetupError as e:
            suite.case("the sshd fixture is set up", check, False, str(e))
    return suite.finish()


def run(suite, lab, m, service):
    user = lab.add_user()
    menv = m.seed()
    lab.write_usersfile([user], USERS)
    creds = os.path.join(lab.etc, "base-credentials")
    write(creds, "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
          % (menv["base"]["AccessKeyId"], menv["base"]["SecretAccessKey"]))
    # The installed configuration file, rewritten for moto (the purge removes it).
    write(CONF, "\n".join([
        "[stsrole]", "region = %s" % menv["region"], "sts_endpoint = %s" % menv["url"],
        "iam_endpoint = %s" % menv["url"], "credentials = file:%s" % creds,
        "usersfile = %s" % USERS, "bastion_id = deb-smoke", "totp_window = 3",
        # a closed port: the smoke test never probes a real metadata service
        "imds_endpoint = http://127.0.0.1:%d" % sshdtest.free_port(), "",
        "[role audit]", "arn = %s" % menv["roles"]["SecurityAuditRole"],
        "revoker_arn = %s" % menv["roles"]["StsRoleRevoker"], "users = %s" % user.name]) + "\n")
    fl = os.path.join(lab.root, "faillock")
    os.makedirs(fl, mode=0o700)
    fopts = "dir=%s deny=5 unlock_time=600" % fl
    stack = ["auth requisite pam_faillock.so preauth %s" % fopts,
             "auth [success=1 default=bad] pam_stsrole.so",
             "auth [default=die] pam_faillock.so authfail %s" % fopts,
             "auth sufficient pam_faillock.so authsucc %s" % fopts,
             "auth required pam_deny.so",
             "account required pam_unix.so",
             "session required pam_unix.so",
             "session required pam_stsrole.so"]
    exe = lab.pam_service(service, stack)
    sshd = lab.start_sshd(exe, extra=("ExposeAuthInfo yes", "PermitUserEnvironment no"))
    cfg = lab.ssh_config({"bastion": (sshd, user)})

    def login():
        r = ssh_login(cfg, "bastion", [totp(user.secret)],
                      "echo KEY=${AWS_ACCESS_KEY_ID:+set}; echo SID=$STSROLE_SESSION_ID")
        check(r.prompts == ["Verification code: "], "prompts %s\n%s" % (r.prompts, r.out))
        check(r.status == 0 and "KEY=set" in r.out, "no AWS credential in the session:\n%s"
              % r.out)
        sid = re.search(r"SID=([0-9a-f]{32})", r.out)
        check(sid, "no STSROLE_SESSION_ID:\n%s" % r.out)
        sshd.wait_idle()
        rec = os.path.join("/var/lib/stsrole/sessions", sid.group(1) + ".json")
        check(os.path.exists(rec), "no session record %s in the installed state_dir" % rec)
    suite.case("a login through the installed pam_stsrole.so gets credentials and a record "
               "in /var/lib/stsrole", login)

    def wrong_code():
        r = ssh_login(cfg, "bastion", ["000000"], "echo IN")
        check(r.status != 0 and not re.search(r"^IN\r?$", r.out, re.M),
              "a wrong code let the login in:\n%s" % r.out)
    suite.case("a wrong code is refused", wrong_code)

    def doctor():
        p = subprocess.run(["/usr/bin/stsrolectl", "doctor", "--json", "--sshd-config",
                            sshd.config, "--pam-service", service],
                           capture_output=True, text=True, timeout=120)
        checks = {c["check"]: c for c in json.loads(p.stdout)["checks"]}
        want = ["config.path", "config.syntax", "config.roles", "usersfile", "sshd.usepam",
                "sshd.authenticationmethods", "sshd.permituserenvironment",
                "sshd.exposeauthinfo", "pam.auth", "pam.faillock", "pam.skip", "pam.session",
                "pam.config",
                "aws.base", "aws.role:audit", "aws.revoker:audit"]
        bad = [checks.get(n, {"check": n, "detail": "absent"}) for n in want
               if not checks.get(n, {}).get("ok")]
        check(not bad, "installed doctor: %s" % json.dumps(bad, indent=1))
    suite.case("the installed stsrolectl doctor passes this bastion's sshd, PAM and AWS checks",
               doctor)


if __name__ == "__main__":
    sys.exit(main())
