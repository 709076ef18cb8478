#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/policy/run.sh: prove the examples/aws/ policies with iam-simulate, lint the StackSet
# template with cfn-lint, and check the deploy script. Exit 0 pass, 1 fail, 77 skipped.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
aws_dir=$(cd "$here/../../examples/aws" && pwd)
template="$aws_dir/cloudformation/workload-roles.yaml"
rc=0

# -- cfn-lint ------------------------------------------------------------------------------
cfnlint=()
if command -v cfn-lint >/dev/null 2>&1; then
    cfnlint=(cfn-lint)
elif python3 -c 'import cfnlint.runner' >/dev/null 2>&1; then
    cfnlint=(python3 -c 'import sys; from cfnlint.runner import main; sys.exit(main())')
fi
if [ ${#cfnlint[@]} -gt 0 ]; then
    echo "cfn-lint $("${cfnlint[@]}" --version 2>&1 | awk '{print $NF}'): $template"
    if "${cfnlint[@]}" -- "$template"; then
        echo "cfn-lint: clean"
    else
        echo "cfn-lint: FAILED"
        rc=1
    fi
else
    echo "skipped: cfn-lint not installed"
fi

# -- deploy script -------------------------------------------------------------------------
deploy="$aws_dir/cloudformation/deploy-stackset.sh"
if out=$(STSROLE_EXTERNAL_ID=not-printed-0123 "$deploy" --dry-run --security-account 111111111111 \
    --ou ou-ab12-cdef3456 --regions "us-east-1 eu-west-1" 2>&1) &&
    grep -q -- '--permission-model SERVICE_MANAGED' <<<"$out" &&
    grep -q -- '--auto-deployment Enabled=true' <<<"$out" &&
    grep -q -- 'CAPABILITY_NAMED_IAM' <<<"$out" &&
    grep -q -- 'create-stack-instances' <<<"$out" &&
    ! grep -q -- 'not-printed-0123' <<<"$out"; then
    echo "deploy-stackset.sh --dry-run: service-managed, auto-deployment, ExternalId not printed"
else
    printf '%s\n' "$out"
    echo "deploy-stackset.sh --dry-run: FAILED"
    rc=1
fi

# -- iam-simulate --------------------------------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "skipped: node and npm not installed (Debian: apt-get install nodejs npm)"
    [ $rc = 0 ] && exit 77
    exit $rc
fi
cd "$here" || exit 1
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    if ! npm ci --no-audit --no-fund; then
        echo "skipped: npm ci failed (no access to the npm registry?)"
        [ $rc = 0 ] && exit 77
        exit $rc
    fi
fi
node --test --test-reporter=spec policies.test.mjs || rc=1
exit $rc
