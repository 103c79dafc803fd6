/*
 * TLS contexts and handshakes of Avro RPC connections (see avro_tls.h).
 */
#include "avro_tls.h"

#include "sqlflume/clock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

static const struct {
    const char *name;
    long op;
} protocols[] = {
    { "SSLv2Hello", 0 },
    { "SSLv3", SSL_OP_NO_SSLv3 },
    { "TLSv1", SSL_OP_NO_TLSv1 },
    { "TLSv1.1", SSL_OP_NO_TLSv1_1 },
    { "TLSv1.2", SSL_OP_NO_TLSv1_2 },
    { "TLSv1.3", SSL_OP_NO_TLSv1_3 },
};

const char *sf_avro_tls_check_type(const char *type)
{
    if (!type || strcasecmp(type, "PEM") == 0 || strcasecmp(type, "PKCS12") == 0) {
        return NULL;
    }
    if (strcasecmp(type, "JKS") == 0) {
        return "JKS (Java's keystore format) cannot be read: use PKCS12 (keytool -importkeystore "
               "-deststoretype PKCS12) or PEM";
    }
    return "must be PKCS12 or PEM";
}

/* Apply (opts non-NULL) or check the list. @return NULL or the message */
static const char *exclude_walk(const char *list, long *opts)
{
    const char *p = list;
    while (p && *p) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,");
        if (n == 0) {
            break;
        }
        size_t i = 0;
        while (i < sizeof(protocols) / sizeof(protocols[0]) &&
               !(strlen(protocols[i].name) == n && strncmp(protocols[i].name, p, n) == 0)) {
            i++;
        }
        if (i == sizeof(protocols) / sizeof(protocols[0])) {
            return "names a protocol that is not one of SSLv2Hello, SSLv3, TLSv1, TLSv1.1, "
                   "TLSv1.2, TLSv1.3";
        }
        if (opts) {
            *opts |= protocols[i].op;
        }
        p += n;
    }
    return NULL;
}

const char *sf_avro_tls_check_exclude(const char *list)
{
    return exclude_walk(list, NULL);
}

void sf_avro_tls_error(char *errstr, size_t errstr_size)
{
    unsigned long e = ERR_get_error();
    if (e == 0) {
        snprintf(errstr, errstr_size, "%s", errno ? strerror(errno) : "unknown TLS error");
    } else {
        ERR_error_string_n(e, errstr, errstr_size);
    }
    ERR_clear_error();
}

static int pem_password(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const char *pw = u;
    if (!pw) {
        return 0;
    }
    int n = (int)strlen(pw);
    if (n > size) {
        n = size;
    }
    memcpy(buf, pw, (size_t)n);
    return n;
}

/* The contents of a PKCS12 store. */
struct p12 {
    EVP_PKEY *key;
    X509 *cert;
    STACK_OF(X509) * ca;
};

static void p12_free(struct p12 *p)
{
    EVP_PKEY_free(p->key);
    X509_free(p->cert);
    sk_X509_pop_free(p->ca, X509_free);
}

/* Load a PKCS12 file into p (zeroed; free with p12_free). @return 0 or -1 (errstr) */
static int
load_p12(const char *path, const char *password, struct p12 *p, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errstr_size, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    PKCS12 *p12 = d2i_PKCS12_fp(f, NULL);
    fclose(f);
    memset(p, 0, sizeof(*p));
    if (!p12 || !PKCS12_parse(p12, password ? password : "", &p->key, &p->cert, &p->ca)) {
        char e[256];
        sf_avro_tls_error(e, sizeof(e));
        snprintf(errstr, errstr_size, "%s is not a PKCS12 store this password opens: %s", path, e);
        PKCS12_free(p12);
        return -1;
    }
    PKCS12_free(p12);
    return 0;
}

