/* sqs.c - SQS operations over the AWS JSON 1.0 protocol (see tad/sqs.h). Builds request
 * bodies with jansson, sends them through tad_aws_json_call, parses the answers. No state. */
#include "tad/sqs.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define RESPONSE_CAP (12 * 1024 * 1024) /* 10 messages of up to 1 MiB, plus attributes */

static tad_err call(struct tad_aws *aws, struct tad_http *h, const char *op, json_t *req,
                    long timeout_ms, json_t **ret, struct tad_errinfo *err)
{
    char target[64];
    snprintf(target, sizeof(target), "AmazonSQS.%s", op);
    char *body = json_dumps(req, JSON_COMPACT);
    if (!body)
        return TAD_ERR_NOMEM;
    struct tad_buf out;
    tad_buf_init(&out, RESPONSE_CAP);
    tad_err e = tad_aws_json_call(aws, h, TAD_AWS_SQS, target, "1.0", body, &out, timeout_ms, err);
    free(body);
    if (e == TAD_OK && ret) {
        json_error_t jerr;
        *ret = json_loadb(out.data, out.len, 0, &jerr);
        if (!*ret)
            e = tad_errinfo_set(err, TAD_ERR_PARSE, "SQS %s: response is not JSON: %s", op,
                                jerr.text);
    }
    tad_buf_release(&out);
    return e;
}

static char *dup_str(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? strdup(v) : NULL;
}

static uint64_t attr_u64(json_t *attrs, const char *name)
{
    const char *v = json_string_value(json_object_get(attrs, name));
    return v ? strtoull(v, NULL, 10) : 0;
}

void tad_sqs_message_release(struct tad_sqs_message *m)
{
    free(m->message_id);
    free(m->receipt_handle);
    free(m->body);
    free(m->md5_of_body);
    free(m->attributes_json);
    memset(m, 0, sizeof(*m));
}

void tad_sqs_messages_release(struct tad_sqs_messages *m)
{
    for (size_t i = 0; i < m->n; i++)
        tad_sqs_message_release(&m->msgs[i]);
    free(m->msgs);
    m->msgs = NULL;
    m->n = 0;
}

tad_err tad_sqs_receive(struct tad_aws *aws, struct tad_http *h, const char *queue_url,
                        unsigned max, unsigned wait_s, int visibility, struct tad_sqs_messages *ret,
                        struct tad_errinfo *err)
{
    if (max < 1 || max > 10 || wait_s > 20)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "ReceiveMessage: bad max/wait");
    json_t *req =
        json_pack("{s:s, s:I, s:I, s:[s,s,s], s:[s]}", "QueueUrl", queue_url, "MaxNumberOfMessages",
                  (json_int_t)max, "WaitTimeSeconds", (json_int_t)wait_s,
                  "MessageSystemAttributeNames", "ApproximateReceiveCount", "SentTimestamp",
                  "ApproximateFirstReceiveTimestamp", "MessageAttributeNames", "All");
    if (!req)
        return TAD_ERR_NOMEM;
    if (visibility >= 0)
        json_object_set_new(req, "VisibilityTimeout", json_integer(visibility));
    json_t *resp = NULL;
    tad_err e = call(aws, h, "ReceiveMessage", req, (long)(wait_s + 15) * 1000, &resp, err);
    json_decref(req);
    if (e)
        return e;
    struct tad_sqs_messages out = {NULL, 0};
    json_t *msgs = json_object_get(resp, "Messages");
    size_t n = json_is_array(msgs) ? json_array_size(msgs) : 0;
    if (n) {
        out.msgs = calloc(n, sizeof(*out.msgs));
        if (!out.msgs) {
            json_decref(resp);
            return TAD_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(msgs, i);
        struct tad_sqs_message *d = &out.msgs[out.n];
        d->message_id = dup_str(m, "MessageId");
        d->receipt_handle = dup_str(m, "ReceiptHandle");
        d->body = dup_str(m, "Body");
        d->md5_of_body = dup_str(m, "MD5OfBody");
        json_t *attrs = json_object_get(m, "Attributes");
        d->receive_count = (unsigned)attr_u64(attrs, "ApproximateReceiveCount");
        d->sent_timestamp_ms = attr_u64(attrs, "SentTimestamp");
        d->first_receive_ms = attr_u64(attrs, "ApproximateFirstReceiveTimestamp");
        json_t *mattrs = json_object_get(m, "MessageAttributes");
        if (json_is_object(mattrs) && json_object_size(mattrs))
            d->attributes_json = json_dumps(mattrs, JSON_COMPACT);
        out.n++;
        if (!d->message_id || !d->receipt_handle || !d->body) {
            tad_sqs_messages_release(&out);
            json_decref(resp);
            return tad_errinfo_set(err, TAD_ERR_PARSE,
                                   "ReceiveMessage: message without id, receipt handle or body");
        }
    }
    json_decref(resp);
    *ret = out;
    return TAD_OK;
}

