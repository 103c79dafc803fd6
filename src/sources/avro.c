/*
 * Flume's AvroSource ("avro", org.apache.flume.source.AvroSource): an AvroSourceProtocol server
 * (src/rpc/avro_rpc.h: Netty framing, the Avro IPC handshake, append and appendBatch) that an
 * upstream agent's Avro sink, Flume's AvroSink or `flume-ng avro-client` sends events to.
 *
 * Threads: the source runner's process() step accepts connections on the listener (bind:port)
 * and serves each one on a thread of its own, at most `threads` connections at once; further
 * connections wait in the listen backlog until one closes (Flume serves them on a pool of that
 * many threads; its default is unbounded, ours 64).
 *
 * Delivery: each call's events are put into every channel in one put transaction per channel
 * (sf_source_deliver_try) and the reply is OK only once every put has committed. A channel that
 * cannot take the batch now makes the answer FAILED (Flume: ChannelException -> Status.FAILED);
 * the client keeps the events and sends them again, so nothing is lost, and an OK that is lost
 * on the way makes the client send a batch twice (at least once, as Flume). The events carry no
 * offset and no ack tracker: once committed to the channels they are the channels'.
 *
 * Errors: a call that does not parse, or a message over SF_AVRO_RPC_MAX_MESSAGE_DEFAULT bytes
 * (refused on its frame header, before anything is allocated for it), closes that connection
 * with a WARN; the server goes on. The handshake is read on a connection's first call (and
 * again until it is answered with something other than NONE) and taken on later calls too when
 * the client sends it every time (Python's avro.ipc).
 *
 * ipFilter / ipFilterRules: a comma-separated list of allow|deny:ip|name:PATTERN, PATTERN a
 * glob (fnmatch: * ? [..]) matched against the peer's address (ip) or its reverse-DNS name
 * (name); the first rule that matches decides, and a connection no rule matches is allowed
 * (Netty's IpFilterRuleHandler). A denied connection is closed at once with a WARN.
 *
 * compression-type = deflate: every connection is expected compressed (src/rpc/avro_stream.h:
 * one zlib stream each way, each reply sync-flushed at level 6, as Flume's AvroSource); bytes
 * that do not inflate close the connection with a WARN. A plain source that receives what looks
 * like a zlib stream says so in the WARN that closes the connection. Both ends must agree.
 *
 * ssl = true: every connection is TLS (src/rpc/avro_tls.h, OpenSSL), the deflate stream inside
 * it when both are on; the certificate and key come from keystore (PKCS12, or PEM with the
 * chain and the key; Java's JKS is refused), the handshake runs on the connection's thread and
 * one that fails closes the connection with a WARN.
 */
#include "../rpc/avro_rpc.h"
#include "../rpc/avro_stream.h"
#include "../rpc/avro_tls.h"

#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/mem.h"
#include "sqlflume/source.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long a step waits on the listener, and a connection on its socket, between looks at the
 * stop flag (ms). */
#define POLL_MS 100
/* How long a reply may take to send, and longer once the agent is stopping (ms). */
#define SEND_TIMEOUT_MS 20000
/* A message begun and not completed within this long closes the connection (Flume's clients
 * give up on a call after request-timeout, 20 s by default). An idle connection with no message
 * begun is kept, as Netty's: a sink whose channel is empty sends nothing. */
#define PARTIAL_TIMEOUT_MS 20000
/* Client protocol hashes remembered across connections (learnt from their protocol text). */
#define KNOWN_HASHES 16
/* At most one WARN a cause this often while the channels stay full (ms). */
#define FULL_LOG_MS 10000
/* The deflate level of the replies (Flume's AvroSource: ZlibEncoder(6)). */
#define DEFLATE_LEVEL 6

enum { COMP_NONE, COMP_DEFLATE };

struct rule {
    bool allow;
    bool name; /* match the reverse-DNS name, not the address */
    char *pattern;
};

