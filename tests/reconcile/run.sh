#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/reconcile/run.sh: stsrolectl reconcile and report: directory, S3 and Athena modes against
# generated CloudTrail days (S3 and Athena through moto), the HTML report in headless Chromium,
# and a small benchmark run.  Exit 0 pass, 1 fail, 77 skipped.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export STSROLE_BUILD=${STSROLE_BUILD:-$top/build}
export STSROLECTL=${STSROLECTL:-$STSROLE_BUILD/gateway/stsrolectl}

python3 "$here/test_reconcile.py"
rc=$?
# The benchmark at smoke size: it must run and find what it plants.
python3 "$top/tests/bench/bench_reconcile.py" --records "${STSROLE_RECONCILE_BENCH:-20000}" || rc=1
exit $rc
