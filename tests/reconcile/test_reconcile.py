#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_reconcile.py: stsrolectl reconcile and report over generated CloudTrail days.

Directory mode reads files made by gen_trail.py (AWS's documented record
shape); S3 mode reads the same files back from moto's S3 with SigV4 checking
on; Athena mode runs against moto, which does not execute SQL: its answers
are canned results queued through /moto-api/static/athena/query-results,
computed here from the same files as Athena would.  The HTML report is
loaded in headless Chromium.
"""
import copy
import glob
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from harness import Skip, Suite, check  # noqa: E402
import gen_trail  # noqa: E402

TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("STSROLE_BUILD", os.path.join(TOP, "build"))
CTL = os.environ.get("STSROLECTL", os.path.join(BUILD, "gateway", "stsrolectl"))
ARTEFACTS = os.path.join(BUILD, "tests", "reconcile")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BUCKET = "org-trail-logs"


def ctl(*args, env=None, timeout=300):
    return subprocess.run([CTL] + list(args), capture_output=True, text=True, timeout=timeout,
                          env=env)


def generate(tmp, name, *flags):
    out = os.path.join(tmp, name)
    subprocess.run([sys.executable, os.path.join(HERE, "gen_trail.py"), out] + list(flags),
                   check=True, capture_output=True)
    with open(os.path.join(out, "planted.json")) as f:
        return out, json.load(f)


def findings(out):
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def keyset(fs):
    return sorted((f["finding"], f["severity"], f.get("session_name", f.get("role", "")))
                  for f in fs)


def reconcile_dir(day, *extra):
    p = ctl("reconcile", "--audit", os.path.join(day, "audit.log"), "--dir",
            os.path.join(day, "trail"), "--jsonl", "-", *extra)
    return p, findings(p.stdout)


def check_planted(fs, planted):
    got = [f for f in fs if f["finding"] != "revoke.delay"]
    for want in planted:
        hits = [f for f in got if f["finding"] == want["finding"] and
                f.get("session_name") == want["session_name"]]
        check(len(hits) == 1, "%s for %s found %d times: %s" % (
            want["finding"], want["session_name"], len(hits), json.dumps(got)[:1500]))
        check(hits[0]["severity"] == want["severity"], "%s: severity %s, want %s" % (
            want["finding"], hits[0]["severity"], want["severity"]))
        for k in ("delay_s", "reason", "approvers"):
            if k in want:
                check(abs(hits[0].get(k, -1) - want[k]) < 0.5 if k == "delay_s"
                      else hits[0].get(k) == want[k], "%s: %s is %r, want %r" % (
                          want["finding"], k, hits[0].get(k), want[k]))
    check(len(got) == len(planted), "%d findings, %d planted: %s" % (
        len(got), len(planted), json.dumps(got)[:2000]))


# -- directory mode -----------------------------------------------------------

def t_audit_chain_valid(day):
    p = ctl("audit", "verify", os.path.join(day, "audit.log"))
    check(p.returncode == 0, "generated audit log does not verify: " + p.stdout + p.stderr)


def t_planted_found(day, planted):
    p, fs = reconcile_dir(day)
    check(p.returncode == 2, "exit %d, want 2 (critical): %s" % (p.returncode, p.stderr))
    check_planted(fs, planted["planted"])
    delays = [f for f in fs if f["finding"] == "revoke.delay"]
    check(len(delays) == 1 and delays[0]["role"] == "SecurityAuditRole" and
          delays[0]["sessions"] == 1 and abs(delays[0]["p50_s"] - 6.8) < 0.01,
          "delay distribution: %r" % delays)
    # the human summary goes to stderr when the lines go to stdout
    check("findings: 2 critical, 3 warning, 1 info" in p.stderr, "summary: " + p.stderr)
    # the stolen-credential AssumeRole is logged in both accounts: one finding, counted once
    unmatched = [f for f in fs if f["finding"] == "assume.unmatched"]
    check(unmatched[0]["count"] == 1 and unmatched[0]["account"] == "222222222222",
          "cross-account copies: %r" % unmatched)
    # --grace: erin's call 300 s after the deny is a warning with a longer grace
    p, fs = reconcile_dir(day, "--grace", "400")
    erin = [f for f in fs if f.get("session_name", "").startswith("erin@")]
    check(p.returncode == 2 and erin[0]["severity"] == "warning", "--grace 400: %r" % erin)
    p, fs = reconcile_dir(day, "--quiet")
    check(p.stderr == "", "--quiet still prints: " + p.stderr)


def t_clean_day(day):
    p, fs = reconcile_dir(day)
    check(p.returncode == 0, "clean day exit %d: %s" % (p.returncode, p.stderr))
    check(fs == [], "clean day has findings: %r" % fs)
    p = ctl("reconcile", "--audit", os.path.join(day, "audit.log"), "--dir",
            os.path.join(day, "trail"))
    check(p.returncode == 0 and "findings: 0 critical, 0 warning, 0 info" in p.stdout,
          "summary: " + p.stdout + p.stderr)


def t_window(day):
    # Before the planted part of the day (t1 = 11:00): nothing to find.
    p, fs = reconcile_dir(day, "--from", "2026-12-05T07:00:00Z", "--to", "2026-12-05T10:59:00Z")
    check(p.returncode == 0 and fs == [], "window before the plants: %d %r" % (p.returncode, fs))


def t_tampered_audit(tmp, day):
    bad = os.path.join(tmp, "tampered.log")
    lines = open(os.path.join(day, "audit.log")).read().splitlines(True)
    lines[3] = lines[3].replace('"alice"', '"alicf"', 1)
    check(lines[3] != open(os.path.join(day, "audit.log")).read().splitlines(True)[3],
          "nothing replaced")
    with open(bad, "w") as f:
        f.writelines(lines)
    os.chmod(bad, 0o600)
    p = ctl("reconcile", "--audit", bad, "--dir", os.path.join(day, "trail"), "--jsonl", "-")
    fs = findings(p.stdout)
    check(p.returncode == 2 and any(f["finding"] == "audit.chain" and f["severity"] == "critical"
                                    for f in fs), "tampered log: %d %r" % (p.returncode, fs))


def t_bad_files(tmp, day):
    d = os.path.join(tmp, "badfiles")
    shutil.copytree(os.path.join(day, "trail"), d)
    first = sorted(glob.glob(os.path.join(d, "**", "*.json.gz"), recursive=True))[0]
    with open(first, "r+b") as f:
        f.truncate(20)
    with open(os.path.join(d, "notes.json"), "w") as f:
        f.write('{"not": "a trail"}')
    # a plain (not gzip) CloudTrail file is read too
    with open(os.path.join(d, "plain.json"), "w") as f:
        json.dump({"Records": []}, f)
    p = ctl("reconcile", "--audit", os.path.join(day, "audit.log"), "--dir", d)
    check(p.returncode in (0, 2), "exit %d: %s" % (p.returncode, p.stderr))
    check("(2 unreadable)" in p.stdout, "unreadable files not counted: " + p.stdout)
    check(first in p.stderr and "notes.json" in p.stderr, "bad files not named: " + p.stderr)


def t_usage(day):
    p = ctl("reconcile", "--dir", "x", "--s3", "s3://b/p", "--audit", "a")
    check(p.returncode == 64, "two modes: exit %d" % p.returncode)
    p = ctl("reconcile", "--audit", os.path.join(day, "audit.log"), "--dir", day,
            "--from", "yesterday")
    check(p.returncode == 64, "bad --from: exit %d" % p.returncode)
    p = ctl("report", "--audit", os.path.join(day, "audit.log"), "--dir", day)
    check(p.returncode == 64, "report without --html: exit %d" % p.returncode)


def t_systemd_units(tmp):
    """examples/bastion's daily timer and its service pass systemd-analyze verify."""
    sa = shutil.which("systemd-analyze")
    if sa is None:
        raise Skip("systemd-analyze not installed")
    d = os.path.join(tmp, "units")
    os.makedirs(d, exist_ok=True)
    for n in ("stsrole-reconcile.service", "stsrole-reconcile.timer"):
        text = open(os.path.join(TOP, "examples", "bastion", n)).read()
        with open(os.path.join(d, n), "w") as f:  # the binary as built, not as installed
            f.write(text.replace("/usr/bin/stsrolectl", CTL))
    p = subprocess.run([sa, "verify", "--man=no"] + [os.path.join(d, n) for n in (
        "stsrole-reconcile.service", "stsrole-reconcile.timer")], capture_output=True, text=True)
    check(p.returncode == 0, "systemd-analyze verify: " + p.stdout + p.stderr)
    check("reconcile --s3 " in open(os.path.join(d, "stsrole-reconcile.service")).read(),
          "the service does not run reconcile")