struct conn {
    struct sf_source *src;
    int fd;
    pthread_t thread;
    atomic_bool done;
    char peer[INET6_ADDRSTRLEN + 8];
    struct conn *next;
};

struct avro_src_ctx {
    /* options */
    char *bind;
    long long port;
    long long threads;
    int compression;
    bool ssl;
    char *keystore;
    char *keystore_password;
    char *keystore_type;
    char *exclude_protocols;
    bool ip_filter;
    char *ip_filter_rules;
    /* state */
    SSL_CTX *tls; /* with ssl */
    struct rule *rules;
    size_t nrules;
    bool name_rules; /* some rule needs the peer's name */
    int lfd;
    int bound_port;
    pthread_mutex_t mu; /* conns, nconns, hashes */
    bool mu_init;
    struct conn *conns;
    long long nconns;
    unsigned char hashes[KNOWN_HASHES][16];
    size_t nhashes;
    atomic_llong full_logged_ms; /* sf_mono_ms of the last "cannot take" WARN, 0 none */
};

static const struct sf_option avro_src_options[] = {
    { "bind", SF_OPT_STRING, NULL, 0, 0, offsetof(struct avro_src_ctx, bind), SF_OPT_REQUIRED, NULL,
      NULL, "host name or address to listen on (0.0.0.0: every IPv4 address)" },
    { "port", SF_OPT_INT, NULL, 0, 65535, offsetof(struct avro_src_ctx, port), SF_OPT_REQUIRED,
      NULL, NULL, "TCP port to listen on (0: one the system picks, logged at start)" },
    { "threads", SF_OPT_INT, "64", 1, 4096, offsetof(struct avro_src_ctx, threads), 0, NULL, NULL,
      "connections served at once, a thread each; more wait in the listen backlog" },
    { "compression-type", SF_OPT_ENUM, "none", 0, 0, offsetof(struct avro_src_ctx, compression), 0,
      NULL, "none|deflate",
      "deflate: expect every connection compressed with zlib (the clients must use deflate "
      "too)" },
    { "ssl", SF_OPT_BOOL, "false", 0, 0, offsetof(struct avro_src_ctx, ssl), 0, NULL, NULL,
      "TLS on every connection (OpenSSL); needs keystore" },
    { "keystore", SF_OPT_STRING, NULL, 0, 0, offsetof(struct avro_src_ctx, keystore), 0, NULL, NULL,
      "with ssl = true: file of the server's certificate (chain) and private key" },
    { "keystore-password", SF_OPT_STRING, NULL, 0, 0,
      offsetof(struct avro_src_ctx, keystore_password), SF_OPT_SECRET, NULL, NULL,
      "password of the keystore (PKCS12), or of the PEM private key" },
    { "keystore-type", SF_OPT_STRING, "JKS", 0, 0, offsetof(struct avro_src_ctx, keystore_type), 0,
      NULL, NULL,
      "PKCS12 or PEM (Java's JKS cannot be read: convert it with keytool -importkeystore "
      "-deststoretype PKCS12)" },
    { "exclude-protocols", SF_OPT_STRING, "SSLv3", 0, 0,
      offsetof(struct avro_src_ctx, exclude_protocols), 0, NULL, NULL,
      "space-separated protocols not to use: SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3" },
    { "ipFilter", SF_OPT_BOOL, "false", 0, 0, offsetof(struct avro_src_ctx, ip_filter), 0, NULL,
      NULL, "filter connections by ipFilterRules" },
    { "ipFilterRules", SF_OPT_STRING, NULL, 0, 0, offsetof(struct avro_src_ctx, ip_filter_rules), 0,
      NULL, NULL,
      "with ipFilter = true: comma-separated allow|deny:ip|name:PATTERN (glob), first match wins, "
      "no match allows; e.g. allow:ip:127.*,allow:name:localhost,deny:ip:*" },
    { 0 },
};

static void rules_free(struct rule *rules, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rules[i].pattern);
    }
    free(rules);
}

