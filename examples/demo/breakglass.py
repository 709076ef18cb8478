#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""breakglass.py: a two-person break-glass session, step by step (stsrole(1)).

Run through examples/demo/breakglass, which installs and builds first.  Carol asks for the
break-glass role from her SSH session with a reason; Dave approves from his own session; Carol's
AWS CLI then works with the role, and the AssumeRole carried the reason and the approver as
session tags; Carol logs out and the role's deny names her session.  Everything listens on
127.0.0.1 and everything created is removed at the end.  Exits non-zero if a step misbehaves.
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, HERE)
from harness import rmtree_unless_kept  # noqa: E402
from mototest import Moto  # noqa: E402
from sshdtest import Lab, missing_prerequisite, ssh_login, stsrole_stack, totp  # noqa: E402
import gwlib  # noqa: E402
from demo import (AWS_CLI, WORKLOAD_ROLES, DemoFailed, aws, expect, failed,  # noqa: E402
                  remove_stale_user, say, seed, step)

REQUESTER, APPROVER = "carol-bg", "dave-bg"
BASTION_ID = "demo-bastion"
REASON = "INC-4711 db down"


def ask(ctl, conf, *args):
    p = subprocess.run([ctl, "--config", conf] + list(args), capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout


def pending_request(ctl, conf):
    rc, out = ask(ctl, conf, "requests", "--json")
    if rc != 0:
        return None
    doc = json.loads(out)
    for r in doc.get("requests", []) if isinstance(doc, dict) else doc:
        if r.get("role") == "breakglass" and r.get("state") == "pending":
            return r
    return None


def assume_tags(capture):
    """The tags of the AssumeRole requests of BreakGlassRole that moto got."""
    found = []
    for name in sorted(os.listdir(capture)):
        with open(os.path.join(capture, name)) as f:
            for line in f:
                q = dict(urllib.parse.parse_qsl(json.loads(line).get("body") or ""))
                if q.get("Action") == "AssumeRole" and q.get("RoleArn", "").endswith(
                        "/BreakGlassRole"):
                    found.append({v: q.get(k[:-3] + "Value") for k, v in q.items()
                                  if k.startswith("Tags.member.") and k.endswith(".Key")})
    return found


def main(build):
    why = missing_prerequisite()
    if why:
        print("skipped: examples/demo/breakglass cannot run here: %s" % why)
        return 77
    stsrole = os.path.join(build, "gateway", "stsrole")
    if not os.path.exists(stsrole):
        print("skipped: examples/demo/breakglass: %s is not built" % stsrole)
        return 77
    ctl = os.path.join(build, "gateway", "stsrolectl")
    module = os.path.join(build, "pam", ".libs", "pam_stsrole.so")
    os.environ.update(STSROLE_BUILD=build)
    for name in (REQUESTER, APPROVER):
        remove_stale_user(name)
    tmp = tempfile.mkdtemp(prefix="stsrole-demo-bg.")
    # Every request to moto passes a recording proxy (tests/lib/mototest.py), so the demo can
    # show what the AssumeRole carried.
    capture = os.environ["STSROLE_CAPTURE"] = os.path.join(tmp, "capture")
    gw = None
    try:
        with Moto(log=os.path.join(tmp, "moto.log")) as moto, Lab("demobg") as lab:
            step(1, "AWS: moto, with the roles of examples/aws/iam/, BreakGlassRole among them")
            arns, base, auditor = seed(moto, WORKLOAD_ROLES + (
                ("BreakGlassRole", "break-glass-role-policy.json",
                 "break-glass-trust-policy.json"),))
            say("BreakGlassRole's trust policy wants stsrole:reason and stsrole:approvers tags "
                "(examples/aws/iam/break-glass-trust-policy.json; moto ignores conditions, "
                "tests/policy proves them with iam-simulate)")

            step(2, "The bastion: Carol may request breakglass, Dave approves; the gateway "
                    "serves credentials through credential_process")
            carol = lab.add_user(name=REQUESTER)
            dave = lab.add_user(name=APPROVER)
            for u in (carol, dave):
                open(os.path.join(u.home, ".stsrole-demo"), "w").close()
            lab.write_usersfile([carol, dave])
            notify_dir = os.path.join(lab.root, "notify")
            os.makedirs(notify_dir, mode=0o755)
            events = os.path.join(notify_dir, "events")
            notify = os.path.join(notify_dir, "tell-the-team")
            with open(notify, "w") as f:
                f.write("#!/bin/sh\n# a real one would page the on-call channel\n"
                        "cat >> %s\n" % events)
            os.chmod(notify, 0o755)
            conf = lab.stsrole_conf(
                {"region": "us-east-1", "url": moto.url,
                 "base": {"AccessKeyId": base["AccessKeyId"],
                          "SecretAccessKey": base["SecretAccessKey"]}},
                {"audit": {"arn": arns["SecurityAuditRole"],
                           "revoker_arn": arns["StsRoleRevoker"],
                           "users": "%s %s" % (REQUESTER, APPROVER)},
                 "breakglass": {"arn": arns["BreakGlassRole"],
                                "revoker_arn": arns["StsRoleRevoker"], "users": REQUESTER,
                                "reason_pattern": "^(INC|CHG)-[0-9]+", "approvals": 1,
                                "approvers": APPROVER, "approval_timeout": 600,
                                "max_duration": 900, "notify": notify}},
                BASTION_ID, duration=3600, refresh_margin=300, credentials_mode="process",
                runtime_dir=os.path.join(lab.root, "run"),
                credential_helper=os.path.join(build, "gateway", "stsrole-credential-process"))
            with open(os.path.join(lab.etc, "base-credentials"), "a") as f:
                f.write("aws_session_token = %s\n" % base["SessionToken"])
            with open(conf) as f:
                say("".join(line for line in f if line.startswith("[role breakglass]")
                            or (line.split(" = ")[0] in ("reason_pattern", "approvals",
                                                         "approvers", "approval_timeout",
                                                         "max_duration", "notify"))).strip())
            gw = gwlib.Gateway(conf, dict(os.environ),
                               log=os.path.join(tmp, "gatewayd.log")).start()
            exe = lab.pam_service("stsrole-demobg-%d" % os.getpid(), stsrole_stack(module, conf))
            sshd = lab.start_sshd(exe)
            cfg = lab.ssh_config({"carol": (sshd, carol), "dave": (sshd, dave)})
            say("gateway ready; sshd on 127.0.0.1:%d with pam_stsrole" % sshd.port)

            step(3, "Carol logs in (TOTP) and asks for the role, with a reason, and waits")
            aws_bg = "%s --endpoint-url %s --output json --profile breakglass" % (AWS_CLI,
                                                                                 moto.url)
            script = ("umask 077; echo SID=$STSROLE_SESSION_ID; "
                      "echo '$ stsrole request breakglass --reason \"%(r)s\" --wait'; "
                      "%(s)s request breakglass --reason '%(r)s' --wait; echo \"(exit $?)\"; "
                      "echo '$ aws --profile breakglass sts get-caller-identity'; "
                      "%(a)s sts get-caller-identity; "
                      "%(cli)s configure export-credentials --profile breakglass "
                      "--format process > ~/.bg-creds; true"
                      % {"s": stsrole, "r": REASON, "a": aws_bg, "cli": AWS_CLI})
            box = {}

            def carol_session():
                try:
                    box["login"] = ssh_login(cfg, "carol", [totp(carol.secret)], script,
                                             timeout=300)
                except Exception as e:  # noqa: BLE001 - shown below
                    box["error"] = e
            t = threading.Thread(target=carol_session)
            t.start()
            try:
                req = gwlib.wait_for(lambda: pending_request(ctl, conf), 120,
                                     "Carol's request")
                rc, listing = ask(ctl, conf, "requests")
                say("root's view, stsrolectl requests:\n" + listing.strip())
                expect(req["requester"] == REQUESTER and req["reason"] == REASON,
                       "a pending request %s by %s: \"%s\"" % (req["id"], REQUESTER, REASON))

                step(4, "Dave, in his own MFA-verified session, sees it and approves it")
                login = ssh_login(cfg, "dave", [totp(dave.secret)],
                                  "echo '$ stsrole requests'; %(s)s requests; "
                                  "echo '$ stsrole approve %(id)s'; %(s)s approve %(id)s; "
                                  "echo \"(exit $?)\"" % {"s": stsrole, "id": req["id"]})
                say(login.out.replace("\r", "").strip())
                expect("[you may approve]" in login.out, "Dave's stsrole requests marks it as "
                       "one he may approve")
                expect("(exit 0)" in login.out, "Dave's stsrole approve exits 0")
            finally:
                t.join(360)
            if "error" in box:
                raise DemoFailed("Carol's session: %s" % box["error"])
            out = box["login"].out.replace("\r", "")

            step(5, "Carol's session goes on: the AWS CLI works with the approved role")
            say(out.strip())
            sid = out.split("SID=", 1)[1].split()[0] if "SID=" in out else ""
            expect("breakglass: approved" in out and "(exit 0)" in out,
                   "stsrole request --wait returned once Dave approved (exit 0)")
            expect("assumed-role/BreakGlassRole/%s@%s." % (REQUESTER, BASTION_ID) in out,
                   "aws --profile breakglass is assumed-role/BreakGlassRole/%s@%s.<nonce>"
                   % (REQUESTER, BASTION_ID))
            tags = assume_tags(capture)
            expect(len(tags) == 1 and tags[0].get("stsrole:reason") == REASON
                   and tags[0].get("stsrole:approvers") == APPROVER,
                   "the AssumeRole carried stsrole:reason=\"%s\" and stsrole:approvers=%s"
                   % (REASON, APPROVER))
            say("its session tags: %s" % json.dumps(tags[0] if tags else {}))
            with open(events) as f:
                lines = [json.loads(ln) for ln in f]
            say("the team was told (notify): %s" % ", ".join(e["event"] for e in lines))

            step(6, "Carol logs out: the gateway revokes the break-glass credential too")
            audit = os.path.join(lab.root, "audit.log")
            # the gateway follows the break-glass credential as a session of its own, which
            # ends with Carol's SSH session
            ok = [r for r in gwlib.audit_lines(audit) if r.get("event") == "breakglass.ok"]
            expect(len(ok) == 1, "breakglass.ok in the audit log: credential %s"
                   % (ok[0].get("session_name") if ok else "-"))
            bg_session = ok[0]["session_id"]
            gwlib.wait_for(lambda: [r for r in gwlib.audit_lines(audit)
                                    if r.get("event") == "revoke.ok"
                                    and r.get("session_id") == bg_session
                                    and r.get("role_arn") == arns["BreakGlassRole"]],
                           60, "revoke.ok on BreakGlassRole")
            for r in gwlib.audit_lines(audit):
                if r["event"].startswith("breakglass.") or r.get("session_id") in (sid,
                                                                                  bg_session):
                    say("%(seq)3s %(event)-18s" % r + " %-18s" % (r.get("role_arn") or "").split(
                        "/")[-1] + " ".join("%s=%s" % (k, r[k]) for k in (
                            "user", "by", "reason", "approvers", "outcome") if r.get(k)))
            iam = moto.client("iam", creds={"AccessKeyId": auditor["AccessKeyId"],
                                            "SecretAccessKey": auditor["SecretAccessKey"]})
            sids = gwlib.deny_sids(iam, "BreakGlassRole", "stsrole-revoked-%s" % BASTION_ID)
            expect(gwlib.sid_of(sid) in sids, "BreakGlassRole's deny names Carol's session "
                   "(stsrole:sid %s)" % gwlib.sid_of(sid))
            with open(os.path.join(carol.home, ".bg-creds")) as f:
                creds = json.load(f)
            r = aws(moto, {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
                           "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                           "AWS_SESSION_TOKEN": creds["SessionToken"]},
                    "iam", "list-roles")
            expect(r.returncode != 0 and "AccessDenied" in (r.stderr + r.stdout),
                   "the break-glass credential, used after logout: AccessDenied")
            rc, so = ask(ctl, conf, "audit", "verify")
            expect(rc == 0, "stsrolectl audit verify: %s" % so.strip())
            gw.stop()
            gw = None
        print("\n\033[1mdemo: every step behaved as shown\033[0m")
        return 0
    except DemoFailed as e:
        return failed(tmp, e)
    finally:
        if gw is not None:
            gw.kill9()
        rmtree_unless_kept(tmp)


if __name__ == "__main__":
    sys.exit(main(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                                  os.path.join(TOP, "build"))))
