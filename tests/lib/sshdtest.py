# SPDX-License-Identifier: BSD-3-Clause
"""sshdtest.py: a throw-away sshd on 127.0.0.1 under its own PAM service name, test users with an
ssh key and a TOTP secret, and an ssh login (pexpect) that answers the PAM prompts.

Shared by tests/integration/test_sshd.py, tests/bench/bench_login.py and examples/demo/run:

    from sshdtest import Lab, ssh_login, totp
    with Lab("e2e") as lab:
        u = lab.add_user()                       # useradd, authorized_keys, a fresh TOTP secret
        lab.write_usersfile()                    # etc/users.oath in pam_oath's format
        exe = lab.pam_service("stsrole-e2e-42", stsrole_stack(module, conf))
        s = lab.start_sshd(exe)                  # sshd -D -e on 127.0.0.1, a free port
        cfg = lab.ssh_config({"bastion": (s, u)})
        r = ssh_login(cfg, "bastion", [totp(u.secret)], "echo ok")

Why a symlink: sshd uses its program name as the PAM service (auth-pam.c:
SSHD_PAM_SERVICE is __progname), so the stack lives in /etc/pam.d/NAME and
the system's own /etc/pam.d/sshd is never touched.

Everything the Lab creates (users, groups, /etc/pam.d files, sshd processes,
its temporary directory) is removed again by close() / the with-block.
Needs root, /usr/sbin/sshd, ssh, ssh-keygen, useradd and, for logins, pexpect.
"""
import os
import pwd
import select
import shutil
import subprocess
import tempfile
import threading
import time

from harness import free_port, rmtree_unless_kept, totp  # noqa: F401 - totp: sshdtest's API

SSHD = "/usr/sbin/sshd"
PAM_OATH = "/lib/x86_64-linux-gnu/security/pam_oath.so"
TOOLS = (SSHD, "ssh", "ssh-keygen", "oathtool", "useradd", "userdel", "groupadd", "groupdel")

# The prompts a login may meet: pam_stsrole's code and role choice, and
# pam_oath's own (it has no option to change its text).
PROMPT_CODE = r"Verification code: "
PROMPT_ROLE = r"Role \[1-\d+\]: "
PROMPT_OATH = r"One-time password \(OATH\) for `[^']*': "
PROMPTS = (PROMPT_CODE, PROMPT_ROLE, PROMPT_OATH)
# sshd's default MaxStartups 10:30:100 drops unauthenticated connections
# beyond 10 at random; a bastion expecting bursts of logins raises it (as
# examples/bastion/sshd_config.d-stsrole.conf does), and so do the tests that
# log many people in at once (start_sshd(extra=(BURST,))).
BURST = "MaxStartups 100:30:200"


class SetupError(RuntimeError):
    """The fixture could not be built (not a test failure of the module)."""


def missing_prerequisite(tools=TOOLS, need_pexpect=True):
    """Returns why the fixture cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (useradd, /etc/pam.d, sshd)"
    for tool in tools:
        if shutil.which(tool) is None:
            return "%s is missing" % tool
    if need_pexpect:
        try:
            import pexpect  # noqa: F401
        except ImportError:
            return "pexpect is not installed"
    return None


def new_secret():
    """A fresh 160-bit TOTP secret, hex as pam_oath's users file wants."""
    return os.urandom(20).hex()


def write(path, text, mode=0o600, owner=None):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner[0], owner[1])


def wait_pid_exit(pid, timeout=30):
    """Waits for a process we did not start to exit, through a pidfd (no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except (ProcessLookupError, OSError):
        return True
    try:
        r, _, _ = select.select([fd], [], [], timeout)
        return bool(r)
    finally:
        os.close(fd)


def stsrole_stack(module, conf, faillock_dir=None):
    """pam_stsrole's sshd stack (as in pam_stsrole(8)); with pam_faillock when a dir is given."""
    if faillock_dir is None:
        auth = ["auth required %s conf=%s" % (module, conf)]
        acct = []
    else:
        fopts = "dir=%s deny=5 unlock_time=600" % faillock_dir
        auth = ["auth requisite pam_faillock.so preauth %s" % fopts,
                "auth [success=1 default=bad] %s conf=%s" % (module, conf),
                "auth [default=die] pam_faillock.so authfail %s" % fopts,
                "auth sufficient pam_faillock.so authsucc %s" % fopts,
                "auth required pam_deny.so"]
        acct = ["account required pam_faillock.so %s" % fopts]
    return auth + acct + ["account required pam_unix.so",
                          "session required pam_unix.so",
                          "session required %s conf=%s" % (module, conf)]


