#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_gateway_bg.py: break-glass requests through stsrole-gatewayd's credential socket, as
different local users.

Fixture: real local users (useradd: a requester, an approver named in `approvers`, an approver
through an @group, a non-approver, an approver whose login had no MFA), moto as STS and IAM
(auth on; every request to it recorded by tests/stub/stsstub.py --forward, so the AssumeRole
of the approved credential can be read back with its tags), and stsrole-gatewayd in
credentials_mode = process.  Each SSH session is a session record (tests/lib/gwlib.py) whose
sshd is a process of this test that lives until the session "logs out".  The socket is driven
as each user (their uid, gid and groups), which is what SO_PEERCRED shows the gateway.

    tests/breakglass/test_gateway_bg.py [BUILDDIR]
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from harness import Suite, build_dir, check, rmtree_unless_kept, wait_for  # noqa: E402

S = Suite("breakglass-gw")
BASTION = "bgb1"
POLICY = "stsrole-revoked-%s" % BASTION
REASON = "INC-4711 payments db down"
# The users' python: the image's own lives under root's home (mode 700).
USER_PY = "/usr/bin/python3"

# A client of the credential socket, run as one user: sends the request (argv[2]) on a fresh
# connection argv[3] times (default once) and prints each answer line.
CLIENT = r'''
import socket, sys
for _ in range(int(sys.argv[3]) if len(sys.argv) > 3 else 1):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(40)
    s.connect(sys.argv[1])
    s.sendall(sys.argv[2].encode() + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    sys.stdout.write(data.decode() if data.endswith(b"\n") else "(no answer)\n")
'''


class World:
    pass


def as_user(u, argv, env=None, timeout=60):
    """argv run as user u: uid, gid and supplementary groups, nothing else of root's."""
    import pwd
    groups = os.getgrouplist(u.name, pwd.getpwnam(u.name).pw_gid)
    return subprocess.run(argv, user=u.uid, group=u.gid, extra_groups=groups, env=env or {
        "PATH": "/usr/bin:/bin", "HOME": u.home}, capture_output=True, text=True,
        timeout=timeout, cwd="/")


def ask(w, u, req):
    """One command on the credential socket as user u; the parsed answer."""
    r = as_user(u, [USER_PY, "-I", "-c", CLIENT, w.sock, json.dumps(req)])
    check(r.returncode == 0, "client as %s: %s %s" % (u.name, r.stdout, r.stderr))
    return json.loads(r.stdout)


class Session:
    """One SSH session of user u: its record, and a process standing for its sshd."""

    def __init__(self, w, u, mfa="totp"):
        import gwlib
        self.w, self.u = w, u
        self.proc = subprocess.Popen(["sleep", "600"])
        rec = gwlib.session_record(u.name, "SecurityAuditRole", w.menv["roles"]["SecurityAuditRole"],
                                   gwlib.fake_userid(u.name, u.uid), "ASIAFAKE%012d" % u.uid,
                                   time.time() + 3600, sshd_pid=self.proc.pid, tagged=True)
        rec.update(uid=u.uid, credentials_mode="process")
        if mfa is not None:
            rec["mfa"] = mfa
        self.rec = rec
        self.id = rec["session_id"]
        gwlib.write_session(w.lab.state, rec)
        w.sessions.append(self)
        # live once the gateway serves its credential (minted from moto)
        wait_for(lambda: self.credential() is not None, 30, "session %s served" % self.id)

    def credential(self, profile=None):
        req = {"cmd": "credentials", "session": self.id}
        if profile:
            req["profile"] = profile
        a = ask(self.w, self.u, req)
        return a if "AccessKeyId" in a else None

    def cmd(self, cmd, **kw):
        return ask(self.w, self.u, dict(kw, cmd=cmd, session=self.id))

    def logout(self):
        import gwlib
        if self.proc.poll() is None:
            gwlib.close_session(self.w.lab.state, self.rec)
            self.proc.kill()
            self.proc.wait()


def audit(w, event=None, **match):
    from gwlib import audit_lines
    out = []
    for r in audit_lines(w.audit):
        if event is not None and r.get("event") != event:
            continue
        if all(r.get(k) == v for k, v in match.items()):
            out.append(r)
    return out


def assume_requests(w):
    """The AssumeRole requests moto received (the recording proxy's log), as dicts."""
    out = []
    for path in glob.glob(os.path.join(w.capture, "*.jsonl")):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                body = dict(urllib.parse.parse_qsl(rec.get("body") or ""))
                if body.get("Action") == "AssumeRole":
                    out.append(body)
    return out


def tags_of(body):
    tags = {}
    for k, v in body.items():
        if k.startswith("Tags.member.") and k.endswith(".Key"):
            tags[v] = body.get(k[:-4] + ".Value")
    return tags


def deny_sids(w, role):
    import gwlib
    return gwlib.deny_sids(w.revoker_iam(), role, POLICY)


# -- the cases ---------------------------------------------------------------------------------

