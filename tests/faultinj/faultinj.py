#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""faultinj.py: walks every injected failure point of a full PAM transaction and of the gateway.

Run by tests/faultinj/run.sh, which builds the fault-injection module and
gateway (faultinj.c linked in with -Wl,--wrap) and passes their paths.
Needs root (root-owned users file and config), oathtool, objdump and moto.

For each target (the PAM module: PamTarget; stsrole-gatewayd: GatewayTarget,
whose scenario and checks its docstring lists), a clean run first counts
the calls of every wrapped function.  Then, one run per failure point, the Nth call
of one function fails (FAULTINJ_FAIL=NAME:N), for every N up to the
count and every function.  At each point:
  - the module returns a PAM error, never PAM_SUCCESS or PAM_IGNORE,
    unless the credential was minted and recorded (a complete, valid
    session record whose key id is the one handed out);
  - the driver exits cleanly under ASan+UBSan, and LeakSanitizer finds
    no leak;
  - no secret reaches the log, or a message shown to the user;
  - every freed block that held a secret was wiped first (the wrapped
    free(); secrets: the base secret key, the TOTP code and secret, and
    the minted secret key and token, learned while running);
  - nothing is lost from the session records: a success has its record,
    a record that exists is valid, a close that succeeds closed it, and
    no temporary file is left behind.
Prints one line per failure point class (function x PAM phase, function x
gateway phase), the security-checklist cases, a valgrind sample, the number
of failure points injected, and "faultinj: N passed, N failed".
"""
import argparse
import bisect
import collections
import concurrent.futures
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import gwlib  # noqa: E402  (session records, the notify socket)
import harness  # noqa: E402
from harness import Suite, rmtree_unless_kept  # noqa: E402
import mototest  # noqa: E402

STUB = os.path.join(TOP, "tests", "stub", "stsstub.py")
MKCERTS = os.path.join(TOP, "tests", "stub", "mkcerts.sh")

USER = "nobody"  # an existing system account with a passwd entry (uid 65534)
# Our own TOTP secret (hex, as pam_oath's users file wants it); its raw
# bytes are planted for the free() check too.
TOTP_SECRET = "5fa1e7c0de5ec2e7f00dfa117e57ab1e5ec2e700"
BASTION = "fibastion"
# moto's session tokens all start with this (moto/sts/utils.py): any block
# freed with it inside held a token.
MOTO_TOKEN_PREFIX = "FQoGZXIvYXdzEBYaD"
PAM_OK = ("PAM_SUCCESS", "PAM_IGNORE")
CRED_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
ENV_VARS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
            "AWS_CREDENTIAL_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION",
            "STSROLE_SESSION_ID", "STSROLE_ROLE_ARN"]
STS_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$", re.ASCII)
SID_RE = re.compile(r"^[0-9a-f]{32}$")
JSON_INT_MAX = 2 ** 53
# --gw-mode quick: the gateway's allocator calls are walked every GW_STRIDE-th point.
GW_STRIDE = 3

S = Suite("faultinj")
result = S.result
skip = S.skip


# ------------------------------------------------------------ helpers ---

class Totp:
    """The current code for TOTP_SECRET, from oathtool, once per 30 s step."""

    def __init__(self):
        self.lock = threading.Lock()
        self.step = None
        self.code = None

    def now(self):
        step = int(time.time()) // 30
        with self.lock:
            if step != self.step:
                self.code = harness.totp(TOTP_SECRET)
                self.step = step
            return self.code

    def wrong(self):
        return harness.wrong_code(TOTP_SECRET, 10)


class Symbols:
    """Offsets in the module -> function names (nm: static functions too)."""

    def __init__(self, path):
        out = subprocess.run(["nm", "-S", "--defined-only", path], capture_output=True,
                             text=True).stdout
        syms = []
        for ln in out.splitlines():
            f = ln.split()
            if len(f) == 4 and f[2] in "tTwW":
                syms.append((int(f[0], 16), int(f[1], 16), f[3]))
        syms.sort()
        self.starts = [s[0] for s in syms]
        self.syms = syms

    def name(self, off):
        i = bisect.bisect_right(self.starts, off) - 1
        if i >= 0 and off < self.syms[i][0] + self.syms[i][1]:
            return self.syms[i][2]
        return "?"

    def chain(self, frames):
        """Our frames, innermost first, without the wrapper's own."""
        names = []
        for f in frames:
            if f == "x":
                names.append("(lib)")
                continue
            n = self.name(int(f, 16))
            if n.startswith("__wrap_") or n in ("faultinj_should_fail", "keep_block",
                                                "stack_offsets"):
                continue
            names.append(n)
        while names and names[-1] == "(lib)":
            names.pop()
        return names


PHASES = {"pam_sm_authenticate": "auth", "pam_sm_open_session": "open_session",
          "pam_sm_close_session": "close_session", "pam_sm_setcred": "setcred"}


class Report:
    """What faultinj.c wrote when the module was unloaded."""

    def __init__(self, path):
        self.counts = {}
        self.fired = None  # (name, n, frames)
        self.violations = []  # (label, size, frames)
        self.learned = {}
        self.overflow = 0
        self.present = os.path.exists(path)
        if not self.present:
            return
        for ln in open(path):
            f = ln.split()
            if not f:
                continue
            if f[0] == "count":
                self.counts[f[1]] = self.counts.get(f[1], 0) + int(f[2])
            elif f[0] == "fired":
                self.fired = (f[1], int(f[2]), f[3:])
            elif f[0] == "violation":
                self.violations.append((f[1], int(f[2]), f[3:]))
            elif f[0] == "learned":
                self.learned[f[1]] = bytes.fromhex(f[2]).decode("latin-1")
            elif f[0] == "arena_overflow":
                self.overflow += int(f[1])


def record_problems(rec):
    """The rules of stsrole_session_from_json (lib/session.c), and STS's name set."""
    p = []
    if not isinstance(rec, dict):
        return ["not a JSON object"]

    def is_int(v):
        return (isinstance(v, (int, float)) and not isinstance(v, bool) and v == int(v)
                and 0 <= v <= JSON_INT_MAX)
    if rec.get("version") != 1:
        p.append("version %r" % rec.get("version"))
    if not isinstance(rec.get("session_id"), str) or not SID_RE.match(rec["session_id"]):
        p.append("session_id malformed")
    for k in ("user", "role_arn", "assumed_role_id", "session_name", "access_key_id",
              "source_identity"):
        if not isinstance(rec.get(k), str):
            p.append("%s missing or not a string" % k)
    for k in ("rhost", "tty", "role_name", "aws_request_id"):
        if k in rec and rec[k] is not None and not isinstance(rec[k], str):
            p.append("%s not a string" % k)
    for k in ("uid", "sshd_pid", "expiration", "opened", "closed"):
        if not is_int(rec.get(k)):
            p.append("%s=%r is not a non-negative integer" % (k, rec.get(k)))
    sn = rec.get("session_name")
    if isinstance(sn, str) and not STS_NAME_RE.match(sn):
        p.append("session_name %r outside STS's [\\w+=,.@-]{2,64}" % sn)
    return p


class Run:
    """One pamdrive invocation, and everything it left behind."""

    def __init__(self, world, proc, report):
        self.world = world
        self.status = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.lines = proc.stdout.splitlines()
        self.report = report
        self.log = open(world.log, errors="replace").read() if os.path.exists(world.log) else ""
        self.rc = {}
        self.envs = []  # the environment at each "env" op
        cur = {}
        for ln in self.lines:
            m = re.match(r"^(\S+) rc=(-?\d+) (\S+)$", ln)
            if m:
                self.rc.setdefault(m.group(1), []).append(m.group(3))
                if m.group(1) == "env":
                    self.envs.append(cur)
                    cur = {}
            elif ln.startswith("env "):
                k, _, v = ln[4:].partition("=")
                cur[k] = v

    def code(self, op, i=-1):
        v = self.rc.get(op)
        return v[i] if v else "(not run)"


