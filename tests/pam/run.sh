#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run.sh: runs the PAM stack tests, with the built test driver, against a built pam_stsrole.so.
# Usage: tests/pam/run.sh [BUILDDIR]   (default: $STSROLE_BUILD, else ./build under the source tree)
# Prints one line per case and "pam: N passed, N failed".  Exit 0 pass, 1 fail, 77 skipped.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
skipped() { echo "skipped: pam: $1"; echo "pam: 0 passed, 0 failed"; exit 77; }
builddir=${1:-${STSROLE_BUILD:-$top/build}}
builddir=$(cd "$builddir" 2>/dev/null && pwd) || skipped "no build directory $builddir"
module=$builddir/pam/.libs/pam_stsrole.so
[ -f "$module" ] || skipped "$module not built (make -C $builddir/pam)"
# The driver is built with the module (tests/Makefile.am).
pamdrive=$builddir/tests/pam/pamdrive
if [ ! -x "$pamdrive" ]; then
    echo "not ok - pam: $pamdrive not built (make -C $builddir)"
    echo "pam: 0 passed, 1 failed"
    exit 1
fi
# A module built with --enable-sanitizers needs the ASan runtime loaded
# before anything else in the (uninstrumented) driver.
preload=
if ldd "$module" 2>/dev/null | grep -q libasan; then
    preload=$(ldd "$module" | awk '/libasan/ {print $3}')
    [ -n "$preload" ] && ubsan=$(ldd "$module" | awk '/libubsan/ {print $3}') && \
        [ -n "$ubsan" ] && preload="$preload:$ubsan"
fi
PAMDRIVE=$pamdrive PAM_MODULE=$module PAMDRIVE_PRELOAD=$preload python3 "$here/test_pam.py"
