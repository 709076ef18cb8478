#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_fleet.py: two bastions, one moto: the fleet-wide TOTP replay check and the session registry.

Run by tests/fleet/run.sh, which builds the drivers and passes:
  PAMDRIVE    tests/pam/pamdrive.c (PAM operations through pam_start_confdir)
  FLEETDRIVE  tests/fleet/fleetdrive.c (lib/ddb.c's registry calls, as the gateway makes them)
  PAM_MODULE  the built pam_stsrole.so
Each bastion is a config, a users file (the same secrets on both, as a fleet has them) and a
state directory of its own; both talk to one moto (fleetmoto.py) holding the DynamoDB tables.
Needs root (root-owned users files and configs).  Prints one line per case and
"fleet: N passed, N failed".
"""
import hashlib
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import Suite, rmtree_unless_kept  # noqa: E402

from fleetmoto import FLEET_POLICY, REPLAY_TABLE, SESSION_TABLE  # noqa: E402

PAMDRIVE = os.environ.get("PAMDRIVE")
FLEETDRIVE = os.environ.get("FLEETDRIVE")
MODULE = os.environ.get("PAM_MODULE")
PRELOAD = os.environ.get("PAMDRIVE_PRELOAD", "")
FLEET_TEMPLATE = os.path.join(TOP, "examples", "aws", "cloudformation", "bastion-fleet.yaml")
ROUNDS = 20  # race rounds: each a fresh code raced by both bastions

S = Suite("fleet")
result = S.result
skip = S.skip


def secret_of(user):
    """A distinct 20-byte secret per user (hex, as the users file wants it)."""
    return hashlib.sha1(("stsrole-fleet-" + user).encode()).hexdigest()


def totp(user, step=0):
    """oathtool, an implementation independent of liboath's validator: now + step time steps."""
    return harness.totp(secret_of(user), step)


def totp_at(user, step):
    """The code of one time step (T30), whatever the clock says by then."""
    return harness.totp(secret_of(user), at=step)


def wrong_code(user):
    return harness.wrong_code(secret_of(user), 5)


closed_port = harness.free_port  # a loopback port nobody listens on (bound, then released)


class Run:
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

    def code(self, op):
        return self.rc.get(op, ["(not run)"])[-1]

    def stsrole_log(self):
        return [ln for ln in self.log if "pam_stsrole(" in ln]

    def logtext(self):
        return "\n".join(self.stsrole_log())


class Bastion:
    """One bastion: /etc/stsrole, a users file, a state dir, a PAM service, its syslog."""

    def __init__(self, root, name, users):
        self.name = name
        self.root = os.path.join(root, name)
        self.etc = os.path.join(self.root, "etc")
        self.state = os.path.join(self.root, "state")
        self.pamd = os.path.join(self.root, "pam.d")
        for d in (self.etc, self.pamd):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.usersfile = os.path.join(self.etc, "users.oath")
        fd = os.open(self.usersfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            for u in users:
                # "evt*" users have an event-based token, which has no time step.
                kind = "HOTP/E" if u.startswith("evt") else "HOTP/T30"
                f.write("%s %s - %s\n" % (kind, u, secret_of(u)))
        self.n = 0
        with open(os.path.join(self.pamd, "other"), "w") as f:
            f.write("auth required pam_deny.so\nsession required pam_deny.so\n")

    def config(self, service, menv, roles, **keys):
        """Writes etc/SERVICE.conf and pam.d/SERVICE using it; returns the config path."""
        settings = {"region": "us-east-1", "sts_endpoint": menv["url"], "credentials": "env",
                    "usersfile": self.usersfile, "state_dir": self.state,
                    "audit_log": os.path.join(self.root, "audit.log"), "bastion_id": self.name,
                    "timeout": 2, "totp_window": 2,
                    "replay_store": "dynamodb:" + REPLAY_TABLE, "dynamodb_endpoint": menv["url"],
                    "registry_table": SESSION_TABLE}
        settings.update(keys)
        lines = ["[stsrole]"] + ["%s = %s" % kv for kv in settings.items() if kv[1] is not None]
        for name, spec in roles.items():
            lines += ["", "[role %s]" % name] + ["%s = %s" % kv for kv in spec.items()]
        path = os.path.join(self.etc, service + ".conf")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(self.pamd, service), "w") as f:
            f.write("auth required %s conf=%s\nsession required %s conf=%s\n"
                    % (MODULE, path, MODULE, path))
        return path

    def command(self, service, user, ops, answers=()):
        self.n += 1
        log = os.path.join(self.root, "syslog.%d" % self.n)
        cmd = [PAMDRIVE, "-c", self.pamd, "-s", service, "-u", user, "-l", log,
               "-r", "192.0.2.20", "-t", "ssh"]
        for a in answers:
            cmd += ["-a", a]
        return cmd + list(ops), log

    def drive(self, service, user, ops, answers=(), env=None):
        cmd, log = self.command(service, user, ops, answers)
        p = subprocess.run(cmd, capture_output=True, text=True, env=pam_env(env), timeout=120)
        return finish(p.stdout, log, p.returncode, p.stderr)

    def hold(self, sid):
        """pamdrive has exited; a real sshd would still be there.  Rewrites session sid's record
        to name a stand-in, a process of ours that lives (and its start time, /proc/PID/stat
        field 22, which the gateway compares).  Returns (the stand-in, the record)."""
        sshd = subprocess.Popen(["sleep", "3600"])
        path = os.path.join(self.state, "sessions", sid + ".json")
        rec = json.load(open(path))
        rec["sshd_pid"] = sshd.pid
        with open("/proc/%d/stat" % sshd.pid) as f:
            rec["sshd_start"] = int(f.read().rsplit(")", 1)[1].split()[19])
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
        return sshd, rec


def pam_env(env):
    env = dict(env if env is not None else os.environ)
    if PRELOAD:
        env["LD_PRELOAD"] = PRELOAD
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=98")
    return env


def finish(out, log, status, stderr):
    text = open(log).read() if os.path.exists(log) else ""
    r = Run(out, text, status)
    if status != 0:
        result("driver exits cleanly", False, "exit %d %s" % (status, stderr[-2000:]))
    return r


# ------------------------------------------------------------------ moto ---

def items(m, menv, table):
    c = m.client("dynamodb", creds=menv["base"])
    out, start = [], None
    for _ in range(100):
        kw = {"TableName": table, "ConsistentRead": True}
        if start:
            kw["ExclusiveStartKey"] = start
        page = c.scan(**kw)
        out += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    return out


def replay_item(m, menv, user):
    for it in items(m, menv, REPLAY_TABLE):
        if it["pk"]["S"] == "user#" + user:
            return it
    return None


# ----------------------------------------------------------------- cases ---

def cross_bastion(a, b, m, menv, env):
    user = "carol"
    step = int(time.time()) // 30
    # Steps now, +1 and +2, fixed up front: a step boundary during the case must not move them.
    c0, c1, c2 = totp_at(user, step), totp_at(user, step + 1), totp_at(user, step + 2)
    ra = a.drive("fleet", user, ["auth"], [c0], env)
    rb = b.drive("fleet", user, ["auth"], [c0], env)
    result("cross: a code accepted on bastion A (%s) is refused on bastion B (%s, "
           "outcome=replayed-fleet)" % (ra.code("auth"), rb.code("auth")),
           ra.code("auth") == "PAM_SUCCESS" and rb.code("auth") == "PAM_AUTH_ERR"
           and "outcome=replayed-fleet" in rb.logtext()
           and "fleet replay refused" in rb.logtext(),
           "%s | %s" % (ra.logtext(), rb.logtext()))
    it = replay_item(m, menv, user)
    result("cross: the claim in DynamoDB names bastion A, the code's step and a TTL",
           it is not None and it["bastion_id"]["S"] == "fleet-a" and it["sk"]["S"] == "totp"
           and int(it["step"]["N"]) == step and int(it["step_time"]["N"]) == step * 30
           and int(it["ttl"]["N"]) == step * 30 + 86400,
           json.dumps(it))
    ra2 = a.drive("fleet", user, ["auth"], [c0], env)
    result("cross: on bastion A itself the code is refused too (liboath's local replay check)",
           ra2.code("auth") == "PAM_AUTH_ERR" and "replay refused" in ra2.logtext()
           and "replayed-fleet" not in ra2.logtext(), ra2.logtext())

    # Later codes: B takes step+2, then A's step+1 (new to A's own users file) is older
    # than the fleet's last accepted step, so it is refused everywhere.
    rb2 = b.drive("fleet", user, ["auth"], [c2], env)
    ra1 = a.drive("fleet", user, ["auth"], [c1], env)
    it = replay_item(m, menv, user)
    result("cross: B accepts a newer code; then an older unused code is refused on A (%s, %s)"
           % (rb2.code("auth"), ra1.code("auth")),
           rb2.code("auth") == "PAM_SUCCESS" and ra1.code("auth") == "PAM_AUTH_ERR"
           and "outcome=replayed-fleet" in ra1.logtext()
           and it is not None and int(it["step"]["N"]) == step + 2
           and it["bastion_id"]["S"] == "fleet-b",
           "%s | %s | %s" % (rb2.logtext(), ra1.logtext(), json.dumps(it)))
    r = a.drive("fleet", user, ["auth"], [wrong_code(user)], env)
    result("cross: a wrong code is refused by liboath before DynamoDB is asked",
           r.code("auth") == "PAM_AUTH_ERR" and "outcome=bad-code" in r.logtext(), r.logtext())
    leaked = [c for c in (c0, c1, c2) if c in ra.logtext() + rb.logtext() + ra1.logtext()]
    result("cross: no code and no secret in syslog",
           not leaked and secret_of(user) not in ra.logtext() + rb.logtext(), str(leaked))


def race_round(a, b, service, user, env):
    """A and B submit the same fresh code at the same instant: both drivers are started, each
    blocked on reading one pipe; closing its write end releases them together."""
    code = totp(user)
    rfd, wfd = os.pipe()
    procs = []
    try:
        for bastion in (a, b):
            cmd, log = bastion.command(service, user, ["auth"], [code])
            p = subprocess.Popen(["sh", "-c", 'read _; exec "$@"', "barrier"] + cmd,
                                 stdin=rfd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=pam_env(env))
            procs.append((p, log))
    finally:
        os.close(rfd)
        os.close(wfd)  # the release: both reads see end of file at once
    runs = []
    for p, log in procs:
        out, err = p.communicate(timeout=120)
        runs.append(finish(out, log, p.returncode, err))
    return runs


def race(a, b, m, menv, env, users):
    wins = {"fleet-a": 0, "fleet-b": 0}
    bad = []
    for user in users:
        ra, rb = race_round(a, b, "fleet", user, env)
        codes = sorted([ra.code("auth"), rb.code("auth")])
        loser = rb if ra.code("auth") == "PAM_SUCCESS" else ra
        it = replay_item(m, menv, user)
        winner = "fleet-a" if ra.code("auth") == "PAM_SUCCESS" else "fleet-b"
        if (codes != ["PAM_AUTH_ERR", "PAM_SUCCESS"]
                or "outcome=replayed-fleet" not in loser.logtext()
                or it is None or it["bastion_id"]["S"] != winner):
            bad.append("%s: %s %s" % (user, codes, loser.logtext()[-300:]))
        else:
            wins[winner] += 1
    result("race: %d rounds, A and B released together with the same fresh code: exactly one "
           "acceptance per code, the winner's claim in DynamoDB (A won %d, B won %d)"
           % (len(users), wins["fleet-a"], wins["fleet-b"]), not bad, "; ".join(bad[:3]))


def race_control(a, b, env, user):
    """The same harness without the shared store: both bastions accept, so the race above
    would see a double acceptance if the fleet check let one through."""
    ra, rb = race_round(a, b, "local", user, env)
    result("race control: with replay_store = local both bastions accept the same code (%s, %s)"
           % (ra.code("auth"), rb.code("auth")),
           ra.code("auth") == rb.code("auth") == "PAM_SUCCESS", ra.logtext() + rb.logtext())


def outage(a, menv, env, roles):
    down = "http://127.0.0.1:%d" % closed_port()
    for mode in ("secure", "safe"):
        a.config("down-" + mode, menv, roles, dynamodb_endpoint=down, failmode=mode, timeout=1)
    user = "dave"
    c0 = totp(user)
    t0 = time.monotonic()
    r = a.drive("down-secure", user, ["auth"], [c0], env)
    took = time.monotonic() - t0
    result("outage: DynamoDB unreachable, failmode secure refuses with PAM_AUTHINFO_UNAVAIL "
           "(%s, %.1f s)" % (r.code("auth"), took),
           r.code("auth") == "PAM_AUTHINFO_UNAVAIL"
           and "outcome=replay-store-unavailable" in r.logtext()
           and "Couldn't connect" in r.logtext(),
           r.logtext())
    c1 = totp(user, 1)
    r = a.drive("down-safe", user, ["auth"], [c1], env)
    warn = [ln for ln in r.stsrole_log() if "outcome=replay-store-failopen" in ln]
    result("outage: failmode safe lets liboath's verdict stand (%s) and logs it at LOG_WARNING"
           % r.code("auth"),
           r.code("auth") == "PAM_SUCCESS" and len(warn) == 1 and "prio=4" in warn[0]
           and "outcome=success" in r.logtext(), r.logtext())
    r = a.drive("down-safe", user, ["auth"], [c1], env)
    result("outage: failmode safe still refuses a replay on this bastion (%s)" % r.code("auth"),
           r.code("auth") == "PAM_AUTH_ERR" and "replay refused" in r.logtext(), r.logtext())
    r = a.drive("down-safe", user, ["auth"], [wrong_code(user)], env)
    result("outage: failmode safe still refuses a wrong code (%s)" % r.code("auth"),
           r.code("auth") == "PAM_AUTH_ERR", r.logtext())

    a.config("notable", menv, roles, replay_store="dynamodb:no-such-table", timeout=1)
    r = a.drive("notable", user, ["auth"], [totp(user, 2)], env)
    result("outage: a missing table (ResourceNotFoundException) refuses in secure mode (%s)"
           % r.code("auth"),
           r.code("auth") == "PAM_AUTHINFO_UNAVAIL" and "ResourceNotFound" in r.logtext(),
           r.logtext())

    hotp = subprocess.check_output(["oathtool", "--hotp", secret_of("evt")], text=True).strip()
    r = a.drive("fleet", "evt", ["auth"], [hotp], env)
    result("outage: an event-based (HOTP/E) entry has no step to claim: refused in secure mode "
           "(%s)" % r.code("auth"),
           r.code("auth") == "PAM_AUTHINFO_UNAVAIL" and "outcome=replay-step-unknown" in r.logtext()
           and "HOTP/E" in r.logtext(), r.logtext())

    # open_session: the registry cannot be written.
    sroles = {"SecurityAuditRole": {"arn": menv["roles"]["SecurityAuditRole"], "users": "nobody"}}
    for mode, want in (("secure", "PAM_SESSION_ERR"), ("safe", "PAM_SUCCESS")):
        a.config("regdown-" + mode, menv, sroles, replay_store="local", dynamodb_endpoint=down,
                 failmode=mode, timeout=1)
        r = a.drive("regdown-" + mode, "nobody", ["ticket=" + a.state, "open", "env"], env=env)
        sid = re.search(r"session_id=([0-9a-f]{32})", r.logtext())
        rec = {}
        if sid:
            path = os.path.join(a.state, "sessions", sid.group(1) + ".json")
            rec = json.load(open(path)) if os.path.exists(path) else {}
        result("outage: registry unreachable at open_session, failmode %s: %s, no credentials, "
               "the local record closed for the gateway to revoke" % (mode, want),
               r.code("open") == want and "AWS_ACCESS_KEY_ID" not in r.env
               and "fleet registry" in "\n".join(r.lines) and rec.get("closed", 0) > 0,
               "%s %s %s %s" % (r.code("open"), r.lines, r.logtext(), rec))


class LoseFirstAnswer(http.server.ThreadingHTTPServer):
    """A loopback proxy to moto that forwards every request, but after the first PutItem
    has reached moto it drops the connection instead of answering: the write happened,
    the bastion cannot know it."""

    def __init__(self, upstream_port, table=None):
        self.upstream_port = upstream_port
        self.table = table  # only a PutItem to this table, when set
        self.seen = []
        self.dropped = False
        super().__init__(("127.0.0.1", 0), self.Handler)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            srv = self.server
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            target = self.headers.get("X-Amz-Target", "")
            up = http.client.HTTPConnection("127.0.0.1", srv.upstream_port, timeout=30)
            # The same Host header: it is part of what the bastion signed.
            up.putrequest("POST", self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                up.putheader(k, v)
            up.endheaders(body)
            resp = up.getresponse()
            data = resp.read()
            up.close()
            srv.seen.append(target.split(".")[-1])
            table = json.loads(body or b"{}").get("TableName") if target else None
            if target.endswith(".PutItem") and not srv.dropped and \
                    srv.table in (None, table):
                srv.dropped = True
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("connection", "content-length", "date", "server",
                                     "transfer-encoding"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)


def lost_answer(a, b, m, menv, env, roles):
    proxy = LoseFirstAnswer(m.port)
    t = threading.Thread(target=proxy.serve_forever, daemon=True)
    t.start()
    try:
        url = "http://127.0.0.1:%d" % proxy.server_address[1]
        a.config("lossy", menv, roles, dynamodb_endpoint=url)
        user = "lena"
        code = totp(user)
        r = a.drive("lossy", user, ["auth"], [code], env)
        it = replay_item(m, menv, user)
        result("lost answer: the first PutItem lands but its answer is lost; the retry fails the "
               "condition on our own claim, the read-back finds our nonce: accepted (%s, %s)"
               % (r.code("auth"), " ".join(proxy.seen)),
               r.code("auth") == "PAM_SUCCESS" and proxy.seen == ["PutItem", "PutItem", "GetItem"]
               and it is not None and it["bastion_id"]["S"] == "fleet-a",
               "%s %s" % (r.logtext(), json.dumps(it)))
        rb = b.drive("fleet", user, ["auth"], [code], env)
        result("lost answer: and the code is still refused on bastion B (%s)" % rb.code("auth"),
               rb.code("auth") == "PAM_AUTH_ERR" and "outcome=replayed-fleet" in rb.logtext(),
               rb.logtext())
    finally:
        proxy.shutdown()
        proxy.server_close()


def lost_registry_answer(a, m, menv, env, roles):
    """The registry's conditional PutItem lands but its answer is lost: the retry fails the
    condition on our own item, and the read-back finds our nonce, so the login goes on."""
    proxy = LoseFirstAnswer(m.port, table=SESSION_TABLE)
    t = threading.Thread(target=proxy.serve_forever, daemon=True)
    t.start()
    try:
        url = "http://127.0.0.1:%d" % proxy.server_address[1]
        a.config("lossyreg", menv, roles, dynamodb_endpoint=url)
        r = a.drive("lossyreg", "daemon", ["auth", "open", "env", "close"], [totp("daemon")],
                    env)
        sid = r.env.get("STSROLE_SESSION_ID", "")
        got = [it for it in items(m, menv, SESSION_TABLE)
               if it.get("session_id", {}).get("S") == sid]
        result("lost answer: the registry PutItem lands, its answer is lost; the retry fails the "
               "condition on our own item, the read-back finds our nonce: the login goes on "
               "(%s, %s)" % (r.code("open"), " ".join(proxy.seen)),
               r.code("open") == "PAM_SUCCESS" and proxy.dropped and len(got) == 1
               and proxy.seen.count("GetItem") >= 1,
               "%s %s" % (r.logtext()[-600:], json.dumps(got)[:300]))
        ddb = m.client("dynamodb", creds=menv["base"])
        for it in got:  # the tests after this one count the registry's items
            ddb.delete_item(TableName=SESSION_TABLE, Key={"pk": it["pk"], "sk": it["sk"]})
    finally:
        proxy.shutdown()
        proxy.server_close()


def registry(a, b, m, menv, env):
    r = a.drive("fleet", "nobody", ["auth", "open", "env", "close"], [totp("nobody")], env)
    sid_a = r.env.get("STSROLE_SESSION_ID", "")
    result("registry: auth and open_session on A succeed (%s, %s)"
           % (r.code("auth"), r.code("open")),
           r.code("auth") == "PAM_SUCCESS" and r.code("open") == "PAM_SUCCESS"
           and r.code("close") == "PAM_SUCCESS", r.logtext())
    rec = {}
    path = os.path.join(a.state, "sessions", sid_a + ".json")
    if sid_a and os.path.exists(path):
        rec = json.load(open(path))
    got = [it for it in items(m, menv, SESSION_TABLE)
           if it.get("session_id", {}).get("S") == sid_a]
    it = got[0] if got else {}
    s = lambda k: it.get(k, {}).get("S")  # noqa: E731
    n = lambda k: int(it.get(k, {}).get("N", "0"))  # noqa: E731
    want = {"pk": "user#nobody", "sk": "session#" + sid_a, "kind": "session",
            "bastion_id": "fleet-a", "user": "nobody", "role_name": "SecurityAuditRole",
            "role_arn": menv["roles"]["SecurityAuditRole"],
            "assumed_role_id": rec.get("assumed_role_id"),
            "session_name": rec.get("session_name"), "access_key_id": rec.get("access_key_id"),
            "rhost": "192.0.2.20"}
    diff = {k: (s(k), v) for k, v in want.items() if s(k) != v or v is None}
    result("registry: open_session wrote one item (boto3 scan) matching the local record",
           len(got) == 1 and not diff and n("v") == 1 and n("expiration") == rec.get("expiration")
           and n("opened") == rec.get("opened") and n("ttl") == n("expiration") + 3600,
           "%d items, diff %s, item %s" % (len(got), diff, json.dumps(it)))
    blob = json.dumps(it)
    result("registry: the item holds no secret (secret key, session token)",
           bool(it) and r.env.get("AWS_SECRET_ACCESS_KEY", "x") not in blob
           and r.env.get("AWS_SESSION_TOKEN", "x") not in blob)
    result("registry: close_session leaves the item (logout never waits on AWS; the gateway "
           "removes it)", rec.get("closed", 0) > 0 and len(got) == 1, str(rec.get("closed")))

    r = b.drive("fleet", "nobody", ["auth", "open", "env"], [totp("nobody", 1)], env)
    sid_b = r.env.get("STSROLE_SESSION_ID", "")
    result("registry: a session on B as well (%s)" % r.code("open"),
           r.code("open") == "PAM_SUCCESS" and sid_b, r.logtext())

    if not FLEETDRIVE:
        skip("registry via lib/ddb.c", "FLEETDRIVE not given (run tests/fleet/run.sh)")
        return
    conf = os.path.join(a.etc, "fleet.conf")

    def fd(*args):
        p = subprocess.run([FLEETDRIVE, conf] + list(args), capture_output=True, text=True,
                           env=env, timeout=60)
        return p.returncode, p.stdout, p.stderr

    # Noise the readers must cope with: an expired item and one of another format version.
    c = m.client("dynamodb", creds=menv["base"])
    dead = "d" * 32
    c.put_item(TableName=SESSION_TABLE, Item={
        "pk": {"S": "user#nobody"}, "sk": {"S": "session#" + dead}, "kind": {"S": "session"},
        "v": {"N": "1"}, "session_id": {"S": dead}, "bastion_id": {"S": "fleet-z"},
        "user": {"S": "nobody"}, "role_name": {"S": "R"}, "role_arn": {"S": "arn:aws:iam::1:role/R"},
        "assumed_role_id": {"S": "AROA:x"}, "session_name": {"S": "x"},
        "access_key_id": {"S": "ASIA"}, "expiration": {"N": "1000"}, "opened": {"N": "900"},
        "ttl": {"N": "4600"}})
    c.put_item(TableName=SESSION_TABLE, Item={
        "pk": {"S": "user#eve"}, "sk": {"S": "session#" + "e" * 32}, "kind": {"S": "session"},
        "v": {"N": "2"}})
    rc, out, err = fd("list")
    listed = re.findall(r"session_id=([0-9a-f]{32}) bastion_id=(\S+)", out)
    result("registry: stsrole_registry_list (Scan) shows both bastions' sessions, not the "
           "expired one, and counts the foreign item as skipped",
           rc == 0 and sorted(listed) == sorted([(sid_a, "fleet-a"), (sid_b, "fleet-b")])
           and "count 2 skipped 1" in out, out + err)
    rc, out, err = fd("list", "nobody")
    result("registry: stsrole_registry_list (Query) for one user finds the same two",
           rc == 0 and "count 2 " in out and sid_a in out and sid_b in out, out + err)
    rc, out, err = fd("list", "eve")
    result("registry: a user with no live session lists none",
           rc == 0 and "count 0 skipped 1" in out, out + err)
    rc, out, err = fd("delete", "nobody", sid_a)
    rc2, out2, err2 = fd("list")
    rc3, out3, err3 = fd("delete", "nobody", sid_a)
    result("registry: stsrole_registry_delete removes A's item; deleting it again succeeds",
           rc == 0 and rc2 == 0 and sid_a not in out2 and sid_b in out2 and rc3 == 0,
           out + err + out2 + err2 + out3 + err3)


def valgrind(a, b, env):
    if shutil.which("valgrind") is None:
        skip("valgrind", "valgrind is not installed")
        return
    if PRELOAD:
        skip("valgrind", "the module is built with sanitizers (ASan checks every case instead)")
        return
    vlog = os.path.join(a.root, "valgrind.log")
    code = totp("nobody", 2)
    cmd, log = a.command("fleet", "nobody", ["auth", "open", "close"], [code])
    cmd = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
           "--show-leak-kinds=definite,indirect,possible",
           "--errors-for-leak-kinds=definite,indirect,possible", "--log-file=%s" % vlog] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    r = finish(p.stdout, log, p.returncode, p.stderr)
    vl = open(vlog).read() if os.path.exists(vlog) else ""
    result("valgrind: auth with the fleet check, open_session with the registry, close: "
           "no errors, no leaks",
           p.returncode == 0 and r.code("auth") == "PAM_SUCCESS"
           and r.code("open") == "PAM_SUCCESS", "%s\n%s" % (r.rc, vl[-3000:]))
    # The same code on B: liboath there accepts it, the fleet check refuses it (a failed
    # condition, then the read-back of the claim).
    cmd, log = b.command("fleet", "nobody", ["auth"], [code])
    cmd = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
           "--errors-for-leak-kinds=definite,indirect,possible", "--log-file=%s" % vlog] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    r = finish(p.stdout, log, p.returncode, p.stderr)
    vl = open(vlog).read() if os.path.exists(vlog) else ""
    result("valgrind: the same code refused on the other bastion by the fleet check: no errors, "
           "no leaks", p.returncode == 0 and r.code("auth") == "PAM_AUTH_ERR"
           and "outcome=replayed-fleet" in r.logtext(), "%s\n%s" % (r.rc, vl[-3000:]))


