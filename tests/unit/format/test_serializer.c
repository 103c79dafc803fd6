/*
 * Unit tests of the event serializers (sqlflume/serializer.h): exact bytes of text and
 * header_and_text, the type lookup and option diagnostics (through a sink's section, HDFS and
 * file_roll style), the call order, sf_section_sub; avro_event container files of 0, 1, 1000
 * and 100,000 events for each codec, parsed here (header, sync markers, block counts and sizes)
 * and read back by two independent readers: Debian's python3-avro and avro-c's avrocat
 * (tests/support/avro_dump.py), comparing every header and body.
 */
#include "unit.h"
#include "unit_file.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlflume/avro_event.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/option.h"
#include "sqlflume/serializer.h"

#ifndef SF_SOURCE_DIR
#define SF_SOURCE_DIR "."
#endif

/* A sink section of a1.sinks.k1 from properties text. */
struct fixture {
    struct sf_props props;
    struct sf_section sec;
    struct sf_diag d;
    struct sf_serializer_conf *conf;
};

static void fx_open(struct fixture *f, const char *text, const char *type_key, const char *prefix)
{
    memset(f, 0, sizeof(*f));
    ck_assert_int_eq(sf_props_parse(&f->props, "t.conf", text, &f->d), 0);
    ck_assert_int_eq(sf_section_init(&f->sec, &f->props, "sink", "k1", "a1.sinks.k1."), 0);
    f->conf = sf_serializer_conf_create(&f->sec, type_key, prefix, &f->d);
}

static void fx_close(struct fixture *f)
{
    sf_serializer_conf_destroy(f->conf);
    sf_section_free(&f->sec);
    sf_props_free(&f->props);
    sf_diag_free(&f->d);
}

static struct sf_event *ev_make(const struct sf_header *h, size_t nh, const void *body, size_t len)
{
    struct sf_event *ev = sf_event_create(h, nh, body, len);
    ck_assert_ptr_nonnull(ev);
    return ev;
}

/* Serialize one file of the events with c: after_create, writes, before_close. */
static void
run_file(const struct sf_serializer_conf *c, struct sf_event **evs, size_t n, struct sf_buf *out)
{
    struct sf_serializer *s = sf_serializer_create(c);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(sf_serializer_after_create(s, out), SF_OK);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(sf_serializer_write(s, evs[i], out), SF_OK);
    }
    ck_assert_int_eq(sf_serializer_before_close(s, out), SF_OK);
    sf_serializer_destroy(s);
}

#define CK_BYTES(buf, lit)                                                                         \
    do {                                                                                           \
        ck_assert_uint_eq((buf)->len, sizeof(lit) - 1);                                            \
        ck_assert_int_eq(memcmp((buf)->data ? (buf)->data : "", (lit), sizeof(lit) - 1), 0);       \
    } while (0)

static const struct sf_header H2[] = { { "table", "orders" }, { "op", "insert" } };

START_TEST(text_bytes)
{
    struct sf_event *evs[4] = {
        ev_make(NULL, 0, "hello", 5),
        ev_make(H2, 2, "", 0),               /* empty body; headers are not written */
        ev_make(NULL, 0, "\0\xff\n\x01", 4), /* binary body, as it is */
        ev_make(NULL, 0, "x", 1),
    };
    struct fixture f;
    fx_open(&f, "a1.sinks.k1.type = hdfs\n", "serializer", "serializer.");
    ck_assert_ptr_nonnull(f.conf);
    ck_assert_str_eq(f.conf->plugin->name, "text"); /* the default, TEXT */
    ck_assert_uint_eq(f.d.nwarnings + f.d.nerrors, 0);
    struct sf_buf out = SF_BUF_INIT;
    run_file(f.conf, evs, 4, &out);
    CK_BYTES(&out, "hello\n\n\0\xff\n\x01\nx\n");
    fx_close(&f);

    fx_open(&f, "a1.sinks.k1.serializer = TEXT\na1.sinks.k1.serializer.appendNewline = false\n",
            "serializer", "serializer.");
    ck_assert_ptr_nonnull(f.conf);
    ck_assert_uint_eq(f.d.nwarnings + f.d.nerrors, 0);
    sf_buf_reset(&out);
    run_file(f.conf, evs, 4, &out);
    CK_BYTES(&out, "hello\0\xff\n\x01x");
    /* no events: an empty file */
    sf_buf_reset(&out);
    run_file(f.conf, evs, 0, &out);
    ck_assert_uint_eq(out.len, 0);
    fx_close(&f);
    sf_buf_free(&out);
    for (int i = 0; i < 4; i++) {
        sf_event_destroy(evs[i]);
    }
}
END_TEST

