#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""gen_trail.py: a bastion's audit log and a day of CloudTrail files, with findings planted.

The CloudTrail records follow AWS's documented record shape (CloudTrail User
Guide, "CloudTrail record contents" and "CloudTrail userIdentity element"):
userIdentity.type AssumedRole with arn, principalId AROA...:SESSION,
sessionContext.sessionIssuer and sessionContext.sourceIdentity; AssumeRole
events carry requestParameters.roleArn/roleSessionName/sourceIdentity and
responseElements.assumedRoleUser; refused calls carry errorCode
AccessDenied (or Client.UnauthorizedOperation for EC2).  Files are gzip
JSON {"Records": [...]} under the key layout CloudTrail delivers to S3:
AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json.gz

The audit log is written in stsrole-gatewayd's format, hash chain included
(tests check it with `stsrolectl audit verify`).

    gen_trail.py OUT [--clean] [--bench N] [--day 2026-12-05]

writes OUT/audit.log, OUT/trail/AWSLogs/... and OUT/planted.json (the
findings planted, for the test to check).
"""
import argparse
import datetime as dt
import gzip
import hashlib
import json
import os
import random
import uuid

SECURITY = "111111111111"
WORKLOAD = "222222222222"
REGION = "us-east-1"
BASTION = "bastion1"
BASTION_ROLE = "arn:aws:iam::%s:role/BastionInstanceRole" % SECURITY
BASTION_SESSION = "i-0123456789abcdef0"
ROLES = {
    "SecurityAuditRole": "arn:aws:iam::%s:role/SecurityAuditRole" % WORKLOAD,
    "IncidentResponseRole": "arn:aws:iam::%s:role/IncidentResponseRole" % WORKLOAD,
}
ROLE_IDS = {"SecurityAuditRole": "AROAEXAMPLEAUDIT00001", "IncidentResponseRole":
            "AROAEXAMPLEINCIDENT01", "BastionInstanceRole": "AROAEXAMPLEBASTION001",
            "SomeAppRole": "AROAEXAMPLEAPP0000001"}
CALLS = [("ec2.amazonaws.com", "DescribeInstances"), ("iam.amazonaws.com", "GetRole"),
         ("s3.amazonaws.com", "ListBuckets"), ("sts.amazonaws.com", "GetCallerIdentity"),
         ("ec2.amazonaws.com", "DescribeSecurityGroups"), ("iam.amazonaws.com", "ListRoles")]


def iso(t, ms=False):
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    return s + (".%03dZ" % (t.microsecond // 1000) if ms else "Z")


class Rng:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def hex(self, n):
        return "".join(self.r.choice("0123456789abcdef") for _ in range(n))

    def uuid(self):
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def key(self, prefix="ASIA"):
        return prefix + "".join(self.r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
                                for _ in range(16))


class Audit:
    """stsrole-gatewayd's audit log: keys in order, prev and hash chained."""

    KEYS = ["user", "uid", "rhost", "tty", "session_id", "role_arn", "account", "session_name",
            "source_identity", "access_key_id", "expiration", "aws_request_id", "outcome",
            "detail"]

    def __init__(self):
        self.recs = []

    def add(self, t, event, extra_after=None, **f):
        self.recs.append((t, len(self.recs), event, extra_after, f))

    def write(self, path):
        """The gateway appends in time order: sort, then chain."""
        prev = "0" * 64
        with open(path, "w") as out:
            for seq, (t, _, event, extra, f) in enumerate(sorted(self.recs), 1):
                rec = {"seq": seq, "ts": iso(t, ms=True), "host": "bastion1.example",
                       "bastion_id": BASTION, "event": event}
                for k in self.KEYS:
                    rec[k] = f.get(k)
                # Fields a later format may add (break-glass: reason,
                # approvers) sit before prev, inside what the hash covers.
                for k, v in (extra or {}).items():
                    rec[k] = v
                rec["prev"] = prev
                text = json.dumps(rec, separators=(",", ":"), ensure_ascii=False)
                line = text[:-1] + ',"hash":"%s"}' % hashlib.sha256(text.encode()).hexdigest()
                prev = hashlib.sha256(line.encode()).hexdigest()
                out.write(line + "\n")
        os.chmod(path, 0o600)


