#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/multi/run.sh: role templates over many accounts (moto), one real sshd login, a profile
# per role minted on demand, step-up, every account revoked at logout.
# Usage: tests/multi/run.sh [BUILDDIR]   (MULTI_ACCOUNTS=N, default 100)
# Prints one line per case and "multi: N passed, N failed".  Exit 0 pass, 1 fail, 77 skipped.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export STSROLE_BUILD=${1:-${STSROLE_BUILD:-$top/build}}
export STSROLE_BUILD=$(cd "$STSROLE_BUILD" 2>/dev/null && pwd) || {
    echo "skipped: multi: no build directory"; echo "multi: 0 passed, 0 failed"; exit 77; }
exec python3 "$here/test_multi.py"
