/* SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012), written from the paper's description. A keyed hash: whoever picks
 * the input but not the key cannot pick collisions, so hash tables keyed by
 * names or addresses from the network (the runtime's topics, the chat's
 * per-address limits) keep short chains. */
#include "internal.h"

static uint64_t sip_rotl(uint64_t x, unsigned b) { return (x << b) | (x >> (64u - b)); }

/* Little-endian whatever the host; gcc and clang turn this into one load
 * (plus a byte swap on big-endian hosts). */
static uint64_t sip_load64(const uint8_t *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static void sip_round(uint64_t v[4]) {
    v[0] += v[1];
    v[1] = sip_rotl(v[1], 13) ^ v[0];
    v[0] = sip_rotl(v[0], 32);
    v[2] += v[3];
    v[3] = sip_rotl(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = sip_rotl(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = sip_rotl(v[1], 17) ^ v[2];
    v[2] = sip_rotl(v[2], 32);
}

/* Two compression rounds per 8-byte word: the "2" of SipHash-2-4. */
static void sip_absorb(uint64_t v[4], uint64_t m) {
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
}

uint64_t cws_siphash24(const uint8_t key[16], const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t k0 = sip_load64(key), k1 = sip_load64(key + 8);
    /* The paper's initialisation constants: "somepseudorandomlygeneratedbytes". */
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
                     k1 ^ 0x7465646279746573ull};
    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) sip_absorb(v, sip_load64(p + i));
    /* The last word: the 0..7 remaining bytes, and the length mod 256 in
     * its top byte. */
    uint64_t m = (uint64_t)(len & 0xff) << 56;
    for (size_t i = 0; i < (len & 7); i++) m |= (uint64_t)p[whole + i] << (8 * i);
    sip_absorb(v, m);
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++) sip_round(v); /* the "4": finalization */
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}
