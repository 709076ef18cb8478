#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_gateway.py: stsrole-gatewayd and stsrolectl's admin side against moto with auth on.

What a user would notice: the deny policy that lands on the role in IAM, the AWS CLI getting
AccessDenied with a closed session's credentials, the audit lines written, stsrolectl's output.
One line per case, then "gateway: N passed, N failed".  Environment: STSROLE_BUILD (the build
directory), GW_ROUNDS (crash rounds, default 50), GW_KEEP=1 keeps the temporary directory.
"""
import calendar
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from harness import Skip, Suite, check, rmtree_unless_kept  # noqa: E402
from mototest import DEFAULT_ROLES, Moto, base_env, write_config  # noqa: E402
from gwlib import (Gateway, audit_lines, close_session, ctl, fake_userid, gatewayd_path,  # noqa: E402
                   session_record, sid_of, stsrolectl_path, wait_for, write_session)

AWS = "/usr/bin/aws" if os.path.exists("/usr/bin/aws") else shutil.which("aws")
ROUNDS = int(os.environ.get("GW_ROUNDS", "50"))
POLICY = "stsrole-revoked-b1"
ALLOW = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": ["iam:Get*", "iam:List*", "ec2:Describe*"],
                        "Resource": "*"}]}
# Issue #19: more logouts in one minute than the budget holds, all younger than the skew. The
# budget is made small by a real inline policy of the role that takes most of it (no test-only
# switch): the gateway counts it because the revoker may list the role's policies.
BURST = 150
PAD = {"Version": "2012-10-17",
       "Statement": [{"Sid": "Pad", "Effect": "Allow", "Action": "ec2:DescribeInstances",
                      "Resource": ["arn:aws:ec2:us-east-1:222222222222:instance/i-%017d" % i
                                   for i in range(135)]},
                     {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*", "ec2:Describe*"],
                      "Resource": "*"}]}
# One role per case, so each case sees only its own policy.
ROLES = dict(DEFAULT_ROLES, PruneRole=ALLOW, CrashRole=ALLOW, BudgetRole=ALLOW, DownRole=ALLOW,
             CtlRole=ALLOW, AllRole=ALLOW, BurstRole=PAD)
BATCH_ROUNDS, BATCH_SESSIONS = 3, 250
ROLES.update({"BatchRole%d" % i: ALLOW for i in range(BATCH_ROUNDS)})


class World:
    """One moto, one gateway configuration, the state shared by the cases."""

    def __init__(self, moto, menv, tmp):
        self.moto = moto
        self.menv = menv
        self.tmp = tmp
        self.env = base_env(menv)
        self.roles = menv["roles"]
        self.state = os.path.join(tmp, "state")
        self.audit = os.path.join(tmp, "audit.log")
        self.glog = os.path.join(tmp, "gatewayd.log")
        revoker = self.roles["StsRoleRevoker"]
        spec = {name: {"arn": self.roles[name], "revoker_arn": revoker, "users": "alice bob"}
                for name in ROLES if name != "StsRoleRevoker"}
        self.conf = write_config(os.path.join(tmp, "stsrole.conf"), menv, roles=spec,
                                 state_dir=self.state, audit_log=self.audit, bastion_id="b1")
        self.sts = moto.client("sts", creds=menv["base"])
        checker = self.sts.assume_role(RoleArn=revoker, RoleSessionName="test-checker")
        self.iam = moto.client("iam", creds=checker["Credentials"])
        self.gw = None
        self.facts = {"account": menv["workload_account"]}

    def start(self):
        self.gw = Gateway(self.conf, self.env, ["--skew", "0", "--reconcile", "1"],
                          log=self.glog).start()
        return self.gw

    def assume(self, role, user, session_id=None):
        """AssumeRole as pam_stsrole does: SourceIdentity, and with a session id the
        stsrole:sid tag, transitive."""
        name = "%s@b1.%s" % (user, os.urandom(4).hex())
        kw = {}
        if session_id is not None:
            kw = {"Tags": [{"Key": "stsrole:sid", "Value": sid_of(session_id)}],
                  "TransitiveTagKeys": ["stsrole:sid"]}
        r = self.sts.assume_role(RoleArn=self.roles[role], RoleSessionName=name,
                                 SourceIdentity=user, **kw)
        return r["AssumedRoleUser"]["AssumedRoleId"], r["Credentials"]

    def real_session(self, role, user, sshd_pid=0):
        session_id = os.urandom(16).hex()
        arid, creds = self.assume(role, user, session_id)
        rec = session_record(user, role, self.roles[role], arid, creds["AccessKeyId"],
                             creds["Expiration"].timestamp(), sshd_pid=sshd_pid,
                             session_id=session_id, tagged=True)
        write_session(self.state, rec)
        return rec, creds

    def fake_session(self, role, tag, n, expires_in=3600, long=False, opened=None, closed=False,
                     tagged=False):
        rec = session_record(tag, role, self.roles[role], fake_userid(tag, n, long),
                             "ASIAFAKE%012d" % n, time.time() + expires_in, opened=opened,
                             tagged=tagged)
        if closed:
            rec["closed"] = int(time.time())
        write_session(self.state, rec)
        return rec

    def policy(self, role):
        try:
            return self.iam.get_role_policy(RoleName=role, PolicyName=POLICY)["PolicyDocument"]
        except self.iam.exceptions.NoSuchEntityException:
            return None

    def userids(self, role, sid="StsroleRevoked", key="aws:userid"):
        doc = self.policy(role) or {}
        for st in doc.get("Statement", []):
            if st.get("Sid") == sid:
                v = st["Condition"]["StringEquals"][key]
                return v if isinstance(v, list) else [v]
        return []

    def sids(self, role):
        return self.userids(role, "StsroleSid", "aws:PrincipalTag/stsrole:sid")

    def events(self, session_id=None, event=None):
        return [e for e in audit_lines(self.audit)
                if (session_id is None or e.get("session_id") == session_id) and
                (event is None or e["event"] == event)]

    def aws_cli(self, creds, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
                   AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
                   AWS_SESSION_TOKEN=creds["SessionToken"], AWS_DEFAULT_REGION="us-east-1",
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   AWS_PAGER="")
        return subprocess.run([AWS, "--endpoint-url", self.moto.url] + list(args), env=env,
                              capture_output=True, text=True, timeout=60)

    def ctl(self, *args):
        return ctl(self.conf, *args)


# -- cases -------------------------------------------------------------------------------------

def case_revoke_at_logout(w):
    rec, creds = w.real_session("SecurityAuditRole", "alice")
    before = w.aws_cli(creds, "iam", "get-role", "--role-name", "SecurityAuditRole")
    check(before.returncode == 0, "iam get-role before logout failed: " + before.stderr)
    wait_for(lambda: w.events(rec["session_id"], "session.open"), what="session.open")
    # A second live session of the same role: iam-simulate shows it is not denied.
    live_session = os.urandom(16).hex()
    live_id, _ = w.assume("SecurityAuditRole", "bob", live_session)
    start = time.monotonic()
    close_session(w.state, rec)
    wait_for(lambda: rec["sid"] in w.sids("SecurityAuditRole"), 10,
             "the session's stsrole:sid in %s" % POLICY)
    took = time.monotonic() - start
    after = w.aws_cli(creds, "iam", "get-role", "--role-name", "SecurityAuditRole")
    check(after.returncode != 0 and "AccessDenied" in after.stderr,
          "the closed session's credentials still work: rc %d %s" % (after.returncode,
                                                                      after.stderr))
    ev = wait_for(lambda: w.events(rec["session_id"], "revoke.ok"), what="revoke.ok")
    check(ev[0]["aws_request_id"], "revoke.ok carries no AWS request id")
    check(ev[0]["account"] == w.menv["workload_account"], "account not in the audit line")
    check([e["event"] for e in w.events(rec["session_id"])] ==
          ["session.open", "session.close", "revoke.ok"], "audit events out of order")
    w.facts["list"] = {"role": "SecurityAuditRole", "policy": w.policy("SecurityAuditRole"),
                       "permissions": DEFAULT_ROLES["SecurityAuditRole"],
                       "revoked": [{"userid": rec["assumed_role_id"], "sid": rec["sid"],
                                    "person": "alice"}],
                       "live": {"userid": live_id, "sid": sid_of(live_session), "person": "bob"}}
    print("   logout to policy in IAM: %.0f ms; then AccessDenied: %s" %
          (took * 1000, after.stderr.strip().splitlines()[-1][:100]))


def case_sshd_gone(w):
    sshd = subprocess.Popen(["sleep", "600"])
    rec, _ = w.real_session("SecurityAuditRole", "bob", sshd_pid=sshd.pid)
    wait_for(lambda: w.events(rec["session_id"], "session.open"), what="session.open")
    check(not w.events(rec["session_id"], "session.close"), "closed while sshd lives")
    sshd.kill()
    sshd.wait()
    wait_for(lambda: rec["sid"] in w.sids("SecurityAuditRole"), 10,
             "revocation after sshd died")
    ev = w.events(rec["session_id"], "session.close")
    check(len(ev) == 1 and "sshd process %d is gone" % sshd.pid in ev[0]["detail"],
          "session.close does not say sshd is gone: %s" % ev)


def proc_start(pid):
    """Field 22 of /proc/PID/stat (start time in clock ticks since boot)."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def case_sshd_reused(w):
    """The record names its sshd by pid and start time: a live process with that pid
    but another start time is a later process, and the session counts as closed;
    the right start time keeps it open."""
    sshd = subprocess.Popen(["sleep", "600"])
    try:
        good, _ = w.real_session("SecurityAuditRole", "bob", sshd_pid=sshd.pid)
        good["sshd_start"] = proc_start(sshd.pid)
        write_session(w.state, good)
        other, _ = w.real_session("SecurityAuditRole", "bob", sshd_pid=sshd.pid)
        other["sshd_start"] = proc_start(sshd.pid) + 1
        write_session(w.state, other)
        wait_for(lambda: other["sid"] in w.sids("SecurityAuditRole"), 10,
                 "revocation of the session whose sshd pid was reused")
        ev = w.events(other["session_id"], "session.close")
        check(len(ev) == 1 and "sshd process %d is gone" % sshd.pid in ev[0]["detail"],
              "session.close does not say sshd is gone: %s" % ev)
        check(not w.events(good["session_id"], "session.close"),
              "the session with the right start time was closed")
        close_session(w.state, good)
    finally:
        sshd.kill()
        sshd.wait()


