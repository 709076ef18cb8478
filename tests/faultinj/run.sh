#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run.sh: builds the fault-injection copies of pam_stsrole.so and stsrole-gatewayd, walks their
# failure points.
#
# Usage: tests/faultinj/run.sh [--build-only | --no-build] [--quick] [-- ARGS for faultinj.py]
#   (default)  every failure point: the PAM transactions (~730 points, ~40 s)
#              and the gateway's scenario (~500 points, ~90-160 s with 8
#              gateways at once); about 3-4 minutes on 2 cores with the build.
#   --build-only  build, and walk nothing
#   --no-build    walk what is built already (so that two walks can run at once:
#                 tests/run walks PAM (-- --only walk,checklist,valgrind,control)
#                 and the gateway (-- --only gateway) side by side)
#   --quick    (or FAULTINJ_QUICK=1): the gateway's allocator calls (malloc,
#              calloc, realloc, strdup, strndup) every 3rd point only, from
#              the 1st (a fixed stride, so a failure repeats); every point of
#              its I/O, clock, curl and RAND_bytes calls still.  For when the
#              gateway grows past the time budget; PAM is always walked whole.
# Builds into $TOP/build-faultinj (configured there for config.h and the PAM driver):
#   asan/pam_stsrole.so      -fsanitize=address,undefined: the PAM walk runs this one
#   plain/pam_stsrole.so     no sanitizer: the valgrind sample runs this one
#   asan/stsrole-gatewayd    -fsanitize=address,undefined: the gateway walk runs this one
#   plain/stsrolectl         no sanitizer, no wrapping: `audit verify` after each point
#   tests/pam/pamdrive       tests/pam/pamdrive.c, built by make (tests/Makefile.am)
# Each is compiled from the sources that lib/Makefile.am, pam/Makefile.am and
# gateway/Makefile.am list; the module and the gateway are linked with
# -Wl,--wrap for every function in WRAPS plus tests/faultinj/faultinj.c
# (and faultinj_pam.c, or faultinj_gw.c), which fail the Nth call
# (FAULTINJ_FAIL=NAME:N) and check that secrets are wiped before free.
# --wrap rewrites only the references resolved when that object is linked:
# calls inside libc, libcurl, libcjson, liboath, libpam and
# OpenSSL are neither counted nor failed.
#
# Prints one line per failure point class, the number of failure points
# injected, and "faultinj: N passed, N failed" (PAM and gateway together).
# Exit 0 pass, 1 fail, 77 skipped.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bd=$top/build-faultinj
build_only=0
no_build=0
quick=${FAULTINJ_QUICK:-0}
while [ $# -gt 0 ]; do
    case $1 in
    --build-only) build_only=1 ;;
    --no-build) no_build=1 ;;
    --quick) quick=1 ;;
    --) shift; break ;;
    *) break ;;
    esac
    shift
done

WRAPS="malloc calloc realloc free strdup strndup open openat read write fsync rename \
curl_easy_perform time clock_gettime RAND_bytes pam_putenv pam_set_data stsrole_sts_parse_assume"
PKGS="pam libcrypto libcurl libcjson liboath inih expat zlib"
GW_PKGS="libcrypto libcurl libcjson liboath inih expat zlib"

fail_build() {
    echo "not ok - faultinj: $1"
    echo "faultinj: 0 passed, 1 failed"
    exit 1
}
skipped() {
    echo "skipped: faultinj: $1"
    echo "faultinj: 0 passed, 0 failed"
    exit 77
}

for tool in cc pkg-config; do
    command -v $tool >/dev/null 2>&1 || skipped "$tool is not installed"
done
pkg-config --exists $PKGS $GW_PKGS || skipped "missing development packages for: $PKGS $GW_PKGS"

mkdir -p "$bd" || fail_build "cannot create $bd"
# config.status keeps an unchanged config.h's time: a stamp says when configure last ran.
stamp=$bd/configure.stamp
if [ "$no_build" = 0 ] && { [ ! -f "$stamp" ] || [ "$top/configure" -nt "$stamp" ] ||
    grep -q -- --disable-tests "$bd/config.status"; }; then
    (cd "$bd" && "$top/configure" -q >configure.out 2>&1) ||
        fail_build "configure failed (see $bd/configure.out)"
    touch "$stamp"
fi

# The .c files of an automake _SOURCES variable, continuation lines included.
am_sources() {
    awk -v var="$2" '
        $1 == var && $2 == "=" { on = 1; $1 = ""; $2 = "" }
        on {
            line = $0
            cont = sub(/\\[ \t]*$/, "", line)
            n = split(line, w, /[ \t]+/)
            for (i = 1; i <= n; i++)
                if (w[i] ~ /\.c$/)
                    print w[i]
            if (!cont)
                on = 0
        }' "$1"
}

lib_srcs=$(am_sources "$top/lib/Makefile.am" libstsrole_la_SOURCES | sed "s|^|$top/lib/|")
pam_srcs=$(am_sources "$top/pam/Makefile.am" pam_stsrole_la_SOURCES | sed "s|^|$top/pam/|")
gw_srcs=$(am_sources "$top/gateway/Makefile.am" stsrole_gatewayd_SOURCES | sed "s|^|$top/gateway/|")
ctl_srcs=$(am_sources "$top/gateway/Makefile.am" stsrolectl_SOURCES | sed "s|^|$top/gateway/|")
[ -n "$lib_srcs" ] && [ -n "$pam_srcs" ] && [ -n "$gw_srcs" ] && [ -n "$ctl_srcs" ] ||
    fail_build "no sources found in the Makefile.am files"

