#!/usr/bin/env python3
"""s3_event.py - prints an SQS message body announcing an S3 object, in the forms S3 and
EventBridge really send, for integration tests and the demo.

usage: s3_event.py FORM BUCKET KEY [SIZE]
  FORM: eventbridge | s3 | sns+s3 | sns+eventbridge | s3-test
S3 notification keys are form-URL-encoded (space -> '+'), as S3 does; EventBridge keys are sent
as they are."""
import json
import sys
import urllib.parse
import uuid

form, bucket, key = sys.argv[1], sys.argv[2], sys.argv[3]
size = int(sys.argv[4]) if len(sys.argv) > 4 else 1
now = "2026-11-29T00:00:00.000Z"


def eventbridge():
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created",
            "source": "aws.s3", "account": "123456789012", "time": now[:19] + "Z",
            "region": "us-east-1", "resources": ["arn:aws:s3:::" + bucket],
            "detail": {"version": "0", "bucket": {"name": bucket},
                       "object": {"key": key, "size": size, "etag": "0" * 32,
                                  "sequencer": "0062E99A88DC407460"},
                       "request-id": "R1", "requester": "123456789012", "reason": "PutObject"}}


def s3():
    return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                         "eventTime": now, "eventName": "ObjectCreated:Put",
                         "s3": {"s3SchemaVersion": "1.0", "configurationId": "tiktok",
                                "bucket": {"name": bucket, "arn": "arn:aws:s3:::" + bucket},
                                "object": {"key": urllib.parse.quote_plus(key, safe="/"),
                                           "size": size, "eTag": "0" * 32,
                                           "sequencer": "0062E99A88DC407460"}}}]}


def sns(inner):
    return {"Type": "Notification", "MessageId": str(uuid.uuid4()),
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:tiktok", "Subject": "Amazon S3 Notification",
            "Message": json.dumps(inner), "Timestamp": now, "SignatureVersion": "1"}


test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": now, "Bucket": bucket,
              "RequestId": "R2", "HostId": "H"}
bodies = {"eventbridge": eventbridge, "s3": s3, "sns+s3": lambda: sns(s3()),
          "sns+eventbridge": lambda: sns(eventbridge()), "s3-test": lambda: test_event}
print(json.dumps(bodies[form]()))
