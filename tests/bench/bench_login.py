#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench_login.py: a full SSH login through pam_stsrole against one through pam_oath.

Two sshds on 127.0.0.1 with the same config (tests/lib/sshdtest.py), each
under its own PAM service: one asks pam_stsrole for the code and mints a
credential at local moto in open_session (TOTP, AssumeRole, environment,
durable record); the other asks Debian's pam_oath for the code and does
nothing more.  Logins are alternated in the same run, so moto's cost and the
machine's load hit both alike.  Then the same two PAM stacks, and a
pam_permit baseline, run under tests/pam/pamdrive.c to give each module's
own CPU time per transaction.  It measures; it asserts nothing.

    tests/bench/bench_login.py [ROUNDS] [BUILDDIR]
      ROUNDS   alternated rounds (default 15)
      BUILDDIR default $STSROLE_BUILD, else ./build under the source tree

Every login uses a user of its own with a secret of its own, so each code is
fresh without waiting for the next 30 s step (both modules refuse a reused
code).  Exits 77 after "skipped: ..." when a prerequisite is missing, 1 when
the set-up or a login fails, else 0.  See tests/bench/README.md.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

import sshdtest  # noqa: E402
from sshdtest import (PAM_OATH, PROMPT_CODE, PROMPT_OATH, Lab, SetupError,  # noqa: E402
                      oath_stack, ssh_login, stsrole_stack, totp)

WINDOW = 3  # the same TOTP window for both modules: the same liboath work
COMMAND = "echo ok ${STSROLE_SESSION_ID:-none}"
MAX_ROUNDS = 100  # 2 users a round; sshd allows at most 256 AllowUsers names


class BenchError(RuntimeError):
    pass


def prerequisites(module):
    why = sshdtest.missing_prerequisite()
    if why:
        return why
    if not os.path.exists(module):
        return "%s is not built" % module
    if not os.path.exists(PAM_OATH):
        return "%s is missing (apt-get install -y libpam-oath)" % PAM_OATH
    if shutil.which("moto_server") is None:
        return "moto_server is missing"
    try:
        import mototest  # noqa: F401
    except ImportError as e:
        return "tests/lib/mototest.py: %s" % e
    return None


def login(lab, cfg, kind, user, sshd):
    """One timed login; checks it really got in (and, for stsrole, a credential)."""
    code = totp(user.secret)
    r = ssh_login(cfg, "%s-%s" % (kind, user.name), [code], COMMAND,
                  prompts=[PROMPT_CODE if kind == "stsrole" else PROMPT_OATH])
    # Not timed: the per-connection sshd finishes close_session before the
    # next login starts, so one login's teardown never overlaps the next.
    sshd.wait_idle()
    m = re.search(r"ok (\S+)", r.out)
    if r.status != 0 or len(r.prompts) != 1 or m is None:
        raise BenchError("%s login of %s failed (status %s, prompts %s):\n%s\n%s"
                         % (kind, user.name, r.status, r.prompts, r.out, sshd.log()[-3000:]))
    if kind == "stsrole":
        sid = m.group(1)
        if not re.fullmatch(r"[0-9a-f]{32}", sid) or not os.path.exists(
                os.path.join(lab.state, "sessions", sid + ".json")):
            raise BenchError("stsrole login of %s got no session (%r)" % (user.name, sid))
    elif m.group(1) != "none":
        raise BenchError("pam_oath login of %s has STSROLE_SESSION_ID set?" % user.name)
    return r.seconds


def build_pamdrive(lab, module):
    """A copy of the driver make built beside the module (tests/Makefile.am)."""
    builddir = os.path.dirname(os.path.dirname(os.path.dirname(module)))
    built = os.path.join(builddir, "tests", "pam", "pamdrive")
    if not os.access(built, os.X_OK):
        raise BenchError("%s is not built (make -C %s)" % (built, builddir))
    exe = os.path.join(lab.root, "pamdrive")
    shutil.copy(built, exe)
    return exe


