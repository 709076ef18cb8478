#!/usr/bin/env python3
"""test_sshd.py: a real sshd on 127.0.0.1 with pam_stsrole, logged into with ssh, end to end.

Usage: python3 tests/integration/test_sshd.py [BUILDDIR]
  (default $STSROLE_BUILDDIR, else ./build under the source tree)

What it sets up, all removed again at the end:
- a temporary directory with an sshd_config, host keys, the stsrole config,
  the TOTP users file and the bastion's base credentials (file:);
- a symlink NAME -> /usr/sbin/sshd: sshd uses its program name as the PAM
  service (auth-pam.c: SSHD_PAM_SERVICE is __progname), so the stack lives
  in /etc/pam.d/NAME and the system's /etc/pam.d/sshd is left alone;
- two test users (useradd), one with a single role and one with two;
- moto (tests/lib/mototest.py) as STS, and a second plain sshd as the
  target behind the bastion for ssh -J.
Needs root, /usr/sbin/sshd, ssh, oathtool, /usr/bin/aws (Debian's awscli)
and pexpect.  Prints one line per case and "sshd-e2e: N passed, N failed".
"""
import json
import os
import pwd
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

SSHD = "/usr/sbin/sshd"
AWS = "/usr/bin/aws"
BASTION = "e2ebastion"
SECRET_A = "3132333435363738393031323334353637383930"
SECRET_B = "a1b2c3d4e5f60718293a4b5c6d7e8f9001122334"
MARK = "STSROLE-E2E"

passed = 0
failed = 0


def result(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok - %s" % name)
    else:
        failed += 1
        print("FAIL - %s%s" % (name, (": " + str(why)[-2500:]) if why else ""))
    sys.stdout.flush()


def finish(code):
    print("sshd-e2e: %d passed, %d failed" % (passed, failed))
    sys.exit(code)


def totp(secret, step_offset=0):
    args = ["oathtool", "--totp", secret]
    if step_offset:
        args += ["-N", "%+d sec" % (30 * step_offset)]
    return subprocess.check_output(args, text=True).strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write(path, text, mode=0o600, owner=None):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner[0], owner[1])


