/*
 * Flume's AvroSink ("avro", org.apache.flume.sink.AvroSink): sends the events to a Flume
 * AvroSource (or any AvroSourceProtocol server, such as Spark Streaming's push receiver) over
 * Avro RPC with Netty framing (src/rpc/avro_rpc.h).
 *
 * Delivery: one take transaction of up to batch-size events per step, sent as one appendBatch
 * call (src/rpc/avro_client.h) through the acknowledged-sink pipeline (sqlflume/sink_pipeline.h)
 * in its synchronous shape: send writes the call and waits up to request-timeout ms for the
 * reply; the batch is acknowledged, and its take commits, only when the server answers OK.
 * FAILED or UNKNOWN, an error reply, a timeout, a malformed reply or a broken connection roll the
 * batch back (the events stay in the channel), close the connection, and the runner backs off
 * before the next attempt reconnects. A batch the server committed but whose OK was lost is sent
 * again (at-least-once, as Flume). While failures persist, one ERROR line per cause per minute.
 *
 * The handshake goes with the first call of each connection (as Java's NettyTransceiver). A
 * reply is bounded at SF_AVRO_RPC_MAX_MESSAGE_DEFAULT bytes; a larger one closes the
 * connection. reset-connection-interval (seconds, 0 = never) closes the connection before the
 * next batch once it is that old, as Flume does to rebalance behind a load balancer.
 *
 * compression-type = deflate compresses the whole connection (src/rpc/avro_stream.h: one zlib
 * stream each way, each call sync-flushed, at compression-level), as Flume's AvroSink; the
 * AvroSource must be set to deflate too. A server that does not decompress closes the connection
 * (or never answers): the batch fails like any other, with a hint in its ERROR line.
 *
 * ssl = true: TLS to the AvroSource (src/rpc/avro_tls.h, OpenSSL), under the deflate stream
 * when both are on. The server's certificate chain is checked against truststore (PEM or
 * PKCS12; Java's JKS is refused), the system's CA certificates without one, or not at all with
 * trust-all-certs; its host name is not checked (as Flume's NettyAvroRpcClient). A handshake
 * that fails is a failed connection: the batch stays in the channel and is retried.
 */
#include "../rpc/avro_client.h"
#include "../rpc/avro_tls.h"

#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/sink.h"
#include "sqlflume/sink_pipeline.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum { COMP_NONE, COMP_DEFLATE };

struct avro_sink_ctx {
    /* options */
    char *hostname;
    long long port;
    long long batch_size;
    long long connect_timeout_ms;
    long long request_timeout_ms;
    long long reset_interval_s;
    int compression;
    long long compression_level;
    bool ssl;
    bool trust_all;
    char *truststore;
    char *truststore_password;
    char *truststore_type;
    char *exclude_protocols;
    /* state */
    SSL_CTX *tls; /* with ssl */
    struct sf_sink_pipeline pl;
    struct sf_avro_client cl; /* the connection */
    /* error reporting */
    long long failures;   /* consecutive failed batches */
    struct sf_sink_repeat rep;
};