def case_bad_reason(w):
    a = w.req.cmd("request", role="breakglass", reason="because I say so")
    check(a["ok"] is False and "does not match role breakglass's reason_pattern" in a["error"], a)
    a = w.req.cmd("request", role="breakglass", reason="")
    check(a["ok"] is False and "needs a reason" in a["error"], a)
    r = audit(w, "breakglass.refused", user=w.req.u.name, role="breakglass")
    check(len(r) == 2 and r[0]["by"] == w.req.u.name and "reason_pattern" in r[0]["why"], r)
    check(not audit(w, "breakglass.request"), "a request was recorded")


def case_reason_injection(w):
    log_before = open(w.gwlog).read()
    for bad in ("INC-1\n{\"seq\":1,\"event\":\"forged\"}", "INC-1\rx", "INC-1\x1b[2J", "INC-1\x7f"):
        a = w.req.cmd("request", role="breakglass", reason=bad)
        check(a["ok"] is False and "control character" in a["error"], a)
    with open(w.audit) as f:
        lines = f.read().split("\n")
    check(all(not ln or ln.startswith("{\"seq\":") for ln in lines), "a forged audit line")
    check(not audit(w, "forged"), "forged event")
    new = open(w.gwlog).read()[len(log_before):]
    check("forged" not in new and "\x1b" not in new, new[-500:])
    a = w.req.cmd("request", role="breakglass", reason="INC-1 " + "x" * 1100)
    check(a["ok"] is False and "longer than 1024" in a["error"], a)
    # what the approver's terminal would show reversed or hidden
    for bad in ("INC-1 \u202eevil", "INC-1 a\u200bb", "INC-1 \u009b2J"):
        a = w.req.cmd("request", role="breakglass", reason=bad)
        check(a["ok"] is False and ("invisible formatting" in a["error"] or
                                    "control character" in a["error"]), a)


def case_not_listed(w):
    a = w.mallory.cmd("request", role="breakglass", reason=REASON)
    check(a["ok"] is False and "no role by that name that you may request" in a["error"], a)
    a = w.req.cmd("request", role="SecurityAuditRole", reason=REASON)
    check(a["ok"] is False and "needs no request" in a["error"], a)


def case_request(w):
    a = w.req.cmd("request", role="breakglass", reason=REASON)
    check(a["ok"] is True, a)
    q = a["request"]
    check(q["state"] == "pending" and q["needed"] == 1 and q["requester"] == w.req.u.name and
          q["reason"] == REASON and q["approvers"] == [] and len(q["id"]) == 16 and
          q["can_approve"] is False and q["expires"] - q["created"] == 600, q)
    w.bg_id = q["id"]
    r = audit(w, "breakglass.request", id=w.bg_id)
    check(len(r) == 1 and r[0]["requester"] == w.req.u.name and r[0]["session_id"] == w.req.id
          and r[0]["role_arn"] == w.menv["roles"]["BreakGlassRole"] and REASON not in
          r[0]["detail"] and r[0]["reason"] == REASON and "approvers" not in r[0], r)
    # one pending request per person and role: a flood is refused
    a = w.req.cmd("request", role="breakglass", reason=REASON)
    check(a["ok"] is False and "already has request %s pending" % w.bg_id in a["error"], a)


def case_profile_before(w):
    """The login wrote [profile breakglass]; before approval its credential_process says what
    to do."""
    r = as_user(w.req.u, [w.helper, "--socket", w.sock, "--session", w.req.id, "--profile",
                          "breakglass"])
    check(r.returncode != 0 and "stsrole request breakglass" in r.stderr and
          "AccessKeyId" not in r.stdout, "rc %d %s %s" % (r.returncode, r.stdout, r.stderr))
    check(not audit(w, "profile.ok"), "a profile was minted")
    # someone not listed for the role is not told it is break-glass
    a = ask(w, w.mallory.u, {"cmd": "credentials", "session": w.mallory.id,
                             "profile": "breakglass"})
    check("AccessKeyId" not in a and "may not use profile breakglass" in a.get("error", "") and
          "stsrole request" not in a.get("error", ""), a)


def case_listing(w):
    a = w.alice.cmd("requests")
    mine = [q for q in a["requests"] if q["id"] == w.bg_id]
    check(a["ok"] and len(mine) == 1 and mine[0]["can_approve"] is True, a)
    a = w.mallory.cmd("requests")
    check(a["ok"] and not [q for q in a["requests"] if q["id"] == w.bg_id], a)
    a = w.req.cmd("requests")
    mine = [q for q in a["requests"] if q["id"] == w.bg_id]
    check(len(mine) == 1 and mine[0]["can_approve"] is False, a)


def case_self_approval(w):
    a = w.req.cmd("approve", id=w.bg_id)
    check(a["ok"] is False and "cannot approve their own request" in a["error"], a)
    # the requester again, from a second session of theirs
    second = Session(w, w.req.u)
    a = second.cmd("approve", id=w.bg_id)
    check(a["ok"] is False and "cannot approve their own request" in a["error"], a)
    r = audit(w, "breakglass.refused", id=w.bg_id, by=w.req.u.name)
    check(len(r) == 2 and "own request" in r[1]["why"] and r[1]["session_id"] == second.id, r)
    second.logout()


