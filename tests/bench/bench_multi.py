#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench_multi.py: a profile per role over many accounts: first use, cached use, logout.

Set-up: a local moto (auth on) with the audit role and the revoker in ACCOUNTS accounts (seeded
with the x-moto-account-id header), stsrole-gatewayd in credentials_mode = process with one
[roles audit] template over all of them, and sessions written as pam_stsrole writes them (a
process of the benchmark stands in for each session's sshd) for a throw-away user.

  1. The first call through a profile not minted yet (stsrole-credential-process --profile, as
     the SDKs spawn it: the gateway checks the person, mints, records, answers) against a direct
     `stsrolectl assume` of the same role, alternating, a fresh account each round.
  2. A cached call: the helper for a profile minted already, spawn to exit.  Target: median
     <= 5 ms.
  3. Logout: from the record's close to the last revoke.ok of the session, for a session that
     touched one account and for one that touched every account.  Target: ACCOUNTS accounts in
     at most 5x the time of one.

It measures and asserts nothing.  Needs root (useradd, the root-owned state).

    tests/bench/bench_multi.py [ACCOUNTS] [ROUNDS] [BUILDDIR]   (default 100, 5, ./build)

With --iam-latency MS first, only 3., against tests/stub/stsstub.py instead of moto: its IAM
answers each PutRolePolicy MS late and many at once, as IAM does; moto answers one at a time in
Python, so against it the writes themselves bound a logout over many accounts.
"""
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "gateway"))

POLICY_ALLOW = {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["iam:Get*", "sts:GetCallerIdentity"],
                               "Resource": "*"}]}


def spawn_ms(argv, user, env):
    t0 = time.perf_counter()
    p = subprocess.run(argv, user=user.pw_uid, group=user.pw_gid, extra_groups=[], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ms = (time.perf_counter() - t0) * 1000
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (argv[0], p.stderr.decode(errors="replace")[-300:]))
    return ms, p.stdout


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


class Bench:
    def __init__(self, tmp, m, menv, accounts, user, role="SecurityAuditRole",
                 revoker="StsRoleRevoker"):
        from gwlib import build_dir
        self.tmp, self.m, self.accounts, self.user = tmp, m, accounts, user
        self.state = os.path.join(tmp, "state")
        self.run = os.path.join(tmp, "run")
        self.audit = os.path.join(tmp, "audit.log")
        self.socket = os.path.join(self.run, "credentials.sock")
        self.helper = os.path.join(build_dir(), "gateway", "stsrole-credential-process")
        self.ctl = os.path.join(build_dir(), "gateway", "stsrolectl")
        acc = os.path.join(tmp, "accounts")
        with open(acc, "w") as f:
            f.write("".join("%s a%03d\n" % (a, i) for i, a in enumerate(accounts)))
        os.chmod(acc, 0o644)
        self.conf = os.path.join(tmp, "stsrole.conf")
        text = ("[stsrole]\nregion = %s\nsts_endpoint = %s\niam_endpoint = %s\n"
                "credentials = env\nstate_dir = %s\naudit_log = %s\nbastion_id = b1\n"
                "credentials_mode = process\nruntime_dir = %s\ncredential_helper = %s\n"
                "duration = 3600\n\n[roles audit]\naccounts = file:%s\n"
                "arn = arn:${partition}:iam::${account}:role/%s\n"
                "revoker_arn = arn:${partition}:iam::${account}:role/%s\n"
                "users = %s\n" % (menv["region"], menv["url"], menv["url"], self.state,
                                  self.audit, self.run, self.helper, acc, role, revoker,
                                  user.pw_name))
        self.role = role
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.holders = []

    def open_session(self):
        """A record as pam_stsrole writes it, its sshd a process of ours; returns its id."""
        from gwlib import sid_of, write_session
        holder = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        self.holders.append(holder)
        sid = secrets.token_hex(16)
        rec = {"version": 1, "session_id": sid, "user": self.user.pw_name,
               "uid": self.user.pw_uid, "rhost": "192.0.2.10", "tty": "pts/1",
               "sshd_pid": holder.pid, "role_name": "a000-audit",
               "role_arn": "arn:aws:iam::%s:role/%s" % (self.accounts[0], self.role),
               "assumed_role_id": "AROAFAKE0000000000001:%s@b1.%s" % (self.user.pw_name,
                                                                       sid[:16]),
               "session_name": "%s@b1.%s" % (self.user.pw_name, sid[:16]),
               "access_key_id": "ASIAFAKE%012d" % len(self.holders),
               "expiration": int(time.time()) + 3600, "source_identity": self.user.pw_name,
               "aws_request_id": None, "opened": int(time.time()), "closed": 0,
               "credentials_mode": "process", "sid": sid_of(sid)}
        write_session(self.state, rec)
        return sid, rec

    def close_session(self, rec):
        from gwlib import close_session
        return close_session(self.state, rec)

    def env(self):
        return {"PATH": "/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8"}

    def helper_argv(self, sid, profile):
        return [self.helper, "--socket", self.socket, "--session", sid, "--profile", profile]

    def credentials_of(self, sid):
        """Session sid and its children, from the records (gone once revoked: ask before)."""
        kids = {sid}
        d = os.path.join(self.state, "sessions")
        for name in os.listdir(d):
            try:
                r = json.load(open(os.path.join(d, name)))
            except (OSError, ValueError):
                continue
            if r.get("parent") == sid:
                kids.add(r["session_id"])
        return kids

    def revoked_accounts(self, kids):
        """The accounts whose revoke.ok for a credential in kids is logged; the last ts."""
        from gwlib import audit_lines
        accts, last = set(), 0.0
        for e in audit_lines(self.audit):
            if e["event"] == "revoke.ok" and e.get("session_id") in kids:
                accts.add(e.get("account"))
                last = max(last, parse_ts(e["ts"]))
        return accts, last


def parse_ts(ts):
    import calendar
    base, ms = ts.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(ms) / 1000.0


def logout_seconds(b, n_accounts):
    """Opens a session, mints its profiles in n_accounts accounts, closes it; returns the wall
    seconds from the close to the last revoke.ok."""
    from gwlib import wait_for
    sid, rec = b.open_session()
    profiles = ["a%03d-audit" % i for i in range(1, n_accounts)]
    errors = []

    def fetch(ps):
        for p in ps:
            try:
                spawn_ms(b.helper_argv(sid, p), b.user, b.env())
            except RuntimeError as e:
                errors.append(str(e))
    ths = [threading.Thread(target=fetch, args=(profiles[i::8],)) for i in range(8)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    if errors:
        raise RuntimeError("minting: %s" % errors[0])
    # Account 0 is the login's (the record's own credential).
    kids = b.credentials_of(sid)
    t0 = time.time()
    b.close_session(rec)
    want = set(b.accounts[:n_accounts])
    accts = wait_for(lambda: (lambda a: a[1] if want <= a[0] else None)(
        b.revoked_accounts(kids)), 120, "revoke.ok in %d accounts" % n_accounts)
    return accts - t0


def curl_floor(b, menv, n_accounts, rounds=3):
    """The same IAM writes without the gateway: one PutRolePolicy per account, each signed with
    that account's revoker credentials, from one curl process that sends up to 16 together; the
    median wall seconds of `rounds` runs, spawn to exit.  moto answers one request at a time, so
    more at once would not make it faster."""
    import urllib.parse
    sts = b.m.client("sts", creds=menv["base"])
    cfg = os.path.join(b.tmp, "floor-%d.curlrc" % n_accounts)
    with open(cfg, "w") as f:
        for i, acct in enumerate(b.accounts[:n_accounts]):
            rv = sts.assume_role(RoleArn="arn:aws:iam::%s:role/StsRoleRevoker" % acct,
                                 RoleSessionName="bench-floor")["Credentials"]
            doc = json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Deny", "Action": "*", "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/stsrole:sid": ["floor%07d" % i]}}}]})
            body = urllib.parse.urlencode([
                ("Action", "PutRolePolicy"), ("Version", "2010-05-08"),
                ("RoleName", "SecurityAuditRole"), ("PolicyName", "stsrole-revoked-floor"),
                ("PolicyDocument", doc)])
            if i > 0:
                f.write("next\n")
            f.write('url = "%s/"\naws-sigv4 = "aws:amz:us-east-1:iam"\nuser = "%s:%s"\n'
                    'header = "x-amz-security-token: %s"\n'
                    'header = "Content-Type: application/x-www-form-urlencoded"\n'
                    'data = "%s"\noutput = "/dev/null"\nfail\nsilent\nshow-error\n' %
                    (menv["url"], rv["AccessKeyId"], rv["SecretAccessKey"], rv["SessionToken"],
                     body))
    out = []
    for _ in range(rounds + 1):
        t0 = time.perf_counter()
        p = subprocess.run(["curl", "--parallel", "--parallel-max", "16", "-K", cfg],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        out.append(time.perf_counter() - t0)
        if p.returncode != 0:
            raise RuntimeError("curl floor: %s" % p.stderr.decode(errors="replace")[-300:])
    return statistics.median(out[1:])


def stub_logouts(tmp, accounts, user, latency_ms):
    """Logout only, against tests/stub/stsstub.py instead of moto: its STS mints (case xml-ok,
    the role's name), its IAM answers each PutRolePolicy latency_ms late, several at once (a
    threaded server), as a stand-in for IAM, whose own latency dominates a write.  Prints the
    logout of 1 and of every account."""
    from gwlib import Gateway
    stub = os.path.join(TOP, "tests", "stub", "stsstub.py")
    proc = subprocess.Popen([sys.executable, stub, "--port", "0", "--exit-on-stdin-eof",
                             "--iam-write-delay-ms", str(latency_ms)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    gw = None
    try:
        line = proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            raise RuntimeError("stsstub.py did not start")
        menv = {"region": "us-east-1", "url": "http://127.0.0.1:%s" % line[1]}
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID="AKIASTUBBENCH0000001",
                   AWS_SECRET_ACCESS_KEY="stubBenchSecret0000000000000000000000001")
        b = Bench(tmp, None, menv, accounts, user, role="xml-ok", revoker="xml-ok")
        try:
            gw = Gateway(b.conf, env, ["--skew", "0"], log=os.path.join(tmp, "gw.log")).start()
            one = [logout_seconds(b, 1) for _ in range(5)]
            many = [logout_seconds(b, len(accounts)) for _ in range(3)]
        finally:
            for h in b.holders:
                h.kill()
                h.wait()
    finally:
        if gw is not None:
            gw.stop()
        proc.stdin.close()
        proc.wait()
    ratio = statistics.median(many) / statistics.median(one)
    print("logout against tests/stub/stsstub.py, each PutRolePolicy answered %d ms late:"
          % latency_ms)
    print("  %-52s median %7.3f s" % ("a session in 1 account (5 rounds)", statistics.median(one)))
    print("  %-52s median %7.3f s  (%s)" % ("a session in %d accounts (3 rounds)" % len(accounts),
                                            statistics.median(many),
                                            ", ".join("%.3f" % x for x in many)))
    print("  ratio %.2f (target <= 5): %s" % (ratio, "met" if ratio <= 5 else "NOT met"))


def main():
    latency = None
    if len(sys.argv) > 2 and sys.argv[1] == "--iam-latency":
        latency = int(sys.argv[2])
        del sys.argv[1:3]
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    if len(sys.argv) > 3:
        os.environ["STSROLE_BUILD"] = os.path.abspath(sys.argv[3])
    from gwlib import Gateway, build_dir, gatewayd_path
    from mototest import DEFAULT_ROLES, Moto, base_env
    if os.geteuid() != 0:
        print("skipped: needs root (useradd, root-owned state)")
        return 77
    if shutil.which("moto_server") is None:
        print("skipped: moto_server is missing")
        return 77
    for path in (gatewayd_path(), os.path.join(build_dir(), "gateway", "stsrolectl"),
                 os.path.join(build_dir(), "gateway", "stsrole-credential-process")):
        if not os.path.exists(path):
            print("skipped: %s is not built" % path)
            return 77
    tmp = tempfile.mkdtemp(prefix="stsrole-bench-multi.")
    os.chmod(tmp, 0o755)
    name = "bm%s" % ("%d" % os.getpid())[-6:]
    subprocess.run(["useradd", "-M", "-d", "/", "-s", "/bin/sh", name], check=True)
    b = gw = None
    try:
        import pwd
        user = pwd.getpwnam(name)
        accounts = ["4%011d" % i for i in range(n)]
        if latency is not None:
            stub_logouts(tmp, accounts, user, latency)
            return 0
        roles = {"SecurityAuditRole": POLICY_ALLOW,
                 "StsRoleRevoker": DEFAULT_ROLES["StsRoleRevoker"]}
        with Moto(log=os.path.join(tmp, "moto.log")) as m:
            menv = m.seed(roles=roles, accounts=accounts)
            env = base_env(menv)
            b = Bench(tmp, m, menv, accounts, user)
            gw = Gateway(b.conf, env, ["--skew", "0"], log=os.path.join(tmp, "gw.log")).start()
            bench(b, env, n, rounds, menv)
    finally:
        if gw is not None:
            gw.stop()
        if b is not None:
            for h in b.holders:
                h.kill()
                h.wait()
        subprocess.run(["userdel", "-f", name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if os.environ.get("BENCH_KEEP"):
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def bench(b, env, n, rounds, menv):
    sid, _ = b.open_session()
    # 1. first use of a profile against a direct stsrolectl assume, a fresh account each round
    first, direct = [], []
    k = 1
    for i in range(rounds + 1):
        prof = "a%03d-audit" % (k % n)
        ms_first = spawn_ms(b.helper_argv(sid, prof), b.user, b.env())[0]
        t0 = time.perf_counter()
        p = subprocess.run([b.ctl, "--config", b.conf, "assume", "--role", prof, "--user",
                            b.user.pw_name], env=env, capture_output=True, text=True)
        ms_direct = (time.perf_counter() - t0) * 1000
        if p.returncode != 0:
            raise RuntimeError("stsrolectl assume: %s" % p.stderr[-300:])
        if i > 0:
            first.append(ms_first)
            direct.append(ms_direct)
        k += 1
    # 2. a cached call
    prof = "a001-audit"
    spawn_ms(b.helper_argv(sid, prof), b.user, b.env())
    cached = [spawn_ms(b.helper_argv(sid, prof), b.user, b.env())[0] for _ in range(200)]
    true = [spawn_ms(["/bin/true"], b.user, b.env())[0] for _ in range(200)]
    print("stsrole-gatewayd, credentials_mode = process, one [roles audit] over %d accounts, "
          "local moto (auth on)" % n)
    print("1. the first call through a profile not minted yet, %d rounds:" % rounds)
    print("  %-52s median %7.1f ms" % ("stsrole-credential-process --profile (mint)",
                                       statistics.median(first)))
    print("  %-52s median %7.1f ms" % ("stsrolectl assume of the same role",
                                       statistics.median(direct)))
    print("  ratio %.2f" % (statistics.median(first) / statistics.median(direct)))
    print("2. a cached call, 200 spawns:")
    print("  %-52s median %6.2f ms  p90 %6.2f ms" % ("stsrole-credential-process --profile",
                                                     statistics.median(cached), pct(cached, .9)))
    print("  %-52s median %6.2f ms" % ("/bin/true spawned the same way (floor)",
                                       statistics.median(true)))
    print("  target median <= 5 ms: %s" % ("met" if statistics.median(cached) <= 5 else
                                          "NOT met"))
    one = [logout_seconds(b, 1) for _ in range(5)]
    many = [logout_seconds(b, n) for _ in range(3)]
    print("3. logout, from the record's close to the last revoke.ok:")
    print("  %-52s median %7.3f s" % ("a session in 1 account (5 rounds)",
                                      statistics.median(one)))
    print("  %-52s median %7.3f s  (%s)" % ("a session in %d accounts (3 rounds)" % n,
                                            statistics.median(many),
                                            ", ".join("%.3f" % x for x in many)))
    ratio = statistics.median(many) / statistics.median(one)
    print("  ratio %.2f (target <= 5): %s" % (ratio, "met" if ratio <= 5 else "NOT met"))
    # The floor: what moto itself takes for the same writes, without the gateway.
    if shutil.which("curl") is not None:
        f1, fn = curl_floor(b, menv, 1), curl_floor(b, menv, n)
        print("  floor: the same PutRolePolicy calls from one curl process (--parallel-max 16),")
        print("  spawn to exit: 1 account %.3f s, %d accounts %.3f s, ratio %.2f" %
              (f1, n, fn, fn / f1))


if __name__ == "__main__":
    sys.exit(main())
