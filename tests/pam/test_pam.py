#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_pam.py: the PAM stack tests for pam_stsrole, driven through pam_start_confdir.

Run by tests/pam/run.sh, which builds tests/pam/pamdrive.c and passes:
  PAMDRIVE   the driver binary
  PAM_MODULE the built pam_stsrole.so
Needs root (the users file and config must be root-owned).  Uses the
existing system accounts nobody, daemon and bin as test users, moto
(tests/lib/mototest.py) for AssumeRole, and tests/stub/stsstub.py for
every failure moto cannot produce.  Prints one line per case and
"pam: N passed, N failed".
"""
import concurrent.futures
import fcntl
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from harness import Suite, rmtree_unless_kept, totp, wrong_code as wrong_code_of  # noqa: E402

PAMDRIVE = os.environ.get("PAMDRIVE")
MODULE = os.environ.get("PAM_MODULE")
# An --enable-sanitizers module needs the ASan runtime loaded first.
PRELOAD = os.environ.get("PAMDRIVE_PRELOAD", "")
STUB = os.path.join(TOP, "tests", "stub", "stsstub.py")

# RFC 6238's test secret and two others, hex as pam_oath's users file wants.
SECRETS = {
    "nobody": "3132333435363738393031323334353637383930",
    "daemon": "00112233445566778899aabbccddeeff00112233",
    "bin": "0badc0de0badc0de0badc0de0badc0de0badc0de",
}
BASTION = "testbastion"
ENV_VARS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
            "AWS_CREDENTIAL_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION",
            "STSROLE_SESSION_ID", "STSROLE_ROLE_ARN"]

S = Suite("pam")
result = S.result
skip = S.skip


class Run:
    """One pamdrive invocation: its stdout lines, rc per op, syslog lines."""

    def __init__(self, out, log, status):
        self.lines = out.splitlines()
        self.log = log.splitlines()
        self.status = status
        self.rc = {}
        self.env = {}
        for ln in self.lines:
            m = re.match(r"^(\S+) rc=(-?\d+) (\S+)$", ln)
            if m:
                self.rc.setdefault(m.group(1), []).append(m.group(3))
            elif ln.startswith("env "):
                k, _, v = ln[4:].partition("=")
                self.env[k] = v

    def code(self, op, i=-1):
        return self.rc.get(op, ["(not run)"])[i]

    def stsrole_log(self):
        return [ln for ln in self.log if "pam_stsrole(" in ln]

    def says(self, text):
        return any(text in ln for ln in self.lines)


class World:
    """A temporary /etc/stsrole, state dir and PAM service directory."""

    def __init__(self, root):
        self.root = root
        self.etc = os.path.join(root, "etc")
        self.state = os.path.join(root, "state")
        self.pamd = os.path.join(root, "pam.d")
        self.log = os.path.join(root, "syslog")
        for d in (self.etc, self.pamd):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.usersfile = os.path.join(self.etc, "users.oath")
        self.conf = os.path.join(self.etc, "stsrole.conf")
        self.write_users()
        # Libpam reads "other" when a service is missing; keep it quiet and closed.
        self.service("other", "auth required pam_deny.so\nsession required pam_deny.so\n")

    def write_users(self):
        fd = os.open(self.usersfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            for user, secret in SECRETS.items():
                f.write("HOTP/T30 %s - %s\n" % (user, secret))
        os.chmod(self.usersfile, 0o600)

    def config(self, sts_endpoint, roles, path=None, **keys):
        settings = {"region": "us-east-1", "sts_endpoint": sts_endpoint, "credentials": "env",
                    "usersfile": self.usersfile, "state_dir": self.state,
                    "audit_log": "%s/audit.log" % self.root, "bastion_id": BASTION,
                    "timeout": 2, "totp_window": 5}
        settings.update(keys)
        lines = ["[stsrole]"] + ["%s = %s" % kv for kv in settings.items()]
        for name, spec in roles.items():
            lines += ["", "[role %s]" % name] + ["%s = %s" % kv for kv in spec.items()]
        path = path or self.conf
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(path, 0o600)
        return path

    def service(self, name, text):
        with open(os.path.join(self.pamd, name), "w") as f:
            f.write(text)
        return name

    def stsrole_service(self, name="stsrole-test", conf=None, extra_args=""):
        line = "%s %s conf=%s%s" % ("%s", MODULE, conf or self.conf,
                                    (" " + extra_args) if extra_args else "")
        return self.service(name, "\n".join([
            line % "auth required",
            line % "session required",
        ]) + "\n")

    def drive(self, user, ops, answers=(), env=None, rhost="192.0.2.10", tty="ssh",
              service="stsrole-test", noprompt=False, wrap=None, timeout=120, log=None,
              ticket=True):
        """ticket: a session opened without "auth" first gets the ticket that
        auth would leave (pamdrive's ticket=STATE_DIR, written into
        self.state, or into ticket when it is a path); False leaves it out."""
        ops = list(ops)
        if ticket and "open" in ops and "auth" not in ops[:ops.index("open")]:
            ops.insert(ops.index("open"), "ticket=%s" % (ticket if isinstance(ticket, str)
                                                         else self.state))
        log = log or self.log
        if os.path.exists(log):
            os.unlink(log)
        cmd = [PAMDRIVE, "-c", self.pamd, "-s", service, "-u", user, "-l", log]
        if rhost:
            cmd += ["-r", rhost]
        if tty:
            cmd += ["-t", tty]
        for a in answers:
            cmd += ["-a", a]
        if noprompt:
            cmd.append("-n")
        cmd += list(ops)
        if wrap:
            cmd = wrap + cmd
        if PRELOAD:
            env = dict(env if env is not None else os.environ)
            env["LD_PRELOAD"] = PRELOAD
            env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=98")
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        text = open(log).read() if os.path.exists(log) else ""
        r = Run(p.stdout, text, p.returncode)
        r.stderr = p.stderr
        if PRELOAD and p.returncode != 0:
            result("sanitizers: %s %s exits cleanly" % (user, " ".join(ops)), False,
                   p.stderr[-3000:])
        return r


def fresh_code(user, used):
    """The next unused code for user.  liboath refuses any code at or before
    the last one it accepted, so successive logins take successive time
    steps (now, now+30s, ...) instead of waiting for the clock; the
    tests' totp_window (5) accepts them."""
    off = used.get(user, 0)
    used[user] = off + 1
    return totp(SECRETS[user], off)


