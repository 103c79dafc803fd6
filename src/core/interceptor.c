/*
 * A source's interceptor chain (Flume's InterceptorChain): built from the source's
 * `interceptors` list through the registry and each interceptor's option table, started once,
 * applied to every batch before the channels see it.
 */
#include "sqlflume/interceptor.h"

#include "sqlflume/agent.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mark_used(struct sf_section *s)
{
    for (size_t i = 0; i < s->n; i++) {
        s->v[i]->used = true;
    }
}

/* One interceptor NAME of src_conf into ic (its name and section already set). */
static int
build_one(struct sf_interceptor *ic, const struct sf_section *src_conf, struct sf_diag *d)
{
    struct sf_prop *tp = sf_section_get(&ic->conf, "type");
    if (!tp) {
        char key[600];
        snprintf(key, sizeof(key), "%stype", ic->conf.prefix);
        struct sf_prop at = { .key = key, .file = src_conf->n ? src_conf->v[0]->file : NULL };
        sf_diag_error(d, &at, "missing required key: interceptor \"%s\" of %s \"%s\" has no type",
                      ic->name, src_conf->kind, src_conf->name);
        mark_used(&ic->conf);
        return SF_ERR_INVAL;
    }
    tp->used = true;
    const struct sf_interceptor_plugin *p = sf_registry_interceptor(tp->val);
    if (!p) {
        sf_registry_unknown_type(d, tp, "interceptor", ", or their Flume builder class names");
        mark_used(&ic->conf);
        return SF_ERR_INVAL;
    }
    ic->ctx = calloc(1, p->ctx_size ? p->ctx_size : 1);
    if (!ic->ctx) {
        sf_diag_error(d, tp, "out of memory");
        return SF_ERR_NOMEM;
    }
    ic->plugin = p;
    int rc = sf_options_apply(p->options, &ic->conf, ic->ctx, d);
    if (rc == SF_OK && p->configure) {
        rc = p->configure(ic, d);
    }
    return rc == SF_OK ? SF_OK : SF_ERR_INVAL;
}

/* Whether sub ("interceptors.i1.type") belongs to one of the n listed names. */
static bool listed(const char *sub, char *const *names, size_t n)
{
    const char *rest = sub + strlen("interceptors.");
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        if (strncmp(rest, names[i], l) == 0 && rest[l] == '.') {
            return true;
        }
    }
    return false;
}

int sf_interceptor_chain_build(struct sf_interceptor_chain *chain,
                               const struct sf_section *src_conf,
                               struct sf_diag *d)
{
    memset(chain, 0, sizeof(*chain));
    struct sf_prop *list = sf_section_get(src_conf, "interceptors");
    size_t n = 0;
    char **names = NULL;
    int rc = SF_OK;
    if (list) {
        list->used = true;
        names = sf_split_names(list->val, &n, true);
        if (n && !names) {
            sf_diag_error(d, list, "out of memory");
            return SF_ERR_NOMEM;
        }
    }
    if (n) {
        chain->v = calloc(n, sizeof(*chain->v));
        if (!chain->v) {
            sf_names_free(names, n);
            sf_diag_error(d, list, "out of memory");
            return SF_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!names[i]) {
            sf_diag_error(d, list, "out of memory");
            rc = SF_ERR_INVAL;
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) {
            dup = names[j] && strcmp(names[j], names[i]) == 0;
        }
        if (dup) {
            sf_diag_error(d, list, "interceptor \"%s\" is listed twice", names[i]);
            rc = SF_ERR_INVAL;
            continue;
        }
        struct sf_interceptor *ic = &chain->v[chain->n++];
        char sub[512];
        snprintf(sub, sizeof(sub), "interceptors.%s.", names[i]);
        ic->name = strdup(names[i]);
        if (!ic->name ||
            sf_section_sub(&ic->conf, src_conf, "interceptor", ic->name, sub) != SF_OK) {
            sf_diag_error(d, list, "out of memory");
            rc = SF_ERR_INVAL;
            continue;
        }
        if (build_one(ic, src_conf, d) != SF_OK) {
            rc = SF_ERR_INVAL;
        }
    }
    /* keys of interceptors that are not listed: Flume ignores them; warned about here */
    for (size_t i = 0; i < src_conf->n; i++) {
        struct sf_prop *p = src_conf->v[i];
        const char *sub = sf_section_subkey(src_conf, p);
        if (strncmp(sub, "interceptors.", 13) != 0) {
            continue;
        }
        if (!listed(sub, names, n)) { /* whether or not the source marked it used */
            sf_diag_warn(d, p, "interceptor not listed in %sinterceptors; key ignored",
                         src_conf->prefix);
        }
        p->used = true;
    }
    sf_names_free(names, n);
    return rc;
}

int sf_interceptor_chain_start(struct sf_interceptor_chain *chain, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < chain->n; i++) {
        struct sf_interceptor *ic = &chain->v[i];
        if (!ic->plugin || !ic->plugin->start) {
            continue;
        }
        char err[256] = "";
        int rc = ic->plugin->start(ic, err, sizeof(err));
        if (rc != SF_OK) {
            snprintf(errstr, errstr_size, SF_IC_FMT "%s", SF_IC_ARGS(ic), err);
            return rc;
        }
    }
    return SF_OK;
}

size_t sf_interceptor_chain_apply(struct sf_interceptor_chain *chain,
                                  struct sf_event **evs,
                                  size_t n,
                                  size_t nacks)
{
    if (!chain || chain->n == 0) {
        return n;
    }
    size_t kept = 0;
    struct sf_ack_run acks = { 0 };
    for (size_t i = 0; i < n; i++) {
        struct sf_event *ev = evs[i];
        struct sf_interceptor *by = NULL;
        for (size_t k = 0; k < chain->n && !by; k++) {
            struct sf_interceptor *ic = &chain->v[k];
            atomic_fetch_add_explicit(&ic->metrics.events_in, 1, memory_order_relaxed);
            if (ic->plugin->intercept(ic, &ev) == SF_IC_DROP) {
                atomic_fetch_add_explicit(&ic->metrics.events_dropped, 1, memory_order_relaxed);
                by = ic;
            }
        }
        if (by) {
            SF_DEBUG(SF_IC_FMT "event dropped (%zu body bytes)", SF_IC_ARGS(by), ev->body_len);
            sf_ack_run_add(&acks, ev->tracker, ev->ack_id, nacks);
            sf_event_destroy(ev);
        } else {
            evs[kept++] = ev;
        }
    }
    sf_ack_run_flush(&acks);
    return kept;
}

void sf_interceptor_chain_free(struct sf_interceptor_chain *chain)
{
    for (size_t i = 0; chain && i < chain->n; i++) {
        struct sf_interceptor *ic = &chain->v[i];
        if (ic->plugin) {
            if (ic->plugin->stop) {
                ic->plugin->stop(ic);
            }
            sf_options_free(ic->plugin->options, ic->ctx);
        }
        free(ic->ctx);
        sf_section_free(&ic->conf);
        free(ic->name);
    }
    if (chain) {
        free(chain->v);
        memset(chain, 0, sizeof(*chain));
    }
}