# -- the HTML report ----------------------------------------------------------

def chromium(url, *flags, timeout=120):
    prof = tempfile.mkdtemp(prefix="stsrole-chromium-")
    try:
        return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                               "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", "--no-first-run", "--user-data-dir=" + prof]
                              + list(flags) + [url], capture_output=True, text=True,
                              timeout=timeout)
    finally:
        shutil.rmtree(prof, ignore_errors=True)


def t_report(tmp, day, planted):
    if CHROMIUM is None:
        raise Skip("chromium not installed (apt-get install chromium)")
    # A call whose errorCode is markup: it must stay text on the page.
    evil = os.path.join(tmp, "evil")
    shutil.copytree(os.path.join(day, "trail"), evil)
    audit = open(os.path.join(day, "audit.log")).read()
    alice = re.search(r'"session_name":"(alice@[^"]+)"', audit).group(1)
    rec = json.loads(gzip.open(sorted(glob.glob(os.path.join(evil, "**", "*.json.gz"),
                                                recursive=True))[0]).read())["Records"][0]
    rec = copy.deepcopy(rec)
    rec["userIdentity"] = gen_trail.Trail(gen_trail.Rng(1)).identity(
        "SecurityAuditRole", alice, "alice")
    rec["eventTime"] = "2026-12-05T08:05:00Z"
    rec["errorCode"] = '<img src=x onerror="document.title=\'pwned\'"></script><b>x'
    d = os.path.join(evil, "AWSLogs", "222222222222", "CloudTrail", "us-east-1", "2026", "12",
                     "05")
    with gzip.open(os.path.join(d, "222222222222_CloudTrail_us-east-1_20261205T0810Z_evil.json.gz"),
                   "wb") as f:
        f.write(json.dumps({"Records": [rec]}).encode())
    html = os.path.join(tmp, "report.html")
    p = ctl("report", "--audit", os.path.join(day, "audit.log"), "--dir", evil, "--html", html)
    check(p.returncode == 0, "report exit %d: %s" % (p.returncode, p.stderr))
    check(os.stat(html).st_mode & 0o077 == 0, "report is readable by others")
    text = open(html).read()
    check(not re.search(r'(src|href)\s*=\s*["\']?\s*(https?:)?//', text) and "<link" not in text,
          "the page refers to something outside itself")
    check("</script><b>" not in text, "a value closed the data island")
    check("Content-Security-Policy\" content=\"default-src 'none'" in text, "no CSP")
    dom = chromium("file://" + html, "--dump-dom").stdout
    check('data-ready="1"' in dom, "the page's script did not run: " + dom[-500:])
    sessions = re.findall(r'<div class="session"[^>]*>\s*<h3>([^<]*)</h3>', dom)
    want = {"alice as SecurityAuditRole in 222222222222", "bob as IncidentResponseRole in "
            "222222222222", "carol as SecurityAuditRole in 222222222222",
            "dave as SecurityAuditRole in 222222222222", "erin as IncidentResponseRole in "
            "222222222222", "frank as SecurityAuditRole in 222222222222",
            "grace as IncidentResponseRole in 222222222222"}
    check(set(sessions) == want, "sessions on the page: %r" % sessions)
    for want_f in planted["planted"]:
        check(re.search(r'<tr class="%s"[^>]*>.*?<td>%s</td>.*?<td>%s</td>' % (
            want_f["severity"], re.escape(want_f["finding"]), re.escape(want_f["session_name"])),
            dom), "finding %s for %s not on the page" % (want_f["finding"],
                                                          want_f["session_name"]))
    check("<img" not in dom and "pwned" not in re.sub(r"&[a-z]+;", "", dom.split("<body")[0]),
          "the errorCode became markup")
    check("&lt;img src=x" in dom, "the errorCode is not shown as text")
    for sel in ("f-person", "f-role", "f-account"):
        check('id="%s"' % sel in dom, "filter %s missing" % sel)
    check("<option>grace</option>" in dom and "<option>IncidentResponseRole</option>" in dom,
          "filters lack their values")
    # refresh: carol's session shows the refreshed credential's call
    check(re.search(r"refresh\s+credential refreshed", dom), "no refresh on carol's timeline")
    os.makedirs(ARTEFACTS, exist_ok=True)
    shot = os.path.join(ARTEFACTS, "report.png")
    if os.path.exists(shot):
        os.unlink(shot)
    chromium("file://" + html, "--window-size=1400,2400", "--screenshot=" + shot)
    check(os.path.getsize(shot) > 10000, "no screenshot")
    print("# screenshot: %s" % shot)


