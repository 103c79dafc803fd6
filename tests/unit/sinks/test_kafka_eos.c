/*
 * Unit tests of the Kafka sink's exactly-once mode (kafka.producer.transactional.id), against
 * librdkafka's mock cluster running in this process (tests/support/kafka_harness.h): each event
 * once and the stored positions, a crash between the Kafka commit and the channel commit followed
 * by a re-read of every row, aborted and fenced transactions, rows arriving below the highest
 * offset, sparse ids, text offsets, the positions' older record format, poison events. What the
 * librdkafka 2.0.2 mock does with transactions is described below. Timeouts are multiplied by
 * SF_TIME_MULT (sanitizer runs).
 */
#include "unit.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "sqlflume/avro_event.h"
#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/log.h"
#include "sqlflume/option.h"
#include "sqlflume/sinks.h"

#include "kafka_harness.h"

/* ---------- Kafka, exactly-once (kafka.producer.transactional.id) ---------- */

/*
 * What librdkafka 2.0.2's mock cluster does with transactions (read in its source and checked
 * here): InitProducerId hands out a new producer id (epoch 0) on every call, so a second producer
 * with the same transactional.id does not fence the first; AddPartitionsToTxn, AddOffsetsToTxn,
 * TxnOffsetCommit and EndTxn check the producer id and epoch (AddPartitionsToTxn also that the
 * partition exists) and return injected errors, nothing more: EndTxn writes no commit or abort
 * markers and TxnOffsetCommit stores nothing (offsets sent with send_offsets_to_transaction cannot
 * be read back, so positions go to a topic instead); Produce checks producer id, epoch and
 * sequence; Fetch returns the high watermark as the last stable offset and no aborted transactions.
 * So a read_committed consumer sees every message that reached a partition, of committed, aborted
 * and open transactions alike. The tests therefore (a) inject errors where nothing reaches the data
 * partition (per-broker Produce errors on the data topic's leader, fencing on AddPartitionsToTxn)
 * or say what the mock shows, and (b) check the chain of position records: each names its
 * transaction (txn) and the last committed one before it (prev), so walking prev from the newest
 * record gives the committed transactions, whose batch lines must cover every event exactly once.
 */

#define EOS_POSITIONS "__sqlflume_positions"

/* Put rows seq first..first+n-1 of table with the headers of the SQL source: table, offset (seq
 * as a decimal number, or "ts-%08d" text when text_offsets), key; body "<table>:<seq>". */
static void put_rows(struct sf_channel *ch, const char *table, int first, int n, bool text_offsets)
{
    char off[32], key[64], body[64];
    const struct sf_header h[] = { { "table", table }, { "offset", off }, { "key", key } };
    for (int i = first; i < first + n;) {
        struct sf_txn *txn = sf_channel_txn_begin(ch);
        for (int k = 0; k < 100 && i < first + n; k++, i++) {
            (void)snprintf(off, sizeof(off), text_offsets ? "ts-%08d" : "%d", i);
            (void)snprintf(key, sizeof(key), "%s-%d", table, i);
            int len = snprintf(body, sizeof(body), "%s:%d", table, i);
            ck_assert_int_eq(sf_channel_put(txn, sf_event_create(h, 3, body, (size_t)len)), SF_OK);
        }
        ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
        sf_channel_txn_close(txn);
    }
}

/* Every message of topic (partition 0) must be "<table>:<seq>" with key "<table>-<seq>", and
 * seq 0..n-1 must each appear exactly once, in order. */
static void check_rows_once(const char *topic, const char *table, int n)
{
    ck_assert_int_eq(high_watermark(topic), n); /* nothing else reached the partition */
    const char *const topics[] = { topic, NULL };
    struct recs rs = consume(topics, (size_t)n, 20000);
    ck_assert_uint_eq(rs.n, (size_t)n);
    for (size_t i = 0; i < rs.n; i++) {
        char want[64], key[64];
        (void)snprintf(want, sizeof(want), "%s:%zu", table, i);
        (void)snprintf(key, sizeof(key), "%s-%zu", table, i);
        ck_assert_str_eq(rs.v[i].val, want);
        ck_assert_str_eq(rs.v[i].key, key);
    }
    recs_free(&rs);
}

struct posrec {
    int64_t offset;
    long long txn, prev; /* prev -1: none */
    char *text;          /* borrowed from the recs */
    bool committed;
};

struct posrecs {
    struct recs raw;
    struct posrec *v;
    size_t n;
};

/* Every position record of txn_id in the positions topic, in offset order, with the chain of
 * committed transactions marked (walking prev back from the newest record). */
