/*
 * Serializer `header_and_text` (Flume's HeaderAndBodyTextEventSerializer): each event's headers
 * as Java's Map.toString prints them, "{k=v, k2=v2}" ("{}" without headers; the keys and values
 * as they are, nothing escaped) in the event's header order, a space, the body as it is, then
 * '\n' when appendNewline (default true). Files can be reopened and appended.
 */
#include "format_int.h"
#include "sqlflume/error.h"
#include "sqlflume/serializer.h"

#include <stddef.h>

static const char *const hat_aliases[] = {
    "org.apache.flume.serialization.HeaderAndBodyTextEventSerializer$Builder", NULL
};

static int hat_write(void *ctx,
                     const void *conf,
                     const struct sf_event *ev,
                     struct sf_buf *out,
                     char *errstr,
                     size_t errstr_size)
{
    size_t strs;
    (void)sf_event_strs(ev, &strs);
    sf_buf_reserve(out, strs + 2 * ev->nheaders + 4 + ev->body_len);
    sf_buf_putc(out, '{');
    for (size_t i = 0; i < ev->nheaders; i++) {
        if (i) {
            sf_buf_append(out, ", ", 2);
        }
        sf_buf_append(out, ev->headers[i].key, sf_event_key_len(ev, i));
        sf_buf_putc(out, '=');
        sf_buf_append(out, ev->headers[i].val, sf_event_val_len(ev, i));
    }
    sf_buf_append(out, "} ", 2);
    return sf_ser_text_write(ctx, conf, ev, out, errstr, errstr_size); /* the body, '\n' */
}

const struct sf_serializer_plugin sf_serializer_header_and_text =
    SF_SER_TEXT_PLUGIN("header_and_text", hat_aliases, hat_write);
