#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench_gateway.py: stsrole-gatewayd's revocation latency, memory and CPU time per session.

Against one local moto with auth on (tests/lib/mototest.py), the gateway in
the foreground with a stand-in for systemd's notify socket
(tests/lib/gwlib.py), and session records written as pam_stsrole writes
them.  It measures; it asserts nothing.

1. Latency: a logout (the record renamed into place, marked closed) to the
   gateway's PutRolePolicy having returned, against one bare
   `curl --aws-sigv4` PutRolePolicy of a document of the same size with the
   revoker's credentials.  Alternated in the same run; medians and the ratio
   (target <= 1.5x).
2. Memory: VmRSS, VmHWM and Pss of the gateway with 0 and SESSIONS live
   sessions, beside a C program that only links libcurl: the fixed cost
   above that program (target <= 1.5 MiB) and the cost per session
   (target <= 1 KiB).
3. CPU: the gateway's utime+stime per session, opening and closing+revoking.

    tests/bench/bench_gateway.py [ROUNDS] [SESSIONS]
      ROUNDS    alternated latency rounds (default 30, at most 150)
      SESSIONS  live sessions for memory and CPU (default 1000, at most 10000); a
                comma-separated list (1000,10000) measures memory at each count

STSROLE_BUILD (or STSROLE_GATEWAYD) picks the build, as in tests/gateway.
Exits 77 after "skipped: ..." when a prerequisite is missing, 1 when the
set-up fails, else 0.  See tests/bench/README.md.
"""
import ctypes
import datetime
import json
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from mototest import Moto, base_env, write_config  # noqa: E402
from gwlib import Gateway, fake_userid, gatewayd_path, session_record, write_session  # noqa: E402

MAX_ROUNDS = 150  # LatRole holds ROUNDS + 1 entries of 45 characters: ~7.4k of the 10,240 budget
MAX_SESSIONS = 10000
PER_ROLE = 100  # pool sessions per role: 100 entries of 46 characters fit any role's budget
BASTION = "bench"
ALLOW = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": ["iam:Get*", "ec2:Describe*"],
                        "Resource": "*"}]}
REVOKER = {"Version": "2012-10-17",
           "Statement": [{"Effect": "Allow",
                          "Action": ["iam:GetRolePolicy", "iam:PutRolePolicy",
                                     "iam:DeleteRolePolicy", "iam:ListRolePolicies"],
                          "Resource": "*"}]}
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The libcurl floor: links libcurl and initialises it; with a URL it also
# makes one transfer, which maps what a first request needs (resolver,
# connection cache).  It then waits on stdin while its memory is read.
FLOOR_C = r"""
#include <curl/curl.h>
#include <stdio.h>

static size_t
sink(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

int
main(int argc, char **argv)
{
    CURL *h = NULL;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    if (argc > 1) {
        if ((h = curl_easy_init()) == NULL)
            return 1;
        curl_easy_setopt(h, CURLOPT_URL, argv[1]);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
        (void)curl_easy_perform(h);
    }
    puts("ready");
    fflush(stdout);
    while (getchar() != EOF)
        ;
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return 0;
}
"""


# -- what /proc says about a process ---------------------------------------------------------

def memory(pid):
    """KiB: VmRSS, VmHWM, RssAnon (from status) and Pss (from smaps_rollup)."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon"):
                out[k] = int(v.split()[0])
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                out["Pss"] = int(line.split()[1])
    return out


def mapped(pid):
    """KiB of Rss per mapped file (anonymous mappings, heap and stack under "[anon]")."""
    out = {}
    name = "[anon]"
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            head = line.split()
            if head and re.match(r"^[0-9a-f]+-[0-9a-f]+$", head[0]):
                name = head[5] if len(head) > 5 and head[5].startswith("/") else "[anon]"
            elif head and head[0] == "Rss:":
                out[name] = out.get(name, 0) + int(head[1])
    return out