static struct posrecs read_posrecs(const char *txn_id)
{
    struct posrecs p = { 0 };
    int64_t hw = high_watermark(EOS_POSITIONS);
    const char *const topics[] = { EOS_POSITIONS, NULL };
    p.raw = consume(topics, (size_t)hw, 20000);
    ck_assert_uint_eq(p.raw.n, (size_t)hw);
    p.v = calloc(p.raw.n + 1, sizeof(*p.v));
    for (size_t i = 0; i < p.raw.n; i++) {
        if (!p.raw.v[i].key || strcmp(p.raw.v[i].key, txn_id) != 0) {
            continue;
        }
        struct posrec *r = &p.v[p.n++];
        r->offset = p.raw.v[i].offset;
        r->text = p.raw.v[i].val;
        /* format 2; format 1 only where a test wrote one */
        ck_assert_msg(strncmp(r->text, "sqlflume-positions 2\ntxn ", 25) == 0 ||
                          strncmp(r->text, "sqlflume-positions 1\ntxn 5\nprev -\n", 33) == 0,
                      "%s", r->text);
        r->txn = strtoll(r->text + 25, NULL, 10);
        const char *prev = strstr(r->text, "\nprev ");
        ck_assert_ptr_nonnull(prev);
        r->prev = prev[6] == '-' ? -1 : strtoll(prev + 6, NULL, 10);
    }
    if (p.n > 0) {
        size_t cur = p.n - 1;
        p.v[cur].committed = true;
        while (p.v[cur].prev >= 0) {
            size_t j = cur;
            while (j > 0 && p.v[j - 1].txn != p.v[cur].prev) {
                j--;
            }
            ck_assert_msg(j > 0, "the chain breaks at transaction %lld (prev %lld)", p.v[cur].txn,
                          p.v[cur].prev);
            ck_assert_int_lt(p.v[j - 1].txn, p.v[cur].txn);
            cur = j - 1;
            p.v[cur].committed = true;
        }
    }
    return p;
}

static void posrecs_free(struct posrecs *p)
{
    recs_free(&p->raw);
    free(p->v);
}

/* The value of "pos <topic> <table> <offset>" in record text, into out; false when absent. */
static bool
posrec_pos(const char *text, const char *topic, const char *table, char *out, size_t out_size)
{
    char prefix[256];
    (void)snprintf(prefix, sizeof(prefix), "\npos %s %s ", topic, table);
    const char *p = strstr(text, prefix);
    if (!p) {
        return false;
    }
    p += strlen(prefix);
    size_t len = strcspn(p, "\n");
    (void)snprintf(out, out_size, "%.*s", (int)len, p);
    return true;
}

/* The batch lines of the committed records cover seq 0..n-1 of (topic, table) exactly once:
 * the transactions that Kafka committed delivered every event once. @return the number of
 * committed transactions that delivered events of the pair. */
static size_t
check_committed_cover(const struct posrecs *p, const char *topic, const char *table, int n)
{
    int *cover = calloc((size_t)n, sizeof(int));
    size_t txns = 0;
    char prefix[256];
    (void)snprintf(prefix, sizeof(prefix), "\nbatch %s %s ", topic, table);
    for (size_t i = 0; i < p->n; i++) {
        if (!p->v[i].committed) {
            continue;
        }
        const char *b = strstr(p->v[i].text, prefix);
        if (!b) {
            continue;
        }
        txns++;
        b += strlen(prefix);
        if (strncmp(b, "ts-", 3) == 0) {
            b += 3;
        }
        char *end;
        long first = strtol(b, &end, 10);
        ck_assert(*end == ' ');
        b = end + 1;
        if (strncmp(b, "ts-", 3) == 0) {
            b += 3;
        }
        long last = strtol(b, &end, 10);
        long count = strtol(end + 1, NULL, 10);
        ck_assert_int_eq(count, last - first + 1);
        ck_assert(first >= 0 && last < n);
        for (long k = first; k <= last; k++) {
            cover[k]++;
        }
    }
    for (int k = 0; k < n; k++) {
        ck_assert_msg(cover[k] == 1, "%s %s: event %d is in %d committed transactions", topic,
                      table, k, cover[k]);
    }
    free(cover);
    return txns;
}

/* Exactly-once needs acks = all and a non-empty transactional.id. */
START_TEST(kafka_eos_config_errors)
{
    char conf[1024], err[512];
    (void)snprintf(conf, sizeof(conf),
                   "a1.sinks.k1.kafka.bootstrap.servers = %s\n"
                   "a1.sinks.k1.kafka.producer.transactional.id = t1\n"
                   "a1.sinks.k1.kafka.producer.acks = 1\n",
                   bootstraps);
    struct rig *r = rig_new(&sf_sink_kafka, conf, err, sizeof(err));
    ck_assert(!r->started);
    ck_assert_msg(strstr(err, "kafka.producer.acks: must be all") != NULL, "%s", err);
    rig_free(r);
    (void)snprintf(conf, sizeof(conf),
                   "a1.sinks.k1.kafka.bootstrap.servers = %s\n"
                   "a1.sinks.k1.kafka.producer.transactional.id =\n",
                   bootstraps);
    r = rig_new(&sf_sink_kafka, conf, err, sizeof(err));
    ck_assert(!r->started);
    ck_assert_msg(strstr(err, "transactional.id") != NULL, "%s", err);
    rig_free(r);
}
END_TEST

