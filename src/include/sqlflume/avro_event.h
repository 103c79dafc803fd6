/*
 * Flume's AvroFlumeEvent in Avro's binary encoding: the datum alone, with no container file
 * header, schema or fingerprint in front. The schema (flume-ng-sdk, org.apache.flume.source.avro):
 *
 *   {"type": "record", "name": "AvroFlumeEvent", "namespace": "org.apache.flume.source.avro",
 *    "fields": [{"name": "headers", "type": {"type": "map", "values": "string"}},
 *               {"name": "body", "type": "bytes"}]}
 *
 * This is what Flume's KafkaSink writes with useFlumeEventFormat = true (and what its KafkaSource
 * and KafkaChannel read back with useFlumeEventFormat / parseAsFlumeEvent), and the element type
 * of the Avro-RPC protocol's append and appendBatch messages.
 */
#ifndef SQLFLUME_AVRO_EVENT_H
#define SQLFLUME_AVRO_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "sqlflume/buf.h"
#include "sqlflume/event.h"

/** The schema above as JSON text (a static string). */
extern const char sf_avro_event_schema[];

/** Write the Avro long v at p (a zig-zag varint, at most 10 bytes). @return the bytes written. */
size_t sf_avro_put_long(unsigned char *p, int64_t v);

/**
 * Append ev as one AvroFlumeEvent datum to out: the headers as a map in the event's order (one
 * block of nheaders entries, then the end-of-map 0; an event without headers is the single 0),
 * then the body as Avro bytes. Avro longs (counts and lengths) are zig-zag varints.
 * @return the datum's offset in out. Never fails (sf_buf aborts on out of memory).
 */
size_t sf_avro_event_encode(struct sf_buf *out, const struct sf_event *ev);

#endif
