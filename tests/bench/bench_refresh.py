#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench_refresh.py: the cost of credentials_mode = process to an AWS user on the bastion.

Set-up, as tests/longsess/ does: a local moto (auth on), stsrole-gatewayd in credentials_mode =
process, one session opened with pam_stsrole (tests/longsess/sessdrive.c holds it open as sshd's
monitor would) for a throw-away user.  refresh_margin is 600 of a 900 s credential, so nothing is
refreshed while the benchmark runs: every fetch is served from the gateway's cache.

  1. A cached fetch from the refresh source, as the session's user:
     - stsrole-credential-process, spawned as the AWS SDKs spawn credential_process (fork, exec,
       connect, SO_PEERCRED, answer, exit), timed from spawn to exit; beside it /bin/true
       spawned the same way, the floor of any credential_process.  Target: median <= 5 ms.
     - the socket alone, from a process already running as the user: connect, request, answer.
  2. `aws sts get-caller-identity` (/usr/bin/aws, CLI v2) through the refresh path
     (AWS_CONFIG_FILE, AWS_PROFILE: credential_process) against the same credential as static
     AWS_* variables (credentials_mode = env), alternating round by round, as a ratio of medians.

It measures and asserts nothing.  Needs root (useradd, the root-owned state).

    tests/bench/bench_refresh.py [FETCHES] [CLI_ROUNDS] [BUILDDIR]   (default 300, 15, ./build)
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "longsess"))


def spawn_ms(argv, user, env):
    """Wall ms from spawn to exit of argv run as user (setuid in the child, before exec)."""
    t0 = time.perf_counter()
    p = subprocess.run(argv, user=user.pw_uid, group=user.pw_gid, extra_groups=[], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ms = (time.perf_counter() - t0) * 1000
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (argv[0], p.stderr.decode(errors="replace")[-300:]))
    return ms, p.stdout


