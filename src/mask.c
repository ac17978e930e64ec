/* Payload masking, RFC 6455 §5.3: octet i of the payload is XORed with
 * octet (i % 4) of the masking key. Unmasking is the same operation. */
#include "internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

void cws__mask_scalar(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                      uint64_t offset) {
    for (size_t i = 0; i < len; i++) dst[i] = src[i] ^ key[(offset + i) & 3];
}

/* Below this length the setup of the wide path costs more than it saves. */
#define MASK_WIDE_MIN 16

void cws_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                   uint64_t offset) {
    if (len < MASK_WIDE_MIN) {
        cws__mask_scalar(dst, src, len, key, offset);
        return;
    }
    /* Head: byte-wise until dst is 8-byte aligned, so the wide stores
     * below do not straddle cache lines. */
    size_t head = (size_t)(-(uintptr_t)dst & 7);
    cws__mask_scalar(dst, src, head, key, offset);
    size_t i = head;
    unsigned rot = (unsigned)((offset + head) & 3);

    /* The key rotated so that its first byte applies to dst[i]; repeated
     * in memory order, so the pattern is right on any endianness. */
    uint8_t pattern[16];
    for (int j = 0; j < 16; j++) pattern[j] = key[(rot + (unsigned)j) & 3];

#ifdef __SSE2__
    __m128i k128 = _mm_loadu_si128((const __m128i *)(const void *)pattern);
    for (; len - i >= 32; i += 32) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 16));
        _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_xor_si128(a, k128));
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 16), _mm_xor_si128(b, k128));
    }
#endif
    uint64_t k64;
    memcpy(&k64, pattern, 8);
    for (; len - i >= 8; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8); /* memcpy: no alignment or aliasing assumptions */
        v ^= k64;
        memcpy(dst + i, &v, 8);
    }
    /* Tail: i - head is a multiple of 8, so the key phase is still rot. */
    cws__mask_scalar(dst + i, src + i, len - i, pattern, 0);
}

void cws_mask(uint8_t *buf, size_t len, const uint8_t key[4], uint64_t offset) {
    cws_mask_copy(buf, buf, len, key, offset);
}
