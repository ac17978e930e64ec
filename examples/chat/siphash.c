/* SipHash-2-4; see siphash.h. Written from the paper's description
 * ("SipHash: a fast short-input PRF", §2 and appendix A). */
#include "siphash.h"

static uint64_t rotl(uint64_t x, int b) { return x << b | x >> (64 - b); }

/* Little-endian, whatever the host's byte order. */
static uint64_t load_le(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void sip_round(uint64_t v[4]) {
    v[0] += v[1]; v[1] = rotl(v[1], 13); v[1] ^= v[0]; v[0] = rotl(v[0], 32);
    v[2] += v[3]; v[3] = rotl(v[3], 16); v[3] ^= v[2];
    v[0] += v[3]; v[3] = rotl(v[3], 21); v[3] ^= v[0];
    v[2] += v[1]; v[1] = rotl(v[1], 17); v[1] ^= v[2]; v[2] = rotl(v[2], 32);
}

static void absorb(uint64_t v[4], uint64_t m) {
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
}

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t k0 = load_le(key, 8), k1 = load_le(key + 8, 8);
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575u, k1 ^ 0x646f72616e646f6du, k0 ^ 0x6c7967656e657261u,
                     k1 ^ 0x7465646279746573u};
    size_t whole = len - len % 8;
    for (size_t i = 0; i < whole; i += 8) absorb(v, load_le(p + i, 8));
    /* The last word: the remaining bytes, and the length in its top byte. */
    absorb(v, load_le(p + whole, len % 8) | (uint64_t)(len & 0xff) << 56);
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++) sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}