START_TEST(header_and_text_bytes)
{
    const struct sf_header h1[] = { { "k", "v" } };
    const struct sf_header hu[] = { { "city", "Zürich" }, { "", "" }, { "a=b", "c, d}" } };
    struct sf_event *evs[5] = {
        ev_make(H2, 2, "row 1", 5), ev_make(NULL, 0, "no headers", 10),
        ev_make(h1, 1, "", 0),      ev_make(hu, 3, "\0\x80", 2),
        ev_make(NULL, 0, "", 0),
    };
    struct fixture f;
    /* file_roll style: sink.serializer and sink.serializer.* */
    fx_open(&f, "a1.sinks.k1.sink.serializer = header_and_text\n", "sink.serializer",
            "sink.serializer.");
    ck_assert_ptr_nonnull(f.conf);
    ck_assert_str_eq(f.conf->plugin->name, "header_and_text");
    struct sf_buf out = SF_BUF_INIT;
    run_file(f.conf, evs, 5, &out);
    CK_BYTES(&out, "{table=orders, op=insert} row 1\n{} no headers\n{k=v} \n"
                   "{city=Zürich, =, a=b=c, d}} \0\x80\n{} \n");
    fx_close(&f);

    fx_open(&f,
            "a1.sinks.k1.sink.serializer = "
            "org.apache.flume.serialization.HeaderAndBodyTextEventSerializer$Builder\n"
            "a1.sinks.k1.sink.serializer.appendNewline = FALSE\n",
            "sink.serializer", "sink.serializer.");
    ck_assert_ptr_nonnull(f.conf);
    ck_assert_str_eq(f.conf->plugin->name, "header_and_text");
    ck_assert_uint_eq(f.d.nwarnings + f.d.nerrors, 0);
    sf_buf_reset(&out);
    run_file(f.conf, evs, 5, &out);
    CK_BYTES(&out, "{table=orders, op=insert} row 1{} no headers{k=v} "
                   "{city=Zürich, =, a=b=c, d}} \0\x80{} ");
    fx_close(&f);
    sf_buf_free(&out);
    for (int i = 0; i < 5; i++) {
        sf_event_destroy(evs[i]);
    }
}
END_TEST

START_TEST(lookup_names)
{
    const char *text[] = { "text", "TEXT", "Text",
                           "org.apache.flume.serialization.BodyTextEventSerializer$Builder" };
    for (size_t i = 0; i < 4; i++) {
        ck_assert_ptr_eq(sf_serializer_lookup(text[i]), sf_serializer_plugin_at(0));
    }
    ck_assert_str_eq(sf_serializer_lookup("HEADER_AND_TEXT")->name, "header_and_text");
    ck_assert_str_eq(sf_serializer_lookup("avro_event")->name, "avro_event");
    ck_assert_str_eq(sf_serializer_lookup("AVRO_EVENT")->name, "avro_event");
    ck_assert_str_eq(
        sf_serializer_lookup("org.apache.flume.serialization.FlumeEventAvroEventSerializer$Builder")
            ->name,
        "avro_event");
    ck_assert_str_eq(sf_serializer_lookup("AVRO")->name, "avro");
    ck_assert_str_eq(
        sf_serializer_lookup("org.apache.flume.sink.hdfs.AvroEventSerializer$Builder")->name,
        "avro");
    ck_assert_ptr_null(sf_serializer_lookup("avro_rows"));
    ck_assert_ptr_null(sf_serializer_plugin_at(4));
    /* every table row has a description and a field in conf; the defaults are valid */
    for (size_t i = 0; sf_serializer_plugin_at(i); i++) {
        const struct sf_serializer_plugin *p = sf_serializer_plugin_at(i);
        for (const struct sf_option *o = p->options; o->key; o++) {
            ck_assert_msg(o->desc && strlen(o->desc) > 3, "%s: %s has no description", p->name,
                          o->key);
            ck_assert_msg(o->offset < p->conf_size, "%s: %s offset", p->name, o->key);
        }
        char cfg[128];
        snprintf(cfg, sizeof(cfg), "a1.sinks.k1.serializer = %s\n", p->name);
        struct fixture f;
        fx_open(&f, cfg, "serializer", "serializer.");
        ck_assert_msg(f.conf && f.conf->plugin == p, "%s: defaults rejected", p->name);
        ck_assert_uint_eq(f.d.nerrors + f.d.nwarnings, 0);
        fx_close(&f);
    }
}
END_TEST