def wrong_code(user):
    """A 6-digit code that no step within +-8 of now produces."""
    return wrong_code_of(SECRETS[user], 8)


def secret_leaked(run, secrets):
    blob = "\n".join(run.log)
    return [s for s in secrets if s and s in blob]


def exported_symbols():
    out = subprocess.run(["nm", "-D", "--defined-only", MODULE], capture_output=True, text=True)
    syms = [ln.split()[-1] for ln in out.stdout.splitlines() if ln.strip()]
    bad = [s for s in syms if not s.startswith("pam_sm_")]
    result("only pam_sm_* symbols are exported (%s)" % " ".join(sorted(syms)),
           out.returncode == 0 and syms and not bad, "also exported: %s" % bad)


# ---------------------------------------------------------------- auth ---

def auth_tests(w, used):
    w.config("http://127.0.0.1:1", {"Audit": {"arn": "arn:aws:iam::222222222222:role/A",
                                              "users": "nobody"}}, totp_window=1)
    w.stsrole_service()

    code = fresh_code("nobody", used)
    r = w.drive("nobody", ["auth"], [code])
    logl = r.stsrole_log()
    result("auth: a code from oathtool --totp succeeds",
           r.code("auth") == "PAM_SUCCESS" and r.says("prompt-off: Verification code: "),
           "%s %s" % (r.code("auth"), r.lines))
    result("auth: one syslog line at LOG_AUTHPRIV naming user, rhost and outcome",
           len(logl) == 1 and "facility=80" in logl[0] and "user=nobody" in logl[0]
           and "rhost=192.0.2.10" in logl[0] and "outcome=success" in logl[0]
           and code not in logl[0], str(logl))
    r = w.drive("nobody", ["auth"], [code])
    result("auth: the same code again is refused (PAM_AUTH_ERR, replay)",
           r.code("auth") == "PAM_AUTH_ERR" and "replay" in " ".join(r.stsrole_log()),
           "%s %s" % (r.code("auth"), r.stsrole_log()))

    r = w.drive("nobody", ["auth"], [wrong_code("nobody")])
    result("auth: a wrong code is refused (PAM_AUTH_ERR)", r.code("auth") == "PAM_AUTH_ERR",
           r.code("auth"))
    for garbled in ("12ab56", "", "1234", "123456789", " 123456"):
        r = w.drive("nobody", ["auth"], [garbled])
        result("auth: garbled code %r is refused (PAM_AUTH_ERR)" % garbled,
               r.code("auth") == "PAM_AUTH_ERR", r.code("auth"))
    r = w.drive("nobody", ["auth"], [])
    result("auth: no answer (conversation fails) is an error, not success",
           r.code("auth") not in ("PAM_SUCCESS", "PAM_IGNORE"), r.code("auth"))

    r = w.drive("alice-not-in-file", ["auth"], ["123456"])
    result("auth: a user not in the users file gets PAM_USER_UNKNOWN",
           r.code("auth") == "PAM_USER_UNKNOWN", r.code("auth"))

    # The window: a code three steps ahead.
    ahead = totp(SECRETS["bin"], 3)
    w.config("http://127.0.0.1:1", {"Audit": {"arn": "arn:aws:iam::222222222222:role/A",
                                              "users": "nobody"}}, totp_window=1)
    r = w.drive("bin", ["auth"], [ahead])
    result("auth: totp_window = 1 refuses a code 3 steps ahead",
           r.code("auth") == "PAM_AUTH_ERR", r.code("auth"))
    w.config("http://127.0.0.1:1", {"Audit": {"arn": "arn:aws:iam::222222222222:role/A",
                                              "users": "nobody"}}, totp_window=4)
    r = w.drive("bin", ["auth"], [ahead])
    result("auth: totp_window = 4 accepts it", r.code("auth") == "PAM_SUCCESS", r.code("auth"))
    used["bin"] = 4

    # Unsafe users files.
    def unsafe(label, mutate, restore):
        mutate()
        try:
            r = w.drive("nobody", ["auth"], ["123456"])
            logl = " ".join(r.stsrole_log())
            result("auth: users file %s gives PAM_AUTHINFO_UNAVAIL, logged, no prompt" % label,
                   r.code("auth") == "PAM_AUTHINFO_UNAVAIL"
                   and "outcome=usersfile-unavailable" in logl
                   and not r.says("prompt-off"), "%s %s" % (r.code("auth"), logl))
        finally:
            restore()

    uf = w.usersfile
    unsafe("mode 0644", lambda: os.chmod(uf, 0o644), lambda: os.chmod(uf, 0o600))
    unsafe("mode 0640", lambda: os.chmod(uf, 0o640), lambda: os.chmod(uf, 0o600))
    unsafe("owned by nobody", lambda: os.chown(uf, 65534, -1), lambda: os.chown(uf, 0, -1))
    real = uf + ".real"

    def to_link():
        os.rename(uf, real)
        os.symlink(real, uf)

    def from_link():
        os.unlink(uf)
        os.rename(real, uf)
    unsafe("as a symlink", to_link, from_link)
    unsafe("missing", lambda: os.rename(uf, real), lambda: os.rename(real, uf))
    unsafe("in a group-writable directory", lambda: os.chmod(w.etc, 0o770),
           lambda: os.chmod(w.etc, 0o700))

    # liboath's lock and temporary file, left by a login that died inside it:
    # removed under stsrole's own lock, the login goes on, one warning says so.
    for left in (uf + ".lock", uf + ".new"):
        with open(left, "w") as f:
            f.write("left by a login that crashed\n")
    r = w.drive("nobody", ["auth"], [fresh_code("nobody", used)])
    stale = [ln for ln in r.stsrole_log() if "outcome=stale-lock-removed" in ln]
    result("auth: liboath's users.oath.lock and .new left by a crash are removed, the login "
           "succeeds, one warning names both",
           r.code("auth") == "PAM_SUCCESS" and not os.path.lexists(uf + ".lock")
           and not os.path.lexists(uf + ".new") and len(stale) == 1 and "prio=4" in stale[0]
           and "users.oath.lock" in stale[0] and "users.oath.new" in stale[0],
           "%s %s" % (r.code("auth"), r.stsrole_log()))

    # A login that cannot get the lock within totp_lock_wait is refused,
    # not left waiting: the test holds the lock itself.
    w.config("http://127.0.0.1:1", {"Audit": {"arn": "arn:aws:iam::222222222222:role/A",
                                              "users": "nobody"}}, totp_window=4,
             totp_lock_wait=1)
    with open(uf + ".stsrole.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        t0 = time.monotonic()
        r = w.drive("nobody", ["auth"], [fresh_code("nobody", used)])
        waited = time.monotonic() - t0
    logl = " ".join(r.stsrole_log())
    result("auth: with the lock held elsewhere, totp_lock_wait = 1 refuses after about 1 s "
           "(PAM_AUTHINFO_UNAVAIL, logged as busy)",
           r.code("auth") == "PAM_AUTHINFO_UNAVAIL" and "busy" in logl and 1.0 <= waited < 10,
           "%s after %.2f s: %s" % (r.code("auth"), waited, logl))

    # Bad configurations and arguments.
    bad = os.path.join(w.etc, "bad.conf")
    with open(bad, "w") as f:
        f.write("[stsrole]\nsts_endpoint = http://127.0.0.1:1\n")  # no region
    os.chmod(bad, 0o600)
    w.stsrole_service("bad-conf", conf=bad)
    r = w.drive("nobody", ["auth", "open"], ["123456"], service="bad-conf")
    result("config: missing region gives PAM_SERVICE_ERR in auth and session, no prompt",
           r.code("auth") == "PAM_SERVICE_ERR" and r.code("open") == "PAM_SERVICE_ERR"
           and not r.says("prompt-off")
           and "outcome=config-error" in " ".join(r.stsrole_log()),
           "%s %s %s" % (r.code("auth"), r.code("open"), r.stsrole_log()))
    w.config("http://127.0.0.1:1", {"Audit": {"arn": "arn:aws:iam::222222222222:role/A",
                                              "users": "nobody"}}, path=bad)
    os.chmod(bad, 0o620)
    r = w.drive("nobody", ["auth"], ["123456"], service="bad-conf")
    result("config: a group-writable config file gives PAM_SERVICE_ERR",
           r.code("auth") == "PAM_SERVICE_ERR", r.code("auth"))
    w.stsrole_service("bad-arg", extra_args="debgu")
    r = w.drive("nobody", ["auth", "open", "close", "setcred"], ["123456"], service="bad-arg")
    result("args: an unknown module argument is PAM_SERVICE_ERR everywhere",
           all(r.code(op) == "PAM_SERVICE_ERR" for op in ("auth", "open", "close", "setcred"))
           and "unknown module argument debgu" in " ".join(r.stsrole_log()),
           "%s %s" % (r.rc, r.stsrole_log()))
    w.stsrole_service("missing-conf", conf="/nonexistent/stsrole.conf")
    r = w.drive("nobody", ["auth"], ["123456"], service="missing-conf")
    result("config: a missing config file gives PAM_SERVICE_ERR",
           r.code("auth") == "PAM_SERVICE_ERR", r.code("auth"))

    w.stsrole_service("setcred")
    r = w.drive("nobody", ["setcred"], service="setcred")
    result("setcred: the documented no-op returns PAM_SUCCESS", r.code("setcred") == "PAM_SUCCESS",
           r.code("setcred"))


def faillock_tests(w, used):
    """pam_faillock around pam_stsrole, as the man page shows: our failures count."""
    fl = os.path.join(w.root, "faillock")
    os.makedirs(fl, mode=0o700, exist_ok=True)
    # nodelay: pam_faillock's 2 s delay after a failure is not what is tested here.
    opts = "dir=%s deny=3 unlock_time=600 nodelay" % fl
    w.service("stsrole-faillock", "\n".join([
        "auth requisite pam_faillock.so preauth %s" % opts,
        "auth [success=1 default=bad] %s conf=%s" % (MODULE, w.conf),
        "auth [default=die] pam_faillock.so authfail %s" % opts,
        "auth sufficient pam_faillock.so authsucc %s" % opts,
        "auth required pam_deny.so",
        "account required pam_faillock.so %s" % opts,
    ]) + "\n")
    codes = []
    for _ in range(3):
        r = w.drive("daemon", ["auth"], [wrong_code("daemon")], service="stsrole-faillock")
        codes.append(r.code("auth"))
    tally = subprocess.run(["faillock", "--dir", fl, "--user", "daemon"], capture_output=True,
                           text=True).stdout
    n = sum(1 for ln in tally.splitlines() if re.match(r"^\d{4}-\d\d-\d\d", ln.strip()))
    result("faillock: three wrong codes are counted as three failures",
           codes == ["PAM_AUTH_ERR"] * 3 and n == 3, "%s %d\n%s" % (codes, n, tally))
    good = fresh_code("daemon", used)
    r = w.drive("daemon", ["auth"], [good], service="stsrole-faillock")
    result("faillock: then even a right code is refused (locked before pam_stsrole runs)",
           r.code("auth") == "PAM_AUTH_ERR" and not r.stsrole_log(),
           "%s %s" % (r.code("auth"), r.stsrole_log()))
    subprocess.run(["faillock", "--dir", fl, "--user", "daemon", "--reset"], check=True)
    r = w.drive("daemon", ["auth", "acct"], [good], service="stsrole-faillock")
    result("faillock: after a reset the right code gets through the whole stack",
           r.code("auth") == "PAM_SUCCESS" and r.code("acct") == "PAM_SUCCESS", str(r.rc))


# ------------------------------------------------------------- session ---

def record_of(w, sid):
    path = os.path.join(w.state, "sessions", sid + ".json")
    st = os.lstat(path)
    with open(path) as f:
        return json.load(f), st


def aws_identity(url, env):
    aws = "/usr/bin/aws" if os.path.exists("/usr/bin/aws") else shutil.which("aws")
    e = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "AWS_CONFIG_FILE": "/dev/null",
         "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"}
    e.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    p = subprocess.run([aws, "sts", "get-caller-identity", "--endpoint-url", url, "--output",
                        "json"], capture_output=True, text=True, env=e, timeout=60)
    if p.returncode != 0:
        return None, p.stderr.strip()
    return json.loads(p.stdout), aws