def sanitizer_preload(module):
    """An --enable-sanitizers module needs its runtime loaded first (as tests/pam/run.sh)."""
    out = subprocess.run(["ldd", module], stdout=subprocess.PIPE, text=True).stdout
    libs = [ln.split()[2] for ln in out.splitlines()
            if re.search(r"lib(a|ub)san", ln) and len(ln.split()) > 2]
    return ":".join(libs)


def drive(pamdrive, confdir, service, user, answers, log, preload):
    """One PAM transaction as sshd runs it; returns (wall s, user+sys CPU s, user s, sys s)."""
    args = [pamdrive, "-c", confdir, "-s", service, "-u", user, "-r", "127.0.0.1", "-t", "ssh",
            "-l", log]
    for a in answers:
        args += ["-a", a]
    # sshd's open_session cannot prompt; close_session runs as at logout.
    args += ["auth", "acct", "noprompt", "open", "close"]
    env = dict(os.environ)
    if preload:
        env["LD_PRELOAD"] = preload
    rfd, wfd = os.pipe()
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=wfd, stderr=subprocess.STDOUT, env=env)
    os.close(wfd)
    with os.fdopen(rfd) as f:
        out = f.read()
    # wait4 gives this one child's own rusage, not python's or other children's.
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    for op in ("auth", "acct", "open", "close"):
        if "%s rc=0 PAM_SUCCESS" % op not in out:
            raise BenchError("pamdrive %s for %s: %s failed:\n%s" % (service, user, op, out))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_utime, ru.ru_stime


def ms(x):
    return x * 1000.0


def report_logins(times, rounds):
    st, oa = times["stsrole"], times["oath"]
    print("SSH login to 127.0.0.1 (publickey + keyboard-interactive TOTP, then `%s`),"
          % COMMAND)
    print("%d alternated rounds, a fresh user and secret per login" % rounds)
    for name, label in (("stsrole", "pam_stsrole (TOTP + AssumeRole at moto + env + record)"),
                        ("oath", "pam_oath    (TOTP only)")):
        v = times[name]
        print("  %-56s median %7.1f ms   min %7.1f   max %7.1f"
              % (label, ms(statistics.median(v)), ms(min(v)), ms(max(v))))
    ratio = statistics.median(st) / statistics.median(oa)
    print("ratio pam_stsrole/pam_oath (median) = %.3f  (target <= 1.10)" % ratio)
    print("  median added by pam_stsrole = %.1f ms"
          % (ms(statistics.median(st)) - ms(statistics.median(oa))))


def report_cpu(cpu, rounds):
    med = {k: {f: statistics.median(v) for f, v in c.items()} for k, c in cpu.items()}
    print()
    print("PAM transaction under pamdrive (auth acct open close), %d alternated rounds;" % rounds)
    print("CPU = user+sys of the pamdrive process (exact in sum; the user/sys split is")
    print("sampled by the kernel).  moto's own CPU is not in it.")
    for name, label in (("stsrole", "pam_stsrole"), ("oath", "pam_oath"),
                        ("permit", "pam_permit (baseline)"),
                        ("load", "baseline + pam_stsrole loaded, not run")):
        c = med[name]
        print("  %-38s CPU median %6.2f ms (user %5.2f, sys %5.2f)   wall median %6.1f ms"
              % (label, ms(c["cpu"]), ms(c["user"]), ms(c["sys"]), ms(c["wall"])))
    base = med["permit"]["cpu"]
    print("module's own CPU per login (median minus the pam_permit baseline):")
    print("  pam_stsrole %6.2f ms  (loading it and its libraries %.2f ms, running it %.2f ms)"
          % (ms(med["stsrole"]["cpu"] - base), ms(med["load"]["cpu"] - base),
             ms(med["stsrole"]["cpu"] - med["load"]["cpu"])))
    print("  pam_oath    %6.2f ms" % ms(med["oath"]["cpu"] - base))