/* Parse ipFilterRules text. @param out  NULL to validate only; else gets the rules (caller
 * frees with rules_free). @return SF_OK, SF_ERR_INVAL (why in err), SF_ERR_NOMEM */
static int rules_parse(const char *text, struct rule **out, size_t *nout, char *err,
                       size_t err_size)
{
    struct rule *rules = NULL;
    size_t n = 0;
    int rc = SF_OK;
    const char *p = text;
    for (;;) {
        size_t len = strcspn(p, ",");
        const char *s = p, *e = p + len;
        while (s < e && (*s == ' ' || *s == '\t')) {
            s++;
        }
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }
        bool allow = false, name = false;
        size_t kl = (size_t)(e - s);
        size_t skip = 0;
        if (kl > 6 && strncmp(s, "allow:", 6) == 0) {
            allow = true;
            skip = 6;
        } else if (kl > 5 && strncmp(s, "deny:", 5) == 0) {
            skip = 5;
        }
        if (skip && kl - skip > 3 && strncmp(s + skip, "ip:", 3) == 0) {
            skip += 3;
        } else if (skip && kl - skip > 5 && strncmp(s + skip, "name:", 5) == 0) {
            name = true;
            skip += 5;
        } else {
            skip = 0;
        }
        if (skip == 0 || skip == kl) {
            snprintf(err, err_size, "rule %zu \"%.*s\" is not allow|deny:ip|name:PATTERN", n + 1,
                     (int)kl, s);
            rc = SF_ERR_INVAL;
            break;
        }
        if (out) {
            struct rule *g = realloc(rules, (n + 1) * sizeof(*g));
            char *pat = g ? sf_strndup(s + skip, kl - skip) : NULL;
            if (!pat) {
                rules = g ? g : rules;
                rc = SF_ERR_NOMEM;
                snprintf(err, err_size, "out of memory");
                break;
            }
            rules = g;
            rules[n] = (struct rule){ allow, name, pat };
        }
        n++;
        if (p[len] == '\0') {
            break;
        }
        p += len + 1;
    }
    if (rc != SF_OK || !out) {
        rules_free(rules, out ? n : 0);
        return rc;
    }
    *out = rules;
    *nout = n;
    return SF_OK;
}

/* A host name or an address literal, without blanks and not too long (the resolver decides at
 * start whether it exists). */
static bool bind_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253) {
        return false;
    }
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:_%") == n;
}

static int avro_src_configure(struct sf_source *src, struct sf_diag *d)
{
    const struct avro_src_ctx *ctx = src->ctx;
    int rc = SF_OK;
    if (!ctx->bind || !bind_ok(ctx->bind)) {
        sf_diag_error(d, sf_section_get(src->conf, "bind"),
                      "must be a host name or an address to listen on");
        rc = SF_ERR_INVAL;
    }
    static const char *const tls_keys[] = { "keystore", "keystore-password", "keystore-type",
                                            "exclude-protocols" };
    for (size_t i = 0; i < sizeof(tls_keys) / sizeof(tls_keys[0]) && !ctx->ssl; i++) {
        const struct sf_prop *at = sf_section_get(src->conf, tls_keys[i]);
        if (at) {
            sf_diag_error(d, at, "needs ssl = true");
            rc = SF_ERR_INVAL;
        }
    }
    const char *why = NULL;
    if (ctx->ssl && !ctx->keystore) {
        sf_diag_error(d, sf_section_get(src->conf, "ssl"), "needs keystore");
        rc = SF_ERR_INVAL;
    } else if (ctx->ssl && (why = sf_avro_tls_check_type(ctx->keystore_type))) {
        const struct sf_prop *at = sf_section_get(src->conf, "keystore-type");
        sf_diag_error(d, at ? at : sf_section_get(src->conf, "keystore"), "%s", why);
        rc = SF_ERR_INVAL;
    }
    if (ctx->ssl && (why = sf_avro_tls_check_exclude(ctx->exclude_protocols))) {
        sf_diag_error(d, sf_section_get(src->conf, "exclude-protocols"), "%s", why);
        rc = SF_ERR_INVAL;
    }
    if (ctx->ip_filter && !ctx->ip_filter_rules) {
        sf_diag_error(d, sf_section_get(src->conf, "ipFilter"), "needs ipFilterRules");
        rc = SF_ERR_INVAL;
    }
    if (ctx->ip_filter_rules) {
        char err[256];
        if (!ctx->ip_filter) {
            sf_diag_error(d, sf_section_get(src->conf, "ipFilterRules"), "needs ipFilter = true");
            rc = SF_ERR_INVAL;
        } else if (rules_parse(ctx->ip_filter_rules, NULL, NULL, err, sizeof(err)) != SF_OK) {
            sf_diag_error(d, sf_section_get(src->conf, "ipFilterRules"), "%s", err);
            rc = SF_ERR_INVAL;
        }
    }
    return rc;
}

