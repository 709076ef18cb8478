#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_sshd_bg.py: break-glass through a real sshd, with three people (stsrole(1), #15).

What the people notice: the requester asks for the break-glass role from their SSH session with
`stsrole request breakglass --reason "INC-4711 db down"`; a reason that does not match the
role's reason_pattern is refused, and so is their own `stsrole approve`; a colleague who is not
an approver is refused too; the approver approves from their own MFA-verified session; then the
requester's `aws --profile breakglass sts get-caller-identity` works, and the AssumeRole that
moto got carried stsrole:reason and stsrole:approvers.  A second request that nobody answers
expires after the role's approval_timeout (5 s).  After the requester logs out, the break-glass
role's deny names the session.  The role's notify command was told of request, approve,
approved, use and expire.

Real parts: sshd, pam_stsrole, oathtool codes, Debian's /usr/bin/aws inside the sessions, moto
as AWS (every request to it recorded by tests/stub/stsstub.py --forward, through
tests/lib/mototest.py's STSROLE_CAPTURE).  Nothing sleeps to synchronise: every wait polls a
state (the audit log, `stsrole requests --json`, `stsrolectl requests --json`) with a deadline.

Skips (77, "skipped: ...") only when a prerequisite is missing, or when the build has no
`stsrole` user command (the break-glass flow is absent).  One line per case, then
"breakglass-sshd: N passed, N failed".
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from harness import Suite, check  # noqa: E402
from mototest import DEFAULT_ROLES, Moto, base_env  # noqa: E402
import gwlib  # noqa: E402
from gwlib import Gateway, audit_lines, build_dir, sid_of, wait_for  # noqa: E402

AWS = "/usr/bin/aws"
BASTION_ID = "bg1"
POLICY = "stsrole-revoked-%s" % BASTION_ID
REASON = "INC-4711 db down"
REASON2 = "CHG-7 rotate keys"
REASON3 = "CHG-9 not now"
REASON4 = "CHG-8 never mind"
REASON5 = "CHG-10 left open"
ALLOW = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow",
                        "Action": ["iam:Get*", "iam:List*", "sts:GetCallerIdentity"],
                        "Resource": "*"}]}
ROLES = dict(DEFAULT_ROLES, SecurityAuditRole=ALLOW, BreakGlassRole=ALLOW, OnCallRole=ALLOW)

# Run by the people inside their sessions: `stsrole requests --json` until the request wanted
# is in the state wanted, or the deadline passes.  "mine ROLE" prints the id of the caller's
# own pending request for ROLE; "wait ID STATE" exits 0 once ID is in STATE.
POLL = r'''import json, subprocess, sys, time
stsrole, what, a, b, deadline = sys.argv[1:6]
end = time.monotonic() + float(deadline)
last = None
while True:
    p = subprocess.run([stsrole, "requests", "--json"], capture_output=True, text=True)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = None
    reqs = doc.get("requests", []) if isinstance(doc, dict) else doc or []
    for r in reqs:
        if what == "mine" and r.get("role") == a and r.get("state") == b:
            print(r["id"])
            sys.exit(0)
        if what == "wait" and r.get("id") == a:
            last = r.get("state")
            if last == b:
                print(json.dumps(r))
                sys.exit(0)
    if time.monotonic() > end:
        sys.stderr.write("poll: %s %s %s: not seen in %s s (rc %d, last %s): %s %s\n"
                         % (what, a, b, deadline, p.returncode, last, p.stdout, p.stderr))
        sys.exit(1)
    time.sleep(0.1)
'''


def stsrole_path():
    return os.path.join(build_dir(), "gateway", "stsrole")


# Each step prints its output on one line (newlines become spaces) as "KEY ...", then
# "KEY rc=N".
SHOW = ("show() { k=$1; shift; o=$(\"$@\" 2>&1); rc=$?; "
        "printf '%s\\n' \"$o\" | tr '\\n' ' ' | sed \"s/^/$k /\"; echo; echo \"$k rc=$rc\"; }; ")