def case_assume_audited(w):
    """An operator's stsrolectl assume (root) is recorded by the running gateway: who ran
    it, why, and the key id it minted; its tag says stsrole:mfa=none."""
    rc, out, err = ctl(w.conf, "assume", "--role", "CtlRole", "--user", "carol", env=w.env)
    check(rc == 0, "assume: rc %d %s" % (rc, err))
    minted = json.loads(out)
    ev = [e for e in w.events(event="assume.ok") if e.get("user") == "carol"]
    check(len(ev) == 1 and ev[0]["access_key_id"] == minted["AccessKeyId"]
          and ev[0]["role_arn"] == w.roles["CtlRole"]
          and "stsrolectl assume by uid 0" in (ev[0].get("detail") or "")
          and "stsrole:mfa=none" in ev[0]["detail"], "assume.ok: %s" % ev)
    print("   %s" % ev[0]["detail"])


def case_prune(w):
    rec = w.fake_session("PruneRole", "carol", 1, expires_in=3)
    close_session(w.state, rec)
    wait_for(lambda: rec["assumed_role_id"] in w.userids("PruneRole"), 10, "the entry")
    # --skew 0: the entry goes as soon as the credential has expired.
    wait_for(lambda: w.policy("PruneRole") is None, 15, "the empty policy to be deleted")
    # The gateway writes the prune line just after DeleteRolePolicy returns: wait for it.
    ev = wait_for(lambda: [e for e in w.events(event="prune")
                           if e["role_arn"] == w.roles["PruneRole"] and "deleted" in
                           (e.get("detail") or "")], 10, "the prune line")
    check(ev[-1]["outcome"] == "ok", "prune line not ok: %s" % ev)