static int avro_src_start(struct sf_source *src, char *errstr, size_t errstr_size)
{
    struct avro_src_ctx *ctx = src->ctx;
    ctx->lfd = -1;
    pthread_mutex_init(&ctx->mu, NULL);
    ctx->mu_init = true;
    if (ctx->ip_filter &&
        rules_parse(ctx->ip_filter_rules, &ctx->rules, &ctx->nrules, errstr, errstr_size) !=
            SF_OK) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < ctx->nrules; i++) {
        ctx->name_rules |= ctx->rules[i].name;
    }
    if (ctx->ssl) {
        struct sf_avro_tls_opts o = {
            true,  ctx->keystore,         ctx->keystore_password, ctx->keystore_type,
            false, ctx->exclude_protocols
        };
        ctx->tls = sf_avro_tls_ctx(&o, errstr, errstr_size);
        if (!ctx->tls) {
            return SF_ERR_INVAL;
        }
    }
    char port[16];
    snprintf(port, sizeof(port), "%lld", ctx->port);
    struct addrinfo hints = { 0 }, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int g = getaddrinfo(ctx->bind, port, &hints, &res);
    if (g != 0) {
        snprintf(errstr, errstr_size, "bind %s: %s", ctx->bind, gai_strerror(g));
        return SF_ERR_IO;
    }
    int e = 0;
    for (struct addrinfo *ai = res; ai && ctx->lfd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
            e = errno;
            close(fd);
            continue;
        }
        ctx->lfd = fd;
    }
    freeaddrinfo(res);
    if (ctx->lfd < 0) {
        snprintf(errstr, errstr_size, "cannot listen on %s:%lld: %s", ctx->bind, ctx->port,
                 strerror(e));
        return SF_ERR_IO;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(ctx->lfd, (struct sockaddr *)&ss, &sl) == 0) {
        ctx->bound_port = ntohs(ss.ss_family == AF_INET6
                                    ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                    : ((struct sockaddr_in *)&ss)->sin_port);
    }
    SF_INFO(SF_SOURCE_FMT "listening on %s:%d (at most %lld connections at once)",
            SF_SOURCE_ARGS(src), ctx->bind, ctx->bound_port, ctx->threads);
    return SF_OK;
}

/* Is hash a client protocol this server has seen the text of? */
static bool hash_known(struct avro_src_ctx *ctx, const unsigned char *hash)
{
    bool known = false;
    pthread_mutex_lock(&ctx->mu);
    for (size_t i = 0; i < ctx->nhashes && !known; i++) {
        known = memcmp(ctx->hashes[i], hash, 16) == 0;
    }
    pthread_mutex_unlock(&ctx->mu);
    return known;
}

static void hash_learn(struct avro_src_ctx *ctx, const unsigned char *hash)
{
    if (hash_known(ctx, hash)) {
        return;
    }
    pthread_mutex_lock(&ctx->mu);
    size_t at = ctx->nhashes < KNOWN_HASHES ? ctx->nhashes++ : 0;
    memcpy(ctx->hashes[at], hash, 16);
    pthread_mutex_unlock(&ctx->mu);
}

