#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench_revoke_scale.py: revocation at scale: one person logs in and out CYCLES times while
another person's session stays open, against moto, through stsrole-gatewayd.

Each cycle is what a login and a logout leave for the gateway: an AssumeRole through moto with
SourceIdentity and the stsrole:sid session tag (transitive), as pam_stsrole makes it, the
session record written as pam_stsrole writes it, then marked closed.  The benchmark waits for
the gateway's revoke.ok and reads the deny policy back from IAM after every cycle, so it holds
every document the gateway wrote.

moto ignores policy conditions, so the decisions come from iam-simulate
(tests/bench/revoke_scale.cjs) and, for every pair of document and session, from an evaluator
of the four statement shapes stsrole writes (cross-checked against iam-simulate on a sample):
  - the second person's live session is never denied, in any document;
  - every revoked session of the first person stays denied in every later document, whatever
    AWS's clock said within --skew of the bastion's (its credential expires after the run).
It reports the entries per role at the peak, the characters per entry, the compactions, and
the PutRolePolicy calls per revocation.

    tests/bench/bench_revoke_scale.py [CYCLES] [--others CHARS]
      CYCLES        login/logout cycles (default 2000)
      --others N    give the role another inline policy of about N characters, so the budget
                    left is small and a short run compacts too (tests/run: 150 --others 9000)

Exits 0 when every check holds, 1 when one fails or the set-up fails, 77 after "skipped: ..."
when a prerequisite (node and iam-simulate, the build) is missing.  See tests/bench/README.md.
"""
import calendar
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from mototest import DEFAULT_ROLES, Moto, base_env, write_config  # noqa: E402
from gwlib import (Gateway, close_session, gatewayd_path, session_record, sid_of,  # noqa: E402
                   write_session)

ROLE = "ScaleRole"
POLICY = "stsrole-revoked-bench"
SKEW = 300  # the gateway's default --skew
ALLOW = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": ["iam:Get*", "ec2:Describe*"],
                        "Resource": "*"}]}


def padded(chars):
    """ALLOW plus a statement that brings the policy to about `chars` characters."""
    n = max(0, (chars - 200) // 65)
    pad = {"Sid": "Pad", "Effect": "Allow", "Action": "ec2:DescribeInstances",
           "Resource": ["arn:aws:ec2:us-east-1:222222222222:instance/i-%017d" % i
                        for i in range(n)]}
    return {"Version": "2012-10-17", "Statement": ALLOW["Statement"] + [pad]}


def size(doc):
    return len(re.sub(r"\s", "", json.dumps(doc, separators=(",", ":"))))


def epoch(iso):
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Compiled:
    """One deny policy, reduced to what decides a call of this role: the listed sids, each
    person's cut-off and the role-wide cut-off.  Any other statement fails the benchmark."""

    def __init__(self, doc):
        self.sids, self.persons, self.older = set(), {}, None
        for st in (doc or {}).get("Statement", []):
            cond, sid = st["Condition"], st["Sid"]
            assert st["Effect"] == "Deny" and st["Action"] == "*", st
            if sid == "StsroleSid":
                v = cond["StringEquals"]["aws:PrincipalTag/stsrole:sid"]
                self.sids |= set(v if isinstance(v, list) else [v])
            elif sid.startswith("StsrolePerson"):
                self.persons[cond["StringEquals"]["aws:SourceIdentity"]] = epoch(
                    cond["DateLessThan"]["aws:TokenIssueTime"])
            elif sid == "StsroleRevokedOlder":
                self.older = epoch(cond["DateLessThan"]["aws:TokenIssueTime"])
            else:
                raise AssertionError("unexpected statement %s" % sid)

    def denies(self, sid, person, issued):
        return (sid in self.sids or (person in self.persons and issued < self.persons[person])
                or (self.older is not None and issued < self.older))


class AuditTail:
    """Reads the audit log as it grows, line by line."""

    def __init__(self, path):
        self.path, self.off, self.lines, self.ok = path, 0, [], set()

    def poll(self):
        try:
            with open(self.path) as f:
                f.seek(self.off)
                data = f.read()
        except FileNotFoundError:
            return
        cut = data.rfind("\n") + 1
        self.off += len(data[:cut].encode())
        for ln in data[:cut].splitlines():
            e = json.loads(ln)
            self.lines.append(e)
            if e["event"] == "revoke.ok":
                self.ok.add(e["session_id"])

    def wait_revoked(self, session_id, timeout=30):
        end = time.monotonic() + timeout
        while session_id not in self.ok:
            if time.monotonic() > end:
                raise AssertionError("no revoke.ok for %s after %d s" % (session_id, timeout))
            time.sleep(0.002)
            self.poll()


