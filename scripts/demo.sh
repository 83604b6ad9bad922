#!/bin/bash
# demo.sh - `make demo`: tiktok-audienced end to end on a local stack, in under a minute.
#
# Starts moto (S3, SQS, EventBridge, Secrets Manager; SigV4 checked) and the fake TikTok API on
# loopback, creates the bucket, the queue with its dead-letter queue, the EventBridge rule from
# the bucket to the queue and the TikTok secret, uploads a file of hashed phone numbers to
# s3://demo-clean-room-output/tiktok/foodies-custom-audience/phone_sha256/, and runs the daemon
# in the foreground until that file is applied. Then it prints what happened and stops
# everything it started. The fake TikTok keeps its state in build/demo/, so a second run
# appends a new file to the same audience. Nothing leaves this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
make --no-print-directory -s BUILD="$BUILD" all >/dev/null
DEMO_DIR=$PWD/$BUILD/demo
mkdir -p "$DEMO_DIR"
. tests/lib/stack.sh

say() { printf '\n== %s\n' "$*"; }
BUCKET=demo-clean-room-output
AUDIENCE=foodies-custom-audience
TOKEN=demo-access-token-0000
ADVERTISER=7000000001

say "starting moto (S3, SQS, EventBridge, Secrets Manager) and the fake TikTok on 127.0.0.1"
stack_start_moto --queue tiktok-audienced:60 --queue tiktok-audienced-dlq \
    --redrive tiktok-audienced:tiktok-audienced-dlq:5 --bucket "$BUCKET" \
    --eventbridge "$BUCKET:tiktok-audienced:tiktok/" \
    --secret "tiktok_activation_credentials={\"ACCESS_TOKEN\":\"$TOKEN\",\"ADVERTISER_ID\":\"$ADVERTISER\"}"
stack_start_tiktok --token "$TOKEN:$ADVERTISER" --state-file "$DEMO_DIR/tiktok-state.json"
echo "   moto:        $MOTO_URL"
echo "   fake TikTok: $TIKTOK_API_BASE"

# each run uploads 1,000 hashed phone numbers, half of them new
run=$(($(cat "$DEMO_DIR/runs" 2>/dev/null || echo 0) + 1))
echo "$run" >"$DEMO_DIR/runs"
file=$STACK_DIR/foodies-run-$run.csv
python3 - "$run" "$file" <<'PY'
import hashlib, sys
run, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("phone_sha256\n")
    for i in range((run - 1) * 500, (run - 1) * 500 + 1000):
        f.write(hashlib.sha256(("1415555%04d" % i).encode()).hexdigest() + "\n")
PY
key="tiktok/$AUDIENCE/phone_sha256/foodies-run-$run.csv"
say "uploading s3://$BUCKET/$key (1,000 rows); S3 -> EventBridge -> SQS delivers the event"
"$MOTO_PY" tests/lib/aws_admin.py put-object "$BUCKET" "$key" "$file" >/dev/null
if [ "$("$MOTO_PY" tests/lib/aws_admin.py count "$QUEUE_URL_TIKTOK_AUDIENCED")" = 0 ]; then
    echo "   (this moto did not forward the event; sending the EventBridge event by hand)"
    "$MOTO_PY" tests/lib/aws_admin.py send \
        "$(python3 tests/lib/s3_event.py eventbridge "$BUCKET" "$key" "$(stat -c %s "$file")")" \
        "$QUEUE_URL_TIKTOK_AUDIENCED"
fi

say "running: tiktok-audienced run --foreground (text logs below)"
export TIKTOK_AUDIENCED_QUEUE_URL=$QUEUE_URL_TIKTOK_AUDIENCED
export TIKTOK_AUDIENCED_TIKTOK_API_BASE=$TIKTOK_API_BASE
export TIKTOK_AUDIENCED_RECEIVE_WAIT_SECONDS=2 TIKTOK_AUDIENCED_METRICS_LISTEN=
export TIKTOK_AUDIENCED_REPORT_PREFIX=reports/ TIKTOK_AUDIENCED_SPOOL_DIR=$STACK_DIR
export TIKTOK_AUDIENCED_LOG_FORMAT=text
log=$STACK_DIR/daemon.log
"$BIN" run --foreground > >(tee "$log") 2>&1 &
daemon=$!
STACK_PIDS+=("$daemon")
for ((i = 0; i < 300; i++)); do
    grep -q 'file applied\|file rejected\|will be retried' "$log" 2>/dev/null && break
    sleep 0.1
done
kill -TERM "$daemon"
wait "$daemon" || { echo "the daemon exited with status $?" >&2; exit 1; }

say "what happened"
grep -q 'file applied' "$log" || { echo "the file was not applied; see the log above" >&2; exit 1; }
python3 tests/fake/tiktok_ctl.py --url "$TIKTOK_URL" state | python3 -c '
import json, sys
st = json.load(sys.stdin)
for a in st["audiences"]:
    if a["name"] != sys.argv[1]:
        continue
    print("   TikTok audience %r (id %s, %s): %d members" % (
        a["name"], a["audience_id"], a["calculate_type"], len(a["members"])))
    for h in a["history"]:
        print("     %s  %-7s %s" % (h["opt_time"], h["action"], h["action_detail"]))' "$AUDIENCE"
sed -n 's/.*file applied\(: audience created\)\{0,1\}.* rows_valid=\([0-9]*\).* parts=\([0-9]*\).* request_id=\([^ ]*\).*/   this run: \2 rows in \3 part(s); TikTok request ids \4/p' "$log"
"$MOTO_PY" - "$BUCKET" "reports/$key.json" <<'PY'
import json, os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
r = json.loads(s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])["Body"].read())
print("   report s3://%s/%s: status %s, %d valid rows" % (sys.argv[1], sys.argv[2], r["status"], r["rows_valid"]))
PY
echo "   queue left with $("$MOTO_PY" tests/lib/aws_admin.py count "$QUEUE_URL_TIKTOK_AUDIENCED") message(s)"
echo
echo "Run 'make demo' again to append another file to the same audience."
echo "State of the fake TikTok: $DEMO_DIR/tiktok-state.json (delete $DEMO_DIR to start over)."
