#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_fleet_gateway.py: two bastions' gateways on one moto: the fleet registry and audit shipping.

Run by tests/fleet/run.sh after test_fleet.py, with the same environment (PAMDRIVE, PAM_MODULE,
PAMDRIVE_PRELOAD) and STSROLE_BUILD (where stsrole-gatewayd and stsrolectl are).  One moto holds
the DynamoDB tables and the CloudWatch Logs group; bastion A reaches CloudWatch Logs through a
loopback proxy that the cases steer (an outage, an answer held while the gateway is killed, a
request that never arrives, an answer lost), bastion B directly.

What a person would notice:
  - stsrolectl sessions --fleet on either bastion lists both bastions' sessions;
  - stsrolectl revoke --user USER --fleet on A revokes USER's sessions on A and on B: the AWS CLI
    gets AccessDenied with both credentials, both sessions' stsrole:sid are in A's deny policy,
    and the registry no longer lists them;
  - a credentials_mode = process session on bastion C, refreshed there, is revoked from A by
    revoke --fleet: its sid (which every refreshed credential carries) is in A's policy, the
    refreshed credential gets AccessDenied, and C stops refreshing and serving it;
  - the stream in CloudWatch Logs equals A's local audit log, record for record, after kill -9
    of the gateway while a PutLogEvents had landed but was not yet acknowledged, after kill -9
    while one had not arrived, and after a lost answer; the local chain and the shipped one
    both verify with stsrolectl audit verify.
