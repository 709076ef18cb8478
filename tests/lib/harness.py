"""harness.py: the tiny runner the python suites share: one line per case, a count at the end."""
import sys
import traceback


class Skip(Exception):
    """Raise with a reason to report a case as skipped."""


class Suite:
    def __init__(self, name):
        self.name = name
        self.passed = self.failed = self.skipped = 0

    def case(self, name, fn, *args, **kw):
        try:
            fn(*args, **kw)
        except Skip as e:
            self.skipped += 1
            print("skip - %s: %s" % (name, e), flush=True)
        except Exception as e:  # noqa: BLE001 - a failing case must not stop the suite
            self.failed += 1
            print("not ok - %s: %s" % (name, e), flush=True)
            if not isinstance(e, AssertionError):
                traceback.print_exc(limit=3)
        else:
            self.passed += 1
            print("ok - %s" % name, flush=True)

    def finish(self):
        line = "%s: %d passed, %d failed" % (self.name, self.passed, self.failed)
        if self.skipped:
            line += ", %d skipped" % self.skipped
        print(line, flush=True)
        if self.failed:
            return 1
        if self.passed == 0 and self.skipped:
            return 77
        return 0


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