def oath_stack(usersfile, window=3, digits=6):
    """The same stack with Debian's pam_oath for the code and nothing in session."""
    return ["auth required %s usersfile=%s window=%d digits=%d" % (PAM_OATH, usersfile, window,
                                                                    digits),
            "account required pam_unix.so",
            "session required pam_unix.so"]


class User:
    def __init__(self, name, secret):
        pw = pwd.getpwnam(name)
        self.name = name
        self.secret = secret
        self.uid = pw.pw_uid
        self.gid = pw.pw_gid
        self.home = pw.pw_dir

    def __repr__(self):
        return "User(%s)" % self.name


class Sshd:
    """One `sshd -D -e` under a given program name.

    A thread drains its stderr (so a chatty sshd never blocks on a full
    pipe) and signals readiness on sshd's own "Server listening" line: an
    event, not a delay."""

    def __init__(self, exe, config, log, port, prefix=()):
        self.exe = exe
        self.config = config
        self.log_path = log
        self.port = port
        self.lines = []
        self._listening = threading.Event()
        self.proc = subprocess.Popen(list(prefix) + [exe, "-D", "-e", "-f", config],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()
        self.ready = self._listening.wait(30)

    def _read(self):
        for raw in self.proc.stderr:
            ln = raw.decode(errors="replace")
            self.lines.append(ln)
            if "Server listening on 127.0.0.1" in ln:
                self._listening.set()
        self._listening.set()  # EOF: sshd died; ready stays as the listening line said

    def log(self):
        return "".join(self.lines)

    def children(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def wait_idle(self, timeout=30):
        """Waits until every per-connection sshd has exited (close_session included)."""
        end = time.monotonic() + timeout
        for _ in range(100):  # bounded: each pass waits on the exits of real processes
            kids = self.children()
            if not kids:
                return True
            for pid in kids:
                if not wait_pid_exit(pid, max(0.0, end - time.monotonic())):
                    return False
        return not self.children()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._drain.join(timeout=10)
        with open(self.log_path, "w") as f:
            f.write(self.log())


class Lab:
    """A temporary directory, test users, PAM services and sshds; all undone by close()."""

    def __init__(self, tag="sshd"):
        self.tag = tag
        self.pid6 = ("%d" % os.getpid())[-6:]
        self.root = tempfile.mkdtemp(prefix="stsrole-%s." % tag)
        # sshd and the users traverse root; secrets live in etc/ (0700).
        os.chmod(self.root, 0o755)
        self.etc = os.path.join(self.root, "etc")
        os.makedirs(self.etc, mode=0o700)
        self.bin = os.path.join(self.root, "bin")
        os.makedirs(self.bin)
        self.usersfile = os.path.join(self.etc, "users.oath")
        self.state = os.path.join(self.root, "state")
        self.users = []
        self.groups = []
        self.pam_files = []
        self.sshds = []
        self.keep = False
        self._n = 0
        # sshd's privilege-separation directory.  Left in place afterwards:
        # it is the system's own, and other sshd instances may be using it.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.client_key = os.path.join(self.root, "client")
        self._keygen(self.client_key)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def _keygen(path):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)

    # -- users --------------------------------------------------------------
    def add_group(self, name=None):
        name = name or "sts%s%sg" % (self.tag[:6], self.pid6)
        subprocess.run(["groupadd", name], check=True)
        self.groups.append(name)
        return name

    def add_user(self, name=None, secret=None, groups=()):
        """A login user with the Lab's client key and its own TOTP secret."""
        self._n += 1
        name = name or "sts%s%s%02d" % (self.tag[:6], self.pid6, self._n)
        args = ["useradd", "-m", "-s", "/bin/sh"]
        if groups:
            args += ["-G", ",".join(groups)]
        subprocess.run(args + [name], check=True)
        self.users.append(name)
        # "*": no password, but not "!" (locked), which a UsePAM=no sshd refuses.
        subprocess.run(["usermod", "-p", "*", name], check=True)
        u = User(name, secret or new_secret())
        sshdir = os.path.join(u.home, ".ssh")
        os.makedirs(sshdir, mode=0o700, exist_ok=True)
        os.chown(sshdir, u.uid, u.gid)
        with open(self.client_key + ".pub") as f:
            write(os.path.join(sshdir, "authorized_keys"), f.read(), 0o600, (u.uid, u.gid))
        return u

    def write_usersfile(self, users, path=None):
        """pam_oath's users file, root 0600 (both modules insist).  Rewriting it
        starts every user afresh: liboath keeps the replay state in this file."""
        path = path or self.usersfile
        write(path, "".join("HOTP/T30 %s - %s\n" % (u.name, u.secret) for u in users))
        return path

    # -- stsrole ------------------------------------------------------------
    def stsrole_conf(self, menv, roles, bastion_id, **keys):
        """stsrole.conf against moto (tests/lib/mototest.py) with file: base credentials.
        roles: {NAME: {"arn": ..., "users": ..., "groups": ...}}.  Returns its path."""
        creds = os.path.join(self.etc, "base-credentials")
        write(creds, "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
              % (menv["base"]["AccessKeyId"], menv["base"]["SecretAccessKey"]))
        settings = {"region": menv["region"], "sts_endpoint": menv["url"],
                    "iam_endpoint": menv["url"], "credentials": "file:%s" % creds,
                    "usersfile": self.usersfile, "state_dir": self.state,
                    "audit_log": os.path.join(self.root, "audit.log"),
                    "bastion_id": bastion_id}
        settings.update(keys)
        lines = ["[stsrole]"] + ["%s = %s" % kv for kv in settings.items()]
        for name, spec in roles.items():
            lines += ["", "[role %s]" % name] + ["%s = %s" % kv for kv in spec.items()]
        conf = os.path.join(self.etc, "stsrole.conf")
        write(conf, "\n".join(lines) + "\n")
        return conf

    # -- PAM and sshd -------------------------------------------------------
    def pam_service(self, name, stack):
        """Writes /etc/pam.d/NAME and returns an sshd symlink called NAME."""
        path = "/etc/pam.d/%s" % name
        if os.path.lexists(path):
            raise SetupError("%s exists already; refusing to replace it" % path)
        write(path, "# created by stsrole tests/lib/sshdtest.py; removed when the test ends\n"
              + "\n".join(stack) + "\n", 0o644)
        self.pam_files.append(path)
        exe = os.path.join(self.bin, name)
        os.symlink(SSHD, exe)
        return exe

    def start_sshd(self, exe=SSHD, pam=True, users=None, extra=(), prefix=()):
        """sshd on 127.0.0.1 at a free port with its own host key and config.
        pam=True: publickey then keyboard-interactive through PAM; else key only.
        users: the AllowUsers list (default: every Lab user so far).
        prefix: run it under another command (e.g. ip netns exec NS)."""
        n = len(self.sshds) + 1
        host = os.path.join(self.root, "host%d" % n)
        self._keygen(host)
        port = free_port()
        allow = [u.name if isinstance(u, User) else u for u in (users or self.users)]
        lines = ["ListenAddress 127.0.0.1", "Port %d" % port, "HostKey %s" % host,
                 "PidFile %s" % os.path.join(self.root, "sshd%d.pid" % n),
                 "UseDNS no", "PrintMotd no", "PrintLastLog no", "PermitRootLogin no",
                 "StrictModes yes", "AllowUsers %s" % " ".join(allow), "LogLevel VERBOSE",
                 "AuthorizedKeysFile .ssh/authorized_keys", "PasswordAuthentication no",
                 "AllowTcpForwarding yes"]
        if pam:
            lines += ["UsePAM yes", "KbdInteractiveAuthentication yes",
                      "AuthenticationMethods publickey,keyboard-interactive:pam"]
        else:
            lines += ["UsePAM no", "KbdInteractiveAuthentication no",
                      "AuthenticationMethods publickey"]
        config = os.path.join(self.root, "sshd%d_config" % n)
        write(config, "\n".join(lines + list(extra)) + "\n", 0o644)
        s = Sshd(exe, config, os.path.join(self.root, "sshd%d.log" % n), port, prefix)
        self.sshds.append(s)
        if not s.ready:
            raise SetupError("sshd (%s) did not listen on 127.0.0.1:%d:\n%s"
                             % (os.path.basename(exe), port, s.log()))
        return s

    def ssh_config(self, hosts):
        """An ssh_config with one Host ALIAS per {ALIAS: (Sshd, User)}; returns its path."""
        lines = []
        for alias, (sshd, user) in hosts.items():
            lines += ["Host %s" % alias, "  HostName 127.0.0.1", "  Port %d" % sshd.port,
                      "  User %s" % (user.name if isinstance(user, User) else user),
                      "  IdentityFile %s" % self.client_key, "  IdentitiesOnly yes",
                      "  UserKnownHostsFile %s" % os.path.join(self.root, "known_hosts"),
                      "  StrictHostKeyChecking no", "  LogLevel ERROR",
                      "  PreferredAuthentications publickey,keyboard-interactive",
                      "  NumberOfPasswordPrompts 1"]
        path = os.path.join(self.root, "ssh_config")
        write(path, "\n".join(lines) + "\n")
        return path

    def close(self):
        for s in self.sshds:
            s.stop()
        for u in self.users:
            subprocess.run(["userdel", "-r", "-f", u], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        for g in self.groups:
            subprocess.run(["groupdel", g], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for p in self.pam_files:
            if os.path.exists(p):
                os.unlink(p)
        self.users, self.groups, self.pam_files, self.sshds = [], [], [], []
        if self.keep:
            print("kept %s" % self.root)
        else:
            rmtree_unless_kept(self.root)


class Login:
    """What one ssh run showed: transcript, prompts met, exit status, wall seconds."""

    def __init__(self, out, prompts, status, seconds):
        self.out = out
        self.prompts = prompts
        self.status = status
        self.seconds = seconds


def ssh_login(cfg, dest, answers, command, ssh_args=(), timeout=90, prompts=PROMPTS,
              gate=None):
    """Runs `ssh -F cfg [ssh_args] dest command`, answering prompts in order.

    seconds runs from spawning ssh to its exit.  pexpect's send and close
    delays are turned off so they do not count (they are sleeps).  gate, when
    given, is called before each answer is sent (e.g. a threading.Barrier's
    wait, so that many logins answer at the same moment)."""
    import pexpect

    t0 = time.perf_counter()
    child = pexpect.spawn("ssh", ["-F", cfg] + list(ssh_args) + [dest, command],
                          encoding="utf-8", timeout=timeout, echo=False)
    child.delaybeforesend = None
    transcript = []
    seen = []
    answers = list(answers)
    pats = list(prompts) + [pexpect.EOF, pexpect.TIMEOUT]
    eof = False
    for _ in range(10):  # bounded: at most a few prompts per login
        i = child.expect(pats)
        transcript.append(child.before or "")
        if i < len(prompts):
            seen.append(child.after)
            if not answers:
                child.sendcontrol("c")
                eof = child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=15) == 0
                transcript.append(child.before or "")
                break
            if gate is not None:
                gate()
            child.sendline(answers.pop(0))
            continue
        eof = i == len(prompts)
        break
    if eof:
        # All output is read, so waiting for the exit cannot block on the pty.
        if child.isalive():
            child.wait()
        child.ptyproc.delayafterclose = 0  # reaped already: nothing to wait for
    seconds = time.perf_counter() - t0
    child.close(force=True)
    return Login("".join(transcript), seen, child.exitstatus, seconds)


def at_once(jobs, timeout=120):
    """Runs each job(gate) in its own thread; gate() returns once every job has
    called it (say, when every login is at its prompt, or about to start), so
    the jobs go on from there at the same moment.  Returns the jobs' results
    (an exception for a job that raised)."""
    barrier = threading.Barrier(len(jobs), timeout=timeout)
    results = [None] * len(jobs)

    def run(i, job):
        try:
            results[i] = job(barrier.wait)
        except threading.BrokenBarrierError as e:
            results[i] = e
        except Exception as e:  # noqa: BLE001 - reported by the case
            results[i] = e
            barrier.abort()  # one login died before its prompt: do not wait for it

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 60)
    return results
