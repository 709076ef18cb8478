#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_longsess.py: credentials_mode = process against moto: refresh, serve, stop at logout.

What a user would notice: the session's environment and AWS config file, the AWS CLI (v2,
/usr/bin/aws) and boto3 working through several refreshes, AccessDenied for every credential the
session ever had once it logged out, a second uid refused, and a killed gateway extending no
one's access.  Sessions are opened with pam_stsrole itself (tests/longsess/sessdrive.c holds the
PAM session open, as sshd's monitor does), and once through a real sshd (tests/lib/sshdtest.py).

Refreshes are made fast with configuration, not with a fake clock: moto returns credentials for
DurationSeconds (900), and refresh_margin = 897 makes the gateway assume the role again 3 s after
each credential was issued.  Nothing sleeps to synchronise: every wait polls a condition with a
deadline.  One line per case, then "longsess: N passed, N failed".

Environment: STSROLE_BUILD (the build directory), SESSDRIVE (the built driver), STSROLE_GATEWAYD,
STSROLE_KEEP_TMP=1 keeps the temporary directory (a failed run keeps it too).
"""
import json
import os
import pwd
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from harness import Skip, Suite, check, rmtree_unless_kept  # noqa: E402
from mototest import DEFAULT_ROLES, Moto, base_env, write_config  # noqa: E402
from gwlib import (Gateway, audit_lines, build_dir, ctl, gatewayd_path, sid_of,  # noqa: E402
                   wait_for, write_session)

AWS = "/usr/bin/aws"
SYS_PYTHON = "/usr/bin/python3"  # Debian's, with python3-boto3: a user cannot run root's pyenv
DURATION = 900
MARGIN = 897  # a refresh every 3 seconds
ALLOW = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow",
                        "Action": ["iam:Get*", "iam:List*", "sts:GetCallerIdentity"],
                        "Resource": "*"}]}
ROLES = dict(DEFAULT_ROLES, LongRole=ALLOW, KillRole=ALLOW, RevokeRole=ALLOW, SshRole=ALLOW)
POLICY = "stsrole-revoked-b1"

BOTO_LOOP = r"""
import json, sys, time
import boto3
url, role, want, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
# One session and one client for the whole run, as a long-running program has: botocore
# asks credential_process again when the credential it holds nears expiry.
s = boto3.session.Session()
sts = s.client("sts", endpoint_url=url)
iam = s.client("iam", endpoint_url=url)
arns, calls, end = [], 0, time.monotonic() + limit
while time.monotonic() < end and len(arns) < want:
    arn = sts.get_caller_identity()["Arn"]
    iam.get_role(RoleName=role)
    calls += 1
    if arn not in arns:
        arns.append(arn)
print(json.dumps({"arns": arns, "calls": calls,
                  "method": s.get_credentials().method}))
