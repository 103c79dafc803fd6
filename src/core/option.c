/*
 * Flume properties files, diagnostics and option tables (see sqlflume/option.h). Every error
 * names the file, line and key, so `sqlflume check` can print all problems at once.
 */
#include "sqlflume/option.h"
#include "sqlflume/buf.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- diagnostics ---- */

static void diag_add(char ***v, size_t *n, const struct sf_prop *at, const char *fmt, va_list ap)
{
    struct sf_buf b = SF_BUF_INIT;
    if (at && at->line > 0) {
        sf_buf_printf(&b, "%s:%d: %s: ", at->file, at->line, at->key);
    } else if (at && at->file) {
        sf_buf_printf(&b, "%s: %s: ", at->file, at->key);
    } else if (at) {
        sf_buf_printf(&b, "%s: ", at->key);
    }
    va_list ap2;
    va_copy(ap2, ap);
    int len = vsnprintf(NULL, 0, fmt, ap);
    if (len > 0) {
        sf_buf_reserve(&b, (size_t)len);
        vsnprintf(b.data + b.len, (size_t)len + 1, fmt, ap2);
        b.len += (size_t)len;
    }
    va_end(ap2);
    char **nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (!nv) {
        sf_buf_free(&b);
        return;
    }
    *v = nv;
    (*v)[(*n)++] = sf_buf_steal(&b);
}

void sf_diag_error(struct sf_diag *d, const struct sf_prop *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_add(&d->errors, &d->nerrors, at, fmt, ap);
    va_end(ap);
}

void sf_diag_warn(struct sf_diag *d, const struct sf_prop *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_add(&d->warnings, &d->nwarnings, at, fmt, ap);
    va_end(ap);
}

void sf_diag_log(const struct sf_diag *d)
{
    for (size_t i = 0; i < d->nwarnings; i++) {
        SF_WARN("%s", d->warnings[i]);
    }
    for (size_t i = 0; i < d->nerrors; i++) {
        SF_ERROR("%s", d->errors[i]);
    }
}

void sf_diag_free(struct sf_diag *d)
{
    for (size_t i = 0; i < d->nerrors; i++) {
        free(d->errors[i]);
    }
    for (size_t i = 0; i < d->nwarnings; i++) {
        free(d->warnings[i]);
    }
    free(d->errors);
    free(d->warnings);
    memset(d, 0, sizeof(*d));
}

/* ---- properties ---- */

void sf_props_free(struct sf_props *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].key);
        free(p->v[i].val);
    }
    free(p->v);
    free(p->file);
    memset(p, 0, sizeof(*p));
}

struct sf_prop *sf_props_get(const struct sf_props *p, const char *key)
{
    for (size_t i = p->n; i-- > 0;) {
        if (strcmp(p->v[i].key, key) == 0) {
            return &p->v[i];
        }
    }
    return NULL;
}

static struct sf_prop *props_put(struct sf_props *p, char *key, char *val, int line)
{
    struct sf_prop *old = sf_props_get(p, key);
    if (old) {
        free(old->key);
        free(old->val);
        old->key = key;
        old->val = val;
        old->line = line;
        return old;
    }
    if (p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 32;
        struct sf_prop *nv = realloc(p->v, ncap * sizeof(*nv));
        if (!nv) {
            abort();
        }
        p->v = nv;
        p->cap = ncap;
    }
    struct sf_prop *pr = &p->v[p->n++];
    pr->key = key;
    pr->val = val;
    pr->file = p->file;
    pr->line = line;
    pr->used = false;
    return pr;
}

void sf_props_set(struct sf_props *p, const char *key, const char *val)
{
    props_put(p, strdup(key), strdup(val), 0);
}