def case_non_approver(w):
    a = w.mallory.cmd("approve", id=w.bg_id)
    check(a["ok"] is False and "is not an approver of role breakglass" in a["error"], a)
    a = w.mallory.cmd("deny", id=w.bg_id)
    check(a["ok"] is False and "is not an approver" in a["error"], a)
    a = w.mallory.cmd("cancel", id=w.bg_id)
    check(a["ok"] is False and "only %s can cancel" % w.req.u.name in a["error"], a)
    r = audit(w, "breakglass.refused", id=w.bg_id, by=w.mallory.u.name)
    check(len(r) == 3 and r[0]["why"].endswith("is not an approver of role breakglass"), r)


def case_forged_session(w):
    """mallory names someone else's session, or a made-up one: refused, never audited as them."""
    for sid in (w.alice.id, w.req.id, "0" * 32):
        a = ask(w, w.mallory.u, {"cmd": "approve", "session": sid, "id": w.bg_id})
        check(a["ok"] is False and "no live stsrole session of this uid" in a["error"], a)
    a = ask(w, w.mallory.u, {"cmd": "approve", "session": "../../x", "id": w.bg_id})
    check(a["ok"] is False and "32 hex digits" in a["error"], a)
    a = ask(w, w.mallory.u, {"cmd": "approve", "session": w.mallory.id, "id": "x\ny"})
    check(a["ok"] is False and "16 hex digits" in a["error"], a)
    check(not audit(w, "breakglass.refused", by=w.alice.u.name), "refused as alice")
    check(not audit(w, "breakglass.approve"), "an approval was recorded")


def case_no_mfa(w):
    a = w.nomfa.cmd("approve", id=w.bg_id)
    check(a["ok"] is False and "did not pass MFA" in a["error"], a)
    check(not audit(w, "breakglass.approve"), "approved without MFA")


def case_approve(w):
    before = len(assume_requests(w))
    a = w.alice.cmd("approve", id=w.bg_id)
    check(a["ok"] is True, a)
    q = a["request"]
    check(q["state"] == "approved" and q["approvers"] == [w.alice.u.name] and q["minted"] is True,
          q)
    # the credential carries both tags, the session's sid, SourceIdentity = the requester
    new = assume_requests(w)[before:]
    bg = [b for b in new if b.get("RoleArn") == w.menv["roles"]["BreakGlassRole"]]
    check(len(bg) == 1, new)
    t = tags_of(bg[0])
    check(t.get("stsrole:reason") == REASON and t.get("stsrole:approvers") == w.alice.u.name and
          t.get("stsrole:sid") == w.req.rec["sid"] and t.get("stsrole:mfa") == "totp" and
          bg[0].get("SourceIdentity") == w.req.u.name and bg[0].get("DurationSeconds") == "900",
          bg[0])
    r = audit(w, "breakglass.ok", id=w.bg_id)
    check(len(r) == 1 and r[0]["reason"] == REASON and r[0]["approvers"] == [w.alice.u.name]
          and r[0]["session_name"].startswith(w.req.u.name + "@" + BASTION + ".") and
          r[0]["session_name"] != w.req.rec["session_name"] and
          r[0]["requester_session"] == w.req.id and
          r[0]["detail"].startswith("credential for session %s" % w.req.id), r)
    w.bg_child = r[0]["session_id"]
    r = audit(w, "breakglass.approve", id=w.bg_id)
    check(len(r) == 1 and r[0]["by"] == w.alice.u.name and r[0]["session_id"] == w.alice.id, r)
    # served to the requester as the profile named after the role, to nobody else
    doc = w.req.credential("breakglass")
    check(doc is not None and doc["AccessKeyId"].startswith("ASIA"), doc)
    a = ask(w, w.alice.u, {"cmd": "credentials", "session": w.req.id, "profile": "breakglass"})
    check("AccessKeyId" not in a, a)
    # decided: no more approvals
    a = w.bob.cmd("approve", id=w.bg_id)
    check(a["ok"] is False and "no longer pending" in a["error"], a)


def case_reconcile(w):
    """stsrolectl reconcile joins the break-glass credential's CloudTrail calls to its audit
    records: one breakglass finding with the reason and the approvers, on that credential and
    not on the login that asked."""
    import calendar
    import trail
    ok = audit(w, "breakglass.ok", id=w.bg_id)[0]
    minted = calendar.timegm(time.strptime(ok["ts"][:19], "%Y-%m-%dT%H:%M:%S"))
    root = os.path.join(w.lab.root, "trail")
    # the trail's first and last calls bound reconcile's window around the mint
    for t in (minted, minted + 2):
        trail.call(root, ok["session_name"], w.req.u.name, w.menv["roles"]["BreakGlassRole"], t)
    rc, fs, err = trail.reconcile(w.conf, w.audit, root)
    bg = [f for f in fs if f.get("finding") == "breakglass"]
    check(len(bg) == 1 and bg[0].get("session_name") == ok["session_name"] and
          bg[0].get("reason") == REASON and bg[0].get("approvers") == w.alice.u.name,
          "rc %d: %s %s" % (rc, json.dumps(fs)[:2000], err[-500:]))
    check(not [f for f in fs if f.get("finding") == "cloudtrail.only" and
               f.get("session_name") == ok["session_name"]], "the call is not linked: %s" % fs)