"""


def run_as(user, argv, env, timeout=60, stdin=None):
    """argv as user (setpriv: uid, gid, no supplementary groups), with exactly env."""
    return subprocess.run(["setpriv", "--reuid=%d" % user.pw_uid, "--regid=%d" % user.pw_gid,
                           "--clear-groups", "--"] + argv, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


class Login:
    """One PAM session held open by sessdrive: open at start, close() logs out."""

    def __init__(self, w, user):
        self.w = w
        self.user = user
        # sessdrive stands in for pam_stsrole's auth (the ticket in w.state).
        self.proc = subprocess.Popen([w.sessdrive, w.confdir, w.service, user.pw_name, w.state],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=w.pam_env)
        self._buf = ""
        self.lines = self._read_until("ready", 30)
        self.env = dict(ln[4:].split("=", 1) for ln in self.lines if ln.startswith("env "))
        opened = [ln for ln in self.lines if ln.startswith("open rc=")]
        check(opened == ["open rc=0"], "open_session failed: %s" % self.lines)
        self.sid = self.env.get("STSROLE_SESSION_ID", "")
        self.pid = self.proc.pid

    def _read_until(self, last, timeout):
        """Lines from sessdrive until one starts with `last`; bounded by timeout."""
        fd = self.proc.stdout.fileno()
        lines, end = [], time.monotonic() + timeout
        while True:
            while "\n" in self._buf:
                ln, self._buf = self._buf.split("\n", 1)
                lines.append(ln)
                if ln.startswith(last):
                    return lines
            left = end - time.monotonic()
            check(left > 0, "sessdrive: no '%s' after %d s: %s" % (last, timeout, lines))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                data = os.read(fd, 65536)
                check(data != b"", "sessdrive exited: %s" % lines)
                self._buf += data.decode(errors="replace")

    def close(self):
        self.proc.stdin.write(b"close\n")
        self.proc.stdin.flush()
        lines = self._read_until("close rc=", 30)
        self.proc.wait(timeout=30)
        check(lines[-1] == "close rc=0", "close_session: %s" % lines)

    def user_env(self, **extra):
        """The environment a process of this session has, plus extra."""
        env = {"PATH": "/usr/bin:/bin", "HOME": self.w.home(self.user), "AWS_PAGER": "",
               "AWS_EC2_METADATA_DISABLED": "true", "LANG": "C.UTF-8"}
        env.update(self.env)
        env.update(extra)
        return env

    def helper(self, as_user=None, sid=None):
        """Runs the credential_process line of the session's config file, as the session's user
        (or as_user)."""
        argv = [self.w.helper, "--socket", self.w.socket, "--session", sid or self.sid]
        return run_as(as_user or self.user, argv, self.user_env())

    def creds(self):
        r = self.helper()
        check(r.returncode == 0, "credential_process failed: %s" % r.stderr)
        doc = json.loads(r.stdout)
        check(doc.get("Version") == 1 and doc["AccessKeyId"] and doc["SecretAccessKey"] and
              doc["SessionToken"] and doc["Expiration"].endswith("Z"),
              "not a credential_process document: %s" % sorted(doc))
        return doc

    def aws(self, *args):
        return run_as(self.user, [AWS, "--endpoint-url", self.w.moto.url] + list(args),
                      self.user_env())


def asan_runtime(module):
    """The sanitizer runtimes a module built with --enable-sanitizers needs, ':'-joined."""
    try:
        out = subprocess.run(["ldd", module], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return ":".join(ln.split()[2] for ln in out.splitlines()
                    if ("libasan" in ln or "libubsan" in ln) and "=>" in ln)


class World:
    def __init__(self, moto, menv, tmp, sessdrive):
        self.moto = moto
        self.menv = menv
        self.tmp = tmp
        self.sessdrive = sessdrive
        self.env = base_env(menv)
        self.pam_env = dict(self.env)
        preload = os.environ.get("SESSDRIVE_PRELOAD") or asan_runtime(
            os.path.join(build_dir(), "pam", ".libs", "pam_stsrole.so"))
        if preload:
            # The driver itself is not instrumented: the module's ASan runtime
            # must be loaded first, and not be fussy about the order.
            self.pam_env.update(LD_PRELOAD=preload,
                                ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0")
        self.roles = menv["roles"]
        self.state = os.path.join(tmp, "state")
        self.run = os.path.join(tmp, "run")
        self.socket = os.path.join(self.run, "credentials.sock")
        self.audit = os.path.join(tmp, "audit.log")
        self.glog = os.path.join(tmp, "gatewayd.log")
        self.helper = os.path.join(build_dir(), "gateway", "stsrole-credential-process")
        self.module = os.path.join(build_dir(), "pam", ".libs", "pam_stsrole.so")
        self.users = []
        self.a = self.add_user("a")
        self.b = self.add_user("b")
        revoker = self.roles["StsRoleRevoker"]
        spec = {name: {"arn": self.roles[name], "revoker_arn": revoker,
                       "users": self.a.pw_name}
                for name in ("LongRole", "KillRole", "RevokeRole")}
        self.conf = write_config(os.path.join(tmp, "stsrole.conf"), menv, roles=spec,
                                 state_dir=self.state, audit_log=self.audit, bastion_id="b1",
                                 duration=DURATION, credentials_mode="process",
                                 refresh_margin=MARGIN, runtime_dir=self.run,
                                 credential_helper=self.helper)
        # One PAM service per role: the module picks the only role that fits.
        self.confdir = os.path.join(tmp, "pam.d")
        os.makedirs(self.confdir)
        self.service = "longsess"
        self.use_role("LongRole")
        self.gw = None
        sts = moto.client("sts", creds=menv["base"])
        checker = sts.assume_role(RoleArn=revoker, RoleSessionName="test-checker")
        self.iam = moto.client("iam", creds=checker["Credentials"])

    def use_role(self, role):
        """pam.d/longsess runs pam_stsrole with a config that offers only `role`."""
        conf = os.path.join(self.tmp, "stsrole-%s.conf" % role)
        with open(self.conf) as f:
            text = f.read()
        keep, out = True, []
        for ln in text.splitlines():
            if ln.startswith("[role "):
                keep = ln == "[role %s]" % role
            if keep:
                out.append(ln)
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(out) + "\n")
        with open(os.path.join(self.confdir, self.service), "w") as f:
            f.write("session required %s conf=%s\n" % (self.module, conf))

    def add_user(self, tag):
        name = "ls%s%s" % (("%d" % os.getpid())[-6:], tag)
        home = os.path.join(self.tmp, "home", name)
        os.makedirs(home)
        subprocess.run(["useradd", "-M", "-d", home, "-s", "/bin/sh", name], check=True)
        self.users.append(name)
        u = pwd.getpwnam(name)
        os.chown(home, u.pw_uid, u.pw_gid)
        os.chmod(home, 0o700)
        return u

    def home(self, u):
        return os.path.join(self.tmp, "home", u.pw_name)

    def cleanup(self):
        for name in self.users:
            subprocess.run(["userdel", "-f", name], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)

    def start(self):
        self.gw = Gateway(self.conf, self.env, ["--skew", "0", "--reconcile", "1"],
                          log=self.glog).start()
        return self.gw

    # -- what the gateway did ------------------------------------------------------------
    def events(self, event=None):
        return [e for e in audit_lines(self.audit) if event is None or e["event"] == event]

    def chain(self, sid):
        """Every credential session sid received, from the audit log: the login's (its
        session.open line) and each refresh (refresh.ok, "credential for session SID")."""
        out = []
        for e in audit_lines(self.audit):
            if e["event"] == "session.open" and e["session_id"] == sid:
                out.append(e)
            elif e["event"] == "refresh.ok" and ("credential for session %s," % sid) in (
                    e.get("detail") or ""):
                out.append(e)
        return out

    def userids(self, role, sid="StsroleRevoked", key="aws:userid"):
        try:
            doc = self.iam.get_role_policy(RoleName=role, PolicyName=POLICY)["PolicyDocument"]
        except self.iam.exceptions.NoSuchEntityException:
            return []
        for st in doc.get("Statement", []):
            if st.get("Sid") == sid:
                v = st["Condition"]["StringEquals"][key]
                return v if isinstance(v, list) else [v]
        return []

    def sids(self, role):
        """The stsrole:sid entries: one per revoked SSH session, every credential of it."""
        return self.userids(role, "StsroleSid", "aws:PrincipalTag/stsrole:sid")

    def denied(self, creds, role):
        """True when AWS now refuses this credential (the deny policy holds it)."""
        c = self.moto.client("iam", creds=creds)
        try:
            c.get_role(RoleName=role)
            return False
        except c.exceptions.ClientError as e:
            return e.response["Error"]["Code"] == "AccessDenied"

    def record_files(self, sid):
        d = os.path.join(self.state, "sessions")
        out = []
        for name in os.listdir(d):
            if not name.endswith(".json"):
                continue
            try:
                with open(os.path.join(d, name)) as f:
                    r = json.load(f)
            except (OSError, ValueError):
                continue
            if r["session_id"] == sid or r.get("parent") == sid:
                out.append(r)
        return out


def issued_by_moto(w):
    """Every credential moto has issued, by access key id, secrets included (moto's own
    /moto-api/data.json): so every credential of a session can be tried, not only the ones the
    test happened to fetch."""
    with urllib.request.urlopen(w.moto.url + "/moto-api/data.json", timeout=30) as r:
        data = json.load(r)
    return {a["access_key_id"]: {"AccessKeyId": a["access_key_id"],
                                 "SecretAccessKey": a["secret_access_key"],
                                 "SessionToken": a["session_token"]}
            for a in data.get("sts", {}).get("AssumedRole", [])}


def all_denied(w, chain, role):
    """Tries every credential of the chain against AWS; returns how many, or fails."""
    issued = issued_by_moto(w)
    for e in chain:
        c = issued.get(e["access_key_id"])
        check(c is not None, "moto did not issue %s" % e["access_key_id"])
        check(w.denied(c, role), "credential %s (%s) still works" % (e["access_key_id"],
                                                                     e["session_name"]))
    return len(chain)


def arn_role_prefix(w, sid):
    rec = json.load(open(os.path.join(w.state, "sessions", sid + ".json")))
    return rec["assumed_role_id"].split(":")[0], rec


def all_revoked(w, sid, role, prefix):
    """Every credential of the chain is denied (the session's stsrole:sid, which each of them
    carries, is in the deny policy) and audited revoke.ok."""
    chain = w.chain(sid)
    ok_ids = {e["session_id"] for e in w.events("revoke.ok")}
    ids = {e["session_id"] for e in chain}
    return chain if sid_of(sid) in w.sids(role) and ids <= ok_ids else None


# -- cases -----------------------------------------------------------------------------------

def case_login_environment(w, s):
    env = s.env
    check("AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env and
          "AWS_SESSION_TOKEN" not in env, "static keys in the environment: %s" % sorted(env))
    path = env.get("AWS_CONFIG_FILE", "")
    check(env.get("AWS_PROFILE") == "stsrole" and
          path == os.path.join(w.run, "aws", s.sid + ".config"),
          "AWS_CONFIG_FILE/AWS_PROFILE: %s" % env)
    st = os.lstat(path)
    check(st.st_uid == s.user.pw_uid and (st.st_mode & 0o777) == 0o600,
          "config file: uid %d mode %o" % (st.st_uid, st.st_mode & 0o777))
    d = os.lstat(os.path.dirname(path))
    check(d.st_uid == 0 and (d.st_mode & 0o777) == 0o711, "aws/ dir: mode %o" % d.st_mode)
    text = open(path).read()
    want = "credential_process = %s --socket %s --session %s" % (w.helper, w.socket, s.sid)
    check(want in text and "[profile stsrole]" in text, "config file:\n" + text)
    sk = os.lstat(w.socket)
    check(sk.st_uid == 0 and (sk.st_mode & 0o777) == 0o666, "socket mode %o" % sk.st_mode)
    # The login's own credential was handed to the gateway: the first fetch serves it.
    _, rec = arn_role_prefix(w, s.sid)
    c = s.creds()
    check(c["AccessKeyId"] == rec["access_key_id"],
          "first credential is not the login's (%s != %s)" % (c["AccessKeyId"],
                                                               rec["access_key_id"]))
    check(rec.get("credentials_mode") == "process", "record: %s" % rec)


def case_refresh_cli_boto3(w, s, seen):
    """Through several refreshes, the AWS CLI and a long-lived boto3 client keep working."""
    nonce_re = re.compile(r"assumed-role/LongRole/%s@b1\.([0-9a-f]{16})$" % s.user.pw_name)
    nonces = []
    end = time.monotonic() + 90
    # Bounded polling: each round is one real CLI call; stop at 4 credentials (login + 3).
    while len(nonces) < 4:
        check(time.monotonic() < end, "only %d credentials in 90 s: %s" % (len(nonces), nonces))
        r = s.aws("sts", "get-caller-identity", "--query", "Arn", "--output", "text")
        check(r.returncode == 0, "aws sts get-caller-identity: %s" % r.stderr)
        m = nonce_re.search(r.stdout.strip())
        check(m is not None, "unexpected ARN %s" % r.stdout)
        if m.group(1) not in nonces:
            nonces.append(m.group(1))
        c = s.creds()
        seen[c["AccessKeyId"]] = c
    r = s.aws("iam", "get-role", "--role-name", "LongRole", "--query", "Role.RoleName",
              "--output", "text")
    check(r.returncode == 0 and r.stdout.strip() == "LongRole", "aws iam get-role: %s" % r.stderr)
    refreshes = [e for e in w.chain(s.sid) if e["event"] == "refresh.ok"]
    check(len(refreshes) >= 3, "refresh.ok lines: %d" % len(refreshes))
    for e in refreshes:
        check(e["source_identity"] == s.user.pw_name and e["user"] == s.user.pw_name and
              e["session_name"].startswith("%s@b1." % s.user.pw_name),
              "refresh.ok line: %s" % e)
    print("   aws CLI saw %d credentials (nonces %s)" % (len(nonces), ", ".join(nonces)))
    # boto3, run by the user from the session's environment: one client across refreshes.
    r = run_as(s.user, [SYS_PYTHON, "-c", BOTO_LOOP, w.moto.url, "LongRole", "3", "60"],
               s.user_env(), timeout=120)
    check(r.returncode == 0, "boto3: %s" % r.stderr[-2000:])
    out = json.loads(r.stdout)
    check(len(out["arns"]) >= 3, "boto3 saw only %s in %d calls" % (out["arns"], out["calls"]))
    check(out["method"] == "custom-process", "boto3 credential method %s" % out["method"])
    print("   one boto3 client: %d calls, %d credentials, method %s" %
          (out["calls"], len(out["arns"]), out["method"]))
    c = s.creds()
    seen[c["AccessKeyId"]] = c


def case_second_uid(w, s):
    r = s.helper(as_user=w.b)
    check(r.returncode != 0 and r.stdout == "" and "not the session's user" in r.stderr,
          "uid %d got: rc %d %r %r" % (w.b.pw_uid, r.returncode, r.stdout[:80], r.stderr))
    # Not by reading the file either, nor as root, nor by handing in credentials of its own.
    r = run_as(w.b, ["cat", s.env["AWS_CONFIG_FILE"]], s.user_env())
    check(r.returncode != 0 and "Permission denied" in r.stderr, "cat as uid b: %s" % r.stdout)
    r = run_as(w.b, ["ls", os.path.join(w.run, "aws")], s.user_env())
    check(r.returncode != 0, "uid b can list %s/aws: %s" % (w.run, r.stdout))
    r = subprocess.run([w.helper, "--socket", w.socket, "--session", s.sid],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode != 0 and "not the session's user" in r.stderr, "root got %r" % r.stdout)
    probe = ("import json,socket,sys; c=socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]);"
             "c.sendall(json.dumps({'cmd':'adopt','session':sys.argv[2],'AccessKeyId':'ASIAX',"
             "'SecretAccessKey':'x','SessionToken':'y','Expiration':9999999999}).encode()+b'\\n');"
             "print(c.recv(4096).decode())")
    r = run_as(w.b, [SYS_PYTHON, "-c", probe, w.socket, s.sid], s.user_env())
    check('"ok":false' in r.stdout and "only root" in r.stdout, "adopt as uid b: %s" % r.stdout)
    # The session's own user still gets it.
    s.creds()


def case_logout_revokes_all(w, s, seen):
    prefix, _ = arn_role_prefix(w, s.sid)
    last = s.creds()
    seen[last["AccessKeyId"]] = last
    s.close()
    chain = wait_for(lambda: all_revoked(w, s.sid, "LongRole", prefix), 30,
                     "every credential of the session in the deny policy")
    check(len(chain) >= 5, "only %d credentials in the chain" % len(chain))
    all_denied(w, chain, "LongRole")
    for akid, c in seen.items():
        check(w.denied(c, "LongRole"), "credential %s still works after logout" % akid)
    check(set(seen) <= {e["access_key_id"] for e in chain},
          "served credentials missing from the audit log")
    r = s.helper()
    check(r.returncode != 0, "credential_process after logout: %s" % r.stdout[:60])
    check(not os.path.exists(s.env["AWS_CONFIG_FILE"]), "config file left after logout")
    # Refreshing has stopped: the gateway no longer follows any record of the session.
    wait_for(lambda: not w.record_files(s.sid), 20, "the session's records to be finished")
    rc, out, _ = ctl(w.conf, "sessions", "--json")
    check(rc == 0 and s.sid not in out, "stsrolectl sessions still lists it")
    print("   logout: all %d credentials of the session AccessDenied (%d of them as fetched "
          "through credential_process), %d policy entries" %
          (len(chain), len(seen), len(w.sids("LongRole")) + len(w.userids("LongRole"))))


def case_expired_not_listed(w):
    """At logout a credential of the chain that has expired already (plus --skew, 0 here) is
    not put into the deny policy: AWS refuses it anyway, and it would only use the budget."""
    w.use_role("LongRole")
    s = Login(w, w.a)
    try:
        prefix, rec = arn_role_prefix(w, s.sid)
        nonce = os.urandom(8).hex()
        name = "%s@b1.%s" % (s.user.pw_name, nonce)
        old = dict(rec, session_id=nonce + os.urandom(8).hex(), parent=s.sid,
                   assumed_role_id="%s:%s" % (prefix, name), session_name=name,
                   access_key_id="ASIAEXPIRED" + nonce[:9].upper(), aws_request_id=None,
                   expiration=int(time.time()) - 1)
        write_session(w.state, old)
        wait_for(lambda: [e for e in w.events("session.open")
                          if e["session_id"] == old["session_id"]], 10, "the old credential seen")
    finally:
        s.close()
    wait_for(lambda: all_revoked(w, s.sid, "LongRole", prefix), 30, "the live chain revoked")
    ev = wait_for(lambda: [e for e in w.events("revoke.ok")
                           if e["session_id"] == old["session_id"]], 30, "the old one retired")
    check("expired before the session ended" in ev[0]["detail"], "detail: %s" % ev[0]["detail"])
    check(old["assumed_role_id"] not in w.userids("LongRole"), "the expired one was listed")


def case_manual_revoke_stops(w):
    w.use_role("RevokeRole")
    s = Login(w, w.a)
    try:
        prefix, _ = arn_role_prefix(w, s.sid)
        first = s.creds()
        wait_for(lambda: len(w.chain(s.sid)) >= 2, 30, "a refresh")
        rc, out, err = ctl(w.conf, "revoke", "--session", s.sid)
        check(rc == 0, "stsrolectl revoke: %s %s" % (out, err))
        chain = wait_for(lambda: all_revoked(w, s.sid, "RevokeRole", prefix), 30,
                         "the whole chain revoked")
        r = s.helper()
        check(r.returncode != 0 and "revoked" in r.stderr, "after revoke: %s" % r.stderr)
        check(w.denied(first, "RevokeRole"), "the login's credential still works")
        all_denied(w, chain, "RevokeRole")
        n = len(w.chain(s.sid))
        check(n == len(chain), "refreshed after the revocation: %d > %d" % (n, len(chain)))
    finally:
        s.close()


def case_kill_gateway(w):
    """kill -9: nothing is refreshed or served; a logout meanwhile is revoked at restart, with
    every credential; a live session gets a fresh credential at restart (its secret was only
    in the dead gateway's memory)."""
    w.use_role("KillRole")
    gone = Login(w, w.a)
    live = Login(w, w.a)
    try:
        prefix, _ = arn_role_prefix(w, gone.sid)
        wait_for(lambda: len(w.chain(gone.sid)) >= 2 and len(w.chain(live.sid)) >= 2, 30,
                 "a refresh of both sessions")
        held = gone.creds()
        live_before = live.creds()["AccessKeyId"]
        w.gw.kill9()
        r = gone.helper()
        check(r.returncode != 0 and "cannot reach stsrole-gatewayd" in r.stderr,
              "a credential was served with the gateway dead: %s" % r.stdout[:60])
        before = len(w.chain(gone.sid))
        gone.close()  # logs out while the gateway is down
        check(json.load(open(os.path.join(w.state, "sessions", gone.sid + ".json")))["closed"],
              "the record is not closed")
        # The credential the user holds is the STS one, unextended: it expires when STS said.
        rec = [r for r in w.record_files(gone.sid) if r["access_key_id"] == held["AccessKeyId"]]
        check(rec and time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(rec[0]["expiration"])) ==
              held["Expiration"], "served expiry differs from the record: %s" % rec)
        w.start()
        chain = wait_for(lambda: all_revoked(w, gone.sid, "KillRole", prefix), 30,
                         "the closed session's credentials revoked after restart")
        check(len(chain) == before, "the closed session was refreshed: %d -> %d credentials" %
              (before, len(chain)))
        check(w.denied(held, "KillRole"), "the closed session's credential still works")
        all_denied(w, chain, "KillRole")
        # The live one: a new credential at once, and it works.
        got = wait_for(lambda: (lambda r: r.returncode == 0 and r)(live.helper()), 20,
                       "a credential for the live session")
        c = json.loads(got.stdout)
        check(c["AccessKeyId"] != live_before, "the live session got no fresh credential")
        r = live.aws("sts", "get-caller-identity", "--query", "Arn", "--output", "text")
        check(r.returncode == 0 and "KillRole" in r.stdout, "live session after restart: %s" %
              r.stderr)
    finally:
        if gone.proc.poll() is None:
            gone.close()
        live.close()
    chain = wait_for(lambda: all_revoked(w, live.sid, "KillRole", prefix), 30,
                     "the live session's credentials revoked at its logout")
    all_denied(w, chain, "KillRole")


