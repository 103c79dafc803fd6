/* topics.c: topics: templating, partitioner choice, the handle cache (see kafka_int.h). */
#include "kafka_int.h"

/* ---- topics ---- */

void kf_topic_parts_free(struct kafka_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nparts; i++) {
        free(ctx->parts[i].text);
    }
    free(ctx->parts);
    ctx->parts = NULL;
    ctx->nparts = 0;
}

/* Append one literal or %{header} part. @return SF_OK, or SF_ERR_NOMEM. */
static int topic_part_add(struct kafka_ctx *ctx, bool is_header, const char *s, size_t len)
{
    struct topic_part *v = realloc(ctx->parts, (ctx->nparts + 1) * sizeof(*v));
    if (!v) {
        return SF_ERR_NOMEM;
    }
    ctx->parts = v;
    char *text = strndup(s, len);
    if (!text) {
        return SF_ERR_NOMEM;
    }
    v[ctx->nparts++] = (struct topic_part){ .is_header = is_header, .text = text };
    return SF_OK;
}

/* Split kafka.topic into literals and %{header}s; nparts stays 0 for a topic without any.
 * @return SF_OK, or SF_ERR_NOMEM. */
int kf_topic_parse(struct kafka_ctx *ctx)
{
    const char *t = ctx->topic, *lit = t;
    if (!strstr(t, "%{")) {
        return SF_OK;
    }
    for (const char *p = t; *p;) {
        const char *end;
        if (p[0] == '%' && p[1] == '{' && (end = strchr(p + 2, '}')) != NULL) {
            if ((p > lit && topic_part_add(ctx, false, lit, (size_t)(p - lit)) != SF_OK) ||
                topic_part_add(ctx, true, p + 2, (size_t)(end - p - 2)) != SF_OK) {
                return SF_ERR_NOMEM;
            }
            p = lit = end + 1;
        } else {
            p++;
        }
    }
    if (*lit && topic_part_add(ctx, false, lit, strlen(lit)) != SF_OK) {
        return SF_ERR_NOMEM;
    }
    return SF_OK;
}

/* The topic name of ev: borrowed from ev, ctx->topic or ctx->topic_buf (until the next call). */
const char *kf_topic_of(struct kafka_ctx *ctx, const struct sf_event *ev)
{
    if (ctx->allow_topic_override) {
        const char *t = sf_event_header(ev, ctx->topic_header);
        if (t) {
            return t;
        }
    }
    if (ctx->nparts == 0) {
        return ctx->topic;
    }
    sf_buf_reset(&ctx->topic_buf);
    for (size_t i = 0; i < ctx->nparts; i++) {
        const char *s = ctx->parts[i].text;
        if (ctx->parts[i].is_header) {
            s = sf_event_header(ev, s);
        }
        if (s) {
            sf_buf_puts(&ctx->topic_buf, s);
        }
    }
    sf_buf_putc(&ctx->topic_buf, '\0'); /* make data non-NULL even for an empty name */
    ctx->topic_buf.len--;
    return ctx->topic_buf.data;
}

void kf_cache_free(struct kafka_ctx *ctx)
{
    for (size_t i = 0; i < ctx->cache_n; i++) {
        rd_kafka_topic_destroy(ctx->cache[i].rkt);
        free(ctx->cache[i].name);
    }
    free(ctx->cache);
    ctx->cache = NULL;
    ctx->cache_cap = ctx->cache_n = 0;
    sf_hmap_free(&ctx->cache_index);
}

/* Room in ctx->cache for one more entry; false on out of memory. */
static bool cache_room(struct kafka_ctx *ctx)
{
    if (ctx->cache_n < ctx->cache_cap) {
        return true;
    }
    size_t cap = ctx->cache_cap ? ctx->cache_cap * 2 : 16;
    struct topic_entry *v = realloc(ctx->cache, cap * sizeof(*v));
    if (!v) {
        return false;
    }
    ctx->cache = v;
    ctx->cache_cap = cap;
    return true;
}

/* The partitioner callback of topics made by topic_create: librdkafka's own function, noting the
 * partition count it was called with. Called from any librdkafka thread. */