def case_two_approvals(w):
    a = w.req.cmd("request", role="bg2", reason="CHG-7 rotate keys")
    check(a["ok"], a)
    rid = a["request"]["id"]
    a = w.alice.cmd("approve", id=rid)
    check(a["ok"] and a["request"]["state"] == "pending", a)
    a = w.alice.cmd("approve", id=rid)
    check(a["ok"] is False and "already approved" in a["error"], a)
    a = w.bob.cmd("approve", id=rid)  # through @group
    check(a["ok"] and a["request"]["state"] == "approved" and
          a["request"]["approvers"] == [w.alice.u.name, w.bob.u.name], a)
    t = tags_of([b for b in assume_requests(w)
                 if b.get("RoleArn") == w.menv["roles"]["IncidentResponseRole"]][-1])
    check(t.get("stsrole:approvers") == "%s %s" % (w.alice.u.name, w.bob.u.name), t)


def case_mint_fails(w):
    """AWS refuses the approved credential: the approval stands, the answer says nothing was
    minted, breakglass.failed is audited, and the profile still has nothing to serve."""
    a = w.req.cmd("request", role="bgbad", reason="INC-30 untrusted")
    rid = a["request"]["id"]
    a = w.alice.cmd("approve", id=rid)
    check(a["ok"] and a["request"]["state"] == "approved" and a["request"]["minted"] is False, a)
    r = audit(w, "breakglass.failed", id=rid)
    check(len(r) == 1 and r[0]["outcome"] == "error" and r[0]["session_id"] == w.req.id and
          "reason" not in r[0], r)
    check(not audit(w, "breakglass.ok", id=rid), "breakglass.ok for a failed mint")
    check(w.req.credential("bgbad") is None, "a credential for bgbad")


def case_deny_cancel(w):
    a = w.req.cmd("request", role="bgshort", reason="INC-9 look")
    rid = a["request"]["id"]
    a = w.bob.cmd("deny", id=rid)
    check(a["ok"] and a["request"]["state"] == "denied" and a["request"]["by"] == w.bob.u.name, a)
    check(len(audit(w, "breakglass.deny", id=rid, by=w.bob.u.name)) == 1, "no deny record")
    a = w.req.cmd("request", role="bgshort", reason="INC-9 look again")
    rid = a["request"]["id"]
    a = w.req.cmd("cancel", id=rid)
    check(a["ok"] and a["request"]["state"] == "cancelled", a)
    check(len(audit(w, "breakglass.cancel", id=rid, by=w.req.u.name)) == 1, "no cancel record")


def case_timeout(w):
    a = w.req.cmd("request", role="bgshort", reason="INC-10 wait")
    rid = a["request"]["id"]
    check(a["request"]["expires"] - a["request"]["created"] == 5, a)
    # the gateway's own timer expires it: nobody asks in between
    wait_for(lambda: audit(w, "breakglass.expire", id=rid), 20, "breakglass.expire")
    a = w.alice.cmd("approve", id=rid)
    check(a["ok"] is False and "expired" in a["error"], a)
    q = [q for q in w.req.cmd("requests")["requests"] if q["id"] == rid]
    check(q and q[0]["state"] == "expired", q)


def case_logout_cancels(w):
    s = Session(w, w.req.u)
    a = s.cmd("request", role="bgshort", reason="INC-11 short")
    rid = a["request"]["id"]
    s.logout()
    wait_for(lambda: audit(w, "breakglass.cancel", id=rid, by="logout"), 20, "cancel by logout")
    a = w.alice.cmd("approve", id=rid)
    check(a["ok"] is False and "cancelled" in a["error"], a)


def case_logout_races_approval(w):
    """The record says closed and the approval comes at once: never minted."""
    s = Session(w, w.req.u)
    rid = s.cmd("request", role="bg2", reason="CHG-8 race")["request"]["id"]
    w.alice.cmd("approve", id=rid)
    s.logout()
    a = w.bob.cmd("approve", id=rid)
    check(a["ok"] is False and ("session has ended" in a["error"] or "cancelled" in a["error"]),
          a)
    check(not audit(w, "breakglass.ok", id=rid), "minted for a closed session")


def case_reason_only(w):
    a = w.req.cmd("request", role="ir", reason="INC-12 no second person")
    check(a["ok"] and a["request"]["state"] == "approved" and a["request"]["minted"], a)
    r = audit(w, "breakglass.ok", id=a["request"]["id"])
    check(len(r) == 1 and r[0]["approvers"] == [], r)
    check(w.req.credential("ir") is not None, "no ir credential")
    # one at a time per session: no minting without end
    b = w.req.cmd("request", role="ir", reason="INC-12 again")
    check(b["ok"] is False and "approved already" in b["error"], b)