def case_gateway_down(w):
    rc = w.gw.stop()
    check(rc == 0, "SIGTERM: exit %s" % rc)
    check(audit_lines(w.audit)[-1]["event"] == "gateway.stop", "gateway.stop not audited")
    # Logins and logouts while the gateway is down: pam_stsrole only writes records, so
    # people log in and out as usual; their credentials stay valid until the gateway is back.
    closed = [w.fake_session("DownRole", "dan", i, closed=True) for i in range(3)]
    sshd = subprocess.Popen(["sleep", "600"])
    gone = w.fake_session("DownRole", "dan", 10)
    gone["sshd_pid"] = sshd.pid
    write_session(w.state, gone)
    sshd.kill()
    sshd.wait()
    live = w.fake_session("DownRole", "dan", 20)
    w.start()
    want = [r["assumed_role_id"] for r in closed + [gone]]
    wait_for(lambda: set(want) <= set(w.userids("DownRole")), 10, "the sessions closed while down")
    check(live["assumed_role_id"] not in w.userids("DownRole"), "a live session was revoked")
    wait_for(lambda: w.events(live["session_id"], "session.open"), what="the live session")
    close_session(w.state, live)
    wait_for(lambda: live["assumed_role_id"] in w.userids("DownRole"), 10, "the late logout")
    # revoke.ok follows the write to IAM: wait for the line, not only the policy.
    wait_for(lambda: all(w.events(r["session_id"], "revoke.ok") for r in closed + [gone, live]),
             10, "revoke.ok of each")
    for r in closed + [gone, live]:
        ev = [e["event"] for e in w.events(r["session_id"])]
        check(ev == ["session.open", "session.close", "revoke.ok"], "%s: %s" % (r["user"], ev))


