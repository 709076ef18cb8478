#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/fuzz/run.sh: builds the libFuzzer targets (clang, ASan+UBSan) and runs each for a bounded time.
#
# Usage: tests/fuzz/run.sh [--long] [-j JOBS] [SECONDS] [TARGET...]
#   SECONDS  time per target (default 60); --long is 600
#   -j JOBS  fuzz JOBS targets at a time (default 1); each still gets SECONDS
#   TARGET   run only these (names as in fuzz_<name>.c); default all
# Environment: FUZZ_BUILD (build dir, default $TOP/build-fuzz), CC (default clang),
# FUZZ_SEED (a fixed seed: a repeatable run).
#
# The targets are built by make (tests/fuzz/Makefile.am) in a build
# directory configured with CC=clang --enable-fuzzing.  Each run
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
mkdir -p "$bdir/logs" "$bdir/work" "$bdir/crashes" || exit 1

# -- the build: configure --enable-fuzzing, then make (tests/fuzz/Makefile.am) -----
if [ ! -f "$bdir/config.status" ] || [ "$top/configure" -nt "$bdir/config.status" ] ||
    ! grep -q -- --enable-fuzzing "$bdir/config.status"; then
    echo "fuzz: configuring $bdir (CC=$CC --enable-fuzzing)"
    if ! (cd "$bdir" && "$top/configure" -q --disable-tests --enable-fuzzing CC="$CC" \
        CFLAGS="-g -O1" >"$bdir/logs/configure.log" 2>&1); then
        tail -n 20 "$bdir/logs/configure.log"
        echo "fuzz: configure failed (see $bdir/logs/configure.log)"
        exit 1
    fi
fi
if ! make -s -j2 -C "$bdir/lib" >"$bdir/logs/lib.log" 2>&1; then
    grep -m 5 'error' "$bdir/logs/lib.log" | sed 's/^/    /'
    echo "fuzz: lib/ does not build with $CC (see $bdir/logs/lib.log)"
    exit 1
fi

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

build_target() { # name -> 0 built, 1 not
    make -s -C "$bdir/tests/fuzz" "fuzz_$1" >"$bdir/logs/fuzz_$1.log" 2>&1
}

# "name  execs  cov  result" for the summary table.
add_summary() {
    summary+=("$(printf '%-20s %12s %8s  %s' "$1" "$2" "$3" "$4")")
}

# fuzz_one NAME: replays the recorded crashes of a built target, then fuzzes it; prints what
# it found and, last, "result pass|fail EXECS COV [REPRODUCER]".
fuzz_one() {
    local name=$1 bin="$bdir/tests/fuzz/fuzz_$1" c replay_bad=0 work rc execs cov repro opts
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
    if ! build_target "$name"; then
        echo
        echo "=== fuzz_$name"
        sed -n '1,20p' "$log"
        echo "fuzz_$name: FAIL: the target does not build"
        fail=$((fail + 1))
        add_summary "$name" - - "FAIL (does not build)"
        continue
    fi
    ready+=("$name")
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
