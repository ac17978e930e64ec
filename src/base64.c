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

/* The 6-bit value of an alphabet character, or -1 for anything else
 * (including '=', NUL, whitespace and bytes >= 0x80). */
static int base64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

ptrdiff_t cws_base64_decode(const char *src, size_t len, uint8_t *dst, size_t cap) {
    if (len % 4 != 0) return CWS_ERR_INVALID;
    if (len == 0) return 0;
    const unsigned char *s = (const unsigned char *)src;

    /* Padding: at most two '=' and only at the very end (RFC 4648 §3.2). */
    size_t pad = 0;
    if (s[len - 1] == '=') pad = s[len - 2] == '=' ? 2 : 1;
    size_t out_len = len / 4 * 3 - pad;

    /* Validate everything before writing, so a bad input never leaves a
     * half-decoded buffer behind a NOSPACE answer. */
    for (size_t i = 0; i < len - pad; i++)
        if (base64_value(s[i]) < 0) return CWS_ERR_INVALID;
    /* RFC 4648 §3.5: the bits left over before padding must be zero. */
    if (pad == 1 && (base64_value(s[len - 2]) & 0x03) != 0) return CWS_ERR_INVALID;
    if (pad == 2 && (base64_value(s[len - 3]) & 0x0F) != 0) return CWS_ERR_INVALID;
    if (out_len > cap) return CWS_ERR_NOSPACE;

    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        int n = 4;
        for (int j = 0; j < 4; j++) {
            int d = i + (size_t)j < len - pad ? base64_value(s[i + (size_t)j]) : 0;
            if (i + (size_t)j >= len - pad) n--;
            v = (v << 6) | (uint32_t)d;
        }
        /* n characters carry n - 1 whole bytes (n = 4 gives 3). */
        dst[o++] = (uint8_t)(v >> 16);
        if (n >= 3) dst[o++] = (uint8_t)(v >> 8);
        if (n == 4) dst[o++] = (uint8_t)v;
    }
    return (ptrdiff_t)o;
}