def case_root_view(w):
    from gwlib import ctl
    rc, out, err = ctl(w.conf, "requests", "--json")
    check(rc == 0, err)
    doc = json.loads(out)
    check(any(q["id"] == w.bg_id and q["state"] == "approved" and q.get("minted") is True and
              q.get("can_approve") is False for q in doc["requests"]), doc)
    # a denied or cancelled one names who decided it
    check(any(q["state"] in ("denied", "cancelled") and q.get("by") for q in doc["requests"]),
          doc)
    rc, out, err = ctl(w.conf, "requests")
    check(rc == 0 and w.bg_id in out and "approved" in out, out + err)


def case_stsrole_command(w):
    """The user's command, from the session's environment."""
    env = {"PATH": "/usr/bin:/bin", "HOME": w.alice.u.home, "STSROLE_SESSION_ID": w.req.id,
           "AWS_CONFIG_FILE": os.path.join(w.run, "aws", w.req.id + ".config")}
    r = as_user(w.req.u, [w.stsrole, "request", "bgshort", "--reason", "INC-13 cli"], env=env)
    check(r.returncode == 0 and "pending" in r.stdout, r.stdout + r.stderr)
    rid = r.stdout.split()[1] if r.stdout.startswith("request ") else None
    check(rid and len(rid) == 16, r.stdout)
    r = as_user(w.req.u, [w.stsrole, "approve", rid], env=env)
    check(r.returncode == 1 and "own request" in r.stderr, r.stdout + r.stderr)
    aenv = dict(env, STSROLE_SESSION_ID=w.alice.id, HOME=w.alice.u.home)
    r = as_user(w.alice.u, [w.stsrole, "requests"], env=aenv)
    check(r.returncode == 0 and rid in r.stdout, r.stdout + r.stderr)
    r = as_user(w.alice.u, [w.stsrole, "deny", rid], env=aenv)
    check(r.returncode == 0 and "denied" in r.stdout, r.stdout + r.stderr)
    r = as_user(w.req.u, [w.stsrole, "request", "bgshort", "--reason", "INC-14 wait", "--wait"],
                env=env)
    check(r.returncode == 1 and "expired" in (r.stdout + r.stderr), r.stdout + r.stderr)
    r = as_user(w.req.u, [w.stsrole, "request"], env=env)
    check(r.returncode == 2, r.stdout + r.stderr)
    r = as_user(w.req.u, [w.stsrole, "roles"], env=env)
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("breakglass ")]
    check(r.returncode == 0 and line and "(break-glass: stsrole request)" in line[0] and
          "SecurityAuditRole" in r.stdout, r.stdout + r.stderr)


def case_flood(w):
    """One person cannot fill the table or the audit log: 3 pending requests at a time, and
    refused commands beyond GW_REFUSALS_PER_MIN (20) a minute are answered, not audited."""
    ids = []
    for role, reason in (("bg2", "CHG-20 a"), ("bg4", "CHG-21 b"), ("breakglass", "INC-22 c")):
        a = w.req.cmd("request", role=role, reason=reason)
        check(a["ok"], a)
        ids.append(a["request"]["id"])
    a = w.req.cmd("request", role="bgshort", reason="INC-23 d")
    check(a["ok"] is False and "already has 3 requests pending" in a["error"], a)
    for rid in ids:
        check(w.req.cmd("cancel", id=rid)["ok"], rid)
    before = len(audit(w, "breakglass.refused", by=w.mallory.u.name))
    mark = "break-glass: approve by %s (uid" % w.mallory.u.name
    logged = open(w.gwlog).read().count(mark)
    n = 45
    for i in range(n):
        a = w.mallory.cmd("approve", id="%016x" % i)
        check(a["ok"] is False and a["error"] == "no such request", a)
    audited = len(audit(w, "breakglass.refused", by=w.mallory.u.name)) - before
    # two minutes at most are touched: at most 2 x 20 of the 45 are written
    check(0 < audited <= 40, "%d of %d refusals audited" % (audited, n))
    logged = open(w.gwlog).read().count(mark) - logged
    check(logged == audited, "%d of %d refusals logged, %d audited" % (logged, n, audited))
    check("more than 20 refused commands this minute" in open(w.gwlog).read(), "no log line")
    # many decided requests: the answer stays bounded (64, said so)
    for i in range(66):
        a = w.req.cmd("request", role="bg4", reason="CHG-%d again" % (100 + i))
        check(a["ok"] and w.req.cmd("cancel", id=a["request"]["id"])["ok"], a)
    a = w.req.cmd("requests")
    check(a["ok"] and len(a["requests"]) == 64 and a.get("truncated") is True,
          (len(a.get("requests", [])), a.get("truncated")))