START_TEST(option_errors)
{
    struct fixture f;
    /* an unknown name: an error naming the known ones, at the key's line */
    fx_open(&f,
            "a1.sinks.k1.type = hdfs\na1.sinks.k1.serializer = txet\n"
            "a1.sinks.k1.serializer.appendNewline = false\n",
            "serializer", "serializer.");
    ck_assert_ptr_null(f.conf);
    ck_assert_uint_eq(f.d.nerrors, 1);
    ck_assert_uint_eq(f.d.nwarnings, 0); /* the serializer's keys get no follow-on warning */
    ck_assert_str_eq(f.d.errors[0],
                     "t.conf:2: a1.sinks.k1.serializer: unknown serializer \"txet\" for sink "
                     "\"k1\" (known: text, header_and_text, avro_event, avro, in any case, or their "
                     "Flume builder class names); did you mean \"text\"?");
    ck_assert(sf_props_get(&f.props, "a1.sinks.k1.serializer.appendNewline")->used);
    fx_close(&f);

    /* a bad appendNewline */
    fx_open(&f, "a1.sinks.k1.serializer = text\na1.sinks.k1.serializer.appendNewline = yes\n",
            "serializer", "serializer.");
    ck_assert_ptr_null(f.conf);
    ck_assert_uint_eq(f.d.nerrors, 1);
    ck_assert_str_eq(f.d.errors[0], "t.conf:2: a1.sinks.k1.serializer.appendNewline: bad boolean "
                                    "\"yes\" (expected true or false)");
    fx_close(&f);

    /* unknown keys of the serializer warn, with the nearest known key; `type` is not a key */
    fx_open(&f,
            "a1.sinks.k1.sink.serializer = header_and_text\n"
            "a1.sinks.k1.sink.serializer.appendNewLine = false\n"
            "a1.sinks.k1.sink.serializer.type = text\n"
            "a1.sinks.k1.sink.rollInterval = 0\n",
            "sink.serializer", "sink.serializer.");
    ck_assert_ptr_nonnull(f.conf);
    ck_assert_uint_eq(f.d.nerrors, 0);
    ck_assert_uint_eq(f.d.nwarnings, 2);
    ck_assert_str_eq(f.d.warnings[0],
                     "t.conf:2: a1.sinks.k1.sink.serializer.appendNewLine: unknown key for "
                     "serializer \"header_and_text\"; did you mean \"appendNewline\"?");
    ck_assert_str_eq(f.d.warnings[1], "t.conf:3: a1.sinks.k1.sink.serializer.type: unknown key "
                                      "for serializer \"header_and_text\"");
    ck_assert(!sf_props_get(&f.props, "a1.sinks.k1.sink.rollInterval")->used); /* the sink's */
    ck_assert(sf_props_get(&f.props, "a1.sinks.k1.sink.serializer")->used);
    fx_close(&f);

    /* avro_event: a codec sqlflume lacks, a sync interval out of Avro's range */
    fx_open(&f,
            "a1.sinks.k1.serializer = avro_event\n"
            "a1.sinks.k1.serializer.compressionCodec = bzip2\n"
            "a1.sinks.k1.serializer.syncIntervalBytes = 31\n",
            "serializer", "serializer.");
    ck_assert_ptr_null(f.conf);
    ck_assert_uint_eq(f.d.nerrors, 2);
    ck_assert_str_eq(f.d.errors[0], "t.conf:3: a1.sinks.k1.serializer.syncIntervalBytes: 31 is out "
                                    "of range [32, 1073741824]");
    ck_assert_str_eq(f.d.errors[1], "t.conf:2: a1.sinks.k1.serializer.compressionCodec: bad value "
                                    "\"bzip2\" (expected one of null|deflate|snappy)");
    fx_close(&f);
}
END_TEST

