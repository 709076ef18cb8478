# SPDX-License-Identifier: BSD-3-Clause
"""mototest.py: start moto_server on 127.0.0.1, seed a bastion and a workload account, turn auth on.

Used by the moto suites, the PAM and gateway tests and the demo:

    from mototest import Moto
    with Moto() as m:
        env = m.seed()
        # m.url, env["base"] (bastion IAM user keys), env["roles"][NAME] (ARNs)

Seeding happens with auth off (moto takes the account from the
x-moto-account-id header); then POST /moto-api/reset-auth with body 0 turns
SigV4, token and policy checking on for every later request.
"""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

from harness import free_port

SECURITY_ACCOUNT = "111111111111"
WORKLOAD_ACCOUNT = "222222222222"
BASTION_USER = "bastion"
REGION = "us-east-1"

# Conditions are ignored by moto, so these only need the actions each
# test exercises.  examples/aws/ holds the real, condition-bearing policies,
# which iam-simulate proves.
DEFAULT_ROLES = {
    "SecurityAuditRole": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow",
             "Action": ["ec2:Describe*", "iam:Get*", "iam:List*", "sts:GetCallerIdentity"],
             "Resource": "*"},
        ],
    },
    "IncidentResponseRole": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow",
             "Action": ["ec2:Describe*", "ec2:CreateTags", "ec2:StopInstances",
                        "sts:GetCallerIdentity"],
             "Resource": "*"},
        ],
    },
    "StsRoleRevoker": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow",
             "Action": ["iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                        "iam:ListRolePolicies"],
             "Resource": "*"},
        ],
    },
}


