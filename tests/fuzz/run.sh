#!/usr/bin/env bash
# tests/fuzz/run.sh: builds the libFuzzer targets (clang, ASan+UBSan) and runs each for a bounded time.
#
# Usage: tests/fuzz/run.sh [--long] [-j JOBS] [SECONDS] [TARGET...]
#   SECONDS  time per target (default 60); --long is 600
#   -j JOBS  fuzz JOBS targets at a time (default 1); each still gets SECONDS
#   TARGET   run only these (names as in fuzz_<name>.c); default all
# Environment: FUZZ_BUILD (build dir, default $TOP/build-fuzz), CC (default clang),
# FUZZ_SEED (a fixed seed: a repeatable run).
#
# Every target is built from tests/fuzz/fuzz_<name>.c plus the lib/*.c it
# needs, which the linker pulls out of an archive of all of lib/.  Each run
# starts from a scratch copy of corpus/<name>/, so the repository is never
# written.  Inputs recorded in crashes/<name>-* are replayed first: they are
# regression inputs and must no longer crash.  A target passes when its
# replays and its whole run finish without a crash, leak, timeout or
# broken property.  Exit status: 0 all passed, 1 a target failed, 77 no clang.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
secs=60
jobs=1
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
    --long) secs=600 ;;
    -j) jobs=${2:-}; shift ;;
    -j*) jobs=${1#-j} ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *[!0-9]*) targets+=("$1") ;;
    *) secs=$1 ;;
    esac
    shift
done
case $jobs in '' | *[!0-9]* | 0) echo "fuzz: -j wants a number of targets at a time" >&2; exit 2 ;; esac
if [ "$secs" -lt 1 ]; then
    echo "fuzz: SECONDS must be at least 1" >&2
    exit 2
fi

