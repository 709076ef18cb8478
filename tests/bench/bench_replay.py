#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench_replay.py: the login-time cost of the fleet-wide replay check against the local one.

In one run, alternating round by round, it times inside one process
(tests/fleet/fleetdrive.c, linked against the built libstsrole):

  local   stsrole_totp_verify: liboath checks the code against the users file and
          rewrites it (lock, new file, fsync, rename): the per-bastion replay check;
  shared  what replay_store = dynamodb:TABLE adds after that: stsrole_totp_step (read
          the users file, locate the code's step) and stsrole_login_replay (one signed,
          conditional PutItem to DynamoDB, here moto on loopback with signature checks).

and prints the medians and the ratio shared/local.  Needs root (root-owned users file and
config).  It measures; it asserts nothing.

    tests/bench/bench_replay.py [ROUNDS] [BUILDDIR]      (default 50, ./build)
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "fleet"))
from harness import totp  # noqa: E402

SECRET = "3132333435363738393031323334353637383930"


def build_driver(builddir, out):
    """Copies the driver make built (tests/Makefile.am) to out."""
    exe = os.path.join(builddir, "tests", "fleet", "fleetdrive")
    if not os.access(exe, os.X_OK):
        return "%s is not built (make -C %s)" % (exe, builddir)
    shutil.copy(exe, out)
    return None


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    builddir = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(TOP, "build"))
    if os.geteuid() != 0:
        print("skipped: needs root (the users file and config must be root-owned)")
        return 77
    if shutil.which("oathtool") is None:
        print("skipped: oathtool is not installed")
        return 77
    tmp = tempfile.mkdtemp(prefix="stsrole-bench-replay.")
    try:
        why = build_driver(builddir, os.path.join(tmp, "fleetdrive"))
        if why:
            print("skipped: %s" % why)
            return 77
        return run(rounds, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(rounds, tmp):
    from fleetmoto import REPLAY_TABLE, seed_fleet
    from mototest import Moto, base_env, write_config

    etc = os.path.join(tmp, "etc")
    os.makedirs(etc, mode=0o700)
    usersfile = os.path.join(etc, "users.oath")
    fd = os.open(usersfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("HOTP/T30 bench - %s\n" % SECRET)
    with Moto() as moto:
        menv = seed_fleet(moto, tables=(REPLAY_TABLE,))
        conf = write_config(os.path.join(etc, "stsrole.conf"), menv,
                            roles={"audit": {"arn": menv["roles"]["SecurityAuditRole"],
                                             "users": "bench"}},
                            bastion_id="bench", usersfile=usersfile, totp_window=2,
                            replay_store="dynamodb:" + REPLAY_TABLE,
                            dynamodb_endpoint=menv["url"])
        code = totp(SECRET)
        # The same code every round: the local check gets the users file back as it was
        # before the code was used, the shared check claims a step one past the last.
        p = subprocess.run([os.path.join(tmp, "fleetdrive"), conf, "bench", str(rounds),
                            usersfile, "bench", code], capture_output=True, text=True,
                           env=base_env(menv), timeout=60 + rounds * 10)
    if p.returncode != 0:
        print("fleetdrive bench failed (%d): %s" % (p.returncode, p.stderr.strip()))
        return 1
    local, locate, claim = [], [], []
    for ln in p.stdout.splitlines():
        f = ln.split()
        if f[:1] == ["round"]:
            local.append(int(f[3]) / 1000.0)
            locate.append(int(f[5]) / 1000.0)
            claim.append(int(f[7]) / 1000.0)
    if len(local) != rounds:
        print("fleetdrive printed %d rounds, not %d" % (len(local), rounds))
        return 1
    shared = [a + b for a, b in zip(locate, claim)]
    med = statistics.median
    print("rounds: %d (plus one warm-up), alternating which check goes first" % rounds)
    print("  local  liboath users-file check (read, verify, rewrite + fsync)   median %7.3f ms"
          % med(local))
    print("  shared fleet check (locate step + conditional PutItem to moto)   median %7.3f ms"
          % med(shared))
    print("         of which: locate the step %.3f ms, the PutItem round trip %.3f ms"
          % (med(locate), med(claim)))
    print("  p90: local %.3f ms, shared %.3f ms"
          % (statistics.quantiles(local, n=10)[-1], statistics.quantiles(shared, n=10)[-1]))
    print("ratio shared/local (median) = %.2f" % (med(shared) / med(local)))
    print("a login with replay_store = dynamodb pays local + shared = %.3f ms for its code"
          % (med(local) + med(shared)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
