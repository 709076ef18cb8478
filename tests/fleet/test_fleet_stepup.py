#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_fleet_stepup.py: step_up = totp across two bastions sharing the replay table (one moto).

A person has a credentials_mode = process session on bastion A and one on bastion B (PAM logins
through pamdrive, tests/fleet/test_fleet.py's Bastion); both bastions have the same users file
and replay_store = dynamodb:TABLE.  The step-up client is stsrole-credential-process --profile,
run as the person on a terminal of its own (it reads the code from /dev/tty).  As an attacker
who saw a code once would try it:
  - a step-up code accepted on A is refused for a step-up on B (the fleet claim), and audited
    there (stepup.failed) with the login's words, "fleet replay refused";
  - a code used for the login on A is refused as a step-up code on B, and a code used for a
    step-up on A is refused for a login on B (PAM_AUTH_ERR, outcome=replayed-fleet): login and
    step-up claim the same per-person counter (lib/replay.c);
  - with the table unreachable, a step-up is refused, with failmode = secure and with
    failmode = safe, and nothing is minted; once it is back a new code is accepted;
  - a step-up on A and a login on B with the same fresh code, released together: exactly one
    of them gets in, round after round.
Usage: test_fleet_stepup.py [BUILDDIR]  (default $STSROLE_BUILD, else build/).  Needs root.
Prints one line per case and "fleet-stepup: N passed, N failed".
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import check, rmtree_unless_kept  # noqa: E402

BUILD = harness.build_dir(sys.argv[1] if len(sys.argv) > 1 else None)
os.environ["STSROLE_BUILD"] = BUILD
os.environ.setdefault("PAMDRIVE", os.path.join(BUILD, "tests", "pam", "pamdrive"))
os.environ.setdefault("PAM_MODULE", os.path.join(BUILD, "pam", ".libs", "pam_stsrole.so"))

import test_fleet  # noqa: E402

HELPER = os.path.join(BUILD, "gateway", "stsrole-credential-process")
PROMPT = r"verification code for profile \S+: "
WINDOW = 8  # steps each side: the codes below run ahead of the clock by a few steps
RACE_ROUNDS = 4  # below the gateway's STEPUP_TRIES (5): each lost round counts as a wrong code
# step_up = totp templates of one role: three for alice's cases, one per race round
STEPUP = ["stepup1", "stepup2", "stepup3"] + ["race%d" % (k + 1) for k in range(RACE_ROUNDS)]

# One count with test_fleet's (its Bastion reports a driver that does not exit cleanly).
suite = test_fleet.S
suite.name = "fleet-stepup"


class Person:
    """A Unix user with sessions on the bastions and codes, each of a time step later than the
    last one handed out: the fleet claim keeps one counter per person, so an older unused code
    would be refused anyway and prove nothing."""

    def __init__(self, user):
        self.name, self.uid, self.gid = user.name, user.uid, user.gid
        self.last = 0
        self.sid = {}  # bastion name -> session id

    def fresh(self):
        self.last = max(self.last + 1, int(time.time()) // 30)
        return self.last, test_fleet.totp_at(self.name, self.last)


class World:
    def __init__(self, root, m, menv, env, people):
        self.root, self.m, self.menv, self.env = root, m, menv, env
        self.alice, self.bob = people
        self.gw = {}
        self.sshd = []
        roles = menv["roles"]
        names = " ".join(p.name for p in people)
        self.roles = {"SecurityAuditRole": {"arn": roles["SecurityAuditRole"],
                                            "revoker_arn": roles["StsRoleRevoker"],
                                            "users": names}}
        # step_up is a key of templates: one account each, so ACCOUNT-NAME is the profile.
        self.account = roles["IncidentResponseRole"].split(":")[4]
        self.templates = "".join(
            "\n[roles %s]\naccounts = %s\narn = arn:${partition}:iam::${account}:role/"
            "IncidentResponseRole\nrevoker_arn = arn:${partition}:iam::${account}:role/"
            "StsRoleRevoker\nusers = %s\nstep_up = totp\n" % (t, self.account, names)
            for t in STEPUP)
        self.profile = ["%s-%s" % (self.account, t) for t in STEPUP]
        self.a = test_fleet.Bastion(root, "su-a", [p.name for p in people])
        self.b = test_fleet.Bastion(root, "su-b", [p.name for p in people])
        for x in (self.a, self.b):
            x.run = os.path.join(x.root, "run")
            x.audit = os.path.join(x.root, "audit.log")
            x.conf = self.config(x, "fleet")

    def config(self, bastion, service, **keys):
        path = bastion.config(service, self.menv, self.roles, iam_endpoint=self.menv["url"],
                              credentials_mode="process", runtime_dir=bastion.run,
                              credential_helper=HELPER, totp_window=WINDOW, **keys)
        with open(path, "a") as f:
            f.write(self.templates)
        return path

    def start(self, bastion, conf=None):
        from gwlib import Gateway
        self.stop(bastion)
        log = os.path.join(self.root, "gatewayd-%s.log" % bastion.name)
        self.gw[bastion.name] = Gateway(conf or bastion.conf, self.env, ["--reconcile", "1"],
                                        log=log).start()

    def stop(self, bastion):
        g = self.gw.pop(bastion.name, None)
        if g is not None:
            check(g.stop() == 0, "the gateway of %s did not stop cleanly" % bastion.name)

    def glog(self, bastion):
        path = os.path.join(self.root, "gatewayd-%s.log" % bastion.name)
        return open(path, errors="replace").read() if os.path.exists(path) else ""

    def cleanup(self):
        for g in self.gw.values():
            g.kill9()
        for p in self.sshd:
            p.kill()
            p.wait()

    def logged_in(self, bastion, who, r):
        """After pamdrive's login: its session lives on (Bastion.hold)."""
        sid = r.env.get("STSROLE_SESSION_ID", "")
        if r.code("open") == "PAM_SUCCESS" and sid:
            sshd, _ = bastion.hold(sid)
            self.sshd.append(sshd)
            who.sid[bastion.name] = sid
        return r

    def login(self, bastion, who, code):
        """auth + open_session through PAM with code; returns pamdrive's run."""
        r = bastion.drive("fleet", who.name, ["auth", "open", "env"], [code], self.env)
        return self.logged_in(bastion, who, r)

    def helper(self, bastion, who, profile):
        """stsrole-credential-process --profile as the person, on a terminal of its own (it
        reads the code from /dev/tty)."""
        import pexpect

        def as_person():
            os.setgroups([])
            os.setgid(who.gid)
            os.setuid(who.uid)
        return pexpect.spawn(HELPER, ["--socket", os.path.join(bastion.run, "credentials.sock"),
                                      "--session", who.sid[bastion.name], "--profile", profile],
                             env={"PATH": "/usr/bin:/bin", "HOME": "/"}, preexec_fn=as_person,
                             encoding="utf-8", timeout=90)

    @staticmethod
    def prompted(child):
        import pexpect
        return child.expect([PROMPT, pexpect.EOF]) == 0

    @staticmethod
    def answer(child, prompted, code):
        """Types code at the prompt; returns (exit status, prompted, what the helper wrote)."""
        import pexpect
        out = child.before + (child.after if prompted else "")
        if prompted:
            child.sendline(code)
            child.expect(pexpect.EOF)
            out += child.before
        child.close()
        return child.exitstatus, prompted, out.replace("\r", "")

    def step_up(self, bastion, who, profile, code):
        child = self.helper(bastion, who, profile)
        return self.answer(child, self.prompted(child), code)

    def events(self, bastion, event, profile=None):
        from gwlib import audit_lines
        return [e for e in audit_lines(bastion.audit) if e["event"] == event and
                (profile is None or "profile %s" % profile in (e.get("detail") or ""))]

    def replay_item(self, who):
        return test_fleet.replay_item(self.m, self.menv, who.name)


def credential(out):
    """The credential_process document the helper printed, or None."""
    m = re.search(r'^\{"Version":1,.*\}$', out, re.M)
    return json.loads(m.group(0)) if m else None


def refused_step_up(w, bastion, profile, code, why, who=None, said="was not accepted"):
    """A step-up that must be refused: asked for, no credential, the gateway's reason, one
    stepup.failed record more.  said: how the helper puts it ("could not be checked" when the
    gateway could not tell whether the code was good: it does not count as a wrong one)."""
    who = who or w.alice
    before = len(w.events(bastion, "stepup.failed", profile))
    rc, prompted, out = w.step_up(bastion, who, profile, code)
    check(prompted, "no prompt for %s on %s: %s" % (profile, bastion.name, out))
    check(rc != 0 and credential(out) is None and "AccessKeyId" not in out,
          "a credential for %s on %s: rc %s %s" % (profile, bastion.name, rc, out))
    check(said in out and why in out,
          "the helper on %s does not say why (%r): %s" % (bastion.name, why, out))
    check(code not in out, "the code was echoed or printed: %s" % out)
    failed = w.events(bastion, "stepup.failed", profile)
    check(len(failed) == before + 1 and why in failed[-1]["detail"]
          and failed[-1]["outcome"] == "error"
          and failed[-1]["session_id"] == who.sid[bastion.name]
          and failed[-1]["user"] == who.name,
          "%s's audit log: stepup.failed %s" % (bastion.name, failed[-1:]))
    check(not w.events(bastion, "profile.ok", profile), "%s minted on %s" % (profile,
                                                                           bastion.name))
    return out


def accepted_step_up(w, bastion, profile, step, code):
    who = w.alice
    before = len(w.events(bastion, "stepup.ok", profile))
    rc, prompted, out = w.step_up(bastion, who, profile, code)
    cred = credential(out)
    check(prompted and rc == 0 and cred is not None and cred["AccessKeyId"].startswith("ASIA"),
          "step-up for %s on %s: rc %s prompted %s: %s" % (profile, bastion.name, rc, prompted,
                                                           out))
    check(code not in out, "the code was echoed or printed: %s" % out)
    ok = w.events(bastion, "stepup.ok", profile)
    check(len(ok) == before + 1 and ok[-1]["session_id"] == who.sid[bastion.name] and
          w.events(bastion, "profile.ok", profile), "%s's audit log: stepup.ok %s, profile.ok %s"
          % (bastion.name, ok[-1:], w.events(bastion, "profile.ok", profile)[-1:]))
    it = w.replay_item(who)
    check(it is not None and it["bastion_id"]["S"] == bastion.name
          and int(it["step"]["N"]) == step, "the claim after the step-up: %s" % it)
    return cred


# ----------------------------------------------------------------------------------- cases ---

def case_sessions(w):
    """A session of the person on B, then one on A (each login claims its code's step)."""
    step_b, code_b = w.alice.fresh()
    rb = w.login(w.b, w.alice, code_b)
    step_a, code_a = w.alice.fresh()
    ra = w.login(w.a, w.alice, code_a)
    for r, x in ((ra, w.a), (rb, w.b)):
        check(r.code("auth") == "PAM_SUCCESS" and r.code("open") == "PAM_SUCCESS"
              and x.name in w.alice.sid, "login on %s: %s %s %s" % (x.name, r.code("auth"),
                                                              r.code("open"), r.logtext()))
    it = w.replay_item(w.alice)
    check(it is not None and it["bastion_id"]["S"] == "su-a" and int(it["step"]["N"]) == step_a,
          "the claim after the logins: %s" % it)
    w.login_code_a = code_a
    # The gateways start once the stand-in sshds are in the records.
    w.start(w.a)
    w.start(w.b)


def case_login_code_as_step_up(w):
    """The code of the login on A, typed again for a step-up on B (whose own users file has
    not seen it: only the fleet claim knows)."""
    check(w.alice.sid.get("su-a") and w.alice.sid.get("su-b"), "no sessions")
    refused_step_up(w, w.b, w.profile[0], w.login_code_a, "fleet replay refused")


def case_step_up_replayed(w):
    """A step-up code accepted on A, replayed for the same profile's step-up on B."""
    step, code = w.alice.fresh()
    accepted_step_up(w, w.a, w.profile[0], step, code)
    refused_step_up(w, w.b, w.profile[0], code, "fleet replay refused")
    it = w.replay_item(w.alice)
    check(it["bastion_id"]["S"] == "su-a" and int(it["step"]["N"]) == step,
          "B's refusal changed the claim: %s" % it)
    # On A itself liboath refuses it: its users file recorded the code.
    rc, prompted, out = w.step_up(w.a, w.alice, w.profile[2], code)
    check(prompted and rc != 0 and credential(out) is None and "was not accepted" in out
          and "fleet replay refused" not in out, "the code again on A: rc %s %s" % (rc, out))
    for x in (w.a, w.b):
        text = open(x.audit).read() + w.glog(x)
        check(code not in text and w.login_code_a not in text,
              "a code is in %s's audit log or gateway log" % x.name)
    print("   refused on B: %s" % w.events(w.b, "stepup.failed")[-1]["detail"])


def case_step_up_code_as_login(w):
    """A code accepted for a step-up on A, typed again for a login on B."""
    step, code = w.alice.fresh()
    accepted_step_up(w, w.a, w.profile[1], step, code)
    n = len(w.sshd)
    r = w.login(w.b, w.alice, code)
    check(r.code("auth") == "PAM_AUTH_ERR" and r.code("open") != "PAM_SUCCESS" and len(w.sshd) == n,
          "login on B with the step-up code: %s %s" % (r.code("auth"), r.logtext()))
    check("outcome=replayed-fleet" in r.logtext() and "fleet replay refused" in r.logtext(),
          "B's syslog: %s" % r.logtext())


def case_outage(w):
    """The table unreachable (a closed port) for A's gateway: with failmode secure, then safe,
    a step-up is refused with a message that says so; then the table is back."""
    down = "http://127.0.0.1:%d" % test_fleet.closed_port()
    for mode in ("secure", "safe"):
        conf = w.config(w.a, "down-" + mode, dynamodb_endpoint=down, failmode=mode, timeout=1)
        w.start(w.a, conf)
        _, code = w.alice.fresh()
        t0 = time.monotonic()
        out = refused_step_up(w, w.a, w.profile[2], code, "replay store",
                              said="could not be checked")
        took = time.monotonic() - t0
        check("unavailable, so the step-up fails closed" in out,
              "failmode %s: the helper's message: %s" % (mode, out))
        print("   failmode %s, %.1f s: %s" % (mode, took, out.strip().splitlines()[-1]))
    w.start(w.a)
    step, code = w.alice.fresh()
    accepted_step_up(w, w.a, w.profile[2], step, code)


def case_race(w):
    """bob types a step-up code on A while someone who saw it logs in as bob with it on B, both
    released at the same instant (the code typed at the helper's prompt, pamdrive let through a
    pipe barrier as test_fleet's race does): each round exactly one of them gets in, and the
    table names the winner."""
    import pexpect
    bob = w.bob
    _, code = bob.fresh()
    r = w.login(w.a, bob, code)
    check(r.code("open") == "PAM_SUCCESS" and "su-a" in bob.sid,
          "bob's login on A: %s %s" % (r.code("auth"), r.logtext()))
    wins, bad = {"su-a": 0, "su-b": 0}, []
    for k in range(RACE_ROUNDS):
        profile = w.profile[3 + k]
        step, code = bob.fresh()
        child = w.helper(w.a, bob, profile)
        check(w.prompted(child), "no prompt for %s: %s" % (profile, child.before))
        cmd, log = w.b.command("fleet", bob.name, ["auth", "open", "env"], [code])
        rfd, wfd = os.pipe()
        try:
            login = subprocess.Popen(["sh", "-c", 'read _; exec "$@"', "barrier"] + cmd,
                                     stdin=rfd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=test_fleet.pam_env(w.env))
        finally:
            os.close(rfd)
        # The person types the code and the other login goes ahead, in turn first: the
        # step-up has further to go (the gateway's socket, its main loop).
        if k % 2:
            os.close(wfd)
        child.sendline(code)
        if not k % 2:
            os.close(wfd)
        out, err = login.communicate(timeout=120)
        rb = test_fleet.finish(out, log, login.returncode, err)
        child.expect(pexpect.EOF)
        said = child.before.replace("\r", "")
        child.close()
        rc = child.exitstatus
        a_won = rc == 0 and credential(said) is not None
        b_won = rb.code("auth") == "PAM_SUCCESS"
        it = w.replay_item(bob)
        winner = "su-a" if a_won else "su-b"
        if (a_won == b_won or it is None or it["bastion_id"]["S"] != winner
                or int(it["step"]["N"]) != step
                or (b_won and "fleet replay refused" not in said)
                or (a_won and "outcome=replayed-fleet" not in rb.logtext())):
            bad.append("round %d: step-up rc %s %s | login %s %s | %s"
                       % (k, rc, said[-300:], rb.code("auth"), rb.logtext()[-300:], it))
        else:
            wins[winner] += 1
    check(not bad, "; ".join(bad))
    print("   %d rounds: the step-up on A won %d, the login on B won %d"
          % (RACE_ROUNDS, wins["su-a"], wins["su-b"]))


def case_stop(w):
    """Both gateways stop with exit 0 (built with sanitizers: no error, no leak), and their logs
    hold no sanitizer report."""
    for x in (w.a, w.b):
        w.stop(x)
        text = w.glog(x)
        check("Sanitizer" not in text and "runtime error" not in text,
              "%s's gateway log: %s" % (x.name, text[-2000:]))


def main():
    if os.geteuid() != 0:
        return suite.skip_all("needs root (root-owned configs, a test user)")
    for exe in (test_fleet.PAMDRIVE, test_fleet.MODULE, HELPER):
        if not exe or not os.path.exists(exe):
            return suite.skip_all("%s is not built (make -C %s)" % (exe, BUILD))
    if shutil.which("oathtool") is None:
        return suite.skip_all("oathtool is not installed")
    try:
        import pexpect  # noqa: F401
        from fleetmoto import FleetMoto, seed_fleet
        from gwlib import gatewayd_path
        from mototest import base_env
        from sshdtest import Lab
    except ImportError as e:
        return suite.skip_all(str(e))
    if not os.access(gatewayd_path(), os.X_OK):
        return suite.skip_all("%s is not built" % gatewayd_path())
    root = tempfile.mkdtemp(prefix="stsrole-fleetstepup.")
    os.chmod(root, 0o711)  # the person reaches the credentials sockets through it
    w = None
    try:
        with FleetMoto(log=os.path.join(root, "moto.log")) as m, Lab("stepup") as lab:
            menv = seed_fleet(m)
            w = World(root, m, menv, base_env(menv),
                      [Person(lab.add_user()), Person(lab.add_user())])
            try:
                suite.case("sessions of %s on bastions A and B (PAM, credentials_mode = process), "
                           "each login's code claimed in the shared table" % w.alice.name,
                           case_sessions, w)
                suite.case("the code of the login on A, typed for a step-up on B: refused (fleet "
                           "replay refused), nothing minted, stepup.failed in B's audit log",
                           case_login_code_as_step_up, w)
                suite.case("a step-up code accepted on A (stepup.ok, A's claim in the table) is "
                           "refused for a step-up on B within its window, and audited there; "
                           "liboath refuses it on A; no code in any log",
                           case_step_up_replayed, w)
                suite.case("a step-up code accepted on A is refused for a login on B "
                           "(PAM_AUTH_ERR, outcome=replayed-fleet)", case_step_up_code_as_login,
                           w)
                suite.case("the table unreachable: a step-up is refused (failmode secure, and "
                           "safe too), nothing minted, the helper says why; once it is back a "
                           "new code is accepted", case_outage, w)
                suite.case("a race: a step-up on A and a login on B with the same fresh code, "
                           "released together, %d rounds: exactly one gets in each time"
                           % RACE_ROUNDS, case_race, w)
                suite.case("both gateways stop cleanly", case_stop, w)
            finally:
                w.cleanup()
                if suite.failed:
                    lab.keep = True
    finally:
        if suite.failed and w is not None:
            print("kept %s" % root)
        else:
            rmtree_unless_kept(root)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
