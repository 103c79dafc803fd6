/*
 * The file channel's write-ahead log records (format in wal.h): CRC32C in hardware (SSE4.2) or
 * with a slicing-by-8 table, encoders that append PUT/TAKE/COMMIT/ROLLBACK records to a buffer
 * with the payload's CRC precomputed, sf_wal_seal to stamp write-order ids under the log lock,
 * decoders, and the sequential reader replay uses to walk a log file and find where a torn or
 * corrupt tail begins.
 */
#include "wal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- CRC32C ---- */

#define CRC32C_POLY 0x82F63B78u /* Castagnoli, reflected */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        }
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            uint32_t c = crc_table[t - 1][i];
            crc_table[t][i] = (c >> 8) ^ crc_table[0][c & 0xff];
        }
    }
}

uint32_t sf_wal_crc32c_sw(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    uint32_t c = ~crc;
    while (n >= 8) {
        uint32_t lo = c ^ sf_wal_get32(p);
        uint32_t hi = sf_wal_get32(p + 4);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^
            crc_table[2][(hi >> 8) & 0xff] ^ crc_table[1][(hi >> 16) & 0xff] ^
            crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) {
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    }
    return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    unsigned long long c = ~crc & 0xffffffffu;
    while (n >= 8) {
        unsigned long long v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) {
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    }
    return ~c32;
}

uint32_t sf_wal_crc32c(uint32_t crc, const void *data, size_t n)
{
    if (__builtin_cpu_supports("sse4.2")) {
        return crc32c_hw(crc, data, n);
    }
    return sf_wal_crc32c_sw(crc, data, n);
}
#else
uint32_t sf_wal_crc32c(uint32_t crc, const void *data, size_t n)
{
    return sf_wal_crc32c_sw(crc, data, n);
}
#endif

/* ---- file header ---- */

static const unsigned char file_magic[8] = { 'S', 'F', 'W', 'A', 'L', '0', '1', 0 };

void sf_wal_file_header(unsigned char out[SF_WAL_FILE_HDR], uint32_t id)
{
    memcpy(out, file_magic, 8);
    sf_wal_put32(out + 8, id);
    sf_wal_put32(out + 12, sf_wal_crc32c(0, out, 12));
}

bool sf_wal_file_header_check(const unsigned char hdr[SF_WAL_FILE_HDR], uint32_t *id)
{
    if (memcmp(hdr, file_magic, 8) != 0 || sf_wal_get32(hdr + 12) != sf_wal_crc32c(0, hdr, 12)) {
        return false;
    }
    *id = sf_wal_get32(hdr + 8);
    return true;
}

/* ---- encoding ---- */

/* Reserve a record header in b; the caller appends the payload, then calls end_record. */
static size_t begin_record(struct sf_buf *b)
{
    size_t at = b->len;
    sf_buf_reserve(b, SF_WAL_REC_HDR);
    memset(b->data + at, 0, SF_WAL_REC_HDR);
    b->len += SF_WAL_REC_HDR;
    return at;
}

static void end_record(struct sf_buf *b, size_t at, enum sf_wal_type type, uint64_t txn_id)
{
    unsigned char *h = (unsigned char *)b->data + at;
    size_t len = b->len - at - SF_WAL_REC_HDR;
    sf_wal_put32(h + 4, (uint32_t)len);
    h[8] = (unsigned char)type;
    h[9] = SF_WAL_MAGIC;
    sf_wal_put64(h + 16, txn_id);
    /* the payload's CRC, finished by sf_wal_seal over the header */
    sf_wal_put32(h, sf_wal_crc32c(0, h + SF_WAL_REC_HDR, len));
}

static void append32(struct sf_buf *b, uint32_t v)
{
    unsigned char x[4];
    sf_wal_put32(x, v);
    sf_buf_append(b, x, 4);
}

/* The header names PUTC writes as one byte: code i + 1 is wal_names[i] (on-disk format: this
 * order and these names never change). */
static const char *const wal_names[] = { SF_HDR_TABLE, SF_HDR_OFFSET, SF_HDR_KEY,
                                         SF_HDR_TIMESTAMP };
#define WAL_NAMES    4
#define WAL_BACKREFS 15 /* value codes 1..15: the value of an earlier header */