def case_crash_safety(w):
    rng = random.Random(int(os.environ.get("GW_SEED", "4242")))
    opened = []
    n = 0
    for rnd in range(ROUNDS):
        for _ in range(rng.randint(1, 3)):
            n += 1
            rec = w.fake_session("CrashRole", "eve", n)
            opened.append(rec)
        # Close some now, the rest in a later round (or never: they stay live).
        for rec in opened:
            if not rec.get("closed") and rng.random() < 0.7:
                rec.update(close_session(w.state, rec))
        # kill -9 at a random moment: right away, or while it is busy.
        time.sleep(rng.choice([0, 0, 0.002, 0.01, 0.03, 0.08]))
        w.gw.kill9()
        w.start()
    for rec in opened:
        if not rec.get("closed"):
            rec.update(close_session(w.state, rec))
    ids = [r["assumed_role_id"] for r in opened]
    wait_for(lambda: set(ids) <= set(w.userids("CrashRole")), 30, "every crash-round revocation")
    listed = w.userids("CrashRole")
    check(len(listed) == len(set(listed)), "an aws:userid is listed twice")
    wait_for(lambda: all(len(w.events(r["session_id"], "revoke.ok")) for r in opened), 20,
             "revoke.ok for every session")
    for r in opened:
        ev = [e["event"] for e in w.events(r["session_id"])]
        check(ev == ["session.open", "session.close", "revoke.ok"],
              "session %s after %d kills: %s" % (r["session_id"], ROUNDS, ev))
    rc, out, err = w.ctl("audit", "verify")
    check(rc == 0, "audit verify after the kills: %s%s" % (out, err))
    starts = len(w.events(event="gateway.start"))
    print("   %d rounds, %d sessions, %d gateway starts, %d listed once each" %
          (ROUNDS, len(opened), starts, len(listed)))


def case_crash_batch(w):
    """Logouts found together share one durable batch: their lines are written at once and
    fsynced once, their flags saved after that, and a batch past GW_BATCH_MAX (512) lines is
    flushed on the way.  kill -9 while it runs leaves lines whose flags were not saved; the next
    start takes them from the log's tail, so nothing is written twice and nothing is lost."""
    rng = random.Random(int(os.environ.get("GW_SEED", "4242")) + 1)
    recovered = 0
    for rnd in range(BATCH_ROUNDS):
        role = "BatchRole%d" % rnd
        recs = [w.fake_session(role, "hal", 10000 * (rnd + 1) + n, tagged=True)
                for n in range(BATCH_SESSIONS)]
        wait_for(lambda: len({e["session_id"] for e in w.events(event="session.open")} &
                             {r["session_id"] for r in recs}) == len(recs), 30,
                 "session.open of the round's sessions")
        w.gw.kill9()
        for rec in recs:  # logouts while the gateway is down: one batch at its start
            rec.update(close_session(w.state, rec))
        w.start()
        time.sleep(rng.choice([0, 0.005, 0.02, 0.05]))  # kill -9 at a random moment of it
        w.gw.kill9()
        w.start()
        want = {r["sid"] for r in recs}
        wait_for(lambda: want <= set(w.sids(role)), 30, "the round's revocations")
        wait_for(lambda: all(w.events(r["session_id"], "revoke.ok") for r in recs), 30,
                 "revoke.ok for every session of the round")
        for r in recs:
            ev = [e["event"] for e in w.events(r["session_id"])]
            check(ev == ["session.open", "session.close", "revoke.ok"],
                  "session %s after a kill in its batch: %s" % (r["session_id"], ev))
        check(not any(os.path.exists(os.path.join(w.state, "sessions", r["session_id"] + ".json"))
                      for r in recs), "a revoked session's record is left")
    with open(w.glog, errors="replace") as f:
        recovered = f.read().count("was logged before a restart")
    rc, out, err = w.ctl("audit", "verify")
    check(rc == 0, "audit verify after the kills: %s%s" % (out, err))
    print("   %d rounds of %d logouts each, killed in their batch; %d flags taken from the log's "
          "tail" % (BATCH_ROUNDS, BATCH_SESSIONS, recovered))