def node_modules():
    for d in (os.path.join(TOP, "tests", "policy", "node_modules"),
              os.path.join(TOP, "tests", "gateway", "node_modules")):
        if os.path.isdir(os.path.join(d, "@cloud-copilot", "iam-simulate")):
            return d
    return None


def main():
    args = sys.argv[1:]
    others = 0
    if "--others" in args:
        i = args.index("--others")
        others = int(args[i + 1])
        del args[i:i + 2]
    cycles = int(args[0]) if args else 2000
    mods = node_modules()
    if shutil.which("node") is None or mods is None:
        print("skipped: node or @cloud-copilot/iam-simulate missing (run tests/policy/run.sh once)")
        return 77
    if not os.access(gatewayd_path(), os.X_OK):
        print("skipped: %s is not built" % gatewayd_path())
        return 77
    tmp = tempfile.mkdtemp(prefix="stsrole-scale-")
    os.chmod(tmp, 0o700)
    failures = []
    gw = None
    try:
        with Moto(log=os.path.join(tmp, "moto.log")) as moto:
            perm = padded(others) if others else ALLOW
            menv = moto.seed(roles=dict(DEFAULT_ROLES, **{ROLE: perm}))
            arn = menv["roles"][ROLE]
            state = os.path.join(tmp, "state")
            audit = os.path.join(tmp, "audit.log")
            conf = write_config(os.path.join(tmp, "stsrole.conf"), menv,
                                roles={ROLE: {"arn": arn,
                                              "revoker_arn": menv["roles"]["StsRoleRevoker"],
                                              "users": "mallory bob"}},
                                state_dir=state, audit_log=audit, bastion_id="bench")
            sts = moto.client("sts", creds=menv["base"])
            checker = sts.assume_role(RoleArn=menv["roles"]["StsRoleRevoker"],
                                      RoleSessionName="bench-checker")
            iam = moto.client("iam", creds=checker["Credentials"])
            gw = Gateway(conf, base_env(menv), ["--skew", str(SKEW), "--reconcile", "1"],
                         log=os.path.join(tmp, "gatewayd.log")).start()
            tail = AuditTail(audit)

            def login(user):
                sid = os.urandom(16).hex()
                r = sts.assume_role(RoleArn=arn, RoleSessionName="%s@bench.%s" % (user, sid[:16]),
                                    SourceIdentity=user,
                                    Tags=[{"Key": "stsrole:sid", "Value": sid_of(sid)}],
                                    TransitiveTagKeys=["stsrole:sid"])
                c = r["Credentials"]
                rec = session_record(user, ROLE, arn, r["AssumedRoleUser"]["AssumedRoleId"],
                                     c["AccessKeyId"], c["Expiration"].timestamp(),
                                     session_id=sid, tagged=True)
                write_session(state, rec)
                return rec

            bob = login("bob")  # stays open all along
            revoked, docs, doc_of, last, took = [], [], [], None, []
            start = time.monotonic()
            for k in range(cycles):
                t0 = time.monotonic()
                rec = login("mallory")
                close_session(state, rec)
                tail.wait_revoked(rec["session_id"])
                took.append(time.monotonic() - t0)
                revoked.append(rec)
                try:
                    doc = iam.get_role_policy(RoleName=ROLE, PolicyName=POLICY)["PolicyDocument"]
                except iam.exceptions.NoSuchEntityException:
                    doc = None
                if doc != last:
                    docs.append(doc)
                    last = doc
                doc_of.append(len(docs) - 1)
            elapsed = time.monotonic() - start
            tail.poll()
    except AssertionError as e:
        failures.append(str(e))
        docs = docs if "docs" in dir() else []
    finally:
        if gw is not None:
            gw.stop()
    if failures:
        print("FAIL: " + "; ".join(failures))
        print("kept " + tmp)
        return 1

    # -- every document against every session revoked before it, and bob --------------------
    compiled = [Compiled(d) for d in docs]
    last_cycle = {}
    for k, j in enumerate(doc_of):
        last_cycle[j] = k
    misses = 0
    for j, cd in enumerate(compiled):
        if cd.denies(bob["sid"], "bob", bob["opened"] - SKEW) or \
                cd.denies(bob["sid"], "bob", bob["opened"] + SKEW):
            failures.append("document %d denies bob's live session" % j)
        for rec in revoked[:last_cycle.get(j, -1) + 1]:
            for t in (rec["opened"] - SKEW, rec["opened"] + SKEW):
                if not cd.denies(rec["sid"], "mallory", t):
                    misses += 1
    if misses:
        failures.append("%d (document, revoked session, issue time) cases not denied" % misses)

    # -- iam-simulate on a sample, and on every session in the last document -----------------
    rnd = random.Random(12)
    cases = []
    for j, cd in enumerate(compiled):
        k = last_cycle.get(j)
        if k is None or docs[j] is None:
            continue
        cases.append({"doc": j, "sid": bob["sid"], "person": "bob",
                      "issued": iso(bob["opened"] + SKEW), "want": "Allowed"})
        picks = {k} | {rnd.randrange(0, k + 1) for _ in range(3)}
        for i in sorted(picks):
            for t in (revoked[i]["opened"] - SKEW, revoked[i]["opened"] + SKEW):
                cases.append({"doc": j, "sid": revoked[i]["sid"], "person": "mallory",
                              "issued": iso(t), "want": "ExplicitlyDenied"})
    final = len(docs) - 1
    for rec in revoked:
        cases.append({"doc": final, "sid": rec["sid"], "person": "mallory",
                      "issued": iso(rec["opened"] + SKEW), "want": "ExplicitlyDenied"})
    for c in cases:  # the evaluator must agree with iam-simulate on every sampled case
        got = compiled[c["doc"]].denies(c["sid"], c["person"], epoch(c["issued"]))
        if got != (c["want"] == "ExplicitlyDenied"):
            failures.append("the evaluator and the expectation differ: %s" % c)
            break
    path = os.path.join(tmp, "cases.json")
    with open(path, "w") as f:
        json.dump({"account": menv["workload_account"], "role": ROLE, "permissions": perm,
                   "docs": docs, "cases": cases}, f)
    p = subprocess.run(["node", os.path.join(HERE, "revoke_scale.cjs"), path],
                       env=dict(os.environ, NODE_PATH=mods), capture_output=True, text=True,
                       timeout=3600)
    out = p.stdout.strip().splitlines()
    if p.returncode != 0:
        failures.append("iam-simulate: " + " | ".join(out[-5:]))

    # -- figures ------------------------------------------------------------------------------
    role_lines = [e for e in tail.lines if e.get("role_arn") == arn]
    writes = {e["aws_request_id"] for e in role_lines
              if e["event"] in ("revoke.ok", "revoke.compact", "revoke.budget") and
              e.get("aws_request_id")}
    compactions = [e for e in role_lines if e["event"] == "revoke.compact" and
                   e["session_id"] is None]
    fallbacks = [e for e in role_lines if e["event"] == "revoke.budget" and
                 e["session_id"] is None]
    failed = [e for e in role_lines if e["event"] == "revoke.failed"]
    if fallbacks:
        failures.append("%d role-wide cut-off(s): one person's logouts must never need one" %
                        len(fallbacks))
    if failed:
        failures.append("%d revoke.failed" % len(failed))
    peak = max((len(c.sids) for c in compiled), default=0)
    per_entry = [size(docs[j]) - size(docs[j - 1]) for j in range(1, len(docs))
                 if docs[j] and docs[j - 1] and len(compiled[j].sids) == len(compiled[j - 1].sids) + 1
                 and compiled[j].persons == compiled[j - 1].persons]
    print("cycles:                 %d login/logout cycles of mallory in %.0f s (median %.0f ms "
          "from AssumeRole to revoke.ok)" % (cycles, elapsed, statistics.median(took) * 1000))
    print("other inline policies:  %d characters" % (size(perm) if others else 0))
    print("entries at the peak:    %d sid entries in %s (largest document %d characters)" %
          (peak, POLICY, max((size(d) for d in docs if d), default=0)))
    print("characters per entry:   %s" % (statistics.median(per_entry) if per_entry else "n/a"))
    print("compactions:            %d of mallory's entries into her cut-off (%d of them "
          "audited 'error': her next logins within --skew are hit too); %d role-wide cut-offs"
          % (len(compactions), sum(e["outcome"] == "error" for e in compactions), len(fallbacks)))
    print("PutRolePolicy calls:    %d for %d revocations: %.2f per revocation" %
          (len(writes), cycles, len(writes) / cycles))
    print("documents checked:      %d documents x revoked sessions by the evaluator; "
          "%s" % (len(docs), out[-1] if out else "iam-simulate gave no answer"))
    print("bob (live throughout):  never denied" if not any("bob" in f for f in failures)
          else "bob (live throughout):  DENIED")
    if failures:
        for f in failures:
            print("FAIL: " + f)
        print("kept " + tmp)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
