/*
 * The agent runtime (Flume's Application + PropertiesFileConfigurationProvider + the runners):
 * wires components from the properties file, validates everything before anything starts, runs
 * one thread per source and per sink group (a sink of no group is a group of its own), and stops
 * them in a lossless order (see agent.h).
 */
#include "sqlflume/agent.h"
#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/format.h"
#include "sqlflume/log.h"
#include "sqlflume/sink_group.h"
#include "monitor.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_TIMEOUT_MS 10000

struct sf_agent {
    char *name;
    struct sf_props props;
    struct sf_channel *channels;
    struct sf_section *channel_secs;
    size_t nchannels;
    struct sf_source *sources;
    struct sf_section *source_secs;
    size_t nsources;
    struct sf_sink *sinks;
    struct sf_section *sink_secs;
    size_t nsinks;
    struct sf_sink_group *groups; /* the sink groups, then a group of one per other sink */
    size_t ngroups;
    pthread_t *source_threads;
    pthread_t *group_threads; /* one per group: its runner */
    bool started, stopped;
    size_t channels_started, sources_started, sinks_started;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop_requested;
    int exit_code;
    long long start_time_ms;    /* wall clock, ms since the epoch, for the metrics' StartTime */
    struct sf_monitor *monitor; /* the HTTP metrics server, or NULL */
    struct sf_monitor_socket monitor_sock; /* its listening socket before it serves (fd -1) */
};

static struct sf_channel *find_channel(struct sf_agent *a, const char *name)
{
    for (size_t i = 0; i < a->nchannels; i++) {
        if (strcmp(a->channels[i].name, name) == 0) {
            return &a->channels[i];
        }
    }
    return NULL;
}

/* Mark every key of the section used: after an error about the component as a whole (no type,
 * unknown type), so its other keys get no "unknown key" or "not listed" follow-on warnings. */
static void section_mark_used(struct sf_section *sec)
{
    for (size_t i = 0; i < sec->n; i++) {
        sec->v[i]->used = true;
    }
}

/* Look up NAME.<kind>s.<comp>.type and resolve the section; NULL when missing (error added, the
 * section's keys marked used). */
static struct sf_prop *component_type(struct sf_agent *a,
                                      struct sf_section *sec,
                                      const char *kind,
                                      const char *comp,
                                      struct sf_diag *d)
{
    char prefix[512];
    snprintf(prefix, sizeof(prefix), "%s.%ss.%s.", a->name, kind, comp);
    if (sf_section_init(sec, &a->props, kind, comp, prefix) != 0) {
        sf_diag_error(d, NULL, "out of memory");
        return NULL;
    }
    struct sf_prop *type = sf_section_get(sec, "type");
    if (!type) {
        char key[600];
        snprintf(key, sizeof(key), "%stype", prefix);
        struct sf_prop at = { .key = key, .file = a->props.file };
        sf_diag_error(d, &at, "missing required key: %s \"%s\" has no type", kind, comp);
        section_mark_used(sec);
        return NULL;
    }
    type->used = true;
    return type;
}

static struct sf_prop *agent_key(struct sf_agent *a, const char *sub)
{
    char key[512];
    snprintf(key, sizeof(key), "%s.%s", a->name, sub);
    struct sf_prop *p = sf_props_get(&a->props, key);
    if (p) {
        p->used = true;
    }
    return p;
}

/* @return SF_OK, or SF_ERR_INVAL when an error about the channels was added to d. */
static int build_channels(struct sf_agent *a, struct sf_diag *d)
{
    struct sf_prop *list = agent_key(a, "channels");
    size_t n = 0;
    char **names = list ? sf_split_names(list->val, &n, true) : NULL;
    a->channels = calloc(n ? n : 1, sizeof(*a->channels));
    a->channel_secs = calloc(n ? n : 1, sizeof(*a->channel_secs));
    int rc = SF_OK;
    for (size_t i = 0; i < n; i++) {
        struct sf_channel *ch = &a->channels[a->nchannels];
        struct sf_section *sec = &a->channel_secs[a->nchannels];
        a->nchannels++;
        ch->name = strdup(names[i]);
        struct sf_prop *type = component_type(a, sec, "channel", names[i], d);
        if (!type) {
            rc = SF_ERR_INVAL;
            continue;
        }
        ch->plugin = sf_registry_channel(type->val);
        if (!ch->plugin) {
            sf_registry_unknown_type(d, type, "channel", "");
            section_mark_used(sec);
            rc = SF_ERR_INVAL;
            continue;
        }
        ch->ctx = calloc(1, ch->plugin->ctx_size);
        ch->conf = sec;
        /* the configure step sees only values the table accepted */
        if (sf_options_apply(ch->plugin->options, sec, ch->ctx, d) != SF_OK ||
            (ch->plugin->configure && ch->plugin->configure(ch, d) != SF_OK)) {
            rc = SF_ERR_INVAL;
        }
    }
    sf_names_free(names, n);
    return rc;
}