def session_tests(w, used, m, menv, base_env):
    roles = menv["roles"]
    w.config(m.url, {
        "SecurityAuditRole": {"arn": roles["SecurityAuditRole"], "users": "nobody daemon"},
        "IncidentResponseRole": {"arn": roles["IncidentResponseRole"], "groups": "daemon"},
        # Break-glass is requested from a session, never offered at login.
        "BreakGlass": {"arn": roles["IncidentResponseRole"], "users": "daemon",
                       "reason": "required", "approvals": "1", "approvers": "nobody"},
    })
    w.stsrole_service()

    code = fresh_code("nobody", used)
    r = w.drive("nobody", ["auth", "open", "env", "close", "env"], [code], env=base_env)
    first, after = {}, {}  # the environment after open_session, and after close_session
    cur = first
    for ln in r.lines:
        if ln.startswith("close "):
            cur = after
        elif ln.startswith("env "):
            k, _, v = ln[4:].partition("=")
            cur[k] = v
    result("session: auth and open_session succeed against moto",
           r.code("auth") == "PAM_SUCCESS" and r.code("open") == "PAM_SUCCESS",
           "%s %s %s" % (r.rc, r.lines, r.stsrole_log()))
    missing = [k for k in ENV_VARS if not first.get(k)]
    result("session: open_session puts every variable into the PAM environment",
           not missing, "missing %s" % missing)
    sid = first.get("STSROLE_SESSION_ID", "")
    ok_shape = (re.match(r"^[0-9a-f]{32}$", sid)
                and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
                             first.get("AWS_CREDENTIAL_EXPIRATION", ""))
                and first.get("AWS_REGION") == "us-east-1"
                and first.get("AWS_DEFAULT_REGION") == "us-east-1"
                and first.get("STSROLE_ROLE_ARN") == roles["SecurityAuditRole"])
    result("session: id, expiration (ISO-8601), region and role ARN have the right values",
           bool(ok_shape), str({k: first.get(k) for k in ENV_VARS if "SECRET" not in k
                                and "TOKEN" not in k}))
    ident, how = aws_identity(m.url, first) if not missing else (None, "no env")
    want = re.compile(r"^arn:aws:sts::%s:assumed-role/SecurityAuditRole/nobody@%s\.%s$"
                      % (menv["workload_account"], BASTION, sid[:16]))
    result("session: the AWS CLI (%s) with those credentials is the assumed role at moto" % how,
           ident is not None and want.match(ident.get("Arn", "")),
           "%s %s" % (ident, how))
    logl = r.stsrole_log()
    opened = [ln for ln in logl if " open " in ln or "): open " in ln]
    result("session: one syslog line names user, rhost, role, session name, outcome, request id",
           len(opened) == 1 and "user=nobody" in opened[0] and "rhost=192.0.2.10" in opened[0]
           and "role=SecurityAuditRole" in opened[0]
           and ("session=nobody@%s.%s" % (BASTION, sid[:16])) in opened[0]
           and "outcome=success" in opened[0] and not re.search(r"request_id=-( |$)", opened[0]),
           str(logl))
    leaks = secret_leaked(r, [first.get("AWS_SECRET_ACCESS_KEY"),
                              first.get("AWS_SESSION_TOKEN"), code, SECRETS["nobody"]])
    result("session: no secret in syslog", not leaks, "leaked %d secrets" % len(leaks))
    try:
        rec, st = record_of(w, sid)
        sdir = os.lstat(os.path.join(w.state, "sessions"))
        fields = ["session_id", "user", "uid", "rhost", "tty", "sshd_pid", "role_arn",
                  "assumed_role_id", "access_key_id", "expiration", "source_identity"]
        ok = (all(rec.get(k) not in (None, "") for k in fields)
              and rec["user"] == "nobody" and rec["uid"] == 65534
              and rec["rhost"] == "192.0.2.10" and rec["tty"] == "ssh"
              and rec["access_key_id"] == first["AWS_ACCESS_KEY_ID"]
              and rec["source_identity"] == "nobody"
              and rec["assumed_role_id"].endswith(":nobody@%s.%s" % (BASTION, sid[:16]))
              and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
              and stat.S_IMODE(sdir.st_mode) == 0o700
              and first["AWS_SECRET_ACCESS_KEY"] not in json.dumps(rec)
              and first["AWS_SESSION_TOKEN"] not in json.dumps(rec))
        result("session: the record holds who/where/what, no secret, root-only 0600",
               ok, json.dumps(rec))
        result("close_session: marks the record closed and clears the credentials",
               r.code("close") == "PAM_SUCCESS" and rec.get("closed", 0) > 0
               and not any(k in after for k in ENV_VARS
                           if k.startswith("AWS_ACCESS") or "SECRET" in k or "TOKEN" in k),
               "%s closed=%s" % (r.code("close"), rec.get("closed")))
    except OSError as e:
        result("session: the record exists", False, str(e))

    # debug: the access key id may be logged, a secret never.
    w.stsrole_service("stsrole-debug", extra_args="debug")
    r = w.drive("nobody", ["open", "env", "close"], env=base_env, service="stsrole-debug")
    logl = "\n".join(r.stsrole_log())
    result("debug: logs the access key id at LOG_DEBUG, and still no secret",
           r.code("open") == "PAM_SUCCESS" and r.env.get("AWS_ACCESS_KEY_ID")
           and ("access_key_id=%s" % r.env["AWS_ACCESS_KEY_ID"]) in logl
           and "prio=7" in logl
           and not secret_leaked(r, [r.env.get("AWS_SECRET_ACCESS_KEY"),
                                     r.env.get("AWS_SESSION_TOKEN")]), logl)

    # Several roles: the numbered prompt, and the choice made at auth (sshd's way).
    code = fresh_code("daemon", used)
    r = w.drive("daemon", ["open", "env"], ["2"], env=base_env)
    result("roles: two matching roles give a numbered prompt; answer 2 picks the second",
           r.code("open") == "PAM_SUCCESS" and r.says("  2) IncidentResponseRole")
           and r.says("prompt-on: Role [1-2]: ")
           and r.env.get("STSROLE_ROLE_ARN") == roles["IncidentResponseRole"],
           "%s %s" % (r.code("open"), r.lines))
    result("roles: a role that needs approvals (break-glass) is left out of the login menu",
           r.code("open") == "PAM_SUCCESS" and not r.says("BreakGlass")
           and not r.says("  3) "), "%s %s" % (r.code("open"), r.lines))
    r = w.drive("daemon", ["open", "env"], ["7", "x", "SecurityAuditRole"], env=base_env)
    result("roles: invalid answers are asked again; a role name is accepted too",
           r.code("open") == "PAM_SUCCESS"
           and r.env.get("STSROLE_ROLE_ARN") == roles["SecurityAuditRole"],
           "%s %s" % (r.code("open"), r.lines))
    r = w.drive("daemon", ["open", "env"], env=base_env, noprompt=True)
    result("roles: several roles and no way to prompt (sshd session) refuses with a plain "
           "message (the detail goes to the log)",
           r.code("open") == "PAM_SESSION_ERR"
           and r.says("error: stsrole: session refused: no AWS role was chosen for this login.")
           and any("none was chosen" in ln for ln in r.stsrole_log())
           and "AWS_ACCESS_KEY_ID" not in r.env, "%s %s" % (r.code("open"), r.lines))
    r = w.drive("daemon", ["auth", "noprompt", "open", "env"], [code, "1"], env=base_env)
    result("roles: chosen during auth, the role is used at open_session without a prompt",
           r.code("auth") == "PAM_SUCCESS" and r.code("open") == "PAM_SUCCESS"
           and r.env.get("STSROLE_ROLE_ARN") == roles["SecurityAuditRole"],
           "%s %s" % (r.rc, r.lines))
    r = w.drive("bin", ["open", "env"], env=base_env)
    result("roles: a user with no role is refused with a clear message (PAM_SESSION_ERR)",
           r.code("open") == "PAM_SESSION_ERR"
           and r.says("error: stsrole: session refused: no AWS role is configured for bin.")
           and "AWS_ACCESS_KEY_ID" not in r.env, "%s %s" % (r.code("open"), r.lines))

    # credentials_mode = process: the break-glass roles a person may request are shown after
    # the menu, marked, and are never a choice; a person listed only for them is told so.
    bg_roles = {
        "SecurityAuditRole": {"arn": roles["SecurityAuditRole"], "users": "nobody daemon"},
        "IncidentResponseRole": {"arn": roles["IncidentResponseRole"], "groups": "daemon"},
        "BreakGlass": {"arn": roles["IncidentResponseRole"], "users": "nobody daemon bin",
                       "reason": "required", "approvals": "1", "approvers": "nobody"},
    }
    mark = "  BreakGlass  (break-glass: after login, `stsrole request BreakGlass --reason ...`)"
    w.config(m.url, bg_roles, credentials_mode="process",
             runtime_dir=os.path.join(w.root, "run"))
    r = w.drive("daemon", ["open", "env"], ["BreakGlass", "2"], env=base_env)
    result("roles: in credentials_mode = process a break-glass role the person may request is "
           "shown after the menu, marked, and answering its name is not a choice",
           r.code("open") == "PAM_SUCCESS" and r.says("  2) IncidentResponseRole")
           and r.says(mark) and not r.says("  3) ") and r.says("prompt-on: Role [1-2]: ")
           and r.says("Not a choice")
           and r.env.get("STSROLE_ROLE_ARN") == roles["IncidentResponseRole"],
           "%s %s" % (r.code("open"), r.lines))
    # (daemon: nobody's codes are spent by the other cases within totp_window)
    w.config(m.url, {k: v for k, v in bg_roles.items() if k != "IncidentResponseRole"},
             credentials_mode="process", runtime_dir=os.path.join(w.root, "run"))
    code = fresh_code("daemon", used)
    r = w.drive("daemon", ["auth", "open", "env"], [code], env=base_env)
    result("roles: with one role there is no menu, so no marked line either; the one role is "
           "used",
           r.code("auth") == "PAM_SUCCESS" and r.code("open") == "PAM_SUCCESS"
           and not r.says("BreakGlass") and not r.says("prompt-on: Role")
           and r.env.get("STSROLE_ROLE_ARN") == roles["SecurityAuditRole"],
           "%s %s" % (r.rc, r.lines))
    for mode in (STSROLE_SECURE, STSROLE_SAFE):
        w.config(m.url, bg_roles, credentials_mode="process",
                 runtime_dir=os.path.join(w.root, "run"), failmode=mode)
        r = w.drive("bin", ["open", "env"], env=base_env)
        result("roles: a person listed only for break-glass roles is refused in %s mode and "
               "told why; no credentials" % mode,
               r.code("open") == "PAM_SESSION_ERR"
               and r.says("error: stsrole: session refused: bin may only request break-glass "
                          "roles")
               and any("only for roles that need a request" in ln for ln in r.stsrole_log())
               and "AWS_ACCESS_KEY_ID" not in r.env, "%s %s" % (r.code("open"), r.lines))
    w.config(m.url, bg_roles)
    r = w.drive("bin", ["open", "env"], env=base_env)
    result("roles: in another credentials_mode no break-glass role is shown (none can be "
           "served); the person is refused as having no role",
           r.code("open") == "PAM_SESSION_ERR"
           and r.says("error: stsrole: session refused: no AWS role is configured for bin.")
           and not r.says("BreakGlass"), "%s %s" % (r.code("open"), r.lines))

    # An unsafe state directory: the record cannot be written, so no credentials.
    for mode, want, label in ((STSROLE_SECURE, "PAM_SESSION_ERR", "secure"),
                              (STSROLE_SAFE, "PAM_SUCCESS", "safe")):
        w.config(m.url, {"SecurityAuditRole": {"arn": roles["SecurityAuditRole"],
                                               "users": "nobody"}}, failmode=mode)
        os.chmod(w.state, 0o777)
        try:
            r = w.drive("nobody", ["open", "env"], env=base_env)
        finally:
            os.chmod(w.state, 0o700)
        result("record: an unsafe state_dir in %s mode gives %s and no credentials"
               % (label, want), r.code("open") == want and "AWS_ACCESS_KEY_ID" not in r.env,
               "%s %s" % (r.code("open"), r.stsrole_log()))


