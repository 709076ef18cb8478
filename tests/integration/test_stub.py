#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_stub.py: drives `stsrolectl assume` against the fault-injecting STS/IMDSv2 stub.

Each case starts from what a user would notice: the exit code, the one-line
error on stderr, the credential_process JSON on stdout, and what went over
the wire (the stub's JSON Lines log: attempts, headers, proxies, redirects).

Environment:
  STSROLECTL  the CLI to test (default: <top>/build/gateway/stsrolectl)
  STUB_JOBS   cases run at once (default 4; most time is spent waiting)
  STSROLE_KEEP_TMP=1  keep the work directory (configs, certs, logs)
  STUB_ONLY   comma-separated case names to run (others are not listed)

Output: "ok - NAME", "not ok - NAME: why" or "skip - NAME: why" per case,
then "stub: N passed, M failed".  Exit 1 if any case failed, 77 if none
could run.
"""

import atexit
import concurrent.futures
import datetime
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STUB = os.path.join(TOP, "tests", "stub", "stsstub.py")
MKCERTS = os.path.join(TOP, "tests", "stub", "mkcerts.sh")
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from harness import Skip, Suite, free_port, keep_tmp  # noqa: E402

CLI = os.path.abspath(os.environ.get("STSROLECTL") or
                      os.path.join(TOP, "build", "gateway", "stsrolectl"))

# stsrolectl's exit codes (sysexits.h), the contract this test holds it to.
EX_OK, EX_USAGE, EX_DATAERR, EX_UNAVAILABLE = 0, 64, 65, 69
EX_PROTOCOL, EX_NOPERM, EX_CONFIG = 76, 77, 78

ACCOUNT = "111122223333"
BASE_KEY_ID = "AKIASTUBBASEKEY00001"
BASE_SECRET = "stubBaseSecretDoNotLeak/000000000000000"
# Every secret the stub hands out, and the base secret, contains this marker.
SECRET_MARK = "DoNotLeak"
IMDS_KEY_ID = "ASIASTUBIMDSKEY00001"
RUN_TIMEOUT = 60   # a CLI run that takes longer is killed and fails
GIVE_UP_BOUND = 40  # retries, stalls: the CLI must give up within this (its deadline is 30 s)
TLS_WORDS = ("tls", "ssl", "certificate", "cert")
IMDS_WORDS = ("imds", "metadata", "instance")


class Fail(AssertionError):
    pass


# -- stub servers -----------------------------------------------------------

class Stub:
    """One stsstub.py process; it dies with us (stdin EOF) even if we are killed."""

    live = []

    def __init__(self, work, name, *args):
        self.log = os.path.join(work, "stub-%s.jsonl" % name)
        open(self.log, "w").close()
        self.proc = subprocess.Popen(
            [sys.executable, STUB, "--port", "0", "--log", self.log, "--exit-on-stdin-eof"]
            + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        Stub.live.append(self)
        r, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline() if r else ""
        m = re.match(r"^PORT (\d+)$", line.strip())
        if not m:
            self.stop()
            raise RuntimeError("stub %s did not start (got %r)" % (name, line))
        self.port = int(m.group(1))

    def url(self, scheme="http", host="127.0.0.1"):
        return "%s://%s:%d" % (scheme, host, self.port)

    def records(self, **match):
        out = []
        with open(self.log, encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                if all(rec.get(k) == v for k, v in match.items()):
                    out.append(rec)
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def stop_all():
    for s in Stub.live:
        s.stop()


dead_port = free_port  # nothing listens there: a proxy there refuses every connection


# -- the environment every case shares --------------------------------------

class Env:
    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="stsrole-stub-")
        self.certs = None
        self.cert_error = None
        self.stubs = {}
        self.n = 0

    def setup(self):
        target = Stub(self.work, "redirect-target")
        self.stubs["target"] = target
        self.stubs["plain"] = Stub(self.work, "plain", "--redirect-to",
                                   target.url() + "/redirect-target/")
        certs = os.path.join(self.work, "certs")
        if shutil.which("openssl") is None:
            self.cert_error = "openssl not found"
            return
        r = subprocess.run(["sh", MKCERTS, certs], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            self.cert_error = "mkcerts.sh failed: " + r.stderr.strip()[-200:]
            return
        self.certs = certs
        for name, cert in (("tls-good", "server"), ("tls-self", "selfsigned"),
                           ("tls-wrong", "wronghost")):
            self.stubs[name] = Stub(self.work, name, "--tls",
                                    os.path.join(certs, cert + ".pem"),
                                    os.path.join(certs, cert + ".key"))

    def stub(self, name):
        return self.stubs[name]

    def tls(self, name):
        if self.certs is None:
            raise Skip(self.cert_error)
        return self.stubs[name]

    def key(self, scenario, case):
        """A role name unique to one case: its own log lines and sequence counter."""
        return ("%s.%s" % (scenario, re.sub(r"[^A-Za-z0-9]", "", case)))[:64]

    def conf(self, case, endpoint, role_key, credentials="env", imds=None, ca=None,
             mode=0o600, extra="", role_extra="", bastion="test-bastion"):
        lines = ["[stsrole]", "region = us-east-1", "sts_endpoint = " + endpoint,
                 "credentials = " + credentials]
        if imds:
            lines.append("imds_endpoint = " + imds)
        if ca:
            lines.append("ca_file = " + ca)
        # stsrolectl assume records what it mints in the audit log (or through the gateway)
        lines += ["timeout = 3", "audit_log = " + os.path.join(self.work, case + ".audit.log")]
        if bastion is not None:
            lines.append("bastion_id = " + bastion)
        if extra:
            lines.append(extra)
        lines += ["", "[role target]", "arn = arn:aws:iam::%s:role/%s" % (ACCOUNT, role_key),
                  "users = alice"] + ([role_extra] if role_extra else []) + [""]
        path = os.path.join(self.work, case + ".conf")
        with open(path, "w") as fh:
            fh.write("\n".join(lines))
        os.chmod(path, mode)
        return path


class Result:
    def __init__(self, rc, out, err, secs):
        self.rc, self.out, self.err, self.secs = rc, out, err, secs

    def brief(self):
        return "exit %s after %.1fs, stderr %r" % (self.rc, self.secs, self.err[:300])


def run_cli(args, env_extra=None, base_creds=True):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C",
           "HOME": "/nonexistent"}
    if base_creds:
        env.update(AWS_ACCESS_KEY_ID=BASE_KEY_ID, AWS_SECRET_ACCESS_KEY=BASE_SECRET)
    # Keep the ASan/UBSan settings of a sanitizer build, nothing else of ours.
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(env_extra or {})
    t0 = time.monotonic()
    try:
        p = subprocess.run([CLI] + args, env=env, capture_output=True, text=True,
                           timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise Fail("stsrolectl did not finish within %d s" % RUN_TIMEOUT)
    except OSError as e:
        raise Fail("cannot run %s: %s" % (CLI, e.strerror))
    return Result(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def assume(conf, **kw):
    return run_cli(["assume", "--config", conf, "--role", "target", "--user", "alice"], **kw)


# -- assertions -------------------------------------------------------------

def iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def no_leak(res):
    if SECRET_MARK in res.err or BASE_SECRET in res.err:
        raise Fail("stderr contains a secret: %r" % res.err[:300])


def expect_success(res, stub, key, key_id):
    """credential_process JSON with the served credential; Expiration equals the served epoch."""
    no_leak(res)
    if res.rc != EX_OK:
        raise Fail("expected exit 0, got " + res.brief() + stub_said(stub, key))
    try:
        doc = json.loads(res.out)
    except ValueError:
        raise Fail("stdout is not JSON: %r" % res.out[:200])
    if not isinstance(doc, dict):
        raise Fail("stdout is not a JSON object")
    if doc.get("Version") != 1:
        raise Fail("Version is %r, want 1" % doc.get("Version"))
    if doc.get("AccessKeyId") != key_id:
        raise Fail("AccessKeyId %r, want %r" % (doc.get("AccessKeyId"), key_id))
    for field, prefix in (("SecretAccessKey", "stubSecret"), ("SessionToken", "stubToken")):
        v = doc.get(field)
        if not isinstance(v, str) or not v.startswith(prefix + SECRET_MARK + "/"):
            raise Fail("%s is not the served one" % field)
    served = [r for r in stub.records(kind="sts", scenario=key) if r.get("status") == 200]
    if not served:
        raise Fail("the stub never served a success for " + key)
    want = iso(served[-1]["expiration_epoch"])
    if doc.get("Expiration") != want:
        raise Fail("Expiration %r, want %r (the served epoch %d)"
                   % (doc.get("Expiration"), want, served[-1]["expiration_epoch"]))
    return doc


def expect_failure(res, code, words=None, stub=None, key=None):
    """Exit code, nothing on stdout, one 'stsrolectl: ' line on stderr, no secret anywhere."""
    no_leak(res)
    codes = code if isinstance(code, tuple) else (code,)
    if res.rc not in codes:
        raise Fail("expected exit %s, got %s" % ("/".join(map(str, codes)), res.brief())
                   + stub_said(stub, key))
    if res.out.strip():
        raise Fail("stdout is not empty on failure: %r" % res.out[:200])
    lines = res.err.rstrip("\n").split("\n")
    if len(lines) != 1 or not lines[0].startswith("stsrolectl: "):
        raise Fail("stderr is not one 'stsrolectl: ' line: %r" % res.err[:300])
    if words and not any(w in lines[0].lower() for w in words):
        raise Fail("error does not mention %s: %r" % ("/".join(words), lines[0]))


def stub_said(stub, key):
    """When the stub rejected the request itself, say why: it is usually the real cause."""
    if stub is None or key is None:
        return ""
    rej = [r for r in stub.records(kind="sts", scenario=key) if r.get("action") == "reject"]
    if not rej:
        rej = [r for r in stub.records(kind="sts", action="reject")]
    return "; stub rejected the request: %s" % rej[-1]["error"] if rej else ""


def attempts(stub, key):
    return len(stub.records(kind="sts", scenario=key))


# -- cases ------------------------------------------------------------------

CASES = []


def case(fn):
    CASES.append((fn.__name__.replace("_", "-"), fn))
    return fn


def simple(env, name, scenario):
    stub = env.stub("plain")
    key = env.key(scenario, name)
    return stub, key, assume(env.conf(name, stub.url(), key))


@case
def cli_help(env):
    res = run_cli(["--help"])
    text = (res.out + res.err).lower()
    if res.rc != 0 or "usage" not in text or "assume" not in text:
        raise Fail("`stsrolectl --help` should exit 0 and print usage naming 'assume'; "
                   + res.brief())


def expect_usage(res):
    """Exit 64 with a usage text on stderr (the one-line rule is for operational errors)."""
    no_leak(res)
    if res.rc != EX_USAGE:
        raise Fail("expected exit 64, got " + res.brief())
    if res.out.strip():
        raise Fail("stdout is not empty on a usage error: %r" % res.out[:200])
    if "usage" not in res.err.lower():
        raise Fail("stderr does not show the usage: %r" % res.err[:300])


@case
def usage_no_args(env):
    expect_usage(run_cli([]))


@case
def usage_assume_without_role(env):
    stub = env.stub("plain")
    conf = env.conf("usage-assume-without-role", stub.url(), "json-exp.unused")
    expect_usage(run_cli(["assume", "--config", conf, "--user", "alice"]))


@case
def config_world_writable(env):
    stub = env.stub("plain")
    key = env.key("json-exp", "config-world-writable")
    res = assume(env.conf("config-world-writable", stub.url(), key, mode=0o666))
    expect_failure(res, EX_CONFIG)
    if attempts(stub, key):
        raise Fail("an unsafe config was used to call STS")


@case
def config_group_writable(env):
    stub = env.stub("plain")
    key = env.key("json-exp", "config-group-writable")
    expect_failure(assume(env.conf("config-group-writable", stub.url(), key, mode=0o620)),
                   EX_CONFIG)


@case
def config_missing(env):
    expect_failure(assume(os.path.join(env.work, "no-such.conf")), EX_CONFIG)


@case
def config_http_not_loopback(env):
    # Plain http is allowed only on loopback (design: interfaces); 192.0.2.1 is TEST-NET-1.
    res = assume(env.conf("config-http-not-loopback", "http://192.0.2.1:80", "json-exp.x"))
    expect_failure(res, EX_CONFIG)


@case
def json_exponent_success(env):
    stub, key, res = simple(env, "json-exponent-success", "json-exp")
    expect_success(res, stub, key, "ASIASTUBJSONEXP00001")
    rec = stub.records(kind="sts", scenario=key)
    if len(rec) != 1:
        raise Fail("%d requests for one success, want 1" % len(rec))
    accept = rec[0]["headers"].get("Accept", "")
    if "application/json" not in accept:
        raise Fail("Accept was %r, want application/json" % accept)
    if rec[0]["via_proxy"]:
        raise Fail("the request came through a proxy")


@case
def json_integer_success(env):
    stub, key, res = simple(env, "json-integer-success", "json-int")
    expect_success(res, stub, key, "ASIASTUBJSONINT00001")


@case
def xml_success(env):
    stub, key, res = simple(env, "xml-success", "xml-ok")
    expect_success(res, stub, key, "ASIASTUBXMLOK0000001")


@case
def request_shape(env):
    # The design's audit join: SourceIdentity = the person, RoleSessionName names the
    # person and the bastion (CloudTrail shows both).
    stub, key, res = simple(env, "request-shape", "json-exp")
    expect_success(res, stub, key, "ASIASTUBJSONEXP00001")
    form = stub.records(kind="sts", scenario=key)[-1]["form"]
    if form.get("SourceIdentity") != "alice":
        raise Fail("SourceIdentity is %r, want 'alice'" % form.get("SourceIdentity"))
    sess = form.get("RoleSessionName", "")
    if "alice" not in sess or "test-bastion" not in sess:
        raise Fail("RoleSessionName %r should name alice and test-bastion" % sess)


def error_case(env, name, scenario, code, tries, words=None):
    stub, key, res = simple(env, name, scenario)
    expect_failure(res, code, words, stub, key)
    n = attempts(stub, key)
    lo, hi = tries
    if not lo <= n <= hi:
        raise Fail("%d attempts, want %d..%d" % (n, lo, hi))
    return res, n


@case
def access_denied(env):
    error_case(env, "access-denied", "access-denied", EX_NOPERM, (1, 1))


@case
def access_denied_json(env):
    error_case(env, "access-denied-json", "denied-json", EX_NOPERM, (1, 1))


@case
def validation_error(env):
    error_case(env, "validation-error", "validation", EX_DATAERR, (1, 1))


@case
def expired_token(env):
    error_case(env, "expired-token", "expired-token", EX_NOPERM, (1, 2))


def gives_up(env, name, scenario):
    res, n = error_case(env, name, scenario, EX_UNAVAILABLE, (2, 10))
    if res.secs >= GIVE_UP_BOUND:
        raise Fail("gave up after %.1fs, want < %d s" % (res.secs, GIVE_UP_BOUND))
    return "%d attempts, %.1fs" % (n, res.secs)


@case
def throttling_forever(env):
    return gives_up(env, "throttling-forever", "throttling")


@case
def http429_forever(env):
    return gives_up(env, "http429-forever", "too-many-requests")


@case
def internal_failure_forever(env):
    return gives_up(env, "internal-failure-forever", "internal-failure")


@case
def http503_forever(env):
    return gives_up(env, "http503-forever", "unavailable")


def retried_success(env, name, scenario, key_id, want):
    stub, key, res = simple(env, name, scenario)
    expect_success(res, stub, key, key_id)
    n = attempts(stub, key)
    if n < want:
        raise Fail("%d attempts, want >= %d" % (n, want))
    return "%d attempts" % n


@case
def retry_429_then_success(env):
    return retried_success(env, "retry-429-then-success", "retry-429-ok",
                           "ASIASTUBRETRY4290001", 2)


@case
def retry_503_then_success(env):
    return retried_success(env, "retry-503-then-success", "retry-503-ok",
                           "ASIASTUBRETRY5030001", 2)


@case
def retry_429_503_then_success(env):
    return retried_success(env, "retry-429-503-then-success", "retry-mixed",
                           "ASIASTUBRETRYMIX0001", 3)


@case
def silent_server_times_out(env):
    stub, key, res = simple(env, "silent-server-times-out", "silent")
    expect_failure(res, EX_UNAVAILABLE, None, stub, key)
    if res.secs >= GIVE_UP_BOUND:
        raise Fail("gave up after %.1fs, want < %d s" % (res.secs, GIVE_UP_BOUND))
    return "%d attempts, %.1fs" % (attempts(stub, key), res.secs)


def skew_case(env, name, scenario, words):
    """AWS's clock differs from ours by an hour or more: the first signature is refused, the
    CLI learns AWS's time from the Date header, signs once more, succeeds, and says so."""
    stub, key, res = simple(env, name, scenario)
    expect_success(res, stub, key, "ASIASTUBJSONEXP00001")
    rec = stub.records(kind="sts", scenario=key)
    if len(rec) != 2:
        raise Fail("%d requests, want 2 (refused, then corrected)" % len(rec))
    if rec[0].get("action") != "reject" or abs(rec[1].get("signed_off_s", 9999)) > 60:
        raise Fail("the retry was not signed with AWS's time: off by %s s"
                   % rec[1].get("signed_off_s"))
    if "clock skew" not in res.err or words not in res.err:
        raise Fail("no clock-skew warning on stderr: %r" % res.err[:300])
    return "second signature %+d s from AWS's clock" % rec[1]["signed_off_s"]


@case
def clock_behind_aws(env):
    return skew_case(env, "clock-behind-aws", "skew-aws-ahead", "behind")


@case
def clock_ahead_of_aws(env):
    return skew_case(env, "clock-ahead-of-aws", "skew-aws-behind", "ahead of")


@case
def chained_duration_capped(env):
    """The base credential carries a session token, so it is a role session: AWS caps
    AssumeRole from it at one hour (role chaining).  duration = 7200 is sent as 3600, and the
    CLI says so, instead of failing with ValidationError."""
    stub = env.stub("plain")
    key = env.key("json-exp", "chained-duration-capped")
    res = assume(env.conf("chained-duration-capped", stub.url(), key, extra="duration = 7200"),
                 env_extra={"AWS_SESSION_TOKEN": "stubBaseTokenDoNotLeak/chained"})
    expect_success(res, stub, key, "ASIASTUBJSONEXP00001")
    form = stub.records(kind="sts", scenario=key)[-1]["form"]
    if form.get("DurationSeconds") != "3600":
        raise Fail("DurationSeconds %r, want '3600'" % form.get("DurationSeconds"))
    if "3600" not in res.err or "chain" not in res.err:
        raise Fail("no word of the cap on stderr: %r" % res.err[:300])


@case
def chained_duration_refused_for_imds(env):
    """credentials = imds is always a role session: a duration over 3600 is refused when the
    config is read, naming the key, before anything is sent."""
    stub = env.stub("plain")
    key = env.key("json-exp", "chained-duration-imds")
    res = assume(env.conf("chained-duration-imds", stub.url(), key, credentials="imds",
                          imds=stub.url(), role_extra="duration = 7200"), base_creds=False)
    expect_failure(res, EX_CONFIG, ("duration",))
    if "[role target]" not in res.err or "3600" not in res.err:
        raise Fail("the error does not name the key and the limit: %r" % res.err[:300])
    if attempts(stub, key):
        raise Fail("AssumeRole was sent")


def malformed(env, name, scenario):
    stub, key, res = simple(env, name, scenario)
    expect_failure(res, EX_PROTOCOL, None, stub, key)


@case
def truncated_body(env):
    malformed(env, "truncated-body", "truncate")


@case
def truncated_json(env):
    malformed(env, "truncated-json", "truncated-json")


@case
def invalid_xml(env):
    malformed(env, "invalid-xml", "invalid-xml")


@case
def missing_credentials(env):
    malformed(env, "missing-credentials", "missing-credentials")


@case
def newline_in_session_token(env):
    malformed(env, "newline-in-session-token", "newline-token")


@case
def doctype_xml(env):
    malformed(env, "doctype-xml", "doctype-xml")


@case
def oversized_body(env):
    malformed(env, "oversized-body", "oversize")


@case
def redirect_not_followed(env):
    stub, key, res = simple(env, "redirect-not-followed", "redirect")
    target = env.stub("target")
    hits = target.records()
    if hits:
        raise Fail("the redirect was followed: the target saw %s %s"
                   % (hits[0].get("method"), hits[0].get("path")))
    if res.rc == EX_OK:
        raise Fail("exit 0 on a 302")
    expect_failure(res, (EX_UNAVAILABLE, EX_PROTOCOL, EX_DATAERR), None, stub, key)
    return "exit %d" % res.rc


def tls_case(env, name, stub_name, host="127.0.0.1", ca=True):
    stub = env.tls(stub_name)
    key = env.key("json-exp", name)
    conf = env.conf(name, stub.url("https", host), key,
                    ca=os.path.join(env.certs, "ca.pem") if ca else None)
    return stub, key, assume(conf)


@case
def tls_good_cert_with_ca_file(env):
    stub, key, res = tls_case(env, "tls-good-cert-with-ca-file", "tls-good")
    expect_success(res, stub, key, "ASIASTUBJSONEXP00001")


@case
def tls_good_cert_localhost(env):
    stub, key, res = tls_case(env, "tls-good-cert-localhost", "tls-good", host="localhost")
    expect_success(res, stub, key, "ASIASTUBJSONEXP00001")


@case
def tls_self_signed_refused(env):
    stub, key, res = tls_case(env, "tls-self-signed-refused", "tls-self")
    expect_failure(res, EX_UNAVAILABLE, TLS_WORDS)
    if attempts(stub, key):
        raise Fail("a request was sent over the refused connection")


@case
def tls_wrong_host_refused(env):
    stub, key, res = tls_case(env, "tls-wrong-host-refused", "tls-wrong")
    expect_failure(res, EX_UNAVAILABLE, TLS_WORDS)
    if attempts(stub, key):
        raise Fail("a request was sent over the refused connection")


@case
def tls_unknown_ca_refused(env):
    # The good certificate, but without ca_file: the system store does not know our CA.
    stub, key, res = tls_case(env, "tls-unknown-ca-refused", "tls-good", ca=False)
    expect_failure(res, EX_UNAVAILABLE, TLS_WORDS)
    if attempts(stub, key):
        raise Fail("a request was sent over the refused connection")


def proxy_env():
    dead = "http://127.0.0.1:%d" % dead_port()
    return {k: dead for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                              "ALL_PROXY", "all_proxy")}


