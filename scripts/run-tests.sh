#!/bin/bash
# run-tests.sh - runs the test suites against an already built tree and prints one summary.
#   scripts/run-tests.sh [unit|crosscheck|integration]...   (default: all three)
# Environment: BUILD (build dir, default build), SIGV4_SUITE (default ../shared/sigv4-suite),
# SAN=1 for a sanitizer build (integration tests then run the sanitized binary).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
export SIGV4_SUITE=${SIGV4_SUITE:-$(cd .. && pwd)/shared/sigv4-suite}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(unit crosscheck integration)

passed=0
failed=0
failures=()
logdir=$BUILD/test-logs
mkdir -p "$logdir"

record() { # name rc npassed nfailed
    passed=$((passed + $3))
    failed=$((failed + $4))
    if [ "$2" -ne 0 ] || [ "$4" -ne 0 ]; then
        failures+=("$1")
        [ "$4" -ne 0 ] || failed=$((failed + 1))
    fi
}

run_unit() {
    local t out rc np nf
    for t in "$BUILD"/tests/t_*; do
        [ -x "$t" ] || continue
        out=$logdir/$(basename "$t").log
        "$t" >"$out" 2>&1
        rc=$?
        np=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
        nf=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
        np=${np:-0}
        nf=${nf:-0}
        printf '%-28s %3d passed, %d failed\n' "$(basename "$t")" "$np" "$nf"
        [ $rc -eq 0 ] && [ "$nf" -eq 0 ] || sed 's/^/    /' "$out" | tail -40
        record "$(basename "$t")" $rc "$np" "$nf"
    done
}

run_scripts() { # dir
    local s out rc
    for s in "$1"/test_*; do
        [ -x "$s" ] || continue
        out=$logdir/$(basename "$s").log
        local start=$SECONDS
        "$s" >"$out" 2>&1
        rc=$?
        if [ $rc -eq 0 ]; then
            printf '%-40s ok   (%ds)\n' "$(basename "$s")" $((SECONDS - start))
            record "$(basename "$s")" 0 1 0
        else
            printf '%-40s FAIL (%ds, rc=%d)\n' "$(basename "$s")" $((SECONDS - start)) $rc
            sed 's/^/    /' "$out" | tail -60
            record "$(basename "$s")" 1 0 1
        fi
    done
}

for suite in "${suites[@]}"; do
    echo "== $suite tests ($BUILD)"
    case $suite in
        unit) run_unit ;;
        crosscheck) run_scripts tests/crosscheck ;;
        integration) run_scripts tests/integration ;;
        *) echo "unknown suite $suite" >&2; exit 64 ;;
    esac
done

echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failures[@]} -eq 0 ]