def case_budget(w):
    # Issue #12: one person's worst-case userids (64-character session names, written before
    # sids) until the budget cannot hold them, while another person's session stays live.
    live = w.fake_session("BudgetRole", "gil", 1, opened=time.time() - 120)
    early = time.time() - 60
    recs = [w.fake_session("BudgetRole", "fay", i, long=True, opened=early, closed=True)
            for i in range(130)]
    wait_for(lambda: all(w.events(r["session_id"], "revoke.ok") for r in recs), 30,
             "revoke.ok for all 130 sessions")
    ev = [e for e in w.events(event="revoke.compact") if e["role_arn"] == w.roles["BudgetRole"]]
    check(len(ev) >= 1 and ev[0]["outcome"] == "ok" and "of fay folded" in ev[0]["detail"] and
          "denies no one else" in ev[0]["detail"], "the compaction is not audited: %s" % ev)
    check(not [e for e in w.events(event="revoke.budget")
               if e["role_arn"] == w.roles["BudgetRole"]], "the role-wide cut-off was used")
    doc = w.policy("BudgetRole")
    text = json.dumps(doc, separators=(",", ":"))
    sids = [s["Sid"] for s in doc["Statement"]]
    check("StsrolePerson1" in sids and "StsroleRevokedOlder" not in sids,
          "no person statement, or a role-wide one: %s" % sids)
    person = [s for s in doc["Statement"] if s["Sid"] == "StsrolePerson1"][0]["Condition"]
    check(person["StringEquals"]["aws:SourceIdentity"] == "fay", "the statement: %s" % person)
    others = len(re.sub(r"\s", "", json.dumps(ALLOW)))
    check(len(re.sub(r"\s", "", text)) + others <= 10240, "over the inline budget")
    check(not [e for e in w.events(event="revoke.failed")
               if e["role_arn"] == w.roles["BudgetRole"]], "a revocation failed")
    check(not [e for e in w.events(event="revoke.retry")
               if e["role_arn"] == w.roles["BudgetRole"]], "IAM refused a write")
    check(not w.events(live["session_id"], "revoke.ok") and
          not w.events(live["session_id"], "revoke.compact"), "gil's live session was hit")
    # Issued after fay's cut-off: listed by aws:userid again.
    late = w.fake_session("BudgetRole", "fay", 999, opened=time.time() + 5, closed=True)
    wait_for(lambda: late["assumed_role_id"] in w.userids("BudgetRole"), 10, "a later logout")
    rc, out, _ = w.ctl("status", "--json")
    st = json.loads(out)
    role = [r for r in st["roles"] if r["arn"] == w.roles["BudgetRole"]][0]
    check(role["person_cutoffs"] and role["person_cutoffs"][0]["person"] == "fay" and
          role["others"] == others and role["fleet"] and role["sessions_left"] > 0,
          "status does not show the cut-off, the other policies or what is left: %s" % role)
    rc, out, _ = w.ctl("status")
    check("fay: credentials issued before" in out and "more sessions fleet-wide" in out,
          "status text: %s" % out)
    close_session(w.state, live)
    w.facts["person"] = {"role": "BudgetRole", "policy": doc, "permissions": ALLOW,
                         "person": "fay", "other": "gil",
                         "cutoff": person["DateLessThan"]["aws:TokenIssueTime"]}
    print("   %s; final policy %d characters + %d of other policies; %d sessions left" %
          (ev[0]["detail"].split(":", 1)[1].split(";")[0].strip(), len(text), others,
           role["sessions_left"]))


