/*
 * Serializer `avro_event` (Flume's FlumeEventAvroEventSerializer): an Avro object container file
 * (avro_container.h) of Flume's Event records,
 *
 *   {"type":"record","name":"Event","fields":[{"name":"headers","type":{"type":"map",
 *    "values":"string"}},{"name":"body","type":"bytes"}]}
 *
 * The datum is AvroFlumeEvent's binary encoding (sqlflume/avro_event.h): same fields, and a
 * record's name is not part of its encoding. Keys syncIntervalBytes and compressionCodec
 * (null|deflate|snappy). As Flume's Avro serializers, it cannot append to an existing file (no
 * reopen).
 */
#include "sqlflume/avro_event.h"
#include "sqlflume/error.h"
#include "sqlflume/serializer.h"

#include "avro_container.h"

static const char event_schema[] =
    "{\"type\":\"record\",\"name\":\"Event\",\"fields\":[{\"name\":\"headers\",\"type\":"
    "{\"type\":\"map\",\"values\":\"string\"}},{\"name\":\"body\",\"type\":\"bytes\"}]}";

static const char *const avro_aliases[] = {
    "org.apache.flume.serialization.FlumeEventAvroEventSerializer$Builder", NULL
};

static int
avro_after_create(void *ctx, const void *conf, struct sf_buf *out, char *errstr, size_t errstr_size)
{
    (void)errstr, (void)errstr_size;
    sf_avro_container_start(ctx, conf, event_schema, sizeof(event_schema) - 1, out);
    return SF_OK;
}

static int avro_write(void *ctx,
                      const void *conf,
                      const struct sf_event *ev,
                      struct sf_buf *out,
                      char *errstr,
                      size_t errstr_size)
{
    struct sf_avro_container *a = ctx;
    (void)sf_avro_event_encode(&a->block, ev);
    return sf_avro_container_added(a, conf, "avro_event", out, errstr, errstr_size);
}

static int
avro_flush(void *ctx, const void *conf, struct sf_buf *out, char *errstr, size_t errstr_size)
{
    return sf_avro_container_close_block(ctx, conf, "avro_event", out, errstr, errstr_size);
}

static void avro_free(void *ctx)
{
    sf_avro_container_free(ctx);
}

const struct sf_serializer_plugin sf_serializer_avro_event = {
    .name = "avro_event",
    .aliases = avro_aliases,
    .options = sf_avro_conf_options,
    .conf_size = sizeof(struct sf_avro_conf),
    .ctx_size = sizeof(struct sf_avro_container),
    .supports_reopen = false,
    .after_create = avro_after_create,
    .after_reopen = NULL,
    .write = avro_write,
    .flush = avro_flush,
    .before_close = avro_flush, /* no trailer: the open block is closed */
    .free = avro_free,
};
