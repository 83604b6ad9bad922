#!/bin/bash
# fuzz-ci.sh - brief fuzzing for CI: builds and runs every libFuzzer target fuzz/fuzz_<name>.c
# through scripts/fuzz.sh for ${FUZZ_CI_SECONDS:-15} seconds each, one after the other,
# starting from the seed corpora (every seed is run first, so a regression seed that crashes
# fails at once). Crashing inputs are kept under build-fuzz/artifacts/<name>/ and the log
# tail is printed.
#
#   scripts/fuzz-ci.sh [name...]        default: every target
#
# Environment: FUZZ_CI_SECONDS (per target, default 15), FUZZ_CC (default clang).
# Exit status: 0 clean, 1 a target crashed (or timed out / ran out of memory), 2 no clang or a
# target did not build.
set -u
cd "$(dirname "$0")/.." || exit 2

secs=${FUZZ_CI_SECONDS:-15}
case $secs in
'' | *[!0-9]* | 0)
    echo "fuzz-ci: FUZZ_CI_SECONDS must be a positive integer (got '$secs')" >&2
    exit 2
    ;;
esac
cc=${FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz-ci: $cc not found (libFuzzer needs clang; scripts/install-deps.sh installs it)" >&2
    exit 2
fi

start=$(date +%s)
FUZZ_SECONDS=$secs FUZZ_CC=$cc scripts/fuzz.sh "$@"
rc=$?
echo "fuzz-ci: done in $(($(date +%s) - start))s (exit $rc)"
case $rc in
0) exit 0 ;;
1) exit 1 ;;
*) exit 2 ;;
esac