@case
def proxy_env_ignored_http(env):
    stub = env.stub("plain")
    key = env.key("json-exp", "proxy-env-ignored-http")
    res = assume(env.conf("proxy-env-ignored-http", stub.url(), key), env_extra=proxy_env())
    expect_success(res, stub, key, "ASIASTUBJSONEXP00001")
    if any(r["via_proxy"] for r in stub.records(kind="sts", scenario=key)):
        raise Fail("the request came through a proxy")


@case
def proxy_env_ignored_https(env):
    stub = env.tls("tls-good")
    key = env.key("json-exp", "proxy-env-ignored-https")
    conf = env.conf("proxy-env-ignored-https", stub.url("https"), key,
                    ca=os.path.join(env.certs, "ca.pem"))
    expect_success(assume(conf, env_extra=proxy_env()), stub, key, "ASIASTUBJSONEXP00001")


@case
def tls_env_ignored(env):
    """SSLKEYLOGFILE (no TLS key written), SSL_CERT_FILE / SSL_CERT_DIR (no other trust
    anchors: the test CA named only there stays unknown) and OPENSSL_CONF are cleared."""
    keylog = os.path.join(env.work, "tls-env-keylog")
    stub = env.tls("tls-good")
    key = env.key("json-exp", "tls-env-keylog")
    conf = env.conf("tls-env-keylog", stub.url("https"), key,
                    ca=os.path.join(env.certs, "ca.pem"))
    expect_success(assume(conf, env_extra={"SSLKEYLOGFILE": keylog}), stub, key,
                   "ASIASTUBJSONEXP00001")
    if os.path.exists(keylog):
        raise Fail("the TLS session keys were written to SSLKEYLOGFILE")
    # the test CA's certificate, offered through the environment only: not trusted
    stub = env.tls("tls-good")
    key = env.key("json-exp", "tls-env-ca")
    res = assume(env.conf("tls-env-ca", stub.url("https"), key),
                 env_extra={"SSL_CERT_FILE": os.path.join(env.certs, "ca.pem"),
                            "SSL_CERT_DIR": env.certs,
                            "OPENSSL_CONF": os.path.join(env.work, "no-such-openssl.cnf")})
    expect_failure(res, EX_UNAVAILABLE, TLS_WORDS)


