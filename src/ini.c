/* ini.c - the small INI reader of the AWS shared files (see tad/ini.h).
 *
 * The text is copied once and cut up in place; the entry table points into that copy.
 * Lookups scan the table from the end so the last definition of a key wins.
 * Threading: immutable after parsing. Ownership: one allocation for the text, one for the
 * table; both are wiped on free because credentials files hold secrets.
 */
#include "tad/ini.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

struct ini_entry {
    const char *section;
    const char *key; /* NULL: the entry only records that the section exists */
    const char *value;
};

struct tad_ini {
    char *text;
    size_t text_len;
    struct ini_entry *entries;
    size_t n;
    size_t alloc;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static char *trim(char *s)
{
    while (is_space(*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && is_space(s[len - 1]))
        s[--len] = '\0';
    return s;
}

/* Collapses runs of white space into one space, in place. */
static void collapse_spaces(char *s)
{
    char *w = s;
    bool prev_space = false;
    for (char *r = s; *r; r++) {
        if (is_space(*r)) {
            if (!prev_space)
                *w++ = ' ';
            prev_space = true;
        } else {
            *w++ = *r;
            prev_space = false;
        }
    }
    *w = '\0';
}

static tad_err add_entry(struct tad_ini *ini, const char *section, const char *key,
                         const char *value)
{
    if (ini->n == ini->alloc) {
        size_t na = ini->alloc ? ini->alloc * 2 : 16;
        struct ini_entry *ne = realloc(ini->entries, na * sizeof(*ne));
        if (!ne)
            return TAD_ERR_NOMEM;
        ini->entries = ne;
        ini->alloc = na;
    }
    ini->entries[ini->n++] = (struct ini_entry){section, key, value};
    return TAD_OK;
}

/* Cuts a " #comment" or " ;comment" tail off a value. */
static void strip_inline_comment(char *v)
{
    for (char *p = v; *p; p++) {
        if ((*p == '#' || *p == ';') && p > v && is_space(p[-1])) {
            *p = '\0';
            return;
        }
    }
}

static tad_err parse_lines(struct tad_ini *ini, struct tad_errinfo *err)
{
    const char *section = NULL;
    bool in_property = false; /* an indented line continues the last property */
    size_t lineno = 0;
    char *line = ini->text;
    while (line) {
        lineno++;
        char *nl = memchr(line, '\n', ini->text_len - (size_t)(line - ini->text));
        char *next = NULL;
        if (nl) {
            *nl = '\0';
            next = nl + 1;
        }
        bool indented = is_space(*line);
        char *s = trim(line);
        line = next;
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close)
                return tad_errinfo_set(err, TAD_ERR_PARSE, "line %zu: unterminated section header",
                                       lineno);
            char *after = trim(close + 1);
            if (*after && *after != '#' && *after != ';')
                return tad_errinfo_set(err, TAD_ERR_PARSE, "line %zu: text after section header",
                                       lineno);
            *close = '\0';
            char *name = trim(s + 1);
            collapse_spaces(name);
            if (*name == '\0')
                return tad_errinfo_set(err, TAD_ERR_PARSE, "line %zu: empty section name", lineno);
            section = name;
            in_property = false;
            tad_err e = add_entry(ini, section, NULL, NULL);
            if (e != TAD_OK)
                return e;
            continue;
        }
        if (indented && in_property)
            continue; /* nested sub-property: not used here */
        if (!section)
            return tad_errinfo_set(err, TAD_ERR_PARSE, "line %zu: property outside a section",
                                   lineno);
        char *eq = strchr(s, '=');
        if (!eq)
            return tad_errinfo_set(err, TAD_ERR_PARSE, "line %zu: expected 'key = value'", lineno);
        *eq = '\0';
        char *key = trim(s);
        if (*key == '\0')
            return tad_errinfo_set(err, TAD_ERR_PARSE, "line %zu: empty key", lineno);
        char *value = eq + 1;
        strip_inline_comment(value);
        value = trim(value);
        tad_err e = add_entry(ini, section, key, value);
        if (e != TAD_OK)
            return e;
        in_property = true;
    }
    return TAD_OK;
}

tad_err tad_ini_parse(const char *text, size_t len, struct tad_ini **ret, struct tad_errinfo *err)
{
    if (len > TAD_INI_MAX_FILE)
        return tad_errinfo_set(err, TAD_ERR_PARSE, "file larger than %d bytes", TAD_INI_MAX_FILE);
    struct tad_ini *ini = calloc(1, sizeof(*ini));
    if (!ini)
        return TAD_ERR_NOMEM;
    tad_err e = TAD_ERR_NOMEM;
    ini->text = malloc(len + 1);
    if (!ini->text)
        goto out;
    memcpy(ini->text, text, len);
    ini->text[len] = '\0';
    ini->text_len = len;
    if (memchr(ini->text, '\0', len)) {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "file contains a NUL byte");
        goto out;
    }
    e = parse_lines(ini, err);
out:
    if (e != TAD_OK) {
        tad_ini_free(ini);
        return e;
    }
    *ret = ini;
    return TAD_OK;
}

tad_err tad_ini_load(const char *path, struct tad_ini **ret, struct tad_errinfo *err)
{
    tad_err e = TAD_OK;
    char *data = NULL;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return TAD_ERR_NOT_FOUND;
        char eb[128];
        return tad_errinfo_set(err, TAD_ERR_IO, "cannot open %s: %s", path,
                               strerror_r(errno, eb, sizeof(eb)));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        e = tad_errinfo_set(err, TAD_ERR_IO, "%s is not a regular file", path);
        goto out;
    }
    if (st.st_size > TAD_INI_MAX_FILE) {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "%s is larger than %d bytes", path,
                            TAD_INI_MAX_FILE);
        goto out;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        e = TAD_ERR_NOMEM;
        goto out;
    }
    while (len < (size_t)st.st_size) {
        ssize_t r = read(fd, data + len, (size_t)st.st_size - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            char eb[128];
            e = tad_errinfo_set(err, TAD_ERR_IO, "cannot read %s: %s", path,
                                strerror_r(errno, eb, sizeof(eb)));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    e = tad_ini_parse(data, len, ret, err);
    if (e == TAD_ERR_PARSE && err) {
        char msg[sizeof(err->msg)];
        tad_strlcpy(msg, sizeof(msg), err->msg, strlen(err->msg));
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "%s: %s", path, msg);
    }
out:
    if (data) {
        OPENSSL_cleanse(data, len);
        free(data);
    }
    close(fd);
    return e;
}

void tad_ini_free(struct tad_ini *ini)
{
    if (!ini)
        return;
    if (ini->text) {
        OPENSSL_cleanse(ini->text, ini->text_len);
        free(ini->text);
    }
    free(ini->entries);
    free(ini);
}

bool tad_ini_has_section(const struct tad_ini *ini, const char *section)
{
    if (!ini)
        return false;
    for (size_t i = 0; i < ini->n; i++)
        if (strcmp(ini->entries[i].section, section) == 0)
            return true;
    return false;
}

const char *tad_ini_get(const struct tad_ini *ini, const char *section, const char *key)
{
    if (!ini)
        return NULL;
    for (size_t i = ini->n; i-- > 0;) {
        const struct ini_entry *en = &ini->entries[i];
        if (en->key && strcmp(en->key, key) == 0 && strcmp(en->section, section) == 0)
            return en->value;
    }
    return NULL;
}
