#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/longsess/run.sh: credentials_mode = process (long sessions) against moto: pam_stsrole
# opens sessions, stsrole-gatewayd refreshes and serves them, the AWS CLI v2 and boto3 use them;
# then a real sshd end to end.  Prints one line per case and "longsess: N passed, N failed".
# Usage: tests/longsess/run.sh [BUILDDIR]   Exit 0 pass, 1 fail, 77 skipped.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export STSROLE_BUILD=${1:-${STSROLE_BUILD:-$top/build}}
export STSROLE_BUILD=$(cd "$STSROLE_BUILD" 2>/dev/null && pwd) || {
    echo "skipped: longsess: no build directory"; echo "longsess: 0 passed, 0 failed"; exit 77; }
export STSROLECTL=${STSROLECTL:-$STSROLE_BUILD/gateway/stsrolectl}

# boto3 as the session's user: root's pyenv is out of its reach, Debian's python3-boto3 is not.
if [ "$(id -u)" = 0 ] && ! /usr/bin/python3 -c 'import boto3' 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3-boto3 >/dev/null 2>&1 || echo "note: apt-get install python3-boto3 failed"
fi

tmp=$(mktemp -d /tmp/stsrole-longsess-bin.XXXXXX) || exit 1
if [ "${STSROLE_KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else trap 'rm -rf "$tmp"' EXIT INT TERM; fi
chmod 755 "$tmp"
# The driver is built with the module (tests/Makefile.am); the copy in $tmp is one the
# session's user can run, wherever the build directory is.
if ! cp "$STSROLE_BUILD/tests/longsess/sessdrive" "$tmp/sessdrive"; then
    echo "not ok - longsess: the session driver is not built (make -C $STSROLE_BUILD)"
    echo "longsess: 0 passed, 1 failed"
    exit 1
fi
# A module built with --enable-sanitizers needs the ASan runtime before the driver's own code.
module=$STSROLE_BUILD/pam/.libs/pam_stsrole.so
export SESSDRIVE_PRELOAD=
if ldd "$module" 2>/dev/null | grep -q libasan; then
    SESSDRIVE_PRELOAD=$(ldd "$module" | awk '/libasan|libubsan/ {print $3}' | paste -sd:)
fi
SESSDRIVE=$tmp/sessdrive python3 "$here/test_longsess.py"