def t_report_filter(tmp):
    """The person filter hides the other people's sessions (clicked in the browser)."""
    if CHROMIUM is None:
        raise Skip("chromium not installed")
    html = os.path.join(tmp, "report.html")
    page = open(html).read().replace(
        "document.body.dataset.ready='1';",
        "document.getElementById('f-person').value='dave';apply();"
        "document.body.dataset.ready='1';")
    filtered = os.path.join(tmp, "filtered.html")
    with open(filtered, "w") as f:
        f.write(page)
    dom = chromium("file://" + filtered, "--dump-dom").stdout
    shown = re.findall(r'<div class="session"[^>]*>\s*<h3>([^<]*)</h3>', dom)
    check(shown == ["dave as SecurityAuditRole in 222222222222"], "shown: %r" % shown)
    rows = re.findall(r'<tr class="(critical|warning|info)"[^>]*>', dom)
    check(len(rows) == 1, "finding rows shown for dave: %r" % rows)


# -- S3 and Athena against moto ----------------------------------------------

def moto_setup(tmp, day):
    from mototest import Moto, SECURITY_ACCOUNT, REGION
    m = Moto(log=os.path.join(tmp, "moto.log"))
    m.start()
    iam = m.client("iam", SECURITY_ACCOUNT)
    iam.create_user(UserName="reconciler")
    iam.put_user_policy(UserName="reconciler", PolicyName="read-trail", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket",
                                                     "athena:*"], "Resource": "*"}]}))
    key = iam.create_access_key(UserName="reconciler")["AccessKey"]
    s3 = m.client("s3", SECURITY_ACCOUNT)
    s3.create_bucket(Bucket=BUCKET)
    top = os.path.join(day, "trail")
    n = 0
    for path in glob.glob(os.path.join(top, "**", "*.json.gz"), recursive=True):
        with open(path, "rb") as f:
            s3.put_object(Bucket=BUCKET, Key=os.path.relpath(path, top), Body=f.read())
        n += 1
    # Empty files from other days and other prefixes, so the listing takes
    # more than one page (1000 keys) and the date filter has work to do.
    empty = gzip.compress(b'{"Records":[]}')
    for i in range(1050 - n):
        s3.put_object(Bucket=BUCKET, Body=empty, Key="AWSLogs/222222222222/CloudTrail/us-east-1/"
                      "2026/11/%02d/222222222222_CloudTrail_us-east-1_x%04d.json.gz"
                      % (1 + i % 28, i))
    s3.put_object(Bucket=BUCKET, Key="AWSLogs/222222222222/CloudTrail-Digest/x.json.gz",
                  Body=b"not a trail file")
    m.enable_auth()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_ACCESS_KEY_ID"] = key["AccessKeyId"]
    env["AWS_SECRET_ACCESS_KEY"] = key["SecretAccessKey"]
    conf = os.path.join(tmp, "stsrole.conf")
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("[stsrole]\nregion = %s\nsts_endpoint = %s\niam_endpoint = %s\n"
                "credentials = env\naudit_log = %s\n\n[role audit]\narn = %s\nusers = alice\n\n"
                "[role ir]\narn = %s\nusers = bob\n" % (
                    REGION, m.url, m.url, os.path.join(day, "audit.log"),
                    gen_trail.ROLES["SecurityAuditRole"], gen_trail.ROLES["IncidentResponseRole"]))
    return m, env, conf, key


