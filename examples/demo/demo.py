#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""demo.py: the stsrole flow, step by step, each step saying what it shows.

Run through examples/demo/run, which installs and builds first.  Everything it
starts listens on 127.0.0.1 only, and everything it creates (a user, a PAM
service, sshd, the gateway, moto, a temporary directory) is removed at the end,
so it can be run again and again.  Exits non-zero if a step misbehaves.
"""
import json
import os
import subprocess
import sys
import tempfile

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from harness import rmtree_unless_kept  # noqa: E402
from mototest import Moto  # noqa: E402
from sshdtest import Lab, missing_prerequisite, ssh_login, stsrole_stack, totp  # noqa: E402
import gwlib  # noqa: E402

SECURITY, WORKLOAD = "111111111111", "222222222222"
AWS_IAM = os.path.join(TOP, "examples", "aws", "iam")
USER = "alice-demo"
BASTION_ID = "demo-bastion"
AWS_CLI = "/usr/bin/aws"  # Debian's AWS CLI v2: the login user cannot reach root's pip tools


class DemoFailed(Exception):
    pass


def step(n, title):
    print("\n\033[1m[%d] %s\033[0m" % (n, title), flush=True)


def say(text):
    print("    " + text.replace("\n", "\n    "), flush=True)


def expect(cond, what):
    if not cond:
        raise DemoFailed(what)
    say("✓ " + what)


def policy(name):
    with open(os.path.join(AWS_IAM, name)) as f:
        return f.read()


# The workload roles: name, permissions and trust policy, from examples/aws/iam/.
WORKLOAD_ROLES = (
    ("SecurityAuditRole", "security-audit-role-policy.json", "workload-trust-policy.json"),
    ("StsRoleRevoker", "revoker-policy.json", "revoker-trust-policy.json"))


def seed(moto, roles=WORKLOAD_ROLES):
    """The AWS side, from examples/aws/: the bastion's role in the security account, and the
    workload roles (trust policy, permissions, boundary, revoker) in the workload account."""
    iam_sec = moto.client("iam", SECURITY)
    # EC2 would hand the bastion its instance-profile credentials; here an IAM user
    # assumes that role once and the result becomes the bastion's base credential.
    iam_sec.create_user(UserName="ec2-standin")
    iam_sec.put_user_policy(UserName="ec2-standin", PolicyName="assume-bastion-role",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                                {"Effect": "Allow", "Action": "sts:AssumeRole",
                                 "Resource": "arn:aws:iam::%s:role/stsrole-bastion" % SECURITY}]}))
    standin = iam_sec.create_access_key(UserName="ec2-standin")["AccessKey"]
    iam_sec.create_role(RoleName="stsrole-bastion", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": "arn:aws:iam::%s:user/ec2-standin" % SECURITY}}]}))
    iam_sec.put_role_policy(RoleName="stsrole-bastion", PolicyName="broker",
                            PolicyDocument=policy("bastion-broker-policy.json"))

    iam = moto.client("iam", WORKLOAD)
    boundary = iam.create_policy(PolicyName="stsrole-boundary", Path="/stsrole/",
                                 PolicyDocument=policy("permissions-boundary.json"))
    arns = {}
    for role, perms, trust in roles:
        r = iam.create_role(RoleName=role, Path="/stsrole/", AssumeRolePolicyDocument=policy(trust),
                            PermissionsBoundary=boundary["Policy"]["Arn"])
        iam.put_role_policy(RoleName=role, PolicyName="permissions", PolicyDocument=policy(perms))
        arns[role] = r["Role"]["Arn"]
    # An auditor with read access to IAM, to show the revocation policy afterwards.
    iam.create_user(UserName="auditor")
    iam.put_user_policy(UserName="auditor", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
                                                "Action": ["iam:Get*", "iam:List*"]}]}))
    auditor = iam.create_access_key(UserName="auditor")["AccessKey"]
    moto.enable_auth()

    sts = moto.client("sts", creds=standin)
    base = sts.assume_role(RoleArn="arn:aws:iam::%s:role/stsrole-bastion" % SECURITY,
                           RoleSessionName="i-0123456789abcdef0")["Credentials"]
    return arns, base, auditor


def aws(moto, creds, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=creds["AWS_ACCESS_KEY_ID"],
               AWS_SECRET_ACCESS_KEY=creds["AWS_SECRET_ACCESS_KEY"],
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    if creds.get("AWS_SESSION_TOKEN"):
        env["AWS_SESSION_TOKEN"] = creds["AWS_SESSION_TOKEN"]
    return subprocess.run([AWS_CLI, "--endpoint-url", moto.url, "--output", "json"] + list(args),
                          env=env, capture_output=True, text=True, timeout=120)


def failed(tmp, e):
    """Says which step failed, with the tail of the gateway's log; returns the exit status."""
    print("\ndemo FAILED: %s" % e)
    log = os.path.join(tmp, "gatewayd.log")
    if os.path.exists(log):
        print("--- gatewayd log (tail)")
        print("".join(open(log).readlines()[-30:]))
    return 1