START_TEST(call_order)
{
    struct fixture f;
    fx_open(&f, "a1.sinks.k1.serializer = text\n", "serializer", "serializer.");
    struct sf_serializer *s = sf_serializer_create(f.conf);
    struct sf_event *ev = ev_make(NULL, 0, "a", 1);
    struct sf_buf out = SF_BUF_INIT;
    ck_assert_str_eq(sf_serializer_name(s), "text");
    ck_assert(sf_serializer_supports_reopen(s));
    ck_assert_int_eq(sf_serializer_write(s, ev, &out), SF_ERR_STATE);
    ck_assert_str_eq(sf_serializer_errstr(s),
                     "serializer text: write called before after_create or after_reopen");
    ck_assert_int_eq(sf_serializer_after_reopen(s, &out), SF_OK);
    ck_assert_int_eq(sf_serializer_after_create(s, &out), SF_ERR_STATE);
    ck_assert_int_eq(sf_serializer_write(s, ev, &out), SF_OK);
    ck_assert_int_eq(sf_serializer_flush(s, &out), SF_OK);
    ck_assert_int_eq(sf_serializer_before_close(s, &out), SF_OK);
    ck_assert_int_eq(sf_serializer_write(s, ev, &out), SF_ERR_STATE);
    ck_assert_str_eq(sf_serializer_errstr(s), "serializer text: write called after before_close "
                                              "or a failed start of the file");
    ck_assert_int_eq(sf_serializer_after_create(s, &out), SF_OK); /* the next file */
    ck_assert_int_eq(sf_serializer_write(s, ev, &out), SF_OK);
    CK_BYTES(&out, "a\na\n");
    sf_serializer_destroy(s);
    fx_close(&f);

    fx_open(&f, "a1.sinks.k1.serializer = avro_event\n", "serializer", "serializer.");
    s = sf_serializer_create(f.conf);
    ck_assert(!sf_serializer_supports_reopen(s));
    sf_buf_reset(&out);
    ck_assert_int_eq(sf_serializer_after_reopen(s, &out), SF_ERR_STATE);
    ck_assert_str_eq(sf_serializer_errstr(s), "serializer avro_event does not support reopen "
                                              "(appending to an existing file)");
    ck_assert_uint_eq(out.len, 0);
    sf_serializer_destroy(s);
    fx_close(&f);
    sf_serializer_destroy(NULL);
    sf_serializer_conf_destroy(NULL);
    sf_event_destroy(ev);
    sf_buf_free(&out);
}
END_TEST

/* sf_section_sub: the keys under a sub-prefix, diagnosed as for a component */
START_TEST(section_sub)
{
    struct sf_props p = { 0 };
    struct sf_diag d = { 0 };
    ck_assert_int_eq(sf_props_parse(&p, "s.conf",
                                    "a1.sinks.k1.type = x\n"
                                    "a1.sinks.k1.serializer.a = 1\n"
                                    "a1.sinks.k1.serializer.b = 2\n"
                                    "a1.sinks.k1.serializer = text\n"
                                    "a1.sinks.k1.serializer. = empty\n"
                                    "a1.sinks.k2.serializer.a = 3\n",
                                    &d),
                     0);
    struct sf_section s, sub;
    ck_assert_int_eq(sf_section_init(&s, &p, "sink", "k1", "a1.sinks.k1."), 0);
    ck_assert_int_eq(sf_section_sub(&sub, &s, "serializer", "text", "serializer."), 0);
    ck_assert_str_eq(sub.prefix, "a1.sinks.k1.serializer.");
    ck_assert_uint_eq(sub.n, 2);
    ck_assert_str_eq(sf_section_get(&sub, "a")->val, "1");
    ck_assert_str_eq(sf_section_get(&sub, "b")->val, "2");
    ck_assert_ptr_null(sf_section_get(&sub, "type"));
    struct {
        long long a;
    } ctx;
    const struct sf_option opts[] = {
        { "a", SF_OPT_INT, "0", 0, 9, 0, 0, NULL, NULL, "a number" },
        { 0 },
    };
    ck_assert_int_eq(sf_options_apply(opts, &sub, &ctx, &d), 0);
    ck_assert_int_eq(ctx.a, 1);
    ck_assert_uint_eq(d.nwarnings, 1);
    ck_assert_str_eq(d.warnings[0], "s.conf:3: a1.sinks.k1.serializer.b: unknown key for "
                                    "serializer \"text\"; did you mean \"a\"?");
    sf_section_free(&sub);
    sf_section_free(&s);
    sf_props_free(&p);
    sf_diag_free(&d);
}
END_TEST

