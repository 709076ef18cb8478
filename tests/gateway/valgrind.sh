#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/valgrind.sh: stsrole-gatewayd under valgrind memcheck through a short life against
# moto (auth on): start, a session opened and closed (revoked through the revoker role:
# PutRolePolicy), an expired entry pruned, stsrolectl sessions/status over the control socket,
# SIGTERM.  Asserts memcheck's verdict: 0 errors and 0 bytes definitely lost
# (--errors-for-leak-kinds=definite --error-exitcode=99), for the gateway and for each stsrolectl
# call.  Runs the normal build: $STSROLE_BUILD, else build/.  Prints one line per case and
# "gateway-valgrind: N passed, N failed".  Exit 0 pass, 1 fail, 77 skipped.
#   STSROLE_KEEP_TMP=1   keep the temporary directory (valgrind logs, audit log, gateway log)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export STSROLE_BUILD=${STSROLE_BUILD:-$top/build}

skip() {
    echo "skipped: $1"
    echo "gateway-valgrind: 0 passed, 0 failed"
    exit 77
}
command -v valgrind >/dev/null 2>&1 || skip "valgrind is not installed (Debian: valgrind)"
command -v moto_server >/dev/null 2>&1 || skip "moto_server is not on PATH"
for exe in "$STSROLE_BUILD/gateway/stsrole-gatewayd" "$STSROLE_BUILD/gateway/stsrolectl"; do
    [ -x "$exe" ] || skip "$exe is not built"
done
[ "$(id -u)" = 0 ] || skip "needs root (root-owned state directory and config)"

exec python3 - "$here" <<'EOF'
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = sys.argv[1]
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from harness import Suite, check, rmtree_unless_kept  # noqa: E402
from mototest import DEFAULT_ROLES, Moto, base_env, write_config  # noqa: E402
import gwlib  # noqa: E402

BUILD = os.environ["STSROLE_BUILD"]
GATEWAYD = os.path.join(BUILD, "gateway", "stsrole-gatewayd")
CTL = os.path.join(BUILD, "gateway", "stsrolectl")
# Leaks of every kind are shown; only definitely lost bytes make it an error (still reachable
# blocks at exit belong to libcurl's and OpenSSL's global state).
MEMCHECK = ["valgrind", "--tool=memcheck", "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible", "--errors-for-leak-kinds=definite",
            "--track-origins=yes", "--track-fds=no", "--num-callers=30"]
POLICY = "stsrole-revoked-vg1"


def summary(log):
    """memcheck's verdict from its log: (errors, definitely lost bytes), None if absent."""
    try:
        text = open(log, errors="replace").read()
    except FileNotFoundError:
        return None, None, ""
    errs = re.findall(r"ERROR SUMMARY: ([\d,]+) errors", text)
    lost = re.findall(r"definitely lost: ([\d,]+) bytes", text)
    n_err = int(errs[-1].replace(",", "")) if errs else None
    # No "definitely lost" line: "All heap blocks were freed" or nothing definitely lost.
    n_lost = int(lost[-1].replace(",", "")) if lost else (0 if errs else None)
    return n_err, n_lost, text