def imds_case(env, name, mode, scenario="json-exp"):
    stub = Stub(env.work, name, "--imds-mode", mode)
    key = env.key(scenario, name)
    conf = env.conf(name, stub.url(), key, credentials="imds", imds=stub.url())
    try:
        return stub, key, assume(conf, base_creds=False)
    finally:
        stub.stop()


@case
def imds_ok(env):
    stub, key, res = imds_case(env, "imds-ok", "ok")
    expect_success(res, stub, key, "ASIASTUBJSONEXP00001")
    imds = stub.records(kind="imds")
    puts = [r for r in imds if r["method"] == "PUT" and r.get("status") == 200]
    if not puts:
        raise Fail("no IMDSv2 token was fetched (PUT /latest/api/token)")
    v1 = [r for r in imds if r["method"] == "GET" and not r.get("imds_token_ok")]
    if v1:
        raise Fail("a metadata GET went without a valid token (IMDSv1): %s" % v1[0]["path"])
    if not [r for r in imds if r.get("imds") == "credentials"]:
        raise Fail("the role's credentials were never fetched")
    sts = stub.records(kind="sts", scenario=key)[-1]
    if sts.get("auth_key_id") != IMDS_KEY_ID or not sts.get("has_security_token"):
        raise Fail("AssumeRole was not signed with the IMDS credential and its token")


