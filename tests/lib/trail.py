# SPDX-License-Identifier: BSD-3-Clause
"""trail.py: CloudTrail records of a gateway test's credentials, and stsrolectl reconcile/report
over them (tests/breakglass, tests/multi).

A record follows AWS's documented shape (CloudTrail User Guide, "CloudTrail record contents" and
"CloudTrail userIdentity element"): userIdentity.type AssumedRole, its arn and principalId
naming the role session, sessionContext.sessionIssuer the role, sessionContext.sourceIdentity the
person; a refused call carries errorCode.  Each is written alone in a gzip JSON {"Records": [..]}
file under the key layout CloudTrail delivers to S3, as `aws s3 sync` leaves it:
AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json.gz
"""
import datetime
import gzip
import itertools
import json
import os

from gwlib import ctl

_unique = itertools.count(1)


def call(root, session_name, source_identity, role_arn, t, error_code=None):
    """One ec2:DescribeInstances by role session session_name of role_arn at epoch t (refused
    with error_code when given), written under root."""
    account, role = role_arn.split(":")[4], role_arn.split("/")[-1]
    when = datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc)
    n = next(_unique)
    rec = {
        "eventVersion": "1.09", "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
        "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2",
        "requestID": "req-%d-%d" % (t, n), "eventID": "ev-%s-%d-%d" % (session_name, t, n),
        "readOnly": True, "eventType": "AwsApiCall", "managementEvent": True,
        "recipientAccountId": account,
        "userIdentity": {
            "type": "AssumedRole", "principalId": "AROAEXAMPLE:%s" % session_name,
            "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (account, role, session_name),
            "accountId": account, "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": role_arn,
                                  "accountId": account, "userName": role},
                "attributes": {"creationDate": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "mfaAuthenticated": "false"},
                "sourceIdentity": source_identity}}}
    if error_code is not None:
        rec["errorCode"] = error_code
        rec["errorMessage"] = "You are not authorized to perform this operation."
    d = os.path.join(root, "AWSLogs", account, "CloudTrail", "us-east-1", when.strftime("%Y"),
                     when.strftime("%m"), when.strftime("%d"))
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "%s_CloudTrail_us-east-1_%s_%06d.json.gz" % (
        account, when.strftime("%Y%m%dT%H%MZ"), n))
    with gzip.open(path, "wb") as f:
        f.write(json.dumps({"Records": [rec]}).encode())


def reconcile(conf, audit, root):
    """stsrolectl reconcile of audit against the files under root: (exit, findings, stderr)."""
    rc, out, err = ctl(conf, "reconcile", "--audit", audit, "--dir", root, "--jsonl", "-")
    return rc, [json.loads(ln) for ln in out.splitlines() if ln.strip()], err


def report(conf, audit, root, html):
    """stsrolectl report --html of the same: (exit, the page's data, stderr); the data is the
    JSON the page draws (findings, sessions with their credentials and timelines)."""
    rc, out, err = ctl(conf, "report", "--audit", audit, "--dir", root, "--html", html)
    if rc != 0:
        return rc, None, err
    with open(html) as f:
        island = f.read().split('id="data">', 1)[1].split("</script>", 1)[0]
    return rc, json.loads(island), err
