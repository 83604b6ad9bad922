#!/bin/bash
# soak.sh [FILES] - pushes FILES (default 10000) small files through `tiktok-audienced run`
# against moto and the fake TikTok and watches the daemon's memory and descriptors.
# The objects are put with a thread pool before the daemon starts (workers 8,
# receive.wait_seconds 1); their events go 10 per SendMessageBatch. moto's SQS costs time in
# proportion to the queue's depth for every message stored or received, so 10,000 queued
# events at once take it about half an hour to accept: by default the events are sent while the
# daemon runs, pausing whenever more than SOAK_BACKLOG (400) wait (SOAK_BACKLOG=0: every event
# is queued before the daemon starts). tests/soak/monitor.py samples VmRSS, open fds, threads,
# the /metrics file counts and the queue depth every second into a CSV, and the run ends when
# the queue is empty and every audience has its expected members. summary.py prints files/s
# and the RSS/fd figures and decides PASS (exit 0) or FAIL.
# Env: BUILD (default build-soak), SOAK_AUDIENCES (20), SOAK_ROWS (5 rows per file),
# SOAK_BACKLOG (400), SOAK_TIKTOK_RPS (tiktok.max_requests_per_second, default 1000),
# SOAK_TIMEOUT (seconds, default 3600), SOAK_OUT (directory kept for the CSV and logs,
# default tmp/soak-FILES).
set -euo pipefail
FILES=${1:-10000}
export BUILD=${BUILD:-build-soak}
. "$(dirname "$0")/../lib/stack.sh"
. "$ROOT/tests/lib/daemon.sh"
OUT=${SOAK_OUT:-$ROOT/tmp/soak-$FILES}
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "build first: make BUILD=$BUILD $BUILD/tiktok-audienced" >&2; exit 2; }
cd "$STACK_DIR"

BUCKET=soak-bucket
TOKEN=tok-soak-5c1e0b
. "$ROOT/tests/soak/stack.sh"
soak_stack "$BUCKET" "$TOKEN" 8 "${SOAK_TIKTOK_RPS:-1000}"
: >config.yaml

BACKLOG=${SOAK_BACKLOG:-400}
load() {
    "$MOTO_PY" "$ROOT/tests/soak/load.py" "$1" "$BUCKET" "$QUEUE_URL_INGEST" "$FILES" \
        "${SOAK_AUDIENCES:-20}" "${SOAK_ROWS:-5}" Soak expected.json "$BACKLOG"
}
echo "soak: $FILES files, backlog cap $BACKLOG"
if [ "$BACKLOG" = 0 ]; then
    load all
    daemon_start d -c config.yaml
else
    load put
    daemon_start d -c config.yaml
    load send &
    STACK_PIDS+=($!)
fi
pid=$DAEMON_PID_d
rc=0
"$MOTO_PY" "$ROOT/tests/soak/monitor.py" "$pid" "$OUT/samples.csv" "$QUEUE_URL_INGEST" \
    "http://127.0.0.1:$METRICS_PORT/metrics" expected.json "$TIKTOK_URL" \
    "${SOAK_TIMEOUT:-3600}" || rc=$?
curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" >"$OUT/metrics.txt" || true
kill -TERM "$pid" 2>/dev/null || true
drc=0
wait "$pid" || drc=$?
cp d.log moto.log tiktok.log "$OUT/" 2>/dev/null || true
echo "daemon exit status after SIGTERM: $drc"
echo "log lines: $(wc -l <d.log), warnings/errors: $(grep -c '"level":"\(warn\|error\)"' d.log || true)"
python3 "$ROOT/tests/soak/summary.py" "$OUT/samples.csv" "$FILES" | tee "$OUT/summary.txt" || rc=1
[ "$drc" = 0 ] || rc=1
echo "samples and logs kept in $OUT"
exit "$rc"