@case
def imds_bastion_id(env):
    """bastion_id unset with credentials = imds: the EC2 instance id (IMDSv2), never the host
    name; an ambiguous bastion_id is a config error."""
    stub = Stub(env.work, "imds-bastion-id", "--imds-mode", "ok")
    try:
        key = env.key("json-exp", "imds-bastion-id")
        res = assume(env.conf("imds-bastion-id", stub.url(), key, credentials="imds",
                              imds=stub.url(), bastion=None), base_creds=False)
        expect_success(res, stub, key, "ASIASTUBJSONEXP00001")
        name = stub.records(kind="sts", scenario=key)[-1].get("session_name") or ""
        if "@i-0123456789abcdef0." not in name:
            raise Fail("RoleSessionName %r does not carry the instance id" % name)
    finally:
        stub.stop()
    res = assume(env.conf("ambiguous-bastion-id", "http://127.0.0.1:9", "x",
                          bastion="ip-10-0-1-5"))
    if res.rc != EX_CONFIG or "not unique across a fleet" not in res.err:
        raise Fail("bastion_id = ip-10-0-1-5: exit %d %s" % (res.rc, res.err))


@case
def imds_no_token(env):
    stub, key, res = imds_case(env, "imds-no-token", "no-token")
    expect_failure(res, (EX_UNAVAILABLE, EX_NOPERM), IMDS_WORDS)
    if attempts(stub, key):
        raise Fail("AssumeRole was called without base credentials")
    return "exit %d" % res.rc


