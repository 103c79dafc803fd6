/*
 * TLS under Avro RPC (ssl = true on Flume's AvroSink and AvroSource), with OpenSSL. TLS is the
 * lowest layer: the zlib stream of compression-type = deflate runs inside it, as Netty's
 * SslHandler sits below its ZlibEncoder in Flume's pipelines.
 *
 * Stores: Java's JKS cannot be read here; a keystore is PKCS12 (keytool -importkeystore
 * -deststoretype PKCS12 converts a JKS one) or PEM (the certificate chain and the private key in
 * one file, the key encrypted with keystore-password or not); a truststore is PEM (the trusted
 * certificates) or PKCS12. The client checks the server's certificate chain against the
 * truststore (the system's CA certificates without one), not its host name, as Flume's
 * NettyAvroRpcClient; trust-all-certs accepts any certificate. exclude-protocols is a
 * space-separated list of SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 (SSLv2Hello, Java's, is
 * accepted and means nothing here: OpenSSL never speaks SSLv2).
 */
#ifndef SQLFLUME_RPC_AVRO_TLS_H
#define SQLFLUME_RPC_AVRO_TLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/** The handshake's errstr when the peer closed the connection in it without an error. */
#define SF_AVRO_TLS_PEER_CLOSED "the peer closed the connection"

/** How a TLS context is made. Strings are borrowed. */
struct sf_avro_tls_opts {
    bool server;          /* an AvroSource (keystore) or an AvroSink (truststore) */
    const char *store;    /* keystore (server, required) or truststore (client, optional) */
    const char *password; /* of the store, or NULL */
    const char *type;     /* "PEM" or "PKCS12", any case; NULL: PEM for a truststore */
    bool trust_all;       /* client: accept any server certificate */
    const char *exclude;  /* exclude-protocols, or NULL */
};

/**
 * Check a store type and an exclude-protocols list as configure does.
 * @return NULL when good, else the message (static)
 */
const char *sf_avro_tls_check_type(const char *type);
const char *sf_avro_tls_check_exclude(const char *list);

/**
 * Make the context: the store loaded (and the key checked against the certificate), the
 * excluded protocols off, verification set.
 * @return the context (free with SSL_CTX_free) or NULL with errstr set
 */
SSL_CTX *sf_avro_tls_ctx(const struct sf_avro_tls_opts *o, char *errstr, size_t errstr_size);

/**
 * Run the handshake of ssl (set up over a non-blocking fd) until deadline (sf_mono_ms), giving
 * up when *stopping is set (stopping may be NULL).
 * @return 0, or -1 with errstr set (the OpenSSL reason, or the certificate's verify error)
 */
int sf_avro_tls_handshake(SSL *ssl,
                          int fd,
                          bool server,
                          long long deadline,
                          const atomic_bool *stopping,
                          char *errstr,
                          size_t errstr_size);

/** The reason of the last OpenSSL error of this thread (cleared), into errstr. */
void sf_avro_tls_error(char *errstr, size_t errstr_size);

#endif