/* A rig whose sink produces exactly once with transactional.id txn_id. */
static struct rig *eos_rig(const char *txn_id, const char *extra)
{
    char conf[2048];
    (void)snprintf(conf, sizeof(conf),
                   "a1.sinks.k1.kafka.producer.transactional.id = %s\n"
                   "a1.sinks.k1.flumeBatchSize = 100\n"
                   "%s",
                   txn_id, extra);
    return kafka_rig(conf);
}

/* N events of two tables (numeric and text offsets, the numbers crossing 9/10, 99/100, 999/1000
 * as numbers do not as text) and events without position headers: each delivered once; the
 * newest position record holds the last offset header per (topic, table); the committed
 * transactions' batches cover every event once. The positions topic does not exist at first
 * (nothing stored: the sink starts from scratch; producing creates it). */
START_TEST(kafka_eos_exactly_once)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eos.orders", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eos.events", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eos.", 1, 1), 0);
    struct rig *r = eos_rig("eos-once", "a1.sinks.k1.kafka.topic = eos.%{table}\n");
    put_rows(&r->ch, "orders", 0, 600, false);
    put_rows(&r->ch, "events", 0, 300, true);
    put_events(&r->ch, 0, 5, NULL, 0); /* no table/offset headers: produced, not tracked */
    put_rows(&r->ch, "orders", 600, 1400, false);
    put_rows(&r->ch, "events", 300, 200, true);
    ck_assert(drain(&r->snk, 30000));
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 2505);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.write_fail), 0);
    rig_free(r);

    check_rows_once("eos.orders", "orders", 2000);
    check_rows_once("eos.events", "events", 500);
    ck_assert_int_eq(high_watermark("eos."), 5);

    struct posrecs p = read_posrecs("eos-once");
    ck_assert_uint_eq(p.n,
                      26); /* one record per Kafka transaction: 2505 events in batches of 100 */
    char off[64];
    ck_assert(posrec_pos(p.v[p.n - 1].text, "eos.orders", "orders", off, sizeof(off)));
    ck_assert_str_eq(off, "1999");
    ck_assert(posrec_pos(p.v[p.n - 1].text, "eos.events", "events", off, sizeof(off)));
    ck_assert_str_eq(off, "ts-00000499");
    for (size_t i = 0; i < p.n; i++) {
        ck_assert(p.v[i].committed); /* no transaction failed */
        ck_assert_int_eq(p.v[i].txn, (long long)i + 1);
    }
    check_committed_cover(&p, "eos.orders", "orders", 2000);
    check_committed_cover(&p, "eos.events", "events", 500);
    posrecs_free(&p);
}
END_TEST

/* Exactly-once with the per-message path and Flume's event format: AvroFlumeEvent bodies, the
 * offset header as a Kafka header; rows read again are skipped as with plain bodies. */
START_TEST(kafka_eos_flume_event_format_headers)
{
#ifndef SF_HAVE_AVRO
    fprintf(stderr, "kafka_eos_flume_event_format_headers: built without avro-c: skipped\n");
#else
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eos.avro", 1, 1), 0);
    struct rig *r = eos_rig("eos-avro", "a1.sinks.k1.kafka.topic = eos.avro\n"
                                        "a1.sinks.k1.useFlumeEventFormat = true\n"
                                        "a1.sinks.k1.header.offset = row-offset\n");
    put_rows(&r->ch, "avro", 0, 250, false);
    put_rows(&r->ch, "avro", 100, 150, false); /* read again after a crash: Kafka has them */
    ck_assert(drain(&r->snk, 30000));
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 400);
    rig_free(r);
    ck_assert_int_eq(high_watermark("eos.avro"), 250);
    const char *const topics[] = { "eos.avro", NULL };
    struct recs rs = consume(topics, 250, 20000);
    ck_assert_uint_eq(rs.n, 250);
    for (size_t i = 0; i < rs.n; i++) {
        char *hdrs, *body, want[128];
        size_t blen;
        avro_decode(rs.v[i].val, rs.v[i].val_len, &hdrs, &body, &blen);
        (void)snprintf(want, sizeof(want), "avro:%zu", i);
        ck_assert_str_eq(body, want);
        (void)snprintf(want, sizeof(want), "table=avro;offset=%zu;key=avro-%zu;", i, i);
        ck_assert_str_eq(hdrs, want);
        (void)snprintf(want, sizeof(want), "row-offset=%zu;", i);
        ck_assert_str_eq(rs.v[i].hdrs, want);
        free(hdrs);
        free(body);
    }
    recs_free(&rs);
#endif
}
END_TEST

/* kill -9 between the Kafka commit and the channel commit (the test hook freezes the sink there),
 * before the source wrote its offset: the source reads every row again into a fresh channel; a
 * new sink with the same transactional.id skips what Kafka has and delivers the rest once. */
