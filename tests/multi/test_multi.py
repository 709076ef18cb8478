#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_multi.py: role templates over many accounts (moto), one real sshd login, a profile per role.

What a person would notice: one login (one TOTP code) gives an AWS profile per role they may use
in every account of a [roles NAME] template; `aws --profile ALIAS-audit` works against each
account and shows who they are; a role they may not use is refused by the gateway; a step_up =
totp role asks for a fresh code on the terminal first; after logout every account's deny policy
names the session (its stsrole:sid), and the audit log names every account.

The accounts are seeded in moto with the x-moto-account-id header (tests/lib/mototest.py);
MULTI_ACCOUNTS sets how many (default 100).  Nothing sleeps to synchronise: every wait polls a
condition with a deadline.  One line per case, then "multi: N passed, N failed".
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
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "gateway"))
from harness import Suite, check  # noqa: E402
from mototest import DEFAULT_ROLES, Moto, base_env  # noqa: E402
import gwlib  # noqa: E402
from gwlib import Gateway, audit_lines, build_dir, gatewayd_path, sid_of, wait_for  # noqa: E402

AWS = "/usr/bin/aws"
N = int(os.environ.get("MULTI_ACCOUNTS", "100"))
ACCOUNTS = ["3%011d" % i for i in range(N)]
ALIASES = ["acct%03d" % i for i in range(N)]
ALLOW = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow",
                        "Action": ["iam:Get*", "iam:List*", "sts:GetCallerIdentity"],
                        "Resource": "*"}]}
ROLES = dict(DEFAULT_ROLES, SecurityAuditRole=ALLOW, BreakGlassRole=ALLOW)
POLICY = "stsrole-revoked-b1"
STEP_UP_PROMPT = r"verification code for profile \S+: "


def templates(accounts_file, person, other):
    return """
[roles audit]
accounts = file:%(f)s
arn = arn:${partition}:iam::${account}:role/SecurityAuditRole
revoker_arn = arn:${partition}:iam::${account}:role/StsRoleRevoker
users = %(p)s

[roles incident]
accounts = file:%(f)s
arn = arn:${partition}:iam::${account}:role/IncidentResponseRole
revoker_arn = arn:${partition}:iam::${account}:role/StsRoleRevoker
users = %(o)s

[roles breakglass]
accounts = %(first)s
arn = arn:${partition}:iam::${account}:role/BreakGlassRole
revoker_arn = arn:${partition}:iam::${account}:role/StsRoleRevoker
users = %(p)s
step_up = totp
""" % {"f": accounts_file, "p": person, "o": other, "first": ACCOUNTS[0]}


