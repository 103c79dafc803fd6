/*
 * The built-in sinks (registered in src/core/registry.c) and the helpers of theirs that are worth
 * testing on their own: the LoggerSink line builder.
 */
#ifndef SQLFLUME_SINKS_H
#define SQLFLUME_SINKS_H

#include "sqlflume/buf.h"
#include "sqlflume/event.h"
#include "sqlflume/sink.h"

extern const struct sf_sink_plugin sf_sink_null;   /* "null", org.apache.flume.sink.NullSink */
extern const struct sf_sink_plugin sf_sink_logger; /* "logger", ...sink.LoggerSink */
extern const struct sf_sink_plugin sf_sink_kafka;  /* "kafka", ...sink.kafka.KafkaSink */

/**
 * Append Flume's LoggerSink line for ev to out (out is not reset first), byte for byte what
 * Flume 1.11 logs after "Event: " (EventHelper.dumpEvent with Commons IO HexDump.dump):
 *   Event: { headers:{k=v, k2=v2} body: 68 65 6C 6C 6F                                hello }
 * Headers in ev's order as key=value joined by ", ". The body dump covers the first max_bytes
 * bytes: per 16 bytes, upper-case 2-digit hex bytes each followed by a space, padded with
 * 3 spaces per missing byte to 16 columns, then the bytes as characters (0x20..0x7E as is,
 * anything else '.'); rows after the first start with Commons IO's 8-digit hex offset and are
 * separated by '\n' (Flume only strips the offset of the first row). An empty body (or
 * max_bytes <= 0) gives "body: }".
 * @param ev  borrowed
 * @param max_bytes  maximum body bytes to dump (LoggerSink's maxBytesToLog)
 * @param out  appended to; aborts on out of memory like every sf_buf
 */
void sf_logger_format_event(const struct sf_event *ev, long long max_bytes, struct sf_buf *out);

#endif