class Sshd:
    """One sshd -D -e under a given program name; ready once it says it listens."""

    def __init__(self, exe, config, log):
        self.log_path = log
        self.proc = subprocess.Popen([exe, "-D", "-e", "-f", config], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.lines = []
        end = time.monotonic() + 30
        # Reads sshd's own "Server listening" line: an event, not a delay.
        while time.monotonic() < end:
            r, _, _ = select.select([self.proc.stderr], [], [], end - time.monotonic())
            if not r:
                break
            ln = self.proc.stderr.readline().decode(errors="replace")
            if ln == "":
                break
            self.lines.append(ln)
            if "Server listening on 127.0.0.1" in ln:
                self.ready = True
                return
        self.ready = False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            rest = self.proc.stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            rest = ""
        with open(self.log_path, "w") as f:
            f.write("".join(self.lines) + rest)


def wait_pid_exit(pid, timeout=30):
    """Waits for a process we did not start to exit, through a pidfd (no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        r, _, _ = select.select([fd], [], [], timeout)
        return bool(r)
    finally:
        os.close(fd)


def ssh_login(pexpect, cfg, host, answers, command, timeout=90):
    """Runs ssh -F cfg host command, answering prompts in order.
    Returns (transcript, prompts_seen, exit status)."""
    child = pexpect.spawn("ssh", ["-F", cfg, host, command], encoding="utf-8",
                          timeout=timeout, echo=False)
    transcript = []
    prompts = []
    answers = list(answers)
    for _ in range(10):  # bounded: at most a few prompts per login
        i = child.expect([r"Verification code: ", r"Role \[1-\d+\]: ", pexpect.EOF,
                          pexpect.TIMEOUT])
        transcript.append(child.before or "")
        if i in (0, 1):
            prompts.append(child.after)
            if not answers:
                child.sendcontrol("c")
                child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=15)
                transcript.append(child.before or "")
                break
            child.sendline(answers.pop(0))
            continue
        break
    child.close()
    return "".join(transcript), prompts, child.exitstatus


def main():
    builddir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "STSROLE_BUILDDIR", os.path.join(TOP, "build"))
    module = os.path.join(os.path.abspath(builddir), "pam", ".libs", "pam_stsrole.so")
    why = None
    if os.geteuid() != 0:
        why = "needs root (useradd, /etc/pam.d, sshd)"
    elif not os.path.exists(module):
        why = "%s is not built" % module
    else:
        for tool in (SSHD, "ssh", "ssh-keygen", "oathtool", "useradd"):
            if shutil.which(tool) is None:
                why = "%s is missing" % tool
    if why is None and not os.path.exists(AWS):
        why = "%s is missing (apt-get install -y awscli)" % AWS
    try:
        import pexpect
    except ImportError:
        why = why or "pexpect is not installed for %s" % sys.executable
    try:
        from mototest import Moto
    except ImportError as e:
        why = why or "tests/lib/mototest.py: %s" % e
    if why:
        print("skipped: sshd-e2e: %s" % why)
        finish(0)

    tag = "%d" % os.getpid()
    service = "stsrole-e2e-%s" % tag
    pam_file = "/etc/pam.d/%s" % service
    user_a = "stse2ea%s" % tag[-6:]
    user_b = "stse2eb%s" % tag[-6:]
    root = tempfile.mkdtemp(prefix="stsrole-e2e.")
    os.chmod(root, 0o755)  # sshd and the users traverse it; secrets live in etc/ (0700)
    etc = os.path.join(root, "etc")
    os.makedirs(etc, mode=0o700)
    users_made = []
    sshds = []
    try:
        # sshd's privilege-separation directory.  Left in place afterwards:
        # it is the system's own, and other sshd instances may be using it.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        for u in (user_a, user_b):
            subprocess.run(["useradd", "-m", "-s", "/bin/sh", u], check=True)
            users_made.append(u)
            # "*": no password, but not "!" (locked), which a UsePAM=no sshd refuses.
            subprocess.run(["usermod", "-p", "*", u], check=True)

        # Keys: a host key per sshd, one client key for both users.
        for name in ("host1", "host2", "client"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            os.path.join(root, name)], check=True)
        pub = open(os.path.join(root, "client.pub")).read()
        for u in (user_a, user_b):
            pw = pwd.getpwnam(u)
            sshdir = os.path.join(pw.pw_dir, ".ssh")
            os.makedirs(sshdir, mode=0o700, exist_ok=True)
            os.chown(sshdir, pw.pw_uid, pw.pw_gid)
            write(os.path.join(sshdir, "authorized_keys"), pub, 0o600, (pw.pw_uid, pw.pw_gid))

        with Moto(log=os.path.join(root, "moto.log")) as m:
            menv = m.seed()
            roles = menv["roles"]
            write(os.path.join(etc, "users.oath"),
                  "HOTP/T30 %s - %s\nHOTP/T30 %s - %s\n" % (user_a, SECRET_A, user_b, SECRET_B))
            write(os.path.join(etc, "base-credentials"),
                  "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                  % (menv["base"]["AccessKeyId"], menv["base"]["SecretAccessKey"]))
            state = os.path.join(root, "state")
            conf = os.path.join(etc, "stsrole.conf")
            write(conf, "\n".join([
                "[stsrole]",
                "region = us-east-1",
                "sts_endpoint = %s" % m.url,
                "iam_endpoint = %s" % m.url,
                "credentials = file:%s" % os.path.join(etc, "base-credentials"),
                "usersfile = %s" % os.path.join(etc, "users.oath"),
                "state_dir = %s" % state,
                "audit_log = %s" % os.path.join(root, "audit.log"),
                "bastion_id = %s" % BASTION,
                "totp_window = 3",
                "",
                "[role SecurityAuditRole]",
                "arn = %s" % roles["SecurityAuditRole"],
                "users = %s %s" % (user_a, user_b),
                "",
                "[role IncidentResponseRole]",
                "arn = %s" % roles["IncidentResponseRole"],
                "users = %s" % user_b,
                "",
            ]))

            fl = os.path.join(root, "faillock")
            os.makedirs(fl, mode=0o700)
            fopts = "dir=%s deny=5 unlock_time=600" % fl
            write(pam_file, "\n".join([
                "# created by stsrole tests/integration/test_sshd.py; removed when it ends",
                "auth requisite pam_faillock.so preauth %s" % fopts,
                "auth [success=1 default=bad] %s conf=%s" % (module, conf),
                "auth [default=die] pam_faillock.so authfail %s" % fopts,
                "auth sufficient pam_faillock.so authsucc %s" % fopts,
                "auth required pam_deny.so",
                "account required pam_faillock.so %s" % fopts,
                "account required pam_unix.so",
                "session required pam_unix.so",
                "session required %s conf=%s" % (module, conf),
                "",
            ]), 0o644)

            bindir = os.path.join(root, "bin")
            os.makedirs(bindir)
            exe = os.path.join(bindir, service)
            os.symlink(SSHD, exe)
            p1, p2 = free_port(), free_port()
            common = ["ListenAddress 127.0.0.1", "UseDNS no", "PrintMotd no",
                      "PrintLastLog no", "PermitRootLogin no", "StrictModes yes",
                      "AllowUsers %s %s" % (user_a, user_b), "LogLevel VERBOSE",
                      "AuthorizedKeysFile .ssh/authorized_keys", "PasswordAuthentication no",
                      "AllowTcpForwarding yes"]
            write(os.path.join(root, "sshd1_config"), "\n".join(common + [
                "Port %d" % p1, "HostKey %s" % os.path.join(root, "host1"),
                "PidFile %s" % os.path.join(root, "sshd1.pid"),
                "UsePAM yes", "KbdInteractiveAuthentication yes",
                "AuthenticationMethods publickey,keyboard-interactive:pam"]) + "\n", 0o644)
            write(os.path.join(root, "sshd2_config"), "\n".join(common + [
                "Port %d" % p2, "HostKey %s" % os.path.join(root, "host2"),
                "PidFile %s" % os.path.join(root, "sshd2.pid"),
                "UsePAM no", "KbdInteractiveAuthentication no",
                "AuthenticationMethods publickey"]) + "\n", 0o644)
            t = Sshd(exe, os.path.join(root, "sshd1_config"), os.path.join(root, "sshd1.log"))
            sshds.append(t)
            t2 = Sshd(SSHD, os.path.join(root, "sshd2_config"), os.path.join(root, "sshd2.log"))
            sshds.append(t2)
            if not (t.ready and t2.ready):
                result("both sshd listen on 127.0.0.1", False,
                       "".join(t.lines) + "".join(t2.lines))
                return 1

            cfg = os.path.join(root, "ssh_config")
            host_opts = ["  HostName 127.0.0.1", "  IdentityFile %s" % os.path.join(root, "client"),
                         "  IdentitiesOnly yes",
                         "  UserKnownHostsFile %s" % os.path.join(root, "known_hosts"),
                         "  StrictHostKeyChecking no", "  LogLevel ERROR",
                         "  PreferredAuthentications publickey,keyboard-interactive",
                         "  NumberOfPasswordPrompts 1"]
            lines = []
            for u in (user_a, user_b):
                lines += ["Host bastion-%s" % u, "  Port %d" % p1, "  User %s" % u] + host_opts
                lines += ["Host target-%s" % u, "  Port %d" % p2, "  User %s" % u] + host_opts
            write(cfg, "\n".join(lines) + "\n")

            inside = ("echo %s-BEGIN; env | grep -E '^(AWS_|STSROLE_)' | sed 's/=.*//' | sort | "
                      "tr '\\n' ' '; echo; echo ROLE=$STSROLE_ROLE_ARN; echo SID=$STSROLE_SESSION_ID;"
                      " %s sts get-caller-identity --endpoint-url %s --query Arn --output text; "
                      "echo %s-END") % (MARK, AWS, m.url, MARK)

            # 1. Single-role user: key, then the code through keyboard-interactive.
            code = totp(SECRET_A)
            out, prompts, status = ssh_login(pexpect, cfg, "bastion-%s" % user_a, [code], inside)
            result("login: publickey then keyboard-interactive asks 'Verification code: ' once",
                   prompts == ["Verification code: "], "%s\n%s" % (prompts, out))
            result("login: the session runs (the PAM service is the symlink's name, %s)" % service,
                   ("%s-END" % MARK) in out and status == 0, out)
            names = set(re.findall(r"\b(AWS_[A-Z_]+|STSROLE_[A-Z_]+)\b",
                                   out.split("ROLE=")[0]))
            want = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                    "AWS_CREDENTIAL_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION",
                    "STSROLE_SESSION_ID", "STSROLE_ROLE_ARN"}
            result("session: every variable is in the login's environment",
                   want <= names, "missing %s" % (want - names))
            sid = (re.search(r"SID=([0-9a-f]{32})", out) or [None, ""])[1]
            arn_re = r"arn:aws:sts::%s:assumed-role/SecurityAuditRole/%s@%s\.%s" % (
                menv["workload_account"], user_a, BASTION, sid[:16])
            result("session: /usr/bin/aws sts get-caller-identity inside the login is %s" %
                   "assumed-role/SecurityAuditRole/<user>@<bastion>.<nonce>",
                   sid and re.search(arn_re, out) is not None, out)
            # close_session runs in the connection's monitor process as it exits.
            rec_path = os.path.join(state, "sessions", "%s.json" % sid)
            try:
                rec = json.load(open(rec_path))
                wait_pid_exit(rec.get("sshd_pid", 0))
                rec = json.load(open(rec_path))
                result("logout: close_session marked the record closed (sshd pid %s)" %
                       rec.get("sshd_pid"),
                       rec.get("closed", 0) > 0 and rec.get("user") == user_a
                       and rec.get("tty") and rec.get("rhost") == "127.0.0.1", rec)
            except (OSError, ValueError) as e:
                result("logout: the session record exists", False, e)

            # 2. The same code again is refused.
            out, prompts, status = ssh_login(pexpect, cfg, "bastion-%s" % user_a, [code],
                                             "echo %s-END" % MARK)
            result("login: a reused code is refused",
                   ("%s-END" % MARK) not in out and status != 0 and
                   prompts[:1] == ["Verification code: "], "%s %s\n%s" % (status, prompts, out))

            # 3. Two roles: chosen during keyboard-interactive, used by open_session.
            code_b = totp(SECRET_B)
            out, prompts, status = ssh_login(pexpect, cfg, "bastion-%s" % user_b, [code_b, "2"],
                                             inside)
            arn_re = r"arn:aws:sts::%s:assumed-role/IncidentResponseRole/%s@%s\." % (
                menv["workload_account"], user_b, BASTION)
            result("login: a user with two roles picks one from the numbered list at login",
                   prompts == ["Verification code: ", "Role [1-2]: "]
                   and re.search(arn_re, out) is not None
                   and "ROLE=%s" % roles["IncidentResponseRole"] in out,
                   "%s\n%s" % (prompts, out))

            # 4. ssh -J through the bastion to the second sshd.
            code = totp(SECRET_A, 1)
            child_cmd = ["-F", cfg, "-J", "bastion-%s" % user_a, "target-%s" % user_a,
                         "echo %s-TARGET $SSH_CONNECTION" % MARK]
            child = pexpect.spawn("ssh", child_cmd, encoding="utf-8", timeout=90, echo=False)
            seen = []
            for _ in range(5):
                i = child.expect([r"Verification code: ", pexpect.EOF, pexpect.TIMEOUT])
                seen.append(child.before or "")
                if i == 0:
                    child.sendline(code)
                    continue
                break
            child.close()
            out = "".join(seen)
            result("ssh -J through the bastion reaches the second sshd (port %d)" % p2,
                   re.search(r"%s-TARGET 127\.0\.0\.1 \d+ 127\.0\.0\.1 %d" % (MARK, p2), out)
                   is not None and child.exitstatus == 0, out)
    finally:
        for s in sshds:
            s.stop()
        for u in users_made:
            subprocess.run(["userdel", "-r", "-f", u], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if os.path.exists(pam_file):
            os.unlink(pam_file)
        if failed and os.environ.get("KEEP_E2E"):
            print("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    rc = main()
    finish(rc or (1 if failed else 0))