/* Java properties escapes in keys and values: \t \n \r \f \uXXXX, other \c -> c. */
static void unescape_into(struct sf_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 == n) {
            sf_buf_putc(out, s[i]);
            continue;
        }
        char c = s[++i];
        static const char from[] = "tnrf", to[] = "\t\n\r\f";
        const char *e = c ? strchr(from, c) : NULL;
        if (e) {
            sf_buf_putc(out, to[e - from]);
            continue;
        }
        switch (c) {
        case 'u':
            if (i + 4 < n + 0 && isxdigit((unsigned char)s[i + 1])) {
                char hex[5] = { s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0 };
                unsigned cp = (unsigned)strtoul(hex, NULL, 16);
                i += 4;
                if (cp < 0x80) {
                    sf_buf_putc(out, (char)cp);
                } else if (cp < 0x800) {
                    sf_buf_putc(out, (char)(0xC0 | (cp >> 6)));
                    sf_buf_putc(out, (char)(0x80 | (cp & 0x3F)));
                } else {
                    sf_buf_putc(out, (char)(0xE0 | (cp >> 12)));
                    sf_buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3F)));
                    sf_buf_putc(out, (char)(0x80 | (cp & 0x3F)));
                }
            } else {
                sf_buf_putc(out, 'u');
            }
            break;
        default:
            sf_buf_putc(out, c);
        }
    }
}

/* Replace ${VAR} and ${env:VAR} with the environment's value. @return SF_OK, or SF_ERR_INVAL
 * when a reference is malformed or its variable is not set (error added to d). */
static int substitute_env(struct sf_buf *out, const char *s, const struct sf_prop *at,
                          struct sf_diag *d)
{
    int rc = SF_OK;
    while (*s) {
        const char *open = strstr(s, "${");
        const char *close = open ? strchr(open + 2, '}') : NULL;
        if (!open || !close) {
            sf_buf_puts(out, s);
            break;
        }
        sf_buf_append(out, s, (size_t)(open - s));
        const char *name = open + 2;
        if (strncmp(name, "env:", 4) == 0) {
            name += 4;
        }
        char var[256];
        size_t len = (size_t)(close - name);
        if (len == 0 || len >= sizeof(var)) {
            sf_diag_error(d, at, "bad variable reference in value");
            rc = SF_ERR_INVAL;
            break;
        }
        memcpy(var, name, len);
        var[len] = '\0';
        const char *val = getenv(var);
        if (!val) {
            sf_diag_error(d, at, "environment variable \"%s\" is not set", var);
            rc = SF_ERR_INVAL;
        } else {
            sf_buf_puts(out, val);
        }
        s = close + 1;
    }
    return rc;
}

int sf_props_parse(struct sf_props *p, const char *name, const char *text, struct sf_diag *d)
{
    if (!p->file) {
        p->file = strdup(name);
    }
    int rc = SF_OK;
    int lineno = 0;
    const char *s = text;
    struct sf_buf logical = SF_BUF_INIT;
    while (*s) {
        /* gather one logical line (continuations with a trailing odd backslash) */
        sf_buf_reset(&logical);
        int start_line = lineno + 1;
        bool first = true;
        for (;;) {
            const char *eol = strchr(s, '\n');
            size_t len = eol ? (size_t)(eol - s) : strlen(s);
            lineno++;
            const char *l = s;
            s = eol ? eol + 1 : s + len;
            if (len && l[len - 1] == '\r') {
                len--;
            }
            if (!first) { /* leading white space of a continuation line is dropped */
                while (len && (*l == ' ' || *l == '\t' || *l == '\f')) {
                    l++;
                    len--;
                }
            }
            first = false;
            size_t bs = 0;
            while (bs < len && l[len - 1 - bs] == '\\') {
                bs++;
            }
            if (bs % 2 == 1 && logical.len + len > 0 && *s) {
                sf_buf_append(&logical, l, len - 1);
                continue;
            }
            sf_buf_append(&logical, l, len);
            break;
        }
        const char *l = logical.data ? logical.data : "";
        while (*l == ' ' || *l == '\t' || *l == '\f') {
            l++;
        }
        if (*l == '\0' || *l == '#' || *l == '!') {
            continue;
        }
        /* key ends at an unescaped '=', ':' or white space */
        const char *k = l;
        while (*l && *l != '=' && *l != ':' && *l != ' ' && *l != '\t' && *l != '\f') {
            if (*l == '\\' && l[1]) {
                l++;
            }
            l++;
        }
        size_t klen = (size_t)(l - k);
        while (*l == ' ' || *l == '\t' || *l == '\f') {
            l++;
        }
        if (*l == '=' || *l == ':') {
            l++;
            while (*l == ' ' || *l == '\t' || *l == '\f') {
                l++;
            }
        }
        size_t vlen = strlen(l);
        while (vlen && (l[vlen - 1] == ' ' || l[vlen - 1] == '\t')) {
            vlen--; /* Flume trims values */
        }
        struct sf_buf key = SF_BUF_INIT, raw = SF_BUF_INIT, val = SF_BUF_INIT;
        unescape_into(&key, k, klen);
        unescape_into(&raw, l, vlen);
        struct sf_prop tmp = { .key = key.data ? key.data : "", .file = p->file, .line = start_line };
        if (substitute_env(&val, raw.data ? raw.data : "", &tmp, d) != 0) {
            rc = SF_ERR_INVAL;
        }
        sf_buf_free(&raw);
        if (!key.data) {
            sf_buf_puts(&key, "");
        }
        if (!val.data) {
            sf_buf_puts(&val, "");
        }
        struct sf_prop *old = sf_props_get(p, key.data);
        if (old && old->line > 0) { /* Java's Properties.load, and so Flume, keep the last */
            struct sf_prop at = { .key = key.data, .file = p->file, .line = start_line };
            sf_diag_warn(d, &at, "set twice, on lines %d and %d; the value of line %d is used",
                         old->line, start_line, start_line);
        }
        props_put(p, sf_buf_steal(&key), sf_buf_steal(&val), start_line);
    }
    sf_buf_free(&logical);
    return rc;
}