static const struct sf_option avro_sink_options[] = {
    { "hostname", SF_OPT_STRING, NULL, 0, 0, offsetof(struct avro_sink_ctx, hostname),
      SF_OPT_REQUIRED, NULL, NULL, "host name or address of the AvroSource to send to" },
    { "port", SF_OPT_INT, NULL, 1, 65535, offsetof(struct avro_sink_ctx, port), SF_OPT_REQUIRED,
      NULL, NULL, "its TCP port" },
    { "batch-size", SF_OPT_INT, "100", 1, 1000000, offsetof(struct avro_sink_ctx, batch_size), 0,
      NULL, NULL, "maximum number of events per take transaction, sent as one appendBatch call" },
    { "connect-timeout", SF_OPT_INT, "20000", 1, 3600000,
      offsetof(struct avro_sink_ctx, connect_timeout_ms), 0, NULL, NULL,
      "milliseconds a connection attempt may take" },
    { "request-timeout", SF_OPT_INT, "20000", 1, 3600000,
      offsetof(struct avro_sink_ctx, request_timeout_ms), 0, NULL, NULL,
      "milliseconds to wait for the reply to a call; past it the batch is rolled back and sent "
      "again on a new connection" },
    { "reset-connection-interval", SF_OPT_INT, "0", 0, 1000000000,
      offsetof(struct avro_sink_ctx, reset_interval_s), 0, NULL, NULL,
      "seconds after which the connection is closed and made again before the next batch; 0 = "
      "never" },
    { "compression-type", SF_OPT_ENUM, "none", 0, 0, offsetof(struct avro_sink_ctx, compression), 0,
      NULL, "none|deflate",
      "deflate: compress the connection with zlib (the AvroSource must use deflate too)" },
    { "compression-level", SF_OPT_INT, "6", 0, 9, offsetof(struct avro_sink_ctx, compression_level),
      0, NULL, NULL, "deflate level, 0-9; needs compression-type = deflate" },
    { "ssl", SF_OPT_BOOL, "false", 0, 0, offsetof(struct avro_sink_ctx, ssl), 0, NULL, NULL,
      "TLS to the AvroSource (OpenSSL)" },
    { "trust-all-certs", SF_OPT_BOOL, "false", 0, 0, offsetof(struct avro_sink_ctx, trust_all), 0,
      NULL, NULL, "with ssl = true: accept any server certificate" },
    { "truststore", SF_OPT_STRING, NULL, 0, 0, offsetof(struct avro_sink_ctx, truststore), 0, NULL,
      NULL,
      "with ssl = true: file of the certificates the server's chain must lead to (default: the "
      "system's CA certificates); the host name is not checked, as in Flume" },
    { "truststore-password", SF_OPT_STRING, NULL, 0, 0,
      offsetof(struct avro_sink_ctx, truststore_password), SF_OPT_SECRET, NULL, NULL,
      "password of a PKCS12 truststore" },
    { "truststore-type", SF_OPT_STRING, "JKS", 0, 0,
      offsetof(struct avro_sink_ctx, truststore_type), 0, NULL, NULL,
      "PEM or PKCS12 (Java's JKS cannot be read: convert it with keytool -importkeystore "
      "-deststoretype PKCS12)" },
    { "exclude-protocols", SF_OPT_STRING, "SSLv3", 0, 0,
      offsetof(struct avro_sink_ctx, exclude_protocols), 0, NULL, NULL,
      "space-separated protocols not to use: SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3" },
    { "maxIoWorkers", SF_OPT_UNSUPPORTED, NULL, 0, 0, 0, 0, NULL, NULL,
      "Netty's I/O thread count: the sink uses one connection on its own thread" },
    { 0 },
};

static void disconnect(struct sf_sink *snk)
{
    struct avro_sink_ctx *ctx = snk->ctx;
    if (sf_avro_client_close(&ctx->cl)) {
        atomic_fetch_add(&snk->metrics.connection_closed, 1);
    }
}

/* Connect to hostname:port. @return SF_OK or SF_ERR_IO / SF_ERR_NOMEM (reported) */
static int connect_server(struct sf_sink *snk)
{
    struct avro_sink_ctx *ctx = snk->ctx;
    char err[512];
    int rc = sf_avro_client_connect(&ctx->cl, ctx->hostname, ctx->port, ctx->connect_timeout_ms,
                                    err, sizeof(err));
    if (rc != SF_OK) {
        atomic_fetch_add(&snk->metrics.connection_failed, 1);
        sf_sink_report(snk, &ctx->rep, NULL,
                       "%s; the events stay in channel \"%s\" and are retried", err, snk->ch->name);
        return rc;
    }
    atomic_fetch_add(&snk->metrics.connection_created, 1);
    SF_DEBUG(SF_SINK_FMT "connected to %s:%lld", SF_SINK_ARGS(snk), ctx->hostname, ctx->port);
    return SF_OK;
}

static int avro_send(struct sf_sink *snk, struct sf_pipeline_batch *b)
{
    struct avro_sink_ctx *ctx = snk->ctx;
    if (ctx->cl.fd >= 0 && ctx->reset_interval_s > 0 &&
        sf_mono_ms() - ctx->cl.opened_ms >= ctx->reset_interval_s * 1000) {
        SF_DEBUG(SF_SINK_FMT "reset-connection-interval passed: reconnecting", SF_SINK_ARGS(snk));
        disconnect(snk);
    }
    if (ctx->cl.fd < 0 && connect_server(snk) != SF_OK) {
        ctx->failures++;
        return SF_ERR_IO;
    }
    char detail[256];
    const char *fail = sf_avro_client_append_batch(&ctx->cl, b->evs, b->n, ctx->request_timeout_ms,
                                                   detail, sizeof(detail));
    if (fail) {
        char key[sizeof(ctx->rep.key)];
        snprintf(key, sizeof(key), "%s: %s", fail, detail);
        sf_sink_report(snk, &ctx->rep, key,
                       "appendBatch of %zu events to %s:%lld: %s: %s; rolled back, the events "
                       "stay in channel \"%s\" and are sent again on a new connection",
                       b->n, ctx->hostname, ctx->port, fail, detail, snk->ch->name);
        atomic_fetch_add(&snk->metrics.write_fail, 1);
        disconnect(snk);
        ctx->failures++;
        return SF_ERR_IO;
    }
    if (ctx->failures > 0) {
        SF_INFO(SF_SINK_FMT "delivering to %s:%lld again after %lld failed attempts",
                SF_SINK_ARGS(snk), ctx->hostname, ctx->port, ctx->failures);
        ctx->failures = 0;
        ctx->rep.key[0] = '\0';
    }
    (void)sf_sink_pipeline_ack(&ctx->pl, b, b->n);
    return SF_OK;
}