STSROLE_SECURE = "secure"
STSROLE_SAFE = "safe"


def ticket_tests(w, used, m, menv, base_env):
    """Auth and session are one login: open_session mints only with the ticket
    that pam_stsrole's auth left for this user, service, host and process."""
    roles = menv["roles"]
    for mode in (STSROLE_SECURE, STSROLE_SAFE):
        w.config(m.url, {"SecurityAuditRole": {"arn": roles["SecurityAuditRole"],
                                               "users": "nobody"}}, failmode=mode)
        r = w.drive("nobody", ["open", "env"], env=base_env, ticket=False)
        result("ticket: a session without auth is refused in %s mode, with a plain message and "
               "a log line saying why" % mode,
               r.code("open") == "PAM_SESSION_ERR" and "AWS_ACCESS_KEY_ID" not in r.env
               and r.says("did not pass stsrole's verification code check")
               and any("outcome=refused-no-auth" in ln and "no ticket" in ln
                       for ln in r.stsrole_log()),
               "%s %s %s" % (r.code("open"), r.lines, r.stsrole_log()))
    w.config(m.url, {"SecurityAuditRole": {"arn": roles["SecurityAuditRole"], "users": "nobody"}})
    code = fresh_code("nobody", used)
    r = w.drive("nobody", ["auth", "open", "env", "close", "open", "env"], [code], env=base_env)
    sid = r.env.get("STSROLE_SESSION_ID", "")
    rec = record_of(w, sid)[0] if sid else {}
    result("ticket: auth then open_session mints, and the record names the method (totp) and "
           "the sshd's start time",
           r.code("open", 0) == "PAM_SUCCESS" and rec.get("mfa") == "totp"
           and rec.get("sshd_start", 0) > 0, "%s %s" % (r.rc, rec))
    result("ticket: a ticket is single-use (a second open_session after one auth is refused)",
           r.code("open", 1) == "PAM_SESSION_ERR", "%s %s" % (r.rc, r.stsrole_log()))
    for extra, why in ((",user=daemon", "another user"), (",service=sshd", "another PAM service"),
                       (",rhost=198.51.100.1", "another remote host"),
                       (",age=121", "expired")):
        r = w.drive("nobody", ["ticket=%s%s" % (w.state, extra), "open", "env"], env=base_env,
                    ticket=False)
        result("ticket: one for %s is refused" % why,
               r.code("open") == "PAM_SESSION_ERR" and "AWS_ACCESS_KEY_ID" not in r.env
               and any(why in ln for ln in r.stsrole_log()),
               "%s %s" % (r.code("open"), r.stsrole_log()))



