"""Small boto3 helper for integration tests (runs with the test's AWS_* environment, so its
requests are signed with the same key as the daemon's).
usage: aws_admin.py put-secret NAME VALUE | put-object BUCKET KEY FILE | send EVENTJSON QUEUE_URL
       | count QUEUE_URL | receive-all QUEUE_URL | enable-versioning BUCKET | head BUCKET KEY"""
import json
import os
import sys

import boto3

ep = os.environ["AWS_ENDPOINT_URL"]
kw = dict(endpoint_url=ep, region_name=os.environ.get("AWS_REGION", "us-east-1"))
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "put-secret":
    boto3.client("secretsmanager", **kw).put_secret_value(SecretId=args[0], SecretString=args[1])
elif cmd == "put-object":
    with open(args[2], "rb") as f:
        r = boto3.client("s3", **kw).put_object(Bucket=args[0], Key=args[1], Body=f.read())
    print(r.get("VersionId", ""))
elif cmd == "send":
    boto3.client("sqs", **kw).send_message(QueueUrl=args[1], MessageBody=args[0])
elif cmd == "count":
    a = boto3.client("sqs", **kw).get_queue_attributes(QueueUrl=args[0], AttributeNames=["All"])["Attributes"]
    print(int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"]))
elif cmd == "receive-all":
    sqs = boto3.client("sqs", **kw)
    out = []
    for _ in range(5):
        r = sqs.receive_message(QueueUrl=args[0], MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                MessageAttributeNames=["All"])
        for m in r.get("Messages", []):
            out.append({"Body": m["Body"], "MessageAttributes": m.get("MessageAttributes", {})})
            sqs.delete_message(QueueUrl=args[0], ReceiptHandle=m["ReceiptHandle"])
        if not r.get("Messages"):
            break
    print(json.dumps(out))
elif cmd == "enable-versioning":
    boto3.client("s3", **kw).put_bucket_versioning(Bucket=args[0], VersioningConfiguration={"Status": "Enabled"})
elif cmd == "head":
    r = boto3.client("s3", **kw).head_object(Bucket=args[0], Key=args[1])
    print(r["ContentLength"])
else:
    sys.exit("unknown command " + cmd)
