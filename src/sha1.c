/* SHA-1 (FIPS 180-4 §6.1), needed only for Sec-WebSocket-Accept
 * (RFC 6455 §4.2.2). Not used for anything security-relevant. */
#include "internal.h"

static uint32_t sha1_rol(uint32_t x, unsigned n) { return (x << n) | (x >> (32u - n)); }

static uint32_t sha1_load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Processes one 64-byte block (FIPS 180-4 §6.1.2), keeping only a 16-word
 * rolling message schedule. */
static void sha1_block(uint32_t h[5], const uint8_t *block) {
    uint32_t w[16];
    for (int t = 0; t < 16; t++) w[t] = sha1_load_be32(block + 4 * t);

    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        if (t >= 16) {
            uint32_t x = w[(t + 13) & 15] ^ w[(t + 8) & 15] ^ w[(t + 2) & 15] ^ w[t & 15];
            w[t & 15] = sha1_rol(x, 1);
        }
        uint32_t f, k;
        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999u;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1u;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDCu;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6u;
        }
        uint32_t tmp = sha1_rol(a, 5) + f + e + k + w[t & 15];
        e = d;
        d = c;
        c = sha1_rol(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void cws_sha1_init(cws_sha1_ctx *ctx) {
    /* Initial hash value, FIPS 180-4 §5.3.1. */
    ctx->h[0] = 0x67452301u;
    ctx->h[1] = 0xEFCDAB89u;
    ctx->h[2] = 0x98BADCFEu;
    ctx->h[3] = 0x10325476u;
    ctx->h[4] = 0xC3D2E1F0u;
    ctx->total = 0;
    ctx->used = 0;
}

void cws_sha1_update(cws_sha1_ctx *ctx, const void *data, size_t len) {
    const uint8_t *p = data;
    if (len == 0) return; /* data may be NULL then */
    ctx->total += len;
    if (ctx->used > 0) {
        size_t take = CWS__MIN(len, 64 - ctx->used);
        memcpy(ctx->block + ctx->used, p, take);
        ctx->used += take;
        p += take;
        len -= take;
        if (ctx->used < 64) return;
        sha1_block(ctx->h, ctx->block);
        ctx->used = 0;
    }
    /* Whole blocks straight from the caller's buffer, no copy. */
    while (len >= 64) {
        sha1_block(ctx->h, p);
        p += 64;
        len -= 64;
    }
    if (len > 0) {
        memcpy(ctx->block, p, len);
        ctx->used = len;
    }
}

void cws_sha1_final(cws_sha1_ctx *ctx, uint8_t digest[CWS_SHA1_LEN]) {
    /* Padding, FIPS 180-4 §5.1.1: 0x80, zeros, then the bit length as a
     * 64-bit big-endian number ending a block. */
    uint64_t bits = ctx->total * 8;
    ctx->block[ctx->used++] = 0x80;
    if (ctx->used > 56) {
        memset(ctx->block + ctx->used, 0, 64 - ctx->used);
        sha1_block(ctx->h, ctx->block);
        ctx->used = 0;
    }
    memset(ctx->block + ctx->used, 0, 56 - ctx->used);
    cws__store_be64(ctx->block + 56, bits);
    sha1_block(ctx->h, ctx->block);
    for (int i = 0; i < 5; i++) {
        digest[4 * i] = (uint8_t)(ctx->h[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
        digest[4 * i + 3] = (uint8_t)ctx->h[i];
    }
    /* Leave no message bytes behind in the caller's context. */
    memset(ctx->block, 0, sizeof ctx->block);
    ctx->used = 0;
}

void cws_sha1(const void *data, size_t len, uint8_t digest[CWS_SHA1_LEN]) {
    cws_sha1_ctx ctx;
    cws_sha1_init(&ctx);
    cws_sha1_update(&ctx, data, len);
    cws_sha1_final(&ctx, digest);
}
