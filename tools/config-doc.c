/* config-doc.c - developer tool: prints the configuration key table (tad_config_keys()) for the
 * documentation and its consistency test.
 *
 *   config-doc [--markdown]   one Markdown table row per key (with a header), the rows used in
 *                             docs/configuration.md
 *   config-doc --tsv          path, env var, type, default, range, reload, one key per line
 *
 * Single-threaded; reads only the static table, prints to stdout. Exit 0, 64 on bad usage,
 * 1 on a write error.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tad/config.h"

static const char *type_name(enum tad_config_type t)
{
    switch (t) {
    case TAD_CFG_STRING:
        return "string";
    case TAD_CFG_INT:
        return "integer";
    case TAD_CFG_DOUBLE:
        return "number";
    case TAD_CFG_BOOL:
        return "boolean";
    case TAD_CFG_ENUM:
        return "enum";
    case TAD_CFG_ROUTES:
        return "list";
    }
    return "?";
}

/* Writes the allowed values or range of key into buf; "" when there is none to state. */
static void range_text(const struct tad_config_key *k, char *buf, size_t size)
{
    int n = 0;
    buf[0] = '\0';
    switch (k->type) {
    case TAD_CFG_INT:
        n = snprintf(buf, size, "%lld-%lld", k->min, k->max);
        break;
    case TAD_CFG_DOUBLE:
        n = snprintf(buf, size, "%g-%g", k->dmin, k->dmax);
        break;
    case TAD_CFG_BOOL:
        n = snprintf(buf, size, "true/false");
        break;
    case TAD_CFG_ENUM: {
        size_t used = 0;
        for (size_t i = 0; k->enum_names && k->enum_names[i]; i++) {
            n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", k->enum_names[i]);
            if (n < 0 || (size_t)n >= size - used)
                break;
            used += (size_t)n;
        }
        break;
    }
    case TAD_CFG_STRING:
        if (k->flags & TAD_CFG_F_URL)
            n = snprintf(buf, size, "URL");
        break;
    case TAD_CFG_ROUTES:
        break;
    }
    if (n < 0 || (size_t)n >= size)
        buf[0] = '\0';
}

/* Prints s for a Markdown table cell: '|' escaped, '<' and '>' as entities. */
static void put_cell(const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", stdout);
        else if (*s == '<')
            fputs("&lt;", stdout);
        else if (*s == '>')
            fputs("&gt;", stdout);
        else
            fputc(*s, stdout);
    }
}

int main(int argc, char **argv)
{
    bool tsv = false;
    if (argc == 2 && strcmp(argv[1], "--tsv") == 0) {
        tsv = true;
    } else if (argc > 2 || (argc == 2 && strcmp(argv[1], "--markdown") != 0)) {
        fputs("usage: config-doc [--markdown|--tsv]\n", stderr);
        return 64;
    }

    size_t n = 0;
    const struct tad_config_key *keys = tad_config_keys(&n);
    if (!tsv) {
        puts("| key | environment variable | type | default | range / values | reload | meaning |");
        puts("|---|---|---|---|---|---|---|");
    }
    for (size_t i = 0; i < n; i++) {
        const struct tad_config_key *k = &keys[i];
        char env[128], range[200];
        if (tad_config_env_name(k, env, sizeof(env)) != TAD_OK) {
            fprintf(stderr, "config-doc: %s: name too long\n", k->path);
            return 1;
        }
        range_text(k, range, sizeof(range));
        const char *def = k->def ? k->def : "";
        const char *reload = (k->flags & TAD_CFG_F_LIVE) ? "live" : "restart";
        if (tsv) {
            printf("%s\t%s\t%s\t%s\t%s\t%s\n", k->path, env, type_name(k->type), def, range,
                   reload);
            continue;
        }
        printf("| `%s` | `%s` | %s | ", k->path, env, type_name(k->type));
        if (*def) {
            fputc('`', stdout);
            put_cell(def);
            fputc('`', stdout);
        } else {
            /* a non-nullable key without a default is computed at load time (see its help) */
            fputs((k->flags & TAD_CFG_F_NULLABLE) || k->type == TAD_CFG_ROUTES ? "unset"
                                                                               : "computed",
                  stdout);
        }
        fputs(" | ", stdout);
        put_cell(range);
        printf(" | %s | ", reload);
        put_cell(k->help ? k->help : "");
        fputs(" |\n", stdout);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fputs("config-doc: write error\n", stderr);
        return 1;
    }
    return 0;
}