Prints one line per case and "fleet: N passed, N failed".  Needs root.  STSROLE_KEEP_TMP=1
keeps the temporary directory.
"""
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, HERE)

import test_fleet  # noqa: E402
from harness import Skip, check, rmtree_unless_kept  # noqa: E402

GROUP = "/stsrole/audit"
BATCH_A = 3  # audit_ship_batch on A: many small PutLogEvents, so a kill lands between two
AWS = "/usr/bin/aws" if os.path.exists("/usr/bin/aws") else shutil.which("aws")

# One count with test_fleet's cases (its Bastion reports a driver that does not exit cleanly).
suite = test_fleet.S


class LogsProxy(http.server.ThreadingHTTPServer):
    """Loopback proxy to moto for CloudWatch Logs, steered by the test:
    down            every request gets 503 ServiceUnavailableException (an outage);
    hold_after(k)   the k-th PutLogEvents from now reaches moto, then its answer is held
                    until release(): the batch is stored, the gateway does not know;
    hold_before(k)  the k-th PutLogEvents is held and never forwarded;
    drop_after(k)   the k-th PutLogEvents reaches moto, then the connection is cut.
    empty_pages     while set, a GetLogEvents without nextToken gets an empty page whose
                    nextBackwardToken leads to the page moto gave: real CloudWatch Logs may
                    answer an empty page while events exist, and only paging finds them."""

    daemon_threads = True

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.down = False
        self.plan = None  # (what, countdown)
        self.held = threading.Event()
        self.released = threading.Event()
        self.puts = 0
        self.empty_pages = False
        self.cached = {}  # our token -> the page moto gave
        self.paged = 0    # GetLogEvents that followed one of our tokens
        super().__init__(("127.0.0.1", 0), self.Handler)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def arm(self, what, k=1):
        with self.lock:
            self.plan = [what, k]
            self.held = threading.Event()
            self.released = threading.Event()

    def release(self):
        self.released.set()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, headers, data):
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in ("connection", "content-length", "date", "server",
                                     "transfer-encoding"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def cut(self):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def do_POST(self):
            srv = self.server
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            put = self.headers.get("X-Amz-Target", "").endswith(".PutLogEvents")
            get = self.headers.get("X-Amz-Target", "").endswith(".GetLogEvents")
            token = json.loads(body or b"{}").get("nextToken") if get else None
            action = None
            with srv.lock:
                page = srv.cached.pop(token, None) if token else None
                if page is not None:
                    srv.paged += 1
            if page is not None:
                self.reply(200, [("Content-Type", "application/x-amz-json-1.1")], page)
                return
            with srv.lock:
                if srv.down:
                    data = json.dumps({"__type": "ServiceUnavailableException",
                                       "message": "stand-in outage"}).encode()
                    self.reply(503, [("Content-Type", "application/x-amz-json-1.1")], data)
                    return
                if put and srv.plan is not None:
                    srv.plan[1] -= 1
                    if srv.plan[1] == 0:
                        action = srv.plan[0]
                        srv.plan = None
                held, released = srv.held, srv.released
            if action == "hold_before":
                held.set()
                released.wait(120)
                self.cut()
                return
            up = http.client.HTTPConnection("127.0.0.1", srv.upstream_port, timeout=30)
            # The same Host header: it is part of what the gateway signed.
            up.putrequest("POST", self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                up.putheader(k, v)
            up.endheaders(body)
            resp = up.getresponse()
            data = resp.read()
            up.close()
            if put and resp.status == 200:
                with srv.lock:
                    srv.puts += 1
            if action == "hold_after":
                held.set()
                released.wait(120)
                self.cut()
                return
            if action == "drop_after":
                self.cut()
                return
            if get and token is None and srv.empty_pages and resp.status == 200:
                with srv.lock:
                    ours = "b/stsrole-test-%d" % len(srv.cached)
                    srv.cached[ours] = data
                data = json.dumps({"events": [], "nextForwardToken": "f/stsrole-test-end",
                                   "nextBackwardToken": ours}).encode()
            self.reply(resp.status, resp.getheaders(), data)


class World:
    def __init__(self, root, m, menv, env):
        from gwlib import Gateway  # noqa: F401 - checked importable here
        self.root = root
        self.m = m
        self.menv = menv
        self.env = env
        self.proxy = LogsProxy(m.port)
        threading.Thread(target=self.proxy.serve_forever, daemon=True).start()
        users = ["nobody", "daemon"]
        self.a = test_fleet.Bastion(root, "gw-a", users)
        self.b = test_fleet.Bastion(root, "gw-b", users)
        roles = menv["roles"]
        self.roles = {"SecurityAuditRole": {"arn": roles["SecurityAuditRole"],
                                            "revoker_arn": roles["StsRoleRevoker"],
                                            "users": "nobody daemon"},
                      # bastion C's role (case_revoke_fleet_refreshed), which A revokes for
                      "IncidentResponseRole": {"arn": roles["IncidentResponseRole"],
                                               "revoker_arn": roles["StsRoleRevoker"],
                                               "users": "bin"}}
        common = dict(iam_endpoint=menv["url"], audit_log_group=GROUP)
        self.conf_a = self.a.config("fleet", menv, self.roles, logs_endpoint=self.proxy.url,
                                    audit_ship_batch=BATCH_A, **common)
        self.conf_b = self.b.config("fleet", menv, self.roles, logs_endpoint=menv["url"],
                                    **common)
        self.audit_a = os.path.join(self.a.root, "audit.log")
        self.audit_b = os.path.join(self.b.root, "audit.log")
        self.gw = {}
        self.sshd = []
        self.sessions = {}  # name -> (bastion, session id, credentials)
        sts = m.client("sts", creds=menv["base"])
        checker = sts.assume_role(RoleArn=roles["StsRoleRevoker"], RoleSessionName="checker")
        self.iam = m.client("iam", creds=checker["Credentials"])
        self.logs = m.client("logs", creds=menv["base"])

    # -- processes --------------------------------------------------------------------------
    def start(self, name):
        from gwlib import Gateway
        conf = self.conf_a if name == "a" else self.conf_b
        log = os.path.join(self.root, "gatewayd-%s.log" % name)
        self.gw[name] = Gateway(conf, self.env, ["--reconcile", "1"], log=log).start()
        return self.gw[name]

    def glog(self, name):
        with open(os.path.join(self.root, "gatewayd-%s.log" % name), errors="replace") as f:
            return f.read()

    def ctl(self, conf, *args):
        from gwlib import ctl
        return ctl(conf, *args, env=self.env)

    def cleanup(self):
        for g in self.gw.values():
            g.kill9()
        for p in self.sshd:
            p.kill()
            p.wait()
        self.proxy.release()
        self.proxy.shutdown()
        self.proxy.server_close()

    # -- sessions ---------------------------------------------------------------------------
    def login(self, bastion, user, offset):
        """auth + open_session through PAM; then its sshd is a process of ours that lives."""
        r = bastion.drive("fleet", user, ["auth", "open", "env"],
                          [test_fleet.totp(user, offset)], self.env)
        sid = r.env.get("STSROLE_SESSION_ID", "")
        check(r.code("open") == "PAM_SUCCESS" and sid,
              "login of %s on %s: %s %s" % (user, bastion.name, r.code("auth"), r.logtext()))
        sshd, rec = bastion.hold(sid)
        self.sshd.append(sshd)
        if "AWS_ACCESS_KEY_ID" not in r.env:
            return sid, rec, None  # credentials_mode = process: served by the gateway
        creds = {"AccessKeyId": r.env["AWS_ACCESS_KEY_ID"],
                 "SecretAccessKey": r.env["AWS_SECRET_ACCESS_KEY"],
                 "SessionToken": r.env["AWS_SESSION_TOKEN"]}
        return sid, rec, creds

    def aws_cli(self, creds, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
                   AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
                   AWS_SESSION_TOKEN=creds["SessionToken"], AWS_DEFAULT_REGION="us-east-1",
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   AWS_PAGER="")
        return subprocess.run([AWS, "--endpoint-url", self.m.url] + list(args), env=env,
                              capture_output=True, text=True, timeout=60)

    def deny_userids(self, policy, sid="StsroleRevoked", key="aws:userid",
                     role="SecurityAuditRole"):
        try:
            doc = self.iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        except self.iam.exceptions.NoSuchEntityException:
            return []
        for st in doc.get("Statement", []):
            if st.get("Sid") == sid:
                v = st["Condition"]["StringEquals"][key]
                return v if isinstance(v, list) else [v]
        return []

    def deny_sids(self, policy, role="SecurityAuditRole"):
        """The stsrole:sid entries (one per revoked SSH session) of a deny policy."""
        return self.deny_userids(policy, "StsroleSid", "aws:PrincipalTag/stsrole:sid", role)

    # -- the audit log and the stream -------------------------------------------------------
    def stream(self, name):
        out, token = [], None
        for _ in range(10000):
            kw = {"logGroupName": GROUP, "logStreamName": name, "startFromHead": True}
            if token:
                kw["nextToken"] = token
            try:
                page = self.logs.get_log_events(**kw)
            except self.logs.exceptions.ResourceNotFoundException:
                return []
            out += [e["message"] for e in page["events"]]
            if not page["events"] or page["nextForwardToken"] == token:
                break
            token = page["nextForwardToken"]
        return out


def lines(path):
    with open(path) as f:
        return [ln.rstrip("\n") for ln in f]


def verify(w, conf, path):
    rc, out, err = w.ctl(conf, "audit", "verify", path)
    return rc == 0 and "chain intact" in out, out + err


# ----------------------------------------------------------------------------------- cases ---

def case_outage_start(w):
    sid_a, rec_a, cr_a = w.login(w.a, "nobody", 0)
    sid_b, rec_b, cr_b = w.login(w.b, "nobody", 1)  # the next time step
    sid_c, _, _ = w.login(w.a, "daemon", 0)
    w.sessions = {"a": (sid_a, rec_a, cr_a), "b": (sid_b, rec_b, cr_b), "daemon": (sid_c,)}
    # The gateways start once the stand-in sshds are in the records.
    w.proxy.down = True
    w.start("a")
    w.start("b")


def case_sessions_fleet(w):
    want = {(w.sessions["a"][0], "gw-a", "nobody"), (w.sessions["b"][0], "gw-b", "nobody"),
            (w.sessions["daemon"][0], "gw-a", "daemon")}
    for conf in (w.conf_a, w.conf_b):
        rc, out, err = w.ctl(conf, "sessions", "--fleet", "--json")
        check(rc == 0, "sessions --fleet: exit %d %s" % (rc, err))
        got = {(s["session_id"], s["bastion_id"], s["user"]) for s in json.loads(out)}
        check(want <= got, "sessions --fleet from %s: %s, want %s" % (conf, got, want))
    rc, out, err = w.ctl(w.conf_b, "sessions", "--fleet")
    check(rc == 0 and "gw-a" in out and "gw-b" in out and w.sessions["a"][0] in out,
          "the table: " + out + err)
    # The local view of each gateway has only its own.
    rc, out, err = w.ctl(w.conf_b, "sessions", "--json")
    check(rc == 0 and w.sessions["b"][0] in out and w.sessions["a"][0] not in out,
          "B's own sessions: " + out + err)


def case_revoke_fleet(w):
    if AWS is None:
        raise Skip("no AWS CLI (apt-get install awscli)")
    sid_a, rec_a, cr_a = w.sessions["a"]
    sid_b, rec_b, cr_b = w.sessions["b"]
    for cr, where in ((cr_a, "A"), (cr_b, "B")):
        p = w.aws_cli(cr, "iam", "get-role", "--role-name", "SecurityAuditRole")
        check(p.returncode == 0, "the credential of %s fails before revoke: %s"
              % (where, p.stderr))
    # CloudWatch Logs is down for A all along: revocation does not wait on it.
    rc, said, err = w.ctl(w.conf_a, "revoke", "--user", "nobody", "--fleet")
    check(rc == 0, "revoke --fleet: exit %d\n%s%s" % (rc, said, err))
    check(("revoked gw-a" in said and sid_a in said and "revoked gw-b" in said and sid_b in said
           and "stsrole-revoked-gw-a" in said), "revoke --fleet output:\n" + said)
    ids = w.deny_sids("stsrole-revoked-gw-a")
    check(rec_a.get("sid") and rec_a["sid"] in ids and rec_b.get("sid") and rec_b["sid"] in ids,
          "A's deny policy holds %s" % ids)
    for cr, where in ((cr_a, "A"), (cr_b, "B")):
        p = w.aws_cli(cr, "iam", "get-role", "--role-name", "SecurityAuditRole")
        check(p.returncode != 0 and "AccessDenied" in p.stderr,
              "the credential of %s still works after revoke --fleet: rc %d %s"
              % (where, p.returncode, p.stderr))
    rc, out, err = w.ctl(w.conf_b, "sessions", "--fleet", "--json")
    left = {s["session_id"] for s in json.loads(out)} if rc == 0 else set()
    check(rc == 0 and sid_a not in left and sid_b not in left and w.sessions["daemon"][0] in left,
          "the registry after revoke --fleet: %s %s" % (left, err))
    ev = [json.loads(ln) for ln in lines(w.audit_a)]
    ok = {e["session_id"] for e in ev if e["event"] == "revoke.ok"}
    fleet = [e for e in ev if e["event"] == "revoke.fleet"]
    check(sid_a in ok and sid_b in ok and fleet and fleet[-1]["outcome"] == "ok",
          "A's audit log: revoke.ok for %s, revoke.fleet %s" % (ok, fleet[-1:]))
    st = json.loads(w.ctl(w.conf_a, "status", "--json")[1])
    ship = st.get("ship") or {}
    check(ship.get("events_sent") == 0 and ship.get("last_error"),
          "A's status during the outage: %s" % ship)
    text = w.ctl(w.conf_a, "status")[1]
    check("shipping: %s:gw-a" % GROUP in text, "stsrolectl status: " + text)
    print("   revoke --fleet: %s" % " | ".join(said.strip().splitlines()))


def case_revoke_fleet_refreshed(w):
    """A process-mode session on C, refreshed by C's gateway, revoked from A."""
    if AWS is None:
        raise Skip("no AWS CLI (apt-get install awscli)")
    from gwlib import Gateway, audit_lines, build_dir, wait_for
    helper = os.path.join(build_dir(), "gateway", "stsrole-credential-process")
    os.chmod(w.root, 0o711)  # bin reaches C's credentials socket through it
    c = test_fleet.Bastion(w.root, "gw-c", ["bin"])
    run = os.path.join(c.root, "run")
    roles = {"IncidentResponseRole": w.roles["IncidentResponseRole"]}
    # duration 900 and refresh_margin 897: C's gateway assumes the role again every 3 s.
    conf = c.config("fleet", w.menv, roles, iam_endpoint=w.menv["url"], duration=900,
                    credentials_mode="process", refresh_margin=897, runtime_dir=run,
                    credential_helper=helper)
    audit_c = os.path.join(c.root, "audit.log")
    w.gw["c"] = Gateway(conf, w.env, ["--reconcile", "1"],
                        log=os.path.join(w.root, "gatewayd-c.log")).start()
    sid, rec, _ = w.login(c, "bin", 0)
    check(rec.get("credentials_mode") == "process" and rec.get("sid"), "C's record: %s" % rec)
    refreshed = wait_for(lambda: [e for e in audit_lines(audit_c)
                                  if e["event"] == "refresh.ok" and sid in (e["detail"] or "")],
                         30, "a refresh on C")
    child = json.load(open(os.path.join(c.state, "sessions",
                                        refreshed[0]["session_id"] + ".json")))
    check(child["sid"] == rec["sid"] and child["assumed_role_id"] != rec["assumed_role_id"],
          "the refreshed credential's record: %s" % child)
    # Everything the bastions wrote so far (logins, refreshes, replay claims) is what
    # the fleet policy lets them write (moto itself ignores its conditions).
    from fleetmoto import policy_attributes
    allowed, seen = policy_attributes(), 0
    for table, attrs in allowed.items():
        for it in test_fleet.items(w.m, w.menv, table):
            seen += 1
            check(set(it) <= attrs, "%s item %s has attributes outside "
                  "examples/aws/iam/bastion-fleet-policy.json: %s"
                  % (table, it.get("pk"), sorted(set(it) - attrs)))
    check(seen > 0 and len(allowed) == 2, "no items to check (%d, %s)" % (seen, sorted(allowed)))

    def fetch():
        p = subprocess.run(["runuser", "-u", "bin", "--", helper, "--socket",
                            os.path.join(run, "credentials.sock"), "--session", sid],
                           capture_output=True, text=True, timeout=30)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def refreshed_cred():
        d = fetch()
        return d if d and d["AccessKeyId"] != rec["access_key_id"] else None

    cred = wait_for(refreshed_cred, 30, "a refreshed credential served on C")
    call = ("ec2", "describe-instances", "--region", "us-east-1")
    p = w.aws_cli(cred, *call)
    check(p.returncode == 0, "the refreshed credential fails before revoke: %s" % p.stderr)
    rc, said, err = w.ctl(w.conf_a, "revoke", "--user", "bin", "--fleet")
    check(rc == 0 and "revoked gw-c" in said and sid in said, "revoke --fleet: %s%s" % (said, err))
    ids = w.deny_sids("stsrole-revoked-gw-a", "IncidentResponseRole")
    check(rec["sid"] in ids, "A's deny policy lacks the session's sid: %s" % ids)
    p = w.aws_cli(cred, *call)
    check(p.returncode != 0 and "AccessDenied" in p.stderr,
          "the refreshed credential still works: %s" % p.stderr)
    # C learns it at its next refresh (the registry item is gone) and stops serving.
    stop = wait_for(lambda: [e for e in audit_lines(audit_c) if e["event"] == "refresh.failed"
                             and e["session_id"] == sid and "registry item is gone" in
                             (e["detail"] or "")], 30, "C to notice the fleet revocation")
    wait_for(lambda: fetch() is None, 30, "C to stop serving the session")
    wait_for(lambda: [e for e in audit_lines(audit_c)
                      if e["event"] == "revoke.ok" and e["session_id"] == sid], 30,
             "C to revoke the session in its own policy too")
    check(rec["sid"] in w.deny_sids("stsrole-revoked-gw-c", "IncidentResponseRole"),
          "C's own policy lacks the sid")
    print("   sid %s: refreshed on C (%s), denied from A; C: %s" %
          (rec["sid"], child["access_key_id"], stop[0]["detail"][:60]))


