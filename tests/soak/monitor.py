"""monitor.py - watches a running daemon during a soak run. Every second it appends one CSV row:
seconds since start, VmRSS (KiB, /proc/PID/status), open fds (/proc/PID/fd), threads, files
applied and failed (from /metrics), and the queue's visible + in-flight messages. It exits 0
once the queue is empty and every audience of the fake TikTok has the expected member count,
1 if the daemon exits first or TIMEOUT seconds pass.

usage: monitor.py PID CSV QUEUE_URL METRICS_URL EXPECTED_JSON TIKTOK_URL TIMEOUT"""
import json
import os
import re
import sys
import time
import urllib.request

import boto3

pid, csv_path, queue_url, metrics_url, expected_path, tiktok_url = sys.argv[1:7]
timeout = float(sys.argv[7])
sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
with open(expected_path) as f:
    expected = json.load(f)


def proc_sample():
    rss = threads = None
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, len(os.listdir("/proc/%s/fd" % pid)), threads


def files_done():
    try:
        text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    except OSError:
        return -1, -1
    got = {}
    for res in ("applied", "failed"):
        m = re.search(r'^tiktok_audienced_files_total\{result="%s"\} (\d+)$' % res, text, re.M)
        got[res] = int(m.group(1)) if m else 0
    return got["applied"], got["failed"]


def queue_count():
    a = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def audiences_match():
    with urllib.request.urlopen(tiktok_url + "/_fake/state", timeout=60) as r:
        state = json.load(r)
    have = {}
    for a in state["audiences"]:
        if a["name"] in have:  # an audience created twice never matches
            return False
        have[a["name"]] = len(a["members"])
    return all(have.get(name) == n for name, n in expected.items())


t0 = time.monotonic()
last_check = 0.0
with open(csv_path, "w", buffering=1) as out:
    out.write("t_s,rss_kib,fds,threads,applied,failed,queue\n")
    while True:
        tick = time.monotonic()
        try:
            rss, fds, threads = proc_sample()
        except OSError:
            print("monitor: the daemon exited", file=sys.stderr)
            sys.exit(1)
        applied, failed = files_done()
        q = queue_count()
        out.write("%.1f,%d,%d,%d,%d,%d,%d\n" % (tick - t0, rss, fds, threads, applied, failed, q))
        if q == 0 and tick - last_check >= 3:
            last_check = tick
            if audiences_match():
                print("monitor: queue empty, every audience complete after %.1f s" %
                      (time.monotonic() - t0), flush=True)
                sys.exit(0)
        if tick - t0 > timeout:
            print("monitor: timeout after %.0f s (queue %d, applied %d)" % (timeout, q, applied),
                  file=sys.stderr)
            sys.exit(1)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