class Trail:
    def __init__(self, rng):
        self.rng = rng
        self.records = []  # (account, time, record)

    def identity(self, role, session, source_identity, account=WORKLOAD):
        rid = ROLE_IDS.get(role, "AROAEXAMPLEOTHER00001")
        return {
            "type": "AssumedRole",
            "principalId": "%s:%s" % (rid, session),
            "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (account, role, session),
            "accountId": account,
            "accessKeyId": self.rng.key(),
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": rid,
                                  "arn": "arn:aws:iam::%s:role/%s" % (account, role),
                                  "accountId": account, "userName": role},
                "webIdFederationData": {},
                "attributes": {"creationDate": "2026-12-05T00:00:00Z",
                               "mfaAuthenticated": "false"},
                **({"sourceIdentity": source_identity} if source_identity else {}),
            },
        }

    def base(self, t, identity, source, name, account, ip="198.51.100.7", error=None):
        rec = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": iso(t),
            "eventSource": source,
            "eventName": name,
            "awsRegion": REGION,
            "sourceIPAddress": ip,
            "userAgent": "aws-cli/2.9.19 Python/3.11.2 Linux/6.1.0 source/x86_64.debian.12",
            "requestParameters": None,
            "responseElements": None,
            "requestID": self.rng.uuid(),
            "eventID": self.rng.uuid(),
            "readOnly": True,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        }
        if error:
            rec["errorCode"] = error
            rec["errorMessage"] = ("You are not authorized to perform this operation. "
                                   "with an explicit deny in an identity-based policy")
        return rec

    def assume(self, t, role, session, source_identity, caller=None, ip="10.0.0.5", error=None,
               both_accounts=True):
        """sts:AssumeRole, logged in the caller's and in the role's account."""
        caller = caller or self.identity("BastionInstanceRole", BASTION_SESSION, None, SECURITY)
        role_arn = ROLES.get(role, "arn:aws:iam::%s:role/%s" % (WORKLOAD, role))
        accounts = [WORKLOAD] + ([caller["accountId"]] if both_accounts and
                                 caller["accountId"] != WORKLOAD else [])
        shared, request_id = self.rng.uuid(), self.rng.uuid()
        for acct in accounts:
            rec = self.base(t, caller, "sts.amazonaws.com", "AssumeRole", acct, ip, error)
            # Both copies of one cross-account call share its requestID.
            rec["requestID"] = request_id
            rec["readOnly"] = True
            rec["requestParameters"] = {
                "roleArn": role_arn, "roleSessionName": session, "durationSeconds": 3600,
                "sourceIdentity": source_identity,
                "tags": [{"key": "stsrole:bastion", "value": BASTION},
                         {"key": "stsrole:mfa", "value": "totp"},
                         {"key": "stsrole:sid", "value": self.rng.hex(12)}],
                "transitiveTagKeys": ["stsrole:sid"]}
            if not error:
                rec["responseElements"] = {
                    "credentials": {"accessKeyId": self.rng.key(),
                                    "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE",
                                    "expiration": "Dec 5, 2026, 11:00:00 PM"},
                    "assumedRoleUser": {
                        "assumedRoleId": "%s:%s" % (ROLE_IDS.get(role, "AROAX"), session),
                        "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (WORKLOAD, role, session)},
                    "sourceIdentity": source_identity, "packedPolicySize": 9}
            rec["resources"] = [{"accountId": WORKLOAD, "type": "AWS::IAM::Role",
                                 "ARN": role_arn}]
            if len(accounts) > 1:
                rec["sharedEventID"] = shared
            self.records.append((acct, t, rec))

    def call(self, t, role, session, source_identity, n=0, error=None, account=WORKLOAD):
        source, name = CALLS[n % len(CALLS)]
        if error is True:
            error = "Client.UnauthorizedOperation" if source == "ec2.amazonaws.com" \
                else "AccessDenied"
        ident = self.identity(role, session, source_identity, account)
        self.records.append((account, t, self.base(t, ident, source, name, account,
                                                   error=error)))

    def noise(self, t, n):
        """Calls that are none of stsrole's business: another role, a user, a service."""
        kinds = n % 3
        if kinds == 0:
            ident = self.identity("SomeAppRole", "app-%d" % (n % 7), None)
        elif kinds == 1:
            ident = {"type": "IAMUser", "principalId": "AIDAEXAMPLEUSER00001",
                     "arn": "arn:aws:iam::%s:user/ci" % WORKLOAD, "accountId": WORKLOAD,
                     "accessKeyId": "AKIAEXAMPLEEXAMPLE01", "userName": "ci"}
        else:
            ident = {"type": "AWSService", "invokedBy": "config.amazonaws.com"}
        source, name = CALLS[n % len(CALLS)]
        self.records.append((WORKLOAD, t, self.base(t, ident, source, name, WORKLOAD)))

    def write(self, top, per_file=None):
        """One file per account and 5-minute delivery, as CloudTrail does."""
        groups = {}
        for acct, t, rec in self.records:
            slot = t.replace(minute=t.minute - t.minute % 5, second=0, microsecond=0) + \
                dt.timedelta(minutes=5)
            groups.setdefault((acct, slot), []).append((t, rec))
        n = 0
        for (acct, slot), recs in sorted(groups.items()):
            recs.sort(key=lambda x: x[0])
            size = per_file or len(recs)
            for i in range(0, len(recs), size):
                d = os.path.join(top, "AWSLogs", acct, "CloudTrail", REGION,
                                 slot.strftime("%Y"), slot.strftime("%m"), slot.strftime("%d"))
                os.makedirs(d, exist_ok=True)
                name = "%s_CloudTrail_%s_%s_%s.json.gz" % (acct, REGION,
                                                           slot.strftime("%Y%m%dT%H%MZ"),
                                                           self.rng.hex(16))
                with gzip.open(os.path.join(d, name), "wb", compresslevel=6) as f:
                    f.write(json.dumps({"Records": [r for _, r in recs[i:i + size]]}).encode())
                n += 1
        return n


def session(audit, trail, rng, t, user, role="SecurityAuditRole", calls=3, close_after=600,
            revoke_delay=1.2, trail_assume=True, extra=None):
    """One SSH session: open, AssumeRole, calls, close, revoke.  Returns its facts."""
    nonce = rng.hex(16)
    name = "%s@%s.%s" % (user, BASTION, nonce)
    sid = rng.hex(32)
    arn = ROLES[role]
    f = dict(user=user, uid=1000 + len(user), rhost="203.0.113.%d" % (len(user) * 7 % 250),
             tty="ssh", session_id=sid, role_arn=arn, account=WORKLOAD, session_name=name,
             source_identity=user, access_key_id=rng.key(), outcome="ok")
    if trail_assume:
        trail.assume(t - dt.timedelta(milliseconds=400), role, name, user)
    audit.add(t, "session.open", extra_after=extra, **f)
    for i in range(calls):
        trail.call(t + dt.timedelta(seconds=20 + i * 30), role, name, user, i)
    close = t + dt.timedelta(seconds=close_after)
    revoke = close + dt.timedelta(seconds=revoke_delay)
    audit.add(close, "session.close", **f)
    audit.add(revoke, "revoke.ok", **dict(f, detail="denied by tag stsrole:session"))
    return {"name": name, "sid": sid, "user": user, "role": role, "open": t, "close": close,
            "revoke": revoke, "fields": f}


def build(out, clean, day, bench=0):
    rng = Rng(20261205 if not bench else bench)
    audit = Audit()
    trail = Trail(rng)
    t0 = dt.datetime.strptime(day, "%Y-%m-%d").replace(hour=8)
    planted = []
    audit.add(t0 - dt.timedelta(hours=1), "gateway.start", outcome="ok")

    # A clean day: three people, one refresh, calls, logouts, revocations.
    session(audit, trail, rng, t0, "alice")
    session(audit, trail, rng, t0 + dt.timedelta(minutes=30), "bob", "IncidentResponseRole")
    carol = session(audit, trail, rng, t0 + dt.timedelta(hours=1), "carol", calls=2,
                    close_after=5400)
    # carol's session is refreshed by the gateway after 50 minutes.
    rt = carol["open"] + dt.timedelta(minutes=50)
    child = "carol@%s.%s" % (BASTION, rng.hex(16))
    cid = rng.hex(32)
    trail.assume(rt - dt.timedelta(milliseconds=300), "SecurityAuditRole", child, "carol")
    audit.add(rt, "refresh.ok", **dict(carol["fields"], session_id=cid, session_name=child,
                                        detail="credential for session %s, which replaces "
                                               "ASIAEXAMPLE, expiring 2026-12-05T10:00:00Z"
                                               % carol["sid"]))
    trail.call(rt + dt.timedelta(seconds=40), "SecurityAuditRole", child, "carol", 4)
    for i in range(40):
        trail.noise(t0 + dt.timedelta(minutes=i * 7), i)

    if clean:
        return audit, trail, planted
    plant(audit, trail, rng, t0, planted)
    if bench:
        # Volume: many clean sessions, each with a share of the records, and
        # noise for the rest.  The planted findings above must still be found.
        sessions = max(1, bench // 400)
        per = (bench // 2) // sessions
        for i in range(sessions):
            t = t0 + dt.timedelta(seconds=i * 30)
            session(audit, trail, rng, t, "user%04d" % (i % 500), calls=per,
                    close_after=per * 30 + 60)
        for i in range(max(0, bench - len(trail.records))):
            trail.noise(t0 + dt.timedelta(seconds=i % 50000), i)
    return audit, trail, planted


def plant(audit, trail, rng, t0, planted):

    t1 = t0 + dt.timedelta(hours=3)
    # 1. AssumeRole from outside any bastion session: stolen bastion credentials.
    caller = trail.identity("BastionInstanceRole", BASTION_SESSION, None, SECURITY)
    mallory = "mallory@%s.%s" % (BASTION, rng.hex(16))
    trail.assume(t1, "SecurityAuditRole", mallory, "mallory", caller=caller, ip="192.0.2.66")
    trail.call(t1 + dt.timedelta(seconds=30), "SecurityAuditRole", mallory, "mallory", 2)
    planted.append({"finding": "assume.unmatched", "severity": "critical",
                    "session_name": mallory})
    # 2. Used after revoke.ok, refused 7 s after the deny (in time: info).
    dave = session(audit, trail, rng, t1 + dt.timedelta(minutes=10), "dave", calls=2)
    trail.call(dave["revoke"] + dt.timedelta(seconds=7), "SecurityAuditRole", dave["name"], "dave",
               0, error=True)
    trail.call(dave["revoke"] + dt.timedelta(seconds=20), "SecurityAuditRole", dave["name"],
               "dave", 1, error=True)
    planted.append({"finding": "revoked.used", "severity": "info", "session_name": dave["name"],
                    "delay_s": 7.0})
    # 3. Used after revoke.ok and allowed 5 minutes later: the deny did not hold (critical).
    erin = session(audit, trail, rng, t1 + dt.timedelta(minutes=20), "erin",
                   "IncidentResponseRole", calls=1)
    trail.call(erin["revoke"] + dt.timedelta(seconds=300), "IncidentResponseRole", erin["name"],
               "erin", 3)
    planted.append({"finding": "revoked.used", "severity": "critical",
                    "session_name": erin["name"]})
    # 4. In the audit log, absent from CloudTrail (no AssumeRole, no call).
    frank = session(audit, trail, rng, t1 + dt.timedelta(minutes=30), "frank", calls=0,
                    trail_assume=False)
    planted.append({"finding": "audit.only", "severity": "warning",
                    "session_name": frank["name"]})
    # 5. In CloudTrail, absent from every audit log (its AssumeRole was before the window).
    ghost = "ghost@bastion2.%s" % rng.hex(16)
    for i in range(3):
        trail.call(t1 + dt.timedelta(minutes=40, seconds=i * 10), "SecurityAuditRole", ghost,
                   "ghost", i)
    planted.append({"finding": "cloudtrail.only", "severity": "warning", "session_name": ghost})
    # 6. Break-glass (issue 15's records are synthetic here: reason and approvers).
    grace = session(audit, trail, rng, t1 + dt.timedelta(minutes=50), "grace",
                    "IncidentResponseRole", calls=2,
                    extra={"reason": "INC-4711 production outage",
                           "approvers": ["heidi", "ivan"]})
    planted.append({"finding": "breakglass", "severity": "warning",
                    "session_name": grace["name"], "reason": "INC-4711 production outage",
                    "approvers": "heidi, ivan"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--clean", action="store_true", help="plant no finding")
    ap.add_argument("--bench", type=int, default=0, help="about N records, for the benchmark")
    ap.add_argument("--day", default="2026-12-05")
    ap.add_argument("--per-file", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    audit, trail, planted = build(a.out, a.clean, a.day, a.bench)
    audit.write(os.path.join(a.out, "audit.log"))
    files = trail.write(os.path.join(a.out, "trail"), a.per_file or (1000 if a.bench else None))
    with open(os.path.join(a.out, "planted.json"), "w") as f:
        json.dump({"planted": planted, "records": len(trail.records), "files": files,
                   "roles": ROLES}, f, indent=1, default=str)
    print("%d records in %d files, %d findings planted" % (len(trail.records), files,
                                                           len(planted)))


if __name__ == "__main__":
    main()