/* Send all of b on c within SEND_TIMEOUT_MS. @return SF_OK or SF_ERR_IO (errno set) */
static int send_all(struct conn *c, struct sf_avro_stream *zs, const struct sf_buf *b)
{
    long long deadline = sf_mono_ms() + SEND_TIMEOUT_MS;
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = sf_avro_stream_send(zs, b->data + off, b->len - off);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return SF_ERR_IO;
        }
        long long left = deadline - sf_mono_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return SF_ERR_IO;
        }
        struct pollfd pfd = { c->fd, sf_avro_stream_events(zs, POLLOUT), 0 };
        (void)poll(&pfd, 1, (int)(left < POLL_MS ? left : POLL_MS));
    }
    return SF_OK;
}

/* Put the call's events into the channels. @return the Status to answer */
static enum sf_avro_status deliver(struct conn *c, struct sf_avro_rpc_call *call)
{
    struct sf_source *src = c->src;
    struct avro_src_ctx *ctx = src->ctx;
    bool batch = call->msg == SF_AVRO_MSG_APPEND_BATCH;
    size_t n = call->n;
    atomic_fetch_add(batch ? &src->metrics.batch_received : &src->metrics.append_received, 1);
    atomic_fetch_add(&src->metrics.event_received, (long long)n);
    const char *too_big = NULL;
    long long cap = 0;
    for (size_t i = 0; i < src->nch; i++) {
        if ((long long)n > src->chs[i]->txn_capacity) {
            too_big = src->chs[i]->name;
            cap = src->chs[i]->txn_capacity;
        }
    }
    int rc = n == 0 ? SF_OK : sf_source_deliver_try(src, call->evs, n);
    free(call->evs); /* the events are the channels' now, or freed */
    call->evs = NULL;
    call->n = 0;
    if (rc != SF_OK) {
        long long now = sf_mono_ms(), last = atomic_load(&ctx->full_logged_ms);
        if ((last == 0 || now - last >= FULL_LOG_MS) &&
            atomic_compare_exchange_strong(&ctx->full_logged_ms, &last, now)) {
            if (too_big) {
                SF_WARN(SF_SOURCE_FMT "%s of %zu events from %s is over channel \"%s\"'s "
                        "transactionCapacity (%lld): answered FAILED (it can never fit: lower "
                        "the sender's batch-size)",
                        SF_SOURCE_ARGS(src), batch ? "appendBatch" : "append", n, c->peer,
                        too_big, cap);
            } else {
                SF_WARN(SF_SOURCE_FMT "the channels cannot take %zu events from %s now (%s): "
                        "answered FAILED, the client sends them again",
                        SF_SOURCE_ARGS(src), n, c->peer, sf_err_str(rc));
            }
        }
        return SF_AVRO_STATUS_FAILED;
    }
    if (atomic_exchange(&ctx->full_logged_ms, 0) != 0) {
        SF_INFO(SF_SOURCE_FMT "the channels take events again", SF_SOURCE_ARGS(src));
    }
    atomic_fetch_add(batch ? &src->metrics.batch_accepted : &src->metrics.append_accepted, 1);
    atomic_fetch_add(&src->metrics.event_accepted, (long long)n);
    return SF_AVRO_STATUS_OK;
}

