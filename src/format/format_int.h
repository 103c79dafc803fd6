/*
 * Private to src/format/: the per-kind row encoders that sf_format_row() dispatches to, the raw
 * base64 encoder that lets callers reserve once and write in place, and the word-at-a-time (SWAR)
 * byte tests the encoders use to skip runs of plain ASCII eight bytes at a time.
 */
#ifndef SQLFLUME_FORMAT_INT_H
#define SQLFLUME_FORMAT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sqlflume/buf.h"
#include "sqlflume/format.h"
#include "sqlflume/option.h"

/** Append row as one JSON object (json.c). */
void sf_format_json_row(const struct sf_column *cols,
                        const struct sf_json_keys *keys,
                        const struct sf_row *row,
                        struct sf_buf *out);
/** Append row as one RFC 4180 record without the line break (csv.c). */
void sf_format_csv_row(const struct sf_format *fmt,
                       const struct sf_column *cols,
                       const struct sf_row *row,
                       struct sf_buf *out);
/** Append row as values joined by fmt->delimiter, unquoted (text.c). */
void sf_format_text_row(const struct sf_format *fmt,
                        const struct sf_column *cols,
                        const struct sf_row *row,
                        struct sf_buf *out);

/** Bytes of base64 text for n input bytes (padding included). */
static inline size_t sf_base64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}
/** Write the base64 of p[0..n) to dst, which has room for sf_base64_len(n) bytes; no NUL.
 *  @return bytes written. */
size_t sf_base64_encode(char *dst, const unsigned char *p, size_t n);

/* SWAR helpers (Bit Twiddling Hacks, "determine if a word has a byte less than n / equal to n").
 * Each is exact about whether *some* byte matches, which is all the callers need: they then
 * walk the word byte by byte to find where. Byte order does not matter. */
#define SF_SWAR_ONES  UINT64_C(0x0101010101010101)
#define SF_SWAR_HIGHS UINT64_C(0x8080808080808080)

static inline uint64_t sf_swar_load(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w); /* compiles to one unaligned load */
    return w;
}
/** Nonzero when some byte of w is zero. */
static inline uint64_t sf_swar_has_zero(uint64_t w)
{
    return (w - SF_SWAR_ONES) & ~w & SF_SWAR_HIGHS;
}
/** Nonzero when some byte of w equals c. */
static inline uint64_t sf_swar_has_byte(uint64_t w, unsigned char c)
{
    return sf_swar_has_zero(w ^ (SF_SWAR_ONES * c));
}
/** Nonzero when some byte of w is below n (n <= 128). */
static inline uint64_t sf_swar_has_less(uint64_t w, unsigned char n)
{
    return (w - SF_SWAR_ONES * n) & ~w & SF_SWAR_HIGHS;
}

struct sf_buf;
/* The two text serializers' configuration (serializer_text.c, serializer_header_and_text.c):
 * Flume's appendNewline. */
struct sf_ser_text_conf {
    bool append_newline;
};
/** Their option table: appendNewline (default true) into struct sf_ser_text_conf. */
extern const struct sf_option sf_ser_text_options[];
/** A serializer step that writes nothing (after_create, after_reopen, flush, before_close of the
 *  serializers without a file header or blocks). @return SF_OK. */
int sf_ser_nothing(void *ctx,
                   const void *conf,
                   struct sf_buf *out,
                   char *errstr,
                   size_t errstr_size);
struct sf_event;
/** The text serializer's write (Flume's BodyTextEventSerializer.write): ev's body as it is, then
 *  '\n' when the configuration conf (struct sf_ser_text_conf) says appendNewline; also the end of
 *  header_and_text's. @return SF_OK. */
int sf_ser_text_write(void *ctx,
                      const void *conf,
                      const struct sf_event *ev,
                      struct sf_buf *out,
                      char *errstr,
                      size_t errstr_size);
/* The plugin of a text serializer named nm (aliases al, writing events with wr): the options
 * sf_ser_text_options, no context, files reopened and appended, nothing before or after the
 * events. */
#define SF_SER_TEXT_PLUGIN(nm, al, wr)                                                             \
    {                                                                                              \
        .name = (nm), .aliases = (al), .options = sf_ser_text_options,                             \
        .conf_size = sizeof(struct sf_ser_text_conf), .ctx_size = 0, .supports_reopen = true,      \
        .after_create = sf_ser_nothing, .after_reopen = sf_ser_nothing, .write = (wr),             \
        .flush = sf_ser_nothing, .before_close = sf_ser_nothing,                                   \
    }

#endif
