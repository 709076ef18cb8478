#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_model.py: every request stsrole sends to AWS, checked against AWS's own service models.

moto accepts requests that real AWS refuses (it ignores unknown parameters, lengths and
patterns).  botocore ships AWS's service models (botocore/data/<service>/<version>/
service-2.json); this test holds what stsrole sends, and what its decoders accept, to them.

Requests.  tests/lib/mototest.py puts the stub's recording proxy (tests/stub/stsstub.py
--forward) in front of moto when STSROLE_CAPTURE names a directory, so the moto, gateway and
fleet suites leave every request they made in DIR/capture-*.jsonl.  tests/run sets it for those
suites and then runs this test on DIR.  Alone (no captures given), this test runs those suites
itself first, with fewer crash rounds.  Of the captured requests, those with stsrole's
User-Agent are checked:
  - the service, by the SigV4 credential scope, the X-Amz-Target or the Query Version;
  - the operation exists in the model, and every operation stsrole uses was seen;
  - protocol: Query Version = the model's apiVersion, Content-Type form-encoded; JSON
    Content-Type application/x-amz-json-<jsonVersion>, X-Amz-Target <targetPrefix>.<Op>;
  - parameters: names (nothing the model does not have), botocore's ParamValidator (required,
    types, minimums), and what it leaves out: maximum lengths and values, enums, patterns.
Answers.  Each answer shape the decoders accept is validated against the operation's output
shape: the stub's JSON AssumeRole answers (cases/*.json) and its IAM JSON answers, and the
JSON-protocol answers captured above.

