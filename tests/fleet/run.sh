#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run.sh: runs the two-bastion fleet tests, with the built PAM and DynamoDB test drivers, against one moto.
# Usage: tests/fleet/run.sh [BUILDDIR]   (default: $STSROLE_BUILD, else ./build under the source tree)
# Prints one line per case and "fleet: N passed, N failed".  Exit 0 pass, 1 fail, 77 skipped.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
skipped() { echo "skipped: fleet: $1"; echo "fleet: 0 passed, 0 failed"; exit 77; }
builddir=${1:-${STSROLE_BUILD:-$top/build}}
builddir=$(cd "$builddir" 2>/dev/null && pwd) || skipped "no build directory $builddir"
module=$builddir/pam/.libs/pam_stsrole.so
lib=$builddir/lib/.libs/libstsrole.a
for f in "$module" "$lib"; do
    [ -f "$f" ] || skipped "$f not built (make -C $builddir)"
done
tmp=$(mktemp -d /tmp/stsrole-fleet.XXXXXX) || exit 1
if [ "${STSROLE_KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else trap 'rm -rf "$tmp"' EXIT INT TERM; fi
# A module built with --enable-sanitizers needs the same runtime in the
# drivers: preloaded into pamdrive, linked into fleetdrive.
preload=
if ldd "$module" 2>/dev/null | grep -q libasan; then
    preload=$(ldd "$module" | awk '/libasan/ {print $3}')
    ubsan=$(ldd "$module" | awk '/libubsan/ {print $3}')
    [ -n "$ubsan" ] && preload="$preload:$ubsan"
fi
# The drivers are built with the module (tests/Makefile.am).
for f in "$builddir/tests/pam/pamdrive" "$builddir/tests/fleet/fleetdrive"; do
    if [ ! -x "$f" ]; then
        echo "not ok - fleet: $f not built (make -C $builddir)"
        echo "fleet: 0 passed, 1 failed"
        exit 1
    fi
done
export PAMDRIVE=$builddir/tests/pam/pamdrive FLEETDRIVE=$builddir/tests/fleet/fleetdrive \
    PAM_MODULE=$module \
    PAMDRIVE_PRELOAD=$preload STSROLE_BUILD=$builddir
# Two suites (the PAM side and the gateways), each with its own moto and directories, at the
# same time; each prints its own "fleet: N passed, N failed" (into its own file, shown whole in
# turn), which are summed into one.  A suite that fails fails the run; both skipped is a skip.
python3 "$here/test_fleet.py" >"$tmp/pam.out" 2>&1 &
pam_pid=$!
python3 "$here/test_fleet_gateway.py" >"$tmp/gateway.out" 2>&1
echo "fleet-suite-exit $?" >>"$tmp/gateway.out"
wait $pam_pid
echo "fleet-suite-exit $?" >>"$tmp/pam.out"
cat "$tmp/pam.out" "$tmp/gateway.out" | awk '
    /^fleet: [0-9]+ passed, [0-9]+ failed/ { p += $2; f += $4; next }
    /^fleet-suite-exit / { n++; if ($2 == 77) s++; else if ($2 != 0) bad = 1; next }
    { print; fflush() }
    END {
        printf "fleet: %d passed, %d failed\n", p, f
        if (bad || f > 0) exit 1
        exit (s == n ? 77 : 0)
    }'