def remove_stale_user(name=USER):
    """A demo interrupted by kill -9 leaves its user behind; remove it first."""
    home = "/home/%s" % name
    if subprocess.run(["id", name], capture_output=True).returncode == 0:
        if os.path.exists(os.path.join(home, ".stsrole-demo")):
            subprocess.run(["userdel", "-r", "-f", name], capture_output=True)
        else:
            raise DemoFailed("a user %s exists and was not made by this demo" % name)


def main(build):
    why = missing_prerequisite()
    if why:
        print("skipped: examples/demo/run cannot run here: %s" % why)
        return 77
    module = os.path.join(build, "pam", ".libs", "pam_stsrole.so")
    gwlib_env = dict(os.environ, STSROLE_BUILD=build)
    os.environ.update(STSROLE_BUILD=build)
    remove_stale_user()
    tmp = tempfile.mkdtemp(prefix="stsrole-demo.")
    gw = None
    try:
        with Moto(log=os.path.join(tmp, "moto.log")) as moto, Lab("demo") as lab:
            step(1, "AWS: moto on %s, with auth on, stands in for two accounts" % moto.url)
            arns, base, auditor = seed(moto)
            say("security account %s: role stsrole-bastion (the bastion's instance profile)\n"
                "workload account %s: %s\n"
                "                            %s (may only edit the stsrole-revoked-* policy)"
                % (SECURITY, WORKLOAD, arns["SecurityAuditRole"], arns["StsRoleRevoker"]))
            say("trust policy: only the bastion role, with a SourceIdentity and stsrole:mfa=totp "
                "(examples/aws/iam/workload-trust-policy.json)")

            step(2, "The bastion: a demo user with a TOTP secret, stsrole.conf, the gateway, "
                    "and sshd with pam_stsrole")
            user = lab.add_user(name=USER)
            open(os.path.join(user.home, ".stsrole-demo"), "w").close()
            lab.write_usersfile([user])
            creds_file = os.path.join(lab.etc, "base-credentials")
            conf = lab.stsrole_conf(
                {"region": "us-east-1", "url": moto.url,
                 "base": {"AccessKeyId": base["AccessKeyId"],
                          "SecretAccessKey": base["SecretAccessKey"]}},
                {"audit": {"arn": arns["SecurityAuditRole"],
                           "revoker_arn": arns["StsRoleRevoker"], "users": USER}},
                BASTION_ID, duration=900)
            with open(creds_file, "a") as f:
                f.write("aws_session_token = %s\n" % base["SessionToken"])
            say("user %s, TOTP secret in %s (root, 0600, pam_oath's format)"
                % (USER, lab.usersfile))
            say("base credential: the bastion role's session, in %s (file: provider)"
                % creds_file)
            gw = gwlib.Gateway(conf, gwlib_env, log=os.path.join(tmp, "gatewayd.log")).start()
            say("stsrole-gatewayd --config %s: ready (sd_notify READY=1)" % conf)
            exe = lab.pam_service("stsrole-demo-%d" % os.getpid(), stsrole_stack(module, conf))
            sshd = lab.start_sshd(exe)
            say("sshd on 127.0.0.1:%d, AuthenticationMethods publickey,keyboard-interactive:pam"
                % sshd.port)
            cfg = lab.ssh_config({"bastion": (sshd, user)})

            step(3, "Log in over ssh: publickey, then the TOTP code from oathtool")
            code = totp(user.secret)
            script = ("set -u; umask 077; env | grep -E '^(AWS_|STSROLE_)' > ~/.demo-env; "
                      "E='--endpoint-url %s --output json'; "
                      "echo '$ aws sts get-caller-identity'; %s $E sts get-caller-identity; "
                      "echo '$ aws ec2 describe-instances'; "
                      "%s $E ec2 describe-instances >/dev/null && echo 'allowed'; "
                      "echo '$ aws iam create-user --user-name mallory'; "
                      "%s $E iam create-user --user-name mallory 2>&1 | tail -1; true"
                      % (moto.url, AWS_CLI, AWS_CLI, AWS_CLI))
            login = ssh_login(cfg, "bastion", [code], script)
            say("Verification code: %s" % code)
            expect(login.status == 0, "the login succeeded (exit %s)" % login.status)
            out = login.out.replace("\r", "")
            say(out.strip())
            with open(os.path.join(user.home, ".demo-env")) as f:
                session_env = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
            sid = session_env.get("STSROLE_SESSION_ID", "")
            arn_re = "arn:aws:sts::%s:assumed-role/SecurityAuditRole/%s@%s." % (
                WORKLOAD, USER, BASTION_ID)
            expect(arn_re in out, "inside the session, aws sts get-caller-identity is "
                                  "assumed-role/SecurityAuditRole/%s@%s.<nonce>"
                   % (USER, BASTION_ID))
            expect("allowed" in out, "aws ec2 describe-instances is allowed (read-only role)")
            expect("AccessDenied" in out, "aws iam create-user is denied (explicit Deny)")
            say("the session's key id: %s (the secret stays in the session)"
                % session_env.get("AWS_ACCESS_KEY_ID"))

            step(4, "Logout: pam_stsrole closed the session record; the gateway revokes")
            done = gwlib.wait_for(lambda: [r for r in gwlib.audit_lines(lab.root + "/audit.log")
                                           if r.get("session_id") == sid
                                           and r.get("event") in ("revoke.ok", "revoke.failed")],
                                  timeout=60, what="revoke.ok for the session")
            records = [r for r in gwlib.audit_lines(lab.root + "/audit.log")
                       if r.get("session_id") in (sid, None, "")]
            for r in records:
                say("%(seq)s %(ts)s %(event)-14s" % r + "  " + " ".join(
                    "%s=%s" % (k, r[k]) for k in ("user", "session_name", "access_key_id",
                                                  "outcome") if r.get(k)))
            expect(done[-1]["event"] == "revoke.ok", "the audit log says revoke.ok")
            pol = aws(moto, {"AWS_ACCESS_KEY_ID": auditor["AccessKeyId"],
                             "AWS_SECRET_ACCESS_KEY": auditor["SecretAccessKey"]},
                      "iam", "get-role-policy", "--role-name", "SecurityAuditRole",
                      "--policy-name", "stsrole-revoked-%s" % BASTION_ID)
            expect(pol.returncode == 0, "the role carries stsrole-revoked-%s" % BASTION_ID)
            doc = json.loads(pol.stdout)["PolicyDocument"]
            if isinstance(doc, str):
                doc = json.loads(doc)
            say(json.dumps(doc, indent=2))
            # Every credential of the session carries its stsrole:sid tag, made from the
            # session id (STSROLE_SESSION_ID): the Deny names that.
            tag = gwlib.sid_of(sid)
            expect(tag in json.dumps(doc), "the Deny names this session's stsrole:sid, %s" % tag)

            step(5, "The old credentials, used after logout, are refused")
            r = aws(moto, session_env, "ec2", "describe-instances")
            expect(r.returncode != 0 and "AccessDenied" in (r.stderr + r.stdout),
                   "aws ec2 describe-instances with the session's keys: AccessDenied")
            say(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.stdout.strip())

            step(6, "stsrolectl audit verify: the hash chain holds")
            rc, so, se = gwlib.ctl(conf, "audit", "verify")
            say((so + se).strip())
            expect(rc == 0, "audit verify exits 0")

            step(7, "Stop everything")
            gw.stop()
            gw = None
            say("gateway stopped (SIGTERM); sshd, moto, the user and the PAM service go next")
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
