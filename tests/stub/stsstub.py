#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""stsstub.py: a fault-injecting stand-in for AWS STS (AssumeRole), IAM, S3 and EC2 IMDSv2, for tests.

It shows what moto cannot: JSON answers, every AWS error class, throttling,
5xx, stalls, truncated/malformed/oversized bodies, redirects and TLS
failures.  Like duo_unix's mockduo, the request chooses the behaviour: the
role NAME in the POSTed RoleArn (arn:aws:iam::111122223333:role/<scenario>)
names a data file cases/<scenario>.json.  A name may carry a ".tag" suffix
("json-exp.tls"): the file is chosen by the part before ".", while sequence
counters and the log use the whole name, so concurrent tests stay apart.  An S3
request (signed for service s3) names its case by its bucket in the same way.

Usage:
  stsstub.py --port N [--tls CERT KEY] [--log FILE] [--cases DIR]
             [--imds-mode ok|no-token|bad-json|expired-soon|expired]
             [--redirect-to URL] [--exit-on-stdin-eof] [--verbose]

With --port 0 the kernel picks a free port; the first line on stdout is
always "PORT <n>", printed once the socket listens.  Only 127.0.0.1 is bound.

Standard library only.  Nothing here is secure: the credentials are fake.
"""

import argparse
import datetime
import email.utils
import gzip
import http.server
import json
import os
import re
import secrets
import select
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

ACCOUNT = "111122223333"
SILENT_CAP_S = 30  # a "silent" answer never holds a connection longer than this
MAX_REQUEST_BODY = 64 * 1024
OVERSIZE_BYTES = 1024 * 1024
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
IAM_ACTIONS = ("GetRolePolicy", "PutRolePolicy", "DeleteRolePolicy", "ListRolePolicies")
IAM_NAME_RE = re.compile(r"^[\w+=,.@-]{1,128}$")
FORMATS = ("auto", "json", "xml")
IMDS_INSTANCE_ID = "i-0123456789abcdef0"
IMDS_ROLE = "stub-instance-role"
IMDS_KEY_ID = "ASIASTUBIMDSKEY00001"
IMDS_SECRET = "stubImdsSecretKeyDoNotLeak0000000000001"
IMDS_TOKEN = "stubImdsSessionTokenDoNotLeak/AAAAAAAAAAAAAAAAAAAAAAAA=="
IMDS_MODES = ("ok", "no-token", "bad-json", "expired-soon", "expired")
SCENARIO_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SESSION_RE = re.compile(r"^[\w+=,.@-]{2,64}$")
AUTH_RE = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/,]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                     r"\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$")
S3_SCOPE_RE = re.compile(r"Credential=[^/,]+/\d{8}/[^/]+/s3/aws4_request")
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
# The stub bucket's one object: an (empty) CloudTrail file of 2026-12-05.
TRAIL_KEY = ("AWSLogs/%s/CloudTrail/us-east-1/2026/12/05/%s_CloudTrail_us-east-1_20261205T0000Z_"
             "stub.json.gz" % (ACCOUNT, ACCOUNT))


def iso(epoch):
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def exponent_form(epoch):
    """1514869445 -> "1.514869445E9", the way real STS (Java's Double) prints it."""
    digits = str(int(epoch))
    frac = digits[1:].rstrip("0") or "0"
    return "%s.%sE%d" % (digits[0], frac, len(digits) - 1)


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Log:
    """JSON Lines, one record per request, flushed at once so tests can read it while we run."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.fh = open(path, "a", encoding="utf-8") if path else None
        self.seq = 0

    def write(self, rec):
        with self.lock:
            self.seq += 1
            rec = dict(seq=self.seq, ts=round(time.time(), 3), **rec)
            if self.fh:
                self.fh.write(json.dumps(rec, sort_keys=True) + "\n")
                self.fh.flush()


class State:
    def __init__(self, args):
        self.args = args
        self.log = Log(args.log)
        self.lock = threading.Lock()
        self.counters = {}  # scenario key -> requests seen (for "sequence")
        self.imds_tokens = {}  # token -> expiry epoch
        self.iam = {}  # role name -> {policy name -> document}: the stub's IAM
        if args.iam_seed:
            with open(args.iam_seed, encoding="utf-8") as fh:
                self.iam = {r: dict(p) for r, p in json.load(fh).items()}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stsstub/1"

    def version_string(self):
        return self.server_version

    def date_time_string(self, timestamp=None):
        # The Date header shows the stub's clock, which a case may set off ours (clock_offset).
        return email.utils.formatdate((timestamp or time.time()) + getattr(self, "clock_offset", 0),
                                      usegmt=True)
    timeout = SILENT_CAP_S + 5  # an idle client cannot hold a thread forever

    # -- plumbing ---------------------------------------------------------

    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            sys.stderr.write("stsstub: " + (fmt % args) + "\n")

    def setup(self):
        super().setup()
        self.rec = {}

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            for _ in range(MAX_REQUEST_BODY):
                size = int(self.rfile.readline(64).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline(64)
                    return body
                body += self.rfile.read(size)
                self.rfile.readline(64)
                if len(body) > MAX_REQUEST_BODY:
                    raise ValueError("request body too large")
            raise ValueError("too many chunks")
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_REQUEST_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(n)

    def base_record(self, kind, body):
        return {
            "kind": kind,
            "client": self.client_address[0],
            "method": self.command,
            "path": self.path,
            "request_line": self.requestline,
            # An absolute-form request target or these headers mean a proxy was in the way.
            "via_proxy": self.path.startswith(("http://", "https://"))
            or any(h in self.headers for h in ("Via", "Proxy-Connection", "Forwarded")),
            "headers": {k: v for k, v in self.headers.items()},
            "body_len": len(body),
        }

    def send(self, status, body=b"", headers=None, content_type=None, request_id=True):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if request_id:
            self.send_header(self.request_id_header(),
                             self.rec.get("request_id", str(uuid.uuid4())))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def request_id_header(self):
        return "x-amz-request-id" if self.rec.get("kind") == "s3" else "x-amzn-RequestId"

    def finish_log(self, **extra):
        self.rec.update(extra)
        self.server.state.log.write(self.rec)

    # -- dispatch ---------------------------------------------------------

    def do_any(self):
        try:
            body = self.read_body()
        except (ValueError, OSError) as e:
            self.rec = {"kind": "bad", "method": self.command, "path": self.path}
            self.finish_log(status=400, error=str(e))
            self.close_connection = True
            self.send(400, "stub: %s\n" % e, content_type="text/plain")
            return
        path = urllib.parse.urlsplit(self.path).path
        if self.server.state.args.forward:
            self.rec = self.base_record("forward", body)
            return self.forward(body)
        if path.startswith("/latest/"):
            self.rec = self.base_record("imds", body)
            self.imds(path)
        elif path.startswith("/redirect-target"):
            # What a followed redirect would reach: it answers success whatever is asked,
            # so a client that follows redirects visibly "works" and the test catches it.
            self.rec = self.base_record("redirect-target", body)
            self.rec["request_id"] = str(uuid.uuid4())
            self.serve_case("json-exp", "redirect-target", "stub-session")
        elif S3_SCOPE_RE.search(self.headers.get("Authorization", "")):
            self.rec = self.base_record("s3", body)
            self.rec["request_id"] = uuid.uuid4().hex[:16].upper()
            self.s3(path)
        else:
            self.rec = self.base_record("sts", body)
            self.rec["request_id"] = str(uuid.uuid4())
            self.sts(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_any

    # -- forward: record each request and its answer, relay it to --forward --

    def forward(self, body):
        """A recording proxy: the request goes to the --forward server as it came (the same
        Host header, so a signature over it still verifies), and both sides are logged."""
        import http.client
        target = urllib.parse.urlsplit(self.server.state.args.forward)
        self.rec["body"] = body.decode("utf-8", "replace")
        hop = ("connection", "keep-alive", "transfer-encoding", "proxy-connection", "te",
               "upgrade", "content-length")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
        headers["Content-Length"] = str(len(body))
        try:
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            conn.request(self.command, self.path, body=body, headers=headers,
                         encode_chunked=False)
            r = conn.getresponse()
            data = r.read()
            rheaders = [(k, v) for k, v in r.getheaders() if k.lower() not in hop]
            status = r.status
            conn.close()
        except OSError as e:
            self.finish_log(status=502, error=str(e))
            return self.send(502, "stub: forward failed: %s\n" % e, content_type="text/plain",
                             request_id=False)
        ctype = dict((k.lower(), v) for k, v in rheaders).get("content-type", "")
        self.finish_log(status=status, response_content_type=ctype,
                        response=data[:MAX_REQUEST_BODY].decode("utf-8", "replace"))
        self.send_response(status)
        for k, v in rheaders:
            if k.lower() not in ("date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()
        return None

    # -- STS --------------------------------------------------------------

    def wants_json(self):
        """Real STS and IAM answer JSON when the request asks for it (Accept:
        application/json), XML otherwise; --query-format json|xml forces one (xml: as moto)."""
        fmt = self.server.state.args.query_format
        if fmt != "auto":
            return fmt == "json"
        return "application/json" in self.headers.get("Accept", "")

    def aws_error(self, status, code, message, kind="Sender", ns=STS_NS):
        if self.rec.get("kind") == "s3":
            # S3's error document: a bare <Error>, application/xml.
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
                    "<Message>%s</Message><RequestId>%s</RequestId></Error>\n"
                    % (code, xml_escape(message), self.rec["request_id"]))
            ctype = "application/xml"
        elif self.wants_json():
            # The Query API's error in JSON, as STS and IAM send it.
            body = json.dumps({"Error": {"Code": code, "Message": message, "Type": kind},
                               "RequestId": self.rec["request_id"]})
            ctype = "application/json"
        else:
            body = (
                '<ErrorResponse xmlns="%s">\n'
                "  <Error>\n    <Type>%s</Type>\n    <Code>%s</Code>\n"
                "    <Message>%s</Message>\n  </Error>\n"
                "  <RequestId>%s</RequestId>\n</ErrorResponse>\n"
                % (ns, kind, code, xml_escape(message), self.rec["request_id"])
            )
            ctype = "text/xml"
        self.finish_log(status=status, action="reject", error_code=code, error=message)
        self.send(status, body, content_type=ctype)

    def sts(self, body):
        # Checks the shape every real AssumeRole call has; a client that gets one of
        # these wrong is told so with an AWS-style 400 and the reason in the log.
        if self.command != "POST":
            return self.aws_error(400, "InvalidAction",
                                  "stub: STS wants POST, got %s" % self.command)
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return self.aws_error(
                400, "InvalidParameterValue", "stub: Content-Type must be "
                "application/x-www-form-urlencoded, got %r" % ctype)
        try:
            form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                         strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError) as e:
            return self.aws_error(400, "MalformedQueryString", "stub: bad form body: %s" % e)
        form = {k: v[0] if len(v) == 1 else v for k, v in form.items()}
        self.rec["form"] = {k: v for k, v in form.items() if k not in ("TokenCode",)}
        if form.get("Action") in IAM_ACTIONS:
            self.rec["kind"] = "iam"
            return self.iam(form)
        if form.get("Action") != "AssumeRole":
            return self.aws_error(400, "InvalidAction", "stub: Action must be AssumeRole, got %r"
                                  % form.get("Action"))
        if form.get("Version") != "2011-06-15":
            return self.aws_error(400, "InvalidParameterValue",
                                  "stub: Version must be 2011-06-15, got %r" % form.get("Version"))
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 Credential="):
            return self.aws_error(400, "IncompleteSignature",
                                  "stub: Authorization must start with "
                                  "'AWS4-HMAC-SHA256 Credential='")
        m = AUTH_RE.match(auth)
        if not m:
            return self.aws_error(400, "IncompleteSignature",
                                  "stub: Authorization is not Credential=KEY/DATE/REGION/sts/"
                                  "aws4_request, SignedHeaders=..., Signature=<64 hex>")
        key_id, _, region, service, signed, _ = m.groups()
        self.rec.update(auth_key_id=key_id, auth_region=region, auth_service=service,
                        signed_headers=signed)
        if service != "sts":
            return self.aws_error(400, "IncompleteSignature",
                                  "stub: credential scope service must be sts, got %r" % service)
        if "X-Amz-Date" not in self.headers:
            return self.aws_error(400, "IncompleteSignature", "stub: X-Amz-Date header missing")
        signed_set = signed.split(";")
        for h in ("host", "x-amz-date"):
            if h not in signed_set:
                return self.aws_error(400, "IncompleteSignature",
                                      "stub: SignedHeaders lacks %s" % h)
        token = self.headers.get("X-Amz-Security-Token")
        self.rec["has_security_token"] = token is not None
        if token is not None and "x-amz-security-token" not in signed_set:
            return self.aws_error(400, "IncompleteSignature",
                                  "stub: X-Amz-Security-Token sent but not signed")
        # A temporary key is useless without its token (AWS: InvalidClientTokenId).
        if key_id == IMDS_KEY_ID and token != IMDS_TOKEN:
            return self.aws_error(403, "InvalidClientTokenId",
                                  "stub: IMDS key used without its session token")
        session = form.get("RoleSessionName")
        self.rec["session_name"] = session
        if not isinstance(session, str) or not SESSION_RE.match(session):
            return self.aws_error(400, "ValidationError",
                                  "stub: RoleSessionName missing or invalid: %r" % session)
        arn = form.get("RoleArn")
        am = re.match(r"^arn:aws(?:-cn|-us-gov)?:iam::\d{12}:role/(?:[\w+=,.@-]+/)*"
                      r"([\w+=,.@-]{1,64})$", arn if isinstance(arn, str) else "")
        if not am:
            return self.aws_error(400, "ValidationError",
                                  "stub: RoleArn missing or not a role ARN: %r" % arn)
        # Role chaining: AssumeRole signed with a role session's credential (it carries a
        # session token) is capped at one hour, as real STS refuses it.
        dur = form.get("DurationSeconds")
        if token is not None and isinstance(dur, str) and dur.isdigit() and int(dur) > 3600:
            return self.aws_error(400, "ValidationError",
                                  "The requested DurationSeconds exceeds the 1 hour session "
                                  "limit for roles assumed by role chaining.")
        key = am.group(1)
        scenario = key.split(".", 1)[0]
        self.rec["scenario"] = key
        if not SCENARIO_RE.match(scenario):
            return self.aws_error(400, "ValidationError", "stub: bad scenario name %r" % scenario)
        self.serve_case(scenario, key, session)

    # -- S3 (ListObjectsV2 and GetObject, path style, as with an endpoint) --

    def s3(self, path):
        """Checks the shape of S3's SigV4 variant, then the bucket name (<scenario>[.tag])
        picks the case, as the role name does for STS."""
        if self.command != "GET":
            return self.aws_error(405, "MethodNotAllowed", "stub: S3 here answers GET only")
        m = AUTH_RE.match(self.headers.get("Authorization", ""))
        if not m:
            return self.aws_error(400, "AuthorizationHeaderMalformed",
                                  "stub: Authorization is not Credential=KEY/DATE/REGION/s3/"
                                  "aws4_request, SignedHeaders=..., Signature=<64 hex>")
        key_id, _, region, service, signed, _ = m.groups()
        signed_set = signed.split(";")
        token = self.headers.get("X-Amz-Security-Token")
        self.rec.update(auth_key_id=key_id, auth_region=region, auth_service=service,
                        signed_headers=signed, has_security_token=token is not None)
        sha = self.headers.get("x-amz-content-sha256")
        if sha is None or "x-amz-content-sha256" not in signed_set:
            return self.aws_error(400, "InvalidRequest", "stub: x-amz-content-sha256 missing or "
                                  "not signed")
        if sha != EMPTY_SHA256:
            return self.aws_error(400, "XAmzContentSHA256Mismatch",
                                  "stub: a GET's payload hash is the empty string's")
        for h in ("host", "x-amz-date") + (("x-amz-security-token",) if token else ()):
            if h not in signed_set:
                return self.aws_error(400, "AccessDenied", "stub: SignedHeaders lacks %s" % h)
        parts = urllib.parse.unquote(path).lstrip("/").split("/", 1)
        bucket = parts[0]
        self.s3_key = parts[1] if len(parts) > 1 else None
        self.s3_query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        self.rec.update(scenario=bucket, s3_key=self.s3_key)
        scenario = bucket.split(".", 1)[0]
        if not SCENARIO_RE.match(scenario):
            return self.aws_error(400, "InvalidBucketName", "stub: bad bucket %r" % bucket)
        self.serve_case(scenario, bucket, None)

    def s3_bucket(self):
        """The stub bucket (action "bucket"): one empty CloudTrail file, TRAIL_KEY."""
        trail = gzip.compress(b'{"Records":[]}', mtime=0)
        if self.s3_key is None:
            if self.s3_query.get("list-type") != ["2"]:
                return self.aws_error(400, "InvalidArgument", "stub: ListObjectsV2 only")
            prefix = self.s3_query.get("prefix", [""])[0]
            hit = TRAIL_KEY.startswith(prefix)
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3'
                    '.amazonaws.com/doc/2006-03-01/"><Name>%s</Name><Prefix>%s</Prefix>'
                    "<KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false"
                    "</IsTruncated>%s</ListBucketResult>\n"
                    % (xml_escape(self.rec["scenario"]), xml_escape(prefix), int(hit),
                       "<Contents><Key>%s</Key><Size>%d</Size></Contents>"
                       % (TRAIL_KEY, len(trail)) if hit else ""))
            self.finish_log(status=200, action="bucket", s3_op="list")
            return self.send(200, body, content_type="application/xml")
        if self.s3_key != TRAIL_KEY:
            return self.aws_error(404, "NoSuchKey", "The specified key does not exist.")
        self.finish_log(status=200, action="bucket", s3_op="get")
        return self.send(200, trail, content_type="application/octet-stream")

    # -- IAM (the inline-policy calls the gateway makes) -------------------

    def iam(self, form):
        auth = self.headers.get("Authorization", "")
        m = AUTH_RE.match(auth)
        if not m:
            return self.aws_error(400, "IncompleteSignature", "stub: bad Authorization",
                                  ns=IAM_NS)
        self.rec.update(auth_key_id=m.group(1), auth_region=m.group(3),
                        auth_service=m.group(4))
        if m.group(4) != "iam":
            return self.aws_error(400, "IncompleteSignature", "stub: credential scope service "
                                  "must be iam, got %r" % m.group(4), ns=IAM_NS)
        if form.get("Version") != "2010-05-08":
            return self.aws_error(400, "InvalidParameterValue",
                                  "stub: Version must be 2010-05-08", ns=IAM_NS)
        action, role = form["Action"], form.get("RoleName", "")
        name = form.get("PolicyName")
        if not isinstance(role, str) or not IAM_NAME_RE.match(role) or len(role) > 64:
            return self.aws_error(400, "ValidationError", "stub: bad RoleName", ns=IAM_NS)
        st = self.server.state
        if action in ("PutRolePolicy", "DeleteRolePolicy") and st.args.iam_write_delay_ms > 0:
            # IAM's own latency, outside the lock: concurrent writes overlap as at AWS.
            time.sleep(st.args.iam_write_delay_ms / 1000.0)
        with st.lock:
            policies = st.iam.setdefault(role, {})
            if action == "ListRolePolicies":
                result = {"PolicyNames": sorted(policies), "IsTruncated": False}
            elif not isinstance(name, str) or not IAM_NAME_RE.match(name):
                return self.aws_error(400, "ValidationError", "stub: bad PolicyName", ns=IAM_NS)
            elif action == "PutRolePolicy":
                doc = form.get("PolicyDocument")
                try:
                    json.loads(doc)
                except (TypeError, ValueError):
                    return self.aws_error(400, "MalformedPolicyDocument",
                                          "stub: PolicyDocument is not JSON", ns=IAM_NS)
                policies[name] = doc
                result = None
            elif name not in policies:
                return self.aws_error(404, "NoSuchEntity", "The role policy with name %s cannot "
                                      "be found." % name, ns=IAM_NS)
            elif action == "DeleteRolePolicy":
                del policies[name]
                result = None
            else:
                # IAM URL-encodes the document in its answer, in JSON and in XML.
                result = {"RoleName": role, "PolicyName": name,
                          "PolicyDocument": urllib.parse.quote(policies[name], safe="")}
        self.iam_reply(action, result)

    def iam_reply(self, action, result):
        rid = self.rec["request_id"]
        if self.wants_json():
            doc = {action + "Response": {"ResponseMetadata": {"RequestId": rid}}}
            if result is not None:
                doc[action + "Response"][action + "Result"] = result
            body, ctype = json.dumps(doc), "application/json"
        else:
            inner = ""
            if result is not None:
                for k, v in result.items():
                    if isinstance(v, list):
                        v = "".join("<member>%s</member>" % xml_escape(x) for x in v)
                    elif isinstance(v, bool):
                        v = "true" if v else "false"
                    else:
                        v = xml_escape(v)
                    inner += "<%s>%s</%s>" % (k, v, k)
                inner = "<%sResult>%s</%sResult>" % (action, inner, action)
            body = ('<%sResponse xmlns="%s">%s<ResponseMetadata><RequestId>%s</RequestId>'
                    "</ResponseMetadata></%sResponse>\n" % (action, IAM_NS, inner, rid, action))
            ctype = "text/xml"
        self.finish_log(status=200, action="reply", response=body[:4096])
        self.send(200, body, content_type=ctype)

    def load_case(self, scenario):
        path = os.path.join(self.server.state.args.cases, scenario + ".json")
        try:
            with open(path, encoding="utf-8") as fh:
                return json.load(fh)
        except FileNotFoundError:
            return None

    def serve_case(self, scenario, key, session):
        case = self.load_case(scenario)
        if case is None:
            return self.aws_error(400, "ValidationError",
                                  "stub: no case file for scenario %r" % scenario)
        if "clock_offset" in case:
            # AWS's clock is clock_offset seconds from ours: a signature more than 5 minutes
            # off it is refused as real STS refuses it, with that clock in the Date header.
            self.clock_offset = int(case["clock_offset"])
            aws_now = time.time() + self.clock_offset
            try:
                signed = datetime.datetime.strptime(self.headers.get("X-Amz-Date", ""),
                                                    "%Y%m%dT%H%M%SZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
            except ValueError:
                return self.aws_error(400, "IncompleteSignature", "stub: bad X-Amz-Date")
            self.rec["signed_off_s"] = int(signed - aws_now)
            if abs(signed - aws_now) > 300:
                fmt = "%Y%m%dT%H%M%SZ"
                t = lambda e: datetime.datetime.fromtimestamp(  # noqa: E731
                    e, datetime.timezone.utc).strftime(fmt)
                if case.get("skew_code") == "RequestTimeTooSkewed":
                    msg = "The difference between the request time and the current time is " \
                          "too large."
                elif signed < aws_now:
                    msg = "Signature expired: %s is now earlier than %s (%s - 5 min.)" % (
                        t(signed), t(aws_now - 300), t(aws_now))
                else:
                    msg = "Signature not yet current: %s is still later than %s (%s + 5 min.)" % (
                        t(signed), t(aws_now + 300), t(aws_now))
                return self.aws_error(403, case.get("skew_code", "SignatureDoesNotMatch"), msg)
            case = self.load_case(case["then"])
        if case.get("action") == "sequence":
            st = self.server.state
            with st.lock:
                n = st.counters.get(key, 0)
                st.counters[key] = n + 1
            steps = case["responses"]
            self.rec["sequence_step"] = n
            case = steps[min(n, len(steps) - 1)]
        self.respond(case, key, session)

    def render(self, case, key, session):
        now = int(time.time())
        exp = now + int(case.get("expires_in", 3600))
        vals = {
            "EXP_EPOCH": str(exp),
            "EXP_E": exponent_form(exp),
            "EXP_ISO": iso(exp),
            "NOW_ISO": iso(now),
            "REQUEST_ID": self.rec.get("request_id", ""),
            "ROLE": key,
            "SESSION": session,
            "ACCOUNT": ACCOUNT,
        }
        self.rec["expiration_epoch"] = exp
        if "body_json" in case:
            text = json.dumps(case["body_json"], indent=1)
            # "{{=NAME}}" as a whole JSON string becomes the bare value (a JSON number).
            text = re.sub(r'"\{\{=([A-Z_]+)\}\}"', lambda m: vals[m.group(1)], text)
        else:
            body = case.get("body", "")
            text = "".join(body) if isinstance(body, list) else body
        return re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: vals[m.group(1)], text)

    def respond(self, case, key, session):
        action = case.get("action", "reply")
        status = int(case.get("status", 302 if action == "redirect" else 200))
        headers = case.get("headers", {})
        ctype = case.get("content_type")
        self.rec["action"] = action
        if action == "silent":
            self.finish_log(status=None)
            return self.silent()
        if action == "bucket":
            return self.s3_bucket()
        if action == "redirect":
            own = "%s://127.0.0.1:%d" % (self.server.scheme, self.server.server_address[1])
            target = self.server.state.args.redirect_to or own + "/redirect-target/"
            self.finish_log(status=status, location=target)
            return self.send(status, "", headers={"Location": target, **headers})
        body = self.render(case, key, session).encode()
        if action == "oversize":
            # Valid JSON success that is merely too big: only a size cap can refuse it.
            pad = b" " * max(0, OVERSIZE_BYTES - len(body))
            body = body.rstrip()[:-1] + b', "Padding": "' + pad + b'"}'
            self.finish_log(status=status, body_len_sent=len(body))
            return self.send(status, body, headers, ctype)
        if action == "truncate":
            claimed = len(body) + int(case.get("missing_bytes", 512))
            self.finish_log(status=status, body_len_sent=len(body), content_length=claimed)
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header(self.request_id_header(), self.rec["request_id"])
            self.send_header("Content-Length", str(claimed))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            return None
        self.finish_log(status=status, response=body[:4096].decode(errors="replace"))
        return self.send(status, body, headers, ctype)

    def silent(self):
        """Accepts and says nothing until the client gives up, at most SILENT_CAP_S."""
        self.close_connection = True
        sock = self.connection
        deadline = time.monotonic() + SILENT_CAP_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                if isinstance(sock, ssl.SSLSocket) and sock.pending():
                    sock.recv(4096)
                    continue
                r, _, _ = select.select([sock], [], [], min(left, 1.0))
                if r and not sock.recv(4096):
                    return  # the client closed: it gave up
            except (OSError, ssl.SSLError):
                return

    # -- IMDSv2 -----------------------------------------------------------

    def imds(self, path):
        st = self.server.state
        mode = st.args.imds_mode
        txt = "text/plain"
        if path == "/latest/api/token":
            if self.command != "PUT":
                self.finish_log(status=405)
                return self.send(405, "", request_id=False)
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            # IMDS refuses token requests that look forwarded (a proxy or a confused deputy).
            if "X-Forwarded-For" in self.headers:
                self.finish_log(status=403, error="X-Forwarded-For on token PUT")
                return self.send(403, "", request_id=False)
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                self.finish_log(status=400, error="bad or missing ttl header %r" % ttl)
                return self.send(400, "", request_id=False)
            if mode == "no-token":
                self.finish_log(status=403, imds_mode=mode)
                return self.send(403, "", request_id=False)
            tok = secrets.token_urlsafe(32)
            with st.lock:
                st.imds_tokens[tok] = time.time() + int(ttl)
            self.finish_log(status=200, imds="token")
            return self.send(200, tok, {"X-aws-ec2-metadata-token-ttl-seconds": ttl}, txt,
                             request_id=False)
        tok = self.headers.get("X-aws-ec2-metadata-token")
        with st.lock:
            valid = tok is not None and st.imds_tokens.get(tok, 0) > time.time()
        self.rec["imds_token_ok"] = valid
        if self.command != "GET":
            self.finish_log(status=405)
            return self.send(405, "", request_id=False)
        if not valid:
            # IMDSv2-only instances answer 401 to requests without a valid token.
            self.finish_log(status=401)
            return self.send(401, "", request_id=False)
        base = "/latest/meta-data/iam/security-credentials/"
        if path == "/latest/meta-data/instance-id":
            self.finish_log(status=200, imds="instance-id")
            return self.send(200, IMDS_INSTANCE_ID, None, txt, request_id=False)
        if path == base:
            self.finish_log(status=200, imds="list")
            return self.send(200, IMDS_ROLE, None, txt, request_id=False)
        if path != base + IMDS_ROLE:
            self.finish_log(status=404)
            return self.send(404, "", request_id=False)
        now = int(time.time())
        exp = {"expired-soon": now + 30, "expired": now - 600}.get(mode, now + 6 * 3600)
        doc = json.dumps({
            "Code": "Success",
            "LastUpdated": iso(now - 60),
            "Type": "AWS-HMAC",
            "AccessKeyId": IMDS_KEY_ID,
            "SecretAccessKey": IMDS_SECRET,
            "Token": IMDS_TOKEN,
            "Expiration": iso(exp),
        }, indent=2)
        if mode == "bad-json":
            doc = doc[: len(doc) // 2]
        self.finish_log(status=200, imds="credentials", imds_mode=mode, expiration_epoch=exp)
        return self.send(200, doc, None, txt, request_id=False)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, state, ssl_ctx):
        self.state = state
        self.ssl_ctx = ssl_ctx
        self.scheme = "https" if ssl_ctx else "http"
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ssl_ctx:
            # The handshake runs in the handler thread (on first read), so a stalled
            # or refusing client never blocks accept().
            sock = self.ssl_ctx.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, socket.timeout, TimeoutError)):
            # Expected when a client (rightly) refuses our certificate or hangs up.
            self.state.log.write({"kind": "transport", "client": client_address[0],
                                  "error": "%s: %s" % (type(exc).__name__, exc)})
            return
        super().handle_error(request, client_address)


def main():
    p = argparse.ArgumentParser(description="fault-injecting STS / IMDSv2 stub for tests")
    p.add_argument("--port", type=int, required=True, help="0 picks a free port")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--log", help="append one JSON line per request here")
    p.add_argument("--cases", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "cases"))
    p.add_argument("--imds-mode", choices=IMDS_MODES, default="ok")
    p.add_argument("--query-format", choices=FORMATS, default="auto",
                   help="IAM answers and STS/IAM errors: JSON when asked with Accept: "
                   "application/json (auto, as AWS does), or always json or xml (as moto)")
    p.add_argument("--forward", metavar="URL",
                   help="record every request and its answer in the log, and relay it to URL")
    p.add_argument("--iam-seed", help="JSON {role: {policy name: document}} to start IAM with")
    p.add_argument("--iam-write-delay-ms", type=int, default=0,
                   help="each PutRolePolicy and DeleteRolePolicy answers this much later, as a "
                   "stand-in for IAM's latency (answers to concurrent calls overlap)")
    p.add_argument("--redirect-to", help="Location for the redirect case "
                   "(default: this server's /redirect-target/)")
    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="exit when stdin closes, so a dying test never leaves us behind")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()

    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.tls[0], args.tls[1])

    srv = Server(("127.0.0.1", args.port), State(args), ctx)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.exit_on_stdin_eof:
        def watch():
            for _ in iter(lambda: sys.stdin.buffer.read(4096), b""):
                pass
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    sys.stdout.write("PORT %d\n" % srv.server_address[1])
    sys.stdout.flush()
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