START_TEST(kafka_eos_crash_after_kafka_commit)
{
    const int n = 1000;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "crash", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, EOS_POSITIONS, 1, 1), 0);
    struct rig *r = eos_rig("eos-crash", "a1.sinks.k1.kafka.topic = crash\n"
                                         "a1.sinks.k1.testCrashAfterCommits = 3\n");
    put_rows(&r->ch, "t", 0, n, false);
    put_rows(&r->ch, "u", 0, 50, true);
    long long deadline = now_ms() + 20000 * time_mult;
    while (now_ms() < deadline && atomic_load(&r->snk.metrics.drain_attempt) < 300) {
        r->snk.plugin->process(&r->snk);
    }
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(r->snk.plugin->process(&r->snk), SF_BACKOFF); /* frozen */
    }
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_attempt), 300);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 200); /* third not committed */
    ck_assert_int_eq(high_watermark("crash"), 300);                    /* but in Kafka */
    rig_free(r); /* the channel and its events are gone, as after kill -9 */

    /* restart: the source had no offset stored, so it reads every row again */
    r = eos_rig("eos-crash", "a1.sinks.k1.kafka.topic = crash\n");
    put_rows(&r->ch, "t", 0, n, false);
    put_rows(&r->ch, "u", 0, 50, true);
    ck_assert(drain(&r->snk, 30000));
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n + 50);
    rig_free(r);

    const char *const topics[] = { "crash", NULL };
    ck_assert_int_eq(high_watermark("crash"), n + 50);
    struct recs rs = consume(topics, (size_t)n + 50, 20000);
    ck_assert_uint_eq(rs.n, (size_t)n + 50);
    int seen_t[1000] = { 0 }, seen_u[50] = { 0 };
    for (size_t i = 0; i < rs.n; i++) {
        int seq = (int)strtol(rs.v[i].val + 2, NULL, 10);
        if (rs.v[i].val[0] == 't') {
            ck_assert(seq >= 0 && seq < n);
            seen_t[seq]++;
        } else {
            ck_assert(seq >= 0 && seq < 50);
            seen_u[seq]++;
        }
    }
    for (int i = 0; i < n; i++) {
        ck_assert_msg(seen_t[i] == 1, "t:%d in Kafka %d times", i, seen_t[i]);
    }
    for (int i = 0; i < 50; i++) {
        ck_assert_msg(seen_u[i] == 1, "u:%d in Kafka %d times", i, seen_u[i]);
    }
    recs_free(&rs);

    struct posrecs p = read_posrecs("eos-crash");
    char off[64];
    ck_assert(posrec_pos(p.v[p.n - 1].text, "crash", "t", off, sizeof(off)));
    ck_assert_str_eq(off, "999");
    ck_assert(posrec_pos(p.v[p.n - 1].text, "crash", "u", off, sizeof(off)));
    ck_assert_str_eq(off, "ts-00000049");
    ck_assert_int_eq(p.v[3].txn, 4); /* the new sink went on after transaction 3 */
    ck_assert_int_eq(p.v[3].prev, 3);
    check_committed_cover(&p, "crash", "t", n);
    check_committed_cover(&p, "crash", "u", 50);
    posrecs_free(&p);
}
END_TEST

/* Put one event per offset offs[0..n) of table (headers table, offset, key "<table>-<offset>",
 * body "<table>:<offset>"), in one put transaction. */
static void put_offsets(struct sf_channel *ch, const char *table, const char *const *offs, size_t n)
{
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    for (size_t i = 0; i < n; i++) {
        char key[128], body[128];
        (void)snprintf(key, sizeof(key), "%s-%s", table, offs[i]);
        int len = snprintf(body, sizeof(body), "%s:%s", table, offs[i]);
        const struct sf_header h[] = { { "table", table }, { "offset", offs[i] }, { "key", key } };
        ck_assert_int_eq(sf_channel_put(txn, sf_event_create(h, 3, body, (size_t)len)), SF_OK);
    }
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
}

/* Integer offsets "from".."to" (inclusive) except skip (-1: none) as strings in *out (freed by
 * the caller with strs_free). */
static size_t int_offsets(char ***out, long from, long to, long skip)
{
    char **v = calloc((size_t)(to - from + 1), sizeof(char *));
    size_t n = 0;
    for (long i = from; i <= to; i++) {
        if (i != skip) {
            v[n] = malloc(24);
            (void)snprintf(v[n++], 24, "%ld", i);
        }
    }
    *out = v;
    return n;
}

static void strs_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

/* The rows the source puts in the late-rows test, in its order: ids with a gap that a late
 * commit fills (50 after 51..99; 1050 only after the restart), a backfill-like run ordered by
 * something else than the id (300, 200, 250, 201), and "timestamp,id" offsets of
 * timestamp+incrementing mode whose ids cross 9/10 within one timestamp. */
static void put_late_rows(struct sf_channel *ch, bool late_1050)
{
    char **v;
    size_t n = int_offsets(&v, 0, 99, 50);
    put_offsets(ch, "t", (const char *const *)v, n);
    strs_free(v, n);
    n = int_offsets(&v, 100, 149, -1);
    put_offsets(ch, "t", (const char *const[]){ "50" }, 1);
    put_offsets(ch, "t", (const char *const *)v, n);
    strs_free(v, n);
    put_offsets(ch, "t", (const char *const[]){ "300", "200", "250", "201" }, 4);
    n = int_offsets(&v, 1000, 1099, 1050);
    put_offsets(ch, "t", (const char *const *)v, n);
    strs_free(v, n);
    if (late_1050) {
        put_offsets(ch, "t", (const char *const[]){ "1050" }, 1);
    }
    const char *const ts[] = { "2024-01-01 00:00:01,8",  "2024-01-01 00:00:01,9",
                               "2024-01-01 00:00:01,10", "2024-01-01 00:00:01,11",
                               "2024-01-01 00:00:02,3",  "2024-01-01 00:00:10,12" };
    put_offsets(ch, "ts", ts, 6);
}

