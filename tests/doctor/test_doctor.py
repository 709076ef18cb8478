#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_doctor.py: every `stsrolectl doctor` check, on a bastion that passes and on one broken
on purpose for that check.

The bastion is throw-away: an sshd_config read through `sshd -T -f CONFIG` (the system's sshd
is never touched), a PAM service /etc/pam.d/stsrole-doctor-PID (removed at the end), moto with
auth on for STS and IAM, a stand-in IMDS on 127.0.0.1 that records the uid of whoever
connects, a stand-in STS that sends a skewed Date, and stsrole-gatewayd in the foreground.
"""
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))

from harness import Suite, check  # noqa: E402
from mototest import DEFAULT_ROLES, Moto, base_env  # noqa: E402

SSHD = "/usr/sbin/sshd"
NOBODY_UID = None

WEAK = {"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"}]}
# An inline policy that leaves no room for the deny list (IAM's 10,240 characters are shared).
BIG = {"Version": "2012-10-17",
       "Statement": [{"Sid": "S%03d" % i, "Effect": "Allow",
                      "Action": ["ec2:DescribeInstances"],
                      "Resource": "arn:aws:ec2:us-east-1:222222222222:instance/i-%017d" % i}
                     for i in range(85)]}
ROLES = dict(DEFAULT_ROLES, WeakRevoker=WEAK, FullRole=BIG)

GOOD_SSHD = ["UsePAM yes", "AuthenticationMethods publickey,keyboard-interactive:pam",
             "KbdInteractiveAuthentication yes", "PermitUserEnvironment no", "ExposeAuthInfo yes"]

GOOD_PAM = ["auth requisite pam_faillock.so preauth",
            "auth [success=1 default=bad] pam_stsrole.so",
            "auth [default=die] pam_faillock.so authfail",
            "auth sufficient pam_faillock.so authsucc",
            "auth required pam_deny.so",
            "account required pam_unix.so",
            "session required pam_unix.so",
            "session required pam_stsrole.so"]


def stsrolectl():
    top = os.path.abspath(os.path.join(HERE, "..", ".."))
    return os.environ.get("STSROLECTL", os.path.join(
        os.environ.get("STSROLE_BUILD", os.path.join(top, "build")), "gateway", "stsrolectl"))


def write(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def socket_uid(local_port, remote_port):
    """The uid owning the client end of a loopback TCP connection, from /proc/net/tcp."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            lport = int(fields[1].split(":")[1], 16)
            rport = int(fields[2].split(":")[1], 16)
            if lport == local_port and rport == remote_port:
                return int(fields[7])
    return None


