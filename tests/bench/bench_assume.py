#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench_assume.py: stsrolectl assume against curl --aws-sigv4 and aws sts assume-role.

All three make the same signed AssumeRole POST to one local moto, alternated
in the same run so that moto's own cost and the machine's load hit each
equally.  Prints medians, the ratios (target: stsrolectl <= 1.15x curl), and
each tool's peak RSS.  It measures; it asserts nothing.

    tests/bench/bench_assume.py [ROUNDS]
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from mototest import Moto, base_env, write_config  # noqa: E402

TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
CTL = os.environ.get("STSROLECTL", os.path.join(TOP, "build", "gateway", "stsrolectl"))


def timed(cmd, env):
    """Runs cmd; returns (seconds, peak RSS in KiB) of that one command.

    The RSS comes from GNU time, whose child is the command itself: a
    child forked from this python would report python's pages instead.
    Its fork and exec cost the same for every tool."""
    with tempfile.NamedTemporaryFile("r") as rssf:
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rssf.name] + cmd, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit("%s failed (%d): %s" % (cmd[0], p.returncode,
                                                     p.stderr.decode(errors="replace").strip()))
        return dt, int(rssf.read().split()[-1])


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    if not os.access(CTL, os.X_OK):
        print("skipped: %s is not built" % CTL)
        return 77
    tmp = tempfile.mkdtemp(prefix="stsrole-bench-")
    try:
        return run(rounds, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(rounds, tmp):
    with Moto() as moto:
        menv = moto.seed()
        env = base_env(menv)
        arn = menv["roles"]["SecurityAuditRole"]
        conf = write_config(os.path.join(tmp, "stsrole.conf"), menv,
                            roles={"audit": {"arn": arn, "users": "bench"}}, bastion_id="bench")
        akid, secret = menv["base"]["AccessKeyId"], menv["base"]["SecretAccessKey"]
        # The same parameters stsrolectl sends: session name, duration,
        # SourceIdentity and its three session tags.
        nonce = "0123456789abcdef"
        body = urllib.parse.urlencode([
            ("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", arn),
            ("RoleSessionName", "bench@bench." + nonce), ("DurationSeconds", "3600"),
            ("SourceIdentity", "bench"),
            ("Tags.member.1.Key", "stsrole:bastion"), ("Tags.member.1.Value", "bench"),
            ("Tags.member.2.Key", "stsrole:mfa"), ("Tags.member.2.Value", "totp"),
            ("Tags.member.3.Key", "stsrole:session"), ("Tags.member.3.Value", nonce * 2)])
        tools = {
            "stsrolectl": [CTL, "assume", "--config", conf, "--role", "audit", "--user",
                           "bench"],
            "curl": ["curl", "-sfS", "--aws-sigv4", "aws:amz:us-east-1:sts", "--user",
                     "%s:%s" % (akid, secret), "-H",
                     "Content-Type: application/x-www-form-urlencoded", "--data", body,
                     moto.url + "/"],
        }
        aws = shutil.which("aws")
        if aws:
            tools["aws-cli"] = [aws, "sts", "assume-role", "--role-arn", arn,
                                "--role-session-name", "bench@bench." + nonce,
                                "--source-identity", "bench", "--duration-seconds", "3600",
                                "--tags", "Key=stsrole:bastion,Value=bench",
                                "Key=stsrole:mfa,Value=totp",
                                "Key=stsrole:session,Value=" + nonce * 2,
                                "--endpoint-url", moto.url, "--region", "us-east-1"]
        times = {k: [] for k in tools}
        rss = {k: 0 for k in tools}
        for name, cmd in tools.items():  # warm-up: page cache, moto's first-call costs
            timed(cmd, env)
        for _ in range(rounds):
            for name, cmd in tools.items():
                dt, kib = timed(cmd, env)
                times[name].append(dt)
                rss[name] = max(rss[name], kib)
    med = {k: statistics.median(v) for k, v in times.items()}
    print("AssumeRole against local moto, %d alternated rounds" % rounds)
    for k in tools:
        print("  %-10s median %7.2f ms   peak RSS %6d KiB" % (k, med[k] * 1000, rss[k]))
    print("ratio stsrolectl/curl    = %.3f  (target <= 1.15)" % (med["stsrolectl"] / med["curl"]))
    if "aws-cli" in med:
        print("ratio stsrolectl/aws-cli = %.3f" % (med["stsrolectl"] / med["aws-cli"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