static int32_t partition_learn_cb(const rd_kafka_topic_t *rkt,
                                  const void *key,
                                  size_t key_len,
                                  int32_t partition_cnt,
                                  void *rkt_opaque,
                                  void *msg_opaque)
{
    struct topic_meta *tm = rkt_opaque;
    atomic_store(&tm->part_cnt, partition_cnt);
    return tm->fn(rkt, key, key_len, partition_cnt, rkt_opaque, msg_opaque);
}

/* librdkafka's partitioner of that name (its "partitioner" property), when it places a keyed
 * message by its key alone so the sink may call it too; NULL for "random" and unknown names. */
partitioner_fn kf_partitioner_by_name(const char *name)
{
    static const struct {
        const char *name;
        partitioner_fn fn;
    } fns[] = {
        { "consistent_random", rd_kafka_msg_partitioner_consistent_random },
        { "consistent", rd_kafka_msg_partitioner_consistent },
        { "murmur2_random", rd_kafka_msg_partitioner_murmur2_random },
        { "murmur2", rd_kafka_msg_partitioner_murmur2 },
        { "fnv1a_random", rd_kafka_msg_partitioner_fnv1a_random },
        { "fnv1a", rd_kafka_msg_partitioner_fnv1a },
    };
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        if (strcmp(fns[i].name, name) == 0) {
            return fns[i].fn;
        }
    }
    return NULL;
}

/* A new topic handle for name; with ctx->partitioner, its conf (a copy of the default topic
 * conf) gets a topic_meta. NULL when librdkafka refuses the name. */
rd_kafka_topic_t *kf_topic_create(struct kafka_ctx *ctx, const char *name)
{
    struct topic_meta *tm = ctx->partitioner ? calloc(1, sizeof(*tm)) : NULL;
    rd_kafka_topic_conf_t *tc = tm ? rd_kafka_default_topic_conf_dup(ctx->rk) : NULL;
    if (!tc) {
        free(tm);
        return rd_kafka_topic_new(ctx->rk, name, NULL);
    }
    tm->fn = ctx->partitioner;
    atomic_init(&tm->part_cnt, 0);
    rd_kafka_topic_conf_set_partitioner_cb(tc, partition_learn_cb);
    rd_kafka_topic_conf_set_opaque(tc, tm);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(ctx->rk, name, tc); /* frees tc */
    if (!rkt) {
        free(tm);
        return NULL;
    }
    tm->next = ctx->metas;
    ctx->metas = tm;
    return rkt;
}

/* A topic handle for name: cached, or (*temp set) to be destroyed by the caller after use.
 * NULL when librdkafka refuses the name (errno set). */
rd_kafka_topic_t *kf_topic_get(struct kafka_ctx *ctx, const char *name, bool *temp)
{
    *temp = false;
    if (ctx->static_rkt && name == ctx->topic) {
        return ctx->static_rkt;
    }
    uint64_t key = sf_hmap_key_str(name);
    size_t pos = SIZE_MAX;
    for (struct sf_hmap_slot *sl; (sl = sf_hmap_next(&ctx->cache_index, key, &pos));) {
        if (strcmp(ctx->cache[sl->val].name, name) == 0) {
            return ctx->cache[sl->val].rkt;
        }
    }
    char *copy = NULL;
    if (ctx->cache_n >= TOPIC_CACHE_MAX || !cache_room(ctx) ||
        sf_hmap_reserve(&ctx->cache_index, ctx->cache_n + 1) != SF_OK || !(copy = strdup(name))) {
        *temp = true;
        return rd_kafka_topic_new(ctx->rk, name, NULL);
    }
    rd_kafka_topic_t *rkt = kf_topic_create(ctx, name);
    if (!rkt) {
        free(copy);
        return NULL;
    }
    (void)sf_hmap_add(&ctx->cache_index, key, ctx->cache_n); /* reserved above: cannot fail */
    ctx->cache[ctx->cache_n] = (struct topic_entry){ .name = copy, .rkt = rkt };
    ctx->cache_n++;
    return rkt;
}