/* Rows that arrive below the highest offset delivered (late commits filling a gap, a backfill
 * ordered by key) are produced once, also after a restart that reads everything again, and
 * "timestamp,id" offsets compare part by part. */
START_TEST(kafka_eos_late_rows)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "late", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, EOS_POSITIONS, 1, 1), 0);
    struct rig *r = eos_rig("eos-late", "a1.sinks.k1.kafka.topic = late\n");
    put_late_rows(&r->ch, false);
    ck_assert(drain(&r->snk, 30000));
    rig_free(r);
    const int first_run = 99 + 1 + 50 + 4 + 99 + 6;
    ck_assert_int_eq(high_watermark("late"), first_run);

    /* restart: the source reads every row again, and the row 1050 commits at last */
    r = eos_rig("eos-late", "a1.sinks.k1.kafka.topic = late\n");
    put_late_rows(&r->ch, true);
    ck_assert(drain(&r->snk, 30000));
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), first_run + 1);
    rig_free(r);

    ck_assert_int_eq(high_watermark("late"), first_run + 1);
    const char *const topics[] = { "late", NULL };
    struct recs rs = consume(topics, (size_t)first_run + 1, 20000);
    ck_assert_uint_eq(rs.n, (size_t)first_run + 1);
    for (size_t i = 0; i < rs.n; i++) {
        for (size_t j = 0; j < i; j++) {
            ck_assert_msg(strcmp(rs.v[i].val, rs.v[j].val) != 0, "%s twice", rs.v[i].val);
        }
    }
    ck_assert_str_eq(rs.v[rs.n - 1].val, "t:1050");
    recs_free(&rs);

    struct posrecs p = read_posrecs("eos-late");
    const char *last = p.v[p.n - 1].text;
    /* delivered: 0..149, 200..201, 250, 300, 1000..1099 */
    ck_assert_msg(strstr(last, "\nids late t 0 1099;150-199,202-249,251-299,301-999\n"), "%s",
                  last);
    char off[64];
    ck_assert(posrec_pos(last, "late", "t", off, sizeof(off)));
    ck_assert_str_eq(off, "1099");
    ck_assert(posrec_pos(last, "late", "ts", off, sizeof(off)));
    ck_assert_str_eq(off, "2024-01-01%2000:00:10,12"); /* the space is escaped */
    posrecs_free(&p);
}
END_TEST

/* The ids of the sparse-ids test: 7k for k = from..to, every third k (a deleted row) left out. */
static size_t sparse_offsets(char ***out, long from, long to)
{
    char **v = calloc((size_t)(to - from + 1), sizeof(char *));
    size_t n = 0;
    for (long k = from; k <= to; k++) {
        if (k % 3 != 0) {
            v[n] = malloc(24);
            (void)snprintf(v[n++], 24, "%ld", 7 * k);
        }
    }
    *out = v;
    return n;
}

static void put_chunked(struct sf_channel *ch, const char *table, char **v, size_t n)
{
    for (size_t i = 0; i < n; i += 100) {
        put_offsets(ch, table, (const char *const *)v + i, n - i < 100 ? n - i : 100);
    }
}

/* A table whose ids step by 7 with every third one deleted (a hole after almost every row):
 * after a restart the source reads 1,800 delivered rows again, and the sink produces none of
 * them twice, though every row opens a gap; the position record stays small (the delivered set
 * keeps the gaps, at most POS_GAPS_MAX, not one range per row); a late row in a recent gap
 * still goes. */
