# stack.sh - shell helpers for integration tests: start moto (auth on) and the fake TikTok on
# free loopback ports, and stop everything at exit. Source it, then call the functions.
#   stack_start_moto [bootstrap args...]   exports AWS_* variables, MOTO_URL, QUEUE_URL_<NAME>
#   stack_start_tiktok [fake args...]      exports TIKTOK_URL, TIKTOK_API_BASE
# Everything started is killed by the EXIT trap; logs go to $STACK_DIR.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tad-stack.XXXXXX")
STACK_PIDS=()
export BUILD=${BUILD:-build}
BIN=$ROOT/$BUILD/tiktok-audienced

stack_stop() {
    local pid
    for pid in "${STACK_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${STACK_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    STACK_PIDS=()
    [ -n "${KEEP_STACK:-}" ] || rm -rf "$STACK_DIR"
}
# keep the test's own exit status whatever the clean-up returns
trap 'stack_rc=$?; stack_stop; exit $stack_rc' EXIT

stack_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

stack_wait_port() { # port seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "port $1 did not open" >&2
    return 1
}

stack_start_moto() {
    MOTO_PY=$("$ROOT"/scripts/find-moto-python.sh) || { echo "moto not found" >&2; return 1; }
    local port
    port=$(stack_free_port)
    "$MOTO_PY" "$ROOT"/tests/lib/moto_server.py -H 127.0.0.1 -p "$port" >"$STACK_DIR/moto.log" 2>&1 &
    STACK_PIDS+=($!)
    stack_wait_port "$port" 30 || return 1
    export MOTO_URL=http://127.0.0.1:$port
    local vars
    vars=$("$MOTO_PY" "$ROOT"/tests/lib/moto_bootstrap.py "$MOTO_URL" "$@") || return 1
    eval "$vars"
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    local v
    for v in $(echo "$vars" | sed -n 's/^\(QUEUE_URL_[A-Z0-9_]*\)=.*/\1/p'); do export "$v"; done
    export AWS_REGION=us-east-1 AWS_ENDPOINT_URL=$MOTO_URL AWS_EC2_METADATA_DISABLED=true
    unset AWS_PROFILE AWS_SESSION_TOKEN
    export AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
}

stack_start_tiktok() {
    local port_file=$STACK_DIR/tiktok.port
    python3 "$ROOT"/tests/fake/fake_tiktok.py --port 0 --port-file "$port_file" "$@" \
        >"$STACK_DIR/tiktok.log" 2>&1 &
    STACK_PIDS+=($!)
    local i
    for ((i = 0; i < 100; i++)); do
        [ -s "$port_file" ] && break
        sleep 0.1
    done
    [ -s "$port_file" ] || { echo "fake TikTok did not start" >&2; cat "$STACK_DIR/tiktok.log" >&2; return 1; }
    export TIKTOK_URL=http://127.0.0.1:$(cat "$port_file")
    export TIKTOK_API_BASE=$TIKTOK_URL/open_api/v1.3
}

# aws CLI-free helper: python3 with boto3 against moto, signed with the test key.
stack_py() {
    "$MOTO_PY" - "$@"
}
