#!/bin/bash
# fault_suite.sh - the daemon under scripted faults in TikTok, S3, SQS and Secrets Manager, and
# under kill -9 at random points during a file. Every file must end applied exactly as intended
# (audience membership compared as a set with an independent computation), no message lost
# (the queue drains; only the expected failures reach the failure queue), the spool clean.
#
#   tests/faults/fault_suite.sh [--kill-trials N] [--table FILE]
#
# AWS faults come from tests/lib/fault_proxy.py in front of moto; TikTok faults from the fake's
# fault queue. Prints one line per scenario and, with --table, writes a Markdown table of
# scenarios and outcomes (docs/reliability.md is made from it).
set -euo pipefail
KILL_TRIALS=20
TABLE=
while [ $# -gt 0 ]; do
    case $1 in
    --kill-trials) KILL_TRIALS=$2; shift 2 ;;
    --table) TABLE=$2; shift 2 ;;
    *) echo "usage: $0 [--kill-trials N] [--table FILE]" >&2; exit 64 ;;
    esac
done
[ -n "$TABLE" ] && TABLE=$(realpath -m "$TABLE") # the suite runs in its own directory
. "$(dirname "$0")/../lib/stack.sh"
. "$ROOT/tests/lib/daemon.sh"
cd "$STACK_DIR"
CURRENT_LOG=
fail() {
    echo "FAIL: $*" >&2
    [ -n "$CURRENT_LOG" ] && { echo "--- $CURRENT_LOG (last 30 lines)" >&2; tail -30 "$CURRENT_LOG" >&2; }
    exit 1
}
ROWS=()
row() { ROWS+=("| $1 | $2 | $3 |"); echo "ok - $1: $3"; }

BUCKET=fault-suite
TOKEN=tok-suite-0b7e1f
ADV=7000000003
SECRET="{\"ACCESS_TOKEN\":\"$TOKEN\",\"ADVERTISER_ID\":\"$ADV\"}"
stack_start_moto --queue main:3 --queue failures --bucket "$BUCKET" \
    --secret "tiktok_activation_credentials=$SECRET" --secret "tiktok_other=$SECRET"
stack_start_tiktok --token "$TOKEN:$ADV"
MOTO_DIRECT=$AWS_ENDPOINT_URL
python3 "$ROOT/tests/lib/fault_proxy.py" --port-file "$STACK_DIR/proxy.port" \
    --target-port "${MOTO_URL##*:}" >"$STACK_DIR/proxy.log" 2>&1 &
STACK_PIDS+=($!)
wait_until 10 test -s "$STACK_DIR/proxy.port" || fail "fault proxy did not start"
PROXY=http://127.0.0.1:$(cat "$STACK_DIR/proxy.port")

daemon_env "$QUEUE_URL_MAIN"
export TIKTOK_AUDIENCED_FAILURE_QUEUE_URL=$QUEUE_URL_FAILURES
export TIKTOK_AUDIENCED_WORKERS=2 TIKTOK_AUDIENCED_RECEIVE_VISIBILITY_TIMEOUT=8
export TIKTOK_AUDIENCED_TIKTOK_TIMEOUT_SECONDS=2 TIKTOK_AUDIENCED_METRICS_LISTEN=
export TIKTOK_AUDIENCED_ROUTES="tiktok/SecretFault/=tiktok_other"
export TIKTOK_AUDIENCED_TIKTOK_MAX_FILE_BYTES=2048 # several parts per file

