"""load.py - the load of a soak run: N small hashed-phone files uploaded to S3 with a thread
pool, and one EventBridge-form event per file sent to SQS with SendMessageBatch (10 per call,
several calls in parallel). Files are spread over A audiences (file i goes to audience i % A);
each file holds ROWS distinct SHA-256 rows, so audience k must end with (files in k) * ROWS
members. Writes the expected member count per audience name as JSON to EXPECTED.

usage: load.py {put|send|all} BUCKET QUEUE_URL FILES AUDIENCES ROWS PREFIX EXPECTED [BACKLOG]
  put   objects only; send: events only; all: both (the events after every object is stored)
  BACKLOG (send/all, default 0 = unlimited): sending pauses while more than BACKLOG messages
        wait in the queue. moto's SQS scans the whole queue for every message it stores or
        receives, so its cost per message grows with the queue's depth: a bounded backlog keeps
        a long run's load on moto linear.
Runs with the test's AWS_* environment (signed requests against moto)."""
import concurrent.futures as cf
import hashlib
import json
import os
import sys
import time
import uuid

import boto3
import botocore.config

mode, bucket, queue_url = sys.argv[1], sys.argv[2], sys.argv[3]
nfiles, naud, rows = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
prefix, expected_path = sys.argv[7], sys.argv[8]
backlog = int(sys.argv[9]) if len(sys.argv) > 9 else 0

cfg = botocore.config.Config(max_pool_connections=32, retries={"max_attempts": 10, "mode": "standard"})
kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1", config=cfg)
s3 = boto3.client("s3", **kw)
sqs = boto3.client("sqs", **kw)


def audience(i):
    return "%s%02d" % (prefix, i % naud)


def key(i):
    return "tiktok/%s/phone_sha256/f%06d.csv" % (audience(i), i)


def body(i):
    return "".join(hashlib.sha256(("soak-%d-%d" % (i, j)).encode()).hexdigest() + "\n"
                   for j in range(rows)).encode()


def event(i, size):
    return json.dumps({"version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created",
                       "source": "aws.s3", "account": "123456789012",
                       "time": "2026-11-29T00:00:00Z", "region": "us-east-1",
                       "resources": ["arn:aws:s3:::" + bucket],
                       "detail": {"version": "0", "bucket": {"name": bucket},
                                  "object": {"key": key(i), "size": size, "etag": "0" * 32,
                                             "sequencer": "0062E99A88DC407460"},
                                  "request-id": "R", "requester": "123456789012",
                                  "reason": "PutObject"}})


def put(i):
    s3.put_object(Bucket=bucket, Key=key(i), Body=body(i))


def send(first):
    entries = [{"Id": str(i - first), "MessageBody": event(i, len(body(i)))}
               for i in range(first, min(first + 10, nfiles))]
    r = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    if r.get("Failed"):
        raise RuntimeError("send_message_batch failed: %r" % r["Failed"])


def visible():
    a = sqs.get_queue_attributes(QueueUrl=queue_url,
                                 AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"])


want = {}
for i in range(nfiles):
    want[audience(i)] = want.get(audience(i), 0) + rows
with open(expected_path, "w") as f:
    json.dump(want, f)

t0 = time.monotonic()
if mode in ("put", "all"):
    with cf.ThreadPoolExecutor(16) as ex:
        list(ex.map(put, range(nfiles)))
    print("load: %d objects put in %.1f s (%.0f/s)" %
          (nfiles, time.monotonic() - t0, nfiles / max(time.monotonic() - t0, 1e-9)), flush=True)
t1 = time.monotonic()
paused = 0.0
if mode in ("send", "all"):
    firsts = list(range(0, nfiles, 10))
    group = max(1, backlog // 20) if backlog else len(firsts)  # batches between backlog checks
    with cf.ThreadPoolExecutor(4) as ex:
        for g in range(0, len(firsts), group):
            while backlog and visible() > backlog:
                time.sleep(0.2)
                paused += 0.2
            list(ex.map(send, firsts[g:g + group]))
    print("load: %d events sent in %.1f s (%.1f s of it paused for the backlog cap %d)" %
          (nfiles, time.monotonic() - t1, paused, backlog), flush=True)