def requester_script(w):
    """The requester's session, from the bad reason to the expired second request."""
    return SHOW + (
        "S=%(s)s; A='%(aws)s --endpoint-url %(url)s --output json'; P='python3 %(poll)s'; "
        "echo SID=$STSROLE_SESSION_ID; "
        "show ROLES $S roles; "
        "show ROLESJSON $S roles --json; "
        "show BAD $S request breakglass --reason 'db down, no ticket'; "
        "show EARLY $A --profile breakglass sts get-caller-identity; "
        "show REQUEST $S request breakglass --reason '%(reason)s'; "
        "ID=$($P $S mine breakglass pending 30); echo \"ID=$ID\"; "
        "show SELF $S approve \"$ID\"; "
        "show REQUEST3 $S request bgdeny --reason '%(reason3)s' --wait; "
        "show APPROVED $P $S wait \"$ID\" approved 120; "
        "show DENIED $P $S wait \"$($P $S mine bgdeny denied 60)\" denied 5; "
        "show AWS $A --profile breakglass sts get-caller-identity; "
        "show REQUEST2 $S request bgshort --reason '%(reason2)s' --wait; "
        "ID2=$($P $S mine bgshort expired 30); echo \"ID2=$ID2\"; "
        "show EXPIRED $P $S wait \"$ID2\" expired 5; "
        "show REQUEST4 $S request bgshort --reason '%(reason4)s'; "
        "ID4=$($P $S mine bgshort pending 30); "
        "show CANCEL $S cancel \"$ID4\"; "
        "show CANCELLED $P $S wait \"$ID4\" cancelled 30; "
        "show USAGE $S request breakglass extra; "
        "show NOSESSION env -u STSROLE_SESSION_ID $S requests; "
        "show REQUEST5 $S request bgdeny --reason '%(reason5)s'; "
        "echo DONE"
        % {"s": w.stsrole, "aws": AWS, "url": w.moto.url, "poll": w.poll, "reason": REASON,
           "reason2": REASON2, "reason3": REASON3, "reason4": REASON4,
           "reason5": REASON5})


def login(w, user, script, timeout=300):
    from sshdtest import ssh_login, totp
    cfg = w.lab.ssh_config({"bastion": (w.sshd, user)})
    r = ssh_login(cfg, "bastion", [totp(user.secret)], script, timeout=timeout)
    return r.out.replace("\r", "")


def field(out, key):
    """What step KEY printed (its output on one line); for "KEY rc", its exit status."""
    if key.endswith(" rc"):
        m = re.search(r"^%s=(\d+)$" % re.escape(key), out, re.M)
    else:
        m = re.search(r"^%s[ =](?!rc=\d+$)(.*)$" % re.escape(key), out, re.M)
    return m.group(1).strip() if m else None


def refused(w, who):
    return [e for e in audit_lines(w.audit)
            if e.get("event") == "breakglass.refused" and e.get("by") == who]


def ctl_requests(w):
    p = subprocess.run([w.ctl, "--config", w.conf, "requests", "--json"], capture_output=True,
                       text=True, timeout=30)
    if p.returncode != 0:
        return None
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        return None
    return doc.get("requests", []) if isinstance(doc, dict) else doc


# -- the cases --------------------------------------------------------------------------------