Usage: test_model.py [CAPTURE_DIR]     One line per case, then "model: N passed, N failed".
"""
import glob
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from harness import Suite, check  # noqa: E402

try:
    import botocore.session
    import botocore.validate
except ImportError:  # pragma: no cover - the image's python3 has botocore
    botocore = None

# Every operation stsrole sends, by service (lib/mint.c, lib/iam.c, lib/ddb.c, lib/replay.c,
# lib/registry.c, lib/cwlogs.c).  A capture that lacks one fails: the flows no longer exercise it.
USED = {
    "sts": {"AssumeRole"},
    "iam": {"GetRolePolicy", "PutRolePolicy", "DeleteRolePolicy", "ListRolePolicies"},
    "dynamodb": {"PutItem", "GetItem", "DeleteItem", "UpdateItem", "Query", "Scan"},
    "logs": {"CreateLogStream", "PutLogEvents", "GetLogEvents"},
}
SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


def session():
    return botocore.session.get_session()


# -- the captured requests --------------------------------------------------------------------

def run_suites(cap):
    """The suites that talk to moto, with the recording proxy on."""
    env = dict(os.environ, STSROLE_CAPTURE=cap, GW_ROUNDS="2")
    build = env.get("STSROLE_BUILD", os.path.join(TOP, "build"))
    env.setdefault("STSROLECTL", os.path.join(build, "gateway", "stsrolectl"))
    for cmd in (["python3", os.path.join(TOP, "tests", "integration", "test_moto.py")],
                [os.path.join(TOP, "tests", "gateway", "run.sh")],
                [os.path.join(TOP, "tests", "fleet", "run.sh"), build]):
        print("# running %s with the recording proxy" % os.path.relpath(cmd[-1], TOP), flush=True)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=1800)


def load_captures(cap):
    recs = []
    for path in sorted(glob.glob(os.path.join(cap, "capture-*.jsonl"))):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                if r.get("kind") == "forward" and \
                        r.get("headers", {}).get("User-Agent", "").startswith("stsrole/"):
                    recs.append(r)
    return recs


def header(rec, name):
    for k, v in rec.get("headers", {}).items():
        if k.lower() == name.lower():
            return v
    return None


def identify(sess, rec):
    """(service, operation, params) of a captured request, or raises AssertionError."""
    auth = header(rec, "Authorization") or ""
    m = SCOPE.search(auth)
    check(m, "no SigV4 credential scope in %r" % auth[:80])
    scope_service = m.group(2)
    target = header(rec, "X-Amz-Target")
    body = rec.get("body", "")
    if target:
        prefix, _, op = target.partition(".")
        for svc in ("dynamodb", "logs"):
            model = sess.get_service_model(svc)
            if model.metadata["targetPrefix"] == prefix:
                want = "application/x-amz-json-%s" % model.metadata["jsonVersion"]
                check((header(rec, "Content-Type") or "").split(";")[0] == want,
                      "%s: Content-Type %r, the model says %s" % (target,
                                                                   header(rec, "Content-Type"),
                                                                   want))
                return svc, model, op, json.loads(body), scope_service
        raise AssertionError("X-Amz-Target %r names no service stsrole uses" % target)
    form = urllib.parse.parse_qs(body, keep_blank_values=True, strict_parsing=True)
    check(all(len(v) == 1 for v in form.values()), "a Query parameter repeats: %s" % body[:200])
    form = {k: v[0] for k, v in form.items()}
    check((header(rec, "Content-Type") or "").split(";")[0] ==
          "application/x-www-form-urlencoded", "Query call without a form Content-Type")
    op, version = form.pop("Action", None), form.pop("Version", None)
    for svc in ("sts", "iam"):
        model = sess.get_service_model(svc)
        if model.metadata["apiVersion"] == version:
            return svc, model, op, form, scope_service
    raise AssertionError("Query Version %r matches neither STS nor IAM" % version)


def query_params(shape, form, prefix=""):
    """The Query form decoded into the nested parameters the model describes (botocore's
    QuerySerializer in reverse): lists as Name.member.N, structures as Name.Member."""
    out = {}
    for name, member in shape.members.items():
        key = prefix + member.serialization.get("name", name)
        if member.type_name == "structure":
            sub = query_params(member, form, key + ".")
            if sub:
                out[name] = sub
        elif member.type_name == "list":
            items, n = [], 1
            while True:
                k = "%s.member.%d" % (key, n)
                if member.member.type_name == "structure":
                    sub = query_params(member.member, form, k + ".")
                    if not sub:
                        break
                    items.append(sub)
                elif k in form:
                    items.append(scalar(member.member, form.pop(k)))
                else:
                    break
                n += 1
            if items or (key + ".member") in form:
                out[name] = items
        elif key in form:
            out[name] = scalar(member, form.pop(key))
    return out


def scalar(shape, text):
    if shape.type_name in ("integer", "long"):
        return int(text) if re.fullmatch(r"-?\d+", text) else text
    if shape.type_name == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


def pattern_ok(pattern, value):
    """AWS patterns are Java regular expressions that match the whole value."""
    # Java's \u10000-\u10FFFF (supplementary planes) has no Python spelling in a class.
    py = pattern.replace("\\u10000-\\u10FFFF", "\\U00010000-\\U0010FFFF")
    try:
        return re.fullmatch(py, value, re.S) is not None
    except re.error:
        return True  # not expressible here; ParamValidator still checked the type


def limits(shape, value, path, errors):
    """What ParamValidator leaves out: max length/value, enums, patterns, unknown members."""
    meta = shape.metadata
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return
        for k, v in value.items():
            if k not in shape.members:
                errors.append("%s.%s: no such member in the model" % (path, k))
            else:
                limits(shape.members[k], v, "%s.%s" % (path, k), errors)
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            errors.append("%s: %d items, the model allows %d" % (path, len(value), meta["max"]))
        for i, v in enumerate(value):
            limits(shape.member, v, "%s[%d]" % (path, i), errors)
    elif shape.type_name == "map" and isinstance(value, dict):
        for k, v in value.items():
            limits(shape.key, k, "%s{%s}" % (path, k), errors)
            limits(shape.value, v, "%s{%s}" % (path, k), errors)
    elif shape.type_name == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            errors.append("%s: length %d, the model allows %d" % (path, len(value), meta["max"]))
        if shape.enum and value not in shape.enum:
            errors.append("%s: %r is not one of %s" % (path, value, shape.enum))
        if "pattern" in meta and not pattern_ok(meta["pattern"], value):
            errors.append("%s: %r does not match %s" % (path, value[:80], meta["pattern"]))
    elif shape.type_name in ("integer", "long") and isinstance(value, int):
        if "max" in meta and value > meta["max"]:
            errors.append("%s: %d, the model allows at most %d" % (path, value, meta["max"]))


def drop_nulls(v):
    """Real STS and IAM write an absent member as null in their JSON answers
    ("PackedPolicySize": null); the model's view of that is a member left out."""
    if isinstance(v, dict):
        return {k: drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [drop_nulls(x) for x in v]
    return v


def validate(shape, params, what):
    """botocore's ParamValidator, then limits(); raises AssertionError naming every fault."""
    params = drop_nulls(params)
    report = botocore.validate.ParamValidator().validate(params, shape)
    errors = [report.generate_report()] if report.has_errors() else []
    limits(shape, params, what, errors)
    check(not errors, "%s: %s" % (what, "; ".join(errors)))


# -- cases ------------------------------------------------------------------------------------

class World:
    def __init__(self, recs):
        self.recs = recs
        self.sess = session()
        self.seen = {}


def check_request(sess, r):
    """Holds one captured request to its service's model; returns (service, operation)."""
    svc, model, op, params, scope = identify(sess, r)
    want_scope = model.metadata.get("signingName", model.metadata["endpointPrefix"])
    check(scope == want_scope, "%s.%s signed for service %r, the model says %r"
          % (svc, op, scope, want_scope))
    check(op in model.operation_names, "%s has no operation %r" % (svc, op))
    opm = model.operation_model(op)
    if model.metadata["protocol"] == "query":
        form = dict(params)
        params = query_params(opm.input_shape, form)
        check(not form, "%s.%s: parameters the model does not have: %s"
              % (svc, op, sorted(form)))
    validate(opm.input_shape, params, "%s.%s" % (svc, op))
    return svc, op


def case_requests(w):
    check(w.recs, "no request with stsrole's User-Agent was captured")
    faults = []
    for r in w.recs:
        try:
            svc, op = check_request(w.sess, r)
            w.seen.setdefault(svc, {}).setdefault(op, 0)
            w.seen[svc][op] += 1
        except AssertionError as e:
            faults.append(str(e))
    check(not faults, "%d of %d requests break the model: %s"
          % (len(faults), len(w.recs), " | ".join(sorted(set(faults))[:6])))
    print("   %d requests: %s" % (len(w.recs), ", ".join(
        "%s.%s x%d" % (s, o, n) for s in sorted(w.seen) for o, n in sorted(w.seen[s].items()))))


def case_checker_refuses(w):
    """The checker itself refuses what AWS refuses (else a pass above would mean nothing)."""
    auth = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261205/us-east-1/%s/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)
    form = "application/x-www-form-urlencoded; charset=utf-8"
    sts = "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3A" \
          "role%2FR&RoleSessionName="
    bad = [
        ("sts", form, None, sts + "a+b"),                                   # pattern
        ("sts", form, None, sts + "ab&DurationSeconds=43201"),              # maximum
        ("sts", form, None, sts + "ab&Tags.member.1.Key=k"),                # required Value
        ("sts", form, None, sts + "ab&SessionName=x"),                      # unknown name
        ("iam", form, None, "Action=GetRolePolicy&Version=2010-05-08&RoleName=R"),  # required
        ("sts", form, None, "Action=AssumeRole&Version=2010-05-08&RoleName=R"),  # wrong scope
        ("dynamodb", "application/x-amz-json-1.0", "DynamoDB_20120810.PutItem",
         json.dumps({"TableName": "t", "Item": {}, "ReturnValues": "EVERYTHING"})),  # enum
        ("logs", "application/x-amz-json-1.0", "Logs_20140328.PutLogEvents",
         json.dumps({"logGroupName": "g", "logStreamName": "s", "logEvents": []})),  # ctype
        ("logs", "application/x-amz-json-1.1", "Logs_20140328.PutLogEvent",
         json.dumps({"logGroupName": "g"})),                                # no such operation
    ]
    for svc, ctype, target, body in bad:
        rec = {"headers": {"Authorization": auth % svc, "Content-Type": ctype}, "body": body}
        if target:
            rec["headers"]["X-Amz-Target"] = target
        try:
            check_request(w.sess, rec)
        except AssertionError:
            continue
        raise AssertionError("the checker accepted %s %s" % (target or svc, body[:120]))