CC=${CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "skipped: $CC not found (apt-get install clang)"
    exit 77
fi
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
    "$CC" -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then
    echo "skipped: $CC cannot build libFuzzer targets (-fsanitize=fuzzer)"
    exit 77
fi

bdir=${FUZZ_BUILD:-$top/build-fuzz}
mkdir -p "$bdir/obj" "$bdir/logs" "$bdir/work" "$bdir/crashes" || exit 1
pkgs=(libcurl libcjson inih expat liboath libcrypto)
out=$(pkg-config --cflags "${pkgs[@]}") || { echo "fuzz: pkg-config failed for: ${pkgs[*]}"; exit 1; }
read -ra pkg_cflags <<<"$out"
out=$(pkg-config --libs "${pkgs[@]}") || exit 1
read -ra pkg_libs <<<"$out"

# -- config.h, from the project's own configure ---------------------------------
# Configured in a fresh directory and swapped in only when it worked: a
# configure caught halfway through someone's autoreconf then costs nothing
# as long as an older config.h is there.
if [ ! -f "$bdir/conf/stamp" ] || [ "$top/configure" -nt "$bdir/conf/stamp" ]; then
    echo "fuzz: configuring for config.h in $bdir/conf"
    rm -rf "$bdir/conf.new"
    mkdir -p "$bdir/conf.new"
    if (cd "$bdir/conf.new" && "$top/configure" -q --disable-tests CC="$CC" \
        >"$bdir/logs/configure.log" 2>&1); then
        touch "$bdir/conf.new/stamp" # config.status keeps an unchanged config.h's time
        rm -rf "$bdir/conf"
        mv "$bdir/conf.new" "$bdir/conf"
    elif [ -f "$bdir/conf/config.h" ]; then
        echo "fuzz: configure failed (see $bdir/logs/configure.log); keeping the older config.h"
    else
        tail -n 20 "$bdir/logs/configure.log"
        echo "fuzz: configure failed (see $bdir/logs/configure.log)"
        exit 1
    fi
fi

base_cflags=(-g -O1 -D_GNU_SOURCE "-fsanitize=address,undefined" -fno-sanitize-recover=all
    -fno-omit-frame-pointer "-I$bdir/conf" "-I$top/lib" "-I$here" "${pkg_cflags[@]}")
# Our own files are held to the project's warnings; lib/ is checked by the
# normal gcc build, so clang's extra opinions about it are only logged.
warn=(-Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wpointer-arith -Wno-unused-parameter)

newer_than() { # file others...: true when any other is newer than file
    local f=$1 o
    shift
    for o in "$@"; do [ "$o" -nt "$f" ] && return 0; done
    return 1
}

# -- lib/ into an archive ----------------------------------------------------------
lib_headers=("$top"/lib/*.h "$bdir/conf/config.h")
lib_failed=()
compile_lib() { # src obj
    "$CC" "${base_cflags[@]}" -fsanitize=fuzzer-no-link -Wall -Wextra -Wno-unused-parameter \
        -c "$1" -o "$2" >"$bdir/logs/$(basename "$1" .c).log" 2>&1
}
pids=()
srcs=()
for src in "$top"/lib/*.c; do
    obj="$bdir/obj/$(basename "$src" .c).o"
    if [ ! -f "$obj" ] || newer_than "$obj" "$src" "${lib_headers[@]}"; then
        rm -f "$obj"
        compile_lib "$src" "$obj" &
        pids+=($!)
        srcs+=("$src")
        if [ ${#pids[@]} -ge 2 ]; then # two cores
            wait "${pids[0]}"
            pids=("${pids[@]:1}")
        fi
    fi
done
wait
for obj in "$bdir"/obj/*.o; do # a lib file that was removed
    [ -f "$obj" ] && [ ! -f "$top/lib/$(basename "$obj" .o).c" ] && rm -f "$obj"
done
for src in "$top"/lib/*.c; do
    obj="$bdir/obj/$(basename "$src" .c).o"
    if [ ! -f "$obj" ]; then
        lib_failed+=("lib/$(basename "$src")")
        echo "fuzz: lib/$(basename "$src") does not compile:"
        grep -m 3 'error' "$bdir/logs/$(basename "$src" .c).log" | sed 's/^/    /'
    fi
done
rm -f "$bdir/libstsrole-fuzz.a"
ar rcs "$bdir/libstsrole-fuzz.a" "$bdir"/obj/*.o || exit 1

# -- the targets -------------------------------------------------------------------
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$here"/fuzz_*.c; do
        n=$(basename "$f" .c)
        targets+=("${n#fuzz_}")
    done
fi

pass=0
fail=0
skip=0
summary=()
reproducers=()

build_target() { # name -> 0 built, 1 our file is broken, 2 lib/ is missing something
    local name=$1 src="$here/fuzz_$1.c" bin="$bdir/fuzz_$1" log="$bdir/logs/fuzz_$1.log"
    local extra=() words=() e
    # A target that needs sources outside lib/ names them in its file:
    #   /* fuzz-extra-sources: gateway/proto.c */
    read -ra words <<<"$(sed -n 's|.*fuzz-extra-sources:\(.*\)\*/.*|\1|p' "$src")"
    for e in "${words[@]}"; do
        extra+=("$top/$e")
    done
    if ! "$CC" "${base_cflags[@]}" "${warn[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$bdir/obj-fuzz_$1.o" \
        >"$log" 2>&1; then
        return 1
    fi
    if ! "$CC" "${base_cflags[@]}" -fsanitize=fuzzer "$bdir/obj-fuzz_$1.o" "${extra[@]}" \
        "$bdir/libstsrole-fuzz.a" "${pkg_libs[@]}" -lm -o "$bin" >>"$log" 2>&1; then
        return 2
    fi
    return 0
}

# "name  execs  cov  result" for the summary table.
add_summary() {
    summary+=("$(printf '%-20s %12s %8s  %s' "$1" "$2" "$3" "$4")")
}

# fuzz_one NAME: replays the recorded crashes of a built target, then fuzzes it; prints what
# it found and, last, "result pass|fail EXECS COV [REPRODUCER]".
fuzz_one() {
    local name=$1 bin="$bdir/fuzz_$1" c replay_bad=0 work rc execs cov repro opts
    # Known crashes are replayed first: one run per input, no fuzzing.
    for c in "$here"/crashes/"$name"-*; do
        [ -f "$c" ] || continue
        if ! "$bin" "$c" >"$bdir/logs/replay-$(basename "$c").log" 2>&1; then
            echo "fuzz_$name: recorded crash still reproduces: tests/fuzz/crashes/$(basename "$c")"
            grep -m 3 -E '^detail:|property violated|ERROR' \
                "$bdir/logs/replay-$(basename "$c").log" | sed 's/^/    /'
            replay_bad=1
        fi
    done

    work="$bdir/work/$name"
    rm -rf "$work"
    mkdir -p "$work/corpus"
    if [ -d "$here/corpus/$name" ]; then
        cp "$here/corpus/$name"/* "$work/corpus/" 2>/dev/null
    fi
    # FUZZ_SEED makes a run repeatable (tests/run sets it, so CI explores
    # the same path each time); unset, libFuzzer picks a new seed.
    opts=(${FUZZ_SEED:+-seed="$FUZZ_SEED"} -max_total_time="$secs" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1
        -artifact_prefix="$bdir/crashes/$name-")
    [ -f "$here/dict/$name.dict" ] && opts+=(-dict="$here/dict/$name.dict")
    (cd "$work" && UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
        "$bin" "${opts[@]}" "$work/corpus" >"$work/fuzz.log" 2>&1)
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/fuzz.log" | tail -n 1 |
        awk '{print $2}')
    cov=$(grep -o 'cov: [0-9]*' "$work/fuzz.log" | tail -n 1 | awk '{print $2}')
    execs=${execs:-0}
    cov=${cov:-0}
    if [ "$rc" -eq 0 ] && [ "$replay_bad" -eq 0 ]; then
        echo "fuzz_$name: $execs executions, cov $cov, ${secs} s: passed"
        echo "result pass $execs $cov"
        return
    fi
    repro=
    if [ "$rc" -ne 0 ]; then
        grep -m 4 -E '^detail:|property violated|^==[0-9]+==ERROR|runtime error|ALARM' \
            "$work/fuzz.log" | sed 's/^/    /'
        repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/fuzz.log" | tail -n 1)
        echo "fuzz_$name: FAIL (exit $rc) after $execs executions, cov $cov"
        echo "    log: $work/fuzz.log"
        [ -n "$repro" ] && echo "    reproducer: $repro  (replay: $bin $repro)"
    fi
    echo "result fail $execs $cov $repro"
}

# Build every target first (a failure is reported at once), then fuzz $jobs at a time, each into
# its own output, shown whole in target order.
ready=()
for name in "${targets[@]}"; do
    src="$here/fuzz_$name.c"
    log="$bdir/logs/fuzz_$name.log"
    if [ ! -f "$src" ]; then
        echo
        echo "=== fuzz_$name"
        echo "fuzz_$name: no such target ($src)"
        fail=$((fail + 1))
        add_summary "$name" - - "FAIL (no source)"
        continue
    fi
    build_target "$name"
    case $? in
    0) ready+=("$name") ;;
    1)
        echo
        echo "=== fuzz_$name"
        sed -n '1,20p' "$log"
        echo "fuzz_$name: FAIL: the target does not compile"
        fail=$((fail + 1))
        add_summary "$name" - - "FAIL (does not compile)"
        ;;
    2)
        echo
        echo "=== fuzz_$name"
        missing=$(grep -o "undefined reference to \`[a-z_0-9]*'" "$log" | sort -u | head -3 |
            tr '\n' ' ')
        echo "skipped: fuzz_$name does not link: ${missing:-see $log}"
        [ ${#lib_failed[@]} -gt 0 ] && echo "    (lib sources that do not compile: ${lib_failed[*]})"
        skip=$((skip + 1))
        add_summary "$name" - - "SKIP (does not link)"
        ;;
    esac
done
for name in "${ready[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n
    done
    fuzz_one "$name" >"$bdir/logs/run-$name.out" 2>&1 &
done
wait
for name in "${ready[@]}"; do
    echo
    echo "=== fuzz_$name"
    out="$bdir/logs/run-$name.out"
    grep -v '^result ' "$out"
    read -r _ verdict execs cov repro < <(grep '^result ' "$out" | tail -n 1)
    case ${verdict:-} in
    pass)
        pass=$((pass + 1))
        add_summary "$name" "$execs" "$cov" "pass"
        ;;
    *)
        fail=$((fail + 1))
        add_summary "$name" "${execs:--}" "${cov:--}" "FAIL"
        [ -n "${repro:-}" ] && reproducers+=("$repro")
        ;;
    esac
done

echo
printf '%-20s %12s %8s  %s\n' target executions cov result
printf '%s\n' "${summary[@]}"
line="fuzz: $pass passed, $fail failed"
[ "$skip" -gt 0 ] && line="$line, $skip skipped"
echo "$line"
if [ ${#reproducers[@]} -gt 0 ]; then
    echo "reproducers:"
    printf '  %s\n' "${reproducers[@]}"
fi
[ "$fail" -eq 0 ]
