#!/usr/bin/env python3
"""queue-helper.py - boto3 side of bench/queue (runs with the moto python and the stack's AWS_*
environment, so its requests are signed like the daemon's).

usage: queue-helper.py load BUCKET FILES AUDIENCES ROWS
           puts FILES small files of ROWS SHA-256 rows under tiktok/bench-aNN/phone_sha256/,
           spread round-robin over AUDIENCES audiences
       queue-helper.py newqueue NAME
           creates the queue NAME (visibility timeout 60 s) and prints its URL
       queue-helper.py announce BUCKET QUEUE_URL FILES AUDIENCES
           sends one EventBridge "Object Created" message per file (SendMessageBatch of 10)
       queue-helper.py wait QUEUE_URL TIKTOK_URL FILES AUDIENCES ROWS TIMEOUT [METRICS_URL]
           polls every 0.1 s until the queue (visible + in flight) is empty and the fake TikTok
           holds every audience exactly once with all its rows; prints the epoch time it saw
           that (exit 1 on timeout, with what was missing on stderr). With METRICS_URL (the
           daemon's /metrics), that is polled until FILES files are applied before moto is
           asked anything, so that the measurement does not load the emulator it measures.
       queue-helper.py seqloop BIN BUCKET QUEUE_URL FILES
           the sequential baseline: ReceiveMessage (1 message), `BIN upload` of that object,
           DeleteMessage, one file at a time, until FILES files are done; prints
           "self_cpu children_cpu" (seconds) of the loop and of the upload processes
"""
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
import urllib.request
import uuid

import boto3

kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"],
          region_name=os.environ.get("AWS_REGION", "us-east-1"))


def key_of(i, audiences):
    return "tiktok/bench-a%02d/phone_sha256/f%05d.csv" % (i % audiences, i)


def load(bucket, files, audiences, rows):
    s3 = boto3.client("s3", **kw)
    for i in range(files):
        body = "".join(hashlib.sha256(b"f%d-r%d" % (i, r)).hexdigest() + "\n"
                       for r in range(rows))
        s3.put_object(Bucket=bucket, Key=key_of(i, audiences), Body=body.encode())


def event(bucket, key, size):
    return json.dumps({
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created",
        "source": "aws.s3", "account": "123456789012", "time": "2026-11-29T00:00:00Z",
        "region": "us-east-1", "resources": ["arn:aws:s3:::" + bucket],
        "detail": {"version": "0", "bucket": {"name": bucket},
                   "object": {"key": key, "size": size, "etag": "0" * 32,
                              "sequencer": "0062E99A88DC407460"},
                   "request-id": "R1", "requester": "123456789012", "reason": "PutObject"}})


def announce(bucket, queue, files, audiences):
    sqs = boto3.client("sqs", **kw)
    batch = []
    for i in range(files):
        batch.append({"Id": str(i), "MessageBody": event(bucket, key_of(i, audiences), 1)})
        if len(batch) == 10 or i == files - 1:
            r = sqs.send_message_batch(QueueUrl=queue, Entries=batch)
            if r.get("Failed"):
                sys.exit("send failed: %r" % r["Failed"])
            batch = []


def queue_count(sqs, queue):
    a = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def fake_missing(tiktok_url, files, audiences, rows):
    """What the fake still lacks, or "" when every audience is there once with all its rows."""
    with urllib.request.urlopen(tiktok_url + "/_fake/state") as r:
        state = json.load(r)
    by_name = {}
    for a in state["audiences"]:
        by_name.setdefault(a["name"], []).append(len(a["members"]))
    missing = []
    for n in range(audiences):
        want = len(range(n, files, audiences)) * rows
        got = by_name.get("bench-a%02d" % n, [])
        if got != [want]:
            missing.append("bench-a%02d: %s of %d" % (n, got, want))
    return "; ".join(missing)


def applied(metrics_url):
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith('tiktok_audienced_files_total{result="applied"} '):
            return int(float(line.split()[1]))
    return 0


def wait(queue, tiktok_url, files, audiences, rows, timeout, metrics_url=None):
    sqs = boto3.client("sqs", **kw)
    deadline = time.time() + timeout
    last = ""
    while metrics_url and time.time() < deadline and applied(metrics_url) < files:
        time.sleep(0.1)
    while time.time() < deadline:
        n = queue_count(sqs, queue)
        if n == 0:
            now = time.time()
            last = fake_missing(tiktok_url, files, audiences, rows)
            if not last:
                print("%.3f" % now)
                return 0
        else:
            last = "%d messages left" % n
        time.sleep(0.1)
    print("timeout: " + last, file=sys.stderr)
    return 1


def seqloop(binary, bucket, queue, files):
    sqs = boto3.client("sqs", **kw)
    done = 0
    while done < files:
        r = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            obj = json.loads(m["Body"])["detail"]["object"]["key"]
            audience = obj.split("/")[1]
            subprocess.run([binary, "upload", "--audience", audience, "--type", "PHONE_SHA256",
                            "s3://%s/%s" % (bucket, obj)], check=True, stdout=subprocess.DEVNULL)
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            done += 1
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    print("%.2f %.2f" % (me.ru_utime + me.ru_stime, ch.ru_utime + ch.ru_stime))
    return 0


def main(argv):
    cmd, a = argv[1], argv[2:]
    if cmd == "load":
        load(a[0], int(a[1]), int(a[2]), int(a[3]))
    elif cmd == "newqueue":
        print(boto3.client("sqs", **kw).create_queue(
            QueueName=a[0], Attributes={"VisibilityTimeout": "60"})["QueueUrl"])
    elif cmd == "announce":
        announce(a[0], a[1], int(a[2]), int(a[3]))
    elif cmd == "wait":
        return wait(a[0], a[1], int(a[2]), int(a[3]), int(a[4]), float(a[5]),
                    a[6] if len(a) > 6 else None)
    elif cmd == "seqloop":
        return seqloop(a[0], a[1], a[2], int(a[3]))
    else:
        sys.exit("unknown command " + cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
