/*
 * The agent: builds channels, sources and sinks from a Flume properties file (Flume's
 * PropertiesFileConfigurationProvider + Application), runs one thread per source
 * (PollableSourceRunner) and per sink group (SinkRunner with the group's sink processor; a sink
 * of no group is run alone, see sink_group.h), and shuts them down in an order that loses
 * nothing: sources stop, sinks drain the channels for a grace period and stop, then sources
 * write their final delivered offsets.
 */
#ifndef SQLFLUME_AGENT_H
#define SQLFLUME_AGENT_H

#include <stdbool.h>

#include "sqlflume/buf.h"
#include "sqlflume/channel.h"
#include "sqlflume/option.h"
#include "sqlflume/sink.h"
#include "sqlflume/source.h"

struct sf_agent;

/**
 * Build (but do not start) the agent called name from props: each component's option table,
 * then its plugin's configure step (sources always; channels and sinks when their table raised
 * no error), so that everything start would reject without I/O is reported here, by
 * `sqlflume check` and a run alike. Every problem goes to d (errors name file, line and key;
 * unknown keys are warnings).
 * @return the agent (free with sf_agent_destroy), or NULL when d has errors. props is moved
 * into the agent on success and left to the caller on failure.
 */
struct sf_agent *sf_agent_create(const char *name, struct sf_props *props, struct sf_diag *d);
/** Start channels, sources, sinks and their threads. @return SF_OK or an error (logged). */
int sf_agent_start(struct sf_agent *a);
/** Block until sf_agent_request_stop() or a fatal component error. */
void sf_agent_wait(struct sf_agent *a);
/** Ask the agent to stop (async-signal-unsafe parts are deferred: safe to call from any
 *  thread, not from a signal handler). fatal != 0 makes sf_agent_exit_code() non-zero. */
void sf_agent_request_stop(struct sf_agent *a, int fatal);
/** The agent's name (-n); "agent" for NULL (components built without an agent, in tests). */
const char *sf_agent_name(const struct sf_agent *a);
/** true once a stop was requested. */
bool sf_agent_stop_requested(struct sf_agent *a);
/** Stop everything in the lossless order described above; idempotent. */
void sf_agent_stop(struct sf_agent *a);
/**
 * Append the agent's counters to out as Flume's HTTP monitoring JSON (HTTPMetricsServer,
 * JSONHandler): one object per component, keyed "SOURCE.<name>", "CHANNEL.<name>" and
 * "SINK.<name>", holding Flume's counter names (SourceCounter, ChannelCounter, SinkCounter) with
 * every value a string, as Flume's JMX-to-JSON conversion writes them; StartTime and StopTime are
 * ms since the epoch (0 while not started or not stopped). Only call while the agent runs:
 * between sf_agent_start() and sf_agent_stop().
 */
void sf_agent_metrics_json(struct sf_agent *a, struct sf_buf *out);
/**
 * Bind and listen on the metrics address before sf_agent_start(), so that a port in use or a bad
 * host stops the agent before any component starts (nothing connects to a database). host is
 * the address to bind (NULL: every IPv4 address, like Flume; an IPv4 address; an IPv6 address,
 * "::1" or "[::1]"), port the TCP port (0: any free one, stored in *bound_port if not NULL).
 * Connections wait in the socket's backlog until sf_agent_serve_metrics(); the socket is closed
 * by sf_agent_destroy() if it is never served.
 * @return SF_OK, or an error with errstr filled ("could not serve metrics on HOST:PORT: Address
 * already in use", bad host); nothing is logged.
 */
int sf_agent_bind_metrics(struct sf_agent *a,
                          const char *host,
                          int port,
                          int *bound_port,
                          char *errstr,
                          size_t errstr_size);
/**
 * Serve sf_agent_metrics_json over HTTP, as Flume's -Dflume.monitoring.type=http does: GET
 * /metrics answers the JSON, GET / a pointer to it, anything else 404 (405 for other methods).
 * Call after sf_agent_start(). It serves on the socket of sf_agent_bind_metrics() (host and port
 * are then not used), else binds host and port first as that function does. The server runs in
 * its own thread until sf_agent_stop(), which shuts it down first.
 * @return SF_OK (the URL is logged, the port stored in *bound_port if not NULL), or an error
 * with errstr filled (address in use, bad host).
 */
int sf_agent_serve_metrics(struct sf_agent *a,
                           const char *host,
                           int port,
                           int *bound_port,
                           char *errstr,
                           size_t errstr_size);
/** 0 after a clean stop, 1 after a fatal component error. */
int sf_agent_exit_code(const struct sf_agent *a);
void sf_agent_destroy(struct sf_agent *a);

/** Registry lookups by type name or Flume class-name alias; NULL when unknown. */
const struct sf_channel_plugin *sf_registry_channel(const char *type);
const struct sf_source_plugin *sf_registry_source(const char *type);
const struct sf_sink_plugin *sf_registry_sink(const char *type);
/**
 * The type names of a kind ("channel", "source", "interceptor", anything else = "sink") for
 * messages and nearest-match hints: each plugin's name followed by its short aliases (those that
 * are not Java class names), in src/core/plugins.def order. Fills out[0..max-1] with borrowed
 * static strings.
 * @return the number stored (at most max).
 */
size_t sf_registry_names(const char *kind, const char **out, size_t max);
/**
 * Add the error "unknown KIND type "X"; did you mean "Y"? (known: A, B ALSO)" at at (whose value
 * is the type), the hint only when a known name is close, ALSO appended to the list as it is
 * (e.g. ", or their Flume builder class names"; "" for none). at, kind and also are borrowed.
 */
void sf_registry_unknown_type(struct sf_diag *d,
                              const struct sf_prop *at,
                              const char *kind,
                              const char *also);
/** The name of the i-th registered plugin of a kind (as above), or NULL when i is past the last:
 *  iterate i = 0, 1, ... to visit every plugin once. Borrowed static string. */
const char *sf_registry_plugin_name(const char *kind, size_t i);

/** The agent's sources and sinks in configuration order (i < the count), borrowed for the
 *  agent's lifetime; for `sqlflume check --connect`, which reads their sections (conf). */
size_t sf_agent_source_count(const struct sf_agent *a);
const struct sf_source *sf_agent_source_at(const struct sf_agent *a, size_t i);
size_t sf_agent_sink_count(const struct sf_agent *a);
const struct sf_sink *sf_agent_sink_at(const struct sf_agent *a, size_t i);

#endif
