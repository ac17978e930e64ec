/* Sec-WebSocket-Accept (RFC 6455 §4.2.2 step 5.4) for the benchmark's own
 * programs: the generators check the server's answer with it
 * (common/ws_client.h), the yardstick and the wslay peer (wslay does no
 * handshake) build their 101 with it (common/ws_server.h). A private,
 * minimal SHA-1 (FIPS 180-4) and base64 (RFC 4648 §4) so that these tools
 * judge the library under test without using it. */
#ifndef BENCH_WS_ACCEPT_H
#define BENCH_WS_ACCEPT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t bench_rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static inline void bench_sha1_block(uint32_t h[5], const uint8_t *p) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = bench_rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999u; }
        else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1u; }
        else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDCu; }
        else { f = b ^ c ^ d; k = 0xCA62C1D6u; }
        uint32_t t = bench_rol32(a, 5) + f + e + k + w[i];
        e = d; d = c; c = bench_rol32(b, 30); b = a; a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

/* SHA-1 of a short message (at most 119 bytes: two blocks with padding). */
static inline void bench_sha1_short(const void *data, size_t len, uint8_t out[20]) {
    uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    uint8_t buf[128] = {0};
    memcpy(buf, data, len);
    buf[len] = 0x80;
    size_t total = len + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) buf[total - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t off = 0; off < total; off += 64) bench_sha1_block(h, buf + off);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24); out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8); out[4 * i + 3] = (uint8_t)h[i];
    }
}

static inline size_t bench_base64(const uint8_t *src, size_t len, char *dst) {
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16;
        if (i + 1 < len) v |= (uint32_t)src[i + 1] << 8;
        if (i + 2 < len) v |= src[i + 2];
        dst[o++] = alpha[(v >> 18) & 63];
        dst[o++] = alpha[(v >> 12) & 63];
        dst[o++] = i + 1 < len ? alpha[(v >> 6) & 63] : '=';
        dst[o++] = i + 2 < len ? alpha[v & 63] : '=';
    }
    return o;
}

/* out gets the 28-character accept value and a NUL. key_len <= 60. */
static inline void bench_ws_accept(const char *key, size_t key_len, char out[29]) {
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char cat[128];
    uint8_t digest[20];
    if (key_len > 60) key_len = 60;
    memcpy(cat, key, key_len);
    memcpy(cat + key_len, guid, sizeof guid - 1);
    bench_sha1_short(cat, key_len + sizeof guid - 1, digest);
    out[bench_base64(digest, 20, out)] = '\0';
}

#endif