def case_backlog(w):
    """More records while CloudWatch Logs stays down: reloads, then a stop."""
    g = w.gw["a"]
    for _ in range(6):
        since = len(g.msgs)
        g.proc.send_signal(signal.SIGHUP)
        i = g.wait_message("RELOADING=1", 10, since)
        check(i is not None and g.wait_message("READY=1", 10, i) is not None, "no reload")
    check(g.stop() == 0, "A did not stop cleanly")
    n = len(lines(w.audit_a))
    check(n >= 4 * BATCH_A, "only %d records in A's log" % n)
    check(w.stream("gw-a") == [], "something reached the stream during the outage")


def case_kill_after_landed(w):
    w.proxy.down = False
    w.proxy.arm("hold_after", 3)
    g = w.start("a")
    check(w.proxy.held.wait(30), "the third PutLogEvents never came")
    g.kill9()  # the batch is in the stream; the gateway never heard so
    w.proxy.release()
    got = w.stream("gw-a")
    local = lines(w.audit_a)
    check(len(got) == 3 * BATCH_A and got == local[:len(got)],
          "after kill -9: %d events in the stream, want the first %d local records"
          % (len(got), 3 * BATCH_A))
    cur = json.load(open(os.path.join(w.a.state, "gateway", "ship.json")))
    check(cur["pending"] and cur["at"] and cur["pending"]["seq"] > cur["at"]["seq"],
          "the cursor after the kill: %s" % cur)