def case_coverage(w):
    missing = ["%s.%s" % (s, o) for s, ops in sorted(USED.items()) for o in sorted(ops)
               if o not in w.seen.get(s, {})]
    check(not missing, "never captured, so never checked: %s" % ", ".join(missing))
    extra = ["%s.%s" % (s, o) for s, ops in sorted(w.seen.items()) for o in sorted(ops)
             if o not in USED.get(s, set())]
    check(not extra, "sent but not in this test's list of used operations: %s"
          % ", ".join(extra))


def case_json_answers(w):
    """The JSON-protocol answers stsrole decoded (DynamoDB, CloudWatch Logs)."""
    n = 0
    for r in w.recs:
        target = header(r, "X-Amz-Target")
        if not target or r.get("status") != 200:
            continue
        svc = "dynamodb" if target.startswith("DynamoDB_") else "logs"
        opm = w.sess.get_service_model(svc).operation_model(target.split(".", 1)[1])
        out = json.loads(r["response"] or "{}")
        if opm.output_shape is None:
            check(out == {}, "%s answer: a result where the model has none" % target)
        else:
            validate(opm.output_shape, out, "%s answer" % target)
        n += 1
    check(n, "no JSON-protocol answer was captured")
    print("   %d answers" % n)


def query_result(doc, op, fmt):
    """The <Op>Result of a Query API answer in its JSON form, checking the wrapper."""
    resp = doc.get(op + "Response")
    check(isinstance(resp, dict), "%s: no %sResponse" % (fmt, op))
    check(set(resp) <= {op + "Result", "ResponseMetadata"}, "%s: %s" % (fmt, sorted(resp)))
    return resp.get(op + "Result", {})


