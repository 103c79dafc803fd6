/*
 * Serializer `text` (Flume's BodyTextEventSerializer): each event's body as it is, then '\n'
 * when appendNewline (default true). No header or trailer; files can be reopened and appended.
 */
#include "format_int.h"
#include "sqlflume/error.h"
#include "sqlflume/serializer.h"

#include <stddef.h>

const struct sf_option sf_ser_text_options[] = {
    { "appendNewline", SF_OPT_BOOL, "true", 0, 0, offsetof(struct sf_ser_text_conf, append_newline),
      0, NULL, NULL, "write '\\n' after each event's body" },
    { 0 },
};

int sf_ser_nothing(void *ctx,
                   const void *conf,
                   struct sf_buf *out,
                   char *errstr,
                   size_t errstr_size)
{
    (void)ctx, (void)conf, (void)out, (void)errstr, (void)errstr_size;
    return SF_OK;
}

static const char *const text_aliases[] = {
    "org.apache.flume.serialization.BodyTextEventSerializer$Builder", NULL
};

int sf_ser_text_write(void *ctx,
                      const void *conf,
                      const struct sf_event *ev,
                      struct sf_buf *out,
                      char *errstr,
                      size_t errstr_size)
{
    (void)ctx, (void)errstr, (void)errstr_size;
    const struct sf_ser_text_conf *c = conf;
    sf_buf_append(out, ev->body, ev->body_len);
    if (c->append_newline) {
        sf_buf_putc(out, '\n');
    }
    return SF_OK;
}

const struct sf_serializer_plugin sf_serializer_text =
    SF_SER_TEXT_PLUGIN("text", text_aliases, sf_ser_text_write);