static tad_err batch(struct tad_aws *aws, struct tad_http *h, const char *op, const char *queue_url,
                     const struct tad_sqs_entry *entries, size_t n, bool visibility,
                     struct tad_sqs_batch_result *ret, struct tad_errinfo *err)
{
    if (n == 0 || n > TAD_SQS_MAX_BATCH)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "%s: 1 to 10 entries", op);
    json_t *list = json_array();
    json_t *req = json_pack("{s:s, s:o}", "QueueUrl", queue_url, "Entries", list);
    if (!req)
        return TAD_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *ent = json_pack("{s:s, s:s}", "Id", entries[i].id, "ReceiptHandle",
                                entries[i].receipt_handle);
        if (ent && visibility)
            json_object_set_new(ent, "VisibilityTimeout", json_integer(entries[i].visibility));
        if (!ent || json_array_append_new(list, ent) != 0) {
            json_decref(req);
            return TAD_ERR_NOMEM;
        }
    }
    json_t *resp = NULL;
    tad_err e = call(aws, h, op, req, 0, &resp, err);
    json_decref(req);
    if (e)
        return e;
    struct tad_sqs_batch_result r;
    memset(&r, 0, sizeof(r));
    json_t *ok = json_object_get(resp, "Successful");
    r.nok = json_is_array(ok) ? json_array_size(ok) : 0;
    json_t *failed = json_object_get(resp, "Failed");
    for (size_t i = 0;
         json_is_array(failed) && i < json_array_size(failed) && r.nfailed < TAD_SQS_MAX_BATCH;
         i++) {
        json_t *f = json_array_get(failed, i);
        struct tad_sqs_entry_failure *d = &r.failed[r.nfailed++];
        const char *s;
        if ((s = json_string_value(json_object_get(f, "Id"))))
            tad_strlcpy(d->id, sizeof(d->id), s, strlen(s));
        if ((s = json_string_value(json_object_get(f, "Code"))))
            tad_strlcpy(d->code, sizeof(d->code), s, strlen(s));
        if ((s = json_string_value(json_object_get(f, "Message"))))
            tad_strlcpy(d->message, sizeof(d->message), s, strlen(s));
        d->sender_fault = json_is_true(json_object_get(f, "SenderFault"));
    }
    json_decref(resp);
    *ret = r;
    return TAD_OK;
}

tad_err tad_sqs_delete_batch(struct tad_aws *aws, struct tad_http *h, const char *queue_url,
                             const struct tad_sqs_entry *entries, size_t n,
                             struct tad_sqs_batch_result *ret, struct tad_errinfo *err)
{
    return batch(aws, h, "DeleteMessageBatch", queue_url, entries, n, false, ret, err);
}

tad_err tad_sqs_change_visibility_batch(struct tad_aws *aws, struct tad_http *h,
                                        const char *queue_url, const struct tad_sqs_entry *entries,
                                        size_t n, struct tad_sqs_batch_result *ret,
                                        struct tad_errinfo *err)
{
    for (size_t i = 0; i < n; i++)
        if (entries[i].visibility > TAD_SQS_MAX_VISIBILITY)
            return tad_errinfo_set(err, TAD_ERR_INVALID, "visibility timeout over 12 hours");
    return batch(aws, h, "ChangeMessageVisibilityBatch", queue_url, entries, n, true, ret, err);
}

