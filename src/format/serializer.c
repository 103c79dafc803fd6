/*
 * The serializer registry (from serializers.def), the configuration of a sink's serializer, and
 * the instance wrapper that checks the call order (see sqlflume/serializer.h).
 */
#include "sqlflume/serializer.h"
#include "sqlflume/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SF_SERIALIZER(sym) extern const struct sf_serializer_plugin sym;
#include "serializers.def"
#undef SF_SERIALIZER

#define SF_SERIALIZER(sym) &(sym),
static const struct sf_serializer_plugin *const serializers[] = {
#include "serializers.def"
    NULL
};
#undef SF_SERIALIZER

const struct sf_serializer_plugin *sf_serializer_lookup(const char *type)
{
    for (size_t i = 0; serializers[i]; i++) {
        const struct sf_serializer_plugin *p = serializers[i];
        if (strcasecmp(type, p->name) == 0) {
            return p;
        }
        for (size_t j = 0; p->aliases && p->aliases[j]; j++) {
            if (strcasecmp(type, p->aliases[j]) == 0) {
                return p;
            }
        }
    }
    return NULL;
}

const struct sf_serializer_plugin *sf_serializer_plugin_at(size_t i)
{
    return i < sizeof(serializers) / sizeof(serializers[0]) ? serializers[i] : NULL;
}

struct sf_serializer_conf *sf_serializer_conf_create(const struct sf_section *sink,
                                                     const char *type_key,
                                                     const char *prefix,
                                                     struct sf_diag *d)
{
    struct sf_prop *tp = sf_section_get(sink, type_key);
    const char *type = tp ? tp->val : "TEXT";
    if (tp) {
        tp->used = true;
    }
    const struct sf_serializer_plugin *p = sf_serializer_lookup(type);
    if (!p) {
        char key[600];
        snprintf(key, sizeof(key), "%s%s", sink->prefix, type_key);
        struct sf_prop at = { .key = key };
        struct sf_buf known = SF_BUF_INIT;
        const char *names[16];
        size_t n = 0;
        for (size_t i = 0; serializers[i]; i++) {
            sf_buf_printf(&known, "%s%s", i ? ", " : "", serializers[i]->name);
            if (n < 16) {
                names[n++] = serializers[i]->name;
            }
        }
        const char *near = sf_nearest(type, names, n);
        char hint[128] = "";
        if (near) {
            snprintf(hint, sizeof(hint), "; did you mean \"%s\"?", near);
        }
        sf_diag_error(d, tp ? tp : &at,
                      "unknown serializer \"%s\" for %s \"%s\" (known: %s, in any case, or their "
                      "Flume builder class names)%s",
                      type, sink->kind, sink->name, known.data, hint);
        sf_buf_free(&known);
        /* its keys get no follow-on warnings */
        for (size_t i = 0; i < sink->n; i++) {
            if (strncmp(sf_section_subkey(sink, sink->v[i]), prefix, strlen(prefix)) == 0) {
                sink->v[i]->used = true;
            }
        }
        return NULL;
    }
    struct sf_serializer_conf *c = calloc(1, sizeof(*c));
    if (!c || !(c->conf = calloc(1, p->conf_size ? p->conf_size : 1))) {
        free(c);
        sf_diag_error(d, tp, "out of memory");
        return NULL;
    }
    c->plugin = p;
    struct sf_section sub;
    if (sf_section_sub(&sub, sink, "serializer", p->name, prefix) != SF_OK) {
        sf_diag_error(d, tp, "out of memory");
        sf_serializer_conf_destroy(c);
        return NULL;
    }
    int rc = sf_options_apply(p->options, &sub, c->conf, d);
    if (rc == SF_OK && p->configure) {
        char err[256] = "";
        if (p->configure(c->conf, err, sizeof(err)) != SF_OK) {
            char key[600];
            snprintf(key, sizeof(key), "%s%s", sink->prefix, prefix);
            struct sf_prop at = { .key = key, .file = sink->n ? sink->v[0]->file : NULL };
            sf_diag_error(d, &at, "%s", err);
            rc = SF_ERR_INVAL;
        }
    }
    sf_section_free(&sub);
    if (rc != 0) {
        sf_serializer_conf_destroy(c);
        return NULL;
    }
    return c;
}