aws_faults() { curl -fsS -X POST -d "$1" "$PROXY/_faults" >/dev/null; }
tiktok_faults() { python3 "$ROOT/tests/fake/tiktok_ctl.py" --url "$TIKTOK_URL" faults "$1" >/dev/null; }
aws_pending() { curl -fsS "$PROXY/_faults" | python3 -c 'import json,sys; sys.exit(0 if not json.load(sys.stdin)["faults"] else 1)'; }
failed_over() { # how many messages the failure queue holds
    AWS_ENDPOINT_URL=$MOTO_DIRECT queue_count "$QUEUE_URL_FAILURES"
}
announce() { # key file (objects and events go straight to moto, not through the proxy)
    AWS_ENDPOINT_URL=$MOTO_DIRECT put_and_announce eventbridge "$1" "$2"
}
expect_members() { # audience file...: the audience must hold exactly the rows of the files
    python3 - "$@" <<'PY'
import json, subprocess, sys, os
name, files = sys.argv[1], sys.argv[2:]
want = set()
for f in files:
    want |= {l.strip().lower() for l in open(f) if len(l.strip()) == 64}
st = json.loads(subprocess.check_output([sys.executable, os.environ["ROOT"] + "/tests/fake/tiktok_ctl.py", "--url", os.environ["TIKTOK_URL"], "state"]))
a = [x for x in st["audiences"] if x["name"] == name]
sys.exit(0 if len(a) == 1 and set(a[0]["members"]) == want else 1)
PY
}
export ROOT TIKTOK_URL

# the daemon talks to AWS through the proxy
export AWS_ENDPOINT_URL=$PROXY
CURRENT_LOG=$STACK_DIR/suite.log
daemon_start suite

n=0
scenario() { # title fault-kind fault-json outcome...
    local title=$1 kind=$2 fault=$3
    n=$((n + 1))
    local aud="S$n" f="$STACK_DIR/s$n.csv"
    [ "$kind" = secret ] && aud="SecretFault"
    hashes 120 "s$n" >"$f"
    case $kind in
    tiktok) tiktok_faults "$fault" ;;
    aws | secret) aws_faults "$fault" ;;
    none) ;;
    esac
    announce "tiktok/$aud/phone_sha256/s$n.csv" "$f"
    wait_until 60 expect_members "$aud" "$f" || fail "$title: audience $aud not exactly the file's rows"
    wait_until 20 queue_is "$QUEUE_URL_MAIN" 0 || fail "$title: message left in the queue"
    [ "$kind" = aws ] || [ "$kind" = secret ] && { aws_pending || fail "$title: fault never hit"; }
    [ "$(audience_count "$aud")" = 1 ] || fail "$title: $(audience_count "$aud") audiences named $aud"
    # processed once: one "file applied" line for the key, and the message never slipped away
    local once
    once=$(grep -c "\"msg\":\"file applied.*\"s3_key\":\"tiktok/$aud/phone_sha256/s$n.csv\"" suite.log || true)
    [ "$once" = 1 ] || fail "$title: applied $once times"
    ! grep -q "\"message_id\":\"[^\"]*\".*no longer held\|no longer held" suite.log ||
        fail "$title: a message's visibility was lost"
    row "$title" "$fault" "applied once (one audience), message deleted"
}

scenario "TikTok rate limit (40100) twice on upload" tiktok '{"endpoint":"upload","code":40100,"times":2}'
scenario "TikTok 50000 on create" tiktok '{"endpoint":"create","code":50000}'
scenario "TikTok HTTP 429 twice on list" tiktok '{"endpoint":"list","http":429,"times":2}'
scenario "TikTok HTTP 503 on upload" tiktok '{"endpoint":"upload","http":503}'
scenario "TikTok connection reset on upload" tiktok '{"endpoint":"upload","reset":true}'
scenario "TikTok timeout (3 s answer, 2 s limit) on upload" tiktok '{"endpoint":"upload","delay_ms":3000}'
scenario "TikTok create done but the answer lost" tiktok '{"endpoint":"create","reset":true,"apply":true}'
scenario "TikTok token rejected once (40105)" tiktok '{"endpoint":"list","code":40105}'
scenario "S3 GET 503 twice" aws '{"faults":[{"service":"s3","op":"GET","http":503,"code":"SlowDown","times":2}]}'
scenario "S3 GET cut after 200 body bytes (resumed)" aws '{"faults":[{"service":"s3","op":"GET","cut_after":200}]}'
scenario "S3 GET dripping at 4 KB/s" aws '{"faults":[{"service":"s3","op":"GET","slow_bps":4000}]}'
scenario "S3 GET connection reset" aws '{"faults":[{"service":"s3","op":"GET","reset":true}]}'
scenario "SQS DeleteMessageBatch 500 twice" aws '{"faults":[{"service":"sqs","op":"DeleteMessageBatch","http":500,"times":2}]}'
scenario "SQS ReceiveMessage throttled twice" aws '{"faults":[{"service":"sqs","op":"ReceiveMessage","http":400,"code":"ThrottlingException","times":2}]}'
scenario "Secrets Manager GetSecretValue 500 twice" secret '{"faults":[{"service":"secretsmanager","op":"GetSecretValue","http":500,"code":"InternalServiceError","times":2}]}'