class Moto:
    """A moto_server process bound to 127.0.0.1 on a free port."""

    def __init__(self, services_env=None, log=None):
        self.port = None
        self.url = None
        self.proc = None
        self.log = log
        self.env = None
        self._tmp = None

    def start(self, tries=3):
        exe = shutil.which("moto_server")
        if exe is None:
            raise RuntimeError("moto_server not found on PATH")
        env = dict(os.environ)
        # Auth stays off while seeding; reset-auth turns it on afterwards.
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "1000000"
        env.pop("AWS_ACCESS_KEY_ID", None)
        env.pop("AWS_SECRET_ACCESS_KEY", None)
        env.pop("AWS_SESSION_TOKEN", None)
        for _ in range(tries):
            self.port = free_port()
            self.url = "http://127.0.0.1:%d" % self.port
            out = open(self.log, "ab") if self.log else subprocess.DEVNULL
            self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)],
                                         stdout=out, stderr=subprocess.STDOUT, env=env)
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError("moto_server did not start")

    def _wait_ready(self, deadline_s=30.0):
        # Poll the health endpoint: bounded, and stops as soon as it answers.
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/moto-api/data.json", timeout=1) as r:
                    if r.status == 200:
                        return True
            except OSError:
                time.sleep(0.1)
        return False

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def __enter__(self):
        self.start()
        self._capture()
        return self

    def __exit__(self, *exc):
        if getattr(self, "_recorder", None) is not None:
            self._recorder.stdin.close()
            self._recorder.wait(10)
            self._recorder = None
            self.url = self.backend_url
        self.stop()

    def _capture(self):
        """With STSROLE_CAPTURE=DIR, every request to moto passes through the stub's recording
        proxy (tests/stub/stsstub.py --forward), which logs it in DIR for tests/model."""
        cap = os.environ.get("STSROLE_CAPTURE")
        self.backend_url = self.url
        self._recorder = None
        if not cap:
            return
        os.makedirs(cap, exist_ok=True)
        stub = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "stub", "stsstub.py")
        log = os.path.join(cap, "capture-%d-%d.jsonl" % (os.getpid(), self.port))
        self._recorder = subprocess.Popen(
            [sys.executable, stub, "--port", "0", "--forward", self.url, "--log", log,
             "--exit-on-stdin-eof"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self._recorder.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            raise RuntimeError("the recording proxy did not start")
        self.url = "http://127.0.0.1:%s" % line[1]

    # -- seeding ---------------------------------------------------------
    def client(self, service, account=None, creds=None):
        import boto3
        kw = {}
        if creds:
            kw = dict(aws_access_key_id=creds["AccessKeyId"],
                      aws_secret_access_key=creds["SecretAccessKey"],
                      aws_session_token=creds.get("SessionToken"))
        else:
            kw = dict(aws_access_key_id="AKIASEEDSEEDSEEDSEED",
                      aws_secret_access_key="seed")
        c = boto3.client(service, region_name=REGION, endpoint_url=self.url, **kw)
        if account:
            def add_header(request, **_):
                request.headers["x-moto-account-id"] = account
            c.meta.events.register("before-send.*.*", add_header)
        return c

    def seed(self, roles=None, trust_extra=None, users=None, accounts=()):
        """Creates the bastion user (security account) and the workload roles (in the workload
        account and in each of accounts too, as a StackSet would).

        Returns {"base": {AccessKeyId, SecretAccessKey}, "roles": {name: arn},
        "bastion_arn": ..., "security_account": ..., "workload_account": ...}.
        """
        roles = roles or DEFAULT_ROLES
        iam_sec = self.client("iam", SECURITY_ACCOUNT)
        iam_sec.create_user(UserName=BASTION_USER)
        iam_sec.put_user_policy(
            UserName=BASTION_USER, PolicyName="assume-workload",
            PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow",
                               "Action": ["sts:AssumeRole", "sts:TagSession",
                                          "sts:SetSourceIdentity", "sts:GetCallerIdentity"],
                               "Resource": "*"}]}))
        key = iam_sec.create_access_key(UserName=BASTION_USER)["AccessKey"]
        bastion_arn = "arn:aws:iam::%s:user/%s" % (SECURITY_ACCOUNT, BASTION_USER)
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": bastion_arn},
                           "Action": ["sts:AssumeRole", "sts:TagSession",
                                      "sts:SetSourceIdentity"]}],
        }
        iam_wl = self.client("iam", WORKLOAD_ACCOUNT)
        arns = {}
        for name, doc in roles.items():
            r = iam_wl.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                                   MaxSessionDuration=43200)
            iam_wl.put_role_policy(RoleName=name, PolicyName="permissions",
                                   PolicyDocument=json.dumps(doc))
            arns[name] = r["Role"]["Arn"]
        for account in accounts:
            iam_acc = self.client("iam", account)
            for name, doc in roles.items():
                iam_acc.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                                    MaxSessionDuration=43200)
                iam_acc.put_role_policy(RoleName=name, PolicyName="permissions",
                                        PolicyDocument=json.dumps(doc))
        # A role whose trust policy names someone else: AssumeRole from the
        # bastion must be denied.  moto checks trust only for roles in the
        # caller's own account, so this one lives in the security account.
        other = dict(trust, Statement=[dict(trust["Statement"][0], Principal={
            "AWS": "arn:aws:iam::333333333333:user/someone-else"})])
        r = iam_sec.create_role(RoleName="UntrustedRole",
                               AssumeRolePolicyDocument=json.dumps(other))
        arns["UntrustedRole"] = r["Role"]["Arn"]
        self.enable_auth()
        self.env = {
            "base": {"AccessKeyId": key["AccessKeyId"],
                     "SecretAccessKey": key["SecretAccessKey"]},
            "roles": arns,
            "bastion_arn": bastion_arn,
            "security_account": SECURITY_ACCOUNT,
            "workload_account": WORKLOAD_ACCOUNT,
            "url": self.url,
            "region": REGION,
        }
        return self.env

    def enable_auth(self):
        req = urllib.request.Request(self.url + "/moto-api/reset-auth", data=b"0",
                                     headers={"Content-Type": "text/plain"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status != 200:
                raise RuntimeError("reset-auth failed: %d" % r.status)


def write_config(path, moto_env, roles=None, **keys):
    """Writes a root-owned 0600 stsrole.conf pointing at moto; returns path."""
    lines = ["[stsrole]",
             "region = %s" % moto_env["region"],
             "sts_endpoint = %s" % moto_env["url"],
             "iam_endpoint = %s" % moto_env["url"],
             "credentials = env"]
    # stsrolectl assume records what it mints in the audit log: one beside the config.
    keys.setdefault("audit_log", path + ".audit.log")
    for k, v in keys.items():
        lines.append("%s = %s" % (k, v))
    for name, spec in (roles or {}).items():
        lines.append("")
        lines.append("[role %s]" % name)
        for k, v in spec.items():
            lines.append("%s = %s" % (k, v))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path


def base_env(moto_env):
    """The process environment for a bastion using env credentials."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["AWS_ACCESS_KEY_ID"] = moto_env["base"]["AccessKeyId"]
    env["AWS_SECRET_ACCESS_KEY"] = moto_env["base"]["SecretAccessKey"]
    return env


if __name__ == "__main__":
    with Moto() as m:
        e = m.seed()
        print(json.dumps(e, indent=2))
        sts = m.client("sts", creds=e["base"])
        print(sts.get_caller_identity()["Arn"])
        r = sts.assume_role(RoleArn=e["roles"]["SecurityAuditRole"], RoleSessionName="x@y.z",
                            SourceIdentity="alice")
        c = m.client("sts", creds=r["Credentials"])
        print(c.get_caller_identity()["Arn"])
        try:
            m.client("iam", creds=r["Credentials"]).create_user(UserName="evil")
            print("create_user: allowed?!")
        except Exception as ex:
            print("create_user:", type(ex).__name__, str(ex)[:80])
