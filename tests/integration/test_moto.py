#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_moto.py: stsrolectl assume against moto with SigV4 and token checking on.

Every minted credential is then used by the AWS CLI, whose GetCallerIdentity
must return the assumed-role ARN with our session name.  Set
STSROLE_VALGRIND=1 to run stsrolectl under valgrind memcheck.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Suite, check  # noqa: E402
from mototest import Moto, base_env, write_config  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CTL = os.environ.get("STSROLECTL", os.path.join(TOP, "build", "gateway", "stsrolectl"))
VALGRIND = os.environ.get("STSROLE_VALGRIND") == "1"
AWS = "/usr/bin/aws" if os.path.exists("/usr/bin/aws") else "aws"


def run_ctl(args, env, timeout=120):
    cmd = [CTL] + args
    if VALGRIND:
        cmd = ["valgrind", "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
               "--error-exitcode=99", "--show-leak-kinds=definite"] + cmd
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if VALGRIND:
        check(p.returncode != 99, "valgrind found errors:\n" + p.stderr[-3000:])
    return p


def caller_arn(moto, creds):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
               AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
               AWS_SESSION_TOKEN=creds["SessionToken"],
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    p = subprocess.run([AWS, "sts", "get-caller-identity", "--endpoint-url", moto.url,
                        "--output", "json"], env=env, capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 0, "aws sts get-caller-identity failed: " + p.stderr.strip())
    return json.loads(p.stdout)["Arn"]


def main():
    suite = Suite("moto")
    tmp = tempfile.mkdtemp(prefix="stsrole-moto-")
    with Moto(log=os.path.join(tmp, "moto.log")) as moto:
        menv = moto.seed()
        env = base_env(menv)
        audit = menv["roles"]["SecurityAuditRole"]
        ir = menv["roles"]["IncidentResponseRole"]
        conf = write_config(os.path.join(tmp, "stsrole.conf"), menv, roles={
            "audit": {"arn": audit, "users": "alice"},
            "tagged": {"arn": ir, "users": "alice",
                       "tag.Team": "Security Ops",
                       "tag.Owner": "Zoë Ñandú 東京",
                       "tag.cost/center": "a+b=c:d@e-f_g.h"},
            "external": {"arn": audit, "users": "alice",
                         "external_id": "ext/id:with+plus=eq", "duration": "900"},
            "untrusted": {"arn": menv["roles"]["UntrustedRole"],
                          "users": "alice"},
        }, bastion_id="bastion-1")

        def assume_ok(role, user, role_arn):
            p = run_ctl(["assume", "--config", conf, "--role", role, "--user", user], env)
            check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr.strip()))
            out = json.loads(p.stdout)
            check(out["Version"] == 1, "Version is not 1")
            for k in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"):
                check(isinstance(out.get(k), str) and out[k], "missing " + k)
            check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", out["Expiration"]),
                  "Expiration not ISO-8601: " + out["Expiration"])
            exp = time.mktime(time.strptime(out["Expiration"], "%Y-%m-%dT%H:%M:%SZ"))
            check(exp - time.mktime(time.gmtime()) > 600, "Expiration is not in the future")
            check(out["SecretAccessKey"] not in p.stderr, "secret on stderr")
            arn = caller_arn(moto, out)
            name = role_arn.split("/")[-1]
            want = r"arn:aws:sts::222222222222:assumed-role/%s/%s@bastion-1\.[0-9a-f]{16}" % (
                re.escape(name), re.escape(user))
            check(re.fullmatch(want, arn), "caller is %s, expected %s" % (arn, want))
            return out

        for user in ["alice", "a.b-c@d", "x=y,z", "Bob_2+ops"]:
            suite.case("assume as %s" % user, assume_ok, "audit", user, audit)
        suite.case("session tags with spaces and non-ASCII", assume_ok, "tagged", "alice", ir)
        suite.case("ExternalId with /:+=", assume_ok, "external", "alice", audit)

        def unique_names():
            a = assume_ok("audit", "alice", audit)
            b = assume_ok("audit", "alice", audit)
            check(a["AccessKeyId"] != b["AccessKeyId"], "two mints gave the same key")
        suite.case("each mint is a new session", unique_names)

        def denied_role():
            p = run_ctl(["assume", "--config", conf, "--role", "untrusted", "--user", "alice"],
                        env)
            check(p.returncode in (77, 65), "exit %d, want 77/65: %s" % (p.returncode,
                                                                        p.stderr))
            check(p.stderr.startswith("stsrolectl: ") and p.stderr.count("\n") == 1,
                  "not one line: %r" % p.stderr)
        suite.case("a role that does not trust the bastion is denied", denied_role)

        def bad_secret():
            e = dict(env, AWS_SECRET_ACCESS_KEY="x" * 40)
            p = run_ctl(["assume", "--config", conf, "--role", "audit", "--user", "alice"], e)
            check(p.returncode == 77, "exit %d, want 77: %s" % (p.returncode, p.stderr))
            check("x" * 40 not in p.stderr + p.stdout, "secret printed")
        suite.case("a wrong base secret is a denial (signature checked)", bad_secret)

        def invalid_user():
            p = run_ctl(["assume", "--config", conf, "--role", "audit", "--user", "al ice"],
                        env)
            check(p.returncode == 65, "exit %d, want 65: %s" % (p.returncode, p.stderr))
            check("SourceIdentity" in p.stderr, "field not named: " + p.stderr)
        suite.case("a user name outside STS's set is refused locally", invalid_user)

        def file_credentials():
            path = os.path.join(tmp, "credentials")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write("[bastion]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (
                    menv["base"]["AccessKeyId"], menv["base"]["SecretAccessKey"]))
            c2 = write_config(os.path.join(tmp, "file.conf"), menv,
                              roles={"audit": {"arn": audit, "users": "alice"}},
                              bastion_id="bastion-1")
            text = open(c2).read().replace("credentials = env",
                                           "credentials = file:%s\ncredentials_profile = bastion"
                                           % path)
            open(c2, "w").write(text)
            e = {k: v for k, v in env.items() if not k.startswith("AWS_")}
            p = run_ctl(["assume", "--config", c2, "--role", "audit", "--user", "alice"], e)
            check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
            check(caller_arn(moto, json.loads(p.stdout)).startswith(
                "arn:aws:sts::222222222222:assumed-role/SecurityAuditRole/alice@"), "wrong ARN")
            os.chmod(path, 0o644)
            p = run_ctl(["assume", "--config", c2, "--role", "audit", "--user", "alice"], e)
            check(p.returncode == 78 and "chmod 600" in p.stderr,
                  "group-readable credentials file accepted: %d %s" % (p.returncode, p.stderr))
        suite.case("credentials = file:PATH, and its mode is checked", file_credentials)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