/* ---------- avro_event ---------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Event i of a test file: 0-6 headers (every 97th has 60), UTF-8 values, binary bodies of 0-400
 * bytes (every 9973rd 300 KB). */
static struct sf_event *make_event(size_t i)
{
    size_t nh = i % 97 == 5 ? 60 : i % 7;
    struct sf_header h[60];
    char keys[60][24], vals[60][64];
    for (size_t j = 0; j < nh; j++) {
        snprintf(keys[j], sizeof(keys[j]), j == 0 ? "table" : "k%zu", j);
        snprintf(vals[j], sizeof(vals[j]), j % 3 == 1 ? "%zu é 日本 %zu" : "v%zu-%zu", i, j);
        h[j].key = keys[j];
        h[j].val = vals[j];
    }
    size_t len = i % 9973 == 17 ? 300000 : (size_t)(rnd() % 401);
    unsigned char *body = malloc(len + 1);
    for (size_t j = 0; j < len; j++) {
        body[j] = (unsigned char)(i % 5 == 0   ? 'a' + j % 26
                                  : i % 5 == 1 ? 1 + rnd() % 255 /* no NUL: avrocat sees it all */
                                               : rnd());
    }
    struct sf_event *ev = ev_make(h, nh, body, len);
    free(body);
    return ev;
}

/* The record as avro_dump.py writes it; cut_at_nul: the body only up to its first NUL byte, as
 * avrocat prints it (avro-c's JSON output of bytes stops at a NUL). */
static void dump_event(FILE *f, const struct sf_event *ev, bool cut_at_nul)
{
    size_t len = cut_at_nul ? strnlen(ev->body, ev->body_len) : ev->body_len;
    fprintf(f, "R %zu %zu\n", ev->nheaders, len);
    for (size_t j = 0; j < ev->nheaders; j++) {
        fprintf(f, "%zu %zu\n%s%s", strlen(ev->headers[j].key), strlen(ev->headers[j].val),
                ev->headers[j].key, ev->headers[j].val);
    }
    fwrite(ev->body, 1, len, f);
}

static int64_t get_long(const unsigned char **p, const unsigned char *end)
{
    uint64_t z = 0;
    int shift = 0;
    for (;;) {
        ck_assert_msg(*p < end, "truncated long");
        unsigned char b = *(*p)++;
        z |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            break;
        }
        shift += 7;
        ck_assert(shift < 64);
    }
    return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}

static char *read_file(const char *path, size_t *len)
{
    char *data = sf_unit_read_file(path, len);
    ck_assert_msg(data != NULL, "cannot open %s", path);
    return data;
}

/* Run an independent reader; its dump must equal expect. */
static void check_reader(const char *reader,
                         const char *avro_path,
                         const char *expect_path,
                         size_t n,
                         const char *codec)
{
    char dump[512], cmd[2048];
    snprintf(dump, sizeof(dump), "%s.%s", avro_path, reader);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/support/avro_dump.py %s %s %s",
             SF_SOURCE_DIR, reader, avro_path, dump);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[256] = "";
    if (!fgets(line, sizeof(line), p)) {
        line[0] = '\0';
    }
    int st = pclose(p);
    ck_assert_msg(st == 0, "%s failed (status %d): %s", cmd, st, line);
    char want[256];
    snprintf(want, sizeof(want), "codec=%s records=%zu\n", strcmp(reader, "python") ? "?" : codec,
             n);
    ck_assert_str_eq(line, want);
    size_t la, lb;
    char *a = read_file(dump, &la), *b = read_file(expect_path, &lb);
    ck_assert_msg(la == lb && memcmp(a, b, la) == 0,
                  "%s: %s's records differ from the events "
                  "(%zu vs %zu bytes of dump)",
                  avro_path, reader, la, lb);
    free(a);
    free(b);
    unlink(dump);
}