/* One connection: read calls, answer each. */
static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct sf_source *src = c->src;
    struct avro_src_ctx *ctx = src->ctx;
    struct sf_buf in = SF_BUF_INIT, payload = SF_BUF_INIT, reply = SF_BUF_INIT,
                  framed = SF_BUF_INIT, out = SF_BUF_INIT;
    bool handshaken = false;
    unsigned char client_hash[16] = { 0 };
    const char *why = NULL; /* why the connection is closed with a WARN */
    char detail[256] = "";
    unsigned char first[2]; /* the connection's first two bytes, for the hint below */
    size_t nfirst = 0;
    const char *hint = ""; /* said after why */
    bool closed_early = false; /* closed in the TLS handshake before a byte: no WARN */
    long long last_rx_ms = sf_mono_ms(); /* when bytes last arrived */
    struct sf_avro_stream zs;
    if (sf_avro_stream_init(&zs, c->fd, ctx->compression == COMP_DEFLATE, DEFLATE_LEVEL) != SF_OK) {
        why = "out of memory for the zlib streams";
    } else if (ctx->tls) {
        /* non-blocking for TLS, whose reads and writes take no MSG_DONTWAIT */
        int fl = fcntl(c->fd, F_GETFL);
        if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
            sf_avro_stream_start_tls(&zs, ctx->tls, true, sf_mono_ms() + SEND_TIMEOUT_MS,
                                     &src->stopping, detail, sizeof(detail)) != SF_OK) {
            /* a peer that closes before its hello (a port probe) is no news */
            why = strcmp(detail, SF_AVRO_TLS_PEER_CLOSED) == 0 ? NULL : "TLS handshake failed";
            closed_early = why == NULL;
            if (strstr(detail, "wrong version number")) {
                hint = " (not a TLS hello: the client does not use ssl)";
            }
        }
    }
    while (!why && !closed_early && !atomic_load(&src->stopping)) {
        int32_t serial = 0;
        size_t used = 0;
        sf_buf_reset(&payload);
        int u = sf_avro_rpc_unframe((const unsigned char *)in.data, in.len,
                                    SF_AVRO_RPC_MAX_MESSAGE_DEFAULT, &serial, &payload, &used,
                                    detail, sizeof(detail));
        if (u < 0) {
            why = "message over the size bound";
            break;
        }
        if (u == 0) {
            struct pollfd pfd = { c->fd, POLLIN, 0 };
            pfd.events = sf_avro_stream_events(&zs, POLLIN);
            if (!sf_avro_stream_buffered(&zs) && poll(&pfd, 1, POLL_MS) <= 0) {
                if (in.len > 0 && sf_mono_ms() - last_rx_ms > PARTIAL_TIMEOUT_MS) {
                    why = "message not completed";
                    snprintf(detail, sizeof(detail), "%zu bytes of it, then nothing for %d s",
                             in.len, PARTIAL_TIMEOUT_MS / 1000);
                    break;
                }
                continue; /* (what the inflater or TLS still holds is taken without a poll) */
            }
            ssize_t k = sf_avro_stream_recv(&zs, &in, detail, sizeof(detail));
            if (k > 0) {
                last_rx_ms = sf_mono_ms();
                while (nfirst < 2 && nfirst < in.len) {
                    first[nfirst] = (unsigned char)in.data[nfirst];
                    nfirst++;
                }
                continue;
            }
            if (k == -2 && zs.ssl && strncmp(detail, "TLS: ", 5) == 0) {
                why = "TLS failed";
                break;
            }
            if (k == -2) {
                why = "a stream that does not inflate";
                hint = " (this source's compression-type is deflate: is the client's?)";
                break;
            }
            if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                continue;
            }
            if (k < 0 || in.len > 0) {
                why = "connection broken";
                snprintf(detail, sizeof(detail), "%s",
                         k < 0 ? strerror(errno) : "closed in the middle of a message");
            }
            break;
        }
        memmove(in.data, in.data + used, in.len - used);
        in.len -= used;
        struct sf_avro_rpc_call call;
        int rc = sf_avro_rpc_parse_call((const unsigned char *)payload.data, payload.len,
                                        handshaken ? -1 : 1, client_hash, &call, detail,
                                        sizeof(detail));
        if (rc != SF_OK) {
            why = "malformed call";
            break;
        }
        enum sf_avro_match match = SF_AVRO_MATCH_BOTH;
        if (call.had_handshake) {
            match = sf_avro_rpc_handshake_match(&call, hash_known(ctx, call.client_hash));
            if (match != SF_AVRO_MATCH_NONE) {
                if (call.client_protocol) {
                    hash_learn(ctx, call.client_hash);
                }
                handshaken = true;
                memcpy(client_hash, call.client_hash, 16);
            }
        }
        sf_buf_reset(&reply);
        if (match == SF_AVRO_MATCH_NONE || call.msg == SF_AVRO_MSG_PING) {
            sf_avro_rpc_reply(&reply, call.had_handshake, match, true, SF_AVRO_STATUS_OK, NULL);
            sf_avro_rpc_call_free(&call);
        } else if (call.msg == SF_AVRO_MSG_UNKNOWN) {
            char msg[128];
            snprintf(msg, sizeof(msg), "No such remote message: %s", call.message);
            SF_WARN(SF_SOURCE_FMT "%s from %s: answered an error", SF_SOURCE_ARGS(src), msg,
                    c->peer);
            sf_avro_rpc_reply(&reply, call.had_handshake, match, false, SF_AVRO_STATUS_OK, msg);
            sf_avro_rpc_call_free(&call);
        } else {
            enum sf_avro_status st = deliver(c, &call);
            sf_avro_rpc_reply(&reply, call.had_handshake, match, false, st, NULL);
        }
        sf_buf_reset(&out);
        sf_buf_reset(&framed);
        sf_avro_rpc_frame(&framed, serial, reply.data, reply.len);
        if (sf_avro_stream_encode(&zs, &framed, &out) != SF_OK) {
            why = "could not compress the reply";
            snprintf(detail, sizeof(detail), "out of memory");
            break;
        }
        if (send_all(c, &zs, &out) != SF_OK) {
            why = "could not send the reply";
            snprintf(detail, sizeof(detail), "%s", strerror(errno));
            break;
        }
    }
    if (why) {
        if (!zs.deflate && sf_avro_stream_looks_zlib(first, nfirst)) {
            hint = " (its bytes look like a zlib stream: the client's compression-type is "
                   "deflate, this source's none)";
        }
        SF_WARN(SF_SOURCE_FMT "%s from %s: %s; closing the connection%s", SF_SOURCE_ARGS(src), why,
                c->peer, detail, hint);
    } else {
        SF_DEBUG(SF_SOURCE_FMT "connection from %s closed", SF_SOURCE_ARGS(src), c->peer);
    }
    sf_avro_stream_free(&zs);
    close(c->fd);
    c->fd = -1;
    atomic_fetch_sub(&src->metrics.open_connections, 1);
    sf_buf_free(&in);
    sf_buf_free(&payload);
    sf_buf_free(&reply);
    sf_buf_free(&framed);
    sf_buf_free(&out);
    atomic_store(&c->done, true);
    return NULL;
}