def template_matches_policy():
    """bastion-fleet.yaml carries exactly iam/bastion-fleet-policy.json, and lints clean."""
    try:
        import yaml
    except ImportError:
        skip("template", "PyYAML is not installed")
        return

    class L(yaml.SafeLoader):
        pass

    def tag(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            v = loader.construct_scalar(node)
        else:
            v = loader.construct_sequence(node, deep=True)
        return {("Ref" if suffix == "Ref" else "Fn::" + suffix): v}
    L.add_multi_constructor("!", tag)
    t = yaml.load(open(FLEET_TEMPLATE), Loader=L)
    params = {k: p.get("Default") for k, p in t["Parameters"].items()}
    values = dict(params, **{"AWS::Partition": "aws", "AWS::Region": "us-east-1",
                             "AWS::AccountId": "111111111111", "AWS::URLSuffix": "amazonaws.com"})
    res = t["Resources"]

    def ref(name):
        if name in values:
            return values[name]
        p = res[name]["Properties"]
        return resolve(p.get("TableName") or p.get("LogGroupName"))

    def resolve(v):
        if isinstance(v, list):
            return [resolve(x) for x in v]
        if isinstance(v, dict) and len(v) == 1:
            (k, a), = v.items()
            if k == "Ref":
                return ref(a)
            if k == "Fn::GetAtt":
                name = a.split(".")[0] if isinstance(a, str) else a[0]
                return "arn:aws:dynamodb:us-east-1:111111111111:table/" + ref(name)
            if k == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda mm: ref(mm.group(1)), a)
        if isinstance(v, dict):
            return {k: resolve(x) for k, x in v.items()}
        return v

    pol = resolve(res["BastionFleetPolicy"]["Properties"]["PolicyDocument"])
    result("template: bastion-fleet.yaml's policy is iam/bastion-fleet-policy.json",
           pol == json.load(open(FLEET_POLICY)), json.dumps(pol)[:400])
    tables = [r for r in res.values() if r["Type"] == "AWS::DynamoDB::Table"]
    result("template: both tables have pk/sk keys and TTL on ttl, and a log group exists",
           len(tables) == 2 and all(
               r["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "ttl",
                                                             "Enabled": True}
               and [k["AttributeName"] for k in r["Properties"]["KeySchema"]] == ["pk", "sk"]
               for r in tables)
           and any(r["Type"] == "AWS::Logs::LogGroup" for r in res.values()))


