#!/bin/sh
# run.sh: runs the two-bastion fleet tests, with the built PAM and DynamoDB test drivers, against one moto.
# Usage: tests/fleet/run.sh [BUILDDIR]   (default: $STSROLE_BUILDDIR, else ./build under the source tree)
# Prints one line per case and "fleet: N passed, N failed"; exits non-zero on any failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
builddir=${1:-${STSROLE_BUILDDIR:-$top/build}}
builddir=$(cd "$builddir" 2>/dev/null && pwd) || { echo "skipped: fleet: no build directory $builddir"; echo "fleet: 0 passed, 0 failed"; exit 1; }
module=$builddir/pam/.libs/pam_stsrole.so
lib=$builddir/lib/.libs/libstsrole.a
for f in "$module" "$lib"; do
    if [ ! -f "$f" ]; then
        echo "skipped: fleet: $f not built (make -C $builddir)"
        echo "fleet: 0 passed, 0 failed"
        exit 1
    fi
done
tmp=$(mktemp -d /tmp/stsrole-fleet.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
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
        echo "FAIL - fleet: $f not built (make -C $builddir)"
        echo "fleet: 0 passed, 1 failed"
        exit 1
    fi
done
export PAMDRIVE=$builddir/tests/pam/pamdrive FLEETDRIVE=$builddir/tests/fleet/fleetdrive \
    PAM_MODULE=$module \
    PAMDRIVE_PRELOAD=$preload STSROLE_BUILD=$builddir
# Two suites (the PAM side, then the gateways); each prints its own "fleet: N passed, N failed",
# which are summed into one.  A suite that exits non-zero fails the run.
{
    python3 "$here/test_fleet.py"
    echo "fleet-suite-exit $?"
    python3 "$here/test_fleet_gateway.py"
    echo "fleet-suite-exit $?"
} | awk '
    /^fleet: [0-9]+ passed, [0-9]+ failed/ { p += $2; f += $4; next }
    /^fleet-suite-exit / { if ($2 != 0) bad = 1; next }
    { print; fflush() }
    END { printf "fleet: %d passed, %d failed\n", p, f; exit (bad || f > 0) }'