@case
def imds_bad_json(env):
    stub, key, res = imds_case(env, "imds-bad-json", "bad-json")
    expect_failure(res, EX_PROTOCOL, IMDS_WORDS)
    if attempts(stub, key):
        raise Fail("AssumeRole was called with a credential from a malformed document")


@case
def imds_expired(env):
    stub, key, res = imds_case(env, "imds-expired", "expired")
    expect_failure(res, EX_NOPERM, None)
    n = len(stub.records(imds="credentials"))
    if n > 3:
        raise Fail("fetched the expired credential %d times" % n)


@case
def imds_expires_soon(env):
    # Expiration within 60 s, inside the provider's refresh margin: the CLI must still
    # mint its credential, and must not spin refreshing.
    stub, key, res = imds_case(env, "imds-expires-soon", "expired-soon")
    expect_success(res, stub, key, "ASIASTUBJSONEXP00001")
    n = len(stub.records(imds="credentials"))
    if not 1 <= n <= 3:
        raise Fail("fetched the IMDS credential %d times, want 1..3" % n)
    return "IMDS credential fetched %d time(s)" % n


# -- S3 (stsrolectl reconcile --s3): retried, skew-corrected and refetched as STS is --------

def reconcile_s3(env, name, scenario, stub, credentials="env"):
    """`reconcile --s3` of the stub bucket named for the case; returns the result and the
    bucket's S3 requests."""
    bucket = env.key(scenario, name)[:63].rstrip(".")
    audit = os.path.join(env.work, name + ".audit.log")
    fd = os.open(audit, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    conf = env.conf(name, stub.url(), "json-exp.unused", credentials=credentials,
                    imds=stub.url() if credentials == "imds" else None)
    res = run_cli(["reconcile", "--config", conf, "--audit", audit, "--s3",
                   "s3://%s/AWSLogs" % bucket, "--endpoint", stub.url(), "--from", "2026-12-05",
                   "--to", "2026-12-06"], base_creds=credentials == "env")
    return res, stub.records(kind="s3", scenario=bucket)


def expect_bucket_read(res, recs):
    """Exit 0, the one trail file read, and the list and the get both served last."""
    no_leak(res)
    if res.rc != EX_OK:
        raise Fail("expected exit 0, got " + res.brief())
    if "from 1 files (0 unreadable)" not in res.out + res.err:
        raise Fail("the stub's trail file was not read: %r" % (res.out + res.err)[:300])
    served = [r.get("s3_op") for r in recs if r.get("action") == "bucket"]
    if served != ["list", "get"]:
        raise Fail("served %r, want the list then the get" % served)


@case
def s3_retry_503_then_success(env):
    res, recs = reconcile_s3(env, "s3-503", "s3-retry-503", env.stub("plain"))
    expect_bucket_read(res, recs)
    if [r["status"] for r in recs] != [503, 200, 200]:
        raise Fail("statuses %r, want 503 (SlowDown), then 200 twice"
                   % [r["status"] for r in recs])
    return "%d requests" % len(recs)


@case
def s3_clock_skew(env):
    """S3 answers RequestTimeTooSkewed with its own Date: the client signs the same request
    again with AWS's time, and every later request too."""
    res, recs = reconcile_s3(env, "s3-skew", "s3-skew", env.stub("plain"))
    expect_bucket_read(res, recs)
    if len(recs) != 3 or recs[0].get("error_code") != "RequestTimeTooSkewed":
        raise Fail("requests %r, want RequestTimeTooSkewed, then the list and the get"
                   % [(r["status"], r.get("error_code")) for r in recs])
    off = [r.get("signed_off_s", 9999) for r in recs[1:]]
    if any(abs(o) > 60 for o in off):
        raise Fail("later requests were not signed with AWS's time: off by %r s" % off)
    return "signed %+d s from AWS's clock after the correction" % off[0]


@case
def s3_expired_token_refetch(env):
    """ExpiredToken from S3: the base credential (IMDS) is fetched again, and the request
    signed once more with it."""
    stub = Stub(env.work, "s3-expired", "--imds-mode", "ok")
    try:
        res, recs = reconcile_s3(env, "s3-expired", "s3-expired-token", stub, credentials="imds")
        fetched = len(stub.records(imds="credentials"))
    finally:
        stub.stop()
    expect_bucket_read(res, recs)
    if len(recs) != 3 or "<Code>ExpiredToken</Code>" not in recs[0].get("response", ""):
        raise Fail("requests %r, want ExpiredToken, then the list and the get"
                   % [(r["status"], r.get("response", "")[:120]) for r in recs])
    if fetched != 2:
        raise Fail("the IMDS credential was fetched %d times, want 2 (once more after "
                   "ExpiredToken)" % fetched)
    if any(r.get("auth_key_id") != IMDS_KEY_ID or not r.get("has_security_token")
           for r in recs):
        raise Fail("an S3 request was not signed with the IMDS credential and its token")


@case
def s3_access_denied(env):
    res, recs = reconcile_s3(env, "s3-denied", "s3-access-denied", env.stub("plain"))
    expect_failure(res, EX_NOPERM, ("accessdenied", "access denied"))
    if len(recs) != 1:
        raise Fail("%d requests, want 1: AccessDenied is not retried" % len(recs))
    if recs[0]["request_id"] not in res.err:
        raise Fail("the error does not name S3's request id %s: %r"
                   % (recs[0]["request_id"], res.err))


# -- the gateway's IAM calls, answered in JSON (as real IAM does) and in XML --

sys.path.insert(0, os.path.join(TOP, "tests", "gateway"))
from gwlib import Gateway, audit_lines, close_session, session_record, wait_for, write_session  # noqa: E402,E501


def gateway_revoke(env, name, fmt, revoker, region="us-east-1", partition="aws",
                   iam_region="us-east-1", clock_skew=None):
    """Two logouts with a gateway restart between them: the second revocation must read the
    deny policy the first one wrote (GetRolePolicy) and keep its entry."""
    gatewayd = os.path.join(os.path.dirname(CLI), "stsrole-gatewayd")
    if not os.access(gatewayd, os.X_OK):
        raise Skip("stsrole-gatewayd is not built beside " + CLI)
    os.environ["STSROLE_GATEWAYD"] = gatewayd  # what gwlib.Gateway starts
    stub = Stub(env.work, name, "--query-format", fmt)
    try:
        d = os.path.join(env.work, name)
        os.makedirs(d, mode=0o700)
        role_arn = "arn:%s:iam::%s:role/SecurityAuditRole" % (partition, ACCOUNT)
        conf = os.path.join(d, "stsrole.conf")
        with open(conf, "w") as fh:
            fh.write("\n".join([
                "[stsrole]", "region = " + region, "sts_endpoint = " + stub.url(),
                "iam_endpoint = " + stub.url(), "credentials = env", "timeout = 3",
                "state_dir = " + os.path.join(d, "state"),
                "audit_log = " + os.path.join(d, "audit.log"), "bastion_id = b1", "",
                "[role audit]", "arn = " + role_arn,
                "revoker_arn = arn:%s:iam::%s:role/%s" % (partition, ACCOUNT,
                                                          env.key(revoker, name)),
                "users = alice", ""]))
        os.chmod(conf, 0o600)
        genv = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C",
                "AWS_ACCESS_KEY_ID": BASE_KEY_ID, "AWS_SECRET_ACCESS_KEY": BASE_SECRET}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                genv[k] = os.environ[k]
        state = os.path.join(d, "state")
        ids = []
        for n in range(2):
            gw = Gateway(conf, genv, ["--skew", "0"], log=os.path.join(d, "gatewayd.log"))
            gw.start()
            try:
                arid = "AROASTUBAUDIT%08d:alice@b1.%s%d" % (n, fmt, n)
                rec = session_record("alice", "audit", role_arn, arid, "ASIASTUB%012d" % n,
                                     time.time() + 3600)
                write_session(state, rec)
                close_session(state, rec)
                ids.append(arid)
                try:
                    wait_for(lambda: [e for e in audit_lines(os.path.join(d, "audit.log"))
                                      if e.get("session_id") == rec["session_id"]
                                      and e["event"] in ("revoke.ok", "revoke.failed")],
                             20, "revoke.ok")
                except AssertionError as e:
                    retries = [x.get("detail") for x in audit_lines(os.path.join(d, "audit.log"))
                               if x["event"] == "revoke.retry"]
                    raise Fail("revocation %d: %s; retries: %s" % (n + 1, e, retries[-1:]))
                if clock_skew is not None and n == 0:
                    status_shows_skew(conf, genv, clock_skew)
                    with open(os.path.join(d, "gatewayd.log"), errors="replace") as fh:
                        if "clock skew" not in fh.read():
                            raise Fail("the gateway did not log the clock skew")
            finally:
                gw.stop()
        gets = [r for r in stub.records(kind="iam")
                if r.get("form", {}).get("Action") == "GetRolePolicy" and r.get("status") == 200]
        if not gets:
            raise Fail("the second revocation never read the existing policy")
        if fmt == "json" and "application/json" not in gets[-1]["headers"].get("Accept", ""):
            raise Fail("IAM was not asked for JSON")
        puts = [r for r in stub.records(kind="iam")
                if r.get("form", {}).get("Action") == "PutRolePolicy" and r.get("status") == 200]
        if not puts:
            raise Fail("no PutRolePolicy reached IAM")
        doc = puts[-1]["form"]["PolicyDocument"]
        missing = [i for i in ids if i not in doc]
        if missing:
            raise Fail("the last deny policy lacks %s: %s" % (missing, doc[:300]))
        # IAM is global within a partition: it is signed for the partition's IAM region.
        regions = sorted({r.get("auth_region") for r in stub.records(kind="iam")})
        if regions != [iam_region]:
            raise Fail("IAM requests signed for %s, want %s" % (regions, iam_region))
        sts_regions = sorted({r.get("auth_region") for r in stub.records(kind="sts")})
        if sts_regions != [region]:
            raise Fail("STS requests signed for %s, want %s" % (sts_regions, region))
        return "%d IAM calls in %s" % (len(stub.records(kind="iam")), fmt.upper())
    finally:
        stub.stop()