def bench(lab, module, rounds):
    from mototest import Moto

    group = lab.add_group()
    # One user per login: a warm-up pair, then one stsrole and one pam_oath
    # user per round.  All sit in one users file, so both modules read the same file.
    users = {k: [lab.add_user(groups=[group]) for _ in range(rounds + 1)]
             for k in ("stsrole", "oath")}
    everyone = users["stsrole"] + users["oath"]
    with Moto(log=os.path.join(lab.root, "moto.log")) as m:
        menv = m.seed()
        lab.write_usersfile(everyone)
        conf = lab.stsrole_conf(menv, {"SecurityAuditRole": {
            "arn": menv["roles"]["SecurityAuditRole"], "groups": group}},
            "benchbastion", totp_window=WINDOW)
        stacks = {"stsrole": stsrole_stack(module, conf),
                  "oath": oath_stack(lab.usersfile, WINDOW),
                  "permit": ["auth required pam_permit.so", "account required pam_unix.so",
                             "session required pam_unix.so"]}
        # The baseline plus pam_stsrole loaded but stopped at once by a missing
        # config: what dlopen of the module and its libraries costs by itself.
        load = stacks["permit"] + ["session optional %s conf=%s" % (
            module, os.path.join(lab.etc, "no-such.conf"))]
        sshds = {k: lab.start_sshd(lab.pam_service("%s-bench-%d" % (k, os.getpid()), stacks[k]))
                 for k in ("stsrole", "oath")}
        cfg = lab.ssh_config({"%s-%s" % (k, u.name): (sshds[k], u)
                              for k in ("stsrole", "oath") for u in users[k]})

        # Warm-up (not counted): page cache, moto's first AssumeRole.
        for k in ("stsrole", "oath"):
            login(lab, cfg, k, users[k][0], sshds[k])
        times = {"stsrole": [], "oath": []}
        for i in range(rounds):
            # Alternate which goes first, so neither always follows the other.
            order = ("stsrole", "oath") if i % 2 == 0 else ("oath", "stsrole")
            for k in order:
                times[k].append(login(lab, cfg, k, users[k][i + 1], sshds[k]))
        report_logins(times, rounds)
        sys.stdout.flush()

        # The same stacks under pamdrive.  Rewriting the users file clears
        # liboath's replay state, so every user's current code is fresh again.
        pamdrive = build_pamdrive(lab, module)
        preload = sanitizer_preload(module)
        if preload:
            print("note: %s is a sanitizer build; its CPU figures are not meaningful" % module)
        confdir = os.path.join(lab.root, "pam.d")
        os.makedirs(confdir)
        for k, stack in list(stacks.items()) + [("load", load)]:
            sshdtest.write(os.path.join(confdir, k), "\n".join(stack) + "\n", 0o644)
        lab.write_usersfile(everyone)
        log = os.path.join(lab.root, "pamdrive.log")
        kinds = ["stsrole", "oath", "permit", "load"]
        cpu = {k: {"wall": [], "cpu": [], "user": [], "sys": []} for k in kinds}
        for i in range(rounds + 1):
            order = list(kinds)
            if i % 2:
                order.reverse()
            for k in order:
                u = users["oath" if k == "oath" else "stsrole"][i]
                answers = [totp(u.secret)] if k in ("stsrole", "oath") else []
                w, c, us, sy = drive(pamdrive, confdir, k, u.name, answers, log, preload)
                if i == 0:
                    continue  # warm-up
                for key, val in (("wall", w), ("cpu", c), ("user", us), ("sys", sy)):
                    cpu[k][key].append(val)
        report_cpu(cpu, rounds)
    return 0


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    rounds = max(1, min(rounds, MAX_ROUNDS))
    builddir = sys.argv[2] if len(sys.argv) > 2 else os.environ.get(
        "STSROLE_BUILD", os.path.join(TOP, "build"))
    module = os.path.join(os.path.abspath(builddir), "pam", ".libs", "pam_stsrole.so")
    why = prerequisites(module)
    if why:
        print("skipped: bench_login: %s" % why)
        return 77
    with Lab("bench") as lab:
        try:
            return bench(lab, module, rounds)
        except (SetupError, BenchError, subprocess.CalledProcessError, RuntimeError) as e:
            print("bench_login: set-up failed: %s" % e)
            lab.keep = bool(os.environ.get("KEEP_BENCH"))
            return 1


if __name__ == "__main__":
    sys.exit(main())