int sf_props_load(struct sf_props *p, const char *path, struct sf_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        struct sf_prop at = { .key = (char *)"", .file = path };
        (void)at;
        sf_diag_error(d, NULL, "could not open configuration file \"%s\": %s", path,
                      strerror(errno));
        return SF_ERR_IO;
    }
    struct sf_buf text = SF_BUF_INIT;
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        sf_buf_append(&text, chunk, got);
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        sf_diag_error(d, NULL, "could not read configuration file \"%s\"", path);
        sf_buf_free(&text);
        return SF_ERR_IO;
    }
    free(p->file);
    p->file = strdup(path);
    int rc = sf_props_parse(p, path, text.data ? text.data : "", d);
    sf_buf_free(&text);
    return rc;
}

/* ---- sections ---- */

int sf_section_init(struct sf_section *s, struct sf_props *p, const char *kind, const char *name,
                    const char *prefix)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->name = name;
    s->prefix = strdup(prefix);
    size_t plen = strlen(prefix);
    s->v = calloc(p->n ? p->n : 1, sizeof(*s->v));
    if (!s->prefix || !s->v) {
        free(s->prefix);
        free(s->v);
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < p->n; i++) {
        if (strncmp(p->v[i].key, prefix, plen) == 0 && p->v[i].key[plen]) {
            s->v[s->n++] = &p->v[i];
        }
    }
    return SF_OK;
}

int sf_section_sub(struct sf_section *sub, const struct sf_section *parent, const char *kind,
                   const char *name, const char *subprefix)
{
    memset(sub, 0, sizeof(*sub));
    sub->kind = kind;
    sub->name = name;
    size_t pl = strlen(parent->prefix), sl = strlen(subprefix);
    sub->prefix = malloc(pl + sl + 1);
    sub->v = calloc(parent->n ? parent->n : 1, sizeof(*sub->v));
    if (!sub->prefix || !sub->v) {
        free(sub->prefix);
        free(sub->v);
        memset(sub, 0, sizeof(*sub));
        return SF_ERR_NOMEM;
    }
    memcpy(sub->prefix, parent->prefix, pl);
    memcpy(sub->prefix + pl, subprefix, sl + 1);
    for (size_t i = 0; i < parent->n; i++) {
        const char *k = parent->v[i]->key;
        if (strncmp(k, sub->prefix, pl + sl) == 0 && k[pl + sl]) {
            sub->v[sub->n++] = parent->v[i];
        }
    }
    return SF_OK;
}