def case_flow(w):
    """Runs the three sessions; the requester's stays open while the others act."""
    box = {}

    def requester():
        try:
            box["out"] = login(w, w.req, requester_script(w))
        except Exception as e:  # noqa: BLE001 - reported below
            box["err"] = e
    t = threading.Thread(target=requester)
    t.start()
    try:
        # root's view: the pending request, through the control socket
        def pending():
            found = {r.get("role"): r for r in ctl_requests(w) or []
                     if r.get("state") == "pending"}
            return found if {"breakglass", "bgdeny"} <= set(found) else None
        found = wait_for(pending, 120, "pending breakglass and bgdeny requests in stsrolectl "
                         "requests --json")
        r = found["breakglass"]
        w.req_id, w.deny_id = r["id"], found["bgdeny"]["id"]
        check(r.get("requester") == w.req.name and r.get("reason") == REASON,
              "stsrolectl requests: %s" % r)
        # the requester tried to approve it first (their script does, right after the request)
        wait_for(lambda: [e for e in refused(w, w.req.name) if e.get("id") == w.req_id], 60,
                 "breakglass.refused of the self-approval")
        w.out_other = login(w, w.other, SHOW + "show LIST %s requests --json; "
                            "show OTHER %s approve %s" % (w.stsrole, w.stsrole, w.req_id))
        w.out_approver = login(w, w.approver, SHOW + "S=%s; show LIST $S requests --json; "
                               "show APPROVE $S approve %s; show DENY $S deny %s"
                               % (w.stsrole, w.req_id, w.deny_id))
    finally:
        t.join(400)
    check("err" not in box, "the requester's session: %s" % box.get("err"))
    w.out = box.get("out", "")
    check("DONE" in w.out, "the requester's session did not finish: %s" % w.out[-3000:])
    m = re.search(r"^SID=([0-9a-f]{32})$", w.out, re.M)
    check(m is not None, "no session id: %s" % w.out[-2000:])
    w.sid = m.group(1)


def case_roles(w):
    check(w.out, "no session ran")
    check(field(w.out, "ROLES rc") == "0", "stsrole roles: %s" % field(w.out, "ROLES"))
    # one per line (joined here by the script): the break-glass ones marked
    lines = (field(w.out, "ROLES") or "").split("  (break-glass: stsrole request)")
    marked = {chunk.split()[-2] for chunk in lines[:-1] if len(chunk.split()) >= 2}
    check(marked == {"breakglass", "bgshort", "bgdeny"}, "stsrole roles: %s" % lines)
    doc = json.loads(field(w.out, "ROLESJSON") or "null")
    got = {p["profile"]: p.get("request") for p in (doc or {}).get("profiles", [])}
    check(field(w.out, "ROLESJSON rc") == "0" and doc.get("ok") is True
          and got.get("breakglass") is True
          and got.get("audit") is not True, "stsrole roles --json: %s" % doc)


def case_bad_reason(w):
    check(w.out, "no session ran")
    check(field(w.out, "BAD rc") == "1", "exit status: %s" % field(w.out, "BAD rc"))
    bad = field(w.out, "BAD") or ""
    check("reason" in bad, "what the requester read: %s" % bad)
    ev = [e for e in refused(w, w.req.name) if e.get("role") == "breakglass"
          and not e.get("id")]
    check(ev, "no breakglass.refused without a request id for the bad reason: %s"
          % refused(w, w.req.name))
    reqs = [e.get("role") for e in audit_lines(w.audit)
            if e.get("event") == "breakglass.request"]
    check(reqs == ["breakglass", "bgdeny", "bgshort", "bgshort", "bgdeny"],
          "breakglass.request records: %s" % reqs)


def case_early(w):
    check(w.out, "no session ran")
    early = field(w.out, "EARLY") or ""
    check(field(w.out, "EARLY rc") != "0" and "stsrole request breakglass" in early
          and "assumed-role" not in early,
          "aws --profile breakglass before any request: %s" % early)


def case_self(w):
    check(w.out, "no session ran")
    check(field(w.out, "REQUEST rc") == "0" and re.match(
        r"request %s breakglass: pending$" % w.req_id, field(w.out, "REQUEST") or ""),
        "stsrole request: %s" % field(w.out, "REQUEST"))
    check(field(w.out, "ID") == w.req_id, "ids: %s vs %s" % (field(w.out, "ID"), w.req_id))
    check(field(w.out, "SELF rc") == "1", "self-approval: %s" % field(w.out, "SELF"))
    ev = [e for e in refused(w, w.req.name) if e.get("id") == w.req_id]
    check(ev and ev[0].get("why"), "audit: %s" % ev)


