/* sqs.h - Amazon SQS over the AWS JSON 1.0 protocol: ReceiveMessage (long poll),
 * DeleteMessage(Batch), ChangeMessageVisibility(Batch), SendMessage with attributes, and
 * GetQueueAttributes. Requests go to the SQS endpoint with the QueueUrl in the body.
 * Stateless functions over a shared struct tad_aws and a per-thread struct tad_http.
 * Ownership: received messages are new (tad_sqs_messages_release).
 */
#ifndef TAD_SQS_H
#define TAD_SQS_H

#include <stdbool.h>
#include <stdint.h>

#include "tad/aws_call.h"

#define TAD_SQS_MAX_BATCH 10
#define TAD_SQS_MAX_VISIBILITY 43200 /* 12 hours */

struct tad_sqs_message {
    char *message_id;
    char *receipt_handle;
    char *body;
    char *md5_of_body;
    unsigned receive_count;     /* ApproximateReceiveCount, 0 if absent */
    uint64_t sent_timestamp_ms; /* SentTimestamp, 0 if absent */
    uint64_t first_receive_ms;  /* ApproximateFirstReceiveTimestamp, 0 if absent */
    char *attributes_json;      /* MessageAttributes as compact JSON, NULL if none */
};

struct tad_sqs_messages {
    struct tad_sqs_message *msgs;
    size_t n;
};

void tad_sqs_messages_release(struct tad_sqs_messages *m);
/* Frees one message's strings (for a message moved out of its array) and zeroes it. */
void tad_sqs_message_release(struct tad_sqs_message *m);

/* Long poll: up to max (1..10) messages, waiting up to wait_s (0..20); visibility < 0 keeps
 * the queue's default. An empty result is not an error. The HTTP timeout is set above the
 * wait so the poll is never cut short. */
TAD_MUST_CHECK tad_err tad_sqs_receive(struct tad_aws *aws, struct tad_http *h,
                                       const char *queue_url, unsigned max, unsigned wait_s,
                                       int visibility, struct tad_sqs_messages *ret,
                                       struct tad_errinfo *err);

struct tad_sqs_entry {
    const char *id; /* unique in the batch: [A-Za-z0-9_-]{1,80} */
    const char *receipt_handle;
    unsigned visibility; /* change-visibility only */
};

struct tad_sqs_entry_failure {
    char id[81];
    char code[64];
    char message[160];
    bool sender_fault;
};

struct tad_sqs_batch_result {
    size_t nok;
    size_t nfailed;
    struct tad_sqs_entry_failure failed[TAD_SQS_MAX_BATCH];
};

/* 1..10 entries. TAD_OK means the call went through; per-entry failures are in ret. */
TAD_MUST_CHECK tad_err tad_sqs_delete_batch(struct tad_aws *aws, struct tad_http *h,
                                            const char *queue_url,
                                            const struct tad_sqs_entry *entries, size_t n,
                                            struct tad_sqs_batch_result *ret,
                                            struct tad_errinfo *err);
TAD_MUST_CHECK tad_err tad_sqs_change_visibility_batch(struct tad_aws *aws, struct tad_http *h,
                                                       const char *queue_url,
                                                       const struct tad_sqs_entry *entries,
                                                       size_t n, struct tad_sqs_batch_result *ret,
                                                       struct tad_errinfo *err);
TAD_MUST_CHECK tad_err tad_sqs_delete(struct tad_aws *aws, struct tad_http *h,
                                      const char *queue_url, const char *receipt_handle,
                                      struct tad_errinfo *err);
TAD_MUST_CHECK tad_err tad_sqs_change_visibility(struct tad_aws *aws, struct tad_http *h,
                                                 const char *queue_url, const char *receipt_handle,
                                                 unsigned visibility, struct tad_errinfo *err);

struct tad_sqs_attribute {
    const char *name;
    const char *value; /* sent as DataType String */
};

/* SendMessage; message_id (optional, >= 128 bytes) receives the new id. */
TAD_MUST_CHECK tad_err tad_sqs_send(struct tad_aws *aws, struct tad_http *h, const char *queue_url,
                                    const char *body, const struct tad_sqs_attribute *attrs,
                                    size_t nattrs, unsigned delay_s, char *message_id,
                                    size_t message_id_sz, struct tad_errinfo *err);

struct tad_sqs_queue_info {
    unsigned visibility_timeout;
    long long approximate_messages; /* -1 if unknown */
    char queue_arn[256];
    bool has_redrive_policy;
};

/* GetQueueAttributes (All): the start-up check that the queue exists and is reachable. */
TAD_MUST_CHECK tad_err tad_sqs_get_attributes(struct tad_aws *aws, struct tad_http *h,
                                              const char *queue_url, struct tad_sqs_queue_info *ret,
                                              struct tad_errinfo *err);

#endif