static const char *const codecs[] = { "null", "deflate", "snappy" };
static const size_t counts[] = { 0, 1, 1000, 100000 };

/* loop over codecs (outer) and counts (inner): _i = codec * 4 + count */
START_TEST(avro_files)
{
    const char *codec = codecs[_i / 4];
    size_t n = counts[_i % 4];
    long long interval = n >= 100000 ? 65536 : 4096;
    size_t batch = 250; /* flush every batch, as the sinks do */
    char tmpl[] = "/tmp/sf_ser_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    char avro_path[256], expect_path[256], expect_cut_path[256];
    snprintf(avro_path, sizeof(avro_path), "%s/f.avro", tmpl);
    snprintf(expect_path, sizeof(expect_path), "%s/expect", tmpl);
    snprintf(expect_cut_path, sizeof(expect_cut_path), "%s/expect_cut", tmpl);

    char text[512];
    snprintf(text, sizeof(text),
             "a1.sinks.k1.serializer = AVRO_EVENT\n"
             "a1.sinks.k1.serializer.compressionCodec = %s\n"
             "a1.sinks.k1.serializer.syncIntervalBytes = %lld\n",
             codec, interval);
    struct fixture f;
    fx_open(&f, text, "serializer", "serializer.");
    ck_assert_ptr_nonnull(f.conf);
    ck_assert_uint_eq(f.d.nerrors + f.d.nwarnings, 0);
    struct sf_serializer *s = sf_serializer_create(f.conf);
    struct sf_buf out = SF_BUF_INIT, datum = SF_BUF_INIT;
    FILE *ex = fopen(expect_path, "wb"), *ex_cut = fopen(expect_cut_path, "wb");
    ck_assert(ex && ex_cut);
    rng_state = (uint64_t)_i * 7919;
    /* the expected blocks: record counts and uncompressed sizes, by Avro's rule */
    size_t cap = n + 2, nblocks = 0;
    size_t *bcount = calloc(cap, sizeof(*bcount)), *bsize = calloc(cap, sizeof(*bsize));
    size_t open_n = 0, open_bytes = 0;
    ck_assert_int_eq(sf_serializer_after_create(s, &out), SF_OK);
    size_t header_len = out.len;
    for (size_t i = 0; i < n; i++) {
        struct sf_event *ev = make_event(i);
        dump_event(ex, ev, false);
        dump_event(ex_cut, ev, true);
        sf_buf_reset(&datum);
        sf_avro_event_encode(&datum, ev);
        ck_assert_int_eq(sf_serializer_write(s, ev, &out), SF_OK);
        open_n++, open_bytes += datum.len;
        if (open_bytes >= (size_t)interval) {
            bcount[nblocks] = open_n, bsize[nblocks++] = open_bytes, open_n = open_bytes = 0;
        }
        if ((i + 1) % batch == 0) {
            ck_assert_int_eq(sf_serializer_flush(s, &out), SF_OK);
            if (open_n) {
                bcount[nblocks] = open_n, bsize[nblocks++] = open_bytes, open_n = open_bytes = 0;
            }
        }
        sf_event_destroy(ev);
    }
    ck_assert_int_eq(sf_serializer_before_close(s, &out), SF_OK);
    if (open_n) {
        bcount[nblocks] = open_n, bsize[nblocks++] = open_bytes;
    }
    fclose(ex);
    fclose(ex_cut);
    sf_serializer_destroy(s);
    if (n >= 1000) {
        ck_assert_uint_gt(nblocks, n / batch); /* many blocks, some closed by the interval */
    }

    /* parse the container here: header, then every block ends with the file's sync marker */
    const unsigned char *p = (const unsigned char *)out.data, *end = p + out.len;
    ck_assert_int_eq(memcmp(p, "Obj\x01", 4), 0);
    p += 4;
    ck_assert_int_eq(get_long(&p, end), 2);
    int seen = 0;
    for (int k = 0; k < 2; k++) {
        int64_t kl = get_long(&p, end);
        const unsigned char *key = p;
        p += kl;
        int64_t vl = get_long(&p, end);
        if (kl == 10 && memcmp(key, "avro.codec", 10) == 0) {
            ck_assert_int_eq(vl, (int64_t)strlen(codec));
            ck_assert_int_eq(memcmp(p, codec, (size_t)vl), 0);
            seen |= 1;
        } else {
            ck_assert_int_eq(kl, 11);
            ck_assert_int_eq(memcmp(key, "avro.schema", 11), 0);
            const char *schema = "{\"type\":\"record\",\"name\":\"Event\",\"fields\":[{\"name\":"
                                 "\"headers\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
                                 "{\"name\":\"body\",\"type\":\"bytes\"}]}";
            ck_assert_int_eq(vl, (int64_t)strlen(schema));
            ck_assert_int_eq(memcmp(p, schema, (size_t)vl), 0);
            seen |= 2;
        }
        p += vl;
    }
    ck_assert_int_eq(seen, 3);
    ck_assert_int_eq(get_long(&p, end), 0);
    const unsigned char *sync = p;
    p += 16;
    ck_assert_uint_eq((size_t)(p - (const unsigned char *)out.data), header_len);
    size_t blocks = 0, records = 0;
    while (p < end) {
        ck_assert_uint_lt(blocks, nblocks);
        int64_t cnt = get_long(&p, end), size = get_long(&p, end);
        ck_assert_int_eq(cnt, (int64_t)bcount[blocks]);
        if (strcmp(codec, "null") == 0) {
            ck_assert_int_eq(size, (int64_t)bsize[blocks]);
        }
        ck_assert(size > 0 && p + size + 16 <= end);
        p += size;
        ck_assert_msg(memcmp(p, sync, 16) == 0, "block %zu does not end with the sync marker",
                      blocks);
        p += 16;
        records += (size_t)cnt;
        blocks++;
    }
    ck_assert_uint_eq(blocks, nblocks);
    ck_assert_uint_eq(records, n);

    FILE *af = fopen(avro_path, "wb");
    ck_assert_ptr_nonnull(af);
    ck_assert_uint_eq(fwrite(out.data, 1, out.len, af), out.len);
    fclose(af);
    check_reader("python", avro_path, expect_path, n, codec);
    /* avrocat: every header, and every body up to its first NUL (what avro-c prints of bytes);
     * python3-avro above compared the whole bodies */
    check_reader("avrocat", avro_path, expect_cut_path, n, codec);

    /* a second file gets another sync marker */
    struct sf_buf out2 = SF_BUF_INIT;
    s = sf_serializer_create(f.conf);
    ck_assert_int_eq(sf_serializer_after_create(s, &out2), SF_OK);
    ck_assert_uint_eq(out2.len, header_len);
    ck_assert_int_ne(memcmp(out2.data + header_len - 16, sync, 16), 0);
    sf_serializer_destroy(s);
    sf_buf_free(&out2);

    unlink(avro_path);
    unlink(expect_path);
    unlink(expect_cut_path);
    rmdir(tmpl);
    free(bcount);
    free(bsize);
    sf_buf_free(&out);
    sf_buf_free(&datum);
    fx_close(&f);
}
END_TEST

SF_UNIT_SUITE(serializer)
{
    Suite *s = suite_create("serializer");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, text_bytes);
    tcase_add_test(tc, header_and_text_bytes);
    tcase_add_test(tc, lookup_names);
    tcase_add_test(tc, option_errors);
    tcase_add_test(tc, call_order);
    tcase_add_test(tc, section_sub);
    suite_add_tcase(s, tc);
    TCase *av = tcase_create("avro_event");
    tcase_set_timeout(av, 600);
    tcase_add_loop_test(av, avro_files, 0, 12);
    suite_add_tcase(s, av);
    return s;
}