def case_burst(w):
    state = os.path.join(w.tmp, "burst-state")
    audit = os.path.join(w.tmp, "burst-audit.log")
    spec = {"BurstRole": {"arn": w.roles["BurstRole"],
                          "revoker_arn": w.roles["StsRoleRevoker"], "users": "*"}}
    conf = write_config(os.path.join(w.tmp, "burst.conf"), w.menv, roles=spec, state_dir=state,
                        audit_log=audit, bastion_id="b2")
    others = len(re.sub(r"\s", "", json.dumps(PAD)))
    gw = Gateway(conf, w.env, ["--skew", "300", "--reconcile", "1"],
                 log=os.path.join(w.tmp, "burst-gatewayd.log")).start()

    def events(session_id=None, event=None):
        return [e for e in audit_lines(audit)
                if (session_id is None or e.get("session_id") == session_id) and
                (event is None or e["event"] == event)]

    def record(user, opened, closed):
        rec = session_record(user, "BurstRole", w.roles["BurstRole"],
                             fake_userid(user, 1), "ASIAFAKEBURST0001", time.time() + 3600,
                             opened=opened, tagged=True)
        if closed:
            rec["closed"] = int(time.time())
        write_session(state, rec)
        return rec

    try:
        olivia = record("olivia", time.time() - 20, False)  # live, inside the window
        wait_for(lambda: events(olivia["session_id"], "session.open"), 10, "olivia's open")
        start = time.time()
        recs = []
        for i in range(BURST):
            # opened over the last minute: every one younger than the 300-second skew
            recs.append(record("u%03d" % i, start - 60 + i * 60 / BURST, True))
        wait_for(lambda: all(events(r["session_id"], "revoke.ok") for r in recs), 60,
                 "revoke.ok for all %d sessions" % BURST)
        took = time.time() - start
        check(took < 60, "the burst took %.0f s, not within a minute" % took)
        check(not events(event="revoke.failed"), "revoke.failed: %s" % events(event="revoke.failed"))
        ev = events(event="revoke.budget")
        role_ev = [e for e in ev if e["session_id"] is None]
        check(role_ev and role_ev[0]["outcome"] == "error" and "fell back" in role_ev[0]["detail"],
              "the cut-off is not audited: %s" % ev)
        hit = [e for e in ev if e["session_id"] == olivia["session_id"]]
        check(hit and hit[0]["outcome"] == "error", "olivia's live session is not named: %s" % ev)
        doc = w.iam.get_role_policy(RoleName="BurstRole",
                                    PolicyName="stsrole-revoked-b2")["PolicyDocument"]
        text = re.sub(r"\s", "", json.dumps(doc, separators=(",", ":")))
        check(len(text) + others <= 10240, "over the budget: %d + %d" % (len(text), others))
        older = [s for s in doc["Statement"] if s["Sid"] == "StsroleRevokedOlder"]
        check(older, "no role-wide cut-off: %s" % [s["Sid"] for s in doc["Statement"]])
        cutoff = older[0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        listed = set()
        for st in doc["Statement"]:
            if st["Sid"] == "StsroleSid":
                v = st["Condition"]["StringEquals"]["aws:PrincipalTag/stsrole:sid"]
                listed = set(v if isinstance(v, list) else [v])
        cut = calendar.timegm(time.strptime(cutoff, "%Y-%m-%dT%H:%M:%SZ"))
        for r in recs:
            # listed, or surely under the cut-off (opened skew before it)
            check(r["sid"] in listed or r["opened"] + 300 < cut,
                  "session %s (opened %d) is neither listed nor under the cut-off %s" %
                  (r["session_id"], r["opened"], cutoff))
        check(cut > time.time(), "the cut-off %s is not in the future" % cutoff)
        # A session opened now, before the cut-off plus the skew: named too.
        late = record("nina", time.time(), False)
        wait_for(lambda: events(late["session_id"], "revoke.budget"), 10,
                 "the notice for a session opened within the window")
        w.facts["burst"] = {"role": "BurstRole", "policy": doc, "permissions": PAD,
                            "revoked": [{"sid": r["sid"], "person": r["user"],
                                         "opened": r["opened"]} for r in recs],
                            "skew": 300}
        print("   %d logouts in %.1f s; %d listed, the rest under the cut-off %s; policy %d + %d "
              "of other policies" % (BURST, took, len(listed), cutoff, len(text), others))
    finally:
        gw.stop()


def case_ctl(w):
    rec, creds = w.real_session("CtlRole", "bob")
    wait_for(lambda: w.events(rec["session_id"], "session.open"), what="session.open")
    rc, out, err = w.ctl("sessions", "--json")
    check(rc == 0, "sessions --json: %s" % err)
    mine = [s for s in json.loads(out) if s["session_id"] == rec["session_id"]]
    check(mine and mine[0]["state"] == "live" and mine[0]["user"] == "bob", "sessions: %s" % out)
    rc, out, err = w.ctl("sessions")
    check(rc == 0 and rec["session_id"] in out and out.startswith("SESSION"), "table: " + out)
    check(w.aws_cli(creds, "iam", "get-role", "--role-name", "CtlRole").returncode == 0,
          "a live session cannot call IAM")
    # The incident-response button: revoke a live session now.
    rc, out, err = w.ctl("revoke", "--session", rec["session_id"])
    check(rc == 0 and "revoked " + rec["session_id"] in out, "revoke --session: %s%s" % (out, err))
    check(rec["sid"] in w.sids("CtlRole"), "not in IAM after revoke --session")
    after = w.aws_cli(creds, "iam", "get-role", "--role-name", "CtlRole")
    check(after.returncode != 0 and "AccessDenied" in after.stderr, "still works after revoke")
    ev = w.events(rec["session_id"], "revoke.ok")
    check(len(ev) == 1 and "stsrolectl" in ev[0]["detail"], "revoke.ok: %s" % ev)
    # Its logout later does not revoke it a second time.
    close_session(w.state, rec)
    wait_for(lambda: w.events(rec["session_id"], "session.close"), what="session.close")
    wait_for(lambda: not [s for s in json.loads(w.ctl("sessions", "--json")[1])
                          if s["session_id"] == rec["session_id"]], what="the session to go")
    check(len(w.events(rec["session_id"], "revoke.ok")) == 1, "revoked twice")
    # --user
    a = w.fake_session("CtlRole", "zed", 1)
    b = w.fake_session("CtlRole", "zed", 2)
    wait_for(lambda: w.events(b["session_id"], "session.open"), what="zed's sessions")
    rc, out, err = w.ctl("revoke", "--user", "zed")
    check(rc == 0 and out.count("revoked ") == 2, "revoke --user: %s%s" % (out, err))
    rc, out, err = w.ctl("revoke", "--user", "nobody")
    check(rc != 0 and "no unrevoked session" in err, "revoke of nobody: %d %s" % (rc, err))
    rc, out, err = w.ctl("revoke", "--session")
    check(rc == 64, "a usage error is not 64: %d" % rc)
    # status
    rc, out, err = w.ctl("status")
    check(rc == 0 and "gateway:  ok" in out and "CtlRole" in out and "room for" in out,
          "status: %s%s" % (out, err))
    st = json.loads(w.ctl("status", "--json")[1])
    role = [r for r in st["roles"] if r["arn"] == w.roles["CtlRole"]][0]
    check(role["entries"] == 3 and 0 < role["left"] < 10240 and role["capacity"] > 0 and
          st["queue"] == 0, "status --json: %s" % role)
    for r in (a, b):
        close_session(w.state, r)


def case_revoke_all(w):
    live_id, creds = w.assume("AllRole", "gus")
    rec = session_record("gus", "AllRole", w.roles["AllRole"], live_id, creds["AccessKeyId"],
                         creds["Expiration"].timestamp(), opened=time.time() - 30)
    write_session(w.state, rec)
    wait_for(lambda: w.events(rec["session_id"], "session.open"), what="session.open")
    rc, out, err = w.ctl("revoke", "--all", "--role", "AllRole")
    check(rc == 0 and "TokenIssueTime" in out, "revoke --all: %s%s" % (out, err))
    doc = w.policy("AllRole")
    older = [s for s in doc["Statement"] if s["Sid"] == "StsroleRevokedOlder"]
    check(older, "no TokenIssueTime statement: %s" % doc)
    cutoff = older[0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
    check(w.aws_cli(creds, "iam", "get-role", "--role-name", "AllRole").returncode != 0,
          "a session of the role still works")
    ev = w.events(event="revoke.all")
    check(ev and ev[-1]["outcome"] == "ok", "revoke.all not audited: %s" % ev)
    check(w.events(rec["session_id"], "revoke.ok"), "the live session is not marked revoked")
    rc, out, err = w.ctl("revoke", "--all", "--role", "NoSuchRole")
    check(rc != 0 and "NoSuchRole" in err, "revoke --all of an unknown role: %d %s" % (rc, err))
    w.facts["older"] = {"role": "AllRole", "policy": doc, "permissions": ALLOW, "cutoff": cutoff}


def case_iam_simulate(w):
    if "list" not in w.facts or "older" not in w.facts:
        raise Skip("needs the policies of the revoke-at-logout and revoke --all cases")
    node = shutil.which("node")
    mods = os.environ.get("GW_NODE_PATH", "")
    if node is None or not mods:
        raise Skip("node or @cloud-copilot/iam-simulate not available (see run.sh)")
    path = os.path.join(w.tmp, "facts.json")
    with open(path, "w") as f:
        json.dump(w.facts, f, indent=1)
    p = subprocess.run([node, os.path.join(HERE, "simulate.cjs"), path],
                       env=dict(os.environ, NODE_PATH=mods), capture_output=True, text=True,
                       timeout=120)
    for line in p.stdout.splitlines():
        print("   " + line)
    check(p.returncode == 0, "iam-simulate: %s" % (p.stderr[-500:] or "a check failed"))


def case_signals(w):
    # logrotate: rename, create an empty 0600 file, SIGHUP (examples/bastion/logrotate-stsrole).
    rotated = w.audit + ".1"
    os.rename(w.audit, rotated)
    os.close(os.open(w.audit, os.O_WRONLY | os.O_CREAT, 0o600))
    since = len(w.gw.msgs)
    w.gw.proc.send_signal(signal.SIGHUP)
    i = w.gw.wait_message("RELOADING=1", 10, since)
    check(i is not None, "SIGHUP: no RELOADING=1 (%r)" % w.gw.msgs[since:])
    check(w.gw.wait_message("READY=1", 10, i) is not None, "SIGHUP: no READY=1 after reload")
    wait_for(lambda: w.events(event="gateway.reload"), what="gateway.reload")
    first = audit_lines(w.audit)[0]
    check(first["event"] == "audit.rotate" and first["seq"] == audit_lines(rotated)[-1]["seq"] + 1,
          "the new file does not continue the chain: %s" % first)
    rc, out, err = w.ctl("audit", "verify", rotated, w.audit)
    check(rc == 0, "verify across the rotation: %s%s" % (out, err))
    rc, out, err = w.ctl("audit", "verify")
    check(rc == 0, "verify of the new file: %s%s" % (out, err))
    since = len(w.gw.msgs)
    w.gw.proc.send_signal(signal.SIGTERM)
    check(w.gw.wait_message("STOPPING=1", 10, since) is not None, "SIGTERM: no STOPPING=1")
    rc = w.gw.stop()
    check(rc == 0, "SIGTERM: exit %s" % rc)
    last = audit_lines(w.audit)[-1]
    check(last["event"] == "gateway.stop", "last line is %s" % last["event"])
    check(not os.path.exists(os.path.join(w.state, "gatewayd.sock")), "socket left behind")
    rc, out, err = w.ctl("status")
    check(rc == 69, "status with the gateway down: %d %s" % (rc, err))
    # WatchdogSec=0.4s, as systemd passes it: a WATCHDOG=1 every 0.2 s.
    w.env["WATCHDOG_USEC"] = "400000"
    w.start()
    check(w.gw.wait_message("WATCHDOG=1", 10) is not None, "WatchdogSec: no WATCHDOG=1")
    # A second gateway on the same state directory refuses to start.
    p = subprocess.run([gatewayd_path(), "--config", w.conf], env=w.env, capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 1 and "another stsrole-gatewayd" in p.stderr,
          "a second gateway: exit %d, %s" % (p.returncode, p.stderr.strip()))


def case_tamper(w):
    rc, out, err = w.ctl("audit", "verify")
    check(rc == 0 and "chain intact" in out, "the real log does not verify: %s%s" % (out, err))
    with open(w.audit) as f:
        lines = f.readlines()
    check(len(lines) > 20, "too few audit lines to tamper with")
    copy = os.path.join(w.tmp, "tampered.log")
    rng = random.Random(7)
    picks = sorted(set([1, 2, len(lines) - 1] + rng.sample(range(1, len(lines)), 5)))

    def verify(text, want, what):
        with open(copy, "w") as f:
            f.write(text)
        rc, out, err = ctl(w.conf, "audit", "verify", copy)
        check(rc == 1 and ("line %d:" % want) in out,
              "%s of line %d: rc %d, %s%s" % (what, want, rc, out, err))

    for n in picks:
        edited = list(lines)
        edited[n - 1] = edited[n - 1].replace('"outcome":"', '"outcome":"x', 1)
        if edited[n - 1] == lines[n - 1]:
            edited[n - 1] = edited[n - 1].replace('"seq":', '"seq": ', 1)
        verify("".join(edited), n, "edit")
        verify("".join(lines[:n - 1] + lines[n:]), n, "deletion")
        swapped = list(lines)
        swapped[n - 1], swapped[n] = swapped[n], swapped[n - 1]
        verify("".join(swapped), n, "swap")
    # A cut-off tail (the running gateway knows what it wrote last).
    with open(w.audit) as f:
        now = f.read()
    live = now.splitlines(keepends=True)
    with open(w.audit, "w") as f:
        f.write("".join(live[:-1]))
    rc, out, err = w.ctl("audit", "verify")
    with open(w.audit, "w") as f:
        f.write(now)
    check(rc == 1 and ("line %d:" % len(live)) in out, "cut-off tail not found: %s%s" % (out, err))
    print("   edit, delete and swap of lines %s each named; a cut-off tail is named too" % picks)


def main():
    suite = Suite("gateway")
    for exe in (gatewayd_path(), stsrolectl_path()):
        if not os.access(exe, os.X_OK):
            return suite.skip_all("%s is not built" % exe)
    if AWS is None:
        return suite.skip_all("the AWS CLI is not installed (Debian: apt-get install awscli)")
    tmp = tempfile.mkdtemp(prefix="stsrole-gw-")
    os.chmod(tmp, 0o700)
    try:
        with Moto(log=os.path.join(tmp, "moto.log")) as moto:
            menv = moto.seed(roles=ROLES)
            w = World(moto, menv, tmp)
            w.start()
            try:
                suite.case("revoke at logout: policy in IAM, AWS CLI gets AccessDenied",
                           case_revoke_at_logout, w)
                suite.case("a session whose sshd is gone counts as closed", case_sshd_gone, w)
                suite.case("stsrolectl assume leaves an audit record (who, why, key id) through "
                           "the gateway", case_assume_audited, w)
                suite.case("a session whose sshd pid now belongs to a later process (start time "
                           "differs) counts as closed", case_sshd_reused, w)
                suite.case("prune after expiry deletes the empty policy", case_prune, w)
                suite.case("gateway down during logins: all revoked once it starts",
                           case_gateway_down, w)
                suite.case("stsrolectl sessions, revoke --session/--user, status", case_ctl, w)
                suite.case("stsrolectl revoke --all --role: TokenIssueTime cut-off",
                           case_revoke_all, w)
                suite.case("budget: one person's entries folded into their own cut-off, "
                           "audited", case_budget, w)
                suite.case("burst: more logouts within the skew than the budget holds, "
                           "none left valid, none failed", case_burst, w)
                suite.case("iam-simulate: deny hits exactly the revoked sessions",
                           case_iam_simulate, w)
                suite.case("crash safety: kill -9 in %d rounds, each revoked exactly once" %
                           ROUNDS, case_crash_safety, w)
                suite.case("crash safety in a batch: %d logouts at once, kill -9 while they "
                           "are logged, each logged and revoked exactly once" % BATCH_SESSIONS,
                           case_crash_batch, w)
                suite.case("tampering: edit, delete, swap of any line is named", case_tamper, w)
                suite.case("SIGHUP reloads and follows logrotate, SIGTERM stops cleanly; "
                           "sd_notify's READY, RELOADING, STOPPING and WATCHDOG; "
                           "one gateway per state_dir",
                           case_signals, w)
            finally:
                if w.gw is not None:
                    w.gw.stop()
    finally:
        if suite.failed and os.path.exists(os.path.join(tmp, "gatewayd.log")):
            with open(os.path.join(tmp, "gatewayd.log")) as f:
                tail = f.read()[-3000:]
            print("--- gatewayd log (tail):\n" + tail)
        rmtree_unless_kept(tmp)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
