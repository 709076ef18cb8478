# SPDX-License-Identifier: BSD-3-Clause
"""case_local.py: what a person with an ordinary shell on the bastion tries against another
person's session and against the bastion's own powers, through a real sshd.

Fixture: tests/lib/sshdtest.py's Lab (a throw-away sshd on 127.0.0.1 with pam_stsrole, real
users alice and mallory, each with a key and a TOTP secret), moto as STS, and stsrole-gatewayd
with credentials_mode = process (so the credential socket is up).  alice logs in and stays
logged in (`cat` holds her session open) while mallory, as himself (setpriv: his uid, gid and
groups, no new privileges), tries:
- stsrolectl assume;
- the gateway's control socket and the credential socket (alice's session, a hand-off, a
  forged log line);
- alice's session record and her AWS config file;
- a login through a second sshd whose stack leaves out pam_stsrole's auth (publickey only);
- alice's code again, once she has used it.
Needs root, sshd, ssh, oathtool, pexpect, setpriv and moto_server.
"""
import contextlib
import json
import os
import socket
import subprocess
import sys

from attacklib import as_user, case
from harness import Skip, check

MARK = "STSROLE-ATTACK"


class Bastion:
    def __init__(self, ctx):
        sys.path.insert(0, ctx.path("tests", "lib"))
        sys.path.insert(0, ctx.path("tests", "lib"))
        os.environ["STSROLE_BUILD"] = ctx.build
        import sshdtest
        why = sshdtest.missing_prerequisite()
        if why:
            raise Skip(why)
        self.ctx = ctx
        self.sshdtest = sshdtest
        self.stack = contextlib.ExitStack()

    def up(self):
        from mototest import Moto
        from gwlib import Gateway
        st = self.sshdtest
        module = os.path.join(self.ctx.build, "pam", ".libs", "pam_stsrole.so")
        self.ctl = os.path.join(self.ctx.build, "gateway", "stsrolectl")
        try:
            self.lab = self.stack.enter_context(st.Lab("attack"))
        except st.SetupError as e:
            raise Skip(str(e))
        self.alice = self.lab.add_user()
        self.mallory = self.lab.add_user()
        self.m = self.stack.enter_context(Moto(log=os.path.join(self.lab.root, "moto.log")))
        menv = self.m.seed()
        self.lab.write_usersfile([self.alice, self.mallory])
        self.run = os.path.join(self.lab.root, "run")
        users = "%s %s" % (self.alice.name, self.mallory.name)
        self.conf = self.lab.stsrole_conf(
            menv, {"SecurityAuditRole": {"arn": menv["roles"]["SecurityAuditRole"],
                                         "revoker_arn": menv["roles"]["StsRoleRevoker"],
                                         "users": users}},
            "attackbastion", totp_window=3, credentials_mode="process", runtime_dir=self.run,
            credential_helper=os.path.join(self.ctx.build, "gateway",
                                           "stsrole-credential-process"))
        self.gw = Gateway(self.conf, os.environ, log=os.path.join(self.lab.root, "gw.log"))
        self.gw.start()
        self.stack.callback(self.gw.stop)
        tag = os.getpid()
        exe = self.lab.pam_service("stsrole-attack-%d" % tag,
                                   st.stsrole_stack(module, self.conf))
        self.sshd = self.lab.start_sshd(exe)
        # The loosened stack: auth lets anyone through (pam_permit); the session line is the same.
        loose = self.lab.pam_service("stsrole-attack-noauth-%d" % tag,
                                     ["auth required pam_permit.so",
                                      "account required pam_unix.so",
                                      "session required pam_unix.so",
                                      "session required %s conf=%s" % (module, self.conf)])
        self.loose = self.lab.start_sshd(loose)
        self.cfg = self.lab.ssh_config({"alice": (self.sshd, self.alice),
                                        "mallory": (self.sshd, self.mallory),
                                        "mallory-noauth": (self.loose, self.mallory)})
        self.login_alice()

    def login_alice(self):
        """alice logs in and stays (cat holds the session until close())."""
        import pexpect
        self.code = self.sshdtest.totp(self.alice.secret)
        self.child = pexpect.spawn("ssh", ["-F", self.cfg, "alice",
                                           "echo %s $STSROLE_SESSION_ID $AWS_CONFIG_FILE; cat"
                                           % MARK], encoding="utf-8", timeout=60, echo=False)
        self.child.expect(self.sshdtest.PROMPT_CODE)
        self.child.sendline(self.code)
        i = self.child.expect([r"%s ([0-9a-f]{32}) (\S+)" % MARK, pexpect.EOF])
        if i != 0:
            raise AssertionError("alice's login failed: %s" % self.child.before)
        self.sid, self.aws_config = self.child.match.group(1), self.child.match.group(2)

    def mallory_runs(self, argv, **kw):
        return as_user(self.mallory.name, argv, **kw)

    def down(self):
        child = getattr(self, "child", None)
        if child is not None:
            child.sendeof()
            child.expect([__import__("pexpect").EOF, __import__("pexpect").TIMEOUT], timeout=20)
            child.close(force=True)
        self.stack.close()


@contextlib.contextmanager
def fixture(ctx):
    b = Bastion(ctx)
    try:
        b.up()
        yield b
    finally:
        b.down()