def case_profile_flood(w):
    """A person asking over and over for a profile they may not use gets every answer, but at
    most GW_REFUSALS_PER_MIN (20) profile.refused lines a minute, then one log line; wrong
    step-up codes are all audited up to the lockout, and those sent after it are limited too;
    so are the failed mints of a role AWS refuses, told at once."""
    from harness import totp
    f = w.flood
    log_line = "uid %d: more than 20 refused commands this minute" % f.u.uid

    def logged():
        return open(w.gwlog).read().count(log_line)
    n = 60
    for i in range(n):
        a = f.cmd("credentials", profile="nosuch%d" % (i % 3))
        check(a["ok"] is False and "may not use profile nosuch" in a["error"], a)
    refused = audit(w, "profile.refused", user=f.u.name)
    # two minutes at most are touched: at most 2 x 20 written, one log line each
    check(0 < len(refused) <= 40, "%d of %d refusals audited" % (len(refused), n))
    check(1 <= logged() <= 2, "%d log lines for the flood" % logged())
    # step-up: each code checked is audited (the lockout is at 5), the rest are limited
    good = {totp(f.u.secret, k) for k in range(-4, 5)}
    wrong = next(c for c in ("%06d" % (111111 * d) for d in range(10)) if c not in good)
    answers = []
    for i in range(5 + n):
        a = f.cmd("credentials", profile=w.stepup)
        check(a.get("step_up") == "totp", a)
        answers.append(f.cmd("credentials", profile=w.stepup, code=wrong))
    check(all(a["ok"] is False and "was not accepted" in a["error"] for a in answers), answers[-1])
    check(all("wrong codes in this session already" in a["error"] for a in answers[5:]),
          answers[5])
    failed = audit(w, "stepup.failed", user=f.u.name)
    checked = [e for e in failed if "wrong codes in this session already" not in e["detail"]]
    check(len(checked) == 5, "%d checked codes audited: %s" % (len(checked), checked))
    check(len(failed) - 5 <= 40, "%d of %d refusals after the lockout audited"
          % (len(failed) - 5, n))
    # a role AWS refuses: told at once, so asked again at will
    for i in range(n):
        a = f.cmd("credentials", profile="untrusted")
        check(a["ok"] is False and "AssumeRole of %s failed" % w.menv["roles"]["UntrustedRole"]
              in a["error"], a)
    failed = audit(w, "profile.failed", user=f.u.name)
    # the same count: the floods above may have spent this minute's
    check(len(failed) <= 40, "%d of %d failed mints audited" % (len(failed), n))
    check(logged() <= 4, "%d log lines for the floods" % logged())


def case_logout_revokes(w):
    sid = w.req.rec["sid"]
    w.req.logout()
    wait_for(lambda: audit(w, "revoke.ok", session_id=w.bg_child), 60, "revoke.ok of the child")
    r = audit(w, "revoke.ok", session_id=w.bg_child)
    check(r[0]["role_arn"] == w.menv["roles"]["BreakGlassRole"], r)
    check(sid in deny_sids(w, "BreakGlassRole"), deny_sids(w, "BreakGlassRole"))
    a = ask(w, w.req.u, {"cmd": "credentials", "session": w.req.id, "profile": "breakglass"})
    check("AccessKeyId" not in a, a)


def case_audit_chain(w):
    from gwlib import ctl
    rc, out, err = ctl(w.conf, "audit", "verify", w.audit)
    check(rc == 0, out + err)


# -- the fixture ---------------------------------------------------------------------------------

def case_wait_restart(w):
    """stsrole request --wait, and the gateway restarts (it holds requests in memory): the wait
    ends with exit 1, saying the request is no longer known, instead of asking for ever."""
    import gwlib
    import pwd
    from gwlib import ctl
    u = w.req.u
    # the flood case left the requester's three pending: withdrawn first
    for q in w.req.cmd("requests").get("requests", []):
        if q["state"] == "pending" and q["requester"] == u.name:
            w.req.cmd("cancel", id=q["id"])
    env = {"PATH": "/usr/bin:/bin", "HOME": u.home, "STSROLE_SESSION_ID": w.req.id,
           "AWS_CONFIG_FILE": os.path.join(w.run, "aws", w.req.id + ".config")}
    p = subprocess.Popen([w.stsrole, "request", "bg4", "--reason", "INC-77 restart", "--wait"],
                         user=u.uid, group=u.gid,
                         extra_groups=os.getgrouplist(u.name, pwd.getpwnam(u.name).pw_gid),
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd="/")
    try:
        def pending():
            rc, out, err = ctl(w.conf, "requests", "--json")  # root's view: every request
            return rc == 0 and any(q["role"] == "bg4" and q["state"] == "pending" and
                                   q["reason"] == "INC-77 restart"
                                   for q in json.loads(out)["requests"])
        wait_for(lambda: p.poll() is not None or pending(), 30, "the request pending")
        if p.poll() is not None:
            out, err = p.communicate()
            check(False, "stsrole request --wait ended before the restart: %s" % (out + err))
        rc = w.gw.stop(timeout=120)
        check(rc == 0, "the gateway's exit before the restart (valgrind: 99): %s" % rc)
        w.gw = gwlib.Gateway(*w.gw_args, **w.gw_kw).start(timeout=w.gw_timeout)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check(p.returncode == 1 and "no longer known to the gateway" in err, out + err)