def t_s3(m, env, conf, day, planted):
    # The prefix has no '/': moto 5.2 checks a signature over the decoded
    # query, so "prefix=AWSLogs%2F" fails there even from boto3 (real S3
    # takes it; test_s3.c signs such a query as botocore does).
    p = ctl("reconcile", "--config", conf, "--s3", "s3://%s/AWSLogs" % BUCKET, "--endpoint",
            m.url, "--from", "2026-12-05", "--to", "2026-12-06", "--jsonl", "-", env=env)
    check(p.returncode == 2, "s3 exit %d: %s" % (p.returncode, p.stderr))
    check_planted([f for f in findings(p.stdout)], planted["planted"])
    _, dir_fs = reconcile_dir(day)
    check(keyset(findings(p.stdout)) == keyset(dir_fs), "S3 and directory modes differ")
    n = planted["files"]
    check("from %d files" % n in p.stderr, "files read: %s (want %d; November's skipped by "
          "date)" % (p.stderr.splitlines()[0], n))


def t_s3_default_window(m, env, conf):
    """Without --from/--to, S3 mode reads the last 24 hours."""
    p = ctl("reconcile", "--config", conf, "--s3", "s3://%s/AWSLogs" % BUCKET, "--endpoint",
            m.url, env=env)
    check(p.returncode in (0, 2), "exit %d: %s" % (p.returncode, p.stderr))
    w = re.search(r"window: (\S+) \.\. (\S+);", p.stdout)
    import datetime as dt
    parse = lambda s: dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    now = dt.datetime.utcnow()
    check(w and abs((parse(w.group(2)) - now).total_seconds()) < 300 and
          parse(w.group(2)) - parse(w.group(1)) == dt.timedelta(hours=24),
          "window: " + p.stdout.splitlines()[1])


