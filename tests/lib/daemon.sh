# daemon.sh - shell helpers for tests that run `tiktok-audienced run` against moto and the fake
# TikTok (source tests/lib/stack.sh first).
#   daemon_env QUEUE_URL            exports the TIKTOK_AUDIENCED_* settings the tests share
#   daemon_start NAME [args...]     starts the daemon in the background (log: $STACK_DIR/NAME.log,
#                                   pid in DAEMON_PID_<NAME>); stopped by the stack's EXIT trap
#   put_and_announce FORM KEY FILE  uploads FILE to $BUCKET/KEY and sends the event to the queue
#   wait_until SECONDS CMD...       polls CMD every 0.2 s until it succeeds
#   queue_count URL                 visible + in-flight messages
#   audience_members NAME           members of the one audience called NAME (0 if none)
#   tiktok_calls ENDPOINT           how many calls the fake TikTok logged for ENDPOINT

daemon_env() {
    export TIKTOK_AUDIENCED_QUEUE_URL=$1
    export TIKTOK_AUDIENCED_TIKTOK_API_BASE=$TIKTOK_API_BASE
    export TIKTOK_AUDIENCED_RECEIVE_WAIT_SECONDS=1
    export TIKTOK_AUDIENCED_RETRY_BASE_DELAY_MS=20 TIKTOK_AUDIENCED_RETRY_MAX_DELAY_MS=200
    export TIKTOK_AUDIENCED_LOG_FORMAT=json TIKTOK_AUDIENCED_LOG_LEVEL=info
    mkdir -p -m 700 "$STACK_DIR/spool"
    export TIKTOK_AUDIENCED_SPOOL_DIR=$STACK_DIR/spool
}

daemon_start() {
    local name=$1
    shift
    "$BIN" run --foreground "$@" >>"$STACK_DIR/$name.log" 2>&1 &
    local pid=$!
    STACK_PIDS+=("$pid")
    eval "DAEMON_PID_$name=$pid"
}

put_and_announce() {
    "$MOTO_PY" "$ROOT/tests/lib/aws_admin.py" put-object "$BUCKET" "$2" "$3" >/dev/null
    "$MOTO_PY" "$ROOT/tests/lib/aws_admin.py" send \
        "$(python3 "$ROOT/tests/lib/s3_event.py" "$1" "$BUCKET" "$2" "$(stat -c %s "$3")")" \
        "$TIKTOK_AUDIENCED_QUEUE_URL"
}

send_body() { # body [queue]
    "$MOTO_PY" "$ROOT/tests/lib/aws_admin.py" send "$1" "${2:-$TIKTOK_AUDIENCED_QUEUE_URL}"
}

wait_until() {
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 5; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

queue_count() {
    "$MOTO_PY" "$ROOT/tests/lib/aws_admin.py" count "$1"
}

fake_state() {
    python3 "$ROOT/tests/fake/tiktok_ctl.py" --url "$TIKTOK_URL" state
}

audience_members() {
    fake_state | python3 -c '
import json, sys
a = [x for x in json.load(sys.stdin)["audiences"] if x["name"] == sys.argv[1]]
assert len(a) <= 1, "%d audiences named %s" % (len(a), sys.argv[1])
print(len(a[0]["members"]) if a else 0)' "$1"
}

audience_count() {
    fake_state | python3 -c '
import json, sys
print(sum(1 for x in json.load(sys.stdin)["audiences"] if x["name"] == sys.argv[1]))' "$1"
}

tiktok_calls() {
    python3 "$ROOT/tests/fake/tiktok_ctl.py" --url "$TIKTOK_URL" calls --endpoint "$1" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); d=d.get("calls", d) if isinstance(d, dict) else d; print(sum(1 for c in d if c.get("code") == 0))'
}

hashes() { # count seed -> file of SHA-256 rows
    python3 -c 'import hashlib,sys
n, seed = int(sys.argv[1]), sys.argv[2]
print("\n".join(hashlib.sha256(("%s-%d" % (seed, i)).encode()).hexdigest() for i in range(n)))' "$1" "$2"
}

# Predicates for wait_until (evaluated on every poll, unlike "$(...)" in its arguments).
members_is() { [ "$(audience_members "$1")" = "$2" ]; }
queue_is() { [ "$(queue_count "$1")" = "$2" ]; }
# True once the fake TikTok has used up every scripted fault (a delayed call has started).
faults_consumed() {
    curl -fsS "$TIKTOK_URL/_fake/faults" | python3 -c '
import json, sys
d = json.load(sys.stdin)
d = d.get("faults", d.get("pending_faults", d)) if isinstance(d, dict) else d
sys.exit(0 if not d else 1)'
}