class World:
    def __init__(self, moto, menv, tmp):
        self.tmp = tmp
        self.moto = moto
        self.menv = menv
        self.roles = menv["roles"]
        self.state = os.path.join(tmp, "state")
        self.audit = os.path.join(tmp, "audit.log")
        spec = {"SecurityAuditRole": {"arn": self.roles["SecurityAuditRole"],
                                      "revoker_arn": self.roles["StsRoleRevoker"],
                                      "users": "alice"}}
        self.conf = write_config(os.path.join(tmp, "stsrole.conf"), menv, roles=spec,
                                 state_dir=self.state, audit_log=self.audit, bastion_id="vg1")
        self.env = base_env(menv)
        self.sts = moto.client("sts", creds=menv["base"])
        checker = self.sts.assume_role(RoleArn=self.roles["StsRoleRevoker"],
                                       RoleSessionName="valgrind-checker")
        self.iam = moto.client("iam", creds=checker["Credentials"])
        self.vlog = os.path.join(tmp, "memcheck-gatewayd.log")
        # gwlib.Gateway runs $STSROLE_GATEWAYD: a wrapper that puts memcheck in front.
        wrapper = os.path.join(tmp, "gatewayd-memcheck")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s --log-file=%s %s \"$@\"\n"
                    % (" ".join(MEMCHECK), self.vlog, GATEWAYD))
        os.chmod(wrapper, 0o700)
        os.environ["STSROLE_GATEWAYD"] = wrapper
        self.gw = gwlib.Gateway(self.conf, self.env, ["--skew", "0", "--reconcile", "2"],
                                log=os.path.join(tmp, "gatewayd.log"))
        self.ctl_runs = 0
        self.rec = None

    def events(self, session_id=None, event=None):
        return [e for e in gwlib.audit_lines(self.audit)
                if (session_id is None or e.get("session_id") == session_id) and
                (event is None or e["event"] == event)]

    def userids(self, sid="StsroleRevoked", key="aws:userid"):
        try:
            doc = self.iam.get_role_policy(RoleName="SecurityAuditRole",
                                           PolicyName=POLICY)["PolicyDocument"]
        except self.iam.exceptions.NoSuchEntityException:
            return []
        for st in doc.get("Statement", []):
            if st.get("Sid") == sid:
                v = st["Condition"]["StringEquals"][key]
                return v if isinstance(v, list) else [v]
        return []

    def sids(self):
        return self.userids("StsroleSid", "aws:PrincipalTag/stsrole:sid")

    def ctl(self, *args):
        """stsrolectl under memcheck too: (exit status, stdout, stderr)."""
        self.ctl_runs += 1
        log = os.path.join(self.tmp, "memcheck-stsrolectl-%d.log" % self.ctl_runs)
        p = subprocess.run(MEMCHECK + ["--log-file=" + log, CTL, "--config", self.conf] +
                           list(args), capture_output=True, text=True, timeout=300)
        n_err, n_lost, text = summary(log)
        check(p.returncode != 99 and n_err == 0 and n_lost == 0,
              "stsrolectl %s under memcheck: exit %d, %s errors, %s bytes definitely lost\n%s"
              % (" ".join(args), p.returncode, n_err, n_lost, text[-3000:]))
        return p.returncode, p.stdout, p.stderr


def case_start(w):
    # memcheck makes start-up many times slower: a generous bound.
    w.gw.start(timeout=180)
    check(w.events(event="gateway.start"), "no gateway.start in the audit log")


def case_revoke(w):
    # A session with the stsrole:sid tag (the deny lists the sid); case_prune's is one from
    # before sids (the deny lists its aws:userid).
    session_id = os.urandom(16).hex()
    name = "alice@vg1.%s" % session_id[:16]
    r = w.sts.assume_role(RoleArn=w.roles["SecurityAuditRole"], RoleSessionName=name,
                          SourceIdentity="alice",
                          Tags=[{"Key": "stsrole:sid", "Value": gwlib.sid_of(session_id)}],
                          TransitiveTagKeys=["stsrole:sid"])
    arid = r["AssumedRoleUser"]["AssumedRoleId"]
    w.rec = gwlib.session_record("alice", "SecurityAuditRole", w.roles["SecurityAuditRole"], arid,
                                 r["Credentials"]["AccessKeyId"],
                                 r["Credentials"]["Expiration"].timestamp(),
                                 session_id=session_id, tagged=True)
    gwlib.write_session(w.state, w.rec)
    gwlib.wait_for(lambda: w.events(w.rec["session_id"], "session.open"), 60, "session.open")
    rc, out, err = w.ctl("sessions", "--json")
    check(rc == 0, "sessions --json: exit %d %s" % (rc, err))
    mine = [s for s in json.loads(out) if s["session_id"] == w.rec["session_id"]]
    check(mine and mine[0]["state"] == "live", "sessions --json: %s" % out)
    gwlib.close_session(w.state, w.rec)
    gwlib.wait_for(lambda: w.events(w.rec["session_id"], "revoke.ok"), 60, "revoke.ok")
    check(w.rec["sid"] in w.sids(), "revoke.ok, but %s is not in %s in IAM" % (w.rec["sid"],
                                                                             POLICY))
    ev = [e["event"] for e in w.events(w.rec["session_id"])]
    check(ev == ["session.open", "session.close", "revoke.ok"], "audit events: %s" % ev)


