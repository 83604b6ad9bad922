/* manifest.c - DIR/manifest.json for a pipeline result (see tad/manifest.h). Stateless. */
#include "tad/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

static tad_err add(json_t *obj, const char *key, json_t *val)
{
    return (val && json_object_set_new(obj, key, val) == 0) ? TAD_OK : TAD_ERR_NOMEM;
}

static tad_err build(const struct tad_pipeline_result *res, const char *audience,
                     const char *calculate_type, json_t **ret)
{
    tad_err err = TAD_ERR_NOMEM;
    json_t *root = json_object();
    json_t *parts = json_array();
    if (!root || !parts)
        goto out;
    if (add(root, "audience", json_string(audience)) != TAD_OK ||
        add(root, "calculate_type", json_string(calculate_type)) != TAD_OK ||
        add(root, "rows_total", json_integer((json_int_t)res->rows_total)) != TAD_OK ||
        add(root, "rows_valid", json_integer((json_int_t)res->rows_valid)) != TAD_OK ||
        add(root, "rows_invalid", json_integer((json_int_t)res->rows_invalid)) != TAD_OK ||
        add(root, "rows_blank", json_integer((json_int_t)res->rows_blank)) != TAD_OK)
        goto out;
    for (size_t i = 0; i < res->nparts; i++) {
        const struct tad_part *pt = &res->parts[i];
        char name[32];
        const char *file = name;
        if (pt->path) {
            const char *slash = strrchr(pt->path, '/');
            file = slash ? slash + 1 : pt->path;
        } else {
            int n = snprintf(name, sizeof(name), "part-%05zu.csv", i + 1);
            if (n < 0 || (size_t)n >= sizeof(name)) {
                err = TAD_ERR_INVALID;
                goto out;
            }
        }
        json_t *o = json_object();
        if (!o || json_array_append_new(parts, o) != 0)
            goto out;
        if (add(o, "file", json_string(file)) != TAD_OK ||
            add(o, "bytes", json_integer((json_int_t)pt->bytes)) != TAD_OK ||
            add(o, "md5", json_string(pt->md5)) != TAD_OK ||
            add(o, "rows", json_integer((json_int_t)pt->rows)) != TAD_OK)
            goto out;
    }
    if (json_object_set(root, "parts", parts) != 0)
        goto out;
    *ret = root;
    root = NULL;
    err = TAD_OK;
out:
    json_decref(parts);
    json_decref(root);
    return err;
}

tad_err tad_manifest_write(const char *dir, const struct tad_pipeline_result *res,
                           const char *audience, const char *calculate_type,
                           struct tad_errinfo *info)
{
    char tmp[4096], path[4096], ebuf[128];
    json_t *root = NULL;
    char *text = NULL;
    int fd = -1;
    int created = 0;
    tad_err err;

    if (!dir || !res || !audience || !calculate_type)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "manifest: missing argument");
    int n1 = snprintf(path, sizeof(path), "%s/manifest.json", dir);
    int n2 = snprintf(tmp, sizeof(tmp), "%s/.manifest.json.XXXXXX", dir);
    if (n1 < 0 || (size_t)n1 >= sizeof(path) || n2 < 0 || (size_t)n2 >= sizeof(tmp))
        return tad_errinfo_set(info, TAD_ERR_INVALID, "manifest: directory name too long");
    err = build(res, audience, calculate_type, &root);
    if (err != TAD_OK) {
        tad_errinfo_set(info, err, "manifest: cannot build the document");
        goto out;
    }
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) {
        err = tad_errinfo_set(info, TAD_ERR_NOMEM, "manifest: cannot encode the document");
        goto out;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        err = tad_errinfo_set(info, TAD_ERR_IO, "manifest: cannot create %s: %s", tmp,
                              strerror_r(errno, ebuf, sizeof(ebuf)));
        goto out;
    }
    created = 1;
    size_t len = strlen(text);
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            err = tad_errinfo_set(info, TAD_ERR_IO, "manifest: write failed: %s",
                                  strerror_r(errno, ebuf, sizeof(ebuf)));
            goto out;
        }
        off += (size_t)w;
    }
    if (write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        err = tad_errinfo_set(info, TAD_ERR_IO, "manifest: write failed: %s",
                              strerror_r(errno, ebuf, sizeof(ebuf)));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        err = tad_errinfo_set(info, TAD_ERR_IO, "manifest: close failed");
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        err = tad_errinfo_set(info, TAD_ERR_IO, "manifest: rename failed: %s",
                              strerror_r(errno, ebuf, sizeof(ebuf)));
        goto out;
    }
    err = TAD_OK;
out:
    if (fd >= 0)
        close(fd);
    if (err != TAD_OK && created)
        unlink(tmp);
    free(text);
    json_decref(root);
    return err;
}
