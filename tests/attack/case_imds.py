# SPDX-License-Identifier: BSD-3-Clause
"""case_imds.py: the bastion's own credential (IMDS) is for root alone.

Proves examples/bastion/imds-lockdown.nft in network namespaces the fixture
makes itself, so the host's network is never touched:

    ns "bastion" (the shipped ruleset)  --veth--  ns "imds"
      169.254.0.2/16, fd00:ec2::2/64               169.254.169.254, fd00:ec2::254
                                                   a stand-in IMDSv2 (HTTP, port 80)

uid 0 in the bastion namespace gets an IMDSv2 token and the role's
credential; every other uid (nobody, daemon) gets "Connection refused".  Before
the ruleset is loaded the same unprivileged client does reach the stand-in,
so the refusal is the ruleset's doing.  Needs root, ip (iproute2), nft
(nftables), setpriv; skipped when network namespaces are not available.
"""
import contextlib
import os
import shutil
import subprocess
import sys

from attacklib import as_user_argv, case
from harness import Skip, check

RULESET = os.path.join("examples", "bastion", "imds-lockdown.nft")
IMDS4, IMDS6 = "169.254.169.254", "fd00:ec2::254"

# The stand-in IMDSv2: PUT /latest/api/token hands out a token; the
# credential paths answer only with that token (as IMDSv2 with
# HttpTokens=required does).  It prints "ready" once both sockets listen.
SERVER = r'''
import http.server, json, socket, sys, threading
TOKEN = "stand-in-imds-token"
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def reply(self, code, body):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_PUT(self):
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self.reply(200, TOKEN)
        else:
            self.reply(400, "")
    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
            self.reply(401, "")
        elif self.path == "/latest/meta-data/iam/security-credentials/":
            self.reply(200, "BastionRole")
        elif self.path == "/latest/meta-data/iam/security-credentials/BastionRole":
            self.reply(200, json.dumps({"Code": "Success", "AccessKeyId": "ASIABASTIONSTANDIN",
                                        "SecretAccessKey": "x", "Token": "y",
                                        "Expiration": "2030-01-01T00:00:00Z"}))
        else:
            self.reply(404, "")
class S6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
servers = [http.server.ThreadingHTTPServer((sys.argv[1], 80), H), S6((sys.argv[2], 80), H)]
for s in servers:
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()  # runs until the fixture closes stdin
'''

# The client: IMDSv2 as an SDK does it (token, role name, credential).
# Prints CREDENTIAL <AccessKeyId> or REFUSED <errno name>.
CLIENT = r'''
import errno, http.client, sys
try:
    c = http.client.HTTPConnection(sys.argv[1], 80, timeout=5)
    c.request("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    tok = c.getresponse().read().decode()
    c.request("GET", "/latest/meta-data/iam/security-credentials/",
              headers={"X-aws-ec2-metadata-token": tok})
    role = c.getresponse().read().decode()
    c.request("GET", "/latest/meta-data/iam/security-credentials/" + role,
              headers={"X-aws-ec2-metadata-token": tok})
    print("CREDENTIAL", __import__("json").loads(c.getresponse().read())["AccessKeyId"])
except OSError as e:
    print("REFUSED", errno.errorcode.get(e.errno, str(e)))
'''


def sh(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=30)


def must(*argv):
    r = sh(*argv)
    if r.returncode != 0:
        raise Skip("%s: %s" % (" ".join(argv), (r.stderr or r.stdout).strip()))
    return r