# extensions failing while a slow download runs past the visibility timeout (the TikTok calls
# cannot be the slow part here: tiktok.timeout_seconds is 2)
scenario "SQS ChangeMessageVisibilityBatch reset twice while a 16 s S3 download runs (visibility 8 s)" aws \
    '{"faults":[{"service":"s3","op":"GET","slow_bps":500},{"service":"sqs","op":"ChangeMessageVisibilityBatch","reset":true,"times":2}]}'

# a token that stays rejected: permanent, handed to the failure queue, nothing applied
before=$(failed_over)
tiktok_faults '{"endpoint":"*","code":40105,"times":6}'
hashes 50 dead >dead.csv
announce "tiktok/Dead/phone_sha256/dead.csv" dead.csv
wait_until 30 test "$(failed_over)" -gt "$before" 2>/dev/null || true
[ "$(failed_over)" = $((before + 1)) ] || fail "persistent 40105 not failed over"
[ "$(audience_count Dead)" = 0 ] || fail "audience created with a rejected token"
wait_until 20 queue_is "$QUEUE_URL_MAIN" 0 || fail "rejected-token message left in the queue"
python3 "$ROOT/tests/fake/tiktok_ctl.py" --url "$TIKTOK_URL" faults '{"clear":true,"faults":[]}' >/dev/null
row "TikTok token rejected on every try (40105)" '{"endpoint":"*","code":40105,"times":6}' \
    "permanent: failure queue, nothing applied, message deleted"

kill -TERM "$DAEMON_PID_suite"
wait "$DAEMON_PID_suite" || fail "suite daemon exit status $?"
[ -z "$(ls -A spool)" ] || fail "spool not empty"

# --- kill -9 at random points during a file, then a second instance ---
export TIKTOK_AUDIENCED_RECEIVE_VISIBILITY_TIMEOUT=2
python3 - "$KILL_TRIALS" <<'PY'
import hashlib, json, random, sys
# a plan of files: append / remove / replace on two audiences, with the expected end state
random.seed(20261129)
trials = int(sys.argv[1])
plan, state = [], {"K1": set(), "K2": set()}
for t in range(trials):
    aud = random.choice(["K1", "K2"])
    rows = {hashlib.sha256(b"kill-%d-%d" % (t, i)).hexdigest() for i in range(90)}
    action = "append"
    if state[aud] and t % 4 == 2:
        action = "remove"
        rows = set(random.sample(sorted(state[aud]), min(40, len(state[aud]))))
    elif state[aud] and t % 4 == 3:
        action = "replace"
    if action == "append":
        state[aud] |= rows
    elif action == "remove":
        state[aud] -= rows
    else:
        state[aud] = set(rows)
    open("kill-%d.csv" % t, "w").write("\n".join(sorted(rows)) + "\n")
    plan.append({"t": t, "aud": aud, "action": action, "kill_ms": random.randint(0, 600)})
    json.dump({k: sorted(v) for k, v in state.items()}, open("kill-want-%d.json" % t, "w"))