def case_other(w):
    check(w.out_other is not None, "the non-approver did not log in")
    check(field(w.out_other, "OTHER rc") == "1", "approve: %s" % field(w.out_other, "OTHER"))
    listing = field(w.out_other, "LIST") or ""
    check(w.req_id not in listing, "the non-approver sees the request: %s" % listing)
    ev = [e for e in refused(w, w.other.name) if e.get("id") == w.req_id]
    check(ev and ev[0].get("why"), "audit: %s" % refused(w, w.other.name))


def case_approve(w):
    check(w.out_approver is not None, "the approver did not log in")
    check(field(w.out_approver, "APPROVE rc") == "0", "approve: %s"
          % field(w.out_approver, "APPROVE"))
    listing = json.loads(field(w.out_approver, "LIST") or "null")
    reqs = listing.get("requests", []) if isinstance(listing, dict) else listing or []
    mine = [r for r in reqs if r.get("id") == w.req_id]
    check(mine and mine[0].get("can_approve") is True and mine[0].get("state") == "pending",
          "the approver's stsrole requests --json: %s" % listing)
    done = json.loads(field(w.out, "APPROVED") or "null")
    check(done and done.get("state") == "approved" and done.get("approvers") == [w.approver.name],
          "the requester's view after approval: %s" % done)
    ev = [e["event"] for e in audit_lines(w.audit)
          if e.get("id") == w.req_id and e["event"].startswith("breakglass.")
          and e["event"] != "breakglass.refused"]
    check(ev == ["breakglass.request", "breakglass.approve", "breakglass.ok"],
          "audit of the request: %s" % ev)


def case_deny(w):
    check(w.out_approver is not None, "the approver did not log in")
    check(field(w.out_approver, "DENY rc") == "0", "deny: %s" % field(w.out_approver, "DENY"))
    done = json.loads(field(w.out, "DENIED") or "null")
    check(done and done.get("id") == w.deny_id and done.get("state") == "denied",
          "the requester's view: %s" % field(w.out, "DENIED"))
    # --wait: asked again until the request was decided; denied is exit 1
    check(field(w.out, "REQUEST3 rc") == "1" and "bgdeny: denied" in (field(w.out, "REQUEST3")
                                                                        or ""),
          "stsrole request --wait: %s" % field(w.out, "REQUEST3"))
    ev = [e for e in audit_lines(w.audit) if e.get("event") == "breakglass.deny"]
    check(len(ev) == 1 and ev[0].get("id") == w.deny_id and ev[0].get("by") == w.approver.name,
          "breakglass.deny: %s" % ev)
    check(assume_requests(w, "OnCallRole") == [], "a denied request was minted")


def case_cancel(w):
    check(w.out, "no session ran")
    check(field(w.out, "CANCEL rc") == "0", "cancel: %s" % field(w.out, "CANCEL"))
    done = json.loads(field(w.out, "CANCELLED") or "null")
    check(done and done.get("role") == "bgshort" and done.get("reason") == REASON4,
          "the requester's view: %s" % field(w.out, "CANCELLED"))
    w.cancel_id = done["id"]
    ev = [e for e in audit_lines(w.audit) if e.get("event") == "breakglass.cancel"
          and e.get("id") == w.cancel_id]
    check(len(ev) == 1 and ev[0].get("by") == w.req.name, "breakglass.cancel: %s" % ev)


def case_usage(w):
    check(w.out, "no session ran")
    check(field(w.out, "USAGE rc") == "2", "a usage error: %s" % field(w.out, "USAGE"))
    check(field(w.out, "NOSESSION rc") == "2", "without STSROLE_SESSION_ID: %s"
          % field(w.out, "NOSESSION"))


