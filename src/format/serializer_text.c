/*
 * Serializer `text` (Flume's BodyTextEventSerializer): each event's body as it is, then '\n'
 * when appendNewline (default true). No header or trailer; files can be reopened and appended.
 */
#include "sqlflume/error.h"
#include "sqlflume/serializer.h"

#include <stddef.h>

struct text_conf {
    bool append_newline;
};

static const struct sf_option text_options[] = {
    { "appendNewline", SF_OPT_BOOL, "true", 0, 0, offsetof(struct text_conf, append_newline), 0,
      NULL, NULL, "write '\\n' after each event's body" },
    { 0 },
};

static const char *const text_aliases[] = {
    "org.apache.flume.serialization.BodyTextEventSerializer$Builder", NULL
};

static int
text_nothing(void *ctx, const void *conf, struct sf_buf *out, char *errstr, size_t errstr_size)
{
    (void)ctx, (void)conf, (void)out, (void)errstr, (void)errstr_size;
    return SF_OK;
}

static int text_write(void *ctx,
                      const void *conf,
                      const struct sf_event *ev,
                      struct sf_buf *out,
                      char *errstr,
                      size_t errstr_size)
{
    (void)ctx, (void)errstr, (void)errstr_size;
    const struct text_conf *c = conf;
    sf_buf_append(out, ev->body, ev->body_len);
    if (c->append_newline) {
        sf_buf_putc(out, '\n');
    }
    return SF_OK;
}

const struct sf_serializer_plugin sf_serializer_text = {
    .name = "text",
    .aliases = text_aliases,
    .options = text_options,
    .conf_size = sizeof(struct text_conf),
    .ctx_size = 0,
    .supports_reopen = true,
    .after_create = text_nothing,
    .after_reopen = text_nothing,
    .write = text_write,
    .flush = text_nothing,
    .before_close = text_nothing,
};