def t_s3_wrong_secret(m, env, conf):
    bad = dict(env, AWS_SECRET_ACCESS_KEY="wrong" + env["AWS_SECRET_ACCESS_KEY"][5:])
    p = ctl("reconcile", "--config", conf, "--s3", "s3://%s/AWSLogs" % BUCKET, "--endpoint",
            m.url, env=bad)
    check(p.returncode in (65, 77), "wrong secret: exit %d: %s" % (p.returncode, p.stderr))
    check("SignatureDoesNotMatch" in p.stderr or "denied" in p.stderr.lower(),
          "wrong secret: " + p.stderr)


def athena_answers(day, frm, to):
    """What Athena would answer to examples/aws/athena's three queries."""
    recs = []
    for path in glob.glob(os.path.join(day, "trail", "**", "*.json.gz"), recursive=True):
        recs += json.loads(gzip.open(path).read())["Records"]
    recs = [r for r in recs if frm <= r["eventTime"] <= to]
    roles = set(gen_trail.ROLES)
    name = lambda arn: arn.rsplit("/", 1)[-1] if arn else None  # noqa: E731
    head = lambda *cols: {"Data": [{"VarCharValue": c} for c in cols]}  # noqa: E731

    def row(*cells):
        return {"Data": [{"VarCharValue": c} if c is not None else {} for c in cells]}

    assume = [head("eventtime", "eventid", "recipientaccountid", "sourceipaddress", "errorcode",
                   "arn", "_col6", "_col7", "_col8")]
    for r in recs:
        rp = r.get("requestParameters") or {}
        if r["eventSource"] == "sts.amazonaws.com" and r["eventName"] == "AssumeRole" and \
                name(rp.get("roleArn")) in roles:
            assume.append(row(r["eventTime"], r["eventID"], r["recipientAccountId"],
                              r["sourceIPAddress"], r.get("errorCode"),
                              r["userIdentity"].get("arn"), rp.get("roleArn"),
                              rp.get("roleSessionName"), rp.get("sourceIdentity")))
    groups = {}
    for r in recs:
        ui = r["userIdentity"]
        if ui.get("type") != "AssumedRole":
            continue
        issuer = ui["sessionContext"]["sessionIssuer"]
        if issuer["userName"] not in roles:
            continue
        k = (issuer["arn"], name(ui["arn"]), ui["sessionContext"].get("sourceIdentity"),
             r["recipientAccountId"])
        g = groups.setdefault(k, [0, r["eventTime"], r["eventTime"]])
        g[0] += 1
        g[1] = min(g[1], r["eventTime"])
        g[2] = max(g[2], r["eventTime"])
    sessions = [head("arn", "_col1", "sourceidentity", "recipientaccountid", "_col4", "_col5",
                     "_col6")]
    for k, (n, lo, hi) in sorted(groups.items()):
        sessions.append(row(k[0], k[1], k[2], k[3], str(n), lo, hi))
    # Revoked sessions and the second of their deny (a refresh goes with its login).
    revoked = {}
    audit = [json.loads(line) for line in open(os.path.join(day, "audit.log"))]
    deny = {a["session_id"]: a["ts"][:19] + "Z" for a in audit if a["event"] == "revoke.ok"}
    for a in audit:
        if a["event"] == "revoke.ok":
            revoked[a["session_name"]] = a["ts"][:19] + "Z"
        if a["event"] == "refresh.ok":
            parent = re.match(r"credential for session ([0-9a-f]+)", a["detail"]).group(1)
            if parent in deny:
                revoked[a["session_name"]] = deny[parent]
    calls = [head("eventtime", "eventsource", "eventname", "errorcode", "arn", "arn",
                  "sourceidentity", "recipientaccountid", "eventid")]
    for r in recs:
        ui = r["userIdentity"]
        if ui.get("type") == "AssumedRole" and name(ui["arn"]) in revoked and \
                r["eventTime"] >= revoked[name(ui["arn"])]:
            calls.append(row(r["eventTime"], r["eventSource"], r["eventName"], r.get("errorCode"),
                             ui["arn"], ui["sessionContext"]["sessionIssuer"]["arn"],
                             ui["sessionContext"].get("sourceIdentity"), r["recipientAccountId"],
                             r["eventID"]))
    return [assume, sessions, calls], revoked


