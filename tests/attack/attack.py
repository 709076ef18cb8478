#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""attack.py: the attack suite.  Each case is what a local user without root, holding an
ordinary shell on the bastion, would try; each must be refused.

Usage: python3 tests/attack/attack.py [BUILDDIR] [CASE-SUBSTRING...]

Cases live in tests/attack/case_*.py, one module per attack surface.  A module
defines any number of functions decorated with @case("what is tried"), each
taking the Context below; a function raises harness.Skip("why") when its
prerequisite is missing, and fails with an AssertionError (harness.check).
A module may define fixture(ctx) as a context manager for state its cases
share (a namespace, an sshd); the cases of that module then get it as
ctx.fixture.  When the fixture itself cannot be built it raises Skip and
every case of the module is reported skipped with that reason.

Prints one line per case and "attack: N passed, N failed[, N skipped]"; exits 77
when every case was skipped (e.g. no network namespaces in this container).
"""
import contextlib
import glob
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, HERE)

from harness import Skip, Suite  # noqa: E402
from attacklib import CASES, Context  # noqa: E402


def load_modules():
    mods = []
    for path in sorted(glob.glob(os.path.join(HERE, "case_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # a case module may build on another's fixture (import it)
        spec.loader.exec_module(mod)
        mods.append(mod)
    return mods


def main():
    args = sys.argv[1:]
    builddir = args.pop(0) if args and os.path.isdir(args[0]) else os.environ.get(
        "STSROLE_BUILD", os.path.join(TOP, "build"))
    ctx = Context(top=TOP, build=os.path.abspath(builddir))
    suite = Suite("attack")
    for mod in load_modules():
        cases = [(n, f) for (m, n, f) in CASES if m == mod.__name__
                 and (not args or any(a in n for a in args))]
        if not cases:
            continue
        fixture = getattr(mod, "fixture", None)
        try:
            with (fixture(ctx) if fixture else contextlib.nullcontext()) as fx:
                ctx.fixture = fx
                for name, fn in cases:
                    suite.case(name, fn, ctx)
        except Skip as e:
            for name, _ in cases:
                suite.case(name, _raise, Skip(str(e)))
        ctx.fixture = None
    rc = suite.finish()
    if rc == 77:
        print("skipped: attack: no case could run here (reasons above)")
    return rc


def _raise(e):
    raise e


if __name__ == "__main__":
    sys.exit(main())
