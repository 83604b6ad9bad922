/* report.c - builds and stores the per-file JSON report (see tad/report.h). */
#include "tad/report.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tad/s3.h"
#include "tad/timefmt.h"

#define REPORT_KEY_MAX 1024

static json_t *iso_time(time_t t)
{
    char buf[TAD_ISO8601_SIZE];
    if (t <= 0 || !tad_format_iso8601(t, buf))
        return json_null();
    return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *request_id_array(const char *csv)
{
    json_t *a = json_array();
    while (a && csv && *csv) {
        const char *end = strchr(csv, ',');
        size_t len = end ? (size_t)(end - csv) : strlen(csv);
        if (len > 0)
            json_array_append_new(a, json_stringn(csv, len));
        csv = end ? end + 1 : NULL;
    }
    return a;
}

tad_err tad_report_json(const struct tad_report *r, struct tad_buf *out)
{
    json_t *o = json_object();
    if (!o)
        return TAD_ERR_NOMEM;
    json_object_set_new(o, "key", str_or_null(r->key));
    json_object_set_new(o, "audience", str_or_null(r->audience));
    json_object_set_new(o, "calculate_type", str_or_null(r->calculate_type));
    json_object_set_new(o, "action", str_or_null(r->action));
    json_object_set_new(o, "status", str_or_null(r->status));
    json_object_set_new(o, "rows_total", json_integer((json_int_t)r->rows_total));
    json_object_set_new(o, "rows_valid", json_integer((json_int_t)r->rows_valid));
    json_object_set_new(o, "rows_invalid", json_integer((json_int_t)r->rows_invalid));
    json_object_set_new(o, "parts", json_integer((json_int_t)r->parts));
    json_object_set_new(o, "custom_audience_id", str_or_null(r->custom_audience_id));
    json_object_set_new(o, "tiktok_request_ids", request_id_array(r->request_ids));
    json_object_set_new(o, "error", str_or_null(r->error));
    json_object_set_new(o, "started_at", iso_time(r->started_at));
    json_object_set_new(o, "finished_at", iso_time(r->finished_at));
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text)
        return TAD_ERR_NOMEM;
    tad_err e = tad_buf_append_str(out, text);
    free(text);
    return e;
}

tad_err tad_report_key(const char *report_prefix, const char *key, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s%s.json", report_prefix ? report_prefix : "", key);
    if (n < 0 || (size_t)n >= outsz || n > REPORT_KEY_MAX)
        return TAD_ERR_INVALID;
    return TAD_OK;
}

tad_err tad_report_put(struct tad_aws *aws, struct tad_http *h, const char *bucket,
                       const char *report_prefix, const struct tad_report *r,
                       struct tad_errinfo *err)
{
    char rkey[REPORT_KEY_MAX + 1];
    if (tad_report_key(report_prefix, r->key, rkey, sizeof(rkey)) != TAD_OK)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "report key too long");
    struct tad_buf body;
    tad_buf_init(&body, 0);
    tad_err e = tad_report_json(r, &body);
    if (e == TAD_OK)
        e = tad_s3_put(aws, h, bucket, rkey, body.data, body.len, "application/json", err);
    tad_buf_release(&body);
    return e;
}
