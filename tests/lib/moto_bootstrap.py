"""Seeds a fresh moto server for a test run and switches its authentication on.

Creates an IAM user with an allow-all policy and an access key, the queue(s), bucket and
secret named on the command line, then turns on moto's request authentication: from then on
every request must carry a valid SigV4 signature made with the printed key.
Prints shell assignments (AWS_ACCESS_KEY_ID=..., QUEUE_URL=..., ...) for `eval`.

usage: moto_bootstrap.py ENDPOINT [--queue NAME[:VISIBILITY]]... [--bucket NAME]...
                         [--eventbridge BUCKET:QUEUE:PREFIX]...
                         [--secret NAME=VALUE]... [--redrive QUEUE:DLQ:MAXRECEIVE]
"""
import argparse
import json
import shlex
import urllib.request

import boto3

parser = argparse.ArgumentParser()
parser.add_argument("endpoint")
parser.add_argument("--queue", action="append", default=[])
parser.add_argument("--bucket", action="append", default=[])
parser.add_argument("--secret", action="append", default=[])
parser.add_argument("--redrive", action="append", default=[])
parser.add_argument("--eventbridge", action="append", default=[],
                    help="BUCKET:QUEUE:PREFIX - S3 -> EventBridge rule (Object Created under PREFIX) -> SQS")
parser.add_argument("--region", default="us-east-1")
args = parser.parse_args()

kw = dict(endpoint_url=args.endpoint, region_name=args.region,
          aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="tiktok-audienced")
iam.put_user_policy(UserName="tiktok-audienced", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="tiktok-audienced")["AccessKey"]

out = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
sqs = boto3.client("sqs", **kw)
urls = {}
for spec in args.queue:
    name, _, vis = spec.partition(":")
    attrs = {"VisibilityTimeout": vis or "30"}
    urls[name] = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    out["QUEUE_URL_" + name.upper().replace("-", "_")] = urls[name]
for spec in args.redrive:
    q, dlq, maxrc = spec.split(":")
    arn = sqs.get_queue_attributes(QueueUrl=urls[dlq], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=urls[q], Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": arn, "maxReceiveCount": maxrc})})
s3 = boto3.client("s3", **kw)
for b in args.bucket:
    s3.create_bucket(Bucket=b)
events = boto3.client("events", **kw)
for spec in args.eventbridge:
    b, q, prefix = spec.split(":", 2)
    s3.put_bucket_notification_configuration(
        Bucket=b, NotificationConfiguration={"EventBridgeConfiguration": {}})
    rule = "tiktok-audienced-" + b
    events.put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [b]}, "object": {"key": [{"prefix": prefix}]}}}))
    arn = sqs.get_queue_attributes(QueueUrl=urls[q], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
sm = boto3.client("secretsmanager", **kw)
for spec in args.secret:
    name, _, value = spec.partition("=")
    sm.create_secret(Name=name, SecretString=value)

req = urllib.request.Request(args.endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                             headers={"Content-Type": "text/plain"})
urllib.request.urlopen(req, timeout=10).read()
for k, v in out.items():
    print(f"{k}={shlex.quote(v)}")