START_TEST(kafka_eos_sparse_ids)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "sparse", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, EOS_POSITIONS, 1, 1), 0);
    char **v;
    struct rig *r = eos_rig("eos-sparse", "a1.sinks.k1.kafka.topic = sparse\n");
    size_t n = sparse_offsets(&v, 1, 2000);
    put_chunked(&r->ch, "t", v, n);
    strs_free(v, n);
    ck_assert(drain(&r->snk, 30000));
    rig_free(r);
    const int first_run = 1334; /* k = 1..2000 without multiples of 3 */
    ck_assert_int_eq(high_watermark("sparse"), first_run);

    /* restart: the source resumes from an old offset (k = 200) and reads on to k = 3000, then a
     * late row commits in the gap below the highest id */
    r = eos_rig("eos-sparse", "a1.sinks.k1.kafka.topic = sparse\n");
    n = sparse_offsets(&v, 200, 3000);
    put_chunked(&r->ch, "t", v, n);
    strs_free(v, n);
    put_offsets(&r->ch, "t", (const char *const[]){ "20990" }, 1);
    ck_assert(drain(&r->snk, 30000));
    rig_free(r);
    const int total = 2000 + 1; /* k = 1..3000 without multiples of 3, and 20990 */
    ck_assert_int_eq(high_watermark("sparse"), total);
    const char *const topics[] = { "sparse", NULL };
    struct recs rs = consume(topics, (size_t)total, 20000);
    ck_assert_uint_eq(rs.n, (size_t)total);
    char *seen = calloc(21001, 1);
    for (size_t i = 0; i < rs.n; i++) {
        long id = strtol(rs.v[i].val + 2, NULL, 10);
        ck_assert(id > 0 && id <= 21000);
        ck_assert_msg(!seen[id], "%ld twice", id);
        seen[id] = 1;
    }
    free(seen);
    recs_free(&rs);

    struct posrecs p = read_posrecs("eos-sparse");
    for (size_t i = 0; i < p.n; i++) {
        ck_assert_msg(strlen(p.v[i].text) < 8192, "record of %zu bytes", strlen(p.v[i].text));
    }
    const char *last = p.v[p.n - 1].text;
    /* 20993 is the highest id; 20987-20989 and 20991-20992 are still gaps */
    ck_assert_msg(strstr(last, "\nids sparse t 7 20993;"), "%s", last);
    ck_assert_msg(strstr(last, ",20987-20989,20991-20992\n"), "%s", last);
    posrecs_free(&p);
}
END_TEST

/* Text offsets (an explicitly named text incremental column): the sink cannot order them as the
 * database's collation does ("B" after "a" under a case-insensitive collation, before it in
 * bytes), so none is ever skipped by comparing them: every event goes, with one warning; date/time
 * offsets are still ordered, so a restart that reads them again produces nothing twice. */
START_TEST(kafka_eos_text_offsets)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "txt", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, EOS_POSITIONS, 1, 1), 0);
    struct rig *r = eos_rig("eos-txt", "a1.sinks.k1.kafka.topic = txt\n");
    put_offsets(&r->ch, "t", (const char *const[]){ "a", "B", "c" }, 3);
    put_offsets(&r->ch, "ts",
                (const char *const[]){ "2024-01-01 00:00:00", "2024-01-02 10:00:00.5" }, 2);
    ck_assert(drain(&r->snk, 30000));
    rig_free(r);
    ck_assert_int_eq(high_watermark("txt"), 5);
    /* the restarted source reads "B" and "d" (after "c" in its collation) and the timestamps again
     */
    r = eos_rig("eos-txt", "a1.sinks.k1.kafka.topic = txt\n");
    put_offsets(&r->ch, "t", (const char *const[]){ "d", "B" }, 2);
    put_offsets(&r->ch, "ts",
                (const char *const[]){ "2024-01-02 10:00:00.5", "2024-01-03 00:00:00" }, 2);
    ck_assert(drain(&r->snk, 30000));
    rig_free(r);
    /* "d" and "B" (text: at least once), the new timestamp; the old one not again */
    ck_assert_int_eq(high_watermark("txt"), 5 + 3);
    const char *const topics[] = { "txt", NULL };
    struct recs rs = consume(topics, 8, 20000);
    ck_assert_uint_eq(rs.n, 8);
    size_t b = 0, old_ts = 0;
    for (size_t i = 0; i < rs.n; i++) {
        b += strcmp(rs.v[i].val, "t:B") == 0;
        old_ts += strcmp(rs.v[i].val, "ts:2024-01-02 10:00:00.5") == 0;
    }
    ck_assert_uint_eq(b, 2);
    ck_assert_uint_eq(old_ts, 1);
    recs_free(&rs);
}
END_TEST

/* A position record of format 1 (delivered ranges) written by an older sqlflume is read: its
 * ranges become the delivered set, rows in them are not produced again, rows between them are. */