class World:
    """A private /etc/stsrole, state dir and PAM service directory for one run."""

    def __init__(self, root, module, conf_keys, roles, code_user=USER):
        self.root = root
        self.etc = os.path.join(root, "etc")
        self.state = os.path.join(root, "state")
        self.pamd = os.path.join(root, "pam.d")
        self.log = os.path.join(root, "syslog")
        self.report = os.path.join(root, "report")
        self.secrets = os.path.join(root, "secrets")
        for d in (self.etc, self.pamd):
            os.makedirs(d, mode=0o700)
        self.usersfile = os.path.join(self.etc, "users.oath")
        self.conf = os.path.join(self.etc, "stsrole.conf")
        fd = os.open(self.usersfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("HOTP/T30 %s - %s\n" % (code_user, TOTP_SECRET))
        settings = {"region": "us-east-1", "credentials": "env", "usersfile": self.usersfile,
                    "state_dir": self.state, "bastion_id": BASTION, "timeout": 2,
                    "totp_window": 2}
        settings.update(conf_keys)
        lines = ["[stsrole]"] + ["%s = %s" % kv for kv in settings.items()]
        for name, spec in roles.items():
            lines += ["", "[role %s]" % name] + ["%s = %s" % kv for kv in spec.items()]
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        line = "%%s %s conf=%s" % (module, self.conf)
        with open(os.path.join(self.pamd, "stsrole-fi"), "w") as f:
            f.write(line % "auth required" + "\n" + line % "session required" + "\n")
        with open(os.path.join(self.pamd, "other"), "w") as f:
            f.write("auth required pam_deny.so\nsession required pam_deny.so\n")

    def plant(self, secrets):
        """secrets: [(label, value, anchored)] for the wrapped free()."""
        with open(self.secrets, "w") as f:
            for label, value, anchored in secrets:
                if value:
                    f.write("%s %s %s\n" % (label, "a" if anchored else "-",
                                            value.encode("latin-1").hex()))

    def users_line(self):
        return open(self.usersfile).read().split()

    def records(self):
        d = os.path.join(self.state, "sessions")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []


# ------------------------------------------------------------ the driver ---

class Driver:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.seq = 0
        self.lock = threading.Lock()
        self.keep_failures = 5

    def new_root(self, tag):
        with self.lock:
            self.seq += 1
            n = self.seq
        root = os.path.join(self.tmp, "%05d-%s" % (n, re.sub(r"[^\w.-]", "_", tag)))
        os.makedirs(root, mode=0o700)
        return root

    def run(self, world, user, ops, answers=(), env=None, fail=None, asan=True, wrap=None,
            timeout=120):
        e = dict(env if env is not None else os.environ)
        e.pop("FAULTINJ_FAIL", None)
        if fail:
            e["FAULTINJ_FAIL"] = "%s:%d" % fail
        e["FAULTINJ_REPORT"] = world.report
        if os.path.exists(world.secrets) and asan:
            e["FAULTINJ_SECRETS"] = world.secrets
        if not asan:
            e["FAULTINJ_FREECHECK"] = "0"
        if asan and self.args.preload:
            e["LD_PRELOAD"] = self.args.preload
            # Fill every new block (not only its first 4 KiB), so a block
            # freed with a secret in it held that secret because we put it
            # there, never because it is recycled memory.
            # intercept_tls_get_addr=0: GCC 12's LeakSanitizer crashes
            # ("Tracer caught signal 11") scanning a stale dynamic-TLS entry
            # left by the module's libraries after pam_end dlclose()s them;
            # see positive_controls() for proof that leaks are still found.
            e["ASAN_OPTIONS"] = ("detect_leaks=1:abort_on_error=0:exitcode=98:"
                                 "max_malloc_fill_size=16777216:malloc_fill_byte=190:"
                                 "handle_abort=1:intercept_tls_get_addr=0")
            e["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        cmd = [self.args.pamdrive, "-c", world.pamd, "-s", "stsrole-fi", "-u", user,
               "-l", world.log, "-r", "192.0.2.10", "-t", "ssh"]
        for a in answers:
            cmd += ["-a", a]
        cmd += list(ops)
        if wrap:
            cmd = wrap + cmd
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout,
                               errors="replace")
        except subprocess.TimeoutExpired as ex:
            p = subprocess.CompletedProcess(cmd, -999, ex.stdout or "", ex.stderr or "")
            if isinstance(p.stdout, bytes):
                p.stdout = p.stdout.decode(errors="replace")
                p.stderr = (p.stderr or b"").decode(errors="replace")
        with open(os.path.join(world.root, "stderr"), "w") as f:
            f.write(p.stderr)
        with open(os.path.join(world.root, "stdout"), "w") as f:
            f.write(p.stdout)
        return Run(world, p, Report(world.report))

    def done(self, world, ok):
        """Keeps a few failing runs' directories for a look; removes the rest."""
        if ok or self.keep_failures <= 0:
            shutil.rmtree(world.root, ignore_errors=True)
        else:
            self.keep_failures -= 1


def common_problems(run, secrets, symbols):
    """Crash, sanitizer, leak, secret in log or in a message, unwiped free."""
    p = []
    err = run.stderr
    if run.status == -999:
        p.append("timed out")
    elif run.status < 0:
        p.append("killed by signal %d" % -run.status)
    elif run.status != 0:
        p.append("exit status %d" % run.status)
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehavior"):
        if marker in err:
            i = err.find(marker)
            p.append("%s: %s" % (marker, " | ".join(err[i:].splitlines()[:12])))
            break
    if not run.report.present:
        p.append("no fault-injection report (the module was not unloaded?)")
    for label, value in secrets:
        if not value:
            continue
        if len(value) <= 8:
            hit = re.search(r"(?<![0-9A-Za-z])%s(?![0-9A-Za-z])" % re.escape(value), run.log)
        else:
            hit = value in run.log
        if hit:
            p.append("secret %s in the log" % label)
        shown = "\n".join(ln for ln in run.lines if not ln.startswith("env "))
        if len(value) > 8 and value in shown:
            p.append("secret %s shown to the user" % label)
    for label, size, frames in run.report.violations:
        p.append("freed without wiping: %s in a %d-byte block, free() from %s"
                 % (label, size, " < ".join(symbols.chain(frames)[:6])))
    if run.report.overflow:
        p.append("free() check incomplete: %d blocks not kept" % run.report.overflow)
    return p


# ------------------------------------------------------------ targets ---

