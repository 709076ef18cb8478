# SPDX-License-Identifier: BSD-3-Clause
"""case_imds_check.py: stsrole-gatewayd checks who reaches IMDS, and pam_stsrole mints nothing
while a uid other than root does.

Builds on case_imds.py's network namespaces (ns "bastion" with a stand-in IMDSv2 at
169.254.169.254 behind a veth).  The gateway runs inside the bastion namespace with
credentials = imds; pam_stsrole (through tests/pam/pamdrive.c, which stands in for auth with
the ticket) reads its verdict from STATE_DIR/imds-exposure.  No AWS endpoint is reachable
(sts_endpoint is a closed port), so a login that gets past the IMDS check fails at the mint:
the log line tells the two apart.
"""
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from attacklib import case
from case_imds import Net
from harness import Skip, check

FIX = "examples/bastion/imds-lockdown.nft"


class World:
    def __init__(self, ctx, net):
        self.ctx = ctx
        self.net = net
        self.root = tempfile.mkdtemp(prefix="stsrole-attack-imds.")
        self.state = os.path.join(self.root, "state")
        self.audit = os.path.join(self.root, "audit.log")
        self.conf = os.path.join(self.root, "stsrole.conf")
        self.pamd = os.path.join(self.root, "pam.d")
        self.log = os.path.join(self.root, "syslog")
        self.gw = None
        os.makedirs(self.pamd, mode=0o700)
        module = os.path.join(ctx.build, "pam", ".libs", "pam_stsrole.so")
        if not os.path.exists(module):
            raise Skip("%s is not built" % module)
        with open(os.path.join(self.pamd, "stsrole-imds"), "w") as f:
            f.write("session required %s conf=%s\n" % (module, self.conf))
        # tests/pam/pamdrive.c, built by make (tests/Makefile.am)
        self.pamdrive = os.path.join(ctx.build, "tests", "pam", "pamdrive")
        if not os.access(self.pamdrive, os.X_OK):
            raise Skip("%s is not built (make)" % self.pamdrive)
        self.config()

    def config(self, **keys):
        settings = {"region": "us-east-1", "sts_endpoint": "http://127.0.0.1:9",
                    "iam_endpoint": "http://127.0.0.1:9", "credentials": "imds",
                    "state_dir": self.state, "audit_log": self.audit, "bastion_id": "attack-b1",
                    "timeout": 1}
        settings.update(keys)
        text = "[stsrole]\n" + "".join("%s = %s\n" % kv for kv in settings.items())
        text += "\n[role R]\narn = arn:aws:iam::111122223333:role/R\nusers = nobody\n"
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)

    def start_gateway(self, wait=True):
        """Starts the gateway in the bastion namespace; with wait, returns its first verdict."""
        sys.path.insert(0, self.ctx.path("tests", "lib"))
        os.environ["STSROLE_BUILD"] = self.ctx.build
        from gwlib import Gateway
        verdict = os.path.join(self.state, "imds-exposure")
        if os.path.exists(verdict):
            os.unlink(verdict)
        self.gw = Gateway(self.conf, os.environ, log=os.path.join(self.root, "gatewayd.log"),
                          prefix=["ip", "netns", "exec", self.net.bastion]).start()
        if not wait:
            return None
        end = time.monotonic() + 15
        while not os.path.exists(verdict) and time.monotonic() < end:
            self.gw.wait_message("never", timeout=0.2)  # a bounded wait on the gateway
        check(os.path.exists(verdict), "the gateway wrote no %s" % verdict)
        return open(verdict).read()

    def stop_gateway(self):
        if self.gw is not None:
            self.gw.stop()
            self.gw = None

    def status(self):
        r = subprocess.run([os.path.join(self.ctx.build, "gateway", "stsrolectl"), "--config",
                            self.conf, "status"], capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout + r.stderr

    def login(self):
        """open_session for nobody (with auth's ticket); returns (PAM code, stdout, log)."""
        if os.path.exists(self.log):
            os.unlink(self.log)
        r = subprocess.run([self.pamdrive, "-c", self.pamd, "-s", "stsrole-imds", "-u", "nobody",
                            "-l", self.log, "-r", "192.0.2.10", "-t", "ssh",
                            "ticket=" + self.state, "open", "env"],
                           capture_output=True, text=True, timeout=60)
        log = open(self.log).read() if os.path.exists(self.log) else ""
        code = [ln.split()[2] for ln in r.stdout.splitlines() if ln.startswith("open rc=")]
        return (code[0] if code else "(not run)"), r.stdout, log

    def forward(self, addr):
        """An IMDSv2 token request through the user's SSH port forward (ssh -W, the same
        direct-tcpip channel as ssh -L, which sshd opens as the logged-in user) from inside the
        bastion namespace.  Returns what came back, ssh's complaint included."""
        if getattr(self, "lab", None) is None:
            sys.path.insert(0, self.ctx.path("tests", "lib"))
            import sshdtest
            why = sshdtest.missing_prerequisite(need_pexpect=False)
            if why:
                raise Skip(why)
            self.lab = sshdtest.Lab("attack-fwd")
            self.user = self.lab.add_user()
            sshd = self.lab.start_sshd(pam=False, prefix=["ip", "netns", "exec", self.net.bastion])
            self.ssh_cfg = self.lab.ssh_config({"fwd": (sshd, self.user)})
        host = "[%s]" % addr if ":" in addr else addr
        req = ("PUT /latest/api/token HTTP/1.0\r\nHost: %s\r\n"
               "X-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n" % host)
        r = subprocess.run(["ip", "netns", "exec", self.net.bastion, "ssh", "-F", self.ssh_cfg,
                            "-o", "LogLevel=INFO", "-W", "%s:80" % host, "fwd"],
                           input=req, capture_output=True, text=True, timeout=60)
        return r.stdout + r.stderr

    def close(self):
        self.stop_gateway()
        if getattr(self, "lab", None) is not None:
            self.lab.close()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def fixture(ctx):
    net = Net(ctx.top)
    w = None
    try:
        net.up()
        w = World(ctx, net)
        yield w
    finally:
        if w is not None:
            w.close()
        net.down()


@case("control: before the lock-down, an SSH port forward (ssh -W / -L) reaches the stand-in "
      "IMDS and gets a token")
def forward_before(ctx):
    out = ctx.fixture.forward("169.254.169.254")
    check("HTTP/1.0 200" in out and "stand-in-imds-token" in out, out)


@case("IMDS open to every uid: the gateway says so (file, status, audit, naming the fix) and a "
      "login gets no credential")
def exposed_refuses(ctx):
    w = ctx.fixture
    w.config()
    verdict = w.start_gateway()
    try:
        check(verdict.startswith("exposed "), "verdict: %s" % verdict)
        rc, out = w.status()
        check(rc != 0 and "imds:     exposed" in out and FIX in out, "status: %s" % out)
        lines = [json.loads(ln) for ln in open(w.audit)]
        ev = [e for e in lines if e["event"] == "imds.check"]
        check(ev and ev[-1]["outcome"] == "error" and FIX in ev[-1]["detail"], "audit: %s" % ev)
        code, out, log = w.login()
        check(code == "PAM_SESSION_ERR" and "AWS_ACCESS_KEY_ID" not in out
              and "not protected" in out and FIX in log and "outcome=refused" in log,
              "%s %s %s" % (code, out, log))
    finally:
        w.stop_gateway()


@case("imds_exposure = warn: a login goes past the exposed IMDS with a CRIT log line")
def exposed_warn(ctx):
    w = ctx.fixture
    w.config(imds_exposure="warn")
    try:
        w.start_gateway()
        code, out, log = w.login()
        # past the check, it fails at the mint (no STS here): not at IMDS
        check("outcome=imds-exposed-warn" in log and "could not obtain AWS credentials" in out,
              "%s %s %s" % (code, out, log))
    finally:
        w.stop_gateway()
        w.config()


@case("with imds-lockdown.nft loaded the gateway finds IMDS root's alone and logins pass the "
      "check")
def closed_passes(ctx):
    w = ctx.fixture
    r = w.net.load_ruleset()
    check(r.returncode == 0, r.stderr)
    verdict = w.start_gateway()
    try:
        check(verdict.startswith("closed "), "verdict: %s" % verdict)
        rc, out = w.status()
        check("imds:     closed" in out, "status: %s" % out)
        code, out, log = w.login()
        # past the check; the mint then fails (no AWS here)
        check(FIX not in log and "imds-exposure" not in log and "not protected" not in out
              and "could not obtain AWS credentials" in out,
              "%s %s %s" % (code, out, log))
    finally:
        w.stop_gateway()


@case("with imds-lockdown.nft: IMDS through an SSH port forward (v4 and v6) is refused to the "
      "logged-in user")
def forward_after(ctx):
    r = ctx.fixture.net.load_ruleset()  # (again: it replaces only its own table)
    check(r.returncode == 0, r.stderr)
    for addr in ("169.254.169.254", "fd00:ec2::254"):
        out = ctx.fixture.forward(addr)
        check("stand-in-imds-token" not in out and "open failed" in out
              and "Connection refused" in out, "%s: %s" % (addr, out))


@case("no verdict (gateway never ran) or a stale one: a login is refused and told why")
def stale_refuses(ctx):
    w = ctx.fixture
    path = os.path.join(w.state, "imds-exposure")
    words = open(path).read().split()
    with open(path, "w") as f:
        f.write("closed %d %s\n" % (int(words[1]) - 3600, " ".join(words[2:])))
    code, out, log = w.login()
    check(code == "PAM_SESSION_ERR" and "stale" in log, "%s %s %s" % (code, out, log))
    os.unlink(path)
    code, out, log = w.login()
    check(code == "PAM_SESSION_ERR" and "is missing" in log and "running?" in log,
          "%s %s %s" % (code, out, log))


@case("a firewall that drops (not rejects) IMDS packets: the gateway's check waits out its "
      "second without holding up the control socket, then finds IMDS closed")
def drop_does_not_stall(ctx):
    w = ctx.fixture
    ns = ["ip", "netns", "exec", w.net.bastion]
    rules = ("table inet stsrole_test_drop\ndelete table inet stsrole_test_drop\n"
             "table inet stsrole_test_drop {\n chain output {\n"
             "  type filter hook output priority filter; policy accept;\n"
             "  ip daddr 169.254.169.254 meta skuid != 0 drop\n }\n}\n")
    subprocess.run(ns + ["nft", "delete", "table", "inet", "stsrole_imds"], capture_output=True)
    r = subprocess.run(ns + ["nft", "-f", "-"], input=rules, capture_output=True, text=True)
    check(r.returncode == 0, r.stderr)
    verdict = os.path.join(w.state, "imds-exposure")
    w.start_gateway(wait=False)
    try:
        rc, out = w.status()
        # the probe's connect waits a second for a SYN that is dropped: a status served in the
        # meantime comes back before any verdict is written
        answered_first = not os.path.exists(verdict)
        check("imds:" in out and answered_first,
              "status waited for the IMDS check (verdict already written): %s" % out)
        end = time.monotonic() + 15
        while not os.path.exists(verdict) and time.monotonic() < end:
            w.gw.wait_message("never", timeout=0.2)  # a bounded wait on the gateway
        check(os.path.exists(verdict) and open(verdict).read().startswith("closed "),
              "verdict: %s" % (open(verdict).read() if os.path.exists(verdict) else "none"))
    finally:
        w.stop_gateway()
        subprocess.run(ns + ["nft", "delete", "table", "inet", "stsrole_test_drop"],
                       capture_output=True)