def assume_requests(w, role):
    """The AssumeRole requests moto got for role, as form dicts (the recording proxy's log)."""
    out = []
    for name in sorted(os.listdir(w.capture)):
        with open(os.path.join(w.capture, name)) as f:
            for line in f:
                rec = json.loads(line)
                q = dict(urllib.parse.parse_qsl(rec.get("body") or ""))
                if q.get("Action") == "AssumeRole" and q.get("RoleArn", "").endswith(
                        ":role/" + role):
                    out.append((q, rec.get("status")))
    return out


def case_aws(w):
    check(w.out, "no session ran")
    check(field(w.out, "AWS rc") == "0", "aws --profile breakglass: %s" % field(w.out, "AWS"))
    doc = json.loads(field(w.out, "AWS") or "null")
    check(doc and re.match(r"arn:aws:sts::%s:assumed-role/BreakGlassRole/%s@%s\."
                           % (w.menv["workload_account"], w.req.name, BASTION_ID),
                           doc.get("Arn", "")), "aws --profile breakglass: %s" % doc)
    got = assume_requests(w, "BreakGlassRole")
    check(len(got) == 1, "AssumeRole of BreakGlassRole %d times: %s" % (len(got), got))
    q, status = got[0]
    tags = {}
    for k, v in q.items():
        m = re.match(r"Tags\.member\.(\d+)\.Key$", k)
        if m:
            tags[v] = q.get("Tags.member.%s.Value" % m.group(1))
    check(status == 200, "moto answered %s" % status)
    check(tags.get("stsrole:reason") == REASON, "stsrole:reason: %s" % tags)
    check(tags.get("stsrole:approvers") == w.approver.name, "stsrole:approvers: %s" % tags)
    check(tags.get("stsrole:sid") == sid_of(w.sid), "stsrole:sid: %s" % tags)
    check(q.get("SourceIdentity") == w.req.name, "SourceIdentity: %s" % q.get("SourceIdentity"))
    check(q.get("DurationSeconds") == "1800", "DurationSeconds (max_duration = 1800): %s"
          % q.get("DurationSeconds"))
    # the mint's audit record names the role session CloudTrail shows, with reason and approvers
    ok = [e for e in audit_lines(w.audit) if e.get("event") == "breakglass.ok"]
    check(len(ok) == 1 and ok[0].get("reason") == REASON
          and w.approver.name in json.dumps(ok[0].get("approvers"))
          and ok[0].get("id") == w.req_id and ok[0].get("source_identity") == w.req.name
          and ok[0].get("requester_session") == w.sid
          and doc["Arn"].endswith("/" + ok[0].get("session_name", "-")),
          "breakglass.ok: %s" % ok)
    w.bg_session = ok[0].get("session_id")


def case_expire(w):
    check(w.out, "no session ran")
    # --wait: asked again until the request was decided; expired is exit 1
    check(field(w.out, "REQUEST2 rc") == "1" and "bgshort: expired" in (field(w.out, "REQUEST2")
                                                                         or ""),
          "stsrole request --wait: %s" % field(w.out, "REQUEST2"))
    r = json.loads(field(w.out, "EXPIRED") or "null")
    check(r and r.get("state") == "expired" and r.get("role") == "bgshort",
          "the second request: %s" % w.out[-2000:])
    check(int(r["expires"]) - int(r["created"]) == 5, "approval_timeout 5: %s" % r)
    ev = [e for e in audit_lines(w.audit) if e.get("event") == "breakglass.expire"]
    check(len(ev) == 1 and ev[0].get("id") == r["id"], "breakglass.expire: %s" % ev)
    check(assume_requests(w, "IncidentResponseRole") == [], "an expired request was minted")
    w.expire_id = r["id"]
    final = {x["id"]: x["state"] for x in ctl_requests(w) or []}
    check(final.get(w.req_id) == "approved" and final.get(r["id"]) == "expired"
          and final.get(w.deny_id) == "denied", "stsrolectl requests --json: %s" % final)


