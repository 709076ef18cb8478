# SPDX-License-Identifier: BSD-3-Clause
"""harness.py: what every python suite shares: one line per case, a count at the end, and the
chores (the build directory, temporary directories, TOTP codes, free ports, bounded waits).

    from harness import Suite, Skip, check
    S = Suite("pam")
    S.case("a case", fn)                # fn raises AssertionError (check) or Skip
    S.result("another", ok, why)        # or report a verdict computed in place
    sys.exit(S.finish())                # 0 all passed, 1 a failure, 77 all skipped

Environment, the same for every suite:
  STSROLE_BUILD     the build directory (default: build/ under the source tree)
  STSROLE_KEEP_TMP  1: keep the temporary directories (their paths are printed)
Exit 77 means skipped, everywhere.
"""
import os
import shutil
import socket
import subprocess
import threading
import time
import traceback

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIPPED = 77


class Skip(Exception):
    """Raise with a reason to report a case as skipped."""


class Suite:
    """Counts and prints verdicts; safe to use from several threads."""

    def __init__(self, name):
        self.name = name
        self.passed = self.failed = self.skipped = 0
        self._lock = threading.Lock()

    def result(self, name, ok, why=""):
        with self._lock:
            if ok:
                self.passed += 1
                print("ok - %s" % name, flush=True)
            else:
                self.failed += 1
                why = str(why)
                if len(why) > 4000:
                    why = "..." + why[-4000:]
                print("not ok - %s%s" % (name, (": " + why) if why else ""), flush=True)
        return bool(ok)

    def skip(self, name, why):
        with self._lock:
            self.skipped += 1
            print("skip - %s: %s" % (name, why), flush=True)

    def case(self, name, fn, *args, **kw):
        try:
            fn(*args, **kw)
        except Skip as e:
            self.skip(name, e)
        except Exception as e:  # noqa: BLE001 - a failing case must not stop the suite
            self.result(name, False, e)
            if not isinstance(e, AssertionError):
                traceback.print_exc(limit=3)
        else:
            self.result(name, True)

    def skip_all(self, why):
        """The whole suite cannot run here: says why; returns the exit status (77)."""
        print("skipped: %s: %s" % (self.name, why), flush=True)
        print("%s: 0 passed, 0 failed" % self.name, flush=True)
        return SKIPPED

    def finish(self):
        line = "%s: %d passed, %d failed" % (self.name, self.passed, self.failed)
        if self.skipped:
            line += ", %d skipped" % self.skipped
        print(line, flush=True)
        if self.failed:
            return 1
        if self.passed == 0:
            return SKIPPED
        return 0


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


# -- the build and temporary directories ----------------------------------------------------

def build_dir(arg=None):
    """The build directory: an explicit argument, else $STSROLE_BUILD, else build/."""
    return os.path.abspath(arg or os.environ.get("STSROLE_BUILD") or os.path.join(TOP, "build"))


def keep_tmp():
    return os.environ.get("STSROLE_KEEP_TMP") == "1"


def rmtree_unless_kept(path):
    """Removes a temporary directory, or says where it is kept (STSROLE_KEEP_TMP=1)."""
    if keep_tmp():
        print("kept %s" % path, flush=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


# -- TOTP, ports, waits -----------------------------------------------------------------------

def totp(secret, step=0, at=None):
    """A TOTP (T30) code of a hex secret, from oathtool (independent of liboath's validator):
    now + step time steps, or of the absolute time step `at`."""
    args = ["oathtool", "--totp", secret]
    if at is not None:
        args += ["-N", "@%d" % (at * 30)]
    elif step:
        args += ["-N", "%+d sec" % (30 * step)]
    return subprocess.check_output(args, text=True).strip()


def wrong_code(secret, steps=10):
    """A 6-digit code that no time step within +-steps of now produces for secret."""
    near = {totp(secret, s) for s in range(-steps, steps + 1)}
    for n in range(1000000):
        c = "%06d" % ((int(time.time()) * 7919 + n) % 1000000)
        if c not in near:
            return c
    raise RuntimeError("unreachable")


def free_port():
    """A loopback port that was free a moment ago (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=15.0, what="condition", interval=0.05):
    """Polls pred until it returns something true; bounded by timeout."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)
