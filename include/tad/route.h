/* route.h - maps an S3 object key to what to do with it.
 *
 * Layout: `<key_prefix><audience>/<format>/[<action>/]<file>`, where <audience> is a TikTok
 * audience name (1-128 UTF-8 code points, no control characters, case-sensitive) or
 * `id:<digits>` (an existing custom_audience_id, 1-20 digits), <format> is a tad_format name
 * (case-insensitive) and the optional <action> is append|remove|replace (case-insensitive).
 * The credentials to use come from the longest matching route prefix (matched against the
 * full key), else from the default secret id.
 *
 * Pure: no I/O, no state. The table is borrowed for the call; the result holds copies of the
 * key's parts and a borrowed pointer to the chosen secret id (valid while the table's strings
 * live). Thread-safe as long as the table is not modified concurrently.
 */
#ifndef TAD_ROUTE_H
#define TAD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "tad/error.h"
#include "tad/format.h"

#define TAD_ROUTE_KEY_MAX 1024       /* bytes; the S3 limit */
#define TAD_ROUTE_NAME_MAX_CHARS 128 /* audience name, in code points */
#define TAD_ROUTE_ID_MAX_DIGITS 20

/* One `routes` entry (config). Both strings borrowed. */
struct tad_route_rule {
    const char *prefix;    /* matched against the full key, byte-wise */
    const char *secret_id; /* Secrets Manager secret for keys under prefix */
};

/* Everything the router needs (config). All pointers borrowed. */
struct tad_route_table {
    const char *key_prefix;        /* NULL = "tiktok/"; "" = every key */
    const char *default_secret_id; /* NULL = "tiktok_activation_credentials" */
    const struct tad_route_rule *rules;
    size_t n_rules;
};

enum tad_route_kind {
    TAD_ROUTE_JOB,    /* a file to process */
    TAD_ROUTE_IGNORE, /* not ours: delete the message, log at info */
};

enum tad_route_ignore_reason {
    TAD_ROUTE_IGNORE_NONE,
    TAD_ROUTE_IGNORE_OUTSIDE_PREFIX,
    TAD_ROUTE_IGNORE_FOLDER_MARKER,
};

enum tad_action {
    TAD_ACTION_APPEND, /* the default; creates the audience if absent */
    TAD_ACTION_REMOVE,
    TAD_ACTION_REPLACE,
};

struct tad_route {
    enum tad_route_kind kind;
    enum tad_route_ignore_reason ignore_reason; /* for TAD_ROUTE_IGNORE */
    /* the rest is set only for TAD_ROUTE_JOB */
    bool by_id;                                           /* audience given as id:<digits> */
    char audience_name[TAD_ROUTE_NAME_MAX_CHARS * 4 + 1]; /* "" when by_id */
    char audience_id[TAD_ROUTE_ID_MAX_DIGITS + 1];        /* digits; "" unless by_id */
    enum tad_format format;
    enum tad_action action;
    bool action_explicit; /* the key had an action directory */
    char file_name[TAD_ROUTE_KEY_MAX + 1];
    const char *secret_id;    /* borrowed from the table */
    const char *route_prefix; /* matching rule's prefix (borrowed), NULL = default secret */
};

/* Routes key (key_len bytes). Keys that are not ours give TAD_OK with kind TAD_ROUTE_IGNORE.
 * A key inside the prefix that breaks the layout gives TAD_ERR_INVALID (permanent) with the
 * reason in info->msg: empty segment, too few or too many segments, bad audience name or id,
 * unknown format, unknown action, bad file name, key too long or holding NUL. *ret written
 * only on success. */
TAD_MUST_CHECK tad_err tad_route_resolve(const struct tad_route_table *table, const char *key,
                                         size_t key_len, struct tad_route *ret,
                                         struct tad_errinfo *info);

/* "append", "remove", "replace" ("?" if out of range). */
const char *tad_route_action_name(enum tad_action a);
/* TikTok's update action: "APPEND", "REMOVE", "REPLACE" ("?" if out of range). */
const char *tad_route_action_api_name(enum tad_action a);

/* Parses an action name (ASCII case-insensitive). TAD_ERR_INVALID if unknown. */
TAD_MUST_CHECK tad_err tad_route_action_parse(const char *name, size_t len, enum tad_action *ret,
                                              struct tad_errinfo *info);

#endif