class ImdsStandIn:
    """Accepts TCP connections on 127.0.0.1 and records the uid of each connecting socket."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.uids = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.uids.append(socket_uid(peer[1], self.port))
            conn.close()

    def close(self):
        self.sock.close()


class SkewedSts(http.server.BaseHTTPRequestHandler):
    """Answers every request 403, as STS answers an unsigned one, with a Date 10 minutes ahead."""

    def date_time_string(self, timestamp=None):
        return super().date_time_string(time.time() + 600)

    def do_GET(self):
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Bastion:
    """One throw-away bastion: config, users file, sshd config, PAM service."""

    def __init__(self, root, menv, service, imds_port):
        self.root = root
        self.menv = menv
        self.service = service
        self.etc = os.path.join(root, "etc")
        os.makedirs(self.etc, mode=0o755, exist_ok=True)
        self.state = os.path.join(root, "state")
        os.makedirs(self.state, mode=0o700, exist_ok=True)
        self.conf = os.path.join(self.etc, "stsrole.conf")
        self.users = os.path.join(self.etc, "users.oath")
        self.creds = os.path.join(self.etc, "base-credentials")
        self.hostkey = os.path.join(root, "hostkey")
        if not os.path.exists(self.hostkey):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.hostkey],
                           check=True)
        self.sshd_config = os.path.join(root, "sshd_config")
        self.imds_port = imds_port
        self.settings = {}
        self.role = {}
        self.reset()

    def reset(self):
        roles = self.menv["roles"]
        self.settings = {"region": self.menv["region"], "sts_endpoint": self.menv["url"],
                         "iam_endpoint": self.menv["url"],
                         "imds_endpoint": "http://127.0.0.1:%d" % self.imds_port,
                         "credentials": "file:%s" % self.creds, "usersfile": self.users,
                         "state_dir": self.state,
                         "audit_log": os.path.join(self.root, "audit.log"),
                         "bastion_id": "doctor-1"}
        self.role = {"arn": roles["SecurityAuditRole"], "revoker_arn": roles["StsRoleRevoker"],
                     "users": "alice"}
        self.write_creds(self.menv["base"]["SecretAccessKey"])
        self.write_conf()
        write(self.users, "HOTP/T30 alice - %s\n" % os.urandom(20).hex())
        os.chmod(self.etc, 0o755)
        self.write_sshd(GOOD_SSHD)
        self.write_pam(GOOD_PAM)

    def write_creds(self, secret):
        write(self.creds, "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
              % (self.menv["base"]["AccessKeyId"], secret))

    def write_conf(self, extra=""):
        lines = ["[stsrole]"] + ["%s = %s" % kv for kv in self.settings.items()]
        lines += ["", "[role audit]"] + ["%s = %s" % kv for kv in self.role.items()]
        write(self.conf, "\n".join(lines) + "\n" + extra)

    def write_sshd(self, lines):
        base = ["ListenAddress 127.0.0.1", "Port %d" % free_port(), "HostKey %s" % self.hostkey,
                "PidFile %s" % os.path.join(self.root, "sshd.pid")]
        write(self.sshd_config, "\n".join(base + lines) + "\n", 0o644)

    def write_pam(self, lines, conf=None):
        """The stack; pam_stsrole lines get conf= this bastion's configuration (or conf)."""
        lines = [ln.replace("pam_stsrole.so", "pam_stsrole.so conf=%s" % (conf or self.conf))
                 for ln in lines]
        write("/etc/pam.d/%s" % self.service,
              "# created by stsrole tests/doctor; removed when the test ends\n"
              + "\n".join(lines) + "\n", 0o644)

    def doctor(self, json_out=True):
        args = [stsrolectl(), "doctor", "--config", self.conf, "--sshd-config", self.sshd_config,
                "--pam-service", self.service]
        if json_out:
            args.append("--json")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        p = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
        if not json_out:
            return p.returncode, p.stdout, p.stderr
        try:
            doc = json.loads(p.stdout)
        except ValueError:
            raise AssertionError("doctor --json printed no JSON (exit %d): %s %s"
                                 % (p.returncode, p.stdout[-500:], p.stderr[-500:]))
        return p.returncode, {c["check"]: c for c in doc["checks"]}, doc


def expect(b, name, ok, rc_want=None, contains=None):
    """Runs doctor and checks one line: ok or not, with a fix when not."""
    rc, checks, doc = b.doctor()
    check(name in checks, "no check %s in %s" % (name, sorted(checks)))
    c = checks[name]
    check(c["ok"] == ok, "%s: want ok=%s, got %s" % (name, ok, c))
    if not ok:
        check(c.get("fix"), "%s failed without a fix: %s" % (name, c))
        check(rc == 1 and doc["ok"] is False, "a failed check must exit 1 (got %d)" % rc)
    if contains:
        check(contains in c["detail"], "%s: want %r in %r" % (name, contains, c["detail"]))
    if rc_want is not None:
        check(rc == rc_want, "exit %d, want %d" % (rc, rc_want))
    return checks