/* @return SF_OK, or SF_ERR_INVAL when an error about the sources was added to d. */
static int build_sources(struct sf_agent *a, struct sf_diag *d)
{
    struct sf_prop *list = agent_key(a, "sources");
    size_t n = 0;
    char **names = list ? sf_split_names(list->val, &n, true) : NULL;
    a->sources = calloc(n ? n : 1, sizeof(*a->sources));
    a->source_secs = calloc(n ? n : 1, sizeof(*a->source_secs));
    int rc = SF_OK;
    for (size_t i = 0; i < n; i++) {
        struct sf_source *src = &a->sources[a->nsources];
        struct sf_section *sec = &a->source_secs[a->nsources];
        a->nsources++;
        src->name = strdup(names[i]);
        src->agent = a;
        src->conf = sec;
        pthread_mutex_init(&src->sleep_mu, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&src->sleep_cv, &ca);
        pthread_condattr_destroy(&ca);
        struct sf_prop *type = component_type(a, sec, "source", names[i], d);
        if (!type) {
            rc = SF_ERR_INVAL;
            continue;
        }
        src->plugin = sf_registry_source(type->val);
        if (!src->plugin) {
            sf_registry_unknown_type(d, type, "source", "");
            section_mark_used(sec);
            rc = SF_ERR_INVAL;
            continue;
        }
        struct sf_prop *chl = sf_section_get(sec, "channels");
        size_t nch = 0;
        char **chn = chl ? sf_split_names(chl->val, &nch, true) : NULL;
        if (!chl || nch == 0) {
            char key[600];
            snprintf(key, sizeof(key), "%schannels", sec->prefix);
            struct sf_prop at = { .key = key, .file = a->props.file };
            sf_diag_error(d, chl ? chl : &at, "missing required key: source \"%s\" has no channels",
                          names[i]);
            rc = SF_ERR_INVAL;
        } else {
            chl->used = true;
            src->chs = calloc(nch, sizeof(*src->chs));
            for (size_t c = 0; c < nch; c++) {
                struct sf_channel *ch = find_channel(a, chn[c]);
                if (!ch) {
                    sf_diag_error(d, chl,
                                  "channel \"%s\" is referenced but not defined in %s.channels",
                                  chn[c], a->name);
                    rc = SF_ERR_INVAL;
                } else {
                    src->chs[src->nch++] = ch;
                }
            }
        }
        if (src->nch == nch && nch > 0 &&
            sf_selector_build(&src->selector, sec, chn, (unsigned)nch, d) != SF_OK) {
            rc = SF_ERR_INVAL;
        }
        sf_names_free(chn, nch);
        if (sf_interceptor_chain_build(&src->interceptors, sec, d) != SF_OK) {
            rc = SF_ERR_INVAL;
        }
        src->ctx = calloc(1, src->plugin->ctx_size);
        if (sf_options_apply(src->plugin->options, sec, src->ctx, d) != SF_OK) {
            rc = SF_ERR_INVAL;
        }
        if (src->plugin->configure && src->plugin->configure(src, d) != SF_OK) {
            rc = SF_ERR_INVAL;
        }
        src->tracker = sf_ack_tracker_create();
    }
    sf_names_free(names, n);
    return rc;
}