def case_sshd(w):
    """A real sshd on 127.0.0.1 (tests/lib/sshdtest.py): TOTP at login, then the AWS CLI inside
    the SSH session works through several refreshes; logout denies every credential."""
    import copy
    import sshdtest
    from sshdtest import Lab, SetupError, ssh_login, stsrole_stack, totp

    why = sshdtest.missing_prerequisite()
    if why:
        raise Skip(why)
    if os.environ.get("SESSDRIVE_PRELOAD"):
        raise Skip("the module is built with sanitizers, which sshd cannot load")
    with Lab("lsess") as lab:
        gw = None
        try:
            u = lab.add_user()
            lab.write_usersfile([u])
            run = os.path.join(lab.root, "run")
            conf = lab.stsrole_conf(w.menv, {"SshRole": {
                "arn": w.roles["SshRole"], "revoker_arn": w.roles["StsRoleRevoker"],
                "users": u.name}}, "b1", totp_window=3, duration=DURATION,
                credentials_mode="process", refresh_margin=MARGIN, runtime_dir=run,
                credential_helper=w.helper)
            v = copy.copy(w)  # the same checks, on this bastion's log and state
            v.audit = os.path.join(lab.root, "audit.log")
            v.state = lab.state
            gw = Gateway(conf, w.env, ["--skew", "0", "--reconcile", "1"],
                         log=os.path.join(lab.root, "gatewayd.log")).start()
            exe = lab.pam_service("stsrole-lsess-%d" % os.getpid(), stsrole_stack(w.module, conf))
            sshd = lab.start_sshd(exe)
            cfg = lab.ssh_config({"bastion": (sshd, u)})
        except SetupError as e:
            raise AssertionError("sshd fixture: %s" % e)
        try:
            # Inside the session: the environment's names, then the CLI until it has run with
            # three different credentials (at most 40 calls: bounded).
            inside = ("echo NAMES $(env | grep -E '^(AWS_|STSROLE_)' | sed 's/=.*//' | sort); "
                      "echo SID=$STSROLE_SESSION_ID; seen=; n=0; "
                      "while [ $n -lt 40 ]; do n=$((n+1)); "
                      "a=$(%s sts get-caller-identity --endpoint-url %s --query Arn "
                      "--output text) || { echo CLI-FAILED; break; }; "
                      "case \" $seen \" in *\" $a \"*) ;; "
                      "*) seen=\"$seen $a\"; echo ARN=$a;; esac; "
                      "[ $(echo $seen | wc -w) -ge 3 ] && break; done; echo CALLS=$n"
                      % (AWS, w.moto.url))
            r = ssh_login(cfg, "bastion", [totp(u.secret)], inside, timeout=180)
            names = (re.search(r"NAMES (.*)", r.out) or [None, ""])[1].split()
            check("AWS_CONFIG_FILE" in names and "AWS_PROFILE" in names and
                  "AWS_ACCESS_KEY_ID" not in names, "session environment: %s" % names)
            arns = re.findall(r"ARN=(\S+)", r.out)
            check(len(arns) >= 3 and "CLI-FAILED" not in r.out and
                  all(re.search(r"assumed-role/SshRole/%s@b1\.[0-9a-f]{16}$" % u.name, a)
                      for a in arns), "inside the SSH session: %s" % r.out[-1500:])
            sid = (re.search(r"SID=([0-9a-f]{32})", r.out) or [None, ""])[1]
            calls = (re.search(r"CALLS=(\d+)", r.out) or [None, "?"])[1]
            print("   ssh session %s: %s CLI calls, %d credentials" % (sid[:8], calls, len(arns)))
            prefix, _ = arn_role_prefix(v, sid)
            # close_session runs in the connection's monitor as it exits; the gateway follows.
            chain = wait_for(lambda: all_revoked(v, sid, "SshRole", prefix), 30,
                             "every credential of the SSH session revoked after logout")
            check(len(chain) >= 3, "chain: %d" % len(chain))
            all_denied(v, chain, "SshRole")
            check(not os.path.exists(os.path.join(run, "aws", sid + ".config")),
                  "the session's AWS config file outlived it")
        finally:
            if gw is not None:
                gw.stop()