size_t sf_wal_append_put(struct sf_buf *b, uint64_t txn_id, const struct sf_event *ev)
{
    size_t n = ev->nheaders;
    if (n > 255) {
        return sf_wal_append_put_full(b, txn_id, ev);
    }
    size_t strs; /* the full encoding's strings: more than this one needs */
    (void)sf_event_strs(ev, &strs);
    size_t at = begin_record(b);
    sf_buf_reserve(b, 1 + 2 * n + strs + ev->body_len);
    unsigned char *p = (unsigned char *)b->data + b->len;
    *p++ = (unsigned char)n;
    size_t vlen[WAL_BACKREFS];
    for (size_t i = 0; i < n; i++) {
        const char *k = ev->headers[i].key, *v = ev->headers[i].val;
        size_t kl = sf_event_key_len(ev, i), vl = sf_event_val_len(ev, i);
        unsigned char kc = 0;
        for (unsigned j = 0; j < WAL_NAMES; j++) {
            if (k[0] == wal_names[j][0] && strcmp(k, wal_names[j]) == 0) {
                kc = (unsigned char)(j + 1);
                break;
            }
        }
        *p++ = kc;
        if (!kc) {
            memcpy(p, k, kl + 1);
            p += kl + 1;
        }
        unsigned char vc = 0;
        for (size_t j = 0; j < i && j < WAL_BACKREFS; j++) {
            if (vlen[j] == vl && memcmp(ev->headers[j].val, v, vl) == 0) {
                vc = (unsigned char)(j + 1);
                break;
            }
        }
        *p++ = vc;
        if (!vc) {
            memcpy(p, v, vl + 1);
            p += vl + 1;
        }
        if (i < WAL_BACKREFS) {
            vlen[i] = vl;
        }
    }
    memcpy(p, ev->body, ev->body_len);
    p += ev->body_len;
    b->len = (size_t)((char *)p - b->data);
    b->data[b->len] = '\0';
    end_record(b, at, SF_WAL_PUTC, txn_id);
    return at;
}

size_t sf_wal_append_put_full(struct sf_buf *b, uint64_t txn_id, const struct sf_event *ev)
{
    size_t strs;
    const char *hs = sf_event_strs(ev, &strs); /* the payload's layout: "key\0val\0"... */
    size_t at = begin_record(b);
    sf_buf_reserve(b, 12 + strs + ev->body_len);
    unsigned char *p = (unsigned char *)b->data + b->len;
    sf_wal_put32(p, (uint32_t)ev->nheaders);
    sf_wal_put32(p + 4, (uint32_t)strs);
    p += 8;
    memcpy(p, hs, strs);
    p += strs;
    sf_wal_put32(p, (uint32_t)ev->body_len);
    memcpy(p + 4, ev->body, ev->body_len);
    b->len += 12 + strs + ev->body_len;
    b->data[b->len] = '\0';
    end_record(b, at, SF_WAL_PUT, txn_id);
    return at;
}

size_t sf_wal_append_takes(struct sf_buf *b, uint64_t txn_id, const uint32_t *pairs, size_t n)
{
    size_t at = begin_record(b);
    sf_buf_reserve(b, n * SF_WAL_TAKE_LEN);
    unsigned char *p = (unsigned char *)b->data + b->len;
    for (size_t i = 0; i < 2 * n; i++) {
        sf_wal_put32(p + 4 * i, pairs[i]);
    }
    b->len += n * SF_WAL_TAKE_LEN;
    b->data[b->len] = '\0';
    end_record(b, at, SF_WAL_TAKE, txn_id);
    return at;
}

size_t sf_wal_append_commit(struct sf_buf *b,
                            uint64_t txn_id,
                            enum sf_wal_txn_kind kind,
                            uint32_t nrecords,
                            const char *key,
                            const char *val)
{
    size_t at = begin_record(b);
    unsigned char k[4] = { (unsigned char)kind, 0, 0, 0 };
    sf_buf_append(b, k, 4);
    append32(b, nrecords);
    if (key && val) {
        append32(b, (uint32_t)strlen(key));
        sf_buf_puts(b, key);
        append32(b, (uint32_t)strlen(val));
        sf_buf_puts(b, val);
    } else {
        append32(b, SF_WAL_NO_KEY);
    }
    end_record(b, at, SF_WAL_COMMIT, txn_id);
    return at;
}

size_t sf_wal_append_rollback(struct sf_buf *b, uint64_t txn_id)
{
    size_t at = begin_record(b);
    end_record(b, at, SF_WAL_ROLLBACK, txn_id);
    return at;
}

