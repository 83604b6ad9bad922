#!/bin/bash
# fuzz.sh - builds every libFuzzer target fuzz/fuzz_<name>.c (with AddressSanitizer and
# UndefinedBehaviorSanitizer) against all of src/ except main.c into build-fuzz/, then runs each
# for ${FUZZ_SECONDS:-30} seconds starting from the seeds in fuzz/corpus/<name>/.
#
#   scripts/fuzz.sh [name...]        default: every fuzz/fuzz_*.c
#
# Environment: FUZZ_SECONDS (per target, default 30), FUZZ_CC (default clang), FUZZ_ARGS (extra
# libFuzzer flags). New inputs go to build-fuzz/corpus/<name>/ (the seed directory is never
# written); crashing inputs to build-fuzz/artifacts/<name>/; logs to build-fuzz/logs/.
# Exit status: 0 if every target built and ran clean, 1 if one crashed, 2 if a build failed.
set -u
cd "$(dirname "$0")/.." || exit 2

SECS=${FUZZ_SECONDS:-30}
CC=${FUZZ_CC:-clang}
OUT=build-fuzz
PKGS=(libcurl jansson libcrypto yaml-0.1 libsystemd libmicrohttpd zlib)

if ! pkg_cflags=$(pkg-config --cflags "${PKGS[@]}") || ! pkg_libs=$(pkg-config --libs "${PKGS[@]}"); then
    echo "fuzz: pkg-config cannot find the dependencies (${PKGS[*]})" >&2
    exit 2
fi
common=(-std=c17 -D_GNU_SOURCE -pthread -g -O1 -fno-omit-frame-pointer
        -fno-sanitize-recover=undefined -Wall -Wextra -Iinclude -DTAD_VERSION='"fuzz"')
# library code gets coverage instrumentation but no libFuzzer main
# shellcheck disable=SC2054 # the commas belong to the flag
libflags=("${common[@]}" -fsanitize=fuzzer-no-link,address,undefined)
# shellcheck disable=SC2054
tgtflags=("${common[@]}" -fsanitize=fuzzer,address,undefined)

if [ $# -gt 0 ]; then
    names=("$@")
else
    names=()
    for f in fuzz/fuzz_*.c; do
        [ -e "$f" ] || continue
        n=${f#fuzz/fuzz_}
        names+=("${n%.c}")
    done
fi
if [ ${#names[@]} -eq 0 ]; then
    echo "fuzz: no targets under fuzz/" >&2
    exit 2
fi

mkdir -p "$OUT/obj" "$OUT/logs"

# library objects, rebuilt when the source or any header is newer
objs=()
newest_header=
for h in include/tad/*.h; do
    if [ -z "$newest_header" ] || [ "$h" -nt "$newest_header" ]; then
        newest_header=$h
    fi
done
for src in src/*.c; do
    [ "$src" = src/main.c ] && continue
    obj=$OUT/obj/$(basename "${src%.c}").o
    if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] ||
        { [ -n "$newest_header" ] && [ "$newest_header" -nt "$obj" ]; }; then
        # shellcheck disable=SC2086
        if ! "$CC" "${libflags[@]}" $pkg_cflags -c "$src" -o "$obj"; then
            echo "fuzz: cannot compile $src" >&2
            exit 2
        fi
    fi
    objs+=("$obj")
done
rm -f "$OUT/libtad-fuzz.a"
ar rcs "$OUT/libtad-fuzz.a" "${objs[@]}" || exit 2

rc=0
for name in "${names[@]}"; do
    src=fuzz/fuzz_$name.c
    bin=$OUT/fuzz_$name
    if [ ! -f "$src" ]; then
        echo "fuzz: no such target $src" >&2
        exit 2
    fi
    # shellcheck disable=SC2086
    if ! "$CC" "${tgtflags[@]}" $pkg_cflags "$src" "$OUT/libtad-fuzz.a" -o "$bin" $pkg_libs -lm; then
        echo "fuzz: cannot build $src" >&2
        exit 2
    fi
    corpus=$OUT/corpus/$name
    artifacts=$OUT/artifacts/$name/
    log=$OUT/logs/$name.log
    mkdir -p "$corpus" "$artifacts"
    seeds=()
    [ -d "fuzz/corpus/$name" ] && seeds=("fuzz/corpus/$name")
    dict=()
    [ -f "fuzz/$name.dict" ] && dict=(-dict="fuzz/$name.dict")
    echo "fuzz: $name for ${SECS}s"
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts" "${dict[@]}" ${FUZZ_ARGS:-} "$corpus" "${seeds[@]}" \
        >"$log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    if [ $status -ne 0 ]; then
        echo "fuzz: $name FAILED (exit $status); see $log and $artifacts" >&2
        tail -40 "$log" | sed 's/^/    /' >&2
        rc=1
    else
        echo "fuzz: $name ok (${runs:-?} runs, ${cov:-cov: ?}, corpus $(find "$corpus" -type f | wc -l) files)"
    fi
done
exit $rc