def case_config(w):
    """gatewayd checks the expanded config; a bad accounts file is refused with file:line."""
    bad = os.path.join(w.lab.etc, "accounts.bad")
    with open(bad, "w") as f:
        f.write("# id alias\n%s dup\n%s dup\n" % (ACCOUNTS[0], ACCOUNTS[1]))
    os.chmod(bad, 0o644)
    text = open(w.conf).read().replace("accounts = file:%s\n" % w.accounts,
                                       "accounts = file:%s\n" % bad, 1)
    badconf = os.path.join(w.lab.etc, "bad.conf")
    fd = os.open(badconf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    p = subprocess.run([gatewayd_path(), "--config", badconf], capture_output=True, text=True,
                       timeout=30, env=w.env)
    check(p.returncode == 78 and "[roles audit]: accounts: %s:3: alias 'dup' is used twice" % bad
          in p.stderr, "rc %d: %s" % (p.returncode, p.stderr))


def case_status(w):
    """stsrolectl status lists every instance of every template (account, alias, profile, ARN),
    in its text and in --json."""
    p = subprocess.run([w.ctl, "--config", w.conf, "status", "--json"], capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0, "status --json: rc %d: %s" % (p.returncode, p.stderr))
    inst = json.loads(p.stdout).get("instances", [])
    want = ([("audit", a, n, "%s-audit" % n, "arn:aws:iam::%s:role/SecurityAuditRole" % a)
             for a, n in zip(ACCOUNTS, ALIASES)] +
            [("incident", a, n, "%s-incident" % n,
              "arn:aws:iam::%s:role/IncidentResponseRole" % a) for a, n in zip(ACCOUNTS, ALIASES)] +
            [("breakglass", ACCOUNTS[0], ACCOUNTS[0], "%s-breakglass" % ACCOUNTS[0],
              "arn:aws:iam::%s:role/BreakGlassRole" % ACCOUNTS[0])])
    got = [(i.get("template"), i.get("account"), i.get("alias"), i.get("name"), i.get("arn"))
           for i in inst]
    check(sorted(got) == sorted(want), "status --json: %d instances, e.g. %s" % (len(got),
                                                                                 got[:2]))
    p = subprocess.run([w.ctl, "--config", w.conf, "status"], capture_output=True, text=True,
                       timeout=60)
    lines = re.findall(r"^instance: (.*)$", p.stdout, re.M)
    check(p.returncode == 0 and sorted(lines) == sorted(" ".join(x) for x in want),
          "status: rc %d, %d instance lines, e.g. %s" % (p.returncode, len(lines), lines[:2]))
    print("   %d instances of 3 templates listed" % len(lines))


def session_script(w):
    """What the person runs inside the SSH session."""
    url = w.moto.url
    calls = " ".join(ALIASES)
    return (
        "echo SID=$STSROLE_SESSION_ID PROFILE=$AWS_PROFILE; "
        "%(ctl)s roles | sed 's/^/ROLE /'; "
        # a wrong code first, then the right one, while the code computed at the login is fresh
        "%(helper)s --socket %(sock)s --session $STSROLE_SESSION_ID --profile %(acct)s-breakglass "
        ">/dev/null 2>/tmp/multi-wrong.$$; sed 's/^/WRONG /' /tmp/multi-wrong.$$; "
        "rm -f /tmp/multi-wrong.$$; "
        "r=$(%(aws)s --profile %(acct)s-breakglass --endpoint-url %(url)s sts "
        "get-caller-identity --query Arn --output text) && echo \"STEPUP $r\" || echo STEPUP-FAILED; "
        "for a in %(calls)s; do "
        "r=$(%(aws)s --profile $a-audit --endpoint-url %(url)s sts get-caller-identity "
        "--query Arn --output text 2>&1) && echo \"ARN $a $r\" || echo FAILED $a $r; done; "
        "%(helper)s --socket %(sock)s --session $STSROLE_SESSION_ID --profile %(first)s-incident "
        "2>&1 | sed 's/^/REFUSED /'; "
        "r=$(%(aws)s --profile %(acct)s-breakglass --endpoint-url %(url)s sts "
        "get-caller-identity --query Arn --output text) && echo \"AGAIN $r\" || echo AGAIN-FAILED; "
        "echo DONE"
        % {"ctl": w.ctl, "calls": calls, "aws": AWS, "url": url, "helper": w.helper,
           "sock": w.socket, "first": ALIASES[0], "acct": ACCOUNTS[0]})


def case_session(w):
    from sshdtest import PROMPTS, ssh_login, totp
    good = totp(w.user.secret, 1)
    wrong = "%06d" % ((int(good) + 500000) % 1000000)
    answers = [totp(w.user.secret), wrong, good]
    w.code_step = int(time.time()) // 30 + 1  # no code of a later step is used yet
    r = ssh_login(w.ssh_cfg, "bastion", answers, session_script(w), ssh_args=["-tt"],
                  timeout=600, prompts=PROMPTS + (STEP_UP_PROMPT,))
    out = r.out.replace("\r", "")
    w.out = out
    w.prompts = r.prompts
    m = re.search(r"SID=([0-9a-f]{32}) PROFILE=(\S+)", out)
    check(m is not None, "no session id in: %s" % out[-2000:])
    w.sid = m.group(1)
    check(m.group(2) == "stsrole", "AWS_PROFILE: %s" % m.group(2))
    roles = re.findall(r"^ROLE (\S+)", out, re.M)
    # breakglass lists bare ids: each id is its own alias
    want = sorted(["%s-audit" % a for a in ALIASES] + ["%s-breakglass" % ACCOUNTS[0]])
    check(sorted(roles) == want, "stsrolectl roles: %d lines, e.g. %s" % (len(roles), roles[:3]))
    arns = dict(re.findall(r"^ARN (\S+) (\S+)$", out, re.M))
    failed = re.findall(r"^FAILED .*$", out, re.M)
    check(not failed, "%d profiles failed, e.g. %s" % (len(failed), failed[:2]))
    for alias, acct in zip(ALIASES, ACCOUNTS):
        a = arns.get(alias, "")
        check(re.match(r"arn:aws:sts::%s:assumed-role/SecurityAuditRole/%s@b1\.[0-9a-f]{16}$"
                       % (acct, w.user.name), a), "profile %s-audit: %r" % (alias, a))
    # the login's role is the first template role, and its profile is the login's credential
    check(arns[ALIASES[0]].endswith("." + w.sid[:16]), "profile %s-audit is not the login's "
          "credential: %s" % (ALIASES[0], arns[ALIASES[0]]))
    print("   %d accounts' audit roles through one login, each as %s" % (len(arns), w.user.name))
    w.ok_session = True


def case_refused(w):
    check(w.out is not None, "no session ran")
    lines = re.findall(r"^REFUSED (.*)$", w.out, re.M)
    check(any("may not use profile %s-incident" % ALIASES[0] in ln for ln in lines),
          "the helper for a role the person may not use: %s" % lines)
    ev = [e for e in audit_lines(w.audit) if e["event"] == "profile.refused"]
    check(ev and ev[0]["user"] == w.user.name and ev[0].get("account") == ACCOUNTS[0],
          "audit: %s" % ev)


def case_step_up(w):
    check(w.out is not None, "no session ran")
    a = (re.search(r"^STEPUP (\S+)$", w.out, re.M) or [None, ""])[1]
    check(re.match(r"arn:aws:sts::%s:assumed-role/BreakGlassRole/%s@b1\." % (ACCOUNTS[0],
                                                                         w.user.name), a),
          "step-up profile: %s" % w.out[-1500:])
    again = (re.search(r"^AGAIN (\S+)$", w.out, re.M) or [None, ""])[1]
    check(again == a or again.startswith("arn:aws:sts::%s:assumed-role/BreakGlassRole/"
                                         % ACCOUNTS[0]), "second call asked again: %s" % again)
    prompts = [p for p in w.prompts if re.match(STEP_UP_PROMPT, p)]
    check(prompts == ["verification code for profile %s-breakglass: " % ACCOUNTS[0]] * 2,
          "step-up prompts: %s" % w.prompts)
    wrong = re.findall(r"^WRONG (.*)$", w.out, re.M)
    check(any("was not accepted" in ln for ln in wrong), "a wrong code: %s" % wrong)
    ev = [e["event"] for e in audit_lines(w.audit) if e["event"].startswith("stepup.")]
    check(ev == ["stepup.failed", "stepup.ok"], "audit: %s" % ev)


def deny_sids(w, account, role):
    return gwlib.deny_sids(w.revoker_iam(account), role, POLICY)


def case_logout(w):
    check(w.sid is not None, "no session ran")
    sid = sid_of(w.sid)

    def revoked_everywhere():
        ok = [e for e in audit_lines(w.audit) if e["event"] == "revoke.ok"]
        accounts = {e.get("account") for e in ok}
        return accounts if set(ACCOUNTS) <= accounts else None
    wait_for(revoked_everywhere, 300, "revoke.ok in every account")
    missing = [a for a in ACCOUNTS if sid not in deny_sids(w, a, "SecurityAuditRole")]
    check(not missing, "%d accounts' deny lacks the session's sid %s, e.g. %s"
          % (len(missing), sid, missing[:3]))
    check(sid in deny_sids(w, ACCOUNTS[0], "BreakGlassRole"), "breakglass not denied")
    check(deny_sids(w, ACCOUNTS[0], "IncidentResponseRole") == [],
          "a role never minted got a deny")
    print("   every account's deny names sid %s" % sid)


BROKEN_POLICY = "test-revoker-broken"


def case_revoke_one_fails(w):
    """A second login touches every account; before its logout one account's revoker loses
    iam:GetRolePolicy and iam:PutRolePolicy (an explicit Deny on StsRoleRevoker there).  At
    logout every other account gets its revoke.ok, naming its account, while the broken one
    has only revoke.failed/revoke.retry lines naming it; once the revoker is repaired, the
    gateway's own retry lands its revoke.ok and that account's deny names the session."""
    from sshdtest import ssh_login, totp
    check(w.sid is not None, "no session ran")
    check(N >= 3, "needs MULTI_ACCOUNTS >= 3")
    broken = ACCOUNTS[N // 2]
    others = set(ACCOUNTS) - {broken}
    iam = w.revoker_iam(broken)
    deny = {"Version": "2012-10-17",
            "Statement": [{"Effect": "Deny",
                           "Action": ["iam:GetRolePolicy", "iam:PutRolePolicy",
                                      "iam:ListRolePolicies"],
                           "Resource": "*"}]}
    iam.put_role_policy(RoleName="StsRoleRevoker", PolicyName=BROKEN_POLICY,
                        PolicyDocument=json.dumps(deny))
    repaired = False
    try:
        try:
            iam.get_role_policy(RoleName="SecurityAuditRole", PolicyName=POLICY)
            check(False, "account %s's revoker still reads role policies" % broken)
        except iam.exceptions.ClientError as e:
            check(e.response["Error"]["Code"] == "AccessDenied", "breaking %s: %s" % (broken, e))
        script = ("echo SID=$STSROLE_SESSION_ID; for a in %s; do "
                  "%s --socket %s --session $STSROLE_SESSION_ID --profile $a-audit >/dev/null "
                  "2>&1 && echo MINTED $a || echo MINTFAIL $a; done; echo DONE"
                  % (" ".join(ALIASES), w.helper, w.socket))
        code = totp(w.user.secret, at=max(int(time.time()) // 30, w.code_step + 1))
        r = ssh_login(w.ssh_cfg, "bastion", [code], script, ssh_args=["-tt"], timeout=600)
        out = r.out.replace("\r", "")
        t_logout = time.monotonic()
        m = re.search(r"SID=([0-9a-f]{32})", out)
        check(m is not None and "DONE" in out, "the second session: %s" % out[-2000:])
        session = m.group(1)
        minted = re.findall(r"^MINTED (\S+)$", out, re.M)
        check(sorted(minted) == sorted(ALIASES), "%d profiles minted, failed: %s" % (
            len(minted), re.findall(r"^MINTFAIL .*$", out, re.M)[:3]))

        def mine():
            return [e for e in audit_lines(w.audit) if session in (e.get("session_id"),
                                                                   e.get("parent"))]

        def others_revoked():
            ev = mine()
            ok = {e.get("account") for e in ev if e["event"] == "revoke.ok"}
            return ev if others <= ok else None
        ev = wait_for(others_revoked, 300, "revoke.ok in every account but %s" % broken)
        t_others = time.monotonic() - t_logout
        at_broken = [e for e in ev if e.get("account") == broken]
        check(not [e for e in at_broken if e["event"] == "revoke.ok"],
              "account %s revoked through a revoker that may not write: %s" % (broken, at_broken))
        fails = [e for e in at_broken if e["event"] in ("revoke.retry", "revoke.failed")]
        check(fails, "no revoke.retry/revoke.failed naming account %s: %s" % (broken, at_broken))
        # The others were not held up: each revoke.ok precedes the broken account's
        # third attempt (its back-off runs 1 s, 2 s, 4 s, ... up to 300 s, FAIL_AFTER 5).
        last_ok = max(i for i, e in enumerate(ev) if e["event"] == "revoke.ok")
        before = [e for e in ev[:last_ok] if e.get("account") == broken and
                  e["event"] in ("revoke.retry", "revoke.failed")]
        check(len(before) <= 2, "every other account waited for %d failed attempts in %s: %s"
              % (len(before), broken, [e.get("detail") for e in before]))
        retries = wait_for(lambda: [e for e in mine() if e.get("account") == broken and
                                    e["event"] == "revoke.retry"], 60,
                           "revoke.retry naming account %s" % broken)
        check(not [e for e in mine() if e.get("account") == broken and
                   e["event"] == "revoke.ok"], "account %s revoked while broken" % broken)
        iam.delete_role_policy(RoleName="StsRoleRevoker", PolicyName=BROKEN_POLICY)
        repaired = True
        t_repair = time.monotonic()
        ok = wait_for(lambda: [e for e in mine() if e.get("account") == broken and
                               e["event"] == "revoke.ok"], 330,
                      "revoke.ok in account %s after its revoker is repaired" % broken)
        t_fixed = time.monotonic() - t_repair
        sid = sid_of(session)
        check(sid in deny_sids(w, broken, "SecurityAuditRole"),
              "account %s's deny lacks the session's sid %s" % (broken, sid))
        missing = [a for a in others if sid not in deny_sids(w, a, "SecurityAuditRole")]
        check(not missing, "%d accounts' deny lacks sid %s, e.g. %s" % (len(missing), sid,
                                                                        missing[:3]))
        fails = [e for e in mine() if e.get("account") == broken and
                 e["event"] in ("revoke.retry", "revoke.failed")]
        print("   %d accounts revoked %.1f s after logout while %s failed (its failed attempts "
              "before the last of them: %d)" % (len(others), t_others, broken, len(before)))
        print("   %s: %s, then %d revoke.retry; e.g. %s" % (
            broken, fails[0]["event"], len([e for e in fails if e["event"] == "revoke.retry"]),
            retries[0].get("detail")))
        print("   %s repaired: revoke.ok %.1f s later (%s); its deny names sid %s" % (
            broken, t_fixed, ok[0].get("detail"), sid))
    finally:
        if not repaired:
            iam.delete_role_policy(RoleName="StsRoleRevoker", PolicyName=BROKEN_POLICY)


REFRESH_DURATION, REFRESH_MARGIN = 900, 897  # STS's shortest; a refresh 3 s after each mint


def case_profile_refresh(w):
    """A profile minted on demand is refreshed like the login's credential: refresh_margin before
    it expires the gateway assumes the role again, the helper hands out the new credential, and
    the logout revokes the refreshed one too (its revoke.ok, and the account's deny)."""
    import calendar
    import secrets
    import time
    from gwlib import close_session, write_session
    d = os.path.join(w.lab.root, "refresh")
    run = os.path.join(d, "run")
    os.makedirs(d, mode=0o755)
    audit = os.path.join(d, "audit.log")
    keys = {"state_dir": os.path.join(d, "state"), "audit_log": audit, "runtime_dir": run,
            "duration": str(REFRESH_DURATION), "refresh_margin": str(REFRESH_MARGIN)}
    lines, section = [], None
    for ln in open(w.conf).read().splitlines():
        if ln.startswith("["):
            if section == "[stsrole]":
                lines += ["%s = %s" % kv for kv in keys.items()]
            section = ln.strip()
        k = ln.split("=", 1)[0].strip()
        if section == "[stsrole]" and k in keys:
            continue
        lines.append(ln)
    conf = os.path.join(d, "stsrole.conf")
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    holder = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    gw = None
    try:
        gw = Gateway(conf, w.env, ["--skew", "0", "--reconcile", "1"],
                     log=os.path.join(d, "gatewayd.log")).start()
        # A login's record as pam_stsrole writes it, its sshd a process of ours.
        session = secrets.token_hex(16)
        now = int(time.time())
        rec = {"version": 1, "session_id": session, "user": w.user.name,
               "uid": w.user.uid, "rhost": "192.0.2.10", "tty": "pts/1",
               "sshd_pid": holder.pid, "role_name": "%s-audit" % ALIASES[0],
               "role_arn": "arn:aws:iam::%s:role/SecurityAuditRole" % ACCOUNTS[0],
               "assumed_role_id": "AROAFAKE0000000000001:%s@b1.%s" % (w.user.name, session[:16]),
               "session_name": "%s@b1.%s" % (w.user.name, session[:16]),
               "access_key_id": "ASIAFAKE000000000001", "expiration": now + REFRESH_DURATION,
               "source_identity": w.user.name, "aws_request_id": None, "opened": now,
               "closed": 0, "credentials_mode": "process", "sid": sid_of(session)}
        write_session(keys["state_dir"], rec)
        profile = "%s-audit" % ALIASES[1]

        def fetch():
            p = subprocess.run([w.helper, "--socket", os.path.join(run, "credentials.sock"),
                                "--session", session, "--profile", profile],
                               user=w.user.uid, group=w.user.gid, extra_groups=[],
                               env={"PATH": "/usr/bin:/bin", "HOME": "/"}, capture_output=True,
                               text=True, timeout=60)
            check(p.returncode == 0, "the helper for %s: %s" % (profile, p.stderr[-300:]))
            return json.loads(p.stdout)
        first = fetch()
        check(first["AccessKeyId"].startswith("ASIA"), "first credential: %s" % first)
        expires = calendar.timegm(time.strptime(first["Expiration"], "%Y-%m-%dT%H:%M:%SZ"))
        # Polls the helper (bounded) until the gateway serves a new credential.
        second = wait_for(lambda: (lambda c: c if c["AccessKeyId"] != first["AccessKeyId"]
                                   else None)(fetch()), 60, "a refreshed credential of %s" % profile)
        refreshed = [e for e in audit_lines(audit) if e["event"] == "refresh.ok" and
                     e.get("access_key_id") == second["AccessKeyId"]]
        check(len(refreshed) == 1 and "profile %s of session %s, refreshed" % (profile, session)
              in (refreshed[0].get("detail") or "") and refreshed[0].get("account") == ACCOUNTS[1],
              "the refresh's audit line: %s" % refreshed)
        at = calendar.timegm(time.strptime(refreshed[0]["ts"][:19], "%Y-%m-%dT%H:%M:%S"))
        check(at < expires, "refreshed at %d, after the first credential expired (%d)" %
              (at, expires))
        check(second["Expiration"] > first["Expiration"], "the new credential expires no later: "
              "%s, %s" % (first["Expiration"], second["Expiration"]))
        child = refreshed[0]["session_id"]
        close_session(keys["state_dir"], rec)
        wait_for(lambda: [e for e in audit_lines(audit)
                          if e["event"] == "revoke.ok" and e.get("session_id") == child], 60,
                 "revoke.ok of the refreshed credential")
        check(sid_of(session) in deny_sids(w, ACCOUNTS[1], "SecurityAuditRole"),
              "account %s's deny lacks the session's sid" % ACCOUNTS[1])
        minted = [e for e in audit_lines(audit) if e["event"] in ("profile.ok", "refresh.ok") and
                  e.get("account") == ACCOUNTS[1]]
        revoked = {e.get("session_id") for e in audit_lines(audit) if e["event"] == "revoke.ok"}
        left = [e["session_id"] for e in minted if e["session_id"] not in revoked]
        check(not left, "credentials of %s minted and not revoked: %s" % (profile, left))
        print("   %s refreshed %d s before the first credential's expiry; %d credentials of it, "
              "all revoked at logout" % (profile, expires - at, len(minted)))
        w.refreshed = {"conf": conf, "audit": audit, "session": session, "dir": d,
                       "credentials": [e for e in minted if e["event"] == "profile.ok"] +
                       refreshed}
    finally:
        if gw is not None:
            gw.stop()
        holder.kill()
        holder.wait()


def case_profile_reconcile(w):
    """stsrolectl reconcile over the refresh case's audit log and CloudTrail calls through the
    profile's first credential (profile.ok) and its refreshed one (refresh.ok): both are known
    credentials of the person's SSH session (no cloudtrail.only), both count as revoked at
    logout (their calls after the deny are refused, none allowed), and the report draws them
    in that session."""
    import calendar
    import time
    import trail
    check(getattr(w, "refreshed", None), "the refresh case did not run")
    r = w.refreshed
    lines = audit_lines(r["audit"])
    role = "arn:aws:iam::%s:role/SecurityAuditRole" % ACCOUNTS[1]
    root = os.path.join(r["dir"], "trail")

    def epoch(ts):
        return calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))
    names = []
    for cred in r["credentials"]:
        name = cred["session_name"]
        check(cred.get("role_arn") == role and name, "credential: %s" % cred)
        # the link is a member of its own, not only words in detail
        check(cred.get("parent") == r["session"], "%s names no parent: %s" % (cred["event"], cred))
        denied = [e for e in lines if e["event"] == "revoke.ok" and
                  e.get("session_id") == cred["session_id"]]
        check(denied and denied[0].get("parent") == r["session"],
              "no revoke.ok naming its parent for %s: %s" % (cred["session_id"], denied))
        trail.call(root, name, w.user.name, role, epoch(cred["ts"]))
        trail.call(root, name, w.user.name, role, epoch(denied[0]["ts"]) + 2, "AccessDenied")
        names.append(name)
    rc, fs, err = trail.reconcile(r["conf"], r["audit"], root)
    check(rc == 0, "reconcile exit %d: %s" % (rc, err[-800:]))
    unknown = [f for f in fs if f.get("finding") == "cloudtrail.only"]
    check(not unknown, "calls through the profile's credentials are unknown to reconcile: %s"
          % unknown)
    for name in names:
        used = [f for f in fs if f.get("finding") == "revoked.used" and
                f.get("session_name") == name]
        check(len(used) == 1 and used[0]["refused"] == 1 and used[0]["allowed"] == 0 and
              used[0]["severity"] == "info" and used[0].get("user") == w.user.name,
              "the deny of %s: %s" % (name, used or fs))
    rc, data, err = trail.report(r["conf"], r["audit"], root, os.path.join(r["dir"], "r.html"))
    check(rc == 0, "report exit %d: %s" % (rc, err[-800:]))
    mine = [s for s in data["sessions"] if set(names) & set(s.get("credentials", []))]
    check(len(mine) == 1 and mine[0].get("session_id") == r["session"] and
          set(names) <= set(mine[0]["credentials"]) and mine[0].get("user") == w.user.name and
          mine[0]["refused_after_deny"] >= len(names) and mine[0]["allowed_after_deny"] == 0,
          "the SSH session %s in the report: %s" % (r["session"], json.dumps(mine)[:2000]))
    print("   %d credentials of profile %s-audit linked to SSH session %s"
          % (len(names), ALIASES[1], r["session"]))


class World:
    pass


def main():
    suite = Suite("multi")
    why = gwlib.missing_for_sessions(AWS)
    if why:
        print("skipped: multi: %s" % why)
        print("multi: 0 passed, 0 failed")
        return 77
    from sshdtest import Lab, SetupError, stsrole_stack
    tmp = tempfile.mkdtemp(prefix="stsrole-multi.")
    w = World()
    w.out = w.sid = None
    gw = None
    try:
        with Moto(log=os.path.join(tmp, "moto.log")) as m, Lab("multi") as lab:
            menv = m.seed(roles=ROLES, accounts=ACCOUNTS)
            w.moto, w.lab, w.env = m, lab, base_env(menv)
            w.helper = os.path.join(build_dir(), "gateway", "stsrole-credential-process")
            w.ctl = os.path.join(build_dir(), "gateway", "stsrolectl")
            # The users reach the built helper and stsrolectl through the build tree.
            w.user = lab.add_user()
            other = lab.add_user()
            lab.write_usersfile([w.user, other])
            run = os.path.join(lab.root, "run")
            w.socket = os.path.join(run, "credentials.sock")
            w.audit = os.path.join(lab.root, "audit.log")
            w.accounts = os.path.join(lab.etc, "accounts")
            with open(w.accounts, "w") as f:
                f.write("# account alias\n" + "".join(
                    "%s %s\n" % (a, n) for a, n in zip(ACCOUNTS, ALIASES)))
            os.chmod(w.accounts, 0o644)
            w.conf = lab.stsrole_conf(menv, {}, "b1", totp_window=3,
                                      credentials_mode="process", runtime_dir=run,
                                      credential_helper=w.helper)
            with open(w.conf, "a") as f:
                f.write(templates(w.accounts, w.user.name, other.name))
            sts = m.client("sts", creds=menv["base"])

            def revoker_iam(account, cache={}):
                if account not in cache:
                    c = sts.assume_role(RoleArn="arn:aws:iam::%s:role/StsRoleRevoker" % account,
                                        RoleSessionName="test-checker")["Credentials"]
                    cache[account] = m.client("iam", creds=c)
                return cache[account]
            w.revoker_iam = revoker_iam
            suite.case("config: %d accounts in a file; a repeated alias refused with file:line"
                       % N, case_config, w)
            try:
                gw = Gateway(w.conf, w.env, ["--skew", "0", "--reconcile", "1"],
                             log=os.path.join(lab.root, "gatewayd.log")).start()
                exe = lab.pam_service("stsrole-multi-%d" % os.getpid(),
                                      stsrole_stack(os.path.join(build_dir(), "pam", ".libs",
                                                                 "pam_stsrole.so"), w.conf))
                sshd = lab.start_sshd(exe)
                w.ssh_cfg = lab.ssh_config({"bastion": (sshd, w.user)})
            except SetupError as e:
                raise AssertionError("sshd fixture: %s" % e)
            suite.case("stsrolectl status lists every template instance (account, alias, "
                       "profile, ARN)", case_status, w)
            suite.case("one sshd login: stsrolectl roles lists %d profiles; aws --profile "
                       "ALIAS-audit works in each of %d accounts as the person" % (N + 1, N),
                       case_session, w)
            suite.case("a role the person may not use is refused by the gateway (and audited)",
                       case_refused, w)
            suite.case("step_up = totp: the first use asks for a fresh code on the terminal, "
                       "the gateway refuses a wrong one and takes the right one; the next use "
                       "does not ask", case_step_up, w)
            suite.case("logout: every account's deny names the session's stsrole:sid; the "
                       "audit log names each account", case_logout, w)
            suite.case("logout with one account's revoker broken: every other account is "
                       "revoked without waiting for it, its failures are retried and audited "
                       "naming it, and after the repair its deny names the session",
                       case_revoke_one_fails, w)
            gw.stop()
            gw = None
            suite.case("a profile minted on demand is refreshed before it expires "
                       "(duration %d, refresh_margin %d), and the refreshed credential is revoked "
                       "at logout" % (REFRESH_DURATION, REFRESH_MARGIN), case_profile_refresh, w)
            suite.case("stsrolectl reconcile: a profile's credential and its refresh are the "
                       "person's SSH session's, and count as revoked at its logout",
                       case_profile_reconcile, w)
            if suite.failed:
                lab.keep = True
                print("kept gateway log: %s" % os.path.join(lab.root, "gatewayd.log"))
    finally:
        if gw is not None:
            gw.stop()
        if suite.failed or os.environ.get("MULTI_KEEP"):
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