# A client of a Unix socket, run as mallory: prints OK <answer> or DENIED <errno name>.
SOCK = r'''
import errno, socket, sys
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sys.argv[1])
    s.sendall(sys.argv[2].encode() + b"\n")
    print("OK", s.recv(65536).decode().strip())
except OSError as e:
    print("DENIED", errno.errorcode.get(e.errno, str(e)))
'''


def sock(b, path, request):
    r = b.mallory_runs([sys.executable, "-I", "-c", SOCK, path, request])
    return (r.stdout + r.stderr).strip()


@case("stsrolectl assume as a local user: refused, 'for root only', nothing minted")
def assume(ctx):
    b = ctx.fixture
    r = b.mallory_runs([b.ctl, "--config", b.conf, "assume", "--role", "SecurityAuditRole",
                        "--user", b.alice.name])
    check(r.returncode == 77 and "assume is for root only" in r.stderr and r.stdout == "",
          "rc %d %s %s" % (r.returncode, r.stdout, r.stderr))


@case("the gateway's control socket as a local user: no way in (state_dir is root's)")
def control_socket(ctx):
    b = ctx.fixture
    out = sock(b, os.path.join(b.lab.state, "gatewayd.sock"),
               json.dumps({"cmd": "revoke", "session": b.sid}))
    check(out == "DENIED EACCES", out)


@case("the credential socket as a local user: alice's session, a hand-off and a forged log "
      "line are all refused")
def credential_socket(ctx):
    b = ctx.fixture
    path = os.path.join(b.run, "credentials.sock")
    out = sock(b, path, json.dumps({"cmd": "credentials", "session": b.sid}))
    check(out.startswith("OK ") and "no live stsrole session" in out and "AccessKeyId" not in out,
          out)
    out = sock(b, path, json.dumps({"cmd": "adopt", "session": b.sid, "AccessKeyId": "ASIAX",
                                    "SecretAccessKey": "x", "SessionToken": "y",
                                    "Expiration": 4102444800}))
    check("only root hands credentials over" in out, out)
    forged = "0" * 8 + "\nFORGED-LINE x" + "0" * 10
    out = sock(b, path, json.dumps({"cmd": "adopt", "session": forged}))
    log = open(os.path.join(b.lab.root, "gw.log")).read()
    check("only root hands credentials over" in out and "FORGED-LINE" not in log,
          "%s / gateway log: %s" % (out, log[-600:]))


@case("alice's session record and her AWS config file, read by another user: permission denied")
def other_files(ctx):
    b = ctx.fixture
    for path in (os.path.join(b.lab.state, "sessions", b.sid + ".json"), b.aws_config):
        check(os.path.exists(path), "%s does not exist (as root)" % path)
        r = b.mallory_runs(["cat", path])
        check(r.returncode != 0 and "Permission denied" in r.stderr and r.stdout == "",
              "%s: rc %d %s %s" % (path, r.returncode, r.stdout[:200], r.stderr))


@case("a login whose stack skips pam_stsrole's auth (pam_permit): no session, no credential")
def session_without_auth(ctx):
    b = ctx.fixture
    before = set(os.listdir(os.path.join(b.lab.state, "sessions")))
    r = b.sshdtest.ssh_login(b.cfg, "mallory-noauth", [], "echo %s-IN $AWS_CONFIG_FILE" % MARK)
    after = set(os.listdir(os.path.join(b.lab.state, "sessions")))
    check("%s-IN" % MARK not in r.out and r.status != 0 and after == before,
          "status %s, new records %s: %s" % (r.status, after - before, r.out[-800:]))
    # sshd let mallory in (pam_permit): it is the session that pam_stsrole refused
    log = b.loose.log()
    check(("Accepted keyboard-interactive/pam for %s" % b.mallory.name) in log
          and "PAM: pam_open_session()" in log, log[-1500:])
    print("   ssh: status %s, %s" % (r.status, r.out.strip()[-200:]))


@case("alice's code, replayed by a second login: refused")
def replayed_code(ctx):
    b = ctx.fixture
    r = b.sshdtest.ssh_login(b.cfg, "alice", [b.code], "echo %s-IN" % MARK)
    check("%s-IN" % MARK not in r.out and r.status != 0, "%s %s" % (r.status, r.out[-800:]))


@case("every credential leaves an audit record: alice's login is session.open with "
      "stsrole:mfa=totp, and nothing was minted for mallory's refused tries")
def audited(ctx):
    b = ctx.fixture
    sys.path.insert(0, ctx.path("tests", "lib"))
    from gwlib import audit_lines, wait_for
    path = os.path.join(b.lab.root, "audit.log")
    ev = wait_for(lambda: [e for e in audit_lines(path)
                           if e["event"] == "session.open" and e.get("session_id") == b.sid],
                  15, "alice's session.open")
    check(ev[0]["user"] == b.alice.name and "stsrole:mfa=totp" in (ev[0].get("detail") or ""),
          ev)
    minted = [e for e in audit_lines(path) if e["event"] in ("session.open", "assume.ok")
              and e.get("user") == b.mallory.name]
    check(not minted, "a credential for mallory: %s" % minted)