def expected_sql(name, fill):
    text = open(os.path.join(TOP, "examples", "aws", "athena", name + ".sql")).read()
    text = "".join(line + "\n" for line in text.splitlines() if not line.startswith("--"))
    for k, v in fill.items():
        text = text.replace("{%s}" % k, v)
    return text


def t_athena(m, env, conf, day, planted, key):
    from mototest import SECURITY_ACCOUNT, REGION
    frm, to = "2026-12-05T00:00:00Z", "2026-12-06T00:00:00Z"
    answers, revoked = athena_answers(day, frm, to)
    body = json.dumps({"account_id": SECURITY_ACCOUNT, "region": REGION, "results": [
        {"rows": rows, "column_info": []} for rows in answers]}).encode()
    req = urllib.request.Request(m.url + "/moto-api/static/athena/query-results", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        check(r.status == 201, "queueing Athena results: %d" % r.status)
    p = ctl("reconcile", "--config", conf, "--athena", "--endpoint", m.url, "--database",
            "security", "--table", "cloudtrail_logs", "--output", "s3://athena-results/recon/",
            "--from", frm, "--to", to, "--jsonl", "-", env=env)
    check(p.returncode == 2, "athena exit %d: %s" % (p.returncode, p.stderr))
    fs = findings(p.stdout)
    check_planted(fs, planted["planted"])
    _, dir_fs = reconcile_dir(day)
    check(keyset(fs) == keyset(dir_fs), "Athena and directory modes differ:\n%r\n%r" % (
        keyset(fs), keyset(dir_fs)))
    # The queries sent are examples/aws/athena's, filled in.
    import boto3
    ath = boto3.client("athena", region_name=REGION, endpoint_url=m.url,
                       aws_access_key_id=key["AccessKeyId"],
                       aws_secret_access_key=key["SecretAccessKey"])
    sent = [ath.get_query_execution(QueryExecutionId=i)["QueryExecution"]
            for i in ath.list_query_executions()["QueryExecutionIds"]]
    sent = [q for q in sent if q.get("ResultConfiguration", {}).get("OutputLocation", "")
            .startswith("s3://athena-results/recon/")]
    got = sorted(q["Query"] for q in sent)
    fill = {"table": "cloudtrail_logs", "from": frm, "to": to, "from_day": "2026/12/05",
            "to_day": "2026/12/06", "roles": "'SecurityAuditRole', 'IncidentResponseRole'",
            "revoked": ", ".join("('%s', '%s')" % kv for kv in revoked.items())}
    want = sorted(expected_sql(n, fill) for n in ("assume", "sessions", "revoked"))
    check(len(got) == 3, "%d queries sent" % len(got))
    # Lists may come in another order: compare them sorted.
    norm = lambda q: re.sub(r"(IN|VALUES) \((.*)\)( AS|$)", lambda mm: "%s (%s)%s" % (  # noqa: E731
        mm.group(1), ",".join(sorted(x.strip() for x in re.split(r",(?![^(]*\))", mm.group(2)))),
        mm.group(3)), q, flags=re.M)
    check([norm(q) for q in got] == [norm(q) for q in want],
          "queries differ from examples/aws/athena:\n%s\n---\n%s" % (got, want))
    # report --athena: the timelines hold only the revoked sessions' calls.
    with urllib.request.urlopen(urllib.request.Request(
            m.url + "/moto-api/static/athena/query-results", data=body, method="POST",
            headers={"Content-Type": "application/json"}), timeout=30) as r:
        check(r.status == 201, "queueing Athena results again: %d" % r.status)
    html = os.path.join(os.path.dirname(conf), "athena.html")
    p = ctl("report", "--config", conf, "--athena", "--endpoint", m.url, "--database",
            "security", "--from", frm, "--to", to, "--html", html, env=env)
    check(p.returncode == 0, "report --athena exit %d: %s" % (p.returncode, p.stderr))
    island = open(html).read().split('id="data">', 1)[1].split("</script>", 1)[0]
    data = json.loads(island)
    kinds = {s["user"]: sorted({e["kind"] for e in s["timeline"]}) for s in data["sessions"]}
    check("refused" in kinds["dave"] and "call" not in kinds["alice"],
          "report --athena timelines: %r" % kinds)
    check(all(q["QueryExecutionContext"].get("Database") == "security" and
              q["ResultConfiguration"]["OutputLocation"].startswith("s3://athena-results/recon/")
              for q in sent), "database or output location not sent: %r" % [
                  (q.get("QueryExecutionContext"), q.get("ResultConfiguration")) for q in sent])


def main():
    suite = Suite("reconcile")
    if not os.access(CTL, os.X_OK):
        print("skipped: %s not built" % CTL)
        return 77
    tmp = tempfile.mkdtemp(prefix="stsrole-reconcile-")
    day, planted = generate(tmp, "day")
    clean, _ = generate(tmp, "clean", "--clean")
    suite.case("generated audit log verifies", t_audit_chain_valid, day)
    suite.case("each planted finding is found once (directory)", t_planted_found, day, planted)
    suite.case("a clean day shows no finding, exit 0", t_clean_day, clean)
    suite.case("--from/--to limit the window", t_window, day)
    suite.case("a tampered audit log is a critical finding", t_tampered_audit, tmp, day)
    suite.case("corrupt and foreign files are skipped and named", t_bad_files, tmp, day)
    suite.case("usage errors exit 64", t_usage, day)
    suite.case("the daily timer and service verify", t_systemd_units, tmp)
    suite.case("HTML report in headless Chromium", t_report, tmp, day, planted)
    suite.case("HTML report filters by person", t_report_filter, tmp)
    if shutil.which("moto_server") is None:
        suite.case("S3 and Athena modes", lambda: (_ for _ in ()).throw(
            Skip("moto_server not on PATH")))
    else:
        m, env, conf, key = moto_setup(tmp, day)
        try:
            suite.case("S3 mode (moto, SigV4 checked, 2 listing pages) finds the same",
                       t_s3, m, env, conf, day, planted)
            suite.case("S3 mode defaults to the last 24 hours", t_s3_default_window, m, env,
                       conf)
            suite.case("S3 mode with a wrong secret is refused", t_s3_wrong_secret, m, env, conf)
            suite.case("Athena mode (moto's canned results) finds the same", t_athena, m, env,
                       conf, day, planted, key)
        finally:
            m.stop()
    rc = suite.finish()
    if rc == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("# kept %s" % tmp)
    return rc


if __name__ == "__main__":
    sys.exit(main())
