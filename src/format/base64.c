/*
 * Base64 (RFC 4648 section 4, standard alphabet, with '=' padding) for binary column values in
 * every body format. The buffer is reserved once for the whole value and the text is written in
 * place, three input bytes to four output characters per step.
 */
#include "sqlflume/format.h"

#include "format_int.h"

static const char b64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t sf_base64_encode(char *dst, const unsigned char *p, size_t n)
{
    char *o = dst;
    size_t i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        o[0] = b64_alphabet[v >> 18];
        o[1] = b64_alphabet[(v >> 12) & 63];
        o[2] = b64_alphabet[(v >> 6) & 63];
        o[3] = b64_alphabet[v & 63];
        o += 4;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        o[0] = b64_alphabet[v >> 18];
        o[1] = b64_alphabet[(v >> 12) & 63];
        o[2] = '=';
        o[3] = '=';
        o += 4;
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        o[0] = b64_alphabet[v >> 18];
        o[1] = b64_alphabet[(v >> 12) & 63];
        o[2] = b64_alphabet[(v >> 6) & 63];
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - dst);
}

void sf_base64_append(struct sf_buf *out, const unsigned char *p, size_t n)
{
    size_t need = sf_base64_len(n);
    sf_buf_reserve(out, need);
    out->len += sf_base64_encode(out->data + out->len, p, n);
    out->data[out->len] = '\0';
}