def case_socket_flood(w):
    """mallory asks, in a loop, for alice's credential and for a break-glass listing in alice's
    session: every request is refused, but the gateway logs at most 20 of each a minute for her
    uid (then one line saying so), so a shell cannot flood the logs."""
    n = 60
    before = open(w.gwlog).read()
    for req in ({"cmd": "credentials", "session": w.alice.id},
                {"cmd": "requests", "session": w.alice.id}):
        r = as_user(w.mallory.u, [USER_PY, "-I", "-c", CLIENT, w.sock, json.dumps(req),
                                  str(n)], timeout=300)
        answers = [json.loads(ln) for ln in r.stdout.splitlines()]
        check(r.returncode == 0 and len(answers) == n and
              all(a["ok"] is False for a in answers), "%s: %s" % (req["cmd"], r.stdout[-500:]))
    new = open(w.gwlog).read()[len(before):]
    uid = w.mallory.u.uid
    creds = new.count("credentials: refused uid %d " % uid)
    bg = new.count("break-glass: requests from uid %d " % uid)
    said = new.count("uid %d: more than 20 refused commands this minute; the rest of this "
                     "minute's are answered but not logged" % uid)
    # at most two minutes are touched: 2 x 20 lines each, and one line a table and minute
    check(0 < creds <= 40 and 0 < bg <= 40 and 2 <= said <= 4,
          "%d credential and %d break-glass refusal lines, %d saying the rest are not logged"
          % (creds, bg, said))


