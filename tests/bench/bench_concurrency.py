#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench_concurrency.py: login time through one real sshd when 1, 10 or 50 people log in at once.

One sshd on 127.0.0.1 with pam_stsrole and moto as STS (tests/lib/sshdtest.py,
as in tests/integration/test_concurrency.py).  At each level N, N logins are
released at the same moment (a threading.Barrier just before each ssh starts)
and each one's wall time is taken from spawning ssh to its exit: key, TOTP
code under stsrole's lock, AssumeRole at moto, session record, the command.
Between rounds every per-connection sshd is waited for (not timed).  It
prints p50 and p99 per level, and the ratio of the p99 at 50 to the
single-login median (target: at most 3 on 2 cores).

For scale, every round is repeated against a second sshd on the same
machine whose PAM stack is pam_permit (no code, no credential): the floor
that sshd, ssh and this machine give to N logins at once.  It measures; it
asserts nothing.

    tests/bench/bench_concurrency.py [BUILDDIR]

Every login has a code of its own: 51 users, each logging in at most four
times with the codes of consecutive time steps, at most 3 steps ahead
(totp_window = 3).
Exits 77 after "skipped: ..." when a prerequisite is missing, 1 when the
set-up or a login fails, else 0.  See tests/bench/README.md.
"""
import math
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

import sshdtest  # noqa: E402
from sshdtest import (BURST, PROMPT_CODE, Lab, SetupError, at_once, ssh_login,  # noqa: E402
                      stsrole_stack, totp)

COMMAND = "echo ok ${STSROLE_SESSION_ID:-none}"
# (concurrent logins, rounds): 20, 30 and 100 samples.
LEVELS = ((1, 20), (10, 3), (50, 2))
USERS = 51  # 50 at once, and one for the warm-up
# The floor: the same sshd and key, no code and no credential.
FLOOR_STACK = ["auth required pam_permit.so", "account required pam_unix.so",
               "session required pam_unix.so"]


def percentile(xs, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    xs = sorted(xs)
    return xs[max(0, math.ceil(p / 100.0 * len(xs)) - 1)]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Bench:
    def __init__(self, lab, module, moto):
        group = lab.add_group()
        self.users = [lab.add_user(groups=(group,)) for _ in range(USERS)]
        menv = moto.seed()
        lab.write_usersfile(self.users)
        conf = lab.stsrole_conf(menv, {
            "SecurityAuditRole": {"arn": menv["roles"]["SecurityAuditRole"], "groups": group},
        }, "benchbastion", totp_window=3)
        exe = lab.pam_service("stsrole-bench-%d" % os.getpid(), stsrole_stack(module, conf))
        self.sshd = lab.start_sshd(exe, extra=(BURST,))
        floor = lab.pam_service("stsrole-benchf-%d" % os.getpid(), FLOOR_STACK)
        self.floor = lab.start_sshd(floor, extra=(BURST,))
        hosts = {u.name: (self.sshd, u) for u in self.users}
        hosts.update({"floor-" + u.name: (self.floor, u) for u in self.users})
        self.cfg = lab.ssh_config(hosts)
        self.used = {u.name: -1 for u in self.users}  # the last step offset each user sent

    def round(self, users, floor=False):
        codes = []
        for u in users:
            if not floor:
                self.used[u.name] += 1
                codes.append(totp(u.secret, step=self.used[u.name]))
            else:
                codes.append(None)

        def job(u, code):
            def run(gate):
                gate()
                if floor:
                    return ssh_login(self.cfg, "floor-" + u.name, [], COMMAND, prompts=[])
                return ssh_login(self.cfg, u.name, [code], COMMAND, prompts=[PROMPT_CODE])
            return run
        results = at_once([job(u, c) for u, c in zip(users, codes)])
        sshd = self.floor if floor else self.sshd
        sshd.wait_idle()
        want = r"ok none" if floor else r"ok [0-9a-f]{32}"
        for u, r in zip(users, results):
            if isinstance(r, Exception) or r.status != 0 or not re.search(want, r.out):
                raise SetupError("login of %s failed: %s\n%s" % (
                    u.name, r if isinstance(r, Exception) else r.out[-500:],
                    sshd.log()[-2000:]))
        return [r.seconds for r in results]


def main():
    builddir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "STSROLE_BUILD", os.path.join(TOP, "build"))
    module = os.path.join(os.path.abspath(builddir), "pam", ".libs", "pam_stsrole.so")
    why = sshdtest.missing_prerequisite()
    if why is None and not os.path.exists(module):
        why = "%s is not built" % module
    try:
        from mototest import Moto
    except ImportError as e:
        why = why or "tests/lib/mototest.py: %s" % e
    if why:
        print("skipped: bench_concurrency: %s" % why)
        return 77
    with Lab("bconc") as lab, Moto(log=os.path.join(lab.root, "moto.log")) as m:
        try:
            b = Bench(lab, module, m)
            b.round(b.users[-1:])  # warm-ups, not counted
            b.round(b.users[-1:], floor=True)
            print("load average before: %s (%d CPUs)" % (loadavg(), os.cpu_count()))
            figures = {}
            for n, rounds in LEVELS:
                times = {"stsrole": [], "floor": []}
                for i in range(rounds):
                    # Users in turn, so nobody sends more than four codes.
                    start = (i * n) % (USERS - 1)
                    users = [b.users[(start + j) % (USERS - 1)] for j in range(n)]
                    times["stsrole"] += b.round(users)
                    times["floor"] += b.round(users, floor=True)
                figures[n] = times
                for kind in ("stsrole", "floor"):
                    t = times[kind]
                    print("%-7s %2d at once: %3d logins  p50 %6.3f s  p99 %6.3f s  max %6.3f s"
                          % (kind, n, len(t), statistics.median(t), percentile(t, 99), max(t)),
                          flush=True)
            print("load average after: %s" % loadavg())
            for kind in ("stsrole", "floor"):
                print("%-7s p99 at 50 / single-login median: %.2f (target for stsrole <= 3.0)"
                      % (kind, percentile(figures[50][kind], 99)
                         / statistics.median(figures[1][kind])))
            print("stsrole / floor at 50 at once: p50 %.2f, p99 %.2f (what stsrole adds)"
                  % (statistics.median(figures[50]["stsrole"])
                     / statistics.median(figures[50]["floor"]),
                     percentile(figures[50]["stsrole"], 99) / percentile(figures[50]["floor"], 99)))
        except SetupError as e:
            print("bench_concurrency: %s" % e)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