def cpu(pid):
    """(utime+stime in seconds from /proc/PID/stat, runtime in seconds from schedstat).

    stat counts in clock ticks (10 ms here), too coarse for one session;
    schedstat is the scheduler's runtime in ns, summed over the live threads."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    ticks = int(rest[11]) + int(rest[12])  # fields 14 and 15; rest[0] is field 3
    ns = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                ns += int(f.read().split()[0])
        except FileNotFoundError:
            pass
    return ticks / CLK_TCK, ns / 1e9


# -- the gateway's side ----------------------------------------------------------------------

class Audit:
    """Reads the audit log's new complete lines from where it last stopped."""

    def __init__(self, path):
        self.path = path
        self.off = 0

    def new(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self.off += end
        return [json.loads(line) for line in data[:end].splitlines() if line.strip()]


class AuditWatch:
    """Notes when each revoke.ok line appears in the audit log, through inotify.

    A thread waits on IN_MODIFY and, after each read of the new lines, stamps every
    revoke.ok line it found with the time that read ended: the line was written before
    then, so the stamp is an upper bound of when the gateway was done with the write."""

    def __init__(self, path):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0 or self.libc.inotify_add_watch(self.fd, path.encode(), 0x2) < 0:
            raise SystemExit("inotify on %s: %s" % (path, os.strerror(ctypes.get_errno())))
        self.audit = Audit(path)
        self.audit.new()  # what is there already
        self.seen = {}
        self.cond = threading.Condition()
        self.stop_r, self.stop_w = os.pipe()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        p = select.poll()
        p.register(self.fd, select.POLLIN)
        p.register(self.stop_r, select.POLLIN)
        while True:
            fds = [fd for fd, _ in p.poll()]
            if self.stop_r in fds:
                return
            try:
                while os.read(self.fd, 4096):
                    pass
            except BlockingIOError:
                pass
            lines = self.audit.new()
            t = time.time()
            with self.cond:
                for e in lines:
                    if e["event"] == "revoke.ok":
                        self.seen[e["session_id"]] = t
                self.cond.notify_all()

    def wait(self, session_id, timeout=30.0):
        with self.cond:
            if not self.cond.wait_for(lambda: session_id in self.seen, timeout):
                raise SystemExit("revoke.ok for %s not seen within %.0f s" % (session_id, timeout))
            return self.seen.pop(session_id)

    def close(self):
        os.write(self.stop_w, b"x")
        self.thread.join(10)
        for fd in (self.fd, self.stop_r, self.stop_w):
            os.close(fd)


def ts_epoch(ts):
    """The audit ts (UTC, milliseconds, cut rather than rounded) as epoch seconds."""
    dt = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.replace(tzinfo=datetime.timezone.utc).timestamp()


def status_line(followed, queued, revoked):
    # gatewayd.c sends this right before it goes back to poll(2): the gateway is idle.
    return "STATUS=%d sessions followed, %d to revoke, %d revoked" % (followed, queued, revoked)


def wait_status(gw, since, followed, queued, revoked, timeout=90.0):
    line = status_line(followed, queued, revoked)
    i = gw.wait_message(line, timeout, since)
    if i is None:
        raise SystemExit("the gateway did not reach %r within %.0f s (last: %r)" %
                         (line, timeout, gw.msgs[-1:]))
    return i + 1


def close_record(state, rec):
    """Marks rec closed as pam_stsrole does: temp file, fsync, rename, fsync of the directory.
    Returns the wall-clock time just before rename(2), the moment the record says closed."""
    rec = dict(rec, closed=int(time.time()))
    d = os.path.join(state, "sessions")
    path = os.path.join(d, rec["session_id"] + ".json")
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (json.dumps(rec) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    t0 = time.time()
    os.rename(tmp, path)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return t0


def fake(role_arn, tag, n):
    # sshd_pid is this process: alive, and started before the session opened, so neither
    # the start-up scan nor the periodic reconcile counts the session as closed.
    return session_record(tag, "bench", role_arn, fake_userid(tag, n), "ASIAFAKE%012d" % n,
                          time.time() + 3600, sshd_pid=os.getpid())


def deny_doc(userids):
    """The document the gateway writes (lib/policy.c), compact, for the same entries."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "StsroleRevoked", "Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"StringEquals": {"aws:userid": list(userids)}}}]},
        separators=(",", ":"))


# -- the libcurl floor -----------------------------------------------------------------------

def build_floor(tmp):
    """Returns (path, None) or (None, why)."""
    if shutil.which("cc") is None or shutil.which("pkg-config") is None:
        return None, "cc or pkg-config is missing"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libcurl"],
                           capture_output=True, text=True)
    if flags.returncode != 0:
        return None, "libcurl's headers are missing (apt-get install -y libcurl4-openssl-dev)"
    src = os.path.join(tmp, "floor.c")
    exe = os.path.join(tmp, "floor")
    with open(src, "w") as f:
        f.write(FLOOR_C)
    p = subprocess.run(["cc", "-O2", "-o", exe, src] + flags.stdout.split(),
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None, "cc failed: " + p.stderr.strip()[:200]
    return exe, None


def floor_memory(exe, args):
    p = subprocess.Popen([exe] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        if p.stdout.readline().strip() != b"ready":
            raise SystemExit("the libcurl floor program did not start")
        return memory(p.pid), mapped(p.pid)
    finally:
        p.stdin.close()
        p.wait(timeout=10)


# -- the benchmark ---------------------------------------------------------------------------

def prerequisites():
    if os.geteuid() != 0:
        return "stsrole-gatewayd trusts only root-owned state and config: run as root"
    if not os.access(gatewayd_path(), os.X_OK):
        return "%s is not built" % gatewayd_path()
    if shutil.which("moto_server") is None:
        return "moto_server is missing"
    if shutil.which("curl") is None:
        return "curl is missing"
    v = subprocess.run(["curl", "--help", "all"], capture_output=True, text=True).stdout
    if "--aws-sigv4" not in v:
        return "this curl has no --aws-sigv4 (needs 7.75 or later)"
    return None


def main():
    rounds = min(int(sys.argv[1]) if len(sys.argv) > 1 else 30, MAX_ROUNDS)
    steps = sorted({min(max(int(n), 1), MAX_SESSIONS)
                    for n in (sys.argv[2] if len(sys.argv) > 2 else "1000").split(",")})
    why = prerequisites()
    if why:
        print("skipped: %s" % why)
        return 77
    tmp = tempfile.mkdtemp(prefix="stsrole-bench-gw-")
    try:
        return run(rounds, steps, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(rounds, steps, tmp):
    sessions = steps[-1]
    n_pool = (sessions + PER_ROLE - 1) // PER_ROLE
    pool = ["PoolRole%d" % i for i in range(n_pool)]
    roles = {"StsRoleRevoker": REVOKER, "LatRole": ALLOW, "CurlRole": ALLOW}
    roles.update({name: ALLOW for name in pool})
    floor_exe, floor_why = build_floor(tmp)
    with Moto() as moto:
        menv = moto.seed(roles=roles)
        arns = menv["roles"]
        state = os.path.join(tmp, "state")
        audit_path = os.path.join(tmp, "audit.log")
        spec = {name: {"arn": arns[name], "revoker_arn": arns["StsRoleRevoker"],
                       "users": "bench"} for name in ["LatRole"] + pool}
        conf = write_config(os.path.join(tmp, "stsrole.conf"), menv, roles=spec,
                            state_dir=state, audit_log=audit_path, bastion_id=BASTION)
        # curl's credentials: the revoker role's, as the gateway's are.
        rv = moto.client("sts", creds=menv["base"]).assume_role(
            RoleArn=arns["StsRoleRevoker"], RoleSessionName="bench-curl")["Credentials"]
        iam = moto.client("iam", creds=rv)
        curl = ["curl", "-sfS", "-o", "/dev/null", "--aws-sigv4", "aws:amz:us-east-1:iam",
                "--user", "%s:%s" % (rv["AccessKeyId"], rv["SecretAccessKey"]),
                "-H", "x-amz-security-token: " + rv["SessionToken"],
                "-H", "Content-Type: application/x-www-form-urlencoded"]
        gw = Gateway(conf, base_env(menv), log=os.path.join(tmp, "gatewayd.log"))
        try:
            gw.start(timeout=60)
        except AssertionError as e:
            with open(os.path.join(tmp, "gatewayd.log"), errors="replace") as f:
                raise SystemExit("%s: %s" % (e, f.read()[-500:]))
        watch = None
        try:
            watch = AuditWatch(audit_path)
            res = measure(gw, moto, state, Audit(audit_path), watch, arns, pool, rounds,
                          steps, curl, iam)
        finally:
            if watch is not None:
                watch.close()
            if gw.stop(timeout=30) != 0:
                print("note: the gateway did not exit 0 on SIGTERM")
        floor = {}
        if floor_exe:
            floor["links libcurl, curl_global_init"] = floor_memory(floor_exe, [])[0]
            floor["... and one transfer to moto"], floor_maps = floor_memory(
                floor_exe, [moto.url + "/"])
            res["extra"] = beyond(res["maps0"], floor_maps)
    report(res, rounds, sessions, floor, floor_why)
    return 0


def measure(gw, moto, state, audit, watch, arns, pool, rounds, steps, curl, iam):
    sessions = steps[-1]
    pid = gw.proc.pid
    res = {"gw": [], "ts": [], "idle": [], "curl": [], "seq_open": [0.0, 0.0],
           "seq_close": [0.0, 0.0]}
    since = wait_status(gw, 0, 0, 0, 0)
    revoked = 0
    listed = []

    def gateway_round(n, counted):
        nonlocal since, revoked
        rec = fake(arns["LatRole"], "lat", n)
        c0 = cpu(pid)
        write_session(state, rec)
        since = wait_status(gw, since, 1, 0, revoked)
        c1 = cpu(pid)
        t0 = close_record(state, rec)
        t_seen = watch.wait(rec["session_id"])
        since = wait_status(gw, since, 0, 0, revoked + 1)
        t_idle = time.time()
        c2 = cpu(pid)
        revoked += 1
        listed.append(rec["assumed_role_id"])
        ok = [e for e in audit.new()
              if e["event"] == "revoke.ok" and e["session_id"] == rec["session_id"]]
        if not ok or not ok[0]["aws_request_id"]:
            raise SystemExit("no revoke.ok with a PutRolePolicy request id for round %d" % n)
        if counted:
            res["gw"].append(t_seen - t0)
            res["ts"].append(ts_epoch(ok[0]["ts"]) - t0)
            res["idle"].append(t_idle - t0)
            for k in range(2):
                res["seq_open"][k] += c1[k] - c0[k]
                res["seq_close"][k] += c2[k] - c1[k]

    def curl_round(n, counted):
        # The document the gateway writes in round n: every entry so far and this one's.
        doc = deny_doc(listed + ([] if len(listed) > n else [fake_userid("lat", n)]))
        body = urllib.parse.urlencode([
            ("Action", "PutRolePolicy"), ("Version", "2010-05-08"), ("RoleName", "CurlRole"),
            ("PolicyName", "stsrole-revoked-" + BASTION), ("PolicyDocument", doc)])
        t0 = time.perf_counter()
        p = subprocess.run(curl + ["--data", body, moto.url + "/"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit("curl PutRolePolicy failed (%d): %s" %
                             (p.returncode, p.stderr.decode(errors="replace").strip()))
        if counted:
            res["curl"].append(dt)
            res["doc"] = len(doc)

    # Round 0 warms up both (page cache, moto's first calls) and is not counted.  The gateway
    # already assumed the revoker and read each role's policy at start.
    for n in range(rounds + 1):
        if n % 2 == 0:
            gateway_round(n, n > 0)
            curl_round(n, n > 0)
        else:
            curl_round(n, n > 0)
            gateway_round(n, n > 0)
    doc = iam.get_role_policy(RoleName="LatRole", PolicyName="stsrole-revoked-" + BASTION)
    res["gw_doc"] = len(json.dumps(doc["PolicyDocument"], separators=(",", ":")))
    res["mem0"] = memory(pid)
    res["maps0"] = mapped(pid)

    # Open SESSIONS sessions at once (one after another, as fast as records can be written),
    # reading the memory each time the count reaches a step.
    recs = [fake(arns[pool[i // PER_ROLE]], "pool", i) for i in range(sessions)]
    audit.new()
    res["mems"] = {}
    res["open_wall"] = 0.0
    c0 = cpu(pid)
    done = 0
    for step in steps:
        t0 = time.monotonic()
        for rec in recs[done:step]:
            write_session(state, rec)
        since = wait_status(gw, since, step, 0, revoked)
        res["open_wall"] += time.monotonic() - t0
        done = step
        res["mems"][step] = memory(pid)
    c1 = cpu(pid)
    res["open_cpu"] = [c1[k] - c0[k] for k in range(2)]
    opened = sum(1 for e in audit.new() if e["event"] == "session.open")
    if opened != sessions:
        raise SystemExit("%d session.open lines for %d sessions" % (opened, sessions))
    res["mem"] = res["mems"][sessions]

    # Close them all at once: the gateway writes the sessions that closed together in one
    # PutRolePolicy per role.
    t0 = time.monotonic()
    for rec in recs:
        close_record(state, rec)
    since = wait_status(gw, since, 0, 0, revoked + sessions)
    res["close_wall"] = time.monotonic() - t0
    c2 = cpu(pid)
    res["close_cpu"] = [c2[k] - c1[k] for k in range(2)]
    ok = [e for e in audit.new() if e["event"] == "revoke.ok"]
    if len(ok) != sessions:
        raise SystemExit("%d revoke.ok lines for %d sessions" % (len(ok), sessions))
    res["puts"] = len({e["aws_request_id"] for e in ok})
    res["threads"] = sum(1 for _ in os.listdir("/proc/%d/task" % pid))
    return res


def beyond(gw, floor):
    """What the gateway's Rss holds beyond the floor's: [(what, KiB)], largest first."""
    rows = [("heap and other anonymous memory", gw.get("[anon]", 0) - floor.get("[anon]", 0))]
    shared = sum(v - floor[k] for k, v in gw.items() if k in floor and k != "[anon]")
    rows += sorted(((os.path.basename(k), v) for k, v in gw.items() if k not in floor),
                   key=lambda kv: -kv[1])
    rows.append(("more pages of the files both map", shared))
    rows.append(("files only the floor maps", -sum(v for k, v in floor.items()
                                                    if k not in gw and k != "[anon]")))
    return rows


def report(res, rounds, sessions, floor, floor_why):
    gw, ts, idle, cu = (statistics.median(res[k]) for k in ("gw", "ts", "idle", "curl"))
    print("stsrole-gatewayd against local moto (auth on): %d alternated rounds, %d sessions"
          % (rounds, sessions))
    print("revocation latency, one logout at a time; the deny policy grows to %d entries, %d"
          % (rounds + 1, res["gw_doc"]))
    print("characters in IAM at the end (curl's last document: %d):" % res["doc"])
    print("  gateway  logout -> revoke.ok line seen (inotify)           median %7.2f ms" %
          (gw * 1000))
    print("  gateway  logout -> revoke.ok's own ts (cut to the ms)      median %7.2f ms" %
          (ts * 1000))
    print("  gateway  logout -> idle again (sd_notify STATUS)           median %7.2f ms" %
          (idle * 1000))
    print("  curl --aws-sigv4 PutRolePolicy, same size, revoker creds   median %7.2f ms" %
          (cu * 1000))
    print("ratio gateway/curl = %.3f  (target <= 1.5; by revoke.ok's ts %.3f)" % (gw / cu, ts / cu))
    print("memory (KiB)                               VmRSS   VmHWM     Pss  RssAnon")
    rows = [("gateway, 0 live sessions", res["mem0"])]
    rows += [("gateway, %d live sessions" % n, m) for n, m in sorted(res["mems"].items())]
    rows += sorted(floor.items(), key=lambda kv: kv[1]["VmRSS"])
    for name, m in rows:
        print("  %-38s %6d  %6d  %6d  %7d" % (name, m["VmRSS"], m["VmHWM"], m["Pss"],
                                               m["RssAnon"]))
    if floor_why:
        print("  libcurl floor: skipped: %s" % floor_why)
    if "extra" in res:
        total = res["mem0"]["VmRSS"] - floor["... and one transfer to moto"]["VmRSS"]
        print("  fixed cost: the gateway's VmRSS with 0 sessions beyond the floor with one transfer:")
        print("  %d KiB = %.2f MiB (target <= 1.5 MiB) =" % (total, total / 1024))
        text = ", ".join("%s %d" % kv for kv in res["extra"] if kv[1] != 0)
        while text:  # wrapped at 100 columns
            cut = len(text) if len(text) <= 94 else text.rfind(", ", 0, 94) + 1
            print("    " + text[:cut].strip())
            text = text[cut:].strip()
    prev_n, prev_m = 0, res["mem0"]
    for n, m in sorted(res["mems"].items()):
        print("  per session, %d -> %d live: VmRSS %+d KiB = %.3f KiB each, RssAnon %.3f KiB"
              " each (target <= 1)" % (prev_n, n, m["VmRSS"] - prev_m["VmRSS"],
                                      (m["VmRSS"] - prev_m["VmRSS"]) / (n - prev_n),
                                      (m["RssAnon"] - prev_m["RssAnon"]) / (n - prev_n)))
        prev_n, prev_m = n, m
    print("CPU per session, ms: utime+stime from /proc/PID/stat, counted in %d ms ticks "
          "[the scheduler's" % (1000 // CLK_TCK))
    print("runtime from /proc/PID/schedstat, in ns, over the gateway's %d thread%s]:"
          % (res["threads"], "" if res["threads"] == 1 else "s"))

    def line(what, c, n, extra=""):
        if c[0] * CLK_TCK < 20:
            extra += "  (stat: too few ticks)"
        print("  %-34s %6.3f  [%6.3f]%s" % (what, c[0] * 1000 / n, c[1] * 1000 / n, extra))
    line("open, %d at once" % sessions, res["open_cpu"], sessions,
         "  (%.1f s wall)" % res["open_wall"])
    line("close+revoke, %d at once" % sessions, res["close_cpu"], sessions,
         "  (%.1f s wall, %d PutRolePolicy)" % (res["close_wall"], res["puts"]))
    line("open, one at a time (%d)" % rounds, res["seq_open"], rounds)
    line("close+revoke, one at a time (%d)" % rounds, res["seq_close"], rounds)


if __name__ == "__main__":
    sys.exit(main())
