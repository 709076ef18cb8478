#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/attack/run.sh: the attack suite (what a local user without root tries on the bastion).
# Usage: tests/attack/run.sh [BUILDDIR]   Exit 0 pass, 1 fail, 77 skipped.
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/attack.py" "$@"