void sf_section_free(struct sf_section *s)
{
    free(s->prefix);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

const char *sf_section_subkey(const struct sf_section *s, const struct sf_prop *p)
{
    return p->key + strlen(s->prefix);
}

struct sf_prop *sf_section_get(const struct sf_section *s, const char *subkey)
{
    for (size_t i = 0; s && i < s->n; i++) {
        if (strcmp(sf_section_subkey(s, s->v[i]), subkey) == 0) {
            return s->v[i];
        }
    }
    return NULL;
}

/* ---- option tables ---- */

static size_t levenshtein(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) {
        return 99;
    }
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = prev + cost;
            if (row[j] + 1 < best) {
                best = row[j] + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

const char *sf_nearest(const char *key, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t best_d = 4;
    for (size_t i = 0; i < n; i++) {
        size_t dist = levenshtein(key, cands[i]);
        if (dist < best_d) {
            best_d = dist;
            best = cands[i];
        }
    }
    return best;
}

/* Room for one more name in *v (*cap slots, n of them used): doubles it when full. @return SF_OK,
 * or SF_ERR_NOMEM (*v unchanged; nothing logged). */
static int names_room(char ***v, size_t *cap, size_t n)
{
    if (n < *cap) {
        return SF_OK;
    }
    char **nv = realloc(*v, *cap * 2 * sizeof(**v));
    if (!nv) {
        return SF_ERR_NOMEM;
    }
    *v = nv;
    *cap *= 2;
    return SF_OK;
}

char **sf_split_names(const char *s, size_t *n, bool space_separates)
{
    *n = 0;
    size_t cap = 4;
    char **v = malloc(cap * sizeof(*v));
    while (v && *s) {
        while (*s == ',' || *s == ' ' || *s == '\t') {
            s++;
        }
        if (!*s) {
            break;
        }
        const char *e = s;
        while (*e && *e != ',' && (!space_separates || (*e != ' ' && *e != '\t'))) {
            e++;
        }
        size_t len = (size_t)(e - s);
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
            len--;
        }
        if (names_room(&v, &cap, *n) != SF_OK) {
            break;
        }
        v[(*n)++] = strndup(s, len);
        s = e;
    }
    return v;
}

char **sf_split_quoted_names(const char *s, size_t *n, const char **err)
{
    *n = 0;
    *err = NULL;
    size_t cap = 4;
    char **v = malloc(cap * sizeof(*v));
    struct sf_buf name = SF_BUF_INIT;
    while (v && *s) {
        while (*s == ',' || *s == ' ' || *s == '\t') {
            s++;
        }
        if (!*s) {
            break;
        }
        sf_buf_reset(&name);
        sf_buf_puts(&name, ""); /* a name of only "" is the empty string, not NULL */
        while (*s && *s != ',' && *s != ' ' && *s != '\t') {
            if (*s != '"' && *s != '`') {
                sf_buf_putc(&name, *s++);
                continue;
            }
            char q = *s++;
            for (;;) {
                if (!*s) {
                    *err = q == '"' ? "a name opened with \" is not closed"
                                    : "a name opened with ` is not closed";
                    sf_buf_free(&name);
                    sf_names_free(v, *n);
                    *n = 0;
                    return NULL;
                }
                if (*s == q && s[1] == q) { /* a doubled quote stands for itself */
                    sf_buf_putc(&name, q);
                    s += 2;
                } else if (*s == q) {
                    s++;
                    break;
                } else {
                    sf_buf_putc(&name, *s++);
                }
            }
        }
        if (name.len == 0) {
            *err = "a quoted name is empty";
            sf_buf_free(&name);
            sf_names_free(v, *n);
            *n = 0;
            return NULL;
        }
        if (names_room(&v, &cap, *n) != SF_OK) {
            break;
        }
        v[(*n)++] = strdup(name.data);
    }
    sf_buf_free(&name);
    return v;
}

void sf_names_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

/* The index of word among the sep-separated items of list (compared ignoring case when nocase),
 * or -1 when it is not there (also for a NULL list): a lookup, not an error code. */
static int item_index(const char *word, const char *list, char sep, bool nocase)
{
    if (!list) {
        return -1;
    }
    int idx = 0;
    size_t wl = strlen(word);
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, sep);
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == wl && (nocase ? strncasecmp(p, word, wl) : strncmp(p, word, wl)) == 0) {
            return idx;
        }
        if (!e) {
            break;
        }
        p = e + 1;
        idx++;
    }
    return -1;
}

/* Predicate: word is one of the sep-separated items of list (case-sensitive). */
static bool word_in(const char *word, const char *list, char sep)
{
    return item_index(word, list, sep, false) >= 0;
}

/* The index of val among the '|'-separated choices (any case), or -1 when it is none. */
static int choice_index(const char *val, const char *choices)
{
    return item_index(val, choices, '|', true);
}

