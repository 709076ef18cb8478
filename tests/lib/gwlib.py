# SPDX-License-Identifier: BSD-3-Clause
"""gwlib.py: helpers for the gateway tests: session records, the daemon (Gateway: the one
starter every suite uses), the CLI, the audit log.

Session records are written here in lib/session.c's JSON form (version 1), atomically (temp
file, fsync, rename, fsync of the directory), just as pam_stsrole writes them.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from harness import build_dir, wait_for  # noqa: F401 - also gwlib's API

SESSION_VERSION = 1


def gatewayd_path():
    return os.environ.get("STSROLE_GATEWAYD",
                          os.path.join(build_dir(), "gateway", "stsrole-gatewayd"))


def stsrolectl_path():
    return os.environ.get("STSROLECTL", os.path.join(build_dir(), "gateway", "stsrolectl"))


def missing_for_sessions(aws="/usr/bin/aws"):
    """Why a suite of real sshd sessions in credentials_mode = process cannot run here, or None:
    sshdtest's prerequisites, the AWS CLI the sessions run, moto, and the programs built."""
    try:
        from sshdtest import missing_prerequisite
    except ImportError as e:
        return str(e)
    why = missing_prerequisite()
    if why is not None:
        return why
    if not os.path.exists(aws):
        return "%s is missing (apt-get install awscli)" % aws
    if shutil.which("moto_server") is None:
        return "moto_server is missing"
    for path in (gatewayd_path(), os.path.join(build_dir(), "gateway", "stsrolectl"),
                 os.path.join(build_dir(), "gateway", "stsrole-credential-process"),
                 os.path.join(build_dir(), "pam", ".libs", "pam_stsrole.so")):
        if not os.path.exists(path):
            return "%s is not built" % path
    return None


def _write_atomic(path, data):
    d = os.path.dirname(path)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def sid_of(session_id):
    """The stsrole:sid of a session (lib/policy.c): its first 60 bits in base32, lower case."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    bits = int(session_id[:15], 16)
    return "".join(alphabet[(bits >> (5 * (11 - i))) & 31] for i in range(12))


def session_record(user, role_name, role_arn, assumed_role_id, access_key_id, expiration,
                   sshd_pid=0, session_id=None, opened=None, rhost="192.0.2.10", tty="pts/1",
                   tagged=False):
    """tagged: the credential carries the stsrole:sid tag (records before sids do not)."""
    sid = session_id or secrets.token_hex(16)
    rec = {
        "version": SESSION_VERSION, "session_id": sid, "user": user, "uid": 1000,
        "rhost": rhost, "tty": tty, "sshd_pid": sshd_pid, "role_name": role_name,
        "role_arn": role_arn, "assumed_role_id": assumed_role_id,
        "session_name": assumed_role_id.split(":", 1)[1], "access_key_id": access_key_id,
        "expiration": int(expiration), "source_identity": user, "aws_request_id": None,
        "opened": int(opened if opened is not None else time.time()), "closed": 0,
    }
    if tagged:
        rec["sid"] = sid_of(sid)
    return rec


def write_session(state_dir, rec):
    d = os.path.join(state_dir, "sessions")
    os.makedirs(d, mode=0o700, exist_ok=True)
    _write_atomic(os.path.join(d, rec["session_id"] + ".json"),
                  (json.dumps(rec) + "\n").encode())


def close_session(state_dir, rec, when=None):
    rec = dict(rec, closed=int(when or time.time()))
    write_session(state_dir, rec)
    return rec


def deny_sids(iam, role, policy):
    """The stsrole:sid values that the deny policy `policy` on `role` names, read with a boto3
    IAM client (empty when the role has no such policy)."""
    try:
        doc = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    except iam.exceptions.NoSuchEntityException:
        return []
    if isinstance(doc, str):
        doc = json.loads(doc)
    for st in doc.get("Statement", []):
        if st.get("Sid") == "StsroleSid":
            v = st["Condition"]["StringEquals"]["aws:PrincipalTag/stsrole:sid"]
            return v if isinstance(v, list) else [v]
    return []


def fake_userid(tag, n, long=False):
    """An aws:userid as STS issues it: AROA + 17 characters, ':', a session name."""
    name = "%s@b1.%s" % (tag, secrets.token_hex(8))
    if long:
        name = (name + "-" * 64)[:60] + "%04d" % n
    return "AROAFAKE%013d:%s" % (n, name)


def audit_lines(path):
    """The audit log's complete records: a last line still being written (no newline yet) is
    left for the next read."""
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.endswith("\n") and line.strip()]
    except FileNotFoundError:
        return []


class Gateway:
    """stsrole-gatewayd in the foreground, with a stand-in for systemd's notify socket: a thread
    reads every sd_notify message (as systemd would), and start() returns on READY=1."""

    def __init__(self, conf, env, args=(), log=None, exe=None, prefix=()):
        self.exe = exe  # default: gatewayd_path(), when started
        self.conf = conf
        self.env = dict(env)
        self.args = list(args)
        self.prefix = list(prefix)  # e.g. ip netns exec NS
        self.proc = None
        self.log = log
        self.notify = None
        self.msgs = []
        self.cond = threading.Condition()
        self.reader = None

    def _read(self, sock):
        while True:
            try:
                data = sock.recv(4096)
            except OSError:
                return
            if not data:
                return
            with self.cond:
                self.msgs.append(data.decode(errors="replace"))
                self.cond.notify_all()

    def wait_message(self, line, timeout=20.0, since=0):
        """Waits until an sd_notify message at index >= since holds `line`; returns its index."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(since, len(self.msgs)):
                    if line in self.msgs[i].split("\n"):
                        return i
                left = end - time.monotonic()
                if left <= 0 or (self.proc is not None and self.proc.poll() is not None):
                    return None
                self.cond.wait(min(left, 0.5))

    def launch(self, timeout=20.0):
        """Starts the daemon; True once it has signalled READY=1, False if it did not (it may
        have refused to start: see proc)."""
        ndir = tempfile.mkdtemp(prefix="gw-notify-")
        path = os.path.join(ndir, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(path)
        self.msgs = []
        self.reader = threading.Thread(target=self._read, args=(self.notify,), daemon=True)
        self.reader.start()
        env = dict(self.env, NOTIFY_SOCKET=path)
        argv = self.prefix + [self.exe or gatewayd_path(), "--config", self.conf] + self.args
        if self.log:
            with open(self.log, "ab") as out:
                self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=out)
        else:
            self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        return self.wait_message("READY=1", timeout) is not None

    def start(self, timeout=20.0):
        """launch(), or an AssertionError when READY=1 does not come; returns self."""
        if self.launch(timeout):
            return self
        rc = self.proc.poll()
        self.kill9()
        raise AssertionError("gateway did not signal READY=1 (exit %s)" % rc)

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._close()

    def stop(self, timeout=20.0):
        rc = None
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=timeout)
        self._close()
        return rc

    def _close(self):
        if self.notify is not None:
            path = self.notify.getsockname()
            self.notify.shutdown(socket.SHUT_RDWR)
            self.notify.close()
            self.notify = None
            try:
                os.unlink(path)
                os.rmdir(os.path.dirname(path))
            except OSError:
                pass


def ctl(conf, *args, env=None):
    p = subprocess.run([stsrolectl_path(), "--config", conf] + list(args), env=env,
                       capture_output=True, text=True, timeout=180)
    return p.returncode, p.stdout, p.stderr