def case_kill_before_arrival(w):
    # The restart must page: its first GetLogEvents comes back empty (as real CloudWatch Logs
    # may answer), and an empty page does not mean the batch is absent.
    w.proxy.empty_pages = True
    w.proxy.arm("hold_before", 1)
    g = w.start("a")
    check(w.proxy.held.wait(60), "no PutLogEvents after the restart")
    g.kill9()  # this batch never reaches CloudWatch Logs
    w.proxy.release()
    w.proxy.empty_pages = False
    check("in the stream already; not sending it again" in w.glog("a"),
          "the restart did not find the batch that landed before the kill (behind an empty "
          "page: %d pages followed)" % w.proxy.paged)
    check(w.proxy.paged > 0, "the gateway never followed nextBackwardToken past an empty page")
    check(len(w.stream("gw-a")) == 3 * BATCH_A, "the held batch reached the stream")


def case_lost_answer_and_catch_up(w):
    from gwlib import wait_for
    w.proxy.arm("drop_after", 1)
    w.start("a")
    wait_for(lambda: w.stream("gw-a") == lines(w.audit_a), 90,
             "the stream to equal A's local log")
    check("is not in the stream" in w.glog("a") and "sending it again" in w.glog("a"),
          "the batch that never arrived was not sent again")
    check(w.gw["a"].stop() == 0, "A did not stop cleanly")
    got, local = w.stream("gw-a"), lines(w.audit_a)
    if got != local:
        first = next((i for i in range(min(len(got), len(local))) if got[i] != local[i]), None)
        check(False, "after the stop: %d events, %d local records, first difference at %s"
              % (len(got), len(local), first))
    check(len(set(got)) == len(got), "an event is in the stream twice")
    check(local[-1].find('"event":"gateway.stop"') > 0, "the last record is not gateway.stop")
    ok, why = verify(w, w.conf_a, w.audit_a)
    check(ok, "the local chain: " + why)
    shipped = os.path.join(w.root, "shipped-a.log")
    with open(shipped, "w") as f:
        f.write("".join(m + "\n" for m in got))
    ok, why = verify(w, w.conf_a, shipped)
    check(ok, "the shipped chain: " + why)
    print("   %d records shipped, equal to the local log; %d PutLogEvents reached moto" %
          (len(got), w.proxy.puts))


