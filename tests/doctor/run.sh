#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/doctor/run.sh: every `stsrolectl doctor` check, passing and broken on purpose, on a
# throw-away bastion (sshd -T -f CONFIG, /etc/pam.d/stsrole-doctor-PID, moto, stand-ins on
# 127.0.0.1).  Usage: tests/doctor/run.sh [BUILD_DIR].  Exit 0 pass, 1 fail, 77 skipped.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export STSROLE_BUILD=${1:-${STSROLE_BUILD:-$top/build}}
export STSROLECTL=${STSROLECTL:-$STSROLE_BUILD/gateway/stsrolectl}
exec python3 "$here/test_doctor.py"
