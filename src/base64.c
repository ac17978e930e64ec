/* base64, RFC 4648 §4 (standard alphabet, '=' padding). Decoding is strict
 * so that a Sec-WebSocket-Key has exactly one accepted spelling. */
#include "internal.h"

static const char base64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t cws_base64_encode(const void *src, size_t len, char *dst) {
    const uint8_t *s = src;
    size_t o = 0;
    while (len >= 3) {
        uint32_t v = ((uint32_t)s[0] << 16) | ((uint32_t)s[1] << 8) | s[2];
        dst[o++] = base64_alphabet[(v >> 18) & 63];
        dst[o++] = base64_alphabet[(v >> 12) & 63];
        dst[o++] = base64_alphabet[(v >> 6) & 63];
        dst[o++] = base64_alphabet[v & 63];
        s += 3;
        len -= 3;
    }
    if (len > 0) {
        uint32_t v = (uint32_t)s[0] << 16;
        if (len == 2) v |= (uint32_t)s[1] << 8;
        dst[o++] = base64_alphabet[(v >> 18) & 63];
        dst[o++] = base64_alphabet[(v >> 12) & 63];
        dst[o++] = len == 2 ? base64_alphabet[(v >> 6) & 63] : '=';
        dst[o++] = '=';
    }
    return o;
}

/* The 6-bit value of each byte, or 0xFF for anything outside the
 * alphabet (including '=', NUL, whitespace and bytes >= 0x80): one load
 * per character, no branches. */
#define BASE64_X 0xFF
static const uint8_t base64_values[256] = {
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, /* 0x00 */
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, /* 0x10 */
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, /* 0x20 */
    BASE64_X, BASE64_X, BASE64_X, 62,       BASE64_X, BASE64_X, BASE64_X, 63,       /* + / */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61,                                           /* 0-9 */
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14,             /* @ A-O */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,                                       /* P-Z */
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,             /* ` a-o */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,                                       /* p-z */
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    /* 0x80-0xFF: not in the alphabet */
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
    BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X, BASE64_X,
};

ptrdiff_t cws_base64_decode(const char *src, size_t len, uint8_t *dst, size_t cap) {
    if (len % 4 != 0) return CWS_ERR_INVALID;
    if (len == 0) return 0;
    const unsigned char *s = (const unsigned char *)src;

    /* Padding: at most two '=' and only at the very end (RFC 4648 §3.2). */
    size_t pad = 0;
    if (s[len - 1] == '=') pad = s[len - 2] == '=' ? 2 : 1;
    size_t out_len = len / 4 * 3 - pad;
    size_t nchar = len - pad;

    /* Validate everything before writing, so a bad input never leaves a
     * half-decoded buffer behind a NOSPACE answer: the OR of all values
     * has bit 7 set iff some character is outside the alphabet. */
    unsigned bad = 0;
    for (size_t i = 0; i < nchar; i++) bad |= base64_values[s[i]];
    if (bad & 0x80u) return CWS_ERR_INVALID;
    /* RFC 4648 §3.5: the bits left over before padding must be zero. */
    if (pad == 1 && (base64_values[s[len - 2]] & 0x03) != 0) return CWS_ERR_INVALID;
    if (pad == 2 && (base64_values[s[len - 3]] & 0x0F) != 0) return CWS_ERR_INVALID;
    if (out_len > cap) return CWS_ERR_NOSPACE;

    size_t o = 0, i = 0;
    for (; i + 4 <= nchar; i += 4) {
        uint32_t v = ((uint32_t)base64_values[s[i]] << 18) | ((uint32_t)base64_values[s[i + 1]] << 12) |
                     ((uint32_t)base64_values[s[i + 2]] << 6) | base64_values[s[i + 3]];
        dst[o++] = (uint8_t)(v >> 16);
        dst[o++] = (uint8_t)(v >> 8);
        dst[o++] = (uint8_t)v;
    }
    if (pad) { /* the last group: 4 - pad characters carry 3 - pad bytes */
        uint32_t v = ((uint32_t)base64_values[s[i]] << 18) | ((uint32_t)base64_values[s[i + 1]] << 12);
        if (pad == 1) v |= (uint32_t)base64_values[s[i + 2]] << 6;
        dst[o++] = (uint8_t)(v >> 16);
        if (pad == 1) dst[o++] = (uint8_t)(v >> 8);
    }
    return (ptrdiff_t)o;
}