START_TEST(kafka_eos_reads_format_1)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "old", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, EOS_POSITIONS, 1, 1), 0);
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr, sizeof(errstr));
    rd_kafka_t *pr = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(pr);
    const char *rec = "sqlflume-positions 1\ntxn 5\nprev -\npos old t 300\n"
                      "ranges old t 1~100,200~300\nbatch old t 290 300 11\n";
    ck_assert_int_eq(rd_kafka_producev(pr, RD_KAFKA_V_TOPIC(EOS_POSITIONS), RD_KAFKA_V_PARTITION(0),
                                       RD_KAFKA_V_KEY("eos-old", 7),
                                       RD_KAFKA_V_VALUE((void *)rec, strlen(rec)),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
    ck_assert_int_eq(rd_kafka_flush(pr, 10000), 0);
    rd_kafka_destroy(pr);

    struct rig *r = eos_rig("eos-old", "a1.sinks.k1.kafka.topic = old\n");
    char **v;
    size_t n = int_offsets(&v, 1, 310, -1);
    put_chunked(&r->ch, "t", v, n);
    strs_free(v, n);
    ck_assert(drain(&r->snk, 30000));
    rig_free(r);
    ck_assert_int_eq(high_watermark("old"), 99 + 10); /* 101..199 and 301..310 */
    struct posrecs p = read_posrecs("eos-old");
    ck_assert_msg(strstr(p.v[p.n - 1].text, "\nids old t 1 310\n"), "%s", p.v[p.n - 1].text);
    posrecs_free(&p);
}
END_TEST

/* Batches that Kafka has entirely (nothing to produce) touching many (topic, table) pairs, after
 * a restart: all skipped, then new events of the same pairs go. */
START_TEST(kafka_eos_skip_only_batches)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "many", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, EOS_POSITIONS, 1, 1), 0);
    for (int run = 0; run < 2; run++) {
        struct rig *r = eos_rig("eos-many", "a1.sinks.k1.kafka.topic = many\n");
        for (int k = 0; k < 350; k++) {
            char table[32];
            (void)snprintf(table, sizeof(table), "t%03d", k);
            put_offsets(&r->ch, table, (const char *const[]){ "1" }, 1);
        }
        if (run == 1) {
            put_offsets(&r->ch, "t007", (const char *const[]){ "2" }, 1);
        }
        ck_assert(drain(&r->snk, 30000));
        ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 350 + run);
        rig_free(r);
    }
    ck_assert_int_eq(high_watermark("many"), 351);
    struct posrecs p = read_posrecs("eos-many");
    char off[64];
    ck_assert(posrec_pos(p.v[p.n - 1].text, "many", "t349", off, sizeof(off)));
    ck_assert_str_eq(off, "1");
    ck_assert(posrec_pos(p.v[p.n - 1].text, "many", "t007", off, sizeof(off)));
    ck_assert_str_eq(off, "2");
    posrecs_free(&p);
}
END_TEST

/* A fresh cluster of brokers brokers instead of the fixture's. */
static void mock_replace(int brokers)
{
    mock_teardown();
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(mock_rk);
    mock = rd_kafka_mock_cluster_new(mock_rk, brokers);
    ck_assert_ptr_nonnull(mock);
    (void)snprintf(bootstraps, sizeof(bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(mock));
}

/* Process until at least want events are committed from the channel (or 30 s pass). */
static void process_until(struct sf_sink *snk, long long want)
{
    long long deadline = now_ms() + 30000 * time_mult;
    while (now_ms() < deadline && atomic_load(&snk->metrics.drain_success) < want) {
        if (snk->plugin->process(snk) == SF_BACKOFF) {
            usleep(10000);
        }
    }
    ck_assert_int_ge(atomic_load(&snk->metrics.drain_success), want);
}

/*
 * Failed transactions roll back and are delivered again, once among the committed ones. Three
 * brokers: the data partition's leader (1), the positions partition's (2), the transaction
 * coordinator (3), so errors can be aimed at one of them.
 *  - abortable: a Produce request to broker 1 fails (INVALID_RECORD): nothing reaches the data
 *    partition, the position record may (the mock keeps it: an aborted record off the chain);
 *    librdkafka 2.0.2 then fails the next transaction too ("skipped sequence numbers"); both
 *    are aborted and rolled back;
 *  - fenced before writing: AddPartitionsToTxn answers PRODUCER_FENCED: fatal, nothing written;
 *    the sink recreates the producer, reads the positions again and goes on;
 *  - fenced at commit: EndTxn answers PRODUCER_FENCED after the batch reached both partitions.
 *    A real broker aborts that transaction (the new producer's init_transactions ends it), so
 *    the new producer does not see its position record and delivers the batch again. The 2.0.2
 *    mock keeps the messages and shows them to read_committed readers, so the new producer does
 *    see the record and skips the batch: in Kafka as the mock shows it, every event is there
 *    once as well.
 */
/* Exactly-once: a too-large event never enters a Kafka transaction (librdkafka would abort
 * it). errors.tolerance = none: the events before it are committed once, then the sink stops;
 * after a restart with message.max.bytes raised it goes, with the rest, once. errors.tolerance =
 * all: it goes to the dead-letter topic inside the transaction. */
START_TEST(kafka_eos_poison)
{
    const int n = 500, big_at = 220;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eospoison", 1, 1), 0);
    struct rig *r = eos_rig("eos-poison", "a1.sinks.k1.kafka.topic = eospoison\n");
    put_poison(&r->ch, n, big_at);
    ck_assert(!drain(&r->snk, 5000));
    rig_stop_sink(r);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.failed), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), big_at);
    ck_assert_uint_eq(sf_channel_size(&r->ch), (size_t)(n - big_at + 1));
    check_poison_topic("eospoison", big_at, false);
    struct rig *r2 = eos_rig("eos-poison", "a1.sinks.k1.kafka.topic = eospoison\n"
                                           "a1.sinks.k1.kafka.producer.message.max.bytes = "
                                           "3000000\n");
    move_events(&r->ch, &r2->ch);
    rig_free(r);
    ck_assert(drain(&r2->snk, 30000));
    rig_stop_sink(r2);
    ck_assert_int_eq(atomic_load(&r2->snk.metrics.failed), 0);
    rig_free(r2);
    check_poison_topic("eospoison", n, true);

    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eospoison2", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eospoison2_dlq", 1, 1), 0);
    r = eos_rig("eos-poison-all", "a1.sinks.k1.kafka.topic = eospoison2\n"
                                  "a1.sinks.k1.errors.tolerance = all\n"
                                  "a1.sinks.k1.errors.deadletterqueue.topic.name = "
                                  "eospoison2_dlq\n");
    put_poison(&r->ch, n, big_at);
    ck_assert(drain(&r->snk, 30000));
    rig_stop_sink(r);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.event_dead_lettered), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n + 1);
    rig_free(r);
    check_poison_topic("eospoison2", n, false);
    const char *const dlq[] = { "eospoison2_dlq", NULL };
    struct recs rs = consume(dlq, 1, 20000);
    ck_assert_uint_eq(rs.n, 1);
    ck_assert_str_eq(rs.v[0].key, "big");
    ck_assert_msg(strstr(rs.v[0].hdrs, "__sqlflume.errors.body.truncated=2097152;"), "%s",
                  rs.v[0].hdrs);
    recs_free(&rs);
}
END_TEST