def deny_sids(w, role):
    return gwlib.deny_sids(w.revoker_iam(), role, POLICY)


def case_logout(w):
    check(w.sid, "no session ran")
    bg_arn = w.menv["roles"]["BreakGlassRole"]
    # the break-glass credential is followed as a session of its own, closed with the login
    wait_for(lambda: [e for e in audit_lines(w.audit) if e.get("event") == "revoke.ok"
                      and e.get("session_id") == w.bg_session and e.get("role_arn") == bg_arn],
             120, "revoke.ok of the break-glass credential on BreakGlassRole")
    check(sid_of(w.sid) in deny_sids(w, "BreakGlassRole"),
          "BreakGlassRole's deny lacks %s: %s" % (sid_of(w.sid), deny_sids(w, "BreakGlassRole")))
    for role in ("IncidentResponseRole", "OnCallRole"):
        check(deny_sids(w, role) == [], "%s, never minted, got a deny" % role)
    # the request still pending at logout died with the session
    m = re.match(r"request ([0-9a-f]{16}) bgdeny: pending$", field(w.out, "REQUEST5") or "")
    check(field(w.out, "REQUEST5 rc") == "0" and m, "last request: %s" % field(w.out, "REQUEST5"))
    w.left_id = m.group(1)
    left = wait_for(lambda: [e for e in audit_lines(w.audit)
                             if e.get("event") == "breakglass.cancel"
                             and e.get("id") == w.left_id], 60,
                    "breakglass.cancel of the request left pending")
    check(left[0].get("by") == "logout", "breakglass.cancel: %s" % left)
    final = {x["id"]: x["state"] for x in ctl_requests(w) or []}
    check(final.get(w.left_id) == "cancelled", "stsrolectl requests --json: %s" % final)


def case_notify(w):
    def events():
        try:
            with open(w.events) as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except FileNotFoundError:
            return []
    # the command runs beside the main loop: wait for its last line
    wait_for(lambda: len([e for e in events() if e.get("event") == "cancel"]) == 2, 30,
             "notify's two cancels")
    ev = events()

    def of(rid):
        return [e["event"] for e in ev if e.get("id") == rid]
    got = of(w.req_id)
    check(got[:1] == ["request"] and sorted(got[1:3]) == ["approve", "approved"]
          and got[3:] == ["use"], "events of the approved request: %s" % ev)
    check(all(e.get("reason") == REASON and e.get("requester") == w.req.name
              for e in ev if e.get("id") == w.req_id), "lines: %s" % ev)
    check(of(w.deny_id) == ["request", "deny"], "events of the denied request: %s" % ev)
    check(of(w.expire_id) == ["request", "expire"], "events of the expired request: %s" % ev)
    check(of(w.cancel_id) == ["request", "cancel"], "events of the cancelled request: %s" % ev)
    check(of(w.left_id) == ["request", "cancel"], "events of the request left open: %s" % ev)
    by = {(e["id"], e["event"]): e.get("by") for e in ev}
    check(by.get((w.req_id, "approve")) == w.approver.name
          and by.get((w.deny_id, "deny")) == w.approver.name
          and by.get((w.cancel_id, "cancel")) == w.req.name
          and by.get((w.left_id, "cancel")) == "logout", "by: %s" % by)
    # each run saw the line on stdin and nothing of the gateway's environment
    def runs_done():
        return [n for n in os.listdir(os.path.dirname(w.envs)) if n.startswith("envs.")
                and os.path.getsize(os.path.join(os.path.dirname(w.envs), n)) > 0]
    wait_for(lambda: len(runs_done()) >= len(ev), 30, "every notify run's environment")
    runs = runs_done()
    envs = set()
    for n in runs:
        with open(os.path.join(os.path.dirname(w.envs), n)) as f:
            envs.add(f.read())
    check(len(runs) == len(ev) and envs == {"PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"},
          "notify's environment, %d runs for %d events: %s" % (len(runs), len(ev), envs))