/* @return SF_OK, or SF_ERR_INVAL when an error about the sinks was added to d. */
static int build_sinks(struct sf_agent *a, struct sf_diag *d)
{
    struct sf_prop *list = agent_key(a, "sinks");
    size_t n = 0;
    char **names = list ? sf_split_names(list->val, &n, true) : NULL;
    a->sinks = calloc(n ? n : 1, sizeof(*a->sinks));
    a->sink_secs = calloc(n ? n : 1, sizeof(*a->sink_secs));
    int rc = SF_OK;
    for (size_t i = 0; i < n; i++) {
        struct sf_sink *snk = &a->sinks[a->nsinks];
        struct sf_section *sec = &a->sink_secs[a->nsinks];
        a->nsinks++;
        snk->name = strdup(names[i]);
        snk->agent = a;
        snk->conf = sec;
        struct sf_prop *type = component_type(a, sec, "sink", names[i], d);
        snk->plugin = type ? sf_registry_sink(type->val) : NULL;
        if (!snk->plugin) {
            if (type) {
                sf_registry_unknown_type(d, type, "sink", "");
                section_mark_used(sec);
            }
            /* its channel counts as drained: no "has no sink" warning on top of this error */
            struct sf_prop *chp = sf_section_get(sec, "channel");
            snk->ch = chp ? find_channel(a, chp->val) : NULL;
            rc = SF_ERR_INVAL;
            continue;
        }
        struct sf_prop *chp = sf_section_get(sec, "channel");
        if (!chp) {
            char key[600];
            snprintf(key, sizeof(key), "%schannel", sec->prefix);
            struct sf_prop at = { .key = key, .file = a->props.file };
            sf_diag_error(d, &at, "missing required key: sink \"%s\" has no channel", names[i]);
            rc = SF_ERR_INVAL;
        } else {
            chp->used = true;
            snk->ch = find_channel(a, chp->val);
            if (!snk->ch) {
                sf_diag_error(d, chp, "channel \"%s\" is referenced but not defined in %s.channels",
                              chp->val, a->name);
                rc = SF_ERR_INVAL;
            }
        }
        snk->ctx = calloc(1, snk->plugin->ctx_size);
        /* the configure step sees only values the table accepted */
        if (sf_options_apply(snk->plugin->options, sec, snk->ctx, d) != SF_OK ||
            (snk->plugin->configure && snk->plugin->configure(snk, d) != SF_OK)) {
            rc = SF_ERR_INVAL;
        }
    }
    sf_names_free(names, n);
    return rc;
}

struct sf_agent *sf_agent_create(const char *name, struct sf_props *props, struct sf_diag *d)
{
    struct sf_agent *a = calloc(1, sizeof(*a));
    if (!a) {
        sf_diag_error(d, NULL, "out of memory");
        return NULL;
    }
    a->name = strdup(name);
    a->props = *props;
    a->monitor_sock.fd = -1;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);

    size_t before = d->nerrors;
    char agent_prefix[512];
    snprintf(agent_prefix, sizeof(agent_prefix), "%s.", name);
    bool any = false;
    for (size_t i = 0; i < a->props.n; i++) {
        any |= strncmp(a->props.v[i].key, agent_prefix, strlen(agent_prefix)) == 0;
    }
    if (!any) {
        sf_diag_error(d, NULL, "%s: no configuration for agent \"%s\" (no key starts with \"%s\")",
                      a->props.file ? a->props.file : "config", name, agent_prefix);
    } else {
        build_channels(a, d);
        build_sources(a, d);
        build_sinks(a, d);
        sf_sink_groups_build(&a->props, name, a->sinks, a->nsinks, &a->groups, &a->ngroups, d);
        if (a->nsources == 0 && a->nsinks == 0) {
            sf_diag_error(d, NULL, "%s: agent \"%s\" has no sources and no sinks",
                          a->props.file ? a->props.file : "config", name);
        }
        for (size_t c = 0; c < a->nchannels; c++) {
            bool drained = false;
            for (size_t k = 0; k < a->nsinks; k++) {
                drained |= a->sinks[k].ch == &a->channels[c];
            }
            if (!drained) {
                sf_diag_warn(d, agent_key(a, "channels"), "channel \"%s\" has no sink",
                             a->channels[c].name);
            }
        }
        /* every key of this agent nobody consumed: Flume's config filters (not implemented: an
         * error), a component not listed (one warning for all its keys), a typo */
        static const char *const top[] = { "sources", "channels", "sinks", "sinkgroups",
                                           "configfilters" };
        for (size_t i = 0; i < a->props.n; i++) {
            struct sf_prop *p = &a->props.v[i];
            if (p->used || strncmp(p->key, agent_prefix, strlen(agent_prefix)) != 0) {
                continue;
            }
            const char *sub = p->key + strlen(agent_prefix);
            const char *dot = strchr(sub, '.');
            char head[64];
            snprintf(head, sizeof(head), "%.*s", dot ? (int)(dot - sub) : (int)strlen(sub), sub);
            const char *near = sf_nearest(head, top, sizeof(top) / sizeof(top[0]));
            p->used = true;
            if (strcmp(head, "configfilters") == 0) {
                sf_diag_unsupported(d, p,
                                    "sqlflume has no config filters; use ${VAR} for "
                                    "environment variables");
            } else if (near && strcmp(near, head) == 0 && dot) {
                /* a component of sources/channels/sinks that is not in the list */
                const char *comp = dot + 1;
                size_t clen = strcspn(comp, ".");
                struct sf_buf prefix = SF_BUF_INIT;
                sf_buf_append(&prefix, p->key, (size_t)(comp - p->key) + clen);
                size_t plen = prefix.len, nkeys = 0;
                for (size_t j = i; j < a->props.n; j++) {
                    struct sf_prop *q = &a->props.v[j];
                    if (strncmp(q->key, prefix.data, plen) == 0 &&
                        (q->key[plen] == '.' || q->key[plen] == '\0')) {
                        q->used = true;
                        nkeys++;
                    }
                }
                sf_diag_warn(d, p,
                             "%.*s \"%.*s\" is not listed in %s.%s, so it is neither checked nor "
                             "started (%zu key(s) ignored)",
                             (int)(dot - sub) - 1, sub, (int)clen, comp, name, head, nkeys);
                sf_buf_free(&prefix);
            } else if (near) {
                sf_diag_warn(d, p, "unknown key; did you mean \"%s.%s\"?", name, near);
            } else {
                sf_diag_warn(d, p, "unknown key; ignored");
            }
        }
    }
    if (d->nerrors > before) {
        memset(&a->props, 0, sizeof(a->props)); /* still the caller's */
        sf_agent_destroy(a);
        return NULL;
    }
    memset(props, 0, sizeof(*props));
    return a;
}