void sf_serializer_conf_destroy(struct sf_serializer_conf *c)
{
    if (!c) {
        return;
    }
    sf_options_free(c->plugin->options, c->conf);
    free(c->conf);
    free(c);
}

enum ser_state { SER_NEW, SER_OPEN, SER_CLOSED };

struct sf_serializer {
    const struct sf_serializer_conf *conf;
    void *ctx;
    enum ser_state state;
    char errstr[256];
};

struct sf_serializer *sf_serializer_create(const struct sf_serializer_conf *c)
{
    struct sf_serializer *s = calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    s->conf = c;
    s->ctx = calloc(1, c->plugin->ctx_size ? c->plugin->ctx_size : 1);
    if (!s->ctx) {
        free(s);
        return NULL;
    }
    return s;
}

void sf_serializer_destroy(struct sf_serializer *s)
{
    if (!s) {
        return;
    }
    if (s->conf->plugin->free) {
        s->conf->plugin->free(s->ctx);
    }
    free(s->ctx);
    free(s);
}

bool sf_serializer_supports_reopen(const struct sf_serializer *s)
{
    return s->conf->plugin->supports_reopen;
}

const char *sf_serializer_name(const struct sf_serializer *s)
{
    return s->conf->plugin->name;
}

const char *sf_serializer_errstr(const struct sf_serializer *s)
{
    return s->errstr;
}

static int state_error(struct sf_serializer *s, const char *call)
{
    snprintf(s->errstr, sizeof(s->errstr), "serializer %s: %s called %s", s->conf->plugin->name,
             call,
             s->state == SER_OPEN  ? "while a file is open"
             : s->state == SER_NEW ? "before after_create or after_reopen"
                                   : "after before_close or a failed start of the file");
    return SF_ERR_STATE;
}

int sf_serializer_after_create(struct sf_serializer *s, struct sf_buf *out)
{
    if (s->state == SER_OPEN) {
        return state_error(s, "after_create");
    }
    int rc =
        s->conf->plugin->after_create(s->ctx, s->conf->conf, out, s->errstr, sizeof(s->errstr));
    s->state = rc == SF_OK ? SER_OPEN : SER_CLOSED;
    return rc;
}

int sf_serializer_after_reopen(struct sf_serializer *s, struct sf_buf *out)
{
    if (!s->conf->plugin->supports_reopen) {
        /* Flume's Avro serializers throw UnsupportedOperationException */
        snprintf(s->errstr, sizeof(s->errstr),
                 "serializer %s does not support reopen (appending to an existing file)",
                 s->conf->plugin->name);
        return SF_ERR_STATE;
    }
    if (s->state == SER_OPEN) {
        return state_error(s, "after_reopen");
    }
    int rc =
        s->conf->plugin->after_reopen(s->ctx, s->conf->conf, out, s->errstr, sizeof(s->errstr));
    s->state = rc == SF_OK ? SER_OPEN : SER_CLOSED;
    return rc;
}

int sf_serializer_write(struct sf_serializer *s, const struct sf_event *ev, struct sf_buf *out)
{
    if (s->state != SER_OPEN) {
        return state_error(s, "write");
    }
    return s->conf->plugin->write(s->ctx, s->conf->conf, ev, out, s->errstr, sizeof(s->errstr));
}

int sf_serializer_flush(struct sf_serializer *s, struct sf_buf *out)
{
    if (s->state != SER_OPEN) {
        return state_error(s, "flush");
    }
    return s->conf->plugin->flush(s->ctx, s->conf->conf, out, s->errstr, sizeof(s->errstr));
}

int sf_serializer_before_close(struct sf_serializer *s, struct sf_buf *out)
{
    if (s->state != SER_OPEN) {
        return state_error(s, "before_close");
    }
    int rc = sf_serializer_flush(s, out);
    if (rc == SF_OK) {
        rc =
            s->conf->plugin->before_close(s->ctx, s->conf->conf, out, s->errstr, sizeof(s->errstr));
    }
    s->state = SER_CLOSED;
    return rc;
}
