/* WebSocket frame bits (RFC 6455 §5.2, §5.3) that the bench tools' own
 * endpoints share: the generators frame and mask as a client, the
 * yardstick unmasks and frames as a server. Private code, so the tools
 * judge the library under test without using it. */
#ifndef BENCH_WS_FRAME_H
#define BENCH_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* dst = src XOR the masking key (§5.3), eight bytes at a time; masking and
 * unmasking are the same operation. dst may be src. */
static inline void bench_ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4]) {
    const uint8_t k8b[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
    uint64_t k8;
    memcpy(&k8, k8b, 8);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        v ^= k8;
        memcpy(dst + i, &v, 8);
    }
    for (; i < len; i++) dst[i] = src[i] ^ key[i & 3];
}

/* Writes a frame header without its masking key: b0 (FIN, RSV, opcode),
 * then the payload length with mask (0x80 or 0) in its first byte.
 * Returns 2, 4 or 10. */
static inline size_t bench_ws_header(uint8_t *dst, uint8_t b0, uint8_t mask, size_t len) {
    dst[0] = b0;
    if (len < 126) {
        dst[1] = (uint8_t)(mask | len);
        return 2;
    }
    if (len < 65536) {
        dst[1] = mask | 126;
        dst[2] = (uint8_t)(len >> 8);
        dst[3] = (uint8_t)len;
        return 4;
    }
    dst[1] = mask | 127;
    for (int i = 0; i < 8; i++) dst[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* The bytes of a masked client frame of len payload bytes. */
static inline size_t bench_ws_masked_size(size_t len) {
    return (len < 126 ? 2 : len < 65536 ? 4 : 10) + 4 + len;
}

/* Writes one final, masked client frame (opcode may carry RSV bits) with
 * masking key key32 to dst, which has room for bench_ws_masked_size(len).
 * Returns the bytes written. */
static inline size_t bench_ws_masked_frame(uint8_t *dst, int opcode, const uint8_t *data, size_t len,
                                           uint32_t key32) {
    size_t h = bench_ws_header(dst, (uint8_t)(0x80 | opcode), 0x80, len);
    uint8_t key[4];
    memcpy(key, &key32, 4);
    memcpy(dst + h, key, 4);
    h += 4;
    bench_ws_mask_copy(dst + h, data, len, key);
    return h + len;
}

/* The payload length of the frame starting at p (avail bytes there): the
 * header's length up to the masking key (2, 4 or 10), or 0 while the
 * header is incomplete. */
static inline size_t bench_ws_payload_len(const uint8_t *p, size_t avail, uint64_t *len) {
    if (avail < 2) return 0;
    *len = p[1] & 0x7F;
    if (*len == 126) {
        if (avail < 4) return 0;
        *len = (uint64_t)p[2] << 8 | p[3];
        return 4;
    }
    if (*len == 127) {
        if (avail < 10) return 0;
        *len = 0;
        for (int i = 0; i < 8; i++) *len = *len << 8 | p[2 + i];
        return 10;
    }
    return 2;
}

#endif