def case_prune(w):
    now = int(time.time())
    old = gwlib.session_record("alice", "SecurityAuditRole", w.roles["SecurityAuditRole"],
                               gwlib.fake_userid("alice", 7), "ASIAVALGRIND00000007", now - 60,
                               opened=now - 3700)
    old["closed"] = now - 120
    gwlib.write_session(w.state, old)
    gwlib.wait_for(lambda: w.events(old["session_id"], "revoke.ok"), 60, "revoke.ok (expired)")
    gwlib.wait_for(lambda: [e for e in w.events(event="prune") if e["outcome"] == "ok"], 60,
                   "the prune line")
    ids = w.userids()
    check(old["assumed_role_id"] not in ids and w.rec["sid"] in w.sids(),
          "after the prune IAM lists %s and %s" % (ids, w.sids()))


def case_ctl(w):
    rc, out, err = w.ctl("status")
    check(rc == 0 and "gateway:  ok" in out, "status: exit %d %s%s" % (rc, out, err))
    rc, out, err = w.ctl("status", "--json")
    check(rc == 0 and json.loads(out).get("queue") == 0, "status --json: %s%s" % (out, err))
    rc, out, err = w.ctl("sessions")
    check(rc == 0, "sessions: exit %d %s" % (rc, err))
    rc, out, err = w.ctl("audit", "verify")
    check(rc == 0, "audit verify: exit %d %s%s" % (rc, out, err))


def case_stop(w):
    rc = w.gw.stop(timeout=180)
    n_err, n_lost, text = summary(w.vlog)
    last = gwlib.audit_lines(w.audit)[-1]["event"]
    check(rc == 0 and n_err == 0 and n_lost == 0 and last == "gateway.stop",
          "SIGTERM: exit %s, %s errors, %s bytes definitely lost, last audit line %s\n%s"
          % (rc, n_err, n_lost, last, text[-4000:]))
    print("   memcheck: %d errors, %d bytes definitely lost (gateway); %d stsrolectl runs clean"
          % (n_err, n_lost, w.ctl_runs))


def main():
    suite = Suite("gateway-valgrind")
    tmp = tempfile.mkdtemp(prefix="stsrole-gwvg-")
    os.chmod(tmp, 0o700)
    w = None
    try:
        with Moto(log=os.path.join(tmp, "moto.log")) as moto:
            menv = moto.seed(roles=DEFAULT_ROLES)
            w = World(moto, menv, tmp)
            suite.case("gateway starts under memcheck (READY=1)", case_start, w)
            if w.gw.proc is not None:
                suite.case("a session opened then closed is revoked (PutRolePolicy via the "
                           "revoker role)", case_revoke, w)
                suite.case("an expired entry is pruned", case_prune, w)
                suite.case("stsrolectl status, sessions, audit verify over the socket",
                           case_ctl, w)
                suite.case("SIGTERM: exit 0; memcheck: 0 errors, 0 bytes definitely lost",
                           case_stop, w)
    finally:
        if w is not None and w.gw.proc is not None and w.gw.proc.poll() is None:
            w.gw.kill9()
        if suite.failed:
            print("kept " + tmp)
        else:
            rmtree_unless_kept(tmp)
    return suite.finish()


sys.exit(main())
EOF