def strictmodes_tests(w, used, m, menv, base_env):
    """OpenSSH's StrictModes for the directories above the users file and state_dir."""
    roles = menv["roles"]
    w.config(m.url, {"SecurityAuditRole": {"arn": roles["SecurityAuditRole"], "users": "nobody"}})
    for path, mode in ((w.etc, 0o770), (w.root, 0o777)):
        before = os.stat(path).st_mode & 0o7777
        os.chmod(path, mode)
        try:
            # refused before the prompt: no code is used up
            r = w.drive("nobody", ["auth"], ["123456"], env=base_env)
            o = w.drive("nobody", ["open", "env"], env=base_env)
        finally:
            os.chmod(path, before)
        log = "\n".join(r.stsrole_log())
        result("strictmodes: %s mode %04o above the users file and state_dir: auth refused "
               "(PAM_AUTHINFO_UNAVAIL) naming it" % (os.path.basename(path), mode),
               r.code("auth") == "PAM_AUTHINFO_UNAVAIL"
               and "outcome=usersfile-unavailable" in log and path in log and not r.says("prompt-off"), "%s %s" % (r.code("auth"), log))
        if path == w.root:
            result("strictmodes: a group- or world-writable directory above state_dir: "
                   "open_session refused, no credentials",
                   o.code("open") == "PAM_SESSION_ERR" and "AWS_ACCESS_KEY_ID" not in o.env,
                   "%s %s" % (o.code("open"), o.stsrole_log()))


