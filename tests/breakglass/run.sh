#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/breakglass/run.sh: break-glass (#15) through a real sshd with three people: a request
# with a reason, the approval from another session, the AWS call with stsrole:reason and
# stsrole:approvers, refusals, a timeout, notify, and the revocation at logout.
# Runs test_gateway_bg.py (the gateway's side, when present) and then test_sshd_bg.py.
# Usage: tests/breakglass/run.sh [BUILDDIR]
# Prints one line per case and "NAME: N passed, N failed" per script.  Exit 0 pass, 1 fail,
# 77 when every script skipped.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export STSROLE_BUILD=${1:-${STSROLE_BUILD:-$top/build}}
export STSROLE_BUILD=$(cd "$STSROLE_BUILD" 2>/dev/null && pwd) || {
    echo "skipped: breakglass: no build directory"; echo "breakglass-sshd: 0 passed, 0 failed"; exit 77; }
rcs=()
for t in test_gateway_bg.py test_sshd_bg.py; do
    [ -f "$here/$t" ] || continue
    python3 "$here/$t"
    rcs+=($?)
done
skipped=1
for rc in "${rcs[@]}"; do
    case $rc in
    0) skipped=0 ;;
    77) ;;
    *) exit 1 ;;
    esac
done
[ $skipped = 0 ] || exit 77
exit 0
