/*
 * The registry: const tables of every channel, source, sink and interceptor implementation, built
 * from plugins.def (one line per plugin), looked up by Flume type name or class-name alias. The
 * type names shown in --help, errors and suggestions are derived from the same tables.
 */
#include "sqlflume/agent.h"
#include "sqlflume/interceptor.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SF_CHANNEL(sym)     extern const struct sf_channel_plugin sym;
#define SF_SOURCE(sym)      extern const struct sf_source_plugin sym;
#define SF_SINK(sym)        extern const struct sf_sink_plugin sym;
#define SF_INTERCEPTOR(sym) extern const struct sf_interceptor_plugin sym;
#include "plugins.def"
#undef SF_CHANNEL
#undef SF_SOURCE
#undef SF_SINK
#undef SF_INTERCEPTOR

#define SF_INTERCEPTOR(sym)

#define SF_SOURCE(sym)
#define SF_SINK(sym)
#define SF_CHANNEL(sym) &(sym),
static const struct sf_channel_plugin *const channels[] = {
#include "plugins.def"
    NULL
};
#undef SF_CHANNEL
#define SF_CHANNEL(sym)
#undef SF_SOURCE
#define SF_SOURCE(sym) &(sym),
static const struct sf_source_plugin *const sources[] = {
#include "plugins.def"
    NULL
};
#undef SF_SOURCE
#define SF_SOURCE(sym)
#undef SF_SINK
#define SF_SINK(sym) &(sym),
static const struct sf_sink_plugin *const sinks[] = {
#include "plugins.def"
    NULL
};
#undef SF_SINK
#define SF_SINK(sym)
#undef SF_INTERCEPTOR
#define SF_INTERCEPTOR(sym) &(sym),
static const struct sf_interceptor_plugin *const interceptors[] = {
#include "plugins.def"
    NULL
};
#undef SF_INTERCEPTOR
#undef SF_CHANNEL
#undef SF_SOURCE
#undef SF_SINK

static bool matches(const char *type, const char *name, const char *const *aliases)
{
    if (strcasecmp(type, name) == 0) {
        return true;
    }
    for (size_t i = 0; aliases && aliases[i]; i++) {
        if (strcmp(type, aliases[i]) == 0 || strcasecmp(type, aliases[i]) == 0) {
            return true;
        }
    }
    return false;
}

#define LOOKUP(table, type)                                                                        \
    do {                                                                                           \
        for (size_t i = 0; (table)[i]; i++) {                                                      \
            if (matches((type), (table)[i]->name, (table)[i]->aliases)) {                          \
                return (table)[i];                                                                 \
            }                                                                                      \
        }                                                                                          \
        return NULL;                                                                               \
    } while (0)

const struct sf_channel_plugin *sf_registry_channel(const char *type)
{
    LOOKUP(channels, type);
}

const struct sf_source_plugin *sf_registry_source(const char *type)
{
    LOOKUP(sources, type);
}

const struct sf_sink_plugin *sf_registry_sink(const char *type)
{
    LOOKUP(sinks, type);
}

const struct sf_interceptor_plugin *sf_registry_interceptor(const char *type)
{
    LOOKUP(interceptors, type);
}

/* Name and aliases of the i-th plugin of a kind; false past the last. */
static bool plugin_at(const char *kind, size_t i, const char **name, const char *const **aliases)
{
    if (strcmp(kind, "channel") == 0) {
        if (!channels[i]) {
            return false;
        }
        *name = channels[i]->name, *aliases = channels[i]->aliases;
    } else if (strcmp(kind, "source") == 0) {
        if (!sources[i]) {
            return false;
        }
        *name = sources[i]->name, *aliases = sources[i]->aliases;
    } else if (strcmp(kind, "interceptor") == 0) {
        if (!interceptors[i]) {
            return false;
        }
        *name = interceptors[i]->name, *aliases = interceptors[i]->aliases;
    } else {
        if (!sinks[i]) {
            return false;
        }
        *name = sinks[i]->name, *aliases = sinks[i]->aliases;
    }
    return true;
}

const char *sf_registry_plugin_name(const char *kind, size_t i)
{
    const char *name;
    const char *const *aliases;
    return plugin_at(kind, i, &name, &aliases) ? name : NULL;
}

size_t sf_registry_names(const char *kind, const char **out, size_t max)
{
    size_t n = 0;
    const char *name;
    const char *const *aliases;
    for (size_t i = 0; plugin_at(kind, i, &name, &aliases); i++) {
        if (n < max) {
            out[n++] = name;
        }
        for (size_t j = 0; aliases && aliases[j]; j++) {
            if (!strchr(aliases[j], '.') && n < max) {
                out[n++] = aliases[j]; /* a short type name, not a Java class name */
            }
        }
    }
    return n;
}

void sf_registry_unknown_type(struct sf_diag *d,
                              const struct sf_prop *at,
                              const char *kind,
                              const char *also)
{
    const char *names[32];
    size_t n = sf_registry_names(kind, names, sizeof(names) / sizeof(names[0]));
    const char *near = sf_nearest(at->val, names, n);
    char known[512] = "";
    for (size_t i = 0; i < n; i++) {
        strncat(known, i ? ", " : "", sizeof(known) - strlen(known) - 1);
        strncat(known, names[i], sizeof(known) - strlen(known) - 1);
    }
    char hint[160] = "";
    if (near) {
        snprintf(hint, sizeof(hint), "; did you mean \"%s\"?", near);
    }
    sf_diag_error(d, at, "unknown %s type \"%s\"%s (known: %s%s)", kind, at->val, hint, known,
                  also);
}