size_t sf_wal_seal(unsigned char *buf, size_t len, uint64_t first_wo)
{
    size_t n = 0;
    for (size_t at = 0; at + SF_WAL_REC_HDR <= len; n++) {
        unsigned char *h = buf + at;
        sf_wal_put64(h + 24, first_wo + n);
        sf_wal_put32(h, sf_wal_crc32c(sf_wal_get32(h), h + 4, SF_WAL_REC_HDR - 4));
        at += SF_WAL_REC_HDR + sf_wal_get32(h + 4);
    }
    return n;
}

/* ---- decoding ---- */

bool sf_wal_hdr_decode(const unsigned char *p, struct sf_wal_hdr *h)
{
    h->crc = sf_wal_get32(p);
    h->len = sf_wal_get32(p + 4);
    h->type = p[8];
    h->txn_id = sf_wal_get64(p + 16);
    h->wo_id = sf_wal_get64(p + 24);
    return p[9] == SF_WAL_MAGIC && h->type >= SF_WAL_PUT && h->type <= SF_WAL_PUTC && p[10] == 0 &&
           p[11] == 0 && sf_wal_get32(p + 12) == 0 && h->len <= SF_WAL_MAX_LEN;
}

bool sf_wal_crc_ok(const struct sf_wal_hdr *h,
                   const unsigned char *hdr_bytes,
                   const unsigned char *payload)
{
    uint32_t c = sf_wal_crc32c(0, payload, h->len);
    return sf_wal_crc32c(c, hdr_bytes + 4, SF_WAL_REC_HDR - 4) == h->crc;
}

int sf_wal_decode_compact_put(const unsigned char *payload,
                              uint32_t len,
                              struct sf_header *headers,
                              size_t *nheaders,
                              const char **body,
                              size_t *body_len)
{
    if (len < 1) {
        return SF_ERR_CORRUPT;
    }
    size_t nh = payload[0];
    if (nh > *nheaders) {
        *nheaders = nh;
        return SF_ERR_FULL;
    }
    const char *s = (const char *)payload + 1;
    const char *end = (const char *)payload + len;
    for (size_t i = 0; i < nh; i++) {
        for (int part = 0; part < 2; part++) {
            if (s >= end) {
                return SF_ERR_CORRUPT;
            }
            unsigned char c = (unsigned char)*s++;
            const char *str;
            if (c == 0) {
                const char *z = memchr(s, '\0', (size_t)(end - s));
                if (!z) {
                    return SF_ERR_CORRUPT;
                }
                str = s;
                s = z + 1;
            } else if (part == 0 && c <= WAL_NAMES) {
                str = wal_names[c - 1];
            } else if (part == 1 && c <= WAL_BACKREFS && c - 1u < i) {
                str = headers[c - 1].val;
            } else {
                return SF_ERR_CORRUPT;
            }
            if (part == 0) {
                headers[i].key = str;
            } else {
                headers[i].val = str;
            }
        }
    }
    *nheaders = nh;
    *body = s;
    *body_len = (size_t)(end - s);
    return SF_OK;
}

int sf_wal_decode_plain_put(const unsigned char *payload,
                            uint32_t len,
                            struct sf_header *headers,
                            size_t *nheaders,
                            const char **body,
                            size_t *body_len)
{
    if (len < 12) {
        return SF_ERR_CORRUPT;
    }
    uint32_t nh = sf_wal_get32(payload);
    uint32_t strs = sf_wal_get32(payload + 4);
    if ((uint64_t)strs + 12 > len || nh > strs / 2) {
        return SF_ERR_CORRUPT;
    }
    uint32_t blen = sf_wal_get32(payload + 8 + strs);
    if ((uint64_t)strs + 12 + blen != len) {
        return SF_ERR_CORRUPT;
    }
    if (nh > *nheaders) {
        *nheaders = nh;
        return SF_ERR_FULL;
    }
    const char *s = (const char *)payload + 8;
    const char *end = s + strs;
    for (uint32_t i = 0; i < 2 * nh; i++) {
        const char *z = memchr(s, '\0', (size_t)(end - s));
        if (!z) {
            return SF_ERR_CORRUPT;
        }
        if (i % 2 == 0) {
            headers[i / 2].key = s;
        } else {
            headers[i / 2].val = s;
        }
        s = z + 1;
    }
    if (s != end) {
        return SF_ERR_CORRUPT;
    }
    *nheaders = nh;
    *body = (const char *)payload + 12 + strs;
    *body_len = blen;
    return SF_OK;
}