static const struct sf_sink_pipeline_ops avro_pipeline_ops = {
    .send = avro_send,
};

static int avro_configure(struct sf_sink *snk, struct sf_diag *d)
{
    const struct avro_sink_ctx *ctx = snk->ctx;
    int rc = 0;
    if (!ctx->hostname || !*ctx->hostname) {
        sf_diag_error(d, sf_section_get(snk->conf, "hostname"), "must name a host");
        rc = -1;
    }
    if (ctx->compression != COMP_DEFLATE && sf_section_get(snk->conf, "compression-level")) {
        sf_diag_error(d, sf_section_get(snk->conf, "compression-level"),
                      "needs compression-type = deflate");
        rc = -1;
    }
    static const char *const tls_keys[] = { "trust-all-certs", "truststore", "truststore-password",
                                            "truststore-type", "exclude-protocols" };
    for (size_t i = 0; i < sizeof(tls_keys) / sizeof(tls_keys[0]) && !ctx->ssl; i++) {
        const struct sf_prop *at = sf_section_get(snk->conf, tls_keys[i]);
        if (at) {
            sf_diag_error(d, at, "needs ssl = true");
            rc = -1;
        }
    }
    const char *why = ctx->truststore ? sf_avro_tls_check_type(ctx->truststore_type) : NULL;
    if (ctx->ssl && why) {
        const struct sf_prop *at = sf_section_get(snk->conf, "truststore-type");
        sf_diag_error(d, at ? at : sf_section_get(snk->conf, "truststore"), "%s", why);
        rc = -1;
    }
    if (ctx->ssl && (why = sf_avro_tls_check_exclude(ctx->exclude_protocols))) {
        sf_diag_error(d, sf_section_get(snk->conf, "exclude-protocols"), "%s", why);
        rc = -1;
    }
    return rc;
}

static int avro_start(struct sf_sink *snk, char *errstr, size_t errstr_size)
{
    struct avro_sink_ctx *ctx = snk->ctx;
    ctx->cl.deflate = ctx->compression == COMP_DEFLATE;
    ctx->cl.level = (int)ctx->compression_level;
    ctx->cl.stopping = &snk->stopping;
    sf_avro_client_init(&ctx->cl);
    if (ctx->ssl) {
        struct sf_avro_tls_opts o = {
            false,          ctx->truststore,       ctx->truststore_password, ctx->truststore_type,
            ctx->trust_all, ctx->exclude_protocols
        };
        ctx->tls = sf_avro_tls_ctx(&o, errstr, errstr_size);
        if (!ctx->tls) {
            return SF_ERR_INVAL;
        }
        ctx->cl.tls = ctx->tls;
    }
    if (sf_sink_pipeline_init(&ctx->pl, snk, &avro_pipeline_ops, 1, ctx->batch_size) != SF_OK) {
        (void)snprintf(errstr, errstr_size, "out of memory for a batch of %lld events",
                       ctx->batch_size);
        return SF_ERR_NOMEM;
    }
    /* connected at the first batch: a server that is not up yet is retried like a lost one */
    return SF_OK;
}

static enum sf_status avro_process(struct sf_sink *snk)
{
    struct avro_sink_ctx *ctx = snk->ctx;
    return sf_sink_pipeline_process(&ctx->pl);
}

static void avro_stop(struct sf_sink *snk)
{
    struct avro_sink_ctx *ctx = snk->ctx;
    /* synchronous: nothing is in flight between steps */
    sf_sink_pipeline_rollback_all(&ctx->pl);
    sf_sink_pipeline_summary(&ctx->pl);
    sf_sink_pipeline_free(&ctx->pl);
    disconnect(snk);
    sf_avro_client_free(&ctx->cl);
    SSL_CTX_free(ctx->tls);
    ctx->tls = NULL;
}

static const char *const avro_aliases[] = { "org.apache.flume.sink.AvroSink", NULL };

const struct sf_sink_plugin sf_sink_avro = {
    .name = "avro",
    .aliases = avro_aliases,
    .options = avro_sink_options,
    .ctx_size = sizeof(struct avro_sink_ctx),
    .configure = avro_configure,
    .start = avro_start,
    .process = avro_process,
    .stop = avro_stop,
};