tad_err tad_sqs_delete(struct tad_aws *aws, struct tad_http *h, const char *queue_url,
                       const char *receipt_handle, struct tad_errinfo *err)
{
    json_t *req = json_pack("{s:s, s:s}", "QueueUrl", queue_url, "ReceiptHandle", receipt_handle);
    if (!req)
        return TAD_ERR_NOMEM;
    tad_err e = call(aws, h, "DeleteMessage", req, 0, NULL, err);
    json_decref(req);
    return e;
}

tad_err tad_sqs_change_visibility(struct tad_aws *aws, struct tad_http *h, const char *queue_url,
                                  const char *receipt_handle, unsigned visibility,
                                  struct tad_errinfo *err)
{
    if (visibility > TAD_SQS_MAX_VISIBILITY)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "visibility timeout over 12 hours");
    json_t *req = json_pack("{s:s, s:s, s:I}", "QueueUrl", queue_url, "ReceiptHandle",
                            receipt_handle, "VisibilityTimeout", (json_int_t)visibility);
    if (!req)
        return TAD_ERR_NOMEM;
    tad_err e = call(aws, h, "ChangeMessageVisibility", req, 0, NULL, err);
    json_decref(req);
    return e;
}

tad_err tad_sqs_send(struct tad_aws *aws, struct tad_http *h, const char *queue_url,
                     const char *body, const struct tad_sqs_attribute *attrs, size_t nattrs,
                     unsigned delay_s, char *message_id, size_t message_id_sz,
                     struct tad_errinfo *err)
{
    json_t *req = json_pack("{s:s, s:s}", "QueueUrl", queue_url, "MessageBody", body);
    if (!req)
        return TAD_ERR_NOMEM;
    if (delay_s)
        json_object_set_new(req, "DelaySeconds", json_integer(delay_s));
    if (nattrs) {
        json_t *ma = json_object();
        for (size_t i = 0; ma && i < nattrs; i++) {
            if (!attrs[i].value || !*attrs[i].value)
                continue; /* SQS rejects empty attribute values */
            json_object_set_new(
                ma, attrs[i].name,
                json_pack("{s:s, s:s}", "DataType", "String", "StringValue", attrs[i].value));
        }
        json_object_set_new(req, "MessageAttributes", ma);
    }
    json_t *resp = NULL;
    tad_err e = call(aws, h, "SendMessage", req, 0, &resp, err);
    json_decref(req);
    if (e)
        return e;
    const char *id = json_string_value(json_object_get(resp, "MessageId"));
    if (message_id && message_id_sz)
        tad_strlcpy(message_id, message_id_sz, id ? id : "", id ? strlen(id) : 0);
    json_decref(resp);
    return TAD_OK;
}

tad_err tad_sqs_get_attributes(struct tad_aws *aws, struct tad_http *h, const char *queue_url,
                               struct tad_sqs_queue_info *ret, struct tad_errinfo *err)
{
    json_t *req = json_pack("{s:s, s:[s]}", "QueueUrl", queue_url, "AttributeNames", "All");
    if (!req)
        return TAD_ERR_NOMEM;
    json_t *resp = NULL;
    tad_err e = call(aws, h, "GetQueueAttributes", req, 0, &resp, err);
    json_decref(req);
    if (e)
        return e;
    json_t *a = json_object_get(resp, "Attributes");
    struct tad_sqs_queue_info info;
    memset(&info, 0, sizeof(info));
    info.visibility_timeout = (unsigned)attr_u64(a, "VisibilityTimeout");
    const char *s = json_string_value(json_object_get(a, "ApproximateNumberOfMessages"));
    info.approximate_messages = s ? strtoll(s, NULL, 10) : -1;
    if ((s = json_string_value(json_object_get(a, "QueueArn"))))
        tad_strlcpy(info.queue_arn, sizeof(info.queue_arn), s, strlen(s));
    info.has_redrive_policy = json_object_get(a, "RedrivePolicy") != NULL;
    json_decref(resp);
    *ret = info;
    return TAD_OK;
}
