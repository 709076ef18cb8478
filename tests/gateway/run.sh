#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/gateway/run.sh: stsrole-gatewayd and stsrolectl's admin side against moto (auth on),
# plus iam-simulate checks of the policies the gateway wrote.  Prints one line per case and
# "gateway: N passed, N failed".  Exit 0 pass, 1 fail, 77 skipped.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export STSROLE_BUILD=${STSROLE_BUILD:-$top/build}

# iam-simulate: reuse tests/policy's install, else install our own copy (package.json here).
export GW_NODE_PATH=
if command -v node >/dev/null 2>&1; then
    if [ -d "$top/tests/policy/node_modules/@cloud-copilot/iam-simulate" ]; then
        GW_NODE_PATH="$top/tests/policy/node_modules"
    elif [ -d "$here/node_modules/@cloud-copilot/iam-simulate" ] ||
        (cd "$here" && npm install --no-audit --no-fund --no-package-lock --silent >/dev/null 2>&1); then
        GW_NODE_PATH="$here/node_modules"
    else
        echo "note: npm install of @cloud-copilot/iam-simulate failed; that case will be skipped"
    fi
fi

exec python3 "$here/test_gateway.py"
