#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_concurrency.py: logins that arrive at the same moment through one real sshd.

Usage: python3 tests/integration/test_concurrency.py [BUILDDIR]
  (default $STSROLE_BUILD, else ./build under the source tree)

One sshd on 127.0.0.1 with pam_stsrole (tests/lib/sshdtest.py) and moto as
STS.  Every login of a case first waits at the "Verification code: " prompt
until all of that case's logins are there (a threading.Barrier), then all of
them answer at once, so the module's checks of the code really overlap:
- 50 people, each with a code of their own: all 50 get a shell with a
  credential;
- one person's code sent by 8 logins at once: exactly one gets in, the
  other 7 are refused as a used code (PAM_AUTH_ERR, not an error);
- liboath's lock and temporary files left behind by a crashed login
  (users.oath.lock, users.oath.new): the next logins still succeed and the
  leftovers are gone.
A control runs Debian's pam_oath on a copy of the same stale lock file: it
refuses, which is what stsrole's recovery is for.
Needs root, sshd, ssh, oathtool, pexpect and moto_server; prints
"skipped: ..." and exits 77 when one is missing.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

import sshdtest  # noqa: E402
from harness import Suite, check  # noqa: E402
from sshdtest import (PAM_OATH, PROMPT_CODE, PROMPT_OATH, Lab, SetupError,  # noqa: E402
                      BURST, at_once, oath_stack, ssh_login, stsrole_stack, totp)

PEOPLE = 50
SAME_CODE = 8
MARK = "STSROLE-CONC"
SSHD_EXTRA = (BURST,)
COMMAND = "echo %s ${STSROLE_SESSION_ID:-none}" % MARK


def got_in(r):
    return (not isinstance(r, Exception) and r.status == 0
            and r.prompts == ["Verification code: "] and ("%s " % MARK) in r.out
            and ("%s none" % MARK) not in r.out)


class Fixture:
    def __init__(self, lab, module, moto, service):
        self.lab = lab
        # One group for all (a users = line of 50 names would pass inih's
        # 200-character line limit, see stsrole.conf(5)).
        group = lab.add_group()
        self.people = [lab.add_user(groups=(group,)) for _ in range(PEOPLE)]
        menv = moto.seed()
        lab.write_usersfile(self.people)
        conf = lab.stsrole_conf(menv, {
            "SecurityAuditRole": {"arn": menv["roles"]["SecurityAuditRole"],
                                  "groups": group},
        }, "concbastion", totp_window=1)
        exe = lab.pam_service(service, stsrole_stack(module, conf))
        self.sshd = lab.start_sshd(exe, extra=SSHD_EXTRA)
        self.cfg = lab.ssh_config({u.name: (self.sshd, u) for u in self.people})

    def login(self, user, code, gate, prompts=(PROMPT_CODE,), cfg=None):
        return ssh_login(cfg or self.cfg, user.name, [code], COMMAND, prompts=list(prompts),
                         gate=gate)

    def why(self, results):
        bad = [r for r in results if not got_in(r)]
        if not bad:
            return ""
        r = bad[0]
        detail = r if isinstance(r, Exception) else "status %s prompts %s: %s" % (
            r.status, r.prompts, r.out[-600:])
        return "%d of %d failed; first: %s\nsshd: %s" % (
            len(bad), len(results), detail, self.sshd.log()[-2500:])


def fifty_at_once(fx):
    codes = [totp(u.secret) for u in fx.people]
    jobs = [lambda gate, u=u, c=c: fx.login(u, c, gate) for u, c in zip(fx.people, codes)]
    results = at_once(jobs)
    fx.sshd.wait_idle()
    ok = sum(got_in(r) for r in results)
    check(ok == PEOPLE, "%d of %d got a shell with a credential\n%s" % (ok, PEOPLE,
                                                                       fx.why(results)))


