# stack.sh - the set-up shared by the soak, memcheck and TSan runs (source tests/lib/stack.sh
# and tests/lib/daemon.sh first): moto with the ingest and failure queues, a bucket and the
# TikTok secret, the fake TikTok, and the daemon's settings for a long run.
#   soak_stack BUCKET TOKEN WORKERS RPS   sets METRICS_PORT and the TIKTOK_AUDIENCED_* variables
soak_stack() {
    local bucket=$1 token=$2
    stack_start_moto --queue ingest:120 --queue failures --bucket "$bucket" \
        --secret "tiktok_activation_credentials={\"ACCESS_TOKEN\":\"$token\",\"ADVERTISER_ID\":\"7000000001\"}"
    stack_start_tiktok --token "$token:7000000001"
    daemon_env "$QUEUE_URL_INGEST"
    export TIKTOK_AUDIENCED_FAILURE_QUEUE_URL=$QUEUE_URL_FAILURES
    export TIKTOK_AUDIENCED_WORKERS=$3 TIKTOK_AUDIENCED_RECEIVE_WAIT_SECONDS=1
    # the default client-side limit (10 TikTok calls/s, 2 per file) would be the only bottleneck
    export TIKTOK_AUDIENCED_TIKTOK_MAX_REQUESTS_PER_SECOND=$4
    METRICS_PORT=$(stack_free_port)
    export TIKTOK_AUDIENCED_METRICS_LISTEN=127.0.0.1:$METRICS_PORT
}