/* Parse an integer with an optional unit-free value; reject garbage and overflow. @return SF_OK
 * or SF_ERR_INVAL. */
static int parse_ll(const char *s, long long *out)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    if (!*s) {
        return SF_ERR_INVAL;
    }
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    while (isspace((unsigned char)*end)) {
        end++;
    }
    if (errno || *end) {
        return SF_ERR_INVAL;
    }
    *out = v;
    return SF_OK;
}

/* Set the field of o in ctx from val. @return SF_OK, or SF_ERR_INVAL (error added to d). */
static int set_value(const struct sf_option *o, const char *val, const struct sf_prop *at, void *ctx,
                     struct sf_diag *d)
{
    char *field = (char *)ctx + o->offset;
    switch (o->type) {
    case SF_OPT_STRING: {
        char **sp = (char **)(void *)field;
        free(*sp);
        *sp = strdup(val);
        return SF_OK;
    }
    case SF_OPT_INT: {
        long long v;
        if (parse_ll(val, &v) != SF_OK) {
            sf_diag_error(d, at, "bad number \"%s\"", val);
            return SF_ERR_INVAL;
        }
        if (v < o->min || v > o->max) {
            sf_diag_error(d, at, "%lld is out of range [%lld, %lld]", v, o->min, o->max);
            return SF_ERR_INVAL;
        }
        memcpy(field, &v, sizeof(v));
        return SF_OK;
    }
    case SF_OPT_BOOL: {
        bool b;
        if (strcasecmp(val, "true") == 0) {
            b = true;
        } else if (strcasecmp(val, "false") == 0) {
            b = false;
        } else {
            sf_diag_error(d, at, "bad boolean \"%s\" (expected true or false)", val);
            return SF_ERR_INVAL;
        }
        memcpy(field, &b, sizeof(b));
        return SF_OK;
    }
    case SF_OPT_ENUM: {
        int idx = choice_index(val, o->choices);
        if (idx < 0) {
            sf_diag_error(d, at, "bad value \"%s\" (expected one of %s)", val, o->choices);
            return SF_ERR_INVAL;
        }
        memcpy(field, &idx, sizeof(idx));
        return SF_OK;
    }
    case SF_OPT_PREFIX:
    case SF_OPT_UNSUPPORTED:
        return SF_OK;
    }
    return SF_OK;
}

/* Predicate: sub is a key a component of this kind accepts beside its table: its type and its
 * wiring (Flume's AbstractConfigurationProvider reads `channels` of a source and `channel` of a
 * sink). */
static bool generic_key(const char *kind, const char *sub)
{
    if (strcmp(sub, "type") == 0) { /* of a component; a part (a serializer) has no type key */
        return strcmp(kind, "source") == 0 || strcmp(kind, "channel") == 0 ||
               strcmp(kind, "sink") == 0;
    }
    if (strcmp(kind, "source") == 0) {
        return strcmp(sub, "channels") == 0;
    }
    if (strcmp(kind, "sink") == 0) {
        return strcmp(sub, "channel") == 0;
    }
    return false;
}

/* Predicate: v is empty or only blanks (spaces, tabs). */
static bool blank(const char *v)
{
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    return *v == '\0';
}

/*
 * Flume's generic keys of a component kind that a plugin's table does not list: true when sub
 * is one, with *why the reason for the "is not supported" error, or NULL when it is accepted here
 * (the `selector.` keys, which the agent's selector step checks; an empty `interceptors`).
 */
static bool flume_generic(const char *kind, const char *sub, const char *val, const char **why)
{
    *why = NULL;
    if (strcmp(kind, "source") != 0) {
        return false;
    }
    if (strncmp(sub, "selector.", 9) == 0) {
        return true; /* the agent's selector step checks them (selector.c) */
    }
    if (strcmp(sub, "interceptors") == 0 || strncmp(sub, "interceptors.", 13) == 0) {
        if (strcmp(sub, "interceptors") != 0 || !blank(val)) {
            *why = "sqlflume has no interceptors: events go to the channels as the source made "
                   "them";
        }
        return true;
    }
    return false;
}

