/* Payload masking, RFC 6455 §5.3: octet i of the payload is XORed with
 * octet (i % 4) of the masking key. Unmasking is the same operation. */
#include "internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MASK_LITTLE_ENDIAN 1
#endif

void cws__mask_scalar(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                      uint64_t offset) {
    for (size_t i = 0; i < len; i++) dst[i] = src[i] ^ key[(offset + i) & 3];
}

/* From this length on, a short head first aligns dst to 16 bytes, so the
 * wide stores of a long buffer never straddle cache lines. Shorter
 * buffers go unaligned: one split store costs less than the head. */
#define MASK_ALIGN_MIN 256

/* The key as a 32-bit word whose bytes in memory order are key[rot],
 * key[rot + 1], ... Built in a register: a pattern assembled with byte
 * stores and read back with one wide load stalls store forwarding. */
static inline uint32_t mask_key_word(const uint8_t key[4], unsigned rot) {
    uint32_t k;
#ifdef MASK_LITTLE_ENDIAN
    memcpy(&k, key, 4);
    unsigned sh = 8u * (rot & 3u);
    if (sh) k = (k >> sh) | (k << (32u - sh));
#else
    const uint8_t b[4] = {key[rot & 3u], key[(rot + 1u) & 3u], key[(rot + 2u) & 3u], key[(rot + 3u) & 3u]};
    memcpy(&k, b, 4);
#endif
    return k;
}

/* Fewer than 16 bytes, with k phased for dst[0]: 8, 4, 2, then 1 byte
 * steps. The 8- and 4-byte steps keep the key phase. */
static inline void mask_short(uint8_t *dst, const uint8_t *src, size_t len, uint32_t k) {
    if (len & 8) {
        uint64_t v, k64 = (uint64_t)k * 0x100000001u;
        memcpy(&v, src, 8); /* memcpy: no alignment or aliasing assumptions */
        v ^= k64;
        memcpy(dst, &v, 8);
        src += 8;
        dst += 8;
    }
    if (len & 4) {
        uint32_t v;
        memcpy(&v, src, 4);
        v ^= k;
        memcpy(dst, &v, 4);
        src += 4;
        dst += 4;
    }
    uint8_t kb[4]; /* the key bytes in memory order, for the last 1-3 */
    memcpy(kb, &k, 4);
    uint8_t last = kb[0];
    if (len & 2) {
        uint16_t v, k16;
        memcpy(&v, src, 2);
        memcpy(&k16, kb, 2);
        v ^= k16;
        memcpy(dst, &v, 2);
        src += 2;
        dst += 2;
        last = kb[2];
    }
    if (len & 1) *dst = (uint8_t)(*src ^ last);
}

void cws_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                   uint64_t offset) {
    unsigned rot = (unsigned)(offset & 3);
    size_t i = 0;
    if (len >= MASK_ALIGN_MIN) {
        size_t head = (size_t)(-(uintptr_t)dst & 15);
        if (head) mask_short(dst, src, head, mask_key_word(key, rot));
        i = head;
        rot = (unsigned)((rot + head) & 3);
    }
    uint32_t k = mask_key_word(key, rot);
#ifdef __SSE2__
    if (len - i >= 16) {
        __m128i k128 = _mm_set1_epi32((int)k);
        for (; len - i >= 64; i += 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 32));
            __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 48));
            _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_xor_si128(a, k128));
            _mm_storeu_si128((__m128i *)(void *)(dst + i + 16), _mm_xor_si128(b, k128));
            _mm_storeu_si128((__m128i *)(void *)(dst + i + 32), _mm_xor_si128(c, k128));
            _mm_storeu_si128((__m128i *)(void *)(dst + i + 48), _mm_xor_si128(d, k128));
        }
        for (; len - i >= 16; i += 16) {
            __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
            _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_xor_si128(a, k128));
        }
    }
#else
    uint64_t k64 = (uint64_t)k * 0x100000001u;
    for (; len - i >= 16; i += 16) {
        uint64_t v[2];
        memcpy(v, src + i, 16);
        v[0] ^= k64;
        v[1] ^= k64;
        memcpy(dst + i, v, 16);
    }
#endif
    /* Every step above was a multiple of 4 bytes: the phase is still k's. */
    if (len - i) mask_short(dst + i, src + i, len - i, k);
}

void cws_mask(uint8_t *buf, size_t len, const uint8_t key[4], uint64_t offset) {
    cws_mask_copy(buf, buf, len, key, offset);
}
