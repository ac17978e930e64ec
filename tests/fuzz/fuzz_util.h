/* Shared by the libFuzzer harnesses: an invariant check that crashes (so
 * libFuzzer saves the input), a small deterministic PRNG for split points
 * and chunk sizes, and a reader that takes option bytes off the input. */
#ifndef CWS_FUZZ_UTIL_H
#define CWS_FUZZ_UTIL_H

#include <cws.h>
#include <cws_util.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a finding: print it and abort. */
#define FUZZ_CHECK(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* xorshift32: chunk sizes and split points derived from input bytes, so a
 * saved input replays exactly. */
static inline uint32_t fuzz_rand(uint32_t *s) {
    uint32_t x = *s ? *s : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Takes option bytes off the front of the input; 0 once it runs out. */
typedef struct fuzz_input {
    const uint8_t *p;
    size_t n;
} fuzz_input;

static inline uint8_t fuzz_byte(fuzz_input *in) {
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

static inline uint32_t fuzz_u32(fuzz_input *in) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v = (v << 8) | fuzz_byte(in);
    return v;
}

/* An exact-size heap copy, so ASan sees any read past the end. */
static inline uint8_t *fuzz_dup(const void *src, size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    FUZZ_CHECK(p != NULL);
    if (n) memcpy(p, src, n);
    return p;
}

/* Reference UTF-8 check (RFC 3629), sharing nothing with src/utf8.c. It
 * decodes code points and, at every byte, asks whether the code points
 * still reachable from the bits read so far include a valid one for this
 * sequence length (not overlong, not a surrogate, at most U+10FFFF); the
 * first byte where none is left is the "bad" byte. */
/* Returns len if s is valid so far (*pending = 1 if it stops inside a
 * sequence), else the index of the first byte with no valid completion. */
static inline size_t ref_utf8_check(const uint8_t *s, size_t len, int *pending) {
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    static const uint32_t max_cp[5] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    size_t i = 0;
    *pending = 0;
    while (i < len) {
        uint8_t b = s[i];
        int need;
        uint32_t v;
        if (b < 0x80) { i++; continue; }
        if ((b & 0xE0) == 0xC0) { need = 2; v = b & 0x1F; }
        else if ((b & 0xF0) == 0xE0) { need = 3; v = b & 0x0F; }
        else if ((b & 0xF8) == 0xF0) { need = 4; v = b & 0x07; }
        else return i; /* a continuation byte or 0xF8..0xFF as a lead */
        for (int k = 1;; k++) {
            /* Code points reachable after k of need bytes: [lo, hi]. */
            int rest = 6 * (need - k);
            uint32_t lo = v << rest, hi = lo | ((1u << rest) - 1);
            if (hi < min_cp[need] || lo > max_cp[need]) return i + (size_t)k - 1;
            if (lo >= 0xD800 && hi <= 0xDFFF) return i + (size_t)k - 1;
            if (k == need) break;
            if (i + (size_t)k >= len) { *pending = 1; return len; }
            uint8_t c = s[i + (size_t)k];
            if ((c & 0xC0) != 0x80) return i + (size_t)k;
            v = (v << 6) | (c & 0x3Fu);
        }
        i += (size_t)need;
    }
    return len;
}

/* A growable byte string, and a log of messages in it: opcode byte,
 * 4-byte length, bytes (what the conn harnesses compare). */
typedef struct fuzz_bytes {
    uint8_t *p;
    size_t len, cap;
} fuzz_bytes;

static inline void fuzz_bytes_add(fuzz_bytes *b, const void *data, size_t n) {
    if (!n) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        FUZZ_CHECK(p != NULL);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static inline void fuzz_log_add(fuzz_bytes *l, int opcode, const uint8_t *data, size_t len) {
    uint8_t h[5] = {(uint8_t)opcode, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                    (uint8_t)len};
    fuzz_bytes_add(l, h, sizeof h);
    fuzz_bytes_add(l, data, len);
}

static inline int fuzz_bytes_equal(const fuzz_bytes *a, const fuzz_bytes *b) {
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

#endif