void sf_diag_unsupported(struct sf_diag *d, const struct sf_prop *p, const char *why)
{
    if (p->line > 0) {
        sf_diag_error(d, NULL, "%s:%d: %s = %s is not supported (%s)", p->file, p->line, p->key,
                      p->val, why);
    } else if (p->file) {
        sf_diag_error(d, NULL, "%s: %s = %s is not supported (%s)", p->file, p->key, p->val, why);
    } else {
        sf_diag_error(d, NULL, "%s = %s is not supported (%s)", p->key, p->val, why);
    }
}

/* Predicate: whether the row o (not SF_OPT_PREFIX) names sub: the key, one of its aliases, or for an
 * SF_OPT_UNSUPPORTED row ending with '.' any key of that family. */
static bool row_names(const struct sf_option *o, const char *sub)
{
    size_t kl = strlen(o->key);
    if (o->type == SF_OPT_UNSUPPORTED && kl && o->key[kl - 1] == '.') {
        return strncmp(sub, o->key, kl) == 0;
    }
    return strcmp(sub, o->key) == 0 || word_in(sub, o->aliases, ' ');
}

int sf_options_apply(const struct sf_option *opts, struct sf_section *s, void *ctx,
                     struct sf_diag *d)
{
    int rc = SF_OK;
    struct sf_prop missing = { .key = NULL };
    for (const struct sf_option *o = opts; o->key; o++) {
        if (o->type == SF_OPT_PREFIX || o->type == SF_OPT_UNSUPPORTED) {
            continue;
        }
        /* the last of the key and its aliases in file order wins; the key itself wins ties */
        struct sf_prop *found = sf_section_get(s, o->key);
        if (!found && o->aliases) {
            for (size_t i = 0; i < s->n; i++) {
                if (word_in(sf_section_subkey(s, s->v[i]), o->aliases, ' ')) {
                    found = s->v[i];
                }
            }
        }
        if (found) {
            found->used = true;
            if (set_value(o, found->val, found, ctx, d) != SF_OK) {
                rc = SF_ERR_INVAL;
            }
        } else if (o->def) {
            set_value(o, o->def, NULL, ctx, d);
        } else if (o->flags & SF_OPT_REQUIRED) {
            char key[512];
            snprintf(key, sizeof(key), "%s%s", s->prefix, o->key);
            missing.key = key;
            missing.file = s->n ? s->v[0]->file : NULL;
            missing.line = 0;
            sf_diag_error(d, &missing, "missing required key for %s \"%s\"", s->kind, s->name);
            rc = SF_ERR_INVAL;
        }
    }
    /* unknown keys: warn with the nearest known key */
    const char *cands[256];
    size_t nc = 0;
    for (const struct sf_option *o = opts; o->key && nc < 256; o++) {
        if (o->type != SF_OPT_UNSUPPORTED) {
            cands[nc++] = o->key;
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        const char *sub = sf_section_subkey(s, s->v[i]);
        const char *why = NULL;
        bool known = flume_generic(s->kind, sub, s->v[i]->val, &why);
        known = (known && !why) || generic_key(s->kind, sub);
        for (const struct sf_option *o = opts; o->key && !known && !why; o++) {
            if (o->type == SF_OPT_PREFIX) {
                known = strncmp(sub, o->key, strlen(o->key)) == 0;
            } else if (row_names(o, sub)) {
                if (o->type == SF_OPT_UNSUPPORTED) {
                    why = o->desc;
                } else {
                    known = true;
                }
            }
        }
        if (why) {
            s->v[i]->used = true;
            sf_diag_unsupported(d, s->v[i], why);
            rc = SF_ERR_INVAL;
            continue;
        }
        if (known) {
            s->v[i]->used = true;
            continue;
        }
        s->v[i]->used = true; /* warned about here, not again by the agent */
        const char *near = sf_nearest(sub, cands, nc);
        if (near) {
            sf_diag_warn(d, s->v[i], "unknown key for %s \"%s\"; did you mean \"%s\"?", s->kind,
                         s->name, near);
        } else {
            sf_diag_warn(d, s->v[i], "unknown key for %s \"%s\"", s->kind, s->name);
        }
    }
    return rc;
}

void sf_options_free(const struct sf_option *opts, void *ctx)
{
    for (const struct sf_option *o = opts; o->key; o++) {
        if (o->type == SF_OPT_STRING) {
            char **sp = (char **)(void *)((char *)ctx + o->offset);
            free(*sp);
            *sp = NULL;
        }
    }
}
