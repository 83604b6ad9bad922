#!/bin/bash
# tsan.sh [FILES] - ThreadSanitizer run of `tiktok-audienced run` against moto and the fake
# TikTok: FILES (default 200) small files with workers 8, a SIGHUP (configuration reload)
# once a quarter of them are applied and a SIGTERM (drain) at about 60%, then the unit tests
# t_inflight t_metrics t_retry t_ratelimit t_pipeline under TSan, and tsan_log_reload.c (the
# logger while its level and format change; compiled here against $BUILD/libtad.a). Every
# report is kept in $TSAN_OUT (default tmp/tsan) and its SUMMARY lines printed; exit 0 when
# there is none.
# TSAN_SECOND_TERM=1 sends a second SIGTERM 10 ms after the first (in-flight transfers are
# cancelled instead of finished).
# Build first (the Makefile takes extra flags through CFLAGS/LDFLAGS):
#   make BUILD=build-tsan CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=thread" \
#        LDFLAGS=-fsanitize=thread build-tsan/tiktok-audienced build-tsan/tests/t_inflight ...
set -euo pipefail
FILES=${1:-200}
export BUILD=${BUILD:-build-tsan}
. "$(dirname "$0")/../lib/stack.sh"
. "$ROOT/tests/lib/daemon.sh"
OUT=${TSAN_OUT:-$ROOT/tmp/tsan}
rm -rf "$OUT"
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "build first (see the header of $0)" >&2; exit 2; }
cd "$STACK_DIR"
TSAN_BASE="halt_on_error=0 second_deadlock_stack=1 history_size=4 exitcode=66"

BUCKET=tsan-bucket
TOKEN=tok-tsan-61f2d4
. "$ROOT/tests/soak/stack.sh"
soak_stack "$BUCKET" "$TOKEN" 8 1000
export TIKTOK_AUDIENCED_REPORT_PREFIX=reports/
printf 'log:\n  level: info\n' >config.yaml

"$MOTO_PY" "$ROOT/tests/soak/load.py" all "$BUCKET" "$QUEUE_URL_INGEST" "$FILES" 10 5 Ts expected.json
send_body 'this is not JSON'

applied() {
    curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null |
        sed -n 's/^tiktok_audienced_files_total{result="applied"} \([0-9]*\)$/\1/p'
}
applied_at_least() { [ "$(applied)" -ge "$1" ] 2>/dev/null; }

TSAN_OPTIONS="$TSAN_BASE log_path=$OUT/daemon" daemon_start d -c config.yaml
pid=$DAEMON_PID_d
rc=0
wait_until 300 applied_at_least $((FILES / 4)) || { echo "no progress" >&2; rc=1; }
printf 'log:\n  level: info\nreceive:\n  max_messages: 5\n' >config.yaml
kill -HUP "$pid"
echo "SIGHUP at $(applied) applied"
wait_until 300 applied_at_least $((FILES * 6 / 10)) || { echo "no progress" >&2; rc=1; }
echo "SIGTERM at $(applied) applied"
kill -TERM "$pid"
if [ -n "${TSAN_SECOND_TERM:-}" ]; then # a second stop signal interrupts the in-flight files
    sleep 0.01
    kill -TERM "$pid" 2>/dev/null || echo "the daemon had already stopped"
fi
drc=0
wait "$pid" || drc=$?
cp d.log "$OUT/daemon.log"
grep -q 'configuration reloaded' d.log || { echo "the reload did not happen" >&2; rc=1; }
echo "daemon exit status $drc (66 = TSan reports)"
[ "$drc" = 0 ] || rc=1

for t in t_inflight t_metrics t_retry t_ratelimit t_pipeline; do
    trc=0
    TSAN_OPTIONS="$TSAN_BASE log_path=$OUT/$t" timeout 300 "$ROOT/$BUILD/tests/$t" \
        >"$OUT/$t.out" 2>&1 || trc=$?
    echo "$t exit status $trc ($(grep -c '^\[       OK \]' "$OUT/$t.out" || true) tests ok)"
    [ "$trc" = 0 ] || rc=1
done

lrc=0
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
cc -std=c17 -D_GNU_SOURCE -O1 -g -fsanitize=thread -I"$ROOT/include" \
    "$ROOT/tests/soak/tsan_log_reload.c" "$ROOT/$BUILD/libtad.a" -o "$OUT/tsan_log_reload" \
    $(pkg-config --libs libcurl jansson libcrypto yaml-0.1 libsystemd libmicrohttpd zlib) -lm \
    -pthread && TSAN_OPTIONS="$TSAN_BASE log_path=$OUT/t_log_reload" "$OUT/tsan_log_reload" ||
    lrc=$?
echo "tsan_log_reload exit status $lrc"
[ "$lrc" = 0 ] || rc=1

n=$(cat "$OUT"/daemon.* "$OUT"/t_*.[0-9]* 2>/dev/null | grep -c 'WARNING: ThreadSanitizer' || true)
echo "ThreadSanitizer reports: $n"
cat "$OUT"/daemon.* "$OUT"/t_*.[0-9]* 2>/dev/null | grep '^SUMMARY: ThreadSanitizer' | sort |
    uniq -c || true
[ "$n" = 0 ] || rc=1
echo "reports kept in $OUT"
[ "$rc" = 0 ] && echo PASS || echo FAIL
exit "$rc"