def main():
    global NOBODY_UID
    if os.geteuid() != 0:
        print("skipped: needs root (sshd -T, /etc/pam.d, setuid to nobody)")
        return 77
    for tool in (SSHD, shutil.which("ssh-keygen"), shutil.which("moto_server")):
        if tool is None or not os.path.exists(tool):
            print("skipped: sshd, ssh-keygen or moto_server is missing")
            return 77
    import pwd
    NOBODY_UID = pwd.getpwnam("nobody").pw_uid
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    suite = Suite("doctor")
    service = "stsrole-doctor-%d" % os.getpid()
    root = tempfile.mkdtemp(prefix="stsrole-doctor.")
    imds = ImdsStandIn()
    closed_port = free_port()  # nothing listens there: IMDS locked away
    skewed = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SkewedSts)
    threading.Thread(target=skewed.serve_forever, daemon=True).start()
    gw = None
    try:
        with Moto() as m:
            menv = m.seed(roles=ROLES)
            b = Bastion(root, menv, service, closed_port)
            from gwlib import Gateway
            gw = Gateway(b.conf, base_env(menv), log=os.path.join(root, "gatewayd.log")).start()

            def all_good():
                rc, checks, doc = b.doctor()
                bad = {n: c for n, c in checks.items() if not c["ok"]}
                check(not bad, "a good bastion has failing checks: %s" % json.dumps(bad, indent=1))
                want = {"config.path", "config.syntax", "config.roles", "usersfile",
                        "sshd.usepam", "sshd.authenticationmethods",
                        "sshd.permituserenvironment", "sshd.exposeauthinfo", "pam.auth",
                        "pam.faillock", "pam.skip", "pam.session", "pam.config", "imds", "clock",
                        "aws.base",
                        "aws.role:audit", "aws.revoker:audit", "aws.budget:audit", "gateway"}
                check(want <= set(checks), "missing checks: %s" % (want - set(checks)))
                check(rc == 0 and doc["ok"] is True and doc["failed"] == 0, "exit %d" % rc)

            suite.case("a good bastion: every check passes, exit 0", all_good)

            def text_lines():
                rc, out, err = b.doctor(json_out=False)
                lines = out.splitlines()
                check(rc == 0, "exit %d: %s %s" % (rc, out, err))
                check(all(ln.startswith("\u2713 ") for ln in lines[:-1]), out)
                check(lines[-1] == "0 checks failed", out)
                b.write_sshd(GOOD_SSHD[:-1] + ["ExposeAuthInfo no"])
                rc, out, err = b.doctor(json_out=False)
                bad = [ln for ln in out.splitlines() if ln.startswith("\u2717 ")]
                check(rc == 1 and len(bad) == 1 and "; fix: set \"ExposeAuthInfo yes\"" in bad[0],
                      out)
                b.reset()

            suite.case("text output: one line per check, the fix on the failing line", text_lines)

            def broken(name, breakit, contains=None, how="broken on purpose"):
                def run():
                    try:
                        breakit()
                        expect(b, name, False, contains=contains)
                    finally:
                        b.reset()
                    expect(b, name, True, rc_want=0)
                suite.case("%s: %s, then mended" % (name, how), run)

            # -- config and users file
            broken("config.path", lambda: os.chmod(b.etc, 0o775), "others can replace")

            def bad_syntax():
                b.write_conf("bogus_key = 1\n")
            broken("config.syntax", bad_syntax)

            def no_revoker():
                del b.role["revoker_arn"]
                b.write_conf()
            broken("config.roles", no_revoker, "revoker_arn")
            broken("usersfile", lambda: os.chmod(b.users, 0o644), "wants 0600", "mode 0644")
            broken("usersfile", lambda: write(b.users, "HOTP/T30 alice - nothex\n"),
                   "the entry of alice", "a secret that is not hex")

            # -- sshd -T
            def sshd_with(key, value):
                return lambda: b.write_sshd([ln for ln in GOOD_SSHD if not ln.startswith(key)]
                                            + ["%s %s" % (key, value)])
            broken("sshd.usepam", sshd_with("UsePAM", "no"), "UsePAM no")
            broken("sshd.authenticationmethods",
                   sshd_with("AuthenticationMethods", "publickey"), "AuthenticationMethods publickey",
                   "publickey alone")
            broken("sshd.authenticationmethods",
                   lambda: b.write_sshd(GOOD_SSHD[:1] + GOOD_SSHD[2:]), "AuthenticationMethods any",
                   "unset (any)")
            broken("sshd.permituserenvironment", sshd_with("PermitUserEnvironment", "yes"))
            broken("sshd.exposeauthinfo", sshd_with("ExposeAuthInfo", "no"))

            # -- the PAM stack
            broken("pam.auth", lambda: b.write_pam(
                [ln.replace("[success=1 default=bad] pam_stsrole", "optional pam_stsrole")
                 for ln in GOOD_PAM]), "'optional'")
            broken("pam.faillock", lambda: b.write_pam(GOOD_PAM[1:]), "preauth")
            broken("pam.skip", lambda: b.write_pam(["auth sufficient pam_permit.so"] + GOOD_PAM),
                   "pam_permit.so")
            broken("pam.session", lambda: b.write_pam(GOOD_PAM[:-1]), "not in the session stack")
            broken("pam.config", lambda: b.write_pam(GOOD_PAM, conf="/etc/stsrole/other.conf"),
                   "reads /etc/stsrole/other.conf")

            # -- IMDS as nobody
            def imds_open():
                b.settings["imds_endpoint"] = "http://127.0.0.1:%d" % imds.port
                b.write_conf()
            n0 = len(imds.uids)
            broken("imds", imds_open, "reachable as uid nobody")

            def probe_was_nobody():
                check(len(imds.uids) > n0, "the stand-in IMDS saw no connection")
                check(set(imds.uids[n0:]) == {NOBODY_UID},
                      "IMDS probed as uid %s, want nobody (%d)" % (imds.uids[n0:], NOBODY_UID))
            suite.case("imds: the probe connects as uid nobody, never as root", probe_was_nobody)

            # -- the clock: a stand-in STS whose Date is 10 minutes ahead
            def skew():
                b.settings["sts_endpoint"] = "http://127.0.0.1:%d" % skewed.server_address[1]
                b.write_conf()
            broken("clock", skew, "behind STS")

            # -- AWS
            broken("aws.base", lambda: b.write_creds("wrong-secret"), "GetCallerIdentity")

            def untrusted():
                b.role["arn"] = menv["roles"]["UntrustedRole"]
                b.write_conf()
            broken("aws.role:audit", untrusted, "AssumeRole")

            def weak_revoker():
                b.role["revoker_arn"] = menv["roles"]["WeakRevoker"]
                b.write_conf()
            broken("aws.revoker:audit", weak_revoker, "GetRolePolicy")

            def full_role():
                b.role["arn"] = menv["roles"]["FullRole"]
                b.write_conf()
            broken("aws.budget:audit", full_role, "no room")

            def break_glass():
                b.role.update(approvals="1", approvers="bob")
                b.write_conf()
                try:
                    rc, checks, doc = b.doctor()
                    c = checks.get("aws.role:audit", {})
                    check(c.get("ok") and "not assumed: break-glass" in c.get("detail", ""),
                          "break-glass role: %s" % c)
                    # credentials_mode = env here: no profile can serve it
                    c = checks.get("config.breakglass", {})
                    check(c.get("ok") is False and "credentials_mode = process" in
                          c.get("fix", "") + c.get("detail", ""), "config.breakglass: %s" % c)
                finally:
                    b.reset()
            suite.case("aws.role: a break-glass role is not dry-run (its approvals would be "
                       "bypassed); config.breakglass: it needs credentials_mode = process",
                       break_glass)

            # -- the gateway
            def gateway_down():
                gw.stop()
                try:
                    expect(b, "gateway", False, contains="not reachable")
                finally:
                    gw.start()
                expect(b, "gateway", True, rc_want=0)
            suite.case("gateway: broken on purpose, then mended", gateway_down)

            def read_only():
                before = {p: os.stat(p).st_mtime_ns for p in
                          (b.conf, b.users, b.sshd_config, "/etc/pam.d/%s" % service)}
                b.doctor()
                after = {p: os.stat(p).st_mtime_ns for p in before}
                check(before == after, "doctor changed a file")
            suite.case("doctor writes none of the files it checks", read_only)
    finally:
        if gw is not None:
            gw.kill9()
        imds.close()
        skewed.shutdown()
        try:
            os.unlink("/etc/pam.d/%s" % service)
        except FileNotFoundError:
            pass
        shutil.rmtree(root, ignore_errors=True)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