def case_restart(w):
    """The gateway keeps requests in memory: after a restart it holds none; the audit log keeps
    every step."""
    check(ctl_requests(w), "no requests before the restart")
    w.gw.stop()
    w.gw = Gateway(w.conf, base_env(w.menv), ["--skew", "0", "--reconcile", "1"],
                   log=os.path.join(w.lab.root, "gatewayd.log")).start()
    check(ctl_requests(w) == [], "after a restart: %s" % ctl_requests(w))
    ids = {e.get("id") for e in audit_lines(w.audit) if e.get("event") == "breakglass.request"}
    check({w.req_id, w.deny_id, w.expire_id, w.cancel_id, w.left_id} <= ids,
          "breakglass.request records: %s" % ids)


class World:
    pass


def notify_command(w):
    """A root-owned notify command in a root-owned directory: appends each line it reads."""
    d = os.path.join(w.lab.root, "notify")
    os.makedirs(d, mode=0o755)
    w.events = os.path.join(d, "events.jsonl")
    w.envs = os.path.join(d, "envs")
    path = os.path.join(d, "notify.sh")
    with open(path, "w") as f:
        # one file per run: runs may overlap
        f.write("#!/bin/sh\ncat >> %s\ntr '\\000' '\\n' < /proc/$$/environ > %s.$$\n"
                % (w.events, w.envs))
    os.chmod(path, 0o755)
    return path