def main():
    if len(sys.argv) > 1:
        os.environ["STSROLE_BUILD"] = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        return S.skip_all("needs root (useradd, root-owned state)")
    if shutil.which("moto_server") is None:
        return S.skip_all("moto_server is not installed")
    if not os.access(USER_PY, os.X_OK):
        return S.skip_all("%s (python for the local users) is missing" % USER_PY)
    b = build_dir()
    gw_exe = os.path.join(b, "gateway", "stsrole-gatewayd")
    helper = os.path.join(b, "gateway", "stsrole-credential-process")
    stsrole = os.path.join(b, "gateway", "stsrole")
    for p in (gw_exe, helper, stsrole):
        if not os.access(p, os.X_OK):
            return S.skip_all("%s is not built" % p)
    import gwlib
    import mototest
    import sshdtest
    w = World()
    w.helper, w.stsrole = helper, stsrole
    w.sessions = []
    w.capture = tempfile.mkdtemp(prefix="stsrole-bg-capture.")
    os.environ["STSROLE_CAPTURE"] = w.capture
    roles = dict(mototest.DEFAULT_ROLES)
    roles["BreakGlassRole"] = roles["SecurityAuditRole"]
    lab = sshdtest.Lab("bggw")
    gw = m = None
    try:
        w.lab = lab
        grp = lab.add_group()
        req, alice, bob, mallory, nomfa, flood = (lab.add_user(), lab.add_user(),
                                                  lab.add_user(groups=[grp]), lab.add_user(),
                                                  lab.add_user(), lab.add_user())
        lab.write_usersfile([flood])
        m = mototest.Moto(log=os.path.join(lab.root, "moto.log")).__enter__()
        w.menv = menv = m.seed(roles=roles)
        w.run = os.path.join(lab.root, "run")
        everyone = " ".join(u.name for u in (req, alice, bob, mallory, nomfa, flood))
        arn = menv["roles"]
        rv = arn["StsRoleRevoker"]
        w.conf = lab.stsrole_conf(menv, {
            "SecurityAuditRole": {"arn": arn["SecurityAuditRole"], "revoker_arn": rv,
                                  "users": everyone},
            "breakglass": {"arn": arn["BreakGlassRole"], "revoker_arn": rv, "users": req.name,
                           "reason_pattern": "^(INC|CHG)-[0-9]+", "approvals": "1",
                           "approvers": "%s @%s %s" % (alice.name, grp, nomfa.name),
                           "approval_timeout": "600", "max_duration": "900"},
            "bg2": {"arn": arn["IncidentResponseRole"], "revoker_arn": rv, "users": req.name,
                    "reason": "required", "approvals": "2",
                    "approvers": "%s @%s" % (alice.name, grp)},
            "bgshort": {"arn": arn["IncidentResponseRole"], "revoker_arn": rv, "users": req.name,
                        "reason": "required", "approvals": "1",
                        "approvers": "%s @%s" % (alice.name, grp), "approval_timeout": "5"},
            "ir": {"arn": arn["IncidentResponseRole"], "revoker_arn": rv, "users": req.name,
                   "reason": "required"},
            "bg4": {"arn": arn["IncidentResponseRole"], "revoker_arn": rv, "users": req.name,
                    "reason": "required", "approvals": "1", "approvers": alice.name},
            # trusts someone else: AssumeRole from the bastion is refused (moto checks trust
            # in the caller's own account)
            "bgbad": {"arn": arn["UntrustedRole"], "users": req.name, "reason": "required",
                      "approvals": "1", "approvers": alice.name},
            "untrusted": {"arn": arn["UntrustedRole"], "users": flood.name},
        }, BASTION, credentials_mode="process", runtime_dir=w.run, credential_helper=helper)
        # step_up is a template's: profile ACCOUNT-stepup
        acct = arn["IncidentResponseRole"].split(":")[4]
        w.stepup = "%s-stepup" % acct
        with open(w.conf, "a") as f:
            f.write("\n[roles stepup]\naccounts = %s\narn = %s\nrevoker_arn = %s\nusers = %s\n"
                    "step_up = totp\n" % (acct, arn["IncidentResponseRole"].replace(
                        ":%s:" % acct, ":${account}:"), rv.replace(":%s:" % acct, ":${account}:"),
                        flood.name))
        w.audit = os.path.join(lab.root, "audit.log")
        w.sock = os.path.join(w.run, "credentials.sock")
        w.gwlog = os.path.join(lab.root, "gw.log")
        # STSROLE_VALGRIND=1: the gateway runs under memcheck; the last case reads its verdict.
        prefix = []
        w.vglog = None
        if os.environ.get("STSROLE_VALGRIND") == "1" and shutil.which("valgrind"):
            w.vglog = os.path.join(lab.root, "valgrind.log")
            prefix = ["valgrind", "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
                      "--error-exitcode=99", "--log-file=" + w.vglog]
        w.gw_args = (w.conf, os.environ, ["--skew", "0", "--reconcile", "1"])
        w.gw_kw = dict(log=w.gwlog, prefix=prefix)
        w.gw_timeout = 120 if prefix else 20
        w.gw = gw = gwlib.Gateway(*w.gw_args, **w.gw_kw).start(timeout=w.gw_timeout)
        sts = m.client("sts", creds=menv["base"])

        def revoker_iam(cache={}):
            if "c" not in cache:
                c = sts.assume_role(RoleArn=rv, RoleSessionName="test-checker")["Credentials"]
                cache["c"] = m.client("iam", creds=c)
            return cache["c"]
        w.revoker_iam = revoker_iam
        w.req, w.alice, w.bob = Session(w, req), Session(w, alice), Session(w, bob)
        w.mallory, w.nomfa = Session(w, mallory), Session(w, nomfa, mfa="none")
        w.flood = Session(w, flood)
        cases = [
            ("a reason that does not match reason_pattern, or none: refused and audited",
             case_bad_reason),
            ("reasons with newlines, escape and control characters, or too long: refused; no "
             "forged audit or log line", case_reason_injection),
            ("a role the person is not listed for, or one that needs no request: refused",
             case_not_listed),
            ("request: pending, audited with the requester's session; a second one for the same "
             "role refused", case_request),
            ("the role's profile before approval: credential_process names `stsrole request` "
             "(to those listed for it only)", case_profile_before),
            ("requests: the approver sees it (can_approve), a non-approver does not",
             case_listing),
            ("self-approval refused, also from the requester's second session", case_self_approval),
            ("a non-approver's approve, deny and cancel: refused and audited", case_non_approver),
            ("another uid's or a made-up session id: refused, not audited as its owner",
             case_forged_session),
            ("an approver whose session had no MFA: refused", case_no_mfa),
            ("approve by a listed approver: minted once with stsrole:reason and stsrole:approvers, "
             "served as the requester's profile, audited for reconcile", case_approve),
            ("stsrolectl reconcile: the break-glass credential's CloudTrail call is linked; one "
             "breakglass finding with reason and approvers", case_reconcile),
            ("two approvals: the same person twice refused, an @group member counts",
             case_two_approvals),
            ("AWS refuses the approved credential: breakglass.failed, minted false",
             case_mint_fails),
            ("deny by an approver, cancel by the requester: audited", case_deny_cancel),
            ("approval_timeout: the gateway expires the request, audited", case_timeout),
            ("logout cancels the session's pending request (by logout)", case_logout_cancels),
            ("logout just before the last approval: nothing minted", case_logout_races_approval),
            ("reason = required without approvals: minted at once", case_reason_only),
            ("stsrolectl requests [--json]: root sees every request", case_root_view),
            ("stsrole request/approve/requests/deny/--wait as the session's user",
             case_stsrole_command),
            ("a request flood: 3 pending per person; refusals beyond 20 a minute not audited; "
             "a listing holds at most 64", case_flood),
            ("a profile flood: every refusal answered, at most 20 a minute audited and one log "
             "line; step-up codes audited up to the lockout, limited after it; failed mints "
             "limited",
             case_profile_flood),
            ("stsrole request --wait across a gateway restart: exit 1, the request is no "
             "longer known", case_wait_restart),
            ("a local user's loop of refused socket requests (another's session): every one "
             "answered, at most 20 a minute logged for the uid", case_socket_flood),
            ("logout revokes the break-glass credential on its role", case_logout_revokes),
            ("the audit chain verifies", case_audit_chain),
        ]
        for name, fn in cases:
            S.case(name, fn, w)
    finally:
        for s in w.sessions:
            s.logout()
        gw = getattr(w, "gw", None)
        if gw is not None:
            rc = gw.stop(timeout=120)
            if w.vglog is not None:
                vg = open(w.vglog).read()
                S.result("valgrind: no memcheck error, nothing definitely lost", rc == 0 and
                         not vg.strip(), "exit %s: %s" % (rc, vg[-3000:]))
        if m is not None:
            m.__exit__(None, None, None)
        lab.close()
        rmtree_unless_kept(w.capture)
    return S.finish()


if __name__ == "__main__":
    sys.exit(main())