/* Name the calling thread "<prefix><component name>" (cut to the 15 bytes Linux keeps), so that
 * top -H, perf and gdb tell the agent's threads apart. */
static void name_thread(const char *prefix, const char *name)
{
    char buf[16];
    (void)snprintf(buf, sizeof(buf), "%s%s", prefix, name ? name : "");
    (void)pthread_setname_np(pthread_self(), buf);
}

static void *source_runner(void *arg)
{
    struct sf_source *src = arg;
    name_thread("src:", src->name);
    while (!atomic_load(&src->stopping)) {
        src->backoff_ms = 0;
        enum sf_status st = src->plugin->process(src);
        if (st == SF_FATAL) {
            sf_agent_request_stop(src->agent, 1);
        }
        if (st != SF_READY) {
            sf_source_sleep(src, src->backoff_ms > 0 ? src->backoff_ms : 1000);
        }
    }
    return NULL;
}

int sf_agent_start(struct sf_agent *a)
{
    char err[1024];
    for (size_t i = 0; i < a->nchannels; i++) {
        struct sf_channel *ch = &a->channels[i];
        err[0] = '\0';
        if (ch->plugin->start(ch, err, sizeof(err)) != SF_OK) {
            SF_ERROR("[channel %s %s] could not start: %s", ch->name, ch->plugin->name, err);
            return SF_ERR_INVAL;
        }
        a->channels_started++;
    }
    for (size_t i = 0; i < a->nsinks; i++) {
        struct sf_sink *snk = &a->sinks[i];
        err[0] = '\0';
        if (snk->plugin->start(snk, err, sizeof(err)) != SF_OK) {
            SF_ERROR(SF_SINK_FMT "could not start: %s", SF_SINK_ARGS(snk), err);
            return SF_ERR_INVAL;
        }
        a->sinks_started++;
    }
    for (size_t i = 0; i < a->nsources; i++) {
        struct sf_source *src = &a->sources[i];
        err[0] = '\0';
        if (sf_interceptor_chain_start(&src->interceptors, err, sizeof(err)) != SF_OK) {
            SF_ERROR(SF_SOURCE_FMT "could not start its interceptors: %s", SF_SOURCE_ARGS(src),
                     err);
            return SF_ERR_INVAL;
        }
        if (src->plugin->start(src, err, sizeof(err)) != SF_OK) {
            SF_ERROR(SF_SOURCE_FMT "could not start: %s", SF_SOURCE_ARGS(src), err);
            a->sources_started++; /* its stop() frees what start allocated */
            return SF_ERR_INVAL;
        }
        a->sources_started++;
    }
    a->group_threads = calloc(a->ngroups ? a->ngroups : 1, sizeof(pthread_t));
    a->source_threads = calloc(a->nsources ? a->nsources : 1, sizeof(pthread_t));
    for (size_t i = 0; i < a->ngroups; i++) {
        pthread_create(&a->group_threads[i], NULL, sf_sink_group_run, &a->groups[i]);
    }
    for (size_t i = 0; i < a->nsources; i++) {
        pthread_create(&a->source_threads[i], NULL, source_runner, &a->sources[i]);
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    a->start_time_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    a->started = true;
    size_t ngroups = 0;
    for (size_t i = 0; i < a->ngroups; i++) {
        ngroups += !a->groups[i].implicit;
    }
    SF_INFO("agent \"%s\" started: %zu source(s), %zu channel(s), %zu sink(s), %zu sink group(s)",
            a->name, a->nsources, a->nchannels, a->nsinks, ngroups);
    return SF_OK;
}

void sf_agent_request_stop(struct sf_agent *a, int fatal)
{
    pthread_mutex_lock(&a->mu);
    a->stop_requested = true;
    if (fatal) {
        a->exit_code = 1;
    }
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

void sf_agent_wait(struct sf_agent *a)
{
    pthread_mutex_lock(&a->mu);
    while (!a->stop_requested) {
        pthread_cond_wait(&a->cv, &a->mu);
    }
    pthread_mutex_unlock(&a->mu);
}

const char *sf_agent_name(const struct sf_agent *a)
{
    return a ? a->name : "agent";
}

bool sf_agent_stop_requested(struct sf_agent *a)
{
    pthread_mutex_lock(&a->mu);
    bool r = a->stop_requested;
    pthread_mutex_unlock(&a->mu);
    return r;
}

void sf_agent_stop(struct sf_agent *a)
{
    if (a->stopped) {
        return;
    }
    a->stopped = true;
    sf_monitor_stop(a->monitor); /* it reads the components, which stop below */
    a->monitor = NULL;
    if (a->started) {
        SF_INFO("agent \"%s\" stopping", a->name);
        for (size_t i = 0; i < a->nsources; i++) {
            struct sf_source *src = &a->sources[i];
            pthread_mutex_lock(&src->sleep_mu);
            atomic_store(&src->stopping, true);
            pthread_cond_broadcast(&src->sleep_cv);
            pthread_mutex_unlock(&src->sleep_mu);
        }
        for (size_t i = 0; i < a->nsources; i++) {
            pthread_join(a->source_threads[i], NULL);
        }
        /* let the sinks drain what the sources put, for a bounded time */
        long long deadline = sf_mono_ms() + DRAIN_TIMEOUT_MS;
        while (sf_mono_ms() < deadline) {
            size_t held = 0;
            for (size_t i = 0; i < a->nchannels; i++) {
                held += sf_channel_size(&a->channels[i]);
            }
            if (held == 0) {
                break;
            }
            usleep(20000);
        }
        for (size_t i = 0; i < a->nsinks; i++) {
            atomic_store(&a->sinks[i].stopping, true);
        }
        for (size_t i = 0; i < a->ngroups; i++) {
            atomic_store(&a->groups[i].stopping, true);
        }
        for (size_t i = 0; i < a->ngroups; i++) {
            pthread_join(a->group_threads[i], NULL);
        }
    }
    for (size_t i = 0; i < a->sinks_started; i++) {
        a->sinks[i].plugin->stop(&a->sinks[i]);
    }
    /* after the sinks: every acknowledgement is in, so the final offsets are exact */
    for (size_t i = 0; i < a->sources_started; i++) {
        a->sources[i].plugin->stop(&a->sources[i]);
    }
    for (size_t i = 0; i < a->channels_started; i++) {
        a->channels[i].plugin->stop(&a->channels[i]);
    }
    a->sinks_started = a->sources_started = a->channels_started = 0;
    if (a->started) {
        SF_INFO("agent \"%s\" stopped", a->name);
    }
}

/* Append ,"Name":"value" (the first without the comma) for a counter. */
static void metric(struct sf_buf *out, bool *first, const char *name, long long v)
{
    sf_buf_printf(out, "%s\"%s\":\"%lld\"", *first ? "" : ",", name, v);
    *first = false;
}

/* Append "KIND.name":{ with the component name escaped as a JSON string. */
static void component_open(struct sf_buf *out, bool *first_comp, const char *kind, const char *name)
{
    struct sf_buf key = SF_BUF_INIT;
    sf_buf_printf(&key, "%s.%s", kind, name);
    if (!*first_comp) {
        sf_buf_putc(out, ',');
    }
    *first_comp = false;
    sf_json_append_string(out, key.data, key.len);
    sf_buf_puts(out, ":{");
    sf_buf_free(&key);
}

void sf_agent_metrics_json(struct sf_agent *a, struct sf_buf *out)
{
    bool first_comp = true, f;
    sf_buf_putc(out, '{');
    for (size_t i = 0; i < a->nsources; i++) {
        const struct sf_source_metrics *m = &a->sources[i].metrics;
        component_open(out, &first_comp, "SOURCE", a->sources[i].name);
        f = true;
        metric(out, &f, "EventReceivedCount", atomic_load(&m->event_received));
        metric(out, &f, "EventAcceptedCount", atomic_load(&m->event_accepted));
        metric(out, &f, "AppendReceivedCount", atomic_load(&m->append_received));
        metric(out, &f, "AppendAcceptedCount", atomic_load(&m->append_accepted));
        metric(out, &f, "AppendBatchReceivedCount", atomic_load(&m->batch_received));
        metric(out, &f, "AppendBatchAcceptedCount", atomic_load(&m->batch_accepted));
        metric(out, &f, "OpenConnectionCount", atomic_load(&m->open_connections));
        metric(out, &f, "EventReadFail", atomic_load(&m->event_read_fail));
        metric(out, &f, "ChannelWriteFail", atomic_load(&m->channel_write_fail));
        metric(out, &f, "GenericProcessingFail", atomic_load(&m->generic_processing_fail));
        metric(out, &f, "StartTime", a->start_time_ms);
        metric(out, &f, "StopTime", 0);
        sf_buf_puts(out, ",\"Type\":\"SOURCE\"}");
    }
    for (size_t i = 0; i < a->nchannels; i++) {
        struct sf_channel *ch = &a->channels[i];
        const struct sf_channel_metrics *m = &ch->metrics;
        long long size = (long long)sf_channel_size(ch);
        component_open(out, &first_comp, "CHANNEL", ch->name);
        f = true;
        metric(out, &f, "ChannelCapacity", ch->capacity);
        metric(out, &f, "ChannelSize", size);
        sf_buf_printf(out, ",\"ChannelFillPercentage\":\"%.1f\"",
                      ch->capacity > 0 ? 100.0 * (double)size / (double)ch->capacity : 0.0);
        metric(out, &f, "EventPutAttemptCount", atomic_load(&m->put_attempt));
        metric(out, &f, "EventPutSuccessCount", atomic_load(&m->put_success));
        metric(out, &f, "EventTakeAttemptCount", atomic_load(&m->take_attempt));
        metric(out, &f, "EventTakeSuccessCount", atomic_load(&m->take_success));
        metric(out, &f, "StartTime", a->start_time_ms);
        metric(out, &f, "StopTime", 0);
        sf_buf_puts(out, ",\"Type\":\"CHANNEL\"}");
    }
    for (size_t i = 0; i < a->nsinks; i++) {
        const struct sf_sink_metrics *m = &a->sinks[i].metrics;
        component_open(out, &first_comp, "SINK", a->sinks[i].name);
        f = true;
        metric(out, &f, "ConnectionCreatedCount", atomic_load(&m->connection_created));
        metric(out, &f, "ConnectionClosedCount", atomic_load(&m->connection_closed));
        metric(out, &f, "ConnectionFailedCount", atomic_load(&m->connection_failed));
        metric(out, &f, "BatchEmptyCount", atomic_load(&m->batch_empty));
        metric(out, &f, "BatchUnderflowCount", atomic_load(&m->batch_underflow));
        metric(out, &f, "BatchCompleteCount", atomic_load(&m->batch_complete));
        metric(out, &f, "EventDrainAttemptCount", atomic_load(&m->drain_attempt));
        metric(out, &f, "EventDrainSuccessCount", atomic_load(&m->drain_success));
        metric(out, &f, "EventWriteFail", atomic_load(&m->write_fail));
        metric(out, &f, "ChannelReadFail", atomic_load(&m->channel_read_fail));
        metric(out, &f, "EventFailedCount", atomic_load(&m->event_failed));
        metric(out, &f, "EventRetriedCount", atomic_load(&m->event_retried));
        metric(out, &f, "EventDeadLetteredCount", atomic_load(&m->event_dead_lettered));
        metric(out, &f, "SinkFailed", atomic_load(&m->failed));
        metric(out, &f, "StartTime", a->start_time_ms);
        metric(out, &f, "StopTime", 0);
        sf_buf_puts(out, ",\"Type\":\"SINK\"}");
    }
    sf_buf_putc(out, '}');
}

int sf_agent_bind_metrics(struct sf_agent *a,
                          const char *host,
                          int port,
                          int *bound_port,
                          char *errstr,
                          size_t errstr_size)
{
    if (a->monitor || a->monitor_sock.fd >= 0) {
        (void)snprintf(errstr, errstr_size, "the metrics server is already bound");
        return SF_ERR_STATE;
    }
    int rc = sf_monitor_listen(host, port, &a->monitor_sock, errstr, errstr_size);
    if (rc == SF_OK && bound_port) {
        *bound_port = a->monitor_sock.port;
    }
    return rc;
}

/* The monitor's render callback: the agent's metrics document. */
static void render_metrics(void *ctx, struct sf_buf *out)
{
    sf_agent_metrics_json(ctx, out);
}

int sf_agent_serve_metrics(struct sf_agent *a,
                           const char *host,
                           int port,
                           int *bound_port,
                           char *errstr,
                           size_t errstr_size)
{
    if (a->monitor) {
        (void)snprintf(errstr, errstr_size, "the metrics server is already running");
        return SF_ERR_STATE;
    }
    if (a->monitor_sock.fd < 0) {
        int rc = sf_agent_bind_metrics(a, host, port, NULL, errstr, errstr_size);
        if (rc != SF_OK) {
            return rc;
        }
    }
    if (bound_port) {
        *bound_port = a->monitor_sock.port;
    }
    return sf_monitor_start(&a->monitor, render_metrics, a, &a->monitor_sock, errstr, errstr_size);
}

int sf_agent_exit_code(const struct sf_agent *a)
{
    return a->exit_code;
}

void sf_agent_destroy(struct sf_agent *a)
{
    if (!a) {
        return;
    }
    sf_agent_stop(a);
    if (a->monitor_sock.fd >= 0) { /* bound, never served */
        close(a->monitor_sock.fd);
        a->monitor_sock.fd = -1;
    }
    for (size_t i = 0; i < a->nsources; i++) {
        struct sf_source *src = &a->sources[i];
        if (src->plugin && src->ctx) {
            sf_options_free(src->plugin->options, src->ctx);
        }
        free(src->ctx);
        free(src->chs);
        sf_selector_free(&src->selector);
        sf_interceptor_chain_free(&src->interceptors);
        free(src->name);
        sf_ack_tracker_destroy(src->tracker);
        pthread_mutex_destroy(&src->sleep_mu);
        pthread_cond_destroy(&src->sleep_cv);
        sf_section_free(&a->source_secs[i]);
    }
    for (size_t i = 0; i < a->nsinks; i++) {
        struct sf_sink *snk = &a->sinks[i];
        if (snk->plugin && snk->ctx) {
            sf_options_free(snk->plugin->options, snk->ctx);
        }
        free(snk->ctx);
        free(snk->name);
        sf_section_free(&a->sink_secs[i]);
    }
    for (size_t i = 0; i < a->nchannels; i++) {
        struct sf_channel *ch = &a->channels[i];
        if (ch->plugin && ch->ctx) {
            sf_options_free(ch->plugin->options, ch->ctx);
        }
        free(ch->ctx);
        free(ch->name);
        sf_section_free(&a->channel_secs[i]);
    }
    free(a->sources);
    free(a->source_secs);
    free(a->sinks);
    free(a->sink_secs);
    free(a->channels);
    free(a->channel_secs);
    free(a->source_threads);
    free(a->group_threads);
    sf_sink_groups_free(a->groups, a->ngroups);
    sf_props_free(&a->props);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a->name);
    free(a);
}

size_t sf_agent_source_count(const struct sf_agent *a)
{
    return a->nsources;
}

const struct sf_source *sf_agent_source_at(const struct sf_agent *a, size_t i)
{
    return &a->sources[i];
}

size_t sf_agent_sink_count(const struct sf_agent *a)
{
    return a->nsinks;
}

const struct sf_sink *sf_agent_sink_at(const struct sf_agent *a, size_t i)
{
    return &a->sinks[i];
}