def status_shows_skew(conf, genv, want):
    r = subprocess.run([CLI, "--config", conf, "status", "--json"], env=genv,
                       capture_output=True, text=True, timeout=30)
    try:
        got = json.loads(r.stdout).get("clock_skew_s")
    except ValueError:
        raise Fail("status --json: %r %r" % (r.stdout[:200], r.stderr[:200]))
    if not isinstance(got, (int, float)) or abs(got - want) > 10:
        raise Fail("status shows clock_skew_s %r, want about %d" % (got, want))
    r = subprocess.run([CLI, "--config", conf, "status"], env=genv, capture_output=True,
                       text=True, timeout=30)
    if "SKEWED" not in r.stdout:
        raise Fail("stsrolectl status does not show the skew: %r" % r.stdout[-400:])


@case
def gateway_clock_skew(env):
    # The revoker's AssumeRole meets AWS's clock an hour ahead: the gateway learns it, revokes,
    # and stsrolectl status shows it.
    return gateway_revoke(env, "gateway-clock-skew", "json", "skew-aws-ahead", clock_skew=3600)


@case
def gateway_iam_json(env):
    return gateway_revoke(env, "gateway-iam-json", "json", "json-exp")


@case
def gateway_iam_xml(env):
    return gateway_revoke(env, "gateway-iam-xml", "xml", "xml-ok")