def main():
    suite = Suite("breakglass-sshd")
    why = gwlib.missing_for_sessions(AWS)
    if why is None and not os.path.exists(stsrole_path()):
        why = "the break-glass flow is absent: %s (the stsrole user command) is not built" \
            % stsrole_path()
    if why:
        return suite.skip_all(why)
    from sshdtest import Lab, SetupError, stsrole_stack
    tmp = tempfile.mkdtemp(prefix="stsrole-bgsshd-tmp.")
    # every request to moto, through the recording proxy (tests/lib/mototest.py)
    os.environ["STSROLE_CAPTURE"] = os.path.join(tmp, "capture")
    w = World()
    w.out = w.out_other = w.out_approver = w.sid = w.req_id = w.deny_id = None
    w.expire_id = w.cancel_id = w.left_id = w.bg_session = None
    w.stsrole = stsrole_path()
    w.ctl = os.path.join(build_dir(), "gateway", "stsrolectl")
    w.capture = os.environ["STSROLE_CAPTURE"]
    w.gw = None
    try:
        with Moto(log=os.path.join(tmp, "moto.log")) as m, Lab("bgsshd") as lab:
            w.menv = menv = m.seed(roles=ROLES)
            w.moto, w.lab = m, lab
            group = lab.add_group()
            w.req = lab.add_user()
            w.approver = lab.add_user(groups=(group,))
            w.other = lab.add_user()
            lab.write_usersfile([w.req, w.approver, w.other])
            w.poll = os.path.join(lab.root, "bgpoll.py")
            with open(w.poll, "w") as f:
                f.write(POLL)
            os.chmod(w.poll, 0o644)
            run = os.path.join(lab.root, "run")
            w.audit = os.path.join(lab.root, "audit.log")
            arn = menv["roles"]
            revoker = arn["StsRoleRevoker"]
            notify = notify_command(w)
            bg = {"revoker_arn": revoker, "users": w.req.name, "approvals": 1,
                  "approvers": "@" + group, "reason_pattern": "^(INC|CHG)-[0-9]+",
                  "notify": notify}
            w.conf = lab.stsrole_conf(menv, {
                "audit": {"arn": arn["SecurityAuditRole"], "revoker_arn": revoker,
                          "users": " ".join(u.name for u in (w.req, w.approver, w.other))},
                "breakglass": dict(bg, arn=arn["BreakGlassRole"], approval_timeout=300,
                                   max_duration=1800),
                "bgshort": dict(bg, arn=arn["IncidentResponseRole"], approval_timeout=5),
                "bgdeny": dict(bg, arn=arn["OnCallRole"], approval_timeout=300),
            }, BASTION_ID, totp_window=3, credentials_mode="process", runtime_dir=run,
                credential_helper=os.path.join(build_dir(), "gateway",
                                               "stsrole-credential-process"))
            sts = m.client("sts", creds=menv["base"])

            def revoker_iam(cache={}):
                if "iam" not in cache:
                    c = sts.assume_role(RoleArn=revoker, RoleSessionName="test-checker")
                    cache["iam"] = m.client("iam", creds=c["Credentials"])
                return cache["iam"]
            w.revoker_iam = revoker_iam
            try:
                w.gw = Gateway(w.conf, base_env(menv), ["--skew", "0", "--reconcile", "1"],
                               log=os.path.join(lab.root, "gatewayd.log")).start()
                exe = lab.pam_service("stsrole-bgsshd-%d" % os.getpid(), stsrole_stack(
                    os.path.join(build_dir(), "pam", ".libs", "pam_stsrole.so"), w.conf))
                w.sshd = lab.start_sshd(exe)
            except SetupError as e:
                raise AssertionError("sshd fixture: %s" % e)
            suite.case("three sessions: the requester asks, the non-approver and the approver "
                       "act from their own sessions, the requester's session goes on",
                       case_flow, w)
            suite.case("stsrole roles [--json] marks the roles the requester may request",
                       case_roles, w)
            suite.case("a reason that does not match reason_pattern is refused (exit 1, "
                       "breakglass.refused)", case_bad_reason, w)
            suite.case("before a request, aws --profile breakglass fails naming "
                       "`stsrole request breakglass`", case_early, w)
            suite.case("the requester's own stsrole approve is refused (exit 1, audited)",
                       case_self, w)
            suite.case("a non-approver's stsrole approve is refused (exit 1, audited); the "
                       "request is not in their list", case_other, w)
            suite.case("the approver sees the request (can_approve) and approves from their "
                       "session: request, approve, ok in the audit log", case_approve, w)
            suite.case("aws --profile breakglass works; the AssumeRole carried stsrole:reason, "
                       "stsrole:approvers, the session's stsrole:sid and max_duration",
                       case_aws, w)
            suite.case("the approver denies another request (stsrole request --wait exits 1; "
                       "breakglass.deny); nothing is minted",
                       case_deny, w)
            suite.case("a second request left alone expires after approval_timeout = 5 "
                       "(stsrole request --wait exits 1; breakglass.expire), and nothing is "
                       "minted", case_expire, w)
            suite.case("the requester cancels a request (breakglass.cancel)", case_cancel, w)
            suite.case("stsrole: a usage error, and no STSROLE_SESSION_ID, exit 2", case_usage, w)
            suite.case("logout: BreakGlassRole's deny names the session's stsrole:sid; the "
                       "request left pending is cancelled by logout", case_logout, w)
            suite.case("notify ran with the line on stdin and PATH only: request, approve, "
                       "approved, use; request, deny; request, expire; request, cancel (twice)",
                       case_notify, w)
            suite.case("a restarted gateway holds no requests; the audit log keeps them",
                       case_restart, w)
            w.gw.stop()
            w.gw = None
            if suite.failed:
                lab.keep = True
                print("kept gateway log: %s" % os.path.join(lab.root, "gatewayd.log"))
                if w.out:
                    print("--- the requester's session\n%s" % w.out[-4000:])
    finally:
        if w.gw is not None:
            w.gw.stop()
        if suite.failed or os.environ.get("STSROLE_KEEP_TMP") == "1":
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
