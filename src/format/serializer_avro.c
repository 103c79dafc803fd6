/*
 * Serializer `avro` (Flume's org.apache.flume.sink.hdfs.AvroEventSerializer): an Avro object
 * container file (avro_container.h) whose records are the events' bodies, each already one Avro
 * binary datum (what the SQL source's format = avro writes), and whose schema is the one in the
 * first event's flume.avro.schema.literal header, as Flume's serializer takes it. The bodies are
 * copied as they are (Flume's appendEncoded); they are not checked against the schema.
 *
 * Refused, with the batch failing and the events left in the channel: an event without the
 * header (flume.avro.schema.url, which Flume also reads, is not supported: an event with only it
 * says so), and an event whose schema text differs from the file's (a table whose columns
 * changed): one container file has one schema. Keys syncIntervalBytes and compressionCodec as
 * avro_event. No reopen, as Flume's.
 */
#include "sqlflume/avro_row.h"
#include "sqlflume/error.h"
#include "sqlflume/serializer.h"

#include <stdio.h>
#include <string.h>

#include "avro_container.h"

#define SF_HDR_AVRO_SCHEMA_URL "flume.avro.schema.url"

static const char *const avro_aliases[] = {
    "org.apache.flume.sink.hdfs.AvroEventSerializer$Builder", NULL
};

struct avro_rows_ctx {
    struct sf_avro_container box;
    struct sf_buf schema; /* the file's schema; empty until its first event */
};

static int
rows_after_create(void *ctx, const void *conf, struct sf_buf *out, char *errstr, size_t errstr_size)
{
    (void)conf, (void)out, (void)errstr, (void)errstr_size;
    struct avro_rows_ctx *a = ctx;
    sf_buf_reset(&a->schema); /* the header waits for the first event's schema */
    sf_buf_reset(&a->box.block);
    a->box.count = 0;
    return SF_OK;
}

static int rows_write(void *ctx,
                      const void *conf,
                      const struct sf_event *ev,
                      struct sf_buf *out,
                      char *errstr,
                      size_t errstr_size)
{
    struct avro_rows_ctx *a = ctx;
    const char *lit = sf_event_header(ev, SF_HDR_AVRO_SCHEMA_LITERAL);
    if (!lit) {
        snprintf(errstr, errstr_size,
                 "avro: an event without the header " SF_HDR_AVRO_SCHEMA_LITERAL "%s (the avro "
                 "serializer writes bodies that are Avro datums, such as the SQL source's "
                 "format = avro)",
                 sf_event_header(ev, SF_HDR_AVRO_SCHEMA_URL) ? "; " SF_HDR_AVRO_SCHEMA_URL
                                                               " is not supported"
                                                             : "");
        return SF_ERR_DATA;
    }
    size_t n = strlen(lit);
    if (a->schema.len == 0) {
        sf_buf_append(&a->schema, lit, n);
        sf_avro_container_start(&a->box, conf, lit, n, out);
    } else if (a->schema.len != n || memcmp(a->schema.data, lit, n) != 0) {
        const char *table = sf_event_header(ev, SF_HDR_TABLE);
        snprintf(errstr, errstr_size,
                 "avro: schema changed: an event%s%s%s has another " SF_HDR_AVRO_SCHEMA_LITERAL
                 " than the file's (a file holds one schema; for the HDFS sink, put "
                 "%%{table} in hdfs.path and roll, see the README)",
                 table ? " of table \"" : "", table ? table : "", table ? "\"" : "");
        return SF_ERR_DATA;
    }
    sf_buf_append(&a->box.block, ev->body, ev->body_len);
    return sf_avro_container_added(&a->box, conf, "avro", out, errstr, errstr_size);
}

static int
rows_flush(void *ctx, const void *conf, struct sf_buf *out, char *errstr, size_t errstr_size)
{
    struct avro_rows_ctx *a = ctx;
    return sf_avro_container_close_block(&a->box, conf, "avro", out, errstr, errstr_size);
}

static void rows_free(void *ctx)
{
    struct avro_rows_ctx *a = ctx;
    sf_avro_container_free(&a->box);
    sf_buf_free(&a->schema);
}

const struct sf_serializer_plugin sf_serializer_avro = {
    .name = "avro",
    .aliases = avro_aliases,
    .options = sf_avro_conf_options,
    .conf_size = sizeof(struct sf_avro_conf),
    .ctx_size = sizeof(struct avro_rows_ctx),
    .supports_reopen = false,
    .after_create = rows_after_create,
    .after_reopen = NULL,
    .write = rows_write,
    .flush = rows_flush,
    .before_close = rows_flush, /* no trailer: the open block is closed */
    .free = rows_free,
};