def failmode_tests(w, used, base_env):
    """Every failure from the stub, and a closed port: secure refuses, safe lets in bare."""
    stub = None
    scenarios = []
    if os.path.exists(STUB):
        cases = os.path.join(os.path.dirname(STUB), "cases")
        for fn in sorted(os.listdir(cases)):
            name = fn[:-5]
            try:
                desc = json.load(open(os.path.join(cases, fn))).get("description", "")
            except ValueError:
                continue
            if name.startswith(("retry-", "skew-")) or desc.startswith("AssumeRole success"):
                continue
            scenarios.append(name)
        stub = subprocess.Popen([sys.executable, STUB, "--port", "0"], stdout=subprocess.PIPE,
                                stdin=subprocess.PIPE, text=True)
        port = stub.stdout.readline().split()[1]
        stub_url = "http://127.0.0.1:%s" % port
    else:
        skip("failmode with the fault stub", "tests/stub/stsstub.py is missing")
    def one(i, name, url, arn, mode):
        # Each its own config, PAM service and syslog: the cases run at the same time, since
        # each mostly waits out the module's retries and deadline (timeout = 1 s).
        conf = w.config(url, {"R": {"arn": arn, "users": "nobody"}}, failmode=mode, timeout=1,
                        path=os.path.join(w.etc, "failmode%d.conf" % i))
        service = w.stsrole_service("failmode%d" % i, conf=conf)
        r = w.drive("nobody", ["open", "env", "close"], env=base_env, service=service,
                    log=os.path.join(w.root, "syslog.failmode%d" % i))
        logl = " ".join(r.stsrole_log())
        leftovers = [k for k in ENV_VARS if k in r.env]
        if mode == STSROLE_SECURE:
            ok = (r.code("open") == "PAM_SESSION_ERR" and not leftovers
                  and "outcome=refused" in logl
                  and r.says("error: stsrole: session refused"))
        else:
            ok = (r.code("open") == "PAM_SUCCESS" and not leftovers
                  and "outcome=failopen" in logl
                  and r.says("info: stsrole: WARNING"))
        return ("failmode %s: %s %s" % (mode, name, "refuses the session"
                                        if mode == STSROLE_SECURE
                                        else "lets in without credentials, and logs it"),
                ok, "%s env=%s log=%s" % (r.code("open"), leftovers, logl))

    try:
        targets = [("closed-port", "http://127.0.0.1:1", "arn:aws:iam::222222222222:role/X")]
        targets += [(s, stub_url, "arn:aws:iam::111122223333:role/%s" % s) for s in scenarios]
        cases = [(name, url, arn, mode) for name, url, arn in targets
                 for mode in (STSROLE_SECURE, STSROLE_SAFE)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(one, i, *c) for i, c in enumerate(cases)]
            for f in futures:
                result(*f.result())
        # AWS's clock an hour ahead or two hours behind ours: the login still gets its
        # credentials (signed again with the answer's Date), and syslog says so.
        for name in ("skew-aws-ahead", "skew-aws-behind") if stub is not None else ():
            w.config(stub_url, {"R": {"arn": "arn:aws:iam::111122223333:role/" + name,
                                      "users": "nobody"}}, timeout=3)
            w.stsrole_service()
            r = w.drive("nobody", ["open", "env", "close"], env=base_env)
            logl = " ".join(r.stsrole_log())
            result("clock skew (%s): the session gets its credentials, syslog says so" % name,
                   r.code("open") == "PAM_SUCCESS" and "AWS_SESSION_TOKEN" in r.env
                   and "clock skew" in logl, "%s log=%s" % (r.code("open"), logl[-400:]))
        if stub is not None:
            # A success from the stub (JSON, exponent-form Expiration) works end to end.
            w.config(stub_url, {"R": {"arn": "arn:aws:iam::111122223333:role/json-exp",
                                      "users": "nobody"}})
            r = w.drive("nobody", ["open", "env"], env=base_env)
            result("stub: a JSON AssumeRole answer gives a session with every variable",
                   r.code("open") == "PAM_SUCCESS" and all(r.env.get(k) for k in ENV_VARS),
                   "%s %s" % (r.code("open"), r.stsrole_log()))
    finally:
        if stub is not None:
            stub.stdin.close()
            stub.terminate()
            stub.wait(timeout=10)