def same_code_once(fx):
    user = fx.people[0]
    # A step later than anything this user sent before (fifty_at_once used
    # the current one): liboath accepts a code of the next step in window 1.
    code = totp(user.secret, step=1)
    seen = len(fx.sshd.lines)
    results = at_once([lambda gate: fx.login(user, code, gate)] * SAME_CODE)
    fx.sshd.wait_idle()
    ok = sum(got_in(r) for r in results)
    # Refused as a used code (PAM_AUTH_ERR), not by an error such as a busy
    # lock (PAM_AUTHINFO_UNAVAIL): sshd names the PAM code it got.
    log = "".join(fx.sshd.lines[seen:])
    replays = log.count("PAM: Authentication failure for %s " % user.name)
    check(ok == 1 and replays == SAME_CODE - 1,
          "%d got in and %d were refused as a used code, of %d logins with one code\n%s"
          % (ok, replays, SAME_CODE, log[-2500:]))


def stale_lock(fx):
    left = [fx.lab.usersfile + ".lock", fx.lab.usersfile + ".new"]
    for p in left:
        with open(p, "w") as f:
            f.write("left by a login that crashed\n")
    users = fx.people[1:4]
    codes = [totp(u.secret, step=1) for u in users]
    results = at_once([lambda gate, u=u, c=c: fx.login(u, c, gate)
                        for u, c in zip(users, codes)])
    fx.sshd.wait_idle()
    check(all(got_in(r) for r in results), fx.why(results))
    still = [p for p in left if os.path.lexists(p)]
    check(not still, "still there: %s" % still)


def control_pam_oath(fx, lab, service):
    """pam_oath on a users file with a stale lock refuses a good code."""
    user = fx.people[10]
    usersfile = os.path.join(lab.etc, "oath-users")
    lab.write_usersfile([user], usersfile)
    with open(usersfile + ".lock", "w") as f:
        f.write("left by a login that crashed\n")
    exe = lab.pam_service(service + "o", oath_stack(usersfile, window=1))
    sshd = lab.start_sshd(exe, extra=SSHD_EXTRA)
    cfg = lab.ssh_config({user.name: (sshd, user)})
    r = ssh_login(cfg, user.name, [totp(user.secret, step=1)], COMMAND,
                  prompts=[PROMPT_OATH])
    sshd.wait_idle()
    check(r.status != 0 and MARK not in r.out,
          "pam_oath let %s in despite its stale lock: %s" % (user.name, r.out[-400:]))


def main():
    builddir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "STSROLE_BUILD", os.path.join(TOP, "build"))
    module = os.path.join(os.path.abspath(builddir), "pam", ".libs", "pam_stsrole.so")
    why = sshdtest.missing_prerequisite()
    if why is None and not os.path.exists(module):
        why = "%s is not built" % module
    if why is None and not os.path.exists(PAM_OATH):
        why = "%s is missing (apt-get install -y libpam-oath)" % PAM_OATH
    try:
        from mototest import Moto
    except ImportError as e:
        why = why or "tests/lib/mototest.py: %s" % e
    if why:
        print("skipped: concurrency: %s" % why)
        return 77
    suite = Suite("concurrency")
    service = "stsrole-conc-%d" % os.getpid()
    with Lab("conc") as lab:
        with Moto(log=os.path.join(lab.root, "moto.log")) as m:
            try:
                fx = Fixture(lab, module, m, service)
            except SetupError as e:
                print("not ok - the sshd fixture is set up: %s" % e)
                return 1
            suite.case("%d people log in at the same moment, each with a code of their own: "
                       "all get a shell with a credential" % PEOPLE, fifty_at_once, fx)
            suite.case("one code sent by %d logins at the same moment: exactly one gets in"
                       % SAME_CODE, same_code_once, fx)
            suite.case("liboath's users.oath.lock and users.oath.new left by a crash: logins "
                       "at the same moment still succeed, the leftovers are removed",
                       stale_lock, fx)
            suite.case("control: Debian's pam_oath refuses a good code while a stale "
                       "users.oath.lock exists", control_pam_oath, fx, lab, service)
            lab.keep = bool(suite.failed and os.environ.get("KEEP_E2E"))
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