int sf_wal_decode_commit(const unsigned char *payload, uint32_t len, struct sf_wal_commit *c)
{
    if (len < 12) {
        return SF_ERR_CORRUPT;
    }
    c->kind = payload[0];
    c->nrecords = sf_wal_get32(payload + 4);
    uint32_t kl = sf_wal_get32(payload + 8);
    c->key = c->val = NULL;
    c->key_len = c->val_len = 0;
    if (c->kind != SF_WAL_TXN_PUT && c->kind != SF_WAL_TXN_TAKE) {
        return SF_ERR_CORRUPT;
    }
    if (kl == SF_WAL_NO_KEY) {
        return len == 12 ? SF_OK : SF_ERR_CORRUPT;
    }
    if ((uint64_t)kl + 16 > len) {
        return SF_ERR_CORRUPT;
    }
    uint32_t vl = sf_wal_get32(payload + 12 + kl);
    if ((uint64_t)kl + 16 + vl != len) {
        return SF_ERR_CORRUPT;
    }
    c->key = (const char *)payload + 12;
    c->key_len = kl;
    c->val = (const char *)payload + 16 + kl;
    c->val_len = vl;
    return SF_OK;
}

/* ---- sequential reader ---- */

#define READER_CHUNK (1u << 20)

int sf_wal_reader_open(struct sf_wal_reader *r, int fd)
{
    memset(r, 0, sizeof(*r));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return SF_ERR_IO;
    }
    r->fd = fd;
    r->file_size = (uint64_t)st.st_size;
    r->pos = SF_WAL_FILE_HDR;
    r->buf_off = SF_WAL_FILE_HDR;
    r->buf_cap = READER_CHUNK;
    r->buf = malloc(r->buf_cap);
    return r->buf ? SF_OK : SF_ERR_NOMEM;
}

/* Make buf hold file bytes [r->pos, r->pos + need) (need <= bytes left in the file). */
static int reader_fill(struct sf_wal_reader *r, size_t need)
{
    if (r->pos >= r->buf_off && r->pos + need <= r->buf_off + r->buf_len) {
        return 0;
    }
    /* keep the bytes from pos on, read after them */
    if (r->pos >= r->buf_off && r->pos <= r->buf_off + r->buf_len) {
        size_t keep = (size_t)(r->buf_off + r->buf_len - r->pos);
        memmove(r->buf, r->buf + (r->pos - r->buf_off), keep);
        r->buf_len = keep;
    } else {
        r->buf_len = 0;
    }
    r->buf_off = r->pos;
    if (need > r->buf_cap) {
        size_t cap = r->buf_cap;
        while (cap < need) {
            cap *= 2;
        }
        unsigned char *nb = realloc(r->buf, cap);
        if (!nb) {
            errno = ENOMEM;
            return -1;
        }
        r->buf = nb;
        r->buf_cap = cap;
    }
    while (r->buf_len < need) {
        ssize_t got = pread(r->fd, r->buf + r->buf_len, r->buf_cap - r->buf_len,
                            (off_t)(r->buf_off + r->buf_len));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            if (got == 0) {
                errno = EIO; /* the file shrank under us */
            }
            return -1;
        }
        r->buf_len += (size_t)got;
    }
    return 0;
}

enum sf_wal_next sf_wal_reader_next(struct sf_wal_reader *r,
                                    struct sf_wal_hdr *h,
                                    const unsigned char **payload,
                                    uint64_t *rec_off)
{
    if (r->pos == r->file_size) {
        return SF_WAL_EOF;
    }
    if (r->pos + SF_WAL_REC_HDR > r->file_size) {
        return SF_WAL_TORN;
    }
    if (reader_fill(r, SF_WAL_REC_HDR) != 0) {
        return SF_WAL_IOERR;
    }
    const unsigned char *p = r->buf + (r->pos - r->buf_off);
    static const unsigned char zeros[SF_WAL_REC_HDR];
    if (memcmp(p, zeros, SF_WAL_REC_HDR) == 0) {
        return SF_WAL_ZEROS;
    }
    if (!sf_wal_hdr_decode(p, h) || r->pos + SF_WAL_REC_HDR + h->len > r->file_size) {
        return SF_WAL_TORN;
    }
    if (reader_fill(r, SF_WAL_REC_HDR + h->len) != 0) {
        return SF_WAL_IOERR;
    }
    p = r->buf + (r->pos - r->buf_off);
    if (!sf_wal_crc_ok(h, p, p + SF_WAL_REC_HDR)) {
        return SF_WAL_TORN;
    }
    *payload = p + SF_WAL_REC_HDR;
    *rec_off = r->pos;
    r->pos += SF_WAL_REC_HDR + h->len;
    return SF_WAL_REC;
}

void sf_wal_reader_close(struct sf_wal_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}