json.dump(plan, open("kill-plan.json", "w"))
PY
members_match() { # trial: both audiences as the plan expects after it
    python3 - "$1" <<'PY'
import json, os, subprocess, sys
want = json.load(open("kill-want-%s.json" % sys.argv[1]))
st = json.loads(subprocess.check_output([sys.executable, os.environ["ROOT"] + "/tests/fake/tiktok_ctl.py", "--url", os.environ["TIKTOK_URL"], "state"]))
for name, rows in want.items():
    a = [x for x in st["audiences"] if x["name"] == name]
    if rows and (len(a) != 1 or set(a[0]["members"]) != set(rows)):
        sys.exit(1)
    if not rows and a:
        sys.exit(1)
PY
}
calls_so_far() {
    python3 "$ROOT/tests/fake/tiktok_ctl.py" --url "$TIKTOK_URL" calls |
        python3 -c 'import json,sys; d=json.load(sys.stdin); d=d.get("calls", d) if isinstance(d, dict) else d; print(len(d))'
}
calls_after() { [ "$(calls_so_far)" -gt "$1" ]; }
killed_mid_file=0
for ((t = 0; t < KILL_TRIALS; t++)); do
    read -r aud action kill_ms < <(python3 -c "import json;p=json.load(open('kill-plan.json'))[$t];print(p['aud'],p['action'],p['kill_ms'])")
    key="tiktok/$aud/phone_sha256/$action/kill-$t.csv"
    [ "$action" = append ] && key="tiktok/$aud/phone_sha256/kill-$t.csv"
    tiktok_faults '{"endpoint":"*","delay_ms":200,"times":12}' # widen the window a little
    CURRENT_LOG=$STACK_DIR/victim$t.log
    daemon_start "victim$t"
    before=$(calls_so_far)
    announce "$key" "kill-$t.csv"
    # the kill lands 0-600 ms after the daemon's first TikTok call for this file
    wait_until 20 calls_after "$before" || fail "trial $t: the victim never reached TikTok"
    sleep "$(printf '%d.%03d' $((kill_ms / 1000)) $((kill_ms % 1000)))"
    pid_var=DAEMON_PID_victim$t
    kill -KILL "${!pid_var}"
    wait "${!pid_var}" 2>/dev/null || true
    grep -q 'file applied' "$CURRENT_LOG" || killed_mid_file=$((killed_mid_file + 1))
    [ -z "$(ls -A spool)" ] || fail "trial $t: the killed daemon left spool files"
    python3 "$ROOT/tests/fake/tiktok_ctl.py" --url "$TIKTOK_URL" faults '{"clear":true,"faults":[]}' >/dev/null
    CURRENT_LOG=$STACK_DIR/rescue$t.log
    daemon_start "rescue$t"
    wait_until 40 members_match "$t" || fail "trial $t ($action $aud, kill at ${kill_ms} ms): audiences not as intended"
    AWS_ENDPOINT_URL=$MOTO_DIRECT wait_until 20 queue_is "$QUEUE_URL_MAIN" 0 || fail "trial $t: message lost or left"
    pid_var=DAEMON_PID_rescue$t
    kill -TERM "${!pid_var}"
    wait "${!pid_var}" || fail "trial $t: rescue exit status"
    [ -z "$(ls -A spool)" ] || fail "trial $t: spool not empty"
done
for a in K1 K2; do
    [ "$(audience_count $a)" -le 1 ] || fail "audience $a created more than once"
done
row "kill -9 at a random point (0-600 ms after the first TikTok call) during a file, then a second instance; $KILL_TRIALS trials of append/remove/replace" \
    "SIGKILL; TikTok answers delayed 200 ms" \
    "every file applied exactly as intended ($killed_mid_file killed before the file was applied), no message lost, spool clean"

if [ -n "$TABLE" ]; then
    {
        echo "| scenario | fault | outcome |"
        echo "|---|---|---|"
        printf '%s\n' "${ROWS[@]}"
    } >"$TABLE"
fi
echo "fault suite: ${#ROWS[@]} scenarios passed"