class PamTarget:
    """auth + open_session + close_session through pamdrive, against a shared moto."""

    name = "pam"

    def __init__(self, driver, moto_env, totp, symbols):
        self.d = driver
        self.menv = moto_env
        self.totp = totp
        self.symbols = symbols
        self.base_env = {k: v for k, v in os.environ.items()
                         if not k.startswith("AWS_") and k.lower() not in
                         ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
        self.base_env["AWS_ACCESS_KEY_ID"] = moto_env["base"]["AccessKeyId"]
        self.base_env["AWS_SECRET_ACCESS_KEY"] = moto_env["base"]["SecretAccessKey"]
        self.wrong = totp.wrong()
        self.stub = None

    # The transactions walked: ops, answers ("code" = the current TOTP code,
    # "wrong" = a code no nearby step gives), config, and what success means.
    GOOD_OPS = ["auth", "open", "env", "close", "env"]
    KINDS = collections.OrderedDict([
        # A wrong code: auth alone, which must never succeed.
        ("badcode", {"ops": ["auth"], "answers": ["wrong"]}),
        # The sshd transaction against moto (XML answers, signatures checked).
        ("good", {"ops": GOOD_OPS, "answers": ["code"]}),
        # Two roles: chosen during auth (role.c's prompt), used at open.
        ("roles", {"ops": ["auth", "noprompt", "open", "env", "close", "env"],
                   "answers": ["code", "2"], "roles": 2}),
        # failmode = safe: a failure lets the person in, but never with
        # credentials that are not recorded.
        ("safe", {"ops": GOOD_OPS, "answers": ["code"], "conf": {"failmode": "safe"}}),
        # The JSON path (real STS with Accept: application/json), from the stub.
        ("json", {"ops": GOOD_OPS, "answers": ["code"], "stub": "json-exp"}),
    ])

    def world(self, tag, kind="good", **conf):
        spec = self.KINDS[kind]
        if spec.get("stub"):
            if self.stub is None:
                raise RuntimeError("no stub for kind %s" % kind)
            keys = {"sts_endpoint": self.stub.url()}
            roles = {"R": {"arn": "arn:aws:iam::111122223333:role/%s" % spec["stub"],
                           "users": USER}}
        else:
            keys = {"sts_endpoint": self.menv["url"]}
            roles = {"SecurityAuditRole": {"arn": self.menv["roles"]["SecurityAuditRole"],
                                           "users": USER}}
            if spec.get("roles") == 2:
                roles["IncidentResponseRole"] = {
                    "arn": self.menv["roles"]["IncidentResponseRole"], "users": USER}
        keys.update(spec.get("conf", {}))
        keys.update(conf)
        return World(self.d.new_root(tag), self.d.args.module_asan, keys, roles)

    def secrets(self, code, kind="good"):
        out = [("base-secret-key", self.base_env["AWS_SECRET_ACCESS_KEY"], False),
               ("totp-code", code, True),
               ("totp-secret-hex", TOTP_SECRET, False),
               ("totp-secret-raw", bytes.fromhex(TOTP_SECRET).decode("latin-1"), False),
               ("moto-token-prefix", MOTO_TOKEN_PREFIX, False)]
        stub = self.KINDS.get(kind, {}).get("stub")
        if stub:
            path = os.path.join(TOP, "tests", "stub", "cases", stub + ".json")
            out += [("stub-secret-%d" % i, v, False)
                    for i, v in enumerate(stub_case_secrets(path))]
        return out

    def transaction(self, kind, fail=None, env=None, wrap=None, asan=True, world=None):
        spec = self.KINDS[kind]
        w = world or self.world("%s-%s" % (kind, "%s.%d" % fail if fail else "clean"), kind)
        code = self.totp.now()
        answers = [{"code": code, "wrong": self.wrong}.get(a, a) for a in spec["answers"]]
        planted = self.secrets(answers[0], kind)
        w.plant(planted)
        r = self.d.run(w, USER, spec["ops"], answers, env=env or self.base_env, fail=fail,
                       asan=asan, wrap=wrap, timeout=600 if wrap else 120)
        r.planted = planted
        return r

    def check(self, kind, r):
        """Problems (empty when the point passed) and a short outcome."""
        w = r.world
        learned = list(r.report.learned.items())
        for env in r.envs:
            for k in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
                if env.get(k):
                    learned.append(("env-" + k, env[k]))
        secrets = [(lbl, v) for lbl, v, _ in r.planted if lbl != "totp-secret-raw"] + learned
        p = common_problems(r, secrets, self.symbols)
        ops = self.KINDS[kind]["ops"]
        codes = {op: r.rc.get(op, []) for op in set(ops)}
        for op in ops:
            if op != "noprompt" and not codes.get(op):
                p.append("%s did not run (driver stopped)" % op)
                return p, "incomplete"
        if any(c == "PAM_IGNORE" for v in codes.values() for c in v):
            p.append("PAM_IGNORE returned")
        auth = r.code("auth")
        users = w.users_line()
        if kind == "badcode":
            if auth in PAM_OK:
                p.append("auth returned %s for a wrong code" % auth)
            return p, "auth=%s" % auth
        # liboath rewrites the users file when, and only when, it accepts a
        # code: an auth success without that was not a verified code.
        if auth == "PAM_SUCCESS" and len(users) <= 4:
            p.append("auth returned PAM_SUCCESS but liboath never accepted the code")
        opened, closed = r.code("open"), r.code("close")
        env_open = r.envs[0] if r.envs else {}
        env_close = r.envs[1] if len(r.envs) > 1 else {}
        files = w.records()
        recs = {}
        for fn in files:
            m = re.match(r"^([0-9a-f]{32})\.json$", fn)
            if not m:
                p.append("stray file in the sessions directory: %s" % fn)
                continue
            try:
                rec = json.load(open(os.path.join(w.state, "sessions", fn)))
            except ValueError as ex:
                p.append("record %s is not valid JSON: %s" % (fn, ex))
                continue
            probs = record_problems(rec)
            if probs:
                p.append("record %s invalid: %s" % (fn, "; ".join(probs)))
            if isinstance(rec, dict) and rec.get("session_id") != m.group(1):
                p.append("record %s holds session_id %r" % (fn, rec.get("session_id")))
            recs[m.group(1)] = rec
        note = None
        handed_out = any(k in env_open for k in CRED_VARS)
        if opened == "PAM_SUCCESS" and kind == "safe" and not handed_out:
            # failmode = safe: in, bare, and said so (design.md).
            leftover = [k for k in ENV_VARS if k in env_open]
            if leftover:
                p.append("a fail-open session got %s" % leftover)
            if "outcome=failopen" not in r.log:
                p.append("a fail-open session without outcome=failopen in the log")
            if not any(ln.startswith("info: stsrole: WARNING") for ln in r.lines):
                p.append("a fail-open session without the warning to the user")
            if any(isinstance(rec, dict) and not rec.get("closed") for rec in recs.values()):
                note = "fail-open, yet a record is left open (closed=0)"
            outcome = "open=PAM_SUCCESS(fail-open, no credentials)"
        elif opened == "PAM_SUCCESS":
            if self.KINDS[kind].get("roles") == 2 and env_open.get(
                    "STSROLE_ROLE_ARN") != self.menv["roles"]["IncidentResponseRole"]:
                p.append("the role chosen during auth (2) was not the one assumed")
            missing = [k for k in ENV_VARS if not env_open.get(k)]
            if missing:
                p.append("open_session succeeded without %s in the environment" % missing)
            sid = env_open.get("STSROLE_SESSION_ID", "")
            rec = recs.get(sid)
            if rec is None:
                p.append("open_session succeeded but no record for session %r (records: %s)"
                         % (sid, files))
            elif isinstance(rec, dict):
                if rec.get("access_key_id") != env_open.get("AWS_ACCESS_KEY_ID"):
                    p.append("the record's access_key_id is not the one handed out")
                if not str(rec.get("assumed_role_id", "")).endswith(
                        ":" + str(rec.get("session_name"))):
                    p.append("the record's assumed_role_id does not end in its session name")
                if closed == "PAM_SUCCESS" and not rec.get("closed"):
                    p.append("close_session succeeded but the record is not closed")
            if len(recs) != 1:
                p.append("%d records for one session" % len(recs))
            leftover = [k for k in CRED_VARS if k in env_close]
            if leftover:
                p.append("credentials still in the environment after close_session: %s"
                         % leftover)
            outcome = "open=PAM_SUCCESS(recorded) close=%s" % closed
        else:
            leftover = [k for k in ENV_VARS if k in env_open]
            if leftover:
                p.append("open_session failed (%s) but left %s in the environment"
                         % (opened, leftover))
            # After a refused open, libpam answers close_session from the
            # chain frozen by open_session (PAM_PERM_DENIED here), whatever
            # the module would say; only PAM_IGNORE would be wrong.
            open_recs = [s for s, rec in recs.items()
                         if isinstance(rec, dict) and not rec.get("closed")]
            if open_recs:
                note = "refused, yet a record is left open (closed=0)"
            outcome = "open=%s" % opened
        for env in r.envs:
            for k, v in env.items():
                if "\n" in v or "\r" in v or "\0" in v:
                    p.append("%s holds a line break or NUL" % k)
        r.note = note
        return p, outcome

    def points(self, kind, counts):
        return [(fn, n) for fn in sorted(counts) for n in range(1, counts[fn] + 1)]


class GwWorld:
    """One gateway's private config, state dir, audit log, syslog capture and IAM role."""

    def __init__(self, root, target, role, bastion):
        self.root = root
        self.role = role
        self.role_arn = target.menv["roles"][role]
        self.bastion = bastion
        self.policy = "stsrole-revoked-" + bastion
        self.state = os.path.join(root, "state")
        self.audit = os.path.join(root, "audit.log")
        self.syslog = os.path.join(root, "syslog")
        self.secrets = os.path.join(root, "secrets")
        menv = target.menv
        lines = ["[stsrole]", "region = %s" % menv["region"], "sts_endpoint = %s" % menv["url"],
                 "iam_endpoint = %s" % menv["url"], "credentials = env",
                 "state_dir = %s" % self.state, "audit_log = %s" % self.audit,
                 "bastion_id = %s" % bastion, "timeout = 5", "",
                 "[role %s]" % role, "arn = %s" % menv["roles"][role],
                 "revoker_arn = %s" % menv["roles"]["StsRoleRevoker"], "users = %s" % USER]
        self.conf = os.path.join(root, "stsrole.conf")
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")

    def record(self, tag, n, expires, opened, closed=0):
        """A session record as pam_stsrole writes it (gwlib's form), with a fake aws:userid."""
        name = "%s@%s.%s" % (tag, self.bastion, os.urandom(6).hex())
        arid = "AROAFIGW%013d:%s" % (n, name)
        rec = gwlib.session_record(tag, self.role, self.role_arn, arid,
                                   "ASIAFIGW%012d" % n, expires, opened=opened)
        rec["closed"] = int(closed)
        gwlib.write_session(self.state, rec)
        return rec

    def audit_lines(self):
        """(records, lines that are not a JSON object in UTF-8)."""
        good, bad = [], []
        try:
            with open(self.audit, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return good, bad
        for ln in data.split(b"\n"):
            if not ln.strip():
                continue
            try:
                rec = json.loads(ln.decode("utf-8"))
                if not isinstance(rec, dict):
                    raise ValueError("not an object")
                good.append(rec)
            except ValueError:
                bad.append(ln)
        return good, bad

    def events(self, session_id=None, event=None):
        return [e for e in self.audit_lines()[0]
                if (session_id is None or e.get("session_id") == session_id) and
                (event is None or e.get("event") == event)]

    def leftovers(self):
        """Files left in the state directory once every session is finished."""
        out = []
        for sub in ("sessions", "gateway/track", "gateway/roles"):
            d = os.path.join(self.state, sub)
            for fn in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                if sub == "gateway/roles" and re.match(r"^[0-9a-f]{32}\.json$", fn):
                    continue  # the role's state: kept for good
                out.append("%s/%s" % (sub, fn))
        return out


class GwProc(gwlib.Gateway):
    """The fault-injection stsrole-gatewayd with a stand-in notify socket (gwlib's), which,
    unlike gwlib.Gateway.start, may legitimately fail to start: start() says whether
    READY=1 came."""

    def __init__(self, exe, conf, env, args, log):
        super().__init__(conf, env, args, log=log, exe=exe)

    def start(self, timeout=20.0):
        return self.launch(timeout)

    def finish(self, timeout=30.0):
        """SIGTERM if still running; the exit status (-999: had to be killed)."""
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                rc = -999
        else:
            rc = self.proc.returncode
        self._close()
        return rc

    def status_reached(self, text, timeout):
        """Waits for an sd_notify STATUS= line that holds text."""
        end = time.monotonic() + timeout
        seen = 0
        while True:
            with self.cond:
                for i in range(seen, len(self.msgs)):
                    if any(ln.startswith("STATUS=") and text in ln
                           for ln in self.msgs[i].split("\n")):
                        return True
                seen = len(self.msgs)
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self.cond.wait(min(left, 0.5))


class GwRun:
    """One failure point: the faulted gateway through the scenario, then a clean restart."""

    def __init__(self, world):
        self.world = world
        self.phases = []  # [(label, started, exit status, log text, Report)]
        self.problems = []
        self.notes = []
        self.retried = set()  # revoke.retry / revoke.failed lines before a revoke.ok
        self.outcome = ""
        self.report = None  # the faulted phase's report (counts, fired)


class GatewayTarget:
    """stsrole-gatewayd through a short life, one failure point at a time.

    The scenario, in a private state dir and audit log against the target's own moto:
      1. a session S2 that closed while the gateway was down, whose credential has already
         expired (a session that outlived its credential);
      2. start (READY=1 over the notify socket): S2 is revoked (revoker role AssumeRole,
         GetRolePolicy/ListRolePolicies, PutRolePolicy) and at once pruned
         (DeleteRolePolicy: nothing else is left in it);
      3. a session S1 opens (its record appears), then closes: revoked (PutRolePolicy);
      4. SIGTERM.
    Then a clean gateway starts on the same state and audit log, and is stopped once it
    follows no session.  At each point: neither gateway crashes, trips ASan/UBSan or leaks
    (LeakSanitizer at exit); no secret (the base secret key, the revoker role's secret key
    and session token, learned where the gateway decodes them) reaches the audit log, the
    syslog capture or stderr, and every freed block that held one was wiped; the faulted
    gateway either refuses to start (exit status, a message) or runs and stops on SIGTERM
    with status 0; it never writes revoke.ok for a revocation that did not land (S1 is in
    IAM whenever its revoke.ok is in the log); in the end S1 and S2 each have exactly one
    session.open, session.close and revoke.ok, in that order, S1 is listed exactly once in
    the role's deny policy in IAM, `stsrolectl audit verify` passes, every audit line is
    JSON in UTF-8, and no record, track file or temporary file is left behind.  Audit
    shipping (audit_log_group: a thread, gw_ship.c) stays off: faultinj.c's counters
    assume one thread."""

    name = "gateway"
    # Wrapped I/O, clock, curl and randomness: walked at every point in both modes.
    IO = ("open", "openat", "read", "write", "fsync", "rename", "curl_easy_perform", "time",
          "clock_gettime", "RAND_bytes")
    STAGE_S = 5.0  # bound on each scenario step of a faulted gateway (retries back off 1-2 s)

    def __init__(self, driver, moto, jobs):
        self.d = driver
        self.args = driver.args
        self.exe = self.args.gateway
        self.ctl = self.args.stsrolectl
        self.symbols = Symbols(self.exe)
        self.run_ret = self._run_call_offset()
        self.slots = ["FiGwRole%d" % i for i in range(max(jobs, 1))]
        roles = dict(mototest.DEFAULT_ROLES)
        for r in self.slots:
            roles[r] = {"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": ["iam:Get*"],
                                       "Resource": "*"}]}
        self.menv = moto.seed(roles=roles)
        self.free_slots = queue.Queue()
        for r in self.slots:
            self.free_slots.put(r)
        sts = moto.client("sts", creds=self.menv["base"])
        checker = sts.assume_role(RoleArn=self.menv["roles"]["StsRoleRevoker"],
                                  RoleSessionName="faultinj-checker", DurationSeconds=43200)
        self.iam_creds = checker["Credentials"]
        self.moto = moto
        self.iam_local = threading.local()
        self.base_env = mototest.base_env(self.menv)
        self.extra_secrets = []
        self.seq = 0
        self.lock = threading.Lock()

    @staticmethod
    def available(args):
        return bool(getattr(args, "gateway", None)) and os.access(args.gateway, os.X_OK)

    def _run_call_offset(self):
        """The return address of main's call to run(): frames in main below it are start-up,
        above it shut-down (-O0 keeps source order)."""
        out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "--disassemble=main",
                              self.exe], capture_output=True, text=True).stdout
        lines = out.splitlines()
        for i, ln in enumerate(lines):
            if re.search(r"\bcall\s+[0-9a-f]+ <run>", ln):
                for nxt in lines[i + 1:]:
                    m = re.match(r"^\s*([0-9a-f]+):", nxt)
                    if m:
                        return int(m.group(1), 16) - 1
        return None

    def iam(self):
        c = getattr(self.iam_local, "iam", None)
        if c is None:
            c = self.iam_local.iam = self.moto.client("iam", creds=self.iam_creds)
        return c

    def userids(self, w):
        try:
            doc = self.iam().get_role_policy(RoleName=w.role, PolicyName=w.policy)[
                "PolicyDocument"]
        except self.iam().exceptions.NoSuchEntityException:
            return []
        if isinstance(doc, str):
            doc = json.loads(doc)
        out = []
        for st in doc.get("Statement", []):
            if st.get("Sid") == "StsroleRevoked":
                v = st["Condition"]["StringEquals"]["aws:userid"]
                out += v if isinstance(v, list) else [v]
        return out

    def drop_policy(self, w):
        try:
            self.iam().delete_role_policy(RoleName=w.role, PolicyName=w.policy)
        except self.iam().exceptions.NoSuchEntityException:
            pass

    def secrets(self, learned):
        out = [("base-secret-key", self.base_env["AWS_SECRET_ACCESS_KEY"]),
               ("moto-token-prefix", MOTO_TOKEN_PREFIX),
               ("checker-secret-key", self.iam_creds["SecretAccessKey"])]
        return out + sorted(learned.items()) + self.extra_secrets

    def phase_of(self, frames):
        chain = []
        for f in frames:
            if f == "x":
                continue
            off = int(f, 16)
            chain.append((self.symbols.name(off), off))
        names = [n for n, _ in chain]
        if "run" in names:
            below = names[:names.index("run")]
            for fn, label in (("gw_sessions_step", "audit/track step"),
                              ("gw_revoke_due", "revocation"), ("gw_prune", "prune"),
                              ("gw_sessions_inotify", "inotify"), ("gw_sessions_scan", "scan"),
                              ("handle_signals", "signal"), ("gw_ctl_accept", "control socket"),
                              ("notify_status", "status"), ("gw_refresh_step", "refresh"),
                              ("gw_registry_step", "fleet"), ("gw_ship_step", "ship")):
                if fn in below:
                    return label
            return "event loop"
        for n, off in chain:
            if n == "main":
                if self.run_ret is not None and off > self.run_ret:
                    return "stop"
                return "start"
        return "?"

    # -- one point ---------------------------------------------------------------------------

    def new_world(self, tag, role):
        with self.lock:
            self.seq += 1
            n = self.seq
        return GwWorld(self.d.new_root("gw-" + tag), self, role, "figw%05d" % n)

    def env(self, w, fail, report, extra=None):
        e = dict(self.base_env)
        for k in ("FAULTINJ_FAIL", "JOURNAL_STREAM", "NOTIFY_SOCKET"):
            e.pop(k, None)
        if fail:
            e["FAULTINJ_FAIL"] = "%s:%d" % fail
        e["FAULTINJ_REPORT"] = report
        e["FAULTINJ_SYSLOG"] = w.syslog
        e["FAULTINJ_SECRETS"] = w.secrets
        e["ASAN_OPTIONS"] = ("detect_leaks=1:abort_on_error=0:exitcode=98:"
                             "max_malloc_fill_size=16777216:malloc_fill_byte=190:handle_abort=1")
        e["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        e.update(extra or {})
        return e

    def gateway(self, w, label, fail=None, extra_env=None):
        report = os.path.join(w.root, "report-" + label)
        log = os.path.join(w.root, "stderr-" + label)
        g = GwProc(self.exe, w.conf, self.env(w, fail, report, extra_env),
                   ["--skew", "0", "--reconcile", "3600"], log)
        return g, report, log

    def wait_events(self, w, g, pred, timeout):
        end = time.monotonic() + timeout
        while True:
            if pred():
                return True
            if time.monotonic() > end or g.proc.poll() is not None:
                return pred()
            time.sleep(0.02)

    def scenario(self, fail=None, tag=None, extra_env=None, role=None, plant=()):
        slot = role or self.free_slots.get()
        try:
            w = self.new_world(tag or ("%s.%d" % fail if fail else "clean"), slot)
            return self._scenario(w, fail, extra_env, plant)
        finally:
            if role is None:
                self.free_slots.put(slot)

    def _scenario(self, w, fail, extra_env, plant):
        r = GwRun(w)
        now = int(time.time())
        with open(w.secrets, "w") as f:
            for label, value in self.secrets({}) + list(plant):
                f.write("%s - %s\n" % (label, value.encode().hex()))
        # 1. closed while the gateway was down; its credential expired a minute ago.
        s2 = w.record("zoe", 2, expires=now - 60, opened=now - 3700, closed=now - 120)
        s1 = None
        g, report, log = self.gateway(w, "faulted", fail, extra_env)
        started = g.start()
        ran_to_end = False
        stalled = []
        if started and not self.wait_events(w, g, lambda: [
                e for e in w.events(event="prune") if e.get("outcome") == "ok"], self.STAGE_S):
            stalled.append("prune")
        s1 = w.record("yan", 1, expires=now + 3600, opened=now)
        if started and not self.wait_events(
                w, g, lambda: w.events(s1["session_id"], "session.open"), self.STAGE_S):
            stalled.append("S1 open")
        s1 = gwlib.close_session(w.state, s1)
        if started:
            ran_to_end = self.wait_events(
                w, g, lambda: w.events(s1["session_id"], "revoke.ok"), self.STAGE_S)
            if not ran_to_end:
                stalled.append("S1 revoke")
        alive = g.proc.poll() is None
        rc = g.finish()
        text = open(log, errors="replace").read()
        r.report = Report(report)
        r.phases.append(("faulted", started, rc, text, r.report))
        if started and not alive:
            r.problems.append("the gateway exited by itself after READY=1 (status %s)" % rc)
        elif started and rc != 0:
            r.problems.append("SIGTERM: exit status %s" % rc)
        elif not started and rc in (0, None):
            r.problems.append("no READY=1, yet exit status %s" % rc)
        elif not started and not text.strip():
            r.problems.append("refused to start without saying why (exit %s)" % rc)
        # Never revoke.ok for a revocation that did not land: S1 never expires here, so
        # nothing may have taken it out of IAM again.
        ids1 = self.userids(w)
        if w.events(s1["session_id"], "revoke.ok") and s1["assumed_role_id"] not in ids1:
            r.problems.append("revoke.ok for S1 in the log, but S1 is not in IAM")
        p1_ok = len(w.events(s1["session_id"], "revoke.ok"))
        # 2. a clean gateway on the same state finishes the job.
        g2, report2, log2 = self.gateway(w, "restart")
        started2 = g2.start()
        done = started2 and g2.status_reached("0 sessions followed, 0 to revoke", 30)
        rc2 = g2.finish()
        text2 = open(log2, errors="replace").read()
        rep2 = Report(report2)
        r.phases.append(("restart", started2, rc2, text2, rep2))
        if not started2:
            r.problems.append("the clean restart did not start (exit %s): %s"
                              % (rc2, text2.strip()[-300:]))
        elif not done:
            r.problems.append("the clean restart never finished its sessions (%s)"
                              % [m for m in g2.msgs if "STATUS=" in m][-1:])
        if started2 and rc2 != 0:
            r.problems.append("restart: SIGTERM: exit status %s" % rc2)
        self.check(r, s1, s2)
        where = "in the run" if p1_ok else "after restart"
        if not started:
            first = "refused to start (exit %s)" % rc
        elif not stalled:
            first = "ran, S1 revoked %s" % where
        else:
            # e.g. a record whose read failed: the next full scan (--reconcile) finds it.
            first = "ran, no %s within %.0f s, S1 revoked %s" % (
                "/".join(stalled), self.STAGE_S, where)
        r.outcome = first + "".join(", %s first" % e for e in sorted(r.retried))
        return r

    def check(self, r, s1, s2):
        w = r.world
        learned = {}
        for _, _, _, _, rep in r.phases:
            learned.update(rep.learned)
        secrets = self.secrets(learned)
        logs = [("the audit log", open(w.audit, errors="replace").read()
                 if os.path.exists(w.audit) else ""),
                ("syslog", open(w.syslog, errors="replace").read()
                 if os.path.exists(w.syslog) else "")]
        for label, started, rc, text, rep in r.phases:
            logs.append(("stderr (%s)" % label, text))
            for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                           "UndefinedBehavior"):
                if marker in text:
                    i = text.find(marker)
                    r.problems.append("%s: %s: %s" % (label, marker,
                                                      " | ".join(text[i:].splitlines()[:14])))
                    break
            if rc is not None and rc < 0 and rc != -999:
                r.problems.append("%s: killed by signal %d" % (label, -rc))
            if rc == -999:
                r.problems.append("%s: did not stop on SIGTERM" % label)
            if not rep.present:
                r.problems.append("%s: no fault-injection report (did it exit normally?)"
                                  % label)
            for lbl, size, frames in rep.violations:
                r.problems.append("%s: freed without wiping: %s in a %d-byte block, free() "
                                  "from %s" % (label, lbl, size,
                                               " < ".join(self.symbols.chain(frames)[:6])))
            if rep.overflow:
                r.problems.append("%s: free() check incomplete" % label)
        if not learned:
            r.problems.append("the revoker's secret key and token were never learned")
        for where, text in logs:
            for label, value in secrets:
                if value and value in text:
                    r.problems.append("secret %s in %s" % (label, where))
        # Nothing lost, nothing twice.
        for name, s in (("S1", s1), ("S2", s2)):
            # revoke.retry and revoke.failed (a failure the gateway does not expect to go
            # away by itself, like ENOMEM) may come before revoke.ok: it is retried anyway.
            ev = [e["event"] for e in w.events(s["session_id"])]
            main = [e for e in ev if e in ("session.open", "session.close", "revoke.ok")]
            late = [e for e in ev[ev.index("revoke.ok") + 1:]] if "revoke.ok" in ev else []
            if main != ["session.open", "session.close", "revoke.ok"] or late:
                r.problems.append("%s's audit lines: %s" % (name, ev))
            elif len(main) != len(ev):
                r.retried.add([e for e in ev if e not in main][0])
        ids = self.userids(w)
        if ids.count(s1["assumed_role_id"]) != 1:
            r.problems.append("S1 is listed %d times in IAM" % ids.count(s1["assumed_role_id"]))
        if ids.count(s2["assumed_role_id"]) > 1:
            r.problems.append("S2 is listed %d times in IAM" % ids.count(s2["assumed_role_id"]))
        elif s2["assumed_role_id"] in ids:
            r.notes.append("S2 (expired) is still listed: IAM's copy was read back without "
                           "its expiry; it goes after the longest credential lifetime")
        elif not [e for e in w.events(event="prune") if e.get("outcome") == "ok"]:
            # Fails safe (the entry was expired), but the log does not say it went.
            r.notes.append("S2 was pruned from IAM, but no prune line reached the audit log")
        p = subprocess.run([self.ctl, "--config", w.conf, "audit", "verify"],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            r.problems.append("stsrolectl audit verify: exit %d: %s" % (
                p.returncode, (p.stdout + p.stderr).strip()[-400:]))
        left = w.leftovers()
        if left:
            r.problems.append("left in the state directory: %s" % left)
        recs, garbled = w.audit_lines()
        if garbled:
            r.problems.append("%d audit lines are not JSON in UTF-8, e.g. %r"
                              % (len(garbled), garbled[0][:300]))
        if [e for e in recs if e.get("event") == "revoke.ok" and e.get("outcome") != "ok"]:
            r.problems.append("revoke.ok lines whose outcome is not ok")
        self.drop_policy(w)


def gw_controls(target):
    """The gateway's checks can fail: a block it leaks is reported, a planted value that
    its logs hold is found there, one it frees unwiped is found too."""
    r = target.scenario(tag="control-leak", extra_env={"FAULTINJ_LEAK_CONTROL": "1"})
    text = r.phases[0][3]
    result("control: LeakSanitizer reports a block leaked by the gateway (exit %s)"
           % r.phases[0][2], r.phases[0][2] == 98 and "LeakSanitizer" in text
           and "4242 byte" in text, text[-1500:])
    target.d.done(r.world, True)
    # The policy name is in the audit line gateway.start, the syslog summary and stderr;
    # the region is freed with a plain free() by design (not a secret).
    target.extra_secrets = [("control-policy", "stsrole-revoked-figw")]
    try:
        r = target.scenario(tag="control-log", plant=[("control-region", "us-east-1")])
    finally:
        target.extra_secrets = []
    got = [p for p in r.problems if "control-policy" in p]
    result("control: a planted value is found in the audit log, syslog and stderr (%d hits)"
           % len(got), any("audit log" in p for p in got) and any("syslog" in p for p in got)
           and any("stderr" in p for p in got), "; ".join(r.problems)[:1000])
    got = [p for p in r.problems if "control-region" in p]
    result("control: the wrapped free() notices a planted value freed unwiped", bool(got),
           "; ".join(r.problems)[:1000])
    target.d.done(r.world, True)


def gw_points(target, counts, full):
    """Every point of the I/O functions; malloc's family every point (full) or with a
    stride of GW_STRIDE (quick)."""
    pts = []
    for fn in sorted(counts):
        n = counts[fn]
        if full or fn in GatewayTarget.IO:
            pts += [(fn, i) for i in range(1, n + 1)]
        else:
            pts += [(fn, i) for i in range(1, n + 1, GW_STRIDE)]
    return pts


def gw_walk(target, jobs, full, limit=0):
    clean = []
    for _ in range(2):
        r = target.scenario()
        ok = not r.problems and r.phases[0][1]
        pruned = [e for e in r.world.events(event="prune") if e.get("outcome") == "ok" and
                  "deleted" in (e.get("detail") or "")]
        if not pruned:
            r.problems.append("no prune line saying the expired session's policy was deleted")
            ok = False
        result("gateway: the clean run works (%s)" % r.outcome, ok,
               "; ".join(r.problems)[:3000] + "\n" + r.phases[0][3][-2000:])
        target.d.done(r.world, ok)
        if not ok:
            return 0, {}, {}
        clean.append(r)
    counts = {}
    for r in clean:
        for fn, n in r.report.counts.items():
            counts[fn] = max(counts.get(fn, 0), n)
    counts.pop("free", None)
    print("gateway: clean run, %s" % " ".join("%s=%d" % kv for kv in sorted(counts.items())))
    points = gw_points(target, counts, full)
    if target.args.points:
        want = {(f, int(n)) for f, _, n in (x.partition(":") for x in
                                            target.args.points.split(","))}
        points = [pt for pt in points if pt in want]
    if limit:
        points = points[:limit]
    print("gateway: walking %d failure points (%s)" % (
        len(points), "every point" if full else
        "every point of %s; every %dth of the allocators" % ("/".join(
            fn for fn in sorted(counts) if fn in GatewayTarget.IO), GW_STRIDE)))
    sys.stdout.flush()
    classes = collections.OrderedDict()

    def one(pt):
        r = target.scenario(fail=pt)
        fired = r.report.fired if r.report else None
        if fired:
            phase = target.phase_of(fired[2])
            site = " < ".join(target.symbols.chain(fired[2])[:5])
        elif r.report is not None and r.report.present:
            phase, site = "not reached", ""
        else:
            phase, site = "unknown (no report: did not exit normally)", ""
        target.d.done(r.world, not r.problems)
        return pt, phase, site, r

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for pt, phase, site, r in ex.map(one, points):
            key = (pt[0], phase)
            c = classes.setdefault(key, {"n": 0, "bad": [], "outcomes": collections.Counter(),
                                         "notes": []})
            c["n"] += 1
            c["outcomes"][r.outcome] += 1
            for note in r.notes:
                c["notes"].append("%s:%d at %s: %s" % (pt[0], pt[1], site, note))
            if r.problems:
                c["bad"].append("%s:%d at %s (%s): %s" % (pt[0], pt[1], site, r.outcome,
                                                          "; ".join(r.problems)[:1500]))
    return len(points), classes, counts


# ------------------------------------------------------------ the walk ---

def phase_of(symbols, frames):
    for f in frames:
        if f != "x":
            n = symbols.name(int(f, 16))
            if n in PHASES:
                return PHASES[n]
    return "?"


def walk(target, kind, jobs, limit=None):
    """Clean counts, then every (function, N).  Returns (n_points, classes)."""
    clean = [target.transaction(kind) for _ in range(2)]
    ok = True
    for r in clean:
        p, outcome = target.check(kind, r)
        if p or (kind != "badcode" and not (r.envs and r.envs[0].get("AWS_SECRET_ACCESS_KEY"))):
            result("%s %s: the clean transaction works (%s)" % (target.name, kind, outcome),
                   False, "; ".join(p) + " " + r.stderr[-2000:] + "\n" + "\n".join(r.lines))
            ok = False
            break
        target.d.done(r.world, True)
    if not ok:
        return 0, {}, {}
    counts = {}
    for r in clean:
        for fn, n in r.report.counts.items():
            counts[fn] = max(counts.get(fn, 0), n)
    counts.pop("free", None)
    result("%s %s: clean transaction, %s" % (
        target.name, kind, " ".join("%s=%d" % kv for kv in sorted(counts.items()))), True)
    points = target.points(kind, counts)
    if target.d.args.points:
        want = {(f, int(n)) for f, _, n in (x.partition(":") for x in
                                            target.d.args.points.split(","))}
        points = [pt for pt in points if pt in want]
    if limit:
        points = points[:limit]
    classes = collections.OrderedDict()

    def one(pt):
        r = target.transaction(kind, fail=pt)
        p, outcome = target.check(kind, r)
        fired = r.report.fired
        phase = phase_of(target.symbols, fired[2]) if fired else "not reached"
        site = " < ".join(target.symbols.chain(fired[2])[:5]) if fired else ""
        target.d.done(r.world, not p)
        return pt, phase, site, p, outcome, getattr(r, "note", None), r

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for pt, phase, site, p, outcome, note, r in ex.map(one, points):
            key = (pt[0], phase)
            c = classes.setdefault(key, {"n": 0, "bad": [], "outcomes": collections.Counter(),
                                         "notes": []})
            c["n"] += 1
            c["outcomes"][outcome] += 1
            if note:
                c["notes"].append("%s:%d at %s: %s" % (pt[0], pt[1], site, note))
            if p:
                c["bad"].append("%s:%d at %s (%s): %s" % (pt[0], pt[1], site, outcome,
                                                          "; ".join(p)[:1500]))
    return len(points), classes, counts


def print_classes(target, kind, classes):
    notes = []
    for (fn, phase), c in sorted(classes.items()):
        outs = ", ".join("%s x%d" % kv for kv in c["outcomes"].most_common())
        name = "%s %s: %s in %s: %d points (%s)" % (target.name, kind, fn, phase, c["n"], outs)
        result(name, not c["bad"], "\n    " + "\n    ".join(c["bad"][:10]) +
               ("\n    ... %d more" % (len(c["bad"]) - 10) if len(c["bad"]) > 10 else ""))
        notes += c["notes"]
    for n in notes[:20]:
        print("note: %s %s: %s" % (target.name, kind, n))
    if len(notes) > 20:
        print("note: ... %d more" % (len(notes) - 20))


# ------------------------------------------------------------ checklist ---

class Stub:
    def __init__(self, cases=None, tls=None):
        cmd = [sys.executable, STUB, "--port", "0", "--exit-on-stdin-eof"]
        if cases:
            cmd += ["--cases", cases]
        if tls:
            cmd += ["--tls"] + list(tls)
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            self.close()
            raise RuntimeError("stub did not start")
        self.port = int(line[1])

    def url(self, scheme="http", host="127.0.0.1"):
        return "%s://%s:%d" % (scheme, host, self.port)

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        self.p.terminate()
        self.p.wait(timeout=10)


def stub_case_secrets(path):
    """SecretAccessKey and SessionToken values in a case file (our planted secrets)."""
    text = open(path).read()
    found = re.findall(r'"(?:SecretAccessKey|SessionToken)": "((?:[^"\\]|\\.)*)"', text)
    found += re.findall(r"<(?:SecretAccessKey|SessionToken)>([^<]*)<", text)
    out = []
    for v in found:
        try:
            v = json.loads('"%s"' % v)
        except ValueError:
            pass
        v = v.replace("&#10;", "\n").replace("&#13;", "\r")
        # The part before any control character is what a parser keeps.
        out.append(re.split(r"[\x00-\x1f]", v)[0])
    return [s for s in out if len(s) >= 12]


def stub_tests(target):
    """AWS answers that try to inject a line break or NUL; successes with known secrets."""
    if not os.path.exists(STUB):
        skip("checklist: stub answers", "tests/stub/stsstub.py is missing")
        return
    own_cases = os.path.join(HERE, "cases")
    groups = [(None, os.path.join(TOP, "tests", "stub", "cases"),
               ["newline-token", "xml-ok", "json-exp"]),
              (own_cases, own_cases, sorted(f[:-5] for f in os.listdir(own_cases)
                                            if f.endswith(".json")))]
    for cases_arg, cases_dir, names in groups:
        stub = Stub(cases_arg)
        try:
            for name in names:
                desc = json.load(open(os.path.join(cases_dir, name + ".json")))
                expect = desc.get("expect") or ("success" if name in ("xml-ok", "json-exp")
                                                else "refused")
                w = World(target.d.new_root("stub-" + name), target.d.args.module_asan,
                          {"sts_endpoint": stub.url()},
                          {"R": {"arn": "arn:aws:iam::111122223333:role/%s" % name,
                                 "users": USER}})
                stub_secrets = stub_case_secrets(os.path.join(cases_dir, name + ".json"))
                planted = target.secrets(target.totp.now()) + [
                    ("stub-secret-%d" % i, s, False) for i, s in enumerate(stub_secrets)]
                w.plant(planted)
                r = target.d.run(w, USER, ["ticket=" + w.state, "open", "env", "close", "env"],
                                 env=target.base_env)
                p = common_problems(r, [(lbl, v) for lbl, v, _ in planted
                                        if lbl != "totp-secret-raw"], target.symbols)
                env = r.envs[0] if r.envs else {}
                bad_lines = [ln for ln in r.lines if not re.match(
                    r"^(env [A-Z_]+=|\S+ rc=|error: |info: |prompt-)", ln)]
                if bad_lines:
                    p.append("output lines that no variable can explain (an injected "
                             "line?): %r" % bad_lines[:3])
                for k, v in env.items():
                    if any(c in v for c in "\r\n\0"):
                        p.append("%s holds a line break or NUL" % k)
                foreign = [ln for ln in r.log.splitlines() if not ln.startswith("facility=")]
                if foreign:
                    p.append("a log line that no syslog() call began (an injected line?): %r"
                             % foreign[:2])
                for fn in r.world.records():
                    try:
                        probs = record_problems(json.load(open(
                            os.path.join(r.world.state, "sessions", fn))))
                    except ValueError as ex:
                        probs = [str(ex)]
                    if probs:
                        p.append("record %s: %s" % (fn, "; ".join(probs)))
                if expect == "any":
                    expect = "success" if r.code("open") == "PAM_SUCCESS" else "refused"
                succeeds = expect == "success"
                if succeeds:
                    if r.code("open") != "PAM_SUCCESS" or not all(env.get(k) for k in ENV_VARS):
                        p.append("open_session %s, env %s" % (r.code("open"), sorted(env)))
                    elif env.get("AWS_SECRET_ACCESS_KEY") not in stub_secrets:
                        p.append("the secret key handed out is not the one AWS sent")
                else:
                    if r.code("open") in PAM_OK:
                        p.append("open_session returned %s" % r.code("open"))
                    if any(k in env for k in ENV_VARS):
                        p.append("credentials in the environment after a refusal")
                result("checklist: stub %s: %s (open %s)" % (
                    name, "works, secrets wiped before free, none logged" if succeeds
                    else "refused, no line break/NUL reaches the environment, "
                         "secrets wiped before free", r.code("open")), not p, "; ".join(p))
                target.d.done(w, not p)
        finally:
            stub.close()


def proxy_test(target):
    """http_proxy and friends in sshd's environment must not redirect AssumeRole."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    lsock.settimeout(0.2)
    port = lsock.getsockname()[1]
    hits = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                c, _ = lsock.accept()
                hits.append(1)
                c.close()
            except OSError:
                pass
    t = threading.Thread(target=accept)
    t.start()
    try:
        env = dict(target.base_env)
        proxy = "http://127.0.0.1:%d" % port
        for k in ("http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            env[k] = proxy
        r = target.transaction("good", env=env)
        p, outcome = target.check("good", r)
    finally:
        stop.set()
        t.join()
        lsock.close()
    result("checklist: proxy variables in the environment are ignored (%s, proxy saw %d "
           "connections)" % (outcome, len(hits)),
           not p and not hits and r.code("open") == "PAM_SUCCESS", "; ".join(p))
    target.d.done(r.world, not p)


def http_remote_test(target):
    """http:// to anything but loopback is refused before any request is made."""
    for url in ("http://192.0.2.1", "http://192.0.2.1:80/", "http://127.0.0.1@192.0.2.1",
                "http://[2001:db8::1]", "ftp://127.0.0.1", "file:///etc/passwd"):
        w = target.world("http-remote", sts_endpoint=url)
        r = target.transaction("good", world=w)
        performed = r.report.counts.get("curl_easy_perform", 0)
        p = common_problems(r, [(lbl, v) for lbl, v, _ in r.planted
                                if lbl != "totp-secret-raw"], target.symbols)
        ok = not p and r.code("open") not in PAM_OK and performed == 0
        result("checklist: sts_endpoint = %s is refused (open %s, %d requests made)"
               % (url, r.code("open"), performed), ok, "; ".join(p))
        target.d.done(w, ok)


def tls_tests(target):
    """Verification cannot be turned off; a test may only add its own CA."""
    if not os.path.exists(MKCERTS) or shutil.which("openssl") is None:
        skip("checklist: TLS", "tests/stub/mkcerts.sh or openssl missing")
        return
    certs = os.path.join(target.d.tmp, "certs")
    subprocess.run(["sh", MKCERTS, certs], check=True, capture_output=True)
    ca = os.path.join(certs, "ca.pem")
    cases = [("server", ca, True, "a certificate from the configured CA is accepted"),
             ("server", None, False, "without ca_file, a test CA is not trusted"),
             ("selfsigned", ca, False, "a self-signed certificate is refused"),
             ("wronghost", ca, False, "a certificate for another host name is refused")]
    for cert, ca_file, want, label in cases:
        stub = Stub(tls=(os.path.join(certs, cert + ".pem"), os.path.join(certs, cert + ".key")))
        try:
            keys = {"sts_endpoint": stub.url("https")}
            if ca_file:
                keys["ca_file"] = ca_file
            w = World(target.d.new_root("tls-" + cert), target.d.args.module_asan, keys,
                      {"R": {"arn": "arn:aws:iam::111122223333:role/xml-ok", "users": USER}})
            w.plant(target.secrets(target.totp.now()))
            r = target.d.run(w, USER, ["ticket=" + w.state, "open", "env", "close"],
                             env=target.base_env)
            p = common_problems(r, [(lbl, v) for lbl, v, _ in target.secrets(target.totp.now())
                                    if lbl != "totp-secret-raw"], target.symbols)
            got = r.code("open") == "PAM_SUCCESS"
            env = r.envs[0] if r.envs else {}
            ok = not p and got == want and (want or not any(k in env for k in ENV_VARS))
            result("checklist: TLS: %s (open %s)" % (label, r.code("open")), ok,
                   "; ".join(p) + " " + " ".join(r.lines[-3:]))
            target.d.done(w, ok)
        finally:
            stub.close()
    w = target.world("tls-off", tls_verify="no")
    r = target.transaction("good", world=w)
    result("checklist: TLS: no configuration key turns verification off (tls_verify = no "
           "is a config error: open %s)" % r.code("open"),
           r.code("open") == "PAM_SERVICE_ERR" and r.code("auth") == "PAM_SERVICE_ERR")
    target.d.done(w, True)


def positive_controls(target):
    """The checks can fail: a planted 'secret' that is freed unwiped, and one that is logged."""
    w = target.world("control")
    code = target.totp.now()
    # The region string is freed with a plain free() by design (not a secret).
    w.plant([("control-region", "us-east-1", False)])
    r = target.d.run(w, USER, target.KINDS["good"]["ops"], [code], env=target.base_env)
    labels = {v[0] for v in r.report.violations}
    result("control: the wrapped free() notices a planted value freed unwiped",
           "control-region" in labels, str(r.report.violations[:3]))
    logged = common_problems(r, [("control-user", "user=" + USER)], target.symbols)
    result("control: the log check notices a planted value in the log",
           any("control-user" in x for x in logged), str(logged))
    target.d.done(w, True)
    w = target.world("control-leak")
    env = dict(target.base_env, FAULTINJ_LEAK_CONTROL="1")
    r = target.transaction("good", env=env, world=w)
    found = common_problems(r, [], target.symbols)
    result("control: LeakSanitizer reports a block leaked by the module",
           r.status == 98 and "LeakSanitizer: detected memory leaks" in r.stderr
           and "4242 byte" in r.stderr, "; ".join(found))
    target.d.done(w, True)


# ------------------------------------------------------------ valgrind ---

def valgrind_sample(target, counts_by_kind, jobs):
    if shutil.which("valgrind") is None:
        skip("valgrind", "valgrind is not installed")
        return
    counts = counts_by_kind.get("good", {})
    pts = [None] + [(fn, max(1, counts[fn] // 2)) for fn in sorted(counts)
                    if fn in ("malloc", "curl_easy_perform", "clock_gettime", "rename",
                              "fsync", "write", "time", "pam_putenv")]
    pts = pts[:target.d.args.valgrind_sample + 1]

    def one(pt):
        w = World(target.d.new_root("valgrind"), target.d.args.module_plain,
                  {"sts_endpoint": target.menv["url"]},
                  {"SecurityAuditRole": {"arn": target.menv["roles"]["SecurityAuditRole"],
                                         "users": USER}})
        vlog = os.path.join(w.root, "valgrind.log")
        wrap = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
                "--track-origins=yes", "--keep-debuginfo=yes", "--log-file=%s" % vlog]
        r = target.transaction("good", fail=pt, wrap=wrap, asan=False, world=w)
        vl = open(vlog).read() if os.path.exists(vlog) else ""
        return pt, r, vl, w

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for pt, r, vl, w in ex.map(one, pts):
            ok = r.status == 0 and "(not run)" not in (r.code("auth"), r.code("open"))
            result("valgrind: memcheck, %s: 0 errors, 0 definitely/indirectly lost (open %s)"
                   % ("clean run" if pt is None else "%s:%d fails" % pt, r.code("open")), ok,
                   "exit %d\n%s" % (r.status, vl[-3000:]))
            target.d.done(w, ok)


# ------------------------------------------------------------ main ---

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--module-asan", required=True)
    ap.add_argument("--module-plain", required=True)
    ap.add_argument("--pamdrive", required=True)
    ap.add_argument("--preload", default="")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--limit", type=int, default=0, help="walk only the first N points")
    ap.add_argument("--valgrind-sample", type=int, default=8)
    ap.add_argument("--gateway", default="", help="the fault-injection stsrole-gatewayd")
    ap.add_argument("--stsrolectl", default="", help="stsrolectl, for audit verify")
    ap.add_argument("--gw-mode", choices=("quick", "full"), default="full",
                    help="quick: a stride over the gateway's allocator calls; full: every point")
    ap.add_argument("--gw-jobs", type=int, default=4 * (os.cpu_count() or 2),
                    help="gateways at once (each mostly waits on moto and its timers)")
    ap.add_argument("--only", default="",
                    help="comma list: walk,checklist,valgrind,control,gateway")
    ap.add_argument("--points", default="", help="comma list of NAME:N to walk (debugging)")
    ap.add_argument("--kinds", default="", help="comma list of PamTarget.KINDS to walk")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else {"walk", "checklist", "valgrind",
                                                        "control", "gateway"}
    if os.geteuid() != 0:
        return S.skip_all("needs root (root-owned users file and config)")
    for tool in ("oathtool", "nm"):
        if shutil.which(tool) is None:
            return S.skip_all("%s is not installed" % tool)
    try:
        from mototest import Moto
    except ImportError as ex:
        return S.skip_all("tests/lib/mototest.py unusable: %s" % ex)
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="stsrole-faultinj.")
    os.chmod(tmp, 0o700)
    driver = Driver(args, tmp)
    symbols = Symbols(args.module_asan)
    total_points = 0
    try:
        if only & {"walk", "checklist", "valgrind", "control"}:
            with Moto(log=os.path.join(tmp, "moto.log")) as m:
                menv = m.seed()
                target = PamTarget(driver, menv, Totp(), symbols)
                if os.path.exists(STUB):
                    target.stub = Stub()
                counts_by_kind = {}
                if "control" in only:
                    positive_controls(target)
                if "walk" in only:
                    kinds = args.kinds.split(",") if args.kinds else list(target.KINDS)
                    for kind in kinds:
                        if target.KINDS[kind].get("stub") and target.stub is None:
                            skip("walk %s %s" % (target.name, kind),
                                 "tests/stub/stsstub.py is missing")
                            continue
                        t0 = time.monotonic()
                        n, classes, counts = walk(target, kind, args.jobs, args.limit)
                        total_points += n
                        counts_by_kind[kind] = counts
                        print_classes(target, kind, classes)
                        print("walk %s %s: %d failure points in %.0f s" % (
                            target.name, kind, n, time.monotonic() - t0))
                if "checklist" in only:
                    stub_tests(target)
                    proxy_test(target)
                    http_remote_test(target)
                    tls_tests(target)
                if "valgrind" in only:
                    valgrind_sample(target, counts_by_kind, args.jobs)
                if target.stub is not None:
                    target.stub.close()
        if "gateway" not in only:
            pass
        elif not GatewayTarget.available(args):
            skip("faultinj gateway", "no fault-injection stsrole-gatewayd (run.sh --gateway)")
        elif shutil.which("objdump") is None:
            skip("faultinj gateway", "objdump is not installed (binutils)")
        else:
            with Moto(log=os.path.join(tmp, "moto-gw.log")) as m:
                gw = GatewayTarget(driver, m, args.gw_jobs)
                gw_controls(gw)
                t0 = time.monotonic()
                n, classes, _ = gw_walk(gw, args.gw_jobs, args.gw_mode == "full", args.limit)
                total_points += n
                print_classes(gw, args.gw_mode, classes)
                print("walk gateway %s: %d failure points in %.0f s" % (
                    args.gw_mode, n, time.monotonic() - t0))
    finally:
        if args.keep or driver.keep_failures < 5:
            print("kept %s" % tmp)
        else:
            rmtree_unless_kept(tmp)
    print("faultinj: %d failure points injected in %.0f s" % (total_points,
                                                               time.monotonic() - started))
    return S.finish()


if __name__ == "__main__":
    sys.exit(main())