WARN="-Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
-Wpointer-arith -Wno-unused-parameter"
# -O0: every call site stays a call, so failure points map onto source
# functions one to one; no _FORTIFY_SOURCE, so read() stays read().
# lib/Makefile.am's define of configure's $(bindir), asked of the build's own Makefile.
bindir=$(printf 'print-bindir:\n\t@echo $(bindir)\n' |
    make -s -C "$bd/lib" -f Makefile -f - print-bindir 2>/dev/null | tail -n 1)
[ -n "$bindir" ] || fail_build "cannot read bindir from $bd/lib/Makefile"
BASE="-std=gnu11 -g -O0 -fPIC -fno-omit-frame-pointer -U_FORTIFY_SOURCE -D_GNU_SOURCE \
-DSTSROLE_BINDIR=\"$bindir\" -I$bd -I$top/lib $(pkg-config --cflags $PKGS $GW_PKGS)"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"

# compile_set DIR EXTRA_CFLAGS SOURCES...: objects into DIR, rebuilt when older than their source
# or any header.
compile_set() {
    dir=$1
    extra=$2
    shift 2
    mkdir -p "$dir"
    newest_h=$(ls -t "$top"/lib/*.h "$top"/pam/*.h "$top"/gateway/*.h "$here"/*.h "$bd/config.h" |
        head -1)
    objs=
    for src in "$@"; do
        obj=$dir/$(basename "$(dirname "$src")")_$(basename "$src" .c).o
        if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_h" -nt "$obj" ]; then
            # shellcheck disable=SC2086
            ${CC:-cc} $WARN $BASE $extra -c -o "$obj" "$src" || return 1
        fi
        objs="$objs $obj"
    done
    echo "$objs"
}

wrap_flags() {
    flags=
    for w in $WRAPS; do
        flags="$flags -Wl,--wrap=$w"
    done
    echo "$flags"
}

# link_module DIR EXTRA_LDFLAGS OBJS...: DIR/pam_stsrole.so, exporting pam_sm_* only.
link_module() {
    dir=$1
    extra=$2
    shift 2
    printf '{\n  global: pam_sm_*;\n  local: *;\n};\n' >"$dir/exports.map"
    # shellcheck disable=SC2046,SC2086
    ${CC:-cc} -shared $extra -o "$dir/pam_stsrole.so" "$@" $(wrap_flags) \
        -Wl,--version-script="$dir/exports.map" -Wl,-z,defs \
        $(pkg-config --libs $PKGS) -lm
}

build_variant() {
    name=$1
    extra=$2
    # shellcheck disable=SC2086
    objs=$(compile_set "$bd/$name" "$extra" $lib_srcs $pam_srcs "$here/faultinj.c" \
        "$here/faultinj_pam.c") || return 1
    # shellcheck disable=SC2086
    link_module "$bd/$name" "$extra" $objs
}

# The gateway: a program, with syslog() captured (faultinj_gw.c).
build_gateway() {
    # shellcheck disable=SC2086
    objs=$(compile_set "$bd/asan" "$SAN" $lib_srcs $gw_srcs "$here/faultinj.c" \
        "$here/faultinj_gw.c") || return 1
    # shellcheck disable=SC2046,SC2086
    ${CC:-cc} $SAN -o "$bd/asan/stsrole-gatewayd" $objs $(wrap_flags) -Wl,--wrap=syslog \
        $(pkg-config --libs $GW_PKGS) -lm
}

# stsrolectl as it ships (no wrapping, no sanitizer), for `audit verify`.
build_ctl() {
    # shellcheck disable=SC2086
    objs=$(compile_set "$bd/plain" "" $lib_srcs $ctl_srcs) || return 1
    # shellcheck disable=SC2046,SC2086
    ${CC:-cc} -o "$bd/plain/stsrolectl" $objs $(pkg-config --libs $GW_PKGS) -lm
}

if [ "$no_build" = 0 ]; then
    build_variant asan "$SAN" || fail_build "the ASan fault-injection module does not build"
    build_variant plain "" || fail_build "the plain fault-injection module does not build"
    build_gateway || fail_build "the ASan fault-injection stsrole-gatewayd does not build"
    build_ctl || fail_build "stsrolectl does not build"
    make -s -C "$bd/tests" pam/pamdrive >/dev/null || fail_build "the PAM test driver does not build"
fi
[ "$build_only" = 1 ] && exit 0
for f in asan/pam_stsrole.so plain/pam_stsrole.so asan/stsrole-gatewayd plain/stsrolectl \
    tests/pam/pamdrive; do
    [ -f "$bd/$f" ] || fail_build "$bd/$f is not built (run.sh --build-only)"
done

asan_rt=$(ldd "$bd/asan/pam_stsrole.so" | awk '/libasan/ {print $3}')
ubsan_rt=$(ldd "$bd/asan/pam_stsrole.so" | awk '/libubsan/ {print $3}')
mode=full
[ "$quick" = 1 ] && mode=quick
exec python3 "$here/faultinj.py" --builddir "$bd" --module-asan "$bd/asan/pam_stsrole.so" \
    --module-plain "$bd/plain/pam_stsrole.so" --pamdrive "$bd/tests/pam/pamdrive" \
    --preload "$asan_rt${ubsan_rt:+:$ubsan_rt}" --gateway "$bd/asan/stsrole-gatewayd" \
    --stsrolectl "$bd/plain/stsrolectl" --gw-mode "$mode" "$@"