START_TEST(kafka_eos_errors_roll_back)
{
    const int n = 2000;
    mock_replace(3);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eosfail", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, EOS_POSITIONS, 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_partition_set_leader(mock, "eosfail", 0, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_partition_set_leader(mock, EOS_POSITIONS, 0, 2), 0);
    ck_assert_int_eq(rd_kafka_mock_coordinator_set(mock, "transaction", "eos-fail", 3), 0);
    struct rig *r = eos_rig("eos-fail", "a1.sinks.k1.kafka.topic = eosfail\n");
    put_rows(&r->ch, "t", 0, n, false);
    enum sf_log_level lvl = sf_log_get_level();
    sf_log_set_level(SF_LOG_ERROR + (getenv("SF_TEST_DEBUG") ? 3 : 0)); /* expected errors */

    process_until(&r->snk, 200);
    ck_assert_int_eq(rd_kafka_mock_broker_push_request_error_rtts(
                         mock, 1, 0 /* Produce */, 1, RD_KAFKA_RESP_ERR_INVALID_RECORD, 0),
                     0);
    process_until(&r->snk, 600);
    ck_assert_int_ge(atomic_load(&r->snk.metrics.write_fail), 1);
    long long created = atomic_load(&r->snk.metrics.connection_created);

    ck_assert_int_eq(
        rd_kafka_mock_broker_push_request_error_rtts(mock, 3, 24 /* AddPartitionsToTxn */, 1,
                                                     RD_KAFKA_RESP_ERR_PRODUCER_FENCED, 0),
        0);
    process_until(&r->snk, 1000);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.connection_created), created + 1);

    ck_assert_int_eq(rd_kafka_mock_broker_push_request_error_rtts(
                         mock, 3, 26 /* EndTxn */, 1, RD_KAFKA_RESP_ERR_PRODUCER_FENCED, 0),
                     0);
    ck_assert(drain(&r->snk, 30000));
    sf_log_set_level(lvl);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.connection_created), created + 2);
    ck_assert_int_ge(atomic_load(&r->snk.metrics.write_fail), 3);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n);
    rig_free(r);

    check_rows_once("eosfail", "t", n);
    struct posrecs p = read_posrecs("eos-fail");
    size_t aborted = 0;
    for (size_t i = 0; i < p.n; i++) {
        aborted += !p.v[i].committed;
    }
    size_t committed = check_committed_cover(&p, "eosfail", "t", n);
    ck_assert_uint_eq(committed + aborted, p.n);
    if (getenv("SF_TEST_DEBUG")) {
        printf("eos errors: %zu position records, %zu committed, %zu aborted but visible\n", p.n,
               committed, aborted);
    }
    char off[64];
    ck_assert(posrec_pos(p.v[p.n - 1].text, "eosfail", "t", off, sizeof(off)));
    ck_assert_str_eq(off, "1999");
    posrecs_free(&p);
}
END_TEST

SF_UNIT_SUITE(kafka_eos)
{
    kafka_harness_init();
    Suite *s = suite_create("kafka_eos");
    TCase *tk = tcase_create("kafka_eos");
    tcase_add_checked_fixture(tk, mock_setup, mock_teardown);
    tcase_set_timeout(tk, (double)(90 * time_mult));
    tcase_add_test(tk, kafka_eos_poison);
    tcase_add_test(tk, kafka_eos_config_errors);
    tcase_add_test(tk, kafka_eos_exactly_once);
    tcase_add_test(tk, kafka_eos_flume_event_format_headers);
    tcase_add_test(tk, kafka_eos_crash_after_kafka_commit);
    tcase_add_test(tk, kafka_eos_errors_roll_back);
    tcase_add_test(tk, kafka_eos_late_rows);
    tcase_add_test(tk, kafka_eos_skip_only_batches);
    tcase_add_test(tk, kafka_eos_sparse_ids);
    tcase_add_test(tk, kafka_eos_text_offsets);
    tcase_add_test(tk, kafka_eos_reads_format_1);
    suite_add_tcase(s, tk);
    return s;
}
