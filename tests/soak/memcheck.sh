#!/bin/bash
# memcheck.sh [FILES] - runs `tiktok-audienced run` under valgrind memcheck against moto and
# the fake TikTok: FILES (default 100) small files plus one poison message (not JSON, sent on
# to the failure queue), then SIGTERM once the queue is empty and every audience is complete.
# valgrind: --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9
# --track-fds=yes, so any invalid access, uninitialised use or definite leak fails the run;
# "still reachable" blocks left by libcurl/OpenSSL/libyaml at exit are reported, not failed.
# Prints the ERROR SUMMARY, leak summary and descriptors open at exit; exit 0 when clean.
# MEMCHECK_MIDRUN=1: a SIGHUP (reload) once a quarter of the files are applied and the SIGTERM
# at half, so the reload and the release of held and queued messages run under memcheck too.
# Env: BUILD (default build-soak: the plain -O2 -g build), MEMCHECK_OUT (kept valgrind log).
set -euo pipefail
FILES=${1:-100}
export BUILD=${BUILD:-build-soak}
. "$(dirname "$0")/../lib/stack.sh"
. "$ROOT/tests/lib/daemon.sh"
OUT=${MEMCHECK_OUT:-$ROOT/tmp/memcheck}
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "build first: make BUILD=$BUILD $BUILD/tiktok-audienced" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind not installed" >&2; exit 2; }
cd "$STACK_DIR"

BUCKET=mc-bucket
TOKEN=tok-memcheck-93b0aa
. "$ROOT/tests/soak/stack.sh"
soak_stack "$BUCKET" "$TOKEN" 4 1000
export TIKTOK_AUDIENCED_REPORT_PREFIX=reports/
printf 'log:\n  level: info\n' >config.yaml

"$MOTO_PY" "$ROOT/tests/soak/load.py" all "$BUCKET" "$QUEUE_URL_INGEST" "$FILES" 5 5 Mc expected.json
send_body 'this is not JSON'

valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 --track-fds=yes \
    --show-leak-kinds=all --num-callers=30 --log-file="$OUT/valgrind.log" \
    "$BIN" run --foreground -c config.yaml >>d.log 2>&1 &
pid=$!
STACK_PIDS+=("$pid")
rc=0
applied() {
    curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null |
        sed -n 's/^tiktok_audienced_files_total{result="applied"} \([0-9]*\)$/\1/p'
}
applied_at_least() { [ "$(applied)" -ge "$1" ] 2>/dev/null; }
if [ -n "${MEMCHECK_MIDRUN:-}" ]; then
    wait_until 600 applied_at_least $((FILES / 4)) || rc=1
    printf 'log:\n  level: info\nreceive:\n  max_messages: 3\n' >config.yaml
    kill -HUP "$pid"
    echo "SIGHUP at $(applied) applied"
    wait_until 600 applied_at_least $((FILES / 2)) || rc=1
    echo "SIGTERM at $(applied) applied"
else
    "$MOTO_PY" "$ROOT/tests/soak/monitor.py" "$pid" "$OUT/samples.csv" "$QUEUE_URL_INGEST" \
        "http://127.0.0.1:$METRICS_PORT/metrics" expected.json "$TIKTOK_URL" 900 || rc=1
fi
curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" >"$OUT/metrics.txt" || true
kill -TERM "$pid" 2>/dev/null || true
vrc=0
wait "$pid" || vrc=$?
cp d.log "$OUT/"
nfail=$("$MOTO_PY" "$ROOT/tests/lib/aws_admin.py" receive-all "$QUEUE_URL_FAILURES" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')

echo "files $FILES + 1 poison message; failure queue holds $nfail; exit status $vrc (9 = valgrind errors)"
grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|suppressed:' \
    "$OUT/valgrind.log" | sed 's/^==[0-9]*== */  /'
grep -E 'FILE DESCRIPTORS' "$OUT/valgrind.log" | sed 's/^==[0-9]*== */  /'
grep -A1 -E '^==[0-9]+== Open (AF_INET|file descriptor [0-9]+: /[^d])' "$OUT/valgrind.log" |
    sed 's/^==[0-9]*== */    /' | head -20 || true
bad=$(grep -cE 'Invalid (read|write|free)|uninitialised|Mismatched free|overlap' "$OUT/valgrind.log" || true)
echo "invalid accesses / uninitialised uses: $bad"
grep -q 'ERROR SUMMARY: 0 errors' "$OUT/valgrind.log" || rc=1
grep -qE 'definitely lost: 0 bytes|All heap blocks were freed' "$OUT/valgrind.log" || rc=1
[ "$bad" = 0 ] || rc=1
[ "$vrc" = 0 ] || rc=1
[ -n "${MEMCHECK_MIDRUN:-}" ] || [ "$nfail" = 1 ] ||
    { echo "expected the poison message in the failure queue" >&2; rc=1; }
echo "valgrind log kept in $OUT/valgrind.log"
[ "$rc" = 0 ] && echo PASS || echo FAIL
exit "$rc"