def socket_ms(sock, sid, user, n):
    """n requests on the socket from a child that runs as user; its own per-request timings."""
    r, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            req = json.dumps({"cmd": "credentials", "session": sid}).encode() + b"\n"
            out = []
            for _ in range(n):
                t0 = time.perf_counter()
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.connect(sock)
                c.sendall(req)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                c.close()
                out.append((time.perf_counter() - t0) * 1000)
                if not data.startswith(b'{"Version":1,'):
                    raise RuntimeError(data[:200])
            os.write(wfd, json.dumps(out).encode())
            os._exit(0)
        except BaseException as e:  # noqa: BLE001 - report anything from the child
            os.write(wfd, json.dumps({"error": str(e)}).encode())
            os._exit(1)
    os.close(wfd)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    res = json.loads(data)
    if isinstance(res, dict):
        raise RuntimeError("socket client: %s" % res["error"])
    return res


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def main():
    fetches = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    cli_rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    if len(sys.argv) > 3:
        os.environ["STSROLE_BUILD"] = os.path.abspath(sys.argv[3])
    import test_longsess as ls
    from gwlib import gatewayd_path

    ls.MARGIN = 600  # no refresh during the run: a cached fetch is what is measured
    if os.geteuid() != 0:
        print("skipped: needs root (useradd, root-owned state)")
        return 77
    if not os.path.exists(ls.AWS) or shutil.which("moto_server") is None:
        print("skipped: %s or moto_server is missing" % ls.AWS)
        return 77
    tmp = tempfile.mkdtemp(prefix="stsrole-bench-refresh.")
    os.chmod(tmp, 0o755)
    w = None
    try:
        sessdrive = os.path.join(tmp, "sessdrive")
        # make builds the driver (tests/Makefile.am); the copy is one the session's user can run.
        built = os.path.join(ls.build_dir(), "tests", "longsess", "sessdrive")
        if not os.access(built, os.X_OK):
            print("skipped: %s is not built" % built)
            return 77
        shutil.copy(built, sessdrive)
        for path in (gatewayd_path(), os.path.join(ls.build_dir(), "gateway",
                                                   "stsrole-credential-process")):
            if not os.path.exists(path):
                print("skipped: %s is not built" % path)
                return 77
        with ls.Moto(log=os.path.join(tmp, "moto.log")) as m:
            menv = m.seed(roles=ls.ROLES)
            w = ls.World(m, menv, tmp, sessdrive)
            w.start()
            s = ls.Login(w, w.a)
            try:
                return bench(w, s, fetches, cli_rounds)
            finally:
                s.close()
                w.gw.stop()
    finally:
        if w is not None:
            w.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def bench(w, s, fetches, cli_rounds):
    import test_longsess as ls

    env = s.user_env()
    helper = [w.helper, "--socket", w.socket, "--session", s.sid]
    doc = json.loads(spawn_ms(helper, s.user, env)[1])  # warm-up, not counted
    spawn_ms(["/bin/true"], s.user, env)
    h, floor = [], []
    for i in range(fetches):
        pair = [(helper, h), (["/bin/true"], floor)]
        for argv, out in (pair if i % 2 == 0 else pair[::-1]):
            out.append(spawn_ms(argv, s.user, env)[0])
    sock = socket_ms(w.socket, s.sid, s.user, fetches)
    now = json.loads(spawn_ms(helper, s.user, env)[1])
    print("stsrole-gatewayd, credentials_mode = process, against local moto (auth on); "
          "%d fetches, all from the cache (one credential: %s)" %
          (fetches, "yes" if now["AccessKeyId"] == doc["AccessKeyId"] else "NO, it changed"))
    print("1. a cached fetch from the refresh source, as the session's user:")
    for name, v in (("stsrole-credential-process, spawn to exit", h),
                    ("/bin/true spawned the same way (floor)", floor),
                    ("the socket alone (connect, request, answer)", sock)):
        print("  %-46s median %6.2f ms  p90 %6.2f ms  max %6.2f ms" %
              (name, statistics.median(v), pct(v, 0.9), max(v)))
    print("  credential_process median %.2f ms (target <= 5 ms): %s; the helper's own share "
          "above the floor %.2f ms" % (statistics.median(h), "met" if statistics.median(h) <= 5
                                       else "NOT met", statistics.median(h) -
                                       statistics.median(floor)))

    static = {k: v for k, v in env.items()
              if k not in ("AWS_CONFIG_FILE", "AWS_PROFILE", "AWS_SDK_LOAD_CONFIG")}
    static.update(AWS_ACCESS_KEY_ID=now["AccessKeyId"], AWS_SECRET_ACCESS_KEY=now[
        "SecretAccessKey"], AWS_SESSION_TOKEN=now["SessionToken"],
        AWS_CREDENTIAL_EXPIRATION=now["Expiration"], AWS_CONFIG_FILE="/dev/null")
    cli = [ls.AWS, "--endpoint-url", w.moto.url, "sts", "get-caller-identity", "--query", "Arn",
           "--output", "text"]
    proc, stat = [], []
    for i in range(cli_rounds + 1):
        pair = [(env, proc), (static, stat)]
        for e, out in (pair if i % 2 == 0 else pair[::-1]):
            ms, text = spawn_ms(cli, s.user, e)
            if s.sid[:16] not in text.decode():
                raise RuntimeError("unexpected identity %r" % text)
            if i > 0:  # round 0 warms up
                out.append(ms)
    mp, ms_ = statistics.median(proc), statistics.median(stat)
    print("2. aws sts get-caller-identity (%s), %d alternated rounds:" % (
        subprocess.run([ls.AWS, "--version"], capture_output=True, text=True).stdout.split()[0],
        cli_rounds))
    print("  %-46s median %7.1f ms" % ("through the refresh path (credential_process)", mp))
    print("  %-46s median %7.1f ms" % ("static AWS_* variables, the same credential", ms_))
    print("ratio refresh path / static = %.3f  (+%.1f ms per CLI run)" % (mp / ms_, mp - ms_))
    return 0


if __name__ == "__main__":
    sys.exit(main())
