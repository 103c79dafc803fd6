/*
 * Private to src/format/: the Avro object container file writer (Avro 1.11 specification,
 * "Object Container Files") that the avro_event and avro serializers share: the file header with
 * a schema, records gathered into blocks closed at syncIntervalBytes and at every flush, the
 * deflate and snappy codecs, and the serializers' common keys.
 */
#ifndef SQLFLUME_AVRO_CONTAINER_H
#define SQLFLUME_AVRO_CONTAINER_H

#include <stddef.h>

#include "sqlflume/buf.h"
#include "sqlflume/option.h"

/** The container serializers' configuration: syncIntervalBytes, compressionCodec. */
struct sf_avro_conf {
    long long sync_interval_bytes;
    int codec; /* index in "null|deflate|snappy" */
};
/** Their option table (Flume's keys and defaults), filling struct sf_avro_conf. */
extern const struct sf_option sf_avro_conf_options[];

/** One file being written: zero-initialised; sf_avro_container_free releases its buffers. */
struct sf_avro_container {
    unsigned char sync[16];
    struct sf_buf block;  /* the open block's records, uncompressed: append a record here, then
                           * call sf_avro_container_added */
    long long count;      /* records in block */
    struct sf_buf packed; /* compressed block */
};

/** A new file: empties the block, draws a new sync marker and appends the file header (magic,
 *  metadata avro.schema = schema[0..schema_len) and avro.codec, the marker) to out. */
void sf_avro_container_start(struct sf_avro_container *a,
                             const struct sf_avro_conf *c,
                             const char *schema,
                             size_t schema_len,
                             struct sf_buf *out);
/** One record was appended to a->block: closes the block into out when it reached the sync
 *  interval. @return SF_OK or the codec's error (errstr says which, with prefix what). */
int sf_avro_container_added(struct sf_avro_container *a,
                            const struct sf_avro_conf *c,
                            const char *what,
                            struct sf_buf *out,
                            char *errstr,
                            size_t errstr_size);
/** Append the open block (if it has records) to out and empty it. @return as above. */
int sf_avro_container_close_block(struct sf_avro_container *a,
                                  const struct sf_avro_conf *c,
                                  const char *what,
                                  struct sf_buf *out,
                                  char *errstr,
                                  size_t errstr_size);
/** Free a's buffers (not a). */
void sf_avro_container_free(struct sf_avro_container *a);

#endif