def case_bad_margin(w):
    bad = write_config(os.path.join(w.tmp, "bad.conf"), w.menv,
                       roles={"LongRole": {"arn": w.roles["LongRole"], "users": "x"}},
                       state_dir=os.path.join(w.tmp, "state-bad"), audit_log=w.audit + ".bad",
                       bastion_id="b1", duration=900, credentials_mode="process",
                       refresh_margin=900)
    p = subprocess.run([gatewayd_path(), "--config", bad], capture_output=True, text=True,
                       timeout=30, env=w.env)
    check(p.returncode == 78 and "refresh_margin (900) must be shorter than the duration" in
          p.stderr, "rc %d: %s" % (p.returncode, p.stderr))


def main():
    suite = Suite("longsess")
    why = None
    if os.geteuid() != 0:
        why = "needs root (useradd, setpriv, root-owned state)"
    elif not os.path.exists(AWS):
        why = "%s is missing (apt-get install awscli)" % AWS
    elif shutil.which("setpriv") is None or shutil.which("moto_server") is None:
        why = "setpriv or moto_server is missing"
    elif subprocess.run([SYS_PYTHON, "-c", "import boto3"], capture_output=True).returncode:
        why = "%s has no boto3 (apt-get install python3-boto3)" % SYS_PYTHON
    sessdrive = os.environ.get("SESSDRIVE")
    for path in (gatewayd_path(), os.path.join(build_dir(), "gateway",
                                               "stsrole-credential-process"),
                 os.path.join(build_dir(), "pam", ".libs", "pam_stsrole.so"), sessdrive):
        if why is None and (path is None or not os.path.exists(path)):
            why = "%s is not built" % path
    if why:
        return suite.skip_all(why)
    tmp = tempfile.mkdtemp(prefix="stsrole-longsess.")
    os.chmod(tmp, 0o755)  # the test users reach the runtime dir and their homes through it
    w = None
    try:
        with Moto(log=os.path.join(tmp, "moto.log")) as m:
            menv = m.seed(roles=ROLES)
            w = World(m, menv, tmp, sessdrive)
            w.start()
            s = None
            try:
                s = Login(w, w.a)
                seen = {}
                suite.case("login: an AWS config file (AWS_CONFIG_FILE, AWS_PROFILE), 0600 and "
                           "the user's, in a root-owned dir; no key in the environment; the "
                           "login's credential is served first", case_login_environment, w, s)
                suite.case("several refreshes (refresh_margin %d of %d s): the AWS CLI v2 and "
                           "one boto3 client keep working" % (MARGIN, DURATION),
                           case_refresh_cli_boto3, w, s, seen)
                suite.case("a second uid is refused (socket, config file, hand-off); root too",
                           case_second_uid, w, s)
                suite.case("logout: refreshing stops and every credential the session ever "
                           "received is denied", case_logout_revokes_all, w, s, seen)
            finally:
                if s is not None and s.proc.poll() is None:
                    s.close()
            suite.case("logout: a credential of the session that has expired already is "
                       "retired, not listed", case_expired_not_listed, w)
            suite.case("stsrolectl revoke of a live session stops its refresh and denies the "
                       "whole chain", case_manual_revoke_stops, w)
            suite.case("kill -9 of the gateway extends no one's access; restart reconciles",
                       case_kill_gateway, w)
            suite.case("refresh_margin not shorter than a role's duration is refused",
                       case_bad_margin, w)
            suite.case("real sshd: TOTP login, the AWS CLI in the SSH session across refreshes, "
                       "logout denies every credential", case_sshd, w)
            if w.gw is not None:
                w.gw.stop()
    finally:
        if w is not None:
            w.cleanup()
        if suite.failed:
            print("kept %s" % tmp)
        else:
            rmtree_unless_kept(tmp)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
