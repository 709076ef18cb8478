# SPDX-License-Identifier: BSD-3-Clause
"""fleetmoto.py: moto for the fleet tests, with DynamoDB's one-write-at-a-time guarantee restored.

DynamoDB applies the writes to one item one after another, so of two
conditional PutItems on the same item that race, exactly one can succeed.
moto_server checks a condition and then stores the item in two separate
steps, and its threaded server may run two requests between them, which
would let both writes through: a fault of the stand-in, not of the client
under test.  This runs moto's own WSGI application (everything else as
moto_server has it) and handles one DynamoDB request at a time.  Requests
still arrive concurrently; a client that read first and wrote later, or
wrote without a condition, would still let two bastions in.

    python3 fleetmoto.py -H 127.0.0.1 -p PORT      (the moto_server arguments)
"""
import argparse
import json
import os
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

from harness import free_port  # noqa: E402
from mototest import SECURITY_ACCOUNT, Moto  # noqa: E402

TOP = os.path.dirname(os.path.dirname(HERE))
FLEET_POLICY = os.path.join(TOP, "examples", "aws", "iam", "bastion-fleet-policy.json")
REPLAY_TABLE = "stsrole-replay"
SESSION_TABLE = "stsrole-sessions"


def fleet_actions():
    """The DynamoDB and CloudWatch Logs actions examples/aws grants the bastion role."""
    doc = json.load(open(FLEET_POLICY))
    acts = set()
    for st in doc["Statement"]:
        if st["Effect"] != "Allow":
            continue
        a = st["Action"]
        acts.update([a] if isinstance(a, str) else a)
    return sorted(acts)


def policy_attributes():
    """{table name: the attributes the fleet policy lets a bastion write there}, from the
    dynamodb:Attributes conditions of examples/aws/iam/bastion-fleet-policy.json."""
    out = {}
    for st in json.load(open(FLEET_POLICY))["Statement"]:
        cond = st.get("Condition", {}).get("ForAllValues:StringEquals", {})
        if st["Effect"] == "Allow" and "dynamodb:Attributes" in cond:
            out[st["Resource"].rsplit("/", 1)[1]] = set(cond["dynamodb:Attributes"])
    return out


def seed_fleet(m, tables=(REPLAY_TABLE, SESSION_TABLE)):
    """m.seed() (bastion user, workload roles), then the tables with TTL, then auth on.

    The tables must exist before reset-auth.  The bastion user gets exactly the
    actions of examples/aws/iam/bastion-fleet-policy.json; moto checks actions
    but not table ARNs, so the resource is "*" here.  Returns m.seed()'s env."""
    enable_auth = m.enable_auth
    m.enable_auth = lambda: None  # seed() turns auth on last
    try:
        menv = m.seed()
    finally:
        m.enable_auth = enable_auth
    ddb = m.client("dynamodb", SECURITY_ACCOUNT)
    for t in tables:
        ddb.create_table(TableName=t, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}])
        ddb.update_time_to_live(TableName=t, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "ttl"})
    m.client("iam", SECURITY_ACCOUNT).put_user_policy(
        UserName="bastion", PolicyName="stsrole-bastion-fleet",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": fleet_actions(), "Resource": "*"}]}))
    m.enable_auth()
    return menv


class FleetMoto(Moto):
    """mototest.Moto, started through this file instead of moto_server."""

    def start(self, tries=3):
        env = dict(os.environ)
        # As mototest: auth stays off while seeding, reset-auth turns it on.
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "1000000"
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(k, None)
        for _ in range(tries):
            self.port = free_port()
            self.url = "http://127.0.0.1:%d" % self.port
            out = open(self.log, "ab") if self.log else subprocess.DEVNULL
            self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "-H",
                                          "127.0.0.1", "-p", str(self.port)],
                                         stdout=out, stderr=subprocess.STDOUT, env=env)
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError("moto (fleetmoto.py) did not start")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-H", "--host", default="127.0.0.1")
    ap.add_argument("-p", "--port", type=int, required=True)
    args = ap.parse_args()
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple

    moto_app = DomainDispatcherApplication(create_backend_app)
    one_at_a_time = threading.Lock()

    def app(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with one_at_a_time:
                # The whole answer is produced inside the lock.
                return list(moto_app(environ, start_response))
        return moto_app(environ, start_response)

    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()