def template_lint_start():
    """cfn-lint of the template, started now (it takes seconds) and judged by template_lint."""
    lint = shutil.which("cfn-lint")
    if lint is None:
        return None
    return subprocess.Popen([lint, "--", FLEET_TEMPLATE], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def template_lint(p):
    if p is None:
        skip("template: cfn-lint", "cfn-lint is not installed")
        return
    out, _ = p.communicate(timeout=300)
    result("template: cfn-lint bastion-fleet.yaml is clean", p.returncode == 0, out)


def main():
    if os.geteuid() != 0:
        return S.skip_all("needs root (root-owned users files and configs)")
    if not PAMDRIVE or not MODULE or not os.path.exists(MODULE):
        return S.skip_all("PAMDRIVE or PAM_MODULE not given (run tests/fleet/run.sh)")
    if shutil.which("oathtool") is None:
        return S.skip_all("oathtool is not installed")
    try:
        from fleetmoto import FleetMoto, seed_fleet
        from mototest import base_env
    except ImportError as e:
        return S.skip_all("moto is unavailable: %s" % e)
    template_matches_policy()
    lint = template_lint_start()
    root = tempfile.mkdtemp(prefix="stsrole-fleettest.")
    race_users = ["r%02d" % i for i in range(ROUNDS)]
    users = ["carol", "dave", "lena", "nobody", "ctl", "evt", "daemon"] + race_users
    try:
        a = Bastion(root, "fleet-a", users)
        b = Bastion(root, "fleet-b", users)
        with FleetMoto(log=os.path.join(root, "moto.log")) as m:
            menv = seed_fleet(m)
            env = base_env(menv)
            roles = {"SecurityAuditRole": {"arn": menv["roles"]["SecurityAuditRole"],
                                           "users": "nobody carol dave daemon"}}
            for x in (a, b):
                x.config("fleet", menv, roles)
                x.config("local", menv, roles, replay_store="local", registry_table=None)
            cross_bastion(a, b, m, menv, env)
            race(a, b, m, menv, env, race_users)
            race_control(a, b, env, "ctl")
            outage(a, menv, env, roles)
            lost_answer(a, b, m, menv, env, roles)
            registry(a, b, m, menv, env)
            lost_registry_answer(a, m, menv, env, roles)
            valgrind(a, b, env)
        template_lint(lint)
    finally:
        if lint is not None and lint.poll() is None:
            lint.kill()
            lint.wait()
        rmtree_unless_kept(root)
    return S.finish()


if __name__ == "__main__":
    sys.exit(main())