def case_stub_sts_answers(w):
    """Each success the stub serves for AssumeRole in JSON matches the model's output shape."""
    opm = w.sess.get_service_model("sts").operation_model("AssumeRole")
    n = 0
    for path in sorted(glob.glob(os.path.join(TOP, "tests", "stub", "cases", "*.json"))):
        case = json.load(open(path))
        steps = case.get("responses", [case])
        for st in steps:
            if st.get("status", 200) != 200 or "body_json" not in st:
                continue
            text = json.dumps(st["body_json"])
            if "AssumeRoleResponse" not in text or "Padding" in text:
                continue
            name = os.path.basename(path)
            # The stub's templates, filled as it fills them.
            text = re.sub(r'"\{\{=[A-Z_]+\}\}"', "1514869445", text)
            text = re.sub(r"\{\{[A-Z_]+\}\}", "x", text)
            try:
                validate(opm.output_shape, query_result(json.loads(text), "AssumeRole", name),
                         name)
                n += 1
            except AssertionError as e:
                # Cases that serve a malformed answer on purpose must fail here too.
                if "missing" not in name and "newline" not in name:
                    raise
    check(n >= 3, "only %d JSON AssumeRole answers found in the stub's cases" % n)
    print("   %d stub answers" % n)


def case_stub_iam_answers(w):
    """The stub's IAM answers in JSON (what real IAM sends to Accept: application/json) have
    the model's output shape inside <Op>Response/<Op>Result."""
    iam = w.sess.get_service_model("iam")
    proc = subprocess.Popen([sys.executable, os.path.join(TOP, "tests", "stub", "stsstub.py"),
                             "--port", "0", "--query-format", "json", "--exit-on-stdin-eof"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        r, _, _ = select.select([proc.stdout], [], [], 10)
        port = int(proc.stdout.readline().split()[1]) if r else 0
        check(port, "the stub did not start")
        auth = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261205/us-east-1/iam/aws4_request, "
                "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)
        doc = urllib.parse.quote(json.dumps({"Version": "2012-10-17", "Statement": []}))
        for op, extra in (("PutRolePolicy", "&PolicyName=p1&PolicyDocument=" + doc),
                          ("GetRolePolicy", "&PolicyName=p1"), ("ListRolePolicies", ""),
                          ("DeleteRolePolicy", "&PolicyName=p1")):
            body = ("Action=%s&Version=2010-05-08&RoleName=R%s" % (op, extra)).encode()
            req = urllib.request.Request("http://127.0.0.1:%d/" % port, data=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Authorization": auth,
                "X-Amz-Date": "20261205T000000Z", "Accept": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                check(resp.headers.get("Content-Type") == "application/json",
                      "%s: Content-Type %s" % (op, resp.headers.get("Content-Type")))
                out = query_result(json.loads(resp.read()), op, op)
            shape = iam.operation_model(op).output_shape
            validate(shape, out, "stub %s answer" % op) if shape is not None else \
                check(out == {}, "%s: a result where the model has none" % op)
    finally:
        proc.stdin.close()
        proc.wait(10)


def case_docs_no_instant_claim(w):
    """The deny is written when the call returns and AWS applies it shortly after: README and
    man pages must not promise "at once" (issue #13, point 9)."""
    bad = []
    for path in [os.path.join(TOP, "README.md")] + glob.glob(os.path.join(TOP, "man", "*.[0-9]")):
        for i, line in enumerate(open(path, encoding="utf-8"), 1):
            if re.search(r"\bat once\b", line, re.I):
                bad.append("%s:%d" % (os.path.relpath(path, TOP), i))
    check(not bad, "'at once' in %s" % ", ".join(bad))


def main():
    suite = Suite("model")
    if botocore is None:
        print("skipped: botocore is not installed (the image's python3 has it)")
        return 77
    cap = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("STSROLE_CAPTURE")
    tmp = None
    if not cap or not glob.glob(os.path.join(cap, "capture-*.jsonl")):
        if os.geteuid() != 0:
            print("skipped: no captures given, and the suites that make them need root")
            return 77
        tmp = cap = tempfile.mkdtemp(prefix="stsrole-model-")
        run_suites(cap)
    try:
        w = World(load_captures(cap))
        suite.case("every captured request matches the AWS model", case_requests, w)
        suite.case("the checker refuses requests AWS would refuse", case_checker_refuses, w)
        suite.case("every operation stsrole uses was captured", case_coverage, w)
        suite.case("JSON-protocol answers match the model's output shapes", case_json_answers, w)
        suite.case("the stub's JSON AssumeRole answers match the model", case_stub_sts_answers, w)
        suite.case("the stub's JSON IAM answers match the model", case_stub_iam_answers, w)
        suite.case("README and man pages promise no instant revocation",
                   case_docs_no_instant_claim, w)
    finally:
        if tmp is not None and not os.environ.get("MODEL_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