/* Join the connections that ended (all with wait: after the stop flag is set). */
static void reap(struct avro_src_ctx *ctx, bool all)
{
    pthread_mutex_lock(&ctx->mu);
    struct conn **pp = &ctx->conns;
    while (*pp) {
        struct conn *c = *pp;
        if (all || atomic_load(&c->done)) {
            *pp = c->next;
            ctx->nconns--;
            pthread_mutex_unlock(&ctx->mu);
            pthread_join(c->thread, NULL);
            free(c);
            pthread_mutex_lock(&ctx->mu);
        } else {
            pp = &c->next;
        }
    }
    pthread_mutex_unlock(&ctx->mu);
}

/* Does ipFilterRules let the peer in? */
static bool allowed(struct avro_src_ctx *ctx, const struct sockaddr *sa, socklen_t sl,
                    const char *ip)
{
    char name[NI_MAXHOST] = "";
    bool have_name = false;
    if (ctx->name_rules) {
        have_name = getnameinfo(sa, sl, name, sizeof(name), NULL, 0, NI_NAMEREQD) == 0;
    }
    for (size_t i = 0; i < ctx->nrules; i++) {
        const struct rule *r = &ctx->rules[i];
        const char *subject = r->name ? (have_name ? name : NULL) : ip;
        if (subject && fnmatch(r->pattern, subject, 0) == 0) {
            return r->allow;
        }
    }
    return true;
}

