#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench_ship.py: how fast stsrole-gatewayd ships its audit log to CloudWatch Logs (moto).

It writes an audit log of RECORDS hash-chained records (session.open-like, about 600 bytes
each, checked with stsrolectl audit verify), starts stsrole-gatewayd on it with
audit_log_group set and a fresh state directory, and times from READY=1 until the gateway's
status says the last record (its own gateway.start) is shipped.  It repeats that for several
audit_ship_batch values (a batch also ends at PutLogEvents' 1 MB), each into a stream of its
own, and checks each stream holds every record once.  Prints records per second.  moto runs PutLogEvents in Python on loopback with
signature checks, so these are the gateway's numbers against a slow stand-in: against
CloudWatch Logs the network and the service's quotas decide.  Needs root.

    tests/bench/bench_ship.py [RECORDS] [BUILDDIR]     (default 20000, ./build)
"""
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "fleet"))

GROUP = "/stsrole/audit"
BATCHES = (100, 1000, 10000)
GENESIS = "0" * 64


def write_log(path, n, t0_ms):
    """n records in lib/audit.c's format: hash over the line up to prev, closed with '}'."""
    prev = GENESIS
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for seq in range(1, n + 1):
            ms = t0_ms + seq
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + \
                ".%03dZ" % (ms % 1000)
            sid = hashlib.md5(str(seq).encode()).hexdigest()
            rec = {"seq": seq, "ts": ts, "host": "bench", "bastion_id": "bench",
                   "event": "session.open", "user": "user%04d" % (seq % 1000), "uid": 1000,
                   "rhost": "192.0.2.10", "tty": "pts/1", "session_id": sid,
                   "role_arn": "arn:aws:iam::222222222222:role/stsrole/SecurityAuditRole",
                   "account": "222222222222",
                   "session_name": "user%04d@bench.%s" % (seq % 1000, sid[:16]),
                   "source_identity": "user%04d" % (seq % 1000),
                   "access_key_id": "ASIA%016d" % seq, "expiration": ts[:19] + "Z",
                   "aws_request_id": None, "outcome": "ok", "detail": None, "prev": prev}
            text = json.dumps(rec, separators=(",", ":"))
            h = hashlib.sha256(text.encode()).hexdigest()
            line = text[:-1] + ',"hash":"%s"}' % h
            f.write(line + "\n")
            prev = hashlib.sha256(line.encode()).hexdigest()


def status(state):
    """The gateway's status through its control socket (as stsrolectl status does)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(os.path.join(state, "gatewayd.sock"))
        s.sendall(b'{"cmd":"status"}\n')
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return json.loads(data)
    finally:
        s.close()


def count_events(logs, stream):
    n, token, seen = 0, None, set()
    while True:
        kw = {"logGroupName": GROUP, "logStreamName": stream, "startFromHead": True,
              "limit": 10000}
        if token:
            kw["nextToken"] = token
        page = logs.get_log_events(**kw)
        for e in page["events"]:
            seen.add(e["message"])
        n += len(page["events"])
        if not page["events"] or page["nextForwardToken"] == token:
            return n, len(seen)
        token = page["nextForwardToken"]


def main():
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    builddir = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(TOP, "build"))
    os.environ["STSROLE_BUILD"] = builddir
    if os.geteuid() != 0:
        print("skipped: needs root (root-owned config and audit log)")
        return 77
    try:
        from fleetmoto import FleetMoto, seed_fleet
        from gwlib import Gateway, ctl, gatewayd_path
        from mototest import SECURITY_ACCOUNT, base_env, write_config
    except ImportError as e:
        print("skipped: %s" % e)
        return 77
    if not os.access(gatewayd_path(), os.X_OK):
        print("skipped: %s is not built" % gatewayd_path())
        return 77
    tmp = tempfile.mkdtemp(prefix="stsrole-bench-ship.")
    try:
        log0 = os.path.join(tmp, "audit.template")
        write_log(log0, records, int(time.time() * 1000) - records - 60000)
        with FleetMoto(log=os.path.join(tmp, "moto.log")) as m:
            enable = m.enable_auth
            m.enable_auth = lambda: None
            try:
                menv = seed_fleet(m)
            finally:
                m.enable_auth = enable
            m.client("logs", SECURITY_ACCOUNT).create_log_group(logGroupName=GROUP)
            m.enable_auth()
            env = base_env(menv)
            logs = m.client("logs", creds=menv["base"])
            roles = {"SecurityAuditRole": {"arn": menv["roles"]["SecurityAuditRole"],
                                           "users": "nobody"}}
            print("shipping %d records (%.1f MB) into moto, one fresh stream per batch size"
                  % (records, os.path.getsize(log0) / 1e6))
            for batch in BATCHES:
                name = "bench-%d" % batch
                d = os.path.join(tmp, name)
                os.makedirs(d, mode=0o700)
                audit = os.path.join(d, "audit.log")
                shutil.copyfile(log0, audit)
                os.chmod(audit, 0o600)
                state = os.path.join(d, "state")
                conf = write_config(os.path.join(d, "stsrole.conf"), menv, roles=roles,
                                    state_dir=state, audit_log=audit, bastion_id=name,
                                    audit_log_group=GROUP, logs_endpoint=menv["url"],
                                    audit_ship_batch=batch)
                if batch == BATCHES[0]:
                    rc, out, err = ctl(conf, "audit", "verify", audit, env=env)
                    if rc != 0:
                        print("FAIL: the generated log does not verify: %s%s" % (out, err))
                        return 1
                want = records + 1  # and the gateway's own gateway.start
                g = Gateway(conf, env, ["--reconcile", "60"],
                            log=os.path.join(d, "gatewayd.log"))
                start = time.monotonic()
                g.start()
                ready = time.monotonic()
                deadline = ready + 600
                seq = puts = 0
                while time.monotonic() < deadline:
                    ship = status(state).get("ship", {})
                    seq, puts = ship.get("shipped_seq", 0), ship.get("batches_sent", 0)
                    if seq >= want:
                        break
                    time.sleep(0.01)  # a sampling interval, not a synchronisation
                took = time.monotonic() - ready
                g.stop()
                # The stop wrote gateway.stop and shipped it on the way out.
                n, distinct = count_events(logs, name)
                ok = seq >= want and n == want + 1 and distinct == want + 1
                print("batch %5d: %6d records in %6.2f s: %8.0f records/s, %4d PutLogEvents"
                      " (start to READY %.2f s)%s" % (batch, want, took, want / took,
                                                      puts, ready - start,
                                                      "" if ok else
                                                      "  MISMATCH: %d events, %d distinct, "
                                                      "shipped seq %d" % (n, distinct, seq)))
                if not ok:
                    return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
