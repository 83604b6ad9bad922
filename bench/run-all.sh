#!/bin/bash
# run-all.sh - `make bench`: every benchmark under bench/, one after the other.
set -u
cd "$(dirname "$0")/.."
rc=0
for b in bench/sigv4 bench/pipeline bench/queue bench/startup; do
    echo "==== $b"
    "$b" || rc=1
done
exit $rc
