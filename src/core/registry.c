/*
 * The registry: const tables of every channel, source and sink implementation, looked up by
 * Flume type name or class-name alias. Adding a component is one line here.
 */
#include "sqlflume/agent.h"

#include <string.h>
#include <strings.h>

extern const struct sf_channel_plugin sf_channel_memory;
extern const struct sf_channel_plugin sf_channel_file;
extern const struct sf_source_plugin sf_source_sql;
extern const struct sf_sink_plugin sf_sink_logger;
extern const struct sf_sink_plugin sf_sink_null;
extern const struct sf_sink_plugin sf_sink_kafka;

static const struct sf_channel_plugin *const channels[] = { &sf_channel_memory, &sf_channel_file,
                                                             NULL };
static const struct sf_source_plugin *const sources[] = { &sf_source_sql, NULL };
static const struct sf_sink_plugin *const sinks[] = { &sf_sink_logger, &sf_sink_null,
                                                      &sf_sink_kafka, NULL };

static const char *const channel_names[] = { "memory", "file", NULL };
static const char *const source_names[] = { "sql", "mysql", "postgresql", NULL };
static const char *const sink_names[] = { "logger", "null", "kafka", NULL };

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

const char *const *sf_registry_names(const char *kind)
{
    if (strcmp(kind, "channel") == 0) {
        return channel_names;
    }
    if (strcmp(kind, "source") == 0) {
        return source_names;
    }
    return sink_names;
}