def case_b_rotation(w):
    """logrotate on B (rename, SIGHUP): the stream goes on across the two files."""
    g = w.gw["b"]
    old = w.audit_b + ".1"
    os.rename(w.audit_b, old)
    since = len(g.msgs)
    g.proc.send_signal(signal.SIGHUP)
    i = g.wait_message("RELOADING=1", 10, since)
    check(i is not None and g.wait_message("READY=1", 10, i) is not None, "no reload")
    check(g.stop() == 0, "B did not stop cleanly")
    both = lines(old) + lines(w.audit_b)
    got = w.stream("gw-b")
    check('"event":"audit.rotate"' in lines(w.audit_b)[0], "the new file does not start with "
          "audit.rotate")
    check(got == both, "B's stream: %d events, %d local records in two files"
          % (len(got), len(both)))
    rc, out, err = w.ctl(w.conf_b, "audit", "verify", old, w.audit_b)
    check(rc == 0, "the two local files: " + out + err)


def case_verify_export(w):
    """Shipping is at-least-once: `stsrolectl audit verify --stream` reads what CloudWatch Logs
    exports (the AWS CLI's get-log-events JSON, filter-log-events across streams), checks the
    chain across it, and reports duplicates and gaps."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=w.menv["base"]["AccessKeyId"],
               AWS_SECRET_ACCESS_KEY=w.menv["base"]["SecretAccessKey"],
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_PAGER="")
    r = subprocess.run([AWS, "--endpoint-url", w.m.url, "logs", "get-log-events",
                        "--log-group-name", GROUP, "--log-stream-name", "gw-b",
                        "--start-from-head"], env=env, capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0, "aws logs get-log-events: " + r.stderr[-300:])
    exp_b = json.loads(r.stdout)
    # Each shipped event carries its record's chain hash (and its predecessor's): the line.
    local = {json.loads(ln)["seq"]: json.loads(ln)["hash"]
             for ln in lines(w.audit_b + ".1") + lines(w.audit_b)}
    for e in exp_b["events"]:
        rec = json.loads(e["message"])
        check(local.get(rec["seq"]) == rec["hash"], "seq %s shipped without its chain hash"
              % rec["seq"])

    def run(name, doc):
        path = os.path.join(w.root, name)
        with open(path, "w") as f:
            json.dump(doc, f)
        return w.ctl(w.conf_b, "audit", "verify", "--stream", path)

    rc, out, err = run("export-b.json", exp_b)
    check(rc == 0 and "chain intact" in out and " 0 duplicates" in out,
          "the CLI's get-log-events export: rc %d %s%s" % (rc, out, err))
    # filter-log-events across both streams, one event delivered twice (at-least-once).
    events = []
    for stream in ("gw-a", "gw-b"):
        for i, m in enumerate(w.stream(stream)):
            events.append({"logStreamName": stream, "timestamp": json.loads(m)["seq"],
                           "message": m, "ingestionTime": 0, "eventId": "%s-%d" % (stream, i)})
    events.sort(key=lambda e: e["timestamp"])
    dup = dict(next(e for e in events if e["logStreamName"] == "gw-a"))
    events.insert(len(events) // 2, dup)
    rc, out, err = run("export-ab.json", {"events": events, "searchedLogStreams": []})
    check(rc == 0 and out.count("chain intact") == 2 and "gw-a:" in out and "gw-b:" in out
          and " 1 duplicates" in out, "filter-log-events with a duplicate: rc %d %s%s"
          % (rc, out, err))
    # A record missing from the middle is a gap; an edited one breaks the chain.
    gap = dict(exp_b, events=exp_b["events"][:3] + exp_b["events"][4:])
    rc, out, err = run("export-gap.json", gap)
    check(rc == 1 and "1 gaps" in out, "a gap was not reported: rc %d %s%s" % (rc, out, err))
    edited = [dict(e) for e in exp_b["events"]]
    edited[2]["message"] = edited[2]["message"].replace('"outcome":"ok"', '"outcome":"no"', 1)
    rc, out, err = run("export-edit.json", dict(exp_b, events=edited))
    check(rc == 1 and "BROKEN" in out, "an edited record was not caught: rc %d %s%s"
          % (rc, out, err))
    print("   " + run("export-ab.json", {"events": events})[1].strip().replace("\n", "; "))


def main():
    if os.geteuid() != 0:
        return suite.skip_all("needs root (root-owned configs)")
    if not test_fleet.PAMDRIVE or not test_fleet.MODULE or shutil.which("oathtool") is None:
        return suite.skip_all("PAMDRIVE, PAM_MODULE or oathtool missing (run tests/fleet/run.sh)")
    try:
        from fleetmoto import FleetMoto, seed_fleet
        from mototest import SECURITY_ACCOUNT, base_env
        from gwlib import gatewayd_path, stsrolectl_path
    except ImportError as e:
        return suite.skip_all(str(e))
    for exe in (gatewayd_path(), stsrolectl_path()):
        if not os.access(exe, os.X_OK):
            return suite.skip_all("%s is not built (STSROLE_BUILD)" % exe)
    root = tempfile.mkdtemp(prefix="stsrole-fleetgw.")
    w = None
    try:
        with FleetMoto(log=os.path.join(root, "moto.log")) as m:
            enable = m.enable_auth
            m.enable_auth = lambda: None  # the log group first, as CloudFormation makes it
            try:
                menv = seed_fleet(m)
            finally:
                m.enable_auth = enable
            m.client("logs", SECURITY_ACCOUNT).create_log_group(logGroupName=GROUP)
            m.enable_auth()
            w = World(root, m, menv, base_env(menv))
            try:
                suite.case("gateways up (A's CloudWatch Logs down); sessions of nobody on A and "
                           "B, of daemon on A, through PAM", case_outage_start, w)
                suite.case("sessions --fleet on A and on B lists both bastions' sessions",
                           case_sessions_fleet, w)
                suite.case("revoke --user nobody --fleet on A: both credentials AccessDenied "
                           "(AWS CLI), both sessions' sids in A's policy, gone from the registry, "
                           "daemon's left", case_revoke_fleet, w)
                suite.case("a process-mode session refreshed on C, revoked from A with "
                           "--fleet: its sid in A's policy, the refreshed credential "
                           "AccessDenied, C stops refreshing; every item written fits the "
                           "fleet policy", case_revoke_fleet_refreshed, w)
                suite.case("records pile up while CloudWatch Logs is down; nothing shipped",
                           case_backlog, w)
                suite.case("kill -9 while a PutLogEvents had landed unacknowledged (3rd batch "
                           "of %d): the stream holds 3 batches, the cursor one pending" % BATCH_A,
                           case_kill_after_landed, w)
                suite.case("restart finds that batch in the stream and does not resend it; kill "
                           "-9 again while the next PutLogEvents has not arrived",
                           case_kill_before_arrival, w)
                suite.case("restart resends the batch that never arrived, survives a lost "
                           "answer: the stream equals the local log record for record, no "
                           "duplicate; both chains verify", case_lost_answer_and_catch_up, w)
                suite.case("B's log rotated (rename, SIGHUP), then stopped: B's stream equals "
                           "the old file and the new one, record for record", case_b_rotation, w)
                suite.case("audit verify --stream: an exported stream's chain, its duplicates "
                           "and gaps", case_verify_export, w)
            finally:
                w.cleanup()
    finally:
        rmtree_unless_kept(root)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
