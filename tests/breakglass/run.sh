#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/breakglass/run.sh: break-glass (#15) through a real sshd with three people: a request
# with a reason, the approval from another session, the AWS call with stsrole:reason and
# stsrole:approvers, refusals, a timeout, notify, and the revocation at logout.
# (The gateway's side without sshd is test_gateway_bg.py, a suite of its own in tests/run.)
# Usage: tests/breakglass/run.sh [BUILDDIR]
# Prints one line per case and "breakglass-sshd: N passed, N failed".  Exit 0 pass, 1 fail,
# 77 skipped.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export STSROLE_BUILD=${1:-${STSROLE_BUILD:-$top/build}}
export STSROLE_BUILD=$(cd "$STSROLE_BUILD" 2>/dev/null && pwd) || {
    echo "skipped: breakglass: no build directory"; echo "breakglass-sshd: 0 passed, 0 failed"; exit 77; }
exec python3 "$here/test_sshd_bg.py"