class Net:
    def __init__(self, top):
        self.top = top
        tag = "%d" % os.getpid()
        self.bastion, self.imds = "stsrole-b%s" % tag, "stsrole-m%s" % tag
        self.made = []
        self.server = None

    def exec_in_bastion(self, argv, user=None):
        cmd = ["ip", "netns", "exec", self.bastion]
        if user is not None:
            cmd += as_user_argv(user)
        return subprocess.run(cmd + argv, capture_output=True, text=True, timeout=30)

    def fetch(self, addr, user=None):
        """What a client in the bastion namespace gets from IMDS at addr, as user (None: root)."""
        r = self.exec_in_bastion([sys.executable, "-I", "-c", CLIENT, addr], user)
        return (r.stdout + r.stderr).strip()

    def up(self):
        if os.geteuid() != 0:
            raise Skip("needs root (network namespaces, nft)")
        for tool in ("ip", "nft", "setpriv"):
            if shutil.which(tool) is None:
                raise Skip("%s is missing (apt-get install -y iproute2 nftables util-linux)" % tool)
        for ns in (self.bastion, self.imds):
            must("ip", "netns", "add", ns)
            self.made.append(ns)
        b, m = ("ip", "-n", self.bastion), ("ip", "-n", self.imds)
        must(*b, "link", "add", "vb", "type", "veth", "peer", "name", "vm", "netns", self.imds)
        for ns, dev in ((b, "vb"), (m, "vm")):
            must(*ns, "link", "set", "lo", "up")
            must(*ns, "link", "set", dev, "up")
        must(*b, "addr", "add", "169.254.0.2/16", "dev", "vb")
        must(*m, "addr", "add", IMDS4 + "/16", "dev", "vm")
        # nodad: the address is usable at once, no Duplicate Address Detection wait.
        must(*b, "addr", "add", "fd00:ec2::2/64", "dev", "vb", "nodad")
        must(*m, "addr", "add", IMDS6 + "/64", "dev", "vm", "nodad")
        self.server = subprocess.Popen(
            ["ip", "netns", "exec", self.imds, sys.executable, "-I", "-c", SERVER, IMDS4, IMDS6],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.server.stdout.readline().strip()  # blocks until it listens or dies
        if line != "ready":
            raise Skip("the stand-in IMDS did not start: %s" % self.server.stderr.read().strip())

    def load_ruleset(self):
        return sh("ip", "netns", "exec", self.bastion, "nft", "-f",
                  os.path.join(self.top, RULESET))

    def refusals(self):
        """The ruleset's counter of refused TCP packets."""
        r = sh("ip", "netns", "exec", self.bastion, "nft", "list", "chain", "inet",
               "stsrole_imds", "imds")
        for tok in r.stdout.split("counter packets ")[1:]:
            return int(tok.split()[0])
        return -1

    def down(self):
        if self.server is not None:
            try:
                self.server.stdin.close()
                self.server.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.server.kill()
                self.server.wait()
        for ns in reversed(self.made):
            sh("ip", "netns", "del", ns)


@contextlib.contextmanager
def fixture(ctx):
    net = Net(ctx.top)
    try:
        net.up()
        yield net
    finally:
        net.down()


@case("control: before the lock-down, nobody reaches the stand-in IMDS (v4 and v6)")
def before_lockdown(ctx):
    net = ctx.fixture
    for addr in (IMDS4, IMDS6):
        out = net.fetch(addr, "nobody")
        check(out == "CREDENTIAL ASIABASTIONSTANDIN", "%s as nobody: %s" % (addr, out))


@case("imds-lockdown.nft loads with nft -f, twice (it replaces only its own table)")
def loads(ctx):
    net = ctx.fixture
    for _ in range(2):
        r = net.load_ruleset()
        check(r.returncode == 0, "nft -f %s: %s" % (RULESET, r.stderr.strip()))


@case("IMDS at 169.254.169.254 as root: token and the bastion's credential")
def root_v4(ctx):
    out = ctx.fixture.fetch(IMDS4)
    check(out == "CREDENTIAL ASIABASTIONSTANDIN", out)


@case("IMDS at fd00:ec2::254 as root: token and the bastion's credential")
def root_v6(ctx):
    out = ctx.fixture.fetch(IMDS6)
    check(out == "CREDENTIAL ASIABASTIONSTANDIN", out)


@case("IMDS at 169.254.169.254 as nobody and as daemon: Connection refused")
def other_v4(ctx):
    net = ctx.fixture
    before = net.refusals()
    for user in ("nobody", "daemon"):
        out = net.fetch(IMDS4, user)
        check(out == "REFUSED ECONNREFUSED", "%s: %s" % (user, out))
    check(net.refusals() > before, "the ruleset's counter did not move (%d)" % before)


@case("IMDS at fd00:ec2::254 as nobody and as daemon: Connection refused")
def other_v6(ctx):
    net = ctx.fixture
    for user in ("nobody", "daemon"):
        out = net.fetch(IMDS6, user)
        check(out == "REFUSED ECONNREFUSED", "%s: %s" % (user, out))