static int
load_keystore(SSL_CTX *ctx, const struct sf_avro_tls_opts *o, char *errstr, size_t errstr_size)
{
    char e[256];
    if (o->type && strcasecmp(o->type, "PKCS12") == 0) {
        struct p12 p;
        if (load_p12(o->store, o->password, &p, errstr, errstr_size) != 0) {
            return -1;
        }
        int ok = p.key && p.cert && SSL_CTX_use_certificate(ctx, p.cert) == 1 &&
                 SSL_CTX_use_PrivateKey(ctx, p.key) == 1;
        for (int i = 0; ok && p.ca && i < sk_X509_num(p.ca); i++) {
            X509 *c = sk_X509_value(p.ca, i);
            ok = X509_up_ref(c) == 1 && SSL_CTX_add_extra_chain_cert(ctx, c) == 1;
        }
        p12_free(&p);
        if (!ok) {
            sf_avro_tls_error(e, sizeof(e));
            snprintf(errstr, errstr_size, "keystore %s: no usable key and certificate: %s",
                     o->store, e);
            return -1;
        }
    } else {
        SSL_CTX_set_default_passwd_cb(ctx, pem_password);
        SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)o->password);
        if (SSL_CTX_use_certificate_chain_file(ctx, o->store) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, o->store, SSL_FILETYPE_PEM) != 1) {
            sf_avro_tls_error(e, sizeof(e));
            snprintf(errstr, errstr_size,
                     "keystore %s: a PEM file with the certificate chain "
                     "and the private key is expected: %s",
                     o->store, e);
            return -1;
        }
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        sf_avro_tls_error(e, sizeof(e));
        snprintf(errstr, errstr_size, "keystore %s: the key does not match the certificate: %s",
                 o->store, e);
        return -1;
    }
    return 0;
}

static int
load_truststore(SSL_CTX *ctx, const struct sf_avro_tls_opts *o, char *errstr, size_t errstr_size)
{
    char e[256];
    if (!o->store) {
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            sf_avro_tls_error(e, sizeof(e));
            snprintf(errstr, errstr_size, "the system's CA certificates: %s", e);
            return -1;
        }
        return 0;
    }
    if (o->type && strcasecmp(o->type, "PKCS12") == 0) {
        struct p12 p;
        if (load_p12(o->store, o->password, &p, errstr, errstr_size) != 0) {
            return -1;
        }
        X509_STORE *st = SSL_CTX_get_cert_store(ctx);
        int n = 0;
        if (p.cert && X509_STORE_add_cert(st, p.cert) == 1) {
            n++;
        }
        for (int i = 0; p.ca && i < sk_X509_num(p.ca); i++) {
            n += X509_STORE_add_cert(st, sk_X509_value(p.ca, i)) == 1;
        }
        p12_free(&p);
        if (n == 0) {
            snprintf(errstr, errstr_size, "truststore %s holds no certificate", o->store);
            return -1;
        }
        return 0;
    }
    if (SSL_CTX_load_verify_locations(ctx, o->store, NULL) != 1) {
        sf_avro_tls_error(e, sizeof(e));
        snprintf(errstr, errstr_size, "truststore %s: PEM certificates are expected: %s", o->store,
                 e);
        return -1;
    }
    return 0;
}

SSL_CTX *sf_avro_tls_ctx(const struct sf_avro_tls_opts *o, char *errstr, size_t errstr_size)
{
    SSL_CTX *ctx = SSL_CTX_new(o->server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        sf_avro_tls_error(errstr, errstr_size);
        return NULL;
    }
    long opts = SSL_OP_IGNORE_UNEXPECTED_EOF; /* a peer that closes without close_notify: EOF */
    (void)exclude_walk(o->exclude, &opts);
    SSL_CTX_set_options(ctx, (uint64_t)opts);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    int rc = o->server ? load_keystore(ctx, o, errstr, errstr_size)
                       : load_truststore(ctx, o, errstr, errstr_size);
    if (rc != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (!o->server) {
        SSL_CTX_set_verify(ctx, o->trust_all ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    }
    return ctx;
}

int sf_avro_tls_handshake(SSL *ssl,
                          int fd,
                          bool server,
                          long long deadline,
                          const atomic_bool *stopping,
                          char *errstr,
                          size_t errstr_size)
{
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = server ? SSL_accept(ssl) : SSL_connect(ssl);
        if (r == 1) {
            return 0;
        }
        int e = SSL_get_error(ssl, r);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (ev == 0) {
            long v = SSL_get_verify_result(ssl);
            if (!server && v != X509_V_OK) {
                snprintf(errstr, errstr_size, "the server's certificate is not trusted: %s",
                         X509_verify_cert_error_string(v));
            } else if (ERR_peek_error() == 0) {
                snprintf(errstr, errstr_size, "%s",
                         e == SSL_ERROR_SYSCALL && errno ? strerror(errno)
                                                         : SF_AVRO_TLS_PEER_CLOSED);
            } else {
                sf_avro_tls_error(errstr, errstr_size);
            }
            ERR_clear_error();
            return -1;
        }
        long long now = sf_mono_ms();
        if (now >= deadline || (stopping && atomic_load(stopping))) {
            snprintf(errstr, errstr_size, "%s", now >= deadline ? "timed out" : "stopping");
            return -1;
        }
        struct pollfd pfd = { fd, ev, 0 };
        long long wait = deadline - now;
        (void)poll(&pfd, 1, (int)(wait < 100 ? wait : 100));
    }
}