static void accept_one(struct sf_source *src)
{
    struct avro_src_ctx *ctx = src->ctx;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = accept4(ctx->lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
            SF_WARN(SF_SOURCE_FMT "accept: %s", SF_SOURCE_ARGS(src), strerror(errno));
        }
        return;
    }
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
            inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], ip, sizeof(ip));
        } else {
            inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof(ip));
        }
        port = ntohs(a6->sin6_port);
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof(ip));
        port = ntohs(a4->sin_port);
    }
    if (ctx->ip_filter && !allowed(ctx, (struct sockaddr *)&ss, sl, ip)) {
        SF_WARN(SF_SOURCE_FMT "connection from %s:%d denied by ipFilterRules; closed",
                SF_SOURCE_ARGS(src), ip, port);
        close(fd);
        return;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->src = src;
    c->fd = fd;
    snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
    atomic_fetch_add(&src->metrics.open_connections, 1);
    if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
        SF_WARN(SF_SOURCE_FMT "no thread for the connection from %s; closed", SF_SOURCE_ARGS(src),
                c->peer);
        atomic_fetch_sub(&src->metrics.open_connections, 1);
        close(fd);
        free(c);
        return;
    }
    SF_DEBUG(SF_SOURCE_FMT "connection from %s", SF_SOURCE_ARGS(src), c->peer);
    pthread_mutex_lock(&ctx->mu);
    c->next = ctx->conns;
    ctx->conns = c;
    ctx->nconns++;
    pthread_mutex_unlock(&ctx->mu);
}

/* Close the listener and end every connection (they see the stop flag within POLL_MS). */
static void shutdown_server(struct avro_src_ctx *ctx)
{
    if (ctx->lfd >= 0) {
        close(ctx->lfd);
        ctx->lfd = -1;
    }
    if (ctx->mu_init) {
        reap(ctx, true);
    }
}

static enum sf_status avro_src_process(struct sf_source *src)
{
    struct avro_src_ctx *ctx = src->ctx;
    reap(ctx, false);
    pthread_mutex_lock(&ctx->mu);
    bool room = ctx->nconns < ctx->threads;
    pthread_mutex_unlock(&ctx->mu);
    if (room && ctx->lfd >= 0) {
        struct pollfd pfd = { ctx->lfd, POLLIN, 0 };
        if (poll(&pfd, 1, POLL_MS) > 0) {
            accept_one(src);
        }
    } else {
        (void)sf_source_sleep(src, POLL_MS);
    }
    if (atomic_load(&src->stopping)) {
        /* before the runner returns, so that no connection puts events while the agent drains */
        shutdown_server(ctx);
    }
    return SF_READY;
}

static void avro_src_stop(struct sf_source *src)
{
    struct avro_src_ctx *ctx = src->ctx;
    atomic_store(&src->stopping, true);
    shutdown_server(ctx);
    rules_free(ctx->rules, ctx->nrules);
    ctx->rules = NULL;
    SSL_CTX_free(ctx->tls);
    ctx->tls = NULL;
    ctx->nrules = 0;
    if (ctx->mu_init) {
        pthread_mutex_destroy(&ctx->mu);
        ctx->mu_init = false;
    }
}

static const char *const avro_src_aliases[] = { "org.apache.flume.source.AvroSource", NULL };

const struct sf_source_plugin sf_source_avro = {
    .name = "avro",
    .aliases = avro_src_aliases,
    .options = avro_src_options,
    .ctx_size = sizeof(struct avro_src_ctx),
    .configure = avro_src_configure,
    .start = avro_src_start,
    .process = avro_src_process,
    .stop = avro_src_stop,
};