def valgrind_tests(w, used, m, menv, base_env):
    if shutil.which("valgrind") is None:
        skip("valgrind", "valgrind is not installed")
        return
    if PRELOAD:
        skip("valgrind", "the module is built with sanitizers (ASan checks every case instead)")
        return
    w.config(m.url, {"SecurityAuditRole": {"arn": menv["roles"]["SecurityAuditRole"],
                                           "users": "nobody"}})
    w.stsrole_service()
    code = fresh_code("nobody", used)
    vlog = os.path.join(w.root, "valgrind.log")
    wrap = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible", "--track-origins=yes",
            "--keep-debuginfo=yes", "--log-file=%s" % vlog]
    r = w.drive("nobody", ["auth", "open", "close"], [code], env=base_env, wrap=wrap, timeout=600)
    vl = open(vlog).read() if os.path.exists(vlog) else ""
    result("valgrind: memcheck over auth + open_session + close_session: no errors, no leaks",
           r.status == 0 and r.code("auth") == "PAM_SUCCESS" and r.code("open") == "PAM_SUCCESS"
           and r.code("close") == "PAM_SUCCESS",
           "exit %d %s\n%s" % (r.status, r.rc, vl[-3000:]))
    r = w.drive("nobody", ["auth"], [code], env=base_env, wrap=wrap, timeout=600)
    vl = open(vlog).read() if os.path.exists(vlog) else ""
    result("valgrind: memcheck over a refused (replayed) code: no errors, no leaks",
           r.status == 0 and r.code("auth") == "PAM_AUTH_ERR",
           "exit %d %s\n%s" % (r.status, r.rc, vl[-3000:]))
    w.config("http://127.0.0.1:1", {"R": {"arn": "arn:aws:iam::222222222222:role/X",
                                          "users": "nobody"}}, timeout=1)
    r = w.drive("nobody", ["open", "close"], env=base_env, wrap=wrap, timeout=600)
    vl = open(vlog).read() if os.path.exists(vlog) else ""
    result("valgrind: memcheck over a refused session (network failure): no errors, no leaks",
           r.status == 0 and r.code("open") == "PAM_SESSION_ERR",
           "exit %d %s\n%s" % (r.status, r.rc, vl[-3000:]))


