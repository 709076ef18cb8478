#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench_reconcile.py: stsrolectl reconcile over a directory of a million CloudTrail records.

Generates (once, cached in the temp dir) a day of gzip CloudTrail files with
tests/reconcile/gen_trail.py --bench N: the planted findings of the reconcile
suite plus N records of clean sessions and noise, 1000 records per file.
Then, alternating, ROUNDS times each:

  reconcile   stsrolectl reconcile --dir (inflate, parse, join, findings)
  inflate     gzip -dc of the same files to /dev/null, the floor for reading them

and prints the median wall time, records per second and peak RSS (GNU time).
It checks that reconcile still finds the six planted findings, and exits 1 if
not; otherwise it measures and asserts nothing.

    tests/bench/bench_reconcile.py [--records N] [--rounds R]   (default 1000000, 3)
"""
import argparse
import glob
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("STSROLE_BUILD", os.path.join(TOP, "build"))
CTL = os.environ.get("STSROLECTL", os.path.join(BUILD, "gateway", "stsrolectl"))
GNU_TIME = "/usr/bin/time"


def timed(cmd, **kw):
    """Wall seconds and peak RSS (KiB) of one command."""
    t = time.monotonic()
    p = subprocess.run([GNU_TIME, "-f", "%M"] + cmd, capture_output=True, text=True, **kw)
    wall = time.monotonic() - t
    rss = int(p.stderr.strip().splitlines()[-1])
    return p, wall, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if not os.access(CTL, os.X_OK):
        print("skipped: %s not built" % CTL)
        return 77
    if not os.access(GNU_TIME, os.X_OK):
        print("skipped: GNU time (%s) not installed" % GNU_TIME)
        return 77
    gen = os.path.join(TOP, "tests", "reconcile", "gen_trail.py")
    with open(gen, "rb") as f:  # a changed generator makes new data
        tag = hashlib.sha256(f.read()).hexdigest()[:12]
    data = os.path.join(tempfile.gettempdir(), "stsrole-bench-reconcile-%d-%s" % (a.records, tag))
    if not os.path.exists(os.path.join(data, "planted.json")):
        t = time.monotonic()
        subprocess.run([sys.executable, gen, data, "--bench", str(a.records)], check=True)
        print("generated %s in %.0f s" % (data, time.monotonic() - t))
    with open(os.path.join(data, "planted.json")) as f:
        meta = json.load(f)
    files = sorted(glob.glob(os.path.join(data, "trail", "**", "*.json.gz"), recursive=True))
    size = sum(os.path.getsize(f) for f in files)
    print("%d records in %d files, %.1f MB compressed" % (meta["records"], len(files), size / 1e6))
    args = ["reconcile", "--audit", os.path.join(data, "audit.log"), "--dir",
            os.path.join(data, "trail"), "--jsonl", "-", "--quiet"]
    rec_t, rec_rss, inf_t = [], [], []
    for r in range(a.rounds + 1):
        p, wall, rss = timed([CTL] + args)
        if p.returncode != 2:
            print("reconcile exit %d (want 2: planted critical findings): %s" % (
                p.returncode, p.stderr[-500:]))
            return 1
        got = {(f["finding"], f.get("session_name")) for f in map(json.loads,
                                                                   p.stdout.splitlines())}
        missing = [x for x in meta["planted"] if (x["finding"], x["session_name"]) not in got]
        if missing:
            print("planted findings not found: %r" % missing)
            return 1
        with open(os.devnull, "w") as null:
            t = time.monotonic()
            subprocess.run(["gzip", "-dc"] + files, stdout=null, check=True)
            inflate = time.monotonic() - t
        if r == 0:
            continue  # warm-up: page cache
        rec_t.append(wall)
        rec_rss.append(rss)
        inf_t.append(inflate)
    med = statistics.median(rec_t)
    print("reconcile: median %.2f s, %.0f records/s, peak RSS %.1f MiB (%d rounds)" % (
        med, meta["records"] / med, max(rec_rss) / 1024, len(rec_t)))
    print("gzip -dc floor: median %.2f s, %.0f records/s; reconcile/inflate = %.2f" % (
        statistics.median(inf_t), meta["records"] / statistics.median(inf_t),
        med / statistics.median(inf_t)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