@case
def gateway_iam_aws_cn(env):
    # aws-cn: role ARNs arn:aws-cn:..., IAM signed for cn-north-1 (its one IAM endpoint).
    return gateway_revoke(env, "gateway-iam-aws-cn", "json", "json-exp", region="cn-northwest-1",
                          partition="aws-cn", iam_region="cn-north-1")


@case
def gateway_iam_aws_us_gov(env):
    return gateway_revoke(env, "gateway-iam-aws-us-gov", "json", "json-exp",
                          region="us-gov-east-1", partition="aws-us-gov",
                          iam_region="us-gov-west-1")


# -- driver -----------------------------------------------------------------

def run_case(env, fn):
    try:
        note = fn(env)
        return "ok", note
    except Skip as e:
        return "skip", str(e)
    except Fail as e:
        return "not ok", str(e)
    except Exception as e:  # a bug in this test must show as a failure, not a crash
        return "not ok", "test error: %s: %s" % (type(e).__name__, e)


def main():
    S = Suite("stub")
    only = [c for c in os.environ.get("STUB_ONLY", "").split(",") if c]
    cases = [(n, f) for n, f in CASES if not only or n in only]
    if os.geteuid() != 0:
        return S.skip_all("must run as root (stsrolectl requires a root-owned config)")

    env = Env()
    atexit.register(lambda: print("kept " + env.work) if keep_tmp()
                    else shutil.rmtree(env.work, ignore_errors=True))
    atexit.register(stop_all)  # runs first: servers go before their directory
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    env.setup()

    jobs = max(1, int(os.environ.get("STUB_JOBS", "4")))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [(name, pool.submit(run_case, env, fn)) for name, fn in cases]
        for name, fut in futures:
            verdict, note = fut.result()
            if verdict == "skip":
                S.skip(name, note)
            elif verdict == "ok":
                S.result("%s%s" % (name, " (%s)" % note if note else ""), True)
            else:
                S.result(name, False, note)
    return S.finish()


if __name__ == "__main__":
    sys.exit(main())
