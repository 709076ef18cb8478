#!/bin/sh
# run.sh: builds the PAM test driver and runs the PAM stack tests against a built pam_stsrole.so.
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
tmp=$(mktemp -d /tmp/stsrole-pamdrive.XXXXXX) || exit 1
if [ "${STSROLE_KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else trap 'rm -rf "$tmp"' EXIT INT TERM; fi
# pam_start_confdir(3) needs Linux-PAM >= 1.4; -rdynamic is not needed:
# the driver's syslog() is found first because the executable comes first.
if ! ${CC:-cc} -std=gnu99 -Wall -Wextra -Werror -o "$tmp/pamdrive" "$here/pamdrive.c" \
        $(pkg-config --cflags --libs pam); then
    echo "not ok - pam: the test driver does not build"
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
PAMDRIVE=$tmp/pamdrive PAM_MODULE=$module PAMDRIVE_PRELOAD=$preload python3 "$here/test_pam.py"