def main():
    if os.geteuid() != 0:
        return S.skip_all("needs root (root-owned users file and config)")
    if not PAMDRIVE or not MODULE or not os.path.exists(MODULE):
        return S.skip_all("PAMDRIVE or PAM_MODULE not given (run tests/pam/run.sh)")
    for tool in ("oathtool", "faillock"):
        if shutil.which(tool) is None:
            return S.skip_all("%s is not installed" % tool)
    root = tempfile.mkdtemp(prefix="stsrole-pamtest.")
    used = {}
    w = World(root)
    try:
        exported_symbols()
        auth_tests(w, used)
        faillock_tests(w, used)
        try:
            from mototest import Moto, base_env as moto_base_env
        except ImportError as e:
            skip("session tests", "mototest unavailable: %s" % e)
            Moto = None
        if Moto is not None:
            with Moto(log=os.path.join(root, "moto.log")) as m:
                menv = m.seed()
                benv = moto_base_env(menv)
                session_tests(w, used, m, menv, benv)
                ticket_tests(w, used, m, menv, benv)
                strictmodes_tests(w, used, m, menv, benv)
                valgrind_tests(w, used, m, menv, benv)
                failmode_tests(w, used, benv)
    finally:
        rmtree_unless_kept(root)
    return S.finish()


if __name__ == "__main__":
    sys.exit(main())
