#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_sshd.py: a real sshd on 127.0.0.1 with pam_stsrole, logged into with ssh, end to end.

Usage: python3 tests/integration/test_sshd.py [BUILDDIR]
  (default $STSROLE_BUILD, else ./build under the source tree)

The fixture is tests/lib/sshdtest.py (shared with tests/bench/bench_login.py
and the demo); everything it creates is removed again at the end:
- a temporary directory with an sshd_config, host keys, the stsrole config,
  the TOTP users file and the bastion's base credentials (file:);
- an sshd symlink named after a PAM service of our own, so the stack lives in
  /etc/pam.d/NAME and the system's /etc/pam.d/sshd is left alone;
- two test users (useradd), one with a single role and one with two;
- moto (tests/lib/mototest.py) as STS, and a second plain sshd as the
  target behind the bastion for ssh -J.
Needs root, /usr/sbin/sshd, ssh, oathtool, /usr/bin/aws (Debian's awscli)
and pexpect.  Prints one line per case and "sshd-e2e: N passed, N failed";
exits 77 after "skipped: ..." when a prerequisite is missing.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

import sshdtest  # noqa: E402
from harness import Suite, build_dir  # noqa: E402
from sshdtest import Lab, SetupError, ssh_login, stsrole_stack, totp, wait_pid_exit  # noqa: E402

AWS = "/usr/bin/aws"
BASTION = "e2ebastion"
MARK = "STSROLE-E2E"

S = Suite("sshd-e2e")
result = S.result


def main():
    builddir = build_dir(sys.argv[1] if len(sys.argv) > 1 else None)
    module = os.path.join(builddir, "pam", ".libs", "pam_stsrole.so")
    why = sshdtest.missing_prerequisite()
    if why is None and not os.path.exists(module):
        why = "%s is not built" % module
    if why is None and not os.path.exists(AWS):
        why = "%s is missing (apt-get install -y awscli)" % AWS
    try:
        from mototest import Moto
    except ImportError as e:
        why = why or "tests/lib/mototest.py: %s" % e
    if why:
        return S.skip_all(why)

    service = "stsrole-e2e-%d" % os.getpid()
    with Lab("e2e") as lab:
        try:
            return run(lab, Moto, module, service)
        except SetupError as e:
            result("the sshd fixture is set up", False, e)
            return S.finish()


def run(lab, Moto, module, service):
    user_a = lab.add_user()
    user_b = lab.add_user()
    with Moto(log=os.path.join(lab.root, "moto.log")) as m:
        menv = m.seed()
        roles = menv["roles"]
        lab.write_usersfile([user_a, user_b])
        conf = lab.stsrole_conf(menv, {
            "SecurityAuditRole": {"arn": roles["SecurityAuditRole"],
                                  "users": "%s %s" % (user_a.name, user_b.name)},
            "IncidentResponseRole": {"arn": roles["IncidentResponseRole"],
                                     "users": user_b.name},
        }, BASTION, totp_window=3)
        fl = os.path.join(lab.root, "faillock")
        os.makedirs(fl, mode=0o700)
        exe = lab.pam_service(service, stsrole_stack(module, conf, faillock_dir=fl))
        bastion = lab.start_sshd(exe)
        target = lab.start_sshd(pam=False)
        cfg = lab.ssh_config({
            "bastion-a": (bastion, user_a), "target-a": (target, user_a),
            "bastion-b": (bastion, user_b),
        })

        inside = ("echo %s-BEGIN; env | grep -E '^(AWS_|STSROLE_)' | sed 's/=.*//' | sort | "
                  "tr '\\n' ' '; echo; echo ROLE=$STSROLE_ROLE_ARN; echo SID=$STSROLE_SESSION_ID;"
                  " %s sts get-caller-identity --endpoint-url %s --query Arn --output text; "
                  "echo %s-END") % (MARK, AWS, m.url, MARK)

        # 1. Single-role user: key, then the code through keyboard-interactive.
        code = totp(user_a.secret)
        r = ssh_login(cfg, "bastion-a", [code], inside)
        out = r.out
        result("login: publickey then keyboard-interactive asks 'Verification code: ' once",
               r.prompts == ["Verification code: "], "%s\n%s" % (r.prompts, out))
        result("login: the session runs (the PAM service is the symlink's name, %s)" % service,
               ("%s-END" % MARK) in out and r.status == 0, out)
        names = set(re.findall(r"\b(AWS_[A-Z_]+|STSROLE_[A-Z_]+)\b", out.split("ROLE=")[0]))
        want = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "AWS_CREDENTIAL_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION",
                "STSROLE_SESSION_ID", "STSROLE_ROLE_ARN"}
        result("session: every variable is in the login's environment",
               want <= names, "missing %s" % (want - names))
        sid = (re.search(r"SID=([0-9a-f]{32})", out) or [None, ""])[1]
        arn_re = r"arn:aws:sts::%s:assumed-role/SecurityAuditRole/%s@%s\.%s" % (
            menv["workload_account"], user_a.name, BASTION, sid[:16])
        result("session: /usr/bin/aws sts get-caller-identity inside the login is %s" %
               "assumed-role/SecurityAuditRole/<user>@<bastion>.<nonce>",
               sid and re.search(arn_re, out) is not None, out)
        # close_session runs in the connection's monitor process as it exits.
        rec_path = os.path.join(lab.state, "sessions", "%s.json" % sid)
        try:
            rec = json.load(open(rec_path))
            wait_pid_exit(rec.get("sshd_pid", 0))
            rec = json.load(open(rec_path))
            result("logout: close_session marked the record closed (sshd pid %s)" %
                   rec.get("sshd_pid"),
                   rec.get("closed", 0) > 0 and rec.get("user") == user_a.name
                   and rec.get("tty") and rec.get("rhost") == "127.0.0.1", rec)
        except (OSError, ValueError) as e:
            result("logout: the session record exists", False, e)

        # 2. The same code again is refused.
        r = ssh_login(cfg, "bastion-a", [code], "echo %s-END" % MARK)
        result("login: a reused code is refused",
               ("%s-END" % MARK) not in r.out and r.status != 0 and
               r.prompts[:1] == ["Verification code: "],
               "%s %s\n%s" % (r.status, r.prompts, r.out))

        # 3. Two roles: chosen during keyboard-interactive, used by open_session.
        r = ssh_login(cfg, "bastion-b", [totp(user_b.secret), "2"], inside)
        arn_re = r"arn:aws:sts::%s:assumed-role/IncidentResponseRole/%s@%s\." % (
            menv["workload_account"], user_b.name, BASTION)
        result("login: a user with two roles picks one from the numbered list at login",
               r.prompts == ["Verification code: ", "Role [1-2]: "]
               and re.search(arn_re, r.out) is not None
               and "ROLE=%s" % roles["IncidentResponseRole"] in r.out,
               "%s\n%s" % (r.prompts, r.out))

        # 4. ssh -J through the bastion to the second sshd.
        r = ssh_login(cfg, "target-a", [totp(user_a.secret, 1)],
                      "echo %s-TARGET $SSH_CONNECTION" % MARK, ssh_args=["-J", "bastion-a"])
        result("ssh -J through the bastion reaches the second sshd (port %d)" % target.port,
               re.search(r"%s-TARGET 127\.0\.0\.1 \d+ 127\.0\.0\.1 %d" % (MARK, target.port),
                         r.out) is not None and r.status == 0, r.out)
    return S.finish()


if __name__ == "__main__":
    sys.exit(main())
