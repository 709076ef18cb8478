# SPDX-License-Identifier: BSD-3-Clause
"""attacklib.py: what the attack cases share: the @case registry and the run context."""
import os
import pwd
import subprocess

CASES = []  # (module name, case name, function), in definition order


def case(name):
    """Registers the decorated function as one attack case named name."""
    def register(fn):
        CASES.append((fn.__module__, name, fn))
        return fn
    return register


class Context:
    def __init__(self, top, build):
        self.top = top      # the source tree
        self.build = build  # the build tree (STSROLE_BUILD)
        self.fixture = None  # what the module's fixture() yielded

    def path(self, *parts):
        return os.path.join(self.top, *parts)


def as_user_argv(user):
    """The setpriv prefix that runs a command as user: uid, gid and groups of
    that user, no new privileges (what a login shell of that user has)."""
    pw = pwd.getpwnam(user)
    return ["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid), "--init-groups",
            "--no-new-privs"]


def as_user(user, argv, **kw):
    """argv run as user (see as_user_argv), output captured."""
    return subprocess.run(as_user_argv(user) + argv, capture_output=True, text=True,
                          timeout=30, **kw)
